//! `rsio-fuzz`: an ioctl fuzzer for `/dev/rsio`, meant to run in a guest on
//! the debug kernel (KASAN, lockdep, kmemleak), where whatever the kernel
//! gets wrong shows on the console.
//!
//! Every iteration picks a strategy: a random ioctl number, a random number
//! with rsio's magic, a known ioctl with the wrong size in its number, a
//! known ioctl with one to three mutations (argument pointer, header size,
//! flags, a field at a boundary value, the embedded user pointers), or a
//! valid operation that creates or drops state (grants, mappings, window
//! I/O, revokes and unmaps of live and stale ids). Now and then it reopens
//! the device (dropping the file's windows), or forks a child that works on
//! its own file and then exits, or is SIGKILLed mid-loop.
//!
//! Bad pointers only ever reach the kernel: the fuzzer itself only touches
//! its own mappings. Everything it lets the kernel write to is a dedicated
//! mapping followed by a guard page, so a kernel that writes too far faults
//! (`EFAULT`) instead of corrupting the fuzzer.
//!
//! The run passes (exit 0) if every errno is one the ABI documents
//! (uapi/src/abi.rs), no call returns a positive value, no call succeeds
//! that the ABI says must fail, and every child exited cleanly or by our
//! SIGKILL. Otherwise each offending call is printed and it exits 1 (2 for
//! a usage or setup error). Deterministic for a given seed (and kernel
//! behaviour); the seed is printed.
//!
//! The engine (the calls, the strategies, the children, the run) is the
//! one `rsio-sisci-fuzz` runs too (fuzz_common/engine.rs); this file holds
//! what is `/dev/rsio`'s: its ioctls, fields, valid arguments and rules.
//! The feature ioctls of `rsio_nvme_share` (0x70..0x76) are in
//! rsio_fuzz/nvme.rs: the run finds out once whether the module is loaded
//! (without it they must fail with ENOTTY, with it ENOTTY is a violation).
//!
//! `--lend` fuzzes `rsio_lend`'s own device, `/dev/rsio_lend`, instead
//! (rsio_fuzz/lend.rs: every `LEND_IOC_*`, chassis SCAN, ATTACH and DETACH
//! included), with values that cannot name a real device: see that file.

mod fuzz_common;
#[path = "rsio_fuzz/lend.rs"]
mod lend;
#[path = "rsio_fuzz/nvme.rs"]
mod nvme;

use anyhow::{Context, Result};
use clap::Parser;
use fuzz_common::*;
use rsio_uapi::nvme_share::{
    NVME_ATTACH_RO, NVME_ATTACH_SIZE_V1, NVME_DETACH_FORCE, NVME_IOC_ATTACH, NVME_IOC_DETACH,
    NVME_IOC_LIST, NVME_IOC_LIST_CLIENTS, NVME_IOC_LIST_NS, NVME_IOC_SHARE, NVME_IOC_UNSHARE,
    NVME_SHARE_FORCE, NVME_SHARE_SIZE_V1,
};
use rsio_uapi::*;
use std::fs::File;
use std::mem::offset_of;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// The errnos the ABI documents.
const DOCUMENTED: &[i32] = &[
    libc::EINVAL,
    libc::E2BIG,
    libc::EFAULT,
    libc::ENOTTY,
    libc::EPERM,
    libc::ENODEV,
    libc::EHOSTUNREACH,
    libc::ETIMEDOUT,
    libc::EINTR,
    libc::EIO,
    libc::ENOENT,
    libc::ENOSPC,
    libc::EEXIST,
    libc::ENOMEM,
    libc::EAGAIN,
];

#[derive(Parser)]
#[command(
    about = "Fuzzes /dev/rsio's ioctls, or /dev/rsio_lend's (--lend) (run it on the debug kernel)"
)]
struct Args {
    /// The device to fuzz (default /dev/rsio, with --lend /dev/rsio_lend).
    #[arg(long)]
    device: Option<String>,
    /// Fuzz rsio_lend's device (/dev/rsio_lend): lending, borrowing, chassis
    /// scan/attach/detach, with values that name no real device.
    #[arg(long)]
    lend: bool,
    #[command(flatten)]
    run: RunArgs,
    /// Round trips of a ping that is not fuzzed on its count.
    #[arg(long, default_value_t = 3)]
    max_ping_count: u32,
}

// --- The ABI's ioctls as the fuzzer sees them.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Version,
    Status,
    Nodes,
    Windows,
    Ping,
    Grant,
    Revoke,
    Map,
    Unmap,
    WindowIo,
    NvmeShare,
    NvmeUnshare,
    NvmeList,
    NvmeListNs,
    NvmeListClients,
    NvmeAttach,
    NvmeDetach,
}

/// What the ABI says of an ioctl beyond its argument.
#[derive(Clone, Copy)]
struct Rules {
    /// The kernel writes the struct back.
    output: bool,
    /// Needs CAP_SYS_ADMIN.
    admin: bool,
    /// A feature ioctl of rsio_nvme_share (ENOTTY without the module).
    nvme: bool,
}

const OUT: Rules = Rules {
    output: true,
    admin: false,
    nvme: false,
};
const ADMIN: Rules = Rules {
    output: false,
    admin: true,
    nvme: false,
};
const ADMIN_OUT: Rules = Rules {
    output: true,
    admin: true,
    nvme: false,
};
const NVME_OUT: Rules = Rules {
    output: true,
    admin: false,
    nvme: true,
};
const NVME_ADMIN: Rules = Rules {
    output: false,
    admin: true,
    nvme: true,
};
const NVME_ADMIN_OUT: Rules = Rules {
    output: true,
    admin: true,
    nvme: true,
};

type Known = Ioctl<Op, Rules>;

