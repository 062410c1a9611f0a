// SPDX-License-Identifier: GPL-2.0

//! Segments: local segments (create, prepare, available, remove) and
//! connections to remote ones (connect, disconnect), the events both get,
//! and the owner's side of the protocol (docs/sisci.md, "Segments").
//!
//! Revocation: the direct window has no per-access check, so taking a
//! segment away from a peer is a handshake: the owner sends `SEG_GONE`,
//! the peer zaps its mappings, stops its DMA and answers `SEG_GONE_ACK`;
//! until then (or until the peer dies) the memory stays allocated in the
//! quarantine list.

use crate::mappers::Mappers;
use crate::memory::SegMemory;
use crate::net;
use crate::proto::{self, Reader, Writer};
use crate::sisci_abi as abi;
use crate::state::{
    Conn, Events, FileTag, LocalSeg, Quarantined, Shared, State, CONN_CONNECTING, CONN_DEAD,
    CONN_OK, CONN_REVOKED,
};
use kernel::prelude::*;
use kernel::sync::atomic::Relaxed;
use kernel::sync::Arc;
use rsio_fabric::api::MAX_PAYLOAD;
use rsio_kernel::task;
use rsio_ntb::lut::LutRange;
use rsio_ntb::multicast::McGroup;

const PAGE: u64 = kernel::page::PAGE_SIZE as u64;
/// Largest multicast segment (one chunk).
const MC_MAX: u64 = 4 << 20;

/// `(node, connection)` pairs to tell `SEG_GONE`.
type Notify = KVec<(u32, u32)>;

/// Creates a local segment.
pub(crate) fn create(sh: &Shared, file: FileTag, a: &mut abi::SisciSegCreate) -> Result {
    let flags = a.header.flags;
    let mc = flags & abi::SISCI_SEG_MULTICAST != 0;
    if a.size == 0 || a.size > abi::SISCI_MAX_SEGMENT_SIZE || (mc && a.size > MC_MAX) {
        return Err(EINVAL);
    }
    if flags & abi::SISCI_SEG_AUTO_ID == 0 && a.segment_id >= abi::SISCI_MAX_ID {
        return Err(EINVAL);
    }
    if mc && (flags & abi::SISCI_SEG_AUTO_ID != 0 || a.segment_id >= sh.info.mc_groups) {
        return Err(EINVAL);
    }
    let user = flags & abi::SISCI_SEG_USER_MEMORY != 0;
    let empty = flags & abi::SISCI_SEG_EMPTY != 0;
    if (user && (mc || empty)) || (empty && mc) || (!user && a.user_addr != 0) {
        return Err(EINVAL);
    }
    let size = a.size.div_ceil(PAGE) * PAGE;
    let mem = if user {
        SegMemory::pin_user(&sh.adapter, a.user_addr, size)?
    } else if empty {
        SegMemory::empty(size)
    } else {
        SegMemory::alloc(&sh.adapter, size, if mc { 22 } else { 31 })?
    };
    if mc && mem.chunk_count() != 1 {
        return Err(ENOMEM);
    }
    let mem = Arc::new(mem, GFP_KERNEL)?;
    let mut st = sh.st.lock();
    let id = if flags & abi::SISCI_SEG_AUTO_ID != 0 {
        free_id(&st)?
    } else {
        if st
            .segs
            .iter()
            .any(|s| s.id == a.segment_id && (s.flags & abi::SISCI_SEG_MULTICAST != 0) == mc)
        {
            return Err(EEXIST);
        }
        a.segment_id
    };
    let group = if mc {
        let g = McGroup::claim(&sh.adapter, id)?;
        let (bus, _) = mem.bus_at(0).ok_or(EINVAL)?;
        g.receive(bus, size)?;
        Some(g)
    } else {
        None
    };
    let handle = st.new_handle()?;
    st.segs.push(
        LocalSeg {
            handle,
            file,
            id,
            flags,
            uid: task::current_uid(),
            pid: task::current_pid(),
            mem,
            prepared: false,
            available: false,
            conns: KVec::new(),
            events: Events::default(),
            mappers: Mappers::default(),
            dev_maps: 0,
            mc: group,
        },
        GFP_KERNEL,
    )?;
    a.segment_id = id;
    a.handle = handle;
    a.size = size;
    a.mmap_offset = abi::sisci_mmap_offset(handle);
    Ok(())
}

