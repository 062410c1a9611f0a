// SPDX-License-Identifier: GPL-2.0

//! blk-mq for drivers of real hardware queues: [`TagSet`], [`Disk`],
//! [`Request`] and the [`BlkOps`] a driver implements.
//!
//! The 7.3 `kernel::block::mq` serves `rnull`: its requests have no
//! accessors (operation, position, length, segments), end only with
//! success, and it has no timeout handler, no per-queue index, no way to
//! find a request by its tag (how a completion queue names it). This is
//! the same shape with those pieces, for `rsio_nvme_share`.
//!
//! Completion is claimed once: [`Request::try_complete`] and
//! [`Request::try_requeue`] race (an interrupt, the timeout handler, a
//! teardown failing everything) and exactly one wins per issue of the
//! request; the claim is reset when the block layer issues it again. A
//! completion entry naming a tag the driver re-issued since is the
//! driver's to recognise (a generation in its command id, as nvme).

use crate::bindings;
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Full, Relaxed, Release};
use kernel::sync::Arc;
use kernel::types::Opaque;

/// A request's outcome (`blk_status_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// The operation is not supported (`EOPNOTSUPP`).
    NotSupported = 1,
    /// Timed out (`ETIMEDOUT`).
    Timeout = 2,
    /// A media error (`ENODATA`).
    Medium = 7,
    /// Out of a resource: the block layer retries later.
    Resource = 9,
    /// An I/O error (`EIO`).
    IoError = 10,
    /// Out of a device resource: retried when a request completes.
    DevResource = 13,
}

/// What the timeout handler decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutAction {
    /// The request is still the driver's: wait another timeout.
    ResetTimer,
    /// The driver ended (or requeued) it, or lost the race to do so.
    Done,
}

/// A request's operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read.
    Read,
    /// Write.
    Write,
    /// Flush the volatile cache.
    Flush,
    /// Discard (deallocate) sectors.
    Discard,
    /// Write zeroes.
    WriteZeroes,
    /// Anything else (driver-private, zoned, secure erase ...).
    Other,
}

/// A block driver's operations. `self` is the tag set's data: every hardware
/// queue and every disk of the set share it.
pub trait BlkOps: Sized + Send + Sync + 'static {
    /// What the driver keeps in every request.
    type RequestData: Default + Send + Sync;
    /// What the driver keeps per disk (namespace, access ...).
    type DiskData: Send + Sync;

    /// Issue `rq` (started already: its timer runs) on hardware queue
    /// `hwq` for `disk`; `segs`: its data as physical ranges (reads and
    /// writes; empty otherwise); `last`: no more requests follow in this
    /// batch (else [`BlkOps::commit_rqs`] ends it). The driver arms the
    /// request ([`Request::arm`]) before the device can see it; a status
    /// other than `Ok` ends the request with it (or, `Resource`, retries
    /// it later) unless it was armed and completed meanwhile.
    fn queue_rq(
        &self,
        disk: &Self::DiskData,
        hwq: u32,
        rq: &Request<Self>,
        segs: &[(u64, u32)],
        last: bool,
    ) -> Status;
    /// The batch on `hwq` ends without a `last` request.
    fn commit_rqs(&self, hwq: u32);
    /// `rq` on `hwq` timed out.
    fn timeout(&self, hwq: u32, rq: &Request<Self>) -> TimeoutAction;
}

/// A request handed to the hardware: the first to claim it completes it.
const ARMED: u32 = 0;
/// A request in `queue_rq` before [`Request::arm`]: nobody may complete it.
const ISSUING: u32 = 1;
/// A request whose completion is claimed (or that is not issued).
const CLAIMED: u32 = 2;

/// The layer's part of every request's private data; the segments table
/// follows it.
struct Pdu<D> {
    /// `ARMED`, `ISSUING` or `CLAIMED`.
    claimed: Atomic<u32>,
    /// The status [`BlkOps`]'s completion ends it with.
    status: Atomic<u32>,
    data: D,
}

