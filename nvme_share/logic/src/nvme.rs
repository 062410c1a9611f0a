// SPDX-License-Identifier: GPL-2.0

//! NVMe (base specification 1.4/2.0 names): controller registers,
//! submission queue entries, completion entries and their status, the
//! Identify pages, and the arithmetic of rings, phases and doorbells.
//!
//! Everything read from the controller or from memory it writes (CAP,
//! completion entries, Identify pages) is treated as untrusted: the
//! functions here never panic, whatever the input.

/// Controller Capabilities (64-bit).
pub const REG_CAP: usize = 0x00;
/// Version (32-bit).
pub const REG_VS: usize = 0x08;
/// Interrupt Mask Set (32-bit).
pub const REG_INTMS: usize = 0x0c;
/// Interrupt Mask Clear (32-bit).
pub const REG_INTMC: usize = 0x10;
/// Controller Configuration (32-bit).
pub const REG_CC: usize = 0x14;
/// Controller Status (32-bit).
pub const REG_CSTS: usize = 0x1c;
/// Admin Queue Attributes (32-bit).
pub const REG_AQA: usize = 0x24;
/// Admin Submission Queue Base Address (64-bit).
pub const REG_ASQ: usize = 0x28;
/// Admin Completion Queue Base Address (64-bit).
pub const REG_ACQ: usize = 0x30;
/// Offset of the first doorbell (the admin SQ's tail).
pub const DOORBELL_BASE: usize = 0x1000;

/// Bytes of a submission queue entry (IOSQES 6).
pub const SQE_SIZE: usize = 64;
/// Bytes of a completion queue entry (IOCQES 4).
pub const CQE_SIZE: usize = 16;

/// The Controller Capabilities register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap(pub u64);

impl Cap {
    /// Maximum Queue Entries Supported (bits 15:0, 0's based).
    pub fn mqes(&self) -> u16 {
        (self.0 & 0xffff) as u16
    }
    /// Contiguous Queues Required (bit 16).
    pub fn cqr(&self) -> bool {
        self.0 & (1 << 16) != 0
    }
    /// Timeout (bits 31:24, 500 ms units) in milliseconds.
    pub fn timeout_ms(&self) -> u32 {
        ((self.0 >> 24) & 0xff) as u32 * 500
    }
    /// Doorbell Stride (bits 35:32): doorbells are `4 << dstrd` bytes apart.
    pub fn dstrd(&self) -> u32 {
        ((self.0 >> 32) & 0xf) as u32
    }
    /// The NVM command set is supported (CSS bit 0, register bit 37).
    pub fn nvm_css(&self) -> bool {
        self.0 & (1 << 37) != 0
    }
    /// Memory Page Size Minimum (bits 51:48): `4096 << mpsmin` bytes.
    pub fn mpsmin(&self) -> u32 {
        ((self.0 >> 48) & 0xf) as u32
    }
    /// Memory Page Size Maximum (bits 55:52): `4096 << mpsmax` bytes.
    pub fn mpsmax(&self) -> u32 {
        ((self.0 >> 52) & 0xf) as u32
    }
}

/// CSTS.RDY: the controller is ready.
pub const CSTS_RDY: u32 = 1;
/// CSTS.CFS: Controller Fatal Status.
pub const CSTS_CFS: u32 = 2;
/// CC.EN: enable.
pub const CC_EN: u32 = 1;

/// The CC value that enables the controller: EN, NVM command set (CSS 0),
/// 4 KiB pages (MPS 0), round robin (AMS 0), no shutdown, 64-byte SQ
/// entries (IOSQES 6) and 16-byte CQ entries (IOCQES 4).
pub fn cc_enable() -> u32 {
    CC_EN | (6 << 16) | (4 << 20)
}

/// The AQA value for admin queues of `sq_entries` and `cq_entries`
/// entries (counts, 1..=4096; the register's fields are 0's based:
/// ACQS 27:16, ASQS 11:0). A count of 0 is taken as 1, above 4096 as 4096.
pub fn aqa(sq_entries: u16, cq_entries: u16) -> u32 {
    let field = |n: u16| u32::from(n.saturating_sub(1).min(0xfff));
    (field(cq_entries) << 16) | field(sq_entries)
}

