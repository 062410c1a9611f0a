// SPDX-License-Identifier: GPL-2.0

//! Safe access to facts about the running kernel that the `kernel` crate does
//! not expose.

use crate::bindings;
use kernel::prelude::*;
use kernel::str::CStrExt;

/// The running kernel's release string, as `uname -r` prints it.
pub(crate) fn kernel_release() -> &'static CStr {
    // The helper returns `init_utsname()->release`: a NUL-terminated array in
    // the static initial UTS namespace, which lives as long as the kernel and
    // whose release field is never rewritten (only nodename/domainname are).
    // SAFETY: A valid NUL-terminated string that lives and stays unchanged forever (above).
    unsafe { CStr::from_char_ptr(bindings::rsio_helper_kernel_release()) }
}

/// This node's name (its hostname), NUL-padded; truncated to fit.
pub(crate) fn nodename() -> [u8; crate::uapi::RSIO_NAME_LEN] {
    let mut buf = [0u8; crate::uapi::RSIO_NAME_LEN];
    // SAFETY: The helper writes at most `buf.len()` bytes, NUL-terminated, into `buf`, a valid writable array.
    unsafe { bindings::rsio_helper_nodename(buf.as_mut_ptr().cast(), buf.len()) };
    buf
}

/// Whether the calling task has `CAP_SYS_ADMIN` (the admin ioctls).
pub(crate) fn is_admin() -> bool {
    // SAFETY: `capable()` only inspects the current task's credentials.
    unsafe { bindings::rsio_helper_capable_admin() }
}

/// Monotonic time in nanoseconds.
pub(crate) fn now_ns() -> u64 {
    // SAFETY: `ktime_get_ns()` has no preconditions.
    unsafe { bindings::rsio_helper_ktime_ns() }
}

/// Monotonic time in milliseconds.
pub(crate) fn now_ms() -> u64 {
    now_ns() / 1_000_000
}

/// A random 32-bit number.
pub(crate) fn random_u32() -> u32 {
    // SAFETY: `get_random_u32()` has no preconditions.
    unsafe { bindings::rsio_helper_random_u32() }
}

/// The calling process's pid as its namespace sees it.
pub(crate) fn current_pid() -> u32 {
    // SAFETY: Reads the current task's pid; no preconditions.
    let pid = unsafe { bindings::rsio_helper_current_pid() };
    u32::try_from(pid).unwrap_or(0)
}

/// The current task, as an address (identity only).
pub(crate) fn current_task() -> usize {
    // SAFETY: Reads the `current` pointer; no preconditions.
    unsafe { bindings::rsio_helper_current_task() }.addr()
}
