// SPDX-License-Identifier: GPL-2.0

//! DMA queues on the adapter's DMA engine: each queue owns one channel
//! while it exists. A transfer (a vector of entries between a local
//! segment and a connection) is split into descriptors at chunk boundaries
//! on both sides; the ring takes what fits and the waiter feeds the rest as
//! the engine advances (`DMA_TAIL`), so progress needs `DMA_WAIT` calls, as
//! SISCI programs make anyway.
//!
//! Errors per transfer: the engine's (`EIO`, with the failing entry), and
//! the connection's: the direct window does not follow link state, so a
//! transfer during which the remote segment was revoked or its node died
//! fails with `ENOTCONN` / `ECONNRESET` even if the engine completed it.

use crate::memory::SegMemory;
use crate::sisci_abi as abi;
use crate::state::{FileTag, QueueEntry, Shared, CONN_DEAD, CONN_OK};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::atomic::Atomic;
use kernel::sync::{Arc, Mutex};
use kernel::time::{delay::fsleep, Delta, Instant, Monotonic};
use kernel::uaccess::{UserPtr, UserSlice};
use rsio_ntb::dma::{DmaChannel, MAX_LEN, RING_SIZE};

/// One descriptor to submit.
#[derive(Clone, Copy)]
struct Desc {
    src: u64,
    dst: u64,
    len: u32,
    entry: u32,
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

/// Creates a queue, taking a free channel (`ENODEV` without an engine,
/// `EBUSY` when every channel is in use).
pub(crate) fn create(sh: &Shared, file: FileTag) -> Result<u32> {
    if sh.info.caps & 1 == 0 {
        return Err(ENODEV);
    }
    let mut st = sh.st.lock();
    let chan = st.free_chans.pop().ok_or(EBUSY)?;
    let q = Arc::pin_init(
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
    )?;
    let handle = st.new_handle()?;
    st.queues.push(QueueEntry { handle, file, q }, GFP_KERNEL)?;
    Ok(handle)
}

/// Removes a queue: its transfer is stopped, its channel given back.
pub(crate) fn remove(sh: &Shared, file: FileTag, handle: u32) -> Result {
    let e = {
        let mut st = sh.st.lock();
        let i = st
            .queues
            .iter()
            .position(|q| q.handle == handle && q.file == file)
            .ok_or(EINVAL)?;
        st.queues.remove(i)?
    };
    let chan = {
        let mut q = e.q.m.lock();
        drain(&mut q, 2000);
        q.xfer = None;
        q.chan.take()
    };
    if let Some(c) = chan {
        // Resets the channel's ring position for the next user.
        let _ = c.resume();
        let mut st = sh.st.lock();
        let _ = st.free_chans.push(c, GFP_KERNEL);
    }
    Ok(())
}

/// Starts a transfer.
pub(crate) fn start(sh: &Shared, file: FileTag, a: &abi::SisciDmaStart) -> Result {
    if a.count == 0 || a.count > abi::SISCI_MAX_DMA_ENTRIES {
        return Err(EINVAL);
    }
    let mut entries = KVec::with_capacity(a.count as usize, GFP_KERNEL)?;
    let mut reader = UserSlice::new(
        UserPtr::from_addr(a.entries as usize),
        a.count as usize * abi::SISCI_DMA_ENTRY_SIZE,
    )
    .reader();
    for _ in 0..a.count {
        let e: abi::SisciDmaEntry = reader.read()?;
        if e.reserved != 0 || e.flags & !abi::SISCI_DMA_FROM_REMOTE != 0 || e.len == 0 {
            return Err(EINVAL);
        }
        entries.push(e, GFP_KERNEL)?;
    }
    // The objects: looked up together so that they are consistent.
    let (q, mem, node, rshift, rbus, rsize, lost) = {
        let st = sh.st.lock();
        let q = st
            .queues
            .iter()
            .find(|q| q.handle == a.queue && q.file == file)
            .ok_or(EINVAL)?
            .q
            .clone();
        let s = st
            .segs
            .iter()
            .find(|s| s.handle == a.local && s.file == file)
            .ok_or(EINVAL)?;
        let c = st
            .conns
            .iter()
            .find(|c| c.handle == a.remote && c.file == file)
            .ok_or(EINVAL)?;
        if c.mc.is_some() {
            return Err(EINVAL);
        }
        if Shared::lost(&c.lost) != CONN_OK {
            return Err(ENOTCONN);
        }
        let mut rbus = KVec::with_capacity(c.bus.len(), GFP_KERNEL)?;
        rbus.extend_from_slice(&c.bus, GFP_KERNEL)?;
        (
            q,
            s.mem.clone(),
            c.node,
            c.chunk_shift,
            rbus,
            c.size,
            c.lost.clone(),
        )
    };
    let direct = sh.info.bar4.0 + (u64::from(node) << sh.info.direct_shift);
    let mut descs = KVec::new();
    for (i, e) in entries.iter().enumerate() {
        let lend = e.local_offset.checked_add(e.len).ok_or(ERANGE)?;
        let rend = e.remote_offset.checked_add(e.len).ok_or(ERANGE)?;
        if lend > mem.size || rend > rsize {
            return Err(ERANGE);
        }
        let (mut lo, mut ro, mut left) = (e.local_offset, e.remote_offset, e.len);
        while left > 0 {
            let (lbus, lroom) = mem.bus_at(lo).ok_or(ERANGE)?;
            let ri = (ro >> rshift) as usize;
            let rwithin = ro & ((1 << rshift) - 1);
            let rb = *rbus.get(ri).ok_or(ERANGE)? + rwithin;
            let rroom = (1u64 << rshift) - rwithin;
            let n = left.min(lroom).min(rroom).min(u64::from(MAX_LEN));
            let (src, dst) = if e.flags & abi::SISCI_DMA_FROM_REMOTE != 0 {
                (direct + rb, lbus)
            } else {
                (lbus, direct + rb)
            };
            descs.push(
                Desc {
                    src,
                    dst,
                    len: n as u32,
                    entry: i as u32,
                },
                GFP_KERNEL,
            )?;
            lo += n;
            ro += n;
            left -= n;
        }
    }
    let mut qs = q.m.lock();
    if qs.xfer.is_some() || qs.state == abi::SISCI_DMA_POSTED {
        return Err(EBUSY);
    }
    let chan = qs.chan.as_ref().ok_or(ENODEV)?;
    let seq0 = chan.completed()?;
    qs.xfer = Some(Xfer {
        descs,
        next: 0,
        seq0,
        conn: a.remote,
        lost,
        abort: false,
        _mem: mem,
    });
    qs.state = abi::SISCI_DMA_POSTED;
    progress(&mut qs);
    Ok(())
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
        crate::state::CONN_REVOKED
    } else {
        Shared::lost(&x.lost)
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

/// Waits for the queue's transfer.
pub(crate) fn wait(sh: &Shared, file: FileTag, a: &mut abi::SisciDmaWait) -> Result {
    let q = {
        let st = sh.st.lock();
        st.queues
            .iter()
            .find(|q| q.handle == a.queue && q.file == file)
            .ok_or(EINVAL)?
            .q
            .clone()
    };
    let nonblock = a.header.flags & abi::SISCI_NONBLOCK != 0;
    let start = Instant::<Monotonic>::now();
    let mut pause = 5i64;
    loop {
        {
            let mut qs = q.m.lock();
            let ended = progress(&mut qs);
            if ended || nonblock {
                a.state = qs.state;
                a.failed_entry = qs.failed_entry;
                a.error = qs.error;
                if ended && qs.state != abi::SISCI_DMA_POSTED && qs.state != abi::SISCI_DMA_IDLE {
                    qs.state = abi::SISCI_DMA_IDLE;
                }
                return Ok(());
            }
        }
        if a.timeout_ms != abi::SISCI_INFINITE
            && start.elapsed().as_millis() >= i64::from(a.timeout_ms)
        {
            return Err(ETIMEDOUT);
        }
        if kernel::current!().signal_pending() {
            return Err(EINTR);
        }
        fsleep(Delta::from_micros(pause));
        pause = (pause * 2).min(200);
    }
}

/// Stops the transfers that use connection `conn` (it is being revoked):
/// waits for what the engine already has, so that the owner may free its
/// memory after this returns.
pub(crate) fn stop_using(sh: &Shared, conn: u32) {
    let qs: KVec<Arc<Queue>> = {
        let st = sh.st.lock();
        let mut v = KVec::new();
        for e in st.queues.iter() {
            let _ = v.push(e.q.clone(), GFP_KERNEL);
        }
        v
    };
    for q in qs {
        let mut s = q.m.lock();
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

/// Removes what `file` owned.
pub(crate) fn file_closed(sh: &Shared, file: FileTag) {
    loop {
        let h = sh
            .st
            .lock()
            .queues
            .iter()
            .find(|q| q.file == file)
            .map(|q| q.handle);
        match h {
            Some(h) => {
                let _ = remove(sh, file, h);
            }
            None => break,
        }
    }
}
