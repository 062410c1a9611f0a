// SPDX-License-Identifier: GPL-2.0

//! The memory alias of the direct window (`DIRECT_ALIAS`, docs/adapter.md
//! section 6): another function whose BAR decodes the same memory as BAR4.
//! Device DMA into the direct window targets the alias where the adapter
//! names one (a platform may handle a plain memory BAR better as a DMA
//! target than the adapter's BAR4); CPU accesses keep using BAR4.

use crate::regs;
use kernel::{device::Bound, pci, prelude::*};
use rsio_kernel::pci::{SlotError, SlotFunction};

/// The alias, held (referenced, memory decoding on) from probe to remove.
pub(crate) struct DirectAlias(SlotFunction);

impl DirectAlias {
    /// The alias the `DIRECT_ALIAS` value `reg` of adapter `pdev` names,
    /// if valid and at least `len` (BAR4's size) bytes; logs why not
    /// otherwise.
    pub(crate) fn get(
        pdev: &pci::Device<Bound>,
        reg: regs::DIRECT_ALIAS,
        len: u64,
    ) -> Option<Self> {
        if !reg.valid() {
            return None;
        }
        let (devfn, bar) = (reg.devfn().get(), reg.bar().get());
        let (slot, func) = (devfn >> 3, devfn & 7);
        match SlotFunction::get(pdev, devfn, bar, len) {
            Ok(f) => Some(Self(f)),
            Err(e) => {
                let why = match e {
                    SlotError::Range => "out of range",
                    SlotError::Absent => "absent",
                    SlotError::Unsuitable => "not a memory BAR of at least BAR4's size",
                    SlotError::Enable => "memory decoding cannot be enabled",
                };
                dev_warn!(
                    pdev,
                    "DIRECT_ALIAS names {:02x}.{} BAR {}: {}; no alias\n",
                    slot,
                    func,
                    bar,
                    why
                );
                None
            }
        }
    }

    /// Bus address of the alias's BAR.
    pub(crate) fn start(&self) -> u64 {
        self.0.bar_bus_address()
    }
}
