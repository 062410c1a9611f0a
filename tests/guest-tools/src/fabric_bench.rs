//! `rsio-fabric-bench <peer> [--rounds N]`: the fabric core's costs, each
//! next to the reference measured in the same run:
//!
//! - message round trip (RSIO_IOC_PING, 64-byte payload) with the peer's
//!   core;
//! - map + unmap of a 4 KiB window onto the peer (the peer's mailbox,
//!   which is open to every node and only read here);
//! - one 4-byte read through that mapping: a trapped access that crosses
//!   the fabric (the reference: what one fabric access costs);
//! - the same read on a local grant (the ioctl path without the fabric).
//!
//! Prints one line per figure and the ratios; exits 1 on any error.

use rsio_uapi::*;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::time::Instant;

fn ioctl<T>(f: &File, cmd: u32, arg: &mut T) -> std::io::Result<()> {
    // SAFETY: `arg` is an exclusive, live ABI struct of the size `cmd` encodes (each call site passes the struct its ioctl takes).
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), cmd as libc::c_ulong, arg as *mut T) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn die(what: &str, e: std::io::Error) -> ! {
    eprintln!("rsio-fabric-bench: {what}: {e}");
    std::process::exit(1);
}

fn windows(f: &File) -> Vec<RsioWindowEntry> {
    let mut entries = vec![
        RsioWindowEntry {
            id: 0,
            kind: 0,
            node: 0,
            peers: 0,
            refcount: 0,
            owner_pid: 0,
            fabric_addr: 0,
            size: 0,
            bus_addr: 0,
            hw_index: 0,
            hw_count: 0
        };
        64
    ];
    let mut l = RsioList::request();
    l.entries = entries.as_mut_ptr() as u64;
    l.capacity = entries.len() as u32;
    l.entry_size = std::mem::size_of::<RsioWindowEntry>() as u32;
    ioctl(f, RSIO_IOC_WINDOWS, &mut l).unwrap_or_else(|e| die("RSIO_IOC_WINDOWS", e));
    entries.truncate(l.count.min(l.capacity) as usize);
    entries
}

fn map(f: &File, node: u32, addr: u64, len: u64) -> u32 {
    let mut m = RsioMap::request();
    m.node = node;
    m.fabric_addr = addr;
    m.len = len;
    ioctl(f, RSIO_IOC_MAP, &mut m).unwrap_or_else(|e| die("RSIO_IOC_MAP", e));
    m.id
}

fn unmap(f: &File, id: u32) {
    let mut u = RsioId::request();
    u.id = id;
    ioctl(f, RSIO_IOC_UNMAP, &mut u).unwrap_or_else(|e| die("RSIO_IOC_UNMAP", e));
}

/// Mean ns of `rounds` 4-byte reads of window `id`.
fn read_ns(f: &File, id: u32, rounds: u32) -> f64 {
    let mut word = [0u8; 4];
    let mut io = RsioWindowIo::request();
    io.id = id;
    io.len = 4;
    io.buf = word.as_mut_ptr() as u64;
    let t = Instant::now();
    for _ in 0..rounds {
        ioctl(f, RSIO_IOC_WINDOW_IO, &mut io).unwrap_or_else(|e| die("RSIO_IOC_WINDOW_IO", e));
    }
    t.elapsed().as_nanos() as f64 / f64::from(rounds)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(peer) = args.get(1).and_then(|s| s.parse::<u32>().ok()) else {
        eprintln!("usage: rsio-fabric-bench <peer node> [--rounds N]");
        std::process::exit(2);
    };
    let rounds = match args.iter().position(|a| a == "--rounds") {
        Some(i) => args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(200),
        None => 200,
    };
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(RSIO_DEVICE_PATH)
        .unwrap_or_else(|e| die(RSIO_DEVICE_PATH, e));

    // Message round trip.
    let mut p = RsioPing::request();
    p.node = peer;
    p.count = rounds;
    p.payload_len = 64;
    ioctl(&f, RSIO_IOC_PING, &mut p).unwrap_or_else(|e| die("RSIO_IOC_PING", e));
    let rtt = p.rtt_avg_ns as f64;

    // The peer's mailbox is where ours is (the geometry is symmetric).
    let Some(mb) = windows(&f)
        .into_iter()
        .find(|w| w.kind == RSIO_WINDOW_MAILBOX)
    else {
        eprintln!("rsio-fabric-bench: no mailbox window (not the adapter transport?)");
        std::process::exit(1);
    };

    // Map + unmap.
    let t = Instant::now();
    for _ in 0..rounds {
        let id = map(&f, peer, mb.fabric_addr, 4096);
        unmap(&f, id);
    }
    let map_unmap = t.elapsed().as_nanos() as f64 / f64::from(rounds);

    // One trapped fabric read, and the same ioctl on local memory.
    let id = map(&f, peer, mb.fabric_addr, 4096);
    let remote = read_ns(&f, id, rounds);
    unmap(&f, id);
    let mut g = RsioGrant::request();
    g.peers = 1 << peer;
    g.len = 4096;
    ioctl(&f, RSIO_IOC_GRANT, &mut g).unwrap_or_else(|e| die("RSIO_IOC_GRANT", e));
    let local = read_ns(&f, g.id, rounds);

    println!("rounds: {rounds}");
    println!(
        "message round trip: {:.1} us (min {:.1}, max {:.1})",
        rtt / 1e3,
        p.rtt_min_ns as f64 / 1e3,
        p.rtt_max_ns as f64 / 1e3
    );
    println!(
        "map+unmap 4 KiB: {:.1} us ({:.0} per second)",
        map_unmap / 1e3,
        1e9 / map_unmap
    );
    println!(
        "trapped fabric read (4 B through a mapping): {:.1} us",
        remote / 1e3
    );
    println!(
        "local read (4 B of a grant, same ioctl): {:.1} us",
        local / 1e3
    );
    println!(
        "ratio message round trip / trapped read: {:.2}",
        rtt / remote
    );
    println!("ratio map+unmap / trapped read: {:.2}", map_unmap / remote);
    println!("ratio trapped read / local read: {:.2}", remote / local);
}
