// SPDX-License-Identifier: GPL-2.0

//! The per-peer NTB device: [`PeerNtb`] implements [`NtbOps`] for the pair
//! (this node, one peer node) as docs/ARCHITECTURE.md ("Plan for the NTB
//! driver") lays out, and [`Fabric`] holds what the per-peer devices of one
//! adapter share (the link users, the read-modify-write lock).
//!
//! Every register offset here depends on runtime values (peer id, window,
//! slot), so every access is bounds-checked (`Regs::read`/`Regs::write`) and
//! the indices are checked against the geometry first. Nothing here is
//! unsafe and nothing can panic on values read from the device or passed by
//! an NTB client.

use crate::{
    hw::{Geometry, Regs},
    ntb_ops::{LinkState, Message, MwAlign, NtbOps, PeerDbAddr, PeerMw, Speed, Width},
    regs,
};
use kernel::{bindings, device::Bound, new_spinlock_irq, pci, prelude::*, sync::SpinLockIrq};

/// Memory windows per peer, in each direction.
const MWS: u32 = 2;

/// Index of node `x` among the peers of node `y` (`x != y`).
fn rank(x: u32, y: u32) -> u32 {
    if x < y {
        x
    } else {
        x - 1
    }
}

/// What the per-peer devices of one adapter share.
///
/// The lock serializes the link user set and every read-modify-write of a
/// register (`DB_MASK`, `MSG_MASK`); it disables interrupts because NTB
/// clients change masks from their interrupt callbacks too.
#[pin_data(PinnedDrop)]
pub(crate) struct Fabric<'bound> {
    /// Bit `p`: the device of peer `p` has its link enabled.
    #[pin]
    link_users: SpinLockIrq<u32>,
    regs: &'bound Regs<'bound>,
    pdev: &'bound pci::Device<Bound>,
    node_id: u32,
}

impl<'bound> Fabric<'bound> {
    /// The shared state of the adapter behind `regs`, node `node_id`; the
    /// link starts disabled (no device has enabled it).
    pub(crate) fn new(
        pdev: &'bound pci::Device<Bound>,
        regs: &'bound Regs<'bound>,
        node_id: u32,
    ) -> impl PinInit<Self> + 'bound {
        pin_init!(Self {
            link_users <- new_spinlock_irq!(0, "rsio_ntb_link_users"),
            regs,
            pdev,
            node_id,
        })
    }

    /// Peer `peer`'s device enables (`on`) or disables the link;
    /// `LINK_CTRL.ENABLE` follows "any device enabled it". Idempotent per
    /// device.
    fn set_link_user(&self, peer: u32, on: bool) {
        let mut users = self.link_users.lock();
        let before = *users;
        let bit = 1u32 << (peer % regs::MAX_NODES);
        *users = if on { before | bit } else { before & !bit };
        if before == 0 && *users != 0 {
            self.regs.set_link(true);
            dev_info!(self.pdev, "node {}: link enabled\n", self.node_id);
        } else if before != 0 && *users == 0 {
            self.regs.set_link(false);
            dev_info!(self.pdev, "node {}: link disabled\n", self.node_id);
        }
    }

    /// `reg = (reg | set) & !clear`, atomically with respect to the other
    /// read-modify-writes of this adapter.
    fn update(&self, off: usize, set: u32, clear: u32) -> Result {
        let _guard = self.link_users.lock();
        let v = self.regs.read(off)?;
        self.regs.write(off, (v | set) & !clear)
    }
}

#[pinned_drop]
impl PinnedDrop for Fabric<'_> {
    fn drop(self: Pin<&mut Self>) {
        // The per-peer devices are gone (they drop first, see `NtbHw`):
        // leave the fabric whatever a client left enabled.
        self.regs.set_link(false);
        dev_info!(
            self.pdev,
            "node {}: link disabled, adapter released\n",
            self.node_id
        );
    }
}

/// The NTB device of the pair (this node, node `peer`): a two-port view.
///
/// # Invariants
///
/// `peer != node`, both `< num_nodes`; `first_slot + MWS * slots_per_mw <=
/// lut_slots`, `slots_per_mw >= 1`, `2 * rank(peer, node) + 1 <
/// in_windows`, and the LUT entries of its slots point at the peer's windows
/// for this node (programmed by [`PeerNtb::new`], invalidated on drop).
pub(crate) struct PeerNtb<'bound> {
    regs: &'bound Regs<'bound>,
    fabric: &'bound Fabric<'bound>,
    node: u32,
    peer: u32,
    /// First BAR2 slot of this peer's share.
    first_slot: u32,
    /// Slots per outbound memory window.
    slots_per_mw: u32,
    slot_shift: u32,
    /// Physical address of BAR2.
    bar2_start: u64,
    /// Physical address of BAR0.
    bar0_start: u64,
}

