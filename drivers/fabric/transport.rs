// SPDX-License-Identifier: GPL-2.0

//! What the core needs from the hardware, as one trait with two
//! implementations: [`crate::adapter_transport`] (an rsio adapter through
//! rsio_ntb's fabric interface: LUT slots, inbound windows, remote
//! interrupts) and [`crate::ntb_transport`] (any Linux `ntb_dev` through the
//! generic NTB API: one memory window per peer, doorbells).
//!
//! The protocol above it (membership, messages, grants) is the same for
//! both: every ordered pair of nodes has a [`RING_SIZE`] receive ring in the
//! receiver's memory, which only the sender writes (and the receiver reads
//! and resets), and a "you have mail" notification.

use kernel::prelude::*;

/// Bytes of one receive ring (sender -> receiver).
pub(crate) const RING_SIZE: usize = crate::logic::ring::RING_SIZE;

/// Facts about the transport, fixed while it is bound.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TransportInfo {
    /// `uapi::RSIO_TRANSPORT_*`.
    pub(crate) kind: u32,
    /// This node's id, `< num_nodes`.
    pub(crate) node_id: u32,
    /// Nodes in the fabric (`<= uapi::RSIO_MAX_NODES`).
    pub(crate) num_nodes: u32,
    /// Adapter `CAPS` (0 for the generic path).
    pub(crate) caps: u32,
    /// Outbound translation entries the core may use for mappings.
    pub(crate) map_entries: u32,
    /// Inbound windows the core may use for grants.
    pub(crate) grant_windows: u32,
}

/// Receives the transport's events. Called from any context, including
/// hard IRQ: implementations record and wake a thread, never sleep.
pub(crate) trait Events: Send + Sync {
    /// The set of peers whose link is up may have changed.
    fn link_changed(&self);
    /// Peer `peer` wrote into our receive ring and notified us (`None`: a
    /// transport that cannot tell who).
    fn notified(&self, peer: Option<u32>);
}

/// Local memory peers reach: a grant. Dropping it closes it to peers
/// first, then frees the memory.
pub(crate) trait Grant: Send + Sync {
    /// The address peers pass to a mapping of this node's memory.
    fn fabric_addr(&self) -> u64;
    /// The local bus address of the memory.
    fn bus_addr(&self) -> u64;
    /// Bytes.
    fn len(&self) -> u64;
    /// Nodes allowed in (bit n: node n).
    fn peers(&self) -> u32;
    /// The inbound window (or pool) index backing it.
    fn hw_index(&self) -> u32;
    /// Reads local memory at `offset` (`EINVAL` out of range).
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result;
    /// Writes local memory at `offset` (`EINVAL` out of range).
    fn write(&self, offset: usize, data: &[u8]) -> Result;
}

/// Peer memory made reachable locally: a mapping. Dropping it removes the
/// translation.
pub(crate) trait Mapping: Send + Sync {
    /// The local bus address of the first byte (CPU and local devices).
    fn bus_addr(&self) -> u64;
    /// Bytes.
    fn len(&self) -> u64;
    /// First translation entry and count.
    fn hw_range(&self) -> (u32, u32);
    /// Reads 32-bit words through the fabric (`offset`, `buf.len()`
    /// multiples of 4).
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result;
    /// Writes 32-bit words through the fabric, in order.
    fn write(&self, offset: usize, data: &[u8]) -> Result;
}

/// Where the core's own message rings live, for listings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MailboxInfo {
    /// The fabric address peers write to.
    pub(crate) fabric_addr: u64,
    /// Its local bus address.
    pub(crate) bus_addr: u64,
    /// Bytes.
    pub(crate) len: u64,
    /// Nodes allowed in.
    pub(crate) peers: u32,
    /// The inbound window backing it.
    pub(crate) hw_index: u32,
}

/// The hardware below the core.
pub(crate) trait Transport: Send + Sync {
    /// Facts about it.
    fn info(&self) -> TransportInfo;
    /// A short name for logs and status (e.g. the adapter's PCI name).
    fn name(&self) -> &CStr;
    /// Bit n: the link to node n is up (never this node's bit).
    fn link_mask(&self) -> u32;
    /// Adapter counters: (refused accesses, errors); zeros if unknown.
    fn error_counters(&self) -> (u64, u64);

    /// The mailbox, if the transport has one inbound window for all rings.
    fn mailbox(&self) -> Option<MailboxInfo> {
        None
    }

    /// Reads our receive ring from `peer` (local memory).
    fn rx_read(&self, peer: u32, offset: usize, buf: &mut [u8]) -> Result;
    /// Writes our receive ring from `peer` (resets, the consumer index).
    fn rx_write(&self, peer: u32, offset: usize, data: &[u8]) -> Result;

    /// Makes `peer`'s receive ring for us and its notification reachable
    /// (idempotent). `EAGAIN`: not yet possible (the peer's core has not
    /// opened its side); `ENOSPC`: out of translation entries.
    fn connect(&self, peer: u32) -> Result;
    /// Undoes [`Transport::connect`] (idempotent).
    fn disconnect(&self, peer: u32);
    /// Writes into `peer`'s receive ring for us (after `connect`). Writes
    /// arrive in order.
    fn tx_write(&self, peer: u32, offset: usize, data: &[u8]) -> Result;
    /// Reads `peer`'s receive ring for us (its consumer index).
    fn tx_read(&self, peer: u32, offset: usize, buf: &mut [u8]) -> Result;
    /// Tells `peer` it has mail (after earlier `tx_write`s have landed).
    fn notify(&self, peer: u32) -> Result;

    /// Allocates `len` bytes of zeroed local memory open to `peers`.
    fn grant(&self, len: u64, peers: u32) -> Result<KBox<dyn Grant>>;
    /// Maps `len` bytes at `fabric_addr` of `node`.
    fn map(&self, node: u32, fabric_addr: u64, len: u64) -> Result<KBox<dyn Mapping>>;
}
