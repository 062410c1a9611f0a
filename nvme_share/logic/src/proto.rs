// SPDX-License-Identifier: GPL-2.0

//! The fabric messages of `rsio_nvme_share` (docs/nvme-share.md section
//! 5): types `0x400..0x420`, little-endian payloads of one exact length
//! per type (version 1; fields are only ever added at the end, a longer
//! payload is a later version and refused here).
//!
//! `decode` checks the form (length, zero reserved bytes, known flags,
//! value ranges) and answers [`Bad`]; the `check_*` functions check the
//! meaning against the receiver's state and answer [`Refusal`].

/// First message type of this feature.
pub const MT_FIRST: u16 = 0x400;
/// Message types this feature owns (`MT_FIRST..MT_FIRST + MT_COUNT`).
pub const MT_COUNT: u16 = 0x20;

/// Event, no payload: sent on `peer_up`, answered with one
/// [`CTRL_ANNOUNCE`] per shared controller.
pub const LIST_REQ: u16 = 0x400;
/// Event, [`Announce`]: a shared controller (on share, reset, request).
pub const CTRL_ANNOUNCE: u16 = 0x401;
/// Event, [`CtrlEvent`] (value: reason): unshared, no DMA after it.
pub const CTRL_GONE: u16 = 0x402;
/// Event, [`CtrlEvent`] (value: generation): being reset, queues gone.
pub const CTRL_RESET: u16 = 0x403;
/// Event, [`CtrlEvent`] (value: new generation): re-create queues.
pub const CTRL_READY: u16 = 0x404;
/// Event, [`Revoke`]: the manager detaches a client.
pub const REVOKE: u16 = 0x405;
/// Event (client to manager), [`Hung`]: a command timed out twice.
pub const CLIENT_HUNG: u16 = 0x406;
/// Request [`AttachReq`], response [`AttachReply`].
pub const ATTACH: u16 = 0x410;
/// Request [`Ref`], no response payload.
pub const DETACH: u16 = 0x411;
/// Request [`NsInfoReq`], response [`NsInfo`] (`ENOENT` past the end).
pub const NS_INFO: u16 = 0x412;
/// Request [`CreateQpair`]; response empty, or a [`StatusReply`] with
/// `-EIO` when the controller refused.
pub const CREATE_QPAIR: u16 = 0x413;
/// Request [`QpairRef`] (cid 0), no response payload.
pub const DELETE_QPAIR: u16 = 0x414;
/// Request [`QpairRef`]: Abort on the client's behalf.
pub const ABORT: u16 = 0x415;
/// Request [`GetLogReq`]; response the log's `len` bytes.
pub const GET_LOG: u16 = 0x416;
/// Request [`GetFeatureReq`]; response [`FeatureReply`].
pub const GET_FEATURE: u16 = 0x417;

/// The I/O queue ids a controller may have (`1..=MAX_QID`).
pub const MAX_QID: u16 = 64;
/// Queue pairs one client may hold (the uapi's `NVME_MAX_CLIENT_QPAIRS`).
pub const MAX_CLIENT_QPAIRS: u32 = 16;
/// Remote-interrupt vectors of a node (`USER(k)`, `k < MAX_VECTORS`).
pub const MAX_VECTORS: u16 = 32;
/// The largest [`GetLogReq::len`].
pub const MAX_LOG_LEN: u32 = 192;

/// A malformed payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bad {
    /// Not the type's exact length.
    Length,
    /// A reserved field is not zero.
    Reserved,
    /// An unknown flag bit is set.
    Flags,
    /// A field is out of its range.
    Value,
}

/// The payload length of a request or event type; `None` for a type this
/// feature does not define.
pub fn payload_len(mtype: u16) -> Option<usize> {
    Some(match mtype {
        LIST_REQ => 0,
        CTRL_ANNOUNCE => Announce::LEN,
        CTRL_GONE | CTRL_RESET | CTRL_READY => CtrlEvent::LEN,
        REVOKE => Revoke::LEN,
        CLIENT_HUNG => Hung::LEN,
        ATTACH => AttachReq::LEN,
        DETACH => Ref::LEN,
        NS_INFO => NsInfoReq::LEN,
        CREATE_QPAIR => CreateQpair::LEN,
        DELETE_QPAIR | ABORT => QpairRef::LEN,
        GET_LOG => GetLogReq::LEN,
        GET_FEATURE => GetFeatureReq::LEN,
        _ => return None,
    })
}

