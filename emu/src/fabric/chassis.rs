//! Expansion chassis nodes (docs/adapter.md section 12): the management
//! block a chassis adapter serves in its inbound window 1, slot ownership,
//! and chassis and slot power.
//!
//! # Locking
//!
//! A chassis's slot owners sit behind their own mutex, which is never held
//! together with a node's register lock, and never across a bus access.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::{Fabric, NodeHost};
use crate::adapter::regs::mgmt;
use crate::chassis::{self as layout, pcie, SLOTS};

/// The state of a chassis node beyond its adapter's registers.
pub struct Chassis {
    /// `SLOT_OWNER(d)`: the owning node.
    owners: Mutex<[Option<usize>; SLOTS]>,
    /// `GENERATION`.
    generation: AtomicU32,
    /// The chassis is powered (`chassis-power`); off, its link is down.
    powered: AtomicBool,
    /// Bit d: `chassis-power off` powered slot d off (to power on again).
    switched_off: AtomicU32,
}

impl Chassis {
    pub(super) fn new() -> Chassis {
        Chassis {
            owners: Mutex::new([None; SLOTS]),
            generation: AtomicU32::new(0),
            powered: AtomicBool::new(true),
            switched_off: AtomicU32::new(0),
        }
    }

    fn owners(&self) -> MutexGuard<'_, [Option<usize>; SLOTS]> {
        self.owners.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the chassis is powered.
    pub fn powered(&self) -> bool {
        self.powered.load(Ordering::SeqCst)
    }

    /// `GENERATION`.
    pub fn generation(&self) -> u32 {
        self.generation.load(Ordering::SeqCst)
    }

    pub(super) fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Every claimed slot and its owner.
    pub fn owners_map(&self) -> BTreeMap<usize, usize> {
        self.owners()
            .iter()
            .enumerate()
            .filter_map(|(d, o)| o.map(|o| (d, o)))
            .collect()
    }
}

/// A root port of the chassis, as found through its ECAM.
struct Port {
    /// Offset of its PCI Express capability.
    cap: u16,
    /// Slot Control.
    slot_ctl: u16,
    /// Slot Status.
    slot_sta: u16,
}

fn read32(host: &dyn NodeHost, addr: u64) -> Result<u32, String> {
    let mut b = [0u8; 4];
    host.bus_read(addr, &mut b)
        .map_err(|_| format!("the chassis's bus-master read at {addr:#x} failed"))?;
    Ok(u32::from_le_bytes(b))
}

/// Finds root port `dev` (bus 0) and its slot registers, walking the
/// capability list with bus-master reads of its ECAM page.
fn find_port(host: &dyn NodeHost, dev: u8) -> Result<Port, String> {
    let id = read32(host, layout::ecam(dev, 0))?;
    if id & 0xFFFF == 0xFFFF {
        return Err(format!("no device at 00:{dev:02x}.0 of the chassis"));
    }
    let status = read32(host, layout::ecam(dev, 4))? >> 16;
    let no_cap = || format!("00:{dev:02x}.0 of the chassis has no PCI Express capability");
    if status as u16 & pcie::STATUS_CAP_LIST == 0 {
        return Err(no_cap());
    }
    let mut ptr = (read32(host, layout::ecam(dev, pcie::CAP_PTR))? & 0xFC) as u16;
    for _ in 0..48 {
        if ptr < 0x40 {
            break;
        }
        let head = read32(host, layout::ecam(dev, ptr))?;
        if head as u8 == pcie::CAP_ID_EXP {
            let slots = read32(host, layout::ecam(dev, ptr + pcie::SLOT_CTL))?;
            return Ok(Port {
                cap: ptr,
                slot_ctl: slots as u16,
                slot_sta: (slots >> 16) as u16,
            });
        }
        ptr = ((head >> 8) & 0xFC) as u16;
    }
    Err(no_cap())
}

