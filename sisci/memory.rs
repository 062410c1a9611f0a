// SPDX-License-Identifier: GPL-2.0

//! Segment memory: zeroed pages in equal, physically contiguous chunks,
//! DMA-mapped for the adapter.
//!
//! Chunks rather than one block: a 64 MiB segment is beyond the page
//! allocator's largest block (4 MiB), and the direct window (BAR4) needs no
//! contiguity: a peer maps each chunk at `(owner << DIRECT_SHIFT) + bus`.
//! The chunk size is the largest power of two up to 4 MiB that the
//! allocator gives for every chunk; it is sent to peers with the chunks'
//! bus addresses.

use kernel::prelude::*;
use kernel::sync::Arc;
use rsio_kernel::{dma_pages::DmaPages, mm::Vma};
use rsio_ntb::adapter::Adapter;

/// log2 of the largest chunk (4 MiB, the page allocator's largest block).
pub(crate) const MAX_CHUNK_SHIFT: u32 = 22;
/// log2 of a page.
const PAGE_SHIFT: u32 = 12;

/// A segment's memory.
pub(crate) struct SegMemory {
    chunks: KVec<DmaPages>,
    /// log2 of every chunk's size.
    pub(crate) chunk_shift: u32,
    /// Bytes (a multiple of the page size; the last chunk may extend past).
    pub(crate) size: u64,
}

impl SegMemory {
    /// Allocates `size` bytes (a multiple of the page size, not 0), in the
    /// largest chunks the allocator gives. `ENOMEM`.
    pub(crate) fn alloc(adapter: &Arc<Adapter>, size: u64, max_shift: u32) -> Result<Self> {
        if size == 0 || size % (1 << PAGE_SHIFT) != 0 {
            return Err(EINVAL);
        }
        // The smallest power of two covering `size`, capped.
        let mut shift =
            (64 - (size - 1).leading_zeros()).clamp(PAGE_SHIFT, max_shift.min(MAX_CHUNK_SHIFT));
        loop {
            match Self::alloc_in(adapter, size, shift) {
                Ok(m) => return Ok(m),
                Err(e) if e == ENOMEM && shift > PAGE_SHIFT => shift -= 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// The caller's memory: `size` bytes (page multiple) at `uaddr`
    /// (page-aligned), pinned page by page (`EFAULT` for memory that is not
    /// the caller's writable memory).
    pub(crate) fn pin_user(adapter: &Arc<Adapter>, uaddr: u64, size: u64) -> Result<Self> {
        if size == 0 || size % (1 << PAGE_SHIFT) != 0 || uaddr % (1 << PAGE_SHIFT) != 0 {
            return Err(EINVAL);
        }
        uaddr.checked_add(size).ok_or(EINVAL)?;
        let n = (size >> PAGE_SHIFT) as usize;
        let mut chunks = KVec::with_capacity(n, GFP_KERNEL)?;
        for i in 0..n {
            let a = usize::try_from(uaddr + ((i as u64) << PAGE_SHIFT)).map_err(|_| EINVAL)?;
            let c = adapter.with_bound_device(|dev| DmaPages::pin_user(dev, a))??;
            chunks.push(c, GFP_KERNEL)?;
        }
        Ok(Self {
            chunks,
            chunk_shift: PAGE_SHIFT,
            size,
        })
    }

    fn alloc_in(adapter: &Arc<Adapter>, size: u64, shift: u32) -> Result<Self> {
        let n = size.div_ceil(1 << shift) as usize;
        let mut chunks = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            let c = adapter.with_bound_device(|dev| DmaPages::alloc(dev, shift - PAGE_SHIFT))??;
            chunks.push(c, GFP_KERNEL)?;
        }
        Ok(Self {
            chunks,
            chunk_shift: shift,
            size,
        })
    }

    /// The chunks' bus addresses, in order.
    pub(crate) fn bus_addrs(&self) -> impl Iterator<Item = u64> + '_ {
        self.chunks.iter().map(|c| c.bus())
    }

    /// Number of chunks.
    pub(crate) fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// The bus address of byte `offset` and the bytes from there to the end
    /// of its chunk (`None` outside the segment).
    pub(crate) fn bus_at(&self, offset: u64) -> Option<(u64, u64)> {
        if offset >= self.size {
            return None;
        }
        let c = self.chunks.get((offset >> self.chunk_shift) as usize)?;
        let within = offset & ((1 << self.chunk_shift) - 1);
        Some((c.bus() + within, (1u64 << self.chunk_shift) - within))
    }

    /// The bus address of byte `offset` and the bytes from there that are
    /// contiguous on the bus (chunks may happen to be adjacent); `None`
    /// outside the segment.
    pub(crate) fn bus_run(&self, offset: u64) -> Option<(u64, u64)> {
        chunk_run(
            |i| self.chunks.get(i).map(|c| c.bus()),
            self.chunk_shift,
            self.size,
            offset,
        )
    }

    /// The physical address of byte `offset` and the bytes from there
    /// that are physically contiguous; `None` outside the segment.
    pub(crate) fn phys_run(&self, offset: u64) -> Option<(u64, u64)> {
        chunk_run(
            |i| self.chunks.get(i).map(|c| c.phys()),
            self.chunk_shift,
            self.size,
            offset,
        )
    }

    /// Maps `[offset, offset + len)` of the memory (page-aligned, inside)
    /// at user address `addr` of `vma`.
    pub(crate) fn map_into(
        &self,
        vma: &Vma<'_>,
        mut addr: usize,
        mut offset: u64,
        mut len: u64,
    ) -> Result {
        while len > 0 {
            let c = self
                .chunks
                .get((offset >> self.chunk_shift) as usize)
                .ok_or(EINVAL)?;
            let within = offset & ((1 << self.chunk_shift) - 1);
            let n = ((1u64 << self.chunk_shift) - within).min(len);
            vma.map_pages(addr, c, within as usize, n as usize)?;
            addr += n as usize;
            offset += n;
            len -= n;
        }
        Ok(())
    }
}

/// Memory in chunks of `1 << shift` bytes (`size` in all) whose chunk `i`
/// is at `at(i)`: the address of byte `offset` and the bytes from there
/// to the end of the run of adjacent chunks holding it (at most to
/// `size`); `None` outside.
pub(crate) fn chunk_run(
    at: impl Fn(usize) -> Option<u64>,
    shift: u32,
    size: u64,
    offset: u64,
) -> Option<(u64, u64)> {
    if offset >= size || shift >= 64 {
        return None;
    }
    let chunk = 1u64 << shift;
    let mut i = (offset >> shift) as usize;
    let start = at(i)?.checked_add(offset & (chunk - 1))?;
    let mut end = (offset | (chunk - 1)).checked_add(1)?;
    while let (Some(cur), Some(next)) = (at(i), at(i + 1)) {
        if end >= size || cur.checked_add(chunk) != Some(next) {
            break;
        }
        end += chunk;
        i += 1;
    }
    Some((start, end.min(size) - offset))
}