/// A request of a [`TagSet<T>`].
///
/// # Invariants
///
/// `self.0` is a request of a live tag set of `T`'s operations, whose
/// private data is a `Pdu<T::RequestData>` followed by the segment
/// tables.
#[repr(transparent)]
pub struct Request<T: BlkOps>(Opaque<kernel::bindings::request>, PhantomData<T>);

impl<T: BlkOps> Request<T> {
    /// # Safety
    ///
    /// `rq` is a request of a live tag set of `T`'s operations, and stays
    /// valid for `'a`.
    unsafe fn from_raw<'a>(rq: *mut kernel::bindings::request) -> &'a Self {
        // SAFETY: `Request` is a transparent wrapper of the C request; valid per the contract.
        unsafe { &*rq.cast::<Self>() }
    }

    fn raw(&self) -> *mut kernel::bindings::request {
        self.0.get()
    }

    fn pdu(&self) -> &Pdu<T::RequestData> {
        // SAFETY: The request's pdu holds an initialized `Pdu` (invariant, `init_request`).
        unsafe {
            &*bindings::rsio_helper_blk_rq_pdu(self.raw().cast()).cast::<Pdu<T::RequestData>>()
        }
    }

    /// The driver's data.
    pub fn data(&self) -> &T::RequestData {
        &self.pdu().data
    }

    /// The request's tag (unique on its hardware queue while issued).
    pub fn tag(&self) -> u32 {
        // SAFETY: The request is valid (invariant); the tag is set before it is issued.
        let tag = unsafe { (*self.raw()).tag };
        u32::try_from(tag).unwrap_or(u32::MAX)
    }

    /// Its operation.
    pub fn op(&self) -> Op {
        // SAFETY: The request is valid (invariant).
        match unsafe { bindings::rsio_helper_blk_rq_op(self.raw().cast()) } {
            kernel::bindings::req_op_REQ_OP_READ => Op::Read,
            kernel::bindings::req_op_REQ_OP_WRITE => Op::Write,
            kernel::bindings::req_op_REQ_OP_FLUSH => Op::Flush,
            kernel::bindings::req_op_REQ_OP_DISCARD => Op::Discard,
            kernel::bindings::req_op_REQ_OP_WRITE_ZEROES => Op::WriteZeroes,
            _ => Op::Other,
        }
    }

    /// Its first sector (512 bytes).
    pub fn sector(&self) -> u64 {
        // SAFETY: The request is valid (invariant).
        unsafe { bindings::rsio_helper_blk_rq_pos(self.raw().cast()) }
    }

    /// Its bytes.
    pub fn bytes(&self) -> u32 {
        // SAFETY: The request is valid (invariant).
        unsafe { bindings::rsio_helper_blk_rq_bytes(self.raw().cast()) }
    }

    /// Forced unit access (the data reaches the medium before completion).
    pub fn fua(&self) -> bool {
        // SAFETY: The request is valid (invariant).
        unsafe { bindings::rsio_helper_blk_rq_fua(self.raw().cast()) }
    }

