//! The ioctl ABI of `rsio_lend` (`/dev/rsio_lend`): device lending. The
//! lender's side (claim a local PCI device, advertise it to the fabric,
//! give it back), the borrower's (borrow a peer's device so that it
//! appears on this node's PCI bus, return it) and the listing of what
//! this node and its peers lend.
//!
//! Compiled twice, like `abi.rs` and `sisci.rs`: as `rsio_uapi::lend` for
//! user space and as a module of the `rsio_lend` kernel module, next to a
//! module named `abi`. It must stay `core`-only. The conventions of
//! `abi.rs` hold: an [`ArgHeader`] first, explicit reserved fields,
//! extensible at the end.
//!
//! A lent device is named on the fabric by its *fabric device id*:
//! `node << 16 | index`, the index unique on the lender while the device
//! is lent (never 0).

use super::abi::{rsio_iowr, ArgHeader, ArgLayout, Request, RsioList};

/// The path of `rsio_lend`'s character device.
pub const LEND_DEVICE_PATH: &str = "/dev/rsio_lend";

/// Argument of [`LEND_IOC_LEND`] and [`LEND_IOC_UNLEND`]: a local PCI
/// function.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LendBdf {
    /// `size`, `flags`: [`LEND_LEND_FORCE`] (`LEND`), [`LEND_UNLEND_FORCE`] (`UNLEND`).
    pub header: ArgHeader,
    /// In: PCI domain (segment), `<= 0xffff`.
    pub domain: u32,
    /// In: bus number, `<= 0xff`.
    pub bus: u32,
    /// In: `device << 3 | function`, `<= 0xff`.
    pub devfn: u32,
    /// In: zero (`EINVAL` otherwise). Out: the fabric device id (`LEND`;
    /// `UNLEND`: the one it had).
    pub fdid: u32,
}
/// Size of [`LendBdf`]'s first version.
pub const LEND_BDF_SIZE_V1: usize = 24;
const _: () = assert!(core::mem::size_of::<LendBdf>() == LEND_BDF_SIZE_V1);

/// Lends a local PCI function (`CAP_SYS_ADMIN`): unbinds its driver, binds
/// it to `rsio_lend`'s stub driver, resets it (see [`LEND_DEV_RESET_MASK`])
/// and advertises it to the fabric. Errors: `EPERM` not root, or the
/// device is the rsio adapter itself (vendor 0x7273); `ENODEV` no such
/// function; `EINVAL` a bridge (class 0x06xx: host, PCI and other
/// bridges) or a field out of range; `EBUSY` already lent, the stub
/// driver could not take it, or this node uses it (a block device under
/// it open or mounted, a network interface under it up; the kernel log
/// names it) unless `header.flags` has [`LEND_LEND_FORCE`]; `ENOSPC` no
/// free index.
pub const LEND_IOC_LEND: u32 = rsio_iowr(0x60, core::mem::size_of::<LendBdf>());
/// Gives a lent function back (`CAP_SYS_ADMIN`): stops advertising it,
/// resets it, clears the driver override and re-probes it so its native
/// driver binds again. `ENOENT` not lent; `EBUSY` a peer borrows it,
/// unless `header.flags` has [`LEND_UNLEND_FORCE`].
pub const LEND_IOC_UNLEND: u32 = rsio_iowr(0x61, core::mem::size_of::<LendBdf>());
/// [`LEND_IOC_UNLEND`] flag: revoke it from its borrower first (the
/// borrower's driver sees the device vanish, as on a surprise removal).
pub const LEND_UNLEND_FORCE: u32 = 1 << 0;
/// [`LEND_IOC_LEND`] flag: lend it even though this node uses it (its
/// users lose it as on a surprise removal; logged).
pub const LEND_LEND_FORCE: u32 = 1 << 0;

/// [`LendDevEntry::state`]: lent by its node, nobody borrows it.
pub const LEND_STATE_LENT: u32 = 1;
/// [`LendDevEntry::state`]: lent and borrowed by a node.
pub const LEND_STATE_BORROWED: u32 = 2;

