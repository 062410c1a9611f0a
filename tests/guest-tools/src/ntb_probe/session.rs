//! A session with the adapter: the open device, its MSI-X vectors, and what
//! the probe set up on it (buffers, DMA rings). A one-shot command has a
//! session of its own; the daemon keeps one across commands, the way a
//! driver would hold the device.
//!
//! A session starts and ends by [quiescing](Adapter::quiesce) the adapter,
//! so no window, LUT slot or DMA ring ever outlives the memory it points at.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::adapter::Adapter;
use super::dma::Channel;
use super::dmamem::DmaBuffer;
use super::irq::Interrupts;
use super::regs;

pub struct Session {
    pub adapter: Adapter,
    irqs: Interrupts,
    /// Per vector, the interrupt count a wait last consumed.
    seen: Vec<u64>,
    buffers: BTreeMap<String, DmaBuffer>,
    channels: Vec<Option<Channel>>,
}

impl Session {
    /// Opens the adapter (`device`, or the only one), quiesces it and
    /// routes every MSI-X vector to an eventfd.
    pub fn open(device: Option<&str>) -> Result<Session> {
        let adapter = Adapter::open(device)?;
        adapter.quiesce().context("cannot quiesce the adapter")?;
        let irqs = Interrupts::new(regs::VECTORS)?;
        adapter.device.enable_msix(&irqs.fds())?;
        let channels = (0..adapter.geometry.dma_channels).map(|_| None).collect();
        Ok(Session {
            adapter,
            irqs,
            seen: vec![0; regs::VECTORS],
            buffers: BTreeMap::new(),
            channels,
        })
    }

    /// How often `vector` has fired in this session.
    pub fn interrupts(&self, vector: usize) -> u64 {
        self.irqs.count(vector)
    }

    /// The interrupts of `vector` waits have consumed so far.
    pub fn consumed(&self, vector: usize) -> u64 {
        self.seen[vector]
    }

    /// The interrupts of `vector` no wait has consumed yet.
    pub fn unconsumed(&self, vector: usize) -> u64 {
        self.irqs.count(vector) - self.seen[vector]
    }

    /// Waits until `vector` fires beyond `observed` or `deadline` passes;
    /// returns the count then.
    pub fn wait_vector(&self, vector: usize, observed: u64, deadline: Instant) -> u64 {
        self.irqs.wait(vector, observed, deadline)
    }

    /// Marks `vector`'s interrupts up to `count` as consumed.
    pub fn consume(&mut self, vector: usize, count: u64) {
        self.seen[vector] = self.seen[vector].max(count);
    }

    /// Allocates buffer `name` of `size` bytes.
    pub fn alloc(&mut self, name: &str, size: usize) -> Result<&DmaBuffer> {
        if self.buffers.contains_key(name) {
            bail!("buffer {name:?} exists already");
        }
        let buffer = DmaBuffer::new(size)?;
        Ok(self.buffers.entry(name.to_owned()).or_insert(buffer))
    }

    pub fn buffer(&self, name: &str) -> Result<&DmaBuffer> {
        self.buffers
            .get(name)
            .with_context(|| format!("no buffer {name:?} (alloc it first)"))
    }

    pub fn buffer_mut(&mut self, name: &str) -> Result<&mut DmaBuffer> {
        self.buffers
            .get_mut(name)
            .with_context(|| format!("no buffer {name:?} (alloc it first)"))
    }

    /// DMA channel `c`, set up on first use, with what `run` needs.
    pub fn channel(&mut self, c: usize) -> Result<(&mut Channel, &Adapter, &Interrupts, &mut u64)> {
        let count = self.channels.len();
        let slot = self
            .channels
            .get_mut(c)
            .with_context(|| format!("no DMA channel {c} (the adapter has {count})"))?;
        if slot.is_none() {
            *slot = Some(Channel::new(&self.adapter, c)?);
        }
        let channel = slot.as_mut().context("a DMA channel vanished")?;
        Ok((
            channel,
            &self.adapter,
            &self.irqs,
            &mut self.seen[regs::vec_dma(c)],
        ))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Before the buffers go: nothing may point at them any more.
        let _ = self.adapter.quiesce();
        let _ = self.adapter.device.disable_msix();
    }
}