/// Whether root port `dev`'s slot holds a device: its Presence Detect
/// State, or (QEMU's ACPI hotplug mode leaves that clear) a function 0
/// answering on its secondary bus.
fn populated(host: &dyn NodeHost, dev: u8, port: &Port) -> bool {
    if port.slot_sta & pcie::SLOT_STA_PDS != 0 {
        return true;
    }
    let Ok(buses) = read32(host, layout::ecam(dev, 0x18)) else {
        return false;
    };
    let secondary = (buses >> 8) as u8;
    secondary != 0
        && read32(host, layout::ecam_bus(secondary, 0, 0)).is_ok_and(|id| id & 0xFFFF != 0xFFFF)
}

/// Powers root port `dev`'s slot on or off by writing its Slot Control.
fn power_port(host: &dyn NodeHost, dev: u8, port: &Port, p: pcie::Power) -> Result<(), String> {
    let value = pcie::slot_ctl(port.slot_ctl, p);
    let addr = layout::ecam(dev, port.cap + pcie::SLOT_CTL);
    host.bus_write(addr, &value.to_le_bytes())
        .map_err(|_| format!("the chassis's bus-master write at {addr:#x} failed"))
}

impl Fabric {
    /// The chassis state of node `id`, if it is a chassis.
    pub fn chassis(&self, id: usize) -> Option<&Chassis> {
        self.node(id).and_then(|n| n.chassis.as_ref())
    }

    /// A read of `data.len()` bytes at `off` in chassis `c`'s management
    /// block (the access already passed the window checks).
    pub(crate) fn mgmt_read(&self, c: usize, off: u64, data: &mut [u8]) {
        let first = off & !3;
        let mut bytes = Vec::with_capacity(data.len() + 8);
        let mut at = first;
        while at < off + data.len() as u64 {
            bytes.extend(self.mgmt_read32(c, at).to_le_bytes());
            at += 4;
        }
        let skip = (off - first) as usize;
        data.copy_from_slice(&bytes[skip..skip + data.len()]);
    }

    /// A write at `off` in chassis `c`'s management block by node `src`:
    /// aligned 4- and 8-byte writes only, others are ignored.
    pub(crate) fn mgmt_write(&self, c: usize, src: usize, off: u64, data: &[u8]) {
        match data.len() {
            4 | 8 if off.is_multiple_of(data.len() as u64) => {
                for (i, word) in data.chunks(4).enumerate() {
                    let v = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
                    self.mgmt_write32(c, src, off + 4 * i as u64, v);
                }
            }
            _ => {}
        }
    }

    fn mgmt_read32(&self, c: usize, off: u64) -> u32 {
        let Some(ch) = self.chassis(c) else { return 0 };
        let cfg = &self.config;
        let half = |v: u64| {
            if off & 4 == 0 {
                v as u32
            } else {
                (v >> 32) as u32
            }
        };
        match off {
            mgmt::CH_ID => mgmt::CH_ID_VALUE,
            o if o & !4 == mgmt::MSI_BASE => half(layout::MSI_BASE),
            o if o & !4 == mgmt::DMA_BASE => half(layout::DMA_BASE),
            o if o & !4 == mgmt::DMA_SIZE => half(self.memory.file_len()),
            mgmt::DIRECT_SHIFT => cfg.direct_shift(),
            mgmt::SLOT_SHIFT => cfg.slot_shift,
            o if o & !4 == mgmt::ECAM_BASE => half(layout::ECAM_BASE),
            mgmt::GENERATION => ch.generation(),
            o if (mgmt::SLOT_OWNER..mgmt::SLOT_OWNER + 4 * SLOTS as u64).contains(&o) => {
                let d = ((o - mgmt::SLOT_OWNER) / 4) as usize;
                ch.owners()[d].map_or(0, |n| mgmt::OWNED | n as u32)
            }
            _ => 0,
        }
    }

