//! The `/dev/sisci` ABI as the fuzzer sees it: every ioctl (0x40..0x5A)
//! with its argument layout, the errnos it may return (what uapi/src/sisci.rs
//! documents plus what the kernel side, sisci/*.rs, can return on the way),
//! the fields a mutation may set, and the objects of the open file that
//! decide whether a call must fail.

use crate::fuzz_common::{f, list_fields, EmbRegion, Field, Ioctl, Ptr, LIST_ENTRIES};
use rsio_uapi::sisci::*;
use rsio_uapi::*;
use std::mem::offset_of;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Info,
    SegCreate,
    SegRemove,
    SegPrepare,
    SegSetAvailable,
    SegConnect,
    SegDisconnect,
    SegWaitEvent,
    SegList,
    SegState,
    IntrCreate,
    IntrRemove,
    IntrConnect,
    IntrDisconnect,
    IntrTrigger,
    IntrWait,
    IntrEventfd,
    DmaQueueCreate,
    DmaQueueRemove,
    DmaStart,
    DmaWait,
    DevBorrow,
    DevReturn,
    DevMap,
    DevUnmap,
    SegAddr,
    SegAttachPhys,
}

use libc::{
    E2BIG, EACCES, EAGAIN, EBADF, EBUSY, ECONNREFUSED, ECONNRESET, EEXIST, EFAULT, EHOSTUNREACH,
    EINTR, EINVAL, EIO, EMSGSIZE, ENOBUFS, ENODEV, ENOENT, ENOMEM, ENOSPC, ENOTCONN, ENXIO,
    EOPNOTSUPP, EOVERFLOW, EPERM, EPROTO, ERANGE, ETIMEDOUT,
};

/// Every dispatched ioctl: the argument checks (`Arg::read`).
pub(crate) const ARG_ERRNOS: &[i32] = &[EINVAL, E2BIG, EFAULT];
/// A request to a peer's `rsio_sisci` through the fabric core
/// (`Cluster::request`, `send`) and the owner's answer.
const REQUEST: &[i32] = &[
    EHOSTUNREACH,
    ETIMEDOUT,
    EINTR,
    ECONNRESET,
    EIO,
    EAGAIN,
    ENOMEM,
    EOPNOTSUPP,
    EPROTO,
];

/// What an ioctl may fail with beyond the argument checks.
#[derive(Clone, Copy)]
pub(crate) struct Rules {
    /// Errnos beyond [`ARG_ERRNOS`] (and [`REQUEST`] if `remote`).
    pub(crate) errnos: &'static [i32],
    /// Sends a request to a node (the errnos of [`REQUEST`] too).
    pub(crate) remote: bool,
}

pub(crate) type Known = Ioctl<Op, Rules>;

/// An ioctl that stays on this node.
const fn here(errnos: &'static [i32]) -> Rules {
    Rules {
        errnos,
        remote: false,
    }
}

/// An ioctl that sends a request to a node.
const fn remote(errnos: &'static [i32]) -> Rules {
    Rules {
        errnos,
        remote: true,
    }
}

/// A known ioctl; `valid`: per cent of the valid operations.
const fn k(
    op: Op,
    name: &'static str,
    cmd: u32,
    min: usize,
    flags: u32,
    valid: u64,
    rules: Rules,
) -> Known {
    Ioctl {
        op,
        name,
        cmd,
        min,
        flags,
        valid,
        rules,
    }
}

const SEG_FLAGS: u32 = SISCI_SEG_AUTO_ID
    | SISCI_SEG_ANY_USER
    | SISCI_SEG_MULTICAST
    | SISCI_SEG_USER_MEMORY
    | SISCI_SEG_EMPTY;
const INTR_FLAGS: u32 = SISCI_SEG_AUTO_ID | SISCI_SEG_ANY_USER | SISCI_INTR_DATA;

