// SPDX-License-Identifier: GPL-2.0

//! SmartIO: PCIe devices that nodes of the fabric lend (`rsio_lend`),
//! borrowed by this process through `/dev/sisci`.
//!
//! - [`lent_devices`]: every device lent in the cluster (`LEND_IOC_LIST`
//!   of `/dev/rsio_lend`; any user allowed to open it may list).
//! - [`BorrowedDevice::borrow`]: borrow one (`SISCI_IOC_DEV_BORROW`),
//!   exclusively or shared; [`BorrowedDevice::map_bar`] maps a BAR into
//!   this process; [`BorrowedDevice::map_local`] /
//!   [`BorrowedDevice::map_remote`] make a segment reachable by the
//!   device's DMA and give the bus address to program into it.
//! - [`LocalSegment::bus_address`] / [`RemoteSegment::bus_address`]: where
//!   a segment is on this node's bus (`SISCI_IOC_SEG_ADDR`).
//!
//! A borrowed device is returned when the [`BorrowedDevice`] and every BAR
//! [`Mapping`] of it are dropped (or at once with
//! [`BorrowedDevice::give_back`]), and by the kernel when the process
//! exits.

use crate::device::Sisci;
use crate::error::{Error, Result};
use crate::mapping::{Mapping, Owner};
use crate::segment::{LocalSegment, RemoteSegment};
use crate::sys::{ioctl, ioctl_handle, Fd};
use rsio_uapi::lend::*;
use rsio_uapi::sisci::*;
use rsio_uapi::{Request, RsioList, RSIO_MAX_LIST};
use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A device some node of the cluster lends (one `LEND_IOC_LIST` entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LentDevice {
    /// The lending node.
    pub node: u32,
    /// Its fabric device id (`node << 16 | index`).
    pub fdid: u32,
    /// A node's kernel borrows it (`LEND_STATE_BORROWED`).
    pub borrowed: bool,
    /// PCI domain on the lender.
    pub domain: u32,
    /// Bus number on the lender.
    pub bus: u32,
    /// `device << 3 | function` on the lender.
    pub devfn: u32,
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// Subsystem vendor id.
    pub subsystem_vendor: u16,
    /// Subsystem id.
    pub subsystem_device: u16,
    /// Class code (24 bits).
    pub class: u32,
    /// Revision id.
    pub revision: u32,
    /// Bytes of each standard BAR (0: none).
    pub bar_size: [u64; LEND_NUM_BARS],
    /// `LEND_BAR_*` of each BAR.
    pub bar_flags: [u32; LEND_NUM_BARS],
    /// `LEND_DEV_*`.
    pub dev_flags: u32,
}

impl LentDevice {
    /// The lender's PCI address, as lspci prints it (`DDDD:BB:DD.F`).
    pub fn bdf_name(&self) -> String {
        format!(
            "{:04x}:{:02x}:{:02x}.{}",
            self.domain,
            self.bus,
            self.devfn >> 3,
            self.devfn & 7
        )
    }

    /// The device can be borrowed at all (its driver model does not
    /// bypass the DMA API; it may still be busy).
    pub fn borrowable(&self) -> bool {
        self.dev_flags & LEND_DEV_NO_DMA_API == 0
    }
}

impl From<&LendDevEntry> for LentDevice {
    fn from(e: &LendDevEntry) -> Self {
        LentDevice {
            node: e.node,
            fdid: e.fdid,
            borrowed: e.state == LEND_STATE_BORROWED,
            domain: e.domain,
            bus: e.bus,
            devfn: e.devfn,
            vendor: e.vendor,
            device: e.device,
            subsystem_vendor: e.subsystem_vendor,
            subsystem_device: e.subsystem_device,
            class: e.class,
            revision: e.revision,
            bar_size: e.bar_size,
            bar_flags: e.bar_flags,
            dev_flags: e.dev_flags,
        }
    }
}

/// Every device lent in the cluster, this node's included
/// ([`LEND_DEVICE_PATH`]).
pub fn lent_devices() -> Result<Vec<LentDevice>> {
    lent_devices_at(LEND_DEVICE_PATH)
}

/// As [`lent_devices`], through the lending device at `path`.
pub fn lent_devices_at(path: &str) -> Result<Vec<LentDevice>> {
    let c = CString::new(path).map_err(|_| Error::new("open", libc::EINVAL))?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(Error::last("open"));
    }
    // SAFETY: `fd` was just returned by open(2) and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut cap: u32 = 16;
    loop {
        let mut buf: Vec<LendDevEntry> = Vec::with_capacity(cap as usize);
        let mut l = RsioList::request();
        l.entries = buf.as_mut_ptr() as u64;
        l.capacity = cap;
        l.entry_size = core::mem::size_of::<LendDevEntry>() as u32;
        ioctl(&fd, LEND_IOC_LIST, &mut l, "LEND_LIST")?;
        if l.count > cap && cap < RSIO_MAX_LIST {
            cap = (l.count + 16).min(RSIO_MAX_LIST);
            continue;
        }
        let n = l.count.min(cap) as usize;
        // SAFETY: the kernel wrote `min(count, capacity)` elements of `entry_size` (= our element size) bytes into `buf`'s capacity.
        unsafe { buf.set_len(n) };
        return Ok(buf.iter().map(LentDevice::from).collect());
    }
}

