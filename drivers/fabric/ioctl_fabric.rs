// SPDX-License-Identifier: GPL-2.0

//! The fabric core's ioctls (uapi `RSIO_IOC_STATUS` .. `RSIO_IOC_WINDOW_IO`;
//! docs/abi.md). Every argument is validated before anything happens:
//! sizes and flags by [`Arg::read`], then each field.

use crate::ioctl::Arg;
use crate::logic::maps::Range;
use crate::logic::members::{self, State};
use crate::logic::proto;
use crate::registry;
use crate::uapi::{
    self, RsioGrant, RsioId, RsioList, RsioMap, RsioNodeEntry, RsioPing, RsioStatus,
    RsioWindowEntry, RsioWindowIo,
};
use crate::windows::{Owner, Window};
use kernel::prelude::*;
use kernel::sync::atomic::Relaxed;
use kernel::transmute::AsBytes;
use kernel::uaccess::{UserPtr, UserSlice};
use rsio_kernel::{system, task};

fn list_error(e: uapi::ArgError) -> Error {
    Error::from_errno(-e.errno())
}

/// `RSIO_IOC_STATUS`.
pub(crate) fn status(cmd: u32, arg: usize) -> Result<isize> {
    let mut a = Arg::<RsioStatus>::read(cmd, arg, RsioStatus::LAYOUT)?;
    let s = &mut a.value;
    s.proto_version = u32::from(proto::PROTO_VERSION);
    s.heartbeat_ms = members::HEARTBEAT_MS as u32;
    s.dead_after_ms = members::DEAD_AFTER_MS as u32;
    s.node_name = system::nodename();
    if let Ok(c) = registry::cluster() {
        let i = c.info;
        s.transport = i.kind;
        s.node_id = i.node_id;
        s.num_nodes = i.num_nodes;
        s.link_mask = c.transport.link_mask();
        s.up_mask = c.up_mask();
        s.caps = i.caps;
        s.lut_total = i.map_entries;
        s.inbound_total = i.grant_windows;
        let (maps, grants) = c.windows.lock().entries_used();
        let conns = c.connected_count();
        s.lut_used = if i.kind == uapi::RSIO_TRANSPORT_ADAPTER {
            maps + 2 * conns
        } else {
            maps
        };
        s.inbound_used = grants;
        s.msgs_tx = c.stats.tx.load(Relaxed);
        s.msgs_rx = c.stats.rx.load(Relaxed);
        s.msgs_bad = c.stats.bad.load(Relaxed);
        s.timeouts = c.stats.timeouts.load(Relaxed);
        (s.refused, s.errors) = c.transport.error_counters();
        uapi::copy_cstr(&mut s.adapter, c.transport.name().to_bytes());
    }
    a.write_back()?;
    Ok(0)
}

/// Writes `entries` (each `T`, `entry_size` bytes in user memory) for a
/// listing ioctl and sets `count`.
fn write_list<T: AsBytes>(mut a: Arg<RsioList>, min: usize, entries: &[T]) -> Result<isize> {
    let known = core::mem::size_of::<T>();
    let n = uapi::check_entry_size(&a.value, min, known).map_err(list_error)?;
    let l = &a.value;
    let (cap, esize) = (l.capacity as usize, l.entry_size as usize);
    rsio_kernel::abi::write_entries(l.entries, cap, esize, n, entries)?;
    a.value.count = entries.len() as u32;
    a.write_back()?;
    Ok(0)
}

fn ms_since(now: u64, t: u64) -> u64 {
    now.saturating_sub(t)
}

/// `RSIO_IOC_NODES`.
pub(crate) fn nodes(cmd: u32, arg: usize) -> Result<isize> {
    let a = Arg::<RsioList>::read(cmd, arg, RsioList::LAYOUT)?;
    // Validate before the (allocating) work.
    uapi::check_entry_size(
        &a.value,
        uapi::RSIO_NODE_ENTRY_SIZE_V1,
        core::mem::size_of::<RsioNodeEntry>(),
    )
    .map_err(list_error)?;
    let mut v = KVec::new();
    if let Ok(c) = registry::cluster() {
        let now = system::now_ms();
        let link = c.transport.link_mask();
        let peers = *c.peers.lock();
        for n in 0..c.info.num_nodes {
            let mut e = <RsioNodeEntry as Zeroable>::zeroed();
            e.node_id = n;
            if n == c.info.node_id {
                e.state = uapi::RSIO_NODE_SELF;
                e.link_up = 1;
                e.proto_version = u32::from(proto::PROTO_VERSION);
                e.caps = uapi::RSIO_PEER_CAP_GRANTS;
                e.name = c.name;
                e.last_heard_ms = 0;
            } else {
                let p = &peers[n as usize].m;
                e.state = match p.state {
                    State::Down => uapi::RSIO_NODE_DOWN,
                    State::Hello => uapi::RSIO_NODE_HELLO,
                    State::Up => uapi::RSIO_NODE_UP,
                    State::Dead => uapi::RSIO_NODE_DEAD,
                };
                e.link_up = u32::from(link & (1 << n) != 0);
                e.proto_version = p.version;
                e.caps = p.caps;
                e.up_count = p.up_count;
                e.up_ms = if p.state == State::Up {
                    ms_since(now, p.up_since)
                } else {
                    0
                };
                e.last_heard_ms = p.last_heard.map_or(u64::MAX, |t| ms_since(now, t));
                e.msgs_tx = c.stats.peer_tx[n as usize].load(Relaxed);
                e.msgs_rx = c.stats.peer_rx[n as usize].load(Relaxed);
                e.name = p.name;
            }
            v.push(e, GFP_KERNEL)?;
        }
    }
    write_list(a, uapi::RSIO_NODE_ENTRY_SIZE_V1, &v)
}

