// SPDX-License-Identifier: GPL-2.0

//! Host tests of the membership state machine.

use rsio_fabric_logic::members::*;
use rsio_fabric_logic::proto::{Hello, NAME_LEN, PROTO_VERSION};

fn hello(session: u32) -> Hello {
    let mut name = [0u8; NAME_LEN];
    name[..4].copy_from_slice(b"peer");
    Hello {
        version: u32::from(PROTO_VERSION),
        min_version: 1,
        caps: 0x5,
        session,
        name,
    }
}

/// Drives a fresh peer to `Up` at `now` (hello request id 7, session 0xabc).
fn up_at(now: u64) -> Peer {
    let mut p = Peer::new();
    assert_eq!(p.tick(now, true), Action::Connect);
    p.hello_sent(now, 7);
    assert_eq!(p.hello_answered(now, 7, &hello(0xabc)), Action::CameUp);
    assert_eq!(p.state, State::Up);
    p
}

#[test]
fn constants() {
    assert_eq!(DEAD_AFTER_MS, 3 * HEARTBEAT_MS);
    const { assert!(RETRY_MIN_MS <= RETRY_MAX_MS) };
    const { assert!(HELLO_TIMEOUT_MS > 0) };
}

#[test]
fn new_peer() {
    let p = Peer::new();
    assert_eq!(p, Peer::default());
    assert_eq!(p.state, State::Down);
    assert_eq!(p.last_heard, None);
    assert_eq!(p.up_count, 0);
    assert_eq!(p.session, 0);
}

#[test]
fn full_lifecycle() {
    let mut p = Peer::new();
    // Link down: nothing to do.
    assert_eq!(p.tick(0, false), Action::None);
    assert_eq!(p.state, State::Down);
    // Link up: connect (the state stays Down until the hello is out).
    assert_eq!(p.tick(10, true), Action::Connect);
    assert_eq!(p.state, State::Down);
    p.hello_sent(10, 42);
    assert_eq!(p.state, State::Hello);
    assert_eq!(p.hello_req, 42);
    assert_eq!(p.tick(20, true), Action::None);
    assert_eq!(p.hello_answered(30, 42, &hello(0x1111)), Action::CameUp);
    assert_eq!(p.state, State::Up);
    assert_eq!(p.up_since, 30);
    assert_eq!(p.up_count, 1);
    assert_eq!(p.last_heard, Some(30));
    assert_eq!(p.session, 0x1111);
    assert_eq!(p.version, u32::from(PROTO_VERSION));
    assert_eq!(p.caps, 0x5);
    assert_eq!(&p.name[..5], b"peer\0");
    assert_eq!(p.tick(40, true), Action::None);
}

#[test]
fn hello_sent_only_from_down() {
    let mut p = up_at(0);
    p.hello_sent(5, 99);
    assert_eq!(p.state, State::Up);
    assert_eq!(p.hello_req, 7);

    let mut p = Peer::new();
    p.hello_sent(0, 1);
    p.hello_sent(5, 2);
    assert_eq!(p.state, State::Hello);
    assert_eq!(
        p.hello_req, 1,
        "a second hello_sent does not replace the first"
    );
}

#[test]
fn heartbeats_keep_it_up() {
    let mut p = up_at(0);
    let mut now = 0;
    for _ in 0..100 {
        now += HEARTBEAT_MS;
        p.heard(now);
        assert_eq!(p.tick(now, true), Action::None);
        // Even the tick just before the next heartbeat.
        assert_eq!(p.tick(now + HEARTBEAT_MS - 1, true), Action::None);
    }
    assert_eq!(p.state, State::Up);
    // Missing two heartbeats is still fine.
    assert_eq!(p.tick(now + DEAD_AFTER_MS, true), Action::None);
    assert_eq!(p.state, State::Up);
}