/// An automatic segment id: from the top half of the id space, so that it
/// does not collide with the fixed ids programs choose (small numbers).
fn free_id(st: &State) -> Result<u32> {
    let base = abi::SISCI_MAX_ID / 2;
    (base..abi::SISCI_MAX_ID)
        .find(|id| !st.segs.iter().any(|s| s.id == *id))
        .ok_or(ENOSPC)
}

/// Prepares a segment on adapter `adapter` (only 0).
pub(crate) fn prepare(sh: &Shared, file: FileTag, handle: u32, adapter: u32) -> Result {
    if adapter != 0 {
        return Err(ENODEV);
    }
    let mut st = sh.st.lock();
    let s = st.seg_mut(file, handle)?;
    if s.mem.is_empty() {
        return Err(EINVAL);
    }
    s.prepared = true;
    Ok(())
}

/// Gives empty segment `a.handle` the device memory at bus address
/// `a.ioaddr` (`SCIAttachPhysicalMemory`).
pub(crate) fn attach_phys(sh: &Shared, file: FileTag, a: &abi::SisciSegAttach) -> Result {
    if !task::capable_rawio() {
        return Err(EPERM);
    }
    if a.reserved != 0 {
        return Err(EINVAL);
    }
    {
        let mut st = sh.st.lock();
        let s = st.seg_mut(file, a.handle)?;
        if s.flags & abi::SISCI_SEG_EMPTY == 0 || !s.mem.is_empty() || a.size != s.mem.size {
            return Err(EINVAL);
        }
    }
    // Looked up without the lock (it walks the PCI device list).
    let mem = Arc::new(
        SegMemory::device(&sh.adapter, a.ioaddr, a.size)?,
        GFP_KERNEL,
    )?;
    let mut st = sh.st.lock();
    let s = st.seg_mut(file, a.handle)?;
    // Raced with another attach of the same handle.
    if !s.mem.is_empty() {
        return Err(EINVAL);
    }
    s.mem = mem;
    Ok(())
}

/// Device memory: lets exactly the nodes connected to `s` reach it. A
/// failure to reopen leaves it closed (the window is shut first).
fn fence(s: &LocalSeg) -> Result {
    let peers = s.conns.iter().fold(0u32, |m, &(node, _)| m | (1 << node));
    s.mem.open_to(peers)
}

/// Makes a segment available or unavailable (revoking its connections).
pub(crate) fn set_available(sh: &Shared, file: FileTag, handle: u32, available: bool) -> Result {
    let notify = {
        let mut st = sh.st.lock();
        let s = st.seg_mut(file, handle)?;
        if !s.prepared {
            return Err(EINVAL);
        }
        s.available = available;
        if available {
            return Ok(());
        }
        revoke(&mut st, handle)?
    };
    send_gone(sh, notify);
    Ok(())
}

/// Takes every connection away from local segment `handle` (quarantining
/// its memory until the peers acknowledge): returns whom to tell.
fn revoke(st: &mut State, handle: u32) -> Result<Notify> {
    let s = st
        .segs
        .iter_mut()
        .find(|s| s.handle == handle)
        .ok_or(EINVAL)?;
    let notify = core::mem::take(&mut s.conns);
    // Device memory: peers lose their way in at once (the window is the
    // fence; the acknowledgements still govern the pages of RAM segments).
    let _ = fence(s);
    if notify.is_empty() {
        return Ok(notify);
    }
    let mut pending = KVec::with_capacity(notify.len(), GFP_KERNEL)?;
    pending.extend_from_slice(&notify, GFP_KERNEL)?;
    let q = Quarantined {
        _mem: s.mem.clone(),
        seg_id: s.id,
        pending,
    };
    for &(node, _) in notify.iter() {
        s.events.push(abi::SISCI_EVENT_DISCONNECT, node);
    }
    st.quarantine.push(q, GFP_KERNEL)?;
    Ok(notify)
}