/// [`LendDevEntry::bar_flags`]: the BAR is I/O space.
pub const LEND_BAR_IO: u32 = 1 << 0;
/// [`LendDevEntry::bar_flags`]: a 64-bit memory BAR (the next BAR is its
/// upper half and listed with size 0).
pub const LEND_BAR_64: u32 = 1 << 1;
/// [`LendDevEntry::bar_flags`]: prefetchable memory.
pub const LEND_BAR_PREFETCH: u32 = 1 << 2;

/// Standard BARs of a function.
pub const LEND_NUM_BARS: usize = 6;

/// One element of [`LEND_IOC_LIST`]: a device this node or a peer lends.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LendDevEntry {
    /// The lending node.
    pub node: u32,
    /// Its fabric device id.
    pub fdid: u32,
    /// `LEND_STATE_*`.
    pub state: u32,
    /// The function's PCI domain on its node.
    pub domain: u32,
    /// Its bus number on its node.
    pub bus: u32,
    /// Its `devfn` on its node.
    pub devfn: u32,
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// Subsystem vendor id.
    pub subsystem_vendor: u16,
    /// Subsystem id.
    pub subsystem_device: u16,
    /// Class code (base, sub, programming interface: 24 bits).
    pub class: u32,
    /// Revision id.
    pub revision: u32,
    /// Bytes of each standard BAR (0: the function has no such BAR).
    pub bar_size: [u64; LEND_NUM_BARS],
    /// `LEND_BAR_*` of each BAR.
    pub bar_flags: [u32; LEND_NUM_BARS],
    /// Since version 2: an SR-IOV physical function's TotalVFs (0: none,
    /// or not a PF).
    pub sriov_total_vfs: u32,
    /// Since version 2: `LEND_DEV_*`.
    pub dev_flags: u32,
}
/// Size of [`LendDevEntry`]'s first version.
pub const LEND_DEV_ENTRY_SIZE_V1: usize = 112;
/// Size of [`LendDevEntry`]'s second version (SR-IOV fields).
pub const LEND_DEV_ENTRY_SIZE_V2: usize = 120;
const _: () = assert!(core::mem::size_of::<LendDevEntry>() == LEND_DEV_ENTRY_SIZE_V2);

/// [`LendDevEntry::dev_flags`]: the function is an SR-IOV virtual
/// function (its physical function stays with its lender's driver).
pub const LEND_DEV_VF: u32 = 1 << 0;
/// [`LendDevEntry::dev_flags`]: the lender confines the function's DMA
/// with its IOMMU: while borrowed it reaches only its borrower's memory
/// (and its interrupt slot), not the lender's or any other node's.
pub const LEND_DEV_IOMMU: u32 = 1 << 1;
/// [`LendDevEntry::dev_flags`]: the function's driver bypasses the DMA API
/// (a virtio device without `VIRTIO_F_ACCESS_PLATFORM`, e.g. QEMU's
/// default `iommu_platform=off`): it would hand the device physical
/// addresses of the borrower, which the device would use in the lender's
/// memory. It cannot be borrowed (`EOPNOTSUPP`).
pub const LEND_DEV_NO_DMA_API: u32 = 1 << 2;
/// [`LendDevEntry::dev_flags`]: borrowed by processes (SISCI's
/// `SCIBorrowDevice` through `/dev/sisci`), not by a node's kernel.
pub const LEND_DEV_USER: u32 = 1 << 3;
/// [`LendDevEntry::dev_flags`]: with [`LEND_DEV_USER`]: a shared borrow
/// (processes of more nodes may borrow it too).
pub const LEND_DEV_SHARED: u32 = 1 << 4;
/// [`LendDevEntry::dev_flags`] bits 8..12: how the lender resets the
/// function between borrowers, one of `LEND_RESET_*`.
pub const LEND_DEV_RESET_MASK: u32 = 0xf << 8;
/// The shift of [`LEND_DEV_RESET_MASK`].
pub const LEND_DEV_RESET_SHIFT: u32 = 8;
/// No reset method: only bus mastering and decoding are turned off (the
/// next borrower may find the last one's device state).
pub const LEND_RESET_NONE: u32 = 0;
/// Function-level reset (FLR).
pub const LEND_RESET_FLR: u32 = 1;
/// Another reset of the PCI core (PM D3hot, a bus reset where the
/// function is alone on its bus, ...).
pub const LEND_RESET_PCI: u32 = 2;
/// Class-specific: virtio device status 0.
pub const LEND_RESET_VIRTIO: u32 = 3;
/// Class-specific: AHCI HBA reset (GHC.HR).
pub const LEND_RESET_AHCI: u32 = 4;
/// Class-specific: xHCI host controller reset (USBCMD.HCRST).
pub const LEND_RESET_XHCI: u32 = 5;

