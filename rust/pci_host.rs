// SPDX-License-Identifier: GPL-2.0

//! [`HostBridge`]: a virtual PCI host bridge, a root bus in an emulated PCI
//! domain of its own (as `drivers/pci/controller/vmd.c` makes), whose
//! config accesses, MSI messages and DMA translations its owner decides
//! through [`HostOps`].
//!
//! The kernel side (`pci_ops`, an MSI parent IRQ domain, per-device
//! `dma_map_ops`, the error-recovery sequence of `pcie_do_recovery` for one
//! function) is `helpers/pci_host.c`: the 7.3 kernel crate has none of
//! them. Interrupts of the functions below are spread over the owner's
//! vectors; [`HostBridge::fire`] runs the handlers of a vector.

use crate::{bindings, device::raw};
use core::{ffi::c_void, marker::PhantomData, ptr::NonNull};
use kernel::{
    device::{Bound, Device},
    error::to_result,
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    types::ScopeGuard,
};

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

struct Vtable<T>(PhantomData<T>);

impl<T: HostOps> Vtable<T> {
    const OPS: bindings::rsio_pci_host_ops = bindings::rsio_pci_host_ops {
        cfg_read: Some(cfg_read::<T>),
        cfg_write: Some(cfg_write::<T>),
        dma_map: Some(dma_map::<T>),
        msi_msg: Some(msi_msg::<T>),
    };
}

/// # Safety
///
/// `ctx` is the `T` of a live [`HostBridge<T>`] (the C side passes the
/// context it was created with, while the bridge exists).
unsafe fn ops<'a, T>(ctx: *mut c_void) -> &'a T {
    // SAFETY: As the caller guarantees.
    unsafe { &*ctx.cast::<T>() }
}

/// # Safety
///
/// See [`ops`]; `val` is valid for writes.
unsafe extern "C" fn cfg_read<T: HostOps>(
    ctx: *mut c_void,
    devfn: core::ffi::c_uint,
    offset: core::ffi::c_int,
    size: core::ffi::c_int,
    val: *mut u32,
) -> bool {
    // SAFETY: The C side passes our context (see `ops`).
    match unsafe { ops::<T>(ctx) }.config_read(devfn, offset as u32, size as u32) {
        Some(v) => {
            // SAFETY: `val` is valid for writes (requirement).
            unsafe { val.write(v) };
            true
        }
        None => false,
    }
}

/// # Safety
///
/// See [`ops`].
unsafe extern "C" fn cfg_write<T: HostOps>(
    ctx: *mut c_void,
    devfn: core::ffi::c_uint,
    offset: core::ffi::c_int,
    size: core::ffi::c_int,
    val: u32,
) -> bool {
    // SAFETY: The C side passes our context (see `ops`).
    unsafe { ops::<T>(ctx) }.config_write(devfn, offset as u32, size as u32, val)
}

/// # Safety
///
/// See [`ops`].
unsafe extern "C" fn dma_map<T: HostOps>(
    ctx: *mut c_void,
    phys: u64,
    size: u64,
    mmio: bool,
) -> u64 {
    // SAFETY: The C side passes our context (see `ops`).
    unsafe { ops::<T>(ctx) }
        .dma_address(phys, size, mmio)
        .unwrap_or(bindings::RSIO_PCI_HOST_NO_DMA as u64)
}

/// # Safety
///
/// See [`ops`]; `addr` and `data` are valid for writes.
unsafe extern "C" fn msi_msg<T: HostOps>(
    ctx: *mut c_void,
    vector: u32,
    addr: *mut u64,
    data: *mut u32,
) {
    // SAFETY: The C side passes our context (see `ops`).
    let (a, d) = unsafe { ops::<T>(ctx) }.msi_message(vector);
    // SAFETY: Valid for writes (requirement).
    unsafe {
        addr.write(a);
        data.write(d);
    }
}

/// A virtual host bridge with its bus; removed and freed on drop.
///
/// # Invariants
///
/// `raw` came from `rsio_helper_pci_host_create` with context `ops` (boxed:
/// its address is stable) and is freed only by `drop`; `bus` (under its
/// mutex) says whether its bus still exists: every C call that uses the bus
/// (start, recover, set_resource, remove) runs with it locked and `true`.
#[pin_data(PinnedDrop)]
pub struct HostBridge<T: HostOps> {
    raw: NonNull<bindings::rsio_pci_host>,
    ops: Pin<KBox<T>>,
    #[pin]
    bus: Mutex<bool>,
    domain: u32,
    bus_nr: u32,
}

// SAFETY: The C bridge locks its own state (raw spinlock, the PCI core's locks); `T` is `Send +
// Sync`.
unsafe impl<T: HostOps> Send for HostBridge<T> {}
// SAFETY: As above; every method takes `&self` and the bus-using ones serialize on `bus`.
unsafe impl<T: HostOps> Sync for HostBridge<T> {}

