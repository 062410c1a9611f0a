// SPDX-License-Identifier: GPL-2.0

//! rsio SISCI core (`rsio_sisci`): shared segments, remote interrupts, DMA
//! queues and multicast for cluster programs and user-space drivers,
//! served to user space through `/dev/sisci` (ABI: `uapi/src/sisci.rs`;
//! library: `sisci/lib`, `sisci/capi`; design: docs/sisci.md).
//!
//! A feature module of the fabric core (`rsio_fabric`): it talks to its
//! peers through the core's messages and learns of their deaths from it;
//! it takes memory, DMA channels, multicast groups and translated-window
//! slots from the rsio adapter (`rsio_ntb`) and maps remote segments
//! through the adapter's direct window.

mod conn_state;
mod devices;
mod dma;
mod file;
mod handlers;
mod interrupts;
mod mappers;
mod memory;
mod mmap;
mod net;
mod proto;
mod queue;
mod segments;
mod state;
mod uapi_impls;

// The ABI sources are shared with user space, which uses all of them.
#[path = "../uapi/src/abi.rs"]
#[allow(dead_code, unreachable_pub)]
mod abi;
#[path = "../uapi/src/sisci.rs"]
#[allow(dead_code, unreachable_pub)]
mod sisci_abi;
use abi as uapi;
// Argument copying and validation, shared with the fabric core.
#[path = "../drivers/fabric/ioctl.rs"]
mod ioctl;

use kernel::prelude::*;
use kernel::sync::Arc;
use state::Shared;

module! {
    type: SisciModule,
    name: "rsio_sisci",
    authors: ["rsio developers"],
    description: "rsio SISCI core: segments, remote interrupts, DMA and multicast (/dev/sisci)",
    license: "GPL",
}

/// The module's global state, for the device's `open` and the core's
/// callbacks.
mod registry {
    use super::Shared;
    use kernel::sync::Arc;

    rsio_kernel::global_lock! {
        /// The state of the running module (`None` before and after).
        static SHARED: Mutex<Option<Arc<Shared>>> = None;
    }

    pub(crate) fn set(s: Option<Arc<Shared>>) -> Option<Arc<Shared>> {
        core::mem::replace(&mut *SHARED.lock(), s)
    }

    pub(crate) fn get() -> Option<Arc<Shared>> {
        SHARED.lock().clone()
    }
}

/// The loaded module. Fields drop in order: the device (no file is open:
/// each holds the module), then the feature (the core stops calling us),
/// then the state.
#[pin_data(PinnedDrop)]
struct SisciModule {
    #[pin]
    misc: file::Registration,
    _feature: rsio_fabric::api::FeatureRegistration,
}

#[pinned_drop]
impl PinnedDrop for SisciModule {
    fn drop(self: Pin<&mut Self>) {
        drop(registry::set(None));
    }
}

fn setup() -> Result<Arc<Shared>> {
    let adapter = rsio_ntb::adapter::adapters()?
        .into_iter()
        .next()
        .ok_or_else(|| {
            pr_err!("no rsio adapter is bound\n");
            ENODEV
        })?;
    let node = rsio_fabric::api::local_node().inspect_err(|_| {
        pr_err!("the fabric core has no transport (is rsio_fabric on the adapter?)\n");
    })?;
    let mut chans = KVec::new();
    for c in 0..adapter.info().dma_channels {
        if let Ok(ch) = rsio_ntb::dma::DmaChannel::claim(&adapter, c) {
            chans.push(ch, GFP_KERNEL)?;
        }
    }
    let sh = Arc::pin_init(
        Shared::new(adapter, node, handlers::HANDLERS, chans),
        GFP_KERNEL,
    )?;
    let direct = if sh.info.caps.direct_window() {
        "yes"
    } else {
        "no"
    };
    pr_info!(
        "node {}: {} DMA channel(s), {} multicast group(s), direct window {}\n",
        node,
        sh.dma_channels,
        sh.info.mc_groups,
        direct
    );
    Ok(sh)
}

impl kernel::InPlaceModule for SisciModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let feature = setup().and_then(|sh| {
            registry::set(Some(sh));
            let f: Arc<dyn rsio_fabric::api::Feature> =
                Arc::new(handlers::SisciFeature, GFP_KERNEL)?;
            rsio_fabric::api::register_feature(f)
        });
        try_pin_init!(Self {
            _feature: feature?,
            misc <- file::register(),
        })
    }
}
