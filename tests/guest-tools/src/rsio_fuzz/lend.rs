//! `rsio-fuzz --lend`: the ioctls of `rsio_lend`'s own device,
//! `/dev/rsio_lend` (uapi/src/lend.rs: `LEND_IOC_LEND` 0x60 ... `DETACH`
//! 0x68), with the engine `/dev/rsio` is fuzzed with: random numbers,
//! numbers with rsio's magic around 0x60..0x68, wrong sizes, bad argument
//! and list pointers, bad headers, flags, entry sizes and capacities,
//! boundary values of every field, reopens and forked children.
//!
//! Safety on a live test VM. These ioctls act on real devices: a valid
//! `LEND` takes a PCI function of this node away from its driver, a valid
//! `BORROW`/`ATTACH` puts a peer's or a chassis's function on this node's
//! bus, `RETURN`/`DETACH`/`UNLEND` take away what the scenario set up. So
//! the fuzzer only ever hands the kernel values that cannot name a real
//! device, whatever the mutation:
//!
//! - `LEND`/`UNLEND`: `domain` is always above 0xffff (`EINVAL` before any
//!   lookup); a random body is fixed up the same way.
//! - `BORROW`/`RETURN`/`P2P`: every fabric device id has index 0 (`node <<
//!   16`, which no lent device has), or a node part other than `node`, or a
//!   node out of the fabric.
//! - `ATTACH`/`DETACH`: every fabric device id has bus 0 (the chassis's
//!   root ports), a bus of 0xf0 and above (no slot of a chassis has one
//!   behind it), another node's node part, or a node above 31.
//!
//! The engine applies these rules last, to every call's bytes whatever
//! made them (`make_safe`): random bodies, random calls of these numbers
//! and boundary values alike.
//!
//! Should one of `LEND`, `BORROW` or `ATTACH` succeed all the same, the
//! fuzzer undoes it at once (forced `UNLEND`, `RETURN`, `DETACH`) and
//! counts it. `SCAN` is fuzzed as it is (it sizes free chassis functions'
//! BARs, claiming each slot for a moment: a concurrent attach elsewhere may
//! get `EBUSY`); `LIST` has no side effect.
//!
//! Without an rsio adapter every call past the argument checks fails with
//! `ENODEV`; without a chassis `ATTACH`/`DETACH` fail with `EINVAL` and
//! `SCAN` lists nothing. Unprivileged (`--user`), everything but `LIST`
//! must fail (`EPERM`).

use super::DOCUMENTED;
use crate::fuzz_common::*;
use rsio_uapi::lend::*;
use rsio_uapi::{
    ioc_dir, ioc_nr, ioc_type, RSIO_IOC_MAGIC, RSIO_LIST_SIZE_V1, RSIO_MAX_ARG_SIZE, RSIO_MAX_LIST,
    RSIO_MAX_NODES,
};
use std::collections::BTreeSet;
use std::fs::File;
use std::mem::offset_of;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LendOp {
    Lend,
    Unlend,
    List,
    Borrow,
    Return,
    P2p,
    Scan,
    Attach,
    Detach,
}

/// What the ABI says of an ioctl beyond its argument.
#[derive(Clone, Copy)]
pub(crate) struct LendRules {
    /// Needs CAP_SYS_ADMIN.
    admin: bool,
}

const ANY: LendRules = LendRules { admin: false };
const ADMIN: LendRules = LendRules { admin: true };

type Known = Ioctl<LendOp, LendRules>;

pub(crate) const KNOWN: &[Known] = &[
    Known {
        op: LendOp::Lend,
        name: "LEND",
        cmd: LEND_IOC_LEND,
        min: LEND_BDF_SIZE_V1,
        flags: LEND_LEND_FORCE | LEND_UNLEND_FORCE,
        valid: 8,
        rules: ADMIN,
    },
    Known {
        op: LendOp::Unlend,
        name: "UNLEND",
        cmd: LEND_IOC_UNLEND,
        min: LEND_BDF_SIZE_V1,
        flags: LEND_LEND_FORCE | LEND_UNLEND_FORCE,
        valid: 8,
        rules: ADMIN,
    },
    Known {
        op: LendOp::List,
        name: "LIST",
        cmd: LEND_IOC_LIST,
        min: RSIO_LIST_SIZE_V1,
        flags: 0,
        valid: 16,
        rules: ANY,
    },
    Known {
        op: LendOp::Borrow,
        name: "BORROW",
        cmd: LEND_IOC_BORROW,
        min: LEND_BORROW_SIZE_V1,
        flags: LEND_RETURN_FORCE,
        valid: 10,
        rules: ADMIN,
    },
    Known {
        op: LendOp::Return,
        name: "RETURN",
        cmd: LEND_IOC_RETURN,
        min: LEND_BORROW_SIZE_V1,
        flags: LEND_RETURN_FORCE,
        valid: 10,
        rules: ADMIN,
    },
    Known {
        op: LendOp::P2p,
        name: "P2P",
        cmd: LEND_IOC_P2P,
        min: LEND_P2P_SIZE_V1,
        flags: 0,
        valid: 8,
        rules: ADMIN,
    },
    Known {
        op: LendOp::Scan,
        name: "SCAN",
        cmd: LEND_IOC_SCAN,
        min: RSIO_LIST_SIZE_V1,
        flags: 0,
        valid: 12,
        rules: ADMIN,
    },
    Known {
        op: LendOp::Attach,
        name: "ATTACH",
        cmd: LEND_IOC_ATTACH,
        min: LEND_BORROW_SIZE_V1,
        flags: LEND_RETURN_FORCE,
        valid: 16,
        rules: ADMIN,
    },
    Known {
        op: LendOp::Detach,
        name: "DETACH",
        cmd: LEND_IOC_DETACH,
        min: LEND_BORROW_SIZE_V1,
        flags: LEND_RETURN_FORCE,
        valid: 12,
        rules: ADMIN,
    },
];

