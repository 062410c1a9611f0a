// SPDX-License-Identifier: GPL-2.0

//! PIO ping-pong latency over mapped remote segments, in Rust.
//!
//! Run `sisci-pingpong-rs -server -rn <client node>` on one node and
//! `sisci-pingpong-rs -client -rn <server node>` on the other. Each side
//! writes a counter into the other's segment and spins on its own.

use sisci::{Id, LocalSegment, RemoteSegment, Result, SegmentFlags, Sisci};
use std::time::{Duration, Instant};

const SEG_SERVER: u32 = 0x5050_0001;
const SEG_CLIENT: u32 = 0x5050_0002;
const SIZE: u64 = 4096;

struct Args {
    server: bool,
    rn: u32,
    loops: u32,
}

fn usage() -> ! {
    eprintln!("usage: sisci-pingpong-rs -server|-client -rn <remote node> [-loops N]");
    std::process::exit(2)
}

fn parse() -> Args {
    let mut a = Args {
        server: false,
        rn: u32::MAX,
        loops: 10000,
    };
    let mut role = false;
    let mut it = std::env::args().skip(1);
    while let Some(s) = it.next() {
        let mut num = || {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage())
        };
        match s.as_str() {
            "-server" => (a.server, role) = (true, true),
            "-client" => (a.server, role) = (false, true),
            "-rn" => a.rn = num(),
            "-loops" => a.loops = num(),
            _ => usage(),
        }
    }
    if !role || a.rn == u32::MAX || a.loops == 0 {
        usage()
    }
    a
}

fn run(a: &Args) -> Result<()> {
    let sd = Sisci::open()?;
    let info = sd.info()?;
    println!(
        "local node {}, remote node {}, {} round trips",
        info.node_id, a.rn, a.loops
    );
    let (mine, theirs) = if a.server {
        (SEG_SERVER, SEG_CLIENT)
    } else {
        (SEG_CLIENT, SEG_SERVER)
    };
    let flags = SegmentFlags {
        any_user: true,
        multicast: false,
    };
    let local = LocalSegment::create_with(&sd, Id::Fixed(mine), SIZE, flags)?;
    local.prepare(0)?;
    local.set_available()?;
    let lmap = local.map_all()?;
    let remote = loop {
        match RemoteSegment::connect(&sd, a.rn, theirs, Some(Duration::from_secs(1))) {
            Ok(r) => break r,
            Err(e) if [libc::ENOENT, libc::ECONNREFUSED, libc::ETIMEDOUT].contains(&e.errno()) => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(e) => return Err(e),
        }
    };
    let rmap = remote.map(0, SIZE)?;
    // Handshake: both sides see each other's segment before timing.
    rmap.write_u32(4, 1)?;
    rmap.flush();
    while lmap.read_u32(4)? != 1 {
        std::hint::spin_loop();
    }
    let start = Instant::now();
    for i in 1..=a.loops {
        if a.server {
            while lmap.read_u32(0)? != i {
                std::hint::spin_loop();
            }
            rmap.write_u32(0, i)?;
            rmap.flush();
        } else {
            rmap.write_u32(0, i)?;
            rmap.flush();
            while lmap.read_u32(0)? != i {
                std::hint::spin_loop();
            }
        }
    }
    let us = start.elapsed().as_secs_f64() * 1e6;
    println!(
        "average one-way latency: {:.3} us ({} round trips in {:.1} ms)",
        us / f64::from(a.loops) / 2.0,
        a.loops,
        us / 1000.0
    );
    // Let the peer finish reading before our segment goes away.
    std::thread::sleep(Duration::from_millis(200));
    Ok(())
}

fn main() {
    let a = parse();
    if let Err(e) = run(&a) {
        eprintln!("sisci-pingpong-rs: {e}");
        std::process::exit(1);
    }
}
