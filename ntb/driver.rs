// SPDX-License-Identifier: GPL-2.0

//! The PCI driver of the RSIO-NTB1 adapter: probe (bring-up, section 10 of
//! docs/adapter.md) and remove.
//!
//! Everything the driver holds lives in [`NtbHw`], the device's driver data,
//! in three stages that each borrow the one before: [`Base`] (the enabled
//! function, the adapter and its vectors), [`Fabric`] (the registers, the
//! NTB device) and [`Irqs`] (the handlers). Each stage is boxed, so the
//! next one borrows it for `'bound` through a single lifetime extension
//! ([`bound`]); a new field goes into the stage whose objects it uses. Fields
//! are released in reverse order of acquisition by their own `Drop`, so a
//! probe that fails half-way and a remove unwind the same way.

use crate::{
    adapter::{Adapter, DebugfsDir, Published},
    direct_alias::DirectAlias,
    fabric_ntb::{FabricNtb, Layout},
    hw::{Geometry, Regs},
    irq::{DbIrq, DmaIrq, ErrorIrq, FabricDev, LinkIrq, MsgIrq, UserIrq},
    regs,
};
use kernel::{
    device::{Bound, Core},
    dma::{Device as _, DmaMask},
    irq, pci,
    prelude::*,
    sync::Arc,
};
use rsio_kernel::{ntb::Topology, pci::Enabled};

/// The driver.
pub(crate) struct NtbHwDriver;

kernel::pci_device_table!(
    PCI_TABLE,
    <NtbHwDriver as pci::Driver>::IdInfo,
    [(
        pci::DeviceId::from_id(rsio_kernel::pci::vendor(regs::VENDOR_ID), regs::DEVICE_ID),
        ()
    )]
);

/// A memory BAR the driver has not mapped yet: where it is, how large.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BarInfo {
    /// Bus address of the BAR.
    pub(crate) start: u64,
    /// Its size in bytes.
    pub(crate) len: u64,
}

impl BarInfo {
    fn of(pdev: &pci::Device<Bound>, bar: u32) -> Result<Self> {
        Ok(Self {
            start: pdev.resource_start(bar)?,
            len: pdev.resource_len(bar)?,
        })
    }
}

/// One bound adapter: its stages, dropped in declaration order (the
/// adapter's entry for the fabric core first, so its `remove` runs while
/// everything works; then the debugfs files; the handlers; the NTB device
/// and the node's leaving the fabric; the vectors, the adapter and the PCI
/// enable last).
#[pin_data]
pub(crate) struct NtbHw<'bound> {
    _published: Published,
    _debugfs: Option<DebugfsDir>,
    _irqs: Irqs<'bound>,
    _fabric: Pin<KBox<Fabric<'bound>>>,
    _base: Pin<KBox<Base<'bound>>>,
}

/// Stage 1: the enabled function, the direct window's alias, the adapter
/// and the MSI-X vectors. Drops the vectors before the adapter (which owns
/// the BAR0 mapping) and the PCI enable last.
struct Base<'bound> {
    vectors: pci::IrqVectorRegistration<'bound>,
    adapter: Arc<Adapter>,
    _alias: Option<DirectAlias>,
    _enabled: Enabled<'bound>,
    pdev: &'bound pci::Device<Bound>,
    /// What the adapter reports (`identify`), and its BARs.
    g: Geometry,
    bar0: BarInfo,
    bar2: BarInfo,
}

/// Stage 2: the registers and the NTB device. Unregistering the device
/// runs its client's remove, which may still use the registers; then
/// `LeaveFabric` takes the node out of the fabric whatever a client left
/// enabled.
struct Fabric<'bound> {
    /// The NTB device, unless the geometry leaves no room for one.
    ntb: Option<Pin<KBox<FabricDev<'bound>>>>,
    _leave: LeaveFabric<'bound>,
    regs: Regs<'bound>,
}

