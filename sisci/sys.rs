// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers of the C helpers (helpers.h): DMA-mapped page chunks,
//! PFN mappings into a user vma, the inodes whose mappings can be zapped,
//! eventfds, and the caller's credentials. Nothing else calls `bindings`.

use crate::bindings;
use kernel::prelude::*;

/// `2^order` pages, DMA-mapped for the adapter: zeroed kernel pages, or
/// one pinned page of a process (registered memory).
///
/// # Invariants
///
/// If `!user`, `page` came from `rsio_sisci_chunk_alloc(dev, order, &bus)`;
/// else from `rsio_sisci_user_page(dev, .., &bus, ..)` with `order == 0`;
/// `dev` is the adapter's device (kept alive by `_adapter`); released on
/// drop by the matching helper.
pub(crate) struct Chunk {
    _adapter: kernel::sync::Arc<rsio_ntb::adapter::Adapter>,
    dev: *mut kernel::bindings::device,
    page: *mut kernel::bindings::page,
    order: u32,
    bus: u64,
    user: bool,
}

// SAFETY: A chunk is a block of pages and a device reference; nothing in
// it is tied to a thread.
unsafe impl Send for Chunk {}
// SAFETY: As above; `&Chunk` only reads its fields.
unsafe impl Sync for Chunk {}

impl Chunk {
    /// Allocates `2^order` pages; `ENOMEM` (quietly) if none are free.
    pub(crate) fn alloc(
        adapter: &kernel::sync::Arc<rsio_ntb::adapter::Adapter>,
        order: u32,
    ) -> Result<Self> {
        let dev = raw_device(adapter);
        let mut bus = 0u64;
        // SAFETY: `dev` is the adapter's live device (the `Arc` holds it); `bus` is a valid out pointer.
        let page = unsafe { bindings::rsio_sisci_chunk_alloc(dev, order, &mut bus) };
        if page.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: allocated and mapped for `dev` just now.
        Ok(Self {
            _adapter: adapter.clone(),
            dev,
            page,
            order,
            bus,
            user: false,
        })
    }

    /// Pins the current process's page at `uaddr` (page-aligned) and maps
    /// it for the adapter: `EFAULT` if it is not writable memory.
    pub(crate) fn pin_user(
        adapter: &kernel::sync::Arc<rsio_ntb::adapter::Adapter>,
        uaddr: usize,
    ) -> Result<Self> {
        let dev = raw_device(adapter);
        let (mut bus, mut err) = (0u64, 0i32);
        // SAFETY: `dev` is the adapter's live device; `uaddr` is only a number to the helper (pin_user_pages_fast checks it against the caller's address space); the out pointers are valid.
        let page = unsafe { bindings::rsio_sisci_user_page(dev, uaddr, &mut bus, &mut err) };
        if page.is_null() {
            return Err(if err < 0 {
                Error::from_errno(err)
            } else {
                EFAULT
            });
        }
        // INVARIANT: pinned and mapped for `dev` just now, one page.
        Ok(Self {
            _adapter: adapter.clone(),
            dev,
            page,
            order: 0,
            bus,
            user: true,
        })
    }

    /// The bus address the adapter (and so peers, through it) reaches.
    pub(crate) fn bus(&self) -> u64 {
        self.bus
    }

    /// Bytes.
    pub(crate) fn len(&self) -> usize {
        (kernel::page::PAGE_SIZE) << self.order
    }

