//! Expansion chassis (docs/adapter.md section 12): a fabric node that holds
//! PCIe devices and an adapter but runs no operating system.
//!
//! This module holds what is fixed about a chassis's platform: its bus
//! address map, the firmware its QEMU runs (a config-space program written
//! through I/O ports 0xCF8/0xCFC, generated here as machine code, no
//! assembler), and the PCI Express pieces the emulator pokes through the
//! chassis's bus-master path to power root-port slots.

use crate::fabric::FabricConfig;

/// ECAM (PCIEXBAR) of the chassis: 256 buses, 256 MiB.
pub const ECAM_BASE: u64 = 0xB000_0000;
/// Size of the ECAM.
pub const ECAM_SIZE: u64 = 256 << 20;
/// The chassis adapter's BAR0.
pub const ADAPTER_BAR0: u64 = 0xC000_0000;
/// The chassis adapter's BAR2 (`MSI_BASE`).
pub const MSI_BASE: u64 = 0x40_0000_0000;
/// The chassis adapter's BAR4 (the direct window).
pub const ADAPTER_BAR4: u64 = 0x10_0000_0000;
/// The alias ivshmem-plain's BAR2 (`DMA_BASE`).
pub const DMA_BASE: u64 = 0x20_0000_0000;
/// Device number of the chassis adapter on bus 0.
pub const ADAPTER_SLOT: u8 = 0x02;
/// Root ports the firmware programs: `ROOT_PORTS` of them, at device
/// numbers `FIRST_ROOT_PORT..`.
pub const FIRST_ROOT_PORT: u8 = 0x04;
pub const ROOT_PORTS: u8 = 24;
/// Root port `k`'s 32-bit window: `W32_BASE + k * W32_SIZE`.
pub const W32_BASE: u64 = 0xC100_0000;
pub const W32_SIZE: u64 = 16 << 20;
/// Root port `k`'s 64-bit prefetchable window: `W64_BASE + k * W64_SIZE`.
pub const W64_BASE: u64 = 0x80_0000_0000;
pub const W64_SIZE: u64 = 64 << 30;
/// The firmware image's size (QEMU maps it at 4 GiB minus this).
pub const BIOS_SIZE: usize = 64 << 10;
/// The size of a chassis adapter's inbound window 0: its whole bus.
pub const BUS_SPAN: u64 = 1 << 41;
/// Device-number slots the management block tracks (`SLOT_OWNER(d)`).
pub const SLOTS: usize = 32;

/// Root port `k`'s 32-bit window.
pub const fn w32(k: u8) -> u64 {
    W32_BASE + k as u64 * W32_SIZE
}

/// Root port `k`'s 64-bit window.
pub const fn w64(k: u8) -> u64 {
    W64_BASE + k as u64 * W64_SIZE
}

/// The ECAM address of register `reg` of bus 0 device `dev` function 0.
pub const fn ecam(dev: u8, reg: u16) -> u64 {
    ECAM_BASE + ((dev as u64) << 15) + reg as u64
}

/// The ECAM address of register `reg` of function 0 of device `dev` on
/// bus `bus`.
pub const fn ecam_bus(bus: u8, dev: u8, reg: u16) -> u64 {
    ECAM_BASE + ((bus as u64) << 20) + ((dev as u64) << 15) + reg as u64
}

/// PCI Express pieces the emulator uses to power a slot.
pub mod pcie {
    /// Config offset of the status register; bit 4: a capability list.
    pub const STATUS: u16 = 0x06;
    pub const STATUS_CAP_LIST: u16 = 1 << 4;
    /// Config offset of the capability pointer.
    pub const CAP_PTR: u16 = 0x34;
    /// The PCI Express capability's id.
    pub const CAP_ID_EXP: u8 = 0x10;
    /// Slot Control, from the capability.
    pub const SLOT_CTL: u16 = 0x18;
    /// Slot Status, from the capability; bit 6 Presence Detect State.
    pub const SLOT_STA: u16 = 0x1A;
    pub const SLOT_STA_PDS: u16 = 1 << 6;
    /// Slot Control: Power Indicator Control (9:8) and Power Controller
    /// Control (10, 1 = off).
    pub const SLOT_CTL_PIC: u16 = 0x3 << 8;
    pub const SLOT_CTL_PIC_ON: u16 = 0x1 << 8;
    pub const SLOT_CTL_PIC_OFF: u16 = 0x3 << 8;
    pub const SLOT_CTL_PIC_BLINK: u16 = 0x2 << 8;
    pub const SLOT_CTL_PCC: u16 = 1 << 10;

