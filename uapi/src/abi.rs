// SPDX-License-Identifier: GPL-2.0

//! The rsio ioctl ABI: ioctl numbers, argument structs and their validation.
//!
//! This file is compiled twice: as the `rsio-uapi` crate for user space and as
//! a module inside each rsio kernel module. It must stay `core`-only and free
//! of crate attributes. The C view of the same ABI is `uapi/include/rsio.h`;
//! both carry the same size assertions.
//!
//! # Conventions
//!
//! - Every argument struct starts with [`ArgHeader`]: `size` is the size of
//!   the struct as the caller knows it, `flags` must only hold flags defined
//!   for that ioctl (unknown flags are rejected with `EINVAL`).
//! - The ioctl number encodes the size too; it must equal `size`.
//! - Structs only grow at the end. The kernel accepts a caller's struct that is
//!   older (smaller, but at least the first version's size) or newer (larger,
//!   if every byte it does not know is zero), like `copy_struct_from_user()`.
//! - There is no implicit padding: every struct spells out its reserved bytes,
//!   which must be zero on input.

/// The ioctl "type" byte of every rsio ioctl (free in Linux's
/// Documentation/userspace-api/ioctl/ioctl-number.rst).
pub const RSIO_IOC_MAGIC: u32 = 0xD1;

/// Major ABI version: bumped on an incompatible change (never, we hope).
pub const RSIO_ABI_MAJOR: u32 = 1;
/// Minor ABI version: bumped when ioctls or struct fields are added.
pub const RSIO_ABI_MINOR: u32 = 0;

/// The suite's release, reported by [`RSIO_IOC_VERSION`].
pub const RSIO_RELEASE: &str = "0.1.0";

/// The path of the fabric core's character device.
pub const RSIO_DEVICE_PATH: &str = "/dev/rsio";

/// The largest argument struct the kernel will look at.
pub const RSIO_MAX_ARG_SIZE: usize = 4096;

// --- Linux's generic ioctl number encoding (include/uapi/asm-generic/ioctl.h).

const IOC_NRBITS: u32 = 8;
const IOC_TYPEBITS: u32 = 8;
const IOC_SIZEBITS: u32 = 14;
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;

/// `_IOC_NONE`: no data transfer.
pub const IOC_NONE: u32 = 0;
/// `_IOC_WRITE`: user space writes, the kernel reads.
pub const IOC_WRITE: u32 = 1;
/// `_IOC_READ`: the kernel writes, user space reads.
pub const IOC_READ: u32 = 2;

/// Builds an ioctl number, like `_IOC(dir, type, nr, size)`.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    (dir << IOC_DIRSHIFT)
        | (ty << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
        | ((size as u32 & ((1 << IOC_SIZEBITS) - 1)) << IOC_SIZESHIFT)
}

/// `_IOC_DIR(cmd)`.
pub const fn ioc_dir(cmd: u32) -> u32 {
    (cmd >> IOC_DIRSHIFT) & 0x3
}

/// `_IOC_TYPE(cmd)`.
pub const fn ioc_type(cmd: u32) -> u32 {
    (cmd >> IOC_TYPESHIFT) & ((1 << IOC_TYPEBITS) - 1)
}

/// `_IOC_NR(cmd)`.
pub const fn ioc_nr(cmd: u32) -> u32 {
    (cmd >> IOC_NRSHIFT) & ((1 << IOC_NRBITS) - 1)
}

/// `_IOC_SIZE(cmd)`.
pub const fn ioc_size(cmd: u32) -> usize {
    ((cmd >> IOC_SIZESHIFT) & ((1 << IOC_SIZEBITS) - 1)) as usize
}

/// `_IOWR(RSIO_IOC_MAGIC, nr, size)`.
pub const fn rsio_iowr(nr: u32, size: usize) -> u32 {
    ioc(IOC_READ | IOC_WRITE, RSIO_IOC_MAGIC, nr, size)
}

// --- The argument header and its validation.

/// The first 8 bytes of every ioctl argument struct.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArgHeader {
    /// Size in bytes of the whole struct as the caller knows it.
    pub size: u32,
    /// Request flags; each ioctl defines its own, all others must be 0.
    pub flags: u32,
}

