//! The VFIO user-space API (linux/vfio.h), as much as the probe needs: a
//! no-IOMMU container, the group, the device, its regions and MSI-X.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::mmio::Mmio;

const VFIO_API_VERSION: libc::c_int = 0;
const VFIO_NOIOMMU_IOMMU: libc::c_ulong = 8;

/// `_IO(';', 100 + n)`.
const fn vfio_io(n: u64) -> libc::c_ulong {
    ((b';' as u64) << 8 | (100 + n)) as libc::c_ulong
}
const VFIO_GET_API_VERSION: libc::c_ulong = vfio_io(0);
const VFIO_CHECK_EXTENSION: libc::c_ulong = vfio_io(1);
const VFIO_SET_IOMMU: libc::c_ulong = vfio_io(2);
const VFIO_GROUP_GET_STATUS: libc::c_ulong = vfio_io(3);
const VFIO_GROUP_SET_CONTAINER: libc::c_ulong = vfio_io(4);
const VFIO_GROUP_GET_DEVICE_FD: libc::c_ulong = vfio_io(6);
const VFIO_DEVICE_GET_REGION_INFO: libc::c_ulong = vfio_io(8);
const VFIO_DEVICE_SET_IRQS: libc::c_ulong = vfio_io(10);

const VFIO_GROUP_FLAGS_VIABLE: u32 = 1;
const REGION_FLAG_MMAP: u32 = 1 << 2;
const REGION_FLAG_CAPS: u32 = 1 << 3;
const REGION_INFO_CAP_SPARSE_MMAP: u16 = 1;
const IRQ_SET_DATA_NONE: u32 = 1 << 0;
const IRQ_SET_DATA_EVENTFD: u32 = 1 << 2;
const IRQ_SET_ACTION_TRIGGER: u32 = 1 << 5;

/// Region indices of a vfio-pci device.
pub const CONFIG_REGION: u32 = 7;
/// IRQ index of MSI-X.
const MSIX_IRQ_INDEX: u32 = 2;
/// VFIO_PCI_MSI_IRQ_INDEX.
#[allow(dead_code)] // rsio-vfio-test
pub const MSI_IRQ_INDEX: u32 = 1;

#[repr(C)]
#[derive(Default)]
struct GroupStatus {
    argsz: u32,
    flags: u32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct RegionInfoHeader {
    argsz: u32,
    flags: u32,
    index: u32,
    cap_offset: u32,
    size: u64,
    offset: u64,
}

/// What VFIO says about one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub index: u32,
    pub size: u64,
    /// Where the region starts in the device file.
    pub offset: u64,
    pub mmap: bool,
    /// The parts that may be mapped, if only some may (offset, size).
    pub sparse: Option<Vec<(u64, u64)>>,
}

impl Region {
    /// The mappable span starting at region offset 0, if any.
    pub fn mappable_from_start(&self) -> Option<u64> {
        if !self.mmap {
            return None;
        }
        match &self.sparse {
            None => Some(self.size),
            Some(areas) => areas
                .iter()
                .find(|(offset, _)| *offset == 0)
                .map(|(_, size)| *size),
        }
    }
}

/// An open VFIO device in a no-IOMMU container. Closing it (drop) disables
/// its interrupts and bus mastering (vfio-pci does that on release).
pub struct Device {
    // The container and group must outlive the device file.
    device: File,
    _group: File,
    _container: File,
}

fn ioctl(fd: RawFd, request: libc::c_ulong, arg: libc::c_ulong) -> std::io::Result<libc::c_int> {
    // SAFETY: every caller passes a request whose argument is either a plain integer or a pointer to a live, correctly sized structure.
    let rc = unsafe { libc::ioctl(fd, request, arg) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn open_rw(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))
}

