//! The adapter as its datasheet describes it, driven through VFIO: BAR0
//! registers by name, the translated (BAR2) and direct (BAR4) windows, and
//! the geometry read at bring-up.

use anyhow::{bail, Context, Result};

use super::mmio::Mmio;
use super::regs::{self, peer};
use super::{pci, vfio};

/// PCI command register: memory decoding and bus mastering.
const PCI_COMMAND: u64 = 0x04;
const COMMAND_MEMORY: u16 = 1 << 1;
const COMMAND_BUS_MASTER: u16 = 1 << 2;
/// The registers the probe uses end below this BAR0 offset (the DMA
/// channels); the MSI-X table above it need not be mappable.
const BAR0_REGISTERS: u64 = 0x5000;

/// What the adapter reports about itself and the fabric (section 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub version: u32,
    pub node: usize,
    pub nodes: usize,
    pub caps: u32,
    pub lut_slots: usize,
    pub slot_shift: u32,
    pub in_windows: usize,
    pub dma_channels: usize,
    pub mc_groups: usize,
    pub direct_shift: u32,
    pub direct_nodes: u32,
}

impl Geometry {
    pub fn slot_size(&self) -> u64 {
        1 << self.slot_shift
    }

    /// The other nodes.
    pub fn peers(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes).filter(move |&n| n != self.node)
    }

    /// Every node's bit: what `LINK_STATUS` shows with all links up.
    pub fn all_nodes(&self) -> u32 {
        (1u32 << self.nodes) - 1
    }
}

/// A BAR: where the guest put it and our mapping of it.
pub struct Bar {
    pub bus: u64,
    pub size: u64,
    pub map: Mmio,
}

/// An open, enabled adapter.
pub struct Adapter {
    pub bdf: String,
    pub geometry: Geometry,
    pub bar0: Bar,
    pub bar2: Bar,
    /// The direct window, if the adapter has one.
    pub bar4: Option<Bar>,
    pub device: vfio::Device,
}

impl Adapter {
    /// Finds the adapter (`bdf`, or the only one), binds it to vfio-pci,
    /// maps its BARs, enables memory decoding and bus mastering, and reads
    /// its identity and geometry.
    pub fn open(bdf: Option<&str>) -> Result<Adapter> {
        let bdf = pci::find_adapter(bdf)?;
        let group = pci::bind_vfio(&bdf)?;
        let device = vfio::Device::open(&group, &bdf)?;
        let config = device.region(vfio::CONFIG_REGION)?;
        let mut command = [0u8; 2];
        device.config_read(&config, PCI_COMMAND, &mut command)?;
        let command = u16::from_le_bytes(command) | COMMAND_MEMORY | COMMAND_BUS_MASTER;
        device.config_write(&config, PCI_COMMAND, &command.to_le_bytes())?;

        let addresses = pci::bar_addresses(&bdf)?;
        let bar = |index: u32, need: u64| -> Result<Bar> {
            let (bus, size) = addresses
                .get(index as usize)
                .copied()
                .flatten()
                .with_context(|| format!("BAR{index} of {bdf} is not assigned"))?;
            let region = device.region(index)?;
            let mappable = region
                .mappable_from_start()
                .with_context(|| format!("BAR{index} cannot be mapped ({region:?})"))?;
            if mappable < need {
                bail!("only {mappable:#x} bytes of BAR{index} can be mapped, need {need:#x}");
            }
            let map = device.map(&region, mappable)?;
            Ok(Bar { bus, size, map })
        };
        let bar0 = bar(0, BAR0_REGISTERS)?;
        let id = bar0.map.read32(regs::ID)?;
        if id != regs::ID_VALUE {
            bail!(
                "{bdf}: ID reads {id:#010x}, not {:#010x} (\"RSIO\")",
                regs::ID_VALUE
            );
        }
        let r = |offset| bar0.map.read32(offset);
        let geometry = Geometry {
            version: r(regs::VERSION)?,
            node: r(regs::NODE_ID)? as usize,
            nodes: r(regs::NUM_NODES)? as usize,
            caps: r(regs::CAPS)?,
            lut_slots: r(regs::LUT_SLOTS)? as usize,
            slot_shift: r(regs::SLOT_SHIFT)?,
            in_windows: r(regs::IN_WINDOWS)? as usize,
            dma_channels: r(regs::DMA_CHANNELS)? as usize,
            mc_groups: r(regs::MC_GROUPS)? as usize,
            direct_shift: r(regs::DIRECT_SHIFT)?,
            direct_nodes: r(regs::DIRECT_NODES)?,
        };
        if !(2..=16).contains(&geometry.nodes) || geometry.node >= geometry.nodes {
            bail!(
                "implausible geometry: node {} of {}",
                geometry.node,
                geometry.nodes
            );
        }
        let bar2 = bar(2, (geometry.lut_slots as u64) << geometry.slot_shift)?;
        let bar4 = if geometry.direct_shift > 0 {
            Some(bar(4, 1)?)
        } else {
            None
        };
        Ok(Adapter {
            bdf,
            geometry,
            bar0,
            bar2,
            bar4,
            device,
        })
    }

