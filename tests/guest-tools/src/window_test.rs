//! `rsio-window-test <peer>`: the fabric core's window rules through the
//! ioctls, case by case (one line each, "ok" or "FAIL"), exit 1 on any
//! failure:
//!
//! - a mapping inside another shares its LUT slots (reference count in
//!   the listing), an identical one too; a partial overlap is EEXIST;
//! - mapping until the LUT is exhausted ends in ENOSPC, and unmapping
//!   gives every slot back; granting until the inbound windows are
//!   exhausted ends in ENOSPC, revoking gives them back;
//! - bad requests: this node, zero or unaligned lengths, a range crossing
//!   a window, unknown ids, I/O beyond a window or misaligned on a
//!   mapping: EINVAL or ENOENT;
//! - translation: a mapping's bus address is its first slot's plus the
//!   offset of the range in it.
//!
//! Mappings need no grant (the peer checks accesses, not mappings): the
//! test maps the peer's window 20 and never accesses it.

use rsio_uapi::*;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;

fn ioctl<T>(f: &File, cmd: u32, arg: &mut T) -> Result<(), i32> {
    // SAFETY: `arg` is an exclusive, live ABI struct of the size `cmd` encodes (each call site passes the struct its ioctl takes).
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), cmd as libc::c_ulong, arg as *mut T) };
    if rc < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(())
    }
}

fn name(e: i32) -> &'static str {
    match e {
        0 => "ok",
        libc::EINVAL => "EINVAL",
        libc::EEXIST => "EEXIST",
        libc::ENOSPC => "ENOSPC",
        libc::ENOENT => "ENOENT",
        libc::ENOMEM => "ENOMEM",
        _ => "other errno",
    }
}

struct T {
    f: File,
    peer: u32,
    me: u32,
    failures: u32,
}

impl T {
    fn check(&mut self, what: &str, got: Result<(), i32>, want: i32) {
        let g = got.err().unwrap_or(0);
        if g == want {
            println!("ok   {what}: {}", name(g));
        } else {
            println!("FAIL {what}: got {} ({g}), want {}", name(g), name(want));
            self.failures += 1;
        }
    }

    fn map(&self, node: u32, addr: u64, len: u64) -> Result<RsioMap, i32> {
        let mut m = RsioMap::request();
        m.node = node;
        m.fabric_addr = addr;
        m.len = len;
        ioctl(&self.f, RSIO_IOC_MAP, &mut m).map(|()| m)
    }

    fn id(&self, cmd: u32, id: u32) -> Result<(), i32> {
        let mut a = RsioId::request();
        a.id = id;
        ioctl(&self.f, cmd, &mut a)
    }

    fn windows(&self) -> Vec<RsioWindowEntry> {
        let zero = RsioWindowEntry {
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
            hw_count: 0,
        };
        let mut v = vec![zero; 256];
        let mut l = RsioList::request();
        l.entries = v.as_mut_ptr() as u64;
        l.capacity = v.len() as u32;
        l.entry_size = std::mem::size_of::<RsioWindowEntry>() as u32;
        if ioctl(&self.f, RSIO_IOC_WINDOWS, &mut l).is_err() {
            return Vec::new();
        }
        v.truncate(l.count.min(l.capacity) as usize);
        v
    }

    fn status(&self) -> RsioStatus {
        let mut s = RsioStatus::request();
        let _ = ioctl(&self.f, RSIO_IOC_STATUS, &mut s);
        s
    }
}

const W: u64 = 20 << 32;
const MIB: u64 = 1 << 20;