/// Why an ioctl argument was refused, with the errno the kernel returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgError {
    /// `header.size` differs from the size encoded in the ioctl number.
    SizeMismatch,
    /// The struct is smaller than the ioctl's first version.
    TooSmall,
    /// The struct is larger than [`RSIO_MAX_ARG_SIZE`].
    TooLarge,
    /// A newer caller set bytes this kernel does not know.
    UnknownTrailingBytes,
    /// `header.flags` holds flags this ioctl does not define.
    UnknownFlags,
    /// A reserved field is not zero.
    ReservedNotZero,
}

impl ArgError {
    /// The (positive) errno value the kernel returns for this error.
    pub const fn errno(self) -> i32 {
        match self {
            ArgError::UnknownTrailingBytes | ArgError::TooLarge => 7, // E2BIG
            _ => 22,                                                  // EINVAL
        }
    }

    /// A one-line description for logs and user-space messages.
    pub const fn describe(self) -> &'static str {
        match self {
            ArgError::SizeMismatch => "struct size field differs from the ioctl number's size",
            ArgError::TooSmall => "struct is smaller than the ioctl's first version",
            ArgError::TooLarge => "struct is larger than the ABI allows",
            ArgError::UnknownTrailingBytes => "struct has non-zero bytes this kernel does not know",
            ArgError::UnknownFlags => "flags holds bits this ioctl does not define",
            ArgError::ReservedNotZero => "a reserved field is not zero",
        }
    }
}

/// Describes one ioctl's argument struct for [`check_arg`].
#[derive(Clone, Copy, Debug)]
pub struct ArgLayout {
    /// Size of the ioctl's first version: callers must pass at least this.
    pub min_size: usize,
    /// Size of the struct as this build knows it.
    pub known_size: usize,
    /// Flags the ioctl accepts.
    pub valid_flags: u32,
}

/// Checks an ioctl argument's header against the ioctl number and the
/// struct's layout. `tail` yields the bytes beyond `known_size` that the
/// caller passed (only read when the caller's struct is newer than ours).
///
/// Returns how many bytes to copy in and out: `min(size, known_size)`.
pub fn check_arg(
    cmd: u32,
    header: ArgHeader,
    layout: ArgLayout,
    tail_is_zero: impl FnOnce(usize) -> bool,
) -> Result<usize, ArgError> {
    let size = header.size as usize;
    if size != ioc_size(cmd) {
        return Err(ArgError::SizeMismatch);
    }
    if size < layout.min_size {
        return Err(ArgError::TooSmall);
    }
    if size > RSIO_MAX_ARG_SIZE {
        return Err(ArgError::TooLarge);
    }
    if size > layout.known_size && !tail_is_zero(size - layout.known_size) {
        return Err(ArgError::UnknownTrailingBytes);
    }
    if header.flags & !layout.valid_flags != 0 {
        return Err(ArgError::UnknownFlags);
    }
    Ok(if size < layout.known_size {
        size
    } else {
        layout.known_size
    })
}

// --- RSIO_IOC_VERSION

/// Feature bit: the fabric core (`rsio_fabric`) is loaded. Always set.
pub const RSIO_FEATURE_FABRIC: u64 = 1 << 0;

/// Length of [`RsioVersion::release`].
pub const RSIO_RELEASE_LEN: usize = 32;
/// Length of [`RsioVersion::kernel_release`]: `__NEW_UTS_LEN + 1` plus padding.
pub const RSIO_KERNEL_RELEASE_LEN: usize = 72;

/// Argument of [`RSIO_IOC_VERSION`]: which ABI and features the loaded
/// modules speak. Input: `header` only. Output: everything else.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RsioVersion {
    /// `size = size_of::<RsioVersion>()`, `flags = 0`.
    pub header: ArgHeader,
    /// [`RSIO_ABI_MAJOR`] of the kernel side.
    pub abi_major: u32,
    /// [`RSIO_ABI_MINOR`] of the kernel side.
    pub abi_minor: u32,
    /// `RSIO_FEATURE_*` bits of the loaded modules.
    pub features: u64,
    /// The modules' [`RSIO_RELEASE`], NUL-terminated.
    pub release: [u8; RSIO_RELEASE_LEN],
    /// The running kernel's release (`uname -r`), NUL-terminated.
    pub kernel_release: [u8; RSIO_KERNEL_RELEASE_LEN],
}

