//! The client's memory as the device sees it: the regions QEMU announced
//! with DMA_MAP ([`DmaRegion`]), the table of all of them
//! ([`GuestMemory`]), and the error type of every DMA path ([`DmaError`]).
//!
//! A region QEMU passed a descriptor for is `mmap`ed and accessed directly;
//! one without (e.g. another device's BAR) can only be reached with
//! DMA_READ/DMA_WRITE messages through the [`DmaPort`](super::DmaPort).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::errno::Errno;
use super::memory::Mapping;

/// Why a DMA access failed.
#[derive(Debug)]
pub enum DmaError {
    /// No mapped region covers `[addr, addr + len)`: either nothing is
    /// mapped there or the region has no descriptor (use the `DmaPort`).
    Unmapped { addr: u64, len: u64 },
    /// The region does not allow this direction.
    ReadOnly { addr: u64 },
    /// No client is connected (or the version handshake is not done).
    NotConnected,
    /// The client went away while the request was in flight.
    Disconnected,
    /// The client did not reply in time.
    Timeout,
    /// Waiting here would deadlock: the calling thread is the one that
    /// handles this connection's requests, and the client is waiting for
    /// it. See the module documentation of [`vfio_user`](super).
    WouldDeadlock,
    /// The client replied with an error.
    Remote(Errno),
    /// The client's reply was malformed.
    BadReply(&'static str),
    /// Writing the request failed.
    Io(std::io::Error),
}

impl fmt::Display for DmaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DmaError::Unmapped { addr, len } => {
                write!(f, "no mapped DMA region covers {addr:#x}+{len:#x}")
            }
            DmaError::ReadOnly { addr } => write!(f, "DMA region at {addr:#x} is not writable"),
            DmaError::NotConnected => write!(f, "no vfio-user client connected"),
            DmaError::Disconnected => write!(f, "vfio-user client disconnected during DMA"),
            DmaError::Timeout => write!(f, "vfio-user client did not answer DMA in time"),
            DmaError::WouldDeadlock => write!(
                f,
                "synchronous DMA from the connection's own request handler would deadlock"
            ),
            DmaError::Remote(errno) => write!(f, "vfio-user client failed DMA: {errno}"),
            DmaError::BadReply(why) => write!(f, "malformed DMA reply: {why}"),
            DmaError::Io(e) => write!(f, "sending DMA request: {e}"),
        }
    }
}

impl std::error::Error for DmaError {}

/// One region the client made available with DMA_MAP.
///
/// Cloning is cheap. A clone keeps the memory mapped even after the client
/// unmaps the region, so device models should drop theirs when told of the
/// unmap ([`Device::dma_unmap`](super::Device::dma_unmap)); accesses are
/// always bounds-checked against the region.
#[derive(Clone)]
pub struct DmaRegion {
    addr: u64,
    size: u64,
    readable: bool,
    writable: bool,
    mapping: Option<Arc<Mapping>>,
}

impl DmaRegion {
    pub(crate) fn new(
        addr: u64,
        size: u64,
        readable: bool,
        writable: bool,
        mapping: Option<Mapping>,
    ) -> Self {
        DmaRegion {
            addr,
            size,
            readable,
            writable,
            mapping: mapping.map(Arc::new),
        }
    }

    /// First guest (bus) address.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// One past the last address (saturating).
    pub fn end(&self) -> u64 {
        self.addr.saturating_add(self.size)
    }

    pub fn is_readable(&self) -> bool {
        self.readable
    }

    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Whether the memory is mapped here (QEMU passed a descriptor), so
    /// [`read`](Self::read) and [`write`](Self::write) work.
    pub fn is_mapped(&self) -> bool {
        self.mapping.is_some()
    }

    /// Whether `[addr, addr + len)` lies inside the region.
    pub fn contains(&self, addr: u64, len: u64) -> bool {
        addr >= self.addr && addr.checked_add(len).is_some_and(|end| end <= self.end())
    }

    /// Copies guest memory at guest address `addr` into `buf`.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), DmaError> {
        let len = buf.len() as u64;
        let mapping = self.mapped_range(addr, len)?;
        if !self.readable {
            return Err(DmaError::Unmapped { addr, len });
        }
        mapping
            .read(addr - self.addr, buf)
            .map_err(|_| DmaError::Unmapped { addr, len })
    }

    /// Copies `data` to guest memory at guest address `addr`.
    pub fn write(&self, addr: u64, data: &[u8]) -> Result<(), DmaError> {
        let len = data.len() as u64;
        let mapping = self.mapped_range(addr, len)?;
        if !self.writable || !mapping.is_writable() {
            return Err(DmaError::ReadOnly { addr });
        }
        mapping
            .write(addr - self.addr, data)
            .map_err(|_| DmaError::Unmapped { addr, len })
    }

    fn mapped_range(&self, addr: u64, len: u64) -> Result<&Mapping, DmaError> {
        match &self.mapping {
            Some(mapping) if self.contains(addr, len) => Ok(mapping),
            _ => Err(DmaError::Unmapped { addr, len }),
        }
    }

    fn overlaps(&self, addr: u64, size: u64) -> bool {
        addr < self.end() && self.addr < addr.saturating_add(size)
    }
}

