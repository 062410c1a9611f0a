// SPDX-License-Identifier: GPL-2.0

//! Registration of an NTB device with the kernel's NTB core, and the C
//! callbacks of `struct ntb_dev_ops` that dispatch to [`NtbOps`].
//!
//! This is the only file that fills in a `struct ntb_dev`. [`HwRegistration`]
//! embeds it (pinned), so a callback recovers the Rust object from the pointer the NTB
//! core passes with `container_of!`.

use super::ops::{NtbOps, Speed, Topology, Width};
use crate::bindings;
use core::marker::PhantomData;
use kernel::{
    bindings::{dma_addr_t, phys_addr_t, resource_size_t},
    device::Bound,
    error::to_result,
    ffi::c_int,
    pci,
    prelude::*,
    types::Opaque,
};

/// An NTB device registered with the NTB core, whose operations are `T`.
///
/// # Invariants
///
/// - `ntb` is registered with the NTB core (`ntb_register_device()`
///   succeeded), with `ops` pointing to [`Vtable::<T>::OPS`] and `pdev` to a
///   PCI device that stays bound while `self` lives; it is unregistered only
///   by `drop`.
/// - `ntb` is a field of an `HwRegistration<T>` at a pinned address, and `hw` is
///   initialized whenever `ntb` is registered: the callbacks below may turn
///   the `ntb_dev` pointer they get into `&T`.
#[pin_data(PinnedDrop)]
pub struct HwRegistration<T: NtbOps> {
    #[pin]
    ntb: Opaque<bindings::ntb_dev>,
    #[pin]
    hw: T,
}

// SAFETY: The Rust side only reads `ntb` through the NTB core's API, which takes its own locks
// (`ctx_lock`, the device core's); `T` is `Send`.
unsafe impl<T: NtbOps> Send for HwRegistration<T> {}
// SAFETY: As above; `T` is `Sync` and every operation takes `&T`.
unsafe impl<T: NtbOps> Sync for HwRegistration<T> {}

impl<T: NtbOps> HwRegistration<T> {
    /// Initializes the hardware operations `hw`, then registers an NTB device
    /// for `pdev` with topology `topo`. NTB clients may start calling `hw`
    /// before this returns.
    pub fn register<'a>(
        pdev: &'a pci::Device<Bound>,
        topo: Topology,
        hw: impl PinInit<T, Error> + 'a,
    ) -> impl PinInit<Self, Error> + 'a
    where
        T: 'a,
    {
        try_pin_init!(Self {
            hw <- hw,
            ntb <- Opaque::ffi_init(|slot: *mut bindings::ntb_dev| {
                // SAFETY: `slot` is valid for writes of a `struct ntb_dev` (`ffi_init`), which is plain C data: all zeroes is its unregistered state, as `ntb_register_device()` expects.
                unsafe {
                    slot.write_bytes(0, 1);
                    (*slot).pdev = crate::pci::raw(pdev);
                    (*slot).topo = topo.as_raw();
                    (*slot).ops = &Vtable::<T>::OPS;
                }
            }),
            _: {
                // The core rejects an incomplete table with a bare -EINVAL;
                // say which check failed. `Vtable::OPS` is complete by
                // construction (its compile-time checks), so this only fires
                // if the core's rules change.
                //
                // SAFETY: `Vtable::<T>::OPS` is a valid, 'static ops table.
                if !unsafe { bindings::rsio_helper_ntb_ops_is_valid(&Vtable::<T>::OPS) } {
                    dev_err!(pdev, "NTB ops table rejected by ntb_dev_ops_is_valid()\n");
                    return Err(EINVAL);
                }
                // INVARIANT: `hw` is initialized, `ntb` is filled in and will
                // not move (pinned); on success it is registered with our
                // vtable, and `drop` unregisters it. On failure the core
                // already released it (`put_device()`), nothing to undo.
                //
                // SAFETY: `ntb.get()` is a valid, zeroed-then-filled `struct ntb_dev` that outlives its registration (above).
                to_result(unsafe { bindings::ntb_register_device(ntb.get()) })?;
            },
        })
    }

    /// The hardware operations.
    pub fn hw(&self) -> &T {
        &self.hw
    }

    /// Tells the NTB client that the link state changed.
    pub fn link_event(&self) {
        // SAFETY: `ntb` is registered (type invariant).
        unsafe { bindings::ntb_link_event(self.ntb.get()) };
    }

    /// Tells the NTB client that doorbell vector `vector` fired.
    pub fn db_event(&self, vector: u32) {
        let Ok(vector) = c_int::try_from(vector) else {
            return;
        };
        // SAFETY: `ntb` is registered (type invariant).
        unsafe { bindings::ntb_db_event(self.ntb.get(), vector) };
    }

    /// Tells the NTB client that a message arrived or a send failed.
    pub fn msg_event(&self) {
        // SAFETY: `ntb` is registered (type invariant).
        unsafe { bindings::ntb_msg_event(self.ntb.get()) };
    }
}

