// SPDX-License-Identifier: GPL-2.0

//! DMA queues: the adapter's engine copies between a local segment and a
//! connection, or a borrowed device's BAR (a BAR segment of smartio.rs).

use crate::desc::desc;
use crate::errors::{from_errno, from_rs};
use crate::ffi::*;
use crate::segment::{LocalSeg, RemoteSeg};
use crate::smartio::BarSeg;
use crate::types::*;
use std::ffi::{c_uint, c_void};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The queue's state as the C API reports it.
#[derive(Clone, Copy)]
struct St {
    state: sci_dma_queue_state_t,
    error: sci_error_t,
}

/// `sci_dma_queue_t`.
#[repr(C)]
pub struct Queue {
    magic: u32,
    q: Arc<rs::DmaQueue>,
    st: Arc<Mutex<St>>,
    cb: Mutex<Option<JoinHandle<()>>>,
}

impl Object for Queue {
    const MAGIC: u32 = 0x5C1_D3A0;
    fn magic(&self) -> u32 {
        self.magic
    }
}

fn lock(m: &Mutex<St>) -> std::sync::MutexGuard<'_, St> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The engine-selection flags: every queue takes a channel of the adapter's
/// DMA engine, which serves any transfer (local segment <-> connection),
/// so `ADAPTER`, `GLOBAL` (a global DMA segment/queue) and `SYSDMA` (the
/// system's engine) get the same queue.
const ENGINE_FLAGS: c_uint = SCI_FLAG_DMA_ADAPTER | SCI_FLAG_DMA_GLOBAL | SCI_FLAG_DMA_SYSDMA;

/// `SCICreateDMAQueue` (`max_entries` is not limited beyond the ABI's
/// 256 entries per transfer). Flags: the engine selection
/// ([`ENGINE_FLAGS`]); `SCI_FLAG_DMA_PHDMA` (a physical-address queue) is
/// not offered.
///
/// # Safety
///
/// `sd` a live descriptor; `dq` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn SCICreateDMAQueue(
    sd: Handle,
    dq: *mut Handle,
    adapter: c_uint,
    _max_entries: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let d = unsafe { desc(sd)? };
        if dq.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_adapter(adapter)?;
        check_flags_with(flags, ENGINE_FLAGS, SCI_FLAG_DMA_PHDMA)?;
        let q = rs::DmaQueue::create(&d.sd).map_err(|e| {
            if e.errno() == libc::ENODEV {
                SCI_ERR_NOT_SUPPORTED
            } else {
                from_rs(e)
            }
        })?;
        let h = into_handle(Queue {
            magic: Queue::MAGIC,
            q: Arc::new(q),
            st: Arc::new(Mutex::new(St {
                state: SCI_DMAQUEUE_IDLE,
                error: SCI_ERR_OK,
            })),
            cb: Mutex::new(None),
        });
        // SAFETY: checked not NULL.
        unsafe { out(dq, h) }
    })
}

fn join_callback(q: &Queue) {
    let t = q.cb.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(t) = t {
        if t.thread().id() != std::thread::current().id() {
            let _ = t.join();
        }
    }
}

/// `SCIRemoveDMAQueue`: `SCI_ERR_BUSY` while a transfer runs.
///
/// # Safety
///
/// `dq` must be NULL or a live `sci_dma_queue_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIRemoveDMAQueue(dq: Handle, flags: c_uint, error: *mut sci_error_t) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let q = unsafe { borrow::<Queue>(dq)? };
        check_flags(flags, 0)?;
        // SAFETY: same handle.
        if unsafe { SCIDMAQueueState(dq) } == SCI_DMAQUEUE_POSTED {
            return Err(SCI_ERR_BUSY);
        }
        join_callback(q);
        // SAFETY: checked; not used afterwards.
        drop(unsafe { take::<Queue>(dq) });
        Ok(())
    })
}

