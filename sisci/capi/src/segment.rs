// SPDX-License-Identifier: GPL-2.0

//! Local and remote segments.

use crate::desc::desc;
use crate::errors::from_rs;
use crate::ffi::*;
use crate::nodeid;
use crate::types::*;
use crate::watcher::{Watcher, POLL};
use std::ffi::{c_uint, c_void};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// `sci_local_segment_t`. A segment created with `SCI_FLAG_EMPTY` has no
/// memory (and no kernel segment) until `SCIRegisterSegmentMemory`.
#[repr(C)]
pub struct LocalSeg {
    magic: u32,
    /// The kernel segment: set at creation, or by the registration of an
    /// empty segment's memory.
    seg: OnceLock<Arc<rs::LocalSegment>>,
    /// What an empty segment becomes once its memory is registered.
    empty: Option<Empty>,
    /// The requested size in bytes.
    size: usize,
    /// `SCI_FLAG_USE_CALLBACK`'s callback and its argument.
    cb: sci_cb_local_segment_t,
    cb_arg: SendPtr,
    /// Live `sci_map_t`s of the segment.
    pub maps: Arc<AtomicUsize>,
    /// Serializes registrations (one wins, the others see it registered).
    register: Mutex<()>,
    watcher: Mutex<Option<Watcher>>,
}

/// An empty segment's pending creation.
struct Empty {
    /// The descriptor's device (a clone: `SCIClose` stays `SCI_ERR_BUSY`
    /// while the empty segment exists).
    sd: rs::Sisci,
    id: rs::Id,
}

impl Object for LocalSeg {
    const MAGIC: u32 = 0x5C1_15E6;
    fn magic(&self) -> u32 {
        self.magic
    }
}

impl LocalSeg {
    /// Gives an empty segment (handle `h`) its kernel segment, starting
    /// its callback thread. On failure `seg` is dropped: the kernel segment
    /// goes and the segment stays empty.
    fn fill(&self, h: Handle, seg: rs::LocalSegment) -> CResult<()> {
        let seg = Arc::new(seg);
        if let Some(cb) = self.cb {
            let w = watch(h, seg.clone(), cb, self.cb_arg).map_err(|_| SCI_ERR_NOSPC)?;
            *lock(&self.watcher) = Some(w);
        }
        self.seg.set(seg).map_err(|_| SCI_ERR_ILLEGAL_OPERATION)
    }

    /// The kernel segment; `SCI_ERR_ILLEGAL_OPERATION` for an empty
    /// segment (no memory registered yet).
    pub fn seg(&self) -> CResult<&Arc<rs::LocalSegment>> {
        self.seg.get().ok_or(SCI_ERR_ILLEGAL_OPERATION)
    }

    /// The segment's id: the kernel's, or for an empty segment the
    /// requested one (0 with `SCI_FLAG_AUTO_ID`: the kernel picks it at
    /// registration).
    fn id(&self) -> u32 {
        match (self.seg.get(), &self.empty) {
            (Some(s), _) => s.id(),
            (
                None,
                Some(Empty {
                    id: rs::Id::Fixed(n),
                    ..
                }),
            ) => *n,
            (None, _) => 0,
        }
    }

