// SPDX-License-Identifier: GPL-2.0

//! `mmap(2)` of `/dev/sisci`: the page offset selects a handle (`handle <<
//! SISCI_MMAP_SHIFT`) and the bytes within it. Local segments map their
//! pages (cached); connections map the owner's chunks through the direct
//! window (BAR4, write-combining: CPU stores are not trapped); multicast
//! connections and connections to device memory map their
//! translated-window slots (uncached); local device memory maps uncached.
//!
//! Only shared mappings (`MAP_SHARED`); every mapping is remembered by inode so that revocation can
//! zap it
//! (`unmap_mapping_range`); afterwards accesses raise SIGBUS.

use crate::sisci_abi as abi;
use crate::state::{FileTag, Shared, CONN_OK};
use kernel::mm::virt::VmaNew;
use kernel::prelude::*;
use rsio_kernel::mm::Vma;

const PAGE: u64 = kernel::page::PAGE_SIZE as u64;

/// Maps what `vma`'s offset names, for `file`.
pub(crate) fn mmap(sh: &Shared, file: FileTag, vma: &VmaNew) -> Result {
    // Shared mappings only: for a private (copy-on-write) one,
    // remap_pfn_range rewrites vm_pgoff to the PFN, and revocation, which
    // zaps by offset, would miss it (the program would keep freed memory).
    if vma.flags() & kernel::mm::virt::flags::SHARED == 0 {
        return Err(EINVAL);
    }
    let v = Vma::new(vma);
    let (start, end, pgoff) = v.span();
    let off = pgoff.checked_mul(PAGE).ok_or(EINVAL)?;
    let handle = (off >> abi::SISCI_MMAP_SHIFT) as u32;
    let within = off & ((1u64 << abi::SISCI_MMAP_SHIFT) - 1);
    let len = (end - start) as u64;
    if crate::devices::mmap(sh, file, handle, within, &v)? {
        return Ok(());
    }
    let mut st = sh.st.lock();
    if let Some(s) = st
        .segs
        .iter_mut()
        .find(|s| s.handle == handle && s.file == file)
    {
        if within.checked_add(len).is_none_or(|e| e > s.mem.size) {
            return Err(EINVAL);
        }
        s.mem.map_into(&v, start, within, len)?;
        return s.mappers.add(v.inode());
    }
    let c = st
        .conns
        .iter_mut()
        .find(|c| c.handle == handle && c.file == file)
        .ok_or(EINVAL)?;
    if Shared::lost(&c.lost) != CONN_OK {
        return Err(ENOTCONN);
    }
    if within.checked_add(len).is_none_or(|e| e > c.size) {
        return Err(EINVAL);
    }
    if let Some(lut) = c.mc.as_ref().or(c.win.as_ref()) {
        v.map_io(start, lut.bus_addr() + within, len as usize, false)?;
        return c.mappers.add(v.inode());
    }
    let direct = sh.info.bar4.0 + (u64::from(c.node) << sh.info.direct_shift);
    let (mut addr, mut o, mut left) = (start, within, len);
    while left > 0 {
        let i = (o >> c.chunk_shift) as usize;
        let w = o & ((1 << c.chunk_shift) - 1);
        let n = ((1u64 << c.chunk_shift) - w).min(left);
        let bus = *c.bus.get(i).ok_or(EINVAL)?;
        v.map_io(addr, direct + bus + w, n as usize, true)?;
        addr += n as usize;
        o += n;
        left -= n;
    }
    c.mappers.add(v.inode())
}
