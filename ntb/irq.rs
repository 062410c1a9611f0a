// SPDX-License-Identifier: GPL-2.0

//! The adapter's interrupt handlers (docs/adapter.md, section 9).
//!
//! Each handler runs in hard-IRQ context on its own MSI-X vector, reads and
//! clears its cause register (or leaves that to the NTB client, for doorbells
//! and messages), logs, and forwards the event to the NTB device if there
//! is one; nothing it reads can make it panic.

use crate::{adapter::Adapter, fabric_ntb::FabricNtb, hw::Regs, regs};
use kernel::{device::Bound, irq, pci, prelude::*, sync::Arc};

/// The registered NTB device of the adapter, as the handlers see it.
pub(crate) type FabricDev<'bound> = rsio_kernel::ntb::HwRegistration<FabricNtb<'bound>>;

/// Vector `LINK`: reports link changes to peers from `LINK_EVENT`.
pub(crate) struct LinkIrq<'bound> {
    pdev: &'bound pci::Device<Bound>,
    regs: Regs<'bound>,
    adapter: Arc<Adapter>,
    ntb: Option<&'bound FabricDev<'bound>>,
}

impl<'bound> LinkIrq<'bound> {
    /// A handler for `adapter`, whose registers are `regs`; link changes
    /// of other nodes are forwarded to `ntb` and to the fabric core.
    pub(crate) fn new(
        pdev: &'bound pci::Device<Bound>,
        regs: Regs<'bound>,
        adapter: Arc<Adapter>,
        ntb: Option<&'bound FabricDev<'bound>>,
    ) -> Self {
        Self {
            pdev,
            regs,
            adapter,
            ntb,
        }
    }
}

impl irq::Handler for LinkIrq<'_> {
    fn handle(&self) -> irq::IrqReturn {
        let events = self.regs.take_link_events();
        if events == 0 {
            return irq::IrqReturn::None;
        }
        let status = self.regs.link_status();
        let node_id = self.adapter.info().node_id;
        for node in 0..regs::MAX_NODES {
            let bit = 1u32 << node;
            if events & bit == 0 {
                continue;
            }
            let state = if status & bit != 0 { "up" } else { "down" };
            if node == node_id {
                dev_info!(self.pdev, "node {}: own link {}\n", node_id, state);
            } else {
                dev_info!(
                    self.pdev,
                    "node {}: link to node {} {}\n",
                    node_id,
                    node,
                    state
                );
            }
        }
        if let Some(ntb) = self.ntb {
            if events & !(1u32 << (node_id % regs::MAX_NODES)) != 0 {
                ntb.link_event();
            }
        }
        if let Some(client) = self.adapter.client() {
            client.link_changed(&self.adapter, status, events);
        }
        irq::IrqReturn::Handled
    }
}

/// Vector `DB(p)`: forwards to the NTB device as doorbell vector `pidx`
/// (the peer index of node `p`); the client reads and clears `DB` itself.
pub(crate) struct DbIrq<'bound> {
    ntb: &'bound FabricDev<'bound>,
    pidx: u32,
}

impl<'bound> DbIrq<'bound> {
    /// A handler for the doorbells of `ntb`'s peer `pidx`.
    pub(crate) fn new(ntb: &'bound FabricDev<'bound>, pidx: u32) -> Self {
        Self { ntb, pidx }
    }
}

impl irq::Handler for DbIrq<'_> {
    fn handle(&self) -> irq::IrqReturn {
        self.ntb.db_event(self.pidx);
        irq::IrqReturn::Handled
    }
}

/// Vector `MESSAGE`: forwards to the NTB device, which reads the messages
/// and their sources.
pub(crate) struct MsgIrq<'bound> {
    regs: Regs<'bound>,
    ntb: &'bound FabricDev<'bound>,
}

impl<'bound> MsgIrq<'bound> {
    /// A handler for the message registers behind `regs`.
    pub(crate) fn new(regs: Regs<'bound>, ntb: &'bound FabricDev<'bound>) -> Self {
        Self { regs, ntb }
    }
}

