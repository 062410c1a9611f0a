//! What the ioctl fuzzers (`rsio-fuzz` for `/dev/rsio`, `rsio-sisci-fuzz`
//! for `/dev/sisci`) share: their engine ([`engine`]), a deterministic
//! PRNG, the fuzz memory regions (each followed by a guard page) and the
//! classes of user pointers the kernel is handed, struct field access, the
//! `RsioList` rules both ABIs use, errno names and the privilege helpers.

mod engine;

pub(crate) use engine::*;

use anyhow::{bail, Context, Result};
use rsio_uapi::{RsioList, RSIO_MAX_ARG_SIZE, RSIO_MAX_IO, RSIO_MAX_LIST};
use std::fs::{File, OpenOptions};
use std::mem::offset_of;

pub(crate) const PAGE: usize = 4096;

// --- A small deterministic PRNG (xorshift64*, seeded through splitmix64).

pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Rng(if z == 0 { 1 } else { z })
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (0 if `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num / den`.
    pub(crate) fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    pub(crate) fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next() as u8;
        }
    }
}

// --- Memory the kernel may be pointed at.

/// An anonymous mapping of `len` usable bytes followed by a PROT_NONE guard
/// page.
pub(crate) struct Region {
    pub(crate) base: *mut u8,
    pub(crate) len: usize,
}

impl Region {
    pub(crate) fn map(pages: usize, prot: i32) -> Region {
        let len = pages * PAGE;
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing touches no existing memory.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len + PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert!(
            p != libc::MAP_FAILED,
            "mmap of {} pages failed: the guest is out of memory",
            pages + 1
        );
        let base = p.cast::<u8>();
        // SAFETY: the range is the tail page of the mapping just made, which nothing references.
        let rc = unsafe { libc::mprotect(base.add(len).cast(), PAGE, libc::PROT_NONE) };
        assert_eq!(rc, 0, "mprotect of a guard page failed");
        let r = Region { base, len };
        r.protect(prot);
        r
    }

    pub(crate) fn protect(&self, prot: i32) {
        // SAFETY: the range is this region's own usable pages; only the fuzzer and the kernel use them, through raw pointers.
        let rc = unsafe { libc::mprotect(self.base.cast(), self.len, prot) };
        assert_eq!(rc, 0, "mprotect of a fuzz region failed");
    }

    pub(crate) fn addr(&self, off: usize) -> u64 {
        self.base as u64 + off as u64
    }

    /// The address `k` bytes before the guard page.
    pub(crate) fn before_guard(&self, k: usize) -> u64 {
        self.addr(self.len - k.min(self.len))
    }

    /// Copies `bytes` to `off`, clipped to the region.
    pub(crate) fn write(&self, off: usize, bytes: &[u8]) {
        let n = bytes.len().min(self.len.saturating_sub(off));
        // SAFETY: off..off+n lies inside the region's usable, writable pages, which no Rust reference aliases.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.add(off), n) };
    }

    /// Reads `w` (4 or 8) bytes at address `addr` inside the region.
    pub(crate) fn read(&self, addr: u64, w: usize) -> Option<u64> {
        let off = addr.checked_sub(self.base as u64)? as usize;
        if off + w > self.len {
            return None;
        }
        let mut b = [0u8; 8];
        // SAFETY: off..off+w lies inside the region's usable, readable pages.
        unsafe { std::ptr::copy_nonoverlapping(self.base.add(off), b.as_mut_ptr(), w) };
        Some(if w == 4 {
            u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as u64
        } else {
            u64::from_ne_bytes(b)
        })
    }
}

pub(crate) struct Mem {
    /// Argument structs (the largest ioctl size is 16 KiB - 1).
    pub(crate) arg: Region,
    /// Read-only: the kernel can read it but not write back.
    pub(crate) ro: Region,
    /// List arrays: up to RSIO_MAX_LIST entries of RSIO_MAX_ARG_SIZE bytes.
    pub(crate) entries: Region,
    /// WINDOW_IO buffers: up to RSIO_MAX_IO bytes.
    pub(crate) data: Region,
    /// A page-sized hole between two PROT_NONE pages.
    pub(crate) unmapped: u64,
}

