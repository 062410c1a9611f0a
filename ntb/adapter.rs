// SPDX-License-Identifier: GPL-2.0

//! [`Adapter`]: one bound RSIO-NTB1 adapter as its client, the fabric core
//! (module `rsio_fabric`), sees it: what Linux's NTB API cannot express
//! (docs/ntb-driver.md, "The fabric interface").
//!
//! An `Adapter` is shared (`Arc`) by the driver and the client. It owns the
//! BAR0 mapping as a device-managed resource: while the adapter is bound,
//! its methods and the handles made from it (`lut::LutRange`,
//! `inbound::InboundWindow`, ...) reach the registers through
//! `try_access`; once it is unbound they fail with `ENODEV` (and dropping a
//! handle does nothing), so a handle that outlives its adapter is harmless.
//!
//! The adapter's resources are pools: LUT slots, inbound windows, multicast
//! groups, DMA channels and the interrupt window. The NTB device takes its
//! share at probe; the client allocates from the rest. Before the adapter
//! goes away the client is told (`Client::remove`) and everything it left
//! programmed is switched off.

pub use crate::hw::ErrorReport;
use crate::{
    dma_ring::Rings,
    hw::{Bar0, Geometry, Regs},
    regs,
};
use kernel::{
    debugfs, device, new_mutex, new_spinlock, new_spinlock_irq,
    pci::{self, DevresBar},
    prelude::*,
    str::CString,
    sync::aref::ARef,
    sync::{
        atomic::{Atomic, Relaxed},
        rcu::synchronize_rcu,
        Arc, Mutex, SpinLock, SpinLockIrq,
    },
};

/// What the adapter reports about itself and its fabric (docs/adapter.md,
/// section 4.1), and where its windows are.
#[derive(Clone, Copy, Debug)]
pub struct Info {
    /// This node's id, `< num_nodes`.
    pub node_id: u32,
    /// Nodes in the fabric, `2..=16`.
    pub num_nodes: u32,
    /// What the adapter implements (`CAPS`).
    pub caps: Caps,
    /// Translated-window (BAR2) slots.
    pub lut_slots: u32,
    /// log2 of a slot's size.
    pub slot_shift: u32,
    /// Inbound windows.
    pub in_windows: u32,
    /// DMA channels.
    pub dma_channels: u32,
    /// Multicast groups.
    pub mc_groups: u32,
    /// log2 of a node's span in BAR4 (0: no direct window).
    pub direct_shift: u32,
    /// Bit n: node n's memory is in BAR4.
    pub direct_nodes: u32,
    /// Bus address and size of BAR2 (translated window).
    pub bar2: (u64, u64),
    /// Bus address and size of BAR4 (direct window): for CPU accesses.
    pub bar4: (u64, u64),
    /// Bus address and size of the direct window for device DMA: BAR4, or
    /// the memory alias the adapter names (`DIRECT_ALIAS`, docs/adapter.md
    /// section 6). A lender gives a borrowed device addresses in it.
    pub direct_dma: (u64, u64),
    /// Bit n: node n is an expansion chassis (docs/adapter.md, section
    /// 12): a node without rsio, whose devices hosts attach.
    pub chassis_nodes: u32,
}

impl Info {
    fn new(g: &Geometry, bar2: (u64, u64), bar4: (u64, u64), direct_dma: (u64, u64)) -> Self {
        Self {
            node_id: g.node_id,
            num_nodes: g.num_nodes,
            caps: Caps(g.caps),
            lut_slots: g.lut_slots.min(regs::MAX_LUT_SLOTS),
            slot_shift: g.slot_shift,
            in_windows: g.in_windows.min(regs::MAX_IN_WINDOWS),
            dma_channels: g.dma_channels.min(regs::MAX_DMA_CHANNELS),
            mc_groups: g.mc_groups.min(regs::MAX_MC_GROUPS),
            direct_shift: g.direct_shift,
            direct_nodes: g.direct_nodes,
            bar2,
            bar4,
            direct_dma,
            chassis_nodes: g.chassis_nodes & ((1u32 << g.num_nodes.min(regs::MAX_NODES)) - 1),
        }
    }

    /// The mask of every node of the fabric.
    pub fn all_nodes(&self) -> u32 {
        (1u32 << self.num_nodes.min(regs::MAX_NODES)) - 1
    }

