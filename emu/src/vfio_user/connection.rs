//! One client connection: a reader thread that takes every incoming
//! message off the socket, and the handler (the thread that called
//! [`serve`]) that validates client commands, calls the device, and
//! replies.
//!
//! The reader never blocks on the device: replies to our own requests go
//! straight to their waiters ([`Link::deliver`]), commands are queued to
//! the handler in arrival order. So a device callback that waits for DMA
//! over *another* connection, or a worker thread waiting for DMA over this
//! one, always gets its reply.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;

use super::device::{irq_info_flags, region_index, Device};
use super::dma::DmaRegion;
use super::errno::Errno;
use super::irq::irq_index;
use super::memory::Mapping;
use super::port::{HandlerScope, Link};
use super::protocol::{self as p, command, flags, Header, HEADER_SIZE};
use super::server::{RegionLimits, Shared};
use super::wire::{self, Limits, Message, Received, RecvError};

/// The data-transfer size assumed when the client does not say (the
/// protocol's default).
const DEFAULT_MAX_DATA_XFER: u64 = 1 << 20;
/// Room the reader allows for a VERSION message's JSON.
const MAX_VERSION_MESSAGE: usize = 64 * 1024;

/// What the reader hands the handler.
enum Incoming {
    Command(Message),
    /// A command that could not be read whole; answered with `errno`.
    Malformed(Header, Errno),
}

/// A successful reply: payload and descriptors to pass along.
#[derive(Default)]
struct Reply {
    payload: Vec<u8>,
    fds: Vec<OwnedFd>,
}

impl Reply {
    fn empty() -> Reply {
        Reply::default()
    }

    fn with(payload: Vec<u8>) -> Reply {
        Reply {
            payload,
            fds: Vec::new(),
        }
    }
}

type Outcome = Result<Reply, Errno>;

/// Serves one client on the calling thread until it disconnects (or
/// [`Link::close`] is called on the returned link's behalf).
pub(crate) fn serve<D: Device>(shared: &Arc<Shared<D>>, stream: UnixStream, link: Arc<Link>) {
    let limits = Limits {
        max_message_size: (HEADER_SIZE + 32 + shared.config.max_data_xfer_size)
            .max(MAX_VERSION_MESSAGE),
        max_fds: shared.config.max_msg_fds as usize,
    };
    let (tx, rx) = channel();
    let reader_link = link.clone();
    let inline = InlineWrites {
        shared: shared.clone(),
        max_data_xfer: Arc::new(AtomicUsize::new(0)),
        queued: Arc::new(AtomicUsize::new(0)),
    };
    let max_data_xfer = inline.max_data_xfer.clone();
    let queued = inline.queued.clone();
    let reader = std::thread::Builder::new()
        .name(format!("vfio-user-rx{}", link.id()))
        .spawn(move || read_loop(&stream, &reader_link, &limits, &tx, &inline));
    let reader = match reader {
        Ok(reader) => reader,
        Err(e) => {
            log::error!("vfio-user: cannot start a reader thread: {e}");
            link.close();
            return;
        }
    };

    let _scope = HandlerScope::enter(link.id());
    let mut session = Session {
        shared: shared.clone(),
        link: link.clone(),
        negotiated: None,
        max_data_xfer,
        queued,
    };
    for incoming in rx {
        session.handle(incoming);
    }
    session.teardown();
    let _ = reader.join();
}

/// What the reader needs to perform region writes itself
/// ([`Device::writes_promptly`]).
struct InlineWrites<D> {
    shared: Arc<Shared<D>>,
    /// The negotiated `max_data_xfer`, set by the handler once VERSION is
    /// settled; 0 before (every region access is refused then).
    max_data_xfer: Arc<AtomicUsize>,
    /// Messages handed to the handler and not yet handled.
    queued: Arc<AtomicUsize>,
}

