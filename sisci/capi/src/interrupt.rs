// SPDX-License-Identifier: GPL-2.0

//! Plain and data interrupts, local and remote.

use crate::desc::desc;
use crate::errors::from_rs;
use crate::ffi::*;
use crate::nodeid;
use crate::types::*;
use crate::watcher::{Watcher, POLL};
use std::ffi::{c_uint, c_void};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `sci_local_interrupt_t`.
#[repr(C)]
pub struct LocalIntr {
    magic: u32,
    i: Arc<rs::Interrupt>,
    watcher: Option<Watcher>,
}

impl Object for LocalIntr {
    const MAGIC: u32 = 0x5C1_1A70;
    fn magic(&self) -> u32 {
        self.magic
    }
}

/// `sci_local_data_interrupt_t`.
#[repr(C)]
pub struct LocalDataIntr {
    magic: u32,
    i: Arc<rs::DataInterrupt>,
    watcher: Option<Watcher>,
}

impl Object for LocalDataIntr {
    const MAGIC: u32 = 0x5C1_1A7D;
    fn magic(&self) -> u32 {
        self.magic
    }
}

/// `sci_remote_interrupt_t`.
#[repr(C)]
pub struct RemoteIntr {
    magic: u32,
    i: rs::RemoteInterrupt,
}

impl Object for RemoteIntr {
    const MAGIC: u32 = 0x5C1_2A70;
    fn magic(&self) -> u32 {
        self.magic
    }
}

/// `sci_remote_data_interrupt_t`.
#[repr(C)]
pub struct RemoteDataIntr {
    magic: u32,
    i: rs::RemoteDataInterrupt,
}

impl Object for RemoteDataIntr {
    const MAGIC: u32 = 0x5C1_2A7D;
    fn magic(&self) -> u32 {
        self.magic
    }
}

fn keep_waiting(e: &rs::Error) -> bool {
    e.is_timeout() || e.errno() == libc::EINTR
}

/// The id an interrupt is created with; checks the common arguments.
///
/// # Safety
///
/// `number` must be NULL or valid for reads.
unsafe fn create_args(adapter: c_uint, number: *mut c_uint, flags: c_uint) -> CResult<rs::Id> {
    if number.is_null() {
        return Err(SCI_ERR_ILLEGAL_PARAMETER);
    }
    check_adapter(adapter)?;
    // Shared, counting and externally shared interrupts are not offered.
    check_flags_with(
        flags,
        SCI_FLAG_FIXED_INTNO | SCI_FLAG_USE_CALLBACK,
        SCI_FLAG_SHARED_INT | SCI_FLAG_COUNTING_INT | SCI_FLAG_SHARE_EXTERNAL,
    )?;
    Ok(if flags & SCI_FLAG_FIXED_INTNO != 0 {
        // SAFETY: checked not NULL; readable per the contract.
        rs::Id::Fixed(unsafe { number.read() })
    } else {
        rs::Id::Auto
    })
}

/// `SCICreateInterrupt`. Flags: `SCI_FLAG_FIXED_INTNO` (`*interruptNo` in),
/// `SCI_FLAG_USE_CALLBACK` (a library thread waits and calls `callback`).
///
/// # Safety
///
/// `sd` a live descriptor; pointers NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn SCICreateInterrupt(
    sd: Handle,
    interrupt: *mut Handle,
    adapter: c_uint,
    number: *mut c_uint,
    callback: sci_cb_interrupt_t,
    callback_arg: *mut c_void,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let d = unsafe { desc(sd)? };
        if interrupt.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        // SAFETY: caller's contract.
        let id = unsafe { create_args(adapter, number, flags)? };
        let cb = if flags & SCI_FLAG_USE_CALLBACK != 0 {
            Some(callback.ok_or(SCI_ERR_ILLEGAL_PARAMETER)?)
        } else {
            None
        };
        let i = Arc::new(rs::Interrupt::create_with(&d.sd, id, true).map_err(from_rs)?);
        let no = i.number();
        let h = into_handle(LocalIntr {
            magic: LocalIntr::MAGIC,
            i: i.clone(),
            watcher: None,
        });
        if let Some(cb) = cb {
            let (hp, arg) = (SendPtr(h), SendPtr(callback_arg));
            let w = Watcher::spawn(move || match i.wait(Some(POLL)) {
                // SAFETY: the application's callback with its own argument.
                Ok(_) => unsafe { cb(arg.get(), hp.get(), SCI_ERR_OK) != SCI_CALLBACK_CANCEL },
                Err(e) => keep_waiting(&e),
            });
            match w {
                // SAFETY: `h` was just made for a LocalIntr.
                Ok(w) => unsafe { (*h.cast::<LocalIntr>()).watcher = Some(w) },
                Err(_) => {
                    // SAFETY: as above; not used afterwards.
                    drop(unsafe { take::<LocalIntr>(h) });
                    return Err(SCI_ERR_NOSPC);
                }
            }
        }
        // SAFETY: both checked not NULL.
        unsafe {
            out(number, no)?;
            out(interrupt, h)
        }
    })
}

