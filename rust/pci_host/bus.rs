// SPDX-License-Identifier: GPL-2.0

//! The bridge's root bus: created and scanned, started (the functions'
//! drivers probe), its functions' BARs placed, marked disconnected,
//! removed.

use super::{config::PCI_OPS, dma::DMA_OPS, host::Host, HostParams, MAX_WINDOWS};
use crate::device::raw;
use core::ptr::{from_ref, NonNull};
use kernel::{
    bindings,
    device::{Bound, Device},
    prelude::*,
    sync::atomic::{Acquire, Relaxed, Release},
};

/// A function on a bus, referenced (`pci_get_slot()`, `pci_dev_put()`).
///
/// # Invariants
///
/// Holds a reference on the live `pci_dev` it points to.
pub(super) struct Function(NonNull<bindings::pci_dev>);

impl Function {
    /// Function `devfn` of `bus`, if there is one.
    ///
    /// # Safety
    ///
    /// `bus` is a live bus.
    pub(super) unsafe fn get(bus: *mut bindings::pci_bus, devfn: u32) -> Option<Self> {
        // SAFETY: As the caller guarantees; the result is referenced (or null).
        NonNull::new(unsafe { bindings::pci_get_slot(bus, devfn) }).map(Self)
    }

    pub(super) fn as_ptr(&self) -> *mut bindings::pci_dev {
        self.0.as_ptr()
    }

    /// Its `struct device`.
    pub(super) fn dev(&self) -> *mut bindings::device {
        // SAFETY: A live `pci_dev` (invariant).
        unsafe { &raw mut (*self.as_ptr()).dev }
    }

    /// Sets its `error_state` (`pci_channel_io_*`).
    pub(super) fn set_error_state(&self, state: u32) {
        // SAFETY: A live `pci_dev` (invariant); the PCI core reads the field unlocked too.
        unsafe { (*self.as_ptr()).error_state = state };
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        // SAFETY: Our reference (invariant).
        unsafe { bindings::pci_dev_put(self.as_ptr()) };
    }
}

/// The PCI core's rescan/remove lock, held while it lives.
struct RescanLock;

impl RescanLock {
    fn lock() -> Self {
        // SAFETY: No requirements (process context).
        unsafe { bindings::pci_lock_rescan_remove() };
        Self
    }
}

impl Drop for RescanLock {
    fn drop(&mut self) {
        // SAFETY: Locked by `lock`.
        unsafe { bindings::pci_unlock_rescan_remove() };
    }
}

impl Host {
    /// Creates and scans the root bus with the resources `new` set up; its
    /// function 0 gets our DMA ops. `ENODEV` if no function answered.
    pub(super) fn add_bus(&self, parent: &Device<Bound>, p: &HostParams<'_>) -> Result {
        let mut list = bindings::list_head::default();
        let res: *mut bindings::list_head = &raw mut list;
        // SAFETY: LIST_HEAD(): an empty list of the resources, on our stack for the calls below (the bus takes over the entries); the resources are the `Host`'s, which outlives its bus.
        unsafe {
            (*res).next = res;
            (*res).prev = res;
            bindings::pci_add_resource(res, self.busn.get());
            for (i, w) in p.windows.iter().take(MAX_WINDOWS).enumerate() {
                if w.size != 0 {
                    bindings::pci_add_resource(res, self.win[i].get());
                }
            }
        }
        let ops = from_ref(&PCI_OPS).cast_mut();
        // SAFETY: `parent` is bound; the PCI core never writes the ops table; the `sysdata` is the `Host`'s first field (its invariant), and the `Host` outlives the bus.
        let bus = unsafe {
            bindings::pci_create_root_bus(raw(parent), 0, ops, self.sd.get().cast(), res)
        };
        if bus.is_null() {
            // SAFETY: The list is ours still.
            unsafe { bindings::pci_free_resource_list(res) };
            return Err(ENODEV);
        }
        // SAFETY: A live bus: dev_set_msi_domain() of its device; the domain outlives the bus.
        unsafe { (*bus).dev.msi.domain = self.irq_domain };
        let rescan = RescanLock::lock();
        // SAFETY: A live bus, under the rescan lock.
        unsafe { bindings::pci_scan_child_bus(bus) };
        // SAFETY: As above.
        let Some(f) = (unsafe { Function::get(bus, 0) }) else {
            // SAFETY: Created above, under the rescan lock; nobody else has it.
            let bridge = unsafe { remove_root_bus(bus) };
            drop(rescan);
            // SAFETY: The creator's reference on the host bridge (see `remove_bus`).
            unsafe { bindings::put_device(bridge) };
            return Err(ENODEV);
        };
        // Before any driver probes it (drivers match only once added):
        // set_dma_ops(); the kernel crate binds `dma_map_ops` opaque.
        // SAFETY: A live function; the table is static and never written.
        unsafe { (*f.dev()).dma_ops = from_ref(&DMA_OPS).cast_mut().cast() };
        self.bus.store(bus, Release);
        drop(f);
        drop(rescan);
        Ok(())
    }

