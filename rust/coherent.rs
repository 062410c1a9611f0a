// SPDX-License-Identifier: GPL-2.0

//! [`CoherentBuf`]: zeroed coherent DMA memory that a device (and, through
//! an NTB, peers) may write at any time, so it is only ever accessed with
//! volatile copies, never as a Rust slice.

use kernel::{
    device::{Bound, Device},
    dma::Coherent,
    io::{io_project, Io},
    prelude::*,
};

/// A zeroed buffer of coherent memory of a device; freed on drop.
pub struct CoherentBuf {
    mem: Coherent<[u8]>,
}

impl CoherentBuf {
    /// Allocates `size` bytes for `dev` (`EINVAL` for 0, `ENOMEM`, quietly,
    /// without memory: the buffer is physically contiguous, so sizes beyond
    /// the page allocator's largest block fail, as sizes from user space
    /// may).
    pub fn alloc(dev: &Device<Bound>, size: usize) -> Result<Self> {
        if size == 0 {
            return Err(EINVAL);
        }
        let mem = Coherent::zeroed_slice(dev, size, GFP_KERNEL | __GFP_NOWARN)?;
        Ok(Self { mem })
    }

    /// The buffer's bus address, as the device sees it.
    pub fn bus_addr(&self) -> u64 {
        self.mem.dma_address()
    }

    /// Bytes.
    pub fn len(&self) -> usize {
        self.mem.len()
    }

    /// Never: a buffer has at least one byte.
    pub fn is_empty(&self) -> bool {
        self.mem.len() == 0
    }

    /// Copies `data` into the buffer at `offset` (`ERANGE` past the end).
    pub fn write(&self, offset: usize, data: &[u8]) -> Result {
        let end = offset.checked_add(data.len()).ok_or(ERANGE)?;
        let mem = &self.mem;
        io_project!(mem, [try: offset..end]).copy_from_slice(data);
        Ok(())
    }

    /// Copies from the buffer at `offset` into `data` (`ERANGE` past the
    /// end).
    pub fn read(&self, offset: usize, data: &mut [u8]) -> Result {
        let end = offset.checked_add(data.len()).ok_or(ERANGE)?;
        let mem = &self.mem;
        io_project!(mem, [try: offset..end]).copy_to_slice(data);
        Ok(())
    }

    /// Zeroes `len` bytes at `offset` (`ERANGE` past the end).
    pub fn zero(&self, offset: usize, len: usize) -> Result {
        const ZEROES: [u8; 256] = [0; 256];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(ZEROES.len());
            self.write(offset.checked_add(done).ok_or(ERANGE)?, &ZEROES[..n])?;
            done += n;
        }
        Ok(())
    }
}
