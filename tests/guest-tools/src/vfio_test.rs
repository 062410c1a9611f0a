//! `rsio-vfio-test`: drives an NVMe controller bound to vfio-pci from user
//! space, without an IOMMU (vfio's no-IOMMU mode), the way a user-space
//! driver or a VMM would: reads its registers through the BAR region,
//! then brings up an admin queue in its own locked pages and has the
//! controller DMA an Identify Controller page into them.
//!
//! For a device borrowed with rsio_lend the device address of a page is
//! not its physical address: it is `dma_offset + physical` (the lender's
//! direct window onto this node's RAM; `rsio borrow --json` prints the
//! offset). For a local device the offset is 0.
//!
//! Usage: rsio-vfio-test BDF [--dma-offset HEX]

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Identify an NVMe controller through vfio-pci (no-IOMMU mode)")]
struct Args {
    /// The function, bound to vfio-pci: DOMAIN:BUS:DEVICE.FUNCTION.
    bdf: String,
    /// Device address of physical address 0 (hex).
    #[arg(long, default_value = "0", value_parser = parse_hex)]
    dma_offset: u64,
}

fn parse_hex(s: &str) -> Result<u64, String> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| e.to_string())
}

// linux/vfio.h: _IO(';', 100 + n).
const fn vfio_io(n: u64) -> u64 {
    (b';' as u64) << 8 | (100 + n)
}
const VFIO_GET_API_VERSION: u64 = vfio_io(0);
const VFIO_CHECK_EXTENSION: u64 = vfio_io(1);
const VFIO_SET_IOMMU: u64 = vfio_io(2);
const VFIO_GROUP_GET_STATUS: u64 = vfio_io(3);
const VFIO_GROUP_SET_CONTAINER: u64 = vfio_io(4);
const VFIO_GROUP_GET_DEVICE_FD: u64 = vfio_io(6);
const VFIO_DEVICE_GET_REGION_INFO: u64 = vfio_io(8);
const VFIO_NOIOMMU_IOMMU: u64 = 8;
const VFIO_GROUP_FLAGS_VIABLE: u32 = 1;
const VFIO_PCI_BAR0_REGION_INDEX: u32 = 0;
const VFIO_PCI_CONFIG_REGION_INDEX: u32 = 7;

#[repr(C)]
#[derive(Default)]
struct GroupStatus {
    argsz: u32,
    flags: u32,
}

#[repr(C)]
#[derive(Default, Debug)]
struct RegionInfo {
    argsz: u32,
    flags: u32,
    index: u32,
    cap_offset: u32,
    size: u64,
    offset: u64,
}

/// `ioctl(fd, req, arg)`, its non-negative result or the OS error.
fn ioctl(fd: &impl AsRawFd, req: u64, arg: libc::c_ulong) -> Result<i32> {
    // SAFETY: Each caller passes a request with the argument it expects: a
    // value, or a pointer to a live struct of the request's layout.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req as _, arg) };
    if r < 0 {
        Err(std::io::Error::last_os_error().into())
    } else {
        Ok(r)
    }
}

struct Device {
    fd: File,
    config: RegionInfo,
    bar0: RegionInfo,
}

