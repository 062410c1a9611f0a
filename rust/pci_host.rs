// SPDX-License-Identifier: GPL-2.0

//! [`HostBridge`]: a virtual PCI host bridge, a root bus in an emulated PCI
//! domain of its own (as `drivers/pci/controller/vmd.c` makes), whose
//! config accesses, MSI messages and DMA translations its owner decides
//! through [`HostOps`].
//!
//! The mechanism, the kernel's callback tables as Rust statics of the
//! bindgen types, is in the files below: `host` (the bridge's state, the
//! PCI core's `sysdata`), `config` (`pci_ops`), `msi` (an MSI parent IRQ
//! domain; interrupts of the functions below are spread over the owner's
//! vectors and [`HostBridge::fire`] runs those of a vector), `dma`
//! (per-device `dma_map_ops`), `recovery` (the error-recovery sequence of
//! `pcie_do_recovery` for one function) and `bus` (creating, scanning,
//! starting and removing the bus). Every decision is the owner's.

mod bus;
mod config;
mod dma;
mod host;
mod msi;
mod recovery;

use host::Host;
use kernel::{
    device::{Bound, Device},
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// The most vectors a bridge spreads interrupts over.
const MAX_VECTORS: usize = 16;
/// The most memory windows of a bus.
const MAX_WINDOWS: usize = 6;

/// What a bridge's owner decides.
pub trait HostOps: Send + Sync + 'static {
    /// Reads `size` (1, 2 or 4) bytes at `offset` of function `devfn`'s
    /// config space (the range is inside it); `None`: no such function
    /// (the read returns all-ones). Called with the PCI core's config lock
    /// held, interrupts off: must not sleep.
    fn config_read(&self, devfn: u32, offset: u32, size: u32) -> Option<u32>;
    /// Writes config space (as [`HostOps::config_read`]); `false`: no such
    /// function.
    fn config_write(&self, devfn: u32, offset: u32, size: u32, val: u32) -> bool;
    /// The DMA address of `[phys, phys + size)` for a function below: RAM
    /// of this node, or (`mmio`) another device's BAR. `None`: unreachable.
    /// Any context.
    fn dma_address(&self, phys: u64, size: u64, mmio: bool) -> Option<u64>;
    /// The MSI message (address, data) whose write raises `vector`.
    fn msi_message(&self, vector: u32) -> (u64, u32);
}

/// A memory window of the bus (bus addresses as the CPU reaches them).
#[derive(Clone, Copy, Debug, Default)]
pub struct Window {
    /// First address.
    pub start: u64,
    /// Bytes.
    pub size: u64,
}

/// How a bridge is made.
pub struct HostParams<'a> {
    /// The bus's memory windows (at most 6).
    pub windows: &'a [Window],
    /// The vectors the functions' interrupts are spread over (1..=16).
    pub vectors: &'a [u32],
    /// The highest DMA address [`HostOps::dma_address`] returns.
    pub dma_limit: u64,
    /// A name for the windows' resources (`/proc/iomem`).
    pub name: &'a CStr,
}

/// What [`HostBridge::recover`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// The driver recovered.
    Recovered,
    /// No function or no driver: nothing to recover.
    NoDriver,
    /// The driver could not recover (or has no error handlers): unbound.
    Unbound,
    /// Not recovered and the bridge is disconnected: the owner removes it.
    Failed,
}

/// A virtual host bridge with its bus; removed and freed on drop.
///
/// # Invariants
///
/// `host` uses `ops` (boxed: its address is stable) and is dropped before
/// it (field order); `bus` (under its mutex) says whether its bus exists:
/// every use of the bus (start, recover, set_resource, remove) runs with it
/// locked and `true`.
#[pin_data(PinnedDrop)]
pub struct HostBridge<T: HostOps> {
    host: KBox<Host>,
    ops: Pin<KBox<T>>,
    #[pin]
    bus: Mutex<bool>,
}

impl<T: HostOps> HostBridge<T> {
    /// Creates the bridge below `parent` and scans its bus; no driver binds
    /// before [`HostBridge::start`]. `ENODEV` if no function answered.
    pub fn create(
        parent: &Device<Bound>,
        ops: impl PinInit<T, Error>,
        p: &HostParams<'_>,
    ) -> Result<Arc<Self>> {
        let n = p.vectors.len();
        if n == 0 || n > MAX_VECTORS || p.windows.len() > MAX_WINDOWS {
            return Err(EINVAL);
        }
        let ops = KBox::pin_init(ops, GFP_KERNEL)?;
        let dyn_ops: &(dyn HostOps + 'static) = &*ops;
        let host = Host::new(parent, dyn_ops.into(), p)?;
        // INVARIANT: `host` uses `ops`, a field after it; no bus yet.
        let this = Arc::pin_init(
            try_pin_init!(Self {
                host,
                ops,
                bus <- new_mutex!(false, "rsio_pci_host"),
            }),
            GFP_KERNEL,
        )?;
        {
            let mut bus = this.bus.lock();
            this.host.add_bus(parent, p)?;
            *bus = true;
        }
        Ok(this)
    }

    /// The PCI domain and bus number of its bus.
    pub fn location(&self) -> (u32, u32) {
        self.host.location()
    }

    /// The owner's operations.
    pub fn ops(&self) -> &T {
        &self.ops
    }

    /// Sets the address range of BAR `bar` of function `devfn` (before
    /// [`HostBridge::start`]; e.g. a 32-bit BAR whose window lies above
    /// 4 GiB, which the register cannot hold).
    pub fn set_resource(&self, devfn: u32, bar: u32, start: u64, size: u64) -> Result {
        let bus = self.bus.lock();
        if !*bus {
            return Err(ENODEV);
        }
        self.host.set_resource(devfn, bar, start, size)
    }

    /// Adds the functions to the driver core: their drivers probe now.
    /// Route the vectors to [`HostBridge::fire`] first: a driver may wait
    /// for an interrupt in a synchronous probe.
    pub fn start(&self) {
        let bus = self.bus.lock();
        if *bus {
            self.host.start();
        }
    }

    /// Vector `vector` was raised: runs its interrupts' handlers. Hard
    /// interrupt context, interrupts off (`generic_handle_irq`): the
    /// adapter's interrupt handler, through a `UserHook`.
    pub fn fire(&self, vector: u32) {
        self.host.fire(vector);
    }

    /// The link to the functions is gone for good: the PCI core stops
    /// waiting for them, recovery stops short of resets.
    pub fn set_disconnected(&self) {
        self.host.set_disconnected();
    }

    /// PCI error recovery of function 0 after a failed read, as AER would:
    /// `error_detected(io_frozen)`, `wait_answer` (which returns whether
    /// the function answers again), a function reset, `slot_reset`,
    /// `resume`; a driver that cannot recover is unbound. Process context;
    /// sleeps, holding the function's device lock.
    pub fn recover(&self, wait_answer: &dyn Fn() -> bool) -> Recovery {
        let bus = self.bus.lock();
        if !*bus {
            return Recovery::NoDriver;
        }
        self.host.recover(wait_answer)
    }

    /// Unbinds the drivers and removes the bus (once; interrupts may still
    /// be raised, and are dropped).
    pub fn remove(&self) {
        let mut bus = self.bus.lock();
        if *bus {
            *bus = false;
            self.host.remove_bus();
        }
    }
}

#[pinned_drop]
impl<T: HostOps> PinnedDrop for HostBridge<T> {
    fn drop(self: Pin<&mut Self>) {
        // Then `host` frees its IRQ domain and PCI domain (and `ops` goes).
        self.remove();
    }
}