fn main() {
    let Some(peer) = std::env::args().nth(1).and_then(|s| s.parse().ok()) else {
        eprintln!("usage: rsio-window-test <peer node>");
        std::process::exit(2);
    };
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(RSIO_DEVICE_PATH)
        .unwrap_or_else(|e| {
            eprintln!("rsio-window-test: {RSIO_DEVICE_PATH}: {e}");
            std::process::exit(1);
        });
    let mut t = T {
        f,
        peer,
        me: 0,
        failures: 0,
    };
    t.me = t.status().node_id;
    let p = t.peer;

    // Sharing.
    let outer = t.map(p, W, 4 * MIB);
    t.check("map 4 MiB", outer.map(|_| ()), 0);
    let outer = outer.unwrap_or(RsioMap::request());
    let inner = t.map(p, W + MIB, MIB);
    t.check("map 1 MiB inside it", inner.map(|_| ()), 0);
    let inner = inner.unwrap_or(RsioMap::request());
    let same = t.map(p, W, 4 * MIB);
    t.check("map the same range again", same.map(|_| ()), 0);
    let same = same.unwrap_or(RsioMap::request());
    let ws = t.windows();
    let refs: Vec<u32> = ws
        .iter()
        .filter(|w| w.kind == RSIO_WINDOW_MAP)
        .map(|w| w.refcount)
        .collect();
    let shared = refs == [3, 3, 3]
        && ws.iter().filter(|w| w.kind == RSIO_WINDOW_MAP).all(|w| {
            w.hw_index
                == ws
                    .iter()
                    .find(|x| x.id == outer.id)
                    .map_or(u32::MAX, |x| x.hw_index)
        });
    t.check(
        "the three share one set of slots (refcount 3)",
        if shared { Ok(()) } else { Err(-1) },
        0,
    );
    let bus_ok = inner.bus_addr == outer.bus_addr + MIB && same.bus_addr == outer.bus_addr;
    t.check(
        "bus address of the inner one = outer's + 1 MiB",
        if bus_ok { Ok(()) } else { Err(-1) },
        0,
    );
    t.check(
        "partial overlap",
        t.map(p, W + 3 * MIB, 2 * MIB).map(|_| ()),
        libc::EEXIST,
    );
    t.check(
        "adjacent range: its own slots",
        t.map(p, W + 4 * MIB, 4096).map(|m| {
            let _ = t.id(RSIO_IOC_UNMAP, m.id);
        }),
        0,
    );
    for id in [inner.id, same.id] {
        t.check("unmap a sharer", t.id(RSIO_IOC_UNMAP, id), 0);
    }
    let refs: Vec<u32> = t
        .windows()
        .iter()
        .filter(|w| w.kind == RSIO_WINDOW_MAP)
        .map(|w| w.refcount)
        .collect();
    t.check(
        "the last one holds the slots alone (refcount 1)",
        if refs == [1] { Ok(()) } else { Err(-1) },
        0,
    );
    t.check("unmap it", t.id(RSIO_IOC_UNMAP, outer.id), 0);
    t.check(
        "unmap it again",
        t.id(RSIO_IOC_UNMAP, outer.id),
        libc::ENOENT,
    );

    // Exhaustion: 2 MiB maps take one slot each.
    let before = t.status();
    let mut ids = Vec::new();
    let mut last = Ok(());
    for i in 0..=u64::from(before.lut_total) {
        match t.map(p, W + i * 2 * MIB, 2 * MIB) {
            Ok(m) => ids.push(m.id),
            Err(e) => {
                last = Err(e);
                break;
            }
        }
    }
    let free = before.lut_total - before.lut_used;
    println!("     mapped {} of {} free LUT slots", ids.len(), free);
    t.check("mapping beyond the free LUT slots", last, libc::ENOSPC);
    t.check(
        "every free slot was usable",
        if ids.len() as u32 == free {
            Ok(())
        } else {
            Err(-1)
        },
        0,
    );
    for id in ids {
        let _ = t.id(RSIO_IOC_UNMAP, id);
    }
    let after = t.status();
    t.check(
        "unmapping gave every slot back",
        if after.lut_used == before.lut_used {
            Ok(())
        } else {
            Err(-1)
        },
        0,
    );

    let mut gids = Vec::new();
    let mut last = Ok(());
    for _ in 0..=before.inbound_total {
        let mut g = RsioGrant::request();
        g.peers = 1 << p;
        g.len = 4096;
        match ioctl(&t.f, RSIO_IOC_GRANT, &mut g) {
            Ok(()) => gids.push(g.id),
            Err(e) => {
                last = Err(e);
                break;
            }
        }
    }
    println!("     granted {} inbound windows", gids.len());
    t.check(
        "granting beyond the free inbound windows",
        last,
        libc::ENOSPC,
    );
    for id in gids {
        let _ = t.id(RSIO_IOC_REVOKE, id);
    }
    t.check(
        "revoking gave every window back",
        if t.status().inbound_used == before.inbound_used {
            Ok(())
        } else {
            Err(-1)
        },
        0,
    );

    // Bad requests.
    t.check(
        "map this node",
        t.map(t.me, W, 4096).map(|_| ()),
        libc::EINVAL,
    );
    t.check(
        "map a node beyond the fabric",
        t.map(16, W, 4096).map(|_| ()),
        libc::EINVAL,
    );
    t.check("map 0 bytes", t.map(p, W, 0).map(|_| ()), libc::EINVAL);
    t.check(
        "map an unaligned length",
        t.map(p, W, 100).map(|_| ()),
        libc::EINVAL,
    );
    t.check(
        "map an unaligned address",
        t.map(p, W + 8, 4096).map(|_| ()),
        libc::EINVAL,
    );
    t.check(
        "map across a window's end",
        t.map(p, W + (1 << 32) - 4096, 8192).map(|_| ()),
        libc::EINVAL,
    );
    t.check(
        "map more than 64 MiB",
        t.map(p, W, 128 * MIB).map(|_| ()),
        libc::EINVAL,
    );
    t.check(
        "unmap an id never given",
        t.id(RSIO_IOC_UNMAP, 0x7fff_0000),
        libc::ENOENT,
    );
    t.check(
        "revoke an id never given",
        t.id(RSIO_IOC_REVOKE, 0x7fff_0000),
        libc::ENOENT,
    );
    let m = t.map(p, W, 8192).unwrap_or(RsioMap::request());
    t.check(
        "revoke a mapping's id",
        t.id(RSIO_IOC_REVOKE, m.id),
        libc::ENOENT,
    );
    let mut word = [0u8; 8];
    let mut io = RsioWindowIo::request();
    io.id = m.id;
    io.buf = word.as_mut_ptr() as u64;
    io.offset = 8192 - 4;
    io.len = 8;
    t.check(
        "I/O beyond the mapping",
        ioctl(&t.f, RSIO_IOC_WINDOW_IO, &mut io),
        libc::EINVAL,
    );
    io.offset = 2;
    io.len = 4;
    t.check(
        "misaligned I/O on a mapping",
        ioctl(&t.f, RSIO_IOC_WINDOW_IO, &mut io),
        libc::EINVAL,
    );
    io.offset = 0;
    io.len = 0;
    t.check(
        "I/O of 0 bytes",
        ioctl(&t.f, RSIO_IOC_WINDOW_IO, &mut io),
        libc::EINVAL,
    );
    let _ = t.id(RSIO_IOC_UNMAP, m.id);

    if t.failures > 0 {
        println!("rsio-window-test: {} failure(s)", t.failures);
        std::process::exit(1);
    }
    println!("rsio-window-test: all passed");
}
