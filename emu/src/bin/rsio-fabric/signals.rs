//! SIGINT and SIGTERM as events rather than deaths, so that the server
//! stops cleanly (removing its files) when told to.
//!
//! Both signals are blocked in every thread and taken by one thread with
//! `sigwait(2)`: nothing runs in signal-handler context.

use std::io;
use std::mem::MaybeUninit;

/// The signals that stop the server.
const STOP_SIGNALS: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

/// Blocks SIGINT and SIGTERM in the calling thread, and so in every thread
/// it starts afterwards: call it before starting any. Then starts a thread
/// that calls `on_signal` with the signal's name for each one delivered.
pub fn watch(on_signal: impl Fn(&'static str) + Send + 'static) -> io::Result<()> {
    let set = stop_set()?;
    // SAFETY: `set` is an initialized signal set; the old mask is not wanted.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let mut signal: libc::c_int = 0;
            // SAFETY: `set` is initialized and `signal` is a valid out-pointer.
            if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
                on_signal(name(signal));
            }
        })?;
    Ok(())
}

/// The set of [`STOP_SIGNALS`].
fn stop_set() -> io::Result<libc::sigset_t> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initializes the set it is given; sigaddset then only touches it.
    unsafe {
        if libc::sigemptyset(set.as_mut_ptr()) != 0 {
            return Err(io::Error::last_os_error());
        }
        for signal in STOP_SIGNALS {
            if libc::sigaddset(set.as_mut_ptr(), signal) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(set.assume_init())
    }
}

fn name(signal: libc::c_int) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}