/// Bytes between two doorbells for a CAP.DSTRD (only its 4 bits count).
pub fn doorbell_stride(dstrd: u32) -> usize {
    4usize << (dstrd & 0xf)
}

/// Offset in BAR0 of queue `qid`'s SQ Tail doorbell (`SQyTDBL`).
pub fn sq_tail_doorbell(qid: u16, dstrd: u32) -> usize {
    let index = usize::from(qid).saturating_mul(2);
    DOORBELL_BASE.saturating_add(index.saturating_mul(doorbell_stride(dstrd)))
}

/// Offset in BAR0 of queue `qid`'s CQ Head doorbell (`CQyHDBL`).
pub fn cq_head_doorbell(qid: u16, dstrd: u32) -> usize {
    let index = usize::from(qid).saturating_mul(2).saturating_add(1);
    DOORBELL_BASE.saturating_add(index.saturating_mul(doorbell_stride(dstrd)))
}

/// Bytes from [`DOORBELL_BASE`] covering the doorbells of the admin queue
/// pair and I/O queue pairs `1..=qpairs`: `2 (qpairs + 1) * (4 << dstrd)`
/// (not rounded to pages).
pub fn doorbell_bytes(qpairs: u16, dstrd: u32) -> usize {
    let pairs = usize::from(qpairs).saturating_add(1);
    pairs
        .saturating_mul(2)
        .saturating_mul(doorbell_stride(dstrd))
}

/// Admin opcode: Delete I/O Submission Queue.
pub const ADMIN_DELETE_SQ: u8 = 0x00;
/// Admin opcode: Create I/O Submission Queue.
pub const ADMIN_CREATE_SQ: u8 = 0x01;
/// Admin opcode: Get Log Page.
pub const ADMIN_GET_LOG: u8 = 0x02;
/// Admin opcode: Delete I/O Completion Queue.
pub const ADMIN_DELETE_CQ: u8 = 0x04;
/// Admin opcode: Create I/O Completion Queue.
pub const ADMIN_CREATE_CQ: u8 = 0x05;
/// Admin opcode: Identify.
pub const ADMIN_IDENTIFY: u8 = 0x06;
/// Admin opcode: Abort.
pub const ADMIN_ABORT: u8 = 0x08;
/// Admin opcode: Set Features.
pub const ADMIN_SET_FEATURES: u8 = 0x09;
/// Admin opcode: Get Features.
pub const ADMIN_GET_FEATURES: u8 = 0x0a;
/// Admin opcode: Asynchronous Event Request.
pub const ADMIN_ASYNC_EVENT: u8 = 0x0c;

/// I/O opcode: Flush.
pub const IO_FLUSH: u8 = 0x00;
/// I/O opcode: Write.
pub const IO_WRITE: u8 = 0x01;
/// I/O opcode: Read.
pub const IO_READ: u8 = 0x02;
/// I/O opcode: Write Zeroes.
pub const IO_WRITE_ZEROES: u8 = 0x08;
/// I/O opcode: Dataset Management.
pub const IO_DSM: u8 = 0x09;

/// Feature: Number of Queues.
pub const FEAT_NUM_QUEUES: u8 = 0x07;

/// Identify CNS: the namespace data structure of NSID.
pub const CNS_NAMESPACE: u8 = 0x00;
/// Identify CNS: the controller data structure.
pub const CNS_CONTROLLER: u8 = 0x01;
/// Identify CNS: the active namespace id list (ids above NSID).
pub const CNS_ACTIVE_NS_LIST: u8 = 0x02;

/// Bytes of an Identify page.
pub const IDENTIFY_LEN: usize = 4096;

/// A submission queue entry as 16 dwords (written to the queue
/// little-endian, dword 0 first): dw0 CDW0 (OPC 7:0, PSDT 15:14,
/// CID 31:16), dw1 NSID, dw6-7 PRP1 or the SGL descriptor's first 8
/// bytes, dw8-9 PRP2 or its last 8 bytes, dw10-15 CDW10-15.
pub type Sqe = [u32; 16];

