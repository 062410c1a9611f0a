// SPDX-License-Identifier: GPL-2.0

//! Generated bindings for the C helpers in `helpers.h` (see Kbuild).
//!
//! Only `sys.rs` uses these; everything else goes through its safe API.

#[allow(
    dead_code,
    unused_imports,
    unreachable_pub,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    missing_docs,
    improper_ctypes,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]
mod generated {
    include!("bindings_generated.rs");
}

pub(crate) use generated::*;
