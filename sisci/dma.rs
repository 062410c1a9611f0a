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
//!
//! This file works on the tables (`state.rs`); a queue's channel and
//! transfer are `queue.rs`'s.

use crate::memory::SegMemory;
use crate::queue::{Desc, Queue};
use crate::sisci_abi as abi;
use crate::state::{FileTag, QueueEntry, Shared, CONN_OK};
use kernel::prelude::*;
use kernel::sync::atomic::Atomic;
use kernel::sync::Arc;
use kernel::time::{delay::fsleep, Delta, Instant, Monotonic};
use kernel::uaccess::{UserPtr, UserSlice};
use rsio_ntb::dma::MAX_LEN;

/// Creates a queue, taking a free channel (`ENODEV` without an engine,
/// `EBUSY` when every channel is in use).
pub(crate) fn create(sh: &Shared, file: FileTag) -> Result<u32> {
    if !sh.info.caps.dma() {
        return Err(ENODEV);
    }
    let mut st = sh.st.lock();
    let chan = st.free_chans.pop().ok_or(EBUSY)?;
    let q = Queue::new(chan)?;
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
    if let Some(c) = e.q.close() {
        // Resets the channel's ring position for the next user.
        let _ = c.resume();
        let mut st = sh.st.lock();
        let _ = st.free_chans.push(c, GFP_KERNEL);
    }
    Ok(())
}

/// Starts a transfer.
pub(crate) fn start(sh: &Shared, file: FileTag, a: &abi::SisciDmaStart) -> Result {
    let entries = read_entries(a)?;
    let p = Parts::lookup(sh, file, a)?;
    let direct = if p.direct {
        sh.info.bar4.0 + (u64::from(p.node) << sh.info.direct_shift)
    } else {
        0
    };
    let descs = descriptors(&entries, &p, direct)?;
    p.q.start(descs, a.remote, p.lost, p.mem)
}

/// The transfer's entries, copied from user space and checked (`EINVAL`
/// for a count out of range, reserved fields or flags set, or a length
/// of 0).
fn read_entries(a: &abi::SisciDmaStart) -> Result<KVec<abi::SisciDmaEntry>> {
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
    Ok(entries)
}

/// The objects a transfer uses.
struct Parts {
    q: Arc<Queue>,
    /// The local segment's memory.
    mem: Arc<SegMemory>,
    /// The connection's node, chunk size (log2), chunks' bus addresses at
    /// the owner, size and state flag.
    node: u32,
    rshift: u32,
    rbus: KVec<u64>,
    rsize: u64,
    lost: Arc<Atomic<u32>>,
    /// `rbus` is in the node's memory, reached through the direct window
    /// (else: this node's bus addresses, a device BAR's or a multicast
    /// group's slots).
    direct: bool,
    /// A multicast group: nothing to read from.
    write_only: bool,
}

impl Parts {
    /// Looks up the queue, local segment and connection `a` names, owned
    /// by `file`, together so that they are consistent: `EINVAL` for a
    /// missing one, `ENOTCONN` for a lost one. A multicast connection
    /// takes writes only.
    fn lookup(sh: &Shared, file: FileTag, a: &abi::SisciDmaStart) -> Result<Self> {
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
        if s.mem.is_empty() {
            return Err(EINVAL);
        }
        let mem = s.mem.clone();
        if a.header.flags & abi::SISCI_DMA_DEVICE != 0 {
            return Self::device_bar(st, q, mem, file, a);
        }
        if a.bar != 0 || a.reserved != 0 {
            return Err(EINVAL);
        }
        let c = st
            .conns
            .iter()
            .find(|c| c.handle == a.remote && c.file == file)
            .ok_or(EINVAL)?;
        if Shared::lost(&c.lost) != CONN_OK {
            return Err(ENOTCONN);
        }
        if let Some(lut) = c.mc.as_ref().or(c.win.as_ref()) {
            // A multicast group (write-only: the adapter delivers) or the
            // owner's device memory: the engine goes through the
            // connection's slots (this node's BAR2).
            let mut rbus = KVec::with_capacity(1, GFP_KERNEL)?;
            rbus.push(lut.bus_addr(), GFP_KERNEL)?;
            return Ok(Self {
                q,
                mem,
                direct: false,
                write_only: c.mc.is_some(),
                node: c.node,
                rshift: 63,
                rbus,
                rsize: c.size,
                lost: c.lost.clone(),
            });
        }
        let mut rbus = KVec::with_capacity(c.bus.len(), GFP_KERNEL)?;
        rbus.extend_from_slice(&c.bus, GFP_KERNEL)?;
        Ok(Self {
            q,
            mem,
            direct: true,
            write_only: false,
            node: c.node,
            rshift: c.chunk_shift,
            rbus,
            rsize: c.size,
            lost: c.lost.clone(),
        })
    }
}

