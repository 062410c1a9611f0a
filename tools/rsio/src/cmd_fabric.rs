//! `rsio fabric scan`, `rsio attach`, `rsio detach`: functions in the
//! fabric's expansion chassis (hot-add, rsio_lend, /dev/rsio_lend).

use crate::cmd_lend::{bdf_name, explained, parse_class};
use crate::device::{errno_of, Device, IoctlError};
use crate::format::{parse_seconds, size, Align, Table};
use crate::{signal, Ctx, Exit};
use anyhow::Result;
use clap::{Args, Subcommand};
use rsio_uapi::lend as abi;
use rsio_uapi::RSIO_MAX_NODES;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

pub const FABRIC_LONG: &str = "\
Functions in the fabric's expansion chassis (rsio_lend, /dev/rsio_lend).

An expansion chassis is a node of the fabric without a CPU of its own: a
PCIe switch with slots. Any node may attach a function of a chassis (`rsio
attach`): it appears on that node's PCI bus as a borrowed device does, and
only one node holds it at a time. `rsio fabric scan` lists the functions of
every chassis whose link is up and who holds them.";

pub const FABRIC_AFTER: &str = "\
EXAMPLES:
    $ rsio fabric scan
    NODE     FDID  SLOT  BDF      VENDOR  DEVICE  CLASS   HOLDER  BARS
       2  0x20300     0  03:00.0  1b36    0010    010802  -       0:16K(64)
       2  0x20400     1  04:00.0  8086    10d3    020000  node 0  ?

EXIT STATUS:
    0   the chassis were scanned
    1   not root (EPERM), no rsio adapter (ENODEV), or /dev/rsio_lend cannot
        be opened (rsio_lend not loaded)
    2   usage error";

pub const SCAN_LONG: &str = "\
List the functions of every expansion chassis whose link is up
(LEND_IOC_SCAN on /dev/rsio_lend; needs CAP_SYS_ADMIN: sizing a free
function's BARs claims its slot for a moment). Chassis whose link is down
are left out.

Columns: NODE the chassis's node id; FDID the function's fabric device id
(node << 16 | bus << 8 | devfn: what `rsio attach` takes); SLOT the slot
(the device number of its root port on the chassis's bus 0); BDF its
bus:device.function inside the chassis; VENDOR, DEVICE and CLASS its PCI
ids; HOLDER the node it is attached to: - (free), here (this node), or
node N; BARS the sizes of its implemented BARs (index:size, with 64 for
64-bit, pf for prefetchable and io for I/O space in parentheses), ? when
they are unknown (the function is held: sizing needs it for a moment), -
when it has none.";

pub const SCAN_AFTER: &str = "\
EXAMPLES:
    # rsio fabric scan
    NODE     FDID  SLOT  BDF      VENDOR  DEVICE  CLASS   HOLDER  BARS
       2  0x20300     0  03:00.0  1b36    0010    010802  here    ?
       2  0x20400     1  04:00.0  8086    10d3    020000  -       0:128K 1:128K 2:32(io) 3:16K
       2  0x20500     2  05:00.0  1af4    1041    020000  node 0  ?

EXIT STATUS:
    0   the chassis were scanned (an empty list: no chassis link is up)
    1   not root (EPERM), no rsio adapter (ENODEV), or /dev/rsio_lend cannot
        be opened (rsio_lend not loaded)
    2   usage error";

pub const ATTACH_LONG: &str = "\
Attach a function of an expansion chassis to this node (LEND_IOC_ATTACH on
/dev/rsio_lend; needs CAP_SYS_ADMIN). It appears under a virtual PCI host
bridge in a PCI domain of its own (10000 and up), as a borrowed device
does, and this node's own driver binds to it; no PCI hot-plug of this node
is involved. It stays attached until `rsio detach`, rsio_lend's unload, or
the chassis's power or link going down or the device leaving its slot
(then it is removed as on a surprise removal). One node holds a function
at a time.

FDID is the fabric device id `rsio fabric scan` lists (0x-hex or decimal):
node << 16 | bus << 8 | devfn, the chassis being node FDID >> 16.

--auto CLASS attaches every free function the scan lists whose class
matches CLASS (hex, 2 to 6 digits: 0108 is any NVMe controller, 010802
exactly NVMe), one line each. With --watch SECONDS it goes on scanning every
second for that long (or until SIGINT/SIGTERM) and attaches matching
functions as they appear or become free.";

pub const ATTACH_AFTER: &str = "\
EXAMPLES:
    # rsio attach 0x20300
    attached fabric device 0x20300 of chassis 2: 10000:00:00.0
    # rsio attach --auto 0108 --watch 30
    attached fabric device 0x20300 of chassis 2: 10000:00:00.0
    attached fabric device 0x20600 of chassis 2: 10001:00:00.0

EXIT STATUS:
    0   the function is on this node's PCI bus (--auto: every matching free
        function was attached, at least one)
    1   it could not be attached: attached to another node or here already
        (EBUSY), the chassis's link is down (EHOSTUNREACH), no room for its
        BARs or no free LUT slots or interrupt vectors (ENOSPC), not a
        chassis function (EINVAL), no function there (ENODEV, ENOENT), not
        root (EPERM), --auto found nothing to attach, or /dev/rsio_lend
        cannot be opened (rsio_lend not loaded)
    2   usage error";

