// SPDX-License-Identifier: GPL-2.0

//! Mappings, sequences and PIO helpers (SCIMemCpy, SCIFlush...).

use crate::errors::from_rs;
use crate::ffi::*;
use crate::segment::{LocalSeg, RemoteSeg};
use crate::types::*;
use std::ffi::{c_uint, c_void};
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

/// `sci_map_t`.
#[repr(C)]
pub struct Map {
    magic: u32,
    map: Arc<rs::Mapping>,
    /// The segment's count of live maps.
    maps: Arc<AtomicUsize>,
}

impl Object for Map {
    const MAGIC: u32 = 0x5C1_3A95;
    fn magic(&self) -> u32 {
        self.magic
    }
}

/// `sci_sequence_t`.
///
/// It does not keep its map: `SCIUnmapSegment` unmaps while sequences of
/// the map exist (public programs unmap and leak them), and a sequence
/// whose map is gone fails (`SCI_ERR_ILLEGAL_OPERATION`). Nor is it an
/// object of the descriptor for `SCIClose`.
#[repr(C)]
pub struct Sequence {
    magic: u32,
    map: Weak<rs::Mapping>,
}

impl Object for Sequence {
    const MAGIC: u32 = 0x5C1_5E90;
    fn magic(&self) -> u32 {
        self.magic
    }
}

/// Flags of both map calls: `READONLY_MAP` (remote: a read-only mapping;
/// local: accepted, the mapping is the segment's), `SHARED_MAP` and
/// `NO_MEMORY_LOOPBACK` (met by construction: mappings are shared, and a
/// connection to a segment of this node goes through the adapter too).
const MAP_FLAGS: c_uint = SCI_FLAG_READONLY_MAP | SCI_FLAG_SHARED_MAP | SCI_FLAG_NO_MEMORY_LOOPBACK;

/// Flags only `SCIMapRemoteSegment` takes: `IO_MAP_IOSPACE` (no read
/// prefetch or speculative hold in the adapter: the direct window has no
/// adapter read buffers, multicast slots are mapped uncached) and
/// `BROADCAST` (the connection is to a multicast group).
const REMOTE_MAP_FLAGS: c_uint = SCI_FLAG_IO_MAP_IOSPACE | SCI_FLAG_BROADCAST;

/// Map flags of the public API this library does not offer: a fixed
/// address, lock (fetch-and-add) and interrupt mappings, cached maps.
const MAP_NOT_IMPLEMENTED: c_uint = SCI_FLAG_FIXED_MAP_ADDR
    | SCI_FLAG_LOCK_OPERATION
    | SCI_FLAG_CONDITIONAL_INTERRUPT_MAP
    | SCI_FLAG_UNCONDITIONAL_DATA_INTERRUPT_MAP
    | SCI_FLAG_WRITE_BACK_CACHE_MAP;

/// Registers a new mapping and writes its handle.
///
/// # Safety
///
/// `map` must be valid for a write (checked not NULL by the caller).
unsafe fn finish(
    map: *mut Handle,
    m: rs::Mapping,
    maps: &Arc<AtomicUsize>,
) -> CResult<*mut c_void> {
    let p = m.as_ptr().cast::<c_void>();
    maps.fetch_add(1, Ordering::AcqRel);
    let h = into_handle(Map {
        magic: Map::MAGIC,
        map: Arc::new(m),
        maps: maps.clone(),
    });
    // SAFETY: `map` was checked not NULL by the caller.
    unsafe { out(map, h)? };
    Ok(p)
}

/// Checks a map call's arguments. `addr` without `SCI_FLAG_FIXED_MAP_ADDR`
/// is a suggestion the public API lets the library ignore (this one does).
fn check_map_args(map: *mut Handle, flags: c_uint, allowed: c_uint) -> CResult<()> {
    if map.is_null() {
        return Err(SCI_ERR_ILLEGAL_PARAMETER);
    }
    check_flags_with(flags, allowed, MAP_NOT_IMPLEMENTED)
}

fn map_err(e: rs::Error) -> sci_error_t {
    if e.errno() == libc::ERANGE {
        SCI_ERR_OUT_OF_RANGE
    } else {
        from_rs(e)
    }
}