    /// Its data as physical address ranges (merged where contiguous), in
    /// order, in the request's own table. Called by `Vtable::queue_rq`
    /// only, once per issue, before the driver sees the request: nothing
    /// else writes the table while the driver uses the slice.
    fn map_segments(&self) -> Result<&[(u64, u32)]> {
        // SAFETY: An issued request's queue and tag set are live; the set is the `set` of a `RawSet` (`TagSet::new`, `#[repr(C)]`).
        let layout = unsafe { (*(*(*self.raw()).q).tag_set.cast::<RawSet>()).layout };
        // SAFETY: The pdu is `layout.total` bytes (the tag set's `cmd_size`).
        let base = unsafe { bindings::rsio_helper_blk_rq_pdu(self.raw().cast()) }.cast::<u8>();
        // SAFETY: Within the pdu (layout).
        let sg = unsafe { base.add(layout.sg_off) };
        // SAFETY: Within the pdu (layout), aligned for `(u64, u32)`.
        let segs = unsafe { base.add(layout.segs_off) }.cast::<(u64, u32)>();
        // SAFETY: The request is valid and issued; `sg` has room for `max_segments` entries.
        let n = unsafe {
            bindings::rsio_helper_blk_rq_map(self.raw().cast(), sg.cast(), layout.max_segments)
        };
        let n = u32::try_from(kernel::error::to_result(n).map(|()| n)?).map_err(|_| EINVAL)?;
        for i in 0..n.min(layout.max_segments) {
            let (mut phys, mut len) = (0u64, 0u32);
            // SAFETY: Entry `i < n` was filled by the map above.
            unsafe { bindings::rsio_helper_sg_entry(sg.cast(), i, &mut phys, &mut len) };
            // SAFETY: `i < max_segments`: inside the table; only `queue_rq` of this request writes it.
            unsafe { segs.add(i as usize).write((phys, len)) };
        }
        // SAFETY: The first `n` entries were just written; not written again before the next call.
        Ok(unsafe { core::slice::from_raw_parts(segs, n as usize) })
    }

    /// Hands the request to the hardware: from now on a completion (or a
    /// timeout, or a teardown) may claim it. The driver calls this in
    /// [`BlkOps::queue_rq`] just before the device can see the command.
    pub fn arm(&self) {
        self.pdu().claimed.store(ARMED, Release);
    }

    /// Claims the request's completion and completes it with `status`
    /// (any context). `false`: not armed, or already claimed since it was
    /// issued.
    pub fn try_complete(&self, status: Status) -> bool {
        let pdu = self.pdu();
        if pdu.claimed.cmpxchg(ARMED, CLAIMED, Full).is_err() {
            return false;
        }
        pdu.status.store(status as u32, Relaxed);
        // SAFETY: The request is issued and its completion was claimed here only: completed once.
        unsafe { kernel::bindings::blk_mq_complete_request(self.raw()) };
        true
    }

    /// Claims the request's completion and gives it back to the block
    /// layer to issue again (the requeue list is kicked).
    /// `false`: already claimed.
    pub fn try_requeue(&self) -> bool {
        if self.pdu().claimed.cmpxchg(ARMED, CLAIMED, Full).is_err() {
            return false;
        }
        // SAFETY: The request is issued and claimed here only.
        unsafe { kernel::bindings::blk_mq_requeue_request(self.raw(), true) };
        true
    }
}

/// Where the layer's data sits in a request's pdu.
#[derive(Clone, Copy)]
struct Layout {
    sg_off: usize,
    segs_off: usize,
    total: usize,
    max_segments: u32,
}

impl Layout {
    fn new<D>(max_segments: u32) -> Result<Self> {
        // SAFETY: No preconditions.
        let sg_size = unsafe { bindings::rsio_helper_sg_size() } as usize;
        let n = max_segments as usize;
        let sg_off = core::mem::size_of::<Pdu<D>>().next_multiple_of(8);
        let segs_off = (sg_off + n * sg_size).next_multiple_of(core::mem::align_of::<(u64, u32)>());
        let total = segs_off + n * core::mem::size_of::<(u64, u32)>();
        if core::mem::align_of::<Pdu<D>>() > 8 || n == 0 || n > 4096 {
            return Err(EINVAL);
        }
        Ok(Self {
            sg_off,
            segs_off,
            total,
            max_segments,
        })
    }
}

/// The tag set and what the layer needs of it from a request.
#[repr(C)]
struct RawSet {
    /// First: a request's `q->tag_set` points here.
    set: Opaque<kernel::bindings::blk_mq_tag_set>,
    layout: Layout,
}

/// The `blk_mq_ops` of `T`.
struct Vtable<T: BlkOps>(PhantomData<T>);

