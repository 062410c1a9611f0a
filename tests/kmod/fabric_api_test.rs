// SPDX-License-Identifier: GPL-2.0

//! `rsio_fabric_test`: a feature module of the fabric core (docs/fabric.md,
//! "The feature modules' API"), driven from debugfs by the cluster tests
//! (tests/cluster/fabric_api.toml) to prove that another module can use
//! `rsio_fabric::api` across modules: a test client, not part of the
//! product.
//!
//! It owns the message types `0x100..0x108`:
//!
//! - `0x100` request, *echo upper*: the payload upper-cased; a payload
//!   that is not printable ASCII is `EINVAL`.
//! - `0x101` request, *add*: two little-endian `u32`, answered with their
//!   sum as a little-endian `u64`; any other length is `EINVAL`.
//! - `0x102` event, *log*: the payload is kept (as text) in a small log.
//! - Any other request of the range: `EOPNOTSUPP`.
//!
//! Write a command to `/sys/kernel/debug/rsio_fabric_test/ctl`, read the
//! result back from the same file. Commands:
//!
//! - `status`: local node, up mask, peer and event counters, the log.
//! - `echo NODE TEXT` / `add NODE A B`: the requests above to NODE.
//! - `raw NODE TYPE [HEX]`: a request of any type (payload in hex).
//! - `event NODE TEXT`: a log event to NODE.
//! - `grant SIZE PEERS`: a kernel grant open to the node mask PEERS, kept.
//! - `fill BYTE`: writes BYTE into the whole kept grant.
//! - `gpeek OFFSET`: reads one 32-bit word of the kept grant.
//! - `map NODE ADDR SIZE`: maps NODE's fabric address ADDR, kept; prints
//!   its bus address and checks the translation both ways.
//! - `peek OFFSET` / `poke OFFSET VALUE`: one 32-bit word through the kept
//!   mapping.
//! - `release`: drops the grant and the mapping.
//!
//! The outcome of a request or an event (a reply or a peer's error) is
//! printed and the write succeeds; a malformed command fails the write
//! (and is printed too).

use core::fmt::Write;
use core::str::SplitWhitespace;
use kernel::{
    debugfs, new_mutex,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
    uaccess::{UserPtr, UserSlice, UserSliceReader},
};
use rsio_fabric::api::{self, Feature, FeatureRegistration, KernelWindow};

module! {
    type: FabricTest,
    name: "rsio_fabric_test",
    authors: ["rsio developers"],
    description: "Test feature module of the fabric core (debugfs)",
    license: "GPL",
}

/// The first message type this module owns.
const MT_FIRST: u16 = api::MT_FEATURE_BASE;
/// How many it owns: `0x100..0x108`.
const MT_COUNT: u16 = 8;
/// Request: the payload upper-cased.
const MT_ECHO_UPPER: u16 = MT_FIRST;
/// Request: the sum of two `u32`.
const MT_ADD: u16 = MT_FIRST + 1;
/// Event: logged.
const MT_LOG: u16 = MT_FIRST + 2;

/// How long a command waits for a peer's response.
const TIMEOUT_MS: u32 = 2000;
/// Entries of the event log.
const LOG_ENTRIES: usize = 4;
/// Bytes kept of a logged event.
const LOG_TEXT: usize = 64;
/// Bytes a `ctl` write may hold.
const CTL_MAX: usize = 192;

/// The name of the errors the fabric core's API returns (the kernel here
/// has no `CONFIG_SYMBOLIC_ERRNAME`, so `Error`'s `Debug` prints numbers).
struct ErrName(Error);

