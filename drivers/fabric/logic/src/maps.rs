// SPDX-License-Identifier: GPL-2.0

//! Windows: fabric addresses, translation-entry plans, sharing of
//! mappings, translation both ways, ids.
//!
//! A fabric address names bytes of a node's memory as its peers see them.
//! On the rsio adapter it is `(inbound window << 32) | offset in the
//! window`; on the generic NTB path, the offset in the peer's memory
//! window (window 0).

/// Bits of the in-window offset in a fabric address.
pub const WINDOW_SHIFT: u32 = 32;

/// The fabric address of `offset` in inbound window `window`.
pub const fn fabric_addr(window: u32, offset: u64) -> u64 {
    ((window as u64) << WINDOW_SHIFT) | (offset & ((1 << WINDOW_SHIFT) - 1))
}

/// Splits a fabric address into (window, offset).
pub const fn split(addr: u64) -> (u32, u64) {
    (
        (addr >> WINDOW_SHIFT) as u32,
        addr & ((1 << WINDOW_SHIFT) - 1),
    )
}

/// Why a window request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowError {
    /// Zero, unaligned, too large, or crossing a window: `EINVAL`.
    Invalid,
    /// Overlaps an existing mapping without being inside it: `EEXIST`.
    Overlap,
}

/// A mapping request or an existing mapping's range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// Peer node.
    pub node: u32,
    /// Fabric address of the first byte.
    pub addr: u64,
    /// Bytes.
    pub len: u64,
}

impl Range {
    /// One past the last byte (saturating).
    pub const fn end(&self) -> u64 {
        self.addr.saturating_add(self.len)
    }

    fn contains(&self, o: &Range) -> bool {
        self.node == o.node && self.addr <= o.addr && o.end() <= self.end()
    }

    fn overlaps(&self, o: &Range) -> bool {
        self.node == o.node && self.addr < o.end() && o.addr < self.end()
    }

    /// Checks a request: non-zero, `align`-aligned, at most `max`, inside
    /// one window.
    pub fn validate(&self, align: u64, max: u64) -> Result<(), WindowError> {
        let (w, off) = split(self.addr);
        let ok = self.len != 0
            && self.len <= max
            && self.addr.is_multiple_of(align)
            && self.len.is_multiple_of(align)
            && off
                .checked_add(self.len)
                .is_some_and(|e| e <= 1 << WINDOW_SHIFT)
            && split(self.end() - 1).0 == w;
        if ok {
            Ok(())
        } else {
            Err(WindowError::Invalid)
        }
    }
}

/// Where a new mapping goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// New translation entries.
    New,
    /// Inside the existing mapping at this position of the list: share its
    /// entries.
    Inside(usize),
}

/// Places `want` among the `existing` mappings (primary ones: those that
/// own translation entries).
pub fn place<'a>(
    existing: impl Iterator<Item = &'a Range>,
    want: &Range,
) -> Result<Placement, WindowError> {
    let mut inside = None;
    for (i, r) in existing.enumerate() {
        if r.contains(want) {
            inside.get_or_insert(i);
        } else if r.overlaps(want) {
            return Err(WindowError::Overlap);
        }
    }
    Ok(inside.map_or(Placement::New, Placement::Inside))
}

/// How a range is laid over translation entries (LUT slots of
/// `1 << slot_shift` bytes): the first slot's target offset in the peer's
/// window, the number of slots, and the range's offset in the first slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotPlan {
    /// Offset in the peer's window that slot 0 starts at.
    pub first_offset: u64,
    /// Slots needed.
    pub count: u32,
    /// Offset of the range's first byte within slot 0.
    pub delta: u64,
}

/// Plans `len` bytes at window offset `offset` over slots of
/// `1 << slot_shift` bytes, slot 0 starting at the 4 KiB page of `offset`
/// (LUT offsets only need page alignment).
pub fn slot_plan(offset: u64, len: u64, slot_shift: u32) -> SlotPlan {
    let first_offset = offset & !0xfff;
    let delta = offset - first_offset;
    let span = delta + len;
    let slot = 1u64 << slot_shift;
    SlotPlan {
        first_offset,
        count: span.div_ceil(slot) as u32,
        delta,
    }
}

/// Translates a fabric address inside a mapping to the local bus address
/// (`None` outside it).
pub fn to_bus(map: &Range, bus: u64, addr: u64) -> Option<u64> {
    (addr >= map.addr && addr < map.end()).then(|| bus + (addr - map.addr))
}

/// Translates a local bus address inside a mapping back to the peer's
/// fabric address (`None` outside it).
pub fn to_fabric(map: &Range, bus: u64, local: u64) -> Option<(u32, u64)> {
    (local >= bus && local - bus < map.len).then(|| (map.node, map.addr + (local - bus)))
}

/// Ids for windows: never 0, not reused while in use, increasing so a
/// stale id is unlikely to name a newer window.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdAlloc {
    last: u32,
}

impl IdAlloc {
    /// The next id for which `in_use` is false.
    pub fn alloc(&mut self, in_use: impl Fn(u32) -> bool) -> u32 {
        loop {
            self.last = self.last.wrapping_add(1);
            if self.last != 0 && !in_use(self.last) {
                return self.last;
            }
        }
    }
}