/// `SCIMapLocalSegment`: the address of the mapping, or NULL.
///
/// # Safety
///
/// `segment` a live `sci_local_segment_t`; `map` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn SCIMapLocalSegment(
    segment: Handle,
    map: *mut Handle,
    offset: usize,
    size: usize,
    addr: *mut c_void,
    flags: c_uint,
    error: *mut sci_error_t,
) -> *mut c_void {
    call(error, std::ptr::null_mut(), || {
        // SAFETY: caller's contract.
        let s = unsafe { borrow::<LocalSeg>(segment)? };
        let _ = addr;
        check_map_args(map, flags, MAP_FLAGS)?;
        let m = s.seg()?.map(offset as u64, size as u64).map_err(map_err)?;
        // SAFETY: `map` checked not NULL.
        unsafe { finish(map, m, &s.maps) }
    })
}

/// `SCIMapRemoteSegment`: the address of the mapping, or NULL.
///
/// # Safety
///
/// `segment` a live `sci_remote_segment_t`; `map` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn SCIMapRemoteSegment(
    segment: Handle,
    map: *mut Handle,
    offset: usize,
    size: usize,
    addr: *mut c_void,
    flags: c_uint,
    error: *mut sci_error_t,
) -> *mut c_void {
    call(error, std::ptr::null_mut(), || {
        // SAFETY: caller's contract.
        if let Some(b) = unsafe { crate::smartio::bar(segment) } {
            // A device's BAR.
            check_map_args(
                map,
                flags,
                MAP_FLAGS | crate::smartio::SCI_FLAG_IO_MAP_IOSPACE,
            )?;
            let writable = flags & SCI_FLAG_READONLY_MAP == 0;
            let m = b.map(offset as u64, size as u64, writable)?;
            // SAFETY: `map` checked not NULL.
            return unsafe { finish(map, m, &b.maps) };
        }
        // SAFETY: caller's contract.
        let s = unsafe { borrow::<RemoteSeg>(segment)? };
        let _ = addr;
        check_map_args(map, flags, MAP_FLAGS | REMOTE_MAP_FLAGS)?;
        if flags & SCI_FLAG_BROADCAST != 0 && !s.multicast {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        let writable = flags & SCI_FLAG_READONLY_MAP == 0;
        let m = s
            .seg
            .map_with(offset as u64, size as u64, writable)
            .map_err(map_err)?;
        // SAFETY: `map` checked not NULL.
        unsafe { finish(map, m, &s.maps) }
    })
}

/// `SCIUnmapSegment`.
///
/// # Safety
///
/// `map` must be NULL or a live `sci_map_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIUnmapSegment(map: Handle, flags: c_uint, error: *mut sci_error_t) {
    call(error, (), || {
        // SAFETY: caller's contract.
        unsafe { borrow::<Map>(map)? };
        check_flags(flags, 0)?;
        // SAFETY: checked by `borrow`; not used afterwards.
        let m = unsafe { take::<Map>(map) };
        m.maps.fetch_sub(1, Ordering::AcqRel);
        Ok(())
    })
}

/// `SCIGetMapPointer`: the mapped address (NULL for a bad handle).
///
/// # Safety
///
/// `map` must be NULL or a live `sci_map_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIGetMapPointer(map: Handle) -> *mut c_void {
    call_quiet(std::ptr::null_mut(), || {
        // SAFETY: caller's contract.
        unsafe { borrow::<Map>(map) }
            .ok()
            .map(|m| m.map.as_ptr().cast())
    })
}

/// `SCICreateMapSequence`.
///
/// # Safety
///
/// `map` a live `sci_map_t`; `sequence` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn SCICreateMapSequence(
    map: Handle,
    sequence: *mut Handle,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let m = unsafe { borrow::<Map>(map)? };
        if sequence.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_flags(flags, SCI_FLAG_FAST_BARRIER)?;
        let h = into_handle(Sequence {
            magic: Sequence::MAGIC,
            map: Arc::downgrade(&m.map),
        });
        // SAFETY: checked not NULL.
        unsafe { out(sequence, h) }
    })
}