pub(crate) const KNOWN: &[Known] = &[
    k(
        Op::Info,
        "INFO",
        SISCI_IOC_INFO,
        SISCI_INFO_SIZE_V1,
        0,
        1,
        here(&[]),
    ),
    // ENOSPC: no free id or handle; EBUSY/ENOSPC: the multicast group.
    k(
        Op::SegCreate,
        "SEG_CREATE",
        SISCI_IOC_SEG_CREATE,
        SISCI_SEG_CREATE_SIZE_V1,
        SEG_FLAGS,
        8,
        here(&[EEXIST, ENOMEM, ENOSPC, EBUSY, EFAULT]),
    ),
    // EBUSY: mapped for a borrowed device (DEV_MAP).
    k(
        Op::SegRemove,
        "SEG_REMOVE",
        SISCI_IOC_SEG_REMOVE,
        SISCI_HANDLE_SIZE_V1,
        0,
        5,
        here(&[ENOMEM, EBUSY]),
    ),
    k(
        Op::SegPrepare,
        "SEG_PREPARE",
        SISCI_IOC_SEG_PREPARE,
        SISCI_HANDLE_SIZE_V1,
        0,
        4,
        here(&[ENODEV]),
    ),
    k(
        Op::SegSetAvailable,
        "SEG_SET_AVAILABLE",
        SISCI_IOC_SEG_SET_AVAILABLE,
        SISCI_HANDLE_SIZE_V1,
        SISCI_AVAILABLE,
        5,
        here(&[ENOMEM]),
    ),
    // ENOTCONN: revoked while the chunk addresses were fetched; ENOSPC:
    // no handle or (multicast) no translated-window slot.
    k(
        Op::SegConnect,
        "SEG_CONNECT",
        SISCI_IOC_SEG_CONNECT,
        SISCI_CONNECT_SIZE_V1,
        SISCI_SEG_MULTICAST,
        9,
        remote(&[ENOENT, ECONNREFUSED, EACCES, ENOSPC, ENOTCONN]),
    ),
    // EBUSY: mapped for a borrowed device (DEV_MAP).
    k(
        Op::SegDisconnect,
        "SEG_DISCONNECT",
        SISCI_IOC_SEG_DISCONNECT,
        SISCI_HANDLE_SIZE_V1,
        0,
        4,
        here(&[EBUSY]),
    ),
    k(
        Op::SegWaitEvent,
        "SEG_WAIT_EVENT",
        SISCI_IOC_SEG_WAIT_EVENT,
        SISCI_SEG_EVENT_SIZE_V1,
        SISCI_NONBLOCK,
        3,
        here(&[ETIMEDOUT, EAGAIN, EINTR]),
    ),
    k(
        Op::SegList,
        "SEG_LIST",
        SISCI_IOC_SEG_LIST,
        RSIO_LIST_SIZE_V1,
        0,
        2,
        here(&[ENOMEM]),
    ),
    k(
        Op::SegState,
        "SEG_STATE",
        SISCI_IOC_SEG_STATE,
        SISCI_HANDLE_SIZE_V1,
        0,
        1,
        here(&[]),
    ),
    k(
        Op::IntrCreate,
        "INTR_CREATE",
        SISCI_IOC_INTR_CREATE,
        SISCI_INTR_CREATE_SIZE_V1,
        INTR_FLAGS,
        4,
        here(&[EEXIST, ENOSPC, ENOMEM]),
    ),
    k(
        Op::IntrRemove,
        "INTR_REMOVE",
        SISCI_IOC_INTR_REMOVE,
        SISCI_HANDLE_SIZE_V1,
        0,
        3,
        here(&[]),
    ),
    k(
        Op::IntrConnect,
        "INTR_CONNECT",
        SISCI_IOC_INTR_CONNECT,
        SISCI_INTR_CONNECT_SIZE_V1,
        SISCI_INTR_DATA,
        5,
        remote(&[ENOENT, EACCES, ENOSPC]),
    ),
    k(
        Op::IntrDisconnect,
        "INTR_DISCONNECT",
        SISCI_IOC_INTR_DISCONNECT,
        SISCI_HANDLE_SIZE_V1,
        0,
        2,
        here(&[]),
    ),
    // ENOENT never reaches the caller (it becomes ENOTCONN).
    k(
        Op::IntrTrigger,
        "INTR_TRIGGER",
        SISCI_IOC_INTR_TRIGGER,
        SISCI_INTR_TRIGGER_SIZE_V1,
        0,
        4,
        remote(&[ENOTCONN, ENOBUFS]),
    ),
    k(
        Op::IntrWait,
        "INTR_WAIT",
        SISCI_IOC_INTR_WAIT,
        SISCI_INTR_WAIT_SIZE_V1,
        SISCI_NONBLOCK,
        4,
        here(&[ETIMEDOUT, EAGAIN, EINTR, EMSGSIZE]),
    ),
    // EBADF: fd is no open file; EINVAL: not an eventfd.
    k(
        Op::IntrEventfd,
        "INTR_EVENTFD",
        SISCI_IOC_INTR_EVENTFD,
        SISCI_INTR_EVENTFD_SIZE_V1,
        0,
        2,
        here(&[EBADF, ENOMEM]),
    ),
    k(
        Op::DmaQueueCreate,
        "DMA_QUEUE_CREATE",
        SISCI_IOC_DMA_QUEUE_CREATE,
        SISCI_HANDLE_SIZE_V1,
        0,
        3,
        here(&[ENODEV, EBUSY, ENOSPC, ENOMEM]),
    ),
    k(
        Op::DmaQueueRemove,
        "DMA_QUEUE_REMOVE",
        SISCI_IOC_DMA_QUEUE_REMOVE,
        SISCI_HANDLE_SIZE_V1,
        0,
        2,
        here(&[]),
    ),
    // ENODEV: the queue lost its channel (adapter going away), or the
    // device (SISCI_DMA_DEVICE) is gone; EIO: the engine's registers.
    k(
        Op::DmaStart,
        "DMA_START",
        SISCI_IOC_DMA_START,
        SISCI_DMA_START_SIZE_V1,
        SISCI_DMA_DEVICE,
        8,
        here(&[ERANGE, EBUSY, ENOTCONN, ENODEV, ENOMEM, EIO]),
    ),
    k(
        Op::DmaWait,
        "DMA_WAIT",
        SISCI_IOC_DMA_WAIT,
        SISCI_DMA_WAIT_SIZE_V1,
        SISCI_NONBLOCK,
        5,
        here(&[ETIMEDOUT, EINTR]),
    ),
    // The request to the lender (rsio_lend's USER_BORROW): the lender's
    // refusals (ENOENT no such device, EBUSY held, EOPNOTSUPP its driver
    // model bypasses the DMA API, ENODEV no lender there) and what setting
    // the lease up may fail with on either side (windows, translated-window
    // slots: ENOSPC, ERANGE; EOVERFLOW an answer that does not fit); EIO
    // also for a device whose config space reads all-ones; ENOSPC no
    // handle; EPERM without CAP_SYS_RAWIO.
    k(
        Op::DevBorrow,
        "DEV_BORROW",
        SISCI_IOC_DEV_BORROW,
        SISCI_DEV_BORROW_SIZE_V1,
        SISCI_DEV_SHARED,
        3,
        remote(&[EPERM, ENOENT, EBUSY, ENODEV, ENOSPC, ERANGE, EOVERFLOW]),
    ),
    k(
        Op::DevReturn,
        "DEV_RETURN",
        SISCI_IOC_DEV_RETURN,
        SISCI_HANDLE_SIZE_V1,
        0,
        2,
        here(&[]),
    ),
    // ENODEV: the lender died or took the device back (or no fabric);
    // ERANGE: not contiguous for the device; EACCES: confined by the
    // lender; ENOTCONN: a lost connection. A multicast connection asks the
    // lender for the group's slots (USER_MCAST): its refusals (ENOENT no
    // such lease, ENOSPC no slots) and the request's errnos.
    k(
        Op::DevMap,
        "DEV_MAP",
        SISCI_IOC_DEV_MAP,
        SISCI_DEV_MAP_SIZE_V1,
        SISCI_DEV_MAP_REMOTE,
        4,
        remote(&[ENODEV, ERANGE, EACCES, ENOTCONN, ENOENT, ENOSPC, EOVERFLOW]),
    ),
    // ENOENT: not mapped; ENOMEM: the count kept after one unmap.
    k(
        Op::DevUnmap,
        "DEV_UNMAP",
        SISCI_IOC_DEV_UNMAP,
        SISCI_DEV_MAP_SIZE_V1,
        SISCI_DEV_MAP_REMOTE,
        3,
        here(&[ENOENT, ENOMEM]),
    ),
    // ERANGE: outside the segment; EOPNOTSUPP: no direct window to the
    // connection's node (a multicast group).
    k(
        Op::SegAddr,
        "SEG_ADDR",
        SISCI_IOC_SEG_ADDR,
        SISCI_SEG_ADDR_SIZE_V1,
        SISCI_DEV_MAP_REMOTE,
        2,
        here(&[ERANGE, EOPNOTSUPP]),
    ),
    // EPERM: no CAP_SYS_RAWIO; ENXIO: no memory BAR of a function here
    // (other than the adapter) holds the range; ENOSPC: no inbound window
    // left; ENOMEM; ENODEV: the adapter is going away (closing the new
    // window).
    k(
        Op::SegAttachPhys,
        "SEG_ATTACH_PHYS",
        SISCI_IOC_SEG_ATTACH_PHYS,
        SISCI_SEG_ATTACH_SIZE_V1,
        0,
        2,
        here(&[EPERM, ENXIO, ENOSPC, ENOMEM, ENODEV]),
    ),
];

