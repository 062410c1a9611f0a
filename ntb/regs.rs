// SPDX-License-Identifier: GPL-2.0

//! The RSIO-NTB1 register map (docs/adapter.md, sections 1, 4 and 9): BAR0
//! offsets, field bits and MSI-X vector numbers. Only the registers this
//! driver uses are spelled here; nothing else in the driver spells an offset.
//!
//! Registers at a fixed offset are typed (`kernel::io::register!`: `ID`,
//! `CAPS`, `LINK_CTRL`, ...), read and written through `hw::Regs`; the
//! arrays (per peer, slot, window, group or channel) are offsets computed
//! from their index, which `Regs` bounds-checks at run time.

use kernel::io::register;

/// PCI vendor id of the adapter.
pub(crate) const VENDOR_ID: u16 = 0x7273;
/// PCI device id of the adapter.
pub(crate) const DEVICE_ID: u32 = 0x0001;

/// BAR0: registers, MSI-X table and PBA.
pub(crate) const BAR0: u32 = 0;
/// Size of BAR0, fixed by the datasheet.
pub(crate) const BAR0_SIZE: usize = 64 * 1024;
/// BAR2: the translated window (`LUT_SLOTS << SLOT_SHIFT` bytes).
pub(crate) const BAR2: u32 = 2;
/// BAR4: the direct window.
pub(crate) const BAR4: u32 = 4;

/// `ID` register value: "RSIO".
pub(crate) const ID_VALUE: u32 = 0x4F49_5352;
/// The `VERSION` major this driver speaks.
pub(crate) const VERSION_MAJOR: u32 = 1;

/// Most nodes a fabric has (`NUM_NODES` is 2..=16).
pub(crate) const MAX_NODES: u32 = 16;

// 4.1 Global registers.
register! {
    /// `ID`: [`ID_VALUE`] ("RSIO").
    pub(crate) ID(u32) @ 0x000 {
        31:0 value => u32;
    }

    /// `VERSION`: this driver speaks major [`VERSION_MAJOR`].
    pub(crate) VERSION(u32) @ 0x004 {
        31:16 major;
        15:0 minor;
    }

    /// `NODE_ID`: this node's id.
    pub(crate) NODE_ID(u32) @ 0x008 {
        31:0 value => u32;
    }

    /// `NUM_NODES`: nodes in the fabric (2..=[`MAX_NODES`]).
    pub(crate) NUM_NODES(u32) @ 0x00C {
        31:0 value => u32;
    }

    /// `CAPS`: what the adapter implements.
    pub(crate) CAPS(u32) @ 0x010 {
        /// `DMA`: the DMA engine (section 4.6).
        0:0 dma => bool;
        /// `MULTICAST`: multicast groups (sections 4.5 and 5).
        1:1 multicast => bool;
        /// `DIRECT`: the direct window, BAR4 (section 6).
        2:2 direct => bool;
        /// `REMOTE_MMIO`: a peer's device registers through the fabric
        /// (section 7).
        3:3 remote_mmio => bool;
    }

    /// `LUT_SLOTS`: translated-window slots (1..=[`MAX_LUT_SLOTS`]).
    pub(crate) LUT_SLOTS(u32) @ 0x014 {
        31:0 value => u32;
    }

    /// `SLOT_SHIFT`: log2 of a slot's size (>= 12).
    pub(crate) SLOT_SHIFT(u32) @ 0x018 {
        31:0 value => u32;
    }

    /// `IN_WINDOWS`: inbound windows (1..=[`MAX_IN_WINDOWS`]).
    pub(crate) IN_WINDOWS(u32) @ 0x01C {
        31:0 value => u32;
    }

    /// `DMA_CHANNELS`: DMA channels (0..=[`MAX_DMA_CHANNELS`]).
    pub(crate) DMA_CHANNELS(u32) @ 0x020 {
        31:0 value => u32;
    }

    /// `MC_GROUPS`: multicast groups (0..=[`MAX_MC_GROUPS`]).
    pub(crate) MC_GROUPS(u32) @ 0x024 {
        31:0 value => u32;
    }

    /// `DIRECT_SHIFT`: log2 of a node's span in BAR4 (0: no direct window).
    pub(crate) DIRECT_SHIFT(u32) @ 0x028 {
        31:0 value => u32;
    }

    /// `DIRECT_NODES`: bit n, node n's memory is in BAR4.
    pub(crate) DIRECT_NODES(u32) @ 0x02C {
        31:0 nodes => u32;
    }

    /// `LINK_CTRL`.
    pub(crate) LINK_CTRL(u32) @ 0x030 {
        /// `ENABLE`: this node is in the fabric.
        0:0 enable => bool;
    }

    /// `LINK_STATUS`: bit n, the link to node n is up.
    pub(crate) LINK_STATUS(u32) @ 0x034 {
        31:0 nodes => u32;
    }

    /// `LINK_EVENT` (RW1C): bit n, the link to node n changed.
    pub(crate) LINK_EVENT(u32) @ 0x038 {
        31:0 nodes => u32;
    }

    /// `ERR_STATUS` (RW1C): the errors flagged (bit names: [`ERR_NAMES`]).
    pub(crate) ERR_STATUS(u32) @ 0x040 {
        7:0 errors;
    }

    /// `ERR_ADDR`, low word: the offset or bus address of the first error.
    pub(crate) ERR_ADDR_LO(u32) @ 0x048 {
        31:0 value => u32;
    }

    /// `ERR_ADDR`, high word.
    pub(crate) ERR_ADDR_HI(u32) @ 0x04C {
        31:0 value => u32;
    }

    /// `ERR_INFO`: the first error.
    pub(crate) ERR_INFO(u32) @ 0x050 {
        /// The target node.
        19:16 node;
        /// Set for a DMA access, clear for a BAR0/BAR2 access.
        8:8 dma => bool;
        /// Its `ERR_STATUS` bit number.
        3:0 bit;
    }

    /// `RMMIO_TIMEOUT`: completion timeout of a remote-MMIO read,
    /// microseconds (reset 10000, at most [`RMMIO_TIMEOUT_MAX_US`]).
    pub(crate) RMMIO_TIMEOUT(u32) @ 0x060 {
        31:0 us => u32;
    }

    /// `DIRECT_ALIAS`: where else the direct window is decoded, as plain
    /// memory (section 6).
    pub(crate) DIRECT_ALIAS(u32) @ 0x064 {
        /// `VALID`: there is an alias.
        31:31 valid => bool;
        /// The BAR of the alias's function.
        10:8 bar;
        /// The alias's function (devfn) on the adapter's bus.
        7:0 devfn;
    }

    /// `CHASSIS_NODES`: bit n: node n is an expansion chassis (section 12).
    pub(crate) CHASSIS_NODES(u32) @ 0x068 {
        31:0 nodes => u32;
    }
}

