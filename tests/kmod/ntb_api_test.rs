// SPDX-License-Identifier: GPL-2.0

//! `rsio_ntb_test`: drives rsio_ntb's fabric interface (docs/ntb-driver.md,
//! "The fabric interface") from debugfs, the way the kernel's ntb_tool
//! drives an NTB device, so that cluster tests can exercise it across
//! nodes before the fabric core exists: a test client, not part of the
//! product.
//!
//! Write a command to `/sys/kernel/debug/rsio_ntb_test/ctl`, read the
//! result back from the same file. Commands (the first adapter):
//!
//! - `status`: node, link status, counters, events seen.
//! - `link on|off`: the fabric core's link request.
//! - `expose SIZE PEERS`: a zeroed buffer behind a new inbound window open
//!   to the node mask PEERS; prints the window index.
//! - `unexpose`: closes and frees it.
//! - `fill SEED` / `verify SEED OFFSET LEN`: writes the pattern of SEED into
//!   the whole exposed buffer / checks LEN bytes of it at OFFSET.
//! - `map NODE WINDOW SLOTS`: LUT slots onto NODE's inbound WINDOW.
//! - `pio-write SEED OFFSET LEN` / `pio-read SEED OFFSET LEN`: CPU writes
//!   the pattern through the mapped slots / reads and checks it.
//! - `peek OFFSET`: reads one 32-bit word through the mapped slots.
//! - `dma-write SEED OFFSET LEN` / `dma-read SEED OFFSET LEN`: the DMA
//!   engine copies a local buffer holding the pattern to the mapped slots /
//!   copies them back into a local buffer, which is checked; prints the
//!   throughput next to a CPU copy of the same size in local memory.
//! - `intwin PEERS`: lets the nodes in PEERS raise this node's remote
//!   interrupts.
//! - `irq-map NODE` / `trigger K`: a slot onto NODE's interrupt window /
//!   raises NODE's remote interrupt K through it.
//! - `release`: drops every resource.

use core::fmt::Write;
use core::str::SplitWhitespace;
use kernel::{
    debugfs, new_mutex,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
    time::{delay::fsleep, Delta, Instant, Monotonic},
    uaccess::UserSliceReader,
};
use rsio_ntb::{
    adapter::{self, Adapter, Client, ClientRegistration, ErrorReport, LinkUser},
    buffer::DmaBuffer,
    dma::{DmaChannel, DmaResult},
    inbound::{InboundWindow, InterruptWindow},
    lut::LutRange,
};

module! {
    type: ApiTest,
    name: "rsio_ntb_test",
    authors: ["rsio developers"],
    description: "Test client of rsio_ntb's fabric interface (debugfs)",
    license: "GPL",
}

/// Byte `i` of the test pattern of `seed`.
fn pattern(seed: u32, i: usize) -> u8 {
    ((i as u32)
        .wrapping_mul(2_654_435_761)
        .wrapping_add(seed.wrapping_mul(40_503))
        >> 11) as u8
}

/// What the test holds of the adapter.
#[derive(Default)]
struct State {
    adapter: Option<Arc<Adapter>>,
    exposed: Option<(DmaBuffer, InboundWindow)>,
    lut: Option<LutRange>,
    intwin: Option<InterruptWindow>,
    irq_lut: Option<LutRange>,
    dma: Option<DmaChannel>,
    /// The last command's output.
    out: KVec<u8>,
}

impl State {
    fn release(&mut self) {
        self.exposed = None;
        self.lut = None;
        self.intwin = None;
        self.irq_lut = None;
        self.dma = None;
    }
}

/// The client: state for commands, counters for events.
#[pin_data]
struct Tester {
    #[pin]
    state: Mutex<State>,
    remote_irqs: [Atomic<u64>; 32],
    link_events: Atomic<u64>,
    dma_events: Atomic<u64>,
    error_events: Atomic<u64>,
    removed: Atomic<u64>,
}

impl Client for Tester {
    fn add(&self, adapter: &Arc<Adapter>) -> Result {
        let mut st = self.state.lock();
        if st.adapter.is_none() {
            pr_info!("rsio_ntb_test: adapter {:?} added\n", adapter.name());
            st.adapter = Some(adapter.clone());
        }
        Ok(())
    }