    /// Where a device on this node's bus reaches `node`'s RAM through the
    /// direct window: the bus address of `node`'s part of it (or of the
    /// adapter's alias for device DMA) and its size; physical address `X`
    /// of `node` is device address `base + X` below `base + size`
    /// (`EOPNOTSUPP` if the adapter cannot do remote MMIO or has no direct
    /// window to `node`). Lending's leases and NVMe sharing use it.
    pub fn device_dma(&self, node: u32) -> Result<(u64, u64)> {
        if !self.caps.remote_mmio()
            || !self.caps.direct_window()
            || node >= 32
            || self.direct_nodes & (1 << node) == 0
        {
            return Err(EOPNOTSUPP);
        }
        let dma_span = 1u64.checked_shl(self.direct_shift).ok_or(EOPNOTSUPP)?;
        // The window's alias for device DMA where the adapter has one.
        let (window, window_len) = self.direct_dma;
        let dma_base = (u64::from(node) << self.direct_shift)
            .checked_add(window)
            .ok_or(EOPNOTSUPP)?;
        if self.direct_shift == 0
            || dma_base
                .checked_add(dma_span)
                .is_none_or(|end| end > window + window_len)
        {
            return Err(EOPNOTSUPP);
        }
        Ok((dma_base, dma_span))
    }
}

/// What an adapter implements: its `CAPS` register (docs/adapter.md,
/// section 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps(regs::CAPS);

impl Caps {
    /// `CAPS.DMA`: the DMA engine ([`crate::dma`]).
    pub fn dma(self) -> bool {
        self.0.dma()
    }

    /// `CAPS.MULTICAST`: multicast groups ([`crate::multicast`]).
    pub fn multicast(self) -> bool {
        self.0.multicast()
    }

    /// `CAPS.DIRECT`: the direct window, BAR4 ([`Info::bar4`],
    /// [`Info::direct_nodes`]).
    pub fn direct_window(self) -> bool {
        self.0.direct()
    }

    /// `CAPS.REMOTE_MMIO`: a peer's device registers are reachable through
    /// the fabric.
    pub fn remote_mmio(self) -> bool {
        self.0.remote_mmio()
    }

    /// The register's value, for reports (`RSIO_IOC_STATUS`, logs).
    pub fn bits(self) -> u32 {
        self.0.into_raw()
    }
}

/// The adapter's counters (docs/adapter.md, section 4.1), in register order.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    /// BAR2 accesses issued by this node.
    pub tx: u64,
    /// Errors flagged in `ERR_STATUS`.
    pub errors: u64,
    /// Peers' accesses to this node refused by its inbound checks.
    pub refused: u64,
    /// Bytes moved by this node's DMA engine.
    pub dma_bytes: u64,
    /// Doorbell writes sent.
    pub db_tx: u64,
    /// Doorbell writes received.
    pub db_rx: u64,
    /// Remote-MMIO accesses performed as a target.
    pub rmmio: u64,
}

/// Who asks for the link to be up (`LINK_CTRL.ENABLE` is on while anyone
/// does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkUser {
    /// The NTB device (its client called `ntb_link_enable()`).
    Ntb,
    /// The fabric core.
    Core,
}

impl LinkUser {
    fn bit(self) -> u32 {
        match self {
            Self::Ntb => 1,
            Self::Core => 2,
        }
    }
}

/// The client of the adapters: the fabric core. One at a time.
///
/// `add` and `remove` run in process context with the adapter registry
/// locked (they must not call [`register_client`] or drop a
/// [`ClientRegistration`]); the event methods run in hard-IRQ context and
/// must not sleep.
pub trait Client: Send + Sync {
    /// A bound adapter, new or already there when the client registered.
    /// The client may keep the `Arc` and allocate resources from it.
    fn add(&self, adapter: &Arc<Adapter>) -> Result;
    /// The adapter is going away (or the client unregisters): release its
    /// resources now. Whatever stays programmed is switched off after this
    /// returns.
    fn remove(&self, adapter: &Arc<Adapter>);
    /// `LINK_STATUS` is now `status`; the nodes in `changed` changed.
    fn link_changed(&self, _adapter: &Adapter, _status: u32, _changed: u32) {}
    /// Remote interrupt `vector` (`USER(vector)`, `0..32`) arrived.
    fn remote_interrupt(&self, _adapter: &Adapter, _vector: u32) {}
    /// DMA channel `channel` completed a descriptor that asked for an
    /// interrupt.
    fn dma_done(&self, _adapter: &Adapter, _channel: u32) {}
    /// The adapter flagged errors (already logged and cleared).
    fn error(&self, _adapter: &Adapter, _report: &ErrorReport) {}
}

