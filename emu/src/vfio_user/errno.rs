//! [`Errno`]: the UNIX error number an error reply carries.

use std::fmt;

/// A UNIX error number, as carried in the `error` field of a vfio-user
/// error reply.
///
/// Device callbacks return it to fail an access; the server then sends an
/// error reply with this number instead of the normal reply.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// Operation not permitted.
    pub const EPERM: Errno = Errno(libc::EPERM);
    /// No such entry (e.g. no DMA mapping at that address).
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    /// I/O error.
    pub const EIO: Errno = Errno(libc::EIO);
    /// Argument list too long: a message or transfer above the negotiated
    /// limits.
    pub const E2BIG: Errno = Errno(libc::E2BIG);
    /// Bad address: an access outside what is mapped.
    pub const EFAULT: Errno = Errno(libc::EFAULT);
    /// Device or resource busy.
    pub const EBUSY: Errno = Errno(libc::EBUSY);
    /// Already exists (e.g. a DMA mapping overlapping another one).
    pub const EEXIST: Errno = Errno(libc::EEXIST);
    /// Invalid argument: the catch-all for malformed requests.
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    /// Out of space (e.g. too many DMA mappings).
    pub const ENOSPC: Errno = Errno(libc::ENOSPC);
    /// The command is unknown to this server (ENOSYS).
    pub const ENOSYS: Errno = Errno(libc::ENOSYS);
    /// The command is known but not supported by this server or device.
    pub const ENOTSUP: Errno = Errno(libc::ENOTSUP);

    /// The raw number.
    pub fn raw(self) -> i32 {
        self.0
    }

    /// Converts an I/O error, falling back to `EIO` when it carries no
    /// OS error number.
    pub fn from_io(error: &std::io::Error) -> Errno {
        Errno(error.raw_os_error().unwrap_or(libc::EIO))
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Errno({}: {})",
            self.0,
            std::io::Error::from_raw_os_error(self.0)
        )
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (errno {})",
            std::io::Error::from_raw_os_error(self.0),
            self.0
        )
    }
}

impl std::error::Error for Errno {}

impl From<Errno> for std::io::Error {
    fn from(errno: Errno) -> Self {
        std::io::Error::from_raw_os_error(errno.0)
    }
}
