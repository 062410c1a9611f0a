// SPDX-License-Identifier: GPL-2.0

//! The messages `rsio_lend` exchanges with its peers through the fabric
//! core (types `0x300..0x320`), all events, little-endian payloads:
//!
//! - `LIST_REQ` (empty): "tell me what you lend", sent to a peer when it
//!   comes up (a core callback may not wait for a response, so the answer
//!   is events too);
//! - `DEV_LENT` ([`encode`]d entry): a device this node lends, sent to
//!   every up peer on lend and to a peer asking with `LIST_REQ`;
//! - `DEV_UNLENT` (fdid `u32`): it is no longer lent;
//! - `BORROW` (request, fdid `u32`): lend it to me; the response is a
//!   [`Lease`]: where the borrower reaches the device's config space
//!   and BARs, where the device's MSI writes go and where the borrower's
//!   memory is on the lender's bus;
//! - `RETURN` (request, or event for a borrow whose request was
//!   interrupted; fdid `u32`, [`Holder`] `u32`): I give back the lease my
//!   kernel (or my processes) hold; the lender resets the device;
//! - `REVOKED` (event, fdid `u32`): the lender took it back (forced
//!   unlend): remove it now.
//!
//! Peer-to-peer between two devices one borrower holds (from its
//! lenders; [`P2p`] payloads, `LEND_IOC_P2P` on the borrower):
//!
//! - `P2P_EXPOSE` (request to the target's lender): open BAR `bar` of
//!   the target (leased to me) to node `via` too; the response is the
//!   BAR's window and size ([`encode_exposed`]);
//! - `P2P_MAP` (request to the DMA-ing device's lender): give the device
//!   (leased to me) a path to that window of node `to_node` (or, if
//!   `to_node` is you, to your own target device's BAR); the response is
//!   the device address of the path (`u64`);
//! - `P2P_UNMAP`, `P2P_UNEXPOSE`: undo them. Events when the borrower
//!   sends them from the core's callbacks (a lender died), which may not
//!   wait for responses; `P2P_UNMAP` is a request when the borrower
//!   returns the target (the path is gone before the target's windows).

use crate::lend_abi::{
    LendDevEntry, LEND_BAR_64, LEND_BAR_IO, LEND_DEV_IOMMU, LEND_DEV_NO_DMA_API,
    LEND_DEV_RESET_MASK, LEND_DEV_RESET_SHIFT, LEND_DEV_SHARED, LEND_DEV_USER, LEND_DEV_VF,
    LEND_NUM_BARS, LEND_RESET_XHCI, LEND_STATE_BORROWED, LEND_STATE_LENT,
};
use kernel::prelude::*;

/// The first message type `rsio_lend` owns.
pub(crate) const MT_FIRST: u16 = 0x300;
/// How many it owns.
pub(crate) const MT_COUNT: u16 = 0x20;

pub(crate) const LIST_REQ: u16 = MT_FIRST;
pub(crate) const DEV_LENT: u16 = MT_FIRST + 1;
pub(crate) const DEV_UNLENT: u16 = MT_FIRST + 2;
pub(crate) const BORROW: u16 = MT_FIRST + 3;
pub(crate) const RETURN: u16 = MT_FIRST + 4;
pub(crate) const REVOKED: u16 = MT_FIRST + 5;
pub(crate) const P2P_EXPOSE: u16 = MT_FIRST + 6;
pub(crate) const P2P_MAP: u16 = MT_FIRST + 7;
pub(crate) const P2P_UNMAP: u16 = MT_FIRST + 8;
pub(crate) const P2P_UNEXPOSE: u16 = MT_FIRST + 9;
/// A process's borrow (SmartIO): `fdid`, `USER_*` flags; answered with a
/// [`Lease`] like `BORROW`.
pub(crate) const USER_BORROW: u16 = MT_FIRST + 10;

