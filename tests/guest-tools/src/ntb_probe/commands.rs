//! What each command does with a session, and what it prints.
//!
//! Output lines are stable and meant to be matched by scenario regexes;
//! every wait is bounded by the command's timeout; a failure is an error
//! (exit code 1) that says what the adapter showed.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use super::adapter::{error_names, nodes, Adapter};
use super::bench;
use super::cli::{Command, LinkState, LutTarget};
use super::dma::Copy;
use super::pattern;
use super::place::{self, Advert, Place};
use super::regs;
use super::session::Session;

/// How often waits re-read a register even without an interrupt.
const RECHECK: Duration = Duration::from_millis(200);
/// Transfers through a window go in chunks of this many words.
const CHUNK_WORDS: usize = 512;

/// Runs `command` (not `start`/`stop`, which the daemon handles) on
/// `session`, printing to `out`.
pub fn run(session: &mut Session, command: &Command, out: &mut dyn Write) -> Result<()> {
    match command {
        Command::Start | Command::Stop => bail!("start and stop are for the daemon"),
        Command::Info => info(&session.adapter, out),
        Command::LinkUp { peers, timeout } => link_up(session, *peers, *timeout, out),
        Command::LinkDown => {
            session.adapter.set_link(false)?;
            let status = session.adapter.link_status()?;
            writeln!(out, "link disabled: status {}", nodes(status))?;
            Ok(())
        }
        Command::WaitLink {
            peer,
            state,
            timeout,
        } => wait_link(session, *peer, *state, *timeout, out),
        Command::Ring { peer, bits } => ring(&session.adapter, *peer, *bits, out),
        Command::WaitDoorbell {
            peer,
            bits,
            timeout,
        } => wait_doorbell(session, *peer, *bits, *timeout, out),
        Command::Spad { peer, index, value } => spad(&session.adapter, *peer, *index, *value, out),
        Command::Alloc { name, size } => {
            let size = usize::try_from(*size).context("size too large")?;
            let buffer = session.alloc(name, size)?;
            writeln!(
                out,
                "buffer {name}: {} bytes at bus {:#x}",
                buffer.len(),
                buffer.bus()
            )?;
            Ok(())
        }
        Command::Expose {
            window,
            buffer,
            peers,
        } => expose(session, *window, buffer, *peers, out),
        Command::ExposeMmio {
            window,
            addr,
            size,
            peers,
        } => expose_mmio(&session.adapter, *window, *addr, *size, *peers, out),
        Command::Peek { place, count } => peek(session, place, *count, out),
        Command::Lut { slot, target } => lut(&session.adapter, *slot, target, out),
        Command::McJoin { group, buffer } => mc_join(session, *group, buffer, out),
        Command::Intwin { peers } => {
            session.adapter.w32(
                regs::INTWIN_CTRL,
                regs::WIN_ENABLE | peers << regs::WIN_PEERS_SHIFT,
            )?;
            writeln!(out, "interrupt window open to {}", nodes(*peers))?;
            Ok(())
        }
        Command::Raise { slot, k } => raise(&session.adapter, *slot, *k, out),
        Command::WaitVector { vector, timeout } => wait_vector(session, *vector, *timeout, out),
        Command::Write { place, seed, len } => write(session, place, *seed, *len, out),
        Command::Check { place, seed, len } => check(session, place, *seed, *len, out),
        Command::Dma {
            src,
            dst,
            len,
            channel,
            timeout,
        } => dma(session, src, dst, *len, *channel, *timeout, out),
        Command::Counters => {
            for (name, value) in regs::COUNTER_NAMES.iter().zip(session.adapter.counters()?) {
                writeln!(out, "{name:<10} {value}")?;
            }
            Ok(())
        }
        Command::Errors { clear } => errors(&session.adapter, *clear, out),
        Command::Bench {
            peer,
            bytes,
            seconds,
        } => bench::run(session, *peer, *bytes, *seconds, out),
        Command::MemcpyBench { .. } => run_local(command, out),
    }
}

/// Runs a command that needs no adapter (`Command::needs_adapter`).
pub fn run_local(command: &Command, out: &mut dyn Write) -> Result<()> {
    match command {
        Command::MemcpyBench { size, seconds } => bench::memcpy(*size, *seconds, out),
        _ => bail!("this command needs the adapter"),
    }
}

