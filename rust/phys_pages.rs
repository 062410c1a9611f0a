// SPDX-License-Identifier: GPL-2.0

//! [`PhysPages`]: zeroed, physically contiguous pages with their physical
//! address, for structures a device reaches by physical address (through
//! an NTB's direct window, where the DMA API of the local bus does not
//! apply: the device sits on another node's bus). A device may write them
//! at any time: they are accessed with volatile copies only, never as a
//! Rust slice.

use crate::bindings;
use kernel::prelude::*;

/// `2^order` pages; freed on drop.
///
/// # Invariants
///
/// `virt` is the direct-map address of `PAGE_SIZE << order` bytes from the
/// page allocator owned by this object, at physical address `phys`.
pub struct PhysPages {
    virt: *mut u8,
    phys: u64,
    order: u32,
}

// SAFETY: The pages are plain memory, accessed with volatile copies.
unsafe impl Send for PhysPages {}
// SAFETY: As above.
unsafe impl Sync for PhysPages {}

impl PhysPages {
    /// Allocates `2^order` zeroed pages (`ENOMEM`, quietly).
    pub fn alloc(order: u32) -> Result<Self> {
        let mut phys = 0;
        // SAFETY: `phys` is a valid out pointer; the helper checks `order`.
        let virt = unsafe { bindings::rsio_helper_phys_pages_alloc(order, &mut phys) };
        if virt.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: Allocated just now.
        Ok(Self {
            virt: virt.cast(),
            phys,
            order,
        })
    }

    /// The physical address of the first byte.
    pub fn phys(&self) -> u64 {
        self.phys
    }

    /// Bytes.
    pub fn len(&self) -> usize {
        kernel::page::PAGE_SIZE << self.order
    }

    /// Never: at least one page.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The address of `off` if `size` bytes there are inside and aligned.
    fn at(&self, off: usize, size: usize, align: usize) -> Result<*mut u8> {
        let end = off.checked_add(size).ok_or(EINVAL)?;
        if end > self.len() || off % align != 0 {
            return Err(EINVAL);
        }
        Ok(self.virt.wrapping_add(off))
    }

    /// Reads the dword at `off` (aligned).
    pub fn read32(&self, off: usize) -> Result<u32> {
        let p = self.at(off, 4, 4)?;
        // SAFETY: Inside the pages (checked), aligned; a device may write them: volatile.
        Ok(unsafe { p.cast::<u32>().read_volatile() })
    }

    /// Writes the dword at `off` (aligned).
    pub fn write32(&self, off: usize, v: u32) -> Result {
        let p = self.at(off, 4, 4)?;
        // SAFETY: As `read32`.
        unsafe { p.cast::<u32>().write_volatile(v) };
        Ok(())
    }

    /// Writes the qword at `off` (aligned).
    pub fn write64(&self, off: usize, v: u64) -> Result {
        let p = self.at(off, 8, 8)?;
        // SAFETY: As `read32`.
        unsafe { p.cast::<u64>().write_volatile(v) };
        Ok(())
    }

    /// Writes `words` from `off` (aligned), one volatile dword each.
    pub fn write_words(&self, off: usize, words: &[u32]) -> Result {
        self.at(off, words.len() * 4, 4)?;
        for (i, w) in words.iter().enumerate() {
            self.write32(off + i * 4, *w)?;
        }
        Ok(())
    }

    /// Writes `data` at `off`.
    pub fn write(&self, off: usize, data: &[u8]) -> Result {
        let p = self.at(off, data.len(), 1)?;
        for (i, b) in data.iter().enumerate() {
            // SAFETY: Inside the pages (checked above).
            unsafe { p.add(i).write_volatile(*b) };
        }
        Ok(())
    }

    /// Reads `out.len()` bytes from `off`.
    pub fn read(&self, off: usize, out: &mut [u8]) -> Result {
        let p = self.at(off, out.len(), 1)?;
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: Inside the pages (checked above).
            *b = unsafe { p.add(i).read_volatile() };
        }
        Ok(())
    }

    /// Zeroes every byte.
    pub fn zero(&self) {
        for i in 0..self.len() / 8 {
            // SAFETY: Inside the pages; 8-aligned (page-aligned start).
            unsafe { self.virt.add(i * 8).cast::<u64>().write_volatile(0) };
        }
    }
}

impl Drop for PhysPages {
    fn drop(&mut self) {
        // SAFETY: The pages this object owns (invariant), freed once.
        unsafe { bindings::rsio_helper_phys_pages_free(self.virt.cast(), self.order) };
    }
}
