// SPDX-License-Identifier: GPL-2.0

//! The lender's hold on a function: taken from its native driver for
//! `rsio_lend`'s stub driver, reset between borrowers, given back on drop.

use crate::lend_abi::{LEND_BAR_64, LEND_BAR_IO, LEND_BAR_PREFETCH, LEND_NUM_BARS};
use crate::reset;
use kernel::{prelude::*, str::CString};
use rsio_kernel::{
    iommu::{Confinement, Isolation},
    pci::{PciFunction, StubClaim, StubDriver},
};

/// `PCI_BASE_CLASS_BRIDGE`.
const CLASS_BRIDGE: u32 = 0x06;
/// `PCI_COMMAND_INTX_DISABLE`: the command register of a stopped function.
const COMMAND_STOPPED: u16 = 1 << 10;

rsio_kernel::global_lock! {
    /// The stub driver, registered while the module is loaded.
    static STUB: Mutex<Option<Pin<KBox<StubDriver>>>> = None;
}

/// Registers the stub driver `rsio_lend`.
pub(crate) fn register_stub(module: &'static ThisModule) -> Result {
    let stub = KBox::pin_init(StubDriver::register(c"rsio_lend", module), GFP_KERNEL)?;
    *STUB.lock() = Some(stub);
    Ok(())
}

/// Unregisters the stub driver (every function still held goes back to
/// its native driver's probe first: drop the claims before).
pub(crate) fn unregister_stub() {
    let stub = STUB.lock().take();
    drop(stub);
}

/// A claimed function's identity and BARs.
#[derive(Clone, Copy, Default)]
pub(crate) struct Info {
    pub(crate) vendor: u16,
    pub(crate) device: u16,
    pub(crate) subsystem_vendor: u16,
    pub(crate) subsystem_device: u16,
    pub(crate) class: u32,
    pub(crate) revision: u32,
    /// `LEND_RESET_*`: how the function is reset between borrowers.
    pub(crate) reset: u32,
    /// An SR-IOV virtual function (its config space reads ids 0xffff).
    pub(crate) virtfn: bool,
    /// An SR-IOV physical function's TotalVFs, else 0.
    pub(crate) sriov_total_vfs: u32,
    /// Interrupt vectors it has: its MSI-X table's size, else its MSI count.
    pub(crate) irqs: u32,
    pub(crate) bar_addr: [u64; LEND_NUM_BARS],
    pub(crate) bar_size: [u64; LEND_NUM_BARS],
    /// `LEND_BAR_*`.
    pub(crate) bar_flags: [u32; LEND_NUM_BARS],
    /// Its driver hands it physical addresses, bypassing the DMA API (a
    /// virtio device without `VIRTIO_F_ACCESS_PLATFORM`): a borrower's DMA
    /// mapping cannot translate them, so it must not be borrowed.
    pub(crate) dma_bypass: bool,
}

impl Info {
    fn of(c: &StubClaim, reset: u32) -> Self {
        let (subsystem_vendor, subsystem_device) = c.subsystem_ids();
        let mut i = Self {
            vendor: c.vendor_id(),
            device: c.device_id(),
            subsystem_vendor,
            subsystem_device,
            class: c.class(),
            revision: c.revision().into(),
            reset,
            virtfn: c.is_virtfn(),
            sriov_total_vfs: c.sriov_total_vfs(),
            irqs: c.irq_vectors(),
            dma_bypass: reset::bypasses_dma_api(c),
            ..Default::default()
        };
        for bar in 0..LEND_NUM_BARS {
            let b = c.bar_info(bar as u32);
            if b.len == 0 {
                continue;
            }
            i.bar_addr[bar] = b.bus_addr;
            i.bar_size[bar] = b.len;
            i.bar_flags[bar] = if b.io { LEND_BAR_IO } else { 0 }
                | if b.mem64 { LEND_BAR_64 } else { 0 }
                | if b.prefetch { LEND_BAR_PREFETCH } else { 0 };
        }
        i
    }
}