/// `mtype` is in this feature's range.
pub fn is_ours(mtype: u16) -> bool {
    mtype.wrapping_sub(MT_FIRST) < MT_COUNT
}

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
fn put(b: &mut [u8], o: usize, v: &[u8]) {
    if let Some(d) = b.get_mut(o..) {
        for (d, s) in d.iter_mut().zip(v) {
            *d = *s;
        }
    }
}
fn zero(b: &[u8], o: usize, n: usize) -> bool {
    b.iter().skip(o).take(n).all(|&x| x == 0)
}
fn exact(b: &[u8], len: usize) -> Result<(), Bad> {
    if b.len() == len {
        Ok(())
    } else {
        Err(Bad::Length)
    }
}
fn check(ok: bool, bad: Bad) -> Result<(), Bad> {
    if ok {
        Ok(())
    } else {
        Err(bad)
    }
}

/// [`Announce::state`]: usable (the uapi's `NVME_CTRL_READY`).
pub const STATE_READY: u32 = 1;
/// [`Announce::state`]: being reset.
pub const STATE_RESETTING: u32 = 2;
/// [`Announce::state`]: failed (its manager disabled it).
pub const STATE_FAILED: u32 = 3;
/// [`Announce::state`]: going away.
pub const STATE_GONE: u32 = 4;
/// [`Announce::flags`]: the manager confines the controller's DMA with its
/// IOMMU.
pub const ANNOUNCE_IOMMU: u32 = 1 << 0;
/// The [`Announce::flags`] bits version 1 knows.
pub const ANNOUNCE_FLAGS: u32 = ANNOUNCE_IOMMU;

/// [`CTRL_ANNOUNCE`]: a shared controller.
///
/// ```text
/// 0x00 ctrl u32       0x04 gen u32         0x08 state u32 (1..=4)
/// 0x0c flags u32      0x10 nn u32          0x14 qpairs_total u32 (<= 64)
/// 0x18 qpairs_free u32 (<= total)          0x1c quota u32 (<= 16)
/// 0x20 domain u32 (<= 0xffff)  0x24 bus u32 (<= 0xff)  0x28 devfn u32 (<= 0xff)
/// 0x2c serial [u8; 20]  0x40 model [u8; 40]  (0x68 bytes)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announce {
    /// The controller's fabric name (`node << 16 | index`).
    pub ctrl: u32,
    /// Its reset generation.
    pub gen: u32,
    /// `STATE_*`.
    pub state: u32,
    /// `ANNOUNCE_*` flags.
    pub flags: u32,
    /// Number of namespaces (Identify `NN`).
    pub nn: u32,
    /// I/O queue pairs the manager has (`P`).
    pub qpairs_total: u32,
    /// Of those, not allotted.
    pub qpairs_free: u32,
    /// Queue pairs one client may hold.
    pub quota: u32,
    /// PCI domain on the manager.
    pub domain: u32,
    /// PCI bus on the manager.
    pub bus: u32,
    /// PCI devfn on the manager.
    pub devfn: u32,
    /// Serial number (ASCII, space padded).
    pub serial: [u8; 20],
    /// Model number (ASCII, space padded).
    pub model: [u8; 40],
}

impl Announce {
    /// Payload bytes.
    pub const LEN: usize = 0x68;
    /// The payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        put(&mut b, 0x00, &self.ctrl.to_le_bytes());
        put(&mut b, 0x04, &self.gen.to_le_bytes());
        put(&mut b, 0x08, &self.state.to_le_bytes());
        put(&mut b, 0x0c, &self.flags.to_le_bytes());
        put(&mut b, 0x10, &self.nn.to_le_bytes());
        put(&mut b, 0x14, &self.qpairs_total.to_le_bytes());
        put(&mut b, 0x18, &self.qpairs_free.to_le_bytes());
        put(&mut b, 0x1c, &self.quota.to_le_bytes());
        put(&mut b, 0x20, &self.domain.to_le_bytes());
        put(&mut b, 0x24, &self.bus.to_le_bytes());
        put(&mut b, 0x28, &self.devfn.to_le_bytes());
        put(&mut b, 0x2c, &self.serial);
        put(&mut b, 0x40, &self.model);
        b
    }
    /// Parses and checks a payload.
    pub fn decode(b: &[u8]) -> Result<Self, Bad> {
        exact(b, Self::LEN)?;
        let m = Announce {
            ctrl: rd_u32(b, 0x00),
            gen: rd_u32(b, 0x04),
            state: rd_u32(b, 0x08),
            flags: rd_u32(b, 0x0c),
            nn: rd_u32(b, 0x10),
            qpairs_total: rd_u32(b, 0x14),
            qpairs_free: rd_u32(b, 0x18),
            quota: rd_u32(b, 0x1c),
            domain: rd_u32(b, 0x20),
            bus: rd_u32(b, 0x24),
            devfn: rd_u32(b, 0x28),
            serial: rd(b, 0x2c),
            model: rd(b, 0x40),
        };
        check(m.flags & !ANNOUNCE_FLAGS == 0, Bad::Flags)?;
        check((STATE_READY..=STATE_GONE).contains(&m.state), Bad::Value)?;
        check(m.qpairs_total <= u32::from(MAX_QID), Bad::Value)?;
        check(m.qpairs_free <= m.qpairs_total, Bad::Value)?;
        check(m.quota <= MAX_CLIENT_QPAIRS, Bad::Value)?;
        check(
            m.domain <= 0xffff && m.bus <= 0xff && m.devfn <= 0xff,
            Bad::Value,
        )?;
        Ok(m)
    }
}

