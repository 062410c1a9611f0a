// SPDX-License-Identifier: GPL-2.0

//! A safe NTB *client* layer: registration with the kernel's NTB core
//! (`ntb_register_client()`), probe and remove dispatched to a Rust
//! [`Client`], and [`NtbDev`], a revocable handle of a probed `struct
//! ntb_dev` with the operations of `<linux/ntb.h>` the generic NTB path
//! needs (docs/fabric-ntb-path.md).
//!
//! Most `ntb_*` functions are inline in `<linux/ntb.h>`: they are reached
//! through typed C helpers (`helpers/ntb.c`).
//!
//! # Lifetimes
//!
//! The NTB core hands a client a `struct ntb_dev` at probe and takes it back
//! at remove; after remove returns the hardware driver may free it. An
//! [`NtbDev`] may be shared (`Arc`) and outlive remove, so every operation
//! runs inside an SRCU read-side section and checks that the handle has not
//! been *revoked*; the registration revokes it at the end of remove (after
//! [`Client::remove`]): it clears the event context and every inbound
//! translation set through the handle, then waits for running operations.
//! Afterwards every operation fails with `ENODEV`.

use super::ops::{MwAlign, PeerMw};
use crate::bindings;
use crate::{coherent::CoherentBuf, io_mem::IoMem};
use core::ffi::c_void;
use kernel::{
    device::{Bound, Device},
    error::to_result,
    ffi::c_int,
    io::{Io, Mmio, Region},
    new_mutex, new_srcu, pci,
    prelude::*,
    str::CString,
    sync::{
        atomic::{Acquire, Atomic, Release},
        Arc, Mutex, Srcu,
    },
    types::Opaque,
};

/// What a client does with the NTB devices the core offers it.
pub trait Client: Send + Sync {
    /// A device to take. Returns what the client keeps for it, handed back
    /// to [`Client::remove`]. An error declines the device (`ENODEV`:
    /// silently, for the driver core), which other clients may then take.
    /// Process context; may sleep.
    fn probe(&self, dev: &Arc<NtbDev>) -> Result<KBox<dyn Send + Sync>>;

    /// The device goes away: `data` is what [`Client::probe`] returned.
    /// `dev` is revoked right after this returns. Process context.
    fn remove(&self, dev: &Arc<NtbDev>, data: KBox<dyn Send + Sync>) {
        let _ = dev;
        drop(data);
    }
}

/// Receives a device's context events (`ntb_ctx_ops`).
///
/// Called from any context, including hard IRQ, with the NTB core's
/// `ctx_lock` held and interrupts off: record and return, never sleep, never
/// call [`NtbDev::set_ctx`] or [`NtbDev::clear_ctx`].
pub trait Events: Send + Sync {
    /// The link state changed (`ntb_link_event()`).
    fn link_event(&self, dev: &NtbDev);
    /// Doorbell vector `vector` fired (`ntb_db_event()`).
    fn db_event(&self, dev: &NtbDev, vector: u32);
}

/// The event context set on a device: what the C callbacks reach.
struct Ctx {
    /// The device that owns this context (it frees the context before it
    /// goes away).
    dev: *const NtbDev,
    handler: Arc<dyn Events>,
}

/// An inbound translation set through [`NtbDev::mw_set_trans`]: the memory
/// is kept alive until the translation is cleared.
struct InboundTrans {
    pidx: u32,
    widx: u32,
    _buf: Arc<CoherentBuf>,
}

/// A probed `struct ntb_dev`.
///
/// # Invariants
///
/// - `raw` is the `struct ntb_dev` the NTB core gave [`ClientRegistration`]'s
///   probe; it is valid (registered, its parent PCI device bound to its
///   hardware driver) at least until `gone` is set, which happens only in
///   [`NtbDev::revoke`], inside the client's remove, followed by
///   `srcu.synchronize()`. Every use of `raw` happens inside an `srcu`
///   read-side section that saw `gone == false`.
/// - `ctx` holds the context whose address the NTB core has as `ntb->ctx`
///   whenever one is set; it is cleared (`ntb_clear_ctx()`) before it is
///   dropped.
/// - `inbound` lists every translation this handle set and did not clear;
///   each entry keeps its memory alive.
///
/// # Locking
///
/// `ctx` and `inbound`: mutexes (process context). The operations
/// themselves take no lock of ours; the hardware driver serializes them.
#[pin_data(PinnedDrop)]
pub struct NtbDev {
    raw: *mut bindings::ntb_dev,
    #[pin]
    srcu: Srcu,
    gone: Atomic<bool>,
    #[pin]
    ctx: Mutex<Option<KBox<Ctx>>>,
    #[pin]
    inbound: Mutex<KVec<InboundTrans>>,
}

