// SPDX-License-Identifier: GPL-2.0

//! Local and remote segments.

use crate::desc::desc;
use crate::errors::from_rs;
use crate::ffi::*;
use crate::types::*;
use crate::watcher::{Watcher, POLL};
use std::ffi::{c_uint, c_void};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

/// `sci_local_segment_t`.
#[repr(C)]
pub struct LocalSeg {
    magic: u32,
    pub seg: Arc<rs::LocalSegment>,
    /// Live `sci_map_t`s of the segment.
    pub maps: Arc<AtomicUsize>,
    watcher: Option<Watcher>,
}

impl Object for LocalSeg {
    const MAGIC: u32 = 0x5C1_15E6;
    fn magic(&self) -> u32 {
        self.magic
    }
}

/// `sci_remote_segment_t`.
#[repr(C)]
pub struct RemoteSeg {
    magic: u32,
    pub seg: Arc<rs::RemoteSegment>,
    pub maps: Arc<AtomicUsize>,
    watcher: Option<Watcher>,
}

impl Object for RemoteSeg {
    const MAGIC: u32 = 0x5C1_25E6;
    fn magic(&self) -> u32 {
        self.magic
    }
}

fn reason(e: rs::SegmentEvent) -> (sci_segment_cb_reason_t, u32) {
    match e {
        rs::SegmentEvent::Connect { node } => (SCI_CB_CONNECT, node),
        rs::SegmentEvent::Disconnect { node } => (SCI_CB_DISCONNECT, node),
        rs::SegmentEvent::Lost { node } => (SCI_CB_LOST, node),
        rs::SegmentEvent::Other { node, .. } => (SCI_CB_NOT_OPERATIONAL, node),
    }
}

/// `SCICreateSegment`. Flags: `SCI_FLAG_AUTO_ID`, `SCI_FLAG_BROADCAST`
/// (segment id = multicast group), `SCI_FLAG_USE_CALLBACK`.
///
/// # Safety
///
/// `sd` a live descriptor, `segment` valid for a write (or NULL: refused).
#[no_mangle]
pub unsafe extern "C" fn SCICreateSegment(
    sd: Handle,
    segment: *mut Handle,
    segment_id: c_uint,
    size: usize,
    callback: sci_cb_local_segment_t,
    callback_arg: *mut c_void,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let d = unsafe { desc(sd)? };
        if segment.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        if flags & (SCI_FLAG_EMPTY | SCI_FLAG_PRIVATE) != 0 {
            return Err(SCI_ERR_FLAG_NOT_IMPLEMENTED);
        }
        check_flags(
            flags,
            SCI_FLAG_AUTO_ID | SCI_FLAG_BROADCAST | SCI_FLAG_USE_CALLBACK,
        )?;
        if size == 0 {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        let cb = if flags & SCI_FLAG_USE_CALLBACK != 0 {
            Some(callback.ok_or(SCI_ERR_ILLEGAL_PARAMETER)?)
        } else {
            None
        };
        let id = if flags & SCI_FLAG_AUTO_ID != 0 {
            rs::Id::Auto
        } else {
            rs::Id::Fixed(segment_id)
        };
        let opts = rs::SegmentFlags {
            any_user: true,
            multicast: flags & SCI_FLAG_BROADCAST != 0,
        };
        let seg =
            Arc::new(rs::LocalSegment::create_with(&d.sd, id, size as u64, opts).map_err(from_rs)?);
        let h = into_handle(LocalSeg {
            magic: LocalSeg::MAGIC,
            seg: seg.clone(),
            maps: Arc::new(AtomicUsize::new(0)),
            watcher: None,
        });
        if let Some(cb) = cb {
            let (hp, arg) = (SendPtr(h), SendPtr(callback_arg));
            let w = Watcher::spawn(move || match seg.wait_event(Some(POLL)) {
                Ok(ev) => {
                    let (r, node) = reason(ev);
                    // SAFETY: the application's callback with its own argument.
                    let a = unsafe { cb(arg.get(), hp.get(), r, node, 0, SCI_ERR_OK) };
                    a != SCI_CALLBACK_CANCEL
                }
                Err(e) => e.is_timeout() || e.errno() == libc::EINTR,
            });
            match w {
                // SAFETY: `h` was just made by `into_handle` for a LocalSeg.
                Ok(w) => unsafe { (*h.cast::<LocalSeg>()).watcher = Some(w) },
                Err(_) => {
                    // SAFETY: as above; not used afterwards.
                    drop(unsafe { take::<LocalSeg>(h) });
                    return Err(SCI_ERR_NOSPC);
                }
            }
        }
        // SAFETY: checked not NULL; valid per the contract.
        unsafe { out(segment, h) }
    })
}

