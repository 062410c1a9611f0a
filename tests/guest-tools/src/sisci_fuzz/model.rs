//! The `/dev/sisci` ABI as the fuzzer sees it: every ioctl (0x40..0x54)
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
}

use libc::{
    E2BIG, EACCES, EAGAIN, EBADF, EBUSY, ECONNREFUSED, ECONNRESET, EEXIST, EFAULT, EHOSTUNREACH,
    EINTR, EINVAL, EIO, EMSGSIZE, ENOBUFS, ENODEV, ENOENT, ENOMEM, ENOSPC, ENOTCONN, EOPNOTSUPP,
    EPROTO, ERANGE, ETIMEDOUT,
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

const SEG_FLAGS: u32 =
    SISCI_SEG_AUTO_ID | SISCI_SEG_ANY_USER | SISCI_SEG_MULTICAST | SISCI_SEG_USER_MEMORY;
const INTR_FLAGS: u32 = SISCI_SEG_AUTO_ID | SISCI_SEG_ANY_USER | SISCI_INTR_DATA;

pub(crate) const KNOWN: &[Known] = &[
    k(
        Op::Info,
        "INFO",
        SISCI_IOC_INFO,
        SISCI_INFO_SIZE_V1,
        0,
        3,
        here(&[]),
    ),
    // ENOSPC: no free id or handle; EBUSY/ENOSPC: the multicast group.
    k(
        Op::SegCreate,
        "SEG_CREATE",
        SISCI_IOC_SEG_CREATE,
        SISCI_SEG_CREATE_SIZE_V1,
        SEG_FLAGS,
        10,
        here(&[EEXIST, ENOMEM, ENOSPC, EBUSY, EFAULT]),
    ),
    k(
        Op::SegRemove,
        "SEG_REMOVE",
        SISCI_IOC_SEG_REMOVE,
        SISCI_HANDLE_SIZE_V1,
        0,
        5,
        here(&[ENOMEM]),
    ),
    k(
        Op::SegPrepare,
        "SEG_PREPARE",
        SISCI_IOC_SEG_PREPARE,
        SISCI_HANDLE_SIZE_V1,
        0,
        5,
        here(&[ENODEV]),
    ),
    k(
        Op::SegSetAvailable,
        "SEG_SET_AVAILABLE",
        SISCI_IOC_SEG_SET_AVAILABLE,
        SISCI_HANDLE_SIZE_V1,
        SISCI_AVAILABLE,
        6,
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
        10,
        remote(&[ENOENT, ECONNREFUSED, EACCES, ENOSPC, ENOTCONN]),
    ),
    k(
        Op::SegDisconnect,
        "SEG_DISCONNECT",
        SISCI_IOC_SEG_DISCONNECT,
        SISCI_HANDLE_SIZE_V1,
        0,
        4,
        here(&[]),
    ),
    k(
        Op::SegWaitEvent,
        "SEG_WAIT_EVENT",
        SISCI_IOC_SEG_WAIT_EVENT,
        SISCI_SEG_EVENT_SIZE_V1,
        SISCI_NONBLOCK,
        4,
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
        5,
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
        6,
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
        7,
        remote(&[ENOTCONN, ENOBUFS]),
    ),
    k(
        Op::IntrWait,
        "INTR_WAIT",
        SISCI_IOC_INTR_WAIT,
        SISCI_INTR_WAIT_SIZE_V1,
        SISCI_NONBLOCK,
        5,
        here(&[ETIMEDOUT, EAGAIN, EINTR, EMSGSIZE]),
    ),
    // EBADF: fd is no open file; EINVAL: not an eventfd.
    k(
        Op::IntrEventfd,
        "INTR_EVENTFD",
        SISCI_IOC_INTR_EVENTFD,
        SISCI_INTR_EVENTFD_SIZE_V1,
        0,
        3,
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
    // ENODEV: the queue lost its channel (adapter going away); EIO: the
    // engine's registers.
    k(
        Op::DmaStart,
        "DMA_START",
        SISCI_IOC_DMA_START,
        SISCI_DMA_START_SIZE_V1,
        0,
        8,
        here(&[ERANGE, EBUSY, ENOTCONN, ENODEV, ENOMEM, EIO]),
    ),
    k(
        Op::DmaWait,
        "DMA_WAIT",
        SISCI_IOC_DMA_WAIT,
        SISCI_DMA_WAIT_SIZE_V1,
        SISCI_NONBLOCK,
        6,
        here(&[ETIMEDOUT, EINTR]),
    ),
];

/// What `mmap(2)` of `/dev/sisci` may fail with: the driver's checks
/// (`EINVAL`, `ENOTCONN` for a lost connection), `remap_pfn_range`'s
/// (`ENOMEM`, `EAGAIN`, `EINVAL`), and the VFS's (`EOVERFLOW` for an offset
/// that overflows, `ENOMEM` without address space).
pub(crate) const MMAP_ERRNOS: &[i32] = &[EINVAL, ENOTCONN, ENOMEM, EAGAIN, EOVERFLOW];
use libc::EOVERFLOW;

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
    ];
    const DWAIT: &[Field<Dom>] = &[
        f("queue", DW_QUEUE, 4, Dom::Handle),
        f("timeout_ms", DW_TIMEOUT, 4, Dom::Timeout),
        f("state", DW_STATE, 4, Dom::Out),
        f("reserved", DW_RESERVED, 4, Dom::Reserved),
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
        | Op::DmaQueueRemove => HANDLE,
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
    /// Connections and remote interrupts: the owner node.
    pub(crate) node: u32,
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
            node: 0,
        }
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
