//! The adapter's DMA engine (docs/adapter.md 4.6): per channel, a worker
//! thread that walks the descriptor ring in the node's RAM and copies with
//! memcpy on the fabric memory, or through the translated window where a
//! descriptor points into BAR2.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread;

use super::window::Resolved;
use super::Fabric;
use crate::adapter::regs::{self, desc, dma_ctrl, dma_err, dma_status, Err};

/// Copies move through a bounce buffer in chunks of at most this, unless
/// both ends are RAM.
const CHUNK: usize = 256 << 10;

#[derive(Default)]
struct ChannelState {
    /// Work may be pending.
    kicked: bool,
    /// The worker is processing descriptors.
    busy: bool,
    /// Bumped by a reset: work of an older generation is abandoned.
    generation: u64,
    /// The worker thread has been started.
    started: bool,
}

struct Channel {
    state: Mutex<ChannelState>,
    wake: Condvar,
}

/// The DMA channels of one node.
pub struct Engine {
    fabric: Weak<Fabric>,
    node: usize,
    channels: Vec<Arc<Channel>>,
}

impl Engine {
    /// The engine of node `node` with `channels` channels; workers start on
    /// first use.
    pub fn new(fabric: Weak<Fabric>, node: usize, channels: usize) -> Self {
        let channels = (0..channels)
            .map(|_| {
                Arc::new(Channel {
                    state: Mutex::new(ChannelState::default()),
                    wake: Condvar::new(),
                })
            })
            .collect();
        Engine {
            fabric,
            node,
            channels,
        }
    }

    fn lock(ch: &Channel) -> std::sync::MutexGuard<'_, ChannelState> {
        ch.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether channel `ch` is working.
    pub fn busy(&self, ch: usize) -> bool {
        self.channels.get(ch).is_some_and(|c| Self::lock(c).busy)
    }

    /// Software wrote `DMA_HEAD` or enabled the channel.
    pub fn kick(&self, ch: usize) {
        let Some(c) = self.channels.get(ch) else {
            return;
        };
        let mut s = Self::lock(c);
        s.kicked = true;
        if !s.started {
            s.started = true;
            let (fabric, node, channel) = (self.fabric.clone(), self.node, c.clone());
            let spawned = thread::Builder::new()
                .name(format!("dma-{node}.{ch}"))
                .spawn(move || worker(fabric, node, ch, channel));
            if spawned.is_err() {
                s.started = false;
            }
        }
        c.wake.notify_all();
    }

    /// Abandons channel `ch`'s work (`DMA_CTRL.RESET`).
    pub fn reset_channel(&self, ch: usize) {
        if let Some(c) = self.channels.get(ch) {
            let mut s = Self::lock(c);
            s.generation += 1;
            s.kicked = false;
        }
    }

    /// Abandons every channel's work (device reset).
    pub fn reset(&self) {
        for ch in 0..self.channels.len() {
            self.reset_channel(ch);
        }
    }
}

fn worker(fabric: Weak<Fabric>, node: usize, ch: usize, channel: Arc<Channel>) {
    loop {
        let generation = {
            let mut s = Engine::lock(&channel);
            while !s.kicked {
                // Wake up now and then to notice the fabric is gone.
                let (g, _) = channel
                    .wake
                    .wait_timeout(s, std::time::Duration::from_secs(1))
                    .unwrap_or_else(|e| e.into_inner());
                s = g;
                if fabric.strong_count() == 0 {
                    return;
                }
            }
            s.kicked = false;
            s.busy = true;
            s.generation
        };
        if let Some(f) = fabric.upgrade() {
            f.run_channel(node, ch, || Engine::lock(&channel).generation == generation);
        }
        Engine::lock(&channel).busy = false;
    }
}

/// One end of a copy.
#[derive(Clone, Copy, Debug)]
enum End {
    /// RAM in the fabric memory file: the node's own, or any node's through
    /// the direct window, which (docs/adapter.md 6) has no per-access checks
    /// and does not follow link state, for the engine as for the CPU.
    Ram { node: usize, addr: u64 },
    /// An address in the node's own BAR2 at this offset.
    Window { off: u64 },
    /// The node's own bus, not RAM (local MMIO).
    Bus { addr: u64 },
}

