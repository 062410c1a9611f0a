// SPDX-License-Identifier: GPL-2.0

//! Host tests of the NVMe registers, commands, completions, Identify
//! parsers and ring arithmetic.

use rsio_nvme_share_logic::nvme::*;

#[test]
fn register_offsets() {
    assert_eq!(REG_CAP, 0x00);
    assert_eq!(REG_VS, 0x08);
    assert_eq!(REG_INTMS, 0x0c);
    assert_eq!(REG_INTMC, 0x10);
    assert_eq!(REG_CC, 0x14);
    assert_eq!(REG_CSTS, 0x1c);
    assert_eq!(REG_AQA, 0x24);
    assert_eq!(REG_ASQ, 0x28);
    assert_eq!(REG_ACQ, 0x30);
    assert_eq!(DOORBELL_BASE, 0x1000);
    assert_eq!((CSTS_RDY, CSTS_CFS, CC_EN), (1, 2, 1));
}

#[test]
fn cap_fields() {
    // QEMU-like: MQES 2047, CQR, TO 15 (7.5 s), DSTRD 0, CSS NVM, MPSMIN 0,
    // MPSMAX 4.
    let cap = Cap(0x07ff | 1 << 16 | 0x0f << 24 | 1 << 37 | 4 << 52);
    assert_eq!(cap.mqes(), 2047);
    assert!(cap.cqr());
    assert_eq!(cap.timeout_ms(), 7500);
    assert_eq!(cap.dstrd(), 0);
    assert!(cap.nvm_css());
    assert_eq!(cap.mpsmin(), 0);
    assert_eq!(cap.mpsmax(), 4);

    let cap = Cap(0x0001 | 3u64 << 32 | 2u64 << 48);
    assert_eq!(cap.mqes(), 1);
    assert!(!cap.cqr());
    assert_eq!(cap.timeout_ms(), 0);
    assert_eq!(cap.dstrd(), 3);
    assert!(!cap.nvm_css());
    assert_eq!(cap.mpsmin(), 2);
    assert_eq!(cap.mpsmax(), 0);

    let all = Cap(u64::MAX);
    assert_eq!(all.mqes(), 0xffff);
    assert!(all.cqr());
    assert_eq!(all.timeout_ms(), 255 * 500);
    assert_eq!(all.dstrd(), 15);
    assert!(all.nvm_css());
    assert_eq!(all.mpsmin(), 15);
    assert_eq!(all.mpsmax(), 15);
}

#[test]
fn cc_and_aqa() {
    assert_eq!(cc_enable(), 0x0046_0001);
    assert_eq!(cc_enable() & CC_EN, CC_EN);
    assert_eq!(aqa(32, 32), 31 << 16 | 31);
    assert_eq!(aqa(2, 64), 63 << 16 | 1);
    assert_eq!(aqa(4096, 4096), 0x0fff_0fff);
    assert_eq!(aqa(1, 1), 0);
    assert_eq!(aqa(0, 0), 0);
    assert_eq!(aqa(u16::MAX, u16::MAX), 0x0fff_0fff);
}

