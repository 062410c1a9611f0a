// SPDX-License-Identifier: GPL-2.0

//! The PCI driver of the RSIO-NTB1 adapter: probe (bring-up, section 10 of
//! docs/adapter.md) and remove.
//!
//! Everything the driver holds lives in [`NtbHw`], the device's driver data;
//! its fields are released in reverse order of acquisition by their own
//! `Drop`, so a probe that fails half-way and a remove unwind the same way.

use crate::{
    enable::Enabled,
    hw::{Geometry, Regs},
    fabric::Fabric,
    fabric_ntb::{FabricNtb, Layout},
    irq::{DbIrq, ErrorIrq, FabricDev, LinkIrq, MsgIrq},
    ntb_dev::NtbDev,
    ntb_ops::Topology,
    pci_raw,
    regs,
};
use kernel::{
    bindings,
    device::{Bound, Core},
    irq, pci,
    prelude::*,
};

/// The driver.
pub(crate) struct NtbHwDriver;

kernel::pci_device_table!(
    PCI_TABLE,
    <NtbHwDriver as pci::Driver>::IdInfo,
    [(
        pci::DeviceId::from_id(pci_raw::vendor(regs::VENDOR_ID), regs::DEVICE_ID),
        ()
    )]
);

/// A memory BAR the driver has not mapped yet: where it is, how large.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BarInfo {
    /// Bus address of the BAR.
    pub(crate) start: bindings::resource_size_t,
    /// Its size in bytes.
    pub(crate) len: bindings::resource_size_t,
}

impl BarInfo {
    fn of(pdev: &pci::Device<Bound>, bar: u32) -> Result<Self> {
        Ok(Self {
            start: pdev.resource_start(bar)?,
            len: pdev.resource_len(bar)?,
        })
    }
}

/// One bound adapter.
///
/// # Invariants
///
/// Fields drop in declaration order: the IRQ handlers first (they use the
/// NTB device, the vectors and the registers), then the NTB device
/// (unregistering it runs its client's remove, which may still use the
/// registers and the fabric state), then the fabric state (which leaves the
/// fabric), then the vectors, the BAR0 mapping and the PCI enable. The link
/// is enabled only by a link user (the NTB device's `link_enable`: an NTB
/// client's request) and is always disabled when `fabric` drops.
#[pin_data]
pub(crate) struct NtbHw<'bound> {
    #[pin]
    link_irq: irq::Registration<'bound, LinkIrq<'bound>>,
    #[pin]
    error_irq: irq::Registration<'bound, ErrorIrq<'bound>>,
    /// `MESSAGE` and `DB(peer)` handlers, if an NTB device is registered.
    msg_irq: Option<Pin<KBox<irq::Registration<'bound, MsgIrq<'bound>>>>>,
    db_irqs: KVec<Pin<KBox<irq::Registration<'bound, DbIrq<'bound>>>>>,
    /// The NTB device, unless the geometry leaves no room for one.
    ntb: Option<Pin<KBox<FabricDev<'bound>>>>,
    #[pin]
    fabric: Fabric<'bound>,
    vectors: pci::IrqVectorRegistration<'bound>,
    regs: Regs<'bound>,
    geometry: Geometry,
    /// The translated window (BAR2): not mapped, NTB clients map the ranges
    /// `peer_mw_get_addr` reports themselves.
    bar2: BarInfo,
    /// The direct window (BAR4), not mapped.
    bar4: BarInfo,
    _enabled: Enabled<'bound>,
    pdev: &'bound pci::Device<Bound>,
}

impl pci::Driver for NtbHwDriver {
    type IdInfo = ();
    type Data<'bound> = NtbHw<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pin_init::pin_init_scope(move || {
            let enabled = Enabled::new(pdev)?;
            let pdev: &'bound pci::Device<Bound> = pdev;
            let bar =
                pdev.iomap_region_sized::<{ regs::BAR0_SIZE }>(regs::BAR0, c"rsio_ntb/bar0")?;
            let regs = Regs::new(bar);
            let g = regs.identify(pdev)?;
            let bar2 = BarInfo::of(pdev, regs::BAR2)?;
            let bar4 = BarInfo::of(pdev, regs::BAR4)?;
            dev_info!(
                pdev,
                "RSIO-NTB1 v1.{}: node {} of {}, caps {:#x}, {} LUT slots of 2^{}, {} inbound windows, {} DMA channels, {} multicast groups, direct shift {} nodes {:#x}\n",
                g.version_minor, g.node_id, g.num_nodes, g.caps, g.lut_slots, g.slot_shift,
                g.in_windows, g.dma_channels, g.mc_groups, g.direct_shift, g.direct_nodes
            );
            dev_info!(
                pdev,
                "BAR2 {:#x} ({:#x} bytes), BAR4 {:#x} ({:#x} bytes)\n",
                bar2.start,
                bar2.len,
                bar4.start,
                bar4.len
            );
            // MSI-X only: the adapter has no INTx, and MSI cannot give the
            // per-cause vectors of section 9.
            let msix = pci::IrqTypes::default().with(pci::IrqType::MsiX);
            let vectors = pdev.alloc_irq_vectors(regs::MSIX_VECTORS, regs::MSIX_VECTORS, msix)?;

            let bar0 = BarInfo::of(pdev, regs::BAR0)?;

