// SPDX-License-Identifier: GPL-2.0

//! The adapter's NTB device: [`FabricNtb`] implements [`NtbOps`] for one
//! multi-port `ntb_dev` per adapter, a port per fabric node, in the model
//! Linux's multi-port NTB API has (the IDT switches' driver): the port
//! number is the node id, the peers are the other nodes in ascending order
//! (peer index `pidx` is node `pidx` below this node, `pidx + 1` above).
//!
//! What maps onto the adapter how (docs/ntb-driver.md has the full table):
//!
//! - Inbound memory windows: `mws` per peer, each an inbound window of its
//!   own (`pidx * mws + widx`), open to that peer only.
//! - Outbound memory windows: `mws` in all, each a run of LUT slots.
//!   `peer_mw_set_trans(pidx, widx)` points window `widx` at peer `pidx`'s
//!   inbound window `widx` for this node (the index is the same on both
//!   sides, as multi-port clients expect); until then, and after
//!   `peer_mw_clear_trans`, window `widx` targets peer `(mws - 1 - widx) %
//!   peers` (the windows `ntb_msi` reserves: the last one for peer 0, and so
//!   on), which on two nodes is the only peer.
//! - Doorbells: one logical 32-bit register, as on multi-port hardware:
//!   ringing sends the bits to every peer whose link is up; reading ORs the
//!   bits every peer rang; clearing and masking apply to all peers. One
//!   interrupt vector per peer (`DB(p)` is vector `pidx`).
//! - Scratchpads: the adapter has 16 per pair of nodes; Linux's local
//!   scratchpads (`spad_read(sidx)` without a peer) are one array shared by
//!   all peers, which per-pair registers cannot be. So they are offered on a
//!   two-node fabric only; with more nodes, clients use messages.
//! - Messages: native multi-port (the adapter records each message's
//!   source node).
//!
//! Every register offset here depends on runtime values (peer, window,
//! slot), so every access is bounds-checked (`Regs::read`/`Regs::write`)
//! and indices are checked against the geometry first. Nothing here is
//! unsafe and nothing can panic on values read from the device or passed by
//! an NTB client.

use crate::{
    adapter::{Adapter, LinkUser},
    hw::{Geometry, Regs},
    regs,
};
use kernel::{new_mutex, prelude::*, sync::Mutex};
use rsio_kernel::ntb::{LinkState, Message, MwAlign, NtbOps, PeerDbAddr, PeerMw, Speed, Width};

/// Most outbound windows (and inbound windows per peer) the device offers.
const MAX_MWS: u32 = 16;

/// The bit of node `node` in the adapter's node masks (`LINK_STATUS`,
/// `IW_CTRL.PEERS` >> 16).
fn node_bit(node: u32) -> u32 {
    1u32 << (node % regs::MAX_NODES)
}

/// Index of node `x` among the peers of node `y` (`x != y`): `x`'s peer
/// index on node `y`.
pub(crate) fn rank(x: u32, y: u32) -> u32 {
    if x < y {
        x
    } else {
        x - 1
    }
}

/// How the device lays the adapter's resources out; the same on every
/// node of a fabric (the geometry is fabric configuration).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    /// This node.
    pub(crate) node: u32,
    /// Nodes in the fabric (>= 2).
    pub(crate) nodes: u32,
    /// Outbound windows, and inbound windows per peer.
    pub(crate) mws: u32,
    /// LUT slots per outbound window (>= 1); the windows take slots
    /// `0..mws * slots_per_mw`.
    pub(crate) slots_per_mw: u32,
    /// log2 of a LUT slot's size.
    pub(crate) slot_shift: u32,
}

