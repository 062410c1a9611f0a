//! A guest-side helper for trying emulated devices by hand: maps a PCI
//! BAR through its sysfs `resourceN` file (the guest kernel has no
//! `/dev/mem`) and reads, writes or times accesses to it.
//!
//! ```text
//! guest_mmio /sys/bus/pci/devices/0000:00:02.0/resource0 read32 0x4
//! guest_mmio .../resource0 write32 0x0 0xc0ffee42
//! guest_mmio .../resource0 bench-read32 0x0 1000   # timed loop of loads
//! guest_mmio .../resource2 bench-copy 1048576      # timed bulk read
//! ```
//!
//! Built static (`RUSTFLAGS=-Ctarget-feature=+crt-static`) so that it runs
//! in the minimal guest; emu/tests/qemu/run-dummy.sh shows how it gets there
//! (an extra initramfs part).

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::Instant;

fn parse(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// A shared mapping of a whole resource file.
struct Bar {
    base: *mut u8,
    len: usize,
}

impl Bar {
    fn map(path: &str) -> std::io::Result<Bar> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let len = file.metadata()?.len() as usize;
        // The mapping is checked for failure and only accessed with volatile
        // loads and stores below.
        // SAFETY: mmap of a fresh shared mapping of our own open file.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Bar {
            base: base.cast(),
            len,
        })
    }

    /// A pointer to `size` bytes at `offset`, if inside and aligned.
    fn at<T>(&self, offset: u64) -> Option<*mut T> {
        let offset = usize::try_from(offset).ok()?;
        let size = std::mem::size_of::<T>();
        (offset.checked_add(size)? <= self.len && offset % size == 0)
            // SAFETY: just checked to be inside the mapping.
            .then(|| unsafe { self.base.add(offset) }.cast())
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let [path, op, rest @ ..] = args else {
        return Err("usage: guest_mmio RESOURCE OP ARGS...".into());
    };
    let bar = Bar::map(path).map_err(|e| format!("{path}: {e}"))?;
    let arg = |i: usize| {
        rest.get(i)
            .and_then(|a| parse(a))
            .ok_or(format!("{op}: missing or bad argument {}", i + 1))
    };
    let out_of_range = || format!("{op}: offset out of range or unaligned");
    match op.as_str() {
        // In every arm `at` returned an aligned pointer inside the live
        // mapping; volatile keeps each access a single MMIO access.
        "read32" => {
            let p = bar.at::<u32>(arg(0)?).ok_or_else(out_of_range)?;
            // SAFETY: `p` is aligned and inside the live mapping (`at`).
            println!("{:#010x}", unsafe { p.read_volatile() });
        }
        "read64" => {
            let p = bar.at::<u64>(arg(0)?).ok_or_else(out_of_range)?;
            // SAFETY: `p` is aligned and inside the live mapping (`at`).
            println!("{:#018x}", unsafe { p.read_volatile() });
        }
        "write32" => {
            let p = bar.at::<u32>(arg(0)?).ok_or_else(out_of_range)?;
            // SAFETY: `p` is aligned and inside the live mapping (`at`).
            unsafe { p.write_volatile(arg(1)? as u32) };
        }
        "write64" => {
            let p = bar.at::<u64>(arg(0)?).ok_or_else(out_of_range)?;
            // SAFETY: `p` is aligned and inside the live mapping (`at`).
            unsafe { p.write_volatile(arg(1)?) };
        }
        "bench-read32" => {
            let p = bar.at::<u32>(arg(0)?).ok_or_else(out_of_range)?;
            let n = arg(1)?.max(1);
            let start = Instant::now();
            for _ in 0..n {
                // SAFETY: `p` is aligned and inside the live mapping (`at`).
                unsafe { p.read_volatile() };
            }
            let ns = start.elapsed().as_nanos() as u64;
            println!("{n} reads in {} us: {} ns per read", ns / 1000, ns / n);
        }
        "bench-copy" => {
            let len = (arg(0)? as usize).min(bar.len);
            let mut buf = vec![0u64; len / 8];
            let start = Instant::now();
            for (i, word) in buf.iter_mut().enumerate() {
                // SAFETY: word `i` < len / 8 lies inside the live, 8-byte aligned mapping.
                *word = unsafe { bar.base.cast::<u64>().add(i).read_volatile() };
            }
            let ns = start.elapsed().as_nanos() as u64;
            println!(
                "{len} bytes in {} us: {} MB/s",
                ns / 1000,
                (len as u64 * 1000) / ns.max(1)
            );
        }
        _ => return Err(format!("unknown operation {op}")),
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("guest_mmio: {e}");
            ExitCode::FAILURE
        }
    }
}
