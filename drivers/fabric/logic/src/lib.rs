//! The fabric core's pure logic, for host tests.
//!
//! The kernel module compiles the same files as its `logic` module
//! (drivers/fabric/logic.rs), so they are `core`-only, free of crate
//! attributes, and refer to each other as `super::x`.
#![no_std]

pub mod maps;
pub mod members;
pub mod proto;
pub mod ring;
