// SPDX-License-Identifier: GPL-2.0

//! The safe interface of an NTB hardware driver to the kernel's NTB core:
//! the [`NtbOps`] trait (one method per `struct ntb_dev_ops` callback) and
//! the values those methods exchange.
//!
//! Indices from the NTB core (peer `pidx`, window `widx`, scratchpad `sidx`,
//! message `midx`, vector) arrive already checked to be non-negative; an
//! implementation must still check them against its own counts, since
//! clients pass them straight through. Nothing here is unsafe: `provider.rs`
//! turns the C calls into these.

use kernel::{bindings, error::VTABLE_DEFAULT_ERROR, prelude::*};

/// `enum ntb_topo`: where the device sits in the NTB topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topology {
    /// On the primary side of a local NTB.
    Primary,
    /// On the secondary side of a remote NTB.
    Secondary,
    /// Connected through a switch that supports NTB (several peers).
    Switch,
}

impl Topology {
    /// The C value.
    pub(crate) fn as_raw(self) -> crate::bindings::ntb_topo {
        match self {
            Self::Primary => crate::bindings::ntb_topo_NTB_TOPO_PRI,
            Self::Secondary => crate::bindings::ntb_topo_NTB_TOPO_SEC,
            Self::Switch => crate::bindings::ntb_topo_NTB_TOPO_SWITCH,
        }
    }
}

/// `enum ntb_speed`, as the NTB core passes or expects it (`-1` auto, `0`
/// none, `n` PCIe generation `n`); values are not limited to the named ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Speed(pub i32);

impl Speed {
    /// `NTB_SPEED_NONE`: no link, or a link without a PCIe speed.
    pub const NONE: Self = Self(crate::bindings::ntb_speed_NTB_SPEED_NONE);
    /// `NTB_SPEED_AUTO`: whatever the hardware negotiates.
    pub const AUTO: Self = Self(crate::bindings::ntb_speed_NTB_SPEED_AUTO);
}

/// `enum ntb_width`, as the NTB core passes or expects it (`-1` auto, `0`
/// none, `n` lanes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Width(pub i32);

impl Width {
    /// `NTB_WIDTH_NONE`: no link, or a link without a lane width.
    pub const NONE: Self = Self(crate::bindings::ntb_width_NTB_WIDTH_NONE);
    /// `NTB_WIDTH_AUTO`: whatever the hardware negotiates.
    pub const AUTO: Self = Self(crate::bindings::ntb_width_NTB_WIDTH_AUTO);
}

/// The answer of [`NtbOps::link_is_up`].
#[derive(Clone, Copy, Debug)]
pub struct LinkState {
    /// Bit `pidx` is set while the link to peer index `pidx` is up.
    pub peers_up: u64,
    /// The link speed.
    pub speed: Speed,
    /// The link width.
    pub width: Width,
}

/// Alignment and size limits of an inbound memory window
/// ([`NtbOps::mw_get_align`]).
#[derive(Clone, Copy, Debug)]
pub struct MwAlign {
    /// Alignment of the translated (local DMA) address.
    pub addr_align: bindings::resource_size_t,
    /// Granularity of the window's size.
    pub size_align: bindings::resource_size_t,
    /// Largest size the window can be given.
    pub size_max: bindings::resource_size_t,
}

/// Where an outbound (peer) memory window is in this host's physical
/// address space ([`NtbOps::peer_mw_get_addr`]).
#[derive(Clone, Copy, Debug)]
pub struct PeerMw {
    /// Physical (CPU) address of the window, inside one of the device's BARs.
    pub base: bindings::phys_addr_t,
    /// Its size in bytes.
    pub size: bindings::resource_size_t,
}

/// How to ring a peer doorbell bit with a plain memory write, e.g. from a DMA
/// engine ([`NtbOps::peer_db_addr`]).
#[derive(Clone, Copy, Debug)]
pub struct PeerDbAddr {
    /// Physical address to write.
    pub addr: bindings::phys_addr_t,
    /// Width of the write in bytes.
    pub size: bindings::resource_size_t,
    /// Value to write.
    pub data: u64,
}

/// A received message ([`NtbOps::msg_read`]).
#[derive(Clone, Copy, Debug)]
pub struct Message {
    /// Peer index of the sender.
    pub pidx: u32,
    /// The 32-bit message.
    pub data: u32,
}

/// The operations of an NTB device, called by the NTB core and its clients
/// (`ntb_transport`, `ntb_tool`, ...) through `struct ntb_dev_ops`.
///
/// Methods without a default body are the ones the NTB core requires
/// (`ntb_dev_ops_is_valid()`); the others come in groups that must be
/// implemented all or none (ports; doorbell vectors; scratchpads; messages),
/// which [`HwRegistration`](super::HwRegistration) checks at compile time. Every method may be
/// called concurrently from any context a client calls from, including
/// atomic context for the doorbell, scratchpad and message methods: they
/// must not sleep.
#[vtable]
pub trait NtbOps: Send + Sync {
    // Ports: required for multi-port devices, all four or none.

