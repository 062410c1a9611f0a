//! `rsio-sisci-fuzz`: an ioctl and mmap fuzzer for `/dev/sisci`
//! (`rsio_sisci`), meant to run in a guest on the debug kernel (KASAN,
//! lockdep, kmemleak), with a peer node serving a few segments and
//! interrupts.
//!
//! Every iteration picks a strategy: a random ioctl number, a random number
//! with rsio's magic, a known ioctl (0x40..0x54) with the wrong size in its
//! number, a known ioctl with one to three mutations (argument pointer,
//! header size, flags, a field at a boundary value, the embedded user
//! pointers, the DMA entries), a valid operation in the current state
//! (segments created, prepared, made available and unavailable, removed;
//! connections to the peer's and to this node's segments; interrupts
//! created, connected, triggered and waited for with tiny timeouts or
//! NONBLOCK, eventfds attached; DMA queues, transfers and waits), an mmap
//! at a good or bad offset and length, or a probe of the mappings. Now and
//! then it reopens the device, or forks a child that works on its own file
//! and exits or is SIGKILLed mid-loop. Waits that could block long run
//! under an interval timer whose signal makes them return `EINTR`.
//!
//! The run passes (exit 0) if every errno is one the ioctl may return
//! (model.rs), no call returns a positive value, no call succeeds that the
//! ABI says must fail, a mapping of a removed segment or of a closed
//! connection reaches no memory, and every child exited cleanly or by our
//! SIGKILL. Deterministic for a given seed (and kernel and peer behaviour).

mod fuzz_common;
#[path = "sisci_fuzz/mapping.rs"]
mod mapping;
#[path = "sisci_fuzz/model.rs"]
mod model;

use anyhow::{Context, Result};
use clap::Parser;
use fuzz_common::*;
use mapping::{Mapping, Prober};
use model::*;
use rsio_uapi::sisci::*;
use rsio_uapi::*;
use std::collections::BTreeMap;
use std::fs::File;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// A call slower than this is reported as slow.
const SLOW: Duration = Duration::from_secs(3);
/// Ioctl types the VFS handles itself (see rsio_fuzz.rs).
const VFS_TYPES: &[u32] = &[0x00, 0x15, 0x54, 0x58, 0x66, 0x94];
const CHILD_NO_DEVICE: i32 = 4;
/// Waits longer than this (ms) run under the interval timer.
const LONG_WAIT_MS: u64 = 30;
/// The handle limit of the driver (state.rs): handles are below.
const HANDLE_LIMIT: u32 = 1 << 23;

#[derive(Parser)]
#[command(about = "Fuzzes /dev/sisci's ioctls and mmap (run it on the debug kernel)")]
struct Args {
    #[arg(long, default_value = SISCI_DEVICE_PATH)]
    device: String,
    #[arg(long, default_value_t = 10000)]
    iterations: u64,
    /// Stop after this many seconds if the iterations are not done yet.
    #[arg(long)]
    seconds: Option<u64>,
    /// PRNG seed (default: from the clock; printed either way).
    #[arg(long)]
    seed: Option<u64>,
    /// Segment ids the peer serves (comma-separated).
    #[arg(long, default_value = "10,11,12")]
    peer_segments: String,
    /// Plain interrupt numbers the peer serves.
    #[arg(long, default_value = "5")]
    peer_intrs: String,
    /// Data interrupt numbers the peer serves.
    #[arg(long, default_value = "6")]
    peer_data_intrs: String,
    /// Drop to UID[:GID] before opening the device.
    #[arg(long, value_name = "UID[:GID]")]
    user: Option<String>,
    /// Print every call.
    #[arg(long)]
    verbose: bool,
}

fn ids(s: &str) -> Vec<u32> {
    s.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}

struct Call {
    cmd: u32,
    bytes: Vec<u8>,
    arg: Ptr,
    /// The embedded pointer's class.
    emb: Option<Ptr>,
    /// DMA_START: the entries as passed.
    dma: Vec<SisciDmaEntry>,
    what: String,
}

struct Outcome {
    rc: i64,
    errno: i32,
    elapsed: Duration,
    addr: u64,
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
    interrupted: u64,
    maps: u64,
    maps_ok: u64,
    probes: u64,
    per_call: BTreeMap<&'static str, BTreeMap<i32, u64>>,
    may_succeed: BTreeMap<&'static str, (u64, u64)>,
    violations: u64,
}

struct Fuzzer {
    device: String,
    file: File,
    /// A second open file whose handles are foreign to `file`.
    other: File,
    foreign: Vec<u32>,
    rng: Rng,
    mem: Mem,
    stats: Stats,
    fabric: Fabric,
    peer_segs: Vec<u32>,
    peer_intrs: Vec<u32>,
    peer_data_intrs: Vec<u32>,
    /// Objects of `file`.
    objs: Vec<Obj>,
    /// Handles gone (removed, disconnected, or of a closed file).
    stale: Vec<u32>,
    maps: Vec<Mapping>,
    prober: Prober,
    efd: OwnedFd,
    child: bool,
    verbose: bool,
    iteration: u64,
}

extern "C" fn on_alarm(_: libc::c_int) {}

/// SIGALRM interrupts system calls (no SA_RESTART) and does nothing else.
fn install_alarm() {
    // SAFETY: A zeroed sigaction is a valid value; the handler only returns; `sa` lives across the call.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_alarm as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut());
    }
}

/// Arms (ms > 0) or disarms (0) a one-shot ITIMER_REAL.
fn alarm_ms(ms: u64) {
    let t = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            tv_sec: (ms / 1000) as libc::time_t,
            tv_usec: ((ms % 1000) * 1000) as libc::suseconds_t,
        },
    };
    // SAFETY: `t` is a valid itimerval; the old value is not asked for.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &t, std::ptr::null_mut()) };
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

impl Fuzzer {
    // --- Calls.

    fn exec(&mut self, call: Call) -> Outcome {
        let must_fail = self.must_fail(&call);
        let addr = self.place(&call);
        let k = dispatch(call.cmd);
        // A wait that could block long is interrupted by a signal.
        let long = k.and_then(|k| timeout_field(k.op)).is_some_and(|off| {
            let nonblock = get(&call.bytes, 4, 4) as u32 & SISCI_NONBLOCK != 0;
            field(&call.bytes, call.bytes.len(), off, 4) > LONG_WAIT_MS && !nonblock
        }) || matches!(k.map(|k| k.op), Some(Op::IntrTrigger));
        if long {
            alarm_ms(self.rng.range(20, 60));
        }
        let fd = self.file.as_raw_fd();
        let start = Instant::now();
        // SAFETY: the kernel may only write to our dedicated fuzz regions (each followed by a guard page) or to addresses we do not use; the fuzzer touches none of them through references.
        let rc = unsafe { libc::ioctl(fd, call.cmd as libc::c_ulong, addr as usize) } as i64;
        let e = if rc < 0 { errno() } else { 0 };
        let elapsed = start.elapsed();
        if long {
            alarm_ms(0);
        }
        let out = Outcome {
            rc,
            errno: e,
            elapsed,
            addr,
        };
        if e == libc::EINTR {
            self.stats.interrupted += 1;
        }
        self.record(&call, &out, must_fail);
        if rc == 0 {
            self.after_success(&call, &out);
        } else if e == libc::ENOTCONN || e == libc::EINVAL {
            self.after_failure(&call, e);
        }
        out
    }