impl<D: Device> InlineWrites<D> {
    /// Performs and answers `msg` on the reader thread if it is a
    /// REGION_WRITE the device does promptly and the handler has nothing
    /// queued (so it stays in order with every earlier message); false
    /// leaves it to the handler.
    fn try_write(&self, link: &Link, msg: &Message) -> bool {
        let h = msg.header;
        if h.command != command::REGION_WRITE || self.queued.load(Ordering::Acquire) != 0 {
            return false;
        }
        let max_data_xfer = self.max_data_xfer.load(Ordering::Acquire);
        let Ok(access) = p::RegionAccess::decode(&msg.payload) else {
            return false;
        };
        if max_data_xfer == 0 || !self.shared.device.writes_promptly(access.region) {
            return false;
        }
        match write_region(&self.shared, msg, max_data_xfer) {
            Ok(reply) => link.reply(&h, &reply.payload, &[]),
            Err(errno) => link.error_reply(&h, errno),
        }
        true
    }
}

/// Reads until the connection ends, then closes the link (failing any
/// request still waiting) and, by dropping `tx`, stops the handler.
fn read_loop<D: Device>(
    stream: &UnixStream,
    link: &Link,
    limits: &Limits,
    tx: &Sender<Incoming>,
    inline: &InlineWrites<D>,
) {
    // Writes performed here must not wait on this connection's own client:
    // DMA over it would need this very thread to deliver the reply.
    let _scope = HandlerScope::enter(link.id());
    let send = |incoming| {
        inline.queued.fetch_add(1, Ordering::AcqRel);
        tx.send(incoming).is_ok()
    };
    loop {
        match wire::recv(stream, limits) {
            Ok(Received::Message(msg)) if msg.header.is_reply() => link.deliver(msg),
            Ok(Received::Message(msg)) if msg.header.is_command() => {
                if !inline.try_write(link, &msg) && !send(Incoming::Command(msg)) {
                    break;
                }
            }
            Ok(Received::Message(msg)) => {
                send(Incoming::Malformed(msg.header, Errno::EINVAL));
            }
            Ok(Received::Malformed { header, errno }) if header.is_reply() => {
                // Fail the waiter rather than leave it to time out.
                let failed = Header {
                    flags: flags::TYPE_REPLY | flags::ERROR,
                    error: errno.raw() as u32,
                    ..header
                };
                link.deliver(Message {
                    header: failed,
                    payload: Vec::new(),
                    fds: Vec::new(),
                });
            }
            Ok(Received::Malformed { header, errno }) => {
                send(Incoming::Malformed(header, errno));
            }
            Err(RecvError::Closed) => break,
            Err(RecvError::Io(e)) => {
                log::warn!("vfio-user: connection {}: read failed: {e}", link.id());
                break;
            }
        }
    }
    link.close();
}

/// What the VERSION handshake settled.
#[derive(Clone, Copy)]
struct Negotiated {
    max_data_xfer: usize,
    /// Whether the client accepts descriptors (so regions may be mappable).
    client_takes_fds: bool,
}

struct Session<D: Device> {
    shared: Arc<Shared<D>>,
    link: Arc<Link>,
    negotiated: Option<Negotiated>,
    /// `negotiated`'s `max_data_xfer` for the reader ([`InlineWrites`]),
    /// once the device is connected.
    max_data_xfer: Arc<AtomicUsize>,
    /// [`InlineWrites::queued`].
    queued: Arc<AtomicUsize>,
}

impl<D: Device> Session<D> {
    fn handle(&mut self, incoming: Incoming) {
        let msg = match incoming {
            Incoming::Command(msg) => msg,
            Incoming::Malformed(header, errno) => {
                log::warn!(
                    "vfio-user: connection {}: malformed {} (id {}, size {}): {errno}",
                    self.link.id(),
                    command::name(header.command),
                    header.id,
                    header.size
                );
                self.handled();
                self.link.error_reply(&header, errno);
                return;
            }
        };
        let header = msg.header;
        log::debug!(
            "vfio-user: connection {}: {} id {} size {}{}{}",
            self.link.id(),
            command::name(header.command),
            header.id,
            header.size,
            if header.wants_reply() {
                ""
            } else {
                " no-reply"
            },
            if msg.fds.is_empty() {
                String::new()
            } else {
                format!(" fds {}", msg.fds.len())
            },
        );
        let was_negotiated = self.negotiated.is_some();
        let outcome = self.dispatch(msg);
        let settled = match (was_negotiated, self.negotiated) {
            (false, Some(negotiated)) => Some(negotiated),
            _ => None,
        };
        if settled.is_none() {
            // Done: a write arriving once the client has the answer may
            // be performed by the reader.
            self.handled();
        }
        match outcome {
            Ok(reply) => {
                let fds: Vec<_> = reply.fds.iter().map(|fd| fd.as_raw_fd()).collect();
                self.link.reply(&header, &reply.payload, &fds);
            }
            Err(errno) => {
                log::debug!(
                    "vfio-user: connection {}: {} (id {}) failed: {errno}",
                    self.link.id(),
                    command::name(header.command),
                    header.id
                );
                self.link.error_reply(&header, errno);
            }
        }
        if let Some(negotiated) = settled {
            // Only now that the client has its VERSION reply may requests
            // of ours reach it.
            let shared = &self.shared;
            shared
                .peer
                .dma()
                .attach(self.link.clone(), negotiated.max_data_xfer);
            shared.device.connected(&shared.peer);
            // And only now may the reader perform writes.
            self.max_data_xfer
                .store(negotiated.max_data_xfer, Ordering::Release);
            self.handled();
        }
    }

