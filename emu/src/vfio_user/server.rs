//! [`Server`]: serves one device to one client at a time, over a listening
//! UNIX socket ([`Server::listen`]) or an already connected stream
//! ([`Server::serve_connection`]).

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use super::connection::{self, region_limits};
use super::device::Device;
use super::dma::GuestMemory;
use super::irq::{irq_index, Interrupts};
use super::peer::Peer;
use super::port::{DmaPort, Link};

/// Server settings. The defaults suit QEMU 11.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Largest data transfer of one REGION/DMA message we accept and send;
    /// the client may lower it during negotiation. Default 1 MiB.
    pub max_data_xfer_size: usize,
    /// Most descriptors one client message may carry (QEMU accepts at most
    /// 16 here). Default 16.
    pub max_msg_fds: u32,
    /// Most DMA regions mapped at once. Default 65535 (QEMU's limit).
    pub max_dma_maps: usize,
    /// How long [`DmaPort`] waits for a reply. Default 5 s, QEMU's own
    /// message timeout.
    pub dma_timeout: Duration,
    /// Largest `DMA_READ` we send (longer reads are split). Default 64 KiB:
    /// QEMU 11 does not deliver a reply larger than the socket's send
    /// buffer (about 208 KiB) until it sends something else, so a larger
    /// read times out (tests/upstream-bugs/qemu_vfio_user_large_dma_read.toml).
    pub dma_read_max: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_data_xfer_size: 1 << 20,
            max_msg_fds: 16,
            max_dma_maps: 65535,
            dma_timeout: Duration::from_secs(5),
            dma_read_max: 64 << 10,
        }
    }
}

/// The size and permissions of a region, as enforced by the server.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RegionLimits {
    pub size: u64,
    pub readable: bool,
    pub writable: bool,
}

/// State shared by a server and its connections.
pub(crate) struct Shared<D> {
    pub device: Arc<D>,
    pub peer: Peer,
    pub config: ServerConfig,
    pub regions: Vec<RegionLimits>,
    /// The connection being served, if any.
    active: Mutex<Option<Arc<Link>>>,
    idle: Condvar,
}

/// Numbers connections across all servers of the process (for logs and
/// for telling connections apart in [`DmaPort`]).
static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// How long a new client waits for the previous one's teardown before it
/// is turned away.
const HANDOVER_WAIT: Duration = Duration::from_secs(2);

/// A vfio-user server for one device.
///
/// Cheap to clone; clones serve the same device and share its [`Peer`].
pub struct Server<D: Device> {
    shared: Arc<Shared<D>>,
}

impl<D: Device> Clone for Server<D> {
    fn clone(&self) -> Self {
        Server {
            shared: self.shared.clone(),
        }
    }
}

impl<D: Device> Server<D> {
    /// A server for `device`, with default settings.
    pub fn new(device: Arc<D>) -> Server<D> {
        Server::with_config(device, ServerConfig::default())
    }

    /// A server for `device`. Queries the device's regions and interrupt
    /// counts once, here.
    pub fn with_config(device: Arc<D>, config: ServerConfig) -> Server<D> {
        let counts: Vec<u32> = (0..irq_index::COUNT).map(|i| device.irq_count(i)).collect();
        let peer = Peer::new(
            GuestMemory::default(),
            DmaPort::new(config.dma_timeout, config.dma_read_max),
            Interrupts::new(&counts),
        );
        let regions = region_limits(&*device);
        Server {
            shared: Arc::new(Shared {
                device,
                peer,
                config,
                regions,
                active: Mutex::new(None),
                idle: Condvar::new(),
            }),
        }
    }

    /// The client as the device sees it; valid across reconnects.
    pub fn peer(&self) -> &Peer {
        &self.shared.peer
    }

    pub fn device(&self) -> &Arc<D> {
        &self.shared.device
    }

    /// Whether a client is connected right now.
    pub fn is_connected(&self) -> bool {
        self.active().is_some()
    }

    /// Serves a connected client on the calling thread until it goes
    /// away. Fails with `EBUSY` if another client is being served.
    pub fn serve_connection(&self, stream: UnixStream) -> io::Result<()> {
        let link = self.claim(&stream, Duration::ZERO)?;
        self.serve_claimed(stream, link);
        Ok(())
    }

