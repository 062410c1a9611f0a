// SPDX-License-Identifier: GPL-2.0

//! The PCI driver of the RSIO-NTB1 adapter: probe (bring-up, section 10 of
//! docs/adapter.md) and remove.
//!
//! Everything the driver holds lives in [`NtbHw`], the device's driver data;
//! its fields are released in reverse order of acquisition by their own
//! `Drop`, so a probe that fails half-way and a remove unwind the same way.

use crate::{
    adapter::{Adapter, DebugfsDir, Published},
    direct_alias::DirectAlias,
    enable::Enabled,
    fabric_ntb::{FabricNtb, Layout},
    hw::Regs,
    irq::{DbIrq, DmaIrq, ErrorIrq, FabricDev, LinkIrq, MsgIrq, UserIrq},
    ntb_dev::NtbDev,
    ntb_ops::Topology,
    pci_raw, regs,
};
use kernel::{
    bindings,
    device::{Bound, Core},
    dma::{Device as _, DmaMask},
    irq, pci,
    prelude::*,
    sync::Arc,
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
/// Fields drop in declaration order: the adapter's entry for the fabric
/// core first (its `remove` runs while everything works), the debugfs
/// files, the IRQ handlers (they use the NTB device, the vectors and the
/// registers), then the NTB device (unregistering it runs its client's
/// remove, which may still use the registers), then `LeaveFabric` (which
/// takes the node out of the fabric whatever a client left enabled), then
/// the vectors, the registers and the adapter (which owns the BAR0
/// mapping), and the PCI enable.
#[pin_data]
pub(crate) struct NtbHw<'bound> {
    _published: Published,
    _debugfs: Option<DebugfsDir>,
    #[pin]
    link_irq: irq::Registration<'bound, LinkIrq<'bound>>,
    #[pin]
    error_irq: irq::Registration<'bound, ErrorIrq<'bound>>,
    user_irqs: KVec<Pin<KBox<irq::Registration<'bound, UserIrq>>>>,
    dma_irqs: KVec<Pin<KBox<irq::Registration<'bound, DmaIrq<'bound>>>>>,
    /// `MESSAGE` and `DB(peer)` handlers, if an NTB device is registered.
    msg_irq: Option<Pin<KBox<irq::Registration<'bound, MsgIrq<'bound>>>>>,
    db_irqs: KVec<Pin<KBox<irq::Registration<'bound, DbIrq<'bound>>>>>,
    /// The NTB device, unless the geometry leaves no room for one.
    ntb: Option<Pin<KBox<FabricDev<'bound>>>>,
    _leave: LeaveFabric<'bound>,
    vectors: pci::IrqVectorRegistration<'bound>,
    regs: Regs<'bound>,
    adapter: Arc<Adapter>,
    _alias: Option<DirectAlias>,
    _enabled: Enabled<'bound>,
    pdev: &'bound pci::Device<Bound>,
}

/// Takes the node out of the fabric when dropped.
struct LeaveFabric<'bound> {
    adapter: &'bound Adapter,
    regs: Regs<'bound>,
}

impl Drop for LeaveFabric<'_> {
    fn drop(&mut self) {
        self.adapter.leave(self.regs);
    }
}

