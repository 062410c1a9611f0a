//! BAR2, the translated window (docs/adapter.md section 5), and the bus
//! address resolution the DMA engine shares with it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::rmmio::RmmioError;
use super::state::LutTarget;
use super::Fabric;
use crate::adapter::regs::{self, Err};

/// Where an access through one LUT slot ends up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// Node `node`'s RAM at `addr`.
    Ram { node: usize, addr: u64 },
    /// Node `node`'s bus (not RAM) at `addr`: remote MMIO.
    Mmio { node: usize, addr: u64 },
    /// Remote interrupt `k`'s register on node `node` (`k` from the offset).
    Interrupt { node: usize, offset: u64 },
    /// Multicast group `group` at `offset` into each member's buffer.
    Multicast { group: usize, offset: u64 },
    /// Chassis `node`'s management block at `offset`.
    Mgmt { node: usize, offset: u64 },
}

impl Fabric {
    /// Resolves `len` bytes at BAR2 offset `off` of node `src` (within one
    /// slot) to their target, applying the target's inbound checks.
    ///
    /// # Errors
    ///
    /// The `ERR_STATUS` bit to flag; the caller flags it.
    pub(crate) fn resolve(&self, src: usize, off: u64, len: u64) -> Result<Resolved, (Err, usize)> {
        let shift = self.config.slot_shift;
        let slot = (off >> shift) as usize;
        let o = off & ((1 << shift) - 1);
        if o + len > 1 << shift {
            return Err((Err::Unmapped, src));
        }
        let node = self.node(src).ok_or((Err::Unmapped, src))?;
        let entry = node
            .regs()
            .lut
            .get(slot)
            .copied()
            .ok_or((Err::Unmapped, src))?;
        match entry.target().ok_or((Err::Unmapped, src))? {
            LutTarget::Memory {
                node: t,
                window,
                offset,
            } => {
                self.reachable(src, t)?;
                let target = self.node(t).ok_or((Err::Unmapped, src))?;
                let win = target.regs().inbound.get(window).copied();
                let local = win
                    .filter(|w| w.admits(src))
                    .and_then(|w| w.translate(offset.wrapping_add(o), len));
                let Some(addr) = local else {
                    target.counters.refused.fetch_add(1, Ordering::Relaxed);
                    return Err((Err::Refused, t));
                };
                if target.chassis.is_some() && window == regs::mgmt::WINDOW {
                    // Served by the chassis adapter itself.
                    let base = win.map_or(0, |w| w.addr);
                    return Ok(Resolved::Mgmt {
                        node: t,
                        offset: addr.wrapping_sub(base),
                    });
                }
                if self.memory.locate(t, addr, len).is_ok() {
                    Ok(Resolved::Ram { node: t, addr })
                } else {
                    Ok(Resolved::Mmio { node: t, addr })
                }
            }
            LutTarget::Interrupt { node: t } => {
                self.reachable(src, t)?;
                Ok(Resolved::Interrupt { node: t, offset: o })
            }
            LutTarget::Multicast { group, offset } => {
                if group >= self.config.multicast.len() {
                    return Err((Err::Unmapped, src));
                }
                Ok(Resolved::Multicast {
                    group,
                    offset: offset.wrapping_add(o),
                })
            }
        }
    }

    /// Checks node `t` can be reached from `src` (its own node counts).
    fn reachable(&self, src: usize, t: usize) -> Result<(), (Err, usize)> {
        let loopback = src == t && self.node(t).is_some_and(|n| n.present());
        if loopback || self.link_up(src, t) {
            Ok(())
        } else {
            Err((Err::TargetDown, t))
        }
    }

    /// A guest read of BAR2 on node `src`.
    pub fn bar2_read(&self, src: usize, off: u64, data: &mut [u8]) {
        if !self.window_prologue(src) {
            return data.fill(0xFF);
        }
        if let Err((e, t)) = self.window_read(src, off, data) {
            self.error(src, e, off, false, t);
            data.fill(0xFF);
        }
    }

    /// A guest write of BAR2 on node `src`.
    pub fn bar2_write(&self, src: usize, off: u64, data: &[u8]) {
        if !self.window_prologue(src) {
            return;
        }
        if let Err((e, t)) = self.window_write(src, off, data) {
            self.error(src, e, off, false, t);
        }
    }

    /// Applies injected faults and counts the access; false if the source
    /// adapter is dead.
    fn window_prologue(&self, src: usize) -> bool {
        let Some(node) = self.node(src) else {
            return false;
        };
        if node.faults.killed.load(Ordering::SeqCst) {
            return false;
        }
        node.counters.tx.fetch_add(1, Ordering::Relaxed);
        let latency = node.faults.latency_us.load(Ordering::Relaxed);
        if latency > 0 {
            std::thread::sleep(Duration::from_micros(latency.into()));
        }
        true
    }