/// The data pointer of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dptr {
    /// Physical Region Page entries (PSDT 00b).
    Prp {
        /// PRP Entry 1.
        prp1: u64,
        /// PRP Entry 2 (0 when unused).
        prp2: u64,
    },
    /// One SGL descriptor (PSDT 01b), see `super::prp::build_sgl`.
    Sgl([u8; 16]),
}

const PSDT_SGL: u32 = 1 << 14;

fn lo(v: u64) -> u32 {
    v as u32
}
fn hi(v: u64) -> u32 {
    (v >> 32) as u32
}

fn command(opc: u8, cid: u16, nsid: u32) -> Sqe {
    let mut s = [0u32; 16];
    s[0] = u32::from(opc) | (u32::from(cid) << 16);
    s[1] = nsid;
    s
}

fn set_dptr(s: &mut Sqe, dptr: Dptr) {
    match dptr {
        Dptr::Prp { prp1, prp2 } => {
            s[6] = lo(prp1);
            s[7] = hi(prp1);
            s[8] = lo(prp2);
            s[9] = hi(prp2);
        }
        Dptr::Sgl(d) => {
            s[0] |= PSDT_SGL;
            s[6] = rd_u32(&d, 0);
            s[7] = rd_u32(&d, 4);
            s[8] = rd_u32(&d, 8);
            s[9] = rd_u32(&d, 12);
        }
    }
}

fn set_prp1(s: &mut Sqe, prp1: u64) {
    set_dptr(s, Dptr::Prp { prp1, prp2: 0 });
}

/// Opcode of an SQE (CDW0 7:0).
pub fn sqe_opcode(s: &Sqe) -> u8 {
    (s[0] & 0xff) as u8
}

/// Command identifier of an SQE (CDW0 31:16).
pub fn sqe_cid(s: &Sqe) -> u16 {
    (s[0] >> 16) as u16
}

/// The SQE as the 64 bytes written to the queue.
pub fn sqe_bytes(s: &Sqe) -> [u8; SQE_SIZE] {
    let mut b = [0u8; SQE_SIZE];
    for (chunk, dw) in b.chunks_exact_mut(4).zip(s.iter()) {
        chunk.copy_from_slice(&dw.to_le_bytes());
    }
    b
}

/// Read (`write` false) or Write: `nlb0 + 1` blocks from `slba` (CDW10-11
/// SLBA, CDW12 NLB 15:0 0's based, FUA bit 30).
pub fn rw(write: bool, cid: u16, nsid: u32, slba: u64, nlb0: u16, fua: bool, dptr: Dptr) -> Sqe {
    let mut s = command(if write { IO_WRITE } else { IO_READ }, cid, nsid);
    set_dptr(&mut s, dptr);
    s[10] = lo(slba);
    s[11] = hi(slba);
    s[12] = u32::from(nlb0) | (u32::from(fua) << 30);
    s
}

/// Flush the namespace's volatile write cache.
pub fn flush(cid: u16, nsid: u32) -> Sqe {
    command(IO_FLUSH, cid, nsid)
}

/// Write Zeroes: `nlb0 + 1` blocks from `slba` (no data pointer).
pub fn write_zeroes(cid: u16, nsid: u32, slba: u64, nlb0: u16) -> Sqe {
    let mut s = command(IO_WRITE_ZEROES, cid, nsid);
    s[10] = lo(slba);
    s[11] = hi(slba);
    s[12] = u32::from(nlb0);
    s
}

/// Dataset Management, Deallocate (CDW11 AD bit 2) of `ranges0 + 1`
/// ranges ([`dsm_range`]) at `prp1` (CDW10 NR, 0's based).
pub fn dsm_deallocate(cid: u16, nsid: u32, ranges0: u8, prp1: u64) -> Sqe {
    let mut s = command(IO_DSM, cid, nsid);
    set_prp1(&mut s, prp1);
    s[10] = u32::from(ranges0);
    s[11] = 1 << 2;
    s
}

/// One Dataset Management range: context attributes 0, `nlb` blocks (not
/// 0's based) at bytes 4..8, `slba` at bytes 8..16.
pub fn dsm_range(slba: u64, nlb: u32) -> [u8; 16] {
    let mut r = [0u8; 16];
    r[4..8].copy_from_slice(&nlb.to_le_bytes());
    r[8..16].copy_from_slice(&slba.to_le_bytes());
    r
}