    /// One message handed over by the reader is handled.
    fn handled(&self) {
        self.queued.fetch_sub(1, Ordering::AcqRel);
    }

    fn dispatch(&mut self, msg: Message) -> Outcome {
        let Some(negotiated) = self.negotiated else {
            return match msg.header.command {
                command::VERSION => self.version(msg),
                _ => Err(Errno::EINVAL),
            };
        };
        match msg.header.command {
            command::VERSION => Err(Errno::EINVAL),
            command::DMA_MAP => self.dma_map(msg),
            command::DMA_UNMAP => self.dma_unmap(msg),
            command::DEVICE_GET_INFO => self.device_info(msg),
            command::DEVICE_GET_REGION_INFO => self.region_info(msg, negotiated),
            command::DEVICE_GET_IRQ_INFO => self.irq_info(msg),
            command::DEVICE_SET_IRQS => self.set_irqs(msg),
            command::REGION_READ => self.region_read(msg, negotiated),
            command::REGION_WRITE => self.region_write(msg, negotiated),
            command::DEVICE_RESET => self.reset(msg),
            // Optional features this server does not offer.
            command::DEVICE_GET_REGION_IO_FDS
            | command::REGION_WRITE_MULTI
            | command::DEVICE_FEATURE
            | command::MIG_DATA_READ
            | command::MIG_DATA_WRITE => Err(Errno::ENOTSUP),
            _ => Err(Errno::ENOSYS),
        }
    }

    fn version(&mut self, msg: Message) -> Outcome {
        no_fds(&msg)?;
        let proposal = p::Version::decode(&msg.payload)?;
        if proposal.major != p::VERSION_MAJOR {
            return Err(Errno::ENOTSUP);
        }
        let caps = parse_capabilities(&proposal.capabilities);
        let config = &self.shared.config;
        let client_xfer = caps
            .max_data_xfer
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_MAX_DATA_XFER);
        let max_data_xfer = usize::try_from(client_xfer)
            .unwrap_or(usize::MAX)
            .min(config.max_data_xfer_size);
        let negotiated = Negotiated {
            max_data_xfer,
            client_takes_fds: caps.max_msg_fds.unwrap_or(1) > 0,
        };

