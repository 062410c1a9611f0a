//! `rsio-sisci-test`: drives `/dev/sisci` through its raw ioctls for the
//! cluster tests (the libsisci programs test the library on top). Every
//! subcommand prints what it saw, one fact per line, and exits 1 on a
//! mismatch:
//!
//! - `info`
//! - `serve ID SIZE [--any] [--user] [--fill B] [--hold S] [--expect OFF=VAL] [--unavailable-after S] [--remove-after S]`:
//!   a segment filled with byte B, available; prints its events while
//!   holding; checks a u32 a peer wrote.
//! - `connect NODE ID [--expect-fill B] [--write OFF=VAL] [--wait-event S] [--touch-after]`:
//!   maps the remote segment, checks and writes; `--wait-event` waits for
//!   an event then (`--touch-after`) touches the mapping (SIGBUS expected:
//!   printed as "sigbus").
//! - `dma NODE ID SIZES...`: DMA of each size to the remote segment and
//!   back, at unaligned offsets, checksums compared.
//! - `dma-loop NODE ID SECS`: DMA writes until one fails (prints how).
//! - `intr-serve NO COUNT [--data] [--any] [--eventfd] [--timeout MS]`: takes COUNT triggers,
//!   prints how many arrived and whether data came in order.
//! - `intr-trigger NODE NO COUNT [--data]`.
//! - `mc-join GROUP SIZE --expect OFF=VAL [--hold S]`: a multicast segment
//!   of group GROUP; waits for the value.
//! - `mc-send GROUP OFF=VAL [--dma]`: writes the value into the group (by
//!   the adapter's DMA engine with `--dma`).
//! - `smartio FDID ...`: a device borrowed by this process (sisci_test/smartio.rs).
//! - `bench NODE ID`: PIO write bandwidth into the mapped remote segment vs
//!   local memcpy, DMA bandwidth, trapped read latency vs mapped read.

#[path = "sisci_test/smartio.rs"]
mod smartio;

use rsio_uapi::sisci::*;
use rsio_uapi::Request;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

fn ioctl<T>(f: &File, cmd: u32, arg: &mut T) -> Result<(), i32> {
    // SAFETY: `arg` is an exclusive, live ABI struct of the size `cmd` encodes (each call site passes the struct its ioctl takes).
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), cmd as libc::c_ulong, arg as *mut T) };
    if rc < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(())
    }
}

fn ename(e: i32) -> String {
    let n = match e {
        libc::EINVAL => "EINVAL",
        libc::ENOENT => "ENOENT",
        libc::EEXIST => "EEXIST",
        libc::EACCES => "EACCES",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EBUSY => "EBUSY",
        libc::ERANGE => "ERANGE",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::ENOBUFS => "ENOBUFS",
        libc::ECONNRESET => "ECONNRESET",
        libc::EIO => "EIO",
        _ => return format!("errno {e}"),
    };
    n.to_string()
}

fn die(msg: String) -> ! {
    println!("FAIL {msg}");
    std::process::exit(1)
}

fn open() -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(SISCI_DEVICE_PATH)
        .unwrap_or_else(|e| die(format!("open {SISCI_DEVICE_PATH}: {e}")))
}

/// A mapping of `/dev/sisci`.
struct Map {
    ptr: *mut u8,
    len: usize,
}

impl Map {
    fn new(f: &File, offset: u64, len: usize) -> Result<Map, i32> {
        // SAFETY: Maps a fresh region of our device; the kernel checks offset and length.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                offset as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
        }
        Ok(Map { ptr: p.cast(), len })
    }

    /// Private anonymous memory (registered as a segment by `serve --user`).
    fn anonymous(len: usize) -> Map {
        // SAFETY: A fresh anonymous mapping; no file, no fixed address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            die(format!(
                "mmap anonymous: {}",
                std::io::Error::last_os_error()
            ));
        }
        Map { ptr: p.cast(), len }
    }

    fn read32(&self, off: usize) -> u32 {
        assert!(off + 4 <= self.len);
        // SAFETY: In bounds (asserted), aligned by the callers, mapped for our lifetime.
        unsafe { std::ptr::read_volatile(self.ptr.add(off).cast::<u32>()) }
    }

    fn write32(&self, off: usize, v: u32) {
        assert!(off + 4 <= self.len);
        // SAFETY: As in `read32`.
        unsafe { std::ptr::write_volatile(self.ptr.add(off).cast::<u32>(), v) }
    }

    #[allow(clippy::mut_from_ref)]
    fn slice(&self) -> &mut [u8] {
        // SAFETY: The mapping is `len` bytes, alive for our lifetime; the test programs do not alias it across threads.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: Unmaps what `new` mapped.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

fn num(s: &str) -> u64 {
    let s = s.trim();
    let (s, mul) = match s.chars().last() {
        Some('K') => (&s[..s.len() - 1], 1024),
        Some('M') => (&s[..s.len() - 1], 1 << 20),
        _ => (s, 1),
    };
    let v = if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16)
    } else {
        s.parse()
    };
    v.unwrap_or_else(|_| die(format!("bad number {s}"))) * mul
}