/// The kernel side of a borrow: returned on drop unless returned already.
pub(crate) struct DevInner {
    fd: Fd,
    handle: u32,
    fdid: u32,
    mmap_offset: u64,
    bar_size: [u64; SISCI_DEV_NUM_BARS],
    vendor: u16,
    device: u16,
    class: u32,
    shared: bool,
    returned: AtomicBool,
}

impl DevInner {
    fn give_back(&self) -> Result<()> {
        if self.returned.load(Ordering::Acquire) {
            return Ok(());
        }
        ioctl_handle(
            &self.fd,
            SISCI_IOC_DEV_RETURN,
            self.handle,
            0,
            0,
            "DEV_RETURN",
        )?;
        self.returned.store(true, Ordering::Release);
        Ok(())
    }
}

impl Drop for DevInner {
    fn drop(&mut self) {
        let _ = self.give_back();
    }
}

/// Where a byte of a segment is on this node's bus (`SISCI_IOC_SEG_ADDR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusAddress {
    /// The address at which a PCIe device on this node's bus reaches it.
    pub ioaddr: u64,
    /// A local segment's physical address (0: a connection, or the
    /// process lacks `CAP_SYS_RAWIO`).
    pub phys: u64,
    /// Bytes from there that are contiguous at both addresses.
    pub contiguous: u64,
}

fn seg_addr(fd: &Fd, handle: u32, offset: u64, remote: bool) -> Result<BusAddress> {
    let mut a = SisciSegAddr::request();
    if remote {
        a.header.flags = SISCI_DEV_MAP_REMOTE;
    }
    a.handle = handle;
    a.offset = offset;
    ioctl(fd, SISCI_IOC_SEG_ADDR, &mut a, "SEG_ADDR")?;
    Ok(BusAddress {
        ioaddr: a.ioaddr,
        phys: a.phys,
        contiguous: a.contiguous,
    })
}

impl LocalSegment {
    /// Where byte `offset` of the segment is on this node's bus.
    /// `ERANGE` outside the segment.
    pub fn bus_address(&self, offset: u64) -> Result<BusAddress> {
        seg_addr(self.fd(), self.handle(), offset, false)
    }
}

