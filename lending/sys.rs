// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers of the C helpers (helpers.h): the stub PCI driver, a
//! claimed function, and the caller's credentials. Nothing else calls
//! `bindings`.

use crate::bindings;
use kernel::error::to_result;
use kernel::prelude::*;

/// A claimed function's identity and BARs.
pub(crate) type Info = bindings::rsio_lend_info;

/// The stub driver `rsio_lend`, registered while this lives.
pub(crate) struct StubDriver(());

impl StubDriver {
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: Registers a static driver; unregistered once, on drop.
        to_result(unsafe { bindings::rsio_lend_driver_register() })?;
        Ok(Self(()))
    }
}

impl Drop for StubDriver {
    fn drop(&mut self) {
        // SAFETY: Registered by `register` (the only constructor), not yet unregistered.
        unsafe { bindings::rsio_lend_driver_unregister() };
    }
}

/// A function bound to the stub driver, with a reference; given back to
/// its native driver on drop.
///
/// # Invariants
///
/// `pdev` came from a successful `rsio_lend_claim` and is released only by
/// `drop`.
pub(crate) struct Claimed {
    pdev: *mut kernel::bindings::pci_dev,
}

// SAFETY: A reference on a `pci_dev`, which the PCI core lets any thread use and drop.
unsafe impl Send for Claimed {}
// SAFETY: `&Claimed` gives no access to the device.
unsafe impl Sync for Claimed {}

impl Claimed {
    /// Claims `domain:bus:devfn` for the stub driver (see helpers.h for
    /// the errors).
    pub(crate) fn claim(domain: u32, bus: u32, devfn: u32) -> Result<(Self, Info)> {
        let mut pdev = core::ptr::null_mut();
        let mut info = Info::default();
        // SAFETY: The out pointers are valid; the numbers are checked by the helper.
        to_result(unsafe { bindings::rsio_lend_claim(domain, bus, devfn, &mut pdev, &mut info) })?;
        // INVARIANT: claimed just now.
        Ok((Self { pdev }, info))
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `pdev` is a claimed function, released only here.
        unsafe { bindings::rsio_lend_release(self.pdev) };
    }
}

/// Whether `pdev` is in use on this node (helpers.h): the reason, if so.
fn in_use(pdev: *mut kernel::bindings::pci_dev) -> Option<KVec<u8>> {
    let mut why = KVec::from_elem(0u8, 96, GFP_KERNEL).ok()?;
    // SAFETY: The caller passes a device it holds a reference on; `why` is a writable buffer of its length.
    let used = unsafe { bindings::rsio_lend_in_use(pdev, why.as_mut_ptr().cast(), why.len()) } != 0;
    if !used {
        return None;
    }
    let n = why.iter().position(|&c| c == 0).unwrap_or(why.len());
    why.truncate(n);
    Some(why)
}

/// Whether the function `domain:bus:devfn` is in use on this node: the
/// reason if so (`Err(ENODEV)`: no such function).
pub(crate) fn function_in_use(domain: u32, bus: u32, devfn: u32) -> Result<Option<KVec<u8>>> {
    if domain > 0xffff || bus > 0xff || devfn > 0xff {
        return Err(EINVAL);
    }
    // SAFETY: Plain numbers; the helper returns a referenced device or null.
    let pdev = unsafe { bindings::rsio_lend_get(domain, bus, devfn) };
    if pdev.is_null() {
        return Err(ENODEV);
    }
    let r = in_use(pdev);
    // SAFETY: `pdev` was returned referenced by `rsio_lend_get` just above.
    unsafe { bindings::rsio_lend_put(pdev) };
    Ok(r)
}

impl Claimed {
    /// The bus address of the function's 4 KiB of ECAM (0: none).
    pub(crate) fn ecam(&self) -> u64 {
        // SAFETY: By the type invariant `pdev` is a claimed function we hold a reference on.
        unsafe { bindings::rsio_lend_ecam(self.pdev) }
    }

    /// Stops what a borrower left running: decoding and bus mastering
    /// off, function reset.
    pub(crate) fn quiesce(&self) {
        // SAFETY: By the type invariant `pdev` is a claimed function we hold a reference on.
        unsafe { bindings::rsio_lend_quiesce(self.pdev) };
    }
}

/// What the lender's IOMMU can do for a function.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Isolation {
    /// No IOMMU translates its DMA.
    None,
    /// Its IOMMU group holds other devices: no domain of its own.
    Shared,
    /// It can be confined to a domain of its own.
    Own,
}