/// Receives a remote interrupt vector claimed with [`UserVector::claim`].
pub trait UserHook: Send + Sync {
    /// `USER(vector)` arrived. Runs in the adapter's interrupt handler
    /// (hard interrupt context: it must not sleep).
    fn fire(&self, vector: u32);
}

/// The adapter's PCI vendor id: feature modules never lend or share the
/// adapter itself.
pub const VENDOR_ID: u16 = regs::VENDOR_ID;

/// The first remote-interrupt vector a [`UserVector`] may claim: the ones
/// below are the fabric core's notifications (`USER(sender node)`).
pub const FIRST_CLAIMABLE_USER_VECTOR: u32 = regs::MAX_NODES;
/// Remote-interrupt vectors (`USER(0..32)`).
pub const USER_VECTORS: u32 = 32;

/// Remote interrupt `USER(k)` routed to a [`UserHook`] instead of the
/// client, while this lives. Peers raise it through an `INTERRUPT` LUT
/// slot at offset `4 k` (docs/adapter.md, section 5): a feature module
/// can give that address to a device as its MSI address.
pub struct UserVector {
    adapter: Arc<Adapter>,
    vector: u32,
}

impl UserVector {
    /// Routes the lowest free vector `>= FIRST_CLAIMABLE_USER_VECTOR` to
    /// `hook` (`ENOSPC` if every one is claimed).
    pub fn claim(adapter: &Arc<Adapter>, hook: Arc<dyn UserHook>) -> Result<Self> {
        let mut hooks = adapter.user_hooks.lock();
        let vector = (FIRST_CLAIMABLE_USER_VECTOR..USER_VECTORS)
            .find(|&k| hooks[k as usize].is_none())
            .ok_or(ENOSPC)?;
        hooks[vector as usize] = Some(hook);
        drop(hooks);
        Ok(Self {
            adapter: adapter.clone(),
            vector,
        })
    }

    /// The vector `k` of `USER(k)`.
    pub fn vector(&self) -> u32 {
        self.vector
    }
}

impl Drop for UserVector {
    fn drop(&mut self) {
        let hook = self.adapter.user_hooks.lock()[self.vector as usize].take();
        // The handlers run in hard interrupt context, an RCU read-side
        // section: once this returns none of them still uses the hook.
        synchronize_rcu();
        drop(hook);
    }
}

impl Adapter {
    /// Remote-interrupt vectors no [`UserVector`] has claimed.
    pub fn free_user_vectors(&self) -> u32 {
        let hooks = self.user_hooks.lock();
        (FIRST_CLAIMABLE_USER_VECTOR..USER_VECTORS)
            .filter(|&k| hooks[k as usize].is_none())
            .count() as u32
    }
}

/// Receives the adapter's error reports besides the client (e.g. a
/// feature module that must tell a driver its read failed).
pub trait ErrorHook: Send + Sync {
    /// The adapter flagged errors (already logged, counted and cleared).
    /// Runs in the adapter's interrupt handler (hard interrupt context:
    /// it must not sleep).
    fn error(&self, report: &ErrorReport);
}

/// Watchers an adapter has room for.
pub(crate) const ERROR_HOOKS: usize = 4;

/// An [`ErrorHook`] that gets the adapter's error reports while this
/// lives.
pub struct ErrorWatch {
    adapter: Arc<Adapter>,
    slot: usize,
}

impl ErrorWatch {
    /// Registers `hook` (`ENOSPC` if [`ERROR_HOOKS`] watch already).
    pub fn register(adapter: &Arc<Adapter>, hook: Arc<dyn ErrorHook>) -> Result<Self> {
        let mut hooks = adapter.error_hooks.lock();
        let slot = hooks.iter().position(|h| h.is_none()).ok_or(ENOSPC)?;
        hooks[slot] = Some(hook);
        drop(hooks);
        Ok(Self {
            adapter: adapter.clone(),
            slot,
        })
    }
}

impl Drop for ErrorWatch {
    fn drop(&mut self) {
        let hook = self.adapter.error_hooks.lock()[self.slot].take();
        // As `UserVector`'s drop: no handler uses the hook after this.
        synchronize_rcu();
        drop(hook);
    }
}