    pub fn r32(&self, offset: u64) -> Result<u32> {
        self.bar0.map.read32(offset)
    }

    pub fn w32(&self, offset: u64, value: u32) -> Result<()> {
        self.bar0.map.write32(offset, value)
    }

    /// A 64-bit register, read as one 8-byte access.
    pub fn r64(&self, offset: u64) -> Result<u64> {
        self.bar0.map.read64(offset)
    }

    /// A 64-bit register, written low word first (it takes effect on the
    /// high word, section 4).
    pub fn w64(&self, offset: u64, value: u64) -> Result<()> {
        self.w32(offset, value as u32)?;
        self.w32(offset + 4, (value >> 32) as u32)
    }

    pub fn check_peer(&self, p: usize) -> Result<()> {
        let g = &self.geometry;
        if p >= g.nodes || p == g.node {
            bail!(
                "node {p} is not a peer of node {} (the fabric has nodes 0..{})",
                g.node,
                g.nodes
            );
        }
        Ok(())
    }

    pub fn set_link(&self, enable: bool) -> Result<()> {
        self.w32(regs::LINK_CTRL, if enable { regs::LINK_ENABLE } else { 0 })
    }

    pub fn link_status(&self) -> Result<u32> {
        self.r32(regs::LINK_STATUS)
    }

    /// Reads and clears `LINK_EVENT`.
    pub fn take_link_event(&self) -> Result<u32> {
        let event = self.r32(regs::LINK_EVENT)?;
        if event != 0 {
            self.w32(regs::LINK_EVENT, event)?;
        }
        Ok(event)
    }

    /// The doorbell bits node `p` rang here.
    pub fn doorbell(&self, p: usize) -> Result<u32> {
        self.r32(peer(p) + regs::DB)
    }

    pub fn clear_doorbell(&self, p: usize, bits: u32) -> Result<()> {
        self.w32(peer(p) + regs::DB, bits)
    }

    /// Rings `bits` on node `p`.
    pub fn ring(&self, p: usize, bits: u32) -> Result<()> {
        self.w32(peer(p) + regs::PEER_DB, bits)
    }

    /// `SPAD[i]` of block `p`: what node `p` wrote here.
    pub fn spad(&self, p: usize, i: usize) -> Result<u32> {
        self.r32(peer(p) + regs::SPAD + 4 * i as u64)
    }

    /// Writes node `p`'s `SPAD[i]` of our block.
    pub fn write_peer_spad(&self, p: usize, i: usize, value: u32) -> Result<()> {
        self.w32(peer(p) + regs::PEER_SPAD + 4 * i as u64, value)
    }