/// The name `rsio devices` shows for a `LEND_RESET_*` value.
pub fn lend_reset_name(reset: u32) -> &'static str {
    match reset {
        LEND_RESET_NONE => "none",
        LEND_RESET_FLR => "flr",
        LEND_RESET_PCI => "pci",
        LEND_RESET_VIRTIO => "virtio",
        LEND_RESET_AHCI => "ahci",
        LEND_RESET_XHCI => "xhci",
        _ => "?",
    }
}
/// Lists the devices this node lends and those its peers advertised (an
/// [`RsioList`] of [`LendDevEntry`]). Needs only access to the device.
pub const LEND_IOC_LIST: u32 = rsio_iowr(0x62, core::mem::size_of::<RsioList>());

/// Argument of [`LEND_IOC_BORROW`] and [`LEND_IOC_RETURN`]: a peer's
/// device, and where it appeared on this node.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LendBorrow {
    /// `size`, `flags`: [`LEND_RETURN_FORCE`] (`RETURN`), else 0.
    pub header: ArgHeader,
    /// In: the lending node.
    pub node: u32,
    /// In: its fabric device id (`node << 16 | index`).
    pub fdid: u32,
    /// Out: the PCI domain it appeared in on this node (`>= 0x10000`).
    pub domain: u32,
    /// Out: its bus number there.
    pub bus: u32,
    /// Out: its `devfn` there.
    pub devfn: u32,
    /// Zero.
    pub reserved: u32,
    /// Out: where this node's RAM is on the lender's bus, as the device
    /// sees it: physical address `X` here is device address
    /// `dma_offset + X` (the direct window). The kernel's DMA API does
    /// this for drivers; a user-space driver (vfio-pci without an IOMMU)
    /// needs it. Zero in.
    pub dma_offset: u64,
}
/// Size of [`LendBorrow`]'s first version.
pub const LEND_BORROW_SIZE_V1: usize = 40;
const _: () = assert!(core::mem::size_of::<LendBorrow>() == LEND_BORROW_SIZE_V1);

/// Borrows a peer's device (`CAP_SYS_ADMIN`): it appears under a virtual
/// host bridge in a PCI domain of its own with its real ids, class and
/// capabilities, its BARs reach the real device through the fabric, its
/// DMA reaches this node's memory and its MSI-X/MSI interrupts arrive
/// here; this node's native driver binds to it. The borrow is a kernel
/// object: it lasts until [`LEND_IOC_RETURN`], the module's unload or
/// the lender's death (then the device is removed as if surprise-
/// removed), whatever process made it. Errors: `EPERM` not root;
/// `EINVAL` bad fields, or `node` is this node or not in the fabric;
/// `EHOSTUNREACH` the node is not up; `ENOENT` it does not lend `fdid`;
/// `EBUSY` it is borrowed already (here or elsewhere); `ENOSPC` no free
/// slots, windows or interrupt vectors on either adapter; `EOPNOTSUPP` the
/// fabric gives no direct window between the nodes (device DMA needs
/// it), or its driver would bypass the DMA API ([`LEND_DEV_NO_DMA_API`]);
/// `ENODEV` the function did not answer.
pub const LEND_IOC_BORROW: u32 = rsio_iowr(0x63, core::mem::size_of::<LendBorrow>());
/// Returns a borrowed device (`CAP_SYS_ADMIN`; by `node`, `fdid`): its
/// driver is unbound, the bridge removed, and the lender resets it.
/// `ENOENT` this node does not borrow it; `EBUSY` this node uses it (a
/// block device under it open or mounted, a network interface under it
/// up; the kernel log names it) unless `header.flags` has
/// [`LEND_RETURN_FORCE`]. `domain`, `bus`, `devfn` out.
pub const LEND_IOC_RETURN: u32 = rsio_iowr(0x64, core::mem::size_of::<LendBorrow>());
/// [`LEND_IOC_RETURN`] flag: return it even though this node uses it (its
/// users lose it as on a surprise removal; logged).
pub const LEND_RETURN_FORCE: u32 = 1 << 0;

