// SPDX-License-Identifier: GPL-2.0

//! The ioctl ABI of `rsio_sisci` (`/dev/sisci`): segments, remote
//! interrupts, DMA queues and multicast for SISCI programs.
//!
//! Compiled twice, like `abi.rs`: as `rsio_uapi::sisci` for user space and
//! as a module of the `rsio_sisci` kernel module, next to a module named
//! `abi` (the shared header, validation and listing conventions). It must
//! stay `core`-only. The conventions of `abi.rs` hold for every struct here:
//! an [`ArgHeader`] first, explicit reserved fields, extensible at the end.
//!
//! Objects (segments, connections, interrupts, DMA queues) are named by
//! *handles*: numbers unique on the node while the object exists, owned by
//! the open file that created them. Closing the file (or the process dying)
//! removes them, on both sides of the fabric. Remote peers name segments and
//! interrupts by `(node id, segment/interrupt id)`.
//!
//! Memory is mapped with `mmap(2)` of `/dev/sisci` at the handle's
//! `mmap_offset` (plus a page-aligned offset into the object), `MAP_SHARED`
//! only (`EINVAL` otherwise, and for an offset or length outside an object
//! of the file; `ENOTCONN` for a lost connection).

use super::abi::{rsio_iowr, ArgHeader, ArgLayout, Request, RsioList};

/// The path of `rsio_sisci`'s character device.
pub const SISCI_DEVICE_PATH: &str = "/dev/sisci";

/// `SisciInfo::caps`: the adapter has a DMA engine.
pub const SISCI_CAP_DMA: u32 = 1 << 0;
/// `SisciInfo::caps`: the adapter does multicast.
pub const SISCI_CAP_MULTICAST: u32 = 1 << 1;
/// `SisciInfo::caps`: remote segments map untranslated (the direct window):
/// CPU stores run at memory speed.
pub const SISCI_CAP_DIRECT: u32 = 1 << 2;

/// `timeout_ms` value: wait forever (until a signal).
pub const SISCI_INFINITE: u32 = u32::MAX;

/// Largest segment (bytes).
pub const SISCI_MAX_SEGMENT_SIZE: u64 = 256 << 20;
/// Largest payload of a data interrupt (bytes).
pub const SISCI_MAX_INTR_DATA: u32 = 128;
/// Largest number of entries of one DMA transfer.
pub const SISCI_MAX_DMA_ENTRIES: u32 = 256;
/// The connect timeout a `timeout_ms` of 0 stands for.
pub const SISCI_DEFAULT_TIMEOUT_MS: u32 = 10_000;
/// Highest segment or interrupt id + 1 (ids chosen by callers are below).
pub const SISCI_MAX_ID: u32 = 0xFFFF_FFF0;
/// Bytes of the mmap offset space of one handle: `mmap_offset` is
/// `handle << SISCI_MMAP_SHIFT`.
pub const SISCI_MMAP_SHIFT: u32 = 40;

// --- SISCI_IOC_INFO

/// Argument of [`SISCI_IOC_INFO`]. Input: header only. Output: the rest.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciInfo {
    /// `size`, `flags = 0`.
    pub header: ArgHeader,
    /// This node's id.
    pub node_id: u32,
    /// Nodes in the fabric.
    pub num_nodes: u32,
    /// Bit n: node n's core is up (this node included).
    pub up_mask: u32,
    /// `SISCI_CAP_*`.
    pub caps: u32,
    /// DMA channels `rsio_sisci` uses.
    pub dma_channels: u32,
    /// Multicast groups of the adapter.
    pub mc_groups: u32,
    /// [`SISCI_MAX_SEGMENT_SIZE`].
    pub max_segment_size: u64,
    /// [`SISCI_MAX_INTR_DATA`].
    pub max_intr_data: u32,
    /// Reserved, zero.
    pub reserved: u32,
}
/// Size of [`SisciInfo`]'s first version.
pub const SISCI_INFO_SIZE_V1: usize = 48;
const _: () = assert!(core::mem::size_of::<SisciInfo>() == SISCI_INFO_SIZE_V1);
/// Reports this node, the fabric and the adapter's capabilities.
pub const SISCI_IOC_INFO: u32 = rsio_iowr(0x40, core::mem::size_of::<SisciInfo>());

// --- Local segments

/// Create flag: the kernel picks a free segment id (`segment_id` is out).
pub const SISCI_SEG_AUTO_ID: u32 = 1 << 0;
/// Create flag: processes of any user may connect (default: the creator's
/// user and root only).
pub const SISCI_SEG_ANY_USER: u32 = 1 << 1;
/// Create flag: a multicast segment: this node joins multicast group
/// `segment_id` (`< SisciInfo::mc_groups`) and the segment receives what
/// is written to the group. At most 4 MiB.
pub const SISCI_SEG_MULTICAST: u32 = 1 << 2;

