// SPDX-License-Identifier: GPL-2.0

//! Host tests of message encoding, decoding and validation.

use rsio_fabric_logic::proto::*;
use rsio_fabric_logic::ring::SLOT_SIZE;

const SENDER: u32 = 3;
const ME: u32 = 7;
const SEQ: u32 = 0x1234_5678;

fn header(kind: Kind, mtype: u16, len: usize) -> Header {
    Header {
        version: PROTO_VERSION,
        kind,
        mtype,
        sender: SENDER as u16,
        target: ME as u16,
        seq: SEQ,
        req_id: 0xdead_beef,
        status: 0,
        len: len as u16,
    }
}

fn encoded(h: &Header, payload: &[u8]) -> [u8; SLOT_SIZE] {
    let mut slot = [0xa5u8; SLOT_SIZE];
    encode(h, payload, &mut slot).expect("encodes");
    slot
}

fn decoded(slot: &[u8; SLOT_SIZE]) -> Result<Header, DecodeError> {
    decode(slot, SENDER, ME, SEQ)
}

#[test]
fn sizes() {
    assert_eq!(HEADER_SIZE, 32);
    assert_eq!(MAX_PAYLOAD, SLOT_SIZE - HEADER_SIZE);
    assert_eq!(MSG_MAGIC.to_le_bytes(), *b"RSMG");
    const { assert!(PROTO_MIN_VERSION <= PROTO_VERSION) };
    const { assert!(HELLO_SIZE <= MAX_PAYLOAD) };
}

#[test]
fn round_trip_each_kind() {
    let payload = b"hello, fabric";
    for kind in [Kind::Request, Kind::Response, Kind::Event] {
        for mtype in [MT_HELLO, MT_PING, MT_BYE, MT_FEATURE_BASE, u16::MAX] {
            let mut h = header(kind, mtype, payload.len());
            if kind == Kind::Response {
                h.status = -22;
            }
            let slot = encoded(&h, payload);
            let got = decoded(&slot).unwrap();
            assert_eq!(got, h);
            assert_eq!(
                &slot[HEADER_SIZE..HEADER_SIZE + usize::from(got.len)],
                payload
            );
        }
    }
}

#[test]
fn wire_layout() {
    let mut h = header(Kind::Response, 0x0102, 3);
    h.status = -5;
    let slot = encoded(&h, &[9, 8, 7]);
    assert_eq!(&slot[0x00..0x04], b"RSMG");
    assert_eq!(slot[0x04], PROTO_VERSION);
    assert_eq!(slot[0x05], 1);
    assert_eq!(&slot[0x06..0x08], &[0x02, 0x01]);
    assert_eq!(&slot[0x08..0x0a], &(SENDER as u16).to_le_bytes());
    assert_eq!(&slot[0x0a..0x0c], &(ME as u16).to_le_bytes());
    assert_eq!(&slot[0x0c..0x10], &SEQ.to_le_bytes());
    assert_eq!(&slot[0x10..0x14], &0xdead_beefu32.to_le_bytes());
    assert_eq!(&slot[0x14..0x18], &(-5i32).to_le_bytes());
    assert_eq!(&slot[0x18..0x1a], &[3, 0]);
    assert_eq!(&slot[0x1a..0x20], &[0; 6]);
    assert_eq!(&slot[0x20..0x23], &[9, 8, 7]);
    // The rest of the slot is cleared, not left over from before.
    assert!(slot[0x23..].iter().all(|&b| b == 0));
    assert_eq!(Kind::Request, {
        let s = encoded(&header(Kind::Request, 1, 0), &[]);
        assert_eq!(s[0x05], 0);
        decoded(&s).unwrap().kind
    });
    let s = encoded(&header(Kind::Event, 1, 0), &[]);
    assert_eq!(s[0x05], 2);
}

