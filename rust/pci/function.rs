// SPDX-License-Identifier: GPL-2.0

//! [`PciFunction`]: a referenced PCI function whatever driver holds it
//! (the kernel crate's `pci::Device` exists only inside a driver's own
//! callbacks), with what can be read about it without disturbing its
//! driver.

use crate::{bindings, device, iommu::Isolation};
use core::ptr::NonNull;
use kernel::{device::Device, str::CString};

/// A standard BAR of a function.
#[derive(Clone, Copy, Debug, Default)]
pub struct BarInfo {
    /// Bus address.
    pub bus_addr: u64,
    /// Bytes (0: absent).
    pub len: u64,
    /// An I/O-space BAR.
    pub io: bool,
    /// A 64-bit memory BAR.
    pub mem64: bool,
    /// Prefetchable memory.
    pub prefetch: bool,
}

/// A PCI function with a reference (`pci_dev_get`), dropped on drop.
///
/// # Invariants
///
/// `0` is a `pci_dev` on which this object holds one reference.
pub struct PciFunction(pub(crate) NonNull<kernel::bindings::pci_dev>);

// SAFETY: A reference on a `pci_dev`, which the PCI core lets any thread use and drop.
unsafe impl Send for PciFunction {}
// SAFETY: The accessors only read fields fixed after enumeration, or call functions of the PCI core
// that lock what they need.
unsafe impl Sync for PciFunction {}

impl PciFunction {
    /// The function at `domain:bus:devfn`, if there is one (domains above
    /// 0xffff are the kernel's emulated ones, e.g. a virtual host bridge's).
    pub fn get(domain: u32, bus: u32, devfn: u32) -> Option<Self> {
        let domain = i32::try_from(domain).ok()?;
        if bus > 0xff || devfn > 0xff {
            return None;
        }
        // SAFETY: Plain numbers; returns a referenced function or null.
        let p = unsafe { kernel::bindings::pci_get_domain_bus_and_slot(domain, bus, devfn) };
        // INVARIANT: `pci_get_domain_bus_and_slot()` took a reference.
        NonNull::new(p).map(Self)
    }

    /// A new reference on the `pci_dev` at `p`.
    ///
    /// # Safety
    ///
    /// `p` must be a live `pci_dev` for the duration of the call.
    pub(crate) unsafe fn from_raw_get(p: NonNull<kernel::bindings::pci_dev>) -> Self {
        // SAFETY: `p` is live (requirement); `pci_dev_get()` takes a reference.
        unsafe { bindings::rsio_helper_pci_dev_get(p.as_ptr()) };
        // INVARIANT: referenced just now.
        Self(p)
    }

    pub(crate) fn raw(&self) -> *mut kernel::bindings::pci_dev {
        self.0.as_ptr()
    }

    fn fields(&self) -> &kernel::bindings::pci_dev {
        // SAFETY: The function is referenced (invariant); the fields read through this are fixed after enumeration (ids, class, capabilities, resources) or read as a snapshot.
        unsafe { self.0.as_ref() }
    }

    /// The function's device (for log messages and the driver core).
    pub fn device(&self) -> &Device {
        // SAFETY: The embedded `struct device` lives as long as the reference (invariant).
        unsafe { Device::from_raw(&raw mut (*self.raw()).dev) }
    }

    /// Vendor id.
    pub fn vendor_id(&self) -> u16 {
        self.fields().vendor
    }

    /// Device id.
    pub fn device_id(&self) -> u16 {
        self.fields().device
    }

    /// Subsystem vendor and device ids.
    pub fn subsystem_ids(&self) -> (u16, u16) {
        let f = self.fields();
        (f.subsystem_vendor, f.subsystem_device)
    }

    /// Class code (base, sub, interface: 24 bits).
    pub fn class(&self) -> u32 {
        self.fields().class
    }

    /// Revision id.
    pub fn revision(&self) -> u8 {
        self.fields().revision
    }

    /// Whether it is an SR-IOV virtual function.
    pub fn is_virtfn(&self) -> bool {
        self.fields().is_virtfn() != 0
    }

    /// An SR-IOV physical function's TotalVFs, else 0.
    pub fn sriov_total_vfs(&self) -> u32 {
        if self.fields().is_physfn() == 0 {
            return 0;
        }
        // SAFETY: A referenced function (invariant).
        unsafe { kernel::bindings::pci_sriov_get_totalvfs(self.raw()) }
    }

    /// Interrupt vectors it has: its MSI-X table's size, else its MSI
    /// count, else 0.
    pub fn irq_vectors(&self) -> u32 {
        let f = self.fields();
        // SAFETY: A referenced function (invariant); the counts read its capabilities.
        let n = unsafe {
            if f.msix_cap != 0 {
                kernel::bindings::pci_msix_vec_count(self.raw())
            } else if f.msi_cap != 0 {
                kernel::bindings::pci_msi_vec_count(self.raw())
            } else {
                0
            }
        };
        u32::try_from(n).unwrap_or(0)
    }

    /// Standard BAR `bar` (0..6).
    pub fn bar(&self, bar: u32) -> BarInfo {
        if bar >= 6 {
            return BarInfo::default();
        }
        // SAFETY: A referenced function (invariant); `bar` is a standard BAR.
        let len = unsafe { kernel::bindings::pci_resource_len(self.raw(), bar as i32) };
        if len == 0 {
            return BarInfo::default();
        }
        let flags = self.fields().resource[bar as usize].flags as u64;
        let has = |f: u32| flags & u64::from(f) != 0;
        BarInfo {
            // SAFETY: A referenced function (invariant).
            bus_addr: unsafe { bindings::rsio_helper_pci_bus_address(self.raw(), bar as i32) },
            len,
            io: has(kernel::bindings::IORESOURCE_IO),
            mem64: has(kernel::bindings::IORESOURCE_MEM_64),
            prefetch: has(kernel::bindings::IORESOURCE_PREFETCH),
        }
    }