/// A process's device writes to a multicast group: `fdid`, `group`;
/// answered with the bus address (on the lender) that writes to the
/// group's first byte ([`crate::serve::MCAST_SPAN`] bytes follow).
pub(crate) const USER_MCAST: u16 = MT_FIRST + 11;

/// [`USER_BORROW`] flag: a shared borrow.
pub(crate) const USER_SHARED: u32 = 1 << 0;
/// Bytes of a [`USER_BORROW`] payload.
pub(crate) const USER_BORROW_LEN: usize = 8;

/// Decodes a [`USER_BORROW`] payload: the fabric device id and flags.
pub(crate) fn decode_user_borrow(b: &[u8]) -> Result<(u32, u32)> {
    if b.len() != USER_BORROW_LEN {
        return Err(EPROTO);
    }
    let flags = u32_at(b, 4);
    if flags & !USER_SHARED != 0 {
        return Err(EPROTO);
    }
    Ok((u32_at(b, 0), flags))
}

/// Decodes two words (a [`USER_MCAST`] payload: fdid, group).
pub(crate) fn decode_pair(b: &[u8]) -> Result<(u32, u32)> {
    if b.len() != 8 {
        return Err(EPROTO);
    }
    Ok((u32_at(b, 0), u32_at(b, 4)))
}

/// The [`USER_BORROW`] payload (and, with the group for flags, a
/// [`USER_MCAST`] one).
pub(crate) fn encode_user_borrow(fdid: u32, flags: u32) -> [u8; USER_BORROW_LEN] {
    let mut b = [0u8; USER_BORROW_LEN];
    b[..4].copy_from_slice(&fdid.to_le_bytes());
    b[4..].copy_from_slice(&flags.to_le_bytes());
    b
}

/// Bytes of a `DEV_LENT` payload.
pub(crate) const ENTRY_LEN: usize = 9 * 4 + LEND_NUM_BARS * 12 + 8;

fn put(b: &mut [u8], at: &mut usize, v: &[u8]) {
    b[*at..*at + v.len()].copy_from_slice(v);
    *at += v.len();
}

