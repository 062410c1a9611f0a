//! The ioctl ABI of `rsio_nvme_share`: one NVMe controller shared by
//! several nodes without SR-IOV (docs/nvme-share.md). Feature ioctls of
//! the fabric core's `/dev/rsio` (numbers `0x70..0x77`), served by the
//! `rsio_nvme_share` module while it is loaded (`ENOTTY` otherwise).
//!
//! Compiled twice, like `abi.rs` and `lend.rs`: as `rsio_uapi::nvme_share`
//! for user space and as a module of the kernel module, next to a module
//! named `abi`. It must stay `core`-only. The conventions of `abi.rs`
//! hold: an [`ArgHeader`] first, explicit reserved fields, extensible at
//! the end.
//!
//! A shared controller is named on the fabric like a lent device:
//! `ctrl = manager node << 16 | index`, the index unique on the manager
//! while the controller is shared (never 0).

use super::abi::{rsio_iowr, ArgHeader, ArgLayout, Request, RsioList};

/// Namespace policies one [`NvmeShare`] may set.
pub const NVME_MAX_POLICIES: usize = 16;
/// Namespaces of one controller that can be used (more are listed as
/// unusable).
pub const NVME_MAX_NAMESPACES: u32 = 32;
/// Queue pairs one client may hold on one controller.
pub const NVME_MAX_CLIENT_QPAIRS: u32 = 16;

/// [`NvmePolicy::kind`]: every attached node gets a disk (shared-disk
/// semantics: no cache coherence between nodes).
pub const NVME_POLICY_SHARED: u32 = 0;
/// [`NvmePolicy::kind`]: only node [`NvmePolicy::node`] gets a disk.
pub const NVME_POLICY_ASSIGNED: u32 = 1;
/// [`NvmePolicy::flags`]: read-only: writes are refused.
pub const NVME_POLICY_RO: u32 = 1 << 0;

/// One namespace's policy.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NvmePolicy {
    /// The namespace id (`1..`).
    pub nsid: u32,
    /// `NVME_POLICY_SHARED` or `NVME_POLICY_ASSIGNED`.
    pub kind: u32,
    /// `ASSIGNED`: the node it is assigned to; else zero.
    pub node: u32,
    /// `NVME_POLICY_RO`.
    pub flags: u32,
}

/// Argument of [`NVME_IOC_SHARE`] and [`NVME_IOC_UNSHARE`]: a local NVMe
/// function and, for `SHARE`, how it is shared.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NvmeShare {
    /// `size`, `flags`: [`NVME_SHARE_FORCE`] (both).
    pub header: ArgHeader,
    /// In: PCI domain, `<= 0xffff`.
    pub domain: u32,
    /// In: bus number, `<= 0xff`.
    pub bus: u32,
    /// In: `device << 3 | function`, `<= 0xff`.
    pub devfn: u32,
    /// In (`SHARE`): queue pairs one client may hold, `1..=`
    /// [`NVME_MAX_CLIENT_QPAIRS`] (0: the default, 4). `UNSHARE`: zero.
    pub qpairs_per_client: u32,
    /// In (`SHARE`): entries of `policies` used (namespaces not named are
    /// `SHARED`). `UNSHARE`: zero.
    pub n_policies: u32,
    /// In: zero. Out: the controller's fabric name (`node << 16 | index`).
    pub ctrl: u32,
    /// In: the namespace policies.
    pub policies: [NvmePolicy; NVME_MAX_POLICIES],
}
/// Size of [`NvmeShare`]'s first version.
pub const NVME_SHARE_SIZE_V1: usize = 288;
const _: () = assert!(core::mem::size_of::<NvmeShare>() == NVME_SHARE_SIZE_V1);

/// [`NVME_IOC_SHARE`] flag: share it even though this node uses it (its
/// block devices vanish as on a surprise removal). [`NVME_IOC_UNSHARE`]
/// flag: revoke it from attached clients (their disks fail I/O).
pub const NVME_SHARE_FORCE: u32 = 1 << 0;