/// Size of [`RsioVersion`]'s first (and current) version.
pub const RSIO_VERSION_SIZE_V1: usize = 128;

const _: () = assert!(core::mem::size_of::<ArgHeader>() == 8);
const _: () = assert!(core::mem::size_of::<RsioVersion>() == RSIO_VERSION_SIZE_V1);
const _: () = assert!(core::mem::align_of::<RsioVersion>() == 8);

impl RsioVersion {
    /// A request as user space sends it.
    pub const fn request() -> Self {
        RsioVersion {
            header: ArgHeader {
                size: core::mem::size_of::<RsioVersion>() as u32,
                flags: 0,
            },
            abi_major: 0,
            abi_minor: 0,
            features: 0,
            release: [0; RSIO_RELEASE_LEN],
            kernel_release: [0; RSIO_KERNEL_RELEASE_LEN],
        }
    }

    /// The argument layout the kernel checks requests against.
    pub const LAYOUT: ArgLayout = ArgLayout {
        min_size: RSIO_VERSION_SIZE_V1,
        known_size: core::mem::size_of::<RsioVersion>(),
        valid_flags: 0,
    };
}

/// Reports the ABI version, release and features of the loaded modules.
pub const RSIO_IOC_VERSION: u32 = rsio_iowr(0x00, core::mem::size_of::<RsioVersion>());

// --- The fabric core's ioctls (RSIO_FEATURE_FABRIC).
//
// Who may call what: the "application" ioctls (VERSION, STATUS, NODES,
// WINDOWS, PING) need only an open `/dev/rsio` (give a group access to the
// device node to let its members use them); the "administration" ioctls
// (GRANT, REVOKE, MAP, UNMAP, WINDOW_IO) also need `CAP_SYS_ADMIN` (`EPERM`
// otherwise). Windows created through a file belong to it: closing the file
// (or the process dying) revokes its grants and removes its mappings.

/// Length of the node-name fields (NUL-terminated).
pub const RSIO_NAME_LEN: usize = 64;
/// Length of [`RsioStatus::adapter`] (NUL-terminated).
pub const RSIO_ADAPTER_NAME_LEN: usize = 32;
/// Highest node id + 1 the ABI can express (masks are `u32`, nodes `< 16`).
pub const RSIO_MAX_NODES: u32 = 16;

/// [`RsioStatus::transport`]: no adapter; the core is loaded but idle.
pub const RSIO_TRANSPORT_NONE: u32 = 0;
/// [`RsioStatus::transport`]: an rsio adapter through rsio_ntb's fabric
/// interface (LUT slots, inbound windows, remote interrupts).
pub const RSIO_TRANSPORT_ADAPTER: u32 = 1;
/// [`RsioStatus::transport`]: any Linux `ntb_dev` through the generic NTB
/// API (one memory window per peer, doorbells).
pub const RSIO_TRANSPORT_NTB: u32 = 2;

/// Argument of [`RSIO_IOC_STATUS`]: this node's view of the fabric.
/// Input: `header` only (`flags = 0`). Output: everything else.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RsioStatus {
    /// `size = size_of::<RsioStatus>()`, `flags = 0`.
    pub header: ArgHeader,
    /// `RSIO_TRANSPORT_*`.
    pub transport: u32,
    /// This node's fabric node id (undefined without a transport).
    pub node_id: u32,
    /// Nodes in the fabric (ids `0..num_nodes`).
    pub num_nodes: u32,
    /// Bit n: the link to node n is up.
    pub link_mask: u32,
    /// Bit n: node n's core answered our hello and is alive.
    pub up_mask: u32,
    /// The message protocol version this core speaks.
    pub proto_version: u32,
    /// Adapter `CAPS` bits (docs/adapter.md section 4.1), 0 for `ntb`.
    pub caps: u32,
    /// Heartbeat period in ms.
    pub heartbeat_ms: u32,
    /// A silent peer is declared dead after this many ms.
    pub dead_after_ms: u32,
    /// Outbound translation entries (LUT slots) the core may use.
    pub lut_total: u32,
    /// Of which in use.
    pub lut_used: u32,
    /// Inbound windows the core may use.
    pub inbound_total: u32,
    /// Of which in use.
    pub inbound_used: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// Messages sent.
    pub msgs_tx: u64,
    /// Messages received and accepted.
    pub msgs_rx: u64,
    /// Messages received and rejected (malformed, out of sequence, unknown).
    pub msgs_bad: u64,
    /// Requests that timed out.
    pub timeouts: u64,
    /// Peer accesses to this node refused by its inbound checks (adapter).
    pub refused: u64,
    /// Errors the adapter flagged (refused, unmapped, link...).
    pub errors: u64,
    /// The adapter's PCI name (e.g. `0000:00:03.0`), NUL-terminated.
    pub adapter: [u8; RSIO_ADAPTER_NAME_LEN],
    /// This node's name (its hostname), NUL-terminated.
    pub node_name: [u8; RSIO_NAME_LEN],
}

