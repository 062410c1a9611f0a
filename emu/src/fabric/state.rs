//! One adapter's register state (the RW registers of docs/adapter.md).

use super::FabricConfig;
use crate::adapter::regs;

/// A LUT entry (docs/adapter.md 4.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LutEntry {
    pub ctrl: u32,
    pub offset: u64,
}

/// What a valid LUT entry points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LutTarget {
    /// Node `node`'s inbound window `window`, from `offset`.
    Memory {
        node: usize,
        window: usize,
        offset: u64,
    },
    /// Node `node`'s interrupt window.
    Interrupt { node: usize },
    /// Multicast group `group`, from `offset` in each member's buffer.
    Multicast { group: usize, offset: u64 },
}

impl LutEntry {
    /// Decodes the entry; `None` if it is not valid or its kind is unknown.
    pub fn target(&self) -> Option<LutTarget> {
        use regs::lut::*;
        if self.ctrl & VALID == 0 {
            return None;
        }
        let node = ((self.ctrl >> NODE_SHIFT) & NODE_MASK) as usize;
        let index = ((self.ctrl >> INDEX_SHIFT) & INDEX_MASK) as usize;
        match (self.ctrl >> KIND_SHIFT) & KIND_MASK {
            KIND_MEMORY => Some(LutTarget::Memory {
                node,
                window: index,
                offset: self.offset,
            }),
            KIND_INTERRUPT => Some(LutTarget::Interrupt { node }),
            KIND_MULTICAST => Some(LutTarget::Multicast {
                group: index,
                offset: self.offset,
            }),
            _ => None,
        }
    }
}

/// An inbound window (4.4), an interrupt window (4.5) or a multicast
/// receive buffer: enable, allowed peers, and a local range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub ctrl: u32,
    pub addr: u64,
    pub size: u64,
}

impl Window {
    /// Whether node `peer` may use the window.
    pub fn admits(&self, peer: usize) -> bool {
        self.ctrl & regs::WIN_ENABLE != 0 && (self.ctrl >> regs::WIN_PEERS_SHIFT) & (1 << peer) != 0
    }

    /// The local address of `[offset, offset + len)` if it lies inside.
    pub fn translate(&self, offset: u64, len: u64) -> Option<u64> {
        let end = offset.checked_add(len)?;
        (end <= self.size).then(|| self.addr.wrapping_add(offset))
    }
}

/// One DMA channel's software-visible registers (4.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DmaRegs {
    pub ctrl: u32,
    pub status: u32,
    pub ring: u64,
    pub ring_size: u32,
    pub head: u32,
    pub tail: u32,
    pub err_index: u32,
    pub err_code: u32,
}

/// All RW state of one adapter; reset by replacing it with `new`.
#[derive(Clone, Debug)]
pub struct NodeRegs {
    pub link_event: u32,
    /// The link status last reported (to detect changes).
    pub link_seen: u32,
    pub err_status: u32,
    pub err_addr: u64,
    pub err_info: u32,
    pub rmmio_timeout_us: u32,
    pub msg_sts: u32,
    pub msg_mask: u32,
    /// `MSG_IN(i)`: (data, source node).
    pub msg_in: [(u32, u32); regs::MSGS],
    /// `DB` per source peer.
    pub db: [u32; regs::MAX_NODES],
    /// `DB_MASK` per source peer.
    pub db_mask: [u32; regs::MAX_NODES],
    /// `SPAD[i]` per peer.
    pub spad: [[u32; regs::SPADS]; regs::MAX_NODES],
    pub lut: Vec<LutEntry>,
    pub inbound: Vec<Window>,
    pub intwin: Window,
    pub mc: Vec<Window>,
    pub dma: Vec<DmaRegs>,
}

impl NodeRegs {
    /// The reset state for node `id`'s adapter in a fabric of `config`.
    pub fn new(config: &FabricConfig, id: usize) -> Self {
        let mut r = NodeRegs {
            link_event: 0,
            link_seen: 0,
            err_status: 0,
            err_addr: 0,
            err_info: 0,
            rmmio_timeout_us: regs::RMMIO_TIMEOUT_DEFAULT_US,
            msg_sts: 0,
            msg_mask: 0,
            msg_in: [(0, 0); regs::MSGS],
            db: [0; regs::MAX_NODES],
            db_mask: [0; regs::MAX_NODES],
            spad: [[0; regs::SPADS]; regs::MAX_NODES],
            lut: vec![LutEntry::default(); config.lut_slots as usize],
            inbound: vec![Window::default(); config.in_windows as usize],
            intwin: Window::default(),
            mc: vec![Window::default(); config.multicast.len()],
            dma: vec![DmaRegs::default(); config.dma_channels as usize],
        };
        if config.is_chassis(id) {
            r.chassis_presets(config);
        }
        r
    }

    /// A chassis adapter's reset values (docs/adapter.md section 12): no
    /// driver runs on a chassis to program it.
    fn chassis_presets(&mut self, config: &FabricConfig) {
        let everyone = ((1u32 << config.nodes) - 1) << regs::WIN_PEERS_SHIFT;
        self.inbound[0] = Window {
            ctrl: regs::WIN_ENABLE | everyone,
            addr: 0,
            size: crate::chassis::BUS_SPAN,
        };
        self.inbound[regs::mgmt::WINDOW] = Window {
            ctrl: regs::WIN_ENABLE | everyone,
            addr: 0,
            size: regs::mgmt::SIZE,
        };
        for h in 0..config.nodes {
            use regs::lut::*;
            self.lut[h] = LutEntry {
                ctrl: VALID | KIND_INTERRUPT << KIND_SHIFT | (h as u32) << NODE_SHIFT,
                offset: 0,
            };
        }
    }
}
