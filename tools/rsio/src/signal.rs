//! SIGINT and SIGTERM as a flag: commands that wait (ping, grant) stop
//! cleanly, print what they have, and exit with their own status.
//!
//! The handlers are installed without `SA_RESTART`, so a signal also
//! interrupts a blocking ioctl (it fails with `EINTR`).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    // Async-signal-safe: a lock-free atomic store.
    STOP.store(true, Ordering::SeqCst);
}

/// Installs the SIGINT and SIGTERM handlers.
pub fn install() -> io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: An all-zeroes `sigaction` is a valid value (empty mask, no flags) that is completed below.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = 0;
        // SAFETY: `sa` is a valid, initialised sigaction whose handler only stores to an atomic; the old action is not wanted (null).
        let rc = unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether SIGINT or SIGTERM arrived.
pub fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Sleeps until `deadline` (forever if `None`) or a signal, in steps of at
/// most `step`. Returns `false` if a signal cut it short.
pub fn sleep_until(deadline: Option<Instant>, step: Duration) -> bool {
    loop {
        if stopped() {
            return false;
        }
        let nap = match deadline {
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return true;
                }
                step.min(d - now)
            }
            None => step,
        };
        std::thread::sleep(nap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeping_until_a_past_deadline_returns_at_once() {
        let t = Instant::now();
        assert!(sleep_until(Some(t), Duration::from_millis(10)));
        assert!(t.elapsed() < Duration::from_millis(100));
    }

    #[test]
    fn sleeping_lasts_until_the_deadline() {
        let t = Instant::now();
        let d = t + Duration::from_millis(30);
        assert!(sleep_until(Some(d), Duration::from_millis(10)));
        assert!(Instant::now() >= d);
    }
}