    fn mgmt_write32(&self, c: usize, src: usize, off: u64, v: u32) {
        let Some(ch) = self.chassis(c) else { return };
        if !(mgmt::SLOT_OWNER..mgmt::SLOT_OWNER + 4 * SLOTS as u64).contains(&off) {
            return;
        }
        let d = ((off - mgmt::SLOT_OWNER) / 4) as usize;
        let mut owners = ch.owners();
        match v {
            // Checked under the lock: a claim racing with the link going
            // down is either released by that link change or not made.
            mgmt::CLAIM if owners[d].is_none() && self.link_up(c, src) => owners[d] = Some(src),
            mgmt::RELEASE if owners[d] == Some(src) => owners[d] = None,
            _ => {}
        }
    }

    /// Releases every claim held by a node whose link to its chassis is
    /// down (called after every link change).
    pub(super) fn release_lost_claims(&self) {
        for node in &self.nodes {
            let Some(ch) = node.chassis.as_ref() else {
                continue;
            };
            let mut owners = ch.owners();
            for owner in owners.iter_mut() {
                if owner.is_some_and(|s| !self.link_up(node.id, s)) {
                    *owner = None;
                }
            }
        }
    }

    fn chassis_host(&self, id: usize) -> Result<std::sync::Arc<dyn NodeHost>, String> {
        self.node(id)
            .and_then(|n| n.host())
            .ok_or_else(|| format!("chassis {id} is not connected (no QEMU attached)"))
    }

    /// Powers slot (root port) `dev` of chassis `id` on or off.
    pub fn slot_power(&self, id: usize, dev: u8, on: bool) -> Result<(), String> {
        let ch = self
            .chassis(id)
            .ok_or_else(|| format!("node {id} is not a chassis"))?;
        if usize::from(dev) >= SLOTS {
            return Err(format!("device number {dev} is not on a PCI bus (0..=31)"));
        }
        let host = self.chassis_host(id)?;
        let port = find_port(host.as_ref(), dev)?;
        // A slot powered off by hand is a removal: the device goes.
        let p = if on {
            pcie::Power::On
        } else {
            pcie::Power::Removed
        };
        power_port(host.as_ref(), dev, &port, p)?;
        ch.bump();
        Ok(())
    }

    /// Powers chassis `id` off (its link goes down for everyone, every
    /// claim is released, every populated slot is powered off) or on.
    /// Returns the slots it powered.
    pub fn chassis_power(&self, id: usize, on: bool) -> Result<Vec<u8>, String> {
        let ch = self
            .chassis(id)
            .ok_or_else(|| format!("node {id} is not a chassis"))?;
        if !on {
            ch.powered.store(false, Ordering::SeqCst);
            self.update_links();
        }
        let mut powered = Vec::new();
        if let Ok(host) = self.chassis_host(id) {
            // Off: every populated slot. On: those that off powered off
            // (a powered-off device no longer answers), and any populated.
            let was_off = ch.switched_off.swap(0, Ordering::SeqCst);
            for dev in layout::FIRST_ROOT_PORT..layout::FIRST_ROOT_PORT + layout::ROOT_PORTS {
                let Ok(port) = find_port(host.as_ref(), dev) else {
                    continue;
                };
                let wanted =
                    (on && was_off & (1 << dev) != 0) || populated(host.as_ref(), dev, &port);
                if !wanted {
                    continue;
                }
                // The chassis's devices stay in their slots, unpowered.
                let p = if on {
                    pcie::Power::On
                } else {
                    pcie::Power::Off
                };
                match power_port(host.as_ref(), dev, &port, p) {
                    Ok(()) => powered.push(dev),
                    Err(e) => log::warn!("chassis {id}: {e}"),
                }
            }
            if !on {
                let mask = powered.iter().fold(0u32, |m, &d| m | 1 << d);
                ch.switched_off.fetch_or(mask, Ordering::SeqCst);
            }
        }
        if on {
            ch.powered.store(true, Ordering::SeqCst);
            self.update_links();
        }
        ch.bump();
        Ok(powered)
    }
}
