// SPDX-License-Identifier: GPL-2.0

//! The library and descriptors: SCIInitialize, SCIOpen, SCIQuery, nodes.

use crate::errors::from_rs;
use crate::ffi::*;
use crate::types::*;
use std::ffi::{c_char, c_int, c_uint, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

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

fn open() -> CResult<rs::Sisci> {
    let path =
        std::env::var("SISCI_DEVICE").unwrap_or_else(|_| rs::abi::SISCI_DEVICE_PATH.to_string());
    rs::Sisci::open_path(&path).map_err(|e| match e.errno() {
        libc::EACCES | libc::EPERM => SCI_ERR_ACCESS,
        // No /dev/sisci: rsio_sisci is not loaded.
        libc::ENOENT | libc::ENODEV | libc::ENXIO => SCI_ERR_NO_SUCH_ADAPTERNO,
        _ => SCI_ERR_SYSTEM,
    })
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

/// `SCIOpen`: opens a SISCI virtual device (one `/dev/sisci` file).
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
        Ok(())
    })
}

fn with_info<T>(f: impl FnOnce(&rs::Info) -> CResult<T>) -> CResult<T> {
    initialized()?;
    let s = open()?;
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
        let n = with_info(|i| Ok(i.node_id))?;
        // SAFETY: checked not NULL; valid per the contract.
        unsafe { out(node_id, n) }
    })
}

/// `SCIProbeNode`: 1 if `node_id`'s core is up, else 0.
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
        let i = d.sd.info().map_err(from_rs)?;
        if node_id >= 32 || node_id >= i.num_nodes {
            return Err(SCI_ERR_ILLEGAL_NODEID);
        }
        if i.up_mask & (1 << node_id) != 0 {
            Ok(1)
        } else {
            Err(SCI_ERR_NO_LINK_ACCESS)
        }
    })
}

fn adapter_value(i: &rs::Info, sub: c_uint) -> CResult<c_uint> {
    let others_up = i.up_mask & !(1u32.checked_shl(i.node_id).unwrap_or(0)) != 0;
    Ok(match sub {
        SCI_Q_ADAPTER_NODEID => i.node_id,
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