impl Layout {
    /// The layout for the geometry `g` and a BAR2 of `bar2_len` bytes, or
    /// why there is none.
    pub(crate) fn new(g: &Geometry, bar2_len: u64) -> Result<Self, &'static str> {
        if g.num_nodes < 2 || g.node_id >= g.num_nodes || g.num_nodes > regs::MAX_NODES {
            return Err("node id or node count out of range");
        }
        let peers = g.num_nodes - 1;
        // The NTB device's share: the first half of the LUT slots and of
        // the inbound windows; the fabric core allocates from the rest.
        let in_windows = g.in_windows.min(regs::MAX_IN_WINDOWS) / 2;
        let lut_slots = g.lut_slots.min(regs::MAX_LUT_SLOTS) / 2;
        // One window per port is what ntb_perf needs on a multi-port device
        // (it uses window number "global port index"), two at least (what
        // ntb_transport and ntb_msi want on two nodes), fewer if the
        // inbound windows run out.
        let mws = g
            .num_nodes
            .max(2)
            .min(in_windows / peers)
            .min(lut_slots)
            .min(MAX_MWS);
        if mws == 0 {
            return Err("fewer inbound windows than peers");
        }
        if g.slot_shift < 12 || g.slot_shift > 40 {
            return Err("LUT slot size out of range");
        }
        let slots_per_mw = lut_slots / mws;
        let share = u64::from(slots_per_mw * mws) << g.slot_shift;
        if bar2_len < share {
            return Err("BAR2 smaller than its LUT slots");
        }
        Ok(Self {
            node: g.node_id,
            nodes: g.num_nodes,
            mws,
            slots_per_mw,
            slot_shift: g.slot_shift,
        })
    }

    /// Peers of this node.
    pub(crate) fn peers(&self) -> u32 {
        self.nodes - 1
    }

    /// The node of peer index `pidx`.
    pub(crate) fn peer_node(&self, pidx: u32) -> Result<u32> {
        if pidx >= self.peers() {
            return Err(EINVAL);
        }
        Ok(if pidx < self.node { pidx } else { pidx + 1 })
    }

    /// The peer index of node `node`.
    pub(crate) fn peer_index(&self, node: u32) -> Result<u32> {
        if node == self.node || node >= self.nodes {
            return Err(EINVAL);
        }
        Ok(rank(node, self.node))
    }

    /// Size of every memory window (outbound; inbound at most).
    pub(crate) fn mw_size(&self) -> u64 {
        u64::from(self.slots_per_mw) << self.slot_shift
    }

    /// The inbound window that backs memory window `widx` of peer `pidx`.
    pub(crate) fn in_window(&self, pidx: u32, widx: u32) -> Result<u32> {
        if pidx >= self.peers() || widx >= self.mws {
            return Err(EINVAL);
        }
        Ok(pidx * self.mws + widx)
    }

    /// The peer outbound window `widx` targets unless a client retargets it.
    pub(crate) fn default_target(&self, widx: u32) -> u32 {
        // `mws >= 1` and `peers() >= 1` (`new`); checked anyway, so that no
        // division can panic.
        let from_end = self
            .mws
            .saturating_sub(1)
            .saturating_sub(widx.checked_rem(self.mws).unwrap_or(0));
        from_end.checked_rem(self.peers()).unwrap_or(0)
    }

    /// The LUT slots of outbound window `widx`.
    fn slots(&self, widx: u32) -> core::ops::Range<u32> {
        let first = widx * self.slots_per_mw;
        first..first + self.slots_per_mw
    }
}

/// The adapter's NTB device.
///
/// # Invariants
///
/// `layout` is a [`Layout::new`] result for this adapter: its windows and
/// slots exist. Outbound window `w`'s LUT slots point at peer
/// `targets[w]`'s inbound window for this node and `w` (programmed at
/// creation and by `peer_mw_*_trans` under the `targets` lock, invalidated
/// on drop).
#[pin_data(PinnedDrop)]
pub(crate) struct FabricNtb<'bound> {
    regs: Regs<'bound>,
    adapter: &'bound Adapter,
    layout: Layout,
    /// Peer index each outbound window targets; serializes LUT changes.
    #[pin]
    targets: Mutex<[u8; MAX_MWS as usize]>,
    /// Physical address of BAR2.
    bar2_start: u64,
    /// Physical address of BAR0.
    bar0_start: u64,
}

