// SPDX-License-Identifier: GPL-2.0

//! Register-level access to one RSIO-NTB1 adapter (docs/adapter.md).
//!
//! [`Regs`] borrows the BAR0 mapping (owned by the [`crate::adapter::Adapter`])
//! and exposes the registers as typed, safe operations; every offset comes
//! from `regs.rs`. Register values read from
//! the device are treated as untrusted: nothing here can panic on them.

use crate::regs;
use kernel::{device::Bound, io::Io, pci, prelude::*};

/// BAR0 of the adapter, bounds-checked at compile time for constant offsets.
pub(crate) type Bar0<'bound> = pci::Bar<'bound, { regs::BAR0_SIZE }>;

/// What the adapter reports about itself and its fabric (section 4.1).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    /// `VERSION.minor` (the major is checked to be 1).
    pub(crate) version_minor: u32,
    /// This node's id, `< num_nodes`.
    pub(crate) node_id: u32,
    /// Nodes in the fabric, `2..=16`.
    pub(crate) num_nodes: u32,
    /// `CAPS` bits.
    pub(crate) caps: u32,
    /// Translated-window slots.
    pub(crate) lut_slots: u32,
    /// log2 of a slot's size.
    pub(crate) slot_shift: u32,
    /// Inbound windows.
    pub(crate) in_windows: u32,
    /// DMA channels.
    pub(crate) dma_channels: u32,
    /// Multicast groups.
    pub(crate) mc_groups: u32,
    /// log2 of a node's span in BAR4 (0: no direct window).
    pub(crate) direct_shift: u32,
    /// Bit n: node n's memory is in BAR4.
    pub(crate) direct_nodes: u32,
    /// `DIRECT_ALIAS`: where device DMA into the direct window goes.
    pub(crate) direct_alias: u32,
}

/// A report of `ERR_STATUS` and the first error's details (section 4.1).
#[derive(Clone, Copy, Debug)]
pub struct ErrorReport {
    /// The `ERR_STATUS` bits that were set (and are now cleared).
    pub status: u32,
    /// `ERR_ADDR`: the offset or bus address of the first error.
    pub addr: u64,
    /// `ERR_INFO` of the first error: bits 3:0 its bit number, 8 set for a
    /// DMA access, 19:16 the target node.
    pub info: u32,
}

/// The adapter's BAR0 registers.
#[derive(Clone, Copy)]
pub(crate) struct Regs<'a> {
    bar: &'a Bar0<'a>,
}

impl<'a> Regs<'a> {
    /// Wraps the mapping of BAR0.
    pub(crate) fn new(bar: &'a Bar0<'a>) -> Self {
        Self { bar }
    }

    /// Checks the adapter's identity and reads its geometry.
    ///
    /// Fails with `ENODEV` (and says why) if `ID` is not "RSIO", `VERSION` is
    /// not major 1, or the topology registers are out of their documented
    /// ranges (a device that does not behave as the datasheet says).
    pub(crate) fn identify(&self, pdev: &pci::Device<Bound>) -> Result<Geometry> {
        let bar = self.bar;
        let id = bar.read32(regs::ID);
        if id != regs::ID_VALUE {
            dev_err!(
                pdev,
                "not an RSIO-NTB1 adapter: ID {:#010x}, expected {:#010x}\n",
                id,
                regs::ID_VALUE
            );
            return Err(ENODEV);
        }
        let version = bar.read32(regs::VERSION);
        if version >> 16 != regs::VERSION_MAJOR {
            dev_err!(
                pdev,
                "unsupported adapter version {}.{} (this driver speaks {}.x)\n",
                version >> 16,
                version & 0xffff,
                regs::VERSION_MAJOR
            );
            return Err(ENODEV);
        }
        let g = Geometry {
            version_minor: version & 0xffff,
            node_id: bar.read32(regs::NODE_ID),
            num_nodes: bar.read32(regs::NUM_NODES),
            caps: bar.read32(regs::CAPS),
            lut_slots: bar.read32(regs::LUT_SLOTS),
            slot_shift: bar.read32(regs::SLOT_SHIFT),
            in_windows: bar.read32(regs::IN_WINDOWS),
            dma_channels: bar.read32(regs::DMA_CHANNELS),
            mc_groups: bar.read32(regs::MC_GROUPS),
            direct_shift: bar.read32(regs::DIRECT_SHIFT),
            direct_nodes: bar.read32(regs::DIRECT_NODES),
            direct_alias: bar.read32(regs::DIRECT_ALIAS),
        };
        if !(2..=regs::MAX_NODES).contains(&g.num_nodes) || g.node_id >= g.num_nodes {
            dev_err!(
                pdev,
                "adapter reports node {} of {} nodes (expected 2..={})\n",
                g.node_id,
                g.num_nodes,
                regs::MAX_NODES
            );
            return Err(ENODEV);
        }
        Ok(g)
    }

    /// Sets or clears `LINK_CTRL.ENABLE`: joins or leaves the fabric.
    pub(crate) fn set_link(&self, enable: bool) {
        let v = if enable { regs::LINK_ENABLE } else { 0 };
        self.bar.write32(v, regs::LINK_CTRL);
    }

    /// `LINK_STATUS`: bit n is set while the link to node n is up.
    pub(crate) fn link_status(&self) -> u32 {
        self.bar.read32(regs::LINK_STATUS)
    }

    /// Reads `LINK_EVENT` and clears exactly the bits it returns (RW1C), so
    /// an event arriving in between is kept for the next call.
    pub(crate) fn take_link_events(&self) -> u32 {
        let events = self.bar.read32(regs::LINK_EVENT);
        if events != 0 {
            self.bar.write32(events, regs::LINK_EVENT);
        }
        events
    }

    /// Reads the 32-bit register at runtime offset `off` (bounds- and
    /// alignment-checked).
    pub(crate) fn read(&self, off: usize) -> Result<u32> {
        self.bar.try_read32(off)
    }

    /// Writes the 32-bit register at runtime offset `off` (bounds- and
    /// alignment-checked).
    pub(crate) fn write(&self, off: usize, val: u32) -> Result {
        self.bar.try_write32(val, off)
    }

    /// Writes the 64-bit register pair at `off`, low word first (section 4).
    pub(crate) fn write64(&self, off: usize, val: u64) -> Result {
        // Truncation intended: the two halves.
        self.write(off, val as u32)?;
        self.write(off + 4, (val >> 32) as u32)
    }

    /// Reads the 64-bit register pair at `off`, low word first (section 4).
    pub(crate) fn read64(&self, off: usize) -> Result<u64> {
        let lo = self.read(off)?;
        let hi = self.read(off + 4)?;
        Ok(u64::from(lo) | (u64::from(hi) << 32))
    }

    /// Reads `ERR_STATUS`, `ERR_ADDR` and `ERR_INFO`, then clears the status
    /// bits it saw (RW1C). `None` if no error was flagged.
    pub(crate) fn take_errors(&self) -> Option<ErrorReport> {
        let status = self.bar.read32(regs::ERR_STATUS) & regs::ERR_BITS;
        if status == 0 {
            return None;
        }
        let report = ErrorReport {
            status,
            // A 64-bit register is a pair, low word first (section 4).
            addr: u64::from(self.bar.read32(regs::ERR_ADDR))
                | (u64::from(self.bar.read32(regs::ERR_ADDR + 4)) << 32),
            info: self.bar.read32(regs::ERR_INFO),
        };
        self.bar.write32(status, regs::ERR_STATUS);
        Some(report)
    }
}