impl Mem {
    pub(crate) fn new() -> Mem {
        let arg = Region::map(8, libc::PROT_READ | libc::PROT_WRITE);
        let ro = Region::map(4, libc::PROT_READ);
        let entries = Region::map(
            RSIO_MAX_LIST as usize * RSIO_MAX_ARG_SIZE / PAGE + 1,
            libc::PROT_READ | libc::PROT_WRITE,
        );
        let data = Region::map(
            RSIO_MAX_IO as usize / PAGE + 1,
            libc::PROT_READ | libc::PROT_WRITE,
        );
        // Three pages, the middle one unmapped: no later mapping of ours
        // (all made above; malloc maps only large chunks) fits in the hole.
        let hole = Region::map(2, libc::PROT_NONE);
        // SAFETY: the page is the middle of the mapping just made, which nothing references.
        let rc = unsafe { libc::munmap(hole.base.add(PAGE).cast(), PAGE) };
        assert_eq!(rc, 0, "munmap failed");
        Mem {
            arg,
            ro,
            entries,
            data,
            unmapped: hole.addr(PAGE),
        }
    }

    pub(crate) fn write_ro(&self, off: usize, bytes: &[u8]) {
        self.ro.protect(libc::PROT_READ | libc::PROT_WRITE);
        self.ro.write(off, bytes);
        self.ro.protect(libc::PROT_READ);
    }
}

/// Where a user pointer points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ptr {
    Null,
    Valid,
    Unmapped,
    KernelDirectMap,
    KernelText,
    NonCanonical,
    Misaligned,
    /// The last `k` bytes before a guard page.
    Straddle(usize),
    ReadOnly,
}

impl Ptr {
    /// The kernel can access nothing there.
    pub(crate) fn is_bad(self) -> bool {
        matches!(
            self,
            Ptr::Null | Ptr::Unmapped | Ptr::KernelDirectMap | Ptr::KernelText | Ptr::NonCanonical
        )
    }

    pub(crate) fn fixed_addr(self, mem: &Mem) -> u64 {
        match self {
            Ptr::Null => 0,
            Ptr::Unmapped => mem.unmapped,
            Ptr::KernelDirectMap => 0xffff_8880_0000_0000,
            Ptr::KernelText => 0xffff_ffff_8100_0000,
            _ => 0x8000_0000_0000_0000,
        }
    }
}

/// A pointer class for an argument or an embedded pointer (mostly valid).
pub(crate) fn pick_ptr(rng: &mut Rng, max_k: usize) -> Ptr {
    match rng.below(9) {
        0 => Ptr::Null,
        1 => Ptr::Unmapped,
        2 => Ptr::KernelDirectMap,
        3 => Ptr::KernelText,
        4 => Ptr::NonCanonical,
        5 => Ptr::Misaligned,
        6 => Ptr::Straddle(rng.below(max_k.max(1) as u64) as usize),
        7 => Ptr::ReadOnly,
        _ => Ptr::Valid,
    }
}

pub(crate) fn get(c: &[u8], off: usize, w: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in b.iter_mut().enumerate().take(w) {
        *x = c.get(off + i).copied().unwrap_or(0);
    }
    if w == 4 {
        u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as u64
    } else {
        u64::from_ne_bytes(b)
    }
}

