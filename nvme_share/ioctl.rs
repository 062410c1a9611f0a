// SPDX-License-Identifier: GPL-2.0

//! The `/dev/rsio` ioctls of NVMe sharing (numbers `0x70..0x77`, routed
//! here by the fabric core). Every argument is validated by `Arg::read`
//! (size, version, flags), then by the operation; all but the listings
//! need `CAP_SYS_ADMIN` (checked before the argument is read).

use crate::ioctl_arg::{self, Arg};
use crate::nvme_abi::*;
use crate::uapi;
use crate::{client, manager};
use kernel::prelude::*;

/// Runs ioctl `cmd` with user argument `arg`.
pub(crate) fn ioctl(cmd: u32, arg: usize) -> Result<isize> {
    let nr = uapi::ioc_nr;
    match nr(cmd) {
        n if n == nr(NVME_IOC_SHARE) => share(cmd, arg, true),
        n if n == nr(NVME_IOC_UNSHARE) => share(cmd, arg, false),
        n if n == nr(NVME_IOC_LIST) => ioctl_arg::list(cmd, arg, NVME_CTRL_ENTRY_SIZE_V1, |f| {
            let mut v = KVec::new();
            manager::list(&mut v)?;
            client::list(&mut v)?;
            each(&v, f)
        }),
        n if n == nr(NVME_IOC_LIST_NS) => ioctl_arg::list(cmd, arg, NVME_NS_ENTRY_SIZE_V1, |f| {
            let mut v = KVec::new();
            manager::list_ns(&mut v)?;
            client::list_ns(&mut v)?;
            each(&v, f)
        }),
        n if n == nr(NVME_IOC_LIST_CLIENTS) => {
            ioctl_arg::list(cmd, arg, NVME_CLIENT_ENTRY_SIZE_V1, |f| {
                let mut v = KVec::new();
                manager::list_clients(&mut v)?;
                client::list_clients(&mut v)?;
                each(&v, f)
            })
        }
        n if n == nr(NVME_IOC_ATTACH) => attaching(cmd, arg, true),
        n if n == nr(NVME_IOC_DETACH) => attaching(cmd, arg, false),
        _ => Err(ENOTTY),
    }
}

fn each<E>(v: &[E], f: &mut dyn FnMut(&E) -> Result) -> Result<u32> {
    for e in v {
        f(e)?;
    }
    Ok(v.len() as u32)
}

fn share(cmd: u32, arg: usize, share: bool) -> Result<isize> {
    if !rsio_kernel::task::capable_admin() {
        return Err(EPERM);
    }
    let mut a = Arg::<NvmeShare>::read(cmd, arg, NvmeShare::LAYOUT)?;
    // No side effect whose result could not be reported.
    a.check_writable()?;
    if share {
        manager::share(&mut a.value)?;
    } else {
        let v = &a.value;
        if v.header.flags & NVME_SHARE_FORCE != 0 {
            // This node's own client stops ringing the controller's
            // doorbells before the controller goes back to nvme.
            if let Some(ctrl) = manager::ctrl_of(v.domain, v.bus, v.devfn) {
                client::ctrl_gone(manager::local_node(), ctrl);
            }
        }
        manager::unshare(v)?;
    }
    a.write_back()?;
    Ok(0)
}

fn attaching(cmd: u32, arg: usize, attach: bool) -> Result<isize> {
    if !rsio_kernel::task::capable_admin() {
        return Err(EPERM);
    }
    let mut a = Arg::<NvmeAttach>::read(cmd, arg, NvmeAttach::LAYOUT)?;
    a.check_writable()?;
    if attach {
        client::attach(&mut a.value)?;
    } else {
        client::detach(&a.value)?;
    }
    a.write_back()?;
    Ok(0)
}