#[pinned_drop]
impl<T: NtbOps> PinnedDrop for HwRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `ntb` is registered (type invariant). This waits until the device is released: no client or callback uses it afterwards, so `hw` and `ntb` may go away with `self`.
        unsafe { bindings::ntb_unregister_device(self.ntb.get()) };
    }
}

/// The `struct ntb_dev_ops` of `T`.
struct Vtable<T>(PhantomData<T>);

impl<T: NtbOps> Vtable<T> {
    const OPS: bindings::ntb_dev_ops = {
        // The groups the NTB core requires all or none of
        // (`ntb_dev_ops_is_valid()`), checked at compile time.
        assert!(
            T::HAS_PORT_NUMBER == T::HAS_PEER_PORT_COUNT
                && T::HAS_PORT_NUMBER == T::HAS_PEER_PORT_NUMBER
                && T::HAS_PORT_NUMBER == T::HAS_PEER_PORT_IDX,
            "NtbOps: implement all port methods or none"
        );
        assert!(
            T::HAS_PEER_MW_SET_TRANS == T::HAS_PEER_MW_CLEAR_TRANS,
            "NtbOps: implement peer_mw_set_trans and peer_mw_clear_trans, or neither"
        );
        assert!(
            T::HAS_DB_VECTOR_COUNT == T::HAS_DB_VECTOR_MASK,
            "NtbOps: implement db_vector_count and db_vector_mask, or neither"
        );
        assert!(
            T::HAS_SPAD_COUNT == T::HAS_SPAD_READ
                && T::HAS_SPAD_COUNT == T::HAS_SPAD_WRITE
                && T::HAS_SPAD_COUNT == T::HAS_PEER_SPAD_WRITE
                && (T::HAS_SPAD_COUNT || !T::HAS_PEER_SPAD_READ),
            "NtbOps: implement the scratchpad methods all or none"
        );
        assert!(
            T::HAS_MSG_COUNT == T::HAS_MSG_INBITS
                && T::HAS_MSG_COUNT == T::HAS_MSG_OUTBITS
                && T::HAS_MSG_COUNT == T::HAS_MSG_READ_STS
                && T::HAS_MSG_COUNT == T::HAS_MSG_CLEAR_STS
                && T::HAS_MSG_COUNT == T::HAS_MSG_READ
                && T::HAS_MSG_COUNT == T::HAS_PEER_MSG_WRITE
                && (T::HAS_MSG_COUNT || !(T::HAS_MSG_SET_MASK || T::HAS_MSG_CLEAR_MASK)),
            "NtbOps: implement the message methods all or none"
        );
        bindings::ntb_dev_ops {
            port_number: opt(T::HAS_PORT_NUMBER, port_number::<T>),
            peer_port_count: opt(T::HAS_PEER_PORT_COUNT, peer_port_count::<T>),
            peer_port_number: opt(T::HAS_PEER_PORT_NUMBER, peer_port_number::<T>),
            peer_port_idx: opt(T::HAS_PEER_PORT_IDX, peer_port_idx::<T>),
            link_is_up: Some(link_is_up::<T>),
            link_enable: Some(link_enable::<T>),
            link_disable: Some(link_disable::<T>),
            mw_count: Some(mw_count::<T>),
            mw_get_align: Some(mw_get_align::<T>),
            mw_set_trans: Some(mw_set_trans::<T>),
            mw_clear_trans: Some(mw_clear_trans::<T>),
            peer_mw_count: Some(peer_mw_count::<T>),
            peer_mw_get_addr: Some(peer_mw_get_addr::<T>),
            peer_mw_set_trans: opt(T::HAS_PEER_MW_SET_TRANS, peer_mw_set_trans::<T>),
            peer_mw_clear_trans: opt(T::HAS_PEER_MW_CLEAR_TRANS, peer_mw_clear_trans::<T>),
            db_valid_mask: Some(db_valid_mask::<T>),
            db_vector_count: opt(T::HAS_DB_VECTOR_COUNT, db_vector_count::<T>),
            db_vector_mask: opt(T::HAS_DB_VECTOR_MASK, db_vector_mask::<T>),
            db_read: Some(db_read::<T>),
            db_clear: Some(db_clear::<T>),
            db_set_mask: Some(db_set_mask::<T>),
            db_clear_mask: Some(db_clear_mask::<T>),
            peer_db_addr: opt(T::HAS_PEER_DB_ADDR, peer_db_addr::<T>),
            peer_db_set: Some(peer_db_set::<T>),
            spad_count: opt(T::HAS_SPAD_COUNT, spad_count::<T>),
            spad_read: opt(T::HAS_SPAD_READ, spad_read::<T>),
            spad_write: opt(T::HAS_SPAD_WRITE, spad_write::<T>),
            peer_spad_read: opt(T::HAS_PEER_SPAD_READ, peer_spad_read::<T>),
            peer_spad_write: opt(T::HAS_PEER_SPAD_WRITE, peer_spad_write::<T>),
            msg_count: opt(T::HAS_MSG_COUNT, msg_count::<T>),
            msg_inbits: opt(T::HAS_MSG_INBITS, msg_inbits::<T>),
            msg_outbits: opt(T::HAS_MSG_OUTBITS, msg_outbits::<T>),
            msg_read_sts: opt(T::HAS_MSG_READ_STS, msg_read_sts::<T>),
            msg_clear_sts: opt(T::HAS_MSG_CLEAR_STS, msg_clear_sts::<T>),
            msg_set_mask: opt(T::HAS_MSG_SET_MASK, msg_set_mask::<T>),
            msg_clear_mask: opt(T::HAS_MSG_CLEAR_MASK, msg_clear_mask::<T>),
            msg_read: opt(T::HAS_MSG_READ, msg_read::<T>),
            peer_msg_write: opt(T::HAS_PEER_MSG_WRITE, peer_msg_write::<T>),
            // Not offered: `db_is_unsafe`, `db_set`, `db_read_mask`, the
            // `peer_db_*` variants other than
            // `peer_db_set`/`peer_db_addr`, `spad_is_unsafe`,
            // `peer_spad_addr`, `get_dma_dev`; all optional in the core.
            //
            // SAFETY: Every remaining field is an `Option` of a function pointer, for which all zeroes is `None`.
            ..unsafe { core::mem::zeroed() }
        }
    };
}

