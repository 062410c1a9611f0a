// SPDX-License-Identifier: GPL-2.0

//! Host tests of namespace access policy.

use rsio_nvme_share_logic::policy::*;

#[test]
fn values_match_the_uapi() {
    // uapi/src/nvme_share.rs: NVME_POLICY_*, NVME_ACCESS_*.
    assert_eq!((POLICY_SHARED, POLICY_ASSIGNED, POLICY_RO), (0, 1, 1));
    assert_eq!((ACCESS_NONE, ACCESS_RO, ACCESS_RW), (0, 1, 2));
}

#[test]
fn access_table() {
    for client in [0u32, 1, 7] {
        for ro in [false, true] {
            let want = if ro { ACCESS_RO } else { ACCESS_RW };
            assert_eq!(access(POLICY_SHARED, 0, 0, client, ro), want);
            assert_eq!(access(POLICY_SHARED, 0, POLICY_RO, client, ro), ACCESS_RO);
            assert_eq!(access(POLICY_ASSIGNED, client, 0, client, ro), want);
            assert_eq!(
                access(POLICY_ASSIGNED, client, POLICY_RO, client, ro),
                ACCESS_RO
            );
            assert_eq!(
                access(POLICY_ASSIGNED, client + 1, 0, client, ro),
                ACCESS_NONE
            );
            assert_eq!(
                access(POLICY_ASSIGNED, client + 1, POLICY_RO, client, ro),
                ACCESS_NONE
            );
            for kind in [2, 3, u32::MAX] {
                assert_eq!(access(kind, client, 0, client, ro), ACCESS_NONE);
            }
        }
    }
}

#[test]
fn validity() {
    assert!(valid_policy(POLICY_SHARED, 0, 0, 3));
    assert!(valid_policy(POLICY_SHARED, 0, POLICY_RO, 3));
    assert!(!valid_policy(POLICY_SHARED, 1, 0, 3));
    assert!(valid_policy(POLICY_ASSIGNED, 0, 0, 3));
    assert!(valid_policy(POLICY_ASSIGNED, 2, POLICY_RO, 3));
    assert!(!valid_policy(POLICY_ASSIGNED, 3, 0, 3));
    assert!(!valid_policy(POLICY_ASSIGNED, 0, 0, 0));
    assert!(!valid_policy(POLICY_SHARED, 0, 2, 3));
    assert!(!valid_policy(POLICY_ASSIGNED, 0, 1 << 31, 3));
    assert!(!valid_policy(2, 0, 0, 3));
    assert!(!valid_policy(u32::MAX, 0, 0, 3));
}
