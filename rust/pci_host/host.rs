// SPDX-License-Identifier: GPL-2.0

//! [`Host`]: the state of one bridge, which the kernel's callbacks reach
//! through the bus's `sysdata` (config space, DMA) and the IRQ domain's
//! `host_data` (MSI), and its PCI domain number.

use super::{HostOps, HostParams, MAX_VECTORS, MAX_WINDOWS};
use crate::{bindings as rb, device::raw};
use core::ptr::NonNull;
use kernel::{
    bindings,
    device::{Bound, Device},
    prelude::*,
    sync::atomic::Atomic,
    types::Opaque,
};

/// Interrupts the functions below one bridge may have (MSI-X vectors in
/// use): one bit each of [`Host::hwirqs`].
pub(super) const MAX_IRQS: usize = 64;

/// The bus number of the root bus (its bus resource is `[0, 0]`).
pub(super) const ROOT_BUS: u32 = 0;

/// One interrupt of a function below the bridge (our level of its
/// hierarchy), at the index of its hwirq.
pub(super) struct IrqSlot {
    /// Its Linux interrupt number (set before it is enabled).
    pub(super) virq: Atomic<u32>,
    /// The owner's vector it was spread onto (set before it is enabled).
    pub(super) vector: Atomic<u32>,
    /// Enabled: [`Host::fire`] runs it (released after `virq`, `vector`).
    pub(super) enabled: Atomic<bool>,
}

impl IrqSlot {
    fn new() -> Self {
        Self {
            virq: Atomic::new(0),
            vector: Atomic::new(0),
            enabled: Atomic::new(false),
        }
    }
}

/// One bridge.
///
/// No lock: what the C bridge kept under a raw spinlock (the interrupts'
/// enabled state, the hwirq bitmap, the next vector) are atomics, as the
/// interrupt chip's callbacks run under the descriptor's raw lock and
/// [`Host::fire`] in any context, where nothing may sleep.
///
/// # Invariants
///
/// - `sd` is the first field (`repr(C)`): the `sysdata` of its bus is a
///   pointer to the `Host`; the bus and the functions on it exist only
///   while the `Host` does (`remove_bus` before drop).
/// - `ops` is valid for as long as the `Host` exists (its owner's box).
/// - `domain_nr` is the emulated PCI domain `new` allocated, released by
///   drop; `irq_domain` the MSI parent domain `new` created, whose
///   `host_data` is the `Host`, removed by drop (null before).
/// - `bus` is its root bus while it exists (set by `add_bus`, cleared under
///   the PCI core's rescan lock by `remove_bus`), null otherwise.
/// - `vectors[..nr_vectors]` are the owner's vectors, `nr_vectors` in
///   `1..=MAX_VECTORS`, `next_vector` below `nr_vectors`.
#[repr(C)]
pub(super) struct Host {
    /// First: the PCI core's `bus->sysdata` (x86 reads its domain from it).
    pub(super) sd: Opaque<bindings::pci_sysdata>,
    ops: NonNull<dyn HostOps>,
    pub(super) domain_nr: i32,
    pub(super) dma_limit: u64,
    pub(super) vectors: [u32; MAX_VECTORS],
    pub(super) nr_vectors: u32,
    pub(super) next_vector: Atomic<u32>,
    /// The hwirqs in use (bit `i`: `irqs[i]`).
    pub(super) hwirqs: Atomic<u64>,
    pub(super) irqs: [IrqSlot; MAX_IRQS],
    pub(super) irq_domain: *mut bindings::irq_domain,
    pub(super) bus: Atomic<*mut bindings::pci_bus>,
    pub(super) disconnected: Atomic<bool>,
    /// The bus's resources: bus number 0 and the memory windows, with
    /// their names (`/proc/iomem`); the PCI core links them into its trees.
    pub(super) busn: Opaque<bindings::resource>,
    pub(super) win: [Opaque<bindings::resource>; MAX_WINDOWS],
    win_name: [[u8; 32]; MAX_WINDOWS],
}

// x86 reads the PCI domain from `bus->sysdata`: `sd` must be where `Host` starts.
const _: () = assert!(core::mem::offset_of!(Host, sd) == 0);

// SAFETY: The shared state is atomics; the C structures (`sd`, the resources) are used by the PCI
// core under its own locks; `ops` is `Send + Sync`; the raw pointers are the kernel's objects,
// used from any thread.
unsafe impl Send for Host {}
// SAFETY: As above.
unsafe impl Sync for Host {}

