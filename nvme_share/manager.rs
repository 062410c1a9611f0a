// SPDX-License-Identifier: GPL-2.0

//! The manager: the controllers this node shares, and the clients' requests
//! it serves (attach, namespaces, queue pairs, detach). Everything here
//! runs on the control path; no software of the manager runs per I/O.
//!
//! A client's queue pair lives in the client's RAM; the controller reaches
//! it at `dma_base(client) + phys` through the adapter's direct window,
//! rings come from the client through an inbound window over the doorbell
//! page, and the CQ's MSI-X entry points at an `INTERRUPT` LUT slot that
//! raises the client's `USER(k)`.
//!
//! Locks: `OPS` serializes share and unshare; each controller's `st`
//! guards its record and is held across the admin commands of one request
//! (the core's thread serves requests one at a time anyway).

use crate::ctrl::Hw;
use crate::logic::allot::{Allot, AllotError};
use crate::logic::policy;
use crate::logic::proto::{self, Refusal};
use crate::nvme_abi::*;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::sync::{Arc, Mutex};
use rsio_fabric::api;
use rsio_kernel::dma_resource::DmaResource;
use rsio_kernel::pci::{PciFunction, StubClaim, StubDriver};
use rsio_ntb::adapter::Adapter;
use rsio_ntb::inbound::InboundWindow;
use rsio_ntb::lut::LutRange;

/// Class code of an NVMe controller (mass storage, NVM, NVMe).
const CLASS_NVME: u32 = 0x01_08_02;
/// Default queue pairs per client.
const DEFAULT_QUOTA: u16 = 4;

/// A client's attachment to a controller.
struct Attach {
    id: u32,
    node: u32,
    qids: u64,
    /// Of `qids`, those the controller has created.
    created: u64,
    ro: bool,
    /// Where the controller reaches the client's RAM: physical `X` at
    /// `dma_base + X` (the client's span of the direct window, mapped for
    /// the controller's DMA).
    dma_base: u64,
    dma_span: u64,
    /// The bus address the controller's MSI-X messages to the client go
    /// to (`+ 4 k` for `USER(k)`).
    msi_base: u64,
    /// Dropped after the queues are deleted (`end_attach`): the paths of
    /// the controller's DMA to the span and the slot, the slot.
    paths: DmaPaths,
    _slot: LutRange,
}

/// How the controller reaches a client: through mappings for its DMA
/// (`dma_map_resource`: identity without an IOMMU or in a passthrough
/// domain, through the default domain in a translated one), or, where
/// the function is confined, through ranges its domain admits.
enum DmaPaths {
    Mapped {
        _span: DmaResource,
        _msi: DmaResource,
    },
    Confined([(u64, u64); 2]),
}

/// A controller's changing state.
struct Record {
    allot: Allot,
    attaches: KVec<Attach>,
    next_attach: u32,
    /// The inbound window over the doorbells, open to `db_peers`.
    db_window: Option<InboundWindow>,
    db_peers: u32,
    gen: u32,
    state: u32,
}

/// A controller this node shares.
pub(crate) struct Managed {
    pub(crate) ctrl: u32,
    bdf: (u32, u32, u32),
    quota: u16,
    policies: KVec<NvmePolicy>,
    adapter: Arc<Adapter>,
    hw: Hw,
    st: Pin<KBox<Mutex<Record>>>,
    msgs_bad: Atomic<u32>,
    msgs_refused: Atomic<u32>,
}

rsio_kernel::global_lock! {
    /// The stub driver, registered while the module is loaded.
    static STUB: Mutex<Option<Pin<KBox<StubDriver>>>> = None;
}

rsio_kernel::global_lock! {
    /// The controllers this node shares.
    static MANAGED: Mutex<KVec<Arc<Managed>>> = KVec::new();
}

rsio_kernel::global_lock! {
    /// Serializes share and unshare.
    static OPS: Mutex<()> = ();
}

/// Registers the stub driver.
pub(crate) fn register_stub(module: &'static ThisModule) -> Result {
    let stub = KBox::pin_init(StubDriver::register(c"rsio_nvme_share", module), GFP_KERNEL)?;
    *STUB.lock() = Some(stub);
    Ok(())
}

/// Unshares everything, then unregisters the stub driver.
pub(crate) fn shutdown() {
    let all = core::mem::take(&mut *MANAGED.lock());
    for m in all {
        m.revoke_all(proto::STATE_GONE);
        drop(m);
    }
    *MANAGED.lock() = KVec::new();
    let stub = STUB.lock().take();
    drop(stub);
}

/// The controllers shared now (a snapshot: requests are served without
/// the list's lock).
fn managed() -> KVec<Arc<Managed>> {
    let mut v = KVec::new();
    for m in MANAGED.lock().iter() {
        // On allocation failure a controller misses the call; logged.
        if v.push(m.clone(), GFP_KERNEL).is_err() {
            pr_warn!("out of memory: controller {:#x} skipped\n", m.ctrl);
        }
    }
    v
}

