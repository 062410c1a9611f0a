// SPDX-License-Identifier: GPL-2.0

//! What an IOMMU can do for a device ([`isolation`]), and [`Confinement`]:
//! a paging domain of a device's own in which only given ranges are
//! mapped, one to one, so that its DMA reaches nothing else.

use crate::device::raw;
use core::ptr::NonNull;
use kernel::{device::Device, error::to_result, prelude::*};

/// What the IOMMU can do for a device.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Isolation {
    /// No IOMMU translates its DMA.
    None,
    /// Its IOMMU group holds other devices: no domain of its own.
    Shared,
    /// It can be confined to a domain of its own.
    Own,
}

/// `iommu_group_for_each_dev` callback: counts the devices.
///
/// # Safety
///
/// `data` is a `u32` counter of the caller.
unsafe extern "C" fn count_dev(
    _dev: *mut kernel::bindings::device,
    data: *mut core::ffi::c_void,
) -> core::ffi::c_int {
    // SAFETY: `data` is the caller's counter (requirement).
    unsafe { *data.cast::<u32>() += 1 };
    0
}

/// What the IOMMU can do for `dev`.
pub fn isolation(dev: &Device) -> Isolation {
    let d = raw(dev);
    // SAFETY: `dev` is live; `iommu_group` is set by the IOMMU core before drivers bind (`device_iommu_mapped()`).
    if unsafe { (*d).iommu_group.is_null() } {
        return Isolation::None;
    }
    // SAFETY: `dev` is live; returns a referenced group or null.
    let group = unsafe { kernel::bindings::iommu_group_get(d) };
    if group.is_null() {
        return Isolation::None;
    }
    let mut n = 0u32;
    // SAFETY: `group` is referenced; `count_dev` gets our counter, which outlives the call.
    unsafe {
        kernel::bindings::iommu_group_for_each_dev(
            group,
            core::ptr::from_mut(&mut n).cast(),
            Some(count_dev),
        );
        kernel::bindings::iommu_group_put(group);
    }
    if n == 1 {
        Isolation::Own
    } else {
        Isolation::Shared
    }
}

/// A device whose DMA reaches only what its own paging domain maps; put
/// back in its default domain on drop (stop the device first).
///
/// # Invariants
///
/// `dom` is a paging domain attached to `dev` (which this object keeps
/// referenced), detached and freed only by `drop`.
pub struct Confinement {
    dev: kernel::sync::aref::ARef<Device>,
    dom: NonNull<kernel::bindings::iommu_domain>,
}

// SAFETY: The IOMMU API may map, detach and free a domain from any thread that may sleep.
unsafe impl Send for Confinement {}
// SAFETY: `map`/`unmap` lock inside the IOMMU API.
unsafe impl Sync for Confinement {}

impl Confinement {
    /// Confines `dev` (bound to a driver, with an IOMMU group of its own)
    /// to `ranges` (bus address, length; page-aligned), mapped one to one:
    /// `ENODEV` without an IOMMU, `EBUSY` for a shared group, `EINVAL` for a
    /// range not page-aligned or outside the domain's aperture, else the
    /// IOMMU API's error.
    pub fn new(dev: &Device<kernel::device::Bound>, ranges: &[(u64, u64)]) -> Result<Self> {
        match isolation(dev) {
            Isolation::None => return Err(ENODEV),
            Isolation::Shared => return Err(EBUSY),
            Isolation::Own => {}
        }
        // SAFETY: `dev` is live and has an IOMMU group; returns a domain or an ERR_PTR.
        let p = unsafe { kernel::bindings::iommu_paging_domain_alloc_flags(raw(dev), 0) };
        let dom = NonNull::new(kernel::error::from_err_ptr(p)?).ok_or(ENOMEM)?;
        // INVARIANT: attached below before the object is returned; `Drop` detaching an unattached
        // domain is avoided by freeing directly on failure.
        let free = |e: Error| {
            // SAFETY: Not attached; freeing a paging domain frees its mappings.
            unsafe { kernel::bindings::iommu_domain_free(dom.as_ptr()) };
            Err(e)
        };
        for &(start, len) in ranges {
            if let Err(e) = map_range(dom, start, len, false) {
                return free(e);
            }
        }
        // SAFETY: `dom` is a paging domain for `dev`'s IOMMU; `dev` is bound to a driver, as `iommu_attach_device()` wants.
        let attached = unsafe { kernel::bindings::iommu_attach_device(dom.as_ptr(), raw(dev)) };
        if let Err(e) = to_result(attached) {
            return free(e);
        }
        Ok(Self {
            dev: kernel::sync::aref::ARef::from(&**dev),
            dom,
        })
    }

    /// Admits `[start, start + len)` of MMIO too (page-aligned, one to
    /// one).
    pub fn map(&self, start: u64, len: u64) -> Result {
        map_range(self.dom, start, len, false)
    }

    /// Admits `[start, start + len)` of RAM too (page-aligned, one to one,
    /// cache-coherent): physical pages the device reaches by their
    /// physical address, e.g. `PhysPages`.
    pub fn map_ram(&self, start: u64, len: u64) -> Result {
        map_range(self.dom, start, len, true)
    }

    /// Takes a range of [`Confinement::map`] away again.
    pub fn unmap(&self, start: u64, len: u64) {
        // SAFETY: `dom` is a live domain of ours (invariant).
        let n = unsafe {
            kernel::bindings::iommu_unmap(self.dom.as_ptr(), start as usize, len as usize)
        };
        if n as u64 != len {
            pr_warn!("IOMMU range {:#x}+{:#x} not fully unmapped\n", start, len);
        }
    }
}

/// Maps `[start, start + len)` one to one in `dom`, readable and
/// writable: as MMIO (windows of an adapter), or as coherent RAM if `ram`.
fn map_range(
    dom: NonNull<kernel::bindings::iommu_domain>,
    start: u64,
    len: u64,
    ram: bool,
) -> Result {
    let page = kernel::page::PAGE_SIZE as u64;
    // SAFETY: `dom` is a live domain (callers' invariants); the geometry is fixed at allocation.
    let g = unsafe { (*dom.as_ptr()).geometry };
    let end = start.checked_add(len).ok_or(EINVAL)?;
    if len == 0
        || start % page != 0
        || len % page != 0
        || start < g.aperture_start
        || end - 1 > g.aperture_end
    {
        return Err(EINVAL);
    }
    let kind = if ram {
        kernel::bindings::IOMMU_CACHE
    } else {
        kernel::bindings::IOMMU_MMIO
    };
    let prot = (kernel::bindings::IOMMU_READ | kernel::bindings::IOMMU_WRITE | kind) as i32;
    // SAFETY: `dom` is live; the range was checked against its aperture.
    to_result(unsafe {
        kernel::bindings::iommu_map(
            dom.as_ptr(),
            start as usize,
            start,
            len as usize,
            prot,
            kernel::bindings::GFP_KERNEL,
        )
    })
}

impl Drop for Confinement {
    fn drop(&mut self) {
        // SAFETY: Attached to `dev` by `new` (invariant), undone once; the device goes back to its default domain.
        unsafe {
            kernel::bindings::iommu_detach_device(self.dom.as_ptr(), raw(&self.dev));
            kernel::bindings::iommu_domain_free(self.dom.as_ptr());
        }
    }
}
