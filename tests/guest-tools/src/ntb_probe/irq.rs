//! MSI-X vectors observed from user space: one eventfd per vector (VFIO
//! signals it when the vector fires) and a thread that counts the signals,
//! so commands can wait for "vector V fired again" with a deadline.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{Context, Result};

/// Interrupt counts per vector, fed by the collector thread.
pub struct Interrupts {
    shared: Arc<Shared>,
    eventfds: Vec<OwnedFd>,
    stop: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    counts: Mutex<Vec<u64>>,
    changed: Condvar,
}

fn eventfd() -> Result<OwnedFd> {
    // SAFETY: eventfd has no memory-safety preconditions.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("cannot create an eventfd");
    }
    // SAFETY: a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads (and so resets) an eventfd's counter; 0 if it was not signalled.
fn take(fd: RawFd) -> u64 {
    let mut value = 0u64;
    // SAFETY: reads 8 bytes into a u64 we own.
    let n = unsafe { libc::read(fd, (&mut value as *mut u64).cast(), 8) };
    if n == 8 {
        value
    } else {
        0
    }
}

impl Interrupts {
    /// Creates `vectors` eventfds and starts counting.
    pub fn new(vectors: usize) -> Result<Interrupts> {
        let eventfds = (0..vectors)
            .map(|_| eventfd())
            .collect::<Result<Vec<_>>>()?;
        let stop = eventfd()?;
        let shared = Arc::new(Shared {
            counts: Mutex::new(vec![0; vectors]),
            changed: Condvar::new(),
        });
        let fds: Vec<RawFd> = eventfds.iter().map(AsRawFd::as_raw_fd).collect();
        let stop_fd = stop.as_raw_fd();
        let thread = std::thread::Builder::new()
            .name("msix".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || collect(&shared, &fds, stop_fd)
            })
            .context("cannot start the interrupt thread")?;
        Ok(Interrupts {
            shared,
            eventfds,
            stop,
            thread: Some(thread),
        })
    }

    /// The eventfds, vector by vector, for VFIO.
    pub fn fds(&self) -> Vec<RawFd> {
        self.eventfds.iter().map(AsRawFd::as_raw_fd).collect()
    }

    fn counts(&self) -> MutexGuard<'_, Vec<u64>> {
        self.shared.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How often `vector` has fired.
    pub fn count(&self, vector: usize) -> u64 {
        self.counts().get(vector).copied().unwrap_or(0)
    }

    /// Waits until `vector` has fired more than `seen` times or `deadline`
    /// passes; returns the count then.
    pub fn wait(&self, vector: usize, seen: u64, deadline: Instant) -> u64 {
        let mut counts = self.counts();
        loop {
            let now = counts.get(vector).copied().unwrap_or(0);
            let left = deadline.saturating_duration_since(Instant::now());
            if now > seen || left.is_zero() {
                return now;
            }
            counts = self
                .shared
                .changed
                .wait_timeout(counts, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        let one = 1u64;
        // SAFETY: writes 8 bytes from a u64 to our own eventfd.
        unsafe { libc::write(self.stop.as_raw_fd(), (&one as *const u64).cast(), 8) };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The collector: polls every eventfd and adds what it reads to the counts.
fn collect(shared: &Shared, fds: &[RawFd], stop: RawFd) {
    let mut polls: Vec<libc::pollfd> = fds
        .iter()
        .chain(std::iter::once(&stop))
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: `polls` is a valid array of pollfds for live descriptors.
        let n = unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if polls.last().is_some_and(|p| p.revents != 0) {
            return;
        }
        let mut counts = shared.counts.lock().unwrap_or_else(|e| e.into_inner());
        for (vector, p) in polls[..fds.len()].iter().enumerate() {
            if p.revents & libc::POLLIN != 0 {
                counts[vector] += take(p.fd);
            }
        }
        drop(counts);
        shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn signal(fd: RawFd, n: u64) {
        // SAFETY: writes 8 bytes from a u64 to an eventfd.
        unsafe { libc::write(fd, (&n as *const u64).cast(), 8) };
    }

    #[test]
    fn signals_are_counted_per_vector_and_wake_waiters() {
        let irqs = Interrupts::new(4).unwrap();
        let fds = irqs.fds();
        let deadline = Instant::now() + Duration::from_secs(10);
        signal(fds[2], 1);
        assert_eq!(irqs.wait(2, 0, deadline), 1);
        signal(fds[2], 2);
        assert_eq!(irqs.wait(2, 1, deadline), 3, "eventfd counts add up");
        assert_eq!(irqs.count(1), 0);
    }

    #[test]
    fn a_wait_for_a_silent_vector_ends_at_its_deadline() {
        let irqs = Interrupts::new(2).unwrap();
        let started = Instant::now();
        assert_eq!(irqs.wait(1, 0, started + Duration::from_millis(200)), 0);
        assert!(started.elapsed() >= Duration::from_millis(200));
    }
}
