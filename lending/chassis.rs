// SPDX-License-Identifier: GPL-2.0

//! An expansion chassis on the fabric (docs/hot-add.md, docs/adapter.md
//! section 12): a node that runs no rsio, whose devices hosts attach. Its
//! adapter offers two inbound windows to every node: window 0 is the
//! chassis's bus address space (its ECAM, its devices' BARs: remote MMIO,
//! no software on the chassis) and window 1 its management block (the
//! addresses its firmware set up, and one owner register per slot, which
//! the adapter arbitrates and frees when the owner's link goes down).
//!
//! A chassis device sits behind a root port on the chassis's bus 0 (its
//! *slot*, the port's device number); its fabric device id is `node << 16
//! | bus << 8 | devfn` of its chassis-side location (the bus is at least 1,
//! so the id is never a lender's).

use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::time::{delay::fsleep, Delta};
use rsio_ntb::adapter::Adapter;
use rsio_ntb::lut::{LutMapping, LutRange};

/// The chassis adapter's inbound window over its bus address space.
pub(crate) const WIN_BUS: u32 = 0;
/// The chassis adapter's inbound window over its management block.
const WIN_MGMT: u32 = 1;

// The management block (docs/adapter.md, section 12).
const CH_ID: usize = 0x000;
const CH_ID_VALUE: u32 = 0x5353_4843;
const MSI_BASE: usize = 0x008;
const DMA_BASE: usize = 0x010;
const DMA_SIZE: usize = 0x018;
const DIRECT_SHIFT: usize = 0x020;
const SLOT_SHIFT: usize = 0x024;
const ECAM_BASE: usize = 0x028;
const GENERATION: usize = 0x030;
const SLOT_OWNER: usize = 0x100;
const OWNER_HELD: u32 = 1 << 31;

/// Slots (device numbers on the chassis's bus 0).
pub(crate) const SLOTS: u32 = 32;

// Config space registers.
pub(crate) const PCI_VENDOR_ID: usize = 0x00;
pub(crate) const PCI_COMMAND: usize = 0x04;
pub(crate) const PCI_CLASS_REVISION: usize = 0x08;
pub(crate) const PCI_HEADER: usize = 0x0c;
pub(crate) const PCI_BAR0: usize = 0x10;
const PCI_BUSES: usize = 0x18;
const PCI_MEM_WINDOW: usize = 0x20;
const PCI_PREF_WINDOW: usize = 0x24;
const PCI_PREF_BASE_HI: usize = 0x28;
const PCI_PREF_LIMIT_HI: usize = 0x2c;
pub(crate) const PCI_SUBSYSTEM: usize = 0x2c;
const PCI_CAP_PTR: usize = 0x34;
const PCI_STATUS_CAP_LIST: u32 = 1 << (16 + 4);
pub(crate) const CAP_EXP: u32 = 0x10;
pub(crate) const CAP_MSI: u32 = 0x05;
pub(crate) const CAP_MSIX: u32 = 0x11;

/// What the chassis's firmware set up, from its management block.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Layout {
    /// Chassis bus address of its adapter's BAR2: slot `h` raises remote
    /// interrupts on node `h`.
    pub(crate) msi_base: u64,
    /// Chassis bus address of the direct window (node `n`'s RAM at
    /// `dma_base + (n << direct_shift)`), and its size.
    pub(crate) dma_base: u64,
    pub(crate) dma_size: u64,
    pub(crate) direct_shift: u32,
    pub(crate) slot_shift: u32,
    pub(crate) ecam_base: u64,
}

/// A root port's forwarding windows: non-prefetchable (below 4 GiB) and
/// prefetchable (64-bit), each `(start, end)` inclusive; `None` if closed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PortWindows {
    pub(crate) mem: Option<(u64, u64)>,
    pub(crate) pref: Option<(u64, u64)>,
}

/// A chassis reached from this node: a slot onto its management block and
/// one onto a bus of its ECAM (remapped as needed).
pub(crate) struct Chassis {
    pub(crate) node: u32,
    pub(crate) layout: Layout,
    mgmt: LutMapping<LutRange>,
    ecam: LutMapping<LutRange>,
    /// The bus the ECAM slot maps.
    bus: Option<u32>,
}

fn read64(m: &LutMapping<LutRange>, off: usize) -> Result<u64> {
    Ok(u64::from(m.read32(off)?) | (u64::from(m.read32(off + 4)?) << 32))
}

