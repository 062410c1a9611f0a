// SPDX-License-Identifier: GPL-2.0

//! The memory alias of the direct window (`DIRECT_ALIAS`, docs/adapter.md
//! section 6): another function whose BAR decodes the same memory as BAR4.
//! Device DMA into the direct window targets the alias where the adapter
//! names one (a platform may handle a plain memory BAR better as a DMA
//! target than the adapter's BAR4); CPU accesses keep using BAR4.

use crate::bindings;
use crate::pci_raw;
use core::ptr::NonNull;
use kernel::{device::Bound, pci};

/// `DIRECT_ALIAS.VALID`.
const VALID: u32 = 1 << 31;

/// The alias, held from probe to remove.
///
/// # Invariants
///
/// `dev` was returned by `rsio_ntb_helper_alias_get()`: a referenced
/// `pci_dev` with memory decoding on, released once, by `Drop`.
pub(crate) struct DirectAlias {
    dev: NonNull<kernel::bindings::pci_dev>,
    /// Bus address of the alias's BAR.
    pub(crate) start: u64,
}

// SAFETY: `dev` is a reference-counted `pci_dev`; the helpers that use and
// release it may run on any thread.
unsafe impl Send for DirectAlias {}
// SAFETY: `&DirectAlias` gives access to `start` only.
unsafe impl Sync for DirectAlias {}

impl DirectAlias {
    /// The alias the `DIRECT_ALIAS` value `reg` of adapter `pdev` names,
    /// if valid and at least `len` (BAR4's size) bytes; the helper logs why
    /// not otherwise.
    pub(crate) fn get(pdev: &pci::Device<Bound>, reg: u32, len: u64) -> Option<Self> {
        if reg & VALID == 0 {
            return None;
        }
        let mut start = 0u64;
        // SAFETY: `pdev` is a bound PCI device (valid `pci_dev` for the call); `start` is a valid out-pointer.
        let dev = unsafe {
            bindings::rsio_ntb_helper_alias_get(
                pci_raw::pci_dev(pdev),
                reg & 0xff,
                (reg >> 8) & 7,
                len,
                &mut start,
            )
        };
        // INVARIANT: a non-null result is referenced with memory decoding on.
        NonNull::new(dev).map(|dev| Self { dev, start })
    }
}

impl Drop for DirectAlias {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, `dev` came from `rsio_ntb_helper_alias_get()` and is released only here.
        unsafe { bindings::rsio_ntb_helper_alias_put(self.dev.as_ptr()) };
    }
}
