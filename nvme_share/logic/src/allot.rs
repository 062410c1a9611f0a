// SPDX-License-Identifier: GPL-2.0

//! The manager's allotment of a controller's I/O queue pairs (qids
//! `1..=64`) to attachments (docs/nvme-share.md section 2, "Allotment and
//! the record"). A set of qids is a bitmask: bit `q - 1` is qid `q`.

/// The most I/O queue pairs a controller is driven with.
pub const MAX_QPAIRS: u16 = 64;

/// Why [`Allot::grant_quota`] granted nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllotError {
    /// Zero queue pairs asked for.
    Zero,
    /// More than the per-client quota (`EDQUOT`).
    Quota,
    /// Not enough free queue pairs (`ENOSPC`).
    NoSpace,
}

/// Which of a controller's I/O queue pairs are allotted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allot {
    total: u16,
    used: u64,
}

/// The mask of qids `1..=total` (`total` at most 64).
pub fn qids_mask(total: u16) -> u64 {
    match total {
        0 => 0,
        t if t >= MAX_QPAIRS => u64::MAX,
        t => (1u64 << t) - 1,
    }
}

impl Allot {
    /// `total` queue pairs (qids `1..=total`, at most 64), all free.
    pub fn new(total: u16) -> Self {
        Allot {
            total: total.min(MAX_QPAIRS),
            used: 0,
        }
    }
    /// Queue pairs managed.
    pub fn total(&self) -> u16 {
        self.total
    }
    /// Queue pairs not allotted.
    pub fn free(&self) -> u16 {
        self.total.saturating_sub(self.used.count_ones() as u16)
    }
    /// The allotted qids.
    pub fn granted(&self) -> u64 {
        self.used
    }
    /// `qid` is allotted.
    pub fn is_granted(&self, qid: u16) -> bool {
        (1..=MAX_QPAIRS).contains(&qid) && self.used & (1u64 << (qid - 1)) != 0
    }
    /// Allots the `n` lowest free qids and returns them; `None` (and
    /// nothing allotted) if `n` is 0 or fewer than `n` are free.
    pub fn grant(&mut self, n: u16) -> Option<u64> {
        if n == 0 || n > self.free() {
            return None;
        }
        let mut mask = 0u64;
        let mut left = n;
        let mut avail = qids_mask(self.total) & !self.used;
        while left > 0 && avail != 0 {
            let lowest = avail & avail.wrapping_neg();
            mask |= lowest;
            avail &= !lowest;
            left -= 1;
        }
        if left != 0 {
            return None;
        }
        self.used |= mask;
        Some(mask)
    }
    /// [`Allot::grant`] for a client allowed `quota` queue pairs.
    pub fn grant_quota(&mut self, n: u16, quota: u16) -> Result<u64, AllotError> {
        if n == 0 {
            return Err(AllotError::Zero);
        }
        if n > quota {
            return Err(AllotError::Quota);
        }
        self.grant(n).ok_or(AllotError::NoSpace)
    }
    /// Frees the qids of `mask` (bits not allotted are ignored).
    pub fn release(&mut self, mask: u64) {
        self.used &= !mask;
    }
}