impl Claimed {
    pub(crate) fn isolation(&self) -> Isolation {
        // SAFETY: By the type invariant `pdev` is a claimed function we hold a reference on.
        match unsafe { bindings::rsio_lend_isolation(self.pdev) } as u32 {
            bindings::RSIO_LEND_ISOLATION_OWN => Isolation::Own,
            bindings::RSIO_LEND_ISOLATION_SHARED => Isolation::Shared,
            _ => Isolation::None,
        }
    }

    /// Confines the function's DMA to `ranges` (bus address, length;
    /// page-aligned), mapped one to one in an IOMMU domain of its own
    /// (helpers.h for the errors). Stop the function before dropping the
    /// result: it is then back in its default domain.
    pub(crate) fn confine(&self, ranges: &[(u64, u64)]) -> Result<Confined> {
        let mut r = KVec::with_capacity(ranges.len(), GFP_KERNEL)?;
        for &(start, len) in ranges {
            r.push(bindings::rsio_lend_range { start, len }, GFP_KERNEL)?;
        }
        let n = u32::try_from(r.len()).map_err(|_| EINVAL)?;
        let mut dom = core::ptr::null_mut();
        // SAFETY: `pdev` is claimed (type invariant); `r` holds `n` ranges; `dom` is a valid out pointer.
        to_result(unsafe { bindings::rsio_lend_confine(self.pdev, r.as_ptr(), n, &mut dom) })?;
        // INVARIANT: confined just now; the helper took a reference on `pdev`.
        Ok(Confined {
            pdev: self.pdev,
            dom,
        })
    }
}

/// A function whose DMA reaches only what its IOMMU domain maps.
///
/// # Invariants
///
/// `dom` came from a successful `rsio_lend_confine` of `pdev` (which holds
/// a reference on `pdev`) and is undone only by `drop`.
pub(crate) struct Confined {
    pdev: *mut kernel::bindings::pci_dev,
    dom: *mut kernel::bindings::iommu_domain,
}

// SAFETY: The IOMMU API may detach and free a domain from any thread that may sleep.
unsafe impl Send for Confined {}
// SAFETY: `&Confined` gives no access to anything.
unsafe impl Sync for Confined {}

impl Confined {
    /// Admits `[start, start + len)` too (page-aligned, one to one).
    pub(crate) fn map(&self, start: u64, len: u64) -> Result {
        // SAFETY: By the type invariant `dom` is a live domain of ours.
        to_result(unsafe { bindings::rsio_lend_confine_map(self.dom, start, len) })
    }

    /// Takes a range of [`Confined::map`] away again.
    pub(crate) fn unmap(&self, start: u64, len: u64) {
        // SAFETY: By the type invariant `dom` is a live domain of ours.
        unsafe { bindings::rsio_lend_confine_unmap(self.dom, start, len) };
    }
}

impl Drop for Confined {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `dom` is `pdev`'s confinement, undone only here.
        unsafe { bindings::rsio_lend_unconfine(self.pdev, self.dom) };
    }
}

/// Peer-to-peer paths a bridge holds at most.
pub(crate) const BRIDGE_MAX_P2P: usize = bindings::RSIO_BRIDGE_MAX_P2P as usize;

/// What [`Bridge::create`] needs (bridge.h).
pub(crate) type BridgeParams = bindings::rsio_bridge_params;

/// The borrower's virtual host bridge with its one function (bridge.h).
///
/// # Invariants
///
/// `b` came from a successful `rsio_bridge_create` and is freed only by
/// `drop`; `removed` says whether `rsio_bridge_remove` ran.
pub(crate) struct Bridge {
    b: *mut bindings::rsio_bridge,
    removed: bool,
}

// SAFETY: The bridge's C functions may be called from any thread; its mutable state is under its own locks.
unsafe impl Send for Bridge {}
// SAFETY: `&Bridge` only marks it dead and hands out its pointer for hooks, both safe from any thread.
unsafe impl Sync for Bridge {}

impl Bridge {
    /// Creates the bridge and scans it (no driver binds before
    /// [`Bridge::start`]): returns it and where the function appeared
    /// (domain, bus, devfn).
    pub(crate) fn create(
        parent: &kernel::device::Device<kernel::device::Bound>,
        p: &mut BridgeParams,
    ) -> Result<(Self, u32, u32, u32)> {
        // CAST: `Device` is `repr(transparent)` over `Opaque<bindings::device>`: the same address.
        p.parent = core::ptr::from_ref(parent).cast_mut().cast();
        let mut b = core::ptr::null_mut();
        let (mut domain, mut bus, mut devfn) = (0, 0, 0);
        // SAFETY: `p` and the out pointers are valid for the call; `p.parent` is the adapter's live device.
        to_result(unsafe {
            bindings::rsio_bridge_create(p, &mut b, &mut domain, &mut bus, &mut devfn)
        })?;
        // INVARIANT: created just now, not removed.
        Ok((Self { b, removed: false }, domain, bus, devfn))
    }

