//! BAR0: the register file (docs/adapter.md section 4), for one node.
//!
//! Registers are 32 bits wide; 64-bit registers are pairs. The guest may
//! access them with aligned 4- or 8-byte accesses; any other access reads
//! zero, is ignored, and sets `ERR_STATUS.BAD_REG`.

use std::sync::atomic::Ordering;

use super::{Fabric, Node};
use crate::adapter::regs::{self, Err};

fn lo(v: u64) -> u32 {
    v as u32
}
fn hi(v: u64) -> u32 {
    (v >> 32) as u32
}
fn set_lo(r: &mut u64, v: u32) {
    *r = (*r & !0xFFFF_FFFF) | u64::from(v);
}
fn set_hi(r: &mut u64, v: u32) {
    *r = (*r & 0xFFFF_FFFF) | u64::from(v) << 32;
}
fn half(r: u64, off: u64) -> u32 {
    if off & 4 == 0 {
        lo(r)
    } else {
        hi(r)
    }
}
fn set_half(r: &mut u64, off: u64, v: u32) {
    if off & 4 == 0 {
        set_lo(r, v)
    } else {
        set_hi(r, v)
    }
}

/// Splits an offset into (index, offset within the element) for an array of
/// `count` elements of `stride` bytes at `base`.
fn element(off: u64, base: u64, stride: u64, count: usize) -> Option<(usize, u64)> {
    let rel = off.checked_sub(base)?;
    let index = (rel / stride) as usize;
    (index < count).then_some((index, rel % stride))
}

impl Fabric {
    /// A guest read of BAR0 at `off` (`data.len()` bytes) on node `id`.
    pub fn bar0_read(&self, id: usize, off: u64, data: &mut [u8]) {
        let Some(node) = self.node(id) else {
            return data.fill(0xFF);
        };
        if node.faults.killed.load(Ordering::SeqCst) {
            data.fill(0xFF);
            return;
        }
        let value = match data.len() {
            4 if off.is_multiple_of(4) => u64::from(self.read32(node, off)),
            8 if off.is_multiple_of(8) => {
                u64::from(self.read32(node, off)) | u64::from(self.read32(node, off + 4)) << 32
            }
            _ => {
                self.error(id, Err::BadReg, off, false, id);
                0
            }
        };
        let bytes = value.to_le_bytes();
        data.copy_from_slice(&bytes[..data.len().min(8)]);
    }

    /// A guest write of BAR0 at `off` on node `id`.
    pub fn bar0_write(&self, id: usize, off: u64, data: &[u8]) {
        let Some(node) = self.node(id) else { return };
        if node.faults.killed.load(Ordering::SeqCst) {
            return;
        }
        let mut bytes = [0u8; 8];
        match data.len() {
            4 if off.is_multiple_of(4) => {
                bytes[..4].copy_from_slice(data);
                self.write32(
                    node,
                    off,
                    u32::from_le_bytes(bytes[..4].try_into().unwrap_or_default()),
                );
            }
            8 if off.is_multiple_of(8) => {
                bytes.copy_from_slice(data);
                let v = u64::from_le_bytes(bytes);
                self.write32(node, off, lo(v));
                self.write32(node, off + 4, hi(v));
            }
            _ => self.error(id, Err::BadReg, off, false, id),
        }
    }

