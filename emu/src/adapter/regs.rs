//! The RSIO-NTB1 register map: offsets, bit fields and vector numbers,
//! exactly as docs/adapter.md defines them. Nothing else in the emulator
//! spells a register offset.

/// PCI vendor id (not a PCI-SIG assignment; used only by this emulated part).
pub const VENDOR_ID: u16 = 0x7273;
/// PCI device id.
pub const DEVICE_ID: u16 = 0x0001;
/// PCI revision.
pub const REVISION: u8 = 0x01;
/// PCI class code: bridge, other.
pub const CLASS_CODE: u32 = 0x06_80_00;

/// Size of BAR0 (registers, MSI-X table and PBA).
pub const BAR0_SIZE: u64 = 64 * 1024;
/// Most nodes a fabric has.
pub const MAX_NODES: usize = 16;
/// Most LUT slots.
pub const MAX_LUT_SLOTS: usize = 256;
/// Most inbound windows.
pub const MAX_IN_WINDOWS: usize = 64;
/// Most DMA channels.
pub const MAX_DMA_CHANNELS: usize = 4;
/// Most multicast groups.
pub const MAX_MC_GROUPS: usize = 8;
/// Scratchpads per peer.
pub const SPADS: usize = 16;
/// Remote-interrupt (USER) vectors.
pub const USER_VECTORS: usize = 32;
/// MSI-X vectors.
pub const MSIX_VECTORS: u16 = 64;
/// MSI-X table offset in BAR0.
pub const MSIX_TABLE: u32 = 0x8000;
/// MSI-X PBA offset in BAR0.
pub const MSIX_PBA: u32 = 0x9000;

/// `ID` register value: "RSIO".
pub const ID_VALUE: u32 = 0x4F49_5352;
/// `VERSION` register value: 1.0.
pub const VERSION_VALUE: u32 = 0x0001_0000;

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
pub const RMMIO_TIMEOUT: u64 = 0x060;
pub const DIRECT_ALIAS: u64 = 0x064;
pub const CHASSIS_NODES: u64 = 0x068;
pub const CNT_TX: u64 = 0x100;
pub const CNT_ERRORS: u64 = 0x108;
pub const CNT_REFUSED: u64 = 0x110;
pub const CNT_DMA_BYTES: u64 = 0x118;
pub const CNT_DB_TX: u64 = 0x120;
pub const CNT_DB_RX: u64 = 0x128;
pub const CNT_RMMIO: u64 = 0x130;
/// End of the counters.
pub const CNT_END: u64 = 0x138;

// 4.3 Message registers.
/// Message registers per node.
pub const MSGS: usize = 4;
pub const MSG_STS: u64 = 0x200;
pub const MSG_MASK: u64 = 0x204;
/// `MSG_IN(i)` data at `MSG_IN + 8 i`, its source node at `+ 4`.
pub const MSG_IN: u64 = 0x210;
/// `MSG_STS` bit: message register `i` holds an unread message.
pub const fn msg_in_bit(i: usize) -> u32 {
    1 << i
}
/// `MSG_STS` bit: a message sent through register `i` was not delivered.
pub const fn msg_out_fail_bit(i: usize) -> u32 {
    1 << (16 + i)
}
/// All defined `MSG_STS` bits.
pub const MSG_STS_BITS: u32 = 0x000F_000F;

/// `CAPS` bits.
pub mod caps {
    pub const DMA: u32 = 1 << 0;
    pub const MULTICAST: u32 = 1 << 1;
    pub const DIRECT: u32 = 1 << 2;
    pub const REMOTE_MMIO: u32 = 1 << 3;
    pub const CHASSIS: u32 = 1 << 4;
}

/// The management block of a chassis adapter (docs/adapter.md section
/// 12): its inbound window 1, served by the adapter itself.
pub mod mgmt {
    /// The inbound window that holds it.
    pub const WINDOW: usize = 1;
    /// Its size.
    pub const SIZE: u64 = 4096;
    pub const CH_ID: u64 = 0x000;
    /// `CH_ID` value: "CHSS".
    pub const CH_ID_VALUE: u32 = 0x5353_4843;
    pub const MSI_BASE: u64 = 0x008;
    pub const DMA_BASE: u64 = 0x010;
    pub const DMA_SIZE: u64 = 0x018;
    pub const DIRECT_SHIFT: u64 = 0x020;
    pub const SLOT_SHIFT: u64 = 0x024;
    pub const ECAM_BASE: u64 = 0x028;
    pub const GENERATION: u64 = 0x030;
    /// `SLOT_OWNER(d)` at `SLOT_OWNER + 4 d`.
    pub const SLOT_OWNER: u64 = 0x100;
    /// `SLOT_OWNER` read: claimed, owner in the low bits.
    pub const OWNED: u32 = 0x8000_0000;
    /// `SLOT_OWNER` writes.
    pub const CLAIM: u32 = 1;
    pub const RELEASE: u32 = 0;
}

/// `LINK_CTRL.ENABLE`.
pub const LINK_ENABLE: u32 = 1;

/// `ERR_STATUS` bits (also the error's number in `ERR_INFO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Err {
    Unmapped = 0,
    TargetDown = 1,
    Refused = 2,
    RmmioFail = 3,
    RmmioTimeout = 4,
    Dma = 5,
    BadReg = 6,
    Multicast = 7,
}

