//! The control socket: accepts clients and answers their request lines
//! with [`rsio_emu::control::respond`] (the protocol is documented there).
//!
//! Each client is served on its own thread, so a slow or silent client
//! holds up nobody else; one idle for [`IDLE_TIMEOUT`] is hung up on.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rsio_emu::control::{self, Reply, Request, MAX_REQUEST_LEN};
use rsio_emu::fabric::Fabric;

/// How long a client may stay silent before it is hung up on.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Called once a `shutdown` request has been answered.
type OnShutdown = Arc<dyn Fn() + Send + Sync>;

/// A listening control socket. Dropping it stops accepting clients and
/// removes the socket file.
pub struct ControlServer {
    path: PathBuf,
    listener: UnixListener,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ControlServer {
    /// Listens at `path` (replacing a stale socket there) and serves
    /// `fabric`'s control protocol; `on_shutdown` runs when a client asked
    /// for `shutdown` and got its reply.
    pub fn listen(
        path: &Path,
        fabric: Arc<Fabric>,
        on_shutdown: impl Fn() + Send + Sync + 'static,
    ) -> io::Result<ControlServer> {
        remove_stale_socket(path)?;
        let listener = UnixListener::bind(path)?;
        let stopping = Arc::new(AtomicBool::new(false));
        let accepting = listener.try_clone()?;
        let accept_stopping = stopping.clone();
        let on_shutdown: OnShutdown = Arc::new(on_shutdown);
        let thread = std::thread::Builder::new()
            .name("control-accept".into())
            .spawn(move || accept_loop(&accepting, &accept_stopping, &fabric, &on_shutdown))?;
        Ok(ControlServer {
            path: path.to_path_buf(),
            listener,
            stopping,
            thread: Some(thread),
        })
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // shutdown(2) wakes the blocked accept(2) (it fails with EINVAL)
        // without closing the descriptor.
        // SAFETY: shutdown(2) on a listening socket we own; no memory is involved.
        unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn accept_loop(
    listener: &UnixListener,
    stopping: &AtomicBool,
    fabric: &Arc<Fabric>,
    on_shutdown: &OnShutdown,
) {
    loop {
        let accepted = listener.accept();
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // E.g. out of descriptors: wait for things to calm down.
                log::warn!("control: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let fabric = fabric.clone();
        let on_shutdown = on_shutdown.clone();
        let spawned = std::thread::Builder::new()
            .name("control-client".into())
            .spawn(move || serve_client(&stream, &fabric, &*on_shutdown));
        if let Err(e) = spawned {
            log::warn!("control: cannot serve a client: {e}");
        }
    }
}

/// Answers `stream`'s requests until it hangs up, goes idle, or asks for
/// `shutdown`.
fn serve_client(stream: &UnixStream, fabric: &Fabric, on_shutdown: &(dyn Fn() + Send + Sync)) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IDLE_TIMEOUT));
    let mut reader = BufReader::new(stream);
    let mut writer = stream;
    while let Ok(Some(line)) = read_request(&mut reader) {
        let response = control::respond(fabric, &line);
        match (&response.request, &response.reply) {
            (Some(Request::Status), _) => {}
            (Some(request), Reply::Error { message, .. }) => {
                log::info!("control: {request}: {message}")
            }
            (Some(request), _) => log::info!("control: {request}"),
            (None, _) => log::debug!("control: bad request: {}", String::from_utf8_lossy(&line)),
        }
        let sent = writer.write_all(response.reply.to_line().as_bytes());
        if response.shutdown() {
            on_shutdown();
            return;
        }
        if sent.is_err() {
            return;
        }
    }
}

/// Reads one request line, without its newline; `None` at the end of the
/// stream. A line longer than [`MAX_REQUEST_LEN`] is skipped up to its
/// newline and returned cut to `MAX_REQUEST_LEN + 1` bytes, which the
/// protocol refuses as too long; the stream stays usable. A last line
/// without a newline counts.
fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let limit = MAX_REQUEST_LEN as u64 + 1;
    if reader.by_ref().take(limit).read_until(b'\n', &mut line)? == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if line.len() as u64 == limit {
        skip_line(reader)?;
    }
    Ok(Some(line))
}

/// Discards input up to and including the next newline.
fn skip_line(reader: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(());
            }
            None => {
                let len = buf.len();
                reader.consume(len);
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn requests(input: &[u8]) -> Vec<Vec<u8>> {
        let mut reader = Cursor::new(input.to_vec());
        std::iter::from_fn(|| read_request(&mut reader).unwrap()).collect()
    }

    #[test]
    fn requests_are_lines() {
        assert_eq!(
            requests(b"status\nkill 1\n"),
            [b"status".to_vec(), b"kill 1".to_vec()]
        );
        assert_eq!(requests(b"status\n\n"), [b"status".to_vec(), b"".to_vec()]);
        assert_eq!(requests(b""), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn a_last_line_without_newline_counts() {
        assert_eq!(
            requests(b"status\nshutdown"),
            [b"status".to_vec(), b"shutdown".to_vec()]
        );
    }

    #[test]
    fn an_overlong_line_is_cut_and_skipped_and_the_next_one_read() {
        let mut input = vec![b'x'; 3 * MAX_REQUEST_LEN];
        input.extend_from_slice(b"\nstatus\n");
        let got = requests(&input);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), MAX_REQUEST_LEN + 1);
        assert_eq!(got[1], b"status");
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_whole() {
        let mut input = vec![b'x'; MAX_REQUEST_LEN];
        input.extend_from_slice(b"\nstatus\n");
        assert_eq!(
            requests(&input),
            [vec![b'x'; MAX_REQUEST_LEN], b"status".to_vec()]
        );
    }
}