/// `SCIRemoveInterrupt` (also from its own callback).
///
/// # Safety
///
/// `interrupt` must be NULL or a live `sci_local_interrupt_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIRemoveInterrupt(
    interrupt: Handle,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        unsafe { borrow::<LocalIntr>(interrupt)? };
        check_flags(flags, 0)?;
        // SAFETY: checked; not used afterwards.
        let mut b = unsafe { take::<LocalIntr>(interrupt) };
        if let Some(mut w) = b.watcher.take() {
            w.stop();
        }
        Ok(())
    })
}

/// `SCIWaitForInterrupt` (not with a callback: `SCI_ERR_ILLEGAL_OPERATION`).
///
/// # Safety
///
/// `interrupt` must be NULL or a live `sci_local_interrupt_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIWaitForInterrupt(
    interrupt: Handle,
    timeout_ms: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let i = unsafe { borrow::<LocalIntr>(interrupt)? };
        check_flags(flags, 0)?;
        if i.watcher.is_some() {
            return Err(SCI_ERR_ILLEGAL_OPERATION);
        }
        i.i.wait(timeout(timeout_ms)).map(drop).map_err(from_rs)
    })
}

/// `SCIConnectInterrupt`. A node id that names no node (docs/sisci.md,
/// "Node ids"): `SCI_ERR_ILLEGAL_PARAMETER`, as for a node beyond the
/// fabric.
///
/// # Safety
///
/// `sd` a live descriptor; `interrupt` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn SCIConnectInterrupt(
    sd: Handle,
    interrupt: *mut Handle,
    node_id: c_uint,
    adapter: c_uint,
    number: c_uint,
    timeout_ms: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let d = unsafe { desc(sd)? };
        if interrupt.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_adapter(adapter)?;
        check_flags(flags, 0)?;
        let node = nodeid::to_rsio(node_id).ok_or(SCI_ERR_ILLEGAL_PARAMETER)?;
        let i = rs::RemoteInterrupt::connect(&d.sd, node, number, timeout(timeout_ms))
            .map_err(from_rs)?;
        let h = into_handle(RemoteIntr {
            magic: RemoteIntr::MAGIC,
            i,
        });
        // SAFETY: checked not NULL.
        unsafe { out(interrupt, h) }
    })
}

/// `SCIDisconnectInterrupt`.
///
/// # Safety
///
/// `interrupt` must be NULL or a live `sci_remote_interrupt_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIDisconnectInterrupt(
    interrupt: Handle,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        unsafe { borrow::<RemoteIntr>(interrupt)? };
        check_flags(flags, SCI_FLAG_FORCE_DISCONNECT)?;
        // SAFETY: checked; not used afterwards.
        drop(unsafe { take::<RemoteIntr>(interrupt) });
        Ok(())
    })
}

/// `SCITriggerInterrupt`.
///
/// # Safety
///
/// `interrupt` must be NULL or a live `sci_remote_interrupt_t`.
#[no_mangle]
pub unsafe extern "C" fn SCITriggerInterrupt(
    interrupt: Handle,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let i = unsafe { borrow::<RemoteIntr>(interrupt)? };
        check_flags(flags, 0)?;
        i.i.trigger().map_err(from_rs)
    })
}

