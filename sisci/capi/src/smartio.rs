// SPDX-License-Identifier: GPL-2.0

//! SmartIO: PCIe devices lent on the fabric (`rsio_lend`), borrowed by
//! this process through its descriptor's `/dev/sisci` file (the `sisci`
//! crate's [`rs::BorrowedDevice`]). docs/sisci.md, "SmartIO", lists the
//! calls and the semantics chosen.
//!
//! A `sci_smartio_device_t` owns the borrow, the device segments made for
//! it (`SCICreateDeviceSegment`: local segments of this node) and the
//! records of the segments mapped for its DMA. A BAR connected with
//! `SCIConnectDeviceSegment(SCI_MEMTYPE_BAR)` is a `sci_remote_segment_t`
//! of its own kind ([`BarSeg`], told apart by its magic): the remote
//! segment calls of segment.rs and map.rs hand it to this module.

use crate::desc::desc;
use crate::errors::{from_errno, from_rs};
use crate::ffi::*;
use crate::nodeid;
use crate::segment::{LocalSeg, RemoteSeg};
use crate::types::*;
use std::collections::HashMap;
use std::ffi::{c_char, c_uint, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

// ---- The SmartIO sections of sisci_error.h, sisci_api.h, sisci_types.h.

/// `SCI_ERR_NO_SUCH_FDID`.
pub const SCI_ERR_NO_SUCH_FDID: sci_error_t = 0xB06 | SCI_ERR_MASK;

/// `SCIBorrowDevice`: borrow the device alone (default: shared).
pub const SCI_FLAG_EXCLUSIVE: c_uint = 0x0100_0000;
/// `SCIBorrowDevice`: shared, said explicitly (rsio); `SCIConnectDeviceMemory`:
/// a shared device segment.
pub const SCI_FLAG_SHARED: c_uint = 0x10;
/// `SCIConnectDeviceMemory`: a BAR.
pub const SCI_FLAG_BAR: c_uint = 0x20;
/// `SCIRegisterPCIeRequester`.
pub const SCI_FLAG_PCIE_REQUESTER_GLOBAL: c_uint = 0x1;
/// `SCICreateDeviceSegment` placement flags.
pub const SCI_FLAG_DEVICE_SIDE_ONLY: c_uint = 0x0200_1000;
pub const SCI_FLAG_LOCAL_ONLY: c_uint = 0x0200_2000;
pub const SCI_FLAG_DEVICE_PREFER_BANDWIDTH: c_uint = 0x0400_0001;
pub const SCI_FLAG_HOST_PREFER_BANDWIDTH: c_uint = 0x0400_0002;
/// `SCIMapRemoteSegment` of a BAR: no read prefetching (met: BARs are
/// mapped uncached).
pub const SCI_FLAG_IO_MAP_IOSPACE: c_uint = 0x80;

pub const SCI_MEMTYPE_BAR: c_uint = 0x1;
pub const SCI_MEMTYPE_PRIVATE: c_uint = 0x2;
pub const SCI_MEMTYPE_SHARED: c_uint = 0x4;
/// Every `SCI_MEMACCESS_*` bit (device/host read/write, multi-host, P2P).
const SCI_MEMACCESS_ALL: c_uint = 0x3f;

pub const SCI_Q_LOCAL_SEGMENT: c_uint = 5;
pub const SCI_Q_REMOTE_SEGMENT: c_uint = 6;
pub const SCI_Q_DEVICE: c_uint = 20;
pub const SCI_Q_DEVICE_INFO: c_uint = 1;
pub const SCI_Q_LOCAL_SEGMENT_IOADDR: c_uint = 1;
pub const SCI_Q_LOCAL_SEGMENT_PHYS_ADDR: c_uint = 2;
pub const SCI_Q_REMOTE_SEGMENT_IOADDR: c_uint = 1;

pub const SCI_SMARTIO_USER_NAME_LEN: usize = 64;

/// `sci_smartio_device_info_t` (`sci_dev_info_t`).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy)]
pub struct sci_smartio_device_info_t {
    pub fdid: u32,
    pub adapter: c_uint,
    pub pci_class: u32,
    pub pci_vendor_id: u16,
    pub pci_device_id: u16,
    pub pci_subsystem_vendor_id: u16,
    pub pci_subsystem_id: u16,
    pub lender_node: c_uint,
    pub bdf: u32,
    pub user_name: [c_char; SCI_SMARTIO_USER_NAME_LEN],
}

/// `sci_smartio_query_device_t` (`sci_query_dev_t`).
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct sci_smartio_query_device_t {
    pub fdid: u32,
    pub subcommand: c_uint,
    pub data: *mut c_void,
}

/// `sci_query_local_segment_t`.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct sci_query_local_segment_t {
    pub segment: Handle,
    pub subcommand: c_uint,
    pub ioaddr: u64,
}

/// `sci_query_remote_segment_t`.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct sci_query_remote_segment_t {
    pub segment: Handle,
    pub subcommand: c_uint,
    pub ioaddr: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// ---- The devices of the cluster.

/// Every device lent in the cluster. `SISCI_LEND_DEVICE` names another
/// lending device than `/dev/rsio_lend` (tests). Without one nothing is
/// lent: an empty list.
fn lent() -> CResult<Vec<rs::LentDevice>> {
    let r = match std::env::var("SISCI_LEND_DEVICE") {
        Ok(p) => rs::lent_devices_at(&p),
        Err(_) => rs::lent_devices(),
    };
    match r {
        Ok(v) => Ok(v),
        Err(e)
            if e.op() == "open"
                && matches!(e.errno(), libc::ENOENT | libc::ENXIO | libc::ENODEV) =>
        {
            Ok(Vec::new())
        }
        Err(e) => Err(from_rs(e)),
    }
}

/// What `SCI_Q_DEVICE_INFO` says of `d`.
fn info_of(d: &rs::LentDevice) -> sci_smartio_device_info_t {
    let mut i = sci_smartio_device_info_t {
        fdid: d.fdid,
        adapter: 0,
        pci_class: d.class,
        pci_vendor_id: d.vendor,
        pci_device_id: d.device,
        pci_subsystem_vendor_id: d.subsystem_vendor,
        pci_subsystem_id: d.subsystem_device,
        lender_node: nodeid::to_sisci(d.node),
        bdf: d.bus << 8 | d.devfn,
        user_name: [0; SCI_SMARTIO_USER_NAME_LEN],
    };
    let name = user_name(d);
    let n = name.len().min(SCI_SMARTIO_USER_NAME_LEN - 1);
    for (dst, src) in i.user_name.iter_mut().zip(&name.as_bytes()[..n]) {
        *dst = *src as c_char;
    }
    i
}

/// A device's `user_name`: its lender (SISCI node id) and its PCI address
/// there.
fn user_name(d: &rs::LentDevice) -> String {
    format!("node {} {}", nodeid::to_sisci(d.node), d.bdf_name())
}

/// `name` up to its NUL (all of it if it has none).
fn c_name(name: &[c_char]) -> Vec<u8> {
    name.iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect()
}

/// `d` matches every non-zero field of `f` (a non-empty `user_name`); a
/// `lender_node` is a SISCI node id (one that names no node matches none).
fn matches(d: &rs::LentDevice, f: &sci_smartio_device_info_t) -> bool {
    let eq = |want: u32, have: u32| want == 0 || want == have;
    let lender_ok = f.lender_node == 0 || nodeid::to_rsio(f.lender_node) == Some(d.node);
    let name = c_name(&f.user_name);
    eq(f.fdid, d.fdid)
        && f.adapter == 0
        && eq(f.pci_class, d.class)
        && eq(f.pci_vendor_id.into(), d.vendor.into())
        && eq(f.pci_device_id.into(), d.device.into())
        && eq(f.pci_subsystem_vendor_id.into(), d.subsystem_vendor.into())
        && eq(f.pci_subsystem_id.into(), d.subsystem_device.into())
        && lender_ok
        && eq(f.bdf, d.bus << 8 | d.devfn)
        && (name.is_empty() || name == user_name(d).as_bytes())
}

/// The fdids of the devices of `all` that match `filter` (none: all).
fn select(all: &[rs::LentDevice], filter: Option<&sci_smartio_device_info_t>) -> Vec<u32> {
    all.iter()
        .filter(|d| filter.is_none_or(|f| matches(d, f)))
        .map(|d| d.fdid)
        .collect()
}