/// Size of [`RsioStatus`]'s first version.
pub const RSIO_STATUS_SIZE_V1: usize = 208;
const _: () = assert!(core::mem::size_of::<RsioStatus>() == RSIO_STATUS_SIZE_V1);

/// Reports this node's view of the fabric.
pub const RSIO_IOC_STATUS: u32 = rsio_iowr(0x01, core::mem::size_of::<RsioStatus>());

/// The argument of the listing ioctls ([`RSIO_IOC_NODES`],
/// [`RSIO_IOC_WINDOWS`]): a user array the kernel fills.
///
/// Input: `entries` (user address of an array, may be 0 if `capacity` is
/// 0), `capacity` (elements), `entry_size` (the element size the caller
/// knows: at least the element's first version, at most
/// [`RSIO_MAX_ARG_SIZE`]). Output: `count`, the number of elements that
/// exist; `min(count, capacity)` were written, each `entry_size` bytes
/// (zero beyond what the kernel knows). Call with `capacity = 0` to size
/// the array, or with room to spare: the list can grow in between.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RsioList {
    /// `size = size_of::<RsioList>()`, `flags = 0`.
    pub header: ArgHeader,
    /// User address of the array.
    pub entries: u64,
    /// Elements the array holds (at most [`RSIO_MAX_LIST`]).
    pub capacity: u32,
    /// Size of one element as the caller knows it.
    pub entry_size: u32,
    /// Out: elements that exist.
    pub count: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// Size of [`RsioList`]'s first version.
pub const RSIO_LIST_SIZE_V1: usize = 32;
const _: () = assert!(core::mem::size_of::<RsioList>() == RSIO_LIST_SIZE_V1);
/// The largest `capacity` a listing ioctl accepts.
pub const RSIO_MAX_LIST: u32 = 1024;

/// [`RsioNodeEntry::state`]: this node itself.
pub const RSIO_NODE_SELF: u32 = 5;
/// No link, or the link is up but no core answered yet.
pub const RSIO_NODE_DOWN: u32 = 1;
/// Hello sent, waiting for the peer's core to answer.
pub const RSIO_NODE_HELLO: u32 = 2;
/// The peer's core answered and is alive.
pub const RSIO_NODE_UP: u32 = 3;
/// The peer stopped answering (link down or missed heartbeats); its
/// resources are being released. Becomes `DOWN` afterwards.
pub const RSIO_NODE_DEAD: u32 = 4;

/// One element of [`RSIO_IOC_NODES`]: a node of the fabric.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RsioNodeEntry {
    /// Fabric node id.
    pub node_id: u32,
    /// `RSIO_NODE_*`.
    pub state: u32,
    /// The link to it is up (1) or not (0); 1 for this node.
    pub link_up: u32,
    /// Protocol version from its hello (0 before).
    pub proto_version: u32,
    /// Capability bits from its hello (`RSIO_PEER_CAP_*`).
    pub caps: u32,
    /// How many times it came up since this core started.
    pub up_count: u32,
    /// ms since it came up (0 unless `UP`).
    pub up_ms: u64,
    /// ms since a message or heartbeat from it was last seen (`u64::MAX`:
    /// never).
    pub last_heard_ms: u64,
    /// Messages sent to it.
    pub msgs_tx: u64,
    /// Messages received from it and accepted.
    pub msgs_rx: u64,
    /// Its node name from its hello, NUL-terminated.
    pub name: [u8; RSIO_NAME_LEN],
}

/// Size of [`RsioNodeEntry`]'s first version.
pub const RSIO_NODE_ENTRY_SIZE_V1: usize = 120;
const _: () = assert!(core::mem::size_of::<RsioNodeEntry>() == RSIO_NODE_ENTRY_SIZE_V1);