fn find(ctrl: u32) -> Result<Arc<Managed>> {
    MANAGED
        .lock()
        .iter()
        .find(|m| m.ctrl == ctrl)
        .cloned()
        .ok_or(ENOENT)
}

/// The controller shared from local function `domain:bus:devfn`.
pub(crate) fn ctrl_of(domain: u32, bus: u32, devfn: u32) -> Option<u32> {
    MANAGED
        .lock()
        .iter()
        .find(|m| m.bdf == (domain, bus, devfn))
        .map(|m| m.ctrl)
}

pub(crate) fn local_node() -> u32 {
    api::local_node().unwrap_or(0)
}

fn is_nvme(f: &PciFunction) -> bool {
    f.class() == CLASS_NVME
}

/// Shares local NVMe function `a` (`NVME_IOC_SHARE`).
pub(crate) fn share(a: &mut NvmeShare) -> Result {
    let policies = share_args(a)?;
    let adapter = rsio_ntb::adapter::adapters()?
        .into_iter()
        .next()
        .ok_or(EOPNOTSUPP)?;
    let node = local_node();
    adapter.info().device_dma(node)?;
    let _ops = OPS.lock();
    if MANAGED
        .lock()
        .iter()
        .any(|m| m.bdf == (a.domain, a.bus, a.devfn))
    {
        return Err(EBUSY);
    }
    let hw = take(a)?;
    for p in policies.iter() {
        if !hw.namespaces.iter().any(|ns| ns.nsid == p.nsid) {
            return Err(EINVAL);
        }
    }
    let index = (1..=0xffffu32)
        .find(|i| !MANAGED.lock().iter().any(|m| m.ctrl & 0xffff == *i))
        .ok_or(ENOSPC)?;
    let quota = match a.qpairs_per_client {
        0 => DEFAULT_QUOTA.min(hw.qpairs),
        q => (q as u16).min(hw.qpairs),
    };
    let bdf = (a.domain, a.bus, a.devfn);
    let m = Managed::new(node << 16 | index, bdf, quota, policies, hw, adapter)?;
    a.ctrl = m.ctrl;
    MANAGED.lock().push(m.clone(), GFP_KERNEL)?;
    pr_info!(
        "controller {:#x} shared: {} namespaces, {} I/O queue pairs, {} per client\n",
        m.ctrl,
        m.hw.namespaces.len(),
        m.hw.qpairs,
        m.quota
    );
    m.announce_all();
    Ok(())
}

/// Checks `NVME_IOC_SHARE`'s argument: the namespace policies it sets.
fn share_args(a: &NvmeShare) -> Result<KVec<NvmePolicy>> {
    let n = usize::try_from(a.n_policies).map_err(|_| EINVAL)?;
    let nodes = api::num_nodes()?;
    if a.domain > 0xffff {
        // A function under a virtual host bridge (a borrowed one): its DMA
        // and interrupts belong to its lender's bus.
        return Err(EOPNOTSUPP);
    }
    if a.bus > 0xff
        || a.devfn > 0xff
        || a.qpairs_per_client > NVME_MAX_CLIENT_QPAIRS
        || n > NVME_MAX_POLICIES
        || a.ctrl != 0
    {
        return Err(EINVAL);
    }
    let mut policies = KVec::new();
    for p in a.policies.iter().take(n) {
        if p.nsid == 0 || !policy::valid_policy(p.kind, p.node, p.flags, nodes) {
            return Err(EINVAL);
        }
        if policies.iter().any(|q: &NvmePolicy| q.nsid == p.nsid) {
            return Err(EINVAL);
        }
        policies.push(*p, GFP_KERNEL)?;
    }
    if a.policies
        .iter()
        .skip(n)
        .any(|p| *p != NvmePolicy::default())
    {
        return Err(EINVAL);
    }
    Ok(policies)
}

/// Takes the function `a` names from its driver and brings the
/// controller up.
fn take(a: &NvmeShare) -> Result<Hw> {
    let f = PciFunction::get(a.domain, a.bus, a.devfn).ok_or(ENODEV)?;
    if f.vendor_id() == rsio_ntb::adapter::VENDOR_ID {
        return Err(EPERM);
    }
    if !is_nvme(&f) {
        return Err(EINVAL);
    }
    if let Some(user) = f.first_user() {
        if a.header.flags & NVME_SHARE_FORCE == 0 {
            pr_info!(
                "{:?} is in use ({:?}); --force shares it anyway\n",
                f.device().name(),
                user
            );
            return Err(EBUSY);
        }
    }
    let claim: StubClaim = STUB.lock().as_ref().ok_or(ENODEV)?.claim(f)?;
    Hw::bring_up(claim)
}

