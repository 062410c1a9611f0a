// SPDX-License-Identifier: GPL-2.0

//! The borrower's side: a peer's device on this node's PCI bus.
//!
//! `borrow` asks the lender for a lease (serve.rs), maps LUT slots onto
//! the lease's windows (one for the function's config space, a run per
//! BAR), claims remote-interrupt vectors for its MSI/MSI-X and creates
//! its virtual host bridge (bridge.rs, over `rsio_kernel::pci_host`),
//! whose scan finds the function and lets this node's driver bind. The borrow is a kernel object
//! kept here;
//! it ends on `RETURN`, unload, the lender's death (the device is
//! removed as if surprise-removed) or the lender revoking it.
//!
//! Teardown order: the bus first (the driver unbinds while its interrupts
//! still arrive), then the vectors (no hook runs afterwards), then the
//! bridge's memory, then the slots.

use crate::bridge::{self, BarSpec, BorrowedFn, Bridge, FnParams};
use crate::chassis::Hold;
use crate::lend_abi::{LEND_BAR_64, LEND_DEV_NO_DMA_API, LEND_NUM_BARS};
use crate::proto::{self, Lease};
use kernel::new_spinlock_irq;
use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::{Arc, SpinLockIrq};
use rsio_fabric::api;
use rsio_kernel::io_mem::IoMem;
use rsio_kernel::pci_host::{HostBridge, HostParams, Window};
use rsio_ntb::adapter::{Adapter, UserHook, UserVector};
use rsio_ntb::lut::LutRange;

/// Remote-interrupt vectors one borrowed device takes at most (its
/// interrupts share them beyond that).
const VECTORS_PER_DEVICE: usize = 4;
/// Borrowed devices a node can always hold: a borrow leaves a vector free
/// for each of the others up to this many.
pub(crate) const MIN_BORROWS: usize = 12;

/// Vectors to claim for a function with `irqs` interrupt vectors (MSI-X
/// table or MSI count) when `borrowed` devices are held and `free`
/// vectors are unclaimed: what it has, up to [`VECTORS_PER_DEVICE`], but
/// leaving one for each further device up to [`MIN_BORROWS`]; at least
/// one (its interrupts then share it).
fn vectors_for(irqs: u32, borrowed: usize, free: u32) -> usize {
    let want = (irqs as usize).clamp(1, VECTORS_PER_DEVICE);
    let keep = MIN_BORROWS.saturating_sub(borrowed + 1);
    want.min((free as usize).saturating_sub(keep)).max(1)
}
/// How long the lender may take to answer (a function reset included).
pub(crate) const REQUEST_MS: u32 = 5000;

/// A remote-interrupt vector's hook: the bridge, once it exists.
#[pin_data]
struct Hook {
    #[pin]
    bridge: SpinLockIrq<Option<Arc<Bridge>>>,
}

impl UserHook for Hook {
    fn fire(&self, vector: u32) {
        // Under the lock: the hook's reference is dropped only with the
        // hook, in process context, after the vectors are released.
        if let Some(b) = self.bridge.lock().as_ref() {
            b.fire(vector);
        }
    }
}

/// Where a borrowed device is on this node.
#[derive(Clone, Copy)]
pub(crate) struct Placed {
    pub(crate) domain: u32,
    pub(crate) bus: u32,
    pub(crate) devfn: u32,
    /// The lender-side bus address of this node's RAM.
    pub(crate) dma_offset: u64,
}

/// A peer-to-peer path of a borrowed device to a BAR of another one.
struct P2pPath {
    /// The target (its lender is `to_fdid >> 16`) and its BAR.
    to_fdid: u32,
    bar: u32,
    /// The target BAR's bus address here (the bridge's key).
    phys: u64,
    /// Where the device reaches the BAR, and how many bytes.
    dev_addr: u64,
    size: u64,
}

