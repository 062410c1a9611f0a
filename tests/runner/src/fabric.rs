//! The emulated NTB fabric of a scenario with `[fabric]`: one `rsio-fabric`
//! process (crate rsio-emu) serves every node's RSIO-NTB1 adapter over
//! vfio-user and holds every node's RAM in one shared file.
//!
//! The runner relies on this contract of `rsio-fabric serve`:
//!
//! ```text
//! rsio-fabric serve --dir DIR --nodes N --ram-mib M [--multicast 0,1]...
//!                   [--lut-slots S] [--slot-shift B] [--in-windows W] [--dma-channels C]
//!                   [--no-direct-alias] [--chassis I]...
//! ```
//!
//! creates `DIR/fabric.mem`, `DIR/node<i>.sock`, `DIR/control.sock` and
//! `DIR/node<i>.qemu-args` (node i's QEMU arguments: RAM backend, machine,
//! adapter; for an expansion chassis `--chassis I` also `-bios
//! DIR/node<I>.bios`, the firmware that programs its config space and
//! halts, and the direct window's alias), prints `rsio-fabric: ready` on stdout once it listens, and runs
//! until SIGTERM, on which it cleans up and exits 0.
//!
//! [`Emulator`] starts it before the QEMUs, waits for the ready line, hands
//! out each node's arguments, and stops it at the end (SIGTERM, then SIGKILL
//! after a grace period); like every child of the runner it is
//! [guarded](crate::process). Its stdout and stderr go to one log.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::console::{read_lossy, tail};
use crate::process;
use crate::qemu::describe_exit;
use crate::report::secs;
use crate::scenario::Fabric;
use crate::signals::Cancel;

/// What `rsio-fabric serve` prints once every socket listens.
pub const READY_LINE: &str = "rsio-fabric: ready";
/// How long the emulator may take to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the emulator gets to exit after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// How many lines of the emulator's log a failure shows.
pub const LOG_LINES: usize = 10;
/// The longest single wait before checking for signals and the exit.
const POLL: Duration = Duration::from_millis(100);

/// The arguments of `rsio-fabric serve` for `fabric` with `nodes` nodes of
/// `memory_mib` MiB each, of which `chassis` are expansion chassis, working
/// in `dir`.
pub fn serve_argv(
    fabric: &Fabric,
    dir: &Path,
    nodes: usize,
    memory_mib: u32,
    chassis: &[usize],
) -> Vec<String> {
    let mut argv: Vec<String> = vec![
        "serve".into(),
        "--dir".into(),
        dir.display().to_string(),
        "--nodes".into(),
        nodes.to_string(),
        "--ram-mib".into(),
        memory_mib.to_string(),
    ];
    for group in &fabric.multicast {
        let members: Vec<String> = group.iter().map(usize::to_string).collect();
        argv.extend(["--multicast".into(), members.join(",")]);
    }
    for (flag, value) in [
        ("--lut-slots", fabric.lut_slots),
        ("--slot-shift", fabric.slot_shift),
        ("--in-windows", fabric.in_windows),
        ("--dma-channels", fabric.dma_channels),
        ("--dma-read-max", fabric.dma_read_max),
    ] {
        if let Some(value) = value {
            argv.extend([flag.into(), value.to_string()]);
        }
    }
    if !fabric.direct_alias {
        argv.push("--no-direct-alias".into());
    }
    for node in chassis {
        argv.extend(["--chassis".into(), node.to_string()]);
    }
    argv
}

/// Node `node`'s QEMU arguments file in the fabric directory.
pub fn qemu_args_path(dir: &Path, node: usize) -> PathBuf {
    dir.join(format!("node{node}.qemu-args"))
}

/// Splits a `node<i>.qemu-args` file into arguments. Each line is one
/// option, `-flag value` (split at the first blank, so a JSON value may hold
/// blanks), or a single argument; blank lines and `#` comments are skipped.
pub fn parse_qemu_args(text: &str) -> Vec<String> {
    let mut argv = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(char::is_whitespace) {
            Some((flag, value)) if flag.starts_with('-') => {
                argv.push(flag.to_owned());
                argv.push(value.trim_start().to_owned());
            }
            _ => argv.push(line.to_owned()),
        }
    }
    argv
}

/// The last lines of the emulator's log, for a failure report.
pub fn log_tail(log: &Path) -> Vec<String> {
    tail(&read_lossy(log), LOG_LINES)
        .iter()
        .map(|line| format!("fabric: {line}"))
        .collect()
}

/// How the emulator ended when it was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It exited by itself: on SIGTERM, or earlier.
    Exited(ExitStatus),
    /// It ignored SIGTERM for [`STOP_GRACE`] and was killed.
    Killed,
}

/// A running `rsio-fabric serve`; stopped when dropped.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    exited: Option<Stopped>,
    binary: PathBuf,
    dir: PathBuf,
}