/// The allocation state of the adapter's resources.
pub(crate) struct Pools {
    /// Bit `s` of word `s / 64`: LUT slot `s` is taken.
    pub(crate) lut: [u64; 4],
    /// Bit `w`: inbound window `w` is taken.
    pub(crate) inbound: u64,
    /// The NTB device's share: LUT slots `[first, first + count)`...
    pub(crate) ntb_lut: (u32, u32),
    /// ... and these inbound windows.
    pub(crate) ntb_inbound: u64,
    /// Bit `g`: multicast group `g` is taken.
    pub(crate) mc: u32,
    /// Bit `c`: DMA channel `c` is taken.
    pub(crate) dma: u32,
    /// The interrupt window is taken.
    pub(crate) intwin: bool,
}

impl Pools {
    fn lut_taken(&self, s: u32) -> bool {
        self.lut
            .get((s / 64) as usize)
            .is_some_and(|w| w & (1u64 << (s % 64)) != 0)
    }

    fn set_lut(&mut self, s: u32, taken: bool) {
        if let Some(w) = self.lut.get_mut((s / 64) as usize) {
            if taken {
                *w |= 1u64 << (s % 64);
            } else {
                *w &= !(1u64 << (s % 64));
            }
        }
    }

    /// Takes `count` contiguous free slots below `limit`, first fit.
    pub(crate) fn take_lut(&mut self, count: u32, limit: u32, align: u32) -> Option<u32> {
        if count == 0 || count > limit || !align.is_power_of_two() {
            return None;
        }
        let mut first = 0;
        while first + count <= limit {
            match (first..first + count).find(|&s| self.lut_taken(s)) {
                Some(busy) => first = (busy + 1).next_multiple_of(align),
                None => {
                    for s in first..first + count {
                        self.set_lut(s, true);
                    }
                    return Some(first);
                }
            }
        }
        None
    }

    /// Returns slots `[first, first + count)`.
    pub(crate) fn free_lut(&mut self, first: u32, count: u32) {
        for s in first..first.saturating_add(count) {
            self.set_lut(s, false);
        }
    }

    /// Free LUT slots below `limit`.
    fn free_lut_count(&self, limit: u32) -> u32 {
        (0..limit).filter(|&s| !self.lut_taken(s)).count() as u32
    }

    /// Takes bit `i` of `mask`: `EBUSY` if it is taken already.
    pub(crate) fn claim_bit(mask: &mut u32, i: u32) -> Result {
        let bit = 1u32.checked_shl(i).ok_or(EINVAL)?;
        if *mask & bit != 0 {
            return Err(EBUSY);
        }
        *mask |= bit;
        Ok(())
    }

    /// Takes the lowest free bit below `limit` of `mask`.
    pub(crate) fn take_bit(mask: &mut u64, limit: u32) -> Option<u32> {
        let i = (0..limit.min(64)).find(|&i| *mask & (1u64 << i) == 0)?;
        *mask |= 1u64 << i;
        Some(i)
    }
}

/// Link users and the lock of every register read-modify-write.
struct LinkState {
    /// [`LinkUser::bit`]s of the users that want the link up.
    users: u32,
}

/// One bound adapter. See the module documentation.
#[pin_data]
pub struct Adapter {
    bar: DevresBar<{ regs::BAR0_SIZE }>,
    info: Info,
    dev: ARef<device::Device>,
    name: CString,
    /// Link users; its lock also serializes register read-modify-writes. It
    /// disables interrupts because NTB clients change masks from their
    /// interrupt callbacks.
    #[pin]
    link: SpinLockIrq<LinkState>,
    #[pin]
    pub(crate) pools: SpinLock<Pools>,
    /// The client, while registered, for the interrupt handlers.
    #[pin]
    client: SpinLockIrq<Option<Arc<dyn Client>>>,
    /// Remote-interrupt vectors claimed away from the client
    /// ([`UserVector`]), by `USER` vector.
    #[pin]
    user_hooks: SpinLockIrq<[Option<Arc<dyn UserHook>>; 32]>,
    /// Error watchers ([`ErrorWatch`]).
    #[pin]
    error_hooks: SpinLockIrq<[Option<Arc<dyn ErrorHook>>; ERROR_HOOKS]>,
    /// Errors seen by the `ERROR` handler, per `ERR_STATUS` bit.
    errors_seen: [Atomic<u64>; 8],
    /// Remote interrupts received.
    remote_irqs: Atomic<u64>,
    /// The driver is bound (set from publication to withdrawal).
    #[pin]
    bound: Mutex<bool>,
    /// The DMA channels' descriptor rings...
    dma_rings: Rings,
    /// ... and the producer index of each (serializes submissions).
    #[pin]
    dma_heads: SpinLockIrq<[u32; regs::MAX_DMA_CHANNELS as usize]>,
}

