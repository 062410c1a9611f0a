// SPDX-License-Identifier: GPL-2.0

//! Messages to a node's `rsio_sisci`: through the fabric core to peers,
//! and straight to the handlers ([`Shared::handlers`]) for this node itself
//! (a program may connect to its own node's segments and interrupts, as
//! SISCI allows).

use crate::state::Shared;
use kernel::prelude::*;
use rsio_fabric::api::{self, Reply, MAX_PAYLOAD};

/// Sends event `mtype` to `node`.
pub(crate) fn event(sh: &Shared, node: u32, mtype: u16, payload: &[u8]) -> Result {
    if node == sh.node {
        (sh.handlers.event)(sh, node, mtype, payload);
        return Ok(());
    }
    api::send_event(node, mtype, payload)
}

/// Sends request `mtype` to `node` and returns its reply.
pub(crate) fn request(
    sh: &Shared,
    node: u32,
    mtype: u16,
    payload: &[u8],
    timeout_ms: u32,
) -> Result<Reply> {
    if node == sh.node {
        let mut reply = Reply {
            len: 0,
            data: [0; MAX_PAYLOAD],
        };
        reply.len = (sh.handlers.request)(sh, node, mtype, payload, &mut reply.data)?;
        return Ok(reply);
    }
    api::request(node, mtype, payload, timeout_ms)
}

/// Whether `node` can be reached (this node, or a peer whose core is up).
pub(crate) fn reachable(sh: &Shared, node: u32) -> bool {
    node == sh.node || api::up_nodes().is_ok_and(|m| node < 32 && m & (1 << node) != 0)
}

/// A request timeout: the caller's (0: the default), capped to a minute
/// (a peer that is up answers within milliseconds; an infinite wait would
/// only hide a dead one until the core notices).
pub(crate) fn timeout(ms: u32) -> u32 {
    match ms {
        0 => crate::sisci_abi::SISCI_DEFAULT_TIMEOUT_MS,
        ms => ms.min(60_000),
    }
}
