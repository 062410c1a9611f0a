// SPDX-License-Identifier: GPL-2.0

//! Host tests of the receive ring's layout and index arithmetic.

use rsio_fabric_logic::ring::*;

#[test]
fn layout_constants() {
    assert_eq!(SLOTS, 16);
    assert_eq!(SLOTS as usize, (RING_SIZE - SLOTS_OFF) / SLOT_SIZE);
    assert!(SLOTS_OFF + SLOTS as usize * SLOT_SIZE <= RING_SIZE);
    // Slots stay aligned for 4- and 8-byte writes.
    assert_eq!(SLOT_SIZE % 8, 0);
    assert_eq!(SLOTS_OFF % 8, 0);
    // The header fields are distinct u32s and end before the slots.
    let fields = [
        MAGIC_OFF,
        SESSION_OFF,
        PRODUCER_OFF,
        HEARTBEAT_OFF,
        CONSUMER_OFF,
    ];
    for (i, a) in fields.iter().enumerate() {
        assert_eq!(a % 4, 0);
        assert!(a + 4 <= SLOTS_OFF);
        for b in &fields[i + 1..] {
            assert!(
                a + 4 <= *b || b + 4 <= *a,
                "fields {a:#x} and {b:#x} overlap"
            );
        }
    }
    assert_eq!(RING_MAGIC.to_le_bytes(), *b"RSRX");
}

#[test]
fn slot_offsets() {
    assert_eq!(slot_offset(0), SLOTS_OFF);
    assert_eq!(slot_offset(1), SLOTS_OFF + SLOT_SIZE);
    assert_eq!(
        slot_offset(SLOTS - 1),
        SLOTS_OFF + (SLOTS as usize - 1) * SLOT_SIZE
    );
    assert_eq!(slot_offset(SLOTS), SLOTS_OFF);
    assert_eq!(slot_offset(SLOTS + 3), slot_offset(3));
    for n in 0..4 * SLOTS {
        let o = slot_offset(n);
        assert!(o >= SLOTS_OFF);
        assert!(o + SLOT_SIZE <= RING_SIZE);
        assert_eq!((o - SLOTS_OFF) % SLOT_SIZE, 0);
    }
    // The last slot before the index wraps is still inside the ring.
    let o = slot_offset(u32::MAX);
    assert!(o + SLOT_SIZE <= RING_SIZE);
    assert_eq!(o, SLOTS_OFF + (u32::MAX % SLOTS) as usize * SLOT_SIZE);
}

/// Any SLOTS consecutive message numbers use SLOTS different slots, also
/// across the wrap of the u32 index (u32::MAX then 0).
#[test]
fn slots_distinct_across_index_wrap() {
    for start in (0..2 * SLOTS).map(|k| u32::MAX - 2 * SLOTS + 1 + k) {
        let mut seen = [false; 64];
        for i in 0..SLOTS {
            let n = start.wrapping_add(i);
            let s = (slot_offset(n) - SLOTS_OFF) / SLOT_SIZE;
            assert!(!seen[s], "messages from {start} share slot {s} at {n}");
            seen[s] = true;
        }
    }
    assert_ne!(slot_offset(u32::MAX), slot_offset(0));
    assert_eq!(slot_offset(u32::MAX), slot_offset(SLOTS - 1));
}

#[test]
fn tx_room() {
    let mut t = TxRing::default();
    assert!(t.has_room());
    for _ in 0..SLOTS {
        assert!(t.has_room());
        t.producer += 1;
    }
    // SLOTS messages unconsumed: full.
    assert!(!t.has_room());
    assert!(t.update_consumer(1));
    assert!(t.has_room());
    assert_eq!(t.consumer, 1);
}

#[test]
fn tx_room_across_wraparound() {
    let mut t = TxRing {
        producer: u32::MAX - 2,
        consumer: u32::MAX - 2,
    };
    for _ in 0..SLOTS {
        assert!(t.has_room());
        t.producer = t.producer.wrapping_add(1);
    }
    assert_eq!(t.producer, SLOTS - 3);
    assert!(!t.has_room());
    // The consumer catches up past the wrap.
    assert!(t.update_consumer(u32::MAX));
    assert!(t.has_room());
    assert!(t.update_consumer(0));
    assert!(t.update_consumer(t.producer));
    assert_eq!(t.consumer, t.producer);
    assert!(t.has_room());
}

#[test]
fn tx_update_consumer_limits() {
    let mut t = TxRing {
        producer: 100,
        consumer: 90,
    };
    // Equal to the producer (all consumed) and exactly a ring behind (full).
    assert!(t.update_consumer(100));
    assert_eq!(t.consumer, 100);
    assert!(t.update_consumer(100 - SLOTS));
    assert_eq!(t.consumer, 100 - SLOTS);
    // Ahead of the producer: impossible, ignored.
    assert!(!t.update_consumer(101));
    assert!(!t.update_consumer(u32::MAX));
    // More than a ring behind: impossible, ignored.
    assert!(!t.update_consumer(100 - SLOTS - 1));
    assert!(!t.update_consumer(0));
    assert_eq!(t.consumer, 100 - SLOTS);
}

