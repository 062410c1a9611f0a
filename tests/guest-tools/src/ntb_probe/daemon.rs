//! The daemon: one background process that holds the adapter, so that what
//! commands set up (buffers, windows, LUT slots, the link) lasts from one
//! command to the next, as it would with a kernel driver.
//!
//! `start` forks it; it opens the session, listens on [`SOCKET`] and tells
//! the waiting parent it is ready (or why not). Every later invocation of
//! the probe finds the socket and hands its arguments over; the daemon runs
//! the command on its session and streams back what it prints and its exit
//! code. It serves one command at a time; `stop` ends it, disabling the
//! link and quiescing the adapter, and so does SIGTERM, SIGINT or SIGHUP
//! between commands (the windows it opened point at its own memory, which
//! must not outlive it). Its own log goes to [`LOG`].
//!
//! Wire format, both ways length-prefixed (little-endian u32):
//!
//! ```text
//! client -> daemon   count, then count x (len, bytes): the arguments
//! daemon -> client   frames: tag (b'o' stdout, b'e' stderr, b'x' exit code), len, bytes
//! ```

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;

use super::cli::{Cli, Command};
use super::commands;
use super::session::Session;

/// Where the daemon listens.
pub const SOCKET: &str = "/run/rsio-ntb-probe.sock";
/// Where the daemon logs.
pub const LOG: &str = "/tmp/rsio-ntb-probe.log";
/// The longest argument list a client may send.
const MAX_REQUEST: usize = 64 << 10;
/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

const OUT: u8 = b'o';
const ERR: u8 = b'e';
const EXIT: u8 = b'x';

/// Runs `args` in the daemon if one is listening: `None` if there is none,
/// else the command's exit code.
pub fn forward(args: &[String]) -> Option<Result<u8>> {
    let stream = UnixStream::connect(SOCKET).ok()?;
    Some(exchange(stream, args))
}

fn exchange(mut stream: UnixStream, args: &[String]) -> Result<u8> {
    let mut request = Vec::new();
    put(&mut request, args.len());
    for arg in args {
        put(&mut request, arg.len());
        request.extend_from_slice(arg.as_bytes());
    }
    stream
        .write_all(&request)
        .context("cannot send the command to the daemon")?;
    let (mut stdout, mut stderr) = (io::stdout(), io::stderr());
    loop {
        let Some((tag, body)) = frame(&mut stream)? else {
            bail!("the daemon went away during the command (see {LOG})");
        };
        match tag {
            OUT => {
                stdout.write_all(&body)?;
                stdout.flush()?;
            }
            ERR => {
                stderr.write_all(&body)?;
                stderr.flush()?;
            }
            EXIT => return Ok(body.first().copied().unwrap_or(1)),
            other => bail!("a malformed reply from the daemon (frame {other:#x})"),
        }
    }
}

fn put(buf: &mut Vec<u8>, n: usize) {
    buf.extend_from_slice(&(n as u32).to_le_bytes());
}

fn get(stream: &mut impl Read) -> io::Result<usize> {
    let mut word = [0u8; 4];
    stream.read_exact(&mut word)?;
    Ok(u32::from_le_bytes(word) as usize)
}

/// The next frame, `None` at end of stream.
fn frame(stream: &mut impl Read) -> Result<Option<(u8, Vec<u8>)>> {
    let mut tag = [0u8; 1];
    match stream.read(&mut tag) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e) => return Err(e).context("cannot read the daemon's reply"),
    }
    let len = get(stream)?;
    if len > MAX_REQUEST {
        bail!("a malformed reply from the daemon ({len}-byte frame)");
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    Ok(Some((tag[0], body)))
}

/// Reads a client's arguments.
fn request(stream: &mut UnixStream) -> Result<Vec<String>> {
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    let count = get(stream)?;
    let mut args = Vec::with_capacity(count.min(256));
    let mut total = 0;
    for _ in 0..count {
        let len = get(stream)?;
        total += len + 4;
        if total > MAX_REQUEST {
            bail!("the request is over {MAX_REQUEST} bytes");
        }
        let mut arg = vec![0u8; len];
        stream.read_exact(&mut arg)?;
        args.push(String::from_utf8(arg).context("an argument is not UTF-8")?);
    }
    Ok(args)
}