    /// What a slot's power becomes.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Power {
        /// Powered, indicator on.
        On,
        /// Powered off with the indicator off: the device is taken out
        /// (QEMU deletes it, as after an unplug): a removal.
        Removed,
        /// Powered off with the indicator blinking: the device stays in
        /// its slot, reset and unpowered, and comes back with the power
        /// (a chassis losing power).
        Off,
    }

    /// Slot Control after powering the slot as `p` says.
    pub const fn slot_ctl(old: u16, p: Power) -> u16 {
        let kept = old & !(SLOT_CTL_PIC | SLOT_CTL_PCC);
        match p {
            Power::On => kept | SLOT_CTL_PIC_ON,
            Power::Removed => kept | SLOT_CTL_PIC_OFF | SLOT_CTL_PCC,
            Power::Off => kept | SLOT_CTL_PIC_BLINK | SLOT_CTL_PCC,
        }
    }
}

/// Checks that a chassis's BARs, sized by the fabric's geometry, fit the
/// fixed address map without overlapping each other or the windows.
pub fn check_layout(config: &FabricConfig) -> Result<(), String> {
    // (name, base, size, a BAR: naturally aligned)
    let ranges = [
        (
            "the adapter's BAR2 (MSI_BASE)",
            MSI_BASE,
            config.bar2_size(),
            true,
        ),
        ("the adapter's BAR4", ADAPTER_BAR4, config.bar4_size(), true),
        (
            "the direct-window alias (DMA_BASE)",
            DMA_BASE,
            config.bar4_size(),
            true,
        ),
        (
            "the root ports' 64-bit windows",
            W64_BASE,
            u64::from(ROOT_PORTS) * W64_SIZE,
            false,
        ),
    ];
    for (i, &(name, base, size, bar)) in ranges.iter().enumerate() {
        if bar && !base.is_multiple_of(size.next_power_of_two()) {
            return Err(format!(
                "chassis: {name} ({size:#x} bytes) cannot sit naturally aligned at {base:#x}"
            ));
        }
        for &(other, obase, osize, _) in &ranges[i + 1..] {
            if base < obase + osize && obase < base + size {
                return Err(format!(
                    "chassis: {name} ({size:#x} bytes at {base:#x}) overlaps {other} ({osize:#x} bytes at {obase:#x}): use fewer LUT slots, a smaller --slot-shift or less RAM"
                ));
            }
        }
    }
    if config.ram_bytes > (2 << 30) {
        return Err(
            "chassis: a chassis's RAM must be at most 2 GiB (linear below the ECAM at 0xB0000000)"
                .into(),
        );
    }
    Ok(())
}

/// A config-space address for port 0xCF8.
pub const fn config_address(bus: u8, devfn: u8, reg: u8) -> u32 {
    0x8000_0000 | (bus as u32) << 16 | (devfn as u32) << 8 | (reg as u32 & 0xFC)
}

/// The config writes the firmware performs, in order: (0xCF8 address,
/// value).
pub fn firmware_writes() -> Vec<(u32, u32)> {
    let dev = |d: u8| d << 3;
    let mut w = Vec::new();
    // 1. MCH: PCIEXBAR (upper half first, then the low half with enable).
    w.push((config_address(0, 0, 0x64), (ECAM_BASE >> 32) as u32));
    w.push((config_address(0, 0, 0x60), ECAM_BASE as u32 | 1));
    // 2. The adapter.
    let a = dev(ADAPTER_SLOT);
    w.push((config_address(0, a, 0x10), ADAPTER_BAR0 as u32));
    w.push((config_address(0, a, 0x18), MSI_BASE as u32));
    w.push((config_address(0, a, 0x1C), (MSI_BASE >> 32) as u32));
    w.push((config_address(0, a, 0x20), ADAPTER_BAR4 as u32));
    w.push((config_address(0, a, 0x24), (ADAPTER_BAR4 >> 32) as u32));
    w.push((config_address(0, a, 0x04), 0x0006));
    // 3. The alias.
    let s = dev(crate::adapter::regs::direct_alias::SLOT as u8);
    w.push((config_address(0, s, 0x18), DMA_BASE as u32));
    w.push((config_address(0, s, 0x1C), (DMA_BASE >> 32) as u32));
    w.push((config_address(0, s, 0x04), 0x0002));
    // 4. Root ports.
    for k in 0..ROOT_PORTS {
        let p = dev(FIRST_ROOT_PORT + k);
        let bus = u32::from(k) + 1;
        w.push((config_address(0, p, 0x18), bus << 8 | bus << 16));
        w.push((config_address(0, p, 0x1C), 0x00F0));
        let (b32, l32) = (w32(k), w32(k) + W32_SIZE - 1);
        w.push((
            config_address(0, p, 0x20),
            (l32 as u32 & 0xFFF0_0000) | (b32 as u32 >> 16) & 0xFFF0,
        ));
        let (b64, l64) = (w64(k), w64(k) + W64_SIZE - 1);
        w.push((config_address(0, p, 0x28), (b64 >> 32) as u32));
        w.push((config_address(0, p, 0x2C), (l64 >> 32) as u32));
        w.push((
            config_address(0, p, 0x24),
            (l64 as u32 & 0xFFF0_0000) | (b64 as u32 >> 16) & 0xFFF0,
        ));
        w.push((config_address(0, p, 0x04), 0x0006));
    }
    w
}

