// SPDX-License-Identifier: GPL-2.0

//! Host tests of the fabric messages: every codec's round trip and wire
//! layout, each malformation, and the semantic checks.

use rsio_nvme_share_logic::policy::{ACCESS_RO, POLICY_ASSIGNED, POLICY_RO};
use rsio_nvme_share_logic::proto::*;

/// The codec of one message, for the properties shared by all.
trait Msg: Sized + Copy + PartialEq + core::fmt::Debug {
    const LEN: usize;
    fn enc(&self) -> Vec<u8>;
    fn dec(b: &[u8]) -> Result<Self, Bad>;
}

macro_rules! msg {
    ($($t:ty),*) => {$(
        impl Msg for $t {
            const LEN: usize = <$t>::LEN;
            fn enc(&self) -> Vec<u8> {
                self.encode().to_vec()
            }
            fn dec(b: &[u8]) -> Result<Self, Bad> {
                <$t>::decode(b)
            }
        }
    )*};
}
msg!(
    Announce,
    CtrlEvent,
    Revoke,
    Hung,
    AttachReq,
    AttachReply,
    Ref,
    NsInfoReq,
    NsInfo,
    CreateQpair,
    QpairRef,
    GetLogReq,
    GetFeatureReq,
    FeatureReply,
    StatusReply
);

/// Round trip, exact length (one byte shorter or longer, empty and
/// doubled are refused), and every byte string that decodes re-encodes
/// to itself (no two encodings of one message).
fn codec<M: Msg>(m: M) {
    let b = m.enc();
    assert_eq!(b.len(), M::LEN);
    assert_eq!(M::dec(&b), Ok(m));
    assert_eq!(M::dec(&b[..M::LEN - 1]), Err(Bad::Length));
    let mut longer = b.clone();
    longer.push(0);
    assert_eq!(M::dec(&longer), Err(Bad::Length), "a later version");
    assert_eq!(M::dec(&[]), Err(Bad::Length));
    assert_eq!(M::dec(&[b.clone(), b.clone()].concat()), Err(Bad::Length));
    // Single-byte changes: decode or refuse, never a different encoding.
    for i in 0..M::LEN {
        for v in [0u8, 1, 0x80, 0xff] {
            let mut c = b.clone();
            c[i] = v;
            if let Ok(d) = M::dec(&c) {
                assert_eq!(d.enc(), c, "byte {i} = {v:#x}");
            }
        }
    }
    // Pseudo-random payloads of every length up to LEN + 8.
    let mut seed = 0x9e37_79b9u32;
    for len in 0..=M::LEN + 8 {
        for _ in 0..64 {
            let c: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (seed >> 24) as u8
                })
                .collect();
            match M::dec(&c) {
                Ok(d) => assert_eq!(d.enc(), c),
                Err(Bad::Length) => assert_ne!(len, M::LEN),
                Err(_) => assert_eq!(len, M::LEN),
            }
        }
    }
}

fn announce() -> Announce {
    let mut serial = [b' '; 20];
    serial[..8].copy_from_slice(b"deadbeef");
    let mut model = [b' '; 40];
    model[..14].copy_from_slice(b"QEMU NVMe Ctrl");
    Announce {
        ctrl: 0x0002_0001,
        gen: 3,
        state: STATE_READY,
        flags: ANNOUNCE_IOMMU,
        nn: 2,
        qpairs_total: 64,
        qpairs_free: 60,
        quota: 4,
        domain: 0,
        bus: 0,
        devfn: 4 << 3,
        serial,
        model,
    }
}

fn attach_reply() -> AttachReply {
    AttachReply {
        attach: 7,
        gen: 3,
        dma_base: 0x80_0000_0000,
        dma_span: 1 << 32,
        db_window: 0x1000,
        db_len: 4096,
        dstrd: 0,
        mqes: 2047,
        max_transfer: 512 * 1024,
        vwc: 7,
        oncs: 0x15d,
        sgls: 1,
        nn: 2,
        granted: 4,
        qids: 0xf0,
    }
}

fn ns_info() -> NsInfo {
    NsInfo {
        nsid: 1,
        lbads: 9,
        nsze: 0x20_0000,
        nguid: [0x11; 16],
        policy: POLICY_ASSIGNED,
        policy_node: 2,
        policy_flags: POLICY_RO,
        access: ACCESS_RO,
    }
}