pub const DETACH_LONG: &str = "\
Detach a chassis function from this node (LEND_IOC_DETACH on
/dev/rsio_lend; needs CAP_SYS_ADMIN): its driver is unbound, it leaves this
node's PCI bus, it is stopped and reset (FLR where it has it) and its slot
is free for any node. A function this node uses is refused (EBUSY): a block
device under it open or mounted, a network interface under it up (the
kernel log names it). --force detaches it anyway: its users here lose it
as on a surprise removal.";

pub const DETACH_AFTER: &str = "\
EXAMPLES:
    # rsio detach 0x20300
    detached fabric device 0x20300 of chassis 2: 10000:00:00.0

EXIT STATUS:
    0   the function is detached and its slot free
    1   it is not attached here (ENOENT), in use here and --force was not
        given (EBUSY), not a chassis function (EINVAL), not root (EPERM), or
        /dev/rsio_lend cannot be opened (rsio_lend not loaded)
    2   usage error";

/// `rsio fabric ...`.
#[derive(Subcommand)]
pub enum FabricCmd {
    /// List the functions of the fabric's expansion chassis (root).
    #[command(long_about = SCAN_LONG, after_long_help = SCAN_AFTER)]
    Scan,
}

impl FabricCmd {
    /// The subcommand's name on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            FabricCmd::Scan => "scan",
        }
    }
}

/// The arguments of `rsio attach`.
#[derive(Args)]
pub struct AttachArgs {
    /// The chassis function's fabric device id (0x-hex or decimal), as `rsio fabric scan` lists it.
    #[arg(value_name = "FDID", value_parser = parse_chassis_fdid, required_unless_present = "auto")]
    pub fdid: Option<u32>,
    /// Attach every free function of this class instead (hex, 2 to 6 digits: 0108, 010802).
    #[arg(long, value_name = "CLASS", value_parser = parse_class, conflicts_with = "fdid")]
    pub auto: Option<(u32, u32)>,
    /// With --auto: keep scanning every second for this long, attaching new matches.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, requires = "auto", conflicts_with = "fdid")]
    pub watch: Option<Duration>,
}

/// The arguments of `rsio detach`.
#[derive(Args)]
pub struct DetachArgs {
    /// The chassis function's fabric device id (0x-hex or decimal).
    #[arg(value_name = "FDID", value_parser = parse_chassis_fdid)]
    pub fdid: u32,
    /// Detach it even though this node uses it (mounted, open, up).
    #[arg(long)]
    pub force: bool,
}

/// Parses a chassis function's fabric device id: `0x`-hex or decimal,
/// `node << 16 | bus << 8 | devfn` with a node the ABI can name and a bus
/// other than 0 (the chassis's root ports).
pub fn parse_chassis_fdid(s: &str) -> Result<u32, String> {
    let bad = || {
        format!(
            "`{s}` is not a chassis function's fabric device id (node << 16 | bus << 8 | devfn, \
             e.g. 0x20300: `rsio fabric scan` lists them)"
        )
    };
    let fdid = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).map_err(|_| bad())?,
        None => s.parse().map_err(|_| bad())?,
    };
    if fdid >> 16 >= RSIO_MAX_NODES || (fdid >> 8) & 0xff == 0 {
        return Err(bad());
    }
    Ok(fdid)
}

// SAFETY: `LendChassisEntry` is `repr(C)` of integers and integer arrays, and LEND_IOC_SCAN lists `LendChassisEntry` elements.
unsafe impl crate::device::ListEntry for abi::LendChassisEntry {
    const CMD: u32 = abi::LEND_IOC_SCAN;
    const NAME: &'static str = "LEND_IOC_SCAN";
    const GUESS: u32 = 32;
}