impl Emulator {
    /// Starts `binary` with `argv` (from [`serve_argv`], working in `dir`),
    /// its output appended to `log`, and waits up to `timeout` for its ready
    /// line. Must be called from the main thread ([`crate::process`]).
    pub fn start(
        binary: &Path,
        argv: &[String],
        dir: &Path,
        log: &Path,
        timeout: Duration,
        cancel: &Cancel,
    ) -> Result<Emulator> {
        let open_log = || {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .with_context(|| format!("cannot open {}", log.display()))
        };
        let mut command = Command::new(binary);
        process::guard(&mut command)
            .args(argv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(open_log()?);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stdout = child.stdout.take().context("no pipe from rsio-fabric")?;
        let mut emulator = Emulator {
            child,
            exited: None,
            binary: binary.to_owned(),
            dir: dir.to_owned(),
        };

        // A thread copies stdout to the log (so the emulator never blocks on
        // a full pipe) and reports the ready line. It ends with the pipe.
        let mut stdout_log = open_log()?;
        let (ready_tx, ready) = mpsc::channel();
        std::thread::Builder::new()
            .name("fabric stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let _ = writeln!(stdout_log, "{line}");
                    if line.trim() == READY_LINE {
                        let _ = ready_tx.send(());
                    }
                }
            })
            .context("cannot start the fabric's stdout thread")?;