/// Create flag: the segment's memory is the caller's, `size` bytes at
/// `user_addr` (page-aligned, writable), pinned while the segment exists
/// (`SCIRegisterSegmentMemory`). Without it the kernel allocates zeroed
/// memory.
pub const SISCI_SEG_USER_MEMORY: u32 = 1 << 4;
/// Create flag: the segment has no memory yet (`SCI_FLAG_EMPTY`):
/// [`SISCI_IOC_SEG_ATTACH_PHYS`] gives it device memory. Until then it
/// cannot be prepared, mapped, used for DMA or given to a device.
pub const SISCI_SEG_EMPTY: u32 = 1 << 5;

/// Argument of [`SISCI_IOC_SEG_CREATE`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciSegCreate {
    /// `flags`: `SISCI_SEG_AUTO_ID | SISCI_SEG_ANY_USER | SISCI_SEG_MULTICAST
    /// | SISCI_SEG_USER_MEMORY | SISCI_SEG_EMPTY`.
    pub header: ArgHeader,
    /// In (or out with `AUTO_ID`): the id peers connect to, `< SISCI_MAX_ID`.
    pub segment_id: u32,
    /// Out: the segment's handle.
    pub handle: u32,
    /// In: bytes, `1..=SISCI_MAX_SEGMENT_SIZE`. Out: rounded up to pages.
    pub size: u64,
    /// Out: where `mmap` maps the segment (local access).
    pub mmap_offset: u64,
    /// In, with [`SISCI_SEG_USER_MEMORY`]: the memory's address; else 0.
    pub user_addr: u64,
}
/// Size of [`SisciSegCreate`]'s first version.
pub const SISCI_SEG_CREATE_SIZE_V1: usize = 40;
const _: () = assert!(core::mem::size_of::<SisciSegCreate>() == SISCI_SEG_CREATE_SIZE_V1);
/// Creates a local segment of zeroed memory (not yet prepared nor
/// available). `EEXIST` if the id is taken on this node, `ENOMEM`.
pub const SISCI_IOC_SEG_CREATE: u32 = rsio_iowr(0x41, core::mem::size_of::<SisciSegCreate>());

/// Argument of the ioctls that name one object by handle.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciHandle {
    /// `size`, `flags` per ioctl.
    pub header: ArgHeader,
    /// In (or out for `DMA_QUEUE_CREATE`): the handle.
    pub handle: u32,
    /// Per ioctl (adapter number for `SEG_PREPARE`), else zero.
    pub value: u32,
}
/// Size of [`SisciHandle`]'s first version.
pub const SISCI_HANDLE_SIZE_V1: usize = 16;
const _: () = assert!(core::mem::size_of::<SisciHandle>() == SISCI_HANDLE_SIZE_V1);

/// Removes a local segment: connected peers lose it (they get
/// [`SISCI_EVENT_DISCONNECT`] and their mappings fault), local mappings too.
pub const SISCI_IOC_SEG_REMOVE: u32 = rsio_iowr(0x42, core::mem::size_of::<SisciHandle>());
/// Prepares a segment on adapter `value` (only adapter 0 exists).
pub const SISCI_IOC_SEG_PREPARE: u32 = rsio_iowr(0x43, core::mem::size_of::<SisciHandle>());
/// `SEG_SET_AVAILABLE` flag: make it available (without: unavailable).
pub const SISCI_AVAILABLE: u32 = 1 << 0;
/// Makes a prepared segment available to peers (flag [`SISCI_AVAILABLE`])
/// or unavailable: new connections are refused and connected peers lose it
/// as with remove. `EINVAL` if not prepared.
pub const SISCI_IOC_SEG_SET_AVAILABLE: u32 = rsio_iowr(0x44, core::mem::size_of::<SisciHandle>());

// --- Remote segments

