// SPDX-License-Identifier: GPL-2.0

//! Register-level access to one RSIO-NTB1 adapter (docs/adapter.md).
//!
//! [`Regs`] borrows the BAR0 mapping (owned by the [`crate::adapter::Adapter`])
//! and exposes the registers as typed, safe operations; every register
//! comes from `regs.rs`: the fixed ones as `register!` types (their offsets
//! checked at build time), the arrays as offsets checked at run time.
//! Register values read from the device are treated as untrusted: nothing
//! here can panic on them.

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
    /// `CAPS`.
    pub(crate) caps: regs::CAPS,
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
    pub(crate) direct_alias: regs::DIRECT_ALIAS,
    /// Bit n: node n is an expansion chassis.
    pub(crate) chassis_nodes: u32,
}

/// A report of `ERR_STATUS` and the first error's details (section 4.1).
#[derive(Clone, Copy, Debug)]
pub struct ErrorReport {
    /// The `ERR_STATUS` bits that were set (and are now cleared).
    pub status: u32,
    /// `ERR_ADDR`: the offset or bus address of the first error.
    pub addr: u64,
    /// `ERR_INFO` of the first error: bits 3:0 its bit number, 8 set for a
    /// DMA access, 19:16 the target node (see the methods).
    pub info: u32,
}

impl ErrorReport {
    /// The `ERR_STATUS` bit number of the first error.
    pub fn first_bit(&self) -> u32 {
        regs::ERR_INFO::from_raw(self.info).bit().get()
    }

    /// The first error was a DMA access (else a BAR0 or BAR2 access).
    pub fn first_by_dma(&self) -> bool {
        regs::ERR_INFO::from_raw(self.info).dma()
    }

    /// The target node of the first error.
    pub fn first_node(&self) -> u32 {
        regs::ERR_INFO::from_raw(self.info).node().get()
    }

    /// If the first error is a CPU read through the translated window
    /// that failed (the reader got all-ones): why, as a log phrase.
    pub fn failed_read(&self) -> Option<&'static CStr> {
        if self.first_by_dma() {
            return None;
        }
        match self.first_bit() {
            regs::ERR_RMMIO_TIMEOUT => Some(c"completion timeout"),
            regs::ERR_RMMIO_FAIL => Some(c"completion error at the lender"),
            _ => None,
        }
    }
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
        let id = bar.read(regs::ID).value();
        if id != regs::ID_VALUE {
            dev_err!(
                pdev,
                "not an RSIO-NTB1 adapter: ID {:#010x}, expected {:#010x}\n",
                id,
                regs::ID_VALUE
            );
            return Err(ENODEV);
        }
        let version = bar.read(regs::VERSION);
        let (major, minor) = (version.major().get(), version.minor().get());
        if major != regs::VERSION_MAJOR {
            dev_err!(
                pdev,
                "unsupported adapter version {}.{} (this driver speaks {}.x)\n",
                major,
                minor,
                regs::VERSION_MAJOR
            );
            return Err(ENODEV);
        }
        let g = Geometry {
            version_minor: minor,
            node_id: bar.read(regs::NODE_ID).value(),
            num_nodes: bar.read(regs::NUM_NODES).value(),
            caps: bar.read(regs::CAPS),
            lut_slots: bar.read(regs::LUT_SLOTS).value(),
            slot_shift: bar.read(regs::SLOT_SHIFT).value(),
            in_windows: bar.read(regs::IN_WINDOWS).value(),
            dma_channels: bar.read(regs::DMA_CHANNELS).value(),
            mc_groups: bar.read(regs::MC_GROUPS).value(),
            direct_shift: bar.read(regs::DIRECT_SHIFT).value(),
            direct_nodes: bar.read(regs::DIRECT_NODES).nodes(),
            direct_alias: bar.read(regs::DIRECT_ALIAS),
            chassis_nodes: bar.read(regs::CHASSIS_NODES).nodes(),
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

    /// Sets `RMMIO_TIMEOUT`, the completion timeout of a remote-MMIO read,
    /// to `us` microseconds.
    pub(crate) fn set_rmmio_timeout(&self, us: u32) {
        self.bar
            .write_reg(regs::RMMIO_TIMEOUT::zeroed().with_us(us));
    }

    /// Sets or clears `LINK_CTRL.ENABLE`: joins or leaves the fabric.
    pub(crate) fn set_link(&self, enable: bool) {
        self.bar
            .write_reg(regs::LINK_CTRL::zeroed().with_enable(enable));
    }

    /// `LINK_STATUS`: bit n is set while the link to node n is up.
    pub(crate) fn link_status(&self) -> u32 {
        self.bar.read(regs::LINK_STATUS).nodes()
    }

    /// Reads `LINK_EVENT` and clears exactly the bits it returns (RW1C), so
    /// an event arriving in between is kept for the next call.
    pub(crate) fn take_link_events(&self) -> u32 {
        let events = self.bar.read(regs::LINK_EVENT);
        if events.nodes() != 0 {
            self.bar.write_reg(events);
        }
        events.nodes()
    }

    /// Lets exactly the nodes in `peers` raise remote interrupts here
    /// (`INTWIN_CTRL`; 0: nobody, the window is disabled). `EOVERFLOW` for
    /// a node above 15.
    pub(crate) fn set_interrupt_window(&self, peers: u32) -> Result {
        let ctrl = regs::INTWIN_CTRL::zeroed()
            .with_enable(peers != 0)
            .try_with_peers(peers)?;
        self.bar.write_reg(ctrl);
        Ok(())
    }

    /// The `MSG_STS` bits that are set: `IN(i)` (a message arrived in
    /// register `i`), `OUT_FAIL(i)` (ours through `i` was not delivered).
    pub(crate) fn msg_status(&self) -> u32 {
        self.bar.read(regs::MSG_STS).into_raw() & regs::MSG_BITS
    }

    /// Clears the `MSG_STS` bits `bits` (RW1C; undefined bits ignored).
    pub(crate) fn clear_msg_status(&self, bits: u32) {
        self.bar
            .write_reg(regs::MSG_STS::from_raw(bits & regs::MSG_BITS));
    }

    /// `MSG_MASK = (MSG_MASK | set) & !clear` (undefined bits ignored); the
    /// caller serializes it with the adapter's other read-modify-writes.
    pub(crate) fn update_msg_mask(&self, set: u32, clear: u32) {
        let (set, clear) = (set & regs::MSG_BITS, clear & regs::MSG_BITS);
        self.bar.update(regs::MSG_MASK, |m| {
            regs::MSG_MASK::from_raw((m.into_raw() | set) & !clear)
        });
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
        let errors = self.bar.read(regs::ERR_STATUS).errors();
        if errors == 0 {
            return None;
        }
        let report = ErrorReport {
            status: errors.get(),
            // A 64-bit register is a pair, low word first (section 4).
            addr: u64::from(self.bar.read(regs::ERR_ADDR_LO).value())
                | (u64::from(self.bar.read(regs::ERR_ADDR_HI).value()) << 32),
            info: self.bar.read(regs::ERR_INFO).into_raw(),
        };
        self.bar
            .write_reg(regs::ERR_STATUS::zeroed().with_errors(errors));
        Some(report)
    }
}
