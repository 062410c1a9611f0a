//! A small device model and helpers shared by the integration tests.
//!
//! The device: BAR0 is 4 KiB of trapped registers (below) with the MSI-X
//! table at 0x800 and PBA at 0xc00; BAR2 is 64 KiB of shared memory whose
//! first half the client may map; 4 MSI-X vectors, one ERR and one REQ
//! vector.
#![allow(dead_code)]

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsio_emu::vfio_user::client::{Client, TestMemory};
use rsio_emu::vfio_user::*;

/// rsio's own vendor id (not a PCI-SIG assignment; see docs/adapter.md).
pub const VENDOR: u16 = 0x7273;
pub const DEVICE: u16 = 0x00d0;

/// BAR0 registers.
pub mod regs {
    /// Read-write scratch register.
    pub const SCRATCH: u64 = 0x00;
    /// Read-only identity: 0x7273_00d0.
    pub const ID: u64 = 0x04;
    /// Write N: raise MSI-X vector N.
    pub const IRQ: u64 = 0x08;
    /// Write N: try DMA_READ of N bytes at 0 through the port, inline from
    /// the handler (which must refuse); the outcome lands in `inline_dma`.
    pub const INLINE_DMA: u64 = 0x0c;
    /// Write N: DMA_READ N bytes at the test memory's base through
    /// `other_port` (another connection's); the outcome lands in
    /// `inline_dma`.
    pub const OTHER_DMA: u64 = 0x10;
    /// Write N: after 300 ms, N lands in BAR2 at `bar2::SLOW_TARGET`.
    pub const SLOW_BAR2: u64 = 0x14;
    pub const MSIX_TABLE: u64 = 0x800;
    pub const MSIX_PBA: u64 = 0xc00;
}

/// BAR2 offsets.
pub mod bar2 {
    /// Where a SLOW_BAR2 write lands (in the half the client does not map).
    pub const SLOW_TARGET: u64 = 0x8000;
}

pub const BAR0_SIZE: u64 = 4096;
pub const BAR2_SIZE: u64 = 64 * 1024;
pub const MSIX_VECTORS: u16 = 4;
pub const ID_VALUE: u32 = 0x7273_00d0;

/// Everything the device was told, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Connected,
    DmaMap { addr: u64, size: u64, mapped: bool },
    DmaUnmap { addr: u64, size: u64 },
    Reset,
    Disconnected,
}

pub struct TestDevice {
    config: Mutex<ConfigSpace>,
    scratch: Mutex<u32>,
    pub bar2: SharedMemory,
    pub events: Mutex<Vec<Event>>,
    /// Outcome of the last INLINE_DMA or OTHER_DMA write.
    pub inline_dma: Mutex<Option<String>>,
    /// Another server's port, for OTHER_DMA.
    pub other_port: Mutex<Option<DmaPort>>,
    /// The thread that performed the last BAR2 write (BAR2 writes are
    /// prompt: `Device::writes_promptly`).
    pub bar2_writer: Mutex<Option<String>>,
}