/// Identify (CDW10 CNS 7:0) into the 4 KiB page at `prp1` (page aligned).
pub fn identify(cid: u16, cns: u8, nsid: u32, prp1: u64) -> Sqe {
    let mut s = command(ADMIN_IDENTIFY, cid, nsid);
    set_prp1(&mut s, prp1);
    s[10] = u32::from(cns);
    s
}

/// Set Features `fid` (CDW10 FID 7:0, SV 0) with CDW11 `dw11`.
pub fn set_features(cid: u16, fid: u8, dw11: u32) -> Sqe {
    let mut s = command(ADMIN_SET_FEATURES, cid, 0);
    s[10] = u32::from(fid);
    s[11] = dw11;
    s
}

/// Get Features `fid` (current value, SEL 0); `prp1` for features that
/// return data, else 0.
pub fn get_features(cid: u16, fid: u8, nsid: u32, prp1: u64) -> Sqe {
    let mut s = command(ADMIN_GET_FEATURES, cid, nsid);
    set_prp1(&mut s, prp1);
    s[10] = u32::from(fid);
    s
}

/// Create I/O Completion Queue `qid` of `qsize0 + 1` entries at `prp1`
/// (physically contiguous, PC 1), interrupt vector `iv`, enabled if
/// `ien`.
pub fn create_cq(cid: u16, qid: u16, qsize0: u16, prp1: u64, iv: u16, ien: bool) -> Sqe {
    let mut s = command(ADMIN_CREATE_CQ, cid, 0);
    set_prp1(&mut s, prp1);
    s[10] = (u32::from(qsize0) << 16) | u32::from(qid);
    s[11] = (u32::from(iv) << 16) | (u32::from(ien) << 1) | 1;
    s
}

/// Create I/O Submission Queue `qid` of `qsize0 + 1` entries at `prp1`
/// (physically contiguous, PC 1, QPRIO 0) completing into CQ `cqid`.
pub fn create_sq(cid: u16, qid: u16, qsize0: u16, prp1: u64, cqid: u16) -> Sqe {
    let mut s = command(ADMIN_CREATE_SQ, cid, 0);
    set_prp1(&mut s, prp1);
    s[10] = (u32::from(qsize0) << 16) | u32::from(qid);
    s[11] = (u32::from(cqid) << 16) | 1;
    s
}

/// Delete I/O Submission Queue `qid`.
pub fn delete_sq(cid: u16, qid: u16) -> Sqe {
    let mut s = command(ADMIN_DELETE_SQ, cid, 0);
    s[10] = u32::from(qid);
    s
}

/// Delete I/O Completion Queue `qid`.
pub fn delete_cq(cid: u16, qid: u16) -> Sqe {
    let mut s = command(ADMIN_DELETE_CQ, cid, 0);
    s[10] = u32::from(qid);
    s
}

/// Get Log Page `lid`: `dwords0 + 1` dwords (NUMDL CDW10 31:16, NUMDU
/// CDW11 15:0) from byte `offset` (LPOL CDW12, LPOU CDW13, dword aligned)
/// into `prp1`/`prp2`.
pub fn get_log(
    cid: u16,
    lid: u8,
    nsid: u32,
    dwords0: u32,
    offset: u64,
    prp1: u64,
    prp2: u64,
) -> Sqe {
    let mut s = command(ADMIN_GET_LOG, cid, nsid);
    set_dptr(&mut s, Dptr::Prp { prp1, prp2 });
    s[10] = ((dwords0 & 0xffff) << 16) | u32::from(lid);
    s[11] = dwords0 >> 16;
    s[12] = lo(offset);
    s[13] = hi(offset);
    s
}

/// Abort command `abort_cid` of submission queue `sqid` (CDW10 CID 31:16,
/// SQID 15:0).
pub fn abort(cid: u16, sqid: u16, abort_cid: u16) -> Sqe {
    let mut s = command(ADMIN_ABORT, cid, 0);
    s[10] = (u32::from(abort_cid) << 16) | u32::from(sqid);
    s
}

/// Asynchronous Event Request.
pub fn async_event(cid: u16) -> Sqe {
    command(ADMIN_ASYNC_EVENT, cid, 0)
}

