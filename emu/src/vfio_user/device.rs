//! The device-model side of the server: the [`Device`] trait a model
//! implements, and [`Region`], its description of a region.

use std::os::fd::OwnedFd;

use super::dma::DmaRegion;
use super::errno::Errno;
use super::irq::irq_index;
use super::peer::Peer;
use super::protocol::SparseArea;

/// Region indices for PCI devices (`VFIO_PCI_*_REGION_INDEX`).
pub mod region_index {
    pub const BAR0: u32 = 0;
    pub const BAR1: u32 = 1;
    pub const BAR2: u32 = 2;
    pub const BAR3: u32 = 3;
    pub const BAR4: u32 = 4;
    pub const BAR5: u32 = 5;
    /// Expansion ROM.
    pub const ROM: u32 = 6;
    /// PCI configuration space.
    pub const CONFIG: u32 = 7;
    /// Legacy VGA ranges.
    pub const VGA: u32 = 8;
    /// The number of standard PCI regions (`VFIO_PCI_NUM_REGIONS`); the
    /// server reports at least this many, as QEMU requires.
    pub const COUNT: u32 = 9;
}

/// How a device region looks to the client.
#[derive(Debug, Default)]
pub struct Region {
    /// Size in bytes; 0 for a region the device does not have.
    pub size: u64,
    pub readable: bool,
    pub writable: bool,
    /// Set for regions the client may map into the guest.
    pub mmap: Option<RegionMmap>,
}

/// The mappable part of a region.
#[derive(Debug)]
pub struct RegionMmap {
    /// What the client maps. The server passes it along with the region
    /// info reply and then closes it; a device handing out a memfd it keeps
    /// gives a duplicate (e.g. `shm.fd().try_clone_to_owned()`).
    pub fd: OwnedFd,
    /// File offset of the region's first byte.
    pub offset: u64,
    /// The parts the client may map, relative to the region. Empty: the
    /// whole region. The rest stays trapped (REGION_READ/WRITE).
    pub areas: Vec<SparseArea>,
}

impl Region {
    /// A region the device does not have.
    pub fn absent() -> Region {
        Region::default()
    }

    /// A readable and writable region whose every access is a message to
    /// the device (registers).
    pub fn trapped(size: u64) -> Region {
        Region {
            size,
            readable: true,
            writable: true,
            mmap: None,
        }
    }

    /// Makes the region read-only for the client.
    pub fn read_only(mut self) -> Region {
        self.writable = false;
        self
    }

    /// Lets the client map `areas` of the region (all of it if empty) from
    /// `fd` at file offset `offset`. The device still answers
    /// REGION_READ/WRITE for the whole region, as the protocol requires.
    pub fn mappable(mut self, fd: OwnedFd, offset: u64, areas: Vec<SparseArea>) -> Region {
        self.mmap = Some(RegionMmap { fd, offset, areas });
        self
    }
}

/// An emulated PCI device, as served over vfio-user.
///
/// The server validates every client request before calling in: region
/// accesses are inside the region and allowed by its flags, interrupts are
/// in range, DMA regions are mapped and bounds-checked. Implementations
/// only deal with well-formed requests, and return an [`Errno`] to fail
/// one.
///
/// Callbacks run on the connection's request-handler thread, one at a
/// time and in the order the client sent the requests. That thread must
/// not wait for DMA through the same connection's [`DmaPort`](super::DmaPort)
/// (it fails with `WouldDeadlock`); see the [module docs](super).
/// Interrupts, [`GuestMemory`](super::GuestMemory) and other servers'
/// ports are fine.
pub trait Device: Send + Sync + 'static {
    /// Describes region `index` (see [`region_index`]). Called once per
    /// index when the server starts, to learn the sizes and permissions it
    /// enforces (which therefore must not change), and again for each
    /// client query, to get the descriptor of a mappable region.
    fn region(&self, index: u32) -> Region;

    /// How many regions the device reports: at least
    /// [`region_index::COUNT`] (the server enforces that minimum).
    fn num_regions(&self) -> u32 {
        region_index::COUNT
    }

    /// The number of vectors at IRQ index `index` (see
    /// [`irq_index`](super::irq_index)); 0 for none.
    fn irq_count(&self, index: u32) -> u32;

    /// Reads `data.len()` bytes at `offset` of region `index`. QEMU issues
    /// 1, 2, 4 and 8-byte accesses for BARs and larger ones for config
    /// space.
    fn region_read(
        &self,
        peer: &Peer,
        index: u32,
        offset: u64,
        data: &mut [u8],
    ) -> Result<(), Errno>;

    /// Writes `data` at `offset` of region `index`.
    fn region_write(&self, peer: &Peer, index: u32, offset: u64, data: &[u8]) -> Result<(), Errno>;

    /// Whether [`region_write`](Self::region_write) to region `index`
    /// always returns promptly without waiting for any client (no DMA, no
    /// lock held across a wait). Then a connection's reader thread may
    /// perform such a write itself when the handler thread has nothing
    /// queued (so the write stays in order with the connection's other
    /// messages), sparing the hand-off to the handler and back: QEMU posts
    /// no region writes to a device with a mappable region and waits for
    /// each answer holding its vCPU (or, for a device's MSI-X write, its
    /// main loop). Default: no region.
    fn writes_promptly(&self, index: u32) -> bool {
        let _ = index;
        false
    }

    /// The client made `region` available for DMA; it is already in
    /// [`Peer::memory`].
    fn dma_map(&self, peer: &Peer, region: &DmaRegion) {
        let _ = (peer, region);
    }

    /// The client is taking `region` away; it is already out of
    /// [`Peer::memory`]. Drop any clone of it before returning: the
    /// protocol requires that no access is in flight once the unmap is
    /// answered.
    fn dma_unmap(&self, peer: &Peer, region: &DmaRegion) {
        let _ = (peer, region);
    }

    /// Whether the device supports DEVICE_RESET (reported in the device
    /// info). QEMU resets the device at boot and on guest reboots.
    fn can_reset(&self) -> bool {
        true
    }

    /// The client resets the device (DEVICE_RESET).
    fn reset(&self, peer: &Peer) -> Result<(), Errno> {
        let _ = peer;
        Ok(())
    }

    /// A client connected and negotiated the protocol; DMA through
    /// [`Peer::dma`] works from now on (from other threads).
    fn connected(&self, peer: &Peer) {
        let _ = peer;
    }

    /// The client went away (QEMU exited or the VM was torn down). Its DMA
    /// regions have been unmapped (with a [`dma_unmap`](Self::dma_unmap)
    /// each) and its interrupt eventfds closed; device state is otherwise
    /// kept, per the protocol, for the next client to reconnect to.
    fn disconnected(&self, peer: &Peer) {
        let _ = peer;
    }
}

/// The IRQ info flags the server reports for `index`: every index takes
/// eventfds; MSI and MSI-X vectors can be masked individually (QEMU 11
/// then masks MSI-X through DEVICE_SET_IRQS rather than emulating it).
pub(crate) fn irq_info_flags(index: u32) -> u32 {
    use super::protocol::irq_info_flags::{EVENTFD, MASKABLE};
    match index {
        irq_index::MSI | irq_index::MSIX | irq_index::INTX => EVENTFD | MASKABLE,
        _ => EVENTFD,
    }
}
