// SPDX-License-Identifier: GPL-2.0

//! `/dev/rsio`: the misc character device through which user space reaches
//! every rsio feature, and its ioctl dispatch.

use crate::features;
use crate::ioctl::Arg;
use crate::ioctl_fabric;
use crate::registry;
use crate::uapi::{self, RsioVersion};
use crate::windows::Owner;
use kernel::fs::File;
use kernel::miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration};
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};
use rsio_kernel::system;

/// The registration of `/dev/rsio`; deregisters on drop.
pub(crate) type Registration = MiscDeviceRegistration<RsioFile>;

/// Registers `/dev/rsio`.
pub(crate) fn register() -> impl PinInit<Registration, Error> {
    MiscDeviceRegistration::register(MiscDeviceOptions { name: c"rsio" })
}

/// Per-open-file state of `/dev/rsio`. What the file creates (grants,
/// mappings) is kept by the core under the file's tag (unique per open)
/// and released when the file is: on close, crash or
/// kill alike.
pub(crate) struct RsioFile {
    tag: Owner,
    /// The feature modules whose ioctls this file used.
    uses: Pin<KBox<features::FileUses>>,
}

/// The next file's tag (0 is the kernel's, `windows::KERNEL`).
static NEXT_TAG: Atomic<usize> = Atomic::new(1);

impl RsioFile {
    fn tag(&self) -> Owner {
        self.tag
    }
}

impl Drop for RsioFile {
    fn drop(&mut self) {
        features::file_closed(&self.uses, self.tag as u64);
        if let Ok(c) = registry::cluster() {
            let mine = c.windows.lock().take_owner(self.tag());
            // Released outside the table's lock.
            drop(mine);
        }
    }
}

#[vtable]
impl MiscDevice for RsioFile {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        let tag = NEXT_TAG.fetch_add(1, Relaxed);
        let uses = KBox::pin_init(
            kernel::new_mutex!(KVec::new(), "rsio_fabric::RsioFile::uses"),
            GFP_KERNEL,
        )?;
        Ok(KBox::new(RsioFile { tag, uses }, GFP_KERNEL)?)
    }

    fn ioctl(me: &RsioFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        if uapi::ioc_type(cmd) != uapi::RSIO_IOC_MAGIC
            || uapi::ioc_dir(cmd) != uapi::IOC_READ | uapi::IOC_WRITE
        {
            return Err(ENOTTY);
        }
        // Dispatch on the number only: the size bits vary with the caller's
        // struct version and are checked by `Arg::read`.
        let owner = me.tag();
        let nr = |c: u32| uapi::ioc_nr(c);
        match uapi::ioc_nr(cmd) {
            n if n == nr(uapi::RSIO_IOC_VERSION) => version(cmd, arg),
            n if n == nr(uapi::RSIO_IOC_STATUS) => ioctl_fabric::status(cmd, arg),
            n if n == nr(uapi::RSIO_IOC_NODES) => ioctl_fabric::nodes(cmd, arg),
            n if n == nr(uapi::RSIO_IOC_WINDOWS) => ioctl_fabric::windows(cmd, arg),
            n if n == nr(uapi::RSIO_IOC_PING) => ioctl_fabric::ping(cmd, arg),
            n if n == nr(uapi::RSIO_IOC_GRANT) => ioctl_fabric::grant(owner, cmd, arg),
            n if n == nr(uapi::RSIO_IOC_REVOKE) => ioctl_fabric::revoke(owner, cmd, arg),
            n if n == nr(uapi::RSIO_IOC_MAP) => ioctl_fabric::map(owner, cmd, arg),
            n if n == nr(uapi::RSIO_IOC_UNMAP) => ioctl_fabric::unmap(owner, cmd, arg),
            n if n == nr(uapi::RSIO_IOC_WINDOW_IO) => ioctl_fabric::window_io(owner, cmd, arg),
            n if (features::FEATURE_IOCTL_FIRST..features::FEATURE_IOCTL_END).contains(&n) => {
                features::ioctl(&me.uses, owner as u64, cmd, arg)
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
