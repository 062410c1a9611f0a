// SPDX-License-Identifier: GPL-2.0

//! The adapter's interrupt handlers (docs/adapter.md, section 9).
//!
//! Each handler runs in hard-IRQ context on its own MSI-X vector, only reads
//! and clears its cause register and logs; nothing it reads can make it
//! panic.

use crate::{hw::Regs, regs};
use kernel::{device::Bound, irq, pci, prelude::*};

/// Vector `LINK`: reports link changes to peers from `LINK_EVENT`.
pub(crate) struct LinkIrq<'bound> {
    pdev: &'bound pci::Device<Bound>,
    regs: &'bound Regs<'bound>,
    node_id: u32,
}

impl<'bound> LinkIrq<'bound> {
    /// A handler for the adapter behind `regs`, which is node `node_id`.
    pub(crate) fn new(
        pdev: &'bound pci::Device<Bound>,
        regs: &'bound Regs<'bound>,
        node_id: u32,
    ) -> Self {
        Self {
            pdev,
            regs,
            node_id,
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
        for node in 0..regs::MAX_NODES {
            let bit = 1u32 << node;
            if events & bit == 0 {
                continue;
            }
            let state = if status & bit != 0 { "up" } else { "down" };
            if node == self.node_id {
                dev_info!(self.pdev, "node {}: own link {}\n", self.node_id, state);
            } else {
                dev_info!(
                    self.pdev,
                    "node {}: link to node {} {}\n",
                    self.node_id,
                    node,
                    state
                );
            }
        }
        irq::IrqReturn::Handled
    }
}

/// Vector `ERROR`: logs and clears `ERR_STATUS`.
pub(crate) struct ErrorIrq<'bound> {
    pdev: &'bound pci::Device<Bound>,
    regs: &'bound Regs<'bound>,
}

impl<'bound> ErrorIrq<'bound> {
    /// A handler for the adapter behind `regs`.
    pub(crate) fn new(pdev: &'bound pci::Device<Bound>, regs: &'bound Regs<'bound>) -> Self {
        Self { pdev, regs }
    }
}

impl irq::Handler for ErrorIrq<'_> {
    fn handle(&self) -> irq::IrqReturn {
        let Some(report) = self.regs.take_errors() else {
            return irq::IrqReturn::None;
        };
        for (bit, name) in regs::ERR_NAMES.iter().enumerate() {
            if report.status & (1 << bit) != 0 {
                dev_err!(self.pdev, "fabric error {}\n", name);
            }
        }
        let path = if report.info & (1 << 8) != 0 {
            "DMA"
        } else {
            "BAR access"
        };
        dev_err!(
            self.pdev,
            "first error: bit {} via {} target node {} at {:#x}\n",
            report.info & 0xf,
            path,
            (report.info >> 16) & 0xf,
            report.addr
        );
        irq::IrqReturn::Handled
    }
}
