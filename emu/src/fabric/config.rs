//! The fabric's configuration: how many nodes, their RAM, and the adapter
//! geometry every node's adapter reports (docs/adapter.md, section 4.1).

use crate::adapter::regs;

/// What a fabric is made of. Validated by [`FabricConfig::validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FabricConfig {
    /// Nodes, 2..=16.
    pub nodes: usize,
    /// Each node's guest RAM in bytes (all of it lives in the fabric memory
    /// file, so the direct window can map it).
    pub ram_bytes: u64,
    /// BAR2 slots.
    pub lut_slots: u32,
    /// log2 of a slot's size.
    pub slot_shift: u32,
    /// Inbound windows per adapter.
    pub in_windows: u32,
    /// DMA channels per adapter.
    pub dma_channels: u32,
    /// Multicast groups: each a bitmap of member nodes.
    pub multicast: Vec<u16>,
    /// Whether BAR4 maps every node's RAM (the direct window).
    pub direct: bool,
    /// Whether the adapter names a memory alias of the direct window for
    /// device DMA (`DIRECT_ALIAS`; rsio-fabric's QEMU arguments add it).
    pub direct_alias: bool,
    /// Expansion chassis (docs/adapter.md section 12): bit n, node n is one.
    pub chassis: u16,
}

impl Default for FabricConfig {
    fn default() -> Self {
        FabricConfig {
            nodes: 2,
            ram_bytes: 384 << 20,
            lut_slots: 64,
            slot_shift: 21,
            in_windows: 32,
            dma_channels: 2,
            multicast: Vec::new(),
            direct: true,
            direct_alias: true,
            chassis: 0,
        }
    }
}

impl FabricConfig {
    /// Checks every field against the adapter's limits.
    pub fn validate(&self) -> Result<(), String> {
        if !(2..=regs::MAX_NODES).contains(&self.nodes) {
            return Err(format!(
                "nodes must be 2..={}, not {}",
                regs::MAX_NODES,
                self.nodes
            ));
        }
        if self.ram_bytes < (16 << 20)
            || self.ram_bytes > (4 << 30)
            || !self.ram_bytes.is_multiple_of(4096)
        {
            return Err(format!(
                "ram must be 16 MiB..4 GiB in pages, not {} bytes",
                self.ram_bytes
            ));
        }
        if self.lut_slots == 0 || self.lut_slots as usize > regs::MAX_LUT_SLOTS {
            return Err(format!("lut_slots must be 1..={}", regs::MAX_LUT_SLOTS));
        }
        if !(12..=30).contains(&self.slot_shift) {
            return Err("slot_shift must be 12..=30".into());
        }
        if self.in_windows == 0 || self.in_windows as usize > regs::MAX_IN_WINDOWS {
            return Err(format!("in_windows must be 1..={}", regs::MAX_IN_WINDOWS));
        }
        if self.dma_channels as usize > regs::MAX_DMA_CHANNELS {
            return Err(format!(
                "dma_channels must be 0..={}",
                regs::MAX_DMA_CHANNELS
            ));
        }
        if self.multicast.len() > regs::MAX_MC_GROUPS {
            return Err(format!("at most {} multicast groups", regs::MAX_MC_GROUPS));
        }
        for (g, members) in self.multicast.iter().enumerate() {
            if *members == 0 || (*members as u32) >> self.nodes != 0 {
                return Err(format!(
                    "multicast group {g}: members must be nodes of the fabric"
                ));
            }
        }
        if self.chassis != 0 {
            self.validate_chassis()?;
        }
        Ok(())
    }

    fn validate_chassis(&self) -> Result<(), String> {
        if u32::from(self.chassis) >> self.nodes != 0 {
            return Err("chassis: every chassis must be a node of the fabric".into());
        }
        if self.chassis.count_ones() as usize >= self.nodes {
            return Err("chassis: at least one node must not be a chassis".into());
        }
        if !self.direct || !self.direct_alias {
            return Err(
                "chassis: a chassis needs the direct window and its memory alias (its devices DMA through it)"
                    .into(),
            );
        }
        if (self.lut_slots as usize) < self.nodes {
            return Err(format!(
                "chassis: the chassis adapter presets one interrupt slot per node: lut_slots must be at least {}",
                self.nodes
            ));
        }
        if self.in_windows < 2 {
            return Err("chassis: the chassis adapter uses inbound windows 0 and 1: in_windows must be at least 2".into());
        }
        crate::chassis::check_layout(self)
    }

    /// Whether node `id` is an expansion chassis.
    pub fn is_chassis(&self, id: usize) -> bool {
        id < 16 && self.chassis & (1 << id) != 0
    }

    /// Size of BAR2.
    pub fn bar2_size(&self) -> u64 {
        u64::from(self.lut_slots) << self.slot_shift
    }

    /// log2 of a node's span in the fabric memory and in BAR4.
    pub fn direct_shift(&self) -> u32 {
        64 - (self.ram_bytes - 1).leading_zeros()
    }

    /// Size of BAR4: a power of two covering every node's span.
    pub fn bar4_size(&self) -> u64 {
        (self.nodes as u64).next_power_of_two() << self.direct_shift()
    }

    /// The `CAPS` register of node `id`'s adapter.
    pub fn caps_of(&self, id: usize) -> u32 {
        if self.is_chassis(id) {
            self.caps() | regs::caps::CHASSIS
        } else {
            self.caps()
        }
    }

    /// The `CAPS` register every adapter but a chassis's reports.
    pub fn caps(&self) -> u32 {
        let mut caps = regs::caps::REMOTE_MMIO;
        if self.dma_channels > 0 {
            caps |= regs::caps::DMA;
        }
        if !self.multicast.is_empty() {
            caps |= regs::caps::MULTICAST;
        }
        if self.direct {
            caps |= regs::caps::DIRECT;
        }
        caps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_fabric_is_valid() {
        assert_eq!(FabricConfig::default().validate(), Ok(()));
    }

    #[test]
    fn geometry_follows_from_the_config() {
        let c = FabricConfig {
            nodes: 3,
            ram_bytes: 384 << 20,
            ..Default::default()
        };
        assert_eq!(c.direct_shift(), 29); // 384 MiB rounds up to 512 MiB
        assert_eq!(c.bar4_size(), 4 << 29); // 3 nodes round up to 4
        assert_eq!(c.bar2_size(), 64 << 21);
    }

    #[test]
    fn out_of_range_configs_are_refused() {
        let bad = [
            FabricConfig {
                nodes: 1,
                ..Default::default()
            },
            FabricConfig {
                nodes: 17,
                ..Default::default()
            },
            FabricConfig {
                lut_slots: 0,
                ..Default::default()
            },
            FabricConfig {
                slot_shift: 11,
                ..Default::default()
            },
            FabricConfig {
                dma_channels: 5,
                ..Default::default()
            },
            FabricConfig {
                multicast: vec![0b100],
                ..Default::default()
            },
            FabricConfig {
                ram_bytes: 1000,
                ..Default::default()
            },
            FabricConfig {
                chassis: 0b11,
                ..Default::default()
            },
            FabricConfig {
                chassis: 0b100,
                ..Default::default()
            },
            FabricConfig {
                chassis: 0b1,
                direct_alias: false,
                ..Default::default()
            },
            FabricConfig {
                nodes: 4,
                chassis: 0b1,
                lut_slots: 2,
                ..Default::default()
            },
            FabricConfig {
                chassis: 0b1,
                in_windows: 1,
                ..Default::default()
            },
        ];
        for c in bad {
            assert!(c.validate().is_err(), "{c:?}");
        }
    }
}
