// SPDX-License-Identifier: GPL-2.0

//! Host tests of fabric addresses, range checks, placement, slot plans,
//! translation and ids.

use rsio_fabric_logic::maps::*;

const PAGE: u64 = 4096;
const WIN: u64 = 1 << WINDOW_SHIFT;

fn r(node: u32, addr: u64, len: u64) -> Range {
    Range { node, addr, len }
}

#[test]
fn fabric_addr_split_round_trip() {
    for w in [0, 1, 7, 0x8000_0000, u32::MAX] {
        for off in [0, 1, 0xfff, 0x1000, WIN - 1] {
            let a = fabric_addr(w, off);
            assert_eq!(split(a), (w, off), "window {w} offset {off:#x}");
            assert_eq!(a >> 32, u64::from(w));
        }
    }
    assert_eq!(fabric_addr(2, 0x10), 0x2_0000_0010);
    assert_eq!(split(0x3_0000_1000), (3, 0x1000));
    assert_eq!(split(u64::MAX), (u32::MAX, WIN - 1));
    // An offset past the window is cut to the window, not carried into it.
    assert_eq!(fabric_addr(1, WIN + 5), fabric_addr(1, 5));
}

#[test]
fn range_end() {
    assert_eq!(r(0, 10, 5).end(), 15);
    assert_eq!(r(0, u64::MAX - 1, 10).end(), u64::MAX, "saturates");
}

#[test]
fn validate_accepts() {
    assert_eq!(
        r(1, fabric_addr(0, 0), PAGE).validate(PAGE, 1 << 30),
        Ok(())
    );
    assert_eq!(
        r(1, fabric_addr(3, 0x5000), 3 * PAGE).validate(PAGE, 1 << 30),
        Ok(())
    );
    // Exactly the max.
    assert_eq!(r(1, 0, 1 << 20).validate(PAGE, 1 << 20), Ok(()));
    // Exactly up to the window end.
    assert_eq!(
        r(1, fabric_addr(2, WIN - PAGE), PAGE).validate(PAGE, WIN),
        Ok(())
    );
    assert_eq!(r(1, fabric_addr(2, 0), WIN).validate(PAGE, WIN), Ok(()));
    // The last window, up to its end (the end address saturates).
    assert_eq!(
        r(1, fabric_addr(u32::MAX, WIN - PAGE), PAGE).validate(PAGE, WIN),
        Ok(())
    );
    assert_eq!(
        r(1, fabric_addr(u32::MAX, 0), WIN).validate(PAGE, WIN),
        Ok(())
    );
    // Byte granularity.
    assert_eq!(r(1, 3, 5).validate(1, 100), Ok(()));
}

#[test]
fn validate_refuses_zero() {
    assert_eq!(r(1, 0, 0).validate(PAGE, WIN), Err(WindowError::Invalid));
    assert_eq!(
        r(1, fabric_addr(1, 0), 0).validate(1, WIN),
        Err(WindowError::Invalid)
    );
}

#[test]
fn validate_refuses_unaligned() {
    assert_eq!(
        r(1, 0x800, PAGE).validate(PAGE, WIN),
        Err(WindowError::Invalid)
    );
    assert_eq!(
        r(1, 0x1000, PAGE + 1).validate(PAGE, WIN),
        Err(WindowError::Invalid)
    );
    assert_eq!(
        r(1, 0x1000, PAGE - 1).validate(PAGE, WIN),
        Err(WindowError::Invalid)
    );
    assert_eq!(
        r(1, fabric_addr(1, 1), PAGE).validate(PAGE, WIN),
        Err(WindowError::Invalid)
    );
}

#[test]
fn validate_refuses_too_big() {
    assert_eq!(
        r(1, 0, 2 * PAGE).validate(PAGE, PAGE),
        Err(WindowError::Invalid)
    );
    assert_eq!(
        r(1, 0, WIN + PAGE).validate(PAGE, u64::MAX),
        Err(WindowError::Invalid)
    );
    assert_eq!(
        r(1, 0, u64::MAX - 0xfff).validate(PAGE, u64::MAX),
        Err(WindowError::Invalid)
    );
}

