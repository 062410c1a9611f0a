// SPDX-License-Identifier: GPL-2.0

//! The platform's ECAM (ACPI MCFG): where a function's config space is in
//! physical memory.

use kernel::str::CStrExt;

/// The bus address of function `devfn` on `bus` of PCI segment `segment`
/// in the platform's ECAM (4 KiB of config space), if the MCFG table
/// covers it.
pub fn ecam_address(segment: u32, bus: u32, devfn: u32) -> Option<u64> {
    let mut hdr: *mut kernel::bindings::acpi_table_header = core::ptr::null_mut();
    let sig = c"MCFG";
    // SAFETY: `sig` is a NUL-terminated signature; `hdr` is a valid out pointer; a table returned is put below.
    let status = unsafe {
        kernel::bindings::acpi_get_table(sig.as_char_ptr().cast_mut().cast(), 0, &mut hdr)
    };
    if status != 0 || hdr.is_null() {
        return None;
    }
    let head = core::mem::size_of::<kernel::bindings::acpi_table_mcfg>();
    let entry = core::mem::size_of::<kernel::bindings::acpi_mcfg_allocation>();
    // SAFETY: `hdr` is a mapped ACPI table of `length` bytes, valid until `acpi_put_table()`.
    let len = unsafe { core::ptr::read_unaligned(&raw const (*hdr).length) } as usize;
    let mut found = None;
    let n = len.saturating_sub(head) / entry;
    for i in 0..n {
        let at = hdr
            .cast::<u8>()
            .wrapping_add(head + i * entry)
            .cast::<kernel::bindings::acpi_mcfg_allocation>();
        // SAFETY: Entry `i` lies inside the table's `length` bytes (above); the entries are packed, so read them unaligned.
        let a = unsafe { core::ptr::read_unaligned(at) };
        let (seg, first, last, base) = (
            a.pci_segment,
            a.start_bus_number,
            a.end_bus_number,
            a.address,
        );
        if u32::from(seg) == segment && (u32::from(first)..=u32::from(last)).contains(&bus) {
            found =
                Some(base + (u64::from(bus - u32::from(first)) << 20) + (u64::from(devfn) << 12));
            break;
        }
    }
    // SAFETY: Returned by `acpi_get_table()` above, put once.
    unsafe { kernel::bindings::acpi_put_table(hdr) };
    found
}
