//! `rsio-sisci-test smartio FDID [--shared] [--identify] [--hold S]
//! [--expect-busy]`: borrows a lent device for this process through
//! `/dev/sisci`'s raw SmartIO ioctls and checks the kernel's side of it:
//! the BAR mapping (an NVMe drive's CAP and VS registers), a segment
//! mapped for the device and, with `--identify`, an NVMe Identify
//! Controller whose data the drive DMAs into that segment (admin queues
//! in the segment too: the controller is reset, so only for a drive
//! nobody else uses). `--hold S` keeps everything for S seconds before
//! returning (for kill tests); `--expect-busy` expects the borrow to be
//! refused with `EBUSY`.

use super::{die, ename, flag, ioctl, num, open, opt, Map};
use rsio_uapi::sisci::*;
use rsio_uapi::Request;
use std::time::{Duration, Instant};

const SEG: usize = 16384;

pub(super) fn smartio(args: &[String]) {
    let fdid = args
        .first()
        .map(|s| num(s) as u32)
        .unwrap_or_else(|| die("usage: smartio FDID [--shared] [--identify] [--hold S]".into()));
    let f = open();
    let mut b = SisciDevBorrow::request();
    b.fdid = fdid;
    if flag(args, "--shared") {
        b.header.flags = SISCI_DEV_SHARED;
    }
    match ioctl(&f, SISCI_IOC_DEV_BORROW, &mut b) {
        Err(e) if flag(args, "--expect-busy") && e == libc::EBUSY => {
            println!("borrow refused: EBUSY");
            return;
        }
        Err(e) => die(format!("DEV_BORROW {fdid:#x}: {}", ename(e))),
        Ok(()) if flag(args, "--expect-busy") => die("borrow succeeded, EBUSY expected".into()),
        Ok(()) => {}
    }
    println!(
        "borrowed {fdid:#x}: {:04x}:{:04x} class {:06x} bar0 {:#x}",
        b.vendor, b.device, b.class, b.bar_size[0]
    );
    let bar_len = (b.bar_size[0] as usize).min(16384);
    let bar = Map::new(&f, b.mmap_offset, bar_len)
        .unwrap_or_else(|e| die(format!("mmap BAR0: {}", ename(e))));
    let cap = u64::from(bar.read32(0)) | (u64::from(bar.read32(4)) << 32);
    let vs = bar.read32(8);
    println!(
        "nvme cap {cap:#x} version {}.{}",
        vs >> 16,
        (vs >> 8) & 0xff
    );
    if cap == u64::MAX {
        die("BAR reads all-ones".into());
    }

    let mut c = SisciSegCreate::request();
    c.header.flags = SISCI_SEG_AUTO_ID;
    c.size = SEG as u64;
    ioctl(&f, SISCI_IOC_SEG_CREATE, &mut c)
        .unwrap_or_else(|e| die(format!("SEG_CREATE: {}", ename(e))));
    let mut h = SisciHandle::request();
    h.handle = c.handle;
    ioctl(&f, SISCI_IOC_SEG_PREPARE, &mut h)
        .unwrap_or_else(|e| die(format!("SEG_PREPARE: {}", ename(e))));
    let seg = Map::new(&f, c.mmap_offset, SEG)
        .unwrap_or_else(|e| die(format!("mmap segment: {}", ename(e))));
    let mut m = SisciDevMap::request();
    m.device = b.handle;
    m.segment = c.handle;
    ioctl(&f, SISCI_IOC_DEV_MAP, &mut m).unwrap_or_else(|e| die(format!("DEV_MAP: {}", ename(e))));
    let mut a = SisciSegAddr::request();
    a.handle = c.handle;
    ioctl(&f, SISCI_IOC_SEG_ADDR, &mut a)
        .unwrap_or_else(|e| die(format!("SEG_ADDR: {}", ename(e))));
    println!(
        "segment mapped for the device at {:#x} (bus {:#x}, phys {:#x}, {} contiguous)",
        m.ioaddr, a.ioaddr, a.phys, a.contiguous
    );
    // Removal while mapped for the device is refused.
    let mut r = SisciHandle::request();
    r.handle = c.handle;
    match ioctl(&f, SISCI_IOC_SEG_REMOVE, &mut r) {
        Err(libc::EBUSY) => println!("remove while mapped for the device: EBUSY"),
        other => die(format!("remove while mapped: {other:?}")),
    }
    if flag(args, "--identify") {
        identify(&bar, &seg, m.ioaddr);
    }
    if let Some(s) = opt(args, "--hold") {
        println!("holding {s} s");
        std::thread::sleep(Duration::from_secs(num(&s)));
    }
    let mut u = SisciDevMap::request();
    u.device = b.handle;
    u.segment = c.handle;
    ioctl(&f, SISCI_IOC_DEV_UNMAP, &mut u)
        .unwrap_or_else(|e| die(format!("DEV_UNMAP: {}", ename(e))));
    drop(bar);
    let mut h = SisciHandle::request();
    h.handle = b.handle;
    ioctl(&f, SISCI_IOC_DEV_RETURN, &mut h)
        .unwrap_or_else(|e| die(format!("DEV_RETURN: {}", ename(e))));
    println!("returned {fdid:#x}");
    drop(seg);
}

/// Resets the controller with its admin queues in the segment (SQ at 0,
/// CQ at 4 KiB) and has it identify itself into the segment at 8 KiB.
fn identify(bar: &Map, seg: &Map, ioaddr: u64) {
    let wait_rdy = |want: u32| {
        let t = Instant::now();
        while bar.read32(0x1c) & 1 != want {
            if t.elapsed() > Duration::from_secs(10) {
                die(format!("CSTS.RDY stayed {}", 1 - want));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    bar.write32(0x14, 0);
    wait_rdy(0);
    seg.slice()[..12288].fill(0);
    bar.write32(0x24, (63 << 16) | 63);
    for (reg, a) in [(0x28, ioaddr), (0x30, ioaddr + 4096)] {
        bar.write32(reg, a as u32);
        bar.write32(reg + 4, (a >> 32) as u32);
    }
    bar.write32(0x14, (4 << 20) | (6 << 16) | 1);
    wait_rdy(1);
    // Identify controller: opcode 6, CID 1, PRP1 = the data page, CNS 1.
    let data = ioaddr + 8192;
    let cmd = [
        6 | (1 << 16),
        0,
        0,
        0,
        0,
        0,
        data as u32,
        (data >> 32) as u32,
        0,
        0,
        1,
        0,
        0,
        0,
        0,
        0,
    ];
    for (i, w) in cmd.iter().enumerate() {
        seg.write32(i * 4, *w);
    }
    std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    bar.write32(0x1000, 1);
    let t = Instant::now();
    while seg.read32(4096 + 12) & (1 << 16) == 0 {
        if t.elapsed() > Duration::from_secs(10) {
            die("no completion of Identify".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let status = seg.read32(4096 + 12) >> 17;
    bar.write32(0x1004, 1);
    if status != 0 {
        die(format!("Identify failed: status {status:#x}"));
    }
    let id = &seg.slice()[8192..12288];
    let text = |r: std::ops::Range<usize>| String::from_utf8_lossy(&id[r]).trim().to_string();
    println!(
        "identify: model '{}' serial '{}'",
        text(24..64),
        text(4..24)
    );
}
