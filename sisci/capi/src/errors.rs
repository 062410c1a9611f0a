// SPDX-License-Identifier: GPL-2.0

//! errno -> `sci_error_t`, and the error strings of `SCIGetErrorString`.

use crate::types::*;
use std::ffi::c_char;

/// The SISCI error for an errno from `/dev/sisci`.
pub fn from_errno(errno: i32) -> sci_error_t {
    match errno {
        0 => SCI_ERR_OK,
        libc::ENOENT => SCI_ERR_NO_SUCH_SEGMENT,
        libc::ECONNREFUSED => SCI_ERR_CONNECTION_REFUSED,
        libc::EEXIST => SCI_ERR_SEGMENTID_USED,
        libc::ETIMEDOUT => SCI_ERR_TIMEOUT,
        libc::EACCES | libc::EPERM => SCI_ERR_ACCESS,
        libc::ENOMEM | libc::ENOSPC => SCI_ERR_NOSPC,
        libc::EHOSTUNREACH | libc::ENETDOWN | libc::ENETUNREACH => SCI_ERR_NO_LINK_ACCESS,
        libc::ECONNRESET => SCI_ERR_NODE_NOT_RESPONDING,
        libc::ENOTCONN => SCI_ERR_NOT_CONNECTED,
        libc::EBUSY => SCI_ERR_BUSY,
        libc::EAGAIN => SCI_ERR_EWOULD_BLOCK,
        libc::EINTR => SCI_ERR_CANCELLED,
        libc::EINVAL => SCI_ERR_ILLEGAL_PARAMETER,
        libc::ERANGE | libc::EMSGSIZE => SCI_ERR_OUT_OF_RANGE,
        libc::EOVERFLOW => SCI_ERR_OVERFLOW,
        libc::ENOBUFS => SCI_ERR_REMOTE_BUSY,
        libc::EIO => SCI_ERR_TRANSFER_FAILED,
        libc::ENODEV | libc::ENXIO => SCI_ERR_NO_SUCH_ADAPTERNO,
        libc::ENOTTY | libc::E2BIG => SCI_ERR_INCONSISTENT_VERSIONS,
        libc::EOPNOTSUPP | libc::ENOSYS => SCI_ERR_NOT_SUPPORTED,
        _ => SCI_ERR_SYSTEM,
    }
}

/// The SISCI error for a libsisci error.
pub fn from_rs(e: rs::Error) -> sci_error_t {
    from_errno(e.errno())
}

const STRINGS: &[(sci_error_t, &str)] = &[
    (SCI_ERR_OK, "no error"),
    (SCI_ERR_BUSY, "resource busy"),
    (
        SCI_ERR_FLAG_NOT_IMPLEMENTED,
        "flag not supported by this library",
    ),
    (SCI_ERR_ILLEGAL_FLAG, "illegal flag"),
    (SCI_ERR_NOSPC, "out of resources"),
    (SCI_ERR_API_NOSPC, "out of library resources"),
    (SCI_ERR_HW_NOSPC, "out of adapter resources"),
    (
        SCI_ERR_NOT_IMPLEMENTED,
        "function not supported by this library",
    ),
    (SCI_ERR_ILLEGAL_ADAPTERNO, "illegal adapter number"),
    (
        SCI_ERR_NO_SUCH_ADAPTERNO,
        "no such adapter (is rsio_sisci loaded and the fabric up?)",
    ),
    (SCI_ERR_TIMEOUT, "timed out"),
    (SCI_ERR_OUT_OF_RANGE, "out of range"),
    (SCI_ERR_NO_SUCH_SEGMENT, "no such segment or interrupt"),
    (SCI_ERR_ILLEGAL_NODEID, "illegal node id"),
    (
        SCI_ERR_CONNECTION_REFUSED,
        "connection refused (segment not available)",
    ),
    (SCI_ERR_SEGMENT_NOT_CONNECTED, "segment not connected"),
    (SCI_ERR_SIZE_ALIGNMENT, "size not aligned"),
    (SCI_ERR_OFFSET_ALIGNMENT, "offset not aligned"),
    (SCI_ERR_ILLEGAL_PARAMETER, "illegal parameter"),
    (SCI_ERR_MAX_ENTRIES, "too many entries"),
    (SCI_ERR_SEGMENT_NOT_PREPARED, "segment not prepared"),
    (SCI_ERR_ILLEGAL_ADDRESS, "illegal address"),
    (SCI_ERR_ILLEGAL_OPERATION, "illegal operation"),
    (SCI_ERR_ILLEGAL_QUERY, "unknown query"),
    (
        SCI_ERR_SEGMENTID_USED,
        "segment or interrupt id already in use",
    ),
    (SCI_ERR_SYSTEM, "system error (see errno)"),
    (SCI_ERR_CANCELLED, "cancelled (interrupted by a signal)"),
    (
        SCI_ERR_NOT_CONNECTED,
        "not connected (the remote object is gone)",
    ),
    (SCI_ERR_NOT_AVAILABLE, "not available"),
    (
        SCI_ERR_INCONSISTENT_VERSIONS,
        "library and driver do not match",
    ),
    (SCI_ERR_COND_INT_RACE_PROBLEM, "conditional interrupt race"),
    (SCI_ERR_OVERFLOW, "overflow"),
    (SCI_ERR_NOT_INITIALIZED, "SCIInitialize() was not called"),
    (SCI_ERR_ACCESS, "access denied"),
    (SCI_ERR_NOT_SUPPORTED, "not supported by this adapter"),
    (SCI_ERR_DEPRECATED, "deprecated"),
    (SCI_ERR_NO_SUCH_NODEID, "no such node"),
    (SCI_ERR_NODE_NOT_RESPONDING, "node not responding"),
    (SCI_ERR_NO_REMOTE_LINK_ACCESS, "remote link down"),
    (SCI_ERR_NO_LINK_ACCESS, "no link to the node (node not up)"),
    (SCI_ERR_TRANSFER_FAILED, "transfer failed"),
    (SCI_ERR_EWOULD_BLOCK, "would block"),
    (SCI_ERR_SEMAPHORE_COUNT_EXCEEDED, "semaphore count exceeded"),
    (SCI_ERR_IRQL_ILLEGAL, "illegal interrupt level"),
    (SCI_ERR_REMOTE_BUSY, "remote node busy"),
    (SCI_ERR_LOCAL_BUSY, "local node busy"),
    (SCI_ERR_ALL_BUSY, "system busy"),
    (
        crate::smartio::SCI_ERR_NO_SUCH_FDID,
        "no such fabric device (not lent in the cluster)",
    ),
];