impl<T: BlkOps> Vtable<T> {
    /// # Safety
    ///
    /// Called by blk-mq with a hardware context of a queue of a [`Disk<T>`]
    /// (queuedata: its `Arc<T::DiskData>`, the set's driver data: `T`).
    unsafe extern "C" fn queue_rq(
        hctx: *mut kernel::bindings::blk_mq_hw_ctx,
        bd: *const kernel::bindings::blk_mq_queue_data,
    ) -> kernel::bindings::blk_status_t {
        // SAFETY: Valid per the contract: blk-mq passes an issued request.
        let (rqp, last) = unsafe { ((*bd).rq, (*bd).last) };
        // SAFETY: `rqp` is a request of a tag set of `T` (contract).
        let rq = unsafe { Request::<T>::from_raw(rqp) };
        // SAFETY: As above: the hctx and its queue are live.
        let (queue, hwq) = unsafe { ((*hctx).queue, (*hctx).queue_num) };
        // SAFETY: As above.
        let set = unsafe { (*queue).tag_set };
        // SAFETY: The disk's queuedata is its `Arc<T::DiskData>` (Disk::new), alive with the disk.
        let disk = unsafe { &*(*queue).queuedata.cast::<T::DiskData>() };
        // SAFETY: The set's driver data is its `Arc<T>` (TagSet::new), alive with the set.
        let ops = unsafe { &*(*set).driver_data.cast::<T>() };
        rq.pdu().claimed.store(ISSUING, Relaxed);
        // SAFETY: The request is being issued to this driver.
        unsafe { kernel::bindings::blk_mq_start_request(rqp) };
        let segs: &[(u64, u32)] = match rq.op() {
            Op::Read | Op::Write => match rq.map_segments() {
                Ok(s) => s,
                Err(_) => return Self::refuse(rq, Status::IoError),
            },
            _ => &[],
        };
        match ops.queue_rq(disk, hwq, rq, segs, last) {
            Status::Ok => Status::Ok as kernel::bindings::blk_status_t,
            s => Self::refuse(rq, s),
        }
    }

    /// `queue_rq` refuses `rq` with `status`, unless the request was armed
    /// and someone claimed it meanwhile (then it is theirs: "issued").
    fn refuse(rq: &Request<T>, status: Status) -> kernel::bindings::blk_status_t {
        match rq.pdu().claimed.xchg(CLAIMED, Full) {
            CLAIMED => Status::Ok as kernel::bindings::blk_status_t,
            _ => status as kernel::bindings::blk_status_t,
        }
    }

    /// # Safety
    ///
    /// As [`Self::queue_rq`].
    unsafe extern "C" fn commit_rqs(hctx: *mut kernel::bindings::blk_mq_hw_ctx) {
        // SAFETY: As in `queue_rq`.
        let (hwq, set) = unsafe { ((*hctx).queue_num, (*(*hctx).queue).tag_set) };
        // SAFETY: As in `queue_rq`.
        let ops = unsafe { &*(*set).driver_data.cast::<T>() };
        ops.commit_rqs(hwq);
    }

    /// # Safety
    ///
    /// A request of a tag set of `T` whose completion was claimed
    /// (`try_complete`).
    unsafe extern "C" fn complete(rq: *mut kernel::bindings::request) {
        // SAFETY: Per the contract.
        let r = unsafe { Request::<T>::from_raw(rq) };
        let status = r.pdu().status.load(Relaxed) as kernel::bindings::blk_status_t;
        // SAFETY: The claimed request ends here, once.
        unsafe { kernel::bindings::blk_mq_end_request(rq, status) };
    }

    /// # Safety
    ///
    /// An issued request of a tag set of `T`.
    unsafe extern "C" fn timeout(
        rq: *mut kernel::bindings::request,
    ) -> kernel::bindings::blk_eh_timer_return {
        // SAFETY: Per the contract: its hctx, queue and set are live.
        let (hwq, set) = unsafe { ((*(*rq).mq_hctx).queue_num, (*(*rq).q).tag_set) };
        // SAFETY: As in `queue_rq`.
        let ops = unsafe { &*(*set).driver_data.cast::<T>() };
        // SAFETY: Per the contract.
        let r = unsafe { Request::<T>::from_raw(rq) };
        match ops.timeout(hwq, r) {
            TimeoutAction::ResetTimer => kernel::bindings::blk_eh_timer_return_BLK_EH_RESET_TIMER,
            TimeoutAction::Done => kernel::bindings::blk_eh_timer_return_BLK_EH_DONE,
        }
    }