    fn remove(&self, adapter: &Arc<Adapter>) {
        let mut st = self.state.lock();
        if st
            .adapter
            .as_ref()
            .is_some_and(|a| core::ptr::eq(&**a, &**adapter))
        {
            st.release();
            st.adapter = None;
            self.removed.fetch_add(1, Relaxed);
            pr_info!("rsio_ntb_test: adapter {:?} removed\n", adapter.name());
        }
    }

    fn link_changed(&self, _adapter: &Adapter, _status: u32, _changed: u32) {
        self.link_events.fetch_add(1, Relaxed);
    }

    fn remote_interrupt(&self, _adapter: &Adapter, vector: u32) {
        if let Some(c) = self.remote_irqs.get(vector as usize) {
            c.fetch_add(1, Relaxed);
        }
    }

    fn dma_done(&self, _adapter: &Adapter, _channel: u32) {
        self.dma_events.fetch_add(1, Relaxed);
    }

    fn error(&self, _adapter: &Adapter, _report: &ErrorReport) {
        self.error_events.fetch_add(1, Relaxed);
    }
}

/// Output of a command.
struct Out<'a>(&'a mut KVec<u8>);

impl core::fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| core::fmt::Error)
    }
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

fn usize_arg(arg: Option<&str>) -> Result<usize> {
    usize::try_from(num(arg)?).map_err(|_| EINVAL)
}

/// A failed write into the output: out of memory.
fn oom(_: core::fmt::Error) -> Error {
    ENOMEM
}

/// Bytes of the pattern of `seed` from `offset` on, `len` long.
fn make_pattern(seed: u32, offset: usize, len: usize) -> Result<KVVec<u8>> {
    let mut v = KVVec::with_capacity(len, GFP_KERNEL)?;
    for i in 0..len {
        v.push(pattern(seed, offset + i), GFP_KERNEL)?;
    }
    Ok(v)
}

/// The first position where `data` differs from the pattern.
fn check_pattern(seed: u32, offset: usize, data: &[u8]) -> Option<usize> {
    data.iter()
        .enumerate()
        .find(|&(i, &b)| b != pattern(seed, offset + i))
        .map(|(i, _)| offset + i)
}

/// Waits up to 5 s for DMA descriptor `seq`.
fn dma_wait(ch: &DmaChannel, seq: u32) -> Result<DmaResult> {
    for _ in 0..50_000 {
        match ch.result(seq)? {
            DmaResult::Pending => fsleep(Delta::from_micros(100)),
            r => return Ok(r),
        }
    }
    Err(ETIMEDOUT)
}

/// `len` bytes in `d`, as "MB/s" with one decimal.
struct Rate(usize, Delta);

impl core::fmt::Display for Rate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let us = self.1.as_micros_ceil().max(1);
        // Bytes per microsecond are MB/s; tenths of them:
        let tenths = (self.0 as i64).saturating_mul(10) / us;
        write!(f, "{}.{} MB/s", tenths / 10, tenths % 10)
    }
}

impl Tester {
    fn run(&self, st: &mut State, line: &str, out: &mut Out<'_>) -> Result {
        let mut args = line.split_whitespace();
        let cmd = args.next().ok_or(EINVAL)?;
        let adapter = st.adapter.clone().ok_or(ENODEV)?;
        match cmd {
            "status" => self.status(&adapter, out),
            "link" => {
                let on = match args.next() {
                    Some("on") => true,
                    Some("off") => false,
                    _ => return Err(EINVAL),
                };
                adapter.set_link(LinkUser::Core, on)?;
                writeln!(out, "link request {}", if on { "on" } else { "off" }).map_err(oom)?;
                Ok(())
            }
            "expose" | "unexpose" | "fill" | "verify" => exposed(st, &adapter, cmd, args, out),
            "map" | "pio-write" | "pio-read" | "peek" => slots(st, &adapter, cmd, args, out),
            "dma-write" | "dma-read" => dma(st, &adapter, cmd, args, out),
            "intwin" | "irq-map" | "trigger" => interrupts(st, &adapter, cmd, args, out),
            "release" => {
                st.release();
                writeln!(out, "released").map_err(oom)
            }
            _ => Err(EINVAL),
        }
    }

