// SPDX-License-Identifier: GPL-2.0

//! [`EventFd`]: an eventfd context a user process handed in, to signal.

use crate::bindings;
use kernel::prelude::*;

/// An eventfd context.
///
/// # Invariants
///
/// Holds a reference on a live `eventfd_ctx`, dropped on drop.
pub struct EventFd(*mut kernel::bindings::eventfd_ctx);

// SAFETY: eventfd contexts are signalled from any thread.
unsafe impl Send for EventFd {}
// SAFETY: As above: signalling locks internally.
unsafe impl Sync for EventFd {}

impl EventFd {
    /// The eventfd behind the caller's file descriptor `fd` (`EBADF`;
    /// `EINVAL` if it is not an eventfd).
    pub fn get(fd: i32) -> Result<Self> {
        let mut err = 0;
        // SAFETY: Looks `fd` up in the current task's table; `err` is a valid out pointer.
        let ctx = unsafe { bindings::rsio_helper_eventfd_get(fd, &mut err) };
        if ctx.is_null() {
            return Err(if err < 0 {
                Error::from_errno(err)
            } else {
                EINVAL
            });
        }
        // INVARIANT: eventfd_ctx_fdget took a reference.
        Ok(Self(ctx.cast()))
    }

    /// Adds 1 to the eventfd's counter (wakes its pollers). Any context.
    pub fn signal(&self) {
        // SAFETY: The context is alive (invariant).
        unsafe { bindings::rsio_helper_eventfd_signal(self.0.cast()) };
    }
}

impl Drop for EventFd {
    fn drop(&mut self) {
        // SAFETY: Drops the reference this object holds (invariant).
        unsafe { kernel::bindings::eventfd_ctx_put(self.0) };
    }
}