    fn read32(&self, node: &Node, off: u64) -> u32 {
        let c = &self.config;
        let id = node.id;
        let counter = |v: &std::sync::atomic::AtomicU64| half(v.load(Ordering::Relaxed), off);
        match off {
            regs::ID => regs::ID_VALUE,
            regs::VERSION => regs::VERSION_VALUE,
            regs::NODE_ID => id as u32,
            regs::NUM_NODES => c.nodes as u32,
            regs::CAPS => c.caps_of(id),
            regs::CHASSIS_NODES => u32::from(c.chassis),
            regs::LUT_SLOTS => c.lut_slots,
            regs::SLOT_SHIFT => c.slot_shift,
            regs::IN_WINDOWS => c.in_windows,
            regs::DMA_CHANNELS => c.dma_channels,
            regs::MC_GROUPS => c.multicast.len() as u32,
            regs::DIRECT_SHIFT if c.direct => c.direct_shift(),
            regs::DIRECT_NODES if c.direct => (1u32 << c.nodes) - 1,
            regs::DIRECT_SHIFT | regs::DIRECT_NODES => 0,
            regs::DIRECT_ALIAS if c.direct && c.direct_alias => regs::direct_alias::value(),
            regs::DIRECT_ALIAS => 0,
            regs::LINK_CTRL => node.link_enabled.load(Ordering::SeqCst) as u32,
            regs::LINK_STATUS => self.link_status(id),
            regs::LINK_EVENT => node.regs().link_event,
            regs::ERR_STATUS => node.regs().err_status,
            o if o == regs::ERR_ADDR || o == regs::ERR_ADDR + 4 => half(node.regs().err_addr, o),
            regs::ERR_INFO => node.regs().err_info,
            regs::RMMIO_TIMEOUT => node.regs().rmmio_timeout_us,
            regs::MSG_STS => node.regs().msg_sts,
            regs::MSG_MASK => node.regs().msg_mask,
            o if (regs::MSG_IN..regs::MSG_IN + 8 * regs::MSGS as u64).contains(&o) => {
                let (data, src) = node.regs().msg_in[((o - regs::MSG_IN) / 8) as usize];
                if o % 8 == 0 {
                    data
                } else {
                    src
                }
            }
            o if (regs::CNT_TX..regs::CNT_END).contains(&o) => {
                let k = &node.counters;
                match (o - regs::CNT_TX) / 8 {
                    0 => counter(&k.tx),
                    1 => counter(&k.errors),
                    2 => counter(&k.refused),
                    3 => counter(&k.dma_bytes),
                    4 => counter(&k.db_tx),
                    5 => counter(&k.db_rx),
                    _ => counter(&k.rmmio),
                }
            }
            o if (regs::PEER_BASE..regs::LUT_BASE).contains(&o) => self.read_peer_block(node, o),
            o if (regs::LUT_BASE..regs::IW_BASE).contains(&o) => {
                let Some((s, r)) =
                    element(o, regs::LUT_BASE, regs::LUT_STRIDE, c.lut_slots as usize)
                else {
                    return 0;
                };
                let e = node.regs().lut[s];
                match r {
                    regs::LUT_CTRL => e.ctrl,
                    8 | 12 => half(e.offset, r),
                    _ => 0,
                }
            }
            o if (regs::IW_BASE..regs::INTWIN_CTRL).contains(&o) => {
                let Some((w, r)) =
                    element(o, regs::IW_BASE, regs::IW_STRIDE, c.in_windows as usize)
                else {
                    return 0;
                };
                let win = node.regs().inbound[w];
                match r {
                    regs::IW_CTRL => win.ctrl,
                    8 | 12 => half(win.addr, r),
                    16 | 20 => half(win.size, r),
                    _ => 0,
                }
            }
            regs::INTWIN_CTRL => node.regs().intwin.ctrl,
            o if (regs::MC_BASE..regs::MC_MEMBERS).contains(&o) => {
                let Some((g, r)) = element(o, regs::MC_BASE, regs::MC_STRIDE, c.multicast.len())
                else {
                    return 0;
                };
                let win = node.regs().mc[g];
                match r {
                    regs::MC_CTRL => win.ctrl,
                    8 | 12 => half(win.addr, r),
                    16 | 20 => half(win.size, r),
                    _ => 0,
                }
            }
            o if (regs::MC_MEMBERS..regs::MC_MEMBERS + 4 * regs::MAX_MC_GROUPS as u64)
                .contains(&o) =>
            {
                let g = ((o - regs::MC_MEMBERS) / 4) as usize;
                c.multicast.get(g).map_or(0, |&m| u32::from(m))
            }
            o if (regs::DMA_BASE
                ..regs::DMA_BASE + regs::DMA_STRIDE * regs::MAX_DMA_CHANNELS as u64)
                .contains(&o) =>
            {
                let Some((ch, r)) =
                    element(o, regs::DMA_BASE, regs::DMA_STRIDE, c.dma_channels as usize)
                else {
                    return 0;
                };
                let d = node.regs().dma[ch];
                let busy = if node.dma.busy(ch) {
                    regs::dma_status::BUSY
                } else {
                    0
                };
                match r {
                    regs::DMA_CTRL => d.ctrl,
                    regs::DMA_STATUS => d.status | busy,
                    8 | 12 => half(d.ring, r),
                    regs::DMA_RING_SIZE => d.ring_size,
                    regs::DMA_HEAD => d.head,
                    regs::DMA_TAIL => d.tail,
                    regs::DMA_ERR_INDEX => d.err_index,
                    regs::DMA_ERR_CODE => d.err_code,
                    _ => 0,
                }
            }
            _ => 0,
        }
    }

