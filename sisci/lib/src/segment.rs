// SPDX-License-Identifier: GPL-2.0

//! Local segments (memory of this node that peers connect to) and remote
//! segments (connections to a peer's segment).

use crate::device::{list_segments, SegmentKind, Sisci};
use crate::error::{Error, Result};
use crate::mapping::{Mapping, Owner};
use crate::sys::{ioctl, ioctl_handle, timeout_ms, Fd};
use rsio_uapi::sisci::*;
use rsio_uapi::Request;
use std::sync::Arc;
use std::time::Duration;

/// A segment or interrupt id: chosen by the caller or by the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Id {
    /// The kernel picks a free id.
    Auto,
    /// This id (below `SISCI_MAX_ID`).
    Fixed(u32),
}

/// Options of [`LocalSegment::create_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentFlags {
    /// Processes of any user may connect (default: the creator's user and root).
    pub any_user: bool,
    /// A multicast segment: join multicast group `id` (a [`Id::Fixed`]) and
    /// receive what is written to the group.
    pub multicast: bool,
}

/// An event of a local segment or a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentEvent {
    /// A peer connected (local segments).
    Connect {
        /// The peer.
        node: u32,
    },
    /// A peer disconnected (local segments), or the owner removed the
    /// segment or made it unavailable (connections: the connection is dead).
    Disconnect {
        /// The peer or owner.
        node: u32,
    },
    /// The owner node died or its link went down (connections).
    Lost {
        /// The owner.
        node: u32,
    },
    /// An event this library does not know.
    Other {
        /// `SISCI_EVENT_*` value.
        event: u32,
        /// The node.
        node: u32,
    },
}

fn wait_event(
    fd: &Fd,
    handle: u32,
    timeout: Option<Duration>,
    nonblock: bool,
) -> Result<SegmentEvent> {
    let mut a = SisciSegEvent::request();
    a.handle = handle;
    a.timeout_ms = timeout_ms(timeout);
    if nonblock {
        a.header.flags = SISCI_NONBLOCK;
    }
    ioctl(fd, SISCI_IOC_SEG_WAIT_EVENT, &mut a, "SEG_WAIT_EVENT")?;
    Ok(match a.event {
        SISCI_EVENT_CONNECT => SegmentEvent::Connect { node: a.node },
        SISCI_EVENT_DISCONNECT => SegmentEvent::Disconnect { node: a.node },
        SISCI_EVENT_LOST => SegmentEvent::Lost { node: a.node },
        event => SegmentEvent::Other {
            event,
            node: a.node,
        },
    })
}

