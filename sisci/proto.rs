// SPDX-License-Identifier: GPL-2.0

//! The messages `rsio_sisci` exchanges with its peers through the fabric
//! core (types `0x200..0x220`), and their little-endian payloads.
//!
//! Segments: `SEG_CONNECT` (request) answers the size, chunk size and the
//! first chunks' bus addresses (or, for device memory, the owner's
//! inbound window); `SEG_CHUNKS` (request) the rest.
//! `SEG_DISCONNECT` (event, connector to owner). `SEG_GONE` (event, owner
//! to connector: the segment was removed or made unavailable) is answered
//! by `SEG_GONE_ACK` once the connector's mappings are zapped and its DMA
//! stopped: only then does the owner free the memory (the direct window
//! has no hardware check to revoke).
//!
//! Interrupts: `INTR_CONNECT` (request), `INTR_TRIGGER` (event, plain),
//! `INTR_DATA` (request: queued or `ENOBUFS`), `INTR_DISCONNECT` and
//! `INTR_GONE` (events).

use kernel::prelude::*;

/// The first message type `rsio_sisci` owns.
pub(crate) const MT_FIRST: u16 = 0x200;
/// How many it owns.
pub(crate) const MT_COUNT: u16 = 0x20;

/// `SEG_CONNECT` reply: size (u64), chunk shift, chunk count (u32 each),
/// then as many chunk bus addresses (u64) as fit. Device memory (no
/// chunks in the direct window): chunk shift [`SHIFT_WINDOW`], chunk count
/// 0, then the inbound window (u32) to map, from its offset 0.
pub(crate) const SEG_CONNECT: u16 = MT_FIRST;
pub(crate) const SEG_CHUNKS: u16 = MT_FIRST + 1;
pub(crate) const SEG_DISCONNECT: u16 = MT_FIRST + 2;
pub(crate) const SEG_GONE: u16 = MT_FIRST + 3;
pub(crate) const SEG_GONE_ACK: u16 = MT_FIRST + 4;
pub(crate) const INTR_CONNECT: u16 = MT_FIRST + 0x10;
pub(crate) const INTR_TRIGGER: u16 = MT_FIRST + 0x11;
pub(crate) const INTR_DATA: u16 = MT_FIRST + 0x12;
pub(crate) const INTR_DISCONNECT: u16 = MT_FIRST + 0x13;
pub(crate) const INTR_GONE: u16 = MT_FIRST + 0x14;

/// `SEG_CONNECT`/`INTR_CONNECT` flag: the caller has `CAP_SYS_ADMIN`.
pub(crate) const CONNECT_ADMIN: u32 = 1;

/// `SEG_CONNECT` reply's chunk shift for a segment reached through an
/// inbound window of the owner rather than the direct window.
pub(crate) const SHIFT_WINDOW: u32 = u32::MAX;

/// Bytes of a `SEG_CHUNKS` reply before its addresses: count (4), pad (4).
pub(crate) const CHUNKS_REPLY_HEAD: usize = 8;

/// Reads little-endian fields from a payload; any short read is `EPROTO`
/// (a peer's message is validated like user input).
pub(crate) struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Self(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(EPROTO);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        let lo = u64::from(self.u32()?);
        let hi = u64::from(self.u32()?);
        Ok(lo | (hi << 32))
    }

    /// Bytes left.
    pub(crate) fn rest_len(&self) -> usize {
        self.0.len()
    }

    /// The rest of the payload.
    pub(crate) fn rest(self) -> &'a [u8] {
        self.0
    }
}

/// Writes little-endian fields into a buffer; overflowing it is `EINVAL`.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) -> Result<&mut Self> {
        let end = self.len.checked_add(b.len()).ok_or(EINVAL)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(EINVAL)?
            .copy_from_slice(b);
        self.len = end;
        Ok(self)
    }

    pub(crate) fn u32(&mut self, v: u32) -> Result<&mut Self> {
        self.bytes(&v.to_le_bytes())
    }

    pub(crate) fn u64(&mut self, v: u64) -> Result<&mut Self> {
        self.bytes(&v.to_le_bytes())
    }

    /// Bytes written.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes left.
    pub(crate) fn room(&self) -> usize {
        self.buf.len() - self.len
    }
}

/// A payload of a few `u32`s.
pub(crate) fn words<const N: usize>(w: [u32; N]) -> [u8; 32] {
    let mut b = [0u8; 32];
    for (i, v) in w.iter().enumerate().take(8) {
        b[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    b
}