    /// The segment's size: the kernel's (rounded up to pages), or for an
    /// empty segment the size the registered memory must have.
    fn size(&self) -> usize {
        match self.seg.get() {
            Some(s) => s.size() as usize,
            None => page_round(self.size).unwrap_or(0),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p).ok().filter(|&p| p > 0).unwrap_or(4096)
}

/// `size` rounded up to pages, as the kernel rounds a segment's size.
fn page_round(size: usize) -> Option<usize> {
    let p = page_size();
    size.checked_next_multiple_of(p)
}

/// Checks memory offered to an empty segment of `seg_size` bytes: a
/// page-aligned address (`SCI_ERR_OFFSET_ALIGNMENT`), a whole number of
/// pages (`SCI_ERR_SIZE_ALIGNMENT`) equal to the segment's size rounded up
/// to pages (`SCI_ERR_ILLEGAL_PARAMETER`).
fn check_user_memory(addr: usize, size: usize, seg_size: usize) -> CResult<()> {
    let page = page_size();
    if addr == 0 {
        return Err(SCI_ERR_ILLEGAL_PARAMETER);
    }
    if !addr.is_multiple_of(page) {
        return Err(SCI_ERR_OFFSET_ALIGNMENT);
    }
    if size == 0 || !size.is_multiple_of(page) {
        return Err(SCI_ERR_SIZE_ALIGNMENT);
    }
    if Some(size) != page_round(seg_size) || addr.checked_add(size).is_none() {
        return Err(SCI_ERR_ILLEGAL_PARAMETER);
    }
    Ok(())
}

/// Starts the callback thread of segment handle `h`.
fn watch(
    h: Handle,
    seg: Arc<rs::LocalSegment>,
    cb: unsafe extern "C" fn(
        *mut c_void,
        Handle,
        sci_segment_cb_reason_t,
        c_uint,
        c_uint,
        sci_error_t,
    ) -> sci_callback_action_t,
    arg: SendPtr,
) -> std::io::Result<Watcher> {
    let hp = SendPtr(h);
    Watcher::spawn(move || match seg.wait_event(Some(POLL)) {
        Ok(ev) => {
            let (r, node) = reason(ev);
            // SAFETY: the application's callback with its own argument.
            let a = unsafe { cb(arg.get(), hp.get(), r, node, 0, SCI_ERR_OK) };
            a != SCI_CALLBACK_CANCEL
        }
        Err(e) => e.is_timeout() || e.errno() == libc::EINTR,
    })
}

/// `sci_remote_segment_t`.
#[repr(C)]
pub struct RemoteSeg {
    magic: u32,
    pub seg: Arc<rs::RemoteSegment>,
    pub maps: Arc<AtomicUsize>,
    /// A connection to a multicast group (`SCI_FLAG_BROADCAST`).
    pub multicast: bool,
    watcher: Option<Watcher>,
}

impl Object for RemoteSeg {
    const MAGIC: u32 = 0x5C1_25E6;
    fn magic(&self) -> u32 {
        self.magic
    }
}

/// A `sci_remote_segment_t` for a connection made by another module
/// (SmartIO's device segments): no callback.
pub fn remote_handle(seg: Arc<rs::RemoteSegment>) -> Handle {
    into_handle(RemoteSeg {
        magic: RemoteSeg::MAGIC,
        seg,
        maps: Arc::new(AtomicUsize::new(0)),
        multicast: false,
        watcher: None,
    })
}

/// A segment event's reason and the SISCI node id of the node it came from.
fn reason(e: rs::SegmentEvent) -> (sci_segment_cb_reason_t, c_uint) {
    let (r, node) = match e {
        rs::SegmentEvent::Connect { node } => (SCI_CB_CONNECT, node),
        rs::SegmentEvent::Disconnect { node } => (SCI_CB_DISCONNECT, node),
        rs::SegmentEvent::Lost { node } => (SCI_CB_LOST, node),
        rs::SegmentEvent::Other { node, .. } => (SCI_CB_NOT_OPERATIONAL, node),
    };
    (r, nodeid::to_sisci(node))
}

/// `SCICreateSegment`. Flags: `SCI_FLAG_AUTO_ID`, `SCI_FLAG_BROADCAST`
/// (segment id = multicast group), `SCI_FLAG_USE_CALLBACK`, `SCI_FLAG_EMPTY`
/// (no memory until `SCIRegisterSegmentMemory`; not with `BROADCAST`).
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
        let empty = flags & SCI_FLAG_EMPTY != 0;
        // DMA_GLOBAL: every segment is a source and target of the
        // adapter's DMA engine already.
        check_flags_with(
            flags,
            SCI_FLAG_AUTO_ID
                | SCI_FLAG_BROADCAST
                | SCI_FLAG_USE_CALLBACK
                | SCI_FLAG_EMPTY
                | SCI_FLAG_DMA_GLOBAL,
            SCI_FLAG_PRIVATE | SCI_FLAG_ALLOW_UNICAST,
        )?;
        if empty && flags & SCI_FLAG_BROADCAST != 0 {
            return Err(SCI_ERR_FLAG_NOT_IMPLEMENTED);
        }
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
        let seg = OnceLock::new();
        let empty = if empty {
            // Refuse now a size registration could never match (the
            // kernel's limit); a bad id is the kernel's to refuse.
            if size as u64 > rs::abi::SISCI_MAX_SEGMENT_SIZE {
                return Err(SCI_ERR_ILLEGAL_PARAMETER);
            }
            Some(Empty {
                sd: d.sd.clone(),
                id,
            })
        } else {
            let opts = rs::SegmentFlags {
                any_user: true,
                multicast: flags & SCI_FLAG_BROADCAST != 0,
            };
            let s = rs::LocalSegment::create_with(&d.sd, id, size as u64, opts).map_err(from_rs)?;
            let _ = seg.set(Arc::new(s));
            None
        };
        let h = into_handle(LocalSeg {
            magic: LocalSeg::MAGIC,
            seg,
            empty,
            size,
            cb,
            cb_arg: SendPtr(callback_arg),
            maps: Arc::new(AtomicUsize::new(0)),
            register: Mutex::new(()),
            watcher: Mutex::new(None),
        });
        // SAFETY: `h` was just made by `into_handle` for a LocalSeg.
        let s = unsafe { borrow::<LocalSeg>(h)? };
        if let (Some(cb), Some(seg)) = (cb, s.seg.get()) {
            match watch(h, seg.clone(), cb, s.cb_arg) {
                Ok(w) => *lock(&s.watcher) = Some(w),
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

/// `SCIRegisterSegmentMemory`: makes `size` bytes of the caller's memory at
/// `address` the memory of `segment` (created with `SCI_FLAG_EMPTY`). The
/// pages are pinned until `SCIRemoveSegment`. `address` page-aligned
/// (`SCI_ERR_OFFSET_ALIGNMENT`), `size` a whole number of pages
/// (`SCI_ERR_SIZE_ALIGNMENT`) equal to the segment's size rounded up to
/// pages (`SCI_ERR_ILLEGAL_PARAMETER`). A segment with memory already
/// (registered, or not created empty): `SCI_ERR_ILLEGAL_OPERATION`.
///
/// # Safety
///
/// `segment` must be NULL or a live `sci_local_segment_t`; the memory must
/// be the caller's, writable, and stay so until the segment is removed.
#[no_mangle]
pub unsafe extern "C" fn SCIRegisterSegmentMemory(
    address: *mut c_void,
    size: usize,
    segment: Handle,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let s = unsafe { borrow::<LocalSeg>(segment)? };
        // LOCK_USER_MEM: the pages are pinned (locked) in any case.
        check_flags(flags, SCI_FLAG_LOCK_USER_MEM)?;
        let _g = lock(&s.register);
        let e = match (&s.empty, s.seg.get()) {
            (Some(e), None) => e,
            _ => return Err(SCI_ERR_ILLEGAL_OPERATION),
        };
        check_user_memory(address as usize, size, s.size)?;
        // Per SISCI's contract the memory is the application's and valid
        // until SCIRemoveSegment; this library makes no Rust references
        // into it (peers and DMA write it behind our back).
        // SAFETY: page-aligned (checked), live until removal (contract).
        let r = unsafe { rs::LocalSegment::register(&e.sd, e.id, address.cast(), size, true) };
        let seg = r.map_err(|e| match e.errno() {
            libc::EFAULT => SCI_ERR_ILLEGAL_ADDRESS,
            _ => from_rs(e),
        })?;
        s.fill(segment, seg)
    })
}

/// `SCIAttachPhysicalMemory`: makes `size` bytes of device memory at bus
/// address `ioaddress` of this node (a range of a memory BAR of a PCI
/// function here: a GPU's, an FPGA's) the memory of `segment` (created
/// with `SCI_FLAG_EMPTY`). Peers connect and map it as any segment; their
/// accesses reach the BAR through an inbound window of the adapter that is
/// open only to the nodes connected. `address` (the caller's own CPU
/// mapping, if any) and `busNo` are not needed: the kernel finds the
/// function by the address. Needs `CAP_SYS_RAWIO` (`SCI_ERR_ACCESS`).
/// `ioaddress` page-aligned and not 0 (`SCI_ERR_OFFSET_ALIGNMENT`,
/// `SCI_ERR_ILLEGAL_PARAMETER`), `size` a whole number of pages
/// (`SCI_ERR_SIZE_ALIGNMENT`) equal to the segment's size rounded up to
/// pages (`SCI_ERR_ILLEGAL_PARAMETER`); no memory BAR of a function here
/// holds the range (or it is the adapter's): `SCI_ERR_ILLEGAL_ADDRESS`. A
/// segment with memory already: `SCI_ERR_ILLEGAL_OPERATION`.
/// `SCI_FLAG_CUDA_BUFFER` (a GPU buffer by its CUDA pointer) is
/// `SCI_ERR_FLAG_NOT_IMPLEMENTED`: there is no CUDA on this platform.
///
/// # Safety
///
/// `segment` must be NULL or a live `sci_local_segment_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIAttachPhysicalMemory(
    ioaddress: u64,
    address: *mut c_void,
    bus_no: c_uint,
    size: usize,
    segment: Handle,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let s = unsafe { borrow::<LocalSeg>(segment)? };
        check_flags_with(flags, 0, SCI_FLAG_CUDA_BUFFER)?;
        let _ = (address, bus_no);
        let _g = lock(&s.register);
        let e = match (&s.empty, s.seg.get()) {
            (Some(e), None) => e,
            _ => return Err(SCI_ERR_ILLEGAL_OPERATION),
        };
        let addr = usize::try_from(ioaddress).map_err(|_| SCI_ERR_ILLEGAL_ADDRESS)?;
        check_user_memory(addr, size, s.size)?;
        let r = rs::LocalSegment::attach_phys(&e.sd, e.id, ioaddress, size as u64, true);
        let seg = r.map_err(|e| match e.errno() {
            libc::ENXIO => SCI_ERR_ILLEGAL_ADDRESS,
            _ => from_rs(e),
        })?;
        s.fill(segment, seg)
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
        let w = b.watcher.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(mut w) = w.take() {
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
unsafe fn local<'a>(
    segment: Handle,
    adapter: c_uint,
    flags: c_uint,
    allowed: c_uint,
) -> CResult<&'a LocalSeg> {
    // SAFETY: forwarded contract.
    let s = unsafe { borrow::<LocalSeg>(segment)? };
    check_adapter(adapter)?;
    check_flags(flags, allowed)?;
    Ok(s)
}

