//! Memory the adapter can reach: locked, physically contiguous buffers and
//! their bus addresses.
//!
//! Without an IOMMU a bus address is a physical address, which user space
//! learns from `/proc/self/pagemap` (root only). The guest kernel has no
//! huge pages, so a contiguous buffer is found the hard way: fault in a pool
//! of locked pages, look for a run of consecutive page frames among them,
//! and if that run is not also in virtual order, `mremap` its pages into
//! order. Locked pages do not move (the guest kernel has no page
//! migration), so the addresses stay valid as long as the buffer lives.

use std::fs::File;
use std::os::unix::fs::FileExt;

use anyhow::{bail, Context, Result};

pub const PAGE: usize = 4096;
/// The largest pool searched for a contiguous run, in pages (32 MiB).
const MAX_POOL_PAGES: usize = 8192;
/// pagemap: bit 63 page present, bits 0..=54 the page frame number.
const PM_PRESENT: u64 = 1 << 63;
const PM_PFN_MASK: u64 = (1 << 55) - 1;

/// A locked, zeroed, physically contiguous buffer; unmapped on drop.
#[derive(Debug)]
pub struct DmaBuffer {
    base: *mut u8,
    len: usize,
    bus: u64,
}

// SAFETY: the buffer is plain memory owned by this value.
unsafe impl Send for DmaBuffer {}

impl DmaBuffer {
    /// A buffer of `len` bytes (rounded up to whole pages).
    pub fn new(len: usize) -> Result<DmaBuffer> {
        if len == 0 {
            bail!("a buffer needs at least one byte");
        }
        let pages = len.div_ceil(PAGE);
        let mut pool = (4 * pages).max(64);
        loop {
            if let Some(buffer) = Self::from_pool(pages, pool)? {
                return Ok(buffer);
            }
            if pool >= MAX_POOL_PAGES {
                bail!(
                    "found no {} physically contiguous pages among {pool} locked ones",
                    pages
                );
            }
            pool = (pool * 2).min(MAX_POOL_PAGES);
        }
    }

    /// Tries one pool of `pool` pages; `None` if it holds no run of `pages`.
    fn from_pool(pages: usize, pool: usize) -> Result<Option<DmaBuffer>> {
        let area = Anon::locked(pool * PAGE)?;
        let pool_frames = frames(area.base, pool)?;
        let Some(run) = contiguous_run(&pool_frames, pages) else {
            return Ok(None);
        };
        let len = pages * PAGE;
        let bus = pool_frames[run[0]] * PAGE as u64;
        let base = if run.windows(2).all(|w| w[1] == w[0] + 1) {
            // Already in virtual order: keep that part of the pool.
            // SAFETY: inside the pool mapping.
            let base = unsafe { area.base.add(run[0] * PAGE) };
            area.keep(base, len);
            base
        } else {
            let target = Anon::reserve(len)?;
            for (i, &page) in run.iter().enumerate() {
                // SAFETY: moves one page of our pool to a page of our reservation (MREMAP_FIXED replaces what is there).
                let moved = unsafe {
                    libc::mremap(
                        area.base.add(page * PAGE).cast(),
                        PAGE,
                        PAGE,
                        libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                        target.base.add(i * PAGE),
                    )
                };
                if moved == libc::MAP_FAILED {
                    return Err(std::io::Error::last_os_error()).context("mremap");
                }
            }
            let base = target.base;
            target.keep(base, len);
            base
        };
        // The rest of the pool goes when `area` drops; the buffer stays.
        let buffer = DmaBuffer { base, len, bus };
        let check = frames(base, pages)?;
        if check.windows(2).any(|w| w[1] != w[0] + 1) || check[0] * PAGE as u64 != bus {
            bail!("the buffer's pages moved while it was assembled");
        }
        // SAFETY: `len` bytes of our own mapping.
        unsafe { std::ptr::write_bytes(base, 0, len) };
        Ok(Some(buffer))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The bus (physical) address of the first byte.
    pub fn bus(&self) -> u64 {
        self.bus
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `len` bytes of our own mapping, alive as long as `self`.
        unsafe { std::slice::from_raw_parts(self.base, self.len) }
    }

    /// The bytes, for the CPU to fill. The device may write them too, so
    /// callers read what it wrote with [`DmaBuffer::read_volatile_u32`].
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, and `&mut self` makes it the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.base, self.len) }
    }

    /// A u32 the device may have written, at an aligned `offset`.
    pub fn read_volatile_u32(&self, offset: usize) -> Option<u32> {
        (offset.is_multiple_of(4) && offset + 4 <= self.len)
            // SAFETY: inside and aligned, just checked.
            .then(|| unsafe { self.base.add(offset).cast::<u32>().read_volatile() })
    }
}