impl Err {
    /// The error's bit in `ERR_STATUS`.
    pub const fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// `DIRECT_ALIAS`: the direct window is also decoded, as memory, by BAR
/// `(v >> 8) & 7` of function `v & 0xff` (devfn) on the adapter's bus.
pub mod direct_alias {
    pub const VALID: u32 = 1 << 31;
    /// The alias this emulator offers: `ivshmem-plain` at slot 0x1e,
    /// function 0, whose memory BAR is BAR2 (see the `qemu_args` of
    /// rsio-fabric, which places it there).
    pub const SLOT: u32 = 0x1e;
    pub const BAR: u32 = 2;
    /// The register's value.
    pub const fn value() -> u32 {
        VALID | BAR << 8 | SLOT << 3
    }
}

/// Reset value of `RMMIO_TIMEOUT`, microseconds.
pub const RMMIO_TIMEOUT_DEFAULT_US: u32 = 10_000;

// 4.2 Per-peer blocks.
pub const PEER_BASE: u64 = 0x1000;
pub const PEER_STRIDE: u64 = 0x100;
pub const PEER_DB: u64 = 0x00;
pub const PEER_DB_MASK: u64 = 0x04;
pub const PEER_DB_SET: u64 = 0x08;
pub const PEER_PEER_DB: u64 = 0x0C;
pub const PEER_SPAD: u64 = 0x40;
pub const PEER_PEER_SPAD: u64 = 0x80;
pub const PEER_MSG: u64 = 0xC0;

// 4.3 LUT.
pub const LUT_BASE: u64 = 0x2000;
pub const LUT_STRIDE: u64 = 0x10;
pub const LUT_CTRL: u64 = 0x0;
pub const LUT_OFFSET: u64 = 0x8;

/// `LUT_CTRL` fields.
pub mod lut {
    pub const VALID: u32 = 1;
    pub const KIND_SHIFT: u32 = 1;
    pub const KIND_MASK: u32 = 0x7;
    pub const KIND_MEMORY: u32 = 0;
    pub const KIND_INTERRUPT: u32 = 1;
    pub const KIND_MULTICAST: u32 = 2;
    pub const NODE_SHIFT: u32 = 8;
    pub const NODE_MASK: u32 = 0xF;
    pub const INDEX_SHIFT: u32 = 16;
    pub const INDEX_MASK: u32 = 0x3F;
    /// Bits that may be set.
    pub const DEFINED: u32 =
        VALID | KIND_MASK << KIND_SHIFT | NODE_MASK << NODE_SHIFT | INDEX_MASK << INDEX_SHIFT;
}

// 4.4 Inbound windows.
pub const IW_BASE: u64 = 0x3000;
pub const IW_STRIDE: u64 = 0x20;
pub const IW_CTRL: u64 = 0x00;
pub const IW_ADDR: u64 = 0x08;
pub const IW_SIZE: u64 = 0x10;

/// `IW_CTRL`, `INTWIN_CTRL`: enable bit and peer mask.
pub const WIN_ENABLE: u32 = 1;
/// Shift of the `PEERS` mask in `IW_CTRL`/`INTWIN_CTRL`.
pub const WIN_PEERS_SHIFT: u32 = 16;

// 4.5 Interrupt window and multicast receive.
pub const INTWIN_CTRL: u64 = 0x3800;
pub const MC_BASE: u64 = 0x3900;
pub const MC_STRIDE: u64 = 0x20;
pub const MC_CTRL: u64 = 0x00;
pub const MC_ADDR: u64 = 0x08;
pub const MC_SIZE: u64 = 0x10;
pub const MC_MEMBERS: u64 = 0x3A00;

// 4.6 DMA channels.
pub const DMA_BASE: u64 = 0x4000;
pub const DMA_STRIDE: u64 = 0x40;
pub const DMA_CTRL: u64 = 0x00;
pub const DMA_STATUS: u64 = 0x04;
pub const DMA_RING: u64 = 0x08;
pub const DMA_RING_SIZE: u64 = 0x10;
pub const DMA_HEAD: u64 = 0x14;
pub const DMA_TAIL: u64 = 0x18;
pub const DMA_ERR_INDEX: u64 = 0x1C;
pub const DMA_ERR_CODE: u64 = 0x20;

/// `DMA_CTRL` bits.
pub mod dma_ctrl {
    pub const ENABLE: u32 = 1 << 0;
    pub const RESET: u32 = 1 << 1;
    pub const INT_ENABLE: u32 = 1 << 2;
}
/// `DMA_STATUS` bits.
pub mod dma_status {
    pub const BUSY: u32 = 1 << 0;
    pub const ERROR: u32 = 1 << 1;
    pub const DONE: u32 = 1 << 2;
}
/// DMA descriptor layout.
pub mod desc {
    pub const SIZE: u64 = 32;
    pub const SRC: usize = 0x00;
    pub const DST: usize = 0x08;
    pub const LEN: usize = 0x10;
    pub const FLAGS: usize = 0x14;
    pub const RESULT: usize = 0x18;
    pub const FLAG_INTERRUPT: u32 = 1;
    pub const RESULT_OK: u32 = 1;
    pub const RESULT_ERR: u32 = 0x8000_0000;
    pub const MAX_LEN: u32 = 64 << 20;
    pub const MAX_RING: u32 = 4096;
}
/// `DMA_ERR_CODE` values.
pub mod dma_err {
    pub const SRC: u32 = 1;
    pub const DST: u32 = 2;
    pub const LEN: u32 = 3;
    pub const RING: u32 = 4;
}

/// MSI-X vectors by cause.
pub mod vector {
    pub const LINK: u16 = 0;
    pub const ERROR: u16 = 1;
    pub const MESSAGE: u16 = 6;
    pub const fn dma(channel: usize) -> u16 {
        2 + channel as u16
    }
    pub const fn doorbell(peer: usize) -> u16 {
        8 + peer as u16
    }
    pub const fn user(k: usize) -> u16 {
        32 + k as u16
    }
}
