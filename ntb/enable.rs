// SPDX-License-Identifier: GPL-2.0

//! Enabling the adapter's PCI function for the time the driver is bound.
//!
//! The kernel crate enables a device (`enable_device_mem`, `set_master`) but
//! has no way back; the PCI core does not disable a device on unbind either.
//! [`Enabled`] pairs the two: it undoes both when dropped, so a failed probe
//! and a remove leave the function as they found it (no bus mastering).

use crate::pci_raw;
use kernel::{
    bindings,
    device::{Bound, Core},
    pci,
    prelude::*,
};

/// The adapter's PCI function with memory decoding and bus mastering on.
///
/// # Invariants
///
/// `pdev` was enabled with `pci_enable_device_mem()` by [`Enabled::new`] and
/// has bus mastering set; neither has been undone.
pub(crate) struct Enabled<'bound> {
    pdev: &'bound pci::Device<Bound>,
}

impl<'bound> Enabled<'bound> {
    /// Enables memory decoding and bus mastering of `pdev`.
    pub(crate) fn new(pdev: &'bound pci::Device<Core<'_>>) -> Result<Self> {
        pdev.enable_device_mem()?;
        pdev.set_master();
        // INVARIANT: both succeeded just above.
        Ok(Self { pdev })
    }
}

impl Drop for Enabled<'_> {
    fn drop(&mut self) {
        // SAFETY: `self.pdev` is a valid, bound `struct pci_dev` (it outlives `'bound`); by the type invariant this object enabled it and set bus mastering, so disabling both balances exactly that.
        unsafe {
            bindings::pci_clear_master(pci_raw::pci_dev(self.pdev));
            bindings::pci_disable_device(pci_raw::pci_dev(self.pdev));
        }
    }
}