    /// `status`: the adapter's node, link, counters and errors, and the
    /// events this client saw.
    fn status(&self, adapter: &Adapter, out: &mut Out<'_>) -> Result {
        let info = adapter.info();
        writeln!(out, "node {} of {}", info.node_id, info.num_nodes).map_err(oom)?;
        writeln!(out, "link status {:#x}", adapter.link_status()?).map_err(oom)?;
        let c = adapter.counters()?;
        writeln!(
            out,
            "counters: tx {} errors {} refused {} dma_bytes {} db_tx {} db_rx {} rmmio {}",
            c.tx, c.errors, c.refused, c.dma_bytes, c.db_tx, c.db_rx, c.rmmio
        )
        .map_err(oom)?;
        let seen = adapter.errors_seen();
        writeln!(
            out,
            "errors seen: unmapped {} target_down {} refused {}",
            seen[0], seen[1], seen[2]
        )
        .map_err(oom)?;
        write!(out, "remote irqs:").map_err(oom)?;
        for (k, c) in self.remote_irqs.iter().enumerate() {
            let n = c.load(Relaxed);
            if n != 0 {
                write!(out, " {}:{}", k, n).map_err(oom)?;
            }
        }
        writeln!(out).map_err(oom)?;
        writeln!(
            out,
            "events: link {} dma {} error {} removed {}",
            self.link_events.load(Relaxed),
            self.dma_events.load(Relaxed),
            self.error_events.load(Relaxed),
            self.removed.load(Relaxed)
        )
        .map_err(oom)?;
        Ok(())
    }
}

/// The exposed buffer's commands: `expose SIZE PEERS`, `unexpose`,
/// `fill SEED`, `verify SEED OFFSET LEN`.
fn exposed(
    st: &mut State,
    adapter: &Arc<Adapter>,
    cmd: &str,
    mut args: SplitWhitespace<'_>,
    out: &mut Out<'_>,
) -> Result {
    match cmd {
        "expose" => {
            let size = usize_arg(args.next())?;
            let peers = num32(args.next())?;
            st.exposed = None;
            let buf = rsio_ntb::buffer::alloc(adapter, size)?;
            let win = InboundWindow::alloc(adapter)?;
            win.open(buf.bus_addr(), size as u64, peers)?;
            writeln!(
                out,
                "window {} size {:#x} peers {:#x}",
                win.index(),
                size,
                peers
            )
            .map_err(oom)?;
            st.exposed = Some((buf, win));
        }
        "unexpose" => {
            st.exposed = None;
            writeln!(out, "unexposed").map_err(oom)?;
        }
        "fill" => {
            let seed = num32(args.next())?;
            let (buf, _) = st.exposed.as_ref().ok_or(ENOENT)?;
            let data = make_pattern(seed, 0, buf.len())?;
            buf.write(0, &data)?;
            writeln!(out, "filled {:#x} bytes", buf.len()).map_err(oom)?;
        }
        "verify" => {
            let seed = num32(args.next())?;
            let offset = usize_arg(args.next())?;
            let len = usize_arg(args.next())?;
            let (buf, _) = st.exposed.as_ref().ok_or(ENOENT)?;
            let mut data = KVVec::from_elem(0u8, len, GFP_KERNEL)?;
            buf.read(offset, &mut data)?;
            match check_pattern(seed, offset, &data) {
                None => writeln!(out, "verify ok").map_err(oom)?,
                Some(at) => writeln!(out, "verify MISMATCH at {:#x}", at).map_err(oom)?,
            }
        }
        _ => return Err(EINVAL),
    }
    Ok(())
}

