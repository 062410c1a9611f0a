//! The ioctl ABI of `rsio_lend` (`/dev/rsio_lend`): device lending, the
//! lender's side (claim a local PCI device, advertise it to the fabric,
//! give it back) and the listing of what this node and its peers lend.
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
    /// `size`, `flags = 0`.
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
/// it to `rsio_lend`'s stub driver, resets it (function-level reset when
/// it has one) and advertises it to the fabric. Errors: `EPERM` not
/// root, or the device is the rsio adapter itself (vendor 0x7273);
/// `ENODEV` no such function; `EINVAL` a bridge (class 0x06xx: host, PCI
/// and other bridges) or a field out of range; `EBUSY` already lent, or
/// the stub driver could not take it; `ENOSPC` no free index.
pub const LEND_IOC_LEND: u32 = rsio_iowr(0x60, core::mem::size_of::<LendBdf>());
/// Gives a lent function back (`CAP_SYS_ADMIN`): stops advertising it,
/// resets it, clears the driver override and re-probes it so its native
/// driver binds again. `ENOENT` not lent.
pub const LEND_IOC_UNLEND: u32 = rsio_iowr(0x61, core::mem::size_of::<LendBdf>());

/// [`LendDevEntry::state`]: lent by its node, nobody borrows it.
pub const LEND_STATE_LENT: u32 = 1;
/// [`LendDevEntry::state`]: lent and borrowed (not implemented yet).
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
    /// Bytes of each standard BAR (0: not implemented).
    pub bar_size: [u64; LEND_NUM_BARS],
    /// `LEND_BAR_*` of each BAR.
    pub bar_flags: [u32; LEND_NUM_BARS],
}
/// Size of [`LendDevEntry`]'s first version.
pub const LEND_DEV_ENTRY_SIZE_V1: usize = 112;
const _: () = assert!(core::mem::size_of::<LendDevEntry>() == LEND_DEV_ENTRY_SIZE_V1);
/// Lists the devices this node lends and those its peers advertised (an
/// [`RsioList`] of [`LendDevEntry`]). Needs only access to the device.
pub const LEND_IOC_LIST: u32 = rsio_iowr(0x62, core::mem::size_of::<RsioList>());

impl LendBdf {
    /// The argument layout the kernel checks requests against.
    pub const LAYOUT: ArgLayout = ArgLayout {
        min_size: LEND_BDF_SIZE_V1,
        known_size: core::mem::size_of::<LendBdf>(),
        valid_flags: 0,
    };
}

impl Request for LendBdf {
    fn request() -> Self {
        // SAFETY: `LendBdf` is `repr(C)` of integers: all-zeroes is a valid value.
        let mut v: Self = unsafe { core::mem::zeroed() };
        v.header.size = core::mem::size_of::<LendBdf>() as u32;
        v
    }
}
