// SPDX-License-Identifier: GPL-2.0

//! FFI plumbing: panic-free calls, error reporting, handle checks.

use crate::types::*;
use std::ffi::{c_uint, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

/// What a C call's body returns: a value or a SISCI error.
pub type CResult<T> = Result<T, sci_error_t>;

/// Runs `f` without letting a panic cross the FFI boundary; stores the
/// outcome in `*error` (if not NULL) and returns the value, or `default`.
pub fn call<T>(error: *mut sci_error_t, default: T, f: impl FnOnce() -> CResult<T>) -> T {
    let r = catch_unwind(AssertUnwindSafe(f)).unwrap_or(Err(SCI_ERR_SYSTEM));
    let (v, e) = match r {
        Ok(v) => (v, SCI_ERR_OK),
        Err(e) => (default, e),
    };
    if !error.is_null() {
        // SAFETY: the caller passes a valid `sci_error_t *` or NULL (checked).
        unsafe { error.write(e) };
    }
    v
}

/// Runs `f` for calls without an error argument: a panic gives `default`.
pub fn call_quiet<T>(default: T, f: impl FnOnce() -> Option<T>) -> T {
    catch_unwind(AssertUnwindSafe(f))
        .ok()
        .flatten()
        .unwrap_or(default)
}

/// Objects handed to C start with a magic number, so a handle of the
/// wrong kind (or a stale one whose memory was reused) is refused
/// instead of misused in most cases.
pub trait Object: Sized {
    /// The kind's magic.
    const MAGIC: u32;
    /// The object's magic field.
    fn magic(&self) -> u32;
}

/// Moves `obj` to the heap and returns it as an opaque handle.
pub fn into_handle<T: Object>(obj: T) -> Handle {
    Box::into_raw(Box::new(obj)).cast()
}

/// Borrows the object behind handle `h`.
///
/// # Safety
///
/// `h` must be NULL or a handle returned by [`into_handle`] for a `T`
/// that was not freed yet.
pub unsafe fn borrow<'a, T: Object>(h: Handle) -> CResult<&'a T> {
    if h.is_null() {
        return Err(SCI_ERR_ILLEGAL_PARAMETER);
    }
    // SAFETY: per the contract `h` points to a live `T`.
    let o = unsafe { &*h.cast::<T>() };
    if o.magic() != T::MAGIC {
        return Err(SCI_ERR_ILLEGAL_PARAMETER);
    }
    Ok(o)
}

/// Takes back ownership of handle `h` (after [`borrow`] checked it).
///
/// # Safety
///
/// As [`borrow`]; the handle must not be used afterwards.
pub unsafe fn take<T: Object>(h: Handle) -> Box<T> {
    // SAFETY: per the contract `h` came from `Box::into_raw` of a `T`.
    let mut b = unsafe { Box::from_raw(h.cast::<T>()) };
    // Poison the magic so a second free or use of the stale handle is
    // caught while the allocation is not reused.
    poison(&mut b);
    b
}

fn poison<T: Object>(b: &mut Box<T>) {
    let p: *mut T = &mut **b;
    // SAFETY: every `Object` is `repr(C)` with a `u32` magic as its first field; `p` is valid and exclusively owned.
    unsafe { p.cast::<u32>().write(0xDEAD_0000) };
}

/// Writes `v` through an out pointer, refusing NULL.
///
/// # Safety
///
/// `p` must be NULL or valid for writes of a `T`.
pub unsafe fn out<T>(p: *mut T, v: T) -> CResult<()> {
    if p.is_null() {
        return Err(SCI_ERR_ILLEGAL_PARAMETER);
    }
    // SAFETY: not NULL, valid per the contract.
    unsafe { p.write(v) };
    Ok(())
}

/// Refuses flags outside `allowed` with `SCI_ERR_ILLEGAL_FLAG` (a value
/// that means nothing for the call).
pub fn check_flags(flags: c_uint, allowed: c_uint) -> CResult<()> {
    check_flags_with(flags, allowed, 0)
}

/// Checks a call's flags: bits outside `allowed | not_implemented` are
/// `SCI_ERR_ILLEGAL_FLAG` (they mean nothing for the call); bits of
/// `not_implemented` (flags the public API defines for the call that this
/// library does not offer) are `SCI_ERR_FLAG_NOT_IMPLEMENTED`.
pub fn check_flags_with(flags: c_uint, allowed: c_uint, not_implemented: c_uint) -> CResult<()> {
    if flags & !(allowed | not_implemented) != 0 {
        Err(SCI_ERR_ILLEGAL_FLAG)
    } else if flags & not_implemented & !allowed != 0 {
        Err(SCI_ERR_FLAG_NOT_IMPLEMENTED)
    } else {
        Ok(())
    }
}

/// Refuses adapters other than 0 (rsio has one per node).
pub fn check_adapter(adapter: c_uint) -> CResult<()> {
    if adapter != 0 {
        Err(SCI_ERR_NO_SUCH_ADAPTERNO)
    } else {
        Ok(())
    }
}

/// A SISCI timeout in ms: `SCI_INFINITE_TIMEOUT` waits forever.
pub fn timeout(ms: c_uint) -> Option<Duration> {
    if ms == SCI_INFINITE_TIMEOUT {
        None
    } else {
        Some(Duration::from_millis(u64::from(ms)))
    }
}

/// A C pointer moved to a callback thread.
#[derive(Clone, Copy)]
pub struct SendPtr(pub *mut c_void);

// SAFETY: the pointer is only handed back to the C callback that came with
// it; SISCI documents that callbacks run on a library thread, so the
// application made its argument usable from there.
unsafe impl Send for SendPtr {}

impl SendPtr {
    /// The pointer (a method, so closures capture the whole `SendPtr`).
    pub fn get(self) -> *mut c_void {
        self.0
    }
}

/// The exported `_SISCI_PUBLIC_FUNC_ST_<name>` / `_SISCI_PUBLIC_FUNC_MT_<name>`
/// names of every call `sisci_api.h` declares (generated by `build.rs`:
/// naked functions that jump to the plain name).
pub mod aliases {
    include!(concat!(env!("OUT_DIR"), "/aliases.rs"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_classes() {
        assert_eq!(check_flags(0, 0), Ok(()));
        assert_eq!(check_flags(0x10, 0x11), Ok(()));
        assert_eq!(check_flags(0x2, 0x1), Err(SCI_ERR_ILLEGAL_FLAG));
        assert_eq!(
            check_flags_with(0x4, 0x1, 0x4),
            Err(SCI_ERR_FLAG_NOT_IMPLEMENTED)
        );
        // A meaningless bit wins over an unimplemented one.
        assert_eq!(check_flags_with(0x6, 0x1, 0x4), Err(SCI_ERR_ILLEGAL_FLAG));
        // A bit both allowed and listed as unimplemented is allowed.
        assert_eq!(check_flags_with(0x5, 0x5, 0x4), Ok(()));
    }

    #[test]
    fn aliases_cover_the_header() {
        assert!(aliases::DECLARED_CALLS.contains(&"SCIOpen"));
        assert!(aliases::DECLARED_CALLS.contains(&"SCICacheSync"));
        assert!(aliases::DECLARED_CALLS.contains(&"SCIGetNodeIdByAdapterName"));
        assert!(aliases::DECLARED_CALLS.contains(&"SCIAttachPhysicalMemory"));
    }
}