pub fn run(ctx: &Ctx, cmd: &FabricCmd) -> Result<()> {
    match cmd {
        FabricCmd::Scan => scan(ctx),
    }
}

/// What an errno of SCAN means.
fn scan_explain(e: &IoctlError) -> String {
    let why = match e.errno() {
        Some(libc::EPERM) => {
            "scanning needs CAP_SYS_ADMIN (sizing a free function's BARs claims its slot for a \
             moment): run it as root"
        }
        Some(libc::ENODEV) => "rsio_lend has no rsio adapter (is one bound to rsio_ntb?)",
        _ => "",
    };
    explained(e, why)
}

/// Every function of every chassis whose link is up, or the message that
/// says why not (printed by the caller).
fn scan_entries(dev: &Device) -> Result<Vec<abi::LendChassisEntry>, String> {
    dev.list::<abi::LendChassisEntry>().map_err(|e| {
        match e.chain().find_map(|c| c.downcast_ref::<IoctlError>()) {
            Some(ie) if errno_of(&e).is_some() => scan_explain(ie),
            _ => format!("{e:#}"),
        }
    })
}

/// `rsio fabric scan`.
pub fn scan(ctx: &Ctx) -> Result<()> {
    let dev = Device::open(abi::LEND_DEVICE_PATH)?;
    let entries = match scan_entries(&dev) {
        Ok(v) => v,
        Err(msg) => {
            eprintln!("rsio: {msg}");
            return Err(Exit(1).into());
        }
    };
    if ctx.json {
        println!(
            "{}",
            Value::Array(entries.iter().map(chassis_json).collect())
        );
    } else {
        print!("{}", scan_table(&entries));
    }
    Ok(())
}

/// `bus:dev.fn` inside the chassis.
fn chassis_bdf(e: &abi::LendChassisEntry) -> String {
    format!("{:02x}:{:02x}.{}", e.bus, e.devfn >> 3, e.devfn & 7)
}

/// The HOLDER column: `-`, `here` or `node N`.
fn holder(e: &abi::LendChassisEntry) -> String {
    if e.flags & abi::LEND_CHASSIS_HERE != 0 {
        "here".into()
    } else if e.holder == abi::LEND_HOLDER_NONE {
        "-".into()
    } else {
        format!("node {}", e.holder)
    }
}

/// The BAR sizes are unknown: the function is held (the kernel sizes only
/// free functions' BARs).
fn bars_unknown(e: &abi::LendChassisEntry) -> bool {
    let held = e.holder != abi::LEND_HOLDER_NONE || e.flags & abi::LEND_CHASSIS_HERE != 0;
    held && e.bar_size.iter().all(|&s| s == 0)
}

/// `0:16K 2:1G(64,pf)`, `?` (unknown) or `-` (none).
fn chassis_bars(e: &abi::LendChassisEntry) -> String {
    if bars_unknown(e) {
        return "?".into();
    }
    let v: Vec<String> = (0..abi::LEND_NUM_BARS)
        .filter(|&i| e.bar_size[i] != 0)
        .map(|i| {
            let f = e.bar_flags[i];
            let mut flags = Vec::new();
            if f & abi::LEND_BAR_IO != 0 {
                flags.push("io");
            }
            if f & abi::LEND_BAR_64 != 0 {
                flags.push("64");
            }
            if f & abi::LEND_BAR_PREFETCH != 0 {
                flags.push("pf");
            }
            let flags = if flags.is_empty() {
                String::new()
            } else {
                format!("({})", flags.join(","))
            };
            format!("{i}:{}{flags}", size(e.bar_size[i]))
        })
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(" ")
    }
}

/// The table of `rsio fabric scan`.
pub fn scan_table(entries: &[abi::LendChassisEntry]) -> String {
    let mut t = Table::new(&[
        ("NODE", Align::Right),
        ("FDID", Align::Right),
        ("SLOT", Align::Right),
        ("BDF", Align::Left),
        ("VENDOR", Align::Left),
        ("DEVICE", Align::Left),
        ("CLASS", Align::Left),
        ("HOLDER", Align::Left),
        ("BARS", Align::Left),
    ]);
    for e in entries {
        t.row(vec![
            e.node.to_string(),
            format!("{:#x}", e.fdid),
            e.slot.to_string(),
            chassis_bdf(e),
            format!("{:04x}", e.vendor),
            format!("{:04x}", e.device),
            format!("{:06x}", e.class),
            holder(e),
            chassis_bars(e),
        ]);
    }
    t.render()
}