/// Argument of [`SISCI_IOC_SEG_CONNECT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciConnect {
    /// `flags`: [`SISCI_SEG_MULTICAST`] to connect to multicast group
    /// `segment_id` (`node` ignored: writes go to every member).
    pub header: ArgHeader,
    /// In: the owner's node id.
    pub node: u32,
    /// In: its segment id.
    pub segment_id: u32,
    /// In: ms to wait for the owner's answer ([`SISCI_INFINITE`] allowed;
    /// 0: the default, [`SISCI_DEFAULT_TIMEOUT_MS`]).
    pub timeout_ms: u32,
    /// Out: the connection's handle.
    pub handle: u32,
    /// Out: the segment's size. Multicast: in, the bytes to map (0: one
    /// translated-window slot; at most 4 MiB), out the size mapped.
    pub size: u64,
    /// Out: where `mmap` maps the remote segment.
    pub mmap_offset: u64,
}
/// Size of [`SisciConnect`]'s first version.
pub const SISCI_CONNECT_SIZE_V1: usize = 40;
const _: () = assert!(core::mem::size_of::<SisciConnect>() == SISCI_CONNECT_SIZE_V1);
/// Connects to a peer's segment. `ENOENT` no such segment, `ECONNREFUSED`
/// not available (or revoked while connecting), `EACCES` not allowed,
/// `EHOSTUNREACH` node not up, `ETIMEDOUT`, `ECONNRESET` the node went away
/// meanwhile, `EAGAIN` its message ring stayed full, `EPROTO` a malformed
/// answer, `EOPNOTSUPP` no direct window to map it through (or the peer
/// runs no rsio_sisci), `ENOSPC` no handle (multicast: no LUT slot).
pub const SISCI_IOC_SEG_CONNECT: u32 = rsio_iowr(0x45, core::mem::size_of::<SisciConnect>());
/// Disconnects (mappings of the connection fault afterwards).
pub const SISCI_IOC_SEG_DISCONNECT: u32 = rsio_iowr(0x46, core::mem::size_of::<SisciHandle>());

/// Event: a peer connected to the local segment.
pub const SISCI_EVENT_CONNECT: u32 = 1;
/// Event: a peer disconnected from the local segment, or (connection) the
/// owner removed the segment or made it unavailable: the connection is
/// dead, its mappings fault.
pub const SISCI_EVENT_DISCONNECT: u32 = 2;
/// Event: (connection) the owner node died or its link went down.
pub const SISCI_EVENT_LOST: u32 = 3;

/// Argument of [`SISCI_IOC_SEG_WAIT_EVENT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciSegEvent {
    /// `flags`: [`SISCI_NONBLOCK`] to poll.
    pub header: ArgHeader,
    /// In: a local segment or connection handle.
    pub handle: u32,
    /// In: ms to wait.
    pub timeout_ms: u32,
    /// Out: `SISCI_EVENT_*`.
    pub event: u32,
    /// Out: the peer node it concerns.
    pub node: u32,
}
/// Size of [`SisciSegEvent`]'s first version.
pub const SISCI_SEG_EVENT_SIZE_V1: usize = 24;
const _: () = assert!(core::mem::size_of::<SisciSegEvent>() == SISCI_SEG_EVENT_SIZE_V1);
/// Takes the oldest event of a segment or connection, waiting for one.
/// `ETIMEDOUT`, `EAGAIN` (nonblocking), `EINTR`.
pub const SISCI_IOC_SEG_WAIT_EVENT: u32 = rsio_iowr(0x47, core::mem::size_of::<SisciSegEvent>());

/// Reports a local segment's or a connection's state without waiting or
/// consuming events: `value` (in: 0) gets its `SISCI_STATE_*` bits (a
/// connection is lost once it has [`SISCI_STATE_LOST`]). Cheap: for
/// checking a connection after a run of stores (`SCICheckSequence`).
pub const SISCI_IOC_SEG_STATE: u32 = rsio_iowr(0x54, core::mem::size_of::<SisciHandle>());

/// Flag of the waiting ioctls: do not wait (`EAGAIN` if nothing is there).
pub const SISCI_NONBLOCK: u32 = 1 << 0;

/// [`SisciSegEntry::kind`]: a local segment.
pub const SISCI_ENTRY_LOCAL: u32 = 1;
/// [`SisciSegEntry::kind`]: a connection to a remote segment.
pub const SISCI_ENTRY_REMOTE: u32 = 2;
/// [`SisciSegEntry::state`] bit: prepared.
pub const SISCI_STATE_PREPARED: u32 = 1 << 0;
/// [`SisciSegEntry::state`] bit: available.
pub const SISCI_STATE_AVAILABLE: u32 = 1 << 1;
/// [`SisciSegEntry::state`] bit: connection lost (owner gone/revoked).
pub const SISCI_STATE_LOST: u32 = 1 << 2;
/// [`SisciSegEntry::state`] bit: multicast.
pub const SISCI_STATE_MULTICAST: u32 = 1 << 3;

/// One element of [`SISCI_IOC_SEG_LIST`] (every segment and connection of
/// the node, not only the caller's).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciSegEntry {
    /// `SISCI_ENTRY_*`.
    pub kind: u32,
    /// `SISCI_STATE_*` bits.
    pub state: u32,
    /// The owner node (this node for local segments).
    pub node: u32,
    /// The segment id.
    pub segment_id: u32,
    /// The handle.
    pub handle: u32,
    /// Local: bit n: node n is connected.
    pub connected: u32,
    /// The size in bytes.
    pub size: u64,
    /// The creating process's pid and uid.
    pub pid: u32,
    /// The creating process's uid.
    pub uid: u32,
}
/// Size of [`SisciSegEntry`]'s first version.
pub const SISCI_SEG_ENTRY_SIZE_V1: usize = 40;
const _: () = assert!(core::mem::size_of::<SisciSegEntry>() == SISCI_SEG_ENTRY_SIZE_V1);
/// Lists the node's segments and connections into [`SisciSegEntry`]s
/// (an [`RsioList`]).
pub const SISCI_IOC_SEG_LIST: u32 = rsio_iowr(0x48, core::mem::size_of::<RsioList>());

