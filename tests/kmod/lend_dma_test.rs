// SPDX-License-Identifier: GPL-2.0

//! `rsio_lend_test`: asks the kernel's DMA API for peer-to-peer addresses
//! between PCI functions, the way an in-kernel P2P user (a driver mapping
//! another device's BAR with `dma_map_resource`, i.e. `dma_map_phys(...,
//! DMA_ATTR_MMIO)`) would, so that `tests/cluster/lend_p2p.toml` checks
//! the borrower bridge's `DMA_ATTR_MMIO` translation (docs/lending.md,
//! "Peer-to-peer between borrowed devices"): a test client, not part of
//! the product.
//!
//! Write a command to `/sys/kernel/debug/rsio_lend_test/ctl`, read the
//! result back from the same file:
//!
//! - `map FROM TO BAR OFFSET LEN` (FROM, TO: `DDDD:BB:DD.F`): maps LEN
//!   bytes at OFFSET of TO's BAR for FROM's DMA, prints `dma 0x...`, and
//!   unmaps it again; the write fails with `EIO` when the DMA API refuses.

use core::fmt::Write;

use kernel::{
    bindings, debugfs, new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    uaccess::UserSliceReader,
};

module! {
    type: LendDmaTest,
    name: "rsio_lend_test",
    authors: ["rsio developers"],
    description: "Peer-to-peer mappings of the DMA API between PCI functions (debugfs)",
    license: "GPL",
}

/// `DMA_MAPPING_ERROR`: what a refused mapping returns.
const DMA_MAPPING_ERROR: u64 = !0;

/// A PCI function found by address; holds a reference on it.
///
/// # Invariants
///
/// `0` is a valid `pci_dev` on which this value holds one reference.
struct PciRef(*mut bindings::pci_dev);

impl PciRef {
    /// The function at `DDDD:BB:DD.F`.
    fn find(bdf: &str) -> Result<PciRef> {
        let mut parts = bdf.split([':', '.']);
        let mut field = |radix| {
            parts
                .next()
                .and_then(|s| u32::from_str_radix(s, radix).ok())
                .ok_or(EINVAL)
        };
        let (domain, bus, slot, func) = (field(16)?, field(16)?, field(16)?, field(10)?);
        // Domains go past 0xffff (a borrower's bridges start at 0x10000).
        let domain = i32::try_from(domain).map_err(|_| EINVAL)?;
        if parts.next().is_some() || bus > 0xff || slot > 0x1f || func > 7 {
            return Err(EINVAL);
        }
        // SAFETY: a plain lookup; it returns a referenced device or null.
        let dev = unsafe { bindings::pci_get_domain_bus_and_slot(domain, bus, slot << 3 | func) };
        if dev.is_null() {
            return Err(ENODEV);
        }
        // INVARIANT: non-null, with the reference the lookup took.
        Ok(PciRef(dev))
    }

    /// The start and length of BAR `bar` (zero length if absent).
    fn bar(&self, bar: usize) -> Result<(u64, u64)> {
        if bar >= 6 {
            return Err(EINVAL);
        }
        // Resources are set at enumeration and stable while the device lives.
        // SAFETY: the type invariant keeps the device alive.
        let r = unsafe { &(*self.0).resource[bar] };
        if r.end < r.start || r.start == 0 {
            return Ok((0, 0));
        }
        Ok((r.start, r.end - r.start + 1))
    }

    fn device(&self) -> *mut bindings::device {
        // SAFETY: the type invariant keeps the device alive.
        unsafe { &raw mut (*self.0).dev }
    }
}

impl Drop for PciRef {
    fn drop(&mut self) {
        // SAFETY: the type invariant: we hold one reference.
        unsafe { bindings::pci_dev_put(self.0) };
    }
}

fn num(arg: Option<&str>) -> Result<u64> {
    let s = arg.ok_or(EINVAL)?;
    let r = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse::<u64>(),
    };
    r.map_err(|_| EINVAL)
}

/// `map FROM TO BAR OFFSET LEN`: the DMA address, mapped and unmapped.
fn map(args: &mut core::str::SplitAsciiWhitespace<'_>) -> Result<u64> {
    let from = PciRef::find(args.next().ok_or(EINVAL)?)?;
    let to = PciRef::find(args.next().ok_or(EINVAL)?)?;
    let bar = usize::try_from(num(args.next())?).map_err(|_| EINVAL)?;
    let (offset, len) = (num(args.next())?, num(args.next())?);
    let (start, size) = to.bar(bar)?;
    if args.next().is_some() || len == 0 || offset.checked_add(len).is_none_or(|e| e > size) {
        return Err(EINVAL);
    }
    let len = usize::try_from(len).map_err(|_| EINVAL)?;
    let dir = bindings::dma_data_direction_DMA_BIDIRECTIONAL;
    // A refusal returns DMA_MAPPING_ERROR and maps nothing.
    // SAFETY: `from` is a live device; the range is inside `to`'s BAR.
    let addr = unsafe { bindings::dma_map_resource(from.device(), start + offset, len, dir, 0) };
    if addr == DMA_MAPPING_ERROR {
        return Err(EIO);
    }
    // SAFETY: undoes the mapping just made, with its own arguments.
    unsafe { bindings::dma_unmap_resource(from.device(), addr, len, dir, 0) };
    Ok(addr)
}

/// Output of a command.
struct Out<'a>(&'a mut KVec<u8>);

impl core::fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| core::fmt::Error)
    }
}

#[pin_data]
struct Tester {
    #[pin]
    out: Mutex<KVec<u8>>,
}

fn ctl_read(t: &Arc<Tester>, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    let out = t.out.lock();
    f.write_str(core::str::from_utf8(&out).unwrap_or("(output not UTF-8)\n"))
}

fn ctl_write(t: &Arc<Tester>, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 128];
    let n = reader.len();
    if n >= buf.len() {
        return Err(EINVAL);
    }
    reader.read_slice(&mut buf[..n])?;
    let line = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?.trim();
    let mut args = line.split_ascii_whitespace();
    let r = match args.next() {
        Some("map") => map(&mut args),
        _ => Err(EINVAL),
    };
    let mut out = t.out.lock();
    out.clear();
    let _ = match r {
        Ok(addr) => writeln!(Out(&mut out), "dma {addr:#x}"),
        Err(e) => writeln!(Out(&mut out), "error {} ({line})", e.to_errno()),
    };
    r.map(|_| ())
}

struct LendDmaTest {
    _ctl: Pin<KBox<debugfs::File<Arc<Tester>>>>,
    _dir: debugfs::Dir,
}

impl kernel::Module for LendDmaTest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let tester = Arc::pin_init(
            pin_init!(Tester {
                out <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL,
        )?;
        let dir = debugfs::Dir::new(c"rsio_lend_test");
        let ctl = KBox::pin_init(
            dir.read_write_callback_file(c"ctl", Ok::<_, Error>(tester), &ctl_read, &ctl_write),
            GFP_KERNEL,
        )?;
        Ok(Self {
            _ctl: ctl,
            _dir: dir,
        })
    }
}
