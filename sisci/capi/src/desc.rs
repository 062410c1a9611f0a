// SPDX-License-Identifier: GPL-2.0

//! The library and descriptors: SCIInitialize, SCIOpen, SCIQuery, nodes.

use crate::errors::from_rs;
use crate::ffi::*;
use crate::nodeid;
use crate::types::*;
use rsio_uapi as uapi;
use std::ffi::{c_char, c_int, c_uint, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

static INITIALIZED: AtomicUsize = AtomicUsize::new(0);

/// `sci_desc_t`: one open `/dev/sisci`.
#[repr(C)]
pub struct Desc {
    magic: u32,
    pub sd: rs::Sisci,
}

impl Object for Desc {
    const MAGIC: u32 = 0x5C1_D35C;
    fn magic(&self) -> u32 {
        self.magic
    }
}

/// The descriptor behind `sd`.
///
/// # Safety
///
/// `sd` must be NULL or a live `sci_desc_t`.
pub unsafe fn desc<'a>(sd: Handle) -> CResult<&'a Desc> {
    // SAFETY: forwarded contract.
    unsafe { borrow::<Desc>(sd) }
}

fn initialized() -> CResult<()> {
    if INITIALIZED.load(Ordering::Acquire) == 0 {
        Err(SCI_ERR_NOT_INITIALIZED)
    } else {
        Ok(())
    }
}

/// The process's open `/dev/sisci`, shared by its descriptors: SISCI
/// programs combine objects of different descriptors (ssd-gpu-dma borrows
/// a device through one and maps a segment of another for it), and to the
/// kernel objects belong to an open file. Each descriptor is a `dup` of it
/// (its own object count for `SCIClose`); it is closed with the last
/// descriptor, and a forked child opens its own (its objects must go when
/// it dies, not when its parent does).
struct Shared {
    pid: u32,
    file: Option<rs::Sisci>,
    descriptors: usize,
}

static SHARED: Mutex<Shared> = Mutex::new(Shared {
    pid: 0,
    file: None,
    descriptors: 0,
});

fn shared() -> MutexGuard<'static, Shared> {
    SHARED.lock().unwrap_or_else(|e| e.into_inner())
}

fn open_device() -> CResult<rs::Sisci> {
    let path =
        std::env::var("SISCI_DEVICE").unwrap_or_else(|_| rs::abi::SISCI_DEVICE_PATH.to_string());
    rs::Sisci::open_path(&path).map_err(|e| match e.errno() {
        libc::EACCES | libc::EPERM => SCI_ERR_ACCESS,
        // No /dev/sisci: rsio_sisci is not loaded.
        libc::ENOENT | libc::ENODEV | libc::ENXIO => SCI_ERR_NO_SUCH_ADAPTERNO,
        _ => SCI_ERR_SYSTEM,
    })
}

/// A handle on the process's open device (opened if need be).
fn open() -> CResult<rs::Sisci> {
    let mut sh = shared();
    let pid = std::process::id();
    if sh.pid != pid {
        // First use, or a forked child: its own file.
        *sh = Shared {
            pid,
            file: None,
            descriptors: 0,
        };
    }
    if sh.file.is_none() {
        sh.file = Some(open_device()?);
    }
    let file = sh.file.as_ref().ok_or(SCI_ERR_SYSTEM)?;
    file.share().map_err(|_| SCI_ERR_SYSTEM)
}

/// Counts a descriptor opened (`true`) or closed; the last one closes the
/// process's file (objects still alive keep it open in the kernel).
fn count_descriptor(opened: bool) {
    let mut sh = shared();
    if sh.pid != std::process::id() {
        return;
    }
    if opened {
        sh.descriptors += 1;
    } else {
        sh.descriptors = sh.descriptors.saturating_sub(1);
        if sh.descriptors == 0 {
            sh.file = None;
        }
    }
}

/// `SCIInitialize`: must precede SCIOpen; counted (each needs SCITerminate).
#[no_mangle]
pub extern "C" fn SCIInitialize(flags: c_uint, error: *mut sci_error_t) {
    call(error, (), || {
        check_flags(flags, 0)?;
        INITIALIZED.fetch_add(1, Ordering::AcqRel);
        Ok(())
    })
}