impl Fabric {
    /// Processes channel `ch` of node `id` until the ring is empty, the
    /// channel is disabled, it fails, or `current()` says it was reset.
    fn run_channel(&self, id: usize, ch: usize, current: impl Fn() -> bool) {
        let Some(node) = self.node(id) else { return };
        loop {
            let d = node.regs().dma[ch];
            if !current()
                || d.ctrl & dma_ctrl::ENABLE == 0
                || d.status & dma_status::ERROR != 0
                || d.head == d.tail
            {
                return;
            }
            if !d.ring_size.is_power_of_two() || d.ring_size > desc::MAX_RING || d.ring % 32 != 0 {
                return self.dma_fail(id, ch, d.tail, dma_err::RING, d.ring, None);
            }
            let at = d.ring + u64::from(d.tail & (d.ring_size - 1)) * desc::SIZE;
            let mut raw = [0u8; desc::SIZE as usize];
            if self.memory.read(id, at, &mut raw).is_err() {
                return self.dma_fail(id, ch, d.tail, dma_err::RING, at, None);
            }
            let u64_at =
                |o: usize| u64::from_le_bytes(raw[o..o + 8].try_into().unwrap_or_default());
            let u32_at =
                |o: usize| u32::from_le_bytes(raw[o..o + 4].try_into().unwrap_or_default());
            let (src, dst, len, flags) = (
                u64_at(desc::SRC),
                u64_at(desc::DST),
                u32_at(desc::LEN),
                u32_at(desc::FLAGS),
            );
            if len == 0 || len > desc::MAX_LEN {
                return self.dma_fail(id, ch, d.tail, dma_err::LEN, at, Some(at));
            }
            if let Err((code, addr, target)) = self.dma_copy(id, src, dst, u64::from(len)) {
                self.error(id, Err::Dma, addr, true, target);
                return self.dma_fail(id, ch, d.tail, code, addr, Some(at));
            }
            if !current() {
                return;
            }
            let _ = self
                .memory
                .write(id, at + desc::RESULT as u64, &desc::RESULT_OK.to_le_bytes());
            node.counters
                .dma_bytes
                .fetch_add(u64::from(len), Ordering::Relaxed);
            let interrupt = {
                let mut r = node.regs();
                let c = &mut r.dma[ch];
                c.tail = c.tail.wrapping_add(1);
                let irq = flags & desc::FLAG_INTERRUPT != 0 && c.ctrl & dma_ctrl::INT_ENABLE != 0;
                if irq {
                    c.status |= dma_status::DONE;
                }
                irq
            };
            if interrupt {
                node.raise(regs::vector::dma(ch));
            }
        }
    }

    fn dma_fail(
        &self,
        id: usize,
        ch: usize,
        index: u32,
        code: u32,
        addr: u64,
        desc_at: Option<u64>,
    ) {
        let Some(node) = self.node(id) else { return };
        if let Some(at) = desc_at {
            let _ = self.memory.write(
                id,
                at + desc::RESULT as u64,
                &(desc::RESULT_ERR | code).to_le_bytes(),
            );
        }
        {
            let mut r = node.regs();
            let c = &mut r.dma[ch];
            c.status |= dma_status::ERROR;
            c.err_index = index;
            c.err_code = code;
        }
        if code == dma_err::RING || code == dma_err::LEN {
            self.error(id, Err::Dma, addr, true, id);
        }
    }

