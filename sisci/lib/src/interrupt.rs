// SPDX-License-Identifier: GPL-2.0

//! Remote interrupts: local ones peers trigger ([`Interrupt`],
//! [`DataInterrupt`]) and connections that trigger a peer's
//! ([`RemoteInterrupt`], [`RemoteDataInterrupt`]).

use crate::device::Sisci;
use crate::error::Result;
use crate::eventfd::EventFd;
use crate::segment::Id;
use crate::sys::{ioctl, ioctl_handle, timeout_ms, Fd};
use rsio_uapi::sisci::*;
use rsio_uapi::Request;
use std::os::fd::AsRawFd;
use std::time::Duration;

struct Local {
    fd: Fd,
    handle: u32,
    no: u32,
}

impl Local {
    fn create(sisci: &Sisci, id: Id, any_user: bool, data: bool) -> Result<Self> {
        let mut a = SisciIntrCreate::request();
        match id {
            Id::Auto => a.header.flags |= SISCI_SEG_AUTO_ID,
            Id::Fixed(n) => a.intr_no = n,
        }
        if any_user {
            a.header.flags |= SISCI_SEG_ANY_USER;
        }
        if data {
            a.header.flags |= SISCI_INTR_DATA;
        }
        ioctl(&sisci.fd, SISCI_IOC_INTR_CREATE, &mut a, "INTR_CREATE")?;
        Ok(Local {
            fd: sisci.fd.clone(),
            handle: a.handle,
            no: a.intr_no,
        })
    }

    fn wait(
        &self,
        timeout: Option<Duration>,
        nonblock: bool,
        buf: &mut [u8],
    ) -> Result<SisciIntrWait> {
        let mut a = SisciIntrWait::request();
        a.handle = self.handle;
        a.timeout_ms = timeout_ms(timeout);
        if nonblock {
            a.header.flags = SISCI_NONBLOCK;
        }
        a.buf = buf.as_mut_ptr() as u64;
        a.buf_len = buf.len().min(u32::MAX as usize) as u32;
        ioctl(&self.fd, SISCI_IOC_INTR_WAIT, &mut a, "INTR_WAIT")?;
        Ok(a)
    }

    fn eventfd(&self, fd: i32) -> Result<()> {
        let mut a = SisciIntrEventfd::request();
        a.handle = self.handle;
        a.fd = fd;
        ioctl(&self.fd, SISCI_IOC_INTR_EVENTFD, &mut a, "INTR_EVENTFD")
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = ioctl_handle(
            &self.fd,
            SISCI_IOC_INTR_REMOVE,
            self.handle,
            0,
            0,
            "INTR_REMOVE",
        );
    }
}

/// One trigger of a plain [`Interrupt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trigger {
    /// The node that triggered it.
    pub node: u32,
    /// Triggers still pending after this one.
    pub pending: u32,
}

/// A local interrupt peers trigger. Removed on drop.
pub struct Interrupt {
    l: Local,
}

impl Interrupt {
    /// Creates interrupt `id` (or a free number).
    pub fn create(sisci: &Sisci, id: Id) -> Result<Self> {
        Self::create_with(sisci, id, false)
    }

    /// Creates it; `any_user` lets processes of any user connect.
    pub fn create_with(sisci: &Sisci, id: Id, any_user: bool) -> Result<Self> {
        Ok(Interrupt {
            l: Local::create(sisci, id, any_user, false)?,
        })
    }

    /// The interrupt number peers connect to.
    pub fn number(&self) -> u32 {
        self.l.no
    }

    /// The kernel handle.
    pub fn handle(&self) -> u32 {
        self.l.handle
    }

    /// Waits for a trigger (`None`: forever).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<Trigger> {
        let a = self.l.wait(timeout, false, &mut [])?;
        Ok(Trigger {
            node: a.node,
            pending: a.pending,
        })
    }

    /// Takes a pending trigger if there is one (`EAGAIN` otherwise).
    pub fn try_wait(&self) -> Result<Trigger> {
        let a = self.l.wait(Some(Duration::ZERO), true, &mut [])?;
        Ok(Trigger {
            node: a.node,
            pending: a.pending,
        })
    }

    /// Signals `efd` on every trigger (take them with [`Interrupt::try_wait`]).
    pub fn attach_eventfd(&self, efd: &EventFd) -> Result<()> {
        self.l.eventfd(efd.as_raw_fd())
    }

    /// Stops signalling the eventfd.
    pub fn detach_eventfd(&self) -> Result<()> {
        self.l.eventfd(-1)
    }
}

/// A received data interrupt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataTrigger {
    /// The node that triggered it.
    pub node: u32,
    /// The payload.
    pub data: Vec<u8>,
}

/// A local data interrupt: triggers carry a payload. Removed on drop.
pub struct DataInterrupt {
    l: Local,
}

impl DataInterrupt {
    /// Creates data interrupt `id` (or a free number).
    pub fn create(sisci: &Sisci, id: Id) -> Result<Self> {
        Self::create_with(sisci, id, false)
    }

