//! rsio-emu: emulated PCI devices for rsio's QEMU clusters.
//!
//! The devices live outside QEMU, in this crate's processes, and reach the
//! guests through QEMU's `vfio-user-pci` device: see [`vfio_user`].

pub mod vfio_user;