#[test]
fn empty_and_max_payload() {
    let h = header(Kind::Event, MT_BYE, 0);
    let mut slot = [0u8; SLOT_SIZE];
    assert_eq!(encode(&h, &[], &mut slot), Some(HEADER_SIZE));
    assert_eq!(decoded(&slot).unwrap().len, 0);

    let payload = [0x5au8; MAX_PAYLOAD];
    let h = header(Kind::Request, MT_PING, MAX_PAYLOAD);
    assert_eq!(encode(&h, &payload, &mut slot), Some(SLOT_SIZE));
    let got = decoded(&slot).unwrap();
    assert_eq!(usize::from(got.len), MAX_PAYLOAD);
    assert_eq!(&slot[HEADER_SIZE..], &payload[..]);
}

#[test]
fn encode_refuses_oversize_payload() {
    let payload = [1u8; MAX_PAYLOAD + 1];
    let h = header(Kind::Request, MT_PING, 0);
    let mut slot = [0x77u8; SLOT_SIZE];
    assert_eq!(encode(&h, &payload, &mut slot), None);
    // Nothing was written.
    assert!(slot.iter().all(|&b| b == 0x77));
}

#[test]
fn encoded_length_rounds_to_4() {
    let mut slot = [0u8; SLOT_SIZE];
    for n in 0..=MAX_PAYLOAD {
        let payload = [0u8; MAX_PAYLOAD];
        let h = header(Kind::Event, MT_FEATURE_BASE, n);
        let len = encode(&h, &payload[..n], &mut slot).unwrap();
        assert_eq!(len % 4, 0, "payload {n}");
        assert!(
            len >= HEADER_SIZE + n && len < HEADER_SIZE + n + 4,
            "payload {n}"
        );
        assert!(len <= SLOT_SIZE);
        assert_eq!(usize::from(decoded(&slot).unwrap().len), n);
    }
    let h = header(Kind::Event, MT_FEATURE_BASE, 1);
    assert_eq!(encode(&h, &[1], &mut slot), Some(HEADER_SIZE + 4));
    let h = header(Kind::Event, MT_FEATURE_BASE, 4);
    assert_eq!(encode(&h, &[1; 4], &mut slot), Some(HEADER_SIZE + 4));
    let h = header(Kind::Event, MT_FEATURE_BASE, 5);
    assert_eq!(encode(&h, &[1; 5], &mut slot), Some(HEADER_SIZE + 8));
}

#[test]
fn encode_takes_the_length_from_the_payload() {
    // A header whose len disagrees with the payload: the payload wins.
    let h = header(Kind::Event, MT_FEATURE_BASE, 200);
    let slot = encoded(&h, &[1, 2]);
    assert_eq!(decoded(&slot).unwrap().len, 2);
}

fn good() -> [u8; SLOT_SIZE] {
    encoded(&header(Kind::Request, MT_PING, 4), &[1, 2, 3, 4])
}

#[test]
fn decode_error_magic() {
    let mut s = good();
    s[0] ^= 1;
    assert_eq!(decoded(&s), Err(DecodeError::Magic));
    assert_eq!(decoded(&[0; SLOT_SIZE]), Err(DecodeError::Magic));
    assert_eq!(decoded(&[0xff; SLOT_SIZE]), Err(DecodeError::Magic));
}

#[test]
fn decode_error_version() {
    let mut s = good();
    s[0x04] = PROTO_MIN_VERSION - 1;
    assert_eq!(decoded(&s), Err(DecodeError::Version));
    // Newer senders are decoded (the hello picks the common version).
    s[0x04] = PROTO_VERSION + 1;
    assert_eq!(decoded(&s).unwrap().version, PROTO_VERSION + 1);
    s[0x04] = u8::MAX;
    assert!(decoded(&s).is_ok());
}

#[test]
fn decode_error_kind() {
    for k in [3u8, 4, 0x7f, 0xff] {
        let mut s = good();
        s[0x05] = k;
        assert_eq!(decoded(&s), Err(DecodeError::Kind), "kind {k}");
    }
}

#[test]
fn decode_error_sender() {
    let s = good();
    assert_eq!(decode(&s, SENDER + 1, ME, SEQ), Err(DecodeError::Sender));
    assert_eq!(
        decode(&s, SENDER + 0x1_0000, ME, SEQ),
        Err(DecodeError::Sender)
    );
    let mut s = good();
    s[0x09] = 1;
    assert_eq!(decoded(&s), Err(DecodeError::Sender));
}

