// SPDX-License-Identifier: GPL-2.0

//! What this node lends and what its peers advertise, and the operations
//! on them: lend, unlend, list, and the peers' messages.
//!
//! Two locks: `OPS` serializes lend and unlend from start to end (claiming
//! a device probes drivers, and the events announcing it must leave in the
//! order of the changes); `STATE` guards the lists briefly and is the only
//! one the core's thread takes. Lend and unlend send nothing with `STATE`
//! held; the core's thread answers `LIST_REQ` under it (see there).

use crate::claim::{Claimed, Info};
use crate::lend_abi::*;
use crate::proto;
use crate::serve::Leased;
use kernel::prelude::*;
use kernel::sync::Arc;
use rsio_fabric::api;
use rsio_kernel::iommu::{Confinement, Isolation};
use rsio_ntb::adapter::Adapter;

/// Peers' entries kept at most (more are dropped).
const MAX_PEER_ENTRIES: usize = 1024;

/// A device this node lends.
struct Local {
    /// Given back on drop.
    claimed: Claimed,
    /// Its identity and BARs as claimed.
    info: Info,
    entry: LendDevEntry,
    /// The borrower's lease, while a peer's kernel borrows it.
    lease: Option<Leased>,
    /// Processes' borrows (SmartIO): one lease per borrowing node, never
    /// together with `lease`.
    users: KVec<Leased>,
    /// `users` share the device; else there is at most one.
    users_shared: bool,
    /// The function's IOMMU domain while processes borrow it (dropped
    /// after the last of them, once the device is reset).
    users_confined: Option<Confinement>,
}

impl Local {
    /// Ends the lease, if any: the device is stopped and reset, the
    /// borrower's windows closed. `revoke`: the borrower is alive and is
    /// told to remove the device.
    fn end_lease(&mut self, revoke: bool) {
        if let Some(l) = self.lease.take() {
            if revoke {
                if let Err(e) =
                    api::send_event(l.node, proto::REVOKED, &self.entry.fdid.to_le_bytes())
                {
                    pr_warn!(
                        "cannot tell node {} that {:#x} is revoked: {:?}\n",
                        l.node,
                        self.entry.fdid,
                        e
                    );
                }
            }
            let node = l.node;
            l.end(&self.claimed);
            self.entry.state = LEND_STATE_LENT;
            pr_info!(
                "fabric device {:#x}: node {}'s lease ended, device reset\n",
                self.entry.fdid,
                node
            );
        }
        while let Some(u) = self.users.last() {
            let node = u.node;
            if revoke {
                let _ = api::send_event(node, proto::REVOKED, &self.entry.fdid.to_le_bytes());
            }
            if !self.end_user(node) {
                break;
            }
        }
    }

    /// Ends `node`'s part of a processes' borrow: the last one stops and
    /// resets the device; before that only `node`'s windows close (the
    /// other borrowers keep using the device).
    fn end_user(&mut self, node: u32) -> bool {
        let Some(i) = self.users.iter().position(|u| u.node == node) else {
            return false;
        };
        let Ok(u) = self.users.remove(i) else {
            return false;
        };
        if self.users.is_empty() {
            u.end(&self.claimed);
            self.users_confined = None;
            pr_info!(
                "fabric device {:#x}: node {}'s processes returned it, device reset\n",
                self.entry.fdid,
                node
            );
        } else {
            drop(u);
            pr_info!(
                "fabric device {:#x}: node {}'s processes returned it ({} node(s) still share it)\n",
                self.entry.fdid,
                node,
                self.users.len()
            );
        }
        self.update_entry();
        true
    }

    /// The entry's state and user flags from the leases.
    fn update_entry(&mut self) {
        let users = !self.users.is_empty();
        self.entry.state = if users || self.lease.is_some() {
            LEND_STATE_BORROWED
        } else {
            LEND_STATE_LENT
        };
        self.entry.dev_flags &= !(LEND_DEV_USER | LEND_DEV_SHARED);
        if users {
            self.entry.dev_flags |= LEND_DEV_USER;
            if self.users_shared {
                self.entry.dev_flags |= LEND_DEV_SHARED;
            }
        }
    }