impl Device {
    /// Opens device `bdf` of the group at `group_path` (vfio-pci bound, no
    /// IOMMU).
    pub fn open(group_path: &Path, bdf: &str) -> Result<Device> {
        let container = open_rw(Path::new("/dev/vfio/vfio"))?;
        let version = ioctl(container.as_raw_fd(), VFIO_GET_API_VERSION, 0)?;
        if version != VFIO_API_VERSION {
            bail!("VFIO API version {version}, expected {VFIO_API_VERSION}");
        }
        if ioctl(
            container.as_raw_fd(),
            VFIO_CHECK_EXTENSION,
            VFIO_NOIOMMU_IOMMU,
        )? == 0
        {
            bail!("VFIO has no no-IOMMU support");
        }
        let group = open_rw(group_path).context("is another process using the adapter?")?;
        let mut status = GroupStatus {
            argsz: std::mem::size_of::<GroupStatus>() as u32,
            flags: 0,
        };
        ioctl(
            group.as_raw_fd(),
            VFIO_GROUP_GET_STATUS,
            &mut status as *mut _ as libc::c_ulong,
        )
        .context("VFIO_GROUP_GET_STATUS")?;
        if status.flags & VFIO_GROUP_FLAGS_VIABLE == 0 {
            bail!("VFIO group {} is not viable", group_path.display());
        }
        let container_fd: libc::c_int = container.as_raw_fd();
        ioctl(
            group.as_raw_fd(),
            VFIO_GROUP_SET_CONTAINER,
            &container_fd as *const _ as libc::c_ulong,
        )
        .context("VFIO_GROUP_SET_CONTAINER")?;
        ioctl(container.as_raw_fd(), VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU)
            .context("VFIO_SET_IOMMU (no-IOMMU)")?;
        let name = CString::new(bdf).context("a device name with a NUL")?;
        let fd = ioctl(
            group.as_raw_fd(),
            VFIO_GROUP_GET_DEVICE_FD,
            name.as_ptr() as libc::c_ulong,
        )
        .with_context(|| format!("VFIO_GROUP_GET_DEVICE_FD {bdf}"))?;
        // SAFETY: the ioctl returned a new descriptor that we now own.
        let device = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        Ok(Device {
            device,
            _group: group,
            _container: container,
        })
    }

    /// The region `index` (a BAR 0..=5, or [`CONFIG_REGION`]).
    pub fn region(&self, index: u32) -> Result<Region> {
        let header = std::mem::size_of::<RegionInfoHeader>();
        let mut buf = vec![0u64; header.div_ceil(8)];
        let mut argsz = header;
        loop {
            buf.resize(argsz.div_ceil(8), 0);
            let info = RegionInfoHeader {
                argsz: argsz as u32,
                index,
                ..Default::default()
            };
            // SAFETY: `buf` holds at least `header` bytes, 8-byte aligned.
            unsafe { buf.as_mut_ptr().cast::<RegionInfoHeader>().write(info) };
            ioctl(
                self.device.as_raw_fd(),
                VFIO_DEVICE_GET_REGION_INFO,
                buf.as_mut_ptr() as libc::c_ulong,
            )
            .with_context(|| format!("VFIO_DEVICE_GET_REGION_INFO {index}"))?;
            // SAFETY: as above; the kernel filled it in.
            let got = unsafe { buf.as_ptr().cast::<RegionInfoHeader>().read() };
            if got.argsz as usize > argsz {
                argsz = got.argsz as usize;
                continue;
            }
            let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_ne_bytes()).collect();
            let sparse = if got.flags & REGION_FLAG_CAPS != 0 {
                sparse_areas(&bytes[..argsz], got.cap_offset as usize)
            } else {
                None
            };
            return Ok(Region {
                index,
                size: got.size,
                offset: got.offset,
                mmap: got.flags & REGION_FLAG_MMAP != 0,
                sparse,
            });
        }
    }

    /// Maps `len` bytes from the start of `region`.
    pub fn map(&self, region: &Region, len: u64) -> Result<Mmio> {
        let len = usize::try_from(len).context("region too large")?;
        Mmio::map(self.device.as_raw_fd(), region.offset, len)
            .with_context(|| format!("cannot map region {}", region.index))
    }

    /// Reads `buf.len()` bytes of config space at `offset`.
    pub fn config_read(&self, config: &Region, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.device
            .read_exact_at(buf, config.offset + offset)
            .with_context(|| format!("cannot read config space at {offset:#x}"))
    }

    /// Writes `data` to config space at `offset`.
    pub fn config_write(&self, config: &Region, offset: u64, data: &[u8]) -> Result<()> {
        self.device
            .write_all_at(data, config.offset + offset)
            .with_context(|| format!("cannot write config space at {offset:#x}"))
    }

    /// Routes MSI-X vectors `0..eventfds.len()` to the eventfds (enabling
    /// MSI-X).
    pub fn enable_msix(&self, eventfds: &[RawFd]) -> Result<()> {
        self.enable_irqs(MSIX_IRQ_INDEX, eventfds)
            .context("VFIO_DEVICE_SET_IRQS (MSI-X)")
    }

    /// Disables MSI-X.
    pub fn disable_msix(&self) -> Result<()> {
        self.disable_irqs(MSIX_IRQ_INDEX)
            .context("VFIO_DEVICE_SET_IRQS (MSI-X off)")
    }

    /// Routes vectors `0..eventfds.len()` of IRQ index `index` (MSI,
    /// MSI-X) to the eventfds, enabling that interrupt mode.
    pub fn enable_irqs(&self, index: u32, eventfds: &[RawFd]) -> Result<()> {
        let mut set = irq_set(
            IRQ_SET_DATA_EVENTFD | IRQ_SET_ACTION_TRIGGER,
            index,
            eventfds.len() as u32,
        );
        for fd in eventfds {
            set.extend_from_slice(&fd.to_ne_bytes());
        }
        self.set_irqs(&mut set)
    }

    /// Disables IRQ index `index`.
    pub fn disable_irqs(&self, index: u32) -> Result<()> {
        let mut set = irq_set(IRQ_SET_DATA_NONE | IRQ_SET_ACTION_TRIGGER, index, 0);
        self.set_irqs(&mut set)
    }

    fn set_irqs(&self, set: &mut [u8]) -> Result<()> {
        let len = set.len() as u32;
        set[..4].copy_from_slice(&len.to_ne_bytes());
        ioctl(
            self.device.as_raw_fd(),
            VFIO_DEVICE_SET_IRQS,
            set.as_mut_ptr() as libc::c_ulong,
        )?;
        Ok(())
    }
}