/// Lists the fabric's nodes (this one included) into an [`RsioNodeEntry`]
/// array.
pub const RSIO_IOC_NODES: u32 = rsio_iowr(0x02, core::mem::size_of::<RsioList>());

/// Peer capability bit: the peer's core serves window grants.
pub const RSIO_PEER_CAP_GRANTS: u32 = 1 << 0;

/// [`RsioWindowEntry::kind`]: an outbound mapping of peer memory.
pub const RSIO_WINDOW_MAP: u32 = 1;
/// An inbound grant: local memory peers may reach.
pub const RSIO_WINDOW_GRANT: u32 = 2;
/// The core's own message mailbox (inbound, every node).
pub const RSIO_WINDOW_MAILBOX: u32 = 3;

/// One element of [`RSIO_IOC_WINDOWS`]: a mapping or a grant.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RsioWindowEntry {
    /// Its id (what UNMAP/REVOKE/WINDOW_IO take); 0 for the mailbox.
    pub id: u32,
    /// `RSIO_WINDOW_*`.
    pub kind: u32,
    /// `MAP`: the peer node; `GRANT`/`MAILBOX`: this node.
    pub node: u32,
    /// `GRANT`/`MAILBOX`: the nodes allowed (bit n: node n); `MAP`: 0.
    pub peers: u32,
    /// `MAP`: handles sharing the translation (1 + other maps inside it).
    pub refcount: u32,
    /// The pid of the process that created it (0: the kernel).
    pub owner_pid: u32,
    /// The fabric address: `MAP`: in the peer's space; `GRANT`: what peers
    /// pass to MAP.
    pub fabric_addr: u64,
    /// Size in bytes.
    pub size: u64,
    /// Local bus address: `MAP`: where local devices and the CPU reach the
    /// peer memory; `GRANT`: the local memory peers reach.
    pub bus_addr: u64,
    /// `MAP`: first outbound translation entry (LUT slot); `GRANT`: the
    /// inbound window index.
    pub hw_index: u32,
    /// `MAP`: translation entries used; `GRANT`: 1.
    pub hw_count: u32,
}

/// Size of [`RsioWindowEntry`]'s first version.
pub const RSIO_WINDOW_ENTRY_SIZE_V1: usize = 56;
const _: () = assert!(core::mem::size_of::<RsioWindowEntry>() == RSIO_WINDOW_ENTRY_SIZE_V1);

/// Lists the core's windows (every file's, and the mailbox) into an
/// [`RsioWindowEntry`] array.
pub const RSIO_IOC_WINDOWS: u32 = rsio_iowr(0x03, core::mem::size_of::<RsioList>());

/// The largest ping payload.
pub const RSIO_PING_MAX_PAYLOAD: u32 = 200;
/// The largest number of round trips one ping ioctl makes.
pub const RSIO_PING_MAX_COUNT: u32 = 10000;
/// The longest timeout (ms) a request accepts.
pub const RSIO_MAX_TIMEOUT_MS: u32 = 60000;
/// The timeout (ms) used when a request passes 0.
pub const RSIO_DEFAULT_TIMEOUT_MS: u32 = 1000;

/// Argument of [`RSIO_IOC_PING`]: message round trips with a peer's core.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RsioPing {
    /// `size = size_of::<RsioPing>()`, `flags = 0`.
    pub header: ArgHeader,
    /// In: the peer (not this node: `EINVAL`; not up: `EHOSTUNREACH`).
    pub node: u32,
    /// In: round trips, `1..=RSIO_PING_MAX_COUNT`.
    pub count: u32,
    /// In: payload bytes per message, `0..=RSIO_PING_MAX_PAYLOAD` (the
    /// peer echoes it; a mismatch is `EIO`).
    pub payload_len: u32,
    /// In: per round trip, ms, `0..=RSIO_MAX_TIMEOUT_MS` (0: default).
    pub timeout_ms: u32,
    /// Out: fastest round trip, ns.
    pub rtt_min_ns: u64,
    /// Out: mean round trip, ns.
    pub rtt_avg_ns: u64,
    /// Out: slowest round trip, ns.
    pub rtt_max_ns: u64,
}