/// One element of `rsio fabric scan --json`.
pub fn chassis_json(e: &abi::LendChassisEntry) -> Value {
    let bars: Value = if bars_unknown(e) {
        Value::Null
    } else {
        (0..abi::LEND_NUM_BARS)
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
            .collect()
    };
    let holder = if e.holder == abi::LEND_HOLDER_NONE {
        Value::Null
    } else {
        json!(e.holder)
    };
    json!({
        "node": e.node,
        "fdid": e.fdid,
        "slot": e.slot,
        "bus": e.bus,
        "devfn": e.devfn,
        "bdf": chassis_bdf(e),
        "vendor": format!("{:04x}", e.vendor),
        "device": format!("{:04x}", e.device),
        "subsystem_vendor": format!("{:04x}", e.subsystem_vendor),
        "subsystem_device": format!("{:04x}", e.subsystem_device),
        "class": format!("{:06x}", e.class),
        "revision": e.revision,
        "holder": holder,
        "here": e.flags & abi::LEND_CHASSIS_HERE != 0,
        "bars": bars,
    })
}

/// What an errno of ATTACH or DETACH means.
fn attach_explain(e: &IoctlError, detaching: bool) -> String {
    let why = match e.errno() {
        Some(libc::EBUSY) if detaching => {
            "this node uses it: a block device under it is open or mounted, or a network \
             interface under it is up (the kernel log names it); --force detaches it anyway"
        }
        Some(libc::EBUSY) => {
            "it is attached to another node, or here already (the kernel log names the node; \
             `rsio fabric scan` shows who holds it)"
        }
        Some(libc::EHOSTUNREACH) => "the chassis's link is down",
        Some(libc::ENOSPC) => {
            "no room for it here: a BAR does not fit its slot's windows, or no LUT slots or \
             interrupt vectors are free (the kernel log says which)"
        }
        Some(libc::EINVAL) => {
            "not a chassis function's fabric device id (its node is not an expansion chassis)"
        }
        Some(libc::ENOENT) if detaching => "it is not attached to this node",
        Some(libc::ENOENT) => "the chassis has no slot with that bus",
        Some(libc::ENODEV) => "no function there (or no rsio adapter)",
        Some(libc::EOPNOTSUPP) => "the chassis's direct window does not reach this node's memory",
        Some(libc::EPERM) => "not root",
        _ => "",
    };
    explained(e, why)
}

/// Attaches (or detaches) `fdid`; prints its line. False if it failed (the
/// message is printed).
fn attach_one(ctx: &Ctx, dev: &Device, fdid: u32, detach: bool, force: bool) -> bool {
    let node = fdid >> 16;
    let (cmd, name) = if detach {
        (abi::LEND_IOC_DETACH, "LEND_IOC_DETACH")
    } else {
        (abi::LEND_IOC_ATTACH, "LEND_IOC_ATTACH")
    };
    let flags = if force { abi::LEND_RETURN_FORCE } else { 0 };
    match dev.borrow_or_return(cmd, name, node, fdid, flags) {
        Ok(a) => {
            let at = bdf_name(a.domain, a.bus, a.devfn);
            if ctx.json {
                let v = if detach {
                    json!({ "node": node, "fdid": fdid, "bdf": at, "detached": true })
                } else {
                    let off = format!("{:#x}", a.dma_offset);
                    json!({ "node": node, "fdid": fdid, "bdf": at, "dma_offset": off })
                };
                println!("{v}");
            } else {
                let verb = if detach { "detached" } else { "attached" };
                println!("{verb} fabric device {fdid:#x} of chassis {node}: {at}");
            }
            true
        }
        Err(e) => {
            eprintln!("rsio: {fdid:#x}: {}", attach_explain(&e, detach));
            false
        }
    }
}

/// `rsio attach`.
pub fn attach(ctx: &Ctx, args: &AttachArgs) -> Result<()> {
    let dev = Device::open(abi::LEND_DEVICE_PATH)?;
    if let Some(class) = args.auto {
        return attach_auto(ctx, &dev, class, args.watch);
    }
    let fdid = args.fdid.expect("clap requires FDID without --auto");
    if attach_one(ctx, &dev, fdid, false, false) {
        Ok(())
    } else {
        Err(Exit(1).into())
    }
}