/// The description of `e`.
#[cfg(test)]
pub fn describe(e: sci_error_t) -> &'static str {
    STRINGS
        .iter()
        .find(|(c, _)| *c == e)
        .map(|(_, s)| *s)
        .unwrap_or("unknown error")
}

/// `SCIGetErrorString`: a static NUL-terminated description.
#[no_mangle]
pub extern "C" fn SCIGetErrorString(error: sci_error_t) -> *const c_char {
    static CACHE: std::sync::OnceLock<Vec<(sci_error_t, std::ffi::CString)>> =
        std::sync::OnceLock::new();
    let all = CACHE.get_or_init(|| {
        STRINGS
            .iter()
            .map(|(c, s)| (*c, std::ffi::CString::new(*s).unwrap_or_default()))
            .collect()
    });
    match all.iter().find(|(c, _)| *c == error) {
        Some((_, s)) => s.as_ptr(),
        None => c"unknown error".as_ptr(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_mapping() {
        assert_eq!(from_errno(libc::ENOENT), SCI_ERR_NO_SUCH_SEGMENT);
        assert_eq!(from_errno(libc::ECONNREFUSED), SCI_ERR_CONNECTION_REFUSED);
        assert_eq!(from_errno(libc::EEXIST), SCI_ERR_SEGMENTID_USED);
        assert_eq!(from_errno(libc::ETIMEDOUT), SCI_ERR_TIMEOUT);
        assert_eq!(from_errno(libc::EACCES), SCI_ERR_ACCESS);
        assert_eq!(from_errno(libc::EPERM), SCI_ERR_ACCESS);
        assert_eq!(from_errno(libc::ENOMEM), SCI_ERR_NOSPC);
        assert_eq!(from_errno(libc::ENOSPC), SCI_ERR_NOSPC);
        assert_eq!(from_errno(libc::EHOSTUNREACH), SCI_ERR_NO_LINK_ACCESS);
        assert_eq!(from_errno(libc::ENOTCONN), SCI_ERR_NOT_CONNECTED);
        assert_eq!(from_errno(libc::EBUSY), SCI_ERR_BUSY);
        assert_eq!(from_errno(12345), SCI_ERR_SYSTEM);
        assert_eq!(from_errno(0), SCI_ERR_OK);
    }

    #[test]
    fn every_error_has_a_string() {
        for (c, s) in STRINGS {
            assert_eq!(describe(*c), *s);
            assert!(c & SCI_ERR_MASK != 0 || *c == SCI_ERR_OK);
            // SAFETY: SCIGetErrorString returns a static NUL-terminated string.
            let cs = unsafe { std::ffi::CStr::from_ptr(SCIGetErrorString(*c)) };
            assert_eq!(cs.to_str().unwrap(), *s);
        }
        assert_eq!(describe(0x1234), "unknown error");
    }
}