impl irq::Handler for MsgIrq<'_> {
    fn handle(&self) -> irq::IrqReturn {
        if self.regs.msg_status() == 0 {
            return irq::IrqReturn::None;
        }
        // The client reads the messages and clears `MSG_STS`.
        self.ntb.msg_event();
        irq::IrqReturn::Handled
    }
}

/// Vector `ERROR`: logs, counts and clears `ERR_STATUS`, and tells the
/// fabric core.
pub(crate) struct ErrorIrq<'bound> {
    pdev: &'bound pci::Device<Bound>,
    regs: Regs<'bound>,
    adapter: Arc<Adapter>,
}

impl<'bound> ErrorIrq<'bound> {
    /// A handler for `adapter`, whose registers are `regs`.
    pub(crate) fn new(
        pdev: &'bound pci::Device<Bound>,
        regs: Regs<'bound>,
        adapter: Arc<Adapter>,
    ) -> Self {
        Self {
            pdev,
            regs,
            adapter,
        }
    }
}

impl irq::Handler for ErrorIrq<'_> {
    fn handle(&self) -> irq::IrqReturn {
        let Some(report) = self.regs.take_errors() else {
            return irq::IrqReturn::None;
        };
        self.adapter.count_errors(&report);
        if let Some(client) = self.adapter.client() {
            client.error(&self.adapter, &report);
        }
        self.adapter.report_errors(&report);
        // A peer that keeps faulting must not flood the log.
        if !rsio_kernel::ratelimit::err_ratelimit() {
            return irq::IrqReturn::Handled;
        }
        for (bit, name) in regs::ERR_NAMES.iter().enumerate() {
            if report.status & (1 << bit) != 0 {
                dev_err!(self.pdev, "fabric error {}\n", name);
            }
        }
        let path = if report.first_by_dma() {
            "DMA"
        } else {
            "BAR access"
        };
        dev_err!(
            self.pdev,
            "first error: bit {} via {} target node {} at {:#x}\n",
            report.first_bit(),
            path,
            report.first_node(),
            report.addr
        );
        irq::IrqReturn::Handled
    }
}

/// Vector `USER(k)`: a peer raised remote interrupt `k` (docs/adapter.md,
/// section 5); forwarded to the fabric core.
pub(crate) struct UserIrq {
    adapter: Arc<Adapter>,
    vector: u32,
}

impl UserIrq {
    /// A handler for remote interrupt `vector` of `adapter`.
    pub(crate) fn new(adapter: Arc<Adapter>, vector: u32) -> Self {
        Self { adapter, vector }
    }
}

impl irq::Handler for UserIrq {
    fn handle(&self) -> irq::IrqReturn {
        self.adapter.count_remote_irq();
        if let Some(hook) = self.adapter.user_hook(self.vector) {
            hook.fire(self.vector);
        } else if let Some(client) = self.adapter.client() {
            client.remote_interrupt(&self.adapter, self.vector);
        }
        irq::IrqReturn::Handled
    }
}

/// Vector `DMA(c)`: clears `DMA_STATUS.DONE` and tells the fabric core.
pub(crate) struct DmaIrq<'bound> {
    regs: Regs<'bound>,
    adapter: Arc<Adapter>,
    channel: u32,
}

impl<'bound> DmaIrq<'bound> {
    /// A handler for DMA channel `channel` of `adapter`.
    pub(crate) fn new(regs: Regs<'bound>, adapter: Arc<Adapter>, channel: u32) -> Self {
        Self {
            regs,
            adapter,
            channel,
        }
    }
}

impl irq::Handler for DmaIrq<'_> {
    fn handle(&self) -> irq::IrqReturn {
        let status = self.regs.read(regs::dma_status(self.channel)).unwrap_or(0);
        if status & regs::DMA_STATUS_DONE == 0 {
            return irq::IrqReturn::None;
        }
        let _ = self
            .regs
            .write(regs::dma_status(self.channel), regs::DMA_STATUS_DONE);
        if let Some(client) = self.adapter.client() {
            client.dma_done(&self.adapter, self.channel);
        }
        irq::IrqReturn::Handled
    }
}
