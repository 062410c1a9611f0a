//! The rsio character device and its ioctls, with errors that say what went
//! wrong in the caller's terms.
//!
//! All `unsafe` of the tool lives here (plus the signal handler in
//! `signal.rs`): every ioctl has a typed, safe wrapper.

use anyhow::{bail, Result};
use rsio_uapi as uapi;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::mem::size_of;
use std::os::fd::AsRawFd;

/// An open `/dev/rsio`. Grants and mappings made through it live until it
/// is dropped (the kernel revokes and unmaps them when the file closes).
pub struct Device {
    file: File,
    path: String,
}

/// A failed ioctl: which one, on which device, and the OS error.
#[derive(Debug)]
pub struct IoctlError {
    /// The ioctl's name, e.g. `RSIO_IOC_PING`.
    pub name: &'static str,
    /// The device path.
    pub path: String,
    /// The error the kernel returned.
    pub error: io::Error,
}

impl IoctlError {
    /// The errno, if the error came from the kernel.
    pub fn errno(&self) -> Option<i32> {
        self.error.raw_os_error()
    }
}

impl fmt::Display for IoctlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on {} failed: {}",
            self.name,
            self.path,
            describe(&self.error)
        )?;
        match self.errno() {
            Some(libc::EPERM) => write!(f, " (this command needs CAP_SYS_ADMIN: run it as root)"),
            Some(libc::ENOTTY) => write!(
                f,
                " (the loaded modules do not know this ioctl: compare `rsio version` with this tool)"
            ),
            Some(libc::ENODEV) => write!(
                f,
                " (the fabric core has no transport: no rsio adapter or NTB device is bound)"
            ),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for IoctlError {}

/// The errno of an error chain's ioctl failure, if it has one.
pub fn errno_of(e: &anyhow::Error) -> Option<i32> {
    e.chain()
        .find_map(|c| c.downcast_ref::<IoctlError>())
        .and_then(IoctlError::errno)
}

/// An element type of a listing ioctl.
///
/// # Safety
///
/// The all-zeroes bit pattern must be a valid value of the type (it is
/// `repr(C)` of integers and integer arrays), and `CMD` must be a listing
/// ioctl whose elements have this layout.
pub unsafe trait ListEntry: Copy {
    /// The listing ioctl.
    const CMD: u32;
    /// Its name, for error messages.
    const NAME: &'static str;
    /// The number of elements to ask for on the first call.
    const GUESS: u32;
}

// SAFETY: `RsioNodeEntry` is `repr(C)` of integers and a byte array, and RSIO_IOC_NODES lists `RsioNodeEntry` elements.
unsafe impl ListEntry for uapi::RsioNodeEntry {
    const CMD: u32 = uapi::RSIO_IOC_NODES;
    const NAME: &'static str = "RSIO_IOC_NODES";
    const GUESS: u32 = uapi::RSIO_MAX_NODES;
}

// SAFETY: `RsioWindowEntry` is `repr(C)` of integers, and RSIO_IOC_WINDOWS lists `RsioWindowEntry` elements.
unsafe impl ListEntry for uapi::RsioWindowEntry {
    const CMD: u32 = uapi::RSIO_IOC_WINDOWS;
    const NAME: &'static str = "RSIO_IOC_WINDOWS";
    const GUESS: u32 = 32;
}

/// How often a listing is retried when it keeps growing between calls.
const LIST_ATTEMPTS: usize = 8;

impl Device {
    /// Opens the device read-write.
    pub fn open(path: &str) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| {
                // The module that creates the device node.
                let module = match path.rsplit('/').next() {
                    Some("sisci") => "rsio_sisci",
                    Some("rsio_lend") => "rsio_lend",
                    _ => "rsio_fabric",
                };
                let hint = match e.kind() {
                    io::ErrorKind::NotFound => format!(" (is the {module} module loaded?)"),
                    io::ErrorKind::PermissionDenied => {
                        " (ask for access to the device node, or run as root)".into()
                    }
                    _ => String::new(),
                };
                anyhow::anyhow!("cannot open {path}: {}{hint}", describe(&e))
            })?;
        Ok(Self {
            file,
            path: path.to_string(),
        })
    }

    /// Issues `cmd` with `arg` as its argument struct.
    ///
    /// # Safety
    ///
    /// `cmd` must be an ioctl whose argument is a `T` read and written in
    /// place, and every user pointer inside `arg` must be valid for what
    /// the ioctl does with it.
    unsafe fn ioctl<T>(&self, cmd: u32, name: &'static str, arg: &mut T) -> Result<(), IoctlError> {
        // SAFETY: The fd is open; `arg` is a valid, exclusive `T` of the size the caller promises `cmd` encodes, and the caller vouches for the pointers it holds.
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), cmd as libc::c_ulong, arg as *mut T) };
        if rc < 0 {
            return Err(IoctlError {
                name,
                path: self.path.clone(),
                error: io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// `RSIO_IOC_VERSION`, refusing a kernel of another ABI major version.
    pub fn version(&self) -> Result<uapi::RsioVersion> {
        let mut v = uapi::RsioVersion::request();
        // SAFETY: RSIO_IOC_VERSION takes an `RsioVersion` in and out.
        unsafe { self.ioctl(uapi::RSIO_IOC_VERSION, "RSIO_IOC_VERSION", &mut v)? };
        if v.abi_major != uapi::RSIO_ABI_MAJOR {
            bail!(
                "the loaded modules speak ABI {}.{}, this tool ABI {}.{}: rebuild one of them",
                v.abi_major,
                v.abi_minor,
                uapi::RSIO_ABI_MAJOR,
                uapi::RSIO_ABI_MINOR
            );
        }
        Ok(v)
    }

    /// `RSIO_IOC_STATUS`: this node's view of the fabric.
    pub fn status(&self) -> Result<uapi::RsioStatus, IoctlError> {
        let mut s = <uapi::RsioStatus as uapi::Request>::request();
        // SAFETY: RSIO_IOC_STATUS takes an `RsioStatus` in and out; it holds no pointers.
        unsafe { self.ioctl(uapi::RSIO_IOC_STATUS, "RSIO_IOC_STATUS", &mut s)? };
        Ok(s)
    }

    /// One listing call into `buf` (capacity `buf.len()`); returns the
    /// number of elements that exist.
    fn list_into<T: ListEntry>(&self, buf: &mut [T]) -> Result<u32, IoctlError> {
        let mut l = <uapi::RsioList as uapi::Request>::request();
        l.entries = buf.as_mut_ptr() as u64;
        l.capacity = buf.len() as u32;
        l.entry_size = size_of::<T>() as u32;
        // SAFETY: `T::CMD` takes an `RsioList` (the `ListEntry` contract); `entries` points at `capacity` writable elements of `entry_size` bytes, exclusively borrowed for the call.
        unsafe { self.ioctl(T::CMD, T::NAME, &mut l)? };
        Ok(l.count)
    }

    /// Every element of a listing ioctl (see [`fetch_list`]).
    pub fn list<T: ListEntry>(&self) -> Result<Vec<T>> {
        // SAFETY: All-zeroes is a valid `T` (the `ListEntry` contract).
        let zero: T = unsafe { std::mem::zeroed() };
        fetch_list(zero, T::GUESS, |buf| self.list_into(buf)).map_err(|e| {
            // An `IoctlError` names the ioctl and device itself.
            if e.is::<ListError>() {
                e.context(format!("{} on {}", T::NAME, self.path))
            } else {
                e
            }
        })
    }

    /// `RSIO_IOC_NODES`: every node of the fabric, this one included.
    pub fn nodes(&self) -> Result<Vec<uapi::RsioNodeEntry>> {
        self.list()
    }

    /// `RSIO_IOC_WINDOWS`: every mapping and grant, and the mailbox.
    pub fn windows(&self) -> Result<Vec<uapi::RsioWindowEntry>> {
        self.list()
    }

    /// `RSIO_IOC_PING`: `count` round trips with `node`'s core.
    pub fn ping(
        &self,
        node: u32,
        count: u32,
        payload_len: u32,
        timeout_ms: u32,
    ) -> Result<uapi::RsioPing, IoctlError> {
        let mut p = <uapi::RsioPing as uapi::Request>::request();
        p.node = node;
        p.count = count;
        p.payload_len = payload_len;
        p.timeout_ms = timeout_ms;
        // SAFETY: RSIO_IOC_PING takes an `RsioPing` in and out; it holds no pointers.
        unsafe { self.ioctl(uapi::RSIO_IOC_PING, "RSIO_IOC_PING", &mut p)? };
        Ok(p)
    }

    /// `LEND_IOC_LEND` or `LEND_IOC_UNLEND` (`cmd`, named `name`) of
    /// `/dev/rsio_lend` (admin) on PCI function `domain:bus:devfn`:
    /// returns its fabric device id.
    pub fn lend_bdf(
        &self,
        cmd: u32,
        name: &'static str,
        (domain, bus, devfn): (u32, u32, u32),
        flags: u32,
    ) -> Result<u32, IoctlError> {
        if cmd != uapi::lend::LEND_IOC_LEND && cmd != uapi::lend::LEND_IOC_UNLEND {
            return Err(IoctlError {
                name,
                path: self.path.clone(),
                error: io::Error::from_raw_os_error(libc::EINVAL),
            });
        }
        let mut a = <uapi::lend::LendBdf as uapi::Request>::request();
        a.domain = domain;
        a.bus = bus;
        a.devfn = devfn;
        a.header.flags = flags;
        // SAFETY: LEND_IOC_LEND and LEND_IOC_UNLEND (checked above) take a `LendBdf` in and out; it holds no pointers.
        unsafe { self.ioctl(cmd, name, &mut a)? };
        Ok(a.fdid)
    }

    /// `LEND_IOC_BORROW`, `LEND_IOC_RETURN`, `LEND_IOC_ATTACH` or
    /// `LEND_IOC_DETACH` (`cmd`, named `name`) of `/dev/rsio_lend` (admin)
    /// on `node`'s fabric device `fdid` (a peer's lent device, or a
    /// chassis function): returns where the device is (was) on this node
    /// (`domain`, `bus`, `devfn`, `dma_offset` of the result). `flags`:
    /// `LEND_RETURN_FORCE` (`RETURN`, `DETACH`) or 0.
    pub fn borrow_or_return(
        &self,
        cmd: u32,
        name: &'static str,
        node: u32,
        fdid: u32,
        flags: u32,
    ) -> Result<uapi::lend::LendBorrow, IoctlError> {
        let known = [
            uapi::lend::LEND_IOC_BORROW,
            uapi::lend::LEND_IOC_RETURN,
            uapi::lend::LEND_IOC_ATTACH,
            uapi::lend::LEND_IOC_DETACH,
        ];
        if !known.contains(&cmd) {
            return Err(IoctlError {
                name,
                path: self.path.clone(),
                error: io::Error::from_raw_os_error(libc::EINVAL),
            });
        }
        let mut a = <uapi::lend::LendBorrow as uapi::Request>::request();
        a.header.flags = flags;
        a.node = node;
        a.fdid = fdid;
        // SAFETY: LEND_IOC_BORROW, _RETURN, _ATTACH and _DETACH (checked above) take a `LendBorrow` in and out; it holds no pointers.
        unsafe { self.ioctl(cmd, name, &mut a)? };
        Ok(a)
    }

    /// `LEND_IOC_P2P`: borrowed `from` gets a path to BAR `bar` of
    /// borrowed `to` (each `(node, fdid)`).
    pub fn p2p(
        &self,
        from: (u32, u32),
        to: (u32, u32),
        bar: u32,
    ) -> Result<uapi::lend::LendP2p, IoctlError> {
        let mut a = <uapi::lend::LendP2p as uapi::Request>::request();
        (a.from_node, a.from_fdid) = from;
        (a.to_node, a.to_fdid) = to;
        a.bar = bar;
        // SAFETY: LEND_IOC_P2P takes a `LendP2p` in and out; it holds no pointers.
        unsafe { self.ioctl(uapi::lend::LEND_IOC_P2P, "LEND_IOC_P2P", &mut a)? };
        Ok(a)
    }

    /// `NVME_IOC_SHARE` or `NVME_IOC_UNSHARE` (`cmd`, named `name`) of
    /// `rsio_nvme_share` on `/dev/rsio` (admin) with `arg` (its header's
    /// size is set here): returns the struct as the kernel left it (`ctrl`
    /// out).
    pub fn nvme_share(
        &self,
        cmd: u32,
        name: &'static str,
        mut arg: uapi::nvme_share::NvmeShare,
    ) -> Result<uapi::nvme_share::NvmeShare, IoctlError> {
        if cmd != uapi::nvme_share::NVME_IOC_SHARE && cmd != uapi::nvme_share::NVME_IOC_UNSHARE {
            return Err(IoctlError {
                name,
                path: self.path.clone(),
                error: io::Error::from_raw_os_error(libc::EINVAL),
            });
        }
        arg.header.size = size_of::<uapi::nvme_share::NvmeShare>() as u32;
        // SAFETY: NVME_IOC_SHARE and NVME_IOC_UNSHARE (checked above) take an `NvmeShare` in and out; it holds no pointers.
        unsafe { self.ioctl(cmd, name, &mut arg)? };
        Ok(arg)
    }

    /// `NVME_IOC_ATTACH` or `NVME_IOC_DETACH` (`cmd`, named `name`) of
    /// `rsio_nvme_share` on `/dev/rsio` (admin) with `arg` (its header's
    /// size is set here): returns the struct as the kernel left it
    /// (`attach`, `granted`, `disks` out).
    pub fn nvme_attach(
        &self,
        cmd: u32,
        name: &'static str,
        mut arg: uapi::nvme_share::NvmeAttach,
    ) -> Result<uapi::nvme_share::NvmeAttach, IoctlError> {
        if cmd != uapi::nvme_share::NVME_IOC_ATTACH && cmd != uapi::nvme_share::NVME_IOC_DETACH {
            return Err(IoctlError {
                name,
                path: self.path.clone(),
                error: io::Error::from_raw_os_error(libc::EINVAL),
            });
        }
        arg.header.size = size_of::<uapi::nvme_share::NvmeAttach>() as u32;
        // SAFETY: NVME_IOC_ATTACH and NVME_IOC_DETACH (checked above) take an `NvmeAttach` in and out; it holds no pointers.
        unsafe { self.ioctl(cmd, name, &mut arg)? };
        Ok(arg)
    }

    /// `RSIO_IOC_GRANT` (admin): `len` bytes of zeroed local memory that
    /// the nodes in `peers` may reach, until revoked or the file closes.
    pub fn grant(&self, peers: u32, len: u64) -> Result<uapi::RsioGrant, IoctlError> {
        let mut g = <uapi::RsioGrant as uapi::Request>::request();
        g.peers = peers;
        g.len = len;
        // SAFETY: RSIO_IOC_GRANT takes an `RsioGrant` in and out; it holds no pointers.
        unsafe { self.ioctl(uapi::RSIO_IOC_GRANT, "RSIO_IOC_GRANT", &mut g)? };
        Ok(g)
    }

    /// `RSIO_IOC_REVOKE` (admin): closes grant `id` of this file.
    pub fn revoke(&self, id: u32) -> Result<(), IoctlError> {
        let mut a = <uapi::RsioId as uapi::Request>::request();
        a.id = id;
        // SAFETY: RSIO_IOC_REVOKE takes an `RsioId` in and out; it holds no pointers.
        unsafe { self.ioctl(uapi::RSIO_IOC_REVOKE, "RSIO_IOC_REVOKE", &mut a) }
    }

    /// `RSIO_IOC_MAP` (admin): maps `len` bytes at `fabric_addr` of `node`.
    pub fn map(&self, node: u32, fabric_addr: u64, len: u64) -> Result<uapi::RsioMap, IoctlError> {
        let mut m = <uapi::RsioMap as uapi::Request>::request();
        m.node = node;
        m.fabric_addr = fabric_addr;
        m.len = len;
        // SAFETY: RSIO_IOC_MAP takes an `RsioMap` in and out; it holds no pointers.
        unsafe { self.ioctl(uapi::RSIO_IOC_MAP, "RSIO_IOC_MAP", &mut m)? };
        Ok(m)
    }

    /// `RSIO_IOC_UNMAP` (admin): removes mapping `id` of this file.
    pub fn unmap(&self, id: u32) -> Result<(), IoctlError> {
        let mut a = <uapi::RsioId as uapi::Request>::request();
        a.id = id;
        // SAFETY: RSIO_IOC_UNMAP takes an `RsioId` in and out; it holds no pointers.
        unsafe { self.ioctl(uapi::RSIO_IOC_UNMAP, "RSIO_IOC_UNMAP", &mut a) }
    }

    /// `RSIO_IOC_WINDOW_IO` (admin): reads window `id` at `offset` into `buf`.
    pub fn window_read(&self, id: u32, offset: u64, buf: &mut [u8]) -> Result<(), IoctlError> {
        let mut io = <uapi::RsioWindowIo as uapi::Request>::request();
        io.id = id;
        io.offset = offset;
        io.len = buf.len() as u64;
        io.buf = buf.as_mut_ptr() as u64;
        // SAFETY: RSIO_IOC_WINDOW_IO takes an `RsioWindowIo`; without RSIO_IO_WRITE the kernel writes `len` bytes at `buf`, which is exclusively borrowed and that long.
        unsafe { self.ioctl(uapi::RSIO_IOC_WINDOW_IO, "RSIO_IOC_WINDOW_IO", &mut io) }
    }

    /// `RSIO_IOC_WINDOW_IO` (admin): writes `buf` into window `id` at `offset`.
    pub fn window_write(&self, id: u32, offset: u64, buf: &[u8]) -> Result<(), IoctlError> {
        let mut io = <uapi::RsioWindowIo as uapi::Request>::request();
        io.header.flags = uapi::RSIO_IO_WRITE;
        io.id = id;
        io.offset = offset;
        io.len = buf.len() as u64;
        io.buf = buf.as_ptr() as u64;
        // SAFETY: RSIO_IOC_WINDOW_IO takes an `RsioWindowIo`; with RSIO_IO_WRITE the kernel only reads `len` bytes at `buf`, which is borrowed and that long.
        unsafe { self.ioctl(uapi::RSIO_IOC_WINDOW_IO, "RSIO_IOC_WINDOW_IO", &mut io) }
    }

    /// Reads the little-endian word at `offset` of window `id`.
    pub fn read_u32(&self, id: u32, offset: u64) -> Result<u32, IoctlError> {
        let mut b = [0u8; 4];
        self.window_read(id, offset, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Writes `value` little-endian at `offset` of window `id`.
    pub fn write_u32(&self, id: u32, offset: u64, value: u32) -> Result<(), IoctlError> {
        self.window_write(id, offset, &value.to_le_bytes())
    }
}

/// Why [`fetch_list`] failed.
#[derive(Debug)]
pub enum ListError {
    /// The list grew between every pair of calls.
    KeptGrowing,
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListError::KeptGrowing => {
                write!(f, "the list kept growing over {LIST_ATTEMPTS} attempts")
            }
        }
    }
}

impl std::error::Error for ListError {}

/// The list-call protocol: `call` fills the buffer it is given and returns
/// how many elements exist. Asks with room for `guess` elements, then again
/// with room for the reported count plus slack, until the list fits (it may
/// grow between calls). Capped at `RSIO_MAX_LIST` elements.
pub fn fetch_list<T: Copy>(
    zero: T,
    guess: u32,
    mut call: impl FnMut(&mut [T]) -> Result<u32, IoctlError>,
) -> Result<Vec<T>> {
    let mut capacity = guess.min(uapi::RSIO_MAX_LIST);
    for _ in 0..LIST_ATTEMPTS {
        let mut buf = vec![zero; capacity as usize];
        let count = call(&mut buf)?;
        if count <= capacity || capacity == uapi::RSIO_MAX_LIST {
            buf.truncate(count.min(capacity) as usize);
            return Ok(buf);
        }
        capacity = count.saturating_add(count / 4 + 4).min(uapi::RSIO_MAX_LIST);
    }
    Err(ListError::KeptGrowing.into())
}

/// The symbolic name of an errno the rsio ioctls return, if known.
pub fn errno_name(code: i32) -> Option<&'static str> {
    Some(match code {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ENOTTY => "ENOTTY",
        libc::ERANGE => "ERANGE",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ECONNRESET => "ECONNRESET",
        libc::EHOSTDOWN => "EHOSTDOWN",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EDQUOT => "EDQUOT",
        _ => return None,
    })
}

/// An OS error as "Message (ENAME)", without std's "(os error N)" suffix.
pub fn describe(e: &io::Error) -> String {
    let Some(code) = e.raw_os_error() else {
        return e.to_string();
    };
    let text = e.to_string();
    let message = text.split(" (os error").next().unwrap_or(&text);
    match errno_name(code) {
        Some(name) => format!("{message} ({name})"),
        None => format!("{message} (errno {code})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_are_described_by_message_and_errno_name() {
        let e = io::Error::from_raw_os_error(libc::ENOTTY);
        assert_eq!(describe(&e), "Inappropriate ioctl for device (ENOTTY)");
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(describe(&e), "No such file or directory (ENOENT)");
    }

    #[test]
    fn every_errno_the_fabric_ioctls_return_has_a_name() {
        for (code, name) in [
            (libc::EINVAL, "EINVAL"),
            (libc::E2BIG, "E2BIG"),
            (libc::EFAULT, "EFAULT"),
            (libc::ENOTTY, "ENOTTY"),
            (libc::EPERM, "EPERM"),
            (libc::ENODEV, "ENODEV"),
            (libc::EHOSTUNREACH, "EHOSTUNREACH"),
            (libc::ETIMEDOUT, "ETIMEDOUT"),
            (libc::EINTR, "EINTR"),
            (libc::EIO, "EIO"),
            (libc::ENOENT, "ENOENT"),
            (libc::ENOSPC, "ENOSPC"),
            (libc::EEXIST, "EEXIST"),
            (libc::ENOMEM, "ENOMEM"),
            (libc::EAGAIN, "EAGAIN"),
            (libc::ECONNRESET, "ECONNRESET"),
        ] {
            assert_eq!(errno_name(code), Some(name));
            let d = describe(&io::Error::from_raw_os_error(code));
            assert!(d.ends_with(&format!(" ({name})")), "{d}");
        }
    }

    #[test]
    fn unnamed_errnos_are_shown_by_number() {
        let e = io::Error::from_raw_os_error(libc::EDOM);
        assert_eq!(describe(&e), "Numerical argument out of domain (errno 33)");
    }

    #[test]
    fn ioctl_errors_name_the_ioctl_and_hint_at_the_fix() {
        let e = IoctlError {
            name: "RSIO_IOC_GRANT",
            path: "/dev/rsio".into(),
            error: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert_eq!(
            e.to_string(),
            "RSIO_IOC_GRANT on /dev/rsio failed: Operation not permitted (EPERM) \
             (this command needs CAP_SYS_ADMIN: run it as root)"
        );
        let any = anyhow::Error::new(e).context("granting 4K");
        assert_eq!(errno_of(&any), Some(libc::EPERM));
        assert_eq!(errno_of(&anyhow::anyhow!("plain")), None);
    }

    /// A fake listing ioctl over `items` that grows by `growth` each call.
    fn fake(items: u32, growth: u32) -> impl FnMut(&mut [u32]) -> Result<u32, IoctlError> {
        let mut n = items;
        move |buf: &mut [u32]| {
            for (i, slot) in buf.iter_mut().enumerate().take(n as usize) {
                *slot = i as u32 + 1;
            }
            let count = n;
            n += growth;
            Ok(count)
        }
    }

    #[test]
    fn a_list_that_fits_the_guess_takes_one_call() {
        let mut calls = 0;
        let mut f = fake(3, 0);
        let v = fetch_list(0u32, 16, |b| {
            calls += 1;
            f(b)
        })
        .unwrap();
        assert_eq!(v, [1, 2, 3]);
        assert_eq!(calls, 1);
    }

    #[test]
    fn a_list_larger_than_the_guess_is_fetched_again_with_room() {
        let v = fetch_list(0u32, 0, fake(40, 0)).unwrap();
        assert_eq!(v.len(), 40);
        assert_eq!(v[39], 40);
    }

    #[test]
    fn a_list_that_grows_between_calls_is_retried() {
        let v = fetch_list(0u32, 2, fake(10, 50)).unwrap();
        assert!(v.len() >= 60, "{}", v.len());
    }

    #[test]
    fn a_list_that_never_stops_growing_is_an_error() {
        // One more element than there was room for, every time.
        let err = fetch_list(0u32, 0, |b| Ok(b.len() as u32 + 1)).unwrap_err();
        assert_eq!(err.to_string(), "the list kept growing over 8 attempts");
    }

    #[test]
    fn lists_are_capped_at_the_abi_maximum() {
        let v = fetch_list(0u32, 0, fake(5000, 0)).unwrap();
        assert_eq!(v.len(), uapi::RSIO_MAX_LIST as usize);
    }

    #[test]
    fn a_failing_list_call_passes_its_errno_on() {
        let err = fetch_list(0u32, 4, |_| {
            Err(IoctlError {
                name: "RSIO_IOC_NODES",
                path: "/dev/rsio".into(),
                error: io::Error::from_raw_os_error(libc::ENODEV),
            })
        })
        .unwrap_err();
        assert_eq!(errno_of(&err), Some(libc::ENODEV));
    }

    #[test]
    fn opening_a_missing_device_says_which_module_to_load() {
        let err = Device::open("/nonexistent/rsio")
            .err()
            .expect("open must fail");
        assert_eq!(
            err.to_string(),
            "cannot open /nonexistent/rsio: No such file or directory (ENOENT) (is the rsio_fabric module loaded?)"
        );
        let err = Device::open("/nonexistent/rsio_lend")
            .err()
            .expect("open must fail");
        assert!(err
            .to_string()
            .ends_with("(is the rsio_lend module loaded?)"));
    }

    #[test]
    fn ioctls_on_a_file_that_is_not_the_device_fail_with_the_errno() {
        let dev = Device::open("/dev/null").expect("open /dev/null");
        let err = dev.status().expect_err("/dev/null has no ioctls");
        assert_eq!(err.name, "RSIO_IOC_STATUS");
        assert_eq!(err.errno(), Some(libc::ENOTTY));
        let err = dev.nodes().expect_err("/dev/null has no ioctls");
        assert_eq!(errno_of(&err), Some(libc::ENOTTY));
    }
}