/// The largest `RMMIO_TIMEOUT` the adapter takes (docs/adapter.md).
pub(crate) const RMMIO_TIMEOUT_MAX_US: u32 = 10_000_000;

/// `ERR_STATUS.RMMIO_FAIL`: a remote read completed with an error.
pub(crate) const ERR_RMMIO_FAIL: u32 = 3;
/// `ERR_STATUS.RMMIO_TIMEOUT`: a remote read timed out (`RMMIO_TIMEOUT`).
pub(crate) const ERR_RMMIO_TIMEOUT: u32 = 4;

/// `ERR_STATUS` bit names, by bit number.
pub(crate) const ERR_NAMES: [&str; 8] = [
    "UNMAPPED",
    "TARGET_DOWN",
    "REFUSED",
    "RMMIO_FAIL",
    "RMMIO_TIMEOUT",
    "DMA",
    "BAD_REG",
    "MC",
];

// 9. MSI-X vectors.
/// Vectors the adapter has.
pub(crate) const MSIX_VECTORS: u32 = 64;
/// Vector `LINK`: `LINK_EVENT` became non-zero.
pub(crate) const VEC_LINK: usize = 0;
/// Vector `ERROR`: an `ERR_STATUS` bit went 0 -> 1.
pub(crate) const VEC_ERROR: usize = 1;

// 4.1.1 Message registers.
register! {
    /// `MSG_STS` (RW1C).
    pub(crate) MSG_STS(u32) @ 0x200 {
        /// `OUT_FAIL(i)`: a message sent from here through register `i`
        /// was not delivered.
        19:16 out_fail;
        /// `IN(i)`: message register `i` holds an unread message.
        3:0 received;
    }

    /// `MSG_MASK`: bits as `MSG_STS`; set bits do not interrupt.
    pub(crate) MSG_MASK(u32) @ 0x204 {
        19:16 out_fail;
        3:0 received;
    }
}

/// Message registers.
pub(crate) const MSG_COUNT: u32 = 4;
/// `MSG_STS` bits meaning "message received".
pub(crate) const MSG_IN_BITS: u32 = MSG_STS::RECEIVED_MASK;
/// `MSG_STS` bits meaning "a message sent from here was not delivered".
pub(crate) const MSG_OUT_BITS: u32 = MSG_STS::OUT_FAIL_MASK;
/// Every `MSG_STS` (and `MSG_MASK`) bit.
pub(crate) const MSG_BITS: u32 = MSG_IN_BITS | MSG_OUT_BITS;