/// Size of [`RsioPing`]'s first version.
pub const RSIO_PING_SIZE_V1: usize = 48;
const _: () = assert!(core::mem::size_of::<RsioPing>() == RSIO_PING_SIZE_V1);

/// Message round trips with a peer's core; `ETIMEDOUT` if one is not
/// answered in time, `EINTR` if a signal arrives.
pub const RSIO_IOC_PING: u32 = rsio_iowr(0x04, core::mem::size_of::<RsioPing>());

/// The largest grant or mapping.
pub const RSIO_MAX_WINDOW_SIZE: u64 = 64 << 20;
/// Grant and mapping granularity (sizes, grant addresses).
pub const RSIO_WINDOW_ALIGN: u64 = 4096;

/// Argument of [`RSIO_IOC_GRANT`] (admin): local memory peers may reach.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RsioGrant {
    /// `size = size_of::<RsioGrant>()`, `flags = 0`.
    pub header: ArgHeader,
    /// In: bit n lets node n in (not 0, only fabric nodes other than this
    /// one).
    pub peers: u32,
    /// Out: the grant's id.
    pub id: u32,
    /// In: bytes, a multiple of [`RSIO_WINDOW_ALIGN`],
    /// `1..=RSIO_MAX_WINDOW_SIZE`. The memory starts zeroed.
    pub len: u64,
    /// Out: the fabric address peers pass to [`RSIO_IOC_MAP`].
    pub fabric_addr: u64,
    /// Out: the local bus address of the memory.
    pub bus_addr: u64,
}

/// Size of [`RsioGrant`]'s first version.
pub const RSIO_GRANT_SIZE_V1: usize = 40;
const _: () = assert!(core::mem::size_of::<RsioGrant>() == RSIO_GRANT_SIZE_V1);

/// Allocates local memory and opens it to peers (admin). `ENOSPC` when no
/// inbound window is free, `ENOMEM` without memory, `ENODEV` without a
/// transport.
pub const RSIO_IOC_GRANT: u32 = rsio_iowr(0x05, core::mem::size_of::<RsioGrant>());

/// Argument of the ioctls that name one window by id ([`RSIO_IOC_REVOKE`],
/// [`RSIO_IOC_UNMAP`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RsioId {
    /// `size = size_of::<RsioId>()`, `flags = 0`.
    pub header: ArgHeader,
    /// In: the id (`ENOENT` if this file holds no such window of that kind).
    pub id: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// Size of [`RsioId`]'s first version.
pub const RSIO_ID_SIZE_V1: usize = 16;
const _: () = assert!(core::mem::size_of::<RsioId>() == RSIO_ID_SIZE_V1);

/// Closes a grant (admin); peers' later accesses are refused.
pub const RSIO_IOC_REVOKE: u32 = rsio_iowr(0x06, core::mem::size_of::<RsioId>());

/// Argument of [`RSIO_IOC_MAP`] (admin): reach peer memory.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RsioMap {
    /// `size = size_of::<RsioMap>()`, `flags = 0`.
    pub header: ArgHeader,
    /// In: the peer node (not this one).
    pub node: u32,
    /// Out: the mapping's id.
    pub id: u32,
    /// In: fabric address in the peer's space (from its grant), plus an
    /// offset; 4 KiB aligned.
    pub fabric_addr: u64,
    /// In: bytes, a multiple of [`RSIO_WINDOW_ALIGN`],
    /// `1..=RSIO_MAX_WINDOW_SIZE`.
    pub len: u64,
    /// Out: the local bus address where the CPU and local devices reach it.
    pub bus_addr: u64,
}

/// Size of [`RsioMap`]'s first version.
pub const RSIO_MAP_SIZE_V1: usize = 40;
const _: () = assert!(core::mem::size_of::<RsioMap>() == RSIO_MAP_SIZE_V1);

/// Maps peer memory (admin). A range inside an existing mapping to the
/// same node shares its translation entries; a range overlapping one
/// partially is `EEXIST`; no free entries is `ENOSPC`. Whether the peer
/// granted the range is the peer's check, at access time (refused accesses
/// read all-ones and are counted on both nodes).
pub const RSIO_IOC_MAP: u32 = rsio_iowr(0x07, core::mem::size_of::<RsioMap>());

/// Removes a mapping (admin).
pub const RSIO_IOC_UNMAP: u32 = rsio_iowr(0x08, core::mem::size_of::<RsioId>());