impl core::fmt::Display for ErrName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        const NAMES: [(Error, &str); 18] = [
            (EPERM, "EPERM"),
            (ENOENT, "ENOENT"),
            (EINTR, "EINTR"),
            (EIO, "EIO"),
            (EAGAIN, "EAGAIN"),
            (ENOMEM, "ENOMEM"),
            (EBUSY, "EBUSY"),
            (EEXIST, "EEXIST"),
            (ENODEV, "ENODEV"),
            (EINVAL, "EINVAL"),
            (ENOSPC, "ENOSPC"),
            (ERANGE, "ERANGE"),
            (EPROTO, "EPROTO"),
            (EOPNOTSUPP, "EOPNOTSUPP"),
            (ECONNRESET, "ECONNRESET"),
            (ETIMEDOUT, "ETIMEDOUT"),
            (EHOSTUNREACH, "EHOSTUNREACH"),
            (ENOTCONN, "ENOTCONN"),
        ];
        match NAMES.iter().find(|(e, _)| *e == self.0) {
            Some((_, name)) => f.write_str(name),
            None => write!(f, "errno {}", -self.0.to_errno()),
        }
    }
}

/// Bytes as text: printable ASCII as is, anything else as `\xNN`.
struct Text<'a>(&'a [u8]);

impl core::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for &b in self.0 {
            if is_printable(b) && b != b'\\' {
                f.write_char(char::from(b))?;
            } else {
                write!(f, "\\x{:02x}", b)?;
            }
        }
        Ok(())
    }
}

/// Bytes as hex.
struct Hex<'a>(&'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{:02x}", b))
    }
}

