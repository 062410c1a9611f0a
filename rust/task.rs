// SPDX-License-Identifier: GPL-2.0

//! The calling task: its pid, uid, identity and capabilities.

use crate::bindings;

/// The calling process's pid (thread group id) as its pid namespace sees it.
pub fn current_pid() -> u32 {
    // SAFETY: Reads the current task's pid; no preconditions.
    let pid = unsafe { bindings::rsio_helper_current_pid() };
    u32::try_from(pid).unwrap_or(0)
}

/// The calling task's uid in the initial user namespace.
pub fn current_uid() -> u32 {
    // SAFETY: Reads the current task's credentials; no preconditions.
    unsafe { bindings::rsio_helper_current_uid() }
}

/// Whether the calling task has `CAP_SYS_ADMIN`.
pub fn capable_admin() -> bool {
    // SAFETY: `capable()` only inspects the current task's credentials.
    unsafe { bindings::rsio_helper_capable_admin() }
}

/// Whether the calling task has `CAP_SYS_RAWIO` (raw device access: a
/// device whose DMA the caller programs).
pub fn capable_rawio() -> bool {
    // SAFETY: `capable()` only inspects the current task's credentials.
    unsafe { bindings::rsio_helper_capable_rawio() }
}

/// The current task, as an address: an identity to compare, never a
/// pointer to follow.
pub fn current_task_id() -> usize {
    // SAFETY: Reads the `current` pointer; no preconditions.
    unsafe { bindings::rsio_helper_current_task() }.addr()
}