/// What `mmap(2)` of `/dev/sisci` may fail with: the driver's checks
/// (`EINVAL`, `ENOTCONN` for a lost connection, `ENODEV` for a borrowed
/// device whose lender took it back), `remap_pfn_range`'s (`ENOMEM`,
/// `EAGAIN`, `EINVAL`), and the VFS's (`EOVERFLOW` for an offset that
/// overflows, `ENOMEM` without address space).
pub(crate) const MMAP_ERRNOS: &[i32] = &[EINVAL, ENOTCONN, ENODEV, ENOMEM, EAGAIN, EOVERFLOW];

impl Rules {
    /// Whether `errno` is one this ioctl may return.
    pub(crate) fn allows(&self, errno: i32) -> bool {
        ARG_ERRNOS.contains(&errno)
            || self.errnos.contains(&errno)
            || (self.remote && REQUEST.contains(&errno))
    }
}

/// The known ioctl `cmd` is dispatched to: the driver checks the type and
/// the direction (`_IOWR`) first, then the number; the size is the
/// argument's business.
pub(crate) fn dispatch(cmd: u32) -> Option<Known> {
    if ioc_type(cmd) != RSIO_IOC_MAGIC || ioc_dir(cmd) != IOC_READ | IOC_WRITE {
        return None;
    }
    KNOWN.iter().copied().find(|k| ioc_nr(k.cmd) == ioc_nr(cmd))
}

