// SPDX-License-Identifier: GPL-2.0

//! `/dev/rsio`: the misc character device through which user space reaches
//! every rsio feature, and its ioctl dispatch.

use crate::ioctl::Arg;
use crate::system;
use crate::uapi::{self, RsioVersion};
use kernel::fs::File;
use kernel::miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration};
use kernel::prelude::*;

/// The registration of `/dev/rsio`; deregisters on drop.
pub(crate) type Registration = MiscDeviceRegistration<RsioFile>;

/// Registers `/dev/rsio`.
pub(crate) fn register() -> impl PinInit<Registration, Error> {
    MiscDeviceRegistration::register(MiscDeviceOptions { name: c"rsio" })
}

/// Per-open-file state of `/dev/rsio`. Empty for now: later features keep
/// what a file owns here (segments, borrowed devices), so closing the file
/// releases them.
pub(crate) struct RsioFile;

#[vtable]
impl MiscDevice for RsioFile {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        Ok(KBox::new(RsioFile, GFP_KERNEL)?)
    }

    fn ioctl(_me: &RsioFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        if uapi::ioc_type(cmd) != uapi::RSIO_IOC_MAGIC {
            return Err(ENOTTY);
        }
        // Dispatch on the number and direction only: the size bits vary with
        // the caller's struct version and are checked by `Arg::read`.
        let dir = uapi::ioc_dir(cmd);
        match (uapi::ioc_nr(cmd), dir) {
            (n, d) if n == uapi::ioc_nr(uapi::RSIO_IOC_VERSION) && d == uapi::ioc_dir(uapi::RSIO_IOC_VERSION) => {
                version(cmd, arg)
            }
            _ => Err(ENOTTY),
        }
    }

    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(me: &RsioFile, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        // Every rsio struct has the same layout for 32- and 64-bit callers.
        Self::ioctl(me, file, cmd, arg)
    }
}

/// `RSIO_IOC_VERSION`: reports the ABI, release and features.
fn version(cmd: u32, arg: usize) -> Result<isize> {
    let mut a = Arg::<RsioVersion>::read(cmd, arg, RsioVersion::LAYOUT)?;
    let v = &mut a.value;
    v.abi_major = uapi::RSIO_ABI_MAJOR;
    v.abi_minor = uapi::RSIO_ABI_MINOR;
    v.features = uapi::RSIO_FEATURE_FABRIC;
    uapi::copy_cstr(&mut v.release, uapi::RSIO_RELEASE.as_bytes());
    uapi::copy_cstr(&mut v.kernel_release, system::kernel_release().to_bytes());
    a.write_back()?;
    Ok(0)
}