            Ok(try_pin_init!(NtbHw {
                pdev,
                _enabled: enabled,
                geometry: g,
                bar2,
                bar4,
                regs,
                vectors,
                fabric <- {
                    // SAFETY: See `bound`; `regs` is initialized above.
                    let hw = unsafe { bound(regs) };
                    Fabric::new(pdev, hw, g.node_id)
                },
                ntb: {
                    // SAFETY: See `bound`; `regs` and `fabric` are
                    // initialized above.
                    let (hw, fab) = unsafe { (bound(regs), bound(&*fabric)) };
                    match Layout::new(&g, bar2.len) {
                        Ok(layout) => {
                            let dev = KBox::pin_init(
                                NtbDev::register(
                                    pdev,
                                    Topology::Switch,
                                    FabricNtb::new(hw, fab, layout, bar0.start, bar2.start),
                                ),
                                GFP_KERNEL,
                            )?;
                            dev_info!(
                                pdev,
                                "node {}: NTB device registered: port {} of {}, {} memory windows of {:#x} bytes\n",
                                g.node_id,
                                g.node_id,
                                g.num_nodes,
                                layout.mws,
                                layout.mw_size()
                            );
                            Some(dev)
                        }
                        Err(why) => {
                            dev_warn!(
                                pdev,
                                "node {}: no NTB device: {} ({} nodes, {} LUT slots of 2^{}, {} inbound windows, BAR2 {:#x} bytes)\n",
                                g.node_id, why, g.num_nodes, g.lut_slots, g.slot_shift,
                                g.in_windows, bar2.len
                            );
                            None
                        }
                    }
                },
                db_irqs: {
                    let mut irqs = KVec::new();
                    if let Some(dev) = ntb.as_deref() {
                        // SAFETY: See `bound`; `vectors` and `ntb` are
                        // initialized above, and the device is boxed (its
                        // address does not change when the box moves).
                        let (vecs, dev) = unsafe { (bound(vectors), bound(dev)) };
                        let layout = *dev.hw().layout();
                        for pidx in 0..layout.peers() {
                            let peer = layout.peer_node(pidx)?;
                            let request = vecs.index(regs::vec_db(peer))?.into();
                            // SAFETY: The registration is not leaked: it is
                            // owned by the driver data, dropped on unbind.
                            let reg = unsafe {
                                irq::Registration::new(
                                    request,
                                    irq::Flags::TRIGGER_NONE,
                                    c"rsio_ntb-db",
                                    Ok::<_, Error>(DbIrq::new(dev, pidx)),
                                )
                            };
                            irqs.push(KBox::pin_init(reg, GFP_KERNEL)?, GFP_KERNEL)?;
                        }
                    }
                    irqs
                },
                msg_irq: match ntb.as_deref() {
                    Some(dev) => {
                        // SAFETY: As for `db_irqs`; `regs` is initialized.
                        let (vecs, hw, dev) =
                            unsafe { (bound(vectors), bound(regs), bound(dev)) };
                        let request = vecs.index(regs::VEC_MESSAGE)?.into();
                        // SAFETY: As for `db_irqs`.
                        let reg = unsafe {
                            irq::Registration::new(
                                request,
                                irq::Flags::TRIGGER_NONE,
                                c"rsio_ntb-msg",
                                Ok::<_, Error>(MsgIrq::new(hw, dev)),
                            )
                        };
                        Some(KBox::pin_init(reg, GFP_KERNEL)?)
                    }
                    None => None,
                },
                error_irq <- {
                    // SAFETY: See `bound`; `vectors` and `regs` are
                    // initialized above.
                    let (vecs, hw) = unsafe { (bound(vectors), bound(regs)) };
                    let request = vecs.index(regs::VEC_ERROR)?.into();
                    // SAFETY: The registration is not leaked: it is a pinned
                    // field of the driver data, dropped on unbind.
                    unsafe {
                        irq::Registration::new(
                            request,
                            irq::Flags::TRIGGER_NONE,
                            c"rsio_ntb-error",
                            Ok::<_, Error>(ErrorIrq::new(pdev, hw)),
                        )
                    }
                },
                link_irq <- {
                    // SAFETY: As for `db_irqs`.
                    let (vecs, hw) = unsafe { (bound(vectors), bound(regs)) };
                    let dev = match ntb.as_deref() {
                        // SAFETY: As for `db_irqs`.
                        Some(dev) => Some(unsafe { bound(dev) }),
                        None => None,
                    };
                    let request = vecs.index(regs::VEC_LINK)?.into();
                    // SAFETY: As for `error_irq`.
                    unsafe {
                        irq::Registration::new(
                            request,
                            irq::Flags::TRIGGER_NONE,
                            c"rsio_ntb-link",
                            Ok::<_, Error>(LinkIrq::new(pdev, hw, g.node_id, dev)),
                        )
                    }
                },
            }))
        })
    }
}

/// Extends a borrow of a field of an [`NtbHw`] being initialized (or of an
/// object such a field owns in a box) to `'bound`, for the objects in the
/// same `NtbHw` that keep references to it.
///
/// # Safety
///
/// `r` must be a field of an `NtbHw<'bound>` under pinned initialization that
/// is already initialized, or the content of a `Pin<KBox<_>>` such a field
/// holds, and the returned reference may only be stored in fields of that
/// object that drop before it (declaration order) and are initialized after
/// it (on a failed init, pin-init drops the initialized fields in reverse
/// order of initialization, which `try_pin_init!()` does in the order
/// written). Then it is valid for as long as it is used: the driver data has
/// a pinned, stable address, a box's content does not move with the box, and
/// an IRQ registration frees its IRQ, waiting for a running handler, before
/// it is gone; an NTB device is unregistered (no callback runs any more)
/// before it is gone.
unsafe fn bound<'bound, T: ?Sized>(r: &T) -> &'bound T {
    // SAFETY: Valid for `'bound` as the caller guarantees (see above).
    unsafe { &*core::ptr::from_ref(r) }
}