/// `Some(f)` if `T` implements the method (`has`), else `None`.
const fn opt<F>(has: bool, f: F) -> Option<F> {
    if has {
        Some(f)
    } else {
        // `f` is a function item or pointer: forgetting it is a no-op.
        core::mem::forget(f);
        None
    }
}

/// The operations of the `HwRegistration<T>` that embeds `ntb`.
///
/// # Safety
///
/// `ntb` must be the `ntb` field of a live `HwRegistration<T>` that is registered;
/// the NTB core only calls a device's ops while it is registered, with that
/// device's pointer.
unsafe fn hw<'a, T: NtbOps>(ntb: *mut bindings::ntb_dev) -> &'a T {
    let field = Opaque::cast_from(ntb);
    // SAFETY: By the safety requirements `field` points at the `ntb` field of an `HwRegistration<T>`, so stepping back to its start stays in that object.
    let this = unsafe { kernel::container_of!(field, HwRegistration<T>, ntb) };
    // SAFETY: `this` is a live `HwRegistration<T>` whose `hw` is initialized while it is registered (type invariant); it outlives the callback.
    unsafe { &(*this).hw }
}

/// `0` or the negative errno of `r`.
fn status(r: Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `n`, or the negative errno of `r`; counts beyond `c_int` are `-ERANGE`.
fn count_or_err(r: Result<u32>) -> c_int {
    match r.and_then(|n| c_int::try_from(n).map_err(|_| ERANGE)) {
        Ok(n) => n,
        Err(e) => e.to_errno(),
    }
}

/// A count for a callback that cannot fail, saturated to `c_int`.
fn count(n: u32) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

/// An index from the NTB core: negative ones are invalid.
fn index(i: c_int) -> Result<u32> {
    u32::try_from(i).map_err(|_| EINVAL)
}

/// Writes `val` to `out` unless it is NULL.
///
/// # Safety
///
/// `out` must be NULL or valid for writes of a `V`.
unsafe fn put<V>(out: *mut V, val: V) {
    if !out.is_null() {
        // SAFETY: `out` is non-NULL, hence valid for writes (requirement).
        unsafe { out.write(val) };
    }
}

// The callbacks. Each one's safety requirement is that of `hw`: `ntb` is the
// `struct ntb_dev` of a registered `HwRegistration<T>`, which the NTB core
// guarantees; pointer arguments are NULL or valid for writes, as the
// ntb_dev_ops contract (`<linux/ntb.h>`) says.

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn port_number<T: NtbOps>(ntb: *mut bindings::ntb_dev) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    count(unsafe { hw::<T>(ntb) }.port_number())
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn peer_port_count<T: NtbOps>(ntb: *mut bindings::ntb_dev) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    count(unsafe { hw::<T>(ntb) }.peer_port_count())
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn peer_port_number<T: NtbOps>(
    ntb: *mut bindings::ntb_dev,
    pidx: c_int,
) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    count_or_err(index(pidx).and_then(|p| hw.peer_port_number(p)))
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn peer_port_idx<T: NtbOps>(ntb: *mut bindings::ntb_dev, port: c_int) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    count_or_err(index(port).and_then(|p| hw.peer_port_idx(p)))
}

