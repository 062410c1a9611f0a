// SPDX-License-Identifier: GPL-2.0

//! What the kernel crate's PCI abstraction keeps private but this driver
//! needs: its vendor id in an ID table, and the raw `struct pci_dev` for the
//! C APIs the kernel crate does not wrap (`pci_disable_device`, the NTB core).
//!
//! Both rely only on the `#[repr(transparent)]` layouts the kernel crate
//! documents for [`pci::Vendor`] and [`pci::Device`]. They go away once the
//! kernel crate exports the equivalents (docs/ntb-driver.md, open items).

use kernel::{bindings, device::DeviceContext, pci};

/// The [`pci::Vendor`] of a raw vendor id.
pub(crate) const fn vendor(id: u16) -> pci::Vendor {
    // SAFETY: `pci::Vendor` is `#[repr(transparent)]` over `u16`, so every `u16` is a valid bit pattern; its one invariant, "a PCI vendor id", holds for any 16-bit value (it is what `Vendor::from_raw()` builds from config space without checks).
    unsafe { core::mem::transmute::<u16, pci::Vendor>(id) }
}

/// The `struct pci_dev` behind `pdev`, for C calls.
///
/// The pointer is valid as long as the borrow `pdev` is.
pub(crate) fn pci_dev<Ctx: DeviceContext>(pdev: &pci::Device<Ctx>) -> *mut bindings::pci_dev {
    // CAST: `pci::Device<Ctx>` is a `#[repr(transparent)]` wrapper of
    // `Opaque<bindings::pci_dev>` (and a zero-sized marker), which is itself
    // `#[repr(transparent)]` over the `struct pci_dev`: same address. The C
    // side may mutate through it, which `Opaque` permits.
    core::ptr::from_ref(pdev)
        .cast::<bindings::pci_dev>()
        .cast_mut()
}