fn is_printable(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

/// One logged event.
#[derive(Clone, Copy)]
struct LogEntry {
    node: u32,
    len: usize,
    text: [u8; LOG_TEXT],
}

/// The last [`LOG_ENTRIES`] log events, oldest first once full.
struct EventLog {
    entries: [Option<LogEntry>; LOG_ENTRIES],
    /// Where the next one goes.
    next: usize,
}

impl EventLog {
    const fn new() -> Self {
        Self {
            entries: [None; LOG_ENTRIES],
            next: 0,
        }
    }

    fn push(&mut self, node: u32, payload: &[u8]) {
        let len = payload.len().min(LOG_TEXT);
        let mut text = [0u8; LOG_TEXT];
        text[..len].copy_from_slice(&payload[..len]);
        self.entries[self.next] = Some(LogEntry { node, len, text });
        self.next = (self.next + 1) % LOG_ENTRIES;
    }

    fn iter(&self) -> impl Iterator<Item = &LogEntry> {
        let (new, old) = self.entries.split_at(self.next);
        Iterator::chain(old.iter(), new.iter()).flatten()
    }
}

/// What the commands hold: the windows they keep and the last output.
#[derive(Default)]
struct State {
    grant: Option<KernelWindow>,
    map: Option<KernelWindow>,
    /// The last command's output.
    out: KVec<u8>,
}

/// The feature: counters and the event log, written by the core's thread
/// (the callbacks take only `log`, never `state`, so a command may wait
/// for a peer while holding `state`), and the commands' state.
#[pin_data]
struct Tester {
    #[pin]
    state: Mutex<State>,
    #[pin]
    log: Mutex<EventLog>,
    peer_ups: Atomic<u64>,
    peer_downs: Atomic<u64>,
    /// The last node reported up / down, `u32::MAX` for none yet.
    last_up: Atomic<u32>,
    last_down: Atomic<u32>,
    requests: Atomic<u64>,
    events: Atomic<u64>,
    /// This module: files that used its ioctl hold it.
    this_module: &'static ThisModule,
    /// Per open file: (file tag, calls of the counting ioctl).
    #[pin]
    files: Mutex<KVec<(u64, u64)>>,
    /// Files released after using the ioctl.
    closed_files: Atomic<u64>,
}

/// The test ioctl's number: the first feature number.
const IOC_COUNT_NR: u32 = api::FEATURE_IOCTL_FIRST;
/// Its argument: `{ u32 size (= 24), u32 flags (= 0), u64 value, u64 calls }`;
/// the reply is `value + 1` and how many times this file called it.
const IOC_COUNT_SIZE: usize = 24;

impl Tester {
    /// The counting ioctl: per-file state the core releases on close.
    fn count_ioctl(&self, file: u64, cmd: u32, arg: usize) -> Result<isize> {
        let dir_rw = 3u32;
        if cmd != (dir_rw << 30) | ((IOC_COUNT_SIZE as u32) << 16) | (0xD1 << 8) | IOC_COUNT_NR {
            return Err(ENOTTY);
        }
        let (mut r, mut w) =
            UserSlice::new(UserPtr::from_addr(arg), IOC_COUNT_SIZE).reader_writer();
        let mut b = [0u8; IOC_COUNT_SIZE];
        r.read_slice(&mut b)?;
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        if word(0) as usize != IOC_COUNT_SIZE || word(4) != 0 {
            return Err(EINVAL);
        }
        let mut v = [0u8; 8];
        v.copy_from_slice(&b[8..16]);
        let value = u64::from_le_bytes(v).wrapping_add(1);
        let calls = {
            let mut files = self.files.lock();
            match files.iter_mut().find(|(f, _)| *f == file) {
                Some(e) => {
                    e.1 += 1;
                    e.1
                }
                None => {
                    files.push((file, 1), GFP_KERNEL)?;
                    1
                }
            }
        };
        b[8..16].copy_from_slice(&value.to_le_bytes());
        b[16..24].copy_from_slice(&calls.to_le_bytes());
        w.write_slice(&b)?;
        Ok(0)
    }
}

impl Feature for Tester {
    fn ioctl_range(&self) -> (u32, u32) {
        (IOC_COUNT_NR, 1)
    }

    fn module(&self) -> Option<&'static ThisModule> {
        Some(self.this_module)
    }

    fn ioctl(&self, file: u64, cmd: u32, arg: usize) -> Result<isize> {
        self.count_ioctl(file, cmd, arg)
    }

    fn file_closed(&self, file: u64) {
        self.files.lock().retain(|(f, _)| *f != file);
        self.closed_files.fetch_add(1, Relaxed);
    }

    fn name(&self) -> &'static CStr {
        c"fabric_test"
    }

    fn message_types(&self) -> (u16, u16) {
        (MT_FIRST, MT_COUNT)
    }

    fn peer_up(&self, node: u32) {
        self.last_up.store(node, Relaxed);
        self.peer_ups.fetch_add(1, Relaxed);
        pr_info!("node {} up\n", node);
    }

    fn peer_down(&self, node: u32) {
        self.last_down.store(node, Relaxed);
        self.peer_downs.fetch_add(1, Relaxed);
        pr_info!("node {} down\n", node);
    }

    fn request(&self, _node: u32, mtype: u16, payload: &[u8], reply: &mut [u8]) -> Result<usize> {
        self.requests.fetch_add(1, Relaxed);
        match mtype {
            MT_ECHO_UPPER => {
                if !payload.iter().all(|&b| is_printable(b)) {
                    return Err(EINVAL);
                }
                let out = reply.get_mut(..payload.len()).ok_or(EINVAL)?;
                for (o, b) in out.iter_mut().zip(payload) {
                    *o = b.to_ascii_uppercase();
                }
                Ok(payload.len())
            }
            MT_ADD => {
                let (a, b) = match payload {
                    [a0, a1, a2, a3, b0, b1, b2, b3] => (
                        u32::from_le_bytes([*a0, *a1, *a2, *a3]),
                        u32::from_le_bytes([*b0, *b1, *b2, *b3]),
                    ),
                    _ => return Err(EINVAL),
                };
                let sum = (u64::from(a) + u64::from(b)).to_le_bytes();
                reply
                    .get_mut(..sum.len())
                    .ok_or(EINVAL)?
                    .copy_from_slice(&sum);
                Ok(sum.len())
            }
            _ => Err(EOPNOTSUPP),
        }
    }

    fn event(&self, node: u32, mtype: u16, payload: &[u8]) {
        self.events.fetch_add(1, Relaxed);
        if mtype == MT_LOG {
            self.log.lock().push(node, payload);
        }
    }
}

/// Output of a command.
struct Out<'a>(&'a mut KVec<u8>);

impl Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| core::fmt::Error)
    }
}

/// A formatting error: output memory ran out.
fn oom(_: core::fmt::Error) -> Error {
    ENOMEM
}

fn num(arg: Option<&str>) -> Result<u64> {
    let s = arg.ok_or(EINVAL)?;
    let r = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse::<u64>(),
    };
    r.map_err(|_| EINVAL)
}

fn num32(arg: Option<&str>) -> Result<u32> {
    u32::try_from(num(arg)?).map_err(|_| EINVAL)
}