    /// Reads in the per-peer block (4.2).
    fn read_peer_block(&self, node: &Node, off: u64) -> u32 {
        let Some((p, r)) = element(off, regs::PEER_BASE, regs::PEER_STRIDE, self.config.nodes)
        else {
            return 0;
        };
        if p == node.id {
            return 0;
        }
        match r {
            regs::PEER_DB => node.regs().db[p],
            regs::PEER_DB_MASK => node.regs().db_mask[p],
            regs::PEER_PEER_DB => self
                .with_peer(node.id, p, off, |peer| peer.regs().db[node.id])
                .unwrap_or(!0),
            r if (regs::PEER_SPAD..regs::PEER_SPAD + 4 * regs::SPADS as u64).contains(&r) => {
                node.regs().spad[p][((r - regs::PEER_SPAD) / 4) as usize]
            }
            r if (regs::PEER_PEER_SPAD..regs::PEER_PEER_SPAD + 4 * regs::SPADS as u64)
                .contains(&r) =>
            {
                let i = ((r - regs::PEER_PEER_SPAD) / 4) as usize;
                self.with_peer(node.id, p, off, |peer| peer.regs().spad[node.id][i])
                    .unwrap_or(!0)
            }
            _ => 0,
        }
    }

    /// Runs `f` on node `to` if the link from `from` is up; otherwise flags
    /// `TARGET_DOWN` at `from` for its access at BAR0 offset `off` and
    /// returns `None`.
    fn with_peer<T>(
        &self,
        from: usize,
        to: usize,
        off: u64,
        f: impl FnOnce(&Node) -> T,
    ) -> Option<T> {
        if !self.link_up(from, to) {
            self.error(from, Err::TargetDown, off, false, to);
            return None;
        }
        self.node(to).map(f)
    }

