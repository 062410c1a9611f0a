// SPDX-License-Identifier: GPL-2.0

//! Host tests of queue pair allotment and the per-client quota.

use rsio_nvme_share_logic::allot::*;

#[test]
fn new_and_masks() {
    assert_eq!(MAX_QPAIRS, 64);
    for (total, want) in [
        (0u16, 0u16),
        (1, 1),
        (4, 4),
        (64, 64),
        (65, 64),
        (u16::MAX, 64),
    ] {
        let a = Allot::new(total);
        assert_eq!(a.total(), want);
        assert_eq!(a.free(), want);
        assert_eq!(a.granted(), 0);
    }
    assert_eq!(qids_mask(0), 0);
    assert_eq!(qids_mask(1), 1);
    assert_eq!(qids_mask(4), 0xf);
    assert_eq!(qids_mask(63), u64::MAX >> 1);
    assert_eq!(qids_mask(64), u64::MAX);
    assert_eq!(qids_mask(1000), u64::MAX);
}

#[test]
fn grant_lowest_first() {
    let mut a = Allot::new(8);
    assert_eq!(a.grant(0), None);
    assert_eq!(a.grant(3), Some(0b111));
    assert_eq!(a.grant(2), Some(0b11000));
    assert_eq!(a.free(), 3);
    assert_eq!(a.granted(), 0b11111);
    assert!(a.is_granted(1) && a.is_granted(5));
    assert!(!a.is_granted(6) && !a.is_granted(0) && !a.is_granted(65));
    // Not enough: nothing changes.
    assert_eq!(a.grant(4), None);
    assert_eq!(a.granted(), 0b11111);
    assert_eq!(a.grant(3), Some(0b1110_0000));
    assert_eq!(a.free(), 0);
    assert_eq!(a.grant(1), None);
}

#[test]
fn release_and_reuse() {
    let mut a = Allot::new(16);
    let first = a.grant(4).unwrap();
    let second = a.grant(4).unwrap();
    assert_eq!((first, second), (0xf, 0xf0));
    // Holes are filled lowest first, then the rest in order.
    a.release(0b0101);
    assert_eq!(a.free(), 10);
    assert_eq!(a.grant(3), Some(0b1_0000_0101));
    // Bits not granted (and beyond the total) are ignored.
    a.release(0xffff_0000_0000_0000);
    assert_eq!(a.free(), 16 - 9);
    a.release(second);
    a.release(second);
    assert_eq!(a.granted(), 0b1_0000_1111);
    a.release(u64::MAX);
    assert_eq!((a.free(), a.granted()), (16, 0));
}

#[test]
fn all_sixty_four() {
    let mut a = Allot::new(64);
    assert_eq!(a.grant(64), Some(u64::MAX));
    assert_eq!(a.free(), 0);
    assert!(a.is_granted(64));
    a.release(1 << 63);
    assert_eq!(a.grant(1), Some(1 << 63));
    let mut b = Allot::new(64);
    for q in 1..=64u16 {
        assert_eq!(b.grant(1), Some(1u64 << (q - 1)));
    }
    assert_eq!(b.grant(1), None);
    assert_eq!(Allot::new(0).grant(1), None);
}

#[test]
fn quota() {
    let mut a = Allot::new(6);
    assert_eq!(a.grant_quota(0, 4), Err(AllotError::Zero));
    assert_eq!(a.grant_quota(5, 4), Err(AllotError::Quota));
    assert_eq!(a.grant_quota(4, 4), Ok(0xf));
    assert_eq!(a.grant_quota(4, 4), Err(AllotError::NoSpace));
    assert_eq!(a.granted(), 0xf, "unchanged on a refusal");
    assert_eq!(a.grant_quota(2, 4), Ok(0x30));
    assert_eq!(a.grant_quota(1, 16), Err(AllotError::NoSpace));
}