/// Tells the peers in `notify` that their connection is gone. A peer that
/// cannot be told is gone itself: its pending acknowledgement is dropped.
fn send_gone(sh: &Shared, notify: Notify) {
    for (node, conn) in notify {
        let seg_id = {
            let st = sh.st.lock();
            st.quarantine
                .iter()
                .find(|q| q.pending.contains(&(node, conn)))
                .map(|q| q.seg_id)
        };
        let Some(seg_id) = seg_id else { continue };
        if net::event(
            sh,
            node,
            proto::SEG_GONE,
            &proto::words([seg_id, conn])[..8],
        )
        .is_err()
        {
            gone_acked(sh, node, conn);
        }
    }
    sh.wake.notify_all();
}

/// Peer `node` acknowledged (or can no longer reach) connection `conn`.
fn gone_acked(sh: &Shared, node: u32, conn: u32) {
    let mut st = sh.st.lock();
    for q in st.quarantine.iter_mut() {
        q.pending.retain(|p| *p != (node, conn));
    }
    st.release_quarantine();
}

/// Removes a local segment (and its mappings, here and at peers).
pub(crate) fn remove(sh: &Shared, file: FileTag, handle: u32) -> Result {
    let (notify, seg) = {
        let mut st = sh.st.lock();
        if st.seg_mut(file, handle)?.dev_maps != 0 {
            return Err(EBUSY);
        }
        let notify = revoke(&mut st, handle)?;
        let i = st
            .segs
            .iter()
            .position(|s| s.handle == handle)
            .ok_or(EINVAL)?;
        (notify, st.segs.remove(i)?)
    };
    seg.mappers
        .zap(abi::sisci_mmap_offset(handle), seg.mem.size);
    // Multicast: stop receiving before the memory can go.
    drop(seg.mc);
    send_gone(sh, notify);
    Ok(())
}

/// Connects to `(node, segment_id)` (or a multicast group).
pub(crate) fn connect(sh: &Shared, file: FileTag, a: &mut abi::SisciConnect) -> Result {
    if a.header.flags & abi::SISCI_SEG_MULTICAST != 0 {
        return connect_multicast(sh, file, a);
    }
    if a.node >= sh.info.num_nodes {
        return Err(EINVAL);
    }
    if !sh.info.caps.direct_window() || sh.info.direct_nodes & (1 << a.node) == 0 {
        // Remote segments are mapped through the direct window.
        return Err(EOPNOTSUPP);
    }
    if !net::reachable(sh, a.node) {
        return Err(EHOSTUNREACH);
    }
    let lost = Shared::new_lost(CONN_CONNECTING)?;
    let handle = {
        let mut st = sh.st.lock();
        let handle = st.new_handle()?;
        st.conns.push(
            Conn {
                handle,
                file,
                node: a.node,
                seg_id: a.segment_id,
                uid: task::current_uid(),
                pid: task::current_pid(),
                size: 0,
                chunk_shift: 0,
                bus: KVec::new(),
                lost: lost.clone(),
                events: Events::default(),
                mappers: Mappers::default(),
                dev_maps: 0,
                mc: None,
                win: None,
            },
            GFP_KERNEL,
        )?;
        handle
    };
    match fetch(sh, a, handle).and_then(|(size, reach)| Ok((size, reach.map(sh, a.node, size)?))) {
        Ok((size, (shift, bus, win))) => {
            let mut st = sh.st.lock();
            let c = st
                .conns
                .iter_mut()
                .find(|c| c.handle == handle)
                .ok_or(EINVAL)?;
            // Revoked while connecting: `on_gone` acknowledged it already.
            if lost.cmpxchg(CONN_CONNECTING, CONN_OK, Relaxed).is_err() {
                drop(st);
                forget_conn(sh, handle);
                return Err(ECONNREFUSED);
            }
            c.size = size;
            c.chunk_shift = shift;
            c.bus = bus;
            c.win = win;
            a.handle = handle;
            a.size = size;
            a.mmap_offset = abi::sisci_mmap_offset(handle);
            Ok(())
        }
        Err(e) => {
            forget_conn(sh, handle);
            // The owner may have accepted before a timeout or a failure here.
            if e != ENOENT && e != ECONNREFUSED && e != EACCES && e != EHOSTUNREACH {
                let _ = net::event(
                    sh,
                    a.node,
                    proto::SEG_DISCONNECT,
                    &proto::words([a.segment_id, handle])[..8],
                );
            }
            Err(e)
        }
    }
}

fn forget_conn(sh: &Shared, handle: u32) {
    let mut st = sh.st.lock();
    st.conns.retain(|c| c.handle != handle);
}

