// SPDX-License-Identifier: GPL-2.0

//! Mappings, sequences and PIO helpers (SCIMemCpy, SCIFlush...).

use crate::errors::from_rs;
use crate::ffi::*;
use crate::segment::{LocalSeg, RemoteSeg};
use crate::types::*;
use std::ffi::{c_uint, c_void};
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::Arc;

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
#[repr(C)]
pub struct Sequence {
    magic: u32,
    map: Arc<rs::Mapping>,
}

impl Object for Sequence {
    const MAGIC: u32 = 0x5C1_5E90;
    fn magic(&self) -> u32 {
        self.magic
    }
}

const MAP_FLAGS: c_uint =
    SCI_FLAG_READONLY_MAP | SCI_FLAG_SHARED_MAP | SCI_FLAG_NO_MEMORY_LOOPBACK | 0x4 | 0x8 | 0x10;

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

fn check_map_args(map: *mut Handle, addr: *mut c_void, flags: c_uint) -> CResult<()> {
    if map.is_null() {
        return Err(SCI_ERR_ILLEGAL_PARAMETER);
    }
    if flags & SCI_FLAG_FIXED_MAP_ADDR != 0 || !addr.is_null() {
        return Err(SCI_ERR_FLAG_NOT_IMPLEMENTED);
    }
    check_flags(flags, MAP_FLAGS)
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
        check_map_args(map, addr, flags)?;
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
            check_map_args(map, addr, flags & !crate::smartio::SCI_FLAG_IO_MAP_IOSPACE)?;
            let writable = flags & SCI_FLAG_READONLY_MAP == 0;
            let m = b.map(offset as u64, size as u64, writable)?;
            // SAFETY: `map` checked not NULL.
            return unsafe { finish(map, m, &b.maps) };
        }
        // SAFETY: caller's contract.
        let s = unsafe { borrow::<RemoteSeg>(segment)? };
        check_map_args(map, addr, flags)?;
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
            map: m.map.clone(),
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
    match s.map.connection_lost() {
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