const KNOWN: &[Known] = &[
    Known {
        op: Op::Version,
        name: "VERSION",
        cmd: RSIO_IOC_VERSION,
        min: RSIO_VERSION_SIZE_V1,
        flags: 0,
        valid: 4,
        rules: OUT,
    },
    Known {
        op: Op::Status,
        name: "STATUS",
        cmd: RSIO_IOC_STATUS,
        min: RSIO_STATUS_SIZE_V1,
        flags: 0,
        valid: 4,
        rules: OUT,
    },
    Known {
        op: Op::Nodes,
        name: "NODES",
        cmd: RSIO_IOC_NODES,
        min: RSIO_LIST_SIZE_V1,
        flags: 0,
        valid: 4,
        rules: OUT,
    },
    Known {
        op: Op::Windows,
        name: "WINDOWS",
        cmd: RSIO_IOC_WINDOWS,
        min: RSIO_LIST_SIZE_V1,
        flags: 0,
        valid: 4,
        rules: OUT,
    },
    Known {
        op: Op::Ping,
        name: "PING",
        cmd: RSIO_IOC_PING,
        min: RSIO_PING_SIZE_V1,
        flags: 0,
        valid: 6,
        rules: OUT,
    },
    Known {
        op: Op::Grant,
        name: "GRANT",
        cmd: RSIO_IOC_GRANT,
        min: RSIO_GRANT_SIZE_V1,
        flags: 0,
        valid: 18,
        rules: ADMIN_OUT,
    },
    Known {
        op: Op::Revoke,
        name: "REVOKE",
        cmd: RSIO_IOC_REVOKE,
        min: RSIO_ID_SIZE_V1,
        flags: 0,
        valid: 9,
        rules: ADMIN,
    },
    Known {
        op: Op::Map,
        name: "MAP",
        cmd: RSIO_IOC_MAP,
        min: RSIO_MAP_SIZE_V1,
        flags: 0,
        valid: 13,
        rules: ADMIN_OUT,
    },
    Known {
        op: Op::Unmap,
        name: "UNMAP",
        cmd: RSIO_IOC_UNMAP,
        min: RSIO_ID_SIZE_V1,
        flags: 0,
        valid: 9,
        rules: ADMIN,
    },
    Known {
        op: Op::WindowIo,
        name: "WINDOW_IO",
        cmd: RSIO_IOC_WINDOW_IO,
        min: RSIO_WINDOW_IO_SIZE_V1,
        flags: RSIO_IO_WRITE,
        valid: 17,
        rules: ADMIN,
    },
    // rsio_nvme_share's feature ioctls (rsio_fuzz/nvme.rs).
    Known {
        op: Op::NvmeShare,
        name: "NVME_SHARE",
        cmd: NVME_IOC_SHARE,
        min: NVME_SHARE_SIZE_V1,
        flags: NVME_SHARE_FORCE,
        valid: 2,
        rules: NVME_ADMIN_OUT,
    },
    Known {
        op: Op::NvmeUnshare,
        name: "NVME_UNSHARE",
        cmd: NVME_IOC_UNSHARE,
        min: NVME_SHARE_SIZE_V1,
        flags: NVME_SHARE_FORCE,
        valid: 1,
        rules: NVME_ADMIN,
    },
    Known {
        op: Op::NvmeList,
        name: "NVME_LIST",
        cmd: NVME_IOC_LIST,
        min: RSIO_LIST_SIZE_V1,
        flags: 0,
        valid: 3,
        rules: NVME_OUT,
    },
    Known {
        op: Op::NvmeListNs,
        name: "NVME_LIST_NS",
        cmd: NVME_IOC_LIST_NS,
        min: RSIO_LIST_SIZE_V1,
        flags: 0,
        valid: 2,
        rules: NVME_OUT,
    },
    Known {
        op: Op::NvmeListClients,
        name: "NVME_LIST_CLIENTS",
        cmd: NVME_IOC_LIST_CLIENTS,
        min: RSIO_LIST_SIZE_V1,
        flags: 0,
        valid: 2,
        rules: NVME_OUT,
    },
    Known {
        op: Op::NvmeAttach,
        name: "NVME_ATTACH",
        cmd: NVME_IOC_ATTACH,
        min: NVME_ATTACH_SIZE_V1,
        flags: NVME_ATTACH_RO,
        valid: 1,
        rules: NVME_ADMIN_OUT,
    },
    Known {
        op: Op::NvmeDetach,
        name: "NVME_DETACH",
        cmd: NVME_IOC_DETACH,
        min: NVME_ATTACH_SIZE_V1,
        flags: NVME_DETACH_FORCE,
        valid: 1,
        rules: NVME_ADMIN,
    },
];

/// What a field's values mean, for its boundary values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dom {
    Node,
    Count,
    Payload,
    Timeout,
    Peers,
    Id,
    Len,
    Addr,
    Capacity,
    EntrySize,
    Offset,
    Reserved,
    /// Output only: the kernel must ignore what comes in.
    Out,
    /// A PCI domain, bus or devfn (NVMe share).
    Pci,
    /// Queue pairs (NVMe share quota, attach).
    Qpairs,
    /// `NvmeShare::n_policies`.
    NPolicies,
    /// A namespace id.
    Nsid,
    /// `NvmePolicy::kind`.
    PolicyKind,
    /// `NvmePolicy::flags`.
    PolicyFlags,
    /// A shared controller's fabric name.
    Ctrl,
}

const PING_NODE: usize = offset_of!(RsioPing, node);
const PING_COUNT: usize = offset_of!(RsioPing, count);
const PING_PAYLOAD: usize = offset_of!(RsioPing, payload_len);
const PING_TIMEOUT: usize = offset_of!(RsioPing, timeout_ms);
const GRANT_PEERS: usize = offset_of!(RsioGrant, peers);
const GRANT_ID: usize = offset_of!(RsioGrant, id);
const GRANT_LEN: usize = offset_of!(RsioGrant, len);
const GRANT_FABRIC: usize = offset_of!(RsioGrant, fabric_addr);
const ID_ID: usize = offset_of!(RsioId, id);
const ID_RESERVED: usize = offset_of!(RsioId, reserved);
const MAP_NODE: usize = offset_of!(RsioMap, node);
const MAP_ID: usize = offset_of!(RsioMap, id);
const MAP_FABRIC: usize = offset_of!(RsioMap, fabric_addr);
const MAP_LEN: usize = offset_of!(RsioMap, len);
const IO_ID: usize = offset_of!(RsioWindowIo, id);
const IO_RESERVED: usize = offset_of!(RsioWindowIo, reserved);
const IO_OFFSET: usize = offset_of!(RsioWindowIo, offset);
const IO_LEN: usize = offset_of!(RsioWindowIo, len);
const IO_BUF: usize = offset_of!(RsioWindowIo, buf);

// --- The state.

/// One window this file holds.
#[derive(Clone, Copy)]
struct Window {
    id: u32,
    grant: bool,
    size: u64,
    fabric_addr: u64,
}

/// What the fuzzer knows of the fabric and of its file.
struct Rsio {
    /// CAP_SYS_ADMIN.
    privileged: bool,
    /// This node's id, from STATUS (None without a transport).
    self_id: Option<u32>,
    peer: u32,
    nodes: u32,
    max_ping: u32,
    /// Windows of the current file.
    pool: Vec<Window>,
    /// rsio_nvme_share: loaded or not, shares and attachments.
    nvme: nvme::Nvme,
}

impl Rsio {
    /// The ids of the file's grants, mappings or both (None).
    fn ids(&self, grant: Option<bool>) -> Vec<u32> {
        let windows = self.pool.iter();
        let ours = windows.filter(|w| grant.is_none_or(|g| w.grant == g));
        ours.map(|w| w.id).collect()
    }
}

impl Abi for Fuzzer<Rsio> {
    type Op = Op;
    type Rules = Rules;
    type Dom = Dom;
    type Extra = ();

    const TOOL: &'static str = "rsio-fuzz";
    const KNOWN: &'static [Known] = KNOWN;
    const SLOW: Duration = Duration::from_secs(2);
    const MIX: [u64; 7] = [100, 100, 80, 400, 305, 0, 10];
    const MUTATIONS: u64 = 6;
    const EMB_STRADDLE: usize = 64 * 1024;
    const CHILD: (u64, u64, u64) = (50, 2000, 16);

    /// The known ioctl the driver dispatches `cmd` to (type, number and
    /// direction match; the size is the argument's business).
    fn dispatch(cmd: u32) -> Option<Known> {
        if ioc_type(cmd) != RSIO_IOC_MAGIC {
            return None;
        }
        KNOWN
            .iter()
            .copied()
            .find(|k| ioc_nr(k.cmd) == ioc_nr(cmd) && ioc_dir(k.cmd) == ioc_dir(cmd))
    }

