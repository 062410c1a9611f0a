// SPDX-License-Identifier: GPL-2.0

//! Remote interrupts: local interrupts that peers connect to and trigger,
//! plain (counted: every trigger is taken exactly once) or with data (a
//! payload of up to `SISCI_MAX_INTR_DATA` bytes, queued in order).
//!
//! A plain trigger is a core event (one message, no reply); a data trigger
//! is a request, answered once the payload is queued, so a full queue
//! pushes back on the sender (`ENOBUFS`) instead of losing data. The
//! fabric core delivers one sender's messages in order.

use crate::net;
use crate::proto::{self, Reader};
use crate::sisci_abi as abi;
use crate::state::{FileTag, IntrMsg, LocalIntr, RemoteIntr, Shared, INTR_QUEUE_MAX};
use kernel::prelude::*;
use kernel::uaccess::{UserPtr, UserSlice};
use rsio_kernel::{eventfd::EventFd, task};

/// Creates a local interrupt.
pub(crate) fn create(sh: &Shared, file: FileTag, a: &mut abi::SisciIntrCreate) -> Result {
    let flags = a.header.flags;
    let data = flags & abi::SISCI_INTR_DATA != 0;
    let mut st = sh.st.lock();
    let no = if flags & abi::SISCI_SEG_AUTO_ID != 0 {
        (abi::SISCI_MAX_ID / 2..abi::SISCI_MAX_ID)
            .find(|n| !st.lintrs.iter().any(|i| i.no == *n && i.data == data))
            .ok_or(ENOSPC)?
    } else {
        if a.intr_no >= abi::SISCI_MAX_ID {
            return Err(EINVAL);
        }
        if st
            .lintrs
            .iter()
            .any(|i| i.no == a.intr_no && i.data == data)
        {
            return Err(EEXIST);
        }
        a.intr_no
    };
    let handle = st.new_handle()?;
    st.lintrs.push(
        LocalIntr {
            handle,
            file,
            no,
            data,
            flags,
            uid: task::current_uid(),
            pending: 0,
            last_node: 0,
            msgs: KVec::new(),
            next_seq: 0,
            conns: KVec::new(),
            efd: None,
        },
        GFP_KERNEL,
    )?;
    a.intr_no = no;
    a.handle = handle;
    Ok(())
}

/// Removes a local interrupt; connected peers learn it is gone.
pub(crate) fn remove(sh: &Shared, file: FileTag, handle: u32) -> Result {
    let i = {
        let mut st = sh.st.lock();
        let i = st
            .lintrs
            .iter()
            .position(|i| i.handle == handle && i.file == file)
            .ok_or(EINVAL)?;
        st.lintrs.remove(i)?
    };
    sh.wake.notify_all();
    let kind = u32::from(i.data);
    let mut told = 0u32;
    for &node in i.conns.iter() {
        if told & (1 << (node & 31)) == 0 {
            told |= 1 << (node & 31);
            let _ = net::event(sh, node, proto::INTR_GONE, &proto::words([i.no, kind])[..8]);
        }
    }
    Ok(())
}

/// Connects to a peer's interrupt.
pub(crate) fn connect(sh: &Shared, file: FileTag, a: &mut abi::SisciIntrConnect) -> Result {
    if a.node >= sh.info.num_nodes || a.intr_no >= abi::SISCI_MAX_ID {
        return Err(EINVAL);
    }
    if !net::reachable(sh, a.node) {
        return Err(EHOSTUNREACH);
    }
    let data = a.header.flags & abi::SISCI_INTR_DATA != 0;
    let flags = if task::capable_admin() {
        proto::CONNECT_ADMIN
    } else {
        0
    };
    let req = proto::words([a.intr_no, u32::from(data), task::current_uid(), flags]);
    net::request(
        sh,
        a.node,
        proto::INTR_CONNECT,
        &req[..16],
        net::timeout(a.timeout_ms),
    )?;
    let mut st = sh.st.lock();
    let handle = match st.new_handle() {
        Ok(h) => h,
        Err(e) => {
            drop(st);
            let _ = net::event(
                sh,
                a.node,
                proto::INTR_DISCONNECT,
                &proto::words([a.intr_no, u32::from(data)])[..8],
            );
            return Err(e);
        }
    };
    st.rintrs.push(
        RemoteIntr {
            handle,
            file,
            node: a.node,
            no: a.intr_no,
            data,
            gone: false,
        },
        GFP_KERNEL,
    )?;
    a.handle = handle;
    Ok(())
}

/// Disconnects from a peer's interrupt.
pub(crate) fn disconnect(sh: &Shared, file: FileTag, handle: u32) -> Result {
    let r = {
        let mut st = sh.st.lock();
        let i = st
            .rintrs
            .iter()
            .position(|r| r.handle == handle && r.file == file)
            .ok_or(EINVAL)?;
        st.rintrs.remove(i)?
    };
    if !r.gone {
        let _ = net::event(
            sh,
            r.node,
            proto::INTR_DISCONNECT,
            &proto::words([r.no, u32::from(r.data)])[..8],
        );
    }
    Ok(())
}

