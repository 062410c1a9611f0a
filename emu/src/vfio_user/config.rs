//! [`ConfigSpace`]: a conventional (256-byte) PCI type-0 configuration
//! space with standard register behaviour, for device models to serve the
//! config region (index 7) from.
//!
//! Every byte has a mask of guest-writable bits; everything else reads
//! back what the device model set up. That alone gives the standard
//! behaviours: BAR sizing (write all-ones, read back the size mask and the
//! read-only type bits), the command register, interrupt line, and the
//! control bits of capabilities such as MSI-X.

use std::fmt;

use super::errno::Errno;

/// Size of conventional PCI configuration space.
pub const CONFIG_SPACE_SIZE: usize = 256;

/// Register offsets (`PCI_*` in `<linux/pci_regs.h>`).
pub mod reg {
    pub const VENDOR_ID: usize = 0x00;
    pub const DEVICE_ID: usize = 0x02;
    pub const COMMAND: usize = 0x04;
    pub const STATUS: usize = 0x06;
    pub const REVISION_ID: usize = 0x08;
    pub const CLASS_PROG: usize = 0x09;
    pub const CACHE_LINE_SIZE: usize = 0x0c;
    pub const LATENCY_TIMER: usize = 0x0d;
    pub const HEADER_TYPE: usize = 0x0e;
    pub const BAR0: usize = 0x10;
    pub const SUBSYSTEM_VENDOR_ID: usize = 0x2c;
    pub const SUBSYSTEM_ID: usize = 0x2e;
    pub const CAPABILITY_LIST: usize = 0x34;
    pub const INTERRUPT_LINE: usize = 0x3c;
    pub const INTERRUPT_PIN: usize = 0x3d;
}

/// Command register bits.
pub mod command {
    pub const IO: u16 = 1 << 0;
    pub const MEMORY: u16 = 1 << 1;
    pub const BUS_MASTER: u16 = 1 << 2;
    pub const PARITY: u16 = 1 << 6;
    pub const SERR: u16 = 1 << 8;
    pub const INTX_DISABLE: u16 = 1 << 10;
}

/// Capability IDs.
pub mod cap_id {
    pub const MSI: u8 = 0x05;
    pub const VENDOR: u8 = 0x09;
    pub const MSIX: u8 = 0x11;
}

/// MSI-X Message Control bits.
pub mod msix_control {
    pub const TABLE_SIZE_MASK: u16 = 0x07ff;
    pub const FUNCTION_MASK: u16 = 1 << 14;
    pub const ENABLE: u16 = 1 << 15;
}

const STATUS_CAP_LIST: u16 = 1 << 4;
const FIRST_CAP: usize = 0x40;

/// The identity registers of a device.
#[derive(Clone, Copy, Debug)]
pub struct PciIds {
    pub vendor_id: u16,
    pub device_id: u16,
    pub subsystem_vendor_id: u16,
    pub subsystem_id: u16,
    pub revision: u8,
    /// Base class, subclass and programming interface, as 0xBBSSPP (e.g.
    /// 0xff0000: "unassigned class").
    pub class_code: u32,
}

/// The kind of a BAR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarKind {
    Io,
    Memory32,
    /// Occupies this BAR and the next.
    Memory64,
}

/// A Base Address Register's fixed properties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    /// A power of two: at least 16 for memory, 4 for I/O.
    pub size: u64,
    pub kind: BarKind,
    pub prefetchable: bool,
}

impl Bar {
    pub fn memory32(size: u64) -> Bar {
        Bar {
            size,
            kind: BarKind::Memory32,
            prefetchable: false,
        }
    }

    pub fn memory64(size: u64) -> Bar {
        Bar {
            size,
            kind: BarKind::Memory64,
            prefetchable: false,
        }
    }

    pub fn io(size: u64) -> Bar {
        Bar {
            size,
            kind: BarKind::Io,
            prefetchable: false,
        }
    }

    pub fn prefetchable(mut self) -> Bar {
        self.prefetchable = true;
        self
    }

    /// The read-only low bits of the BAR register.
    fn type_bits(&self) -> u32 {
        match self.kind {
            BarKind::Io => 0x1,
            BarKind::Memory32 => u32::from(self.prefetchable) << 3,
            BarKind::Memory64 => 0x4 | u32::from(self.prefetchable) << 3,
        }
    }
}

