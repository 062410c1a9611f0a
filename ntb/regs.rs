// SPDX-License-Identifier: GPL-2.0

//! The RSIO-NTB1 register map (docs/adapter.md, sections 1, 4 and 9): BAR0
//! offsets, field bits and MSI-X vector numbers. Only the registers this
//! driver uses are spelled here; nothing else in the driver spells an offset.

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
pub(crate) const ID: usize = 0x000;
pub(crate) const VERSION: usize = 0x004;
pub(crate) const NODE_ID: usize = 0x008;
pub(crate) const NUM_NODES: usize = 0x00C;
pub(crate) const CAPS: usize = 0x010;
pub(crate) const LUT_SLOTS: usize = 0x014;
pub(crate) const SLOT_SHIFT: usize = 0x018;
pub(crate) const IN_WINDOWS: usize = 0x01C;
pub(crate) const DMA_CHANNELS: usize = 0x020;
pub(crate) const MC_GROUPS: usize = 0x024;
pub(crate) const DIRECT_SHIFT: usize = 0x028;
pub(crate) const DIRECT_NODES: usize = 0x02C;
pub(crate) const LINK_CTRL: usize = 0x030;
pub(crate) const LINK_STATUS: usize = 0x034;
pub(crate) const LINK_EVENT: usize = 0x038;
pub(crate) const ERR_STATUS: usize = 0x040;
pub(crate) const ERR_ADDR: usize = 0x048;
pub(crate) const ERR_INFO: usize = 0x050;
/// Completion timeout of a remote-MMIO read, microseconds (reset 10000).
pub(crate) const RMMIO_TIMEOUT: usize = 0x060;
pub(crate) const DIRECT_ALIAS: usize = 0x064;
/// The largest `RMMIO_TIMEOUT` the adapter takes (docs/adapter.md).
pub(crate) const RMMIO_TIMEOUT_MAX_US: u32 = 10_000_000;

/// `LINK_CTRL.ENABLE`.
pub(crate) const LINK_ENABLE: u32 = 1;

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
/// All defined `ERR_STATUS` bits.
pub(crate) const ERR_BITS: u32 = 0xFF;

// 9. MSI-X vectors.
/// Vectors the adapter has.
pub(crate) const MSIX_VECTORS: u32 = 64;
/// Vector `LINK`: `LINK_EVENT` became non-zero.
pub(crate) const VEC_LINK: usize = 0;
/// Vector `ERROR`: an `ERR_STATUS` bit went 0 -> 1.
pub(crate) const VEC_ERROR: usize = 1;

// 4.1.1 Message registers.
/// `MSG_STS`: bits 3:0 `IN(i)`, bits 19:16 `OUT_FAIL(i)` (RW1C).
pub(crate) const MSG_STS: usize = 0x200;
/// `MSG_MASK`: bits as `MSG_STS`.
pub(crate) const MSG_MASK: usize = 0x204;
/// Message registers.
pub(crate) const MSG_COUNT: u32 = 4;
/// `MSG_STS` bits meaning "message received".
pub(crate) const MSG_IN_BITS: u32 = 0xF;
/// `MSG_STS` bits meaning "a message sent from here was not delivered".
pub(crate) const MSG_OUT_BITS: u32 = 0xF_0000;

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
/// `INTWIN_CTRL`: bit 0 `ENABLE`, bits 31:16 the peers allowed.
pub(crate) const INTWIN_CTRL: usize = 0x3800;

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
