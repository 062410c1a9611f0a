// SPDX-License-Identifier: GPL-2.0

//! [`McGroup`]: receiving a multicast group (docs/adapter.md, sections 4.5
//! and 5): writes any member sends through a `MULTICAST` LUT slot land in
//! every receiving member's buffer. Membership is fabric configuration
//! (`MC_MEMBERS`); a node chooses whether and where it receives.

use crate::{
    adapter::{Adapter, Pools},
    regs,
};
use kernel::{prelude::*, sync::Arc};

/// Multicast group `group` of this adapter, owned by the fabric core;
/// receiving stops on drop.
///
/// # Invariants
///
/// `group < info().mc_groups`, taken in the adapter's pool by this object.
pub struct McGroup {
    adapter: Arc<Adapter>,
    group: u32,
}

impl McGroup {
    /// Takes group `group` (`EINVAL` if it does not exist, `EBUSY` if it is
    /// taken); it starts not receiving.
    pub fn claim(adapter: &Arc<Adapter>, group: u32) -> Result<Self> {
        if group >= adapter.info().mc_groups {
            return Err(EINVAL);
        }
        Pools::claim_bit(&mut adapter.pools.lock().mc, group)?;
        // INVARIANT: checked and taken above.
        let this = Self {
            adapter: adapter.clone(),
            group,
        };
        this.stop()?;
        Ok(this)
    }

    /// The group's number.
    pub fn group(&self) -> u32 {
        self.group
    }

    /// The group's members (bit n: node n), as the fabric configures them.
    pub fn members(&self) -> Result<u32> {
        let g = self.group;
        self.adapter.with_regs(|r| r.read(regs::mc_members(g)))?
    }

    /// Receives the group's writes into local RAM `base..base + size`.
    pub fn receive(&self, base: u64, size: u64) -> Result {
        if size == 0 || base.checked_add(size).is_none() {
            return Err(EINVAL);
        }
        let g = self.group;
        self.adapter.with_regs(|r| {
            r.write(regs::mc_ctrl(g), 0)?;
            r.write64(regs::mc_base(g), base)?;
            r.write64(regs::mc_size(g), size)?;
            r.write(regs::mc_ctrl(g), regs::MC_ENABLE)
        })?
    }

    /// Stops receiving: members' writes miss this node (their senders set
    /// `ERR.MC`).
    pub fn stop(&self) -> Result {
        let g = self.group;
        self.adapter.with_regs(|r| r.write(regs::mc_ctrl(g), 0))?
    }
}

impl Drop for McGroup {
    fn drop(&mut self) {
        // Fails only once the adapter is gone (nothing to undo then).
        let _ = self.stop();
        self.adapter.pools.lock().mc &= !(1 << self.group);
    }
}