impl Managed {
    fn new(
        ctrl: u32,
        bdf: (u32, u32, u32),
        quota: u16,
        policies: KVec<NvmePolicy>,
        hw: Hw,
        adapter: Arc<Adapter>,
    ) -> Result<Arc<Self>> {
        let record = Record {
            allot: Allot::new(hw.qpairs),
            attaches: KVec::new(),
            next_attach: 1,
            db_window: None,
            db_peers: 0,
            gen: 1,
            state: proto::STATE_READY,
        };
        Ok(Arc::new(
            Managed {
                ctrl,
                bdf,
                quota,
                policies,
                st: KBox::pin_init(new_mutex!(record, "rsio_nvme_ctrl"), GFP_KERNEL)?,
                hw,
                adapter,
                msgs_bad: Atomic::new(0),
                msgs_refused: Atomic::new(0),
            },
            GFP_KERNEL,
        )?)
    }
}

/// Stops sharing local function `a` (`NVME_IOC_UNSHARE`).
pub(crate) fn unshare(a: &NvmeShare) -> Result {
    if a.qpairs_per_client != 0 || a.n_policies != 0 || a.ctrl != 0 {
        return Err(EINVAL);
    }
    let _ops = OPS.lock();
    let m = MANAGED
        .lock()
        .iter()
        .find(|m| m.bdf == (a.domain, a.bus, a.devfn))
        .cloned()
        .ok_or(ENOENT)?;
    if !m.st.lock().attaches.is_empty() && a.header.flags & NVME_SHARE_FORCE == 0 {
        return Err(EBUSY);
    }
    MANAGED.lock().retain(|x| !Arc::ptr_eq(x, &m));
    m.revoke_all(proto::STATE_GONE);
    pr_info!("controller {:#x} no longer shared\n", m.ctrl);
    Ok(())
}

impl Managed {
    fn announce(&self) -> proto::Announce {
        let st = self.st.lock();
        let mut serial = [0u8; 20];
        serial.copy_from_slice(&self.hw.id.sn);
        let mut model = [0u8; 40];
        model.copy_from_slice(&self.hw.id.mn);
        proto::Announce {
            ctrl: self.ctrl,
            gen: st.gen,
            state: st.state,
            flags: if self.hw.confined.is_some() {
                proto::ANNOUNCE_IOMMU
            } else {
                0
            },
            nn: self.hw.namespaces.len() as u32,
            qpairs_total: self.hw.qpairs.into(),
            qpairs_free: st.allot.free().into(),
            quota: self.quota.into(),
            domain: self.bdf.0,
            bus: self.bdf.1,
            devfn: self.bdf.2,
            serial,
            model,
        }
    }

    fn announce_to(&self, node: u32) {
        let a = self.announce().encode();
        if let Err(e) = api::send_event(node, proto::CTRL_ANNOUNCE, &a) {
            pr_debug!("announce to node {}: {:?}\n", node, e);
        }
    }

    fn announce_all(&self) {
        let up = api::up_nodes().unwrap_or(0);
        for n in (0..32).filter(|n| up & (1 << n) != 0) {
            self.announce_to(n);
        }
    }

    /// Ends every attachment and tells the clients the controller is gone
    /// (after it was disabled: no DMA can follow). The function goes back
    /// to the nvme driver when the last reference drops.
    fn revoke_all(&self, reason: u32) {
        let nodes: KVec<u32> = {
            let st = self.st.lock();
            let mut v = KVec::new();
            for a in st.attaches.iter() {
                let _ = v.push(a.node, GFP_KERNEL);
            }
            v
        };
        {
            let mut st = self.st.lock();
            st.state = proto::STATE_GONE;
            while let Some(id) = st.attaches.first().map(|a| a.id) {
                self.end_attach(&mut st, id);
            }
        }
        let _ = self.hw.disable();
        let ev = proto::CtrlEvent {
            ctrl: self.ctrl,
            value: reason,
        }
        .encode();
        let up = api::up_nodes().unwrap_or(0);
        for n in (0..32).filter(|n| up & (1 << n) != 0) {
            let _ = api::send_event(n, proto::CTRL_GONE, &ev);
        }
        if nodes.contains(&local_node()) {
            crate::worker::push(crate::worker::Work::LocalEvent {
                mtype: proto::CTRL_GONE,
                ctrl: self.ctrl,
                value: reason,
            });
        }
    }

