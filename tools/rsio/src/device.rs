//! The rsio character device and its ioctls, with errors that say what went
//! wrong in the caller's terms.

use anyhow::{bail, Context, Result};
use rsio_uapi as uapi;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;

/// An open `/dev/rsio`.
pub struct Device {
    file: File,
    path: String,
}

impl Device {
    /// Opens the device read-write.
    pub fn open(path: &str) -> Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path).map_err(|e| {
            let hint = if e.kind() == io::ErrorKind::NotFound {
                " (is the rsio_fabric module loaded?)"
            } else {
                ""
            };
            anyhow::anyhow!("cannot open {path}: {e}{hint}")
        })?;
        Ok(Self { file, path: path.to_string() })
    }

    /// Issues `cmd` with `arg` as its argument struct.
    ///
    /// # Safety
    ///
    /// `cmd` must be an ioctl whose argument is a `T` read and written in place.
    unsafe fn ioctl<T>(&self, cmd: u32, name: &str, arg: &mut T) -> Result<()> {
        // SAFETY: The fd is open; `arg` is a valid, exclusive `T` of the size
        // the caller promises `cmd` encodes.
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), cmd as libc::c_ulong, arg as *mut T) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(e).with_context(|| format!("{name} on {} failed", self.path));
        }
        Ok(())
    }

    /// `RSIO_IOC_VERSION`, refusing a kernel of another ABI major version.
    pub fn version(&self) -> Result<uapi::RsioVersion> {
        let mut v = uapi::RsioVersion::request();
        // SAFETY: RSIO_IOC_VERSION takes an `RsioVersion` in and out.
        unsafe { self.ioctl(uapi::RSIO_IOC_VERSION, "RSIO_IOC_VERSION", &mut v)? };
        if v.abi_major != uapi::RSIO_ABI_MAJOR {
            bail!(
                "the loaded modules speak ABI {}.{}, this tool ABI {}.{}: rebuild one of them",
                v.abi_major,
                v.abi_minor,
                uapi::RSIO_ABI_MAJOR,
                uapi::RSIO_ABI_MINOR
            );
        }
        Ok(v)
    }
}
