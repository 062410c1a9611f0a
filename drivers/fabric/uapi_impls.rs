// SPDX-License-Identifier: GPL-2.0

//! Marker-trait impls that let the ABI structs of `uapi` cross the user
//! boundary by value. They live here because `uapi/src/abi.rs` is shared with
//! user space and must not depend on the `kernel` crate.

use crate::uapi::{ArgHeader, RsioVersion};
use kernel::prelude::*;
use kernel::transmute::{AsBytes, FromBytes};

// SAFETY: `ArgHeader` is `repr(C)` with two `u32` fields: it has no padding,
// every bit pattern is a valid value, and all-zeroes is a valid value.
unsafe impl FromBytes for ArgHeader {}
// SAFETY: As above; no uninitialized bytes and no interior mutability.
unsafe impl AsBytes for ArgHeader {}
// SAFETY: As above.
unsafe impl Zeroable for ArgHeader {}

// SAFETY: `RsioVersion` is `repr(C)` of integers and byte arrays laid out
// without padding (size asserted to be the sum of its fields in `abi.rs`), so
// every bit pattern is a valid value.
unsafe impl FromBytes for RsioVersion {}
// SAFETY: As above; no padding means no uninitialized bytes, and it has no
// interior mutability.
unsafe impl AsBytes for RsioVersion {}
// SAFETY: As above; all-zeroes is a valid value.
unsafe impl Zeroable for RsioVersion {}