    /// Deletes attachment `id`'s queue pairs (the controller stops using
    /// the client's memory), frees its queue pairs, slot and doorbell
    /// access.
    fn end_attach(&self, st: &mut Record, id: u32) {
        let Some(i) = st.attaches.iter().position(|a| a.id == id) else {
            return;
        };
        let a = st.attaches.remove(i).ok();
        let Some(a) = a else {
            return;
        };
        for q in 1..=64u16 {
            if a.created & (1u64 << (q - 1)) != 0 {
                if let Err(e) = self.hw.delete_qpair(q) {
                    // The queue may still be in use: stop the controller
                    // (no DMA after this) and bring it back for the others.
                    pr_err!(
                        "controller {:#x}: deleting queue {} failed ({:?}): resetting it\n",
                        self.ctrl,
                        q,
                        e
                    );
                    let _ = self.hw.disable();
                    crate::worker::push(crate::worker::Work::Reset(self.ctrl));
                    break;
                }
            }
        }
        st.allot.release(a.qids);
        if let (DmaPaths::Confined(ranges), Some(c)) = (&a.paths, &self.hw.confined) {
            for (start, len) in ranges {
                c.unmap(*start, *len);
            }
        }
        if !st.attaches.iter().any(|b| b.node == a.node) {
            st.db_peers &= !(1 << a.node);
            self.update_doorbells(st);
        }
        pr_info!(
            "controller {:#x}: node {}'s attachment {} ended\n",
            self.ctrl,
            a.node,
            a.id
        );
        drop(a);
    }

    fn update_doorbells(&self, st: &mut Record) {
        let peers = st.db_peers & !(1 << local_node());
        if peers == 0 {
            st.db_window = None;
            return;
        }
        if st.db_window.is_none() {
            match InboundWindow::alloc(&self.adapter) {
                Ok(w) => st.db_window = Some(w),
                Err(e) => {
                    pr_warn!("controller {:#x}: no inbound window: {:?}\n", self.ctrl, e);
                    return;
                }
            }
        }
        if let Some(w) = &st.db_window {
            let len = self.hw.doorbell_len() as u64;
            if let Err(e) = w.open(self.hw.doorbell_bus(), len, peers) {
                pr_warn!("controller {:#x}: doorbell window: {:?}\n", self.ctrl, e);
            }
        }
    }

    fn ns_access(&self, nsid: u32, node: u32, ro: bool) -> NvmePolicy {
        let p = self
            .policies
            .iter()
            .find(|p| p.nsid == nsid)
            .copied()
            .unwrap_or(NvmePolicy {
                nsid,
                ..Default::default()
            });
        NvmePolicy {
            flags: policy::access(p.kind, p.node, p.flags, node, ro),
            ..p
        }
    }

    fn refused<T>(&self, e: Error) -> Result<T> {
        self.msgs_refused.fetch_add(1, Relaxed);
        Err(e)
    }
}

fn refusal(r: Refusal) -> Error {
    match r {
        Refusal::Stale => ESTALE,
        Refusal::NotGranted => EACCES,
        Refusal::NotAllowed => EPERM,
        _ => EINVAL,
    }
}

/// A request of `node` (a peer through the fabric, or this node's client
/// directly). Malformed requests are `EPROTO` and counted.
pub(crate) fn serve(node: u32, mtype: u16, payload: &[u8], reply: &mut [u8]) -> Result<usize> {
    // Every request names its controller in its first word.
    let ctrl = payload
        .get(0..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0);
    let m = match find(ctrl) {
        Ok(m) => m,
        Err(e) => {
            if proto::payload_len(mtype) != Some(payload.len()) {
                if rsio_kernel::ratelimit::err_ratelimit() {
                    pr_warn!("malformed request {:#x} from node {}\n", mtype, node);
                }
                return Err(EPROTO);
            }
            return Err(e);
        }
    };
    let r = m.serve(node, mtype, payload, reply);
    if r == Err(EPROTO) {
        m.msgs_bad.fetch_add(1, Relaxed);
        if rsio_kernel::ratelimit::err_ratelimit() {
            pr_warn!(
                "controller {:#x}: malformed request {:#x} from node {}\n",
                m.ctrl,
                mtype,
                node
            );
        }
    }
    r
}

fn put(reply: &mut [u8], b: &[u8]) -> Result<usize> {
    reply.get_mut(..b.len()).ok_or(EINVAL)?.copy_from_slice(b);
    Ok(b.len())
}

