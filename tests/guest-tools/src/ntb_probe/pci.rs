//! Finding the adapter in sysfs and handing it to vfio-pci in no-IOMMU mode,
//! so that user space can drive it before any kernel driver exists.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::regs;

const DEVICES: &str = "/sys/bus/pci/devices";
const VFIO_PCI: &str = "vfio-pci";
const NOIOMMU_PARAM: &str = "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode";

/// The sysfs directory of PCI device `bdf`.
pub fn device_dir(bdf: &str) -> PathBuf {
    Path::new(DEVICES).join(bdf)
}

/// The adapter's address: `wanted` if given (it must be an RSIO-NTB1), else
/// the only RSIO-NTB1 in the system.
pub fn find_adapter(wanted: Option<&str>) -> Result<String> {
    if let Some(bdf) = wanted {
        ensure_adapter(bdf)?;
        return Ok(bdf.to_owned());
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(DEVICES).with_context(|| format!("cannot list {DEVICES}"))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if is_adapter(&name) {
            found.push(name);
        }
    }
    found.sort();
    match found.as_slice() {
        [] => bail!(
            "no RSIO-NTB1 adapter ({:04x}:{:04x}) in {DEVICES}",
            regs::VENDOR_ID,
            regs::DEVICE_ID
        ),
        [one] => Ok(one.clone()),
        many => bail!(
            "several adapters ({}): pick one with --device",
            many.join(", ")
        ),
    }
}

fn is_adapter(bdf: &str) -> bool {
    let id = |file: &str| read_hex(&device_dir(bdf).join(file)).ok();
    id("vendor") == Some(regs::VENDOR_ID.into()) && id("device") == Some(regs::DEVICE_ID.into())
}

fn ensure_adapter(bdf: &str) -> Result<()> {
    if !device_dir(bdf).exists() {
        bail!("no PCI device {bdf}");
    }
    if !is_adapter(bdf) {
        bail!("{bdf} is not an RSIO-NTB1 adapter");
    }
    Ok(())
}

/// Reads a sysfs number like `0x7273`.
fn read_hex(path: &Path) -> Result<u64> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = text.trim();
    u64::from_str_radix(text.trim_start_matches("0x"), 16)
        .with_context(|| format!("{}: not a hex number: {text:?}", path.display()))
}

/// The bus addresses of the device's BARs (`resource`, one line per BAR:
/// start, end, flags); `None` for an unassigned BAR.
pub fn bar_addresses(bdf: &str) -> Result<Vec<Option<(u64, u64)>>> {
    let path = device_dir(bdf).join("resource");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text.lines().take(6).map(parse_resource_line).collect())
}

/// One `resource` line as (start, size), `None` if unassigned or malformed.
fn parse_resource_line(line: &str) -> Option<(u64, u64)> {
    let mut fields = line
        .split_whitespace()
        .map(|f| u64::from_str_radix(f.trim_start_matches("0x"), 16));
    let (start, end) = (fields.next()?.ok()?, fields.next()?.ok()?);
    (end > start).then(|| (start, end - start + 1))
}

/// Binds `bdf` to vfio-pci with the unsafe no-IOMMU mode enabled (loading
/// the modules as needed) and returns its VFIO group device file.
pub fn bind_vfio(bdf: &str) -> Result<PathBuf> {
    enable_noiommu()?;
    let dir = device_dir(bdf);
    let driver = current_driver(&dir);
    if driver.as_deref() != Some(VFIO_PCI) {
        if driver.is_some() {
            write(&dir.join("driver/unbind"), bdf)?;
        }
        write(&dir.join("driver_override"), VFIO_PCI)?;
        write(Path::new("/sys/bus/pci/drivers_probe"), bdf)?;
        if current_driver(&dir).as_deref() != Some(VFIO_PCI) {
            bail!("vfio-pci did not take {bdf} (see dmesg)");
        }
    }
    let group = std::fs::read_link(dir.join("iommu_group"))
        .with_context(|| format!("{bdf} has no IOMMU group (is vfio's no-IOMMU mode on?)"))?;
    let group = group
        .file_name()
        .and_then(|g| g.to_str())
        .context("a malformed iommu_group link")?
        .to_owned();
    for candidate in [
        format!("/dev/vfio/noiommu-{group}"),
        format!("/dev/vfio/{group}"),
    ] {
        if Path::new(&candidate).exists() {
            return Ok(candidate.into());
        }
    }
    bail!("no VFIO group file for group {group} in /dev/vfio")
}

fn enable_noiommu() -> Result<()> {
    if Path::new(NOIOMMU_PARAM).exists() {
        let on = std::fs::read_to_string(NOIOMMU_PARAM).unwrap_or_default();
        if !matches!(on.trim(), "Y" | "1") {
            write(Path::new(NOIOMMU_PARAM), "1")?;
        }
    } else {
        modprobe(&["vfio", "enable_unsafe_noiommu_mode=1"])?;
    }
    if !Path::new("/sys/bus/pci/drivers").join(VFIO_PCI).exists() {
        modprobe(&["vfio-pci"])?;
    }
    Ok(())
}

fn modprobe(args: &[&str]) -> Result<()> {
    let status = Command::new("modprobe")
        .args(args)
        .status()
        .context("cannot run modprobe")?;
    if !status.success() {
        bail!("modprobe {} failed ({status})", args.join(" "));
    }
    Ok(())
}

fn current_driver(dir: &Path) -> Option<String> {
    let link = std::fs::read_link(dir.join("driver")).ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}

fn write(path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value)
        .with_context(|| format!("cannot write {value:?} to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_lines_give_start_and_size_of_assigned_bars() {
        assert_eq!(
            parse_resource_line("0x00000000febe0000 0x00000000febeffff 0x0000000000040200"),
            Some((0xfebe_0000, 0x1_0000))
        );
        assert_eq!(
            parse_resource_line("0x0000000000000000 0x0000000000000000 0x0000000000000000"),
            None
        );
        assert_eq!(parse_resource_line("garbage"), None);
    }
}