    /// Writes the argument (and the DMA entries) where the pointer classes
    /// say; returns the argument's address.
    fn place(&mut self, call: &Call) -> u64 {
        if !call.dma.is_empty() {
            let bytes: Vec<u8> = call
                .dma
                .iter()
                .flat_map(|e| {
                    let mut b = Vec::with_capacity(32);
                    b.extend_from_slice(&e.local_offset.to_ne_bytes());
                    b.extend_from_slice(&e.remote_offset.to_ne_bytes());
                    b.extend_from_slice(&e.len.to_ne_bytes());
                    b.extend_from_slice(&e.flags.to_ne_bytes());
                    b.extend_from_slice(&e.reserved.to_ne_bytes());
                    b
                })
                .collect();
            match call.emb {
                Some(Ptr::Straddle(k)) => {
                    let k = k.min(bytes.len());
                    let at = self.mem.entries.len - k;
                    self.mem.entries.write(at, &bytes[..k]);
                }
                Some(Ptr::ReadOnly) => self.mem.write_ro(PAGE, &bytes),
                Some(Ptr::Misaligned) => self.mem.entries.write(3, &bytes),
                _ => self.mem.entries.write(0, &bytes),
            }
        }
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

    /// The address an embedded pointer of class `p` gets.
    fn emb_addr(&mut self, p: Ptr, region: EmbRegion) -> u64 {
        let r = match region {
            EmbRegion::Entries | EmbRegion::Dma => &self.mem.entries,
            EmbRegion::Payload | EmbRegion::Buf => &self.mem.data,
        };
        match p {
            Ptr::Valid if region == EmbRegion::Dma => r.addr(0),
            Ptr::Valid => r.addr(8 * self.rng.below(64) as usize),
            Ptr::Misaligned if region == EmbRegion::Dma => r.addr(3),
            Ptr::Misaligned => r.addr(self.rng.range(1, 7) as usize),
            Ptr::Straddle(k) => r.before_guard(k),
            Ptr::ReadOnly if region == EmbRegion::Dma => self.mem.ro.addr(PAGE),
            Ptr::ReadOnly => self.mem.ro.addr(0),
            p => p.fixed_addr(&self.mem),
        }
    }

    fn set_emb(&mut self, op: Op, b: &mut [u8], p: Ptr) {
        if let Some((off, region)) = embedded(op) {
            let addr = self.emb_addr(p, region);
            put(b, off, 8, addr);
        }
    }

    fn obj(&self, handle: u32, kind: Kind) -> Option<Obj> {
        self.objs
            .iter()
            .copied()
            .find(|o| o.handle == handle && o.kind == kind)
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
                    "argument straddles a guard page ({n} of {size} bytes)"
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
        if call.arg == Ptr::ReadOnly {
            return Some("read-only argument: the kernel writes every struct back".into());
        }
        let v = |off: usize, w: usize| field(c, size, off, w);
        let fab = &self.fabric;
        let not = |h: u64, kind: Kind| -> Option<String> {
            if self.obj(h as u32, kind).is_none() {
                Some(format!("handle {h} is no {kind:?} of this file"))
            } else {
                None
            }
        };
        match k.op {
            Op::Info => None,
            Op::SegCreate => {
                let mc = flags & SISCI_SEG_MULTICAST != 0;
                let auto = flags & SISCI_SEG_AUTO_ID != 0;
                let user = flags & SISCI_SEG_USER_MEMORY != 0;
                let (id, sz, ua) = (v(SC_ID, 4), v(SC_SIZE, 8), v(SC_UADDR, 8));
                if user && (mc || ua == 0 || ua % 4096 != 0) {
                    Some(format!("user memory at {ua:#x} (multicast: {mc})"))
                } else if !user && ua != 0 {
                    Some("user_addr without SISCI_SEG_USER_MEMORY".into())
                } else if sz == 0 || sz > SISCI_MAX_SEGMENT_SIZE || (mc && sz > 4 << 20) {
                    Some(format!("segment size {sz:#x}"))
                } else if !auto && id >= SISCI_MAX_ID as u64 {
                    Some(format!("segment id {id:#x}"))
                } else if mc && (auto || id >= fab.mc_groups as u64) {
                    Some("multicast with AUTO_ID or a group the adapter lacks".into())
                } else if !auto
                    && self
                        .objs
                        .iter()
                        .any(|o| o.kind == Kind::Seg && o.id as u64 == id && o.mc == mc)
                {
                    Some(format!("segment id {id} exists (this file's)"))
                } else {
                    None
                }
            }
            Op::SegRemove | Op::SegPrepare | Op::SegSetAvailable => {
                let h = v(H_HANDLE, 4);
                if k.op == Op::SegPrepare && v(H_VALUE, 4) != 0 {
                    return Some("adapter other than 0".into());
                }
                if k.op != Op::SegPrepare && v(H_VALUE, 4) != 0 {
                    return Some("SisciHandle::value not zero".into());
                }
                if let Some(w) = not(h, Kind::Seg) {
                    return Some(w);
                }
                let s = self.obj(h as u32, Kind::Seg)?;
                if k.op == Op::SegSetAvailable && !s.prepared {
                    return Some("segment not prepared".into());
                }
                None
            }
            Op::SegConnect => {
                if flags & SISCI_SEG_MULTICAST != 0 {
                    if fab.caps & SISCI_CAP_MULTICAST == 0 {
                        Some("multicast without the capability".into())
                    } else if v(CO_ID, 4) >= fab.mc_groups as u64 {
                        Some("multicast group the adapter lacks".into())
                    } else if v(CO_SIZE, 8) > 4 << 20 {
                        Some("multicast size above 4 MiB".into())
                    } else {
                        None
                    }
                } else if v(CO_NODE, 4) >= fab.nodes as u64 {
                    Some(format!("node {} not in the fabric", v(CO_NODE, 4)))
                } else {
                    None
                }
            }
            Op::SegDisconnect => {
                if v(H_VALUE, 4) != 0 {
                    return Some("SisciHandle::value not zero".into());
                }
                not(v(H_HANDLE, 4), Kind::Conn)
            }
            Op::SegState => {
                if v(H_VALUE, 4) != 0 {
                    return Some("SisciHandle::value not zero".into());
                }
                let h = v(H_HANDLE, 4) as u32;
                if self.obj(h, Kind::Seg).is_none() && self.obj(h, Kind::Conn).is_none() {
                    Some(format!(
                        "handle {h} is no segment or connection of this file"
                    ))
                } else {
                    None
                }
            }
            Op::SegWaitEvent => {
                let h = v(EV_HANDLE, 4);
                if self.obj(h as u32, Kind::Seg).is_none()
                    && self.obj(h as u32, Kind::Conn).is_none()
                {
                    Some(format!(
                        "handle {h} is no segment or connection of this file"
                    ))
                } else {
                    None
                }
            }
            Op::SegList => {
                let es = v(LIST_ENTRY_SIZE, 4);
                let cap = v(LIST_CAPACITY, 4);
                if es < SISCI_SEG_ENTRY_SIZE_V1 as u64 || es > RSIO_MAX_ARG_SIZE as u64 {
                    return Some(format!("entry_size {es}"));
                }
                if cap > RSIO_MAX_LIST as u64 {
                    return Some("capacity above RSIO_MAX_LIST".into());
                }
                if v(LIST_RESERVED, 4) != 0 {
                    return Some("reserved not zero".into());
                }
                // At least this file's segments and connections exist.
                let own = self
                    .objs
                    .iter()
                    .filter(|o| matches!(o.kind, Kind::Seg | Kind::Conn))
                    .count() as u64;
                call.emb.and_then(|p| bad_emb(p, es * cap.min(own), true))
            }
            Op::IntrCreate => {
                let data = flags & SISCI_INTR_DATA != 0;
                let no = v(IC_NO, 4);
                if flags & SISCI_SEG_AUTO_ID != 0 {
                    None
                } else if no >= SISCI_MAX_ID as u64 {
                    Some(format!("interrupt number {no:#x}"))
                } else if self
                    .objs
                    .iter()
                    .any(|o| o.kind == Kind::LocalIntr && o.id as u64 == no && o.data == data)
                {
                    Some(format!("interrupt {no} exists (this file's)"))
                } else {
                    None
                }
            }
            Op::IntrRemove => {
                if v(H_VALUE, 4) != 0 {
                    return Some("SisciHandle::value not zero".into());
                }
                not(v(H_HANDLE, 4), Kind::LocalIntr)
            }
            Op::IntrConnect => {
                if v(ICO_NODE, 4) >= fab.nodes as u64 || v(ICO_NO, 4) >= SISCI_MAX_ID as u64 {
                    Some("node or interrupt number out of range".into())
                } else {
                    None
                }
            }
            Op::IntrDisconnect => {
                if v(H_VALUE, 4) != 0 {
                    return Some("SisciHandle::value not zero".into());
                }
                not(v(H_HANDLE, 4), Kind::RemoteIntr)
            }
            Op::IntrTrigger => {
                let h = v(IT_HANDLE, 4);
                let len = v(IT_LEN, 4);
                let Some(r) = self.obj(h as u32, Kind::RemoteIntr) else {
                    return Some(format!(
                        "handle {h} is no interrupt connection of this file"
                    ));
                };
                if !r.data && len != 0 {
                    Some("payload for a plain interrupt".into())
                } else if r.data && len > SISCI_MAX_INTR_DATA as u64 {
                    Some(format!("payload of {len} bytes"))
                } else if r.data {
                    call.emb.and_then(|p| bad_emb(p, len, false))
                } else {
                    None
                }
            }
            Op::IntrWait => not(v(IW_HANDLE, 4), Kind::LocalIntr),
            Op::IntrEventfd => {
                let fd = v(IE_FD, 4) as u32 as i32;
                if fd >= 0 && fd != self.efd.as_raw_fd() {
                    Some(format!("fd {fd} is no eventfd"))
                } else {
                    not(v(IE_HANDLE, 4), Kind::LocalIntr)
                }
            }
            Op::DmaQueueCreate => {
                if v(H_HANDLE, 4) != 0 || v(H_VALUE, 4) != 0 {
                    Some("handle or value not zero".into())
                } else if fab.caps & SISCI_CAP_DMA == 0 {
                    Some("no DMA engine".into())
                } else {
                    None
                }
            }
            Op::DmaQueueRemove => {
                if v(H_VALUE, 4) != 0 {
                    return Some("SisciHandle::value not zero".into());
                }
                not(v(H_HANDLE, 4), Kind::Queue)
            }
            Op::DmaStart => {
                let count = v(DS_COUNT, 4);
                if count == 0 || count > SISCI_MAX_DMA_ENTRIES as u64 {
                    return Some(format!("{count} entries"));
                }
                if let Some(why) = call.emb.and_then(|p| bad_emb(p, count * 32, false)) {
                    return Some(why);
                }
                for (i, e) in call.dma.iter().enumerate() {
                    if e.reserved != 0 || e.flags & !SISCI_DMA_FROM_REMOTE != 0 || e.len == 0 {
                        return Some(format!("entry {i}: reserved, flags or len 0"));
                    }
                }
                not(v(DS_QUEUE, 4), Kind::Queue)?;
                let Some(l) = self.obj(v(DS_LOCAL, 4) as u32, Kind::Seg) else {
                    return Some("local is no segment of this file".into());
                };
                let Some(r) = self.obj(v(DS_REMOTE, 4) as u32, Kind::Conn) else {
                    return Some("remote is no connection of this file".into());
                };
                if r.mc {
                    return Some("remote is a multicast connection".into());
                }
                for (i, e) in call.dma.iter().enumerate() {
                    let lend = e.local_offset.checked_add(e.len);
                    let rend = e.remote_offset.checked_add(e.len);
                    if lend.is_none_or(|x| x > l.size) || rend.is_none_or(|x| x > r.size) {
                        return Some(format!("entry {i} outside a segment"));
                    }
                }
                None
            }
            Op::DmaWait => {
                if v(DW_RESERVED, 4) != 0 {
                    return Some("reserved not zero".into());
                }
                not(v(DW_QUEUE, 4), Kind::Queue)
            }
        }
    }

    fn record(&mut self, call: &Call, out: &Outcome, must_fail: Option<String>) {
        let k = dispatch(call.cmd);
        let name = match k {
            Some(k) => k.name,
            None if ioc_type(call.cmd) == RSIO_IOC_MAGIC => "magic-other",
            None => "foreign",
        };
        self.count(name, out.errno, out.rc == 0, must_fail.is_none());
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
                "rsio-sisci-fuzz: slow call ({} ms): {name} {}",
                out.elapsed.as_millis(),
                self.describe(call, out)
            );
        }
        let allowed = match k {
            Some(k) => k.allows(out.errno),
            None => out.errno == libc::ENOTTY,
        };
        let problem = if out.rc > 0 {
            Some(format!("positive return value {}", out.rc))
        } else if out.rc < 0 && !allowed {
            Some(format!(
                "errno {} ({}) not one this call may return",
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

    fn count(&mut self, name: &'static str, errno: i32, ok: bool, may_succeed: bool) {
        self.stats.calls += 1;
        *self
            .stats
            .per_call
            .entry(name)
            .or_default()
            .entry(errno)
            .or_default() += 1;
        if ok {
            self.stats.successes += 1;
        }
        if may_succeed {
            let e = self.stats.may_succeed.entry(name).or_default();
            e.0 += 1;
            if !ok {
                e.1 += 1;
            }
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
            "cmd {c:#010x} (dir {} type {:#x} nr {:#x} size {}) arg {:?} at {:#x}, emb {:?}, rc {} errno {} after {} us\n  what: {}\n  bytes[..64]: {hex}{}",
            ioc_dir(c),
            ioc_type(c),
            ioc_nr(c),
            ioc_size(c),
            call.arg,
            out.addr,
            call.emb,
            out.rc,
            errname(out.errno),
            out.elapsed.as_micros(),
            call.what,
            if call.dma.is_empty() {
                String::new()
            } else {
                format!("\n  dma: {:?}", &call.dma[..call.dma.len().min(4)])
            }
        )
    }

    fn violation(&mut self, msg: &str) {
        self.stats.violations += 1;
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        eprintln!(
            "rsio-sisci-fuzz: VIOLATION at iteration {} (pid {pid}): {msg}",
            self.iteration
        );
        if self.child {
            // SAFETY: _exit ends this forked child at once, as a child must.
            unsafe { libc::_exit(CHILD_VIOLATION) };
        }
    }

    /// Reads a u32/u64 the kernel wrote back into the argument.
    fn out_field(&self, call: &Call, out: &Outcome, off: usize, w: usize) -> Option<u64> {
        if matches!(call.arg, Ptr::Valid | Ptr::Misaligned) {
            self.mem.arg.read(out.addr + off as u64, w)
        } else {
            None
        }
    }

    fn forget(&mut self, handle: u32) {
        if self.objs.iter().any(|o| o.handle == handle) {
            self.objs.retain(|o| o.handle != handle);
            self.stale.push(handle);
            if self.stale.len() > 256 {
                self.stale.drain(..128);
            }
        }
        self.check_revoked(handle);
    }

    /// The object behind `handle` is gone: its mappings must reach
    /// nothing any more; then they are unmapped.
    fn check_revoked(&mut self, handle: u32) {
        let (gone, keep): (Vec<Mapping>, Vec<Mapping>) =
            self.maps.iter().partition(|m| m.handle == handle);
        self.maps = keep;
        for m in gone {
            self.stats.probes += 1;
            if self.prober.can_read(m.addr, 8).is_ok() {
                self.violation(&format!(
                    "mapping {:#x}+{:#x} ({} of handle {handle}, {}) still reaches memory after its object is gone",
                    m.addr,
                    m.len,
                    if m.local { "local segment" } else { "connection" },
                    if m.private { "MAP_PRIVATE" } else { "MAP_SHARED" }
                ));
            }
            mapping::unmap(&m);
        }
    }

    fn after_success(&mut self, call: &Call, out: &Outcome) {
        let Some(k) = dispatch(call.cmd) else { return };
        let c = &call.bytes;
        let size = ioc_size(call.cmd);
        let v = |off: usize, w: usize| field(c, size, off, w);
        let flags = get(c, 4, 4) as u32;
        let new = |f: &Fuzzer, off: usize| f.out_field(call, out, off, 4).map(|h| h as u32);
        match k.op {
            Op::SegCreate => {
                if let Some(h) = new(self, SC_HANDLE) {
                    let mut o = Obj::new(h, Kind::Seg, 0);
                    o.id = self.out_field(call, out, SC_ID, 4).unwrap_or(0) as u32;
                    o.size = self.out_field(call, out, SC_SIZE, 8).unwrap_or(0);
                    o.mc = flags & SISCI_SEG_MULTICAST != 0;
                    self.objs.push(o);
                }
            }
            Op::SegPrepare => {
                let h = v(H_HANDLE, 4) as u32;
                if let Some(o) = self.objs.iter_mut().find(|o| o.handle == h) {
                    o.prepared = true;
                }
            }
            Op::SegRemove
            | Op::SegDisconnect
            | Op::IntrRemove
            | Op::IntrDisconnect
            | Op::DmaQueueRemove => self.forget(v(H_HANDLE, 4) as u32),
            Op::SegConnect => {
                if let Some(h) = new(self, CO_HANDLE) {
                    let mut o = Obj::new(h, Kind::Conn, v(CO_ID, 4) as u32);
                    o.size = self.out_field(call, out, CO_SIZE, 8).unwrap_or(0);
                    o.mc = flags & SISCI_SEG_MULTICAST != 0;
                    o.node = v(CO_NODE, 4) as u32;
                    self.objs.push(o);
                }
            }
            Op::IntrCreate => {
                if let Some(h) = new(self, IC_HANDLE) {
                    let no = self.out_field(call, out, IC_NO, 4).unwrap_or(0) as u32;
                    let mut o = Obj::new(h, Kind::LocalIntr, no);
                    o.data = flags & SISCI_INTR_DATA != 0;
                    self.objs.push(o);
                }
            }
            Op::IntrConnect => {
                if let Some(h) = new(self, ICO_HANDLE) {
                    let mut o = Obj::new(h, Kind::RemoteIntr, v(ICO_NO, 4) as u32);
                    o.data = flags & SISCI_INTR_DATA != 0;
                    o.node = v(ICO_NODE, 4) as u32;
                    self.objs.push(o);
                }
            }
            Op::DmaQueueCreate => {
                if let Some(h) = new(self, H_HANDLE) {
                    self.objs.push(Obj::new(h, Kind::Queue, 0));
                }
            }
            _ => {}
        }
    }

    fn after_failure(&mut self, call: &Call, e: i32) {
        let Some(k) = dispatch(call.cmd) else { return };
        // A connection the owner took away: disconnect it (its mappings
        // must be dead already).
        if e == libc::ENOTCONN && k.op == Op::DmaStart {
            let h = field(&call.bytes, call.bytes.len(), DS_REMOTE, 4) as u32;
            if self.obj(h, Kind::Conn).is_some() && self.rng.chance(1, 2) {
                self.handle_op(Op::SegDisconnect, h, "disconnect a lost connection");
            }
        }
    }

    // --- Building arguments.

    fn request(&self, op: Op) -> Vec<u8> {
        let size = ioc_size(known(op).cmd);
        let mut b = vec![0u8; size];
        put(&mut b, 0, 4, size as u64);
        b
    }

    /// A handle: mostly one of this file's objects of `kind`, else a stale,
    /// foreign, other-kind or random one.
    fn some_handle(&mut self, kind: Option<Kind>) -> u32 {
        let live: Vec<u32> = self
            .objs
            .iter()
            .filter(|o| kind.is_none_or(|k| o.kind == k))
            .map(|o| o.handle)
            .collect();
        match self.rng.below(20) {
            0..=13 if !live.is_empty() => self.rng.pick(&live),
            0..=14 if !self.stale.is_empty() => self.rng.pick(&self.stale),
            0..=15 if !self.foreign.is_empty() => self.rng.pick(&self.foreign),
            16 if !self.objs.is_empty() => {
                self.objs[self.rng.below(self.objs.len() as u64) as usize].handle
            }
            17 => self
                .rng
                .pick(&[0, 1, u32::MAX, HANDLE_LIMIT - 1, HANDLE_LIMIT]),
            _ => self.rng.below(64) as u32,
        }
    }

    fn small_timeout(&mut self) -> u64 {
        self.rng.pick(&[0, 0, 1, 2, 5])
    }

    fn dma_entries(&mut self, lsize: u64, rsize: u64) -> Vec<SisciDmaEntry> {
        let n = self.rng.pick(&[1u64, 1, 2, 3, 8]);
        (0..n)
            .map(|_| {
                let max = lsize.min(rsize).clamp(1, 64 << 10);
                let len = self.rng.range(1, max);
                let lo = self.rng.below(lsize.saturating_sub(len) + 1);
                let ro = self.rng.below(rsize.saturating_sub(len) + 1);
                SisciDmaEntry {
                    local_offset: lo,
                    remote_offset: ro,
                    len,
                    flags: if self.rng.chance(1, 2) {
                        SISCI_DMA_FROM_REMOTE
                    } else {
                        0
                    },
                    reserved: 0,
                }
            })
            .collect()
    }

    /// A valid argument for `op` in the current state: the bytes, the
    /// embedded pointer class and the DMA entries.
    fn valid_args(&mut self, op: Op) -> (Vec<u8>, Option<Ptr>, Vec<SisciDmaEntry>) {
        let mut b = self.request(op);
        let mut emb = None;
        let mut dma = Vec::new();
        match op {
            Op::Info => {}
            Op::SegCreate => {
                let mut flags = 0;
                if self.rng.chance(1, 3) {
                    flags |= SISCI_SEG_AUTO_ID;
                }
                if self.rng.chance(1, 2) {
                    flags |= SISCI_SEG_ANY_USER;
                }
                let mut id = self.rng.below(24);
                let mut sz = self
                    .rng
                    .pick(&[1, 4096, 4097, 8192, 65536, 1 << 20, 5 << 20]);
                if self.fabric.mc_groups > 0 && self.rng.chance(1, 10) {
                    flags = SISCI_SEG_MULTICAST | (flags & SISCI_SEG_ANY_USER);
                    id = self.rng.below(self.fabric.mc_groups as u64);
                    sz = self.rng.pick(&[4096, 65536]);
                }
                if flags & SISCI_SEG_MULTICAST == 0 && self.rng.chance(1, 6) {
                    // Registered memory: fresh anonymous pages of ours
                    // (kept mapped for the run: the kernel pins them).
                    sz = self.rng.pick(&[4096, 8192, 65536]);
                    flags |= SISCI_SEG_USER_MEMORY;
                    put(&mut b, SC_UADDR, 8, user_pages(sz as usize));
                }
                put(&mut b, 4, 4, flags as u64);
                put(&mut b, SC_ID, 4, id);
                put(&mut b, SC_SIZE, 8, sz);
            }
            Op::SegPrepare | Op::SegRemove | Op::SegSetAvailable => {
                let h = self.some_handle(Some(Kind::Seg));
                put(&mut b, H_HANDLE, 4, h as u64);
                if op == Op::SegSetAvailable && self.rng.chance(3, 4) {
                    put(&mut b, 4, 4, SISCI_AVAILABLE as u64);
                }
            }
            Op::SegConnect => {
                let own: Vec<u32> = self
                    .objs
                    .iter()
                    .filter(|o| o.kind == Kind::Seg && !o.mc)
                    .map(|o| o.id)
                    .collect();
                let (node, id) = match self.rng.below(10) {
                    0..=5 if !self.peer_segs.is_empty() => {
                        (self.fabric.peer, self.rng.pick(&self.peer_segs))
                    }
                    0..=7 if !own.is_empty() => (self.fabric.node, self.rng.pick(&own)),
                    8 => (
                        self.rng.below(self.fabric.nodes as u64) as u32,
                        self.rng.below(32) as u32,
                    ),
                    _ => (self.fabric.peer, self.rng.below(32) as u32),
                };
                if self.fabric.mc_groups > 0 && self.rng.chance(1, 12) {
                    put(&mut b, 4, 4, SISCI_SEG_MULTICAST as u64);
                    put(
                        &mut b,
                        CO_ID,
                        4,
                        self.rng.below(self.fabric.mc_groups as u64),
                    );
                    put(&mut b, CO_SIZE, 8, self.rng.pick(&[0, 4096, 8192]));
                } else {
                    put(&mut b, CO_NODE, 4, node as u64);
                    put(&mut b, CO_ID, 4, id as u64);
                }
                put(&mut b, CO_TIMEOUT, 4, self.rng.pick(&[0, 500, 1000, 2000]));
            }
            Op::SegDisconnect => {
                let h = self.some_handle(Some(Kind::Conn));
                put(&mut b, H_HANDLE, 4, h as u64);
            }
            Op::SegState => {
                let kind = if self.rng.chance(1, 2) {
                    Kind::Seg
                } else {
                    Kind::Conn
                };
                let h = self.some_handle(Some(kind));
                put(&mut b, H_HANDLE, 4, h as u64);
            }
            Op::SegWaitEvent => {
                let kind = if self.rng.chance(1, 2) {
                    Kind::Seg
                } else {
                    Kind::Conn
                };
                let h = self.some_handle(Some(kind));
                put(&mut b, EV_HANDLE, 4, h as u64);
                if self.rng.chance(1, 2) {
                    put(&mut b, 4, 4, SISCI_NONBLOCK as u64);
                }
                let t = self.small_timeout();
                put(&mut b, EV_TIMEOUT, 4, t);
            }
            Op::SegList => {
                let cap = self.rng.pick(&[0, 1, 2, 8, 64]);
                let es = self.rng.pick(&[40, 40, 48, 104, RSIO_MAX_ARG_SIZE as u64]);
                put(&mut b, LIST_CAPACITY, 4, cap);
                put(&mut b, LIST_ENTRY_SIZE, 4, es);
                emb = Some(if cap == 0 && self.rng.chance(1, 2) {
                    Ptr::Null
                } else {
                    Ptr::Valid
                });
            }
            Op::IntrCreate => {
                let mut flags = if self.rng.chance(1, 2) {
                    SISCI_INTR_DATA
                } else {
                    0
                };
                if self.rng.chance(1, 3) {
                    flags |= SISCI_SEG_AUTO_ID;
                }
                if self.rng.chance(1, 2) {
                    flags |= SISCI_SEG_ANY_USER;
                }
                put(&mut b, 4, 4, flags as u64);
                put(&mut b, IC_NO, 4, self.rng.below(24));
            }
            Op::IntrRemove => {
                let h = self.some_handle(Some(Kind::LocalIntr));
                put(&mut b, H_HANDLE, 4, h as u64);
            }
            Op::IntrConnect => {
                let own: Vec<(u32, bool)> = self
                    .objs
                    .iter()
                    .filter(|o| o.kind == Kind::LocalIntr)
                    .map(|o| (o.id, o.data))
                    .collect();
                let (node, no, data) = match self.rng.below(10) {
                    0..=2 if !self.peer_intrs.is_empty() => {
                        (self.fabric.peer, self.rng.pick(&self.peer_intrs), false)
                    }
                    0..=5 if !self.peer_data_intrs.is_empty() => {
                        (self.fabric.peer, self.rng.pick(&self.peer_data_intrs), true)
                    }
                    0..=7 if !own.is_empty() => {
                        let (no, data) = self.rng.pick(&own);
                        (self.fabric.node, no, data)
                    }
                    _ => (
                        self.rng.below(self.fabric.nodes as u64) as u32,
                        self.rng.below(32) as u32,
                        self.rng.chance(1, 2),
                    ),
                };
                put(&mut b, 4, 4, if data { SISCI_INTR_DATA as u64 } else { 0 });
                put(&mut b, ICO_NODE, 4, node as u64);
                put(&mut b, ICO_NO, 4, no as u64);
                put(&mut b, ICO_TIMEOUT, 4, self.rng.pick(&[0, 500, 1000]));
            }
            Op::IntrDisconnect => {
                let h = self.some_handle(Some(Kind::RemoteIntr));
                put(&mut b, H_HANDLE, 4, h as u64);
            }
            Op::IntrTrigger => {
                let h = self.some_handle(Some(Kind::RemoteIntr));
                put(&mut b, IT_HANDLE, 4, h as u64);
                let data = self.obj(h, Kind::RemoteIntr).is_some_and(|o| o.data);
                if data {
                    let len = self.rng.pick(&[0, 1, 4, 64, 127, 128]);
                    put(&mut b, IT_LEN, 4, len);
                    let mut payload = vec![0u8; len as usize];
                    self.rng.fill(&mut payload);
                    self.mem.data.write(0, &payload);
                }
                emb = Some(Ptr::Valid);
            }
            Op::IntrWait => {
                let h = self.some_handle(Some(Kind::LocalIntr));
                put(&mut b, IW_HANDLE, 4, h as u64);
                if self.rng.chance(1, 2) {
                    put(&mut b, 4, 4, SISCI_NONBLOCK as u64);
                }
                let t = self.small_timeout();
                put(&mut b, IW_TIMEOUT, 4, t);
                put(&mut b, IW_BUF_LEN, 4, self.rng.pick(&[0, 1, 64, 128, 4096]));
                emb = Some(Ptr::Valid);
            }
            Op::IntrEventfd => {
                let h = self.some_handle(Some(Kind::LocalIntr));
                put(&mut b, IE_HANDLE, 4, h as u64);
                let fd = match self.rng.below(10) {
                    0..=5 => self.efd.as_raw_fd(),
                    6 => -1,
                    7 => self.file.as_raw_fd(),
                    8 => 1,
                    _ => 9999,
                };
                put(&mut b, IE_FD, 4, fd as u32 as u64);
            }
            Op::DmaQueueCreate => {}
            Op::DmaQueueRemove => {
                let h = self.some_handle(Some(Kind::Queue));
                put(&mut b, H_HANDLE, 4, h as u64);
            }
            Op::DmaStart => {
                let q = self.some_handle(Some(Kind::Queue));
                let l = self.some_handle(Some(Kind::Seg));
                let r = self.some_handle(Some(Kind::Conn));
                let lsize = self.obj(l, Kind::Seg).map_or(4096, |o| o.size);
                let rsize = self.obj(r, Kind::Conn).map_or(4096, |o| o.size);
                dma = self.dma_entries(lsize, rsize);
                if self.rng.chance(1, 6) {
                    // One entry beyond a segment: ERANGE.
                    let i = self.rng.below(dma.len() as u64) as usize;
                    dma[i].remote_offset = rsize - dma[i].len.min(rsize) + self.rng.range(1, 4096);
                }
                put(&mut b, DS_QUEUE, 4, q as u64);
                put(&mut b, DS_LOCAL, 4, l as u64);
                put(&mut b, DS_REMOTE, 4, r as u64);
                put(&mut b, DS_COUNT, 4, dma.len() as u64);
                emb = Some(Ptr::Valid);
            }
            Op::DmaWait => {
                let h = self.some_handle(Some(Kind::Queue));
                put(&mut b, DW_QUEUE, 4, h as u64);
                if self.rng.chance(1, 3) {
                    put(&mut b, 4, 4, SISCI_NONBLOCK as u64);
                }
                put(&mut b, DW_TIMEOUT, 4, self.rng.pick(&[0, 1, 10, 50, 200]));
            }
        }
        (b, emb, dma)
    }

    /// A boundary value for a field (see also `user_pages`).
    fn boundary(&mut self, fl: Field) -> u64 {
        let generic = [0u64, 1, u32::MAX as u64, u64::MAX, 1 << 63, 1 << 31];
        let extra: Vec<u64> = match fl.dom {
            Dom::Handle => vec![
                self.some_handle(None) as u64,
                HANDLE_LIMIT as u64,
                HANDLE_LIMIT as u64 - 1,
            ],
            Dom::SegId => vec![
                SISCI_MAX_ID as u64 - 1,
                SISCI_MAX_ID as u64,
                SISCI_MAX_ID as u64 / 2,
                self.fabric.mc_groups as u64,
            ],
            Dom::IntrNo => vec![SISCI_MAX_ID as u64 - 1, SISCI_MAX_ID as u64, 5, 6],
            Dom::Size => vec![
                SISCI_MAX_SEGMENT_SIZE,
                SISCI_MAX_SEGMENT_SIZE + 1,
                4 << 20,
                (4 << 20) + 1,
                4095,
                4097,
            ],
            Dom::Node => vec![
                self.fabric.node as u64,
                self.fabric.peer as u64,
                self.fabric.nodes as u64,
                15,
                16,
                32,
            ],
            // Long timeouts run under the interval timer (EINTR).
            Dom::Timeout => vec![SISCI_INFINITE as u64, 1, 2, 100, 60_001],
            Dom::Adapter => vec![1, 2],
            Dom::Count => vec![
                SISCI_MAX_DMA_ENTRIES as u64,
                SISCI_MAX_DMA_ENTRIES as u64 + 1,
                2,
            ],
            Dom::Len => vec![
                SISCI_MAX_INTR_DATA as u64,
                SISCI_MAX_INTR_DATA as u64 + 1,
                4096,
            ],
            Dom::BufLen => vec![0, 127, 128, 129],
            Dom::Fd => vec![
                self.efd.as_raw_fd() as u64,
                self.file.as_raw_fd() as u64,
                u32::MAX as u64,
                0x7fff_ffff,
                1024,
            ],
            Dom::Capacity => vec![RSIO_MAX_LIST as u64, RSIO_MAX_LIST as u64 + 1],
            Dom::EntrySize => vec![
                SISCI_SEG_ENTRY_SIZE_V1 as u64 - 1,
                SISCI_SEG_ENTRY_SIZE_V1 as u64,
                RSIO_MAX_ARG_SIZE as u64,
                RSIO_MAX_ARG_SIZE as u64 + 1,
            ],
            Dom::Reserved => vec![1, 1 << 31],
            Dom::UserAddr => vec![
                0,
                1,
                0xfff,
                0x1000,
                0xffff_8880_0000_0000,
                self.rng.next() & !0xfff,
            ],
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

    /// Mutates DMA entries (the kernel checks each before starting).
    fn mutate_dma(&mut self, dma: &mut [SisciDmaEntry]) -> String {
        if dma.is_empty() {
            return "no entries".into();
        }
        let i = self.rng.below(dma.len() as u64) as usize;
        let e = &mut dma[i];
        match self.rng.below(7) {
            0 => e.reserved = 1,
            1 => e.flags = 1 << self.rng.range(1, 31),
            2 => e.len = 0,
            3 => e.len = u64::MAX,
            4 => e.local_offset = u64::MAX - self.rng.below(8),
            5 => e.remote_offset = 1 << 40,
            _ => e.len = SISCI_MAX_SEGMENT_SIZE,
        }
        format!("dma entry {i} mutated: {e:?}")
    }

    // --- Strategies.

    fn random_contents(&mut self, size: usize, op: Option<Op>) -> (Vec<u8>, Option<Ptr>) {
        let mut b = vec![0u8; size.max(8)];
        self.rng.fill(&mut b);
        if self.rng.chance(1, 2) {
            put(&mut b, 0, 4, size as u64);
            put(&mut b, 4, 4, 0);
        }
        // The kernel must never be pointed at the fuzzer's own memory.
        let mut emb = None;
        if let Some(op) = op {
            if embedded(op).is_some() {
                let p = pick_ptr(&mut self.rng, 4096);
                self.set_emb(op, &mut b, p);
                emb = Some(p);
            }
            // Random timeouts of the waits stay short (or are interrupted).
            if let Some(off) = timeout_field(op) {
                let t = self.small_timeout();
                put(&mut b, off, 4, t);
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
        let (b, emb) = self.random_contents(size.min(4200), dispatch(cmd).map(|k| k.op));
        let arg = pick_ptr(&mut self.rng, size);
        self.exec(Call {
            cmd,
            bytes: b,
            arg,
            emb,
            dma: Vec::new(),
            what: "random ioctl number".into(),
        });
    }

    fn fuzz_magic_cmd(&mut self) {
        let dir = if self.rng.chance(2, 3) {
            IOC_READ | IOC_WRITE
        } else {
            self.rng.below(4) as u32
        };
        let nr = match self.rng.below(3) {
            0 => self.rng.below(0x100) as u32,
            _ => self.rng.range(0x3c, 0x58) as u32,
        };
        let sizes: Vec<usize> = KNOWN.iter().map(|k| ioc_size(k.cmd)).collect();
        let size = match self.rng.below(4) {
            0 => self.rng.pick(&sizes),
            1 => self.rng.pick(&sizes) + 8,
            2 => self.rng.pick(&[0, 4, 8, 16, 4096, 4097, 0x3fff]),
            _ => self.rng.below(0x4000) as usize,
        };
        let cmd = ioc(dir, RSIO_IOC_MAGIC, nr, size);
        let (b, emb) = self.random_contents(size.min(4200), dispatch(cmd).map(|k| k.op));
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
            dma: Vec::new(),
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
        let (mut b, emb, dma) = self.valid_args(k.op);
        b.resize(size.max(8), 0);
        let hsize = if self.rng.chance(1, 2) { size } else { ks };
        put(&mut b, 0, 4, hsize as u64);
        if let Some(p) = emb {
            self.set_emb(k.op, &mut b, p);
        }
        self.exec(Call {
            cmd,
            bytes: b,
            arg: Ptr::Valid,
            emb,
            dma,
            what: format!(
                "{} with size {size} in the number, header.size {hsize}",
                k.name
            ),
        });
    }

    fn fuzz_known(&mut self) {
        let k = self.rng.pick(KNOWN);
        let mut cmd = k.cmd;
        let (mut b, mut emb, mut dma) = self.valid_args(k.op);
        if let Some(p) = emb {
            self.set_emb(k.op, &mut b, p);
        }
        let mut arg = Ptr::Valid;
        let mut what = Vec::new();
        for _ in 0..self.rng.range(1, 3) {
            match self.rng.below(7) {
                0 => {
                    arg = pick_ptr(&mut self.rng, b.len());
                    what.push(format!("arg {arg:?}"));
                }
                1 => {
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
                    let flags = match self.rng.below(4) {
                        0 => 0,
                        1 => 1u64 << self.rng.below(32),
                        2 => k.flags as u64,
                        _ => u32::MAX as u64,
                    };
                    put(&mut b, 4, 4, flags);
                    what.push(format!("flags {flags:#x}"));
                }
                3 | 4 => {
                    let fl = self.rng.pick(fields(k.op));
                    let v = self.boundary(fl);
                    put(&mut b, fl.off, fl.w, v);
                    what.push(format!("{} = {v:#x}", fl.name));
                }
                5 if k.op == Op::DmaStart => what.push(self.mutate_dma(&mut dma)),
                _ => match embedded(k.op) {
                    Some(_) => {
                        let p = pick_ptr(&mut self.rng, 16 * 1024);
                        self.set_emb(k.op, &mut b, p);
                        emb = Some(p);
                        what.push(format!("embedded pointer {p:?}"));
                    }
                    None => {
                        let end = b.len().min(ioc_size(k.cmd));
                        self.rng.fill(&mut b[8..end]);
                        if let Some(off) = timeout_field(k.op) {
                            let t = self.small_timeout();
                            put(&mut b, off, 4, t);
                        }
                        what.push("random body".into());
                    }
                },
            }
        }
        if let Ptr::Straddle(n) = arg {
            arg = Ptr::Straddle(n.min(b.len().saturating_sub(1)));
        }
        let what = format!("{} mutated: {}", k.name, what.join(", "));
        self.exec(Call {
            cmd,
            bytes: b,
            arg,
            emb,
            dma,
            what,
        });
    }

    fn run_valid(&mut self, op: Op, what: &str) -> Outcome {
        let (mut b, emb, dma) = self.valid_args(op);
        if let Some(p) = emb {
            self.set_emb(op, &mut b, p);
        }
        self.exec(Call {
            cmd: known(op).cmd,
            bytes: b,
            arg: Ptr::Valid,
            emb,
            dma,
            what: what.into(),
        })
    }

    /// A `SisciHandle` ioctl on `handle`.
    fn handle_op(&mut self, op: Op, handle: u32, what: &str) -> Outcome {
        let mut b = self.request(op);
        put(&mut b, H_HANDLE, 4, handle as u64);
        if op == Op::SegSetAvailable {
            put(&mut b, 4, 4, SISCI_AVAILABLE as u64);
        }
        self.exec(Call {
            cmd: known(op).cmd,
            bytes: b,
            arg: Ptr::Valid,
            emb: None,
            dma: Vec::new(),
            what: what.into(),
        })
    }

    fn valid_op(&mut self) {
        let op = match self.rng.below(100) {
            0..=2 => Op::Info,
            3..=12 => Op::SegCreate,
            13..=17 => Op::SegPrepare,
            18..=23 => Op::SegSetAvailable,
            24..=28 => Op::SegRemove,
            29..=38 => Op::SegConnect,
            39..=42 => Op::SegDisconnect,
            43..=46 => Op::SegWaitEvent,
            47..=48 => Op::SegList,
            49 => Op::SegState,
            50..=54 => Op::IntrCreate,
            55..=57 => Op::IntrRemove,
            58..=63 => Op::IntrConnect,
            64..=65 => Op::IntrDisconnect,
            66..=72 => Op::IntrTrigger,
            73..=77 => Op::IntrWait,
            78..=80 => Op::IntrEventfd,
            81..=83 => Op::DmaQueueCreate,
            84..=85 => Op::DmaQueueRemove,
            86..=93 => Op::DmaStart,
            _ => Op::DmaWait,
        };
        let name = known(op).name;
        let out = self.run_valid(op, &format!("valid {name}"));
        // A created segment is mostly prepared and made available at once.
        if op == Op::SegCreate && out.rc == 0 && self.rng.chance(2, 3) {
            if let Some(s) = self.objs.last().copied().filter(|o| o.kind == Kind::Seg) {
                self.handle_op(Op::SegPrepare, s.handle, "prepare the new segment");
                self.handle_op(
                    Op::SegSetAvailable,
                    s.handle,
                    "make the new segment available",
                );
            }
        }
        // A started transfer is mostly waited for.
        if op == Op::DmaStart && out.rc == 0 && self.rng.chance(3, 4) {
            let q = self
                .mem
                .arg
                .read(out.addr + DS_QUEUE as u64, 4)
                .unwrap_or(0) as u32;
            let mut b = self.request(Op::DmaWait);
            put(&mut b, DW_QUEUE, 4, q as u64);
            put(&mut b, DW_TIMEOUT, 4, self.rng.pick(&[10, 100, 1000]));
            self.exec(Call {
                cmd: SISCI_IOC_DMA_WAIT,
                bytes: b,
                arg: Ptr::Valid,
                emb: None,
                dma: Vec::new(),
                what: "wait for the transfer".into(),
            });
        }
        self.trim();
    }

    /// Keeps the file's objects bounded (memory, DMA channels, handles).
    fn trim(&mut self) {
        while self.objs.len() > 24 {
            let o = self.objs[self.rng.below(self.objs.len() as u64) as usize];
            let op = match o.kind {
                Kind::Seg => Op::SegRemove,
                Kind::Conn => Op::SegDisconnect,
                Kind::LocalIntr => Op::IntrRemove,
                Kind::RemoteIntr => Op::IntrDisconnect,
                Kind::Queue => Op::DmaQueueRemove,
            };
            let out = self.handle_op(op, o.handle, "trim the objects");
            if out.rc != 0 {
                self.objs.retain(|x| x.handle != o.handle);
            }
        }
        // Big segments go at once.
        if let Some(s) = self
            .objs
            .iter()
            .copied()
            .find(|o| o.kind == Kind::Seg && o.size > 2 << 20)
        {
            self.handle_op(Op::SegRemove, s.handle, "remove a big segment at once");
        }
    }

    // --- mmap.

    fn fuzz_mmap(&mut self) {
        self.stats.maps += 1;
        let mapped: Vec<Obj> = self
            .objs
            .iter()
            .copied()
            .filter(|o| matches!(o.kind, Kind::Seg | Kind::Conn))
            .collect();
        let (handle, obj) = match self.rng.below(10) {
            0..=6 if !mapped.is_empty() => {
                let o = self.rng.pick(&mapped);
                (o.handle, Some(o))
            }
            _ => (self.some_handle(None), None),
        };
        let obj = obj.or_else(|| {
            self.objs
                .iter()
                .copied()
                .find(|o| o.handle == handle && matches!(o.kind, Kind::Seg | Kind::Conn))
        });
        let size = obj.map_or(4096, |o| o.size);
        let total = mapping::pages(size).max(PAGE) as u64;
        let (within, len): (u64, usize) = match self.rng.below(8) {
            0..=3 => (0, total as usize),
            4 => {
                let p = self.rng.below(total / PAGE as u64) * PAGE as u64;
                (p, PAGE)
            }
            5 => (total, PAGE),
            6 => (0, total as usize + PAGE),
            _ => (
                self.rng
                    .pick(&[PAGE as u64, 1 << 39, (1 << 40) - PAGE as u64]),
                self.rng.pick(&[PAGE, 2 * PAGE]),
            ),
        };
        let mut offset = sisci_mmap_offset(handle).wrapping_add(within);
        if self.rng.chance(1, 20) {
            offset = self.rng.pick(&[1, 4095, !4095, 1 << 63]);
        }
        let private = self.rng.chance(1, 6);
        let prot = match self.rng.below(6) {
            0 => libc::PROT_READ,
            1 => libc::PROT_NONE,
            _ => libc::PROT_READ | libc::PROT_WRITE,
        };
        let flags = if private {
            libc::MAP_PRIVATE
        } else {
            libc::MAP_SHARED
        };
        let r = mapping::map(self.file.as_raw_fd(), offset, len, prot, flags);
        let name = "mmap";
        let must_fail = if offset != sisci_mmap_offset(handle).wrapping_add(within) {
            Some("offset of no handle".to_string())
        } else if private {
            Some("MAP_PRIVATE (revocation could not reach it)".to_string())
        } else if obj.is_none() {
            Some(format!(
                "handle {handle} is no segment or connection of this file"
            ))
        } else if within + len as u64 > mapping::pages(size) as u64 {
            Some(format!(
                "{within:#x}+{len:#x} beyond the object's {size:#x} bytes"
            ))
        } else {
            None
        };
        let what = format!(
            "mmap handle {handle} ({:?}) offset {offset:#x} len {len:#x} prot {prot} {}",
            obj.map(|o| o.kind),
            if private { "MAP_PRIVATE" } else { "MAP_SHARED" }
        );
        let errno = r.err().unwrap_or(0);
        self.count(name, errno, r.is_ok(), must_fail.is_none());
        if self.verbose {
            println!("{} {what} -> {}", self.iteration, errname(errno));
        }
        match r {
            Err(e) if !MMAP_ERRNOS.contains(&e) => self.violation(&format!(
                "mmap: errno {} not one mmap may return\n  {what}",
                errname(e)
            )),
            Err(_) => {}
            Ok(addr) => {
                let m = Mapping {
                    addr,
                    len,
                    handle,
                    local: obj.is_some_and(|o| o.kind == Kind::Seg),
                    writable: prot & libc::PROT_WRITE != 0,
                    private,
                };
                if let Some(why) = must_fail {
                    self.violation(&format!("mmap succeeded, but must fail: {why}\n  {what}"));
                    mapping::unmap(&m);
                    return;
                }
                self.stats.maps_ok += 1;
                self.touch(m);
                // The kernel may place a one-page mapping in the hole the
                // `Unmapped` pointer class points to: it must stay a hole.
                if (m.addr..m.addr + m.len as u64).contains(&self.mem.unmapped) {
                    mapping::unmap(&m);
                    return;
                }
                self.maps.push(m);
                if self.maps.len() > 16 {
                    let m = self.maps.remove(0);
                    mapping::unmap(&m);
                }
            }
        }
    }

    /// Touches a mapping: the CPU for local segments, probes otherwise.
    fn touch(&mut self, m: Mapping) {
        self.stats.probes += 1;
        let readable = self.prober.can_read(m.addr, 8);
        if m.local && m.writable && !m.private {
            if let Err(e) = readable {
                self.violation(&format!(
                    "a local mapping of a live segment is not readable by the kernel ({}): {m:?}",
                    errname(e)
                ));
                return;
            }
            let seed = self.rng.next();
            if let Some(p) = mapping::touch_local(&m, seed) {
                self.violation(&p);
            }
        } else if m.writable {
            let mut bytes = [0u8; 16];
            self.rng.fill(&mut bytes);
            let off = 8 * self.rng.below((m.len / 8 - 2) as u64);
            let _ = self.prober.can_write(m.addr + off, &bytes);
        }
    }

    fn touch_some(&mut self) {
        if self.maps.is_empty() {
            return;
        }
        let m = self.maps[self.rng.below(self.maps.len() as u64) as usize];
        self.touch(m);
        if self.rng.chance(1, 3) {
            self.maps.retain(|x| x.addr != m.addr);
            mapping::unmap(&m);
        }
    }

    // --- Files and processes.

    fn open_other(&mut self) {
        self.foreign.clear();
        let fd = self.other.as_raw_fd();
        let mut s = SisciSegCreate::request();
        s.header.flags = SISCI_SEG_AUTO_ID;
        s.size = 4096;
        let mut i = SisciIntrCreate::request();
        i.header.flags = SISCI_SEG_AUTO_ID;
        // SAFETY: `s` and `i` are live ABI structs of the sizes the numbers encode.
        unsafe {
            if libc::ioctl(fd, SISCI_IOC_SEG_CREATE as libc::c_ulong, &mut s) == 0 {
                self.foreign.push(s.handle);
            }
            if libc::ioctl(fd, SISCI_IOC_INTR_CREATE as libc::c_ulong, &mut i) == 0 {
                self.foreign.push(i.handle);
            }
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
        // Mappings hold the old file: mostly unmapped first, sometimes
        // after (the file is then released by the last munmap).
        let before = self.rng.chance(1, 2);
        let maps = std::mem::take(&mut self.maps);
        if before {
            maps.iter().for_each(mapping::unmap);
        }
        self.file = file;
        if !before {
            maps.iter().for_each(mapping::unmap);
        }
        self.stale.extend(self.objs.drain(..).map(|o| o.handle));
        if self.stale.len() > 256 {
            self.stale.drain(..128);
        }
        if self.rng.chance(1, 2) {
            match open_device(&self.device) {
                Ok(f) => self.other = f,
                Err(e) => self.violation(&format!("cannot reopen {}: {e}", self.device)),
            }
            self.open_other();
        }
    }

    fn fork_child(&mut self) {
        let kill = self.rng.chance(1, 2);
        let seed = self.rng.next();
        let delay_ms = self.rng.range(1, 80);
        let ops = if kill { 5000 } else { self.rng.range(1, 24) };
        self.stats.children += 1;
        let kill_after = kill.then(|| Duration::from_millis(delay_ms));
        match run_child(kill_after, || self.child_main(seed, ops)) {
            ChildEnd::Fine { killed: true } => self.stats.children_killed += 1,
            ChildEnd::Fine { killed: false } => {}
            ChildEnd::Bad(why) => self.violation(&why),
        }
    }

    /// The forked child: its own file and objects (the parent's mappings
    /// are not inherited: VM_DONTCOPY), a few operations.
    fn child_main(&mut self, seed: u64, ops: u64) -> ! {
        self.child = true;
        self.rng = Rng::new(seed);
        self.verbose = false;
        self.maps.clear();
        self.objs.clear();
        self.file = match open_device(&self.device) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("rsio-sisci-fuzz: child cannot open {}: {e}", self.device);
                // SAFETY: _exit ends the forked child without running the parent's cleanup.
                unsafe { libc::_exit(CHILD_NO_DEVICE) };
            }
        };
        for _ in 0..ops {
            match self.rng.below(10) {
                0..=5 => self.valid_op(),
                6 => self.fuzz_mmap(),
                _ => self.fuzz_known(),
            }
        }
        // SAFETY: _exit ends the forked child; the kernel closes its file and drops its mappings.
        unsafe { libc::_exit(0) };
    }

    fn iterate(&mut self) {
        self.stats.iterations += 1;
        match self.rng.below(1000) {
            0..=49 => self.fuzz_random_cmd(),
            50..=129 => self.fuzz_magic_cmd(),
            130..=189 => self.fuzz_wrong_size(),
            190..=519 => self.fuzz_known(),
            520..=879 => self.valid_op(),
            880..=949 => self.fuzz_mmap(),
            950..=979 => self.touch_some(),
            980..=989 => self.reopen(),
            _ => self.fork_child(),
        }
    }

    fn summary(&self, elapsed: Duration) {
        let s = &self.stats;
        println!(
            "rsio-sisci-fuzz: summary after {:.1} s",
            elapsed.as_secs_f64()
        );
        println!("  iterations  {}", s.iterations);
        println!("  calls       {}", s.calls);
        println!("  successes   {}", s.successes);
        println!("  slow calls  {}", s.slow);
        println!(
            "  interrupted {} (EINTR from the interval timer)",
            s.interrupted
        );
        println!(
            "  mmaps       {} ({} mapped), {} probes",
            s.maps, s.maps_ok, s.probes
        );
        println!("  reopens     {}", s.reopens);
        println!(
            "  children    {} ({} SIGKILLed)",
            s.children, s.children_killed
        );
        println!("  objects     {} held at the end", self.objs.len());
        println!("per call (calls: results):");
        for (name, m) in &s.per_call {
            let total: u64 = m.values().sum();
            let parts: Vec<String> = m
                .iter()
                .map(|(e, n)| format!("{} {n}", errname(*e)))
                .collect();
            println!("  {name:<17} {total:>7}: {}", parts.join(", "));
        }
        println!("calls the ABI lets succeed (failed anyway):");
        for (name, (n, failed)) in &s.may_succeed {
            println!("  {name:<17} {n:>7} ({failed} failed)");
        }
    }
}

fn info(file: &File) -> Result<SisciInfo> {
    let mut i = SisciInfo::request();
    // SAFETY: `i` is a live SisciInfo, the size SISCI_IOC_INFO encodes.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), SISCI_IOC_INFO as libc::c_ulong, &mut i) };
    if rc != 0 {
        anyhow::bail!("SISCI_IOC_INFO: {}", std::io::Error::last_os_error());
    }
    Ok(i)
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
    let other =
        open_device(&args.device).with_context(|| format!("cannot open {}", args.device))?;
    let i = info(&file)?;
    let nodes = i.num_nodes.max(1);
    let fabric = Fabric {
        node: i.node_id,
        nodes,
        caps: i.caps,
        mc_groups: i.mc_groups,
        peer: (i.node_id + 1) % nodes,
    };
    // SAFETY: eventfd takes plain integers.
    let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if efd < 0 {
        anyhow::bail!("eventfd: {}", std::io::Error::last_os_error());
    }
    install_alarm();
    let privileged = has_sys_admin();
    let mut fz = Fuzzer {
        device: args.device.clone(),
        file,
        other,
        foreign: Vec::new(),
        rng: Rng::new(seed),
        mem: Mem::new(),
        stats: Stats::default(),
        fabric,
        peer_segs: ids(&args.peer_segments),
        peer_intrs: ids(&args.peer_intrs),
        peer_data_intrs: ids(&args.peer_data_intrs),
        objs: Vec::new(),
        stale: Vec::new(),
        maps: Vec::new(),
        prober: Prober::new(),
        // SAFETY: eventfd just returned this descriptor, owned by nobody else.
        efd: unsafe { OwnedFd::from_raw_fd(efd) },
        child: false,
        verbose: args.verbose,
        iteration: 0,
    };
    fz.open_other();
    println!(
        "rsio-sisci-fuzz: seed {seed}, device {}, {} iterations{}, {}, node {} of {} (up {:#x}), peer {}, caps {:#x}, {} DMA channel(s), {} multicast group(s)",
        args.device,
        args.iterations,
        args.seconds.map_or(String::new(), |s| format!(" or {s} s")),
        if privileged { "privileged (CAP_SYS_ADMIN)" } else { "unprivileged" },
        fabric.node,
        fabric.nodes,
        i.up_mask,
        fabric.peer,
        fabric.caps,
        i.dma_channels,
        fabric.mc_groups
    );
    let start = Instant::now();
    let limit = args.seconds.map(Duration::from_secs);
    for it in 0..args.iterations {
        if limit.is_some_and(|l| start.elapsed() >= l) {
            break;
        }
        fz.iteration = it;
        fz.iterate();
        if it % 64 == 0 {
            let mut n = 0u64;
            // SAFETY: `n` is a live u64, what an eventfd read fills.
            unsafe { libc::read(fz.efd.as_raw_fd(), (&mut n as *mut u64).cast(), 8) };
        }
    }
    // Finally every object of the file goes: the mappings of removed
    // segments and closed connections must be dead.
    let objs = fz.objs.clone();
    for o in objs {
        let op = match o.kind {
            Kind::Seg => Op::SegRemove,
            Kind::Conn => Op::SegDisconnect,
            Kind::LocalIntr => Op::IntrRemove,
            Kind::RemoteIntr => Op::IntrDisconnect,
            Kind::Queue => Op::DmaQueueRemove,
        };
        fz.handle_op(op, o.handle, "clean up");
    }
    fz.summary(start.elapsed());
    let s = &fz.stats;
    println!(
        "rsio-sisci-fuzz: {} (seed {seed}, {} iterations, {} calls, {} successes, {} slow, {} violations)",
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
            eprintln!("rsio-sisci-fuzz: {e:#}");
            std::process::exit(2);
        }
    }
}

/// `len` bytes (a page multiple, at most 64 KiB) of anonymous memory for
/// registered segments, carved from one 8 MiB pool mapped once and never
/// unmapped (registered segments pin it): a pool that large can never land
/// in the one-page hole the `Unmapped` pointer class relies on, as small
/// mappings could. Pieces are reused round-robin (two segments may share
/// memory). 0 if the pool cannot be mapped.
fn user_pages(len: usize) -> u64 {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::OnceLock;
    const POOL: usize = 8 << 20;
    static BASE: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let base = *BASE.get_or_init(|| {
        // SAFETY: A fresh private anonymous mapping; no file, no fixed address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                POOL,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            0
        } else {
            p as u64
        }
    });
    if base == 0 || len > 64 << 10 {
        return 0;
    }
    let off = NEXT.fetch_add(len, Ordering::Relaxed) % (POOL - (64 << 10));
    base + off as u64
}