// The rest is `Send`.
// SAFETY: `raw` is only used through the NTB API, callable from any thread.
unsafe impl Send for NtbDev {}
// The hardware driver serializes what it must.
// SAFETY: Every operation takes `&self`; the NTB API may run concurrently.
unsafe impl Sync for NtbDev {}

/// A C `int` result: the non-negative value, or the error it encodes.
fn int(ret: c_int) -> Result<u32> {
    to_result(ret)?;
    u32::try_from(ret).map_err(|_| EINVAL)
}

/// An index for C.
fn idx(i: u32) -> Result<c_int> {
    c_int::try_from(i).map_err(|_| EINVAL)
}

impl NtbDev {
    /// A handle of `raw`.
    ///
    /// # Safety
    ///
    /// `raw` must be a `struct ntb_dev` the NTB core passed to a client's
    /// probe, and [`NtbDev::revoke`] must be called before that client's
    /// remove for it returns.
    unsafe fn new(raw: *mut bindings::ntb_dev) -> Result<Arc<Self>> {
        // INVARIANT: `raw` is valid until the client's remove, which revokes
        // the handle first (safety requirement).
        Arc::pin_init(
            try_pin_init!(Self {
                raw,
                srcu <- new_srcu!("rsio_ntb_client_dev"),
                gone: Atomic::new(false),
                ctx <- new_mutex!(None, "rsio_ntb_client_ctx"),
                inbound <- new_mutex!(KVec::new(), "rsio_ntb_client_inbound"),
            }),
            GFP_KERNEL,
        )
    }

    /// Runs `f` with the device while it is not revoked (`ENODEV`
    /// otherwise). `f` may sleep unless the caller's context forbids it.
    /// `f` gets the device's raw pointer.
    fn with<R>(&self, f: impl FnOnce(*mut bindings::ntb_dev) -> R) -> Result<R> {
        let _guard = self.srcu.read_lock();
        if self.gone.load(Acquire) {
            return Err(ENODEV);
        }
        Ok(f(self.raw))
    }

    /// Revokes the handle: clears the event context and the inbound
    /// translations left, then waits for operations in progress. Every
    /// operation fails with `ENODEV` afterwards. Idempotent.
    fn revoke(&self) {
        let ctx = {
            let mut ctx = self.ctx.lock();
            if self.gone.load(Acquire) {
                return;
            }
            // New operations fail from here on; `raw` stays valid until the
            // client's remove returns, after this function (type invariant).
            self.gone.store(true, Release);
            if ctx.is_some() {
                // This waits for a running callback (the core's `ctx_lock`).
                // SAFETY: `raw` is valid (above).
                unsafe { bindings::ntb_clear_ctx(self.raw) };
            }
            // `mw_set_trans` records under this lock what it set while not
            // revoked: every translation it set is in the list now.
            let mut inbound = self.inbound.lock();
            for t in inbound.iter() {
                if let (Ok(p), Ok(w)) = (idx(t.pidx), idx(t.widx)) {
                    // SAFETY: `raw` is valid (above).
                    unsafe { bindings::rsio_helper_ntb_mw_clear_trans(self.raw, p, w) };
                }
            }
            inbound.clear();
            ctx.take()
        };
        self.srcu.synchronize();
        // No callback runs any more (`ntb_clear_ctx()` above): free it.
        drop(ctx);
    }

    /// The device's name (`dev_name(&ntb->dev)`), copied.
    pub fn name(&self) -> Result<CString> {
        self.with(|raw| {
            // The device embedded in the valid `raw`, for this closure.
            // SAFETY: `raw` is valid (`with`): its `dev` is a live `struct device` for the borrow.
            let dev: &Device = unsafe { Device::from_raw(&raw mut (*raw).dev) };
            CString::try_from_fmt(fmt!("{}", dev.name()))
        })?
    }

