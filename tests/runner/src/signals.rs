//! SIGINT/SIGTERM handling and cancellation of wait loops.
//!
//! The handler only records the signal; every loop that waits on a guest or
//! a QEMU process polls in short slices and calls [`Cancel::check`], which
//! turns a recorded signal into an [`Interrupted`] error. That error unwinds
//! through the ordinary `?` paths, so the drop guards kill the QEMUs, stop
//! the hubs and remove the run directory before `main` exits with 128+signal.
//!
//! The handler is installed with `SA_RESETHAND`: a second Ctrl-C kills the
//! runner at once (its QEMUs still die through `PR_SET_PDEATHSIG`, and the
//! next run sweeps the run directory it leaves behind).

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use anyhow::Result;

static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn record(signal: libc::c_int) {
    RECEIVED.store(signal, Ordering::SeqCst);
}

/// Installs the SIGINT and SIGTERM handlers.
pub fn install() -> Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid starting point; the handler only stores to an atomic, which is async-signal-safe. No SA_RESTART, so blocking calls return EINTR and loops notice soon.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = record as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESETHAND;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            let error = std::io::Error::last_os_error();
            anyhow::bail!("cannot install the handler for signal {signal}: {error}");
        }
    }
    Ok(())
}

/// The signal received so far, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// The run was interrupted by a signal; exit with `128 + signal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted(pub i32);

impl Interrupted {
    pub fn exit_code(self) -> u8 {
        u8::try_from(128 + self.0).unwrap_or(u8::MAX)
    }
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            libc::SIGINT => "SIGINT".to_owned(),
            libc::SIGTERM => "SIGTERM".to_owned(),
            n => format!("signal {n}"),
        };
        write!(f, "interrupted by {name}")
    }
}

impl std::error::Error for Interrupted {}

/// Another worker gave up, so this one should stop waiting too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cancelled because another node failed")
    }
}

impl std::error::Error for Cancelled {}

/// A cancellation token shared by threads that wait together: cancelled
/// by [`Cancel::cancel`] or by a signal.
#[derive(Debug, Default)]
pub struct Cancel {
    cancelled: AtomicBool,
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// Fails with [`Interrupted`] after a signal or [`Cancelled`] after
    /// [`Cancel::cancel`].
    pub fn check(&self) -> Result<()> {
        if let Some(signal) = received() {
            return Err(Interrupted(signal).into());
        }
        if self.cancelled.load(Ordering::SeqCst) {
            return Err(Cancelled.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_token_fails_its_checks() {
        let cancel = Cancel::new();
        assert!(cancel.check().is_ok());
        cancel.cancel();
        let e = cancel.check().unwrap_err();
        assert_eq!(e.downcast_ref::<Cancelled>(), Some(&Cancelled));
    }

    #[test]
    fn interrupts_exit_with_128_plus_the_signal() {
        assert_eq!(Interrupted(libc::SIGINT).exit_code(), 130);
        assert_eq!(Interrupted(libc::SIGTERM).exit_code(), 143);
        assert_eq!(
            Interrupted(libc::SIGTERM).to_string(),
            "interrupted by SIGTERM"
        );
    }
}
