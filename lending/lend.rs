// SPDX-License-Identifier: GPL-2.0

//! rsio device lending (`rsio_lend`). The lender's side: `/dev/rsio_lend`
//! claims a local PCI function for a stub driver (away from its native
//! driver), resets it, names it on the fabric (`node << 16 | index`) and
//! advertises it to the peers; a peer borrowing it gets a lease (windows
//! onto its config space and BARs, an interrupt slot: serve.rs); it is
//! given back on `UNLEND` and on unload (claim.rs, reset.rs). The
//! borrower's side (borrow.rs, bridge.rs): the peer's function appears on
//! this node's PCI bus under a virtual host bridge and this node's driver
//! binds to it. It lists what
//! this node lends and what the peers advertise. ABI: `uapi/src/lend.rs`;
//! design: docs/lending.md.
//!
//! A feature module of the fabric core (`rsio_fabric`): its messages are
//! the core's events (proto.rs), a peer's entries go with the peer.

mod borrow;
mod bridge;
mod chassis;
mod claim;
mod file;
mod hotadd;
mod proto;
mod reset;
mod serve;
mod state;
pub mod user;

// The ABI sources are shared with user space, which uses all of them.
#[path = "../uapi/src/abi.rs"]
#[allow(dead_code, unreachable_pub)]
mod abi;
#[path = "../uapi/src/lend.rs"]
#[allow(dead_code, unreachable_pub)]
mod lend_abi;
use abi as uapi;
// Argument copying and validation, shared with the fabric core.
#[path = "../drivers/fabric/ioctl.rs"]
#[allow(dead_code)]
mod ioctl;

use kernel::prelude::*;
use kernel::sync::Arc;

module! {
    type: LendModule,
    name: "rsio_lend",
    authors: ["rsio developers"],
    description: "rsio device lending: lender and borrower (/dev/rsio_lend)",
    license: "GPL",
}

/// Marker-trait impls that let the ABI structs cross the user boundary by
/// value (the ABI sources must not depend on the `kernel` crate).
mod uapi_impls {
    use crate::lend_abi::{LendBdf, LendBorrow, LendChassisEntry, LendDevEntry, LendP2p};
    use crate::uapi::{ArgHeader, RsioList};

    rsio_kernel::abi_struct!(
        LendBdf,
        LendBorrow,
        LendChassisEntry,
        LendDevEntry,
        LendP2p,
        ArgHeader,
        RsioList
    );
}

/// `rsio_lend` as a feature of the fabric core.
struct LendFeature;

impl rsio_fabric::api::Feature for LendFeature {
    fn name(&self) -> &'static CStr {
        c"rsio_lend"
    }

    fn message_types(&self) -> (u16, u16) {
        (proto::MT_FIRST, proto::MT_COUNT)
    }

    fn peer_up(&self, node: u32) {
        state::peer_up(node);
    }

    fn peer_down(&self, node: u32) {
        user::lender_gone(node, None);
        borrow::lender_down(node);
        state::peer_down(node);
    }

    fn request(&self, node: u32, mtype: u16, payload: &[u8], reply: &mut [u8]) -> Result<usize> {
        match mtype {
            proto::BORROW => state::borrow_request(node, payload, reply),
            proto::USER_BORROW => state::user_borrow_request(node, payload, reply),
            proto::USER_MCAST => state::user_mcast_request(node, payload, reply),
            proto::RETURN => state::return_request(node, payload),
            proto::P2P_EXPOSE => state::p2p_expose_request(node, payload, reply),
            proto::P2P_MAP => state::p2p_map_request(node, payload, reply),
            proto::P2P_UNMAP => state::p2p_undo(node, mtype, payload).map(|()| 0),
            _ => Err(EOPNOTSUPP),
        }
    }

    fn event(&self, node: u32, mtype: u16, payload: &[u8]) {
        let r = match mtype {
            // A borrow whose request was interrupted or timed out.
            proto::RETURN => state::return_request(node, payload).map(|_| ()),
            proto::REVOKED => proto::decode_fdid(node, payload).and_then(|fdid| {
                user::lender_gone(node, Some(fdid));
                borrow::revoked(node, payload)
            }),
            _ => state::event(node, mtype, payload),
        };
        if let Err(e) = r {
            pr_debug!("event {:#x} from node {} dropped: {:?}\n", mtype, node, e);
        }
    }
}

/// The adapter's error reports: a read of a borrowed device that the
/// fabric failed (the driver got all-ones) starts the device's PCI error
/// recovery (bridge.rs), so the driver finds out as Linux drivers expect.
struct FailedReads {
    /// The bus address of the adapter's translated window (`ERR_ADDR` is
    /// an offset into it).
    bar2: u64,
}

impl rsio_ntb::adapter::ErrorHook for FailedReads {
    fn error(&self, r: &rsio_ntb::adapter::ErrorReport) {
        let Some(what) = r.failed_read() else {
            return;
        };
        if let Some(addr) = self.bar2.checked_add(r.addr) {
            bridge::fabric_read_failed(addr, what);
        }
    }
}

/// The lent devices and the stub driver: on drop every device goes back
/// to its native driver, then the stub driver goes.
struct Lender {
    _errors: Option<rsio_ntb::adapter::ErrorWatch>,
}

impl Drop for Lender {
    fn drop(&mut self) {
        borrow::return_all();
        user::release_all();
        hotadd::stop_watch();
        state::unlend_all();
        claim::unregister_stub();
        bridge::stop_recoverer();
    }
}

/// The loaded module. Fields drop in order: the device (no file is open:
/// each holds the module), then the feature (the core stops calling us),
/// then the lent devices and the stub driver.
#[pin_data]
struct LendModule {
    #[pin]
    misc: file::Registration,
    _feature: rsio_fabric::api::FeatureRegistration,
    _lender: Lender,
}

fn setup(module: &'static ThisModule) -> Result<(Lender, rsio_fabric::api::FeatureRegistration)> {
    let node = rsio_fabric::api::local_node().inspect_err(|_| {
        pr_err!("the fabric core has no transport (is rsio_fabric loaded on a fabric?)\n");
    })?;
    if node > 0xffff {
        return Err(EINVAL);
    }
    // Leases and borrows need the rsio adapter (lending alone does not).
    let adapter = rsio_ntb::adapter::adapters()
        .ok()
        .and_then(|a| a.into_iter().next());
    if adapter.is_none() {
        pr_warn!("no rsio adapter: devices can be lent but not borrowed\n");
    }
    let errors = match &adapter {
        Some(a) => {
            let hook: Arc<dyn rsio_ntb::adapter::ErrorHook> = Arc::new(
                FailedReads {
                    bar2: a.info().bar2.0,
                },
                GFP_KERNEL,
            )?;
            Some(rsio_ntb::adapter::ErrorWatch::register(a, hook)?)
        }
        None => None,
    };
    state::init(node, adapter);
    // Undone by its drop, also when a step below fails.
    let lender = Lender { _errors: errors };
    claim::register_stub(module)?;
    bridge::start_recoverer()?;
    let f: Arc<dyn rsio_fabric::api::Feature> = Arc::new(LendFeature, GFP_KERNEL)?;
    let feature = rsio_fabric::api::register_feature(f)?;
    pr_info!("node {}: ready to lend\n", node);
    Ok((lender, feature))
}

impl kernel::InPlaceModule for LendModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let (lender, feature) = match setup(module) {
            Ok((l, f)) => (Ok(l), Ok(f)),
            Err(e) => (Err(e), Err(e)),
        };
        try_pin_init!(Self {
            _lender: lender?,
            _feature: feature?,
            misc <- file::register(),
        })
    }
}
