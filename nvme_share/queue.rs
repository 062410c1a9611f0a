// SPDX-License-Identifier: GPL-2.0

//! A client's I/O queue pair: the SQ, the CQ and one PRP page per tag in
//! this node's RAM (the controller reaches them at `dma_base + phys`), and
//! the doorbells it rings through the fabric (or, on the manager's node,
//! directly).

use crate::logic::nvme::{self, CqCursor, Cqe, LazyHead, SqRing, Sqe};
use core::sync::atomic::{fence, Ordering};
use kernel::new_spinlock_irq;
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::sync::{Arc, SpinLockIrq};
use rsio_kernel::io_mem::IoMem;
use rsio_kernel::phys_pages::PhysPages;
use rsio_ntb::lut::{LutMapping, LutRange};

/// SQ entries (one page).
pub(crate) const SQ_ENTRIES: u16 = 64;
/// CQ entries: twice the SQ's, so the head doorbell can be lazy.
pub(crate) const CQ_ENTRIES: u16 = 128;
/// Requests in flight per queue (an SQ holds one fewer than its size).
pub(crate) const DEPTH: u32 = SQ_ENTRIES as u32 - 1;
/// Consumed CQ entries after which the head doorbell is written: with
/// at most `DEPTH` in flight and fewer than this unacknowledged, the
/// controller never finds the CQ full.
const LAZY_HEAD: u16 = 64;

/// Where the doorbells are rung.
pub(crate) enum Doorbells {
    /// The manager's node: the controller's BAR, mapped here.
    Local(IoMem),
    /// Another node: LUT slots onto the manager's doorbell window.
    Remote(LutMapping<LutRange>),
}

impl Doorbells {
    /// Writes doorbell register `off` (from the doorbell base, 0x1000).
    pub(crate) fn ring(&self, off: usize, v: u32) {
        match self {
            Doorbells::Local(m) => m.write32(off, v),
            Doorbells::Remote(m) => {
                // A refused write (the link fell) shows up as a timeout.
                let _ = m.write32(off, v);
            }
        }
    }
}

/// The ring state, under the queue's lock.
struct Ring {
    sq: SqRing,
    cq: CqCursor,
    lazy: LazyHead,
}

/// An I/O queue pair.
#[pin_data]
pub(crate) struct IoQueue {
    pub(crate) qid: u16,
    sq: PhysPages,
    cq: PhysPages,
    /// One page per tag: its PRP list or DSM range.
    prp: KVec<PhysPages>,
    sq_db: usize,
    cq_db: usize,
    #[pin]
    ring: SpinLockIrq<Ring>,
    pub(crate) completed: Atomic<u64>,
    pub(crate) bad_cqes: Atomic<u32>,
    /// The remote-interrupt vector `USER(k)` its CQ raises.
    pub(crate) vector: Atomic<u32>,
}