/// `SCIRemoveSegment`: `SCI_ERR_BUSY` while it is mapped locally.
///
/// # Safety
///
/// `segment` must be NULL or a live `sci_local_segment_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIRemoveSegment(segment: Handle, flags: c_uint, error: *mut sci_error_t) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let s = unsafe { borrow::<LocalSeg>(segment)? };
        check_flags(flags, SCI_FLAG_FORCE_REMOVE)?;
        if s.maps.load(std::sync::atomic::Ordering::Acquire) > 0 {
            return Err(SCI_ERR_BUSY);
        }
        // SAFETY: checked by `borrow`; not used afterwards.
        let mut b = unsafe { take::<LocalSeg>(segment) };
        if let Some(mut w) = b.watcher.take() {
            w.stop();
        }
        Ok(())
    })
}

/// Checks a local segment handle, adapter and flags.
///
/// # Safety
///
/// `segment` must be NULL or a live `sci_local_segment_t`.
unsafe fn local<'a>(segment: Handle, adapter: c_uint, flags: c_uint) -> CResult<&'a LocalSeg> {
    // SAFETY: forwarded contract.
    let s = unsafe { borrow::<LocalSeg>(segment)? };
    check_adapter(adapter)?;
    check_flags(flags, 0)?;
    Ok(s)
}

/// `SCIPrepareSegment`.
///
/// # Safety
///
/// `segment` must be NULL or a live `sci_local_segment_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIPrepareSegment(
    segment: Handle,
    adapter: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let s = unsafe { local(segment, adapter, flags)? };
        s.seg.prepare(adapter).map_err(from_rs)
    })
}

fn not_prepared(e: rs::Error) -> sci_error_t {
    if e.errno() == libc::EINVAL {
        SCI_ERR_SEGMENT_NOT_PREPARED
    } else {
        from_rs(e)
    }
}

/// `SCISetSegmentAvailable`.
///
/// # Safety
///
/// `segment` must be NULL or a live `sci_local_segment_t`.
#[no_mangle]
pub unsafe extern "C" fn SCISetSegmentAvailable(
    segment: Handle,
    adapter: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let s = unsafe { local(segment, adapter, flags)? };
        s.seg.set_available().map_err(not_prepared)
    })
}

/// `SCISetSegmentUnavailable`: connected peers lose the segment.
///
/// # Safety
///
/// `segment` must be NULL or a live `sci_local_segment_t`.
#[no_mangle]
pub unsafe extern "C" fn SCISetSegmentUnavailable(
    segment: Handle,
    adapter: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let s = unsafe { borrow::<LocalSeg>(segment)? };
        check_adapter(adapter)?;
        check_flags(flags, SCI_FLAG_NOTIFY | SCI_FLAG_FORCE_DISCONNECT)?;
        s.seg.set_unavailable().map_err(not_prepared)
    })
}