fn opt(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn flag(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}

fn offval(s: &str) -> (usize, u32) {
    let (o, v) = s
        .split_once('=')
        .unwrap_or_else(|| die(format!("expected OFF=VAL: {s}")));
    (num(o) as usize, num(v) as u32)
}

struct Seg {
    handle: u32,
    size: u64,
    off: u64,
}

fn create(f: &File, id: u32, size: u64, flags: u32) -> Result<Seg, i32> {
    create_at(f, id, size, flags, 0)
}

fn create_at(f: &File, id: u32, size: u64, flags: u32, user_addr: u64) -> Result<Seg, i32> {
    let mut a = SisciSegCreate::request();
    a.header.flags = flags;
    a.segment_id = id;
    a.size = size;
    a.user_addr = user_addr;
    ioctl(f, SISCI_IOC_SEG_CREATE, &mut a)?;
    let mut h = SisciHandle::request();
    h.handle = a.handle;
    ioctl(f, SISCI_IOC_SEG_PREPARE, &mut h)?;
    let mut h = SisciHandle::request();
    h.handle = a.handle;
    h.header.flags = SISCI_AVAILABLE;
    ioctl(f, SISCI_IOC_SEG_SET_AVAILABLE, &mut h)?;
    Ok(Seg {
        handle: a.handle,
        size: a.size,
        off: a.mmap_offset,
    })
}

fn connect(f: &File, node: u32, id: u32, timeout_ms: u32) -> Result<Seg, i32> {
    let mut a = SisciConnect::request();
    a.node = node;
    a.segment_id = id;
    a.timeout_ms = timeout_ms;
    ioctl(f, SISCI_IOC_SEG_CONNECT, &mut a)?;
    Ok(Seg {
        handle: a.handle,
        size: a.size,
        off: a.mmap_offset,
    })
}

fn event_name(e: u32) -> &'static str {
    match e {
        SISCI_EVENT_CONNECT => "connect",
        SISCI_EVENT_DISCONNECT => "disconnect",
        SISCI_EVENT_LOST => "lost",
        _ => "?",
    }
}

fn wait_event(f: &File, handle: u32, ms: u32) -> Result<(u32, u32), i32> {
    let mut a = SisciSegEvent::request();
    a.handle = handle;
    a.timeout_ms = ms;
    ioctl(f, SISCI_IOC_SEG_WAIT_EVENT, &mut a)?;
    Ok((a.event, a.node))
}

fn set_available(f: &File, handle: u32, on: bool) -> Result<(), i32> {
    let mut h = SisciHandle::request();
    h.handle = handle;
    h.header.flags = if on { SISCI_AVAILABLE } else { 0 };
    ioctl(f, SISCI_IOC_SEG_SET_AVAILABLE, &mut h)
}

