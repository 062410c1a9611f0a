// SPDX-License-Identifier: GPL-2.0

//! The DMA channels' descriptor rings (docs/adapter.md, section 4.6): one
//! ring per channel in coherent memory of the adapter, allocated at probe
//! and owned by the [`crate::adapter::Adapter`]; [`crate::dma`] fills them.

use kernel::{
    device,
    dma::Coherent,
    io::{io_read, io_write},
    prelude::*,
};

/// Descriptors per ring (a power of two).
pub const RING_SIZE: u32 = 256;

/// One descriptor, as the engine reads it (section 4.6).
#[repr(C)]
#[derive(Clone, Copy, Default, FromBytes, IntoBytes)]
pub(crate) struct Desc {
    src: u64,
    dst: u64,
    len: u32,
    flags: u32,
    result: u32,
    pad: u32,
}

// SAFETY: `Desc` is `repr(C)` plain integers without padding (4 x 8 bytes).
unsafe impl kernel::transmute::AsBytes for Desc {}
// SAFETY: As above: every bit pattern is a valid `Desc`.
unsafe impl kernel::transmute::FromBytes for Desc {}

/// `FLAGS.INTERRUPT`.
const FLAG_INTERRUPT: u32 = 1;
/// `RESULT` of a successful descriptor.
pub(crate) const RESULT_OK: u32 = 1;
/// `RESULT` bit of a failed descriptor (the low bits are the code).
pub(crate) const RESULT_FAILED: u32 = 0x8000_0000;

/// The rings of an adapter's channels.
pub(crate) struct Rings {
    rings: KVec<Coherent<[Desc]>>,
}

impl Rings {
    /// Allocates a ring for each of `channels` channels of `dev`.
    pub(crate) fn new(dev: &device::Device<device::Bound>, channels: u32) -> Result<Self> {
        let mut rings = KVec::new();
        for _ in 0..channels {
            rings.push(
                Coherent::zeroed_slice(dev, RING_SIZE as usize, GFP_KERNEL)?,
                GFP_KERNEL,
            )?;
        }
        Ok(Self { rings })
    }

    fn ring(&self, c: u32) -> Result<&Coherent<[Desc]>> {
        self.rings.get(c as usize).ok_or(EINVAL)
    }

    /// Bus address of channel `c`'s ring.
    pub(crate) fn dma_address(&self, c: u32) -> Result<u64> {
        Ok(self.ring(c)?.dma_address())
    }

    /// Writes descriptor `seq` of channel `c`: a copy of `len` bytes from
    /// `src` to `dst`, raising `DMA(c)` when done if `interrupt`, its
    /// result cleared.
    pub(crate) fn write(
        &self,
        c: u32,
        seq: u32,
        src: u64,
        dst: u64,
        len: u32,
        interrupt: bool,
    ) -> Result {
        let ring = self.ring(c)?;
        let i = (seq % RING_SIZE) as usize;
        let flags = if interrupt { FLAG_INTERRUPT } else { 0 };
        io_write!(ring, [try: i].src, src);
        io_write!(ring, [try: i].dst, dst);
        io_write!(ring, [try: i].len, len);
        io_write!(ring, [try: i].flags, flags);
        io_write!(ring, [try: i].result, 0);
        Ok(())
    }

    /// The `RESULT` the engine wrote into descriptor `seq` of channel `c`.
    pub(crate) fn result(&self, c: u32, seq: u32) -> Result<u32> {
        let ring = self.ring(c)?;
        let i = (seq % RING_SIZE) as usize;
        Ok(io_read!(ring, [try: i].result))
    }
}