    /// The fields a mutation may set (embedded pointers are mutated apart).
    fn fields(io: Op) -> &'static [Field<Dom>] {
        const VERSION: &[Field<Dom>] = &[
            f("abi_major", 8, 4, Dom::Out),
            f("features", 16, 8, Dom::Out),
        ];
        const STATUS: &[Field<Dom>] = &[
            f("transport", 8, 4, Dom::Out),
            f("msgs_tx", 64, 8, Dom::Out),
        ];
        const LIST: &[Field<Dom>] =
            &list_fields([Dom::Capacity, Dom::EntrySize, Dom::Out, Dom::Reserved]);
        const PING: &[Field<Dom>] = &[
            f("node", PING_NODE, 4, Dom::Node),
            f("count", PING_COUNT, 4, Dom::Count),
            f("payload_len", PING_PAYLOAD, 4, Dom::Payload),
            f("timeout_ms", PING_TIMEOUT, 4, Dom::Timeout),
            f("rtt_min_ns", offset_of!(RsioPing, rtt_min_ns), 8, Dom::Out),
        ];
        const GRANT: &[Field<Dom>] = &[
            f("peers", GRANT_PEERS, 4, Dom::Peers),
            f("id", GRANT_ID, 4, Dom::Out),
            f("len", GRANT_LEN, 8, Dom::Len),
            f("fabric_addr", GRANT_FABRIC, 8, Dom::Out),
        ];
        const ID: &[Field<Dom>] = &[
            f("id", ID_ID, 4, Dom::Id),
            f("reserved", ID_RESERVED, 4, Dom::Reserved),
        ];
        const MAP: &[Field<Dom>] = &[
            f("node", MAP_NODE, 4, Dom::Node),
            f("id", MAP_ID, 4, Dom::Out),
            f("fabric_addr", MAP_FABRIC, 8, Dom::Addr),
            f("len", MAP_LEN, 8, Dom::Len),
        ];
        const WIO: &[Field<Dom>] = &[
            f("id", IO_ID, 4, Dom::Id),
            f("reserved", IO_RESERVED, 4, Dom::Reserved),
            f("offset", IO_OFFSET, 8, Dom::Offset),
            f("len", IO_LEN, 8, Dom::Len),
        ];
        match io {
            Op::Version => VERSION,
            Op::Status => STATUS,
            Op::Nodes | Op::Windows => LIST,
            Op::Ping => PING,
            Op::Grant => GRANT,
            Op::Revoke | Op::Unmap => ID,
            Op::Map => MAP,
            Op::WindowIo => WIO,
            Op::NvmeShare | Op::NvmeUnshare => nvme::SHARE_FIELDS,
            Op::NvmeList | Op::NvmeListNs | Op::NvmeListClients => LIST,
            Op::NvmeAttach | Op::NvmeDetach => nvme::ATTACH_FIELDS,
        }
    }

    fn embedded(op: Op) -> Option<(usize, EmbRegion)> {
        match op {
            Op::Nodes | Op::Windows => Some((LIST_ENTRIES, EmbRegion::Entries)),
            Op::NvmeList | Op::NvmeListNs | Op::NvmeListClients => {
                Some((LIST_ENTRIES, EmbRegion::Entries))
            }
            Op::WindowIo => Some((IO_BUF, EmbRegion::Data)),
            _ => None,
        }
    }

    fn writes_back(k: &Known) -> bool {
        k.rules.output
    }

    fn allows(k: Option<Known>, errno: i32) -> bool {
        match k {
            Some(k) if k.rules.nvme => nvme::allows(errno),
            _ => DOCUMENTED.contains(&errno),
        }
    }

    fn must_fail_op(&self, call: &Call<()>, k: Known, size: usize, flags: u32) -> Option<String> {
        if k.rules.admin && !self.abi.privileged {
            return Some("administration ioctl without CAP_SYS_ADMIN".into());
        }
        let c = &call.bytes;
        let v = |off: usize, w: usize| field(c, size, off, w);
        let bad_len = |len: u64| {
            len == 0 || !len.is_multiple_of(RSIO_WINDOW_ALIGN) || len > RSIO_MAX_WINDOW_SIZE
        };
        let bad_node = |n: u64| n >= RSIO_MAX_NODES as u64 || Some(n as u32) == self.abi.self_id;
        if k.rules.nvme {
            return self.nvme_must_fail(k.op, c, size);
        }
        match k.op {
            Op::Version | Op::Status => None,
            Op::Nodes | Op::Windows => {
                let min = if k.op == Op::Nodes {
                    RSIO_NODE_ENTRY_SIZE_V1
                } else {
                    RSIO_WINDOW_ENTRY_SIZE_V1
                };
                list_must_fail(c, size, min)
            }
            Op::Ping => {
                let (node, count) = (v(PING_NODE, 4), v(PING_COUNT, 4));
                if bad_node(node) {
                    Some(format!("ping node {node} (this node or none)"))
                } else if count == 0 || count > RSIO_PING_MAX_COUNT as u64 {
                    Some(format!("ping count {count}"))
                } else if v(PING_PAYLOAD, 4) > RSIO_PING_MAX_PAYLOAD as u64 {
                    Some("ping payload too large".into())
                } else if v(PING_TIMEOUT, 4) > RSIO_MAX_TIMEOUT_MS as u64 {
                    Some("ping timeout too long".into())
                } else {
                    None
                }
            }
            Op::Grant => {
                let peers = v(GRANT_PEERS, 4);
                let own = self.abi.self_id.map_or(0, |s| 1u64 << s);
                if peers == 0 || peers >> RSIO_MAX_NODES != 0 || peers & own != 0 {
                    Some(format!("grant peers {peers:#x}"))
                } else if bad_len(v(GRANT_LEN, 8)) {
                    Some(format!("grant len {:#x}", v(GRANT_LEN, 8)))
                } else {
                    None
                }
            }
            Op::Revoke | Op::Unmap => {
                let id = v(ID_ID, 4) as u32;
                let grant = k.op == Op::Revoke;
                if v(ID_RESERVED, 4) != 0 {
                    Some("reserved not zero".into())
                } else if !self.abi.pool.iter().any(|w| w.id == id && w.grant == grant) {
                    Some(format!(
                        "id {id} is no {} of this file",
                        if grant { "grant" } else { "mapping" }
                    ))
                } else {
                    None
                }
            }
            Op::Map => {
                let node = v(MAP_NODE, 4);
                if bad_node(node) {
                    Some(format!("map node {node} (this node or none)"))
                } else if v(MAP_FABRIC, 8) % RSIO_WINDOW_ALIGN != 0 {
                    Some("fabric_addr not aligned".into())
                } else if bad_len(v(MAP_LEN, 8)) {
                    Some(format!("map len {:#x}", v(MAP_LEN, 8)))
                } else {
                    None
                }
            }
            Op::WindowIo => {
                let id = v(IO_ID, 4) as u32;
                let (off, len) = (v(IO_OFFSET, 8), v(IO_LEN, 8));
                let Some(w) = self.abi.pool.iter().find(|w| w.id == id) else {
                    return Some(format!("id {id} is no window of this file"));
                };
                if v(IO_RESERVED, 4) != 0 {
                    return Some("reserved not zero".into());
                }
                if len == 0 || len > RSIO_MAX_IO {
                    return Some(format!("len {len:#x}"));
                }
                if off.checked_add(len).is_none_or(|end| end > w.size) {
                    return Some(format!(
                        "offset {off:#x} + len {len:#x} outside the window ({:#x})",
                        w.size
                    ));
                }
                if !w.grant && (off % 4 != 0 || len % 4 != 0) {
                    return Some("mapping I/O not in 4-byte words".into());
                }
                match call.emb {
                    Some(p) if p.is_bad() => Some(format!("buf {p:?}")),
                    Some(Ptr::Straddle(n)) if (n as u64) < len => {
                        Some("buf runs into a guard page".into())
                    }
                    Some(Ptr::ReadOnly) if flags & RSIO_IO_WRITE == 0 && len > 0 => {
                        Some("read into a read-only buf".into())
                    }
                    _ => None,
                }
            }
            // Handled above.
            Op::NvmeShare
            | Op::NvmeUnshare
            | Op::NvmeList
            | Op::NvmeListNs
            | Op::NvmeListClients
            | Op::NvmeAttach
            | Op::NvmeDetach => None,
        }
    }

    /// A valid argument for `io` in the current state; returns the bytes and
    /// the embedded pointer class if the struct has one.
    fn valid_args(&mut self, io: Op) -> (Vec<u8>, Option<Ptr>, ()) {
        let mut b = self.request(io);
        let mut emb = None;
        match io {
            Op::Version | Op::Status => {}
            Op::Nodes | Op::Windows => {
                let min = if io == Op::Nodes {
                    RSIO_NODE_ENTRY_SIZE_V1
                } else {
                    RSIO_WINDOW_ENTRY_SIZE_V1
                };
                let cap = self.rng.pick(&[0, 1, 2, 4, 16, 64]);
                let es = self
                    .rng
                    .pick(&[min, min, min, min + 8, min + 64, RSIO_MAX_ARG_SIZE]);
                put(&mut b, LIST_CAPACITY, 4, cap);
                put(&mut b, LIST_ENTRY_SIZE, 4, es as u64);
                if cap == 0 && self.rng.chance(1, 2) {
                    emb = Some(Ptr::Null);
                } else {
                    emb = Some(Ptr::Valid);
                }
            }
            Op::Ping => {
                let node = self.some_node();
                put(&mut b, PING_NODE, 4, node as u64);
                put(
                    &mut b,
                    PING_COUNT,
                    4,
                    self.rng.range(1, self.abi.max_ping.max(1) as u64),
                );
                put(
                    &mut b,
                    PING_PAYLOAD,
                    4,
                    self.rng.pick(&[0, 1, 8, 64, 199, 200]),
                );
                put(&mut b, PING_TIMEOUT, 4, self.rng.range(1, 50));
            }
            Op::Grant => {
                let mut peers = 1u64 << self.abi.peer;
                if self.rng.chance(1, 4) {
                    let own = self.abi.self_id.map_or(0, |s| 1u64 << s);
                    peers = ((1u64 << self.abi.nodes) - 1) & !own;
                }
                put(&mut b, GRANT_PEERS, 4, peers.max(1));
                put(&mut b, GRANT_LEN, 8, 4096 * self.rng.range(1, 4));
            }
            Op::Revoke => {
                let id = self.some_id(Some(true));
                put(&mut b, ID_ID, 4, id as u64);
            }
            Op::Unmap => {
                let id = self.some_id(Some(false));
                put(&mut b, ID_ID, 4, id as u64);
            }
            Op::Map => {
                let node = self.some_node();
                let grants: Vec<u64> = self
                    .abi
                    .pool
                    .iter()
                    .filter(|w| w.grant)
                    .map(|w| w.fabric_addr)
                    .collect();
                let addr = if !grants.is_empty() && self.rng.chance(1, 3) {
                    self.rng.pick(&grants)
                } else {
                    4096 * self.rng.below(16)
                };
                put(&mut b, MAP_NODE, 4, node as u64);
                put(&mut b, MAP_FABRIC, 8, addr);
                put(&mut b, MAP_LEN, 8, 4096 * self.rng.range(1, 4));
            }
            Op::WindowIo => {
                let id = self.some_id(None);
                let wsize = self
                    .abi
                    .pool
                    .iter()
                    .find(|w| w.id == id)
                    .map_or(4096, |w| w.size)
                    .clamp(4, 16384);
                let len = 4 * self.rng.range(1, wsize / 4);
                let off = 4 * self.rng.below(wsize.saturating_sub(len) / 4 + 1);
                put(
                    &mut b,
                    4,
                    4,
                    if self.rng.chance(1, 2) {
                        RSIO_IO_WRITE as u64
                    } else {
                        0
                    },
                );
                put(&mut b, IO_ID, 4, id as u64);
                put(&mut b, IO_OFFSET, 8, off);
                put(&mut b, IO_LEN, 8, len);
                emb = Some(Ptr::Valid);
            }
            Op::NvmeShare
            | Op::NvmeUnshare
            | Op::NvmeList
            | Op::NvmeListNs
            | Op::NvmeListClients
            | Op::NvmeAttach
            | Op::NvmeDetach => emb = self.nvme_valid_args(io, &mut b),
        }
        (b, emb, ())
    }

    /// Boundary values of a field of this domain.
    fn boundary_values(&mut self, dom: Dom) -> Vec<u64> {
        match dom {
            Dom::Node => vec![
                self.abi.self_id.unwrap_or(0) as u64,
                self.abi.peer as u64,
                15,
                16,
                31,
                32,
            ],
            // Never the largest valid count: thousands of round trips.
            Dom::Count => vec![1, RSIO_PING_MAX_COUNT as u64 + 1],
            Dom::Payload => vec![
                RSIO_PING_MAX_PAYLOAD as u64,
                RSIO_PING_MAX_PAYLOAD as u64 + 1,
            ],
            // 0 is the default (1 s); never the longest valid timeout.
            Dom::Timeout => vec![RSIO_MAX_TIMEOUT_MS as u64 + 1],
            Dom::Peers => {
                let own = self.abi.self_id.unwrap_or(0);
                vec![
                    1 << own,
                    1 << self.abi.peer,
                    0xffff,
                    1 << 16,
                    1 << 31,
                    (1 << self.abi.nodes) - 1,
                ]
            }
            Dom::Id => {
                let mut ids = vec![self.some_id(None) as u64];
                ids.extend(self.stale.iter().rev().take(2).map(|&i| i as u64));
                ids
            }
            Dom::Len => vec![
                4095,
                4096,
                4097,
                RSIO_MAX_WINDOW_SIZE,
                RSIO_MAX_WINDOW_SIZE + 4096,
                RSIO_MAX_IO,
                RSIO_MAX_IO + 4,
                3,
            ],
            Dom::Addr => vec![4095, 4096, 1 << 47, RSIO_MAX_WINDOW_SIZE, u64::MAX - 4095],
            Dom::Capacity => vec![RSIO_MAX_LIST as u64, RSIO_MAX_LIST as u64 + 1],
            Dom::EntrySize => vec![
                RSIO_NODE_ENTRY_SIZE_V1 as u64 - 1,
                RSIO_WINDOW_ENTRY_SIZE_V1 as u64 - 1,
                nvme::entry_min(Op::NvmeList) as u64 - 1,
                nvme::entry_min(Op::NvmeListNs) as u64 - 1,
                nvme::entry_min(Op::NvmeListClients) as u64 - 1,
                RSIO_MAX_ARG_SIZE as u64,
                RSIO_MAX_ARG_SIZE as u64 + 1,
            ],
            Dom::Offset => vec![2, 4, 4092, 4096, 16384, u64::MAX - 3],
            Dom::Reserved => vec![1, 1 << 31],
            Dom::Out => vec![self.rng.next()],
            Dom::Pci
            | Dom::Qpairs
            | Dom::NPolicies
            | Dom::Nsid
            | Dom::PolicyKind
            | Dom::PolicyFlags
            | Dom::Ctrl => self.nvme_boundary_values(dom),
        }
    }

    fn magic_dir_nr(&mut self) -> (u32, u32) {
        let dir = self.rng.below(4) as u32;
        // Now and then around rsio_nvme_share's numbers (0x70..0x77 owned).
        let nr = if self.rng.chance(1, 4) {
            self.rng.range(0x6e, 0x79)
        } else {
            self.rng.below(0x21)
        };
        (dir, nr as u32)
    }

    fn after_call(&mut self, call: &Call<()>, out: &Outcome) {
        if let Some(k) = Self::dispatch(call.cmd).filter(|k| k.rules.nvme) {
            self.nvme_after_call(k.op, call, out);
            return;
        }
        if out.rc == 0 {
            self.after_success(call, out);
        } else if out.errno == libc::ENOENT {
            self.after_enoent(call);
        }
    }

    fn after_valid(&mut self, op: Op, out: &Outcome) {
        self.nvme_after_valid(op, out);
        // Keep the file's windows bounded.
        if self.abi.pool.len() > 24 {
            let w = self.abi.pool[self.rng.below(self.abi.pool.len() as u64) as usize];
            self.drop_window(w.id, w.grant, "trim the pool");
        }
    }

    fn reopened(&mut self, file: File) {
        // The old file closes here, and with it its windows.
        self.file = file;
        let gone: Vec<u32> = self.abi.pool.drain(..).map(|w| w.id).collect();
        self.retire(gone);
    }

    fn child_reset(&mut self) {
        self.abi.pool.clear();
    }

    fn child_op(&mut self) {
        if self.rng.chance(2, 3) {
            self.valid_op();
        } else {
            self.fuzz_known();
        }
    }

    fn per_call_title() -> (&'static str, usize) {
        ("per ioctl", 17)
    }

    fn held(&self) -> String {
        format!("windows     {}", self.abi.pool.len())
    }

    fn finish(&mut self) {
        self.nvme_cleanup();
    }

    fn counters(&self) -> Vec<String> {
        vec![self.nvme_counter()]
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

impl Fuzzer<Rsio> {
    fn after_success(&mut self, call: &Call<()>, out: &Outcome) {
        let Some(k) = Self::dispatch(call.cmd) else {
            return;
        };
        let readable = matches!(call.arg, Ptr::Valid | Ptr::Misaligned);
        match k.op {
            Op::Grant | Op::Map if readable => {
                let (id_off, len_off) = if k.op == Op::Grant {
                    (GRANT_ID, GRANT_LEN)
                } else {
                    (MAP_ID, MAP_LEN)
                };
                let id = self.mem.arg.read(out.addr + id_off as u64, 4).unwrap_or(0) as u32;
                let fabric_addr = if k.op == Op::Grant {
                    self.mem
                        .arg
                        .read(out.addr + GRANT_FABRIC as u64, 8)
                        .unwrap_or(0)
                } else {
                    get(&call.bytes, MAP_FABRIC, 8)
                };
                let size = get(&call.bytes, len_off, 8);
                self.abi.pool.retain(|w| w.id != id);
                self.abi.pool.push(Window {
                    id,
                    grant: k.op == Op::Grant,
                    size,
                    fabric_addr,
                });
                // Large windows go at once: they hold memory or many
                // translation entries the rest of the run needs.
                if size > 1 << 20 {
                    self.drop_window(id, k.op == Op::Grant, "release a large window at once");
                }
            }
            Op::Revoke | Op::Unmap => self.after_enoent(call),
            _ => {}
        }
    }

    /// The id is gone from this file (revoked, unmapped, or never there).
    fn after_enoent(&mut self, call: &Call<()>) {
        let Some(k) = Self::dispatch(call.cmd) else {
            return;
        };
        if matches!(k.op, Op::Revoke | Op::Unmap) {
            let id = get(&call.bytes, ID_ID, 4) as u32;
            let grant = k.op == Op::Revoke;
            if self.abi.pool.iter().any(|w| w.id == id && w.grant == grant) {
                self.abi.pool.retain(|w| !(w.id == id && w.grant == grant));
                self.retire([id]);
            }
        }
    }

    fn drop_window(&mut self, id: u32, grant: bool, what: &str) {
        let io = if grant { Op::Revoke } else { Op::Unmap };
        let mut b = self.request(io);
        put(&mut b, ID_ID, 4, id as u64);
        self.exec_request(io, b, what);
    }

    /// An id: mostly one of this file's windows (grants, mappings or
    /// either), else a stale, special or random one.
    fn some_id(&mut self, grant: Option<bool>) -> u32 {
        let live = self.abi.ids(grant);
        let pools = [(0..=6, live.as_slice()), (0..=7, self.stale.as_slice())];
        pick_id(&mut self.rng, 10, &pools, (8, &[0, 1, 2, u32::MAX]))
    }

    fn some_node(&mut self) -> u32 {
        match self.rng.below(10) {
            0..=7 => self.abi.peer,
            _ => self.rng.below(self.abi.nodes as u64) as u32,
        }
    }
}

/// This node's id and the fabric's size from `/dev/rsio`'s STATUS, if it
/// opens and has a transport.
fn fabric_status() -> Option<(u32, u32)> {
    let file = open_device(RSIO_DEVICE_PATH).ok()?;
    let mut st = <RsioStatus as Request>::request();
    // SAFETY: RSIO_IOC_STATUS reads and writes one `RsioStatus`, which `st` is; it holds no pointers.
    let rc = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            RSIO_IOC_STATUS as libc::c_ulong,
            &mut st as *mut RsioStatus,
        )
    };
    (rc == 0 && st.transport != RSIO_TRANSPORT_NONE).then_some((st.node_id, st.num_nodes))
}