    /// Whether anyone borrows the device.
    fn borrowed(&self) -> bool {
        self.lease.is_some() || !self.users.is_empty()
    }
}

pub(crate) struct State {
    node: u32,
    /// The adapter leases are opened on (none: borrowing is `ENODEV`).
    adapter: Option<Arc<Adapter>>,
    local: KVec<Local>,
    peers: KVec<LendDevEntry>,
}

impl State {
    /// The device lent from here as `fdid` (`ENOENT`).
    fn local_mut(&mut self, fdid: u32) -> Result<&mut Local> {
        self.local
            .iter_mut()
            .find(|l| l.entry.fdid == fdid)
            .ok_or(ENOENT)
    }
}

rsio_kernel::global_lock! {
    /// The module's state (`None` before `init`).
    static STATE: Mutex<Option<State>> = None;
}

rsio_kernel::global_lock! {
    /// Serializes lending and withdrawing.
    static OPS: Mutex<()> = ();
}

/// Sets the node and the adapter up (module init).
pub(crate) fn init(node: u32, adapter: Option<Arc<Adapter>>) {
    *STATE.lock() = Some(State {
        node,
        adapter,
        local: KVec::new(),
        peers: KVec::new(),
    });
}

/// The adapter, for borrowing.
pub(crate) fn adapter() -> Option<Arc<Adapter>> {
    STATE.lock().as_ref().and_then(|st| st.adapter.clone())
}

/// Sends event `mtype` to every up peer (best effort: a peer that misses
/// it asks again with `LIST_REQ` when it comes back).
fn broadcast(mtype: u16, payload: &[u8]) {
    let up = api::up_nodes().unwrap_or(0);
    for node in 0..32 {
        if up & (1 << node) != 0 {
            if let Err(e) = api::send_event(node, mtype, payload) {
                pr_warn!("event {:#x} to node {} failed: {:?}\n", mtype, node, e);
            }
        }
    }
}

/// `iommu`: the lender can confine the function's DMA (`LEND_DEV_IOMMU`).
fn entry_of(
    node: u32,
    fdid: u32,
    domain: u32,
    bus: u32,
    devfn: u32,
    i: &Info,
    iommu: bool,
) -> LendDevEntry {
    LendDevEntry {
        node,
        fdid,
        state: LEND_STATE_LENT,
        domain,
        bus,
        devfn,
        vendor: i.vendor,
        device: i.device,
        subsystem_vendor: i.subsystem_vendor,
        subsystem_device: i.subsystem_device,
        class: i.class & 0xff_ffff,
        revision: i.revision & 0xff,
        bar_size: i.bar_size,
        bar_flags: i.bar_flags,
        sriov_total_vfs: i.sriov_total_vfs,
        dev_flags: if i.virtfn { LEND_DEV_VF } else { 0 }
            | if iommu { LEND_DEV_IOMMU } else { 0 }
            | if i.dma_bypass { LEND_DEV_NO_DMA_API } else { 0 }
            | (i.reset << LEND_DEV_RESET_SHIFT) & LEND_DEV_RESET_MASK,
    }
}