#[test]
fn tx_update_consumer_at_u32_max() {
    // Producer just wrapped to 2; consumer values just below the wrap.
    let mut t = TxRing {
        producer: 2,
        consumer: 0,
    };
    assert!(t.update_consumer(u32::MAX));
    assert_eq!(t.consumer, u32::MAX);
    assert!(t.update_consumer(2u32.wrapping_sub(SLOTS)));
    assert!(!t.update_consumer(2u32.wrapping_sub(SLOTS + 1)));
    assert!(!t.update_consumer(3));
    assert_eq!(t.consumer, 2u32.wrapping_sub(SLOTS));
    // Producer at u32::MAX itself.
    let mut t = TxRing {
        producer: u32::MAX,
        consumer: u32::MAX,
    };
    assert!(!t.update_consumer(0), "one ahead across the wrap");
    assert!(t.update_consumer(u32::MAX - SLOTS));
    assert!(!t.update_consumer(u32::MAX - SLOTS - 1));
}

#[test]
fn rx_idle_until_a_session() {
    let mut r = RxRing::default();
    assert_eq!(r.check(0, 0), RxCheck::Idle);
    assert_eq!(r.check(0, 7), RxCheck::Idle);
    assert_eq!(r, RxRing::default());
}

#[test]
fn rx_new_session_resets() {
    let mut r = RxRing {
        session: 0,
        consumer: 0,
        heartbeat: 0,
    };
    assert_eq!(r.check(0x1234, 0), RxCheck::NewSession);
    assert_eq!(r.session, 0x1234);
    assert_eq!(r.check(0x1234, 0), RxCheck::Pending(0));
    assert_eq!(r.check(0x1234, 3), RxCheck::Pending(3));
    r.consumer = 3;
    assert!(r.heartbeat_moved(9));

    // The sender's core restarted: everything resets.
    assert_eq!(r.check(0x5678, 0), RxCheck::NewSession);
    assert_eq!(
        r,
        RxRing {
            session: 0x5678,
            consumer: 0,
            heartbeat: 0,
        }
    );
    assert_eq!(r.check(0x5678, 2), RxCheck::Pending(2));
}

#[test]
fn rx_session_zero_does_not_reset() {
    let mut r = RxRing {
        session: 5,
        consumer: 40,
        heartbeat: 3,
    };
    assert_eq!(r.check(0, 0), RxCheck::Idle);
    assert_eq!(r.session, 5);
    assert_eq!(r.consumer, 40);
}

#[test]
fn rx_pending_counts() {
    let mut r = RxRing {
        session: 1,
        consumer: 10,
        heartbeat: 0,
    };
    assert_eq!(r.check(1, 10), RxCheck::Pending(0));
    assert_eq!(r.check(1, 11), RxCheck::Pending(1));
    assert_eq!(r.check(1, 10 + SLOTS), RxCheck::Pending(SLOTS));
    // check() itself does not consume.
    assert_eq!(r.consumer, 10);
}

#[test]
fn rx_pending_across_wraparound() {
    let mut r = RxRing {
        session: 1,
        consumer: u32::MAX - 1,
        heartbeat: 0,
    };
    assert_eq!(r.check(1, u32::MAX), RxCheck::Pending(1));
    assert_eq!(r.check(1, 0), RxCheck::Pending(2));
    assert_eq!(r.check(1, SLOTS - 2), RxCheck::Pending(SLOTS));
    assert_eq!(r.consumer, u32::MAX - 1);
}

#[test]
fn rx_corrupt_resyncs() {
    let mut r = RxRing {
        session: 1,
        consumer: 10,
        heartbeat: 0,
    };
    assert_eq!(r.check(1, 10 + SLOTS + 1), RxCheck::Corrupt);
    assert_eq!(r.consumer, 10 + SLOTS + 1);
    assert_eq!(r.check(1, 10 + SLOTS + 1), RxCheck::Pending(0));

    // Behind the consumer is "more than a ring ahead" too.
    let mut r = RxRing {
        session: 1,
        consumer: 10,
        heartbeat: 0,
    };
    assert_eq!(r.check(1, 9), RxCheck::Corrupt);
    assert_eq!(r.consumer, 9);
    assert_eq!(r.session, 1);

    // Across the wrap.
    let mut r = RxRing {
        session: 1,
        consumer: u32::MAX,
        heartbeat: 0,
    };
    assert_eq!(r.check(1, SLOTS), RxCheck::Corrupt);
    assert_eq!(r.consumer, SLOTS);
}

#[test]
fn rx_heartbeat() {
    let mut r = RxRing::default();
    assert!(!r.heartbeat_moved(0));
    assert!(r.heartbeat_moved(1));
    assert!(!r.heartbeat_moved(1));
    assert!(r.heartbeat_moved(u32::MAX));
    assert!(r.heartbeat_moved(0), "wrapped heartbeat still moves");
    assert_eq!(r.heartbeat, 0);
}