/// How a connection reaches the owner's segment.
enum Reach {
    /// Chunks of `1 << shift` bytes at these bus addresses, in the direct
    /// window.
    Chunks(u32, KVec<u64>),
    /// Device memory: the owner's inbound window.
    Window(u32),
}

impl Reach {
    /// What the connection keeps: chunk shift and addresses, or the
    /// translated-window slots onto the owner's window (`ENOSPC`: none
    /// left).
    fn map(self, sh: &Shared, node: u32, size: u64) -> Result<(u32, KVec<u64>, Option<LutRange>)> {
        match self {
            Reach::Chunks(shift, bus) => Ok((shift, bus, None)),
            Reach::Window(window) => {
                let slot = 1u64 << sh.info.slot_shift;
                let count = u32::try_from(size.div_ceil(slot)).map_err(|_| ENOSPC)?;
                let lut = LutRange::alloc(&sh.adapter, count)?;
                for i in 0..count {
                    lut.map_memory(i, node, window, u64::from(i) * slot)?;
                }
                Ok((0, KVec::new(), Some(lut)))
            }
        }
    }
}

/// Asks the owner for the segment: its size and how to reach it.
fn fetch(sh: &Shared, a: &abi::SisciConnect, handle: u32) -> Result<(u64, Reach)> {
    let flags = if task::capable_admin() {
        proto::CONNECT_ADMIN
    } else {
        0
    };
    let req = proto::words([a.segment_id, handle, task::current_uid(), flags]);
    let timeout = net::timeout(a.timeout_ms);
    let reply = net::request(sh, a.node, proto::SEG_CONNECT, &req[..16], timeout)?;
    let mut r = Reader::new(reply.payload());
    let size = r.u64()?;
    let shift = r.u32()?;
    let count = r.u32()? as usize;
    if shift == proto::SHIFT_WINDOW {
        let window = r.u32()?;
        if size == 0 || size > abi::SISCI_MAX_SEGMENT_SIZE || count != 0 || size % PAGE != 0 {
            return Err(EPROTO);
        }
        return Ok((size, Reach::Window(window)));
    }
    if size == 0
        || size > abi::SISCI_MAX_SEGMENT_SIZE
        || !(12..=31).contains(&shift)
        || count as u64 != size.div_ceil(1 << shift)
    {
        return Err(EPROTO);
    }
    let mut bus = KVec::with_capacity(count, GFP_KERNEL)?;
    read_addrs(&mut bus, r.rest(), count)?;
    while bus.len() < count {
        let req = proto::words([a.segment_id, handle, bus.len() as u32]);
        let reply = net::request(sh, a.node, proto::SEG_CHUNKS, &req[..12], timeout)?;
        let mut r = Reader::new(reply.payload());
        let n = r.u32()? as usize;
        r.u32()?;
        if n == 0 {
            return Err(EPROTO);
        }
        let upto = count.min(bus.len() + n);
        read_addrs(&mut bus, r.rest(), upto)?;
        if bus.len() != upto {
            return Err(EPROTO);
        }
    }
    // Every chunk must lie in the owner's direct-window span.
    let span = 1u64 << sh.info.direct_shift;
    if bus
        .iter()
        .any(|&b| b.checked_add(1 << shift).is_none_or(|e| e > span) || b % PAGE != 0)
    {
        return Err(EPROTO);
    }
    Ok((size, Reach::Chunks(shift, bus)))
}

/// Appends the addresses in `bytes` (as many as it holds, up to a total of
/// `upto`).
fn read_addrs(bus: &mut KVec<u64>, bytes: &[u8], upto: usize) -> Result {
    let mut r = Reader::new(bytes);
    while bus.len() < upto && r.rest_len() >= 8 {
        bus.push(r.u64()?, GFP_KERNEL)?;
    }
    Ok(())
}