/// Triggers a connected interrupt.
pub(crate) fn trigger(sh: &Shared, file: FileTag, a: &abi::SisciIntrTrigger) -> Result {
    let (node, no, data) = {
        let st = sh.st.lock();
        let r = st
            .rintrs
            .iter()
            .find(|r| r.handle == a.handle && r.file == file)
            .ok_or(EINVAL)?;
        if r.gone {
            return Err(ENOTCONN);
        }
        (r.node, r.no, r.data)
    };
    if !data {
        if a.len != 0 {
            return Err(EINVAL);
        }
        return net::event(sh, node, proto::INTR_TRIGGER, &proto::words([no])[..4]).map_err(|e| {
            if e == EINVAL {
                EHOSTUNREACH
            } else {
                e
            }
        });
    }
    if a.len > abi::SISCI_MAX_INTR_DATA {
        return Err(EINVAL);
    }
    let mut msg = [0u8; 8 + abi::SISCI_MAX_INTR_DATA as usize];
    msg[..4].copy_from_slice(&no.to_le_bytes());
    msg[4..8].copy_from_slice(&a.len.to_le_bytes());
    let len = a.len as usize;
    UserSlice::new(UserPtr::from_addr(a.data as usize), len)
        .reader()
        .read_slice(&mut msg[8..8 + len])?;
    match net::request(sh, node, proto::INTR_DATA, &msg[..8 + len], 5000) {
        Err(e) if e == ENOENT => {
            mark_gone(sh, node, no, true);
            Err(ENOTCONN)
        }
        r => r.map(|_| ()),
    }
}

fn mark_gone(sh: &Shared, node: u32, no: u32, data: bool) {
    let mut st = sh.st.lock();
    for r in st
        .rintrs
        .iter_mut()
        .filter(|r| r.node == node && r.no == no && r.data == data)
    {
        r.gone = true;
    }
}

/// Takes one trigger of a local interrupt. A data interrupt's payload is
/// copied out before it is taken off the queue (without the lock: the
/// copy may fault), so a bad buffer (`EFAULT`) loses nothing.
pub(crate) fn wait(sh: &Shared, file: FileTag, a: &mut abi::SisciIntrWait) -> Result {
    let nonblock = a.header.flags & abi::SISCI_NONBLOCK != 0;
    let handle = a.handle;
    let buf_len = a.buf_len;
    loop {
        let mut st = sh.st.lock();
        let got = sh.wait_for(&mut st, a.timeout_ms, nonblock, |st| {
            let i = st
                .lintrs
                .iter_mut()
                .find(|i| i.handle == handle && i.file == file)
                .ok_or(EINVAL)?;
            if i.data {
                let Some(m) = i.msgs.first() else {
                    return Ok(None);
                };
                if m.len > buf_len {
                    return Ok(Some(Err((m.len, m.node))));
                }
                Ok(Some(Ok((
                    Some(m.seq),
                    m.node,
                    m.len,
                    m.data,
                    i.msgs.len() as u32 - 1,
                ))))
            } else if i.pending > 0 {
                i.pending -= 1;
                Ok(Some(Ok((
                    None,
                    i.last_node,
                    0,
                    [0u8; abi::SISCI_MAX_INTR_DATA as usize],
                    i.pending,
                ))))
            } else {
                Ok(None)
            }
        })?;
        drop(st);
        let (seq, node, len, data, pending) = match got {
            Ok(v) => v,
            Err((len, node)) => {
                a.len = len;
                a.node = node;
                return Err(EMSGSIZE);
            }
        };
        if let Some(seq) = seq {
            UserSlice::new(UserPtr::from_addr(a.buf as usize), len as usize)
                .writer()
                .write_slice(&data[..len as usize])?;
            // Take it, unless another waiter of the same file did meanwhile.
            let mut st = sh.st.lock();
            let i = st
                .lintrs
                .iter_mut()
                .find(|i| i.handle == handle && i.file == file)
                .ok_or(EINVAL)?;
            if i.msgs.first().is_none_or(|m| m.seq != seq) {
                continue;
            }
            i.msgs.remove(0)?;
        }
        a.node = node;
        a.len = len;
        a.pending = pending;
        return Ok(());
    }
}

/// Attaches (or detaches, `fd < 0`) an eventfd.
pub(crate) fn set_eventfd(sh: &Shared, file: FileTag, handle: u32, fd: i32) -> Result {
    let efd = if fd < 0 {
        None
    } else {
        Some(EventFd::get(fd)?)
    };
    let old = {
        let mut st = sh.st.lock();
        let i = st
            .lintrs
            .iter_mut()
            .find(|i| i.handle == handle && i.file == file)
            .ok_or(EINVAL)?;
        let pending = i.pending as usize + i.msgs.len();
        let old = core::mem::replace(&mut i.efd, efd);
        // Triggers that came before: counted in the new eventfd too.
        if let Some(e) = i.efd.as_ref() {
            for _ in 0..pending {
                e.signal();
            }
        }
        old
    };
    drop(old);
    Ok(())
}