// --- Remote interrupts

/// Interrupt create/connect flag: a data interrupt (carries a payload of
/// up to [`SISCI_MAX_INTR_DATA`] bytes, delivered in order).
pub const SISCI_INTR_DATA: u32 = 1 << 3;

/// Argument of [`SISCI_IOC_INTR_CREATE`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciIntrCreate {
    /// `flags`: `SISCI_SEG_AUTO_ID | SISCI_SEG_ANY_USER | SISCI_INTR_DATA`.
    pub header: ArgHeader,
    /// In (or out with `AUTO_ID`): the interrupt number, `< SISCI_MAX_ID`.
    pub intr_no: u32,
    /// Out: the handle.
    pub handle: u32,
}
/// Size of [`SisciIntrCreate`]'s first version.
pub const SISCI_INTR_CREATE_SIZE_V1: usize = 16;
const _: () = assert!(core::mem::size_of::<SisciIntrCreate>() == SISCI_INTR_CREATE_SIZE_V1);
/// Creates a local interrupt peers can trigger. Plain and data interrupts
/// have separate number spaces. `EEXIST` if taken.
pub const SISCI_IOC_INTR_CREATE: u32 = rsio_iowr(0x49, core::mem::size_of::<SisciIntrCreate>());
/// Removes a local interrupt (waiters get `ENOENT`... the handle is gone).
pub const SISCI_IOC_INTR_REMOVE: u32 = rsio_iowr(0x4A, core::mem::size_of::<SisciHandle>());

/// Argument of [`SISCI_IOC_INTR_CONNECT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciIntrConnect {
    /// `flags`: [`SISCI_INTR_DATA`] for a data interrupt.
    pub header: ArgHeader,
    /// In: the owner's node.
    pub node: u32,
    /// In: its interrupt number.
    pub intr_no: u32,
    /// In: ms to wait for the owner's answer.
    pub timeout_ms: u32,
    /// Out: the handle.
    pub handle: u32,
}
/// Size of [`SisciIntrConnect`]'s first version.
pub const SISCI_INTR_CONNECT_SIZE_V1: usize = 24;
const _: () = assert!(core::mem::size_of::<SisciIntrConnect>() == SISCI_INTR_CONNECT_SIZE_V1);
/// Connects to a peer's interrupt (errors as `SEG_CONNECT`; `ENOENT`: no
/// such interrupt).
pub const SISCI_IOC_INTR_CONNECT: u32 = rsio_iowr(0x4B, core::mem::size_of::<SisciIntrConnect>());
/// Disconnects from a peer's interrupt.
pub const SISCI_IOC_INTR_DISCONNECT: u32 = rsio_iowr(0x4C, core::mem::size_of::<SisciHandle>());

/// Argument of [`SISCI_IOC_INTR_TRIGGER`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciIntrTrigger {
    /// `flags = 0`.
    pub header: ArgHeader,
    /// In: a connected interrupt's handle.
    pub handle: u32,
    /// In: payload bytes (data interrupts: `0..=SISCI_MAX_INTR_DATA`;
    /// plain: 0).
    pub len: u32,
    /// In: user address of the payload.
    pub data: u64,
}
/// Size of [`SisciIntrTrigger`]'s first version.
pub const SISCI_INTR_TRIGGER_SIZE_V1: usize = 24;
const _: () = assert!(core::mem::size_of::<SisciIntrTrigger>() == SISCI_INTR_TRIGGER_SIZE_V1);
/// Triggers a connected remote interrupt. Plain interrupts return once
/// sent; data interrupts once queued at the owner (`ENOBUFS` if its queue
/// is full: retry). `ENOTCONN` if the interrupt is gone, `EHOSTUNREACH`,
/// `EAGAIN` (the message ring to the owner stayed full: retry).
pub const SISCI_IOC_INTR_TRIGGER: u32 = rsio_iowr(0x4D, core::mem::size_of::<SisciIntrTrigger>());

