// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers of the C helpers (helpers.h): the stub PCI driver, a
//! claimed function, and the caller's credentials. Nothing else calls
//! `bindings`.

use crate::bindings;
use kernel::error::to_result;
use kernel::prelude::*;

/// A claimed function's identity and BARs.
pub(crate) type Info = bindings::rsio_lend_info;

/// The stub driver `rsio_lend`, registered while this lives.
pub(crate) struct StubDriver(());

impl StubDriver {
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: Registers a static driver; unregistered once, on drop.
        to_result(unsafe { bindings::rsio_lend_driver_register() })?;
        Ok(Self(()))
    }
}

impl Drop for StubDriver {
    fn drop(&mut self) {
        // SAFETY: Registered by `register` (the only constructor), not yet unregistered.
        unsafe { bindings::rsio_lend_driver_unregister() };
    }
}

/// A function bound to the stub driver, with a reference; given back to
/// its native driver on drop.
///
/// # Invariants
///
/// `pdev` came from a successful `rsio_lend_claim` and is released only by
/// `drop`.
pub(crate) struct Claimed {
    pdev: *mut kernel::bindings::pci_dev,
}

// SAFETY: A reference on a `pci_dev`, which the PCI core lets any thread
// use and drop.
unsafe impl Send for Claimed {}
// SAFETY: `&Claimed` gives no access to the device.
unsafe impl Sync for Claimed {}

impl Claimed {
    /// Claims `domain:bus:devfn` for the stub driver (see helpers.h for
    /// the errors).
    pub(crate) fn claim(domain: u32, bus: u32, devfn: u32) -> Result<(Self, Info)> {
        let mut pdev = core::ptr::null_mut();
        let mut info = Info::default();
        // SAFETY: The out pointers are valid; the numbers are checked by the helper.
        to_result(unsafe { bindings::rsio_lend_claim(domain, bus, devfn, &mut pdev, &mut info) })?;
        // INVARIANT: claimed just now.
        Ok((Self { pdev }, info))
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `pdev` is a claimed function, released only here.
        unsafe { bindings::rsio_lend_release(self.pdev) };
    }
}

/// Whether the caller has `CAP_SYS_ADMIN`.
pub(crate) fn capable_admin() -> bool {
    // SAFETY: No arguments; checks the current task's credentials.
    unsafe { bindings::rsio_lend_capable_admin() }
}
