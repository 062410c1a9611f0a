// SPDX-License-Identifier: GPL-2.0

//! [`DmaBuffer`]: memory of this node the adapter can reach (coherent DMA
//! memory of the adapter's device), to expose to peers through an inbound
//! window, receive a multicast group into, or use as a DMA engine source
//! or destination. It is the layer's `CoherentBuf`, allocated for the
//! adapter while it is bound.

use crate::adapter::Adapter;
use kernel::{prelude::*, sync::Arc};
pub use rsio_kernel::coherent::CoherentBuf as DmaBuffer;

/// Allocates a zeroed [`DmaBuffer`] of `size` bytes for `adapter`
/// (`ENODEV` once the adapter is unbound, `EINVAL` for 0, `ENOMEM`
/// without memory, quietly: sizes may come from user space).
pub fn alloc(adapter: &Arc<Adapter>, size: usize) -> Result<DmaBuffer> {
    adapter.with_bound_device(|dev| DmaBuffer::alloc(dev, size))?
}
