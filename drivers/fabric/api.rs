// SPDX-License-Identifier: GPL-2.0

//! The fabric core's Rust API for the feature modules (SISCI, lending,
//! hot-add, NVMe sharing), called across modules (docs/build.md,
//! "Cross-module Rust"): who is in the fabric, messages to a peer's core,
//! and windows the kernel owns.

use crate::cluster::Cluster;
use crate::features;
use crate::logic::maps::Range;
use crate::registry;
use crate::uapi;
use crate::windows::{Window, KERNEL};
use kernel::prelude::*;
use kernel::sync::Arc;

pub use crate::cluster::Reply;
pub use crate::features::{Feature, FeatureRegistration, FEATURE_IOCTL_END, FEATURE_IOCTL_FIRST};
pub use crate::logic::proto::{MAX_PAYLOAD, MT_FEATURE_BASE};

/// Registers `feature`: `EINVAL` for message types below the feature
/// range, `EBUSY` if they overlap another feature's. Peers already up are
/// reported through `peer_up` before this returns.
pub fn register_feature(feature: Arc<dyn Feature>) -> Result<FeatureRegistration> {
    features::register(feature, || registry::cluster().map_or(0, |c| c.up_mask()))
}

/// This node's fabric node id (`ENODEV` without a transport).
pub fn local_node() -> Result<u32> {
    Ok(registry::cluster()?.info.node_id)
}

/// Nodes in the fabric (ids `0..num_nodes`).
pub fn num_nodes() -> Result<u32> {
    Ok(registry::cluster()?.info.num_nodes)
}

/// Bit n: peer node n's core is up (never this node's bit).
pub fn up_nodes() -> Result<u32> {
    Ok(registry::cluster()?.up_mask())
}

/// Sends request `mtype` (a feature's type) to `node` and waits up to
/// `timeout_ms` for its response: `EHOSTUNREACH` if the node is not up,
/// `ETIMEDOUT`, `EINTR` (signal), `ECONNRESET` (the node went away),
/// `EDEADLK` from a feature callback (the core's thread would wait for
/// itself), or the peer's error.
pub fn request(node: u32, mtype: u16, payload: &[u8], timeout_ms: u32) -> Result<Reply> {
    registry::cluster()?.request(node, mtype, payload, timeout_ms)
}

/// As [`request`], but a signal does not end the wait: for what must
/// complete even when the calling process is dying (a device's return
/// before the memory it reached is freed).
pub fn request_uninterruptible(
    node: u32,
    mtype: u16,
    payload: &[u8],
    timeout_ms: u32,
) -> Result<Reply> {
    registry::cluster()?.request_as(node, mtype, payload, timeout_ms, false)
}

/// Sends event `mtype` to `node`.
pub fn send_event(node: u32, mtype: u16, payload: &[u8]) -> Result {
    registry::cluster()?.event(node, mtype, payload)
}

/// A window the kernel owns; removed on drop.
pub struct KernelWindow {
    cluster: Arc<Cluster>,
    id: u32,
    kind: u32,
    /// The fabric address (grants: what peers map).
    pub fabric_addr: u64,
    /// The local bus address (maps: where local devices reach the peer).
    pub bus_addr: u64,
    /// Bytes.
    pub len: u64,
}

impl KernelWindow {
    fn new(cluster: Arc<Cluster>, w: &Window) -> Self {
        Self {
            id: w.id,
            kind: w.kind(),
            fabric_addr: w.range.addr,
            bus_addr: w.bus_addr(),
            len: w.range.len,
            cluster,
        }
    }

    /// Local memory open to `peers` (see `RSIO_IOC_GRANT`).
    pub fn grant(len: u64, peers: u32) -> Result<Self> {
        let c = registry::cluster()?;
        let all = (1u32 << c.info.num_nodes) - 1;
        if len == 0 || len % uapi::RSIO_WINDOW_ALIGN != 0 || peers == 0 || peers & !all != 0 {
            return Err(EINVAL);
        }
        let mut ws = c.windows.lock();
        let w = ws.grant(&*c.transport, KERNEL, 0, len, peers)?;
        let this = Self::new(c.clone(), w);
        drop(ws);
        Ok(this)
    }

    /// `node`'s memory at `fabric_addr` (see `RSIO_IOC_MAP`).
    pub fn map(node: u32, fabric_addr: u64, len: u64) -> Result<Self> {
        let c = registry::cluster()?;
        if !c.is_peer(node) {
            return Err(EINVAL);
        }
        let want = Range {
            node,
            addr: fabric_addr,
            len,
        };
        let mut ws = c.windows.lock();
        let w = ws.map(&*c.transport, KERNEL, 0, want)?;
        let this = Self::new(c.clone(), w);
        drop(ws);
        Ok(this)
    }

    /// Reads at `offset` (maps: through the fabric).
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result {
        let b = self
            .cluster
            .windows
            .lock()
            .get(KERNEL, self.id)?
            .backing
            .clone();
        let end = offset.checked_add(buf.len() as u64).ok_or(EINVAL)?;
        if end > self.len {
            return Err(EINVAL);
        }
        Window::read_backing(&b, offset, buf)
    }

    /// Writes at `offset` (maps: through the fabric).
    pub fn write(&self, offset: u64, data: &[u8]) -> Result {
        let b = self
            .cluster
            .windows
            .lock()
            .get(KERNEL, self.id)?
            .backing
            .clone();
        let end = offset.checked_add(data.len() as u64).ok_or(EINVAL)?;
        if end > self.len {
            return Err(EINVAL);
        }
        Window::write_backing(&b, offset, data)
    }
}

impl Drop for KernelWindow {
    fn drop(&mut self) {
        let w = self
            .cluster
            .windows
            .lock()
            .remove(KERNEL, self.id, self.kind);
        drop(w);
    }
}

/// The local bus address of `node`'s `fabric_addr`, if a window maps it.
pub fn to_bus(node: u32, fabric_addr: u64) -> Result<Option<u64>> {
    Ok(registry::cluster()?
        .windows
        .lock()
        .to_bus(node, fabric_addr))
}

/// The (node, fabric address) a local bus address inside a mapping
/// reaches.
pub fn to_fabric(bus_addr: u64) -> Result<Option<(u32, u64)>> {
    Ok(registry::cluster()?.windows.lock().to_fabric(bus_addr))
}
