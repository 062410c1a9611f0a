// SPDX-License-Identifier: GPL-2.0

//! rsio fabric core (`rsio_fabric`).
//!
//! The one subsystem every rsio feature module shares. For now it owns the
//! `/dev/rsio` character device and answers the version ioctl; cluster
//! membership, the window allocator and the message protocol grow here (see
//! docs/ARCHITECTURE.md).

mod bindings;
mod chardev;
mod ioctl;
mod system;
mod uapi_impls;

// The ABI source is shared with user space, which uses all of it; the kernel
// uses a subset and sees its `pub` items as crate-internal.
#[path = "../../uapi/src/abi.rs"]
#[allow(dead_code, unreachable_pub)]
mod uapi;

use kernel::prelude::*;

module! {
    type: FabricModule,
    name: "rsio_fabric",
    authors: ["rsio developers"],
    description: "rsio fabric core: cluster, windows, and the /dev/rsio ioctl ABI",
    license: "GPL",
}

/// The loaded module: owns the registration of `/dev/rsio`.
///
/// Dropping it (module unload) deregisters the device; the misc core keeps
/// the module pinned while any file is open, so no open file outlives it.
#[pin_data]
struct FabricModule {
    #[pin]
    chardev: chardev::Registration,
}

impl kernel::InPlaceModule for FabricModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        pr_info!(
            "rsio fabric core {} (ABI {}.{}) on kernel {}\n",
            uapi::RSIO_RELEASE,
            uapi::RSIO_ABI_MAJOR,
            uapi::RSIO_ABI_MINOR,
            system::kernel_release()
        );
        // A call into rsio_ntb's Rust API (docs/build.md, "Cross-module Rust").
        pr_info!(
            "rsio_ntb has {} adapter(s) bound\n",
            rsio_ntb::adapter::adapters().map_or(0, |a| a.len())
        );
        try_pin_init!(Self {
            chardev <- chardev::register(),
        })
    }
}
