// SPDX-License-Identifier: GPL-2.0

//! [`Mapping`]: segment memory mapped into this process, with bounds-checked
//! volatile accessors.

use crate::error::{Error, Result};
use crate::segment::{ConnInner, SegInner};
use crate::sys::Fd;
use std::os::fd::AsRawFd;
use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;

/// What keeps a mapping's segment or connection alive.
pub(crate) enum Owner {
    /// Held only to keep the segment alive.
    #[allow(dead_code)]
    Local(Arc<SegInner>),
    Remote(Arc<ConnInner>),
    /// A BAR of a borrowed device: held only to keep the device borrowed.
    #[allow(dead_code)]
    Device(Arc<crate::smartio::DevInner>),
}

/// Segment memory mapped into this process; unmapped on drop. Remote
/// memory can vanish under a mapping (the owner removes the segment or
/// dies): accesses then raise `SIGBUS`, so check events or
/// [`Mapping::connection_lost`] where that matters.
pub struct Mapping {
    base: *mut u8,
    map_len: usize,
    ptr: *mut u8,
    len: usize,
    offset: u64,
    writable: bool,
    owner: Owner,
}

// SAFETY: a Mapping is a pointer to shared memory that other nodes write
// concurrently anyway; every safe accessor uses volatile accesses through
// `&self`, never Rust references into the memory, so sharing or sending it
// between threads adds nothing they do not already have to cope with.
unsafe impl Send for Mapping {}
// SAFETY: as above: accessors only do volatile loads and stores.
unsafe impl Sync for Mapping {}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