/// Whether `node` is an expansion chassis of `adapter`'s fabric.
pub(crate) fn is_chassis(adapter: &Adapter, node: u32) -> bool {
    node < 32 && adapter.info().chassis_nodes & (1 << node) != 0
}

/// Whether `node`'s link is up here.
pub(crate) fn link_up(adapter: &Adapter, node: u32) -> bool {
    node < 32 && adapter.link_status().unwrap_or(0) & (1 << node) != 0
}

/// Maps one slot onto `node`'s inbound window `window` at `offset`.
fn map_slot(
    adapter: &Arc<Adapter>,
    node: u32,
    window: u32,
    offset: u64,
) -> Result<LutMapping<LutRange>> {
    let r = LutRange::alloc(adapter, 1)?;
    r.map_memory(0, node, window, offset)?;
    r.into_cpu()
}

impl Chassis {
    /// Opens chassis `node`: `EINVAL` not a chassis, `EHOSTUNREACH` its
    /// link is down, `ENODEV` its management block does not answer.
    pub(crate) fn open(adapter: &Arc<Adapter>, node: u32) -> Result<Self> {
        if !is_chassis(adapter, node) {
            return Err(EINVAL);
        }
        if !link_up(adapter, node) {
            return Err(EHOSTUNREACH);
        }
        let mgmt = map_slot(adapter, node, WIN_MGMT, 0)?;
        if mgmt.read32(CH_ID)? != CH_ID_VALUE {
            pr_warn!("chassis {}: no management block\n", node);
            return Err(ENODEV);
        }
        let layout = Layout {
            msi_base: read64(&mgmt, MSI_BASE)?,
            dma_base: read64(&mgmt, DMA_BASE)?,
            dma_size: read64(&mgmt, DMA_SIZE)?,
            direct_shift: mgmt.read32(DIRECT_SHIFT)?,
            slot_shift: mgmt.read32(SLOT_SHIFT)?,
            ecam_base: read64(&mgmt, ECAM_BASE)?,
        };
        if layout.direct_shift == 0 || layout.direct_shift > 40 || layout.slot_shift > 40 {
            return Err(ENODEV);
        }
        let ecam = map_slot(adapter, node, WIN_BUS, layout.ecam_base)?;
        Ok(Self {
            node,
            layout,
            mgmt,
            ecam,
            bus: Some(0),
        })
    }

    /// The management block's generation: it changes when the chassis
    /// powers on or a slot's power changes.
    pub(crate) fn generation(&self) -> Result<u32> {
        self.mgmt.read32(GENERATION)
    }

    /// Who holds slot `slot`: `None` if nobody.
    pub(crate) fn owner(&self, slot: u32) -> Result<Option<u32>> {
        let v = self.mgmt.read32(SLOT_OWNER + 4 * slot as usize)?;
        Ok((v & OWNER_HELD != 0).then_some(v & 0xffff))
    }

    /// Claims slot `slot` for this node: `EBUSY` (logged with the holder)
    /// if another node holds it.
    pub(crate) fn claim(&self, slot: u32, me: u32) -> Result {
        self.mgmt.write32(SLOT_OWNER + 4 * slot as usize, 1)?;
        match self.owner(slot)? {
            Some(n) if n == me => Ok(()),
            Some(n) => {
                pr_warn!(
                    "chassis {} slot {}: attached to node {}\n",
                    self.node,
                    slot,
                    n
                );
                Err(EBUSY)
            }
            None => Err(EIO),
        }
    }

    /// Releases slot `slot` (a no-op unless this node holds it).
    pub(crate) fn release(&self, slot: u32) {
        let _ = self.mgmt.write32(SLOT_OWNER + 4 * slot as usize, 0);
    }

    /// Reads config register `reg` (dword aligned) of `bus`/`devfn`.
    pub(crate) fn cfg_read(&mut self, bus: u32, devfn: u32, reg: usize) -> Result<u32> {
        self.select(bus)?;
        self.ecam.read32(((devfn as usize) << 12) | reg)
    }

    /// Writes config register `reg` (dword aligned) of `bus`/`devfn`.
    pub(crate) fn cfg_write(&mut self, bus: u32, devfn: u32, reg: usize, v: u32) -> Result {
        self.select(bus)?;
        self.ecam.write32(((devfn as usize) << 12) | reg, v)
    }

    fn select(&mut self, bus: u32) -> Result {
        if bus > 0xff {
            return Err(EINVAL);
        }
        if self.bus != Some(bus) {
            self.bus = None;
            let off = self
                .layout
                .ecam_base
                .checked_add(u64::from(bus) << 20)
                .ok_or(EINVAL)?;
            self.ecam.range().map_memory(0, self.node, WIN_BUS, off)?;
            self.bus = Some(bus);
        }
        Ok(())
    }

