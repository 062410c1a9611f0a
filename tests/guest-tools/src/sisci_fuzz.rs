//! `rsio-sisci-fuzz`: an ioctl and mmap fuzzer for `/dev/sisci`
//! (`rsio_sisci`), meant to run in a guest on the debug kernel (KASAN,
//! lockdep, kmemleak), with a peer node serving a few segments and
//! interrupts, and (`--device FDID`) lending a device.
//!
//! Every iteration picks a strategy: a random ioctl number, a random number
//! with rsio's magic, a known ioctl (0x40..0x5A) with the wrong size in its
//! number, a known ioctl with one to three mutations (argument pointer,
//! header size, flags, a field at a boundary value, the embedded user
//! pointers, the DMA entries), a valid operation in the current state
//! (segments created, prepared, made available and unavailable, removed;
//! connections to the peer's and to this node's segments; interrupts
//! created, connected, triggered and waited for with tiny timeouts or
//! NONBLOCK, eventfds attached; DMA queues, transfers and waits; devices
//! borrowed, shared or exclusive, segments and connections mapped for them
//! and unmapped, bus addresses of segments, DMA from a device's BAR; empty
//! segments given device memory: a BAR of a function of this node, as
//! sysfs lists them), an
//! mmap at a good or bad offset and length (segments, connections, the
//! BARs of borrowed devices), a probe of the mappings, or a SmartIO
//! sequence (a device borrowed, its BAR mapped and its NVMe CAP register
//! read, a segment mapped for it and removed while mapped, DMA from the BAR
//! into the segment checked against CAP, the device returned with its
//! mappings alive, which must then fault, and in a forked child, SIGBUS).
//! Now and then it reopens the device, or forks a child that works on its
//! own file (maybe borrowing the device first) and exits or is SIGKILLed
//! mid-loop. Waits that could block long run under an interval timer
//! whose signal makes them return `EINTR`.
//!
//! A borrowed device is real: its BARs are only read, by the CPU only
//! where that has no side effect (an NVMe drive's CAP and VS registers),
//! and DMA only ever copies from a BAR into a segment (every entry of a
//! `SISCI_DMA_DEVICE` transfer is made `SISCI_DMA_FROM_REMOTE` before the
//! call, whatever the strategy did to it); only `--device` is borrowed
//! (other plausible fabric device ids are moved out of reach).
//!
//! Device memory (`SEG_ATTACH_PHYS`) is a real BAR of a function of this
//! node too, whose registers must not be touched: it is only ever given to
//! an empty segment of the parent with an id of `ATTACH_IDS`, two at a
//! time (any other call that could attach a BAR has its address moved out
//! of reach); such segments and the connections to them are mapped but
//! never accessed, neither by the CPU nor by a probe, nor named by a DMA
//! transfer; and a forked child never connects to those ids here.
//!
//! The run passes (exit 0) if every errno is one the ioctl may return
//! (model.rs), the calls whose failure the state decides fail with the
//! errno it says (EPERM for DEV_BORROW without CAP_SYS_RAWIO, EBUSY for a
//! device held by this process and for removing what is mapped for a
//! device, ENOENT for unmapping what is not; SEG_ATTACH_PHYS: EPERM,
//! EINVAL or ENXIO in the order the kernel checks them; EINVAL for an
//! empty segment prepared or asked its address, EOPNOTSUPP for device
//! memory where the direct window is needed), an attach inside a memory
//! BAR of a function other than the adapter succeeds (or finds no
//! inbound window left), no call returns a positive value, no call
//! succeeds that the ABI says must fail, a mapping of a
//! removed segment, a closed connection or a returned device reaches
//! nothing, every child exited cleanly or by our SIGKILL, and at the end
//! the device can be borrowed exclusively again (no borrow leaked).
//! Deterministic for a given seed (and kernel and peer behaviour).
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
#[path = "sisci_fuzz/pci.rs"]
mod pci;

use anyhow::{Context, Result};
use clap::Parser;
use fuzz_common::*;
use mapping::{Mapping, Prober};
use model::*;
use pci::{PciBars, Place};
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
    /// The character device.
    #[arg(long, default_value = SISCI_DEVICE_PATH)]
    path: String,
    /// The fabric device id of a device another node lends, to borrow
    /// (`rsio devices`; without it the SmartIO calls only meet ids of no
    /// device). Its BARs are only read (an NVMe drive's CAP and VS).
    #[arg(long, value_name = "FDID", value_parser = parse_fdid)]
    device: Option<u32>,
    /// Forked children that may be SIGKILLed at any moment do not borrow
    /// the device (their DEV_BORROWs of it are moved out of reach); the
    /// children that hold it are killed once they hold it. A DEV_BORROW
    /// interrupted by a signal after its request went out leaves the
    /// lender's lease behind (the device stays busy for this node), see
    /// the scenario.
    #[arg(long)]
    spare_borrows: bool,
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

fn parse_fdid(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("{s}: {e}"))
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
    /// SmartIO sequences run.
    sequences: u64,
    /// Reads of an NVMe drive's CAP register through a BAR mapping.
    cap_reads: u64,
    /// DMA from a BAR completed, how many were checked against CAP, and
    /// how many ended in SISCI_DMA_ERROR.
    bar_dma: u64,
    bar_dma_checked: u64,
    bar_dma_failed: u64,
    /// SIGBUS children: run, faulted as they must, skipped (borrow refused).
    sigbus: u64,
    sigbus_faulted: u64,
    sigbus_skipped: u64,
    /// Children SIGKILLed while they held the device, and skipped ones.
    holders_killed: u64,
    holders_skipped: u64,
    /// DMA from a BAR that ended in SISCI_DMA_ERROR, by length: how many,
    /// and the last error. (Reading all of a QEMU NVMe drive's BAR0 meets
    /// the holes around its MSI-X table, which fail.)
    bar_dma_errors: std::collections::BTreeMap<u64, (u64, u32)>,
    /// Segments given device memory (SEG_ATTACH_PHYS succeeded).
    attached: u64,
}

/// The class code of an NVMe controller: its BAR0 starts with CAP and VS,
/// which can be read without side effects.
const NVME_CLASS: u32 = 0x01_08_02;

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
    /// The lent device to borrow (`--device`).
    device: Option<u32>,
    /// CAP_SYS_RAWIO: DEV_BORROW is allowed.
    rawio: bool,
    /// What is mapped for the fuzzed file's devices.
    dev_maps: Vec<DevMapRec>,
    /// The second file's borrow of the device: its handle, shared.
    other_dev: Option<(u32, bool)>,
    /// A forked child: the parent's borrows (shared or not), which its
    /// file still holds.
    parent_devs: Vec<bool>,
    /// What the first borrow reported: vendor and device, class.
    dev_ids: Option<(u32, u32)>,
    /// The NVMe CAP register as first read.
    cap: Option<u64>,
    /// A forked child's first operation is to come (it may borrow).
    child_first: bool,
    /// `--spare-borrows`.
    spare_borrows: bool,
    /// This process may be SIGKILLed at any moment (a forked child).
    killable: bool,
    /// The memory BARs of this node's functions (SEG_ATTACH_PHYS).
    pci: PciBars,
}

/// An address no range of a segment's size fits at (`ioaddr + size`
/// overflows): where an attach that could reach a real BAR is moved.
const OUT_OF_REACH: u64 = !(PAGE as u64 - 1);

/// At most this many segments hold device memory at a time (each holds an
/// inbound window of the adapter).
const MAX_ATTACHED: usize = 2;