    /// This device's port number.
    fn port_number(&self) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// How many peers this device has.
    fn peer_port_count(&self) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// The port number of peer index `pidx`.
    fn peer_port_number(&self, _pidx: u32) -> Result<u32> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// The peer index of port number `port`.
    fn peer_port_idx(&self, _port: u32) -> Result<u32> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    // Link: required.

    /// Which peers' links are up, and at what speed and width.
    fn link_is_up(&self) -> LinkState;
    /// Enables the link, at most at `max_speed` and `max_width`.
    fn link_enable(&self, max_speed: Speed, max_width: Width) -> Result;
    /// Disables the link.
    fn link_disable(&self) -> Result;

    // Memory windows: required.

    /// Inbound memory windows usable by peer `pidx`.
    fn mw_count(&self, pidx: u32) -> Result<u32>;
    /// Limits of inbound window `widx` of peer `pidx`.
    fn mw_get_align(&self, pidx: u32, widx: u32) -> Result<MwAlign>;
    /// Points inbound window `widx` of peer `pidx` at local DMA address
    /// `addr` for `size` bytes.
    fn mw_set_trans(&self, pidx: u32, widx: u32, addr: bindings::dma_addr_t, size: u64) -> Result;
    /// Disables inbound window `widx` of peer `pidx`.
    fn mw_clear_trans(&self, pidx: u32, widx: u32) -> Result;
    /// Outbound windows (into peers' memory windows).
    fn peer_mw_count(&self) -> u32;
    /// Where outbound window `widx` is.
    fn peer_mw_get_addr(&self, widx: u32) -> Result<PeerMw>;
    /// Points outbound window `widx` at peer `pidx`'s memory at its DMA
    /// address `addr`, `size` bytes. Optional, with `peer_mw_clear_trans`.
    fn peer_mw_set_trans(&self, _pidx: u32, _widx: u32, _addr: u64, _size: u64) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// Undoes `peer_mw_set_trans` for outbound window `widx` of peer `pidx`.
    fn peer_mw_clear_trans(&self, _pidx: u32, _widx: u32) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    // Doorbells: required, except the vector pair (both or none) and
    // `peer_db_addr`.

    /// The doorbell bits that exist.
    fn db_valid_mask(&self) -> u64;
    /// How many doorbell interrupt vectors there are.
    fn db_vector_count(&self) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// The doorbell bits vector `vector` reports.
    fn db_vector_mask(&self, _vector: u32) -> u64 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// The inbound doorbell bits that are set.
    fn db_read(&self) -> u64;
    /// Clears inbound doorbell bits.
    fn db_clear(&self, bits: u64) -> Result;
    /// Masks (stops interrupts of) inbound doorbell bits.
    fn db_set_mask(&self, bits: u64) -> Result;
    /// Unmasks inbound doorbell bits.
    fn db_clear_mask(&self, bits: u64) -> Result;
    /// Rings the peer's doorbell bits.
    fn peer_db_set(&self, bits: u64) -> Result;
    /// How to ring peer doorbell bit `db_bit` by a memory write.
    fn peer_db_addr(&self, _db_bit: u32) -> Result<PeerDbAddr> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    // Scratchpads: optional, `spad_count`, `spad_read`, `spad_write` and
    // `peer_spad_write` all or none.

    /// Scratchpads per peer.
    fn spad_count(&self) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// Local scratchpad `sidx` (0 if it does not exist: the C interface has
    /// no way to fail here).
    fn spad_read(&self, _sidx: u32) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// Writes local scratchpad `sidx`.
    fn spad_write(&self, _sidx: u32, _val: u32) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// Scratchpad `sidx` of peer `pidx` (0 if it does not exist).
    fn peer_spad_read(&self, _pidx: u32, _sidx: u32) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// Writes scratchpad `sidx` of peer `pidx`.
    fn peer_spad_write(&self, _pidx: u32, _sidx: u32, _val: u32) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    // Messages: optional; all but the two mask methods all or none.

    /// Message registers.
    fn msg_count(&self) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// The status bits meaning "message received".
    fn msg_inbits(&self) -> u64 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// The status bits meaning "message sent / failed".
    fn msg_outbits(&self) -> u64 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// The message status bits.
    fn msg_read_sts(&self) -> u64 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// Clears message status bits.
    fn msg_clear_sts(&self, _bits: u64) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// Masks message status bits.
    fn msg_set_mask(&self, _bits: u64) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// Unmasks message status bits.
    fn msg_clear_mask(&self, _bits: u64) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// Reads message register `midx`.
    fn msg_read(&self, _midx: u32) -> Result<Message> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// Sends `msg` to message register `midx` of peer `pidx`.
    fn peer_msg_write(&self, _pidx: u32, _midx: u32, _msg: u32) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}
