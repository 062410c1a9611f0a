//! The memory BARs of this node's PCI functions, as sysfs shows them
//! (`/sys/bus/pci/devices/*/resource`): what `SEG_ATTACH_PHYS` looks a
//! range up in (`PciFunction::find_by_bus_range` walks the same
//! functions and reads the same resources). The model takes the CPU
//! addresses sysfs prints for bus addresses, as they are on x86 without
//! a host-bridge offset.

use std::path::Path;

/// `IORESOURCE_*` flags of a resource (include/linux/ioport.h).
const IORESOURCE_IO: u64 = 0x100;
const IORESOURCE_MEM: u64 = 0x200;
const IORESOURCE_PREFETCH: u64 = 0x2000;
const IORESOURCE_DISABLED: u64 = 0x1000_0000;
const IORESOURCE_UNSET: u64 = 0x2000_0000;

/// The NTB adapter (docs/adapter.md, section 1): its BARs are refused.
pub(crate) const ADAPTER_IDS: (u32, u32) = (0x7273, 0x0001);

/// A memory BAR of a function: one the kernel's lookup considers (its
/// length is not 0 and it is no I/O port range).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bar {
    /// The function, e.g. `0000:00:03.0`, and the BAR number.
    pub(crate) function: String,
    pub(crate) bar: u32,
    pub(crate) start: u64,
    pub(crate) len: u64,
    /// The NTB adapter's own.
    pub(crate) adapter: bool,
    /// A memory resource, assigned and enabled: the lookup certainly
    /// finds it (else the model accepts either outcome).
    pub(crate) clean: bool,
    pub(crate) prefetch: bool,
}

impl Bar {
    /// Holds `[addr, end)` whole.
    fn holds(&self, addr: u64, end: u64) -> bool {
        addr >= self.start && self.start.checked_add(self.len).is_some_and(|e| end <= e)
    }
}

/// Where a range `[addr, addr + size)` is for `SEG_ATTACH_PHYS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// `addr + size` overflows: `ENXIO`.
    Overflow,
    /// Inside no memory BAR: `ENXIO`.
    Nowhere,
    /// Inside one of the adapter's BARs: `ENXIO`.
    Adapter(String),
    /// Inside a memory BAR of another function: success.
    Device(String),
    /// The model cannot tell (an unassigned or disabled resource holds it,
    /// or sysfs could not be read): `ENXIO` or success.
    Doubt(String),
}

/// The memory BARs of this node's functions.
#[derive(Clone, Debug, Default)]
pub(crate) struct PciBars {
    /// sysfs was read (else every range is [`Place::Doubt`]).
    pub(crate) known: bool,
    pub(crate) bars: Vec<Bar>,
}

impl PciBars {
    /// Reads `dir` (`/sys/bus/pci/devices`): every function's `vendor`,
    /// `device` and the first six lines of `resource`.
    pub(crate) fn read(dir: &Path) -> PciBars {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return PciBars::default();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut bars = Vec::new();
        let mut known = !names.is_empty();
        for name in names {
            let f = dir.join(&name);
            let id = |file: &str| {
                let s = std::fs::read_to_string(f.join(file)).ok()?;
                u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok()
            };
            let Ok(resource) = std::fs::read_to_string(f.join("resource")) else {
                known = false;
                continue;
            };
            let adapter =
                (id("vendor"), id("device")) == (Some(ADAPTER_IDS.0), Some(ADAPTER_IDS.1));
            bars.extend(parse_resource(&name, &resource, adapter));
        }
        PciBars { known, bars }
    }

    /// Where `[addr, addr + size)` is (`size` > 0).
    pub(crate) fn place(&self, addr: u64, size: u64) -> Place {
        let Some(end) = addr.checked_add(size) else {
            return Place::Overflow;
        };
        let name = |b: &Bar| format!("{} BAR {} {:#x}+{:#x}", b.function, b.bar, b.start, b.len);
        if let Some(b) = self.bars.iter().find(|b| !b.clean && b.holds(addr, end)) {
            return Place::Doubt(format!("{} (unassigned or disabled)", name(b)));
        }
        if !self.known {
            return Place::Doubt("the PCI functions are unknown (sysfs)".into());
        }
        match self.bars.iter().find(|b| b.holds(addr, end)) {
            Some(b) if b.adapter => Place::Adapter(name(b)),
            Some(b) => Place::Device(name(b)),
            None => Place::Nowhere,
        }
    }

    /// Whether `[addr, addr + size)` could be device memory the kernel
    /// accepts: inside a BAR of a function other than the adapter, or
    /// sysfs unknown.
    pub(crate) fn may_attach(&self, addr: u64, size: u64) -> bool {
        matches!(self.place(addr, size), Place::Device(_) | Place::Doubt(_))
    }

    /// The BARs a segment of `size` bytes can be attached to: clean,
    /// not the adapter's, page-aligned, at least `size` long.
    pub(crate) fn candidates(&self, size: u64) -> Vec<&Bar> {
        let mut v: Vec<&Bar> = self
            .bars
            .iter()
            .filter(|b| b.clean && !b.adapter && b.start % 4096 == 0 && b.len >= size)
            .collect();
        // Prefetchable (memory-like) BARs first.
        v.sort_by_key(|b| !b.prefetch);
        v
    }
}

