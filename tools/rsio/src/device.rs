//! The rsio character device and its ioctls, with errors that say what went
//! wrong in the caller's terms.

use anyhow::{bail, Result};
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
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| {
                let hint = if e.kind() == io::ErrorKind::NotFound {
                    " (is the rsio_fabric module loaded?)"
                } else {
                    ""
                };
                anyhow::anyhow!("cannot open {path}: {}{hint}", describe(&e))
            })?;
        Ok(Self {
            file,
            path: path.to_string(),
        })
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
            bail!("{name} on {} failed: {}", self.path, describe(&e));
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

/// An OS error as "Message (ENAME)", without std's "(os error N)" suffix.
pub fn describe(e: &io::Error) -> String {
    let Some(code) = e.raw_os_error() else {
        return e.to_string();
    };
    let text = e.to_string();
    let message = text.split(" (os error").next().unwrap_or(&text);
    let name = match code {
        libc::ENOENT => "ENOENT",
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::ENOTTY => "ENOTTY",
        libc::EINVAL => "EINVAL",
        libc::E2BIG => "E2BIG",
        libc::EFAULT => "EFAULT",
        libc::ENODEV => "ENODEV",
        libc::ENXIO => "ENXIO",
        libc::EBUSY => "EBUSY",
        _ => return format!("{message} (errno {code})"),
    };
    format!("{message} ({name})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_are_described_by_message_and_errno_name() {
        let e = io::Error::from_raw_os_error(libc::ENOTTY);
        assert_eq!(describe(&e), "Inappropriate ioctl for device (ENOTTY)");
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(describe(&e), "No such file or directory (ENOENT)");
    }

    #[test]
    fn opening_a_missing_device_says_which_module_to_load() {
        let err = Device::open("/nonexistent/rsio")
            .err()
            .expect("open must fail");
        assert_eq!(
            err.to_string(),
            "cannot open /nonexistent/rsio: No such file or directory (ENOENT) (is the rsio_fabric module loaded?)"
        );
    }
}