    /// The root port in slot `slot`, if one is there: its secondary bus
    /// and its windows.
    pub(crate) fn port(&mut self, slot: u32) -> Result<Option<(u32, PortWindows)>> {
        let devfn = slot << 3;
        let id = self.cfg_read(0, devfn, PCI_VENDOR_ID)?;
        if id == !0 || id & 0xffff == 0 {
            return Ok(None);
        }
        let class = self.cfg_read(0, devfn, PCI_CLASS_REVISION)? >> 16;
        let header = (self.cfg_read(0, devfn, PCI_HEADER)? >> 16) & 0x7f;
        if class != 0x0604 || header != 1 {
            return Ok(None);
        }
        let bus = (self.cfg_read(0, devfn, PCI_BUSES)? >> 8) & 0xff;
        if bus == 0 {
            return Ok(None);
        }
        let mem = self.cfg_read(0, devfn, PCI_MEM_WINDOW)?;
        let (mb, ml) = (
            u64::from(mem & 0xfff0) << 16,
            (u64::from((mem >> 16) & 0xfff0) << 16) | 0xf_ffff,
        );
        let pref = self.cfg_read(0, devfn, PCI_PREF_WINDOW)?;
        let mut pb = u64::from(pref & 0xfff0) << 16;
        let mut pl = (u64::from((pref >> 16) & 0xfff0) << 16) | 0xf_ffff;
        if pref & 0xf == 1 {
            pb |= u64::from(self.cfg_read(0, devfn, PCI_PREF_BASE_HI)?) << 32;
            pl |= u64::from(self.cfg_read(0, devfn, PCI_PREF_LIMIT_HI)?) << 32;
        }
        let w = PortWindows {
            mem: (mb < ml).then_some((mb, ml)),
            pref: (pb < pl).then_some((pb, pl)),
        };
        Ok(Some((bus, w)))
    }

    /// The capability `id` of `bus`/`devfn` (its config offset), if any.
    pub(crate) fn find_cap(&mut self, bus: u32, devfn: u32, id: u32) -> Result<Option<usize>> {
        if self.cfg_read(bus, devfn, PCI_COMMAND)? & PCI_STATUS_CAP_LIST == 0 {
            return Ok(None);
        }
        let mut at = (self.cfg_read(bus, devfn, PCI_CAP_PTR)? & 0xfc) as usize;
        // At most 48 capabilities fit in 256 bytes: no loop runs longer.
        for _ in 0..48 {
            if at < 0x40 {
                return Ok(None);
            }
            let v = self.cfg_read(bus, devfn, at)?;
            if v & 0xff == id {
                return Ok(Some(at));
            }
            at = ((v >> 8) & 0xfc) as usize;
        }
        Ok(None)
    }
}

/// A chassis device's slot, held by this node while the device is
/// attached: on drop the function is stopped (decoding and bus mastering
/// off), reset if it can be (FLR), and the slot freed.
pub(crate) struct Hold {
    /// The chassis (the device's config space is reached through it).
    pub(crate) ch: Chassis,
    slot: u32,
    bus: u32,
    devfn: u32,
}

impl Drop for Hold {
    fn drop(&mut self) {
        let (bus, devfn) = (self.bus, self.devfn);
        let Some(adapter) = crate::state::adapter() else {
            return;
        };
        if !link_up(&adapter, self.ch.node) {
            // Gone: the adapter freed the slot with the link.
            return;
        }
        let _ = self.ch.cfg_write(bus, devfn, PCI_COMMAND, 0);
        if let Ok(Some(exp)) = self.ch.find_cap(bus, devfn, CAP_EXP) {
            let devcap = self.ch.cfg_read(bus, devfn, exp + 4).unwrap_or(0);
            if devcap != !0 && devcap & (1 << 28) != 0 {
                let ctl = self.ch.cfg_read(bus, devfn, exp + 8).unwrap_or(0);
                let _ = self.ch.cfg_write(bus, devfn, exp + 8, ctl | (1 << 15));
                // PCIe: software waits 100 ms after an FLR.
                fsleep(Delta::from_millis(100));
            }
        }
        self.ch.release(self.slot);
    }
}

impl Hold {
    /// Holds `slot` of `ch` (claimed by the caller) for `bus`/`devfn`.
    pub(crate) fn new(ch: Chassis, slot: u32, bus: u32, devfn: u32) -> Self {
        Self {
            ch,
            slot,
            bus,
            devfn,
        }
    }
}