    /// # Safety
    ///
    /// A request of a tag set of `T`, before its first use.
    unsafe extern "C" fn init_request(
        _set: *mut kernel::bindings::blk_mq_tag_set,
        rq: *mut kernel::bindings::request,
        _hctx_idx: kernel::ffi::c_uint,
        _numa_node: kernel::ffi::c_int,
    ) -> kernel::ffi::c_int {
        // SAFETY: The pdu is `cmd_size` bytes, enough and 8-aligned for a `Pdu` (Layout).
        let pdu = unsafe { bindings::rsio_helper_blk_rq_pdu(rq.cast()) };
        let pdu = pdu.cast::<Pdu<T::RequestData>>();
        // SAFETY: As above; uninitialized memory is written, not dropped.
        unsafe {
            pdu.write(Pdu {
                claimed: Atomic::new(CLAIMED),
                status: Atomic::new(0),
                data: T::RequestData::default(),
            })
        };
        0
    }

    /// # Safety
    ///
    /// A request `init_request` initialized, no longer used.
    unsafe extern "C" fn exit_request(
        _set: *mut kernel::bindings::blk_mq_tag_set,
        rq: *mut kernel::bindings::request,
        _hctx_idx: kernel::ffi::c_uint,
    ) {
        // SAFETY: Initialized by `init_request`; dropped once, here.
        unsafe {
            core::ptr::drop_in_place(
                bindings::rsio_helper_blk_rq_pdu(rq.cast()).cast::<Pdu<T::RequestData>>(),
            )
        };
    }

    const OPS: kernel::bindings::blk_mq_ops = kernel::bindings::blk_mq_ops {
        queue_rq: Some(Self::queue_rq),
        commit_rqs: Some(Self::commit_rqs),
        complete: Some(Self::complete),
        timeout: Some(Self::timeout),
        init_request: Some(Self::init_request),
        exit_request: Some(Self::exit_request),
        // SAFETY: All other members are optional callbacks: `None` when zero.
        ..unsafe { core::mem::zeroed() }
    };
}

/// A tag set: hardware queues of a fixed depth, shared by disks.
///
/// # Invariants
///
/// `set` was allocated by `blk_mq_alloc_tag_set` with `T`'s operations and
/// `driver_data` pointing at `data`'s `T`; it is freed on drop, after the
/// last [`Disk`] (each holds an `Arc` of the set).
pub struct TagSet<T: BlkOps> {
    raw: KBox<RawSet>,
    data: Arc<T>,
    depth: u32,
    hw_queues: u32,
}

// SAFETY: blk-mq synchronizes accesses to the set; `T` is `Send + Sync`.
unsafe impl<T: BlkOps> Send for TagSet<T> {}
// SAFETY: As above.
unsafe impl<T: BlkOps> Sync for TagSet<T> {}

impl<T: BlkOps> TagSet<T> {
    /// `hw_queues` queues of `depth` requests of at most `max_segments`
    /// physical segments each; a request times out after `timeout_ms`.
    pub fn new(
        data: Arc<T>,
        hw_queues: u32,
        depth: u32,
        max_segments: u32,
        timeout_ms: u32,
    ) -> Result<Arc<Self>> {
        if hw_queues == 0 || depth == 0 || depth > 4096 {
            return Err(EINVAL);
        }
        let layout = Layout::new::<T::RequestData>(max_segments)?;
        let set = KBox::new(
            RawSet {
                set: Opaque::zeroed(),
                layout,
            },
            GFP_KERNEL,
        )?;
        let raw = set.set.get();
        // SAFETY: `raw` is a zeroed, exclusively owned tag set: the fields are filled before use.
        unsafe {
            (*raw).ops = &Vtable::<T>::OPS;
            (*raw).nr_hw_queues = hw_queues;
            (*raw).queue_depth = depth;
            (*raw).cmd_size = u32::try_from(layout.total)?;
            (*raw).numa_node = kernel::bindings::NUMA_NO_NODE;
            (*raw).timeout = kernel::time::msecs_to_jiffies(timeout_ms) as u32;
            (*raw).nr_maps = 1;
            (*raw).driver_data = Arc::as_ptr(&data).cast_mut().cast();
        }
        // SAFETY: The set is filled in; on success it is freed on drop.
        kernel::error::to_result(unsafe { kernel::bindings::blk_mq_alloc_tag_set(raw) })?;
        // INVARIANT: Allocated just above with `data` as driver data.
        Ok(Arc::new(
            Self {
                raw: set,
                data,
                depth,
                hw_queues,
            },
            GFP_KERNEL,
        )?)
    }

