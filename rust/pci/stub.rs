// SPDX-License-Identifier: GPL-2.0

//! [`StubDriver`]: a PCI driver that matches nothing by id, binds only
//! functions whose `driver_override` names it, and does nothing with them
//! but hold them away from their native driver; and [`StubClaim`], a
//! function taken from its driver for the stub and given back on drop.

use super::{BarInfo, PciFunction};
use crate::{
    coherent::CoherentBuf, device::raw, dma_resource::DmaResource, io_mem::IoMem,
    iommu::Confinement,
};
use kernel::{
    device::{Bound, Device},
    error::to_result,
    prelude::*,
    types::Opaque,
};

/// The empty ID table of every stub driver (one zero terminator).
static NO_IDS: [kernel::bindings::pci_device_id; 1] = [kernel::bindings::pci_device_id {
    vendor: 0,
    device: 0,
    subvendor: 0,
    subdevice: 0,
    class: 0,
    class_mask: 0,
    driver_data: 0,
    override_only: 0,
}];

/// A registered stub driver; unregistered on drop (which unbinds every
/// function it holds).
///
/// # Invariants
///
/// `drv` is registered with the PCI core from the end of `register` until
/// `drop`, at a pinned address.
#[pin_data(PinnedDrop)]
pub struct StubDriver {
    #[pin]
    drv: Opaque<kernel::bindings::pci_driver>,
    name: &'static CStr,
}

// SAFETY: The driver structure is only used by the PCI core, which locks what it changes.
unsafe impl Send for StubDriver {}
// SAFETY: As above; `&StubDriver` only reads the name and compares addresses.
unsafe impl Sync for StubDriver {}

/// The stub's probe: it takes every function offered (only
/// `driver_override` offers any).
///
/// # Safety
///
/// Called by the PCI core with a function being bound.
unsafe extern "C" fn stub_probe(
    pdev: *mut kernel::bindings::pci_dev,
    _id: *const kernel::bindings::pci_device_id,
) -> core::ffi::c_int {
    // SAFETY: `pdev` is live during probe (requirement).
    let dev: &Device = unsafe { Device::from_raw(&raw mut (*pdev).dev) };
    dev_info!(dev, "held by a stub driver\n");
    0
}

/// The stub's remove: nothing to undo.
///
/// # Safety
///
/// Called by the PCI core with a function being unbound.
unsafe extern "C" fn stub_remove(_pdev: *mut kernel::bindings::pci_dev) {}

impl StubDriver {
    /// Registers a stub driver called `name` for `module`.
    pub fn register(name: &'static CStr, module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            name,
            drv <- Opaque::ffi_init(|slot: *mut kernel::bindings::pci_driver| {
                // SAFETY: `slot` is valid for writes of a `pci_driver`, plain C data for which all zeroes is an unregistered driver.
                unsafe {
                    slot.write_bytes(0, 1);
                    (*slot).name = name.as_char_ptr();
                    (*slot).id_table = NO_IDS.as_ptr();
                    (*slot).probe = Some(stub_probe);
                    (*slot).remove = Some(stub_remove);
                }
            }),
            _: {
                // INVARIANT: filled in above, pinned; unregistered by `drop`.
                // SAFETY: `drv` is a filled-in driver at a pinned address that outlives its registration; `name` is static.
                to_result(unsafe {
                    kernel::bindings::__pci_register_driver(
                        drv.get(),
                        module.as_ptr(),
                        name.as_char_ptr(),
                    )
                })?;
            },
        })
    }

    /// The driver's name.
    pub fn name(&self) -> &'static CStr {
        self.name
    }

    /// Takes `f` from its driver for the stub: `driver_override`, unbind,
    /// bind (`EBUSY` if the stub did not get it: the override is undone and
    /// the function's driver probed again).
    pub fn claim(&self, f: PciFunction) -> Result<StubClaim> {
        let dev = raw(f.device());
        let name = self.name.to_bytes();
        // SAFETY: `dev` is live (referenced); the override is copied.
        to_result(unsafe {
            kernel::bindings::__device_set_driver_override(dev, self.name.as_char_ptr(), name.len())
        })?;
        // SAFETY: `dev` is live; these take the device lock themselves.
        let ret = unsafe {
            kernel::bindings::device_release_driver(dev);
            kernel::bindings::device_attach(dev)
        };
        // SAFETY: `dev` is live; a snapshot of its driver pointer.
        let driver = unsafe { core::ptr::read_volatile(&raw const (*dev).driver) };
        // SAFETY: `drv` is our registered driver: its embedded `device_driver` is what a bound device points at.
        let ours = unsafe { &raw mut (*self.drv.get()).driver };
        if ret < 0 || driver != ours {
            dev_warn!(f.device(), "the stub driver did not bind it ({})\n", ret);
            give_back(&f);
            return Err(EBUSY);
        }
        Ok(StubClaim { f, drv: ours })
    }
}