// --- Fields.

/// What a field's values mean, for its boundary values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dom {
    Handle,
    SegId,
    IntrNo,
    Size,
    Node,
    Timeout,
    Adapter,
    Count,
    Len,
    BufLen,
    Fd,
    Capacity,
    EntrySize,
    Reserved,
    /// A user address of registered memory.
    UserAddr,
    /// A fabric device id.
    Fdid,
    /// A BAR number.
    Bar,
    /// A byte offset into a segment (page-aligned where valid).
    Offset,
    /// A bus address of this node (device memory to attach).
    IoAddr,
    /// Output only: the kernel must ignore what comes in.
    Out,
}

pub(crate) const H_HANDLE: usize = offset_of!(SisciHandle, handle);
pub(crate) const H_VALUE: usize = offset_of!(SisciHandle, value);
pub(crate) const SC_ID: usize = offset_of!(SisciSegCreate, segment_id);
pub(crate) const SC_HANDLE: usize = offset_of!(SisciSegCreate, handle);
pub(crate) const SC_SIZE: usize = offset_of!(SisciSegCreate, size);
pub(crate) const SC_UADDR: usize = offset_of!(SisciSegCreate, user_addr);
pub(crate) const CO_NODE: usize = offset_of!(SisciConnect, node);
pub(crate) const CO_ID: usize = offset_of!(SisciConnect, segment_id);
pub(crate) const CO_TIMEOUT: usize = offset_of!(SisciConnect, timeout_ms);
pub(crate) const CO_HANDLE: usize = offset_of!(SisciConnect, handle);
pub(crate) const CO_SIZE: usize = offset_of!(SisciConnect, size);
pub(crate) const EV_HANDLE: usize = offset_of!(SisciSegEvent, handle);
pub(crate) const EV_TIMEOUT: usize = offset_of!(SisciSegEvent, timeout_ms);
pub(crate) const IC_NO: usize = offset_of!(SisciIntrCreate, intr_no);
pub(crate) const IC_HANDLE: usize = offset_of!(SisciIntrCreate, handle);
pub(crate) const ICO_NODE: usize = offset_of!(SisciIntrConnect, node);
pub(crate) const ICO_NO: usize = offset_of!(SisciIntrConnect, intr_no);
pub(crate) const ICO_TIMEOUT: usize = offset_of!(SisciIntrConnect, timeout_ms);
pub(crate) const ICO_HANDLE: usize = offset_of!(SisciIntrConnect, handle);
pub(crate) const IT_HANDLE: usize = offset_of!(SisciIntrTrigger, handle);
pub(crate) const IT_LEN: usize = offset_of!(SisciIntrTrigger, len);
pub(crate) const IT_DATA: usize = offset_of!(SisciIntrTrigger, data);
pub(crate) const IW_HANDLE: usize = offset_of!(SisciIntrWait, handle);
pub(crate) const IW_TIMEOUT: usize = offset_of!(SisciIntrWait, timeout_ms);
pub(crate) const IW_BUF: usize = offset_of!(SisciIntrWait, buf);
pub(crate) const IW_BUF_LEN: usize = offset_of!(SisciIntrWait, buf_len);
pub(crate) const IE_HANDLE: usize = offset_of!(SisciIntrEventfd, handle);
pub(crate) const IE_FD: usize = offset_of!(SisciIntrEventfd, fd);
pub(crate) const DS_QUEUE: usize = offset_of!(SisciDmaStart, queue);
pub(crate) const DS_LOCAL: usize = offset_of!(SisciDmaStart, local);
pub(crate) const DS_REMOTE: usize = offset_of!(SisciDmaStart, remote);
pub(crate) const DS_COUNT: usize = offset_of!(SisciDmaStart, count);
pub(crate) const DS_ENTRIES: usize = offset_of!(SisciDmaStart, entries);
pub(crate) const DW_QUEUE: usize = offset_of!(SisciDmaWait, queue);
pub(crate) const DW_TIMEOUT: usize = offset_of!(SisciDmaWait, timeout_ms);
pub(crate) const DW_STATE: usize = offset_of!(SisciDmaWait, state);
pub(crate) const DW_RESERVED: usize = offset_of!(SisciDmaWait, reserved);
pub(crate) const DS_BAR: usize = offset_of!(SisciDmaStart, bar);
pub(crate) const DS_RESERVED: usize = offset_of!(SisciDmaStart, reserved);
pub(crate) const DB_FDID: usize = offset_of!(SisciDevBorrow, fdid);
pub(crate) const DB_HANDLE: usize = offset_of!(SisciDevBorrow, handle);
pub(crate) const DB_MMAP: usize = offset_of!(SisciDevBorrow, mmap_offset);
pub(crate) const DB_BAR_SIZE: usize = offset_of!(SisciDevBorrow, bar_size);
pub(crate) const DB_VENDOR: usize = offset_of!(SisciDevBorrow, vendor);
pub(crate) const DB_CLASS: usize = offset_of!(SisciDevBorrow, class);
pub(crate) const DM_DEVICE: usize = offset_of!(SisciDevMap, device);
pub(crate) const DM_SEGMENT: usize = offset_of!(SisciDevMap, segment);
pub(crate) const DM_OFFSET: usize = offset_of!(SisciDevMap, offset);
pub(crate) const DM_SIZE: usize = offset_of!(SisciDevMap, size);
pub(crate) const DM_IOADDR: usize = offset_of!(SisciDevMap, ioaddr);
pub(crate) const SA_HANDLE: usize = offset_of!(SisciSegAddr, handle);
pub(crate) const SA_RESERVED: usize = offset_of!(SisciSegAddr, reserved);
pub(crate) const SA_OFFSET: usize = offset_of!(SisciSegAddr, offset);
pub(crate) const SA_IOADDR: usize = offset_of!(SisciSegAddr, ioaddr);
pub(crate) const SA_PHYS: usize = offset_of!(SisciSegAddr, phys);
pub(crate) const SA_CONTIGUOUS: usize = offset_of!(SisciSegAddr, contiguous);
pub(crate) const AT_HANDLE: usize = offset_of!(SisciSegAttach, handle);
pub(crate) const AT_RESERVED: usize = offset_of!(SisciSegAttach, reserved);
pub(crate) const AT_IOADDR: usize = offset_of!(SisciSegAttach, ioaddr);
pub(crate) const AT_SIZE: usize = offset_of!(SisciSegAttach, size);

