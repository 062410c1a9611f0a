// SPDX-License-Identifier: GPL-2.0

//! libsisci: SISCI for rsio, a safe Rust API over `/dev/sisci`
//! (`rsio_sisci`'s ioctls, see `rsio_uapi::sisci`).
//!
//! - [`Sisci`]: one open device, one SISCI "virtual device"; [`Sisci::info`],
//!   [`Sisci::segments`].
//! - [`LocalSegment`] / [`RemoteSegment`]: memory of this node that peers
//!   connect to, and connections to peers' segments; both map to a
//!   [`Mapping`] with bounds-checked volatile accessors.
//! - [`Interrupt`], [`DataInterrupt`], [`RemoteInterrupt`],
//!   [`RemoteDataInterrupt`]: remote interrupts, plain and with payload.
//! - [`DmaQueue`]: the adapter's DMA engine.
//! - SmartIO: [`lent_devices`], [`BorrowedDevice`] (devices lent on the
//!   fabric, borrowed by this process: BARs, DMA to segments).
//!
//! Every object frees its kernel object on drop; a [`Mapping`] keeps its
//! segment or connection alive. Errors carry the operation and errno.
#![deny(missing_docs)]

mod device;
mod dma;
mod error;
mod eventfd;
mod interrupt;
mod mapping;
mod segment;
mod smartio;
mod sys;

pub use device::{Info, SegmentInfo, SegmentKind, Sisci};
pub use dma::{Direction, DmaEntry, DmaQueue, DmaState};
pub use error::{Error, Result};
pub use eventfd::EventFd;
pub use interrupt::{
    DataInterrupt, DataTrigger, Interrupt, RemoteDataInterrupt, RemoteInterrupt, Trigger,
};
pub use mapping::{volatile_copy, volatile_read, Mapping};
pub use rsio_uapi::sisci as abi;
pub use segment::{Id, LocalSegment, RemoteSegment, SegmentEvent, SegmentFlags};
pub use smartio::{lent_devices, lent_devices_at, BorrowedDevice, BusAddress, LentDevice};
pub use sys::timeout_ms;
