// SPDX-License-Identifier: GPL-2.0

//! Fabric-attached devices (NTB hot-add, docs/hot-add.md): the devices of
//! an expansion chassis (chassis.rs) attached to this node under the same
//! virtual host bridge a borrowed device gets (borrow.rs, bridge.rs), so
//! that this node's native driver binds as if it were hot-plugged — no
//! PCI hot-plug of the host is involved.
//!
//! Attaching claims the device's slot in the chassis adapter (one host at
//! a time, arbitrated there; freed by the adapter if this node's link goes
//! down), sizes and places its BARs in its root port's windows, and builds
//! the lease a lender would have given: windows onto its config page and
//! BARs in the chassis's bus window, the chassis adapter's interrupt slot
//! for this node as the MSI address, this node's RAM in the chassis's
//! direct window for DMA. Detaching removes the bridge, stops and resets
//! the function and frees the slot ([`Hold`]). A thread watches the
//! attached devices' chassis: a chassis whose link goes down, or a device
//! that stops answering after its slot's power changed, is removed as on
//! a surprise removal.

use crate::borrow::{self, Placed};
use crate::chassis::{self, Chassis, Hold, PortWindows};
use crate::lend_abi::{LendChassisEntry, LEND_CHASSIS_HERE, LEND_HOLDER_NONE, LEND_NUM_BARS};
use crate::proto::{Lease, LeaseBar};
use kernel::prelude::*;
use kernel::sync::{
    atomic::{Atomic, Relaxed},
    Arc,
};
use kernel::time::{delay::fsleep, Delta};
use rsio_kernel::kthread::{self, KThread, ThreadMain};
use rsio_ntb::adapter::Adapter;

const PCI_COMMAND_MEMORY: u32 = 0x2;
const PCI_COMMAND_MASTER: u32 = 0x4;
/// How often the watcher looks at the chassis of attached devices.
const WATCH_MS: i64 = 100;

/// The function `fdid` names on chassis `node`: (bus, devfn).
fn location(node: u32, fdid: u32) -> Result<(u32, u32)> {
    let (bus, devfn) = ((fdid >> 8) & 0xff, fdid & 0xff);
    if fdid >> 16 != node || bus == 0 {
        return Err(EINVAL);
    }
    Ok((bus, devfn))
}

/// The slot whose root port's secondary bus is `bus` (`ENOENT`: none).
fn slot_of(ch: &mut Chassis, bus: u32) -> Result<(u32, PortWindows)> {
    for slot in 0..chassis::SLOTS {
        if let Some((b, w)) = ch.port(slot)? {
            if b == bus {
                return Ok((slot, w));
            }
        }
    }
    Err(ENOENT)
}

/// The interrupt vectors of `bus`/`devfn`: its MSI-X table size, else its
/// MSI vector count, else 0.
fn irqs(ch: &mut Chassis, bus: u32, devfn: u32) -> Result<u32> {
    if let Some(at) = ch.find_cap(bus, devfn, chassis::CAP_MSIX)? {
        return Ok(((ch.cfg_read(bus, devfn, at)? >> 16) & 0x7ff) + 1);
    }
    if let Some(at) = ch.find_cap(bus, devfn, chassis::CAP_MSI)? {
        return Ok(1 << (((ch.cfg_read(bus, devfn, at)? >> 17) & 7).min(5)));
    }
    Ok(0)
}

