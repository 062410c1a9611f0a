//! `rsio_nvme_share`'s pure logic, for host tests (docs/nvme-share.md).
//!
//! The kernel module compiles the same files as its `logic` module
//! (nvme_share/logic.rs), so they are `core`-only, free of crate
//! attributes, never panic on any input, and refer to each other as
//! `super::x`.
#![no_std]

pub mod allot;
pub mod nvme;
pub mod policy;
pub mod proto;
pub mod prp;
