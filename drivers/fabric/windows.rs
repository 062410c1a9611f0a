// SPDX-License-Identifier: GPL-2.0

//! The core's windows: grants (local memory open to peers) and mappings
//! (peer memory reachable locally), each owned by an open file (or the
//! kernel), with ids, sharing of translation entries between a mapping and
//! the mappings inside it, and translation both ways.

use crate::logic::maps::{self, IdAlloc, Placement, Range, WindowError};
use crate::transport::{Grant, Mapping, Transport};
use crate::uapi;
use kernel::prelude::*;
use kernel::sync::Arc;

/// Who owns a window: an open file's tag, or [`KERNEL`].
pub(crate) type Owner = usize;
/// The owner of windows the kernel (a feature module) made.
pub(crate) const KERNEL: Owner = 0;

/// Translation entries, shared by the mappings inside them.
pub(crate) struct SharedMap {
    mapping: KBox<dyn Mapping>,
    /// The range the entries cover.
    range: Range,
}

/// What a window holds.
#[derive(Clone)]
pub(crate) enum Backing {
    /// Local memory open to peers.
    Grant(Arc<KBox<dyn Grant>>),
    /// Peer memory, at `offset` into the shared entries.
    Map(Arc<SharedMap>, u64),
}

/// One window.
pub(crate) struct Window {
    pub(crate) id: u32,
    pub(crate) owner: Owner,
    pub(crate) pid: u32,
    /// `MAP`: peer node, fabric address, length; `GRANT`: this node.
    pub(crate) range: Range,
    pub(crate) backing: Backing,
}

impl Window {
    /// `uapi::RSIO_WINDOW_*`.
    pub(crate) fn kind(&self) -> u32 {
        match self.backing {
            Backing::Grant(_) => uapi::RSIO_WINDOW_GRANT,
            Backing::Map(..) => uapi::RSIO_WINDOW_MAP,
        }
    }

    /// The local bus address of the first byte.
    pub(crate) fn bus_addr(&self) -> u64 {
        match &self.backing {
            Backing::Grant(g) => g.bus_addr(),
            Backing::Map(m, off) => m.mapping.bus_addr() + off,
        }
    }

    /// Reads from a backing (a clone, used without the table's lock).
    pub(crate) fn read_backing(b: &Backing, offset: u64, buf: &mut [u8]) -> Result {
        match b {
            Backing::Grant(g) => g.read(usize::try_from(offset)?, buf),
            Backing::Map(m, off) => m.mapping.read(usize::try_from(off + offset)?, buf),
        }
    }

    /// Writes to a backing (a clone, used without the table's lock).
    pub(crate) fn write_backing(b: &Backing, offset: u64, data: &[u8]) -> Result {
        match b {
            Backing::Grant(g) => g.write(usize::try_from(offset)?, data),
            Backing::Map(m, off) => m.mapping.write(usize::try_from(off + offset)?, data),
        }
    }
}

fn window_error(e: WindowError) -> Error {
    match e {
        WindowError::Invalid => EINVAL,
        WindowError::Overlap => EEXIST,
    }
}

/// The table.
pub(crate) struct Windows {
    list: KVec<Window>,
    ids: IdAlloc,
}

impl Windows {
    /// An empty table.
    pub(crate) fn new() -> Self {
        Self {
            list: KVec::new(),
            ids: IdAlloc::default(),
        }
    }