/// Where an MSI-X capability puts its table and Pending Bit Array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsixLayout {
    /// 1 to 2048.
    pub vectors: u16,
    pub table_bar: u8,
    /// 8-byte aligned offset of the table (16 bytes per vector) in its BAR.
    pub table_offset: u32,
    pub pba_bar: u8,
    /// 8-byte aligned offset of the PBA (one bit per vector, in 64-bit
    /// words) in its BAR.
    pub pba_offset: u32,
}

impl MsixLayout {
    /// Bytes of the vector table.
    pub fn table_size(&self) -> u64 {
        16 * u64::from(self.vectors)
    }

    /// Bytes of the Pending Bit Array.
    pub fn pba_size(&self) -> u64 {
        u64::from(self.vectors).div_ceil(64) * 8
    }
}

/// Why a configuration-space layout was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// A BAR number above 5, or a 64-bit BAR in slot 5.
    BadBarIndex(usize),
    /// Not a power of two, or too small for its kind.
    BadBarSize(u64),
    /// The slot is taken (also by the upper half of a 64-bit BAR).
    BarInUse(usize),
    /// No room left for the capability.
    NoSpace,
    /// An MSI-X layout that is out of range, misaligned or overlapping.
    BadMsix(&'static str),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::BadBarIndex(i) => write!(f, "BAR {i} cannot be used"),
            ConfigError::BadBarSize(s) => write!(f, "BAR size {s:#x} is not a valid power of two"),
            ConfigError::BarInUse(i) => write!(f, "BAR {i} is already in use"),
            ConfigError::NoSpace => write!(f, "no room left in configuration space"),
            ConfigError::BadMsix(why) => write!(f, "bad MSI-X layout: {why}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A PCI type-0 configuration space.
#[derive(Clone)]
pub struct ConfigSpace {
    bytes: [u8; CONFIG_SPACE_SIZE],
    /// Guest-writable bits of each byte.
    wmask: [u8; CONFIG_SPACE_SIZE],
    /// What a reset restores.
    initial: [u8; CONFIG_SPACE_SIZE],
    bars: [Option<Bar>; 6],
    /// Offset of the last capability added, to chain the next one.
    last_cap: Option<usize>,
    next_free: usize,
    msix: Option<(usize, MsixLayout)>,
}

impl ConfigSpace {
    /// A configuration space with `ids`, no BARs, no capabilities, no
    /// interrupt pin; command, cache-line size, latency timer and interrupt
    /// line writable.
    pub fn new(ids: &PciIds) -> ConfigSpace {
        let mut cfg = ConfigSpace {
            bytes: [0; CONFIG_SPACE_SIZE],
            wmask: [0; CONFIG_SPACE_SIZE],
            initial: [0; CONFIG_SPACE_SIZE],
            bars: [None; 6],
            last_cap: None,
            next_free: FIRST_CAP,
            msix: None,
        };
        cfg.set16(reg::VENDOR_ID, ids.vendor_id);
        cfg.set16(reg::DEVICE_ID, ids.device_id);
        cfg.bytes[reg::REVISION_ID] = ids.revision;
        cfg.bytes[reg::CLASS_PROG..reg::CLASS_PROG + 3]
            .copy_from_slice(&ids.class_code.to_le_bytes()[..3]);
        cfg.set16(reg::SUBSYSTEM_VENDOR_ID, ids.subsystem_vendor_id);
        cfg.set16(reg::SUBSYSTEM_ID, ids.subsystem_id);
        let writable_command = command::IO
            | command::MEMORY
            | command::BUS_MASTER
            | command::PARITY
            | command::SERR
            | command::INTX_DISABLE;
        cfg.wmask[reg::COMMAND..reg::COMMAND + 2].copy_from_slice(&writable_command.to_le_bytes());
        cfg.wmask[reg::CACHE_LINE_SIZE] = 0xff;
        cfg.wmask[reg::LATENCY_TIMER] = 0xff;
        cfg.wmask[reg::INTERRUPT_LINE] = 0xff;
        cfg.initial = cfg.bytes;
        cfg
    }

    /// Declares BAR `index`.
    pub fn set_bar(&mut self, index: usize, bar: Bar) -> Result<(), ConfigError> {
        let wide = bar.kind == BarKind::Memory64;
        if index > 5 || (wide && index == 5) {
            return Err(ConfigError::BadBarIndex(index));
        }
        let min = if bar.kind == BarKind::Io { 4 } else { 16 };
        if !bar.size.is_power_of_two() || bar.size < min || (!wide && bar.size > 1 << 31) {
            return Err(ConfigError::BadBarSize(bar.size));
        }
        let slots = if wide {
            index..index + 2
        } else {
            index..index + 1
        };
        if slots.clone().any(|i| self.bar_slot_used(i)) {
            return Err(ConfigError::BarInUse(index));
        }
        self.bars[index] = Some(bar);
        let offset = reg::BAR0 + 4 * index;
        let address_mask = !(bar.size - 1);
        let low_mask = (address_mask as u32) & !(if bar.kind == BarKind::Io { 0x3 } else { 0xf });
        self.set32(offset, bar.type_bits());
        self.wmask[offset..offset + 4].copy_from_slice(&low_mask.to_le_bytes());
        if wide {
            let high_mask = (address_mask >> 32) as u32;
            self.wmask[offset + 4..offset + 8].copy_from_slice(&high_mask.to_le_bytes());
        }
        self.initial = self.bytes;
        Ok(())
    }

    /// Sets the interrupt pin (1 = INTA#; 0 = none, the default).
    pub fn set_interrupt_pin(&mut self, pin: u8) {
        self.bytes[reg::INTERRUPT_PIN] = pin;
        self.initial = self.bytes;
    }

    /// Appends a capability: `id`, then `body` (everything after the ID
    /// and next-pointer bytes), whose guest-writable bits are
    /// `writable` (missing bytes: read-only). Returns its offset.
    pub fn add_capability(
        &mut self,
        id: u8,
        body: &[u8],
        writable: &[u8],
    ) -> Result<u8, ConfigError> {
        let offset = self.next_free;
        let len = 2 + body.len();
        if offset + len > CONFIG_SPACE_SIZE {
            return Err(ConfigError::NoSpace);
        }
        self.bytes[offset] = id;
        self.bytes[offset + 1] = 0;
        self.bytes[offset + 2..offset + len].copy_from_slice(body);
        for (i, &mask) in writable.iter().take(body.len()).enumerate() {
            self.wmask[offset + 2 + i] = mask;
        }
        match self.last_cap {
            Some(last) => self.bytes[last + 1] = offset as u8,
            None => {
                self.bytes[reg::CAPABILITY_LIST] = offset as u8;
                let status = self.get16(reg::STATUS) | STATUS_CAP_LIST;
                self.set16(reg::STATUS, status);
            }
        }
        self.last_cap = Some(offset);
        self.next_free = (offset + len).next_multiple_of(4);
        self.initial = self.bytes;
        Ok(offset as u8)
    }

    /// Appends an MSI-X capability. The table and PBA must lie in declared
    /// memory BARs without overlapping. Returns its offset.
    pub fn add_msix(&mut self, layout: MsixLayout) -> Result<u8, ConfigError> {
        if self.msix.is_some() {
            return Err(ConfigError::BadMsix("the device already has MSI-X"));
        }
        if layout.vectors == 0 || layout.vectors > 2048 {
            return Err(ConfigError::BadMsix("vector count must be 1 to 2048"));
        }
        if !layout.table_offset.is_multiple_of(8) || !layout.pba_offset.is_multiple_of(8) {
            return Err(ConfigError::BadMsix(
                "table and PBA offsets must be 8-byte aligned",
            ));
        }
        let fits = |bar: u8, offset: u32, size: u64| {
            self.bars
                .get(bar as usize)
                .copied()
                .flatten()
                .is_some_and(|b| b.kind != BarKind::Io && u64::from(offset) + size <= b.size)
        };
        if !fits(layout.table_bar, layout.table_offset, layout.table_size()) {
            return Err(ConfigError::BadMsix("the table does not fit in its BAR"));
        }
        if !fits(layout.pba_bar, layout.pba_offset, layout.pba_size()) {
            return Err(ConfigError::BadMsix("the PBA does not fit in its BAR"));
        }
        if layout.table_bar == layout.pba_bar {
            let table = u64::from(layout.table_offset)
                ..u64::from(layout.table_offset) + layout.table_size();
            let pba =
                u64::from(layout.pba_offset)..u64::from(layout.pba_offset) + layout.pba_size();
            if table.start < pba.end && pba.start < table.end {
                return Err(ConfigError::BadMsix("the table and the PBA overlap"));
            }
        }
        let mut body = [0u8; 10];
        body[0..2].copy_from_slice(&(layout.vectors - 1).to_le_bytes());
        body[2..6]
            .copy_from_slice(&(layout.table_offset | u32::from(layout.table_bar)).to_le_bytes());
        body[6..10].copy_from_slice(&(layout.pba_offset | u32::from(layout.pba_bar)).to_le_bytes());
        let control_writable = (msix_control::FUNCTION_MASK | msix_control::ENABLE).to_le_bytes();
        let offset = self.add_capability(cap_id::MSIX, &body, &control_writable)?;
        self.msix = Some((offset as usize, layout));
        Ok(offset)
    }

    /// Copies registers at `offset` into `data`; `EINVAL` past the end.
    pub fn read(&self, offset: u64, data: &mut [u8]) -> Result<(), Errno> {
        let range = Self::range(offset, data.len())?;
        data.copy_from_slice(&self.bytes[range]);
        Ok(())
    }

    /// Applies a guest write: only writable bits change. `EINVAL` past the
    /// end.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), Errno> {
        let range = Self::range(offset, data.len())?;
        for (i, &value) in range.zip(data) {
            let mask = self.wmask[i];
            self.bytes[i] = (self.bytes[i] & !mask) | (value & mask);
        }
        Ok(())
    }

    /// Restores the state after construction (as a function-level reset).
    pub fn reset(&mut self) {
        self.bytes = self.initial;
    }

    pub fn command(&self) -> u16 {
        self.get16(reg::COMMAND)
    }

    /// Whether the guest enabled bus mastering (the device may DMA).
    pub fn bus_master(&self) -> bool {
        self.command() & command::BUS_MASTER != 0
    }

    /// The BAR's declared properties.
    pub fn bar(&self, index: usize) -> Option<Bar> {
        self.bars.get(index).copied().flatten()
    }

    /// The address the guest programmed into BAR `index`.
    pub fn bar_address(&self, index: usize) -> Option<u64> {
        let bar = self.bar(index)?;
        let offset = reg::BAR0 + 4 * index;
        let low =
            u64::from(self.get32(offset) & !(if bar.kind == BarKind::Io { 0x3 } else { 0xf }));
        let high = if bar.kind == BarKind::Memory64 {
            u64::from(self.get32(offset + 4))
        } else {
            0
        };
        Some(high << 32 | low)
    }

    /// The MSI-X capability's offset and layout, if any.
    pub fn msix(&self) -> Option<(u8, MsixLayout)> {
        self.msix.map(|(offset, layout)| (offset as u8, layout))
    }

    /// Whether the guest enabled MSI-X.
    pub fn msix_enabled(&self) -> bool {
        self.msix_control() & msix_control::ENABLE != 0
    }

    /// Whether the guest masked all MSI-X vectors at once.
    pub fn msix_function_masked(&self) -> bool {
        self.msix_control() & msix_control::FUNCTION_MASK != 0
    }

    fn msix_control(&self) -> u16 {
        self.msix.map_or(0, |(offset, _)| self.get16(offset + 2))
    }

    fn bar_slot_used(&self, index: usize) -> bool {
        self.bars[index].is_some()
            || (index > 0 && self.bars[index - 1].is_some_and(|b| b.kind == BarKind::Memory64))
    }

    fn range(offset: u64, len: usize) -> Result<std::ops::Range<usize>, Errno> {
        let start = usize::try_from(offset).map_err(|_| Errno::EINVAL)?;
        let end = start
            .checked_add(len)
            .filter(|&end| end <= CONFIG_SPACE_SIZE)
            .ok_or(Errno::EINVAL)?;
        Ok(start..end)
    }

    fn get16(&self, offset: usize) -> u16 {
        u16::from_le_bytes([self.bytes[offset], self.bytes[offset + 1]])
    }

    fn get32(&self, offset: usize) -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.bytes[offset..offset + 4]);
        u32::from_le_bytes(b)
    }

    fn set16(&mut self, offset: usize, value: u16) {
        self.bytes[offset..offset + 2].copy_from_slice(&value.to_le_bytes());
    }

    fn set32(&mut self, offset: usize, value: u32) {
        self.bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    }
}