    /// Claims the functions' resources and adds them to the driver core.
    /// The caller holds the bridge's bus (it exists).
    pub(super) fn start(&self) {
        let _rescan = RescanLock::lock();
        let bus = self.bus.load(Acquire);
        if !bus.is_null() {
            // SAFETY: A live bus (invariant), under the rescan lock.
            unsafe {
                bindings::pci_bus_claim_resources(bus);
                bindings::pci_bus_add_devices(bus);
            }
        }
    }

    /// Sets the range of BAR `bar` of function `devfn`.
    pub(super) fn set_resource(&self, devfn: u32, bar: u32, start: u64, size: u64) -> Result {
        let bus = self.bus.load(Acquire);
        if bus.is_null() {
            return Err(ENODEV);
        }
        // SAFETY: A live bus (invariant; the caller holds the bridge's bus).
        let f = unsafe { Function::get(bus, devfn) }.ok_or(ENODEV)?;
        if bar >= bindings::PCI_STD_NUM_BARS || size == 0 {
            return Err(EINVAL);
        }
        let _rescan = RescanLock::lock();
        // SAFETY: A live function; `bar` is a standard BAR; the rescan lock orders the write against the PCI core's users.
        unsafe {
            let r = &raw mut (*f.as_ptr()).resource[bar as usize];
            (*r).start = start;
            (*r).end = start.wrapping_add(size - 1);
        }
        Ok(())
    }

    /// The link is gone for good: as `pci_dev_set_disconnected()` (not
    /// exported), the PCI core stops waiting for the function (reset polls)
    /// and `pci_device_is_present()` says it is gone.
    pub(super) fn set_disconnected(&self) {
        self.disconnected.store(true, Relaxed);
        // The rescan lock keeps the bus from going meanwhile.
        let _rescan = RescanLock::lock();
        let bus = self.bus.load(Acquire);
        if bus.is_null() {
            return;
        }
        // SAFETY: A live bus (invariant: cleared under the rescan lock before it goes).
        if let Some(f) = unsafe { Function::get(bus, 0) } {
            f.set_error_state(bindings::pci_channel_io_perm_failure);
        }
    }

    /// Unbinds the drivers and removes the bus, once. The caller holds the
    /// bridge's bus (it exists and is marked gone).
    pub(super) fn remove_bus(&self) {
        let rescan = RescanLock::lock();
        let bus = self.bus.load(Acquire);
        if bus.is_null() {
            return;
        }
        self.bus.store(core::ptr::null_mut(), Release);
        // SAFETY: Our live root bus, under the rescan lock; nothing uses it after this.
        let bridge = unsafe { remove_root_bus(bus) };
        drop(rescan);
        // pci_remove_root_bus() only deletes the host bridge device: the
        // reference pci_create_root_bus() gave its creator is ours to drop
        // (the bus drops its own when it is released).
        // SAFETY: That reference, dropped once.
        unsafe { bindings::put_device(bridge) };
    }
}

/// Stops and removes a root bus and its functions; returns its host
/// bridge's device, whose creator's reference the caller drops.
///
/// # Safety
///
/// `bus` is a live root bus of ours, the rescan lock held; nothing uses it
/// afterwards.
unsafe fn remove_root_bus(bus: *mut bindings::pci_bus) -> *mut bindings::device {
    // SAFETY: As the caller guarantees.
    unsafe {
        let bridge = (*bus).bridge;
        bindings::pci_stop_root_bus(bus);
        bindings::pci_remove_root_bus(bus);
        bridge
    }
}