/// Claims the function's slot, places its BARs, enables its decoding and
/// builds its lease.
fn prepare(adapter: &Arc<Adapter>, node: u32, fdid: u32, me: u32) -> Result<(Lease, Hold)> {
    let (bus, devfn) = location(node, fdid)?;
    let mut ch = Chassis::open(adapter, node)?;
    let (slot, windows) = slot_of(&mut ch, bus)?;
    if ch.owner(slot)? == Some(me) {
        // Another function of the slot is attached here: the slot is one
        // claim, freed when that function is detached.
        pr_warn!(
            "chassis {} slot {}: a function of it is attached here already (one function of a slot at a time)\n",
            node,
            slot
        );
        return Err(EBUSY);
    }
    ch.claim(slot, me)?;
    // Released by the hold's drop from here on, whatever fails.
    let mut hold = Hold::new(ch, slot, bus, devfn);
    let ch = &mut hold.ch;
    let id = ch.cfg_read(bus, devfn, chassis::PCI_VENDOR_ID)?;
    if id == !0 || id & 0xffff == 0xffff || id == 0 {
        return Err(ENODEV);
    }
    ch.cfg_write(bus, devfn, chassis::PCI_COMMAND, 0)?;
    let bars = chassis::size_bars(ch, bus, devfn)?;
    let at = chassis::place_bars(&bars, &windows)?;
    let mut lease = Lease {
        cfg_window: chassis::WIN_BUS,
        cfg_offset: ch.layout.ecam_base + ((u64::from(bus) << 20) | (u64::from(devfn) << 12)),
        vendor: id as u16,
        device: (id >> 16) as u16,
        irqs: irqs(ch, bus, devfn)?,
        ..Default::default()
    };
    for i in 0..LEND_NUM_BARS {
        let b = bars[i];
        if at[i] == 0 {
            continue;
        }
        let reg = chassis::PCI_BAR0 + 4 * i;
        ch.cfg_write(bus, devfn, reg, at[i] as u32)?;
        if b.flags & crate::lend_abi::LEND_BAR_64 != 0 {
            ch.cfg_write(bus, devfn, reg + 4, (at[i] >> 32) as u32)?;
        }
        lease.bars[i] = LeaseBar {
            window: chassis::WIN_BUS,
            flags: b.flags,
            size: b.size,
            offset: at[i],
        };
    }
    let l = ch.layout;
    let shift = u64::from(me) << l.direct_shift;
    let span = 1u64 << l.direct_shift;
    if shift.checked_add(span).is_none_or(|end| end > l.dma_size) {
        return Err(EOPNOTSUPP);
    }
    lease.dma_base = l.dma_base.checked_add(shift).ok_or(EOPNOTSUPP)?;
    lease.dma_span = span;
    lease.msi_bus = l
        .msi_base
        .checked_add(u64::from(me) << l.slot_shift)
        .ok_or(EOPNOTSUPP)?;
    ch.cfg_write(
        bus,
        devfn,
        chassis::PCI_COMMAND,
        PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
    )?;
    Ok((lease, hold))
}

/// Attaches chassis `node`'s device `fdid` here (`LEND_IOC_ATTACH`).
pub(crate) fn attach(node: u32, fdid: u32) -> Result<Placed> {
    let adapter = crate::state::adapter().ok_or(ENODEV)?;
    if !chassis::is_chassis(&adapter, node) {
        return Err(EINVAL);
    }
    location(node, fdid)?;
    let me = adapter.info().node_id;
    let at = borrow::attach(&adapter, node, fdid, || prepare(&adapter, node, fdid, me))?;
    pr_info!(
        "attached fabric device {:#x} of chassis {}: {:05x}:{:02x}:{:02x}.{}\n",
        fdid,
        node,
        at.domain,
        at.bus,
        at.devfn >> 3,
        at.devfn & 7
    );
    start_watch();
    Ok(at)
}

/// Detaches it (`LEND_IOC_DETACH`): as returning a borrowed device.
pub(crate) fn detach(node: u32, fdid: u32, force: bool) -> Result<Placed> {
    let adapter = crate::state::adapter().ok_or(ENODEV)?;
    if !chassis::is_chassis(&adapter, node) {
        return Err(EINVAL);
    }
    location(node, fdid)?;
    borrow::give_back_borrowed(node, fdid, force)
}

/// One function of a chassis for the scan: its identity, and its BARs if
/// nobody else holds its slot (sizing needs the slot for a moment).
fn scan_fn(
    ch: &mut Chassis,
    slot: u32,
    bus: u32,
    devfn: u32,
    me: u32,
    mine: &[u32],
) -> Result<Option<LendChassisEntry>> {
    let id = ch.cfg_read(bus, devfn, chassis::PCI_VENDOR_ID)?;
    if id == !0 || id & 0xffff == 0xffff || id == 0 {
        return Ok(None);
    }
    let class = ch.cfg_read(bus, devfn, chassis::PCI_CLASS_REVISION)?;
    let sub = ch.cfg_read(bus, devfn, chassis::PCI_SUBSYSTEM)?;
    let fdid = (ch.node << 16) | (bus << 8) | devfn;
    let mut e = LendChassisEntry {
        node: ch.node,
        fdid,
        slot,
        holder: LEND_HOLDER_NONE,
        bus,
        devfn,
        vendor: id as u16,
        device: (id >> 16) as u16,
        subsystem_vendor: sub as u16,
        subsystem_device: (sub >> 16) as u16,
        class: class >> 8,
        revision: class & 0xff,
        bar_size: [0; LEND_NUM_BARS],
        bar_flags: [0; LEND_NUM_BARS],
        flags: 0,
        reserved: 0,
    };
    if mine.contains(&fdid) {
        e.flags |= LEND_CHASSIS_HERE;
    }
    // A held slot (here too: its driver uses the function, or a sibling
    // function) is listed without BARs: sizing writes them.
    if let Some(h) = ch.owner(slot)? {
        e.holder = h;
        return Ok(Some(e));
    }
    if ch.claim(slot, me).is_err() {
        // Taken meanwhile.
        e.holder = ch.owner(slot)?.unwrap_or(LEND_HOLDER_NONE);
        return Ok(Some(e));
    }
    // Decoding off while sizing.
    let cmd = ch
        .cfg_read(bus, devfn, chassis::PCI_COMMAND)
        .map(|c| c & 0xffff);
    let bars = cmd.and_then(|cmd| {
        ch.cfg_write(bus, devfn, chassis::PCI_COMMAND, 0)?;
        let r = chassis::size_bars(ch, bus, devfn);
        ch.cfg_write(bus, devfn, chassis::PCI_COMMAND, cmd)?;
        r
    });
    ch.release(slot);
    for (i, b) in bars?.iter().enumerate() {
        e.bar_size[i] = b.size;
        e.bar_flags[i] = b.flags;
    }
    Ok(Some(e))
}