/// The segment ids (the top 16 below `SISCI_MAX_ID`, far from where
/// `SISCI_SEG_AUTO_ID` starts) of the only segments that are given a real
/// BAR (by the parent): a forked child never connects to them on this node
/// (`make_safe`), and the parent never accesses its connections here to
/// them, so no connection of the fuzzer's writes to a device's registers
/// unawares.
pub(crate) const ATTACH_IDS: std::ops::Range<u32> = SISCI_MAX_ID - 16..SISCI_MAX_ID;

/// The BAR field of `SisciDevBorrow::bar_size`.
pub(crate) const fn db_bar(bar: usize) -> usize {
    DB_BAR_SIZE + 8 * bar
}

/// The fields a mutation may set (embedded pointers are mutated apart).
pub(crate) fn fields(op: Op) -> &'static [Field<Dom>] {
    const INFO: &[Field<Dom>] = &[
        f("node_id", 8, 4, Dom::Out),
        f("max_segment_size", 32, 8, Dom::Out),
        f("reserved", 44, 4, Dom::Out),
    ];
    const SEG_CREATE: &[Field<Dom>] = &[
        f("segment_id", SC_ID, 4, Dom::SegId),
        f("handle", SC_HANDLE, 4, Dom::Out),
        f("size", SC_SIZE, 8, Dom::Size),
        f("mmap_offset", 24, 8, Dom::Out),
        f("user_addr", SC_UADDR, 8, Dom::UserAddr),
    ];
    const HANDLE: &[Field<Dom>] = &[
        f("handle", H_HANDLE, 4, Dom::Handle),
        f("value", H_VALUE, 4, Dom::Reserved),
    ];
    const PREPARE: &[Field<Dom>] = &[
        f("handle", H_HANDLE, 4, Dom::Handle),
        f("value", H_VALUE, 4, Dom::Adapter),
    ];
    const CONNECT: &[Field<Dom>] = &[
        f("node", CO_NODE, 4, Dom::Node),
        f("segment_id", CO_ID, 4, Dom::SegId),
        f("timeout_ms", CO_TIMEOUT, 4, Dom::Timeout),
        f("handle", CO_HANDLE, 4, Dom::Out),
        f("size", CO_SIZE, 8, Dom::Size),
    ];
    const EVENT: &[Field<Dom>] = &[
        f("handle", EV_HANDLE, 4, Dom::Handle),
        f("timeout_ms", EV_TIMEOUT, 4, Dom::Timeout),
        f("event", 16, 4, Dom::Out),
    ];
    const LIST: &[Field<Dom>] =
        &list_fields([Dom::Capacity, Dom::EntrySize, Dom::Out, Dom::Reserved]);
    const INTR_CREATE: &[Field<Dom>] = &[
        f("intr_no", IC_NO, 4, Dom::IntrNo),
        f("handle", IC_HANDLE, 4, Dom::Out),
    ];
    const INTR_CONNECT: &[Field<Dom>] = &[
        f("node", ICO_NODE, 4, Dom::Node),
        f("intr_no", ICO_NO, 4, Dom::IntrNo),
        f("timeout_ms", ICO_TIMEOUT, 4, Dom::Timeout),
        f("handle", ICO_HANDLE, 4, Dom::Out),
    ];
    const TRIGGER: &[Field<Dom>] = &[
        f("handle", IT_HANDLE, 4, Dom::Handle),
        f("len", IT_LEN, 4, Dom::Len),
    ];
    const WAIT: &[Field<Dom>] = &[
        f("handle", IW_HANDLE, 4, Dom::Handle),
        f("timeout_ms", IW_TIMEOUT, 4, Dom::Timeout),
        f("buf_len", IW_BUF_LEN, 4, Dom::BufLen),
        f("len", 28, 4, Dom::Out),
        f("pending", 36, 4, Dom::Out),
    ];
    const EVENTFD: &[Field<Dom>] = &[
        f("handle", IE_HANDLE, 4, Dom::Handle),
        f("fd", IE_FD, 4, Dom::Fd),
    ];
    const START: &[Field<Dom>] = &[
        f("queue", DS_QUEUE, 4, Dom::Handle),
        f("local", DS_LOCAL, 4, Dom::Handle),
        f("remote", DS_REMOTE, 4, Dom::Handle),
        f("count", DS_COUNT, 4, Dom::Count),
        f("bar", DS_BAR, 4, Dom::Bar),
        f("reserved", DS_RESERVED, 4, Dom::Reserved),
    ];
    const DWAIT: &[Field<Dom>] = &[
        f("queue", DW_QUEUE, 4, Dom::Handle),
        f("timeout_ms", DW_TIMEOUT, 4, Dom::Timeout),
        f("state", DW_STATE, 4, Dom::Out),
        f("reserved", DW_RESERVED, 4, Dom::Reserved),
    ];
    // The outputs of DEV_BORROW, DEV_MAP and SEG_ADDR must come in as
    // zero (EINVAL otherwise): reserved on input.
    const BORROW: &[Field<Dom>] = &[
        f("fdid", DB_FDID, 4, Dom::Fdid),
        f("handle", DB_HANDLE, 4, Dom::Reserved),
        f("mmap_offset", DB_MMAP, 8, Dom::Reserved),
        f("bar_size[0]", db_bar(0), 8, Dom::Reserved),
        f("bar_size[5]", db_bar(5), 8, Dom::Reserved),
        f("vendor, device", DB_VENDOR, 4, Dom::Reserved),
        f("class", DB_CLASS, 4, Dom::Reserved),
    ];
    const DEV_MAP: &[Field<Dom>] = &[
        f("device", DM_DEVICE, 4, Dom::Handle),
        f("segment", DM_SEGMENT, 4, Dom::Handle),
        f("offset", DM_OFFSET, 8, Dom::Offset),
        f("size", DM_SIZE, 8, Dom::Size),
        f("ioaddr", DM_IOADDR, 8, Dom::Reserved),
    ];
    const SEG_ADDR: &[Field<Dom>] = &[
        f("handle", SA_HANDLE, 4, Dom::Handle),
        f("reserved", SA_RESERVED, 4, Dom::Reserved),
        f("offset", SA_OFFSET, 8, Dom::Offset),
        f("ioaddr", SA_IOADDR, 8, Dom::Reserved),
        f("phys", SA_PHYS, 8, Dom::Reserved),
        f("contiguous", SA_CONTIGUOUS, 8, Dom::Reserved),
    ];
    const ATTACH: &[Field<Dom>] = &[
        f("handle", AT_HANDLE, 4, Dom::Handle),
        f("reserved", AT_RESERVED, 4, Dom::Reserved),
        f("ioaddr", AT_IOADDR, 8, Dom::IoAddr),
        f("size", AT_SIZE, 8, Dom::Size),
    ];
    match op {
        Op::Info => INFO,
        Op::SegCreate => SEG_CREATE,
        Op::SegPrepare => PREPARE,
        Op::SegRemove
        | Op::SegSetAvailable
        | Op::SegDisconnect
        | Op::SegState
        | Op::IntrRemove
        | Op::IntrDisconnect
        | Op::DmaQueueCreate
        | Op::DmaQueueRemove
        | Op::DevReturn => HANDLE,
        Op::SegConnect => CONNECT,
        Op::SegWaitEvent => EVENT,
        Op::SegList => LIST,
        Op::IntrCreate => INTR_CREATE,
        Op::IntrConnect => INTR_CONNECT,
        Op::IntrTrigger => TRIGGER,
        Op::IntrWait => WAIT,
        Op::IntrEventfd => EVENTFD,
        Op::DmaStart => START,
        Op::DmaWait => DWAIT,
        Op::DevBorrow => BORROW,
        Op::DevMap | Op::DevUnmap => DEV_MAP,
        Op::SegAddr => SEG_ADDR,
        Op::SegAttachPhys => ATTACH,
    }
}