/// The memory BARs among the first six lines of a `resource` file
/// (`start end flags`, hexadecimal) of function `name`.
pub(crate) fn parse_resource(name: &str, text: &str, adapter: bool) -> Vec<Bar> {
    let mut bars = Vec::new();
    for (i, line) in text.lines().take(6).enumerate() {
        let v: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| u64::from_str_radix(x.trim_start_matches("0x"), 16).ok())
            .collect();
        let [start, end, flags] = v[..] else { continue };
        // pci_resource_len(): 0 if the end is 0.
        if end == 0 || end < start || flags & IORESOURCE_IO != 0 {
            continue;
        }
        let clean =
            flags & IORESOURCE_MEM != 0 && flags & (IORESOURCE_UNSET | IORESOURCE_DISABLED) == 0;
        bars.push(Bar {
            function: name.to_string(),
            bar: i as u32,
            start,
            len: end - start + 1,
            adapter,
            clean,
            prefetch: flags & IORESOURCE_PREFETCH != 0,
        });
    }
    bars
}

#[cfg(test)]
mod tests {
    use super::*;

    const NVME: &str = "0x00000000febf0000 0x00000000febf3fff 0x0000000000040200\n\
                        0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                        0x000000000000c000 0x000000000000c03f 0x0000000000040101\n\
                        0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                        0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                        0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                        0x00000000feb80000 0x00000000febbffff 0x0000000000046200\n";
    const ADAPTER: &str = "0x00000000fe000000 0x00000000fe00ffff 0x0000000000040200\n\
                           0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                           0x0000008000000000 0x00000080000fffff 0x000000000014220c\n";
    const UNSET: &str = "0x0000000000000000 0x0000000000000fff 0x0000000020040200\n";

    fn bars() -> PciBars {
        let mut bars = parse_resource("0000:00:03.0", NVME, false);
        bars.extend(parse_resource("0000:00:02.0", ADAPTER, true));
        PciBars { known: true, bars }
    }

    #[test]
    fn the_memory_bars_of_a_resource_file() {
        let b = parse_resource("0000:00:03.0", NVME, false);
        assert_eq!(
            b.len(),
            1,
            "the I/O BAR, the empty ones and the ROM are no memory BARs"
        );
        assert_eq!((b[0].bar, b[0].start, b[0].len), (0, 0xfebf_0000, 0x4000));
        assert!(b[0].clean && !b[0].prefetch);
        let a = parse_resource("0000:00:02.0", ADAPTER, true);
        assert_eq!(a.len(), 2);
        assert!(a[1].prefetch && a[1].adapter);
        let u = parse_resource("x", UNSET, false);
        assert!(!u[0].clean, "unset");
    }

    #[test]
    fn where_a_range_is() {
        let b = bars();
        assert!(matches!(b.place(0xfebf_0000, 0x4000), Place::Device(_)));
        assert!(matches!(b.place(0xfebf_1000, 0x1000), Place::Device(_)));
        assert_eq!(b.place(0xfebf_1000, 0x4000), Place::Nowhere, "past its end");
        assert_eq!(b.place(0xfebe_f000, 0x2000), Place::Nowhere, "before it");
        assert_eq!(b.place(0x10_0000, 0x1000), Place::Nowhere, "RAM");
        assert_eq!(b.place(!0xfff, 0x2000), Place::Overflow);
        assert!(matches!(b.place(0xfe00_0000, 0x1000), Place::Adapter(_)));
        assert!(matches!(
            b.place(0x80_0000_0000, 0x10_0000),
            Place::Adapter(_)
        ));
        let mut u = b.clone();
        u.bars.extend(parse_resource("x", UNSET, false));
        assert!(matches!(u.place(0, 0x1000), Place::Doubt(_)));
        assert!(matches!(
            PciBars::default().place(0, 0x1000),
            Place::Doubt(_)
        ));
        assert!(b.may_attach(0xfebf_0000, 0x1000));
        assert!(!b.may_attach(0xfe00_0000, 0x1000));
        assert_eq!(b.candidates(0x4000).len(), 1);
        assert!(b.candidates(0x8000).is_empty());
    }

    #[test]
    fn sysfs_as_it_is_laid_out() {
        let dir = std::env::temp_dir().join(format!("rsio-sisci-fuzz-pci-{}", std::process::id()));
        let f = dir.join("0000:00:03.0");
        std::fs::create_dir_all(&f).unwrap();
        std::fs::write(f.join("vendor"), "0x1b36\n").unwrap();
        std::fs::write(f.join("device"), "0x0010\n").unwrap();
        std::fs::write(f.join("resource"), NVME).unwrap();
        let a = dir.join("0000:00:02.0");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::write(a.join("vendor"), "0x7273\n").unwrap();
        std::fs::write(a.join("device"), "0x0001\n").unwrap();
        std::fs::write(a.join("resource"), ADAPTER).unwrap();
        let b = PciBars::read(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(b.known);
        assert_eq!(b.bars.len(), 3);
        assert!(b.bars.iter().filter(|b| b.adapter).count() == 2);
        assert!(!PciBars::read(&dir).known);
    }
}