/// `SCIGetDeviceList`: writes up to `length` fdids of the devices lent in
/// the cluster (every lender, this node included) that match the
/// non-zero fields of `filter` (NULL: every device), returns how many it
/// wrote. No `/dev/rsio_lend` (rsio_lend not loaded): none, no error.
///
/// # Safety
///
/// `sd` a live descriptor; `fdids` NULL or valid for `length` writes;
/// `filter` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn SCIGetDeviceList(
    sd: Handle,
    fdids: *mut u32,
    length: usize,
    filter: *const sci_smartio_device_info_t,
    flags: c_uint,
    error: *mut sci_error_t,
) -> usize {
    call(error, 0, || {
        // SAFETY: caller's contract.
        unsafe { desc(sd)? };
        check_flags(flags, 0)?;
        if fdids.is_null() && length > 0 {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        // SAFETY: NULL or a valid filter per the contract.
        let f = unsafe { filter.as_ref() };
        let ids = select(&lent()?, f);
        let n = ids.len().min(length);
        if n > 0 {
            // SAFETY: `fdids` holds `length >= n` elements (contract), checked not NULL.
            unsafe { std::ptr::copy_nonoverlapping(ids.as_ptr(), fdids, n) };
        }
        Ok(n)
    })
}

// ---- Borrowed devices.

/// What a borrowed device's handle and its BAR segments share.
struct DevShared {
    dev: rs::BorrowedDevice,
    /// The descriptor's device (device segments are made through it).
    sd: rs::Sisci,
    /// This node's id, for connecting to device segments (lazily).
    node_id: OnceLock<u32>,
    state: Mutex<DevState>,
}

/// A segment mapped for the device (`SCIMap*SegmentForDevice`).
struct DevMap {
    remote: bool,
    /// The C handle of the segment.
    key: usize,
    /// The segment's count of mappings (remove/disconnect are
    /// `SCI_ERR_BUSY` while it is not zero).
    counter: Arc<AtomicUsize>,
}

#[derive(Default)]
struct DevState {
    /// `SCICreateDeviceSegment`'s segments by segment id.
    segments: HashMap<u32, Arc<rs::LocalSegment>>,
    /// Connections made to them (`SCIConnectDeviceSegment`).
    connections: Vec<Weak<rs::RemoteSegment>>,
    /// Segments mapped for the device, one entry per map.
    maps: Vec<DevMap>,
}

/// `sci_smartio_device_t`.
#[repr(C)]
pub struct Device {
    magic: u32,
    shared: Arc<DevShared>,
    /// The descriptor it was borrowed through.
    desc: usize,
}

impl Object for Device {
    const MAGIC: u32 = 0x5C1_DE71;
    fn magic(&self) -> u32 {
        self.magic
    }
}

/// A `sci_remote_segment_t` of a device's BAR.
#[repr(C)]
pub struct BarSeg {
    magic: u32,
    shared: Arc<DevShared>,
    bar: u32,
    size: u64,
    /// Live `sci_map_t`s of the BAR.
    pub maps: Arc<AtomicUsize>,
}

impl Object for BarSeg {
    const MAGIC: u32 = 0x5C1_BA45;
    fn magic(&self) -> u32 {
        self.magic
    }
}

/// The device BAR segment behind `h`, if `h` is one (remote segment calls
/// check this first).
///
/// # Safety
///
/// `h` must be NULL or a live handle of this library.
pub unsafe fn bar<'a>(h: Handle) -> Option<&'a BarSeg> {
    // SAFETY: forwarded contract; `borrow` checks the magic.
    unsafe { borrow::<BarSeg>(h) }.ok()
}

impl BarSeg {
    /// `SCIGetRemoteSegmentSize`: the BAR's size.
    pub fn size(&self) -> usize {
        self.size as usize
    }

    /// `SCIGetRemoteSegmentId`: the BAR number.
    pub fn id(&self) -> c_uint {
        self.bar
    }

    /// `SCIGetRemoteSegmentNodeId`: the lender's SISCI node id.
    pub fn node(&self) -> c_uint {
        nodeid::to_sisci(self.shared.dev.lender())
    }

    /// The borrowed device (DMA queues copy to and from its BAR).
    pub fn device(&self) -> &rs::BorrowedDevice {
        &self.shared.dev
    }

    /// `SCIMapRemoteSegment`: maps part of the BAR.
    pub fn map(&self, offset: u64, len: u64, writable: bool) -> CResult<rs::Mapping> {
        self.shared
            .dev
            .map_bar(self.bar, offset, len, writable)
            .map_err(|e| match e.errno() {
                libc::ERANGE => SCI_ERR_OUT_OF_RANGE,
                e => dev_err(e),
            })
    }
}

/// `SCIDisconnectSegment` of a BAR segment: `SCI_ERR_BUSY` while mapped.
///
/// # Safety
///
/// `h` is the live handle of `b`; not used afterwards on success.
pub unsafe fn disconnect_bar(h: Handle, b: &BarSeg, flags: c_uint) -> CResult<()> {
    check_flags(flags, SCI_FLAG_FORCE_DISCONNECT)?;
    if b.maps.load(Ordering::Acquire) > 0 {
        return Err(SCI_ERR_BUSY);
    }
    // SAFETY: `h` is `b`'s handle (contract), checked by `bar`.
    drop(unsafe { take::<BarSeg>(h) });
    Ok(())
}

/// `SCIWaitForRemoteSegmentEvent` of a BAR segment: a BAR has no
/// connection events: the call waits out the timeout and says
/// `SCI_ERR_TIMEOUT`; with `SCI_INFINITE_TIMEOUT` it would never return:
/// `SCI_ERR_ILLEGAL_OPERATION` at once.
pub fn wait_bar_event(
    status: *mut sci_error_t,
    timeout_ms: c_uint,
    flags: c_uint,
) -> CResult<sci_segment_cb_reason_t> {
    if status.is_null() {
        return Err(SCI_ERR_ILLEGAL_PARAMETER);
    }
    check_flags(flags, 0)?;
    match timeout(timeout_ms) {
        None => Err(SCI_ERR_ILLEGAL_OPERATION),
        Some(t) => {
            std::thread::sleep(t);
            Err(SCI_ERR_TIMEOUT)
        }
    }
}

/// `SCIBorrowDevice`'s flags: shared (the default) or exclusive.
fn borrow_shared(flags: c_uint) -> CResult<bool> {
    check_flags(flags, SCI_FLAG_EXCLUSIVE | SCI_FLAG_SHARED)?;
    match flags {
        0 | SCI_FLAG_SHARED => Ok(true),
        SCI_FLAG_EXCLUSIVE => Ok(false),
        _ => Err(SCI_ERR_ILLEGAL_FLAG),
    }
}

/// The SISCI error of a failed `DEV_BORROW`.
fn borrow_err(errno: i32) -> sci_error_t {
    match errno {
        // No such device, or no lender for it there.
        libc::ENOENT | libc::ENODEV => SCI_ERR_NO_SUCH_FDID,
        // Held by a kernel driver, or exclusively.
        libc::EBUSY => SCI_ERR_NOT_AVAILABLE,
        e => from_errno(e),
    }
}

/// A device handle for a borrow through descriptor `sd`.
fn device_handle(sd: Handle, s: &rs::Sisci, dev: rs::BorrowedDevice) -> Handle {
    into_handle(Device {
        magic: Device::MAGIC,
        shared: Arc::new(DevShared {
            dev,
            sd: s.clone(),
            node_id: OnceLock::new(),
            state: Mutex::new(DevState::default()),
        }),
        desc: sd as usize,
    })
}

/// A device handle on test descriptor `sd` that no kernel knows (its BARs
/// `bar_size`; nothing to return), for other modules' tests.
#[cfg(test)]
pub(crate) fn test_device(sd: Handle, fdid: u32, bar_size: [u64; 6]) -> Handle {
    // SAFETY: the caller passes a live descriptor.
    let d = unsafe { desc(sd) }.unwrap();
    let dev = rs::BorrowedDevice::placeholder(&d.sd, fdid, bar_size);
    device_handle(sd, &d.sd, dev)
}

/// `SCIBorrowDevice`: borrows fabric device `fdid` for this process.
/// Flags: none (a shared borrow), `SCI_FLAG_EXCLUSIVE`, `SCI_FLAG_SHARED`.
///
/// # Safety
///
/// `sd` a live descriptor; `device` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn SCIBorrowDevice(
    sd: Handle,
    device: *mut Handle,
    fdid: u32,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let d = unsafe { desc(sd)? };
        if device.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        let shared = borrow_shared(flags)?;
        // Fabric device ids have a non-zero index.
        if fdid & 0xffff == 0 {
            return Err(SCI_ERR_NO_SUCH_FDID);
        }
        let dev =
            rs::BorrowedDevice::borrow(&d.sd, fdid, shared).map_err(|e| borrow_err(e.errno()))?;
        let h = device_handle(sd, &d.sd, dev);
        // SAFETY: checked not NULL; valid per the contract.
        unsafe { out(device, h) }
    })
}

