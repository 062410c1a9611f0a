// SPDX-License-Identifier: GPL-2.0

//! Host tests of PRP and SGL construction, for every segment shape up to
//! the largest transfer (512 KiB).

use rsio_nvme_share_logic::nvme;
use rsio_nvme_share_logic::prp::*;

const P: u64 = PAGE_SIZE;
const LIST: u64 = 0x7_7777_7000;
const SENTINEL: u64 = 0x5a5a_5a5a_5a5a_5a5a;

/// The pages a request's data touches after PRP1's page, as the spec
/// wants them listed: the reference the builder is checked against.
fn pages_after_first(segs: &[(u64, u32)]) -> Vec<u64> {
    let mut pages = Vec::new();
    for &(addr, len) in segs {
        let end = addr + u64::from(len);
        let mut p = addr & !(P - 1);
        while p < end {
            pages.push(p);
            p += P;
        }
    }
    pages.remove(0);
    pages
}

fn build_ok(segs: &[(u64, u32)], list_len: usize) -> (Prps, Vec<u64>) {
    let mut list = vec![SENTINEL; list_len];
    let prps = build(segs, &mut list, LIST).unwrap();
    (prps, list)
}

/// Checks `build` against the reference for a shape that must succeed.
fn check_shape(segs: &[(u64, u32)]) {
    let (prps, list) = build_ok(segs, 512);
    let want = pages_after_first(segs);
    assert_eq!(prps.prp1, segs[0].0, "{segs:x?}");
    match want.len() {
        0 => {
            assert_eq!((prps.prp2, prps.list_entries), (0, 0), "{segs:x?}");
            assert!(list.iter().all(|&e| e == SENTINEL), "list untouched");
        }
        1 => {
            assert_eq!((prps.prp2, prps.list_entries), (want[0], 0), "{segs:x?}");
            assert!(list.iter().all(|&e| e == SENTINEL), "list untouched");
        }
        n => {
            assert_eq!((prps.prp2, prps.list_entries), (LIST, n), "{segs:x?}");
            assert_eq!(&list[..n], &want[..], "{segs:x?}");
            assert!(list[n..].iter().all(|&e| e == SENTINEL));
        }
    }
    for e in &list[..prps.list_entries] {
        assert_eq!(e % P, 0, "list entries are page aligned");
    }
}

#[test]
fn one_segment_shapes() {
    let base = 0x1_0000_0000u64;
    for offset in [0u64, 4, 0x200, 0x800, 0xffc] {
        for len in [
            4u32,
            512,
            4096 - 4,
            4096,
            4097,
            8192,
            12288,
            65536,
            128 * 1024,
            512 * 1024,
        ] {
            check_shape(&[(base + offset, len)]);
        }
    }
}

#[test]
fn one_segment_exact() {
    // Within one page: PRP2 unused.
    let (p, _) = build_ok(&[(0x1000, 4096)], 4);
    assert_eq!(
        p,
        Prps {
            prp1: 0x1000,
            prp2: 0,
            list_entries: 0
        }
    );
    let (p, _) = build_ok(&[(0x1204, 512)], 4);
    assert_eq!(
        p,
        Prps {
            prp1: 0x1204,
            prp2: 0,
            list_entries: 0
        }
    );
    // Into the next page: PRP2 is that page.
    let (p, _) = build_ok(&[(0x1e00, 1024)], 4);
    assert_eq!(
        p,
        Prps {
            prp1: 0x1e00,
            prp2: 0x2000,
            list_entries: 0
        }
    );
    let (p, _) = build_ok(&[(0x1000, 8192)], 4);
    assert_eq!(
        p,
        Prps {
            prp1: 0x1000,
            prp2: 0x2000,
            list_entries: 0
        }
    );
    // Three pages: a list of two.
    let (p, l) = build_ok(&[(0x1000, 12288)], 4);
    assert_eq!(
        p,
        Prps {
            prp1: 0x1000,
            prp2: LIST,
            list_entries: 2
        }
    );
    assert_eq!(&l[..2], &[0x2000, 0x3000]);
    // Two pages' worth at an offset touches three pages.
    let (p, l) = build_ok(&[(0x1800, 8192)], 4);
    assert_eq!(
        p,
        Prps {
            prp1: 0x1800,
            prp2: LIST,
            list_entries: 2
        }
    );
    assert_eq!(&l[..2], &[0x2000, 0x3000]);
}