/// `MSG_IN(i)`: message `i`'s data.
pub(crate) const fn msg_in(i: u32) -> usize {
    0x210 + 8 * i as usize
}

/// `MSG_SRC(i)`: the node that sent message `i`.
pub(crate) const fn msg_src(i: u32) -> usize {
    0x214 + 8 * i as usize
}

// 4.2 Per-peer block of node `p`.
const fn peer_block(p: u32) -> usize {
    0x1000 + 0x100 * p as usize
}

/// `DB` of peer block `p` (RW1C).
pub(crate) const fn db(p: u32) -> usize {
    peer_block(p)
}

/// `DB_MASK` of peer block `p`.
pub(crate) const fn db_mask(p: u32) -> usize {
    peer_block(p) + 0x04
}

/// `PEER_DB` of peer block `p`.
pub(crate) const fn peer_db(p: u32) -> usize {
    peer_block(p) + 0x0C
}

/// Scratchpads per peer block.
pub(crate) const SPAD_COUNT: u32 = 16;

/// `SPAD[i]` of peer block `p`.
pub(crate) const fn spad(p: u32, i: u32) -> usize {
    peer_block(p) + 0x40 + 4 * i as usize
}

/// `PEER_SPAD[i]` of peer block `p`.
pub(crate) const fn peer_spad(p: u32, i: u32) -> usize {
    peer_block(p) + 0x80 + 4 * i as usize
}

/// `PEER_MSG(i)` of peer block `p`.
pub(crate) const fn peer_msg(p: u32, i: u32) -> usize {
    peer_block(p) + 0xC0 + 4 * i as usize
}

/// Doorbell bits per peer block.
pub(crate) const DB_BITS: u32 = 0xFFFF_FFFF;

// 4.3 LUT entry of BAR2 slot `s`.
/// `LUT_CTRL` of slot `s`.
pub(crate) const fn lut_ctrl(s: u32) -> usize {
    0x2000 + 0x10 * s as usize
}

/// `LUT_OFFSET` (64-bit) of slot `s`.
pub(crate) const fn lut_offset(s: u32) -> usize {
    0x2000 + 0x10 * s as usize + 0x8
}

/// `LUT_CTRL.VALID`.
pub(crate) const LUT_VALID: u32 = 1;
/// Most slots the LUT has.
pub(crate) const MAX_LUT_SLOTS: u32 = 256;

/// `LUT_CTRL` of a valid `MEMORY` entry to inbound window `window` of `node`.
pub(crate) const fn lut_memory(node: u32, window: u32) -> u32 {
    LUT_VALID | ((node & 0xF) << 8) | ((window & 0x3F) << 16)
}

// 4.4 Inbound window `w`.
/// `IW_CTRL` of window `w`.
pub(crate) const fn iw_ctrl(w: u32) -> usize {
    0x3000 + 0x20 * w as usize
}

/// `IW_BASE` (64-bit) of window `w`.
pub(crate) const fn iw_base(w: u32) -> usize {
    0x3000 + 0x20 * w as usize + 0x08
}

/// `IW_SIZE` (64-bit) of window `w`.
pub(crate) const fn iw_size(w: u32) -> usize {
    0x3000 + 0x20 * w as usize + 0x10
}

/// `IW_CTRL.ENABLE`.
pub(crate) const IW_ENABLE: u32 = 1;

/// `IW_CTRL` of a window open to the nodes in `peers` (bits 31:16 `PEERS`).
pub(crate) const fn iw_open(peers: u32) -> u32 {
    IW_ENABLE | (peers << 16)
}
/// Most inbound windows the adapter has.
pub(crate) const MAX_IN_WINDOWS: u32 = 64;
/// Alignment of `IW_BASE` and granularity of `IW_SIZE`.
pub(crate) const IW_ALIGN: u64 = 4096;

/// Vector `MESSAGE`: an unmasked `MSG_STS` bit was set.
pub(crate) const VEC_MESSAGE: usize = 6;

/// Vector `DB(p)`: an unmasked doorbell bit from node `p` was set.
pub(crate) const fn vec_db(p: u32) -> usize {
    8 + p as usize
}

/// Vector `DMA(c)`: channel `c` completed a descriptor with `INTERRUPT`.
pub(crate) const fn vec_dma(c: u32) -> usize {
    2 + c as usize
}