/// `SCITerminate`.
#[no_mangle]
pub extern "C" fn SCITerminate() {
    let _ = INITIALIZED.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
}

/// `SCIOpen`: opens a SISCI virtual device (a handle on the process's
/// `/dev/sisci` file: objects of any descriptor combine with any other's).
///
/// # Safety
///
/// `sd` must be NULL or valid for a write; `error` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn SCIOpen(sd: *mut Handle, flags: c_uint, error: *mut sci_error_t) {
    call(error, (), || {
        if sd.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_flags(flags, SCI_FLAG_THREAD_SAFE)?;
        initialized()?;
        let s = open()?;
        count_descriptor(true);
        let h = into_handle(Desc {
            magic: Desc::MAGIC,
            sd: s,
        });
        // SAFETY: checked not NULL above; valid per the contract.
        unsafe { out(sd, h) }
    })
}

/// `SCIClose`: `SCI_ERR_BUSY` while objects made through it exist.
///
/// # Safety
///
/// `sd` must be NULL or a live `sci_desc_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIClose(sd: Handle, flags: c_uint, error: *mut sci_error_t) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let d = unsafe { desc(sd)? };
        check_flags(flags, 0)?;
        if d.sd.live_objects() > 0 {
            return Err(SCI_ERR_BUSY);
        }
        // SAFETY: checked by `desc`; not used afterwards.
        drop(unsafe { take::<Desc>(sd) });
        count_descriptor(false);
        Ok(())
    })
}

fn with_info<T>(f: impl FnOnce(&rs::Info) -> CResult<T>) -> CResult<T> {
    initialized()?;
    // A query needs no objects: a file of its own, closed at once.
    let s = open_device()?;
    let i = s.info().map_err(from_rs)?;
    f(&i)
}

/// `SCIGetLocalNodeId`.
///
/// # Safety
///
/// `node_id` must be NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn SCIGetLocalNodeId(
    adapter_no: c_uint,
    node_id: *mut c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        if node_id.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_flags(flags, 0)?;
        check_adapter(adapter_no)?;
        let n = with_info(|i| Ok(nodeid::to_sisci(i.node_id)))?;
        // SAFETY: checked not NULL; valid per the contract.
        unsafe { out(node_id, n) }
    })
}

/// `SCIProbeNode`: 1 if `node_id`'s core is up, else 0. An id that names
/// no node (docs/sisci.md, "Node ids") or a node beyond the fabric:
/// `SCI_ERR_ILLEGAL_NODEID`.
///
/// # Safety
///
/// `sd` must be NULL or a live `sci_desc_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIProbeNode(
    sd: Handle,
    adapter_no: c_uint,
    node_id: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) -> c_int {
    call(error, 0, || {
        // SAFETY: caller's contract.
        let d = unsafe { desc(sd)? };
        check_flags(flags, 0)?;
        check_adapter(adapter_no)?;
        let node = nodeid::to_rsio(node_id).ok_or(SCI_ERR_ILLEGAL_NODEID)?;
        let i = d.sd.info().map_err(from_rs)?;
        if node >= 32 || node >= i.num_nodes {
            return Err(SCI_ERR_ILLEGAL_NODEID);
        }
        if i.up_mask & (1 << node) != 0 {
            Ok(1)
        } else {
            Err(SCI_ERR_NO_LINK_ACCESS)
        }
    })
}

