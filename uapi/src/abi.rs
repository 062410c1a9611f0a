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