/// `SCIPrepareSegment`. `SCI_FLAG_DMA_SOURCE_ONLY` (the segment will only
/// be a DMA source) is accepted: no preparation differs for it.
/// `SCI_FLAG_BROADCAST` (Dolphin's reflective-memory demo passes it)
/// prepares a multicast segment (`SCI_ERR_ILLEGAL_PARAMETER` for another).
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
        let allowed = SCI_FLAG_DMA_SOURCE_ONLY | SCI_FLAG_BROADCAST;
        // SAFETY: caller's contract.
        let s = unsafe { local(segment, adapter, flags, allowed)? };
        let seg = s.seg()?;
        if flags & SCI_FLAG_BROADCAST != 0 && !seg.is_multicast() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        seg.prepare(adapter).map_err(from_rs)
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
        let s = unsafe { local(segment, adapter, flags, 0)? };
        let seg = s.seg().map_err(|_| SCI_ERR_SEGMENT_NOT_PREPARED)?;
        seg.set_available().map_err(not_prepared)
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
        let seg = s.seg().map_err(|_| SCI_ERR_SEGMENT_NOT_PREPARED)?;
        seg.set_unavailable().map_err(not_prepared)
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
        if s.cb.is_some() {
            return Err(SCI_ERR_ILLEGAL_OPERATION);
        }
        let seg = s.seg()?;
        let (r, node) = reason(seg.wait_event(timeout(timeout_ms)).map_err(from_rs)?);
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
            .map(LocalSeg::id)
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
            .map(LocalSeg::size)
    })
}

