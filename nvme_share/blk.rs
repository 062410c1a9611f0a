// SPDX-License-Identifier: GPL-2.0

//! The client's block driver: requests become NVMe commands in this
//! node's queue pairs; completions arrive as remote interrupts.

use crate::logic::nvme::{self, Dptr, Outcome};
use crate::logic::prp;
use crate::queue::{Doorbells, IoQueue};
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::sync::Arc;
use rsio_kernel::blk_mq::{BlkOps, Op, Request, Status, TagSet, TimeoutAction};

/// Pages after a request's first (PRP list entries): 256 KiB requests.
pub(crate) const MAX_LIST: usize = 64;
/// Retries of a transient error (aborted, data transfer, internal)
/// before the request fails.
const MAX_RETRIES: u32 = 5;
/// Timeouts of one issue of a request before it fails.
const MAX_TIMEOUTS: u32 = 5;
/// Physical segments of a request.
pub(crate) const MAX_SEGMENTS: u32 = MAX_LIST as u32 + 1;

/// What the driver keeps in each request.
pub(crate) struct ReqData {
    /// The command id's generation of its latest issue (4 bits).
    gen: Atomic<u32>,
    /// Timeouts seen in this issue.
    timeouts: Atomic<u32>,
    /// Retries of transient errors since the request last ended.
    retries: Atomic<u32>,
}

impl Default for ReqData {
    fn default() -> Self {
        Self {
            gen: Atomic::new(0),
            timeouts: Atomic::new(0),
            retries: Atomic::new(0),
        }
    }
}

/// A namespace as one disk sees it.
pub(crate) struct NsDisk {
    pub(crate) nsid: u32,
    /// log2 of the logical block size.
    pub(crate) lbads: u32,
    pub(crate) ro: bool,
}

/// An attachment's queues, shared by its disks.
pub(crate) struct Driver {
    /// Hardware queue `i` is `queues[i]`.
    pub(crate) queues: KVec<Arc<IoQueue>>,
    pub(crate) db: Doorbells,
    /// Where the controller reaches this node's RAM.
    pub(crate) dma_base: u64,
    pub(crate) dma_span: u64,
    pub(crate) write_zeroes: bool,
    /// Data pointers are SGLs (the controller offers them, `use_sgl`), else
    /// PRPs.
    pub(crate) sgl: bool,
    pub(crate) discard: bool,
    /// The manager or the controller is gone: every request fails.
    pub(crate) dead: Atomic<u32>,
    /// The manager is resetting the controller: requests wait.
    pub(crate) resetting: Atomic<u32>,
    /// When the reset began (`system::now_ms`).
    pub(crate) reset_since: Atomic<u64>,
    /// The controller generation the queues were created in.
    pub(crate) gen: Atomic<u32>,
    /// Tells the manager about a command that timed out (`ABORT` request
    /// or `CLIENT_HUNG` event, with queue id, command id, generation).
    pub(crate) report: KBox<dyn Fn(u16, u16, u16, u32) -> Result + Send + Sync>,
}

