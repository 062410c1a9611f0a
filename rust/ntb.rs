// SPDX-License-Identifier: GPL-2.0

//! The kernel's NTB API (`<linux/ntb.h>`), both sides:
//!
//! - hardware drivers implement [`NtbOps`] and register an `ntb_dev` with
//!   [`HwRegistration`];
//! - clients implement [`Client`], register with [`ClientRegistration`] and
//!   get an [`NtbDev`] handle of each device they take.
//!
//! The value types ([`MwAlign`], [`PeerMw`], ...) are shared by both sides.

mod client;
mod ops;
mod provider;

pub use client::{Client, ClientRegistration, Events, NtbDev, PeerMwMap};
pub use ops::{LinkState, Message, MwAlign, NtbOps, PeerDbAddr, PeerMw, Speed, Topology, Width};
pub use provider::HwRegistration;