#[test]
fn silence_kills() {
    let mut p = up_at(1000);
    p.heard(2000);
    assert_eq!(p.tick(2000 + DEAD_AFTER_MS, true), Action::None);
    assert_eq!(p.tick(2000 + DEAD_AFTER_MS + 1, true), Action::Died);
    assert_eq!(p.state, State::Dead);
    // Reported once.
    assert_eq!(p.tick(2000 + DEAD_AFTER_MS + 2, true), Action::None);
    assert_eq!(p.tick(2000 + DEAD_AFTER_MS + 3, false), Action::None);
    assert_eq!(p.state, State::Dead);
}

/// The worst-case death-detection bound: a peer whose last heartbeat was
/// seen at `t` is declared dead by the first tick after
/// `t + DEAD_AFTER_MS`; with ticks every `HEARTBEAT_MS` that is at most
/// `t + DEAD_AFTER_MS + HEARTBEAT_MS`.
#[test]
fn death_detection_bound() {
    for phase in 0..HEARTBEAT_MS {
        for t in [10_000, 10_001, 10_250, 10_499] {
            let mut p = up_at(0);
            p.heard(t);
            // Ticks every HEARTBEAT_MS, at `phase` within the period.
            let mut tick = phase;
            let died_at = loop {
                if p.tick(tick, true) == Action::Died {
                    break tick;
                }
                assert!(tick <= t + DEAD_AFTER_MS, "alive at {tick}, heard at {t}");
                tick += HEARTBEAT_MS;
            };
            assert!(
                died_at > t + DEAD_AFTER_MS,
                "too early: {died_at} (heard at {t})"
            );
            assert!(
                died_at <= t + DEAD_AFTER_MS + HEARTBEAT_MS,
                "too late: {died_at} (heard at {t}, phase {phase})"
            );
            assert_eq!(p.state, State::Dead);
        }
    }
}

#[test]
fn link_down_when_up_dies() {
    let mut p = up_at(0);
    p.heard(100);
    assert_eq!(p.tick(100, false), Action::Died);
    assert_eq!(p.state, State::Dead);
}

#[test]
fn link_down_during_hello_resets() {
    let mut p = Peer::new();
    assert_eq!(p.tick(0, true), Action::Connect);
    p.hello_sent(0, 1);
    assert_eq!(p.tick(10, false), Action::Reset);
    assert_eq!(p.state, State::Down);
    // Backs off, and only reconnects with the link up.
    assert_eq!(p.tick(10 + RETRY_MIN_MS - 1, true), Action::None);
    assert_eq!(p.tick(10 + RETRY_MIN_MS, false), Action::None);
    assert_eq!(p.tick(10 + RETRY_MIN_MS, true), Action::Connect);
}

#[test]
fn hello_timeout_resets_with_backoff() {
    let mut p = Peer::new();
    let mut now = 0;
    let mut expected = RETRY_MIN_MS;
    let mut delays = [0; 10];
    for d in delays.iter_mut() {
        assert_eq!(p.tick(now, true), Action::Connect);
        p.hello_sent(now, 1);
        assert_eq!(p.tick(now + HELLO_TIMEOUT_MS, true), Action::None);
        now += HELLO_TIMEOUT_MS + 1;
        assert_eq!(p.tick(now, true), Action::Reset);
        assert_eq!(p.state, State::Down);
        // Not before the backoff.
        assert_eq!(p.tick(now + expected - 1, true), Action::None);
        now += expected;
        *d = expected;
        expected = (expected * 2).min(RETRY_MAX_MS);
    }
    assert_eq!(delays[0], RETRY_MIN_MS);
    assert_eq!(delays[1], 2 * RETRY_MIN_MS);
    assert_eq!(delays[2], 4 * RETRY_MIN_MS);
    assert_eq!(delays[9], RETRY_MAX_MS, "capped");
    assert!(delays
        .windows(2)
        .all(|w| w[1] == (2 * w[0]).min(RETRY_MAX_MS)));
}

