// SPDX-License-Identifier: GPL-2.0

//! rsio fabric core (`rsio_fabric`).
//!
//! The one subsystem every rsio feature module shares (docs/fabric.md):
//! cluster membership, messages between the cores of the nodes, windows
//! (grants and mappings), the `/dev/rsio` ioctl ABI, and a Rust API for the
//! feature modules ([`api`]). It runs on an rsio adapter as rsio_ntb's
//! fabric client (`adapter_transport`).

mod adapter_transport;
pub mod api;
mod chardev;
mod cluster;
mod debugfs;
mod features;
mod ioctl;
mod ioctl_fabric;
mod logic;
mod ntb_hooks;
mod ntb_transport;
mod registry;
mod transport;
mod uapi_impls;
mod windows;

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
    params: {
        generic_ntb: bool {
            default: false,
            description: "Run over the generic NTB API (the first ntb_dev, e.g. rsio_ntb's NTB device) instead of the rsio adapter's fabric interface",
        },
    },
}

/// The loaded module. Fields drop in order: the transport's client first
/// (its cluster stops, telling peers and features), then the device, then
/// debugfs.
#[pin_data]
struct FabricModule {
    client: Option<rsio_ntb::adapter::ClientRegistration>,
    ntb_client: Option<ntb_transport::NtbClientRegistration>,
    #[pin]
    chardev: chardev::Registration,
    #[pin]
    state_file: kernel::debugfs::File<debugfs::StateFile>,
    #[pin]
    trace_file: kernel::debugfs::File<debugfs::TraceFile>,
    #[pin]
    pause_file: kernel::debugfs::File<()>,
    _debugfs: kernel::debugfs::Dir,
}

impl kernel::InPlaceModule for FabricModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        pr_info!(
            "rsio fabric core {} (ABI {}.{}) on kernel {}\n",
            uapi::RSIO_RELEASE,
            uapi::RSIO_ABI_MAJOR,
            uapi::RSIO_ABI_MINOR,
            rsio_kernel::system::kernel_release()
        );
        pr_info!(
            "rsio_ntb has {} adapter(s) bound\n",
            rsio_ntb::adapter::adapters().map_or(0, |a| a.len())
        );
        let dir = kernel::debugfs::Dir::new(c"rsio_fabric");
        let generic = module_parameters::generic_ntb.value();
        try_pin_init!(Self {
            client: if generic { None } else { register_adapter_client() },
            ntb_client: if generic { register_ntb_client(module) } else { None },
            chardev <- chardev::register(),
            state_file <- dir.read_only_file(c"state", debugfs::StateFile),
            trace_file <- dir.read_only_file(c"trace", debugfs::TraceFile),
            pause_file <- dir.write_callback_file(c"pause_ms", (), &debugfs::write_pause),
            _debugfs: dir,
        })
    }
}

/// Becomes rsio_ntb's fabric client: the core starts on the first adapter
/// (now or when one is bound). Without it (another client holds rsio_ntb)
/// the core stays idle; the device still answers.
fn register_adapter_client() -> Option<rsio_ntb::adapter::ClientRegistration> {
    let client = match adapter_transport::AdapterClient::new() {
        Ok(c) => c,
        Err(e) => {
            pr_err!("cannot allocate the adapter client: {:?}\n", e);
            return None;
        }
    };
    match rsio_ntb::adapter::register_client(client) {
        Ok(r) => Some(r),
        Err(e) => {
            pr_warn!(
                "rsio_ntb's fabric interface is taken ({:?}): no transport\n",
                e
            );
            None
        }
    }
}

/// Becomes an NTB client (module parameter `generic_ntb`): the core starts
/// on the first `ntb_dev` no other client holds.
fn register_ntb_client(
    module: &'static ThisModule,
) -> Option<ntb_transport::NtbClientRegistration> {
    pr_info!("generic NTB path: waiting for an ntb_dev\n");
    let hooks = match ntb_hooks::NtbHooks::new() {
        Ok(h) => h,
        Err(e) => {
            pr_err!("cannot allocate the NTB client: {:?}\n", e);
            return None;
        }
    };
    match ntb_transport::register(module, hooks) {
        Ok(r) => Some(r),
        Err(e) => {
            pr_err!("cannot register as an NTB client: {:?}\n", e);
            None
        }
    }
}