/// A completion queue entry, parsed from its four dwords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cqe {
    /// DW0: command specific.
    pub dw0: u32,
    /// SQ Head Pointer (DW2 15:0).
    pub sq_head: u16,
    /// SQ Identifier (DW2 31:16).
    pub sqid: u16,
    /// Command Identifier (DW3 15:0).
    pub cid: u16,
    /// Phase Tag (DW3 bit 16).
    pub phase: bool,
    /// Status (DW3 31:17): SC 7:0, SCT 10:8, CRD 12:11, M 13, DNR 14.
    pub status: u16,
}

impl Cqe {
    /// Parses the entry's dwords (DW0 first).
    pub fn parse(dw: [u32; 4]) -> Self {
        Cqe {
            dw0: dw[0],
            sq_head: (dw[2] & 0xffff) as u16,
            sqid: (dw[2] >> 16) as u16,
            cid: (dw[3] & 0xffff) as u16,
            phase: dw[3] & (1 << 16) != 0,
            status: (dw[3] >> 17) as u16,
        }
    }
    /// Parses the 16 bytes of an entry as the controller wrote them.
    pub fn from_bytes(b: &[u8; CQE_SIZE]) -> Self {
        Self::parse([rd_u32(b, 0), rd_u32(b, 4), rd_u32(b, 8), rd_u32(b, 12)])
    }
    /// Status Code.
    pub fn sc(&self) -> u8 {
        status_sc(self.status)
    }
    /// Status Code Type.
    pub fn sct(&self) -> u8 {
        status_sct(self.status)
    }
    /// Do Not Retry.
    pub fn dnr(&self) -> bool {
        status_dnr(self.status)
    }
    /// Successful Completion (SCT 0, SC 0).
    pub fn ok(&self) -> bool {
        self.sc() == 0 && self.sct() == 0
    }
    /// What the status means for the request, see [`outcome`].
    pub fn outcome(&self) -> Outcome {
        outcome(self.status)
    }
}

/// Status Code (bits 7:0) of a CQE status field.
pub fn status_sc(status: u16) -> u8 {
    (status & 0xff) as u8
}

/// Status Code Type (bits 10:8) of a CQE status field.
pub fn status_sct(status: u16) -> u8 {
    ((status >> 8) & 0x7) as u8
}

/// Do Not Retry (bit 14) of a CQE status field.
pub fn status_dnr(status: u16) -> bool {
    status & (1 << 14) != 0
}

/// A status field from its parts (for tests and fabric replies).
pub fn status(sct: u8, sc: u8, dnr: bool) -> u16 {
    (u16::from(dnr) << 14) | (u16::from(sct & 0x7) << 8) | u16::from(sc)
}

/// Status Code Type: Generic Command Status.
pub const SCT_GENERIC: u8 = 0;
/// Status Code Type: Command Specific Status.
pub const SCT_COMMAND: u8 = 1;
/// Status Code Type: Media and Data Integrity Errors.
pub const SCT_MEDIA: u8 = 2;

/// Generic status: Invalid Command Opcode.
pub const SC_INVALID_OPCODE: u8 = 0x01;
/// Generic status: Invalid Field in Command.
pub const SC_INVALID_FIELD: u8 = 0x02;
/// Generic status: Data Transfer Error.
pub const SC_DATA_TRANSFER: u8 = 0x04;
/// Generic status: Internal Error.
pub const SC_INTERNAL: u8 = 0x06;
/// Generic status: Command Abort Requested.
pub const SC_ABORT_REQUESTED: u8 = 0x07;
/// Generic status: Command Aborted due to SQ Deletion.
pub const SC_ABORTED_SQ_DELETION: u8 = 0x08;
/// Generic status: LBA Out of Range.
pub const SC_LBA_RANGE: u8 = 0x80;
/// Media status: Write Fault.
pub const SC_WRITE_FAULT: u8 = 0x80;
/// Media status: Unrecovered Read Error.
pub const SC_UNRECOVERED_READ: u8 = 0x81;
/// Media status: Access Denied (the last one mapped to [`Outcome::Medium`]).
pub const SC_ACCESS_DENIED: u8 = 0x86;

