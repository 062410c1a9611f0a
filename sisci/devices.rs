// SPDX-License-Identifier: GPL-2.0

//! Devices borrowed by processes (SISCI's SmartIO calls): `DEV_BORROW`,
//! `DEV_RETURN`, `DEV_MAP`, `DEV_UNMAP`, `SEG_ADDR`.
//!
//! The borrow itself is `rsio_lend`'s (`rsio_lend::user`: a lease like a
//! kernel borrow's, shared by this node's processes); this file gives it a
//! handle of the file, maps its BARs into the process (`mmap.rs`) and maps
//! segments for it: the address a device on the lender's bus DMAs to, to
//! reach a segment of any node, is that node's span of the lender's
//! direct window plus the segment's bus address there.
//!
//! A segment mapped for a device is held: it cannot be removed nor the
//! connection closed (`EBUSY`) until unmapped. When the file closes its
//! devices go first: an exclusive borrow's return resets the device on
//! its lender (the return waits for it) before the file's segments are
//! freed. A shared device is not reset while other nodes use it: the
//! memory the file had mapped for it is kept until this node's processes
//! have all returned the device (the fabric cannot fence a device's DMA
//! yet; a user-space driver sharing a device must also make its peers
//! drop a dead process's queues, see docs/smartio.md).

use crate::mappers::Mappers;
use crate::memory::{chunk_run, SegMemory};
use crate::sisci_abi as abi;
use crate::state::{DevMap, DevObj, DevQuarantine, FileTag, Shared, State, CONN_OK};
use kernel::prelude::*;
use kernel::sync::Arc;
use rsio_kernel::task;
use rsio_lend::user::{self, UserDevice};

const PAGE: u64 = kernel::page::PAGE_SIZE as u64;

/// `DEV_BORROW`.
pub(crate) fn borrow(sh: &Shared, file: FileTag, a: &mut abi::SisciDevBorrow) -> Result {
    if a.handle != 0
        || a.mmap_offset != 0
        || a.bar_size.iter().any(|s| *s != 0)
        || a.vendor != 0
        || a.device != 0
        || a.class != 0
    {
        return Err(EINVAL);
    }
    if !task::capable_rawio() {
        return Err(EPERM);
    }
    let shared = a.header.flags & abi::SISCI_DEV_SHARED != 0;
    let b = user::borrow(a.fdid >> 16, a.fdid, shared)?;
    let (vendor, device) = b.device().ids();
    let mut st = sh.st.lock();
    let handle = st.new_handle()?;
    for (i, size) in a.bar_size.iter_mut().enumerate() {
        *size = b.device().bar(i).map_or(0, |(_, s)| s);
    }
    a.handle = handle;
    a.mmap_offset = abi::sisci_mmap_offset(handle);
    a.vendor = vendor;
    a.device = device;
    a.class = b.device().class();
    st.devs.push(
        DevObj {
            handle,
            file,
            borrow: b,
            mappers: Mappers::default(),
            maps: KVec::new(),
        },
        GFP_KERNEL,
    )?;
    Ok(())
}

/// `DEV_RETURN`: the segments go, the BAR mappings are revoked, then the
/// device is returned.
pub(crate) fn give_back(sh: &Shared, file: FileTag, handle: u32) -> Result {
    let d = {
        let mut st = sh.st.lock();
        let i = st.dev_index(file, handle)?;
        st.devs.remove(i)?
    };
    close(sh, d, false);
    Ok(())
}

/// Ends a device taken out of the table.
fn close(sh: &Shared, d: DevObj, dying: bool) {
    d.mappers.zap(
        abi::sisci_mmap_offset(d.handle),
        (abi::SISCI_DEV_NUM_BARS as u64) << abi::SISCI_DEV_BAR_SHIFT,
    );
    let dev = d.borrow.device().clone();
    let mut held = KVec::new();
    {
        let mut st = sh.st.lock();
        for m in d.maps.iter() {
            unhold(&mut st, m, m.count);
            if let Some(mem) = m.mem.as_ref() {
                let _ = held.push(mem.clone(), GFP_KERNEL);
            }
        }
    }
    let shared = dev.shared();
    // Transfers to or from its BARs stop before their slots go.
    crate::dma::stop_using(sh, d.handle);
    drop(d);
    let mut st = sh.st.lock();
    if dying && shared && user::held_here(&dev) {
        for mem in held.into_iter() {
            let q = DevQuarantine {
                dev: dev.clone(),
                _mem: mem,
            };
            // Without memory for the record the memory goes now.
            let _ = st.dev_quarantine.push(q, GFP_KERNEL);
        }
    }
    st.dev_quarantine.retain(|q| user::held_here(&q.dev));
}