#[pinned_drop]
impl PinnedDrop for StubDriver {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Registered (invariant); this unbinds every function it holds.
        unsafe { kernel::bindings::pci_unregister_driver(self.drv.get()) };
    }
}

/// Clears `f`'s driver override, unbinds it and lets its native driver
/// probe it again.
fn give_back(f: &PciFunction) {
    let dev = raw(f.device());
    // SAFETY: `dev` is live (referenced); an empty override clears it; the others lock themselves.
    let ret = unsafe {
        kernel::bindings::__device_set_driver_override(dev, c"".as_char_ptr(), 0);
        kernel::bindings::device_release_driver(dev);
        kernel::bindings::device_attach(dev)
    };
    if ret < 0 {
        dev_warn!(f.device(), "re-probing its driver failed ({})\n", ret);
    }
}

/// A function bound to a [`StubDriver`]: what its owner may do with it
/// (config writes, resets, BAR mappings, IOMMU confinement) while no other
/// driver can. Given back to its native driver on drop (after the
/// owner's own cleanup, e.g. a reset).
pub struct StubClaim {
    f: PciFunction,
    /// The stub's `device_driver`, which the function is bound to unless
    /// someone unbound it since (sysfs).
    drv: *mut kernel::bindings::device_driver,
}

// SAFETY: `drv` is only compared with the function's driver pointer, never dereferenced.
unsafe impl Send for StubClaim {}
// SAFETY: As above.
unsafe impl Sync for StubClaim {}

impl core::ops::Deref for StubClaim {
    type Target = PciFunction;

    fn deref(&self) -> &PciFunction {
        &self.f
    }
}

impl StubClaim {
    /// Runs `f` with the function as a bound device, while the stub holds
    /// it (`ENODEV` if it was unbound meanwhile, e.g. through sysfs).
    fn with_bound<R>(&self, f: impl FnOnce(&Device<Bound>) -> R) -> Result<R> {
        let dev = raw(self.f.device());
        // SAFETY: `dev` is live (referenced); the device lock keeps its driver bound while held.
        unsafe { crate::bindings::rsio_helper_device_lock(dev) };
        // SAFETY: Stable under the device lock.
        let held = unsafe { (*dev).driver } == self.drv;
        let r = if held {
            // SAFETY: Bound to the stub (checked above) for as long as the device lock is held, which outlives the reference.
            Ok(f(unsafe { self.f.device().as_bound() }))
        } else {
            Err(ENODEV)
        };
        // SAFETY: Locked above.
        unsafe { crate::bindings::rsio_helper_device_unlock(dev) };
        r
    }

    /// Writes config word `val` at `off`.
    pub fn config_write16(&self, off: u16, val: u16) {
        // SAFETY: A function we hold; the PCI core locks config accesses.
        unsafe { kernel::bindings::pci_write_config_word(self.raw(), off.into(), val) };
    }