/// Lends `domain:bus:devfn`: returns its fabric device id. A function this
/// node uses is `EBUSY` unless `force`.
pub(crate) fn lend(domain: u32, bus: u32, devfn: u32, force: bool) -> Result<u32> {
    if domain > 0xffff || bus > 0xff || devfn > 0xff {
        return Err(EINVAL);
    }
    let _ops = OPS.lock();
    check_not_in_use(domain, bus, devfn, force)?;
    let (node, index) = {
        let mut st = STATE.lock();
        let st = st.as_mut().ok_or(ENODEV)?;
        let same = |e: &LendDevEntry| e.domain == domain && e.bus == bus && e.devfn == devfn;
        if st.local.iter().any(|l| same(&l.entry)) {
            return Err(EBUSY);
        }
        let index = (1..=0xffffu32)
            .find(|i| !st.local.iter().any(|l| l.entry.fdid & 0xffff == *i))
            .ok_or(ENOSPC)?;
        // Room for the entry now, so that recording it cannot fail once
        // the device is claimed (`OPS` keeps the room ours).
        st.local.reserve(1, GFP_KERNEL)?;
        (st.node, index)
    };
    let (claimed, info) = Claimed::claim(domain, bus, devfn)?;
    let fdid = (node << 16) | index;
    let entry = entry_of(
        node,
        fdid,
        domain,
        bus,
        devfn,
        &info,
        claimed.isolation() == Isolation::Own,
    );
    let (reset, vendor, device) = (info.reset, info.vendor, info.device);
    {
        let mut st = STATE.lock();
        let st = st.as_mut().ok_or(ENODEV)?;
        // Cannot fail: room was reserved above.
        st.local.push(
            Local {
                claimed,
                info,
                entry,
                lease: None,
                users: KVec::new(),
                users_shared: false,
                users_confined: None,
            },
            GFP_KERNEL,
        )?;
    }
    let reset = lend_reset_name(reset);
    pr_info!(
        "lent {:04x}:{:02x}:{:02x}.{} ({:04x}:{:04x} class {:06x}, reset {}) as fabric device {:#x}\n",
        domain,
        bus,
        devfn >> 3,
        devfn & 7,
        vendor,
        device,
        entry.class,
        reset,
        fdid
    );
    broadcast(proto::DEV_LENT, &proto::encode(&entry));
    Ok(fdid)
}

/// `EBUSY` if this node uses `domain:bus:devfn` (a mounted or open block
/// device under it, an interface up), unless `force`; logs either way.
fn check_not_in_use(domain: u32, bus: u32, devfn: u32, force: bool) -> Result {
    let Some(why) = crate::claim::function_in_use(domain, bus, devfn)? else {
        return Ok(());
    };
    let why: &CStr = &why;
    if !force {
        pr_warn!(
            "not lending {:04x}:{:02x}:{:02x}.{}: in use here ({}); unmount/close/down it, or force\n",
            domain,
            bus,
            devfn >> 3,
            devfn & 7,
            why
        );
        return Err(EBUSY);
    }
    pr_warn!(
        "lending {:04x}:{:02x}:{:02x}.{} by force although in use here ({})\n",
        domain,
        bus,
        devfn >> 3,
        devfn & 7,
        why
    );
    Ok(())
}

/// Gives `domain:bus:devfn` back: returns the fabric device id it had.
/// A borrowed device is `EBUSY` unless `force`, which revokes it first.
pub(crate) fn unlend(domain: u32, bus: u32, devfn: u32, force: bool) -> Result<u32> {
    if domain > 0xffff || bus > 0xff || devfn > 0xff {
        return Err(EINVAL);
    }
    let _ops = OPS.lock();
    let mut local = {
        let mut st = STATE.lock();
        let st = st.as_mut().ok_or(ENODEV)?;
        let i = st
            .local
            .iter()
            .position(|l| l.entry.domain == domain && l.entry.bus == bus && l.entry.devfn == devfn)
            .ok_or(ENOENT)?;
        if st.local[i].borrowed() && !force {
            return Err(EBUSY);
        }
        st.local.remove(i)?
    };
    local.end_lease(true);
    let fdid = local.entry.fdid;
    // Stop advertising first, then give it back (reset, native driver).
    broadcast(proto::DEV_UNLENT, &fdid.to_le_bytes());
    drop(local);
    pr_info!("fabric device {:#x} given back\n", fdid);
    Ok(fdid)
}

/// Gives every lent device back (module unload).
pub(crate) fn unlend_all() {
    let _ops = OPS.lock();
    let locals = match STATE.lock().as_mut() {
        Some(st) => core::mem::take(&mut st.local),
        None => return,
    };
    for mut l in locals.into_iter() {
        l.end_lease(true);
        broadcast(proto::DEV_UNLENT, &l.entry.fdid.to_le_bytes());
        pr_info!("fabric device {:#x} given back (unload)\n", l.entry.fdid);
        drop(l);
    }
    *STATE.lock() = None;
}

/// The entry of a peer's device `fdid`, as it advertised it.
pub(crate) fn peer_entry(fdid: u32) -> Option<LendDevEntry> {
    STATE
        .lock()
        .as_ref()?
        .peers
        .iter()
        .find(|e| e.fdid == fdid)
        .copied()
}

