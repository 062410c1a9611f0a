// SPDX-License-Identifier: GPL-2.0

//! The client: this node's attachments to shared controllers (its own
//! queue pairs, a disk per namespace it may use) and what it knows of the
//! controllers its peers announced.
//!
//! Attaching and detaching run in the ioctl's context (they wait for the
//! manager's responses); the core's callbacks (a manager gone, a
//! controller gone) only mark attachments dead and fail their requests.

use crate::blk::{Driver, NsDisk, MAX_LIST, MAX_SEGMENTS};
use crate::logic::proto::{self, Announce};
use crate::nvme_abi::*;
use crate::queue::{Doorbells, IoQueue, CQ_ENTRIES, DEPTH, SQ_ENTRIES};
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::sync::Arc;
use rsio_fabric::api;
use rsio_kernel::blk_mq::{Disk, DiskParams, TagSet};
use rsio_ntb::adapter::{Adapter, UserHook, UserVector};
use rsio_ntb::lut::LutRange;

/// How long a request to the manager may take.
const REQUEST_MS: u32 = 5000;
/// Request timeout of the disks.
const IO_TIMEOUT_MS: u32 = 10_000;
/// Peers' controllers kept at most (more announcements are dropped).
const MAX_PEER_CTRLS: usize = 256;
/// How long a controller reset may take before the attachment is dead.
const RESET_BOUND_MS: u64 = 30_000;
/// Remote-interrupt vectors one attachment claims at most.
const MAX_VECTORS: usize = 4;

/// An attachment of this node.
struct Attached {
    node: u32,
    ctrl: u32,
    attach: u32,
    qids: u64,
    /// What was asked for (a re-attach asks for it again).
    want: NvmeAttach,
    /// Dropped first: no completion runs after.
    vectors: KVec<UserVector>,
    disks: KVec<Arc<Disk<Driver>>>,
    ns: KVec<proto::NsInfo>,
    set: Arc<TagSet<Driver>>,
    /// The manager's announcement when this node attached (listed while
    /// the manager is gone).
    info: Option<Announce>,
}

rsio_kernel::global_lock! {
    /// This node's attachments.
    static ATTACHED: Mutex<KVec<Attached>> = KVec::new();
}

rsio_kernel::global_lock! {
    /// Controllers peers announced: (manager node, announcement).
    static PEERS: Mutex<KVec<(u32, Announce)>> = KVec::new();
}

rsio_kernel::global_lock! {
    /// Serializes attach and detach.
    static OPS: Mutex<()> = ();
}

fn local_node() -> u32 {
    api::local_node().unwrap_or(0)
}

/// A request to the manager of `node`: through the fabric, or, on the
/// manager's own node, to it directly (the same validation).
fn call(node: u32, mtype: u16, payload: &[u8]) -> Result<KVec<u8>> {
    let mut out = KVec::new();
    if node == local_node() {
        let mut buf = [0u8; api::MAX_PAYLOAD];
        let n = crate::manager::serve(node, mtype, payload, &mut buf)?;
        out.extend_from_slice(buf.get(..n).ok_or(EPROTO)?, GFP_KERNEL)?;
    } else {
        let r = api::request(node, mtype, payload, REQUEST_MS)?;
        out.extend_from_slice(r.payload(), GFP_KERNEL)?;
    }
    Ok(out)
}

/// The completions of an attachment's queues on one vector.
struct Hook {
    set: Arc<TagSet<Driver>>,
    /// Hardware queues whose CQ raises this vector.
    hwqs: KVec<u32>,
}

impl UserHook for Hook {
    fn fire(&self, _vector: u32) {
        let d = self.set.data();
        for &q in self.hwqs.iter() {
            d.reap(&self.set, q);
        }
    }
}