impl Managed {
    fn serve(&self, node: u32, mtype: u16, payload: &[u8], reply: &mut [u8]) -> Result<usize> {
        match mtype {
            proto::ATTACH => {
                let r = proto::AttachReq::decode(payload).map_err(|_| EPROTO)?;
                let out = self.attach(node, &r).or_else(|e| self.refused(e))?;
                put(reply, &out.encode())
            }
            proto::DETACH => {
                let r = proto::Ref::decode(payload).map_err(|_| EPROTO)?;
                self.detach(node, &r).or_else(|e| self.refused(e))?;
                Ok(0)
            }
            proto::NS_INFO => {
                let r = proto::NsInfoReq::decode(payload).map_err(|_| EPROTO)?;
                let ro = self
                    .attach_of(node, r.attach)
                    .or_else(|e| self.refused(e))?;
                put(reply, &self.ns_info(node, r.index, ro)?.encode())
            }
            proto::CREATE_QPAIR => {
                let r = proto::CreateQpair::decode(payload).map_err(|_| EPROTO)?;
                self.create(node, &r).or_else(|e| self.refused(e))?;
                Ok(0)
            }
            proto::DELETE_QPAIR => {
                let r = proto::QpairRef::decode(payload).map_err(|_| EPROTO)?;
                self.delete(node, &r).or_else(|e| self.refused(e))?;
                Ok(0)
            }
            proto::ABORT => {
                let r = proto::QpairRef::decode(payload).map_err(|_| EPROTO)?;
                self.check_qpair(node, &r).or_else(|e| self.refused(e))?;
                self.hw
                    .admin(crate::logic::nvme::abort(0, r.qid, r.cid))
                    .map(|_| 0)
            }
            proto::GET_LOG => {
                let r = proto::GetLogReq::decode(payload).map_err(|_| EPROTO)?;
                self.get_log(node, &r, reply)
            }
            proto::GET_FEATURE => {
                let r = proto::GetFeatureReq::decode(payload).map_err(|_| EPROTO)?;
                self.get_feature(node, &r, reply)
            }
            _ => self.refused(EOPNOTSUPP),
        }
    }

    fn detach(&self, node: u32, r: &proto::Ref) -> Result {
        let mut st = self.st.lock();
        if !st
            .attaches
            .iter()
            .any(|a| a.id == r.attach && a.node == node)
        {
            return Err(ENOENT);
        }
        self.end_attach(&mut st, r.attach);
        Ok(())
    }

    /// Namespace `index` as node `node` (attached read-only if `ro`) sees
    /// it.
    fn ns_info(&self, node: u32, index: u32, ro: bool) -> Result<proto::NsInfo> {
        let ns = self.hw.namespaces.get(index as usize).ok_or(ENOENT)?;
        let p = self.ns_access(ns.nsid, node, ro);
        Ok(proto::NsInfo {
            nsid: ns.nsid,
            lbads: ns.id.lbads.into(),
            nsze: ns.id.nsze,
            nguid: ns.id.nguid,
            policy: p.kind,
            policy_node: p.node,
            policy_flags: self
                .policies
                .iter()
                .find(|q| q.nsid == ns.nsid)
                .map_or(0, |q| q.flags),
            access: p.flags,
        })
    }

    fn get_log(&self, node: u32, r: &proto::GetLogReq, reply: &mut [u8]) -> Result<usize> {
        self.attach_of(node, r.attach)
            .or_else(|e| self.refused(e))?;
        proto::check_get_log(r)
            .map_err(refusal)
            .or_else(|e| self.refused(e))?;
        // `decode` keeps `len` in 4..=192, a multiple of 4.
        let dwords0 = r.len / 4 - 1;
        let sqe = crate::logic::nvme::get_log(0, r.lid, r.nsid, dwords0, r.offset.into(), 0, 0);
        let page = self.hw.admin_data(sqe)?;
        put(reply, page.get(..r.len as usize).ok_or(EINVAL)?)
    }

    fn get_feature(&self, node: u32, r: &proto::GetFeatureReq, reply: &mut [u8]) -> Result<usize> {
        self.attach_of(node, r.attach)
            .or_else(|e| self.refused(e))?;
        proto::check_get_feature(r)
            .map_err(refusal)
            .or_else(|e| self.refused(e))?;
        let c = self
            .hw
            .admin(crate::logic::nvme::get_features(0, r.fid, r.nsid, 0))?;
        put(reply, &proto::FeatureReply { dw0: c.dw0 }.encode())
    }

    /// Whether `node` holds attachment `id`: its read-only flag.
    fn attach_of(&self, node: u32, id: u32) -> Result<bool> {
        self.st
            .lock()
            .attaches
            .iter()
            .find(|a| a.id == id && a.node == node)
            .map(|a| a.ro)
            .ok_or(ENOENT)
    }

    fn attach(&self, node: u32, r: &proto::AttachReq) -> Result<proto::AttachReply> {
        if r.ctrl != self.ctrl {
            return Err(ENOENT);
        }
        let (window, dma_span) = self.adapter.info().device_dma(node)?;
        let mut st = self.st.lock();
        if st.state != proto::STATE_READY {
            return Err(EAGAIN);
        }
        if st.attaches.iter().any(|a| a.node == node) {
            return Err(EBUSY);
        }
        let qids = self.grant(&mut st, node, r.qpairs)?;
        let (paths, slot, dma_base, msi_base) = match self.dma_paths(node, window, dma_span) {
            Ok(m) => m,
            Err(e) => {
                st.allot.release(qids);
                return Err(e);
            }
        };
        let id = st.next_attach;
        st.next_attach = st.next_attach.wrapping_add(1).max(1);
        let a = Attach {
            id,
            node,
            qids,
            created: 0,
            ro: r.flags & proto::ATTACH_RO != 0,
            dma_base,
            dma_span,
            msi_base,
            paths,
            _slot: slot,
        };
        if let Err(e) = st.attaches.push(a, GFP_KERNEL) {
            st.allot.release(qids);
            return Err(e.into());
        }
        st.db_peers |= 1 << node;
        self.update_doorbells(&mut st);
        let db_window = st.db_window.as_ref().map_or(u32::MAX, |w| w.index());
        pr_info!(
            "controller {:#x}: node {} attached ({} queue pairs)\n",
            self.ctrl,
            node,
            qids.count_ones()
        );
        Ok(proto::AttachReply {
            attach: id,
            gen: st.gen,
            dma_base,
            dma_span,
            db_window: if node == local_node() { 0 } else { db_window },
            qids,
            granted: qids.count_ones(),
            ..self.identity()
        })
    }

