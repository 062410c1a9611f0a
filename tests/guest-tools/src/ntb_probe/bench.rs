//! `bench`: how fast each path to another node's memory is, next to the
//! guest's own memcpy measured in the same run:
//!
//! - a trapped register read (BAR0): every access is a round trip to the
//!   emulator;
//! - the translated window (BAR2), written and read with 8-byte accesses,
//!   each trapped as well;
//! - the direct window (BAR4), mapped memory, copied with memcpy;
//! - the DMA engine copying local memory to the remote window, through
//!   BAR4 and through BAR2 addresses.
//!
//! The target is the window a peer exposed and advertised (`--peer P`), or
//! else a window of our own reached through the loopback paths. The bench
//! borrows the last LUT slot (and, for loopback, the last inbound window)
//! and gives them back.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};

use super::commands::{human, took};
use super::dma::Copy;
use super::dmamem::{DmaBuffer, PAGE};
use super::pattern;
use super::place::{self, Advert};
use super::regs;
use super::session::Session;

/// Bytes per trapped-window measurement step.
const TRAPPED_STEP: usize = 4096;
/// Descriptors per DMA measurement step.
const DMA_BATCH: usize = 16;
/// The pattern the bench writes.
const SEED: u64 = 0xBE_0C4;

/// One measured path.
struct Row {
    name: &'static str,
    bytes: u64,
    elapsed: Duration,
    /// Accesses made, for a per-access latency.
    accesses: Option<(u64, &'static str)>,
}

impl Row {
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64().max(1e-9) / 1e6
    }
}

/// Runs `step` (which returns the bytes it moved) until `budget` is spent,
/// at least once.
fn measure(budget: Duration, mut step: impl FnMut() -> Result<u64>) -> Result<(u64, Duration)> {
    let started = Instant::now();
    let mut bytes = 0;
    loop {
        bytes += step()?;
        let elapsed = started.elapsed();
        if elapsed >= budget {
            return Ok((bytes, elapsed));
        }
    }
}

/// Where the bench writes: a node's window, borrowed LUT slot.
struct Target {
    node: usize,
    advert: Advert,
    slot: usize,
}

pub fn run(
    s: &mut Session,
    peer: Option<usize>,
    bytes: u64,
    budget: Duration,
    out: &mut dyn Write,
) -> Result<()> {
    let g = s.adapter.geometry;
    ensure!(
        s.adapter.bar4.is_some(),
        "the adapter has no direct window (BAR4)"
    );
    ensure!(g.dma_channels > 0, "the adapter has no DMA engine");
    let bytes = (bytes as usize).div_ceil(PAGE) * PAGE;
    let mut local = DmaBuffer::new(bytes)?;
    pattern::fill(SEED, local.as_mut_slice());

    // The target window: the peer's, or one of our own.
    let loopback_window = g.in_windows - 1;
    let (node, advert, _own) = match peer {
        Some(p) => (p, place::advertised(&s.adapter, p)?, None),
        None => {
            let own = DmaBuffer::new(bytes)?;
            let advert = Advert {
                window: loopback_window,
                addr: own.bus(),
                size: own.len() as u64,
            };
            s.adapter
                .set_window(loopback_window, own.bus(), advert.size, 1 << g.node)?;
            (g.node, advert, Some(own))
        }
    };
    let target = Target {
        node,
        advert,
        slot: g.lut_slots - 1,
    };
    let len = (bytes as u64).min(advert.size).min(g.slot_size()) as usize;
    ensure!(len >= PAGE, "the target window is smaller than a page");
    let ctrl = regs::LUT_VALID
        | (node as u32) << regs::LUT_NODE_SHIFT
        | (advert.window as u32) << regs::LUT_INDEX_SHIFT;
    s.adapter.set_lut(target.slot, ctrl, 0)?;
    writeln!(
        out,
        "bench: node {} -> node {} window {} ({}) via slot {}, {} per transfer, ~{:.1}s per measurement",
        g.node,
        node,
        advert.window,
        human(advert.size),
        target.slot,
        human(len as u64),
        budget.as_secs_f64()
    )?;
    let result = measure_all(s, &target, &local, len, budget, out);
    // Give back what the bench borrowed, whatever happened.
    let _ = s.adapter.set_lut(target.slot, 0, 0);
    if peer.is_none() {
        let _ = s
            .adapter
            .w32(regs::window(loopback_window) + regs::IW_CTRL, 0);
    }
    result
}

