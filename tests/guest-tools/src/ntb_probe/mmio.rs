//! A mapped device region (a BAR through VFIO) and its accesses.
//!
//! Register accesses are single volatile loads and stores of 4 or 8 bytes,
//! so each one reaches the device as exactly one access; bulk copies go
//! through [`Mmio::store_words`] and friends, which also stay at 8 bytes
//! per access so that a trapped window sees a predictable access size.

use anyhow::{bail, Result};

/// A shared mapping of (part of) a device region; unmapped on drop.
#[derive(Debug)]
pub struct Mmio {
    base: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain device memory owned by this value; every access is a volatile load or store, safe from any thread.
unsafe impl Send for Mmio {}
// SAFETY: As above: shared references only perform volatile accesses.
unsafe impl Sync for Mmio {}

impl Mmio {
    /// Maps `len` bytes of `fd` at `offset`, shared, read-write.
    pub fn map(fd: libc::c_int, offset: u64, len: usize) -> Result<Mmio> {
        let Ok(offset) = libc::off_t::try_from(offset) else {
            bail!("mapping offset {offset:#x} out of range");
        };
        // SAFETY: a fresh mapping chosen by the kernel; failure is checked.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                offset,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(Mmio {
            base: base.cast(),
            len,
        })
    }

    /// A pointer to a `T` at `offset`, if it lies inside and is aligned.
    fn at<T>(&self, offset: u64) -> Result<*mut T> {
        let size = std::mem::size_of::<T>();
        match usize::try_from(offset) {
            Ok(o) if o % size == 0 && o.checked_add(size).is_some_and(|end| end <= self.len) => {
                // SAFETY: just checked to be inside the mapping.
                Ok(unsafe { self.base.add(o) }.cast())
            }
            _ => bail!(
                "access of {size} bytes at {offset:#x} is outside the {:#x}-byte mapping or unaligned",
                self.len
            ),
        }
    }

    /// The range `[offset, offset + len)` as a pointer, if inside and
    /// 8-byte aligned.
    fn range(&self, offset: u64, len: usize) -> Result<*mut u8> {
        match usize::try_from(offset) {
            Ok(o) if o % 8 == 0 && o.checked_add(len).is_some_and(|end| end <= self.len) => {
                // SAFETY: just checked to be inside the mapping.
                Ok(unsafe { self.base.add(o) })
            }
            _ => bail!(
                "{len} bytes at {offset:#x} are outside the {:#x}-byte mapping or unaligned",
                self.len
            ),
        }
    }

    pub fn read32(&self, offset: u64) -> Result<u32> {
        // SAFETY: `at` checked bounds and alignment.
        Ok(unsafe { self.at::<u32>(offset)?.read_volatile() })
    }

    pub fn write32(&self, offset: u64, value: u32) -> Result<()> {
        // SAFETY: `at` checked bounds and alignment.
        unsafe { self.at::<u32>(offset)?.write_volatile(value) };
        Ok(())
    }

    pub fn read64(&self, offset: u64) -> Result<u64> {
        // SAFETY: `at` checked bounds and alignment.
        Ok(unsafe { self.at::<u64>(offset)?.read_volatile() })
    }

    /// Stores `words` at `offset`, one 8-byte store each.
    pub fn store_words(&self, offset: u64, words: &[u64]) -> Result<()> {
        let p = self.range(offset, words.len() * 8)?.cast::<u64>();
        for (i, &w) in words.iter().enumerate() {
            // SAFETY: `range` checked the whole span and its alignment.
            unsafe { p.add(i).write_volatile(w) };
        }
        Ok(())
    }

    /// Loads `words.len()` words from `offset`, one 8-byte load each.
    pub fn load_words(&self, offset: u64, words: &mut [u64]) -> Result<()> {
        let p = self.range(offset, words.len() * 8)?.cast::<u64>();
        for (i, w) in words.iter_mut().enumerate() {
            // SAFETY: `range` checked the whole span and its alignment.
            *w = unsafe { p.add(i).read_volatile() };
        }
        Ok(())
    }

    /// Copies `data` to `offset` as the CPU copies memory (wide moves):
    /// the direct window's fast path.
    pub fn copy_in(&self, offset: u64, data: &[u8]) -> Result<()> {
        let p = self.range(offset, data.len())?;
        // SAFETY: `range` checked the span; `data` cannot overlap device memory we mapped.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
        Ok(())
    }

    /// Copies from `offset` into `data` as the CPU copies memory.
    pub fn copy_out(&self, offset: u64, data: &mut [u8]) -> Result<()> {
        let p = self.range(offset, data.len())?;
        // SAFETY: as in `copy_in`.
        unsafe { std::ptr::copy_nonoverlapping(p, data.as_mut_ptr(), data.len()) };
        Ok(())
    }
}

impl Drop for Mmio {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}