/// A borrowed device. Field order is drop order (see the module docs).
struct Borrowed {
    node: u32,
    fdid: u32,
    at: Placed,
    /// Each BAR's bus address here and bytes forwarded (0: none).
    bar_addr: [u64; LEND_NUM_BARS],
    bar_size: [u64; LEND_NUM_BARS],
    /// Its peer-to-peer paths (the lender holds their slots).
    paths: KVec<P2pPath>,
    bridge: Arc<Bridge>,
    vectors: KVec<UserVector>,
    _bars: KVec<LutRange>,
    _cfg: LutRange,
    /// A chassis device's slot, held until the device is stopped and reset
    /// (last: after the driver let go and the slots closed).
    hold: Option<Hold>,
}

impl Drop for Borrowed {
    fn drop(&mut self) {
        // No recovery runs or starts after this.
        bridge::unwatch(&self.bridge);
        self.bridge.remove();
        // After this no hook runs (`UserVector`'s drop waits for them).
        self.vectors.clear();
        // The targets' lenders close the windows they opened for our
        // lender (the paths' slots go with our lease).
        for p in self.paths.iter() {
            if p.to_fdid >> 16 != self.node {
                undo(proto::P2P_UNEXPOSE, self.fdid, p.to_fdid, p.bar);
            }
        }
    }
}

/// Sends a `P2P_UNMAP` (to `from`'s lender) or `P2P_UNEXPOSE` (to `to`'s)
/// event; a lender that is gone needs none.
fn undo(mtype: u16, from_fdid: u32, to_fdid: u32, bar: u32) {
    let m = proto::P2p {
        from_fdid,
        to_fdid,
        bar,
        ..Default::default()
    };
    let node = if mtype == proto::P2P_UNMAP {
        m.source_lender()
    } else {
        m.target_lender()
    };
    let _ = api::send_event(node, mtype, &m.encode());
}

/// Paths to take away on their devices' lenders: (from, to, bar).
type Unmaps = KVec<(u32, u32, u32)>;

/// The devices in `bs` lose their paths to `to_fdid` (which is going
/// away): the bridges forget them; returns what their lenders must free
/// ([`unmap_now`] or [`unmap_later`], without the lock).
fn forget_paths_to(bs: &mut KVec<Borrowed>, to_fdid: u32) -> Unmaps {
    let mut gone = KVec::new();
    for b in bs.iter_mut() {
        let mut i = 0;
        while i < b.paths.len() {
            if b.paths[i].to_fdid == to_fdid {
                if let Ok(p) = b.paths.remove(i) {
                    b.bridge.ops().p2p_del(p.phys);
                    if gone.push((b.fdid, p.to_fdid, p.bar), GFP_KERNEL).is_err() {
                        // The lender frees the path with the lease.
                        pr_warn!(
                            "path of {:#x} to {:#x} left to its lease's end\n",
                            b.fdid,
                            to_fdid
                        );
                    }
                }
            } else {
                i += 1;
            }
        }
    }
    gone
}

/// Has the lenders free `paths` before returning (process context: the
/// DMA-ing device's lender has closed them when this returns).
fn unmap_now(paths: Unmaps) {
    for (from, to, bar) in paths {
        let m = proto::P2p {
            from_fdid: from,
            to_fdid: to,
            bar,
            ..Default::default()
        };
        if let Err(e) = api::request(m.source_lender(), proto::P2P_UNMAP, &m.encode(), REQUEST_MS) {
            pr_warn!(
                "node {} did not take the path of {:#x} to {:#x} away: {:?}\n",
                m.source_lender(),
                from,
                to,
                e
            );
        }
    }
}

/// As [`unmap_now`], by events (from the core's callbacks, which may not
/// wait for responses).
fn unmap_later(paths: Unmaps) {
    for (from, to, bar) in paths {
        undo(proto::P2P_UNMAP, from, to, bar);
    }
}

rsio_kernel::global_lock! {
    /// The borrowed functions.
    static BORROWS: Mutex<KVec<Borrowed>> = KVec::new();
}

