//! The per-scenario run directory: sockets, disk images, the initramfs and
//! the raw console logs of one scenario run.
//!
//! It lives at `<base>/run-<pid>-<scenario>` and is removed when the
//! [`RunDir`] guard drops, on success, error and panic alike (unless kept for
//! debugging). A runner killed with SIGKILL cannot clean up, so every run
//! first [sweeps](sweep_stale) the directories of runners that are gone.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};

/// The longest path a unix socket may have (`sun_path` minus the NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// The default base directory when `RSIO_RUN_DIR` is not set.
pub const DEFAULT_BASE: &str = "/tmp/rsio-cluster";

/// The base directory for run directories: `$RSIO_RUN_DIR` or the default.
pub fn base_from_env() -> PathBuf {
    std::env::var_os("RSIO_RUN_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_BASE))
}

/// A run directory, removed on drop unless `keep` is set.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    keep: bool,
}

impl RunDir {
    /// Creates `<base>/run-<own pid>-<scenario>`, replacing a leftover of the
    /// same name (which can only be stale: its pid is ours).
    pub fn create(base: &Path, scenario: &str, keep: bool) -> Result<RunDir> {
        std::fs::create_dir_all(base)
            .with_context(|| format!("cannot create the run directory base {}", base.display()))?;
        let path = base.join(format!("run-{}-{scenario}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove the stale {}", path.display()))?;
        }
        std::fs::create_dir(&path)
            .with_context(|| format!("cannot create the run directory {}", path.display()))?;
        Ok(RunDir { path, keep })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of a unix socket in this directory, checked against the
    /// socket path limit so that a long `RSIO_RUN_DIR` fails clearly.
    pub fn socket(&self, name: &str) -> Result<PathBuf> {
        let path = self.path.join(name);
        let len = path.as_os_str().len();
        ensure!(
            len <= MAX_SOCKET_PATH,
            "the socket path {} is {len} bytes, over the unix limit of {MAX_SOCKET_PATH}; \
             set RSIO_RUN_DIR to a shorter directory",
            path.display()
        );
        Ok(path)
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("cluster: keeping the run directory {}", self.path.display());
        } else if let Err(e) = std::fs::remove_dir_all(&self.path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!("cluster: cannot remove {}: {e}", self.path.display());
            }
        }
    }
}

/// Removes every `run-<pid>-*` directory in `base` whose runner is no longer
/// alive; returns the removed paths. A missing base is not an error.
pub fn sweep_stale(base: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(base) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", base.display())),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", base.display()))?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(runner_pid) else {
            continue;
        };
        if pid == std::process::id() || process_alive(pid) || !entry.path().is_dir() {
            continue;
        }
        let path = entry.path();
        std::fs::remove_dir_all(&path)
            .with_context(|| format!("cannot remove the stale run directory {}", path.display()))?;
        removed.push(path);
    }
    Ok(removed)
}

/// The runner pid in a run directory's name `run-<pid>-<scenario>`.
fn runner_pid(name: &str) -> Option<u32> {
    let (pid, _scenario) = name.strip_prefix("run-")?.split_once('-')?;
    pid.parse().ok().filter(|&pid| pid > 0)
}

/// Whether a process with this pid exists and is not a zombie (a killed
/// runner that its parent has not reaped yet is gone all the same).
fn process_alive(pid: u32) -> bool {
    let Ok(raw) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(raw, 0) };
    let exists = rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists && !is_zombie(pid)
}

/// Reads the state field of `/proc/<pid>/stat`, which follows the command
/// name in parentheses (a name that may itself contain parentheses).
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    /// A pid above any possible `pid_max` (2^22), so never alive.
    const DEAD_PID: u32 = 0x7fff_fff0;

    #[test]
    fn run_directories_are_named_after_the_pid_and_removed_on_drop() {
        let base = TempDir::new("rundir");
        let path = {
            let run = RunDir::create(base.path(), "smoke", false).unwrap();
            assert_eq!(
                run.path().file_name().unwrap().to_str().unwrap(),
                format!("run-{}-smoke", std::process::id())
            );
            std::fs::write(run.path().join("node0.console.log"), "x").unwrap();
            run.path().to_owned()
        };
        assert!(!path.exists());
    }

    #[test]
    fn a_kept_run_directory_survives_its_guard() {
        let base = TempDir::new("rundir-keep");
        let path = RunDir::create(base.path(), "smoke", true)
            .unwrap()
            .path()
            .to_owned();
        assert!(path.is_dir());
    }

    #[test]
    fn the_sweep_removes_only_directories_of_dead_runners() {
        let base = TempDir::new("sweep");
        let dir = |name: &str| {
            let path = base.path().join(name);
            std::fs::create_dir_all(path.join("sub")).unwrap();
            path
        };
        let dead = dir(&format!("run-{DEAD_PID}-smoke"));
        let ours = dir(&format!("run-{}-boot", std::process::id()));
        let init = dir("run-1-boot");
        let unrelated = dir("keep-me");
        let malformed = dir("run-abc-boot");
        std::fs::write(base.path().join(format!("run-{DEAD_PID}-file")), "").unwrap();

        assert_eq!(sweep_stale(base.path()).unwrap(), vec![dead.clone()]);
        assert!(!dead.exists());
        for kept in [ours, init, unrelated, malformed] {
            assert!(kept.exists(), "{} was swept", kept.display());
        }
        assert!(
            base.path().join(format!("run-{DEAD_PID}-file")).exists(),
            "files are left alone"
        );
    }

    #[test]
    fn a_runner_that_died_but_is_not_reaped_yet_counts_as_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        assert!(process_alive(std::process::id()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !is_zombie(pid) {
            assert!(std::time::Instant::now() < deadline, "`true` did not exit");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!process_alive(pid));
        child.wait().unwrap();
    }

    #[test]
    fn sweeping_a_missing_base_is_a_no_op() {
        let base = TempDir::new("sweep-missing");
        assert!(sweep_stale(&base.path().join("absent")).unwrap().is_empty());
    }

    #[test]
    fn run_directory_names_parse_to_their_pid() {
        assert_eq!(runner_pid("run-123-smoke"), Some(123));
        assert_eq!(runner_pid("run-123-with-dashes"), Some(123));
        assert_eq!(runner_pid("run-0-x"), None);
        assert_eq!(runner_pid("run-123"), None);
        assert_eq!(runner_pid("walk-123-x"), None);
    }

    #[test]
    fn over_long_socket_paths_are_refused() {
        let base = TempDir::new("sock");
        let run = RunDir::create(base.path(), "s", false).unwrap();
        assert!(run.socket("node0.ctl").is_ok());
        let e = run.socket(&"x".repeat(MAX_SOCKET_PATH)).unwrap_err();
        assert!(e.to_string().contains("set RSIO_RUN_DIR"), "{e}");
    }
}