/// `RSIO_IOC_WINDOWS`.
pub(crate) fn windows(cmd: u32, arg: usize) -> Result<isize> {
    let a = Arg::<RsioList>::read(cmd, arg, RsioList::LAYOUT)?;
    uapi::check_entry_size(
        &a.value,
        uapi::RSIO_WINDOW_ENTRY_SIZE_V1,
        core::mem::size_of::<RsioWindowEntry>(),
    )
    .map_err(list_error)?;
    let mut v = KVec::new();
    if let Ok(c) = registry::cluster() {
        if let Some(mb) = c.transport.mailbox() {
            v.push(
                RsioWindowEntry {
                    id: 0,
                    kind: uapi::RSIO_WINDOW_MAILBOX,
                    node: c.info.node_id,
                    peers: mb.peers,
                    refcount: 1,
                    owner_pid: 0,
                    fabric_addr: mb.fabric_addr,
                    size: mb.len,
                    bus_addr: mb.bus_addr,
                    hw_index: mb.hw_index,
                    hw_count: 1,
                },
                GFP_KERNEL,
            )?;
        }
        let ws = c.windows.lock();
        for w in ws.iter() {
            let (hw_index, hw_count) = ws.hw(w);
            let peers = match &w.backing {
                crate::windows::Backing::Grant(g) => g.peers(),
                crate::windows::Backing::Map(..) => 0,
            };
            v.push(
                RsioWindowEntry {
                    id: w.id,
                    kind: w.kind(),
                    node: w.range.node,
                    peers,
                    refcount: ws.refcount(w),
                    owner_pid: w.pid,
                    fabric_addr: w.range.addr,
                    size: w.range.len,
                    bus_addr: w.bus_addr(),
                    hw_index,
                    hw_count,
                },
                GFP_KERNEL,
            )?;
        }
    }
    write_list(a, uapi::RSIO_WINDOW_ENTRY_SIZE_V1, &v)
}

/// `RSIO_IOC_PING`.
pub(crate) fn ping(cmd: u32, arg: usize) -> Result<isize> {
    let mut a = Arg::<RsioPing>::read(cmd, arg, RsioPing::LAYOUT)?;
    let p = a.value;
    if p.count == 0
        || p.count > uapi::RSIO_PING_MAX_COUNT
        || p.payload_len > uapi::RSIO_PING_MAX_PAYLOAD
        || p.timeout_ms > uapi::RSIO_MAX_TIMEOUT_MS
    {
        return Err(EINVAL);
    }
    let c = registry::cluster()?;
    if !c.is_peer(p.node) {
        return Err(EINVAL);
    }
    let timeout = if p.timeout_ms == 0 {
        uapi::RSIO_DEFAULT_TIMEOUT_MS
    } else {
        p.timeout_ms
    };
    let mut payload = [0u8; uapi::RSIO_PING_MAX_PAYLOAD as usize];
    let len = p.payload_len as usize;
    let (mut min, mut max, mut sum) = (u64::MAX, 0u64, 0u64);
    for i in 0..p.count {
        for (j, b) in payload[..len].iter_mut().enumerate() {
            *b = (i as usize).wrapping_mul(31).wrapping_add(j) as u8;
        }
        let t0 = system::now_ns();
        let r = c.request(p.node, proto::MT_PING, &payload[..len], timeout)?;
        let dt = system::now_ns() - t0;
        if r.len != len || r.data[..len] != payload[..len] {
            return Err(EIO);
        }
        min = min.min(dt);
        max = max.max(dt);
        sum += dt;
    }
    a.value.rtt_min_ns = min;
    a.value.rtt_max_ns = max;
    a.value.rtt_avg_ns = sum / u64::from(p.count);
    a.write_back()?;
    Ok(0)
}

fn admin() -> Result {
    if task::capable_admin() {
        Ok(())
    } else {
        Err(EPERM)
    }
}