/// One BAR of a chassis function.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Bar {
    /// Bytes (0: none, or the upper half of a 64-bit BAR).
    pub(crate) size: u64,
    /// `LEND_BAR_*`.
    pub(crate) flags: u32,
}

/// Sizes the six BARs of `bus`/`devfn` (its decoding must be off: the
/// caller holds the slot), restoring each register.
pub(crate) fn size_bars(ch: &mut Chassis, bus: u32, devfn: u32) -> Result<[Bar; 6]> {
    use crate::lend_abi::{LEND_BAR_64, LEND_BAR_IO, LEND_BAR_PREFETCH};
    let mut bars = [Bar::default(); 6];
    let mut i = 0;
    while i < 6 {
        let reg = PCI_BAR0 + 4 * i;
        let orig = ch.cfg_read(bus, devfn, reg)?;
        ch.cfg_write(bus, devfn, reg, !0)?;
        let lo = ch.cfg_read(bus, devfn, reg)?;
        ch.cfg_write(bus, devfn, reg, orig)?;
        if orig & 1 != 0 {
            // I/O space: not forwarded.
            let size = u64::from(!(lo & !3)).wrapping_add(1) & 0xffff;
            bars[i] = Bar {
                size,
                flags: LEND_BAR_IO,
            };
            i += 1;
            continue;
        }
        let is64 = orig & 0x6 == 0x4;
        let mut mask = u64::from(lo & !0xf);
        if is64 && i < 5 {
            let r2 = reg + 4;
            let orig2 = ch.cfg_read(bus, devfn, r2)?;
            ch.cfg_write(bus, devfn, r2, !0)?;
            let hi = ch.cfg_read(bus, devfn, r2)?;
            ch.cfg_write(bus, devfn, r2, orig2)?;
            mask |= u64::from(hi) << 32;
        } else if lo != 0 {
            mask |= 0xffff_ffff_0000_0000;
        }
        let size = if mask == 0 {
            0
        } else {
            (!mask).wrapping_add(1)
        };
        let mut flags = 0;
        if is64 {
            flags |= LEND_BAR_64;
        }
        if orig & 0x8 != 0 {
            flags |= LEND_BAR_PREFETCH;
        }
        bars[i] = Bar {
            size: if size.is_power_of_two() { size } else { 0 },
            flags,
        };
        i += if is64 { 2 } else { 1 };
    }
    Ok(bars)
}

/// Places `bars` in the port's windows (largest first, each aligned to
/// its size): prefetchable 64-bit BARs in the prefetchable window where
/// there is one, everything else below 4 GiB. Returns each BAR's
/// chassis-side address (0 for BARs not placed: I/O and absent ones).
/// `ENOSPC` if one does not fit.
pub(crate) fn place_bars(bars: &[Bar; 6], w: &PortWindows) -> Result<[u64; 6]> {
    use crate::lend_abi::{LEND_BAR_64, LEND_BAR_IO, LEND_BAR_PREFETCH};
    let mut at = [0u64; 6];
    let mut next_mem = w.mem.map(|(s, _)| s);
    let mut next_pref = w.pref.map(|(s, _)| s);
    let mut order: [usize; 6] = [0, 1, 2, 3, 4, 5];
    order.sort_unstable_by(|a, b| bars[*b].size.cmp(&bars[*a].size));
    for &i in order.iter() {
        let b = bars[i];
        if b.size == 0 || b.flags & LEND_BAR_IO != 0 {
            continue;
        }
        let pref = b.flags & LEND_BAR_PREFETCH != 0 && b.flags & LEND_BAR_64 != 0;
        let (next, end) = match (pref, next_pref.as_mut(), next_mem.as_mut()) {
            (true, Some(n), _) => (n, w.pref.map_or(0, |(_, e)| e)),
            (_, _, Some(n)) => (n, w.mem.map_or(0, |(_, e)| e)),
            _ => return Err(ENOSPC),
        };
        let start = next.checked_next_multiple_of(b.size).ok_or(ENOSPC)?;
        let last = start.checked_add(b.size - 1).ok_or(ENOSPC)?;
        if last > end {
            pr_err!(
                "BAR {} ({:#x} bytes) does not fit the slot's window (ends {:#x})\n",
                i,
                b.size,
                end
            );
            return Err(ENOSPC);
        }
        at[i] = start;
        *next = last + 1;
    }
    Ok(at)
}