/// [`CTRL_GONE`] (value: reason), [`CTRL_RESET`] (value: the generation
/// ending), [`CTRL_READY`] (value: the new generation).
///
/// ```text
/// 0x00 ctrl u32  0x04 value u32  (8 bytes)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtrlEvent {
    /// The controller.
    pub ctrl: u32,
    /// Reason or generation, by type.
    pub value: u32,
}

impl CtrlEvent {
    /// Payload bytes.
    pub const LEN: usize = 8;
    /// The payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        put(&mut b, 0, &self.ctrl.to_le_bytes());
        put(&mut b, 4, &self.value.to_le_bytes());
        b
    }
    /// Parses and checks a payload.
    pub fn decode(b: &[u8]) -> Result<Self, Bad> {
        exact(b, Self::LEN)?;
        Ok(CtrlEvent {
            ctrl: rd_u32(b, 0),
            value: rd_u32(b, 4),
        })
    }
}

/// [`REVOKE`]: the manager detaches attachment `attach`.
///
/// ```text
/// 0x00 ctrl u32  0x04 attach u32  0x08 reason u32  (12 bytes)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revoke {
    /// The controller.
    pub ctrl: u32,
    /// The attachment.
    pub attach: u32,
    /// Why (informational).
    pub reason: u32,
}

impl Revoke {
    /// Payload bytes.
    pub const LEN: usize = 12;
    /// The payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        put(&mut b, 0, &self.ctrl.to_le_bytes());
        put(&mut b, 4, &self.attach.to_le_bytes());
        put(&mut b, 8, &self.reason.to_le_bytes());
        b
    }
    /// Parses and checks a payload.
    pub fn decode(b: &[u8]) -> Result<Self, Bad> {
        exact(b, Self::LEN)?;
        Ok(Revoke {
            ctrl: rd_u32(b, 0),
            attach: rd_u32(b, 4),
            reason: rd_u32(b, 8),
        })
    }
}

/// [`CLIENT_HUNG`]: command `cid` on I/O queue `qid` timed out twice.
///
/// ```text
/// 0x00 ctrl u32  0x04 attach u32  0x08 gen u32  0x0c qid u16  0x0e cid u16
/// (16 bytes)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hung {
    /// The controller.
    pub ctrl: u32,
    /// The attachment.
    pub attach: u32,
    /// The controller generation the client saw.
    pub gen: u32,
    /// The I/O queue.
    pub qid: u16,
    /// The command.
    pub cid: u16,
}

impl Hung {
    /// Payload bytes.
    pub const LEN: usize = 16;
    /// The payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        put(&mut b, 0x0, &self.ctrl.to_le_bytes());
        put(&mut b, 0x4, &self.attach.to_le_bytes());
        put(&mut b, 0x8, &self.gen.to_le_bytes());
        put(&mut b, 0xc, &self.qid.to_le_bytes());
        put(&mut b, 0xe, &self.cid.to_le_bytes());
        b
    }
    /// Parses and checks a payload.
    pub fn decode(b: &[u8]) -> Result<Self, Bad> {
        exact(b, Self::LEN)?;
        Ok(Hung {
            ctrl: rd_u32(b, 0x0),
            attach: rd_u32(b, 0x4),
            gen: rd_u32(b, 0x8),
            qid: rd_u16(b, 0xc),
            cid: rd_u16(b, 0xe),
        })
    }
}

/// [`AttachReq::flags`]: read-only attachment (every disk read only).
pub const ATTACH_RO: u32 = 1 << 0;
/// The [`AttachReq::flags`] bits version 1 knows.
pub const ATTACH_FLAGS: u32 = ATTACH_RO;

/// [`ATTACH`] request.
///
/// ```text
/// 0x00 ctrl u32  0x04 qpairs u32 (0..=16)  0x08 flags u32  0x0c reserved u32
/// (16 bytes)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttachReq {
    /// The controller.
    pub ctrl: u32,
    /// Queue pairs wanted (0: the quota).
    pub qpairs: u32,
    /// `ATTACH_*`.
    pub flags: u32,
}

