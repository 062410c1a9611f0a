// SPDX-License-Identifier: GPL-2.0

//! The lender's side of a borrow: the [`Lease`] a borrower gets. For the
//! device's lifetime with that borrower the lender's adapter has
//!
//! - an inbound window over the function's 4 KiB of ECAM and one over
//!   each memory BAR, open to the borrower only: its config accesses and
//!   MMIO are remote MMIO, performed by the adapter without software here;
//! - one `INTERRUPT` LUT slot targeting the borrower: the borrower points
//!   the device's MSI/MSI-X messages at it (`+ 4 k` raises its `USER(k)`);
//! - for DMA: the borrower's RAM is at `borrower << DIRECT_SHIFT` in the
//!   direct window (through the adapter's alias of it where it names one,
//!   else BAR4), which the device reaches as any bus address.
//!   When the lender's IOMMU can give the function a domain of its own,
//!   that domain maps exactly this span and the interrupt slot's page (one
//!   to one): the device reaches its borrower's memory and nothing else —
//!   not the lender's RAM, not another node's, not another device.
//!
//! Peer-to-peer (the borrower holds two devices and one DMAs into the
//! other's BAR): the target's lease may *expose* a BAR window to the
//! DMA-ing device's lender as well, and the DMA-ing device's lease holds
//! *paths*: LUT slots onto such a window of another lender (or, when both
//! devices are lent from here, the target's own BAR), each admitted by
//! the device's IOMMU domain.
//!
//! Ending a lease (return, the borrower's death, forced unlend) stops the
//! device first (decoding and bus mastering off, function reset), then
//! puts it back in its default IOMMU domain and closes the windows and the
//! slot.

use crate::claim::{Claimed, Info};
use crate::lend_abi::{LEND_BAR_64, LEND_BAR_IO, LEND_NUM_BARS};
use crate::proto::{Lease, LeaseBar, LEASE_CONFINED, LEASE_VF};
use kernel::prelude::*;
use kernel::sync::Arc;
use rsio_kernel::iommu::{Confinement as Confined, Isolation};
use rsio_ntb::adapter::Adapter;
use rsio_ntb::inbound::InboundWindow;
use rsio_ntb::lut::LutRange;

/// Inbound windows are 4 KiB multiples.
const PAGE: u64 = 4096;

/// Peer-to-peer paths one lease may hold.
const MAX_PATHS: usize = 16;

/// Multicast groups one lease may write to, and the bytes of a group
/// mapped (a multicast segment's largest size).
const MAX_MCAST: usize = 4;
pub(crate) const MCAST_SPAN: u64 = 4 << 20;

/// A path from the leased device to a BAR of another device its borrower
/// holds.
struct Path {
    /// The target: its fabric id and BAR.
    to_fdid: u32,
    bar: u32,
    /// Where the device reaches it, and how many bytes.
    dev_addr: u64,
    size: u64,
    /// The LUT slots onto the target's lender's window (none when the
    /// target is lent from here: `dev_addr` is its own BAR).
    _slots: Option<LutRange>,
}

/// A device lent to a borrower: what its lease holds open.
pub(crate) struct Leased {
    /// The borrowing node.
    pub(crate) node: u32,
    /// The function's IOMMU domain, if it has one; dropped first: the
    /// device is stopped by then (`end`), and no window may close while it
    /// still translates into them.
    confined: Option<Confined>,
    paths: KVec<Path>,
    _cfg: InboundWindow,
    /// Per BAR: its window, bus address, bytes forwarded, and the nodes
    /// besides the borrower it is open to (`P2P_EXPOSE`).
    bars: [Option<InboundWindow>; LEND_NUM_BARS],
    bar_addr: [u64; LEND_NUM_BARS],
    bar_fwd: [u64; LEND_NUM_BARS],
    exposed: [u32; LEND_NUM_BARS],
    _msi: LutRange,
    /// A process's lease: slots writing to multicast groups, for the
    /// device's DMA (`USER_MCAST`).
    mcast: KVec<(u32, LutRange)>,
}