    /// The windows.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Window> {
        self.list.iter()
    }

    /// Handles sharing `w`'s translation entries (1 for a grant).
    pub(crate) fn refcount(&self, w: &Window) -> u32 {
        match &w.backing {
            Backing::Grant(_) => 1,
            Backing::Map(m, _) => self
                .list
                .iter()
                .filter(|x| matches!(&x.backing, Backing::Map(y, _) if Arc::ptr_eq(m, y)))
                .count() as u32,
        }
    }

    /// The translation entries of `w`: (first, count).
    pub(crate) fn hw(&self, w: &Window) -> (u32, u32) {
        match &w.backing {
            Backing::Grant(g) => (g.hw_index(), 1),
            Backing::Map(m, _) => m.mapping.hw_range(),
        }
    }

    /// Translation entries in use by mappings (each shared set once).
    pub(crate) fn entries_used(&self) -> (u32, u32) {
        let mut lut = 0;
        let mut grants = 0;
        for (i, w) in self.list.iter().enumerate() {
            match &w.backing {
                Backing::Grant(_) => grants += 1,
                Backing::Map(m, _) => {
                    let first = self.list.iter().position(
                        |x| matches!(&x.backing, Backing::Map(y, _) if Arc::ptr_eq(m, y)),
                    );
                    if first == Some(i) {
                        lut += m.mapping.hw_range().1;
                    }
                }
            }
        }
        (lut, grants)
    }

    fn new_id(&mut self) -> u32 {
        let list = &self.list;
        self.ids.alloc(|id| list.iter().any(|w| w.id == id))
    }

    /// Adds a grant of `len` bytes open to `peers`, made by `t`.
    pub(crate) fn grant(
        &mut self,
        t: &dyn Transport,
        owner: Owner,
        pid: u32,
        len: u64,
        peers: u32,
    ) -> Result<&Window> {
        let g = t.grant(len, peers)?;
        let range = Range {
            node: t.info().node_id,
            addr: g.fabric_addr(),
            len: g.len(),
        };
        let id = self.new_id();
        self.list.push(
            Window {
                id,
                owner,
                pid,
                range,
                backing: Backing::Grant(Arc::new(g, GFP_KERNEL)?),
            },
            GFP_KERNEL,
        )?;
        self.list.last().ok_or(EINVAL)
    }

    /// Maps `want` through `t`: inside an existing mapping, its entries
    /// are shared; a partial overlap is `EEXIST`.
    pub(crate) fn map(
        &mut self,
        t: &dyn Transport,
        owner: Owner,
        pid: u32,
        want: Range,
    ) -> Result<&Window> {
        want.validate(uapi::RSIO_WINDOW_ALIGN, uapi::RSIO_MAX_WINDOW_SIZE)
            .map_err(window_error)?;
        let shared: KVec<&Arc<SharedMap>> = {
            let mut v = KVec::new();
            for w in self.list.iter() {
                if let Backing::Map(m, _) = &w.backing {
                    v.push(m, GFP_KERNEL)?;
                }
            }
            v
        };
        let placement =
            maps::place(shared.iter().map(|m| &m.range), &want).map_err(window_error)?;
        let backing = match placement {
            Placement::Inside(i) => {
                let m = shared[i].clone();
                let off = want.addr - m.range.addr;
                Backing::Map(m, off)
            }
            Placement::New => {
                let mapping = t.map(want.node, want.addr, want.len)?;
                if mapping.len() < want.len {
                    return Err(EINVAL);
                }
                Backing::Map(
                    Arc::new(
                        SharedMap {
                            mapping,
                            range: want,
                        },
                        GFP_KERNEL,
                    )?,
                    0,
                )
            }
        };
        drop(shared);
        let id = self.new_id();
        self.list.push(
            Window {
                id,
                owner,
                pid,
                range: want,
                backing,
            },
            GFP_KERNEL,
        )?;
        self.list.last().ok_or(EINVAL)
    }

    /// The window `id` of `owner` of kind `kind` (`ENOENT`).
    pub(crate) fn get(&self, owner: Owner, id: u32) -> Result<&Window> {
        self.list
            .iter()
            .find(|w| w.id == id && w.owner == owner)
            .ok_or(ENOENT)
    }

    /// Removes window `id` of `owner` of kind `kind` (`ENOENT`); the
    /// returned window releases its resources when dropped.
    pub(crate) fn remove(&mut self, owner: Owner, id: u32, kind: u32) -> Result<Window> {
        let i = self
            .list
            .iter()
            .position(|w| w.id == id && w.owner == owner && w.kind() == kind)
            .ok_or(ENOENT)?;
        self.list.remove(i).map_err(|_| ENOENT)
    }

    /// Takes everything `owner` holds out of the table (released when
    /// the returned list drops).
    pub(crate) fn take_owner(&mut self, owner: Owner) -> KVec<Window> {
        let mut out = KVec::new();
        let mut i = 0;
        while i < self.list.len() {
            if self.list[i].owner == owner {
                if let Ok(w) = self.list.remove(i) {
                    // Without memory the window is dropped right here
                    // instead, under the lock: released all the same.
                    let _ = out.push(w, GFP_KERNEL);
                }
            } else {
                i += 1;
            }
        }
        out
    }

    /// Removes everything.
    pub(crate) fn clear(&mut self) {
        self.list.clear();
    }

    /// The local bus address of `node`'s fabric address `addr`, if some
    /// mapping covers it.
    pub(crate) fn to_bus(&self, node: u32, addr: u64) -> Option<u64> {
        self.list.iter().find_map(|w| match &w.backing {
            Backing::Map(..) if w.range.node == node => maps::to_bus(&w.range, w.bus_addr(), addr),
            _ => None,
        })
    }

    /// The (node, fabric address) a local bus address inside a mapping
    /// reaches.
    pub(crate) fn to_fabric(&self, bus: u64) -> Option<(u32, u64)> {
        self.list.iter().find_map(|w| match &w.backing {
            Backing::Map(..) => maps::to_fabric(&w.range, w.bus_addr(), bus),
            _ => None,
        })
    }
}