    /// This side's port number.
    pub fn port_number(&self) -> Result<u32> {
        int(self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_port_number(raw) }
        })?)
    }

    /// How many peers.
    pub fn peer_port_count(&self) -> Result<u32> {
        int(self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_peer_port_count(raw) }
        })?)
    }

    /// The port number of peer `pidx`.
    pub fn peer_port_number(&self, pidx: u32) -> Result<u32> {
        let pidx = idx(pidx)?;
        int(self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_peer_port_number(raw, pidx) }
        })?)
    }

    /// The peer index of port `port`.
    pub fn peer_port_idx(&self, port: u32) -> Result<u32> {
        let port = idx(port)?;
        int(self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_peer_port_idx(raw, port) }
        })?)
    }

    /// Bit `pidx`: the link to peer `pidx` is up. Any context.
    pub fn link_is_up(&self) -> Result<u64> {
        self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_link_is_up(raw) }
        })
    }

    /// Enables the link (any speed and width).
    pub fn link_enable(&self) -> Result {
        to_result(self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_link_enable(raw) }
        })?)
    }

    /// Disables the link.
    pub fn link_disable(&self) -> Result {
        to_result(self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_link_disable(raw) }
        })?)
    }

    /// Inbound memory windows for peer `pidx`.
    pub fn mw_count(&self, pidx: u32) -> Result<u32> {
        let pidx = idx(pidx)?;
        int(self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_mw_count(raw, pidx) }
        })?)
    }

    /// The limits of inbound window `widx` for peer `pidx`.
    pub fn mw_get_align(&self, pidx: u32, widx: u32) -> Result<MwAlign> {
        let (p, w) = (idx(pidx)?, idx(widx)?);
        let (mut addr_align, mut size_align, mut size_max) = (0, 0, 0);
        to_result(self.with(|raw| {
            // SAFETY: `raw` is valid (`with`); the out-pointers are locals.
            unsafe {
                bindings::rsio_helper_ntb_mw_get_align(
                    raw,
                    p,
                    w,
                    &mut addr_align,
                    &mut size_align,
                    &mut size_max,
                )
            }
        })?)?;
        Ok(MwAlign {
            addr_align,
            size_align,
            size_max,
        })
    }

    /// Points inbound window `widx` for peer `pidx` at `buf` (its first
    /// `size` bytes): the peer may then read and write that memory at any
    /// time. The handle keeps `buf` alive until [`NtbDev::mw_clear_trans`]
    /// or revocation. `EINVAL` if `size` exceeds `buf`.
    pub fn mw_set_trans(
        &self,
        pidx: u32,
        widx: u32,
        buf: &Arc<CoherentBuf>,
        size: usize,
    ) -> Result {
        if size == 0 || size > buf.len() {
            return Err(EINVAL);
        }
        let (p, w) = (idx(pidx)?, idx(widx)?);
        let mut inbound = self.inbound.lock();
        // Reserve first: once the translation is set, failing to record it
        // would leave memory reachable without an owner.
        inbound.reserve(1, GFP_KERNEL)?;
        let addr = buf.bus_addr();
        to_result(self.with(|raw| {
            // `buf` stays allocated while the translation exists: it is
            // recorded below and only dropped after the translation is
            // cleared (type invariant).
            // SAFETY: `raw` is valid (`with`), `buf` outlives the translation.
            unsafe { bindings::rsio_helper_ntb_mw_set_trans(raw, p, w, addr, size as u64) }
        })?)?;
        // A translation replaces the window's previous one.
        inbound.retain(|t| t.pidx != pidx || t.widx != widx);
        inbound.push(
            InboundTrans {
                pidx,
                widx,
                _buf: buf.clone(),
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }

    /// Clears inbound window `widx` for peer `pidx`; its memory is released
    /// (if nothing else holds it) once the hardware no longer reaches it.
    pub fn mw_clear_trans(&self, pidx: u32, widx: u32) -> Result {
        let (p, w) = (idx(pidx)?, idx(widx)?);
        let mut inbound = self.inbound.lock();
        to_result(self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_mw_clear_trans(raw, p, w) }
        })?)?;
        inbound.retain(|t| t.pidx != pidx || t.widx != widx);
        Ok(())
    }

    /// Outbound (peer) memory windows.
    pub fn peer_mw_count(&self) -> Result<u32> {
        int(self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_peer_mw_count(raw) }
        })?)
    }

    /// Where outbound window `widx` is.
    pub fn peer_mw_get_addr(&self, widx: u32) -> Result<PeerMw> {
        let w = idx(widx)?;
        let (mut base, mut size) = (0, 0);
        to_result(self.with(|raw| {
            // SAFETY: `raw` is valid (`with`); the out-pointers are locals.
            unsafe { bindings::rsio_helper_ntb_peer_mw_get_addr(raw, w, &mut base, &mut size) }
        })?)?;
        Ok(PeerMw { base, size })
    }

    /// Whether the device can retarget outbound windows
    /// (`peer_mw_set_trans`, optional in the NTB API).
    pub fn has_peer_mw_set_trans(&self) -> Result<bool> {
        self.with(|raw| {
            // SAFETY: `raw` is valid (`with`), and so is its ops table.
            unsafe { (*(*raw).ops).peer_mw_set_trans.is_some() }
        })
    }

    /// Points outbound window `widx` at peer `pidx` (translated address
    /// `addr`, `size` bytes). A no-op returning success on devices without
    /// the op.
    pub fn peer_mw_set_trans(&self, pidx: u32, widx: u32, addr: u64, size: u64) -> Result {
        let (p, w) = (idx(pidx)?, idx(widx)?);
        to_result(self.with(|raw| {
            // Outbound: no local memory is exposed.
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_peer_mw_set_trans(raw, p, w, addr, size) }
        })?)
    }

    /// Undoes [`NtbDev::peer_mw_set_trans`].
    pub fn peer_mw_clear_trans(&self, pidx: u32, widx: u32) -> Result {
        let (p, w) = (idx(pidx)?, idx(widx)?);
        to_result(self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_peer_mw_clear_trans(raw, p, w) }
        })?)
    }

    /// The doorbell bits the device has.
    pub fn db_valid_mask(&self) -> Result<u64> {
        self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_db_valid_mask(raw) }
        })
    }

    /// The local doorbell bits set. Any context.
    pub fn db_read(&self) -> Result<u64> {
        self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_db_read(raw) }
        })
    }

    /// Clears local doorbell bits. Any context.
    pub fn db_clear(&self, bits: u64) -> Result {
        to_result(self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_db_clear(raw, bits) }
        })?)
    }

    /// Masks local doorbell bits (no event for them).
    pub fn db_set_mask(&self, bits: u64) -> Result {
        to_result(self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_db_set_mask(raw, bits) }
        })?)
    }

    /// Unmasks local doorbell bits.
    pub fn db_clear_mask(&self, bits: u64) -> Result {
        to_result(self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_db_clear_mask(raw, bits) }
        })?)
    }

    /// Rings the peers' doorbell bits `bits` (which peers: the hardware's
    /// business; on rsio_ntb every peer whose link is up). Any context.
    pub fn peer_db_set(&self, bits: u64) -> Result {
        to_result(self.with(|raw| {
            // SAFETY: `raw` is valid (`with`).
            unsafe { bindings::rsio_helper_ntb_peer_db_set(raw, bits) }
        })?)
    }

    /// Sets the device's event context: `handler` gets its link and
    /// doorbell events until [`NtbDev::clear_ctx`] or revocation. `EBUSY`
    /// if one is set.
    pub fn set_ctx(&self, handler: Arc<dyn Events>) -> Result {
        let mut ctx = self.ctx.lock();
        if ctx.is_some() {
            return Err(EBUSY);
        }
        let new = KBox::new(
            Ctx {
                dev: core::ptr::from_ref(self),
                handler,
            },
            GFP_KERNEL,
        )?;
        let ptr = core::ptr::from_ref::<Ctx>(&new).cast_mut().cast::<c_void>();
        to_result(self.with(|raw| {
            // `ptr` is a `Ctx` that stays allocated until `ntb_clear_ctx()`
            // (stored in `self.ctx`, type invariant); `CTX_OPS` is static.
            // SAFETY: `raw` is valid (`with`); `ptr` outlives the context.
            unsafe { bindings::rsio_helper_ntb_set_ctx(raw, ptr, &CTX_OPS) }
        })?)?;
        *ctx = Some(new);
        Ok(())
    }

    /// Clears the event context: no event handler runs once this returns.
    /// Process context.
    pub fn clear_ctx(&self) {
        let old = {
            let mut ctx = self.ctx.lock();
            if ctx.is_none() {
                return;
            }
            // `ntb_clear_ctx()` waits for a running callback (it takes the
            // core's `ctx_lock`).
            let cleared = self.with(|raw| {
                // SAFETY: `raw` is valid (`with`).
                unsafe { bindings::ntb_clear_ctx(raw) }
            });
            if cleared.is_err() {
                // Revoked: `revoke` cleared it.
                return;
            }
            ctx.take()
        };
        drop(old);
    }

    /// Allocates `size` bytes of zeroed coherent memory the NTB's PCI
    /// device can reach.
    pub fn alloc_dma(&self, size: usize) -> Result<Arc<CoherentBuf>> {
        if size == 0 {
            return Err(EINVAL);
        }
        let mem = self.with(|raw| {
            // `raw` is registered, so `pdev` is its hardware's PCI device,
            // bound to its driver (which unregisters the ntb_dev before it
            // unbinds), for this closure, which the reference does not
            // outlive.
            // SAFETY: `raw` is valid (`with`): its `pdev->dev` is a live `struct device` for the borrow.
            let dev: &Device = unsafe { Device::from_raw(&raw mut (*(*raw).pdev).dev) };
            // SAFETY: Bound for as long as `dev` lives (above).
            let dev = unsafe { dev.as_bound() };
            CoherentBuf::alloc(dev, size)
        })??;
        Ok(Arc::new(mem, GFP_KERNEL)?)
    }

    /// Maps `len` bytes at `offset` of outbound window `widx` for CPU access
    /// (uncached: each access is one transaction through the NTB, in order).
    pub fn map_peer_mw(self: &Arc<Self>, widx: u32, offset: u64, len: usize) -> Result<PeerMwMap> {
        let mw = self.peer_mw_get_addr(widx)?;
        let end = offset.checked_add(len as u64).ok_or(EINVAL)?;
        if len == 0 || len % 4 != 0 || offset % 4 != 0 || end > mw.size {
            return Err(EINVAL);
        }
        let phys = mw.base.checked_add(offset).ok_or(EINVAL)?;
        let io = self.with(|raw| {
            // SAFETY: `raw` is valid (`with`): its `pdev` is its hardware's PCI device, bound while the handle is valid, for this closure.
            let dev: &Device = unsafe { Device::from_raw(&raw mut (*(*raw).pdev).dev) };
            // SAFETY: Bound for as long as `dev` lives (above).
            let dev = unsafe { dev.as_bound() };
            let pdev: &pci::Device<Bound> = dev.try_into()?;
            IoMem::map(pdev, phys, len)
        })??;
        // INVARIANT: 4-byte aligned: a page-aligned window plus a multiple of 4.
        Ok(PeerMwMap {
            dev: self.clone(),
            io,
            phys,
        })
    }
}