    /// The driver's data.
    pub fn data(&self) -> &Arc<T> {
        &self.data
    }

    /// Requests per hardware queue.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// Hardware queues.
    pub fn hw_queues(&self) -> u32 {
        self.hw_queues
    }

    /// The request that tag `tag` names on queue `hwq`, if it is issued
    /// (in flight) now. Completion entries are untrusted input: `None` for
    /// anything else.
    pub fn in_flight(&self, hwq: u32, tag: u32) -> Option<&Request<T>> {
        if tag >= self.depth {
            return None;
        }
        let set = self.raw.set.get().cast();
        // SAFETY: The set is allocated (invariant); the helper checks `hwq`.
        let rq = unsafe { bindings::rsio_helper_blk_tag_to_rq(set, hwq, tag) };
        let rq = NonNull::new(rq)?
            .as_ptr()
            .cast::<kernel::bindings::request>();
        // SAFETY: A request of this set: its memory lives as long as the set.
        if !unsafe { bindings::rsio_helper_blk_rq_in_flight(rq.cast()) } {
            return None;
        }
        // SAFETY: A request of this set (`T`'s operations), valid while `self` is.
        Some(unsafe { Request::from_raw(rq) })
    }

    /// Calls `f` with every request in flight on any queue
    /// (`blk_mq_tagset_busy_iter`: under the tags' locks, with a
    /// reference on each request).
    pub fn each_in_flight<F: FnMut(&Request<T>)>(&self, mut f: F) {
        let set = self.raw.set.get();
        let data = core::ptr::from_mut(&mut f).cast::<core::ffi::c_void>();
        // SAFETY: The set is allocated; `data` is `f`, alive for the call; the callback is `F`'s.
        unsafe { kernel::bindings::blk_mq_tagset_busy_iter(set, Some(busy_fn::<T, F>), data) };
    }
}

/// `blk_mq_tagset_busy_iter`'s callback for [`TagSet::each_in_flight`].
///
/// # Safety
///
/// `rq` is a request of a tag set of `T`, referenced for the call; `data`
/// is the `F` of the caller.
unsafe extern "C" fn busy_fn<T: BlkOps, F: FnMut(&Request<T>)>(
    rq: *mut kernel::bindings::request,
    data: *mut core::ffi::c_void,
) -> bool {
    // SAFETY: Per the contract.
    let f = unsafe { &mut *data.cast::<F>() };
    // SAFETY: Per the contract.
    f(unsafe { Request::from_raw(rq) });
    true
}

impl<T: BlkOps> Drop for TagSet<T> {
    fn drop(&mut self) {
        // SAFETY: Allocated (invariant); no disk uses it any more (each held an `Arc`).
        unsafe { kernel::bindings::blk_mq_free_tag_set(self.raw.set.get()) };
    }
}