/// `rsio-fuzz --lend`: /dev/rsio_lend.
fn run_lend(args: Args) -> Result<u64> {
    let seed = args.run.start()?;
    let device = args
        .device
        .unwrap_or_else(|| rsio_uapi::lend::LEND_DEVICE_PATH.into());
    let file = open_device(&device).with_context(|| format!("cannot open {device}"))?;
    let privileged = has_sys_admin();
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
    let status = fabric_status();
    let self_id = status.map(|s| s.0).or(env("RSIO_NODE"));
    let nodes = status
        .map(|s| s.1)
        .or(env("RSIO_NODES"))
        .unwrap_or(2)
        .clamp(1, RSIO_MAX_NODES);
    let own = self_id.unwrap_or(0);
    let peer = if nodes > 1 {
        (own + 1) % nodes
    } else {
        own ^ 1
    };
    let abi = lend::Lend {
        privileged,
        self_id,
        peer,
        nodes,
        ..Default::default()
    };
    let mut fz = Fuzzer::new(&device, file, seed, args.run.verbose, abi);
    if privileged {
        fz.rescan();
    }
    println!(
        "{}, node {self_id:?} of {nodes}, peer {peer}, chassis {:?}",
        fz.intro(seed, &args.run, privileged),
        fz.abi.chassis
    );
    Ok(fz.fuzz(seed, &args.run))
}

