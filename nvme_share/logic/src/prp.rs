// SPDX-License-Identifier: GPL-2.0

//! Data pointers of NVMe commands: PRP entries and lists, SGL
//! descriptors (docs/nvme-share.md section 3, "PRPs").
//!
//! Inputs are addresses the controller uses already (the caller added the
//! fabric's DMA base). The memory page size is 4 KiB (CC.MPS 0).

/// The memory page size (CC.MPS 0).
pub const PAGE_SIZE: u64 = 4096;
const PAGE_MASK: u64 = PAGE_SIZE - 1;

/// Why a request's segments cannot be described.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrpError {
    /// An address or a segment end breaks the alignment rules.
    Misaligned,
    /// More list entries than the list holds (or an address range that
    /// wraps around the 64-bit space).
    TooLarge,
    /// No segments, or a segment of length 0.
    Empty,
}

/// The PRP entries of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prps {
    /// PRP Entry 1: the first segment's address.
    pub prp1: u64,
    /// PRP Entry 2: 0, the second page, or the list's address.
    pub prp2: u64,
    /// Entries written to the list (0 when PRP2 is not a list).
    pub list_entries: usize,
}

/// Builds the PRPs of `segs` (`(address, length)` in order). Rules: the
/// first segment is dword aligned; every later one starts page aligned;
/// every one but the last ends page aligned; `list_addr` is page aligned
/// (else [`PrpError::Misaligned`]). No segments or a zero-length one:
/// [`PrpError::Empty`]. PRP1 is the first address; the pages after its
/// page go to PRP2 if there is exactly one, else into `list` (one entry
/// per page, PRP2 = `list_addr`); more than `list.len()` such pages:
/// [`PrpError::TooLarge`] (no list chaining). `list` is written only when
/// a list is used.
pub fn build(segs: &[(u64, u32)], list: &mut [u64], list_addr: u64) -> Result<Prps, PrpError> {
    let (first, _) = *segs.first().ok_or(PrpError::Empty)?;
    if segs.iter().any(|&(_, len)| len == 0) {
        return Err(PrpError::Empty);
    }
    if first & 3 != 0 || list_addr & PAGE_MASK != 0 {
        return Err(PrpError::Misaligned);
    }
    let last = segs.len() - 1;
    for (i, &(addr, len)) in segs.iter().enumerate() {
        let end = addr.checked_add(u64::from(len)).ok_or(PrpError::TooLarge)?;
        if (i > 0 && addr & PAGE_MASK != 0) || (i < last && end & PAGE_MASK != 0) {
            return Err(PrpError::Misaligned);
        }
    }

    // The pages after PRP1's, in order: the first is kept aside (PRP2 if
    // it is the only one), the others go to list[1..].
    let mut second = 0u64;
    let mut count = 0usize;
    for (i, &(addr, len)) in segs.iter().enumerate() {
        let end = addr.wrapping_add(u64::from(len));
        let mut page = if i == 0 {
            match (addr & !PAGE_MASK).checked_add(PAGE_SIZE) {
                Some(p) => p,
                None => continue,
            }
        } else {
            addr
        };
        while page < end {
            if count == 0 {
                second = page;
            } else {
                *list.get_mut(count).ok_or(PrpError::TooLarge)? = page;
            }
            count += 1;
            page = match page.checked_add(PAGE_SIZE) {
                Some(p) => p,
                None => break,
            };
        }
    }
    match count {
        0 => Ok(Prps {
            prp1: first,
            prp2: 0,
            list_entries: 0,
        }),
        1 => Ok(Prps {
            prp1: first,
            prp2: second,
            list_entries: 0,
        }),
        n => {
            *list.get_mut(0).ok_or(PrpError::TooLarge)? = second;
            Ok(Prps {
                prp1: first,
                prp2: list_addr,
                list_entries: n,
            })
        }
    }
}

/// SGL descriptor type: Data Block.
pub const SGL_DATA_BLOCK: u8 = 0x0;
/// SGL descriptor type: Segment.
pub const SGL_SEGMENT: u8 = 0x2;
/// SGL descriptor type: Last Segment.
pub const SGL_LAST_SEGMENT: u8 = 0x3;
/// Bytes of an SGL descriptor.
pub const SGL_DESC_SIZE: usize = 16;

/// An SGL descriptor: address (bytes 7:0, LE), length (bytes 11:8, LE),
/// bytes 14:12 reserved, byte 15 = type << 4 | sub type (0: address).
pub fn sgl_desc(desc_type: u8, addr: u64, len: u32) -> [u8; 16] {
    let mut d = [0u8; 16];
    d[0..8].copy_from_slice(&addr.to_le_bytes());
    d[8..12].copy_from_slice(&len.to_le_bytes());
    d[15] = (desc_type & 0xf) << 4;
    d
}

/// The descriptor type (byte 15 bits 7:4).
pub fn sgl_desc_type(d: &[u8; 16]) -> u8 {
    d[15] >> 4
}

/// The descriptor's address.
pub fn sgl_desc_addr(d: &[u8; 16]) -> u64 {
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// The descriptor's length.
pub fn sgl_desc_len(d: &[u8; 16]) -> u32 {
    u32::from_le_bytes([d[8], d[9], d[10], d[11]])
}

/// Builds the SGL of `segs`: one segment is one Data Block descriptor
/// (returned, to go inline in the command); several go to `list[..n]` as
/// Data Block descriptors and the returned descriptor is a Last Segment
/// one (address `list_addr`, length `n * 16`). Data needs no alignment
/// (SGLS 01b); `list_addr` must be qword aligned (else
/// [`PrpError::Misaligned`]). No segments or a zero-length one:
/// [`PrpError::Empty`]; more than `list.len()`: [`PrpError::TooLarge`].
/// `list` is written only when a list is used.
pub fn build_sgl(
    segs: &[(u64, u32)],
    list: &mut [[u8; 16]],
    list_addr: u64,
) -> Result<[u8; 16], PrpError> {
    if segs.is_empty() || segs.iter().any(|&(_, len)| len == 0) {
        return Err(PrpError::Empty);
    }
    if segs
        .iter()
        .any(|&(addr, len)| addr.checked_add(u64::from(len)).is_none())
    {
        return Err(PrpError::TooLarge);
    }
    if let [(addr, len)] = segs {
        return Ok(sgl_desc(SGL_DATA_BLOCK, *addr, *len));
    }
    if list_addr & 7 != 0 {
        return Err(PrpError::Misaligned);
    }
    let bytes = u32::try_from(segs.len())
        .ok()
        .and_then(|n| n.checked_mul(SGL_DESC_SIZE as u32))
        .ok_or(PrpError::TooLarge)?;
    let slots = list.get_mut(..segs.len()).ok_or(PrpError::TooLarge)?;
    for (slot, &(addr, len)) in slots.iter_mut().zip(segs) {
        *slot = sgl_desc(SGL_DATA_BLOCK, addr, len);
    }
    Ok(sgl_desc(SGL_LAST_SEGMENT, list_addr, bytes))
}
