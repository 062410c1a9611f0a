// SPDX-License-Identifier: GPL-2.0

//! The error type of every libsisci call: the operation and its errno.

use std::fmt;

/// What failed and why: the operation's name and a positive errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    op: &'static str,
    errno: i32,
    entry: Option<u32>,
}

/// `Result` with libsisci's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error of `op` with the positive errno `errno`.
    pub const fn new(op: &'static str, errno: i32) -> Self {
        Error {
            op,
            errno,
            entry: None,
        }
    }

    /// The error of `op` from the calling thread's `errno`.
    pub fn last(op: &'static str) -> Self {
        let errno = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        Error::new(op, errno)
    }

    /// A failed DMA transfer: `entry` is the first entry that failed.
    pub const fn dma(errno: i32, entry: u32) -> Self {
        Error {
            op: "DMA transfer",
            errno,
            entry: Some(entry),
        }
    }

    /// The operation that failed (e.g. `"SEG_CONNECT"`).
    pub const fn op(&self) -> &'static str {
        self.op
    }

    /// The positive errno.
    pub const fn errno(&self) -> i32 {
        self.errno
    }

    /// DMA transfers: the first entry that failed.
    pub const fn failed_entry(&self) -> Option<u32> {
        self.entry
    }

    /// The call timed out (`ETIMEDOUT`).
    pub const fn is_timeout(&self) -> bool {
        self.errno == libc::ETIMEDOUT
    }

    /// A non-blocking call found nothing (`EAGAIN`).
    pub const fn would_block(&self) -> bool {
        self.errno == libc::EAGAIN
    }

    /// The error as a `std::io::Error` (loses the operation's name).
    pub fn to_io(&self) -> std::io::Error {
        std::io::Error::from_raw_os_error(self.errno)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.op, self.to_io())?;
        if let Some(e) = self.entry {
            write!(f, " (entry {e})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        std::io::Error::new(e.to_io().kind(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_op_and_errno() {
        let e = Error::new("SEG_CONNECT", libc::ECONNREFUSED);
        assert!(e.to_string().starts_with("SEG_CONNECT: "));
        assert_eq!(e.errno(), libc::ECONNREFUSED);
        assert!(!e.is_timeout());
        assert!(Error::new("x", libc::ETIMEDOUT).is_timeout());
        let d = Error::dma(libc::EIO, 3);
        assert_eq!(d.failed_entry(), Some(3));
        assert!(d.to_string().ends_with("(entry 3)"));
    }
}
