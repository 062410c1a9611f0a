// SPDX-License-Identifier: GPL-2.0

//! A connection's state flag (`Conn::lost`, one of `CONN_*`): set by the
//! segment code with the tables locked, read without that lock by the DMA
//! queues (`queue.rs`) that use the connection.

use kernel::sync::atomic::{Atomic, Relaxed};

/// [`Conn::lost`](crate::state::Conn::lost): alive.
pub(crate) const CONN_OK: u32 = 0;
/// The owner removed the segment or made it unavailable.
pub(crate) const CONN_REVOKED: u32 = 1;
/// The owner node died (or its link went down).
pub(crate) const CONN_DEAD: u32 = 2;
/// The connection is being set up.
pub(crate) const CONN_CONNECTING: u32 = 3;

/// The flag's value.
pub(crate) fn get(f: &Atomic<u32>) -> u32 {
    f.load(Relaxed)
}