rsio_kernel::global_lock! {
    /// Serializes borrowing and returning.
    static BORROW_OPS: Mutex<()> = ();
}

/// Maps slots onto `len` bytes of `node`'s window `window` from `offset`.
pub(crate) fn map_window(
    adapter: &Arc<Adapter>,
    node: u32,
    window: u32,
    offset: u64,
    len: u64,
) -> Result<LutRange> {
    let slot = 1u64 << adapter.info().slot_shift;
    let count = u32::try_from(len.div_ceil(slot)).map_err(|_| ENOSPC)?;
    // A BAR is naturally aligned: one larger than a slot starts at a
    // multiple of its size.
    let align = if len.is_power_of_two() { count } else { 1 };
    let r = LutRange::alloc_aligned(adapter, count, align)?;
    for i in 0..count {
        let at = (u64::from(i) * slot).checked_add(offset).ok_or(EINVAL)?;
        r.map_memory(i, node, window, at)?;
    }
    Ok(r)
}

/// `EBUSY` if `fdid` of `node` is held here already; else room for one
/// more record, so that recording it cannot fail once it exists (the
/// caller holds `BORROW_OPS`, which keeps the room ours). Returns how
/// many devices are held.
fn reserve(node: u32, fdid: u32) -> Result<usize> {
    let mut bs = BORROWS.lock();
    if bs.iter().any(|b| b.node == node && b.fdid == fdid) {
        return Err(EBUSY);
    }
    bs.reserve(1, GFP_KERNEL)?;
    Ok(bs.len())
}

/// Borrows `fdid` from `node`: returns where it appeared (domain, bus,
/// devfn).
pub(crate) fn borrow(adapter: Option<&Arc<Adapter>>, node: u32, fdid: u32) -> Result<Placed> {
    let adapter = adapter.ok_or(ENODEV)?;
    let me = api::local_node()?;
    if node == me || node >= api::num_nodes()? || fdid >> 16 != node || fdid & 0xffff == 0 {
        return Err(EINVAL);
    }
    if crate::state::peer_entry(fdid).is_some_and(|e| e.dev_flags & LEND_DEV_NO_DMA_API != 0) {
        pr_err!(
            "fabric device {:#x}: its driver would bypass the DMA API (a virtio device without VIRTIO_F_ACCESS_PLATFORM) and the device would DMA into node {}'s memory; give it platform access (QEMU: iommu_platform=on) and lend it again\n",
            fdid,
            node
        );
        return Err(EOPNOTSUPP);
    }
    let _ops = BORROW_OPS.lock();
    let borrowed = reserve(node, fdid)?;
    let payload = fdid.to_le_bytes();
    let reply = request_lease(node, proto::BORROW, &payload, fdid, proto::Holder::Kernel)?;
    let lease = match Lease::decode(reply.payload()) {
        Ok(l) => l,
        Err(e) => {
            give_back(node, fdid);
            return Err(e);
        }
    };
    match set_up(adapter, node, fdid, &lease, borrowed, None) {
        Ok(b) => {
            let at = b.at;
            pr_info!(
                "borrowed fabric device {:#x} from node {}: {:05x}:{:02x}:{:02x}.{}\n",
                fdid,
                node,
                at.domain,
                at.bus,
                at.devfn >> 3,
                at.devfn & 7
            );
            // Cannot fail: room was reserved above.
            BORROWS.lock().push(b, GFP_KERNEL)?;
            // The lender may have died between its answer and the push
            // (its peer_down then found nothing to remove).
            if api::up_nodes().unwrap_or(0) & (1 << node) == 0 {
                lender_down(node);
                return Err(ECONNRESET);
            }
            Ok(at)
        }
        Err(e) => {
            give_back(node, fdid);
            Err(e)
        }
    }
}