fn doorbells(
    adapter: &Arc<Adapter>,
    node: u32,
    ctrl: u32,
    r: &proto::AttachReply,
) -> Result<Doorbells> {
    if node == local_node() {
        return Ok(Doorbells::Local(crate::manager::local_doorbells(ctrl)?));
    }
    let slot = 1u64 << adapter.info().slot_shift;
    let count = u32::try_from(u64::from(r.db_len).div_ceil(slot)).map_err(|_| EINVAL)?;
    let range = LutRange::alloc(adapter, count.max(1))?;
    for i in 0..count.max(1) {
        range.map_memory(i, node, r.db_window, u64::from(i) * slot)?;
    }
    Ok(Doorbells::Remote(range.into_cpu()?))
}

/// The queue pairs of an attachment, allocated (not created yet).
fn queues(r: &proto::AttachReply) -> Result<KVec<Arc<IoQueue>>> {
    let mut qs = KVec::new();
    for q in (1..=64u16).filter(|q| r.qids & (1 << (q - 1)) != 0) {
        let io = IoQueue::new(q, r.dstrd)?;
        if !io.below(r.dma_span) {
            pr_err!("this node's memory lies beyond what the controller reaches\n");
            return Err(EOPNOTSUPP);
        }
        qs.push(io, GFP_KERNEL)?;
    }
    Ok(qs)
}

/// Attaches to controller `a.ctrl` of node `a.node` (`NVME_IOC_ATTACH`).
pub(crate) fn attach(a: &mut NvmeAttach) -> Result {
    let flags = a.header.flags;
    if flags & !NVME_ATTACH_RO != 0
        || a.qpairs > NVME_MAX_CLIENT_QPAIRS
        || a.ctrl >> 16 != a.node
        || a.attach != 0
        || a.granted != 0
        || a.disks != 0
        || a.reserved != 0
    {
        return Err(EINVAL);
    }
    let me = local_node();
    if a.node != me && api::up_nodes()? & (1 << a.node.min(31)) == 0 {
        return Err(EHOSTUNREACH);
    }
    let adapter = rsio_ntb::adapter::adapters()?
        .into_iter()
        .next()
        .ok_or(EOPNOTSUPP)?;
    let _ops = OPS.lock();
    attach_locked(&adapter, a)
}

/// [`attach`] with `OPS` held.
fn attach_locked(adapter: &Arc<Adapter>, a: &mut NvmeAttach) -> Result {
    let flags = a.header.flags;
    if ATTACHED.lock().iter().any(|x| x.ctrl == a.ctrl) {
        return Err(EBUSY);
    }
    let req = proto::AttachReq {
        ctrl: a.ctrl,
        qpairs: a.qpairs,
        flags: if flags & NVME_ATTACH_RO != 0 {
            proto::ATTACH_RO
        } else {
            0
        },
    };
    let rep = call(a.node, proto::ATTACH, &req.encode())?;
    let r = proto::AttachReply::decode(&rep).map_err(|_| EPROTO)?;
    let detach = proto::Ref {
        ctrl: a.ctrl,
        attach: r.attach,
    };
    match build(adapter, a, &r) {
        Ok(x) => {
            a.attach = r.attach;
            a.granted = r.granted;
            a.disks = x.disks.len() as u32;
            pr_info!(
                "attached to controller {:#x} of node {}: {} queue pairs, {} disks\n",
                a.ctrl,
                a.node,
                r.granted,
                x.disks.len()
            );
            ATTACHED.lock().push(x, GFP_KERNEL)?;
            Ok(())
        }
        Err(e) => {
            // The manager deletes whatever was created.
            let _ = call(a.node, proto::DETACH, &detach.encode());
            Err(e)
        }
    }
}

/// Has the controller create the queue pairs of `driver` (generation
/// `driver.gen`).
fn create_queues(node: u32, ctrl: u32, attach: u32, driver: &Driver) -> Result {
    let gen = driver.gen.load(Relaxed);
    for q in driver.queues.iter() {
        let (sq, cq) = q.addrs();
        let m = proto::CreateQpair {
            ctrl,
            attach,
            gen,
            qid: q.qid,
            vector: q.vector.load(Relaxed) as u16,
            sq_entries: SQ_ENTRIES.into(),
            cq_entries: CQ_ENTRIES.into(),
            sq_addr: sq,
            cq_addr: cq,
        };
        call(node, proto::CREATE_QPAIR, &m.encode())?;
    }
    Ok(())
}

