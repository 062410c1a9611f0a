//! rsio's user-space ABI, for user-space programs.
//!
//! The definitions live in `abi.rs`, which the kernel modules compile as a
//! module of their own crate (`#[path = ".../uapi/src/abi.rs"] mod uapi;`),
//! so the kernel and user space build the very same source. `abi.rs`
//! therefore has no crate attributes and no dependencies.
#![no_std]
#![deny(missing_docs)]

mod abi;
pub mod lend;
pub mod nvme_share;
pub mod sisci;

pub use abi::*;