impl IoQueue {
    /// Allocates queue pair `qid` (doorbell stride `dstrd`).
    pub(crate) fn new(qid: u16, dstrd: u32) -> Result<Arc<Self>> {
        let sq = PhysPages::alloc(0)?;
        let cq = PhysPages::alloc(0)?;
        let mut prp = KVec::new();
        for _ in 0..DEPTH {
            prp.push(PhysPages::alloc(0)?, GFP_KERNEL)?;
        }
        let base = nvme::DOORBELL_BASE;
        let sq_db = nvme::sq_tail_doorbell(qid, dstrd) - base;
        let cq_db = nvme::cq_head_doorbell(qid, dstrd) - base;
        Arc::pin_init(
            pin_init!(Self {
                qid,
                sq,
                cq,
                prp,
                sq_db,
                cq_db,
                ring <- new_spinlock_irq!(Ring {
                    sq: SqRing::new(SQ_ENTRIES),
                    cq: CqCursor::new(CQ_ENTRIES),
                    lazy: LazyHead::new(LAZY_HEAD),
                }, "rsio_nvme_queue"),
                completed: Atomic::new(0),
                bad_cqes: Atomic::new(0),
                vector: Atomic::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// Physical addresses of the SQ and the CQ.
    pub(crate) fn addrs(&self) -> (u64, u64) {
        (self.sq.phys(), self.cq.phys())
    }

    /// Every byte of memory the controller may reach lies below `span`.
    pub(crate) fn below(&self, span: u64) -> bool {
        let end = |p: &PhysPages| p.phys().saturating_add(p.len() as u64) <= span;
        end(&self.sq) && end(&self.cq) && self.prp.iter().all(end)
    }

    /// The page of tag `tag` (PRP list, DSM range).
    pub(crate) fn tag_page(&self, tag: u32) -> Option<&PhysPages> {
        self.prp.get(tag as usize)
    }

    /// Waits for a `submit` or `ring_tail` running now to end.
    pub(crate) fn barrier(&self) {
        drop(self.ring.lock());
    }

    /// Empties the rings, for queues the controller dropped in a reset
    /// (it no longer writes them).
    pub(crate) fn reset(&self) {
        let mut r = self.ring.lock();
        self.sq.zero();
        self.cq.zero();
        r.sq = SqRing::new(SQ_ENTRIES);
        r.cq = CqCursor::new(CQ_ENTRIES);
        r.lazy = LazyHead::new(LAZY_HEAD);
    }

    /// Puts `sqe` in the SQ; rings the tail doorbell if `ring` (else a
    /// later [`IoQueue::ring_tail`] does); `arm` runs first, once the
    /// command is sure to go in. `false`: the SQ is full, or `dead` (the
    /// controller is gone: nothing is rung after [`IoQueue::barrier`]).
    pub(crate) fn submit(
        &self,
        db: &Doorbells,
        sqe: &Sqe,
        ring: bool,
        dead: &Atomic<u32>,
        arm: impl FnOnce(),
    ) -> bool {
        let mut r = self.ring.lock();
        if dead.load(Relaxed) != 0 {
            return false;
        }
        let Some(slot) = r.sq.push() else {
            return false;
        };
        arm();
        let _ = self.sq.write_words(usize::from(slot) * nvme::SQE_SIZE, sqe);
        if ring {
            // The entry is in memory before the controller hears of it.
            fence(Ordering::Release);
            db.ring(self.sq_db, r.sq.tail.into());
        }
        true
    }

    /// Rings the SQ tail doorbell (not once `dead`).
    pub(crate) fn ring_tail(&self, db: &Doorbells, dead: &Atomic<u32>) {
        let r = self.ring.lock();
        if dead.load(Relaxed) != 0 {
            return;
        }
        fence(Ordering::Release);
        db.ring(self.sq_db, r.sq.tail.into());
    }

    /// Takes the new completion entries, calling `f` with each (under the
    /// queue's lock: `f` must not sleep).
    pub(crate) fn reap(&self, db: &Doorbells, mut f: impl FnMut(&Cqe)) {
        let mut r = self.ring.lock();
        loop {
            let off = usize::from(r.cq.head) * nvme::CQE_SIZE;
            let Ok(dw3) = self.cq.read32(off + 12) else {
                break;
            };
            if !r.cq.is_new(dw3 & (1 << 16) != 0) {
                break;
            }
            // The entry's other words are read after its phase.
            fence(Ordering::Acquire);
            let dw = [
                self.cq.read32(off).unwrap_or(0),
                self.cq.read32(off + 4).unwrap_or(0),
                self.cq.read32(off + 8).unwrap_or(0),
                dw3,
            ];
            let c = Cqe::parse(dw);
            r.cq.advance();
            if c.sqid != self.qid || !r.sq.set_head(c.sq_head) {
                self.bad_cqes.fetch_add(1, Relaxed);
            } else {
                f(&c);
            }
            if r.lazy.consumed() {
                db.ring(self.cq_db, r.cq.head.into());
            }
        }
    }
}