/// `SCIReturnDevice`: returns the device; its device segments go with it.
/// `SCI_ERR_BUSY` while segments of it are connected (BARs, device
/// segments), segments are mapped for it, or its BARs are still mapped.
///
/// # Safety
///
/// `device` must be NULL or a live `sci_smartio_device_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIReturnDevice(device: Handle, flags: c_uint, error: *mut sci_error_t) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let d = unsafe { borrow::<Device>(device)? };
        check_flags(flags, 0)?;
        // BAR segments hold the shared part.
        if Arc::strong_count(&d.shared) > 1 {
            return Err(SCI_ERR_BUSY);
        }
        {
            let st = lock(&d.shared.state);
            if !st.maps.is_empty() || st.connections.iter().any(|c| c.strong_count() > 0) {
                return Err(SCI_ERR_BUSY);
            }
        }
        d.shared.dev.return_now().map_err(from_rs)?;
        // Dropping the handle removes the device segments.
        // SAFETY: checked by `borrow`; not used afterwards.
        drop(unsafe { take::<Device>(device) });
        Ok(())
    })
}

/// `SCIGetFabricDeviceId` (0 for a bad handle).
///
/// # Safety
///
/// `device` must be NULL or a live `sci_smartio_device_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIGetFabricDeviceId(device: Handle) -> u32 {
    call_quiet(0, || {
        // SAFETY: caller's contract.
        unsafe { borrow::<Device>(device) }
            .ok()
            .map(|d| d.shared.dev.fdid())
    })
}

/// Connects to memory `id` of kind `memtype` of `d`.
///
/// # Safety
///
/// `segment` valid for a write (checked not NULL by the caller).
unsafe fn connect(d: &Device, segment: *mut Handle, id: c_uint, memtype: c_uint) -> CResult<()> {
    let h = match memtype {
        SCI_MEMTYPE_BAR => {
            let size = d.shared.dev.bar_size(id).ok_or(SCI_ERR_NO_SUCH_SEGMENT)?;
            into_handle(BarSeg {
                magic: BarSeg::MAGIC,
                shared: d.shared.clone(),
                bar: id,
                size,
                maps: Arc::new(AtomicUsize::new(0)),
            })
        }
        SCI_MEMTYPE_PRIVATE => {
            let seg = lock(&d.shared.state)
                .segments
                .get(&id)
                .cloned()
                .ok_or(SCI_ERR_NO_SUCH_SEGMENT)?;
            let node = match d.shared.node_id.get() {
                Some(n) => *n,
                None => {
                    let n = d.shared.sd.info().map_err(from_rs)?.node_id;
                    *d.shared.node_id.get_or_init(|| n)
                }
            };
            let t = Some(Duration::from_secs(10));
            let r = rs::RemoteSegment::connect(&d.shared.sd, node, seg.id(), t);
            let r = Arc::new(r.map_err(from_rs)?);
            let mut st = lock(&d.shared.state);
            st.connections.retain(|c| c.strong_count() > 0);
            st.connections.push(Arc::downgrade(&r));
            crate::segment::remote_handle(r)
        }
        SCI_MEMTYPE_SHARED => return Err(SCI_ERR_FLAG_NOT_IMPLEMENTED),
        _ => return Err(SCI_ERR_ILLEGAL_PARAMETER),
    };
    // SAFETY: checked not NULL by the caller; valid per its contract.
    unsafe { out(segment, h) }
}

/// `SCIConnectDeviceSegment`: `SCI_MEMTYPE_BAR`: BAR `segmentId` (its
/// size the BAR's, its node the lender); `SCI_MEMTYPE_PRIVATE`: the
/// device segment `segmentId` made with `SCICreateDeviceSegment`.
/// `SCI_MEMTYPE_SHARED`: `SCI_ERR_FLAG_NOT_IMPLEMENTED`. No flags
/// (`SCI_FLAG_USE_CALLBACK`: `SCI_ERR_FLAG_NOT_IMPLEMENTED`).
///
/// # Safety
///
/// `device` a live `sci_smartio_device_t`; `segment` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn SCIConnectDeviceSegment(
    device: Handle,
    segment: *mut Handle,
    segment_id: c_uint,
    memory_type: c_uint,
    _callback: sci_cb_remote_segment_t,
    _callback_arg: *mut c_void,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let d = unsafe { borrow::<Device>(device)? };
        if segment.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        if flags & SCI_FLAG_USE_CALLBACK != 0 {
            return Err(SCI_ERR_FLAG_NOT_IMPLEMENTED);
        }
        check_flags(flags, 0)?;
        // SAFETY: checked not NULL; valid per the contract.
        unsafe { connect(d, segment, segment_id, memory_type) }
    })
}

/// `SCIConnectDeviceMemory` (the older call): the kind is a flag:
/// `SCI_FLAG_BAR` or none (BAR `segmentId`), `SCI_FLAG_PRIVATE`,
/// `SCI_FLAG_SHARED` (`SCI_ERR_FLAG_NOT_IMPLEMENTED`). `sd` must be the
/// descriptor the device was borrowed through; `reserved` is ignored.
///
/// # Safety
///
/// `sd` a live descriptor, `device` a live `sci_smartio_device_t`,
/// `segment` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn SCIConnectDeviceMemory(
    sd: Handle,
    segment: *mut Handle,
    adapter: c_uint,
    device: Handle,
    segment_id: c_uint,
    _reserved: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        unsafe { desc(sd)? };
        // SAFETY: caller's contract.
        let d = unsafe { borrow::<Device>(device)? };
        if segment.is_null() || d.desc != sd as usize {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_adapter(adapter)?;
        check_flags(flags, SCI_FLAG_BAR | SCI_FLAG_PRIVATE | SCI_FLAG_SHARED)?;
        let memtype = match flags {
            0 | SCI_FLAG_BAR => SCI_MEMTYPE_BAR,
            SCI_FLAG_PRIVATE => SCI_MEMTYPE_PRIVATE,
            SCI_FLAG_SHARED => SCI_MEMTYPE_SHARED,
            _ => return Err(SCI_ERR_ILLEGAL_FLAG),
        };
        // SAFETY: checked not NULL; valid per the contract.
        unsafe { connect(d, segment, segment_id, memtype) }
    })
}

/// `SCICreateDeviceSegment`'s flags: the placement hints this library
/// honours by placing the memory on this (the borrowing) node;
/// `SCI_FLAG_DEVICE_SIDE_ONLY` (memory on the device's side) it cannot.
fn check_placement(flags: c_uint) -> CResult<()> {
    if flags & SCI_FLAG_DEVICE_SIDE_ONLY == SCI_FLAG_DEVICE_SIDE_ONLY {
        return Err(SCI_ERR_FLAG_NOT_IMPLEMENTED);
    }
    let mut rest = flags;
    for f in [
        SCI_FLAG_LOCAL_ONLY,
        SCI_FLAG_HOST_PREFER_BANDWIDTH,
        SCI_FLAG_DEVICE_PREFER_BANDWIDTH,
    ] {
        if rest & f == f {
            rest &= !f;
        }
    }
    check_flags(rest, 0)
}

/// `SCICreateDeviceSegment`: memory of `size` bytes the process and the
/// device share, named `segmentId` for `SCIConnectDeviceSegment`: a
/// local segment of this node (prepared, available), removed when the
/// device is returned. `SCI_MEMTYPE_PRIVATE` only (`SCI_MEMTYPE_SHARED`:
/// `SCI_ERR_FLAG_NOT_IMPLEMENTED`); `memoryAccess` hints accepted (the
/// memory is on the borrowing node whatever they say). The same id twice:
/// `SCI_ERR_SEGMENTID_USED`.
///
/// # Safety
///
/// `device` must be NULL or a live `sci_smartio_device_t`.
#[no_mangle]
pub unsafe extern "C" fn SCICreateDeviceSegment(
    device: Handle,
    segment_id: c_uint,
    size: usize,
    memory_type: c_uint,
    memory_access: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let d = unsafe { borrow::<Device>(device)? };
        check_placement(flags)?;
        match memory_type {
            SCI_MEMTYPE_PRIVATE => {}
            SCI_MEMTYPE_SHARED => return Err(SCI_ERR_FLAG_NOT_IMPLEMENTED),
            _ => return Err(SCI_ERR_ILLEGAL_PARAMETER),
        }
        if memory_access & !SCI_MEMACCESS_ALL != 0 || size == 0 {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        let mut st = lock(&d.shared.state);
        if st.segments.contains_key(&segment_id) {
            return Err(SCI_ERR_SEGMENTID_USED);
        }
        let seg =
            rs::LocalSegment::create(&d.shared.sd, rs::Id::Auto, size as u64).map_err(from_rs)?;
        seg.prepare(0).map_err(from_rs)?;
        seg.set_available().map_err(from_rs)?;
        st.segments.insert(segment_id, Arc::new(seg));
        Ok(())
    })
}