#[test]
fn decode_error_target() {
    let s = good();
    assert_eq!(decode(&s, SENDER, ME + 1, SEQ), Err(DecodeError::Target));
    assert_eq!(
        decode(&s, SENDER, ME + 0x1_0000, SEQ),
        Err(DecodeError::Target)
    );
}

#[test]
fn decode_error_sequence() {
    let s = good();
    assert_eq!(decode(&s, SENDER, ME, SEQ + 1), Err(DecodeError::Sequence));
    assert_eq!(decode(&s, SENDER, ME, SEQ - 15), Err(DecodeError::Sequence));
}

#[test]
fn decode_error_length() {
    let mut s = good();
    s[0x18..0x1a].copy_from_slice(&(MAX_PAYLOAD as u16 + 1).to_le_bytes());
    assert_eq!(decoded(&s), Err(DecodeError::Length));
    s[0x18..0x1a].copy_from_slice(&u16::MAX.to_le_bytes());
    assert_eq!(decoded(&s), Err(DecodeError::Length));
    s[0x18..0x1a].copy_from_slice(&(MAX_PAYLOAD as u16).to_le_bytes());
    assert!(decoded(&s).is_ok());
}

#[test]
fn decode_error_reserved() {
    for i in 0x1a..0x20 {
        let mut s = good();
        s[i] = 1;
        assert_eq!(decoded(&s), Err(DecodeError::Reserved), "byte {i:#x}");
    }
}

#[test]
fn decode_error_positive_status_in_response() {
    for status in [1, 22, i32::MAX] {
        let mut h = header(Kind::Response, MT_PING, 0);
        h.status = status;
        let s = encoded(&h, &[]);
        assert_eq!(decoded(&s), Err(DecodeError::Payload), "status {status}");
    }
    for status in [0, -1, -125, i32::MIN] {
        let mut h = header(Kind::Response, MT_PING, 0);
        h.status = status;
        let s = encoded(&h, &[]);
        assert_eq!(decoded(&s).unwrap().status, status);
    }
}

#[test]
fn decode_checks_in_order() {
    // Everything wrong at once: the magic is reported first.
    let mut s = [0xffu8; SLOT_SIZE];
    assert_eq!(decode(&s, 0, 0, 0), Err(DecodeError::Magic));
    s[0..4].copy_from_slice(b"RSMG");
    s[0x04] = 0;
    assert_eq!(decode(&s, 0, 0, 0), Err(DecodeError::Version));
    s[0x04] = PROTO_VERSION;
    assert_eq!(decode(&s, 0, 0, 0), Err(DecodeError::Kind));
    s[0x05] = 1;
    assert_eq!(decode(&s, 0, 0, 0), Err(DecodeError::Sender));
    assert_eq!(decode(&s, 0xffff, 0, 0), Err(DecodeError::Target));
    assert_eq!(decode(&s, 0xffff, 0xffff, 0), Err(DecodeError::Sequence));
    assert_eq!(
        decode(&s, 0xffff, 0xffff, u32::MAX),
        Err(DecodeError::Length)
    );
    s[0x18..0x1a].copy_from_slice(&[0, 0]);
    assert_eq!(
        decode(&s, 0xffff, 0xffff, u32::MAX),
        Err(DecodeError::Reserved)
    );
    s[0x1a..0x20].fill(0);
    // A response with status -1 (0xffffffff) is fine.
    let h = decode(&s, 0xffff, 0xffff, u32::MAX).unwrap();
    assert_eq!(h.status, -1);
    assert_eq!(h.kind, Kind::Response);
}

fn name(s: &str) -> [u8; NAME_LEN] {
    let mut n = [0u8; NAME_LEN];
    n[..s.len()].copy_from_slice(s.as_bytes());
    n
}

fn hello() -> Hello {
    Hello {
        version: 1,
        min_version: 1,
        caps: 0x8000_0003,
        session: 0xcafe_f00d,
        name: name("node-a"),
    }
}