#[test]
fn largest_transfer() {
    // 512 KiB (MDTS 7) page aligned: PRP1 + 127 entries.
    let (p, l) = build_ok(&[(0x10_0000, 512 * 1024)], 512);
    assert_eq!(p.list_entries, 127);
    assert_eq!(l[126], 0x10_0000 + 127 * P);
    // At an offset: 129 pages, PRP1 + 128 entries: still one list page.
    let (p, l) = build_ok(&[(0x10_0200, 512 * 1024)], 512);
    assert_eq!(p.list_entries, 128);
    assert_eq!(l[127], 0x10_0000 + 128 * P);
    // 128 entries fit a list of exactly 128, not of 127.
    let mut list = [0u64; 128];
    assert!(build(&[(0x10_0200, 512 * 1024)], &mut list, LIST).is_ok());
    let mut list = [0u64; 127];
    assert_eq!(
        build(&[(0x10_0200, 512 * 1024)], &mut list, LIST),
        Err(PrpError::TooLarge)
    );
    // 128 pages as 128 one-page segments.
    let segs: Vec<(u64, u32)> = (0..128).map(|i| (0x40_0000 + 2 * i * P, 4096)).collect();
    check_shape(&segs);
}

#[test]
fn several_segments() {
    // First segment ends on a page boundary, the next ones start on one.
    check_shape(&[(0x1e00, 0x200), (0x9000, 0x1000)]);
    check_shape(&[(0x1e00, 0x200), (0x9000, 0x100)]);
    check_shape(&[(0x1000, 0x1000), (0x9000, 0x2000), (0x20000, 0x10)]);
    check_shape(&[
        (0x1004, 0xffc),
        (0x5000, 0x3000),
        (0x3000, 0x1000),
        (0x8000, 0x800),
    ]);
    check_shape(&[(0x1000, 0x2000), (0x1_0000_0000, 0x1000)]);

    let (p, _) = build_ok(&[(0x1e00, 0x200), (0x9000, 0x800)], 4);
    assert_eq!(
        p,
        Prps {
            prp1: 0x1e00,
            prp2: 0x9000,
            list_entries: 0
        }
    );
    let (p, l) = build_ok(&[(0x1e00, 0x200), (0x9000, 0x1000), (0x5000, 0x10)], 4);
    assert_eq!(
        p,
        Prps {
            prp1: 0x1e00,
            prp2: LIST,
            list_entries: 2
        }
    );
    assert_eq!(&l[..2], &[0x9000, 0x5000]);
}

#[test]
fn every_small_shape() {
    // Every combination of up to three segments with these shapes, checked
    // against the reference; invalid combinations must be refused.
    let firsts: [(u64, u32); 6] = [
        (0x1000, 0x1000),
        (0x1800, 0x800),
        (0x1004, 0xffc),
        (0x1000, 0x3000),
        (0x1200, 0x2e00),
        (0x1200, 0x100),
    ];
    let laters: [(u64, u32); 5] = [
        (0x10000, 0x1000),
        (0x20000, 0x2000),
        (0x30000, 0x10),
        (0x40000, 0x1200),
        (0x50000, 0x4000),
    ];
    for &f in &firsts {
        check_shape(&[f]);
        for &a in &laters {
            let segs = [f, a];
            let fine = (f.0 + u64::from(f.1)) % P == 0;
            if fine {
                check_shape(&segs);
            } else {
                let mut list = [0u64; 16];
                assert_eq!(build(&segs, &mut list, LIST), Err(PrpError::Misaligned));
            }
            for &b in &laters {
                let segs = [f, a, b];
                let fine = fine && (a.0 + u64::from(a.1)) % P == 0;
                if fine {
                    check_shape(&segs);
                } else {
                    let mut list = [0u64; 16];
                    assert_eq!(build(&segs, &mut list, LIST), Err(PrpError::Misaligned));
                }
            }
        }
    }
}

