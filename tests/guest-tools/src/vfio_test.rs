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
//! `--identify-at ADDR` sends the Identify page to a raw device address
//! of the caller's choosing instead (how the DMA isolation test aims a
//! borrowed device at memory its borrower never granted) and reports the
//! command's status rather than checking the page.
//!
//! `--read-bar N` only reads the first 64 bytes of BAR N and prints them
//! as Identify data would be (vendor id, model): how the peer-to-peer test
//! checks what another device wrote into this one's memory BAR.
//!
//! `--edu-msi N` drives QEMU's `edu` test device instead: with plain MSI
//! (not MSI-X) routed to an eventfd, it raises the device's interrupt N
//! times (register 0x60) and waits for each, acknowledging it (0x64): how
//! the lending tests check MSI delivery, since no NVMe or NIC model here
//! does plain MSI.
//!
//! Usage: rsio-vfio-test BDF [--dma-offset HEX] [--identify-at HEX] [--read-bar N] [--edu-msi N]

// The VFIO device, BAR mappings and DMA buffers of rsio-ntb-probe.
#[allow(dead_code)]
#[path = "ntb_probe/dmamem.rs"]
mod dmamem;
#[allow(dead_code)]
#[path = "ntb_probe/mmio.rs"]
mod mmio;
#[allow(dead_code)]
#[path = "ntb_probe/vfio.rs"]
mod vfio;

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use dmamem::DmaBuffer;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Identify an NVMe controller through vfio-pci (no-IOMMU mode)")]
struct Args {
    /// The function, bound to vfio-pci: DOMAIN:BUS:DEVICE.FUNCTION.
    bdf: String,
    /// Device address of physical address 0 (hex).
    #[arg(long, default_value = "0", value_parser = parse_hex)]
    dma_offset: u64,
    /// Device address (hex, used as is) for the Identify data: report the
    /// command's status instead of checking the data.
    #[arg(long, value_parser = parse_hex)]
    identify_at: Option<u64>,
    /// Only read the start of this BAR and print it as Identify data.
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..6))]
    read_bar: Option<u32>,
    /// The device is QEMU's edu: raise its interrupt this many times and
    /// wait for each as an MSI.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..100_000))]
    edu_msi: Option<u32>,
}

/// QEMU's `edu` device: ids and BAR0 registers (docs/specs/edu.rst).
mod edu {
    pub const VENDOR: u16 = 0x1234;
    pub const DEVICE: u16 = 0x11e8;
    pub const IDENT: u64 = 0x00;
    pub const IRQ_STATUS: u64 = 0x24;
    pub const IRQ_RAISE: u64 = 0x60;
    pub const IRQ_ACK: u64 = 0x64;
}

/// Raises the edu device's interrupt `times` times, each awaited as an MSI
/// on an eventfd (1 s at most), and acknowledged.
fn edu_msi(d: &vfio::Device, times: u32) -> Result<()> {
    // SAFETY: eventfd has no memory-safety preconditions.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("cannot create an eventfd");
    }
    // SAFETY: a new descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let bar0 = d.region(0)?;
    let len = bar0
        .mappable_from_start()
        .ok_or_else(|| anyhow!("BAR0 cannot be mapped"))?;
    let regs = d.map(&bar0, len.min(0x1000))?;
    println!("edu: ident {:#010x}", regs.read32(edu::IDENT)?);
    d.enable_irqs(vfio::MSI_IRQ_INDEX, &[fd.as_raw_fd()])
        .context("VFIO_DEVICE_SET_IRQS (MSI)")?;
    let mut received = 0;
    for i in 0..times {
        regs.write32(edu::IRQ_RAISE, 1)?;
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd we own, for the length we pass.
        let n = unsafe { libc::poll(&mut pfd, 1, 1000) };
        if n <= 0 {
            let status = regs.read32(edu::IRQ_STATUS)?;
            d.disable_irqs(vfio::MSI_IRQ_INDEX)?;
            bail!("edu: no MSI for raise {i} within 1 s (status {status:#x})");
        }
        let mut count = 0u64;
        // SAFETY: reads 8 bytes into a u64 we own.
        let r = unsafe { libc::read(fd.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
        if r != 8 {
            bail!("edu: reading the eventfd failed");
        }
        received += count;
        regs.write32(edu::IRQ_ACK, 1)?;
    }
    d.disable_irqs(vfio::MSI_IRQ_INDEX)
        .context("VFIO_DEVICE_SET_IRQS (MSI off)")?;
    println!("edu: {times} raised, {received} MSI received");
    Ok(())
}

fn parse_hex(s: &str) -> Result<u64, String> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| e.to_string())
}

