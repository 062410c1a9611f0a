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

mod fuzz_common;

use anyhow::{Context, Result};
use clap::Parser;
use fuzz_common::*;
use rsio_uapi::*;
use std::collections::BTreeMap;
use std::fs::File;
use std::mem::{offset_of, size_of};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};
/// A call slower than this is reported as slow.
const SLOW: Duration = Duration::from_secs(2);
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
/// Ioctl types the VFS handles itself before the driver sees the call
/// (FIOCLEX, FIONBIO, FIFREEZE, FS_IOC_*, FICLONE, ...): a random number of
/// these types is drawn again.
const VFS_TYPES: &[u32] = &[0x00, 0x15, 0x54, 0x58, 0x66, 0x94];
/// Exit code of a child that found a violation.
/// Exit code of a child that could not open the device.
const CHILD_NO_DEVICE: i32 = 4;

#[derive(Parser)]
#[command(about = "Fuzzes /dev/rsio's ioctls (run it on the debug kernel)")]
struct Args {
    /// The device to fuzz.
    #[arg(long, default_value = RSIO_DEVICE_PATH)]
    device: String,
    /// Iterations (each one ioctl, or a few).
    #[arg(long, default_value_t = 10000)]
    iterations: u64,
    /// Stop after this many seconds if the iterations are not done yet.
    #[arg(long)]
    seconds: Option<u64>,
    /// PRNG seed (default: from the clock; printed either way).
    #[arg(long)]
    seed: Option<u64>,
    /// Round trips of a ping that is not fuzzed on its count.
    #[arg(long, default_value_t = 3)]
    max_ping_count: u32,
    /// Drop to UID[:GID] (no supplementary groups, no capabilities) before
    /// opening the device, to cover the unprivileged paths.
    #[arg(long, value_name = "UID[:GID]")]
    user: Option<String>,
    /// Print every call.
    #[arg(long)]
    verbose: bool,
}

// --- The ABI's ioctls as the fuzzer sees them.

#[derive(Clone, Copy, PartialEq, Eq)]
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
}

#[derive(Clone, Copy)]
struct Known {
    io: Op,
    name: &'static str,
    cmd: u32,
    min: usize,
    flags: u32,
    /// The kernel writes the struct back.
    output: bool,
    /// Needs CAP_SYS_ADMIN.
    admin: bool,
}

const KNOWN: &[Known] = &[
    Known {
        io: Op::Version,
        name: "VERSION",
        cmd: RSIO_IOC_VERSION,
        min: RSIO_VERSION_SIZE_V1,
        flags: 0,
        output: true,
        admin: false,
    },
    Known {
        io: Op::Status,
        name: "STATUS",
        cmd: RSIO_IOC_STATUS,
        min: RSIO_STATUS_SIZE_V1,
        flags: 0,
        output: true,
        admin: false,
    },
    Known {
        io: Op::Nodes,
        name: "NODES",
        cmd: RSIO_IOC_NODES,
        min: RSIO_LIST_SIZE_V1,
        flags: 0,
        output: true,
        admin: false,
    },
    Known {
        io: Op::Windows,
        name: "WINDOWS",
        cmd: RSIO_IOC_WINDOWS,
        min: RSIO_LIST_SIZE_V1,
        flags: 0,
        output: true,
        admin: false,
    },
    Known {
        io: Op::Ping,
        name: "PING",
        cmd: RSIO_IOC_PING,
        min: RSIO_PING_SIZE_V1,
        flags: 0,
        output: true,
        admin: false,
    },
    Known {
        io: Op::Grant,
        name: "GRANT",
        cmd: RSIO_IOC_GRANT,
        min: RSIO_GRANT_SIZE_V1,
        flags: 0,
        output: true,
        admin: true,
    },
    Known {
        io: Op::Revoke,
        name: "REVOKE",
        cmd: RSIO_IOC_REVOKE,
        min: RSIO_ID_SIZE_V1,
        flags: 0,
        output: false,
        admin: true,
    },
    Known {
        io: Op::Map,
        name: "MAP",
        cmd: RSIO_IOC_MAP,
        min: RSIO_MAP_SIZE_V1,
        flags: 0,
        output: true,
        admin: true,
    },
    Known {
        io: Op::Unmap,
        name: "UNMAP",
        cmd: RSIO_IOC_UNMAP,
        min: RSIO_ID_SIZE_V1,
        flags: 0,
        output: false,
        admin: true,
    },
    Known {
        io: Op::WindowIo,
        name: "WINDOW_IO",
        cmd: RSIO_IOC_WINDOW_IO,
        min: RSIO_WINDOW_IO_SIZE_V1,
        flags: RSIO_IO_WRITE,
        output: false,
        admin: true,
    },
];

fn known(io: Op) -> Known {
    *KNOWN
        .iter()
        .find(|k| k.io == io)
        .expect("every Op is in KNOWN")
}

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
}

#[derive(Clone, Copy)]
struct Field {
    name: &'static str,
    off: usize,
    w: usize,
    dom: Dom,
}

const fn f(name: &'static str, off: usize, w: usize, dom: Dom) -> Field {
    Field { name, off, w, dom }
}

const LIST_ENTRIES: usize = offset_of!(RsioList, entries);
const LIST_CAPACITY: usize = offset_of!(RsioList, capacity);
const LIST_ENTRY_SIZE: usize = offset_of!(RsioList, entry_size);
const LIST_COUNT: usize = offset_of!(RsioList, count);
const LIST_RESERVED: usize = offset_of!(RsioList, reserved);
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

