// SPDX-License-Identifier: GPL-2.0

//! [`global_lock!`](crate::global_lock): a module-global lock (a mutex or
//! an IRQ-safe spinlock) that needs no `unsafe` initialization call.
//!
//! The kernel crate's `global_lock!` leaves the lock uninitialized until
//! its user calls an `unsafe fn init()` before the first use. A
//! [`GlobalMutex`] initializes itself on its first `lock()` instead (any
//! context, once, race-free), so using one is entirely safe.

use kernel::{
    processor::cpu_relax,
    sync::{
        atomic::{Acquire, Atomic, Release},
        lock::{GlobalGuard, GlobalLock, GlobalLockBackend},
    },
};

const UNINIT: i32 = 0;
const INITIALIZING: i32 = 1;
const READY: i32 = 2;

/// A global lock, made by [`global_lock!`](crate::global_lock).
pub struct GlobalMutex<B: GlobalLockBackend> {
    lock: GlobalLock<B>,
    state: Atomic<i32>,
}

impl<B: GlobalLockBackend> GlobalMutex<B> {
    /// Only for [`global_lock!`](crate::global_lock).
    ///
    /// # Safety
    ///
    /// One static per backend type `B` (the macro makes a type per static).
    #[doc(hidden)]
    pub const unsafe fn new(data: B::Item) -> Self {
        Self {
            // SAFETY: The caller makes one static per `B`; `ensure_init` initializes the lock before any use.
            lock: unsafe { GlobalLock::new(data) },
            state: Atomic::new(UNINIT),
        }
    }

    /// Initializes the lock unless done; concurrent first users wait for
    /// the one that does it (a few instructions).
    fn ensure_init(&'static self) {
        if self.state.load(Acquire) == READY {
            return;
        }
        match self.state.cmpxchg(UNINIT, INITIALIZING, Acquire) {
            Ok(_) => {
                // SAFETY: Only the caller that moved the state out of `UNINIT` gets here, once; nobody locks before `READY` is published below.
                unsafe { self.lock.init() };
                self.state.store(READY, Release);
            }
            Err(_) => {
                while self.state.load(Acquire) != READY {
                    cpu_relax();
                }
            }
        }
    }

    /// Locks it (a mutex may sleep; a spinlock may be taken in any context).
    pub fn lock(&'static self) -> GlobalGuard<B> {
        self.ensure_init();
        self.lock.lock()
    }
}

/// Defines a global lock, safe to use from the first `lock()` on; the
/// kind is `Mutex`, `SpinLock` or `SpinLockIrq`:
///
/// ```ignore
/// rsio_kernel::global_lock! {
///     /// What it guards.
///     static STATE: Mutex<State> = State::new();
/// }
/// let guard = STATE.lock();
/// ```
#[macro_export]
macro_rules! global_lock {
    {
        $(#[$meta:meta])* $pub:vis
        static $name:ident: $kind:ident<$valuety:ty> = $value:expr;
    } => {
        #[doc = ::core::concat!("Backend type of [`", ::core::stringify!($name), "`].")]
        #[allow(non_camel_case_types, unreachable_pub)]
        $pub enum $name {}

        impl ::kernel::sync::lock::GlobalLockBackend for $name {
            const NAME: &'static ::kernel::str::CStr = ::kernel::c_str!(::core::stringify!($name));
            type Item = $valuety;
            type Backend = ::kernel::global_lock_inner!(backend $kind);

            fn get_lock_class() -> ::core::pin::Pin<&'static ::kernel::sync::LockClassKey> {
                ::kernel::static_lock_class!()
            }
        }

        $(#[$meta])*
        $pub static $name: $crate::sync::GlobalMutex<$name> = {
            let init: $valuety = $value;
            // SAFETY: The one static of the backend type generated above.
            unsafe { $crate::sync::GlobalMutex::new(init) }
        };
    };
}