impl TestDevice {
    pub fn new() -> Arc<TestDevice> {
        let mut config = ConfigSpace::new(&PciIds {
            vendor_id: VENDOR,
            device_id: DEVICE,
            subsystem_vendor_id: VENDOR,
            subsystem_id: DEVICE,
            revision: 1,
            class_code: 0xff0000,
        });
        config.set_bar(0, Bar::memory32(BAR0_SIZE)).unwrap();
        config
            .set_bar(2, Bar::memory64(BAR2_SIZE).prefetchable())
            .unwrap();
        config
            .add_msix(MsixLayout {
                vectors: MSIX_VECTORS,
                table_bar: 0,
                table_offset: regs::MSIX_TABLE as u32,
                pba_bar: 0,
                pba_offset: regs::MSIX_PBA as u32,
            })
            .unwrap();
        Arc::new(TestDevice {
            config: Mutex::new(config),
            scratch: Mutex::new(0),
            bar2: SharedMemory::new("test-bar2", BAR2_SIZE).unwrap(),
            events: Mutex::new(Vec::new()),
            inline_dma: Mutex::new(None),
            other_port: Mutex::new(None),
            bar2_writer: Mutex::new(None),
        })
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    fn record(&self, event: Event) {
        self.events.lock().unwrap().push(event);
    }

    fn bar0_read(&self, peer: &Peer, offset: u64, data: &mut [u8]) -> Result<(), Errno> {
        let value: u64 = match offset {
            regs::SCRATCH => u64::from(*self.scratch.lock().unwrap()),
            regs::ID => u64::from(ID_VALUE),
            o if (regs::MSIX_PBA..regs::MSIX_PBA + 8).contains(&o) => {
                peer.irqs().pending_bits(irq_index::MSIX, 0) >> (8 * (o - regs::MSIX_PBA))
            }
            _ => 0,
        };
        let bytes = value.to_le_bytes();
        let n = data.len().min(8);
        data[..n].copy_from_slice(&bytes[..n]);
        Ok(())
    }

    fn bar0_write(&self, peer: &Peer, offset: u64, data: &[u8]) -> Result<(), Errno> {
        let mut bytes = [0u8; 8];
        let n = data.len().min(8);
        bytes[..n].copy_from_slice(&data[..n]);
        let value = u64::from_le_bytes(bytes);
        match offset {
            regs::SCRATCH => *self.scratch.lock().unwrap() = value as u32,
            regs::IRQ => {
                peer.irqs()
                    .trigger(irq_index::MSIX, value as u32)
                    .map_err(|_| Errno::EINVAL)?;
            }
            regs::INLINE_DMA => {
                let mut buf = vec![0u8; value as usize];
                let outcome = match peer.dma().dma_read(0, &mut buf) {
                    Ok(()) => "ok".to_string(),
                    Err(e) => format!("{e:?}"),
                };
                *self.inline_dma.lock().unwrap() = Some(outcome);
            }
            regs::SLOW_BAR2 => {
                std::thread::sleep(std::time::Duration::from_millis(300));
                self.bar2
                    .write(bar2::SLOW_TARGET, &(value as u32).to_le_bytes())?;
            }
            regs::OTHER_DMA => {
                let port = self
                    .other_port
                    .lock()
                    .unwrap()
                    .clone()
                    .ok_or(Errno::EINVAL)?;
                let mut buf = vec![0u8; value as usize];
                let outcome = match port.dma_read(TEST_MEMORY_BASE, &mut buf) {
                    Ok(()) => format!("ok: {}", String::from_utf8_lossy(&buf)),
                    Err(e) => format!("{e:?}"),
                };
                *self.inline_dma.lock().unwrap() = Some(outcome);
            }
            _ => {}
        }
        Ok(())
    }
}

impl Device for TestDevice {
    fn region(&self, index: u32) -> Region {
        match index {
            region_index::BAR0 => Region::trapped(BAR0_SIZE),
            region_index::BAR2 => {
                let fd = self.bar2.fd().try_clone_to_owned().unwrap();
                let half = SparseArea {
                    offset: 0,
                    size: BAR2_SIZE / 2,
                };
                Region::trapped(BAR2_SIZE).mappable(fd, 0, vec![half])
            }
            region_index::CONFIG => Region::trapped(CONFIG_SPACE_SIZE as u64),
            _ => Region::absent(),
        }
    }

    fn irq_count(&self, index: u32) -> u32 {
        match index {
            irq_index::MSIX => u32::from(MSIX_VECTORS),
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
            region_index::BAR0 => self.bar0_read(peer, offset, data),
            region_index::BAR2 => self.bar2.read(offset, data),
            _ => Err(Errno::EINVAL),
        }
    }