/// The mapped LUT slots' commands: `map NODE WINDOW SLOTS`,
/// `pio-write`/`pio-read SEED OFFSET LEN`, `peek OFFSET`.
fn slots(
    st: &mut State,
    adapter: &Arc<Adapter>,
    cmd: &str,
    mut args: SplitWhitespace<'_>,
    out: &mut Out<'_>,
) -> Result {
    match cmd {
        "map" => {
            let node = num32(args.next())?;
            let window = num32(args.next())?;
            let slots = num32(args.next())?;
            st.lut = None;
            let lut = LutRange::alloc(adapter, slots)?;
            for i in 0..slots {
                lut.map_memory(i, node, window, u64::from(i) * lut.slot_size())?;
            }
            writeln!(
                out,
                "lut slots {}..{} at {:#x} onto node {} window {}",
                lut.first_slot(),
                lut.first_slot() + lut.count(),
                lut.bus_addr(),
                node,
                window
            )
            .map_err(oom)?;
            st.lut = Some(lut);
        }
        "pio-write" | "pio-read" => {
            let seed = num32(args.next())?;
            let offset = usize_arg(args.next())?;
            let len = usize_arg(args.next())?;
            let lut = st.lut.as_ref().ok_or(ENOENT)?;
            let map = lut.map_cpu()?;
            let start = Instant::<Monotonic>::now();
            if cmd == "pio-write" {
                let data = make_pattern(seed, offset, len)?;
                map.write(offset, &data)?;
                writeln!(out, "pio wrote {:#x} bytes", len).map_err(oom)?;
            } else {
                let mut data = KVVec::from_elem(0u8, len, GFP_KERNEL)?;
                map.read(offset, &mut data)?;
                match check_pattern(seed, offset, &data) {
                    None => writeln!(out, "pio read ok").map_err(oom)?,
                    Some(at) => writeln!(out, "pio read MISMATCH at {:#x}", at).map_err(oom)?,
                }
            }
            writeln!(out, "pio: {}", Rate(len, start.elapsed())).map_err(oom)?;
        }
        "peek" => {
            let offset = usize_arg(args.next())?;
            let lut = st.lut.as_ref().ok_or(ENOENT)?;
            let v = lut.map_cpu()?.read32(offset)?;
            writeln!(out, "peek {:#x}: {:#010x}", offset, v).map_err(oom)?;
        }
        _ => return Err(EINVAL),
    }
    Ok(())
}

/// `dma-write SEED OFFSET LEN` / `dma-read SEED OFFSET LEN`: a copy by
/// the DMA engine between a local buffer and the mapped slots, checked,
/// timed next to a CPU copy of the same size in local memory.
fn dma(
    st: &mut State,
    adapter: &Arc<Adapter>,
    cmd: &str,
    mut args: SplitWhitespace<'_>,
    out: &mut Out<'_>,
) -> Result {
    let seed = num32(args.next())?;
    let offset = usize_arg(args.next())?;
    let len = usize_arg(args.next())?;
    let lut_addr = {
        let lut = st.lut.as_ref().ok_or(ENOENT)?;
        if offset.checked_add(len).ok_or(EINVAL)? as u64 > lut.len() {
            return Err(EINVAL);
        }
        lut.bus_addr() + offset as u64
    };
    if st.dma.is_none() {
        st.dma = Some(DmaChannel::claim(adapter, 0)?);
    }
    let ch = st.dma.as_ref().ok_or(ENOENT)?;
    let local = rsio_ntb::buffer::alloc(adapter, len)?;
    let len32 = u32::try_from(len).map_err(|_| EINVAL)?;
    let data = make_pattern(seed, offset, len)?;
    let (src, dst) = if cmd == "dma-write" {
        local.write(0, &data)?;
        (local.bus_addr(), lut_addr)
    } else {
        (lut_addr, local.bus_addr())
    };
    let start = Instant::<Monotonic>::now();
    let seq = ch.submit(src, dst, len32, true)?;
    let result = dma_wait(ch, seq)?;
    let dma_time = start.elapsed();
    if result != DmaResult::Done {
        let err = ch.error()?;
        ch.resume()?;
        writeln!(out, "dma FAILED: {:?} {:?}", result, err).map_err(oom)?;
        return Ok(());
    }
    if cmd == "dma-read" {
        let mut back = KVVec::from_elem(0u8, len, GFP_KERNEL)?;
        local.read(0, &mut back)?;
        match check_pattern(seed, offset, &back) {
            None => writeln!(out, "dma read ok").map_err(oom)?,
            Some(at) => writeln!(out, "dma read MISMATCH at {:#x}", at).map_err(oom)?,
        }
    } else {
        writeln!(out, "dma wrote {:#x} bytes", len).map_err(oom)?;
    }
    // The reference: a CPU copy of the same size in local memory.
    let mut copy = KVVec::from_elem(0u8, len, GFP_KERNEL)?;
    let start = Instant::<Monotonic>::now();
    copy.copy_from_slice(&data);
    core::hint::black_box(&copy);
    let cpu_time = start.elapsed();
    writeln!(
        out,
        "dma: {}, local memcpy: {}",
        Rate(len, dma_time),
        Rate(len, cpu_time)
    )
    .map_err(oom)?;
    Ok(())
}

