// SPDX-License-Identifier: GPL-2.0

//! The raw `struct device` behind the kernel crate's [`Device`], for the
//! layer's C calls (the kernel crate keeps `Device::as_raw` private), and
//! whether a device is in use by this node.

use crate::bindings;
use kernel::{
    device::{Device, DeviceContext},
    prelude::*,
    str::{CStrExt, CString},
};

/// The `struct device` behind `dev`; valid as long as the borrow is.
pub(crate) fn raw<Ctx: DeviceContext>(dev: &Device<Ctx>) -> *mut kernel::bindings::device {
    // CAST: `Device<Ctx>` is `#[repr(transparent)]` over `Opaque<bindings::device>` (and a
    // zero-sized marker), itself `#[repr(transparent)]`: the same address. The C side may mutate
    // through it, which `Opaque` permits.
    core::ptr::from_ref(dev).cast_mut().cast()
}

/// State of a walk of [`first_user`].
struct UserWalk {
    depth: u32,
    found: Option<CString>,
}

/// The first class device under `dev` (its children, theirs, ... up to 8
/// levels: disks sit a few levels down under SCSI hosts and USB) that is
/// in use: a block device open or mounted, a network interface up. The
/// caller holds `dev`'s device lock.
pub(crate) fn first_user(dev: &Device) -> Option<CString> {
    let mut walk = UserWalk {
        depth: 0,
        found: None,
    };
    // SAFETY: `dev` is live; `in_use_child` matches the callback type and gets `walk`, which outlives the call.
    unsafe {
        kernel::bindings::device_for_each_child(
            raw(dev),
            core::ptr::from_mut(&mut walk).cast(),
            Some(in_use_child),
        )
    };
    walk.found
}

/// `device_for_each_child` callback of [`first_user`]: non-zero stops.
///
/// # Safety
///
/// `child` is a live device (the driver core holds it during the call) and
/// `data` the `UserWalk` of the walk in progress.
unsafe extern "C" fn in_use_child(
    child: *mut kernel::bindings::device,
    data: *mut core::ffi::c_void,
) -> core::ffi::c_int {
    // SAFETY: `data` is the walk's state (requirement), used by this thread only.
    let walk = unsafe { &mut *data.cast::<UserWalk>() };
    // SAFETY: `child` is live for the call (requirement).
    let d: &Device = unsafe { Device::from_raw(child) };
    // SAFETY: A live device's class pointer is null or a registered class, whose name is a static C string.
    let class = unsafe {
        let c = (*child).class;
        if c.is_null() || (*c).name.is_null() {
            None
        } else {
            Some(CStr::from_char_ptr((*c).name))
        }
    };
    let why = match class.map(|c| c.to_bytes()) {
        // SAFETY: A "block" class device is embedded in a `block_device`.
        Some(b"block") if unsafe { bindings::rsio_helper_block_device_busy(child) } => {
            Some("block device")
        }
        // SAFETY: A "net" class device is embedded in a `net_device`.
        Some(b"net") if unsafe { bindings::rsio_helper_net_device_up(child) } => {
            Some("network interface")
        }
        _ => None,
    };
    if let Some(what) = why {
        let state = if what == "block device" {
            "is open or mounted"
        } else {
            "is up"
        };
        walk.found = CString::try_from_fmt(fmt!("{} {} {}", what, d.name(), state)).ok();
        return 1;
    }
    if walk.depth >= 8 {
        return 0;
    }
    walk.depth += 1;
    // SAFETY: As in `first_user`, one level down.
    let r = unsafe { kernel::bindings::device_for_each_child(child, data, Some(in_use_child)) };
    walk.depth -= 1;
    r
}
