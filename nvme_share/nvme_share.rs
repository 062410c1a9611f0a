// SPDX-License-Identifier: GPL-2.0

//! rsio NVMe sharing (`rsio_nvme_share`): one NVMe controller, no SR-IOV,
//! used by several nodes at once, each through its own I/O queues and
//! block devices. The **manager** (manager.rs, ctrl.rs) takes the
//! controller from the nvme driver, owns its admin queue and serves the
//! clients' requests: queue pairs, namespaces, interrupt vectors. The
//! **client** (client.rs, queue.rs, blk.rs), on any node including the
//! manager's, keeps its queues in its own RAM, rings the controller's
//! doorbells itself and gets completions as remote interrupts: no software
//! of the manager runs per I/O. ABI: `uapi/src/nvme_share.rs` (feature
//! ioctls of `/dev/rsio`); design: docs/nvme-share.md.

mod blk;
mod client;
mod ctrl;
mod debugfs;
mod ioctl;
mod logic;
mod manager;
mod queue;
mod worker;

// The ABI sources are shared with user space, which uses all of them.
#[path = "../uapi/src/abi.rs"]
#[allow(dead_code, unreachable_pub)]
mod abi;
#[path = "../uapi/src/nvme_share.rs"]
#[allow(dead_code, unreachable_pub)]
mod nvme_abi;
use abi as uapi;
// Argument copying and validation, shared with the fabric core.
#[path = "../drivers/fabric/ioctl.rs"]
#[allow(dead_code)]
mod ioctl_arg;

use kernel::prelude::*;
use kernel::sync::Arc;
use logic::proto;

module! {
    type: NvmeShareModule,
    name: "rsio_nvme_share",
    authors: ["rsio developers"],
    description: "rsio NVMe sharing without SR-IOV: manager and client",
    license: "GPL",
    params: {
        use_sgl: bool {
            default: true,
            description: "Give the controller SGLs where it offers them (else PRP lists)",
        },
    },
}

/// Marker-trait impls that let the ABI structs cross the user boundary by
/// value (the ABI sources must not depend on the `kernel` crate).
mod uapi_impls {
    use crate::nvme_abi::{NvmeAttach, NvmeClientEntry, NvmeCtrlEntry, NvmeNsEntry, NvmeShare};
    use crate::uapi::{ArgHeader, RsioList};

    rsio_kernel::abi_struct!(
        NvmeShare,
        NvmeAttach,
        NvmeCtrlEntry,
        NvmeNsEntry,
        NvmeClientEntry,
        ArgHeader,
        RsioList
    );
}

/// `rsio_nvme_share` as a feature of the fabric core.
struct NvmeFeature {
    module: &'static ThisModule,
}

impl rsio_fabric::api::Feature for NvmeFeature {
    fn name(&self) -> &'static CStr {
        c"rsio_nvme_share"
    }

    fn message_types(&self) -> (u16, u16) {
        (proto::MT_FIRST, proto::MT_COUNT)
    }

    fn peer_up(&self, node: u32) {
        manager::peer_up(node);
    }

    fn peer_down(&self, node: u32) {
        client::peer_down(node);
        manager::peer_down(node);
    }

    fn request(&self, node: u32, mtype: u16, payload: &[u8], reply: &mut [u8]) -> Result<usize> {
        manager::serve(node, mtype, payload, reply)
    }

    fn event(&self, node: u32, mtype: u16, payload: &[u8]) {
        let r = match mtype {
            // Events to the manager.
            proto::LIST_REQ => {
                manager::list_req(node);
                Ok(())
            }
            proto::CLIENT_HUNG => manager::hung(node, payload),
            // Events to the client.
            _ => client::event(node, mtype, payload),
        };
        if let Err(e) = r {
            pr_debug!("event {:#x} from node {} dropped: {:?}\n", mtype, node, e);
        }
    }

    fn ioctl_range(&self) -> (u32, u32) {
        (nvme_abi::NVME_IOC_FIRST_NR, nvme_abi::NVME_IOC_COUNT)
    }

    fn module(&self) -> Option<&'static ThisModule> {
        Some(self.module)
    }

    fn ioctl(&self, _file: u64, cmd: u32, arg: usize) -> Result<isize> {
        ioctl::ioctl(cmd, arg)
    }
}

/// The worker thread's work, run on it (worker.rs knows neither side).
fn dispatch(w: worker::Work) {
    use worker::Work;
    match w {
        Work::Reset(ctrl) => manager::reset(ctrl),
        Work::Recreate { node, ctrl, gen } => client::recreate(node, ctrl, gen),
        Work::Reattach { node, ctrl } => client::reattach(node, ctrl),
        Work::LocalEvent { mtype, ctrl, value } => client::local_event(mtype, ctrl, value),
        Work::Tick => {
            manager::check_all();
            client::check_all();
        }
    }
}

/// Everything shared and attached; undone on drop.
struct Sharing;

impl Drop for Sharing {
    fn drop(&mut self) {
        client::shutdown();
        manager::shutdown();
    }
}

/// The loaded module. Fields drop in order: the feature (the core stops
/// calling us; no file can be in an ioctl of ours: each holds the module),
/// the worker thread (a reset it runs ends first), then the attachments
/// and shared controllers, then debugfs.
#[pin_data]
struct NvmeShareModule {
    _feature: rsio_fabric::api::FeatureRegistration,
    _worker: worker::Thread,
    _sharing: Sharing,
    #[pin]
    state_file: kernel::debugfs::File<debugfs::StateFile>,
    #[pin]
    reset_file: kernel::debugfs::File<()>,
    _debugfs: kernel::debugfs::Dir,
}

fn setup(
    module: &'static ThisModule,
) -> Result<(
    rsio_fabric::api::FeatureRegistration,
    worker::Thread,
    Sharing,
)> {
    let node = rsio_fabric::api::local_node().inspect_err(|_| {
        pr_err!("the fabric core has no transport (is rsio_fabric loaded on a fabric?)\n");
    })?;
    if node > 0xffff {
        return Err(EINVAL);
    }
    // Undone by its drop, also when a step below fails.
    let sharing = Sharing;
    manager::register_stub(module)?;
    let thread = worker::start(dispatch)?;
    let f: Arc<dyn rsio_fabric::api::Feature> = Arc::new(NvmeFeature { module }, GFP_KERNEL)?;
    let feature = rsio_fabric::api::register_feature(f)?;
    pr_info!("node {}: NVMe sharing ready\n", node);
    Ok((feature, thread, sharing))
}

impl kernel::InPlaceModule for NvmeShareModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let (feature, thread, sharing) = match setup(module) {
            Ok((f, t, s)) => (Ok(f), Ok(t), Ok(s)),
            Err(e) => (Err(e), Err(e), Err(e)),
        };
        let dir = kernel::debugfs::Dir::new(c"rsio_nvme_share");
        try_pin_init!(Self {
            _sharing: sharing?,
            _worker: thread?,
            _feature: feature?,
            state_file <- dir.read_only_file(c"state", debugfs::StateFile),
            reset_file <- dir.write_callback_file(c"reset", (), &debugfs::write_reset),
            _debugfs: dir,
        })
    }
}