/// Puts chassis device `fdid` of chassis `node` under a virtual host
/// bridge here: `prepare` (run with borrowing serialized) claims its slot
/// and places its BARs, and returns the lease hotadd.rs built and the
/// hold. Returns where it appeared.
pub(crate) fn attach(
    adapter: &Arc<Adapter>,
    node: u32,
    fdid: u32,
    prepare: impl FnOnce() -> Result<(Lease, Hold)>,
) -> Result<Placed> {
    let _ops = BORROW_OPS.lock();
    let borrowed = reserve(node, fdid)?;
    let (lease, hold) = prepare()?;
    let b = set_up(adapter, node, fdid, &lease, borrowed, Some(hold))?;
    let at = b.at;
    // Cannot fail: room was reserved above.
    BORROWS.lock().push(b, GFP_KERNEL)?;
    Ok(at)
}

/// Fabric ids of the devices of chassis `node` attached here.
pub(crate) fn attached_of(node: u32) -> Result<KVec<u32>> {
    let mut v = KVec::new();
    for b in BORROWS
        .lock()
        .iter()
        .filter(|b| b.node == node && b.hold.is_some())
    {
        v.push(b.fdid, GFP_KERNEL)?;
    }
    Ok(v)
}

/// Chassis `node`'s device `fdid` is gone (`None`: every one of its
/// devices, the chassis is gone): removed as on a surprise removal.
pub(crate) fn chassis_gone(node: u32, fdid: Option<u32>, why: &str) {
    remove_dead(
        |b| b.node == node && b.hold.is_some() && fdid.is_none_or(|f| f == b.fdid),
        why,
    );
}

/// Asks `node` for a lease of `fdid` (`mtype`: `BORROW` or `USER_BORROW`)
/// for `holder`. Interrupted or timed out after it left, the request may
/// still open the lease: it is taken back with a `RETURN` event (messages
/// to a node keep their order, and the lender ignores the return of a
/// lease `holder` does not hold).
pub(crate) fn request_lease(
    node: u32,
    mtype: u16,
    payload: &[u8],
    fdid: u32,
    holder: proto::Holder,
) -> Result<api::Reply> {
    api::request(node, mtype, payload, REQUEST_MS).inspect_err(|&e| {
        if e == EINTR || e == ETIMEDOUT {
            let _ = api::send_event(node, proto::RETURN, &proto::encode_return(fdid, holder));
        }
    })
}

/// Tells the lender we are done with `fdid` (it resets the device).
fn give_back(node: u32, fdid: u32) {
    let payload = proto::encode_return(fdid, proto::Holder::Kernel);
    // Uninterruptible: a signal must not leave the lease held.
    if let Err(e) = api::request_uninterruptible(node, proto::RETURN, &payload, REQUEST_MS) {
        pr_warn!("node {} did not take {:#x} back: {:?}\n", node, fdid, e);
    }
}

