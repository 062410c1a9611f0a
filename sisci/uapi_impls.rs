// SPDX-License-Identifier: GPL-2.0

//! Marker-trait impls that let the ABI structs cross the user boundary by
//! value (the ABI sources are shared with user space and must not depend
//! on the `kernel` crate).

use crate::sisci_abi::*;
use crate::uapi::{ArgHeader, RsioList};

rsio_kernel::abi_struct!(
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
    SisciDevBorrow,
    SisciDevMap,
    SisciSegAddr,
    SisciSegAttach,
);

// `ArgHeader` and `RsioList` of our copy of `abi.rs`.
rsio_kernel::abi_struct!(ArgHeader, RsioList);