impl Parts {
    /// The parts of a transfer to or from BAR `a.bar` of the device
    /// `a.remote` borrowed through `file`: one chunk, the BAR's slots in
    /// this node's translated window.
    fn device_bar(
        st: kernel::sync::lock::Guard<
            '_,
            crate::state::State,
            kernel::sync::lock::mutex::MutexBackend,
        >,
        q: Arc<Queue>,
        mem: Arc<SegMemory>,
        file: FileTag,
        a: &abi::SisciDmaStart,
    ) -> Result<Self> {
        if a.reserved != 0 {
            return Err(EINVAL);
        }
        let d = st
            .devs
            .iter()
            .find(|d| d.handle == a.remote && d.file == file)
            .ok_or(EINVAL)?;
        let dev = d.borrow.device();
        if dev.is_gone() {
            return Err(ENODEV);
        }
        let (addr, size) = dev.bar(a.bar as usize).ok_or(EINVAL)?;
        let mut rbus = KVec::with_capacity(1, GFP_KERNEL)?;
        rbus.push(addr, GFP_KERNEL)?;
        Ok(Self {
            q,
            mem,
            direct: false,
            write_only: false,
            node: dev.lender(),
            rshift: 63,
            rbus,
            rsize: size,
            lost: Shared::new_lost(CONN_OK)?,
        })
    }
}

/// The descriptors of `entries` between `p`'s segment and connection (whose
/// node's memory is at `direct` in the direct window), split at chunk
/// boundaries on both sides and at [`MAX_LEN`]: `ERANGE` for an entry
/// beyond either side.
fn descriptors(entries: &[abi::SisciDmaEntry], p: &Parts, direct: u64) -> Result<KVec<Desc>> {
    let (mem, rshift) = (&p.mem, p.rshift);
    let mut descs = KVec::new();
    for (i, e) in entries.iter().enumerate() {
        if p.write_only && e.flags & abi::SISCI_DMA_FROM_REMOTE != 0 {
            return Err(EINVAL);
        }
        let lend = e.local_offset.checked_add(e.len).ok_or(ERANGE)?;
        let rend = e.remote_offset.checked_add(e.len).ok_or(ERANGE)?;
        if lend > mem.size || rend > p.rsize {
            return Err(ERANGE);
        }
        let (mut lo, mut ro, mut left) = (e.local_offset, e.remote_offset, e.len);
        while left > 0 {
            let (lbus, lroom) = mem.bus_at(lo).ok_or(ERANGE)?;
            let ri = (ro >> rshift) as usize;
            let rwithin = ro & ((1 << rshift) - 1);
            let rb = *p.rbus.get(ri).ok_or(ERANGE)? + rwithin;
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
    Ok(descs)
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
        if q.poll(nonblock, a) {
            return Ok(());
        }
        if a.timeout_ms != abi::SISCI_INFINITE
            && start.elapsed().as_millis() >= i64::from(a.timeout_ms)
        {
            return Err(ETIMEDOUT);
        }
        if kernel::current!().signal_pending() {
            // EINTR for the caller, or the wait restarts if its handler
            // asked for that (SA_RESTART), as for other interrupted waits.
            return Err(ERESTARTSYS);
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
        q.stop_using(conn);
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