fn info(a: &Adapter, out: &mut dyn Write) -> Result<()> {
    let g = &a.geometry;
    let caps: Vec<&str> = regs::CAPS_NAMES
        .iter()
        .filter(|(bit, _)| g.caps & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    writeln!(
        out,
        "adapter {}: RSIO-NTB1 version {}.{}",
        a.bdf,
        g.version >> 16,
        g.version & 0xFFFF
    )?;
    writeln!(out, "node {} of {}", g.node, g.nodes)?;
    writeln!(out, "caps {:#x}: {}", g.caps, caps.join(" "))?;
    writeln!(
        out,
        "geometry: {} LUT slots of {}, {} inbound windows, {} DMA channels, {} multicast groups",
        g.lut_slots,
        human(g.slot_size()),
        g.in_windows,
        g.dma_channels,
        g.mc_groups
    )?;
    writeln!(
        out,
        "direct window: {} per node, {}",
        human(1u64.checked_shl(g.direct_shift).unwrap_or(0)),
        nodes(g.direct_nodes)
    )?;
    let mut bars = vec![
        format!("BAR0 {:#x} ({})", a.bar0.bus, human(a.bar0.size)),
        format!("BAR2 {:#x} ({})", a.bar2.bus, human(a.bar2.size)),
    ];
    if let Some(bar4) = &a.bar4 {
        bars.push(format!("BAR4 {:#x} ({})", bar4.bus, human(bar4.size)));
    }
    writeln!(out, "{}", bars.join(", "))?;
    writeln!(
        out,
        "link: ctrl {:#x}, status {}, event {:#x}",
        a.r32(regs::LINK_CTRL)?,
        nodes(a.link_status()?),
        a.r32(regs::LINK_EVENT)?
    )?;
    Ok(())
}

fn link_up(
    s: &mut Session,
    peers: Option<u32>,
    timeout: Duration,
    out: &mut dyn Write,
) -> Result<()> {
    let g = s.adapter.geometry;
    let want = peers.unwrap_or(g.all_nodes()) | 1 << g.node;
    ensure!(
        want & !g.all_nodes() == 0,
        "peers {} are not all in the fabric",
        nodes(want)
    );
    let started = Instant::now();
    s.adapter.set_link(true)?;
    let status = wait_link_status(s, started + timeout, |status| status & want == want)?;
    let Some(status) = status else {
        let now = s.adapter.link_status()?;
        bail!(
            "links to {} not up within {:.1}s: status {}",
            nodes(want & !now),
            timeout.as_secs_f64(),
            nodes(now)
        );
    };
    s.adapter.take_link_event()?;
    writeln!(
        out,
        "link up: status {} after {:.1}s (LINK interrupts: {})",
        nodes(status),
        started.elapsed().as_secs_f64(),
        s.unconsumed(regs::VEC_LINK)
    )?;
    s.consume(regs::VEC_LINK, s.interrupts(regs::VEC_LINK));
    Ok(())
}

/// Waits until `LINK_STATUS` satisfies `done`, waking on `LINK` interrupts
/// (and re-reading now and then); `None` at the deadline.
fn wait_link_status(
    s: &Session,
    deadline: Instant,
    done: impl Fn(u32) -> bool,
) -> Result<Option<u32>> {
    let mut observed = s.interrupts(regs::VEC_LINK);
    loop {
        let status = s.adapter.link_status()?;
        if done(status) {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        observed = s.wait_vector(regs::VEC_LINK, observed, deadline.min(now + RECHECK));
    }
}

fn wait_link(
    s: &mut Session,
    peer: usize,
    state: LinkState,
    timeout: Duration,
    out: &mut dyn Write,
) -> Result<()> {
    s.adapter.check_peer(peer)?;
    let started = Instant::now();
    let bit = 1 << peer;
    let up = state == LinkState::Up;
    let word = if up { "up" } else { "down" };
    let Some(status) = wait_link_status(s, started + timeout, |status| (status & bit != 0) == up)?
    else {
        bail!(
            "the link to node {peer} is not {word} after {:.1}s: status {}",
            timeout.as_secs_f64(),
            nodes(s.adapter.link_status()?)
        );
    };
    let event = s.adapter.take_link_event()?;
    writeln!(
        out,
        "link to node {peer} {word}: status {} after {:.1}s (LINK interrupts: {}, LINK_EVENT {event:#x})",
        nodes(status),
        started.elapsed().as_secs_f64(),
        s.unconsumed(regs::VEC_LINK)
    )?;
    s.consume(regs::VEC_LINK, s.interrupts(regs::VEC_LINK));
    Ok(())
}

/// Clears `ERR_STATUS` so that the next access's errors stand out.
fn clear_errors(a: &Adapter) -> Result<()> {
    a.w32(regs::ERR_STATUS, !0)
}

/// Fails if the adapter flagged an error since [`clear_errors`].
fn check_errors(a: &Adapter, what: &str) -> Result<()> {
    let status = a.r32(regs::ERR_STATUS)?;
    if status != 0 {
        let info = a.r32(regs::ERR_INFO)?;
        bail!(
            "{what}: the adapter flagged {} (ERR_STATUS {status:#x}, ERR_ADDR {:#x}, target node {})",
            error_names(status),
            a.r64(regs::ERR_ADDR)?,
            (info >> 16) & 0xF
        );
    }
    Ok(())
}

fn ring(a: &Adapter, peer: usize, bits: u32, out: &mut dyn Write) -> Result<()> {
    a.check_peer(peer)?;
    clear_errors(a)?;
    a.ring(peer, bits)?;
    check_errors(a, &format!("doorbell {bits:#x} to node {peer}"))?;
    writeln!(out, "rang {bits:#x} on node {peer}")?;
    Ok(())
}

fn wait_doorbell(
    s: &mut Session,
    peer: usize,
    bits: u32,
    timeout: Duration,
    out: &mut dyn Write,
) -> Result<()> {
    s.adapter.check_peer(peer)?;
    ensure!(bits != 0, "wait for which doorbell bits?");
    let vector = regs::vec_doorbell(peer);
    let deadline = Instant::now() + timeout;
    let mut observed = s.interrupts(vector);
    loop {
        let db = s.adapter.doorbell(peer)?;
        let fresh = observed - s.consumed(vector);
        if db & bits == bits && fresh > 0 {
            s.adapter.clear_doorbell(peer, bits)?;
            s.consume(vector, observed);
            writeln!(
                out,
                "doorbell {bits:#x} from node {peer}: DB {db:#x}, MSI-X vector {vector} fired ({fresh} interrupt{})",
                if fresh == 1 { "" } else { "s" }
            )?;
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "no doorbell {bits:#x} from node {peer} within {:.1}s: DB {db:#x}, {fresh} new interrupt(s) on vector {vector}",
                timeout.as_secs_f64()
            );
        }
        observed = s.wait_vector(vector, observed, deadline);
    }
}

fn spad(
    a: &Adapter,
    peer: usize,
    index: usize,
    value: Option<u32>,
    out: &mut dyn Write,
) -> Result<()> {
    a.check_peer(peer)?;
    ensure!(
        index < regs::SPADS,
        "no scratchpad {index} (0..{})",
        regs::SPADS
    );
    match value {
        Some(value) => {
            clear_errors(a)?;
            a.write_peer_spad(peer, index, value)?;
            check_errors(a, &format!("scratchpad write to node {peer}"))?;
            writeln!(out, "node {peer} SPAD[{index}] <- {value:#x}")?;
        }
        None => writeln!(
            out,
            "node {peer} SPAD[{index}] = {:#x}",
            a.spad(peer, index)?
        )?,
    }
    Ok(())
}

fn expose(
    s: &mut Session,
    window: usize,
    name: &str,
    peers: u32,
    out: &mut dyn Write,
) -> Result<()> {
    let g = s.adapter.geometry;
    ensure!(
        window < g.in_windows,
        "no inbound window {window} (the adapter has {})",
        g.in_windows
    );
    ensure!(
        peers & !g.all_nodes() == 0,
        "peers {} are not all in the fabric",
        nodes(peers)
    );
    let buffer = s.buffer(name)?;
    let (bus, size) = (buffer.bus(), buffer.len() as u64);
    s.adapter.set_window(window, bus, size, peers)?;
    writeln!(
        out,
        "window {window}: buffer {name} (bus {bus:#x}, {}) open to {}",
        human(size),
        nodes(peers)
    )?;
    for p in g.peers().filter(|p| peers & (1 << p) != 0) {
        clear_errors(&s.adapter)?;
        place::advertise(
            &s.adapter,
            p,
            Advert {
                window,
                addr: bus,
                size,
            },
        )?;
        match check_errors(&s.adapter, "") {
            Ok(()) => writeln!(out, "advertised window {window} to node {p}")?,
            Err(_) => writeln!(
                out,
                "could not advertise window {window} to node {p} (link down?)"
            )?,
        }
    }
    Ok(())
}

fn lut(a: &Adapter, slot: usize, target: &LutTarget, out: &mut dyn Write) -> Result<()> {
    let g = &a.geometry;
    ensure!(
        slot < g.lut_slots,
        "no slot {slot} (the adapter has {})",
        g.lut_slots
    );
    let valid = regs::LUT_VALID;
    let (ctrl, offset, what) = match *target {
        LutTarget::Memory {
            node,
            window,
            offset,
        } => {
            ensure!(
                node < g.nodes && window < 64,
                "no node {node} or window {window}"
            );
            (
                valid
                    | regs::KIND_MEMORY << regs::LUT_KIND_SHIFT
                    | (node as u32) << regs::LUT_NODE_SHIFT
                    | (window as u32) << regs::LUT_INDEX_SHIFT,
                offset,
                format!("node {node} window {window} +{offset:#x}"),
            )
        }
        LutTarget::Multicast { group, offset } => {
            ensure!(
                group < g.mc_groups,
                "no multicast group {group} (the fabric has {})",
                g.mc_groups
            );
            (
                valid
                    | regs::KIND_MULTICAST << regs::LUT_KIND_SHIFT
                    | (group as u32) << regs::LUT_INDEX_SHIFT,
                offset,
                format!(
                    "multicast group {group} +{offset:#x} (members {})",
                    nodes(a.r32(regs::mc_members(group))?)
                ),
            )
        }
        LutTarget::Interrupt { node } => {
            ensure!(node < g.nodes, "no node {node}");
            (
                valid
                    | regs::KIND_INTERRUPT << regs::LUT_KIND_SHIFT
                    | (node as u32) << regs::LUT_NODE_SHIFT,
                0,
                format!("node {node}'s interrupt window"),
            )
        }
        LutTarget::Clear => (0, 0, "nothing".to_owned()),
    };
    a.set_lut(slot, ctrl, offset)?;
    writeln!(
        out,
        "slot {slot} (BAR2 +{:#x}) -> {what} (LUT_CTRL {ctrl:#x})",
        (slot as u64) << g.slot_shift
    )?;
    Ok(())
}

fn mc_join(s: &mut Session, group: usize, name: &str, out: &mut dyn Write) -> Result<()> {
    let g = s.adapter.geometry;
    ensure!(
        group < g.mc_groups,
        "no multicast group {group} (the fabric has {})",
        g.mc_groups
    );
    let buffer = s.buffer(name)?;
    let (bus, size) = (buffer.bus(), buffer.len() as u64);
    s.adapter.set_multicast(group, Some((bus, size)))?;
    let members = s.adapter.r32(regs::mc_members(group))?;
    writeln!(
        out,
        "multicast group {group} (members {}) received into buffer {name} (bus {bus:#x}, {})",
        nodes(members),
        human(size)
    )?;
    if members & (1 << g.node) == 0 {
        writeln!(
            out,
            "note: node {} is not a member of group {group}",
            g.node
        )?;
    }
    Ok(())
}

fn raise(a: &Adapter, slot: usize, k: usize, out: &mut dyn Write) -> Result<()> {
    ensure!(k < 32, "no remote interrupt {k} (0..32)");
    let w = place::window(
        a,
        &Place::Slot {
            slot,
            offset: 4 * k as u64,
        },
    )?;
    clear_errors(a)?;
    w.map.write32(w.offset, 1)?;
    check_errors(a, &format!("remote interrupt {k} through slot {slot}"))?;
    writeln!(out, "raised remote interrupt {k} through slot {slot}")?;
    Ok(())
}

fn wait_vector(
    s: &mut Session,
    vector: usize,
    timeout: Duration,
    out: &mut dyn Write,
) -> Result<()> {
    ensure!(
        vector < regs::VECTORS,
        "no MSI-X vector {vector} (0..{})",
        regs::VECTORS
    );
    let started = Instant::now();
    let before = s.consumed(vector);
    let count = s.wait_vector(vector, before, started + timeout);
    ensure!(
        count > before,
        "MSI-X vector {vector} did not fire within {:.1}s",
        timeout.as_secs_f64()
    );
    s.consume(vector, count);
    writeln!(
        out,
        "MSI-X vector {vector} fired ({} interrupt{}) after {:.1}s",
        count - before,
        if count - before == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64()
    )?;
    Ok(())
}

fn words_of(len: u64) -> Result<usize> {
    ensure!(
        len > 0 && len.is_multiple_of(8),
        "the length must be a positive multiple of 8, not {len}"
    );
    usize::try_from(len / 8).context("length too large")
}

fn write(s: &mut Session, place: &Place, seed: u64, len: u64, out: &mut dyn Write) -> Result<()> {
    let count = words_of(len)?;
    let started = Instant::now();
    match place {
        Place::Buffer { name, offset } => {
            let bytes = s.buffer_mut(name)?.as_mut_slice();
            let range = span(*offset, len, bytes.len() as u64)?;
            let words = pattern::words(seed, 0, count);
            for (chunk, word) in bytes[range].chunks_exact_mut(8).zip(words) {
                chunk.copy_from_slice(&word.to_le_bytes());
            }
        }
        _ => {
            let w = place::window(&s.adapter, place)?;
            ensure!(
                len <= w.room,
                "{len} bytes do not fit {place} ({} there)",
                w.room
            );
            clear_errors(&s.adapter)?;
            for first in (0..count).step_by(CHUNK_WORDS) {
                let n = CHUNK_WORDS.min(count - first);
                let words = pattern::words(seed, first as u64, n);
                w.map.store_words(w.offset + 8 * first as u64, &words)?;
            }
            check_errors(&s.adapter, &format!("write to {place}"))?;
        }
    }
    writeln!(
        out,
        "wrote {len} bytes of pattern {seed:#x} to {place} in {}",
        took(started.elapsed())
    )?;
    Ok(())
}

/// Opens an inbound window onto local bus addresses that are not RAM.
fn expose_mmio(
    a: &Adapter,
    window: usize,
    addr: u64,
    size: u64,
    peers: u32,
    out: &mut dyn Write,
) -> Result<()> {
    let g = a.geometry;
    ensure!(
        window < g.in_windows,
        "no inbound window {window} (the adapter has {})",
        g.in_windows
    );
    ensure!(
        peers & !g.all_nodes() == 0,
        "peers {} are not all in the fabric",
        nodes(peers)
    );
    ensure!(
        addr.is_multiple_of(4096) && size.is_multiple_of(4096) && size > 0,
        "the range must be whole 4 KiB pages"
    );
    a.set_window(window, addr, size, peers)?;
    writeln!(
        out,
        "window {window}: bus {addr:#x} ({}) open to {}",
        human(size),
        nodes(peers)
    )?;
    Ok(())
}

/// Reads `count` 32-bit words through a window place and prints them.
fn peek(s: &mut Session, place: &Place, count: usize, out: &mut dyn Write) -> Result<()> {
    ensure!((1..=64).contains(&count), "peek 1..=64 words");
    ensure!(
        !matches!(place, Place::Buffer { .. }),
        "peek reads through a window: slot:S or peer:P"
    );
    let w = place::window(&s.adapter, place)?;
    ensure!(
        4 * count as u64 <= w.room,
        "{count} words do not fit {place}"
    );
    clear_errors(&s.adapter)?;
    let started = Instant::now();
    let mut words = Vec::with_capacity(count);
    for i in 0..count as u64 {
        words.push(w.map.read32(w.offset + 4 * i)?);
    }
    let elapsed = started.elapsed();
    check_errors(&s.adapter, &format!("read of {place}"))?;
    for (i, v) in words.iter().enumerate() {
        writeln!(out, "{place} +{:#x}: {v:#010x}", 4 * i)?;
    }
    writeln!(out, "peeked {count} words in {}", took(elapsed))?;
    Ok(())
}

fn check(s: &mut Session, place: &Place, seed: u64, len: u64, out: &mut dyn Write) -> Result<()> {
    let count = words_of(len)?;
    let started = Instant::now();
    let mismatch = match place {
        Place::Buffer { name, offset } => {
            let bytes = s.buffer(name)?.as_slice();
            let range = span(*offset, len, bytes.len() as u64)?;
            pattern::check(seed, &bytes[range])
        }
        _ => {
            let w = place::window(&s.adapter, place)?;
            ensure!(
                len <= w.room,
                "{len} bytes do not fit {place} ({} there)",
                w.room
            );
            clear_errors(&s.adapter)?;
            let mut words = vec![0u64; count];
            for first in (0..count).step_by(CHUNK_WORDS) {
                let n = CHUNK_WORDS.min(count - first);
                w.map
                    .load_words(w.offset + 8 * first as u64, &mut words[first..first + n])?;
            }
            check_errors(&s.adapter, &format!("read of {place}"))?;
            pattern::check_words(seed, 0, &words)
        }
    };
    if let Some(m) = mismatch {
        bail!(
            "{place}: pattern {seed:#x} differs at +{:#x}: expected {:#018x}, found {:#018x} ({} of {count} words wrong)",
            m.offset,
            m.expected,
            m.found,
            m.wrong
        );
    }
    writeln!(
        out,
        "checked {len} bytes of {place}: pattern {seed:#x} intact ({})",
        took(started.elapsed())
    )?;
    Ok(())
}

/// The byte range `[offset, offset + len)` of a `size`-byte buffer.
fn span(offset: u64, len: u64, size: u64) -> Result<std::ops::Range<usize>> {
    let end = offset.checked_add(len).filter(|&end| end <= size);
    let end = end
        .with_context(|| format!("{len} bytes at +{offset:#x} do not fit a {size}-byte buffer"))?;
    Ok(offset as usize..end as usize)
}

/// The bus address of `len` bytes at `place`.
pub fn bus_address(s: &Session, place: &Place, len: u64) -> Result<u64> {
    match place {
        Place::Buffer { name, offset } => {
            let buffer = s.buffer(name)?;
            span(*offset, len, buffer.len() as u64)?;
            Ok(buffer.bus() + offset)
        }
        Place::Bus { addr } => Ok(*addr),
        _ => {
            let w = place::window(&s.adapter, place)?;
            ensure!(
                len <= w.room,
                "{len} bytes do not fit {place} ({} there)",
                w.room
            );
            Ok(w.bus)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn dma(
    s: &mut Session,
    src: &Place,
    dst: &Place,
    len: u64,
    channel: usize,
    timeout: Duration,
    out: &mut dyn Write,
) -> Result<()> {
    ensure!(
        len > 0 && len <= regs::DMA_MAX_LEN,
        "a DMA copy moves 1 byte..64 MiB, not {len}"
    );
    let copy = Copy {
        src: bus_address(s, src, len)?,
        dst: bus_address(s, dst, len)?,
        len: len as u32,
    };
    let vector = regs::vec_dma(channel);
    let before = s.interrupts(vector);
    let (ch, adapter, irqs, seen) = s.channel(channel)?;
    clear_errors(adapter)?;
    let took_time = ch.run(adapter, irqs, seen, &[copy], timeout)?;
    let fired = s.interrupts(vector) - before;
    writeln!(
        out,
        "dma: {len} bytes from {src} (bus {:#x}) to {dst} (bus {:#x}) on channel {channel} in {} \
         (MSI-X vector {vector}: {fired} interrupt{})",
        copy.src,
        copy.dst,
        took(took_time),
        if fired == 1 { "" } else { "s" }
    )?;
    Ok(())
}

fn errors(a: &Adapter, clear: bool, out: &mut dyn Write) -> Result<()> {
    let status = a.r32(regs::ERR_STATUS)?;
    let info = a.r32(regs::ERR_INFO)?;
    writeln!(out, "ERR_STATUS {status:#x} ({})", error_names(status))?;
    if status != 0 {
        writeln!(
            out,
            "first error: {} at {:#x} ({}, target node {})",
            regs::ERR_NAMES.get((info & 0xF) as usize).unwrap_or(&"?"),
            a.r64(regs::ERR_ADDR)?,
            if info & 0x100 != 0 {
                "DMA"
            } else {
                "BAR access"
            },
            (info >> 16) & 0xF
        )?;
    }
    if clear {
        a.w32(regs::ERR_STATUS, status)?;
        writeln!(out, "cleared")?;
    }
    Ok(())
}

/// `64K`, `2M`, `1G`, or bytes.
pub fn human(bytes: u64) -> String {
    for (shift, unit) in [(30, "G"), (20, "M"), (10, "K")] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    format!("{bytes} bytes")
}

/// A duration for humans: `850 us`, `12.3 ms`, `1.20 s`.
pub fn took(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} us")
    } else if us < 1e6 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_read_naturally() {
        assert_eq!(human(64 << 10), "64K");
        assert_eq!(human(1 << 30), "1G");
        assert_eq!(human(100), "100 bytes");
        assert_eq!(took(Duration::from_micros(850)), "850 us");
        assert_eq!(took(Duration::from_micros(12_345)), "12.3 ms");
        assert_eq!(took(Duration::from_millis(1200)), "1.20 s");
    }

    #[test]
    fn spans_stay_inside_their_buffer() {
        assert_eq!(span(8, 16, 64).unwrap(), 8..24);
        assert!(span(60, 8, 64).is_err());
        assert!(span(u64::MAX, 8, 64).is_err());
    }
}