    /// What an `ATTACH` reply says of the controller itself.
    fn identity(&self) -> proto::AttachReply {
        proto::AttachReply {
            attach: 0,
            gen: 0,
            dma_base: 0,
            dma_span: 0,
            db_window: 0,
            db_len: self.hw.doorbell_len() as u32,
            dstrd: self.hw.cap.dstrd(),
            mqes: self.hw.cap.mqes().into(),
            max_transfer: self.hw.id.max_transfer().unwrap_or(0),
            vwc: self.hw.id.vwc.into(),
            oncs: self.hw.id.oncs.into(),
            sgls: self.hw.id.sgls,
            nn: self.hw.namespaces.len() as u32,
            granted: 0,
            qids: 0,
        }
    }

    /// Grants node `node` the queue pairs it asked for (`0`: the quota):
    /// `EDQUOT` beyond the quota (logged with it), `ENOSPC` if too few
    /// are free.
    fn grant(&self, st: &mut Record, node: u32, asked: u32) -> Result<u64> {
        let want = match asked {
            0 => self.quota,
            q => u16::try_from(q).map_err(|_| EINVAL)?,
        };
        st.allot.grant_quota(want, self.quota).map_err(|e| match e {
            AllotError::Quota => {
                pr_info!(
                    "controller {:#x}: node {} asked for {} queue pairs, the quota is {}\n",
                    self.ctrl,
                    node,
                    want,
                    self.quota
                );
                EDQUOT
            }
            AllotError::NoSpace => ENOSPC,
            AllotError::Zero => EINVAL,
        })
    }

    /// The controller's paths to `node`: its span of the direct window
    /// (at bus address `window`, `span` bytes) and an `INTERRUPT` slot
    /// targeting it, each mapped for the controller's DMA (through the
    /// IOMMU's default domain where there is one: then the controller
    /// reaches the attached clients' spans and slots and nothing else of
    /// the fabric; where the function is confined, its domain admits
    /// them). Returns the paths, the slot, the span's and the MSI's bus
    /// addresses.
    fn dma_paths(
        &self,
        node: u32,
        window: u64,
        span: u64,
    ) -> Result<(DmaPaths, LutRange, u64, u64)> {
        let slot = LutRange::alloc(&self.adapter, 1)?;
        slot.map_interrupt(0, node)?;
        let page = slot.bus_addr() & !0xfff;
        if let Some(c) = &self.hw.confined {
            c.map(window, span)?;
            if let Err(e) = c.map(page, 0x1000) {
                c.unmap(window, span);
                return Err(e);
            }
            let p = DmaPaths::Confined([(window, span), (page, 0x1000)]);
            let msi_base = slot.bus_addr();
            return Ok((p, slot, window, msi_base));
        }
        let span = self.hw.claim.map_resource(window, span)?;
        let msi = self.hw.claim.map_resource(page, 0x1000)?;
        let (base, msi_base) = (span.bus_addr(), msi.bus_addr() + (slot.bus_addr() - page));
        Ok((
            DmaPaths::Mapped {
                _span: span,
                _msi: msi,
            },
            slot,
            base,
            msi_base,
        ))
    }

    fn create(&self, node: u32, r: &proto::CreateQpair) -> Result {
        let mut st = self.st.lock();
        if st.state != proto::STATE_READY {
            return Err(EAGAIN);
        }
        let gen = st.gen;
        let a = st
            .attaches
            .iter_mut()
            .find(|a| a.id == r.attach && a.node == node && r.ctrl == self.ctrl)
            .ok_or(ENOENT)?;
        proto::check_create(r, gen, a.qids, self.hw.cap.mqes(), a.dma_span).map_err(refusal)?;
        let bit = 1u64 << (r.qid - 1);
        if a.created & bit != 0 {
            return Err(EBUSY);
        }
        let msi = a.msi_base + 4 * u64::from(r.vector);
        self.hw.create_qpair(
            r.qid,
            (a.dma_base + r.sq_addr, r.sq_entries),
            (a.dma_base + r.cq_addr, r.cq_entries),
            msi,
        )?;
        a.created |= bit;
        Ok(())
    }