impl<'bound> PeerNtb<'bound> {
    /// The device for peer `peer` of the adapter with geometry `g`; programs
    /// the LUT slots of its outbound windows.
    pub(crate) fn new(
        pdev: &'bound pci::Device<Bound>,
        regs: &'bound Regs<'bound>,
        fabric: &'bound Fabric<'bound>,
        g: &Geometry,
        peer: u32,
        bar0_start: u64,
        bar2: (u64, u64),
    ) -> Result<Self> {
        let node = g.node_id;
        if peer == node || peer >= g.num_nodes || g.num_nodes < 2 {
            return Err(EINVAL);
        }
        let peers = g.num_nodes - 1;
        let lut_slots = g.lut_slots.min(regs::MAX_LUT_SLOTS);
        let slots_per_mw = lut_slots / peers / MWS;
        let first_slot = rank(peer, node) * slots_per_mw * MWS;
        // Windows this node gives the peer, and the peer gives this node
        // (same geometry on every node of a fabric).
        let max_window = 2 * rank(peer, node).max(rank(node, peer)) + 1;
        let slot_size = 1u64.checked_shl(g.slot_shift).ok_or(EINVAL)?;
        let share = u64::from(lut_slots).checked_mul(slot_size).ok_or(EINVAL)?;
        if slots_per_mw == 0
            || max_window >= g.in_windows.min(regs::MAX_IN_WINDOWS)
            || g.slot_shift < 12
            || bar2.1 < share
        {
            dev_err!(
                pdev,
                "peer {}: adapter geometry too small for two memory windows per peer ({} LUT slots of 2^{}, {} inbound windows, BAR2 {:#x} bytes)\n",
                peer, g.lut_slots, g.slot_shift, g.in_windows, bar2.1
            );
            return Err(ENODEV);
        }
        // INVARIANT: checked just above; the LUT is programmed below, and
        // `drop` undoes it if programming fails half-way.
        let this = Self {
            regs,
            fabric,
            node,
            peer,
            first_slot,
            slots_per_mw,
            slot_shift: g.slot_shift,
            bar2_start: bar2.0,
            bar0_start,
        };
        let window_at_peer = 2 * rank(node, peer);
        for w in 0..MWS {
            for i in 0..slots_per_mw {
                let s = first_slot + w * slots_per_mw + i;
                regs.write64(regs::lut_offset(s), u64::from(i) << g.slot_shift)?;
                regs.write(
                    regs::lut_ctrl(s),
                    regs::lut_memory(peer, window_at_peer + w),
                )?;
            }
        }
        Ok(this)
    }

    /// The peer node this device talks to.
    pub(crate) fn peer(&self) -> u32 {
        self.peer
    }

    /// Checks a peer index from a client: this device has peer 0 only.
    fn check_pidx(pidx: u32) -> Result {
        if pidx == 0 {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    /// The inbound window of this node that backs memory window `widx` of
    /// the peer.
    fn in_window(&self, widx: u32) -> Result<u32> {
        if widx >= MWS {
            return Err(EINVAL);
        }
        Ok(2 * rank(self.peer, self.node) + widx)
    }

    /// Size of each outbound window (and the largest inbound window the
    /// peer can reach, by the same geometry).
    fn mw_size(&self) -> u64 {
        u64::from(self.slots_per_mw) << self.slot_shift
    }

    fn spad_index(sidx: u32) -> Result<u32> {
        if sidx < regs::SPAD_COUNT {
            Ok(sidx)
        } else {
            Err(EINVAL)
        }
    }

    fn msg_index(midx: u32) -> Result<u32> {
        if midx < regs::MSG_COUNT {
            Ok(midx)
        } else {
            Err(EINVAL)
        }
    }

    /// The doorbell bits of a client's 64-bit mask, or `EINVAL` if it names
    /// bits that do not exist.
    fn db_bits(bits: u64) -> Result<u32> {
        u32::try_from(bits).map_err(|_| EINVAL)
    }
}

impl Drop for PeerNtb<'_> {
    fn drop(&mut self) {
        // The device is unregistered (`NtbDev` unregisters before its `hw`
        // drops): no client uses the windows any more. Best effort: an
        // offset is only out of range if the invariant is broken.
        for s in self.first_slot..self.first_slot + MWS * self.slots_per_mw {
            let _ = self.regs.write(regs::lut_ctrl(s), 0);
        }
        for widx in 0..MWS {
            if let Ok(w) = self.in_window(widx) {
                let _ = self.regs.write(regs::iw_ctrl(w), 0);
            }
        }
    }
}

#[vtable]
impl NtbOps for PeerNtb<'_> {
    fn port_number(&self) -> u32 {
        self.node
    }