    /// Maps `len` bytes of the chunk from byte `offset` (page-aligned) at
    /// user address `addr` of `vma`.
    pub(crate) fn map_into(&self, vma: &Vma<'_>, addr: usize, offset: usize, len: usize) -> Result {
        let end = offset.checked_add(len).ok_or(EINVAL)?;
        if end > self.len() || offset % kernel::page::PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        // SAFETY: `vma` is a vma being set up under the mmap lock (`Vma`'s invariant); `addr..addr+len` is inside it (the caller's computation, checked again by remap_pfn_range); the pages are ours and outlive the mapping (they are zapped before being freed).
        let r = unsafe {
            bindings::rsio_sisci_vma_map_ram(
                vma.raw,
                addr,
                self.page,
                offset / kernel::page::PAGE_SIZE,
                len,
            )
        };
        kernel::error::to_result(r)
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        if self.user {
            // SAFETY: Pinned and mapped by `rsio_sisci_user_page` (invariant), released once.
            unsafe { bindings::rsio_sisci_user_page_put(self.dev, self.page, self.bus) };
        } else {
            // SAFETY: Allocated by `rsio_sisci_chunk_alloc` with these arguments (invariant), freed once.
            unsafe { bindings::rsio_sisci_chunk_free(self.dev, self.page, self.order, self.bus) };
        }
    }
}

/// The adapter's `struct device`.
fn raw_device(adapter: &rsio_ntb::adapter::Adapter) -> *mut kernel::bindings::device {
    adapter.raw_device()
}

/// A vma being set up by `mmap`.
///
/// # Invariants
///
/// `raw` is a vma under construction in `f_op->mmap`, with the mmap lock
/// held, for the lifetime `'a`.
pub(crate) struct Vma<'a> {
    raw: *mut kernel::bindings::vm_area_struct,
    _p: core::marker::PhantomData<&'a ()>,
}

impl<'a> Vma<'a> {
    /// Wraps the vma of an `mmap` call and prepares it for PFN mappings
    /// (SIGBUS once revoked).
    pub(crate) fn new(vma: &'a kernel::mm::virt::VmaNew) -> Self {
        let raw = vma.as_ptr();
        // SAFETY: `raw` is the vma `mmap` is setting up, with the mmap lock held (the `VmaNew` borrow proves it).
        unsafe { bindings::rsio_sisci_vma_setup(raw) };
        // INVARIANT: from a `VmaNew` borrowed for `'a`.
        Self {
            raw,
            _p: core::marker::PhantomData,
        }
    }

    /// `(start, end, page offset)` of the vma.
    pub(crate) fn span(&self) -> (usize, usize, u64) {
        // SAFETY: `raw` is valid for `'a` (invariant); these fields are stable while the mmap lock is held.
        let (start, end, pgoff) = unsafe {
            (
                (*self.raw).__bindgen_anon_1.__bindgen_anon_1.vm_start,
                (*self.raw).__bindgen_anon_1.__bindgen_anon_1.vm_end,
                (*self.raw).vm_pgoff,
            )
        };
        (start, end, pgoff as u64)
    }

    /// Maps `len` bytes of MMIO at physical address `phys` at `addr`
    /// (write-combining if `wc`, else uncached).
    pub(crate) fn map_io(&self, addr: usize, phys: u64, len: usize, wc: bool) -> Result {
        // SAFETY: `raw` is valid (invariant); the range is checked by io_remap_pfn_range against the vma.
        let r = unsafe { bindings::rsio_sisci_vma_map_io(self.raw, addr, phys, len, wc) };
        kernel::error::to_result(r)
    }

    /// A reference on the inode of the vma's file (to zap its mappings).
    pub(crate) fn inode(&self) -> InodeRef {
        // SAFETY: `raw` is valid and has a file (it is a mapping of our device).
        let inode = unsafe { bindings::rsio_sisci_vma_inode(self.raw) };
        // INVARIANT: `rsio_sisci_vma_inode` took a reference.
        InodeRef(inode)
    }
}

/// A reference on an inode whose page-offset space holds mappings of
/// ours.
///
/// # Invariants
///
/// Holds one reference (ihold) on a live inode, dropped on drop.
pub(crate) struct InodeRef(*mut kernel::bindings::inode);

// SAFETY: An inode reference may be used and dropped from any thread.
unsafe impl Send for InodeRef {}
// SAFETY: `&InodeRef` only zaps mappings, which locks internally.
unsafe impl Sync for InodeRef {}