/// Argument of [`SISCI_IOC_INTR_WAIT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciIntrWait {
    /// `flags`: [`SISCI_NONBLOCK`].
    pub header: ArgHeader,
    /// In: a local interrupt's handle.
    pub handle: u32,
    /// In: ms to wait.
    pub timeout_ms: u32,
    /// In: user buffer for a data interrupt's payload.
    pub buf: u64,
    /// In: its size.
    pub buf_len: u32,
    /// Out: payload bytes (data interrupts).
    pub len: u32,
    /// Out: the node that triggered it.
    pub node: u32,
    /// Out: plain interrupts: triggers still pending after this one.
    pub pending: u32,
}
/// Size of [`SisciIntrWait`]'s first version.
pub const SISCI_INTR_WAIT_SIZE_V1: usize = 40;
const _: () = assert!(core::mem::size_of::<SisciIntrWait>() == SISCI_INTR_WAIT_SIZE_V1);
/// Takes one trigger of a local interrupt, oldest first, waiting for one.
/// `ETIMEDOUT`, `EAGAIN`, `EINTR`; `EMSGSIZE` if the payload does not fit
/// `buf_len` (`len` says how much is needed), `EFAULT` for a bad `buf`:
/// in both cases the trigger stays queued. `EINVAL` once the interrupt is
/// removed (waiters wake up).
pub const SISCI_IOC_INTR_WAIT: u32 = rsio_iowr(0x4E, core::mem::size_of::<SisciIntrWait>());

/// Argument of [`SISCI_IOC_INTR_EVENTFD`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciIntrEventfd {
    /// `flags = 0`.
    pub header: ArgHeader,
    /// In: a local interrupt's handle.
    pub handle: u32,
    /// In: an eventfd(2) to signal (add 1) on every trigger, or -1 to stop.
    pub fd: i32,
}
/// Size of [`SisciIntrEventfd`]'s first version.
pub const SISCI_INTR_EVENTFD_SIZE_V1: usize = 16;
const _: () = assert!(core::mem::size_of::<SisciIntrEventfd>() == SISCI_INTR_EVENTFD_SIZE_V1);
/// Attaches an eventfd to a local interrupt: poll(2) it, then take the
/// triggers with `INTR_WAIT` and `SISCI_NONBLOCK`. `EBADF`/`EINVAL` if
/// `fd` is not an eventfd.
pub const SISCI_IOC_INTR_EVENTFD: u32 = rsio_iowr(0x4F, core::mem::size_of::<SisciIntrEventfd>());

// --- DMA

/// Creates a DMA queue (out: `handle`). `ENODEV` without a DMA engine.
pub const SISCI_IOC_DMA_QUEUE_CREATE: u32 = rsio_iowr(0x50, core::mem::size_of::<SisciHandle>());
/// Removes a DMA queue (waits for its transfer to end).
pub const SISCI_IOC_DMA_QUEUE_REMOVE: u32 = rsio_iowr(0x51, core::mem::size_of::<SisciHandle>());

/// [`SisciDmaEntry::flags`]: copy from the remote segment into the local
/// one (default: local to remote).
pub const SISCI_DMA_FROM_REMOTE: u32 = 1 << 0;

/// One element of a DMA transfer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciDmaEntry {
    /// Byte offset in the local segment.
    pub local_offset: u64,
    /// Byte offset in the remote segment.
    pub remote_offset: u64,
    /// Bytes, at least 1; both ranges inside their segments.
    pub len: u64,
    /// `SISCI_DMA_FROM_REMOTE` or 0.
    pub flags: u32,
    /// Reserved, zero.
    pub reserved: u32,
}
/// Size of [`SisciDmaEntry`].
pub const SISCI_DMA_ENTRY_SIZE: usize = 32;
const _: () = assert!(core::mem::size_of::<SisciDmaEntry>() == SISCI_DMA_ENTRY_SIZE);

/// Argument of [`SISCI_IOC_DMA_START`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciDmaStart {
    /// `flags`: [`SISCI_DMA_DEVICE`].
    pub header: ArgHeader,
    /// In: the DMA queue.
    pub queue: u32,
    /// In: a local segment of this file.
    pub local: u32,
    /// In: a connection of this file (with [`SISCI_DMA_DEVICE`]: a
    /// borrowed device).
    pub remote: u32,
    /// In: entries, `1..=SISCI_MAX_DMA_ENTRIES`.
    pub count: u32,
    /// In: user address of `count` [`SisciDmaEntry`]s.
    pub entries: u64,
    /// Since version 2, with [`SISCI_DMA_DEVICE`]: the BAR of the device
    /// `remote` names (its offsets are the entries' `remote_offset`).
    pub bar: u32,
    /// Reserved, zero.
    pub reserved: u32,
}
/// Size of [`SisciDmaStart`]'s first version.
pub const SISCI_DMA_START_SIZE_V1: usize = 32;
/// Size of [`SisciDmaStart`]'s second version (`bar`).
pub const SISCI_DMA_START_SIZE_V2: usize = 40;
const _: () = assert!(core::mem::size_of::<SisciDmaStart>() == SISCI_DMA_START_SIZE_V2);
/// [`SisciDmaStart`] flag: `remote` is a device borrowed through this file
/// ([`SISCI_IOC_DEV_BORROW`]) and the transfer copies to or from its BAR
/// `bar` (through the BAR's translated-window slots: the lender's bus
/// performs the accesses).
pub const SISCI_DMA_DEVICE: u32 = 1 << 0;
/// Starts a (vectored) transfer on an idle queue. The connection may be a
/// multicast group's (the engine writes through its slots and every
/// member receives; entries reading from it are `EINVAL`). Every entry is
/// checked before anything starts (`EINVAL`, `ERANGE` for offsets outside
/// a segment); `EBUSY` if the queue's last transfer was not waited for;
/// `ENOTCONN` if the connection is lost; `EIO`/`ENODEV` if the adapter
/// is failing or gone.
pub const SISCI_IOC_DMA_START: u32 = rsio_iowr(0x52, core::mem::size_of::<SisciDmaStart>());