/// How the driver tells the manager `node` about a command of attachment
/// `attach` that timed out: `ABORT` (a request) or `CLIENT_HUNG` (an
/// event), with queue id, command id and generation.
type Report = dyn Fn(u16, u16, u16, u32) -> Result + Send + Sync;

fn reporter(node: u32, ctrl: u32, attach: u32) -> Result<KBox<Report>> {
    let report = move |mtype: u16, qid: u16, cid: u16, gen: u32| -> Result {
        if mtype == proto::CLIENT_HUNG {
            let h = proto::Hung {
                ctrl,
                attach,
                gen,
                qid,
                cid,
            };
            if node == local_node() {
                return crate::manager::hung(node, &h.encode());
            }
            return api::send_event(node, proto::CLIENT_HUNG, &h.encode());
        }
        let m = proto::QpairRef {
            ctrl,
            attach,
            gen,
            qid,
            cid,
        };
        call(node, mtype, &m.encode()).map(|_| ())
    };
    Ok(KBox::new(report, GFP_KERNEL)?)
}

/// Up to `MAX_VECTORS` remote-interrupt vectors for the queues of `set`,
/// the queues spread over them.
fn claim_vectors(adapter: &Arc<Adapter>, set: &Arc<TagSet<Driver>>) -> Result<KVec<UserVector>> {
    let nq = set.hw_queues();
    let nv = (nq as usize)
        .min(MAX_VECTORS)
        .min(adapter.free_user_vectors() as usize)
        .max(1);
    let mut vectors = KVec::new();
    for v in 0..nv {
        let mut hwqs = KVec::new();
        for q in (0..nq).filter(|q| *q as usize % nv == v) {
            hwqs.push(q, GFP_KERNEL)?;
        }
        let hook: Arc<dyn UserHook> = Arc::new(
            Hook {
                set: set.clone(),
                hwqs,
            },
            GFP_KERNEL,
        )?;
        vectors.push(UserVector::claim(adapter, hook)?, GFP_KERNEL)?;
    }
    Ok(vectors)
}

/// Everything of an attachment the manager granted in `r`.
fn build(adapter: &Arc<Adapter>, a: &NvmeAttach, r: &proto::AttachReply) -> Result<Attached> {
    let db = doorbells(adapter, a.node, a.ctrl, r)?;
    let qs = queues(r)?;
    let (node, ctrl, attach, gen) = (a.node, a.ctrl, r.attach, r.gen);
    let report = reporter(node, ctrl, attach)?;
    let driver = Arc::new(
        Driver {
            queues: qs,
            db,
            dma_base: r.dma_base,
            dma_span: r.dma_span,
            write_zeroes: r.oncs & (1 << 3) != 0,
            sgl: r.sgls & 3 != 0 && crate::module_parameters::use_sgl.value(),
            discard: r.oncs & (1 << 2) != 0,
            dead: Atomic::new(0),
            resetting: Atomic::new(0),
            reset_since: Atomic::new(0),
            gen: Atomic::new(gen),
            report,
        },
        GFP_KERNEL,
    )?;
    let nq = driver.queues.len() as u32;
    let set = TagSet::new(driver.clone(), nq, DEPTH, MAX_SEGMENTS, IO_TIMEOUT_MS)?;
    let vectors = claim_vectors(adapter, &set)?;
    let nv = vectors.len();
    for (i, q) in driver.queues.iter().enumerate() {
        q.vector
            .store(vectors.get(i % nv).ok_or(EINVAL)?.vector(), Relaxed);
    }
    create_queues(node, ctrl, attach, &driver)?;
    let mut x = Attached {
        want: *a,
        node,
        ctrl,
        attach,
        qids: r.qids,
        vectors,
        disks: KVec::new(),
        ns: KVec::new(),
        set,
        info: PEERS
            .lock()
            .iter()
            .find(|(_, p)| p.ctrl == ctrl)
            .map(|(_, p)| *p),
    };
    add_disks(&mut x, a.nsid, r)?;
    if a.nsid != 0 && x.disks.is_empty() {
        return Err(ENOENT);
    }
    Ok(x)
}

