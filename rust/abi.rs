// SPDX-License-Identifier: GPL-2.0

//! [`abi_struct!`](crate::abi_struct): the marker traits that let an ioctl
//! argument struct cross the user boundary by value.
//!
//! The ABI sources (`uapi/`) are shared with user space and must not depend
//! on the `kernel` crate, so each module implements the traits for the
//! structs it uses with this macro.

/// Implements `FromBytes`, `AsBytes` and `Zeroable` for `repr(C)` ABI
/// structs of integers and integer arrays laid out without padding.
///
/// Use only on such structs: every ABI struct of `uapi/` has its size
/// asserted to be the sum of its fields there, and checked against the C
/// header by a test.
#[macro_export]
macro_rules! abi_struct {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: `$t` is `repr(C)` of integers laid out without padding (its size is asserted to
        // be the sum of its fields in the ABI source), so every bit pattern is a valid value.
        unsafe impl ::kernel::transmute::FromBytes for $t {}
        // SAFETY: As above: no padding means no uninitialized bytes, and it has no interior
        // mutability.
        unsafe impl ::kernel::transmute::AsBytes for $t {}
        // SAFETY: As above; all-zeroes is a valid value.
        unsafe impl ::kernel::prelude::Zeroable for $t {}
    )*};
}

/// Copies `entries` (at most `cap`) to the user array at `addr` of `cap`
/// entries of `esize` bytes each, for a listing ioctl: the first `n` bytes
/// of each entry (the size both sides know, as the ABI's
/// `check_entry_size` computed it), zero-padded to `esize` (a newer user
/// space's larger entries). `EINVAL` if `n > esize` or an entry is shorter
/// than `n`; `EFAULT` for a bad address.
pub fn write_entries<E: kernel::transmute::AsBytes>(
    addr: u64,
    cap: usize,
    esize: usize,
    n: usize,
    entries: &[E],
) -> kernel::error::Result {
    use kernel::uaccess::{UserPtr, UserSlice};
    if cap == 0 {
        return Ok(());
    }
    if n > esize || n > core::mem::size_of::<E>() {
        return Err(kernel::error::code::EINVAL);
    }
    let total = cap.checked_mul(esize).ok_or(kernel::error::code::EINVAL)?;
    let addr = usize::try_from(addr)?;
    let mut w = UserSlice::new(UserPtr::from_addr(addr), total).writer();
    let zeros = [0u8; 64];
    for e in entries.iter().take(cap) {
        w.write_slice(&e.as_bytes()[..n])?;
        let mut tail = esize - n;
        while tail > 0 {
            let k = tail.min(zeros.len());
            w.write_slice(&zeros[..k])?;
            tail -= k;
        }
    }
    Ok(())
}

/// A listing ioctl's entries: `gather` passes each entry to its callback
/// (under whatever lock guards them) and returns how many there are; the
/// first `cap` are kept and copied out afterwards as
/// [`write_entries`] does. Returns the count.
pub fn list_entries<E: kernel::transmute::AsBytes + Copy>(
    addr: u64,
    cap: usize,
    esize: usize,
    n: usize,
    gather: impl FnOnce(&mut dyn FnMut(&E) -> kernel::error::Result) -> kernel::error::Result<u32>,
) -> kernel::error::Result<u32> {
    let mut v = kernel::alloc::KVec::new();
    let count = gather(&mut |e: &E| {
        if v.len() < cap {
            v.push(*e, kernel::alloc::flags::GFP_KERNEL)?;
        }
        Ok(())
    })?;
    write_entries(addr, cap, esize, n, &v)?;
    Ok(count)
}