        match emulator.wait_ready(&ready, timeout, cancel) {
            Ok(()) => Ok(emulator),
            Err(e) => {
                // Nothing to shut down gracefully yet.
                emulator.stop(Duration::ZERO);
                Err(e)
            }
        }
    }

    fn wait_ready(
        &mut self,
        ready: &mpsc::Receiver<()>,
        timeout: Duration,
        cancel: &Cancel,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            cancel.check()?;
            match ready.recv_timeout(POLL) {
                Ok(()) => return Ok(()),
                Err(RecvTimeoutError::Timeout) => {}
                // Stdout is closed: the exit check below will tell.
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(POLL),
            }
            if let Some(status) = self.try_exit()? {
                bail!(
                    "rsio-fabric exited before it was ready ({})",
                    describe_exit(status)
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "rsio-fabric did not say {READY_LINE:?} within {}",
                    secs(timeout)
                );
            }
        }
    }

    /// The `rsio-fabric` binary it runs (for host steps).
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The directory it works in (for host steps).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Node `node`'s QEMU arguments, as the emulator wrote them.
    pub fn qemu_args(&self, node: usize) -> Result<Vec<String>> {
        let path = qemu_args_path(&self.dir, node);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("rsio-fabric did not write {}", path.display()))?;
        let argv = parse_qemu_args(&text);
        if argv.is_empty() {
            bail!("{} has no QEMU arguments", path.display());
        }
        Ok(argv)
    }

    /// The exit status if the emulator has exited (it is reaped then).
    pub fn try_exit(&mut self) -> Result<Option<ExitStatus>> {
        match self.exited {
            Some(Stopped::Exited(status)) => return Ok(Some(status)),
            Some(Stopped::Killed) => return Ok(None),
            None => {}
        }
        let status = self
            .child
            .try_wait()
            .context("cannot check on rsio-fabric")?;
        self.exited = status.map(Stopped::Exited);
        Ok(status)
    }

    /// Stops the emulator: SIGTERM, then SIGKILL to its process group if it
    /// has not exited after `grace`. Idempotent.
    pub fn stop(&mut self, grace: Duration) -> Stopped {
        if let Some(stopped) = self.exited {
            return stopped;
        }
        if let Ok(Some(status)) = self.try_exit() {
            return Stopped::Exited(status);
        }
        process::signal(&self.child, libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            match self.try_exit() {
                Ok(Some(status)) => return Stopped::Exited(status),
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => break,
            }
        }
        // Not reaped yet, so its pid still names its group.
        process::signal_group(&self.child, libc::SIGKILL);
        let _ = self.child.wait();
        self.exited = Some(Stopped::Killed);
        Stopped::Killed
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop(STOP_GRACE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn serve_gets_the_nodes_their_ram_and_only_the_geometry_given() {
        let fabric = Fabric {
            multicast: vec![vec![0, 1], vec![1, 2]],
            lut_slots: Some(16),
            dma_channels: Some(0),
            direct_alias: false,
            ..Fabric::default()
        };
        assert_eq!(
            serve_argv(&fabric, Path::new("/run/r/fabric"), 3, 384, &[]),
            [
                "serve",
                "--dir",
                "/run/r/fabric",
                "--nodes",
                "3",
                "--ram-mib",
                "384",
                "--multicast",
                "0,1",
                "--multicast",
                "1,2",
                "--lut-slots",
                "16",
                "--dma-channels",
                "0",
                "--no-direct-alias",
            ]
        );
        assert_eq!(
            serve_argv(&Fabric::default(), Path::new("/f"), 2, 256, &[]),
            ["serve", "--dir", "/f", "--nodes", "2", "--ram-mib", "256"]
        );
    }

    #[test]
    fn expansion_chassis_are_named_to_the_emulator() {
        assert_eq!(
            serve_argv(&Fabric::default(), Path::new("/f"), 4, 384, &[1, 3]),
            [
                "serve",
                "--dir",
                "/f",
                "--nodes",
                "4",
                "--ram-mib",
                "384",
                "--chassis",
                "1",
                "--chassis",
                "3",
            ]
        );
        let fabric = Fabric {
            multicast: vec![vec![0, 1]],
            direct_alias: false,
            ..Fabric::default()
        };
        let argv = serve_argv(&fabric, Path::new("/f"), 3, 256, &[2]);
        assert_eq!(
            argv[7..],
            ["--multicast", "0,1", "--no-direct-alias", "--chassis", "2"],
            "after the geometry"
        );
    }

    #[test]
    fn qemu_args_lines_are_options_whose_values_may_hold_blanks() {
        let text = "-object memory-backend-file,id=ram,mem-path=/f/fabric.mem,offset=0,size=384M,share=on\n\
                    -machine q35,memory-backend=ram\n\
                    \n\
                    # the adapter\n\
                    -device {\"driver\": \"vfio-user-pci\", \"socket\": {\"path\": \"/f/node0.sock\"}}\n";
        assert_eq!(
            parse_qemu_args(text),
            [
                "-object",
                "memory-backend-file,id=ram,mem-path=/f/fabric.mem,offset=0,size=384M,share=on",
                "-machine",
                "q35,memory-backend=ram",
                "-device",
                "{\"driver\": \"vfio-user-pci\", \"socket\": {\"path\": \"/f/node0.sock\"}}",
            ]
        );
    }

    #[test]
    fn qemu_args_may_also_come_one_argument_per_line() {
        assert_eq!(
            parse_qemu_args("-machine\nq35,memory-backend=ram\n-nodefaults\n"),
            ["-machine", "q35,memory-backend=ram", "-nodefaults"]
        );
    }

    /// A fake `rsio-fabric` made of a sh script.
    fn fake(dir: &TempDir, script: &str) -> PathBuf {
        let path = dir.path().join("rsio-fabric");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn start(dir: &TempDir, binary: &Path, timeout: Duration) -> Result<Emulator> {
        Emulator::start(
            binary,
            &[
                "serve".into(),
                "--dir".into(),
                dir.path().display().to_string(),
            ],
            dir.path(),
            &dir.path().join("fabric.log"),
            timeout,
            &Cancel::new(),
        )
    }

    #[test]
    fn the_emulator_is_ready_once_it_says_so_and_stops_on_sigterm() {
        let dir = TempDir::new("fabric-ready");
        let binary = fake(
            &dir,
            r#"echo "starting on $3" >&2
printf -- '-machine q35\n' > "$3/node0.qemu-args"
trap 'echo "stopping" >&2; exit 0' TERM
echo "rsio-fabric: ready"
while :; do sleep 0.05; done"#,
        );
        let mut emulator = start(&dir, &binary, Duration::from_secs(10)).unwrap();
        assert_eq!(emulator.qemu_args(0).unwrap(), ["-machine", "q35"]);
        let e = emulator.qemu_args(1).unwrap_err();
        assert!(format!("{e:#}").contains("did not write"), "{e:#}");
        assert_eq!(emulator.try_exit().unwrap(), None);
        match emulator.stop(Duration::from_secs(10)) {
            Stopped::Exited(status) => assert!(status.success(), "{status:?}"),
            Stopped::Killed => panic!("the fake handles SIGTERM"),
        }
        let log = std::fs::read_to_string(dir.path().join("fabric.log")).unwrap();
        for line in ["starting on", "rsio-fabric: ready", "stopping"] {
            assert!(log.contains(line), "{line:?} missing from the log: {log}");
        }
    }

    #[test]
    fn an_emulator_that_exits_early_fails_its_start_and_leaves_its_log() {
        let dir = TempDir::new("fabric-exit");
        let binary = fake(&dir, "echo 'rsio-fabric: nodes must be 2..=16' >&2; exit 2");
        let e = start(&dir, &binary, Duration::from_secs(10)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "rsio-fabric exited before it was ready (exit code 2)"
        );
        assert_eq!(
            log_tail(&dir.path().join("fabric.log")),
            ["fabric: rsio-fabric: nodes must be 2..=16"]
        );
    }

    #[test]
    fn a_silent_emulator_times_out_and_is_killed() {
        let dir = TempDir::new("fabric-mute");
        let binary = fake(&dir, "trap '' TERM; echo $$ > \"$3/pid\"; sleep 30");
        let started = Instant::now();
        let e = start(&dir, &binary, Duration::from_millis(500)).unwrap_err();
        assert!(
            e.to_string()
                .contains("did not say \"rsio-fabric: ready\" within 0.5s"),
            "{e}"
        );
        assert!(
            started.elapsed() < STOP_GRACE,
            "a half-started emulator is killed at once"
        );
        let pid: libc::pid_t = std::fs::read_to_string(dir.path().join("pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // SAFETY: kill(2) with signal 0 only probes whether `pid` exists.
        assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "the emulator is gone");
    }

    #[test]
    fn a_missing_binary_is_a_clear_error() {
        let dir = TempDir::new("fabric-missing");
        let e = start(&dir, &dir.path().join("nope"), Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().starts_with("cannot start "), "{e}");
    }
}
