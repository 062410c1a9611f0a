//! A dummy PCI device served over vfio-user, to try the server with a real
//! QEMU.
//!
//! ```text
//! cargo run --example dummy_device -- /tmp/dummy.sock
//! qemu-system-x86_64 ... -object memory-backend-memfd,id=ram,size=384M,share=on \
//!     -device '{"driver":"vfio-user-pci","socket":{"path":"/tmp/dummy.sock","type":"unix"}}'
//! ```
//!
//! The device (vendor 0x7273, rsio's own unassigned id, as in docs/adapter.md;
//! device 0x00d0; class 0xff "unassigned"):
//!
//! * BAR0, 4 KiB of trapped registers:
//!   - 0x00 SCRATCH (rw), 0x04 ID (ro, 0x727300d0),
//!   - 0x08 IRQ: writing N raises MSI-X vector N,
//!   - 0x0c ACCESSES (ro): how many BAR0 accesses the device has served,
//!   - 0x10/0x14 DMA_ADDR (rw), 0x18 DMA_LEN (rw),
//!   - 0x1c DMA_GO: writing 1 makes a worker thread read DMA_LEN bytes at
//!     DMA_ADDR through DMA_READ messages, 2 through the mapped guest
//!     memory, 3 write DMA_LEN bytes of 0x5a there through DMA_WRITE; then
//!     DMA_STATUS is set and MSI-X vector 0 raised,
//!   - 0x20 DMA_STATUS (ro): 1 done, 0x80000000 | errno-ish on failure,
//!   - 0x24 DMA_SUM (ro): byte sum of what was read,
//!   - 0x800 MSI-X table (emulated by QEMU), 0xc00 MSI-X PBA;
//! * BAR2, 1 MiB of shared memory QEMU maps into the guest; the device
//!   prints the first 8 bytes whenever they change;
//! * 4 MSI-X vectors.

use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsio_emu::vfio_user::*;

const BAR0_SIZE: u64 = 4096;
const BAR2_SIZE: u64 = 1 << 20;
const VECTORS: u16 = 4;
const PBA: u64 = 0xc00;

#[derive(Default)]
struct Registers {
    scratch: u32,
    accesses: u32,
    dma_addr: u64,
    dma_len: u32,
    dma_status: u32,
    dma_sum: u32,
}

struct Dummy {
    config: Mutex<ConfigSpace>,
    regs: Arc<Mutex<Registers>>,
    bar2: SharedMemory,
    /// Jobs for the DMA worker: (DMA_GO value, address, length).
    jobs: Mutex<Sender<(u32, u64, u32)>>,
}

impl Dummy {
    fn new(peer_slot: Arc<Mutex<Option<Peer>>>) -> Arc<Dummy> {
        let mut config = ConfigSpace::new(&PciIds {
            vendor_id: 0x7273,
            device_id: 0x00d0,
            subsystem_vendor_id: 0x7273,
            subsystem_id: 0x00d0,
            revision: 1,
            class_code: 0xff0000,
        });
        config.set_bar(0, Bar::memory32(BAR0_SIZE)).expect("BAR0");
        config
            .set_bar(2, Bar::memory64(BAR2_SIZE).prefetchable())
            .expect("BAR2");
        config
            .add_msix(MsixLayout {
                vectors: VECTORS,
                table_bar: 0,
                table_offset: 0x800,
                pba_bar: 0,
                pba_offset: PBA as u32,
            })
            .expect("MSI-X");
        let regs = Arc::new(Mutex::new(Registers::default()));
        let (tx, rx) = channel::<(u32, u64, u32)>();
        let worker_regs = regs.clone();
        std::thread::spawn(move || {
            for (op, addr, len) in rx {
                let Some(peer) = peer_slot.lock().unwrap().clone() else {
                    continue;
                };
                let (status, sum) = run_dma(&peer, op, addr, len);
                {
                    let mut r = worker_regs.lock().unwrap();
                    r.dma_status = status;
                    r.dma_sum = sum;
                }
                let _ = peer.irqs().trigger(irq_index::MSIX, 0);
            }
        });
        Arc::new(Dummy {
            config: Mutex::new(config),
            regs,
            bar2: SharedMemory::new("dummy-bar2", BAR2_SIZE).expect("memfd"),
            jobs: Mutex::new(tx),
        })
    }
}

/// One DMA job, timed; returns (status, byte sum).
fn run_dma(peer: &Peer, op: u32, addr: u64, len: u32) -> (u32, u32) {
    let mut buf = vec![0u8; len as usize];
    let started = std::time::Instant::now();
    let result = match op {
        1 => peer.dma().dma_read(addr, &mut buf),
        2 => peer.memory().read(addr, &mut buf),
        3 => {
            buf.fill(0x5a);
            peer.dma().dma_write(addr, &buf)
        }
        _ => return (0x8000_0000, 0),
    };
    let sum = buf.iter().map(|&b| u32::from(b)).sum();
    match result {
        Ok(()) => {
            println!(
                "dummy: DMA op {op} of {len} bytes at {addr:#x} took {:?}, sum {sum:#x}",
                started.elapsed()
            );
            (1, sum)
        }
        Err(e) => {
            println!(
                "dummy: DMA op {op} at {addr:#x} failed after {:?}: {e}",
                started.elapsed()
            );
            (0x8000_0002, 0)
        }
    }
}