#[test]
fn validate_refuses_crossing_a_window() {
    // One page past the end of window 2.
    assert_eq!(
        r(1, fabric_addr(2, WIN - PAGE), 2 * PAGE).validate(PAGE, WIN),
        Err(WindowError::Invalid)
    );
    // A whole window's worth, not starting at 0.
    assert_eq!(
        r(1, fabric_addr(2, PAGE), WIN).validate(PAGE, 2 * WIN),
        Err(WindowError::Invalid)
    );
    // Past the last window (the end would overflow u64).
    assert_eq!(
        r(1, fabric_addr(u32::MAX, WIN - PAGE), 2 * PAGE).validate(PAGE, WIN),
        Err(WindowError::Invalid)
    );
}

#[test]
fn place_new() {
    let existing: [Range; 0] = [];
    assert_eq!(place(existing.iter(), &r(1, 0, PAGE)), Ok(Placement::New));
    let existing = [r(1, 0, PAGE), r(1, 4 * PAGE, PAGE)];
    assert_eq!(
        place(existing.iter(), &r(1, 2 * PAGE, PAGE)),
        Ok(Placement::New)
    );
}

#[test]
fn place_inside_shares() {
    let existing = [r(2, 0, PAGE), r(1, 0x10000, 16 * PAGE), r(1, 0x40000, PAGE)];
    // The whole mapping, its start, its end, its middle.
    for want in [
        r(1, 0x10000, 16 * PAGE),
        r(1, 0x10000, PAGE),
        r(1, 0x10000 + 15 * PAGE, PAGE),
        r(1, 0x12000, 4 * PAGE),
    ] {
        assert_eq!(
            place(existing.iter(), &want),
            Ok(Placement::Inside(1)),
            "{want:?}"
        );
    }
    assert_eq!(
        place(existing.iter(), &r(1, 0x40000, PAGE)),
        Ok(Placement::Inside(2))
    );
    assert_eq!(
        place(existing.iter(), &r(2, 0, PAGE)),
        Ok(Placement::Inside(0))
    );
}

#[test]
fn place_partial_overlap() {
    let existing = [r(1, 0x10000, 4 * PAGE)];
    for want in [
        // Starts before, ends inside.
        r(1, 0x10000 - PAGE, 2 * PAGE),
        // Starts inside, ends after.
        r(1, 0x10000 + 3 * PAGE, 2 * PAGE),
        // Covers it.
        r(1, 0x10000 - PAGE, 6 * PAGE),
        r(1, 0x10000, 5 * PAGE),
    ] {
        assert_eq!(
            place(existing.iter(), &want),
            Err(WindowError::Overlap),
            "{want:?}"
        );
    }
}

#[test]
fn place_inside_one_overlapping_another() {
    // Inside the first, overlapping the second: refused whatever the order.
    let a = r(1, 0, 4 * PAGE);
    let b = r(1, 2 * PAGE, 4 * PAGE);
    let want = r(1, PAGE, 2 * PAGE);
    assert_eq!(place([a, b].iter(), &want), Err(WindowError::Overlap));
    assert_eq!(place([b, a].iter(), &want), Err(WindowError::Overlap));
}

#[test]
fn place_other_node_never_overlaps() {
    let existing = [r(1, 0x10000, 4 * PAGE)];
    assert_eq!(
        place(existing.iter(), &r(2, 0x10000, 4 * PAGE)),
        Ok(Placement::New)
    );
    assert_eq!(
        place(existing.iter(), &r(2, 0x11000, PAGE)),
        Ok(Placement::New)
    );
    assert_eq!(place(existing.iter(), &r(0, 0, WIN)), Ok(Placement::New));
}