/// Shares a local NVMe controller (`CAP_SYS_ADMIN`): unbinds the nvme
/// driver, takes the controller (reset, admin queue, as many I/O queues
/// as it has) and announces it to the fabric. Errors: `EPERM` not root or
/// the rsio adapter; `ENODEV` no such function; `EINVAL` not an NVMe
/// controller (class 0x010802), a field or policy out of range, an nsid
/// the controller lacks; `EBUSY` already shared, or a block device of it
/// open or mounted (unless [`NVME_SHARE_FORCE`]); `EOPNOTSUPP` a borrowed
/// function or a controller this module cannot drive (page size, command
/// set), or no rsio adapter with a direct window; `EIO` the controller
/// failed to come up; `ENOSPC` no free index.
pub const NVME_IOC_SHARE: u32 = rsio_iowr(0x70, core::mem::size_of::<NvmeShare>());
/// Stops sharing (`CAP_SYS_ADMIN`): the controller is disabled and given
/// back to the nvme driver. `ENOENT` not shared; `EBUSY` clients are
/// attached, unless [`NVME_SHARE_FORCE`].
pub const NVME_IOC_UNSHARE: u32 = rsio_iowr(0x71, core::mem::size_of::<NvmeShare>());

/// [`NvmeCtrlEntry::state`]: usable.
pub const NVME_CTRL_READY: u32 = 1;
/// [`NvmeCtrlEntry::state`]: being reset by its manager.
pub const NVME_CTRL_RESETTING: u32 = 2;
/// [`NvmeCtrlEntry::state`]: failed (its manager disabled it).
pub const NVME_CTRL_FAILED: u32 = 3;
/// [`NvmeCtrlEntry::state`]: its manager went away (clients' I/O fails).
pub const NVME_CTRL_GONE: u32 = 4;

/// [`NvmeCtrlEntry::flags`]: this node manages it.
pub const NVME_CTRL_MANAGED_HERE: u32 = 1 << 0;
/// [`NvmeCtrlEntry::flags`]: this node is attached to it.
pub const NVME_CTRL_ATTACHED_HERE: u32 = 1 << 1;
/// [`NvmeCtrlEntry::flags`]: the manager confines the controller's DMA
/// with its IOMMU to the attached clients' memory.
pub const NVME_CTRL_IOMMU: u32 = 1 << 2;

/// Length of [`NvmeCtrlEntry::serial`].
pub const NVME_SERIAL_LEN: usize = 20;
/// Length of [`NvmeCtrlEntry::model`].
pub const NVME_MODEL_LEN: usize = 40;

/// One element of [`NVME_IOC_LIST`]: a controller this node manages or a
/// peer announced.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NvmeCtrlEntry {
    /// The managing node.
    pub node: u32,
    /// The controller's fabric name.
    pub ctrl: u32,
    /// Its PCI domain, bus, devfn on the manager.
    pub domain: u32,
    /// See `domain`.
    pub bus: u32,
    /// See `domain`.
    pub devfn: u32,
    /// `NVME_CTRL_READY` ...
    pub state: u32,
    /// `NVME_CTRL_*` flags.
    pub flags: u32,
    /// Reset generation (clients re-create their queues when it changes).
    pub generation: u32,
    /// I/O queue pairs the controller gave the manager.
    pub qpairs_total: u32,
    /// Of those, not held by a client.
    pub qpairs_free: u32,
    /// Queue pairs one client may hold.
    pub quota: u32,
    /// Namespaces (Identify `NN`).
    pub namespaces: u32,
    /// Clients attached (known on the manager; on other nodes 0 or 1).
    pub clients: u32,
    /// Malformed fabric requests received for it (manager).
    pub msgs_bad: u32,
    /// Well-formed requests refused (manager).
    pub msgs_refused: u32,
    /// Zero.
    pub reserved: u32,
    /// Serial number (ASCII, space padded, not terminated).
    pub serial: [u8; NVME_SERIAL_LEN],
    /// Model number (ASCII, space padded, not terminated).
    pub model: [u8; NVME_MODEL_LEN],
}
/// Size of [`NvmeCtrlEntry`]'s first version.
pub const NVME_CTRL_ENTRY_SIZE_V1: usize = 124;
const _: () = assert!(core::mem::size_of::<NvmeCtrlEntry>() == NVME_CTRL_ENTRY_SIZE_V1);