impl fmt::Debug for DmaRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DmaRegion({:#x}+{:#x} {}{}{})",
            self.addr,
            self.size,
            if self.readable { "r" } else { "-" },
            if self.writable { "w" } else { "-" },
            if self.is_mapped() {
                " mapped"
            } else {
                " unmapped"
            },
        )
    }
}

/// All DMA regions of the current client, by guest address.
///
/// Cloning is cheap and clones share the table. Reads and writes may span
/// adjacent regions. An access holds the table's read lock while it copies,
/// and the server takes the write lock to unmap, so once DMA_UNMAP is
/// answered no access to that memory is still running (as the protocol
/// requires).
#[derive(Clone, Default)]
pub struct GuestMemory {
    regions: Arc<RwLock<BTreeMap<u64, DmaRegion>>>,
}

impl GuestMemory {
    /// Copies guest memory at `addr` into `buf`.
    pub fn read(&self, mut addr: u64, buf: &mut [u8]) -> Result<(), DmaError> {
        let table = self.table();
        let mut done = 0;
        while done < buf.len() {
            let region = Self::find(&table, addr, buf.len() - done)?;
            let n = chunk_len(region, addr, buf.len() - done);
            region.read(addr, &mut buf[done..done + n])?;
            done += n;
            addr += n as u64;
        }
        Ok(())
    }

    /// Copies `data` to guest memory at `addr`.
    pub fn write(&self, mut addr: u64, data: &[u8]) -> Result<(), DmaError> {
        let table = self.table();
        let mut done = 0;
        while done < data.len() {
            let region = Self::find(&table, addr, data.len() - done)?;
            let n = chunk_len(region, addr, data.len() - done);
            region.write(addr, &data[done..done + n])?;
            done += n;
            addr += n as u64;
        }
        Ok(())
    }

    /// The region containing `addr`, if any.
    pub fn region_at(&self, addr: u64) -> Option<DmaRegion> {
        let table = self.table();
        Self::find(&table, addr, 1).ok().cloned()
    }

    /// A snapshot of all regions, by address.
    pub fn regions(&self) -> Vec<DmaRegion> {
        self.table().values().cloned().collect()
    }

    /// Adds a region; `EEXIST` if it overlaps one, `ENOSPC` past `limit`
    /// regions.
    pub(crate) fn insert(&self, region: DmaRegion, limit: usize) -> Result<(), Errno> {
        let mut table = self.table_mut();
        if table.len() >= limit {
            return Err(Errno::ENOSPC);
        }
        // Only the last region starting below the new end can overlap.
        let end = region.end();
        if let Some((_, prev)) = table.range(..end).next_back() {
            if prev.overlaps(region.addr, region.size) {
                return Err(Errno::EEXIST);
            }
        }
        table.insert(region.addr, region);
        Ok(())
    }

    /// Removes the region mapped at exactly `addr` with exactly `size`.
    pub(crate) fn remove(&self, addr: u64, size: u64) -> Result<DmaRegion, Errno> {
        let mut table = self.table_mut();
        match table.get(&addr) {
            Some(region) if region.size == size => Ok(table.remove(&addr).expect("just found")),
            Some(_) => Err(Errno::EINVAL),
            None => Err(Errno::ENOENT),
        }
    }

    /// Removes every region, returning them.
    pub(crate) fn clear(&self) -> Vec<DmaRegion> {
        std::mem::take(&mut *self.table_mut())
            .into_values()
            .collect()
    }

    fn find(
        table: &BTreeMap<u64, DmaRegion>,
        addr: u64,
        len: usize,
    ) -> Result<&DmaRegion, DmaError> {
        table
            .range(..=addr)
            .next_back()
            .map(|(_, region)| region)
            .filter(|region| region.contains(addr, 1))
            .ok_or(DmaError::Unmapped {
                addr,
                len: len as u64,
            })
    }