/// A writer that sends what is written as frames of one tag.
struct Frames<'a> {
    stream: &'a UnixStream,
    tag: u8,
}

impl Write for Frames<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut frame = vec![self.tag];
        put(&mut frame, data.len());
        frame.extend_from_slice(data);
        // A client that went away must not stop the command half-way.
        let _ = (&*self.stream).write_all(&frame);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `start`: forks the daemon and waits until it serves (or failed to).
pub fn start(device: Option<&str>) -> Result<()> {
    if let Ok(stream) = UnixStream::connect(SOCKET) {
        drop(stream);
        println!("daemon already running on {SOCKET}");
        return Ok(());
    }
    let mut fds = [0; 2];
    // SAFETY: pipe writes two descriptors into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error()).context("pipe");
    }
    // SAFETY: a fresh descriptor we own.
    let read_end = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    // SAFETY: a fresh descriptor we own.
    let write_end = unsafe { OwnedFd::from_raw_fd(fds[1]) };
    // SAFETY: the probe is single-threaded here, so the child may go on running ordinary Rust code.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()).context("fork"),
        0 => {
            drop(read_end);
            let code = match daemon_main(device, std::fs::File::from(write_end)) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("rsio-ntb-probe daemon: {e:#}");
                    1
                }
            };
            std::process::exit(code);
        }
        _child => {
            drop(write_end);
            let mut report = String::new();
            std::fs::File::from(read_end).read_to_string(&mut report)?;
            match report.strip_prefix("ready ") {
                Some(summary) => {
                    print!("daemon started: {summary}");
                    Ok(())
                }
                None if report.is_empty() => bail!("the daemon died while starting (see {LOG})"),
                None => bail!("{}", report.trim_end()),
            }
        }
    }
}

/// The daemon process: detach, open the session, report, serve.
fn daemon_main(device: Option<&str>, mut parent: std::fs::File) -> Result<()> {
    // SAFETY: setsid has no memory-safety preconditions.
    unsafe { libc::setsid() };
    redirect_output()?;
    let session = match Session::open(device) {
        Ok(session) => session,
        Err(e) => {
            let _ = write!(parent, "{e:#}");
            return Err(e);
        }
    };
    let _ = std::fs::remove_file(SOCKET);
    let listener =
        UnixListener::bind(SOCKET).with_context(|| format!("cannot listen on {SOCKET}"))?;
    let g = session.adapter.geometry;
    let summary = format!(
        "pid {}, adapter {}, node {} of {}, socket {SOCKET}\n",
        std::process::id(),
        session.adapter.bdf,
        g.node,
        g.nodes
    );
    let _ = write!(parent, "ready {summary}");
    drop(parent);
    eprintln!("daemon: {}", summary.trim_end());
    let signals = SignalPipe::install()?;
    serve(&listener, &signals, session);
    eprintln!("daemon: stopped");
    Ok(())
}

/// The write end of the signal pipe, for the handler.
static SIGNAL_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    let byte = signal as u8;
    // SAFETY: write is async-signal-safe; the descriptor stays open for the daemon's life.
    unsafe {
        libc::write(
            SIGNAL_FD.load(Ordering::SeqCst),
            (&byte as *const u8).cast(),
            1,
        )
    };
}

/// A self-pipe that becomes readable when SIGTERM, SIGINT or SIGHUP
/// arrives, so the accept loop can notice them.
struct SignalPipe {
    read: OwnedFd,
    _write: OwnedFd,
}

impl SignalPipe {
    fn install() -> Result<SignalPipe> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into the array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(io::Error::last_os_error()).context("pipe");
        }
        // SAFETY: fresh descriptors we own.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        SIGNAL_FD.store(write.as_raw_fd(), Ordering::SeqCst);
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            // SAFETY: the handler only writes one byte to a pipe.
            unsafe {
                libc::signal(
                    signal,
                    on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
                )
            };
        }
        Ok(SignalPipe {
            read,
            _write: write,
        })
    }

    fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }
}

/// Waits until a client connects (`true`) or a signal arrives (`false`).
fn wait_for_client(listener: &UnixListener, signals: &SignalPipe) -> bool {
    let mut polls = [
        libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: signals.fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: two valid pollfds for descriptors we own.
        let n = unsafe { libc::poll(polls.as_mut_ptr(), 2, -1) };
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return n > 0 && polls[1].revents == 0;
    }
}