/// What a [`Disk`] looks like to the block layer.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiskParams {
    /// Logical block size (512..=65536, a power of two).
    pub logical_block_size: u32,
    /// Capacity in 512-byte sectors.
    pub capacity_sectors: u64,
    /// Largest request in sectors.
    pub max_hw_sectors: u32,
    /// Segments per request (at most the tag set's).
    pub max_segments: u16,
    /// Segments of a request other than the first start, and other than
    /// the last end, on this boundary (mask); 0: none.
    pub virt_boundary_mask: u64,
    /// Buffer address alignment (mask).
    pub dma_alignment: u32,
    /// Discard: largest request in sectors (0: no discard).
    pub max_discard_sectors: u32,
    /// Write zeroes: largest request in sectors (0: none).
    pub max_write_zeroes_sectors: u32,
    /// A volatile write cache (flushes are sent).
    pub write_cache: bool,
    /// Forced unit access is honoured.
    pub fua: bool,
    /// Writes are refused.
    pub read_only: bool,
}

/// A block device of a [`TagSet`]: added on creation, deleted on drop.
///
/// # Invariants
///
/// `disk` was allocated on `set` with queuedata `Arc::into_raw` of
/// `T::DiskData` and added; dropped (deleted, put, the data released) once.
pub struct Disk<T: BlkOps> {
    disk: NonNull<kernel::bindings::gendisk>,
    set: Arc<TagSet<T>>,
}

// SAFETY: The gendisk is used through functions that lock internally.
unsafe impl<T: BlkOps> Send for Disk<T> {}
// SAFETY: As above.
unsafe impl<T: BlkOps> Sync for Disk<T> {}

impl<T: BlkOps> Disk<T> {
    /// Adds disk `name` (at most 31 bytes, no NUL) on `set` with `data`.
    pub fn new(
        set: &Arc<TagSet<T>>,
        p: &DiskParams,
        name: &[u8],
        data: Arc<T::DiskData>,
    ) -> Result<Self> {
        if name.is_empty()
            || name.len() >= 32
            || name.contains(&0)
            || u32::from(p.max_segments) > set.raw.layout.max_segments
        {
            return Err(EINVAL);
        }
        // SAFETY: A zeroed `queue_limits` is valid: every limit unset (defaults).
        let mut lim: kernel::bindings::queue_limits = unsafe { core::mem::zeroed() };
        lim.logical_block_size = p.logical_block_size;
        lim.physical_block_size = p.logical_block_size;
        lim.max_hw_sectors = p.max_hw_sectors;
        lim.max_segments = p.max_segments;
        lim.virt_boundary_mask = usize::try_from(p.virt_boundary_mask)?;
        lim.dma_alignment = p.dma_alignment;
        lim.max_hw_discard_sectors = p.max_discard_sectors;
        lim.max_discard_segments = u16::from(p.max_discard_sectors != 0);
        lim.discard_granularity = if p.max_discard_sectors != 0 {
            p.logical_block_size
        } else {
            0
        };
        lim.max_write_zeroes_sectors = p.max_write_zeroes_sectors;
        // SAFETY: No preconditions.
        lim.features = unsafe { bindings::rsio_helper_blk_features(p.write_cache, p.fua) };
        let queuedata = Arc::into_raw(data);
        // SAFETY: The set is allocated; `lim` is valid for the call.
        let disk = unsafe {
            kernel::bindings::__blk_mq_alloc_disk(
                set.raw.set.get(),
                &mut lim,
                queuedata.cast_mut().cast(),
                kernel::static_lock_class!().as_ptr(),
            )
        };
        let disk = match kernel::error::from_err_ptr(disk) {
            Ok(d) => d,
            Err(e) => {
                // SAFETY: Not handed over: released once, here.
                drop(unsafe { Arc::from_raw(queuedata) });
                return Err(e);
            }
        };
        // SAFETY: The disk was allocated above and is not added yet: ours only.
        unsafe {
            for (i, b) in name.iter().enumerate() {
                (*disk).disk_name[i] = *b as kernel::ffi::c_char;
            }
            (*disk).disk_name[name.len()] = 0;
            (*disk).fops = &DISK_FOPS.0;
            kernel::bindings::set_capacity(disk, p.capacity_sectors);
            if p.read_only {
                kernel::bindings::set_disk_ro(disk, true);
            }
        }
        // SAFETY: The disk is set up; not added yet.
        let r = unsafe {
            kernel::bindings::device_add_disk(core::ptr::null_mut(), disk, core::ptr::null_mut())
        };
        if let Err(e) = kernel::error::to_result(r) {
            // SAFETY: Not added: put once; the queuedata is no longer used.
            unsafe {
                kernel::bindings::put_disk(disk);
                drop(Arc::from_raw(queuedata));
            }
            return Err(e);
        }
        // INVARIANT: Allocated and added with `queuedata` above.
        Ok(Self {
            // SAFETY: `from_err_ptr` returned a valid pointer.
            disk: unsafe { NonNull::new_unchecked(disk) },
            set: set.clone(),
        })
    }