/// `SCIConnectSegment`. Flags: `SCI_FLAG_BROADCAST` (or node
/// `DIS_BROADCAST_NODEID_GROUP_ALL`): connect to multicast group
/// `segment_id` (the node id is not used); `SCI_FLAG_USE_CALLBACK`. A node
/// id that names no node (docs/sisci.md, "Node ids"):
/// `SCI_ERR_ILLEGAL_PARAMETER`, as for a node beyond the fabric.
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
        check_flags_with(
            flags,
            SCI_FLAG_BROADCAST | SCI_FLAG_USE_CALLBACK,
            SCI_FLAG_ASYNCHRONOUS_CONNECT,
        )?;
        let cb = if flags & SCI_FLAG_USE_CALLBACK != 0 {
            Some(callback.ok_or(SCI_ERR_ILLEGAL_PARAMETER)?)
        } else {
            None
        };
        let t = timeout(timeout_ms);
        let multicast =
            flags & SCI_FLAG_BROADCAST != 0 || node_id == DIS_BROADCAST_NODEID_GROUP_ALL;
        let r = if multicast {
            rs::RemoteSegment::connect_multicast(&d.sd, segment_id, t)
        } else {
            let node = nodeid::to_rsio(node_id).ok_or(SCI_ERR_ILLEGAL_PARAMETER)?;
            rs::RemoteSegment::connect(&d.sd, node, segment_id, t)
        };
        let seg = Arc::new(r.map_err(from_rs)?);
        let h = into_handle(RemoteSeg {
            magic: RemoteSeg::MAGIC,
            seg: seg.clone(),
            maps: Arc::new(AtomicUsize::new(0)),
            multicast,
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
        if let Some(b) = unsafe { crate::smartio::bar(segment) } {
            // SAFETY: `b` is `segment`'s.
            return unsafe { crate::smartio::disconnect_bar(segment, b, flags) };
        }
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
        if let Some(b) = unsafe { crate::smartio::bar(segment) } {
            return Some(b.size());
        }
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
        if let Some(b) = unsafe { crate::smartio::bar(segment) } {
            return Some(b.id());
        }
        // SAFETY: caller's contract.
        unsafe { borrow::<RemoteSeg>(segment) }
            .ok()
            .map(|s| s.seg.id())
    })
}