#[test]
fn place_adjacent_ranges_do_not_overlap() {
    let existing = [r(1, 0x10000, 4 * PAGE)];
    assert_eq!(
        place(existing.iter(), &r(1, 0x10000 - PAGE, PAGE)),
        Ok(Placement::New)
    );
    assert_eq!(
        place(existing.iter(), &r(1, 0x10000 + 4 * PAGE, PAGE)),
        Ok(Placement::New)
    );
    // Between two neighbours, touching both.
    let existing = [r(1, 0, PAGE), r(1, 2 * PAGE, PAGE)];
    assert_eq!(
        place(existing.iter(), &r(1, PAGE, PAGE)),
        Ok(Placement::New)
    );
}

#[test]
fn place_first_containing_wins() {
    let existing = [r(1, 0, 4 * PAGE), r(1, 0, 4 * PAGE)];
    assert_eq!(
        place(existing.iter(), &r(1, PAGE, PAGE)),
        Ok(Placement::Inside(0))
    );
}

#[test]
fn slot_plan_aligned() {
    // 2 MiB slots.
    assert_eq!(
        slot_plan(0, 1 << 21, 21),
        SlotPlan {
            first_offset: 0,
            count: 1,
            delta: 0
        }
    );
    assert_eq!(slot_plan(0, 3 << 21, 21).count, 3);
    assert_eq!(slot_plan(0, (3 << 21) + 1, 21).count, 4);
    assert_eq!(slot_plan(0, PAGE, 21).count, 1);
    assert_eq!(
        slot_plan(5 << 21, 1 << 21, 21),
        SlotPlan {
            first_offset: 5 << 21,
            count: 1,
            delta: 0
        }
    );
    // Page-aligned offset inside a slot: slot 0 starts at that page.
    assert_eq!(
        slot_plan(0x3000, 1 << 21, 21),
        SlotPlan {
            first_offset: 0x3000,
            count: 1,
            delta: 0
        }
    );
    // 4 KiB slots.
    assert_eq!(slot_plan(0x5000, 3 * PAGE, 12).count, 3);
}

#[test]
fn slot_plan_unaligned_offset_within_a_page() {
    assert_eq!(
        slot_plan(0x3010, 0x100, 21),
        SlotPlan {
            first_offset: 0x3000,
            count: 1,
            delta: 0x10
        }
    );
    assert_eq!(
        slot_plan(0xfff, 1, 12),
        SlotPlan {
            first_offset: 0,
            count: 1,
            delta: 0xfff
        }
    );
    // One byte over the page on 4 KiB slots: two slots.
    assert_eq!(
        slot_plan(0xfff, 2, 12),
        SlotPlan {
            first_offset: 0,
            count: 2,
            delta: 0xfff
        }
    );
}

#[test]
fn slot_plan_spanning_slot_boundaries() {
    // A page-aligned start near the end of a 2 MiB stretch: the slot starts
    // at that page, so a 2 MiB range needs 1 slot, 2 MiB + 1 byte needs 2.
    let off = (1 << 21) - PAGE;
    assert_eq!(slot_plan(off, 1 << 21, 21).count, 1);
    assert_eq!(slot_plan(off, (1 << 21) + 1, 21).count, 2);
    // Unaligned: the delta counts.
    let p = slot_plan(off + 8, (1 << 21) - 8, 21);
    assert_eq!(
        p,
        SlotPlan {
            first_offset: off,
            count: 1,
            delta: 8
        }
    );
    let p = slot_plan(off + 8, (1 << 21) - 7, 21);
    assert_eq!(
        p,
        SlotPlan {
            first_offset: off,
            count: 2,
            delta: 8
        }
    );
    // Every byte of the range is covered, and no slot is wasted.
    for shift in [12u32, 13, 21] {
        let slot = 1u64 << shift;
        for off in [0u64, 1, 0xfff, 0x1000, 0x1ff0, 0x20_0008] {
            for len in [
                1u64,
                2,
                0xfff,
                0x1000,
                0x1001,
                3 * slot - 1,
                3 * slot,
                3 * slot + 1,
            ] {
                let p = slot_plan(off, len, shift);
                assert_eq!(p.first_offset % PAGE, 0);
                assert_eq!(p.first_offset + p.delta, off);
                assert!(p.delta < PAGE);
                let covered = u64::from(p.count) * slot;
                assert!(p.delta + len <= covered, "{off:#x}+{len:#x} on 2^{shift}");
                assert!(
                    p.delta + len > covered - slot,
                    "{off:#x}+{len:#x} on 2^{shift}: a slot too many"
                );
            }
        }
    }
}

