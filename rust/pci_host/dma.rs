// SPDX-License-Identifier: GPL-2.0

//! DMA: the `dma_map_ops` of the functions below a bridge, every address
//! the owner's translation
//! ([`HostOps::dma_address`](super::HostOps::dma_address)).

use super::host::Host;
use crate::bindings as rb;
use kernel::ffi::{c_int, c_ulong, c_void};
use kernel::{bindings, page::PAGE_SIZE, prelude::*};

/// `DMA_MAPPING_ERROR`.
const MAPPING_ERROR: u64 = u64::MAX;

pub(super) static DMA_OPS: rb::dma_map_ops = rb::dma_map_ops {
    alloc: Some(alloc),
    free: Some(free),
    map_phys: Some(map_phys),
    unmap_phys: Some(unmap_phys),
    map_sg: Some(map_sg),
    unmap_sg: Some(unmap_sg),
    dma_supported: Some(supported),
    get_required_mask: Some(required_mask),
    // SAFETY: All other members are optional callbacks: `None` when zero.
    ..unsafe { core::mem::zeroed() }
};

impl Host {
    /// The DMA address of `[phys, phys + size)` (`mmio`: another device's
    /// BAR), or `DMA_MAPPING_ERROR`.
    fn dma(&self, phys: u64, size: u64, mmio: bool) -> u64 {
        self.ops()
            .dma_address(phys, size, mmio)
            .unwrap_or(MAPPING_ERROR)
    }
}

/// `get_order()`: the order of the pages that hold `size` bytes.
fn order(size: usize) -> u32 {
    size.div_ceil(PAGE_SIZE)
        .next_power_of_two()
        .trailing_zeros()
}

/// # Safety
///
/// The DMA API's call: `dev` is a function below a bridge (these ops are
/// set only on those).
unsafe extern "C" fn map_phys(
    dev: *mut bindings::device,
    phys: bindings::phys_addr_t,
    size: usize,
    _dir: bindings::dma_data_direction,
    attrs: c_ulong,
) -> bindings::dma_addr_t {
    // SAFETY: As the caller guarantees.
    let host = unsafe { Host::of_dev(dev) };
    // DMA_ATTR_MMIO: another device's BAR (peer-to-peer), not RAM.
    let mmio = attrs & bindings::DMA_ATTR_MMIO as c_ulong != 0;
    host.dma(phys, size as u64, mmio)
}

/// Nothing to undo: the owner's translation stays.
extern "C" fn unmap_phys(
    _dev: *mut bindings::device,
    _addr: bindings::dma_addr_t,
    _size: usize,
    _dir: bindings::dma_data_direction,
    _attrs: c_ulong,
) {
}

/// # Safety
///
/// As [`map_phys`]; `sgl` is a list of at least `nents` entries.
unsafe extern "C" fn map_sg(
    dev: *mut bindings::device,
    sgl: *mut bindings::scatterlist,
    nents: c_int,
    _dir: bindings::dma_data_direction,
    _attrs: c_ulong,
) -> c_int {
    // SAFETY: As the caller guarantees.
    let host = unsafe { Host::of_dev(dev) };
    let mut sg = sgl;
    for _ in 0..nents {
        if sg.is_null() {
            // Shorter than the caller said: nothing it could use.
            return EINVAL.to_errno();
        }
        let (mut phys, mut len) = (0, 0);
        // SAFETY: `sg` is an entry of the list (sg_phys(), its length).
        unsafe { rb::rsio_helper_sg_entry(sg, 0, &mut phys, &mut len) };
        let a = host.dma(phys, len.into(), false);
        if a == MAPPING_ERROR {
            return EIO.to_errno();
        }
        // SAFETY: As above; `sg_dma_len()` is `dma_length` (CONFIG_NEED_SG_DMA_LENGTH); the next entry by `sg_next()` (for_each_sg).
        unsafe {
            (*sg).dma_address = a;
            (*sg).dma_length = len;
            sg = bindings::sg_next(sg);
        }
    }
    nents
}

/// Nothing to undo, as [`unmap_phys`].
extern "C" fn unmap_sg(
    _dev: *mut bindings::device,
    _sgl: *mut bindings::scatterlist,
    _nents: c_int,
    _dir: bindings::dma_data_direction,
    _attrs: c_ulong,
) {
}

/// # Safety
///
/// As [`map_phys`]; `handle` is valid for writes.
unsafe extern "C" fn alloc(
    dev: *mut bindings::device,
    size: usize,
    handle: *mut bindings::dma_addr_t,
    gfp: bindings::gfp_t,
    _attrs: c_ulong,
) -> *mut c_void {
    // SAFETY: As the caller guarantees.
    let host = unsafe { Host::of_dev(dev) };
    // The owner's translation decides what is reachable: no zone restrictions.
    let zones = (1 << bindings::___GFP_DMA_BIT)
        | (1 << bindings::___GFP_DMA32_BIT)
        | (1 << bindings::___GFP_HIGHMEM_BIT);
    let gfp = (gfp & !zones) | bindings::__GFP_ZERO;
    let order = order(size);
    let mut phys = 0;
    // SAFETY: No requirements.
    let virt = unsafe { rb::rsio_helper_pages_alloc(gfp, order, &mut phys) };
    if virt.is_null() {
        return virt;
    }
    let a = host.dma(phys, size as u64, false);
    if a == MAPPING_ERROR {
        // SAFETY: Allocated above with this order.
        unsafe { rb::rsio_helper_phys_pages_free(virt, order) };
        return core::ptr::null_mut();
    }
    // SAFETY: `handle` is valid for writes (requirement).
    unsafe { handle.write(a) };
    virt
}

/// # Safety
///
/// The DMA API's call: `vaddr` came from [`alloc`] with `size`.
unsafe extern "C" fn free(
    _dev: *mut bindings::device,
    size: usize,
    vaddr: *mut c_void,
    _handle: bindings::dma_addr_t,
    _attrs: c_ulong,
) {
    // SAFETY: Allocated by `alloc` with this order (requirement).
    unsafe { rb::rsio_helper_phys_pages_free(vaddr, order(size)) };
}

/// # Safety
///
/// As [`map_phys`].
unsafe extern "C" fn supported(dev: *mut bindings::device, mask: u64) -> c_int {
    // SAFETY: As the caller guarantees.
    c_int::from(unsafe { Host::of_dev(dev) }.dma_limit <= mask)
}

/// # Safety
///
/// As [`map_phys`].
unsafe extern "C" fn required_mask(dev: *mut bindings::device) -> u64 {
    // SAFETY: As the caller guarantees.
    let last = unsafe { Host::of_dev(dev) }.dma_limit;
    // All ones up to the highest bit of the last address.
    u64::MAX.checked_shr(last.leading_zeros()).unwrap_or(0)
}
