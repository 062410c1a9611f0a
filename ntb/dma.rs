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
    regs,
};
use kernel::{
    device,
    dma::Coherent,
    io::{io_read, io_write},
    prelude::*,
    sync::Arc,
};

/// Descriptors per ring (a power of two).
pub const RING_SIZE: u32 = 256;

/// Largest transfer of one descriptor (64 MiB).
pub const MAX_LEN: u32 = 64 << 20;

/// One descriptor, as the engine reads it (section 4.6).
#[repr(C)]
#[derive(Clone, Copy, Default, FromBytes, IntoBytes)]
pub(crate) struct Desc {
    src: u64,
    dst: u64,
    len: u32,
    flags: u32,
    result: u32,
    pad: u32,
}

// SAFETY: `Desc` is `repr(C)` plain integers without padding (4 x 8 bytes).
unsafe impl kernel::transmute::AsBytes for Desc {}
// SAFETY: As above: every bit pattern is a valid `Desc`.
unsafe impl kernel::transmute::FromBytes for Desc {}

/// `FLAGS.INTERRUPT`.
const FLAG_INTERRUPT: u32 = 1;
/// `RESULT` of a successful descriptor.
const RESULT_OK: u32 = 1;
/// `RESULT` bit of a failed descriptor (the low bits are the code).
const RESULT_FAILED: u32 = 0x8000_0000;

/// The rings of an adapter's channels.
pub(crate) struct Rings {
    rings: KVec<Coherent<[Desc]>>,
}

impl Rings {
    /// Allocates a ring for each of `channels` channels of `dev`.
    pub(crate) fn new(dev: &device::Device<device::Bound>, channels: u32) -> Result<Self> {
        let mut rings = KVec::new();
        for _ in 0..channels {
            rings.push(
                Coherent::zeroed_slice(dev, RING_SIZE as usize, GFP_KERNEL)?,
                GFP_KERNEL,
            )?;
        }
        Ok(Self { rings })
    }

    fn ring(&self, c: u32) -> Result<&Coherent<[Desc]>> {
        self.rings.get(c as usize).ok_or(EINVAL)
    }
}

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
        let ring = adapter.dma_rings().ring(channel)?.dma_address();
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
        let ring = self.adapter.dma_rings().ring(c)?;
        let mut heads = self.adapter.dma_heads().lock();
        let head = heads.get_mut(c as usize).ok_or(EINVAL)?;
        let tail = self.completed()?;
        if head.wrapping_sub(tail) >= RING_SIZE {
            return Err(EBUSY);
        }
        let i = (*head % RING_SIZE) as usize;
        let flags = if interrupt { FLAG_INTERRUPT } else { 0 };
        io_write!(ring, [try: i].src, src);
        io_write!(ring, [try: i].dst, dst);
        io_write!(ring, [try: i].len, len);
        io_write!(ring, [try: i].flags, flags);
        io_write!(ring, [try: i].result, 0);
        let seq = *head;
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
        let ring = self.adapter.dma_rings().ring(self.channel)?;
        let i = (seq % RING_SIZE) as usize;
        let result: u32 = io_read!(ring, [try: i].result);
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
