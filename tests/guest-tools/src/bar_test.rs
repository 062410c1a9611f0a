//! `rsio-bar`: reads and writes a PCI function's memory BAR from user space
//! through its sysfs `resourceN` file (mmap of one page at a time), for
//! tests of devices whose BARs reach through the fabric (a hot-added
//! chassis device, docs/hot-add.md).
//!
//! ```text
//! rsio-bar BDF BAR verify            # pattern in the first and the last 4 KiB, read back
//! rsio-bar BDF BAR write OFFSET V    # one 32-bit store
//! rsio-bar BDF BAR read OFFSET       # one 32-bit load, printed in hex
//! ```

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;

const PAGE: u64 = 4096;

#[derive(Parser)]
#[command(about = "Read and write a PCI function's memory BAR through sysfs")]
struct Args {
    /// The function, e.g. 10000:00:00.0.
    bdf: String,
    /// The BAR (0..=5).
    bar: u32,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Writes a pattern to the first and the last 4 KiB and reads it back.
    Verify {
        /// Seed of the pattern (a run writes different data than the last).
        #[arg(long, default_value_t = 1)]
        seed: u32,
    },
    /// Stores the 32-bit value V at OFFSET.
    Write {
        #[arg(value_parser = parse_u64)]
        offset: u64,
        #[arg(value_parser = parse_u64)]
        value: u64,
    },
    /// Loads the 32-bit value at OFFSET.
    Read {
        #[arg(value_parser = parse_u64)]
        offset: u64,
    },
}

fn parse_u64(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("{s}: {e}"))
}

/// The BAR's size from `resource` (start end flags per line).
fn bar_size(bdf: &str, bar: u32) -> Result<u64> {
    let path = format!("/sys/bus/pci/devices/{bdf}/resource");
    let text = std::fs::read_to_string(&path).with_context(|| path.clone())?;
    let line = text
        .lines()
        .nth(bar as usize)
        .with_context(|| format!("{path}: no line for BAR {bar}"))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .map(|w| parse_u64(w).map_err(anyhow::Error::msg))
        .collect::<Result<_>>()?;
    if f.len() < 2 || f[1] <= f[0] {
        bail!("BAR {bar} of {bdf} is not assigned");
    }
    Ok(f[1] - f[0] + 1)
}

/// One page of the BAR, mapped.
struct Page {
    ptr: *mut u32,
}

impl Page {
    fn map(file: &File, offset: u64) -> Result<Self> {
        // SAFETY: a fresh shared mapping of one page of the resource file; the kernel checks the range.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                (offset & !(PAGE - 1)) as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            bail!("mmap at {offset:#x}: {}", std::io::Error::last_os_error());
        }
        Ok(Self { ptr: p.cast() })
    }

    fn write(&self, word: usize, v: u32) {
        // SAFETY: `word` < 1024 (callers), inside the mapped page; MMIO needs volatile.
        unsafe { self.ptr.add(word).write_volatile(v) }
    }

    fn read(&self, word: usize) -> u32 {
        // SAFETY: as `write`.
        unsafe { self.ptr.add(word).read_volatile() }
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // SAFETY: the page mapped by `map`.
        unsafe { libc::munmap(self.ptr.cast(), PAGE as usize) };
    }
}

fn pattern(seed: u32, offset: u64, word: usize) -> u32 {
    (offset as u32 ^ (word as u32).wrapping_mul(0x9e37_79b9))
        .wrapping_add(seed.wrapping_mul(0x85eb_ca6b))
}

fn main() -> Result<()> {
    let a = Args::parse();
    let size = bar_size(&a.bdf, a.bar)?;
    let path = format!("/sys/bus/pci/devices/{}/resource{}", a.bdf, a.bar);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| path.clone())?;
    let in_bar = |off: u64| -> Result<()> {
        if !off.is_multiple_of(4) || off + 4 > size {
            bail!("offset {off:#x} is not a 32-bit word of the {size:#x}-byte BAR");
        }
        Ok(())
    };
    match a.cmd {
        Cmd::Verify { seed } => {
            if size < 2 * PAGE {
                bail!("BAR {} is only {size:#x} bytes", a.bar);
            }
            for off in [0, size - PAGE] {
                let p = Page::map(&file, off)?;
                for w in 0..(PAGE / 4) as usize {
                    p.write(w, pattern(seed, off, w));
                }
            }
            for off in [0, size - PAGE] {
                let p = Page::map(&file, off)?;
                for w in 0..(PAGE / 4) as usize {
                    let (got, want) = (p.read(w), pattern(seed, off, w));
                    if got != want {
                        bail!(
                            "at {:#x}: read {got:#x}, wrote {want:#x}",
                            off + 4 * w as u64
                        );
                    }
                }
            }
            println!(
                "BAR {} of {}: {size:#x} bytes, first and last 4 KiB written and read back",
                a.bar, a.bdf
            );
        }
        Cmd::Write { offset, value } => {
            in_bar(offset)?;
            let p = Page::map(&file, offset)?;
            p.write(((offset % PAGE) / 4) as usize, value as u32);
        }
        Cmd::Read { offset } => {
            in_bar(offset)?;
            let p = Page::map(&file, offset)?;
            println!("{:#010x}", p.read(((offset % PAGE) / 4) as usize));
        }
    }
    Ok(())
}