/// A multicast connection: translated-window slots that write to group
/// `segment_id`; `size` (in) is how much to map (default one slot).
fn connect_multicast(sh: &Shared, file: FileTag, a: &mut abi::SisciConnect) -> Result {
    if !sh.info.caps.multicast() {
        return Err(EOPNOTSUPP);
    }
    if a.segment_id >= sh.info.mc_groups || a.size > MC_MAX {
        return Err(EINVAL);
    }
    let slot = 1u64 << sh.info.slot_shift;
    let size = if a.size == 0 {
        slot.min(MC_MAX)
    } else {
        a.size.div_ceil(PAGE) * PAGE
    };
    let count = size.div_ceil(slot) as u32;
    let lut = LutRange::alloc(&sh.adapter, count)?;
    for i in 0..count {
        lut.map_multicast(i, a.segment_id, u64::from(i) * slot)?;
    }
    let mut st = sh.st.lock();
    let handle = st.new_handle()?;
    st.conns.push(
        Conn {
            handle,
            file,
            node: sh.node,
            seg_id: a.segment_id,
            uid: task::current_uid(),
            pid: task::current_pid(),
            size,
            chunk_shift: 0,
            bus: KVec::new(),
            lost: Shared::new_lost(CONN_OK)?,
            events: Events::default(),
            mappers: Mappers::default(),
            dev_maps: 0,
            mc: Some(lut),
            win: None,
        },
        GFP_KERNEL,
    )?;
    a.handle = handle;
    a.size = size;
    a.mmap_offset = abi::sisci_mmap_offset(handle);
    Ok(())
}

/// Disconnects (zapping the connection's mappings first).
pub(crate) fn disconnect(sh: &Shared, file: FileTag, handle: u32) -> Result {
    let c = {
        let mut st = sh.st.lock();
        if st.conn_mut(file, handle)?.dev_maps != 0 {
            return Err(EBUSY);
        }
        let i = st
            .conns
            .iter()
            .position(|c| c.handle == handle)
            .ok_or(EINVAL)?;
        st.conns.remove(i)?
    };
    close_conn(sh, c);
    Ok(())
}

/// Ends a connection taken out of the table: its mappings and DMA stop
/// before the owner hears of it.
fn close_conn(sh: &Shared, c: Conn) {
    let was = c.lost.xchg(CONN_REVOKED, Relaxed);
    c.mappers
        .zap(abi::sisci_mmap_offset(c.handle), c.size.max(PAGE));
    crate::dma::stop_using(sh, c.handle);
    if c.mc.is_none() && was == CONN_OK {
        let _ = net::event(
            sh,
            c.node,
            proto::SEG_DISCONNECT,
            &proto::words([c.seg_id, c.handle])[..8],
        );
    }
}

/// Takes the oldest event of a segment or connection.
pub(crate) fn wait_event(sh: &Shared, file: FileTag, a: &mut abi::SisciSegEvent) -> Result {
    let nonblock = a.header.flags & abi::SISCI_NONBLOCK != 0;
    let handle = a.handle;
    let mut st = sh.st.lock();
    let (event, node) = sh.wait_for(&mut st, a.timeout_ms, nonblock, |st| {
        if let Some(s) = st
            .segs
            .iter_mut()
            .find(|s| s.handle == handle && s.file == file)
        {
            return Ok(s.events.pop());
        }
        if let Some(c) = st
            .conns
            .iter_mut()
            .find(|c| c.handle == handle && c.file == file)
        {
            return Ok(c.events.pop());
        }
        Err(EINVAL)
    })?;
    a.event = event;
    a.node = node;
    Ok(())
}

/// The `SISCI_STATE_*` bits of a local segment or connection of `file`.
pub(crate) fn state(sh: &Shared, file: FileTag, handle: u32) -> Result<u32> {
    let st = sh.st.lock();
    if let Some(s) = st
        .segs
        .iter()
        .find(|s| s.handle == handle && s.file == file)
    {
        return Ok(seg_state(s));
    }
    let c = st
        .conns
        .iter()
        .find(|c| c.handle == handle && c.file == file)
        .ok_or(EINVAL)?;
    Ok(conn_state(c))
}

fn seg_state(s: &LocalSeg) -> u32 {
    let mut state = 0;
    if s.prepared {
        state |= abi::SISCI_STATE_PREPARED;
    }
    if s.available {
        state |= abi::SISCI_STATE_AVAILABLE;
    }
    if s.mc.is_some() {
        state |= abi::SISCI_STATE_MULTICAST;
    }
    state
}

fn conn_state(c: &Conn) -> u32 {
    let mut state = 0;
    let lost = Shared::lost(&c.lost);
    if lost != CONN_OK && lost != CONN_CONNECTING {
        state |= abi::SISCI_STATE_LOST;
    }
    if c.mc.is_some() {
        state |= abi::SISCI_STATE_MULTICAST;
    }
    state
}

