// SPDX-License-Identifier: GPL-2.0

//! [`abi_struct!`](crate::abi_struct): the marker traits that let an ioctl
//! argument struct cross the user boundary by value.
//!
//! The ABI sources (`uapi/`) are shared with user space and must not depend
//! on the `kernel` crate, so each module implements the traits for the
//! structs it uses with this macro.

/// Implements `FromBytes`, `AsBytes` and `Zeroable` for `repr(C)` ABI
/// structs of integers and integer arrays laid out without padding.
///
/// Use only on such structs: every ABI struct of `uapi/` has its size
/// asserted to be the sum of its fields there, and checked against the C
/// header by a test.
#[macro_export]
macro_rules! abi_struct {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: `$t` is `repr(C)` of integers laid out without padding (its size is asserted to
        // be the sum of its fields in the ABI source), so every bit pattern is a valid value.
        unsafe impl ::kernel::transmute::FromBytes for $t {}
        // SAFETY: As above: no padding means no uninitialized bytes, and it has no interior
        // mutability.
        unsafe impl ::kernel::transmute::AsBytes for $t {}
        // SAFETY: As above; all-zeroes is a valid value.
        unsafe impl ::kernel::prelude::Zeroable for $t {}
    )*};
}
