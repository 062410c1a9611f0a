//! A vfio-user server: emulated PCI devices served to QEMU's
//! `vfio-user-pci` over a UNIX socket.
//!
//! The protocol is QEMU's `docs/interop/vfio-user.rst`. QEMU (the client)
//! connects, negotiates the version, asks for the device's regions and
//! interrupts, maps guest RAM for DMA (passing memfds), and forwards the
//! guest's accesses to trapped regions (config space and register BARs) as
//! messages; regions the device backs with a descriptor are mapped into the
//! guest directly.
//!
//! # Using it
//!
//! Implement [`Device`] (a [`ConfigSpace`] serves the config region;
//! [`SharedMemory`] backs a mappable BAR), then:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use rsio_emu::vfio_user::*;
//! # fn demo<D: Device>(device: Arc<D>) -> std::io::Result<()> {
//! let server = Server::new(device);
//! let peer = server.peer().clone(); // DMA, guest memory, interrupts
//! let listening = server.listen("/tmp/dev.sock")?;
//! // QEMU: -device '{"driver":"vfio-user-pci","socket":{"path":"/tmp/dev.sock","type":"unix"}}'
//! listening.wait();
//! # Ok(()) }
//! ```
//!
//! One server serves one device to one client at a time; after the client
//! goes (the VM exits), the next one may connect, and the device gets
//! [`Device::disconnected`] in between.
//!
//! # Threads
//!
//! Each connection has two threads:
//!
//! * the **reader** takes every message off the socket. Replies to our own
//!   requests (DMA_READ/DMA_WRITE) go straight to the thread waiting for
//!   them; client commands are queued for the handler;
//! * the **handler** runs the commands in order: it validates them, calls
//!   the [`Device`] callbacks, and replies.
//!
//! [`Interrupts`], [`GuestMemory`], [`DmaRegion`] and [`DmaPort`] are
//! thread-safe handles that device models may use from any thread.
//!
//! # When DMA may be waited for
//!
//! QEMU handles a trapped guest access (REGION_READ/WRITE, and likewise
//! the DMA_MAP/SET_IRQS/... it sends while holding its big lock) by waiting
//! for our reply *while holding its global lock*, and it services our
//! DMA_READ/DMA_WRITE requests only under that same lock. So:
//!
//! * A `Device` callback of connection X must not wait for a
//!   [`DmaPort::dma_read`]/[`dma_write`](DmaPort::dma_write) over
//!   connection X: QEMU cannot answer until the callback has returned.
//!   Such a call fails at once with [`DmaError::WouldDeadlock`] rather than
//!   stalling both sides until the timeout.
//! * A callback of connection X *may* wait for DMA over another server's
//!   connection Y (another VM's QEMU), as long as nothing waits the other
//!   way round at the same time.
//! * Any other thread (a device's DMA engine, a worker woken by a doorbell
//!   write) may use any port. Requests fail with
//!   [`DmaError::Disconnected`] if the client goes away while they wait,
//!   and with [`DmaError::Timeout`] after [`ServerConfig::dma_timeout`].
//! * [`GuestMemory`] and [`DmaRegion`] accesses (guest RAM QEMU passed a
//!   descriptor for) never involve QEMU and are fine everywhere.
//! * [`Interrupts::trigger`] never waits and is fine everywhere.

mod config;
mod connection;
mod device;
mod dma;
mod errno;
mod irq;
mod memory;
mod peer;
mod port;
mod server;
mod wire;

pub mod client;
pub mod protocol;

pub use config::{
    cap_id, command as pci_command, msix_control, reg as pci_reg, Bar, BarKind, ConfigError,
    ConfigSpace, MsixLayout, PciIds, CONFIG_SPACE_SIZE,
};
pub use device::{region_index, Device, Region, RegionMmap};
pub use dma::{DmaError, DmaRegion, GuestMemory};
pub use errno::Errno;
pub use irq::{irq_index, Delivery, Interrupts, IrqError};
pub use memory::{Mapping, SharedMemory};
pub use peer::Peer;
pub use port::DmaPort;
pub use protocol::SparseArea;
pub use server::{Listening, Server, ServerConfig};