/// `mov eax, imm32; mov dx, port; out dx, eax` in 16-bit code.
fn out32(code: &mut Vec<u8>, port: u16, value: u32) {
    code.extend([0x66, 0xB8]);
    code.extend(value.to_le_bytes());
    code.push(0xBA);
    code.extend(port.to_le_bytes());
    code.extend([0x66, 0xEF]);
}

/// Offset of the reset vector in the image.
pub const RESET_VECTOR: usize = 0xFFF0;

/// The chassis firmware: [`BIOS_SIZE`] bytes; the reset vector jumps to
/// offset 0, which performs [`firmware_writes`] and halts for good.
pub fn firmware() -> Vec<u8> {
    let mut code = Vec::new();
    for (addr, value) in firmware_writes() {
        out32(&mut code, 0xCF8, addr);
        out32(&mut code, 0xCFC, value);
    }
    // cli; hlt; jmp back to the hlt.
    code.extend([0xFA, 0xF4, 0xEB, 0xFD]);
    assert!(
        code.len() <= RESET_VECTOR,
        "the chassis firmware outgrew its image"
    );
    let mut image = vec![0xFF; BIOS_SIZE];
    image[..code.len()].copy_from_slice(&code);
    // jmp near rel16 to offset 0: IP after the instruction is 0xFFF3.
    let rel = 0u16.wrapping_sub(RESET_VECTOR as u16 + 3);
    image[RESET_VECTOR] = 0xE9;
    image[RESET_VECTOR + 1..RESET_VECTOR + 3].copy_from_slice(&rel.to_le_bytes());
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes the firmware's program back into (port, value) writes;
    /// panics on anything the generator does not emit.
    fn decode(image: &[u8]) -> Vec<(u16, u32)> {
        let mut out = Vec::new();
        let mut i = 0;
        let mut eax = None;
        let mut dx = None;
        loop {
            match image[i..] {
                [0x66, 0xB8, a, b, c, d, ..] => {
                    eax = Some(u32::from_le_bytes([a, b, c, d]));
                    i += 6;
                }
                [0xBA, a, b, ..] => {
                    dx = Some(u16::from_le_bytes([a, b]));
                    i += 3;
                }
                [0x66, 0xEF, ..] => {
                    out.push((dx.unwrap(), eax.unwrap()));
                    i += 2;
                }
                [0xFA, 0xF4, 0xEB, 0xFD, ..] => return out,
                _ => panic!("unexpected byte {:#x} at {i:#x}", image[i]),
            }
        }
    }

    fn pairs(image: &[u8]) -> Vec<(u32, u32)> {
        let writes = decode(image);
        assert!(writes.len().is_multiple_of(2));
        writes
            .chunks(2)
            .map(|w| {
                assert_eq!((w[0].0, w[1].0), (0xCF8, 0xCFC), "address, then data");
                (w[0].1, w[1].1)
            })
            .collect()
    }

    fn value(image: &[u8], bus: u8, dev: u8, reg: u8) -> u32 {
        let addr = 0x8000_0000 | u32::from(bus) << 16 | u32::from(dev) << 11 | u32::from(reg);
        let found: Vec<u32> = pairs(image)
            .into_iter()
            .filter(|&(a, _)| a == addr)
            .map(|(_, v)| v)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "{bus:02x}:{dev:02x}.0 reg {reg:#x} written once"
        );
        found[0]
    }

    #[test]
    fn the_image_is_64_kib_and_the_reset_vector_jumps_to_its_start() {
        let image = firmware();
        assert_eq!(image.len(), 0x10000);
        assert_eq!(image[0xFFF0], 0xE9);
        let rel = u16::from_le_bytes([image[0xFFF1], image[0xFFF2]]);
        assert_eq!(0xFFF3u16.wrapping_add(rel), 0, "lands at offset 0");
        // The program ends in cli; hlt; jmp $-1 (back to the hlt).
        // EB FD is jmp -3: from the end of the jmp back to the hlt.
        let end = image.windows(4).position(|w| w == [0xFA, 0xF4, 0xEB, 0xFD]);
        assert!(end.unwrap() < 0x2000, "the program is small");
        assert_eq!(pairs(&image).len(), firmware_writes().len());
    }

    #[test]
    fn the_firmware_programs_the_documented_address_map() {
        let image = firmware();
        // MCH PCIEXBAR: upper half, then the base with its enable bit.
        let p = pairs(&image);
        assert_eq!(p[0], (0x8000_0064, 0));
        assert_eq!(p[1], (0x8000_0060, 0xB000_0001));
        assert_eq!(value(&image, 0, 2, 0x10), 0xC000_0000);
        assert_eq!(value(&image, 0, 2, 0x18), 0);
        assert_eq!(value(&image, 0, 2, 0x1C), 0x40);
        assert_eq!(value(&image, 0, 2, 0x20), 0);
        assert_eq!(value(&image, 0, 2, 0x24), 0x10);
        assert_eq!(value(&image, 0, 2, 0x04), 6);
        assert_eq!(value(&image, 0, 0x1e, 0x18), 0);
        assert_eq!(value(&image, 0, 0x1e, 0x1C), 0x20);
        assert_eq!(value(&image, 0, 0x1e, 0x04), 2);
        // COMMAND is written after the BARs.
        let pos = |a: u32| p.iter().position(|&(x, _)| x == a).unwrap();
        assert!(pos(0x8000_1004) > pos(0x8000_1024));
        for k in 0..24u8 {
            let d = 4 + k;
            let bus = u32::from(k) + 1;
            assert_eq!(value(&image, 0, d, 0x18), bus << 8 | bus << 16);
            assert_eq!(value(&image, 0, d, 0x1C) & 0xFFFF, 0x00F0);
            let mem = value(&image, 0, d, 0x20);
            let base = u64::from(mem & 0xFFF0) << 16;
            let limit = u64::from(mem & 0xFFF0_0000) | 0xF_FFFF;
            assert_eq!(base, 0xC100_0000 + u64::from(k) * (16 << 20));
            assert_eq!(limit + 1 - base, 16 << 20);
            let pf = value(&image, 0, d, 0x24);
            let base = u64::from(value(&image, 0, d, 0x28)) << 32 | u64::from(pf & 0xFFF0) << 16;
            let limit =
                u64::from(value(&image, 0, d, 0x2C)) << 32 | u64::from(pf & 0xFFF0_0000) | 0xF_FFFF;
            assert_eq!(base, 0x80_0000_0000 + u64::from(k) * (64 << 30));
            assert_eq!(limit + 1 - base, 64 << 30);
            assert_eq!(value(&image, 0, d, 0x04), 6);
        }
        assert_eq!(p.len(), 2 + 6 + 3 + 24 * 7);
    }

    #[test]
    fn slot_control_power_bits() {
        assert_eq!(
            pcie::slot_ctl(0x01C0 | 0x0100, pcie::Power::Removed),
            0x07C0
        );
        assert_eq!(pcie::slot_ctl(0x01C0, pcie::Power::Off), 0x06C0);
        assert_eq!(pcie::slot_ctl(0x07C0, pcie::Power::On), 0x01C0);
    }

    #[test]
    fn the_largest_geometry_fits_and_too_much_ram_is_refused() {
        let big = FabricConfig {
            nodes: 16,
            lut_slots: 256,
            slot_shift: 30,
            ram_bytes: 2 << 30,
            ..Default::default()
        };
        assert_eq!(check_layout(&big), Ok(()));
        let ram = FabricConfig {
            ram_bytes: 3 << 30,
            ..Default::default()
        };
        assert!(check_layout(&ram).unwrap_err().contains("2 GiB"));
    }
}
