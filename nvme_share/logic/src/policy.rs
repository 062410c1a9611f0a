// SPDX-License-Identifier: GPL-2.0

//! Namespace access policy (docs/nvme-share.md section 4). The values are
//! the uapi's (`NVME_POLICY_*`, `NVME_ACCESS_*` in
//! uapi/src/nvme_share.rs).

/// Policy kind: every attached node gets a disk.
pub const POLICY_SHARED: u32 = 0;
/// Policy kind: only the node the namespace is assigned to gets a disk.
pub const POLICY_ASSIGNED: u32 = 1;
/// Policy flag: read only.
pub const POLICY_RO: u32 = 1 << 0;
/// The policy flags known.
pub const POLICY_FLAGS: u32 = POLICY_RO;

/// Access: none (no disk).
pub const ACCESS_NONE: u32 = 0;
/// Access: read only.
pub const ACCESS_RO: u32 = 1;
/// Access: read and write.
pub const ACCESS_RW: u32 = 2;

/// What node `client` may do with a namespace of policy `kind`, `node`,
/// `flags`, attached read-only if `attach_ro`: [`ACCESS_NONE`] if it is
/// assigned to another node or the kind is unknown, else [`ACCESS_RO`]
/// for a read-only policy or attachment, else [`ACCESS_RW`].
pub fn access(kind: u32, node: u32, flags: u32, client: u32, attach_ro: bool) -> u32 {
    match kind {
        POLICY_SHARED => {}
        POLICY_ASSIGNED if node == client => {}
        _ => return ACCESS_NONE,
    }
    if flags & POLICY_RO != 0 || attach_ro {
        ACCESS_RO
    } else {
        ACCESS_RW
    }
}

/// A policy may be set: known flags; `SHARED` with node 0, or `ASSIGNED`
/// to a node below `num_nodes`.
pub fn valid_policy(kind: u32, node: u32, flags: u32, num_nodes: u32) -> bool {
    if flags & !POLICY_FLAGS != 0 {
        return false;
    }
    match kind {
        POLICY_SHARED => node == 0,
        POLICY_ASSIGNED => node < num_nodes,
        _ => false,
    }
}