fn num16(arg: Option<&str>) -> Result<u16> {
    u16::try_from(num(arg)?).map_err(|_| EINVAL)
}

/// The bytes of an even-length hex string.
fn parse_hex(s: &str) -> Result<KVec<u8>> {
    let s = s.as_bytes();
    if s.len() % 2 != 0 {
        return Err(EINVAL);
    }
    let mut v = KVec::with_capacity(s.len() / 2, GFP_KERNEL)?;
    for pair in s.chunks_exact(2) {
        let digits = core::str::from_utf8(pair).map_err(|_| EINVAL)?;
        v.push(
            u8::from_str_radix(digits, 16).map_err(|_| EINVAL)?,
            GFP_KERNEL,
        )?;
    }
    Ok(v)
}

/// `line` split as `CMD NODE REST`, REST verbatim (it may hold spaces and
/// other bytes).
fn node_and_text(line: &str) -> Result<(u32, &str)> {
    let mut parts = line.splitn(3, ' ');
    let _cmd = parts.next();
    let node = num32(parts.next())?;
    Ok((node, parts.next().unwrap_or("")))
}

/// Prints a request's outcome: `what: ` then the reply through `show`, or
/// the error's name.
fn print_reply(
    out: &mut Out<'_>,
    what: &str,
    r: Result<api::Reply>,
    show: impl FnOnce(&mut Out<'_>, &[u8]) -> core::fmt::Result,
) -> Result {
    write!(out, "{}: ", what).map_err(oom)?;
    match r {
        Ok(reply) => {
            let data = reply.data.get(..reply.len).ok_or(EPROTO)?;
            show(out, data).map_err(oom)?;
        }
        Err(e) => write!(out, "error {}", ErrName(e)).map_err(oom)?,
    }
    writeln!(out).map_err(oom)
}

/// Reads the 32-bit word at `offset` of `w`.
fn read32(w: &KernelWindow, offset: u64) -> Result<u32> {
    let mut b = [0u8; 4];
    w.read(offset, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

impl Tester {
    fn status(&self, out: &mut Out<'_>) -> Result {
        let who = |n: u32| if n == u32::MAX { -1 } else { i64::from(n) };
        writeln!(out, "local node {}", api::local_node()?).map_err(oom)?;
        writeln!(out, "up nodes {:#x}", api::up_nodes()?).map_err(oom)?;
        writeln!(
            out,
            "peer_up {} (last {}) peer_down {} (last {})",
            self.peer_ups.load(Relaxed),
            who(self.last_up.load(Relaxed)),
            self.peer_downs.load(Relaxed),
            who(self.last_down.load(Relaxed))
        )
        .map_err(oom)?;
        writeln!(
            out,
            "ioctl files open {} closed {}",
            self.files.lock().len(),
            self.closed_files.load(Relaxed)
        )
        .map_err(oom)?;
        writeln!(
            out,
            "requests served {} events received {}",
            self.requests.load(Relaxed),
            self.events.load(Relaxed)
        )
        .map_err(oom)?;
        let log = self.log.lock();
        for e in log.iter() {
            let text = e.text.get(..e.len).unwrap_or(&[]);
            writeln!(out, "log from node {}: {}", e.node, Text(text)).map_err(oom)?;
        }
        Ok(())
    }

    fn run(&self, st: &mut State, line: &str, out: &mut Out<'_>) -> Result {
        let mut args = line.split_whitespace();
        let cmd = args.next().ok_or(EINVAL)?;
        match cmd {
            "status" => self.status(out),
            "echo" | "add" | "raw" | "event" => message(cmd, line, args, out),
            "grant" | "fill" | "gpeek" | "map" | "peek" | "poke" | "release" => {
                window(st, cmd, args, out)
            }
            _ => Err(EINVAL),
        }
    }
}

/// The messaging commands: `echo NODE TEXT`, `add NODE A B`, `raw NODE
/// TYPE HEX` (requests) and `event NODE TEXT`.
fn message(cmd: &str, line: &str, mut args: SplitWhitespace<'_>, out: &mut Out<'_>) -> Result {
    match cmd {
        "echo" => {
            let (node, text) = node_and_text(line)?;
            let r = api::request(node, MT_ECHO_UPPER, text.as_bytes(), TIMEOUT_MS);
            print_reply(out, "echo", r, |o, d| write!(o, "{}", Text(d)))?;
        }
        "add" => {
            let node = num32(args.next())?;
            let a = num32(args.next())?;
            let b = num32(args.next())?;
            let mut p = [0u8; 8];
            p[..4].copy_from_slice(&a.to_le_bytes());
            p[4..].copy_from_slice(&b.to_le_bytes());
            let r = api::request(node, MT_ADD, &p, TIMEOUT_MS);
            print_reply(out, "add", r, |o, d| match <[u8; 8]>::try_from(d) {
                Ok(sum) => write!(o, "{}", u64::from_le_bytes(sum)),
                Err(_) => write!(o, "bad reply {}", Hex(d)),
            })?;
        }
        "raw" => {
            let node = num32(args.next())?;
            let mtype = num16(args.next())?;
            let payload = parse_hex(args.next().unwrap_or(""))?;
            let r = api::request(node, mtype, &payload, TIMEOUT_MS);
            print_reply(out, "raw", r, |o, d| {
                write!(o, "{} bytes {}", d.len(), Hex(d))
            })?;
        }
        "event" => {
            let (node, text) = node_and_text(line)?;
            match api::send_event(node, MT_LOG, text.as_bytes()) {
                Ok(()) => writeln!(out, "event: sent").map_err(oom)?,
                Err(e) => writeln!(out, "event: error {}", ErrName(e)).map_err(oom)?,
            }
        }
        _ => return Err(EINVAL),
    }
    Ok(())
}

/// The window commands: `grant SIZE PEERS`, `fill BYTE`, `gpeek OFFSET`
/// (the grant), `map NODE ADDR SIZE`, `peek OFFSET`, `poke OFFSET VALUE`
/// (the mapping) and `release` (both).
fn window(st: &mut State, cmd: &str, mut args: SplitWhitespace<'_>, out: &mut Out<'_>) -> Result {
    match cmd {
        "grant" => {
            let size = num(args.next())?;
            let peers = num32(args.next())?;
            st.grant = None;
            let g = KernelWindow::grant(size, peers)?;
            writeln!(
                out,
                "grant size {:#x} peers {:#x} fabric_addr {:#x} bus_addr {:#x}",
                g.len, peers, g.fabric_addr, g.bus_addr
            )
            .map_err(oom)?;
            st.grant = Some(g);
        }
        "fill" => {
            let byte = u8::try_from(num(args.next())?).map_err(|_| EINVAL)?;
            let g = st.grant.as_ref().ok_or(ENOENT)?;
            let len = usize::try_from(g.len)?;
            let data = KVVec::from_elem(byte, len, GFP_KERNEL)?;
            g.write(0, &data)?;
            writeln!(out, "filled {:#x} bytes with {:#04x}", len, byte).map_err(oom)?;
        }
        "gpeek" => {
            let offset = num(args.next())?;
            let v = read32(st.grant.as_ref().ok_or(ENOENT)?, offset)?;
            writeln!(out, "gpeek {:#x}: {:#010x}", offset, v).map_err(oom)?;
        }
        "map" => map(st, args, out)?,
        "peek" => {
            let offset = num(args.next())?;
            let v = read32(st.map.as_ref().ok_or(ENOENT)?, offset)?;
            writeln!(out, "peek {:#x}: {:#010x}", offset, v).map_err(oom)?;
        }
        "poke" => {
            let offset = num(args.next())?;
            let value = num32(args.next())?;
            let m = st.map.as_ref().ok_or(ENOENT)?;
            m.write(offset, &value.to_le_bytes())?;
            let back = read32(m, offset)?;
            writeln!(
                out,
                "poke {:#x}: wrote {:#x}, read back {:#x}",
                offset, value, back
            )
            .map_err(oom)?;
        }
        "release" => {
            st.grant = None;
            st.map = None;
            writeln!(out, "released").map_err(oom)?;
        }
        _ => return Err(EINVAL),
    }
    Ok(())
}

/// `map NODE ADDR SIZE`: maps `SIZE` bytes at fabric address `ADDR` of
/// `NODE` (replacing the mapping of `st`) and checks the translations both
/// ways.
fn map(st: &mut State, mut args: SplitWhitespace<'_>, out: &mut Out<'_>) -> Result {
    let node = num32(args.next())?;
    let addr = num(args.next())?;
    let size = num(args.next())?;
    st.map = None;
    let m = KernelWindow::map(node, addr, size)?;
    writeln!(
        out,
        "map node {} fabric_addr {:#x} size {:#x} bus_addr {:#x}",
        node, addr, m.len, m.bus_addr
    )
    .map_err(oom)?;
    let back = api::to_fabric(m.bus_addr)?;
    let bus = api::to_bus(node, addr)?;
    match back {
        Some((n, a)) => {
            writeln!(out, "to_fabric({:#x}) = node {} {:#x}", m.bus_addr, n, a)
        }
        None => writeln!(out, "to_fabric({:#x}) = none", m.bus_addr),
    }
    .map_err(oom)?;
    match bus {
        Some(b) => writeln!(out, "to_bus({}, {:#x}) = {:#x}", node, addr, b),
        None => writeln!(out, "to_bus({}, {:#x}) = none", node, addr),
    }
    .map_err(oom)?;
    // The last word of the mapping translates too.
    let last = m.len.checked_sub(4).ok_or(EINVAL)?;
    let inside = api::to_fabric(m.bus_addr + last)? == Some((node, addr + last))
        && api::to_bus(node, addr + last)? == Some(m.bus_addr + last);
    let ok = back == Some((node, addr)) && bus == Some(m.bus_addr) && inside;
    writeln!(out, "round trip {}", if ok { "ok" } else { "BROKEN" }).map_err(oom)?;
    st.map = Some(m);
    Ok(())
}

fn ctl_read(t: &Arc<Tester>, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    let st = t.state.lock();
    f.write_str(core::str::from_utf8(&st.out).unwrap_or("(output not UTF-8)\n"))
}

fn ctl_write(t: &Arc<Tester>, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; CTL_MAX];
    let n = reader.len();
    if n >= buf.len() {
        return Err(EINVAL);
    }
    reader.read_slice(&mut buf[..n])?;
    let line = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?;
    let line = line.trim_matches(|c| c == '\n' || c == ' ');
    let mut st = t.state.lock();
    let mut out = KVec::new();
    let r = t.run(&mut st, line, &mut Out(&mut out));
    if let Err(e) = r {
        let _ = writeln!(
            Out(&mut out),
            "error {} ({})",
            ErrName(e),
            Text(line.as_bytes())
        );
    }
    st.out = out;
    r
}

/// The module: its debugfs file and its registration with the core.
///
/// Fields drop in order: the `ctl` file first (no command runs after),
/// then the registration (no new callback), then the tester's windows
/// with the last reference.
struct FabricTest {
    _ctl: Pin<KBox<debugfs::File<Arc<Tester>>>>,
    _dir: debugfs::Dir,
    _feature: FeatureRegistration,
}

impl kernel::Module for FabricTest {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let tester = Arc::pin_init(
            pin_init!(Tester {
                state <- new_mutex!(State::default()),
                log <- new_mutex!(EventLog::new()),
                peer_ups: Atomic::new(0),
                peer_downs: Atomic::new(0),
                last_up: Atomic::new(u32::MAX),
                last_down: Atomic::new(u32::MAX),
                requests: Atomic::new(0),
                events: Atomic::new(0),
                this_module: module,
                files <- new_mutex!(KVec::new()),
                closed_files: Atomic::new(0),
            }),
            GFP_KERNEL,
        )?;
        let feature = api::register_feature(tester.clone())?;
        let dir = debugfs::Dir::new(c"rsio_fabric_test");
        let ctl = KBox::pin_init(
            dir.read_write_callback_file(c"ctl", Ok::<_, Error>(tester), &ctl_read, &ctl_write),
            GFP_KERNEL,
        )?;
        Ok(Self {
            _ctl: ctl,
            _dir: dir,
            _feature: feature,
        })
    }
}
