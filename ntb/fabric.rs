// SPDX-License-Identifier: GPL-2.0

//! [`Fabric`]: what the users of one adapter share: the set of link users
//! that drives `LINK_CTRL.ENABLE`, and the lock of every register
//! read-modify-write. Its drop takes the node out of the fabric.

use crate::{hw::Regs, regs};
use kernel::{device::Bound, new_spinlock_irq, pci, prelude::*, sync::SpinLockIrq};

/// Link users: who asked for the link to be up.
pub(crate) mod user {
    /// The NTB device (its client called `ntb_link_enable()`).
    pub(crate) const NTB: u32 = 0;
}

/// The shared state of one adapter.
///
/// The lock serializes the link user set and every read-modify-write of a
/// register (`DB_MASK`, `MSG_MASK`); it disables interrupts because NTB
/// clients change masks from their interrupt callbacks too.
#[pin_data(PinnedDrop)]
pub(crate) struct Fabric<'bound> {
    /// Bit `u`: link user `u` (see [`user`]) wants the link up.
    #[pin]
    link_users: SpinLockIrq<u32>,
    regs: &'bound Regs<'bound>,
    pdev: &'bound pci::Device<Bound>,
    node_id: u32,
}

impl<'bound> Fabric<'bound> {
    /// The shared state of the adapter behind `regs`, node `node_id`; the
    /// link starts disabled (nobody has enabled it).
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

    /// Link user `user` wants the link up (`on`) or no longer needs it;
    /// `LINK_CTRL.ENABLE` follows "some user wants it". Idempotent per user.
    pub(crate) fn set_link_user(&self, user: u32, on: bool) {
        let mut users = self.link_users.lock();
        let before = *users;
        let bit = 1u32 << (user % 32);
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
    pub(crate) fn update(&self, off: usize, set: u32, clear: u32) -> Result {
        let _guard = self.link_users.lock();
        let v = self.regs.read(off)?;
        self.regs.write(off, (v | set) & !clear)
    }
}

#[pinned_drop]
impl PinnedDrop for Fabric<'_> {
    fn drop(self: Pin<&mut Self>) {
        // The users are gone (they drop first, see `NtbHw`): leave the
        // fabric whatever a client left enabled.
        self.regs.set_link(false);
        dev_info!(
            self.pdev,
            "node {}: link disabled, adapter released\n",
            self.node_id
        );
    }
}

/// The bit of node `node` in the adapter's node masks (`LINK_STATUS`,
/// `LINK_EVENT`, `IW_CTRL.PEERS` >> 16).
pub(crate) fn node_bit(node: u32) -> u32 {
    1u32 << (node % regs::MAX_NODES)
}