impl Device {
    fn open(bdf: &str) -> Result<Self> {
        let container = OpenOptions::new().read(true).write(true).open("/dev/vfio/vfio")?;
        let v = ioctl(&container, VFIO_GET_API_VERSION, 0)?;
        if ioctl(&container, VFIO_CHECK_EXTENSION, VFIO_NOIOMMU_IOMMU)? != 1 {
            bail!("vfio has no no-IOMMU mode (enable_unsafe_noiommu_mode=1?)");
        }
        let link = std::fs::read_link(format!("/sys/bus/pci/devices/{bdf}/iommu_group"))
            .with_context(|| format!("{bdf} has no IOMMU group (not bound to vfio-pci?)"))?;
        let n = link.file_name().and_then(|n| n.to_str()).ok_or_else(|| anyhow!("bad group link"))?;
        let gpath = format!("/dev/vfio/noiommu-{n}");
        let group = OpenOptions::new().read(true).write(true).open(&gpath).context(gpath.clone())?;
        let mut st = GroupStatus {
            argsz: std::mem::size_of::<GroupStatus>() as u32,
            ..Default::default()
        };
        ioctl(&group, VFIO_GROUP_GET_STATUS, &mut st as *mut _ as libc::c_ulong)?;
        if st.flags & VFIO_GROUP_FLAGS_VIABLE == 0 {
            bail!("group {gpath} is not viable");
        }
        let cfd = container.as_raw_fd();
        ioctl(&group, VFIO_GROUP_SET_CONTAINER, &cfd as *const _ as libc::c_ulong)?;
        ioctl(&container, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU)?;
        let name = std::ffi::CString::new(bdf)?;
        let dfd = ioctl(&group, VFIO_GROUP_GET_DEVICE_FD, name.as_ptr() as libc::c_ulong)?;
        // SAFETY: `dfd` is a new file descriptor the kernel just gave us.
        let fd = File::from(unsafe { OwnedFd::from_raw_fd(dfd) });
        let region = |index| -> Result<RegionInfo> {
            let mut r = RegionInfo {
                argsz: std::mem::size_of::<RegionInfo>() as u32,
                index,
                ..Default::default()
            };
            ioctl(&fd, VFIO_DEVICE_GET_REGION_INFO, &mut r as *mut _ as libc::c_ulong)?;
            Ok(r)
        };
        let config = region(VFIO_PCI_CONFIG_REGION_INDEX)?;
        let bar0 = region(VFIO_PCI_BAR0_REGION_INDEX)?;
        println!("vfio api {v}, group {gpath}, BAR0 {} bytes", bar0.size);
        // The container and group must stay open while the device is used.
        std::mem::forget(container);
        std::mem::forget(group);
        Ok(Self { fd, config, bar0 })
    }

    fn cfg16(&self, off: u64) -> Result<u16> {
        let mut b = [0u8; 2];
        self.fd.read_exact_at(&mut b, self.config.offset + off)?;
        Ok(u16::from_le_bytes(b))
    }

    fn set_cfg16(&self, off: u64, v: u16) -> Result<()> {
        self.fd.write_all_at(&v.to_le_bytes(), self.config.offset + off)?;
        Ok(())
    }

    fn r32(&self, off: u64) -> Result<u32> {
        let mut b = [0u8; 4];
        self.fd.read_exact_at(&mut b, self.bar0.offset + off)?;
        Ok(u32::from_le_bytes(b))
    }

    fn r64(&self, off: u64) -> Result<u64> {
        Ok(u64::from(self.r32(off)?) | (u64::from(self.r32(off + 4)?) << 32))
    }

    fn w32(&self, off: u64, v: u32) -> Result<()> {
        self.fd.write_all_at(&v.to_le_bytes(), self.bar0.offset + off)?;
        Ok(())
    }

    fn w64(&self, off: u64, v: u64) -> Result<()> {
        self.w32(off, v as u32)?;
        self.w32(off + 4, (v >> 32) as u32)
    }
}

/// Locked, zeroed pages and their physical addresses.
struct Pages {
    ptr: *mut u8,
    phys: Vec<u64>,
}

impl Pages {
    fn new(n: usize) -> Result<Self> {
        let len = n * 4096;
        // SAFETY: An anonymous private mapping; no file, no fixed address.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_LOCKED | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error().into());
        }
        let pagemap = File::open("/proc/self/pagemap")?;
        let mut phys = Vec::new();
        for i in 0..n {
            let va = ptr as u64 + (i as u64) * 4096;
            let mut e = [0u8; 8];
            pagemap.read_exact_at(&mut e, (va / 4096) * 8)?;
            let e = u64::from_le_bytes(e);
            if e >> 63 == 0 || e & ((1 << 55) - 1) == 0 {
                bail!("page {i} is not present or its frame is hidden (not root?)");
            }
            phys.push((e & ((1 << 55) - 1)) * 4096);
        }
        Ok(Self { ptr: ptr.cast(), phys })
    }

    fn page(&self, i: usize) -> *mut u8 {
        // SAFETY: `i` is below the page count the callers allocated.
        unsafe { self.ptr.add(i * 4096) }
    }
}

