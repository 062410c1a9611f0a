// SPDX-License-Identifier: GPL-2.0

//! Marker-trait impls that let the ABI structs of `uapi` cross the user
//! boundary by value. They live here because `uapi/src/abi.rs` is shared with
//! user space and must not depend on the `kernel` crate.

use crate::uapi::*;
use kernel::prelude::*;
use kernel::transmute::{AsBytes, FromBytes};

macro_rules! abi_struct {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: `$t` is `repr(C)` of integers and integer arrays laid out without padding (its size is asserted to be the sum of its fields in `abi.rs` and by the C header test), so every bit pattern is a valid value.
        unsafe impl FromBytes for $t {}
        // SAFETY: As above: no padding means no uninitialized bytes, and it has no interior mutability.
        unsafe impl AsBytes for $t {}
        // SAFETY: As above; all-zeroes is a valid value.
        unsafe impl Zeroable for $t {}
    )*};
}

abi_struct!(
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