fn run(args: Args) -> Result<u64> {
    if args.lend {
        return run_lend(args);
    }
    let seed = args.run.start()?;
    let device = args.device.unwrap_or_else(|| RSIO_DEVICE_PATH.into());
    let file = open_device(&device).with_context(|| format!("cannot open {device}"))?;
    let privileged = has_sys_admin();
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
    let rsio = Rsio {
        privileged,
        self_id: None,
        peer: 1,
        nodes: env("RSIO_NODES").unwrap_or(2).clamp(1, RSIO_MAX_NODES),
        max_ping: args.max_ping_count,
        pool: Vec::new(),
        nvme: nvme::Nvme {
            pci: nvme::scan_pci(),
            ..Default::default()
        },
    };
    let mut fz = Fuzzer::new(&device, file, seed, args.run.verbose, rsio);
    // This node's id and the fabric's size, if there is a transport.
    let st = fz.request(Op::Status);
    fz.mem.arg.write(0, &st);
    let addr = fz.mem.arg.addr(0);
    // SAFETY: addr is the start of our argument region, large enough for RsioStatus.
    let rc = unsafe {
        libc::ioctl(
            fz.file.as_raw_fd(),
            RSIO_IOC_STATUS as libc::c_ulong,
            addr as usize,
        )
    };
    let mut transport = "no transport (STATUS failed)".to_string();
    if rc == 0 {
        let status = |off: usize| fz.mem.arg.read(addr + off as u64, 4).unwrap_or(0) as u32;
        let kind = status(offset_of!(RsioStatus, transport));
        if kind != RSIO_TRANSPORT_NONE {
            fz.abi.self_id = Some(status(offset_of!(RsioStatus, node_id)));
            fz.abi.nodes = status(offset_of!(RsioStatus, num_nodes)).clamp(1, RSIO_MAX_NODES);
        }
        transport = format!("transport {kind}");
    }
    let own = fz.abi.self_id.or(env("RSIO_NODE")).unwrap_or(0);
    fz.abi.peer = if fz.abi.nodes > 1 {
        (own + 1) % fz.abi.nodes
    } else {
        own ^ 1
    };
    let nvme = nvme::detect(&mut fz);
    println!(
        "{}, {transport}, node {:?} of {}, peer {}, {nvme}",
        fz.intro(seed, &args.run, privileged),
        fz.abi.self_id,
        fz.abi.nodes,
        fz.abi.peer
    );
    Ok(fz.fuzz(seed, &args.run))
}

