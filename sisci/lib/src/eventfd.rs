// SPDX-License-Identifier: GPL-2.0

//! A minimal `eventfd(2)` for interrupt notification through `poll(2)`.

use crate::error::{Error, Result};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// An eventfd: the kernel adds 1 per interrupt trigger.
#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// A new eventfd; `nonblocking` makes [`EventFd::read`] return `EAGAIN`
    /// instead of waiting.
    pub fn new(nonblocking: bool) -> Result<Self> {
        let mut flags = libc::EFD_CLOEXEC;
        if nonblocking {
            flags |= libc::EFD_NONBLOCK;
        }
        // SAFETY: eventfd has no memory preconditions.
        let fd = unsafe { libc::eventfd(0, flags) };
        if fd < 0 {
            return Err(Error::last("eventfd"));
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(EventFd { fd })
    }

    /// Takes the counter (waits while it is 0, unless nonblocking).
    pub fn read(&self) -> Result<u64> {
        let mut v = 0u64;
        // SAFETY: reads exactly 8 bytes into `v`.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
        if n != 8 {
            return Err(Error::last("eventfd read"));
        }
        Ok(v)
    }

    /// Waits up to `timeout_ms` (-1: forever) for the counter to be
    /// non-zero; true if it is.
    pub fn wait_readable(&self, timeout_ms: i32) -> Result<bool> {
        let mut p = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        if n < 0 {
            return Err(Error::last("poll"));
        }
        Ok(n > 0)
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonblocking_read_is_eagain() {
        let e = EventFd::new(true).unwrap();
        assert_eq!(e.read().unwrap_err().errno(), libc::EAGAIN);
        assert!(!e.wait_readable(0).unwrap());
    }
}
