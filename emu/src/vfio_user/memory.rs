//! Memory shared with QEMU through file descriptors: [`Mapping`] (an
//! `mmap` of a descriptor, with bounds-checked copies in and out) and
//! [`SharedMemory`] (a memfd the device creates, e.g. to back a BAR that
//! QEMU maps into the guest).
//!
//! Shared memory can change at any moment under another process's hand, so
//! no Rust reference into it is ever created: data moves with raw copies
//! into and out of caller-owned buffers, as in every VMM.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

use super::errno::Errno;

/// An `mmap(MAP_SHARED)` of a descriptor, unmapped on drop.
pub struct Mapping {
    /// Start of the mapping (page aligned).
    base: NonNull<u8>,
    /// Length of the mapping, from `base`.
    map_len: usize,
    /// Bytes between `base` and the first byte the caller asked for (the
    /// requested file offset need not be page aligned).
    skew: usize,
    /// Bytes the caller asked for.
    len: usize,
    writable: bool,
}

// SAFETY: a Mapping is a plain region of shared memory; all accesses go through raw copies, so it may be used and dropped from any thread.
unsafe impl Send for Mapping {}
// SAFETY: as above; `&Mapping` only allows raw copies.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` from file offset `offset`, read-only or
    /// read-write.
    pub fn new(fd: BorrowedFd<'_>, offset: u64, len: u64, writable: bool) -> io::Result<Mapping> {
        let invalid = || io::Error::from_raw_os_error(libc::EINVAL);
        let page = page_size();
        let skew = (offset % page as u64) as usize;
        let len = usize::try_from(len).map_err(|_| invalid())?;
        let map_len = len
            .checked_add(skew)
            .filter(|&l| l > 0)
            .ok_or_else(invalid)?;
        let file_offset = libc::off_t::try_from(offset - skew as u64).map_err(|_| invalid())?;
        let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
        // Failure is checked below.
        // SAFETY: a fresh mapping at a kernel-chosen address aliases nothing.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                file_offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(ptr.cast()).ok_or_else(invalid)?;
        Ok(Mapping {
            base,
            map_len,
            skew,
            len,
            writable,
        })
    }

    /// Bytes mapped (as requested).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`; `EFAULT` if the
    /// range is not entirely inside the mapping.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), Errno> {
        let src = self.range(offset, buf.len())?;
        // `buf` is a distinct, caller-owned buffer.
        // SAFETY: `range` checked that [src, src + len) is in the live mapping.
        unsafe { std::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copies `data` to `offset`; `EFAULT` out of range, `EPERM` if the
    /// mapping is read-only.
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<(), Errno> {
        if !self.writable {
            return Err(Errno::EPERM);
        }
        let dst = self.range(offset, data.len())?;
        // SAFETY: as in `read`, and the mapping is PROT_WRITE.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) };
        Ok(())
    }

    /// Copies `len` bytes from `src` to `dst` within the mapping; the two
    /// ranges may overlap (memmove).
    pub fn copy_within(&self, src: u64, dst: u64, len: usize) -> Result<(), Errno> {
        if !self.writable {
            return Err(Errno::EPERM);
        }
        let from = self.range(src, len)?;
        let to = self.range(dst, len)?;
        // The mapping stays mapped while `self` lives; `ptr::copy` allows
        // overlap. The memory is shared with other processes, so it is only
        // ever accessed as raw bytes, never through references.
        // SAFETY: `range` checked that both spans lie inside the mapping.
        unsafe { std::ptr::copy(from, to, len) };
        Ok(())
    }

    fn range(&self, offset: u64, len: usize) -> Result<*mut u8, Errno> {
        let start = usize::try_from(offset).map_err(|_| Errno::EFAULT)?;
        let end = start.checked_add(len).ok_or(Errno::EFAULT)?;
        if end > self.len {
            return Err(Errno::EFAULT);
        }
        // SAFETY: skew + start <= skew + len <= map_len: inside the mapping.
        Ok(unsafe { self.base.as_ptr().add(self.skew + start) })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // No references into the mapping exist.
        // SAFETY: base/map_len are what mmap returned; nothing else unmaps them.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.map_len) };
    }
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapping")
            .field("len", &self.len)
            .field("writable", &self.writable)
            .finish()
    }
}

/// Anonymous shared memory (a memfd) that the device owns and can hand to
/// QEMU, e.g. as the backing of a mappable BAR: QEMU maps it into the guest,
/// so guest accesses to it never leave QEMU, and the device sees them here.
#[derive(Debug)]
pub struct SharedMemory {
    fd: OwnedFd,
    mapping: Mapping,
}

impl SharedMemory {
    /// Creates `len` bytes of zeroed shared memory; `name` shows in
    /// `/proc/<pid>/fd` and `/proc/<pid>/maps`.
    pub fn new(name: &str, len: u64) -> io::Result<SharedMemory> {
        let name = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: name is a valid C string; the result is checked.
        let raw = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let size =
            libc::off_t::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: plain syscall on our descriptor.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), size) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let mapping = Mapping::new(fd.as_fd(), 0, len, true)?;
        Ok(SharedMemory { fd, mapping })
    }

    /// The descriptor, to describe a mappable region.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn len(&self) -> u64 {
        self.mapping.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.mapping.is_empty()
    }

    /// Bounds-checked copy out; `EFAULT` out of range.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), Errno> {
        self.mapping.read(offset, buf)
    }

    /// Bounds-checked copy in; `EFAULT` out of range.
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<(), Errno> {
        self.mapping.write(offset, data)
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as usize
    } else {
        4096
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_mappings_of_one_memfd_see_each_others_writes() {
        let shm = SharedMemory::new("test", 8192).unwrap();
        let other = Mapping::new(shm.fd(), 4096, 4096, true).unwrap();
        other.write(16, b"hello").unwrap();
        let mut buf = [0u8; 5];
        shm.read(4096 + 16, &mut buf).unwrap();
        assert_eq!(&buf, b"hello");
    }

    #[test]
    fn an_unaligned_file_offset_maps_from_that_byte() {
        let shm = SharedMemory::new("test", 8192).unwrap();
        shm.write(100, b"x").unwrap();
        let view = Mapping::new(shm.fd(), 100, 10, false).unwrap();
        let mut buf = [0u8; 1];
        view.read(0, &mut buf).unwrap();
        assert_eq!(&buf, b"x");
    }

    #[test]
    fn accesses_past_the_end_or_wrapping_around_fail_with_efault() {
        let shm = SharedMemory::new("test", 4096).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(shm.read(4090, &mut buf), Err(Errno::EFAULT));
        assert_eq!(shm.read(u64::MAX, &mut buf), Err(Errno::EFAULT));
        assert_eq!(shm.write(4096, &[1]), Err(Errno::EFAULT));
        assert!(shm.read(4088, &mut buf).is_ok());
    }

    #[test]
    fn a_read_only_mapping_refuses_writes() {
        let shm = SharedMemory::new("test", 4096).unwrap();
        let view = Mapping::new(shm.fd(), 0, 4096, false).unwrap();
        assert_eq!(view.write(0, &[1]), Err(Errno::EPERM));
    }

    #[test]
    fn an_empty_mapping_is_refused() {
        let shm = SharedMemory::new("test", 4096).unwrap();
        assert!(Mapping::new(shm.fd(), 0, 0, true).is_err());
    }
}
