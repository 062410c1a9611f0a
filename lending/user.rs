// SPDX-License-Identifier: GPL-2.0

//! Devices borrowed by processes (SISCI's SmartIO calls: `rsio_sisci`
//! uses this API for `/dev/sisci`'s `DEV_*` ioctls).
//!
//! A process's borrow is a lease like a kernel borrow's (serve.rs), asked
//! for with `USER_BORROW` instead of `BORROW`, but nothing appears on this
//! node's PCI bus: no bridge, no vectors (the device's interrupts are not
//! routed; user-space drivers poll). What the borrower sets up is the LUT
//! slots onto the lease's windows — its config space and BARs, which
//! `rsio_sisci` maps into the process — and the device's memory decoding
//! and bus mastering, turned on through its config space.
//!
//! One lease per node: the processes of a node that borrow the same device
//! share it ([`UserBorrow`] counts them). Exclusive borrows admit one
//! process; shared ones any number here and on other nodes (the lender
//! decides: state.rs `user_borrow_request`). The last process's return
//! sends `RETURN`; the lender resets the device when the last node
//! returns it.

use crate::borrow::{map_bars, map_window, request_lease, REQUEST_MS};
use crate::lend_abi::LEND_NUM_BARS;
use crate::proto::{self, Lease};
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::sync::Arc;
use rsio_fabric::api;
use rsio_ntb::lut::LutRange;

/// PCI command register: memory space, bus master.
const PCI_COMMAND: usize = 4;
const CMD_MEMORY: u32 = 1 << 1;
const CMD_MASTER: u32 = 1 << 2;

/// A device borrowed by processes of this node: the lease and the slots
/// onto it.
pub struct UserDevice {
    node: u32,
    fdid: u32,
    shared: bool,
    /// Class code, as the lender advertised it (0: unknown).
    class: u32,
    lease: Lease,
    /// Each BAR's address in this node's translated window and bytes
    /// mapped (0: none).
    bar_addr: [u64; LEND_NUM_BARS],
    bar_size: [u64; LEND_NUM_BARS],
    /// The lender died or revoked it: its windows are gone.
    gone: Atomic<bool>,
    _bars: KVec<LutRange>,
    _cfg: LutRange,
}

impl UserDevice {
    /// The lender.
    pub fn lender(&self) -> u32 {
        self.node
    }

    /// The fabric device id.
    pub fn fdid(&self) -> u32 {
        self.fdid
    }

    /// Whether the borrow is shared.
    pub fn shared(&self) -> bool {
        self.shared
    }

    /// Class code (24 bits; 0 if the lender's advertisement is missing).
    pub fn class(&self) -> u32 {
        self.class
    }

    /// PCI vendor and device id.
    pub fn ids(&self) -> (u16, u16) {
        (self.lease.vendor, self.lease.device)
    }

    /// BAR `bar`'s bus address on this node (in the adapter's translated
    /// window: map it uncached) and its mappable bytes; `None` if the BAR
    /// is not forwarded.
    pub fn bar(&self, bar: usize) -> Option<(u64, u64)> {
        let size = *self.bar_size.get(bar)?;
        (size != 0).then(|| (self.bar_addr[bar], size))
    }