/// The embedded user pointer of an ioctl's struct, if it has one.
pub(crate) fn embedded(op: Op) -> Option<(usize, EmbRegion)> {
    match op {
        // The list array and the buffer the kernel writes, the payload and
        // the DMA entries it reads.
        Op::SegList => Some((LIST_ENTRIES, EmbRegion::Entries)),
        Op::IntrTrigger => Some((IT_DATA, EmbRegion::Data)),
        Op::IntrWait => Some((IW_BUF, EmbRegion::Data)),
        Op::DmaStart => Some((DS_ENTRIES, EmbRegion::Entries)),
        _ => None,
    }
}

/// The timeout field of the ioctls that wait (None: it does not wait).
pub(crate) fn timeout_field(op: Op) -> Option<usize> {
    match op {
        Op::SegWaitEvent => Some(EV_TIMEOUT),
        Op::IntrWait => Some(IW_TIMEOUT),
        Op::DmaWait => Some(DW_TIMEOUT),
        Op::SegConnect => Some(CO_TIMEOUT),
        Op::IntrConnect => Some(ICO_TIMEOUT),
        _ => None,
    }
}

// --- The objects of the open file.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Seg,
    Conn,
    LocalIntr,
    RemoteIntr,
    Queue,
    /// A borrowed device.
    Dev,
}