impl AttachReq {
    /// Payload bytes.
    pub const LEN: usize = 16;
    /// The payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        put(&mut b, 0, &self.ctrl.to_le_bytes());
        put(&mut b, 4, &self.qpairs.to_le_bytes());
        put(&mut b, 8, &self.flags.to_le_bytes());
        b
    }
    /// Parses and checks a payload.
    pub fn decode(b: &[u8]) -> Result<Self, Bad> {
        exact(b, Self::LEN)?;
        check(zero(b, 12, 4), Bad::Reserved)?;
        let m = AttachReq {
            ctrl: rd_u32(b, 0),
            qpairs: rd_u32(b, 4),
            flags: rd_u32(b, 8),
        };
        check(m.flags & !ATTACH_FLAGS == 0, Bad::Flags)?;
        check(m.qpairs <= MAX_CLIENT_QPAIRS, Bad::Value)?;
        Ok(m)
    }
}

/// [`ATTACH`] response.
///
/// ```text
/// 0x00 attach u32        0x04 gen u32
/// 0x08 dma_base u64      0x10 dma_span u64 (a power of two)
/// 0x18 db_window u32     0x1c db_len u32
/// 0x20 dstrd u32 (<= 15) 0x24 mqes u32 (<= 0xffff)
/// 0x28 max_transfer u32  0x2c vwc u32   0x30 oncs u32  0x34 sgls u32
/// 0x38 nn u32            0x3c granted u32 (= qids' bits, <= 16)
/// 0x40 qids u64          (0x48 bytes)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttachReply {
    /// The attachment's id.
    pub attach: u32,
    /// The controller's generation.
    pub gen: u32,
    /// The manager's bus address of the client's span of the direct
    /// window: the controller reaches client physical `X` at
    /// `dma_base + X`.
    pub dma_base: u64,
    /// Bytes of that span; client RAM must lie below it.
    pub dma_span: u64,
    /// The doorbell window (where the client maps the doorbell page).
    pub db_window: u32,
    /// Bytes of the doorbell window.
    pub db_len: u32,
    /// CAP.DSTRD.
    pub dstrd: u32,
    /// CAP.MQES (0's based).
    pub mqes: u32,
    /// Largest transfer in bytes (0: unlimited).
    pub max_transfer: u32,
    /// Identify VWC.
    pub vwc: u32,
    /// Identify ONCS.
    pub oncs: u32,
    /// Identify SGLS.
    pub sgls: u32,
    /// Identify NN.
    pub nn: u32,
    /// Queue pairs granted (bits set in `qids`).
    pub granted: u32,
    /// Bit `q - 1`: I/O queue pair `q` is the client's.
    pub qids: u64,
}

impl AttachReply {
    /// Payload bytes.
    pub const LEN: usize = 0x48;
    /// The payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        put(&mut b, 0x00, &self.attach.to_le_bytes());
        put(&mut b, 0x04, &self.gen.to_le_bytes());
        put(&mut b, 0x08, &self.dma_base.to_le_bytes());
        put(&mut b, 0x10, &self.dma_span.to_le_bytes());
        put(&mut b, 0x18, &self.db_window.to_le_bytes());
        put(&mut b, 0x1c, &self.db_len.to_le_bytes());
        put(&mut b, 0x20, &self.dstrd.to_le_bytes());
        put(&mut b, 0x24, &self.mqes.to_le_bytes());
        put(&mut b, 0x28, &self.max_transfer.to_le_bytes());
        put(&mut b, 0x2c, &self.vwc.to_le_bytes());
        put(&mut b, 0x30, &self.oncs.to_le_bytes());
        put(&mut b, 0x34, &self.sgls.to_le_bytes());
        put(&mut b, 0x38, &self.nn.to_le_bytes());
        put(&mut b, 0x3c, &self.granted.to_le_bytes());
        put(&mut b, 0x40, &self.qids.to_le_bytes());
        b
    }
    /// Parses and checks a payload.
    pub fn decode(b: &[u8]) -> Result<Self, Bad> {
        exact(b, Self::LEN)?;
        let m = AttachReply {
            attach: rd_u32(b, 0x00),
            gen: rd_u32(b, 0x04),
            dma_base: rd_u64(b, 0x08),
            dma_span: rd_u64(b, 0x10),
            db_window: rd_u32(b, 0x18),
            db_len: rd_u32(b, 0x1c),
            dstrd: rd_u32(b, 0x20),
            mqes: rd_u32(b, 0x24),
            max_transfer: rd_u32(b, 0x28),
            vwc: rd_u32(b, 0x2c),
            oncs: rd_u32(b, 0x30),
            sgls: rd_u32(b, 0x34),
            nn: rd_u32(b, 0x38),
            granted: rd_u32(b, 0x3c),
            qids: rd_u64(b, 0x40),
        };
        check(m.granted == m.qids.count_ones(), Bad::Value)?;
        check(m.granted <= MAX_CLIENT_QPAIRS, Bad::Value)?;
        check(m.dma_span.is_power_of_two(), Bad::Value)?;
        // The client adds addresses below the span to the base.
        check(m.dma_base.checked_add(m.dma_span).is_some(), Bad::Value)?;
        check(m.dstrd <= 0xf, Bad::Value)?;
        check(m.mqes <= 0xffff, Bad::Value)?;
        Ok(m)
    }
}