fn serve(args: &[String]) {
    let id = num(&args[0]) as u32;
    let size = num(&args[1]);
    let f = open();
    let mut flags = if flag(args, "--any") {
        SISCI_SEG_ANY_USER
    } else {
        0
    };
    // --user: the segment is this process's own (anonymous) memory,
    // registered; the checks below then read that memory, not a mapping
    // of the device.
    let user = if flag(args, "--user") {
        flags |= SISCI_SEG_USER_MEMORY;
        Some(Map::anonymous(size as usize))
    } else {
        None
    };
    let uaddr = user.as_ref().map_or(0, |u| u.ptr as u64);
    let s = create_at(&f, id, size, flags, uaddr)
        .unwrap_or_else(|e| die(format!("create: {}", ename(e))));
    let m = match user {
        Some(u) => u,
        None => Map::new(&f, s.off, s.size as usize)
            .unwrap_or_else(|e| die(format!("mmap: {}", ename(e)))),
    };
    if let Some(b) = opt(args, "--fill") {
        m.slice().fill(num(&b) as u8);
    }
    println!("ready id={id} size={}", s.size);
    let hold = opt(args, "--hold").map_or(0, |s| num(&s));
    let unavail = opt(args, "--unavailable-after").map(|s| num(&s));
    let remove = opt(args, "--remove-after").map(|s| num(&s));
    let start = Instant::now();
    let mut removed = false;
    while start.elapsed() < Duration::from_secs(hold) {
        match wait_event(&f, s.handle, 100) {
            Ok((e, n)) => println!("event {} node {n}", event_name(e)),
            Err(libc::ETIMEDOUT) => {}
            Err(e) => die(format!("wait event: {}", ename(e))),
        }
        let t = start.elapsed().as_secs();
        if unavail.is_some_and(|u| t >= u) && !removed {
            set_available(&f, s.handle, false)
                .unwrap_or_else(|e| die(format!("unavailable: {}", ename(e))));
            println!("unavailable");
            removed = true;
        }
        if remove.is_some_and(|u| t >= u) && !removed {
            let mut h = SisciHandle::request();
            h.handle = s.handle;
            ioctl(&f, SISCI_IOC_SEG_REMOVE, &mut h)
                .unwrap_or_else(|e| die(format!("remove: {}", ename(e))));
            println!("removed");
            removed = true;
        }
    }
    if let Some(ev) = opt(args, "--expect") {
        let (o, v) = offval(&ev);
        let got = m.read32(o);
        if got != v {
            die(format!("at {o:#x}: {got:#x}, expected {v:#x}"));
        }
        println!("found {v:#x} at {o:#x}");
    }
}

extern "C" fn on_sigbus(_: libc::c_int) {
    let msg = b"sigbus\n";
    // SAFETY: write(2) and _exit(2) are async-signal-safe; the buffer is static.
    unsafe {
        libc::write(1, msg.as_ptr().cast(), msg.len());
        libc::_exit(0);
    }
}

fn connect_cmd(args: &[String]) {
    let node = num(&args[0]) as u32;
    let id = num(&args[1]) as u32;
    let f = open();
    let s = match connect(&f, node, id, 3000) {
        Ok(s) => s,
        Err(e) => {
            println!("connect: {}", ename(e));
            std::process::exit(if flag(args, "--expect-fail") { 0 } else { 1 });
        }
    };
    println!("connected size={}", s.size);
    let m =
        Map::new(&f, s.off, s.size as usize).unwrap_or_else(|e| die(format!("mmap: {}", ename(e))));
    if let Some(b) = opt(args, "--expect-fill") {
        let b = num(&b) as u8;
        if let Some(i) = m.slice().iter().position(|x| *x != b) {
            die(format!("byte {i} is {:#x}, expected {b:#x}", m.slice()[i]));
        }
        println!("all {} bytes are {b:#x}", s.size);
    }
    if let Some(w) = opt(args, "--write") {
        let (o, v) = offval(&w);
        m.write32(o, v);
        println!("wrote {v:#x} at {o:#x}");
    }
    if let Some(w) = opt(args, "--wait-event") {
        match wait_event(&f, s.handle, (num(&w) * 1000) as u32) {
            Ok((e, n)) => println!("event {} node {n}", event_name(e)),
            Err(e) => die(format!("wait event: {}", ename(e))),
        }
        if flag(args, "--touch-after") {
            // SAFETY: Installs an async-signal-safe handler (see `on_sigbus`).
            unsafe { libc::signal(libc::SIGBUS, on_sigbus as *const () as libc::sighandler_t) };
            let v = m.read32(0);
            println!("read {v:#x} (no fault)");
        }
    }
    let mut h = SisciHandle::request();
    h.handle = s.handle;
    match ioctl(&f, SISCI_IOC_SEG_DISCONNECT, &mut h) {
        Ok(()) => println!("disconnected"),
        Err(e) => die(format!("disconnect: {}", ename(e))),
    }
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3)
    })
}

struct Dma<'a> {
    f: &'a File,
    q: u32,
}