    /// Classifies bus address `addr` of node `id`.
    fn end(&self, id: usize, addr: u64, len: u64) -> End {
        let host = self.node(id).and_then(|n| n.host());
        let bar = |b: usize| host.as_ref().and_then(|h| h.bar_address(b));
        let within = |base: Option<u64>, size: u64| {
            base.and_then(|b| addr.checked_sub(b))
                .filter(|&o| o.saturating_add(len) <= size)
        };
        if let Some(off) = within(bar(2), self.config.bar2_size()) {
            return End::Window { off };
        }
        if self.config.direct {
            if let Some(off) = within(bar(4), self.config.bar4_size()) {
                let shift = self.config.direct_shift();
                return End::Ram {
                    node: (off >> shift) as usize,
                    addr: off & ((1 << shift) - 1),
                };
            }
        }
        if self.memory.locate(id, addr, len).is_ok() {
            End::Ram { node: id, addr }
        } else {
            End::Bus { addr }
        }
    }

    /// Copies `len` bytes from bus address `src` to `dst` of node `id`.
    fn dma_copy(&self, id: usize, src: u64, dst: u64, len: u64) -> Result<(), (u32, u64, usize)> {
        let (s, d) = (self.end(id, src, len), self.end(id, dst, len));
        if let (End::Ram { node: sn, addr: sa }, End::Ram { node: dn, addr: da }) = (s, d) {
            // Both ends in the RAM file: one memmove, after checking each end
            // so a failure names the right one.
            self.memory
                .locate(sn, sa, len)
                .map_err(|_| (dma_err::SRC, src, sn))?;
            self.memory
                .locate(dn, da, len)
                .map_err(|_| (dma_err::DST, dst, dn))?;
            return self
                .memory
                .copy((sn, sa), (dn, da), len)
                .map_err(|_| (dma_err::DST, dst, dn));
        }
        let mut buf = vec![0u8; CHUNK.min(len as usize)];
        let mut done = 0u64;
        while done < len {
            let mut n = (len - done).min(buf.len() as u64);
            // Stay within one LUT slot at either end.
            let slot = 1u64 << self.config.slot_shift;
            for end in [s, d] {
                if let End::Window { off } = end {
                    let o = off + done;
                    n = n.min(slot - (o & (slot - 1)));
                }
            }
            let chunk = &mut buf[..n as usize];
            self.dma_end_read(id, s, done, chunk)
                .map_err(|t| (dma_err::SRC, src + done, t))?;
            self.dma_end_write(id, d, done, chunk)
                .map_err(|t| (dma_err::DST, dst + done, t))?;
            done += n;
        }
        Ok(())
    }

    fn dma_end_read(&self, id: usize, end: End, at: u64, buf: &mut [u8]) -> Result<(), usize> {
        match end {
            End::Ram { node, addr } => self.memory.read(node, addr + at, buf).map_err(|_| node),
            End::Window { off } => self.window_read(id, off + at, buf).map_err(|(_, t)| t),
            End::Bus { addr } => self.local_bus(id, |h| h.bus_read(addr + at, buf)),
        }
    }

    fn dma_end_write(&self, id: usize, end: End, at: u64, data: &[u8]) -> Result<(), usize> {
        match end {
            End::Ram { node, addr } => self.memory.write(node, addr + at, data).map_err(|_| node),
            End::Window { off } => match self.resolve(id, off + at, data.len() as u64) {
                // Posted remote writes from the engine wait for nothing.
                // A member that misses a multicast write is reported (ERR.MC),
                // as for a CPU's posted write; the descriptor completes.
                Ok(Resolved::Multicast { group, offset }) => {
                    if let Err((e, t)) = self.multicast(id, group, offset, data) {
                        self.error(id, e, off + at, true, t);
                    }
                    Ok(())
                }
                Ok(_) => self.window_write(id, off + at, data).map_err(|(_, t)| t),
                Err((_, t)) => Err(t),
            },
            End::Bus { addr } => self.local_bus(id, |h| h.bus_write(addr + at, data)),
        }
    }

    fn local_bus(
        &self,
        id: usize,
        f: impl FnOnce(&dyn super::NodeHost) -> Result<(), super::BusError>,
    ) -> Result<(), usize> {
        let host = self.node(id).and_then(|n| n.host()).ok_or(id)?;
        f(host.as_ref()).map_err(|_| id)
    }
}
