// SPDX-License-Identifier: GPL-2.0

//! [`DmaChannel`]: a channel of the adapter's DMA engine (docs/adapter.md,
//! section 4.6): copies between local RAM and remote memory (BAR2 slots or
//! BAR4), or remote and remote, from a descriptor ring in local RAM.
//!
//! The rings are allocated at probe (one per channel, coherent memory of
//! the adapter), so taking a channel needs no bound device. Submission
//! writes a descriptor and advances `DMA_HEAD`; the engine advances
//! `DMA_TAIL` and writes each descriptor's result; a descriptor that asked
//! for it raises `DMA(c)`, delivered to `Client::dma_done`.

use crate::{
    adapter::{Adapter, Pools},
    dma_ring::{RESULT_FAILED, RESULT_OK},
    regs,
};
use kernel::{prelude::*, sync::Arc};

pub use crate::dma_ring::RING_SIZE;

/// Largest transfer of one descriptor (64 MiB).
pub const MAX_LEN: u32 = 64 << 20;

/// How a descriptor ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmaResult {
    /// Not processed yet.
    Pending,
    /// Copied.
    Done,
    /// Failed with the engine's code (1 source not readable, 2 destination
    /// not writable, 3 bad length, 4 ring not in local RAM).
    Failed(u32),
}

/// DMA channel `channel` of an adapter, owned by the fabric core; reset
/// and returned to the pool on drop.
///
/// # Invariants
///
/// `channel < info().dma_channels`, taken in the adapter's pool by this
/// object; its ring is programmed and the channel enabled.
pub struct DmaChannel {
    adapter: Arc<Adapter>,
    channel: u32,
}

impl DmaChannel {
    /// Takes channel `channel` (`EINVAL` if it does not exist, `EBUSY` if
    /// it is taken), resets it and starts it on its ring.
    pub fn claim(adapter: &Arc<Adapter>, channel: u32) -> Result<Self> {
        if channel >= adapter.info().dma_channels {
            return Err(EINVAL);
        }
        Pools::claim_bit(&mut adapter.pools.lock().dma, channel)?;
        let this = Self {
            adapter: adapter.clone(),
            channel,
        };
        let ring = adapter.dma_rings().dma_address(channel)?;
        *adapter
            .dma_heads()
            .lock()
            .get_mut(channel as usize)
            .ok_or(EINVAL)? = 0;
        adapter.with_regs(|r| {
            r.write(regs::dma_ctrl(channel), regs::DMA_RESET)?;
            r.write64(regs::dma_ring(channel), ring)?;
            r.write(regs::dma_ring_size(channel), RING_SIZE)?;
            r.write(
                regs::dma_ctrl(channel),
                regs::DMA_ENABLE | regs::DMA_INT_ENABLE,
            )
        })??;
        // INVARIANT: taken, programmed and enabled above.
        Ok(this)
    }

    /// The channel's number.
    pub fn channel(&self) -> u32 {
        self.channel
    }

    /// Queues a copy of `len` bytes from bus address `src` to `dst` (this
    /// node's bus addresses: local RAM, BAR2 or BAR4), raising `DMA(c)`
    /// when done if `interrupt`. Returns the descriptor's sequence number;
    /// `EBUSY` if the ring is full, `EINVAL` for a length of 0 or more
    /// than [`MAX_LEN`].
    pub fn submit(&self, src: u64, dst: u64, len: u32, interrupt: bool) -> Result<u32> {
        if len == 0 || len > MAX_LEN {
            return Err(EINVAL);
        }
        let c = self.channel;
        let mut heads = self.adapter.dma_heads().lock();
        let head = heads.get_mut(c as usize).ok_or(EINVAL)?;
        let tail = self.completed()?;
        if head.wrapping_sub(tail) >= RING_SIZE {
            return Err(EBUSY);
        }
        let seq = *head;
        self.adapter
            .dma_rings()
            .write(c, seq, src, dst, len, interrupt)?;
        *head = head.wrapping_add(1);
        // The MMIO write orders after the descriptor's (writel's barrier).
        let next = *head;
        self.adapter
            .with_regs(|r| r.write(regs::dma_head(c), next))??;
        Ok(seq)
    }

    /// `DMA_TAIL`: descriptors with a sequence number below it are
    /// processed.
    pub fn completed(&self) -> Result<u32> {
        let c = self.channel;
        self.adapter.with_regs(|r| r.read(regs::dma_tail(c)))?
    }

    /// How descriptor `seq` ended. Only meaningful for a descriptor
    /// submitted in the last [`RING_SIZE`] submissions.
    pub fn result(&self, seq: u32) -> Result<DmaResult> {
        let tail = self.completed()?;
        // Processed: `seq` is behind the tail (modulo wrap).
        if tail.wrapping_sub(seq).wrapping_sub(1) >= RING_SIZE {
            return Ok(DmaResult::Pending);
        }
        let result = self.adapter.dma_rings().result(self.channel, seq)?;
        Ok(match result {
            RESULT_OK => DmaResult::Done,
            r if r & RESULT_FAILED != 0 => DmaResult::Failed(r & !RESULT_FAILED),
            _ => DmaResult::Pending,
        })
    }

    /// The channel stopped on an error: `Some((sequence number, code))`.
    pub fn error(&self) -> Result<Option<(u32, u32)>> {
        let c = self.channel;
        self.adapter.with_regs(|r| {
            if r.read(regs::dma_status(c))? & regs::DMA_STATUS_ERROR == 0 {
                return Ok(None);
            }
            Ok(Some((
                r.read(regs::dma_err_index(c))?,
                r.read(regs::dma_err_code(c))?,
            )))
        })?
    }

    /// Resumes after an error: clears `ERROR` and drops the descriptors
    /// not processed yet (the caller resubmits what it still wants).
    pub fn resume(&self) -> Result {
        let c = self.channel;
        let tail = self.completed()?;
        let mut heads = self.adapter.dma_heads().lock();
        let head = heads.get_mut(c as usize).ok_or(EINVAL)?;
        *head = tail;
        self.adapter.with_regs(|r| {
            r.write(regs::dma_status(c), regs::DMA_STATUS_ERROR)?;
            r.write(regs::dma_head(c), tail)
        })?
    }
}

impl Drop for DmaChannel {
    fn drop(&mut self) {
        let c = self.channel;
        // Stops the engine before the ring can be reused. Fails only once
        // the adapter is gone (nothing to undo then).
        let _ = self
            .adapter
            .with_regs(|r| r.write(regs::dma_ctrl(c), regs::DMA_RESET));
        self.adapter.pools.lock().dma &= !(1 << c);
    }
}