    fn raw(&self) -> *mut kernel::bindings::gendisk {
        self.disk.as_ptr()
    }

    fn queue(&self) -> *mut kernel::bindings::request_queue {
        // SAFETY: The disk is live (invariant).
        unsafe { (*self.raw()).queue }
    }

    /// Its name (`rsio_nvme1_1n1`).
    pub fn name(&self) -> &[u8] {
        // SAFETY: The disk is live; `disk_name` is NUL-terminated (set in `new`).
        let n = unsafe { &(*self.raw()).disk_name };
        // SAFETY: `c_char` and `u8` have the same layout.
        let b = unsafe { core::slice::from_raw_parts(n.as_ptr().cast::<u8>(), n.len()) };
        let len = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        &b[..len]
    }

    /// Openers of the disk (a mounted file system counts).
    pub fn openers(&self) -> u32 {
        // SAFETY: The disk is live.
        unsafe { bindings::rsio_helper_disk_openers(self.raw().cast()) }
    }

    /// Stops issuing requests (those in `queue_rq` finish first).
    pub fn quiesce(&self) {
        // SAFETY: The queue is live.
        unsafe { kernel::bindings::blk_mq_quiesce_queue(self.queue()) };
    }

    /// Issues requests again, the requeued ones too.
    pub fn unquiesce(&self) {
        // SAFETY: The queue is live and was quiesced by `quiesce`.
        unsafe { kernel::bindings::blk_mq_unquiesce_queue(self.queue()) };
        self.kick_requeue();
    }

    /// Issues the requests given back with [`Request::try_requeue`].
    pub fn kick_requeue(&self) {
        // SAFETY: The queue is live.
        unsafe { kernel::bindings::blk_mq_kick_requeue_list(self.queue()) };
    }

    /// The device is gone: new I/O fails at once, openers are told.
    pub fn mark_dead(&self) {
        // SAFETY: The disk is live and added.
        unsafe { kernel::bindings::blk_mark_disk_dead(self.raw()) };
    }

    /// The tag set it is on.
    pub fn tag_set(&self) -> &Arc<TagSet<T>> {
        &self.set
    }
}

impl<T: BlkOps> Drop for Disk<T> {
    fn drop(&mut self) {
        let disk = self.raw();
        // SAFETY: Live and added (invariant); the queuedata is the `Arc` of `new`.
        unsafe {
            let queuedata = (*(*disk).queue).queuedata;
            kernel::bindings::del_gendisk(disk);
            kernel::bindings::put_disk(disk);
            drop(Arc::<T::DiskData>::from_raw(queuedata.cast()));
        }
    }
}

/// No disk operation of its own: open, release and ioctls are the block
/// layer's. `owner` is this layer's module: an open disk pins it, so the
/// table outlives every open file of a disk (after `del_gendisk` nothing
/// of the driver's runs for such a file).
struct Fops(kernel::bindings::block_device_operations);

// SAFETY: A read-only table: pointers to a module and null callbacks.
unsafe impl Sync for Fops {}

static DISK_FOPS: Fops = Fops(kernel::bindings::block_device_operations {
    owner: <crate::RsioKernel as kernel::ModuleMetadata>::THIS_MODULE.as_ptr(),
    // SAFETY: All other members are optional callbacks or pointers: `None`/null when zero.
    ..unsafe { core::mem::zeroed() }
});