impl Driver {
    fn queue(&self, hwq: u32) -> Option<&IoQueue> {
        self.queues.get(hwq as usize).map(|q| &**q)
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Relaxed) != 0
    }

    /// The data pointer of `rq`'s segments, its PRP list in `page`.
    fn dptr(
        &self,
        segs: &[(u64, u32)],
        page: &rsio_kernel::phys_pages::PhysPages,
    ) -> Result<Dptr, Status> {
        if segs
            .iter()
            .any(|&(a, l)| a.saturating_add(l.into()) > self.dma_span)
        {
            // RAM the controller cannot reach through the fabric.
            return Err(Status::IoError);
        }
        if self.sgl {
            return self.sgl(segs, page);
        }
        let mut list = [0u64; MAX_LIST];
        let p = prp::build(segs, &mut list, page.phys()).map_err(|_| Status::IoError)?;
        for (i, e) in list.iter().take(p.list_entries).enumerate() {
            page.write64(i * 8, e + self.dma_base)
                .map_err(|_| Status::IoError)?;
        }
        let prp2 = if p.prp2 == 0 {
            0
        } else {
            p.prp2 + self.dma_base
        };
        Ok(Dptr::Prp {
            prp1: p.prp1 + self.dma_base,
            prp2,
        })
    }

    /// The SGL of `rq`'s segments: one Data Block descriptor inline, or a
    /// Last Segment descriptor to a list of them in `page`.
    fn sgl(
        &self,
        segs: &[(u64, u32)],
        page: &rsio_kernel::phys_pages::PhysPages,
    ) -> Result<Dptr, Status> {
        let mut list = [[0u8; prp::SGL_DESC_SIZE]; MAX_SEGMENTS as usize];
        let d = prp::build_sgl(segs, &mut list, page.phys()).map_err(|_| Status::IoError)?;
        // Device addresses: this node's physical ones through the window.
        let moved = |d: &[u8; 16]| {
            prp::sgl_desc(
                prp::sgl_desc_type(d),
                prp::sgl_desc_addr(d) + self.dma_base,
                prp::sgl_desc_len(d),
            )
        };
        if segs.len() > 1 {
            for (i, e) in list.iter().take(segs.len()).enumerate() {
                page.write(i * prp::SGL_DESC_SIZE, &moved(e))
                    .map_err(|_| Status::IoError)?;
            }
        }
        Ok(Dptr::Sgl(moved(&d)))
    }

    fn command(
        &self,
        ns: &NsDisk,
        q: &IoQueue,
        rq: &Request<Self>,
        segs: &[(u64, u32)],
        cid: u16,
    ) -> Result<nvme::Sqe, Status> {
        let page = q.tag_page(rq.tag()).ok_or(Status::IoError)?;
        let shift = ns.lbads.saturating_sub(9);
        let slba = rq.sector() >> shift;
        let blocks = rq.bytes() >> ns.lbads;
        let nlb0 = |b: u32| u16::try_from(b.checked_sub(1)?).ok();
        match rq.op() {
            Op::Read | Op::Write => {
                let write = rq.op() == Op::Write;
                if write && ns.ro {
                    return Err(Status::IoError);
                }
                let n = nlb0(blocks).ok_or(Status::IoError)?;
                let d = self.dptr(segs, page)?;
                Ok(nvme::rw(write, cid, ns.nsid, slba, n, rq.fua(), d))
            }
            Op::Flush => Ok(nvme::flush(cid, ns.nsid)),
            Op::WriteZeroes if self.write_zeroes && !ns.ro => {
                let n = nlb0(blocks).ok_or(Status::IoError)?;
                Ok(nvme::write_zeroes(cid, ns.nsid, slba, n))
            }
            Op::Discard if self.discard && !ns.ro => {
                let r = nvme::dsm_range(slba, blocks);
                for (i, w) in r.chunks_exact(8).enumerate() {
                    let v = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
                    page.write64(i * 8, v).map_err(|_| Status::IoError)?;
                }
                Ok(nvme::dsm_deallocate(
                    cid,
                    ns.nsid,
                    0,
                    page.phys() + self.dma_base,
                ))
            }
            _ => Err(Status::NotSupported),
        }
    }

    /// Takes queue `hwq`'s completions and ends their requests.
    pub(crate) fn reap(&self, set: &TagSet<Self>, hwq: u32) {
        let Some(q) = self.queue(hwq) else {
            return;
        };
        q.reap(&self.db, |c| {
            let tag = u32::from(nvme::cid_tag(c.cid));
            let Some(rq) = set.in_flight(hwq, tag) else {
                q.bad_cqes.fetch_add(1, Relaxed);
                return;
            };
            if rq.data().gen.load(Relaxed) != u32::from(nvme::cid_gen(c.cid)) {
                q.bad_cqes.fetch_add(1, Relaxed);
                return;
            }
            q.completed.fetch_add(1, Relaxed);
            let d = rq.data();
            let status = match nvme::outcome(c.status) {
                Outcome::Ok => Status::Ok,
                // A bounded number of retries: the budget lasts across
                // the request's requeues and is renewed when it ends.
                Outcome::Retry if d.retries.fetch_add(1, Relaxed) < MAX_RETRIES => {
                    if !rq.try_requeue() {
                        q.bad_cqes.fetch_add(1, Relaxed);
                    }
                    return;
                }
                Outcome::Retry => Status::IoError,
                Outcome::Medium => Status::Medium,
                Outcome::NotSupported => Status::NotSupported,
                Outcome::IoError | Outcome::Aborted => Status::IoError,
            };
            d.retries.store(0, Relaxed);
            rq.try_complete(status);
        });
    }

    /// Requeues every request in flight (the controller dropped them in a
    /// reset).
    pub(crate) fn requeue_all(&self, set: &TagSet<Self>) {
        set.each_in_flight(|rq| {
            rq.try_requeue();
        });
    }

    /// Fails every request in flight (the controller can no longer
    /// complete them).
    pub(crate) fn fail_all(&self, set: &TagSet<Self>) {
        set.each_in_flight(|rq| {
            rq.data().retries.store(0, Relaxed);
            rq.try_complete(Status::IoError);
        });
    }

    /// The controller is gone: no request is issued or rung after this
    /// returns (each queue's lock is a barrier for `submit`), and those
    /// in flight fail.
    pub(crate) fn kill(&self, set: &TagSet<Self>) {
        self.dead.store(1, Relaxed);
        for q in self.queues.iter() {
            q.barrier();
        }
        self.fail_all(set);
    }
}