/// The segment `m` maps is held `n` times less for a device.
fn unhold(st: &mut State, m: &DevMap, n: u32) {
    if m.remote {
        if let Some(c) = st.conns.iter_mut().find(|c| c.handle == m.segment) {
            c.dev_maps = c.dev_maps.saturating_sub(n);
        }
    } else if let Some(s) = st.segs.iter_mut().find(|s| s.handle == m.segment) {
        s.dev_maps = s.dev_maps.saturating_sub(n);
    }
}

/// Where `dev` reaches the bytes `a` names of the file's local segment or
/// connection (`size` 0: to the end; the bytes must be contiguous there),
/// and the segment's memory to hold (local only). Counts the map on the
/// segment. A multicast connection's group is at `mc_base` for the device
/// ([`multicast_of`]).
fn locate(
    st: &mut State,
    sh: &Shared,
    file: FileTag,
    dev: &UserDevice,
    a: &abi::SisciDevMap,
    mc_base: Option<u64>,
) -> Result<(u64, Option<Arc<SegMemory>>)> {
    let remote = a.header.flags & abi::SISCI_DEV_MAP_REMOTE != 0;
    let (segment, offset, len) = (a.segment, a.offset, a.size);
    if offset % PAGE != 0 {
        return Err(EINVAL);
    }
    if !remote {
        let s = st.seg_mut(file, segment)?;
        if !s.prepared {
            return Err(EINVAL);
        }
        // Device memory: the device would reach it through the direct
        // window, which holds RAM only.
        if s.mem.device_window().is_some() {
            return Err(EOPNOTSUPP);
        }
        let size = s.mem.size;
        let len = if len == 0 {
            size.checked_sub(offset).ok_or(EINVAL)?
        } else {
            len
        };
        let (bus, run) = s.mem.bus_run(offset).ok_or(EINVAL)?;
        if offset.checked_add(len).is_none_or(|e| e > size) {
            return Err(EINVAL);
        }
        if run < len {
            return Err(ERANGE);
        }
        let addr = dev.device_addr(sh.node, bus)?;
        s.dev_maps += 1;
        return Ok((addr, Some(s.mem.clone())));
    }
    let c = st.conn_mut(file, segment)?;
    if crate::state::Shared::lost(&c.lost) != CONN_OK {
        return Err(ENOTCONN);
    }
    let len = if len == 0 {
        c.size.checked_sub(offset).ok_or(EINVAL)?
    } else {
        len
    };
    if offset.checked_add(len).is_none_or(|e| e > c.size) {
        return Err(EINVAL);
    }
    if c.win.is_some() {
        // The owner's device memory: not in the direct window.
        return Err(EOPNOTSUPP);
    }
    if c.mc.is_some() {
        // A multicast group: where the lender's slots write to it.
        let base = mc_base.ok_or(EINVAL)?;
        c.dev_maps += 1;
        return Ok((base + offset, None));
    }
    let bus = &c.bus;
    let (addr, run) =
        chunk_run(|i| bus.get(i).copied(), c.chunk_shift, c.size, offset).ok_or(EINVAL)?;
    if run < len {
        return Err(ERANGE);
    }
    let addr = dev.device_addr(c.node, addr)?;
    c.dev_maps += 1;
    Ok((addr, None))
}

/// `DEV_MAP`.
pub(crate) fn map(sh: &Shared, file: FileTag, a: &mut abi::SisciDevMap) -> Result {
    let remote = a.header.flags & abi::SISCI_DEV_MAP_REMOTE != 0;
    if a.ioaddr != 0 {
        return Err(EINVAL);
    }
    // The lender maps a multicast group for the device when asked: a
    // request, so not under `st`.
    let mc_base = match multicast_of(sh, file, a)? {
        Some((dev, group)) => Some(dev.multicast_addr(group)?),
        None => None,
    };
    let mut st = sh.st.lock();
    let st = &mut *st;
    let d = st.dev_index(file, a.device)?;
    let dev = st.devs[d].borrow.device().clone();
    if dev.is_gone() {
        return Err(ENODEV);
    }
    st.devs[d].maps.reserve(1, GFP_KERNEL)?;
    let (ioaddr, mem) = locate(st, sh, file, &dev, a, mc_base)?;
    let maps = &mut st.devs[d].maps;
    if let Some(m) = maps
        .iter_mut()
        .find(|m| m.remote == remote && m.segment == a.segment)
    {
        m.count += 1;
    } else {
        // Cannot fail: room was reserved above.
        maps.push(
            DevMap {
                remote,
                segment: a.segment,
                count: 1,
                mem,
            },
            GFP_KERNEL,
        )?;
    }
    a.ioaddr = ioaddr;
    Ok(())
}