/// Checks `offset`/`size` (0: to the end) against a segment of
/// `seg_size` bytes.
fn check_range(offset: usize, size: usize, seg_size: u64) -> CResult<()> {
    let (offset, size) = (offset as u64, size as u64);
    let end = offset.checked_add(size).ok_or(SCI_ERR_OUT_OF_RANGE)?;
    if offset >= seg_size || end > seg_size {
        return Err(SCI_ERR_OUT_OF_RANGE);
    }
    Ok(())
}

/// The SISCI error of an errno of an operation on a borrowed device.
fn dev_err(errno: i32) -> sci_error_t {
    match errno {
        // The device is gone (its lender died, or it was taken back).
        libc::ENODEV => SCI_ERR_NO_SUCH_FDID,
        e => from_errno(e),
    }
}

/// The SISCI error of a failed `DEV_MAP`/`DEV_UNMAP`.
fn dev_map_err(e: rs::Error) -> sci_error_t {
    match e.errno() {
        // Not contiguous for the device (or out of the segment).
        libc::ERANGE => SCI_ERR_OUT_OF_RANGE,
        e => dev_err(e),
    }
}

/// Records a map of the segment `key` (with mappings count `counter`).
fn add_map(st: &mut DevState, remote: bool, key: usize, counter: &Arc<AtomicUsize>) {
    counter.fetch_add(1, Ordering::AcqRel);
    st.maps.push(DevMap {
        remote,
        key,
        counter: counter.clone(),
    });
}

/// The record of a map of `key`: `SCI_ERR_ILLEGAL_OPERATION` if there is none.
fn find_map(st: &DevState, remote: bool, key: usize) -> CResult<usize> {
    st.maps
        .iter()
        .position(|m| m.remote == remote && m.key == key)
        .ok_or(SCI_ERR_ILLEGAL_OPERATION)
}

/// Forgets map `i`.
fn remove_map(st: &mut DevState, i: usize) {
    let m = st.maps.remove(i);
    m.counter.fetch_sub(1, Ordering::AcqRel);
}

/// `SCIMapLocalSegmentForDevice`: makes `size` bytes (0: to the end) of a
/// prepared local segment at `offset` reachable by the device's DMA;
/// `*ioaddr` is where the device reaches byte `offset`. The segment must
/// belong to the descriptor the device was borrowed through. While mapped
/// the segment cannot be removed (`SCI_ERR_BUSY`). `SCI_ERR_OUT_OF_RANGE`
/// also when the range is not contiguous for the device (map at most
/// 4 MiB at a time).
///
/// # Safety
///
/// Handles NULL or live; `ioaddr` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn SCIMapLocalSegmentForDevice(
    segment: Handle,
    adapter: c_uint,
    device: Handle,
    ioaddr: *mut u64,
    offset: usize,
    size: usize,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let s = unsafe { borrow::<LocalSeg>(segment)? };
        // SAFETY: caller's contract.
        let d = unsafe { borrow::<Device>(device)? };
        check_adapter(adapter)?;
        if ioaddr.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_flags(flags, 0)?;
        let seg = s.seg().map_err(|_| SCI_ERR_SEGMENT_NOT_PREPARED)?;
        check_range(offset, size, seg.size())?;
        let mut st = lock(&d.shared.state);
        let a = d
            .shared
            .dev
            .map_local(seg, offset as u64, size as u64)
            .map_err(dev_map_err)?;
        add_map(&mut st, false, segment as usize, &s.maps);
        // SAFETY: checked not NULL; valid per the contract.
        unsafe { out(ioaddr, a) }
    })
}

/// `SCIUnmapLocalSegmentForDevice`: takes back one map of the segment
/// (none: `SCI_ERR_ILLEGAL_OPERATION`).
///
/// # Safety
///
/// Handles NULL or live.
#[no_mangle]
pub unsafe extern "C" fn SCIUnmapLocalSegmentForDevice(
    segment: Handle,
    adapter: c_uint,
    device: Handle,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let s = unsafe { borrow::<LocalSeg>(segment)? };
        // SAFETY: caller's contract.
        let d = unsafe { borrow::<Device>(device)? };
        check_adapter(adapter)?;
        check_flags(flags, 0)?;
        let mut st = lock(&d.shared.state);
        let i = find_map(&st, false, segment as usize)?;
        let seg = s.seg()?;
        d.shared.dev.unmap_local(seg).map_err(dev_map_err)?;
        remove_map(&mut st, i);
        Ok(())
    })
}

/// `SCIMapRemoteSegmentForDevice`: as `SCIMapLocalSegmentForDevice` for a
/// connected segment (of any node, this one included, e.g. a device
/// segment): the device reaches it through the fabric. A device BAR
/// (peer-to-peer between devices): `SCI_ERR_NOT_SUPPORTED`.
///
/// # Safety
///
/// Handles NULL or live; `ioaddr` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn SCIMapRemoteSegmentForDevice(
    segment: Handle,
    device: Handle,
    ioaddr: *mut u64,
    offset: usize,
    size: usize,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let d = unsafe { borrow::<Device>(device)? };
        if ioaddr.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_flags(flags, 0)?;
        // SAFETY: caller's contract.
        if unsafe { bar(segment) }.is_some() {
            return Err(SCI_ERR_NOT_SUPPORTED);
        }
        // SAFETY: caller's contract.
        let r = unsafe { borrow::<RemoteSeg>(segment)? };
        check_range(offset, size, r.seg.size())?;
        let mut st = lock(&d.shared.state);
        let a = d
            .shared
            .dev
            .map_remote(&r.seg, offset as u64, size as u64)
            .map_err(dev_map_err)?;
        add_map(&mut st, true, segment as usize, &r.maps);
        // SAFETY: checked not NULL; valid per the contract.
        unsafe { out(ioaddr, a) }
    })
}

/// `SCIUnmapRemoteSegmentForDevice`: takes back one map of the segment
/// (none: `SCI_ERR_ILLEGAL_OPERATION`).
///
/// # Safety
///
/// Handles NULL or live.
#[no_mangle]
pub unsafe extern "C" fn SCIUnmapRemoteSegmentForDevice(
    segment: Handle,
    device: Handle,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let d = unsafe { borrow::<Device>(device)? };
        check_flags(flags, 0)?;
        // SAFETY: caller's contract.
        if unsafe { bar(segment) }.is_some() {
            return Err(SCI_ERR_ILLEGAL_OPERATION);
        }
        // SAFETY: caller's contract.
        let r = unsafe { borrow::<RemoteSeg>(segment)? };
        let mut st = lock(&d.shared.state);
        let i = find_map(&st, true, segment as usize)?;
        d.shared.dev.unmap_remote(&r.seg).map_err(dev_map_err)?;
        remove_map(&mut st, i);
        Ok(())
    })
}

// ---- SCIQuery: SCI_Q_DEVICE, SCI_Q_LOCAL_SEGMENT, SCI_Q_REMOTE_SEGMENT.

/// The SISCI error of a failed `SEG_ADDR`.
fn addr_err(e: rs::Error) -> sci_error_t {
    match e.errno() {
        libc::ERANGE => SCI_ERR_OUT_OF_RANGE,
        e => from_errno(e),
    }
}

/// `SCIQuery` of the SmartIO commands (desc.rs dispatches them here).
///
/// # Safety
///
/// `data` not NULL (checked by the caller) and pointing to the struct the
/// command takes.
pub unsafe fn query(command: c_uint, data: *mut c_void) -> CResult<()> {
    match command {
        SCI_Q_DEVICE => {
            // SAFETY: a `sci_smartio_query_device_t` for this command.
            let q = unsafe { &*data.cast::<sci_smartio_query_device_t>() };
            if q.subcommand != SCI_Q_DEVICE_INFO {
                return Err(SCI_ERR_ILLEGAL_QUERY);
            }
            if q.data.is_null() {
                return Err(SCI_ERR_ILLEGAL_PARAMETER);
            }
            let d = lent()?
                .into_iter()
                .find(|d| d.fdid == q.fdid)
                .ok_or(SCI_ERR_NO_SUCH_FDID)?;
            // SAFETY: the subcommand answers in a `sci_smartio_device_info_t` (contract).
            unsafe { out(q.data.cast::<sci_smartio_device_info_t>(), info_of(&d)) }
        }
        SCI_Q_LOCAL_SEGMENT => {
            // SAFETY: a `sci_query_local_segment_t` for this command.
            let q = unsafe { &mut *data.cast::<sci_query_local_segment_t>() };
            let phys = match q.subcommand {
                SCI_Q_LOCAL_SEGMENT_IOADDR => false,
                SCI_Q_LOCAL_SEGMENT_PHYS_ADDR => true,
                _ => return Err(SCI_ERR_ILLEGAL_QUERY),
            };
            // SAFETY: the query's segment is NULL or live (contract).
            let s = unsafe { borrow::<LocalSeg>(q.segment)? };
            let a = s.seg()?.bus_address(0).map_err(addr_err)?;
            q.ioaddr = if phys {
                // Physical addresses need CAP_SYS_RAWIO: 0 without.
                if a.phys == 0 {
                    return Err(SCI_ERR_ACCESS);
                }
                a.phys
            } else {
                a.ioaddr
            };
            Ok(())
        }
        SCI_Q_REMOTE_SEGMENT => {
            // SAFETY: a `sci_query_remote_segment_t` for this command.
            let q = unsafe { &mut *data.cast::<sci_query_remote_segment_t>() };
            if q.subcommand != SCI_Q_REMOTE_SEGMENT_IOADDR {
                return Err(SCI_ERR_ILLEGAL_QUERY);
            }
            // SAFETY: the query's segment is NULL or live (contract).
            if unsafe { bar(q.segment) }.is_some() {
                // The ABI does not say where a BAR is on the bus.
                return Err(SCI_ERR_NOT_SUPPORTED);
            }
            // SAFETY: as above.
            let r = unsafe { borrow::<RemoteSeg>(q.segment)? };
            q.ioaddr = r.seg.bus_address(0).map_err(addr_err)?.ioaddr;
            Ok(())
        }
        _ => Err(SCI_ERR_ILLEGAL_QUERY),
    }
}