/// Asks for every namespace and makes a disk of each this node may use
/// (only `want` if non-zero: `EACCES` if this node may not).
fn add_disks(x: &mut Attached, want: u32, r: &proto::AttachReply) -> Result {
    for index in 0..NVME_MAX_NAMESPACES {
        let q = proto::NsInfoReq {
            ctrl: x.ctrl,
            attach: x.attach,
            index,
        };
        let info = match call(x.node, proto::NS_INFO, &q.encode()) {
            Ok(b) => proto::NsInfo::decode(&b).map_err(|_| EPROTO)?,
            Err(e) if e == ENOENT => break,
            Err(e) => return Err(e),
        };
        x.ns.push(info, GFP_KERNEL)?;
        if want != 0 && info.nsid != want {
            continue;
        }
        if info.access == NVME_ACCESS_NONE {
            if want != 0 {
                return Err(EACCES);
            }
            continue;
        }
        let lbads = info.lbads;
        let max_bytes = match r.max_transfer {
            0 => (MAX_LIST as u32) * 4096,
            m => m.min(MAX_LIST as u32 * 4096),
        };
        let p = DiskParams {
            logical_block_size: 1 << lbads,
            capacity_sectors: info.nsze << (lbads - 9),
            max_hw_sectors: max_bytes >> 9,
            max_segments: MAX_SEGMENTS as u16,
            virt_boundary_mask: 4095,
            dma_alignment: 3,
            max_discard_sectors: if r.oncs & (1 << 2) != 0 {
                0xffff << (lbads - 9)
            } else {
                0
            },
            max_write_zeroes_sectors: if r.oncs & (1 << 3) != 0 {
                0xffff << (lbads - 9)
            } else {
                0
            },
            write_cache: r.vwc & 1 != 0,
            fua: true,
            read_only: info.access == NVME_ACCESS_RO,
        };
        let mut name = [0u8; 31];
        let len = {
            let mut w = kernel::str::Formatter::new(&mut name);
            let _ = core::fmt::Write::write_fmt(
                &mut w,
                format_args!("rsio_nvme{}_{}n{}", x.node, x.ctrl & 0xffff, info.nsid),
            );
            w.bytes_written()
        };
        let data = Arc::new(
            NsDisk {
                nsid: info.nsid,
                lbads,
                ro: info.access == NVME_ACCESS_RO,
            },
            GFP_KERNEL,
        )?;
        let disk = Disk::new(&x.set, &p, name.get(..len).ok_or(EINVAL)?, data)?;
        x.disks.push(Arc::new(disk, GFP_KERNEL)?, GFP_KERNEL)?;
    }
    Ok(())
}

/// Detaches from controller `a.ctrl` (`NVME_IOC_DETACH`).
pub(crate) fn detach(a: &NvmeAttach) -> Result {
    let force = a.header.flags & NVME_DETACH_FORCE != 0;
    if a.header.flags & !NVME_DETACH_FORCE != 0
        || a.qpairs != 0
        || a.nsid != 0
        || a.attach != 0
        || a.granted != 0
        || a.disks != 0
        || a.reserved != 0
    {
        return Err(EINVAL);
    }
    let _ops = OPS.lock();
    let x = {
        let mut all = ATTACHED.lock();
        let i = all
            .iter()
            .position(|x| x.ctrl == a.ctrl && x.node == a.node)
            .ok_or(ENOENT)?;
        if !force && all[i].disks.iter().any(|d| d.openers() > 0) {
            return Err(EBUSY);
        }
        if all[i].set.data().resetting.load(Relaxed) != 0 {
            // Its requests wait for the queues the worker re-creates
            // (under `OPS`): retry once the reset is over.
            return Err(EAGAIN);
        }
        all.remove(i)?
    };
    teardown(x, force);
    Ok(())
}