    fn region_write(&self, peer: &Peer, index: u32, offset: u64, data: &[u8]) -> Result<(), Errno> {
        match index {
            region_index::CONFIG => self.config.lock().unwrap().write(offset, data),
            region_index::BAR0 => self.bar0_write(peer, offset, data),
            region_index::BAR2 => {
                *self.bar2_writer.lock().unwrap() =
                    std::thread::current().name().map(str::to_string);
                self.bar2.write(offset, data)
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn writes_promptly(&self, index: u32) -> bool {
        index == region_index::BAR2
    }

    fn dma_map(&self, _peer: &Peer, region: &DmaRegion) {
        self.record(Event::DmaMap {
            addr: region.addr(),
            size: region.size(),
            mapped: region.is_mapped(),
        });
    }

    fn dma_unmap(&self, _peer: &Peer, region: &DmaRegion) {
        self.record(Event::DmaUnmap {
            addr: region.addr(),
            size: region.size(),
        });
    }

    fn reset(&self, _peer: &Peer) -> Result<(), Errno> {
        self.config.lock().unwrap().reset();
        *self.scratch.lock().unwrap() = 0;
        self.record(Event::Reset);
        Ok(())
    }

    fn connected(&self, _peer: &Peer) {
        self.record(Event::Connected);
    }

    fn disconnected(&self, _peer: &Peer) {
        self.record(Event::Disconnected);
    }
}

/// A server for a fresh test device, and a client connected to it over a
/// socketpair (served on a background thread), not yet negotiated.
pub struct Setup {
    pub device: Arc<TestDevice>,
    pub server: Server<TestDevice>,
    pub client: Client,
    pub memory: Arc<TestMemory>,
    serving: Option<std::thread::JoinHandle<()>>,
}

/// Bus address of the client's [`TestMemory`].
pub const TEST_MEMORY_BASE: u64 = 0x1_0000_0000;
pub const TEST_MEMORY_SIZE: usize = 4 << 20;

pub fn setup() -> Setup {
    setup_with(ServerConfig::default())
}

pub fn setup_with(config: ServerConfig) -> Setup {
    let device = TestDevice::new();
    let server = Server::with_config(device.clone(), config);
    let (ours, theirs) = UnixStream::pair().unwrap();
    let serving_server = server.clone();
    let serving = std::thread::spawn(move || serving_server.serve_connection(theirs).unwrap());
    let memory = TestMemory::new(TEST_MEMORY_BASE, TEST_MEMORY_SIZE);
    let client = Client::from_stream(ours, Some(memory.clone()));
    Setup {
        device,
        server,
        client,
        memory,
        serving: Some(serving),
    }
}

/// [`setup`], negotiated.
pub fn connected() -> Setup {
    let setup = setup();
    setup.client.negotiate().unwrap();
    setup
}

impl Setup {
    /// Closes the client and waits for the server to finish the
    /// connection.
    pub fn disconnect(&mut self) {
        let client = std::mem::replace(&mut self.client, dummy_client());
        client.close();
        if let Some(serving) = self.serving.take() {
            serving.join().unwrap();
        }
    }
}

fn dummy_client() -> Client {
    let (a, _b) = UnixStream::pair().unwrap();
    Client::from_stream(a, None)
}

/// A non-blocking eventfd, and a second descriptor for the same counter.
pub fn eventfd() -> (OwnedFd, OwnedFd) {
    // SAFETY: eventfd returns a new descriptor or -1.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    assert!(fd >= 0);
    // SAFETY: fd is new and ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let dup = fd.try_clone().unwrap();
    (fd, dup)
}

/// Reads and resets an eventfd counter; 0 if never signalled.
pub fn take_events(fd: &OwnedFd) -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: reads 8 bytes into a live buffer.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
    if n == 8 {
        u64::from_ne_bytes(buf)
    } else {
        0
    }
}

/// Polls `condition` for up to two seconds.
pub fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

pub fn u32_of(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes[..4].try_into().unwrap())
}
