// SPDX-License-Identifier: GPL-2.0

//! Generated bindings of `<linux/ntb.h>` and of the C helpers
//! (`helpers/helpers.h`; see `Kbuild`): the layer's only raw FFI. Modules
//! outside `rust/` never see them.

#[allow(
    dead_code,
    unused_imports,
    unreachable_pub,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    missing_docs,
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    // As in the kernel crate's own bindings: `struct device` reaches types
    // that are empty in this configuration (e.g. `its_array`).
    improper_ctypes
)]
mod generated {
    include!("bindings_generated.rs");
}

pub(crate) use generated::*;