/// The no-IOMMU group device of `bdf`.
fn group_path(bdf: &str) -> Result<PathBuf> {
    let link = std::fs::read_link(format!("/sys/bus/pci/devices/{bdf}/iommu_group"))
        .with_context(|| format!("{bdf} has no IOMMU group (not bound to vfio-pci?)"))?;
    let n = link
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("bad group link"))?;
    Ok(PathBuf::from(format!("/dev/vfio/noiommu-{n}")))
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
    let group = group_path(&a.bdf)?;
    let d = vfio::Device::open(&group, &a.bdf)?;
    let config = d.region(vfio::CONFIG_REGION)?;
    let cfg16 = |off: u64| -> Result<u16> {
        let mut b = [0u8; 2];
        d.config_read(&config, off, &mut b)?;
        Ok(u16::from_le_bytes(b))
    };
    let (vendor, device) = (cfg16(0)?, cfg16(2)?);
    println!("config: vendor {vendor:04x} device {device:04x}");
    // Memory decoding and bus mastering on.
    let cmd = cfg16(4)?;
    d.config_write(&config, 4, &(cmd | 0x6).to_le_bytes())?;
    if let Some(times) = a.edu_msi {
        if (vendor, device) != (edu::VENDOR, edu::DEVICE) {
            bail!("not QEMU's edu device ({vendor:04x}:{device:04x})");
        }
        let result = edu_msi(&d, times);
        d.config_write(&config, 4, &cmd.to_le_bytes())?;
        return result;
    }
    if let Some(n) = a.read_bar {
        let bar = d.region(n)?;
        let len = bar
            .mappable_from_start()
            .ok_or_else(|| anyhow!("BAR {n} cannot be mapped"))?;
        let m = d.map(&bar, len.min(0x1000))?;
        let mut page = [0u8; 64];
        for (i, w) in page.chunks_mut(4).enumerate() {
            w.copy_from_slice(&m.read32(i as u64 * 4)?.to_le_bytes());
        }
        let vid = u16::from_le_bytes([page[0], page[1]]);
        let text = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .trim_matches(|c| c == ' ' || c == '\0')
                .to_string()
        };
        println!(
            "bar {n}: vid {vid:04x} serial {} model {}",
            text(&page[4..24]),
            text(&page[24..64])
        );
        d.config_write(&config, 4, &cmd.to_le_bytes())?;
        return Ok(());
    }
    let bar0 = d.region(0)?;
    let len = bar0
        .mappable_from_start()
        .ok_or_else(|| anyhow!("BAR0 cannot be mapped"))?;
    let regs = d.map(&bar0, len.min(0x2000))?;
    let cap = regs.read64(0)?;
    let vs = regs.read32(8)?;
    println!(
        "registers: CAP {cap:#018x} VS {}.{}.{}",
        vs >> 16,
        (vs >> 8) & 0xff,
        vs & 0xff
    );
    let stride = 4u64 << ((cap >> 32) & 0xf);

    // Admin submission queue, admin completion queue, data: one page each.
    let mut sq = DmaBuffer::new(dmamem::PAGE)?;
    let cq = DmaBuffer::new(dmamem::PAGE)?;
    let data = DmaBuffer::new(dmamem::PAGE)?;
    let (sq_dev, cq_dev) = (a.dma_offset + sq.bus(), a.dma_offset + cq.bus());
    let data_dev = a.identify_at.unwrap_or(a.dma_offset + data.bus());
    regs.write32(0x14, 0)?; // CC.EN = 0
    wait("CSTS.RDY = 0", || Ok(regs.read32(0x1c)? & 1 == 0))?;
    regs.write32(0x24, 1 << 16 | 1)?; // AQA: two entries each
    regs.write32(0x28, sq_dev as u32)?; // ASQ
    regs.write32(0x2c, (sq_dev >> 32) as u32)?;
    regs.write32(0x30, cq_dev as u32)?; // ACQ
    regs.write32(0x34, (cq_dev >> 32) as u32)?;
    regs.write32(0x14, 4 << 20 | 6 << 16 | 1)?; // CC: IOCQES 16 B, IOSQES 64 B, EN
    wait("CSTS.RDY = 1", || Ok(regs.read32(0x1c)? & 1 == 1))?;

    // Identify Controller (opcode 6, CNS 1) into the data page.
    let mut sqe = [0u32; 16];
    sqe[0] = 0x06 | (0x1234 << 16);
    sqe[6] = data_dev as u32;
    sqe[7] = (data_dev >> 32) as u32;
    sqe[10] = 1;
    for (i, w) in sqe.iter().enumerate() {
        sq.as_mut_slice()[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    regs.write32(0x1000, 1)?; // SQ 0 tail
    let dw3 = || cq.read_volatile_u32(12).unwrap_or(0);
    wait("the completion", || Ok(dw3() >> 16 & 1 == 1))?;
    let dw3 = dw3();
    regs.write32(0x1000 + stride, 1)?; // CQ 0 head
    let status = dw3 >> 17;
    if let Some(at) = a.identify_at {
        println!("identify to device address {at:#x}: status {status:#x}");
        regs.write32(0x14, 0)?;
        wait("CSTS.RDY = 0", || Ok(regs.read32(0x1c)? & 1 == 0))?;
        d.config_write(&config, 4, &cmd.to_le_bytes())?;
        return Ok(());
    }
    if dw3 & 0xffff != 0x1234 || status != 0 {
        bail!(
            "completion: command {:#x}, status {status:#x}",
            dw3 & 0xffff
        );
    }
    let page = data.as_slice();
    let vid = u16::from_le_bytes([page[0], page[1]]);
    let serial = String::from_utf8_lossy(&page[4..24]).trim().to_string();
    let model = String::from_utf8_lossy(&page[24..64]).trim().to_string();
    println!("identify by DMA to device address {data_dev:#x}: vid {vid:04x} serial {serial} model {model}");
    regs.write32(0x14, 0)?;
    wait("CSTS.RDY = 0", || Ok(regs.read32(0x1c)? & 1 == 0))?;
    d.config_write(&config, 4, &cmd.to_le_bytes())?;
    if vid != vendor {
        bail!("identify says vendor {vid:04x}, config space {vendor:04x}");
    }
    println!("ok");
    Ok(())
}
