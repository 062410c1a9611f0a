// SPDX-License-Identifier: GPL-2.0

//! Config space: the bus's `pci_ops`, each access decided by the owner
//! ([`HostOps::config_read`](super::HostOps::config_read)).

use super::host::Host;
use kernel::bindings;
use kernel::ffi::{c_int, c_uint};

pub(super) static PCI_OPS: bindings::pci_ops = bindings::pci_ops {
    read: Some(read),
    write: Some(write),
    add_bus: None,
    remove_bus: None,
    map_bus: None,
};

/// `[offset, offset + size)` lies in the (extended) config space.
fn in_range(offset: c_int, size: c_int) -> bool {
    offset >= 0
        && size >= 0
        && offset
            .checked_add(size)
            .is_some_and(|end| end <= bindings::PCI_CFG_SPACE_EXP_SIZE as c_int)
}

/// # Safety
///
/// The PCI core's call: `bus` is a live bus below a [`Host`]; `val` is
/// valid for writes.
unsafe extern "C" fn read(
    bus: *mut bindings::pci_bus,
    devfn: c_uint,
    offset: c_int,
    size: c_int,
    val: *mut u32,
) -> c_int {
    // SAFETY: As the caller guarantees.
    let host = unsafe { Host::of_bus(bus) };
    let v = if in_range(offset, size) {
        host.ops().config_read(devfn, offset as u32, size as u32)
    } else {
        None
    };
    // No such function: all-ones (PCI_SET_ERROR_RESPONSE).
    // SAFETY: `val` is valid for writes (requirement).
    unsafe { val.write(v.unwrap_or(u32::MAX)) };
    match v {
        Some(_) => bindings::PCIBIOS_SUCCESSFUL as c_int,
        None => bindings::PCIBIOS_DEVICE_NOT_FOUND as c_int,
    }
}

/// # Safety
///
/// The PCI core's call: `bus` is a live bus below a [`Host`].
unsafe extern "C" fn write(
    bus: *mut bindings::pci_bus,
    devfn: c_uint,
    offset: c_int,
    size: c_int,
    val: u32,
) -> c_int {
    // SAFETY: As the caller guarantees.
    let host = unsafe { Host::of_bus(bus) };
    if in_range(offset, size)
        && host
            .ops()
            .config_write(devfn, offset as u32, size as u32, val)
    {
        bindings::PCIBIOS_SUCCESSFUL as c_int
    } else {
        bindings::PCIBIOS_DEVICE_NOT_FOUND as c_int
    }
}