fn measure_all(
    s: &mut Session,
    t: &Target,
    local: &DmaBuffer,
    len: usize,
    budget: Duration,
    out: &mut dyn Write,
) -> Result<()> {
    let g = s.adapter.geometry;
    let mut rows = Vec::new();

    // The baseline: the guest's own memcpy between two ordinary buffers.
    let src = local.as_slice()[..len].to_vec();
    let mut dst = vec![0u8; len];
    let (moved, elapsed) = measure(budget, || {
        dst.copy_from_slice(std::hint::black_box(&src));
        std::hint::black_box(&mut dst);
        Ok(len as u64)
    })?;
    rows.push(Row {
        name: "local memcpy",
        bytes: moved,
        elapsed,
        accesses: None,
    });

    let a = &s.adapter;
    let mut reads = 0u64;
    let (moved, elapsed) = measure(budget, || {
        for _ in 0..64 {
            std::hint::black_box(a.r32(regs::ID)?);
        }
        reads += 64;
        Ok(64 * 4)
    })?;
    rows.push(Row {
        name: "BAR0 register read (trapped)",
        bytes: moved,
        elapsed,
        accesses: Some((reads, "4-byte read")),
    });

    let slot = place::window(
        a,
        &place::Place::Slot {
            slot: t.slot,
            offset: 0,
        },
    )?;
    let step_words = TRAPPED_STEP / 8;
    let words = pattern::words(SEED, 0, step_words);
    let mut at = 0usize;
    let (moved, elapsed) = measure(budget, || {
        slot.map.store_words(slot.offset + at as u64, &words)?;
        at = (at + TRAPPED_STEP) % len;
        Ok(TRAPPED_STEP as u64)
    })?;
    rows.push(Row {
        name: "BAR2 window write (trapped)",
        bytes: moved,
        elapsed,
        accesses: Some((moved / 8, "8-byte store")),
    });
    let mut back = vec![0u64; step_words];
    let (moved, elapsed) = measure(budget, || {
        slot.map.load_words(slot.offset + at as u64, &mut back)?;
        at = (at + TRAPPED_STEP) % len;
        Ok(TRAPPED_STEP as u64)
    })?;
    rows.push(Row {
        name: "BAR2 window read (trapped)",
        bytes: moved,
        elapsed,
        accesses: Some((moved / 8, "8-byte load")),
    });

    // The target's memory in the direct window (for loopback too, where
    // the window is not advertised to ourselves).
    let bar4 = a
        .bar4
        .as_ref()
        .context("the adapter has no direct window (BAR4)")?;
    let direct_offset = ((t.node as u64) << g.direct_shift) + t.advert.addr;
    let direct = place::Window {
        map: &bar4.map,
        offset: direct_offset,
        bus: bar4.bus + direct_offset,
        room: t.advert.size,
    };
    let (moved, elapsed) = measure(budget, || {
        direct
            .map
            .copy_in(direct.offset, &local.as_slice()[..len])?;
        Ok(len as u64)
    })?;
    rows.push(Row {
        name: "BAR4 direct write (mapped)",
        bytes: moved,
        elapsed,
        accesses: None,
    });
    let (moved, elapsed) = measure(budget, || {
        direct.map.copy_out(direct.offset, &mut dst)?;
        Ok(len as u64)
    })?;
    rows.push(Row {
        name: "BAR4 direct read (mapped)",
        bytes: moved,
        elapsed,
        accesses: None,
    });
    let (direct_bus, slot_bus) = (direct.bus, slot.bus);

    for (name, dst_bus) in [
        ("DMA local->remote via BAR4", direct_bus),
        ("DMA local->remote via BAR2", slot_bus),
    ] {
        let copies = vec![
            Copy {
                src: local.bus(),
                dst: dst_bus,
                len: len as u32
            };
            DMA_BATCH
        ];
        let (ch, adapter, irqs, seen) = s.channel(0)?;
        let mut busy = Duration::ZERO;
        let (moved, _) = measure(budget, || {
            busy += ch.run(adapter, irqs, seen, &copies, Duration::from_secs(30))?;
            Ok((len * DMA_BATCH) as u64)
        })?;
        rows.push(Row {
            name,
            bytes: moved,
            elapsed: busy,
            accesses: None,
        });
        // What the engine wrote must be what we have.
        let bar4 = s
            .adapter
            .bar4
            .as_ref()
            .context("the adapter has no direct window (BAR4)")?;
        bar4.map.copy_out(direct_offset, &mut dst)?;
        ensure!(
            pattern::check(SEED, &dst).is_none(),
            "{name}: the remote window does not hold what was copied"
        );
    }

    let base = rows[0].mb_per_s();
    for row in &rows {
        let mut line = format!(
            "bench: {}: {} MB/s ({} x memcpy)",
            row.name,
            figure(row.mb_per_s()),
            figure(row.mb_per_s() / base)
        );
        if let Some((count, what)) = row.accesses {
            let per = row.elapsed / count.max(1) as u32;
            line.push_str(&format!(", {} per {what}", took(per)));
        }
        writeln!(out, "{line}")?;
    }
    writeln!(
        out,
        "bench: data copied by the DMA engine verified through BAR4"
    )?;
    Ok(())
}