/// What a field's values mean, for its boundary values.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LendDom {
    /// `LendBdf::domain`: only values above 0xffff (see the module doc).
    PciDomain,
    /// A bus number or devfn.
    BusDevfn,
    /// A node id.
    Node,
    /// A lent device's fabric device id: index 0 only.
    LentFdid,
    /// A chassis function's fabric device id: bus 0 or >= 0xf0 only.
    ChassisFdid,
    /// An output the kernel wants zero on input.
    ZeroIn,
    Reserved,
    Bar,
    Capacity,
    EntrySize,
    /// Output only: the kernel must ignore what comes in.
    Out,
}

pub(crate) const BDF_DOMAIN: usize = offset_of!(LendBdf, domain);
pub(crate) const BDF_BUS: usize = offset_of!(LendBdf, bus);
pub(crate) const BDF_DEVFN: usize = offset_of!(LendBdf, devfn);
pub(crate) const BDF_FDID: usize = offset_of!(LendBdf, fdid);
pub(crate) const BOR_NODE: usize = offset_of!(LendBorrow, node);
pub(crate) const BOR_FDID: usize = offset_of!(LendBorrow, fdid);
const BOR_DOMAIN: usize = offset_of!(LendBorrow, domain);
const BOR_BUS: usize = offset_of!(LendBorrow, bus);
const BOR_DEVFN: usize = offset_of!(LendBorrow, devfn);
const BOR_RESERVED: usize = offset_of!(LendBorrow, reserved);
const BOR_DMA: usize = offset_of!(LendBorrow, dma_offset);
pub(crate) const P2P_FROM_NODE: usize = offset_of!(LendP2p, from_node);
pub(crate) const P2P_FROM_FDID: usize = offset_of!(LendP2p, from_fdid);
pub(crate) const P2P_TO_NODE: usize = offset_of!(LendP2p, to_node);
pub(crate) const P2P_TO_FDID: usize = offset_of!(LendP2p, to_fdid);
pub(crate) const P2P_BAR: usize = offset_of!(LendP2p, bar);
const P2P_RESERVED: usize = offset_of!(LendP2p, reserved);
const P2P_DEV_ADDR: usize = offset_of!(LendP2p, dev_addr);
const P2P_SIZE: usize = offset_of!(LendP2p, size);
const CH_NODE: usize = offset_of!(LendChassisEntry, node);

/// The errnos rsio_lend's ioctls return beyond the core's (lend.rs).
const LEND_ERRNOS: &[i32] = &[libc::EBUSY, libc::EOPNOTSUPP, libc::ECONNRESET];

/// The bus numbers a valid-looking chassis id may carry: none of a real
/// chassis's slots has one behind it.
const FAR_BUS: u32 = 0xf0;

/// What the fuzzer knows of the fabric and of rsio_lend.
#[derive(Default)]
pub(crate) struct Lend {
    /// CAP_SYS_ADMIN.
    pub(crate) privileged: bool,
    /// This node's id (from /dev/rsio's STATUS, or RSIO_NODE), if known.
    pub(crate) self_id: Option<u32>,
    pub(crate) peer: u32,
    pub(crate) nodes: u32,
    /// Nodes a SCAN listed functions of: expansion chassis (for the
    /// summary; the rules above do not depend on it).
    pub(crate) chassis: BTreeSet<u32>,
    /// LEND, BORROW or ATTACH calls that succeeded and were undone.
    pub(crate) undone: u64,
}

/// A lent device's id that no device has: `node << 16` (index 0).
fn no_lent_fdid(node: u32) -> u32 {
    node << 16
}

/// Makes a chassis id harmless: bus 0 stays, a bus below [`FAR_BUS`] is
/// moved up there.
fn far_chassis_fdid(fdid: u32) -> u32 {
    let bus = (fdid >> 8) & 0xff;
    if bus != 0 && bus < FAR_BUS {
        fdid | FAR_BUS << 8
    } else {
        fdid
    }
}

/// Whether `(node, fdid)` can name no lent device (BORROW/RETURN/P2P).
pub(crate) fn lent_id_is_harmless(node: u32, fdid: u32) -> bool {
    fdid & 0xffff == 0 || fdid >> 16 != node || node >= RSIO_MAX_NODES
}