#[test]
fn hello_round_trip() {
    let h = hello();
    let mut out = [0u8; HELLO_SIZE];
    h.encode(&mut out);
    assert_eq!(&out[0..4], &1u32.to_le_bytes());
    assert_eq!(&out[4..8], &1u32.to_le_bytes());
    assert_eq!(&out[8..12], &0x8000_0003u32.to_le_bytes());
    assert_eq!(&out[12..16], &0xcafe_f00du32.to_le_bytes());
    assert_eq!(&out[16..22], b"node-a");
    assert_eq!(Hello::decode(&out), Ok(h));
}

#[test]
fn hello_in_a_message() {
    let h = hello();
    let mut p = [0u8; HELLO_SIZE];
    h.encode(&mut p);
    let slot = encoded(&header(Kind::Request, MT_HELLO, HELLO_SIZE), &p);
    let hdr = decoded(&slot).unwrap();
    let payload = &slot[HEADER_SIZE..HEADER_SIZE + usize::from(hdr.len)];
    assert_eq!(Hello::decode(payload), Ok(h));
}

#[test]
fn hello_name_forced_nul_terminated() {
    let mut h = hello();
    h.name = [b'x'; NAME_LEN];
    let mut out = [0u8; HELLO_SIZE];
    h.encode(&mut out);
    assert_eq!(out[HELLO_SIZE - 1], b'x');
    let got = Hello::decode(&out).unwrap();
    assert_eq!(got.name[NAME_LEN - 1], 0);
    assert!(got.name[..NAME_LEN - 1].iter().all(|&b| b == b'x'));
    // A name of NAME_LEN - 1 bytes survives whole.
    h.name = [b'y'; NAME_LEN];
    h.name[NAME_LEN - 1] = 0;
    h.encode(&mut out);
    assert_eq!(Hello::decode(&out).unwrap().name, h.name);
}

#[test]
fn hello_wrong_size_refused() {
    let mut out = [0u8; HELLO_SIZE + 1];
    hello().encode((&mut out[..HELLO_SIZE]).try_into().unwrap());
    assert_eq!(
        Hello::decode(&out[..HELLO_SIZE - 1]),
        Err(DecodeError::Payload)
    );
    assert_eq!(Hello::decode(&out), Err(DecodeError::Payload));
    assert_eq!(Hello::decode(&[]), Err(DecodeError::Payload));
    assert!(Hello::decode(&out[..HELLO_SIZE]).is_ok());
}

#[test]
fn hello_session_zero_refused() {
    let mut h = hello();
    h.session = 0;
    let mut out = [0u8; HELLO_SIZE];
    h.encode(&mut out);
    assert_eq!(Hello::decode(&out), Err(DecodeError::Payload));
}

#[test]
fn hello_min_above_version_refused() {
    let mut h = hello();
    h.version = 2;
    h.min_version = 3;
    let mut out = [0u8; HELLO_SIZE];
    h.encode(&mut out);
    assert_eq!(Hello::decode(&out), Err(DecodeError::Payload));
    h.min_version = 2;
    h.encode(&mut out);
    assert_eq!(Hello::decode(&out), Ok(h));
}

#[test]
fn common_version() {
    let ours = u32::from(PROTO_VERSION);
    let min = u32::from(PROTO_MIN_VERSION);
    let v = |version, min_version| {
        Hello {
            version,
            min_version,
            ..hello()
        }
        .common_version()
    };
    // Same range.
    assert_eq!(v(ours, min), Some(ours));
    // A newer peer that still speaks ours.
    assert_eq!(v(ours + 5, min), Some(ours));
    assert_eq!(v(u32::MAX, ours), Some(ours));
    // A newer peer that no longer speaks ours.
    assert_eq!(v(ours + 5, ours + 1), None);
    assert_eq!(v(u32::MAX, u32::MAX), None);
    // An older peer below our minimum.
    if min > 0 {
        assert_eq!(v(min - 1, 0), None);
    }
    assert_eq!(v(0, 0), None);
}