impl Mapping {
    pub(crate) fn new(
        fd: &Fd,
        mmap_offset: u64,
        seg_size: u64,
        offset: u64,
        len: u64,
        writable: bool,
        owner: Owner,
    ) -> Result<Self> {
        let end = offset.checked_add(len);
        if len == 0 || end.is_none_or(|e| e > seg_size) {
            return Err(Error::new("mmap", libc::ERANGE));
        }
        let page = page_size();
        let aligned = offset & !(page - 1);
        let delta = (offset - aligned) as usize;
        let map_len = delta + len as usize;
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        let file_off = mmap_offset
            .checked_add(aligned)
            .ok_or(Error::new("mmap", libc::ERANGE))?;
        // SAFETY: a fresh shared mapping chosen by the kernel (no fixed address): it cannot alias memory Rust already owns.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                file_off as libc::off_t,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Error::last("mmap"));
        }
        let base = base.cast::<u8>();
        Ok(Mapping {
            base,
            map_len,
            // SAFETY: `delta < page <= map_len`: inside the mapping.
            ptr: unsafe { base.add(delta) },
            len: len as usize,
            offset,
            writable,
            owner,
        })
    }

    /// Mapped bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true (empty mappings are refused); for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The mapping's offset in its segment.
    pub fn segment_offset(&self) -> u64 {
        self.offset
    }

    /// Mapped for writing.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// A mapping of a remote segment (else of a local one).
    pub fn is_remote(&self) -> bool {
        matches!(self.owner, Owner::Remote(_))
    }

    /// The first mapped byte, for advanced users (volatile accesses only:
    /// other nodes read and write this memory concurrently).
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    fn check(&self, offset: usize, len: usize, write: bool, op: &'static str) -> Result<*mut u8> {
        if write && !self.writable {
            return Err(Error::new(op, libc::EACCES));
        }
        match offset.checked_add(len) {
            Some(end) if end <= self.len => {
                // SAFETY: `offset <= end <= len`: inside the mapping.
                Ok(unsafe { self.ptr.add(offset) })
            }
            _ => Err(Error::new(op, libc::ERANGE)),
        }
    }

    /// Copies `src` to `offset` with volatile stores (8-byte words where
    /// aligned).
    pub fn write(&self, offset: usize, src: &[u8]) -> Result<()> {
        let dst = self.check(offset, src.len(), true, "Mapping::write")?;
        // SAFETY: `check` proved `dst..dst + src.len()` is inside the writable mapping; `src` is a valid slice.
        unsafe { volatile_copy(dst, src.as_ptr(), src.len()) };
        Ok(())
    }

    /// Copies from `offset` into `dst` with volatile loads.
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> Result<()> {
        let src = self.check(offset, dst.len(), false, "Mapping::read")?;
        // SAFETY: `check` proved the source range is inside the mapping; `dst` is a valid, exclusively borrowed slice.
        unsafe { volatile_read(dst.as_mut_ptr(), src, dst.len()) };
        Ok(())
    }

    fn word_ptr<T>(&self, offset: usize, write: bool, op: &'static str) -> Result<*mut T> {
        let p = self.check(offset, core::mem::size_of::<T>(), write, op)?;
        if !(p as usize).is_multiple_of(core::mem::align_of::<T>()) {
            return Err(Error::new(op, libc::EINVAL));
        }
        Ok(p.cast())
    }

    /// A volatile 32-bit load at `offset` (its address 4-byte aligned).
    pub fn read_u32(&self, offset: usize) -> Result<u32> {
        let p = self.word_ptr::<u32>(offset, false, "Mapping::read_u32")?;
        // SAFETY: aligned and inside the mapping (`word_ptr`).
        Ok(unsafe { p.read_volatile() })
    }

    /// A volatile 32-bit store at `offset` (its address 4-byte aligned).
    pub fn write_u32(&self, offset: usize, v: u32) -> Result<()> {
        let p = self.word_ptr::<u32>(offset, true, "Mapping::write_u32")?;
        // SAFETY: aligned, inside the mapping and writable (`word_ptr`).
        unsafe { p.write_volatile(v) };
        Ok(())
    }

    /// A volatile 64-bit load at `offset` (its address 8-byte aligned).
    pub fn read_u64(&self, offset: usize) -> Result<u64> {
        let p = self.word_ptr::<u64>(offset, false, "Mapping::read_u64")?;
        // SAFETY: aligned and inside the mapping (`word_ptr`).
        Ok(unsafe { p.read_volatile() })
    }

    /// A volatile 64-bit store at `offset` (its address 8-byte aligned).
    pub fn write_u64(&self, offset: usize, v: u64) -> Result<()> {
        let p = self.word_ptr::<u64>(offset, true, "Mapping::write_u64")?;
        // SAFETY: aligned, inside the mapping and writable (`word_ptr`).
        unsafe { p.write_volatile(v) };
        Ok(())
    }

    /// Store fence: earlier stores (write-combined ones included) are
    /// pushed out before later ones.
    pub fn flush(&self) {
        fence(Ordering::SeqCst);
    }

    /// Remote mappings: the connection is dead (always false for local).
    pub fn connection_lost(&self) -> Result<bool> {
        match &self.owner {
            Owner::Local(_) | Owner::Device(_) => Ok(false),
            Owner::Remote(c) => c.lost(),
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base`/`map_len` are exactly what mmap returned and were never unmapped; no Rust reference into the memory exists.
        unsafe { libc::munmap(self.base.cast(), self.map_len) };
    }
}

/// Copies `len` bytes into I/O memory with volatile stores: 8-byte words
/// once `dst` is aligned, bytes around them.
///
/// # Safety
///
/// `src..src+len` must be readable and `dst..dst+len` writable, and the two
/// ranges must not overlap.
pub unsafe fn volatile_copy(dst: *mut u8, src: *const u8, len: usize) {
    let mut i = 0;
    while i < len && !(dst as usize + i).is_multiple_of(8) {
        // SAFETY: `i < len`: inside both ranges (caller's contract).
        unsafe { dst.add(i).write_volatile(src.add(i).read()) };
        i += 1;
    }
    while i + 8 <= len {
        // SAFETY: `i + 8 <= len`: inside both ranges; `dst + i` is 8-byte aligned, the source is read unaligned.
        unsafe {
            let w = src.add(i).cast::<u64>().read_unaligned();
            dst.add(i).cast::<u64>().write_volatile(w);
        }
        i += 8;
    }
    while i < len {
        // SAFETY: `i < len`: inside both ranges.
        unsafe { dst.add(i).write_volatile(src.add(i).read()) };
        i += 1;
    }
}

/// Copies `len` bytes out of I/O memory with volatile loads: 8-byte words
/// once `src` is aligned, bytes around them.
///
/// # Safety
///
/// As [`volatile_copy`].
pub unsafe fn volatile_read(dst: *mut u8, src: *const u8, len: usize) {
    let mut i = 0;
    while i < len && !(src as usize + i).is_multiple_of(8) {
        // SAFETY: `i < len`: inside both ranges (caller's contract).
        unsafe { dst.add(i).write(src.add(i).read_volatile()) };
        i += 1;
    }
    while i + 8 <= len {
        // SAFETY: `i + 8 <= len`: inside both ranges; `src + i` is 8-byte aligned, the destination is written unaligned.
        unsafe {
            let w = src.add(i).cast::<u64>().read_volatile();
            dst.add(i).cast::<u64>().write_unaligned(w);
        }
        i += 8;
    }
    while i < len {
        // SAFETY: `i < len`: inside both ranges.
        unsafe { dst.add(i).write(src.add(i).read_volatile()) };
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::{volatile_copy, volatile_read, Mapping, Owner};
    use crate::segment::SegInner;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::sync::Arc;

    /// A mapping of a memfd standing in for a segment (the kernel is not
    /// needed to test the accessors).
    fn memfd_mapping(offset: u64, len: u64, writable: bool) -> crate::Result<Mapping> {
        // SAFETY: a valid NUL-terminated name.
        let fd = unsafe { libc::memfd_create(c"sisci-test".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(fd >= 0);
        // SAFETY: a fresh fd owned by nobody else.
        let fd = Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
        let raw = std::os::fd::AsRawFd::as_raw_fd(&*fd);
        // SAFETY: resizing our own memfd.
        let rc = unsafe { libc::ftruncate(raw, 16384) };
        assert_eq!(rc, 0);
        let seg = Arc::new(SegInner {
            fd: fd.clone(),
            handle: 0,
            id: 0,
            size: 16384,
            mmap_offset: 0,
            multicast: false,
        });
        Mapping::new(&fd, 0, 16384, offset, len, writable, Owner::Local(seg))
    }

    #[test]
    fn accessors_are_bounds_checked() {
        let m = memfd_mapping(104, 8000, true).unwrap();
        assert_eq!(m.len(), 8000);
        assert_eq!(m.segment_offset(), 104);
        assert_eq!(m.as_ptr() as usize % 4096, 104);
        m.write(10, b"hello").unwrap();
        let mut b = [0u8; 5];
        m.read(10, &mut b).unwrap();
        assert_eq!(&b, b"hello");
        m.write_u32(4, 0xdead_beef).unwrap();
        assert_eq!(m.read_u32(4).unwrap(), 0xdead_beef);
        m.write_u64(16, u64::MAX).unwrap();
        assert_eq!(m.read_u64(16).unwrap(), u64::MAX);
        assert_eq!(m.read_u32(2).unwrap_err().errno(), libc::EINVAL);
        assert_eq!(m.write(7996, b"hello").unwrap_err().errno(), libc::ERANGE);
        assert_eq!(m.read_u32(8000).unwrap_err().errno(), libc::ERANGE);
        assert_eq!(m.write(usize::MAX, b"x").unwrap_err().errno(), libc::ERANGE);
        m.flush();
        assert!(!m.connection_lost().unwrap());
        assert!(!m.is_remote());
        // The segment offset is applied: mapping byte 10 is segment byte 114.
        let mut whole = [0u8; 5];
        // SAFETY: `m` maps 8000 bytes starting 104 bytes into its page.
        let seg_start = unsafe { m.as_ptr().sub(104) };
        // SAFETY: bytes 114..119 of the mapped page range.
        unsafe { volatile_read(whole.as_mut_ptr(), seg_start.add(114), 5) };
        assert_eq!(&whole, b"hello");
    }

    #[test]
    fn read_only_and_out_of_range_mappings() {
        let m = memfd_mapping(0, 4096, false).unwrap();
        assert_eq!(m.write_u32(0, 1).unwrap_err().errno(), libc::EACCES);
        assert_eq!(m.read_u32(0).unwrap(), 0);
        assert_eq!(
            memfd_mapping(0, 0, true).err().unwrap().errno(),
            libc::ERANGE
        );
        assert_eq!(
            memfd_mapping(16000, 1000, true).err().unwrap().errno(),
            libc::ERANGE
        );
    }

    type Copy = unsafe fn(*mut u8, *const u8, usize);

    #[test]
    fn volatile_copies_all_alignments() {
        let src: Vec<u8> = (0..100u8).collect();
        for f in [volatile_copy as Copy, volatile_read as Copy] {
            for doff in 0..9 {
                for soff in 0..9 {
                    for len in 0..80 {
                        let mut dst = vec![0xAAu8; 100];
                        // SAFETY: both ranges are inside their vectors and distinct.
                        unsafe { f(dst.as_mut_ptr().add(doff), src.as_ptr().add(soff), len) };
                        assert_eq!(&dst[doff..doff + len], &src[soff..soff + len]);
                        assert!(dst[..doff].iter().all(|&b| b == 0xAA));
                        assert!(dst[doff + len..].iter().all(|&b| b == 0xAA));
                    }
                }
            }
        }
    }
}