/// `SCIWaitForLocalSegmentEvent`: the next connect/disconnect.
///
/// # Safety
///
/// `segment` a live `sci_local_segment_t`; out pointers NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn SCIWaitForLocalSegmentEvent(
    segment: Handle,
    source_node: *mut c_uint,
    adapter: *mut c_uint,
    timeout_ms: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) -> sci_segment_cb_reason_t {
    call(error, SCI_CB_NOT_OPERATIONAL, || {
        // SAFETY: caller's contract.
        let s = unsafe { borrow::<LocalSeg>(segment)? };
        if source_node.is_null() || adapter.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_flags(flags, 0)?;
        if s.watcher.is_some() {
            return Err(SCI_ERR_ILLEGAL_OPERATION);
        }
        let (r, node) = reason(s.seg.wait_event(timeout(timeout_ms)).map_err(from_rs)?);
        // SAFETY: both checked not NULL; valid per the contract.
        unsafe {
            out(source_node, node)?;
            out(adapter, 0)?;
        }
        Ok(r)
    })
}

/// `SCIGetLocalSegmentId` (0 for a bad handle).
///
/// # Safety
///
/// `segment` must be NULL or a live `sci_local_segment_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIGetLocalSegmentId(segment: Handle) -> c_uint {
    call_quiet(0, || {
        // SAFETY: caller's contract.
        unsafe { borrow::<LocalSeg>(segment) }
            .ok()
            .map(|s| s.seg.id())
    })
}

/// `SCIGetLocalSegmentSize` (0 for a bad handle).
///
/// # Safety
///
/// `segment` must be NULL or a live `sci_local_segment_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIGetLocalSegmentSize(segment: Handle) -> usize {
    call_quiet(0, || {
        // SAFETY: caller's contract.
        unsafe { borrow::<LocalSeg>(segment) }
            .ok()
            .map(|s| s.seg.size() as usize)
    })
}

/// `SCIConnectSegment`. Flags: `SCI_FLAG_BROADCAST` (or node
/// `DIS_BROADCAST_NODEID_GROUP_ALL`): connect to multicast group
/// `segment_id`; `SCI_FLAG_USE_CALLBACK`.
///
/// # Safety
///
/// `sd` a live descriptor; `segment` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn SCIConnectSegment(
    sd: Handle,
    segment: *mut Handle,
    node_id: c_uint,
    segment_id: c_uint,
    adapter: c_uint,
    callback: sci_cb_remote_segment_t,
    callback_arg: *mut c_void,
    timeout_ms: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let d = unsafe { desc(sd)? };
        if segment.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_adapter(adapter)?;
        if flags & SCI_FLAG_ASYNCHRONOUS_CONNECT != 0 {
            return Err(SCI_ERR_FLAG_NOT_IMPLEMENTED);
        }
        check_flags(flags, SCI_FLAG_BROADCAST | SCI_FLAG_USE_CALLBACK)?;
        let cb = if flags & SCI_FLAG_USE_CALLBACK != 0 {
            Some(callback.ok_or(SCI_ERR_ILLEGAL_PARAMETER)?)
        } else {
            None
        };
        let t = timeout(timeout_ms);
        let r = if flags & SCI_FLAG_BROADCAST != 0 || node_id == DIS_BROADCAST_NODEID_GROUP_ALL {
            rs::RemoteSegment::connect_multicast(&d.sd, segment_id, t)
        } else {
            rs::RemoteSegment::connect(&d.sd, node_id, segment_id, t)
        };
        let seg = Arc::new(r.map_err(from_rs)?);
        let h = into_handle(RemoteSeg {
            magic: RemoteSeg::MAGIC,
            seg: seg.clone(),
            maps: Arc::new(AtomicUsize::new(0)),
            watcher: None,
        });
        if let Some(cb) = cb {
            let (hp, arg) = (SendPtr(h), SendPtr(callback_arg));
            let w = Watcher::spawn(move || match seg.wait_event(Some(POLL)) {
                Ok(ev) => {
                    let (r, _) = reason(ev);
                    let status = if r == SCI_CB_CONNECT {
                        SCI_ERR_OK
                    } else {
                        SCI_ERR_NOT_CONNECTED
                    };
                    // SAFETY: the application's callback with its own argument.
                    let a = unsafe { cb(arg.get(), hp.get(), r, status) };
                    a != SCI_CALLBACK_CANCEL
                }
                Err(e) => e.is_timeout() || e.errno() == libc::EINTR,
            });
            match w {
                // SAFETY: `h` was just made by `into_handle` for a RemoteSeg.
                Ok(w) => unsafe { (*h.cast::<RemoteSeg>()).watcher = Some(w) },
                Err(_) => {
                    // SAFETY: as above; not used afterwards.
                    drop(unsafe { take::<RemoteSeg>(h) });
                    return Err(SCI_ERR_NOSPC);
                }
            }
        }
        // SAFETY: checked not NULL; valid per the contract.
        unsafe { out(segment, h) }
    })
}