        let json = format!(
            "{{\"capabilities\":{{\"max_msg_fds\":{},\"max_data_xfer_size\":{},\"pgsizes\":{},\"max_dma_maps\":{}}}}}",
            config.max_msg_fds,
            max_data_xfer,
            PAGE_SIZES,
            config.max_dma_maps
        );
        let reply = p::Version {
            major: p::VERSION_MAJOR,
            // Never above the client's (we only know minor 0 anyway).
            minor: p::VERSION_MINOR,
            capabilities: json,
        };
        log::info!(
            "vfio-user: connection {}: client version {}.{} {}; negotiated max_data_xfer_size {}",
            self.link.id(),
            proposal.major,
            proposal.minor,
            proposal.capabilities,
            max_data_xfer
        );
        self.negotiated = Some(negotiated);
        Ok(Reply::with(reply.encode()))
    }

    fn dma_map(&mut self, mut msg: Message) -> Outcome {
        let map = p::DmaMap::decode(&msg.payload)?;
        if map.size == 0 || map.address.checked_add(map.size).is_none() || msg.fds.len() > 1 {
            return Err(Errno::EINVAL);
        }
        let readable = map.flags & p::dma_map_flags::READ != 0;
        let writable = map.flags & p::dma_map_flags::WRITE != 0;
        let mapping = msg.fds.pop().and_then(|fd| {
            // The mapping keeps the memory; the descriptor closes here.
            Mapping::new(fd.as_fd(), map.offset, map.size, writable)
                .map_err(|e| {
                    log::warn!(
                        "vfio-user: cannot mmap DMA region {:#x}+{:#x} (offset {:#x}): {e}; \
                         it is reachable through DMA messages only",
                        map.address,
                        map.size,
                        map.offset
                    )
                })
                .ok()
        });
        let region = DmaRegion::new(map.address, map.size, readable, writable, mapping);
        log::debug!(
            "vfio-user: connection {}: DMA_MAP {region:?}",
            self.link.id()
        );
        let shared = &self.shared;
        shared
            .peer
            .memory()
            .insert(region.clone(), shared.config.max_dma_maps)?;
        shared.device.dma_map(&shared.peer, &region);
        Ok(Reply::empty())
    }

    fn dma_unmap(&mut self, msg: Message) -> Outcome {
        no_fds(&msg)?;
        let unmap = p::DmaUnmap::decode(&msg.payload)?;
        if unmap.flags & p::dma_unmap_flags::GET_DIRTY_BITMAP != 0 {
            return Err(Errno::ENOTSUP);
        }
        let shared = &self.shared;
        let removed = if unmap.flags & p::dma_unmap_flags::ALL != 0 {
            if unmap.address != 0 || unmap.size != 0 {
                return Err(Errno::EINVAL);
            }
            shared.peer.memory().clear()
        } else {
            vec![shared.peer.memory().remove(unmap.address, unmap.size)?]
        };
        for region in &removed {
            log::debug!(
                "vfio-user: connection {}: DMA_UNMAP {region:?}",
                self.link.id()
            );
            shared.device.dma_unmap(&shared.peer, region);
        }
        // The reply echoes the request.
        Ok(Reply::with(msg.payload[..p::DmaUnmap::SIZE].to_vec()))
    }

    fn device_info(&mut self, msg: Message) -> Outcome {
        no_fds(&msg)?;
        let request = p::DeviceInfo::decode(&msg.payload)?;
        if (request.argsz as usize) < p::DeviceInfo::SIZE {
            return Err(Errno::EINVAL);
        }
        let device = &self.shared.device;
        let reset = if device.can_reset() {
            p::device_flags::RESET
        } else {
            0
        };
        let info = p::DeviceInfo {
            argsz: p::DeviceInfo::SIZE as u32,
            flags: p::device_flags::PCI | reset,
            num_regions: self.shared.regions.len() as u32,
            num_irqs: irq_index::COUNT,
        };
        Ok(Reply::with(info.encode()))
    }

    fn region_info(&mut self, msg: Message, negotiated: Negotiated) -> Outcome {
        no_fds(&msg)?;
        let request = p::RegionInfo::decode(&msg.payload)?;
        let room = request.argsz as usize;
        if room < p::RegionInfo::SIZE || self.shared.regions.get(request.index as usize).is_none() {
            return Err(Errno::EINVAL);
        }
        let limits = self.shared.regions[request.index as usize];
        let region = self.shared.device.region(request.index);
        let mut info = p::RegionInfo {
            argsz: p::RegionInfo::SIZE as u32,
            index: request.index,
            size: limits.size,
            flags: region_flags(&limits),
            ..Default::default()
        };
        let mut caps = Vec::new();
        let mut fds = Vec::new();
        match region.mmap {
            Some(mmap) if limits.size > 0 && negotiated.client_takes_fds => {
                info.flags |= p::region_flags::MMAP;
                info.offset = mmap.offset;
                let areas = valid_areas(request.index, limits.size, mmap.areas);
                if !areas.is_empty() {
                    caps = p::encode_sparse_mmap_cap(&areas);
                    info.flags |= p::region_flags::CAPS;
                }
                fds.push(mmap.fd);
            }
            _ => {}
        }
        let full = p::RegionInfo::SIZE + caps.len();
        info.argsz = full as u32;
        if full > room {
            // Too small for the capabilities: say how much is needed and
            // let the client ask again (it gets the descriptor then). QEMU
            // rejects a CAPS flag without a valid cap_offset, so the
            // truncated reply claims no capabilities.
            info.flags &= !p::region_flags::CAPS;
            info.cap_offset = 0;
            return Ok(Reply::with(info.encode()));
        }
        if !caps.is_empty() {
            info.cap_offset = p::RegionInfo::SIZE as u32;
        }
        let mut payload = info.encode();
        payload.extend_from_slice(&caps);
        Ok(Reply { payload, fds })
    }

    fn irq_info(&mut self, msg: Message) -> Outcome {
        no_fds(&msg)?;
        let request = p::IrqInfo::decode(&msg.payload)?;
        if (request.argsz as usize) < p::IrqInfo::SIZE || request.index >= irq_index::COUNT {
            return Err(Errno::EINVAL);
        }
        let info = p::IrqInfo {
            argsz: p::IrqInfo::SIZE as u32,
            flags: irq_info_flags(request.index),
            index: request.index,
            count: self.shared.peer.irqs().count(request.index),
        };
        Ok(Reply::with(info.encode()))
    }

    fn set_irqs(&mut self, msg: Message) -> Outcome {
        use p::irq_set_flags::*;
        let set = p::IrqSet::decode(&msg.payload)?;
        let data = set.flags & DATA_TYPE_MASK;
        let action = set.flags & ACTION_TYPE_MASK;
        let known = DATA_TYPE_MASK | ACTION_TYPE_MASK;
        if data.count_ones() != 1 || action.count_ones() != 1 || set.flags & !known != 0 {
            return Err(Errno::EINVAL);
        }
        if set.index >= irq_index::COUNT {
            return Err(Errno::EINVAL);
        }
        let irqs = self.shared.peer.irqs();
        if data != DATA_EVENTFD {
            no_fds(&msg)?;
        }
        // count 0 with DATA_NONE + TRIGGER: tear the whole index down.
        if set.count == 0 && data == DATA_NONE && action == ACTION_TRIGGER {
            irqs.disable(set.index);
            return Ok(Reply::empty());
        }
        let end = set.start.checked_add(set.count).ok_or(Errno::EINVAL)?;
        if end > irqs.count(set.index) {
            return Err(Errno::EINVAL);
        }
        let count = set.count as usize;
        match data {
            DATA_EVENTFD => {
                // One descriptor per vector, or none to de-assign them all.
                if !msg.fds.is_empty() && msg.fds.len() != count {
                    return Err(Errno::EINVAL);
                }
                if action != ACTION_TRIGGER {
                    // Mask/unmask notification eventfds (KVM resamplers):
                    // nothing to attach them to without KVM.
                    return if msg.fds.is_empty() {
                        Ok(Reply::empty())
                    } else {
                        Err(Errno::ENOTSUP)
                    };
                }
                let fds: Vec<Option<OwnedFd>> = if msg.fds.is_empty() {
                    (0..count).map(|_| None).collect()
                } else {
                    msg.fds.into_iter().map(Some).collect()
                };
                irqs.set_eventfds(set.index, set.start, fds);
            }
            _ => {
                let select: Vec<bool> = if data == DATA_BOOL {
                    let bools = msg
                        .payload
                        .get(p::IrqSet::SIZE..p::IrqSet::SIZE + count)
                        .ok_or(Errno::EINVAL)?;
                    bools.iter().map(|&b| b != 0).collect()
                } else {
                    vec![true; count]
                };
                match action {
                    ACTION_MASK => irqs.set_masked(set.index, set.start, &select, true),
                    ACTION_UNMASK => irqs.set_masked(set.index, set.start, &select, false),
                    _ => irqs.raise_selected(set.index, set.start, &select),
                }
            }
        }
        Ok(Reply::empty())
    }

    fn region_read(&mut self, msg: Message, negotiated: Negotiated) -> Outcome {
        no_fds(&msg)?;
        let access = p::RegionAccess::decode(&msg.payload)?;
        let limits = checked_access(&self.shared, &access, negotiated.max_data_xfer)?;
        if !limits.readable {
            return Err(Errno::EPERM);
        }
        let mut data = vec![0u8; access.count as usize];
        if !data.is_empty() {
            let shared = &self.shared;
            shared
                .device
                .region_read(&shared.peer, access.region, access.offset, &mut data)?;
        }
        Ok(Reply::with(access.encode(&data)))
    }

    fn region_write(&mut self, msg: Message, negotiated: Negotiated) -> Outcome {
        write_region(&self.shared, &msg, negotiated.max_data_xfer)
    }

    fn reset(&mut self, msg: Message) -> Outcome {
        no_fds(&msg)?;
        let shared = &self.shared;
        if !shared.device.can_reset() {
            return Err(Errno::ENOTSUP);
        }
        shared.device.reset(&shared.peer)?;
        Ok(Reply::empty())
    }

    /// The client is gone: drop everything it gave us, tell the device.
    fn teardown(&mut self) {
        let shared = &self.shared;
        self.link.close();
        shared.peer.dma().detach(self.link.id());
        shared.peer.irqs().disable_all();
        for region in shared.peer.memory().clear() {
            shared.device.dma_unmap(&shared.peer, &region);
        }
        if self.negotiated.is_some() {
            shared.device.disconnected(&shared.peer);
        }
        log::info!("vfio-user: connection {} closed", self.link.id());
    }
}