/// Whether `(node, fdid)` can name no chassis function.
pub(crate) fn chassis_id_is_harmless(node: u32, fdid: u32) -> bool {
    let bus = (fdid >> 8) & 0xff;
    bus == 0 || bus >= FAR_BUS || fdid >> 16 != node || node >= 32
}

/// Whether an ioctl of rsio_lend may fail with `errno`.
pub(crate) fn allows(errno: i32) -> bool {
    DOCUMENTED.contains(&errno) || LEND_ERRNOS.contains(&errno)
}

impl Abi for Fuzzer<Lend> {
    type Op = LendOp;
    type Rules = LendRules;
    type Dom = LendDom;
    type Extra = ();

    const TOOL: &'static str = "rsio-fuzz";
    const KNOWN: &'static [Known] = KNOWN;
    const SLOW: Duration = Duration::from_secs(2);
    const MIX: [u64; 7] = [100, 100, 80, 400, 305, 0, 10];
    const MUTATIONS: u64 = 6;
    const EMB_STRADDLE: usize = 64 * 1024;
    const CHILD: (u64, u64, u64) = (50, 2000, 16);

    fn dispatch(cmd: u32) -> Option<Known> {
        if ioc_type(cmd) != RSIO_IOC_MAGIC {
            return None;
        }
        KNOWN
            .iter()
            .copied()
            .find(|k| ioc_nr(k.cmd) == ioc_nr(cmd) && ioc_dir(k.cmd) == ioc_dir(cmd))
    }