fn create() -> CreateQpair {
    CreateQpair {
        ctrl: 0x0002_0001,
        attach: 7,
        gen: 3,
        qid: 5,
        vector: 1,
        sq_entries: 64,
        cq_entries: 128,
        sq_addr: 0x2345_6000,
        cq_addr: 0x2345_8000,
    }
}

fn get_log() -> GetLogReq {
    GetLogReq {
        ctrl: 0x0002_0001,
        attach: 7,
        lid: 0x02,
        nsid: 0xffff_ffff,
        offset: 0,
        len: 192,
    }
}

#[test]
fn types() {
    assert_eq!((MT_FIRST, MT_COUNT), (0x400, 0x20));
    let all = [
        (LIST_REQ, 0x400, 0),
        (CTRL_ANNOUNCE, 0x401, Announce::LEN),
        (CTRL_GONE, 0x402, CtrlEvent::LEN),
        (CTRL_RESET, 0x403, CtrlEvent::LEN),
        (CTRL_READY, 0x404, CtrlEvent::LEN),
        (REVOKE, 0x405, Revoke::LEN),
        (CLIENT_HUNG, 0x406, Hung::LEN),
        (ATTACH, 0x410, AttachReq::LEN),
        (DETACH, 0x411, Ref::LEN),
        (NS_INFO, 0x412, NsInfoReq::LEN),
        (CREATE_QPAIR, 0x413, CreateQpair::LEN),
        (DELETE_QPAIR, 0x414, QpairRef::LEN),
        (ABORT, 0x415, QpairRef::LEN),
        (GET_LOG, 0x416, GetLogReq::LEN),
        (GET_FEATURE, 0x417, GetFeatureReq::LEN),
    ];
    for (t, v, len) in all {
        assert_eq!(t, v);
        assert!(is_ours(t));
        assert_eq!(payload_len(t), Some(len), "{t:#x}");
    }
    let known: Vec<u16> = all.iter().map(|a| a.0).collect();
    for t in 0..=u16::MAX {
        assert_eq!(is_ours(t), (0x400..0x420).contains(&t), "{t:#x}");
        if !known.contains(&t) {
            assert_eq!(payload_len(t), None, "{t:#x}");
        }
    }
}

#[test]
fn lengths() {
    assert_eq!(Announce::LEN, 104);
    assert_eq!(CtrlEvent::LEN, 8);
    assert_eq!(Revoke::LEN, 12);
    assert_eq!(Hung::LEN, 16);
    assert_eq!(AttachReq::LEN, 16);
    assert_eq!(AttachReply::LEN, 72);
    assert_eq!(Ref::LEN, 8);
    assert_eq!(NsInfoReq::LEN, 16);
    assert_eq!(NsInfo::LEN, 48);
    assert_eq!(CreateQpair::LEN, 40);
    assert_eq!(QpairRef::LEN, 16);
    assert_eq!(GetLogReq::LEN, 24);
    assert_eq!(GetFeatureReq::LEN, 16);
    assert_eq!(FeatureReply::LEN, 4);
    assert_eq!(StatusReply::LEN, 4);
}

#[test]
fn announce_codec() {
    let m = announce();
    codec(m);
    let b = m.encode();
    assert_eq!(&b[0..4], &0x0002_0001u32.to_le_bytes());
    assert_eq!(&b[0x08..0x0c], &STATE_READY.to_le_bytes());
    assert_eq!(&b[0x14..0x18], &64u32.to_le_bytes());
    assert_eq!(&b[0x28..0x2c], &0x20u32.to_le_bytes());
    assert_eq!(&b[0x2c..0x34], b"deadbeef");
    assert_eq!(&b[0x40..0x4e], b"QEMU NVMe Ctrl");
    for state in [STATE_READY, STATE_RESETTING, STATE_FAILED, STATE_GONE] {
        codec(Announce { state, ..m });
    }
    codec(Announce {
        flags: 0,
        qpairs_free: 0,
        quota: 0,
        qpairs_total: 0,
        ..m
    });
    codec(Announce {
        domain: 0xffff,
        bus: 0xff,
        devfn: 0xff,
        quota: 16,
        ..m
    });

    let bad = |a: Announce| Announce::decode(&a.encode());
    assert_eq!(bad(Announce { state: 0, ..m }), Err(Bad::Value));
    assert_eq!(bad(Announce { state: 5, ..m }), Err(Bad::Value));
    assert_eq!(bad(Announce { flags: 2, ..m }), Err(Bad::Flags));
    assert_eq!(
        bad(Announce {
            flags: 1 << 31,
            ..m
        }),
        Err(Bad::Flags)
    );
    assert_eq!(
        bad(Announce {
            qpairs_total: 65,
            qpairs_free: 0,
            ..m
        }),
        Err(Bad::Value)
    );
    assert_eq!(
        bad(Announce {
            qpairs_free: 65,
            ..m
        }),
        Err(Bad::Value)
    );
    assert_eq!(bad(Announce { quota: 17, ..m }), Err(Bad::Value));
    assert_eq!(
        bad(Announce {
            domain: 0x1_0000,
            ..m
        }),
        Err(Bad::Value)
    );
    assert_eq!(bad(Announce { bus: 0x100, ..m }), Err(Bad::Value));
    assert_eq!(bad(Announce { devfn: 0x100, ..m }), Err(Bad::Value));
}