/// What a completion's status means for its request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Success.
    Ok,
    /// Transient: requeue the request (the controller did not set DNR).
    Retry,
    /// Any other error (`BLK_STS_IOERR`).
    IoError,
    /// A media or data integrity error (`BLK_STS_MEDIUM`).
    Medium,
    /// The controller does not support the command (`BLK_STS_NOTSUPP`).
    NotSupported,
    /// Aborted (by an Abort or an SQ deletion) with DNR set: not to be
    /// retried (`BLK_STS_IOERR`).
    Aborted,
}

/// Classifies a CQE status field (only SC, SCT and DNR count):
///
/// - SCT 0 SC 0: [`Outcome::Ok`];
/// - SCT 0 SC 07h (Command Abort Requested) or 08h (Aborted due to SQ
///   Deletion): [`Outcome::Retry`] without DNR (the caller requeues),
///   [`Outcome::Aborted`] with DNR;
/// - SCT 0 SC 04h (Data Transfer Error) or 06h (Internal Error) without
///   DNR: [`Outcome::Retry`] (with DNR: [`Outcome::IoError`]);
/// - SCT 0 SC 01h (Invalid Opcode) or 02h (Invalid Field):
///   [`Outcome::NotSupported`];
/// - SCT 2 SC 80h..=87h (Write Fault, Unrecovered Read, end-to-end guard,
///   application and reference tag checks, Compare Failure, Access
///   Denied, Deallocated or Unwritten Block): [`Outcome::Medium`];
/// - everything else: [`Outcome::IoError`].
pub fn outcome(status: u16) -> Outcome {
    let (sct, sc, dnr) = (status_sct(status), status_sc(status), status_dnr(status));
    match (sct, sc) {
        (SCT_GENERIC, 0) => Outcome::Ok,
        (SCT_GENERIC, SC_ABORT_REQUESTED | SC_ABORTED_SQ_DELETION) => {
            if dnr {
                Outcome::Aborted
            } else {
                Outcome::Retry
            }
        }
        (SCT_GENERIC, SC_DATA_TRANSFER | SC_INTERNAL) if !dnr => Outcome::Retry,
        (SCT_GENERIC, SC_INVALID_OPCODE | SC_INVALID_FIELD) => Outcome::NotSupported,
        (SCT_MEDIA, 0x80..=0x87) => Outcome::Medium,
        _ => Outcome::IoError,
    }
}

/// A command identifier: a 4-bit generation (bits 15:12) and a tag
/// (bits 11:0), so a stale or bogus CQE for a reused tag is caught.
pub fn cid(gen: u8, tag: u16) -> u16 {
    (u16::from(gen & 0xf) << 12) | (tag & 0xfff)
}

/// The tag of a [`cid`].
pub fn cid_tag(cid: u16) -> u16 {
    cid & 0xfff
}

/// The generation of a [`cid`].
pub fn cid_gen(cid: u16) -> u8 {
    (cid >> 12) as u8
}

/// Reads `N` bytes at `o`, zeros if out of range.
fn rd<const N: usize>(b: &[u8], o: usize) -> [u8; N] {
    b.get(o..o.saturating_add(N))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0; N])
}
fn rd_u8(b: &[u8], o: usize) -> u8 {
    b.get(o).copied().unwrap_or(0)
}
fn rd_u16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(rd(b, o))
}
fn rd_u32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(rd(b, o))
}
fn rd_u64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(rd(b, o))
}

/// The fields of the Identify Controller page (CNS 01h) this driver uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdCtrl {
    /// PCI Vendor ID (bytes 1:0).
    pub vid: u16,
    /// Serial Number (bytes 23:4, ASCII, space padded).
    pub sn: [u8; 20],
    /// Model Number (bytes 63:24, ASCII, space padded).
    pub mn: [u8; 40],
    /// Maximum Data Transfer Size (byte 77): `4 KiB << mdts`, 0 unlimited.
    pub mdts: u8,
    /// Controller ID (bytes 79:78).
    pub cntlid: u16,
    /// Asynchronous Event Request Limit (byte 259, 0's based).
    pub aerl: u8,
    /// SQ entry sizes (byte 512: required 3:0, maximum 7:4, log2).
    pub sqes: u8,
    /// CQ entry sizes (byte 513: required 3:0, maximum 7:4, log2).
    pub cqes: u8,
    /// Number of Namespaces (bytes 519:516).
    pub nn: u32,
    /// Optional NVM Command Support (bytes 521:520).
    pub oncs: u16,
    /// Volatile Write Cache (byte 525).
    pub vwc: u8,
    /// SGL Support (bytes 539:536).
    pub sgls: u32,
}