fn adapter_value(i: &rs::Info, sub: c_uint) -> CResult<c_uint> {
    let others_up = i.up_mask & !(1u32.checked_shl(i.node_id).unwrap_or(0)) != 0;
    Ok(match sub {
        SCI_Q_ADAPTER_NODEID => nodeid::to_sisci(i.node_id),
        SCI_Q_ADAPTER_DMA_SIZE_ALIGNMENT | SCI_Q_ADAPTER_DMA_OFFSET_ALIGNMENT => 1,
        SCI_Q_ADAPTER_DMA_MTU => i.max_segment_size.min(u64::from(u32::MAX)) as c_uint,
        SCI_Q_ADAPTER_SUGGESTED_MIN_DMA_SIZE | SCI_Q_ADAPTER_SUGGESTED_MIN_BLOCK_SIZE => 4096,
        SCI_Q_ADAPTER_CONFIGURED | SCI_Q_ADAPTER_FIRMWARE_OK => 1,
        SCI_Q_ADAPTER_LINK_OPERATIONAL | SCI_Q_ADAPTER_HW_LINK_STATUS_IS_OK => {
            c_uint::from(others_up)
        }
        SCI_Q_ADAPTER_NUMBER => 1,
        SCI_Q_ADAPTER_INSTANCE_NUMBER => 0,
        SCI_Q_ADAPTER_DMA_CHANNELS => i.dma_channels,
        SCI_Q_ADAPTER_MULTICAST_GROUPS => i.mc_groups,
        SCI_Q_ADAPTER_NUMBER_OF_NODES => i.num_nodes,
        _ => return Err(SCI_ERR_ILLEGAL_QUERY),
    })
}

/// Answers a string query.
///
/// # Safety
///
/// `data` must point to a valid `sci_query_string_t`.
unsafe fn query_string(data: *mut c_void, s: &str) -> CResult<()> {
    // SAFETY: `data` is not NULL (checked by the caller) and points to a `sci_query_string_t` per SCIQuery's contract.
    let q = unsafe { &mut *data.cast::<sci_query_string_t>() };
    if q.str_.is_null() || q.length == 0 {
        return Err(SCI_ERR_ILLEGAL_PARAMETER);
    }
    let n = s.len().min(q.length as usize - 1);
    // SAFETY: `str_` holds at least `length` bytes; we write `n + 1 <= length`.
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr().cast::<c_char>(), q.str_, n);
        q.str_.add(n).write(0);
    }
    Ok(())
}

/// `SCIQuery`: `SCI_Q_VENDORID`, `SCI_Q_API`, `SCI_Q_ADAPTER` (see
/// docs/sisci.md for the subcommands), `SCI_Q_SYSTEM` write posting and
/// combining. Anything else: `SCI_ERR_ILLEGAL_QUERY`.
///
/// # Safety
///
/// `data` must be NULL or point to the struct the command takes.
#[no_mangle]
pub unsafe extern "C" fn SCIQuery(
    command: c_uint,
    data: *mut c_void,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        if data.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_flags(flags, 0)?;
        match command {
            // SAFETY: `data` is a `sci_query_string_t` for these commands.
            SCI_Q_VENDORID => unsafe { query_string(data, "rsio") },
            // SAFETY: as above.
            SCI_Q_API => unsafe {
                query_string(data, concat!("rsio libsisci ", env!("CARGO_PKG_VERSION")))
            },
            SCI_Q_ADAPTER => {
                // SAFETY: `data` is a `sci_query_adapter_t` for this command.
                let q = unsafe { &*data.cast::<sci_query_adapter_t>() };
                if q.data.is_null() {
                    return Err(SCI_ERR_ILLEGAL_PARAMETER);
                }
                check_adapter(q.local_adapter_no)?;
                let sub = q.subcommand;
                if sub == SCI_Q_ADAPTER_BDF {
                    let bdf = adapter_bdf().ok_or(SCI_ERR_NO_SUCH_ADAPTERNO)?;
                    // SAFETY: BDF answers in a 16-bit value (sisci_api.h).
                    return unsafe { out(q.data.cast::<u16>(), bdf) };
                }
                let v = with_info(|i| adapter_value(i, sub))?;
                // SAFETY: adapter subcommands answer in an `unsigned int`.
                unsafe { out(q.data.cast::<c_uint>(), v) }
            }
            SCI_Q_SYSTEM => {
                // SAFETY: `data` is a `sci_query_system_t` for this command.
                let q = unsafe { &*data.cast::<sci_query_system_t>() };
                if q.data.is_null() {
                    return Err(SCI_ERR_ILLEGAL_PARAMETER);
                }
                match q.subcommand {
                    SCI_Q_SYSTEM_WRITE_POSTING_ENABLED | SCI_Q_SYSTEM_WRITE_COMBINING_ENABLED => {
                        // SAFETY: answered in an `unsigned int`.
                        unsafe { out(q.data.cast::<c_uint>(), 1) }
                    }
                    _ => Err(SCI_ERR_ILLEGAL_QUERY),
                }
            }
            crate::smartio::SCI_Q_DEVICE
            | crate::smartio::SCI_Q_LOCAL_SEGMENT
            | crate::smartio::SCI_Q_REMOTE_SEGMENT => {
                // SAFETY: `data` points to the struct the command takes.
                unsafe { crate::smartio::query(command, data) }
            }
            _ => Err(SCI_ERR_ILLEGAL_QUERY),
        }
    })
}