/// `SCIGetRemoteSegmentNodeId`: the owner's SISCI node id (a device BAR:
/// the lender's; a multicast connection: `DIS_BROADCAST_NODEID_GROUP_ALL`;
/// 0 for a bad handle).
///
/// # Safety
///
/// `segment` must be NULL or a live `sci_remote_segment_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIGetRemoteSegmentNodeId(segment: Handle) -> c_uint {
    call_quiet(0, || {
        // SAFETY: caller's contract.
        if let Some(b) = unsafe { crate::smartio::bar(segment) } {
            return Some(b.node());
        }
        // SAFETY: caller's contract.
        unsafe { borrow::<RemoteSeg>(segment) }.ok().map(|s| {
            if s.multicast {
                DIS_BROADCAST_NODEID_GROUP_ALL
            } else {
                nodeid::to_sisci(s.seg.node())
            }
        })
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
        if unsafe { crate::smartio::bar(segment) }.is_some() {
            return crate::smartio::wait_bar_event(status, timeout_ms, flags);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desc::{test_desc, SCIClose};
    use crate::map::SCIMapLocalSegment;

    /// A page-aligned buffer of `pages` pages.
    struct Buf(*mut c_void);

    impl Buf {
        fn new(pages: usize) -> Buf {
            let len = pages * page_size();
            let mut p = std::ptr::null_mut();
            // SAFETY: `p` is a valid out pointer; the alignment is a power of two multiple of the pointer size.
            assert_eq!(unsafe { libc::posix_memalign(&mut p, page_size(), len) }, 0);
            Buf(p)
        }
        fn at(&self, off: usize) -> *mut c_void {
            self.0.cast::<u8>().wrapping_add(off).cast()
        }
    }

    impl Drop for Buf {
        fn drop(&mut self) {
            // SAFETY: allocated by posix_memalign, freed once.
            unsafe { libc::free(self.0) };
        }
    }

    unsafe extern "C" fn cb(
        _arg: *mut c_void,
        _seg: Handle,
        _r: sci_segment_cb_reason_t,
        _node: c_uint,
        _adapter: c_uint,
        _e: sci_error_t,
    ) -> sci_callback_action_t {
        SCI_CALLBACK_CONTINUE
    }

    fn create(sd: Handle, id: c_uint, size: usize, flags: c_uint) -> (Handle, sci_error_t) {
        let mut e = SCI_ERR_OK;
        let mut h: Handle = std::ptr::null_mut();
        // SAFETY: live descriptor, valid out pointers.
        unsafe {
            SCICreateSegment(
                sd,
                &mut h,
                id,
                size,
                Some(cb),
                std::ptr::null_mut(),
                flags,
                &mut e,
            )
        };
        (h, e)
    }

    fn register(h: Handle, addr: *mut c_void, size: usize, flags: c_uint) -> sci_error_t {
        let mut e = SCI_ERR_OK;
        // SAFETY: `h` NULL or live; the memory is a live test buffer (or refused before use).
        unsafe { SCIRegisterSegmentMemory(addr, size, h, flags, &mut e) };
        e
    }

    #[test]
    fn user_memory_checks() {
        let p = page_size();
        assert_eq!(page_round(1), Some(p));
        assert_eq!(page_round(p), Some(p));
        assert_eq!(page_round(usize::MAX), None);
        assert_eq!(check_user_memory(p, p, 1), Ok(()));
        assert_eq!(check_user_memory(p, 2 * p, 2 * p), Ok(()));
        assert_eq!(check_user_memory(0, p, p), Err(SCI_ERR_ILLEGAL_PARAMETER));
        assert_eq!(
            check_user_memory(p + 8, p, p),
            Err(SCI_ERR_OFFSET_ALIGNMENT)
        );
        assert_eq!(check_user_memory(p, 100, 100), Err(SCI_ERR_SIZE_ALIGNMENT));
        assert_eq!(check_user_memory(p, 0, p), Err(SCI_ERR_SIZE_ALIGNMENT));
        assert_eq!(
            check_user_memory(p, p, 2 * p),
            Err(SCI_ERR_ILLEGAL_PARAMETER)
        );
        assert_eq!(
            check_user_memory(p, 2 * p, p),
            Err(SCI_ERR_ILLEGAL_PARAMETER)
        );
        let top = usize::MAX - p + 1;
        assert_eq!(check_user_memory(top, p, p), Err(SCI_ERR_ILLEGAL_PARAMETER));
    }

    #[test]
    fn empty_segment_state_machine() {
        let sd = test_desc();
        let p = page_size();
        let mut e = SCI_ERR_OK;

        // Flags that do not combine with SCI_FLAG_EMPTY; a zero size.
        let (_, err) = create(sd, 1, p, SCI_FLAG_EMPTY | SCI_FLAG_BROADCAST);
        assert_eq!(err, SCI_ERR_FLAG_NOT_IMPLEMENTED);
        let (_, err) = create(sd, 1, 0, SCI_FLAG_EMPTY);
        assert_eq!(err, SCI_ERR_ILLEGAL_PARAMETER);
        let too_big = rs::abi::SISCI_MAX_SEGMENT_SIZE as usize + 1;
        let (_, err) = create(sd, 1, too_big, SCI_FLAG_EMPTY);
        assert_eq!(err, SCI_ERR_ILLEGAL_PARAMETER);

        // An empty segment needs no kernel: /dev/null will do.
        let (h, err) = create(sd, 77, 3 * p - 100, SCI_FLAG_EMPTY | SCI_FLAG_USE_CALLBACK);
        assert_eq!(err, SCI_ERR_OK);
        assert!(!h.is_null());
        // SAFETY: live handle.
        unsafe {
            assert_eq!(SCIGetLocalSegmentId(h), 77);
            assert_eq!(SCIGetLocalSegmentSize(h), 3 * p);
        }
        // The descriptor is busy while the empty segment exists.
        // SAFETY: live descriptor.
        unsafe { SCIClose(sd, 0, &mut e) };
        assert_eq!(e, SCI_ERR_BUSY);

        // Everything but registration is refused, nothing crashes.
        // SAFETY: live handle.
        unsafe { SCIPrepareSegment(h, 0, 0, &mut e) };
        assert_eq!(e, SCI_ERR_ILLEGAL_OPERATION);
        // SAFETY: live handle.
        unsafe { SCISetSegmentAvailable(h, 0, 0, &mut e) };
        assert_eq!(e, SCI_ERR_SEGMENT_NOT_PREPARED);
        // SAFETY: live handle.
        unsafe { SCISetSegmentUnavailable(h, 0, 0, &mut e) };
        assert_eq!(e, SCI_ERR_SEGMENT_NOT_PREPARED);
        let mut m: Handle = std::ptr::null_mut();
        // SAFETY: live handle, valid out pointer.
        let a = unsafe { SCIMapLocalSegment(h, &mut m, 0, p, std::ptr::null_mut(), 0, &mut e) };
        assert!(a.is_null() && m.is_null());
        assert_eq!(e, SCI_ERR_ILLEGAL_OPERATION);
        let (mut node, mut ad) = (0, 0);
        // SAFETY: live handle, valid out pointers.
        unsafe { SCIWaitForLocalSegmentEvent(h, &mut node, &mut ad, 0, 0, &mut e) };
        assert_eq!(e, SCI_ERR_ILLEGAL_OPERATION);

        // Registration's checks.
        let buf = Buf::new(4);
        assert_eq!(
            register(h, buf.0, 3 * p, SCI_FLAG_BROADCAST),
            SCI_ERR_ILLEGAL_FLAG
        );
        assert_eq!(
            register(std::ptr::null_mut(), buf.0, 3 * p, 0),
            SCI_ERR_ILLEGAL_PARAMETER
        );
        assert_eq!(
            register(h, std::ptr::null_mut(), 3 * p, 0),
            SCI_ERR_ILLEGAL_PARAMETER
        );
        assert_eq!(register(h, buf.at(64), 3 * p, 0), SCI_ERR_OFFSET_ALIGNMENT);
        assert_eq!(register(h, buf.0, 3 * p - 100, 0), SCI_ERR_SIZE_ALIGNMENT);
        assert_eq!(register(h, buf.0, 2 * p, 0), SCI_ERR_ILLEGAL_PARAMETER);
        assert_eq!(register(h, buf.0, 4 * p, 0), SCI_ERR_ILLEGAL_PARAMETER);
        // Valid memory reaches the kernel: /dev/null is not rsio_sisci,
        // and the segment stays empty (registration may be retried).
        assert_eq!(register(h, buf.0, 3 * p, 0), SCI_ERR_INCONSISTENT_VERSIONS);
        // SAFETY: live handle.
        unsafe { SCIPrepareSegment(h, 0, 0, &mut e) };
        assert_eq!(e, SCI_ERR_ILLEGAL_OPERATION);

        // SAFETY: live handle, removed once.
        unsafe { SCIRemoveSegment(h, 0, &mut e) };
        assert_eq!(e, SCI_ERR_OK);
        // SAFETY: live descriptor, closed once.
        unsafe { SCIClose(sd, 0, &mut e) };
        assert_eq!(e, SCI_ERR_OK);
    }

    #[test]
    fn flag_classes() {
        let sd = test_desc();
        let p = page_size();
        let mut e = SCI_ERR_OK;
        // Public flags not offered, values meaning nothing for the call.
        let (_, err) = create(sd, 1, p, SCI_FLAG_PRIVATE);
        assert_eq!(err, SCI_ERR_FLAG_NOT_IMPLEMENTED);
        let (_, err) = create(sd, 1, p, SCI_FLAG_BROADCAST | SCI_FLAG_ALLOW_UNICAST);
        assert_eq!(err, SCI_ERR_FLAG_NOT_IMPLEMENTED);
        let (_, err) = create(sd, 1, p, SCI_FLAG_PRIVATE | 0x4000_0000);
        assert_eq!(err, SCI_ERR_ILLEGAL_FLAG);
        let (_, err) = create(sd, 1, p, SCI_FLAG_DMA_READ);
        assert_eq!(err, SCI_ERR_ILLEGAL_FLAG);
        // DMA_GLOBAL is met by construction.
        let (h, err) = create(sd, 3, p, SCI_FLAG_EMPTY | SCI_FLAG_DMA_GLOBAL);
        assert_eq!(err, SCI_ERR_OK);
        // SAFETY: live handle.
        unsafe {
            // Flags pass, the empty segment does not.
            SCIPrepareSegment(h, 0, SCI_FLAG_DMA_SOURCE_ONLY, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_OPERATION);
            SCIPrepareSegment(h, 0, SCI_FLAG_DMA_READ, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_FLAG);
            SCISetSegmentAvailable(h, 0, SCI_FLAG_DMA_SOURCE_ONLY, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_FLAG);
        }
        // LOCK_USER_MEM passes the checks and reaches the (fake) kernel.
        let buf = Buf::new(1);
        assert_eq!(
            register(h, buf.0, p, SCI_FLAG_LOCK_USER_MEM),
            SCI_ERR_INCONSISTENT_VERSIONS
        );
        let connect = |flags, e: &mut sci_error_t| {
            let mut r: Handle = std::ptr::null_mut();
            // SAFETY: live descriptor, valid out pointers.
            unsafe {
                SCIConnectSegment(sd, &mut r, 1, 1, 0, None, std::ptr::null_mut(), 0, flags, e)
            };
            assert!(r.is_null());
        };
        connect(SCI_FLAG_ASYNCHRONOUS_CONNECT, &mut e);
        assert_eq!(e, SCI_ERR_FLAG_NOT_IMPLEMENTED);
        connect(SCI_FLAG_DMA_WAIT, &mut e);
        assert_eq!(e, SCI_ERR_ILLEGAL_FLAG);
        connect(SCI_FLAG_USE_CALLBACK, &mut e);
        assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
        // SAFETY: live handles, removed/closed once.
        unsafe {
            SCIRemoveSegment(h, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            SCIClose(sd, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
        }
    }

    #[test]
    fn connect_translates_node_ids() {
        let sd = test_desc();
        let mut e = SCI_ERR_OK;
        let connect = |node, flags, e: &mut sci_error_t| {
            let mut r: Handle = std::ptr::null_mut();
            // SAFETY: live descriptor, valid out pointers.
            unsafe {
                SCIConnectSegment(
                    sd,
                    &mut r,
                    node,
                    1,
                    0,
                    None,
                    std::ptr::null_mut(),
                    0,
                    flags,
                    e,
                )
            };
            assert!(r.is_null());
        };
        for id in [0, 1, 3, 6, 68, 0xffff_fffc] {
            connect(id, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER, "{id}");
        }
        for id in [4, 8, 64] {
            connect(id, 0, &mut e);
            assert_eq!(e, SCI_ERR_INCONSISTENT_VERSIONS, "{id}");
        }
        // A multicast connection does not use the node id.
        connect(DIS_BROADCAST_NODEID_GROUP_ALL, 0, &mut e);
        assert_eq!(e, SCI_ERR_INCONSISTENT_VERSIONS);
        connect(0, SCI_FLAG_BROADCAST, &mut e);
        assert_eq!(e, SCI_ERR_INCONSISTENT_VERSIONS);
        // SAFETY: live descriptor, closed once.
        unsafe { SCIClose(sd, 0, &mut e) };
        assert_eq!(e, SCI_ERR_OK);
    }

    #[test]
    fn segment_events_carry_sisci_node_ids() {
        let (r, n) = reason(rs::SegmentEvent::Connect { node: 0 });
        assert_eq!((r, n), (SCI_CB_CONNECT, 4));
        let (r, n) = reason(rs::SegmentEvent::Disconnect { node: 2 });
        assert_eq!((r, n), (SCI_CB_DISCONNECT, 12));
        let (r, n) = reason(rs::SegmentEvent::Lost { node: 15 });
        assert_eq!((r, n), (SCI_CB_LOST, 64));
    }

    #[test]
    fn auto_id_empty_segment() {
        let sd = test_desc();
        let mut e = SCI_ERR_OK;
        let (h, err) = create(sd, 5, 1, SCI_FLAG_EMPTY | SCI_FLAG_AUTO_ID);
        assert_eq!(err, SCI_ERR_OK);
        // SAFETY: live handle.
        unsafe {
            assert_eq!(SCIGetLocalSegmentId(h), 0);
            assert_eq!(SCIGetLocalSegmentSize(h), page_size());
        }
        // SAFETY: live handle, removed once.
        unsafe { SCIRemoveSegment(h, 0, &mut e) };
        assert_eq!(e, SCI_ERR_OK);
        // SAFETY: live descriptor, closed once.
        unsafe { SCIClose(sd, 0, &mut e) };
        assert_eq!(e, SCI_ERR_OK);
    }

    #[test]
    fn register_refuses_other_handles() {
        // (A segment that has memory needs the kernel: the cluster's
        // sisci-c-smoke checks that registering it is illegal.)
        let buf = Buf::new(1);
        assert_eq!(
            register(std::ptr::null_mut(), buf.0, page_size(), 0),
            SCI_ERR_ILLEGAL_PARAMETER
        );
        let sd = test_desc();
        let (h, err) = create(sd, 9, page_size(), SCI_FLAG_EMPTY);
        assert_eq!(err, SCI_ERR_OK);
        // A descriptor is not a segment.
        assert_eq!(
            register(sd, buf.0, page_size(), 0),
            SCI_ERR_ILLEGAL_PARAMETER
        );
        let mut e = SCI_ERR_OK;
        // SAFETY: live handle, removed once.
        unsafe { SCIRemoveSegment(h, 0, &mut e) };
        assert_eq!(e, SCI_ERR_OK);
        // SAFETY: live descriptor, closed once.
        unsafe { SCIClose(sd, 0, &mut e) };
        assert_eq!(e, SCI_ERR_OK);
    }
}