/// `SCICreateDataInterrupt`: as SCICreateInterrupt; the callback gets the
/// payload.
///
/// # Safety
///
/// `sd` a live descriptor; pointers NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn SCICreateDataInterrupt(
    sd: Handle,
    interrupt: *mut Handle,
    adapter: c_uint,
    number: *mut c_uint,
    callback: sci_cb_data_interrupt_t,
    callback_arg: *mut c_void,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let d = unsafe { desc(sd)? };
        if interrupt.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        // SAFETY: caller's contract.
        let id = unsafe { create_args(adapter, number, flags)? };
        let cb = if flags & SCI_FLAG_USE_CALLBACK != 0 {
            Some(callback.ok_or(SCI_ERR_ILLEGAL_PARAMETER)?)
        } else {
            None
        };
        let i = Arc::new(rs::DataInterrupt::create_with(&d.sd, id, true).map_err(from_rs)?);
        let no = i.number();
        let h = into_handle(LocalDataIntr {
            magic: LocalDataIntr::MAGIC,
            i: i.clone(),
            watcher: None,
        });
        if let Some(cb) = cb {
            let (hp, arg) = (SendPtr(h), SendPtr(callback_arg));
            let w = Watcher::spawn(move || {
                let mut buf = [0u8; rs::abi::SISCI_MAX_INTR_DATA as usize];
                match i.wait_into(Some(POLL), &mut buf) {
                    // SAFETY: the application's callback with its own argument and a buffer valid during the call.
                    Ok((_, n)) => unsafe {
                        cb(
                            arg.get(),
                            hp.get(),
                            buf.as_mut_ptr().cast(),
                            n as c_uint,
                            SCI_ERR_OK,
                        ) != SCI_CALLBACK_CANCEL
                    },
                    Err(e) => keep_waiting(&e),
                }
            });
            match w {
                // SAFETY: `h` was just made for a LocalDataIntr.
                Ok(w) => unsafe { (*h.cast::<LocalDataIntr>()).watcher = Some(w) },
                Err(_) => {
                    // SAFETY: as above; not used afterwards.
                    drop(unsafe { take::<LocalDataIntr>(h) });
                    return Err(SCI_ERR_NOSPC);
                }
            }
        }
        // SAFETY: both checked not NULL.
        unsafe {
            out(number, no)?;
            out(interrupt, h)
        }
    })
}

/// `SCIRemoveDataInterrupt`.
///
/// # Safety
///
/// `interrupt` must be NULL or a live `sci_local_data_interrupt_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIRemoveDataInterrupt(
    interrupt: Handle,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        unsafe { borrow::<LocalDataIntr>(interrupt)? };
        check_flags(flags, 0)?;
        // SAFETY: checked; not used afterwards.
        let mut b = unsafe { take::<LocalDataIntr>(interrupt) };
        if let Some(mut w) = b.watcher.take() {
            w.stop();
        }
        Ok(())
    })
}

/// `SCIWaitForDataInterrupt`: `*length` is the buffer size in, the
/// payload size out (`SCI_ERR_OUT_OF_RANGE` if the buffer is too small:
/// the interrupt stays queued and `*length` says what is needed).
///
/// # Safety
///
/// `interrupt` NULL or live; `data` valid for `*length` bytes.
#[no_mangle]
pub unsafe extern "C" fn SCIWaitForDataInterrupt(
    interrupt: Handle,
    data: *mut c_void,
    length: *mut c_uint,
    timeout_ms: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let i = unsafe { borrow::<LocalDataIntr>(interrupt)? };
        if length.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_flags(flags, 0)?;
        if i.watcher.is_some() {
            return Err(SCI_ERR_ILLEGAL_OPERATION);
        }
        // SAFETY: checked not NULL.
        let cap = unsafe { length.read() } as usize;
        if data.is_null() && cap > 0 {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        let buf: &mut [u8] = if cap == 0 {
            &mut []
        } else {
            // SAFETY: `data` holds `*length` bytes per the contract.
            unsafe { std::slice::from_raw_parts_mut(data.cast::<u8>(), cap) }
        };
        let (_, n) = i.i.wait_into(timeout(timeout_ms), buf).map_err(from_rs)?;
        // SAFETY: checked not NULL.
        unsafe { out(length, n as c_uint) }
    })
}

/// `SCIConnectDataInterrupt`. A node id that names no node:
/// `SCI_ERR_ILLEGAL_PARAMETER`, as for a node beyond the fabric.
///
/// # Safety
///
/// `sd` a live descriptor; `interrupt` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn SCIConnectDataInterrupt(
    sd: Handle,
    interrupt: *mut Handle,
    node_id: c_uint,
    adapter: c_uint,
    number: c_uint,
    timeout_ms: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let d = unsafe { desc(sd)? };
        if interrupt.is_null() {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_adapter(adapter)?;
        check_flags(flags, 0)?;
        let node = nodeid::to_rsio(node_id).ok_or(SCI_ERR_ILLEGAL_PARAMETER)?;
        let i = rs::RemoteDataInterrupt::connect(&d.sd, node, number, timeout(timeout_ms))
            .map_err(from_rs)?;
        let h = into_handle(RemoteDataIntr {
            magic: RemoteDataIntr::MAGIC,
            i,
        });
        // SAFETY: checked not NULL.
        unsafe { out(interrupt, h) }
    })
}

/// `SCIDisconnectDataInterrupt`.
///
/// # Safety
///
/// `interrupt` must be NULL or a live `sci_remote_data_interrupt_t`.
#[no_mangle]
pub unsafe extern "C" fn SCIDisconnectDataInterrupt(
    interrupt: Handle,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        unsafe { borrow::<RemoteDataIntr>(interrupt)? };
        check_flags(flags, SCI_FLAG_FORCE_DISCONNECT)?;
        // SAFETY: checked; not used afterwards.
        drop(unsafe { take::<RemoteDataIntr>(interrupt) });
        Ok(())
    })
}