/// Fills `SisciSegEntry`s for `SEG_LIST` (every object of the node).
pub(crate) fn list(sh: &Shared, mut out: impl FnMut(&abi::SisciSegEntry) -> Result) -> Result<u32> {
    let st = sh.st.lock();
    let mut n = 0;
    for s in st.segs.iter() {
        let state = seg_state(s);
        let connected = s
            .conns
            .iter()
            .fold(0u32, |m, &(node, _)| m | (1 << (node & 31)));
        out(&abi::SisciSegEntry {
            kind: abi::SISCI_ENTRY_LOCAL,
            state,
            node: sh.node,
            segment_id: s.id,
            handle: s.handle,
            connected,
            size: s.mem.size,
            pid: s.pid,
            uid: s.uid,
        })?;
        n += 1;
    }
    for c in st.conns.iter() {
        let state = conn_state(c);
        out(&abi::SisciSegEntry {
            kind: abi::SISCI_ENTRY_REMOTE,
            state,
            node: c.node,
            segment_id: c.seg_id,
            handle: c.handle,
            connected: 0,
            size: c.size,
            pid: c.pid,
            uid: c.uid,
        })?;
        n += 1;
    }
    Ok(n)
}

/// Removes what `file` owned (it was closed).
pub(crate) fn file_closed(sh: &Shared, file: FileTag) {
    loop {
        let h = sh
            .st
            .lock()
            .segs
            .iter_mut()
            .find(|s| s.file == file)
            .map(|s| {
                // The file's devices were returned first (`file.rs`).
                s.dev_maps = 0;
                s.handle
            });
        match h {
            Some(h) => {
                let _ = remove(sh, file, h);
            }
            None => break,
        }
    }
    loop {
        let c = {
            let mut st = sh.st.lock();
            match st.conns.iter().position(|c| c.file == file) {
                Some(i) => st.conns.remove(i).ok(),
                None => None,
            }
        };
        match c {
            Some(c) => close_conn(sh, c),
            None => break,
        }
    }
}

// --- The owner's side and events from peers (core thread).

/// `SEG_CONNECT` from `node`.
pub(crate) fn on_connect(
    sh: &Shared,
    node: u32,
    payload: &[u8],
    reply: &mut [u8],
) -> Result<usize> {
    let mut r = Reader::new(payload);
    let (id, conn, uid, flags) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
    let mut st = sh.st.lock();
    let s = st
        .segs
        .iter_mut()
        .find(|s| s.id == id && s.flags & abi::SISCI_SEG_MULTICAST == 0)
        .ok_or(ENOENT)?;
    if !s.available {
        return Err(ECONNREFUSED);
    }
    if s.flags & abi::SISCI_SEG_ANY_USER == 0 && uid != s.uid && flags & proto::CONNECT_ADMIN == 0 {
        return Err(EACCES);
    }
    let mut w = Writer::new(reply);
    if let Some(window) = s.mem.device_window() {
        w.u64(s.mem.size)?
            .u32(proto::SHIFT_WINDOW)?
            .u32(0)?
            .u32(window)?;
    } else {
        w.u64(s.mem.size)?
            .u32(s.mem.chunk_shift)?
            .u32(s.mem.chunk_count() as u32)?;
        for b in s.mem.bus_addrs() {
            if w.room() < 8 {
                break;
            }
            w.u64(b)?;
        }
    }
    s.conns.push((node, conn), GFP_KERNEL)?;
    if let Err(e) = fence(s) {
        s.conns.pop();
        let _ = fence(s);
        return Err(e);
    }
    s.events.push(abi::SISCI_EVENT_CONNECT, node);
    let n = w.len();
    drop(st);
    sh.wake.notify_all();
    Ok(n)
}