#[pinned_drop]
impl PinnedDrop for NtbDev {
    fn drop(self: Pin<&mut Self>) {
        // Normally revoked already by the registration; if not, the device
        // is still valid and this clears what is left.
        self.revoke();
    }
}

/// The `ntb_ctx_ops` of every [`NtbDev`].
static CTX_OPS: bindings::ntb_ctx_ops = bindings::ntb_ctx_ops {
    link_event: Some(link_event_cb),
    db_event: Some(db_event_cb),
    msg_event: None,
};

/// # Safety
///
/// `ctx` must be the context pointer of a set context ([`NtbDev::set_ctx`]),
/// called by the NTB core under its `ctx_lock`.
unsafe extern "C" fn link_event_cb(ctx: *mut c_void) {
    // A `Ctx` is freed only after `ntb_clear_ctx()`, which waits for this
    // callback; its `dev` owns it and outlives it.
    // SAFETY: `ctx` is a live `Ctx` (requirement).
    let ctx = unsafe { &*ctx.cast::<Ctx>() };
    // SAFETY: As above.
    let dev = unsafe { &*ctx.dev };
    ctx.handler.link_event(dev);
}

/// # Safety
///
/// As [`link_event_cb`].
unsafe extern "C" fn db_event_cb(ctx: *mut c_void, vector: c_int) {
    // SAFETY: As in `link_event_cb`.
    let ctx = unsafe { &*ctx.cast::<Ctx>() };
    // SAFETY: As in `link_event_cb`.
    let dev = unsafe { &*ctx.dev };
    if let Ok(v) = u32::try_from(vector) {
        ctx.handler.db_event(dev, v);
    }
}