impl Leased {
    /// Opens the windows and the interrupt slot of `claimed` (identity
    /// `info`) for `node` and returns them with the lease to send.
    /// `confine`: give the function an IOMMU domain admitting `node`'s
    /// memory only, where it can have one (a kernel borrow; the leases of
    /// processes' borrows are confined together, see [`confine_users`]).
    pub(crate) fn open(
        adapter: &Arc<Adapter>,
        node: u32,
        claimed: &Claimed,
        info: &Info,
        confine: bool,
    ) -> Result<(Self, Lease)> {
        let (dma_base, dma_span) = adapter.info().device_dma(node)?;
        let ecam = claimed.ecam();
        if ecam == 0 {
            return Err(ENODEV);
        }
        let peer = 1u32 << node;
        let cfg = InboundWindow::alloc(adapter)?;
        cfg.open(ecam, PAGE, peer)?;
        let (bars, bar_fwd, lease_bars) = open_bars(adapter, peer, info)?;
        let msi = LutRange::alloc(adapter, 1)?;
        msi.map_interrupt(0, node)?;
        let lease = Lease {
            cfg_window: cfg.index(),
            cfg_offset: 0,
            msi_bus: msi.bus_addr(),
            dma_base,
            dma_span,
            vendor: info.vendor,
            device: info.device,
            flags: if info.virtfn { LEASE_VF } else { 0 },
            irqs: info.irqs,
            bars: lease_bars,
        };
        let confined = match claimed.isolation() {
            _ if !confine => None,
            Isolation::Own => Some(
                claimed.confine(&[(dma_base, dma_span), (lease.msi_bus & !(PAGE - 1), PAGE)])?,
            ),
            Isolation::Shared => {
                pr_warn!(
                    "function shares its IOMMU group: its DMA is not confined to node {}\n",
                    node
                );
                None
            }
            Isolation::None => None,
        };
        let lease = Lease {
            flags: lease.flags
                | if confined.is_some() {
                    LEASE_CONFINED
                } else {
                    0
                },
            ..lease
        };
        Ok((
            Self {
                node,
                confined,
                paths: KVec::new(),
                _cfg: cfg,
                bars,
                bar_addr: info.bar_addr,
                bar_fwd,
                exposed: [0; LEND_NUM_BARS],
                _msi: msi,
                mcast: KVec::new(),
            },
            lease,
        ))
    }

    /// The bus address (here) at which the device writes to multicast
    /// group `group`: [`MCAST_SPAN`] bytes of the group, mapped on the
    /// first request and kept with the lease.
    pub(crate) fn multicast(&mut self, adapter: &Arc<Adapter>, group: u32) -> Result<u64> {
        if let Some((_, r)) = self.mcast.iter().find(|(g, _)| *g == group) {
            return Ok(r.bus_addr());
        }
        if group >= adapter.info().mc_groups || self.mcast.len() >= MAX_MCAST {
            return Err(EINVAL);
        }
        let slot = 1u64 << adapter.info().slot_shift;
        let count = u32::try_from(MCAST_SPAN.div_ceil(slot)).map_err(|_| EINVAL)?;
        let r = LutRange::alloc(adapter, count)?;
        for i in 0..count {
            r.map_multicast(i, group, u64::from(i) * slot)?;
        }
        let addr = r.bus_addr();
        self.mcast.push((group, r), GFP_KERNEL)?;
        Ok(addr)
    }

    /// BAR `bar`'s bus address and bytes forwarded, if it is forwarded.
    pub(crate) fn bar(&self, bar: u32) -> Result<(u64, u64)> {
        let i = bar as usize;
        match self.bars.get(i) {
            Some(Some(_)) => Ok((self.bar_addr[i], self.bar_fwd[i])),
            _ => Err(ENOENT),
        }
    }

    /// Opens BAR `bar`'s window to node `via` too (the lender of a device
    /// that will DMA into it): returns the window and its size.
    pub(crate) fn expose(&mut self, bar: u32, via: u32) -> Result<(u32, u64)> {
        let (addr, fwd) = self.bar(bar)?;
        if via >= 32 || via == self.node {
            return Err(EINVAL);
        }
        let i = bar as usize;
        let w = self.bars[i].as_ref().ok_or(ENOENT)?;
        let peers = (1u32 << self.node) | self.exposed[i] | (1 << via);
        w.open(addr, fwd, peers)?;
        self.exposed[i] |= 1 << via;
        Ok((w.index(), fwd))
    }

    /// Closes BAR `bar`'s window to `via` again.
    pub(crate) fn unexpose(&mut self, bar: u32, via: u32) -> Result {
        let (addr, fwd) = self.bar(bar)?;
        let i = bar as usize;
        if via >= 32 || self.exposed[i] & (1 << via) == 0 {
            return Err(ENOENT);
        }
        let w = self.bars[i].as_ref().ok_or(ENOENT)?;
        self.exposed[i] &= !(1 << via);
        w.open(addr, fwd, (1u32 << self.node) | self.exposed[i])
    }

    /// The device's path to BAR `bar` of `to_fdid`, if it has one.
    fn path(&self, to_fdid: u32, bar: u32) -> Option<&Path> {
        self.paths
            .iter()
            .find(|p| p.to_fdid == to_fdid && p.bar == bar)
    }

