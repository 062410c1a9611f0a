// SPDX-License-Identifier: GPL-2.0

//! `/dev/sisci`: the misc device, its open files (which own every object
//! they create) and the ioctl dispatch. Every argument is validated by
//! `Arg::read` (size, version, flags) and then by the operation (handles
//! of this file only, ranges, reserved fields).

use crate::ioctl::Arg;
use crate::sisci_abi::{self as abi, *};
use crate::state::{FileTag, Shared};
use crate::uapi;
use crate::{devices, dma, interrupts, mmap, registry, segments};
use kernel::fs::File;
use kernel::miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration};
use kernel::mm::virt::VmaNew;
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::sync::Arc;

/// The registration of `/dev/sisci`.
pub(crate) type Registration = MiscDeviceRegistration<SisciFile>;

/// Registers `/dev/sisci`.
pub(crate) fn register() -> impl PinInit<Registration, Error> {
    MiscDeviceRegistration::register(MiscDeviceOptions { name: c"sisci" })
}

static NEXT_TAG: Atomic<u64> = Atomic::new(1);

/// An open file: a SISCI "virtual device" (`SCIOpen`).
pub(crate) struct SisciFile {
    tag: FileTag,
    sh: Arc<Shared>,
}

impl Drop for SisciFile {
    fn drop(&mut self) {
        // Borrowed devices first: returned (an exclusive one reset) before
        // the memory they were given goes.
        devices::file_closed(&self.sh, self.tag);
        // Connections first: our DMA stops before our own segments go.
        segments::file_closed(&self.sh, self.tag);
        dma::file_closed(&self.sh, self.tag);
        interrupts::file_closed(&self.sh, self.tag);
        // Segments removed above may have been mapped by DMA of this file.
        segments::file_closed(&self.sh, self.tag);
    }
}

#[vtable]
impl MiscDevice for SisciFile {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        let sh = registry::get().ok_or(ENODEV)?;
        let tag = NEXT_TAG.fetch_add(1, Relaxed);
        Ok(KBox::new(SisciFile { tag, sh }, GFP_KERNEL)?)
    }

    fn mmap(me: &SisciFile, _file: &File, vma: &VmaNew) -> Result {
        mmap::mmap(&me.sh, me.tag, vma)
    }

    fn ioctl(me: &SisciFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        if uapi::ioc_type(cmd) != uapi::RSIO_IOC_MAGIC
            || uapi::ioc_dir(cmd) != uapi::IOC_READ | uapi::IOC_WRITE
        {
            return Err(ENOTTY);
        }
        let (sh, f) = (&*me.sh, me.tag);
        if uapi::ioc_nr(cmd) == uapi::ioc_nr(SISCI_IOC_INFO) {
            return info(sh, cmd, arg);
        }
        segment_ioctl(sh, f, cmd, arg)
            .or_else(|| interrupt_ioctl(sh, f, cmd, arg))
            .or_else(|| dma_ioctl(sh, f, cmd, arg))
            .or_else(|| device_ioctl(sh, f, cmd, arg))
            .unwrap_or(Err(ENOTTY))
    }
}

/// The segment ioctls (`None`: `cmd` is none of them).
fn segment_ioctl(sh: &Shared, f: FileTag, cmd: u32, arg: usize) -> Option<Result<isize>> {
    let nr = |c: u32| uapi::ioc_nr(c);
    Some(match uapi::ioc_nr(cmd) {
        n if n == nr(SISCI_IOC_SEG_CREATE) => rw(cmd, arg, SisciSegCreate::LAYOUT, |a| {
            segments::create(sh, f, a)
        }),
        n if n == nr(SISCI_IOC_SEG_REMOVE) => {
            handle0(cmd, arg, |a| segments::remove(sh, f, a.handle))
        }
        n if n == nr(SISCI_IOC_SEG_PREPARE) => {
            handle(cmd, arg, 0, |a| segments::prepare(sh, f, a.handle, a.value))
        }
        n if n == nr(SISCI_IOC_SEG_SET_AVAILABLE) => handle(cmd, arg, SISCI_AVAILABLE, |a| {
            if a.value != 0 {
                return Err(EINVAL);
            }
            segments::set_available(sh, f, a.handle, a.header.flags & SISCI_AVAILABLE != 0)
        }),
        n if n == nr(SISCI_IOC_SEG_CONNECT) => rw(cmd, arg, SisciConnect::LAYOUT, |a| {
            segments::connect(sh, f, a)
        }),
        n if n == nr(SISCI_IOC_SEG_DISCONNECT) => {
            handle0(cmd, arg, |a| segments::disconnect(sh, f, a.handle))
        }
        n if n == nr(SISCI_IOC_SEG_WAIT_EVENT) => rw(cmd, arg, SisciSegEvent::LAYOUT, |a| {
            segments::wait_event(sh, f, a)
        }),
        n if n == nr(SISCI_IOC_SEG_LIST) => seg_list(sh, cmd, arg),
        n if n == nr(SISCI_IOC_SEG_ATTACH_PHYS) => rw(cmd, arg, SisciSegAttach::LAYOUT, |a| {
            segments::attach_phys(sh, f, a)
        }),
        n if n == nr(SISCI_IOC_SEG_STATE) => handle(cmd, arg, 0, |a| {
            if a.value != 0 {
                return Err(EINVAL);
            }
            a.value = segments::state(sh, f, a.handle)?;
            Ok(())
        }),
        _ => return None,
    })
}

