//! rsio-emu: the emulated NTB fabric for rsio's QEMU clusters.
//!
//! - [`vfio_user`]: a vfio-user server, the transport to each node's QEMU.
//! - [`fabric`]: the model of the switched fabric and every node's adapter
//!   state (docs/adapter.md).
//! - [`adapter`]: one node's adapter as a vfio-user device on top of both.
//! - [`chassis`]: the platform of an expansion chassis node (address map,
//!   firmware).
//! - [`control`]: the control protocol of `rsio-fabric` (status, faults).

pub mod adapter;
pub mod chassis;
pub mod control;
pub mod fabric;
pub mod vfio_user;
