// SPDX-License-Identifier: GPL-2.0

//! The Rust API of `rsio_ntb` for other rsio modules: they `use
//! rsio_ntb::api::...`, and the build exports whatever they use
//! (docs/build.md, "Cross-module Rust").

use core::sync::atomic::{AtomicUsize, Ordering};

/// The number of adapters bound: one [`Counted`] per adapter.
static ADAPTERS: AtomicUsize = AtomicUsize::new(0);

/// Returns how many RSIO-NTB1 adapters the driver has bound (probed and not
/// yet removed).
pub fn adapter_count() -> usize {
    ADAPTERS.load(Ordering::Relaxed)
}

/// Counts one bound adapter in [`adapter_count`] for as long as it lives: a
/// field of the driver data, initialized last in probe, dropped first in
/// remove.
pub(crate) struct Counted(());

impl Counted {
    pub(crate) fn new() -> Self {
        ADAPTERS.fetch_add(1, Ordering::Relaxed);
        Self(())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        ADAPTERS.fetch_sub(1, Ordering::Relaxed);
    }
}
