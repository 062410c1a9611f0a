// SPDX-License-Identifier: GPL-2.0

//! [`Queue`]: a DMA queue's channel and the transfer it runs (see
//! `dma.rs`, which creates queues and starts and waits for transfers).
//!
//! A transfer is a list of descriptors; the ring takes what fits and each
//! [`Queue::poll`] feeds the rest as the engine advances (`DMA_TAIL`). A
//! transfer whose connection is lost (its flag, `conn_state.rs`) stops
//! feeding and fails once what went out has finished.

use crate::conn_state::{self, CONN_DEAD, CONN_OK, CONN_REVOKED};
use crate::memory::SegMemory;
use crate::sisci_abi as abi;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::atomic::Atomic;
use kernel::sync::{Arc, Mutex};
use kernel::time::{delay::fsleep, Delta, Instant, Monotonic};
use rsio_ntb::dma::{DmaChannel, RING_SIZE};

/// One descriptor to submit.
#[derive(Clone, Copy)]
pub(crate) struct Desc {
    pub(crate) src: u64,
    pub(crate) dst: u64,
    pub(crate) len: u32,
    /// The index of the transfer's entry it belongs to.
    pub(crate) entry: u32,
}

/// A transfer in flight.
struct Xfer {
    descs: KVec<Desc>,
    /// Descriptors submitted so far.
    next: usize,
    /// The sequence number of the first descriptor.
    seq0: u32,
    /// The connection it uses, and its state flag.
    conn: u32,
    lost: Arc<Atomic<u32>>,
    /// Stop feeding (teardown, or the engine refused a descriptor).
    abort: bool,
    /// Keeps the local memory while the engine may touch it.
    _mem: Arc<SegMemory>,
}

/// A queue's state.
struct QState {
    chan: Option<DmaChannel>,
    xfer: Option<Xfer>,
    state: u32,
    failed_entry: u32,
    error: u32,
}

/// A DMA queue.
#[pin_data]
pub(crate) struct Queue {
    #[pin]
    m: Mutex<QState>,
}

impl Queue {
    /// An idle queue on `chan`.
    pub(crate) fn new(chan: DmaChannel) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Queue {
                m <- new_mutex!(QState {
                    chan: Some(chan),
                    xfer: None,
                    state: abi::SISCI_DMA_IDLE,
                    failed_entry: 0,
                    error: 0,
                }, "rsio_sisci::Queue::m"),
            }),
            GFP_KERNEL,
        )
    }

    /// Stops the queue's transfer (waiting up to 2 s for what the engine
    /// has) and gives back its channel.
    pub(crate) fn close(&self) -> Option<DmaChannel> {
        let mut q = self.m.lock();
        drain(&mut q, 2000);
        q.xfer = None;
        q.chan.take()
    }

    /// Starts a transfer of `descs` between `mem` and connection `conn`
    /// (its state flag `lost`): `EBUSY` if one is running.
    pub(crate) fn start(
        &self,
        descs: KVec<Desc>,
        conn: u32,
        lost: Arc<Atomic<u32>>,
        mem: Arc<SegMemory>,
    ) -> Result {
        let mut qs = self.m.lock();
        if qs.xfer.is_some() || qs.state == abi::SISCI_DMA_POSTED {
            return Err(EBUSY);
        }
        let chan = qs.chan.as_ref().ok_or(ENODEV)?;
        let seq0 = chan.completed()?;
        qs.xfer = Some(Xfer {
            descs,
            next: 0,
            seq0,
            conn,
            lost,
            abort: false,
            _mem: mem,
        });
        qs.state = abi::SISCI_DMA_POSTED;
        progress(&mut qs);
        Ok(())
    }

    /// Feeds the transfer; if it ended, or `nonblock`, reports its state
    /// into `a` (an ended transfer's queue becomes idle) and returns true.
    pub(crate) fn poll(&self, nonblock: bool, a: &mut abi::SisciDmaWait) -> bool {
        let mut qs = self.m.lock();
        let ended = progress(&mut qs);
        if ended || nonblock {
            a.state = qs.state;
            a.failed_entry = qs.failed_entry;
            a.error = qs.error;
            if ended && qs.state != abi::SISCI_DMA_POSTED && qs.state != abi::SISCI_DMA_IDLE {
                qs.state = abi::SISCI_DMA_IDLE;
            }
            return true;
        }
        false
    }

    /// If the transfer uses connection `conn` (whose flag is already set),
    /// waits up to 5 s for what went out to finish.
    pub(crate) fn stop_using(&self, conn: u32) {
        let mut s = self.m.lock();
        if s.xfer.as_ref().is_some_and(|x| x.conn == conn) {
            // `lost` is already set by the caller; finish what went out.
            let start = Instant::<Monotonic>::now();
            while s.xfer.as_ref().is_some_and(|x| x.next > 0)
                && !progress(&mut s)
                && start.elapsed().as_millis() < 5000
            {
                fsleep(Delta::from_micros(100));
            }
        }
    }
}

/// Submits what fits and checks for the end; returns whether the
/// transfer ended (state `DONE` or `ERROR`).
fn progress(q: &mut QState) -> bool {
    let Some(chan) = q.chan.as_ref() else {
        return true;
    };
    let Some(x) = q.xfer.as_mut() else {
        return true;
    };
    let fail = |q: &mut QState, entry: u32, err: Error| {
        q.state = abi::SISCI_DMA_ERROR;
        q.failed_entry = entry;
        q.error = (-err.to_errno()) as u32;
        q.xfer = None;
        true
    };
    let tail = match chan.completed() {
        Ok(t) => t,
        Err(e) => return fail(q, 0, e),
    };
    let done = tail.wrapping_sub(x.seq0) as usize;
    match chan.error() {
        Ok(Some(_)) => {
            // The engine stops at the failing descriptor: the tail's.
            let entry = x
                .descs
                .get(done.min(x.descs.len().saturating_sub(1)))
                .map_or(0, |d| d.entry);
            let _ = chan.resume();
            return fail(q, entry, EIO);
        }
        Ok(None) => {}
        Err(e) => return fail(q, 0, e),
    }
    let lost = if x.abort {
        CONN_REVOKED
    } else {
        conn_state::get(&x.lost)
    };
    if lost != CONN_OK {
        // Nothing more goes out; report once what went out has finished.
        if done >= x.next {
            let entry = x.descs.get(done).map_or(0, |d| d.entry);
            let err = if x.abort {
                EIO
            } else if lost == CONN_DEAD {
                ECONNRESET
            } else {
                ENOTCONN
            };
            return fail(q, entry, err);
        }
        return false;
    }
    if done >= x.descs.len() {
        q.state = abi::SISCI_DMA_DONE;
        q.xfer = None;
        return true;
    }
    while x.next < x.descs.len() && (x.next - done) < RING_SIZE as usize {
        let d = x.descs[x.next];
        match chan.submit(d.src, d.dst, d.len, false) {
            Ok(_) => x.next += 1,
            Err(e) if e == EBUSY => break,
            Err(_) => {
                // The adapter is going away: what went out still runs.
                x.abort = true;
                break;
            }
        }
    }
    false
}

/// Waits up to `ms` for the queue's submitted descriptors to finish
/// (feeding no more), for teardown.
fn drain(q: &mut QState, ms: i64) {
    let start = Instant::<Monotonic>::now();
    if let Some(x) = q.xfer.as_mut() {
        x.abort = true;
    }
    while !progress(q) && start.elapsed().as_millis() < ms {
        fsleep(Delta::from_micros(100));
    }
}