#[test]
fn refusals() {
    let mut list = [0u64; 8];
    assert_eq!(build(&[], &mut list, LIST), Err(PrpError::Empty));
    assert_eq!(build(&[(0x1000, 0)], &mut list, LIST), Err(PrpError::Empty));
    assert_eq!(
        build(&[(0x1000, 0x1000), (0x2000, 0)], &mut list, LIST),
        Err(PrpError::Empty)
    );
    // First segment not dword aligned.
    for a in [0x1001u64, 0x1002, 0x1003] {
        assert_eq!(
            build(&[(a, 16)], &mut list, LIST),
            Err(PrpError::Misaligned)
        );
    }
    // A later segment not page aligned.
    assert_eq!(
        build(&[(0x1000, 0x1000), (0x2004, 0x100)], &mut list, LIST),
        Err(PrpError::Misaligned)
    );
    // A segment other than the last not ending page aligned.
    assert_eq!(
        build(&[(0x1000, 0x800), (0x2000, 0x100)], &mut list, LIST),
        Err(PrpError::Misaligned)
    );
    assert_eq!(
        build(
            &[(0x1000, 0x1000), (0x2000, 0x100), (0x3000, 0x100)],
            &mut list,
            LIST
        ),
        Err(PrpError::Misaligned)
    );
    // The list's own address.
    assert_eq!(
        build(&[(0x1000, 0x1000)], &mut list, LIST + 8),
        Err(PrpError::Misaligned)
    );
    // Too many pages for the list; exactly enough is fine.
    assert_eq!(
        build(&[(0x1000, 10 * 4096)], &mut list, LIST),
        Err(PrpError::TooLarge)
    );
    assert_eq!(
        build(&[(0x1000, 9 * 4096)], &mut list, LIST)
            .unwrap()
            .list_entries,
        8
    );
    // No list at all: one extra page still fits in PRP2, two do not.
    assert_eq!(
        build(&[(0x1000, 8192)], &mut [], LIST).unwrap().prp2,
        0x2000
    );
    assert_eq!(
        build(&[(0x1000, 12288)], &mut [], LIST),
        Err(PrpError::TooLarge)
    );
    assert_eq!(
        build(&[(0x1000, 12288)], &mut [0; 1], LIST),
        Err(PrpError::TooLarge)
    );
    // Wrapping around the address space.
    assert_eq!(
        build(&[(u64::MAX - 3, 8)], &mut list, LIST),
        Err(PrpError::TooLarge)
    );
    assert_eq!(
        build(
            &[(0x1000, 0x1000), (u64::MAX - 0xfff, 0x2000)],
            &mut list,
            LIST
        ),
        Err(PrpError::TooLarge)
    );
    // Just below the top page of the address space is fine; a segment
    // ending at 2^64 counts as wrapping.
    let top = u64::MAX - 0xfff;
    let p = build(&[(top - 0x2000, 0x2000)], &mut list, LIST).unwrap();
    assert_eq!((p.prp1, p.prp2), (top - 0x2000, top - 0x1000));
    assert_eq!(
        build(&[(top, 0x1000)], &mut list, LIST),
        Err(PrpError::TooLarge)
    );
    // A huge segment stops at the list's end rather than walking 4 GiB.
    assert_eq!(
        build(&[(0x1000, u32::MAX)], &mut list, LIST),
        Err(PrpError::TooLarge)
    );
}

fn desc(addr: u64, len: u32, t: u8) -> [u8; 16] {
    let mut d = [0u8; 16];
    d[..8].copy_from_slice(&addr.to_le_bytes());
    d[8..12].copy_from_slice(&len.to_le_bytes());
    d[15] = t << 4;
    d
}