/// The fields a mutation may set (embedded pointers are mutated apart).
fn fields(io: Op) -> &'static [Field] {
    const VERSION: &[Field] = &[
        f("abi_major", 8, 4, Dom::Out),
        f("features", 16, 8, Dom::Out),
    ];
    const STATUS: &[Field] = &[
        f("transport", 8, 4, Dom::Out),
        f("msgs_tx", 64, 8, Dom::Out),
    ];
    const LIST: &[Field] = &[
        f("capacity", LIST_CAPACITY, 4, Dom::Capacity),
        f("entry_size", LIST_ENTRY_SIZE, 4, Dom::EntrySize),
        f("count", LIST_COUNT, 4, Dom::Out),
        f("reserved", LIST_RESERVED, 4, Dom::Reserved),
    ];
    const PING: &[Field] = &[
        f("node", PING_NODE, 4, Dom::Node),
        f("count", PING_COUNT, 4, Dom::Count),
        f("payload_len", PING_PAYLOAD, 4, Dom::Payload),
        f("timeout_ms", PING_TIMEOUT, 4, Dom::Timeout),
        f("rtt_min_ns", offset_of!(RsioPing, rtt_min_ns), 8, Dom::Out),
    ];
    const GRANT: &[Field] = &[
        f("peers", GRANT_PEERS, 4, Dom::Peers),
        f("id", GRANT_ID, 4, Dom::Out),
        f("len", GRANT_LEN, 8, Dom::Len),
        f("fabric_addr", GRANT_FABRIC, 8, Dom::Out),
    ];
    const ID: &[Field] = &[
        f("id", ID_ID, 4, Dom::Id),
        f("reserved", ID_RESERVED, 4, Dom::Reserved),
    ];
    const MAP: &[Field] = &[
        f("node", MAP_NODE, 4, Dom::Node),
        f("id", MAP_ID, 4, Dom::Out),
        f("fabric_addr", MAP_FABRIC, 8, Dom::Addr),
        f("len", MAP_LEN, 8, Dom::Len),
    ];
    const WIO: &[Field] = &[
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
    }
}

/// The embedded user pointer of an ioctl's struct, if it has one.
fn embedded(io: Op) -> Option<usize> {
    match io {
        Op::Nodes | Op::Windows => Some(LIST_ENTRIES),
        Op::WindowIo => Some(IO_BUF),
        _ => None,
    }
}

// --- One call.

struct Call {
    cmd: u32,
    /// The struct's bytes as placed (what fit before a guard page).
    bytes: Vec<u8>,
    arg: Ptr,
    /// The embedded pointer's class and the bytes it must cover.
    emb: Option<Ptr>,
    /// How the call was made, for reports.
    what: String,
}

struct Outcome {
    rc: i64,
    errno: i32,
    elapsed: Duration,
    addr: u64,
}

/// One window this file holds.
#[derive(Clone, Copy)]
struct Window {
    id: u32,
    grant: bool,
    size: u64,
    fabric_addr: u64,
}

#[derive(Default)]
struct Stats {
    iterations: u64,
    calls: u64,
    successes: u64,
    slow: u64,
    reopens: u64,
    children: u64,
    children_killed: u64,
    per_ioctl: BTreeMap<&'static str, BTreeMap<i32, u64>>,
    errnos: BTreeMap<i32, u64>,
    violations: u64,
    /// Per ioctl: calls the ABI lets succeed, and of those, how many failed
    /// (state, a peer down, no transport: not a violation, but a measure of
    /// how much of the fuzzing reaches past the argument checks).
    may_succeed: BTreeMap<&'static str, (u64, u64)>,
}

struct Fuzzer {
    device: String,
    file: File,
    rng: Rng,
    mem: Mem,
    stats: Stats,
    privileged: bool,
    /// This node's id, from STATUS (None without a transport).
    self_id: Option<u32>,
    peer: u32,
    nodes: u32,
    max_ping: u32,
    verbose: bool,
    /// Windows of the current file.
    pool: Vec<Window>,
    /// Ids of windows gone (revoked, unmapped, or of a closed file).
    stale: Vec<u32>,
    child: bool,
    iteration: u64,
}

impl Fuzzer {
    fn exec(&mut self, call: Call) {
        let must_fail = self.must_fail(&call);
        let addr = self.place(&call);
        let fd = self.file.as_raw_fd();
        let start = Instant::now();
        // SAFETY: the kernel may only write to our dedicated fuzz regions (each followed by a guard page) or to addresses we do not use; the fuzzer itself touches none of them through references.
        let rc = unsafe { libc::ioctl(fd, call.cmd as libc::c_ulong, addr as usize) } as i64;
        let elapsed = start.elapsed();
        let errno = if rc < 0 {
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
        } else {
            0
        };
        let out = Outcome {
            rc,
            errno,
            elapsed,
            addr,
        };
        self.record(&call, &out, must_fail);
        if rc == 0 {
            self.after_success(&call, &out);
        } else if errno == libc::ENOENT {
            self.after_enoent(&call);
        }
    }