/// [`DETACH`]: an attachment.
///
/// ```text
/// 0x00 ctrl u32  0x04 attach u32  (8 bytes)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ref {
    /// The controller.
    pub ctrl: u32,
    /// The attachment.
    pub attach: u32,
}

impl Ref {
    /// Payload bytes.
    pub const LEN: usize = 8;
    /// The payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        put(&mut b, 0, &self.ctrl.to_le_bytes());
        put(&mut b, 4, &self.attach.to_le_bytes());
        b
    }
    /// Parses and checks a payload.
    pub fn decode(b: &[u8]) -> Result<Self, Bad> {
        exact(b, Self::LEN)?;
        Ok(Ref {
            ctrl: rd_u32(b, 0),
            attach: rd_u32(b, 4),
        })
    }
}

/// [`NS_INFO`] request: the `index`-th namespace (from 0).
///
/// ```text
/// 0x00 ctrl u32  0x04 attach u32  0x08 index u32  0x0c reserved u32
/// (16 bytes)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsInfoReq {
    /// The controller.
    pub ctrl: u32,
    /// The attachment.
    pub attach: u32,
    /// Which namespace of the manager's list.
    pub index: u32,
}

impl NsInfoReq {
    /// Payload bytes.
    pub const LEN: usize = 16;
    /// The payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        put(&mut b, 0, &self.ctrl.to_le_bytes());
        put(&mut b, 4, &self.attach.to_le_bytes());
        put(&mut b, 8, &self.index.to_le_bytes());
        b
    }
    /// Parses and checks a payload.
    pub fn decode(b: &[u8]) -> Result<Self, Bad> {
        exact(b, Self::LEN)?;
        check(zero(b, 12, 4), Bad::Reserved)?;
        Ok(NsInfoReq {
            ctrl: rd_u32(b, 0),
            attach: rd_u32(b, 4),
            index: rd_u32(b, 8),
        })
    }
}

/// [`NS_INFO`] response.
///
/// ```text
/// 0x00 nsid u32 (!= 0)   0x04 lbads u32 (9..=16)  0x08 nsze u64
/// 0x10 nguid [u8; 16]
/// 0x20 policy u32 (0, 1)  0x24 policy_node u32  0x28 policy_flags u32 (RO)
/// 0x2c access u32 (0..=2) (0x30 bytes)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsInfo {
    /// The namespace id.
    pub nsid: u32,
    /// log2 of the logical block size.
    pub lbads: u32,
    /// Size in logical blocks.
    pub nsze: u64,
    /// Namespace Globally Unique Identifier.
    pub nguid: [u8; 16],
    /// `super::policy::POLICY_SHARED` or `POLICY_ASSIGNED`.
    pub policy: u32,
    /// `ASSIGNED`: the node.
    pub policy_node: u32,
    /// `super::policy::POLICY_RO`.
    pub policy_flags: u32,
    /// What the asking node may do: `super::policy::ACCESS_*`.
    pub access: u32,
}

impl NsInfo {
    /// Payload bytes.
    pub const LEN: usize = 0x30;
    /// The payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        put(&mut b, 0x00, &self.nsid.to_le_bytes());
        put(&mut b, 0x04, &self.lbads.to_le_bytes());
        put(&mut b, 0x08, &self.nsze.to_le_bytes());
        put(&mut b, 0x10, &self.nguid);
        put(&mut b, 0x20, &self.policy.to_le_bytes());
        put(&mut b, 0x24, &self.policy_node.to_le_bytes());
        put(&mut b, 0x28, &self.policy_flags.to_le_bytes());
        put(&mut b, 0x2c, &self.access.to_le_bytes());
        b
    }
    /// Parses and checks a payload.
    pub fn decode(b: &[u8]) -> Result<Self, Bad> {
        use super::policy::{ACCESS_RW, POLICY_ASSIGNED, POLICY_FLAGS};
        exact(b, Self::LEN)?;
        let m = NsInfo {
            nsid: rd_u32(b, 0x00),
            lbads: rd_u32(b, 0x04),
            nsze: rd_u64(b, 0x08),
            nguid: rd(b, 0x10),
            policy: rd_u32(b, 0x20),
            policy_node: rd_u32(b, 0x24),
            policy_flags: rd_u32(b, 0x28),
            access: rd_u32(b, 0x2c),
        };
        check(m.policy_flags & !POLICY_FLAGS == 0, Bad::Flags)?;
        check(m.nsid != 0, Bad::Value)?;
        check((9..=16).contains(&m.lbads), Bad::Value)?;
        check(m.policy <= POLICY_ASSIGNED, Bad::Value)?;
        check(m.access <= ACCESS_RW, Bad::Value)?;
        Ok(m)
    }
}

