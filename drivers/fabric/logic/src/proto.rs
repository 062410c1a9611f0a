// SPDX-License-Identifier: GPL-2.0

//! Messages between the cores of two nodes: the header, the message types
//! and their payloads, encoded little-endian into a ring slot.
//!
//! ```text
//! 0x00 magic    u32  MSG_MAGIC
//! 0x04 version  u8   PROTO_VERSION of the sender
//! 0x05 kind     u8   0 request, 1 response, 2 event
//! 0x06 mtype    u16  message type (core: 1..0xff; features: 0x100 + ...)
//! 0x08 sender   u16  sender's node id
//! 0x0a target   u16  receiver's node id
//! 0x0c seq      u32  the ring index it was written at
//! 0x10 req_id   u32  request id (a response carries its request's)
//! 0x14 status   i32  responses: 0 or a negative errno
//! 0x18 len      u16  payload bytes (<= MAX_PAYLOAD)
//! 0x1a reserved u16  zero
//! 0x1c reserved u32  zero
//! 0x20 payload
//! ```
//!
//! A receiver validates every field like user input ([`decode`]): a
//! message that fails is dropped and counted, never acted on.

use super::ring::SLOT_SIZE;

/// "RSMG".
pub const MSG_MAGIC: u32 = 0x474d_5352;
/// The protocol version this code speaks.
pub const PROTO_VERSION: u8 = 1;
/// The oldest version it still understands.
pub const PROTO_MIN_VERSION: u8 = 1;
/// Bytes of the header.
pub const HEADER_SIZE: usize = 32;
/// The largest payload.
pub const MAX_PAYLOAD: usize = SLOT_SIZE - HEADER_SIZE;

/// Message kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Wants a response with the same request id.
    Request,
    /// Answers a request.
    Response,
    /// One-way.
    Event,
}

impl Kind {
    const fn to_u8(self) -> u8 {
        match self {
            Kind::Request => 0,
            Kind::Response => 1,
            Kind::Event => 2,
        }
    }
    const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Kind::Request),
            1 => Some(Kind::Response),
            2 => Some(Kind::Event),
            _ => None,
        }
    }
}

/// Core message type: hello (request and response carry a [`Hello`]).
pub const MT_HELLO: u16 = 1;
/// Core message type: ping (the response echoes the payload).
pub const MT_PING: u16 = 2;
/// Core message type: the sender's core is leaving (event, no payload).
pub const MT_BYE: u16 = 3;
/// First message type of the feature modules (each owns a range).
pub const MT_FEATURE_BASE: u16 = 0x100;

/// A message header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Sender's protocol version.
    pub version: u8,
    /// Request, response or event.
    pub kind: Kind,
    /// Message type.
    pub mtype: u16,
    /// Sender's node id.
    pub sender: u16,
    /// Receiver's node id.
    pub target: u16,
    /// Ring index it was written at.
    pub seq: u32,
    /// Request id.
    pub req_id: u32,
    /// Response status: 0 or a negative errno.
    pub status: i32,
    /// Payload bytes.
    pub len: u16,
}

/// Why a received message was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Wrong magic: not a message (stale or scribbled slot).
    Magic,
    /// A protocol version below [`PROTO_MIN_VERSION`].
    Version,
    /// Unknown kind.
    Kind,
    /// The sender field is not the ring's owner.
    Sender,
    /// The target field is not this node.
    Target,
    /// Not the message expected at this ring index.
    Sequence,
    /// Payload longer than [`MAX_PAYLOAD`].
    Length,
    /// Reserved bytes not zero.
    Reserved,
    /// The payload does not fit its message type.
    Payload,
}

fn get_u16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn get_u32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn put_u16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
}
fn put_u32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}

/// Encodes `h` and `payload` into a slot; returns the bytes to write
/// (header + payload, rounded up to 4 bytes). `None` if the payload is too
/// long.
pub fn encode(h: &Header, payload: &[u8], slot: &mut [u8; SLOT_SIZE]) -> Option<usize> {
    if payload.len() > MAX_PAYLOAD {
        return None;
    }
    slot.fill(0);
    put_u32(slot, 0x00, MSG_MAGIC);
    slot[0x04] = h.version;
    slot[0x05] = h.kind.to_u8();
    put_u16(slot, 0x06, h.mtype);
    put_u16(slot, 0x08, h.sender);
    put_u16(slot, 0x0a, h.target);
    put_u32(slot, 0x0c, h.seq);
    put_u32(slot, 0x10, h.req_id);
    put_u32(slot, 0x14, h.status as u32);
    put_u16(slot, 0x18, payload.len() as u16);
    slot[HEADER_SIZE..HEADER_SIZE + payload.len()].copy_from_slice(payload);
    Some((HEADER_SIZE + payload.len() + 3) & !3)
}