/// Argument of [`LEND_IOC_P2P`]: two functions this node borrows, and
/// where the first reaches a BAR of the second.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LendP2p {
    /// `size`, `flags = 0`.
    pub header: ArgHeader,
    /// In: the lender of the function that will do the DMA...
    pub from_node: u32,
    /// ... and its fabric device id.
    pub from_fdid: u32,
    /// In: the lender of the function whose BAR is the target...
    pub to_node: u32,
    /// ... and its fabric device id.
    pub to_fdid: u32,
    /// In: the target BAR (0..=5; a forwarded memory BAR).
    pub bar: u32,
    /// Zero.
    pub reserved: u32,
    /// Out: the device address at which `from` reaches offset 0 of the
    /// BAR (what a user-space driver puts in `from`'s DMA descriptors).
    /// The kernel's DMA API gives the same to drivers mapping the BAR
    /// (`DMA_ATTR_MMIO`) once the path exists. Zero in.
    pub dev_addr: u64,
    /// Out: bytes of the BAR reachable from there. Zero in.
    pub size: u64,
}
/// Size of [`LendP2p`]'s first version.
pub const LEND_P2P_SIZE_V1: usize = 48;
const _: () = assert!(core::mem::size_of::<LendP2p>() == LEND_P2P_SIZE_V1);

/// Sets up peer-to-peer DMA between two devices this node borrows
/// (`CAP_SYS_ADMIN`): `from` gets a path to BAR `bar` of `to` (if `to`'s
/// lender is another node, that lender opens the BAR's window to `from`'s
/// lender, which maps LUT slots onto it; `from`'s IOMMU domain on its
/// lender, if any, admits the path). Idempotent; the path lasts until
/// either device is returned or removed. Errors: `EPERM` not root;
/// `EINVAL` bad fields or `from == to`; `ENOENT` this node does not
/// borrow one of them, or the BAR is not forwarded; `ENOSPC` no LUT
/// slots or path entries left; the lenders' errors otherwise.
pub const LEND_IOC_P2P: u32 = rsio_iowr(0x65, core::mem::size_of::<LendP2p>());

/// One element of [`LEND_IOC_SCAN`]: a function in an expansion chassis
/// on the fabric (docs/hot-add.md).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LendChassisEntry {
    /// The chassis's node id.
    pub node: u32,
    /// Its fabric device id: `node << 16 | bus << 8 | devfn` (chassis-side
    /// location; the bus is never 0).
    pub fdid: u32,
    /// Its slot: the device number of its root port on the chassis's bus 0.
    pub slot: u32,
    /// The node it is attached to, or [`LEND_HOLDER_NONE`].
    pub holder: u32,
    /// Its bus number in the chassis.
    pub bus: u32,
    /// Its `devfn` in the chassis.
    pub devfn: u32,
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// Subsystem vendor id.
    pub subsystem_vendor: u16,
    /// Subsystem id.
    pub subsystem_device: u16,
    /// Class code (24 bits).
    pub class: u32,
    /// Revision id.
    pub revision: u32,
    /// Bytes of each standard BAR; 0 for all of them when another node
    /// holds the device (sizing a BAR needs the device for a moment).
    pub bar_size: [u64; LEND_NUM_BARS],
    /// `LEND_BAR_*` of each BAR (as `bar_size`).
    pub bar_flags: [u32; LEND_NUM_BARS],
    /// `LEND_CHASSIS_*`.
    pub flags: u32,
    /// Zero.
    pub reserved: u32,
}
/// Size of [`LendChassisEntry`]'s first version.
pub const LEND_CHASSIS_ENTRY_SIZE_V1: usize = 120;
const _: () = assert!(core::mem::size_of::<LendChassisEntry>() == LEND_CHASSIS_ENTRY_SIZE_V1);

/// [`LendChassisEntry::holder`]: nobody holds the device.
pub const LEND_HOLDER_NONE: u32 = 0xffff_ffff;
/// [`LendChassisEntry::flags`]: attached to this node.
pub const LEND_CHASSIS_HERE: u32 = 1 << 0;

