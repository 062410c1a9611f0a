// SPDX-License-Identifier: GPL-2.0

//! Copying ioctl argument structs in and out of user memory, validated
//! against the ABI's rules (`uapi::check_arg`): size field, ioctl-number size,
//! extensible structs with zero tails, and known flags.

use crate::uapi::{self, ArgError, ArgHeader, ArgLayout};
use kernel::prelude::*;
use kernel::transmute::{AsBytes, FromBytes};
use kernel::uaccess::{UserPtr, UserSlice};

/// An ioctl argument struct read from user space, to be written back.
pub(crate) struct Arg<T> {
    /// The argument's value: the caller's bytes, zero beyond what it sent.
    pub(crate) value: T,
    ptr: UserPtr,
    /// Bytes shared by the caller's and our view of the struct.
    copy_len: usize,
}

fn to_error(e: ArgError) -> Error {
    Error::from_errno(-e.errno())
}

/// Returns whether `len` bytes of user memory from `ptr` are all zero.
fn user_bytes_are_zero(ptr: UserPtr, len: usize) -> Result<bool> {
    let mut reader = UserSlice::new(ptr, len).reader();
    let mut chunk = [0u8; 64];
    while !reader.is_empty() {
        let n = reader.len().min(chunk.len());
        reader.read_slice(&mut chunk[..n])?;
        if chunk[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
    }
    Ok(true)
}

impl<T: FromBytes + AsBytes + Zeroable> Arg<T> {
    /// Reads and validates the argument of ioctl `cmd` at user address `arg`.
    ///
    /// # Errors
    ///
    /// `EFAULT` for a bad pointer, and the errors of [`uapi::check_arg`].
    pub(crate) fn read(cmd: u32, arg: usize, layout: ArgLayout) -> Result<Self> {
        let ptr = UserPtr::from_addr(arg);
        let cmd_size = uapi::ioc_size(cmd);
        if cmd_size < core::mem::size_of::<ArgHeader>() {
            return Err(to_error(ArgError::TooSmall));
        }
        let header: ArgHeader = UserSlice::new(ptr, core::mem::size_of::<ArgHeader>())
            .reader()
            .read()?;
        // Only a header that passes the size checks gets its tail read.
        let size = header.size as usize;
        let tail_zero =
            if size == cmd_size && size > layout.known_size && size <= uapi::RSIO_MAX_ARG_SIZE {
                user_bytes_are_zero(
                    ptr.wrapping_byte_add(layout.known_size),
                    size - layout.known_size,
                )?
            } else {
                true
            };
        let copy_len = uapi::check_arg(cmd, header, layout, |_| tail_zero).map_err(to_error)?;

        let mut value = T::zeroed();
        UserSlice::new(ptr, copy_len)
            .reader()
            .read_slice(&mut value.as_bytes_mut()[..copy_len])?;
        Ok(Self {
            value,
            ptr,
            copy_len,
        })
    }

    /// Checks that the caller's struct is writable by writing its own bytes
    /// back unchanged: an ioctl with side effects calls this first, so that
    /// a read-only argument fails with `EFAULT` before anything happens
    /// (instead of after, with the effect done and its result lost).
    pub(crate) fn check_writable(&self) -> Result {
        UserSlice::new(self.ptr, self.copy_len)
            .writer()
            .write_slice(&self.value.as_bytes()[..self.copy_len])
    }

    /// Writes the (updated) value back over the caller's struct.
    ///
    /// # Errors
    ///
    /// `EFAULT` if the caller's memory is not writable.
    pub(crate) fn write_back(self) -> Result {
        UserSlice::new(self.ptr, self.copy_len)
            .writer()
            .write_slice(&self.value.as_bytes()[..self.copy_len])
    }
}

/// A listing ioctl: its `RsioList` argument (entries of `E`, whose first
/// version is `v1` bytes) is checked, `gather` passes each entry to its
/// callback (under whatever lock guards them) and returns how many there
/// are, and the first `capacity` are copied out afterwards with the count.
/// For the feature modules (the core's own listings gather first).
#[allow(dead_code)]
pub(crate) fn list<E: AsBytes + Copy>(
    cmd: u32,
    arg: usize,
    v1: usize,
    gather: impl FnOnce(&mut dyn FnMut(&E) -> Result) -> Result<u32>,
) -> Result<isize> {
    let mut a = Arg::<uapi::RsioList>::read(cmd, arg, uapi::RsioList::LAYOUT)?;
    let known = core::mem::size_of::<E>();
    let n = uapi::check_entry_size(&a.value, v1, known).map_err(to_error)?;
    let (cap, esize) = (a.value.capacity as usize, a.value.entry_size as usize);
    a.value.count = rsio_kernel::abi::list_entries(a.value.entries, cap, esize, n, gather)?;
    a.write_back()?;
    Ok(0)
}