fn main() {
    exit_with(<Fuzzer<Rsio> as Abi>::TOOL, run(Args::parse()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fuzzer(privileged: bool) -> Fuzzer<Rsio> {
        let rsio = Rsio {
            privileged,
            self_id: Some(0),
            peer: 1,
            nodes: 2,
            max_ping: 3,
            pool: vec![Window {
                id: 5,
                grant: true,
                size: 8192,
                fabric_addr: 0,
            }],
            nvme: nvme::Nvme::default(),
        };
        let file = open_device("/dev/null").expect("/dev/null opens");
        let mut fz = Fuzzer::new("/dev/null", file, 1, false, rsio);
        fz.stale = vec![9];
        fz
    }

    #[test]
    fn the_prng_is_deterministic() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        assert!((0..1000).all(|_| a.next() == b.next()));
        assert_ne!(Rng::new(1).next(), Rng::new(2).next());
    }

    #[test]
    fn header_rules() {
        let fz = fuzzer(true);
        assert_eq!(fz.must_fail(&fz.call(Op::Version, |_| {})), None);
        assert!(fz
            .must_fail(&fz.call(Op::Version, |b| put(b, 4, 4, 1)))
            .is_some());
        assert!(fz
            .must_fail(&fz.call(Op::Version, |b| put(b, 0, 4, 120)))
            .is_some());
        // A newer struct: accepted with a zero tail, refused with another.
        let mut c = fz.call(Op::Version, |b| {
            b.resize(136, 0);
            put(b, 0, 4, 136);
        });
        c.cmd = rsio_iowr(0, 136);
        assert_eq!(fz.must_fail(&c), None);
        c.bytes[135] = 1;
        assert!(fz.must_fail(&c).is_some());
        c.cmd = ioc(IOC_READ, RSIO_IOC_MAGIC, 0, 136);
        assert!(fz.must_fail(&c).is_some());
    }

    #[test]
    fn pointer_rules() {
        let fz = fuzzer(true);
        for arg in [
            Ptr::Null,
            Ptr::Unmapped,
            Ptr::KernelText,
            Ptr::Straddle(100),
            Ptr::ReadOnly,
        ] {
            let mut c = fz.call(Op::Version, |_| {});
            c.arg = arg;
            assert!(fz.must_fail(&c).is_some(), "{arg:?}");
        }
        // REVOKE writes nothing back: a read-only argument may succeed.
        let mut c = fz.call(Op::Revoke, |b| put(b, ID_ID, 4, 5));
        c.arg = Ptr::ReadOnly;
        assert_eq!(fz.must_fail(&c), None);
        c.arg = Ptr::Misaligned;
        assert_eq!(fz.must_fail(&c), None);
    }

    #[test]
    fn field_rules() {
        let fz = fuzzer(true);
        let grant = |len: u64, peers: u64| {
            fz.call(Op::Grant, |b| {
                put(b, GRANT_LEN, 8, len);
                put(b, GRANT_PEERS, 4, peers);
            })
        };
        assert_eq!(fz.must_fail(&grant(4096, 2)), None);
        assert!(fz.must_fail(&grant(4095, 2)).is_some());
        assert!(fz
            .must_fail(&grant(RSIO_MAX_WINDOW_SIZE + 4096, 2))
            .is_some());
        assert!(fz.must_fail(&grant(4096, 1)).is_some(), "this node");
        assert!(fz.must_fail(&grant(4096, 0)).is_some());
        let revoke = |id: u64| fz.call(Op::Revoke, |b| put(b, ID_ID, 4, id));
        assert_eq!(fz.must_fail(&revoke(5)), None);
        assert!(fz.must_fail(&revoke(9)).is_some(), "stale id");
        assert!(
            fz.must_fail(&fz.call(Op::Unmap, |b| put(b, ID_ID, 4, 5)))
                .is_some(),
            "a grant"
        );
        let io = |off: u64, len: u64, flags: u64, buf: Ptr| {
            let mut c = fz.call(Op::WindowIo, |b| {
                put(b, 4, 4, flags);
                put(b, IO_ID, 4, 5);
                put(b, IO_OFFSET, 8, off);
                put(b, IO_LEN, 8, len);
            });
            c.emb = Some(buf);
            c
        };
        assert_eq!(fz.must_fail(&io(4096, 4096, 0, Ptr::Valid)), None);
        assert!(fz.must_fail(&io(4096, 4100, 0, Ptr::Valid)).is_some());
        assert!(fz.must_fail(&io(u64::MAX - 3, 8, 0, Ptr::Valid)).is_some());
        assert!(fz.must_fail(&io(0, 8, 0, Ptr::Null)).is_some());
        assert!(fz.must_fail(&io(0, 8, 0, Ptr::ReadOnly)).is_some());
        assert_eq!(
            fz.must_fail(&io(0, 8, RSIO_IO_WRITE as u64, Ptr::ReadOnly)),
            None
        );
        assert!(
            fz.must_fail(&io(0, 8, 2, Ptr::Valid)).is_some(),
            "unknown flag"
        );
        let ping = |node: u64, count: u64| {
            fz.call(Op::Ping, |b| {
                put(b, PING_NODE, 4, node);
                put(b, PING_COUNT, 4, count);
            })
        };
        assert_eq!(fz.must_fail(&ping(1, 1)), None);
        assert!(fz.must_fail(&ping(0, 1)).is_some(), "this node");
        assert!(fz.must_fail(&ping(1, 0)).is_some());
        assert!(fz.must_fail(&ping(1, 10001)).is_some());
        let list = |es: u64, cap: u64| {
            fz.call(Op::Nodes, |b| {
                put(b, LIST_ENTRY_SIZE, 4, es);
                put(b, LIST_CAPACITY, 4, cap);
            })
        };
        assert_eq!(fz.must_fail(&list(RSIO_NODE_ENTRY_SIZE_V1 as u64, 4)), None);
        assert!(fz
            .must_fail(&list(RSIO_NODE_ENTRY_SIZE_V1 as u64 - 1, 4))
            .is_some());
        assert!(fz.must_fail(&list(4096, 1025)).is_some());
    }

    #[test]
    fn unprivileged_admin_ioctls_must_fail() {
        let fz = fuzzer(false);
        assert!(fz
            .must_fail(&fz.call(Op::Revoke, |b| put(b, ID_ID, 4, 5)))
            .is_some());
        assert_eq!(fz.must_fail(&fz.call(Op::Status, |_| {})), None);
    }

    #[test]
    fn valid_operations_pass_the_model() {
        let mut fz = fuzzer(true);
        for op in [
            Op::Version,
            Op::Status,
            Op::Nodes,
            Op::Windows,
            Op::Ping,
            Op::Grant,
            Op::Map,
        ] {
            for _ in 0..50 {
                let c = fz.valid_call(op, "");
                // Valid operations name any node now and then, this one too.
                let why = fz.must_fail(&c);
                assert!(
                    why.as_deref()
                        .is_none_or(|w| w.contains("(this node or none)")),
                    "{}: {why:?}",
                    known(KNOWN, op).name
                );
            }
        }
    }
    /// A fuzzer for whom rsio_nvme_share is `present`, on a node with a
    /// host bridge at 00:00.0 and an NVMe controller at 00:04.0.
    fn nvme_fuzzer(privileged: bool, present: bool) -> Fuzzer<Rsio> {
        let mut fz = fuzzer(privileged);
        fz.abi.nvme = nvme::Nvme {
            present,
            pci: Some(vec![
                nvme::PciFn {
                    bdf: (0, 0, 0),
                    class: 0x06_0000,
                },
                nvme::PciFn {
                    bdf: (0, 0, 4 << 3),
                    class: nvme::NVME_CLASS,
                },
            ]),
            ..Default::default()
        };
        fz
    }

    const NVME_OPS: [Op; 7] = [
        Op::NvmeShare,
        Op::NvmeUnshare,
        Op::NvmeList,
        Op::NvmeListNs,
        Op::NvmeListClients,
        Op::NvmeAttach,
        Op::NvmeDetach,
    ];

    #[test]
    fn without_the_module_every_nvme_call_must_fail() {
        let mut fz = nvme_fuzzer(true, false);
        for op in NVME_OPS {
            let c = fz.valid_call(op, "");
            assert_eq!(
                fz.must_fail(&c).as_deref(),
                Some("rsio_nvme_share is not loaded"),
                "{op:?}"
            );
        }
        let fail = |errno| Outcome {
            rc: -1,
            errno,
            elapsed: Duration::ZERO,
            addr: 0,
        };
        use nvme::presence_violation as v;
        assert_eq!(v(false, NVME_IOC_LIST, &fail(libc::ENOTTY)), None);
        assert!(v(false, NVME_IOC_LIST, &fail(libc::EINVAL)).is_some());
        assert!(v(true, NVME_IOC_LIST, &fail(libc::ENOTTY)).is_some());
        assert_eq!(v(true, NVME_IOC_LIST, &fail(libc::EINVAL)), None);
        assert_eq!(v(true, NVME_IOC_ATTACH, &fail(libc::EDQUOT)), None);
        // The errnos the module documents are allowed.
        let k = Some(known(KNOWN, Op::NvmeAttach));
        for e in [libc::EDQUOT, libc::EACCES, libc::EBUSY, libc::EOPNOTSUPP] {
            assert!(<Fuzzer<Rsio> as Abi>::allows(k, e), "{}", errname(e));
            assert!(!<Fuzzer<Rsio> as Abi>::allows(
                Some(known(KNOWN, Op::Grant)),
                e
            ));
        }
    }

    #[test]
    fn nvme_share_rules() {
        let fz = nvme_fuzzer(true, true);
        let share = |edit: &dyn Fn(&mut Vec<u8>)| {
            fz.call(Op::NvmeShare, |b| {
                put(b, nvme::SHARE_DEVFN, 4, 4 << 3);
                edit(b);
            })
        };
        let policy = |i: usize, nsid: u64, kind: u64, node: u64, flags: u64| {
            move |b: &mut Vec<u8>| {
                let at = offset_of!(rsio_uapi::nvme_share::NvmeShare, policies) + 16 * i;
                put(b, nvme::SHARE_NPOL, 4, i as u64 + 1);
                put(b, at, 4, nsid);
                put(b, at + 4, 4, kind);
                put(b, at + 8, 4, node);
                put(b, at + 12, 4, flags);
            }
        };
        assert_eq!(fz.must_fail(&share(&|_| {})), None);
        assert_eq!(fz.must_fail(&share(&|b| put(b, 4, 4, 1))), None, "FORCE");
        assert!(fz.must_fail(&share(&|b| put(b, 4, 4, 2))).is_some());
        assert_eq!(fz.must_fail(&share(&policy(0, 1, 0, 0, 1))), None);
        assert_eq!(fz.must_fail(&share(&policy(0, 2, 1, 1, 0))), None);
        let sixteen = |last_nsid: u64| {
            share(&move |b: &mut Vec<u8>| {
                for i in 0..16 {
                    policy(i, i as u64 + 1, 0, 0, 0)(b);
                }
                policy(15, last_nsid, 1, 1, 0)(b);
            })
        };
        assert_eq!(fz.must_fail(&sixteen(16)), None);
        assert!(
            fz.must_fail(&sixteen(0)).is_some(),
            "the 16th policy is checked"
        );
        for (what, bad) in [
            ("nsid 0", policy(0, 0, 0, 0, 0)),
            ("kind", policy(1, 1, 2, 0, 0)),
            ("flags", policy(0, 1, 0, 0, 2)),
            ("assigned node", policy(0, 1, 1, 16, 0)),
            ("shared node", policy(0, 1, 0, 1, 0)),
        ] {
            assert!(fz.must_fail(&share(&bad)).is_some(), "{what}");
        }
        for (off, v) in [
            (nvme::SHARE_DOMAIN, 0x1_0000),
            (nvme::SHARE_BUS, 0x100),
            (nvme::SHARE_DEVFN, 0x100),
            (nvme::SHARE_CTRL, 1),
            (nvme::SHARE_QPAIRS, 17),
            (nvme::SHARE_NPOL, 17),
        ] {
            let c = share(&|b| put(b, off, 4, v));
            assert!(fz.must_fail(&c).is_some(), "offset {off} = {v:#x}");
        }
        assert!(fz
            .must_fail(&share(&|b| put(b, nvme::SHARE_QPAIRS, 4, 16)))
            .is_none());
        let elsewhere = |devfn: u64| share(&|b| put(b, nvme::SHARE_DEVFN, 4, devfn));
        let why = fz.must_fail(&elsewhere(0)).unwrap();
        assert!(why.contains("class 060000"), "{why}");
        assert!(fz
            .must_fail(&elsewhere(5 << 3))
            .unwrap()
            .contains("no PCI function"));
        let unshare = |q: u64| {
            fz.call(Op::NvmeUnshare, |b| {
                put(b, nvme::SHARE_DEVFN, 4, 4 << 3);
                put(b, nvme::SHARE_QPAIRS, 4, q);
            })
        };
        assert_eq!(fz.must_fail(&unshare(0)), None);
        assert!(fz.must_fail(&unshare(1)).is_some());
        // UNSHARE writes nothing back: a read-only argument may succeed.
        let mut c = unshare(0);
        c.arg = Ptr::ReadOnly;
        assert_eq!(fz.must_fail(&c), None);
        c.cmd = NVME_IOC_SHARE;
        assert!(fz.must_fail(&c).is_some(), "SHARE writes ctrl back");
        // Without sysfs nothing is known of the functions.
        let mut fz = fz;
        fz.abi.nvme.pci = None;
        assert_eq!(fz.must_fail(&fz.call(Op::NvmeShare, |_| {})), None);
    }

    #[test]
    fn nvme_attach_and_list_rules() {
        let fz = nvme_fuzzer(true, true);
        let attach = |op: Op, node: u64, ctrl: u64, edit: &dyn Fn(&mut Vec<u8>)| {
            fz.call(op, |b| {
                put(b, nvme::ATT_NODE, 4, node);
                put(b, nvme::ATT_CTRL, 4, ctrl);
                edit(b);
            })
        };
        assert_eq!(
            fz.must_fail(&attach(Op::NvmeAttach, 1, 0x10001, &|_| {})),
            None
        );
        assert_eq!(
            fz.must_fail(&attach(Op::NvmeAttach, 0, 0x1, &|_| {})),
            None,
            "the manager's own node attaches too"
        );
        assert_eq!(
            fz.must_fail(&attach(Op::NvmeAttach, 1, 0x10001, &|b| {
                put(b, 4, 4, 1);
                put(b, nvme::ATT_QPAIRS, 4, 16);
                put(b, nvme::ATT_NSID, 4, 2);
            })),
            None
        );
        for (what, node, ctrl) in [
            ("node out of the fabric", 2, 0x20001),
            ("node out of range", 16, 0x10_0001),
            ("another node's ctrl", 1, 0x20001),
            ("index 0", 1, 0x10000),
        ] {
            let c = attach(Op::NvmeAttach, node, ctrl, &|_| {});
            assert!(fz.must_fail(&c).is_some(), "{what}");
        }
        for off in [36, 28, 32, 24] {
            let c = attach(Op::NvmeAttach, 1, 0x10001, &|b| put(b, off, 4, 1));
            let why = fz.must_fail(&c);
            assert!(why.is_some(), "offset {off}");
        }
        let c = attach(Op::NvmeAttach, 1, 0x10001, &|b| {
            put(b, nvme::ATT_QPAIRS, 4, 17)
        });
        assert!(fz.must_fail(&c).is_some());
        let c = attach(Op::NvmeAttach, 1, 0x10001, &|b| put(b, 4, 4, 2));
        assert!(fz.must_fail(&c).is_some(), "unknown flag");
        let c = attach(Op::NvmeDetach, 1, 0x10001, &|b| put(b, 4, 4, 1));
        assert_eq!(fz.must_fail(&c), None, "FORCE");
        for off in [nvme::ATT_QPAIRS, nvme::ATT_NSID] {
            let c = attach(Op::NvmeDetach, 1, 0x10001, &|b| put(b, off, 4, 1));
            assert!(fz.must_fail(&c).is_some(), "DETACH offset {off}");
        }
        let list = |op: Op, es: usize| {
            fz.call(op, |b| {
                put(b, LIST_ENTRY_SIZE, 4, es as u64);
                put(b, LIST_CAPACITY, 4, 4);
            })
        };
        for op in [Op::NvmeList, Op::NvmeListNs, Op::NvmeListClients] {
            let min = nvme::entry_min(op);
            assert_eq!(fz.must_fail(&list(op, min)), None, "{op:?}");
            assert!(fz.must_fail(&list(op, min - 1)).is_some(), "{op:?}");
        }
        // Lists are for anyone, the rest for root.
        let fz = nvme_fuzzer(false, true);
        assert_eq!(fz.must_fail(&list(Op::NvmeList, 124)), None);
        assert!(fz
            .must_fail(&attach(Op::NvmeAttach, 1, 0x10001, &|_| {}))
            .is_some());
    }

    #[test]
    fn valid_nvme_operations_pass_the_model() {
        let mut fz = nvme_fuzzer(true, true);
        fz.abi.nvme.ctrls = vec![(1, 0x10001), (0, 0x1)];
        for op in NVME_OPS {
            for _ in 0..50 {
                let c = fz.valid_call(op, "");
                let why = fz.must_fail(&c);
                assert!(
                    why.as_deref()
                        .is_none_or(|w| w.contains("(no NVMe controller there)")),
                    "{op:?}: {why:?}"
                );
            }
        }
    }

    #[test]
    fn sysfs_names_parse_as_pci_addresses() {
        assert_eq!(nvme::parse_bdf("0000:00:04.0"), Some((0, 0, 32)));
        assert_eq!(nvme::parse_bdf("10000:01:1f.7"), Some((0x10000, 1, 0xff)));
        for bad in [
            "",
            "0000:00:04",
            "0000:00:20.0",
            "0000:00:04.8",
            "x:00:04.0",
        ] {
            assert_eq!(nvme::parse_bdf(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_mixes_are_per_mille_and_the_valid_weights_per_cent() {
        let mix: u64 = <Fuzzer<Rsio> as Abi>::MIX.iter().sum();
        assert!(mix < 1000, "room for the forks");
        assert_eq!(KNOWN.iter().map(|k| k.valid).sum::<u64>(), 100);
    }
}