/// # Safety
///
/// See [`hw`]; `speed` and `width` are NULL or valid for writes.
unsafe extern "C" fn link_is_up<T: NtbOps>(
    ntb: *mut bindings::ntb_dev,
    speed: *mut bindings::ntb_speed,
    width: *mut bindings::ntb_width,
) -> u64 {
    // SAFETY: The NTB core passes a registered device (see above).
    let state = unsafe { hw::<T>(ntb) }.link_is_up();
    // SAFETY: `speed` and `width` are NULL or valid for writes (contract).
    unsafe {
        put(speed, state.speed.0);
        put(width, state.width.0);
    }
    state.peers_up
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn link_enable<T: NtbOps>(
    ntb: *mut bindings::ntb_dev,
    max_speed: bindings::ntb_speed,
    max_width: bindings::ntb_width,
) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    status(unsafe { hw::<T>(ntb) }.link_enable(Speed(max_speed), Width(max_width)))
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn link_disable<T: NtbOps>(ntb: *mut bindings::ntb_dev) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    status(unsafe { hw::<T>(ntb) }.link_disable())
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn mw_count<T: NtbOps>(ntb: *mut bindings::ntb_dev, pidx: c_int) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    count_or_err(index(pidx).and_then(|p| hw.mw_count(p)))
}

