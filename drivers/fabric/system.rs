// SPDX-License-Identifier: GPL-2.0

//! Safe access to facts about the running kernel that the `kernel` crate does
//! not expose.

use crate::bindings;
use kernel::prelude::*;
use kernel::str::CStrExt;

/// The running kernel's release string, as `uname -r` prints it.
pub(crate) fn kernel_release() -> &'static CStr {
    // The helper returns `init_utsname()->release`: a NUL-terminated array in
    // the static initial UTS namespace, which lives as long as the kernel and
    // whose release field is never rewritten (only nodename/domainname are).
    // SAFETY: A valid NUL-terminated string that lives and stays unchanged forever (above).
    unsafe { CStr::from_char_ptr(bindings::rsio_helper_kernel_release()) }
}
