//! `rsio lend`, `rsio unlend`, `rsio devices`, `rsio borrow`, `rsio
//! return`: device lending (rsio_lend, /dev/rsio_lend).

use crate::device::{describe, Device, IoctlError};
use crate::format::{size, Align, Table};
use crate::{Ctx, Exit};
use anyhow::Result;
use clap::Args;
use rsio_uapi::lend as abi;
use serde_json::{json, Value};

pub const LEND_LONG: &str = "\
Lend a local PCI function to the fabric (LEND_IOC_LEND on /dev/rsio_lend,
served by rsio_lend; needs CAP_SYS_ADMIN). Its driver is unbound and the
rsio_lend stub driver holds it; it is reset (the RESET column of `rsio
devices` says how), named by a fabric device id (node << 16 | index) and
advertised to every peer, whose `rsio devices` lists it. `rsio unlend` gives
it back.

A function this node uses is refused (EBUSY): a block device under it open
or mounted, a network interface under it up (the kernel log names it).
--force lends it anyway: its users here lose it as on a surprise removal.

The function is named by its PCI address, [DOMAIN:]BUS:DEVICE.FUNCTION in
hexadecimal, as lspci prints it. Bridges (class 0x06xx) and the rsio adapter
itself cannot be lent.";

pub const LEND_AFTER: &str = "\
EXAMPLES:
    $ rsio lend 0000:00:04.0
    lent 0000:00:04.0 as fabric device 0x1

EXIT STATUS:
    0   the function is lent
    1   it could not be lent: no such function (ENODEV), a bridge (EINVAL),
        the rsio adapter or not root (EPERM), already lent or in use here
        without --force (EBUSY), or /dev/rsio_lend cannot be opened
        (rsio_lend not loaded)
    2   usage error (not a PCI address)";

pub const UNLEND_LONG: &str = "\
Give a lent PCI function back (LEND_IOC_UNLEND on /dev/rsio_lend; needs
CAP_SYS_ADMIN): the peers stop listing it, it is reset and its native
driver is probed again. A function a peer borrows is refused (EBUSY)
unless --force, which revokes it from the borrower first: the device
vanishes from the borrower as on a surprise removal.";

pub const UNLEND_AFTER: &str = "\
EXAMPLES:
    $ rsio unlend 00:04.0
    gave back 0000:00:04.0 (fabric device 0x1)

EXIT STATUS:
    0   the function is back with its native driver (if one binds)
    1   it is not lent (ENOENT), a peer borrows it and --force was not given
        (EBUSY), not root (EPERM), or /dev/rsio_lend cannot be opened
        (rsio_lend not loaded)
    2   usage error (not a PCI address)";

pub const DEVICES_LONG: &str = "\
List the PCI functions this node lends and those its peers advertise
(LEND_IOC_LIST on /dev/rsio_lend). A peer's entries disappear when it
unlends them or goes away.

Columns: NODE the lender; FDID the fabric device id; BDF the function's
address on its lender; VENDOR, DEVICE and CLASS its PCI ids; STATE lent or
borrowed; BARS the sizes of its implemented BARs (n:size, with p for
prefetchable, 64 for 64-bit, io for I/O space); SR-IOV vf for a virtual
function, pf:N for a physical function with N VFs at most; DMA iommu when the
lender's IOMMU confines the function's DMA to its borrower's memory, open
when it cannot, bypass when its driver bypasses the DMA API (a virtio device
without VIRTIO_F_ACCESS_PLATFORM: it cannot be borrowed); RESET how the lender
resets it between borrowers: flr (function-level reset), pci (another reset
of the PCI core: PM, bus), virtio, ahci or xhci (class-specific), none (bus
mastering and decoding off only).

Needs only access to /dev/rsio_lend.";

pub const DEVICES_AFTER: &str = "\
EXAMPLES:
    $ rsio devices
    NODE  FDID  BDF           VENDOR  DEVICE  CLASS   STATE  BARS      SR-IOV  DMA    RESET
       0   0x1  0000:00:04.0  1b36    0010    010802  lent   0:16K/64  -       iommu  flr