#[test]
fn doorbells() {
    assert_eq!(doorbell_stride(0), 4);
    assert_eq!(doorbell_stride(1), 8);
    assert_eq!(doorbell_stride(15), 4 << 15);
    assert_eq!(doorbell_stride(16), 4, "only CAP.DSTRD's 4 bits count");
    assert_eq!(sq_tail_doorbell(0, 0), 0x1000);
    assert_eq!(cq_head_doorbell(0, 0), 0x1004);
    assert_eq!(sq_tail_doorbell(1, 0), 0x1008);
    assert_eq!(cq_head_doorbell(1, 0), 0x100c);
    assert_eq!(sq_tail_doorbell(64, 0), 0x1000 + 128 * 4);
    assert_eq!(cq_head_doorbell(64, 0), 0x1000 + 129 * 4);
    assert_eq!(sq_tail_doorbell(1, 1), 0x1010);
    assert_eq!(cq_head_doorbell(1, 1), 0x1018);
    assert_eq!(sq_tail_doorbell(3, 2), 0x1000 + 6 * 16);
    assert_eq!(cq_head_doorbell(3, 2), 0x1000 + 7 * 16);

    assert_eq!(doorbell_bytes(0, 0), 8);
    assert_eq!(doorbell_bytes(64, 0), 520);
    assert_eq!(doorbell_bytes(64, 1), 1040);
    for dstrd in 0..16 {
        for p in [0u16, 1, 4, 63, 64, 1000] {
            let end = DOORBELL_BASE + doorbell_bytes(p, dstrd);
            // The last doorbell (CQ p's head) is the last stride.
            assert_eq!(cq_head_doorbell(p, dstrd) + doorbell_stride(dstrd), end);
            assert!(sq_tail_doorbell(p, dstrd) < cq_head_doorbell(p, dstrd));
        }
    }
    // Extreme inputs do not panic.
    let _ = sq_tail_doorbell(u16::MAX, u32::MAX);
    let _ = cq_head_doorbell(u16::MAX, 15);
    let _ = doorbell_bytes(u16::MAX, u32::MAX);
}

fn prp(prp1: u64, prp2: u64) -> Dptr {
    Dptr::Prp { prp1, prp2 }
}

#[test]
fn rw_commands() {
    let s = rw(
        false,
        0x1234,
        7,
        0x1_2345_6789,
        7,
        false,
        prp(0xaaaa_bbbb_cccc_d000, 0x1111_2222_3333_4000),
    );
    assert_eq!(s[0], 0x1234 << 16 | u32::from(IO_READ));
    assert_eq!(sqe_opcode(&s), IO_READ);
    assert_eq!(sqe_cid(&s), 0x1234);
    assert_eq!(s[1], 7);
    assert_eq!(&s[2..6], &[0; 4]);
    assert_eq!((s[6], s[7]), (0xcccc_d000, 0xaaaa_bbbb));
    assert_eq!((s[8], s[9]), (0x3333_4000, 0x1111_2222));
    assert_eq!((s[10], s[11]), (0x2345_6789, 1));
    assert_eq!(s[12], 7);
    assert_eq!(&s[13..], &[0; 3]);

    let w = rw(true, 1, 1, 0, u16::MAX, true, prp(0x1000, 0));
    assert_eq!(sqe_opcode(&w), IO_WRITE);
    assert_eq!(w[12], 1 << 30 | 0xffff);
    assert_eq!(w[0] >> 14 & 3, 0, "PSDT 00b for PRPs");

    let mut d = [0u8; 16];
    for (i, b) in d.iter_mut().enumerate() {
        *b = i as u8 + 1;
    }
    let g = rw(true, 9, 2, 5, 0, false, Dptr::Sgl(d));
    assert_eq!(g[0] >> 14 & 3, 1, "PSDT 01b for an SGL");
    assert_eq!(sqe_cid(&g), 9);
    assert_eq!(sqe_opcode(&g), IO_WRITE);
    assert_eq!(g[6], u32::from_le_bytes([1, 2, 3, 4]));
    assert_eq!(g[7], u32::from_le_bytes([5, 6, 7, 8]));
    assert_eq!(g[8], u32::from_le_bytes([9, 10, 11, 12]));
    assert_eq!(g[9], u32::from_le_bytes([13, 14, 15, 16]));
    let bytes = sqe_bytes(&g);
    assert_eq!(&bytes[24..40], &d);
}

#[test]
fn sqe_bytes_layout() {
    let s = flush(0xbeef, 0x0102_0304);
    let b = sqe_bytes(&s);
    assert_eq!(b.len(), SQE_SIZE);
    assert_eq!(&b[0..4], &[IO_FLUSH, 0, 0xef, 0xbe]);
    assert_eq!(&b[4..8], &[4, 3, 2, 1]);
    assert!(b[8..].iter().all(|&x| x == 0));
}