/// The `DEV_LENT` payload of `e` (its `node` is the sender's).
pub(crate) fn encode(e: &LendDevEntry) -> [u8; ENTRY_LEN] {
    let mut b = [0u8; ENTRY_LEN];
    let mut at = 0;
    let words = [
        e.fdid,
        e.state,
        e.domain,
        e.bus,
        e.devfn,
        u32::from(e.vendor) | (u32::from(e.device) << 16),
        u32::from(e.subsystem_vendor) | (u32::from(e.subsystem_device) << 16),
        e.class,
        e.revision,
    ];
    for w in words {
        put(&mut b, &mut at, &w.to_le_bytes());
    }
    for s in e.bar_size {
        put(&mut b, &mut at, &s.to_le_bytes());
    }
    for f in e.bar_flags {
        put(&mut b, &mut at, &f.to_le_bytes());
    }
    put(&mut b, &mut at, &e.sriov_total_vfs.to_le_bytes());
    put(&mut b, &mut at, &e.dev_flags.to_le_bytes());
    b
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Decodes a `DEV_LENT` payload from `node`, validated like user input:
/// exact length, an fdid of the sender with a non-zero index, a known
/// state, fields in range.
pub(crate) fn decode(node: u32, b: &[u8]) -> Result<LendDevEntry> {
    if b.len() != ENTRY_LEN {
        return Err(EPROTO);
    }
    let w = |i: usize| u32_at(b, i * 4);
    let fdid = w(0);
    let state = w(1);
    if fdid >> 16 != node
        || fdid & 0xffff == 0
        || !matches!(state, LEND_STATE_LENT | LEND_STATE_BORROWED)
    {
        return Err(EPROTO);
    }
    if w(2) > 0xffff || w(3) > 0xff || w(4) > 0xff || w(7) > 0xff_ffff || w(8) > 0xff {
        return Err(EPROTO);
    }
    let mut e = LendDevEntry {
        node,
        fdid,
        state,
        domain: w(2),
        bus: w(3),
        devfn: w(4),
        vendor: w(5) as u16,
        device: (w(5) >> 16) as u16,
        subsystem_vendor: w(6) as u16,
        subsystem_device: (w(6) >> 16) as u16,
        class: w(7),
        revision: w(8),
        bar_size: [0; LEND_NUM_BARS],
        bar_flags: [0; LEND_NUM_BARS],
        sriov_total_vfs: 0,
        dev_flags: 0,
    };
    let mut at = 9 * 4;
    for s in e.bar_size.iter_mut() {
        *s = u64::from(u32_at(b, at)) | (u64::from(u32_at(b, at + 4)) << 32);
        at += 8;
    }
    for f in e.bar_flags.iter_mut() {
        *f = u32_at(b, at);
        at += 4;
    }
    e.sriov_total_vfs = u32_at(b, at);
    e.dev_flags = u32_at(b, at + 4);
    let known = LEND_DEV_VF
        | LEND_DEV_IOMMU
        | LEND_DEV_NO_DMA_API
        | LEND_DEV_USER
        | LEND_DEV_SHARED
        | LEND_DEV_RESET_MASK;
    if e.sriov_total_vfs > 0xffff
        || e.dev_flags & !known != 0
        || (e.dev_flags & LEND_DEV_RESET_MASK) >> LEND_DEV_RESET_SHIFT > LEND_RESET_XHCI
    {
        return Err(EPROTO);
    }
    Ok(e)
}

/// Whose lease a [`RETURN`] gives back: a node may hold a kernel borrow's
/// lease and ask for a process's (refused while the other is held, but an
/// interrupted request's return must not end the one held).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Holder {
    /// The node's kernel (`rsio borrow`).
    Kernel = 1,
    /// The node's processes (SmartIO).
    Processes = 2,
}

/// The [`RETURN`] payload.
pub(crate) fn encode_return(fdid: u32, holder: Holder) -> [u8; 8] {
    encode_user_borrow(fdid, holder as u32)
}

/// Decodes a [`RETURN`] payload.
pub(crate) fn decode_return(b: &[u8]) -> Result<(u32, Holder)> {
    let (fdid, h) = decode_pair(b)?;
    let holder = match h {
        1 => Holder::Kernel,
        2 => Holder::Processes,
        _ => return Err(EPROTO),
    };
    Ok((fdid, holder))
}

/// Decodes a fabric device id payload (`BORROW`).
pub(crate) fn decode_fdid_of(b: &[u8]) -> Result<u32> {
    if b.len() != 4 {
        return Err(EPROTO);
    }
    Ok(u32_at(b, 0))
}

/// Decodes a `DEV_UNLENT` or `REVOKED` payload from `node`.
pub(crate) fn decode_fdid(node: u32, b: &[u8]) -> Result<u32> {
    if b.len() != 4 {
        return Err(EPROTO);
    }
    let fdid = u32_at(b, 0);
    if fdid >> 16 != node {
        return Err(EPROTO);
    }
    Ok(fdid)
}

/// One BAR of a [`Lease`].
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct LeaseBar {
    /// The lender's inbound window over it (valid if `size != 0`).
    pub(crate) window: u32,
    /// `LEND_BAR_*`.
    pub(crate) flags: u32,
    /// Bytes forwarded (0: not forwarded: absent, I/O, or an upper half).
    pub(crate) size: u64,
    /// Where the BAR starts in the window (not on the wire: a lender's
    /// windows start at the BAR; a chassis's bus window holds them all).
    pub(crate) offset: u64,
}