/// Records the end of a transfer; returns the SISCI status.
fn finish(st: &Mutex<St>, r: rs::Result<()>) -> sci_error_t {
    let (state, error) = match r {
        Ok(()) => (SCI_DMAQUEUE_DONE, SCI_ERR_OK),
        Err(e) if e.is_timeout() => return SCI_ERR_TIMEOUT,
        Err(e) if e.failed_entry().is_some() => (
            SCI_DMAQUEUE_ERROR,
            match e.errno() {
                libc::EIO => SCI_ERR_TRANSFER_FAILED,
                n => from_errno(n),
            },
        ),
        Err(e) => (SCI_DMAQUEUE_ERROR, from_rs(e)),
    };
    *lock(st) = St { state, error };
    error
}

/// The flags of the start calls: `DMA_READ`, `DMA_WAIT`, `USE_CALLBACK`,
/// `BROADCAST` (to a multicast group), the engine selection and
/// `DMA_SOURCE_ONLY` (a hint: nothing to do).
const START_FLAGS: c_uint = SCI_FLAG_DMA_READ
    | SCI_FLAG_DMA_WAIT
    | SCI_FLAG_USE_CALLBACK
    | SCI_FLAG_BROADCAST
    | ENGINE_FLAGS
    | SCI_FLAG_DMA_SOURCE_ONLY;

/// A transfer to a multicast group (rsio_sisci's engine writes through the
/// connection's slots, every member receives): `SCI_FLAG_BROADCAST` needs
/// a connection to a group (`SCI_ERR_ILLEGAL_PARAMETER`); a group's
/// connection (with the flag or not) is written to, never read
/// (`SCI_ERR_ILLEGAL_OPERATION`).
fn check_broadcast(flags: c_uint, multicast: bool, entries: &[rs::DmaEntry]) -> CResult<()> {
    if flags & SCI_FLAG_BROADCAST != 0 && !multicast {
        return Err(SCI_ERR_ILLEGAL_PARAMETER);
    }
    if multicast
        && entries
            .iter()
            .any(|e| matches!(e.direction, rs::Direction::FromRemote))
    {
        return Err(SCI_ERR_ILLEGAL_OPERATION);
    }
    Ok(())
}

/// The SISCI error of a refused start.
fn start_error(errno: i32) -> sci_error_t {
    match errno {
        libc::ERANGE => SCI_ERR_OUT_OF_RANGE,
        n => from_errno(n),
    }
}

/// The remote side of a transfer: a connection, or a device BAR segment
/// (`SCIConnectDeviceSegment(SCI_MEMTYPE_BAR)`): rsio_sisci's
/// `SISCI_DMA_DEVICE`, the remote offsets are offsets in the BAR, which the
/// engine reaches through the lender. The device must be borrowed through
/// the queue's descriptor (else the kernel's `EINVAL`:
/// `SCI_ERR_ILLEGAL_PARAMETER`).
enum Target<'a> {
    Seg(&'a RemoteSeg),
    Bar(&'a BarSeg),
}

impl Target<'_> {
    /// The target behind `remote`.
    ///
    /// # Safety
    ///
    /// `remote` NULL or a live handle of this library.
    unsafe fn of<'a>(remote: Handle) -> CResult<Target<'a>> {
        // SAFETY: caller's contract; both check the magic.
        unsafe {
            match crate::smartio::bar(remote) {
                Some(b) => Ok(Target::Bar(b)),
                None => Ok(Target::Seg(borrow::<RemoteSeg>(remote)?)),
            }
        }
    }

    fn multicast(&self) -> bool {
        matches!(self, Target::Seg(r) if r.multicast)
    }

    /// A BAR's entries must stay inside it (`SCI_ERR_OUT_OF_RANGE`, as the
    /// kernel's `ERANGE`); a connection's are checked by the kernel.
    fn check_range(&self, entries: &[rs::DmaEntry]) -> CResult<()> {
        if let Target::Bar(b) = self {
            let size = b.size() as u64;
            let inside = |e: &rs::DmaEntry| {
                e.remote_offset
                    .checked_add(e.len)
                    .is_some_and(|end| end <= size)
            };
            if !entries.iter().all(inside) {
                return Err(SCI_ERR_OUT_OF_RANGE);
            }
        }
        Ok(())
    }

    fn start(
        &self,
        q: &rs::DmaQueue,
        l: &rs::LocalSegment,
        entries: &[rs::DmaEntry],
    ) -> CResult<()> {
        match self {
            Target::Seg(r) => q
                .start(l, &r.seg, entries)
                .map_err(|e| start_error(e.errno())),
            Target::Bar(b) => {
                q.start_bar(l, b.device(), b.id(), entries)
                    .map_err(|e| match e.errno() {
                        // The device is gone (its lender died, or it was taken back).
                        libc::ENODEV => crate::smartio::SCI_ERR_NO_SUCH_FDID,
                        n => start_error(n),
                    })
            }
        }
    }
}