/// What `SEG_ATTACH_PHYS` must do, once the rules every ioctl shares
/// passed.
#[derive(Debug, PartialEq, Eq)]
enum Attach {
    /// Fail with this errno.
    Fail(i32, String),
    /// Succeed, or fail with one of these (what the state does not show).
    May(&'static [i32], String),
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
        Kind::Dev => Op::DevReturn,
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
                let empty = flags & SISCI_SEG_EMPTY != 0;
                let (id, sz, ua) = (v(SC_ID, 4), v(SC_SIZE, 8), v(SC_UADDR, 8));
                if user && (mc || ua == 0 || ua % 4096 != 0) {
                    Some(format!("user memory at {ua:#x} (multicast: {mc})"))
                } else if empty && (user || mc) {
                    Some("SISCI_SEG_EMPTY with user memory or multicast".into())
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
                    if k.op == Op::SegSetAvailable && !s.prepared {
                        Some("segment not prepared".into())
                    } else if k.op == Op::SegPrepare && s.empty {
                        Some(exact(
                            libc::EINVAL,
                            "an empty segment (no memory) cannot be prepared".into(),
                        ))
                    } else if k.op == Op::SegRemove {
                        self.busy_for_device(s.handle, false)
                    } else {
                        None
                    }
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
            Op::SegDisconnect => {
                handle(Kind::Conn).or_else(|| self.busy_for_device(v(H_HANDLE, 4) as u32, true))
            }
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
                if l.empty {
                    return Some("local is an empty segment (no memory)".into());
                }
                let (bar, reserved) = (v(DS_BAR, 4), v(DS_RESERVED, 4));
                let rsize = if flags & SISCI_DMA_DEVICE != 0 {
                    if reserved != 0 {
                        return Some("reserved not zero".into());
                    }
                    let Some(d) = self.obj(v(DS_REMOTE, 4) as u32, Kind::Dev) else {
                        return Some("remote is no device of this file".into());
                    };
                    if d.bar(bar) == 0 {
                        return Some(format!("BAR {bar} of the device cannot be mapped"));
                    }
                    d.bar(bar)
                } else {
                    if bar != 0 || reserved != 0 {
                        return Some("bar or reserved without SISCI_DMA_DEVICE".into());
                    }
                    let Some(r) = self.obj(v(DS_REMOTE, 4) as u32, Kind::Conn) else {
                        return Some("remote is no connection of this file".into());
                    };
                    let reads = call
                        .extra
                        .iter()
                        .position(|e| e.flags & SISCI_DMA_FROM_REMOTE != 0);
                    if let Some(i) = reads.filter(|_| r.mc) {
                        return Some(format!("entry {i} reads from a multicast group"));
                    }
                    r.size
                };
                for (i, e) in call.extra.iter().enumerate() {
                    let lend = e.local_offset.checked_add(e.len);
                    let rend = e.remote_offset.checked_add(e.len);
                    if lend.is_none_or(|x| x > l.size) || rend.is_none_or(|x| x > rsize) {
                        return Some(format!("entry {i} outside a segment or BAR"));
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
            Op::DevBorrow => {
                let outs = [(DB_HANDLE, 4), (DB_MMAP, 8), (DB_VENDOR, 4), (DB_CLASS, 4)];
                let bars = (0..SISCI_DEV_NUM_BARS).map(|b| (db_bar(b), 8));
                if outs.into_iter().chain(bars).any(|(off, w)| v(off, w) != 0) {
                    return Some("an output field not zero".into());
                }
                if !self.abi.rawio {
                    return Some(exact(libc::EPERM, "no CAP_SYS_RAWIO".into()));
                }
                let fdid = v(DB_FDID, 4) as u32;
                let node = fdid >> 16;
                if node >= fab.nodes || node == fab.node || fdid & 0xffff == 0 {
                    return Some(format!("fdid {fdid:#x}: no device another node lends"));
                }
                let holds = self.holds();
                let shared = flags & SISCI_DEV_SHARED != 0;
                if Some(fdid) == self.abi.device
                    && !holds.is_empty()
                    && (!shared || holds.iter().any(|s| !s))
                {
                    return Some(exact(
                        libc::EBUSY,
                        format!(
                            "this process holds {fdid:#x} ({holds:?} shared), {} asked for",
                            if shared { "shared" } else { "exclusive" }
                        ),
                    ));
                }
                None
            }
            Op::DevReturn => handle(Kind::Dev),
            Op::DevMap | Op::DevUnmap => {
                if v(DM_IOADDR, 8) != 0 {
                    return Some("ioaddr not zero".into());
                }
                let dev = v(DM_DEVICE, 4) as u32;
                if let Some(why) = not(dev as u64, Kind::Dev) {
                    return Some(why);
                }
                let (seg, remote) = (v(DM_SEGMENT, 4) as u32, flags & SISCI_DEV_MAP_REMOTE != 0);
                if k.op == Op::DevUnmap {
                    return (self.dev_map_count(Some(dev), seg, remote) == 0).then(|| {
                        exact(
                            libc::ENOENT,
                            format!("segment {seg} (remote {remote}) not mapped for device {dev}"),
                        )
                    });
                }
                let (offset, size) = (v(DM_OFFSET, 8), v(DM_SIZE, 8));
                if !offset.is_multiple_of(PAGE as u64) {
                    return Some(format!("offset {offset:#x} not page-aligned"));
                }
                let o = match self.mappable(seg, remote) {
                    Ok(o) => o,
                    Err(why) => return Some(why),
                };
                // Device memory is not in the direct window (a device that
                // is gone, or no memory, the kernel meets first).
                if !remote && o.io {
                    return Some(exact_any(
                        &[libc::EOPNOTSUPP, libc::ENODEV, libc::ENOMEM],
                        format!("segment {seg} is device memory"),
                    ));
                }
                let len = if size == 0 {
                    o.size.saturating_sub(offset)
                } else {
                    size
                };
                // A multicast group's range may be empty (its end).
                let past = if o.mc {
                    offset > o.size
                } else {
                    offset >= o.size
                };
                if past || offset.checked_add(len).is_none_or(|e| e > o.size) {
                    return Some(format!(
                        "{offset:#x}+{size:#x} outside the segment's {:#x} bytes",
                        o.size
                    ));
                }
                if remote && o.io {
                    // Also a lost connection, checked before.
                    return Some(exact_any(
                        &[libc::EOPNOTSUPP, libc::ENODEV, libc::ENOMEM, libc::ENOTCONN],
                        format!("connection {seg} is to device memory"),
                    ));
                }
                None
            }
            Op::SegAddr => {
                let outs = [
                    (SA_RESERVED, 4),
                    (SA_IOADDR, 8),
                    (SA_PHYS, 8),
                    (SA_CONTIGUOUS, 8),
                ];
                if outs.into_iter().any(|(off, w)| v(off, w) != 0) {
                    return Some("reserved or an output field not zero".into());
                }
                let (h, offset) = (v(SA_HANDLE, 4) as u32, v(SA_OFFSET, 8));
                let remote = flags & SISCI_DEV_MAP_REMOTE != 0;
                let kind = if remote { Kind::Conn } else { Kind::Seg };
                let Some(o) = self.obj(h, kind) else {
                    return Some(format!("handle {h} is no {kind:?} of this file"));
                };
                if o.mc && remote {
                    Some("a multicast connection (no direct window)".into())
                } else if remote && o.io {
                    Some(exact(
                        libc::EOPNOTSUPP,
                        format!("connection {h} is to device memory (no direct window)"),
                    ))
                } else if !remote && o.empty {
                    Some(exact(
                        libc::EINVAL,
                        format!("segment {h} is empty (no memory)"),
                    ))
                } else if offset >= o.size {
                    Some(format!("offset {offset:#x} beyond {:#x} bytes", o.size))
                } else {
                    None
                }
            }
            Op::SegAttachPhys => match self.attach_rule(c, size) {
                Attach::Fail(e, why) => Some(exact(e, why)),
                Attach::May(..) => None,
            },
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
                } else if flags & SISCI_SEG_MULTICAST == 0 && self.rng.chance(1, 5) {
                    // Empty, for device memory: mostly with an id that may
                    // be given a real BAR, of a size one holds.
                    flags |= SISCI_SEG_EMPTY;
                    if self.rng.chance(3, 4) {
                        flags &= !SISCI_SEG_AUTO_ID;
                        id = (ATTACH_IDS.start as u64) + self.rng.below(ATTACH_IDS.len() as u64);
                    }
                    let fits: Vec<u64> = self
                        .abi
                        .pci
                        .candidates(PAGE as u64)
                        .iter()
                        .map(|b| b.len.min(64 << 10))
                        .collect();
                    sz = if !fits.is_empty() && self.rng.chance(1, 2) {
                        self.rng.pick(&fits)
                    } else {
                        self.rng.pick(&[1, 4096, 8192, 16384])
                    };
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
                let lsize = self.obj(l, Kind::Seg).map_or(4096, |o| o.size);
                let device =
                    self.abi.objs.iter().any(|o| o.kind == Kind::Dev) && self.rng.chance(1, 3);
                let (r, rsize) = if device {
                    // From a BAR of a borrowed device into the segment.
                    let r = self.some_handle(Some(Kind::Dev));
                    let d = self.obj(r, Kind::Dev);
                    let bar = match d {
                        Some(d) if self.rng.chance(5, 6) => (0..SISCI_DEV_NUM_BARS as u64)
                            .find(|b| d.bar(*b) != 0)
                            .unwrap_or(0),
                        _ => self.rng.below(8),
                    };
                    put(&mut b, 4, 4, SISCI_DMA_DEVICE as u64);
                    put(&mut b, DS_BAR, 4, bar);
                    (r, d.map_or(0, |d| d.bar(bar)).max(4096))
                } else {
                    let r = self.some_handle(Some(Kind::Conn));
                    (r, self.obj(r, Kind::Conn).map_or(4096, |o| o.size))
                };
                dma = self.dma_entries(lsize, rsize);
                if device {
                    dma.iter_mut().for_each(|e| e.flags = SISCI_DMA_FROM_REMOTE);
                } else if self.obj(r, Kind::Conn).is_some_and(|o| o.mc) && self.rng.chance(5, 6) {
                    // A multicast group takes writes only.
                    dma.iter_mut().for_each(|e| e.flags = 0);
                }
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
            Op::DevBorrow => {
                let fdid = self.some_fdid();
                put(&mut b, DB_FDID, 4, fdid as u64);
                if self.rng.chance(1, 2) {
                    put(&mut b, 4, 4, SISCI_DEV_SHARED as u64);
                }
            }
            Op::DevReturn => {
                let h = self.some_handle(Some(Kind::Dev));
                put(&mut b, H_HANDLE, 4, h as u64);
            }
            Op::DevMap | Op::DevUnmap => {
                let maps = &self.abi.dev_maps;
                let (dev, seg, remote) =
                    if op == Op::DevUnmap && !maps.is_empty() && self.rng.chance(3, 4) {
                        let m = maps[self.rng.below(maps.len() as u64) as usize];
                        (m.dev, m.seg, m.remote)
                    } else {
                        let remote = self.rng.chance(2, 5);
                        let kind = if remote { Kind::Conn } else { Kind::Seg };
                        let seg = self.some_handle(Some(kind));
                        (self.some_handle(Some(Kind::Dev)), seg, remote)
                    };
                let kind = if remote { Kind::Conn } else { Kind::Seg };
                let size = self.obj(seg, kind).map_or(4096, |o| o.size);
                let (offset, len) = self.some_range(size);
                put(&mut b, DM_DEVICE, 4, dev as u64);
                put(&mut b, DM_SEGMENT, 4, seg as u64);
                put(&mut b, DM_OFFSET, 8, offset);
                put(&mut b, DM_SIZE, 8, len);
                if remote {
                    put(&mut b, 4, 4, SISCI_DEV_MAP_REMOTE as u64);
                }
            }
            Op::SegAddr => {
                let remote = self.rng.chance(2, 5);
                let kind = if remote { Kind::Conn } else { Kind::Seg };
                let h = self.some_handle(Some(kind));
                let size = self.obj(h, kind).map_or(4096, |o| o.size);
                let offset = match self.rng.below(8) {
                    0..=2 => 0,
                    3..=5 => self.rng.below(size),
                    6 => size.saturating_sub(1),
                    _ => self.rng.pick(&[size, size + 4096, 1 << 40, u64::MAX]),
                };
                put(&mut b, SA_HANDLE, 4, h as u64);
                put(&mut b, SA_OFFSET, 8, offset);
                if remote {
                    put(&mut b, 4, 4, SISCI_DEV_MAP_REMOTE as u64);
                }
            }
            Op::SegAttachPhys => {
                let empty: Vec<u32> = self
                    .abi
                    .objs
                    .iter()
                    .filter(|o| o.kind == Kind::Seg && o.empty)
                    .map(|o| o.handle)
                    .collect();
                let h = if !empty.is_empty() && self.rng.chance(4, 5) {
                    self.rng.pick(&empty)
                } else {
                    self.some_handle(Some(Kind::Seg))
                };
                let size = self.obj(h, Kind::Seg).map_or(4096, |o| o.size);
                let len = match self.rng.below(12) {
                    0 => size + PAGE as u64,
                    1 => size.saturating_sub(PAGE as u64),
                    2 => size.saturating_sub(1),
                    _ => size,
                };
                let addr = self.some_ioaddr(size);
                put(&mut b, AT_HANDLE, 4, h as u64);
                put(&mut b, AT_IOADDR, 8, addr);
                put(&mut b, AT_SIZE, 8, len);
                if self.rng.chance(1, 30) {
                    put(&mut b, AT_RESERVED, 4, 1);
                }
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
            Dom::Fdid => {
                let (node, peer) = (self.abi.fabric.node, self.abi.fabric.peer);
                let mut v = vec![
                    (peer as u64) << 16,
                    ((peer as u64) << 16) | 0xffff,
                    (node as u64) << 16 | 1,
                    (self.abi.fabric.nodes as u64) << 16 | 1,
                    0xffff_0001,
                ];
                v.extend(self.abi.device.map(|d| d as u64));
                v
            }
            Dom::Bar => vec![0, 1, 5, 6, 7, 8],
            Dom::Offset => vec![
                PAGE as u64,
                PAGE as u64 - 1,
                PAGE as u64 + 1,
                16 << 10,
                4 << 20,
                SISCI_MAX_SEGMENT_SIZE,
            ],
            // RAM, the ends of the BARs (make_safe moves what could
            // attach a real BAR out of reach unless it may).
            Dom::IoAddr => {
                let mut v = vec![0, PAGE as u64, 0x10_0000, 0x100_0000, OUT_OF_REACH, 1 << 52];
                for b in self.abi.pci.bars.iter().take(8) {
                    let end = b.start.wrapping_add(b.len);
                    v.extend([b.start, end.wrapping_sub(PAGE as u64), end]);
                }
                v
            }
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
            _ => self.rng.range(0x3c, 0x5e) as u32,
        };
        (dir, nr)
    }

    fn after_call(&mut self, call: &Call<Dma>, out: &Outcome) {
        if out.errno == libc::EINTR {
            self.abi.counts.interrupted += 1;
        }
        // A failure the state decides has one errno (model.rs `exact`):
        // the rules are those of the state before the call.
        if out.rc < 0 {
            let want = self.must_fail(call);
            let name = dispatch(call.cmd).map_or("?", |k| k.name);
            if let Some(es) = want.as_deref().and_then(exact_errnos) {
                if !es.contains(&out.errno) {
                    self.violation(&format!(
                        "{name}: {} where the ABI says {}: {}\n  what: {}",
                        errname(out.errno),
                        es.iter()
                            .map(|e| errname(*e))
                            .collect::<Vec<_>>()
                            .join(" or "),
                        want.unwrap_or_default(),
                        call.what
                    ));
                }
            } else if want.is_none() {
                // A call that may succeed may still have to succeed, or
                // fail only in some ways.
                if let Some(Attach::May(es, why)) = self.attach_expected(call) {
                    if !es.contains(&out.errno) {
                        self.violation(&format!(
                            "{name}: {} where it must succeed or fail with {}: {why}\n  what: {}",
                            errname(out.errno),
                            es.iter()
                                .map(|e| errname(*e))
                                .collect::<Vec<_>>()
                                .join(" or "),
                            call.what
                        ));
                    }
                }
            }
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
                if s.empty && self.rng.chance(3, 4) {
                    self.attach(s, "give the new segment device memory");
                }
                self.handle_op(Op::SegPrepare, s.handle, "prepare the new segment");
                self.handle_op(
                    Op::SegSetAvailable,
                    s.handle,
                    "make the new segment available",
                );
            }
        }
        // Device memory just attached is mostly prepared and made
        // available.
        if op == Op::SegAttachPhys && out.rc == 0 && self.rng.chance(2, 3) {
            let h = self
                .mem
                .arg
                .read(out.addr + AT_HANDLE as u64, 4)
                .unwrap_or(0) as u32;
            if self.obj(h, Kind::Seg).is_some_and(|s| s.io) {
                self.handle_op(Op::SegPrepare, h, "prepare the device memory");
                self.handle_op(Op::SegSetAvailable, h, "make the device memory available");
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
        // What was just mapped for a device is sometimes removed at once
        // (EBUSY).
        if op == Op::DevMap && out.rc == 0 && self.rng.chance(1, 4) {
            if let Some(m) = self.abi.dev_maps.last().copied() {
                let op = if m.remote {
                    Op::SegDisconnect
                } else {
                    Op::SegRemove
                };
                self.handle_op(op, m.seg, "remove what is mapped for a device (EBUSY)");
            }
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
        self.abi.dev_maps.clear();
        if self.rng.chance(1, 2) {
            match open_device(&self.device) {
                Ok(f) => {
                    self.abi.other = f;
                    self.abi.other_dev = None;
                }
                Err(e) => self.violation(&format!("cannot reopen {}: {e}", self.device)),
            }
            self.open_other();
        }
    }

    /// The parent's mappings are not inherited (VM_DONTCOPY); its file
    /// and its borrows stay.
    fn child_reset(&mut self) {
        self.abi.killable = true;
        self.abi.parent_devs = self
            .abi
            .objs
            .iter()
            .filter(|o| o.kind == Kind::Dev)
            .map(|o| o.shared)
            .collect();
        self.abi.maps.clear();
        self.abi.objs.clear();
        self.abi.dev_maps.clear();
        self.abi.child_first = true;
    }

    /// A child's first operation mostly borrows the device, for a SIGKILL
    /// to find it holding one.
    fn child_op(&mut self) {
        if std::mem::take(&mut self.abi.child_first)
            && self.abi.device.is_some()
            && !self.abi.spare_borrows
            && self.rng.chance(2, 3)
        {
            let fdid = self.abi.device.unwrap_or(0);
            let shared = self.rng.chance(1, 2);
            self.borrow(fdid, shared, "a child borrows the device");
            return;
        }
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

    /// Only `--device` is borrowed: another fabric device id that could
    /// name a device is moved out of reach (an index no lender uses), so
    /// that ENOENT stays reachable but no other real device is touched.
    /// A transfer that names a device whose entries are not in our
    /// memory (where `before_ioctl` makes them copy from the BAR) nor
    /// where the kernel cannot read does not name it.
    ///
    /// No call may attach a real BAR but one naming an empty segment of
    /// the parent with an id of `ATTACH_IDS` (two at a time); a child
    /// never connects to those ids here; no transfer names device memory.
    fn make_safe(&mut self, op: Op, b: &mut [u8]) {
        if op == Op::SegAttachPhys {
            let (h, addr, len) = (
                get(b, AT_HANDLE, 4) as u32,
                get(b, AT_IOADDR, 8),
                get(b, AT_SIZE, 8),
            );
            if !self.may_attach_bar(h) && self.abi.pci.may_attach(addr, len) {
                put(b, AT_IOADDR, 8, OUT_OF_REACH | (addr & (PAGE as u64 - 1)));
            }
        }
        if op == Op::SegConnect && self.child {
            let id = get(b, CO_ID, 4) as u32;
            let here = get(b, CO_NODE, 4) as u32 == self.abi.fabric.node;
            let mc = get(b, 4, 4) as u32 & SISCI_SEG_MULTICAST != 0;
            if here && !mc && ATTACH_IDS.contains(&id) {
                put(b, CO_ID, 4, (id - ATTACH_IDS.len() as u32) as u64);
            }
        }
        if op == Op::DmaStart {
            let local = get(b, DS_LOCAL, 4) as u32;
            if self
                .obj(local, Kind::Seg)
                .is_some_and(|o| self.hands_off(&o))
            {
                put(b, DS_LOCAL, 4, HANDLE_LIMIT as u64);
            }
            let remote = get(b, DS_REMOTE, 4) as u32;
            let device = get(b, 4, 4) as u32 & SISCI_DMA_DEVICE != 0;
            if !device
                && self
                    .obj(remote, Kind::Conn)
                    .is_some_and(|o| self.hands_off(&o))
            {
                put(b, DS_REMOTE, 4, HANDLE_LIMIT as u64);
            }
        }
        if op == Op::DevBorrow {
            let fdid = get(b, DB_FDID, 4) as u32;
            let spare = self.abi.spare_borrows && self.abi.killable;
            if (Some(fdid) != self.abi.device || spare) && (1..0x7f00).contains(&(fdid & 0xffff)) {
                put(b, DB_FDID, 4, (fdid | 0x7f00) as u64);
            }
        }
        let flags = get(b, 4, 4) as u32;
        if op == Op::DmaStart && flags & SISCI_DMA_DEVICE != 0 {
            let at = get(b, DS_ENTRIES, 8);
            let inside = |r: &Region| (r.addr(0)..r.addr(r.len)).contains(&at);
            let ours = inside(&self.mem.entries) || inside(&self.mem.ro);
            let hole = self.mem.unmapped;
            let unreadable =
                at < PAGE as u64 || (hole..hole + PAGE as u64).contains(&at) || at >= 1 << 47;
            if !ours && !unreadable {
                put(b, 4, 4, (flags & !SISCI_DMA_DEVICE) as u64);
            }
        }
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

    /// A wait that could block long is interrupted by a signal. A
    /// transfer that names a device only reads its BAR.
    fn before_ioctl(&mut self, call: &Call<Dma>) -> bool {
        let k = dispatch(call.cmd);
        if k.is_some_and(|k| k.op == Op::DmaStart)
            && get(&call.bytes, 4, 4) as u32 & SISCI_DMA_DEVICE != 0
        {
            self.only_from_device(call);
        }
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

    /// With a device to borrow, a SmartIO sequence (1 in 8); else an mmap
    /// (70 %) or a probe of the mappings.
    fn own_strategy(&mut self) {
        if self.abi.device.is_some() && self.rng.chance(1, 8) {
            self.smartio_sequence();
        } else if self.rng.chance(7, 10) {
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

    /// Finally every object of the file goes, devices first (what is
    /// mapped for them goes with them): the mappings of removed segments,
    /// closed connections and returned devices must be dead. Then, with
    /// nothing of this process holding it, the device must be free for an
    /// exclusive borrow (no borrow of the run leaked on either side).
    fn finish(&mut self) {
        let mut objs = self.abi.objs.clone();
        objs.sort_by_key(|o| o.kind != Kind::Dev);
        for o in objs {
            self.handle_op(removal(o.kind), o.handle, "clean up");
        }
        self.check_device_free();
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
            format!(
                "smartio     {} sequences, {} CAP reads, {} DMA from a BAR ({} checked against CAP, {} more failed{}), {} SIGBUS children ({} faulted, {} skipped), {} holders SIGKILLed ({} skipped)",
                c.sequences,
                c.cap_reads,
                c.bar_dma,
                c.bar_dma_checked,
                c.bar_dma_failed,
                c.bar_dma_errors
                    .iter()
                    .map(|(len, (n, e))| format!(
                        ", {n} of {len} bytes: {}",
                        errname(*e as i32)
                    ))
                    .collect::<String>(),
                c.sigbus,
                c.sigbus_faulted,
                c.sigbus_skipped,
                c.holders_killed,
                c.holders_skipped
            ),
            format!(
                "device mem  {} segments given a BAR ({} memory BARs of other functions{})",
                c.attached,
                self.abi.pci.candidates(PAGE as u64).len(),
                if self.abi.pci.known {
                    ""
                } else {
                    ", sysfs unread"
                }
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

    // --- Device memory.

    /// What reaches device memory, or may: never accessed, never named
    /// by a transfer. Device memory, a connection to it, and any
    /// connection here to an id of `ATTACH_IDS`.
    fn hands_off(&self, o: &Obj) -> bool {
        o.io || (o.kind == Kind::Conn
            && !o.mc
            && o.node == self.abi.fabric.node
            && ATTACH_IDS.contains(&o.id))
    }

    /// Whether segment `h` may be given a real BAR: an empty segment of
    /// the parent with an id of `ATTACH_IDS`, fewer than `MAX_ATTACHED`
    /// holding one.
    fn may_attach_bar(&self, h: u32) -> bool {
        let held = self
            .abi
            .objs
            .iter()
            .filter(|o| o.kind == Kind::Seg && o.io)
            .count();
        !self.child
            && held < MAX_ATTACHED
            && self
                .obj(h, Kind::Seg)
                .is_some_and(|o| o.empty && ATTACH_IDS.contains(&o.id))
    }

    /// What SEG_ATTACH_PHYS with argument `c` (of `size` bytes) must do,
    /// in the kernel's order (segments.rs `attach_phys`, memory.rs
    /// `SegMemory::device`), once the rules every ioctl shares passed.
    fn attach_rule(&self, c: &[u8], size: usize) -> Attach {
        let v = |off: usize, w: usize| field(c, size, off, w);
        if !self.abi.rawio {
            return Attach::Fail(libc::EPERM, "no CAP_SYS_RAWIO".into());
        }
        if v(AT_RESERVED, 4) != 0 {
            return Attach::Fail(libc::EINVAL, "reserved not zero".into());
        }
        let h = v(AT_HANDLE, 4) as u32;
        let Some(s) = self.obj(h, Kind::Seg) else {
            return Attach::Fail(
                libc::EINVAL,
                format!("handle {h} is no segment of this file"),
            );
        };
        if !s.empty {
            return Attach::Fail(
                libc::EINVAL,
                format!("segment {h} was not created empty, or has memory already"),
            );
        }
        let (addr, len) = (v(AT_IOADDR, 8), v(AT_SIZE, 8));
        if len != s.size {
            return Attach::Fail(
                libc::EINVAL,
                format!("size {len:#x}, the segment's is {:#x}", s.size),
            );
        }
        if !addr.is_multiple_of(PAGE as u64) {
            return Attach::Fail(libc::EINVAL, format!("ioaddr {addr:#x} not page-aligned"));
        }
        let at = format!("{addr:#x}+{len:#x}");
        match self.abi.pci.place(addr, len) {
            Place::Overflow => Attach::Fail(libc::ENXIO, format!("{at} overflows")),
            Place::Nowhere => Attach::Fail(
                libc::ENXIO,
                format!("{at} is inside no memory BAR of a function here"),
            ),
            Place::Adapter(bar) => {
                Attach::Fail(libc::ENXIO, format!("{at} is the adapter's: {bar}"))
            }
            Place::Device(bar) => Attach::May(
                &[libc::ENOSPC, libc::ENOMEM, libc::ENODEV],
                format!("{at} is inside {bar}"),
            ),
            Place::Doubt(bar) => Attach::May(
                &[libc::ENXIO, libc::ENOSPC, libc::ENOMEM, libc::ENODEV],
                format!("{at}: {bar}"),
            ),
        }
    }

    /// [`Self::attach_rule`] of a SEG_ATTACH_PHYS call (None: another
    /// call).
    fn attach_expected(&self, call: &Call<Dma>) -> Option<Attach> {
        dispatch(call.cmd).filter(|k| k.op == Op::SegAttachPhys)?;
        Some(self.attach_rule(&call.bytes, ioc_size(call.cmd)))
    }

    /// A bus address for device memory of `size` bytes: mostly inside a
    /// BAR of a function here that holds that much, else RAM, the ends of
    /// a BAR, the adapter's, random, or one where the range overflows.
    fn some_ioaddr(&mut self, size: u64) -> u64 {
        let fits: Vec<(u64, u64)> = self
            .abi
            .pci
            .candidates(size)
            .iter()
            .map(|b| (b.start, b.len))
            .collect();
        let bars: Vec<(u64, u64, bool)> = self
            .abi
            .pci
            .bars
            .iter()
            .map(|b| (b.start, b.len, b.adapter))
            .collect();
        let page = PAGE as u64;
        match self.rng.below(10) {
            0..=4 if !fits.is_empty() => {
                let (start, len) = self.rng.pick(&fits);
                start + self.rng.below((len - size) / page + 1) * page
            }
            5 => self.rng.pick(&[page, 0x10_0000, 0x100_0000, 0x2000_0000]),
            6 if !bars.is_empty() => {
                let (start, len, _) = self.rng.pick(&bars);
                let end = start.wrapping_add(len);
                self.rng.pick(&[
                    end.wrapping_sub(page),
                    end,
                    start + 1,
                    start.wrapping_sub(page),
                ])
            }
            7 if bars.iter().any(|b| b.2) => {
                let adapter: Vec<u64> = bars.iter().filter(|b| b.2).map(|b| b.0).collect();
                self.rng.pick(&adapter)
            }
            8 => {
                let r = self.rng.next();
                if self.rng.chance(1, 2) {
                    r & !(page - 1)
                } else {
                    r
                }
            }
            _ => OUT_OF_REACH,
        }
    }

    /// SEG_ATTACH_PHYS of all of segment `s` at an address
    /// [`Self::some_ioaddr`] picks.
    fn attach(&mut self, s: Obj, what: &str) -> Outcome {
        let mut b = self.request(Op::SegAttachPhys);
        let addr = self.some_ioaddr(s.size);
        put(&mut b, AT_HANDLE, 4, s.handle as u64);
        put(&mut b, AT_IOADDR, 8, addr);
        put(&mut b, AT_SIZE, 8, s.size);
        self.exec_request(Op::SegAttachPhys, b, what)
    }

    // --- SmartIO: the state.

    /// The borrows of the device this process holds (in any of its
    /// files): shared or not.
    fn holds(&self) -> Vec<bool> {
        let own = self.abi.objs.iter().filter(|o| o.kind == Kind::Dev);
        own.map(|o| o.shared)
            .chain(self.abi.parent_devs.iter().copied())
            .chain(self.abi.other_dev.map(|(_, shared)| shared))
            .collect()
    }

    /// Maps of segment (or connection) `seg` for device `dev` (`None`: any
    /// of the file's devices).
    fn dev_map_count(&self, dev: Option<u32>, seg: u32, remote: bool) -> u32 {
        self.abi
            .dev_maps
            .iter()
            .filter(|m| m.seg == seg && m.remote == remote && dev.is_none_or(|d| d == m.dev))
            .map(|m| m.count)
            .sum()
    }

    /// Why removing (or disconnecting) `seg` must fail with EBUSY.
    fn busy_for_device(&self, seg: u32, remote: bool) -> Option<String> {
        let n = self.dev_map_count(None, seg, remote);
        (n > 0).then(|| {
            exact(
                libc::EBUSY,
                format!("handle {seg} is mapped for a device {n} time(s)"),
            )
        })
    }

    /// The segment or connection DEV_MAP may map (Err: why not).
    fn mappable(&self, seg: u32, remote: bool) -> Result<Obj, String> {
        if remote {
            self.obj(seg, Kind::Conn)
                .ok_or(format!("handle {seg} is no connection of this file"))
        } else {
            let s = self
                .obj(seg, Kind::Seg)
                .ok_or(format!("handle {seg} is no segment of this file"))?;
            if !s.prepared {
                return Err("segment not prepared".into());
            }
            Ok(s)
        }
    }

    /// A fabric device id: mostly the device to borrow, else one of no
    /// device (index 0, this node, no such node, an index no lender
    /// uses).
    fn some_fdid(&mut self) -> u32 {
        let (node, peer, nodes) = (
            self.abi.fabric.node,
            self.abi.fabric.peer,
            self.abi.fabric.nodes,
        );
        match (self.abi.device, self.rng.below(10)) {
            (Some(d), 0..=6) => d,
            (_, 7) => peer << 16 | 0x7f00 | self.rng.below(8) as u32,
            (_, 8) => self
                .rng
                .pick(&[peer << 16, node << 16 | 1, nodes << 16 | 1]),
            _ => self.rng.next() as u32,
        }
    }

    /// An offset and a size in an object of `size` bytes: mostly all of
    /// it (size 0: to the end) or a page, sometimes beyond or unaligned.
    fn some_range(&mut self, size: u64) -> (u64, u64) {
        let pages = (size / PAGE as u64).max(1);
        let offset = match self.rng.below(10) {
            0..=5 => 0,
            6 | 7 => self.rng.below(pages) * PAGE as u64,
            8 => size,
            _ => self.rng.pick(&[1, PAGE as u64 - 1, 1 << 40]),
        };
        let len = match self.rng.below(8) {
            0..=3 => 0,
            4 => PAGE as u64,
            5 => size.saturating_sub(offset),
            6 => size.saturating_sub(offset) + PAGE as u64,
            _ => u64::MAX - self.rng.below(PAGE as u64),
        };
        (offset, len)
    }

    // --- SmartIO: calls.

    /// DEV_BORROW of `fdid`.
    fn borrow(&mut self, fdid: u32, shared: bool, what: &str) -> Option<Obj> {
        let mut b = self.request(Op::DevBorrow);
        put(&mut b, DB_FDID, 4, fdid as u64);
        if shared {
            put(&mut b, 4, 4, SISCI_DEV_SHARED as u64);
        }
        let out = self.exec_request(Op::DevBorrow, b, what);
        if out.rc != 0 {
            return None;
        }
        let h = self.mem.arg.read(out.addr + DB_HANDLE as u64, 4)? as u32;
        self.obj(h, Kind::Dev)
    }

    /// DEV_MAP or DEV_UNMAP of all of `seg` for `dev`.
    fn dev_map(&mut self, op: Op, dev: u32, seg: u32, remote: bool, what: &str) -> Outcome {
        let mut b = self.request(op);
        put(&mut b, DM_DEVICE, 4, dev as u64);
        put(&mut b, DM_SEGMENT, 4, seg as u64);
        if remote {
            put(&mut b, 4, 4, SISCI_DEV_MAP_REMOTE as u64);
        }
        self.exec_request(op, b, what)
    }

    /// Unmaps what is mapped of `seg` for the file's devices.
    fn unmap_for_devices(&mut self, seg: u32, remote: bool) {
        let maps: Vec<DevMapRec> = self
            .abi
            .dev_maps
            .iter()
            .copied()
            .filter(|m| m.seg == seg && m.remote == remote)
            .collect();
        for m in maps {
            for _ in 0..m.count {
                self.dev_map(
                    Op::DevUnmap,
                    m.dev,
                    seg,
                    remote,
                    "unmap for the device first",
                );
            }
        }
    }

    /// Removes an object: a segment or connection is unmapped for the
    /// devices first.
    fn release(&mut self, o: Obj, what: &str) -> Outcome {
        if matches!(o.kind, Kind::Seg | Kind::Conn) {
            self.unmap_for_devices(o.handle, o.kind == Kind::Conn);
        }
        self.handle_op(removal(o.kind), o.handle, what)
    }

    /// Every entry the kernel will read of a transfer that names a device
    /// (in our memory: the entries are only ever placed there) copies from
    /// the BAR, whatever the strategy made of the call: its
    /// `SISCI_DMA_FROM_REMOTE` is set. An entry valid before stays valid,
    /// an invalid one invalid (the flag is the only one allowed).
    fn only_from_device(&mut self, call: &Call<Dma>) {
        let at = get(&call.bytes, DS_ENTRIES, 8);
        let count = get(&call.bytes, DS_COUNT, 4).min(SISCI_MAX_DMA_ENTRIES as u64);
        for i in 0..count {
            let flags = at.wrapping_add(32 * i + 24);
            if let Some(f) = self.mem.entries.read(flags, 4) {
                let off = (flags - self.mem.entries.addr(0)) as usize;
                let f = f as u32 | SISCI_DMA_FROM_REMOTE;
                self.mem.entries.write(off, &f.to_ne_bytes());
            } else if let Some(f) = self.mem.ro.read(flags, 4) {
                let off = (flags - self.mem.ro.addr(0)) as usize;
                let f = f as u32 | SISCI_DMA_FROM_REMOTE;
                self.mem.write_ro(off, &f.to_ne_bytes());
            }
        }
    }

    // --- SmartIO: sequences.

    /// A SmartIO sequence on the device (without CAP_SYS_RAWIO only the
    /// borrow, which must fail with EPERM).
    fn smartio_sequence(&mut self) {
        self.abi.counts.sequences += 1;
        let Some(fdid) = self.abi.device else { return };
        if !self.abi.rawio {
            let shared = self.rng.chance(1, 2);
            self.borrow(fdid, shared, "borrow without CAP_SYS_RAWIO (EPERM)");
            return;
        }
        match self.rng.below(12) {
            0..=5 => self.map_and_dma(fdid),
            6 | 7 => self.return_while_mapped(fdid),
            8 | 9 => self.sigbus_child(fdid),
            _ => self.killed_holder(fdid),
        }
        self.trim();
    }

    /// A device of the file, borrowed now if it holds none (shared if
    /// this process holds it already, else either way).
    fn a_device(&mut self, fdid: u32) -> Option<Obj> {
        if let Some(d) = self.abi.objs.iter().copied().find(|o| o.kind == Kind::Dev) {
            return Some(d);
        }
        let shared = !self.holds().is_empty() || self.rng.chance(1, 2);
        self.borrow(fdid, shared, "borrow the device")
    }

    /// BAR0 of `d` mapped read-only (its first page or all of it) and
    /// touched (CAP).
    fn map_bar0(&mut self, d: Obj) -> Option<Mapping> {
        let pages = d.bar(0) / PAGE as u64;
        if pages == 0 {
            return None;
        }
        let len = if self.rng.chance(1, 2) {
            1
        } else {
            pages.min(16)
        } as usize
            * PAGE;
        self.mmap_call(sisci_mmap_offset(d.handle), len, libc::PROT_READ, false)
    }

    /// A new prepared segment of `size` bytes.
    fn new_segment(&mut self, size: u64) -> Option<Obj> {
        let mut b = self.request(Op::SegCreate);
        put(&mut b, 4, 4, SISCI_SEG_AUTO_ID as u64);
        put(&mut b, SC_SIZE, 8, size);
        let out = self.exec_request(Op::SegCreate, b, "a segment for the device");
        if out.rc != 0 {
            return None;
        }
        let h = self.mem.arg.read(out.addr + SC_HANDLE as u64, 4)? as u32;
        self.handle_op(Op::SegPrepare, h, "prepare it");
        self.obj(h, Kind::Seg)
    }

    /// The device borrowed, its BAR0 mapped and CAP read; a segment mapped
    /// for it (removal refused while mapped), its bus address; a
    /// connection mapped for it (disconnect refused); DMA from BAR0 into
    /// the segment, checked against CAP; mostly unmapped again.
    fn map_and_dma(&mut self, fdid: u32) {
        let Some(d) = self.a_device(fdid) else { return };
        self.map_bar0(d);
        let size = self.rng.pick(&[4096, 16384, 65536]);
        let Some(s) = self.new_segment(size) else {
            return;
        };
        let mapped = self.dev_map(
            Op::DevMap,
            d.handle,
            s.handle,
            false,
            "map the segment for the device",
        );
        if mapped.rc == 0 {
            self.handle_op(
                Op::SegRemove,
                s.handle,
                "remove it while mapped for the device (EBUSY)",
            );
        }
        let mut b = self.request(Op::SegAddr);
        put(&mut b, SA_HANDLE, 4, s.handle as u64);
        self.exec_request(Op::SegAddr, b, "its bus address");
        let conn = self
            .abi
            .objs
            .iter()
            .copied()
            .find(|o| o.kind == Kind::Conn && !o.mc);
        if let Some(c) = conn {
            let out = self.dev_map(
                Op::DevMap,
                d.handle,
                c.handle,
                true,
                "map a connection for the device",
            );
            if out.rc == 0 {
                self.handle_op(
                    Op::SegDisconnect,
                    c.handle,
                    "disconnect it while mapped for the device (EBUSY)",
                );
                self.dev_map(
                    Op::DevUnmap,
                    d.handle,
                    c.handle,
                    true,
                    "unmap the connection",
                );
            }
        }
        self.dma_from_bar(d, s);
        if mapped.rc == 0 && self.rng.chance(3, 4) {
            self.dev_map(Op::DevUnmap, d.handle, s.handle, false, "unmap the segment");
        }
    }

    /// DMA of CAP and more of BAR0 into the start of segment `s` (a
    /// version 1 argument now and then: BAR 0 implied), waited for; what
    /// arrived is CAP.
    fn dma_from_bar(&mut self, d: Obj, s: Obj) {
        let q = match self.abi.objs.iter().find(|o| o.kind == Kind::Queue) {
            Some(q) => q.handle,
            None => {
                let out = self.handle_op(Op::DmaQueueCreate, 0, "a queue for DMA from the BAR");
                if out.rc != 0 {
                    return;
                }
                match self.mem.arg.read(out.addr + H_HANDLE as u64, 4) {
                    Some(h) => h as u32,
                    None => return,
                }
            }
        };
        let len = self
            .rng
            .pick(&[8u64, 64, 4096, 16384])
            .min(d.bar(0))
            .min(s.size);
        if len == 0 {
            return;
        }
        let entries = vec![SisciDmaEntry {
            local_offset: 0,
            remote_offset: 0,
            len,
            flags: SISCI_DMA_FROM_REMOTE,
            reserved: 0,
        }];
        let v1 = self.rng.chance(1, 4);
        let size = if v1 {
            SISCI_DMA_START_SIZE_V1
        } else {
            SISCI_DMA_START_SIZE_V2
        };
        let cmd = ioc(
            IOC_READ | IOC_WRITE,
            RSIO_IOC_MAGIC,
            ioc_nr(SISCI_IOC_DMA_START),
            size,
        );
        let mut b = vec![0u8; size];
        put(&mut b, 0, 4, size as u64);
        put(&mut b, 4, 4, SISCI_DMA_DEVICE as u64);
        put(&mut b, DS_QUEUE, 4, q as u64);
        put(&mut b, DS_LOCAL, 4, s.handle as u64);
        put(&mut b, DS_REMOTE, 4, d.handle as u64);
        put(&mut b, DS_COUNT, 4, 1);
        self.set_emb(Op::DmaStart, &mut b, Ptr::Valid);
        let out = self.exec(Call {
            cmd,
            bytes: b,
            arg: Ptr::Valid,
            emb: Some(Ptr::Valid),
            extra: entries,
            what: format!(
                "DMA {len} bytes from BAR0 into a segment (v{})",
                if v1 { 1 } else { 2 }
            ),
        });
        if out.rc != 0 {
            return;
        }
        let (mut state, mut failed_entry, mut error) = (SISCI_DMA_POSTED, 0, 0);
        for _ in 0..250 {
            let mut b = self.request(Op::DmaWait);
            put(&mut b, DW_QUEUE, 4, q as u64);
            put(&mut b, DW_TIMEOUT, 4, 20);
            let out = self.exec_request(Op::DmaWait, b, "wait for the DMA from the BAR");
            if out.rc != 0 && out.errno != libc::ETIMEDOUT {
                return;
            }
            if out.rc == 0 {
                let out_u32 = |off: usize| self.mem.arg.read(out.addr + off as u64, 4);
                state = out_u32(DW_STATE).unwrap_or(0) as u32;
                failed_entry =
                    out_u32(std::mem::offset_of!(SisciDmaWait, failed_entry)).unwrap_or(0) as u32;
                error = out_u32(std::mem::offset_of!(SisciDmaWait, error)).unwrap_or(0) as u32;
                if state != SISCI_DMA_POSTED {
                    break;
                }
            }
        }
        if state != SISCI_DMA_DONE {
            if state == SISCI_DMA_POSTED {
                self.violation("DMA of a few bytes from a BAR did not end within 5 s");
                return;
            }
            self.abi.counts.bar_dma_failed += 1;
            let e = self.abi.counts.bar_dma_errors.entry(len).or_default();
            *e = (e.0 + 1, error);
            // An NVMe drive's first page of BAR0 is registers: DMA from it
            // must work.
            let nvme = self
                .abi
                .dev_ids
                .is_some_and(|(_, class)| class == NVME_CLASS);
            if nvme && len <= PAGE as u64 {
                self.violation(&format!(
                    "DMA of {len} bytes from BAR0 of the device (its registers) ended in error {} (state {state}, entry {failed_entry})",
                    errname(error as i32)
                ));
            }
            return;
        }
        self.abi.counts.bar_dma += 1;
        // What arrived: the segment as the CPU sees it.
        let (Some(cap), Some(_)) = (self.abi.cap, self.abi.dev_ids) else {
            return;
        };
        let Ok(addr) = mapping::map(
            self.file.as_raw_fd(),
            sisci_mmap_offset(s.handle),
            PAGE,
            libc::PROT_READ,
            libc::MAP_SHARED,
        ) else {
            return;
        };
        // SAFETY: `addr` is a live read-only shared mapping of a local segment of this file (not removed: this file holds it), aligned, of a page.
        let got = unsafe { std::ptr::read_volatile(addr as *const u64) };
        let m = Mapping {
            addr,
            len: PAGE,
            handle: s.handle,
            local: true,
            readable: true,
            writable: false,
            private: false,
            dev: None,
            io: false,
        };
        mapping::unmap(&m);
        self.abi.counts.bar_dma_checked += 1;
        if got != cap {
            self.violation(&format!(
                "DMA of {len} bytes from BAR0 of the device (SISCI_DMA_DEVICE, FROM_REMOTE) completed, but the segment starts with {got:#x}, not CAP {cap:#x}"
            ));
        }
    }

    /// The device returned while its BAR is mapped and a segment is mapped
    /// for it: the mapping must then be dead (`forget` probes it), the
    /// segment free to go.
    fn return_while_mapped(&mut self, fdid: u32) {
        let Some(d) = self.a_device(fdid) else { return };
        self.map_bar0(d);
        let seg = self
            .abi
            .objs
            .iter()
            .copied()
            .find(|o| o.kind == Kind::Seg && o.prepared);
        if let Some(s) = seg {
            self.dev_map(
                Op::DevMap,
                d.handle,
                s.handle,
                false,
                "map a segment for the device",
            );
        }
        self.handle_op(
            Op::DevReturn,
            d.handle,
            "return the device with its mappings alive",
        );
        if let Some(s) = seg {
            if self.rng.chance(1, 2) {
                self.release(s, "remove the segment the device had mapped");
            }
        }
    }

    /// A forked child borrows the device (shared if this process holds
    /// it), maps BAR0, reads CAP, returns the device and reads CAP again:
    /// it must die of SIGBUS there. Skipped where the device is held
    /// exclusively here or is no NVMe drive (nothing else is read).
    fn sigbus_child(&mut self, fdid: u32) {
        let holds = self.holds();
        let nvme = self
            .abi
            .dev_ids
            .is_none_or(|(_, class)| class == NVME_CLASS);
        if holds.iter().any(|s| !s) || !nvme {
            self.abi.counts.sigbus_skipped += 1;
            return;
        }
        let shared = !holds.is_empty() || self.rng.chance(1, 2);
        let (path, cap) = (self.device.clone(), self.abi.cap);
        self.abi.counts.sigbus += 1;
        // SAFETY: the fuzzer is single-threaded; the child only makes system calls and leaves through _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            self.violation(&format!("fork failed: {}", std::io::Error::last_os_error()));
            return;
        }
        if pid == 0 {
            let code = sigbus_child_main(&path, fdid, shared, cap);
            // SAFETY: _exit ends the forked child without running the parent's cleanup.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: status is a valid int to write to; pid is our child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        let why = if rc != pid {
            Some(format!("waitpid: {}", std::io::Error::last_os_error()))
        } else if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGBUS {
            self.abi.counts.sigbus_faulted += 1;
            None
        } else if libc::WIFSIGNALED(status) {
            Some(format!("it died of signal {}", libc::WTERMSIG(status)))
        } else {
            match libc::WEXITSTATUS(status) {
                SIGBUS_SKIPPED => {
                    self.abi.counts.sigbus_skipped += 1;
                    None
                }
                c => Some(sigbus_child_failure(c)),
            }
        };
        if let Some(why) = why {
            self.violation(&format!(
                "SIGBUS child (borrow {fdid:#x} {}, map BAR0, read CAP, return, read again): {why}",
                if shared { "shared" } else { "exclusive" }
            ));
        }
    }

    /// A forked child borrows the device (shared if this process holds
    /// it), maps BAR0 and a segment for it, starts DMA from the BAR, says
    /// so through a pipe and goes on fuzzing its file: it is SIGKILLed a
    /// little later, holding all that (its file's release returns the
    /// device). Skipped where the device is held exclusively here.
    fn killed_holder(&mut self, fdid: u32) {
        let holds = self.holds();
        if holds.iter().any(|s| !s) {
            self.abi.counts.holders_skipped += 1;
            return;
        }
        let shared = !holds.is_empty() || self.rng.chance(1, 2);
        let (seed, delay) = (self.rng.next(), self.rng.below(60));
        let mut fds = [0i32; 2];
        // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            self.violation(&format!("pipe2: {}", std::io::Error::last_os_error()));
            return;
        }
        // SAFETY: pipe2 just returned these two descriptors, owned by nobody else.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: the fuzzer is single-threaded, so the child may go on running ordinary Rust code; it leaves only through _exit or SIGKILL.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            self.violation(&format!("fork failed: {}", std::io::Error::last_os_error()));
            return;
        }
        if pid == 0 {
            drop(r);
            self.holder_main(fdid, shared, seed, w);
        }
        drop(w);
        let mut byte = 0u8;
        // SAFETY: `byte` is a local byte; the read blocks until the child writes or exits.
        let n = unsafe { libc::read(r.as_raw_fd(), (&mut byte as *mut u8).cast(), 1) };
        if n == 1 {
            std::thread::sleep(Duration::from_millis(delay));
            // SAFETY: pid is our child, not reaped yet.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let mut status = 0;
        // SAFETY: status is a valid int to write to; pid is our child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        let killed =
            rc == pid && libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL;
        let skipped =
            rc == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == SIGBUS_SKIPPED;
        if n == 1 && killed {
            self.abi.counts.holders_killed += 1;
        } else if n != 1 && skipped {
            self.abi.counts.holders_skipped += 1;
        } else {
            self.violation(&format!(
                "device-holding child (borrow {fdid:#x} {}): ready {}, waitpid {rc}, status {status:#x}",
                if shared { "shared" } else { "exclusive" },
                n == 1
            ));
        }
    }

    /// The device-holding child: set up, tell the parent, fuzz until
    /// killed.
    fn holder_main(&mut self, fdid: u32, shared: bool, seed: u64, ready: OwnedFd) -> ! {
        self.child = true;
        self.rng = Rng::new(seed);
        self.verbose = false;
        self.child_reset();
        // Not killed before it says it holds the device.
        self.abi.killable = false;
        self.abi.child_first = false;
        self.file = match open_device(&self.device) {
            Ok(f) => f,
            // SAFETY: _exit ends the forked child without running the parent's cleanup.
            Err(_) => unsafe { libc::_exit(SIGBUS_SKIPPED) },
        };
        let Some(d) = self.borrow(fdid, shared, "a child to be killed borrows the device") else {
            // SAFETY: as above.
            unsafe { libc::_exit(SIGBUS_SKIPPED) };
        };
        self.map_bar0(d);
        if let Some(s) = self.new_segment(16384) {
            self.dev_map(
                Op::DevMap,
                d.handle,
                s.handle,
                false,
                "map a segment for the device",
            );
            self.dma_from_bar_unwaited(d, s);
        }
        self.abi.killable = true;
        // SAFETY: a one-byte local buffer to a pipe of ours.
        unsafe { libc::write(ready.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        loop {
            self.child_op();
        }
    }

    /// DMA from BAR0 into segment `s`, not waited for (the holder is
    /// killed with it maybe still running).
    fn dma_from_bar_unwaited(&mut self, d: Obj, s: Obj) {
        let out = self.handle_op(Op::DmaQueueCreate, 0, "a queue for DMA from the BAR");
        let Some(q) = (out.rc == 0)
            .then(|| self.mem.arg.read(out.addr + H_HANDLE as u64, 4))
            .flatten()
        else {
            return;
        };
        let len = d.bar(0).min(s.size);
        let mut b = self.request(Op::DmaStart);
        put(&mut b, 4, 4, SISCI_DMA_DEVICE as u64);
        put(&mut b, DS_QUEUE, 4, q);
        put(&mut b, DS_LOCAL, 4, s.handle as u64);
        put(&mut b, DS_REMOTE, 4, d.handle as u64);
        put(&mut b, DS_COUNT, 4, 1);
        self.set_emb(Op::DmaStart, &mut b, Ptr::Valid);
        self.exec(Call {
            cmd: SISCI_IOC_DMA_START,
            bytes: b,
            arg: Ptr::Valid,
            emb: Some(Ptr::Valid),
            extra: vec![SisciDmaEntry {
                local_offset: 0,
                remote_offset: 0,
                len,
                flags: SISCI_DMA_FROM_REMOTE,
                reserved: 0,
            }],
            what: "DMA from BAR0 the holder leaves running".into(),
        });
    }

    /// At the end, with nothing of this process holding the device: it
    /// can be borrowed exclusively again within 10 s (every borrow of the
    /// run, the killed children's too, was given back on both sides).
    fn check_device_free(&mut self) {
        let Some(fdid) = self.abi.device else { return };
        if !self.abi.rawio || self.child {
            return;
        }
        if let Some((h, _)) = self.abi.other_dev.take() {
            let mut r = SisciHandle::request();
            r.handle = h;
            // SAFETY: `r` is a live SisciHandle, the size SISCI_IOC_DEV_RETURN encodes.
            unsafe {
                libc::ioctl(
                    self.abi.other.as_raw_fd(),
                    SISCI_IOC_DEV_RETURN as libc::c_ulong,
                    &mut r,
                )
            };
        }
        let start = std::time::Instant::now();
        loop {
            if let Some(d) = self.borrow(fdid, false, "at the end: borrow the device exclusively") {
                self.release(d, "return it");
                return;
            }
            if start.elapsed() > Duration::from_secs(10) {
                self.violation(&format!(
                    "with every borrow of this process gone, {fdid:#x} cannot be borrowed exclusively for 10 s (a borrow leaked?)"
                ));
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
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
                    m.what(),
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
                    o.empty = flags & SISCI_SEG_EMPTY != 0;
                    self.abi.objs.push(o);
                }
            }
            Op::SegAttachPhys => {
                let h = v(AT_HANDLE, 4) as u32;
                self.abi.counts.attached += 1;
                if let Some(o) = self
                    .abi
                    .objs
                    .iter_mut()
                    .find(|o| o.handle == h && o.kind == Kind::Seg)
                {
                    o.empty = false;
                    o.io = true;
                    o.ioaddr = v(AT_IOADDR, 8);
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
                    // Segment ids are the node's: to this node's one, ours
                    // if we hold it.
                    o.io = !o.mc
                        && o.node == self.abi.fabric.node
                        && self
                            .abi
                            .objs
                            .iter()
                            .any(|s| s.kind == Kind::Seg && !s.mc && s.id == o.id && s.io);
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
            Op::DevBorrow => {
                if let Some(h) = new(self, DB_HANDLE) {
                    let mut o = Obj::new(h, Kind::Dev, v(DB_FDID, 4) as u32);
                    o.shared = flags & SISCI_DEV_SHARED != 0;
                    for (b, size) in o.bars.iter_mut().enumerate() {
                        *size = self.out_field(call, out, db_bar(b), 8).unwrap_or(0);
                    }
                    let mmap = self.out_field(call, out, DB_MMAP, 8).unwrap_or(0);
                    let ids = self.out_field(call, out, DB_VENDOR, 4).unwrap_or(0) as u32;
                    let class = self.out_field(call, out, DB_CLASS, 4).unwrap_or(0) as u32;
                    self.abi.objs.push(o);
                    self.check_borrow(o, mmap, ids, class);
                }
            }
            Op::DevReturn => {
                let h = v(H_HANDLE, 4) as u32;
                self.abi.dev_maps.retain(|m| m.dev != h);
                self.forget(h);
            }
            Op::DevMap => {
                let (dev, seg) = (v(DM_DEVICE, 4) as u32, v(DM_SEGMENT, 4) as u32);
                let remote = flags & SISCI_DEV_MAP_REMOTE != 0;
                let maps = &mut self.abi.dev_maps;
                match maps
                    .iter_mut()
                    .find(|m| (m.dev, m.seg, m.remote) == (dev, seg, remote))
                {
                    Some(m) => m.count += 1,
                    None => maps.push(DevMapRec {
                        dev,
                        seg,
                        remote,
                        count: 1,
                    }),
                }
            }
            Op::DevUnmap => {
                let (dev, seg) = (v(DM_DEVICE, 4) as u32, v(DM_SEGMENT, 4) as u32);
                let remote = flags & SISCI_DEV_MAP_REMOTE != 0;
                let maps = &mut self.abi.dev_maps;
                if let Some(m) = maps
                    .iter_mut()
                    .find(|m| (m.dev, m.seg, m.remote) == (dev, seg, remote))
                {
                    m.count -= 1;
                }
                maps.retain(|m| m.count > 0);
            }
            Op::SegAddr => self.check_seg_addr(call, out),
            _ => {}
        }
    }

    /// What a successful DEV_BORROW reported must hold together: the mmap
    /// offset of its handle, the ids of the first borrow, a BAR0.
    fn check_borrow(&mut self, o: Obj, mmap: u64, ids: u32, class: u32) {
        let mut bad = Vec::new();
        if mmap != sisci_mmap_offset(o.handle) {
            bad.push(format!("mmap_offset {mmap:#x}"));
        }
        if ids == u32::MAX || ids == 0 {
            bad.push(format!("vendor and device {ids:#x}"));
        }
        match self.abi.dev_ids {
            Some(first) if first != (ids, class) => {
                bad.push(format!("ids {ids:#x} class {class:#x}, first {first:x?}"))
            }
            _ => self.abi.dev_ids = Some((ids, class)),
        }
        if class == NVME_CLASS && o.bars[0] < PAGE as u64 {
            bad.push(format!(
                "an NVMe drive with a BAR0 of {:#x} bytes",
                o.bars[0]
            ));
        }
        if !bad.is_empty() {
            self.violation(&format!(
                "DEV_BORROW of {:#x} succeeded with: {} (bars {:x?})",
                o.id,
                bad.join(", "),
                o.bars
            ));
        }
    }

    /// What a successful SEG_ADDR reported: a contiguous run inside the
    /// segment from the offset, no physical address without CAP_SYS_RAWIO
    /// nor for a connection.
    fn check_seg_addr(&mut self, call: &Call<Dma>, out: &Outcome) {
        let c = &call.bytes;
        let v = |off: usize, w: usize| field(c, ioc_size(call.cmd), off, w);
        let (h, offset) = (v(SA_HANDLE, 4) as u32, v(SA_OFFSET, 8));
        let remote = get(c, 4, 4) as u32 & SISCI_DEV_MAP_REMOTE != 0;
        let kind = if remote { Kind::Conn } else { Kind::Seg };
        let Some(o) = self.obj(h, kind) else { return };
        let (Some(ioaddr), Some(phys), Some(run)) = (
            self.out_field(call, out, SA_IOADDR, 8),
            self.out_field(call, out, SA_PHYS, 8),
            self.out_field(call, out, SA_CONTIGUOUS, 8),
        ) else {
            return;
        };
        let io = !remote && o.io;
        let why = if io
            && (ioaddr != o.ioaddr.wrapping_add(offset) || run != o.size.saturating_sub(offset))
        {
            Some(format!(
                "ioaddr {ioaddr:#x}, {run:#x} contiguous bytes from {offset:#x}: device memory at {:#x}+{:#x}",
                o.ioaddr, o.size
            ))
        } else if phys != 0 && (remote || !self.abi.rawio) {
            Some(format!(
                "phys {phys:#x} (remote {remote}, CAP_SYS_RAWIO {})",
                self.abi.rawio
            ))
        } else if run == 0 || run > o.size.saturating_sub(offset) {
            Some(format!(
                "{run:#x} contiguous bytes from {offset:#x} of {:#x}",
                o.size
            ))
        } else {
            None
        };
        if let Some(why) = why {
            self.violation(&format!("SEG_ADDR of handle {h} succeeded with {why}"));
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
            let out = self.release(o, "trim the objects");
            if out.rc != 0 {
                self.abi.objs.retain(|x| x.handle != o.handle);
            }
        }
        // Big segments go at once, and devices beyond two.
        if let Some(s) = self
            .abi
            .objs
            .iter()
            .copied()
            .find(|o| o.kind == Kind::Seg && o.size > 2 << 20)
        {
            self.release(s, "remove a big segment at once");
        }
        let devs: Vec<Obj> = self
            .abi
            .objs
            .iter()
            .copied()
            .filter(|o| o.kind == Kind::Dev)
            .collect();
        if devs.len() > 2 {
            self.release(devs[0], "return the oldest device");
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
            .filter(|o| matches!(o.kind, Kind::Seg | Kind::Conn | Kind::Dev))
            .collect();
        let (handle, obj) = match self.rng.below(10) {
            0..=6 if !mapped.is_empty() => {
                let o = self.rng.pick(&mapped);
                (o.handle, Some(o))
            }
            _ => (self.some_handle(None), None),
        };
        let obj = obj.or_else(|| {
            self.abi.objs.iter().copied().find(|o| {
                o.handle == handle && matches!(o.kind, Kind::Seg | Kind::Conn | Kind::Dev)
            })
        });
        // A device: one of its BARs, mostly one that can be mapped.
        let (base, size) = match obj {
            Some(d) if d.kind == Kind::Dev => {
                let bars: Vec<u64> = (0..SISCI_DEV_NUM_BARS as u64)
                    .filter(|b| d.bar(*b) != 0)
                    .collect();
                let bar = if !bars.is_empty() && self.rng.chance(5, 6) {
                    self.rng.pick(&bars)
                } else {
                    self.rng.below(8)
                };
                (bar << SISCI_DEV_BAR_SHIFT, d.bar(bar))
            }
            Some(o) => (0, o.size),
            None => (0, 4096),
        };
        let total = mapping::pages(size).max(PAGE) as u64;
        let (within, len): (u64, usize) = match self.rng.below(8) {
            0..=3 => (base, total as usize),
            4 => {
                let p = self.rng.below(total / PAGE as u64) * PAGE as u64;
                (base + p, PAGE)
            }
            5 => (base + total, PAGE),
            6 => (base, total as usize + PAGE),
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
        self.mmap_call(offset, len, prot, private);
    }

    /// Why an mmap of `len` bytes at `offset` must fail (None: it may
    /// succeed).
    fn mmap_must_fail(&self, offset: u64, len: usize, private: bool) -> Option<String> {
        let handle = (offset >> SISCI_MMAP_SHIFT) as u32;
        let within = offset & ((1 << SISCI_MMAP_SHIFT) - 1);
        let len = len as u64;
        if !offset.is_multiple_of(PAGE as u64)
            || (offset >> SISCI_MMAP_SHIFT) >= HANDLE_LIMIT as u64
        {
            return Some("offset of no handle".into());
        }
        if private {
            return Some("MAP_PRIVATE (revocation could not reach it)".into());
        }
        if let Some(d) = self.obj(handle, Kind::Dev) {
            let bar = within >> SISCI_DEV_BAR_SHIFT;
            let off = within & ((1 << SISCI_DEV_BAR_SHIFT) - 1);
            let size = d.bar(bar);
            return if size == 0 {
                Some(format!("BAR {bar} of device {handle} cannot be mapped"))
            } else if off + len > size {
                Some(format!(
                    "{off:#x}+{len:#x} beyond BAR {bar}'s {size:#x} bytes"
                ))
            } else {
                None
            };
        }
        let obj = [Kind::Seg, Kind::Conn]
            .into_iter()
            .find_map(|k| self.obj(handle, k));
        match obj {
            None => Some(format!(
                "handle {handle} is no segment, connection or device of this file"
            )),
            Some(o) if within + len > mapping::pages(o.size) as u64 => Some(format!(
                "{within:#x}+{len:#x} beyond the object's {:#x} bytes",
                o.size
            )),
            Some(o) if o.kind == Kind::Seg && o.empty => {
                Some(format!("segment {handle} is empty (no memory)"))
            }
            Some(_) => None,
        }
    }

    /// An mmap of the fuzzed file, checked, touched and kept (the
    /// mapping, if it succeeded).
    fn mmap_call(&mut self, offset: u64, len: usize, prot: i32, private: bool) -> Option<Mapping> {
        let flags = if private {
            libc::MAP_PRIVATE
        } else {
            libc::MAP_SHARED
        };
        let must_fail = self.mmap_must_fail(offset, len, private);
        let r = mapping::map(self.file.as_raw_fd(), offset, len, prot, flags);
        let handle = (offset >> SISCI_MMAP_SHIFT) as u32;
        let within = offset & ((1 << SISCI_MMAP_SHIFT) - 1);
        let obj =
            self.abi.objs.iter().copied().find(|o| {
                o.handle == handle && matches!(o.kind, Kind::Seg | Kind::Conn | Kind::Dev)
            });
        let name = "mmap";
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
        let addr = match r {
            Err(e) if !MMAP_ERRNOS.contains(&e) => {
                self.violation(&format!(
                    "mmap: errno {} not one mmap may return\n  {what}",
                    errname(e)
                ));
                return None;
            }
            Err(_) => return None,
            Ok(addr) => addr,
        };
        let dev = obj.filter(|o| o.kind == Kind::Dev).map(|_| {
            let bar = (within >> SISCI_DEV_BAR_SHIFT) as u32;
            (bar, within & ((1 << SISCI_DEV_BAR_SHIFT) - 1))
        });
        let m = Mapping {
            addr,
            len,
            handle,
            local: obj.is_some_and(|o| o.kind == Kind::Seg),
            readable: prot & libc::PROT_READ != 0,
            writable: prot & libc::PROT_WRITE != 0,
            private,
            dev,
            io: obj.is_some_and(|o| self.hands_off(&o)),
        };
        if let Some(why) = must_fail {
            self.violation(&format!("mmap succeeded, but must fail: {why}\n  {what}"));
            mapping::unmap(&m);
            return None;
        }
        self.abi.counts.maps_ok += 1;
        self.touch(m);
        // The kernel may place a one-page mapping in the hole the
        // `Unmapped` pointer class points to: it must stay a hole.
        if (m.addr..m.addr + m.len as u64).contains(&self.mem.unmapped) {
            mapping::unmap(&m);
            return None;
        }
        self.abi.maps.push(m);
        if self.abi.maps.len() > 16 {
            let old = self.abi.maps.remove(0);
            mapping::unmap(&old);
        }
        Some(m)
    }

    /// Touches a mapping: the CPU for local segments, probes otherwise;
    /// a device's BAR only where reading has no side effect; device
    /// memory (and what may reach it) never.
    fn touch(&mut self, m: Mapping) {
        if m.io {
            // Device memory: a device's registers, maybe.
            return;
        }
        self.abi.counts.probes += 1;
        if m.dev.is_some() {
            self.touch_device(m);
            return;
        }
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

    /// Reads an NVMe drive's CAP register where the mapping starts at
    /// BAR0's first byte: the kernel (a probe: a dead mapping is EFAULT,
    /// not SIGBUS), then the CPU as a driver would (two 32-bit loads).
    /// Nothing else of a device is touched, and nothing written.
    fn touch_device(&mut self, m: Mapping) {
        let nvme = self
            .abi
            .dev_ids
            .is_some_and(|(_, class)| class == NVME_CLASS);
        if m.dev != Some((0, 0)) || !nvme || !m.readable {
            return;
        }
        let cap = match self.abi.prober.read::<8>(m.addr) {
            Ok(b) => u64::from_ne_bytes(b),
            Err(e) => {
                self.violation(&format!(
                    "a BAR mapping of a borrowed device is not readable by the kernel ({}): {m:?}",
                    errname(e)
                ));
                return;
            }
        };
        let p = m.addr as *const u32;
        // SAFETY: `p` is the start of a live, readable, shared mapping of BAR0 of a device this file borrowed (the probe above read it); CAP (offsets 0..8) is a read-only register reading has no side effect on; no Rust reference points into the mapping.
        let cpu = unsafe {
            u64::from(std::ptr::read_volatile(p))
                | u64::from(std::ptr::read_volatile(p.add(1))) << 32
        };
        self.abi.counts.cap_reads += 1;
        self.check_cap(cap, "read by the kernel");
        self.check_cap(cpu, "read by the CPU");
    }

    /// An NVMe CAP register value: never all ones (nor zero), always the
    /// same (it is read-only).
    fn check_cap(&mut self, cap: u64, how: &str) {
        let why = match self.abi.cap {
            _ if cap == u64::MAX || cap == 0 => Some(format!("{cap:#x}")),
            Some(first) if first != cap => Some(format!("{cap:#x}, first {first:#x}")),
            Some(_) => None,
            None => {
                self.abi.cap = Some(cap);
                None
            }
        };
        if let Some(why) = why {
            self.violation(&format!("the device's NVMe CAP {how}: {why}"));
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

    /// The second file: a segment and an interrupt, and sometimes a
    /// shared borrow of the device (a foreign device handle, and a holder
    /// an exclusive borrow of the fuzzed file must meet).
    fn open_other(&mut self) {
        self.abi.foreign.clear();
        let fd = self.abi.other.as_raw_fd();
        let exclusive_here = self.holds().iter().any(|s| !s);
        if let Some(fdid) = self
            .abi
            .device
            .filter(|_| self.abi.rawio && !exclusive_here)
        {
            if self.abi.other_dev.is_none() && self.rng.chance(1, 3) {
                let mut b = SisciDevBorrow::request();
                b.fdid = fdid;
                b.header.flags = SISCI_DEV_SHARED;
                // SAFETY: `b` is a live SisciDevBorrow, the size SISCI_IOC_DEV_BORROW encodes.
                if unsafe { libc::ioctl(fd, SISCI_IOC_DEV_BORROW as libc::c_ulong, &mut b) } == 0 {
                    self.abi.other_dev = Some((b.handle, true));
                }
            }
        }
        self.abi.foreign.extend(self.abi.other_dev.map(|(h, _)| h));
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

/// Exit status of a SIGBUS child that could not run its test (the borrow
/// refused, no NVMe drive, no BAR0).
const SIGBUS_SKIPPED: i32 = 20;

/// Why a SIGBUS child exited with `code`.
fn sigbus_child_failure(code: i32) -> String {
    match code {
        21 => "mmap of BAR0 failed",
        22 => "CAP read all-ones, or not what the parent read",
        23 => "DEV_RETURN failed",
        24 => "reading the returned device's BAR did not fault",
        _ => return format!("it exited with {code}"),
    }
    .into()
}

/// The SIGBUS child (a fork of the fuzzer): its exit status, unless
/// SIGBUS ends it where it must.
fn sigbus_child_main(path: &str, fdid: u32, shared: bool, cap: Option<u64>) -> i32 {
    let Ok(f) = open_device(path) else {
        return SIGBUS_SKIPPED;
    };
    let fd = f.as_raw_fd();
    let mut b = SisciDevBorrow::request();
    b.fdid = fdid;
    if shared {
        b.header.flags = SISCI_DEV_SHARED;
    }
    // SAFETY: `b` is a live SisciDevBorrow, the size SISCI_IOC_DEV_BORROW encodes.
    let rc = unsafe { libc::ioctl(fd, SISCI_IOC_DEV_BORROW as libc::c_ulong, &mut b) };
    if rc != 0 || b.class != NVME_CLASS || b.bar_size[0] < PAGE as u64 {
        return SIGBUS_SKIPPED;
    }
    let Ok(addr) = mapping::map(fd, b.mmap_offset, PAGE, libc::PROT_READ, libc::MAP_SHARED) else {
        return 21;
    };
    let p = addr as *const u32;
    let read = || {
        // SAFETY: `p` is the start of a read-only shared mapping of BAR0 of the NVMe drive this file borrowed: CAP, a read-only register reading has no side effect on. Once the device is returned the access raises SIGBUS, which is the test.
        unsafe {
            u64::from(std::ptr::read_volatile(p))
                | u64::from(std::ptr::read_volatile(p.add(1))) << 32
        }
    };
    let first = read();
    if first == u64::MAX || cap.is_some_and(|c| c != first) {
        return 22;
    }
    let mut r = SisciHandle::request();
    r.handle = b.handle;
    // SAFETY: `r` is a live SisciHandle, the size SISCI_IOC_DEV_RETURN encodes.
    if unsafe { libc::ioctl(fd, SISCI_IOC_DEV_RETURN as libc::c_ulong, &mut r) } != 0 {
        return 23;
    }
    let _ = read();
    24
}

/// CAP_SYS_RAWIO (capability 17) is in the effective set.
fn has_sys_rawio() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 17) != 0)
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
    let file = open_device(&args.path).with_context(|| format!("cannot open {}", args.path))?;
    let other = open_device(&args.path).with_context(|| format!("cannot open {}", args.path))?;
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
    let rawio = has_sys_rawio();
    let pci = PciBars::read(std::path::Path::new("/sys/bus/pci/devices"));
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
        device: args.device,
        rawio,
        dev_maps: Vec::new(),
        other_dev: None,
        parent_devs: Vec::new(),
        dev_ids: None,
        cap: None,
        child_first: false,
        spare_borrows: args.spare_borrows,
        killable: false,
        pci,
    };
    let mut fz = Fuzzer::new(&args.path, file, seed, args.run.verbose, sisci);
    fz.open_other();
    println!(
        "{}, node {} of {} (up {:#x}), peer {}, caps {:#x}, {} DMA channel(s), {} multicast group(s), {}",
        fz.intro(seed, &args.run, privileged),
        fabric.node,
        fabric.nodes,
        i.up_mask,
        fabric.peer,
        fabric.caps,
        i.dma_channels,
        fabric.mc_groups,
        match args.device {
            Some(d) if rawio => format!("device {d:#x} to borrow (CAP_SYS_RAWIO)"),
            Some(d) => format!("device {d:#x}, no CAP_SYS_RAWIO (DEV_BORROW: EPERM)"),
            None => "no device to borrow".to_string(),
        }
    );
    let bars = fz.abi.pci.candidates(PAGE as u64);
    println!(
        "{}: device memory: {}",
        <Fuzzer<Sisci> as Abi>::TOOL,
        match bars.first() {
            _ if !fz.abi.pci.known => "the PCI functions are unknown (sysfs)".to_string(),
            None => "no memory BAR of a function other than the adapter".to_string(),
            Some(b) => format!(
                "{} BAR(s) of functions other than the adapter, first {} BAR {} {:#x}+{:#x}, given to segments {:#x}..{:#x} only",
                bars.len(),
                b.function,
                b.bar,
                b.start,
                b.len,
                ATTACH_IDS.start,
                ATTACH_IDS.end
            ),
        }
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
            device: Some(0x1),
            rawio: true,
            dev_maps: Vec::new(),
            other_dev: None,
            parent_devs: Vec::new(),
            dev_ids: None,
            cap: None,
            child_first: false,
            spare_borrows: false,
            killable: false,
            pci: PciBars {
                known: true,
                bars: pci::parse_resource(
                    "0000:00:03.0",
                    "0x00000000febf0000 0x00000000febf3fff 0x0000000000040200\n",
                    false,
                )
                .into_iter()
                .chain(pci::parse_resource(
                    "0000:00:02.0",
                    "0x00000000fe000000 0x00000000fe00ffff 0x0000000000040200\n",
                    true,
                ))
                .collect(),
            },
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

    /// The fuzzer with a borrowed device 5 (BAR0 of 16 KiB, shared) and
    /// segment 1 mapped for it.
    fn with_device() -> Fuzzer<Sisci> {
        let mut fz = fuzzer();
        fz.abi.fabric.node = 1;
        fz.abi.fabric.peer = 0;
        let mut d = Obj::new(5, Kind::Dev, 0x1);
        d.bars[0] = 16384;
        d.shared = true;
        fz.abi.objs.push(d);
        fz.abi.dev_maps.push(DevMapRec {
            dev: 5,
            seg: 1,
            remote: false,
            count: 1,
        });
        fz
    }

    #[test]
    fn smartio_rules() {
        let mut fz = with_device();
        let why = |fz: &Fuzzer<Sisci>, op, edit: &dyn Fn(&mut Vec<u8>)| {
            let c = fz.call(op, |b| edit(b));
            fz.must_fail(&c)
        };
        let errno = |w: Option<String>| w.as_deref().and_then(exact_errno);
        // Removing what is mapped for a device: EBUSY.
        assert_eq!(
            errno(why(&fz, Op::SegRemove, &|b| put(b, H_HANDLE, 4, 1))),
            Some(libc::EBUSY)
        );
        assert_eq!(why(&fz, Op::SegRemove, &|b| put(b, H_HANDLE, 4, 4)), None);
        assert_eq!(why(&fz, Op::DevReturn, &|b| put(b, H_HANDLE, 4, 5)), None);
        assert!(why(&fz, Op::DevReturn, &|b| put(b, H_HANDLE, 4, 1)).is_some());
        // Borrows: shared next to a shared hold, not exclusive; EPERM
        // without CAP_SYS_RAWIO; ids of no device; outputs not zero.
        let borrow = |fz: &Fuzzer<Sisci>, fdid: u64, flags: u32| {
            why(fz, Op::DevBorrow, &|b| {
                put(b, DB_FDID, 4, fdid);
                put(b, 4, 4, flags as u64);
            })
        };
        assert_eq!(borrow(&fz, 1, SISCI_DEV_SHARED), None);
        assert_eq!(errno(borrow(&fz, 1, 0)), Some(libc::EBUSY));
        assert!(
            borrow(&fz, 0x1_0001, SISCI_DEV_SHARED).is_some(),
            "own node"
        );
        assert!(
            borrow(&fz, 0x2_0001, SISCI_DEV_SHARED).is_some(),
            "no such node"
        );
        assert!(borrow(&fz, 0, SISCI_DEV_SHARED).is_some(), "index 0");
        assert_eq!(borrow(&fz, 7, 0), None, "another device may be lent");
        assert!(why(&fz, Op::DevBorrow, &|b| {
            put(b, DB_FDID, 4, 1);
            put(b, db_bar(3), 8, 1);
        })
        .is_some());
        fz.abi.rawio = false;
        assert_eq!(errno(borrow(&fz, 1, SISCI_DEV_SHARED)), Some(libc::EPERM));
        fz.abi.rawio = true;
        // DEV_MAP: a prepared segment, page-aligned, inside; DEV_UNMAP:
        // what is mapped (ENOENT otherwise).
        let map = |fz: &Fuzzer<Sisci>, op, seg: u64, flags: u32, off: u64, size: u64| {
            why(fz, op, &|b| {
                put(b, DM_DEVICE, 4, 5);
                put(b, DM_SEGMENT, 4, seg);
                put(b, 4, 4, flags as u64);
                put(b, DM_OFFSET, 8, off);
                put(b, DM_SIZE, 8, size);
            })
        };
        assert_eq!(map(&fz, Op::DevMap, 1, 0, 0, 0), None);
        assert_eq!(map(&fz, Op::DevMap, 1, 0, 4096, 4096), None);
        assert!(map(&fz, Op::DevMap, 1, 0, 4096, 8192).is_some(), "beyond");
        assert!(map(&fz, Op::DevMap, 1, 0, 8192, 0).is_some(), "at the end");
        assert!(map(&fz, Op::DevMap, 1, 0, 1, 0).is_some(), "unaligned");
        assert!(map(&fz, Op::DevMap, 4, 0, 0, 0).is_some(), "not prepared");
        assert!(map(&fz, Op::DevMap, 1, SISCI_DEV_MAP_REMOTE, 0, 0).is_some());
        assert_eq!(map(&fz, Op::DevMap, 2, SISCI_DEV_MAP_REMOTE, 0, 0), None);
        assert_eq!(map(&fz, Op::DevUnmap, 1, 0, 1, 1), None);
        let unmapped = map(&fz, Op::DevUnmap, 2, SISCI_DEV_MAP_REMOTE, 0, 0);
        assert_eq!(errno(unmapped), Some(libc::ENOENT));
        // SEG_ADDR: inside the segment, no outputs.
        let addr = |fz: &Fuzzer<Sisci>, h: u64, flags: u32, off: u64| {
            why(fz, Op::SegAddr, &|b| {
                put(b, SA_HANDLE, 4, h);
                put(b, 4, 4, flags as u64);
                put(b, SA_OFFSET, 8, off);
            })
        };
        assert_eq!(addr(&fz, 1, 0, 8191), None);
        assert!(addr(&fz, 1, 0, 8192).is_some());
        assert!(
            addr(&fz, 2, 0, 0).is_some(),
            "a connection without the flag"
        );
        assert_eq!(addr(&fz, 2, SISCI_DEV_MAP_REMOTE, 0), None);
    }

    #[test]
    fn dma_from_a_device() {
        let fz = with_device();
        let dma = |flags: u32, remote: u64, bar: u64, e: SisciDmaEntry| {
            let mut c = fz.call(Op::DmaStart, |b| {
                put(b, 4, 4, flags as u64);
                put(b, DS_QUEUE, 4, 3);
                put(b, DS_LOCAL, 4, 1);
                put(b, DS_REMOTE, 4, remote);
                put(b, DS_COUNT, 4, 1);
                put(b, DS_BAR, 4, bar);
            });
            c.extra = vec![e];
            fz.must_fail(&c)
        };
        let e = |ro: u64, len: u64| SisciDmaEntry {
            local_offset: 0,
            remote_offset: ro,
            len,
            flags: SISCI_DMA_FROM_REMOTE,
            reserved: 0,
        };
        assert_eq!(dma(SISCI_DMA_DEVICE, 5, 0, e(8192, 8192)), None);
        assert!(
            dma(SISCI_DMA_DEVICE, 5, 0, e(12288, 8192)).is_some(),
            "beyond the BAR"
        );
        assert!(dma(SISCI_DMA_DEVICE, 5, 1, e(0, 8)).is_some(), "no BAR 1");
        assert!(
            dma(SISCI_DMA_DEVICE, 2, 0, e(0, 8)).is_some(),
            "a connection"
        );
        assert!(dma(0, 5, 0, e(0, 8)).is_some(), "a device without the flag");
        assert!(dma(0, 2, 1, e(0, 8)).is_some(), "bar without the flag");
        assert_eq!(dma(0, 2, 0, e(0, 8)), None);
    }

    #[test]
    fn multicast_groups_take_writes_and_device_maps() {
        let mut fz = with_device();
        let mut mc = Obj::new(6, Kind::Conn, 0);
        mc.size = 8192;
        mc.mc = true;
        fz.abi.objs.push(mc);
        let dma = |flags: u32| {
            let mut c = fz.call(Op::DmaStart, |b| {
                put(b, DS_QUEUE, 4, 3);
                put(b, DS_LOCAL, 4, 1);
                put(b, DS_REMOTE, 4, 6);
                put(b, DS_COUNT, 4, 1);
            });
            c.extra = vec![SisciDmaEntry {
                local_offset: 0,
                remote_offset: 4096,
                len: 4096,
                flags,
                reserved: 0,
            }];
            fz.must_fail(&c)
        };
        assert_eq!(dma(0), None);
        assert!(dma(SISCI_DMA_FROM_REMOTE).is_some(), "a read from a group");
        let map = |off: u64, size: u64| {
            fz.must_fail(&fz.call(Op::DevMap, |b| {
                put(b, 4, 4, SISCI_DEV_MAP_REMOTE as u64);
                put(b, DM_DEVICE, 4, 5);
                put(b, DM_SEGMENT, 4, 6);
                put(b, DM_OFFSET, 8, off);
                put(b, DM_SIZE, 8, size);
            }))
        };
        assert_eq!(map(0, 0), None);
        assert_eq!(map(8192, 0), None, "the empty end of a group");
        assert!(map(8192, 4096).is_some());
        assert!(map(12288, 0).is_some());
    }

    #[test]
    fn a_transfer_naming_a_device_only_reads_it() {
        let mut fz = with_device();
        for _ in 0..200 {
            let (mut b, emb, dma) = fz.valid_args(Op::DmaStart);
            put(&mut b, 4, 4, SISCI_DMA_DEVICE as u64);
            let p = emb.unwrap_or(Ptr::Valid);
            fz.set_emb(Op::DmaStart, &mut b, p);
            fz.make_safe(Op::DmaStart, &mut b);
            let c = Call {
                cmd: SISCI_IOC_DMA_START,
                bytes: b,
                arg: Ptr::Valid,
                emb: Some(p),
                extra: dma
                    .into_iter()
                    .map(|mut e| {
                        e.flags = 0;
                        e
                    })
                    .collect(),
                what: String::new(),
            };
            fz.place_extra(&c);
            fz.only_from_device(&c);
            let at = get(&c.bytes, DS_ENTRIES, 8);
            for i in 0..c.extra.len() as u64 {
                let flags = fz.mem.entries.read(at + 32 * i + 24, 4);
                assert_eq!(flags, Some(SISCI_DMA_FROM_REMOTE as u64));
            }
        }
        // Entries elsewhere: the call does not name the device.
        let mut b = fz.request(Op::DmaStart);
        put(&mut b, 4, 4, SISCI_DMA_DEVICE as u64);
        put(&mut b, DS_ENTRIES, 8, fz.mem.data.addr(0));
        fz.make_safe(Op::DmaStart, &mut b);
        assert_eq!(get(&b, 4, 4), 0);
        // Only --device is borrowed.
        let mut b = fz.request(Op::DevBorrow);
        put(&mut b, DB_FDID, 4, 2);
        fz.make_safe(Op::DevBorrow, &mut b);
        assert_eq!(get(&b, DB_FDID, 4), 0x7f02);
    }

    #[test]
    fn mmap_rules_of_a_device() {
        let fz = with_device();
        let at = |bar: u64, off: u64| sisci_mmap_offset(5) + (bar << SISCI_DEV_BAR_SHIFT) + off;
        assert_eq!(fz.mmap_must_fail(at(0, 0), 16384, false), None);
        assert_eq!(fz.mmap_must_fail(at(0, 12288), 4096, false), None);
        assert!(fz.mmap_must_fail(at(0, 12288), 8192, false).is_some());
        assert!(fz.mmap_must_fail(at(1, 0), 4096, false).is_some());
        assert!(fz.mmap_must_fail(at(7, 0), 4096, false).is_some());
        assert!(fz.mmap_must_fail(at(0, 0), 4096, true).is_some());
        assert_eq!(fz.mmap_must_fail(sisci_mmap_offset(1), 8192, false), None);
        assert!(fz
            .mmap_must_fail(sisci_mmap_offset(1), 12288, false)
            .is_some());
        assert!(fz.mmap_must_fail(1 << 63, 4096, false).is_some());
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

    /// The fuzzer with a device (see `with_device`), on node 1, and: empty
    /// segment 7 (16 KiB, an id of `ATTACH_IDS`), empty segment 8 (4 KiB,
    /// id 30), device memory 9 (4 KiB at 0xfebf1000, prepared) and
    /// connection 10 to it. BARs: 0xfebf0000+16K (a function's),
    /// 0xfe000000+64K (the adapter's).
    fn with_device_memory() -> Fuzzer<Sisci> {
        let mut fz = with_device();
        let mut e = Obj::new(7, Kind::Seg, ATTACH_IDS.start);
        e.size = 16384;
        e.empty = true;
        let mut f = Obj::new(8, Kind::Seg, 30);
        f.size = 4096;
        f.empty = true;
        let mut m = Obj::new(9, Kind::Seg, ATTACH_IDS.start + 1);
        m.size = 4096;
        m.io = true;
        m.ioaddr = 0xfebf_1000;
        m.prepared = true;
        let mut c = Obj::new(10, Kind::Conn, ATTACH_IDS.start + 1);
        c.size = 4096;
        c.io = true;
        c.node = 1;
        fz.abi.objs.extend([e, f, m, c]);
        fz
    }

    fn attach_call(fz: &Fuzzer<Sisci>, h: u64, addr: u64, size: u64) -> Call<Dma> {
        fz.call(Op::SegAttachPhys, |b| {
            put(b, AT_HANDLE, 4, h);
            put(b, AT_IOADDR, 8, addr);
            put(b, AT_SIZE, 8, size);
        })
    }

    #[test]
    fn attach_rules_in_the_kernels_order() {
        let mut fz = with_device_memory();
        let errno =
            |fz: &Fuzzer<Sisci>, c: &Call<Dma>| fz.must_fail(c).as_deref().and_then(exact_errno);
        let at = |fz: &Fuzzer<Sisci>, h, addr, size| errno(fz, &attach_call(fz, h, addr, size));
        // Inside a function's BAR: it must succeed (or run out).
        let c = attach_call(&fz, 7, 0xfebf_0000, 16384);
        assert_eq!(fz.must_fail(&c), None);
        assert!(
            matches!(fz.attach_expected(&c), Some(Attach::May(e, _)) if !e.contains(&libc::ENXIO))
        );
        assert_eq!(fz.must_fail(&attach_call(&fz, 8, 0xfebf_3000, 4096)), None);
        // EINVAL: reserved, no segment, not empty, attached, size, alignment.
        let mut r = attach_call(&fz, 7, 0xfebf_0000, 16384);
        put(&mut r.bytes, AT_RESERVED, 4, 1);
        assert_eq!(errno(&fz, &r), Some(libc::EINVAL));
        assert_eq!(
            at(&fz, 10, 0xfebf_0000, 4096),
            Some(libc::EINVAL),
            "a connection"
        );
        assert_eq!(
            at(&fz, 1, 0xfebf_0000, 8192),
            Some(libc::EINVAL),
            "not empty"
        );
        assert_eq!(
            at(&fz, 9, 0xfebf_0000, 4096),
            Some(libc::EINVAL),
            "attached"
        );
        assert_eq!(at(&fz, 7, 0xfebf_0000, 4096), Some(libc::EINVAL), "size");
        assert_eq!(at(&fz, 7, 0xfebf_0000, 16383), Some(libc::EINVAL), "size");
        assert_eq!(
            at(&fz, 7, 0xfebf_0001, 16384),
            Some(libc::EINVAL),
            "unaligned"
        );
        assert_eq!(
            at(&fz, 7, 0xfe00_0001, 16384),
            Some(libc::EINVAL),
            "unaligned"
        );
        // ENXIO: RAM, past a BAR's end, the adapter's, overflow.
        assert_eq!(at(&fz, 7, 0x10_0000, 16384), Some(libc::ENXIO));
        assert_eq!(at(&fz, 7, 0xfebf_1000, 16384), Some(libc::ENXIO));
        assert_eq!(at(&fz, 7, 0xfe00_0000, 16384), Some(libc::ENXIO));
        assert_eq!(at(&fz, 7, OUT_OF_REACH, 16384), Some(libc::ENXIO));
        // Flags: the rules every ioctl shares (no errno of its own).
        let mut f = attach_call(&fz, 7, 0xfebf_0000, 16384);
        put(&mut f.bytes, 4, 4, 1);
        assert!(fz.must_fail(&f).is_some_and(|w| exact_errnos(&w).is_none()));
        // Unknown functions: ENXIO or success.
        fz.abi.pci.known = false;
        let c = attach_call(&fz, 7, 0x10_0000, 16384);
        assert_eq!(fz.must_fail(&c), None);
        assert!(
            matches!(fz.attach_expected(&c), Some(Attach::May(e, _)) if e.contains(&libc::ENXIO))
        );
        // EPERM first of all.
        fz.abi.rawio = false;
        assert_eq!(at(&fz, 10, 1, 0), Some(libc::EPERM));
        assert_eq!(fz.attach_expected(&fz.call(Op::SegRemove, on(1, 0))), None);
    }

    #[test]
    fn empty_segments_and_device_memory() {
        let fz = with_device_memory();
        let why = |op, edit: &dyn Fn(&mut Vec<u8>)| fz.must_fail(&fz.call(op, |b| edit(b)));
        let errnos = |w: Option<String>| w.as_deref().and_then(exact_errnos);
        // An empty segment: no prepare (EINVAL), no SEG_ADDR, no DMA, no
        // mmap; DEV_MAP needs it prepared.
        let prep = why(Op::SegPrepare, &|b| put(b, H_HANDLE, 4, 7));
        assert_eq!(errnos(prep), Some(vec![libc::EINVAL]));
        assert_eq!(why(Op::SegPrepare, &|b| put(b, H_HANDLE, 4, 9)), None);
        assert!(why(Op::SegSetAvailable, &|b| put(b, H_HANDLE, 4, 7)).is_some());
        assert_eq!(why(Op::SegSetAvailable, &|b| put(b, H_HANDLE, 4, 9)), None);
        let addr = |h: u64, flags: u32, off: u64| {
            why(Op::SegAddr, &|b| {
                put(b, SA_HANDLE, 4, h);
                put(b, 4, 4, flags as u64);
                put(b, SA_OFFSET, 8, off);
            })
        };
        assert_eq!(errnos(addr(7, 0, 0)), Some(vec![libc::EINVAL]));
        assert_eq!(addr(9, 0, 4095), None);
        assert!(addr(9, 0, 4096).is_some());
        let remote = addr(10, SISCI_DEV_MAP_REMOTE, 0);
        assert_eq!(errnos(remote), Some(vec![libc::EOPNOTSUPP]));
        let map = |seg: u64, flags: u32| {
            why(Op::DevMap, &|b| {
                put(b, DM_DEVICE, 4, 5);
                put(b, DM_SEGMENT, 4, seg);
                put(b, 4, 4, flags as u64);
            })
        };
        assert!(errnos(map(9, 0)).is_some_and(|e| e.contains(&libc::EOPNOTSUPP)));
        assert!(
            errnos(map(10, SISCI_DEV_MAP_REMOTE)).is_some_and(|e| e.contains(&libc::EOPNOTSUPP))
        );
        assert!(
            map(7, 0).is_some_and(|w| exact_errnos(&w).is_none()),
            "not prepared"
        );
        assert!(fz
            .mmap_must_fail(sisci_mmap_offset(7), 4096, false)
            .is_some());
        assert_eq!(fz.mmap_must_fail(sisci_mmap_offset(9), 4096, false), None);
        let mut dma = fz.call(Op::DmaStart, |b| {
            put(b, DS_QUEUE, 4, 3);
            put(b, DS_LOCAL, 4, 7);
            put(b, DS_REMOTE, 4, 2);
            put(b, DS_COUNT, 4, 1);
        });
        dma.extra = vec![SisciDmaEntry {
            local_offset: 0,
            remote_offset: 0,
            len: 8,
            flags: 0,
            reserved: 0,
        }];
        assert!(fz.must_fail(&dma).is_some());
        // SISCI_SEG_EMPTY: not with user memory nor multicast.
        let create = |flags: u32, ua: u64| {
            why(Op::SegCreate, &|b| {
                put(b, 4, 4, flags as u64);
                put(b, SC_ID, 4, 40);
                put(b, SC_SIZE, 8, 4096);
                put(b, SC_UADDR, 8, ua);
            })
        };
        assert_eq!(create(SISCI_SEG_EMPTY, 0), None);
        assert!(create(SISCI_SEG_EMPTY, 0x1000).is_some());
        assert!(create(SISCI_SEG_EMPTY | SISCI_SEG_USER_MEMORY, 0x1000).is_some());
        assert!(create(SISCI_SEG_EMPTY | SISCI_SEG_MULTICAST, 0).is_some());
    }

    #[test]
    fn only_the_parents_attach_ids_get_a_real_bar() {
        let mut fz = with_device_memory();
        let safe = |fz: &mut Fuzzer<Sisci>, h: u64, addr: u64, size: u64| {
            let mut b = attach_call(fz, h, addr, size).bytes;
            fz.make_safe(Op::SegAttachPhys, &mut b);
            get(&b, AT_IOADDR, 8)
        };
        assert_eq!(safe(&mut fz, 7, 0xfebf_0000, 16384), 0xfebf_0000);
        assert_eq!(
            safe(&mut fz, 8, 0xfebf_0000, 4096),
            OUT_OF_REACH,
            "an id of no device memory"
        );
        assert_eq!(safe(&mut fz, 8, 0x10_0000, 4096), 0x10_0000, "RAM: ENXIO");
        assert_eq!(
            safe(&mut fz, 8, 0xfe00_0000, 4096),
            0xfe00_0000,
            "the adapter: ENXIO"
        );
        assert_eq!(safe(&mut fz, 8, 0xfebf_0001, 4096), OUT_OF_REACH | 1);
        assert_eq!(
            safe(&mut fz, 1, 0xfebf_0000, 8192),
            OUT_OF_REACH,
            "not empty"
        );
        let mut more = Obj::new(11, Kind::Seg, ATTACH_IDS.start + 2);
        more.io = true;
        fz.abi.objs.push(more);
        assert_eq!(
            safe(&mut fz, 7, 0xfebf_0000, 16384),
            OUT_OF_REACH,
            "two hold one"
        );
        fz.abi.objs.pop();
        fz.child = true;
        assert_eq!(
            safe(&mut fz, 7, 0xfebf_0000, 16384),
            OUT_OF_REACH,
            "a child"
        );
        // A child does not connect to those ids here; the parent does.
        let connect = |fz: &mut Fuzzer<Sisci>, node: u64, id: u32| {
            let mut b = fz.request(Op::SegConnect);
            put(&mut b, CO_NODE, 4, node);
            put(&mut b, CO_ID, 4, id as u64);
            fz.make_safe(Op::SegConnect, &mut b);
            get(&b, CO_ID, 4) as u32
        };
        assert!(!ATTACH_IDS.contains(&connect(&mut fz, 1, ATTACH_IDS.start)));
        assert_eq!(
            connect(&mut fz, 0, ATTACH_IDS.start),
            ATTACH_IDS.start,
            "the peer's"
        );
        fz.child = false;
        assert_eq!(connect(&mut fz, 1, ATTACH_IDS.start), ATTACH_IDS.start);
        // No transfer names device memory.
        let dma = |fz: &mut Fuzzer<Sisci>, local: u64, remote: u64| {
            let mut b = fz.request(Op::DmaStart);
            put(&mut b, DS_LOCAL, 4, local);
            put(&mut b, DS_REMOTE, 4, remote);
            fz.make_safe(Op::DmaStart, &mut b);
            (get(&b, DS_LOCAL, 4), get(&b, DS_REMOTE, 4))
        };
        assert_eq!(dma(&mut fz, 1, 2), (1, 2));
        assert_eq!(dma(&mut fz, 9, 2), (HANDLE_LIMIT as u64, 2));
        assert_eq!(dma(&mut fz, 1, 10), (1, HANDLE_LIMIT as u64));
        let mut c = Obj::new(12, Kind::Conn, ATTACH_IDS.start + 5);
        c.node = 1;
        assert!(fz.hands_off(&c), "a connection here to an id of ATTACH_IDS");
        c.node = 0;
        assert!(!fz.hands_off(&c));
        // Valid attaches stay on the empty segments, and what they pass
        // the rules may do is success or running out.
        for _ in 0..200 {
            let c = fz.valid_call(Op::SegAttachPhys, "");
            assert!(fz.must_fail(&c).is_some() || fz.attach_expected(&c).is_some());
        }
    }

    #[test]
    fn errno_sets_round_trip() {
        assert_eq!(
            exact_errno(&exact(libc::ENXIO, "x".into())),
            Some(libc::ENXIO)
        );
        let w = exact_any(&[libc::EOPNOTSUPP, libc::ENODEV], "x".into());
        assert_eq!(exact_errnos(&w), Some(vec![libc::EOPNOTSUPP, libc::ENODEV]));
        assert_eq!(exact_errno(&w), None);
        assert_eq!(exact_errnos("segment not prepared"), None);
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