/// # Safety
///
/// See [`hw`]; the three out-pointers are NULL or valid for writes.
unsafe extern "C" fn mw_get_align<T: NtbOps>(
    ntb: *mut bindings::ntb_dev,
    pidx: c_int,
    widx: c_int,
    addr_align: *mut resource_size_t,
    size_align: *mut resource_size_t,
    size_max: *mut resource_size_t,
) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    match index(pidx).and_then(|p| hw.mw_get_align(p, index(widx)?)) {
        Ok(a) => {
            // SAFETY: Each pointer is NULL or valid for writes (contract).
            unsafe {
                put(addr_align, a.addr_align);
                put(size_align, a.size_align);
                put(size_max, a.size_max);
            }
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn mw_set_trans<T: NtbOps>(
    ntb: *mut bindings::ntb_dev,
    pidx: c_int,
    widx: c_int,
    addr: dma_addr_t,
    size: resource_size_t,
) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    status(index(pidx).and_then(|p| hw.mw_set_trans(p, index(widx)?, addr, size)))
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn mw_clear_trans<T: NtbOps>(
    ntb: *mut bindings::ntb_dev,
    pidx: c_int,
    widx: c_int,
) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    status(index(pidx).and_then(|p| hw.mw_clear_trans(p, index(widx)?)))
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn peer_mw_count<T: NtbOps>(ntb: *mut bindings::ntb_dev) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    count(unsafe { hw::<T>(ntb) }.peer_mw_count())
}

/// # Safety
///
/// See [`hw`]; `base` and `size` are NULL or valid for writes.
unsafe extern "C" fn peer_mw_get_addr<T: NtbOps>(
    ntb: *mut bindings::ntb_dev,
    widx: c_int,
    base: *mut phys_addr_t,
    size: *mut resource_size_t,
) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    match index(widx).and_then(|w| hw.peer_mw_get_addr(w)) {
        Ok(mw) => {
            // SAFETY: Each pointer is NULL or valid for writes (contract).
            unsafe {
                put(base, mw.base);
                put(size, mw.size);
            }
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn peer_mw_set_trans<T: NtbOps>(
    ntb: *mut bindings::ntb_dev,
    pidx: c_int,
    widx: c_int,
    addr: u64,
    size: resource_size_t,
) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    status(index(pidx).and_then(|p| hw.peer_mw_set_trans(p, index(widx)?, addr, size)))
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn peer_mw_clear_trans<T: NtbOps>(
    ntb: *mut bindings::ntb_dev,
    pidx: c_int,
    widx: c_int,
) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    status(index(pidx).and_then(|p| hw.peer_mw_clear_trans(p, index(widx)?)))
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn db_valid_mask<T: NtbOps>(ntb: *mut bindings::ntb_dev) -> u64 {
    // SAFETY: The NTB core passes a registered device (see above).
    unsafe { hw::<T>(ntb) }.db_valid_mask()
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn db_vector_count<T: NtbOps>(ntb: *mut bindings::ntb_dev) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    count(unsafe { hw::<T>(ntb) }.db_vector_count())
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn db_vector_mask<T: NtbOps>(ntb: *mut bindings::ntb_dev, vector: c_int) -> u64 {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    index(vector).map_or(0, |v| hw.db_vector_mask(v))
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn db_read<T: NtbOps>(ntb: *mut bindings::ntb_dev) -> u64 {
    // SAFETY: The NTB core passes a registered device (see above).
    unsafe { hw::<T>(ntb) }.db_read()
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn db_clear<T: NtbOps>(ntb: *mut bindings::ntb_dev, bits: u64) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    status(unsafe { hw::<T>(ntb) }.db_clear(bits))
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn db_set_mask<T: NtbOps>(ntb: *mut bindings::ntb_dev, bits: u64) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    status(unsafe { hw::<T>(ntb) }.db_set_mask(bits))
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn db_clear_mask<T: NtbOps>(ntb: *mut bindings::ntb_dev, bits: u64) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    status(unsafe { hw::<T>(ntb) }.db_clear_mask(bits))
}

/// # Safety
///
/// See [`hw`]; the three out-pointers are NULL or valid for writes.
unsafe extern "C" fn peer_db_addr<T: NtbOps>(
    ntb: *mut bindings::ntb_dev,
    db_addr: *mut phys_addr_t,
    db_size: *mut resource_size_t,
    db_data: *mut u64,
    db_bit: c_int,
) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    match index(db_bit).and_then(|b| hw.peer_db_addr(b)) {
        Ok(a) => {
            // SAFETY: Each pointer is NULL or valid for writes (contract).
            unsafe {
                put(db_addr, a.addr);
                put(db_size, a.size);
                put(db_data, a.data);
            }
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn peer_db_set<T: NtbOps>(ntb: *mut bindings::ntb_dev, bits: u64) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    status(unsafe { hw::<T>(ntb) }.peer_db_set(bits))
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn spad_count<T: NtbOps>(ntb: *mut bindings::ntb_dev) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    count(unsafe { hw::<T>(ntb) }.spad_count())
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn spad_read<T: NtbOps>(ntb: *mut bindings::ntb_dev, sidx: c_int) -> u32 {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    index(sidx).map_or(0, |s| hw.spad_read(s))
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn spad_write<T: NtbOps>(
    ntb: *mut bindings::ntb_dev,
    sidx: c_int,
    val: u32,
) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    status(index(sidx).and_then(|s| hw.spad_write(s, val)))
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn peer_spad_read<T: NtbOps>(
    ntb: *mut bindings::ntb_dev,
    pidx: c_int,
    sidx: c_int,
) -> u32 {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    match (index(pidx), index(sidx)) {
        (Ok(p), Ok(s)) => hw.peer_spad_read(p, s),
        _ => 0,
    }
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn peer_spad_write<T: NtbOps>(
    ntb: *mut bindings::ntb_dev,
    pidx: c_int,
    sidx: c_int,
    val: u32,
) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    status(index(pidx).and_then(|p| hw.peer_spad_write(p, index(sidx)?, val)))
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn msg_count<T: NtbOps>(ntb: *mut bindings::ntb_dev) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    count(unsafe { hw::<T>(ntb) }.msg_count())
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn msg_inbits<T: NtbOps>(ntb: *mut bindings::ntb_dev) -> u64 {
    // SAFETY: The NTB core passes a registered device (see above).
    unsafe { hw::<T>(ntb) }.msg_inbits()
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn msg_outbits<T: NtbOps>(ntb: *mut bindings::ntb_dev) -> u64 {
    // SAFETY: The NTB core passes a registered device (see above).
    unsafe { hw::<T>(ntb) }.msg_outbits()
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn msg_read_sts<T: NtbOps>(ntb: *mut bindings::ntb_dev) -> u64 {
    // SAFETY: The NTB core passes a registered device (see above).
    unsafe { hw::<T>(ntb) }.msg_read_sts()
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn msg_clear_sts<T: NtbOps>(ntb: *mut bindings::ntb_dev, bits: u64) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    status(unsafe { hw::<T>(ntb) }.msg_clear_sts(bits))
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn msg_set_mask<T: NtbOps>(ntb: *mut bindings::ntb_dev, bits: u64) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    status(unsafe { hw::<T>(ntb) }.msg_set_mask(bits))
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn msg_clear_mask<T: NtbOps>(ntb: *mut bindings::ntb_dev, bits: u64) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    status(unsafe { hw::<T>(ntb) }.msg_clear_mask(bits))
}

/// # Safety
///
/// See [`hw`]; `pidx` is NULL or valid for writes.
unsafe extern "C" fn msg_read<T: NtbOps>(
    ntb: *mut bindings::ntb_dev,
    pidx: *mut c_int,
    midx: c_int,
) -> u32 {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    match index(midx).and_then(|m| hw.msg_read(m)) {
        Ok(msg) => {
            // SAFETY: `pidx` is NULL or valid for writes (contract).
            unsafe { put(pidx, count(msg.pidx)) };
            msg.data
        }
        // The C interface has no error return here: report no sender.
        Err(_) => {
            // SAFETY: `pidx` is NULL or valid for writes (contract).
            unsafe { put(pidx, EINVAL.to_errno()) };
            0
        }
    }
}

/// # Safety
///
/// See [`hw`].
unsafe extern "C" fn peer_msg_write<T: NtbOps>(
    ntb: *mut bindings::ntb_dev,
    pidx: c_int,
    midx: c_int,
    msg: u32,
) -> c_int {
    // SAFETY: The NTB core passes a registered device (see above).
    let hw = unsafe { hw::<T>(ntb) };
    status(index(pidx).and_then(|p| hw.peer_msg_write(p, index(midx)?, msg)))
}