// ---- The adapter's PCI address (SCI_Q_ADAPTER_BDF) -----------------------

/// The PCI driver the adapter is bound to.
const RSIO_NTB_DRIVER_DIR: &str = "/sys/bus/pci/drivers/rsio_ntb";

/// `bus << 8 | device << 3 | function` of a PCI name `DDDD:BB:DD.F`.
fn parse_bdf(name: &str) -> Option<u16> {
    let (rest, func) = name.rsplit_once('.')?;
    let mut parts = rest.split(':');
    let (domain, bus, dev) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || domain.len() != 4 || bus.len() != 2 || dev.len() != 2 {
        return None;
    }
    u32::from_str_radix(domain, 16).ok()?;
    let bus = u16::from_str_radix(bus, 16).ok()?;
    let dev = u16::from_str_radix(dev, 16).ok().filter(|&d| d < 32)?;
    let func = func.parse::<u16>().ok().filter(|&f| f < 8)?;
    Some(bus << 8 | dev << 3 | func)
}

/// The BDF of the first PCI device (by name) in a driver's sysfs directory.
fn bdf_in_driver_dir(dir: &std::path::Path) -> Option<u16> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| parse_bdf(n).is_some())
        .collect();
    names.sort();
    names.first().and_then(|n| parse_bdf(n))
}

/// The adapter's BDF: the PCI device bound to `rsio_ntb`, else the adapter
/// the fabric core reports (`RSIO_IOC_STATUS`: also a generic NTB device).
fn adapter_bdf() -> Option<u16> {
    bdf_in_driver_dir(std::path::Path::new(RSIO_NTB_DRIVER_DIR)).or_else(|| {
        let f = open_rsio()?;
        let mut st = <uapi::RsioStatus as uapi::Request>::request();
        rsio_ioctl(&f, uapi::RSIO_IOC_STATUS, &mut st)?;
        parse_bdf(cstr(&st.adapter))
    })
}

// ---- Adapter names (SCIGetNodeIdByAdapterName) -----------------------------

/// `/dev/rsio` (`RSIO_DEVICE` overrides the path, for tests), read-write
/// or else read-only (its listing ioctls need no more).
fn open_rsio() -> Option<std::fs::File> {
    let path = std::env::var("RSIO_DEVICE").unwrap_or_else(|_| uapi::RSIO_DEVICE_PATH.to_string());
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .or_else(|_| std::fs::File::open(&path))
        .ok()
}

/// Issues an rsio ioctl whose argument is `arg`.
fn rsio_ioctl<T>(f: &std::fs::File, cmd: u32, arg: &mut T) -> Option<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `arg` is an exclusively borrowed ABI struct of the size `cmd` encodes; pointers inside it (a listing's array) were set up by the caller and outlive the call.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), cmd as _, arg as *mut T) };
    (rc == 0).then_some(())
}

/// The text of a NUL-terminated byte array.
fn cstr(b: &[u8]) -> &str {
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    std::str::from_utf8(&b[..n]).unwrap_or("")
}