/// The DMA page sizes we accept (4 KiB only, the protocol default).
const PAGE_SIZES: u64 = 4096;

/// `EINVAL` for a message that carries descriptors it should not; they
/// are closed when the message is dropped.
fn no_fds(msg: &Message) -> Result<(), Errno> {
    if msg.fds.is_empty() {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

fn region_flags(limits: &RegionLimits) -> u32 {
    let mut flags = 0;
    if limits.readable {
        flags |= p::region_flags::READ;
    }
    if limits.writable {
        flags |= p::region_flags::WRITE;
    }
    flags
}

/// The device's sparse areas that fit in the region; others are dropped
/// with a warning rather than passed to the client.
fn valid_areas(index: u32, size: u64, areas: Vec<p::SparseArea>) -> Vec<p::SparseArea> {
    areas
        .into_iter()
        .filter(|a| {
            let ok = a.size > 0 && a.offset.checked_add(a.size).is_some_and(|end| end <= size);
            if !ok {
                log::warn!(
                    "vfio-user: region {index}: ignoring sparse area {a:?} outside the region"
                );
            }
            ok
        })
        .collect()
}

/// The client capabilities the server cares about.
#[derive(Debug, Default, PartialEq)]
struct ClientCaps {
    max_msg_fds: Option<u64>,
    max_data_xfer: Option<u64>,
}

/// Reads the client's capabilities leniently: anything missing or
/// malformed falls back to the protocol defaults.
fn parse_capabilities(text: &str) -> ClientCaps {
    if text.is_empty() {
        return ClientCaps::default();
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        log::warn!("vfio-user: ignoring malformed client capabilities {text:?}");
        return ClientCaps::default();
    };
    let caps = value.get("capabilities");
    let number = |key: &str| caps?.get(key)?.as_u64();
    ClientCaps {
        max_msg_fds: number("max_msg_fds"),
        max_data_xfer: number("max_data_xfer_size"),
    }
}

/// The regions the device reports, for [`Shared`]: at least the standard
/// PCI set, with the sizes and permissions enforced from then on.
pub(crate) fn region_limits<D: Device>(device: &D) -> Vec<RegionLimits> {
    let count = device.num_regions().max(region_index::COUNT);
    (0..count)
        .map(|index| {
            let region = device.region(index);
            RegionLimits {
                size: region.size,
                readable: region.readable,
                writable: region.writable,
            }
        })
        .collect()
}

/// Performs a REGION_WRITE (on the handler or, for
/// [`Device::writes_promptly`] regions, the reader thread).
fn write_region<D: Device>(shared: &Shared<D>, msg: &Message, max_data_xfer: usize) -> Outcome {
    no_fds(msg)?;
    let access = p::RegionAccess::decode(&msg.payload)?;
    let limits = checked_access(shared, &access, max_data_xfer)?;
    if !limits.writable {
        return Err(Errno::EPERM);
    }
    let start = p::RegionAccess::SIZE;
    let data = msg
        .payload
        .get(start..start + access.count as usize)
        .ok_or(Errno::EINVAL)?;
    if !data.is_empty() {
        shared
            .device
            .region_write(&shared.peer, access.region, access.offset, data)?;
    }
    Ok(Reply::with(access.encode(&[])))
}

/// The region's limits, once the access is known to fit in it.
fn checked_access<D>(
    shared: &Shared<D>,
    access: &p::RegionAccess,
    max_data_xfer: usize,
) -> Result<RegionLimits, Errno> {
    let limits = *shared
        .regions
        .get(access.region as usize)
        .ok_or(Errno::EINVAL)?;
    if access.count as usize > max_data_xfer {
        return Err(Errno::E2BIG);
    }
    let end = access
        .offset
        .checked_add(u64::from(access.count))
        .ok_or(Errno::EINVAL)?;
    if end > limits.size {
        return Err(Errno::EINVAL);
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(max_msg_fds: Option<u64>, max_data_xfer: Option<u64>) -> ClientCaps {
        ClientCaps {
            max_msg_fds,
            max_data_xfer,
        }
    }

    #[test]
    fn the_numbers_qemu_proposes_are_read() {
        let text = r#"{"capabilities":{"migration":{"pgsize":4096,"max_bitmap_size":268435456},
            "max_msg_fds":16,"max_data_xfer_size":1048576,"pgsizes":4096,
            "max_dma_maps":65535,"write_multiple":true}}"#;
        assert_eq!(parse_capabilities(text), caps(Some(16), Some(1 << 20)));
    }

    #[test]
    fn no_or_malformed_capabilities_mean_the_defaults() {
        for text in [
            "",
            "{",
            "{\"a\"}",
            "{\"a\":1,}",
            "[1 2]",
            "01x",
            "\"\n\"",
            "{} {}",
            "tru",
            "-",
        ] {
            assert_eq!(parse_capabilities(text), ClientCaps::default(), "{text:?}");
        }
    }

    #[test]
    fn deep_nesting_means_the_defaults_without_overflowing_the_stack() {
        let deep = "[".repeat(100_000);
        assert_eq!(parse_capabilities(&deep), ClientCaps::default());
        let deep_object = format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
        assert_eq!(parse_capabilities(&deep_object), ClientCaps::default());
    }

    #[test]
    fn missing_or_mistyped_fields_are_ignored_one_by_one() {
        let parse = parse_capabilities;
        assert_eq!(parse("{}"), ClientCaps::default());
        assert_eq!(parse("[]"), ClientCaps::default());
        assert_eq!(parse(r#"{"capabilities":[16]}"#), ClientCaps::default());
        assert_eq!(
            parse(r#"{"capabilities":{"max_msg_fds":1}}"#),
            caps(Some(1), None)
        );
        assert_eq!(
            parse(r#"{"capabilities":{"max_msg_fds":"16","max_data_xfer_size":4096}}"#),
            caps(None, Some(4096))
        );
        // Only the nested member counts, not one at the top level.
        assert_eq!(
            parse(r#"{"max_msg_fds":16,"capabilities":{}}"#),
            ClientCaps::default()
        );
    }

    #[test]
    fn negative_fractional_or_oversized_numbers_are_ignored() {
        let fds = |n: &str| {
            parse_capabilities(&format!(r#"{{"capabilities":{{"max_msg_fds":{n}}}}}"#)).max_msg_fds
        };
        assert_eq!(fds("-1"), None);
        assert_eq!(fds("-0"), None);
        assert_eq!(fds("1.5"), None);
        assert_eq!(fds("1e2"), None);
        assert_eq!(fds("18446744073709551616"), None);
        assert_eq!(fds("18446744073709551615"), Some(u64::MAX));
        assert_eq!(fds("0"), Some(0));
    }

    #[test]
    fn a_repeated_member_counts_with_its_last_value() {
        let text = r#"{"capabilities":{"max_msg_fds":1,"max_msg_fds":8},"capabilities":{"max_msg_fds":4}}"#;
        assert_eq!(parse_capabilities(text), caps(Some(4), None));
    }
}