/// The response to `BORROW`: what the borrower needs to set the device up.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Lease {
    /// The lender's inbound window over the function's 4 KiB of ECAM.
    pub(crate) cfg_window: u32,
    /// Where the 4 KiB start in the window (not on the wire: 0 for a
    /// lender's lease).
    pub(crate) cfg_offset: u64,
    /// Lender-side address of its `INTERRUPT` slot targeting the borrower.
    pub(crate) msi_bus: u64,
    /// Lender-side bus address of the borrower's RAM (direct window)...
    pub(crate) dma_base: u64,
    /// ... and its span.
    pub(crate) dma_span: u64,
    /// Vendor and device id (an SR-IOV VF's config space has none).
    pub(crate) vendor: u16,
    pub(crate) device: u16,
    /// `LEASE_VF`.
    pub(crate) flags: u32,
    /// Interrupt vectors the function has (its MSI-X table's size, else
    /// its MSI count; 0: none): the borrower sizes its vectors by it.
    pub(crate) irqs: u32,
    pub(crate) bars: [LeaseBar; LEND_NUM_BARS],
}

/// [`Lease::flags`]: the function is an SR-IOV virtual function.
pub(crate) const LEASE_VF: u32 = 1 << 0;
/// [`Lease::flags`]: the lender's IOMMU confines the function's DMA to
/// the borrowers' memory (a user lease: every node's but the lender's).
pub(crate) const LEASE_CONFINED: u32 = 1 << 1;

/// Bytes of an encoded [`Lease`].
pub(crate) const LEASE_LEN: usize = 4 + 3 * 8 + 12 + LEND_NUM_BARS * 16;

fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from(u32_at(b, i)) | (u64::from(u32_at(b, i + 4)) << 32)
}

impl Lease {
    pub(crate) fn encode(&self) -> [u8; LEASE_LEN] {
        let mut b = [0u8; LEASE_LEN];
        let mut at = 0;
        put(&mut b, &mut at, &self.cfg_window.to_le_bytes());
        for v in [self.msi_bus, self.dma_base, self.dma_span] {
            put(&mut b, &mut at, &v.to_le_bytes());
        }
        let ids = u32::from(self.vendor) | (u32::from(self.device) << 16);
        put(&mut b, &mut at, &ids.to_le_bytes());
        put(&mut b, &mut at, &self.flags.to_le_bytes());
        put(&mut b, &mut at, &self.irqs.to_le_bytes());
        for bar in self.bars.iter() {
            put(&mut b, &mut at, &bar.window.to_le_bytes());
            put(&mut b, &mut at, &bar.flags.to_le_bytes());
            put(&mut b, &mut at, &bar.size.to_le_bytes());
        }
        b
    }

    /// Decodes a lease, validated like user input: exact length, BAR
    /// sizes powers of two of at least 4 KiB, memory BARs only, a 64-bit
    /// BAR not last and followed by its (empty) upper half, a non-empty
    /// DMA span.
    pub(crate) fn decode(b: &[u8]) -> Result<Self> {
        if b.len() != LEASE_LEN {
            return Err(EPROTO);
        }
        let mut l = Lease {
            cfg_window: u32_at(b, 0),
            cfg_offset: 0,
            msi_bus: u64_at(b, 4),
            dma_base: u64_at(b, 12),
            dma_span: u64_at(b, 20),
            vendor: u32_at(b, 28) as u16,
            device: (u32_at(b, 28) >> 16) as u16,
            flags: u32_at(b, 32),
            irqs: u32_at(b, 36),
            bars: [LeaseBar::default(); LEND_NUM_BARS],
        };
        if l.dma_span == 0
            || l.dma_base.checked_add(l.dma_span).is_none()
            || l.flags & !(LEASE_VF | LEASE_CONFINED) != 0
        {
            return Err(EPROTO);
        }
        let mut at = 40;
        let mut upper_half = false;
        for (i, bar) in l.bars.iter_mut().enumerate() {
            *bar = LeaseBar {
                window: u32_at(b, at),
                flags: u32_at(b, at + 4),
                size: u64_at(b, at + 8),
                offset: 0,
            };
            at += 16;
            let is_upper_half = core::mem::take(&mut upper_half);
            if bar.size == 0 {
                continue;
            }
            // The register after a 64-bit BAR is its upper half, not a BAR.
            if is_upper_half {
                return Err(EPROTO);
            }
            upper_half = bar.flags & LEND_BAR_64 != 0;
            let last = i == LEND_NUM_BARS - 1;
            if !bar.size.is_power_of_two()
                || bar.size < 4096
                || bar.flags & LEND_BAR_IO != 0
                || (bar.flags & LEND_BAR_64 != 0 && last)
            {
                return Err(EPROTO);
            }
        }
        Ok(l)
    }
}