/// `memcpy-bench`: the guest's own memcpy between two ordinary buffers of
/// `size` bytes, repeated for about `budget`, then checked. No adapter is
/// involved: it is the baseline NTB figures are set against (ntb_perf's, in
/// `tests/cluster/ntb_perf_bench.toml`). Prints one line:
///
/// ```text
/// memcpy-bench: 1M per copy, 1234 copies in 0.50 s: 2468.0 MiB/s
/// ```
pub fn memcpy(size: u64, budget: Duration, out: &mut dyn Write) -> Result<()> {
    let len = usize::try_from(size).context("size too large")?;
    ensure!(len > 0, "the size must be at least one byte");
    let mut src = vec![0u8; len];
    pattern::fill(SEED, &mut src);
    // One copy before the clock starts, so that faulting in the
    // destination's pages is not measured.
    let mut dst = src.clone();
    dst.fill(0);
    let (copies, bytes, elapsed) = copy_for(&src, &mut dst, budget)?;
    ensure!(
        pattern::check(SEED, &dst).is_none(),
        "the last copy differs from its source"
    );
    writeln!(
        out,
        "memcpy-bench: {} per copy, {copies} copies in {:.2} s: {:.1} MiB/s",
        human(size),
        elapsed.as_secs_f64(),
        mib_per_s(bytes, elapsed)
    )?;
    Ok(())
}

/// Copies `src` into `dst` until `budget` is spent, at least once: the
/// number of copies, the bytes moved and the time taken.
fn copy_for(src: &[u8], dst: &mut [u8], budget: Duration) -> Result<(u64, u64, Duration)> {
    let mut copies = 0u64;
    let (bytes, elapsed) = measure(budget, || {
        dst.copy_from_slice(std::hint::black_box(src));
        std::hint::black_box(&mut *dst);
        copies += 1;
        Ok(src.len() as u64)
    })?;
    Ok((copies, bytes, elapsed))
}

/// Bytes over time in MiB/s (2^20 bytes per second).
fn mib_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64().max(1e-9) / f64::from(1u32 << 20)
}

/// Three significant digits, in plain or scientific notation.
fn figure(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        format!("{x}")
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 0.01 {
        format!("{x:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    } else {
        format!("{x:.2e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_keep_about_three_significant_digits() {
        assert_eq!(figure(3456.7), "3457");
        assert_eq!(figure(12.3456), "12.346");
        assert_eq!(figure(0.5), "0.5");
        assert_eq!(figure(0.000_012_34), "1.23e-5");
    }

    #[test]
    fn memcpy_bench_copies_every_byte_and_counts_them() {
        let src: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let mut dst = vec![0u8; src.len()];
        let (copies, bytes, elapsed) = copy_for(&src, &mut dst, Duration::from_millis(20)).unwrap();
        assert_eq!(dst, src);
        assert!(copies >= 1);
        assert_eq!(bytes, copies * src.len() as u64);
        assert!(elapsed >= Duration::from_millis(20));
    }

    #[test]
    fn mib_per_s_is_binary_megabytes_per_second() {
        assert_eq!(mib_per_s(3 << 20, Duration::from_secs(2)), 1.5);
    }

    #[test]
    fn memcpy_bench_prints_one_line_with_a_positive_figure() {
        let mut out = Vec::new();
        memcpy(64 * 1024, Duration::from_millis(10), &mut out).unwrap();
        let line = String::from_utf8(out).unwrap();
        let figure: f64 = line
            .strip_prefix("memcpy-bench: 64K per copy, ")
            .and_then(|rest| rest.strip_suffix(" MiB/s\n"))
            .and_then(|rest| rest.rsplit(": ").next())
            .and_then(|f| f.parse().ok())
            .unwrap_or_else(|| panic!("unexpected line {line:?}"));
        assert!(figure > 0.0, "{line}");
    }

    #[test]
    fn a_measurement_runs_at_least_once() {
        let mut steps = 0;
        let (bytes, _) = measure(Duration::ZERO, || {
            steps += 1;
            Ok(8)
        })
        .unwrap();
        assert_eq!((steps, bytes), (1, 8));
    }
}