impl Dma<'_> {
    fn run(&self, local: u32, remote: u32, entries: &[SisciDmaEntry]) -> Result<SisciDmaWait, i32> {
        let mut a = SisciDmaStart::request();
        a.queue = self.q;
        a.local = local;
        a.remote = remote;
        a.count = entries.len() as u32;
        a.entries = entries.as_ptr() as u64;
        ioctl(self.f, SISCI_IOC_DMA_START, &mut a)?;
        let mut w = SisciDmaWait::request();
        w.queue = self.q;
        w.timeout_ms = 60_000;
        ioctl(self.f, SISCI_IOC_DMA_WAIT, &mut w)?;
        Ok(w)
    }
}

fn entry(l: u64, r: u64, len: u64, from_remote: bool) -> SisciDmaEntry {
    SisciDmaEntry {
        local_offset: l,
        remote_offset: r,
        len,
        flags: if from_remote {
            SISCI_DMA_FROM_REMOTE
        } else {
            0
        },
        reserved: 0,
    }
}

fn dma_cmd(args: &[String]) {
    let node = num(&args[0]) as u32;
    let id = num(&args[1]) as u32;
    let sizes: Vec<u64> = args[2..]
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(|a| num(a))
        .collect();
    let max = sizes.iter().copied().max().unwrap_or(4096);
    let f = open();
    let r = connect(&f, node, id, 3000).unwrap_or_else(|e| die(format!("connect: {}", ename(e))));
    // Local: source at 0, destination at max + 8192 (room for odd offsets).
    let span = 2 * max + 3 * 4096;
    let l = create(&f, 0x3000_0000 + std::process::id() % 0x1000, span, 0)
        .unwrap_or_else(|e| die(format!("local create: {}", ename(e))));
    let lm =
        Map::new(&f, l.off, l.size as usize).unwrap_or_else(|e| die(format!("mmap: {}", ename(e))));
    let mut h = SisciHandle::request();
    ioctl(&f, SISCI_IOC_DMA_QUEUE_CREATE, &mut h)
        .unwrap_or_else(|e| die(format!("queue: {}", ename(e))));
    let dma = Dma { f: &f, q: h.handle };
    let mut seed = 0x1234_5678u32;
    for (k, &size) in sizes.iter().enumerate() {
        if size + 8192 > r.size {
            die(format!("size {size} does not fit the remote segment"));
        }
        let (lo, ro) = (1 + (k as u64 * 7) % 61, 3 + (k as u64 * 13) % 97);
        let lo2 = max + 4096 + 5;
        let buf = lm.slice();
        for b in &mut buf[lo as usize..(lo + size) as usize] {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *b = (seed >> 16) as u8;
        }
        buf[lo2 as usize..(lo2 + size) as usize].fill(0);
        let t = Instant::now();
        let w = dma
            .run(l.handle, r.handle, &[entry(lo, ro, size, false)])
            .unwrap_or_else(|e| die(format!("dma out: {}", ename(e))));
        if w.state != SISCI_DMA_DONE {
            die(format!(
                "dma out of {size}: state {} entry {} error {}",
                w.state,
                w.failed_entry,
                ename(w.error as i32)
            ));
        }
        let w = dma
            .run(l.handle, r.handle, &[entry(lo2, ro, size, true)])
            .unwrap_or_else(|e| die(format!("dma in: {}", ename(e))));
        if w.state != SISCI_DMA_DONE {
            die(format!(
                "dma in of {size}: state {} entry {} error {}",
                w.state,
                w.failed_entry,
                ename(w.error as i32)
            ));
        }
        let el = t.elapsed();
        let a = fnv(&buf[lo as usize..(lo + size) as usize]);
        let b = fnv(&buf[lo2 as usize..(lo2 + size) as usize]);
        if a != b {
            die(format!(
                "size {size}: checksum {a:016x} sent, {b:016x} back"
            ));
        }
        println!("dma {size} bytes local+{lo} -> remote+{ro} -> local+{lo2}: checksum {a:016x} match ({:.1} ms)", el.as_secs_f64() * 1e3);
    }
    // A vectored transfer: 3 pieces out, one back.
    let buf = lm.slice();
    for (i, b) in buf[..3 * 4096].iter_mut().enumerate() {
        *b = (i * 7 % 251) as u8;
    }
    let v = [
        entry(0, 100, 4096, false),
        entry(4096, 100 + 4096, 4096, false),
        entry(8192, 100 + 8192, 4096, false),
    ];
    let w = dma
        .run(l.handle, r.handle, &v)
        .unwrap_or_else(|e| die(format!("dma vec: {}", ename(e))));
    let w2 = dma
        .run(
            l.handle,
            r.handle,
            &[entry(max + 4096, 100, 3 * 4096, true)],
        )
        .unwrap_or_else(|e| die(format!("dma vec in: {}", ename(e))));
    let same = buf[..3 * 4096] == buf[(max + 4096) as usize..(max + 4096 + 3 * 4096) as usize];
    if w.state != SISCI_DMA_DONE || w2.state != SISCI_DMA_DONE || !same {
        die("vectored transfer".to_string());
    }
    println!("dma vector of 3 entries: match");
    // Bad offsets: refused before anything starts.
    let bad = dma.run(l.handle, r.handle, &[entry(0, r.size - 10, 64, false)]);
    println!(
        "dma beyond the remote segment: {}",
        bad.map_or_else(ename, |_| "ok".into())
    );
    let bad = dma.run(l.handle, r.handle, &[entry(l.size, 0, 1, false)]);
    println!(
        "dma beyond the local segment: {}",
        bad.map_or_else(ename, |_| "ok".into())
    );
}