    /// Reads through BAR2 (within one slot).
    pub(crate) fn window_read(
        &self,
        src: usize,
        off: u64,
        data: &mut [u8],
    ) -> Result<(), (Err, usize)> {
        match self.resolve(src, off, data.len() as u64)? {
            Resolved::Ram { node, addr } => self
                .memory
                .read(node, addr, data)
                .map_err(|_| (Err::Refused, node)),
            Resolved::Mmio { node, addr } => self.remote_read(src, node, addr, data),
            Resolved::Mgmt { node, offset } => {
                self.mgmt_read(node, offset, data);
                Ok(())
            }
            // Write-only targets read as all-ones, without an error.
            Resolved::Interrupt { .. } | Resolved::Multicast { .. } => {
                data.fill(0xFF);
                Ok(())
            }
        }
    }

    /// Writes through BAR2 (within one slot).
    pub(crate) fn window_write(
        &self,
        src: usize,
        off: u64,
        data: &[u8],
    ) -> Result<(), (Err, usize)> {
        match self.resolve(src, off, data.len() as u64)? {
            Resolved::Ram { node, addr } => self
                .memory
                .write(node, addr, data)
                .map_err(|_| (Err::Refused, node)),
            Resolved::Mmio { node, addr } => {
                let target = self.node(node).ok_or((Err::RmmioFail, node))?;
                target.counters.rmmio.fetch_add(1, Ordering::Relaxed);
                target.rmmio.write(addr, data);
                Ok(())
            }
            Resolved::Interrupt { node, offset } => {
                self.remote_interrupt(src, node, offset, data.len())
            }
            Resolved::Multicast { group, offset } => self.multicast(src, group, offset, data),
            Resolved::Mgmt { node, offset } => {
                self.mgmt_write(node, src, offset, data);
                Ok(())
            }
        }
    }

    fn remote_read(
        &self,
        src: usize,
        t: usize,
        addr: u64,
        data: &mut [u8],
    ) -> Result<(), (Err, usize)> {
        let timeout = self.node(src).map_or(regs::RMMIO_TIMEOUT_DEFAULT_US, |n| {
            n.regs().rmmio_timeout_us
        });
        let target = self.node(t).ok_or((Err::RmmioFail, t))?;
        target.counters.rmmio.fetch_add(1, Ordering::Relaxed);
        if target.faults.stall_mmio.load(Ordering::SeqCst) {
            // No completion comes: the reader's adapter waits out its timeout.
            std::thread::sleep(Duration::from_micros(timeout.into()));
            return Err((Err::RmmioTimeout, t));
        }
        target
            .rmmio
            .read(addr, data, Duration::from_micros(timeout.into()))
            .map_err(|e| match e {
                RmmioError::Bus => (Err::RmmioFail, t),
                RmmioError::Timeout => (Err::RmmioTimeout, t),
            })
    }

    fn remote_interrupt(
        &self,
        src: usize,
        t: usize,
        offset: u64,
        len: usize,
    ) -> Result<(), (Err, usize)> {
        let k = (offset / 4) as usize;
        if len != 4 || !offset.is_multiple_of(4) || k >= regs::USER_VECTORS {
            return Err((Err::Refused, t));
        }
        let target = self.node(t).ok_or((Err::Refused, t))?;
        if !target.regs().intwin.admits(src) {
            target.counters.refused.fetch_add(1, Ordering::Relaxed);
            return Err((Err::Refused, t));
        }
        target.raise(regs::vector::user(k));
        Ok(())
    }

    /// Delivers a multicast write to every enabled member.
    pub(crate) fn multicast(
        &self,
        src: usize,
        group: usize,
        offset: u64,
        data: &[u8],
    ) -> Result<(), (Err, usize)> {
        let members = self.config.multicast[group];
        let mut missed = None;
        for m in (0..self.config.nodes).filter(|m| members & (1 << m) != 0) {
            let delivered = self.reachable(src, m).is_ok()
                && self.node(m).is_some_and(|node| {
                    let win = node.regs().mc[group];
                    win.ctrl & regs::WIN_ENABLE != 0
                        && win
                            .translate(offset, data.len() as u64)
                            .is_some_and(|addr| self.memory.write(m, addr, data).is_ok())
                });
            if !delivered {
                missed.get_or_insert(m);
            }
        }
        match missed {
            Some(m) => Err((Err::Multicast, m)),
            None => Ok(()),
        }
    }
}
