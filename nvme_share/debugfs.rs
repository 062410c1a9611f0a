// SPDX-License-Identifier: GPL-2.0

//! `/sys/kernel/debug/rsio_nvme_share/`: `state` (read: the controllers
//! this node manages or knows, its attachments and their counters) and
//! `reset` (write a controller's fabric name, e.g. `0x1`: the test hook
//! that resets a controller this node manages, as its fatal status would).

use crate::nvme_abi::{NvmeClientEntry, NvmeCtrlEntry};
use core::fmt;
use kernel::prelude::*;

/// The contents of the `state` file, computed at each read.
pub(crate) struct StateFile;

impl fmt::Debug for StateFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ctrls: KVec<NvmeCtrlEntry> = KVec::new();
        let mut clients: KVec<NvmeClientEntry> = KVec::new();
        let ok = crate::manager::list(&mut ctrls)
            .and_then(|()| crate::client::list(&mut ctrls))
            .and_then(|()| crate::manager::list_clients(&mut clients))
            .and_then(|()| crate::client::list_clients(&mut clients));
        if ok.is_err() {
            return writeln!(f, "out of memory");
        }
        for c in ctrls.iter() {
            writeln!(
                f,
                "controller {:#x} node {} state {} gen {} flags {:#x} qpairs {}/{} clients {} bad {} refused {}",
                c.ctrl,
                c.node,
                c.state,
                c.generation,
                c.flags,
                c.qpairs_free,
                c.qpairs_total,
                c.clients,
                c.msgs_bad,
                c.msgs_refused
            )?;
        }
        for a in clients.iter() {
            writeln!(
                f,
                "attachment {} of {:#x}: node {} qids {:#x} created {} vectors {} completed {} bad_cqes {}",
                a.attach, a.ctrl, a.client, a.qids, a.created, a.vectors, a.completed, a.bad_cqes
            )?;
        }
        Ok(())
    }
}

/// Parses a `reset` write: a controller's fabric name (decimal or `0x`
/// hex) this node manages.
pub(crate) fn write_reset(_: &(), r: &mut kernel::uaccess::UserSliceReader) -> Result {
    let mut buf = [0u8; 16];
    let n = r.len();
    if n == 0 || n > buf.len() {
        return Err(EINVAL);
    }
    r.read_slice(&mut buf[..n])?;
    let s = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?.trim();
    let ctrl = match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|_| EINVAL)?;
    crate::manager::request_reset(ctrl)
}
