// SPDX-License-Identifier: GPL-2.0

//! [`Sisci`]: one open `/dev/sisci`, one SISCI "virtual device".

use crate::error::{Error, Result};
use crate::sys::{ioctl, Fd};
use rsio_uapi::sisci::*;
use rsio_uapi::{Request, RsioList, RSIO_MAX_LIST};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

/// What `SISCI_IOC_INFO` reports: this node, the fabric, the adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info {
    /// This node's id.
    pub node_id: u32,
    /// Nodes in the fabric.
    pub num_nodes: u32,
    /// Bit n: node n is up (this node included).
    pub up_mask: u32,
    /// `SISCI_CAP_*` bits.
    pub caps: u32,
    /// DMA channels.
    pub dma_channels: u32,
    /// Multicast groups.
    pub mc_groups: u32,
    /// Largest segment in bytes.
    pub max_segment_size: u64,
    /// Largest data-interrupt payload in bytes.
    pub max_intr_data: u32,
}

impl Info {
    /// The adapter has a DMA engine.
    pub fn has_dma(&self) -> bool {
        self.caps & SISCI_CAP_DMA != 0
    }

    /// The adapter does multicast.
    pub fn has_multicast(&self) -> bool {
        self.caps & SISCI_CAP_MULTICAST != 0
    }
}

/// Whether a [`SegmentInfo`] is a local segment or a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentKind {
    /// A segment of this node.
    Local,
    /// A connection to a peer's segment.
    Remote,
    /// A kind this library does not know.
    Other(u32),
}

/// One segment or connection of the node (`SISCI_IOC_SEG_LIST`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Local or remote.
    pub kind: SegmentKind,
    /// `SISCI_STATE_*` bits.
    pub state: u32,
    /// The owner node.
    pub node: u32,
    /// The segment id.
    pub segment_id: u32,
    /// The handle.
    pub handle: u32,
    /// Local segments: bit n: node n is connected.
    pub connected: u32,
    /// Size in bytes.
    pub size: u64,
    /// The creator's pid.
    pub pid: u32,
    /// The creator's uid.
    pub uid: u32,
}

impl SegmentInfo {
    /// The connection lost its segment (owner gone, removed, unavailable).
    pub fn lost(&self) -> bool {
        self.state & SISCI_STATE_LOST != 0
    }
}

/// An open `/dev/sisci`. Objects created through it belong to it (and to
/// this process): they are freed when dropped, and all of them when the
/// last object and the `Sisci` are gone. A clone shares the open device
/// (and counts among the others' [`Sisci::live_objects`]).
#[derive(Clone, Debug)]
pub struct Sisci {
    pub(crate) fd: Fd,
}

impl Sisci {
    /// Opens [`SISCI_DEVICE_PATH`].
    pub fn open() -> Result<Self> {
        Self::open_path(SISCI_DEVICE_PATH)
    }

    /// Opens the SISCI device at `path` (tests, other device nodes).
    pub fn open_path(path: &str) -> Result<Self> {
        let c = CString::new(path).map_err(|_| Error::new("open", libc::EINVAL))?;
        // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(Error::last("open"));
        }
        // SAFETY: `fd` was just returned by open(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Sisci { fd: Arc::new(fd) })
    }

    /// Another handle on the same open device (`dup(2)`): objects made
    /// through either may be used with the other (to the kernel they are
    /// one open file), but each counts its own [`Sisci::live_objects`].
    /// What SISCI's C API needs: a program may borrow a device through one
    /// descriptor and map a segment of another for it.
    pub fn share(&self) -> Result<Self> {
        // SAFETY: `self.fd` is an open descriptor; F_DUPFD_CLOEXEC returns a new one or -1.
        let fd = unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        if fd < 0 {
            return Err(Error::last("dup"));
        }
        // SAFETY: `fd` was just returned by fcntl(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Sisci { fd: Arc::new(fd) })
    }

    /// This node, the fabric and the adapter's capabilities.
    pub fn info(&self) -> Result<Info> {
        let mut a = SisciInfo::request();
        ioctl(&self.fd, SISCI_IOC_INFO, &mut a, "INFO")?;
        Ok(Info {
            node_id: a.node_id,
            num_nodes: a.num_nodes,
            up_mask: a.up_mask,
            caps: a.caps,
            dma_channels: a.dma_channels,
            mc_groups: a.mc_groups,
            max_segment_size: a.max_segment_size,
            max_intr_data: a.max_intr_data,
        })
    }

    /// Every segment and connection of the node (not only this file's).
    pub fn segments(&self) -> Result<Vec<SegmentInfo>> {
        list_segments(&self.fd)
    }

    /// Objects (segments, mappings, interrupts, queues) still alive that
    /// were made through this `Sisci`, and its other clones.
    pub fn live_objects(&self) -> usize {
        Arc::strong_count(&self.fd) - 1
    }
}

pub(crate) fn list_segments(fd: &OwnedFd) -> Result<Vec<SegmentInfo>> {
    let mut cap: u32 = 16;
    loop {
        let mut buf: Vec<SisciSegEntry> = Vec::with_capacity(cap as usize);
        let mut l = RsioList::request();
        l.entries = buf.as_mut_ptr() as u64;
        l.capacity = cap;
        l.entry_size = core::mem::size_of::<SisciSegEntry>() as u32;
        ioctl(fd, SISCI_IOC_SEG_LIST, &mut l, "SEG_LIST")?;
        if l.count > cap && cap < RSIO_MAX_LIST {
            cap = (l.count + 16).min(RSIO_MAX_LIST);
            continue;
        }
        let n = l.count.min(cap) as usize;
        // SAFETY: the kernel wrote `min(count, capacity)` elements of `entry_size` (= our element size) bytes into `buf`'s capacity.
        unsafe { buf.set_len(n) };
        return Ok(buf
            .iter()
            .map(|e| SegmentInfo {
                kind: match e.kind {
                    SISCI_ENTRY_LOCAL => SegmentKind::Local,
                    SISCI_ENTRY_REMOTE => SegmentKind::Remote,
                    k => SegmentKind::Other(k),
                },
                state: e.state,
                node: e.node,
                segment_id: e.segment_id,
                handle: e.handle,
                connected: e.connected,
                size: e.size,
                pid: e.pid,
                uid: e.uid,
            })
            .collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_missing_device_is_enoent() {
        let e = Sisci::open_path("/nonexistent/sisci").unwrap_err();
        assert_eq!(e.errno(), libc::ENOENT);
        assert_eq!(e.op(), "open");
    }

    #[test]
    fn ioctl_on_a_non_sisci_file_fails_cleanly() {
        let s = Sisci::open_path("/dev/null").unwrap();
        let e = s.info().unwrap_err();
        assert_eq!(e.op(), "INFO");
        assert!(e.errno() == libc::ENOTTY || e.errno() == libc::EINVAL);
        assert!(s.segments().is_err());
        assert_eq!(s.live_objects(), 0);
    }
}
