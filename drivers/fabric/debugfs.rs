// SPDX-License-Identifier: GPL-2.0

//! `/sys/kernel/debug/rsio_fabric/state`: the core's state as text (the
//! transport, every node's membership and ring indexes, windows, message
//! counters); `trace`: the last messages sent and received (time,
//! direction, peer, kind, type, request id, status, length); `pause_ms`
//! (write-only): a test hook that stops the core's
//! thread for that many milliseconds, as if the node hung. The protocol's own trace is `pr_debug`
//! (dynamic debug:
//! `echo 'module rsio_fabric +p' > /sys/kernel/debug/dynamic_debug/control`).

use crate::logic::members::State;
use crate::registry;
use crate::uapi;
use core::fmt;
use kernel::sync::atomic::Relaxed;
use rsio_kernel::system;

/// The contents of the `state` file, computed at each read.
pub(crate) struct StateFile;

fn state_name(s: State) -> &'static str {
    match s {
        State::Down => "down",
        State::Hello => "hello",
        State::Up => "up",
        State::Dead => "dead",
    }
}

fn name(b: &[u8]) -> &str {
    core::str::from_utf8(uapi::cstr_bytes(b)).unwrap_or("?")
}

impl fmt::Debug for StateFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Ok(c) = registry::cluster() else {
            return writeln!(f, "transport: none");
        };
        let i = c.info;
        let tname = c.transport.name().to_str().unwrap_or("?");
        writeln!(
            f,
            "transport: {} {}",
            crate::cluster::transport_name(i.kind),
            tname
        )?;
        writeln!(
            f,
            "node: {} of {} ({})",
            i.node_id,
            i.num_nodes,
            name(&c.name)
        )?;
        writeln!(f, "link: {:#x}", c.transport.link_mask())?;
        writeln!(f, "up: {:#x}", c.up_mask())?;
        let now = system::now_ms();
        let peers = *c.peers.lock();
        for p in c.peer_ids() {
            let s = &peers[p as usize];
            let heard = s.m.last_heard.map_or(-1, |t| now.saturating_sub(t) as i64);
            writeln!(
                f,
                "peer {}: {} name {} version {} up_count {} heard_ms_ago {} tx {} rx {}",
                p,
                state_name(s.m.state),
                name(&s.m.name),
                s.m.version,
                s.m.up_count,
                heard,
                c.stats.peer_tx[p as usize].load(Relaxed),
                c.stats.peer_rx[p as usize].load(Relaxed),
            )?;
        }
        writeln!(
            f,
            "messages: tx {} rx {} bad {} timeouts {}",
            c.stats.tx.load(Relaxed),
            c.stats.rx.load(Relaxed),
            c.stats.bad.load(Relaxed),
            c.stats.timeouts.load(Relaxed)
        )?;
        let (refused, errors) = c.transport.error_counters();
        writeln!(f, "adapter: refused {} errors {}", refused, errors)?;
        let ws = c.windows.lock();
        let (lut, grants) = ws.entries_used();
        writeln!(
            f,
            "windows: map entries {} of {}, grants {} of {}",
            lut, i.map_entries, grants, i.grant_windows
        )?;
        for w in ws.iter() {
            let (hi, hc) = ws.hw(w);
            writeln!(
                f,
                "window {}: {} node {} addr {:#x} len {:#x} bus {:#x} hw {}+{} refs {} pid {}",
                w.id,
                if w.kind() == uapi::RSIO_WINDOW_GRANT {
                    "grant"
                } else {
                    "map"
                },
                w.range.node,
                w.range.addr,
                w.range.len,
                w.bus_addr(),
                hi,
                hc,
                ws.refcount(w),
                w.pid
            )?;
        }
        Ok(())
    }
}

/// Parses a `pause_ms` write (decimal milliseconds, at most 60000).
pub(crate) fn write_pause(
    _: &(),
    r: &mut kernel::uaccess::UserSliceReader,
) -> kernel::error::Result {
    let mut buf = [0u8; 16];
    let n = r.len();
    if n == 0 || n > buf.len() {
        return Err(kernel::error::code::EINVAL);
    }
    r.read_slice(&mut buf[..n])?;
    let s = core::str::from_utf8(&buf[..n]).map_err(|_| kernel::error::code::EINVAL)?;
    let ms: u64 = s.trim().parse().map_err(|_| kernel::error::code::EINVAL)?;
    if ms > 60000 {
        return Err(kernel::error::code::EINVAL);
    }
    crate::cluster::PAUSE_MS.store(ms, Relaxed);
    Ok(())
}

/// The contents of the `trace` file.
pub(crate) struct TraceFile;

impl fmt::Debug for TraceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Ok(c) = registry::cluster() else {
            return Ok(());
        };
        let (entries, next) = {
            let t = c.trace.lock();
            (t.entries, t.next)
        };
        for k in 0..crate::cluster::TRACE_LEN {
            let Some(e) = entries[(next + k) % crate::cluster::TRACE_LEN] else {
                continue;
            };
            writeln!(
                f,
                "{}.{:06} {} node {} {:?} type {:#x} req {} status {} len {}",
                e.at_us / 1_000_000,
                e.at_us % 1_000_000,
                if e.tx { "tx" } else { "rx" },
                e.peer,
                e.h.kind,
                e.h.mtype,
                e.h.req_id,
                e.h.status,
                e.h.len
            )?;
        }
        Ok(())
    }
}