impl<'bound> FabricNtb<'bound> {
    /// The device of the adapter behind `regs`, laid out as `layout`;
    /// programs the LUT slots of its outbound windows.
    pub(crate) fn new(
        regs: Regs<'bound>,
        adapter: &'bound Adapter,
        layout: Layout,
        bar0_start: u64,
        bar2_start: u64,
    ) -> impl PinInit<Self, Error> + 'bound {
        let mut targets = [0u8; MAX_MWS as usize];
        for (w, t) in (0..layout.mws).zip(targets.iter_mut()) {
            // < peers <= 15.
            *t = layout.default_target(w) as u8;
        }
        try_pin_init!(Self {
            regs,
            adapter,
            layout,
            targets <- new_mutex!(targets, "rsio_ntb_mw_targets"),
            bar2_start,
            bar0_start,
            _: {
                // INVARIANT: the targets above, programmed here. A failure
                // half-way does not run `drop`: undo it here.
                let programmed = (0..layout.mws)
                    .try_for_each(|w| program_window(*regs, layout, w, layout.default_target(w)));
                if let Err(e) = programmed {
                    clear_windows(*regs, layout);
                    return Err(e);
                }
            },
        })
    }

    /// The layout.
    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The doorbell bits of a client's 64-bit mask, or `EINVAL` if it names
    /// bits that do not exist.
    fn db_bits(bits: u64) -> Result<u32> {
        u32::try_from(bits).map_err(|_| EINVAL)
    }

    /// The nodes of all peers.
    fn peer_nodes(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.layout.peers()).filter_map(|p| self.layout.peer_node(p).ok())
    }

    /// Per-pair scratchpads exist as Linux's scratchpads on two nodes only
    /// (see the module documentation).
    fn spad_index(&self, sidx: u32) -> Result<u32> {
        if self.layout.peers() == 1 && sidx < regs::SPAD_COUNT {
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
}

/// Points the LUT slots of outbound window `widx` at peer `pidx`'s inbound
/// window for (this node, `widx`).
fn program_window(regs: Regs<'_>, layout: &Layout, widx: u32, pidx: u32) -> Result {
    let peer = layout.peer_node(pidx)?;
    let window_at_peer = rank(layout.node, peer) * layout.mws + widx;
    for (i, s) in layout.slots(widx).enumerate() {
        // Offset first, control last (section 4.3): each slot switches at
        // once.
        regs.write64(regs::lut_offset(s), (i as u64) << layout.slot_shift)?;
        regs.write(regs::lut_ctrl(s), regs::lut_memory(peer, window_at_peer))?;
    }
    Ok(())
}

#[pinned_drop]
impl PinnedDrop for FabricNtb<'_> {
    fn drop(self: Pin<&mut Self>) {
        // The device is unregistered (`HwRegistration` unregisters before its `hw`
        // drops): no client uses the windows any more.
        clear_windows(self.regs, &self.layout);
    }
}

/// Invalidates the LUT slots of every outbound window and disables every
/// inbound window of `layout`. Best effort: an offset is only out of range
/// if `layout` does not fit the adapter.
fn clear_windows(regs: Regs<'_>, layout: &Layout) {
    for w in 0..layout.mws {
        for s in layout.slots(w) {
            let _ = regs.write(regs::lut_ctrl(s), 0);
        }
    }
    for p in 0..layout.peers() {
        for w in 0..layout.mws {
            if let Ok(iw) = layout.in_window(p, w) {
                let _ = regs.write(regs::iw_ctrl(iw), 0);
            }
        }
    }
}