// ---- PCIe requesters.

/// Requesters registered, by descriptor (its handle's address).
static REQUESTERS: Mutex<Vec<(usize, u32, u32)>> = Mutex::new(Vec::new());

/// Where sysfs lists this node's PCI functions.
const SYSFS_PCI: &str = "/sys/bus/pci/devices";

/// PCI function `bus:devfn` of domain 0 exists on this node.
fn pci_function_exists(root: &str, bus: c_uint, devfn: c_uint) -> bool {
    let p = format!("{root}/0000:{bus:02x}:{:02x}.{:x}", devfn >> 3, devfn & 7);
    std::path::Path::new(&p).exists()
}

/// Checks a requester's arguments.
fn check_requester(adapter: c_uint, bus: c_uint, devfn: c_uint, flags: c_uint) -> CResult<()> {
    check_adapter(adapter)?;
    check_flags(flags, SCI_FLAG_PCIE_REQUESTER_GLOBAL)?;
    if bus > 0xff || devfn > 0xff {
        return Err(SCI_ERR_ILLEGAL_PARAMETER);
    }
    Ok(())
}

/// `SCIRegisterPCIeRequester`: lets PCI function `bus:devfn` (domain 0)
/// of this node reach segments through the adapter. rsio's adapter
/// forwards any requester (it has no requester-id table), so this checks
/// that the function exists (else `SCI_ERR_ILLEGAL_PARAMETER`) and
/// records it. Flags: `SCI_FLAG_PCIE_REQUESTER_GLOBAL`.
///
/// # Safety
///
/// `sd` must be NULL or a live descriptor.
#[no_mangle]
pub unsafe extern "C" fn SCIRegisterPCIeRequester(
    sd: Handle,
    adapter: c_uint,
    bus: c_uint,
    devfn: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        unsafe { desc(sd)? };
        check_requester(adapter, bus, devfn, flags)?;
        if !pci_function_exists(SYSFS_PCI, bus, devfn) {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        lock(&REQUESTERS).push((sd as usize, bus, devfn));
        Ok(())
    })
}