/// `SCIRemoveSequence`.
///
/// # Safety
///
/// `sequence` must be NULL or a live `sci_sequence_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIRemoveSequence(
    sequence: Handle,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        unsafe { borrow::<Sequence>(sequence)? };
        check_flags(flags, 0)?;
        // SAFETY: checked; not used afterwards.
        drop(unsafe { take::<Sequence>(sequence) });
        Ok(())
    })
}

fn seq_status(s: &Sequence) -> CResult<sci_sequence_status_t> {
    fence(Ordering::SeqCst);
    let map = s.map.upgrade().ok_or(SCI_ERR_ILLEGAL_OPERATION)?;
    match map.connection_lost() {
        Ok(false) => Ok(SCI_SEQ_OK),
        Ok(true) => Err(SCI_ERR_NOT_CONNECTED),
        Err(e) => Err(from_rs(e)),
    }
}

/// `SCIStartSequence`: `SCI_SEQ_OK` unless the connection is lost.
///
/// # Safety
///
/// `sequence` must be NULL or a live `sci_sequence_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIStartSequence(
    sequence: Handle,
    flags: c_uint,
    error: *mut sci_error_t,
) -> sci_sequence_status_t {
    call(error, SCI_SEQ_NOT_RETRIABLE, || {
        // SAFETY: caller's contract.
        let s = unsafe { borrow::<Sequence>(sequence)? };
        check_flags(flags, 0)?;
        seq_status(s)
    })
}

/// `SCICheckSequence`: `SCI_SEQ_OK` unless the connection is lost
/// (then `SCI_SEQ_NOT_RETRIABLE` and `SCI_ERR_NOT_CONNECTED`).
///
/// # Safety
///
/// `sequence` must be NULL or a live `sci_sequence_t`.
#[no_mangle]
pub unsafe extern "C" fn SCICheckSequence(
    sequence: Handle,
    flags: c_uint,
    error: *mut sci_error_t,
) -> sci_sequence_status_t {
    call(error, SCI_SEQ_NOT_RETRIABLE, || {
        // SAFETY: caller's contract.
        let s = unsafe { borrow::<Sequence>(sequence)? };
        check_flags(flags, SCI_FLAG_NO_FLUSH | SCI_FLAG_NO_STORE_BARRIER)?;
        seq_status(s)
    })
}

/// `SCIStoreBarrier`: a store fence.
#[no_mangle]
pub extern "C" fn SCIStoreBarrier(_sequence: Handle, _flags: c_uint) {
    fence(Ordering::SeqCst);
}

/// `SCIFlush`: a store fence.
#[no_mangle]
pub extern "C" fn SCIFlush(_sequence: Handle, _flags: c_uint) {
    fence(Ordering::SeqCst);
}

/// `SCIMemCpy`: copies `size` bytes from `mem_addr` into `remote_map` at
/// `remote_offset` (bounds-checked), then a store barrier unless
/// `SCI_FLAG_NO_STORE_BARRIER`; `SCI_FLAG_ERROR_CHECK` checks the sequence.
/// `SCI_FLAG_BLOCK_READ` copies the other way (map to memory).
///
/// # Safety
///
/// `mem_addr` valid for `size` bytes; handles NULL or live.
#[no_mangle]
pub unsafe extern "C" fn SCIMemCpy(
    sequence: Handle,
    mem_addr: *mut c_void,
    remote_map: Handle,
    remote_offset: usize,
    size: usize,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let m = unsafe { borrow::<Map>(remote_map)? };
        if mem_addr.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_flags(
            flags,
            SCI_FLAG_ERROR_CHECK
                | SCI_FLAG_NO_FLUSH
                | SCI_FLAG_NO_STORE_BARRIER
                | SCI_FLAG_BLOCK_READ,
        )?;
        // SAFETY: `mem_addr` holds `size` bytes per the contract.
        let buf = unsafe { std::slice::from_raw_parts_mut(mem_addr.cast::<u8>(), size) };
        if flags & SCI_FLAG_BLOCK_READ != 0 {
            m.map.read(remote_offset, buf).map_err(map_err)?;
        } else {
            m.map.write(remote_offset, buf).map_err(map_err)?;
        }
        if flags & SCI_FLAG_NO_STORE_BARRIER == 0 {
            fence(Ordering::SeqCst);
        }
        if flags & SCI_FLAG_ERROR_CHECK != 0 && !sequence.is_null() {
            // SAFETY: caller's contract.
            let s = unsafe { borrow::<Sequence>(sequence)? };
            seq_status(s)?;
        }
        Ok(())
    })
}

