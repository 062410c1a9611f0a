// SPDX-License-Identifier: GPL-2.0

//! Marker-trait impls that let the ABI structs cross the user boundary by
//! value (the ABI sources are shared with user space and must not depend
//! on the `kernel` crate).

use crate::sisci_abi::*;
use crate::uapi::{ArgHeader, RsioList};
use kernel::prelude::*;
use kernel::transmute::{AsBytes, FromBytes};

macro_rules! abi_struct {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: `$t` is `repr(C)` of integers laid out without padding (its size is asserted to be the sum of its fields in the ABI source), so every bit pattern is a valid value.
        unsafe impl FromBytes for $t {}
        // SAFETY: As above: no padding means no uninitialized bytes, and it has no interior mutability.
        unsafe impl AsBytes for $t {}
        // SAFETY: As above; all-zeroes is a valid value.
        unsafe impl Zeroable for $t {}
    )*};
}

abi_struct!(
    SisciInfo,
    SisciSegCreate,
    SisciHandle,
    SisciConnect,
    SisciSegEvent,
    SisciSegEntry,
    SisciIntrCreate,
    SisciIntrConnect,
    SisciIntrTrigger,
    SisciIntrWait,
    SisciIntrEventfd,
    SisciDmaEntry,
    SisciDmaStart,
    SisciDmaWait,
);

// `ArgHeader` and `RsioList` of our copy of `abi.rs`.
abi_struct!(ArgHeader, RsioList);
