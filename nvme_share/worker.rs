// SPDX-License-Identifier: GPL-2.0

//! The module's thread `rsio_nvme_share`: what may not run on the fabric
//! core's thread (it waits for responses or for the controller) or in an
//! ioctl: controller resets (manager), queue re-creation after a reset and
//! re-attaching when a manager returns (client), and a once-a-second check
//! of every shared controller's fatal status.

use kernel::new_condvar;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, CondVar, Mutex};
use kernel::time::msecs_to_jiffies;
use rsio_kernel::kthread::{self, KThread, ThreadMain};

/// A piece of work.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Work {
    /// Manager: reset controller `ctrl` (fatal status, a client's report,
    /// the test hook).
    Reset(u32),
    /// Client: controller `ctrl` of `node` is back from a reset with
    /// generation `gen`: re-create this node's queues.
    Recreate { node: u32, ctrl: u32, gen: u32 },
    /// Client: the manager of `ctrl` (of `node`) announced it again while
    /// this node's attachment is dead: attach anew.
    Reattach { node: u32, ctrl: u32 },
    /// Client: controller event `mtype` (`CTRL_RESET`, `CTRL_READY`,
    /// `CTRL_GONE`) from this node's own manager, which does not call the
    /// client directly.
    LocalEvent { mtype: u16, ctrl: u32, value: u32 },
    /// Once a second, when idle: the periodic checks.
    Tick,
}

/// The thread's queue, and what runs the work (the module root's
/// dispatcher: this file calls neither the manager nor the client).
#[pin_data]
pub(crate) struct Worker {
    #[pin]
    queue: Mutex<KVec<Work>>,
    #[pin]
    wake: CondVar,
    dispatch: fn(Work),
}

impl ThreadMain for Worker {
    fn run(&self) {
        while !kthread::should_stop() {
            let next = {
                let mut q = self.queue.lock();
                if q.is_empty() {
                    let _ = self
                        .wake
                        .wait_interruptible_timeout(&mut q, msecs_to_jiffies(1000));
                }
                if q.is_empty() {
                    None
                } else {
                    q.remove(0).ok()
                }
            };
            (self.dispatch)(next.unwrap_or(Work::Tick));
        }
    }
}

/// The running thread.
pub(crate) struct Thread {
    worker: Arc<Worker>,
    _thread: KThread<Worker>,
}

rsio_kernel::global_lock! {
    /// The worker while the module runs.
    static WORKER: Mutex<Option<Arc<Worker>>> = None;
}

/// Starts the thread, which runs each piece of work with `dispatch`.
pub(crate) fn start(dispatch: fn(Work)) -> Result<Thread> {
    let worker = Arc::pin_init(
        pin_init!(Worker {
            queue <- new_mutex!(KVec::new(), "rsio_nvme_work"),
            wake <- new_condvar!("rsio_nvme_wake"),
            dispatch,
        }),
        GFP_KERNEL,
    )?;
    let thread = KThread::spawn(worker.clone(), c"rsio_nvme_share")?;
    *WORKER.lock() = Some(worker.clone());
    Ok(Thread {
        worker,
        _thread: thread,
    })
}

impl Drop for Thread {
    fn drop(&mut self) {
        *WORKER.lock() = None;
        self.worker.wake.notify_all();
        // `_thread` drops next: the thread is stopped.
    }
}

/// Queues `w` (once: a queued duplicate is not added again).
pub(crate) fn push(w: Work) {
    let Some(worker) = WORKER.lock().clone() else {
        return;
    };
    {
        let mut q = worker.queue.lock();
        if q.contains(&w) {
            return;
        }
        if q.push(w, GFP_KERNEL).is_err() {
            pr_warn!("out of memory: {:?} dropped\n", w);
            return;
        }
    }
    worker.wake.notify_one();
}