impl IdCtrl {
    /// Parses an Identify Controller page; `None` if shorter than 4096.
    pub fn parse(page: &[u8]) -> Option<Self> {
        if page.len() < IDENTIFY_LEN {
            return None;
        }
        Some(IdCtrl {
            vid: rd_u16(page, 0),
            sn: rd(page, 4),
            mn: rd(page, 24),
            mdts: rd_u8(page, 77),
            cntlid: rd_u16(page, 78),
            aerl: rd_u8(page, 259),
            sqes: rd_u8(page, 512),
            cqes: rd_u8(page, 513),
            nn: rd_u32(page, 516),
            oncs: rd_u16(page, 520),
            vwc: rd_u8(page, 525),
            sgls: rd_u32(page, 536),
        })
    }
    /// The largest transfer in bytes (`4096 << mdts`, with 4 KiB
    /// CAP.MPSMIN); `None` if unlimited (MDTS 0). Values beyond `u32`
    /// saturate at 2 GiB (`1 << 31`, still a power of two).
    pub fn max_transfer(&self) -> Option<u32> {
        match self.mdts {
            0 => None,
            m if m >= 20 => Some(1 << 31),
            m => Some(4096u32 << m),
        }
    }
    /// Write Zeroes is supported (ONCS bit 3).
    pub fn write_zeroes(&self) -> bool {
        self.oncs & (1 << 3) != 0
    }
    /// Dataset Management is supported (ONCS bit 2).
    pub fn dsm(&self) -> bool {
        self.oncs & (1 << 2) != 0
    }
    /// A volatile write cache is present (VWC bit 0).
    pub fn volatile_cache(&self) -> bool {
        self.vwc & 1 != 0
    }
    /// SGLs are supported for the NVM command set (SGLS bits 1:0 != 0).
    pub fn sgl(&self) -> bool {
        self.sgls & 0x3 != 0
    }
}

/// The fields of the Identify Namespace page (CNS 00h) this driver uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdNs {
    /// Namespace Size in logical blocks (bytes 7:0).
    pub nsze: u64,
    /// Namespace Capacity (bytes 15:8).
    pub ncap: u64,
    /// Namespace Utilization (bytes 23:16).
    pub nuse: u64,
    /// log2 of the logical block size of the format in use (9..=16).
    pub lbads: u8,
    /// Namespace Globally Unique Identifier (bytes 119:104).
    pub nguid: [u8; 16],
    /// IEEE Extended Unique Identifier (bytes 127:120).
    pub eui64: [u8; 8],
}

impl IdNs {
    /// Parses an Identify Namespace page: the format in use is FLBAS
    /// (byte 26) bits 3:0 | bits 6:5 << 4, its LBA Format (4 bytes at
    /// 128 + 4 * index) gives LBADS (bits 23:16). `None` if the page is
    /// shorter than 4096 or LBADS is not 9..=16 (512 B to 64 KiB; an
    /// inactive namespace's zeroed page fails here).
    pub fn parse(page: &[u8]) -> Option<Self> {
        if page.len() < IDENTIFY_LEN {
            return None;
        }
        let flbas = rd_u8(page, 26);
        let index = usize::from(flbas & 0xf) | (usize::from((flbas >> 5) & 0x3) << 4);
        let lbaf = rd_u32(page, 128 + 4 * index);
        let lbads = ((lbaf >> 16) & 0xff) as u8;
        if !(9..=16).contains(&lbads) {
            return None;
        }
        Some(IdNs {
            nsze: rd_u64(page, 0),
            ncap: rd_u64(page, 8),
            nuse: rd_u64(page, 16),
            lbads,
            nguid: rd(page, 104),
            eui64: rd(page, 120),
        })
    }
}