    /// Creates it; `any_user` lets processes of any user connect.
    pub fn create_with(sisci: &Sisci, id: Id, any_user: bool) -> Result<Self> {
        Ok(DataInterrupt {
            l: Local::create(sisci, id, any_user, true)?,
        })
    }

    /// The interrupt number peers connect to.
    pub fn number(&self) -> u32 {
        self.l.no
    }

    /// The kernel handle.
    pub fn handle(&self) -> u32 {
        self.l.handle
    }

    /// Waits for a trigger and copies its payload into `buf`: returns the
    /// sender and the payload length (`EMSGSIZE` if `buf` is too small: the
    /// trigger stays queued).
    pub fn wait_into(&self, timeout: Option<Duration>, buf: &mut [u8]) -> Result<(u32, usize)> {
        let a = self.l.wait(timeout, false, buf)?;
        Ok((a.node, a.len as usize))
    }

    /// Takes a pending trigger into `buf` if there is one (`EAGAIN` otherwise).
    pub fn try_wait_into(&self, buf: &mut [u8]) -> Result<(u32, usize)> {
        let a = self.l.wait(Some(Duration::ZERO), true, buf)?;
        Ok((a.node, a.len as usize))
    }

    /// Waits for a trigger (`None`: forever).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<DataTrigger> {
        let mut buf = [0u8; SISCI_MAX_INTR_DATA as usize];
        let (node, len) = self.wait_into(timeout, &mut buf)?;
        Ok(DataTrigger {
            node,
            data: buf[..len.min(buf.len())].to_vec(),
        })
    }

    /// Signals `efd` on every trigger.
    pub fn attach_eventfd(&self, efd: &EventFd) -> Result<()> {
        self.l.eventfd(efd.as_raw_fd())
    }

    /// Stops signalling the eventfd.
    pub fn detach_eventfd(&self) -> Result<()> {
        self.l.eventfd(-1)
    }
}

struct Remote {
    fd: Fd,
    handle: u32,
    node: u32,
    no: u32,
}

impl Remote {
    fn connect(
        sisci: &Sisci,
        node: u32,
        no: u32,
        timeout: Option<Duration>,
        data: bool,
    ) -> Result<Self> {
        let mut a = SisciIntrConnect::request();
        if data {
            a.header.flags = SISCI_INTR_DATA;
        }
        a.node = node;
        a.intr_no = no;
        a.timeout_ms = timeout_ms(timeout);
        ioctl(&sisci.fd, SISCI_IOC_INTR_CONNECT, &mut a, "INTR_CONNECT")?;
        Ok(Remote {
            fd: sisci.fd.clone(),
            handle: a.handle,
            node,
            no,
        })
    }

    fn trigger(&self, data: &[u8]) -> Result<()> {
        let mut a = SisciIntrTrigger::request();
        a.handle = self.handle;
        a.len = data.len().min(u32::MAX as usize) as u32;
        a.data = data.as_ptr() as u64;
        ioctl(&self.fd, SISCI_IOC_INTR_TRIGGER, &mut a, "INTR_TRIGGER")
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        let _ = ioctl_handle(
            &self.fd,
            SISCI_IOC_INTR_DISCONNECT,
            self.handle,
            0,
            0,
            "INTR_DISCONNECT",
        );
    }
}

/// A connection to a peer's plain interrupt. Disconnected on drop.
pub struct RemoteInterrupt {
    r: Remote,
}

impl RemoteInterrupt {
    /// Connects to interrupt `no` of `node`.
    pub fn connect(sisci: &Sisci, node: u32, no: u32, timeout: Option<Duration>) -> Result<Self> {
        Ok(RemoteInterrupt {
            r: Remote::connect(sisci, node, no, timeout, false)?,
        })
    }

    /// The owner node.
    pub fn node(&self) -> u32 {
        self.r.node
    }

    /// The interrupt number.
    pub fn number(&self) -> u32 {
        self.r.no
    }

    /// Triggers it.
    pub fn trigger(&self) -> Result<()> {
        self.r.trigger(&[])
    }
}

/// A connection to a peer's data interrupt. Disconnected on drop.
pub struct RemoteDataInterrupt {
    r: Remote,
}

impl RemoteDataInterrupt {
    /// Connects to data interrupt `no` of `node`.
    pub fn connect(sisci: &Sisci, node: u32, no: u32, timeout: Option<Duration>) -> Result<Self> {
        Ok(RemoteDataInterrupt {
            r: Remote::connect(sisci, node, no, timeout, true)?,
        })
    }

    /// The owner node.
    pub fn node(&self) -> u32 {
        self.r.node
    }

    /// The interrupt number.
    pub fn number(&self) -> u32 {
        self.r.no
    }

    /// Triggers it with `data` (at most `SISCI_MAX_INTR_DATA` bytes).
    /// `ENOBUFS`: the owner's queue is full, retry later.
    pub fn trigger(&self, data: &[u8]) -> Result<()> {
        self.r.trigger(data)
    }
}
