// SPDX-License-Identifier: GPL-2.0

//! [`IoMem`]: an uncached CPU mapping (`ioremap`) of part of a PCI
//! function's memory BARs, for ranges the function itself hands out (NTB
//! windows, translated slots) rather than whole BARs.

use kernel::{
    bindings,
    device::Bound,
    io::{Io, Mmio, MmioRaw, Region},
    pci,
    prelude::*,
};

/// An `ioremap` mapping, unmapped on drop.
///
/// # Invariants
///
/// `addr..addr + len` is an `ioremap` mapping of physical addresses inside
/// one memory BAR of a PCI function, owned by this object.
pub struct IoMem {
    addr: usize,
    len: usize,
}

impl IoMem {
    /// Maps `len` bytes at physical address `phys`, which must lie inside
    /// one of `pdev`'s memory BARs (`EINVAL` otherwise, `ENOMEM` if the
    /// mapping fails).
    pub fn map(pdev: &pci::Device<Bound>, phys: u64, len: usize) -> Result<Self> {
        let end = phys.checked_add(len as u64).ok_or(EINVAL)?;
        let inside = (0..6u32).any(|bar| {
            let start = pdev.resource_start(bar).unwrap_or(0);
            let size = pdev.resource_len(bar).unwrap_or(0);
            size != 0 && phys >= start && end <= start.saturating_add(size)
        });
        if len == 0 || !inside {
            return Err(EINVAL);
        }
        // SAFETY: The range is inside a BAR of a bound PCI function (checked above): MMIO, never RAM.
        let ptr = unsafe { bindings::ioremap(phys, len) };
        if ptr.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: just mapped, `len` bytes of a BAR.
        Ok(Self {
            addr: ptr.addr(),
            len,
        })
    }

    /// Bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never: a mapping has at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads the dword at `off` (all-ones out of range or misaligned, as a
    /// device that went away reads).
    pub fn read32(&self, off: usize) -> u32 {
        self.io().and_then(|io| io.try_read32(off)).unwrap_or(!0)
    }

    /// Writes the dword at `off` (nothing out of range or misaligned).
    pub fn write32(&self, off: usize, v: u32) {
        let _ = self.io().and_then(|io| io.try_write32(v, off));
    }

    /// The mapping, for I/O accessors.
    pub fn io(&self) -> Result<Mmio<'_, Region>> {
        let raw = MmioRaw::<Region>::new_region(self.addr, self.len)?;
        // SAFETY: `raw` is the mapping this object owns (invariant), valid for the borrow of `self` (drop cannot run during it).
        Ok(unsafe { Mmio::from_raw(raw) })
    }
}

impl Drop for IoMem {
    fn drop(&mut self) {
        // SAFETY: The mapping this object owns (invariant); the borrows of `io()` have ended.
        unsafe { bindings::iounmap(core::ptr::without_provenance_mut(self.addr)) };
    }
}