#[vtable]
impl NtbOps for FabricNtb<'_> {
    fn port_number(&self) -> u32 {
        self.layout.node
    }

    fn peer_port_count(&self) -> u32 {
        self.layout.peers()
    }

    fn peer_port_number(&self, pidx: u32) -> Result<u32> {
        self.layout.peer_node(pidx)
    }

    fn peer_port_idx(&self, port: u32) -> Result<u32> {
        self.layout.peer_index(port)
    }

    fn link_is_up(&self) -> LinkState {
        let status = self.regs.link_status();
        let mut peers_up = 0u64;
        for p in 0..self.layout.peers() {
            if let Ok(n) = self.layout.peer_node(p) {
                if status & node_bit(n) != 0 {
                    peers_up |= 1 << p;
                }
            }
        }
        // The fabric has no PCIe generation or lane count to report: "auto"
        // while up (the value ntb.h has for "whatever the hardware does"),
        // "none" while down.
        let (speed, width) = if peers_up != 0 {
            (Speed::AUTO, Width::AUTO)
        } else {
            (Speed::NONE, Width::NONE)
        };
        LinkState {
            peers_up,
            speed,
            width,
        }
    }

    fn link_enable(&self, _max_speed: Speed, _max_width: Width) -> Result {
        // No speed or width to limit on this fabric.
        self.adapter.set_link(LinkUser::Ntb, true)
    }

    fn link_disable(&self) -> Result {
        self.adapter.set_link(LinkUser::Ntb, false)
    }

    fn mw_count(&self, pidx: u32) -> Result<u32> {
        self.layout.peer_node(pidx)?;
        Ok(self.layout.mws)
    }

    fn mw_get_align(&self, pidx: u32, widx: u32) -> Result<MwAlign> {
        self.layout.in_window(pidx, widx)?;
        Ok(MwAlign {
            addr_align: regs::IW_ALIGN,
            size_align: regs::IW_ALIGN,
            size_max: self.layout.mw_size(),
        })
    }

    fn mw_set_trans(&self, pidx: u32, widx: u32, addr: u64, size: u64) -> Result {
        let w = self.layout.in_window(pidx, widx)?;
        let peer = self.layout.peer_node(pidx)?;
        if addr % regs::IW_ALIGN != 0
            || size == 0
            || size % regs::IW_ALIGN != 0
            || size > self.layout.mw_size()
            || addr.checked_add(size).is_none()
        {
            return Err(EINVAL);
        }
        // Translation registers first, the control register last (section
        // 4): the window is off while it changes.
        self.regs.write(regs::iw_ctrl(w), 0)?;
        self.regs.write64(regs::iw_base(w), addr)?;
        self.regs.write64(regs::iw_size(w), size)?;
        self.regs
            .write(regs::iw_ctrl(w), regs::iw_open(node_bit(peer)))
    }

    fn mw_clear_trans(&self, pidx: u32, widx: u32) -> Result {
        let w = self.layout.in_window(pidx, widx)?;
        self.regs.write(regs::iw_ctrl(w), 0)?;
        self.regs.write64(regs::iw_base(w), 0)?;
        self.regs.write64(regs::iw_size(w), 0)
    }

    fn peer_mw_count(&self) -> u32 {
        self.layout.mws
    }

    fn peer_mw_get_addr(&self, widx: u32) -> Result<PeerMw> {
        if widx >= self.layout.mws {
            return Err(EINVAL);
        }
        let first = u64::from(widx * self.layout.slots_per_mw);
        Ok(PeerMw {
            base: self
                .bar2_start
                .checked_add(first << self.layout.slot_shift)
                .ok_or(ERANGE)?,
            size: self.layout.mw_size(),
        })
    }

    fn peer_mw_set_trans(&self, pidx: u32, widx: u32, _addr: u64, size: u64) -> Result {
        // The translation itself is the peer's: its inbound window for this
        // node and `widx` (set by its `mw_set_trans` to the address it sent
        // along with `addr`). Here the window only gets its target.
        if widx >= self.layout.mws || size == 0 || size > self.layout.mw_size() {
            return Err(EINVAL);
        }
        self.layout.peer_node(pidx)?;
        let mut targets = self.targets.lock();
        let t = targets.get_mut(widx as usize).ok_or(EINVAL)?;
        if u32::from(*t) != pidx {
            program_window(self.regs, &self.layout, widx, pidx)?;
            // < peers <= 15.
            *t = pidx as u8;
        }
        Ok(())
    }

    fn peer_mw_clear_trans(&self, pidx: u32, widx: u32) -> Result {
        if widx >= self.layout.mws {
            return Err(EINVAL);
        }
        self.layout.peer_node(pidx)?;
        let mut targets = self.targets.lock();
        let t = targets.get_mut(widx as usize).ok_or(EINVAL)?;
        let default = self.layout.default_target(widx);
        if u32::from(*t) != default {
            program_window(self.regs, &self.layout, widx, default)?;
            // < peers <= 15.
            *t = default as u8;
        }
        Ok(())
    }

    fn db_valid_mask(&self) -> u64 {
        u64::from(regs::DB_BITS)
    }

    fn db_vector_count(&self) -> u32 {
        self.layout.peers()
    }

    fn db_vector_mask(&self, vector: u32) -> u64 {
        if vector < self.layout.peers() {
            u64::from(regs::DB_BITS)
        } else {
            0
        }
    }

    fn db_read(&self) -> u64 {
        self.peer_nodes()
            .map(|n| self.regs.read(regs::db(n)).unwrap_or(0))
            .fold(0u64, |acc, v| acc | u64::from(v))
    }

    fn db_clear(&self, bits: u64) -> Result {
        let bits = Self::db_bits(bits)?;
        for n in self.peer_nodes() {
            self.regs.write(regs::db(n), bits)?;
        }
        Ok(())
    }

    fn db_set_mask(&self, bits: u64) -> Result {
        let bits = Self::db_bits(bits)?;
        for n in self.peer_nodes() {
            self.adapter.update(self.regs, regs::db_mask(n), bits, 0)?;
        }
        Ok(())
    }

    fn db_clear_mask(&self, bits: u64) -> Result {
        let bits = Self::db_bits(bits)?;
        for n in self.peer_nodes() {
            self.adapter.update(self.regs, regs::db_mask(n), 0, bits)?;
        }
        Ok(())
    }

    fn peer_db_set(&self, bits: u64) -> Result {
        let bits = Self::db_bits(bits)?;
        // Peers whose link is down would drop the write and flag
        // `TARGET_DOWN`: skip them (their client resynchronizes on link-up).
        let up = self.regs.link_status();
        for n in self.peer_nodes() {
            if up & node_bit(n) != 0 {
                self.regs.write(regs::peer_db(n), bits)?;
            }
        }
        Ok(())
    }

    fn peer_db_addr(&self, db_bit: u32) -> Result<PeerDbAddr> {
        // One address rings one peer: that is `peer_db_set` only on two
        // nodes.
        if db_bit >= 32 || self.layout.peers() != 1 {
            return Err(EINVAL);
        }
        let peer = self.layout.peer_node(0)?;
        Ok(PeerDbAddr {
            // In BAR0: bounded by `BAR0_SIZE` (the peer id is < 16).
            addr: self
                .bar0_start
                .checked_add(regs::peer_db(peer) as u64)
                .ok_or(ERANGE)?,
            size: 4,
            data: 1u64 << db_bit,
        })
    }

    fn spad_count(&self) -> u32 {
        if self.layout.peers() == 1 {
            regs::SPAD_COUNT
        } else {
            0
        }
    }

    fn spad_read(&self, sidx: u32) -> u32 {
        self.spad_index(sidx)
            .and_then(|s| self.regs.read(regs::spad(self.layout.peer_node(0)?, s)))
            .unwrap_or(0)
    }

    fn spad_write(&self, sidx: u32, val: u32) -> Result {
        let s = self.spad_index(sidx)?;
        self.regs
            .write(regs::spad(self.layout.peer_node(0)?, s), val)
    }

    fn peer_spad_read(&self, pidx: u32, sidx: u32) -> u32 {
        self.spad_index(sidx)
            .and_then(|s| {
                self.regs
                    .read(regs::peer_spad(self.layout.peer_node(pidx)?, s))
            })
            .unwrap_or(0)
    }

    fn peer_spad_write(&self, pidx: u32, sidx: u32, val: u32) -> Result {
        let s = self.spad_index(sidx)?;
        self.regs
            .write(regs::peer_spad(self.layout.peer_node(pidx)?, s), val)
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
        u64::from(self.regs.msg_status())
    }

    fn msg_clear_sts(&self, bits: u64) -> Result {
        let bits = u32::try_from(bits).map_err(|_| EINVAL)?;
        self.regs.clear_msg_status(bits);
        Ok(())
    }

    fn msg_set_mask(&self, bits: u64) -> Result {
        let bits = u32::try_from(bits).map_err(|_| EINVAL)?;
        self.adapter.update_msg_mask(self.regs, bits, 0);
        Ok(())
    }

    fn msg_clear_mask(&self, bits: u64) -> Result {
        let bits = u32::try_from(bits).map_err(|_| EINVAL)?;
        self.adapter.update_msg_mask(self.regs, 0, bits);
        Ok(())
    }

    fn msg_read(&self, midx: u32) -> Result<Message> {
        let m = Self::msg_index(midx)?;
        // A source that is no peer (nothing received yet, or a value the
        // device should not report) is an I/O error, not an index.
        let pidx = self
            .layout
            .peer_index(self.regs.read(regs::msg_src(m))?)
            .map_err(|_| EIO)?;
        Ok(Message {
            pidx,
            data: self.regs.read(regs::msg_in(m))?,
        })
    }

    fn peer_msg_write(&self, pidx: u32, midx: u32, msg: u32) -> Result {
        let m = Self::msg_index(midx)?;
        self.regs
            .write(regs::peer_msg(self.layout.peer_node(pidx)?, m), msg)
    }
}