/// Reads an active namespace id list (Identify CNS 02h: `u32` LE ids,
/// ascending, ended by 0) into `out`; returns the ids written. Stops at
/// the first 0, at an id not above the one before it (a malformed list),
/// at the end of `page` and when `out` is full.
pub fn active_ns_list(page: &[u8], out: &mut [u32]) -> usize {
    let mut n = 0;
    let mut last = 0u32;
    for (chunk, slot) in page.chunks_exact(4).zip(out.iter_mut()) {
        let id = rd_u32(chunk, 0);
        if id == 0 || id <= last {
            break;
        }
        *slot = id;
        last = id;
        n += 1;
    }
    n
}

/// Where the next completion entry of a CQ is and which phase tag marks
/// it new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CqCursor {
    /// The entry to look at next.
    pub head: u16,
    /// The phase tag of new entries (starts 1, flips on each wrap).
    pub phase: bool,
    /// Entries of the queue.
    pub entries: u16,
}

impl CqCursor {
    /// A cursor on a freshly zeroed CQ of `entries` entries.
    pub fn new(entries: u16) -> Self {
        CqCursor {
            head: 0,
            phase: true,
            entries,
        }
    }
    /// Moves past the entry at `head`, flipping the phase on a wrap.
    pub fn advance(&mut self) {
        let next = self.head.wrapping_add(1);
        if next >= self.entries || next == 0 {
            self.head = 0;
            self.phase = !self.phase;
        } else {
            self.head = next;
        }
    }
    /// An entry whose phase tag is `cqe_phase` is new (posted since this
    /// cursor last passed its slot).
    pub fn is_new(&self, cqe_phase: bool) -> bool {
        cqe_phase == self.phase
    }
}

/// A submission queue's tail (the host's) and head (the controller's, as
/// reported in CQEs). One slot stays empty: full at `entries - 1` used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqRing {
    /// The next slot to write.
    pub tail: u16,
    /// The oldest slot the controller has not consumed.
    pub head: u16,
    /// Entries of the queue.
    pub entries: u16,
}

impl SqRing {
    /// An empty ring of `entries` entries.
    pub fn new(entries: u16) -> Self {
        SqRing {
            tail: 0,
            head: 0,
            entries,
        }
    }
    fn next(&self, i: u16) -> u16 {
        if self.entries == 0 {
            return 0;
        }
        ((u32::from(i) + 1) % u32::from(self.entries)) as u16
    }
    /// No slot is free (always so for a ring of fewer than 2 entries).
    pub fn is_full(&self) -> bool {
        self.entries < 2 || self.next(self.tail) == self.head
    }
    /// Slots written and not yet consumed by the controller.
    pub fn used(&self) -> u16 {
        if self.entries == 0 {
            return 0;
        }
        let e = u32::from(self.entries);
        ((u32::from(self.tail) + e - u32::from(self.head) % e) % e) as u16
    }
    /// Takes the slot at the tail and advances the tail (the value to
    /// write to the SQ tail doorbell is then `tail`); `None` if full.
    pub fn push(&mut self) -> Option<u16> {
        if self.is_full() {
            return None;
        }
        let slot = self.tail;
        self.tail = self.next(slot);
        Some(slot)
    }
    /// Takes the SQ head a CQE reported; `false` (and no change) if it is
    /// not a slot of the ring.
    pub fn set_head(&mut self, head: u16) -> bool {
        if head >= self.entries {
            return false;
        }
        self.head = head;
        true
    }
}

/// The lazy CQ head doorbell: it is written only after `threshold`
/// consumed entries (docs/nvme-share.md section 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LazyHead {
    /// Entries consumed since the head doorbell was last written.
    pub unacked: u16,
    /// How many make a doorbell write due.
    pub threshold: u16,
}

impl LazyHead {
    /// Nothing unacknowledged, a doorbell every `threshold` entries.
    pub fn new(threshold: u16) -> Self {
        LazyHead {
            unacked: 0,
            threshold,
        }
    }
    /// Counts one consumed entry; `true` if the head doorbell must be
    /// written now (then the count starts again).
    pub fn consumed(&mut self) -> bool {
        self.unacked = self.unacked.saturating_add(1);
        if self.unacked >= self.threshold {
            self.unacked = 0;
            true
        } else {
            false
        }
    }
}