impl fmt::Debug for ConfigSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigSpace")
            .field(
                "vendor_id",
                &format_args!("{:#06x}", self.get16(reg::VENDOR_ID)),
            )
            .field(
                "device_id",
                &format_args!("{:#06x}", self.get16(reg::DEVICE_ID)),
            )
            .field("command", &format_args!("{:#06x}", self.command()))
            .field("bars", &self.bars)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: PciIds = PciIds {
        vendor_id: 0x7273,
        device_id: 0x0001,
        subsystem_vendor_id: 0x7273,
        subsystem_id: 0x0001,
        revision: 1,
        class_code: 0xff0000,
    };

    fn read32(cfg: &ConfigSpace, offset: u64) -> u32 {
        let mut b = [0u8; 4];
        cfg.read(offset, &mut b).unwrap();
        u32::from_le_bytes(b)
    }

    fn write32(cfg: &mut ConfigSpace, offset: u64, value: u32) {
        cfg.write(offset, &value.to_le_bytes()).unwrap();
    }

    #[test]
    fn identity_registers_read_back_and_ignore_writes() {
        let mut cfg = ConfigSpace::new(&IDS);
        assert_eq!(read32(&cfg, 0), 0x0001_7273);
        assert_eq!(read32(&cfg, 8), 0xff00_0001);
        write32(&mut cfg, 0, 0xffff_ffff);
        assert_eq!(read32(&cfg, 0), 0x0001_7273);
    }

    #[test]
    fn sizing_a_32_bit_bar_reads_back_its_size_mask_and_type_bits() {
        let mut cfg = ConfigSpace::new(&IDS);
        cfg.set_bar(0, Bar::memory32(4096)).unwrap();
        write32(&mut cfg, 0x10, 0xffff_ffff);
        assert_eq!(read32(&cfg, 0x10), 0xffff_f000);
        write32(&mut cfg, 0x10, 0xfebf_1000);
        assert_eq!(cfg.bar_address(0), Some(0xfebf_1000));
    }

    #[test]
    fn sizing_a_64_bit_prefetchable_bar_spans_two_registers() {
        let mut cfg = ConfigSpace::new(&IDS);
        cfg.set_bar(2, Bar::memory64(1 << 20).prefetchable())
            .unwrap();
        assert_eq!(read32(&cfg, 0x18), 0xc);
        write32(&mut cfg, 0x18, 0xffff_ffff);
        write32(&mut cfg, 0x1c, 0xffff_ffff);
        assert_eq!(read32(&cfg, 0x18), 0xfff0_000c);
        assert_eq!(read32(&cfg, 0x1c), 0xffff_ffff);
        write32(&mut cfg, 0x18, 0x8010_0000);
        write32(&mut cfg, 0x1c, 0x1);
        assert_eq!(cfg.bar_address(2), Some(0x1_8010_0000));
    }

    #[test]
    fn an_unimplemented_bar_reads_zero_even_after_sizing() {
        let mut cfg = ConfigSpace::new(&IDS);
        write32(&mut cfg, 0x14, 0xffff_ffff);
        assert_eq!(read32(&cfg, 0x14), 0);
    }

    #[test]
    fn bad_bar_layouts_are_refused() {
        let mut cfg = ConfigSpace::new(&IDS);
        assert_eq!(
            cfg.set_bar(6, Bar::memory32(16)),
            Err(ConfigError::BadBarIndex(6))
        );
        assert_eq!(
            cfg.set_bar(5, Bar::memory64(16)),
            Err(ConfigError::BadBarIndex(5))
        );
        assert_eq!(
            cfg.set_bar(0, Bar::memory32(3000)),
            Err(ConfigError::BadBarSize(3000))
        );
        assert_eq!(
            cfg.set_bar(0, Bar::memory32(8)),
            Err(ConfigError::BadBarSize(8))
        );
        cfg.set_bar(0, Bar::memory64(4096)).unwrap();
        assert_eq!(
            cfg.set_bar(1, Bar::memory32(4096)),
            Err(ConfigError::BarInUse(1))
        );
    }

    #[test]
    fn command_register_keeps_only_its_writable_bits() {
        let mut cfg = ConfigSpace::new(&IDS);
        cfg.write(4, &[0xff, 0xff]).unwrap();
        assert_eq!(cfg.command(), 0x0547);
        assert!(cfg.bus_master());
    }

    #[test]
    fn capabilities_form_a_linked_list_announced_in_status() {
        let mut cfg = ConfigSpace::new(&IDS);
        cfg.set_bar(0, Bar::memory32(4096)).unwrap();
        let vendor = cfg.add_capability(cap_id::VENDOR, &[3, 0xaa], &[]).unwrap();
        let msix = cfg
            .add_msix(MsixLayout {
                vectors: 4,
                table_bar: 0,
                table_offset: 0x800,
                pba_bar: 0,
                pba_offset: 0xc00,
            })
            .unwrap();
        let mut b = [0u8; 2];
        cfg.read(reg::STATUS as u64, &mut b).unwrap();
        assert_ne!(u16::from_le_bytes(b) & STATUS_CAP_LIST, 0);
        assert_eq!(
            read32(&cfg, reg::CAPABILITY_LIST as u64) & 0xff,
            u32::from(vendor)
        );
        assert_eq!(vendor, 0x40);
        assert_eq!(msix, 0x44);
        let mut link = [0u8; 2];
        cfg.read(u64::from(vendor), &mut link).unwrap();
        assert_eq!(link, [cap_id::VENDOR, msix]);
        cfg.read(u64::from(msix), &mut link).unwrap();
        assert_eq!(link, [cap_id::MSIX, 0]);
    }

    #[test]
    fn msix_capability_describes_its_table_and_only_control_bits_are_writable() {
        let mut cfg = ConfigSpace::new(&IDS);
        cfg.set_bar(4, Bar::memory32(8192)).unwrap();
        let layout = MsixLayout {
            vectors: 8,
            table_bar: 4,
            table_offset: 0,
            pba_bar: 4,
            pba_offset: 0x1000,
        };
        let at = u64::from(cfg.add_msix(layout).unwrap());
        assert_eq!(read32(&cfg, at) >> 16, 7);
        assert_eq!(read32(&cfg, at + 4), 4);
        assert_eq!(read32(&cfg, at + 8), 0x1004);
        cfg.write(at + 2, &0xffffu16.to_le_bytes()).unwrap();
        assert_eq!(read32(&cfg, at) >> 16, 0xc007);
        assert!(cfg.msix_enabled() && cfg.msix_function_masked());
        cfg.reset();
        assert!(!cfg.msix_enabled());
    }

    #[test]
    fn msix_layouts_outside_their_bar_or_overlapping_are_refused() {
        let mut cfg = ConfigSpace::new(&IDS);
        cfg.set_bar(0, Bar::memory32(4096)).unwrap();
        let base = MsixLayout {
            vectors: 4,
            table_bar: 0,
            table_offset: 0,
            pba_bar: 0,
            pba_offset: 0x800,
        };
        let outside = MsixLayout {
            table_offset: 0xff8,
            ..base
        };
        assert!(matches!(
            cfg.add_msix(outside),
            Err(ConfigError::BadMsix(_))
        ));
        let overlapping = MsixLayout {
            pba_offset: 0x20,
            ..base
        };
        assert!(matches!(
            cfg.add_msix(overlapping),
            Err(ConfigError::BadMsix(_))
        ));
        let no_bar = MsixLayout {
            table_bar: 3,
            ..base
        };
        assert!(matches!(cfg.add_msix(no_bar), Err(ConfigError::BadMsix(_))));
        assert!(cfg.add_msix(base).is_ok());
    }

    #[test]
    fn accesses_past_the_end_fail() {
        let mut cfg = ConfigSpace::new(&IDS);
        assert_eq!(cfg.read(254, &mut [0u8; 4]), Err(Errno::EINVAL));
        assert_eq!(cfg.write(u64::MAX, &[0]), Err(Errno::EINVAL));
        assert!(cfg.read(0, &mut [0u8; 256]).is_ok());
    }
}
