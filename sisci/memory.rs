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
//!
//! Or device memory (`SCIAttachPhysicalMemory`): a range of a memory BAR
//! of a function on this node. The direct window reaches RAM only, so
//! peers reach it through an inbound window of its own, open only to the
//! nodes connected to the segment (the owner's fence: closing it is
//! immediate, no acknowledgement needed).

use kernel::prelude::*;
use kernel::sync::Arc;
use rsio_kernel::{dma_pages::DmaPages, mm::Vma, pci::PciFunction};
use rsio_ntb::{adapter::Adapter, inbound::InboundWindow};

/// log2 of the largest chunk (4 MiB, the page allocator's largest block).
pub(crate) const MAX_CHUNK_SHIFT: u32 = 22;
/// log2 of a page.
const PAGE_SHIFT: u32 = 12;

/// A segment's memory.
pub(crate) struct SegMemory {
    /// Empty (no pages) for device memory and for an empty segment.
    chunks: KVec<DmaPages>,
    /// log2 of every chunk's size (device memory: one chunk, 63).
    pub(crate) chunk_shift: u32,
    /// Bytes (a multiple of the page size; the last chunk may extend past).
    pub(crate) size: u64,
    /// Device memory, if that is what it is.
    device: Option<DeviceMemory>,
}

/// A range of a memory BAR of a function on this node.
pub(crate) struct DeviceMemory {
    /// Bus and CPU physical address of its first byte.
    bus: u64,
    phys: u64,
    /// Peers' way in: open to the connected nodes only.
    window: InboundWindow,
    /// The function whose BAR it is (held for its lifetime: the reference
    /// keeps the `pci_dev`, not the BAR assignment; attaching needs
    /// `CAP_SYS_RAWIO`).
    _function: PciFunction,
}

impl SegMemory {
    /// An empty segment's: `size` bytes (page multiple), nothing behind
    /// them yet.
    pub(crate) fn empty(size: u64) -> Self {
        Self {
            chunks: KVec::new(),
            chunk_shift: PAGE_SHIFT,
            size,
            device: None,
        }
    }

    /// Whether it has neither pages nor device memory.
    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.device.is_none()
    }

    /// `size` bytes (page multiple) of device memory at bus address `bus`
    /// (page-aligned) on this node: `ENXIO` unless one memory BAR of a
    /// function here other than `adapter`'s holds them.
    pub(crate) fn device(adapter: &Arc<Adapter>, bus: u64, size: u64) -> Result<Self> {
        if size == 0 || size % (1 << PAGE_SHIFT) != 0 || bus % (1 << PAGE_SHIFT) != 0 {
            return Err(EINVAL);
        }
        let (function, _bar, phys) = PciFunction::find_by_bus_range(bus, size).ok_or(ENXIO)?;
        if core::ptr::eq(function.device(), adapter.device()) {
            return Err(ENXIO);
        }
        let window = InboundWindow::alloc(adapter)?;
        Ok(Self {
            chunks: KVec::new(),
            chunk_shift: 63,
            size,
            device: Some(DeviceMemory {
                bus,
                phys,
                window,
                _function: function,
            }),
        })
    }

    /// Device memory: the inbound window peers reach it through.
    pub(crate) fn device_window(&self) -> Option<u32> {
        self.device.as_ref().map(|d| d.window.index())
    }

    /// Device memory: lets the nodes in `peers` (bit n: node n) reach it,
    /// no one else (0: closes the window).
    pub(crate) fn open_to(&self, peers: u32) -> Result {
        let Some(d) = self.device.as_ref() else {
            return Ok(());
        };
        if peers == 0 {
            d.window.close()
        } else {
            d.window.open(d.bus, self.size, peers)
        }
    }

    /// Chunk `i`'s bus address (device memory: chunk 0 is all of it).
    fn chunk_bus(&self, i: usize) -> Option<u64> {
        match self.device.as_ref() {
            Some(d) => (i == 0).then_some(d.bus),
            None => self.chunks.get(i).map(|c| c.bus()),
        }
    }

    /// Chunk `i`'s physical address.
    fn chunk_phys(&self, i: usize) -> Option<u64> {
        match self.device.as_ref() {
            Some(d) => (i == 0).then_some(d.phys),
            None => self.chunks.get(i).map(|c| c.phys()),
        }
    }
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
            device: None,
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
            device: None,
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
        let c = self.chunk_bus((offset >> self.chunk_shift) as usize)?;
        let within = offset & ((1 << self.chunk_shift) - 1);
        Some((c + within, (1u64 << self.chunk_shift) - within))
    }

    /// The bus address of byte `offset` and the bytes from there that are
    /// contiguous on the bus (chunks may happen to be adjacent); `None`
    /// outside the segment.
    pub(crate) fn bus_run(&self, offset: u64) -> Option<(u64, u64)> {
        chunk_run(|i| self.chunk_bus(i), self.chunk_shift, self.size, offset)
    }

    /// The physical address of byte `offset` and the bytes from there
    /// that are physically contiguous; `None` outside the segment.
    pub(crate) fn phys_run(&self, offset: u64) -> Option<(u64, u64)> {
        chunk_run(|i| self.chunk_phys(i), self.chunk_shift, self.size, offset)
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
        if let Some(d) = self.device.as_ref() {
            // Device memory: uncached, as a BAR is mapped.
            return vma.map_io(addr, d.phys + offset, len as usize, false);
        }
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