/// A function held by the stub driver; reset and given back to its native
/// driver on drop.
pub(crate) struct Claimed {
    claim: StubClaim,
}

impl Claimed {
    /// Claims `domain:bus:devfn`: `ENODEV` no such function, `EINVAL` a
    /// bridge (class 0x06xx), `EPERM` the rsio adapter, `EBUSY` the stub
    /// driver did not bind it. The function is reset (its driver may have
    /// left it running).
    pub(crate) fn claim(domain: u32, bus: u32, devfn: u32) -> Result<(Self, Info)> {
        if domain > 0xffff || bus > 0xff || devfn > 0xff {
            return Err(EINVAL);
        }
        let f = PciFunction::get(domain, bus, devfn).ok_or(ENODEV)?;
        // The adapter first: it is a bridge by class too (0x0680, NTB).
        if f.vendor_id() == rsio_ntb::adapter::VENDOR_ID {
            return Err(EPERM);
        }
        if f.class() >> 16 == CLASS_BRIDGE {
            return Err(EINVAL);
        }
        let claim = STUB.lock().as_ref().ok_or(ENODEV)?.claim(f)?;
        // The state the lender's firmware and PCI core set up, for class resets.
        claim.save_state();
        let method = reset::method(&claim);
        let info = Info::of(&claim, method);
        if let Err(e) = reset::reset(&claim, method) {
            dev_warn!(
                claim.device(),
                "no reset (method {}: {:?}): borrowers may find the last one's state\n",
                method,
                e
            );
        }
        Ok((Self { claim }, info))
    }

    /// The bus address of the function's 4 KiB of the platform's ECAM,
    /// which a peer reaches by remote MMIO (0: the platform has none).
    pub(crate) fn ecam(&self) -> u64 {
        let (domain, bus, devfn) = self.claim.location();
        rsio_kernel::acpi::ecam_address(domain, bus, devfn).unwrap_or(0)
    }

    /// Stops what a borrower left running: decoding and bus mastering off,
    /// then the function's reset (its config state, as the lender set it
    /// up, restored after).
    pub(crate) fn quiesce(&self) {
        let c = &self.claim;
        let method = reset::method(c);
        c.config_write16(kernel::bindings::PCI_COMMAND as u16, COMMAND_STOPPED);
        if reset::reset(c, method).is_err() {
            dev_warn!(
                c.device(),
                "no reset (method {}); memory and bus mastering left off\n",
                method
            );
        } else {
            c.config_write16(kernel::bindings::PCI_COMMAND as u16, COMMAND_STOPPED);
        }
    }

    /// What the lender's IOMMU can do for the function.
    pub(crate) fn isolation(&self) -> Isolation {
        self.claim.isolation()
    }

    /// Confines the function's DMA to `ranges` (bus address, length;
    /// page-aligned), mapped one to one in an IOMMU domain of its own. Stop
    /// the function before dropping the result: it is then back in its
    /// default domain.
    pub(crate) fn confine(&self, ranges: &[(u64, u64)]) -> Result<Confinement> {
        self.claim.confine(ranges)
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        let c = &self.claim;
        if let Err(e) = reset::reset(c, reset::method(c)) {
            if e != ENOTTY {
                dev_warn!(c.device(), "reset on return failed ({:?})\n", e);
            }
        }
        // `claim` drops next: the function goes back to its native driver.
    }
}

/// Whether the function `domain:bus:devfn` is in use on this node: the
/// reason if so (`ENODEV`: no such function).
pub(crate) fn function_in_use(domain: u32, bus: u32, devfn: u32) -> Result<Option<CString>> {
    if domain > 0xffff || bus > 0xff || devfn > 0xff {
        return Err(EINVAL);
    }
    let f = PciFunction::get(domain, bus, devfn).ok_or(ENODEV)?;
    Ok(f.first_user())
}
