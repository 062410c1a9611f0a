// SPDX-License-Identifier: GPL-2.0

//! The borrower's side: a peer's device on this node's PCI bus.
//!
//! `borrow` asks the lender for a lease (serve.rs), maps LUT slots onto
//! the lease's windows (one for the function's config space, a run per
//! BAR), claims remote-interrupt vectors for its MSI/MSI-X and creates
//! the virtual host bridge (bridge.c), whose scan finds the function and
//! lets this node's driver bind. The borrow is a kernel object kept here;
//! it ends on `RETURN`, unload, the lender's death (the device is
//! removed as if surprise-removed) or the lender revoking it.
//!
//! Teardown order: the bus first (the driver unbinds while its interrupts
//! still arrive), then the vectors (no hook runs afterwards), then the
//! bridge's memory, then the slots.

use crate::proto::{self, Lease};
use crate::sys::{Bridge, BridgeFire, BridgeParams};
use kernel::prelude::*;
use kernel::sync::atomic::{Acquire, Atomic, Release};
use kernel::sync::Arc;
use rsio_fabric::api;
use rsio_ntb::adapter::{Adapter, UserHook, UserVector};
use rsio_ntb::lut::LutRange;

/// Remote-interrupt vectors one borrowed device takes at most (its
/// interrupts share them beyond that).
const VECTORS_PER_DEVICE: usize = 4;
/// How long the lender may take to answer (a function reset included).
const REQUEST_MS: u32 = 5000;

/// A remote-interrupt vector's hook: the bridge, once it exists.
struct Hook {
    /// A `BridgeFire`'s address (0: not yet).
    bridge: Atomic<usize>,
}

