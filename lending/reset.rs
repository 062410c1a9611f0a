// SPDX-License-Identifier: GPL-2.0

//! Class-specific knowledge of functions the lender holds: how to reset
//! one the PCI core cannot (virtio, AHCI, xHCI), and whether a virtio
//! function's driver would bypass the DMA API.

use crate::lend_abi::{
    LEND_RESET_AHCI, LEND_RESET_FLR, LEND_RESET_NONE, LEND_RESET_PCI, LEND_RESET_VIRTIO,
    LEND_RESET_XHCI,
};
use kernel::prelude::*;
use rsio_kernel::pci::{BarMapping, PciFunction, StubClaim};

const PCI_VENDOR_ID_REDHAT_QUMRANET: u16 = 0x1af4;
const PCI_CLASS_STORAGE_SATA_AHCI: u32 = 0x01_06_01;
const PCI_CLASS_SERIAL_USB_XHCI: u32 = 0x0c_03_30;
const PCI_CAP_ID_VNDR: u8 = 0x09;
/// `struct virtio_pci_cap`: `cfg_type`, `bar`, `offset` (virtio 1.x, 4.1.4).
const VIRTIO_CAP_CFG_TYPE: u16 = 3;
const VIRTIO_CAP_BAR: u16 = 4;
const VIRTIO_CAP_OFFSET: u16 = 8;
const VIRTIO_PCI_CAP_COMMON_CFG: u8 = 1;
/// `struct virtio_pci_common_cfg`: its size and fields used here.
const VIRTIO_COMMON_CFG_LEN: usize = 56;
const VIRTIO_DEVICE_FEATURE_SELECT: usize = 0;
const VIRTIO_DEVICE_FEATURE: usize = 4;
const VIRTIO_DEVICE_STATUS: usize = 20;
/// `VIRTIO_F_ACCESS_PLATFORM`: the device's DMA goes through the platform's
/// translation (the DMA API).
const VIRTIO_F_ACCESS_PLATFORM: u32 = 33;

fn is_virtio(f: &PciFunction) -> bool {
    f.vendor_id() == PCI_VENDOR_ID_REDHAT_QUMRANET && (0x1000..=0x107f).contains(&f.device_id())
}

/// The reset a held function gets between borrowers (`LEND_RESET_*`).
pub(crate) fn method(f: &PciFunction) -> u32 {
    if f.has_flr() {
        LEND_RESET_FLR
    } else if f.has_reset_method() {
        LEND_RESET_PCI
    } else if is_virtio(f) {
        LEND_RESET_VIRTIO
    } else if f.class() == PCI_CLASS_STORAGE_SATA_AHCI {
        LEND_RESET_AHCI
    } else if f.class() == PCI_CLASS_SERIAL_USB_XHCI {
        LEND_RESET_XHCI
    } else {
        LEND_RESET_NONE
    }
}

/// Resets `c` by `method`: the PCI core's reset saves and restores the
/// config state itself; around a class-specific one the state saved at
/// claim time is put back (the borrower's MSI/MSI-X enables and command
/// bits go). `ENOTTY`: no method.
pub(crate) fn reset(c: &StubClaim, method: u32) -> Result {
    let r = match method {
        LEND_RESET_FLR | LEND_RESET_PCI => return c.reset_function(),
        LEND_RESET_VIRTIO => virtio_reset(c),
        LEND_RESET_AHCI => ahci_reset(c),
        LEND_RESET_XHCI => xhci_reset(c),
        _ => return Err(ENOTTY),
    };
    c.restore_state();
    r
}

/// A virtio function's common configuration (`VIRTIO_PCI_CAP_COMMON_CFG`),
/// mapped; `ENOTTY` if it has none (a legacy-only device).
fn virtio_common(c: &StubClaim) -> Result<BarMapping<'_>> {
    for pos in c.capabilities(PCI_CAP_ID_VNDR) {
        let pos = u16::from(pos);
        if c.config_read8(pos + VIRTIO_CAP_CFG_TYPE) != VIRTIO_PCI_CAP_COMMON_CFG {
            continue;
        }
        let bar = c.config_read8(pos + VIRTIO_CAP_BAR);
        let offset = c.config_read32(pos + VIRTIO_CAP_OFFSET);
        return c.map_bar(bar.into(), offset.into(), VIRTIO_COMMON_CFG_LEN);
    }
    Err(ENOTTY)
}

/// Whether `c`'s driver would hand it physical addresses instead of DMA-API
/// results: a virtio device that does not offer `VIRTIO_F_ACCESS_PLATFORM`
/// (virtio_ring's `vring_use_map_api()`), which no borrower-side mapping
/// can translate; a legacy-only device cannot offer the feature at all.
pub(crate) fn bypasses_dma_api(c: &StubClaim) -> bool {
    if !is_virtio(c) {
        return false;
    }
    let Ok(m) = virtio_common(c) else {
        return true;
    };
    m.write32(VIRTIO_DEVICE_FEATURE_SELECT, VIRTIO_F_ACCESS_PLATFORM / 32);
    let hi = m.read32(VIRTIO_DEVICE_FEATURE);
    hi & (1 << (VIRTIO_F_ACCESS_PLATFORM % 32)) == 0
}

/// virtio 1.x, 3.1.1 / 4.1.4.3.2: writing 0 to `device_status` resets it.
fn virtio_reset(c: &StubClaim) -> Result {
    let m = virtio_common(c)?;
    m.write8(VIRTIO_DEVICE_STATUS, 0);
    m.poll(
        |m| m.read8(VIRTIO_DEVICE_STATUS),
        |s| s == 0,
        1000,
        1_000_000,
    )?;
    Ok(())
}

/// AHCI 1.3.1, 10.4.3: `GHC.HR` (bit 0 of GHC, ABAR + 4) resets the HBA;
/// it clears when done (<= 1 s).
fn ahci_reset(c: &StubClaim) -> Result {
    const GHC: usize = 4;
    let m = c.map_bar(5, 0, 0x100)?;
    // AE first, as libahci.
    m.write32(GHC, m.read32(GHC) | 1 << 31);
    m.write32(GHC, m.read32(GHC) | 1);
    m.poll(|m| m.read32(GHC), |g| g & 1 == 0, 1000, 1_000_000)?;
    Ok(())
}

/// xHCI 1.2, 4.22.1 / 5.4.1: halt (`USBCMD.RS` = 0, wait `USBSTS.HCH`),
/// then `USBCMD.HCRST`; done when HCRST and `USBSTS.CNR` read 0.
fn xhci_reset(c: &StubClaim) -> Result {
    let m = c.map_bar(0, 0, 0x100)?;
    // The operational registers follow the capability registers (CAPLENGTH).
    let op = usize::from(m.read8(0));
    let (usbcmd, usbsts) = (op, op + 4);
    m.write32(usbcmd, m.read32(usbcmd) & !1);
    m.poll(|m| m.read32(usbsts), |v| v & 1 != 0, 100, 100_000)?;
    m.write32(usbcmd, m.read32(usbcmd) | 1 << 1);
    m.poll(|m| m.read32(usbcmd), |v| v & 1 << 1 == 0, 1000, 1_000_000)?;
    m.poll(|m| m.read32(usbsts), |v| v & 1 << 11 == 0, 1000, 1_000_000)?;
    Ok(())
}