#[test]
fn small_events() {
    let e = CtrlEvent {
        ctrl: 0x0001_0002,
        value: 9,
    };
    codec(e);
    assert_eq!(e.encode(), [2, 0, 1, 0, 9, 0, 0, 0]);
    codec(CtrlEvent {
        ctrl: u32::MAX,
        value: u32::MAX,
    });

    let r = Revoke {
        ctrl: 1,
        attach: 2,
        reason: 3,
    };
    codec(r);
    assert_eq!(r.encode(), [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);

    let h = Hung {
        ctrl: 1,
        attach: 2,
        gen: 3,
        qid: 0x0405,
        cid: 0x0607,
    };
    codec(h);
    assert_eq!(h.encode(), [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 5, 4, 7, 6]);

    let d = Ref {
        ctrl: 0x0102_0304,
        attach: 5,
    };
    codec(d);
    assert_eq!(d.encode(), [4, 3, 2, 1, 5, 0, 0, 0]);
}

#[test]
fn attach_codec() {
    let q = AttachReq {
        ctrl: 0x0002_0001,
        qpairs: 4,
        flags: ATTACH_RO,
    };
    codec(q);
    assert_eq!(&q.encode()[8..16], &[1, 0, 0, 0, 0, 0, 0, 0]);
    codec(AttachReq {
        qpairs: 0,
        flags: 0,
        ..q
    });
    codec(AttachReq { qpairs: 16, ..q });
    assert_eq!(
        AttachReq::decode(&AttachReq { qpairs: 17, ..q }.encode()),
        Err(Bad::Value)
    );
    assert_eq!(
        AttachReq::decode(&AttachReq { flags: 2, ..q }.encode()),
        Err(Bad::Flags)
    );
    for i in 12..16 {
        let mut b = q.encode();
        b[i] = 1;
        assert_eq!(AttachReq::decode(&b), Err(Bad::Reserved));
    }

    let r = attach_reply();
    codec(r);
    let b = r.encode();
    assert_eq!(&b[0x08..0x10], &0x80_0000_0000u64.to_le_bytes());
    assert_eq!(&b[0x10..0x18], &(1u64 << 32).to_le_bytes());
    assert_eq!(&b[0x24..0x28], &2047u32.to_le_bytes());
    assert_eq!(&b[0x3c..0x40], &4u32.to_le_bytes());
    assert_eq!(&b[0x40..0x48], &0xf0u64.to_le_bytes());
    codec(AttachReply {
        granted: 0,
        qids: 0,
        dma_span: 1,
        ..r
    });
    codec(AttachReply {
        granted: 16,
        qids: 0xffff << 48,
        dma_span: 1 << 63,
        dstrd: 15,
        mqes: 0xffff,
        ..r
    });

    let bad = |a: AttachReply| AttachReply::decode(&a.encode());
    assert_eq!(bad(AttachReply { granted: 3, ..r }), Err(Bad::Value));
    assert_eq!(bad(AttachReply { granted: 5, ..r }), Err(Bad::Value));
    assert_eq!(
        bad(AttachReply {
            granted: 17,
            qids: 0x1_ffff,
            ..r
        }),
        Err(Bad::Value)
    );
    assert_eq!(bad(AttachReply { dma_span: 0, ..r }), Err(Bad::Value));
    assert_eq!(
        bad(AttachReply {
            dma_base: u64::MAX - 0xfff,
            dma_span: 1 << 20,
            ..r
        }),
        Err(Bad::Value)
    );
    assert_eq!(
        bad(AttachReply {
            dma_span: 3 << 30,
            ..r
        }),
        Err(Bad::Value)
    );
    assert_eq!(bad(AttachReply { dstrd: 16, ..r }), Err(Bad::Value));
    assert_eq!(
        bad(AttachReply {
            mqes: 0x1_0000,
            ..r
        }),
        Err(Bad::Value)
    );
}

#[test]
fn ns_info_codec() {
    let q = NsInfoReq {
        ctrl: 1,
        attach: 2,
        index: 31,
    };
    codec(q);
    for i in 12..16 {
        let mut b = q.encode();
        b[i] = 0x80;
        assert_eq!(NsInfoReq::decode(&b), Err(Bad::Reserved));
    }

    let n = ns_info();
    codec(n);
    let b = n.encode();
    assert_eq!(&b[0x08..0x10], &0x20_0000u64.to_le_bytes());
    assert_eq!(&b[0x10..0x20], &[0x11; 16]);
    assert_eq!(&b[0x20..0x24], &POLICY_ASSIGNED.to_le_bytes());
    assert_eq!(&b[0x2c..0x30], &ACCESS_RO.to_le_bytes());
    for lbads in 9..=16 {
        codec(NsInfo { lbads, ..n });
    }
    for access in 0..=2 {
        codec(NsInfo {
            access,
            policy: 0,
            policy_node: 0,
            policy_flags: 0,
            ..n
        });
    }
    let bad = |m: NsInfo| NsInfo::decode(&m.encode());
    assert_eq!(bad(NsInfo { nsid: 0, ..n }), Err(Bad::Value));
    assert_eq!(bad(NsInfo { lbads: 8, ..n }), Err(Bad::Value));
    assert_eq!(bad(NsInfo { lbads: 17, ..n }), Err(Bad::Value));
    assert_eq!(bad(NsInfo { policy: 2, ..n }), Err(Bad::Value));
    assert_eq!(bad(NsInfo { access: 3, ..n }), Err(Bad::Value));
    assert_eq!(
        bad(NsInfo {
            policy_flags: 2,
            ..n
        }),
        Err(Bad::Flags)
    );
}

#[test]
fn qpair_codecs() {
    let c = create();
    codec(c);
    let b = c.encode();
    assert_eq!(&b[0x0c..0x10], &[5, 0, 1, 0]);
    assert_eq!(&b[0x10..0x18], &[64, 0, 0, 0, 128, 0, 0, 0]);
    assert_eq!(&b[0x18..0x20], &0x2345_6000u64.to_le_bytes());
    assert_eq!(&b[0x20..0x28], &0x2345_8000u64.to_le_bytes());
    codec(CreateQpair { vector: 31, ..c });
    // Out-of-range fields other than the vector are check_create's.
    codec(CreateQpair {
        qid: 0,
        sq_entries: 0,
        sq_addr: 1,
        ..c
    });
    assert_eq!(
        CreateQpair::decode(&CreateQpair { vector: 32, ..c }.encode()),
        Err(Bad::Value)
    );
    assert_eq!(
        CreateQpair::decode(
            &CreateQpair {
                vector: u16::MAX,
                ..c
            }
            .encode()
        ),
        Err(Bad::Value)
    );

    let r = QpairRef {
        ctrl: 1,
        attach: 2,
        gen: 3,
        qid: 4,
        cid: 0x3005,
    };
    codec(r);
    assert_eq!(&r.encode()[12..16], &[4, 0, 5, 0x30]);
    codec(QpairRef { cid: 0, ..r });
}

#[test]
fn admin_request_codecs() {
    let l = get_log();
    codec(l);
    let b = l.encode();
    assert_eq!(&b[8..12], &[2, 0, 0, 0]);
    assert_eq!(&b[12..16], &[0xff; 4]);
    assert_eq!(&b[20..24], &192u32.to_le_bytes());
    for len in (4..=192).step_by(4) {
        codec(GetLogReq {
            len,
            offset: 4 * len,
            ..l
        });
    }
    let bad = |m: GetLogReq| GetLogReq::decode(&m.encode());
    for len in [0, 1, 2, 3, 5, 191, 196, u32::MAX] {
        assert_eq!(bad(GetLogReq { len, ..l }), Err(Bad::Value), "len {len}");
    }
    for offset in [1, 2, 3, 0x201] {
        assert_eq!(
            bad(GetLogReq { offset, ..l }),
            Err(Bad::Value),
            "offset {offset}"
        );
    }
    for i in 9..12 {
        let mut b = l.encode();
        b[i] = 1;
        assert_eq!(GetLogReq::decode(&b), Err(Bad::Reserved));
    }

    let f = GetFeatureReq {
        ctrl: 1,
        attach: 2,
        fid: 0x07,
        nsid: 0,
    };
    codec(f);
    assert_eq!(&f.encode()[8..16], &[7, 0, 0, 0, 0, 0, 0, 0]);
    for i in 9..12 {
        let mut b = f.encode();
        b[i] = 1;
        assert_eq!(GetFeatureReq::decode(&b), Err(Bad::Reserved));
    }

    codec(FeatureReply { dw0: 0x003f_003f });
    assert_eq!(FeatureReply { dw0: 0x0102_0304 }.encode(), [4, 3, 2, 1]);

    let s = StatusReply { status: 0x4281 };
    codec(s);
    assert_eq!(s.encode(), [0x81, 0x42, 0, 0]);
    codec(StatusReply { status: 0x7fff });
    assert_eq!(StatusReply::decode(&[0, 0x80, 0, 0]), Err(Bad::Value));
    assert_eq!(StatusReply::decode(&[0, 0, 1, 0]), Err(Bad::Reserved));
    assert_eq!(StatusReply::decode(&[0, 0, 0, 1]), Err(Bad::Reserved));
}

const SPAN: u64 = 1 << 32;
const GRANTED: u64 = 0xf0; // qids 5..=8

fn chk(c: CreateQpair) -> Result<(), Refusal> {
    check_create(&c, 3, GRANTED, 2047, SPAN)
}

#[test]
fn create_checks() {
    let c = create();
    assert_eq!(chk(c), Ok(()));
    // Generation first: a stale request is refused as such, whatever else.
    assert_eq!(chk(CreateQpair { gen: 2, ..c }), Err(Refusal::Stale));
    assert_eq!(
        chk(CreateQpair {
            gen: 4,
            qid: 0,
            vector: 40,
            ..c
        }),
        Err(Refusal::Stale)
    );

    for qid in [5, 6, 7, 8] {
        assert_eq!(chk(CreateQpair { qid, ..c }), Ok(()));
    }
    for qid in [0, 1, 4, 9, 64, 65, u16::MAX] {
        assert_eq!(
            chk(CreateQpair { qid, ..c }),
            Err(Refusal::NotGranted),
            "qid {qid}"
        );
    }
    assert_eq!(
        check_create(&CreateQpair { qid: 64, ..c }, 3, 1 << 63, 2047, SPAN),
        Ok(())
    );
    assert_eq!(
        check_create(&CreateQpair { qid: 1, ..c }, 3, 1, 2047, SPAN),
        Ok(())
    );

    // Entries: 2..=MQES+1, CQ at least SQ.
    let e = |sq: u32, cq: u32, mqes: u16| {
        check_create(
            &CreateQpair {
                sq_entries: sq,
                cq_entries: cq,
                ..c
            },
            3,
            GRANTED,
            mqes,
            SPAN,
        )
    };
    assert_eq!(e(2, 2, 1), Ok(()));
    assert_eq!(e(64, 64, 63), Ok(()));
    assert_eq!(e(64, 128, 127), Ok(()));
    assert_eq!(e(65536, 65536, u16::MAX), Ok(()));
    assert_eq!(e(1, 2, 2047), Err(Refusal::BadEntries));
    assert_eq!(e(2, 1, 2047), Err(Refusal::BadEntries));
    assert_eq!(e(0, 0, 2047), Err(Refusal::BadEntries));
    assert_eq!(e(64, 128, 126), Err(Refusal::BadEntries));
    assert_eq!(e(129, 128, 2047), Err(Refusal::BadEntries));
    assert_eq!(e(2, 2, 0), Err(Refusal::BadEntries));
    assert_eq!(e(u32::MAX, u32::MAX, u16::MAX), Err(Refusal::BadEntries));

    // Addresses: page aligned, inside the span.
    let a = |sq: u64, cq: u64| {
        chk(CreateQpair {
            sq_addr: sq,
            cq_addr: cq,
            ..c
        })
    };
    assert_eq!(a(0, 0x1000), Ok(()));
    assert_eq!(a(0x1008, 0x2000), Err(Refusal::BadAddress));
    assert_eq!(a(0x1000, 0x2800), Err(Refusal::BadAddress));
    // 64 × 64 B = one page, 128 × 16 B = 2 KiB: ending exactly at the span.
    assert_eq!(a(SPAN - 0x1000, SPAN - 0x1000), Ok(()));
    assert_eq!(a(SPAN, 0), Err(Refusal::BadAddress));
    assert_eq!(a(0, SPAN), Err(Refusal::BadAddress));
    assert_eq!(a(!0xfffu64, 0), Err(Refusal::BadAddress));
    assert_eq!(a(0, !0xfffu64), Err(Refusal::BadAddress));
    assert_eq!(
        check_create(&c, 3, GRANTED, 2047, u64::MAX),
        Ok(()),
        "no overflow with the largest span"
    );
    let big = CreateQpair {
        sq_entries: 65536,
        cq_entries: 65536,
        sq_addr: 0,
        cq_addr: 0x40_0000,
        ..c
    };
    assert_eq!(check_create(&big, 3, GRANTED, u16::MAX, 0x50_0000), Ok(()));
    assert_eq!(
        check_create(&big, 3, GRANTED, u16::MAX, 0x40_0000),
        Err(Refusal::BadAddress)
    );

    // The vector last.
    assert_eq!(chk(CreateQpair { vector: 31, ..c }), Ok(()));
    assert_eq!(
        chk(CreateQpair { vector: 32, ..c }),
        Err(Refusal::BadVector)
    );
    assert_eq!(
        chk(CreateQpair {
            vector: 32,
            sq_addr: 1,
            ..c
        }),
        Err(Refusal::BadAddress),
        "checked in order"
    );
}

#[test]
fn other_checks() {
    assert!(qid_granted(1, 1));
    assert!(qid_granted(64, 1 << 63));
    assert!(!qid_granted(0, u64::MAX));
    assert!(!qid_granted(65, u64::MAX));
    assert!(!qid_granted(2, 1));

    assert_eq!(check_qpair(3, 5, 3, GRANTED), Ok(()));
    assert_eq!(check_qpair(2, 5, 3, GRANTED), Err(Refusal::Stale));
    assert_eq!(check_qpair(2, 0, 3, GRANTED), Err(Refusal::Stale));
    assert_eq!(check_qpair(3, 4, 3, GRANTED), Err(Refusal::NotGranted));
    assert_eq!(check_qpair(3, 0, 3, GRANTED), Err(Refusal::NotGranted));

    let l = get_log();
    assert_eq!(check_get_log(&l), Ok(()));
    for lid in [0x01, 0x03] {
        assert_eq!(check_get_log(&GetLogReq { lid, ..l }), Ok(()));
    }
    for lid in [0x00, 0x04, 0x05, 0x80, 0xc0, 0xff] {
        assert_eq!(
            check_get_log(&GetLogReq { lid, ..l }),
            Err(Refusal::NotAllowed)
        );
    }
    assert_eq!(
        check_get_log(&GetLogReq {
            offset: u32::MAX - 3,
            len: 8,
            ..l
        }),
        Err(Refusal::Range)
    );
    assert_eq!(
        check_get_log(&GetLogReq {
            offset: u32::MAX - 195,
            len: 192,
            ..l
        }),
        Ok(())
    );

    let f = GetFeatureReq {
        ctrl: 1,
        attach: 2,
        fid: 0x07,
        nsid: 0,
    };
    assert_eq!(check_get_feature(&f), Ok(()));
    assert_eq!(
        check_get_feature(&GetFeatureReq { fid: 0x03, ..f }),
        Err(Refusal::NotAllowed)
    );
    assert_eq!(
        check_get_feature(&GetFeatureReq { fid: 0x08, ..f }),
        Err(Refusal::NotAllowed)
    );
}

#[test]
fn allow_lists() {
    for v in 0..=u8::MAX {
        assert_eq!(log_allowed(v), [1, 2, 3].contains(&v), "lid {v:#x}");
        assert_eq!(
            feature_allowed(v),
            [1, 2, 4, 5, 6, 7].contains(&v),
            "fid {v:#x}"
        );
    }
}