    /// The address at which the device writes to multicast group `group`
    /// (its first byte; 4 MiB of the group follow): the lender maps it
    /// for this node's lease. Waits for the lender: not under a spinlock
    /// or a lock the fabric core's thread takes. `EACCES` where the
    /// lender's IOMMU confines the device.
    pub fn multicast_addr(&self, group: u32) -> Result<u64> {
        if self.is_gone() {
            return Err(ENODEV);
        }
        let reply = api::request(
            self.node,
            proto::USER_MCAST,
            &proto::encode_user_borrow(self.fdid, group),
            REQUEST_MS,
        )?;
        let b = reply.payload();
        if b.len() != 8 {
            return Err(EPROTO);
        }
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// Whether the lender died or took the device back.
    pub fn is_gone(&self) -> bool {
        self.gone.load(Relaxed)
    }

    /// The address at which the device reaches `bus`, a bus address on
    /// `owner` (a node's memory as its adapter's DMA sees it: segments).
    /// `EACCES` where the lender's IOMMU does not admit it, `ERANGE`
    /// beyond the direct window's span of a node.
    pub fn device_addr(&self, owner: u32, bus: u64) -> Result<u64> {
        let l = &self.lease;
        if bus >= l.dma_span {
            return Err(ERANGE);
        }
        if owner == self.node {
            // The memory is on the device's own bus (the lender's). Its
            // adapter's bus address is the device's only where nothing
            // translates for either of them.
            if l.flags & proto::LEASE_CONFINED != 0 {
                return Err(EACCES);
            }
            return Ok(bus);
        }
        let me = api::local_node()?;
        // The lease's base is this node's span of the lender's direct
        // window (alias); every node has one span of the same size.
        let base = l
            .dma_base
            .checked_sub(u64::from(me) * l.dma_span)
            .ok_or(EINVAL)?;
        base.checked_add(u64::from(owner) * l.dma_span)
            .and_then(|a| a.checked_add(bus))
            .ok_or(ERANGE)
    }
}

/// A process's hold on a [`UserDevice`]: the last one's drop returns the
/// device to its lender.
pub struct UserBorrow {
    dev: Arc<UserDevice>,
}

impl UserBorrow {
    /// The device.
    pub fn device(&self) -> &Arc<UserDevice> {
        &self.dev
    }
}

/// A node's processes' borrow of one device and how many hold it.
struct Held {
    dev: Arc<UserDevice>,
    holders: usize,
}

rsio_kernel::global_lock! {
    /// The devices this node's processes borrow.
    static USERS: Mutex<KVec<Held>> = KVec::new();
}

rsio_kernel::global_lock! {
    /// Serializes borrowing and returning (a borrow waits for the lender).
    static USER_OPS: Mutex<()> = ();
}

impl Drop for UserBorrow {
    fn drop(&mut self) {
        let _ops = USER_OPS.lock();
        let last = {
            let mut us = USERS.lock();
            let Some(i) = us.iter().position(|h| Arc::ptr_eq(&h.dev, &self.dev)) else {
                return;
            };
            us[i].holders -= 1;
            if us[i].holders > 0 {
                return;
            }
            us.remove(i).is_ok()
        };
        if last && !self.dev.is_gone() {
            let (node, fdid) = (self.dev.node, self.dev.fdid);
            // Uninterruptible: a dying process's memory is freed after
            // this, and the lender resets the device before it answers.
            let payload = proto::encode_return(fdid, proto::Holder::Processes);
            match api::request_uninterruptible(node, proto::RETURN, &payload, REQUEST_MS) {
                Ok(_) => pr_info!(
                    "processes returned fabric device {:#x} to node {}\n",
                    fdid,
                    node
                ),
                Err(e) => pr_warn!("node {} did not take {:#x} back: {:?}\n", node, fdid, e),
            }
        }
    }
}

/// Frees the table (module unload: `rsio_sisci`, which holds the borrows,
/// is gone by then).
pub(crate) fn release_all() {
    drop(core::mem::take(&mut *USERS.lock()));
}

/// Whether this node's processes still borrow `dev` (not returned).
pub fn held_here(dev: &Arc<UserDevice>) -> bool {
    USERS.lock().iter().any(|h| Arc::ptr_eq(&h.dev, dev))
}

/// Borrows `fdid` of `node` for a process (`shared`: see the module
/// docs). `EBUSY` if this node's processes hold it the other way, or the
/// lender refuses.
pub fn borrow(node: u32, fdid: u32, shared: bool) -> Result<UserBorrow> {
    let adapter = crate::state::adapter().ok_or(ENODEV)?;
    if node >= api::num_nodes()? || fdid >> 16 != node || fdid & 0xffff == 0 {
        return Err(EINVAL);
    }
    if node == api::local_node()? {
        // A device lent from here is reached through the lender's own
        // windows by no one here: borrow it on another node.
        return Err(EINVAL);
    }
    let _ops = USER_OPS.lock();
    {
        let mut us = USERS.lock();
        if let Some(h) = us.iter_mut().find(|h| h.dev.fdid == fdid) {
            if !(shared && h.dev.shared) || h.dev.is_gone() {
                return Err(EBUSY);
            }
            h.holders += 1;
            return Ok(UserBorrow { dev: h.dev.clone() });
        }
        us.reserve(1, GFP_KERNEL)?;
    }
    let flags = if shared { proto::USER_SHARED } else { 0 };
    let payload = proto::encode_user_borrow(fdid, flags);
    let holder = proto::Holder::Processes;
    let reply = request_lease(node, proto::USER_BORROW, &payload, fdid, holder)?;
    let dev = match Lease::decode(reply.payload())
        .and_then(|lease| set_up(&adapter, node, fdid, shared, lease))
    {
        Ok(d) => d,
        Err(e) => {
            let payload = proto::encode_return(fdid, proto::Holder::Processes);
            let _ = api::request_uninterruptible(node, proto::RETURN, &payload, REQUEST_MS);
            return Err(e);
        }
    };
    // Cannot fail: room was reserved above and `USER_OPS` kept it ours.
    USERS.lock().push(
        Held {
            dev: dev.clone(),
            holders: 1,
        },
        GFP_KERNEL,
    )?;
    pr_info!(
        "fabric device {:#x} of node {} borrowed by a process ({})\n",
        fdid,
        node,
        if shared { "shared" } else { "exclusive" }
    );
    Ok(UserBorrow { dev })
}

/// Maps the lease's windows and turns the device's decoding and bus
/// mastering on.
fn set_up(
    adapter: &Arc<rsio_ntb::adapter::Adapter>,
    node: u32,
    fdid: u32,
    shared: bool,
    lease: Lease,
) -> Result<Arc<UserDevice>> {
    let cfg = map_window(adapter, node, lease.cfg_window, lease.cfg_offset, 4096)?;
    let (bars, specs) = map_bars(adapter, node, &lease)?;
    {
        let io = cfg.map_cpu()?;
        let cmd = io.read32(PCI_COMMAND)? & 0xffff;
        if cmd == 0xffff {
            return Err(EIO);
        }
        // The status half written as 0: its error bits are write-1-to-clear.
        io.write32(PCI_COMMAND, cmd | CMD_MEMORY | CMD_MASTER)?;
    }
    Ok(Arc::new(
        UserDevice {
            node,
            fdid,
            shared,
            class: crate::state::peer_entry(fdid).map_or(0, |e| e.class),
            lease,
            bar_addr: specs.map(|b| b.addr),
            bar_size: specs.map(|b| b.size),
            gone: Atomic::new(false),
            _bars: bars,
            _cfg: cfg,
        },
        GFP_KERNEL,
    )?)
}

/// The lender `node` is gone, or revoked `fdid` (`None`: all of its
/// devices): its devices' windows are gone; their holders find out
/// ([`UserDevice::is_gone`]) and nothing is returned.
pub(crate) fn lender_gone(node: u32, fdid: Option<u32>) {
    for h in USERS.lock().iter() {
        if h.dev.node == node && fdid.is_none_or(|f| f == h.dev.fdid) {
            h.dev.gone.store(true, Relaxed);
            pr_warn!(
                "fabric device {:#x} borrowed by processes: its lender {}\n",
                h.dev.fdid,
                if fdid.is_some() {
                    "took it back"
                } else {
                    "is gone"
                }
            );
        }
    }
}