impl InodeRef {
    fn same(&self, other: &InodeRef) -> bool {
        self.0 == other.0
    }

    /// Removes every user mapping of `[offset, offset + len)` of the
    /// file's page-offset space: later accesses fault (SIGBUS).
    pub(crate) fn zap(&self, offset: u64, len: u64) {
        // SAFETY: The inode is alive (invariant).
        unsafe { bindings::rsio_sisci_zap(self.0, offset, len) };
    }
}

impl Drop for InodeRef {
    fn drop(&mut self) {
        // SAFETY: Drops the reference this object holds (invariant).
        unsafe { bindings::rsio_sisci_inode_put(self.0) };
    }
}

/// The inodes through which an object was mapped into user space.
#[derive(Default)]
pub(crate) struct Mappers(KVec<InodeRef>);

impl Mappers {
    /// Remembers `inode` (once per inode).
    pub(crate) fn add(&mut self, inode: InodeRef) -> Result {
        if self.0.iter().any(|i| i.same(&inode)) {
            return Ok(());
        }
        self.0.push(inode, GFP_KERNEL)?;
        Ok(())
    }

    /// Zaps `[offset, offset + len)` of every inode (see [`InodeRef::zap`]).
    pub(crate) fn zap(&self, offset: u64, len: u64) {
        for i in self.0.iter() {
            i.zap(offset, len);
        }
    }
}

/// An eventfd context.
///
/// # Invariants
///
/// Holds a reference on a live `eventfd_ctx`, dropped on drop.
pub(crate) struct EventFd(*mut core::ffi::c_void);

// SAFETY: eventfd contexts are signalled from any thread.
unsafe impl Send for EventFd {}
// SAFETY: As above: signalling locks internally.
unsafe impl Sync for EventFd {}

impl EventFd {
    /// The eventfd behind the caller's file descriptor `fd` (`EBADF`,
    /// `EINVAL` if it is not an eventfd).
    pub(crate) fn get(fd: i32) -> Result<Self> {
        // SAFETY: Looks `fd` up in the current task's table; no pointer arguments.
        let ctx = unsafe { bindings::rsio_sisci_eventfd_get(fd) };
        // SAFETY: `ctx` is either a valid pointer or an ERR_PTR; the helper only inspects its value.
        let err = unsafe { bindings::rsio_sisci_ptr_err(ctx) };
        if err != 0 || ctx.is_null() {
            return Err(if err < 0 {
                Error::from_errno(err as i32)
            } else {
                EINVAL
            });
        }
        // INVARIANT: eventfd_ctx_fdget took a reference.
        Ok(Self(ctx))
    }

    /// Adds 1 to the eventfd's counter (wakes its pollers).
    pub(crate) fn signal(&self) {
        // SAFETY: The context is alive (invariant).
        unsafe { bindings::rsio_sisci_eventfd_signal(self.0) };
    }
}

impl Drop for EventFd {
    fn drop(&mut self) {
        // SAFETY: Drops the reference this object holds (invariant).
        unsafe { bindings::rsio_sisci_eventfd_put(self.0) };
    }
}

/// The caller's uid (initial user namespace).
pub(crate) fn current_uid() -> u32 {
    // SAFETY: Reads the current task's credentials; no arguments.
    unsafe { bindings::rsio_sisci_current_uid() }
}

/// Whether the caller has `CAP_SYS_ADMIN`.
pub(crate) fn capable_admin() -> bool {
    // SAFETY: Checks the current task's capabilities; no arguments.
    unsafe { bindings::rsio_sisci_capable_admin() }
}

/// The caller's pid.
pub(crate) fn current_pid() -> u32 {
    // SAFETY: Reads the current task's pid; no arguments.
    unsafe { bindings::rsio_sisci_current_pid() as u32 }
}