    fn peer_port_count(&self) -> u32 {
        1
    }

    fn peer_port_number(&self, pidx: u32) -> Result<u32> {
        Self::check_pidx(pidx)?;
        Ok(self.peer)
    }

    fn peer_port_idx(&self, port: u32) -> Result<u32> {
        if port == self.peer {
            Ok(0)
        } else {
            Err(EINVAL)
        }
    }

    fn link_is_up(&self) -> LinkState {
        let up = self.regs.link_status() & (1u32 << self.peer) != 0;
        // The fabric has no PCIe generation or lane count to report: "auto"
        // while up (the value ntb.h has for "whatever the hardware does"),
        // "none" while down.
        let (speed, width) = if up {
            (
                Speed(crate::bindings::ntb_speed_NTB_SPEED_AUTO),
                Width(crate::bindings::ntb_width_NTB_WIDTH_AUTO),
            )
        } else {
            (Speed::NONE, Width::NONE)
        };
        LinkState {
            peers_up: u64::from(up),
            speed,
            width,
        }
    }

    fn link_enable(&self, _max_speed: Speed, _max_width: Width) -> Result {
        // No speed or width to limit on this fabric.
        self.fabric.set_link_user(self.peer, true);
        Ok(())
    }

    fn link_disable(&self) -> Result {
        self.fabric.set_link_user(self.peer, false);
        Ok(())
    }

    fn mw_count(&self, pidx: u32) -> Result<u32> {
        Self::check_pidx(pidx)?;
        Ok(MWS)
    }

    fn mw_get_align(&self, pidx: u32, widx: u32) -> Result<MwAlign> {
        Self::check_pidx(pidx)?;
        self.in_window(widx)?;
        Ok(MwAlign {
            addr_align: regs::IW_ALIGN,
            size_align: regs::IW_ALIGN,
            size_max: self.mw_size(),
        })
    }

    fn mw_set_trans(&self, pidx: u32, widx: u32, addr: bindings::dma_addr_t, size: u64) -> Result {
        Self::check_pidx(pidx)?;
        let w = self.in_window(widx)?;
        if addr % regs::IW_ALIGN != 0
            || size == 0
            || size % regs::IW_ALIGN != 0
            || size > self.mw_size()
            || addr.checked_add(size).is_none()
        {
            return Err(EINVAL);
        }
        // Translation registers first, the control register last (section
        // 4): the window is off while it changes.
        self.regs.write(regs::iw_ctrl(w), 0)?;
        self.regs.write64(regs::iw_base(w), addr)?;
        self.regs.write64(regs::iw_size(w), size)?;
        self.regs.write(
            regs::iw_ctrl(w),
            regs::IW_ENABLE | (1u32 << (16 + self.peer)),
        )
    }

    fn mw_clear_trans(&self, pidx: u32, widx: u32) -> Result {
        Self::check_pidx(pidx)?;
        let w = self.in_window(widx)?;
        self.regs.write(regs::iw_ctrl(w), 0)?;
        self.regs.write64(regs::iw_base(w), 0)?;
        self.regs.write64(regs::iw_size(w), 0)
    }

    fn peer_mw_count(&self) -> u32 {
        MWS
    }

    fn peer_mw_get_addr(&self, widx: u32) -> Result<PeerMw> {
        if widx >= MWS {
            return Err(EINVAL);
        }
        let slot = u64::from(self.first_slot + widx * self.slots_per_mw);
        Ok(PeerMw {
            base: self
                .bar2_start
                .checked_add(slot << self.slot_shift)
                .ok_or(ERANGE)?,
            size: self.mw_size(),
        })
    }

    fn db_valid_mask(&self) -> u64 {
        u64::from(regs::DB_BITS)
    }

    fn db_vector_count(&self) -> u32 {
        1
    }

    fn db_vector_mask(&self, vector: u32) -> u64 {
        if vector == 0 {
            u64::from(regs::DB_BITS)
        } else {
            0
        }
    }

    fn db_read(&self) -> u64 {
        self.regs.read(regs::db(self.peer)).map_or(0, u64::from)
    }

    fn db_clear(&self, bits: u64) -> Result {
        self.regs.write(regs::db(self.peer), Self::db_bits(bits)?)
    }