/// Loops 64 MiB DMA writes into `(node, id)` for up to SECS seconds, until
/// one fails: prints how (the owner going away mid-transfer must end in a
/// clean per-transfer error, not a hang).
fn dma_loop(args: &[String]) {
    let node = num(&args[0]) as u32;
    let id = num(&args[1]) as u32;
    let secs = num(&args[2]);
    let f = open();
    let r = connect(&f, node, id, 3000).unwrap_or_else(|e| die(format!("connect: {}", ename(e))));
    let size = r.size.min(64 << 20);
    let l = create(&f, 0x3100_0000 + std::process::id() % 0x1000, size, 0)
        .unwrap_or_else(|e| die(format!("local create: {}", ename(e))));
    let mut h = SisciHandle::request();
    ioctl(&f, SISCI_IOC_DMA_QUEUE_CREATE, &mut h)
        .unwrap_or_else(|e| die(format!("queue: {}", ename(e))));
    let dma = Dma { f: &f, q: h.handle };
    println!("looping");
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        match dma.run(l.handle, r.handle, &[entry(0, 0, size, false)]) {
            Ok(w) if w.state == SISCI_DMA_DONE => n += 1,
            Ok(w) => {
                println!(
                    "dma failed after {n} transfers: entry {} error {}",
                    w.failed_entry,
                    ename(w.error as i32)
                );
                return;
            }
            Err(e) => {
                println!("dma refused after {n} transfers: {}", ename(e));
                return;
            }
        }
    }
    println!("dma still running after {n} transfers");
}