/// [`CREATE_QPAIR`]: create I/O queue pair `qid` on the client's memory.
///
/// ```text
/// 0x00 ctrl u32  0x04 attach u32  0x08 gen u32  0x0c qid u16  0x0e vector u16 (< 32)
/// 0x10 sq_entries u32  0x14 cq_entries u32
/// 0x18 sq_addr u64     0x20 cq_addr u64  (0x28 bytes)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateQpair {
    /// The controller.
    pub ctrl: u32,
    /// The attachment.
    pub attach: u32,
    /// The controller generation the client saw.
    pub gen: u32,
    /// The I/O queue id (one granted).
    pub qid: u16,
    /// The client's remote-interrupt vector `USER(k)` for the CQ.
    pub vector: u16,
    /// SQ entries (not 0's based).
    pub sq_entries: u32,
    /// CQ entries (not 0's based).
    pub cq_entries: u32,
    /// The SQ's physical address on the client.
    pub sq_addr: u64,
    /// The CQ's physical address on the client.
    pub cq_addr: u64,
}

impl CreateQpair {
    /// Payload bytes.
    pub const LEN: usize = 0x28;
    /// The payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        put(&mut b, 0x00, &self.ctrl.to_le_bytes());
        put(&mut b, 0x04, &self.attach.to_le_bytes());
        put(&mut b, 0x08, &self.gen.to_le_bytes());
        put(&mut b, 0x0c, &self.qid.to_le_bytes());
        put(&mut b, 0x0e, &self.vector.to_le_bytes());
        put(&mut b, 0x10, &self.sq_entries.to_le_bytes());
        put(&mut b, 0x14, &self.cq_entries.to_le_bytes());
        put(&mut b, 0x18, &self.sq_addr.to_le_bytes());
        put(&mut b, 0x20, &self.cq_addr.to_le_bytes());
        b
    }
    /// Parses and checks a payload.
    pub fn decode(b: &[u8]) -> Result<Self, Bad> {
        exact(b, Self::LEN)?;
        let m = CreateQpair {
            ctrl: rd_u32(b, 0x00),
            attach: rd_u32(b, 0x04),
            gen: rd_u32(b, 0x08),
            qid: rd_u16(b, 0x0c),
            vector: rd_u16(b, 0x0e),
            sq_entries: rd_u32(b, 0x10),
            cq_entries: rd_u32(b, 0x14),
            sq_addr: rd_u64(b, 0x18),
            cq_addr: rd_u64(b, 0x20),
        };
        check(m.vector < MAX_VECTORS, Bad::Value)?;
        Ok(m)
    }
}

/// [`DELETE_QPAIR`] (cid 0) and [`ABORT`] (command `cid` of SQ `qid`).
///
/// ```text
/// 0x00 ctrl u32  0x04 attach u32  0x08 gen u32  0x0c qid u16  0x0e cid u16
/// (16 bytes)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QpairRef {
    /// The controller.
    pub ctrl: u32,
    /// The attachment.
    pub attach: u32,
    /// The controller generation the client saw.
    pub gen: u32,
    /// The I/O queue id.
    pub qid: u16,
    /// `ABORT`: the command; `DELETE_QPAIR`: 0.
    pub cid: u16,
}

impl QpairRef {
    /// Payload bytes.
    pub const LEN: usize = 16;
    /// The payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        put(&mut b, 0x0, &self.ctrl.to_le_bytes());
        put(&mut b, 0x4, &self.attach.to_le_bytes());
        put(&mut b, 0x8, &self.gen.to_le_bytes());
        put(&mut b, 0xc, &self.qid.to_le_bytes());
        put(&mut b, 0xe, &self.cid.to_le_bytes());
        b
    }
    /// Parses and checks a payload.
    pub fn decode(b: &[u8]) -> Result<Self, Bad> {
        exact(b, Self::LEN)?;
        Ok(QpairRef {
            ctrl: rd_u32(b, 0x0),
            attach: rd_u32(b, 0x4),
            gen: rd_u32(b, 0x8),
            qid: rd_u16(b, 0xc),
            cid: rd_u16(b, 0xe),
        })
    }
}

