//! Host steps (`[[step]] host = "..."`): scripts the runner runs on the host
//! between guest steps, e.g. to inject a fault into the fabric emulator.
//!
//! A host step is `sh -c <script>` run in the scenario's run directory (so
//! scratch files go away with it), with stdin from `/dev/null`, its stdout
//! and stderr captured together, and the runner's environment plus the
//! scenario's (`RSIO_NODES`, `RSIO_RUN_DIR`, `RSIO_CLUSTER`, and for a
//! fabric scenario `RSIO_FABRIC_DIR` and `RSIO_FABRIC`).
//! It is [guarded](crate::process) like every child of the runner; when the
//! script ends, or overruns its timeout, whatever it left running in its
//! process group is killed, so a host step leaves nothing behind.

use std::ffi::OsString;
use std::io::{ErrorKind, PipeReader, Read};
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::node::{Ending, StepRun};
use crate::process;
use crate::signals::Cancel;

/// The longest single wait before checking for signals and the exit.
const POLL: Duration = Duration::from_millis(100);

/// Where and how a host step runs.
#[derive(Debug, Clone)]
pub struct Shell<'a> {
    /// The working directory.
    pub dir: &'a Path,
    /// Added to the runner's environment.
    pub env: &'a [(String, OsString)],
}

/// Runs `script` on the host, waiting up to `timeout`. Must be called from
/// the main thread ([`crate::process`]). Fails only if the script cannot be
/// started or a signal interrupts it.
pub fn run(script: &str, timeout: Duration, shell: &Shell, cancel: &Cancel) -> Result<StepRun> {
    let started = Instant::now();
    let (reader, writer) = std::io::pipe().context("cannot create a pipe for a host step")?;
    let mut command = Command::new("sh");
    process::guard(&mut command)
        .arg("-c")
        .arg(script)
        .current_dir(shell.dir)
        .envs(shell.env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null())
        .stdout(writer.try_clone().context("cannot duplicate a pipe")?)
        .stderr(writer);
    let child = command.spawn().context("cannot start sh for a host step")?;
    // Close our copies of the pipe's write end.
    drop(command);
    let mut step = Running {
        child,
        output: Output::new(reader)?,
    };
    let ending = step.wait(started + timeout, cancel);
    // Whatever the script left running goes with it.
    process::signal_group(&step.child, libc::SIGKILL);
    let status = step.child.wait().context("cannot reap a host step")?;
    let ending = ending?.unwrap_or(Ending::Finished(exit_code(status)));
    step.output.drain();
    Ok(StepRun {
        output: step.output.bytes,
        ending,
        duration: started.elapsed(),
    })
}

/// The script's exit code, as `sh` reports a child's: 128+N if killed by
/// signal N.
fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

struct Running {
    child: Child,
    output: Output,
}

impl Running {
    /// Collects output until the script exits (`None`: it finished, the
    /// caller reaps it) or `deadline` passes (`Some(TimedOut)`). Never
    /// reaps the script, so its process group can still be killed.
    fn wait(&mut self, deadline: Instant, cancel: &Cancel) -> Result<Option<Ending<i32>>> {
        loop {
            cancel.check()?;
            if process::has_exited(&self.child).context("cannot check on a host step")? {
                return Ok(None);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Some(Ending::TimedOut));
            }
            self.output.read_for((deadline - now).min(POLL));
        }
    }
}

/// The read end of the script's output pipe and what came through it.
struct Output {
    pipe: PipeReader,
    bytes: Vec<u8>,
    /// Every writer has closed the pipe.
    closed: bool,
}

impl Output {
    fn new(pipe: PipeReader) -> Result<Output> {
        // SAFETY: fcntl on a descriptor we own; O_NONBLOCK only changes how reads behave.
        let rc = unsafe {
            let flags = libc::fcntl(pipe.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(pipe.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK)
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error())
                .context("cannot set up a host step's pipe");
        }
        Ok(Output {
            pipe,
            bytes: Vec::new(),
            closed: false,
        })
    }