impl Host {
    /// A bridge's state with its PCI domain and MSI parent domain, no bus
    /// yet. `p` was checked by the caller (vectors, windows).
    pub(super) fn new(
        parent: &Device<Bound>,
        ops: NonNull<dyn HostOps>,
        p: &HostParams<'_>,
    ) -> Result<KBox<Self>> {
        let mut vectors = [0; MAX_VECTORS];
        for (v, pv) in vectors.iter_mut().zip(p.vectors) {
            *v = *pv;
        }
        // SAFETY: `parent` is a live device.
        let node = unsafe { rb::rsio_helper_dev_to_node(raw(parent)) };
        let mut h = KBox::new(
            Self {
                sd: Opaque::new(bindings::pci_sysdata {
                    domain: -1,
                    node,
                    ..Default::default()
                }),
                ops,
                domain_nr: -1,
                dma_limit: p.dma_limit,
                vectors,
                nr_vectors: p.vectors.len() as u32,
                next_vector: Atomic::new(0),
                hwirqs: Atomic::new(0),
                irqs: core::array::from_fn(|_| IrqSlot::new()),
                irq_domain: core::ptr::null_mut(),
                bus: Atomic::new(core::ptr::null_mut()),
                disconnected: Atomic::new(false),
                busn: Opaque::new(bindings::resource::default()),
                win: core::array::from_fn(|_| Opaque::new(bindings::resource::default())),
                win_name: [[0; 32]; MAX_WINDOWS],
            },
            GFP_KERNEL,
        )?;
        // Emulated domains start at 0x10000, clear of ACPI's (as vmd.c).
        // SAFETY: No requirements.
        let nr = unsafe { bindings::pci_bus_find_emul_domain_nr(0, 0x10000, i32::MAX as u32) };
        if nr < 0 {
            return Err(Error::from_errno(nr));
        }
        h.domain_nr = nr;
        h.sd = Opaque::new(bindings::pci_sysdata {
            domain: nr,
            node,
            ..Default::default()
        });
        h.resources(p);
        // The `Host` is boxed: its address, the domain's `host_data`, is stable.
        h.irq_domain = h.create_irq_domain()?;
        Ok(h)
    }

    /// Sets up the bus's resources: bus number 0 and the memory windows.
    fn resources(&mut self, p: &HostParams<'_>) {
        self.busn = Opaque::new(bindings::resource {
            start: ROOT_BUS.into(),
            end: ROOT_BUS.into(),
            name: c"rsio virtual bus".as_char_ptr(),
            flags: bindings::IORESOURCE_BUS as usize,
            ..Default::default()
        });
        for (i, w) in p.windows.iter().enumerate() {
            if w.size == 0 {
                continue;
            }
            window_name(&mut self.win_name[i], p.name.to_bytes(), i);
            let mut flags = bindings::IORESOURCE_MEM;
            if w.start > u32::MAX.into() {
                flags |= bindings::IORESOURCE_MEM_64;
            }
            self.win[i] = Opaque::new(bindings::resource {
                start: w.start,
                end: w.start.wrapping_add(w.size - 1),
                name: self.win_name[i].as_ptr(),
                flags: flags as usize,
                ..Default::default()
            });
        }
    }

    /// The owner's operations.
    pub(super) fn ops(&self) -> &dyn HostOps {
        // SAFETY: Valid while the `Host` exists (invariant).
        unsafe { self.ops.as_ref() }
    }

    /// The PCI domain and bus number of its bus.
    pub(super) fn location(&self) -> (u32, u32) {
        (self.domain_nr as u32, ROOT_BUS)
    }

    /// The bridge of a bus below it (the root bus, or a bus behind a
    /// bridge below, which inherits its `sysdata`).
    ///
    /// # Safety
    ///
    /// `bus` is a live bus below a [`Host`], which lives for `'a`.
    pub(super) unsafe fn of_bus<'a>(bus: *mut bindings::pci_bus) -> &'a Self {
        // SAFETY: The bus's `sysdata` is its `Host`'s `sd`, its first field (invariant).
        unsafe { &*(*bus).sysdata.cast::<Self>() }
    }

    /// The bridge of a function below it.
    ///
    /// # Safety
    ///
    /// `dev` is the `struct device` of a live `pci_dev` below a [`Host`],
    /// which lives for `'a`.
    pub(super) unsafe fn of_dev<'a>(dev: *mut bindings::device) -> &'a Self {
        let off = core::mem::offset_of!(bindings::pci_dev, dev);
        // SAFETY: `dev` is embedded in a live `pci_dev` (`to_pci_dev()`) on one of our buses.
        unsafe { Self::of_bus((*dev.byte_sub(off).cast::<bindings::pci_dev>()).bus) }
    }
}

/// `"<name> window <i>"` into `buf`, cut to fit with its NUL (`snprintf`).
fn window_name(buf: &mut [u8; 32], name: &[u8], i: usize) {
    let digit = [b'0' + (i % 10) as u8];
    let parts: [&[u8]; 3] = [name, b" window ", &digit];
    let mut n = 0;
    for b in parts.into_iter().flatten() {
        if n + 1 >= buf.len() {
            break;
        }
        buf[n] = *b;
        n += 1;
    }
    buf[n] = 0;
}

impl Drop for Host {
    fn drop(&mut self) {
        if !self.irq_domain.is_null() {
            // SAFETY: Created by `new`; the bus is gone (invariant), so are its interrupts.
            unsafe {
                let fwnode = (*self.irq_domain).fwnode;
                bindings::irq_domain_remove(self.irq_domain);
                bindings::irq_domain_free_fwnode(fwnode);
            }
        }
        if self.domain_nr >= 0 {
            // SAFETY: Allocated by `new`, released once.
            unsafe { bindings::pci_bus_release_emul_domain_nr(self.domain_nr) };
        }
    }
}