/// Ends attachment `x`. Not forced: the disks go first (their I/O
/// drains), then the queues. Forced: new I/O fails, the manager deletes
/// the queues (the controller finishes or aborts what it holds), what is
/// left fails, then the disks go. The queues' memory is freed only once
/// the controller cannot use it any more: the manager confirmed the
/// deletion, or it (or the controller) is gone; else it is kept.
fn teardown(mut x: Attached, force: bool) {
    let driver = x.set.data().clone();
    let gone = driver.is_dead();
    if force || gone {
        driver.kill(&x.set);
        for d in x.disks.iter() {
            d.mark_dead();
        }
    } else {
        x.disks.clear();
    }
    let r = proto::Ref {
        ctrl: x.ctrl,
        attach: x.attach,
    };
    // A manager that is gone is still told if it can be (its qids).
    let acked = match call(x.node, proto::DETACH, &r.encode()) {
        Ok(_) => true,
        Err(e) => {
            if !gone {
                pr_warn!(
                    "controller {:#x}: detach not acknowledged: {:?}\n",
                    x.ctrl,
                    e
                );
            }
            gone
        }
    };
    for hwq in 0..x.set.hw_queues() {
        driver.reap(&x.set, hwq);
    }
    driver.fail_all(&x.set);
    x.vectors.clear();
    x.disks.clear();
    if !acked {
        keep(x.node, x.set.clone());
    }
    pr_info!(
        "detached from controller {:#x} of node {}\n",
        x.ctrl,
        x.node
    );
}

rsio_kernel::global_lock! {
    /// Queue memory of attachments whose deletion the manager did not
    /// confirm while alive: the controller may still write it.
    static KEPT: Mutex<KVec<(u32, Arc<TagSet<Driver>>)>> = KVec::new();
}

/// Keeps `set`'s queue memory (see [`KEPT`]).
fn keep(node: u32, set: Arc<TagSet<Driver>>) {
    let kib = set.data().queues.len() * (2 + DEPTH as usize) * 4;
    pr_warn!(
        "node {}'s controller may still use {} KiB of queue memory: kept\n",
        node,
        kib
    );
    if KEPT.lock().push((node, set), GFP_KERNEL).is_err() {
        pr_err!("out of memory: queue memory leaked\n");
    }
}

/// Frees kept queue memory of `node` (its manager went away), or all of
/// it whose manager is not up (`None`: module unload; the rest leaks).
fn release_kept(node: Option<u32>) {
    let up = api::up_nodes().unwrap_or(0);
    let mut kept = KEPT.lock();
    kept.retain(|(n, _)| match node {
        Some(m) => *n != m,
        None => up & (1 << (*n).min(31)) != 0,
    });
    if node.is_none() {
        for (_, set) in core::mem::take(&mut *kept) {
            core::mem::forget(set);
        }
    }
}

/// The manager of this node's attachments to `node`'s controllers is gone,
/// or controller `ctrl` (0: all of `node`'s) is: their I/O fails from now
/// on; the disks stay until detached.
fn mark_dead(node: u32, ctrl: u32) {
    let all = ATTACHED.lock();
    for x in all
        .iter()
        .filter(|x| x.node == node && (ctrl == 0 || x.ctrl == ctrl))
    {
        let d = x.set.data();
        if !d.is_dead() {
            pr_warn!(
                "controller {:#x} of node {} is gone: its disks fail I/O\n",
                x.ctrl,
                x.node
            );
        }
        d.kill(&x.set);
    }
}

