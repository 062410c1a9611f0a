//! `rsio-feature-test count | hold SECONDS`: drives the ioctl that the
//! test feature module `rsio_fabric_test` owns through `/dev/rsio` (the
//! core routes feature ioctl numbers to their module): `count` checks the
//! reply and the per-file state (two files count separately); `hold` keeps
//! a file that used it open (its module cannot unload meanwhile).

use rsio_uapi::*;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;

#[repr(C)]
#[derive(Default)]
struct Count {
    size: u32,
    flags: u32,
    value: u64,
    calls: u64,
}

const IOC_COUNT: u32 = rsio_iowr(0x40, std::mem::size_of::<Count>());

fn call(f: &File, value: u64) -> std::io::Result<(u64, u64)> {
    let mut c = Count {
        size: std::mem::size_of::<Count>() as u32,
        value,
        ..Default::default()
    };
    // SAFETY: `c` is a live, exclusive 24-byte struct, the size IOC_COUNT encodes.
    let rc = unsafe {
        libc::ioctl(
            f.as_raw_fd(),
            IOC_COUNT as libc::c_ulong,
            &mut c as *mut Count,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((c.value, c.calls))
}

fn open() -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(RSIO_DEVICE_PATH)
        .unwrap_or_else(|e| {
            eprintln!("rsio-feature-test: {RSIO_DEVICE_PATH}: {e}");
            std::process::exit(1)
        })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("count") => {
            let a = open();
            let b = open();
            let r = (|| -> std::io::Result<Vec<(u64, u64)>> {
                Ok(vec![call(&a, 41)?, call(&a, 99)?, call(&b, 7)?])
            })();
            match r {
                Ok(v) => {
                    for (i, (value, calls)) in v.iter().enumerate() {
                        println!("call {}: value {value} calls {calls}", i + 1);
                    }
                    let ok = v == [(42, 1), (100, 2), (8, 1)];
                    println!(
                        "{}",
                        if ok {
                            "per-file counts: ok"
                        } else {
                            "per-file counts: WRONG"
                        }
                    );
                    std::process::exit(if ok { 0 } else { 1 });
                }
                Err(e) => {
                    println!("ioctl failed: {e}");
                    std::process::exit(1);
                }
            }
        }
        Some("hold") => {
            let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(30);
            let f = open();
            match call(&f, 1) {
                Ok((v, c)) => println!("holding: value {v} calls {c}"),
                Err(e) => {
                    println!("ioctl failed: {e}");
                    std::process::exit(1);
                }
            }
            std::thread::sleep(std::time::Duration::from_secs(secs));
        }
        _ => {
            eprintln!("usage: rsio-feature-test count | hold SECONDS");
            std::process::exit(2);
        }
    }
}