/// Every entry, local first, through `f` (under the lock: `f` must not
/// block); returns how many exist.
pub(crate) fn list(mut f: impl FnMut(&LendDevEntry) -> Result) -> Result<u32> {
    let st = STATE.lock();
    let st = st.as_ref().ok_or(ENODEV)?;
    for l in st.local.iter() {
        f(&l.entry)?;
    }
    for e in st.peers.iter() {
        f(e)?;
    }
    Ok((st.local.len() + st.peers.len()) as u32)
}

/// Peer `node` came up: ask it what it lends.
pub(crate) fn peer_up(node: u32) {
    if let Err(e) = api::send_event(node, proto::LIST_REQ, &[]) {
        pr_warn!("cannot ask node {} for its devices: {:?}\n", node, e);
    }
}

/// Peer `node` went away: forget what it advertised, reclaim and reset
/// what it borrowed.
pub(crate) fn peer_down(node: u32) {
    let mut changed = KVec::new();
    if let Some(st) = STATE.lock().as_mut() {
        st.peers.retain(|e| e.node != node);
        for l in st.local.iter_mut() {
            if l.lease.as_ref().is_some_and(|x| x.node == node) {
                l.end_lease(false);
                let _ = changed.push(l.entry, GFP_KERNEL);
            }
            if l.end_user(node) {
                let _ = changed.push(l.entry, GFP_KERNEL);
            }
        }
    }
    for e in changed.iter() {
        broadcast(proto::DEV_LENT, &proto::encode(e));
    }
}

/// `BORROW` from `node` (a core request, untrusted): opens a lease on
/// the device it names and writes it to `reply`.
pub(crate) fn borrow_request(node: u32, payload: &[u8], reply: &mut [u8]) -> Result<usize> {
    let fdid = proto::decode_fdid_of(payload)?;
    let (entry, n) = {
        let mut st = STATE.lock();
        let st = st.as_mut().ok_or(ENODEV)?;
        let adapter = st.adapter.clone().ok_or(ENODEV)?;
        let l = st.local_mut(fdid)?;
        if l.borrowed() {
            return Err(EBUSY);
        }
        if l.info.dma_bypass {
            pr_warn!(
                "fabric device {:#x} not lent to node {}: its driver bypasses the DMA API (virtio without VIRTIO_F_ACCESS_PLATFORM)\n",
                fdid,
                node
            );
            return Err(EOPNOTSUPP);
        }
        let (leased, lease) = Leased::open(&adapter, node, &l.claimed, &l.info, true)?;
        let b = lease.encode();
        let out = reply.get_mut(..b.len()).ok_or(EOVERFLOW)?;
        out.copy_from_slice(&b);
        l.lease = Some(leased);
        l.entry.state = LEND_STATE_BORROWED;
        pr_info!("fabric device {:#x} lent to node {}\n", fdid, node);
        (l.entry, b.len())
    };
    broadcast(proto::DEV_LENT, &proto::encode(&entry));
    Ok(n)
}

/// `USER_BORROW` from `node` (a core request, untrusted): a process of
/// `node` borrows the device (SmartIO), exclusively or shared. Refused
/// (`EBUSY`) while a node's kernel holds it, while processes hold it
/// exclusively, exclusively while anyone holds it, and to a node that
/// holds it already (its processes share that node's lease).
pub(crate) fn user_borrow_request(node: u32, payload: &[u8], reply: &mut [u8]) -> Result<usize> {
    let (fdid, flags) = proto::decode_user_borrow(payload)?;
    let shared = flags & proto::USER_SHARED != 0;
    let nodes = api::num_nodes()?;
    let (entry, n) = {
        let mut st = STATE.lock();
        let st = st.as_mut().ok_or(ENODEV)?;
        let adapter = st.adapter.clone().ok_or(ENODEV)?;
        let me = st.node;
        let l = st.local_mut(fdid)?;
        let joins = l.users.is_empty() || (shared && l.users_shared);
        if l.lease.is_some() || !joins || l.users.iter().any(|u| u.node == node) {
            return Err(EBUSY);
        }
        if l.info.dma_bypass {
            return Err(EOPNOTSUPP);
        }
        l.users.reserve(1, GFP_KERNEL)?;
        let (leased, lease) = Leased::open(&adapter, node, &l.claimed, &l.info, false)?;
        if l.users.is_empty() {
            l.users_confined = crate::serve::confine_users(&adapter, &l.claimed, me, nodes)?;
        }
        let lease = proto::Lease {
            flags: lease.flags
                | if l.users_confined.is_some() {
                    proto::LEASE_CONFINED
                } else {
                    0
                },
            ..lease
        };
        let b = lease.encode();
        reply
            .get_mut(..b.len())
            .ok_or(EOVERFLOW)?
            .copy_from_slice(&b);
        // Cannot fail: room was reserved above.
        l.users.push(leased, GFP_KERNEL)?;
        l.users_shared = shared;
        l.update_entry();
        pr_info!(
            "fabric device {:#x} lent to processes of node {} ({})\n",
            fdid,
            node,
            if shared { "shared" } else { "exclusive" }
        );
        (l.entry, b.len())
    };
    broadcast(proto::DEV_LENT, &proto::encode(&entry));
    Ok(n)
}

