// SPDX-License-Identifier: GPL-2.0

//! Cluster membership: the state of one peer's core, as a state machine
//! driven by the link, hellos, heartbeats and the clock (milliseconds).
//!
//! ```text
//!  Down --link up, connect ok, hello sent--> Hello --hello answered--> Up
//!   ^  <--no answer in HELLO_TIMEOUT_MS, or link down (Reset)--'        |
//!   '--cleaned-- Dead <--link down, or silent DEAD_AFTER_MS, or new session
//! ```
//!
//! `Up -> Dead` tells the feature modules to drop what involved the peer
//! ([`Action::Died`]); the core calls [`Peer::cleaned`] afterwards. Failed
//! connection attempts back off from `RETRY_MIN_MS` to `RETRY_MAX_MS`.

use super::proto::{Hello, NAME_LEN};

/// How often a core bumps its heartbeat in every peer's ring.
pub const HEARTBEAT_MS: u64 = 500;
/// A peer whose heartbeat has not moved for this long is dead.
pub const DEAD_AFTER_MS: u64 = 3 * HEARTBEAT_MS;
/// How long a hello may go unanswered.
pub const HELLO_TIMEOUT_MS: u64 = 1000;
/// First retry delay after a failed connection attempt.
pub const RETRY_MIN_MS: u64 = 250;
/// Longest retry delay.
pub const RETRY_MAX_MS: u64 = 4000;

/// A peer's state (`uapi::RSIO_NODE_*` without `SELF`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// No core known there.
    Down,
    /// Our hello is out.
    Hello,
    /// Its core answered; alive.
    Up,
    /// Gone; cleanup running.
    Dead,
}

/// What the core must do after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    None,
    /// Connect the transport to the peer and send a hello (then call
    /// [`Peer::hello_sent`] or [`Peer::connect_failed`]).
    Connect,
    /// The peer came up: tell the features.
    CameUp,
    /// The peer was up and is gone: tell the features, release what
    /// involved it, disconnect, then call [`Peer::cleaned`].
    Died,
    /// The peer never came up and is gone: disconnect.
    Reset,
}

/// One peer's membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The state.
    pub state: State,
    /// When a message or a heartbeat from it was last seen (ms).
    pub last_heard: Option<u64>,
    /// When it came up.
    pub up_since: u64,
    /// How many times it came up.
    pub up_count: u32,
    /// The request id of our outstanding hello.
    pub hello_req: u32,
    hello_sent_at: u64,
    next_try: u64,
    backoff: u64,
    /// Its session (from its hello), 0 before.
    pub session: u32,
    /// The protocol version in use with it.
    pub version: u32,
    /// Its capabilities.
    pub caps: u32,
    /// Its name.
    pub name: [u8; NAME_LEN],
}

impl Default for Peer {
    fn default() -> Self {
        Self::new()
    }
}

impl Peer {
    /// A peer nothing is known about.
    pub const fn new() -> Self {
        Peer {
            state: State::Down,
            last_heard: None,
            up_since: 0,
            up_count: 0,
            hello_req: 0,
            hello_sent_at: 0,
            next_try: 0,
            backoff: 0,
            session: 0,
            version: 0,
            caps: 0,
            name: [0; NAME_LEN],
        }
    }

    /// The periodic check (and the reaction to link changes): `link_up`
    /// is the link to the peer now.
    pub fn tick(&mut self, now: u64, link_up: bool) -> Action {
        match self.state {
            State::Down if link_up && now >= self.next_try => Action::Connect,
            State::Down => Action::None,
            State::Hello
                if !link_up || now.saturating_sub(self.hello_sent_at) > HELLO_TIMEOUT_MS =>
            {
                self.retry_later(now);
                Action::Reset
            }
            State::Hello => Action::None,
            State::Up if !link_up || self.silent_for(now) > DEAD_AFTER_MS => {
                self.state = State::Dead;
                Action::Died
            }
            State::Up | State::Dead => Action::None,
        }
    }

    fn silent_for(&self, now: u64) -> u64 {
        self.last_heard.map_or(u64::MAX, |t| now.saturating_sub(t))
    }

    fn retry_later(&mut self, now: u64) {
        self.state = State::Down;
        self.backoff = (self.backoff * 2).clamp(RETRY_MIN_MS, RETRY_MAX_MS);
        self.next_try = now + self.backoff;
    }

    /// The transport could not connect (the peer's core is not there yet).
    pub fn connect_failed(&mut self, now: u64) {
        self.retry_later(now);
    }

    /// Our hello went out with request id `req`.
    pub fn hello_sent(&mut self, now: u64, req: u32) {
        if self.state == State::Down {
            self.state = State::Hello;
            self.hello_req = req;
            self.hello_sent_at = now;
        }
    }

    /// A message or a heartbeat from the peer was seen.
    pub fn heard(&mut self, now: u64) {
        self.last_heard = Some(now);
    }

    fn record(&mut self, h: &Hello, version: u32) {
        self.session = h.session;
        self.version = version;
        self.caps = h.caps;
        self.name = h.name;
    }

    /// The peer answered hello request `req` with `h`.
    pub fn hello_answered(&mut self, now: u64, req: u32, h: &Hello) -> Action {
        if self.state != State::Hello || req != self.hello_req {
            return Action::None;
        }
        let Some(v) = h.common_version() else {
            self.retry_later(now);
            return Action::Reset;
        };
        self.record(h, v);
        self.state = State::Up;
        self.up_since = now;
        self.up_count += 1;
        self.backoff = 0;
        self.heard(now);
        Action::CameUp
    }

    /// The peer sent us its hello (we answer it whatever this returns,
    /// when we can reach it).
    pub fn hello_received(&mut self, now: u64, h: &Hello) -> Action {
        self.heard(now);
        match self.state {
            // Its core restarted under our feet: what we knew is stale.
            State::Up if h.session != self.session => {
                self.state = State::Dead;
                Action::Died
            }
            // It is ready now: try at once rather than after a backoff.
            State::Down => {
                self.next_try = now;
                Action::Connect
            }
            _ => Action::None,
        }
    }

    /// The peer's ring shows session `session`, new to the ring. The
    /// first session of a connection is expected (its hello carries it);
    /// a different one while up means the peer reconnected: it restarted,
    /// or declared us dead and dropped what it knew.
    pub fn new_session(&mut self, _now: u64, session: u32) -> Action {
        match self.state {
            State::Up if session != self.session => {
                self.state = State::Dead;
                Action::Died
            }
            _ => Action::None,
        }
    }

    /// The peer said it is leaving.
    pub fn bye(&mut self, now: u64) -> Action {
        match self.state {
            State::Up => {
                self.state = State::Dead;
                Action::Died
            }
            State::Hello => {
                self.retry_later(now);
                Action::Reset
            }
            _ => Action::None,
        }
    }

    /// The cleanup after [`Action::Died`] is done.
    pub fn cleaned(&mut self, now: u64) {
        if self.state == State::Dead {
            self.state = State::Down;
            self.backoff = 0;
            self.next_try = now + RETRY_MIN_MS;
        }
    }
}