/// [`RsioWindowIo`] flag: write the user buffer into the window (else
/// read the window into the buffer).
pub const RSIO_IO_WRITE: u32 = 1 << 0;
/// The largest [`RsioWindowIo::len`].
pub const RSIO_MAX_IO: u64 = 1 << 20;

/// Argument of [`RSIO_IOC_WINDOW_IO`] (admin): CPU access to a window.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RsioWindowIo {
    /// `size = size_of::<RsioWindowIo>()`, `flags`: [`RSIO_IO_WRITE`] or 0.
    pub header: ArgHeader,
    /// In: a window of this file (a mapping: through the fabric; a grant:
    /// the local memory).
    pub id: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// In: byte offset in the window.
    pub offset: u64,
    /// In: bytes, `1..=RSIO_MAX_IO`, `offset + len` inside the window.
    /// Mappings move 4-byte words: offset and len multiples of 4.
    pub len: u64,
    /// In: user buffer address.
    pub buf: u64,
}

/// Size of [`RsioWindowIo`]'s first version.
pub const RSIO_WINDOW_IO_SIZE_V1: usize = 40;
const _: () = assert!(core::mem::size_of::<RsioWindowIo>() == RSIO_WINDOW_IO_SIZE_V1);

/// Reads or writes a window with the CPU (admin).
pub const RSIO_IOC_WINDOW_IO: u32 = rsio_iowr(0x09, core::mem::size_of::<RsioWindowIo>());

macro_rules! layout {
    ($t:ty, $v1:expr, $flags:expr) => {
        impl $t {
            /// The argument layout the kernel checks requests against.
            pub const LAYOUT: ArgLayout = ArgLayout {
                min_size: $v1,
                known_size: core::mem::size_of::<$t>(),
                valid_flags: $flags,
            };
        }
    };
}
layout!(RsioStatus, RSIO_STATUS_SIZE_V1, 0);
layout!(RsioList, RSIO_LIST_SIZE_V1, 0);
layout!(RsioPing, RSIO_PING_SIZE_V1, 0);
layout!(RsioGrant, RSIO_GRANT_SIZE_V1, 0);
layout!(RsioId, RSIO_ID_SIZE_V1, 0);
layout!(RsioMap, RSIO_MAP_SIZE_V1, 0);
layout!(RsioWindowIo, RSIO_WINDOW_IO_SIZE_V1, RSIO_IO_WRITE);

/// A request struct as user space sends it: zeroed, with its header set.
pub trait Request: Sized {
    /// The zeroed struct with `header.size` set and `flags = 0`.
    fn request() -> Self;
}

macro_rules! request {
    ($($t:ident),*) => {$(
        impl Request for $t {
            fn request() -> Self {
                // SAFETY: Every ABI struct is `repr(C)` of integers and integer arrays: all-zeroes is a valid value.
                let mut v: Self = unsafe { core::mem::zeroed() };
                v.header.size = core::mem::size_of::<$t>() as u32;
                v
            }
        }
    )*};
}
request!(
    RsioStatus,
    RsioList,
    RsioPing,
    RsioGrant,
    RsioId,
    RsioMap,
    RsioWindowIo
);

/// Validates a listing request's element size against the element's
/// first version (`min`): returns how many bytes of each element to write.
pub fn check_entry_size(list: &RsioList, min: usize, known: usize) -> Result<usize, ArgError> {
    let size = list.entry_size as usize;
    if size < min {
        return Err(ArgError::TooSmall);
    }
    if size > RSIO_MAX_ARG_SIZE || list.capacity > RSIO_MAX_LIST {
        return Err(ArgError::TooLarge);
    }
    if list.reserved != 0 {
        return Err(ArgError::ReservedNotZero);
    }
    Ok(if size < known { size } else { known })
}

/// Copies `src` into `dst` as a NUL-terminated string, truncating if needed.
pub fn copy_cstr(dst: &mut [u8], src: &[u8]) {
    let n = if src.len() < dst.len() {
        src.len()
    } else {
        dst.len().saturating_sub(1)
    };
    dst[..n].copy_from_slice(&src[..n]);
    for b in &mut dst[n..] {
        *b = 0;
    }
}

/// The bytes of a NUL-terminated string field, without the NUL.
pub fn cstr_bytes(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}