/// [`SisciDmaWait::state`]: no transfer was started.
pub const SISCI_DMA_IDLE: u32 = 0;
/// The transfer is running.
pub const SISCI_DMA_POSTED: u32 = 1;
/// The transfer completed.
pub const SISCI_DMA_DONE: u32 = 2;
/// The transfer failed: `failed_entry` and `error` say where and why.
pub const SISCI_DMA_ERROR: u32 = 3;

/// Argument of [`SISCI_IOC_DMA_WAIT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciDmaWait {
    /// `flags`: [`SISCI_NONBLOCK`] to poll.
    pub header: ArgHeader,
    /// In: the DMA queue.
    pub queue: u32,
    /// In: ms to wait.
    pub timeout_ms: u32,
    /// Out: `SISCI_DMA_*`. `DONE` and `ERROR` make the queue idle again.
    pub state: u32,
    /// Out: `ERROR`: the first entry that failed.
    pub failed_entry: u32,
    /// Out: `ERROR`: a positive errno (`EIO` engine error, `ENOTCONN` the
    /// remote segment was lost, `ECONNRESET` its node died).
    pub error: u32,
    /// Reserved, zero.
    pub reserved: u32,
}
/// Size of [`SisciDmaWait`]'s first version.
pub const SISCI_DMA_WAIT_SIZE_V1: usize = 32;
const _: () = assert!(core::mem::size_of::<SisciDmaWait>() == SISCI_DMA_WAIT_SIZE_V1);
/// Waits for the queue's transfer to end (`ETIMEDOUT`, `EINTR`; with
/// `SISCI_NONBLOCK` returns the state at once).
pub const SISCI_IOC_DMA_WAIT: u32 = rsio_iowr(0x53, core::mem::size_of::<SisciDmaWait>());

// --- SmartIO: devices borrowed by a process

/// [`SisciDevBorrow`] flag: a shared borrow: processes on this node and on
/// other nodes may borrow the device at the same time (each drives its
/// own part of it, e.g. its own NVMe queues). Without it the borrow is
/// exclusive. Either is refused (`EBUSY`) while a kernel driver somewhere
/// holds the device, and an exclusive one while anyone holds it.
pub const SISCI_DEV_SHARED: u32 = 1 << 0;

/// Number of standard BARs.
pub const SISCI_DEV_NUM_BARS: usize = 6;
/// BAR `b` of a borrowed device is mapped at `mmap_offset + (b <<
/// SISCI_DEV_BAR_SHIFT)` (each BAR has 128 GiB of the handle's space).
pub const SISCI_DEV_BAR_SHIFT: u32 = 37;

/// Argument of [`SISCI_IOC_DEV_BORROW`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciDevBorrow {
    /// `flags`: [`SISCI_DEV_SHARED`].
    pub header: ArgHeader,
    /// In: the fabric device id (`lender << 16 | index`, `rsio devices`).
    pub fdid: u32,
    /// Out: the borrow's handle.
    pub handle: u32,
    /// Out: where `mmap` maps the BARs (see [`SISCI_DEV_BAR_SHIFT`]).
    pub mmap_offset: u64,
    /// Out: bytes of each BAR that can be mapped (0: none: absent, I/O,
    /// or not page-aligned on the lender).
    pub bar_size: [u64; SISCI_DEV_NUM_BARS],
    /// Out: PCI vendor id.
    pub vendor: u16,
    /// Out: PCI device id.
    pub device: u16,
    /// Out: class code (24 bits).
    pub class: u32,
}
/// Size of [`SisciDevBorrow`]'s first version.
pub const SISCI_DEV_BORROW_SIZE_V1: usize = 80;
const _: () = assert!(core::mem::size_of::<SisciDevBorrow>() == SISCI_DEV_BORROW_SIZE_V1);
/// Borrows a device lent by some node for this process
/// (`SCIBorrowDevice`): its BARs can be mapped, its memory decoding and
/// bus mastering are on, and segments can be mapped for it
/// ([`SISCI_IOC_DEV_MAP`]). Needs `CAP_SYS_RAWIO` (the device's DMA
/// reaches any node's memory through the direct window). `ENOENT` no such
/// device, `EBUSY` held (see [`SISCI_DEV_SHARED`]), `EHOSTUNREACH` its
/// lender is not up, `ENODEV` no adapter or no `rsio_lend` lender there,
/// `EOPNOTSUPP` the device's driver model bypasses the DMA API, `EPERM`.
/// Returned with [`SISCI_IOC_DEV_RETURN`] or when the file is closed (the
/// process exits or dies): the last borrower's return stops and resets
/// the device on its lender.
pub const SISCI_IOC_DEV_BORROW: u32 = rsio_iowr(0x55, core::mem::size_of::<SisciDevBorrow>());
/// Returns a borrowed device (`SisciHandle::handle`): its BAR mappings
/// are revoked (accesses raise `SIGBUS`), the segments mapped for it are
/// released, then the device is returned.
pub const SISCI_IOC_DEV_RETURN: u32 = rsio_iowr(0x56, core::mem::size_of::<SisciHandle>());

