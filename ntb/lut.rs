// SPDX-License-Identifier: GPL-2.0

//! [`LutRange`]: a run of the adapter's BAR2 slots (docs/adapter.md,
//! section 4.3), each translated to a peer's inbound window (`MEMORY`), a
//! peer's interrupt window (`INTERRUPT`) or a multicast group
//! (`MULTICAST`).

use crate::{adapter::Adapter, regs};
use core::borrow::Borrow;
use kernel::{
    io::{Io, Mmio, Region},
    pci,
    prelude::*,
    sync::Arc,
};
use rsio_kernel::io_mem::IoMem;

/// Contiguous LUT slots owned by the fabric core; invalidated and returned
/// to the pool on drop.
///
/// # Invariants
///
/// Slots `first..first + count` are below `info().lut_slots` and taken in
/// the adapter's pool by this object.
pub struct LutRange {
    adapter: Arc<Adapter>,
    first: u32,
    count: u32,
}

impl LutRange {
    /// Takes `count` contiguous free slots (`ENOSPC` if there are none).
    /// They start invalid: accesses read all-ones and set `ERR.UNMAPPED`.
    pub fn alloc(adapter: &Arc<Adapter>, count: u32) -> Result<Self> {
        Self::alloc_aligned(adapter, count, 1)
    }

    /// Takes `count` contiguous free slots starting at a multiple of
    /// `align` slots (a power of two), e.g. for a BAR larger than a slot,
    /// whose bus address must be a multiple of its size (BAR2 is aligned
    /// to its own size).
    pub fn alloc_aligned(adapter: &Arc<Adapter>, count: u32, align: u32) -> Result<Self> {
        let limit = adapter.info().lut_slots;
        let first = adapter
            .pools
            .lock()
            .take_lut(count, limit, align)
            .ok_or(ENOSPC)?;
        // INVARIANT: taken just above, below `lut_slots`.
        let this = Self {
            adapter: adapter.clone(),
            first,
            count,
        };
        // A previous owner left nothing valid (its drop invalidated the
        // slots), but the adapter may have been reset in between: make
        // sure.
        for i in 0..count {
            this.unmap(i)?;
        }
        Ok(this)
    }

    /// The first slot's number.
    pub fn first_slot(&self) -> u32 {
        self.first
    }

    /// The number of slots.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Size of one slot in bytes.
    pub fn slot_size(&self) -> u64 {
        1u64 << self.adapter.info().slot_shift
    }

    /// Bus (and CPU physical) address of the first slot in BAR2.
    pub fn bus_addr(&self) -> u64 {
        self.adapter.info().bar2.0 + (u64::from(self.first) << self.adapter.info().slot_shift)
    }

    /// Length of the range in bytes.
    pub fn len(&self) -> u64 {
        u64::from(self.count) << self.adapter.info().slot_shift
    }