/// Starts a transfer on a queue (the common part of the start calls).
///
/// # Safety
///
/// The three handles must be NULL or live handles of their kinds.
#[allow(clippy::too_many_arguments)]
unsafe fn start(
    dq: Handle,
    local: Handle,
    remote: Handle,
    entries: Vec<rs::DmaEntry>,
    callback: sci_cb_dma_t,
    arg: *mut c_void,
    flags: c_uint,
) -> CResult<()> {
    // SAFETY: caller's contract (all three handles).
    let (q, l, r) = unsafe {
        (
            borrow::<Queue>(dq)?,
            borrow::<LocalSeg>(local)?,
            Target::of(remote)?,
        )
    };
    check_flags_with(flags, START_FLAGS, SCI_FLAG_DMA_PHDMA)?;
    let cb = if flags & SCI_FLAG_USE_CALLBACK != 0 {
        Some(callback.ok_or(SCI_ERR_ILLEGAL_PARAMETER)?)
    } else {
        None
    };
    if entries.is_empty() {
        return Err(SCI_ERR_ILLEGAL_PARAMETER);
    }
    if entries.len() > rs::abi::SISCI_MAX_DMA_ENTRIES as usize {
        return Err(SCI_ERR_MAX_ENTRIES);
    }
    check_broadcast(flags, r.multicast(), &entries)?;
    r.check_range(&entries)?;
    join_callback(q);
    // An empty local segment (no memory registered) cannot be prepared.
    let lseg = l.seg().map_err(|_| SCI_ERR_SEGMENT_NOT_PREPARED)?;
    r.start(&q.q, lseg, &entries)?;
    *lock(&q.st) = St {
        state: SCI_DMAQUEUE_POSTED,
        error: SCI_ERR_OK,
    };
    if let Some(cb) = cb {
        let (qq, st, h, a) = (q.q.clone(), q.st.clone(), SendPtr(dq), SendPtr(arg));
        let t = std::thread::Builder::new()
            .name("sisci-dma-callback".into())
            .spawn(move || {
                let status = finish(&st, qq.wait(None));
                // SAFETY: the application's callback with its own argument.
                unsafe { cb(a.get(), h.get(), status) };
            })
            .map_err(|_| SCI_ERR_NOSPC)?;
        *q.cb.lock().unwrap_or_else(|p| p.into_inner()) = Some(t);
        return Ok(());
    }
    if flags & SCI_FLAG_DMA_WAIT != 0 {
        let e = finish(&q.st, q.q.wait(None));
        if e != SCI_ERR_OK {
            return Err(e);
        }
    }
    Ok(())
}

fn direction(flags: c_uint) -> rs::Direction {
    if flags & SCI_FLAG_DMA_READ != 0 {
        rs::Direction::FromRemote
    } else {
        rs::Direction::ToRemote
    }
}