fn poll_event(fd: &Fd, handle: u32) -> Result<Option<SegmentEvent>> {
    match wait_event(fd, handle, Some(Duration::ZERO), true) {
        Ok(e) => Ok(Some(e)),
        Err(e) if e.would_block() => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) struct SegInner {
    pub(crate) fd: Fd,
    pub(crate) handle: u32,
    pub(crate) id: u32,
    pub(crate) size: u64,
    pub(crate) mmap_offset: u64,
    pub(crate) multicast: bool,
}

impl Drop for SegInner {
    fn drop(&mut self) {
        let _ = ioctl_handle(
            &self.fd,
            SISCI_IOC_SEG_REMOVE,
            self.handle,
            0,
            0,
            "SEG_REMOVE",
        );
    }
}

/// A segment of this node's memory. Removed when it and every [`Mapping`]
/// of it are dropped (a mapping keeps its segment alive).
pub struct LocalSegment {
    inner: Arc<SegInner>,
}

impl LocalSegment {
    /// Creates a segment of `size` bytes (rounded up to pages, zeroed).
    pub fn create(sisci: &Sisci, id: Id, size: u64) -> Result<Self> {
        Self::create_with(sisci, id, size, SegmentFlags::default())
    }

    /// Creates a segment with options.
    pub fn create_with(sisci: &Sisci, id: Id, size: u64, flags: SegmentFlags) -> Result<Self> {
        let mut f = 0;
        if flags.any_user {
            f |= SISCI_SEG_ANY_USER;
        }
        if flags.multicast {
            f |= SISCI_SEG_MULTICAST;
        }
        Self::create_raw(sisci, id, f, size, 0)
    }

    /// `SEG_CREATE` with `flags` (`SISCI_SEG_*` but `AUTO_ID`, which `id`
    /// sets).
    fn create_raw(sisci: &Sisci, id: Id, flags: u32, size: u64, user_addr: u64) -> Result<Self> {
        let mut a = SisciSegCreate::request();
        a.header.flags = flags;
        match id {
            Id::Auto => a.header.flags |= SISCI_SEG_AUTO_ID,
            Id::Fixed(n) => a.segment_id = n,
        }
        a.size = size;
        a.user_addr = user_addr;
        ioctl(&sisci.fd, SISCI_IOC_SEG_CREATE, &mut a, "SEG_CREATE")?;
        Ok(LocalSegment {
            inner: Arc::new(SegInner {
                fd: sisci.fd.clone(),
                handle: a.handle,
                id: a.segment_id,
                size: a.size,
                mmap_offset: a.mmap_offset,
                multicast: flags & SISCI_SEG_MULTICAST != 0,
            }),
        })
    }

    /// Makes `len` bytes of this process's memory at `addr` a segment
    /// (`SCIRegisterSegmentMemory`): the kernel pins the pages while the
    /// segment exists, and peers read and write them directly. `addr` and
    /// `len` must be page-aligned.
    ///
    /// # Safety
    ///
    /// Peers (and DMA) may write the memory at any time while the segment
    /// exists: the caller must not hold Rust references (`&`/`&mut`) into
    /// it meanwhile, only raw pointers with volatile accesses, and must not
    /// reuse it for anything else until the segment is gone.
    pub unsafe fn register(
        sisci: &Sisci,
        id: Id,
        addr: *mut u8,
        len: usize,
        any_user: bool,
    ) -> Result<Self> {
        let any = if any_user { SISCI_SEG_ANY_USER } else { 0 };
        Self::create_raw(
            sisci,
            id,
            SISCI_SEG_USER_MEMORY | any,
            len as u64,
            addr as u64,
        )
    }

    /// Makes `len` bytes of device memory at bus address `ioaddr` of this
    /// node a segment (`SCIAttachPhysicalMemory`): a range of a memory BAR
    /// of a PCI function here (a GPU's, an FPGA's), which peers map
    /// through an inbound window of the adapter open only to the nodes
    /// connected. Needs `CAP_SYS_RAWIO`; both page-aligned.
    pub fn attach_phys(
        sisci: &Sisci,
        id: Id,
        ioaddr: u64,
        len: u64,
        any_user: bool,
    ) -> Result<Self> {
        let any = if any_user { SISCI_SEG_ANY_USER } else { 0 };
        // Removed by the drop of `seg` if the attach fails.
        let seg = Self::create_raw(sisci, id, SISCI_SEG_EMPTY | any, len, 0)?;
        let mut t = SisciSegAttach::request();
        t.handle = seg.handle();
        t.ioaddr = ioaddr;
        t.size = seg.size();
        ioctl(
            &sisci.fd,
            SISCI_IOC_SEG_ATTACH_PHYS,
            &mut t,
            "SEG_ATTACH_PHYS",
        )?;
        Ok(seg)
    }

    /// The id peers connect to.
    pub fn id(&self) -> u32 {
        self.inner.id
    }

    /// The kernel handle.
    pub fn handle(&self) -> u32 {
        self.inner.handle
    }

    /// The open file the segment belongs to.
    pub(crate) fn fd(&self) -> &Fd {
        &self.inner.fd
    }

    /// Size in bytes (rounded up to pages).
    pub fn size(&self) -> u64 {
        self.inner.size
    }

    /// A multicast segment.
    pub fn is_multicast(&self) -> bool {
        self.inner.multicast
    }

    /// Live [`Mapping`]s of this segment.
    pub fn mappings(&self) -> usize {
        Arc::strong_count(&self.inner) - 1
    }

    /// Prepares the segment on adapter `adapter` (only 0 exists).
    pub fn prepare(&self, adapter: u32) -> Result<()> {
        ioctl_handle(
            &self.inner.fd,
            SISCI_IOC_SEG_PREPARE,
            self.inner.handle,
            0,
            adapter,
            "SEG_PREPARE",
        )
        .map(drop)
    }

    /// Lets peers connect (the segment must be prepared).
    pub fn set_available(&self) -> Result<()> {
        ioctl_handle(
            &self.inner.fd,
            SISCI_IOC_SEG_SET_AVAILABLE,
            self.inner.handle,
            SISCI_AVAILABLE,
            0,
            "SEG_SET_AVAILABLE",
        )
        .map(drop)
    }

    /// Refuses new connections; connected peers lose the segment.
    pub fn set_unavailable(&self) -> Result<()> {
        ioctl_handle(
            &self.inner.fd,
            SISCI_IOC_SEG_SET_AVAILABLE,
            self.inner.handle,
            0,
            0,
            "SEG_SET_AVAILABLE",
        )
        .map(drop)
    }

    /// Maps `len` bytes at `offset` for reading and writing.
    pub fn map(&self, offset: u64, len: u64) -> Result<Mapping> {
        let i = &self.inner;
        Mapping::new(
            &i.fd,
            i.mmap_offset,
            i.size,
            offset,
            len,
            true,
            Owner::Local(self.inner.clone()),
        )
    }

    /// Maps the whole segment.
    pub fn map_all(&self) -> Result<Mapping> {
        self.map(0, self.size())
    }

    /// Waits for the next event (`None`: forever).
    pub fn wait_event(&self, timeout: Option<Duration>) -> Result<SegmentEvent> {
        wait_event(&self.inner.fd, self.inner.handle, timeout, false)
    }

    /// Takes the next event if there is one.
    pub fn poll_event(&self) -> Result<Option<SegmentEvent>> {
        poll_event(&self.inner.fd, self.inner.handle)
    }

    /// Bit n: node n is connected.
    pub fn connected_nodes(&self) -> Result<u32> {
        let all = list_segments(&self.inner.fd)?;
        all.iter()
            .find(|s| s.kind == SegmentKind::Local && s.handle == self.inner.handle)
            .map(|s| s.connected)
            .ok_or(Error::new("SEG_LIST", libc::ENOENT))
    }

    /// Removes the segment now; `EBUSY` (and the segment back) while it is
    /// mapped.
    pub fn remove(self) -> std::result::Result<(), (Self, Error)> {
        if self.mappings() > 0 {
            return Err((self, Error::new("SEG_REMOVE", libc::EBUSY)));
        }
        drop(self);
        Ok(())
    }
}

pub(crate) struct ConnInner {
    pub(crate) fd: Fd,
    pub(crate) handle: u32,
    pub(crate) node: u32,
    pub(crate) id: u32,
    pub(crate) size: u64,
    pub(crate) mmap_offset: u64,
}

impl ConnInner {
    /// One cheap ioctl (`SEG_STATE`): no listing, no event consumed.
    pub(crate) fn lost(&self) -> Result<bool> {
        let a = ioctl_handle(
            &self.fd,
            SISCI_IOC_SEG_STATE,
            self.handle,
            0,
            0,
            "SEG_STATE",
        )?;
        Ok(a.value & SISCI_STATE_LOST != 0)
    }
}

impl Drop for ConnInner {
    fn drop(&mut self) {
        let _ = ioctl_handle(
            &self.fd,
            SISCI_IOC_SEG_DISCONNECT,
            self.handle,
            0,
            0,
            "SEG_DISCONNECT",
        );
    }
}

/// A connection to a peer's segment. Disconnected when it and every
/// [`Mapping`] of it are dropped.
pub struct RemoteSegment {
    inner: Arc<ConnInner>,
}

impl RemoteSegment {
    /// Connects to segment `id` of `node`, waiting up to `timeout` for the
    /// owner's answer (`None`: forever).
    pub fn connect(sisci: &Sisci, node: u32, id: u32, timeout: Option<Duration>) -> Result<Self> {
        Self::connect_flags(sisci, node, id, timeout, 0)
    }

    /// Connects to multicast group `group`: writes go to every member.
    pub fn connect_multicast(sisci: &Sisci, group: u32, timeout: Option<Duration>) -> Result<Self> {
        Self::connect_flags(sisci, 0, group, timeout, SISCI_SEG_MULTICAST)
    }

    fn connect_flags(
        sisci: &Sisci,
        node: u32,
        id: u32,
        timeout: Option<Duration>,
        flags: u32,
    ) -> Result<Self> {
        let mut a = SisciConnect::request();
        a.header.flags = flags;
        a.node = node;
        a.segment_id = id;
        a.timeout_ms = timeout_ms(timeout);
        ioctl(&sisci.fd, SISCI_IOC_SEG_CONNECT, &mut a, "SEG_CONNECT")?;
        Ok(RemoteSegment {
            inner: Arc::new(ConnInner {
                fd: sisci.fd.clone(),
                handle: a.handle,
                node,
                id,
                size: a.size,
                mmap_offset: a.mmap_offset,
            }),
        })
    }

    /// The owner node.
    pub fn node(&self) -> u32 {
        self.inner.node
    }

    /// The segment id.
    pub fn id(&self) -> u32 {
        self.inner.id
    }

    /// The kernel handle.
    pub fn handle(&self) -> u32 {
        self.inner.handle
    }

    /// The open file the connection belongs to.
    pub(crate) fn fd(&self) -> &Fd {
        &self.inner.fd
    }

    /// The segment's size in bytes.
    pub fn size(&self) -> u64 {
        self.inner.size
    }

    /// Live [`Mapping`]s of this connection.
    pub fn mappings(&self) -> usize {
        Arc::strong_count(&self.inner) - 1
    }

    /// Maps `len` bytes at `offset`; `writable = false` maps read-only.
    pub fn map_with(&self, offset: u64, len: u64, writable: bool) -> Result<Mapping> {
        let i = &self.inner;
        Mapping::new(
            &i.fd,
            i.mmap_offset,
            i.size,
            offset,
            len,
            writable,
            Owner::Remote(self.inner.clone()),
        )
    }

    /// Maps `len` bytes at `offset` for reading and writing.
    pub fn map(&self, offset: u64, len: u64) -> Result<Mapping> {
        self.map_with(offset, len, true)
    }

    /// Maps the whole segment.
    pub fn map_all(&self) -> Result<Mapping> {
        self.map(0, self.size())
    }

    /// Waits for the next event (`None`: forever).
    pub fn wait_event(&self, timeout: Option<Duration>) -> Result<SegmentEvent> {
        wait_event(&self.inner.fd, self.inner.handle, timeout, false)
    }

    /// Takes the next event if there is one.
    pub fn poll_event(&self) -> Result<Option<SegmentEvent>> {
        poll_event(&self.inner.fd, self.inner.handle)
    }

    /// The connection is dead (segment removed, unavailable, owner gone).
    pub fn is_lost(&self) -> Result<bool> {
        self.inner.lost()
    }
}