/// Lists the functions of every expansion chassis whose link is up (an
/// [`RsioList`] of [`LendChassisEntry`]), read from the chassis through
/// the fabric (`CAP_SYS_ADMIN`: sizing a free device's BARs claims it for
/// a moment). `ENODEV` no rsio adapter.
pub const LEND_IOC_SCAN: u32 = rsio_iowr(0x66, core::mem::size_of::<RsioList>());
/// Attaches a chassis function to this node (`CAP_SYS_ADMIN`; a
/// [`LendBorrow`] with `node` the chassis and `fdid` from
/// [`LEND_IOC_SCAN`], `flags` 0): it appears under a virtual host bridge
/// as a borrowed device does and this node's native driver binds; no PCI
/// hot-plug of this node is involved. It stays attached until
/// [`LEND_IOC_DETACH`], the module's unload, the chassis's power or link
/// going down or the device leaving its slot (then it is removed as on a
/// surprise removal). Errors: `EPERM` not root; `EINVAL` bad fields, or
/// `node` is not a chassis; `EHOSTUNREACH` the chassis's link is down;
/// `ENOENT` no such slot; `ENODEV` no function there, or no adapter;
/// `EBUSY` attached here or to another node already (the kernel log names
/// it); `ENOSPC` a BAR does not fit its slot's windows, or no LUT slots or
/// interrupt vectors are free; `EOPNOTSUPP` the chassis's direct window
/// does not reach this node's memory.
pub const LEND_IOC_ATTACH: u32 = rsio_iowr(0x67, core::mem::size_of::<LendBorrow>());
/// Detaches a chassis function (`CAP_SYS_ADMIN`; `flags`
/// [`LEND_RETURN_FORCE`] as for [`LEND_IOC_RETURN`]): its driver unbinds,
/// the bridge goes, the function is stopped and reset (FLR where it has
/// it) and its slot freed for any node. `ENOENT` not attached here;
/// `EBUSY` in use here, unless forced; `EINVAL` as for attaching.
pub const LEND_IOC_DETACH: u32 = rsio_iowr(0x68, core::mem::size_of::<LendBorrow>());

impl LendP2p {
    /// The argument layout the kernel checks requests against.
    pub const LAYOUT: ArgLayout = ArgLayout {
        min_size: LEND_P2P_SIZE_V1,
        known_size: core::mem::size_of::<LendP2p>(),
        valid_flags: 0,
    };
}

impl Request for LendP2p {
    fn request() -> Self {
        // SAFETY: `LendP2p` is `repr(C)` of integers: all-zeroes is a valid value.
        let mut v: Self = unsafe { core::mem::zeroed() };
        v.header.size = core::mem::size_of::<LendP2p>() as u32;
        v
    }
}

impl LendBdf {
    /// The argument layout the kernel checks requests against (one flag
    /// bit: [`LEND_LEND_FORCE`] and [`LEND_UNLEND_FORCE`]).
    pub const LAYOUT: ArgLayout = ArgLayout {
        min_size: LEND_BDF_SIZE_V1,
        known_size: core::mem::size_of::<LendBdf>(),
        valid_flags: LEND_UNLEND_FORCE | LEND_LEND_FORCE,
    };
}

impl LendBorrow {
    /// The argument layout the kernel checks requests against.
    pub const LAYOUT: ArgLayout = ArgLayout {
        min_size: LEND_BORROW_SIZE_V1,
        known_size: core::mem::size_of::<LendBorrow>(),
        valid_flags: LEND_RETURN_FORCE,
    };
}

impl Request for LendBorrow {
    fn request() -> Self {
        // SAFETY: `LendBorrow` is `repr(C)` of integers: all-zeroes is a valid value.
        let mut v: Self = unsafe { core::mem::zeroed() };
        v.header.size = core::mem::size_of::<LendBorrow>() as u32;
        v
    }
}

impl Request for LendBdf {
    fn request() -> Self {
        // SAFETY: `LendBdf` is `repr(C)` of integers: all-zeroes is a valid value.
        let mut v: Self = unsafe { core::mem::zeroed() };
        v.header.size = core::mem::size_of::<LendBdf>() as u32;
        v
    }
}