#[test]
fn to_bus_edges() {
    let m = r(1, fabric_addr(2, 0x10000), 0x4000);
    let bus = 0xe000_0000;
    assert_eq!(to_bus(&m, bus, m.addr), Some(bus));
    assert_eq!(to_bus(&m, bus, m.addr + 0x123), Some(bus + 0x123));
    assert_eq!(to_bus(&m, bus, m.end() - 1), Some(bus + 0x3fff));
    assert_eq!(to_bus(&m, bus, m.end()), None);
    assert_eq!(to_bus(&m, bus, m.addr - 1), None);
    assert_eq!(to_bus(&m, bus, 0), None);
    assert_eq!(to_bus(&m, bus, u64::MAX), None);
}

#[test]
fn to_fabric_edges() {
    let m = r(5, fabric_addr(2, 0x10000), 0x4000);
    let bus = 0xe000_0000;
    assert_eq!(to_fabric(&m, bus, bus), Some((5, m.addr)));
    assert_eq!(to_fabric(&m, bus, bus + 0x3fff), Some((5, m.end() - 1)));
    assert_eq!(to_fabric(&m, bus, bus + 0x4000), None);
    assert_eq!(to_fabric(&m, bus, bus - 1), None);
    assert_eq!(to_fabric(&m, bus, 0), None);
    assert_eq!(to_fabric(&m, bus, u64::MAX), None);
}

#[test]
fn translation_round_trips() {
    let m = r(3, fabric_addr(1, 0x2000), 0x3000);
    let bus = 0x1_0000_0000;
    for off in [0, 1, 0x800, 0x2fff] {
        let b = to_bus(&m, bus, m.addr + off).unwrap();
        assert_eq!(to_fabric(&m, bus, b), Some((3, m.addr + off)));
    }
}

#[test]
fn ids_skip_zero_and_in_use() {
    let mut ids = IdAlloc::default();
    assert_eq!(ids.alloc(|_| false), 1);
    assert_eq!(ids.alloc(|_| false), 2);
    // Skips ids in use.
    assert_eq!(ids.alloc(|id| id == 3 || id == 4), 5);
    // Increasing: a freed lower id is not reused at once.
    assert_eq!(ids.alloc(|_| false), 6);
}

/// One walk over the whole id space (private state: no shortcut), so a
/// few seconds in a debug build.
#[test]
fn ids_wrap_skip_zero_and_in_use() {
    let mut ids = IdAlloc::default();
    // Walk to u32::MAX - 1: everything below it is "in use".
    assert_eq!(ids.alloc(|id| id < u32::MAX - 1), u32::MAX - 1);
    assert_eq!(ids.alloc(|_| false), u32::MAX);
    // Wraps past 0 (never returned, even if the caller thinks it free)
    // and past 1 and 2, still in use.
    assert_eq!(ids.alloc(|id| id == 1 || id == 2), 3);
    assert_eq!(ids.alloc(|_| false), 4);
}

#[test]
fn validate_align_zero_refuses_without_panicking() {
    assert_eq!(r(1, 0, PAGE).validate(0, WIN), Err(WindowError::Invalid));
}
