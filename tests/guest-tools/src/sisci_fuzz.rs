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
//!
//! The engine (the calls, the strategies, the children, the run) is the
//! one `rsio-fuzz` runs too (fuzz_common/engine.rs); this file holds what
//! is `/dev/sisci`'s: valid arguments in the state of the open file, the
//! rules, DMA entries, mmap and the probes of the mappings.

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
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// Waits longer than this (ms) run under the interval timer.
const LONG_WAIT_MS: u64 = 30;
/// The handle limit of the driver (state.rs): handles are below.
const HANDLE_LIMIT: u32 = 1 << 23;

#[derive(Parser)]
#[command(about = "Fuzzes /dev/sisci's ioctls and mmap (run it on the debug kernel)")]
struct Args {
    #[arg(long, default_value = SISCI_DEVICE_PATH)]
    device: String,
    #[command(flatten)]
    run: RunArgs,
    /// Segment ids the peer serves (comma-separated).
    #[arg(long, default_value = "10,11,12")]
    peer_segments: String,
    /// Plain interrupt numbers the peer serves.
    #[arg(long, default_value = "5")]
    peer_intrs: String,
    /// Data interrupt numbers the peer serves.
    #[arg(long, default_value = "6")]
    peer_data_intrs: String,
}

fn ids(s: &str) -> Vec<u32> {
    s.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}

/// DMA_START's entries as passed (the extra of a call).
type Dma = Vec<SisciDmaEntry>;

/// Counters of what only this fuzzer does.
#[derive(Default)]
struct Counts {
    /// Calls the interval timer interrupted.
    interrupted: u64,
    maps: u64,
    maps_ok: u64,
    probes: u64,
}

/// The fabric, the peer's objects and what the fuzzer's files hold.
struct Sisci {
    /// A second open file whose handles are foreign to the fuzzed one.
    other: File,
    foreign: Vec<u32>,
    fabric: Fabric,
    peer_segs: Vec<u32>,
    peer_intrs: Vec<u32>,
    peer_data_intrs: Vec<u32>,
    /// Objects of the fuzzed file.
    objs: Vec<Obj>,
    maps: Vec<Mapping>,
    prober: Prober,
    efd: OwnedFd,
    counts: Counts,
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

/// The ioctl that removes (or disconnects) an object of `kind`.
fn removal(kind: Kind) -> Op {
    match kind {
        Kind::Seg => Op::SegRemove,
        Kind::Conn => Op::SegDisconnect,
        Kind::LocalIntr => Op::IntrRemove,
        Kind::RemoteIntr => Op::IntrDisconnect,
        Kind::Queue => Op::DmaQueueRemove,
    }
}

impl Abi for Fuzzer<Sisci> {
    type Extra = Dma;
    type Op = Op;
    type Dom = Dom;
    type Rules = Rules;

    const TOOL: &'static str = "rsio-sisci-fuzz";
    const KNOWN: &'static [Known] = KNOWN;
    // The mix ends with reopens (10) and forks (10); the own strategy is
    // the mmaps and probes of the mappings.
    const MIX: [u64; 7] = [50, 80, 60, 330, 360, 100, 10];
    const SLOW: Duration = Duration::from_secs(3);
    // The last mutation is of the DMA entries.
    const MUTATIONS: u64 = 7;
    const EMB_STRADDLE: usize = 16 * 1024;
    const CHILD: (u64, u64, u64) = (80, 5000, 24);

    fn dispatch(cmd: u32) -> Option<Known> {
        dispatch(cmd)
    }

    fn fields(op: Op) -> &'static [Field<Dom>] {
        fields(op)
    }

    fn embedded(op: Op) -> Option<(usize, EmbRegion)> {
        embedded(op)
    }

    /// The kernel writes every struct back.
    fn writes_back(_: &Known) -> bool {
        true
    }

    fn allows(k: Option<Known>, errno: i32) -> bool {
        match k {
            Some(k) => k.rules.allows(errno),
            None => errno == libc::ENOTTY,
        }
    }