/// The fabric's nodes as `(id, name)`: from `/dev/rsio`'s node list (names
/// from the nodes' hellos), else from `/dev/sisci` (ids only, and this
/// node's hostname); `None` without either device.
fn fabric_nodes() -> Option<Vec<(u32, String)>> {
    if let Some(f) = open_rsio() {
        // SAFETY: every ABI entry is `repr(C)` integers and byte arrays: all-zeroes is valid.
        let zero: uapi::RsioNodeEntry = unsafe { std::mem::zeroed() };
        let mut v = vec![zero; uapi::RSIO_MAX_NODES as usize];
        let mut l = <uapi::RsioList as uapi::Request>::request();
        l.entries = v.as_mut_ptr() as u64;
        l.capacity = v.len() as u32;
        l.entry_size = std::mem::size_of::<uapi::RsioNodeEntry>() as u32;
        if rsio_ioctl(&f, uapi::RSIO_IOC_NODES, &mut l).is_some() {
            v.truncate((l.count as usize).min(v.len()));
            return Some(
                v.iter()
                    .map(|e| (e.node_id, cstr(&e.name).to_string()))
                    .collect(),
            );
        }
    }
    let i = open().ok()?.info().ok()?;
    let mut host = [0u8; 256];
    // The name is read up to the first NUL below (gethostname truncates).
    // SAFETY: `host` is valid for its length; gethostname NUL-terminates or truncates.
    let rc = unsafe { libc::gethostname(host.as_mut_ptr().cast(), host.len() - 1) };
    let me = if rc == 0 {
        cstr(&host).to_string()
    } else {
        String::new()
    };
    Some(
        (0..i.num_nodes)
            .map(|n| {
                (
                    n,
                    if n == i.node_id {
                        me.clone()
                    } else {
                        String::new()
                    },
                )
            })
            .collect(),
    )
}

/// Whether node name `entry` answers to host name `host`: equal, or equal
/// up to a domain that one of them leaves out.
fn host_matches(entry: &str, host: &str) -> bool {
    if entry.is_empty() {
        return false;
    }
    let short = |s: &str| s.split('.').next().unwrap_or("").to_string();
    entry == host
        || (!host.contains('.') && short(entry) == host)
        || (!entry.contains('.') && short(host) == entry)
}

/// The rsio nodes adapter name `name` names among `nodes` (at most
/// `DIS_MAX_NSCIS`): a SISCI node id in decimal, a node's name, or a
/// node's name followed by `_a0` (its adapter 0; other adapter numbers
/// name nothing: rsio nodes have one adapter).
fn resolve_adapter_name(name: &str, nodes: &[(u32, String)]) -> Vec<u32> {
    let name = name.trim();
    if name.is_empty() {
        return Vec::new();
    }
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return match name.parse::<c_uint>().ok().and_then(nodeid::to_rsio) {
            Some(node) if nodes.iter().any(|(n, _)| *n == node) => vec![node],
            _ => Vec::new(),
        };
    }
    let host = match name.rsplit_once("_a") {
        Some((h, a)) if !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()) => {
            if a.parse::<u32>() != Ok(0) {
                return Vec::new();
            }
            h
        }
        _ => name,
    };
    let mut ids: Vec<u32> = nodes
        .iter()
        .filter(|(_, n)| host_matches(n, host))
        .map(|(id, _)| *id)
        .collect();
    ids.dedup();
    ids.truncate(DIS_MAX_NSCIS);
    ids
}