    fn write32(&self, node: &Node, off: u64, v: u32) {
        let c = &self.config;
        let id = node.id;
        match off {
            regs::LINK_CTRL => {
                node.link_enabled
                    .store(v & regs::LINK_ENABLE != 0, Ordering::SeqCst);
                self.update_links();
            }
            regs::LINK_EVENT => node.regs().link_event &= !v,
            regs::ERR_STATUS => node.regs().err_status &= !v,
            regs::RMMIO_TIMEOUT => node.regs().rmmio_timeout_us = v.clamp(1, 10_000_000),
            regs::MSG_STS => node.regs().msg_sts &= !(v & regs::MSG_STS_BITS),
            regs::MSG_MASK => {
                let raise = {
                    let mut g = node.regs();
                    let unmasked = g.msg_mask & !v;
                    g.msg_mask = v & regs::MSG_STS_BITS;
                    unmasked & g.msg_sts != 0
                };
                if raise {
                    node.raise(regs::vector::MESSAGE);
                }
            }
            o if (regs::PEER_BASE..regs::LUT_BASE).contains(&o) => {
                self.write_peer_block(node, o, v)
            }
            o if (regs::LUT_BASE..regs::IW_BASE).contains(&o) => {
                let Some((s, r)) =
                    element(o, regs::LUT_BASE, regs::LUT_STRIDE, c.lut_slots as usize)
                else {
                    return self.error(id, Err::BadReg, o, false, id);
                };
                match r {
                    regs::LUT_CTRL if v & !regs::lut::DEFINED == 0 => node.regs().lut[s].ctrl = v,
                    8 | 12 => set_half(&mut node.regs().lut[s].offset, r, v),
                    _ => self.error(id, Err::BadReg, o, false, id),
                }
            }
            o if (regs::IW_BASE..regs::INTWIN_CTRL).contains(&o) => {
                let Some((w, r)) =
                    element(o, regs::IW_BASE, regs::IW_STRIDE, c.in_windows as usize)
                else {
                    return self.error(id, Err::BadReg, o, false, id);
                };
                let mut regs_ = node.regs();
                let win = &mut regs_.inbound[w];
                match r {
                    regs::IW_CTRL => {
                        win.ctrl = v & (regs::WIN_ENABLE | 0xFFFF << regs::WIN_PEERS_SHIFT)
                    }
                    8 | 12 => set_half(&mut win.addr, r, v),
                    16 | 20 => set_half(&mut win.size, r, v),
                    _ => {
                        drop(regs_);
                        self.error(id, Err::BadReg, o, false, id)
                    }
                }
            }
            regs::INTWIN_CTRL => {
                node.regs().intwin.ctrl = v & (regs::WIN_ENABLE | 0xFFFF << regs::WIN_PEERS_SHIFT)
            }
            o if (regs::MC_BASE..regs::MC_MEMBERS).contains(&o) => {
                let Some((g, r)) = element(o, regs::MC_BASE, regs::MC_STRIDE, c.multicast.len())
                else {
                    return self.error(id, Err::BadReg, o, false, id);
                };
                let mut regs_ = node.regs();
                let win = &mut regs_.mc[g];
                match r {
                    regs::MC_CTRL => win.ctrl = v & regs::WIN_ENABLE,
                    8 | 12 => set_half(&mut win.addr, r, v),
                    16 | 20 => set_half(&mut win.size, r, v),
                    _ => {
                        drop(regs_);
                        self.error(id, Err::BadReg, o, false, id)
                    }
                }
            }
            o if (regs::DMA_BASE
                ..regs::DMA_BASE + regs::DMA_STRIDE * regs::MAX_DMA_CHANNELS as u64)
                .contains(&o) =>
            {
                let Some((ch, r)) =
                    element(o, regs::DMA_BASE, regs::DMA_STRIDE, c.dma_channels as usize)
                else {
                    return self.error(id, Err::BadReg, o, false, id);
                };
                self.write_dma(node, ch, r, v);
            }
            _ => self.error(id, Err::BadReg, off, false, id),
        }
    }

    fn write_dma(&self, node: &Node, ch: usize, r: u64, v: u32) {
        use regs::dma_ctrl::*;
        match r {
            regs::DMA_CTRL => {
                if v & RESET != 0 {
                    node.dma.reset_channel(ch);
                    let mut g = node.regs();
                    let d = &mut g.dma[ch];
                    *d = super::state::DmaRegs {
                        ring: d.ring,
                        ring_size: d.ring_size,
                        ..Default::default()
                    };
                    return;
                }
                node.regs().dma[ch].ctrl = v & (ENABLE | INT_ENABLE);
                if v & ENABLE != 0 {
                    node.dma.kick(ch);
                }
            }
            regs::DMA_STATUS => {
                node.regs().dma[ch].status &=
                    !(v & (regs::dma_status::ERROR | regs::dma_status::DONE))
            }
            8 | 12 => set_half(&mut node.regs().dma[ch].ring, r, v),
            regs::DMA_RING_SIZE => node.regs().dma[ch].ring_size = v,
            regs::DMA_HEAD => {
                node.regs().dma[ch].head = v;
                node.dma.kick(ch);
            }
            _ => self.error(
                node.id,
                Err::BadReg,
                regs::DMA_BASE + regs::DMA_STRIDE * ch as u64 + r,
                false,
                node.id,
            ),
        }
    }