/// `CTRL_RESET` or `CTRL_READY` of controller `e.ctrl` of `node` (from
/// the fabric, or this node's manager directly).
pub(crate) fn ctrl_event(node: u32, mtype: u16, e: &proto::CtrlEvent) {
    let all = ATTACHED.lock();
    let Some(x) = all.iter().find(|x| x.node == node && x.ctrl == e.ctrl) else {
        return;
    };
    let d = x.set.data();
    if mtype == proto::CTRL_RESET {
        // Requests wait (`queue_rq` answers "busy") until the queues are
        // back: the controller drops them.
        d.resetting.store(1, Relaxed);
        d.reset_since.store(rsio_kernel::system::now_ms(), Relaxed);
    } else if d.resetting.load(Relaxed) != 0 {
        crate::worker::push(crate::worker::Work::Recreate {
            node,
            ctrl: e.ctrl,
            gen: e.value,
        });
    }
}

/// Re-creates this node's queues of controller `ctrl` after its reset
/// (the worker thread): the disks stop issuing, completions posted before
/// the reset are taken, everything else in flight is requeued, the rings
/// start empty in generation `gen`, and the disks issue again. If that
/// fails the attachment is dead.
pub(crate) fn recreate(node: u32, ctrl: u32, gen: u32) {
    let _ops = OPS.lock();
    let mut disks = KVec::new();
    let (set, attach) = {
        let all = ATTACHED.lock();
        let Some(x) = all.iter().find(|x| x.node == node && x.ctrl == ctrl) else {
            return;
        };
        for d in x.disks.iter() {
            if disks.push(d.clone(), GFP_KERNEL).is_err() {
                return;
            }
        }
        (x.set.clone(), x.attach)
    };
    let d = set.data();
    if d.is_dead() {
        return;
    }
    for disk in disks.iter() {
        disk.quiesce();
    }
    for hwq in 0..set.hw_queues() {
        d.reap(&set, hwq);
    }
    d.requeue_all(&set);
    for q in d.queues.iter() {
        q.reset();
    }
    d.gen.store(gen, Relaxed);
    match create_queues(node, ctrl, attach, d) {
        Ok(()) => {
            d.resetting.store(0, Relaxed);
            pr_info!(
                "controller {:#x}: queues re-created (generation {})\n",
                ctrl,
                gen
            );
        }
        Err(e) => {
            pr_err!("controller {:#x}: queues not re-created: {:?}\n", ctrl, e);
            d.dead.store(1, Relaxed);
            d.fail_all(&set);
        }
    }
    for disk in disks.iter() {
        disk.unquiesce();
    }
}

/// The manager of dead attachment `ctrl` is back (the worker thread):
/// the old disks go and the attachment is made again as it was asked for
/// (new queues, disks with the same names).
pub(crate) fn reattach(node: u32, ctrl: u32) {
    let _ops = OPS.lock();
    let old = {
        let mut all = ATTACHED.lock();
        let Some(i) = all
            .iter()
            .position(|x| x.node == node && x.ctrl == ctrl && x.set.data().is_dead())
        else {
            return;
        };
        all.remove(i).ok()
    };
    let Some(old) = old else {
        return;
    };
    let mut want = old.want;
    teardown(old, true);
    let Some(adapter) = rsio_ntb::adapter::adapters()
        .ok()
        .and_then(|a| a.into_iter().next())
    else {
        return;
    };
    match attach_locked(&adapter, &mut want) {
        Ok(()) => pr_info!(
            "controller {:#x} of node {} is back: re-attached\n",
            ctrl,
            node
        ),
        Err(e) => pr_warn!(
            "controller {:#x} of node {} is back, re-attaching failed: {:?}\n",
            ctrl,
            node,
            e
        ),
    }
}

/// Attachments whose controller did not come back from a reset within
/// the bound are dead (the worker thread, once a second).
pub(crate) fn check_all() {
    let now = rsio_kernel::system::now_ms();
    let all = ATTACHED.lock();
    for x in all.iter() {
        let d = x.set.data();
        if d.resetting.load(Relaxed) != 0
            && now.saturating_sub(d.reset_since.load(Relaxed)) > RESET_BOUND_MS
            && d.dead.xchg(1, Relaxed) == 0
        {
            pr_err!(
                "controller {:#x} did not come back from its reset: its disks fail I/O\n",
                x.ctrl
            );
            d.fail_all(&x.set);
        }
    }
}