/// Vector `USER(k)`: remote interrupt `k` (section 5, `INTERRUPT` slots).
pub(crate) const fn vec_user(k: u32) -> usize {
    32 + k as usize
}

/// Remote interrupts (`USER` vectors) per node.
pub(crate) const USER_VECTORS: u32 = 32;

// 4.1 Counters (64-bit, RO).
/// `CNT_TX`, the first counter; the others follow at 8-byte steps.
pub(crate) const CNT_BASE: usize = 0x100;

// 4.3 `LUT_CTRL` kinds (bits 3:1).
/// `LUT_CTRL` of a valid `INTERRUPT` entry to node `node`.
pub(crate) const fn lut_interrupt(node: u32) -> u32 {
    LUT_VALID | (1 << 1) | ((node & 0xF) << 8)
}

/// `LUT_CTRL` of a valid `MULTICAST` entry to group `group`.
pub(crate) const fn lut_multicast(group: u32) -> u32 {
    LUT_VALID | (2 << 1) | ((group & 0x3F) << 16)
}

// 4.5 Interrupt window and multicast receive.
register! {
    /// `INTWIN_CTRL`: who may raise this node's remote interrupts.
    pub(crate) INTWIN_CTRL(u32) @ 0x3800 {
        /// `PEERS`: bit n, node n may.
        31:16 peers;
        /// `ENABLE`.
        0:0 enable => bool;
    }
}

/// `MC_CTRL(g)`.
pub(crate) const fn mc_ctrl(g: u32) -> usize {
    0x3900 + 0x20 * g as usize
}

/// `MC_BASE(g)` (64-bit).
pub(crate) const fn mc_base(g: u32) -> usize {
    0x3908 + 0x20 * g as usize
}

/// `MC_SIZE(g)` (64-bit).
pub(crate) const fn mc_size(g: u32) -> usize {
    0x3910 + 0x20 * g as usize
}

/// `MC_MEMBERS(g)`.
pub(crate) const fn mc_members(g: u32) -> usize {
    0x3A00 + 4 * g as usize
}

/// `MC_CTRL.ENABLE`: receive the group.
pub(crate) const MC_ENABLE: u32 = 1;
/// Most multicast groups the adapter has.
pub(crate) const MAX_MC_GROUPS: u32 = 8;

// 4.6 DMA channel `c`.
/// `DMA_CTRL` of channel `c`: bit 0 `ENABLE`, 1 `RESET`, 2 `INT_ENABLE`.
pub(crate) const fn dma_ctrl(c: u32) -> usize {
    0x4000 + 0x40 * c as usize
}

/// `DMA_STATUS` of channel `c`: bit 0 `BUSY`, 1 `ERROR`, 2 `DONE`.
pub(crate) const fn dma_status(c: u32) -> usize {
    dma_ctrl(c) + 0x04
}

/// `DMA_RING` (64-bit) of channel `c`.
pub(crate) const fn dma_ring(c: u32) -> usize {
    dma_ctrl(c) + 0x08
}

/// `DMA_RING_SIZE` of channel `c`.
pub(crate) const fn dma_ring_size(c: u32) -> usize {
    dma_ctrl(c) + 0x10
}

/// `DMA_HEAD` of channel `c`.
pub(crate) const fn dma_head(c: u32) -> usize {
    dma_ctrl(c) + 0x14
}

/// `DMA_TAIL` of channel `c`.
pub(crate) const fn dma_tail(c: u32) -> usize {
    dma_ctrl(c) + 0x18
}

/// `DMA_ERR_INDEX` of channel `c`.
pub(crate) const fn dma_err_index(c: u32) -> usize {
    dma_ctrl(c) + 0x1C
}

/// `DMA_ERR_CODE` of channel `c`.
pub(crate) const fn dma_err_code(c: u32) -> usize {
    dma_ctrl(c) + 0x20
}

/// `DMA_CTRL` bits.
pub(crate) const DMA_ENABLE: u32 = 1;
/// `DMA_CTRL.RESET`.
pub(crate) const DMA_RESET: u32 = 2;
/// `DMA_CTRL.INT_ENABLE`.
pub(crate) const DMA_INT_ENABLE: u32 = 4;
/// `DMA_STATUS.ERROR`.
pub(crate) const DMA_STATUS_ERROR: u32 = 2;
/// `DMA_STATUS.DONE`.
pub(crate) const DMA_STATUS_DONE: u32 = 4;
/// Most DMA channels the adapter has.
pub(crate) const MAX_DMA_CHANNELS: u32 = 4;