/// Lists every device of every chassis whose link is up (`LEND_IOC_SCAN`).
pub(crate) fn scan(mut f: impl FnMut(&LendChassisEntry) -> Result) -> Result<u32> {
    let adapter = crate::state::adapter().ok_or(ENODEV)?;
    let me = adapter.info().node_id;
    let mut n = 0;
    for node in 0..adapter.info().num_nodes {
        if !chassis::is_chassis(&adapter, node) || !chassis::link_up(&adapter, node) {
            continue;
        }
        let mine = borrow::attached_of(node)?;
        let mut ch = match Chassis::open(&adapter, node) {
            Ok(c) => c,
            Err(e) => {
                pr_warn!("chassis {} did not answer: {:?}\n", node, e);
                continue;
            }
        };
        for slot in 0..chassis::SLOTS {
            let Some((bus, _)) = ch.port(slot)? else {
                continue;
            };
            for func in 0..8 {
                if let Some(e) = scan_fn(&mut ch, slot, bus, func, me, &mine)? {
                    f(&e)?;
                    n += 1;
                } else if func == 0 {
                    break;
                }
            }
        }
    }
    Ok(n)
}

// --- watching the chassis of attached devices -----------------------------

/// No generation seen yet.
const NO_GEN: u64 = u64::MAX;

/// The watcher's state: the generation last seen of each chassis with
/// devices attached here.
struct Watcher {
    gens: [Atomic<u64>; 16],
}

impl Watcher {
    /// One look at every chassis with devices attached here.
    fn check(&self, adapter: &Arc<Adapter>) {
        for node in 0..adapter.info().num_nodes.min(16) {
            if !chassis::is_chassis(adapter, node) {
                continue;
            }
            let attached = borrow::attached_of(node).unwrap_or_default();
            if attached.is_empty() {
                self.gens[node as usize].store(NO_GEN, Relaxed);
                continue;
            }
            if !chassis::link_up(adapter, node) {
                self.gens[node as usize].store(NO_GEN, Relaxed);
                borrow::chassis_gone(node, None, "its chassis is gone");
                continue;
            }
            let Ok(mut ch) = Chassis::open(adapter, node) else {
                continue;
            };
            let Ok(gen) = ch.generation() else {
                continue;
            };
            if self.gens[node as usize].xchg(u64::from(gen), Relaxed) == u64::from(gen) {
                continue;
            }
            // A slot's power changed: whoever does not answer is gone.
            for fdid in attached.iter() {
                let (bus, devfn) = ((fdid >> 8) & 0xff, fdid & 0xff);
                let id = ch.cfg_read(bus, devfn, chassis::PCI_VENDOR_ID);
                if id.is_ok_and(|v| v != !0) {
                    continue;
                }
                // The whole chassis, if its link went down meanwhile
                // (powered off: its reads fail as its devices' do).
                if !chassis::link_up(adapter, node) {
                    self.gens[node as usize].store(NO_GEN, Relaxed);
                    borrow::chassis_gone(node, None, "its chassis is gone");
                    break;
                }
                borrow::chassis_gone(node, Some(*fdid), "removed from its chassis");
            }
        }
    }
}

impl ThreadMain for Watcher {
    fn run(&self) {
        while !kthread::should_stop() {
            fsleep(Delta::from_millis(WATCH_MS));
            if let Some(adapter) = crate::state::adapter() {
                self.check(&adapter);
            }
        }
    }
}

rsio_kernel::global_lock! {
    /// The watcher thread, started by the first attach.
    static WATCH: Mutex<Option<KThread<Watcher>>> = None;
}

fn start_watch() {
    let mut w = WATCH.lock();
    if w.is_some() {
        return;
    }
    let w0 = Watcher {
        gens: core::array::from_fn(|_| Atomic::new(NO_GEN)),
    };
    match Arc::new(w0, GFP_KERNEL)
        .map_err(Error::from)
        .and_then(|d| KThread::spawn(d, c"rsio_hotadd"))
    {
        Ok(t) => *w = Some(t),
        Err(e) => pr_err!("cannot watch the chassis: {:?}\n", e),
    }
}

/// Stops the watcher (unload, after every device went).
pub(crate) fn stop_watch() {
    let t = WATCH.lock().take();
    drop(t);
}