impl Device for Dummy {
    fn region(&self, index: u32) -> Region {
        match index {
            region_index::BAR0 => Region::trapped(BAR0_SIZE),
            region_index::BAR2 => {
                let fd = self.bar2.fd().try_clone_to_owned().expect("dup memfd");
                let all = SparseArea {
                    offset: 0,
                    size: BAR2_SIZE,
                };
                Region::trapped(BAR2_SIZE).mappable(fd, 0, vec![all])
            }
            region_index::CONFIG => Region::trapped(CONFIG_SPACE_SIZE as u64),
            _ => Region::absent(),
        }
    }

    fn irq_count(&self, index: u32) -> u32 {
        match index {
            irq_index::MSIX => u32::from(VECTORS),
            irq_index::ERR | irq_index::REQ => 1,
            _ => 0,
        }
    }

    fn region_read(
        &self,
        peer: &Peer,
        index: u32,
        offset: u64,
        data: &mut [u8],
    ) -> Result<(), Errno> {
        match index {
            region_index::CONFIG => self.config.lock().unwrap().read(offset, data),
            region_index::BAR2 => self.bar2.read(offset, data),
            region_index::BAR0 => {
                let mut r = self.regs.lock().unwrap();
                r.accesses = r.accesses.wrapping_add(1);
                let value: u64 = match offset {
                    0x00 => u64::from(r.scratch),
                    0x04 => 0x7273_00d0,
                    0x0c => u64::from(r.accesses),
                    0x10 => r.dma_addr,
                    0x14 => r.dma_addr >> 32,
                    0x18 => u64::from(r.dma_len),
                    0x20 => u64::from(r.dma_status),
                    0x24 => u64::from(r.dma_sum),
                    o if (PBA..PBA + 8).contains(&o) => {
                        peer.irqs().pending_bits(irq_index::MSIX, 0) >> (8 * (o - PBA))
                    }
                    _ => 0,
                };
                let n = data.len().min(8);
                data[..n].copy_from_slice(&value.to_le_bytes()[..n]);
                Ok(())
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn region_write(&self, peer: &Peer, index: u32, offset: u64, data: &[u8]) -> Result<(), Errno> {
        match index {
            region_index::CONFIG => self.config.lock().unwrap().write(offset, data),
            region_index::BAR2 => self.bar2.write(offset, data),
            region_index::BAR0 => {
                let mut bytes = [0u8; 8];
                let n = data.len().min(8);
                bytes[..n].copy_from_slice(&data[..n]);
                let value = u64::from_le_bytes(bytes);
                let mut r = self.regs.lock().unwrap();
                r.accesses = r.accesses.wrapping_add(1);
                match offset {
                    0x00 => {
                        r.scratch = value as u32;
                        println!("dummy: SCRATCH <- {:#x}", value as u32);
                    }
                    0x08 => {
                        let delivery = peer.irqs().trigger(irq_index::MSIX, value as u32);
                        println!("dummy: raise MSI-X vector {value}: {delivery:?}");
                    }
                    0x10 => r.dma_addr = (r.dma_addr & !0xffff_ffff) | (value & 0xffff_ffff),
                    0x14 => r.dma_addr = (r.dma_addr & 0xffff_ffff) | (value << 32),
                    0x18 => r.dma_len = value as u32,
                    0x1c => {
                        // Never wait for DMA here: QEMU is waiting for us.
                        r.dma_status = 0;
                        let _ =
                            self.jobs
                                .lock()
                                .unwrap()
                                .send((value as u32, r.dma_addr, r.dma_len));
                    }
                    _ => {}
                }
                Ok(())
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn dma_map(&self, _peer: &Peer, region: &DmaRegion) {
        println!("dummy: DMA_MAP {region:?}");
    }

    fn dma_unmap(&self, _peer: &Peer, region: &DmaRegion) {
        println!("dummy: DMA_UNMAP {region:?}");
    }

    fn reset(&self, _peer: &Peer) -> Result<(), Errno> {
        println!("dummy: reset");
        self.config.lock().unwrap().reset();
        Ok(())
    }

    fn connected(&self, _peer: &Peer) {
        println!("dummy: client connected");
    }

    fn disconnected(&self, _peer: &Peer) {
        println!("dummy: client disconnected");
    }
}

/// Prints `log` records to stderr (level from RSIO_EMU_LOG: error, warn,
/// info, debug; default info).
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        eprintln!("{} {}", record.level(), record.args());
    }

    fn flush(&self) {}
}

fn main() -> std::io::Result<()> {
    let level = match std::env::var("RSIO_EMU_LOG").as_deref() {
        Ok("error") => log::LevelFilter::Error,
        Ok("warn") => log::LevelFilter::Warn,
        Ok("debug") => log::LevelFilter::Debug,
        _ => log::LevelFilter::Info,
    };
    let _ = log::set_logger(&StderrLogger).map(|()| log::set_max_level(level));

    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/dummy.sock".into());
    let peer_slot = Arc::new(Mutex::new(None));
    let device = Dummy::new(peer_slot.clone());
    let server = Server::new(device.clone());
    *peer_slot.lock().unwrap() = Some(server.peer().clone());

    // Show guest writes to the mapped BAR2 as the device sees them.
    let watched = device.clone();
    std::thread::spawn(move || {
        let mut last = [0u8; 8];
        loop {
            let mut now = [0u8; 8];
            let _ = watched.bar2.read(0, &mut now);
            if now != last {
                println!(
                    "dummy: BAR2[0..8] (memfd) = {:#018x}",
                    u64::from_le_bytes(now)
                );
                last = now;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });

    let listening = server.listen(&path)?;
    println!("dummy: serving on {path}");
    listening.wait();
    Ok(())
}