/// The device and group of a `DEV_MAP` of a multicast connection (`None`
/// for anything else; the rest is checked under the lock by `locate`).
fn multicast_of(
    sh: &Shared,
    file: FileTag,
    a: &abi::SisciDevMap,
) -> Result<Option<(Arc<UserDevice>, u32)>> {
    if a.header.flags & abi::SISCI_DEV_MAP_REMOTE == 0 {
        return Ok(None);
    }
    let mut st = sh.st.lock();
    let c = st.conn_mut(file, a.segment)?;
    if c.mc.is_none() {
        return Ok(None);
    }
    let group = c.seg_id;
    let d = st.dev_index(file, a.device)?;
    Ok(Some((st.devs[d].borrow.device().clone(), group)))
}

/// `DEV_UNMAP`.
pub(crate) fn unmap(sh: &Shared, file: FileTag, a: &abi::SisciDevMap) -> Result {
    let remote = a.header.flags & abi::SISCI_DEV_MAP_REMOTE != 0;
    let mut st = sh.st.lock();
    let d = st.dev_index(file, a.device)?;
    let i = st.devs[d]
        .maps
        .iter()
        .position(|m| m.remote == remote && m.segment == a.segment)
        .ok_or(ENOENT)?;
    let m = st.devs[d].maps.remove(i)?;
    unhold(&mut st, &m, 1);
    if m.count > 1 {
        let m = DevMap {
            count: m.count - 1,
            ..m
        };
        st.devs[d].maps.push(m, GFP_KERNEL)?;
    }
    Ok(())
}

/// `SEG_ADDR`.
pub(crate) fn seg_addr(sh: &Shared, file: FileTag, a: &mut abi::SisciSegAddr) -> Result {
    if a.reserved != 0 || a.ioaddr != 0 || a.phys != 0 || a.contiguous != 0 {
        return Err(EINVAL);
    }
    let mut st = sh.st.lock();
    if a.header.flags & abi::SISCI_DEV_MAP_REMOTE == 0 {
        let s = st.seg_mut(file, a.handle)?;
        if s.mem.is_empty() {
            return Err(EINVAL);
        }
        let (bus, run) = s.mem.bus_run(a.offset).ok_or(ERANGE)?;
        let (phys, prun) = s.mem.phys_run(a.offset).ok_or(ERANGE)?;
        let raw = task::capable_rawio();
        a.ioaddr = bus;
        a.phys = if raw { phys } else { 0 };
        a.contiguous = if raw { run.min(prun) } else { run };
        return Ok(());
    }
    let c = st.conn_mut(file, a.handle)?;
    if c.mc.is_some() || c.win.is_some() {
        return Err(EOPNOTSUPP);
    }
    let bus = &c.bus;
    let (addr, run) =
        chunk_run(|i| bus.get(i).copied(), c.chunk_shift, c.size, a.offset).ok_or(ERANGE)?;
    let (base, _) = sh.adapter.info().device_dma(c.node)?;
    a.ioaddr = base.checked_add(addr).ok_or(EOPNOTSUPP)?;
    a.phys = 0;
    a.contiguous = run;
    Ok(())
}

/// Maps BAR bytes of device `handle` of `file` for the process: `within`
/// is the offset in the handle's mmap space. `Ok(false)`: no such device.
pub(crate) fn mmap(
    sh: &Shared,
    file: FileTag,
    handle: u32,
    within: u64,
    v: &rsio_kernel::mm::Vma<'_>,
) -> Result<bool> {
    let mut st = sh.st.lock();
    let Some(d) = st
        .devs
        .iter_mut()
        .find(|d| d.handle == handle && d.file == file)
    else {
        return Ok(false);
    };
    let (start, end, _) = v.span();
    let len = (end - start) as u64;
    let bar = (within >> abi::SISCI_DEV_BAR_SHIFT) as usize;
    let off = within & ((1u64 << abi::SISCI_DEV_BAR_SHIFT) - 1);
    let (addr, size) = d.borrow.device().bar(bar).ok_or(EINVAL)?;
    if d.borrow.device().is_gone() {
        return Err(ENODEV);
    }
    if off.checked_add(len).is_none_or(|e| e > size) {
        return Err(EINVAL);
    }
    v.map_io(start, addr + off, len as usize, false)?;
    d.mappers.add(v.inode())?;
    Ok(true)
}

/// Returns what `file` borrowed (it was closed).
pub(crate) fn file_closed(sh: &Shared, file: FileTag) {
    loop {
        let d = {
            let mut st = sh.st.lock();
            match st.devs.iter().position(|d| d.file == file) {
                Some(i) => st.devs.remove(i).ok(),
                None => None,
            }
        };
        match d {
            Some(d) => close(sh, d, true),
            None => break,
        }
    }
}