#[test]
fn sgl_descriptors() {
    let d = sgl_desc(SGL_DATA_BLOCK, 0x0102_0304_0506_0708, 0x1000);
    assert_eq!(d, desc(0x0102_0304_0506_0708, 0x1000, 0));
    assert_eq!(sgl_desc_type(&d), SGL_DATA_BLOCK);
    assert_eq!(sgl_desc_addr(&d), 0x0102_0304_0506_0708);
    assert_eq!(sgl_desc_len(&d), 0x1000);
    assert_eq!(&d[12..15], &[0; 3]);
    let l = sgl_desc(SGL_LAST_SEGMENT, 0x9000, 48);
    assert_eq!(sgl_desc_type(&l), 3);
    assert_eq!(l[15], 0x30);
    assert_eq!(sgl_desc_type(&sgl_desc(SGL_SEGMENT, 0, 0)), 2);
}

#[test]
fn sgl_one_segment() {
    let mut list = [[0xaau8; 16]; 4];
    // Data blocks need no alignment, any length.
    for (addr, len) in [(0x1000u64, 4096u32), (0x1001, 1), (0x1_2345_6789, 0x8_0000)] {
        let d = build_sgl(&[(addr, len)], &mut list, 0x3).unwrap();
        assert_eq!(d, desc(addr, len, SGL_DATA_BLOCK));
    }
    assert!(list.iter().all(|d| d == &[0xaa; 16]), "list untouched");
}

#[test]
fn sgl_several_segments() {
    let segs = [(0x1200u64, 0x300u32), (0x8_0000, 0x1_0000), (0x3, 0x5)];
    let mut list = [[0xaau8; 16]; 4];
    let d = build_sgl(&segs, &mut list, 0x9000).unwrap();
    assert_eq!(d, desc(0x9000, 48, SGL_LAST_SEGMENT));
    for (i, &(a, l)) in segs.iter().enumerate() {
        assert_eq!(list[i], desc(a, l, SGL_DATA_BLOCK));
    }
    assert_eq!(list[3], [0xaa; 16]);
    // Exactly as many as the list holds.
    let many: Vec<(u64, u32)> = (0..4).map(|i| (i * 0x10000, 0x800)).collect();
    let d = build_sgl(&many, &mut list, 0x9000).unwrap();
    assert_eq!(sgl_desc_len(&d), 64);
    // Inline in a command.
    let s = nvme::rw(false, 1, 1, 0, 7, false, nvme::Dptr::Sgl(d));
    assert_eq!(s[0] >> 14 & 3, 1);
    assert_eq!(u64::from(s[6]) | u64::from(s[7]) << 32, 0x9000);
    assert_eq!(s[8], 64);
    assert_eq!(s[9] >> 24, 0x30);
}

#[test]
fn sgl_refusals() {
    let mut list = [[0u8; 16]; 2];
    assert_eq!(build_sgl(&[], &mut list, 0x9000), Err(PrpError::Empty));
    assert_eq!(
        build_sgl(&[(0x1000, 0)], &mut list, 0x9000),
        Err(PrpError::Empty)
    );
    assert_eq!(
        build_sgl(&[(0x1000, 1), (0x2000, 0)], &mut list, 0x9000),
        Err(PrpError::Empty)
    );
    assert_eq!(
        build_sgl(&[(0x1000, 1), (0x2000, 1), (0x3000, 1)], &mut list, 0x9000),
        Err(PrpError::TooLarge)
    );
    assert_eq!(
        build_sgl(&[(0x1000, 1), (0x2000, 1)], &mut [], 0x9000),
        Err(PrpError::TooLarge)
    );
    assert_eq!(
        build_sgl(&[(0x1000, 1), (0x2000, 1)], &mut list, 0x9004),
        Err(PrpError::Misaligned)
    );
    assert_eq!(
        build_sgl(&[(u64::MAX, 2)], &mut list, 0x9000),
        Err(PrpError::TooLarge)
    );
}