    /// The function of this node one of whose memory BARs holds the bus
    /// range `[bus_addr, bus_addr + len)` whole, with that BAR's number and
    /// the range's CPU physical address (`None` if no BAR holds it).
    pub fn find_by_bus_range(bus_addr: u64, len: u64) -> Option<(Self, u32, u64)> {
        let end = bus_addr.checked_add(len)?;
        let mut from: *mut kernel::bindings::pci_dev = core::ptr::null_mut();
        loop {
            // SAFETY: `from` is null or the function the last call returned, whose reference this call drops.
            let p = unsafe { kernel::bindings::pci_get_device(u32::MAX, u32::MAX, from) };
            // INVARIANT: `pci_get_device()` took a reference on the function it returned.
            let f = Self(NonNull::new(p)?);
            for bar in 0..6u32 {
                let b = f.bar(bar);
                let holds = !b.io
                    && b.len != 0
                    && bus_addr >= b.bus_addr
                    && b.bus_addr.checked_add(b.len).is_some_and(|e| end <= e);
                if holds {
                    let start = f.fields().resource[bar as usize].start;
                    return Some((f, bar, start + (bus_addr - b.bus_addr)));
                }
            }
            // The reference passes to the next call, which drops it.
            from = core::mem::ManuallyDrop::new(f).raw();
        }
    }

    /// PCI domain, bus number and devfn.
    pub fn location(&self) -> (u32, u32, u32) {
        let f = self.fields();
        // SAFETY: A referenced function: its bus lives as long as it does.
        let (domain, bus) = unsafe {
            (
                bindings::rsio_helper_pci_domain_nr(self.raw()),
                (*f.bus).number,
            )
        };
        (domain as u32, u32::from(bus), f.devfn)
    }

    /// Reads config byte at `off` (all-ones if the function does not
    /// answer).
    pub fn config_read8(&self, off: u16) -> u8 {
        let mut v = 0xff;
        // SAFETY: A referenced function (invariant); `v` is a valid out pointer. The PCI core locks config accesses.
        unsafe { kernel::bindings::pci_read_config_byte(self.raw(), off.into(), &mut v) };
        v
    }

    /// Reads config word at `off`.
    pub fn config_read16(&self, off: u16) -> u16 {
        let mut v = 0xffff;
        // SAFETY: As `config_read8`.
        unsafe { kernel::bindings::pci_read_config_word(self.raw(), off.into(), &mut v) };
        v
    }

    /// Reads config dword at `off`.
    pub fn config_read32(&self, off: u16) -> u32 {
        let mut v = !0;
        // SAFETY: As `config_read8`.
        unsafe { kernel::bindings::pci_read_config_dword(self.raw(), off.into(), &mut v) };
        v
    }

    /// The offsets of its capabilities with id `cap` (standard space).
    pub fn capabilities(&self, cap: u8) -> impl Iterator<Item = u8> + '_ {
        // SAFETY: A referenced function (invariant); walks its config space.
        let first = unsafe { kernel::bindings::pci_find_capability(self.raw(), cap.into()) };
        core::iter::successors(Some(first).filter(|&p| p != 0), move |&p| {
            let raw = self.raw();
            // SAFETY: As above.
            let n = unsafe { kernel::bindings::pci_find_next_capability(raw, p, cap.into()) };
            Some(n).filter(|&n| n != 0)
        })
    }

    /// Whether function-level reset works (`pcie_reset_flr` probe).
    pub fn has_flr(&self) -> bool {
        // SAFETY: A referenced function; `PCI_RESET_PROBE` only checks.
        unsafe { kernel::bindings::pcie_reset_flr(self.raw(), true) == 0 }
    }

    /// Whether the PCI core knows any reset method for it.
    pub fn has_reset_method(&self) -> bool {
        self.fields().reset_methods[0] != 0
    }

    /// What the lender's IOMMU can do for it.
    pub fn isolation(&self) -> Isolation {
        crate::iommu::isolation(self.device())
    }

    /// Whether it is in use on this node: a block device under it open or
    /// mounted, or a network interface under it up (however deep: SCSI,
    /// USB). The first such user, named, if so.
    pub fn first_user(&self) -> Option<CString> {
        let dev = device::raw(self.device());
        // SAFETY: `dev` is live (referenced); `device_lock` keeps the driver and the children list stable while we walk.
        unsafe { bindings::rsio_helper_device_lock(dev) };
        // SAFETY: As above: the driver pointer is stable under the device lock.
        let bound = unsafe { !(*dev).driver.is_null() };
        let user = if bound {
            device::first_user(self.device())
        } else {
            None
        };
        // SAFETY: Locked just above.
        unsafe { bindings::rsio_helper_device_unlock(dev) };
        user
    }
}

impl Clone for PciFunction {
    fn clone(&self) -> Self {
        // SAFETY: `self` holds a reference, so the function is live.
        unsafe { Self::from_raw_get(self.0) }
    }
}

impl Drop for PciFunction {
    fn drop(&mut self) {
        // SAFETY: Drops the reference this object holds (invariant).
        unsafe { kernel::bindings::pci_dev_put(self.raw()) };
    }
}