    /// Writes in the per-peer block (4.2).
    fn write_peer_block(&self, node: &Node, off: u64, v: u32) {
        let id = node.id;
        let Some((p, r)) = element(off, regs::PEER_BASE, regs::PEER_STRIDE, self.config.nodes)
        else {
            return self.error(id, Err::BadReg, off, false, id);
        };
        if p == id {
            return self.error(id, Err::BadReg, off, false, id);
        }
        match r {
            regs::PEER_DB => node.regs().db[p] &= !v,
            r if (regs::PEER_MSG..regs::PEER_MSG + 4 * regs::MSGS as u64).contains(&r) => {
                self.send_message(id, p, ((r - regs::PEER_MSG) / 4) as usize, v);
            }
            regs::PEER_DB_MASK => {
                let raise = {
                    let mut g = node.regs();
                    let unmasked = g.db_mask[p] & !v;
                    g.db_mask[p] = v;
                    unmasked & g.db[p] != 0
                };
                if raise {
                    node.raise(regs::vector::doorbell(p));
                }
            }
            regs::PEER_DB_SET => self.set_doorbell(id, p, v),
            regs::PEER_PEER_DB => self.ring(id, p, v, off),
            r if (regs::PEER_SPAD..regs::PEER_SPAD + 4 * regs::SPADS as u64).contains(&r) => {
                node.regs().spad[p][((r - regs::PEER_SPAD) / 4) as usize] = v;
            }
            r if (regs::PEER_PEER_SPAD..regs::PEER_PEER_SPAD + 4 * regs::SPADS as u64)
                .contains(&r) =>
            {
                let i = ((r - regs::PEER_PEER_SPAD) / 4) as usize;
                self.with_peer(id, p, off, |peer| peer.regs().spad[id][i] = v);
            }
            _ => self.error(id, Err::BadReg, off, false, id),
        }
    }

    /// Node `from` sends `data` through message register `i` to node `to`:
    /// delivered if `to`'s `MSG_IN(i)` is free, else `from` gets `OUT_FAIL(i)`.
    fn send_message(&self, from: usize, to: usize, i: usize, data: u32) {
        let delivered = self.link_up(from, to)
            && self.node(to).is_some_and(|dst| {
                let raise = {
                    let mut g = dst.regs();
                    if g.msg_sts & regs::msg_in_bit(i) != 0 {
                        return false;
                    }
                    g.msg_in[i] = (data, from as u32);
                    g.msg_sts |= regs::msg_in_bit(i);
                    g.msg_mask & regs::msg_in_bit(i) == 0
                };
                if raise {
                    dst.raise(regs::vector::MESSAGE);
                }
                true
            });
        if !delivered {
            let Some(src) = self.node(from) else { return };
            let raise = {
                let mut g = src.regs();
                let new = g.msg_sts & regs::msg_out_fail_bit(i) == 0;
                g.msg_sts |= regs::msg_out_fail_bit(i);
                new && g.msg_mask & regs::msg_out_fail_bit(i) == 0
            };
            if raise {
                src.raise(regs::vector::MESSAGE);
            }
        }
    }

    /// Node `from` rings `bits` on node `to` (a write at BAR0 offset `off`).
    pub(crate) fn ring(&self, from: usize, to: usize, bits: u32, off: u64) {
        let Some(src) = self.node(from) else { return };
        src.counters.db_tx.fetch_add(1, Ordering::Relaxed);
        if !self.link_up(from, to) {
            return self.error(from, Err::TargetDown, off, false, to);
        }
        let Some(dst) = self.node(to) else { return };
        if dst.faults.drop_doorbells.load(Ordering::SeqCst) {
            dst.counters.db_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        dst.counters.db_rx.fetch_add(1, Ordering::Relaxed);
        self.set_doorbell(to, from, bits);
    }

    /// Sets `bits` in node `at`'s doorbell from `from`, interrupting if a
    /// newly set bit is unmasked.
    fn set_doorbell(&self, at: usize, from: usize, bits: u32) {
        let Some(node) = self.node(at) else { return };
        let raise = {
            let mut g = node.regs();
            let new = bits & !g.db[from];
            g.db[from] |= bits;
            new & !g.db_mask[from] != 0
        };
        if raise {
            node.raise(regs::vector::doorbell(from));
        }
    }
}