/// Stage 3: the interrupt handlers (they use the NTB device, the vectors
/// and the registers), each freed, waiting for a running handler, on drop.
struct Irqs<'bound> {
    _link: IrqReg<'bound, LinkIrq<'bound>>,
    _error: IrqReg<'bound, ErrorIrq<'bound>>,
    _user: KVec<IrqReg<'bound, UserIrq>>,
    _dma: KVec<IrqReg<'bound, DmaIrq<'bound>>>,
    /// `MESSAGE` and `DB(peer)` handlers, if an NTB device is registered.
    _msg: Option<IrqReg<'bound, MsgIrq<'bound>>>,
    _db: KVec<IrqReg<'bound, DbIrq<'bound>>>,
}

type IrqReg<'bound, T> = Pin<KBox<irq::Registration<'bound, T>>>;

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
) -> Result<IrqReg<'bound, T>> {
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

/// The content of a stage's box, borrowed for `'bound` by the next stage.
///
/// Sound because of how [`NtbHw`] holds the stages: each is boxed (its
/// content never moves), owned by the driver data until unbind, and
/// dropped after every stage that borrows it (declaration order, and in
/// reverse order of construction when probe fails half-way); objects that
/// hand the borrow to other contexts (IRQ handlers, the NTB core's
/// callbacks) stop those before they are gone.
fn bound<'bound, T>(stage: &Pin<KBox<T>>) -> &'bound T {
    let r: &T = stage;
    // SAFETY: See above: the box's content outlives every user of the extended borrow.
    unsafe { &*core::ptr::from_ref(r) }
}

impl<'bound> Base<'bound> {
    fn new(pdev: &'bound pci::Device<Core<'_>>) -> Result<Self> {
        let enabled = Enabled::new(pdev)?;
        // The DMA engine and the inbound windows take any 64-bit address
        // of this node.
        //
        // SAFETY: Nothing allocates or maps DMA memory for this device concurrently: probe runs before anything else uses it.
        unsafe { pdev.dma_set_mask_and_coherent(DmaMask::new::<64>())? };
        let pdev: &'bound pci::Device<Bound> = pdev;
        let bar = pdev
            .iomap_region_sized::<{ regs::BAR0_SIZE }>(regs::BAR0, c"rsio_ntb/bar0")?
            .into_devres()?;
        let bar0 = BarInfo::of(pdev, regs::BAR0)?;
        let bar2 = BarInfo::of(pdev, regs::BAR2)?;
        let bar4 = BarInfo::of(pdev, regs::BAR4)?;
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
        Regs::new(bar.access(pdev.as_ref())?).set_rmmio_timeout(timeout);
        log_geometry(pdev, &g, bar2, bar4);
        let alias = if g.direct_shift != 0 {
            DirectAlias::get(pdev, g.direct_alias, bar4.len)
        } else {
            None
        };
        if let Some(a) = &alias {
            dev_info!(
                pdev,
                "device DMA into the direct window goes to its alias at {:#x}\n",
                a.start()
            );
        }
        let direct_dma = (alias.as_ref().map_or(bar4.start, |a| a.start()), bar4.len);
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
        Ok(Self {
            vectors,
            adapter,
            _alias: alias,
            _enabled: enabled,
            pdev,
            g,
            bar0,
            bar2,
        })
    }
}