/// How long SCITriggerDataInterrupt retries while the owner's queue is
/// full: long enough to ride out a receiver's scheduling delay.
const FULL_RETRY: Duration = Duration::from_secs(1);

/// `SCITriggerDataInterrupt`: retries while the owner's queue is full
/// (`ENOBUFS`), up to 1 s, then `SCI_ERR_NOSPC`, as Dolphin's library
/// reports a full queue (programs that measure trigger rates against a
/// receiver that takes nothing count it and go on).
///
/// # Safety
///
/// `interrupt` NULL or live; `data` valid for `length` bytes.
#[no_mangle]
pub unsafe extern "C" fn SCITriggerDataInterrupt(
    interrupt: Handle,
    data: *mut c_void,
    length: c_uint,
    flags: c_uint,
    error: *mut sci_error_t,
) {
    call(error, (), || {
        // SAFETY: caller's contract.
        let i = unsafe { borrow::<RemoteDataIntr>(interrupt)? };
        if data.is_null() && length > 0 {
            return Err(SCI_ERR_ILLEGAL_PARAMETER);
        }
        check_flags(flags, 0)?;
        let buf: &[u8] = if length == 0 {
            &[]
        } else {
            // SAFETY: `data` holds `length` bytes per the contract.
            unsafe { std::slice::from_raw_parts(data.cast::<u8>(), length as usize) }
        };
        let start = Instant::now();
        let mut pause = Duration::from_micros(20);
        loop {
            match i.i.trigger(buf) {
                Ok(()) => return Ok(()),
                Err(e) if e.errno() == libc::ENOBUFS && start.elapsed() < FULL_RETRY => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(2));
                }
                Err(e) if e.errno() == libc::ENOBUFS => return Err(SCI_ERR_NOSPC),
                Err(e) => return Err(from_rs(e)),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_flags() {
        let mut n: c_uint = 5;
        assert_eq!(
            // SAFETY: `n` is a valid interrupt number.
            unsafe { create_args(0, &mut n, SCI_FLAG_FIXED_INTNO) }.ok(),
            Some(rs::Id::Fixed(5))
        );
        for f in [
            SCI_FLAG_SHARED_INT,
            SCI_FLAG_COUNTING_INT,
            SCI_FLAG_SHARE_EXTERNAL,
        ] {
            // SAFETY: as above.
            let r = unsafe { create_args(0, &mut n, f) };
            assert_eq!(r.err(), Some(SCI_ERR_FLAG_NOT_IMPLEMENTED));
        }
        // SAFETY: as above.
        let r = unsafe { create_args(0, &mut n, SCI_FLAG_DMA_READ) };
        assert_eq!(r.err(), Some(SCI_ERR_ILLEGAL_FLAG));
        // SAFETY: NULL is refused.
        let r = unsafe { create_args(0, std::ptr::null_mut(), 0) };
        assert_eq!(r.err(), Some(SCI_ERR_ILLEGAL_PARAMETER));
        // SAFETY: as above.
        let r = unsafe { create_args(1, &mut n, 0) };
        assert_eq!(r.err(), Some(SCI_ERR_NO_SUCH_ADAPTERNO));
    }

    #[test]
    fn connect_translates_node_ids() {
        let sd = crate::desc::test_desc();
        let mut e = SCI_ERR_OK;
        let mut h: Handle = std::ptr::null_mut();
        // SAFETY: a live descriptor, valid out pointers.
        unsafe {
            // Ids that name no node: refused as a node beyond the fabric.
            for id in [0, 2, 7, 68, DIS_BROADCAST_NODEID_GROUP_ALL] {
                SCIConnectInterrupt(sd, &mut h, id, 0, 1, 0, 0, &mut e);
                assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER, "{id}");
                SCIConnectDataInterrupt(sd, &mut h, id, 0, 1, 0, 0, &mut e);
                assert_eq!(e, SCI_ERR_ILLEGAL_PARAMETER, "{id}");
            }
            // A node's id reaches the (fake) kernel.
            SCIConnectInterrupt(sd, &mut h, 4, 0, 1, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_INCONSISTENT_VERSIONS);
            SCIConnectDataInterrupt(sd, &mut h, 8, 0, 1, 0, 0, &mut e);
            assert_eq!(e, SCI_ERR_INCONSISTENT_VERSIONS);
            assert!(h.is_null());
            crate::desc::SCIClose(sd, 0, &mut e);
            assert_eq!(e, SCI_ERR_OK);
        }
    }
}