/// An object the current file holds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Obj {
    pub(crate) handle: u32,
    pub(crate) kind: Kind,
    /// Segment id or interrupt number.
    pub(crate) id: u32,
    /// Segments and connections: bytes.
    pub(crate) size: u64,
    /// Interrupts: a data interrupt.
    pub(crate) data: bool,
    /// Segments: prepared.
    pub(crate) prepared: bool,
    /// Segments and connections: multicast.
    pub(crate) mc: bool,
    /// Segments: created `SISCI_SEG_EMPTY` and not attached yet (no
    /// memory).
    pub(crate) empty: bool,
    /// Segments: device memory (attached); connections: to device memory
    /// of this node (the owner's inbound window).
    pub(crate) io: bool,
    /// Device memory: its bus address.
    pub(crate) ioaddr: u64,
    /// Connections and remote interrupts: the owner node.
    pub(crate) node: u32,
    /// Devices: a shared borrow.
    pub(crate) shared: bool,
    /// Devices: the bytes of each BAR that can be mapped.
    pub(crate) bars: [u64; SISCI_DEV_NUM_BARS],
}

impl Obj {
    pub(crate) fn new(handle: u32, kind: Kind, id: u32) -> Obj {
        Obj {
            handle,
            kind,
            id,
            size: 0,
            data: false,
            prepared: false,
            mc: false,
            empty: false,
            io: false,
            ioaddr: 0,
            node: 0,
            shared: false,
            bars: [0; SISCI_DEV_NUM_BARS],
        }
    }