/// `SCIUnregisterPCIeRequester`: forgets one registration of `bus:devfn`
/// through `sd` (none: `SCI_ERR_ILLEGAL_OPERATION`).
///
/// # Safety
///
/// `sd` must be NULL or a live descriptor.
#[no_mangle]
pub unsafe extern "C" fn SCIUnregisterPCIeRequester(
    sd: Handle,
    adapter: c_uint,
    bus: c_uint,
    devfn: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        unsafe { desc(sd)? };
        check_requester(adapter, bus, devfn, flags)?;
        let mut r = lock(&REQUESTERS);
        let i = r
            .iter()
            .position(|&e| e == (sd as usize, bus, devfn))
            .ok_or(SCI_ERR_ILLEGAL_OPERATION)?;
        r.remove(i);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desc::{test_desc, SCIClose, SCIQuery};
    use crate::map::SCIMapRemoteSegment;
    use crate::segment::{
        SCICreateSegment, SCIDisconnectSegment, SCIGetRemoteSegmentId, SCIGetRemoteSegmentNodeId,
        SCIGetRemoteSegmentSize, SCIRemoveSegment, SCIWaitForRemoteSegmentEvent,
    };

    fn null() -> Handle {
        std::ptr::null_mut()
    }

    fn dev(node: u32, index: u32, bus: u32, devfn: u32) -> rs::LentDevice {
        rs::LentDevice {
            node,
            fdid: node << 16 | index,
            borrowed: false,
            domain: 0,
            bus,
            devfn,
            vendor: 0x8086,
            device: 0x5845,
            subsystem_vendor: 0x1af4,
            subsystem_device: 0x1100,
            class: 0x010802,
            revision: 2,
            bar_size: [0x4000, 0, 0, 0, 0, 0],
            bar_flags: [0; 6],
            dev_flags: 0,
        }
    }

    fn cluster() -> Vec<rs::LentDevice> {
        let mut nic = dev(1, 1, 0, 3 << 3);
        nic.class = 0x020000;
        nic.vendor = 0x1af4;
        nic.device = 0x1000;
        nic.subsystem_device = 0x0001;
        vec![dev(1, 2, 4, 0), nic, dev(2, 1, 3, 1), dev(3, 7, 0x81, 0x10)]
    }

    fn filter() -> sci_smartio_device_info_t {
        // SAFETY: a `repr(C)` struct of integers: all-zeroes is a valid value (the empty filter).
        unsafe { std::mem::zeroed() }
    }

    fn named(name: &str) -> sci_smartio_device_info_t {
        let mut f = filter();
        for (d, s) in f.user_name.iter_mut().zip(name.bytes()) {
            *d = s as c_char;
        }
        f
    }

    #[test]
    fn device_list_filters() {
        let all = cluster();
        let every = vec![0x10002, 0x10001, 0x20001, 0x30007];
        assert_eq!(select(&all, None), every);
        assert_eq!(select(&all, Some(&filter())), every);
        let mut f = filter();
        f.pci_class = 0x010802;
        assert_eq!(select(&all, Some(&f)), vec![0x10002, 0x20001, 0x30007]);
        // lender_node is a SISCI node id: 12 is rsio node 2.
        f.lender_node = 12;
        assert_eq!(select(&all, Some(&f)), vec![0x20001]);
        f.lender_node = 8;
        assert_eq!(select(&all, Some(&f)), vec![0x10002]);
        // Ids that name no node match nothing.
        for id in [2, 1, 68, DIS_BROADCAST_NODEID_GROUP_ALL] {
            f.lender_node = id;
            assert!(select(&all, Some(&f)).is_empty(), "{id}");
        }
        let mut f = filter();
        f.pci_vendor_id = 0x1af4;
        f.pci_device_id = 0x1000;
        assert_eq!(select(&all, Some(&f)), vec![0x10001]);
        let mut f = filter();
        f.pci_subsystem_vendor_id = 0x1af4;
        f.pci_subsystem_id = 0x1100;
        assert_eq!(select(&all, Some(&f)), vec![0x10002, 0x20001, 0x30007]);
        let mut f = filter();
        f.fdid = 0x30007;
        assert_eq!(select(&all, Some(&f)), vec![0x30007]);
        f.fdid = 0x30008;
        assert!(select(&all, Some(&f)).is_empty());
        let mut f = filter();
        f.bdf = 3 << 8 | 1;
        assert_eq!(select(&all, Some(&f)), vec![0x20001]);
        // Only adapter 0 reaches devices.
        let mut f = filter();
        f.adapter = 1;
        assert!(select(&all, Some(&f)).is_empty());
        // A user name matches exactly.
        assert_eq!(
            select(&all, Some(&named("node 16 0000:81:02.0"))),
            vec![0x30007]
        );
        assert!(select(&all, Some(&named("node 16 0000:81:02"))).is_empty());
        assert!(select(&all, Some(&named("node 3 0000:81:02.0"))).is_empty());
        // A name without a NUL in its 64 bytes is compared whole.
        let mut f = filter();
        f.user_name = [b'x' as c_char; SCI_SMARTIO_USER_NAME_LEN];
        assert!(select(&all, Some(&f)).is_empty());
    }

    #[test]
    fn device_info() {
        let mut d = dev(2, 1, 3, 1);
        let i = info_of(&d);
        assert_eq!(i.fdid, 0x20001);
        assert_eq!(i.adapter, 0);
        assert_eq!(i.pci_class, 0x010802);
        assert_eq!((i.pci_vendor_id, i.pci_device_id), (0x8086, 0x5845));
        assert_eq!(
            (i.pci_subsystem_vendor_id, i.pci_subsystem_id),
            (0x1af4, 0x1100)
        );
        // The lender as a SISCI node id: rsio node 2 is 12.
        assert_eq!(i.lender_node, 12);
        assert_eq!(i.bdf, 0x301);
        assert_eq!(c_name(&i.user_name), b"node 12 0000:03:00.1");
        d.domain = 0xabcd;
        d.node = 15;
        let i = info_of(&d);
        assert_eq!(i.lender_node, 64);
        assert_eq!(c_name(&i.user_name), b"node 64 abcd:03:00.1");
        // A number no fabric has: no node (0).
        d.node = u32::MAX;
        let i = info_of(&d);
        assert_eq!(i.lender_node, 0);
        assert_eq!(c_name(&i.user_name), b"node 0 abcd:03:00.1");
        assert_eq!(i.user_name[SCI_SMARTIO_USER_NAME_LEN - 1], 0);
    }

    #[test]
    fn flags_and_errors() {
        assert_eq!(borrow_shared(0), Ok(true));
        assert_eq!(borrow_shared(SCI_FLAG_SHARED), Ok(true));
        assert_eq!(borrow_shared(SCI_FLAG_EXCLUSIVE), Ok(false));
        assert_eq!(
            borrow_shared(SCI_FLAG_EXCLUSIVE | SCI_FLAG_SHARED),
            Err(SCI_ERR_ILLEGAL_FLAG)
        );
        assert_eq!(borrow_shared(0x1), Err(SCI_ERR_ILLEGAL_FLAG));

        assert_eq!(borrow_err(libc::ENOENT), SCI_ERR_NO_SUCH_FDID);
        assert_eq!(borrow_err(libc::ENODEV), SCI_ERR_NO_SUCH_FDID);
        assert_eq!(borrow_err(libc::EBUSY), SCI_ERR_NOT_AVAILABLE);
        assert_eq!(borrow_err(libc::EHOSTUNREACH), SCI_ERR_NO_LINK_ACCESS);
        assert_eq!(borrow_err(libc::EPERM), SCI_ERR_ACCESS);
        assert_eq!(borrow_err(libc::EACCES), SCI_ERR_ACCESS);
        assert_eq!(borrow_err(libc::EOPNOTSUPP), SCI_ERR_NOT_SUPPORTED);
        assert_eq!(borrow_err(libc::ENOSPC), SCI_ERR_NOSPC);

        let e = |n| rs::Error::new("DEV_MAP", n);
        assert_eq!(dev_map_err(e(libc::ERANGE)), SCI_ERR_OUT_OF_RANGE);
        assert_eq!(dev_map_err(e(libc::EINVAL)), SCI_ERR_ILLEGAL_PARAMETER);
        assert_eq!(dev_map_err(e(libc::EACCES)), SCI_ERR_ACCESS);
        assert_eq!(dev_map_err(e(libc::ENOTCONN)), SCI_ERR_NOT_CONNECTED);
        assert_eq!(dev_map_err(e(libc::ENOENT)), SCI_ERR_NO_SUCH_SEGMENT);
        assert_eq!(dev_map_err(e(libc::ENODEV)), SCI_ERR_NO_SUCH_FDID);
        assert_eq!(dev_map_err(e(libc::EOPNOTSUPP)), SCI_ERR_NOT_SUPPORTED);
        assert_eq!(addr_err(e(libc::ERANGE)), SCI_ERR_OUT_OF_RANGE);
        assert_eq!(addr_err(e(libc::EOPNOTSUPP)), SCI_ERR_NOT_SUPPORTED);

        assert_eq!(check_placement(0), Ok(()));
        assert_eq!(
            check_placement(SCI_FLAG_LOCAL_ONLY | SCI_FLAG_HOST_PREFER_BANDWIDTH),
            Ok(())
        );
        assert_eq!(check_placement(SCI_FLAG_DEVICE_PREFER_BANDWIDTH), Ok(()));
        assert_eq!(
            check_placement(SCI_FLAG_DEVICE_SIDE_ONLY),
            Err(SCI_ERR_FLAG_NOT_IMPLEMENTED)
        );
        assert_eq!(
            check_placement(SCI_FLAG_LOCAL_ONLY | SCI_FLAG_DEVICE_SIDE_ONLY),
            Err(SCI_ERR_FLAG_NOT_IMPLEMENTED)
        );
        // Parts of the multi-bit placement flags mean nothing alone.
        assert_eq!(check_placement(0x0200_0000), Err(SCI_ERR_ILLEGAL_FLAG));
        assert_eq!(check_placement(0x1), Err(SCI_ERR_ILLEGAL_FLAG));

        assert_eq!(check_range(0, 0, 4096), Ok(()));
        assert_eq!(check_range(4095, 1, 4096), Ok(()));
        assert_eq!(check_range(100, 0, 4096), Ok(()));
        assert_eq!(check_range(4096, 0, 4096), Err(SCI_ERR_OUT_OF_RANGE));
        assert_eq!(check_range(4095, 2, 4096), Err(SCI_ERR_OUT_OF_RANGE));
        assert_eq!(check_range(1, usize::MAX, 4096), Err(SCI_ERR_OUT_OF_RANGE));

        let s = crate::errors::SCIGetErrorString(SCI_ERR_NO_SUCH_FDID);
        // SAFETY: SCIGetErrorString returns a static NUL-terminated string.
        let s = unsafe { std::ffi::CStr::from_ptr(s) }.to_str().unwrap();
        assert!(s.contains("fabric device"));
    }

    #[test]
    fn null_handles_are_refused() {
        let mut e = SCI_ERR_OK;
        let mut h = null();
        let mut io = 0u64;
        let n = null();
        // SAFETY: NULL handles are refused before any use.
        unsafe {
            SCIBorrowDevice(n, &mut h, 0x10001, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIReturnDevice(n, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            assert_eq!(SCIGetFabricDeviceId(n), 0);
            SCIConnectDeviceSegment(n, &mut h, 0, SCI_MEMTYPE_BAR, None, n, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIConnectDeviceMemory(n, &mut h, 0, n, 0, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCICreateDeviceSegment(n, 1, 4096, SCI_MEMTYPE_PRIVATE, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIMapLocalSegmentForDevice(n, 0, n, &mut io, 0, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIUnmapLocalSegmentForDevice(n, 0, n, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIMapRemoteSegmentForDevice(n, n, &mut io, 0, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIUnmapRemoteSegmentForDevice(n, n, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            let mut ids = [0u32; 4];
            let c = SCIGetDeviceList(n, ids.as_mut_ptr(), 4, std::ptr::null(), 0, &mut e);
            assert_eq!((c, e), (0, SCI_ERR_ILLEGAL_PARAMETER));
            SCIRegisterPCIeRequester(n, 0, 0, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIUnregisterPCIeRequester(n, 0, 0, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            // A NULL error pointer is allowed.
            SCIReturnDevice(n, 0, std::ptr::null_mut());
            let mut q = sci_query_local_segment_t {
                segment: n,
                subcommand: SCI_Q_LOCAL_SEGMENT_IOADDR,
                ioaddr: 0,
            };
            SCIQuery(
                SCI_Q_LOCAL_SEGMENT,
                (&mut q as *mut sci_query_local_segment_t).cast(),
                0,
                &mut e,
            );
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            let mut q = sci_query_remote_segment_t {
                segment: n,
                subcommand: SCI_Q_REMOTE_SEGMENT_IOADDR,
                ioaddr: 0,
            };
            SCIQuery(
                SCI_Q_REMOTE_SEGMENT,
                (&mut q as *mut sci_query_remote_segment_t).cast(),
                0,
                &mut e,
            );
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            q.subcommand = 77;
            SCIQuery(
                SCI_Q_REMOTE_SEGMENT,
                (&mut q as *mut sci_query_remote_segment_t).cast(),
                0,
                &mut e,
            );
            assert_eq!(e, SCI_ERR_ILLEGAL_QUERY);
        }
    }

    #[test]
    fn borrow_checks_then_asks_the_kernel() {
        let sd = test_desc();
        let mut e = SCI_ERR_OK;
        let mut h = null();
        // SAFETY: a live descriptor, valid out pointers.
        unsafe {
            SCIBorrowDevice(sd, std::ptr::null_mut(), 0x10001, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIBorrowDevice(
                sd,
                &mut h,
                0x10001,
                SCI_FLAG_EXCLUSIVE | SCI_FLAG_SHARED,
                &mut e,
            );
            assert_eq!(e, SCI_ERR_ILLEGAL_FLAG);
            SCIBorrowDevice(sd, &mut h, 0x10001, SCI_FLAG_BAR, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_FLAG);
            SCIBorrowDevice(sd, &mut h, 0x10000, 0, &mut e);
            assert_eq!(e, SCI_ERR_NO_SUCH_FDID);
            // Valid: the (fake) kernel answers: /dev/null is no rsio_sisci.
            SCIBorrowDevice(sd, &mut h, 0x10001, SCI_FLAG_EXCLUSIVE, &mut e);
            assert_eq!(e, SCI_ERR_INCONSISTENT_VERSIONS);
            assert!(h.is_null());
            SCIClose(sd, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
        }
    }

    /// A device handle on `sd` that no kernel knows (nothing to return).
    fn placeholder(sd: Handle, fdid: u32) -> Handle {
        // SAFETY: a live descriptor.
        let d = unsafe { desc(sd) }.unwrap();
        let dev = rs::BorrowedDevice::placeholder(&d.sd, fdid, [0x4000, 0, 0x1000, 0, 0, 0]);
        device_handle(sd, &d.sd, dev)
    }

    fn connect_dev(
        dev: Handle,
        id: c_uint,
        memtype: c_uint,
        flags: c_uint,
    ) -> (Handle, sci_error_t) {
        let (mut h, mut e) = (null(), SCI_ERR_OK);
        // SAFETY: `dev` live; valid out pointers.
        unsafe { SCIConnectDeviceSegment(dev, &mut h, id, memtype, None, null(), flags, &mut e) };
        (h, e)
    }

    #[test]
    fn device_bars_and_busy_rules() {
        let sd = test_desc();
        let other = test_desc();
        let dev = placeholder(sd, 0x20001);
        let mut e = SCI_ERR_OK;
        // SAFETY: live handles throughout; each freed once.
        unsafe {
            assert_eq!(SCIGetFabricDeviceId(dev), 0x20001);
            // A descriptor with a borrowed device is busy.
            SCIClose(sd, 0, &mut e);
            assert_eq!(e, SCI_ERR_BUSY);

            assert_eq!(
                connect_dev(dev, 1, SCI_MEMTYPE_BAR, 0).1,
                SCI_ERR_NO_SUCH_SEGMENT
            );
            assert_eq!(
                connect_dev(dev, 6, SCI_MEMTYPE_BAR, 0).1,
                SCI_ERR_NO_SUCH_SEGMENT
            );
            assert_eq!(
                connect_dev(dev, 5, SCI_MEMTYPE_PRIVATE, 0).1,
                SCI_ERR_NO_SUCH_SEGMENT
            );
            assert_eq!(
                connect_dev(dev, 0, SCI_MEMTYPE_SHARED, 0).1,
                SCI_ERR_FLAG_NOT_IMPLEMENTED
            );
            assert_eq!(connect_dev(dev, 0, 9, 0).1, SCI_ERR_ILLEGAL_PARAMETER);
            assert_eq!(
                connect_dev(dev, 0, SCI_MEMTYPE_BAR, SCI_FLAG_USE_CALLBACK).1,
                SCI_ERR_FLAG_NOT_IMPLEMENTED
            );
            assert_eq!(
                connect_dev(dev, 0, SCI_MEMTYPE_BAR, 0x100).1,
                SCI_ERR_ILLEGAL_FLAG
            );
            let mut h = null();
            SCIConnectDeviceSegment(
                dev,
                std::ptr::null_mut(),
                0,
                SCI_MEMTYPE_BAR,
                None,
                null(),
                0,
                &mut e,
            );
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);

            // BAR 0: a remote segment of its own kind.
            let (b0, err) = connect_dev(dev, 0, SCI_MEMTYPE_BAR, 0);
            assert_eq!(err, SCI_ERR_OK);
            assert_eq!(SCIGetRemoteSegmentSize(b0), 0x4000);
            assert_eq!(SCIGetRemoteSegmentId(b0), 0);
            // The lender, rsio node 2, as a SISCI node id.
            assert_eq!(SCIGetRemoteSegmentNodeId(b0), 12);
            // The older call: BAR 2 through the device's descriptor only.
            SCIConnectDeviceMemory(other, &mut h, 0, dev, 2, 0, SCI_FLAG_BAR, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIConnectDeviceMemory(sd, &mut h, 1, dev, 2, 0, SCI_FLAG_BAR, &mut e);
            assert_eq!(e, SCI_ERR_NO_SUCH_ADAPTERNO);
            SCIConnectDeviceMemory(
                sd,
                &mut h,
                0,
                dev,
                2,
                0,
                SCI_FLAG_BAR | SCI_FLAG_PRIVATE,
                &mut e,
            );
            assert_eq!(e, SCI_ERR_ILLEGAL_FLAG);
            SCIConnectDeviceMemory(sd, &mut h, 0, dev, 2, 0, SCI_FLAG_SHARED, &mut e);
            assert_eq!(e, SCI_ERR_FLAG_NOT_IMPLEMENTED);
            SCIConnectDeviceMemory(sd, &mut h, 0, dev, 2, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            let b2 = h;
            assert_eq!(SCIGetRemoteSegmentSize(b2), 0x1000);
            assert_eq!(SCIGetRemoteSegmentId(b2), 2);

            // Returning is refused while BARs are connected.
            SCIReturnDevice(dev, 0, &mut e);
            assert_eq!(e, SCI_ERR_BUSY);
            SCIReturnDevice(dev, 1, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_FLAG);

            // Mapping: flags and range are checked; /dev/null maps nothing.
            let mut m = null();
            let p = SCIMapRemoteSegment(b0, &mut m, 0x4000, 1, null(), 0, &mut e);
            assert!(p.is_null() && m.is_null());
            assert_eq!(e, SCI_ERR_OUT_OF_RANGE);
            let p = SCIMapRemoteSegment(b0, &mut m, 0, 0x1000, null(), SCI_FLAG_BROADCAST, &mut e);
            assert!(p.is_null());
            assert_eq!(e, SCI_ERR_ILLEGAL_FLAG);
            let p = SCIMapRemoteSegment(b0, std::ptr::null_mut(), 0, 0x1000, null(), 0, &mut e);
            assert!(p.is_null());
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            let p = SCIMapRemoteSegment(
                b0,
                &mut m,
                0,
                0x1000,
                null(),
                crate::types::SCI_FLAG_READONLY_MAP | 0x80,
                &mut e,
            );
            assert!(p.is_null() && m.is_null());
            assert_ne!(e, SCI_ERR_OK);

            // No events on a BAR.
            let mut st = SCI_ERR_OK;
            SCIWaitForRemoteSegmentEvent(b0, &mut st, 5, 0, &mut e);
            assert_eq!(e, SCI_ERR_TIMEOUT);
            SCIWaitForRemoteSegmentEvent(b0, &mut st, SCI_INFINITE_TIMEOUT, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_OPERATION);
            SCIWaitForRemoteSegmentEvent(b0, std::ptr::null_mut(), 5, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);

            // A BAR for a device (peer to peer) and its bus address: not offered.
            let mut io = 0u64;
            SCIMapRemoteSegmentForDevice(b0, dev, &mut io, 0, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_NOT_SUPPORTED);
            SCIUnmapRemoteSegmentForDevice(b0, dev, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_OPERATION);
            SCIMapRemoteSegmentForDevice(b0, dev, std::ptr::null_mut(), 0, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            let mut q = sci_query_remote_segment_t {
                segment: b0,
                subcommand: SCI_Q_REMOTE_SEGMENT_IOADDR,
                ioaddr: 0,
            };
            SCIQuery(
                SCI_Q_REMOTE_SEGMENT,
                (&mut q as *mut sci_query_remote_segment_t).cast(),
                0,
                &mut e,
            );
            assert_eq!(e, SCI_ERR_NOT_SUPPORTED);

            // Disconnect both; then the device goes back.
            SCIDisconnectSegment(b0, 0x1, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_FLAG);
            SCIDisconnectSegment(b0, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            SCIReturnDevice(dev, 0, &mut e);
            assert_eq!(e, SCI_ERR_BUSY);
            SCIDisconnectSegment(b2, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            SCIReturnDevice(dev, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            SCIClose(sd, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            SCIClose(other, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
        }
    }

    #[test]
    fn device_segments_and_maps_for_the_device() {
        let sd = test_desc();
        let dev = placeholder(sd, 0x20001);
        let mut e = SCI_ERR_OK;
        let create = |id, size, memtype, access, flags| {
            let mut e = SCI_ERR_OK;
            // SAFETY: a live device.
            unsafe { SCICreateDeviceSegment(dev, id, size, memtype, access, flags, &mut e) };
            e
        };
        let rw = SCI_MEMACCESS_ALL;
        assert_eq!(
            create(1, 4096, SCI_MEMTYPE_SHARED, rw, 0),
            SCI_ERR_FLAG_NOT_IMPLEMENTED
        );
        assert_eq!(
            create(1, 4096, SCI_MEMTYPE_BAR, rw, 0),
            SCI_ERR_ILLEGAL_PARAMETER
        );
        assert_eq!(
            create(1, 0, SCI_MEMTYPE_PRIVATE, rw, 0),
            SCI_ERR_ILLEGAL_PARAMETER
        );
        assert_eq!(
            create(1, 4096, SCI_MEMTYPE_PRIVATE, 0x40, 0),
            SCI_ERR_ILLEGAL_PARAMETER
        );
        assert_eq!(
            create(1, 4096, SCI_MEMTYPE_PRIVATE, rw, SCI_FLAG_DEVICE_SIDE_ONLY),
            SCI_ERR_FLAG_NOT_IMPLEMENTED
        );
        assert_eq!(
            create(1, 4096, SCI_MEMTYPE_PRIVATE, rw, 0x8),
            SCI_ERR_ILLEGAL_FLAG
        );
        // Valid: the segment is made through the (fake) kernel.
        assert_eq!(
            create(1, 4096, SCI_MEMTYPE_PRIVATE, 0x1 | 0x8, SCI_FLAG_LOCAL_ONLY),
            SCI_ERR_INCONSISTENT_VERSIONS
        );
        assert_eq!(
            connect_dev(dev, 1, SCI_MEMTYPE_PRIVATE, 0).1,
            SCI_ERR_NO_SUCH_SEGMENT
        );

        // An empty local segment (no kernel needed) for the map checks.
        let mut seg = null();
        // SAFETY: live handles, valid out pointers; each freed once.
        unsafe {
            SCICreateSegment(
                sd,
                &mut seg,
                9,
                4096,
                None,
                null(),
                crate::types::SCI_FLAG_EMPTY,
                &mut e,
            );
            assert_eq!(e, SCI_ERR_OK);
            let mut io = 0u64;
            SCIMapLocalSegmentForDevice(seg, 0, dev, &mut io, 0, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_SEGMENT_NOT_PREPARED);
            SCIMapLocalSegmentForDevice(seg, 1, dev, &mut io, 0, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_NO_SUCH_ADAPTERNO);
            SCIMapLocalSegmentForDevice(seg, 0, dev, std::ptr::null_mut(), 0, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIMapLocalSegmentForDevice(seg, 0, dev, &mut io, 0, 0, 4, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_FLAG);
            // A segment is not a device, nor a device a segment.
            SCIMapLocalSegmentForDevice(seg, 0, seg, &mut io, 0, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIMapLocalSegmentForDevice(dev, 0, dev, &mut io, 0, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIUnmapLocalSegmentForDevice(seg, 0, dev, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_OPERATION);

            let mut q = sci_query_local_segment_t {
                segment: seg,
                subcommand: SCI_Q_LOCAL_SEGMENT_PHYS_ADDR,
                ioaddr: 0,
            };
            let qp = (&mut q as *mut sci_query_local_segment_t).cast();
            SCIQuery(SCI_Q_LOCAL_SEGMENT, qp, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_OPERATION);
            (*qp.cast::<sci_query_local_segment_t>()).subcommand = 3;
            SCIQuery(SCI_Q_LOCAL_SEGMENT, qp, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_QUERY);

            SCIRemoveSegment(seg, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            SCIReturnDevice(dev, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
            SCIClose(sd, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
        }
    }

    /// Everything that reads `SISCI_LEND_DEVICE` (one test: the
    /// environment is the process's).
    #[test]
    fn listing_and_device_queries() {
        let sd = test_desc();
        let mut e = SCI_ERR_SYSTEM;
        let mut ids = [0u32; 4];
        let mut info = filter();
        let mut q = sci_smartio_query_device_t {
            fdid: 0x20001,
            subcommand: SCI_Q_DEVICE_INFO,
            data: (&mut info as *mut sci_smartio_device_info_t).cast(),
        };
        let qp = (&mut q as *mut sci_smartio_query_device_t).cast::<c_void>();
        std::env::set_var("SISCI_LEND_DEVICE", "/nonexistent/rsio_lend");
        // SAFETY: live descriptor, valid buffers.
        unsafe {
            // No lending device: nothing is lent.
            let n = SCIGetDeviceList(sd, ids.as_mut_ptr(), 4, &filter(), 0, &mut e);
            assert_eq!((n, e), (0, SCI_ERR_OK));
            let n = SCIGetDeviceList(sd, std::ptr::null_mut(), 0, std::ptr::null(), 0, &mut e);
            assert_eq!((n, e), (0, SCI_ERR_OK));
            let n = SCIGetDeviceList(sd, std::ptr::null_mut(), 4, std::ptr::null(), 0, &mut e);
            assert_eq!((n, e), (0, SCI_ERR_ILLEGAL_PARAMETER));
            let n = SCIGetDeviceList(sd, ids.as_mut_ptr(), 4, std::ptr::null(), 1, &mut e);
            assert_eq!((n, e), (0, SCI_ERR_ILLEGAL_FLAG));
            SCIQuery(SCI_Q_DEVICE, qp, 0, &mut e);
            assert_eq!(e, SCI_ERR_NO_SUCH_FDID);
            (*qp.cast::<sci_smartio_query_device_t>()).subcommand = 2;
            SCIQuery(SCI_Q_DEVICE, qp, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_QUERY);
            let mut q2 = sci_smartio_query_device_t {
                fdid: 0x20001,
                subcommand: SCI_Q_DEVICE_INFO,
                data: std::ptr::null_mut(),
            };
            SCIQuery(
                SCI_Q_DEVICE,
                (&mut q2 as *mut sci_smartio_query_device_t).cast(),
                0,
                &mut e,
            );
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            // A lending device that is not rsio_lend's.
            std::env::set_var("SISCI_LEND_DEVICE", "/dev/null");
            let n = SCIGetDeviceList(sd, ids.as_mut_ptr(), 4, std::ptr::null(), 0, &mut e);
            assert_eq!((n, e), (0, SCI_ERR_INCONSISTENT_VERSIONS));
            std::env::remove_var("SISCI_LEND_DEVICE");
            SCIClose(sd, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
        }
    }

    #[test]
    fn pcie_requesters() {
        let root = std::env::temp_dir().join(format!("sisci-smartio-{}", std::process::id()));
        std::fs::create_dir_all(root.join("0000:03:02.1")).unwrap();
        let r = root.to_str().unwrap();
        assert!(pci_function_exists(r, 3, 2 << 3 | 1));
        assert!(!pci_function_exists(r, 3, 2 << 3));
        assert!(!pci_function_exists(r, 4, 2 << 3 | 1));
        std::fs::remove_dir_all(&root).unwrap();

        assert_eq!(check_requester(0, 0xff, 0xff, 0), Ok(()));
        assert_eq!(
            check_requester(0, 1, 0, SCI_FLAG_PCIE_REQUESTER_GLOBAL),
            Ok(())
        );
        assert_eq!(check_requester(1, 1, 0, 0), Err(SCI_ERR_NO_SUCH_ADAPTERNO));
        assert_eq!(check_requester(0, 1, 0, 2), Err(SCI_ERR_ILLEGAL_FLAG));
        assert_eq!(
            check_requester(0, 0x100, 0, 0),
            Err(SCI_ERR_ILLEGAL_PARAMETER)
        );
        assert_eq!(
            check_requester(0, 1, 0x100, 0),
            Err(SCI_ERR_ILLEGAL_PARAMETER)
        );

        let sd = test_desc();
        let mut e = SCI_ERR_OK;
        // SAFETY: a live descriptor.
        unsafe {
            SCIUnregisterPCIeRequester(sd, 0, 1, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_OPERATION);
            // A function of this host, if it has one in domain 0.
            let here = std::fs::read_dir(SYSFS_PCI).ok().and_then(|d| {
                d.flatten().find_map(|e| {
                    let n = e.file_name().into_string().ok()?;
                    let b = u32::from_str_radix(n.get(5..7)?, 16).ok()?;
                    let dv = u32::from_str_radix(n.get(8..10)?, 16).ok()?;
                    let f = u32::from_str_radix(n.get(11..12)?, 16).ok()?;
                    n.starts_with("0000:").then_some((b, dv << 3 | f))
                })
            });
            if let Some((bus, devfn)) = here {
                SCIRegisterPCIeRequester(sd, 0, bus, devfn, SCI_FLAG_PCIE_REQUESTER_GLOBAL, &mut e);
                assert_eq!(e, SCI_ERR_OK);
                SCIUnregisterPCIeRequester(sd, 0, bus, devfn, 0, &mut e);
                assert_eq!(e, SCI_ERR_OK);
                SCIUnregisterPCIeRequester(sd, 0, bus, devfn, 0, &mut e);
                assert_eq!(e, SCI_ERR_ILLEGAL_OPERATION);
            }
            // Function 7 of device 31 of bus 255: absent on any sane host.
            if !pci_function_exists(SYSFS_PCI, 0xff, 0xff) {
                SCIRegisterPCIeRequester(sd, 0, 0xff, 0xff, 0, &mut e);
                assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            }
            SCIClose(sd, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
        }
    }
}
