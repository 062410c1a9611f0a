// SPDX-License-Identifier: GPL-2.0

//! [`KThread`]: a kernel thread running [`ThreadMain::run`] on shared data,
//! stopped and joined on drop. The 7.3 kernel crate has no kthread
//! abstraction.

use crate::bindings;
use core::ffi::c_void;
use core::ptr::NonNull;
use kernel::prelude::*;
use kernel::sync::Arc;

/// The body of a kernel thread.
pub trait ThreadMain: Send + Sync + 'static {
    /// Runs until [`should_stop`] returns true, then returns.
    fn run(&self);
}

/// Whether the current kernel thread is being stopped.
pub fn should_stop() -> bool {
    // SAFETY: Called from a kernel thread made by `KThread::spawn` (the only callers are `ThreadMain::run` bodies).
    unsafe { kernel::bindings::kthread_should_stop() }
}

/// A running kernel thread.
///
/// # Invariants
///
/// `task` is a kthread created by `rsio_helper_kthread_run` on which this
/// object holds a task reference; `data` came from `Arc::into_raw` and the
/// thread borrows it until it is stopped.
pub struct KThread<T: ThreadMain> {
    task: NonNull<kernel::bindings::task_struct>,
    data: *const T,
}

// SAFETY: The handle only stops the thread; `T` is `Send + Sync`.
unsafe impl<T: ThreadMain> Send for KThread<T> {}
// SAFETY: `&KThread` allows nothing.
unsafe impl<T: ThreadMain> Sync for KThread<T> {}

/// The kernel thread's entry point.
///
/// # Safety
///
/// `data` must be the `Arc::into_raw` pointer of a `T`, kept alive until
/// the thread has been stopped (as [`KThread::spawn`] passes it).
unsafe extern "C" fn trampoline<T: ThreadMain>(data: *mut c_void) -> core::ffi::c_int {
    // SAFETY: `data` is the `Arc::into_raw` pointer `spawn` passed, kept alive until after the thread is stopped (type invariant).
    let t = unsafe { &*data.cast::<T>() };
    t.run();
    // `kthread_stop` must find the thread alive or exited on its own: wait
    // for the stop request if `run` returned early.
    while !should_stop() {
        kernel::time::delay::fsleep(kernel::time::Delta::from_millis(10));
    }
    0
}

impl<T: ThreadMain> KThread<T> {
    /// Starts a kernel thread called `name` running `data.run()`.
    pub fn spawn(data: Arc<T>, name: &CStr) -> Result<Self> {
        let raw = Arc::into_raw(data);
        // SAFETY: `trampoline::<T>` matches the thread function type; `raw` stays valid until `drop` has stopped the thread; `name` is NUL-terminated and copied by kthread_create.
        let task = unsafe {
            bindings::rsio_helper_kthread_run(
                Some(trampoline::<T>),
                raw.cast_mut().cast(),
                name.as_char_ptr(),
            )
        };
        match NonNull::new(task) {
            // INVARIANT: created with a reference held; `raw` from `Arc::into_raw`.
            Some(task) => Ok(Self { task, data: raw }),
            None => {
                // SAFETY: `raw` came from `Arc::into_raw` above and no thread uses it.
                drop(unsafe { Arc::from_raw(raw) });
                Err(ENOMEM)
            }
        }
    }
}

impl<T: ThreadMain> Drop for KThread<T> {
    fn drop(&mut self) {
        // SAFETY: `task` is a live kthread reference (invariant); this waits for the thread function to return and drops the reference.
        unsafe { bindings::rsio_helper_kthread_stop(self.task.as_ptr()) };
        // SAFETY: From `Arc::into_raw` (invariant); the thread has stopped, so nothing borrows it any more.
        drop(unsafe { Arc::from_raw(self.data) });
    }
}
