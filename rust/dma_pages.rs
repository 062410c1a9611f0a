// SPDX-License-Identifier: GPL-2.0

//! [`DmaPages`]: pages of this node mapped for DMA by a device, either
//! `2^order` fresh zeroed pages or one pinned page of the calling process.
//!
//! Unlike `kernel::dma::Coherent`, the pages are ordinary (cacheable) memory
//! that can also be mapped into user space ([`crate::mm::Vma::map_pages`]),
//! and a chunk may be as large as the page allocator's largest block.
//! Mapping requires the device to be bound (`&Device<Bound>`); the chunk
//! keeps a reference on it to unmap on drop.

use crate::{bindings, device::raw};
use kernel::{
    device::{Bound, Device},
    prelude::*,
    sync::aref::ARef,
};

/// DMA-mapped pages, unmapped and released on drop.
///
/// # Invariants
///
/// If `!user`, `page` came from `rsio_helper_dma_pages_alloc(dev, order,
/// &bus)`; else from `rsio_helper_dma_user_page(dev, .., &bus, ..)` with
/// `order == 0`. Released once, by `drop`, with the matching helper.
pub struct DmaPages {
    dev: ARef<Device>,
    page: *mut kernel::bindings::page,
    order: u32,
    bus: u64,
    user: bool,
}

// SAFETY: A block of pages and a device reference; nothing tied to a thread.
unsafe impl Send for DmaPages {}
// SAFETY: As above; `&DmaPages` only reads its fields.
unsafe impl Sync for DmaPages {}

impl DmaPages {
    /// Allocates `2^order` zeroed pages mapped for `dev` (both
    /// directions); `ENOMEM` (quietly: sizes may come from user space) if
    /// there are none.
    pub fn alloc(dev: &Device<Bound>, order: u32) -> Result<Self> {
        let mut bus = 0u64;
        // SAFETY: `dev` is a bound device for the call; `bus` is a valid out pointer.
        let page = unsafe { bindings::rsio_helper_dma_pages_alloc(raw(dev), order, &mut bus) };
        if page.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: allocated and mapped for `dev` just now.
        Ok(Self {
            dev: ARef::from(&**dev),
            page,
            order,
            bus,
            user: false,
        })
    }

    /// Pins the calling process's page at `uaddr` (page-aligned) for
    /// long-term DMA and maps it for `dev`: `EFAULT` if it is not writable
    /// memory of the caller.
    pub fn pin_user(dev: &Device<Bound>, uaddr: usize) -> Result<Self> {
        let (mut bus, mut err) = (0u64, 0i32);
        let d = raw(dev);
        // SAFETY: `dev` is a bound device; `uaddr` is only a number to the helper (pin_user_pages_fast checks it against the caller's address space); the out pointers are valid.
        let page = unsafe { bindings::rsio_helper_dma_user_page(d, uaddr, &mut bus, &mut err) };
        if page.is_null() {
            return Err(if err < 0 {
                Error::from_errno(err)
            } else {
                EFAULT
            });
        }
        // INVARIANT: pinned and mapped for `dev` just now, one page.
        Ok(Self {
            dev: ARef::from(&**dev),
            page,
            order: 0,
            bus,
            user: true,
        })
    }

    /// The bus address the device reaches the pages at.
    pub fn bus(&self) -> u64 {
        self.bus
    }

    /// The pages' physical address (the bus address where no IOMMU
    /// translates for the device).
    pub fn phys(&self) -> u64 {
        // SAFETY: `page` is valid while `self` holds it (invariant).
        unsafe { bindings::rsio_helper_page_phys(self.page) }
    }

    /// Bytes.
    pub fn len(&self) -> usize {
        kernel::page::PAGE_SIZE << self.order
    }

    /// Never: at least one page.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The first page, for [`crate::mm::Vma::map_pages`].
    pub(crate) fn page(&self) -> *mut kernel::bindings::page {
        self.page
    }
}

impl Drop for DmaPages {
    fn drop(&mut self) {
        let dev = raw(&self.dev);
        if self.user {
            // SAFETY: Pinned and mapped by `rsio_helper_dma_user_page` for `dev` (invariant), released once.
            unsafe { bindings::rsio_helper_dma_user_page_put(dev, self.page, self.bus) };
        } else {
            // SAFETY: Allocated by `rsio_helper_dma_pages_alloc` with these arguments (invariant), freed once.
            unsafe { bindings::rsio_helper_dma_pages_free(dev, self.page, self.order, self.bus) };
        }
    }
}