    /// Saves its config state (`pci_save_state`), to restore after a
    /// reset the PCI core does not know.
    pub fn save_state(&self) {
        // SAFETY: A function we hold.
        unsafe { kernel::bindings::pci_save_state(self.raw()) };
    }

    /// Restores the state [`StubClaim::save_state`] saved, and saves it
    /// again (a restore consumes it).
    pub fn restore_state(&self) {
        // SAFETY: A function we hold.
        unsafe {
            kernel::bindings::pci_restore_state(self.raw());
            kernel::bindings::pci_save_state(self.raw());
        }
    }

    /// The PCI core's reset (`pci_reset_function`: FLR or what else it
    /// knows, with the config state saved and restored around it).
    pub fn reset_function(&self) -> Result {
        // SAFETY: A function we hold; it takes the device lock itself.
        to_result(unsafe { kernel::bindings::pci_reset_function(self.raw()) })
    }

    /// Maps `len` bytes at `offset` of memory BAR `bar`, with memory
    /// decoding on for as long as the mapping lives (`ENOTTY`: no such
    /// memory BAR of that size).
    pub fn map_bar(&self, bar: u32, offset: u64, len: usize) -> Result<super::BarMapping<'_>> {
        super::BarMapping::new(self, bar, offset, len)
    }

    /// Confines its DMA to `ranges` (see [`Confinement::new`]).
    pub fn confine(&self, ranges: &[(u64, u64)]) -> Result<Confinement> {
        self.with_bound(|dev| Confinement::new(dev, ranges))?
    }

    /// Coherent DMA memory of the function (`CoherentBuf::alloc`), while
    /// the stub holds it (`ENODEV` otherwise).
    pub fn coherent(&self, size: usize) -> Result<CoherentBuf> {
        self.with_bound(|dev| CoherentBuf::alloc(dev, size))?
    }

    /// An uncached mapping of `len` bytes at `offset` of memory BAR `bar`
    /// that lives on its own (not borrowing the claim): for registers used
    /// from another context, e.g. doorbells. Memory decoding is the
    /// owner's to turn on (`ENOTTY`: no such memory BAR or range).
    pub fn iomem(&self, bar: u32, offset: u64, len: usize) -> Result<IoMem> {
        let b = self.f.bar(bar);
        let end = offset.checked_add(len as u64).ok_or(EINVAL)?;
        if b.len == 0 || b.io || end > b.len {
            return Err(ENOTTY);
        }
        self.with_bound(|dev| {
            let pdev: &kernel::pci::Device<Bound> = dev.try_into()?;
            let start = pdev.resource_start(bar)?;
            IoMem::map(pdev, start.checked_add(offset).ok_or(EINVAL)?, len)
        })?
    }

    /// Sets the function's DMA mask (streaming and coherent) to `bits`
    /// bits, as a driver's probe would (`EIO` if the platform cannot).
    pub fn set_dma_mask(&self, bits: u32) -> Result {
        if !(32..=64).contains(&bits) {
            return Err(EINVAL);
        }
        self.with_bound(|dev| {
            // SAFETY: A bound device; the helper sets its masks under the DMA API's rules.
            to_result(unsafe { crate::bindings::rsio_helper_dma_set_mask(raw(dev).cast(), bits) })
        })?
    }

    /// Maps `len` bytes of another device's MMIO at `phys` for the
    /// function's DMA (`DmaResource::map`), while the stub holds it.
    pub fn map_resource(&self, phys: u64, len: u64) -> Result<DmaResource> {
        self.with_bound(|dev| DmaResource::map(dev, phys, len))?
    }

    /// BAR `bar` (as [`PciFunction::bar`]).
    pub fn bar_info(&self, bar: u32) -> BarInfo {
        self.f.bar(bar)
    }
}

impl Drop for StubClaim {
    fn drop(&mut self) {
        give_back(&self.f);
    }
}