#[test]
fn io_commands() {
    let f = flush(3, 1);
    assert_eq!(f, [3 << 16, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

    let z = write_zeroes(4, 2, 0xdead_0000_0001, 15);
    assert_eq!(sqe_opcode(&z), IO_WRITE_ZEROES);
    assert_eq!(z[1], 2);
    assert_eq!((z[10], z[11], z[12]), (1, 0xdead, 15));
    assert_eq!(&z[6..10], &[0; 4]);

    let d = dsm_deallocate(5, 1, 0, 0x8_0000_1000);
    assert_eq!(sqe_opcode(&d), IO_DSM);
    assert_eq!((d[6], d[7], d[8], d[9]), (0x1000, 8, 0, 0));
    assert_eq!(d[10], 0);
    assert_eq!(d[11], 1 << 2);
    assert_eq!(dsm_deallocate(5, 1, 255, 0)[10], 255);

    let r = dsm_range(0x0102_0304_0506_0708, 0x10);
    assert_eq!(&r[0..4], &[0; 4]);
    assert_eq!(&r[4..8], &[0x10, 0, 0, 0]);
    assert_eq!(&r[8..16], &[8, 7, 6, 5, 4, 3, 2, 1]);
}

#[test]
fn admin_commands() {
    let i = identify(1, 0x02, 0, 0x2000);
    assert_eq!(i[0], 1 << 16 | u32::from(ADMIN_IDENTIFY));
    assert_eq!(i[6], 0x2000);
    assert_eq!(i[10], 2);
    assert_eq!(identify(1, CNS_NAMESPACE, 5, 0)[1], 5);

    let s = set_features(2, FEAT_NUM_QUEUES, 0xfffe_fffe);
    assert_eq!(sqe_opcode(&s), ADMIN_SET_FEATURES);
    assert_eq!((s[10], s[11]), (7, 0xfffe_fffe));

    let g = get_features(3, 0x06, 1, 0);
    assert_eq!(sqe_opcode(&g), ADMIN_GET_FEATURES);
    assert_eq!((g[1], g[10]), (1, 6));

    let cq = create_cq(4, 3, 127, 0x1_0000_3000, 3, true);
    assert_eq!(sqe_opcode(&cq), ADMIN_CREATE_CQ);
    assert_eq!((cq[6], cq[7]), (0x3000, 1));
    assert_eq!(cq[10], 127 << 16 | 3);
    assert_eq!(cq[11], 3 << 16 | 1 << 1 | 1);
    assert_eq!(create_cq(4, 3, 127, 0, 0, false)[11], 1, "PC always set");

    let sq = create_sq(5, 3, 63, 0x4000, 3);
    assert_eq!(sqe_opcode(&sq), ADMIN_CREATE_SQ);
    assert_eq!(sq[6], 0x4000);
    assert_eq!(sq[10], 63 << 16 | 3);
    assert_eq!(sq[11], 3 << 16 | 1);

    let ds = delete_sq(6, 9);
    assert_eq!((sqe_opcode(&ds), ds[10]), (ADMIN_DELETE_SQ, 9));
    let dc = delete_cq(7, 9);
    assert_eq!((sqe_opcode(&dc), dc[10]), (ADMIN_DELETE_CQ, 9));

    let l = get_log(
        8,
        0x02,
        0xffff_ffff,
        0x0003_007f,
        0x1_0000_0200,
        0x5000,
        0x6000,
    );
    assert_eq!(sqe_opcode(&l), ADMIN_GET_LOG);
    assert_eq!(l[1], 0xffff_ffff);
    assert_eq!(l[10], 0x007f << 16 | 2);
    assert_eq!(l[11], 3);
    assert_eq!((l[12], l[13]), (0x200, 1));
    assert_eq!((l[6], l[8]), (0x5000, 0x6000));

    let a = abort(9, 4, 0x3007);
    assert_eq!(sqe_opcode(&a), ADMIN_ABORT);
    assert_eq!(a[10], 0x3007 << 16 | 4);

    let e = async_event(10);
    assert_eq!(e[0], 10 << 16 | u32::from(ADMIN_ASYNC_EVENT));
    assert!(e[1..].iter().all(|&x| x == 0));
}

#[test]
fn opcodes() {
    assert_eq!(
        [
            ADMIN_DELETE_SQ,
            ADMIN_CREATE_SQ,
            ADMIN_GET_LOG,
            ADMIN_DELETE_CQ,
            ADMIN_CREATE_CQ,
            ADMIN_IDENTIFY,
            ADMIN_ABORT,
            ADMIN_SET_FEATURES,
            ADMIN_GET_FEATURES,
            ADMIN_ASYNC_EVENT
        ],
        [0, 1, 2, 4, 5, 6, 8, 9, 0x0a, 0x0c]
    );
    assert_eq!(
        [IO_FLUSH, IO_WRITE, IO_READ, IO_WRITE_ZEROES, IO_DSM],
        [0, 1, 2, 8, 9]
    );
    assert_eq!(FEAT_NUM_QUEUES, 7);
}

fn dw3(cid: u16, phase: bool, status: u16) -> u32 {
    u32::from(status) << 17 | u32::from(phase) << 16 | u32::from(cid)
}

#[test]
fn cqe_parse() {
    let c = Cqe::parse([0x00ff_00ff, 0xdead_beef, 5 << 16 | 17, dw3(0x2abc, true, 0)]);
    assert_eq!(
        c,
        Cqe {
            dw0: 0x00ff_00ff,
            sq_head: 17,
            sqid: 5,
            cid: 0x2abc,
            phase: true,
            status: 0
        }
    );
    assert!(c.ok());
    assert_eq!(c.outcome(), Outcome::Ok);

    let st = status(SCT_MEDIA, SC_UNRECOVERED_READ, true);
    assert_eq!(st, 1 << 14 | 2 << 8 | 0x81);
    let c = Cqe::parse([0, 0, 0, dw3(1, false, st)]);
    assert!(!c.phase);
    assert_eq!(c.status, st);
    assert_eq!((c.sc(), c.sct(), c.dnr()), (0x81, 2, true));
    assert!(!c.ok());
    assert_eq!(c.outcome(), Outcome::Medium);

    // Every bit of DW3 lands somewhere.
    let c = Cqe::parse([0, 0, u32::MAX, u32::MAX]);
    assert_eq!((c.sq_head, c.sqid, c.cid), (0xffff, 0xffff, 0xffff));
    assert!(c.phase);
    assert_eq!(c.status, 0x7fff);
    assert_eq!((c.sc(), c.sct(), c.dnr()), (0xff, 7, true));

    // From the bytes in memory.
    let mut b = [0u8; CQE_SIZE];
    b[0..4].copy_from_slice(&7u32.to_le_bytes());
    b[8..12].copy_from_slice(&(2u32 << 16 | 3).to_le_bytes());
    b[12..16].copy_from_slice(&dw3(0x1005, true, 0x0102).to_le_bytes());
    let c = Cqe::from_bytes(&b);
    assert_eq!((c.dw0, c.sqid, c.sq_head, c.cid), (7, 2, 3, 0x1005));
    assert!(c.phase);
    assert_eq!((c.sct(), c.sc()), (1, 2));
}

#[test]
fn status_outcomes() {
    let g = |sc: u8, dnr: bool| outcome(status(SCT_GENERIC, sc, dnr));
    assert_eq!(outcome(0), Outcome::Ok);
    assert_eq!(g(0, true), Outcome::Ok);
    assert_eq!(g(SC_ABORT_REQUESTED, false), Outcome::Retry);
    assert_eq!(g(SC_ABORT_REQUESTED, true), Outcome::Aborted);
    assert_eq!(g(SC_ABORTED_SQ_DELETION, false), Outcome::Retry);
    assert_eq!(g(SC_ABORTED_SQ_DELETION, true), Outcome::Aborted);
    assert_eq!(g(SC_DATA_TRANSFER, false), Outcome::Retry);
    assert_eq!(g(SC_DATA_TRANSFER, true), Outcome::IoError);
    assert_eq!(g(SC_INTERNAL, false), Outcome::Retry);
    assert_eq!(g(SC_INTERNAL, true), Outcome::IoError);
    assert_eq!(g(SC_INVALID_OPCODE, false), Outcome::NotSupported);
    assert_eq!(g(SC_INVALID_OPCODE, true), Outcome::NotSupported);
    assert_eq!(g(SC_INVALID_FIELD, true), Outcome::NotSupported);
    assert_eq!(g(SC_LBA_RANGE, true), Outcome::IoError);
    assert_eq!(g(0x03, false), Outcome::IoError);
    assert_eq!(g(0x05, false), Outcome::IoError);
    for sc in 0x80..=0x87 {
        assert_eq!(outcome(status(SCT_MEDIA, sc, false)), Outcome::Medium);
        assert_eq!(outcome(status(SCT_MEDIA, sc, true)), Outcome::Medium);
    }
    assert_eq!(
        outcome(status(SCT_MEDIA, SC_WRITE_FAULT, false)),
        Outcome::Medium
    );
    assert_eq!(
        outcome(status(SCT_MEDIA, SC_ACCESS_DENIED, false)),
        Outcome::Medium
    );
    assert_eq!(outcome(status(SCT_MEDIA, 0x88, false)), Outcome::IoError);
    assert_eq!(outcome(status(SCT_MEDIA, 0x7f, false)), Outcome::IoError);
    // Command specific status codes with the generic numbers are errors.
    for sc in [0x00, 0x01, 0x02, 0x04, 0x06, 0x07, 0x08] {
        assert_eq!(outcome(status(SCT_COMMAND, sc, false)), Outcome::IoError);
    }
    assert_eq!(outcome(status(7, 0, false)), Outcome::IoError);
    // CRD and M bits do not change the class.
    assert_eq!(outcome(3 << 11 | 1 << 13 | 0x81 | 2 << 8), Outcome::Medium);
    // No status panics.
    for st in 0..=u16::MAX {
        let _ = outcome(st);
    }
}

#[test]
fn command_ids() {
    for gen in 0..16u8 {
        for tag in [0u16, 1, 62, 63, 0x7ff, 0xfff] {
            let c = cid(gen, tag);
            assert_eq!(cid_gen(c), gen);
            assert_eq!(cid_tag(c), tag);
        }
    }
    assert_eq!(cid(0x13, 0x1005), 0x3005, "gen and tag are masked");
    assert_eq!(cid(0xf, 0xfff), 0xffff);
    assert_eq!(cid_gen(0xffff), 0xf);
    assert_eq!(cid_tag(0xffff), 0xfff);
}

fn ctrl_page() -> Vec<u8> {
    let mut p = vec![0u8; IDENTIFY_LEN];
    p[0..2].copy_from_slice(&0x1b36u16.to_le_bytes());
    p[4..24].copy_from_slice(b"deadbeef            ");
    p[24..64].copy_from_slice(b"QEMU NVMe Ctrl                          ");
    p[77] = 7;
    p[78..80].copy_from_slice(&0x0102u16.to_le_bytes());
    p[259] = 3;
    p[512] = 0x66;
    p[513] = 0x44;
    p[516..520].copy_from_slice(&256u32.to_le_bytes());
    p[520..522].copy_from_slice(&0x015du16.to_le_bytes());
    p[525] = 0x07;
    p[536..540].copy_from_slice(&0x0010_0001u32.to_le_bytes());
    p
}

#[test]
fn identify_controller() {
    let p = ctrl_page();
    let c = IdCtrl::parse(&p).unwrap();
    assert_eq!(c.vid, 0x1b36);
    assert_eq!(&c.sn, b"deadbeef            ");
    assert_eq!(&c.mn[..14], b"QEMU NVMe Ctrl");
    assert_eq!(c.mdts, 7);
    assert_eq!(c.cntlid, 0x0102);
    assert_eq!(c.aerl, 3);
    assert_eq!((c.sqes, c.cqes), (0x66, 0x44));
    assert_eq!(c.nn, 256);
    assert_eq!(c.oncs, 0x015d);
    assert_eq!(c.vwc, 7);
    assert_eq!(c.sgls, 0x0010_0001);
    assert_eq!(c.max_transfer(), Some(512 * 1024));
    assert!(c.write_zeroes());
    assert!(c.dsm());
    assert!(c.volatile_cache());
    assert!(c.sgl());

    // A longer buffer is fine, a shorter one is not.
    let mut long = p.clone();
    long.extend_from_slice(&[0xff; 100]);
    assert_eq!(IdCtrl::parse(&long), Some(c));
    assert_eq!(IdCtrl::parse(&p[..IDENTIFY_LEN - 1]), None);
    assert_eq!(IdCtrl::parse(&[]), None);

    let zero = IdCtrl::parse(&[0u8; IDENTIFY_LEN]).unwrap();
    assert_eq!(zero.max_transfer(), None);
    assert!(!zero.write_zeroes() && !zero.dsm() && !zero.volatile_cache() && !zero.sgl());

    let with = |mdts: u8, oncs: u16, vwc: u8, sgls: u32| IdCtrl {
        mdts,
        oncs,
        vwc,
        sgls,
        ..zero
    };
    assert_eq!(with(1, 0, 0, 0).max_transfer(), Some(8192));
    assert_eq!(with(19, 0, 0, 0).max_transfer(), Some(1 << 31));
    assert_eq!(with(20, 0, 0, 0).max_transfer(), Some(1 << 31));
    assert_eq!(with(255, 0, 0, 0).max_transfer(), Some(1 << 31));
    assert!(with(0, 1 << 3, 0, 0).write_zeroes());
    assert!(!with(0, 1 << 3, 0, 0).dsm());
    assert!(with(0, 1 << 2, 0, 0).dsm());
    assert!(!with(0, 0, 6, 0).volatile_cache());
    assert!(with(0, 0, 0, 2).sgl());
    assert!(with(0, 0, 0, 3).sgl());
    assert!(!with(0, 0, 0, 4).sgl());
}

fn ns_page(flbas: u8, index: usize, lbads: u8) -> Vec<u8> {
    let mut p = vec![0u8; IDENTIFY_LEN];
    p[0..8].copy_from_slice(&0x20_0000u64.to_le_bytes());
    p[8..16].copy_from_slice(&0x1f_0000u64.to_le_bytes());
    p[16..24].copy_from_slice(&0x1000u64.to_le_bytes());
    p[26] = flbas;
    for (i, b) in p[104..120].iter_mut().enumerate() {
        *b = 0xa0 + i as u8;
    }
    p[120..128].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let o = 128 + 4 * index;
    p[o..o + 4].copy_from_slice(&(u32::from(lbads) << 16).to_le_bytes());
    p
}

#[test]
fn identify_namespace() {
    let n = IdNs::parse(&ns_page(0, 0, 9)).unwrap();
    assert_eq!((n.nsze, n.ncap, n.nuse), (0x20_0000, 0x1f_0000, 0x1000));
    assert_eq!(n.lbads, 9);
    assert_eq!(n.nguid[0], 0xa0);
    assert_eq!(n.nguid[15], 0xaf);
    assert_eq!(n.eui64, [1, 2, 3, 4, 5, 6, 7, 8]);

    // Format index 3, bit 4 (metadata at the end of the block) ignored.
    assert_eq!(IdNs::parse(&ns_page(0x13, 3, 12)).unwrap().lbads, 12);
    // Bits 6:5 are the index's bits 5:4: 0x61 -> 0x31 = 49.
    assert_eq!(IdNs::parse(&ns_page(0x61, 49, 16)).unwrap().lbads, 16);
    assert_eq!(IdNs::parse(&ns_page(0x21, 17, 13)).unwrap().lbads, 13);
    // The wrong format's LBADS is not taken: format 1 is read, it is 0.
    assert_eq!(IdNs::parse(&ns_page(0x01, 0, 9)), None);
    // LBADS must be 9..=16.
    assert_eq!(IdNs::parse(&ns_page(0, 0, 8)), None);
    assert_eq!(IdNs::parse(&ns_page(0, 0, 17)), None);
    assert_eq!(IdNs::parse(&ns_page(0, 0, 255)), None);
    assert_eq!(
        IdNs::parse(&[0u8; IDENTIFY_LEN]),
        None,
        "inactive namespace"
    );
    assert_eq!(IdNs::parse(&ns_page(0, 0, 9)[..4095]), None);
    // Any page parses without panicking (the largest format index too).
    let mut p = vec![0xffu8; IDENTIFY_LEN];
    assert_eq!(IdNs::parse(&p), None);
    p[128 + 4 * 63 + 2] = 10;
    assert_eq!(IdNs::parse(&p).unwrap().lbads, 10);
}

#[test]
fn namespace_list() {
    let mut page = vec![0u8; IDENTIFY_LEN];
    for (i, id) in [1u32, 2, 5, 0x100].iter().enumerate() {
        page[4 * i..4 * i + 4].copy_from_slice(&id.to_le_bytes());
    }
    let mut out = [0u32; 32];
    assert_eq!(active_ns_list(&page, &mut out), 4);
    assert_eq!(&out[..4], &[1, 2, 5, 0x100]);

    let mut two = [0u32; 2];
    assert_eq!(active_ns_list(&page, &mut two), 2);
    assert_eq!(two, [1, 2]);
    assert_eq!(active_ns_list(&page, &mut []), 0);

    // Entries after the first 0 are not read.
    page[4 * 5..4 * 6].copy_from_slice(&9u32.to_le_bytes());
    assert_eq!(active_ns_list(&page, &mut out), 4);

    // Not ascending: the list ends before the offender.
    let mut bad = vec![0u8; IDENTIFY_LEN];
    for (i, id) in [3u32, 7, 7, 8].iter().enumerate() {
        bad[4 * i..4 * i + 4].copy_from_slice(&id.to_le_bytes());
    }
    assert_eq!(active_ns_list(&bad, &mut out), 2);
    bad[8..12].copy_from_slice(&1u32.to_le_bytes());
    assert_eq!(active_ns_list(&bad, &mut out), 2);

    // A full page of ids, a short and a ragged buffer.
    let full: Vec<u8> = (1..=1024u32).flat_map(|i| i.to_le_bytes()).collect();
    let mut many = vec![0u32; 2000];
    assert_eq!(active_ns_list(&full, &mut many), 1024);
    assert_eq!(many[1023], 1024);
    assert_eq!(active_ns_list(&full[..10], &mut many), 2);
    assert_eq!(active_ns_list(&[], &mut many), 0);
}

#[test]
fn cq_cursor() {
    let mut c = CqCursor::new(4);
    assert_eq!((c.head, c.phase, c.entries), (0, true, 4));
    assert!(c.is_new(true));
    assert!(!c.is_new(false), "a zeroed CQ has nothing new");
    for i in 1..4 {
        c.advance();
        assert_eq!((c.head, c.phase), (i, true));
    }
    c.advance();
    assert_eq!((c.head, c.phase), (0, false));
    assert!(c.is_new(false));
    assert!(!c.is_new(true));
    for _ in 0..4 {
        c.advance();
    }
    assert_eq!((c.head, c.phase), (0, true));

    // Degenerate sizes do not panic and stay in range.
    for entries in [0u16, 1] {
        let mut c = CqCursor::new(entries);
        for n in 1..5 {
            c.advance();
            assert_eq!(c.head, 0);
            assert_eq!(c.phase, n % 2 == 0);
        }
    }
    let mut c = CqCursor::new(u16::MAX);
    c.head = u16::MAX - 1;
    c.advance();
    assert_eq!((c.head, c.phase), (0, false));
    let mut c = CqCursor {
        head: u16::MAX,
        phase: true,
        entries: u16::MAX,
    };
    c.advance();
    assert_eq!((c.head, c.phase), (0, false));
}

#[test]
fn sq_ring() {
    let mut r = SqRing::new(4);
    assert!(!r.is_full());
    assert_eq!(r.used(), 0);
    assert_eq!(r.push(), Some(0));
    assert_eq!(r.push(), Some(1));
    assert_eq!(r.push(), Some(2));
    assert_eq!(r.used(), 3);
    assert!(r.is_full());
    assert_eq!(r.push(), None);
    assert_eq!(r.tail, 3);
    assert!(r.set_head(2));
    assert_eq!(r.used(), 1);
    assert_eq!(r.push(), Some(3));
    assert_eq!(r.tail, 0, "wraps");
    assert_eq!(r.push(), Some(0));
    assert!(r.is_full());
    assert!(!r.set_head(4));
    assert!(!r.set_head(u16::MAX));
    assert_eq!(r.head, 2, "unchanged on a bad head");
    assert!(r.set_head(1));
    assert_eq!(r.used(), 0);
    assert!(!r.is_full());

    for entries in [0u16, 1] {
        let mut r = SqRing::new(entries);
        assert!(r.is_full());
        assert_eq!(r.push(), None);
        assert_eq!(r.used(), 0);
        assert_eq!(r.set_head(0), entries == 1);
    }
    let mut r = SqRing::new(u16::MAX);
    r.tail = u16::MAX - 1;
    r.head = 5;
    assert_eq!(r.push(), Some(u16::MAX - 1));
    assert_eq!(r.tail, 0);
    // Out-of-range fields set directly do not panic.
    let r = SqRing {
        tail: u16::MAX,
        head: u16::MAX,
        entries: 3,
    };
    let _ = (r.is_full(), r.used());
}

#[test]
fn lazy_head() {
    let mut l = LazyHead::new(64);
    for _ in 0..3 {
        for i in 1..64 {
            assert!(!l.consumed());
            assert_eq!(l.unacked, i);
        }
        assert!(l.consumed());
        assert_eq!(l.unacked, 0);
    }
    let mut every = LazyHead::new(1);
    assert!(every.consumed() && every.consumed());
    let mut zero = LazyHead::new(0);
    assert!(zero.consumed());
    let mut max = LazyHead {
        unacked: u16::MAX - 1,
        threshold: u16::MAX,
    };
    assert!(max.consumed());
}

/// The design's claim: with SQ entries 64 (≤ 63 outstanding), CQ entries
/// 128 and a head doorbell every 64 consumed entries, the controller never
/// finds the CQ full, and the consumer sees each completion exactly once
/// through any number of wraps.
#[test]
fn lazy_head_never_fills_cq() {
    const SQ: u16 = 64;
    const CQ: u16 = 128;
    let mut sq = SqRing::new(SQ);
    let mut cq_phase_mem = [false; CQ as usize];
    let mut cq_cid = [0u16; CQ as usize];
    let mut cur = CqCursor::new(CQ);
    let mut lazy = LazyHead::new(64);
    // The controller's view: its CQ tail and phase, the head it was told.
    let (mut ctail, mut cphase, mut chead) = (0u16, true, 0u16);
    let mut pending: Vec<u16> = Vec::new();
    let mut outstanding = 0u16;
    let mut next_cid = 0u16;
    let mut completed = 0u32;
    let mut seed = 0x1234_5678u32;
    let mut rnd = |n: u32| {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        (seed >> 16) % n
    };
    for _ in 0..20_000 {
        // Submit a burst while there is room.
        for _ in 0..rnd(70) {
            if outstanding >= SQ - 1 || sq.is_full() {
                break;
            }
            sq.push().unwrap();
            pending.push(next_cid);
            next_cid = next_cid.wrapping_add(1);
            outstanding += 1;
        }
        // The controller completes some, never overrunning the head.
        for _ in 0..rnd(70) {
            if pending.is_empty() {
                break;
            }
            let next = (ctail + 1) % CQ;
            assert_ne!(next, chead, "the controller found the CQ full");
            let cid = pending.remove(0);
            cq_cid[usize::from(ctail)] = cid;
            cq_phase_mem[usize::from(ctail)] = cphase;
            ctail = next;
            if ctail == 0 {
                cphase = !cphase;
            }
        }
        // The interrupt handler consumes what is new.
        for _ in 0..rnd(200) {
            let slot = usize::from(cur.head);
            if !cur.is_new(cq_phase_mem[slot]) {
                break;
            }
            assert_eq!(u32::from(cq_cid[slot]), completed & 0xffff);
            completed += 1;
            outstanding -= 1;
            cur.advance();
            if lazy.consumed() {
                chead = cur.head;
            }
            assert!(sq.set_head(sq.tail));
        }
    }
    assert!(completed > 10_000, "the simulation ran: {completed}");
}