/// The bring-up banner: what the adapter reports and where its windows are.
fn log_geometry(pdev: &pci::Device<Bound>, g: &Geometry, bar2: BarInfo, bar4: BarInfo) {
    dev_info!(
        pdev,
        "RSIO-NTB1 v1.{}: node {} of {}, caps {:#x}, {} LUT slots of 2^{}, {} inbound windows, {} DMA channels, {} multicast groups, direct shift {} nodes {:#x}\n",
        g.version_minor, g.node_id, g.num_nodes, g.caps.into_raw(), g.lut_slots, g.slot_shift,
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
}

impl<'bound> Fabric<'bound> {
    fn new(base: &'bound Base<'bound>) -> Result<Self> {
        let a: &'bound Adapter = &base.adapter;
        let regs = Regs::new(a.bar(base.pdev)?);
        let leave = LeaveFabric { adapter: a, regs };
        let ntb = Self::register_ntb(base, regs)?;
        Ok(Self {
            ntb,
            _leave: leave,
            regs,
        })
    }

    /// Registers the NTB device on the LUT slots and inbound windows its
    /// layout takes, unless the geometry leaves no room for one.
    fn register_ntb(
        base: &'bound Base<'bound>,
        regs: Regs<'bound>,
    ) -> Result<Option<Pin<KBox<FabricDev<'bound>>>>> {
        let (pdev, g, a) = (base.pdev, &base.g, &*base.adapter);
        let layout = match Layout::new(g, base.bar2.len) {
            Ok(layout) => layout,
            Err(why) => {
                dev_warn!(
                    pdev,
                    "node {}: no NTB device: {} ({} nodes, {} LUT slots of 2^{}, {} inbound windows, BAR2 {:#x} bytes)\n",
                    g.node_id, why, g.num_nodes, g.lut_slots, g.slot_shift,
                    g.in_windows, base.bar2.len
                );
                return Ok(None);
            }
        };
        {
            let mut pools = a.pools.lock();
            let slots = layout.mws * layout.slots_per_mw;
            pools.take_lut(slots, slots, 1).ok_or(EBUSY)?;
            pools.ntb_lut = (0, slots);
            for p in 0..layout.peers() {
                for w in 0..layout.mws {
                    let iw = layout.in_window(p, w)?;
                    pools.inbound |= 1u64 << iw;
                    pools.ntb_inbound |= 1u64 << iw;
                }
            }
        }
        let hw = FabricNtb::new(regs, a, layout, base.bar0.start, base.bar2.start);
        let dev = KBox::pin_init(
            rsio_kernel::ntb::HwRegistration::register(pdev, Topology::Switch, hw),
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
        Ok(Some(dev))
    }
}

impl<'bound> Irqs<'bound> {
    fn new(base: &'bound Base<'bound>, fabric: &'bound Fabric<'bound>) -> Result<Self> {
        let (pdev, vecs, r, adapter) = (base.pdev, &base.vectors, fabric.regs, &base.adapter);
        let ntb: Option<&'bound FabricDev<'bound>> = fabric.ntb.as_deref();
        let mut db = KVec::new();
        let mut msg = None;
        if let Some(dev) = ntb {
            let layout = *dev.hw().layout();
            for pidx in 0..layout.peers() {
                let peer = layout.peer_node(pidx)?;
                let h = DbIrq::new(dev, pidx);
                db.push(
                    request(vecs, regs::vec_db(peer), c"rsio_ntb-db", h)?,
                    GFP_KERNEL,
                )?;
            }
            msg = Some(request(
                vecs,
                regs::VEC_MESSAGE,
                c"rsio_ntb-msg",
                MsgIrq::new(r, dev),
            )?);
        }
        let mut dma = KVec::new();
        for c in 0..adapter.info().dma_channels {
            let h = DmaIrq::new(r, adapter.clone(), c);
            dma.push(
                request(vecs, regs::vec_dma(c), c"rsio_ntb-dma", h)?,
                GFP_KERNEL,
            )?;
        }
        let mut user = KVec::new();
        for k in 0..regs::USER_VECTORS {
            let h = UserIrq::new(adapter.clone(), k);
            user.push(
                request(vecs, regs::vec_user(k), c"rsio_ntb-user", h)?,
                GFP_KERNEL,
            )?;
        }
        let error = ErrorIrq::new(pdev, r, adapter.clone());
        let link = LinkIrq::new(pdev, r, adapter.clone(), ntb);
        Ok(Self {
            _error: request(vecs, regs::VEC_ERROR, c"rsio_ntb-error", error)?,
            _link: request(vecs, regs::VEC_LINK, c"rsio_ntb-link", link)?,
            _user: user,
            _dma: dma,
            _msg: msg,
            _db: db,
        })
    }
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
            let base = KBox::pin(Base::new(pdev)?, GFP_KERNEL)?;
            let fabric = KBox::pin(Fabric::new(bound(&base))?, GFP_KERNEL)?;
            let irqs = Irqs::new(bound(&base), bound(&fabric))?;
            let debugfs = crate::adapter::debugfs_dir(&base.adapter)?;
            // Last: counts only a fully probed adapter.
            let published = Published::new(base.adapter.clone())?;
            Ok(try_pin_init!(NtbHw {
                _published: published,
                _debugfs: debugfs,
                _irqs: irqs,
                _fabric: fabric,
                _base: base,
            }))
        })
    }
}
