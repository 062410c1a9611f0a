// SPDX-License-Identifier: GPL-2.0

//! Callback threads: SISCI's `SCI_FLAG_USE_CALLBACK` runs the callback on a
//! library thread that waits for the event.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

/// How long a callback thread waits before it checks whether to stop.
pub const POLL: Duration = Duration::from_millis(100);

/// A thread that calls `step` until it returns false or is stopped.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    id: Option<ThreadId>,
}

impl Watcher {
    /// Spawns the thread. `step` should wait at most about [`POLL`].
    pub fn spawn(mut step: impl FnMut() -> bool + Send + 'static) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let t = std::thread::Builder::new()
            .name("sisci-callback".into())
            .spawn(move || {
                while !s.load(Ordering::Acquire) {
                    let go = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut step))
                        .unwrap_or(false);
                    if !go {
                        break;
                    }
                }
            })?;
        let id = Some(t.thread().id());
        Ok(Watcher {
            stop,
            thread: Some(t),
            id,
        })
    }

    /// Stops the thread and waits for it, unless called from the thread
    /// itself (a callback removing its own object): then it just stops.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            if Some(std::thread::current().id()) != self.id {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop();
    }
}