impl<T: HostOps> HostBridge<T> {
    /// Creates the bridge below `parent` and scans its bus; no driver binds
    /// before [`HostBridge::start`]. `ENODEV` if no function answered.
    pub fn create(
        parent: &Device<Bound>,
        ops: impl PinInit<T, Error>,
        p: &HostParams<'_>,
    ) -> Result<Arc<Self>> {
        let n = p.vectors.len();
        if n == 0 || n > bindings::RSIO_PCI_HOST_MAX_VECTORS as usize || p.windows.len() > 6 {
            return Err(EINVAL);
        }
        let ops = KBox::pin_init(ops, GFP_KERNEL)?;
        let mut params = bindings::rsio_pci_host_params {
            parent: raw(parent),
            ops: &Vtable::<T>::OPS,
            ctx: core::ptr::from_ref::<T>(&ops).cast_mut().cast(),
            dma_limit: p.dma_limit,
            nr_vectors: n as u32,
            name: p.name.as_char_ptr(),
            ..Default::default()
        };
        params.vectors[..n].copy_from_slice(p.vectors);
        for (w, win) in params.win.iter_mut().zip(p.windows) {
            (w.start, w.size) = (win.start, win.size);
        }
        let (mut h, mut domain, mut busnr) = (core::ptr::null_mut(), 0, 0);
        // SAFETY: `params` is valid for the call; `parent` is bound; the context (`ops`, boxed) outlives the bridge (invariant); the out pointers are valid.
        to_result(unsafe {
            bindings::rsio_helper_pci_host_create(&params, &mut h, &mut domain, &mut busnr)
        })?;
        let raw = NonNull::new(h).ok_or(ENOMEM)?;
        let guard = ScopeGuard::new_with_data(raw, |r: NonNull<bindings::rsio_pci_host>| {
            // SAFETY: Created just now and not handed out: remove its bus and free it.
            unsafe {
                bindings::rsio_helper_pci_host_remove(r.as_ptr());
                bindings::rsio_helper_pci_host_free(r.as_ptr());
            }
        });
        // INVARIANT: created just now with context `ops`; the bus exists.
        let this = Arc::pin_init(
            try_pin_init!(Self {
                raw,
                ops,
                bus <- new_mutex!(true, "rsio_pci_host"),
                domain,
                bus_nr: busnr,
            }),
            GFP_KERNEL,
        )?;
        guard.dismiss();
        Ok(this)
    }

    /// The PCI domain and bus number of its bus.
    pub fn location(&self) -> (u32, u32) {
        (self.domain, self.bus_nr)
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
        // SAFETY: `raw` is live and its bus exists (invariant, `bus` locked).
        to_result(unsafe {
            bindings::rsio_helper_pci_host_set_resource(
                self.raw.as_ptr(),
                devfn,
                bar as i32,
                start,
                size,
            )
        })
    }

    /// Adds the functions to the driver core: their drivers probe now.
    /// Route the vectors to [`HostBridge::fire`] first: a driver may wait
    /// for an interrupt in a synchronous probe.
    pub fn start(&self) {
        let bus = self.bus.lock();
        if *bus {
            // SAFETY: `raw` is live and its bus exists (invariant, `bus` locked).
            unsafe { bindings::rsio_helper_pci_host_start(self.raw.as_ptr()) };
        }
    }

    /// Vector `vector` was raised: runs its interrupts' handlers. Any
    /// context.
    pub fn fire(&self, vector: u32) {
        // SAFETY: `raw` is live (invariant); firing does not use the bus.
        unsafe { bindings::rsio_helper_pci_host_fire(self.raw.as_ptr(), vector) };
    }

    /// The link to the functions is gone for good: the PCI core stops
    /// waiting for them, recovery stops short of resets.
    pub fn set_disconnected(&self) {
        // SAFETY: `raw` is live (invariant); the C side looks the bus up under the PCI core's rescan lock.
        unsafe { bindings::rsio_helper_pci_host_set_disconnected(self.raw.as_ptr()) };
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
        let arg: *const &dyn Fn() -> bool = &wait_answer;
        // SAFETY: `raw` is live and its bus exists (invariant, `bus` locked); `arg` outlives the call.
        let r = unsafe {
            bindings::rsio_helper_pci_host_recover(
                self.raw.as_ptr(),
                Some(wait_trampoline),
                arg.cast_mut().cast(),
            )
        };
        match r as u32 {
            bindings::RSIO_PCI_HOST_RECOVERED => Recovery::Recovered,
            bindings::RSIO_PCI_HOST_UNBOUND => Recovery::Unbound,
            bindings::RSIO_PCI_HOST_RECOVERY_FAILED => Recovery::Failed,
            _ => Recovery::NoDriver,
        }
    }

    /// Unbinds the drivers and removes the bus (once; interrupts may still
    /// be raised, and are dropped).
    pub fn remove(&self) {
        let mut bus = self.bus.lock();
        if *bus {
            *bus = false;
            // SAFETY: `raw` is live and its bus exists (invariant, `bus` locked); marked gone above.
            unsafe { bindings::rsio_helper_pci_host_remove(self.raw.as_ptr()) };
        }
    }
}

/// # Safety
///
/// `arg` is the `&&dyn Fn() -> bool` [`HostBridge::recover`] passes.
unsafe extern "C" fn wait_trampoline(arg: *mut c_void) -> bool {
    // SAFETY: As the caller guarantees.
    let f = unsafe { &*arg.cast::<&dyn Fn() -> bool>() };
    f()
}

#[pinned_drop]
impl<T: HostOps> PinnedDrop for HostBridge<T> {
    fn drop(self: Pin<&mut Self>) {
        self.remove();
        // SAFETY: Created by `create`, freed once; its bus is removed above and nothing fires after the owner dropped its hooks.
        unsafe { bindings::rsio_helper_pci_host_free(self.raw.as_ptr()) };
    }
}