/// The payload of every `P2P_*` message: the DMA-ing device `from` (fdid,
/// its lender in the high half), the target device `to` and its BAR, the
/// window and size of the BAR on its lender (`P2P_MAP` only).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct P2p {
    pub(crate) from_fdid: u32,
    pub(crate) to_fdid: u32,
    pub(crate) bar: u32,
    pub(crate) window: u32,
    pub(crate) size: u64,
}

/// Bytes of an encoded [`P2p`].
pub(crate) const P2P_LEN: usize = 4 * 4 + 8;

impl P2p {
    /// The lender of `from`.
    pub(crate) fn source_lender(&self) -> u32 {
        self.from_fdid >> 16
    }

    /// The lender of `to`.
    pub(crate) fn target_lender(&self) -> u32 {
        self.to_fdid >> 16
    }

    pub(crate) fn encode(&self) -> [u8; P2P_LEN] {
        let mut b = [0u8; P2P_LEN];
        let mut at = 0;
        for v in [self.from_fdid, self.to_fdid, self.bar, self.window] {
            put(&mut b, &mut at, &v.to_le_bytes());
        }
        put(&mut b, &mut at, &self.size.to_le_bytes());
        b
    }

    /// Decodes and validates (exact length, fdids with a non-zero index
    /// on two different functions, a standard BAR, a size that is zero
    /// or a power of two of at least 4 KiB).
    pub(crate) fn decode(b: &[u8]) -> Result<Self> {
        if b.len() != P2P_LEN {
            return Err(EPROTO);
        }
        let p = P2p {
            from_fdid: u32_at(b, 0),
            to_fdid: u32_at(b, 4),
            bar: u32_at(b, 8),
            window: u32_at(b, 12),
            size: u64_at(b, 16),
        };
        if p.from_fdid & 0xffff == 0
            || p.to_fdid & 0xffff == 0
            || p.from_fdid == p.to_fdid
            || p.bar as usize >= LEND_NUM_BARS
            || (p.size != 0 && (!p.size.is_power_of_two() || p.size < 4096))
        {
            return Err(EPROTO);
        }
        Ok(p)
    }
}

/// The response to `P2P_EXPOSE`: the target BAR's window and size.
pub(crate) fn encode_exposed(window: u32, size: u64) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&window.to_le_bytes());
    b[4..].copy_from_slice(&size.to_le_bytes());
    b
}

/// Decodes a `P2P_EXPOSE` response: (window, size).
pub(crate) fn decode_exposed(b: &[u8]) -> Result<(u32, u64)> {
    if b.len() != 12 {
        return Err(EPROTO);
    }
    let size = u64_at(b, 4);
    if !size.is_power_of_two() || size < 4096 {
        return Err(EPROTO);
    }
    Ok((u32_at(b, 0), size))
}

/// Decodes a `P2P_MAP` response: the device address (page-aligned).
pub(crate) fn decode_mapped(b: &[u8]) -> Result<u64> {
    if b.len() != 8 {
        return Err(EPROTO);
    }
    let a = u64_at(b, 0);
    if a % 4096 != 0 || a == 0 {
        return Err(EPROTO);
    }
    Ok(a)
}