/// [`SisciDevMap`] flag: `segment` is a connection (a remote segment,
/// also one on this node, or a multicast group: the device's writes there
/// reach every member); without it, a local segment.
pub const SISCI_DEV_MAP_REMOTE: u32 = 1 << 0;

/// Argument of [`SISCI_IOC_DEV_MAP`] and [`SISCI_IOC_DEV_UNMAP`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciDevMap {
    /// `flags`: [`SISCI_DEV_MAP_REMOTE`].
    pub header: ArgHeader,
    /// In: a borrowed device of this file.
    pub device: u32,
    /// In: a local segment (prepared) or a connection of this file.
    pub segment: u32,
    /// In: the first byte to map (page-aligned).
    pub offset: u64,
    /// In: bytes to map (0: to the end of the segment).
    pub size: u64,
    /// Out: the address at which the device reaches byte `offset`.
    pub ioaddr: u64,
}
/// Size of [`SisciDevMap`]'s first version.
pub const SISCI_DEV_MAP_SIZE_V1: usize = 40;
const _: () = assert!(core::mem::size_of::<SisciDevMap>() == SISCI_DEV_MAP_SIZE_V1);
/// Maps a segment for a borrowed device (`SCIMapLocalSegmentForDevice`,
/// `SCIMapRemoteSegmentForDevice`): `ioaddr` is the bus address the
/// device DMAs to (on its lender's bus). While mapped the segment cannot
/// be removed (`EBUSY`) nor the connection disconnected. Mapping the same
/// pair again counts; each unmap takes one back. `EINVAL` bad range or
/// flags, no such device or segment of this file, or a local segment not
/// prepared; `ENODEV` the device's lender died or took it back; `ERANGE`
/// the range is not contiguous
/// as the device sees it (segments are in chunks of up to 4 MiB),
/// `EACCES` the lender confines the device and the memory is outside
/// what it admits (a multicast group, another node's memory when the
/// segment is on the lender), `ENOTCONN` a lost connection.
pub const SISCI_IOC_DEV_MAP: u32 = rsio_iowr(0x57, core::mem::size_of::<SisciDevMap>());
/// Unmaps what [`SISCI_IOC_DEV_MAP`] mapped (`device`, `segment` and the
/// flag name it; `EINVAL` no such device, `ENOENT` not mapped).
pub const SISCI_IOC_DEV_UNMAP: u32 = rsio_iowr(0x58, core::mem::size_of::<SisciDevMap>());

/// Argument of [`SISCI_IOC_SEG_ADDR`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciSegAddr {
    /// `flags`: [`SISCI_DEV_MAP_REMOTE`] (`handle` is a connection).
    pub header: ArgHeader,
    /// In: a local segment or connection of this file.
    pub handle: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// In: a byte offset in it.
    pub offset: u64,
    /// Out: the bus address at which a PCIe device on this node's bus
    /// reaches that byte (a local segment: its memory; a remote one:
    /// through the adapter's direct window).
    pub ioaddr: u64,
    /// Out: a local segment: the physical address of that byte (0 for a
    /// connection).
    pub phys: u64,
    /// Out: bytes from `offset` that are contiguous at those addresses.
    pub contiguous: u64,
}
/// Size of [`SisciSegAddr`]'s first version.
pub const SISCI_SEG_ADDR_SIZE_V1: usize = 48;
const _: () = assert!(core::mem::size_of::<SisciSegAddr>() == SISCI_SEG_ADDR_SIZE_V1);
/// Reports where a byte of a segment is on this node's bus (`SCIQuery`
/// `SCI_Q_LOCAL_SEGMENT`/`SCI_Q_REMOTE_SEGMENT`). Needs `CAP_SYS_RAWIO`
/// for physical addresses (`phys` reads 0 otherwise). `ERANGE` outside
/// the segment, `EOPNOTSUPP` a connection with no direct window (a
/// multicast group).
pub const SISCI_IOC_SEG_ADDR: u32 = rsio_iowr(0x59, core::mem::size_of::<SisciSegAddr>());