/// Sets a field if it lies inside `c`.
pub(crate) fn put(c: &mut [u8], off: usize, w: usize, v: u64) {
    if off + w > c.len() {
        return;
    }
    if w == 4 {
        c[off..off + 4].copy_from_slice(&(v as u32).to_ne_bytes());
    } else {
        c[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    }
}

/// Reads a field of the struct as passed (0 beyond the `size` passed).
pub(crate) fn field(c: &[u8], size: usize, off: usize, w: usize) -> u64 {
    if off + w <= size {
        get(c, off, w)
    } else {
        0
    }
}

// --- `RsioList`, the list argument of both ABIs.

pub(crate) const LIST_ENTRIES: usize = offset_of!(RsioList, entries);
pub(crate) const LIST_CAPACITY: usize = offset_of!(RsioList, capacity);
pub(crate) const LIST_ENTRY_SIZE: usize = offset_of!(RsioList, entry_size);
pub(crate) const LIST_COUNT: usize = offset_of!(RsioList, count);
pub(crate) const LIST_RESERVED: usize = offset_of!(RsioList, reserved);

/// The fields of an `RsioList` a mutation may set, with the domains of
/// `capacity`, `entry_size`, `count` (output only) and `reserved`.
pub(crate) const fn list_fields<D: Copy>(dom: [D; 4]) -> [Field<D>; 4] {
    [
        f("capacity", LIST_CAPACITY, 4, dom[0]),
        f("entry_size", LIST_ENTRY_SIZE, 4, dom[1]),
        f("count", LIST_COUNT, 4, dom[2]),
        f("reserved", LIST_RESERVED, 4, dom[3]),
    ]
}

/// Why an `RsioList` argument of `size` bytes must fail whatever the
/// state, for entries of at least `min_entry` bytes (None: it may succeed).
pub(crate) fn list_must_fail(c: &[u8], size: usize, min_entry: usize) -> Option<String> {
    let es = field(c, size, LIST_ENTRY_SIZE, 4) as usize;
    if es < min_entry || es > RSIO_MAX_ARG_SIZE {
        Some(format!("entry_size {es}"))
    } else if field(c, size, LIST_CAPACITY, 4) > RSIO_MAX_LIST as u64 {
        Some("capacity above RSIO_MAX_LIST".into())
    } else if field(c, size, LIST_RESERVED, 4) != 0 {
        Some("reserved not zero".into())
    } else {
        None
    }
}

pub(crate) fn errname(e: i32) -> String {
    let n = match e {
        0 => "ok",
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::ENXIO => "ENXIO",
        libc::EINVAL => "EINVAL",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::ENOSYS => "ENOSYS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ENOTCONN => "ENOTCONN",
        libc::ENOBUFS => "ENOBUFS",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EPROTO => "EPROTO",
        libc::ECONNRESET => "ECONNRESET",
        libc::EDEADLK => "EDEADLK",
        _ => return format!("errno{e}"),
    };
    n.to_string()
}

pub(crate) fn open_device(path: &str) -> std::io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

/// CAP_SYS_ADMIN (capability 21) is in the effective set.
pub(crate) fn has_sys_admin() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 21) != 0)
}

pub(crate) fn drop_privileges(spec: &str) -> Result<()> {
    let (u, g) = spec.split_once(':').unwrap_or((spec, spec));
    let uid: u32 = u.parse().context("--user: bad uid")?;
    let gid: u32 = g.parse().context("--user: bad gid")?;
    // SAFETY: setgroups with an empty list reads no memory.
    if unsafe { libc::setgroups(0, std::ptr::null()) } != 0 {
        bail!("setgroups: {}", std::io::Error::last_os_error());
    }
    // SAFETY: setresgid takes plain integers.
    if unsafe { libc::setresgid(gid, gid, gid) } != 0 {
        bail!("setresgid({gid}): {}", std::io::Error::last_os_error());
    }
    // SAFETY: setresuid takes plain integers.
    if unsafe { libc::setresuid(uid, uid, uid) } != 0 {
        bail!("setresuid({uid}): {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// The exit status of a child that found a violation (it printed it).
pub(crate) const CHILD_VIOLATION: i32 = 3;

/// How a forked child ended, as far as the fuzzers care.
pub(crate) enum ChildEnd {
    /// It exited with 0, or died of the SIGKILL we sent.
    Fine {
        /// It was SIGKILLed by us.
        killed: bool,
    },
    /// Anything else: why, for a violation.
    Bad(String),
}

/// Forks a child that runs `child` (which should leave through `_exit`;
/// if it returns, the child exits with 0), SIGKILLs it after `kill_after`
/// if given, reaps it and says how it ended.
pub(crate) fn run_child(kill_after: Option<std::time::Duration>, child: impl FnOnce()) -> ChildEnd {
    // SAFETY: the fuzzers are single-threaded, so the child may go on running ordinary Rust code; it leaves only through _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return ChildEnd::Bad(format!("fork failed: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        child();
        // SAFETY: _exit ends the forked child without running the parent's cleanup.
        unsafe { libc::_exit(0) };
    }
    if let Some(d) = kill_after {
        std::thread::sleep(d);
        // SAFETY: pid is our child, not reaped yet.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let mut status = 0;
    // SAFETY: status is a valid int to write to; pid is our child.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    if rc != pid {
        return ChildEnd::Bad(format!(
            "waitpid({pid}): {}",
            std::io::Error::last_os_error()
        ));
    }
    if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        if sig == libc::SIGKILL && kill_after.is_some() {
            return ChildEnd::Fine { killed: true };
        }
        return ChildEnd::Bad(format!("child {pid} died of signal {sig}"));
    }
    match libc::WEXITSTATUS(status) {
        0 => ChildEnd::Fine { killed: false },
        CHILD_VIOLATION => ChildEnd::Bad(format!("child {pid} found a violation (above)")),
        c => ChildEnd::Bad(format!("child {pid} exited with {c}")),
    }
}