/// `SCIStartDmaTransfer`. Flags: [`START_FLAGS`]; `SCI_FLAG_DMA_PHDMA`
/// (physical addresses) is not offered. `remote` a connection or a device
/// BAR segment ([`Target`]).
///
/// # Safety
///
/// Handles NULL or live.
#[no_mangle]
pub unsafe extern "C" fn SCIStartDmaTransfer(
    dq: Handle,
    local: Handle,
    remote: Handle,
    local_offset: usize,
    size: usize,
    remote_offset: usize,
    callback: sci_cb_dma_t,
    callback_arg: *mut c_void,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        let e = rs::DmaEntry {
            local_offset: local_offset as u64,
            remote_offset: remote_offset as u64,
            len: size as u64,
            direction: direction(flags),
        };
        // SAFETY: caller's contract.
        unsafe { start(dq, local, remote, vec![e], callback, callback_arg, flags) }
    })
}

/// `SCIStartDmaTransferVec`: entry flags may hold `SCI_FLAG_DMA_READ` too.
///
/// # Safety
///
/// Handles NULL or live; `vec` NULL or valid for `vec_length` elements.
#[no_mangle]
pub unsafe extern "C" fn SCIStartDmaTransferVec(
    dq: Handle,
    local: Handle,
    remote: Handle,
    vec_length: usize,
    vec: *mut dis_dma_vec_t,
    callback: sci_cb_dma_t,
    callback_arg: *mut c_void,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        if vec.is_null() || vec_length == 0 {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        if vec_length > rs::abi::SISCI_MAX_DMA_ENTRIES as usize {
            return Err(SCI_ERR_MAX_ENTRIES);
        }
        // SAFETY: `vec` holds `vec_length` elements per the contract.
        let v = unsafe { std::slice::from_raw_parts(vec, vec_length) };
        let entries = v
            .iter()
            .map(|e| rs::DmaEntry {
                local_offset: e.local_offset as u64,
                remote_offset: e.remote_offset as u64,
                len: e.size as u64,
                direction: direction(flags | e.flags),
            })
            .collect();
        // SAFETY: caller's contract.
        unsafe { start(dq, local, remote, entries, callback, callback_arg, flags) }
    })
}

/// `SCIWaitForDMAQueue`: the queue's state once the transfer ended
/// (`SCI_ERR_TIMEOUT` and `SCI_DMAQUEUE_POSTED` if it did not in time).
///
/// # Safety
///
/// `dq` must be NULL or a live `sci_dma_queue_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIWaitForDMAQueue(
    dq: Handle,
    timeout_ms: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) -> sci_dma_queue_state_t {
    call(error, SCI_DMAQUEUE_ERROR, || {
        // SAFETY: caller's contract.
        let q = unsafe { borrow::<Queue>(dq)? };
        check_flags(flags, 0)?;
        {
            let mut cb = q.cb.lock().unwrap_or_else(|p| p.into_inner());
            match cb.as_ref() {
                // A callback transfer still running: the callback reports it.
                Some(t) if !t.is_finished() => return Err(SCI_ERR_ILLEGAL_OPERATION),
                Some(_) => {
                    if let Some(t) = cb.take() {
                        let _ = t.join();
                    }
                }
                None => {}
            }
        }
        let s = *lock(&q.st);
        if s.state != SCI_DMAQUEUE_POSTED {
            return if s.error == SCI_ERR_OK {
                Ok(s.state)
            } else {
                Err(s.error)
            };
        }
        match finish(&q.st, q.q.wait(timeout(timeout_ms))) {
            SCI_ERR_OK => Ok(SCI_DMAQUEUE_DONE),
            SCI_ERR_TIMEOUT => Err(SCI_ERR_TIMEOUT),
            e => Err(e),
        }
    })
}

