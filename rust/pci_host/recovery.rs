// SPDX-License-Identifier: GPL-2.0

//! Error recovery of function 0: what `drivers/pci/pcie/err.c` does for
//! one device after an uncorrectable error (`pcie_do_recovery()` is not
//! exported): the driver learns that its reads returned all-ones because
//! the link failed them, and gets the chance to reset and resume.

use super::{bus::Function, host::Host, Recovery};
use crate::bindings as rb;
use kernel::{
    bindings::{self, pci_ers_result_t as Ers},
    device::Device,
    prelude::*,
    str::CStrExt,
    sync::atomic::Relaxed,
};

const NONE: Ers = bindings::pci_ers_result_PCI_ERS_RESULT_NONE;
const CAN_RECOVER: Ers = bindings::pci_ers_result_PCI_ERS_RESULT_CAN_RECOVER;
const NEED_RESET: Ers = bindings::pci_ers_result_PCI_ERS_RESULT_NEED_RESET;
const DISCONNECT: Ers = bindings::pci_ers_result_PCI_ERS_RESULT_DISCONNECT;
const RECOVERED: Ers = bindings::pci_ers_result_PCI_ERS_RESULT_RECOVERED;

/// The function's device lock, held while it lives.
struct DeviceLock<'a>(&'a Function);

impl<'a> DeviceLock<'a> {
    fn lock(f: &'a Function) -> Self {
        // SAFETY: A live device (referenced); process context.
        unsafe { rb::rsio_helper_device_lock(f.dev()) };
        Self(f)
    }
}

impl Drop for DeviceLock<'_> {
    fn drop(&mut self) {
        // SAFETY: Locked by `lock`.
        unsafe { rb::rsio_helper_device_unlock(self.0.dev()) };
    }
}

impl Host {
    fn disconnected(&self) -> bool {
        self.disconnected.load(Relaxed)
    }

    /// The function's error state, unless the bridge is disconnected (then
    /// it stays `pci_channel_io_perm_failure`, which also ends the PCI
    /// core's waits at once).
    fn set_io_state(&self, f: &Function, state: u32) {
        if !self.disconnected() {
            f.set_error_state(state);
        }
    }

    /// PCI error recovery of function 0 (see [`super::HostBridge::recover`]).
    /// The caller holds the bridge's bus (it exists).
    pub(super) fn recover(&self, wait_answer: &dyn Fn() -> bool) -> Recovery {
        let bus = self.bus.load(kernel::sync::atomic::Acquire);
        if bus.is_null() {
            return Recovery::NoDriver;
        }
        // SAFETY: A live bus (the caller holds it).
        let Some(f) = (unsafe { Function::get(bus, 0) }) else {
            return Recovery::NoDriver;
        };
        let res = {
            let _lock = DeviceLock::lock(&f);
            let res = self.recover_device(&f, wait_answer);
            if res != RECOVERED && res != NONE {
                self.set_io_state(&f, bindings::pci_channel_io_perm_failure);
            }
            res
        };
        if res == RECOVERED {
            Recovery::Recovered
        } else if res == NONE {
            Recovery::NoDriver
        } else if self.disconnected() {
            // A disconnected bridge's function is removed by its owner.
            Recovery::Failed
        } else {
            // SAFETY: A live device, not locked by us any more.
            unsafe { bindings::device_release_driver(f.dev()) };
            // A later rebind starts from a working state.
            self.set_io_state(&f, bindings::pci_channel_io_normal);
            Recovery::Unbound
        }
    }

    /// The sequence for one function, its device lock held.
    fn recover_device(&self, f: &Function, wait_answer: &dyn Fn() -> bool) -> Ers {
        let pdev = f.as_ptr();
        // SAFETY: A live function; its driver (and its tables) stay bound under the device lock.
        let Some(drv) = (unsafe { (*pdev).driver.as_ref() }) else {
            return NONE;
        };
        // SAFETY: As above.
        let eh: Option<&bindings::pci_error_handlers> = unsafe { drv.err_handler.as_ref() };
        self.set_io_state(f, bindings::pci_channel_io_frozen);
        // SAFETY: A live device, referenced for as long as `f` is.
        let dev: &Device = unsafe { Device::from_raw(f.dev()) };
        let Some((eh, detected)) = eh.and_then(|eh| Some((eh, eh.error_detected?))) else {
            // SAFETY: A driver's name is a static C string.
            let name = unsafe { CStr::from_char_ptr(drv.name) };
            dev_err!(
                dev,
                "driver {} has no error handlers\n",
                name.to_str().unwrap_or("?")
            );
            return DISCONNECT;
        };
        // SAFETY: The bound driver's callback, with its device locked (as err.c calls it).
        let mut res = unsafe { detected(pdev, bindings::pci_channel_io_frozen) };
        if res != DISCONNECT && !wait_answer() {
            return DISCONNECT;
        }
        if let (CAN_RECOVER, Some(mmio_enabled)) = (res, eh.mmio_enabled) {
            self.set_io_state(f, bindings::pci_channel_io_normal);
            // SAFETY: As above.
            res = unsafe { mmio_enabled(pdev) };
        }
        if res == NEED_RESET {
            // Through the bridge, like any config access: FLR or what the
            // PCI core finds, as AER's bus reset: without the driver's
            // reset_prepare/reset_done (slot_reset restores the state),
            // which are for resets outside recovery (nvme's would wait for
            // its reset work under the device lock held here).
            // SAFETY: A live function, its device lock held.
            if self.disconnected() || unsafe { bindings::__pci_reset_function_locked(pdev) } != 0 {
                dev_err!(dev, "the function could not be reset\n");
                return DISCONNECT;
            }
            self.set_io_state(f, bindings::pci_channel_io_normal);
            res = match eh.slot_reset {
                // SAFETY: As above.
                Some(slot_reset) => unsafe { slot_reset(pdev) },
                None => RECOVERED,
            };
        }
        if res == CAN_RECOVER {
            res = RECOVERED;
        }
        if res == RECOVERED && self.disconnected() {
            res = DISCONNECT;
        }
        if res == RECOVERED {
            self.set_io_state(f, bindings::pci_channel_io_normal);
            if let Some(resume) = eh.resume {
                // SAFETY: As above.
                unsafe { resume(pdev) };
            }
        }
        res
    }
}