// --- Device memory as a segment

/// Argument of [`SISCI_IOC_SEG_ATTACH_PHYS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SisciSegAttach {
    /// `size`, `flags = 0`.
    pub header: ArgHeader,
    /// In: a local segment of this file created with [`SISCI_SEG_EMPTY`]
    /// and not attached yet.
    pub handle: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// In: the memory's bus address on this node (page-aligned), inside
    /// one memory BAR of a PCI function of this node.
    pub ioaddr: u64,
    /// In: bytes, the segment's size.
    pub size: u64,
}
/// Size of [`SisciSegAttach`]'s first version.
pub const SISCI_SEG_ATTACH_SIZE_V1: usize = 32;
const _: () = assert!(core::mem::size_of::<SisciSegAttach>() == SISCI_SEG_ATTACH_SIZE_V1);
/// Gives an empty segment device memory (`SCIAttachPhysicalMemory`): a
/// range of a memory BAR of a function on this node (a GPU's, an FPGA's,
/// a drive's controller memory buffer). Peers reach it through an inbound
/// window of the adapter that is open only to the nodes connected to the
/// segment (their mappings are uncached; a device on another node cannot
/// be given it). `EPERM` without `CAP_SYS_RAWIO`, `EINVAL` not an empty
/// segment of the file, a size that is not the segment's or an address not
/// page-aligned, `ENXIO` no memory BAR of a function here holds the range
/// (or it is the adapter's own), `ENOSPC` no inbound window left.
pub const SISCI_IOC_SEG_ATTACH_PHYS: u32 = rsio_iowr(0x5A, core::mem::size_of::<SisciSegAttach>());

macro_rules! sisci_structs {
    ($($t:ident, $v1:expr, $flags:expr;)*) => {$(
        impl $t {
            /// The argument layout the kernel checks requests against.
            pub const LAYOUT: ArgLayout = ArgLayout {
                min_size: $v1,
                known_size: core::mem::size_of::<$t>(),
                valid_flags: $flags,
            };
        }
        impl Request for $t {
            fn request() -> Self {
                // SAFETY: Every ABI struct is `repr(C)` of integers: all-zeroes is a valid value.
                let mut v: Self = unsafe { core::mem::zeroed() };
                v.header.size = core::mem::size_of::<$t>() as u32;
                v
            }
        }
    )*};
}
sisci_structs!(
    SisciInfo, SISCI_INFO_SIZE_V1, 0;
    SisciSegCreate, SISCI_SEG_CREATE_SIZE_V1, SISCI_SEG_AUTO_ID | SISCI_SEG_ANY_USER | SISCI_SEG_MULTICAST | SISCI_SEG_USER_MEMORY | SISCI_SEG_EMPTY;
    SisciHandle, SISCI_HANDLE_SIZE_V1, SISCI_AVAILABLE;
    SisciConnect, SISCI_CONNECT_SIZE_V1, SISCI_SEG_MULTICAST;
    SisciSegEvent, SISCI_SEG_EVENT_SIZE_V1, SISCI_NONBLOCK;
    SisciIntrCreate, SISCI_INTR_CREATE_SIZE_V1, SISCI_SEG_AUTO_ID | SISCI_SEG_ANY_USER | SISCI_INTR_DATA;
    SisciIntrConnect, SISCI_INTR_CONNECT_SIZE_V1, SISCI_INTR_DATA;
    SisciIntrTrigger, SISCI_INTR_TRIGGER_SIZE_V1, 0;
    SisciIntrWait, SISCI_INTR_WAIT_SIZE_V1, SISCI_NONBLOCK;
    SisciIntrEventfd, SISCI_INTR_EVENTFD_SIZE_V1, 0;
    SisciDmaStart, SISCI_DMA_START_SIZE_V1, SISCI_DMA_DEVICE;
    SisciDmaWait, SISCI_DMA_WAIT_SIZE_V1, SISCI_NONBLOCK;
    SisciDevBorrow, SISCI_DEV_BORROW_SIZE_V1, SISCI_DEV_SHARED;
    SisciDevMap, SISCI_DEV_MAP_SIZE_V1, SISCI_DEV_MAP_REMOTE;
    SisciSegAddr, SISCI_SEG_ADDR_SIZE_V1, SISCI_DEV_MAP_REMOTE;
    SisciSegAttach, SISCI_SEG_ATTACH_SIZE_V1, 0;
);

/// The `mmap(2)` offset of a handle's memory.
pub const fn sisci_mmap_offset(handle: u32) -> u64 {
    (handle as u64) << SISCI_MMAP_SHIFT
}