impl Drop for DmaBuffer {
    fn drop(&mut self) {
        // SAFETY: our own mapping of `len` bytes.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

/// An anonymous mapping, unmapped on drop except for the part kept.
struct Anon {
    base: *mut u8,
    len: usize,
    kept: Option<(usize, usize)>,
}

impl Anon {
    /// `len` bytes of locked, faulted-in memory.
    fn locked(len: usize) -> Result<Anon> {
        Self::map(
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_POPULATE | libc::MAP_LOCKED,
        )
        .context("cannot lock memory for a DMA buffer")
    }

    /// `len` bytes of address space to move pages into.
    fn reserve(len: usize) -> Result<Anon> {
        Self::map(len, libc::PROT_NONE, libc::MAP_NORESERVE).context("cannot reserve address space")
    }

    fn map(len: usize, prot: libc::c_int, flags: libc::c_int) -> Result<Anon> {
        // SAFETY: a fresh anonymous mapping; failure is checked.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | flags,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(Anon {
            base: base.cast(),
            len,
            kept: None,
        })
    }

    /// Leaves `[base, base + len)` mapped when this is dropped.
    fn keep(mut self, base: *mut u8, len: usize) {
        self.kept = Some((base as usize - self.base as usize, len));
    }
}

impl Drop for Anon {
    fn drop(&mut self) {
        let (start, end) = match self.kept {
            Some((offset, len)) => (offset, offset + len),
            None => (self.len, self.len),
        };
        // SAFETY: unmapping parts of our own mapping (holes left by mremap are fine to unmap).
        unsafe {
            if start > 0 {
                libc::munmap(self.base.cast(), start);
            }
            if end < self.len {
                libc::munmap(self.base.add(end).cast(), self.len - end);
            }
        }
    }
}

/// The page frame numbers of `pages` pages from `base`, from pagemap.
fn frames(base: *const u8, pages: usize) -> Result<Vec<u64>> {
    let pagemap = File::open("/proc/self/pagemap").context("cannot open /proc/self/pagemap")?;
    let mut raw = vec![0u8; pages * 8];
    pagemap
        .read_exact_at(&mut raw, (base as u64 / PAGE as u64) * 8)
        .context("cannot read /proc/self/pagemap")?;
    raw.chunks_exact(8)
        .map(|entry| {
            let entry = u64::from_ne_bytes(entry.try_into().unwrap_or_default());
            let pfn = entry & PM_PFN_MASK;
            if entry & PM_PRESENT == 0 || pfn == 0 {
                bail!(
                    "pagemap shows no page frame (present {}, pfn {pfn}): run as root",
                    entry & PM_PRESENT != 0
                );
            }
            Ok(pfn)
        })
        .collect()
}

/// Indices (into `frames`) of `pages` pages with consecutive frame numbers,
/// in frame order; `None` if there is no such run.
fn contiguous_run(frames: &[u64], pages: usize) -> Option<Vec<usize>> {
    let mut order: Vec<usize> = (0..frames.len()).collect();
    order.sort_by_key(|&i| frames[i]);
    let mut start = 0;
    for k in 0..order.len() {
        if k > start && frames[order[k]] != frames[order[k - 1]] + 1 {
            start = k;
        }
        if k + 1 - start == pages {
            return Some(order[start..=k].to_vec());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_found_in_frame_order_wherever_its_pages_are() {
        let frames = [50, 11, 10, 12, 99, 13];
        assert_eq!(contiguous_run(&frames, 4), Some(vec![2, 1, 3, 5]));
        assert_eq!(contiguous_run(&frames, 1), Some(vec![2]));
        assert_eq!(contiguous_run(&frames, 5), None);
        assert_eq!(contiguous_run(&[7, 9, 11], 2), None);
    }

    /// Needs root (pagemap shows frame numbers only to CAP_SYS_ADMIN) and
    /// the right to lock memory; elsewhere it says so and passes.
    #[test]
    fn a_buffer_is_locked_zeroed_and_physically_contiguous() {
        let buffer = match DmaBuffer::new(16 << 10) {
            Ok(buffer) => buffer,
            Err(e) => {
                eprintln!("skipping: cannot make a DMA buffer here: {e:#}");
                return;
            }
        };
        assert_eq!(buffer.len(), 16 << 10);
        assert!(buffer.as_slice().iter().all(|&b| b == 0));
        let frames = frames(buffer.as_slice().as_ptr(), buffer.len() / PAGE).unwrap();
        assert_eq!(frames[0] * PAGE as u64, buffer.bus());
        assert!(frames.windows(2).all(|w| w[1] == w[0] + 1), "{frames:?}");
    }
}