/// `USER_MCAST` from `node` (untrusted): the address at which the device
/// its processes borrow writes to a multicast group. `EACCES` where the
/// lender's IOMMU confines the device (its domain admits memory only).
pub(crate) fn user_mcast_request(node: u32, payload: &[u8], reply: &mut [u8]) -> Result<usize> {
    let (fdid, group) = proto::decode_pair(payload)?;
    let mut st = STATE.lock();
    let st = st.as_mut().ok_or(ENODEV)?;
    let adapter = st.adapter.clone().ok_or(ENODEV)?;
    let l = st.local_mut(fdid)?;
    if l.users_confined.is_some() {
        return Err(EACCES);
    }
    let u = l.users.iter_mut().find(|u| u.node == node).ok_or(ENOENT)?;
    let addr = u.multicast(&adapter, group)?;
    let b = addr.to_le_bytes();
    reply
        .get_mut(..b.len())
        .ok_or(EOVERFLOW)?
        .copy_from_slice(&b);
    pr_info!(
        "fabric device {:#x}: writes to multicast group {} for node {}'s processes\n",
        fdid,
        group,
        node
    );
    Ok(b.len())
}

/// `RETURN` from `node`: ends its lease (`ENOENT` if it holds none).
pub(crate) fn return_request(node: u32, payload: &[u8]) -> Result<usize> {
    let (fdid, holder) = proto::decode_return(payload)?;
    let entry = {
        let mut st = STATE.lock();
        let st = st.as_mut().ok_or(ENODEV)?;
        let l = st.local_mut(fdid)?;
        match holder {
            proto::Holder::Kernel if l.lease.as_ref().is_some_and(|x| x.node == node) => {
                l.end_lease(false)
            }
            proto::Holder::Processes if l.end_user(node) => {}
            _ => return Err(ENOENT),
        }
        l.entry
    };
    broadcast(proto::DEV_LENT, &proto::encode(&entry));
    Ok(0)
}

/// The lease of `fdid` (lent from here) that `node` holds.
fn leased_to(st: &mut State, fdid: u32, node: u32) -> Result<&mut Leased> {
    st.local
        .iter_mut()
        .find(|l| l.entry.fdid == fdid)
        .and_then(|l| l.lease.as_mut())
        .filter(|x| x.node == node)
        .ok_or(ENOENT)
}

/// `P2P_EXPOSE` from borrower `node` (untrusted): opens a BAR window of
/// its device `to` to the lender of its device `from` too.
pub(crate) fn p2p_expose_request(node: u32, payload: &[u8], reply: &mut [u8]) -> Result<usize> {
    let p = proto::P2p::decode(payload)?;
    let nodes = api::num_nodes()?;
    let via = p.source_lender();
    let mut st = STATE.lock();
    let st = st.as_mut().ok_or(ENODEV)?;
    if p.target_lender() != st.node || via == st.node || via == node || via >= nodes {
        return Err(EINVAL);
    }
    let (window, size) = leased_to(st, p.to_fdid, node)?.expose(p.bar, via)?;
    let b = proto::encode_exposed(window, size);
    reply
        .get_mut(..b.len())
        .ok_or(EOVERFLOW)?
        .copy_from_slice(&b);
    pr_info!(
        "fabric device {:#x}: BAR {} open to node {} for node {}\n",
        p.to_fdid,
        p.bar,
        via,
        node
    );
    Ok(b.len())
}