    /// Devices: the mappable bytes of BAR `bar` (0: none, or no such BAR).
    pub(crate) fn bar(&self, bar: u64) -> u64 {
        self.bars.get(bar as usize).copied().unwrap_or(0)
    }
}

/// A segment or connection mapped for a borrowed device (`DEV_MAP`),
/// as the kernel counts it: `count` maps not yet unmapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DevMapRec {
    pub(crate) dev: u32,
    pub(crate) seg: u32,
    /// `seg` is a connection (`SISCI_DEV_MAP_REMOTE`).
    pub(crate) remote: bool,
    pub(crate) count: u32,
}

/// The prefix of a must-fail reason that also says the errno: the
/// kernel checks it last, after everything the rules before it checked.
pub(crate) fn exact(errno: i32, why: String) -> String {
    exact_any(&[errno], why)
}

/// As [`exact`], for a failure that may have one of `errnos` (a check
/// the state decides, and what the kernel may meet before it that the
/// state does not show).
pub(crate) fn exact_any(errnos: &[i32], why: String) -> String {
    let names: Vec<String> = errnos
        .iter()
        .map(|e| crate::fuzz_common::errname(*e))
        .collect();
    format!("[{}] {why}", names.join("|"))
}

/// The errnos [`exact`] and [`exact_any`] can demand.
const EXACT: &[i32] = &[
    EBUSY, EPERM, ENOENT, EINVAL, ENXIO, EOPNOTSUPP, ENODEV, ENOMEM, ENOTCONN, ENOSPC,
];

/// The errnos a must-fail reason made by [`exact_any`] allows.
pub(crate) fn exact_errnos(why: &str) -> Option<Vec<i32>> {
    let names = why.strip_prefix('[')?.split_once(']')?.0;
    names
        .split('|')
        .map(|n| {
            EXACT
                .iter()
                .copied()
                .find(|e| crate::fuzz_common::errname(*e) == n)
        })
        .collect()
}

/// The errno a must-fail reason made by [`exact`] demands.
#[cfg(test)]
pub(crate) fn exact_errno(why: &str) -> Option<i32> {
    match exact_errnos(why)?[..] {
        [e] => Some(e),
        _ => None,
    }
}

/// The fabric and adapter, from `INFO`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Fabric {
    pub(crate) node: u32,
    pub(crate) nodes: u32,
    pub(crate) caps: u32,
    pub(crate) mc_groups: u32,
    pub(crate) peer: u32,
}

/// Where the kernel reads or writes what an embedded pointer names: why
/// it must fail (None: the pointer is fine for `need` bytes).
pub(crate) fn bad_emb(p: Ptr, need: u64, kernel_writes: bool) -> Option<String> {
    if need == 0 {
        return None;
    }
    match p {
        p if p.is_bad() => Some(format!("embedded pointer {p:?} for {need} bytes")),
        Ptr::Straddle(n) if (n as u64) < need => Some(format!(
            "embedded pointer straddles a guard page ({n} of {need} bytes)"
        )),
        Ptr::ReadOnly if kernel_writes => {
            Some("the kernel must write to a read-only buffer".into())
        }
        _ => None,
    }
}
