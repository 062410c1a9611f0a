// SPDX-License-Identifier: GPL-2.0

//! rsio_kernel: the safe abstractions every rsio module shares, for what the
//! 7.3 `kernel` crate does not offer yet (docs/kernel-layer.md).
//!
//! Shaped like `rust/kernel/`: one file per kernel concept, raw bindings
//! confined to [`bindings`] and the C helpers of inline-only kernel
//! functions in `helpers/`. Every item is safe to use; each `unsafe` block
//! here states why it holds. Modules name this crate in their Kbuild
//! fragment (`<module>-uses := rsio_kernel`) and call it as
//! `rsio_kernel::...`.

use kernel::prelude::*;

mod bindings;

pub mod abi;
pub mod acpi;
pub mod blk_mq;
pub mod coherent;
pub mod device;
pub mod dma_pages;
pub mod dma_resource;
pub mod eventfd;
pub mod io_mem;
pub mod iommu;
pub mod kthread;
pub mod mm;
pub mod module_ref;
pub mod ntb;
pub mod pci;
pub mod pci_host;
pub mod phys_pages;
pub mod ratelimit;
pub mod sync;
pub mod system;
pub mod task;

module! {
    type: RsioKernel,
    name: "rsio_kernel",
    authors: ["rsio developers"],
    description: "rsio: safe kernel abstractions shared by the rsio modules",
    license: "GPL",
}

/// The layer has no state of its own: loading it only makes its API
/// available to the modules that depend on it.
struct RsioKernel;

impl kernel::Module for RsioKernel {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}