    /// Lets the function's driver bind (it probes now, in this thread).
    pub(crate) fn start(&self) {
        // SAFETY: By the type invariant `b` is a live bridge.
        unsafe { bindings::rsio_bridge_start(self.b) };
    }

    /// The raw pointer, for [`BridgeFire`].
    pub(crate) fn fire_handle(&self) -> BridgeFire {
        BridgeFire(self.b)
    }

    /// The lender is gone: config space reads all-ones from now on.
    pub(crate) fn set_dead(&self) {
        // SAFETY: By the type invariant `b` is a live bridge.
        unsafe { bindings::rsio_bridge_set_dead(self.b) };
    }

    /// Whether the borrowed function is in use on this node: the reason,
    /// if so.
    pub(crate) fn in_use(&self) -> Option<KVec<u8>> {
        // SAFETY: By the type invariant `b` is a live bridge.
        let pdev = unsafe { bindings::rsio_bridge_get_dev(self.b) };
        if pdev.is_null() {
            return None;
        }
        let r = in_use(pdev);
        // SAFETY: `pdev` was returned referenced by `rsio_bridge_get_dev` just above.
        unsafe { bindings::rsio_lend_put(pdev) };
        r
    }

    /// Peer-to-peer: `DMA_ATTR_MMIO` mappings of `[phys, phys + size)`
    /// get device address `dev_addr + offset` (bridge.h for the errors).
    pub(crate) fn p2p_add(&self, phys: u64, size: u64, dev_addr: u64) -> Result {
        // SAFETY: By the type invariant `b` is a live bridge.
        to_result(unsafe { bindings::rsio_bridge_p2p_add(self.b, phys, size, dev_addr) })
    }

    /// Takes the path at `phys` away (nothing if there is none).
    pub(crate) fn p2p_del(&self, phys: u64) {
        // SAFETY: By the type invariant `b` is a live bridge.
        unsafe { bindings::rsio_bridge_p2p_del(self.b, phys) };
    }

    /// Unbinds the driver and removes the bus (once).
    pub(crate) fn remove(&mut self) {
        if !self.removed {
            self.removed = true;
            // SAFETY: By the type invariant `b` is a live bridge whose bus was not removed yet.
            unsafe { bindings::rsio_bridge_remove(self.b) };
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.remove();
        // SAFETY: By the type invariant `b` is live and freed only here; its bus is removed above.
        unsafe { bindings::rsio_bridge_free(self.b) };
    }
}

/// The adapter failed a read at bus address `addr` of its translated
/// window (`what`: the error): the borrowed function behind it, if any,
/// goes through PCI error recovery (bridge.h). Any context.
pub(crate) fn fabric_read_failed(addr: u64, what: &'static CStr) -> bool {
    // SAFETY: Plain values and a static C string; the helper looks the address up under its own lock.
    unsafe { bindings::rsio_bridge_fabric_error(addr, what.as_char_ptr()) }
}

/// A bridge's pointer as an interrupt hook holds it.
///
/// # Invariants
///
/// Used only while the [`Bridge`] it came from is alive: its owner drops
/// every hook holding it (and waits for running ones) before the bridge.
#[derive(Clone, Copy)]
pub(crate) struct BridgeFire(*mut bindings::rsio_bridge);

// SAFETY: See `Bridge`.
unsafe impl Send for BridgeFire {}
// SAFETY: See `Bridge`.
unsafe impl Sync for BridgeFire {}

impl BridgeFire {
    /// The pointer as an address, to keep in an atomic.
    pub(crate) fn addr(&self) -> usize {
        self.0.expose_provenance()
    }

    /// The `BridgeFire` whose [`BridgeFire::addr`] `a` is.
    ///
    /// # Safety
    ///
    /// `a` came from `addr` of a `BridgeFire` whose bridge is still alive,
    /// and the result is used only while it is.
    pub(crate) unsafe fn from_addr(a: usize) -> Self {
        Self(core::ptr::with_exposed_provenance_mut(a))
    }

    /// Remote interrupt `vector` arrived: runs its handlers.
    pub(crate) fn fire(&self, vector: u32) {
        // SAFETY: By the type invariant the bridge is alive.
        unsafe { bindings::rsio_bridge_fire(self.0, vector) };
    }
}
