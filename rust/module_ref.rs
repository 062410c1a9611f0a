// SPDX-License-Identifier: GPL-2.0

//! [`ModuleRef`]: a reference that keeps a module loaded (`try_module_get`).

use crate::bindings;
use kernel::prelude::*;

/// A reference on a module: it cannot be unloaded while this lives.
///
/// # Invariants
///
/// `module` is a module on which this object holds one reference
/// (`try_module_get()` succeeded), dropped by `drop`.
pub struct ModuleRef {
    module: *mut kernel::bindings::module,
}

// SAFETY: Module references may be taken and dropped from any thread.
unsafe impl Send for ModuleRef {}
// SAFETY: `&ModuleRef` allows nothing.
unsafe impl Sync for ModuleRef {}

impl ModuleRef {
    /// A reference on `module`, or `None` if it is being unloaded.
    ///
    /// `module` must still be loaded when this is called, which holds while
    /// its own code is registered somewhere the caller looks it up under a
    /// lock its unload path takes (a module's `ThisModule` is `'static` to
    /// that module only).
    pub fn try_get(module: &'static ThisModule) -> Option<Self> {
        let m = module.as_ptr();
        // SAFETY: `m` is a loaded module or null (built-in code), both accepted by `try_module_get()` (above).
        if !unsafe { bindings::rsio_helper_try_module_get(m) } {
            return None;
        }
        // INVARIANT: the reference was taken just now.
        Some(Self { module: m })
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: Drops the reference this object holds (invariant).
        unsafe { bindings::rsio_helper_module_put(self.module) };
    }
}