    /// Gives the device a path to `size` bytes of `to`'s window `window`
    /// (`to`: the target's lender, another node), or — `window` `None` —
    /// to this node's bus address `addr` (a BAR of a device lent from
    /// here): returns its device address. Idempotent.
    pub(crate) fn add_path(
        &mut self,
        adapter: &Arc<Adapter>,
        to_fdid: u32,
        bar: u32,
        window: Option<u32>,
        addr: u64,
        size: u64,
    ) -> Result<u64> {
        if let Some(p) = self.path(to_fdid, bar) {
            return Ok(p.dev_addr);
        }
        if self.paths.len() >= MAX_PATHS {
            return Err(ENOSPC);
        }
        if !size.is_power_of_two() || size < PAGE {
            return Err(EINVAL);
        }
        self.paths.reserve(1, GFP_KERNEL)?;
        let (slots, dev_addr, span) = match window {
            Some(w) => {
                let slot = 1u64 << adapter.info().slot_shift;
                let count = u32::try_from(size.div_ceil(slot)).map_err(|_| ENOSPC)?;
                let r = LutRange::alloc(adapter, count)?;
                for k in 0..count {
                    r.map_memory(k, to_fdid >> 16, w, u64::from(k) * slot)?;
                }
                let (a, len) = (r.bus_addr(), r.len());
                (Some(r), a, len)
            }
            None => (None, addr, size),
        };
        if let Some(c) = &self.confined {
            c.map(dev_addr, span)?;
        }
        // Cannot fail: room was reserved above.
        self.paths.push(
            Path {
                to_fdid,
                bar,
                dev_addr,
                size: span,
                _slots: slots,
            },
            GFP_KERNEL,
        )?;
        Ok(dev_addr)
    }

    /// Takes the path to BAR `bar` of `to_fdid` away.
    pub(crate) fn remove_path(&mut self, to_fdid: u32, bar: u32) -> Result {
        let i = self
            .paths
            .iter()
            .position(|p| p.to_fdid == to_fdid && p.bar == bar)
            .ok_or(ENOENT)?;
        let p = self.paths.remove(i)?;
        if let Some(c) = &self.confined {
            c.unmap(p.dev_addr, p.size);
        }
        drop(p);
        Ok(())
    }

    /// Ends the lease: the device stopped and reset, then the windows
    /// and the slot closed (on drop).
    pub(crate) fn end(self, claimed: &Claimed) {
        claimed.quiesce();
        drop(self);
    }
}

/// The IOMMU domain of a function that processes borrow (SmartIO): their
/// devices DMA into segments of any node but this one (`me`), so the
/// domain admits the direct window's span of every other node. `None`
/// where the function cannot have a domain of its own.
pub(crate) fn confine_users(
    adapter: &Arc<Adapter>,
    claimed: &Claimed,
    me: u32,
    nodes: u32,
) -> Result<Option<Confined>> {
    if claimed.isolation() != Isolation::Own {
        return Ok(None);
    }
    let mut spans = KVec::new();
    for n in (0..nodes).filter(|n| *n != me) {
        if let Ok(span) = adapter.info().device_dma(n) {
            spans.push(span, GFP_KERNEL)?;
        }
    }
    Ok(Some(claimed.confine(&spans)?))
}

/// The inbound windows over the function's memory BARs, opened to the
/// nodes of `peer`: the windows, the bytes each forwards, and the lease's
/// description of them.
#[allow(clippy::type_complexity)]
fn open_bars(
    adapter: &Arc<Adapter>,
    peer: u32,
    info: &Info,
) -> Result<(
    [Option<InboundWindow>; LEND_NUM_BARS],
    [u64; LEND_NUM_BARS],
    [LeaseBar; LEND_NUM_BARS],
)> {
    let mut bars: [Option<InboundWindow>; LEND_NUM_BARS] = Default::default();
    let mut bar_fwd = [0u64; LEND_NUM_BARS];
    let mut lease = [LeaseBar::default(); LEND_NUM_BARS];
    for i in 0..LEND_NUM_BARS {
        let (size, flags, addr) = (info.bar_size[i], info.bar_flags[i], info.bar_addr[i]);
        if size == 0 || flags & LEND_BAR_IO != 0 {
            continue;
        }
        // Windows start on pages: a small BAR off a page boundary would
        // appear at the wrong offset (x86 places BARs of 4 KiB and up on
        // pages; smaller ones are rare): it is left out.
        if addr % PAGE != 0 {
            pr_warn!(
                "BAR {} at {:#x} is not page-aligned: not forwarded\n",
                i,
                addr
            );
            continue;
        }
        // A BAR below a page is forwarded as the page that holds it.
        let fwd = size.max(PAGE).checked_next_power_of_two().ok_or(EINVAL)?;
        let w = InboundWindow::alloc(adapter)?;
        w.open(addr, fwd, peer)?;
        lease[i] = LeaseBar {
            window: w.index(),
            flags: flags & LEND_BAR_64 | flags & crate::lend_abi::LEND_BAR_PREFETCH,
            size: fwd,
            offset: 0,
        };
        bars[i] = Some(w);
        bar_fwd[i] = fwd;
    }
    Ok((bars, bar_fwd, lease))
}