/// Sends stdin to /dev/null and stdout and stderr to the log.
fn redirect_output() -> Result<()> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(LOG)
        .with_context(|| format!("cannot open {LOG}"))?;
    let null = std::fs::File::open("/dev/null")?;
    // SAFETY: dup2 onto the standard descriptors, from descriptors we own.
    unsafe {
        libc::dup2(null.as_raw_fd(), 0);
        libc::dup2(log.as_raw_fd(), 1);
        libc::dup2(log.as_raw_fd(), 2);
    }
    Ok(())
}

/// Serves clients one at a time until `stop` or a signal.
fn serve(listener: &UnixListener, signals: &SignalPipe, mut session: Session) {
    loop {
        if !wait_for_client(listener, signals) {
            eprintln!("daemon: signalled; leaving the fabric and quiescing the adapter");
            let _ = std::fs::remove_file(SOCKET);
            let _ = session.adapter.set_link(false);
            return;
        }
        let Ok((mut stream, _)) = listener.accept() else {
            continue;
        };
        let args = match request(&mut stream) {
            Ok(args) => args,
            Err(e) => {
                eprintln!("daemon: a bad request: {e:#}");
                continue;
            }
        };
        let (code, stop) = execute(&mut session, &args, &stream);
        eprintln!("daemon: {} -> {code}", args.join(" "));
        let mut exit = vec![EXIT];
        put(&mut exit, 1);
        exit.push(code);
        if stop {
            // Gone before `stop` returns: the socket (so the next command
            // runs on its own) and the device (so it can open it).
            let _ = std::fs::remove_file(SOCKET);
            drop(session);
            let _ = (&stream).write_all(&exit);
            return;
        }
        let _ = (&stream).write_all(&exit);
    }
}

/// Runs one client's command; returns its exit code and whether the
/// daemon should stop.
fn execute(session: &mut Session, args: &[String], stream: &UnixStream) -> (u8, bool) {
    let mut out = Frames { stream, tag: OUT };
    let mut err = Frames { stream, tag: ERR };
    let cli = match Cli::try_parse_from(
        std::iter::once("rsio-ntb-probe".to_owned()).chain(args.iter().cloned()),
    ) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = write!(err, "{e}");
            return (2, false);
        }
    };
    match cli.command {
        Command::Start => {
            let _ = writeln!(out, "daemon already running on {SOCKET}");
            (0, false)
        }
        Command::Stop => {
            // The node leaves the fabric with its "driver".
            let link = session.adapter.set_link(false);
            let _ = writeln!(
                out,
                "daemon stopped: link {}, adapter quiesced",
                if link.is_ok() {
                    "disabled"
                } else {
                    "left as it was"
                }
            );
            (0, true)
        }
        command => match commands::run(session, &command, &mut out) {
            Ok(()) => (0, false),
            Err(e) => {
                let _ = writeln!(err, "rsio-ntb-probe: {e:#}");
                (1, false)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_output_then_the_exit_code() {
        let (a, b) = UnixStream::pair().unwrap();
        {
            let mut out = Frames {
                stream: &a,
                tag: OUT,
            };
            write!(out, "hello").unwrap();
            let mut exit = vec![EXIT];
            put(&mut exit, 1);
            exit.push(3);
            (&a).write_all(&exit).unwrap();
        }
        drop(a);
        let mut b = b;
        assert_eq!(frame(&mut b).unwrap(), Some((OUT, b"hello".to_vec())));
        assert_eq!(frame(&mut b).unwrap(), Some((EXIT, vec![3])));
        assert_eq!(frame(&mut b).unwrap(), None);
    }

    #[test]
    fn a_request_is_the_argument_list() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let mut bytes = Vec::new();
        put(&mut bytes, 2);
        for arg in ["ring", "1"] {
            put(&mut bytes, arg.len());
            bytes.extend_from_slice(arg.as_bytes());
        }
        a.write_all(&bytes).unwrap();
        assert_eq!(request(&mut b).unwrap(), ["ring", "1"]);
    }

    #[test]
    fn an_oversized_request_is_refused() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let mut bytes = Vec::new();
        put(&mut bytes, 1);
        put(&mut bytes, MAX_REQUEST + 1);
        a.write_all(&bytes).unwrap();
        assert!(request(&mut b).is_err());
    }
}
