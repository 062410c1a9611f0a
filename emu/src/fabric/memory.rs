//! The fabric memory: one file that holds every node's guest RAM.
//!
//! Node `n`'s RAM is the file's bytes `[n << shift, (n << shift) + ram)`;
//! each node's QEMU maps its span as guest RAM
//! (`memory-backend-file,mem-path=<file>,offset=<n << shift>,share=on`), the
//! emulator maps the whole file, and BAR4 (the direct window) offers the
//! whole file to every guest. So the emulator reaches any node's RAM, and
//! guests reach each other's, at memory speed.
//!
//! Guest physical address `X` of a node is file offset `X` in its span: with
//! at most 2 GiB of RAM, q35 puts all of it below 4 GiB, linearly.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::vfio_user::Mapping;

/// The mapped fabric memory file. Removes the file when dropped.
pub struct FabricMemory {
    path: PathBuf,
    file: File,
    map: Mapping,
    nodes: usize,
    ram: u64,
    shift: u32,
}

/// A node's RAM range was exceeded or the node does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfRange;

impl FabricMemory {
    /// Creates (or truncates) `path` for `nodes` spans of `1 << shift`
    /// bytes with `ram` bytes of RAM each, and maps the spans. The file is
    /// sparse: it costs host memory only as guests touch it. It is as long
    /// as BAR4 (spans for a power of two of nodes): QEMU's alias of the
    /// direct window (an `ivshmem-plain` BAR, a power of two) maps it
    /// whole.
    pub fn create(path: &Path, nodes: usize, ram: u64, shift: u32) -> io::Result<FabricMemory> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        let len = (nodes as u64) << shift;
        file.set_len(Self::file_len_of(nodes, shift))?;
        let map = Mapping::new(file.as_fd(), 0, len, true)?;
        Ok(FabricMemory {
            path: path.to_path_buf(),
            file,
            map,
            nodes,
            ram,
            shift,
        })
    }

    /// The file's path, for QEMU's `mem-path`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file offset of node `node`'s RAM, for QEMU's `offset`.
    pub fn node_offset(&self, node: usize) -> u64 {
        (node as u64) << self.shift
    }

    /// Each node's RAM size.
    pub fn ram(&self) -> u64 {
        self.ram
    }

    /// The size of every node's span (what is mapped).
    pub fn len(&self) -> u64 {
        (self.nodes as u64) << self.shift
    }

    /// The file's size: BAR4's, every node's span rounded up to a power
    /// of two of nodes.
    pub fn file_len(&self) -> u64 {
        Self::file_len_of(self.nodes, self.shift)
    }

    fn file_len_of(nodes: usize, shift: u32) -> u64 {
        (nodes as u64).next_power_of_two() << shift
    }

    /// Always false: a fabric has at least two nodes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// A new descriptor of the file, to back BAR4.
    pub fn fd(&self) -> io::Result<OwnedFd> {
        self.file.as_fd().try_clone_to_owned()
    }

    /// The file offset of `[addr, addr + len)` in node `node`'s RAM.
    pub fn locate(&self, node: usize, addr: u64, len: u64) -> Result<u64, OutOfRange> {
        let end = addr.checked_add(len).ok_or(OutOfRange)?;
        if node >= self.nodes || end > self.ram {
            return Err(OutOfRange);
        }
        Ok(self.node_offset(node) + addr)
    }

    /// Reads node `node`'s RAM at `addr`.
    pub fn read(&self, node: usize, addr: u64, buf: &mut [u8]) -> Result<(), OutOfRange> {
        let off = self.locate(node, addr, buf.len() as u64)?;
        self.map.read(off, buf).map_err(|_| OutOfRange)
    }

    /// Writes node `node`'s RAM at `addr`.
    pub fn write(&self, node: usize, addr: u64, data: &[u8]) -> Result<(), OutOfRange> {
        let off = self.locate(node, addr, data.len() as u64)?;
        self.map.write(off, data).map_err(|_| OutOfRange)
    }

    /// Copies between two nodes' RAM (or within one), memmove semantics.
    pub fn copy(&self, src: (usize, u64), dst: (usize, u64), len: u64) -> Result<(), OutOfRange> {
        let from = self.locate(src.0, src.1, len)?;
        let to = self.locate(dst.0, dst.1, len)?;
        let len = usize::try_from(len).map_err(|_| OutOfRange)?;
        self.map.copy_within(from, to, len).map_err(|_| OutOfRange)
    }

    /// Reads the file at a raw offset (the direct window's view).
    pub fn read_raw(&self, offset: u64, buf: &mut [u8]) -> Result<(), OutOfRange> {
        self.map.read(offset, buf).map_err(|_| OutOfRange)
    }

    /// Gives node `node`'s RAM back to the host (after the node died):
    /// its span reads as zeroes afterwards.
    pub fn discard(&self, node: usize) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        // Mappings of the range keep valid (zeroed) pages.
        // SAFETY: fallocate on our own fd, range inside the file.
        let rc = unsafe {
            libc::fallocate(
                self.file.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                self.node_offset(node) as libc::off_t,
                self.ram as libc::off_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for FabricMemory {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> FabricMemory {
        let path = std::env::temp_dir().join(format!(
            "rsio-fabric-mem-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        FabricMemory::create(&path, 2, 1 << 20, 21).unwrap()
    }

    #[test]
    fn each_node_has_its_own_span_of_the_file() {
        let m = memory();
        m.write(1, 0x100, b"node1").unwrap();
        let mut buf = [0u8; 5];
        m.read_raw((1 << 21) + 0x100, &mut buf).unwrap();
        assert_eq!(&buf, b"node1");
        m.read(0, 0x100, &mut buf).unwrap();
        assert_eq!(buf, [0; 5]);
    }

    #[test]
    fn accesses_beyond_a_nodes_ram_are_refused() {
        let m = memory();
        let mut buf = [0u8; 8];
        assert_eq!(m.read(0, (1 << 20) - 4, &mut buf), Err(OutOfRange));
        assert_eq!(m.read(2, 0, &mut buf), Err(OutOfRange));
        assert_eq!(m.write(0, u64::MAX - 2, &buf), Err(OutOfRange));
    }

    #[test]
    fn copies_move_bytes_between_nodes() {
        let m = memory();
        m.write(0, 0x2000, &[7u8; 4096]).unwrap();
        m.copy((0, 0x2000), (1, 0x8000), 4096).unwrap();
        let mut buf = [0u8; 4096];
        m.read(1, 0x8000, &mut buf).unwrap();
        assert!(buf.iter().all(|&b| b == 7));
    }

    #[test]
    fn the_file_is_removed_with_the_memory() {
        let m = memory();
        let path = m.path().to_path_buf();
        assert!(path.exists());
        drop(m);
        assert!(!path.exists());
    }
}
