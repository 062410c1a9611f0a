//! One DMA channel of the adapter (section 4.6): a ring of descriptors in
//! a locked page, filled by software, consumed by the engine.

use std::sync::atomic::{fence, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::adapter::Adapter;
use super::dmamem::{DmaBuffer, PAGE};
use super::irq::Interrupts;
use super::regs::{self, dma};

/// Descriptors in a ring: one page's worth.
const RING: u32 = (PAGE / regs::DESC_SIZE) as u32;
/// How often a wait re-reads the channel even without an interrupt.
const RECHECK: Duration = Duration::from_millis(100);

/// One copy: `len` bytes from bus address `src` to `dst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copy {
    pub src: u64,
    pub dst: u64,
    pub len: u32,
}

/// A channel whose ring software owns.
pub struct Channel {
    index: usize,
    ring: DmaBuffer,
    /// The next descriptor index software fills (free-running).
    head: u32,
}

/// What the `DMA_ERR_CODE` values mean.
fn code_name(code: u32) -> &'static str {
    match code {
        1 => "source not readable",
        2 => "destination not writable",
        3 => "bad length",
        4 => "ring address not in local RAM",
        _ => "unknown code",
    }
}

impl Channel {
    /// Resets channel `index` and gives it a fresh ring.
    pub fn new(adapter: &Adapter, index: usize) -> Result<Channel> {
        let channel = Channel {
            index,
            ring: DmaBuffer::new(PAGE)?,
            head: 0,
        };
        channel.program(adapter)?;
        Ok(channel)
    }

    fn program(&self, adapter: &Adapter) -> Result<()> {
        let at = dma(self.index);
        adapter.w32(at + regs::DMA_CTRL, regs::DMA_RESET)?;
        adapter.w64(at + regs::DMA_RING, self.ring.bus())?;
        adapter.w32(at + regs::DMA_RING_SIZE, RING)?;
        adapter.w32(at + regs::DMA_CTRL, regs::DMA_ENABLE | regs::DMA_INT_ENABLE)
    }

    /// Resets the channel after a failure so it can be used again.
    fn recover(&mut self, adapter: &Adapter) -> Result<()> {
        self.head = 0;
        self.program(adapter)
    }

    /// Runs `copies` (interrupting on the last one of each batch) and waits
    /// until the engine has done them all and said so with its interrupt;
    /// returns the time from each batch's `DMA_HEAD` write to seeing it
    /// complete, summed.
    pub fn run(
        &mut self,
        adapter: &Adapter,
        irqs: &Interrupts,
        seen: &mut u64,
        copies: &[Copy],
        timeout: Duration,
    ) -> Result<Duration> {
        let deadline = Instant::now() + timeout;
        let mut busy = Duration::ZERO;
        // One descriptor stays free so a full ring is not an empty one.
        for batch in copies.chunks(RING as usize - 1) {
            let result = self.run_batch(adapter, irqs, seen, batch, deadline);
            match result {
                Ok(took) => busy += took,
                Err(e) => {
                    let _ = self.recover(adapter);
                    return Err(e);
                }
            }
        }
        Ok(busy)
    }

    fn run_batch(
        &mut self,
        adapter: &Adapter,
        irqs: &Interrupts,
        seen: &mut u64,
        batch: &[Copy],
        deadline: Instant,
    ) -> Result<Duration> {
        let first = self.head;
        for (i, copy) in batch.iter().enumerate() {
            let last = i + 1 == batch.len();
            self.fill(first.wrapping_add(i as u32), copy, last)?;
        }
        // The descriptors must be in memory before the engine is told.
        fence(Ordering::SeqCst);
        let target = first.wrapping_add(batch.len() as u32);
        let at = dma(self.index);
        let vector = regs::vec_dma(self.index);
        let before = irqs.count(vector);
        let mut observed = before;
        let started = Instant::now();
        adapter.w32(at + regs::DMA_HEAD, target)?;
        self.head = target;
        // Done means: the engine's TAIL caught up and the completion
        // interrupt of the batch's last descriptor arrived.
        loop {
            let status = adapter.r32(at + regs::DMA_STATUS)?;
            if status & regs::DMA_STATUS_ERROR != 0 {
                let index = adapter.r32(at + regs::DMA_ERR_INDEX)?;
                let code = adapter.r32(at + regs::DMA_ERR_CODE)?;
                bail!(
                    "DMA channel {} stopped at descriptor {index}: code {code} ({})",
                    self.index,
                    code_name(code)
                );
            }
            let tail = adapter.r32(at + regs::DMA_TAIL)?;
            if tail == target && observed > before {
                let took = started.elapsed();
                *seen = observed;
                adapter.w32(at + regs::DMA_STATUS, regs::DMA_STATUS_DONE)?;
                self.check_results(first, batch.len())?;
                return Ok(took);
            }
            let now = Instant::now();
            if now >= deadline {
                if tail == target {
                    bail!(
                        "DMA channel {} finished, but its MSI-X vector {vector} never fired",
                        self.index
                    );
                }
                bail!(
                    "DMA channel {} did not finish in time: HEAD {target}, TAIL {tail}",
                    self.index
                );
            }
            observed = irqs.wait(vector, observed, deadline.min(now + RECHECK));
        }
    }

    /// Writes descriptor `index` (mod the ring size).
    fn fill(&mut self, index: u32, copy: &Copy, interrupt: bool) -> Result<()> {
        if copy.len == 0 || u64::from(copy.len) > regs::DMA_MAX_LEN {
            bail!("a DMA copy of {} bytes (1..=64 MiB)", copy.len);
        }
        let at = (index % RING) as usize * regs::DESC_SIZE;
        let flags = if interrupt { regs::DESC_INTERRUPT } else { 0 };
        let desc = &mut self.ring.as_mut_slice()[at..at + regs::DESC_SIZE];
        desc[0..8].copy_from_slice(&copy.src.to_le_bytes());
        desc[8..16].copy_from_slice(&copy.dst.to_le_bytes());
        desc[16..20].copy_from_slice(&copy.len.to_le_bytes());
        desc[20..24].copy_from_slice(&flags.to_le_bytes());
        desc[24..32].fill(0);
        Ok(())
    }

    /// Every descriptor of the batch must say success.
    fn check_results(&self, first: u32, count: usize) -> Result<()> {
        for i in 0..count as u32 {
            let index = first.wrapping_add(i);
            let at = (index % RING) as usize * regs::DESC_SIZE + regs::DESC_RESULT;
            let result = self.ring.read_volatile_u32(at).unwrap_or(0);
            if result != regs::RESULT_OK {
                bail!("descriptor {index} completed with RESULT {result:#x}");
            }
        }
        Ok(())
    }
}