fn set_up(
    adapter: &Arc<Adapter>,
    node: u32,
    fdid: u32,
    lease: &Lease,
    borrowed: usize,
    hold: Option<Hold>,
) -> Result<Borrowed> {
    let cfg = map_window(adapter, node, lease.cfg_window, lease.cfg_offset, 4096)?;
    let (bars, specs) = map_bars(adapter, node, lease)?;
    let hook = Arc::pin_init(
        pin_init!(Hook {
            bridge <- new_spinlock_irq!(None, "rsio_lend_hook"),
        }),
        GFP_KERNEL,
    )?;
    let n = vectors_for(lease.irqs, borrowed, adapter.free_user_vectors());
    let vectors = claim_vectors(adapter, &hook, n)?;
    let mut nums = KVec::with_capacity(vectors.len(), GFP_KERNEL)?;
    for v in vectors.iter() {
        nums.push(v.vector(), GFP_KERNEL)?;
    }
    let bridge = adapter.with_bound_device(|dev| -> Result<Arc<Bridge>> {
        let pdev: &kernel::pci::Device<kernel::device::Bound> = dev.try_into()?;
        let f = BorrowedFn::new(FnParams {
            cfg: IoMem::map(pdev, cfg.bus_addr(), 4096)?,
            cfg_bus: cfg.bus_addr(),
            msi_bus: lease.msi_bus,
            dma_base: lease.dma_base,
            dma_span: lease.dma_span,
            fdid,
            ids: u32::from(lease.vendor) | (u32::from(lease.device) << 16),
            virtfn: lease.flags & proto::LEASE_VF != 0,
            bars: specs,
        })?;
        let mut windows = [Window::default(); LEND_NUM_BARS];
        for (w, b) in windows.iter_mut().zip(specs.iter()) {
            (w.start, w.size) = (b.addr, b.size);
        }
        let name = CString::try_from_fmt(fmt!("rsio {:x}", fdid))?;
        let p = HostParams {
            windows: &windows,
            vectors: &nums,
            dma_limit: lease.dma_base + lease.dma_span - 1,
            name: &name,
        };
        HostBridge::create(dev, f, &p)
    })??;
    // A 32-bit BAR whose slots lie above 4 GiB (where the adapter's
    // translated window is) cannot hold their address: its register keeps
    // the low half (the device never sees it: the shadow is ours) and the
    // resource, which is what drivers map, gets the whole address.
    for (i, b) in specs.iter().enumerate() {
        if b.size != 0 && b.flags & LEND_BAR_64 == 0 && b.addr > u64::from(u32::MAX) {
            bridge.set_resource(0, i as u32, b.addr, b.size)?;
        }
    }
    let (domain, bus) = bridge.location();
    let b = Borrowed {
        node,
        fdid,
        at: Placed {
            domain,
            bus,
            devfn: 0,
            dma_offset: lease.dma_base,
        },
        bar_addr: specs.map(|b| b.addr),
        bar_size: specs.map(|b| b.size),
        paths: KVec::new(),
        bridge,
        vectors,
        _bars: bars,
        _cfg: cfg,
        hold,
    };
    bridge::watch(&b.bridge)?;
    // Interrupts reach the bridge from now on: before its driver probes,
    // which may wait for one (a synchronous probe, e.g. virtio_console's).
    *hook.bridge.lock() = Some(b.bridge.clone());
    b.bridge.start();
    Ok(b)
}

/// Maps LUT slots onto the lease's BAR windows: the slots, and the BARs as
/// the bridge presents them.
pub(crate) fn map_bars(
    adapter: &Arc<Adapter>,
    node: u32,
    lease: &Lease,
) -> Result<(KVec<LutRange>, [BarSpec; LEND_NUM_BARS])> {
    let mut bars = KVec::new();
    let mut specs = [BarSpec::default(); LEND_NUM_BARS];
    for (i, lb) in lease.bars.iter().enumerate() {
        if lb.size == 0 {
            continue;
        }
        let r = map_window(adapter, node, lb.window, lb.offset, lb.size)?;
        specs[i] = BarSpec {
            size: lb.size,
            addr: r.bus_addr(),
            flags: lb.flags,
        };
        bars.push(r, GFP_KERNEL)?;
    }
    Ok((bars, specs))
}