impl RemoteSegment {
    /// Where byte `offset` of the remote segment is on this node's bus
    /// (through the adapter's direct window). `EOPNOTSUPP` for a multicast
    /// group, `ERANGE` outside the segment.
    pub fn bus_address(&self, offset: u64) -> Result<BusAddress> {
        seg_addr(self.fd(), self.handle(), offset, true)
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// A device of the cluster borrowed by this process: its BARs can be
/// mapped and segments mapped for its DMA. Returned when this and every
/// BAR [`Mapping`] of it are dropped.
pub struct BorrowedDevice {
    inner: Arc<DevInner>,
}

impl BorrowedDevice {
    /// Borrows fabric device `fdid` through `sisci` (needs
    /// `CAP_SYS_RAWIO`), exclusively or `shared` with other borrowers.
    /// `ENOENT` no such device, `EBUSY` held (by a kernel driver, or
    /// exclusively), `EHOSTUNREACH` its lender is down, `ENODEV` no
    /// lender there, `EOPNOTSUPP` it cannot be borrowed, `EPERM`.
    pub fn borrow(sisci: &Sisci, fdid: u32, shared: bool) -> Result<Self> {
        let mut a = SisciDevBorrow::request();
        if shared {
            a.header.flags = SISCI_DEV_SHARED;
        }
        a.fdid = fdid;
        ioctl(&sisci.fd, SISCI_IOC_DEV_BORROW, &mut a, "DEV_BORROW")?;
        Ok(BorrowedDevice {
            inner: Arc::new(DevInner {
                fd: sisci.fd.clone(),
                handle: a.handle,
                fdid,
                mmap_offset: a.mmap_offset,
                bar_size: a.bar_size,
                vendor: a.vendor,
                device: a.device,
                class: a.class,
                shared,
                returned: AtomicBool::new(false),
            }),
        })
    }

    /// A device object no kernel knows, for tests of code built on this
    /// crate (the C library's): it has `bar_size`, every ioctl through it
    /// fails (its handle names nothing) and returning or dropping it
    /// issues none.
    #[doc(hidden)]
    pub fn placeholder(sisci: &Sisci, fdid: u32, bar_size: [u64; SISCI_DEV_NUM_BARS]) -> Self {
        BorrowedDevice {
            inner: Arc::new(DevInner {
                fd: sisci.fd.clone(),
                handle: u32::MAX,
                fdid,
                mmap_offset: 0,
                bar_size,
                vendor: 0,
                device: 0,
                class: 0,
                shared: true,
                returned: AtomicBool::new(true),
            }),
        }
    }

    /// The fabric device id.
    pub fn fdid(&self) -> u32 {
        self.inner.fdid
    }

    /// The lending node.
    pub fn lender(&self) -> u32 {
        self.inner.fdid >> 16
    }

    /// The kernel handle.
    pub fn handle(&self) -> u32 {
        self.inner.handle
    }

    /// Borrowed shared (else exclusively).
    pub fn is_shared(&self) -> bool {
        self.inner.shared
    }

    /// PCI vendor id.
    pub fn vendor(&self) -> u16 {
        self.inner.vendor
    }

    /// PCI device id.
    pub fn device(&self) -> u16 {
        self.inner.device
    }

    /// Class code (24 bits).
    pub fn class(&self) -> u32 {
        self.inner.class
    }

    /// Bytes of BAR `bar` that can be mapped; `None` if there are none
    /// (no such BAR, an I/O BAR, or one the lender cannot forward).
    pub fn bar_size(&self, bar: u32) -> Option<u64> {
        self.inner
            .bar_size
            .get(bar as usize)
            .copied()
            .filter(|&s| s > 0)
    }

    /// Live BAR [`Mapping`]s of this device.
    pub fn mappings(&self) -> usize {
        Arc::strong_count(&self.inner) - 1
    }

    /// Maps `len` bytes of BAR `bar` at `offset` (any offset: the mapping
    /// is page-aligned underneath). `ENOENT` no such BAR, `ERANGE` outside
    /// it. The mapping keeps the device borrowed.
    pub fn map_bar(&self, bar: u32, offset: u64, len: u64, writable: bool) -> Result<Mapping> {
        let size = self.bar_size(bar).ok_or(Error::new("mmap", libc::ENOENT))?;
        let i = &self.inner;
        let base = i.mmap_offset + (u64::from(bar) << SISCI_DEV_BAR_SHIFT);
        Mapping::new(
            &i.fd,
            base,
            size,
            offset,
            len,
            writable,
            Owner::Device(self.inner.clone()),
        )
    }

    /// The ioctl of `map_*`: page-aligns `offset` (the kernel wants it
    /// aligned) and returns the address of the byte at `offset`.
    fn dev_map(&self, seg: u32, remote: bool, offset: u64, size: u64) -> Result<u64> {
        let page = page_size();
        let aligned = offset & !(page - 1);
        let delta = offset - aligned;
        let mut a = SisciDevMap::request();
        if remote {
            a.header.flags = SISCI_DEV_MAP_REMOTE;
        }
        a.device = self.inner.handle;
        a.segment = seg;
        a.offset = aligned;
        a.size = if size == 0 {
            0
        } else {
            size.checked_add(delta)
                .ok_or(Error::new("DEV_MAP", libc::ERANGE))?
        };
        ioctl(&self.inner.fd, SISCI_IOC_DEV_MAP, &mut a, "DEV_MAP")?;
        Ok(a.ioaddr + delta)
    }

    fn dev_unmap(&self, seg: u32, remote: bool) -> Result<()> {
        let mut a = SisciDevMap::request();
        if remote {
            a.header.flags = SISCI_DEV_MAP_REMOTE;
        }
        a.device = self.inner.handle;
        a.segment = seg;
        ioctl(&self.inner.fd, SISCI_IOC_DEV_UNMAP, &mut a, "DEV_UNMAP")
    }

    fn same_file(&self, fd: &Fd, handle: u32, op: &'static str) -> Result<()> {
        // The kernel only knows the objects of the file the device was
        // borrowed through: the same `Sisci` (or a clone), or one
        // [`Sisci::share`]d with it (a `dup`: the kernel's SEG_STATE of
        // the handle through the device's file tells).
        if Arc::ptr_eq(fd, &self.inner.fd)
            || ioctl_handle(&self.inner.fd, SISCI_IOC_SEG_STATE, handle, 0, 0, op).is_ok()
        {
            Ok(())
        } else {
            Err(Error::new(op, libc::ENOENT))
        }
    }

    /// Makes `size` bytes of `seg` at `offset` (0: to its end) reachable
    /// by the device's DMA; returns the bus address at which the device
    /// reaches byte `offset`. The segment must be prepared and made
    /// through the same [`Sisci`] or one [`Sisci::share`]d with it
    /// (`ENOENT` otherwise); `ERANGE` if the
    /// range is not contiguous for the device (map at most 4 MiB pieces),
    /// `EACCES` the lender confines the device's DMA elsewhere. Each map
    /// needs an [`BorrowedDevice::unmap_local`]; while mapped the segment
    /// cannot be removed.
    pub fn map_local(&self, seg: &LocalSegment, offset: u64, size: u64) -> Result<u64> {
        self.same_file(seg.fd(), seg.handle(), "DEV_MAP")?;
        self.dev_map(seg.handle(), false, offset, size)
    }

    /// Takes back one [`BorrowedDevice::map_local`] of `seg`.
    pub fn unmap_local(&self, seg: &LocalSegment) -> Result<()> {
        self.same_file(seg.fd(), seg.handle(), "DEV_UNMAP")?;
        self.dev_unmap(seg.handle(), false)
    }

    /// As [`BorrowedDevice::map_local`] for a connection (a segment of
    /// any node, this one included): the device reaches it through the
    /// fabric. `ENOTCONN` for a lost connection.
    pub fn map_remote(&self, seg: &RemoteSegment, offset: u64, size: u64) -> Result<u64> {
        self.same_file(seg.fd(), seg.handle(), "DEV_MAP")?;
        self.dev_map(seg.handle(), true, offset, size)
    }

    /// Takes back one [`BorrowedDevice::map_remote`] of `seg`.
    pub fn unmap_remote(&self, seg: &RemoteSegment) -> Result<()> {
        self.same_file(seg.fd(), seg.handle(), "DEV_UNMAP")?;
        self.dev_unmap(seg.handle(), true)
    }

    /// Returns the device now: `EBUSY` while BARs are mapped (and the
    /// kernel's errors); on success the segment mappings made for it
    /// have ended and the object is inert (it maps nothing any more).
    pub fn return_now(&self) -> Result<()> {
        if self.mappings() > 0 {
            return Err(Error::new("DEV_RETURN", libc::EBUSY));
        }
        self.inner.give_back()
    }

    /// Returns the device now; on failure (`EBUSY` while BARs are
    /// mapped) the device comes back with the error.
    pub fn give_back(self) -> std::result::Result<(), (Self, Error)> {
        match self.return_now() {
            Ok(()) => Ok(()),
            Err(e) => Err((self, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> LendDevEntry {
        // SAFETY: `LendDevEntry` is `repr(C)` of integers: all-zeroes is a valid value.
        let mut e: LendDevEntry = unsafe { core::mem::zeroed() };
        e.node = 2;
        e.fdid = 2 << 16 | 1;
        e.state = LEND_STATE_BORROWED;
        e.domain = 0;
        e.bus = 3;
        e.devfn = 2 << 3 | 1;
        e.vendor = 0x8086;
        e.device = 0x5845;
        e.class = 0x010802;
        e.bar_size[0] = 0x4000;
        e
    }

    #[test]
    fn lent_device_from_entry() {
        let d = LentDevice::from(&entry());
        assert_eq!(d.node, 2);
        assert_eq!(d.fdid, 0x20001);
        assert!(d.borrowed);
        assert_eq!(d.bdf_name(), "0000:03:02.1");
        assert!(d.borrowable());
        let mut e = entry();
        e.dev_flags = LEND_DEV_NO_DMA_API;
        e.state = LEND_STATE_LENT;
        let d = LentDevice::from(&e);
        assert!(!d.borrowable() && !d.borrowed);
    }

    #[test]
    fn listing_without_or_with_a_wrong_device() {
        let e = lent_devices_at("/nonexistent/rsio_lend").unwrap_err();
        assert_eq!(e.errno(), libc::ENOENT);
        let e = lent_devices_at("/dev/null").unwrap_err();
        assert_eq!(e.op(), "LEND_LIST");
        assert!(e.errno() == libc::ENOTTY || e.errno() == libc::EINVAL);
    }

    #[test]
    fn borrowing_through_a_non_sisci_file_fails_cleanly() {
        let s = Sisci::open_path("/dev/null").unwrap();
        let e = BorrowedDevice::borrow(&s, 0x20001, true).err().unwrap();
        assert_eq!(e.op(), "DEV_BORROW");
        assert_eq!(s.live_objects(), 0);
    }

    /// A device that was never borrowed from a kernel, for the checks
    /// done before any ioctl.
    fn fake(fd: &Fd) -> BorrowedDevice {
        let s = Sisci { fd: fd.clone() };
        BorrowedDevice::placeholder(&s, 0x30002, [0x4000, 0, 0x1000, 0, 0, 0])
    }

    #[test]
    fn bar_checks_before_the_kernel() {
        let s = Sisci::open_path("/dev/null").unwrap();
        let d = fake(&s.fd);
        assert_eq!(d.lender(), 3);
        assert_eq!(d.bar_size(0), Some(0x4000));
        assert_eq!(d.bar_size(1), None);
        assert_eq!(d.bar_size(6), None);
        assert_eq!(d.bar_size(u32::MAX), None);
        assert_eq!(
            d.map_bar(1, 0, 4096, true).err().unwrap().errno(),
            libc::ENOENT
        );
        assert_eq!(
            d.map_bar(9, 0, 4096, true).err().unwrap().errno(),
            libc::ENOENT
        );
        assert_eq!(
            d.map_bar(2, 4096, 1, true).err().unwrap().errno(),
            libc::ERANGE
        );
        assert_eq!(
            d.map_bar(0, 0, 0, true).err().unwrap().errno(),
            libc::ERANGE
        );
        assert_eq!(d.mappings(), 0);
        assert!(d.return_now().is_ok());
    }

    #[test]
    fn segments_of_another_file_are_refused() {
        let a = Sisci::open_path("/dev/null").unwrap();
        let b = Sisci::open_path("/dev/null").unwrap();
        let d = fake(&a.fd);
        // Same-file checks compare the shared open file, not fd numbers.
        assert!(d.same_file(&a.fd, 1, "x").is_ok());
        assert_eq!(
            d.same_file(&b.fd, 1, "x").unwrap_err().errno(),
            libc::ENOENT
        );
    }
}
