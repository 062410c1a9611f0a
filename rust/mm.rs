// SPDX-License-Identifier: GPL-2.0

//! PFN mappings into user space: [`Vma`], a vma being set up by `mmap`,
//! and [`InodeRef`], the file whose mappings can later be revoked (zapped;
//! accesses then raise SIGBUS).

use crate::{bindings, dma_pages::DmaPages};
use kernel::{error::to_result, mm::virt::VmaNew, prelude::*};

/// A vma being set up by `mmap`, prepared for PFN mappings.
///
/// # Invariants
///
/// `raw` is a vma under construction in `f_op->mmap`, with the mmap lock
/// held, for the lifetime `'a`.
pub struct Vma<'a> {
    raw: *mut kernel::bindings::vm_area_struct,
    _p: core::marker::PhantomData<&'a ()>,
}

impl<'a> Vma<'a> {
    /// Prepares the vma of an `mmap` call for PFN mappings (`VM_IO`,
    /// `VM_PFNMAP`, not copied on fork, not dumped, not expanded; SIGBUS
    /// where nothing is mapped or once revoked).
    pub fn new(vma: &'a VmaNew) -> Self {
        let raw = vma.as_ptr();
        // SAFETY: `raw` is the vma `mmap` is setting up, with the mmap lock held (the `VmaNew` borrow proves it).
        unsafe { bindings::rsio_helper_vma_setup_pfnmap(raw) };
        // INVARIANT: from a `VmaNew` borrowed for `'a`.
        Self {
            raw,
            _p: core::marker::PhantomData,
        }
    }

    /// `(start, end, page offset)` of the vma.
    pub fn span(&self) -> (usize, usize, u64) {
        // SAFETY: `raw` is valid for `'a` (invariant); these fields are stable while the mmap lock is held.
        let (start, end, pgoff) = unsafe {
            (
                (*self.raw).__bindgen_anon_1.__bindgen_anon_1.vm_start,
                (*self.raw).__bindgen_anon_1.__bindgen_anon_1.vm_end,
                (*self.raw).vm_pgoff,
            )
        };
        (start, end, pgoff as u64)
    }

    /// Maps `len` bytes of `pages` from byte `offset` (page-aligned) at
    /// user address `addr` (cached). The caller must revoke the mapping
    /// ([`InodeRef::zap`]) before `pages` is dropped.
    pub fn map_pages(&self, addr: usize, pages: &DmaPages, offset: usize, len: usize) -> Result {
        let end = offset.checked_add(len).ok_or(EINVAL)?;
        if end > pages.len() || offset % kernel::page::PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        // SAFETY: `raw` is a vma being set up under the mmap lock (invariant); `remap_pfn_range` checks `addr..addr+len` against it; the pages are the caller's, who zaps the mapping before freeing them.
        to_result(unsafe {
            bindings::rsio_helper_vma_map_pages(
                self.raw,
                addr,
                pages.page(),
                offset / kernel::page::PAGE_SIZE,
                len,
            )
        })
    }

    /// Maps `len` bytes of MMIO at physical address `phys` at `addr`
    /// (write-combining if `wc`, else uncached).
    pub fn map_io(&self, addr: usize, phys: u64, len: usize, wc: bool) -> Result {
        // SAFETY: `raw` is valid (invariant); `io_remap_pfn_range` checks the range against the vma.
        to_result(unsafe { bindings::rsio_helper_vma_map_io(self.raw, addr, phys, len, wc) })
    }

    /// A reference on the inode of the vma's file, to revoke its mappings.
    pub fn inode(&self) -> InodeRef {
        // SAFETY: `raw` is valid and has a file (an `mmap` of a file).
        let inode = unsafe { bindings::rsio_helper_vma_inode(self.raw) };
        // INVARIANT: `rsio_helper_vma_inode` took a reference.
        InodeRef(inode)
    }
}

/// A reference on an inode whose page-offset space holds mappings.
///
/// # Invariants
///
/// Holds one reference (ihold) on a live inode, dropped on drop.
pub struct InodeRef(*mut kernel::bindings::inode);

// SAFETY: An inode reference may be used and dropped from any thread.
unsafe impl Send for InodeRef {}
// SAFETY: `&InodeRef` only zaps mappings, which locks internally.
unsafe impl Sync for InodeRef {}

impl InodeRef {
    /// Whether `self` and `other` are the same inode.
    pub fn same(&self, other: &InodeRef) -> bool {
        self.0 == other.0
    }

    /// Removes every user mapping of `[offset, offset + len)` of the
    /// file's page-offset space: later accesses fault (SIGBUS).
    pub fn zap(&self, offset: u64, len: u64) {
        // SAFETY: The inode is alive (invariant).
        unsafe { bindings::rsio_helper_inode_zap(self.0, offset, len) };
    }
}

impl Drop for InodeRef {
    fn drop(&mut self) {
        // SAFETY: Drops the reference this object holds (invariant).
        unsafe { kernel::bindings::iput(self.0) };
    }
}