fn wait(what: &str, mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let t = Instant::now();
    while !done()? {
        if t.elapsed() > Duration::from_secs(10) {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

fn main() -> Result<()> {
    let a = Args::parse();
    let d = Device::open(&a.bdf)?;
    let (vendor, device) = (d.cfg16(0)?, d.cfg16(2)?);
    println!("config: vendor {vendor:04x} device {device:04x}");
    // Memory decoding and bus mastering on.
    let cmd = d.cfg16(4)?;
    d.set_cfg16(4, cmd | 0x6)?;
    let cap = d.r64(0)?;
    let vs = d.r32(8)?;
    println!(
        "registers: CAP {cap:#018x} VS {}.{}.{}",
        vs >> 16,
        (vs >> 8) & 0xff,
        vs & 0xff
    );
    let stride = 4u64 << ((cap >> 32) & 0xf);

    // Pages: admin submission queue, admin completion queue, data.
    let p = Pages::new(3)?;
    let bus: Vec<u64> = p.phys.iter().map(|x| a.dma_offset + x).collect();
    d.w32(0x14, 0)?; // CC.EN = 0
    wait("CSTS.RDY = 0", || Ok(d.r32(0x1c)? & 1 == 0))?;
    d.w32(0x24, 1 << 16 | 1)?; // AQA: two entries each
    d.w64(0x28, bus[0])?; // ASQ
    d.w64(0x30, bus[1])?; // ACQ
    d.w32(0x14, 4 << 20 | 6 << 16 | 1)?; // CC: IOCQES 16 B, IOSQES 64 B, EN
    wait("CSTS.RDY = 1", || Ok(d.r32(0x1c)? & 1 == 1))?;

    // Identify Controller (opcode 6, CNS 1) into the data page.
    let mut sqe = [0u32; 16];
    sqe[0] = 0x06 | (0x1234 << 16);
    sqe[6] = bus[2] as u32;
    sqe[7] = (bus[2] >> 32) as u32;
    sqe[10] = 1;
    for (i, w) in sqe.iter().enumerate() {
        // SAFETY: Page 0 is ours, 4096 bytes; the controller reads it only after the doorbell below.
        unsafe { std::ptr::write_volatile(p.page(0).cast::<u32>().add(i), *w) };
    }
    d.w32(0x1000, 1)?; // SQ 0 tail
    let cqe = p.page(1).cast::<u32>();
    // SAFETY: Page 1 is ours; the controller writes the entry by DMA, so it is read volatile.
    wait("the completion", || Ok(unsafe { std::ptr::read_volatile(cqe.add(3)) } >> 16 & 1 == 1))?;
    // SAFETY: As above.
    let dw3 = unsafe { std::ptr::read_volatile(cqe.add(3)) };
    d.w32(0x1000 + stride, 1)?; // CQ 0 head
    let status = dw3 >> 17;
    if dw3 & 0xffff != 0x1234 || status != 0 {
        bail!("completion: command {:#x}, status {status:#x}", dw3 & 0xffff);
    }
    // SAFETY: Page 2 is ours and the controller has finished writing it (completion seen).
    let data = unsafe { std::slice::from_raw_parts(p.page(2), 4096) };
    let vid = u16::from_le_bytes([data[0], data[1]]);
    let model = String::from_utf8_lossy(&data[24..64]).trim().to_string();
    let serial = String::from_utf8_lossy(&data[4..24]).trim().to_string();
    println!(
        "identify by DMA to device address {:#x}: vid {vid:04x} serial {serial} model {model}",
        bus[2]
    );
    d.w32(0x14, 0)?;
    wait("CSTS.RDY = 0", || Ok(d.r32(0x1c)? & 1 == 0))?;
    d.set_cfg16(4, cmd)?;
    if vid != vendor {
        bail!("identify says vendor {vid:04x}, config space {vendor:04x}");
    }
    println!("ok");
    Ok(())
}
