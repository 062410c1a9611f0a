//! The RSIO-NTB1 register map, transcribed from docs/adapter.md (not shared
//! with the emulator, so the probe checks the emulator against the
//! datasheet rather than against itself). It is the whole map, so some of
//! it is not used yet.
#![allow(dead_code)]

/// PCI identity (section 1).
pub const VENDOR_ID: u16 = 0x7273;
pub const DEVICE_ID: u16 = 0x0001;

/// `ID`: "RSIO".
pub const ID_VALUE: u32 = 0x4F49_5352;

// 4.1 Global registers.
pub const ID: u64 = 0x000;
pub const VERSION: u64 = 0x004;
pub const NODE_ID: u64 = 0x008;
pub const NUM_NODES: u64 = 0x00C;
pub const CAPS: u64 = 0x010;
pub const LUT_SLOTS: u64 = 0x014;
pub const SLOT_SHIFT: u64 = 0x018;
pub const IN_WINDOWS: u64 = 0x01C;
pub const DMA_CHANNELS: u64 = 0x020;
pub const MC_GROUPS: u64 = 0x024;
pub const DIRECT_SHIFT: u64 = 0x028;
pub const DIRECT_NODES: u64 = 0x02C;
pub const LINK_CTRL: u64 = 0x030;
pub const LINK_STATUS: u64 = 0x034;
pub const LINK_EVENT: u64 = 0x038;
pub const ERR_STATUS: u64 = 0x040;
pub const ERR_ADDR: u64 = 0x048;
pub const ERR_INFO: u64 = 0x050;

/// `CAPS` bits and their names.
pub const CAPS_NAMES: [(u32, &str); 4] = [
    (1 << 0, "dma"),
    (1 << 1, "multicast"),
    (1 << 2, "direct"),
    (1 << 3, "remote-mmio"),
];

/// `LINK_CTRL.ENABLE`.
pub const LINK_ENABLE: u32 = 1;

/// `ERR_STATUS` bit names, by bit number.
pub const ERR_NAMES: [&str; 8] = [
    "UNMAPPED",
    "TARGET_DOWN",
    "REFUSED",
    "RMMIO_FAIL",
    "RMMIO_TIMEOUT",
    "DMA",
    "BAD_REG",
    "MC",
];

/// The 64-bit counters, in register order from `CNT_TX`.
pub const COUNTERS: u64 = 0x100;
pub const COUNTER_NAMES: [&str; 7] = [
    "tx",
    "errors",
    "refused",
    "dma_bytes",
    "db_tx",
    "db_rx",
    "rmmio",
];

// 4.2 Per-peer blocks.
pub const fn peer(p: usize) -> u64 {
    0x1000 + 0x100 * p as u64
}
pub const DB: u64 = 0x00;
pub const DB_MASK: u64 = 0x04;
pub const PEER_DB: u64 = 0x0C;
pub const SPAD: u64 = 0x40;
pub const PEER_SPAD: u64 = 0x80;
pub const SPADS: usize = 16;

// 4.3 LUT.
pub const fn lut(slot: usize) -> u64 {
    0x2000 + 0x10 * slot as u64
}
pub const LUT_CTRL: u64 = 0x0;
pub const LUT_OFFSET: u64 = 0x8;
pub const LUT_VALID: u32 = 1;
pub const LUT_KIND_SHIFT: u32 = 1;
pub const LUT_NODE_SHIFT: u32 = 8;
pub const LUT_INDEX_SHIFT: u32 = 16;
pub const KIND_MEMORY: u32 = 0;
pub const KIND_INTERRUPT: u32 = 1;
pub const KIND_MULTICAST: u32 = 2;

// 4.4 Inbound windows.
pub const fn window(w: usize) -> u64 {
    0x3000 + 0x20 * w as u64
}
pub const IW_CTRL: u64 = 0x00;
pub const IW_BASE: u64 = 0x08;
pub const IW_SIZE: u64 = 0x10;
/// `IW_CTRL`/`INTWIN_CTRL`: enable bit and the shift of the `PEERS` mask.
pub const WIN_ENABLE: u32 = 1;
pub const WIN_PEERS_SHIFT: u32 = 16;

// 4.5 Interrupt window and multicast receive.
pub const INTWIN_CTRL: u64 = 0x3800;
pub const fn mc(g: usize) -> u64 {
    0x3900 + 0x20 * g as u64
}
pub const MC_CTRL: u64 = 0x00;
pub const MC_BASE: u64 = 0x08;
pub const MC_SIZE: u64 = 0x10;
pub const fn mc_members(g: usize) -> u64 {
    0x3A00 + 4 * g as u64
}

// 4.6 DMA channels.
pub const fn dma(c: usize) -> u64 {
    0x4000 + 0x40 * c as u64
}
pub const DMA_CTRL: u64 = 0x00;
pub const DMA_STATUS: u64 = 0x04;
pub const DMA_RING: u64 = 0x08;
pub const DMA_RING_SIZE: u64 = 0x10;
pub const DMA_HEAD: u64 = 0x14;
pub const DMA_TAIL: u64 = 0x18;
pub const DMA_ERR_INDEX: u64 = 0x1C;
pub const DMA_ERR_CODE: u64 = 0x20;
pub const DMA_ENABLE: u32 = 1 << 0;
pub const DMA_RESET: u32 = 1 << 1;
pub const DMA_INT_ENABLE: u32 = 1 << 2;
pub const DMA_STATUS_ERROR: u32 = 1 << 1;
pub const DMA_STATUS_DONE: u32 = 1 << 2;
/// A descriptor: `SRC`, `DST` (u64), `LEN`, `FLAGS`, `RESULT` (u32).
pub const DESC_SIZE: usize = 32;
pub const DESC_RESULT: usize = 0x18;
pub const DESC_INTERRUPT: u32 = 1;
pub const RESULT_OK: u32 = 1;
pub const RESULT_ERR: u32 = 0x8000_0000;
pub const DMA_MAX_LEN: u64 = 64 << 20;

/// MSI-X vectors (section 9).
pub const VECTORS: usize = 64;
pub const VEC_LINK: usize = 0;
pub const VEC_ERROR: usize = 1;
pub const fn vec_dma(c: usize) -> usize {
    2 + c
}
pub const fn vec_doorbell(p: usize) -> usize {
    8 + p
}
pub const fn vec_user(k: usize) -> usize {
    32 + k
}