/// Controller event `mtype` of this node's own manager, delivered by the
/// worker thread.
pub(crate) fn local_event(mtype: u16, ctrl: u32, value: u32) {
    let me = local_node();
    if mtype == proto::CTRL_GONE {
        ctrl_gone(me, ctrl);
    } else {
        ctrl_event(me, mtype, &proto::CtrlEvent { ctrl, value });
    }
}

/// Controller `ctrl` of this node was unshared.
pub(crate) fn ctrl_gone(node: u32, ctrl: u32) {
    mark_dead(node, ctrl);
}

/// Node `node` went away.
pub(crate) fn peer_down(node: u32) {
    mark_dead(node, 0);
    release_kept(Some(node));
    PEERS.lock().retain(|(n, _)| *n != node);
}

/// An event from `node`.
pub(crate) fn event(node: u32, mtype: u16, payload: &[u8]) -> Result {
    match mtype {
        proto::CTRL_ANNOUNCE => {
            let a = Announce::decode(payload).map_err(|_| EPROTO)?;
            if a.ctrl >> 16 != node {
                return Err(EPROTO);
            }
            {
                let mut p = PEERS.lock();
                p.retain(|(_, x)| x.ctrl != a.ctrl);
                if p.len() >= MAX_PEER_CTRLS {
                    return Err(ENOSPC);
                }
                p.push((node, a), GFP_KERNEL)?;
            }
            // The manager of a dead attachment is back with the same drive.
            let back = ATTACHED.lock().iter().any(|x| {
                x.ctrl == a.ctrl
                    && x.set.data().is_dead()
                    && x.info
                        .is_some_and(|i| i.serial == a.serial && i.model == a.model)
            });
            if back && a.state == proto::STATE_READY {
                crate::worker::push(crate::worker::Work::Reattach { node, ctrl: a.ctrl });
            }
            Ok(())
        }
        proto::CTRL_RESET | proto::CTRL_READY => {
            let e = proto::CtrlEvent::decode(payload).map_err(|_| EPROTO)?;
            if e.ctrl >> 16 != node {
                return Err(EPROTO);
            }
            ctrl_event(node, mtype, &e);
            Ok(())
        }

        proto::CTRL_GONE => {
            let e = proto::CtrlEvent::decode(payload).map_err(|_| EPROTO)?;
            if e.ctrl >> 16 != node {
                return Err(EPROTO);
            }
            PEERS.lock().retain(|(_, x)| x.ctrl != e.ctrl);
            mark_dead(node, e.ctrl);
            Ok(())
        }
        _ => Err(EOPNOTSUPP),
    }
}

/// Detaches everything (module unload).
pub(crate) fn shutdown() {
    let all = core::mem::take(&mut *ATTACHED.lock());
    for x in all {
        teardown(x, true);
    }
    *ATTACHED.lock() = KVec::new();
    *PEERS.lock() = KVec::new();
    release_kept(None);
}

/// `NVME_IOC_LIST` entries of peers' controllers: those announced, and
/// those this node is attached to whose manager is gone.
pub(crate) fn list(out: &mut KVec<NvmeCtrlEntry>) -> Result {
    let attached = ATTACHED.lock();
    let peers = PEERS.lock();
    for (node, a) in peers.iter() {
        let mut e = crate::manager::entry_of(*node, a);
        if let Some(x) = attached.iter().find(|x| x.ctrl == a.ctrl) {
            e.flags |= NVME_CTRL_ATTACHED_HERE;
            e.clients = 1;
            if x.set.data().is_dead() {
                e.state = NVME_CTRL_GONE;
            }
        }
        out.push(e, GFP_KERNEL)?;
    }
    let me = local_node();
    for x in attached.iter() {
        if x.node == me || peers.iter().any(|(_, p)| p.ctrl == x.ctrl) {
            continue;
        }
        let mut e = match &x.info {
            Some(a) => crate::manager::entry_of(x.node, a),
            None => NvmeCtrlEntry {
                node: x.node,
                ctrl: x.ctrl,
                ..crate::manager::entry_of(x.node, &EMPTY)
            },
        };
        e.state = NVME_CTRL_GONE;
        e.flags |= NVME_CTRL_ATTACHED_HERE;
        e.clients = 1;
        out.push(e, GFP_KERNEL)?;
    }
    Ok(())
}