/// The common part of the two adapter-name calls: fills the lists.
///
/// # Safety
///
/// Pointers NULL or valid (`adapters` for `DIS_MAX_NSCIS` entries).
unsafe fn node_ids_by_name(
    name: *const c_char,
    adapters: *mut c_uint,
    list: *mut dis_nodeId_list_t,
    kind: *mut dis_virt_adapter_t,
    flags: c_uint,
) -> CResult<()> {
    if name.is_null() || list.is_null() || kind.is_null() {
        return Err(SCI_ERR_ILLEGAL_PARAMETER);
    }
    check_flags(flags, 0)?;
    initialized()?;
    // SAFETY: a NUL-terminated string per the contract.
    let name = unsafe { std::ffi::CStr::from_ptr(name) }.to_string_lossy();
    let nodes = fabric_nodes().ok_or(SCI_ERR_NO_SUCH_ADAPTERNO)?;
    let ids = resolve_adapter_name(&name, &nodes);
    let mut l: dis_nodeId_list_t = [0; DIS_MAX_NSCIS];
    for (dst, &node) in l.iter_mut().zip(&ids) {
        *dst = nodeid::to_sisci(node);
    }
    // SAFETY: checked not NULL; valid per the contract.
    unsafe {
        out(list, l)?;
        out(
            kind,
            if ids.is_empty() {
                DIS_ADAPTER_TYPE_UNKNOWN
            } else {
                DIS_ADAPTER_TYPE_RSIO
            },
        )?;
        if !adapters.is_null() {
            // Every node's only adapter is number 0.
            out(
                adapters.cast::<[c_uint; DIS_MAX_NSCIS]>(),
                [0; DIS_MAX_NSCIS],
            )?;
        }
    }
    if ids.is_empty() {
        Err(SCI_ERR_NO_SUCH_NODEID)
    } else {
        Ok(())
    }
}

/// `SCIGetNodeIdByAdapterName`: the node(s) an adapter name names
/// (docs/sisci.md, "Adapter names"); `SCI_ERR_NO_SUCH_NODEID` (and a list
/// of zeroes) for a name that names none.
///
/// # Safety
///
/// `name` NULL or a NUL-terminated string; the out pointers NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn SCIGetNodeIdByAdapterName(
    name: *const c_char,
    list: *mut dis_nodeId_list_t,
    kind: *mut dis_virt_adapter_t,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    // SAFETY: caller's contract.
    call(error, (), || unsafe {
        node_ids_by_name(name, std::ptr::null_mut(), list, kind, flags)
    })
}

/// `SCIGetNodeInfoByAdapterName`: as `SCIGetNodeIdByAdapterName`, and
/// `adapters[i]` is the adapter of `(*list)[i]` (always 0).
///
/// # Safety
///
/// As `SCIGetNodeIdByAdapterName`; `adapters` NULL or valid for
/// `DIS_MAX_NSCIS` entries.
#[no_mangle]
pub unsafe extern "C" fn SCIGetNodeInfoByAdapterName(
    name: *const c_char,
    adapters: *mut c_uint,
    list: *mut dis_nodeId_list_t,
    kind: *mut dis_virt_adapter_t,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        if adapters.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        // SAFETY: caller's contract.
        unsafe { node_ids_by_name(name, adapters, list, kind, flags) }
    })
}