#[test]
fn connect_failed_backs_off() {
    let mut p = Peer::new();
    let mut now = 100;
    let mut delay = RETRY_MIN_MS;
    for _ in 0..12 {
        assert_eq!(p.tick(now, true), Action::Connect);
        p.connect_failed(now);
        assert_eq!(p.state, State::Down);
        assert_eq!(p.tick(now + delay - 1, true), Action::None);
        now += delay;
        delay = (delay * 2).min(RETRY_MAX_MS);
    }
    assert_eq!(delay, RETRY_MAX_MS);
    // Coming up resets the backoff: the next failure waits RETRY_MIN_MS.
    assert_eq!(p.tick(now, true), Action::Connect);
    p.hello_sent(now, 3);
    assert_eq!(p.hello_answered(now, 3, &hello(9)), Action::CameUp);
    assert_eq!(p.tick(now, false), Action::Died);
    p.cleaned(now);
    let now = now + RETRY_MIN_MS;
    assert_eq!(p.tick(now, true), Action::Connect);
    p.connect_failed(now);
    assert_eq!(p.tick(now + RETRY_MIN_MS - 1, true), Action::None);
    assert_eq!(p.tick(now + RETRY_MIN_MS, true), Action::Connect);
}

#[test]
fn hello_received_with_new_session_while_up_dies() {
    let mut p = up_at(0);
    assert_eq!(p.hello_received(50, &hello(0xdef)), Action::Died);
    assert_eq!(p.state, State::Dead);
    assert_eq!(p.last_heard, Some(50));
}

#[test]
fn duplicate_hello_same_session_is_ignored() {
    let mut p = up_at(0);
    assert_eq!(p.hello_received(50, &hello(0xabc)), Action::None);
    assert_eq!(p.state, State::Up);
    assert_eq!(p.last_heard, Some(50), "it counts as hearing from it");
    assert_eq!(p.up_count, 1);
}

#[test]
fn hello_received_while_down_connects_at_once() {
    let mut p = Peer::new();
    assert_eq!(p.tick(0, true), Action::Connect);
    p.connect_failed(0);
    p.connect_failed(0);
    assert_eq!(p.tick(1, true), Action::None);
    assert_eq!(p.hello_received(1, &hello(5)), Action::Connect);
    assert_eq!(p.tick(1, true), Action::Connect, "no backoff");
}

#[test]
fn hello_received_in_hello_or_dead_does_nothing() {
    let mut p = Peer::new();
    p.hello_sent(0, 1);
    assert_eq!(p.hello_received(5, &hello(5)), Action::None);
    assert_eq!(p.state, State::Hello);

    let mut p = up_at(0);
    assert_eq!(p.tick(0, false), Action::Died);
    assert_eq!(p.hello_received(5, &hello(5)), Action::None);
    assert_eq!(p.state, State::Dead);
}

#[test]
fn answer_with_wrong_req_id_ignored() {
    let mut p = Peer::new();
    p.hello_sent(0, 10);
    assert_eq!(p.hello_answered(5, 11, &hello(1)), Action::None);
    assert_eq!(p.state, State::Hello);
    assert_eq!(p.hello_answered(6, 10, &hello(1)), Action::CameUp);
    // A late duplicate answer once up changes nothing.
    assert_eq!(p.hello_answered(7, 10, &hello(2)), Action::None);
    assert_eq!(p.session, 1);
    assert_eq!(p.up_count, 1);
}

#[test]
fn answer_when_not_waiting_ignored() {
    let mut p = Peer::new();
    assert_eq!(p.hello_answered(0, 0, &hello(1)), Action::None);
    assert_eq!(p.state, State::Down);
}

#[test]
fn incompatible_version_resets() {
    let mut p = Peer::new();
    p.hello_sent(0, 1);
    let mut h = hello(1);
    h.version = u32::from(PROTO_VERSION) + 2;
    h.min_version = u32::from(PROTO_VERSION) + 1;
    assert_eq!(p.hello_answered(5, 1, &h), Action::Reset);
    assert_eq!(p.state, State::Down);
    assert_eq!(p.up_count, 0);
    assert_eq!(p.session, 0, "nothing recorded");
    assert_eq!(p.tick(5 + RETRY_MIN_MS - 1, true), Action::None);
    assert_eq!(p.tick(5 + RETRY_MIN_MS, true), Action::Connect);
}

