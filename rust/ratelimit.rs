// SPDX-License-Identifier: GPL-2.0

//! Rate limiting of error messages that a peer or the hardware can trigger
//! at will.

use crate::bindings;

/// Whether an error message may be printed now: one ratelimit state shared
/// by every caller, with `printk_ratelimit()`'s interval and burst.
pub fn err_ratelimit() -> bool {
    // SAFETY: `__ratelimit()` of a static state; any context.
    unsafe { bindings::rsio_helper_err_ratelimit() }
}
