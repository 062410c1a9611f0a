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
    irq::{ErrorIrq, LinkIrq},
    pci_raw, regs,
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
/// The link (`LINK_CTRL.ENABLE`) is enabled only while both IRQ handlers are
/// registered. Fields drop in declaration order: the handlers first, then the
/// vectors they use, then the BAR0 mapping they read, then the PCI enable.
#[pin_data(PinnedDrop)]
pub(crate) struct NtbHw<'bound> {
    #[pin]
    link_irq: irq::Registration<'bound, LinkIrq<'bound>>,
    #[pin]
    error_irq: irq::Registration<'bound, ErrorIrq<'bound>>,
    vectors: pci::IrqVectorRegistration<'bound>,
    regs: Regs<'bound>,
    geometry: Geometry,
    /// The translated window (BAR2), not mapped yet.
    bar2: BarInfo,
    /// The direct window (BAR4), not mapped yet.
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

            Ok(try_pin_init!(NtbHw {
                pdev,
                _enabled: enabled,
                geometry: g,
                bar2,
                bar4,
                regs,
                vectors,
                link_irq <- {
                    // SAFETY: See `bound_refs`; `vectors` and `regs` are
                    // initialized (written above in this initializer).
                    let (vecs, hw) = unsafe { bound_refs(vectors, regs) };
                    let request = vecs.index(regs::VEC_LINK)?.into();
                    // SAFETY: The registration is not leaked: it is a pinned
                    // field of the driver data, dropped on unbind.
                    unsafe {
                        irq::Registration::new(
                            request,
                            irq::Flags::TRIGGER_NONE,
                            c"rsio_ntb-link",
                            Ok::<_, Error>(LinkIrq::new(pdev, hw, g.node_id)),
                        )
                    }
                },
                error_irq <- {
                    // SAFETY: As for `link_irq`.
                    let (vecs, hw) = unsafe { bound_refs(vectors, regs) };
                    let request = vecs.index(regs::VEC_ERROR)?.into();
                    // SAFETY: As for `link_irq`.
                    unsafe {
                        irq::Registration::new(
                            request,
                            irq::Flags::TRIGGER_NONE,
                            c"rsio_ntb-error",
                            Ok::<_, Error>(ErrorIrq::new(pdev, hw)),
                        )
                    }
                },
                _: {
                    // INVARIANT: both handlers are registered now.
                    regs.set_link(true);
                    dev_info!(pdev, "node {}: link enabled\n", g.node_id);
                },
            }))
        })
    }
}

/// Extends the borrows of the `vectors` and `regs` fields of an [`NtbHw`]
/// being initialized to `'bound`, for the IRQ registrations in the same
/// object.
///
/// # Safety
///
/// `vectors` and `regs` must be fields of an `NtbHw<'bound>` under pinned
/// initialization, already initialized, and the returned references may only
/// be stored in that object's `link_irq`/`error_irq`. Then they are valid for
/// as long as they are used: both fields live at the pinned, stable address
/// of the driver data, and are dropped after the registrations (declaration
/// order; on a failed init, reverse order of initialization, and
/// `try_pin_init!()` initializes in the order written). A registration frees
/// its IRQ, waiting for a running handler, before it is gone.
unsafe fn bound_refs<'bound>(
    vectors: &pci::IrqVectorRegistration<'bound>,
    regs: &Regs<'bound>,
) -> (
    &'bound pci::IrqVectorRegistration<'bound>,
    &'bound Regs<'bound>,
) {
    // SAFETY: Valid for `'bound` as the caller guarantees (see above).
    unsafe { (&*core::ptr::from_ref(vectors), &*core::ptr::from_ref(regs)) }
}

#[pinned_drop]
impl PinnedDrop for NtbHw<'_> {
    fn drop(self: Pin<&mut Self>) {
        // Leave the fabric while the handlers are still registered (type
        // invariant); the fields then drop in declaration order.
        self.regs.set_link(false);
        dev_info!(
            self.pdev,
            "node {}: link disabled, adapter released\n",
            self.geometry.node_id
        );
    }
}