/// Free functions of `entries` whose class matches `(value, mask)`.
fn auto_candidates(entries: &[abi::LendChassisEntry], (v, m): (u32, u32)) -> Vec<u32> {
    entries
        .iter()
        .filter(|e| e.holder == abi::LEND_HOLDER_NONE && e.flags & abi::LEND_CHASSIS_HERE == 0)
        .filter(|e| e.class & m == v)
        .map(|e| e.fdid)
        .collect()
}

/// `rsio attach --auto CLASS [--watch SECONDS]`.
fn attach_auto(ctx: &Ctx, dev: &Device, class: (u32, u32), watch: Option<Duration>) -> Result<()> {
    if watch.is_some() {
        signal::install()?;
    }
    let deadline = watch.map(|w| Instant::now() + w);
    // Functions tried already: a failure is reported once, not every second.
    let mut tried = BTreeSet::new();
    // Those attached here by this run (tried again once detached).
    let mut ours = BTreeSet::new();
    let (mut attached, mut failed) = (0u32, 0u32);
    loop {
        let entries = match scan_entries(dev) {
            Ok(v) => v,
            Err(msg) => {
                eprintln!("rsio: {msg}");
                return Err(Exit(1).into());
            }
        };
        for fdid in auto_candidates(&entries, class) {
            if !tried.insert(fdid) {
                continue;
            }
            if attach_one(ctx, dev, fdid, false, false) {
                attached += 1;
                ours.insert(fdid);
            } else {
                failed += 1;
            }
        }
        let Some(deadline) = deadline else { break };
        let next = (Instant::now() + Duration::from_secs(1)).min(deadline);
        if !signal::sleep_until(Some(next), Duration::from_millis(100))
            || Instant::now() >= deadline
        {
            break;
        }
        // One this run attached and that was detached meanwhile is tried
        // again when the next scan lists it free.
        let detached: Vec<u32> = ours
            .iter()
            .copied()
            .filter(|f| {
                entries
                    .iter()
                    .any(|e| e.fdid == *f && e.holder == abi::LEND_HOLDER_NONE)
            })
            .collect();
        for f in detached {
            ours.remove(&f);
            tried.remove(&f);
        }
    }
    if attached == 0 && failed == 0 {
        eprintln!("rsio: no free chassis function of that class");
    }
    if failed > 0 || attached == 0 {
        return Err(Exit(1).into());
    }
    Ok(())
}