/// Decodes and validates the message in `slot`, read from the ring of
/// `sender` at index `seq` on node `me`. Returns the header; the payload
/// is `slot[HEADER_SIZE..HEADER_SIZE + len]`.
pub fn decode(
    slot: &[u8; SLOT_SIZE],
    sender: u32,
    me: u32,
    seq: u32,
) -> Result<Header, DecodeError> {
    if get_u32(slot, 0x00) != MSG_MAGIC {
        return Err(DecodeError::Magic);
    }
    let version = slot[0x04];
    if version < PROTO_MIN_VERSION {
        return Err(DecodeError::Version);
    }
    let kind = Kind::from_u8(slot[0x05]).ok_or(DecodeError::Kind)?;
    let h = Header {
        version,
        kind,
        mtype: get_u16(slot, 0x06),
        sender: get_u16(slot, 0x08),
        target: get_u16(slot, 0x0a),
        seq: get_u32(slot, 0x0c),
        req_id: get_u32(slot, 0x10),
        status: get_u32(slot, 0x14) as i32,
        len: get_u16(slot, 0x18),
    };
    if u32::from(h.sender) != sender {
        return Err(DecodeError::Sender);
    }
    if u32::from(h.target) != me {
        return Err(DecodeError::Target);
    }
    if h.seq != seq {
        return Err(DecodeError::Sequence);
    }
    if usize::from(h.len) > MAX_PAYLOAD {
        return Err(DecodeError::Length);
    }
    if get_u16(slot, 0x1a) != 0 || get_u32(slot, 0x1c) != 0 {
        return Err(DecodeError::Reserved);
    }
    if h.kind == Kind::Response && h.status > 0 {
        return Err(DecodeError::Payload);
    }
    Ok(h)
}

/// Bytes of a node name in a hello.
pub const NAME_LEN: usize = 64;

/// The hello payload: who the sender is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Highest protocol version the sender speaks.
    pub version: u32,
    /// Lowest it understands.
    pub min_version: u32,
    /// `RSIO_PEER_CAP_*`.
    pub caps: u32,
    /// The sender's session id (its rings' session).
    pub session: u32,
    /// The sender's node name, NUL-padded.
    pub name: [u8; NAME_LEN],
}

/// Bytes of an encoded [`Hello`].
pub const HELLO_SIZE: usize = 16 + NAME_LEN;

impl Hello {
    /// Encodes into `out` (`HELLO_SIZE` bytes).
    pub fn encode(&self, out: &mut [u8; HELLO_SIZE]) {
        put_u32(out, 0, self.version);
        put_u32(out, 4, self.min_version);
        put_u32(out, 8, self.caps);
        put_u32(out, 12, self.session);
        out[16..].copy_from_slice(&self.name);
    }

    /// Decodes a payload; the name is forced NUL-terminated.
    pub fn decode(p: &[u8]) -> Result<Self, DecodeError> {
        if p.len() != HELLO_SIZE {
            return Err(DecodeError::Payload);
        }
        let mut name = [0u8; NAME_LEN];
        name.copy_from_slice(&p[16..]);
        name[NAME_LEN - 1] = 0;
        let h = Hello {
            version: get_u32(p, 0),
            min_version: get_u32(p, 4),
            caps: get_u32(p, 8),
            session: get_u32(p, 12),
            name,
        };
        if h.session == 0 || h.min_version > h.version {
            return Err(DecodeError::Payload);
        }
        Ok(h)
    }

    /// The protocol version two nodes use, if they have one in common.
    pub fn common_version(&self) -> Option<u32> {
        let ours = u32::from(PROTO_VERSION);
        let v = if self.version < ours {
            self.version
        } else {
            ours
        };
        (v >= self.min_version && v >= u32::from(PROTO_MIN_VERSION)).then_some(v)
    }
}