/// An announcement with nothing in it.
const EMPTY: Announce = Announce {
    ctrl: 0,
    gen: 0,
    state: 0,
    flags: 0,
    nn: 0,
    qpairs_total: 0,
    qpairs_free: 0,
    quota: 0,
    domain: 0,
    bus: 0,
    devfn: 0,
    serial: [0; 20],
    model: [0; 40],
};

/// `NVME_IOC_LIST_NS`: namespaces of attached peers' controllers, and this
/// node's disk names on every entry.
pub(crate) fn list_ns(out: &mut KVec<NvmeNsEntry>) -> Result {
    let attached = ATTACHED.lock();
    for x in attached.iter().filter(|x| x.node != local_node()) {
        for n in x.ns.iter() {
            out.push(
                NvmeNsEntry {
                    ctrl: x.ctrl,
                    nsid: n.nsid,
                    nsze: n.nsze,
                    lbads: n.lbads,
                    policy: n.policy,
                    policy_node: n.policy_node,
                    policy_flags: n.policy_flags,
                    access: n.access,
                    reserved: 0,
                    disk: [0; NVME_DISK_NAME_LEN],
                },
                GFP_KERNEL,
            )?;
        }
    }
    for e in out.iter_mut() {
        let Some(x) = attached.iter().find(|x| x.ctrl == e.ctrl) else {
            continue;
        };
        for d in x.disks.iter() {
            let name = d.name();
            let suffix_ok = {
                let mut buf = [0u8; 16];
                let mut w = kernel::str::Formatter::new(&mut buf);
                let _ = core::fmt::Write::write_fmt(&mut w, format_args!("n{}", e.nsid));
                let n = w.bytes_written();
                buf.get(..n).is_some_and(|s| name.ends_with(s))
            };
            if suffix_ok {
                let n = name.len().min(NVME_DISK_NAME_LEN - 1);
                e.disk[..n].copy_from_slice(&name[..n]);
            }
        }
    }
    Ok(())
}

/// `NVME_IOC_LIST_CLIENTS`: this node's attachments to peers' controllers.
pub(crate) fn list_clients(out: &mut KVec<NvmeClientEntry>) -> Result {
    let me = local_node();
    for x in ATTACHED.lock().iter().filter(|x| x.node != me) {
        let d = x.set.data();
        let completed = d.queues.iter().map(|q| q.completed.load(Relaxed)).sum();
        let bad = d.queues.iter().map(|q| q.bad_cqes.load(Relaxed)).sum();
        out.push(
            NvmeClientEntry {
                ctrl: x.ctrl,
                client: me,
                attach: x.attach,
                qpairs: x.qids.count_ones(),
                qids: x.qids,
                created: if d.is_dead() { 0 } else { x.qids.count_ones() },
                vectors: x.vectors.len() as u32,
                completed,
                bad_cqes: bad,
                reserved: 0,
            },
            GFP_KERNEL,
        )?;
    }
    // The manager lists this node's own attachments; add what only the
    // client knows.
    for e in out.iter_mut().filter(|e| e.client == me) {
        if let Some(x) = ATTACHED.lock().iter().find(|x| x.ctrl == e.ctrl) {
            let d = x.set.data();
            e.completed = d.queues.iter().map(|q| q.completed.load(Relaxed)).sum();
            e.bad_cqes = d.queues.iter().map(|q| q.bad_cqes.load(Relaxed)).sum();
            e.vectors = x.vectors.len() as u32;
        }
    }
    Ok(())
}