EXIT STATUS:
    0   the list was read
    1   /dev/rsio_lend cannot be opened (rsio_lend not loaded) or the ioctl failed
    2   usage error";

/// The arguments of `rsio lend`.
#[derive(Args)]
pub struct BdfArgs {
    /// The PCI function: [DOMAIN:]BUS:DEVICE.FUNCTION (hexadecimal).
    #[arg(value_parser = parse_bdf)]
    pub bdf: (u32, u32, u32),
    /// Lend it even though this node uses it (mounted, open, up).
    #[arg(long)]
    pub force: bool,
}

/// The arguments of `rsio unlend`.
#[derive(Args)]
pub struct UnlendArgs {
    /// The PCI function: [DOMAIN:]BUS:DEVICE.FUNCTION (hexadecimal).
    #[arg(value_parser = parse_bdf)]
    pub bdf: (u32, u32, u32),
    /// Revoke it from the peer that borrows it first.
    #[arg(long)]
    pub force: bool,
}

pub const BORROW_LONG: &str = "\
Borrow a peer's lent PCI function (LEND_IOC_BORROW on /dev/rsio_lend;
needs CAP_SYS_ADMIN). It appears on this node under a virtual PCI host
bridge in a PCI domain of its own (10000 and up), with its real ids,
class and capabilities: lspci lists it and this node's own driver binds
to it (nvme, e1000e, ...). Its BARs reach the real device through the
fabric, its DMA reaches this node's memory through the lender's direct
window and its MSI-X interrupts arrive here as remote interrupts.

The device is named NODE:FDID (as `rsio devices` lists it), or by a
filter: --class CLASS (hex, 2 to 6 digits: 0108 is any NVMe controller)
and/or --vendor VENDOR[:DEVICE], which picks the first lent, unborrowed
match. The borrow lasts until `rsio return`, the module's unload or the
lender's death; no process needs to stay alive.";

pub const BORROW_AFTER: &str = "\
EXAMPLES:
    $ rsio borrow 0:0x1
    borrowed fabric device 0x1 of node 0: 10000:00:00.0
    $ rsio borrow --class 0108
    borrowed fabric device 0x1 of node 0: 10000:00:00.0

EXIT STATUS:
    0   the device is on this node's PCI bus
    1   it could not be borrowed: no such device (ENOENT), borrowed already
        (EBUSY), the lender is not up (EHOSTUNREACH), no free slots or
        vectors (ENOSPC), not root (EPERM), no match for the filter, or
        /dev/rsio_lend cannot be opened (rsio_lend not loaded)
    2   usage error";

pub const RETURN_LONG: &str = "\
Return a borrowed PCI function (LEND_IOC_RETURN on /dev/rsio_lend; needs
CAP_SYS_ADMIN): its driver is unbound, it leaves this node's PCI bus and
the lender resets it; it stays lent, for the next borrower. A device this
node uses is refused (EBUSY): a block device under it open or mounted, a
network interface under it up (the kernel log names it). --force returns it
anyway: its users here lose it as on a surprise removal.";

pub const RETURN_AFTER: &str = "\
EXAMPLES:
    $ rsio return 0:0x1
    returned fabric device 0x1 to node 0 (was 10000:00:00.0)

EXIT STATUS:
    0   the device is back with its lender
    1   this node does not borrow it (ENOENT), it is in use here and --force
        was not given (EBUSY), not root (EPERM), or /dev/rsio_lend cannot be
        opened (rsio_lend not loaded)
    2   usage error";

pub const P2P_LONG: &str = "\
Set up peer-to-peer DMA between two PCI functions this node borrows
(LEND_IOC_P2P on /dev/rsio_lend; needs CAP_SYS_ADMIN): FROM gets a path to
BAR N of TO and the command prints the device address at which FROM reaches
the BAR's offset 0 — what a user-space driver (vfio-pci) puts in FROM's DMA
descriptors; the kernel's DMA API gives drivers the same (DMA_ATTR_MMIO).
If TO's lender is another node, it opens the BAR's window to FROM's lender,
which maps LUT slots onto it; FROM's IOMMU domain on its lender, if any,
admits the path. The path lasts until either device is returned or removed.";

