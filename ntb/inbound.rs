// SPDX-License-Identifier: GPL-2.0

//! What peers may reach of this node: [`InboundWindow`] (docs/adapter.md,
//! section 4.4: a range of local bus addresses, RAM or device MMIO, open to
//! a set of peers) and [`InterruptWindow`] (section 4.5: which peers may
//! raise this node's remote interrupts).

use crate::{adapter::Adapter, adapter::Pools, regs};
use kernel::{prelude::*, sync::Arc};

/// One inbound window owned by the fabric core; closed and returned to the
/// pool on drop.
///
/// # Invariants
///
/// `index < info().in_windows`, taken in the adapter's pool by this object.
pub struct InboundWindow {
    adapter: Arc<Adapter>,
    index: u32,
}

impl InboundWindow {
    /// Takes a free inbound window (`ENOSPC` if there is none); it starts
    /// closed.
    pub fn alloc(adapter: &Arc<Adapter>) -> Result<Self> {
        let limit = adapter.info().in_windows;
        let index = Pools::take_bit(&mut adapter.pools.lock().inbound, limit).ok_or(ENOSPC)?;
        // INVARIANT: taken just above, below `in_windows`.
        let this = Self {
            adapter: adapter.clone(),
            index,
        };
        this.close()?;
        Ok(this)
    }

    /// Takes inbound window `index` (`EBUSY` if taken or the NTB
    /// device's, `EINVAL` beyond the adapter's windows): for a window
    /// every node must find at the same place (the fabric core's
    /// mailbox). It starts closed.
    pub fn alloc_at(adapter: &Arc<Adapter>, index: u32) -> Result<Self> {
        if index >= adapter.info().in_windows {
            return Err(EINVAL);
        }
        {
            let mut pools = adapter.pools.lock();
            let bit = 1u64 << index;
            if (pools.inbound | pools.ntb_inbound) & bit != 0 {
                return Err(EBUSY);
            }
            pools.inbound |= bit;
        }
        // INVARIANT: taken just above, below `in_windows`.
        let this = Self {
            adapter: adapter.clone(),
            index,
        };
        this.close()?;
        Ok(this)
    }

    /// The window's number, which peers put in their LUT entries.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Opens the window onto local bus addresses `base..base + size` for
    /// the nodes in `peers` (bit n: node n). `base` and `size` must be
    /// 4 KiB multiples, `size` non-zero; `peers` only fabric nodes.
    pub fn open(&self, base: u64, size: u64, peers: u32) -> Result {
        let info = self.adapter.info();
        if base % regs::IW_ALIGN != 0
            || size == 0
            || size % regs::IW_ALIGN != 0
            || base.checked_add(size).is_none()
            || peers & !info.all_nodes() != 0
        {
            return Err(EINVAL);
        }
        let w = self.index;
        self.adapter.with_regs(|r| {
            // Off while it changes; control last (section 4.4).
            r.write(regs::iw_ctrl(w), 0)?;
            r.write64(regs::iw_base(w), base)?;
            r.write64(regs::iw_size(w), size)?;
            r.write(regs::iw_ctrl(w), regs::iw_open(peers))
        })?
    }

    /// Closes the window: peers' accesses are refused (and counted).
    pub fn close(&self) -> Result {
        let w = self.index;
        self.adapter.with_regs(|r| {
            r.write(regs::iw_ctrl(w), 0)?;
            r.write64(regs::iw_base(w), 0)?;
            r.write64(regs::iw_size(w), 0)
        })?
    }
}

impl Drop for InboundWindow {
    fn drop(&mut self) {
        // Fails only once the adapter is gone (nothing to undo then).
        let _ = self.close();
        self.adapter.pools.lock().inbound &= !(1u64 << self.index);
    }
}

/// The adapter's interrupt window: which peers may raise this node's
/// remote interrupts (`USER(k)`, delivered to `Client::remote_interrupt`).
/// One owner at a time; disabled on drop.
pub struct InterruptWindow {
    adapter: Arc<Adapter>,
}

impl InterruptWindow {
    /// Takes the interrupt window (`EBUSY` if taken); it starts disabled.
    pub fn claim(adapter: &Arc<Adapter>) -> Result<Self> {
        {
            let mut pools = adapter.pools.lock();
            if pools.intwin {
                return Err(EBUSY);
            }
            pools.intwin = true;
        }
        let this = Self {
            adapter: adapter.clone(),
        };
        this.allow(0)?;
        Ok(this)
    }

    /// Lets exactly the nodes in `peers` raise remote interrupts here
    /// (0: nobody, the window is disabled).
    pub fn allow(&self, peers: u32) -> Result {
        if peers & !self.adapter.info().all_nodes() != 0 {
            return Err(EINVAL);
        }
        self.adapter.with_regs(|r| r.set_interrupt_window(peers))?
    }
}

impl Drop for InterruptWindow {
    fn drop(&mut self) {
        // Fails only once the adapter is gone (nothing to undo then).
        let _ = self.allow(0);
        self.adapter.pools.lock().intwin = false;
    }
}