    /// Listens on a new UNIX socket at `path` (replacing a stale socket
    /// file) and serves clients from a background thread, one at a time,
    /// each connection on its own threads.
    pub fn listen(&self, path: impl AsRef<Path>) -> io::Result<Listening> {
        let path = path.as_ref().to_path_buf();
        remove_stale_socket(&path)?;
        let listener = UnixListener::bind(&path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let server = self.clone();
        let accept_listener = listener.try_clone()?;
        let accept_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name("vfio-user-accept".into())
            .spawn(move || server.accept_loop(&accept_listener, &accept_stop))?;
        log::info!("vfio-user: listening on {}", path.display());
        let server = self.clone();
        let disconnect = Box::new(move || {
            server.disconnect();
            server.wait_disconnected(HANDOVER_WAIT);
        });
        Ok(Listening {
            path,
            listener,
            stop,
            thread: Some(thread),
            disconnect,
        })
    }

    /// Ends the current connection, if any, as if the client had gone.
    pub fn disconnect(&self) {
        if let Some(link) = self.active().clone() {
            link.close();
        }
    }

    /// Waits up to `timeout` until no client is connected (its teardown,
    /// including the device's `disconnected` callback, has finished);
    /// returns whether that happened.
    pub fn wait_disconnected(&self, timeout: Duration) -> bool {
        let active = self.active();
        let (active, _) = self
            .shared
            .idle
            .wait_timeout_while(active, timeout, |a| a.is_some())
            .unwrap_or_else(|e| e.into_inner());
        active.is_none()
    }

    fn accept_loop(&self, listener: &UnixListener, stop: &AtomicBool) {
        loop {
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if !stop.load(Ordering::SeqCst) {
                        log::error!("vfio-user: accept failed: {e}");
                    }
                    return;
                }
            };
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let link = match self.claim(&stream, HANDOVER_WAIT) {
                Ok(link) => link,
                Err(e) => {
                    log::warn!("vfio-user: turning a client away: {e}");
                    continue;
                }
            };
            let server = self.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("vfio-user-conn{}", link.id()))
                .spawn(move || server.serve_claimed(stream, link));
            if let Err(e) = spawned {
                log::error!("vfio-user: cannot start a connection thread: {e}");
                self.release();
            }
        }
    }

    /// Makes `stream` the active connection, waiting up to `wait` for the
    /// previous one to be torn down.
    fn claim(&self, stream: &UnixStream, wait: Duration) -> io::Result<Arc<Link>> {
        let active = self.active();
        let (mut active, _) = self
            .shared
            .idle
            .wait_timeout_while(active, wait, |a| a.is_some())
            .unwrap_or_else(|e| e.into_inner());
        if active.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                "a client is already connected",
            ));
        }
        let id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
        let link = Arc::new(Link::new(id, stream.try_clone()?));
        *active = Some(link.clone());
        log::info!("vfio-user: connection {id} accepted");
        Ok(link)
    }

    fn serve_claimed(&self, stream: UnixStream, link: Arc<Link>) {
        connection::serve(&self.shared, stream, link);
        self.release();
    }

    fn release(&self) {
        *self.active() = None;
        self.shared.idle.notify_all();
    }

    fn active(&self) -> MutexGuard<'_, Option<Arc<Link>>> {
        self.shared.active.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A listening server; dropping it (or [`shutdown`](Self::shutdown)) stops
/// accepting, ends the current connection and removes the socket file.
pub struct Listening {
    path: PathBuf,
    listener: UnixListener,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    disconnect: Box<dyn Fn() + Send>,
}

impl Listening {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Blocks until the accept loop ends (it only does on errors or
    /// shutdown): for programs that serve until killed.
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Stops accepting clients and disconnects the current one.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // shutdown(2) wakes the blocked accept(2) (EINVAL) without closing
        // the fd.
        // SAFETY: a plain syscall on a listening socket we own.
        unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        (self.disconnect)();
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop_now();
        }
    }
}

/// Removes a socket file left by an earlier run; refuses to remove
/// anything that is not a socket.
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