pub const P2P_AFTER: &str = "\
EXAMPLES:
    $ rsio p2p 0:0x1 2:0x20001 --bar 2
    fabric device 0x1 reaches BAR 2 of 0x20001 at device address 0xff04000000 (1M)

EXIT STATUS:
    0   the path exists
    1   a device is not borrowed here or the BAR is not forwarded (ENOENT),
        no slots left (ENOSPC), not root (EPERM), a lender refused, or
        /dev/rsio_lend cannot be opened (rsio_lend not loaded)
    2   usage error";

/// The arguments of `rsio p2p`.
#[derive(Args)]
pub struct P2pArgs {
    /// The device that will do the DMA: NODE:FDID.
    #[arg(value_name = "FROM", value_parser = parse_fabric_device)]
    pub from: (u32, u32),
    /// The device whose BAR it will reach: NODE:FDID.
    #[arg(value_name = "TO", value_parser = parse_fabric_device)]
    pub to: (u32, u32),
    /// The BAR of TO.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..6))]
    pub bar: u32,
}

/// The arguments of `rsio borrow`.
#[derive(Args)]
pub struct BorrowArgs {
    /// The device: NODE:FDID (FDID in hex with 0x, or decimal).
    #[arg(value_name = "NODE:FDID", required_unless_present_any = ["class", "vendor"])]
    pub target: Option<String>,
    /// Pick a device of this class (hex: base class, sub class, prog-if).
    #[arg(long, conflicts_with = "target")]
    pub class: Option<String>,
    /// Pick a device of this vendor (hex), and device id if given.
    #[arg(long, conflicts_with = "target")]
    pub vendor: Option<String>,
}

/// The arguments of `rsio return`.
#[derive(Args)]
pub struct ReturnArgs {
    /// The device: NODE:FDID.
    #[arg(value_name = "NODE:FDID", value_parser = parse_fabric_device)]
    pub target: (u32, u32),
    /// Return it even though this node uses it (mounted, open, up).
    #[arg(long)]
    pub force: bool,
}

