//! [`Peer`]: everything a device model reaches the client through.

use super::dma::GuestMemory;
use super::irq::Interrupts;
use super::port::DmaPort;

/// The client (QEMU, and through it the guest) as the device sees it: its
/// memory, a port for DMA requests, and the device's interrupts.
///
/// One `Peer` belongs to one [`Server`](super::Server) and outlives client
/// reconnects: its handles always refer to the current client (and fail or
/// record interrupts as pending while there is none). Cloning is cheap, so
/// device models keep clones for their worker threads.
#[derive(Clone, Debug)]
pub struct Peer {
    memory: GuestMemory,
    dma: DmaPort,
    irqs: Interrupts,
}

impl Peer {
    pub(crate) fn new(memory: GuestMemory, dma: DmaPort, irqs: Interrupts) -> Peer {
        Peer { memory, dma, irqs }
    }

    /// The DMA regions the client mapped with a descriptor, accessed
    /// directly: the fast path to guest RAM, usable from any thread.
    pub fn memory(&self) -> &GuestMemory {
        &self.memory
    }

    /// DMA through client messages: reaches everything the device could
    /// bus-master to, but round-trips through QEMU and must not be waited
    /// on from this connection's request handler (see the [module
    /// docs](super)).
    pub fn dma(&self) -> &DmaPort {
        &self.dma
    }

    /// The device's interrupt vectors.
    pub fn irqs(&self) -> &Interrupts {
        &self.irqs
    }
}