/// Claims up to `n` remote-interrupt vectors for `hook` (at least one).
fn claim_vectors(adapter: &Arc<Adapter>, hook: &Arc<Hook>, n: usize) -> Result<KVec<UserVector>> {
    let mut vectors = KVec::new();
    while vectors.len() < n {
        match UserVector::claim(adapter, hook.clone()) {
            Ok(v) => vectors.push(v, GFP_KERNEL)?,
            Err(e) if vectors.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    Ok(vectors)
}

/// Returns `fdid` of `node`: returns where it was. A device this node
/// uses is `EBUSY` unless `force`.
pub(crate) fn give_back_borrowed(node: u32, fdid: u32, force: bool) -> Result<Placed> {
    let _ops = BORROW_OPS.lock();
    let b = {
        let mut bs = BORROWS.lock();
        let i = bs
            .iter()
            .position(|b| b.node == node && b.fdid == fdid)
            .ok_or(ENOENT)?;
        let at = &bs[i].at;
        let user = rsio_kernel::pci::PciFunction::get(at.domain, at.bus, at.devfn)
            .and_then(|f| f.first_user());
        if let Some(why) = user.as_deref() {
            if !force {
                pr_warn!(
                    "not returning fabric device {:#x}: in use here ({}); unmount/close/down it, or force\n",
                    fdid,
                    why
                );
                return Err(EBUSY);
            }
            pr_warn!(
                "returning fabric device {:#x} by force although in use here ({})\n",
                fdid,
                why
            );
        }
        let b = bs.remove(i)?;
        (b, forget_paths_to(&mut bs, fdid))
    };
    let (b, unmaps) = b;
    // The other devices' paths to this one close before its windows do.
    unmap_now(unmaps);
    let at = b.at;
    let chassis = b.hold.is_some();
    drop(b);
    if chassis {
        pr_info!("detached fabric device {:#x} of chassis {}\n", fdid, node);
    } else {
        give_back(node, fdid);
        pr_info!("returned fabric device {:#x} to node {}\n", fdid, node);
    }
    Ok(at)
}

/// Removes the devices `pred` selects, as surprise removals (their
/// lender is gone or took them back).
fn remove_dead(pred: impl Fn(&Borrowed) -> bool, why: &str) {
    let mut dead = KVec::new();
    let mut unmaps = KVec::new();
    {
        let mut bs = BORROWS.lock();
        let mut i = 0;
        while i < bs.len() {
            if pred(&bs[i]) {
                if let Ok(b) = bs.remove(i) {
                    for u in forget_paths_to(&mut bs, b.fdid) {
                        let _ = unmaps.push(u, GFP_KERNEL);
                    }
                    let _ = dead.push(b, GFP_KERNEL);
                }
            } else {
                i += 1;
            }
        }
    }
    unmap_later(unmaps);
    for b in dead.into_iter() {
        b.bridge.ops().set_dead();
        b.bridge.set_disconnected();
        pr_warn!(
            "fabric device {:#x} of node {}: {}; removing it\n",
            b.fdid,
            b.node,
            why
        );
        drop(b);
    }
}

/// The lender `node` is gone.
pub(crate) fn lender_down(node: u32) {
    remove_dead(|b| b.node == node, "its lender is gone");
}

/// `REVOKED` from `node` (untrusted).
pub(crate) fn revoked(node: u32, payload: &[u8]) -> Result {
    let fdid = proto::decode_fdid(node, payload)?;
    remove_dead(
        |b| b.node == node && b.fdid == fdid,
        "revoked by its lender",
    );
    Ok(())
}

/// Gives borrowed device `from` a path to BAR `bar` of borrowed device
/// `to` (`LEND_IOC_P2P`): returns its device address and size.
pub(crate) fn p2p(from: (u32, u32), to: (u32, u32), bar: u32) -> Result<(u64, u64)> {
    let ((from_node, from_fdid), (to_node, to_fdid)) = (from, to);
    if from_fdid >> 16 != from_node
        || to_fdid >> 16 != to_node
        || from_fdid == to_fdid
        || bar as usize >= LEND_NUM_BARS
    {
        return Err(EINVAL);
    }
    let _ops = BORROW_OPS.lock();
    let (phys, size) = match p2p_target(from_fdid, to_fdid, bar)? {
        P2pTarget::Known(dev_addr, size) => return Ok((dev_addr, size)),
        P2pTarget::New(phys, size) => (phys, size),
    };
    let m = proto::P2p {
        from_fdid,
        to_fdid,
        bar,
        ..Default::default()
    };
    let dev_addr = p2p_open(from_node, to_node, m)?;
    if let Err(e) = p2p_record(from_fdid, to_fdid, bar, phys, size, dev_addr) {
        undo(proto::P2P_UNMAP, from_fdid, to_fdid, bar);
        if to_node != from_node {
            undo(proto::P2P_UNEXPOSE, from_fdid, to_fdid, bar);
        }
        return Err(e);
    }
    pr_info!(
        "fabric device {:#x} reaches BAR {} of {:#x} at {:#x} ({:#x} bytes)\n",
        from_fdid,
        bar,
        to_fdid,
        dev_addr,
        size
    );
    Ok((dev_addr, size))
}

/// What [`p2p_target`] found.
enum P2pTarget {
    /// The path exists: its device address and size.
    Known(u64, u64),
    /// A new path to the BAR at this node's `phys`, `size` bytes (room for
    /// it is reserved in `from`'s list).
    New(u64, u64),
}

/// The BAR `bar` of borrowed device `to_fdid` that `from_fdid` wants to
/// reach (`ENOENT`: either is not borrowed, or the BAR is absent; `ENOSPC`:
/// `from` has as many paths as its bridge takes).
fn p2p_target(from_fdid: u32, to_fdid: u32, bar: u32) -> Result<P2pTarget> {
    let mut bs = BORROWS.lock();
    let y = bs.iter().find(|b| b.fdid == to_fdid).ok_or(ENOENT)?;
    let (phys, size) = (y.bar_addr[bar as usize], y.bar_size[bar as usize]);
    if size == 0 {
        return Err(ENOENT);
    }
    let x = bs.iter_mut().find(|b| b.fdid == from_fdid).ok_or(ENOENT)?;
    if let Some(p) = x
        .paths
        .iter()
        .find(|p| p.to_fdid == to_fdid && p.bar == bar)
    {
        return Ok(P2pTarget::Known(p.dev_addr, p.size));
    }
    if x.paths.len() >= bridge::MAX_P2P {
        return Err(ENOSPC);
    }
    x.paths.reserve(1, GFP_KERNEL)?;
    Ok(P2pTarget::New(phys, size))
}

/// Asks the lenders to open the path `m` describes: the target's lender
/// exposes its BAR to ours first (if they differ), then ours maps it for
/// the device. Returns the device address; undoes the exposure on failure.
fn p2p_open(from_node: u32, to_node: u32, mut m: proto::P2p) -> Result<u64> {
    if to_node != from_node {
        let r = api::request(to_node, proto::P2P_EXPOSE, &m.encode(), REQUEST_MS)?;
        (m.window, m.size) = proto::decode_exposed(r.payload())?;
    }
    let mapped = api::request(from_node, proto::P2P_MAP, &m.encode(), REQUEST_MS)
        .and_then(|r| proto::decode_mapped(r.payload()));
    if mapped.is_err() && to_node != from_node {
        undo(proto::P2P_UNEXPOSE, m.from_fdid, m.to_fdid, m.bar);
    }
    mapped
}

/// Records the opened path in `from_fdid`'s bridge and list, unless either
/// device went meanwhile (a lender died: `ENOENT`).
fn p2p_record(
    from_fdid: u32,
    to_fdid: u32,
    bar: u32,
    phys: u64,
    size: u64,
    dev_addr: u64,
) -> Result {
    let mut bs = BORROWS.lock();
    if !bs.iter().any(|b| b.fdid == to_fdid) {
        return Err(ENOENT);
    }
    let x = bs.iter_mut().find(|b| b.fdid == from_fdid).ok_or(ENOENT)?;
    x.bridge.ops().p2p_add(phys, size, dev_addr)?;
    // Cannot fail: room was reserved by `p2p_target` (`BORROW_OPS` keeps it ours).
    x.paths.push(
        P2pPath {
            to_fdid,
            bar,
            phys,
            dev_addr,
            size,
        },
        GFP_KERNEL,
    )?;
    Ok(())
}

/// Returns everything (unload).
pub(crate) fn return_all() {
    let _ops = BORROW_OPS.lock();
    let all = core::mem::take(&mut *BORROWS.lock());
    for b in all.into_iter() {
        let (node, fdid, chassis) = (b.node, b.fdid, b.hold.is_some());
        drop(b);
        if !chassis {
            give_back(node, fdid);
        }
    }
}