    fn fields(op: LendOp) -> &'static [Field<LendDom>] {
        const BDF: &[Field<LendDom>] = &[
            f("domain", BDF_DOMAIN, 4, LendDom::PciDomain),
            f("bus", BDF_BUS, 4, LendDom::BusDevfn),
            f("devfn", BDF_DEVFN, 4, LendDom::BusDevfn),
            f("fdid", BDF_FDID, 4, LendDom::ZeroIn),
        ];
        const LIST: &[Field<LendDom>] = &list_fields([
            LendDom::Capacity,
            LendDom::EntrySize,
            LendDom::Out,
            LendDom::Reserved,
        ]);
        const BORROW: &[Field<LendDom>] = &[
            f("node", BOR_NODE, 4, LendDom::Node),
            f("fdid", BOR_FDID, 4, LendDom::LentFdid),
            f("domain", BOR_DOMAIN, 4, LendDom::ZeroIn),
            f("bus", BOR_BUS, 4, LendDom::ZeroIn),
            f("devfn", BOR_DEVFN, 4, LendDom::ZeroIn),
            f("reserved", BOR_RESERVED, 4, LendDom::Reserved),
            f("dma_offset", BOR_DMA, 8, LendDom::ZeroIn),
        ];
        const ATTACH: &[Field<LendDom>] = &[
            f("node", BOR_NODE, 4, LendDom::Node),
            f("fdid", BOR_FDID, 4, LendDom::ChassisFdid),
            f("domain", BOR_DOMAIN, 4, LendDom::ZeroIn),
            f("bus", BOR_BUS, 4, LendDom::ZeroIn),
            f("devfn", BOR_DEVFN, 4, LendDom::ZeroIn),
            f("reserved", BOR_RESERVED, 4, LendDom::Reserved),
            f("dma_offset", BOR_DMA, 8, LendDom::ZeroIn),
        ];
        const P2P: &[Field<LendDom>] = &[
            f("from_node", P2P_FROM_NODE, 4, LendDom::Node),
            f("from_fdid", P2P_FROM_FDID, 4, LendDom::LentFdid),
            f("to_node", P2P_TO_NODE, 4, LendDom::Node),
            f("to_fdid", P2P_TO_FDID, 4, LendDom::LentFdid),
            f("bar", P2P_BAR, 4, LendDom::Bar),
            f("reserved", P2P_RESERVED, 4, LendDom::Reserved),
            f("dev_addr", P2P_DEV_ADDR, 8, LendDom::ZeroIn),
            f("size", P2P_SIZE, 8, LendDom::ZeroIn),
        ];
        match op {
            LendOp::Lend | LendOp::Unlend => BDF,
            LendOp::List | LendOp::Scan => LIST,
            LendOp::Borrow | LendOp::Return => BORROW,
            LendOp::Attach | LendOp::Detach => ATTACH,
            LendOp::P2p => P2P,
        }
    }

    fn embedded(op: LendOp) -> Option<(usize, EmbRegion)> {
        match op {
            LendOp::List | LendOp::Scan => Some((LIST_ENTRIES, EmbRegion::Entries)),
            _ => None,
        }
    }

    fn writes_back(_k: &Known) -> bool {
        // Every one: the lists their count, LEND/UNLEND the fdid, the
        // others where the device is (checked writable before acting).
        true
    }

    fn allows(_k: Option<Known>, errno: i32) -> bool {
        allows(errno)
    }

    fn must_fail_op(&self, call: &Call<()>, k: Known, size: usize, flags: u32) -> Option<String> {
        if k.rules.admin && !self.abi.privileged {
            return Some("administration ioctl without CAP_SYS_ADMIN".into());
        }
        let c = &call.bytes;
        let v = |off: usize, w: usize| field(c, size, off, w);
        let out_not_zero = |offs: &[(usize, usize)]| offs.iter().any(|&(o, w)| v(o, w) != 0);
        let bad_node = |n: u64| {
            n >= RSIO_MAX_NODES as u64
                || n >= self.abi.nodes as u64
                || Some(n as u32) == self.abi.self_id
        };
        match k.op {
            LendOp::List => list_must_fail(c, size, LEND_DEV_ENTRY_SIZE_V1),
            LendOp::Scan => list_must_fail(c, size, LEND_CHASSIS_ENTRY_SIZE_V1),
            LendOp::Lend | LendOp::Unlend => {
                if v(BDF_FDID, 4) != 0 {
                    Some("fdid not zero on input".into())
                } else if v(BDF_DOMAIN, 4) > 0xffff
                    || v(BDF_BUS, 4) > 0xff
                    || v(BDF_DEVFN, 4) > 0xff
                {
                    Some("PCI address out of range".into())
                } else {
                    None
                }
            }
            LendOp::Borrow | LendOp::Return | LendOp::Attach | LendOp::Detach => {
                let (node, fdid) = (v(BOR_NODE, 4), v(BOR_FDID, 4));
                let borrow = matches!(k.op, LendOp::Borrow | LendOp::Return);
                if out_not_zero(&[
                    (BOR_DOMAIN, 4),
                    (BOR_BUS, 4),
                    (BOR_DEVFN, 4),
                    (BOR_RESERVED, 4),
                    (BOR_DMA, 8),
                ]) {
                    Some("an output or reserved field not zero on input".into())
                } else if flags != 0 && matches!(k.op, LendOp::Borrow | LendOp::Attach) {
                    Some(format!(
                        "flags {flags:#x} (only RETURN and DETACH take one)"
                    ))
                } else if fdid >> 16 != node {
                    Some(format!("fdid {fdid:#x} is not node {node}'s"))
                } else if borrow && fdid & 0xffff == 0 {
                    Some("fdid index 0 (no lent device has it)".into())
                } else if borrow && k.op == LendOp::Borrow && bad_node(node) {
                    Some(format!("borrow from node {node} (this node or none)"))
                } else if !borrow && (fdid >> 8) & 0xff == 0 {
                    Some("chassis bus 0 (the root ports)".into())
                } else if !borrow && node >= 32 {
                    Some(format!("node {node} cannot be a chassis"))
                } else if !borrow && node >= self.abi.nodes as u64 {
                    Some(format!("node {node} is not in the fabric"))
                } else {
                    None
                }
            }
            LendOp::P2p => {
                let from = (v(P2P_FROM_NODE, 4), v(P2P_FROM_FDID, 4));
                let to = (v(P2P_TO_NODE, 4), v(P2P_TO_FDID, 4));
                if out_not_zero(&[(P2P_RESERVED, 4), (P2P_DEV_ADDR, 8), (P2P_SIZE, 8)]) {
                    Some("an output or reserved field not zero on input".into())
                } else if from == to {
                    Some("from == to".into())
                } else if [from, to]
                    .iter()
                    .any(|&(n, f)| f >> 16 != n || f & 0xffff == 0)
                {
                    Some("a device this node cannot borrow".into())
                } else if v(P2P_BAR, 4) >= LEND_NUM_BARS as u64 {
                    Some(format!("bar {}", v(P2P_BAR, 4)))
                } else {
                    None
                }
            }
        }
    }

    fn valid_args(&mut self, op: LendOp) -> (Vec<u8>, Option<Ptr>, ()) {
        let mut b = self.request(op);
        let mut emb = None;
        match op {
            LendOp::List | LendOp::Scan => {
                let (min, known) = if op == LendOp::List {
                    (LEND_DEV_ENTRY_SIZE_V1, LEND_DEV_ENTRY_SIZE_V2)
                } else {
                    (LEND_CHASSIS_ENTRY_SIZE_V1, LEND_CHASSIS_ENTRY_SIZE_V1)
                };
                let cap = self.rng.pick(&[0, 1, 2, 4, 16, 64]);
                let es =
                    self.rng
                        .pick(&[min, known, known, known + 8, known + 64, RSIO_MAX_ARG_SIZE]);
                put(&mut b, LIST_CAPACITY, 4, cap);
                put(&mut b, LIST_ENTRY_SIZE, 4, es as u64);
                emb = Some(if cap == 0 && self.rng.chance(1, 2) {
                    Ptr::Null
                } else {
                    Ptr::Valid
                });
            }
            LendOp::Lend | LendOp::Unlend => {
                let domain = self.rng.pick(&[0x1_0000, 0x1_0001, 0x8000_0000, u32::MAX]);
                put(&mut b, BDF_DOMAIN, 4, domain as u64);
                put(&mut b, BDF_BUS, 4, self.rng.below(0x100));
                put(&mut b, BDF_DEVFN, 4, self.rng.below(0x100));
                if self.rng.chance(1, 3) {
                    put(&mut b, 4, 4, 1);
                }
            }
            LendOp::Borrow | LendOp::Return => {
                let node = self.some_node();
                let fdid = match self.rng.below(4) {
                    0 => (node.wrapping_add(1) & 0xffff) << 16 | 1,
                    _ => no_lent_fdid(node),
                };
                put(&mut b, BOR_NODE, 4, node as u64);
                put(&mut b, BOR_FDID, 4, fdid as u64);
                if op == LendOp::Return && self.rng.chance(1, 3) {
                    put(&mut b, 4, 4, LEND_RETURN_FORCE as u64);
                }
            }
            LendOp::Attach | LendOp::Detach => {
                let node = self.some_node();
                let devfn = self.rng.below(0x100) as u32;
                let fdid = match self.rng.below(4) {
                    // Valid-looking, on a bus no slot has behind it.
                    0 | 1 => {
                        node << 16 | (self.rng.range(FAR_BUS as u64, 0xff) as u32) << 8 | devfn
                    }
                    2 => node << 16 | devfn,
                    _ => (node.wrapping_add(1) & 0xffff) << 16 | 0x100 | devfn,
                };
                put(&mut b, BOR_NODE, 4, node as u64);
                put(&mut b, BOR_FDID, 4, fdid as u64);
                if op == LendOp::Detach && self.rng.chance(1, 3) {
                    put(&mut b, 4, 4, LEND_RETURN_FORCE as u64);
                }
            }
            LendOp::P2p => {
                let (a, z) = (self.some_node(), self.some_node());
                put(&mut b, P2P_FROM_NODE, 4, a as u64);
                put(&mut b, P2P_FROM_FDID, 4, no_lent_fdid(a) as u64);
                put(&mut b, P2P_TO_NODE, 4, z as u64);
                let to = if self.rng.chance(1, 4) {
                    z << 16 | 1
                } else {
                    no_lent_fdid(z)
                };
                // A valid-looking `to` with an impossible `from`: still no path.
                put(&mut b, P2P_TO_FDID, 4, to as u64);
                put(&mut b, P2P_BAR, 4, self.rng.pick(&[0, 2, 5]));
            }
        }
        (b, emb, ())
    }

    fn boundary_values(&mut self, dom: LendDom) -> Vec<u64> {
        let own = self.abi.self_id.unwrap_or(0) as u64;
        let peer = self.abi.peer as u64;
        match dom {
            LendDom::PciDomain => vec![0x1_0000, 0x1_ffff, 0x8000_0000, u32::MAX as u64],
            LendDom::BusDevfn => vec![0, 0xff, 0x100, u32::MAX as u64],
            LendDom::Node => vec![own, peer, 15, 16, 31, 32, u32::MAX as u64],
            LendDom::LentFdid => vec![0, peer << 16, own << 16, 0xffff_0000, 16 << 16],
            LendDom::ChassisFdid => vec![
                0,
                peer << 16,
                peer << 16 | 0xff00,
                peer << 16 | (FAR_BUS as u64) << 8 | 0xff,
                own << 16 | 0xf808,
                u32::MAX as u64,
            ],
            LendDom::ZeroIn => vec![1, 0x1_0000, u32::MAX as u64, u64::MAX],
            LendDom::Reserved => vec![1, 1 << 31],
            LendDom::Bar => vec![5, 6, u32::MAX as u64],
            LendDom::Capacity => vec![RSIO_MAX_LIST as u64, RSIO_MAX_LIST as u64 + 1],
            LendDom::EntrySize => vec![
                LEND_DEV_ENTRY_SIZE_V1 as u64 - 1,
                LEND_DEV_ENTRY_SIZE_V1 as u64,
                LEND_CHASSIS_ENTRY_SIZE_V1 as u64 - 1,
                LEND_CHASSIS_ENTRY_SIZE_V1 as u64,
                RSIO_MAX_ARG_SIZE as u64,
                RSIO_MAX_ARG_SIZE as u64 + 1,
                0,
            ],
            LendDom::Out => vec![self.rng.next()],
        }
    }

    /// No call may name a real device: see the module doc.
    fn make_safe(&mut self, op: LendOp, b: &mut [u8]) {
        match op {
            LendOp::Lend | LendOp::Unlend => {
                let d = get(b, BDF_DOMAIN, 4);
                if d <= 0xffff {
                    put(b, BDF_DOMAIN, 4, d | 0x1_0000);
                }
            }
            LendOp::Borrow | LendOp::Return => {
                let (n, fd) = (get(b, BOR_NODE, 4) as u32, get(b, BOR_FDID, 4) as u32);
                if !lent_id_is_harmless(n, fd) {
                    put(b, BOR_FDID, 4, no_lent_fdid(n) as u64);
                }
            }
            LendOp::P2p => {
                for (no, fo) in [(P2P_FROM_NODE, P2P_FROM_FDID), (P2P_TO_NODE, P2P_TO_FDID)] {
                    let (n, fd) = (get(b, no, 4) as u32, get(b, fo, 4) as u32);
                    if !lent_id_is_harmless(n, fd) {
                        put(b, fo, 4, no_lent_fdid(n) as u64);
                    }
                }
            }
            LendOp::Attach | LendOp::Detach => {
                let (n, fd) = (get(b, BOR_NODE, 4) as u32, get(b, BOR_FDID, 4) as u32);
                if !chassis_id_is_harmless(n, fd) {
                    put(b, BOR_FDID, 4, far_chassis_fdid(fd) as u64);
                }
            }
            LendOp::List | LendOp::Scan => {}
        }
    }

    fn magic_dir_nr(&mut self) -> (u32, u32) {
        let dir = self.rng.below(4) as u32;
        // Mostly around rsio_lend's numbers (0x60..0x68).
        let nr = if self.rng.chance(3, 4) {
            self.rng.range(0x5e, 0x6a)
        } else {
            self.rng.below(0x100)
        };
        (dir, nr as u32)
    }

    fn after_call(&mut self, call: &Call<()>, out: &Outcome) {
        if out.rc != 0 {
            return;
        }
        let Some(k) = Self::dispatch(call.cmd) else {
            return;
        };
        let readable = matches!(call.arg, Ptr::Valid | Ptr::Misaligned);
        match k.op {
            LendOp::Scan if readable && out.addr != 0 => self.learn_chassis(call, out),
            LendOp::Lend => {
                let mut b = self.request(LendOp::Unlend);
                for off in [BDF_DOMAIN, BDF_BUS, BDF_DEVFN] {
                    put(&mut b, off, 4, get(&call.bytes, off, 4));
                }
                put(&mut b, 4, 4, LEND_UNLEND_FORCE as u64);
                self.abi.undone += 1;
                self.exec_request(LendOp::Unlend, b, "undo a LEND that succeeded");
            }
            LendOp::Borrow | LendOp::Attach => {
                let undo = if k.op == LendOp::Borrow {
                    LendOp::Return
                } else {
                    LendOp::Detach
                };
                let mut b = self.request(undo);
                put(&mut b, BOR_NODE, 4, get(&call.bytes, BOR_NODE, 4));
                put(&mut b, BOR_FDID, 4, get(&call.bytes, BOR_FDID, 4));
                put(&mut b, 4, 4, LEND_RETURN_FORCE as u64);
                self.abi.undone += 1;
                self.exec_request(undo, b, "undo a BORROW or ATTACH that succeeded");
            }
            _ => {}
        }
    }

    fn after_valid(&mut self, _op: LendOp, _out: &Outcome) {}

    fn reopened(&mut self, file: File) {
        // Nothing belongs to the file: borrows and attachments are the
        // kernel's.
        self.file = file;
    }

    fn child_reset(&mut self) {}

    fn child_op(&mut self) {
        if self.rng.chance(2, 3) {
            self.valid_op();
        } else {
            self.fuzz_known();
        }
    }

    fn per_call_title() -> (&'static str, usize) {
        ("per ioctl", 11)
    }

    fn held(&self) -> String {
        // A LEND, BORROW or ATTACH that succeeds is undone at once.
        "devices     0".into()
    }

    fn after_iteration(&mut self, iteration: u64) {
        // Chassis may come up during the run: scan now and then.
        if self.abi.privileged && iteration % 256 == 255 {
            self.rescan();
        }
    }

    fn counters(&self) -> Vec<String> {
        vec![
            format!("undone      {}", self.abi.undone),
            format!("chassis     {:?}", self.abi.chassis),
        ]
    }

    fn summary_tail(&self) {
        let mut errnos = std::collections::BTreeMap::<i32, u64>::new();
        for (e, n) in self.stats.per_call.values().flatten() {
            *errnos.entry(*e).or_default() += n;
        }
        println!("errno histogram:");
        for (e, n) in &errnos {
            println!("  {:<13} {n:>7}", errname(*e));
        }
    }
}

