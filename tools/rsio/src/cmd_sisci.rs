//! `rsio sisci bench`: SISCI performance between two nodes, every figure
//! next to its baseline measured in the same run (local memcpy, a trapped
//! access).

use crate::Ctx;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;
use sisci::{
    DmaEntry, DmaQueue, Id, Interrupt, LocalSegment, Mapping, RemoteInterrupt, RemoteSegment,
    SegmentEvent, SegmentFlags, Sisci,
};
use std::time::{Duration, Instant};

pub const LONG: &str = "\
SISCI tools (rsio_sisci, /dev/sisci). `rsio sisci bench --help` explains
the benchmark.";

pub const BENCH_LONG: &str = "\
Measure SISCI between this node and a peer running `rsio sisci bench
--serve`, and print each figure with its baseline from the same run:

  memcpy      local memcpy bandwidth in this VM (the baseline of the rest)
  pio-write   CPU stores into the peer's segment mapped through the direct
              window (volatile 8-byte stores), ratio to memcpy
  pio-read    CPU loads from it, ratio to memcpy
  dma-write   the adapter's DMA engine, local segment to the peer's,
  dma-read    and back, ratio to memcpy
  trapped     one 4-byte access through the translated window, which the
              emulator traps (the cost a mapping would have without the
              direct window)
  ping-pong   one-way latency of a counter bounced through the two
              segments (stores into the peer's memory, spinning on local
              memory), ratio to a trapped access
  interrupt   round trip of a remote interrupt and its answer

The server keeps segments 0x5150 (control) and 0x5151 (data, 64 MiB) and
interrupt 0x5150; the client makes segment 0x5152 and interrupt 0x5153.
The trapped access needs a multicast group (0) on the adapter.";

pub const BENCH_AFTER: &str = "\
EXAMPLES:
    node1$ rsio sisci bench --serve &
    node0$ rsio sisci bench 1
    sisci bench: node 0 -> node 1
    memcpy       2871 MB/s  (8 MiB x 16)
    pio-write    2655 MB/s  0.92 x memcpy
    ...

EXIT STATUS:
    0   measured
    1   the peer did not answer, or an operation failed";

/// `rsio sisci ...`.
#[derive(Subcommand)]
pub enum SisciCmd {
    /// Measure SISCI against a peer (or serve a peer's measurement).
    #[command(long_about = BENCH_LONG, after_long_help = BENCH_AFTER)]
    Bench(BenchArgs),
}

/// `rsio sisci bench` options.
#[derive(Args)]
pub struct BenchArgs {
    /// The peer node running `rsio sisci bench --serve`.
    #[arg(required_unless_present = "serve")]
    pub node: Option<u32>,
    /// Serve the measurement of one client, then exit.
    #[arg(long)]
    pub serve: bool,
    /// Ping-pong and interrupt rounds.
    #[arg(long, default_value_t = 1000)]
    pub rounds: u32,
    /// Seconds to wait for the peer.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

const SERVER_CTRL: u32 = 0x5150;
const SERVER_DATA: u32 = 0x5151;
const CLIENT_CTRL: u32 = 0x5152;
const SERVER_INTR: u32 = 0x5150;
const CLIENT_INTR: u32 = 0x5153;
const DATA_SIZE: u64 = 64 << 20;
const PIO_SIZE: usize = 8 << 20;
/// Control word values: ping-pong counts from 1; then `END_PING` with the
/// number of interrupt rounds at offset 8.
const END_PING: u64 = u64::MAX;

pub fn run(ctx: &Ctx, cmd: &SisciCmd) -> Result<()> {
    match cmd {
        SisciCmd::Bench(a) if a.serve => serve(a),
        SisciCmd::Bench(a) => client(ctx, a),
    }
}

fn shared(s: &Sisci, id: u32, size: u64) -> Result<LocalSegment> {
    let seg = LocalSegment::create_with(
        s,
        Id::Fixed(id),
        size,
        SegmentFlags {
            any_user: true,
            ..Default::default()
        },
    )
    .with_context(|| format!("creating segment {id:#x}"))?;
    seg.prepare(0)?;
    seg.set_available()?;
    Ok(seg)
}

fn spin_until(m: &Mapping, off: usize, want: impl Fn(u64) -> bool, limit: Duration) -> Result<u64> {
    let start = Instant::now();
    loop {
        let v = m.read_u64(off)?;
        if want(v) {
            return Ok(v);
        }
        if start.elapsed() > limit {
            bail!("the peer stopped answering");
        }
        std::hint::spin_loop();
    }
}

fn serve(a: &BenchArgs) -> Result<()> {
    let s = Sisci::open()?;
    let ctrl = shared(&s, SERVER_CTRL, 4096)?;
    let _data = shared(&s, SERVER_DATA, DATA_SIZE)?;
    let intr = Interrupt::create_with(&s, Id::Fixed(SERVER_INTR), true)?;
    let local = ctrl.map_all()?;
    println!("serving segments {SERVER_CTRL:#x} and {SERVER_DATA:#x}, interrupt {SERVER_INTR:#x}");
    let node = loop {
        match ctrl.wait_event(Some(Duration::from_secs(a.timeout)))? {
            SegmentEvent::Connect { node } => break node,
            _ => continue,
        }
    };
    let limit = Duration::from_secs(a.timeout);
    let peer = RemoteSegment::connect(&s, node, CLIENT_CTRL, Some(limit))?;
    let pm = peer.map_all()?;
    let pintr = RemoteInterrupt::connect(&s, node, CLIENT_INTR, Some(limit))?;
    println!("client: node {node}");
    // Ping-pong: echo every new counter value.
    let mut last = 0;
    loop {
        let v = spin_until(&local, 0, |v| v != last, limit)?;
        if v == END_PING {
            break;
        }
        pm.write_u64(0, v)?;
        pm.flush();
        last = v;
    }
    let rounds = local.read_u64(8)?;
    pm.write_u64(0, END_PING)?;
    pm.flush();
    for _ in 0..rounds {
        intr.wait(Some(limit))?;
        pintr.trigger()?;
    }
    println!("served {last} ping-pongs and {rounds} interrupts");
    Ok(())
}

/// Bytes per second of `f` run `rounds` times over `bytes`.
fn rate(bytes: usize, rounds: u32, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?; // warm-up: page faults, caches
    let t = Instant::now();
    for _ in 0..rounds {
        f()?;
    }
    Ok(bytes as f64 * f64::from(rounds) / t.elapsed().as_secs_f64())
}

fn mbs(b: f64) -> String {
    format!("{:.0} MB/s", b / 1e6)
}

fn client(ctx: &Ctx, a: &BenchArgs) -> Result<()> {
    let node = a.node.unwrap_or(0);
    let limit = Duration::from_secs(a.timeout);
    let s = Sisci::open()?;
    let me = s.info()?.node_id;
    let my_ctrl = shared(&s, CLIENT_CTRL, 4096)?;
    let my_intr = Interrupt::create_with(&s, Id::Fixed(CLIENT_INTR), true)?;
    let local = my_ctrl.map_all()?;
    let ctrl = RemoteSegment::connect(&s, node, SERVER_CTRL, Some(limit))
        .context("is `rsio sisci bench --serve` running there?")?;
    let data = RemoteSegment::connect(&s, node, SERVER_DATA, Some(limit))?;
    let intr = RemoteInterrupt::connect(&s, node, SERVER_INTR, Some(limit))?;
    let rc = ctrl.map_all()?;
    // The server connects back to our control segment.
    loop {
        if let SegmentEvent::Connect { .. } = my_ctrl.wait_event(Some(limit))? {
            break;
        }
    }

    // Bandwidth: local memcpy, then PIO and DMA.
    let src = vec![0x5au8; PIO_SIZE];
    let mut dst = vec![0u8; PIO_SIZE];
    let memcpy = rate(PIO_SIZE, 16, || {
        dst.copy_from_slice(std::hint::black_box(&src));
        std::hint::black_box(&mut dst);
        Ok(())
    })?;
    let dm = data.map(0, PIO_SIZE as u64)?;
    let pio_w = rate(PIO_SIZE, 16, || {
        dm.write(0, &src)?;
        dm.flush();
        Ok(())
    })?;
    let pio_r = rate(PIO_SIZE, 4, || dm.read(0, &mut dst).map_err(Into::into))?;
    drop(dm);
    let (dma_w, dma_r) = match DmaQueue::create(&s) {
        Ok(q) => {
            let lseg = LocalSegment::create(&s, Id::Auto, DATA_SIZE)?;
            let n = DATA_SIZE as usize;
            let w = rate(n, 4, || {
                Ok(q.transfer(
                    &lseg,
                    &data,
                    &[DmaEntry::write(0, 0, DATA_SIZE)],
                    Some(limit),
                )?)
            })?;
            let r = rate(n, 4, || {
                Ok(q.transfer(
                    &lseg,
                    &data,
                    &[DmaEntry::read(0, 0, DATA_SIZE)],
                    Some(limit),
                )?)
            })?;
            (Some(w), Some(r))
        }
        Err(_) => (None, None),
    };

    // A trapped access: a read through the translated window (multicast
    // group 0's slot), which the emulator serves over its socket.
    let trapped = match RemoteSegment::connect_multicast(&s, 0, Some(limit)) {
        Ok(mc) => {
            let m = mc.map(0, 4096)?;
            let n = 200;
            let t = Instant::now();
            for _ in 0..n {
                std::hint::black_box(m.read_u32(0)?);
            }
            Some(t.elapsed().as_secs_f64() / f64::from(n))
        }
        Err(_) => None,
    };

    // Ping-pong through the two segments.
    let t = Instant::now();
    for i in 1..=u64::from(a.rounds) {
        rc.write_u64(0, i)?;
        rc.flush();
        spin_until(&local, 0, |v| v == i, limit)?;
    }
    let rtt = t.elapsed().as_secs_f64() / f64::from(a.rounds);
    rc.write_u64(8, u64::from(a.rounds))?;
    rc.write_u64(0, END_PING)?;
    rc.flush();
    spin_until(&local, 0, |v| v == END_PING, limit)?;

    // Interrupt round trips.
    let t = Instant::now();
    for _ in 0..a.rounds {
        intr.trigger()?;
        my_intr.wait(Some(limit))?;
    }
    let irtt = t.elapsed().as_secs_f64() / f64::from(a.rounds);

    let ratio = |x: Option<f64>| x.map(|v| v / memcpy);
    if ctx.json {
        println!(
            "{}",
            json!({
                "node": me, "peer": node,
                "memcpy_bps": memcpy,
                "pio_write_bps": pio_w, "pio_write_ratio": pio_w / memcpy,
                "pio_read_bps": pio_r, "pio_read_ratio": pio_r / memcpy,
                "dma_write_bps": dma_w, "dma_write_ratio": ratio(dma_w),
                "dma_read_bps": dma_r, "dma_read_ratio": ratio(dma_r),
                "trapped_access_s": trapped,
                "pingpong_one_way_s": rtt / 2.0,
                "pingpong_ratio_to_trapped": trapped.map(|t| rtt / 2.0 / t),
                "interrupt_rtt_s": irtt,
            })
        );
        return Ok(());
    }
    println!("sisci bench: node {me} -> node {node}");
    println!("memcpy      {:>10}  (local, 8 MiB x 16)", mbs(memcpy));
    println!(
        "pio-write   {:>10}  {:.2} x memcpy",
        mbs(pio_w),
        pio_w / memcpy
    );
    println!(
        "pio-read    {:>10}  {:.2} x memcpy",
        mbs(pio_r),
        pio_r / memcpy
    );
    match (dma_w, dma_r) {
        (Some(w), Some(r)) => {
            println!(
                "dma-write   {:>10}  {:.2} x memcpy (64 MiB x 4)",
                mbs(w),
                w / memcpy
            );
            println!("dma-read    {:>10}  {:.2} x memcpy", mbs(r), r / memcpy);
        }
        _ => println!("dma         n/a (no free DMA channel)"),
    }
    match trapped {
        Some(t) => println!(
            "trapped     {:>7.1} us  (one 4-byte read through the translated window)",
            t * 1e6
        ),
        None => println!("trapped     n/a (no multicast group 0)"),
    }
    print!(
        "ping-pong   {:>7.2} us  one way (round trip {:.2} us)",
        rtt / 2.0 * 1e6,
        rtt * 1e6
    );
    match trapped {
        Some(t) => println!(", {:.3} x a trapped access", rtt / 2.0 / t),
        None => println!(),
    }
    println!("interrupt   {:>7.1} us  round trip", irtt * 1e6);
    Ok(())
}