/// A descriptor on `/dev/null` for tests that need no kernel (its ioctls
/// fail with `ENOTTY`).
#[cfg(test)]
pub fn test_desc() -> Handle {
    into_handle(Desc {
        magic: Desc::MAGIC,
        sd: rs::Sisci::open_path("/dev/null").unwrap(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_without_device_or_init() {
        let mut e = SCI_ERR_OK;
        let mut sd: Handle = std::ptr::null_mut();
        // SAFETY: valid out pointers.
        unsafe { SCIOpen(&mut sd, 0, &mut e) };
        assert!(e == SCI_ERR_NOT_INITIALIZED || e == SCI_ERR_NO_SUCH_ADAPTERNO);
        SCIInitialize(0, &mut e);
        assert_eq!(e, SCI_ERR_OK);
        std::env::set_var("SISCI_DEVICE", "/nonexistent/sisci");
        // SAFETY: valid out pointers.
        unsafe { SCIOpen(&mut sd, 0, &mut e) };
        assert_eq!(e, SCI_ERR_NO_SUCH_ADAPTERNO);
        assert!(sd.is_null());
        // SAFETY: NULL out pointer is refused, not written.
        unsafe { SCIOpen(std::ptr::null_mut(), 0, &mut e) };
        assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
        // SAFETY: as above; NULL error pointer is allowed.
        unsafe { SCIOpen(std::ptr::null_mut(), 0, std::ptr::null_mut()) };
        let mut n = 0;
        // SAFETY: valid pointers.
        unsafe { SCIGetLocalNodeId(1, &mut n, 0, &mut e) };
        assert_eq!(e, SCI_ERR_NO_SUCH_ADAPTERNO);
        // SAFETY: NULL is refused.
        unsafe { SCIGetLocalNodeId(0, std::ptr::null_mut(), 0, &mut e) };
        assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
        SCITerminate();
    }

    fn nodes() -> Vec<(u32, String)> {
        vec![
            (0, "node0".into()),
            (1, "node1.cluster".into()),
            (2, String::new()),
            (3, "gpu".into()),
        ]
    }

    #[test]
    fn adapter_names() {
        let n = nodes();
        assert_eq!(resolve_adapter_name("node0", &n), vec![0]);
        assert_eq!(resolve_adapter_name(" node0 ", &n), vec![0]);
        assert_eq!(resolve_adapter_name("node0_a0", &n), vec![0]);
        assert_eq!(resolve_adapter_name("node0_a1", &n), Vec::<u32>::new());
        assert_eq!(resolve_adapter_name("node1", &n), vec![1]);
        assert_eq!(resolve_adapter_name("node1.cluster_a0", &n), vec![1]);
        assert_eq!(resolve_adapter_name("gpu.cluster", &n), vec![3]);
        assert_eq!(resolve_adapter_name("node1.other", &n), Vec::<u32>::new());
        // Decimal names are SISCI node ids (4 * (rsio node + 1)).
        assert_eq!(resolve_adapter_name("12", &n), vec![2]);
        assert_eq!(resolve_adapter_name("4", &n), vec![0]);
        assert_eq!(resolve_adapter_name("16", &n), vec![3]);
        assert_eq!(resolve_adapter_name("2", &n), Vec::<u32>::new());
        assert_eq!(resolve_adapter_name("0", &n), Vec::<u32>::new());
        assert_eq!(resolve_adapter_name("7", &n), Vec::<u32>::new());
        assert_eq!(resolve_adapter_name("20", &n), Vec::<u32>::new());
        assert_eq!(resolve_adapter_name("252", &n), Vec::<u32>::new());
        assert_eq!(resolve_adapter_name("", &n), Vec::<u32>::new());
        assert_eq!(resolve_adapter_name("_a0", &n), Vec::<u32>::new());
        assert_eq!(resolve_adapter_name("nodeX", &n), Vec::<u32>::new());
        let twice = vec![(4, "dup".to_string()), (5, "dup".to_string())];
        assert_eq!(resolve_adapter_name("dup", &twice), vec![4, 5]);
    }

    #[test]
    fn adapter_name_arguments() {
        let mut e = SCI_ERR_OK;
        let mut l: dis_nodeId_list_t = [9; DIS_MAX_NSCIS];
        let mut k: dis_virt_adapter_t = 9;
        let mut a = [9 as c_uint; DIS_MAX_NSCIS];
        let name = c"node0";
        // SAFETY: NULL pointers are refused before use.
        unsafe {
            SCIGetNodeIdByAdapterName(std::ptr::null(), &mut l, &mut k, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIGetNodeIdByAdapterName(name.as_ptr(), std::ptr::null_mut(), &mut k, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIGetNodeIdByAdapterName(name.as_ptr(), &mut l, std::ptr::null_mut(), 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIGetNodeIdByAdapterName(name.as_ptr(), &mut l, &mut k, 1, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_FLAG);
            let none = std::ptr::null_mut();
            SCIGetNodeInfoByAdapterName(name.as_ptr(), none, &mut l, &mut k, 0, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
            SCIGetNodeInfoByAdapterName(name.as_ptr(), a.as_mut_ptr(), &mut l, &mut k, 2, &mut e);
            assert_eq!(e, SCI_ERR_ILLEGAL_FLAG);
        }
        assert_eq!(l, [9; DIS_MAX_NSCIS]);
    }

    #[test]
    fn probe_translates_node_ids() {
        let sd = test_desc();
        let mut e = SCI_ERR_OK;
        // Ids that name no node are refused before the kernel is asked.
        for id in [0, 1, 5, 68, DIS_BROADCAST_NODEID_GROUP_ALL] {
            // SAFETY: a live descriptor.
            let r = unsafe { SCIProbeNode(sd, 0, id, 0, &mut e) };
            assert_eq!((r, e), (0, SCI_ERR_ILLEGAL_NODEID), "{id}");
        }
        // A node's id reaches the (fake) kernel.
        // SAFETY: a live descriptor.
        let r = unsafe { SCIProbeNode(sd, 0, 4, 0, &mut e) };
        assert_eq!((r, e), (0, SCI_ERR_INCONSISTENT_VERSIONS));
        // SAFETY: a live descriptor, closed once.
        unsafe { SCIClose(sd, 0, &mut e) };
        assert_eq!(e, SCI_ERR_OK);
    }

    #[test]
    fn bdf_parsing() {
        assert_eq!(parse_bdf("0000:00:03.0"), Some(0x0018));
        assert_eq!(parse_bdf("0000:af:1f.7"), Some(0xaf << 8 | 31 << 3 | 7));
        assert_eq!(parse_bdf("0001:02:00.1"), Some(0x0201));
        assert_eq!(parse_bdf("0000:00:20.0"), None);
        assert_eq!(parse_bdf("0000:00:03.8"), None);
        assert_eq!(parse_bdf("module"), None);
        assert_eq!(parse_bdf("new_id"), None);
        assert_eq!(parse_bdf("00:03.0"), None);
        let dir = std::env::temp_dir().join(format!("sisci-bdf-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("0000:05:00.0")).unwrap();
        std::fs::create_dir_all(dir.join("0000:04:02.1")).unwrap();
        std::fs::create_dir_all(dir.join("module")).unwrap();
        std::fs::write(dir.join("bind"), "").unwrap();
        assert_eq!(bdf_in_driver_dir(&dir), Some(0x0411));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(bdf_in_driver_dir(&dir), None);
    }

    #[test]
    fn null_handles_are_refused() {
        let mut e = SCI_ERR_OK;
        // SAFETY: NULL handles are checked.
        unsafe { SCIClose(std::ptr::null_mut(), 0, &mut e) };
        assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
        // SAFETY: as above.
        let r = unsafe { SCIProbeNode(std::ptr::null_mut(), 0, 1, 0, &mut e) };
        assert_eq!((r, e), (0, SCI_ERR_ILLEGAL_PARAMETER));
        // SAFETY: NULL data is refused.
        unsafe { SCIQuery(SCI_Q_ADAPTER, std::ptr::null_mut(), 0, &mut e) };
        assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER);
        let mut v: c_uint = 0;
        let mut q = sci_query_system_t {
            subcommand: 99,
            data: (&mut v as *mut c_uint).cast(),
        };
        // SAFETY: a valid query struct.
        unsafe {
            SCIQuery(
                SCI_Q_SYSTEM,
                (&mut q as *mut sci_query_system_t).cast(),
                0,
                &mut e,
            )
        };
        assert_eq!(e, SCI_ERR_ILLEGAL_QUERY);
        // SAFETY: as above.
        unsafe { SCIQuery(77, (&mut q as *mut sci_query_system_t).cast(), 0, &mut e) };
        assert_eq!(e, SCI_ERR_ILLEGAL_QUERY);
        let mut buf = [0 as c_char; 8];
        let mut s = sci_query_string_t {
            str_: buf.as_mut_ptr(),
            length: 8,
        };
        // SAFETY: a valid string query.
        unsafe {
            SCIQuery(
                SCI_Q_VENDORID,
                (&mut s as *mut sci_query_string_t).cast(),
                0,
                &mut e,
            )
        };
        assert_eq!(e, SCI_ERR_OK);
        assert_eq!(
            buf[..5].iter().map(|&c| c as u8).collect::<Vec<_>>(),
            b"rsio\0"
        );
    }
}