/// A CPU mapping of part of an outbound window ([`NtbDev::map_peer_mw`]);
/// unmapped on drop. Accesses fail with `ENODEV` once the device is revoked.
///
/// # Invariants
///
/// `io` maps `phys..phys + io.len()`; its start and length are multiples
/// of 4.
pub struct PeerMwMap {
    dev: Arc<NtbDev>,
    io: IoMem,
    phys: u64,
}

impl PeerMwMap {
    /// The physical (bus) address of the first byte.
    pub fn phys(&self) -> u64 {
        self.phys
    }

    /// Runs `f` on the mapping while the device is valid.
    fn with_io<R>(&self, f: impl FnOnce(Mmio<'_, Region>) -> Result<R>) -> Result<R> {
        self.dev.with(|_| f(self.io.io()?))?
    }

    /// Reads the 32-bit word at `offset` (`EINVAL` out of range or
    /// misaligned).
    pub fn read32(&self, offset: usize) -> Result<u32> {
        self.with_io(|io| io.try_read32(offset))
    }

    /// Copies `data` to `offset`, in order, in 32-bit words where aligned.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result {
        self.with_io(|io| {
            let mut i = 0;
            while i < data.len() {
                let at = offset.checked_add(i).ok_or(EINVAL)?;
                match data.get(i..i + 4) {
                    Some(&[a, b, c, d]) if at % 4 == 0 => {
                        io.try_write32(u32::from_le_bytes([a, b, c, d]), at)?;
                        i += 4;
                    }
                    _ => {
                        io.try_write8(data.get(i).copied().ok_or(EINVAL)?, at)?;
                        i += 1;
                    }
                }
            }
            Ok(())
        })
    }