impl UserHook for Hook {
    fn fire(&self, vector: u32) {
        let p = self.bridge.load(Acquire);
        if p != 0 {
            // SAFETY: `p` is a live bridge's `BridgeFire::addr` (stored by `set_up`); the bridge outlives every hook run: `Borrowed`'s drop drops the vectors, which waits for running hooks, before the bridge.
            let f = unsafe { BridgeFire::from_addr(p) };
            f.fire(vector);
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

/// A borrowed device. Field order is drop order (see the module docs).
struct Borrowed {
    node: u32,
    fdid: u32,
    at: Placed,
    bridge: Bridge,
    vectors: KVec<UserVector>,
    _bars: KVec<LutRange>,
    _cfg: LutRange,
}

impl Drop for Borrowed {
    fn drop(&mut self) {
        self.bridge.remove();
        // After this no hook runs (`UserVector`'s drop waits for them).
        self.vectors.clear();
    }
}

kernel::sync::global_lock! {
    // SAFETY: Initialized by `init` in the module initializer before anything else uses it.
    unsafe(uninit) static BORROWS: Mutex<KVec<Borrowed>> = KVec::new();
}

kernel::sync::global_lock! {
    // SAFETY: Initialized by `init` in the module initializer before anything else uses it.
    unsafe(uninit) static BORROW_OPS: Mutex<()> = ();
}

/// # Safety
///
/// Called once, by the module initializer, before anything else here.
pub(crate) unsafe fn init() {
    // SAFETY: As the caller guarantees.
    unsafe { BORROWS.init() };
    // SAFETY: As the caller guarantees.
    unsafe { BORROW_OPS.init() };
}

/// Maps `count` slots onto `node`'s window `window` from offset 0.
fn map_window(adapter: &Arc<Adapter>, node: u32, window: u32, len: u64) -> Result<LutRange> {
    let slot = 1u64 << adapter.info().slot_shift;
    let count = u32::try_from(len.div_ceil(slot)).map_err(|_| ENOSPC)?;
    let r = LutRange::alloc(adapter, count)?;
    for i in 0..count {
        r.map_memory(i, node, window, u64::from(i) * slot)?;
    }
    Ok(r)
}

/// Borrows `fdid` from `node`: returns where it appeared (domain, bus,
/// devfn).
pub(crate) fn borrow(adapter: Option<&Arc<Adapter>>, node: u32, fdid: u32) -> Result<Placed> {
    let adapter = adapter.ok_or(ENODEV)?;
    let me = api::local_node()?;
    if node == me || node >= api::num_nodes()? || fdid >> 16 != node || fdid & 0xffff == 0 {
        return Err(EINVAL);
    }
    let _ops = BORROW_OPS.lock();
    {
        let mut bs = BORROWS.lock();
        if bs.iter().any(|b| b.node == node && b.fdid == fdid) {
            return Err(EBUSY);
        }
        // Room now, so that recording the borrow cannot fail once it
        // exists (`BORROW_OPS` keeps the room ours).
        bs.reserve(1, GFP_KERNEL)?;
    }
    let reply = api::request(node, proto::BORROW, &fdid.to_le_bytes(), REQUEST_MS)?;
    let lease = match Lease::decode(reply.payload()) {
        Ok(l) => l,
        Err(e) => {
            give_back(node, fdid);
            return Err(e);
        }
    };
    match set_up(adapter, node, fdid, &lease) {
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

/// Tells the lender we are done with `fdid` (it resets the device).
fn give_back(node: u32, fdid: u32) {
    if let Err(e) = api::request(node, proto::RETURN, &fdid.to_le_bytes(), REQUEST_MS) {
        pr_warn!("node {} did not take {:#x} back: {:?}\n", node, fdid, e);
    }
}

fn set_up(adapter: &Arc<Adapter>, node: u32, fdid: u32, lease: &Lease) -> Result<Borrowed> {
    let cfg = map_window(adapter, node, lease.cfg_window, 4096)?;
    let mut p = BridgeParams {
        parent: adapter.raw_device(),
        cfg_bus: cfg.bus_addr(),
        msi_bus: lease.msi_bus,
        dma_base: lease.dma_base,
        dma_span: lease.dma_span,
        fdid,
        ids: u32::from(lease.vendor) | (u32::from(lease.device) << 16),
        virtfn: u32::from(lease.flags & proto::LEASE_VF != 0),
        ..Default::default()
    };
    let mut bars = KVec::new();
    for (i, lb) in lease.bars.iter().enumerate() {
        if lb.size == 0 {
            continue;
        }
        let r = map_window(adapter, node, lb.window, lb.size)?;
        p.bar[i].size = lb.size;
        p.bar[i].flags = lb.flags;
        p.bar[i].addr = r.bus_addr();
        bars.push(r, GFP_KERNEL)?;
    }
    let hook = Arc::new(
        Hook {
            bridge: Atomic::new(0),
        },
        GFP_KERNEL,
    )?;
    let mut vectors = KVec::new();
    while vectors.len() < VECTORS_PER_DEVICE {
        match UserVector::claim(adapter, hook.clone()) {
            Ok(v) => {
                p.vectors[vectors.len()] = v.vector();
                vectors.push(v, GFP_KERNEL)?;
            }
            Err(e) if vectors.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    p.nr_vectors = vectors.len() as u32;
    let (bridge, domain, bus, devfn) = Bridge::create(&p)?;
    let b = Borrowed {
        node,
        fdid,
        at: Placed {
            domain,
            bus,
            devfn,
            dma_offset: lease.dma_base,
        },
        bridge,
        vectors,
        _bars: bars,
        _cfg: cfg,
    };
    // Interrupts reach the bridge from now on.
    hook.bridge.store(b.bridge.fire_handle().addr(), Release);
    Ok(b)
}

/// Returns `fdid` of `node`: returns where it was.
pub(crate) fn give_back_borrowed(node: u32, fdid: u32) -> Result<Placed> {
    let _ops = BORROW_OPS.lock();
    let b = {
        let mut bs = BORROWS.lock();
        let i = bs.iter().position(|b| b.node == node && b.fdid == fdid).ok_or(ENOENT)?;
        bs.remove(i)?
    };
    let at = b.at;
    drop(b);
    give_back(node, fdid);
    pr_info!("returned fabric device {:#x} to node {}\n", fdid, node);
    Ok(at)
}

/// Removes the devices `pred` selects, as surprise removals (their
/// lender is gone or took them back).
fn remove_dead(pred: impl Fn(&Borrowed) -> bool, why: &str) {
    let mut dead = KVec::new();
    {
        let mut bs = BORROWS.lock();
        let mut i = 0;
        while i < bs.len() {
            if pred(&bs[i]) {
                if let Ok(b) = bs.remove(i) {
                    let _ = dead.push(b, GFP_KERNEL);
                }
            } else {
                i += 1;
            }
        }
    }
    for b in dead.into_iter() {
        b.bridge.set_dead();
        pr_warn!("fabric device {:#x} of node {}: {}; removing it\n", b.fdid, b.node, why);
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
    remove_dead(|b| b.node == node && b.fdid == fdid, "revoked by its lender");
    Ok(())
}

/// Returns everything (unload).
pub(crate) fn return_all() {
    let _ops = BORROW_OPS.lock();
    let all = core::mem::take(&mut *BORROWS.lock());
    for b in all.into_iter() {
        let (node, fdid) = (b.node, b.fdid);
        drop(b);
        give_back(node, fdid);
    }
}
