// SPDX-License-Identifier: GPL-2.0

//! `/dev/rsio_lend`: the misc device and its ioctls. Every argument is
//! validated by `Arg::read` (size, version, flags), then by the operation.

use crate::ioctl::Arg;
use crate::lend_abi::*;
use crate::uapi;
use crate::{borrow, hotadd, state};
use kernel::fs::File;
use kernel::miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration};
use kernel::prelude::*;

/// The registration of `/dev/rsio_lend`.
pub(crate) type Registration = MiscDeviceRegistration<LendFile>;

/// Registers `/dev/rsio_lend`.
pub(crate) fn register() -> impl PinInit<Registration, Error> {
    MiscDeviceRegistration::register(MiscDeviceOptions { name: c"rsio_lend" })
}

/// An open file (it holds nothing: lent devices belong to the node).
pub(crate) struct LendFile;

#[vtable]
impl MiscDevice for LendFile {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        Ok(KBox::new(LendFile, GFP_KERNEL)?)
    }

    fn ioctl(_me: &LendFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        if uapi::ioc_type(cmd) != uapi::RSIO_IOC_MAGIC
            || uapi::ioc_dir(cmd) != uapi::IOC_READ | uapi::IOC_WRITE
        {
            return Err(ENOTTY);
        }
        let nr = uapi::ioc_nr;
        match uapi::ioc_nr(cmd) {
            n if n == nr(LEND_IOC_LEND) => bdf(cmd, arg, |d, b, f, flags| {
                state::lend(d, b, f, flags & LEND_LEND_FORCE != 0)
            }),
            n if n == nr(LEND_IOC_UNLEND) => bdf(cmd, arg, |d, b, f, flags| {
                state::unlend(d, b, f, flags & LEND_UNLEND_FORCE != 0)
            }),
            n if n == nr(LEND_IOC_LIST) => list(cmd, arg),
            n if n == nr(LEND_IOC_BORROW) => borrowing(cmd, arg, |node, fdid, flags| {
                if flags != 0 {
                    return Err(EINVAL);
                }
                borrow::borrow(state::adapter().as_ref(), node, fdid)
            }),
            n if n == nr(LEND_IOC_RETURN) => borrowing(cmd, arg, |node, fdid, flags| {
                borrow::give_back_borrowed(node, fdid, flags & LEND_RETURN_FORCE != 0)
            }),
            n if n == nr(LEND_IOC_P2P) => p2p(cmd, arg),
            n if n == nr(LEND_IOC_SCAN) => scan(cmd, arg),
            n if n == nr(LEND_IOC_ATTACH) => borrowing(cmd, arg, |node, fdid, flags| {
                if flags != 0 {
                    return Err(EINVAL);
                }
                hotadd::attach(node, fdid)
            }),
            n if n == nr(LEND_IOC_DETACH) => borrowing(cmd, arg, |node, fdid, flags| {
                hotadd::detach(node, fdid, flags & LEND_RETURN_FORCE != 0)
            }),
            _ => Err(ENOTTY),
        }
    }
}

/// `LEND`/`UNLEND`: root only; `fdid` is an output (zero on input).
fn bdf(cmd: u32, arg: usize, op: impl FnOnce(u32, u32, u32, u32) -> Result<u32>) -> Result<isize> {
    if !rsio_kernel::task::capable_admin() {
        return Err(EPERM);
    }
    let mut a = Arg::<LendBdf>::read(cmd, arg, LendBdf::LAYOUT)?;
    if a.value.fdid != 0 {
        return Err(EINVAL);
    }
    // No side effect whose result could not be reported.
    a.check_writable()?;
    a.value.fdid = op(
        a.value.domain,
        a.value.bus,
        a.value.devfn,
        a.value.header.flags,
    )?;
    a.write_back()?;
    Ok(0)
}

/// `BORROW`/`RETURN`: root only; where the device is (was) is the output.
fn borrowing(
    cmd: u32,
    arg: usize,
    op: impl FnOnce(u32, u32, u32) -> Result<borrow::Placed>,
) -> Result<isize> {
    if !rsio_kernel::task::capable_admin() {
        return Err(EPERM);
    }
    let mut a = Arg::<LendBorrow>::read(cmd, arg, LendBorrow::LAYOUT)?;
    let v = &a.value;
    if v.domain != 0 || v.bus != 0 || v.devfn != 0 || v.reserved != 0 || v.dma_offset != 0 {
        return Err(EINVAL);
    }
    a.check_writable()?;
    let p = op(a.value.node, a.value.fdid, a.value.header.flags)?;
    a.value.domain = p.domain;
    a.value.bus = p.bus;
    a.value.devfn = p.devfn;
    a.value.dma_offset = p.dma_offset;
    a.write_back()?;
    Ok(0)
}

/// `P2P`: root only; the device address and size are the output.
fn p2p(cmd: u32, arg: usize) -> Result<isize> {
    if !rsio_kernel::task::capable_admin() {
        return Err(EPERM);
    }
    let mut a = Arg::<LendP2p>::read(cmd, arg, LendP2p::LAYOUT)?;
    let v = a.value;
    if v.reserved != 0 || v.dev_addr != 0 || v.size != 0 {
        return Err(EINVAL);
    }
    a.check_writable()?;
    let (dev_addr, size) = borrow::p2p((v.from_node, v.from_fdid), (v.to_node, v.to_fdid), v.bar)?;
    a.value.dev_addr = dev_addr;
    a.value.size = size;
    a.write_back()?;
    Ok(0)
}

fn list(cmd: u32, arg: usize) -> Result<isize> {
    // Entries are gathered under the state lock and copied out afterwards.
    crate::ioctl::list::<LendDevEntry>(cmd, arg, LEND_DEV_ENTRY_SIZE_V1, |f| state::list(f))
}

/// `SCAN`: root only (sizing a free device's BARs claims it a moment).
fn scan(cmd: u32, arg: usize) -> Result<isize> {
    if !rsio_kernel::task::capable_admin() {
        return Err(EPERM);
    }
    crate::ioctl::list::<LendChassisEntry>(cmd, arg, LEND_CHASSIS_ENTRY_SIZE_V1, |f| {
        hotadd::scan(f)
    })
}