    /// Writes the argument where its pointer class says; returns its address.
    fn place(&mut self, call: &Call) -> u64 {
        match call.arg {
            Ptr::Valid => {
                let off = 8 * self.rng.below(32) as usize;
                self.mem.arg.write(off, &call.bytes);
                self.mem.arg.addr(off)
            }
            Ptr::Misaligned => {
                let off = 8 * self.rng.below(32) as usize + self.rng.range(1, 7) as usize;
                self.mem.arg.write(off, &call.bytes);
                self.mem.arg.addr(off)
            }
            Ptr::Straddle(k) => {
                let addr = self.mem.arg.before_guard(k);
                self.mem
                    .arg
                    .write(self.mem.arg.len - k, &call.bytes[..k.min(call.bytes.len())]);
                addr
            }
            Ptr::ReadOnly => {
                let off = 8 * self.rng.below(8) as usize;
                self.mem.write_ro(off, &call.bytes);
                self.mem.ro.addr(off)
            }
            p => p.fixed_addr(&self.mem),
        }
    }

    /// An embedded pointer of class `p` for `need` bytes.
    fn emb_addr(&mut self, p: Ptr, region_is_data: bool) -> u64 {
        let r = if region_is_data {
            &self.mem.data
        } else {
            &self.mem.entries
        };
        match p {
            Ptr::Valid => r.addr(8 * self.rng.below(64) as usize),
            Ptr::Misaligned => r.addr(self.rng.range(1, 7) as usize),
            Ptr::Straddle(k) => r.before_guard(k),
            Ptr::ReadOnly => self.mem.ro.addr(0),
            p => p.fixed_addr(&self.mem),
        }
    }

