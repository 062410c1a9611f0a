// SPDX-License-Identifier: GPL-2.0

//! The raw `struct device` behind the kernel crate's [`Device`], for the
//! layer's C calls (the kernel crate keeps `Device::as_raw` private).

use kernel::device::{Device, DeviceContext};

/// The `struct device` behind `dev`; valid as long as the borrow is.
pub(crate) fn raw<Ctx: DeviceContext>(dev: &Device<Ctx>) -> *mut kernel::bindings::device {
    // CAST: `Device<Ctx>` is `#[repr(transparent)]` over `Opaque<bindings::device>` (and a zero-sized marker), itself `#[repr(transparent)]`: the same address. The C side may mutate through it, which `Opaque` permits.
    core::ptr::from_ref(dev).cast_mut().cast()
}