impl Fuzzer<Lend> {
    /// A node: mostly the peer, else any of the fabric, this one, or one
    /// beyond it.
    fn some_node(&mut self) -> u32 {
        match self.rng.below(10) {
            0..=5 => self.abi.peer,
            6 | 7 => self.rng.below(self.abi.nodes.max(1) as u64) as u32,
            8 => self.abi.self_id.unwrap_or(0),
            _ => self.rng.pick(&[15, 16, 31, 32, u32::MAX]),
        }
    }

    /// A valid SCAN, to learn which nodes are chassis.
    pub(crate) fn rescan(&mut self) {
        let mut b = self.request(LendOp::Scan);
        put(&mut b, LIST_CAPACITY, 4, 64);
        put(
            &mut b,
            LIST_ENTRY_SIZE,
            4,
            LEND_CHASSIS_ENTRY_SIZE_V1 as u64,
        );
        self.set_emb(LendOp::Scan, &mut b, Ptr::Valid);
        self.exec(Call {
            cmd: LEND_IOC_SCAN,
            bytes: b,
            arg: Ptr::Valid,
            emb: Some(Ptr::Valid),
            extra: (),
            what: "scan for chassis".into(),
        });
    }

    /// Adds the nodes of a successful SCAN's entries to the chassis.
    fn learn_chassis(&mut self, call: &Call<()>, out: &Outcome) {
        let entries = get(&call.bytes, LIST_ENTRIES, 8);
        let es = get(&call.bytes, LIST_ENTRY_SIZE, 4) as usize;
        let cap = get(&call.bytes, LIST_CAPACITY, 4);
        let count = self
            .mem
            .arg
            .read(out.addr + LIST_COUNT as u64, 4)
            .unwrap_or(0);
        for i in 0..count.min(cap) {
            let at = entries + i * es as u64 + CH_NODE as u64;
            if let Some(node) = self.mem.entries.read(at, 4) {
                self.abi.chassis.insert(node as u32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsio_uapi::ioc_size;

    const OPS: [LendOp; 9] = [
        LendOp::Lend,
        LendOp::Unlend,
        LendOp::List,
        LendOp::Borrow,
        LendOp::Return,
        LendOp::P2p,
        LendOp::Scan,
        LendOp::Attach,
        LendOp::Detach,
    ];

    fn fuzzer(privileged: bool) -> Fuzzer<Lend> {
        let abi = Lend {
            privileged,
            self_id: Some(0),
            peer: 1,
            nodes: 3,
            ..Default::default()
        };
        let file = open_device("/dev/null").expect("/dev/null opens");
        Fuzzer::new("/dev/null", file, 1, false, abi)
    }

    /// What `make_safe` promises of a struct of `op`.
    fn harmless(op: LendOp, b: &[u8]) -> bool {
        let g = |off| get(b, off, 4) as u32;
        match op {
            LendOp::Lend | LendOp::Unlend => g(BDF_DOMAIN) > 0xffff,
            LendOp::Borrow | LendOp::Return => lent_id_is_harmless(g(BOR_NODE), g(BOR_FDID)),
            LendOp::P2p => {
                lent_id_is_harmless(g(P2P_FROM_NODE), g(P2P_FROM_FDID))
                    && lent_id_is_harmless(g(P2P_TO_NODE), g(P2P_TO_FDID))
            }
            LendOp::Attach | LendOp::Detach => chassis_id_is_harmless(g(BOR_NODE), g(BOR_FDID)),
            LendOp::List | LendOp::Scan => true,
        }
    }

    #[test]
    fn no_call_can_name_a_real_device() {
        let mut fz = fuzzer(true);
        let mut rng = Rng::new(3);
        for op in OPS {
            let size = ioc_size(known(KNOWN, op).cmd);
            for i in 0..2000 {
                // Random bodies, valid arguments and boundary values.
                let mut b = match i % 3 {
                    0 => {
                        let mut b = vec![0u8; size];
                        rng.fill(&mut b);
                        b
                    }
                    1 => fz.valid_args(op).0,
                    _ => {
                        let mut b = fz.valid_args(op).0;
                        for fl in <Fuzzer<Lend> as Abi>::fields(op) {
                            let vals = fz.boundary_values(fl.dom);
                            let generic = [0u64, 1, u32::MAX as u64, u64::MAX, 1 << 63, 1 << 31];
                            let v = if rng.chance(1, 2) {
                                rng.pick(&vals)
                            } else {
                                rng.pick(&generic)
                            };
                            put(&mut b, fl.off, fl.w, v);
                        }
                        b
                    }
                };
                fz.make_safe(op, &mut b);
                assert!(harmless(op, &b), "{op:?}: {:02x?}", &b[..size.min(24)]);
            }
        }
        // Harmless values are left as they are.
        let mut b = fz.request(LendOp::Attach);
        put(&mut b, BOR_NODE, 4, 2);
        put(&mut b, BOR_FDID, 4, 0x2f000);
        fz.make_safe(LendOp::Attach, &mut b);
        assert_eq!(get(&b, BOR_FDID, 4), 0x2f000);
        put(&mut b, BOR_FDID, 4, 0x20300);
        fz.make_safe(LendOp::Attach, &mut b);
        assert_eq!(get(&b, BOR_FDID, 4), 0x2f300);
        let mut b = fz.request(LendOp::Borrow);
        put(&mut b, BOR_NODE, 4, 1);
        put(&mut b, BOR_FDID, 4, 0x10001);
        fz.make_safe(LendOp::Borrow, &mut b);
        assert_eq!(get(&b, BOR_FDID, 4), 0x10000);
    }

    #[test]
    fn the_rules_of_the_lending_ioctls() {
        let fz = fuzzer(true);
        let bdf = |op: LendOp, domain: u64, fdid: u64| {
            fz.call(op, |b| {
                put(b, BDF_DOMAIN, 4, domain);
                put(b, BDF_FDID, 4, fdid);
            })
        };
        assert_eq!(fz.must_fail(&bdf(LendOp::Lend, 0, 0)), None);
        assert!(fz.must_fail(&bdf(LendOp::Lend, 0x1_0000, 0)).is_some());
        assert!(fz.must_fail(&bdf(LendOp::Unlend, 0, 1)).is_some());
        let borrow = |op: LendOp, node: u64, fdid: u64, flags: u64| {
            fz.call(op, |b| {
                put(b, 4, 4, flags);
                put(b, BOR_NODE, 4, node);
                put(b, BOR_FDID, 4, fdid);
            })
        };
        use LendOp::*;
        assert_eq!(fz.must_fail(&borrow(Borrow, 1, 0x10001, 0)), None);
        for (what, op, node, fdid, flags) in [
            ("this node", Borrow, 0, 0x1, 0),
            ("out of the fabric", Borrow, 3, 0x30001, 0),
            ("index 0", Return, 1, 0x10000, 0),
            ("another node's", Return, 1, 0x20001, 1),
            ("a flag", Borrow, 1, 0x10001, 1),
            ("a flag", Attach, 2, 0x20300, 1),
            ("bus 0", Attach, 2, 0x20003, 0),
            ("node 32", Detach, 32, 0x20_0300, 0),
        ] {
            let c = borrow(op, node, fdid, flags);
            assert!(fz.must_fail(&c).is_some(), "{what}");
        }
        assert_eq!(fz.must_fail(&borrow(Attach, 2, 0x20300, 0)), None);
        assert_eq!(fz.must_fail(&borrow(Detach, 2, 0x20300, 1)), None);
        assert_eq!(fz.must_fail(&borrow(Return, 1, 0x10001, 1)), None);
        let c = fz.call(Attach, |b| {
            put(b, BOR_NODE, 4, 2);
            put(b, BOR_FDID, 4, 0x20300);
            put(b, BOR_DMA, 8, 1);
        });
        assert!(fz.must_fail(&c).is_some(), "dma_offset in");
        let p2p = |from: (u64, u64), to: (u64, u64), bar: u64| {
            fz.call(P2p, |b| {
                put(b, P2P_FROM_NODE, 4, from.0);
                put(b, P2P_FROM_FDID, 4, from.1);
                put(b, P2P_TO_NODE, 4, to.0);
                put(b, P2P_TO_FDID, 4, to.1);
                put(b, P2P_BAR, 4, bar);
            })
        };
        assert_eq!(fz.must_fail(&p2p((1, 0x10001), (2, 0x20001), 2)), None);
        assert!(fz.must_fail(&p2p((1, 0x10001), (1, 0x10001), 2)).is_some());
        assert!(fz.must_fail(&p2p((1, 0x10000), (2, 0x20001), 2)).is_some());
        assert!(fz.must_fail(&p2p((1, 0x10001), (2, 0x20001), 6)).is_some());
        let list = |op: LendOp, es: usize| {
            fz.call(op, |b| {
                put(b, LIST_ENTRY_SIZE, 4, es as u64);
                put(b, LIST_CAPACITY, 4, 4);
            })
        };
        assert_eq!(fz.must_fail(&list(List, 112)), None);
        assert!(fz.must_fail(&list(List, 111)).is_some());
        assert_eq!(fz.must_fail(&list(Scan, 120)), None);
        assert!(fz.must_fail(&list(Scan, 119)).is_some());
        // Unprivileged: everything but LIST is EPERM.
        let fz = fuzzer(false);
        assert_eq!(fz.must_fail(&list(List, 120)), None);
        assert!(fz.must_fail(&list(Scan, 120)).is_some());
        assert!(fz.must_fail(&borrow(Attach, 2, 0x20300, 0)).is_some());
    }

    #[test]
    fn valid_lists_pass_the_model_and_the_rest_is_refused() {
        let mut fz = fuzzer(true);
        for op in OPS {
            for _ in 0..50 {
                let c = fz.valid_call(op, "");
                let why = fz.must_fail(&c);
                match op {
                    LendOp::List | LendOp::Scan => assert_eq!(why, None, "{op:?}"),
                    // Valid-looking chassis ids on a far bus may reach the
                    // kernel's chassis checks; the rest never names a device.
                    LendOp::Attach | LendOp::Detach => {}
                    _ => assert!(why.is_some(), "{op:?}"),
                }
            }
        }
        assert!(allows(libc::EBUSY) && allows(libc::EOPNOTSUPP) && allows(libc::EHOSTUNREACH));
        assert!(!allows(libc::EPROTO));
    }

    #[test]
    fn the_mixes_are_per_mille_and_the_valid_weights_per_cent() {
        let mix: u64 = <Fuzzer<Lend> as Abi>::MIX.iter().sum();
        assert!(mix < 1000, "room for the forks");
        assert_eq!(KNOWN.iter().map(|k| k.valid).sum::<u64>(), 100);
        for op in OPS {
            assert_eq!(known(KNOWN, op).op, op);
        }
    }
}
