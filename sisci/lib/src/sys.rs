// SPDX-License-Identifier: GPL-2.0

//! The open `/dev/sisci` file and the one place that calls `ioctl(2)`.

use crate::error::{Error, Result};
use rsio_uapi::sisci::{SisciHandle, SISCI_INFINITE};
use rsio_uapi::Request;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

/// The shared open file: every object keeps it alive, so handles can be
/// freed on drop even after the [`crate::Sisci`] that made them is gone.
pub(crate) type Fd = Arc<OwnedFd>;

/// Issues `cmd` with `arg` (an ABI struct whose size the ioctl number
/// encodes) on `fd`. `op` names the operation in the error.
pub(crate) fn ioctl<T>(fd: &OwnedFd, cmd: u32, arg: &mut T, op: &'static str) -> Result<()> {
    // SAFETY: `arg` is a live, exclusively borrowed `repr(C)` ABI struct of exactly the size encoded in `cmd`; the kernel reads and writes only that many bytes, and any user pointers inside it were set up by the caller to point at buffers that outlive this call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as _, arg as *mut T) };
    if rc < 0 {
        Err(Error::last(op))
    } else {
        Ok(())
    }
}

/// Issues one of the ioctls taking a [`SisciHandle`].
pub(crate) fn ioctl_handle(
    fd: &OwnedFd,
    cmd: u32,
    handle: u32,
    flags: u32,
    value: u32,
    op: &'static str,
) -> Result<SisciHandle> {
    let mut a = SisciHandle::request();
    a.header.flags = flags;
    a.handle = handle;
    a.value = value;
    ioctl(fd, cmd, &mut a, op)?;
    Ok(a)
}

/// A timeout as the ABI's milliseconds: `None` waits forever.
pub fn timeout_ms(t: Option<Duration>) -> u32 {
    match t {
        None => SISCI_INFINITE,
        Some(d) => d.as_millis().min(u128::from(SISCI_INFINITE - 1)) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(timeout_ms(None), SISCI_INFINITE);
        assert_eq!(timeout_ms(Some(Duration::from_millis(1500))), 1500);
        assert_eq!(
            timeout_ms(Some(Duration::from_secs(u64::MAX))),
            SISCI_INFINITE - 1
        );
    }
}