fn intr_serve(args: &[String]) {
    let no = num(&args[0]) as u32;
    let count = num(&args[1]);
    let data = flag(args, "--data");
    let timeout = opt(args, "--timeout").map_or(10_000, |s| num(&s)) as u32;
    let f = open();
    let mut a = SisciIntrCreate::request();
    a.header.flags = if data { SISCI_INTR_DATA } else { 0 };
    if flag(args, "--any") {
        a.header.flags |= SISCI_SEG_ANY_USER;
    }
    a.intr_no = no;
    ioctl(&f, SISCI_IOC_INTR_CREATE, &mut a)
        .unwrap_or_else(|e| die(format!("create: {}", ename(e))));
    // --eventfd: wait in poll(2) on an eventfd the kernel signals, then
    // take the triggers without blocking.
    let efd = flag(args, "--eventfd").then(|| {
        // SAFETY: eventfd(2) with no pointer arguments.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK) };
        if fd < 0 {
            die("eventfd".into());
        }
        let mut e = SisciIntrEventfd::request();
        e.handle = a.handle;
        e.fd = fd;
        ioctl(&f, SISCI_IOC_INTR_EVENTFD, &mut e)
            .unwrap_or_else(|e| die(format!("eventfd: {}", ename(e))));
        fd
    });
    let mut polls = 0u64;
    println!("ready intr {no}");
    let mut got = 0u64;
    let mut in_order = true;
    let mut buf = [0u8; 128];
    while got < count {
        if let Some(fd) = efd {
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: One valid pollfd for the call.
            let n = unsafe { libc::poll(&mut p, 1, timeout as i32) };
            if n <= 0 {
                println!("poll: timeout after {got}");
                break;
            }
            let mut v = 0u64;
            // SAFETY: Reads the eventfd's 8-byte counter into `v`.
            unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
            polls += 1;
            // Take every trigger the counter announced.
            for _ in 0..v {
                let mut w = SisciIntrWait::request();
                w.handle = a.handle;
                w.header.flags = SISCI_NONBLOCK;
                w.buf = buf.as_mut_ptr() as u64;
                w.buf_len = buf.len() as u32;
                if ioctl(&f, SISCI_IOC_INTR_WAIT, &mut w).is_ok() {
                    got += 1;
                }
            }
            continue;
        }
        let mut w = SisciIntrWait::request();
        w.handle = a.handle;
        w.timeout_ms = timeout;
        w.buf = buf.as_mut_ptr() as u64;
        w.buf_len = buf.len() as u32;
        match ioctl(&f, SISCI_IOC_INTR_WAIT, &mut w) {
            Ok(()) => {}
            Err(e) => {
                println!("wait: {} after {got}", ename(e));
                break;
            }
        }
        if data {
            let text = String::from_utf8_lossy(&buf[..w.len as usize]).to_string();
            if text != format!("msg {got}") {
                in_order = false;
                println!("out of order: got '{text}' expected 'msg {got}'");
            }
        }
        got += 1;
    }
    // Anything more than COUNT would be a duplicate.
    let mut w = SisciIntrWait::request();
    w.handle = a.handle;
    w.header.flags = SISCI_NONBLOCK;
    w.buf = buf.as_mut_ptr() as u64;
    w.buf_len = buf.len() as u32;
    let extra = ioctl(&f, SISCI_IOC_INTR_WAIT, &mut w).is_ok();
    if efd.is_some() {
        println!("eventfd: {polls} wakeups");
    }
    println!(
        "received {got} of {count}{}{}",
        if data && in_order { ", in order" } else { "" },
        if extra { ", EXTRA" } else { "" }
    );
}

