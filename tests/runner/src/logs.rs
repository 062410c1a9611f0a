//! The persistent logs of a scenario, kept after the run directory is gone:
//!
//! - `node<i>.steps.log`: every step run on the node (script, output, exit
//!   code, duration), appended as the steps finish;
//! - `node<i>.console.log`: the node's serial console, copied at the end;
//! - `node<i>.qemu.log`: QEMU's own stdout and stderr, copied at the end;
//! - `host.steps.log`: every host step, like a node's steps log;
//! - `fabric.log`: the fabric emulator's stdout and stderr (fabric
//!   scenarios), written as it runs.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::node::{Ending, StepRun};
use crate::qemu::{describe_exit, NodePaths};
use crate::report::secs;

/// The default base of the log directories.
pub const DEFAULT_BASE: &str = "target/cluster-logs";

/// One scenario's log directory, `<base>/<scenario>`.
#[derive(Debug)]
pub struct LogDir {
    path: PathBuf,
}

impl LogDir {
    /// Creates the directory and removes the logs of an earlier run, so
    /// that no stale log outlives a scenario that now has fewer nodes (or
    /// no fabric, or no host steps).
    pub fn create(base: &Path, scenario: &str) -> Result<LogDir> {
        let path = base.join(scenario);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create the log directory {}", path.display()))?;
        for entry in
            std::fs::read_dir(&path).with_context(|| format!("cannot list {}", path.display()))?
        {
            let entry = entry.with_context(|| format!("cannot list {}", path.display()))?;
            if entry.file_name().to_str().is_some_and(is_run_log) {
                std::fs::remove_file(entry.path()).with_context(|| {
                    format!("cannot remove the old log {}", entry.path().display())
                })?;
            }
        }
        Ok(LogDir { path })
    }

    pub fn console(&self, node: usize) -> PathBuf {
        self.path.join(format!("node{node}.console.log"))
    }

    pub fn steps(&self, node: usize) -> PathBuf {
        self.path.join(format!("node{node}.steps.log"))
    }

    pub fn qemu(&self, node: usize) -> PathBuf {
        self.path.join(format!("node{node}.qemu.log"))
    }

    pub fn host_steps(&self) -> PathBuf {
        self.path.join(HOST_STEPS)
    }

    pub fn fabric(&self) -> PathBuf {
        self.path.join(FABRIC)
    }

    /// Appends a free-form note (boot, shutdown) to a node's steps log.
    pub fn note(&self, node: usize, text: &str) -> Result<()> {
        append(&self.steps(node), &format!("# {text}\n"))
    }

    /// Appends a step's run to a node's steps log.
    pub fn step(&self, node: usize, name: &str, script: &str, run: &StepRun) -> Result<()> {
        append(&self.steps(node), &format_step(name, script, run))
    }

    /// Appends a host step's run to the host steps log.
    pub fn host_step(&self, name: &str, script: &str, run: &StepRun) -> Result<()> {
        append(&self.host_steps(), &format_step(name, script, run))
    }

    /// Copies a node's console and QEMU logs out of the run directory.
    /// Missing files (QEMU never started) are skipped.
    pub fn collect(&self, node: usize, paths: &NodePaths) -> Result<()> {
        for (from, to) in [
            (&paths.console, self.console(node)),
            (&paths.qemu_log, self.qemu(node)),
        ] {
            match std::fs::copy(from, &to) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot copy {} to {}", from.display(), to.display())
                    })
                }
            }
        }
        Ok(())
    }
}

const HOST_STEPS: &str = "host.steps.log";
const FABRIC: &str = "fabric.log";

fn append(path: &Path, text: &str) -> Result<()> {
    let mut file: File = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The files a run writes into a log dir.
fn is_run_log(name: &str) -> bool {
    is_node_log(name) || name == HOST_STEPS || name == FABRIC
}

/// `node<digits>.<anything>.log`.
fn is_node_log(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("node") else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && rest[digits..].starts_with('.') && rest.ends_with(".log")
}

/// A step's entry in a steps log.
fn format_step(name: &str, script: &str, run: &StepRun) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "=== {name}");
    for line in script.lines() {
        let _ = writeln!(text, "$ {line}");
    }
    let output = String::from_utf8_lossy(&run.output);
    text.push_str(&output);
    if !output.is_empty() && !output.ends_with('\n') {
        text.push('\n');
    }
    let ending = match run.ending {
        Ending::Finished(rc) => format!("rc {rc}"),
        Ending::TimedOut => "TIMED OUT".to_owned(),
        Ending::VmExited(status) => format!("QEMU EXITED ({})", describe_exit(status)),
    };
    let _ = writeln!(text, "=== {ending}, {}\n", secs(run.duration));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::time::Duration;

    fn run(output: &str, ending: Ending<i32>) -> StepRun {
        StepRun {
            output: output.as_bytes().to_vec(),
            ending,
            duration: Duration::from_millis(1530),
        }
    }

    #[test]
    fn a_step_entry_shows_script_output_rc_and_duration() {
        assert_eq!(
            format_step(
                "load",
                "set -e\ninsmod x.ko",
                &run("loaded\n", Ending::Finished(0))
            ),
            "=== load\n$ set -e\n$ insmod x.ko\nloaded\n=== rc 0, 1.5s\n\n"
        );
        assert_eq!(
            format_step("hang", "sleep 99", &run("partial", Ending::TimedOut)),
            "=== hang\n$ sleep 99\npartial\n=== TIMED OUT, 1.5s\n\n"
        );
    }

    #[test]
    fn steps_logs_accumulate_and_old_node_logs_are_cleared() {
        let base = TempDir::new("logs");
        let old = base.path().join("smoke");
        std::fs::create_dir_all(&old).unwrap();
        for name in [
            "node3.console.log",
            "node0.steps.log",
            "host.steps.log",
            "fabric.log",
            "notes.txt",
        ] {
            std::fs::write(old.join(name), "old").unwrap();
        }

        let logs = LogDir::create(base.path(), "smoke").unwrap();
        assert!(!logs.console(3).exists() && !logs.steps(0).exists());
        assert!(!logs.host_steps().exists() && !logs.fabric().exists());
        assert!(old.join("notes.txt").exists(), "only node logs are cleared");

        logs.note(0, "booted in 3.0s").unwrap();
        logs.step(0, "uname", "uname -a", &run("Linux\n", Ending::Finished(0)))
            .unwrap();
        let text = std::fs::read_to_string(logs.steps(0)).unwrap();
        assert!(
            text.starts_with("# booted in 3.0s\n=== uname\n$ uname -a\nLinux\n"),
            "{text}"
        );
    }

    #[test]
    fn host_steps_have_a_log_of_their_own() {
        let base = TempDir::new("logs-host");
        let logs = LogDir::create(base.path(), "fabric").unwrap();
        logs.host_step(
            "link down",
            "rsio-fabric ctl link-down 1",
            &run("{\"ok\":true}\n", Ending::Finished(0)),
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(logs.host_steps()).unwrap(),
            "=== link down\n$ rsio-fabric ctl link-down 1\n{\"ok\":true}\n=== rc 0, 1.5s\n\n"
        );
        assert!(!logs.steps(0).exists(), "node logs are untouched");
    }

    #[test]
    fn node_log_names_are_recognised() {
        assert!(is_node_log("node0.console.log"));
        assert!(is_node_log("node12.steps.log"));
        assert!(!is_node_log("node.log"));
        assert!(!is_node_log("nodes.txt"));
        assert!(!is_node_log("summary.log"));
    }
}