    /// Whether the range has no slots (never: `alloc` takes at least one).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn slot(&self, i: u32) -> Result<u32> {
        if i < self.count {
            Ok(self.first + i)
        } else {
            Err(EINVAL)
        }
    }

    fn check_node(&self, node: u32) -> Result {
        if node < self.adapter.info().num_nodes {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    fn program(&self, i: u32, offset: u64, ctrl: u32) -> Result {
        let s = self.slot(i)?;
        self.adapter.with_regs(|r| {
            // Offset first, control last (section 4.3).
            r.write64(regs::lut_offset(s), offset)?;
            r.write(regs::lut_ctrl(s), ctrl)
        })?
    }

    /// Slot `i` reaches `node`'s inbound window `window` at byte `offset`.
    pub fn map_memory(&self, i: u32, node: u32, window: u32, offset: u64) -> Result {
        self.check_node(node)?;
        if window >= regs::MAX_IN_WINDOWS {
            return Err(EINVAL);
        }
        self.program(i, offset, regs::lut_memory(node, window))
    }

    /// Slot `i` raises remote interrupts on `node`: a 4-byte write at slot
    /// offset `4 k` raises its `USER(k)`.
    pub fn map_interrupt(&self, i: u32, node: u32) -> Result {
        self.check_node(node)?;
        self.program(i, 0, regs::lut_interrupt(node))
    }

    /// Slot `i` writes to multicast group `group`, at byte `offset` of the
    /// members' receive buffers.
    pub fn map_multicast(&self, i: u32, group: u32, offset: u64) -> Result {
        if group >= self.adapter.info().mc_groups {
            return Err(EINVAL);
        }
        self.program(i, offset, regs::lut_multicast(group))
    }

    /// Slot `i` becomes invalid.
    pub fn unmap(&self, i: u32) -> Result {
        let s = self.slot(i)?;
        self.adapter.with_regs(|r| r.write(regs::lut_ctrl(s), 0))?
    }
}

impl Drop for LutRange {
    fn drop(&mut self) {
        for i in 0..self.count {
            // Fails only once the adapter is gone (nothing to undo then).
            let _ = self.unmap(i);
        }
        self.adapter.pools.lock().free_lut(self.first, self.count);
    }
}

impl LutRange {
    /// Maps the range for CPU access (uncached: every access is one
    /// transaction on the fabric, in order).
    pub fn map_cpu(&self) -> Result<LutMapping<&LutRange>> {
        LutMapping::new(self)
    }

    /// Like [`LutRange::map_cpu`], but the mapping owns the range (and
    /// drops it after unmapping).
    pub fn into_cpu(self) -> Result<LutMapping<LutRange>> {
        LutMapping::new(self)
    }
}

/// A CPU mapping of a [`LutRange`] (its BAR2 slots); unmapped on drop.
pub struct LutMapping<R: Borrow<LutRange>> {
    range: R,
    io: IoMem,
}

impl<R: Borrow<LutRange>> LutMapping<R> {
    fn new(range: R) -> Result<Self> {
        let r: &LutRange = range.borrow();
        let len = usize::try_from(r.len()).map_err(|_| ENOMEM)?;
        let io = r.adapter.with_bound_device(|dev| {
            let pdev: &pci::Device<_> = dev.try_into()?;
            IoMem::map(pdev, r.bus_addr(), len)
        })??;
        Ok(Self { range, io })
    }

    /// The mapped range.
    pub fn range(&self) -> &LutRange {
        self.range.borrow()
    }

    /// Runs `f` on the mapping while the adapter is bound (`ENODEV`
    /// otherwise).
    fn with_io<T>(&self, f: impl FnOnce(Mmio<'_, Region>) -> Result<T>) -> Result<T> {
        self.range
            .borrow()
            .adapter
            .with_regs(|_| f(self.io.io()?))?
    }

    /// Reads the 32-bit word at `offset` (`EINVAL` if out of range or
    /// misaligned).
    pub fn read32(&self, offset: usize) -> Result<u32> {
        self.with_io(|io| io.try_read32(offset))
    }

    /// Writes the 32-bit word at `offset`.
    pub fn write32(&self, offset: usize, val: u32) -> Result {
        self.with_io(|io| io.try_write32(val, offset))
    }

    /// Copies `data` to `offset`, in 64-bit words where aligned (each
    /// access is one fabric transaction: fewer, larger ones are faster),
    /// then 32-bit words, then bytes.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result {
        self.with_io(|io| {
            let mut i = 0;
            while i < data.len() {
                let at = offset.checked_add(i).ok_or(ERANGE)?;
                if let Some(d) = data.get(i..i + 8).filter(|_| at % 8 == 0) {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(d);
                    io.try_write64(u64::from_le_bytes(b), at)?;
                    i += 8;
                    continue;
                }
                match data.get(i..i + 4) {
                    Some(w) if at % 4 == 0 => {
                        io.try_write32(u32::from_le_bytes([w[0], w[1], w[2], w[3]]), at)?;
                        i += 4;
                    }
                    _ => {
                        io.try_write8(data[i], at)?;
                        i += 1;
                    }
                }
            }
            Ok(())
        })
    }

    /// Copies from `offset` into `data`, in 64-bit words where aligned,
    /// then 32-bit words, then bytes.
    pub fn read(&self, offset: usize, data: &mut [u8]) -> Result {
        self.with_io(|io| {
            let mut i = 0;
            while i < data.len() {
                let at = offset.checked_add(i).ok_or(ERANGE)?;
                if at % 8 == 0 && i + 8 <= data.len() {
                    let w = io.try_read64(at)?.to_le_bytes();
                    data[i..i + 8].copy_from_slice(&w);
                    i += 8;
                } else if at % 4 == 0 && i + 4 <= data.len() {
                    let w = io.try_read32(at)?.to_le_bytes();
                    data[i..i + 4].copy_from_slice(&w);
                    i += 4;
                } else {
                    data[i] = io.try_read8(at)?;
                    i += 1;
                }
            }
            Ok(())
        })
    }
}