fn check_len(len: u64) -> Result {
    if len == 0 || len > uapi::RSIO_MAX_WINDOW_SIZE || len % uapi::RSIO_WINDOW_ALIGN != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

/// `RSIO_IOC_GRANT`.
pub(crate) fn grant(owner: Owner, cmd: u32, arg: usize) -> Result<isize> {
    admin()?;
    let mut a = Arg::<RsioGrant>::read(cmd, arg, RsioGrant::LAYOUT)?;
    // The window would exist with its id lost if the result could not be
    // written back: fail before making it.
    a.check_writable()?;
    let g = a.value;
    check_len(g.len)?;
    let c = registry::cluster()?;
    let all = (1u32 << c.info.num_nodes) - 1;
    if g.peers == 0 || g.peers & !all != 0 || g.peers & (1 << c.info.node_id) != 0 {
        return Err(EINVAL);
    }
    let mut ws = c.windows.lock();
    let w = ws.grant(&*c.transport, owner, task::current_pid(), g.len, g.peers)?;
    a.value.id = w.id;
    a.value.fabric_addr = w.range.addr;
    a.value.bus_addr = w.bus_addr();
    let id = w.id;
    drop(ws);
    if let Err(e) = a.write_back() {
        // The caller cannot learn the id: undo.
        let _ = c.windows.lock().remove(owner, id, uapi::RSIO_WINDOW_GRANT);
        return Err(e);
    }
    Ok(0)
}

fn remove(owner: Owner, cmd: u32, arg: usize, kind: u32) -> Result<isize> {
    admin()?;
    let a = Arg::<RsioId>::read(cmd, arg, RsioId::LAYOUT)?;
    if a.value.reserved != 0 {
        return Err(EINVAL);
    }
    let c = registry::cluster()?;
    let w = c.windows.lock().remove(owner, a.value.id, kind)?;
    drop(w);
    Ok(0)
}

/// `RSIO_IOC_REVOKE`.
pub(crate) fn revoke(owner: Owner, cmd: u32, arg: usize) -> Result<isize> {
    remove(owner, cmd, arg, uapi::RSIO_WINDOW_GRANT)
}

/// `RSIO_IOC_UNMAP`.
pub(crate) fn unmap(owner: Owner, cmd: u32, arg: usize) -> Result<isize> {
    remove(owner, cmd, arg, uapi::RSIO_WINDOW_MAP)
}

/// `RSIO_IOC_MAP`.
pub(crate) fn map(owner: Owner, cmd: u32, arg: usize) -> Result<isize> {
    admin()?;
    let mut a = Arg::<RsioMap>::read(cmd, arg, RsioMap::LAYOUT)?;
    // The window would exist with its id lost if the result could not be
    // written back: fail before making it.
    a.check_writable()?;
    let m = a.value;
    check_len(m.len)?;
    let c = registry::cluster()?;
    if !c.is_peer(m.node) {
        return Err(EINVAL);
    }
    let want = Range {
        node: m.node,
        addr: m.fabric_addr,
        len: m.len,
    };
    let mut ws = c.windows.lock();
    let w = ws.map(&*c.transport, owner, task::current_pid(), want)?;
    a.value.id = w.id;
    a.value.bus_addr = w.bus_addr();
    let id = w.id;
    drop(ws);
    if let Err(e) = a.write_back() {
        let _ = c.windows.lock().remove(owner, id, uapi::RSIO_WINDOW_MAP);
        return Err(e);
    }
    Ok(0)
}

/// `RSIO_IOC_WINDOW_IO`.
pub(crate) fn window_io(owner: Owner, cmd: u32, arg: usize) -> Result<isize> {
    admin()?;
    let a = Arg::<RsioWindowIo>::read(cmd, arg, RsioWindowIo::LAYOUT)?;
    let io = a.value;
    if io.reserved != 0 || io.len == 0 || io.len > uapi::RSIO_MAX_IO {
        return Err(EINVAL);
    }
    let c = registry::cluster()?;
    let (backing, wlen, is_map) = {
        let ws = c.windows.lock();
        let w = ws.get(owner, io.id)?;
        (
            w.backing.clone(),
            w.range.len,
            w.kind() == uapi::RSIO_WINDOW_MAP,
        )
    };
    if io.offset.checked_add(io.len).is_none_or(|e| e > wlen) {
        return Err(EINVAL);
    }
    if is_map && (io.offset % 4 != 0 || io.len % 4 != 0) {
        return Err(EINVAL);
    }
    let len = usize::try_from(io.len)?;
    let user = UserSlice::new(UserPtr::from_addr(usize::try_from(io.buf)?), len);
    let mut chunk = KVec::from_elem(0u8, len.min(4096), GFP_KERNEL)?;
    let write = io.header.flags & uapi::RSIO_IO_WRITE != 0;
    let (mut reader, mut writer) = user.reader_writer();
    let mut done = 0usize;
    while done < len {
        if kernel::current!().signal_pending() {
            return Err(EINTR);
        }
        let n = (len - done).min(chunk.len());
        let off = io.offset + done as u64;
        if write {
            reader.read_slice(&mut chunk[..n])?;
            Window::write_backing(&backing, off, &chunk[..n])?;
        } else {
            Window::read_backing(&backing, off, &mut chunk[..n])?;
            writer.write_slice(&chunk[..n])?;
        }
        done += n;
    }
    Ok(0)
}