/// `SEG_CHUNKS` from `node`: addresses from index `from`, for a connection
/// it holds.
pub(crate) fn on_chunks(sh: &Shared, node: u32, payload: &[u8], reply: &mut [u8]) -> Result<usize> {
    let mut r = Reader::new(payload);
    let (id, conn, from) = (r.u32()?, r.u32()?, r.u32()? as usize);
    let st = sh.st.lock();
    let s = st
        .segs
        .iter()
        .find(|s| s.id == id && s.conns.contains(&(node, conn)))
        .ok_or(ENOTCONN)?;
    if from >= s.mem.chunk_count() {
        return Err(EINVAL);
    }
    let n = ((MAX_PAYLOAD - proto::CHUNKS_REPLY_HEAD) / 8).min(s.mem.chunk_count() - from);
    let mut w = Writer::new(reply);
    w.u32(n as u32)?.u32(0)?;
    for b in s.mem.bus_addrs().skip(from).take(n) {
        w.u64(b)?;
    }
    Ok(w.len())
}

/// `SEG_DISCONNECT` from `node`.
pub(crate) fn on_disconnect(sh: &Shared, node: u32, payload: &[u8]) -> Result {
    let mut r = Reader::new(payload);
    let (id, conn) = (r.u32()?, r.u32()?);
    let mut st = sh.st.lock();
    for s in st.segs.iter_mut().filter(|s| s.id == id) {
        let before = s.conns.len();
        s.conns.retain(|c| *c != (node, conn));
        if s.conns.len() != before {
            let _ = fence(s);
            s.events.push(abi::SISCI_EVENT_DISCONNECT, node);
        }
    }
    // A disconnect that crossed our SEG_GONE acknowledges it too.
    for q in st.quarantine.iter_mut() {
        q.pending.retain(|p| *p != (node, conn));
    }
    st.release_quarantine();
    drop(st);
    sh.wake.notify_all();
    Ok(())
}

/// `SEG_GONE` from the owner `node`: stop using the connection, then
/// acknowledge.
pub(crate) fn on_gone(sh: &Shared, node: u32, payload: &[u8]) -> Result {
    let mut r = Reader::new(payload);
    let (id, conn) = (r.u32()?, r.u32()?);
    let size = {
        let mut st = sh.st.lock();
        match st
            .conns
            .iter_mut()
            .find(|c| c.handle == conn && c.node == node && c.seg_id == id)
        {
            Some(c) => {
                let was = c.lost.xchg(CONN_REVOKED, Relaxed);
                if was == CONN_OK {
                    c.events.push(abi::SISCI_EVENT_DISCONNECT, node);
                }
                // Zapped under the lock: a concurrent mmap checks `lost`
                // under it, so no new mapping appears after this.
                c.mappers
                    .zap(abi::sisci_mmap_offset(conn), c.size.max(PAGE));
                Some(c.size)
            }
            None => None,
        }
    };
    if size.is_some() {
        crate::dma::stop_using(sh, conn);
    }
    sh.wake.notify_all();
    net::event(
        sh,
        node,
        proto::SEG_GONE_ACK,
        &proto::words([id, conn])[..8],
    )
}

/// `SEG_GONE_ACK` from `node`.
pub(crate) fn on_gone_ack(sh: &Shared, node: u32, payload: &[u8]) -> Result {
    let mut r = Reader::new(payload);
    let (_id, conn) = (r.u32()?, r.u32()?);
    gone_acked(sh, node, conn);
    Ok(())
}

/// Peer `node` died: its connections to our segments end, ours to its
/// segments are lost.
pub(crate) fn peer_down(sh: &Shared, node: u32) {
    let mut lost = KVec::new();
    {
        let mut st = sh.st.lock();
        for s in st.segs.iter_mut() {
            let before = s.conns.len();
            s.conns.retain(|c| c.0 != node);
            if s.conns.len() != before {
                let _ = fence(s);
                s.events.push(abi::SISCI_EVENT_DISCONNECT, node);
            }
        }
        for q in st.quarantine.iter_mut() {
            q.pending.retain(|p| p.0 != node);
        }
        st.release_quarantine();
        for c in st
            .conns
            .iter_mut()
            .filter(|c| c.node == node && c.mc.is_none())
        {
            let was = c.lost.xchg(CONN_DEAD, Relaxed);
            if was == CONN_OK {
                c.events.push(abi::SISCI_EVENT_LOST, node);
            }
            c.mappers
                .zap(abi::sisci_mmap_offset(c.handle), c.size.max(PAGE));
            let _ = lost.push(c.handle, GFP_KERNEL);
        }
    }
    for h in lost {
        crate::dma::stop_using(sh, h);
    }
    sh.wake.notify_all();
}