    /// Copies from `offset` into `buf`, in 32-bit words where aligned.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result {
        self.with_io(|io| {
            let mut i = 0;
            while i < buf.len() {
                let at = offset.checked_add(i).ok_or(EINVAL)?;
                match buf.get_mut(i..i + 4) {
                    Some(w) if at % 4 == 0 => {
                        w.copy_from_slice(&io.try_read32(at)?.to_le_bytes());
                        i += 4;
                    }
                    _ => {
                        let v = io.try_read8(at)?;
                        *buf.get_mut(i).ok_or(EINVAL)? = v;
                        i += 1;
                    }
                }
            }
            Ok(())
        })
    }
}

/// A probed device and what the client keeps for it.
struct Probed {
    raw: *mut bindings::ntb_dev,
    dev: Arc<NtbDev>,
    data: KBox<dyn Send + Sync>,
}

/// An NTB client registered with the NTB core (`ntb_register_client()`)
/// whose probe and remove go to `client`; unregistered on drop (which
/// removes every device it holds).
///
/// # Invariants
///
/// `ntb` is registered with the NTB core, with the callbacks below, from
/// the end of initialization until drop; `client` and `probed` are
/// initialized before it is.
///
/// # Locking
///
/// `probed`: a mutex; the driver core serializes probe and remove of one
/// device.
#[pin_data(PinnedDrop)]
pub struct ClientRegistration {
    client: Arc<dyn Client>,
    #[pin]
    probed: Mutex<KVec<Probed>>,
    #[pin]
    ntb: Opaque<bindings::ntb_client>,
}

// The rest is `Send` (`NtbDev` is, the data is `Send`).
// SAFETY: `Probed::raw` is only compared, never dereferenced here.
unsafe impl Send for ClientRegistration {}
// Everything else is behind a mutex or `Sync`.
// SAFETY: `ntb` is only used by the NTB core, which synchronizes callbacks.
unsafe impl Sync for ClientRegistration {}

