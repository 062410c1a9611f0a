// SPDX-License-Identifier: GPL-2.0

//! rsio NTB hardware driver (`rsio_ntb`): the PCI driver of the RSIO-NTB1
//! host adapter (docs/adapter.md), a Linux `ntb_dev` (through
//! `rsio_kernel::ntb`), and the fabric interface the other modules use. See
//! docs/ntb-driver.md for the structure.

pub mod adapter;
pub mod buffer;
mod direct_alias;
pub mod dma;
mod dma_ring;
mod driver;
mod fabric_ntb;
mod hw;
pub mod inbound;
mod irq;
pub mod lut;
pub mod multicast;
mod regs;

use kernel::prelude::*;

/// The module: the adapter registry, then the PCI driver. Fields drop in
/// declaration order: the driver is unregistered (every adapter unbound)
/// before the registry is emptied.
#[pin_data]
struct RsioNtb {
    #[pin]
    driver: kernel::driver::Registration<kernel::pci::Adapter<driver::NtbHwDriver>>,
    _registry: adapter::RegistryGuard,
}

impl kernel::InPlaceModule for RsioNtb {
    fn init(module: &'static kernel::ThisModule) -> impl PinInit<Self, Error> {
        let registry = adapter::RegistryGuard::init();
        try_pin_init!(Self {
            _registry: registry,
            driver <- kernel::driver::Registration::new(c"rsio_ntb", module),
        })
    }
}

module! {
    type: RsioNtb,
    name: "rsio_ntb",
    authors: ["rsio developers"],
    description: "rsio NTB hardware driver for the RSIO-NTB1 host adapter",
    license: "GPL",
    params: {
        rmmio_timeout_us: u32 {
            default: 1_000_000,
            description: "Completion timeout of a read through the fabric of a peer's MMIO (a borrowed device's registers), microseconds: 1..=10000000. The adapter's reset value, 10 ms, is shorter than a loaded peer may take; PCIe allows up to seconds.",
        },
    },
}
