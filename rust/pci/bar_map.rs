// SPDX-License-Identifier: GPL-2.0

//! [`BarMapping`]: part of a held function's memory BAR, mapped with
//! memory decoding on for as long as the mapping lives (the command
//! register is put back on drop), with register accessors and polling.

use super::StubClaim;
use kernel::{
    prelude::*,
    time::{delay::fsleep, Delta, Instant, Monotonic},
};

/// A mapping of `len` bytes of a BAR (`pci_iomap_range`).
///
/// # Invariants
///
/// `addr` is a `pci_iomap_range` mapping of `len` bytes of `f`'s BAR,
/// owned by this object; `cmd` is the command register to restore.
pub struct BarMapping<'a> {
    f: &'a StubClaim,
    addr: *mut core::ffi::c_void,
    len: usize,
    cmd: u16,
}

impl<'a> BarMapping<'a> {
    pub(super) fn new(f: &'a StubClaim, bar: u32, offset: u64, len: usize) -> Result<Self> {
        let b = f.bar(bar);
        let end = offset.checked_add(len as u64).ok_or(EINVAL)?;
        if b.len == 0 || b.io || end > b.len {
            return Err(ENOTTY);
        }
        let cmd = f.config_read16(kernel::bindings::PCI_COMMAND as u16);
        f.config_write16(
            kernel::bindings::PCI_COMMAND as u16,
            cmd | kernel::bindings::PCI_COMMAND_MEMORY as u16,
        );
        let (p, bar, offset) = (f.raw(), bar as i32, offset as usize);
        // SAFETY: A function the stub holds; the range is inside its memory BAR (checked above).
        let addr = unsafe { kernel::bindings::pci_iomap_range(p, bar, offset, len) };
        if addr.is_null() {
            f.config_write16(kernel::bindings::PCI_COMMAND as u16, cmd);
            return Err(ENOMEM);
        }
        // INVARIANT: mapped just now.
        Ok(Self {
            f,
            addr: addr.cast(),
            len,
            cmd,
        })
    }

    /// The address of `off` if an access of `size` bytes there fits.
    fn at(&self, off: usize, size: usize) -> Option<*mut core::ffi::c_void> {
        let end = off.checked_add(size)?;
        if end > self.len || off % size != 0 {
            return None;
        }
        // The offset is inside the mapping (checked above).
        Some(self.addr.wrapping_byte_add(off))
    }

    /// Reads the byte at `off` (all-ones out of range).
    pub fn read8(&self, off: usize) -> u8 {
        let Some(p) = self.at(off, 1) else {
            return !0;
        };
        // SAFETY: Inside the mapping this object owns (invariant, `at`).
        unsafe { kernel::bindings::ioread8(p) as u8 }
    }

    /// Reads the dword at `off` (all-ones out of range or misaligned).
    pub fn read32(&self, off: usize) -> u32 {
        let Some(p) = self.at(off, 4) else {
            return !0;
        };
        // SAFETY: As `read8`.
        unsafe { kernel::bindings::ioread32(p) }
    }

    /// Writes the byte at `off` (nothing out of range).
    pub fn write8(&self, off: usize, v: u8) {
        if let Some(p) = self.at(off, 1) {
            // SAFETY: As `read8`.
            unsafe { kernel::bindings::iowrite8(v, p) };
        }
    }

    /// Writes the dword at `off` (nothing out of range or misaligned).
    pub fn write32(&self, off: usize, v: u32) {
        if let Some(p) = self.at(off, 4) {
            // SAFETY: As `read8`.
            unsafe { kernel::bindings::iowrite32(v, p) };
        }
    }

    /// Reads `read(self)` every `sleep_us` until `done` holds for the
    /// value, for at most `timeout_us` (`ETIMEDOUT`), as the kernel's
    /// `readx_poll_timeout`.
    pub fn poll<T: Copy>(
        &self,
        read: impl Fn(&Self) -> T,
        done: impl Fn(T) -> bool,
        sleep_us: i64,
        timeout_us: i64,
    ) -> Result<T> {
        let start = Instant::<Monotonic>::now();
        loop {
            let v = read(self);
            if done(v) {
                return Ok(v);
            }
            if start.elapsed() > Delta::from_micros(timeout_us) {
                let v = read(self);
                return if done(v) { Ok(v) } else { Err(ETIMEDOUT) };
            }
            fsleep(Delta::from_micros(sleep_us));
        }
    }
}

impl Drop for BarMapping<'_> {
    fn drop(&mut self) {
        // SAFETY: The mapping this object owns (invariant), unmapped once; no borrow of it is left.
        unsafe { kernel::bindings::pci_iounmap(self.f.raw(), self.addr.cast()) };
        self.f
            .config_write16(kernel::bindings::PCI_COMMAND as u16, self.cmd);
    }
}
