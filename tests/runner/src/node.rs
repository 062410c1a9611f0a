//! A cluster node: its QEMU process and the control connection to its
//! guest's init (see [`crate::protocol`]); or an expansion chassis, a QEMU
//! without a guest OS that the runner only talks to through QMP
//! ([`crate::qmp`]): it is ready once QMP answers and stops on QMP `quit`.
//!
//! Every wait here is bounded by a deadline and polls in short slices, so a
//! signal, a cancellation or QEMU exiting is noticed within a fraction of a
//! second.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::protocol::{encode_step, Decoder, Event};
use crate::qemu::{NodePaths, Vm};
use crate::qmp::{Json, Qmp};
use crate::signals::Cancel;

/// The longest single wait before checking for signals and QEMU's exit.
const POLL: Duration = Duration::from_millis(100);
/// How long QEMU may take to exit after closing the control port.
const EXIT_GRACE: Duration = Duration::from_secs(5);
/// How long a write to the guest may block (a stuck guest is not reading).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest single QMP exchange while waiting for a chassis.
const QMP_TRY: Duration = Duration::from_secs(1);
/// How long a chassis's QEMU gets to exit after a QMP `quit` that went
/// unanswered before it gets SIGTERM.
const QUIT_GRACE: Duration = Duration::from_secs(2);

/// How a wait on a node ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending<T> {
    /// What was waited for happened.
    Finished(T),
    /// The deadline passed first.
    TimedOut,
    /// QEMU exited first.
    VmExited(ExitStatus),
}

/// The result of running one script on a node.
#[derive(Debug, Clone)]
pub struct StepRun {
    /// Everything the script wrote (partial if it did not finish).
    pub output: Vec<u8>,
    /// `Finished(rc)` with the script's exit code, or why it did not finish.
    pub ending: Ending<i32>,
    pub duration: Duration,
}

/// One node of a running cluster.
#[derive(Debug)]
pub struct Node {
    pub index: usize,
    pub paths: NodePaths,
    /// An expansion chassis: no guest, no control port.
    pub chassis: bool,
    vm: Vm,
    control: Option<Control>,
    /// The sequence number of the last script sent.
    seq: u64,
}

#[derive(Debug)]
struct Control {
    stream: UnixStream,
    decoder: Decoder,
}

impl Node {
    pub fn new(index: usize, paths: NodePaths, vm: Vm) -> Node {
        Node {
            index,
            paths,
            chassis: false,
            vm,
            control: None,
            seq: 0,
        }
    }

    /// An expansion chassis (see the module docs).
    pub fn new_chassis(index: usize, paths: NodePaths, vm: Vm) -> Node {
        Node {
            chassis: true,
            ..Node::new(index, paths, vm)
        }
    }