    fn must_fail_op(&self, call: &Call<Dma>, k: Known, size: usize, flags: u32) -> Option<String> {
        let c = &call.bytes;
        let v = |off: usize, w: usize| field(c, size, off, w);
        let fab = &self.abi.fabric;
        let not = |h: u64, kind: Kind| -> Option<String> {
            if self.obj(h as u32, kind).is_none() {
                Some(format!("handle {h} is no {kind:?} of this file"))
            } else {
                None
            }
        };
        // A `SisciHandle` naming an object of `kind`.
        let handle = |kind: Kind| {
            if v(H_VALUE, 4) != 0 {
                Some("SisciHandle::value not zero".to_string())
            } else {
                not(v(H_HANDLE, 4), kind)
            }
        };
        let exists = |is: &dyn Fn(&Obj) -> bool| self.abi.objs.iter().any(is);
        let seg_or_conn = |h: u64| {
            let o = |kind| self.obj(h as u32, kind);
            (o(Kind::Seg).is_none() && o(Kind::Conn).is_none())
                .then(|| format!("handle {h} is no segment or connection of this file"))
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
                    && exists(&|o| o.kind == Kind::Seg && o.id as u64 == id && o.mc == mc)
                {
                    Some(format!("segment id {id} exists (this file's)"))
                } else {
                    None
                }
            }
            // SEG_PREPARE's value is the adapter.
            Op::SegPrepare if v(H_VALUE, 4) != 0 => Some("adapter other than 0".into()),
            Op::SegRemove | Op::SegPrepare | Op::SegSetAvailable => {
                handle(Kind::Seg).or_else(|| {
                    let s = self.obj(v(H_HANDLE, 4) as u32, Kind::Seg)?;
                    (k.op == Op::SegSetAvailable && !s.prepared)
                        .then(|| "segment not prepared".into())
                })
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
            Op::SegDisconnect => handle(Kind::Conn),
            Op::SegState if v(H_VALUE, 4) != 0 => Some("SisciHandle::value not zero".into()),
            Op::SegState => seg_or_conn(v(H_HANDLE, 4)),
            Op::SegWaitEvent => seg_or_conn(v(EV_HANDLE, 4)),
            Op::SegList => {
                if let Some(why) = list_must_fail(c, size, SISCI_SEG_ENTRY_SIZE_V1) {
                    return Some(why);
                }
                let (es, cap) = (v(LIST_ENTRY_SIZE, 4), v(LIST_CAPACITY, 4));
                // At least this file's segments and connections exist.
                let own = self
                    .abi
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
                } else if exists(&|o| {
                    o.kind == Kind::LocalIntr && o.id as u64 == no && o.data == data
                }) {
                    Some(format!("interrupt {no} exists (this file's)"))
                } else {
                    None
                }
            }
            Op::IntrRemove => handle(Kind::LocalIntr),
            Op::IntrConnect => {
                if v(ICO_NODE, 4) >= fab.nodes as u64 || v(ICO_NO, 4) >= SISCI_MAX_ID as u64 {
                    Some("node or interrupt number out of range".into())
                } else {
                    None
                }
            }
            Op::IntrDisconnect => handle(Kind::RemoteIntr),
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
                if fd >= 0 && fd != self.abi.efd.as_raw_fd() {
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
            Op::DmaQueueRemove => handle(Kind::Queue),
            Op::DmaStart => {
                let count = v(DS_COUNT, 4);
                if count == 0 || count > SISCI_MAX_DMA_ENTRIES as u64 {
                    return Some(format!("{count} entries"));
                }
                if let Some(why) = call.emb.and_then(|p| bad_emb(p, count * 32, false)) {
                    return Some(why);
                }
                for (i, e) in call.extra.iter().enumerate() {
                    if e.reserved != 0 || e.flags & !SISCI_DMA_FROM_REMOTE != 0 || e.len == 0 {
                        return Some(format!("entry {i}: reserved, flags or len 0"));
                    }
                }
                if let Some(why) = not(v(DS_QUEUE, 4), Kind::Queue) {
                    return Some(why);
                }
                let Some(l) = self.obj(v(DS_LOCAL, 4) as u32, Kind::Seg) else {
                    return Some("local is no segment of this file".into());
                };
                let Some(r) = self.obj(v(DS_REMOTE, 4) as u32, Kind::Conn) else {
                    return Some("remote is no connection of this file".into());
                };
                if r.mc {
                    return Some("remote is a multicast connection".into());
                }
                for (i, e) in call.extra.iter().enumerate() {
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

    /// A valid argument for `op` in the current state: the bytes, the
    /// embedded pointer class and the DMA entries.
    fn valid_args(&mut self, op: Op) -> (Vec<u8>, Option<Ptr>, Dma) {
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
                if self.abi.fabric.mc_groups > 0 && self.rng.chance(1, 10) {
                    flags = SISCI_SEG_MULTICAST | (flags & SISCI_SEG_ANY_USER);
                    id = self.rng.below(self.abi.fabric.mc_groups as u64);
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
                    .abi
                    .objs
                    .iter()
                    .filter(|o| o.kind == Kind::Seg && !o.mc)
                    .map(|o| o.id)
                    .collect();
                let (node, id) = match self.rng.below(10) {
                    0..=5 if !self.abi.peer_segs.is_empty() => {
                        (self.abi.fabric.peer, self.rng.pick(&self.abi.peer_segs))
                    }
                    0..=7 if !own.is_empty() => (self.abi.fabric.node, self.rng.pick(&own)),
                    8 => (
                        self.rng.below(self.abi.fabric.nodes as u64) as u32,
                        self.rng.below(32) as u32,
                    ),
                    _ => (self.abi.fabric.peer, self.rng.below(32) as u32),
                };
                if self.abi.fabric.mc_groups > 0 && self.rng.chance(1, 12) {
                    put(&mut b, 4, 4, SISCI_SEG_MULTICAST as u64);
                    put(
                        &mut b,
                        CO_ID,
                        4,
                        self.rng.below(self.abi.fabric.mc_groups as u64),
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
                let h = self.some_seg_or_conn();
                put(&mut b, H_HANDLE, 4, h as u64);
            }
            Op::SegWaitEvent => {
                let h = self.some_seg_or_conn();
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
                    .abi
                    .objs
                    .iter()
                    .filter(|o| o.kind == Kind::LocalIntr)
                    .map(|o| (o.id, o.data))
                    .collect();
                let (node, no, data) = match self.rng.below(10) {
                    0..=2 if !self.abi.peer_intrs.is_empty() => (
                        self.abi.fabric.peer,
                        self.rng.pick(&self.abi.peer_intrs),
                        false,
                    ),
                    0..=5 if !self.abi.peer_data_intrs.is_empty() => (
                        self.abi.fabric.peer,
                        self.rng.pick(&self.abi.peer_data_intrs),
                        true,
                    ),
                    0..=7 if !own.is_empty() => {
                        let (no, data) = self.rng.pick(&own);
                        (self.abi.fabric.node, no, data)
                    }
                    _ => (
                        self.rng.below(self.abi.fabric.nodes as u64) as u32,
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
                    0..=5 => self.abi.efd.as_raw_fd(),
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

    /// Boundary values of a field of this domain (see also `user_pages`).
    fn boundary_values(&mut self, dom: Dom) -> Vec<u64> {
        match dom {
            Dom::Handle => vec![
                self.some_handle(None) as u64,
                HANDLE_LIMIT as u64,
                HANDLE_LIMIT as u64 - 1,
            ],
            Dom::SegId => vec![
                SISCI_MAX_ID as u64 - 1,
                SISCI_MAX_ID as u64,
                SISCI_MAX_ID as u64 / 2,
                self.abi.fabric.mc_groups as u64,
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
                self.abi.fabric.node as u64,
                self.abi.fabric.peer as u64,
                self.abi.fabric.nodes as u64,
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
                self.abi.efd.as_raw_fd() as u64,
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
        }
    }

    /// Mostly `_IOWR` and the numbers around the known ones.
    fn magic_dir_nr(&mut self) -> (u32, u32) {
        let dir = if self.rng.chance(2, 3) {
            IOC_READ | IOC_WRITE
        } else {
            self.rng.below(4) as u32
        };
        let nr = match self.rng.below(3) {
            0 => self.rng.below(0x100) as u32,
            _ => self.rng.range(0x3c, 0x58) as u32,
        };
        (dir, nr)
    }

    fn after_call(&mut self, call: &Call<Dma>, out: &Outcome) {
        if out.errno == libc::EINTR {
            self.abi.counts.interrupted += 1;
        }
        if out.rc == 0 {
            self.after_success(call, out);
        } else if out.errno == libc::ENOTCONN || out.errno == libc::EINVAL {
            self.after_failure(call, out.errno);
        }
    }

    fn after_valid(&mut self, op: Op, out: &Outcome) {
        // A created segment is mostly prepared and made available at once.
        if op == Op::SegCreate && out.rc == 0 && self.rng.chance(2, 3) {
            if let Some(s) = self
                .abi
                .objs
                .last()
                .copied()
                .filter(|o| o.kind == Kind::Seg)
            {
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
            self.exec_request(Op::DmaWait, b, "wait for the transfer");
        }
        self.trim();
    }

    fn reopened(&mut self, file: File) {
        // Mappings hold the old file: mostly unmapped first, sometimes
        // after (the file is then released by the last munmap).
        let before = self.rng.chance(1, 2);
        let maps = std::mem::take(&mut self.abi.maps);
        if before {
            maps.iter().for_each(mapping::unmap);
        }
        self.file = file;
        if !before {
            maps.iter().for_each(mapping::unmap);
        }
        let gone: Vec<u32> = self.abi.objs.drain(..).map(|o| o.handle).collect();
        self.retire(gone);
        if self.rng.chance(1, 2) {
            match open_device(&self.device) {
                Ok(f) => self.abi.other = f,
                Err(e) => self.violation(&format!("cannot reopen {}: {e}", self.device)),
            }
            self.open_other();
        }
    }

    /// The parent's mappings are not inherited (VM_DONTCOPY).
    fn child_reset(&mut self) {
        self.abi.maps.clear();
        self.abi.objs.clear();
    }

    fn child_op(&mut self) {
        match self.rng.below(10) {
            0..=5 => self.valid_op(),
            6 => self.fuzz_mmap(),
            _ => self.fuzz_known(),
        }
    }

    fn per_call_title() -> (&'static str, usize) {
        ("per call", 17)
    }

    fn held(&self) -> String {
        format!("objects     {}", self.abi.objs.len())
    }

    /// Random timeouts of the waits stay short (or are interrupted).
    fn tame(&mut self, op: Op, b: &mut [u8]) {
        if let Some(off) = timeout_field(op) {
            let t = self.small_timeout();
            put(b, off, 4, t);
        }
    }

    fn mutate_extra(&mut self, k: Known, dma: &mut Dma) -> Option<String> {
        (k.op == Op::DmaStart).then(|| self.mutate_dma(dma))
    }

    /// Writes the DMA entries where the call's pointer to them points, if
    /// that is memory of ours.
    fn place_extra(&mut self, call: &Call<Dma>) {
        if call.extra.is_empty() {
            return;
        }
        let bytes: Vec<u8> = call
            .extra
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
        let at = get(&call.bytes, DS_ENTRIES, 8);
        let inside = |r: &Region| {
            let base = r.addr(0);
            (base..base + r.len as u64)
                .contains(&at)
                .then(|| (at - base) as usize)
        };
        if let Some(off) = inside(&self.mem.entries) {
            self.mem.entries.write(off, &bytes);
        } else if let Some(off) = inside(&self.mem.ro) {
            self.mem.write_ro(off, &bytes);
        }
    }

    /// A wait that could block long is interrupted by a signal.
    fn before_ioctl(&mut self, call: &Call<Dma>) -> bool {
        let k = dispatch(call.cmd);
        let long = k.and_then(|k| timeout_field(k.op)).is_some_and(|off| {
            let nonblock = get(&call.bytes, 4, 4) as u32 & SISCI_NONBLOCK != 0;
            field(&call.bytes, call.bytes.len(), off, 4) > LONG_WAIT_MS && !nonblock
        }) || matches!(k.map(|k| k.op), Some(Op::IntrTrigger));
        if long {
            alarm_ms(self.rng.range(20, 60));
        }
        long
    }

    fn after_ioctl(&mut self) {
        alarm_ms(0);
    }

    fn describe_extra(dma: &Dma) -> String {
        if dma.is_empty() {
            String::new()
        } else {
            format!("\n  dma: {:?}", &dma[..dma.len().min(4)])
        }
    }

    /// An mmap (70 %) or a probe of the mappings.
    fn own_strategy(&mut self) {
        if self.rng.chance(7, 10) {
            self.fuzz_mmap();
        } else {
            self.touch_some();
        }
    }

    fn after_iteration(&mut self, iteration: u64) {
        if iteration.is_multiple_of(64) {
            let mut n = 0u64;
            // SAFETY: `n` is a live u64, what an eventfd read fills.
            unsafe { libc::read(self.abi.efd.as_raw_fd(), (&mut n as *mut u64).cast(), 8) };
        }
    }

    /// Finally every object of the file goes: the mappings of removed
    /// segments and closed connections must be dead.
    fn finish(&mut self) {
        for o in self.abi.objs.clone() {
            self.handle_op(removal(o.kind), o.handle, "clean up");
        }
    }

    fn counters(&self) -> Vec<String> {
        let c = &self.abi.counts;
        vec![
            format!(
                "interrupted {} (EINTR from the interval timer)",
                c.interrupted
            ),
            format!(
                "mmaps       {} ({} mapped), {} probes",
                c.maps, c.maps_ok, c.probes
            ),
        ]
    }
}

impl Fuzzer<Sisci> {
    fn obj(&self, handle: u32, kind: Kind) -> Option<Obj> {
        self.abi
            .objs
            .iter()
            .copied()
            .find(|o| o.handle == handle && o.kind == kind)
    }

    /// Reads a u32/u64 the kernel wrote back into the argument.
    fn out_field(&self, call: &Call<Dma>, out: &Outcome, off: usize, w: usize) -> Option<u64> {
        if matches!(call.arg, Ptr::Valid | Ptr::Misaligned) {
            self.mem.arg.read(out.addr + off as u64, w)
        } else {
            None
        }
    }

    fn forget(&mut self, handle: u32) {
        if self.abi.objs.iter().any(|o| o.handle == handle) {
            self.abi.objs.retain(|o| o.handle != handle);
            self.retire([handle]);
        }
        self.check_revoked(handle);
    }

    /// The object behind `handle` is gone: its mappings must reach
    /// nothing any more; then they are unmapped.
    fn check_revoked(&mut self, handle: u32) {
        let (gone, keep): (Vec<Mapping>, Vec<Mapping>) =
            self.abi.maps.iter().partition(|m| m.handle == handle);
        self.abi.maps = keep;
        for m in gone {
            self.abi.counts.probes += 1;
            if self.abi.prober.can_read(m.addr, 8).is_ok() {
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

    fn after_success(&mut self, call: &Call<Dma>, out: &Outcome) {
        let Some(k) = dispatch(call.cmd) else { return };
        let c = &call.bytes;
        let size = ioc_size(call.cmd);
        let v = |off: usize, w: usize| field(c, size, off, w);
        let flags = get(c, 4, 4) as u32;
        let new = |f: &Self, off: usize| f.out_field(call, out, off, 4).map(|h| h as u32);
        match k.op {
            Op::SegCreate => {
                if let Some(h) = new(self, SC_HANDLE) {
                    let mut o = Obj::new(h, Kind::Seg, 0);
                    o.id = self.out_field(call, out, SC_ID, 4).unwrap_or(0) as u32;
                    o.size = self.out_field(call, out, SC_SIZE, 8).unwrap_or(0);
                    o.mc = flags & SISCI_SEG_MULTICAST != 0;
                    self.abi.objs.push(o);
                }
            }
            Op::SegPrepare => {
                let h = v(H_HANDLE, 4) as u32;
                if let Some(o) = self.abi.objs.iter_mut().find(|o| o.handle == h) {
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
                    self.abi.objs.push(o);
                }
            }
            Op::IntrCreate => {
                if let Some(h) = new(self, IC_HANDLE) {
                    let no = self.out_field(call, out, IC_NO, 4).unwrap_or(0) as u32;
                    let mut o = Obj::new(h, Kind::LocalIntr, no);
                    o.data = flags & SISCI_INTR_DATA != 0;
                    self.abi.objs.push(o);
                }
            }
            Op::IntrConnect => {
                if let Some(h) = new(self, ICO_HANDLE) {
                    let mut o = Obj::new(h, Kind::RemoteIntr, v(ICO_NO, 4) as u32);
                    o.data = flags & SISCI_INTR_DATA != 0;
                    o.node = v(ICO_NODE, 4) as u32;
                    self.abi.objs.push(o);
                }
            }
            Op::DmaQueueCreate => {
                if let Some(h) = new(self, H_HANDLE) {
                    self.abi.objs.push(Obj::new(h, Kind::Queue, 0));
                }
            }
            _ => {}
        }
    }

    fn after_failure(&mut self, call: &Call<Dma>, e: i32) {
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

    /// A handle: mostly one of this file's objects of `kind`, else a stale,
    /// foreign, other-kind or random one.
    fn some_handle(&mut self, kind: Option<Kind>) -> u32 {
        let handles = |kind: Option<Kind>| -> Vec<u32> {
            let objs = self.abi.objs.iter();
            objs.filter(|o| kind.is_none_or(|k| o.kind == k))
                .map(|o| o.handle)
                .collect()
        };
        let (live, all) = (handles(kind), handles(None));
        let pools = [
            (0..=13, live.as_slice()),
            (0..=14, self.stale.as_slice()),
            (0..=15, self.abi.foreign.as_slice()),
            (16..=16, all.as_slice()),
        ];
        let special = [0, 1, u32::MAX, HANDLE_LIMIT - 1, HANDLE_LIMIT];
        pick_id(&mut self.rng, 20, &pools, (17, &special))
    }

    /// A handle, mostly of a segment or a connection (even odds).
    fn some_seg_or_conn(&mut self) -> u32 {
        let kind = if self.rng.chance(1, 2) {
            Kind::Seg
        } else {
            Kind::Conn
        };
        self.some_handle(Some(kind))
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

    /// A `SisciHandle` ioctl on `handle`.
    fn handle_op(&mut self, op: Op, handle: u32, what: &str) -> Outcome {
        let mut b = self.request(op);
        put(&mut b, H_HANDLE, 4, handle as u64);
        if op == Op::SegSetAvailable {
            put(&mut b, 4, 4, SISCI_AVAILABLE as u64);
        }
        self.exec_request(op, b, what)
    }

    /// Keeps the file's objects bounded (memory, DMA channels, handles).
    fn trim(&mut self) {
        while self.abi.objs.len() > 24 {
            let o = self.abi.objs[self.rng.below(self.abi.objs.len() as u64) as usize];
            let out = self.handle_op(removal(o.kind), o.handle, "trim the objects");
            if out.rc != 0 {
                self.abi.objs.retain(|x| x.handle != o.handle);
            }
        }
        // Big segments go at once.
        if let Some(s) = self
            .abi
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
        self.abi.counts.maps += 1;
        let mapped: Vec<Obj> = self
            .abi
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
            self.abi
                .objs
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
                self.abi.counts.maps_ok += 1;
                self.touch(m);
                // The kernel may place a one-page mapping in the hole the
                // `Unmapped` pointer class points to: it must stay a hole.
                if (m.addr..m.addr + m.len as u64).contains(&self.mem.unmapped) {
                    mapping::unmap(&m);
                    return;
                }
                self.abi.maps.push(m);
                if self.abi.maps.len() > 16 {
                    let m = self.abi.maps.remove(0);
                    mapping::unmap(&m);
                }
            }
        }
    }

    /// Touches a mapping: the CPU for local segments, probes otherwise.
    fn touch(&mut self, m: Mapping) {
        self.abi.counts.probes += 1;
        let readable = self.abi.prober.can_read(m.addr, 8);
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
            let _ = self.abi.prober.can_write(m.addr + off, &bytes);
        }
    }

    fn touch_some(&mut self) {
        if self.abi.maps.is_empty() {
            return;
        }
        let m = self.abi.maps[self.rng.below(self.abi.maps.len() as u64) as usize];
        self.touch(m);
        if self.rng.chance(1, 3) {
            self.abi.maps.retain(|x| x.addr != m.addr);
            mapping::unmap(&m);
        }
    }

    // --- Files.

    fn open_other(&mut self) {
        self.abi.foreign.clear();
        let fd = self.abi.other.as_raw_fd();
        let mut s = SisciSegCreate::request();
        s.header.flags = SISCI_SEG_AUTO_ID;
        s.size = 4096;
        let mut i = SisciIntrCreate::request();
        i.header.flags = SISCI_SEG_AUTO_ID;
        // SAFETY: `s` and `i` are live ABI structs of the sizes the numbers encode.
        unsafe {
            if libc::ioctl(fd, SISCI_IOC_SEG_CREATE as libc::c_ulong, &mut s) == 0 {
                self.abi.foreign.push(s.handle);
            }
            if libc::ioctl(fd, SISCI_IOC_INTR_CREATE as libc::c_ulong, &mut i) == 0 {
                self.abi.foreign.push(i.handle);
            }
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
    let seed = args.run.start()?;
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
    let sisci = Sisci {
        other,
        foreign: Vec::new(),
        fabric,
        peer_segs: ids(&args.peer_segments),
        peer_intrs: ids(&args.peer_intrs),
        peer_data_intrs: ids(&args.peer_data_intrs),
        objs: Vec::new(),
        maps: Vec::new(),
        prober: Prober::new(),
        // SAFETY: eventfd just returned this descriptor, owned by nobody else.
        efd: unsafe { OwnedFd::from_raw_fd(efd) },
        counts: Counts::default(),
    };
    let mut fz = Fuzzer::new(&args.device, file, seed, args.run.verbose, sisci);
    fz.open_other();
    println!(
        "{}, node {} of {} (up {:#x}), peer {}, caps {:#x}, {} DMA channel(s), {} multicast group(s)",
        fz.intro(seed, &args.run, privileged),
        fabric.node,
        fabric.nodes,
        i.up_mask,
        fabric.peer,
        fabric.caps,
        i.dma_channels,
        fabric.mc_groups
    );
    Ok(fz.fuzz(seed, &args.run))
}

fn main() {
    exit_with(<Fuzzer<Sisci> as Abi>::TOOL, run(Args::parse()));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fuzzer() -> Fuzzer<Sisci> {
        let null = || open_device("/dev/null").expect("/dev/null opens");
        // SAFETY: eventfd takes plain integers.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        assert!(efd >= 0, "eventfd failed");
        let mut seg = Obj::new(1, Kind::Seg, 20);
        seg.size = 8192;
        seg.prepared = true;
        let mut conn = Obj::new(2, Kind::Conn, 10);
        conn.size = 8192;
        conn.node = 1;
        let sisci = Sisci {
            other: null(),
            foreign: vec![77],
            fabric: Fabric {
                node: 0,
                nodes: 2,
                caps: SISCI_CAP_DMA,
                mc_groups: 0,
                peer: 1,
            },
            peer_segs: vec![10],
            peer_intrs: vec![5],
            peer_data_intrs: vec![6],
            objs: vec![
                seg,
                conn,
                Obj::new(3, Kind::Queue, 0),
                Obj::new(4, Kind::Seg, 21),
            ],
            maps: Vec::new(),
            prober: Prober::new(),
            // SAFETY: eventfd just returned this descriptor, owned by nobody else.
            efd: unsafe { OwnedFd::from_raw_fd(efd) },
            counts: Counts::default(),
        };
        let mut fz = Fuzzer::new(
            "/dev/null",
            open_device("/dev/null").unwrap(),
            1,
            false,
            sisci,
        );
        fz.stale = vec![9];
        fz
    }

    fn on(h: u64, value: u64) -> impl FnOnce(&mut Vec<u8>) {
        move |b| {
            put(b, H_HANDLE, 4, h);
            put(b, H_VALUE, 4, value);
        }
    }

    #[test]
    fn the_mixes_are_per_mille_and_the_valid_weights_per_cent() {
        let mix: u64 = <Fuzzer<Sisci> as Abi>::MIX.iter().sum();
        assert!(mix < 1000, "room for the forks");
        assert_eq!(KNOWN.iter().map(|k| k.valid).sum::<u64>(), 100);
    }

    #[test]
    fn handle_rules() {
        let fz = fuzzer();
        let why = |op, h, value| fz.must_fail(&fz.call(op, on(h, value)));
        assert_eq!(why(Op::SegRemove, 1, 0), None);
        assert!(why(Op::SegRemove, 1, 1).is_some(), "value");
        assert!(why(Op::SegRemove, 9, 0).is_some(), "stale handle");
        assert!(why(Op::SegRemove, 2, 0).is_some(), "a connection");
        assert!(why(Op::SegPrepare, 1, 1).is_some(), "adapter");
        assert_eq!(why(Op::SegSetAvailable, 1, 0), None);
        assert!(why(Op::SegSetAvailable, 4, 0).is_some(), "not prepared");
        assert_eq!(why(Op::SegDisconnect, 2, 0), None);
        assert_eq!(why(Op::SegState, 2, 0), None);
        assert!(why(Op::SegState, 3, 0).is_some(), "a queue");
        assert_eq!(why(Op::DmaQueueRemove, 3, 0), None);
        assert!(why(Op::IntrRemove, 3, 0).is_some(), "a queue");
    }

    #[test]
    fn a_read_only_argument_always_fails() {
        let fz = fuzzer();
        let mut c = fz.call(Op::SegRemove, on(1, 0));
        c.arg = Ptr::ReadOnly;
        assert!(fz.must_fail(&c).is_some());
        c.arg = Ptr::Misaligned;
        assert_eq!(fz.must_fail(&c), None);
    }

    #[test]
    fn list_rules() {
        let fz = fuzzer();
        let list = |es: usize, cap: u64, emb: Ptr| {
            let mut c = fz.call(Op::SegList, |b| {
                put(b, LIST_ENTRY_SIZE, 4, es as u64);
                put(b, LIST_CAPACITY, 4, cap);
            });
            c.emb = Some(emb);
            fz.must_fail(&c)
        };
        assert_eq!(list(SISCI_SEG_ENTRY_SIZE_V1, 4, Ptr::Valid), None);
        assert!(list(SISCI_SEG_ENTRY_SIZE_V1 - 1, 4, Ptr::Valid).is_some());
        assert!(list(SISCI_SEG_ENTRY_SIZE_V1, 1025, Ptr::Valid).is_some());
        assert!(list(SISCI_SEG_ENTRY_SIZE_V1, 4, Ptr::ReadOnly).is_some());
        assert_eq!(list(SISCI_SEG_ENTRY_SIZE_V1, 0, Ptr::Null), None);
    }

    #[test]
    fn dma_entries_are_placed_where_their_pointer_points() {
        let mut fz = fuzzer();
        for p in [Ptr::Valid, Ptr::Misaligned, Ptr::ReadOnly] {
            let (mut b, _, dma) = fz.valid_args(Op::DmaStart);
            fz.set_emb(Op::DmaStart, &mut b, p);
            let at = get(&b, DS_ENTRIES, 8);
            let c = Call {
                cmd: SISCI_IOC_DMA_START,
                bytes: b,
                arg: Ptr::Valid,
                emb: Some(p),
                extra: dma,
                what: String::new(),
            };
            fz.place_extra(&c);
            let region = if p == Ptr::ReadOnly {
                &fz.mem.ro
            } else {
                &fz.mem.entries
            };
            for (i, e) in c.extra.iter().enumerate() {
                let entry = at + 32 * i as u64;
                assert_eq!(region.read(entry, 8), Some(e.local_offset), "{p:?}");
                assert_eq!(region.read(entry + 16, 8), Some(e.len), "{p:?}");
            }
        }
    }

    #[test]
    fn valid_arguments_pass_the_rules_every_ioctl_shares() {
        let mut fz = fuzzer();
        let generic = [
            "header.size",
            "size ",
            "unknown flags",
            "non-zero bytes",
            "argument",
            "read-only",
        ];
        for k in KNOWN {
            for _ in 0..50 {
                let c = fz.valid_call(k.op, "");
                let why = fz.must_fail(&c);
                assert!(
                    why.as_deref()
                        .is_none_or(|w| !generic.iter().any(|g| w.starts_with(g))),
                    "{}: {why:?}",
                    k.name
                );
            }
        }
    }
}
