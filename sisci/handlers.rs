// SPDX-License-Identifier: GPL-2.0

//! `rsio_sisci` as a feature of the fabric core: the messages of its peers
//! (on the core's thread) and their comings and goings.

use crate::proto;
use crate::state::{Handlers, Shared};
use crate::{interrupts, registry, segments};
use kernel::prelude::*;
use kernel::sync::Arc;
use rsio_fabric::api::Feature;

/// The handlers, for the messages this node sends itself (`net.rs`).
pub(crate) const HANDLERS: Handlers = Handlers { request, event };

/// Handles request `mtype` from `node`.
pub(crate) fn request(
    sh: &Shared,
    node: u32,
    mtype: u16,
    payload: &[u8],
    reply: &mut [u8],
) -> Result<usize> {
    match mtype {
        proto::SEG_CONNECT => segments::on_connect(sh, node, payload, reply),
        proto::SEG_CHUNKS => segments::on_chunks(sh, node, payload, reply),
        proto::INTR_CONNECT => interrupts::on_connect(sh, node, payload),
        proto::INTR_DATA => interrupts::on_data(sh, node, payload),
        _ => Err(EOPNOTSUPP),
    }
}

/// Handles event `mtype` from `node` (a malformed one is dropped).
pub(crate) fn event(sh: &Shared, node: u32, mtype: u16, payload: &[u8]) {
    let r = match mtype {
        proto::SEG_DISCONNECT => segments::on_disconnect(sh, node, payload),
        proto::SEG_GONE => segments::on_gone(sh, node, payload),
        proto::SEG_GONE_ACK => segments::on_gone_ack(sh, node, payload),
        proto::INTR_TRIGGER => interrupts::on_trigger(sh, node, payload),
        proto::INTR_DISCONNECT => interrupts::on_disconnect(sh, node, payload),
        proto::INTR_GONE => interrupts::on_gone(sh, node, payload),
        _ => Err(EOPNOTSUPP),
    };
    if let Err(e) = r {
        pr_debug!("event {:#x} from node {} dropped: {:?}\n", mtype, node, e);
    }
}

/// The feature the core calls.
pub(crate) struct SisciFeature;

impl SisciFeature {
    fn with(f: impl FnOnce(&Arc<Shared>)) {
        if let Some(sh) = registry::get() {
            f(&sh)
        }
    }
}

impl Feature for SisciFeature {
    fn name(&self) -> &'static CStr {
        c"rsio_sisci"
    }

    fn message_types(&self) -> (u16, u16) {
        (proto::MT_FIRST, proto::MT_COUNT)
    }

    fn peer_down(&self, node: u32) {
        Self::with(|sh| {
            segments::peer_down(sh, node);
            interrupts::peer_down(sh, node);
        });
    }

    fn request(&self, node: u32, mtype: u16, payload: &[u8], reply: &mut [u8]) -> Result<usize> {
        let sh = registry::get().ok_or(ENODEV)?;
        request(&sh, node, mtype, payload, reply)
    }

    fn event(&self, node: u32, mtype: u16, payload: &[u8]) {
        Self::with(|sh| event(sh, node, mtype, payload));
    }
}