/// `SCIDMAQueueState`: `SCI_DMAQUEUE_IDLE`, `POSTED`, `DONE` or `ERROR`.
///
/// # Safety
///
/// `dq` must be NULL or a live `sci_dma_queue_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIDMAQueueState(dq: Handle) -> sci_dma_queue_state_t {
    call_quiet(SCI_DMAQUEUE_ERROR, || {
        // SAFETY: caller's contract.
        let q = unsafe { borrow::<Queue>(dq) }.ok()?;
        let s = *lock(&q.st);
        if s.state != SCI_DMAQUEUE_POSTED || q.cb.lock().map(|c| c.is_some()).unwrap_or(true) {
            return Some(s.state);
        }
        match q.q.poll() {
            Ok(rs::DmaState::Posted) => Some(SCI_DMAQUEUE_POSTED),
            Ok(rs::DmaState::Done) | Ok(rs::DmaState::Idle) => {
                finish(&q.st, Ok(()));
                Some(SCI_DMAQUEUE_DONE)
            }
            Ok(rs::DmaState::Failed { entry, errno }) => {
                finish(&q.st, Err(rs::Error::dma(errno, entry)));
                Some(SCI_DMAQUEUE_ERROR)
            }
            Err(_) => Some(SCI_DMAQUEUE_ERROR),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        let w = rs::DmaEntry::write(0, 0, 64);
        let r = rs::DmaEntry::read(0, 0, 64);
        assert_eq!(check_broadcast(0, false, &[w, r]), Ok(()));
        assert_eq!(check_broadcast(SCI_FLAG_BROADCAST, true, &[w]), Ok(()));
        assert_eq!(check_broadcast(0, true, &[w]), Ok(()));
        assert_eq!(
            check_broadcast(SCI_FLAG_BROADCAST, false, &[w]),
            Err(SCI_ERR_ILLEGAL_PARAMETER)
        );
        assert_eq!(
            check_broadcast(SCI_FLAG_BROADCAST, true, &[w, r]),
            Err(SCI_ERR_ILLEGAL_OPERATION)
        );
        assert_eq!(start_error(libc::EINVAL), SCI_ERR_ILLEGAL_PARAMETER);
        assert_eq!(start_error(libc::ERANGE), SCI_ERR_OUT_OF_RANGE);
        assert_eq!(start_error(libc::ENOTCONN), SCI_ERR_NOT_CONNECTED);
    }

    #[test]
    fn queue_flags() {
        let sd = crate::desc::test_desc();
        let mut e = SCI_ERR_OK;
        let mut q: Handle = std::ptr::null_mut();
        // SAFETY: a live descriptor, valid out pointers.
        unsafe {
            SCICreateDMAQueue(sd, &mut q, 0, 16, SCI_FLAG_DMA_PHDMA, &mut e);
            assert_eq!(e, SCI_ERR_FLAG_NOT_IMPLEMENTED);
            SCICreateDMAQueue(sd, &mut q, 0, 16, SCI_FLAG_DMA_READ, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_FLAG);
            // Accepted flags reach the (fake) kernel.
            SCICreateDMAQueue(sd, &mut q, 0, 16, SCI_FLAG_DMA_GLOBAL, &mut e);
            assert_eq!(e, SCI_ERR_INCONSISTENT_VERSIONS);
            assert!(q.is_null());
            crate::desc::SCIClose(sd, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
        }
    }

    #[test]
    fn start_refuses_bad_handles_first() {
        let mut e = SCI_ERR_OK;
        let n = std::ptr::null_mut();
        // SAFETY: NULL handles are refused before use.
        unsafe {
            SCIStartDmaTransfer(n, n, n, 0, 64, 0, None, n, SCI_FLAG_BROADCAST, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIStartDmaTransferVec(n, n, n, 0, n.cast(), None, n, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            let mut v = [dis_dma_vec_t {
                size: 8,
                local_offset: 0,
                remote_offset: 0,
                flags: 0,
            }; 257];
            SCIStartDmaTransferVec(n, n, n, 257, v.as_mut_ptr(), None, n, 0, &mut e);
            assert_eq!(e, SCI_ERR_MAX_ENTRIES);
        }
    }

    #[test]
    fn device_bar_target() {
        use crate::segment::{SCICreateSegment, SCIDisconnectSegment, SCIRemoveSegment};
        use crate::smartio::{SCIConnectDeviceSegment, SCIReturnDevice, SCI_MEMTYPE_BAR};
        let sd = crate::desc::test_desc();
        let n = std::ptr::null_mut();
        let mut e = SCI_ERR_OK;
        // A queue and a device no kernel knows; a local segment without
        // memory: every check before the kernel's can be seen.
        // SAFETY: a live descriptor.
        let d = unsafe { desc(sd) }.unwrap();
        let q = into_handle(Queue {
            magic: Queue::MAGIC,
            q: Arc::new(rs::DmaQueue::placeholder(&d.sd)),
            st: Arc::new(Mutex::new(St {
                state: SCI_DMAQUEUE_IDLE,
                error: SCI_ERR_OK,
            })),
            cb: Mutex::new(None),
        });
        let dev = crate::smartio::test_device(sd, 0x1, [0x10_0000, 0, 0, 0, 0, 0]);
        let (mut bar, mut l) = (n, n);
        // SAFETY: live handles, valid out pointers; each freed once.
        unsafe {
            SCIConnectDeviceSegment(dev, &mut bar, 0, SCI_MEMTYPE_BAR, None, n, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            SCICreateSegment(sd, &mut l, 5, 4096, None, n, SCI_FLAG_EMPTY, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            let start = |lo: usize, len: usize, ro: usize, flags: c_uint| {
                let mut e = SCI_ERR_OK;
                SCIStartDmaTransfer(q, l, bar, lo, len, ro, None, n, flags, &mut e);
                e
            };
            // The BAR is a target: the empty local segment is what stops
            // these (the last 4 bytes of the BAR, either way).
            assert_eq!(start(0, 4, 0xf_fffc, 0), SCI_ERR_SEGMENT_NOT_PREPARED);
            assert_eq!(
                start(0, 4, 0xf_fffc, SCI_FLAG_DMA_READ | SCI_FLAG_DMA_WAIT),
                SCI_ERR_SEGMENT_NOT_PREPARED
            );
            // Beyond the BAR; a BAR is no multicast group.
            assert_eq!(start(0, 4, 0xf_fffd, 0), SCI_ERR_OUT_OF_RANGE);
            assert_eq!(start(0, 4, usize::MAX - 1, 0), SCI_ERR_OUT_OF_RANGE);
            assert_eq!(
                start(0, 4, 0, SCI_FLAG_BROADCAST),
                SCI_ERR_ILLEGAL_PARAMETER
            );
            let mut v = [
                dis_dma_vec_t {
                    size: 4,
                    local_offset: 0,
                    remote_offset: 4,
                    flags: 0,
                },
                dis_dma_vec_t {
                    size: 8,
                    local_offset: 8,
                    remote_offset: 0x10_0000,
                    flags: SCI_FLAG_DMA_READ,
                },
            ];
            SCIStartDmaTransferVec(q, l, bar, 2, v.as_mut_ptr(), None, n, 0, &mut e);
            assert_eq!(e, SCI_ERR_OUT_OF_RANGE);
            v[1].remote_offset = 8;
            SCIStartDmaTransferVec(q, l, bar, 2, v.as_mut_ptr(), None, n, 0, &mut e);
            assert_eq!(e, SCI_ERR_SEGMENT_NOT_PREPARED);
            // Not a remote segment of any kind.
            SCIStartDmaTransfer(q, l, dev, 0, 4, 0, None, n, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);

            assert_eq!(SCIDMAQueueState(q), SCI_DMAQUEUE_IDLE);
            SCIRemoveDMAQueue(q, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            SCIRemoveSegment(l, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            SCIDisconnectSegment(bar, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            SCIReturnDevice(dev, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            crate::desc::SCIClose(sd, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
        }
    }
}