/// `SCIDisconnectSegment`: `SCI_ERR_BUSY` while it is mapped.
///
/// # Safety
///
/// `segment` must be NULL or a live `sci_remote_segment_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIDisconnectSegment(
    segment: Handle,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let s = unsafe { borrow::<RemoteSeg>(segment)? };
        check_flags(flags, SCI_FLAG_FORCE_DISCONNECT)?;
        if s.maps.load(std::sync::atomic::Ordering::Acquire) > 0 {
            return Err(SCI_ERR_BUSY);
        }
        // SAFETY: checked by `borrow`; not used afterwards.
        let mut b = unsafe { take::<RemoteSeg>(segment) };
        if let Some(mut w) = b.watcher.take() {
            w.stop();
        }
        Ok(())
    })
}

/// `SCIGetRemoteSegmentSize` (0 for a bad handle).
///
/// # Safety
///
/// `segment` must be NULL or a live `sci_remote_segment_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIGetRemoteSegmentSize(segment: Handle) -> usize {
    call_quiet(0, || {
        // SAFETY: caller's contract.
        unsafe { borrow::<RemoteSeg>(segment) }
            .ok()
            .map(|s| s.seg.size() as usize)
    })
}

/// `SCIGetRemoteSegmentId` (0 for a bad handle).
///
/// # Safety
///
/// `segment` must be NULL or a live `sci_remote_segment_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIGetRemoteSegmentId(segment: Handle) -> c_uint {
    call_quiet(0, || {
        // SAFETY: caller's contract.
        unsafe { borrow::<RemoteSeg>(segment) }
            .ok()
            .map(|s| s.seg.id())
    })
}

/// `SCIGetRemoteSegmentNodeId` (0 for a bad handle).
///
/// # Safety
///
/// `segment` must be NULL or a live `sci_remote_segment_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIGetRemoteSegmentNodeId(segment: Handle) -> c_uint {
    call_quiet(0, || {
        // SAFETY: caller's contract.
        unsafe { borrow::<RemoteSeg>(segment) }
            .ok()
            .map(|s| s.seg.node())
    })
}

/// `SCIWaitForRemoteSegmentEvent`: `*status` is `SCI_ERR_OK` for a
/// connect, `SCI_ERR_NOT_CONNECTED` when the segment was lost.
///
/// # Safety
///
/// `segment` a live `sci_remote_segment_t`; `status` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn SCIWaitForRemoteSegmentEvent(
    segment: Handle,
    status: *mut sci_error_t,
    timeout_ms: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) -> sci_segment_cb_reason_t {
    call(error, SCI_CB_NOT_OPERATIONAL, || {
        // SAFETY: caller's contract.
        let s = unsafe { borrow::<RemoteSeg>(segment)? };
        if status.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_flags(flags, 0)?;
        if s.watcher.is_some() {
            return Err(SCI_ERR_ILLEGAL_OPERATION);
        }
        let (r, _) = reason(s.seg.wait_event(timeout(timeout_ms)).map_err(from_rs)?);
        let st = if r == SCI_CB_CONNECT {
            SCI_ERR_OK
        } else {
            SCI_ERR_NOT_CONNECTED
        };
        // SAFETY: checked not NULL; valid per the contract.
        unsafe { out(status, st)? };
        Ok(r)
    })
}