impl Adapter {
    /// The adapter `pdev` whose BAR0 is `bar`, with geometry `g`.
    pub(crate) fn new(
        pdev: &pci::Device<device::Bound>,
        bar: DevresBar<{ regs::BAR0_SIZE }>,
        g: &Geometry,
        bar2: (u64, u64),
        bar4: (u64, u64),
        direct_dma: (u64, u64),
    ) -> Result<impl PinInit<Self, Error>> {
        let dev: &device::Device<device::Bound> = pdev.as_ref();
        let name = CString::try_from_fmt(fmt!("{}", dev.name()))?;
        let dev: ARef<device::Device> = dev.into();
        let info = Info::new(g, bar2, bar4, direct_dma);
        let dma_rings = Rings::new(pdev.as_ref(), info.dma_channels)?;
        Ok(try_pin_init!(Self {
            bar,
            info,
            dev,
            name,
            link <- new_spinlock_irq!(LinkState { users: 0 }, "rsio_ntb_link"),
            pools <- new_spinlock!(
                Pools {
                    lut: [0; 4],
                    inbound: 0,
                    ntb_lut: (0, 0),
                    ntb_inbound: 0,
                    mc: 0,
                    dma: 0,
                    intwin: false,
                },
                "rsio_ntb_pools"
            ),
            client <- new_spinlock_irq!(None, "rsio_ntb_client"),
            user_hooks <- new_spinlock_irq!([const { None }; 32], "rsio_ntb_user_hooks"),
            error_hooks <- new_spinlock_irq!([const { None }; ERROR_HOOKS], "rsio_ntb_error_hooks"),
            errors_seen: [const { Atomic::new(0) }; 8],
            remote_irqs: Atomic::new(0),
            dma_rings,
            bound <- new_mutex!(false, "rsio_ntb_bound"),
            dma_heads <- new_spinlock_irq!([0; regs::MAX_DMA_CHANNELS as usize], "rsio_ntb_dma"),
        }? Error))
    }

