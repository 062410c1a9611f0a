//! `mmap(2)` of `/dev/sisci`: mappings at good and bad offsets and lengths,
//! and probes of what they reach.
//!
//! The fuzzer never dereferences a connection's mapping itself: its owner
//! may revoke it at any time (then an access is SIGBUS). A probe lets the
//! kernel do the access instead: `write(2)` from the mapping into a pipe
//! copies from it (`EFAULT` once it is revoked: the fault handler says
//! SIGBUS, which a kernel access turns into `EFAULT`), `read(2)` from the
//! pipe into the mapping copies to it.
//!
//! A borrowed device's BARs are only ever read, and only where reading
//! has no side effect (an NVMe drive's CAP and VS registers): never
//! written, neither by the CPU nor by a probe. Device memory (a segment
//! given a BAR of a function here, and connections to it) is never
//! accessed at all while it lives.

use crate::fuzz_common::PAGE;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A live mapping of `/dev/sisci`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mapping {
    pub(crate) addr: u64,
    pub(crate) len: usize,
    /// The handle it maps (its object may be gone since).
    pub(crate) handle: u32,
    /// A local segment (else a connection).
    pub(crate) local: bool,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    pub(crate) private: bool,
    /// A borrowed device's BAR: the BAR and the offset in it mapped first.
    pub(crate) dev: Option<(u32, u64)>,
    /// Device memory, or what may reach it: not to be accessed.
    pub(crate) io: bool,
}

impl Mapping {
    /// What it maps, for reports.
    pub(crate) fn what(&self) -> &'static str {
        match (self.dev.is_some(), self.local, self.io) {
            (true, _, _) => "device BAR",
            (false, true, true) => "local device memory",
            (false, true, false) => "local segment",
            (false, false, true) => "connection to device memory",
            (false, false, false) => "connection",
        }
    }
}

/// Maps `len` bytes at `offset` of the device; the errno on failure.
pub(crate) fn map(fd: i32, offset: u64, len: usize, prot: i32, flags: i32) -> Result<u64, i32> {
    // SAFETY: A new mapping at an address of the kernel's choosing (no MAP_FIXED): no existing memory is touched.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
            flags,
            fd,
            offset as libc::off_t,
        )
    };
    if p == libc::MAP_FAILED {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(p as u64)
    }
}

/// Unmaps a mapping `map` made.
pub(crate) fn unmap(m: &Mapping) {
    // SAFETY: The range is a mapping of the device made by `map`, which no Rust reference points into.
    let rc = unsafe { libc::munmap(m.addr as *mut libc::c_void, m.len) };
    assert_eq!(rc, 0, "munmap of a /dev/sisci mapping failed");
}

/// The pipe the probes copy through.
pub(crate) struct Prober {
    r: OwnedFd,
    w: OwnedFd,
}

impl Prober {
    pub(crate) fn new() -> Prober {
        let mut fds = [0i32; 2];
        // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        assert_eq!(rc, 0, "pipe2 failed");
        // SAFETY: pipe2 just returned these two descriptors, owned by nobody else.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Prober { r, w }
    }

    fn drain(&self) {
        let mut buf = [0u8; 256];
        loop {
            // SAFETY: `buf` is a local array of the length passed.
            let n = unsafe { libc::read(self.r.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
        }
    }

    /// Whether the kernel can read `n` bytes at `addr` (Err: the errno).
    pub(crate) fn can_read(&self, addr: u64, n: usize) -> Result<(), i32> {
        // SAFETY: The kernel reads user memory at `addr` with fault handling (EFAULT); we do not touch it.
        let rc = unsafe { libc::write(self.w.as_raw_fd(), addr as *const libc::c_void, n) };
        let r = if rc < 0 {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            Ok(())
        };
        self.drain();
        r
    }

    /// The `N` bytes at `addr` as the kernel reads them (Err: the errno).
    pub(crate) fn read<const N: usize>(&self, addr: u64) -> Result<[u8; N], i32> {
        self.drain();
        // SAFETY: The kernel reads user memory at `addr` with fault handling (EFAULT); we do not touch it.
        let rc = unsafe { libc::write(self.w.as_raw_fd(), addr as *const libc::c_void, N) };
        if rc < 0 {
            return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
        }
        let mut buf = [0u8; N];
        // SAFETY: `buf` is a local array of the length passed.
        let n = unsafe { libc::read(self.r.as_raw_fd(), buf.as_mut_ptr().cast(), N) };
        self.drain();
        if n != N as isize {
            return Err(libc::EIO);
        }
        Ok(buf)
    }

    /// Whether the kernel can write `bytes` to `addr` (Err: the errno).
    pub(crate) fn can_write(&self, addr: u64, bytes: &[u8]) -> Result<(), i32> {
        // SAFETY: `bytes` is a live slice of the length passed.
        let rc = unsafe { libc::write(self.w.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
        if rc != bytes.len() as isize {
            self.drain();
            return Err(libc::EAGAIN);
        }
        // SAFETY: The kernel writes user memory at `addr` with fault handling (EFAULT); it is a mapping of the device, which no Rust reference points into.
        let rc = unsafe { libc::read(self.r.as_raw_fd(), addr as *mut libc::c_void, bytes.len()) };
        let r = if rc < 0 {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            Ok(())
        };
        self.drain();
        r
    }
}

/// Touches a local segment's mapping with the CPU: writes a pattern to a
/// few words and reads it back (a local segment is only revoked by this
/// process, so this cannot fault). Returns a mismatch.
pub(crate) fn touch_local(m: &Mapping, seed: u64) -> Option<String> {
    let words = m.len / 8;
    for i in 0..4u64 {
        let w = ((seed.wrapping_mul(i + 1) >> 7) as usize % words.max(1)) * 8;
        let v = seed ^ (i << 56) ^ w as u64;
        let p = (m.addr as usize + w) as *mut u64;
        // SAFETY: `p` is an aligned word inside a live, writable, shared mapping of a local segment this process holds (not removed: the caller checks), which no Rust reference points into.
        let got = unsafe {
            std::ptr::write_volatile(p, v);
            std::ptr::read_volatile(p)
        };
        if got != v {
            return Some(format!(
                "local mapping at {:#x}+{w:#x}: wrote {v:#x}, read {got:#x}",
                m.addr
            ));
        }
    }
    None
}

/// A page-multiple length for a mapping of an object of `size` bytes.
pub(crate) fn pages(size: u64) -> usize {
    (size as usize).div_ceil(PAGE) * PAGE
}