impl BlkOps for Driver {
    type RequestData = ReqData;
    type DiskData = NsDisk;

    fn queue_rq(
        &self,
        ns: &NsDisk,
        hwq: u32,
        rq: &Request<Self>,
        segs: &[(u64, u32)],
        last: bool,
    ) -> Status {
        let Some(q) = self.queue(hwq) else {
            return Status::IoError;
        };
        if self.is_dead() {
            return Status::IoError;
        }
        if self.resetting.load(Relaxed) != 0 {
            // Issued again once the queues are re-created.
            return Status::Resource;
        }
        let d = rq.data();
        let gen = (d.gen.load(Relaxed) + 1) & 0xf;
        d.gen.store(gen, Relaxed);
        d.timeouts.store(0, Relaxed);
        let cid = nvme::cid(gen as u8, rq.tag() as u16);
        let sqe = match self.command(ns, q, rq, segs, cid) {
            Ok(s) => s,
            Err(s) => return s,
        };
        if !q.submit(&self.db, &sqe, last, &self.dead, || rq.arm()) {
            // Full, or the controller is gone: the block layer retries
            // (and a dead driver fails it then).
            return Status::Resource;
        }
        Status::Ok
    }

    fn commit_rqs(&self, hwq: u32) {
        if let Some(q) = self.queue(hwq) {
            q.ring_tail(&self.db, &self.dead);
        }
    }

    fn timeout(&self, hwq: u32, rq: &Request<Self>) -> TimeoutAction {
        if self.is_dead() {
            rq.try_complete(Status::IoError);
            return TimeoutAction::Done;
        }
        let Some(q) = self.queue(hwq) else {
            rq.try_complete(Status::IoError);
            return TimeoutAction::Done;
        };
        if self.resetting.load(Relaxed) != 0 {
            return TimeoutAction::ResetTimer;
        }
        let d = rq.data();
        let cid = nvme::cid(d.gen.load(Relaxed) as u8, rq.tag() as u16);
        let gen = self.gen.load(Relaxed);
        let n = d.timeouts.fetch_add(1, Relaxed);
        let step = match n {
            // The abort completes the command (aborted: requeued).
            0 => Some((crate::logic::proto::ABORT, "aborting it")),
            // The manager resets the controller; the command is requeued
            // when the queues are re-created.
            1 => Some((crate::logic::proto::CLIENT_HUNG, "asking for a reset")),
            _ => None,
        };
        if let Some((mtype, what)) = step {
            pr_warn!("queue {}: command {:#x} timed out, {}\n", q.qid, cid, what);
            if let Err(e) = (self.report)(mtype, q.qid, cid, gen) {
                pr_warn!("queue {}: the manager was not told: {:?}\n", q.qid, e);
            }
            return TimeoutAction::ResetTimer;
        } else if n + 1 < MAX_TIMEOUTS {
            // The reset asked for is still to come.
            return TimeoutAction::ResetTimer;
        }
        pr_err!(
            "queue {}: command {:#x} timed out {} times: failed\n",
            q.qid,
            cid,
            n + 1
        );
        rq.try_complete(Status::Timeout);
        TimeoutAction::Done
    }
}
