// SPDX-License-Identifier: GPL-2.0

//! [`Mappers`]: where an object (a local segment, a connection) is mapped
//! into user space (`mmap.rs` adds, revocation zaps).

use kernel::prelude::*;
use rsio_kernel::mm::InodeRef;

/// The inodes through which an object was mapped into user space, to
/// revoke those mappings.
#[derive(Default)]
pub(crate) struct Mappers(KVec<InodeRef>);

impl Mappers {
    /// Remembers `inode` (once per inode).
    pub(crate) fn add(&mut self, inode: InodeRef) -> Result {
        if self.0.iter().any(|i| i.same(&inode)) {
            return Ok(());
        }
        self.0.push(inode, GFP_KERNEL)?;
        Ok(())
    }

    /// Zaps `[offset, offset + len)` of every inode (see [`InodeRef::zap`]).
    pub(crate) fn zap(&self, offset: u64, len: u64) {
        for i in self.0.iter() {
            i.zap(offset, len);
        }
    }
}