    /// Why the ABI says this call must fail (None: it may succeed).
    fn must_fail(&self, call: &Call) -> Option<String> {
        let cmd = call.cmd;
        if ioc_type(cmd) != RSIO_IOC_MAGIC {
            return Some("foreign ioctl type".into());
        }
        let Some(k) = dispatch(cmd) else {
            return Some("unknown ioctl number or direction".into());
        };
        let size = ioc_size(cmd);
        if call.arg.is_bad() {
            return Some(format!("argument pointer {:?}", call.arg));
        }
        if let Ptr::Straddle(n) = call.arg {
            if n < size || n < 8 {
                return Some(format!(
                    "argument straddles a guard page ({n} of {size} bytes mapped)"
                ));
            }
        }
        let c = &call.bytes;
        if size < size_of::<ArgHeader>() {
            return Some("ioctl size below the header".into());
        }
        let hsize = get(c, 0, 4) as usize;
        let flags = get(c, 4, 4) as u32;
        let known_size = ioc_size(k.cmd);
        if hsize != size {
            return Some(format!("header.size {hsize} != ioctl size {size}"));
        }
        if size < k.min {
            return Some(format!("size {size} below the first version's {}", k.min));
        }
        if size > RSIO_MAX_ARG_SIZE {
            return Some(format!("size {size} above RSIO_MAX_ARG_SIZE"));
        }
        if size > known_size
            && c.get(known_size..size.min(c.len()))
                .unwrap_or(&[])
                .iter()
                .any(|&b| b != 0)
        {
            return Some("non-zero bytes beyond the known struct".into());
        }
        if flags & !k.flags != 0 {
            return Some(format!("unknown flags {flags:#x}"));
        }
        if call.arg == Ptr::ReadOnly && k.output {
            return Some("read-only argument: the kernel cannot write it back".into());
        }
        if k.admin && !self.privileged {
            return Some("administration ioctl without CAP_SYS_ADMIN".into());
        }
        let v = |off: usize, w: usize| if off + w <= size { get(c, off, w) } else { 0 };
        let bad_len = |len: u64| {
            len == 0 || !len.is_multiple_of(RSIO_WINDOW_ALIGN) || len > RSIO_MAX_WINDOW_SIZE
        };
        let bad_node = |n: u64| n >= RSIO_MAX_NODES as u64 || Some(n as u32) == self.self_id;
        match k.io {
            Op::Version | Op::Status => None,
            Op::Nodes | Op::Windows => {
                let min = if k.io == Op::Nodes {
                    RSIO_NODE_ENTRY_SIZE_V1
                } else {
                    RSIO_WINDOW_ENTRY_SIZE_V1
                };
                let es = v(LIST_ENTRY_SIZE, 4) as usize;
                if es < min || es > RSIO_MAX_ARG_SIZE {
                    Some(format!("entry_size {es}"))
                } else if v(LIST_CAPACITY, 4) > RSIO_MAX_LIST as u64 {
                    Some("capacity above RSIO_MAX_LIST".into())
                } else if v(LIST_RESERVED, 4) != 0 {
                    Some("reserved not zero".into())
                } else {
                    None
                }
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
                let own = self.self_id.map_or(0, |s| 1u64 << s);
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
                let grant = k.io == Op::Revoke;
                if v(ID_RESERVED, 4) != 0 {
                    Some("reserved not zero".into())
                } else if !self.pool.iter().any(|w| w.id == id && w.grant == grant) {
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
                let Some(w) = self.pool.iter().find(|w| w.id == id) else {
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
        }
    }

    fn record(&mut self, call: &Call, out: &Outcome, must_fail: Option<String>) {
        let name = match dispatch(call.cmd) {
            Some(k) => k.name,
            None if ioc_type(call.cmd) == RSIO_IOC_MAGIC => "magic-other",
            None => "foreign",
        };
        self.stats.calls += 1;
        *self
            .stats
            .per_ioctl
            .entry(name)
            .or_default()
            .entry(out.errno)
            .or_default() += 1;
        *self.stats.errnos.entry(out.errno).or_default() += 1;
        if out.rc == 0 {
            self.stats.successes += 1;
        }
        if must_fail.is_none() {
            let e = self.stats.may_succeed.entry(name).or_default();
            e.0 += 1;
            if out.rc != 0 {
                e.1 += 1;
            }
        }
        if self.verbose {
            println!(
                "{} {name} cmd {:#010x} arg {:?} {:#x} -> {} ({} us) [{}]",
                self.iteration,
                call.cmd,
                call.arg,
                out.addr,
                if out.rc < 0 {
                    errname(out.errno)
                } else {
                    format!("rc {}", out.rc)
                },
                out.elapsed.as_micros(),
                call.what
            );
        }
        if out.elapsed > SLOW {
            self.stats.slow += 1;
            println!(
                "rsio-fuzz: slow call ({} ms): {name} {}",
                out.elapsed.as_millis(),
                self.describe(call, out)
            );
        }
        let problem = if out.rc > 0 {
            Some(format!("positive return value {}", out.rc))
        } else if out.rc < 0 && !DOCUMENTED.contains(&out.errno) {
            Some(format!(
                "undocumented errno {} ({})",
                errname(out.errno),
                out.errno
            ))
        } else if out.rc == 0 {
            must_fail.map(|why| format!("success, but the ABI says it must fail: {why}"))
        } else {
            None
        };
        if let Some(p) = problem {
            self.violation(&format!("{name}: {p}\n  {}", self.describe(call, out)));
        }
    }

    fn describe(&self, call: &Call, out: &Outcome) -> String {
        let c = call.cmd;
        let hex: String = call
            .bytes
            .iter()
            .take(64)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!(
            "cmd {c:#010x} (dir {} type {:#x} nr {:#x} size {}) arg {:?} at {:#x}, rc {} errno {} after {} us\n  what: {}\n  bytes[..64]: {hex}",
            ioc_dir(c),
            ioc_type(c),
            ioc_nr(c),
            ioc_size(c),
            call.arg,
            out.addr,
            out.rc,
            errname(out.errno),
            out.elapsed.as_micros(),
            call.what
        )
    }

    fn violation(&mut self, msg: &str) {
        self.stats.violations += 1;
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        eprintln!(
            "rsio-fuzz: VIOLATION at iteration {} (pid {pid}): {msg}",
            self.iteration
        );
        if self.child {
            // SAFETY: _exit ends this forked child at once, as a child must (no atexit handlers, no unwinding into the parent's state).
            unsafe { libc::_exit(CHILD_VIOLATION) };
        }
    }

    fn after_success(&mut self, call: &Call, out: &Outcome) {
        let Some(k) = dispatch(call.cmd) else { return };
        let readable = matches!(call.arg, Ptr::Valid | Ptr::Misaligned);
        match k.io {
            Op::Grant | Op::Map if readable => {
                let (id_off, len_off) = if k.io == Op::Grant {
                    (GRANT_ID, GRANT_LEN)
                } else {
                    (MAP_ID, MAP_LEN)
                };
                let id = self.mem.arg.read(out.addr + id_off as u64, 4).unwrap_or(0) as u32;
                let fabric_addr = if k.io == Op::Grant {
                    self.mem
                        .arg
                        .read(out.addr + GRANT_FABRIC as u64, 8)
                        .unwrap_or(0)
                } else {
                    get(&call.bytes, MAP_FABRIC, 8)
                };
                let size = get(&call.bytes, len_off, 8);
                self.pool.retain(|w| w.id != id);
                self.pool.push(Window {
                    id,
                    grant: k.io == Op::Grant,
                    size,
                    fabric_addr,
                });
                // Large windows go at once: they hold memory or many
                // translation entries the rest of the run needs.
                if size > 1 << 20 {
                    self.drop_window(id, k.io == Op::Grant, "release a large window at once");
                }
            }
            Op::Revoke | Op::Unmap => self.after_enoent(call),
            _ => {}
        }
    }

    /// The id is gone from this file (revoked, unmapped, or never there).
    fn after_enoent(&mut self, call: &Call) {
        let Some(k) = dispatch(call.cmd) else { return };
        if matches!(k.io, Op::Revoke | Op::Unmap) {
            let id = get(&call.bytes, ID_ID, 4) as u32;
            let grant = k.io == Op::Revoke;
            if self.pool.iter().any(|w| w.id == id && w.grant == grant) {
                self.pool.retain(|w| !(w.id == id && w.grant == grant));
                self.stale.push(id);
            }
        }
    }

    fn drop_window(&mut self, id: u32, grant: bool, what: &str) {
        let io = if grant { Op::Revoke } else { Op::Unmap };
        let mut b = self.request(io);
        put(&mut b, ID_ID, 4, id as u64);
        self.exec(Call {
            cmd: known(io).cmd,
            bytes: b,
            arg: Ptr::Valid,
            emb: None,
            what: what.into(),
        });
    }

    /// A zeroed struct of `io`'s size with a valid header.
    fn request(&self, io: Op) -> Vec<u8> {
        let size = ioc_size(known(io).cmd);
        let mut b = vec![0u8; size];
        put(&mut b, 0, 4, size as u64);
        b
    }

    fn some_id(&mut self, grant: Option<bool>) -> u32 {
        let live: Vec<u32> = self
            .pool
            .iter()
            .filter(|w| grant.is_none_or(|g| w.grant == g))
            .map(|w| w.id)
            .collect();
        match self.rng.below(10) {
            0..=6 if !live.is_empty() => self.rng.pick(&live),
            0..=7 if !self.stale.is_empty() => self.rng.pick(&self.stale),
            8 => self.rng.pick(&[0, 1, 2, u32::MAX]),
            _ => self.rng.below(64) as u32,
        }
    }

    fn some_node(&mut self) -> u32 {
        match self.rng.below(10) {
            0..=7 => self.peer,
            _ => self.rng.below(self.nodes as u64) as u32,
        }
    }

    /// A valid argument for `io` in the current state; returns the bytes and
    /// the embedded pointer class if the struct has one.
    fn valid_args(&mut self, io: Op) -> (Vec<u8>, Option<Ptr>) {
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
                    self.rng.range(1, self.max_ping.max(1) as u64),
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
                let mut peers = 1u64 << self.peer;
                if self.rng.chance(1, 4) {
                    let own = self.self_id.map_or(0, |s| 1u64 << s);
                    peers = ((1u64 << self.nodes) - 1) & !own;
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
        }
        (b, emb)
    }

    /// Sets the embedded pointer field from its class.
    fn set_emb(&mut self, io: Op, b: &mut [u8], p: Ptr) {
        if let Some(off) = embedded(io) {
            let addr = self.emb_addr(p, io == Op::WindowIo);
            put(b, off, 8, addr);
        }
    }

    /// A boundary value for a field.
    fn boundary(&mut self, fl: Field) -> u64 {
        let generic = [0u64, 1, u32::MAX as u64, u64::MAX, 1 << 63, 1 << 31];
        let extra: Vec<u64> = match fl.dom {
            Dom::Node => vec![
                self.self_id.unwrap_or(0) as u64,
                self.peer as u64,
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
                let own = self.self_id.unwrap_or(0);
                vec![
                    1 << own,
                    1 << self.peer,
                    0xffff,
                    1 << 16,
                    1 << 31,
                    (1 << self.nodes) - 1,
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
                RSIO_MAX_ARG_SIZE as u64,
                RSIO_MAX_ARG_SIZE as u64 + 1,
            ],
            Dom::Offset => vec![2, 4, 4092, 4096, 16384, u64::MAX - 3],
            Dom::Reserved => vec![1, 1 << 31],
            Dom::Out => vec![self.rng.next()],
        };
        let v = if self.rng.chance(1, 2) {
            self.rng.pick(&generic)
        } else {
            self.rng.pick(&extra)
        };
        if fl.w == 4 {
            v & 0xffff_ffff
        } else {
            v
        }
    }

    // --- Strategies.

    fn random_contents(&mut self, size: usize, io: Option<Op>) -> (Vec<u8>, Option<Ptr>) {
        let mut b = vec![0u8; size.max(8)];
        self.rng.fill(&mut b);
        if self.rng.chance(1, 2) {
            put(&mut b, 0, 4, size as u64);
            put(&mut b, 4, 4, 0);
        }
        // Random bytes must not make the kernel write into our own memory:
        // an embedded pointer always gets one of our classes.
        let mut emb = None;
        if let Some(io) = io {
            if embedded(io).is_some() {
                let p = pick_ptr(&mut self.rng, 4096);
                self.set_emb(io, &mut b, p);
                emb = Some(p);
            }
        }
        (b, emb)
    }

    fn fuzz_random_cmd(&mut self) {
        let cmd = loop {
            let c = self.rng.next() as u32;
            if !VFS_TYPES.contains(&ioc_type(c)) {
                break c;
            }
        };
        let size = ioc_size(cmd);
        let (b, emb) = self.random_contents(size.min(4200), dispatch(cmd).map(|k| k.io));
        let arg = pick_ptr(&mut self.rng, size);
        self.exec(Call {
            cmd,
            bytes: b,
            arg,
            emb,
            what: "random ioctl number".into(),
        });
    }

    fn fuzz_magic_cmd(&mut self) {
        let dir = self.rng.below(4) as u32;
        let nr = self.rng.below(0x21) as u32;
        let sizes: Vec<usize> = KNOWN.iter().map(|k| ioc_size(k.cmd)).collect();
        let size = match self.rng.below(4) {
            0 => self.rng.pick(&sizes),
            1 => self.rng.pick(&sizes) + 8,
            2 => self.rng.pick(&[0, 4, 8, 16, 4096, 4097, 0x3fff]),
            _ => self.rng.below(0x4000) as usize,
        };
        let cmd = ioc(dir, RSIO_IOC_MAGIC, nr, size);
        let (b, emb) = self.random_contents(size.min(4200), dispatch(cmd).map(|k| k.io));
        let arg = if self.rng.chance(2, 3) {
            Ptr::Valid
        } else {
            pick_ptr(&mut self.rng, size)
        };
        self.exec(Call {
            cmd,
            bytes: b,
            arg,
            emb,
            what: format!("magic ioctl dir {dir} nr {nr:#x} size {size}"),
        });
    }

    fn fuzz_wrong_size(&mut self) {
        let k = self.rng.pick(KNOWN);
        let ks = ioc_size(k.cmd);
        let size = loop {
            let s = self.rng.pick(&[
                0,
                4,
                8,
                ks - 8,
                ks - 1,
                ks + 1,
                ks + 4,
                ks + 8,
                2 * ks,
                4096,
                4104,
                0x3fff,
            ]);
            let s = if self.rng.chance(1, 8) {
                self.rng.below(0x4000) as usize
            } else {
                s
            };
            if s != ks {
                break s;
            }
        };
        let cmd = ioc(ioc_dir(k.cmd), RSIO_IOC_MAGIC, ioc_nr(k.cmd), size);
        let (mut b, emb) = self.valid_args(k.io);
        b.resize(size.max(8), 0);
        let hsize = if self.rng.chance(1, 2) { size } else { ks };
        put(&mut b, 0, 4, hsize as u64);
        if let Some(p) = emb {
            self.set_emb(k.io, &mut b, p);
        }
        self.exec(Call {
            cmd,
            bytes: b,
            arg: Ptr::Valid,
            emb,
            what: format!(
                "{} with size {size} in the number, header.size {hsize}",
                k.name
            ),
        });
    }

    fn fuzz_known(&mut self) {
        let k = self.rng.pick(KNOWN);
        let mut cmd = k.cmd;
        let (mut b, mut emb) = self.valid_args(k.io);
        let mut arg = Ptr::Valid;
        let mut what = Vec::new();
        for _ in 0..self.rng.range(1, 3) {
            match self.rng.below(6) {
                0 => {
                    arg = pick_ptr(&mut self.rng, b.len());
                    what.push(format!("arg {arg:?}"));
                }
                1 => {
                    // header.size, mostly with the ioctl number following it
                    let ks = ioc_size(k.cmd);
                    let (size, tail) = match self.rng.below(7) {
                        0 => (0, false),
                        1 => (self.rng.range(1, 8) as usize, false),
                        2 => (ks, false),
                        3 | 4 => (ks + 8, false),
                        5 => (ks + 8, true),
                        _ => (
                            self.rng.pick(&[4097, 8192, 0x3fff, u32::MAX as usize]),
                            self.rng.chance(1, 2),
                        ),
                    };
                    b.resize(size.clamp(8, 16384).max(b.len()), 0);
                    if tail && size > ks {
                        let end = size.min(b.len());
                        self.rng.fill(&mut b[ks..end]);
                        b[end - 1] |= 1;
                    }
                    put(&mut b, 0, 4, size as u64);
                    if self.rng.chance(3, 4) {
                        cmd = ioc(ioc_dir(k.cmd), RSIO_IOC_MAGIC, ioc_nr(k.cmd), size);
                    }
                    what.push(format!(
                        "header.size {size}{}",
                        if tail { " non-zero tail" } else { "" }
                    ));
                }
                2 => {
                    let flags = match self.rng.below(3) {
                        0 => 0,
                        1 => 1u64 << self.rng.below(32),
                        _ => u32::MAX as u64,
                    };
                    put(&mut b, 4, 4, flags);
                    what.push(format!("flags {flags:#x}"));
                }
                3 | 4 => {
                    let fl = self.rng.pick(fields(k.io));
                    let v = self.boundary(fl);
                    put(&mut b, fl.off, fl.w, v);
                    what.push(format!("{} = {v:#x}", fl.name));
                }
                _ => match embedded(k.io) {
                    Some(_) => {
                        let p = pick_ptr(&mut self.rng, 64 * 1024);
                        self.set_emb(k.io, &mut b, p);
                        emb = Some(p);
                        what.push(format!("embedded pointer {p:?}"));
                    }
                    None => {
                        // random bytes past the header
                        let end = b.len().min(ioc_size(k.cmd));
                        self.rng.fill(&mut b[8..end]);
                        what.push("random body".into());
                    }
                },
            }
        }
        // A straddling pointer must straddle what is actually passed.
        if let Ptr::Straddle(n) = arg {
            let n = n.min(b.len().saturating_sub(1));
            arg = Ptr::Straddle(n);
        }
        let what = format!("{} mutated: {}", k.name, what.join(", "));
        self.exec(Call {
            cmd,
            bytes: b,
            arg,
            emb,
            what,
        });
    }

    fn valid_op(&mut self) {
        let io = match self.rng.below(100) {
            0..=4 => Op::Version,
            5..=9 => Op::Status,
            10..=14 => Op::Nodes,
            15..=19 => Op::Windows,
            20..=26 => Op::Ping,
            27..=46 => Op::Grant,
            47..=56 => Op::Revoke,
            57..=71 => Op::Map,
            72..=81 => Op::Unmap,
            _ => Op::WindowIo,
        };
        let (mut b, emb) = self.valid_args(io);
        if let Some(p) = emb {
            self.set_emb(io, &mut b, p);
        }
        let name = known(io).name;
        self.exec(Call {
            cmd: known(io).cmd,
            bytes: b,
            arg: Ptr::Valid,
            emb,
            what: format!("valid {name}"),
        });
        // Keep the file's windows bounded.
        if self.pool.len() > 24 {
            let w = self.pool[self.rng.below(self.pool.len() as u64) as usize];
            self.drop_window(w.id, w.grant, "trim the pool");
        }
    }

    fn reopen(&mut self) {
        self.stats.reopens += 1;
        let file = match open_device(&self.device) {
            Ok(f) => f,
            Err(e) => {
                self.violation(&format!("cannot reopen {}: {e}", self.device));
                return;
            }
        };
        // The old file closes here, and with it its windows.
        self.file = file;
        self.stale.extend(self.pool.drain(..).map(|w| w.id));
        if self.stale.len() > 256 {
            self.stale.drain(..128);
        }
    }

    fn fork_child(&mut self) {
        let kill = self.rng.chance(1, 2);
        let seed = self.rng.next();
        let delay_ms = self.rng.range(1, 50);
        let ops = if kill { 2000 } else { self.rng.range(1, 16) };
        self.stats.children += 1;
        let kill_after = kill.then(|| Duration::from_millis(delay_ms));
        match run_child(kill_after, || self.child_main(seed, ops)) {
            ChildEnd::Fine { killed: true } => self.stats.children_killed += 1,
            ChildEnd::Fine { killed: false } => {}
            ChildEnd::Bad(why) => self.violation(&why),
        }
    }

    /// The forked child: its own file, its own windows, a few operations.
    fn child_main(&mut self, seed: u64, ops: u64) -> ! {
        self.child = true;
        self.rng = Rng::new(seed);
        self.verbose = false;
        self.file = match open_device(&self.device) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("rsio-fuzz: child cannot open {}: {e}", self.device);
                // SAFETY: _exit ends the forked child without running the parent's cleanup.
                unsafe { libc::_exit(CHILD_NO_DEVICE) };
            }
        };
        self.pool.clear();
        for _ in 0..ops {
            if self.rng.chance(2, 3) {
                self.valid_op();
            } else {
                self.fuzz_known();
            }
        }
        // SAFETY: _exit ends the forked child without running the parent's cleanup; the kernel closes its file.
        unsafe { libc::_exit(0) };
    }

    fn iterate(&mut self) {
        self.stats.iterations += 1;
        match self.rng.below(1000) {
            0..=99 => self.fuzz_random_cmd(),
            100..=199 => self.fuzz_magic_cmd(),
            200..=279 => self.fuzz_wrong_size(),
            280..=679 => self.fuzz_known(),
            680..=984 => self.valid_op(),
            985..=994 => self.reopen(),
            _ => self.fork_child(),
        }
    }

    fn summary(&self, elapsed: Duration) {
        let s = &self.stats;
        println!("rsio-fuzz: summary after {:.1} s", elapsed.as_secs_f64());
        println!("  iterations  {}", s.iterations);
        println!("  calls       {}", s.calls);
        println!("  successes   {}", s.successes);
        println!("  slow calls  {}", s.slow);
        println!("  reopens     {}", s.reopens);
        println!(
            "  children    {} ({} SIGKILLed)",
            s.children, s.children_killed
        );
        println!("  windows     {} held at the end", self.pool.len());
        println!("per ioctl (calls: results):");
        for (name, m) in &s.per_ioctl {
            let total: u64 = m.values().sum();
            let parts: Vec<String> = m
                .iter()
                .map(|(e, n)| format!("{} {n}", errname(*e)))
                .collect();
            println!("  {name:<12} {total:>7}: {}", parts.join(", "));
        }
        println!("calls the ABI lets succeed (failed anyway):");
        for (name, (n, failed)) in &s.may_succeed {
            println!("  {name:<12} {n:>7} ({failed} failed)");
        }
        println!("errno histogram:");
        for (e, n) in &s.errnos {
            println!("  {:<13} {n:>7}", errname(*e));
        }
    }
}

fn run(args: Args) -> Result<u64> {
    if let Some(u) = &args.user {
        drop_privileges(u)?;
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let file = open_device(&args.device).with_context(|| format!("cannot open {}", args.device))?;
    let privileged = has_sys_admin();
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
    let mut fz = Fuzzer {
        device: args.device.clone(),
        file,
        rng: Rng::new(seed),
        mem: Mem::new(),
        stats: Stats::default(),
        privileged,
        self_id: None,
        peer: 1,
        nodes: env("RSIO_NODES").unwrap_or(2).clamp(1, RSIO_MAX_NODES),
        max_ping: args.max_ping_count,
        verbose: args.verbose,
        pool: Vec::new(),
        stale: Vec::new(),
        child: false,
        iteration: 0,
    };
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
        let kind = fz
            .mem
            .arg
            .read(addr + offset_of!(RsioStatus, transport) as u64, 4)
            .unwrap_or(0) as u32;
        if kind != RSIO_TRANSPORT_NONE {
            let id = fz
                .mem
                .arg
                .read(addr + offset_of!(RsioStatus, node_id) as u64, 4)
                .unwrap_or(0) as u32;
            let n = fz
                .mem
                .arg
                .read(addr + offset_of!(RsioStatus, num_nodes) as u64, 4)
                .unwrap_or(0) as u32;
            fz.self_id = Some(id);
            fz.nodes = n.clamp(1, RSIO_MAX_NODES);
        }
        transport = format!("transport {kind}");
    }
    let own = fz.self_id.or(env("RSIO_NODE")).unwrap_or(0);
    fz.peer = if fz.nodes > 1 {
        (own + 1) % fz.nodes
    } else {
        own ^ 1
    };
    println!(
        "rsio-fuzz: seed {seed}, device {}, {} iterations{}, {}, {}, node {:?} of {}, peer {}",
        args.device,
        args.iterations,
        args.seconds.map_or(String::new(), |s| format!(" or {s} s")),
        if privileged {
            "privileged (CAP_SYS_ADMIN)"
        } else {
            "unprivileged"
        },
        transport,
        fz.self_id,
        fz.nodes,
        fz.peer
    );
    let start = Instant::now();
    let limit = args.seconds.map(Duration::from_secs);
    for i in 0..args.iterations {
        if limit.is_some_and(|l| start.elapsed() >= l) {
            break;
        }
        fz.iteration = i;
        fz.iterate();
    }
    fz.summary(start.elapsed());
    let s = &fz.stats;
    println!(
        "rsio-fuzz: {} (seed {seed}, {} iterations, {} calls, {} successes, {} slow, {} violations)",
        if s.violations == 0 { "PASS" } else { "FAIL" },
        s.iterations,
        s.calls,
        s.successes,
        s.slow,
        s.violations
    );
    Ok(s.violations)
}

fn main() {
    let args = Args::parse();
    match run(args) {
        Ok(0) => std::process::exit(0),
        Ok(_) => std::process::exit(1),
        Err(e) => {
            eprintln!("rsio-fuzz: {e:#}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fuzzer(privileged: bool) -> Fuzzer {
        Fuzzer {
            device: "/dev/null".into(),
            file: open_device("/dev/null").expect("/dev/null opens"),
            rng: Rng::new(1),
            mem: Mem::new(),
            stats: Stats::default(),
            privileged,
            self_id: Some(0),
            peer: 1,
            nodes: 2,
            max_ping: 3,
            verbose: false,
            pool: vec![Window {
                id: 5,
                grant: true,
                size: 8192,
                fabric_addr: 0,
            }],
            stale: vec![9],
            child: false,
            iteration: 0,
        }
    }

    fn call(fz: &Fuzzer, op: Op, edit: impl FnOnce(&mut Vec<u8>)) -> Call {
        let mut bytes = fz.request(op);
        edit(&mut bytes);
        Call {
            cmd: known(op).cmd,
            bytes,
            arg: Ptr::Valid,
            emb: Some(Ptr::Valid),
            what: String::new(),
        }
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
        assert_eq!(fz.must_fail(&call(&fz, Op::Version, |_| {})), None);
        assert!(fz
            .must_fail(&call(&fz, Op::Version, |b| put(b, 4, 4, 1)))
            .is_some());
        assert!(fz
            .must_fail(&call(&fz, Op::Version, |b| put(b, 0, 4, 120)))
            .is_some());
        // A newer struct: accepted with a zero tail, refused with another.
        let mut c = call(&fz, Op::Version, |b| {
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
            let mut c = call(&fz, Op::Version, |_| {});
            c.arg = arg;
            assert!(fz.must_fail(&c).is_some(), "{arg:?}");
        }
        // REVOKE writes nothing back: a read-only argument may succeed.
        let mut c = call(&fz, Op::Revoke, |b| put(b, ID_ID, 4, 5));
        c.arg = Ptr::ReadOnly;
        assert_eq!(fz.must_fail(&c), None);
        c.arg = Ptr::Misaligned;
        assert_eq!(fz.must_fail(&c), None);
    }

    #[test]
    fn field_rules() {
        let fz = fuzzer(true);
        let grant = |len: u64, peers: u64| {
            call(&fz, Op::Grant, |b| {
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
        let revoke = |id: u64| call(&fz, Op::Revoke, |b| put(b, ID_ID, 4, id));
        assert_eq!(fz.must_fail(&revoke(5)), None);
        assert!(fz.must_fail(&revoke(9)).is_some(), "stale id");
        assert!(
            fz.must_fail(&call(&fz, Op::Unmap, |b| put(b, ID_ID, 4, 5)))
                .is_some(),
            "a grant"
        );
        let io = |off: u64, len: u64, flags: u64, buf: Ptr| {
            let mut c = call(&fz, Op::WindowIo, |b| {
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
            call(&fz, Op::Ping, |b| {
                put(b, PING_NODE, 4, node);
                put(b, PING_COUNT, 4, count);
            })
        };
        assert_eq!(fz.must_fail(&ping(1, 1)), None);
        assert!(fz.must_fail(&ping(0, 1)).is_some(), "this node");
        assert!(fz.must_fail(&ping(1, 0)).is_some());
        assert!(fz.must_fail(&ping(1, 10001)).is_some());
        let list = |es: u64, cap: u64| {
            call(&fz, Op::Nodes, |b| {
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
            .must_fail(&call(&fz, Op::Revoke, |b| put(b, ID_ID, 4, 5)))
            .is_some());
        assert_eq!(fz.must_fail(&call(&fz, Op::Status, |_| {})), None);
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
                let (mut b, emb) = fz.valid_args(op);
                if let Some(p) = emb {
                    fz.set_emb(op, &mut b, p);
                }
                let c = Call {
                    cmd: known(op).cmd,
                    bytes: b,
                    arg: Ptr::Valid,
                    emb,
                    what: String::new(),
                };
                // Valid operations name any node now and then, this one too.
                let why = fz.must_fail(&c);
                assert!(
                    why.as_deref()
                        .is_none_or(|w| w.contains("(this node or none)")),
                    "{}: {why:?}",
                    known(op).name
                );
            }
        }
    }
}