    fn check_qpair(&self, node: u32, r: &proto::QpairRef) -> Result<u64> {
        let st = self.st.lock();
        if st.state != proto::STATE_READY {
            return Err(EAGAIN);
        }
        let a = st
            .attaches
            .iter()
            .find(|a| a.id == r.attach && a.node == node && r.ctrl == self.ctrl)
            .ok_or(ENOENT)?;
        proto::check_qpair(r.gen, r.qid, st.gen, a.qids).map_err(refusal)?;
        Ok(a.created)
    }

    fn delete(&self, node: u32, r: &proto::QpairRef) -> Result {
        self.check_qpair(node, r)?;
        let mut st = self.st.lock();
        let a = st
            .attaches
            .iter_mut()
            .find(|a| a.id == r.attach && a.node == node)
            .ok_or(ENOENT)?;
        let bit = 1u64 << (r.qid - 1);
        if a.created & bit == 0 {
            return Err(ENOENT);
        }
        a.created &= !bit;
        self.hw.delete_qpair(r.qid)
    }

    /// Node `node` went away: its queues are deleted, its queue pairs and
    /// slot freed. Other clients' queues are not touched.
    fn node_down(&self, node: u32) {
        let mut st = self.st.lock();
        while let Some(id) = st.attaches.iter().find(|a| a.node == node).map(|a| a.id) {
            self.end_attach(&mut st, id);
        }
    }
}

/// Resets controller `ctrl` (the worker thread): the clients stop ringing
/// (`CTRL_RESET`), the controller is disabled (no DMA after that) and
/// enabled again, then the clients re-create their queues (`CTRL_READY`
/// with the next generation); their allotments stay. A controller that
/// does not come back fails: its clients are told it is gone.
pub(crate) fn reset(ctrl: u32) {
    if let Ok(m) = find(ctrl) {
        m.reset();
    }
}

/// The test hook: resets controller `ctrl` if this node manages it
/// (`ENOENT` otherwise).
pub(crate) fn request_reset(ctrl: u32) -> Result {
    find(ctrl)?;
    crate::worker::push(crate::worker::Work::Reset(ctrl));
    Ok(())
}

/// Schedules a reset of every controller with fatal status (`CSTS.CFS`,
/// or reading all-ones).
pub(crate) fn check_all() {
    for m in managed().iter() {
        if m.st.lock().state == proto::STATE_READY && m.hw.failed() {
            pr_err!("controller {:#x}: fatal status, resetting it\n", m.ctrl);
            crate::worker::push(crate::worker::Work::Reset(m.ctrl));
        }
    }
}

/// A client reports a command that timed out twice (`CLIENT_HUNG`).
pub(crate) fn hung(node: u32, payload: &[u8]) -> Result {
    let h = proto::Hung::decode(payload).map_err(|_| EPROTO)?;
    let m = find(h.ctrl)?;
    let q = proto::QpairRef {
        ctrl: h.ctrl,
        attach: h.attach,
        gen: h.gen,
        qid: h.qid,
        cid: h.cid,
    };
    // A report of an old generation is stale: that reset happened.
    m.check_qpair(node, &q)?;
    pr_warn!(
        "controller {:#x}: node {} reports command {:#x} on queue {} hung: resetting\n",
        m.ctrl,
        node,
        h.cid,
        h.qid
    );
    crate::worker::push(crate::worker::Work::Reset(m.ctrl));
    Ok(())
}

/// Sends controller event `mtype` to `nodes` (this node's client directly).
fn tell(nodes: &[u32], mtype: u16, ev: &proto::CtrlEvent) {
    let me = local_node();
    for &n in nodes {
        if n == me {
            // The client on this node hears it from the worker thread (the
            // manager does not call the client).
            crate::worker::push(crate::worker::Work::LocalEvent {
                mtype,
                ctrl: ev.ctrl,
                value: ev.value,
            });
        } else if let Err(e) = api::send_event(n, mtype, &ev.encode()) {
            pr_warn!(
                "controller {:#x}: event {:#x} to node {}: {:?}\n",
                ev.ctrl,
                mtype,
                n,
                e
            );
        }
    }
}

