// SPDX-License-Identifier: GPL-2.0

//! Safe access to facts about the running kernel that the `kernel` crate does
//! not expose.

use crate::bindings;
use kernel::prelude::*;
use kernel::str::CStrExt;

/// The running kernel's release string, as `uname -r` prints it.
pub(crate) fn kernel_release() -> &'static CStr {
    // SAFETY: `rsio_helper_kernel_release` returns `init_utsname()->release`, a
    // NUL-terminated array inside the static initial UTS namespace. Its storage
    // lives as long as the kernel; the string may be rewritten only through
    // `uname` changes to the *nodename*/domainname, never the release.
    unsafe { CStr::from_char_ptr(bindings::rsio_helper_kernel_release()) }
}