    /// The BAR0 mapping, for the driver while the adapter is bound.
    pub(crate) fn bar<'a>(&'a self, pdev: &'a pci::Device<device::Bound>) -> Result<&'a Bar0<'a>> {
        self.bar.access(pdev.as_ref())
    }

    /// Runs `f` on the registers, or fails with `ENODEV` once the adapter
    /// is unbound. `f` runs in an RCU read-side section: it must not sleep.
    pub(crate) fn with_regs<R>(&self, f: impl FnOnce(Regs<'_>) -> R) -> Result<R> {
        let bar = self.bar.try_access().ok_or(ENODEV)?;
        Ok(f(Regs::new(&bar)))
    }

    /// What the adapter reports about itself.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// The adapter's PCI function, e.g. `0000:00:02.0`.
    pub fn name(&self) -> &CStr {
        &self.name
    }

    /// The adapter's device, for logging.
    pub fn device(&self) -> &device::Device {
        &self.dev
    }

    /// `LINK_STATUS`: bit n is set while the link to node n is up.
    pub fn link_status(&self) -> Result<u32> {
        self.with_regs(|r| r.link_status())
    }

    /// The adapter's counters.
    pub fn counters(&self) -> Result<Counters> {
        self.with_regs(|r| {
            let c = |i: usize| r.read64(regs::CNT_BASE + 8 * i).unwrap_or(0);
            Counters {
                tx: c(0),
                errors: c(1),
                refused: c(2),
                dma_bytes: c(3),
                db_tx: c(4),
                db_rx: c(5),
                rmmio: c(6),
            }
        })
    }

    /// The fabric core's share of the adapter: (LUT slots, inbound
    /// windows) not held by the NTB device.
    pub fn core_share(&self) -> (u32, u32) {
        let p = self.pools.lock();
        let lut = self.info.lut_slots.saturating_sub(p.ntb_lut.1);
        let inbound = self
            .info
            .in_windows
            .saturating_sub(p.ntb_inbound.count_ones());
        (lut, inbound)
    }

    /// Errors the driver has seen, per `ERR_STATUS` bit (names:
    /// docs/adapter.md, section 4.1).
    pub fn errors_seen(&self) -> [u64; 8] {
        let mut out = [0u64; 8];
        for (o, a) in out.iter_mut().zip(self.errors_seen.iter()) {
            *o = a.load(Relaxed);
        }
        out
    }

    /// `user` wants the link up (`on`) or no longer needs it;
    /// `LINK_CTRL.ENABLE` follows "some user wants it". Idempotent per user.
    pub fn set_link(&self, user: LinkUser, on: bool) -> Result {
        let mut link = self.link.lock();
        let before = link.users;
        link.users = if on {
            before | user.bit()
        } else {
            before & !user.bit()
        };
        if (before == 0) != (link.users == 0) {
            let up = link.users != 0;
            self.with_regs(|r| r.set_link(up))?;
            dev_info!(
                self.dev,
                "node {}: link {}\n",
                self.info.node_id,
                if up { "enabled" } else { "disabled" }
            );
        }
        Ok(())
    }

    /// Takes the node out of the fabric whoever wanted the link.
    pub(crate) fn leave(&self, regs: Regs<'_>) {
        let mut link = self.link.lock();
        link.users = 0;
        regs.set_link(false);
        dev_info!(
            self.dev,
            "node {}: link disabled, adapter released\n",
            self.info.node_id
        );
    }

    /// `reg = (reg | set) & !clear`, atomically with respect to the other
    /// read-modify-writes of this adapter.
    pub(crate) fn update(&self, regs: Regs<'_>, off: usize, set: u32, clear: u32) -> Result {
        let _guard = self.link.lock();
        let v = regs.read(off)?;
        regs.write(off, (v | set) & !clear)
    }

    /// `MSG_MASK = (MSG_MASK | set) & !clear`, as [`Adapter::update`].
    pub(crate) fn update_msg_mask(&self, regs: Regs<'_>, set: u32, clear: u32) {
        let _guard = self.link.lock();
        regs.update_msg_mask(set, clear);
    }

    /// Runs `f` with the adapter's device while it is bound (`ENODEV`
    /// otherwise), for allocations that need a bound device.
    pub fn with_bound_device<R>(
        &self,
        f: impl FnOnce(&device::Device<device::Bound>) -> R,
    ) -> Result<R> {
        let bound = self.bound.lock();
        if !*bound {
            return Err(ENODEV);
        }
        // SAFETY: `bound` is set while the adapter is published, and `Published::drop` (in the driver's remove, before the device is unbound) clears it under this lock, which is held until `f` returns: the device is bound for as long as the reference lives.
        let dev = unsafe { self.dev.as_bound() };
        Ok(f(dev))
    }

    /// The DMA channels' rings.
    pub(crate) fn dma_rings(&self) -> &Rings {
        &self.dma_rings
    }

    /// The DMA channels' producer indices.
    pub(crate) fn dma_heads(&self) -> &SpinLockIrq<[u32; regs::MAX_DMA_CHANNELS as usize]> {
        &self.dma_heads
    }

    /// The client, if one is registered.
    pub(crate) fn client(&self) -> Option<Arc<dyn Client>> {
        self.client.lock().clone()
    }

    /// The hook that claimed remote interrupt `vector`, if any (the `USER`
    /// handlers).
    pub(crate) fn user_hook(&self, vector: u32) -> Option<Arc<dyn UserHook>> {
        self.user_hooks
            .lock()
            .get(vector as usize)
            .and_then(|h| h.clone())
    }

    /// Gives `report` to every [`ErrorWatch`] (the `ERROR` handler).
    pub(crate) fn report_errors(&self, report: &ErrorReport) {
        let hooks = self.error_hooks.lock().clone();
        for h in hooks.iter().flatten() {
            h.error(report);
        }
    }

    /// Counts the errors of `report` (the `ERROR` handler).
    pub(crate) fn count_errors(&self, report: &ErrorReport) {
        for (bit, a) in self.errors_seen.iter().enumerate() {
            if report.status & (1 << bit) != 0 {
                a.fetch_add(1, Relaxed);
            }
        }
    }

    /// Counts a remote interrupt (the `USER` handlers).
    pub(crate) fn count_remote_irq(&self) {
        self.remote_irqs.fetch_add(1, Relaxed);
    }

    /// Switches off everything outside the NTB device's share: the client's
    /// LUT slots, inbound windows, interrupt window, multicast groups, DMA
    /// channels and link request. Best effort (the registers may already
    /// be gone).
    fn reset_client_resources(&self) {
        let pools = self.pools.lock();
        let (ntb_first, ntb_count) = pools.ntb_lut;
        let ntb_inbound = pools.ntb_inbound;
        drop(pools);
        let info = self.info;
        let _ = self.with_regs(|r| {
            for s in 0..info.lut_slots {
                if !(ntb_first..ntb_first + ntb_count).contains(&s) {
                    let _ = r.write(regs::lut_ctrl(s), 0);
                }
            }
            for w in 0..info.in_windows {
                if ntb_inbound & (1u64 << w) == 0 {
                    let _ = r.write(regs::iw_ctrl(w), 0);
                }
            }
            let _ = r.set_interrupt_window(0);
            for g in 0..info.mc_groups {
                let _ = r.write(regs::mc_ctrl(g), 0);
            }
            for c in 0..info.dma_channels {
                let _ = r.write(regs::dma_ctrl(c), regs::DMA_RESET);
            }
        });
        let _ = self.set_link(LinkUser::Core, false);
    }

    /// Writes the adapter's state (the debugfs file `state`).
    pub(crate) fn write_state(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let i = &self.info;
        writeln!(
            f,
            "adapter {}: node {} of {}",
            self.name.to_str().unwrap_or("?"),
            i.node_id,
            i.num_nodes
        )?;
        let Ok(status) = self.link_status() else {
            return writeln!(f, "unbound");
        };
        let users = self.link.lock().users;
        writeln!(
            f,
            "link: {} (ntb device {}, fabric core {})",
            if users != 0 { "enabled" } else { "disabled" },
            if users & LinkUser::Ntb.bit() != 0 {
                "on"
            } else {
                "off"
            },
            if users & LinkUser::Core.bit() != 0 {
                "on"
            } else {
                "off"
            },
        )?;
        for n in (0..i.num_nodes).filter(|&n| n != i.node_id) {
            let up = status & (1 << n) != 0;
            writeln!(f, "peer node {}: {}", n, if up { "up" } else { "down" })?;
        }
        let p = self.pools.lock();
        let (first, count) = p.ntb_lut;
        let lut_used = i.lut_slots - p.free_lut_count(i.lut_slots);
        let in_used = (p.inbound & !p.ntb_inbound).count_ones();
        writeln!(
            f,
            "lut slots: {} of {} in use (ntb device {}..{}, fabric core {}), slot size {:#x}",
            lut_used,
            i.lut_slots,
            first,
            first + count,
            lut_used - count,
            1u64 << i.slot_shift
        )?;
        writeln!(
            f,
            "inbound windows: {} of {} in use (ntb device {}, fabric core {})",
            p.inbound.count_ones(),
            i.in_windows,
            p.ntb_inbound.count_ones(),
            in_used
        )?;
        writeln!(
            f,
            "multicast groups in use: {:#x} of {}; dma channels in use: {:#x} of {}; interrupt window: {}",
            p.mc,
            i.mc_groups,
            p.dma,
            i.dma_channels,
            if p.intwin { "in use" } else { "free" }
        )?;
        drop(p);
        if let Ok(c) = self.counters() {
            writeln!(
                f,
                "counters: tx {} errors {} refused {} dma_bytes {} db_tx {} db_rx {} rmmio {}",
                c.tx, c.errors, c.refused, c.dma_bytes, c.db_tx, c.db_rx, c.rmmio
            )?;
        }
        write!(f, "errors seen:")?;
        for (name, n) in regs::ERR_NAMES.iter().zip(self.errors_seen()) {
            write!(f, " {} {}", name, n)?;
        }
        writeln!(f)?;
        writeln!(f, "remote interrupts: {}", self.remote_irqs.load(Relaxed))
    }
}