/// Lists the controllers this node manages and the ones peers announced
/// (an [`RsioList`] of [`NvmeCtrlEntry`]). Any opener of `/dev/rsio`.
pub const NVME_IOC_LIST: u32 = rsio_iowr(0x72, core::mem::size_of::<RsioList>());

/// [`NvmeNsEntry::access`]: this node may not use it.
pub const NVME_ACCESS_NONE: u32 = 0;
/// [`NvmeNsEntry::access`]: read only.
pub const NVME_ACCESS_RO: u32 = 1;
/// [`NvmeNsEntry::access`]: read and write.
pub const NVME_ACCESS_RW: u32 = 2;
/// Length of [`NvmeNsEntry::disk`].
pub const NVME_DISK_NAME_LEN: usize = 32;

/// One element of [`NVME_IOC_LIST_NS`]: a namespace of a controller in
/// [`NVME_IOC_LIST`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NvmeNsEntry {
    /// The controller's fabric name.
    pub ctrl: u32,
    /// The namespace id.
    pub nsid: u32,
    /// Size in logical blocks.
    pub nsze: u64,
    /// log2 of the logical block size.
    pub lbads: u32,
    /// `NVME_POLICY_SHARED` / `NVME_POLICY_ASSIGNED`.
    pub policy: u32,
    /// `ASSIGNED`: the node.
    pub policy_node: u32,
    /// `NVME_POLICY_RO`.
    pub policy_flags: u32,
    /// What this node may do with it: `NVME_ACCESS_*`.
    pub access: u32,
    /// Zero.
    pub reserved: u32,
    /// This node's block device for it (`rsio_nvme1_1n1`), NUL-terminated;
    /// empty when none.
    pub disk: [u8; NVME_DISK_NAME_LEN],
}
/// Size of [`NvmeNsEntry`]'s first version.
pub const NVME_NS_ENTRY_SIZE_V1: usize = 72;
const _: () = assert!(core::mem::size_of::<NvmeNsEntry>() == NVME_NS_ENTRY_SIZE_V1);

/// Lists the namespaces of the controllers of [`NVME_IOC_LIST`] (an
/// [`RsioList`] of [`NvmeNsEntry`]). Any opener.
pub const NVME_IOC_LIST_NS: u32 = rsio_iowr(0x73, core::mem::size_of::<RsioList>());

/// One element of [`NVME_IOC_LIST_CLIENTS`]: an attachment. The manager
/// lists every client of its controllers; another node its own.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NvmeClientEntry {
    /// The controller's fabric name.
    pub ctrl: u32,
    /// The client node.
    pub client: u32,
    /// The attachment's id (unique per controller).
    pub attach: u32,
    /// Queue pairs granted.
    pub qpairs: u32,
    /// Bit q: I/O queue pair `q` (`1..=64`, bit `q - 1`) is the client's.
    pub qids: u64,
    /// Queue pairs the controller has created for it.
    pub created: u32,
    /// Remote-interrupt vectors its completions raise on the client.
    pub vectors: u32,
    /// Requests completed (client; the manager does not see I/O: 0).
    pub completed: u64,
    /// Completion entries ignored as stale or malformed (client).
    pub bad_cqes: u32,
    /// Zero.
    pub reserved: u32,
}
/// Size of [`NvmeClientEntry`]'s first version.
pub const NVME_CLIENT_ENTRY_SIZE_V1: usize = 48;
const _: () = assert!(core::mem::size_of::<NvmeClientEntry>() == NVME_CLIENT_ENTRY_SIZE_V1);

/// Lists attachments (an [`RsioList`] of [`NvmeClientEntry`]). Any opener.
pub const NVME_IOC_LIST_CLIENTS: u32 = rsio_iowr(0x74, core::mem::size_of::<RsioList>());

