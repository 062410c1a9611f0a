//! A minimal vfio-user *client*, for testing servers and device models
//! without QEMU.
//!
//! It behaves like QEMU where that matters to a server: a reader thread
//! takes replies and serves the server's DMA_READ/DMA_WRITE requests from
//! a [`TestMemory`] while the test thread waits for its own replies, so a
//! device may do DMA at any time. It is deliberately not a full
//! client: no memory-region listener, no interrupt routing.

use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::dma::DmaError;
use super::errno::Errno;
use super::port::Link;
use super::protocol::{self as p, command, flags, DmaAccess, Header, SparseArea};
use super::wire::{self, Limits, Message, Received};

/// What QEMU 11 proposes in its VERSION message.
pub const QEMU_CAPABILITIES: &str = concat!(
    r#"{"capabilities":{"migration":{"pgsize":4096,"max_bitmap_size":268435456},"#,
    r#""max_msg_fds":16,"max_data_xfer_size":1048576,"pgsizes":4096,"#,
    r#""max_dma_maps":65535,"write_multiple":true}}"#
);

/// A failed client call.
#[derive(Debug)]
pub enum ClientError {
    /// The server answered with an error reply.
    Remote(Errno),
    /// The request never got an answer (timeout, disconnect, I/O).
    Transport(DmaError),
    /// The answer did not parse.
    BadReply(&'static str),
}

impl ClientError {
    /// The errno of an error reply.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            ClientError::Remote(errno) => Some(*errno),
            _ => None,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Remote(errno) => write!(f, "server replied with an error: {errno}"),
            ClientError::Transport(e) => write!(f, "no reply: {e}"),
            ClientError::BadReply(why) => write!(f, "malformed reply: {why}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<Errno> for ClientError {
    fn from(_: Errno) -> Self {
        ClientError::BadReply("payload too short")
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

/// The "guest memory" the client serves the server's DMA requests from:
/// `len` bytes at bus address `base`.
pub struct TestMemory {
    base: u64,
    bytes: Mutex<Vec<u8>>,
}

impl TestMemory {
    pub fn new(base: u64, len: usize) -> Arc<TestMemory> {
        Arc::new(TestMemory {
            base,
            bytes: Mutex::new(vec![0; len]),
        })
    }

    /// Copies out `len` bytes at bus address `addr` (panics out of range:
    /// for test assertions).
    pub fn read(&self, addr: u64, len: usize) -> Vec<u8> {
        let start = (addr - self.base) as usize;
        self.lock()[start..start + len].to_vec()
    }

    /// Copies `data` in at bus address `addr` (panics out of range).
    pub fn write(&self, addr: u64, data: &[u8]) {
        let start = (addr - self.base) as usize;
        self.lock()[start..start + data.len()].copy_from_slice(data);
    }

    fn range(&self, addr: u64, len: u64) -> Option<std::ops::Range<usize>> {
        let start = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        (end <= self.lock().len()).then_some(start..end)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.bytes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A region-info reply.
#[derive(Debug)]
pub struct RegionInfoReply {
    pub info: p::RegionInfo,
    /// The sparse-mmap areas, if the capability was present.
    pub sparse: Option<Vec<SparseArea>>,
    /// The descriptor to map, for mappable regions.
    pub fd: Option<OwnedFd>,
}

/// A connected vfio-user client.
pub struct Client {
    link: Arc<Link>,
    reader: Option<JoinHandle<()>>,
    served: Arc<AtomicU64>,
    timeout: Duration,
}

impl Client {
    /// Connects to a listening server.
    pub fn connect(path: impl AsRef<Path>) -> std::io::Result<Client> {
        Ok(Client::from_stream(UnixStream::connect(path)?, None))
    }

    /// A client on a connected stream that serves the server's DMA
    /// requests from `memory` (failing them with `EFAULT` if none).
    pub fn from_stream(stream: UnixStream, memory: Option<Arc<TestMemory>>) -> Client {
        static NEXT: AtomicU64 = AtomicU64::new(1 << 32);
        let link = Arc::new(Link::new(
            NEXT.fetch_add(1, Ordering::Relaxed),
            stream.try_clone().expect("dup socket"),
        ));
        let served = Arc::new(AtomicU64::new(0));
        let reader_link = link.clone();
        let reader_served = served.clone();
        let reader = std::thread::Builder::new()
            .name("vfio-user-test-client".into())
            .spawn(move || read_loop(&stream, &reader_link, memory.as_deref(), &reader_served))
            .expect("spawn client reader");
        Client {
            link,
            reader: Some(reader),
            served,
            timeout: Duration::from_secs(10),
        }
    }

    /// How many DMA requests of the server the client has answered.
    pub fn dma_requests_served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }

    /// Sends a command and returns its reply, error replies included.
    pub fn request(&self, command: u16, payload: &[u8], fds: &[BorrowedFd<'_>]) -> Result<Message> {
        let raw: Vec<RawFd> = fds.iter().map(|fd| fd.as_raw_fd()).collect();
        self.link
            .request(command, payload, &raw, self.timeout)
            .map_err(ClientError::Transport)
    }

    /// Sends a command and returns the payload of a successful reply.
    pub fn call(&self, command: u16, payload: &[u8], fds: &[BorrowedFd<'_>]) -> Result<Message> {
        let reply = self.request(command, payload, fds)?;
        if reply.header.is_error() {
            return Err(ClientError::Remote(Errno(reply.header.error as i32)));
        }
        Ok(reply)
    }

    /// Sends a command that wants no reply.
    pub fn post(&self, command: u16, payload: &[u8]) -> std::io::Result<()> {
        let mut header = Header::command(0xffff, command, payload.len());
        header.flags |= flags::NO_REPLY;
        self.link.send(&header, payload, &[])
    }

    /// Writes raw bytes to the socket (for malformed-message tests).
    pub fn send_bytes(&self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        self.link.stream().write_all(bytes)
    }

    /// Negotiates like QEMU 11 does.
    pub fn negotiate(&self) -> Result<p::Version> {
        self.version(p::VERSION_MAJOR, p::VERSION_MINOR, QEMU_CAPABILITIES)
    }

    pub fn version(&self, major: u16, minor: u16, capabilities: &str) -> Result<p::Version> {
        let payload = p::Version {
            major,
            minor,
            capabilities: capabilities.into(),
        }
        .encode();
        let reply = self.call(command::VERSION, &payload, &[])?;
        Ok(p::Version::decode(&reply.payload)?)
    }

    pub fn device_info(&self) -> Result<p::DeviceInfo> {
        let request = p::DeviceInfo {
            argsz: p::DeviceInfo::SIZE as u32,
            flags: 0,
            num_regions: 0,
            num_irqs: 0,
        };
        let reply = self.call(command::DEVICE_GET_INFO, &request.encode(), &[])?;
        Ok(p::DeviceInfo::decode(&reply.payload)?)
    }

    /// Region info, asking again with a bigger `argsz` when the server
    /// says its reply needs more room (as QEMU does).
    pub fn region_info(&self, index: u32) -> Result<RegionInfoReply> {
        let mut argsz = p::RegionInfo::SIZE as u32;
        for _ in 0..2 {
            let request = p::RegionInfo {
                argsz,
                index,
                ..Default::default()
            };
            let mut reply = self.call(command::DEVICE_GET_REGION_INFO, &request.encode(), &[])?;
            let info = p::RegionInfo::decode(&reply.payload)?;
            if info.argsz > argsz {
                argsz = info.argsz;
                continue;
            }
            let sparse = p::decode_sparse_mmap(&reply.payload)?;
            return Ok(RegionInfoReply {
                info,
                sparse,
                fd: reply.fds.pop(),
            });
        }
        Err(ClientError::BadReply("argsz keeps growing"))
    }

    pub fn irq_info(&self, index: u32) -> Result<p::IrqInfo> {
        let request = p::IrqInfo {
            argsz: p::IrqInfo::SIZE as u32,
            flags: 0,
            index,
            count: 0,
        };
        let reply = self.call(command::DEVICE_GET_IRQ_INFO, &request.encode(), &[])?;
        Ok(p::IrqInfo::decode(&reply.payload)?)
    }

    /// DEVICE_SET_IRQS with `data` (the booleans of `DATA_BOOL`) and
    /// `fds` (the eventfds of `DATA_EVENTFD`).
    pub fn set_irqs(
        &self,
        index: u32,
        irq_flags: u32,
        start: u32,
        count: u32,
        data: &[u8],
        fds: &[BorrowedFd<'_>],
    ) -> Result<()> {
        let set = p::IrqSet {
            argsz: (p::IrqSet::SIZE + data.len()) as u32,
            flags: irq_flags,
            index,
            start,
            count,
        };
        let mut payload = set.encode();
        payload.extend_from_slice(data);
        self.call(command::DEVICE_SET_IRQS, &payload, fds)?;
        Ok(())
    }

    pub fn region_read(&self, region: u32, offset: u64, count: u32) -> Result<Vec<u8>> {
        let access = p::RegionAccess {
            offset,
            region,
            count,
        };
        let reply = self.call(command::REGION_READ, &access.encode(&[]), &[])?;
        let echo = p::RegionAccess::decode(&reply.payload)?;
        let data = &reply.payload[p::RegionAccess::SIZE..];
        if echo != access || data.len() != count as usize {
            return Err(ClientError::BadReply(
                "region read reply does not match the request",
            ));
        }
        Ok(data.to_vec())
    }

    pub fn region_write(&self, region: u32, offset: u64, data: &[u8]) -> Result<()> {
        let access = p::RegionAccess {
            offset,
            region,
            count: data.len() as u32,
        };
        let reply = self.call(command::REGION_WRITE, &access.encode(data), &[])?;
        if p::RegionAccess::decode(&reply.payload)? != access {
            return Err(ClientError::BadReply(
                "region write reply does not match the request",
            ));
        }
        Ok(())
    }

    /// A posted (NO_REPLY) region write, as QEMU sends for BAR writes of
    /// devices without mappable regions.
    pub fn region_write_posted(
        &self,
        region: u32,
        offset: u64,
        data: &[u8],
    ) -> std::io::Result<()> {
        let access = p::RegionAccess {
            offset,
            region,
            count: data.len() as u32,
        };
        self.post(command::REGION_WRITE, &access.encode(data))
    }

    /// Maps `size` bytes at bus address `address`, backed by `fd` at
    /// `offset` if given.
    pub fn dma_map(
        &self,
        address: u64,
        size: u64,
        offset: u64,
        map_flags: u32,
        fd: Option<BorrowedFd<'_>>,
    ) -> Result<()> {
        let map = p::DmaMap {
            argsz: p::DmaMap::SIZE as u32,
            flags: map_flags,
            offset,
            address,
            size,
        };
        let fds: Vec<BorrowedFd<'_>> = fd.into_iter().collect();
        self.call(command::DMA_MAP, &map.encode(), &fds)?;
        Ok(())
    }

    pub fn dma_unmap(&self, address: u64, size: u64, unmap_flags: u32) -> Result<()> {
        let unmap = p::DmaUnmap {
            argsz: p::DmaUnmap::SIZE as u32,
            flags: unmap_flags,
            address,
            size,
        };
        self.call(command::DMA_UNMAP, &unmap.encode(), &[])?;
        Ok(())
    }

    pub fn reset(&self) -> Result<()> {
        self.call(command::DEVICE_RESET, &[], &[])?;
        Ok(())
    }

    /// Closes the connection and waits for the reader thread.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.link.close();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn read_loop(stream: &UnixStream, link: &Link, memory: Option<&TestMemory>, served: &AtomicU64) {
    let limits = Limits {
        max_message_size: 64 << 20,
        max_fds: 16,
    };
    while let Ok(received) = wire::recv(stream, &limits) {
        let Received::Message(msg) = received else {
            continue;
        };
        if msg.header.is_reply() {
            link.deliver(msg);
            continue;
        }
        let (payload, result) = serve_dma(&msg, memory);
        let reply = match result {
            Ok(()) => msg.header.reply(payload.len()),
            Err(errno) => msg.header.error_reply(errno),
        };
        let payload = if reply.is_error() {
            Vec::new()
        } else {
            payload
        };
        if msg.header.wants_reply() && link.send(&reply, &payload, &[]).is_err() {
            break;
        }
        served.fetch_add(1, Ordering::SeqCst);
    }
    link.close();
}

/// Carries out a DMA_READ/DMA_WRITE against `memory`, returning the reply
/// payload.
fn serve_dma(
    msg: &Message,
    memory: Option<&TestMemory>,
) -> (Vec<u8>, std::result::Result<(), Errno>) {
    let fail = |errno| (Vec::new(), Err(errno));
    let Ok((access, data)) = DmaAccess::decode(&msg.payload) else {
        return fail(Errno::EINVAL);
    };
    let Some(memory) = memory else {
        return fail(Errno::EFAULT);
    };
    let Some(range) = memory.range(access.address, access.count) else {
        return fail(Errno::EFAULT);
    };
    match msg.header.command {
        command::DMA_READ => {
            let bytes = memory.lock()[range].to_vec();
            (access.encode(&bytes), Ok(()))
        }
        command::DMA_WRITE => {
            let Some(data) = data.get(..range.len()) else {
                return fail(Errno::EINVAL);
            };
            memory.lock()[range].copy_from_slice(data);
            (access.encode(&[]), Ok(()))
        }
        _ => fail(Errno::ENOSYS),
    }
}