rsio_kernel::global_lock! {
    /// The bound adapters, the client and the debugfs directory.
    static REGISTRY: Mutex<Registry> = Registry::new();
}

/// The bound adapters, the client and the debugfs directory.
pub(crate) struct Registry {
    adapters: KVec<Arc<Adapter>>,
    client: Option<Arc<dyn Client>>,
    debugfs: Option<debugfs::Dir>,
}

impl Registry {
    const fn new() -> Self {
        Self {
            adapters: KVec::new(),
            client: None,
            debugfs: None,
        }
    }
}

/// The registry's lifetime in the module: created by the module
/// initializer, emptied (its memory and the debugfs directory released)
/// when the module goes, after the driver.
pub(crate) struct RegistryGuard(());

impl RegistryGuard {
    /// Creates the debugfs directory `rsio_ntb` (module init, before the
    /// driver is registered).
    pub(crate) fn init() -> Self {
        REGISTRY.lock().debugfs = Some(debugfs::Dir::new(c"rsio_ntb"));
        Self(())
    }
}

impl Drop for RegistryGuard {
    fn drop(&mut self) {
        let mut reg = REGISTRY.lock();
        reg.debugfs = None;
        reg.adapters = KVec::new();
        reg.client = None;
    }
}

/// An adapter's debugfs directory (see [`debugfs_dir`]).
pub(crate) type DebugfsDir = Pin<KBox<debugfs::Scope<Arc<Adapter>>>>;

