// SPDX-License-Identifier: GPL-2.0

//! [`DmaResource`]: another device's MMIO (an NTB adapter's window, say)
//! mapped for a device's DMA (`dma_map_resource`): with an IOMMU in
//! translated mode the device reaches the range through its default
//! domain, and nothing it was not given; without one the bus address is
//! the physical one.

use crate::bindings;
use kernel::device::{Bound, Device};
use kernel::prelude::*;
use kernel::sync::aref::ARef;

/// A mapping of MMIO for one device's DMA; unmapped on drop.
///
/// # Invariants
///
/// `bus..bus + len` was mapped for `dev` by `dma_map_resource` and is
/// unmapped only by `drop`.
pub struct DmaResource {
    dev: ARef<Device>,
    bus: u64,
    len: u64,
}

impl DmaResource {
    /// Maps `len` bytes of MMIO at physical address `phys` for `dev`'s DMA
    /// (`EINVAL` for an empty range, `ENOMEM` if it cannot be mapped).
    pub fn map(dev: &Device<Bound>, phys: u64, len: u64) -> Result<Self> {
        if len == 0 || phys.checked_add(len).is_none() {
            return Err(EINVAL);
        }
        let mut bus = 0;
        // SAFETY: `dev` is bound (its DMA ops are set up); `bus` is a valid out pointer.
        let r = unsafe {
            bindings::rsio_helper_dma_map_resource(
                crate::device::raw(dev).cast(),
                phys,
                len,
                &mut bus,
            )
        };
        kernel::error::to_result(r)?;
        // INVARIANT: Mapped just now.
        Ok(Self {
            dev: dev.into(),
            bus,
            len,
        })
    }

    /// The bus address the device uses for the range's first byte.
    pub fn bus_addr(&self) -> u64 {
        self.bus
    }
}

impl Drop for DmaResource {
    fn drop(&mut self) {
        // SAFETY: Mapped by `map` for this device (invariant), unmapped once.
        unsafe {
            bindings::rsio_helper_dma_unmap_resource(
                crate::device::raw(&self.dev).cast(),
                self.bus,
                self.len,
            )
        };
    }
}