/// The SmartIO ioctls (`None`: `cmd` is none of them).
fn device_ioctl(sh: &Shared, f: FileTag, cmd: u32, arg: usize) -> Option<Result<isize>> {
    let nr = |c: u32| uapi::ioc_nr(c);
    Some(match uapi::ioc_nr(cmd) {
        n if n == nr(SISCI_IOC_DEV_BORROW) => rw(cmd, arg, SisciDevBorrow::LAYOUT, |a| {
            devices::borrow(sh, f, a)
        }),
        n if n == nr(SISCI_IOC_DEV_RETURN) => {
            handle0(cmd, arg, |a| devices::give_back(sh, f, a.handle))
        }
        n if n == nr(SISCI_IOC_DEV_MAP) => {
            rw(cmd, arg, SisciDevMap::LAYOUT, |a| devices::map(sh, f, a))
        }
        n if n == nr(SISCI_IOC_DEV_UNMAP) => {
            rw(cmd, arg, SisciDevMap::LAYOUT, |a: &mut SisciDevMap| {
                if a.ioaddr != 0 {
                    return Err(EINVAL);
                }
                devices::unmap(sh, f, a)
            })
        }
        n if n == nr(SISCI_IOC_SEG_ADDR) => rw(cmd, arg, SisciSegAddr::LAYOUT, |a| {
            devices::seg_addr(sh, f, a)
        }),
        _ => return None,
    })
}

/// The interrupt ioctls (`None`: `cmd` is none of them).
fn interrupt_ioctl(sh: &Shared, f: FileTag, cmd: u32, arg: usize) -> Option<Result<isize>> {
    let nr = |c: u32| uapi::ioc_nr(c);
    Some(match uapi::ioc_nr(cmd) {
        n if n == nr(SISCI_IOC_INTR_CREATE) => rw(cmd, arg, SisciIntrCreate::LAYOUT, |a| {
            interrupts::create(sh, f, a)
        }),
        n if n == nr(SISCI_IOC_INTR_REMOVE) => {
            handle0(cmd, arg, |a| interrupts::remove(sh, f, a.handle))
        }
        n if n == nr(SISCI_IOC_INTR_CONNECT) => rw(cmd, arg, SisciIntrConnect::LAYOUT, |a| {
            interrupts::connect(sh, f, a)
        }),
        n if n == nr(SISCI_IOC_INTR_DISCONNECT) => {
            handle0(cmd, arg, |a| interrupts::disconnect(sh, f, a.handle))
        }
        n if n == nr(SISCI_IOC_INTR_TRIGGER) => rw(cmd, arg, SisciIntrTrigger::LAYOUT, |a| {
            interrupts::trigger(sh, f, a)
        }),
        n if n == nr(SISCI_IOC_INTR_WAIT) => rw_always(cmd, arg, SisciIntrWait::LAYOUT, |a| {
            interrupts::wait(sh, f, a)
        }),
        n if n == nr(SISCI_IOC_INTR_EVENTFD) => rw(
            cmd,
            arg,
            SisciIntrEventfd::LAYOUT,
            |a: &mut SisciIntrEventfd| interrupts::set_eventfd(sh, f, a.handle, a.fd),
        ),
        _ => return None,
    })
}