/// `P2P_MAP` from borrower `node` (untrusted): gives its device `from` a
/// path to BAR `bar` of its device `to` (lent from here, or exposed by
/// its lender at `window`).
pub(crate) fn p2p_map_request(node: u32, payload: &[u8], reply: &mut [u8]) -> Result<usize> {
    let p = proto::P2p::decode(payload)?;
    let nodes = api::num_nodes()?;
    let mut st = STATE.lock();
    let st = st.as_mut().ok_or(ENODEV)?;
    let adapter = st.adapter.clone().ok_or(ENODEV)?;
    if p.source_lender() != st.node || p.target_lender() == node || p.target_lender() >= nodes {
        return Err(EINVAL);
    }
    let (window, addr, size) = if p.target_lender() == st.node {
        let (addr, size) = leased_to(st, p.to_fdid, node)?.bar(p.bar)?;
        (None, addr, size)
    } else if p.size == 0 {
        return Err(EPROTO);
    } else {
        (Some(p.window), 0, p.size)
    };
    let dev_addr = leased_to(st, p.from_fdid, node)?
        .add_path(&adapter, p.to_fdid, p.bar, window, addr, size)?;
    let b = dev_addr.to_le_bytes();
    reply
        .get_mut(..b.len())
        .ok_or(EOVERFLOW)?
        .copy_from_slice(&b);
    pr_info!(
        "fabric device {:#x}: path to BAR {} of {:#x} at {:#x} for node {}\n",
        p.from_fdid,
        p.bar,
        p.to_fdid,
        dev_addr,
        node
    );
    Ok(b.len())
}

/// `P2P_UNMAP` (request or event) / `P2P_UNEXPOSE` (event) from
/// borrower `node` (untrusted).
pub(crate) fn p2p_undo(node: u32, mtype: u16, payload: &[u8]) -> Result {
    let p = proto::P2p::decode(payload)?;
    let mut st = STATE.lock();
    let st = st.as_mut().ok_or(ENODEV)?;
    if mtype == proto::P2P_UNMAP {
        leased_to(st, p.from_fdid, node)?.remove_path(p.to_fdid, p.bar)
    } else {
        leased_to(st, p.to_fdid, node)?.unexpose(p.bar, p.source_lender())
    }
}

/// An event from `node` (untrusted).
pub(crate) fn event(node: u32, mtype: u16, payload: &[u8]) -> Result {
    match mtype {
        proto::P2P_UNMAP | proto::P2P_UNEXPOSE => p2p_undo(node, mtype, payload),
        proto::LIST_REQ => {
            if !payload.is_empty() {
                return Err(EPROTO);
            }
            // Sent with the lock held: an unlend racing with this answer
            // removes its entry before or after it, and so sends its
            // `DEV_UNLENT` after any `DEV_LENT` of it sent here (the peer
            // would otherwise keep a stale entry). Only this thread sends
            // under the lock, and a send never waits for it.
            let st = STATE.lock();
            if let Some(st) = st.as_ref() {
                for l in st.local.iter() {
                    api::send_event(node, proto::DEV_LENT, &proto::encode(&l.entry))?;
                }
            }
            Ok(())
        }
        proto::DEV_LENT => {
            let e = proto::decode(node, payload)?;
            let mut st = STATE.lock();
            let st = st.as_mut().ok_or(ENODEV)?;
            if let Some(old) = st.peers.iter_mut().find(|o| o.fdid == e.fdid) {
                *old = e;
                return Ok(());
            }
            if st.peers.len() >= MAX_PEER_ENTRIES {
                return Err(ENOSPC);
            }
            st.peers.push(e, GFP_KERNEL)?;
            Ok(())
        }
        proto::DEV_UNLENT => {
            let fdid = proto::decode_fdid(node, payload)?;
            if let Some(st) = STATE.lock().as_mut() {
                st.peers.retain(|e| e.fdid != fdid);
            }
            Ok(())
        }
        _ => Err(EOPNOTSUPP),
    }
}