/// The adapter's debugfs directory, `rsio_ntb/<PCI function>/`, with the
/// file `state` (docs/ntb-driver.md); removed when the scope drops.
pub(crate) fn debugfs_dir(adapter: &Arc<Adapter>) -> Result<Option<DebugfsDir>> {
    fn state(a: &Arc<Adapter>, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        a.write_state(f)
    }
    let reg = REGISTRY.lock();
    let Some(root) = reg.debugfs.as_ref() else {
        return Ok(None);
    };
    let scope = root.scope(Ok::<_, Error>(adapter.clone()), adapter.name(), |a, dir| {
        dir.read_callback_file(c"state", a, &state)
    });
    Ok(Some(KBox::pin_init(scope, GFP_KERNEL)?))
}

/// The bound adapters.
pub fn adapters() -> Result<KVec<Arc<Adapter>>> {
    let reg = REGISTRY.lock();
    let mut out = KVec::with_capacity(reg.adapters.len(), GFP_KERNEL)?;
    for a in reg.adapters.iter() {
        out.push(a.clone(), GFP_KERNEL)?;
    }
    Ok(out)
}

/// The client's registration; dropping it unregisters the client (its
/// `remove` runs for every adapter first).
pub struct ClientRegistration {
    client: Arc<dyn Client>,
}

/// Registers `client`: its `add` runs for every bound adapter now and for
/// every adapter bound later. `EBUSY` if a client is registered already.
pub fn register_client(client: Arc<dyn Client>) -> Result<ClientRegistration> {
    let mut reg = REGISTRY.lock();
    if reg.client.is_some() {
        return Err(EBUSY);
    }
    for a in reg.adapters.iter() {
        if let Err(e) = client.add(a) {
            dev_warn!(a.device(), "fabric client refused the adapter: {:?}\n", e);
            continue;
        }
        *a.client.lock() = Some(client.clone());
    }
    reg.client = Some(client.clone());
    Ok(ClientRegistration { client })
}

impl Drop for ClientRegistration {
    fn drop(&mut self) {
        let mut reg = REGISTRY.lock();
        for a in reg.adapters.iter() {
            if a.client.lock().take().is_some() {
                // Interrupt handlers that already took the client finish
                // first (hard-IRQ handlers are RCU read-side sections).
                synchronize_rcu();
                self.client.remove(a);
                a.reset_client_resources();
            }
        }
        reg.client = None;
    }
}

/// An adapter's entry in the registry: offered to the client while it
/// lives; dropping it withdraws the adapter (the client's `remove`, then
/// its leftovers switched off).
pub(crate) struct Published {
    adapter: Arc<Adapter>,
}

impl Published {
    /// Publishes `adapter`.
    pub(crate) fn new(adapter: Arc<Adapter>) -> Result<Self> {
        let mut reg = REGISTRY.lock();
        reg.adapters.push(adapter.clone(), GFP_KERNEL)?;
        *adapter.bound.lock() = true;
        if let Some(client) = reg.client.clone() {
            match client.add(&adapter) {
                Ok(()) => *adapter.client.lock() = Some(client),
                Err(e) => dev_warn!(
                    adapter.device(),
                    "fabric client refused the adapter: {:?}\n",
                    e
                ),
            }
        }
        Ok(Self { adapter })
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        let mut reg = REGISTRY.lock();
        reg.adapters.retain(|a| !Arc::ptr_eq(a, &self.adapter));
        let client = self.adapter.client.lock().take();
        if let Some(client) = client {
            // As in `ClientRegistration::drop`.
            synchronize_rcu();
            client.remove(&self.adapter);
        }
        self.adapter.reset_client_resources();
        *self.adapter.bound.lock() = false;
    }
}