fn intr_trigger(args: &[String]) {
    let node = num(&args[0]) as u32;
    let no = num(&args[1]) as u32;
    let count = num(&args[2]);
    let data = flag(args, "--data");
    let f = open();
    let mut a = SisciIntrConnect::request();
    a.header.flags = if data { SISCI_INTR_DATA } else { 0 };
    a.node = node;
    a.intr_no = no;
    a.timeout_ms = 3000;
    ioctl(&f, SISCI_IOC_INTR_CONNECT, &mut a)
        .unwrap_or_else(|e| die(format!("connect: {}", ename(e))));
    let mut retries = 0u64;
    for i in 0..count {
        let msg = format!("msg {i}");
        loop {
            let mut t = SisciIntrTrigger::request();
            t.handle = a.handle;
            if data {
                t.len = msg.len() as u32;
                t.data = msg.as_ptr() as u64;
            }
            match ioctl(&f, SISCI_IOC_INTR_TRIGGER, &mut t) {
                Ok(()) => break,
                Err(libc::ENOBUFS) | Err(libc::EAGAIN) => {
                    retries += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => die(format!("trigger {i}: {}", ename(e))),
            }
        }
    }
    println!("triggered {count} (retries {retries})");
}

fn bench(args: &[String]) {
    let node = num(&args[0]) as u32;
    let id = num(&args[1]) as u32;
    let f = open();
    let r = connect(&f, node, id, 3000).unwrap_or_else(|e| die(format!("connect: {}", ename(e))));
    let rm =
        Map::new(&f, r.off, r.size as usize).unwrap_or_else(|e| die(format!("mmap: {}", ename(e))));
    let size = r.size as usize;
    let src = vec![0x5au8; size];
    let mut local = vec![0u8; size];
    let rounds = 8;
    let t = Instant::now();
    for _ in 0..rounds {
        local.copy_from_slice(&src);
        std::hint::black_box(&mut local);
    }
    let memcpy = (size * rounds) as f64 / t.elapsed().as_secs_f64() / 1e6;
    let t = Instant::now();
    for _ in 0..rounds {
        rm.slice().copy_from_slice(&src);
    }
    let pio = (size * rounds) as f64 / t.elapsed().as_secs_f64() / 1e6;
    println!("local memcpy {memcpy:.0} MB/s");
    println!(
        "pio write into remote segment {pio:.0} MB/s ratio {:.2}",
        pio / memcpy
    );
}

fn mc_join(args: &[String]) {
    let group = num(&args[0]) as u32;
    let size = num(&args[1]);
    let f = open();
    let mut a = SisciSegCreate::request();
    a.header.flags = SISCI_SEG_MULTICAST;
    a.segment_id = group;
    a.size = size;
    ioctl(&f, SISCI_IOC_SEG_CREATE, &mut a)
        .unwrap_or_else(|e| die(format!("create: {}", ename(e))));
    let m = Map::new(&f, a.mmap_offset, a.size as usize)
        .unwrap_or_else(|e| die(format!("mmap: {}", ename(e))));
    println!("joined group {group} size={}", a.size);
    let (o, v) = offval(&opt(args, "--expect").unwrap_or_else(|| die("--expect OFF=VAL".into())));
    let hold = opt(args, "--hold").map_or(10, |s| num(&s));
    let start = Instant::now();
    while m.read32(o) != v && start.elapsed() < Duration::from_secs(hold) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = m.read32(o);
    if got != v {
        die(format!(
            "group {group}: {got:#x} at {o:#x}, expected {v:#x}"
        ));
    }
    println!("received {v:#x} at {o:#x}");
}

fn mc_send(args: &[String]) {
    let group = num(&args[0]) as u32;
    let (o, v) = offval(&args[1]);
    let f = open();
    let mut a = SisciConnect::request();
    a.header.flags = SISCI_SEG_MULTICAST;
    a.segment_id = group;
    a.size = 64 * 1024;
    ioctl(&f, SISCI_IOC_SEG_CONNECT, &mut a)
        .unwrap_or_else(|e| die(format!("connect: {}", ename(e))));
    if flag(args, "--dma") {
        // The adapter's DMA engine writes the value into the group.
        let l = create(&f, 0, 4096, SISCI_SEG_AUTO_ID)
            .unwrap_or_else(|e| die(format!("segment: {}", ename(e))));
        let lm = Map::new(&f, l.off, 4096).unwrap_or_else(|e| die(format!("mmap: {}", ename(e))));
        lm.write32(0, v);
        let mut h = SisciHandle::request();
        ioctl(&f, SISCI_IOC_DMA_QUEUE_CREATE, &mut h)
            .unwrap_or_else(|e| die(format!("queue: {}", ename(e))));
        let dma = Dma { f: &f, q: h.handle };
        // A group cannot be read.
        match dma.run(l.handle, a.handle, &[entry(0, o as u64, 4, true)]) {
            Err(libc::EINVAL) => println!("DMA read from the group: EINVAL"),
            r => die(format!("DMA read from a group: {r:?}")),
        }
        let w = dma
            .run(l.handle, a.handle, &[entry(0, o as u64, 4, false)])
            .unwrap_or_else(|e| die(format!("DMA into the group: {}", ename(e))));
        if w.state != SISCI_DMA_DONE {
            die(format!(
                "DMA into the group: state {} error {}",
                w.state, w.error
            ));
        }
        println!("sent {v:#x} at {o:#x} to group {group} by DMA");
        return;
    }
    let m = Map::new(&f, a.mmap_offset, a.size as usize)
        .unwrap_or_else(|e| die(format!("mmap: {}", ename(e))));
    m.write32(o, v);
    println!("sent {v:#x} at {o:#x} to group {group}");
}

fn info() {
    let f = open();
    let mut a = SisciInfo::request();
    ioctl(&f, SISCI_IOC_INFO, &mut a).unwrap_or_else(|e| die(format!("info: {}", ename(e))));
    println!(
        "node {} nodes {} up {:#x} caps {:#x} dma_channels {} mc_groups {}",
        a.node_id, a.num_nodes, a.up_mask, a.caps, a.dma_channels, a.mc_groups
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        die(
            "usage: rsio-sisci-test info|serve|connect|dma|intr-serve|intr-trigger|bench ..."
                .into(),
        )
    };
    let rest = &args[1..];
    match cmd.as_str() {
        "info" => info(),
        "serve" => serve(rest),
        "connect" => connect_cmd(rest),
        "dma" => dma_cmd(rest),
        "dma-loop" => dma_loop(rest),
        "intr-serve" => intr_serve(rest),
        "intr-trigger" => intr_trigger(rest),
        "bench" => bench(rest),
        "mc-join" => mc_join(rest),
        "mc-send" => mc_send(rest),
        "smartio" => smartio::smartio(rest),
        _ => die(format!("unknown command {cmd}")),
    }
}