/// The DMA ioctls (`None`: `cmd` is none of them).
fn dma_ioctl(sh: &Shared, f: FileTag, cmd: u32, arg: usize) -> Option<Result<isize>> {
    let nr = |c: u32| uapi::ioc_nr(c);
    Some(match uapi::ioc_nr(cmd) {
        n if n == nr(SISCI_IOC_DMA_QUEUE_CREATE) => handle(cmd, arg, 0, |a| {
            if a.handle != 0 || a.value != 0 {
                return Err(EINVAL);
            }
            a.handle = dma::create(sh, f)?;
            Ok(())
        }),
        n if n == nr(SISCI_IOC_DMA_QUEUE_REMOVE) => {
            handle0(cmd, arg, |a| dma::remove(sh, f, a.handle))
        }
        n if n == nr(SISCI_IOC_DMA_START) => {
            rw(cmd, arg, SisciDmaStart::LAYOUT, |a| dma::start(sh, f, a))
        }
        n if n == nr(SISCI_IOC_DMA_WAIT) => {
            rw(cmd, arg, SisciDmaWait::LAYOUT, |a: &mut SisciDmaWait| {
                if a.reserved != 0 {
                    return Err(EINVAL);
                }
                dma::wait(sh, f, a)
            })
        }
        _ => return None,
    })
}

/// Reads the argument, runs `op` on it and writes it back if it succeeded.
fn rw<T>(
    cmd: u32,
    arg: usize,
    layout: uapi::ArgLayout,
    op: impl FnOnce(&mut T) -> Result,
) -> Result<isize>
where
    T: kernel::transmute::FromBytes + kernel::transmute::AsBytes + Zeroable,
{
    let mut a = Arg::<T>::read(cmd, arg, layout)?;
    // No side effect whose result could not be reported.
    a.check_writable()?;
    op(&mut a.value)?;
    a.write_back()?;
    Ok(0)
}

/// As [`rw`], but writes the argument back on failure too (the outputs
/// explain the failure: `INTR_WAIT`'s `EMSGSIZE`).
fn rw_always<T>(
    cmd: u32,
    arg: usize,
    layout: uapi::ArgLayout,
    op: impl FnOnce(&mut T) -> Result,
) -> Result<isize>
where
    T: kernel::transmute::FromBytes + kernel::transmute::AsBytes + Zeroable,
{
    let mut a = Arg::<T>::read(cmd, arg, layout)?;
    a.check_writable()?;
    let r = op(&mut a.value);
    a.write_back()?;
    r.map(|()| 0)
}

/// A [`SisciHandle`] ioctl accepting `flags`.
fn handle(
    cmd: u32,
    arg: usize,
    flags: u32,
    op: impl FnOnce(&mut SisciHandle) -> Result,
) -> Result<isize> {
    let layout = uapi::ArgLayout {
        valid_flags: flags,
        ..SisciHandle::LAYOUT
    };
    rw(cmd, arg, layout, op)
}

/// A [`SisciHandle`] ioctl without flags whose `value` is reserved (zero).
fn handle0(cmd: u32, arg: usize, op: impl FnOnce(&mut SisciHandle) -> Result) -> Result<isize> {
    handle(cmd, arg, 0, |a| {
        if a.value != 0 {
            return Err(EINVAL);
        }
        op(a)
    })
}

fn info(sh: &Shared, cmd: u32, arg: usize) -> Result<isize> {
    rw(cmd, arg, SisciInfo::LAYOUT, |a: &mut SisciInfo| {
        let i = &sh.info;
        a.node_id = sh.node;
        a.num_nodes = i.num_nodes;
        a.up_mask = rsio_fabric::api::up_nodes().unwrap_or(0) | (1 << sh.node);
        a.caps = (if i.caps.dma() { SISCI_CAP_DMA } else { 0 })
            | (if i.caps.multicast() {
                SISCI_CAP_MULTICAST
            } else {
                0
            })
            | (if i.caps.direct_window() {
                SISCI_CAP_DIRECT
            } else {
                0
            });
        a.dma_channels = sh.dma_channels;
        a.mc_groups = i.mc_groups;
        a.max_segment_size = SISCI_MAX_SEGMENT_SIZE;
        a.max_intr_data = SISCI_MAX_INTR_DATA;
        a.reserved = 0;
        Ok(())
    })
}

fn seg_list(sh: &Shared, cmd: u32, arg: usize) -> Result<isize> {
    // Entries are gathered under the state lock and copied out afterwards.
    crate::ioctl::list::<SisciSegEntry>(cmd, arg, abi::SISCI_SEG_ENTRY_SIZE_V1, |f| {
        segments::list(sh, f)
    })
}