    fn db_set_mask(&self, bits: u64) -> Result {
        self.fabric
            .update(regs::db_mask(self.peer), Self::db_bits(bits)?, 0)
    }

    fn db_clear_mask(&self, bits: u64) -> Result {
        self.fabric
            .update(regs::db_mask(self.peer), 0, Self::db_bits(bits)?)
    }

    fn peer_db_set(&self, bits: u64) -> Result {
        self.regs
            .write(regs::peer_db(self.peer), Self::db_bits(bits)?)
    }

    fn peer_db_addr(&self, db_bit: u32) -> Result<PeerDbAddr> {
        if db_bit >= 32 {
            return Err(EINVAL);
        }
        Ok(PeerDbAddr {
            // In BAR0: bounded by `BAR0_SIZE` (the peer id is < 16).
            addr: self
                .bar0_start
                .checked_add(regs::peer_db(self.peer) as u64)
                .ok_or(ERANGE)?,
            size: 4,
            data: 1u64 << db_bit,
        })
    }

    fn spad_count(&self) -> u32 {
        regs::SPAD_COUNT
    }

    fn spad_read(&self, sidx: u32) -> u32 {
        Self::spad_index(sidx)
            .and_then(|s| self.regs.read(regs::spad(self.peer, s)))
            .unwrap_or(0)
    }

    fn spad_write(&self, sidx: u32, val: u32) -> Result {
        self.regs
            .write(regs::spad(self.peer, Self::spad_index(sidx)?), val)
    }

    fn peer_spad_read(&self, pidx: u32, sidx: u32) -> u32 {
        Self::check_pidx(pidx)
            .and_then(|()| Self::spad_index(sidx))
            .and_then(|s| self.regs.read(regs::peer_spad(self.peer, s)))
            .unwrap_or(0)
    }

    fn peer_spad_write(&self, pidx: u32, sidx: u32, val: u32) -> Result {
        Self::check_pidx(pidx)?;
        self.regs
            .write(regs::peer_spad(self.peer, Self::spad_index(sidx)?), val)
    }

    fn msg_count(&self) -> u32 {
        regs::MSG_COUNT
    }

    fn msg_inbits(&self) -> u64 {
        u64::from(regs::MSG_IN_BITS)
    }

    fn msg_outbits(&self) -> u64 {
        u64::from(regs::MSG_OUT_BITS)
    }

    fn msg_read_sts(&self) -> u64 {
        let Ok(sts) = self.regs.read(regs::MSG_STS) else {
            return 0;
        };
        let sts = sts & (regs::MSG_IN_BITS | regs::MSG_OUT_BITS);
        // Inbound messages are this device's only if its peer sent them.
        let mut mine = sts & regs::MSG_OUT_BITS;
        for i in 0..regs::MSG_COUNT {
            if sts & (1 << i) != 0 && self.regs.read(regs::msg_src(i)).ok() == Some(self.peer) {
                mine |= 1 << i;
            }
        }
        u64::from(mine)
    }

    fn msg_clear_sts(&self, bits: u64) -> Result {
        let bits = u32::try_from(bits).map_err(|_| EINVAL)?;
        self.regs.write(
            regs::MSG_STS,
            bits & (regs::MSG_IN_BITS | regs::MSG_OUT_BITS),
        )
    }

    fn msg_set_mask(&self, bits: u64) -> Result {
        let bits = u32::try_from(bits).map_err(|_| EINVAL)?;
        self.fabric.update(
            regs::MSG_MASK,
            bits & (regs::MSG_IN_BITS | regs::MSG_OUT_BITS),
            0,
        )
    }

    fn msg_clear_mask(&self, bits: u64) -> Result {
        let bits = u32::try_from(bits).map_err(|_| EINVAL)?;
        self.fabric.update(
            regs::MSG_MASK,
            0,
            bits & (regs::MSG_IN_BITS | regs::MSG_OUT_BITS),
        )
    }

    fn msg_read(&self, midx: u32) -> Result<Message> {
        let m = Self::msg_index(midx)?;
        let src = self.regs.read(regs::msg_src(m))?;
        if src != self.peer {
            // Another peer's message (or none): not this device's.
            return Err(ENOENT);
        }
        Ok(Message {
            pidx: 0,
            data: self.regs.read(regs::msg_in(m))?,
        })
    }

    fn peer_msg_write(&self, pidx: u32, midx: u32, msg: u32) -> Result {
        Self::check_pidx(pidx)?;
        self.regs
            .write(regs::peer_msg(self.peer, Self::msg_index(midx)?), msg)
    }
}