/// `SCIMemWrite`: copies `size` bytes to a mapped address with volatile
/// word stores, then a store barrier.
///
/// # Safety
///
/// `mem_addr` readable and `remote_addr` writable for `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn SCIMemWrite(
    mem_addr: *mut c_void,
    remote_addr: *mut c_void,
    size: usize,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        if mem_addr.is_null() || remote_addr.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_flags(flags, SCI_FLAG_NO_STORE_BARRIER | SCI_FLAG_NO_FLUSH)?;
        // SAFETY: both ranges valid for `size` bytes per the contract.
        unsafe { rs::volatile_copy(remote_addr.cast(), mem_addr.cast(), size) };
        if flags & SCI_FLAG_NO_STORE_BARRIER == 0 {
            fence(Ordering::SeqCst);
        }
        Ok(())
    })
}

/// `SCICacheSync`: makes `length` bytes at `addr` coherent
/// (`SCI_FLAG_CACHE_FLUSH`: written back; `SCI_FLAG_CACHE_INVALIDATE`: no
/// stale lines). `map`, if not NULL, must hold the range
/// (`SCI_ERR_OUT_OF_RANGE`). rsio's mappings are cache-coherent (local
/// segments are snooped RAM, remote ones uncached or write-combining), so
/// a full fence does both: it drains the store and write-combining buffers
/// and orders later loads after it.
///
/// # Safety
///
/// `map` must be NULL or a live `sci_map_t`; `addr` is not dereferenced.
#[no_mangle]
pub unsafe extern "C" fn SCICacheSync(
    map: Handle,
    addr: *mut c_void,
    length: usize,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        check_flags(flags, SCI_FLAG_CACHE_FLUSH | SCI_FLAG_CACHE_INVALIDATE)?;
        if addr.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        let start = addr as usize;
        let end = start.checked_add(length).ok_or(SCI_ERR_OUT_OF_RANGE)?;
        if !map.is_null() {
            // SAFETY: caller's contract.
            let m = unsafe { borrow::<Map>(map)? };
            let base = m.map.as_ptr() as usize;
            if start < base || end > base + m.map.len() {
                return Err(SCI_ERR_OUT_OF_RANGE);
            }
        }
        fence(Ordering::SeqCst);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_arguments() {
        let mut e = SCI_ERR_OK;
        let mut m: Handle = std::ptr::null_mut();
        // SAFETY: NULL handles are refused.
        let p = unsafe {
            SCIMapLocalSegment(
                std::ptr::null_mut(),
                &mut m,
                0,
                4096,
                std::ptr::null_mut(),
                0,
                &mut e,
            )
        };
        assert!(p.is_null());
        assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
        // SAFETY: as above.
        let p = unsafe {
            SCIMapRemoteSegment(
                std::ptr::null_mut(),
                &mut m,
                0,
                4096,
                std::ptr::null_mut(),
                0,
                &mut e,
            )
        };
        assert!(p.is_null());
        assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
        // SAFETY: as above.
        unsafe { SCIUnmapSegment(std::ptr::null_mut(), 0, &mut e) };
        assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
        // SAFETY: as above.
        unsafe {
            SCIMemCpy(
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
                8,
                0,
                &mut e,
            )
        };
        assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
        // SAFETY: as above.
        unsafe { SCIMemWrite(std::ptr::null_mut(), std::ptr::null_mut(), 8, 0, &mut e) };
        assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
        // SAFETY: as above.
        let st = unsafe { SCICheckSequence(std::ptr::null_mut(), 0, &mut e) };
        assert_eq!((st, e), (SCI_SEQ_NOT_RETRIABLE, SCI_ERR_ILLEGAL_PARAMETER));
        // SAFETY: as above.
        assert!(unsafe { SCIGetMapPointer(std::ptr::null_mut()) }.is_null());
        SCIFlush(std::ptr::null_mut(), 0);
        SCIStoreBarrier(std::ptr::null_mut(), 0);
    }

    #[test]
    fn map_flag_classes() {
        let m: *mut Handle = &mut std::ptr::null_mut();
        let local = |f| check_map_args(m, f, MAP_FLAGS);
        assert_eq!(local(SCI_FLAG_READONLY_MAP | SCI_FLAG_SHARED_MAP), Ok(()));
        assert_eq!(
            local(SCI_FLAG_FIXED_MAP_ADDR),
            Err(SCI_ERR_FLAG_NOT_IMPLEMENTED)
        );
        assert_eq!(
            local(SCI_FLAG_LOCK_OPERATION),
            Err(SCI_ERR_FLAG_NOT_IMPLEMENTED)
        );
        assert_eq!(
            local(SCI_FLAG_CONDITIONAL_INTERRUPT_MAP),
            Err(SCI_ERR_FLAG_NOT_IMPLEMENTED)
        );
        assert_eq!(local(SCI_FLAG_IO_MAP_IOSPACE), Err(SCI_ERR_ILLEGAL_FLAG));
        assert_eq!(local(SCI_FLAG_BROADCAST), Err(SCI_ERR_ILLEGAL_FLAG));
        assert_eq!(local(0x4000_0000), Err(SCI_ERR_ILLEGAL_FLAG));
        let remote = |f| check_map_args(m, f, MAP_FLAGS | REMOTE_MAP_FLAGS);
        assert_eq!(
            remote(SCI_FLAG_IO_MAP_IOSPACE | SCI_FLAG_READONLY_MAP),
            Ok(())
        );
        assert_eq!(remote(SCI_FLAG_BROADCAST), Ok(()));
        assert_eq!(
            remote(SCI_FLAG_WRITE_BACK_CACHE_MAP),
            Err(SCI_ERR_FLAG_NOT_IMPLEMENTED)
        );
        assert_eq!(
            check_map_args(std::ptr::null_mut(), 0, MAP_FLAGS),
            Err(SCI_ERR_ILLEGAL_PARAMETER)
        );
    }

    #[test]
    fn cache_sync() {
        let mut buf = [0u8; 64];
        let p = buf.as_mut_ptr().cast::<c_void>();
        let mut e = SCI_ERR_SYSTEM;
        let both = SCI_FLAG_CACHE_FLUSH | SCI_FLAG_CACHE_INVALIDATE;
        // SAFETY: a NULL map; the address is not dereferenced.
        unsafe {
            SCICacheSync(std::ptr::null_mut(), p, 64, SCI_FLAG_CACHE_FLUSH, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            SCICacheSync(std::ptr::null_mut(), p, 64, both, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            SCICacheSync(std::ptr::null_mut(), p, 64, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            SCICacheSync(std::ptr::null_mut(), p, 64, SCI_FLAG_DMA_READ, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_FLAG);
            SCICacheSync(std::ptr::null_mut(), std::ptr::null_mut(), 64, both, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCICacheSync(std::ptr::null_mut(), p, usize::MAX, both, &mut e);
            assert_eq!(e, SCI_ERR_OUT_OF_RANGE);
            // A handle that is not a map.
            let mut not_a_map = [0u64; 8];
            let h = not_a_map.as_mut_ptr().cast::<c_void>();
            SCICacheSync(h, p, 64, both, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCICacheSync(std::ptr::null_mut(), p, 8, both, std::ptr::null_mut());
        }
    }

    #[test]
    fn memwrite_copies() {
        let src = [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        let mut dst = [0u8; 11];
        let mut e = SCI_ERR_SYSTEM;
        // SAFETY: both buffers hold 11 bytes.
        unsafe {
            SCIMemWrite(
                src.as_ptr() as *mut c_void,
                dst.as_mut_ptr().cast(),
                11,
                0,
                &mut e,
            );
        }
        assert_eq!(e, SCI_ERR_OK);
        assert_eq!(src, dst);
    }
}