    /// Waits up to `slice` for output and takes what has arrived.
    fn read_for(&mut self, slice: Duration) {
        if self.closed {
            std::thread::sleep(slice);
            return;
        }
        let mut poll = libc::pollfd {
            fd: self.pipe.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(slice.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd for a descriptor we own.
        unsafe { libc::poll(&mut poll, 1, ms.max(1)) };
        self.drain();
    }

    /// Takes everything readable right now, without waiting for the pipe
    /// to close (a background process of the script may hold it open).
    fn drain(&mut self) {
        let mut buf = [0u8; 8192];
        while !self.closed {
            match self.pipe.read(&mut buf) {
                Ok(0) => self.closed = true,
                Ok(n) => self.bytes.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn host(script: &str, timeout: Duration) -> StepRun {
        let shell = Shell {
            dir: Path::new("/"),
            env: &[],
        };
        run(script, timeout, &shell, &Cancel::new()).unwrap()
    }

    #[test]
    fn a_host_step_returns_its_interleaved_output_and_exit_code() {
        let run = host("echo out; echo err >&2; echo again; exit 3", 10 * SECOND);
        assert_eq!(run.ending, Ending::Finished(3));
        assert_eq!(run.output, b"out\nerr\nagain\n");
    }

    #[test]
    fn a_host_step_sees_the_scenario_environment_and_runs_in_its_directory() {
        let dir = crate::testutil::TempDir::new("host-dir");
        let env = [(
            "RSIO_FABRIC_DIR".to_owned(),
            OsString::from("/run/r/fabric"),
        )];
        let shell = Shell {
            dir: dir.path(),
            env: &env,
        };
        let run = run(
            "echo \"dir=$RSIO_FABRIC_DIR\"; touch scratch",
            10 * SECOND,
            &shell,
            &Cancel::new(),
        )
        .unwrap();
        assert_eq!(run.output, b"dir=/run/r/fabric\n");
        assert!(dir.path().join("scratch").exists());
    }

    #[test]
    fn a_host_step_reads_nothing_from_stdin() {
        let run = host("cat; echo eof", 10 * SECOND);
        assert_eq!(run.output, b"eof\n");
    }

    #[test]
    fn a_host_step_that_overruns_is_killed_with_its_partial_output() {
        let started = Instant::now();
        let run = host(
            "echo begun; printf half; sleep 30",
            Duration::from_millis(500),
        );
        assert_eq!(run.ending, Ending::TimedOut);
        assert_eq!(run.output, b"begun\nhalf");
        assert!(started.elapsed() < 5 * SECOND);
    }

    #[test]
    fn what_a_host_step_leaves_running_is_killed_with_it() {
        let dir = crate::testutil::TempDir::new("host-bg");
        let pidfile = dir.path().join("pid");
        let started = Instant::now();
        let run = host(
            &format!("sleep 30 & echo $! > {}; echo left it", pidfile.display()),
            10 * SECOND,
        );
        assert_eq!(run.ending, Ending::Finished(0));
        assert_eq!(run.output, b"left it\n");
        assert!(
            started.elapsed() < 5 * SECOND,
            "the step does not wait for its background process"
        );
        let pid: libc::pid_t = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = Instant::now() + 10 * SECOND;
        while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            !stat
                .rsplit_once(") ")
                .is_some_and(|(_, s)| s.starts_with('Z'))
        }) {
            assert!(Instant::now() < deadline, "the background sleep survived");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_script_killed_by_a_signal_reports_128_plus_it() {
        let run = host("kill -TERM $$", 10 * SECOND);
        assert_eq!(run.ending, Ending::Finished(128 + libc::SIGTERM));
    }

    #[test]
    fn a_cancelled_host_step_is_killed_and_reports_the_cancellation() {
        let cancel = Cancel::new();
        cancel.cancel();
        let shell = Shell {
            dir: Path::new("/"),
            env: &[],
        };
        let e = run("sleep 30", 60 * SECOND, &shell, &cancel).unwrap_err();
        assert!(e.is::<crate::signals::Cancelled>(), "{e:#}");
    }
}