impl Managed {
    fn reset(&self) {
        let (nodes, gen) = {
            let mut st = self.st.lock();
            if st.state != proto::STATE_READY {
                return;
            }
            st.state = proto::STATE_RESETTING;
            let mut v = KVec::new();
            for a in st.attaches.iter() {
                let _ = v.push(a.node, GFP_KERNEL);
            }
            (v, st.gen)
        };
        let ev = |value| proto::CtrlEvent {
            ctrl: self.ctrl,
            value,
        };
        tell(&nodes, proto::CTRL_RESET, &ev(gen));
        let r = self.hw.restart();
        let gen = {
            let mut st = self.st.lock();
            for a in st.attaches.iter_mut() {
                a.created = 0;
            }
            st.gen = st.gen.wrapping_add(1);
            st.state = if r.is_ok() {
                proto::STATE_READY
            } else {
                proto::STATE_FAILED
            };
            st.gen
        };
        match r {
            Ok(()) => {
                pr_info!("controller {:#x} reset (generation {})\n", self.ctrl, gen);
                tell(&nodes, proto::CTRL_READY, &ev(gen));
            }
            Err(e) => {
                pr_err!("controller {:#x} failed to reset: {:?}\n", self.ctrl, e);
                tell(&nodes, proto::CTRL_GONE, &ev(proto::STATE_FAILED));
            }
        }
    }
}

/// A peer came up: tell it what this node shares.
pub(crate) fn peer_up(node: u32) {
    for m in managed().iter() {
        m.announce_to(node);
    }
}

/// A peer went away: end its attachments.
pub(crate) fn peer_down(node: u32) {
    for m in managed().iter() {
        m.node_down(node);
    }
}

/// `LIST_REQ` from `node`.
pub(crate) fn list_req(node: u32) {
    peer_up(node);
}

/// A mapping of controller `ctrl`'s doorbells for this node's client.
pub(crate) fn local_doorbells(ctrl: u32) -> Result<rsio_kernel::io_mem::IoMem> {
    find(ctrl)?.hw.doorbells()
}

/// The list entry of announcement `a` by `node`.
pub(crate) fn entry_of(node: u32, a: &proto::Announce) -> NvmeCtrlEntry {
    NvmeCtrlEntry {
        node,
        ctrl: a.ctrl,
        domain: a.domain,
        bus: a.bus,
        devfn: a.devfn,
        state: a.state,
        flags: if a.flags & proto::ANNOUNCE_IOMMU != 0 {
            NVME_CTRL_IOMMU
        } else {
            0
        },
        generation: a.gen,
        qpairs_total: a.qpairs_total,
        qpairs_free: a.qpairs_free,
        quota: a.quota,
        namespaces: a.nn,
        clients: 0,
        msgs_bad: 0,
        msgs_refused: 0,
        reserved: 0,
        serial: a.serial,
        model: a.model,
    }
}

/// `NVME_IOC_LIST` entries of the controllers managed here.
pub(crate) fn list(out: &mut KVec<NvmeCtrlEntry>) -> Result {
    for m in MANAGED.lock().iter() {
        let a = m.announce();
        let st = m.st.lock();
        let mut e = entry_of(local_node(), &a);
        e.flags |= NVME_CTRL_MANAGED_HERE;
        if m.hw.confined.is_some() {
            e.flags |= NVME_CTRL_IOMMU;
        }
        e.clients = st.attaches.len() as u32;
        e.msgs_bad = m.msgs_bad.load(Relaxed);
        e.msgs_refused = m.msgs_refused.load(Relaxed);
        if st.attaches.iter().any(|x| x.node == local_node()) {
            e.flags |= NVME_CTRL_ATTACHED_HERE;
        }
        out.push(e, GFP_KERNEL)?;
    }
    Ok(())
}

/// `NVME_IOC_LIST_NS` entries of the controllers managed here (the disk
/// names are filled in by the client).
pub(crate) fn list_ns(out: &mut KVec<NvmeNsEntry>) -> Result {
    let me = local_node();
    for m in MANAGED.lock().iter() {
        for ns in m.hw.namespaces.iter() {
            let p = m.ns_access(ns.nsid, me, false);
            let flags = m
                .policies
                .iter()
                .find(|q| q.nsid == ns.nsid)
                .map_or(0, |q| q.flags);
            out.push(
                NvmeNsEntry {
                    ctrl: m.ctrl,
                    nsid: ns.nsid,
                    nsze: ns.id.nsze,
                    lbads: ns.id.lbads.into(),
                    policy: p.kind,
                    policy_node: p.node,
                    policy_flags: flags,
                    access: p.flags,
                    reserved: 0,
                    disk: [0; NVME_DISK_NAME_LEN],
                },
                GFP_KERNEL,
            )?;
        }
    }
    Ok(())
}

/// `NVME_IOC_LIST_CLIENTS` entries of the controllers managed here.
pub(crate) fn list_clients(out: &mut KVec<NvmeClientEntry>) -> Result {
    for m in MANAGED.lock().iter() {
        for a in m.st.lock().attaches.iter() {
            out.push(
                NvmeClientEntry {
                    ctrl: m.ctrl,
                    client: a.node,
                    attach: a.id,
                    qpairs: a.qids.count_ones(),
                    qids: a.qids,
                    created: a.created.count_ones(),
                    vectors: a.created.count_ones(),
                    completed: 0,
                    bad_cqes: 0,
                    reserved: 0,
                },
                GFP_KERNEL,
            )?;
        }
    }
    Ok(())
}