    /// A chassis: waits until its QEMU answers `query-status` on QMP (it
    /// has set the machine up and runs), by `deadline`.
    fn wait_running(&mut self, deadline: Instant, cancel: &Cancel) -> Result<Ending<()>> {
        loop {
            cancel.check()?;
            if let Some(status) = self.vm.try_exit()? {
                return Ok(Ending::VmExited(status));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Ending::TimedOut);
            }
            let answer = Qmp::connect(&self.paths.qmp, left.min(QMP_TRY))
                .and_then(|mut qmp| qmp.execute(&Json::command("query-status")));
            if answer.is_ok() {
                return Ok(Ending::Finished(()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Connects to the control port (QEMU creates its socket shortly after
    /// starting) and waits for the guest's READY, both by `deadline`.
    /// A chassis is ready once its QEMU answers on QMP.
    pub fn wait_ready(&mut self, deadline: Instant, cancel: &Cancel) -> Result<Ending<()>> {
        if self.chassis {
            return self.wait_running(deadline, cancel);
        }
        match self.connect(deadline, cancel)? {
            Ending::Finished(()) => {}
            Ending::TimedOut => return Ok(Ending::TimedOut),
            Ending::VmExited(status) => return Ok(Ending::VmExited(status)),
        }
        let index = self.index;
        self.pump(deadline, cancel, |event| match event {
            Event::Ready { node } if node as usize == index => Ok(Some(())),
            Event::Ready { node } => bail!("node {index}'s guest announced itself as node {node}"),
            Event::Output(_) => Ok(None),
            Event::Done { seq, .. } => {
                bail!("node {index} reported step {seq} done before it was ready")
            }
        })
    }

    /// Runs `script` on the guest, waiting up to `timeout` for it to finish.
    pub fn run(&mut self, script: &str, timeout: Duration, cancel: &Cancel) -> Result<StepRun> {
        let started = Instant::now();
        self.seq += 1;
        let expected = self.seq;
        if let Err(e) = self.send(&encode_step(expected, script)) {
            // A guest that has died cannot take the step; say so plainly.
            return match self.vm.wait_exit(Duration::from_secs(1))? {
                Some(status) => Ok(StepRun {
                    output: Vec::new(),
                    ending: Ending::VmExited(status),
                    duration: started.elapsed(),
                }),
                None => Err(e),
            };
        }
        let index = self.index;
        let mut output = Vec::new();
        let ending = self.pump(started + timeout, cancel, |event| match event {
            Event::Output(bytes) => {
                output.extend_from_slice(&bytes);
                Ok(None)
            }
            Event::Done { seq, rc } if seq == expected => Ok(Some(rc)),
            Event::Done { seq, .. } => {
                bail!("node {index} reported step {seq} done while step {expected} was running")
            }
            Event::Ready { .. } => bail!("node {index}'s init restarted while a step was running"),
        })?;
        if !matches!(ending, Ending::Finished(_)) {
            if let Some(control) = &self.control {
                output.extend_from_slice(control.decoder.pending());
            }
        }
        Ok(StepRun {
            output,
            ending,
            duration: started.elapsed(),
        })
    }

    /// Asks the guest to power off and closes the control connection (on
    /// which the guest's init powers off by itself, too). Does not wait.
    /// A chassis gets QMP `quit`, and SIGTERM if that does not take.
    pub fn request_poweroff(&mut self) -> Result<()> {
        if self.chassis {
            return self.quit();
        }
        if self.control.is_some() {
            self.seq += 1;
            let result = self.send(&encode_step(self.seq, "poweroff -f"));
            self.control = None;
            result?;
        }
        Ok(())
    }

    /// A chassis: QMP `quit`. QEMU may exit before its reply arrives, so
    /// a failed exchange only counts if QEMU keeps running; then it gets
    /// SIGTERM (on which it exits 0, too).
    fn quit(&mut self) -> Result<()> {
        let result = Qmp::connect(&self.paths.qmp, QUIT_GRACE)
            .and_then(|mut qmp| qmp.execute(&Json::command("quit")));
        let Err(e) = result else { return Ok(()) };
        if self.vm.wait_exit(QUIT_GRACE)?.is_some() {
            return Ok(());
        }
        self.vm.terminate();
        Err(e.context("QMP quit failed; sent SIGTERM"))
    }

    /// Waits up to `timeout` for QEMU to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        self.vm.wait_exit(timeout)
    }

    /// Kills QEMU (a no-op if it has exited), then drops the control
    /// connection: closing it first would let the guest start an orderly
    /// poweroff (its init powers off when the host hangs up), which a kill
    /// must not allow.
    pub fn kill(&mut self) {
        self.vm.kill();
        self.control = None;
    }

    fn connect(&mut self, deadline: Instant, cancel: &Cancel) -> Result<Ending<()>> {
        loop {
            cancel.check()?;
            if let Some(status) = self.vm.try_exit()? {
                return Ok(Ending::VmExited(status));
            }
            match UnixStream::connect(&self.paths.ctl) {
                Ok(stream) => {
                    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
                    self.control = Some(Control {
                        stream,
                        decoder: Decoder::new(),
                    });
                    return Ok(Ending::Finished(()));
                }
                Err(e)
                    if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {}
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!(
                            "cannot connect to node {}'s control port {}",
                            self.index,
                            self.paths.ctl.display()
                        )
                    })
                }
            }
            if Instant::now() >= deadline {
                return Ok(Ending::TimedOut);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&mut self, frame: &[u8]) -> Result<()> {
        let control = self.control.as_mut().context("the node is not connected")?;
        control
            .stream
            .write_all(frame)
            .with_context(|| format!("cannot send a step to node {}", self.index))
    }

    /// Reads the control connection and feeds its events to `handle` until
    /// `handle` returns a value, the deadline passes or QEMU exits.
    fn pump<T>(
        &mut self,
        deadline: Instant,
        cancel: &Cancel,
        mut handle: impl FnMut(Event) -> Result<Option<T>>,
    ) -> Result<Ending<T>> {
        let Node {
            index, vm, control, ..
        } = self;
        let control = control.as_mut().context("the node is not connected")?;
        let mut buf = [0u8; 8192];
        loop {
            cancel.check()?;
            let now = Instant::now();
            if now >= deadline {
                return Ok(Ending::TimedOut);
            }
            let slice = (deadline - now).clamp(Duration::from_millis(1), POLL);
            control.stream.set_read_timeout(Some(slice))?;
            match control.stream.read(&mut buf) {
                Ok(0) => return closed(*index, vm),
                Ok(n) => {
                    for event in control.decoder.feed(&buf[..n]) {
                        if let Some(value) = handle(event)? {
                            return Ok(Ending::Finished(value));
                        }
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) =>
                {
                    if let Some(status) = vm.try_exit()? {
                        return Ok(Ending::VmExited(status));
                    }
                }
                Err(e)
                    if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) =>
                {
                    return closed(*index, vm)
                }
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot read node {index}'s control port"))
                }
            }
        }
    }
}

/// The control connection closed: QEMU closes it when it exits.
fn closed<T>(index: usize, vm: &mut Vm) -> Result<Ending<T>> {
    match vm.wait_exit(EXIT_GRACE)? {
        Some(status) => Ok(Ending::VmExited(status)),
        None => bail!("node {index}'s control port closed but QEMU is still running"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixListener;
    use std::os::unix::process::ExitStatusExt;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::thread::JoinHandle;

    const SECOND: Duration = Duration::from_secs(1);

    /// A node whose "QEMU" is `program args` and whose guest is `guest`,
    /// run on a thread against the control socket.
    struct Fixture {
        node: Node,
        guest: Option<JoinHandle<()>>,
        _dir: TempDir,
    }

    impl Fixture {
        fn new(
            program: &str,
            args: &[&str],
            guest: impl FnOnce(UnixStream, u32) + Send + 'static,
        ) -> Fixture {
            let dir = TempDir::new("node");
            let paths = NodePaths::new(dir.path(), 0);
            let listener = UnixListener::bind(&paths.ctl).unwrap();
            let argv: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let vm = Vm::spawn(Path::new(program), &argv, &paths.qemu_log).unwrap();
            let pid = vm.pid();
            let guest = std::thread::spawn(move || {
                let (stream, _) = listener.accept().unwrap();
                guest(stream, pid);
            });
            Fixture {
                node: Node::new(0, paths, vm),
                guest: Some(guest),
                _dir: dir,
            }
        }

        /// A node with a well-behaved guest that runs every script.
        fn serving() -> Fixture {
            Fixture::new("sleep", &["30"], |stream, _| serve(stream, 0))
        }

        fn ready(&mut self) -> Ending<()> {
            self.node
                .wait_ready(Instant::now() + 10 * SECOND, &Cancel::new())
                .unwrap()
        }

        fn run(&mut self, script: &str, timeout: Duration) -> StepRun {
            self.node.run(script, timeout, &Cancel::new()).unwrap()
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            self.node.kill();
            // Unblock a guest still waiting to accept a connection.
            let _ = UnixStream::connect(&self.node.paths.ctl);
            if let Some(guest) = self.guest.take() {
                let _ = guest.join();
            }
        }
    }

    /// The guest side of the protocol, as tools/guest-init implements it:
    /// READY, then for each `<seq> <base64>` line run the script with its
    /// output going straight to the port, then DONE.
    fn serve(stream: UnixStream, node: u32) {
        let mut port = stream.try_clone().unwrap();
        // The port may deliver a line in pieces.
        port.write_all(b"@@RSIO-REA").unwrap();
        port.write_all(format!("DY {node}\n").as_bytes()).unwrap();
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            let (seq, script) = line.split_once(' ').unwrap();
            let script = String::from_utf8(STANDARD.decode(script).unwrap()).unwrap();
            let out = port.try_clone().unwrap();
            let err = port.try_clone().unwrap();
            let status = Command::new("sh")
                .args(["-c", &script])
                .stdin(Stdio::null())
                .stdout(std::os::fd::OwnedFd::from(out))
                .stderr(std::os::fd::OwnedFd::from(err))
                .status()
                .unwrap();
            let rc = status.code().unwrap_or(128 + status.signal().unwrap_or(0));
            if port
                .write_all(format!("@@RSIO-DONE {seq} {rc}\n").as_bytes())
                .is_err()
            {
                return;
            }
        }
    }

    /// A guest that says nothing until the host hangs up.
    fn silent_guest(mut stream: UnixStream, _pid: u32) {
        let _ = stream.read_to_end(&mut Vec::new());
    }

    #[test]
    fn a_node_is_ready_once_its_guest_says_so() {
        let mut f = Fixture::serving();
        assert_eq!(f.ready(), Ending::Finished(()));
    }

    #[test]
    fn steps_return_their_output_and_exit_code() {
        let mut f = Fixture::serving();
        f.ready();
        let run = f.run("echo hello; echo oops >&2; exit 3", 10 * SECOND);
        assert_eq!(run.ending, Ending::Finished(3));
        assert_eq!(run.output, b"hello\noops\n");
        let run = f.run("printf 'no newline'", 10 * SECOND);
        assert_eq!(
            run.ending,
            Ending::Finished(0),
            "the next step gets the next seq"
        );
        assert_eq!(run.output, b"no newline");
    }

    #[test]
    fn multi_line_scripts_run_whole() {
        let mut f = Fixture::serving();
        f.ready();
        let run = f.run(
            "set -e\nfor i in 1 2 3; do\n  echo \"line $i\"\ndone\n",
            10 * SECOND,
        );
        assert_eq!(run.output, b"line 1\nline 2\nline 3\n");
    }

    #[test]
    fn a_step_that_overruns_its_timeout_keeps_its_partial_output() {
        let mut f = Fixture::serving();
        f.ready();
        let run = f.run(
            "echo started; printf 'half a line'; sleep 4",
            Duration::from_millis(1500),
        );
        assert_eq!(run.ending, Ending::TimedOut);
        assert_eq!(run.output, b"started\nhalf a line");
        assert!(run.duration < 3 * SECOND);
    }

    #[test]
    fn a_qemu_that_exits_during_boot_is_reported() {
        let mut f = Fixture::new("sh", &["-c", "exit 1"], |_, _| ());
        assert_eq!(f.ready(), Ending::VmExited(ExitStatus::from_raw(1 << 8)));
    }

    #[test]
    fn a_guest_that_never_says_ready_times_out() {
        let mut f = Fixture::new("sleep", &["30"], silent_guest);
        let deadline = Instant::now() + Duration::from_millis(300);
        assert_eq!(
            f.node.wait_ready(deadline, &Cancel::new()).unwrap(),
            Ending::TimedOut
        );
    }

    #[test]
    fn a_guest_that_claims_another_node_number_is_an_error() {
        let mut f = Fixture::new("sleep", &["30"], |stream, _| serve(stream, 5));
        let e = f
            .node
            .wait_ready(Instant::now() + 10 * SECOND, &Cancel::new())
            .unwrap_err();
        assert!(e.to_string().contains("announced itself as node 5"), "{e}");
    }

    #[test]
    fn a_qemu_that_dies_during_a_step_is_reported_with_the_output_so_far() {
        let mut f = Fixture::new("sleep", &["30"], |mut stream, pid| {
            stream.write_all(b"@@RSIO-READY 0\n").unwrap();
            let mut line = String::new();
            BufReader::new(stream.try_clone().unwrap())
                .read_line(&mut line)
                .unwrap();
            stream.write_all(b"last words\n").unwrap();
            // SAFETY: kill(2) of the test's own stand-in child; no memory is involved.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        });
        f.ready();
        let run = f.run("anything", 10 * SECOND);
        assert_eq!(
            run.ending,
            Ending::VmExited(ExitStatus::from_raw(libc::SIGKILL))
        );
        assert_eq!(run.output, b"last words\n");
    }

    #[test]
    fn a_cancelled_wait_stops_at_once() {
        let mut f = Fixture::new("sleep", &["30"], silent_guest);
        let cancel = Cancel::new();
        cancel.cancel();
        let e = f
            .node
            .wait_ready(Instant::now() + 10 * SECOND, &cancel)
            .unwrap_err();
        assert!(e.is::<crate::signals::Cancelled>());
    }

    #[test]
    fn poweroff_sends_the_command_and_closes_the_port() {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut f = Fixture::new("sleep", &["30"], move |mut stream, _| {
            stream.write_all(b"@@RSIO-READY 0\n").unwrap();
            let mut received = String::new();
            stream.read_to_string(&mut received).unwrap(); // until the host closes
            tx.send(received).unwrap();
        });
        f.ready();
        f.node.request_poweroff().unwrap();
        let received = rx.recv_timeout(10 * SECOND).unwrap();
        let (seq, script) = received.trim_end().split_once(' ').unwrap();
        assert_eq!(seq, "1");
        assert_eq!(STANDARD.decode(script).unwrap(), b"poweroff -f");
    }
}