impl ClientRegistration {
    /// Registers `client` with the NTB core as driver `name` of `module`.
    /// Devices not taken by another client are probed during this call.
    pub fn new(
        name: &'static CStr,
        module: &'static ThisModule,
        client: Arc<dyn Client>,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            client,
            probed <- new_mutex!(KVec::new(), "rsio_ntb_client_probed"),
            ntb <- Opaque::ffi_init(|slot: *mut bindings::ntb_client| {
                // Plain C data, for which all zeroes is a valid, unregistered
                // state.
                // SAFETY: `slot` is valid for writes of a `struct ntb_client`.
                unsafe {
                    slot.write_bytes(0, 1);
                    (*slot).ops.probe = Some(probe_cb);
                    (*slot).ops.remove = Some(remove_cb);
                }
            }),
            _: {
                // INVARIANT: `client` and `probed` are initialized and the
                // object is pinned; on success `drop` unregisters.
                let client = ntb.get();
                // `ntb` is filled in (above), at a pinned address that
                // outlives its registration.
                // SAFETY: `client` is a valid `struct ntb_client`.
                to_result(unsafe {
                    bindings::__ntb_register_client(client, module.as_ptr(), name.as_char_ptr())
                })?;
            },
        })
    }
}

#[pinned_drop]
impl PinnedDrop for ClientRegistration {
    fn drop(self: Pin<&mut Self>) {
        // This removes every device (our remove runs for each) first.
        // SAFETY: Registered (type invariant).
        unsafe { bindings::ntb_unregister_client(self.ntb.get()) };
    }
}

/// The [`ClientRegistration`] that embeds `client`.
///
/// # Safety
///
/// `client` must be the `ntb` field of a live, registered [`ClientRegistration`]
/// (true for the NTB core's calls of its callbacks).
unsafe fn registration<'a>(client: *mut bindings::ntb_client) -> &'a ClientRegistration {
    let field = Opaque::cast_from(client);
    // `field` points at the `ntb` field of a `ClientRegistration` (requirement).
    // SAFETY: Stepping back to its start stays in that object.
    let this = unsafe { kernel::container_of!(field, ClientRegistration, ntb) };
    // It unregisters before it goes, so it outlives the callback.
    // SAFETY: A live `ClientRegistration` (requirement).
    unsafe { &*this }
}

/// # Safety
///
/// Called by the NTB core with a registered [`ClientRegistration`]'s client and a
/// device being bound to it.
unsafe extern "C" fn probe_cb(
    client: *mut bindings::ntb_client,
    ntb: *mut bindings::ntb_dev,
) -> c_int {
    // SAFETY: The NTB core passes our registered client (requirement).
    let reg = unsafe { registration(client) };
    // `remove_cb` revokes the handle before it returns (or the failure
    // paths below, before this returns).
    // SAFETY: `ntb` is being probed.
    let dev = match unsafe { NtbDev::new(ntb) } {
        Ok(dev) => dev,
        Err(e) => return e.to_errno(),
    };
    let data = match reg.client.probe(&dev) {
        Ok(data) => data,
        Err(e) => {
            dev.revoke();
            return e.to_errno();
        }
    };
    let mut probed = reg.probed.lock();
    if let Err(e) = probed.push(
        Probed {
            raw: ntb,
            dev: dev.clone(),
            data,
        },
        GFP_KERNEL,
    ) {
        drop(probed);
        // The data is dropped with the failed push: the client's objects go
        // before the handle is revoked, as in remove.
        dev.revoke();
        return Error::from(e).to_errno();
    }
    0
}

/// # Safety
///
/// Called by the NTB core with a registered [`ClientRegistration`]'s client and a
/// device it probed successfully.
unsafe extern "C" fn remove_cb(client: *mut bindings::ntb_client, ntb: *mut bindings::ntb_dev) {
    // SAFETY: The NTB core passes our registered client (requirement).
    let reg = unsafe { registration(client) };
    let entry = {
        let mut probed = reg.probed.lock();
        match probed.iter().position(|p| p.raw == ntb) {
            Some(i) => probed.remove(i).ok(),
            None => None,
        }
    };
    if let Some(Probed { dev, data, .. }) = entry {
        reg.client.remove(&dev, data);
        dev.revoke();
    }
}
