// SPDX-License-Identifier: GPL-2.0

//! The lender's side of a borrow: the [`Lease`] a borrower gets. For the
//! device's lifetime with that borrower the lender's adapter has
//!
//! - an inbound window over the function's 4 KiB of ECAM and one over
//!   each memory BAR, open to the borrower only: its config accesses and
//!   MMIO are remote MMIO, performed by the adapter without software here;
//! - one `INTERRUPT` LUT slot targeting the borrower: the borrower points
//!   the device's MSI/MSI-X messages at it (`+ 4 k` raises its `USER(k)`);
//! - for DMA: the borrower's RAM is at `BAR4 + (borrower << DIRECT_SHIFT)`
//!   of the direct window, which the device reaches as any bus address.
//!   When the lender's IOMMU can give the function a domain of its own,
//!   that domain maps exactly this span and the interrupt slot's page (one
//!   to one): the device reaches its borrower's memory and nothing else —
//!   not the lender's RAM, not another node's, not another device.
//!
//! Ending a lease (return, the borrower's death, forced unlend) stops the
//! device first (decoding and bus mastering off, function reset), then
//! puts it back in its default IOMMU domain and closes the windows and the
//! slot.

use crate::lend_abi::{LEND_BAR_64, LEND_BAR_IO, LEND_NUM_BARS};
use crate::proto::{Lease, LeaseBar, LEASE_VF};
use crate::sys::{Claimed, Confined, Info, Isolation};
use kernel::prelude::*;
use kernel::sync::Arc;
use rsio_ntb::adapter::Adapter;
use rsio_ntb::inbound::InboundWindow;
use rsio_ntb::lut::LutRange;

/// `CAPS.DIRECT` (docs/adapter.md, section 4.1).
const CAPS_DIRECT: u32 = 1 << 2;
/// `CAPS.REMOTE_MMIO`.
const CAPS_REMOTE_MMIO: u32 = 1 << 3;
/// Inbound windows are 4 KiB multiples.
const PAGE: u64 = 4096;

/// A device lent to a borrower: what its lease holds open.
pub(crate) struct Leased {
    /// The borrowing node.
    pub(crate) node: u32,
    /// The function's IOMMU domain, if it has one; dropped first: the
    /// device is stopped by then (`end`), and no window may close while it
    /// still translates into them.
    _confined: Option<Confined>,
    _cfg: InboundWindow,
    _bars: KVec<InboundWindow>,
    _msi: LutRange,
}

impl Leased {
    /// Opens the windows and the interrupt slot of `claimed` (identity
    /// `info`) for `node` and returns them with the lease to send.
    pub(crate) fn open(adapter: &Arc<Adapter>, node: u32, claimed: &Claimed, info: &Info) -> Result<(Self, Lease)> {
        let ai = adapter.info();
        if ai.caps & CAPS_REMOTE_MMIO == 0 || ai.caps & CAPS_DIRECT == 0 || ai.direct_nodes & (1 << node) == 0 {
            return Err(EOPNOTSUPP);
        }
        let dma_span = 1u64.checked_shl(ai.direct_shift).ok_or(EOPNOTSUPP)?;
        let dma_base = (u64::from(node) << ai.direct_shift).checked_add(ai.bar4.0).ok_or(EOPNOTSUPP)?;
        if ai.direct_shift == 0 || dma_base.checked_add(dma_span).is_none_or(|end| end > ai.bar4.0 + ai.bar4.1) {
            return Err(EOPNOTSUPP);
        }
        let ecam = claimed.ecam();
        if ecam == 0 {
            return Err(ENODEV);
        }
        let peer = 1u32 << node;
        let cfg = InboundWindow::alloc(adapter)?;
        cfg.open(ecam, PAGE, peer)?;

        let mut lease = Lease {
            cfg_window: cfg.index(),
            msi_bus: 0,
            dma_base,
            dma_span,
            vendor: info.vendor,
            device: info.device,
            flags: if info.virtfn != 0 { LEASE_VF } else { 0 },
            bars: [LeaseBar::default(); LEND_NUM_BARS],
        };
        let mut bars = KVec::new();
        for i in 0..LEND_NUM_BARS {
            let (size, flags, addr) = (info.bar_size[i], info.bar_flags[i], info.bar_addr[i]);
            if size == 0 || flags & LEND_BAR_IO != 0 {
                continue;
            }
            // Windows start on pages: a small BAR off a page boundary would
            // appear at the wrong offset (x86 places BARs of 4 KiB and up on
            // pages; smaller ones are rare): it is left out.
            if addr % PAGE != 0 {
                pr_warn!("BAR {} at {:#x} is not page-aligned: not forwarded\n", i, addr);
                continue;
            }
            // A BAR below a page is forwarded as the page that holds it.
            let fwd = size.max(PAGE).checked_next_power_of_two().ok_or(EINVAL)?;
            let w = InboundWindow::alloc(adapter)?;
            w.open(addr, fwd, peer)?;
            lease.bars[i] = LeaseBar {
                window: w.index(),
                flags: flags & LEND_BAR_64 | flags & crate::lend_abi::LEND_BAR_PREFETCH,
                size: fwd,
            };
            bars.push(w, GFP_KERNEL)?;
        }
        let msi = LutRange::alloc(adapter, 1)?;
        msi.map_interrupt(0, node)?;
        lease.msi_bus = msi.bus_addr();
        let confined = match claimed.isolation() {
            Isolation::Own => Some(claimed.confine(&[(dma_base, dma_span), (lease.msi_bus & !(PAGE - 1), PAGE)])?),
            Isolation::Shared => {
                pr_warn!("function shares its IOMMU group: its DMA is not confined to node {}\n", node);
                None
            }
            Isolation::None => None,
        };
        Ok((
            Self {
                node,
                _confined: confined,
                _cfg: cfg,
                _bars: bars,
                _msi: msi,
            },
            lease,
        ))
    }

    /// Ends the lease: the device stopped and reset, then the windows
    /// and the slot closed (on drop).
    pub(crate) fn end(self, claimed: &Claimed) {
        claimed.quiesce();
        drop(self);
    }
}
