// SPDX-License-Identifier: GPL-2.0

//! The receive ring: one per ordered pair of nodes (sender -> receiver), in
//! the receiver's memory, [`RING_SIZE`] bytes.
//!
//! ```text
//! 0x00 magic      u32  receiver: RING_MAGIC while its core accepts mail
//! 0x04 session    u32  sender:   its core's random session id
//! 0x08 producer   u32  sender:   messages written (slot = n % SLOTS)
//! 0x0c heartbeat  u32  sender:   bumped every heartbeat period
//! 0x10 consumer   u32  receiver: messages consumed (the sender reads it
//!                      only when the ring looks full)
//! 0x40 slots      SLOTS (16) x SLOT_SIZE (240) bytes: a message each
//! ```
//!
//! The sender writes a message's slot, then the producer index, then
//! notifies; writes arrive in order (PCIe posted writes), so a receiver
//! that sees the index sees the message. A new session (the sender's core
//! restarted) resets the receiver's consumer index: the sender writes
//! `producer = 0` before its new session id.

/// Bytes of one ring.
pub const RING_SIZE: usize = 4096;
/// Offset of the receiver's magic.
pub const MAGIC_OFF: usize = 0x00;
/// Offset of the sender's session id.
pub const SESSION_OFF: usize = 0x04;
/// Offset of the producer index.
pub const PRODUCER_OFF: usize = 0x08;
/// Offset of the heartbeat counter.
pub const HEARTBEAT_OFF: usize = 0x0c;
/// Offset of the consumer index.
pub const CONSUMER_OFF: usize = 0x10;
/// Offset of the first slot.
pub const SLOTS_OFF: usize = 0x40;
/// Bytes of one slot (sized for a power-of-two number of slots).
pub const SLOT_SIZE: usize = 240;
/// Slots in a ring.
pub const SLOTS: u32 = ((RING_SIZE - SLOTS_OFF) / SLOT_SIZE) as u32;
/// "RSRX": the receiver's core has opened the ring.
pub const RING_MAGIC: u32 = 0x5852_5352;

// The indices are u32s that wrap at 2^32, so SLOTS must divide 2^32:
// otherwise messages u32::MAX and 0 would share a slot.
const _: () = assert!(SLOTS == 16 && SLOTS.is_power_of_two());

/// Byte offset of message number `n`'s slot.
pub const fn slot_offset(n: u32) -> usize {
    SLOTS_OFF + (n % SLOTS) as usize * SLOT_SIZE
}

/// The sender's view of a ring in the peer's memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxRing {
    /// Messages written.
    pub producer: u32,
    /// The consumer index last read from the peer.
    pub consumer: u32,
}

impl TxRing {
    /// Whether a slot is free by what we know (else read the consumer
    /// index again).
    pub fn has_room(&self) -> bool {
        self.producer.wrapping_sub(self.consumer) < SLOTS
    }

    /// Records a consumer index read from the peer. Returns `false` (and
    /// ignores it) if it is impossible: ahead of the producer, or behind
    /// it by more than a ring (a peer that scribbles, or a stale read).
    pub fn update_consumer(&mut self, consumer: u32) -> bool {
        let used = self.producer.wrapping_sub(consumer);
        if used > SLOTS {
            return false;
        }
        self.consumer = consumer;
        true
    }
}

/// The receiver's view of a ring in its own memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxRing {
    /// The sender's session id last seen (0: none yet).
    pub session: u32,
    /// Messages consumed.
    pub consumer: u32,
    /// The heartbeat value last seen.
    pub heartbeat: u32,
}

/// What the receiver makes of the ring's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxCheck {
    /// Nothing from this sender yet (session 0).
    Idle,
    /// The sender's session changed: a new core on that node. The
    /// receiver's state is reset; any old peer state must be dropped.
    NewSession,
    /// `n` messages are waiting, starting at `consumer`.
    Pending(u32),
    /// The producer index is impossible (more than a ring ahead): the
    /// ring is corrupt; the receiver resyncs to it, dropping messages.
    Corrupt,
}

impl RxRing {
    /// Looks at the sender's `session` and `producer` (read in that order)
    /// and returns what to do.
    pub fn check(&mut self, session: u32, producer: u32) -> RxCheck {
        if session == 0 {
            return RxCheck::Idle;
        }
        if session != self.session {
            *self = RxRing {
                session,
                consumer: 0,
                heartbeat: 0,
            };
            return RxCheck::NewSession;
        }
        let n = producer.wrapping_sub(self.consumer);
        if n > SLOTS {
            self.consumer = producer;
            return RxCheck::Corrupt;
        }
        RxCheck::Pending(n)
    }

    /// Whether the heartbeat moved since last time (records it).
    pub fn heartbeat_moved(&mut self, heartbeat: u32) -> bool {
        let moved = heartbeat != self.heartbeat;
        self.heartbeat = heartbeat;
        moved
    }
}
