// SPDX-License-Identifier: GPL-2.0

//! DMA queues: the adapter's engine copies between a local segment and a
//! connected remote segment, or a BAR of a device borrowed by this process.

use crate::device::Sisci;
use crate::error::{Error, Result};
use crate::segment::{LocalSegment, RemoteSegment};
use crate::smartio::BorrowedDevice;
use crate::sys::{ioctl, ioctl_handle, timeout_ms, Fd};
use rsio_uapi::sisci::*;
use rsio_uapi::Request;
use std::time::Duration;

/// Which way an entry copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Local segment to remote segment.
    ToRemote,
    /// Remote segment to local segment.
    FromRemote,
}

/// One element of a (vectored) transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaEntry {
    /// Offset in the local segment.
    pub local_offset: u64,
    /// Offset in the remote segment.
    pub remote_offset: u64,
    /// Bytes.
    pub len: u64,
    /// Direction.
    pub direction: Direction,
}

impl DmaEntry {
    /// Local to remote.
    pub fn write(local_offset: u64, remote_offset: u64, len: u64) -> Self {
        DmaEntry {
            local_offset,
            remote_offset,
            len,
            direction: Direction::ToRemote,
        }
    }

    /// Remote to local.
    pub fn read(local_offset: u64, remote_offset: u64, len: u64) -> Self {
        DmaEntry {
            direction: Direction::FromRemote,
            ..Self::write(local_offset, remote_offset, len)
        }
    }

    fn abi(&self) -> SisciDmaEntry {
        SisciDmaEntry {
            local_offset: self.local_offset,
            remote_offset: self.remote_offset,
            len: self.len,
            flags: match self.direction {
                Direction::ToRemote => 0,
                Direction::FromRemote => SISCI_DMA_FROM_REMOTE,
            },
            reserved: 0,
        }
    }
}

/// A queue's state as [`DmaQueue::poll`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmaState {
    /// No transfer started (or its end was already taken).
    Idle,
    /// Running.
    Posted,
    /// Completed (the queue is idle again).
    Done,
    /// Failed at `entry` with `errno` (the queue is idle again).
    Failed {
        /// The first entry that failed.
        entry: u32,
        /// Positive errno (`EIO`, `ENOTCONN`, `ECONNRESET`).
        errno: i32,
    },
}

/// The other side of a transfer (kernel handles).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DmaRemote {
    /// A connection.
    Segment(u32),
    /// BAR `bar` of a borrowed device.
    Bar { device: u32, bar: u32 },
}

/// The `DMA_START` argument for `entries` (which must outlive its use).
fn start_arg(
    queue: u32,
    local: u32,
    remote: DmaRemote,
    entries: &[SisciDmaEntry],
) -> SisciDmaStart {
    let mut a = SisciDmaStart::request();
    a.queue = queue;
    a.local = local;
    match remote {
        DmaRemote::Segment(h) => a.remote = h,
        DmaRemote::Bar { device, bar } => {
            a.header.flags = SISCI_DMA_DEVICE;
            a.remote = device;
            a.bar = bar;
        }
    }
    a.count = entries.len() as u32;
    a.entries = entries.as_ptr() as u64;
    a
}

/// A DMA queue: one transfer at a time. Removed on drop (after its
/// transfer ends).
pub struct DmaQueue {
    fd: Fd,
    handle: u32,
}

impl DmaQueue {
    /// Creates a queue (`ENODEV` without a DMA engine).
    pub fn create(sisci: &Sisci) -> Result<Self> {
        let a = ioctl_handle(
            &sisci.fd,
            SISCI_IOC_DMA_QUEUE_CREATE,
            0,
            0,
            0,
            "DMA_QUEUE_CREATE",
        )?;
        Ok(DmaQueue {
            fd: sisci.fd.clone(),
            handle: a.handle,
        })
    }

    /// A queue no kernel knows, for tests of code built on this crate (the
    /// C library's): every ioctl through it fails (its handle names
    /// nothing).
    #[doc(hidden)]
    pub fn placeholder(sisci: &Sisci) -> Self {
        DmaQueue {
            fd: sisci.fd.clone(),
            handle: u32::MAX,
        }
    }

    /// The kernel handle.
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// Starts a transfer of `entries` between `local` and `remote`.
    pub fn start(
        &self,
        local: &LocalSegment,
        remote: &RemoteSegment,
        entries: &[DmaEntry],
    ) -> Result<()> {
        self.start_raw(local.handle(), DmaRemote::Segment(remote.handle()), entries)
    }