/// Removes what `file` owned.
pub(crate) fn file_closed(sh: &Shared, file: FileTag) {
    loop {
        let h = sh
            .st
            .lock()
            .lintrs
            .iter()
            .find(|i| i.file == file)
            .map(|i| i.handle);
        match h {
            Some(h) => {
                let _ = remove(sh, file, h);
            }
            None => break,
        }
    }
    loop {
        let h = sh
            .st
            .lock()
            .rintrs
            .iter()
            .find(|i| i.file == file)
            .map(|i| i.handle);
        match h {
            Some(h) => {
                let _ = disconnect(sh, file, h);
            }
            None => break,
        }
    }
}

// --- From peers (core thread).

/// `INTR_CONNECT` from `node`.
pub(crate) fn on_connect(sh: &Shared, node: u32, payload: &[u8]) -> Result<usize> {
    let mut r = Reader::new(payload);
    let (no, data, uid, flags) = (r.u32()?, r.u32()? != 0, r.u32()?, r.u32()?);
    let mut st = sh.st.lock();
    let i = st
        .lintrs
        .iter_mut()
        .find(|i| i.no == no && i.data == data)
        .ok_or(ENOENT)?;
    if i.flags & abi::SISCI_SEG_ANY_USER == 0 && uid != i.uid && flags & proto::CONNECT_ADMIN == 0 {
        return Err(EACCES);
    }
    i.conns.push(node, GFP_KERNEL)?;
    Ok(0)
}

/// `INTR_TRIGGER` from `node`.
pub(crate) fn on_trigger(sh: &Shared, node: u32, payload: &[u8]) -> Result {
    let no = Reader::new(payload).u32()?;
    let mut st = sh.st.lock();
    let i = st
        .lintrs
        .iter_mut()
        .find(|i| i.no == no && !i.data)
        .ok_or(ENOENT)?;
    i.pending = i.pending.saturating_add(1);
    i.last_node = node;
    if let Some(e) = i.efd.as_ref() {
        e.signal();
    }
    drop(st);
    sh.wake.notify_all();
    Ok(())
}

/// `INTR_DATA` from `node`: queued, or `ENOBUFS`.
pub(crate) fn on_data(sh: &Shared, node: u32, payload: &[u8]) -> Result<usize> {
    let mut r = Reader::new(payload);
    let (no, len) = (r.u32()?, r.u32()?);
    let data = r.rest();
    if len > abi::SISCI_MAX_INTR_DATA || data.len() != len as usize {
        return Err(EPROTO);
    }
    let mut st = sh.st.lock();
    let i = st
        .lintrs
        .iter_mut()
        .find(|i| i.no == no && i.data)
        .ok_or(ENOENT)?;
    if i.msgs.len() >= INTR_QUEUE_MAX {
        return Err(ENOBUFS);
    }
    let mut m = IntrMsg {
        seq: i.next_seq,
        node,
        len,
        data: [0; abi::SISCI_MAX_INTR_DATA as usize],
    };
    m.data[..data.len()].copy_from_slice(data);
    i.msgs.push(m, GFP_KERNEL)?;
    i.next_seq += 1;
    if let Some(e) = i.efd.as_ref() {
        e.signal();
    }
    drop(st);
    sh.wake.notify_all();
    Ok(0)
}

/// `INTR_DISCONNECT` from `node`.
pub(crate) fn on_disconnect(sh: &Shared, node: u32, payload: &[u8]) -> Result {
    let mut r = Reader::new(payload);
    let (no, data) = (r.u32()?, r.u32()? != 0);
    let mut st = sh.st.lock();
    if let Some(i) = st.lintrs.iter_mut().find(|i| i.no == no && i.data == data) {
        if let Some(p) = i.conns.iter().position(|n| *n == node) {
            i.conns.remove(p)?;
        }
    }
    Ok(())
}

/// `INTR_GONE` from the owner `node`.
pub(crate) fn on_gone(sh: &Shared, node: u32, payload: &[u8]) -> Result {
    let mut r = Reader::new(payload);
    let (no, data) = (r.u32()?, r.u32()? != 0);
    mark_gone(sh, node, no, data);
    Ok(())
}

/// Peer `node` died.
pub(crate) fn peer_down(sh: &Shared, node: u32) {
    let mut st = sh.st.lock();
    for r in st.rintrs.iter_mut().filter(|r| r.node == node) {
        r.gone = true;
    }
    for i in st.lintrs.iter_mut() {
        i.conns.retain(|n| *n != node);
    }
}