/// [`GET_LOG`]: `len` bytes of log `lid` from byte `offset`.
///
/// ```text
/// 0x00 ctrl u32  0x04 attach u32  0x08 lid u8  0x09 reserved [u8; 3]
/// 0x0c nsid u32  0x10 offset u32 (dword aligned)
/// 0x14 len u32 (4..=192, multiple of 4)  (0x18 bytes)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetLogReq {
    /// The controller.
    pub ctrl: u32,
    /// The attachment.
    pub attach: u32,
    /// Log Page Identifier.
    pub lid: u8,
    /// Namespace (0xffff_ffff: all).
    pub nsid: u32,
    /// Byte offset into the log.
    pub offset: u32,
    /// Bytes wanted.
    pub len: u32,
}

impl GetLogReq {
    /// Payload bytes.
    pub const LEN: usize = 0x18;
    /// The payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        put(&mut b, 0x00, &self.ctrl.to_le_bytes());
        put(&mut b, 0x04, &self.attach.to_le_bytes());
        put(&mut b, 0x08, &[self.lid]);
        put(&mut b, 0x0c, &self.nsid.to_le_bytes());
        put(&mut b, 0x10, &self.offset.to_le_bytes());
        put(&mut b, 0x14, &self.len.to_le_bytes());
        b
    }
    /// Parses and checks a payload.
    pub fn decode(b: &[u8]) -> Result<Self, Bad> {
        exact(b, Self::LEN)?;
        check(zero(b, 0x09, 3), Bad::Reserved)?;
        let m = GetLogReq {
            ctrl: rd_u32(b, 0x00),
            attach: rd_u32(b, 0x04),
            lid: rd_u8(b, 0x08),
            nsid: rd_u32(b, 0x0c),
            offset: rd_u32(b, 0x10),
            len: rd_u32(b, 0x14),
        };
        check(
            (4..=MAX_LOG_LEN).contains(&m.len) && m.len & 3 == 0,
            Bad::Value,
        )?;
        check(m.offset & 3 == 0, Bad::Value)?;
        Ok(m)
    }
}

/// [`GET_FEATURE`]: the current value of feature `fid`.
///
/// ```text
/// 0x00 ctrl u32  0x04 attach u32  0x08 fid u8  0x09 reserved [u8; 3]
/// 0x0c nsid u32  (16 bytes)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetFeatureReq {
    /// The controller.
    pub ctrl: u32,
    /// The attachment.
    pub attach: u32,
    /// Feature Identifier.
    pub fid: u8,
    /// Namespace (0 for controller-wide features).
    pub nsid: u32,
}

impl GetFeatureReq {
    /// Payload bytes.
    pub const LEN: usize = 16;
    /// The payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        put(&mut b, 0x0, &self.ctrl.to_le_bytes());
        put(&mut b, 0x4, &self.attach.to_le_bytes());
        put(&mut b, 0x8, &[self.fid]);
        put(&mut b, 0xc, &self.nsid.to_le_bytes());
        b
    }
    /// Parses and checks a payload.
    pub fn decode(b: &[u8]) -> Result<Self, Bad> {
        exact(b, Self::LEN)?;
        check(zero(b, 0x9, 3), Bad::Reserved)?;
        Ok(GetFeatureReq {
            ctrl: rd_u32(b, 0x0),
            attach: rd_u32(b, 0x4),
            fid: rd_u8(b, 0x8),
            nsid: rd_u32(b, 0xc),
        })
    }
}

/// [`GET_FEATURE`] response: the completion's DW0.
///
/// ```text
/// 0x00 dw0 u32  (4 bytes)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureReply {
    /// Completion queue entry DW0 (the feature's value).
    pub dw0: u32,
}

impl FeatureReply {
    /// Payload bytes.
    pub const LEN: usize = 4;
    /// The payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        self.dw0.to_le_bytes()
    }
    /// Parses and checks a payload.
    pub fn decode(b: &[u8]) -> Result<Self, Bad> {
        exact(b, Self::LEN)?;
        Ok(FeatureReply { dw0: rd_u32(b, 0) })
    }
}

/// The payload of an admin request's `-EIO` response: the NVMe status the
/// controller answered (CQE DW3 31:17, see `super::nvme::Cqe::status`).
///
/// ```text
/// 0x00 status u16 (<= 0x7fff)  0x02 reserved u16  (4 bytes)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusReply {
    /// The status field.
    pub status: u16,
}

impl StatusReply {
    /// Payload bytes.
    pub const LEN: usize = 4;
    /// The payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        put(&mut b, 0, &self.status.to_le_bytes());
        b
    }
    /// Parses and checks a payload.
    pub fn decode(b: &[u8]) -> Result<Self, Bad> {
        exact(b, Self::LEN)?;
        check(zero(b, 2, 2), Bad::Reserved)?;
        let m = StatusReply {
            status: rd_u16(b, 0),
        };
        check(m.status <= 0x7fff, Bad::Value)?;
        Ok(m)
    }
}