/// A `vfio_irq_set` header for vectors `0..count` of IRQ index `index`
/// (argsz is filled in by `set_irqs`).
fn irq_set(flags: u32, index: u32, count: u32) -> Vec<u8> {
    [0, flags, index, 0, count]
        .iter()
        .flat_map(|v: &u32| v.to_ne_bytes())
        .collect()
}

/// Walks the capability chain of a region info for the sparse-mmap areas.
fn sparse_areas(info: &[u8], mut offset: usize) -> Option<Vec<(u64, u64)>> {
    let u16_at = |o: usize| Some(u16::from_ne_bytes(info.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_ne_bytes(info.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_ne_bytes(info.get(o..o + 8)?.try_into().ok()?));
    // A chain longer than the buffer's 8-byte steps would be a loop.
    for _ in 0..info.len() / 8 {
        if offset == 0 {
            return None;
        }
        let (id, next) = (u16_at(offset)?, u32_at(offset + 4)?);
        if id == REGION_INFO_CAP_SPARSE_MMAP {
            let count = u32_at(offset + 8)? as usize;
            return (0..count)
                .map(|i| {
                    let area = offset + 16 + 16 * i;
                    Some((u64_at(area)?, u64_at(area + 8)?))
                })
                .collect();
        }
        offset = next as usize;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_linux_vfio_h() {
        assert_eq!(VFIO_GET_API_VERSION, 0x3B64);
        assert_eq!(VFIO_GROUP_GET_DEVICE_FD, 0x3B6A);
        assert_eq!(VFIO_DEVICE_GET_REGION_INFO, 0x3B6C);
        assert_eq!(VFIO_DEVICE_SET_IRQS, 0x3B6E);
    }

    #[test]
    fn the_sparse_mmap_capability_lists_its_areas() {
        let mut info = vec![0u8; 32];
        // Capability header at 32: id 1, version 1, next 0; 2 areas.
        for v in [1u16, 1] {
            info.extend_from_slice(&v.to_ne_bytes());
        }
        info.extend_from_slice(&0u32.to_ne_bytes());
        info.extend_from_slice(&2u32.to_ne_bytes());
        info.extend_from_slice(&0u32.to_ne_bytes());
        for v in [0u64, 0x8000, 0xa000, 0x6000] {
            info.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(
            sparse_areas(&info, 32),
            Some(vec![(0, 0x8000), (0xa000, 0x6000)])
        );
        let region = Region {
            index: 0,
            size: 0x10000,
            offset: 0,
            mmap: true,
            sparse: sparse_areas(&info, 32),
        };
        assert_eq!(region.mappable_from_start(), Some(0x8000));
    }

    #[test]
    fn a_capability_chain_that_loops_or_runs_off_ends() {
        let mut info = vec![0u8; 48];
        info[32..34].copy_from_slice(&7u16.to_ne_bytes());
        info[36..40].copy_from_slice(&32u32.to_ne_bytes()); // next: itself
        assert_eq!(sparse_areas(&info, 32), None);
        assert_eq!(sparse_areas(&info, 4000), None);
    }
}