    /// Programs LUT slot `slot`: offset first, then control (section 4.3).
    pub fn set_lut(&self, slot: usize, ctrl: u32, offset: u64) -> Result<()> {
        self.w64(regs::lut(slot) + regs::LUT_OFFSET, offset)?;
        self.w32(regs::lut(slot) + regs::LUT_CTRL, ctrl)
    }

    /// Opens inbound window `w` to `peers` (a node bitmap) at `base`.
    pub fn set_window(&self, w: usize, base: u64, size: u64, peers: u32) -> Result<()> {
        let at = regs::window(w);
        self.w32(at + regs::IW_CTRL, 0)?;
        self.w64(at + regs::IW_BASE, base)?;
        self.w64(at + regs::IW_SIZE, size)?;
        self.w32(
            at + regs::IW_CTRL,
            regs::WIN_ENABLE | peers << regs::WIN_PEERS_SHIFT,
        )
    }

    /// Receives multicast group `g` at `base` (or stops, with `None`).
    pub fn set_multicast(&self, g: usize, buffer: Option<(u64, u64)>) -> Result<()> {
        let at = regs::mc(g);
        self.w32(at + regs::MC_CTRL, 0)?;
        if let Some((base, size)) = buffer {
            self.w64(at + regs::MC_BASE, base)?;
            self.w64(at + regs::MC_SIZE, size)?;
            self.w32(at + regs::MC_CTRL, regs::WIN_ENABLE)?;
        }
        Ok(())
    }

    /// The 64-bit counters, in [`regs::COUNTER_NAMES`] order.
    pub fn counters(&self) -> Result<Vec<u64>> {
        (0..regs::COUNTER_NAMES.len())
            .map(|i| self.r64(regs::COUNTERS + 8 * i as u64))
            .collect()
    }

    /// Undoes everything that points at memory or translates accesses:
    /// inbound, interrupt and multicast windows, LUT slots, DMA channels.
    /// Leaves the link, doorbells and scratchpads alone.
    pub fn quiesce(&self) -> Result<()> {
        let g = &self.geometry;
        for w in 0..g.in_windows {
            self.w32(regs::window(w) + regs::IW_CTRL, 0)?;
        }
        self.w32(regs::INTWIN_CTRL, 0)?;
        for group in 0..g.mc_groups {
            self.set_multicast(group, None)?;
        }
        for slot in 0..g.lut_slots {
            self.w32(regs::lut(slot) + regs::LUT_CTRL, 0)?;
        }
        for c in 0..g.dma_channels {
            self.w32(regs::dma(c) + regs::DMA_CTRL, regs::DMA_RESET)?;
        }
        Ok(())
    }
}

/// Formats a node bitmap as `0x3 (nodes 0 1)`.
pub fn nodes(bits: u32) -> String {
    let list: Vec<String> = (0..32)
        .filter(|n| bits & (1 << n) != 0)
        .map(|n: u32| n.to_string())
        .collect();
    if list.is_empty() {
        format!("{bits:#x} (no nodes)")
    } else {
        format!("{bits:#x} (nodes {})", list.join(" "))
    }
}

/// Names the set bits of `ERR_STATUS`.
pub fn error_names(status: u32) -> String {
    let names: Vec<&str> = (0..regs::ERR_NAMES.len())
        .filter(|bit| status & (1 << bit) != 0)
        .map(|bit| regs::ERR_NAMES[bit])
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_bitmaps_list_their_nodes() {
        assert_eq!(nodes(0x5), "0x5 (nodes 0 2)");
        assert_eq!(nodes(0), "0x0 (no nodes)");
    }

    #[test]
    fn error_bits_are_named_as_in_the_datasheet() {
        assert_eq!(error_names(0), "none");
        assert_eq!(error_names(1 << 2), "REFUSED");
        assert_eq!(error_names(0b1000_0010), "TARGET_DOWN MC");
    }
}
