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