/// `rsio detach`.
pub fn detach(ctx: &Ctx, args: &DetachArgs) -> Result<()> {
    let dev = Device::open(abi::LEND_DEVICE_PATH)?;
    if attach_one(ctx, &dev, args.fdid, true, args.force) {
        Ok(())
    } else {
        Err(Exit(1).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> abi::LendChassisEntry {
        abi::LendChassisEntry {
            node: 2,
            fdid: 0x20300,
            slot: 0,
            holder: abi::LEND_HOLDER_NONE,
            bus: 3,
            devfn: 0,
            vendor: 0x1b36,
            device: 0x10,
            subsystem_vendor: 0x1af4,
            subsystem_device: 0x1100,
            class: 0x010802,
            revision: 2,
            bar_size: [16 << 10, 0, 1 << 30, 0, 0, 0],
            bar_flags: [0, 0, abi::LEND_BAR_64 | abi::LEND_BAR_PREFETCH, 0, 0, 0],
            flags: 0,
            reserved: 0,
        }
    }

    #[test]
    fn chassis_fdids_parse_in_hex_or_decimal() {
        assert_eq!(parse_chassis_fdid("0x20300"), Ok(0x20300));
        assert_eq!(parse_chassis_fdid("0X20300"), Ok(0x20300));
        assert_eq!(parse_chassis_fdid("131840"), Ok(0x20300));
        assert_eq!(parse_chassis_fdid("0x300"), Ok(0x300), "chassis node 0");
        for bad in [
            "", "0x", "x1", "0x20000", "0x200ff", "0x100300", "-1", "0xg",
        ] {
            assert!(parse_chassis_fdid(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_scan_table_shows_holder_and_bars() {
        let mut e = entry();
        let t = scan_table(&[e]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("NODE"), "{}", lines[0]);
        assert!(lines[0].ends_with("HOLDER  BARS"), "{}", lines[0]);
        for s in ["0x20300", "03:00.0", "1b36", "0010", "010802", " - "] {
            assert!(lines[1].contains(s), "{s} in {}", lines[1]);
        }
        assert!(lines[1].ends_with("0:16K 2:1G(64,pf)"), "{}", lines[1]);
        e.holder = 0;
        e.bar_size = [0; abi::LEND_NUM_BARS];
        assert_eq!(holder(&e), "node 0");
        assert_eq!(chassis_bars(&e), "?");
        assert_eq!(chassis_json(&e)["bars"], Value::Null);
        assert_eq!(chassis_json(&e)["holder"], json!(0));
        e.flags = abi::LEND_CHASSIS_HERE;
        assert_eq!(holder(&e), "here");
        assert_eq!(chassis_json(&e)["here"], json!(true));
        // A free function without BARs.
        let mut e = entry();
        e.bar_size = [0; abi::LEND_NUM_BARS];
        assert_eq!(chassis_bars(&e), "-");
        e.bar_size[1] = 32;
        e.bar_flags[1] = abi::LEND_BAR_IO;
        assert_eq!(chassis_bars(&e), "1:32(io)");
        let j = chassis_json(&entry());
        assert_eq!(j["holder"], Value::Null);
        assert_eq!(j["class"], json!("010802"));
        assert_eq!(j["bdf"], json!("03:00.0"));
        assert_eq!(j["bars"][1]["size"], json!(1u64 << 30));
        assert_eq!(j["bars"][1]["prefetchable"], json!(true));
    }

    #[test]
    fn the_help_example_is_what_the_table_prints() {
        let mut here = entry();
        here.holder = 1;
        here.flags = abi::LEND_CHASSIS_HERE;
        here.bar_size = [0; abi::LEND_NUM_BARS];
        let mut nic = entry();
        (nic.fdid, nic.slot, nic.bus) = (0x20400, 1, 4);
        (nic.vendor, nic.device, nic.class) = (0x8086, 0x10d3, 0x020000);
        nic.bar_size = [128 << 10, 128 << 10, 32, 16 << 10, 0, 0];
        nic.bar_flags = [0, 0, abi::LEND_BAR_IO, 0, 0, 0];
        let mut held = entry();
        (held.fdid, held.slot, held.bus, held.holder) = (0x20500, 2, 5, 0);
        (held.vendor, held.device, held.class) = (0x1af4, 0x1041, 0x020000);
        held.bar_size = [0; abi::LEND_NUM_BARS];
        let table = scan_table(&[here, nic, held]);
        let example: Vec<&str> = SCAN_AFTER
            .lines()
            .skip_while(|l| !l.contains("NODE"))
            .take(4)
            .map(|l| l.strip_prefix("    ").unwrap())
            .collect();
        assert_eq!(table.lines().collect::<Vec<_>>(), example);
    }

    #[test]
    fn auto_attach_picks_free_functions_of_the_class() {
        let free = entry();
        let mut held = entry();
        held.fdid = 0x20400;
        held.holder = 1;
        let mut here = entry();
        here.fdid = 0x20500;
        here.holder = 0;
        here.flags = abi::LEND_CHASSIS_HERE;
        let mut nic = entry();
        nic.fdid = 0x20600;
        nic.class = 0x020000;
        let all = [free, held, here, nic];
        assert_eq!(
            auto_candidates(&all, parse_class("0108").unwrap()),
            [0x20300]
        );
        assert_eq!(auto_candidates(&all, parse_class("02").unwrap()), [0x20600]);
        assert!(auto_candidates(&all, parse_class("010801").unwrap()).is_empty());
    }

    #[test]
    fn attach_errors_say_what_to_do() {
        let err = |errno| IoctlError {
            name: "LEND_IOC_ATTACH",
            path: abi::LEND_DEVICE_PATH.into(),
            error: std::io::Error::from_raw_os_error(errno),
        };
        let busy = attach_explain(&err(libc::EBUSY), false);
        assert!(
            busy.contains("another node") && busy.contains("rsio fabric scan"),
            "{busy}"
        );
        assert!(attach_explain(&err(libc::EBUSY), true).contains("--force"));
        assert!(attach_explain(&err(libc::EHOSTUNREACH), false).contains("link is down"));
        assert!(attach_explain(&err(libc::ENOSPC), false).contains("does not fit"));
        assert!(attach_explain(&err(libc::EINVAL), false).contains("not a chassis"));
        assert!(scan_explain(&err(libc::EPERM)).contains("root"));
        assert!(scan_explain(&err(libc::ENODEV)).contains("no rsio adapter"));
    }
}
