//! A tiny Ethernet hub: one L2 segment shared by the e1000e NICs of several
//! nodes.
//!
//! Each QEMU's `-netdev dgram` sends its frames as datagrams to the hub's
//! unix socket, from its own bound socket. The hub learns a peer from the
//! source address of its first frame and forwards every frame to all other
//! peers it has learnt. Like a real hub it never blocks on a slow peer: a
//! frame that does not fit a peer's queue is dropped.
//!
//! The hub must be bound before QEMU starts, since QEMU only ever sends to it.

use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result};

/// How often the hub thread checks whether it should stop.
const POLL_MS: libc::c_int = 100;
/// Larger than any Ethernet frame, jumbo frames included.
const MAX_FRAME: usize = 65536;

/// A running hub; dropping it stops the thread and removes the socket.
#[derive(Debug)]
pub struct Hub {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Hub {
    /// Binds the hub's socket at `path` and starts forwarding.
    pub fn start(path: &Path) -> Result<Hub> {
        let socket = UnixDatagram::bind(path)
            .with_context(|| format!("cannot bind the hub socket {}", path.display()))?;
        socket
            .set_nonblocking(true)
            .context("cannot make the hub socket non-blocking")?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name(format!("hub {}", path.display()))
            .spawn({
                let stop = Arc::clone(&stop);
                move || forward(&socket, &stop)
            })
            .context("cannot start the hub thread")?;
        Ok(Hub {
            path: path.to_owned(),
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The hub thread: receive a frame, learn its sender, forward it to the
/// other peers, until `stop` is set.
fn forward(socket: &UnixDatagram, stop: &AtomicBool) {
    let mut peers: Vec<PathBuf> = Vec::new();
    let mut frame = vec![0u8; MAX_FRAME];
    while !stop.load(Ordering::SeqCst) {
        if !readable(socket, POLL_MS) {
            continue;
        }
        let (len, from) = match socket.recv_from(&mut frame) {
            Ok(received) => received,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                continue
            }
            Err(e) => {
                eprintln!("cluster: hub: receive failed: {e}");
                return;
            }
        };
        let sender = from.as_pathname().map(Path::to_path_buf);
        if let Some(sender) = &sender {
            if !peers.contains(sender) {
                peers.push(sender.clone());
            }
        }
        for peer in peers.iter().filter(|p| Some(*p) != sender.as_ref()) {
            // A full queue or a peer that has gone away loses this frame,
            // as on a real wire.
            let _ = socket.send_to(&frame[..len], peer);
        }
    }
}

/// Waits up to `timeout_ms` for the socket to become readable.
fn readable(socket: &UnixDatagram, timeout_ms: libc::c_int) -> bool {
    let mut pollfd = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for a descriptor that outlives the call.
    let rc = unsafe { libc::poll(&mut pollfd, 1, timeout_ms) };
    rc > 0 && pollfd.revents & libc::POLLIN != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::time::Duration;

    struct Peer {
        name: &'static str,
        socket: UnixDatagram,
    }

    impl Peer {
        fn bind(dir: &Path, name: &'static str) -> Peer {
            let socket = UnixDatagram::bind(dir.join(format!("{name}.sock"))).unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            Peer { name, socket }
        }

        fn send(&self, hub: &Path, frame: &str) {
            self.socket.send_to(frame.as_bytes(), hub).unwrap();
        }

        fn receive(&self) -> String {
            let mut buf = [0u8; 256];
            let len = self
                .socket
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("{}: {e}", self.name));
            String::from_utf8(buf[..len].to_vec()).unwrap()
        }

        /// Nothing more is queued for this peer (checked after the frames
        /// that must arrive, which the hub sent before any unwanted one).
        fn assert_idle(&self) {
            self.socket.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 256];
            let got = self.socket.recv(&mut buf);
            assert!(
                got.is_err(),
                "{} got an unexpected frame {:?}",
                self.name,
                got.map(|n| buf[..n].to_vec())
            );
            self.socket.set_nonblocking(false).unwrap();
        }
    }

    #[test]
    fn frames_reach_every_other_peer_that_has_spoken() {
        let dir = TempDir::new("hub");
        let hub = dir.path().join("net0.hub");
        let _running = Hub::start(&hub).unwrap();
        let (a, b, c) = (
            Peer::bind(dir.path(), "a"),
            Peer::bind(dir.path(), "b"),
            Peer::bind(dir.path(), "c"),
        );

        // a is the only peer the hub knows: its frame goes nowhere.
        a.send(&hub, "a1");
        // b is learnt; its frame reaches a.
        b.send(&hub, "b1");
        assert_eq!(a.receive(), "b1");
        // c is learnt; its frame reaches a and b.
        c.send(&hub, "c1");
        assert_eq!(a.receive(), "c1");
        assert_eq!(b.receive(), "c1");
        // Now everyone hears everyone, but no one hears itself.
        a.send(&hub, "a2");
        assert_eq!(b.receive(), "a2");
        assert_eq!(c.receive(), "a2");
        b.send(&hub, "b2");
        assert_eq!(a.receive(), "b2");
        assert_eq!(c.receive(), "b2");

        // A round trip through a proves the hub has sent all it will send.
        c.send(&hub, "sync");
        assert_eq!(a.receive(), "sync");
        assert_eq!(b.receive(), "sync");
        a.assert_idle();
        b.assert_idle();
        c.assert_idle();
    }

    #[test]
    fn a_departed_peer_does_not_stall_the_others() {
        let dir = TempDir::new("hub-gone");
        let hub = dir.path().join("net0.hub");
        let _running = Hub::start(&hub).unwrap();
        let (a, b) = (Peer::bind(dir.path(), "a"), Peer::bind(dir.path(), "b"));
        {
            let gone = Peer::bind(dir.path(), "gone");
            gone.send(&hub, "hello");
            std::fs::remove_file(dir.path().join("gone.sock")).unwrap();
        }
        a.send(&hub, "a1");
        b.send(&hub, "b1");
        assert_eq!(a.receive(), "b1");
    }

    #[test]
    fn dropping_the_hub_removes_its_socket() {
        let dir = TempDir::new("hub-drop");
        let path = dir.path().join("net0.hub");
        drop(Hub::start(&path).unwrap());
        assert!(!path.exists());
    }
}