/// Parses `NODE:FDID` (FDID `0x`-prefixed hex or decimal).
pub fn parse_fabric_device(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{s}` is not a fabric device NODE:FDID (e.g. 0:0x1)");
    let (n, f) = s.split_once(':').ok_or_else(bad)?;
    let node: u32 = n.parse().map_err(|_| bad())?;
    let fdid = match f.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).map_err(|_| bad())?,
        None => f.parse().map_err(|_| bad())?,
    };
    if node > 0xffff || fdid == 0 {
        return Err(bad());
    }
    // A bare index names the node's device `node << 16 | index`.
    let fdid = if fdid <= 0xffff {
        node << 16 | fdid
    } else {
        fdid
    };
    if fdid >> 16 != node {
        return Err(format!("fabric device {fdid:#x} is not node {node}'s"));
    }
    Ok((node, fdid))
}

/// Parses a class filter: 2, 4 or 6 hex digits; returns (value, mask).
pub fn parse_class(s: &str) -> Result<(u32, u32), String> {
    let ok = matches!(s.len(), 2 | 4 | 6) && s.chars().all(|c| c.is_ascii_hexdigit());
    if !ok {
        return Err(format!(
            "`{s}` is not a class code (2, 4 or 6 hex digits: 01, 0108, 010802)"
        ));
    }
    let v = u32::from_str_radix(s, 16).map_err(|e| e.to_string())?;
    let shift = 24 - 4 * s.len() as u32;
    Ok((v << shift, (0xff_ffffu32 >> shift) << shift))
}

/// Parses `VENDOR[:DEVICE]` (hex).
pub fn parse_vendor(s: &str) -> Result<(u16, Option<u16>), String> {
    let bad = || format!("`{s}` is not VENDOR[:DEVICE] in hex (e.g. 8086:10d3)");
    let hex = |p: &str| {
        if p.is_empty() || p.len() > 4 {
            return Err(bad());
        }
        u16::from_str_radix(p, 16).map_err(|_| bad())
    };
    match s.split_once(':') {
        Some((v, d)) => Ok((hex(v)?, Some(hex(d)?))),
        None => Ok((hex(s)?, None)),
    }
}

/// Whether `e` (a peer's, lent and not borrowed) matches the filters.
fn matches(
    e: &abi::LendDevEntry,
    class: Option<(u32, u32)>,
    vendor: Option<(u16, Option<u16>)>,
) -> bool {
    let class_ok = class.is_none_or(|(v, m)| e.class & m == v);
    let vendor_ok = vendor.is_none_or(|(v, d)| e.vendor == v && d.is_none_or(|d| e.device == d));
    e.state == abi::LEND_STATE_LENT && class_ok && vendor_ok
}

fn borrow_explain(e: &IoctlError, returning: bool) -> String {
    let why = match e.errno() {
        Some(libc::ENOENT) => {
            "the node does not lend such a device (or this node does not borrow it)"
        }
        Some(libc::EBUSY) if returning => {
            "this node uses it: a block device under it is open or mounted, or a network \
             interface under it is up (the kernel log names it); --force returns it anyway"
        }
        Some(libc::EBUSY) => "it is borrowed already",
        Some(libc::EHOSTUNREACH) => "the lender is not up",
        Some(libc::ENOSPC) => "no free LUT slots, windows or interrupt vectors",
        Some(libc::EPERM) => "not root",
        Some(libc::EINVAL) => "not a peer's fabric device",
        Some(libc::EOPNOTSUPP) => {
            "no direct window between the nodes for the device's DMA, or its driver would \
             bypass the DMA API (a virtio device without VIRTIO_F_ACCESS_PLATFORM: give it \
             platform access, e.g. QEMU's iommu_platform=on, and lend it again)"
        }
        _ => "",
    };
    explained(e, why)
}

/// `e` with `why` appended (just `e` if `why` is empty).
pub fn explained(e: &IoctlError, why: &str) -> String {
    if why.is_empty() {
        e.to_string()
    } else {
        format!(
            "{} on {} failed: {}: {why}",
            e.name,
            e.path,
            describe(&e.error)
        )
    }
}

/// `rsio borrow`.
pub fn borrow(ctx: &Ctx, args: &BorrowArgs) -> Result<()> {
    let usage = |e: String| -> anyhow::Error {
        eprintln!("rsio borrow: {e}");
        Exit(2).into()
    };
    let device = args
        .target
        .as_deref()
        .map(parse_fabric_device)
        .transpose()
        .map_err(usage)?;
    let class = args
        .class
        .as_deref()
        .map(parse_class)
        .transpose()
        .map_err(usage)?;
    let vendor = args
        .vendor
        .as_deref()
        .map(parse_vendor)
        .transpose()
        .map_err(usage)?;
    let dev = Device::open(abi::LEND_DEVICE_PATH)?;
    let (node, fdid) = match device {
        Some(d) => d,
        None => {
            let me = dev.list::<abi::LendDevEntry>()?;
            match me.iter().find(|e| matches(e, class, vendor)) {
                Some(e) => (e.node, e.fdid),
                None => {
                    eprintln!("rsio: no lent, unborrowed device of a peer matches");
                    return Err(Exit(1).into());
                }
            }
        }
    };
    match dev.borrow_or_return(abi::LEND_IOC_BORROW, "LEND_IOC_BORROW", node, fdid, 0) {
        Ok(a) => {
            let at = bdf_name(a.domain, a.bus, a.devfn);
            if ctx.json {
                let off = format!("{:#x}", a.dma_offset);
                println!(
                    "{}",
                    json!({ "node": node, "fdid": fdid, "bdf": at, "dma_offset": off })
                );
            } else {
                println!("borrowed fabric device {fdid:#x} of node {node}: {at}");
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("rsio: {node}:{fdid:#x}: {}", borrow_explain(&e, false));
            Err(Exit(1).into())
        }
    }
}

/// `rsio return`.
pub fn return_device(ctx: &Ctx, args: &ReturnArgs) -> Result<()> {
    let dev = Device::open(abi::LEND_DEVICE_PATH)?;
    let (node, fdid) = args.target;
    let flags = if args.force {
        abi::LEND_RETURN_FORCE
    } else {
        0
    };
    match dev.borrow_or_return(abi::LEND_IOC_RETURN, "LEND_IOC_RETURN", node, fdid, flags) {
        Ok(a) => {
            let at = bdf_name(a.domain, a.bus, a.devfn);
            if ctx.json {
                println!(
                    "{}",
                    json!({ "node": node, "fdid": fdid, "bdf": at, "returned": true })
                );
            } else {
                println!("returned fabric device {fdid:#x} to node {node} (was {at})");
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("rsio: {node}:{fdid:#x}: {}", borrow_explain(&e, true));
            Err(Exit(1).into())
        }
    }
}

pub fn p2p(ctx: &Ctx, args: &P2pArgs) -> Result<()> {
    let dev = Device::open(abi::LEND_DEVICE_PATH)?;
    let ((fnode, ffdid), (tnode, tfdid)) = (args.from, args.to);
    match dev.p2p(args.from, args.to, args.bar) {
        Ok(a) => {
            if ctx.json {
                println!(
                    "{}",
                    json!({ "from": format!("{fnode}:{ffdid:#x}"), "to": format!("{tnode}:{tfdid:#x}"),
                            "bar": args.bar, "dev_addr": format!("{:#x}", a.dev_addr), "size": a.size })
                );
            } else {
                println!(
                    "fabric device {ffdid:#x} reaches BAR {} of {tfdid:#x} at device address {:#x} ({})",
                    args.bar,
                    a.dev_addr,
                    size(a.size)
                );
            }
            Ok(())
        }
        Err(e) => {
            let why = match e.errno() {
                Some(libc::ENOENT) => {
                    "this node does not borrow both, or TO's BAR is not forwarded"
                }
                Some(libc::EINVAL) => "FROM and TO must be two different peers' fabric devices",
                Some(libc::ENOSPC) => "no free LUT slots or path entries",
                _ => "",
            };
            let msg = if why.is_empty() {
                borrow_explain(&e, false)
            } else {
                explained(&e, why)
            };
            eprintln!(
                "rsio: {fnode}:{ffdid:#x} -> {tnode}:{tfdid:#x} BAR {}: {msg}",
                args.bar
            );
            Err(Exit(1).into())
        }
    }
}

/// Parses `[DOMAIN:]BUS:DEVICE.FUNCTION` (hex) into `(domain, bus, devfn)`.
pub fn parse_bdf(s: &str) -> Result<(u32, u32, u32), String> {
    let bad = || format!("`{s}` is not a PCI address [DOMAIN:]BUS:DEVICE.FUNCTION (hex)");
    let hex = |p: &str, max: u32| {
        if p.is_empty() || p.len() > 4 || !p.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        u32::from_str_radix(p, 16)
            .ok()
            .filter(|v| *v <= max)
            .ok_or_else(bad)
    };
    let parts: Vec<&str> = s.split(':').collect();
    let (domain, bus, rest) = match parts[..] {
        [d, b, r] => (hex(d, 0xffff)?, hex(b, 0xff)?, r),
        [b, r] => (0, hex(b, 0xff)?, r),
        _ => return Err(bad()),
    };
    let (dev, func) = rest.split_once('.').ok_or_else(bad)?;
    let (dev, func) = (hex(dev, 0x1f)?, hex(func, 7)?);
    Ok((domain, bus, dev << 3 | func))
}

/// `domain:bus:devfn` as lspci prints it.
pub fn bdf_name(domain: u32, bus: u32, devfn: u32) -> String {
    format!("{domain:04x}:{bus:02x}:{:02x}.{}", devfn >> 3, devfn & 7)
}

// SAFETY: `LendDevEntry` is `repr(C)` of integers and integer arrays, and LEND_IOC_LIST lists `LendDevEntry` elements.
unsafe impl crate::device::ListEntry for abi::LendDevEntry {
    const CMD: u32 = abi::LEND_IOC_LIST;
    const NAME: &'static str = "LEND_IOC_LIST";
    const GUESS: u32 = 16;
}

/// What an errno of LEND/UNLEND means here.
fn explain(e: &IoctlError, lend: bool) -> String {
    let why = match (e.errno(), lend) {
        (Some(libc::ENODEV), _) => "no such PCI function",
        (Some(libc::EINVAL), true) => "a bridge cannot be lent (or the address is out of range)",
        (Some(libc::EPERM), true) => "not root, or it is the rsio adapter itself",
        (Some(libc::EPERM), false) => "not root",
        (Some(libc::EBUSY), true) => {
            "already lent, the stub driver could not take it, or this node uses it (a block \
             device under it open or mounted, a network interface under it up: the kernel log \
             names it; --force lends it anyway)"
        }
        (Some(libc::ENOENT), false) => "it is not lent",
        (Some(libc::EBUSY), false) => "a peer borrows it (--force revokes it)",
        _ => "",
    };
    if why.is_empty() {
        e.to_string()
    } else {
        // Not `e`'s own hints: they are /dev/rsio's (ENODEV: no transport).
        format!(
            "{} on {} failed: {}: {why}",
            e.name,
            e.path,
            describe(&e.error)
        )
    }
}

fn lend_or_unlend(ctx: &Ctx, bdf: (u32, u32, u32), flags: u32, lend: bool) -> Result<()> {
    let dev = Device::open(abi::LEND_DEVICE_PATH)?;
    let (cmd, name) = if lend {
        (abi::LEND_IOC_LEND, "LEND_IOC_LEND")
    } else {
        (abi::LEND_IOC_UNLEND, "LEND_IOC_UNLEND")
    };
    let (d, b, f) = bdf;
    let name_of = bdf_name(d, b, f);
    match dev.lend_bdf(cmd, name, bdf, flags) {
        Ok(fdid) => {
            if ctx.json {
                println!("{}", json!({ "bdf": name_of, "fdid": fdid, "lent": lend }));
            } else if lend {
                println!("lent {name_of} as fabric device {fdid:#x}");
            } else {
                println!("gave back {name_of} (fabric device {fdid:#x})");
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("rsio: {}: {}", name_of, explain(&e, lend));
            Err(Exit(1).into())
        }
    }
}

/// `rsio lend`.
pub fn lend(ctx: &Ctx, args: &BdfArgs) -> Result<()> {
    let flags = if args.force { abi::LEND_LEND_FORCE } else { 0 };
    lend_or_unlend(ctx, args.bdf, flags, true)
}

/// `rsio unlend`.
pub fn unlend(ctx: &Ctx, args: &UnlendArgs) -> Result<()> {
    let flags = if args.force {
        abi::LEND_UNLEND_FORCE
    } else {
        0
    };
    lend_or_unlend(ctx, args.bdf, flags, false)
}

/// `rsio devices`.
pub fn devices(ctx: &Ctx) -> Result<()> {
    let dev = Device::open(abi::LEND_DEVICE_PATH)?;
    let devs = dev.list::<abi::LendDevEntry>()?;
    if ctx.json {
        println!("{}", Value::Array(devs.iter().map(dev_json).collect()));
    } else {
        print!("{}", devices_table(&devs));
    }
    Ok(())
}

/// `borrowed` by a node's kernel; by processes (SISCI's SmartIO calls):
/// `user` (exclusive) or `shared`.
fn state(e: &abi::LendDevEntry) -> &'static str {
    match e.state {
        abi::LEND_STATE_LENT => "lent",
        abi::LEND_STATE_BORROWED if e.dev_flags & abi::LEND_DEV_SHARED != 0 => "shared",
        abi::LEND_STATE_BORROWED if e.dev_flags & abi::LEND_DEV_USER != 0 => "user",
        abi::LEND_STATE_BORROWED => "borrowed",
        _ => "?",
    }
}

fn bar_flags(f: u32) -> String {
    let mut s = String::new();
    if f & abi::LEND_BAR_IO != 0 {
        s.push_str("/io");
    }
    if f & abi::LEND_BAR_64 != 0 {
        s.push_str("/64");
    }
    if f & abi::LEND_BAR_PREFETCH != 0 {
        s.push_str("/p");
    }
    s
}

fn bars(e: &abi::LendDevEntry) -> String {
    let v: Vec<String> = (0..abi::LEND_NUM_BARS)
        .filter(|&i| e.bar_size[i] != 0)
        .map(|i| format!("{i}:{}{}", size(e.bar_size[i]), bar_flags(e.bar_flags[i])))
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(",")
    }
}

/// The SR-IOV column: `vf`, `pf:TOTAL` or `-`.
fn sriov(e: &abi::LendDevEntry) -> String {
    if e.dev_flags & abi::LEND_DEV_VF != 0 {
        "vf".into()
    } else if e.sriov_total_vfs != 0 {
        format!("pf:{}", e.sriov_total_vfs)
    } else {
        "-".into()
    }
}

/// The DMA column: `bypass` (not borrowable), `iommu` or `open`.
fn dma(e: &abi::LendDevEntry) -> &'static str {
    if e.dev_flags & abi::LEND_DEV_NO_DMA_API != 0 {
        "bypass"
    } else if e.dev_flags & abi::LEND_DEV_IOMMU != 0 {
        "iommu"
    } else {
        "open"
    }
}

/// The RESET column: how the lender resets it between borrowers.
fn reset(e: &abi::LendDevEntry) -> &'static str {
    abi::lend_reset_name((e.dev_flags & abi::LEND_DEV_RESET_MASK) >> abi::LEND_DEV_RESET_SHIFT)
}

/// The table of `rsio devices`.
pub fn devices_table(devs: &[abi::LendDevEntry]) -> String {
    let mut t = Table::new(&[
        ("NODE", Align::Right),
        ("FDID", Align::Right),
        ("BDF", Align::Left),
        ("VENDOR", Align::Left),
        ("DEVICE", Align::Left),
        ("CLASS", Align::Left),
        ("STATE", Align::Left),
        ("BARS", Align::Left),
        ("SR-IOV", Align::Left),
        ("DMA", Align::Left),
        ("RESET", Align::Left),
    ]);
    for e in devs {
        t.row(vec![
            e.node.to_string(),
            format!("{:#x}", e.fdid),
            bdf_name(e.domain, e.bus, e.devfn),
            format!("{:04x}", e.vendor),
            format!("{:04x}", e.device),
            format!("{:06x}", e.class),
            state(e).into(),
            bars(e),
            sriov(e),
            dma(e).into(),
            reset(e).into(),
        ]);
    }
    t.render()
}

/// One element of `rsio devices --json`.
pub fn dev_json(e: &abi::LendDevEntry) -> Value {
    let bars: Vec<Value> = (0..abi::LEND_NUM_BARS)
        .filter(|&i| e.bar_size[i] != 0)
        .map(|i| {
            json!({
                "index": i,
                "size": e.bar_size[i],
                "io": e.bar_flags[i] & abi::LEND_BAR_IO != 0,
                "64bit": e.bar_flags[i] & abi::LEND_BAR_64 != 0,
                "prefetchable": e.bar_flags[i] & abi::LEND_BAR_PREFETCH != 0,
            })
        })
        .collect();
    json!({
        "node": e.node,
        "fdid": e.fdid,
        "bdf": bdf_name(e.domain, e.bus, e.devfn),
        "vendor": format!("{:04x}", e.vendor),
        "device": format!("{:04x}", e.device),
        "subsystem_vendor": format!("{:04x}", e.subsystem_vendor),
        "subsystem_device": format!("{:04x}", e.subsystem_device),
        "class": format!("{:06x}", e.class),
        "revision": e.revision,
        "state": state(e),
        "bars": bars,
        "sriov_total_vfs": e.sriov_total_vfs,
        "virtual_function": e.dev_flags & abi::LEND_DEV_VF != 0,
        "dma_confined": e.dev_flags & abi::LEND_DEV_IOMMU != 0,
        "dma_api_bypass": e.dev_flags & abi::LEND_DEV_NO_DMA_API != 0,
        "reset": reset(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_addresses_parse_with_or_without_domain() {
        assert_eq!(parse_bdf("0000:00:04.0"), Ok((0, 0, 4 << 3)));
        assert_eq!(parse_bdf("00:1f.7"), Ok((0, 0, 0x1f << 3 | 7)));
        assert_eq!(parse_bdf("10:ff:00.1"), Ok((0x10, 0xff, 1)));
        for bad in [
            "",
            "0:0",
            "00:20.0",
            "00:04.8",
            "00:04",
            "x:00:04.0",
            "1:2:3:4.0",
            "100:00.0",
            "00:04.0.1",
            "00:+4.0",
        ] {
            assert!(parse_bdf(bad).is_err(), "{bad}");
        }
        assert_eq!(bdf_name(0, 0, 4 << 3 | 1), "0000:00:04.1");
    }

    #[test]
    fn fabric_devices_and_filters_parse() {
        assert_eq!(parse_fabric_device("0:0x1"), Ok((0, 1)));
        assert_eq!(parse_fabric_device("2:1"), Ok((2, 2 << 16 | 1)));
        assert_eq!(parse_fabric_device("2:0x20001"), Ok((2, 0x20001)));
        for bad in [
            "",
            "0",
            "0:",
            ":1",
            "0:0",
            "x:1",
            "0:0xg",
            "1:0x20001",
            "70000:1",
        ] {
            assert!(parse_fabric_device(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_class("01"), Ok((0x01_0000, 0xff_0000)));
        assert_eq!(parse_class("0108"), Ok((0x01_0800, 0xff_ff00)));
        assert_eq!(parse_class("010802"), Ok((0x01_0802, 0xff_ffff)));
        for bad in ["", "1", "010", "01080", "0108020", "zz"] {
            assert!(parse_class(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_vendor("8086"), Ok((0x8086, None)));
        assert_eq!(parse_vendor("8086:10d3"), Ok((0x8086, Some(0x10d3))));
        for bad in ["", ":", "8086:", "12345", "x"] {
            assert!(parse_vendor(bad).is_err(), "{bad}");
        }
        let mut e = entry();
        assert!(matches(&e, Some((0x01_0800, 0xff_ff00)), None));
        assert!(matches(&e, None, Some((0x1b36, Some(0x10)))));
        assert!(!matches(&e, Some((0x02_0000, 0xff_0000)), None));
        assert!(!matches(&e, None, Some((0x8086, None))));
        e.state = abi::LEND_STATE_BORROWED;
        assert!(!matches(&e, None, None));
    }

    fn entry() -> abi::LendDevEntry {
        abi::LendDevEntry {
            node: 0,
            fdid: 1,
            state: abi::LEND_STATE_LENT,
            domain: 0,
            bus: 0,
            devfn: 4 << 3,
            vendor: 0x1b36,
            device: 0x10,
            subsystem_vendor: 0x1af4,
            subsystem_device: 0x1100,
            class: 0x010802,
            revision: 2,
            bar_size: [16 << 10, 0, 0, 0, 0, 0],
            bar_flags: [abi::LEND_BAR_64, 0, 0, 0, 0, 0],
            sriov_total_vfs: 0,
            dev_flags: 0,
        }
    }

    #[test]
    fn the_table_shows_ids_state_and_bars() {
        let e = entry();
        let t = devices_table(&[e]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("NODE"));
        for s in [
            "0x1",
            "0000:00:04.0",
            "1b36",
            "0010",
            "010802",
            "lent",
            "0:16K/64",
        ] {
            assert!(lines[1].contains(s), "{s} in {}", lines[1]);
        }
        let j = dev_json(&e);
        assert_eq!(j["class"], json!("010802"));
        assert_eq!(j["bars"][0]["size"], json!(16384));
        assert_eq!(j["reset"], json!("none"));
    }

    #[test]
    fn the_table_shows_dma_and_reset() {
        let mut e = entry();
        e.dev_flags = abi::LEND_DEV_IOMMU | abi::LEND_RESET_FLR << abi::LEND_DEV_RESET_SHIFT;
        let t = devices_table(&[e]);
        let row = t.lines().nth(1).unwrap();
        assert!(row.ends_with("iommu  flr"), "{row}");
        e.dev_flags =
            abi::LEND_DEV_NO_DMA_API | abi::LEND_RESET_VIRTIO << abi::LEND_DEV_RESET_SHIFT;
        let t = devices_table(&[e]);
        let row = t.lines().nth(1).unwrap();
        assert!(row.ends_with("bypass  virtio"), "{row}");
        assert_eq!(dev_json(&e)["dma_api_bypass"], json!(true));
    }
}
