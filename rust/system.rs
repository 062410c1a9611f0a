// SPDX-License-Identifier: GPL-2.0

//! Facts about the running system: kernel release, node name, monotonic
//! time, random numbers.

use crate::bindings;
use kernel::prelude::*;
use kernel::str::CStrExt;

/// The running kernel's release string, as `uname -r` prints it.
pub fn kernel_release() -> &'static CStr {
    // The helper returns `init_utsname()->release`: a NUL-terminated array in
    // the static initial UTS namespace, which lives as long as the kernel and
    // whose release field is never rewritten (only nodename/domainname are).
    // SAFETY: A valid NUL-terminated string that lives and stays unchanged forever (above).
    unsafe { CStr::from_char_ptr(bindings::rsio_helper_kernel_release()) }
}

/// This node's name (its hostname), NUL-padded, truncated to `N - 1` bytes.
pub fn nodename<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // SAFETY: The helper writes at most `buf.len()` bytes, NUL-terminated, into `buf`, a valid writable array.
    unsafe { bindings::rsio_helper_nodename(buf.as_mut_ptr().cast(), buf.len()) };
    buf
}

/// Monotonic time in nanoseconds (`ktime_get_ns()`).
pub fn now_ns() -> u64 {
    // SAFETY: `ktime_get_ns()` has no preconditions.
    unsafe { bindings::rsio_helper_ktime_ns() }
}

/// Monotonic time in milliseconds.
pub fn now_ms() -> u64 {
    now_ns() / 1_000_000
}

/// A random 32-bit number (`get_random_u32()`).
pub fn random_u32() -> u32 {
    // SAFETY: `get_random_u32()` has no preconditions.
    unsafe { kernel::bindings::get_random_u32() }
}
