//! Server-initiated requests: [`Link`], one connection's outgoing side
//! (serialised sends, and the table of requests waiting for their reply),
//! and [`DmaPort`], the device's handle for DMA_READ / DMA_WRITE through
//! the client.
//!
//! A connection's reader thread hands every reply to [`Link::deliver`],
//! which wakes the caller waiting for that message id. When the connection
//! ends, [`Link::close`] fails every waiter with
//! [`DmaError::Disconnected`], so no caller hangs on a dead client.

use std::cell::Cell;
use std::collections::HashMap;
use std::os::fd::RawFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::dma::DmaError;
use super::errno::Errno;
use super::protocol::{command, DmaAccess, Header};
use super::wire::{self, Message};

thread_local! {
    /// The link whose client requests this thread is handling, if any.
    static HANDLING: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Marks the current thread as the request handler of link `id` while
/// alive, so that DMA over that same link fails fast with
/// [`DmaError::WouldDeadlock`] instead of stalling against the client.
pub(crate) struct HandlerScope {
    previous: Option<u64>,
}

impl HandlerScope {
    pub(crate) fn enter(link_id: u64) -> HandlerScope {
        HandlerScope {
            previous: HANDLING.with(|h| h.replace(Some(link_id))),
        }
    }
}

impl Drop for HandlerScope {
    fn drop(&mut self) {
        HANDLING.with(|h| h.set(self.previous));
    }
}

/// One connection's sending side and its table of outstanding requests.
pub(crate) struct Link {
    id: u64,
    socket: UnixStream,
    send_lock: Mutex<()>,
    pending: Mutex<Pending>,
}

struct Pending {
    waiters: HashMap<u16, SyncSender<Message>>,
    next_id: u16,
    closed: bool,
}

impl Link {
    /// `socket` is the connection (or a clone of it) to write to; `id`
    /// names the connection uniquely within the process.
    pub(crate) fn new(id: u64, socket: UnixStream) -> Link {
        Link {
            id,
            socket,
            send_lock: Mutex::new(()),
            pending: Mutex::new(Pending {
                waiters: HashMap::new(),
                next_id: 0,
                closed: false,
            }),
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The socket, for writes that bypass message framing (tests).
    pub(crate) fn stream(&self) -> &UnixStream {
        &self.socket
    }

    /// Sends one whole message; concurrent senders are serialised.
    pub(crate) fn send(
        &self,
        header: &Header,
        payload: &[u8],
        fds: &[RawFd],
    ) -> std::io::Result<()> {
        let _guard = self.send_lock.lock().unwrap_or_else(|e| e.into_inner());
        wire::send(&self.socket, header, payload, fds)
    }

    /// Sends the reply to `request` unless it asked for none.
    pub(crate) fn reply(&self, request: &Header, payload: &[u8], fds: &[RawFd]) {
        if request.wants_reply() {
            self.log_send_error(self.send(&request.reply(payload.len()), payload, fds));
        }
    }

    /// Sends an error reply to `request` unless it asked for none.
    pub(crate) fn error_reply(&self, request: &Header, errno: Errno) {
        if request.wants_reply() {
            self.log_send_error(self.send(&request.error_reply(errno), &[], &[]));
        }
    }

    fn log_send_error(&self, result: std::io::Result<()>) {
        if let Err(e) = result {
            log::debug!(
                "vfio-user: connection {}: sending reply failed: {e}",
                self.id
            );
        }
    }

    /// Sends a command (with `fds`) and waits up to `timeout` for its reply.
    pub(crate) fn request(
        &self,
        command: u16,
        payload: &[u8],
        fds: &[RawFd],
        timeout: Duration,
    ) -> Result<Message, DmaError> {
        let (tx, rx) = sync_channel(1);
        let id = {
            let mut pending = self.pending();
            if pending.closed {
                return Err(DmaError::Disconnected);
            }
            // Ids are ours to choose; skip those still waiting.
            let mut id = pending.next_id;
            while pending.waiters.contains_key(&id) {
                id = id.wrapping_add(1);
            }
            pending.next_id = id.wrapping_add(1);
            pending.waiters.insert(id, tx);
            id
        };
        if let Err(e) = self.send(&Header::command(id, command, payload.len()), payload, fds) {
            self.pending().waiters.remove(&id);
            return Err(DmaError::Io(e));
        }
        match rx.recv_timeout(timeout) {
            Ok(reply) => Ok(reply),
            Err(RecvTimeoutError::Timeout) => {
                self.pending().waiters.remove(&id);
                Err(DmaError::Timeout)
            }
            Err(RecvTimeoutError::Disconnected) => Err(DmaError::Disconnected),
        }
    }

    /// Hands a reply to the request waiting for it; a reply nobody waits
    /// for (e.g. after a timeout) is dropped, closing its descriptors.
    pub(crate) fn deliver(&self, reply: Message) {
        let waiter = self.pending().waiters.remove(&reply.header.id);
        match waiter {
            Some(waiter) => {
                let _ = waiter.send(reply);
            }
            None => log::warn!(
                "vfio-user: connection {}: dropping unexpected {} reply id {}",
                self.id,
                command::name(reply.header.command),
                reply.header.id
            ),
        }
    }

    /// Ends the connection: every waiting and future request fails with
    /// `Disconnected`, and the socket is shut down so the reader thread
    /// returns.
    pub(crate) fn close(&self) {
        {
            let mut pending = self.pending();
            pending.closed = true;
            pending.waiters.clear();
        }
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The device's handle for DMA through the client: DMA_READ / DMA_WRITE
/// requests that QEMU carries out in the device's bus-master address space
/// (guest RAM, and also other devices' MMIO, which mapped memory cannot
/// reach).
///
/// Cloneable and thread-safe. It stays valid across reconnects and always
/// talks to the current client; with none connected, calls fail with
/// [`DmaError::NotConnected`]. See the [module docs](super) for which
/// threads may call it.
#[derive(Clone)]
pub struct DmaPort {
    inner: Arc<PortInner>,
}

struct PortInner {
    current: Mutex<Option<Attached>>,
    timeout: Duration,
    /// Largest read one `DMA_READ` asks for ([`super::ServerConfig::dma_read_max`]).
    read_max: usize,
}

#[derive(Clone)]
struct Attached {
    link: Arc<Link>,
    max_transfer: usize,
}

impl DmaPort {
    /// A port with no client yet, whose requests time out after `timeout`
    /// and whose reads ask for at most `read_max` bytes each.
    pub(crate) fn new(timeout: Duration, read_max: usize) -> DmaPort {
        DmaPort {
            inner: Arc::new(PortInner {
                current: Mutex::new(None),
                timeout,
                read_max: read_max.max(1),
            }),
        }
    }

    /// Routes requests to `link`, in chunks of at most `max_transfer`
    /// bytes, once it has negotiated.
    pub(crate) fn attach(&self, link: Arc<Link>, max_transfer: usize) {
        *self.current() = Some(Attached {
            link,
            max_transfer: max_transfer.max(1),
        });
    }

    /// Stops routing requests to link `link_id` (if it is the current one).
    pub(crate) fn detach(&self, link_id: u64) {
        let mut current = self.current();
        if current.as_ref().is_some_and(|a| a.link.id() == link_id) {
            *current = None;
        }
    }

    /// Whether a client is connected and negotiated.
    pub fn is_connected(&self) -> bool {
        self.current().is_some()
    }

    /// The largest transfer one message carries (the negotiated
    /// `max_data_xfer_size`), if connected. Longer transfers are split.
    pub fn max_transfer(&self) -> Option<usize> {
        self.current().as_ref().map(|a| a.max_transfer)
    }

    /// Reads `buf.len()` bytes of the client's address space at `addr`.
    pub fn dma_read(&self, addr: u64, buf: &mut [u8]) -> Result<(), DmaError> {
        let port = self.ready(addr, buf.len())?;
        let mut done = 0;
        for chunk in buf.chunks_mut(port.max_transfer.min(self.inner.read_max)) {
            let at = addr + done as u64;
            let request = DmaAccess {
                address: at,
                count: chunk.len() as u64,
            };
            let reply = port.link.request(
                command::DMA_READ,
                &request.encode(&[]),
                &[],
                self.inner.timeout,
            )?;
            check_reply(&reply)?;
            let (echo, data) =
                DmaAccess::decode(&reply.payload).map_err(|_| DmaError::BadReply("short"))?;
            if echo.count != request.count || data.len() < chunk.len() {
                return Err(DmaError::BadReply("count does not match the request"));
            }
            chunk.copy_from_slice(&data[..chunk.len()]);
            done += chunk.len();
        }
        Ok(())
    }

    /// Writes `data` to the client's address space at `addr`.
    pub fn dma_write(&self, addr: u64, data: &[u8]) -> Result<(), DmaError> {
        let port = self.ready(addr, data.len())?;
        let mut done = 0;
        for chunk in data.chunks(port.max_transfer) {
            let at = addr + done as u64;
            let request = DmaAccess {
                address: at,
                count: chunk.len() as u64,
            };
            let reply = port.link.request(
                command::DMA_WRITE,
                &request.encode(chunk),
                &[],
                self.inner.timeout,
            )?;
            check_reply(&reply)?;
            done += chunk.len();
        }
        Ok(())
    }

    /// The current link, after checking the range and the calling thread.
    fn ready(&self, addr: u64, len: usize) -> Result<Attached, DmaError> {
        if addr.checked_add(len as u64).is_none() {
            return Err(DmaError::Unmapped {
                addr,
                len: len as u64,
            });
        }
        let port = self.current().clone().ok_or(DmaError::NotConnected)?;
        if HANDLING.with(|h| h.get()) == Some(port.link.id()) {
            return Err(DmaError::WouldDeadlock);
        }
        Ok(port)
    }

    fn current(&self) -> MutexGuard<'_, Option<Attached>> {
        self.inner.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for DmaPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DmaPort")
            .field("connected", &self.is_connected())
            .finish()
    }
}

fn check_reply(reply: &Message) -> Result<(), DmaError> {
    if !reply.fds.is_empty() {
        return Err(DmaError::BadReply("unexpected file descriptors"));
    }
    if reply.header.is_error() {
        return Err(DmaError::Remote(Errno(reply.header.error as i32)));
    }
    Ok(())
}