/// A well-formed request the receiver does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// An old controller generation (`ESTALE`: the client re-syncs).
    Stale,
    /// The qid is not one of the attachment's.
    NotGranted,
    /// Queue entries out of range.
    BadEntries,
    /// A queue address misaligned or out of the client's DMA span.
    BadAddress,
    /// Not a remote-interrupt vector.
    BadVector,
    /// A log page or feature not on the allow-list.
    NotAllowed,
    /// An offset or length out of range.
    Range,
}

/// Bytes of an SQ entry (`super::nvme::SQE_SIZE`).
const SQE_BYTES: u64 = 64;
/// Bytes of a CQ entry (`super::nvme::CQE_SIZE`).
const CQE_BYTES: u64 = 16;

/// `qid` (`1..=64`) is set in `granted` (bit `qid - 1`).
pub fn qid_granted(qid: u16, granted: u64) -> bool {
    (1..=MAX_QID).contains(&qid) && granted & (1u64 << (qid - 1)) != 0
}

fn queue_fits(addr: u64, entries: u32, entry_size: u64, dma_span: u64) -> bool {
    addr & 0xfff == 0
        && u64::from(entries)
            .checked_mul(entry_size)
            .and_then(|len| addr.checked_add(len))
            .is_some_and(|end| end <= dma_span)
}

/// Checks a [`CreateQpair`] against the controller generation `gen`, the
/// attachment's `granted` qids, CAP.MQES and the client's `dma_span`, in
/// this order: the generation ([`Refusal::Stale`]); the qid
/// ([`Refusal::NotGranted`]); entries in `2..=mqes + 1` each with
/// `cq_entries >= sq_entries` ([`Refusal::BadEntries`]); both addresses
/// 4 KiB aligned with the queue (SQ 64 B, CQ 16 B per entry) ending at
/// or below `dma_span` ([`Refusal::BadAddress`]); the vector below 32
/// ([`Refusal::BadVector`]).
pub fn check_create(
    r: &CreateQpair,
    gen: u32,
    granted: u64,
    mqes: u16,
    dma_span: u64,
) -> Result<(), Refusal> {
    if r.gen != gen {
        return Err(Refusal::Stale);
    }
    if !qid_granted(r.qid, granted) {
        return Err(Refusal::NotGranted);
    }
    let entries = 2..=u32::from(mqes) + 1;
    if !entries.contains(&r.sq_entries)
        || !entries.contains(&r.cq_entries)
        || r.cq_entries < r.sq_entries
    {
        return Err(Refusal::BadEntries);
    }
    if !queue_fits(r.sq_addr, r.sq_entries, SQE_BYTES, dma_span)
        || !queue_fits(r.cq_addr, r.cq_entries, CQE_BYTES, dma_span)
    {
        return Err(Refusal::BadAddress);
    }
    if r.vector >= MAX_VECTORS {
        return Err(Refusal::BadVector);
    }
    Ok(())
}

/// Checks a [`QpairRef`] (`DELETE_QPAIR`, `ABORT`) or the fields of a
/// [`Hung`]: the generation ([`Refusal::Stale`]), then the qid
/// ([`Refusal::NotGranted`]).
pub fn check_qpair(msg_gen: u32, qid: u16, gen: u32, granted: u64) -> Result<(), Refusal> {
    if msg_gen != gen {
        return Err(Refusal::Stale);
    }
    if !qid_granted(qid, granted) {
        return Err(Refusal::NotGranted);
    }
    Ok(())
}

/// Checks a [`GetLogReq`]: the log on the allow-list
/// ([`Refusal::NotAllowed`]), `offset + len` within `u32`
/// ([`Refusal::Range`]).
pub fn check_get_log(r: &GetLogReq) -> Result<(), Refusal> {
    if !log_allowed(r.lid) {
        return Err(Refusal::NotAllowed);
    }
    if r.offset.checked_add(r.len).is_none() {
        return Err(Refusal::Range);
    }
    Ok(())
}

/// Checks a [`GetFeatureReq`]: the feature on the allow-list
/// ([`Refusal::NotAllowed`]).
pub fn check_get_feature(r: &GetFeatureReq) -> Result<(), Refusal> {
    if feature_allowed(r.fid) {
        Ok(())
    } else {
        Err(Refusal::NotAllowed)
    }
}

/// Log pages a client may read: 01h Error Information, 02h SMART /
/// Health Information, 03h Firmware Slot Information.
pub fn log_allowed(lid: u8) -> bool {
    matches!(lid, 0x01..=0x03)
}

/// Features a client may read: 01h Arbitration, 02h Power Management,
/// 04h Temperature Threshold, 05h Error Recovery, 06h Volatile Write
/// Cache, 07h Number of Queues.
pub fn feature_allowed(fid: u8) -> bool {
    matches!(fid, 0x01 | 0x02 | 0x04..=0x07)
}
