// SPDX-License-Identifier: GPL-2.0

//! rsio NTB hardware driver (`rsio_ntb`): the PCI driver of the RSIO-NTB1
//! host adapter (docs/adapter.md) and a safe Rust layer over the kernel's NTB
//! core (`<linux/ntb.h>`). See docs/ntb-driver.md for the structure.

mod bindings;
mod driver;
mod enable;
mod fabric;
mod fabric_ntb;
mod hw;
mod irq;
mod ntb_dev;
mod ntb_ops;
mod pci_raw;
mod regs;

kernel::module_pci_driver! {
    type: driver::NtbHwDriver,
    name: "rsio_ntb",
    authors: ["rsio developers"],
    description: "rsio NTB hardware driver for the RSIO-NTB1 host adapter",
    license: "GPL",
}