/// Requests `vector` of `vecs` for `handler`, in a box of its own.
fn request<'bound, T: irq::Handler + 'bound>(
    vecs: &'bound pci::IrqVectorRegistration<'bound>,
    vector: usize,
    name: &'static CStr,
    handler: T,
) -> Result<Pin<KBox<irq::Registration<'bound, T>>>> {
    let request = vecs.index(vector)?.into();
    // SAFETY: The registration is not leaked: every caller stores it in the driver data, which drops it on unbind.
    let reg = unsafe {
        irq::Registration::new(
            request,
            irq::Flags::TRIGGER_NONE,
            name,
            Ok::<_, Error>(handler),
        )
    };
    KBox::pin_init(reg, GFP_KERNEL)
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
            // The DMA engine and the inbound windows take any 64-bit
            // address of this node.
            //
            // SAFETY: Nothing allocates or maps DMA memory for this device concurrently: probe runs before anything else uses it.
            unsafe { pdev.dma_set_mask_and_coherent(DmaMask::new::<64>())? };
            let pdev: &'bound pci::Device<Bound> = pdev;
            let bar = pdev
                .iomap_region_sized::<{ regs::BAR0_SIZE }>(regs::BAR0, c"rsio_ntb/bar0")?
                .into_devres()?;
            let bar2 = BarInfo::of(pdev, regs::BAR2)?;
            let bar4 = BarInfo::of(pdev, regs::BAR4)?;
            let bar0 = BarInfo::of(pdev, regs::BAR0)?;
            let g = Regs::new(bar.access(pdev.as_ref())?).identify(pdev)?;
            let timeout = crate::module_parameters::rmmio_timeout_us.value();
            if !(1..=regs::RMMIO_TIMEOUT_MAX_US).contains(&timeout) {
                dev_err!(
                    pdev,
                    "rmmio_timeout_us={} is out of range 1..={}\n",
                    timeout,
                    regs::RMMIO_TIMEOUT_MAX_US
                );
                return Err(EINVAL);
            }
            Regs::new(bar.access(pdev.as_ref())?).write(regs::RMMIO_TIMEOUT, timeout)?;
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
            let alias = if g.direct_shift != 0 {
                DirectAlias::get(pdev, g.direct_alias, bar4.len)
            } else {
                None
            };
            if let Some(a) = &alias {
                dev_info!(
                    pdev,
                    "device DMA into the direct window goes to its alias at {:#x}\n",
                    a.start
                );
            }
            let direct_dma = (alias.as_ref().map_or(bar4.start, |a| a.start), bar4.len);
            let adapter = Arc::pin_init(
                Adapter::new(
                    pdev,
                    bar,
                    &g,
                    (bar2.start, bar2.len),
                    (bar4.start, bar4.len),
                    direct_dma,
                )?,
                GFP_KERNEL,
            )?;
            // MSI-X only: the adapter has no INTx, and MSI cannot give the
            // per-cause vectors of section 9.
            let msix = pci::IrqTypes::default().with(pci::IrqType::MsiX);
            let vectors = pdev.alloc_irq_vectors(regs::MSIX_VECTORS, regs::MSIX_VECTORS, msix)?;

            Ok(try_pin_init!(NtbHw {
                pdev,
                _enabled: enabled,
                _alias: alias,
                adapter,
                regs: {
                    // SAFETY: See `bound`; `adapter` is initialized above (its content does not move with the `Arc`).
                    let a = unsafe { bound(&**adapter) };
                    Regs::new(a.bar(pdev)?)
                },
                vectors,
                _leave: {
                    // SAFETY: See `bound`; `adapter` and `regs` are initialized above.
                    let (a, r) = unsafe { (bound(&**adapter), *bound(regs)) };
                    LeaveFabric { adapter: a, regs: r }
                },
                ntb: {
                    // SAFETY: See `bound`; `adapter` and `regs` are initialized above.
                    let (a, r) = unsafe { (bound(&**adapter), *bound(regs)) };
                    match Layout::new(&g, bar2.len) {
                        Ok(layout) => {
                            {
                                let mut pools = a.pools.lock();
                                let slots = layout.mws * layout.slots_per_mw;
                                pools.take_lut(slots, slots).ok_or(EBUSY)?;
                                pools.ntb_lut = (0, slots);
                                for p in 0..layout.peers() {
                                    for w in 0..layout.mws {
                                        let iw = layout.in_window(p, w)?;
                                        pools.inbound |= 1u64 << iw;
                                        pools.ntb_inbound |= 1u64 << iw;
                                    }
                                }
                            }
                            let dev = KBox::pin_init(
                                NtbDev::register(
                                    pdev,
                                    Topology::Switch,
                                    FabricNtb::new(r, a, layout, bar0.start, bar2.start),
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
                        // SAFETY: See `bound`; `vectors` and `ntb` are initialized above, and the device is boxed (its address does not change when the box moves).
                        let (vecs, dev) = unsafe { (bound(vectors), bound(dev)) };
                        let layout = *dev.hw().layout();
                        for pidx in 0..layout.peers() {
                            let peer = layout.peer_node(pidx)?;
                            let reg = request(
                                vecs,
                                regs::vec_db(peer),
                                c"rsio_ntb-db",
                                DbIrq::new(dev, pidx),
                            )?;
                            irqs.push(reg, GFP_KERNEL)?;
                        }
                    }
                    irqs
                },
                msg_irq: match ntb.as_deref() {
                    Some(dev) => {
                        // SAFETY: As for `db_irqs`; `regs` is initialized.
                        let (vecs, r, dev) = unsafe { (bound(vectors), *bound(regs), bound(dev)) };
                        Some(request(vecs, regs::VEC_MESSAGE, c"rsio_ntb-msg", MsgIrq::new(r, dev))?)
                    }
                    None => None,
                },
                dma_irqs: {
                    // SAFETY: See `bound`; `vectors` and `regs` are initialized above.
                    let (vecs, r) = unsafe { (bound(vectors), *bound(regs)) };
                    let mut irqs = KVec::new();
                    for c in 0..adapter.info().dma_channels {
                        let h = DmaIrq::new(r, adapter.clone(), c);
                        irqs.push(request(vecs, regs::vec_dma(c), c"rsio_ntb-dma", h)?, GFP_KERNEL)?;
                    }
                    irqs
                },
                user_irqs: {
                    // SAFETY: See `bound`; `vectors` is initialized above.
                    let vecs = unsafe { bound(vectors) };
                    let mut irqs = KVec::new();
                    for k in 0..regs::USER_VECTORS {
                        let h = UserIrq::new(adapter.clone(), k);
                        irqs.push(request(vecs, regs::vec_user(k), c"rsio_ntb-user", h)?, GFP_KERNEL)?;
                    }
                    irqs
                },
                error_irq <- {
                    // SAFETY: See `bound`; `vectors` and `regs` are initialized above.
                    let (vecs, r) = unsafe { (bound(vectors), *bound(regs)) };
                    let request = vecs.index(regs::VEC_ERROR)?.into();
                    // SAFETY: The registration is not leaked: it is a pinned field of the driver data, dropped on unbind.
                    unsafe {
                        irq::Registration::new(
                            request,
                            irq::Flags::TRIGGER_NONE,
                            c"rsio_ntb-error",
                            Ok::<_, Error>(ErrorIrq::new(pdev, r, adapter.clone())),
                        )
                    }
                },
                link_irq <- {
                    // SAFETY: As for `error_irq`.
                    let (vecs, r) = unsafe { (bound(vectors), *bound(regs)) };
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
                            Ok::<_, Error>(LinkIrq::new(pdev, r, adapter.clone(), dev)),
                        )
                    }
                },
                _debugfs: crate::adapter::debugfs_dir(adapter)?,
                _published: Published::new(adapter.clone())?,
                // Last: counts only a fully probed adapter.
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