#[test]
fn bye() {
    let mut p = up_at(0);
    assert_eq!(p.bye(10), Action::Died);
    assert_eq!(p.state, State::Dead);
    assert_eq!(p.bye(11), Action::None);

    let mut p = Peer::new();
    p.hello_sent(0, 1);
    assert_eq!(p.bye(10), Action::Reset);
    assert_eq!(p.state, State::Down);
    assert_eq!(p.tick(10 + RETRY_MIN_MS - 1, true), Action::None);
    assert_eq!(p.tick(10 + RETRY_MIN_MS, true), Action::Connect);

    let mut p = Peer::new();
    assert_eq!(p.bye(0), Action::None);
    assert_eq!(p.state, State::Down);
}

#[test]
fn new_session() {
    // Up with session 0xabc: the same session is no news, another one is
    // a reconnected peer.
    let mut p = up_at(0);
    assert_eq!(p.new_session(10, 0xabc), Action::None);
    assert_eq!(p.state, State::Up);
    assert_eq!(p.new_session(10, 0xdef), Action::Died);
    assert_eq!(p.state, State::Dead);
    assert_eq!(p.new_session(11, 0x123), Action::None);

    // During the hello the peer's first session is expected: its hello
    // answer brings it.
    let mut p = Peer::new();
    p.hello_sent(0, 1);
    assert_eq!(p.new_session(10, 0xabc), Action::None);
    assert_eq!(p.state, State::Hello);
    assert_eq!(p.hello_answered(20, 1, &hello(0xabc)), Action::CameUp);

    let mut p = Peer::new();
    assert_eq!(p.new_session(0, 0xabc), Action::None);
}

#[test]
fn cleaned_goes_down_and_reconnects_after_retry_min() {
    let mut p = up_at(0);
    // Not dead: cleaned() does nothing.
    p.cleaned(5);
    assert_eq!(p.state, State::Up);

    assert_eq!(p.tick(100, false), Action::Died);
    // Still dead until cleaned, whatever the link does.
    assert_eq!(p.tick(200, true), Action::None);
    p.cleaned(300);
    assert_eq!(p.state, State::Down);
    assert_eq!(p.tick(300, true), Action::None);
    assert_eq!(p.tick(300 + RETRY_MIN_MS - 1, true), Action::None);
    assert_eq!(p.tick(300 + RETRY_MIN_MS, true), Action::Connect);
}

#[test]
fn up_count_increments() {
    let mut p = Peer::new();
    let mut now = 0;
    for n in 1..=5u32 {
        assert_eq!(p.tick(now, true), Action::Connect);
        p.hello_sent(now, n);
        assert_eq!(p.hello_answered(now + 1, n, &hello(n)), Action::CameUp);
        assert_eq!(p.up_count, n);
        assert_eq!(p.up_since, now + 1);
        assert_eq!(p.session, n);
        now += 10;
        assert_eq!(p.hello_received(now, &hello(n + 100)), Action::Died);
        p.cleaned(now);
        now += RETRY_MIN_MS;
    }
    assert_eq!(p.up_count, 5);
}

#[test]
fn up_without_last_heard_is_dead() {
    // Defensive: an Up peer with no last_heard counts as silent forever.
    let mut p = up_at(0);
    p.last_heard = None;
    assert_eq!(p.tick(1, true), Action::Died);
}

#[test]
fn clock_going_backwards_is_harmless() {
    let mut p = up_at(1000);
    p.heard(5000);
    assert_eq!(p.tick(4000, true), Action::None);
    let mut p = Peer::new();
    p.hello_sent(5000, 1);
    assert_eq!(p.tick(4000, true), Action::None);
    assert_eq!(p.state, State::Hello);
}
