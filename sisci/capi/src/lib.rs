// SPDX-License-Identifier: GPL-2.0

//! The SISCI C API for rsio: `libsisci.so` / `libsisci.a`, declared by
//! `sisci/include/sisci_api.h`, built on the `libsisci` Rust crate.
//!
//! Every exported function catches panics (none cross the FFI boundary),
//! validates its pointers and reports through its `sci_error_t *error`.
//! Handles are heap objects tagged with a magic number.
#![allow(non_snake_case, clippy::missing_safety_doc)]

mod desc;
mod dma;
mod errors;
mod ffi;
mod interrupt;
mod map;
mod nodeid;
mod segment;
mod smartio;
mod types;
mod watcher;