    // A panic while holding the lock cannot leave the table inconsistent
    // (every update is a single map operation), so poisoning is ignored.
    fn table(&self) -> RwLockReadGuard<'_, BTreeMap<u64, DmaRegion>> {
        self.regions.read().unwrap_or_else(|e| e.into_inner())
    }

    fn table_mut(&self) -> RwLockWriteGuard<'_, BTreeMap<u64, DmaRegion>> {
        self.regions.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for GuestMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.table().values()).finish()
    }
}

/// How many of `remaining` bytes from `addr` fall inside `region`.
fn chunk_len(region: &DmaRegion, addr: u64, remaining: usize) -> usize {
    let in_region = region.end() - addr;
    usize::try_from(in_region).map_or(remaining, |n| n.min(remaining))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfio_user::memory::SharedMemory;

    fn mapped(shm: &SharedMemory, addr: u64, offset: u64, size: u64, writable: bool) -> DmaRegion {
        let mapping = Mapping::new(shm.fd(), offset, size, true).unwrap();
        DmaRegion::new(addr, size, true, writable, Some(mapping))
    }

    #[test]
    fn a_read_spanning_two_adjacent_regions_is_stitched_together() {
        let shm = SharedMemory::new("guest", 8192).unwrap();
        shm.write(4094, &[1, 2, 3, 4]).unwrap();
        let memory = GuestMemory::default();
        memory
            .insert(mapped(&shm, 0x10000, 0, 4096, true), 16)
            .unwrap();
        memory
            .insert(mapped(&shm, 0x11000, 4096, 4096, true), 16)
            .unwrap();
        let mut buf = [0u8; 4];
        memory.read(0x10ffe, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4]);
    }

    #[test]
    fn an_access_running_into_a_hole_fails_as_unmapped() {
        let shm = SharedMemory::new("guest", 4096).unwrap();
        let memory = GuestMemory::default();
        memory
            .insert(mapped(&shm, 0x10000, 0, 4096, true), 16)
            .unwrap();
        let mut buf = [0u8; 8];
        assert!(matches!(
            memory.read(0x10ffc, &mut buf),
            Err(DmaError::Unmapped { .. })
        ));
        assert!(matches!(
            memory.write(0x0, &buf),
            Err(DmaError::Unmapped { .. })
        ));
    }

    #[test]
    fn writes_to_a_read_only_region_are_refused() {
        let shm = SharedMemory::new("guest", 4096).unwrap();
        let memory = GuestMemory::default();
        memory.insert(mapped(&shm, 0, 0, 4096, false), 16).unwrap();
        assert!(matches!(
            memory.write(0, &[1]),
            Err(DmaError::ReadOnly { .. })
        ));
    }

    #[test]
    fn a_region_without_a_descriptor_cannot_be_accessed_directly() {
        let memory = GuestMemory::default();
        memory
            .insert(DmaRegion::new(0x1000, 0x1000, true, true, None), 16)
            .unwrap();
        assert!(matches!(
            memory.read(0x1000, &mut [0u8; 4]),
            Err(DmaError::Unmapped { .. })
        ));
    }

    #[test]
    fn overlapping_maps_are_refused_and_unmaps_must_match_exactly() {
        let memory = GuestMemory::default();
        memory
            .insert(DmaRegion::new(0x1000, 0x1000, true, true, None), 16)
            .unwrap();
        let overlapping = DmaRegion::new(0x1800, 0x1000, true, true, None);
        assert_eq!(memory.insert(overlapping, 16), Err(Errno::EEXIST));
        let below = DmaRegion::new(0x0, 0x1001, true, true, None);
        assert_eq!(memory.insert(below, 16), Err(Errno::EEXIST));
        let adjacent = DmaRegion::new(0x2000, 0x1000, true, true, None);
        assert_eq!(memory.insert(adjacent, 16), Ok(()));
        assert_eq!(memory.remove(0x1000, 0x800).unwrap_err(), Errno::EINVAL);
        assert_eq!(memory.remove(0x3000, 0x1000).unwrap_err(), Errno::ENOENT);
        assert!(memory.remove(0x1000, 0x1000).is_ok());
    }

    #[test]
    fn the_region_limit_is_enforced() {
        let memory = GuestMemory::default();
        memory
            .insert(DmaRegion::new(0, 1, true, true, None), 1)
            .unwrap();
        assert_eq!(
            memory.insert(DmaRegion::new(1, 1, true, true, None), 1),
            Err(Errno::ENOSPC)
        );
    }

    #[test]
    fn a_region_at_the_top_of_the_address_space_does_not_overflow() {
        let region = DmaRegion::new(u64::MAX - 15, 16, true, true, None);
        assert!(region.contains(u64::MAX - 1, 1));
        assert!(!region.contains(u64::MAX - 1, 16));
    }
}
