//! `rsio-abi-test`: drives /dev/rsio with malformed ioctls and checks each
//! gets the documented error (uapi/src/abi.rs), and that the device still
//! answers a good request afterwards. Prints one line per case; exits 1 if
//! any case got an unexpected result.

use rsio_uapi::*;
use std::os::fd::AsRawFd;

/// A buffer large enough for any case, 8-byte aligned.
#[repr(C, align(8))]
struct Buf([u8; 512]);

fn ioctl_raw(fd: i32, cmd: u32, ptr: *mut u8) -> Result<(), i32> {
    // SAFETY: Every pointer passed is either into a live `Buf` of 512 bytes (larger than any size encoded in the cases below) or a deliberately invalid user address that the kernel must reject with EFAULT.
    let rc = unsafe { libc::ioctl(fd, cmd as libc::c_ulong, ptr) };
    if rc < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(())
    }
}

fn request(size: u32, flags: u32, tail: u8) -> Buf {
    let mut b = Buf([0; 512]);
    b.0[0..4].copy_from_slice(&size.to_ne_bytes());
    b.0[4..8].copy_from_slice(&flags.to_ne_bytes());
    if tail != 0 {
        for x in &mut b.0[128..size as usize] {
            *x = tail;
        }
    }
    b
}

fn errname(e: i32) -> String {
    match e {
        0 => "success".into(),
        libc::ENOTTY => "ENOTTY".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::E2BIG => "E2BIG".into(),
        libc::EFAULT => "EFAULT".into(),
        e => format!("errno {e}"),
    }
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| RSIO_DEVICE_PATH.to_string());
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("rsio-abi-test: cannot open {path}: {e}");
            std::process::exit(1);
        }
    };
    let fd = file.as_raw_fd();
    let v = RSIO_IOC_VERSION;
    let nr = ioc_nr(v);
    // (name, cmd, buffer or bad pointer, expected errno; 0 = success)
    let cases: Vec<(&str, u32, Option<Buf>, usize, i32)> = vec![
        (
            "unknown ioctl number",
            rsio_iowr(0x7f, 128),
            Some(request(128, 0, 0)),
            0,
            libc::ENOTTY,
        ),
        (
            "foreign ioctl type",
            ioc(IOC_READ | IOC_WRITE, 0x42, nr, 128),
            Some(request(128, 0, 0)),
            0,
            libc::ENOTTY,
        ),
        (
            "wrong direction",
            ioc(IOC_READ, RSIO_IOC_MAGIC, nr, 128),
            Some(request(128, 0, 0)),
            0,
            libc::ENOTTY,
        ),
        (
            "size field differs from ioctl size",
            v,
            Some(request(120, 0, 0)),
            0,
            libc::EINVAL,
        ),
        (
            "struct smaller than version 1",
            rsio_iowr(nr, 64),
            Some(request(64, 0, 0)),
            0,
            libc::EINVAL,
        ),
        (
            "header-only struct",
            rsio_iowr(nr, 8),
            Some(request(8, 0, 0)),
            0,
            libc::EINVAL,
        ),
        (
            "ioctl size below the header",
            rsio_iowr(nr, 4),
            Some(request(4, 0, 0)),
            0,
            libc::EINVAL,
        ),
        (
            "undefined flags",
            v,
            Some(request(128, 1 << 31, 0)),
            0,
            libc::EINVAL,
        ),
        (
            "newer struct, non-zero tail",
            rsio_iowr(nr, 256),
            Some(request(256, 0, 0xaa)),
            0,
            libc::E2BIG,
        ),
        (
            "newer struct, zero tail",
            rsio_iowr(nr, 256),
            Some(request(256, 0, 0)),
            0,
            0,
        ),
        ("NULL argument", v, None, 0, libc::EFAULT),
        ("unmapped argument", v, None, 0x10, libc::EFAULT),
        (
            "kernel-space argument",
            v,
            None,
            0xffff_ffff_8100_0000,
            libc::EFAULT,
        ),
        (
            "good request after the bad ones",
            v,
            Some(request(128, 0, 0)),
            0,
            0,
        ),
    ];
    let mut failed = 0;
    for (name, cmd, buf, bad_ptr, want) in cases {
        let got = match buf {
            Some(mut b) => ioctl_raw(fd, cmd, b.0.as_mut_ptr()).err().unwrap_or(0),
            None => ioctl_raw(fd, cmd, bad_ptr as *mut u8).err().unwrap_or(0),
        };
        let ok = got == want;
        if !ok {
            failed += 1;
        }
        println!(
            "{} {name}: got {}, want {}",
            if ok { "ok  " } else { "FAIL" },
            errname(got),
            errname(want)
        );
    }
    println!("abi-test: {failed} unexpected");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