    /// Starts a transfer of `entries` between `local` and BAR `bar` of
    /// `device` (borrowed through the same [`Sisci`] as this queue): the
    /// entries' `remote_offset`s are offsets in the BAR. `EINVAL` a BAR
    /// the device lacks or a device of another file, `ERANGE` beyond the
    /// BAR, `ENODEV` the device is gone.
    pub fn start_bar(
        &self,
        local: &LocalSegment,
        device: &BorrowedDevice,
        bar: u32,
        entries: &[DmaEntry],
    ) -> Result<()> {
        let remote = DmaRemote::Bar {
            device: device.handle(),
            bar,
        };
        self.start_raw(local.handle(), remote, entries)
    }

    fn start_raw(&self, local: u32, remote: DmaRemote, entries: &[DmaEntry]) -> Result<()> {
        if entries.is_empty() || entries.len() > SISCI_MAX_DMA_ENTRIES as usize {
            return Err(Error::new("DMA_START", libc::EINVAL));
        }
        let v: Vec<SisciDmaEntry> = entries.iter().map(DmaEntry::abi).collect();
        let mut a = start_arg(self.handle, local, remote, &v);
        ioctl(&self.fd, SISCI_IOC_DMA_START, &mut a, "DMA_START")
    }

    /// A signal does not end the wait: the transfer goes on, and the
    /// program's own signals (a benchmark's `SIGALRM` timer) must not fail
    /// it; the wait resumes with the time left.
    fn wait_raw(&self, timeout: Option<Duration>, nonblock: bool) -> Result<DmaState> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let a = loop {
            let mut a = SisciDmaWait::request();
            a.queue = self.handle;
            a.timeout_ms = timeout_ms(
                deadline.map(|d| d.saturating_duration_since(std::time::Instant::now())),
            );
            if nonblock {
                a.header.flags = SISCI_NONBLOCK;
            }
            match ioctl(&self.fd, SISCI_IOC_DMA_WAIT, &mut a, "DMA_WAIT") {
                Err(e) if e.errno() == libc::EINTR && !nonblock => continue,
                r => r?,
            }
            break a;
        };
        Ok(match a.state {
            SISCI_DMA_IDLE => DmaState::Idle,
            SISCI_DMA_POSTED => DmaState::Posted,
            SISCI_DMA_DONE => DmaState::Done,
            _ => DmaState::Failed {
                entry: a.failed_entry,
                errno: a.error as i32,
            },
        })
    }

    /// Waits for the transfer to end: `Ok` when it completed, the failed
    /// entry and errno ([`Error::failed_entry`]) when it failed.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<()> {
        match self.wait_raw(timeout, false)? {
            DmaState::Failed { entry, errno } => Err(Error::dma(errno, entry)),
            DmaState::Posted => Err(Error::new("DMA_WAIT", libc::ETIMEDOUT)),
            DmaState::Idle | DmaState::Done => Ok(()),
        }
    }

    /// The state without waiting (takes `Done`/`Failed`: idle afterwards).
    pub fn poll(&self) -> Result<DmaState> {
        self.wait_raw(Some(Duration::ZERO), true)
    }

    /// Starts a transfer and waits for it.
    pub fn transfer(
        &self,
        local: &LocalSegment,
        remote: &RemoteSegment,
        entries: &[DmaEntry],
        timeout: Option<Duration>,
    ) -> Result<()> {
        self.start(local, remote, entries)?;
        self.wait(timeout)
    }
}

impl Drop for DmaQueue {
    fn drop(&mut self) {
        let _ = ioctl_handle(
            &self.fd,
            SISCI_IOC_DMA_QUEUE_REMOVE,
            self.handle,
            0,
            0,
            "DMA_QUEUE_REMOVE",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_arguments() {
        let v = [
            DmaEntry::write(0, 4, 4).abi(),
            DmaEntry::read(8, 0, 4).abi(),
        ];
        assert_eq!(v[0].flags, 0);
        assert_eq!(v[1].flags, SISCI_DMA_FROM_REMOTE);
        let a = start_arg(3, 5, DmaRemote::Segment(7), &v);
        assert_eq!(a.header.size as usize, SISCI_DMA_START_SIZE_V2);
        assert_eq!(a.header.flags, 0);
        assert_eq!((a.queue, a.local, a.remote, a.count), (3, 5, 7, 2));
        assert_eq!((a.bar, a.reserved), (0, 0));
        assert_eq!(a.entries, v.as_ptr() as u64);
        let a = start_arg(3, 5, DmaRemote::Bar { device: 9, bar: 2 }, &v[..1]);
        assert_eq!(a.header.flags, SISCI_DMA_DEVICE);
        assert_eq!((a.remote, a.bar, a.count, a.reserved), (9, 2, 1, 0));
    }
}
