// SPDX-License-Identifier: GPL-2.0

//! [`DmaBuffer`]: memory of this node the adapter can reach (coherent DMA
//! memory of the adapter's device), to expose to peers through an inbound
//! window, receive a multicast group into, or use as a DMA engine source
//! or destination.

use crate::adapter::Adapter;
use kernel::{
    dma::Coherent,
    io::{io_project, Io},
    prelude::*,
    sync::Arc,
};

/// A zeroed buffer of coherent memory of an adapter; freed on drop.
///
/// Peers and the DMA engine may write it at any time: it is only read and
/// written through volatile I/O accessors, never as a Rust slice.
pub struct DmaBuffer {
    mem: Coherent<[u8]>,
}

impl DmaBuffer {
    /// Allocates `size` bytes (`ENODEV` once the adapter is unbound,
    /// `EINVAL` for 0, `ENOMEM` without memory: the buffer is physically
    /// contiguous, so sizes beyond the page allocator's largest block
    /// fail, quietly, as sizes from user space may).
    pub fn alloc(adapter: &Arc<Adapter>, size: usize) -> Result<Self> {
        if size == 0 {
            return Err(EINVAL);
        }
        let mem = adapter.with_bound_device(|dev| {
            Coherent::zeroed_slice(dev, size, GFP_KERNEL | __GFP_NOWARN)
        })??;
        Ok(Self { mem })
    }

    /// The buffer's bus address, as the adapter sees it.
    pub fn bus_addr(&self) -> u64 {
        self.mem.dma_address()
    }

    /// The buffer's size in bytes.
    pub fn len(&self) -> usize {
        self.mem.len()
    }

    /// Never: a buffer has at least one byte.
    pub fn is_empty(&self) -> bool {
        self.mem.len() == 0
    }

    /// Copies `data` into the buffer at `offset` (`ERANGE` past the end).
    pub fn write(&self, offset: usize, data: &[u8]) -> Result {
        let end = offset.checked_add(data.len()).ok_or(ERANGE)?;
        let mem = &self.mem;
        io_project!(mem, [try: offset..end]).copy_from_slice(data);
        Ok(())
    }

    /// Copies from the buffer at `offset` into `data` (`ERANGE` past the
    /// end).
    pub fn read(&self, offset: usize, data: &mut [u8]) -> Result {
        let end = offset.checked_add(data.len()).ok_or(ERANGE)?;
        let mem = &self.mem;
        io_project!(mem, [try: offset..end]).copy_to_slice(data);
        Ok(())
    }
}