/// Argument of [`NVME_IOC_ATTACH`] and [`NVME_IOC_DETACH`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NvmeAttach {
    /// `size`, `flags`: [`NVME_ATTACH_RO`] (`ATTACH`), [`NVME_DETACH_FORCE`]
    /// (`DETACH`).
    pub header: ArgHeader,
    /// In: the managing node.
    pub node: u32,
    /// In: the controller's fabric name (its node part is `node`).
    pub ctrl: u32,
    /// In (`ATTACH`): queue pairs wanted, `0..=`[`NVME_MAX_CLIENT_QPAIRS`]
    /// (0: the quota). `DETACH`: zero.
    pub qpairs: u32,
    /// In (`ATTACH`): the one namespace wanted (0: every one this node may
    /// use). `DETACH`: zero.
    pub nsid: u32,
    /// Out: the attachment's id. Zero in.
    pub attach: u32,
    /// Out: queue pairs granted. Zero in.
    pub granted: u32,
    /// Out: block devices made. Zero in.
    pub disks: u32,
    /// Zero.
    pub reserved: u32,
}
/// Size of [`NvmeAttach`]'s first version.
pub const NVME_ATTACH_SIZE_V1: usize = 40;
const _: () = assert!(core::mem::size_of::<NvmeAttach>() == NVME_ATTACH_SIZE_V1);

/// [`NVME_IOC_ATTACH`] flag: read-only disks.
pub const NVME_ATTACH_RO: u32 = 1 << 0;
/// [`NVME_IOC_DETACH`] flag: detach even while a disk is open or mounted
/// (its I/O fails).
pub const NVME_DETACH_FORCE: u32 = 1 << 0;

/// Attaches this node to a shared controller (`CAP_SYS_ADMIN`): queue
/// pairs in this node's memory, a block device per namespace it may use.
/// Errors: `EINVAL` a field out of range; `EHOSTUNREACH` the node is not
/// up; `ENOENT` no such shared controller or namespace; `EBUSY` already
/// attached; `EDQUOT` more queue pairs than the controller's quota;
/// `ENOSPC` not enough free queue pairs or remote-interrupt vectors;
/// `EACCES` the namespace is assigned to another node; `EAGAIN` the
/// controller is resetting, or this node's previous attachment is still
/// being torn down; `EOPNOTSUPP` this node's memory is beyond what the
/// controller reaches through the fabric; `ETIMEDOUT`, `ECONNRESET` the
/// manager did not answer.
pub const NVME_IOC_ATTACH: u32 = rsio_iowr(0x75, core::mem::size_of::<NvmeAttach>());
/// Detaches (`CAP_SYS_ADMIN`): the disks go, then the queues. `ENOENT` not
/// attached; `EBUSY` a disk is open, unless [`NVME_DETACH_FORCE`].
pub const NVME_IOC_DETACH: u32 = rsio_iowr(0x76, core::mem::size_of::<NvmeAttach>());
/// The first ioctl number of `rsio_nvme_share`.
pub const NVME_IOC_FIRST_NR: u32 = 0x70;
/// How many it owns.
pub const NVME_IOC_COUNT: u32 = 8;

impl NvmeShare {
    /// The argument rules of [`NVME_IOC_SHARE`] and [`NVME_IOC_UNSHARE`].
    pub const LAYOUT: ArgLayout = ArgLayout {
        min_size: NVME_SHARE_SIZE_V1,
        known_size: core::mem::size_of::<NvmeShare>(),
        valid_flags: NVME_SHARE_FORCE,
    };
}

impl Request for NvmeShare {
    fn request() -> Self {
        Self {
            header: ArgHeader {
                size: core::mem::size_of::<Self>() as u32,
                flags: 0,
            },
            domain: 0,
            bus: 0,
            devfn: 0,
            qpairs_per_client: 0,
            n_policies: 0,
            ctrl: 0,
            policies: [NvmePolicy {
                nsid: 0,
                kind: 0,
                node: 0,
                flags: 0,
            }; NVME_MAX_POLICIES],
        }
    }
}

impl NvmeAttach {
    /// The argument rules of [`NVME_IOC_ATTACH`] and [`NVME_IOC_DETACH`].
    pub const LAYOUT: ArgLayout = ArgLayout {
        min_size: NVME_ATTACH_SIZE_V1,
        known_size: core::mem::size_of::<NvmeAttach>(),
        valid_flags: NVME_ATTACH_RO | NVME_DETACH_FORCE,
    };
}

impl Request for NvmeAttach {
    fn request() -> Self {
        Self {
            header: ArgHeader {
                size: core::mem::size_of::<Self>() as u32,
                flags: 0,
            },
            node: 0,
            ctrl: 0,
            qpairs: 0,
            nsid: 0,
            attach: 0,
            granted: 0,
            disks: 0,
            reserved: 0,
        }
    }
}
