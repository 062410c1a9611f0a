// SPDX-License-Identifier: GPL-2.0

//! What the kernel crate's PCI abstraction lacks: a vendor id in an ID
//! table, enabling a function for the time a driver is bound (and
//! disabling it again), a reference on another function of a bus, any
//! function by its address ([`PciFunction`]), and a stub driver that takes
//! a function from its driver ([`StubDriver`], [`StubClaim`]).

mod bar_map;
mod function;
mod stub;

pub use bar_map::BarMapping;
pub use function::{BarInfo, PciFunction};
pub use stub::{StubClaim, StubDriver};

use crate::bindings;
use core::ptr::NonNull;
use kernel::{
    device::{Bound, Core, DeviceContext},
    pci,
    prelude::*,
};

/// The [`pci::Vendor`] of a raw vendor id.
pub const fn vendor(id: u16) -> pci::Vendor {
    // SAFETY: `pci::Vendor` is `#[repr(transparent)]` over `u16`, so every `u16` is a valid bit pattern; its one invariant, "a PCI vendor id", holds for any 16-bit value (it is what `Vendor::from_raw()` builds from config space without checks).
    unsafe { core::mem::transmute::<u16, pci::Vendor>(id) }
}

/// The `struct pci_dev` behind `pdev`, valid as long as the borrow is.
pub(crate) fn raw<Ctx: DeviceContext>(pdev: &pci::Device<Ctx>) -> *mut kernel::bindings::pci_dev {
    // CAST: `pci::Device<Ctx>` is `#[repr(transparent)]` over `Opaque<bindings::pci_dev>` (and a
    // zero-sized marker), itself `#[repr(transparent)]`: the same address. The C side may mutate
    // through it, which `Opaque` permits.
    core::ptr::from_ref(pdev)
        .cast::<kernel::bindings::pci_dev>()
        .cast_mut()
}

/// A PCI function with memory decoding and bus mastering on, for as long
/// as its driver is bound; both are turned off again on drop (the PCI core
/// does not disable a device on unbind, and the kernel crate has no way
/// back from `enable_device_mem`).
///
/// # Invariants
///
/// `pdev` was enabled with `pci_enable_device_mem()` by [`Enabled::new`] and
/// has bus mastering set; neither has been undone.
pub struct Enabled<'bound> {
    pdev: &'bound pci::Device<Bound>,
}

impl<'bound> Enabled<'bound> {
    /// Enables memory decoding and bus mastering of `pdev` (in probe).
    pub fn new(pdev: &'bound pci::Device<Core<'_>>) -> Result<Self> {
        pdev.enable_device_mem()?;
        pdev.set_master();
        // INVARIANT: both succeeded just above.
        Ok(Self { pdev })
    }
}

impl Drop for Enabled<'_> {
    fn drop(&mut self) {
        let p = raw(self.pdev);
        // SAFETY: `p` is a valid, bound `struct pci_dev` (it outlives `'bound`); this object enabled it and set bus mastering (invariant): disabling both balances exactly that.
        unsafe {
            kernel::bindings::pci_clear_master(p);
            kernel::bindings::pci_disable_device(p);
        }
    }
}

/// Why [`SlotFunction::get`] found no usable function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotError {
    /// `devfn` or `bar` is out of range.
    Range,
    /// No function at `devfn`.
    Absent,
    /// The function is the caller's own, its BAR is not memory or is too
    /// small.
    Unsuitable,
    /// Memory decoding could not be enabled.
    Enable,
}

/// Another function on the bus of a bound PCI function, referenced, with
/// memory decoding on; both undone on drop.
///
/// # Invariants
///
/// `dev` is a referenced `pci_dev` (`pci_get_slot()`) enabled with
/// `pci_enable_device_mem()`, released once, by `drop`.
pub struct SlotFunction {
    dev: NonNull<kernel::bindings::pci_dev>,
    bar_bus: u64,
}

// SAFETY: A reference-counted `pci_dev`, which may be released from any thread.
unsafe impl Send for SlotFunction {}
// SAFETY: `&SlotFunction` gives access to a number only.
unsafe impl Sync for SlotFunction {}

impl SlotFunction {
    /// Function `devfn` on `pdev`'s bus, if it is not `pdev` and its BAR
    /// `bar` is memory of at least `min_len` bytes.
    pub fn get(
        pdev: &pci::Device<Bound>,
        devfn: u32,
        bar: u32,
        min_len: u64,
    ) -> core::result::Result<Self, SlotError> {
        if devfn > 0xff || bar >= 6 {
            return Err(SlotError::Range);
        }
        let p = raw(pdev);
        // SAFETY: `p` is a bound `pci_dev`, whose bus lives while it does; `pci_get_slot()` returns a referenced function or null.
        let dev = unsafe { kernel::bindings::pci_get_slot((*p).bus, devfn) };
        let dev = NonNull::new(dev).ok_or(SlotError::Absent)?;
        let put = |e| {
            // SAFETY: The reference `pci_get_slot()` returned above.
            unsafe { kernel::bindings::pci_dev_put(dev.as_ptr()) };
            Err(e)
        };
        let bar = bar as i32;
        // SAFETY: `dev` is a referenced `pci_dev`; these read its resources.
        let (flags, len) = unsafe {
            (
                bindings::rsio_helper_pci_resource_flags(dev.as_ptr(), bar),
                kernel::bindings::pci_resource_len(dev.as_ptr(), bar),
            )
        };
        if dev.as_ptr() == p
            || flags & kernel::bindings::IORESOURCE_MEM as kernel::ffi::c_ulong == 0
            || len < min_len
        {
            return put(SlotError::Unsuitable);
        }
        // SAFETY: `dev` is a referenced `pci_dev`.
        if unsafe { kernel::bindings::pci_enable_device_mem(dev.as_ptr()) } != 0 {
            return put(SlotError::Enable);
        }
        // SAFETY: As above.
        let bar_bus = unsafe { bindings::rsio_helper_pci_bus_address(dev.as_ptr(), bar) };
        // INVARIANT: referenced and enabled just now.
        Ok(Self { dev, bar_bus })
    }

    /// The bus address of the BAR [`SlotFunction::get`] checked.
    pub fn bar_bus_address(&self) -> u64 {
        self.bar_bus
    }

    /// The function's device, for log messages.
    pub fn device(&self) -> &kernel::device::Device {
        // SAFETY: `dev` is referenced (invariant) for as long as `self` lives; its embedded `struct device` too.
        unsafe { kernel::device::Device::from_raw(&raw mut (*self.dev.as_ptr()).dev) }
    }
}

impl Drop for SlotFunction {
    fn drop(&mut self) {
        // SAFETY: Enabled and referenced by `get` (invariant), released once.
        unsafe {
            kernel::bindings::pci_disable_device(self.dev.as_ptr());
            kernel::bindings::pci_dev_put(self.dev.as_ptr());
        }
    }
}
