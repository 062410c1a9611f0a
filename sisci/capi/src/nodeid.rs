// SPDX-License-Identifier: GPL-2.0

//! SISCI node ids <-> rsio nodes: the one place the C API translates them.
//!
//! rsio numbers a fabric's nodes 0, 1, 2, ... (at most
//! [`uapi::RSIO_MAX_NODES`]). SISCI programs are written for Dolphin's
//! numbering, where 0 means "no node" and PCIe adapters number nodes 4, 8,
//! 12, ...: the C API presents rsio node `n` as SISCI node id `4 * (n + 1)`
//! wherever a node id crosses the C boundary (arguments, results, struct
//! fields, callbacks), so 0 is never a node. An id that is 0, not a
//! multiple of 4 or beyond the largest fabric names no node; every call
//! taking one says so with the error it gives for a node that does not
//! exist (docs/sisci.md, "Node ids"). `DIS_BROADCAST_NODEID_GROUP_ALL`
//! (252 = 4 * 63) is beyond every fabric, so it never names a node; the
//! calls that accept it check for it before translating.
//!
//! The Rust API (`sisci` crate) and the rest of rsio keep rsio's numbers.

use rsio_uapi as uapi;
use std::ffi::c_uint;

/// The distance between two consecutive SISCI node ids.
const STEP: c_uint = 4;

/// The SISCI node id of rsio node `node`: `4 * (node + 1)`; 0 ("no node")
/// for a number no fabric has.
pub fn to_sisci(node: u32) -> c_uint {
    if node < uapi::RSIO_MAX_NODES {
        STEP * (node + 1)
    } else {
        0
    }
}

/// The rsio node SISCI node id `id` names: `id / 4 - 1`; `None` for 0, an
/// id that is not a multiple of 4, or one beyond the largest fabric.
pub fn to_rsio(id: c_uint) -> Option<u32> {
    if id == 0 || !id.is_multiple_of(STEP) {
        return None;
    }
    let node = id / STEP - 1;
    (node < uapi::RSIO_MAX_NODES).then_some(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::DIS_BROADCAST_NODEID_GROUP_ALL;

    #[test]
    fn dolphin_numbering() {
        assert_eq!(to_sisci(0), 4);
        assert_eq!(to_sisci(1), 8);
        assert_eq!(to_sisci(2), 12);
        assert_eq!(to_sisci(15), 64);
        assert_eq!(to_rsio(4), Some(0));
        assert_eq!(to_rsio(8), Some(1));
        assert_eq!(to_rsio(12), Some(2));
        assert_eq!(to_rsio(64), Some(15));
    }

    #[test]
    fn round_trip() {
        for n in 0..uapi::RSIO_MAX_NODES {
            let id = to_sisci(n);
            assert!(id != 0 && id.is_multiple_of(4));
            assert_eq!(to_rsio(id), Some(n));
        }
    }

    #[test]
    fn ids_that_name_no_node() {
        // 0 is "no node"; only multiples of 4 are ids.
        for id in [0, 1, 2, 3, 5, 6, 7, 9, 13, 63, 65] {
            assert_eq!(to_rsio(id), None, "{id}");
        }
        // Beyond the largest fabric, and the far end of the range.
        for id in [68, 72, 128, 0xffff_fffc, c_uint::MAX] {
            assert_eq!(to_rsio(id), None, "{id}");
        }
        // Numbers no fabric has have no id.
        assert_eq!(to_sisci(uapi::RSIO_MAX_NODES), 0);
        assert_eq!(to_sisci(u32::MAX), 0);
    }

    #[test]
    fn broadcast_id_is_no_node() {
        // The group id must not collide with a node's id.
        assert_eq!(to_rsio(DIS_BROADCAST_NODEID_GROUP_ALL), None);
        for n in 0..uapi::RSIO_MAX_NODES {
            assert_ne!(to_sisci(n), DIS_BROADCAST_NODEID_GROUP_ALL);
        }
    }
}
