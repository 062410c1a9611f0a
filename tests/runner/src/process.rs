//! The rules every child process of the runner follows (QEMUs, the fabric
//! emulator, host steps): it runs in its own process group, so a Ctrl-C at
//! the terminal reaches only the runner, which then stops its children in
//! order; and with `PR_SET_PDEATHSIG(SIGKILL)`, so it dies even if the runner
//! is killed outright.
//!
//! The parent-death signal fires when the *thread* that forked exits, so
//! children are started from the main thread.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// Makes `command` start its process in a new process group that dies with
/// the runner.
pub fn guard(command: &mut Command) -> &mut Command {
    // SAFETY: getpid is async-signal-safe and called before the fork.
    let runner = unsafe { libc::getpid() };
    // SAFETY: the closure runs between fork and exec and calls only async-signal-safe functions (prctl, getppid, setpgid).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // The runner may have died before the prctl took effect.
            if libc::getppid() != runner {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            if libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

/// Sends `signal` to the process group of `child`, a child started with
/// [`guard`] that has not been reaped yet (its pid is then still its group's
/// id). Processes of the group that are already gone are no error.
pub fn signal_group(child: &Child, signal: libc::c_int) {
    if let Ok(pgid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill has no memory-safety preconditions; the caller guarantees the group id is still ours (the leader is not reaped).
        unsafe { libc::kill(-pgid, signal) };
    }
}

/// Sends `signal` to `child` alone, if it has not been reaped yet.
pub fn signal(child: &Child, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: as above; the pid is ours until the child is reaped.
        unsafe { libc::kill(pid, signal) };
    }
}

/// Whether `child` has exited, *without* reaping it: its pid, and so its
/// process group id, stay reserved until it is waited for, so the group
/// can still be signalled safely.
pub fn has_exited(child: &Child) -> std::io::Result<bool> {
    let pid = libc::id_t::from(child.id());
    // SAFETY: a zeroed siginfo_t is valid; waitid only writes into it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid siginfo_t; WNOWAIT leaves the child waitable, WNOHANG makes this a check.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: waitid filled `info` in (si_pid stays 0 if nothing exited).
    Ok(unsafe { info.si_pid() } != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_guarded_child_leads_its_own_process_group() {
        let mut child = guard(&mut Command::new("sleep")).arg("30").spawn().unwrap();
        let pid = child.id() as libc::pid_t;
        // SAFETY: getpgid(2) only reads the process group of a live child.
        assert_eq!(unsafe { libc::getpgid(pid) }, pid);
        signal_group(&child, libc::SIGKILL);
        let status = child.wait().unwrap();
        assert!(!status.success());
    }

    #[test]
    fn a_group_signal_reaches_grandchildren_too() {
        let dir = crate::testutil::TempDir::new("group");
        let pidfile = dir.path().join("pid");
        let mut child = guard(&mut Command::new("sh"))
            .arg("-c")
            .arg(format!("sleep 30 & echo $! > {}; wait", pidfile.display()))
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let grandchild: libc::pid_t = loop {
            if let Some(pid) = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                break pid;
            }
            assert!(Instant::now() < deadline, "the script never started sleep");
            std::thread::sleep(Duration::from_millis(10));
        };
        signal_group(&child, libc::SIGKILL);
        child.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        // The grandchild is re-parented and reaped by init (or a subreaper).
        // SAFETY: kill(2) with signal 0 only probes whether the process exists.
        while unsafe { libc::kill(grandchild, 0) } == 0 && !is_zombie(grandchild) {
            assert!(Instant::now() < deadline, "the grandchild survived");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn an_exited_child_is_seen_but_not_reaped() {
        let mut child = guard(&mut Command::new("true")).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !has_exited(&child).unwrap() {
            assert!(Instant::now() < deadline, "`true` did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(is_zombie(child.id() as libc::pid_t), "still waitable");
        assert!(child.wait().unwrap().success());
    }

    fn is_zombie(pid: libc::pid_t) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                stat.rsplit_once(") ")
                    .is_some_and(|(_, rest)| rest.starts_with('Z'))
            })
            .unwrap_or(true)
    }
}