/// The remote-interrupt commands: `intwin PEERS`, `irq-map NODE`,
/// `trigger K`.
fn interrupts(
    st: &mut State,
    adapter: &Arc<Adapter>,
    cmd: &str,
    mut args: SplitWhitespace<'_>,
    out: &mut Out<'_>,
) -> Result {
    match cmd {
        "intwin" => {
            let peers = num32(args.next())?;
            if st.intwin.is_none() {
                st.intwin = Some(InterruptWindow::claim(adapter)?);
            }
            st.intwin.as_ref().ok_or(ENOENT)?.allow(peers)?;
            writeln!(out, "interrupt window open to {:#x}", peers).map_err(oom)?;
        }
        "irq-map" => {
            let node = num32(args.next())?;
            st.irq_lut = None;
            let lut = LutRange::alloc(adapter, 1)?;
            lut.map_interrupt(0, node)?;
            writeln!(
                out,
                "interrupt slot {} onto node {}",
                lut.first_slot(),
                node
            )
            .map_err(oom)?;
            st.irq_lut = Some(lut);
        }
        "trigger" => {
            let k = usize_arg(args.next())?;
            if k >= 32 {
                return Err(EINVAL);
            }
            let lut = st.irq_lut.as_ref().ok_or(ENOENT)?;
            lut.map_cpu()?.write32(4 * k, 1)?;
            writeln!(out, "triggered {}", k).map_err(oom)?;
        }
        _ => return Err(EINVAL),
    }
    Ok(())
}

fn ctl_read(t: &Arc<Tester>, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    let st = t.state.lock();
    f.write_str(core::str::from_utf8(&st.out).unwrap_or("(output not UTF-8)\n"))
}

fn ctl_write(t: &Arc<Tester>, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 128];
    let n = reader.len();
    if n >= buf.len() {
        return Err(EINVAL);
    }
    reader.read_slice(&mut buf[..n])?;
    let line = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?.trim();
    let mut st = t.state.lock();
    let mut out = KVec::new();
    let r = t.run(&mut st, line, &mut Out(&mut out));
    if let Err(e) = r {
        let _ = writeln!(Out(&mut out), "error {:?} ({})", e, line);
    }
    st.out = out;
    r
}

struct ApiTest {
    _ctl: Pin<KBox<debugfs::File<Arc<Tester>>>>,
    _dir: debugfs::Dir,
    _client: ClientRegistration,
}

impl kernel::Module for ApiTest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let tester = Arc::pin_init(
            pin_init!(Tester {
                state <- new_mutex!(State::default()),
                remote_irqs: [const { Atomic::new(0) }; 32],
                link_events: Atomic::new(0),
                dma_events: Atomic::new(0),
                error_events: Atomic::new(0),
                removed: Atomic::new(0),
            }),
            GFP_KERNEL,
        )?;
        let client = adapter::register_client(tester.clone())?;
        let dir = debugfs::Dir::new(c"rsio_ntb_test");
        let ctl = KBox::pin_init(
            dir.read_write_callback_file(c"ctl", Ok::<_, Error>(tester), &ctl_read, &ctl_write),
            GFP_KERNEL,
        )?;
        Ok(Self {
            _ctl: ctl,
            _dir: dir,
            _client: client,
        })
    }
}
