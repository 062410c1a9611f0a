// SPDX-License-Identifier: GPL-2.0

//! Marker-trait impls that let the ABI structs of `uapi` cross the user
//! boundary by value. They live here because `uapi/src/abi.rs` is shared with
//! user space and must not depend on the `kernel` crate.

use crate::uapi::*;

rsio_kernel::abi_struct!(
    ArgHeader,
    RsioVersion,
    RsioStatus,
    RsioList,
    RsioNodeEntry,
    RsioWindowEntry,
    RsioPing,
    RsioGrant,
    RsioId,
    RsioMap,
    RsioWindowIo,
);
