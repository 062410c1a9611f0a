//! The vfio-user wire format: message header, command numbers, flag bits
//! and the fixed-layout payloads, with bounds-checked decoding.
//!
//! Everything here is pure data: no I/O, no device logic. All integers are
//! little-endian (the protocol uses host endianness; rsio only runs on
//! x86_64). Payload offsets below are relative to the end of the 16-byte
//! header, as in QEMU's `docs/interop/vfio-user.rst`.

use super::errno::Errno;

/// Size of the header that starts every message.
pub const HEADER_SIZE: usize = 16;

/// The protocol version this implementation speaks (and QEMU 11 proposes).
pub const VERSION_MAJOR: u16 = 0;
/// See [`VERSION_MAJOR`].
pub const VERSION_MINOR: u16 = 0;

/// Command numbers (header `command` field).
pub mod command {
    pub const VERSION: u16 = 1;
    pub const DMA_MAP: u16 = 2;
    pub const DMA_UNMAP: u16 = 3;
    pub const DEVICE_GET_INFO: u16 = 4;
    pub const DEVICE_GET_REGION_INFO: u16 = 5;
    pub const DEVICE_GET_REGION_IO_FDS: u16 = 6;
    pub const DEVICE_GET_IRQ_INFO: u16 = 7;
    pub const DEVICE_SET_IRQS: u16 = 8;
    pub const REGION_READ: u16 = 9;
    pub const REGION_WRITE: u16 = 10;
    pub const DMA_READ: u16 = 11;
    pub const DMA_WRITE: u16 = 12;
    pub const DEVICE_RESET: u16 = 13;
    pub const REGION_WRITE_MULTI: u16 = 15;
    pub const DEVICE_FEATURE: u16 = 16;
    pub const MIG_DATA_READ: u16 = 17;
    pub const MIG_DATA_WRITE: u16 = 18;

    /// A name for logs.
    pub fn name(command: u16) -> &'static str {
        match command {
            VERSION => "VERSION",
            DMA_MAP => "DMA_MAP",
            DMA_UNMAP => "DMA_UNMAP",
            DEVICE_GET_INFO => "DEVICE_GET_INFO",
            DEVICE_GET_REGION_INFO => "DEVICE_GET_REGION_INFO",
            DEVICE_GET_REGION_IO_FDS => "DEVICE_GET_REGION_IO_FDS",
            DEVICE_GET_IRQ_INFO => "DEVICE_GET_IRQ_INFO",
            DEVICE_SET_IRQS => "DEVICE_SET_IRQS",
            REGION_READ => "REGION_READ",
            REGION_WRITE => "REGION_WRITE",
            DMA_READ => "DMA_READ",
            DMA_WRITE => "DMA_WRITE",
            DEVICE_RESET => "DEVICE_RESET",
            REGION_WRITE_MULTI => "REGION_WRITE_MULTI",
            DEVICE_FEATURE => "DEVICE_FEATURE",
            MIG_DATA_READ => "MIG_DATA_READ",
            MIG_DATA_WRITE => "MIG_DATA_WRITE",
            _ => "UNKNOWN",
        }
    }
}

/// Header `flags` bits.
pub mod flags {
    /// The message-type field.
    pub const TYPE_MASK: u32 = 0xf;
    /// Type: a command.
    pub const TYPE_COMMAND: u32 = 0x0;
    /// Type: a reply.
    pub const TYPE_REPLY: u32 = 0x1;
    /// A command that wants no reply (QEMU's posted writes).
    pub const NO_REPLY: u32 = 0x10;
    /// A reply reporting failure; `error` holds the errno.
    pub const ERROR: u32 = 0x20;
}

/// `struct vfio_device_info` flags.
pub mod device_flags {
    pub const RESET: u32 = 1 << 0;
    pub const PCI: u32 = 1 << 1;
}

/// `struct vfio_region_info` flags.
pub mod region_flags {
    pub const READ: u32 = 1 << 0;
    pub const WRITE: u32 = 1 << 1;
    pub const MMAP: u32 = 1 << 2;
    pub const CAPS: u32 = 1 << 3;
}

/// `VFIO_REGION_INFO_CAP_SPARSE_MMAP`, and its version.
pub const CAP_SPARSE_MMAP: u16 = 1;
/// See [`CAP_SPARSE_MMAP`].
pub const CAP_SPARSE_MMAP_VERSION: u16 = 1;

/// `struct vfio_irq_info` flags.
pub mod irq_info_flags {
    pub const EVENTFD: u32 = 1 << 0;
    pub const MASKABLE: u32 = 1 << 1;
    pub const AUTOMASKED: u32 = 1 << 2;
    pub const NORESIZE: u32 = 1 << 3;
}

/// `struct vfio_irq_set` flags: one data type and one action.
pub mod irq_set_flags {
    pub const DATA_NONE: u32 = 1 << 0;
    pub const DATA_BOOL: u32 = 1 << 1;
    pub const DATA_EVENTFD: u32 = 1 << 2;
    pub const ACTION_MASK: u32 = 1 << 3;
    pub const ACTION_UNMASK: u32 = 1 << 4;
    pub const ACTION_TRIGGER: u32 = 1 << 5;
    pub const DATA_TYPE_MASK: u32 = DATA_NONE | DATA_BOOL | DATA_EVENTFD;
    pub const ACTION_TYPE_MASK: u32 = ACTION_MASK | ACTION_UNMASK | ACTION_TRIGGER;
}

/// DMA_MAP flags.
pub mod dma_map_flags {
    pub const READ: u32 = 1 << 0;
    pub const WRITE: u32 = 1 << 1;
}

/// DMA_UNMAP flags.
pub mod dma_unmap_flags {
    /// Dirty-page bitmap requested (migration; unsupported here).
    pub const GET_DIRTY_BITMAP: u32 = 1 << 0;
    /// Unmap every region; address and size must be zero.
    pub const ALL: u32 = 1 << 1;
}

/// The 16-byte header of every message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Header {
    /// Chosen by the sender of a command, echoed in its reply.
    pub id: u16,
    pub command: u16,
    /// Size of the whole message, header included.
    pub size: u32,
    pub flags: u32,
    /// The errno of an error reply.
    pub error: u32,
}

impl Header {
    /// Decodes a header. Never fails: validating `size` and `flags` is up
    /// to the caller, who knows the context.
    pub fn decode(bytes: &[u8; HEADER_SIZE]) -> Header {
        let mut r = Reader::new(bytes);
        // The reads cannot fail on 16 bytes.
        Header {
            id: r.u16().unwrap_or(0),
            command: r.u16().unwrap_or(0),
            size: r.u32().unwrap_or(0),
            flags: r.u32().unwrap_or(0),
            error: r.u32().unwrap_or(0),
        }
    }

    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut out = [0u8; HEADER_SIZE];
        out[0..2].copy_from_slice(&self.id.to_le_bytes());
        out[2..4].copy_from_slice(&self.command.to_le_bytes());
        out[4..8].copy_from_slice(&self.size.to_le_bytes());
        out[8..12].copy_from_slice(&self.flags.to_le_bytes());
        out[12..16].copy_from_slice(&self.error.to_le_bytes());
        out
    }

    /// A command header for a payload of `payload_len` bytes.
    pub fn command(id: u16, command: u16, payload_len: usize) -> Header {
        Header {
            id,
            command,
            size: message_size(payload_len),
            flags: flags::TYPE_COMMAND,
            error: 0,
        }
    }

    /// The reply header for command `self`, with a payload of
    /// `payload_len` bytes.
    pub fn reply(&self, payload_len: usize) -> Header {
        Header {
            id: self.id,
            command: self.command,
            size: message_size(payload_len),
            flags: flags::TYPE_REPLY,
            error: 0,
        }
    }

    /// The error reply for command `self`: a bare header.
    pub fn error_reply(&self, errno: Errno) -> Header {
        Header {
            id: self.id,
            command: self.command,
            size: HEADER_SIZE as u32,
            flags: flags::TYPE_REPLY | flags::ERROR,
            error: errno.raw() as u32,
        }
    }

    pub fn is_reply(&self) -> bool {
        self.flags & flags::TYPE_MASK == flags::TYPE_REPLY
    }

    pub fn is_command(&self) -> bool {
        self.flags & flags::TYPE_MASK == flags::TYPE_COMMAND
    }

    pub fn wants_reply(&self) -> bool {
        self.flags & flags::NO_REPLY == 0
    }

    pub fn is_error(&self) -> bool {
        self.flags & flags::ERROR != 0
    }
}

/// The `size` field for a message with `payload_len` bytes of payload,
/// saturating (such a message would be refused anyway).
fn message_size(payload_len: usize) -> u32 {
    u32::try_from(HEADER_SIZE + payload_len).unwrap_or(u32::MAX)
}

/// A cursor over a payload that fails, rather than panics, past its end.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// The next `len` bytes, or `EINVAL` if the payload is shorter.
    pub fn bytes(&mut self, len: usize) -> Result<&'a [u8], Errno> {
        let end = self.pos.checked_add(len).ok_or(Errno::EINVAL)?;
        let out = self.bytes.get(self.pos..end).ok_or(Errno::EINVAL)?;
        self.pos = end;
        Ok(out)
    }

    pub fn u16(&mut self) -> Result<u16, Errno> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, Errno> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, Errno> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.bytes[self.pos.min(self.bytes.len())..];
        self.pos = self.bytes.len();
        out
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Errno> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }
}

/// Appends little-endian fields to a payload.
#[derive(Default)]
pub struct Writer {
    pub bytes: Vec<u8>,
}

impl Writer {
    pub fn with_capacity(capacity: usize) -> Self {
        Writer {
            bytes: Vec::with_capacity(capacity),
        }
    }

    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn put(&mut self, data: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(data);
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// VERSION payload: version numbers and an optional NUL-terminated JSON
/// capabilities object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub major: u16,
    pub minor: u16,
    /// The JSON text, without its terminating NUL; empty if absent.
    pub capabilities: String,
}

impl Version {
    pub fn decode(payload: &[u8]) -> Result<Version, Errno> {
        let mut r = Reader::new(payload);
        let major = r.u16()?;
        let minor = r.u16()?;
        let rest = r.rest();
        // The JSON ends at the first NUL; tolerate a missing terminator.
        let json = rest.split(|&b| b == 0).next().unwrap_or(&[]);
        let capabilities = std::str::from_utf8(json)
            .map_err(|_| Errno::EINVAL)?
            .to_owned();
        Ok(Version {
            major,
            minor,
            capabilities,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(5 + self.capabilities.len());
        w.u16(self.major).u16(self.minor);
        if !self.capabilities.is_empty() {
            w.put(self.capabilities.as_bytes()).put(&[0]);
        }
        w.finish()
    }
}

/// DMA_MAP payload (`struct vfio_user_dma_map`, 32 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaMap {
    pub argsz: u32,
    pub flags: u32,
    /// Offset into the file descriptor passed along, if any.
    pub offset: u64,
    /// Guest (bus) address of the region.
    pub address: u64,
    pub size: u64,
}

impl DmaMap {
    pub const SIZE: usize = 32;

    pub fn decode(payload: &[u8]) -> Result<DmaMap, Errno> {
        let mut r = Reader::new(payload);
        Ok(DmaMap {
            argsz: r.u32()?,
            flags: r.u32()?,
            offset: r.u64()?,
            address: r.u64()?,
            size: r.u64()?,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::SIZE);
        w.u32(self.argsz)
            .u32(self.flags)
            .u64(self.offset)
            .u64(self.address)
            .u64(self.size);
        w.finish()
    }
}

/// DMA_UNMAP payload (`struct vfio_user_dma_unmap`, 24 bytes), also its
/// reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaUnmap {
    pub argsz: u32,
    pub flags: u32,
    pub address: u64,
    pub size: u64,
}

impl DmaUnmap {
    pub const SIZE: usize = 24;

    pub fn decode(payload: &[u8]) -> Result<DmaUnmap, Errno> {
        let mut r = Reader::new(payload);
        Ok(DmaUnmap {
            argsz: r.u32()?,
            flags: r.u32()?,
            address: r.u64()?,
            size: r.u64()?,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::SIZE);
        w.u32(self.argsz)
            .u32(self.flags)
            .u64(self.address)
            .u64(self.size);
        w.finish()
    }
}

/// DEVICE_GET_INFO payload (`struct vfio_device_info`, 16 bytes), request
/// and reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    pub argsz: u32,
    pub flags: u32,
    pub num_regions: u32,
    pub num_irqs: u32,
}

impl DeviceInfo {
    pub const SIZE: usize = 16;

    pub fn decode(payload: &[u8]) -> Result<DeviceInfo, Errno> {
        let mut r = Reader::new(payload);
        Ok(DeviceInfo {
            argsz: r.u32()?,
            flags: r.u32()?,
            num_regions: r.u32()?,
            num_irqs: r.u32()?,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::SIZE);
        w.u32(self.argsz)
            .u32(self.flags)
            .u32(self.num_regions)
            .u32(self.num_irqs);
        w.finish()
    }
}

/// DEVICE_GET_REGION_INFO payload (`struct vfio_region_info`, 32 bytes);
/// a reply may append capabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RegionInfo {
    pub argsz: u32,
    pub flags: u32,
    pub index: u32,
    /// Offset of the first capability from the start of this structure.
    pub cap_offset: u32,
    pub size: u64,
    /// The mmap offset, for mappable regions.
    pub offset: u64,
}

impl RegionInfo {
    pub const SIZE: usize = 32;

    pub fn decode(payload: &[u8]) -> Result<RegionInfo, Errno> {
        let mut r = Reader::new(payload);
        Ok(RegionInfo {
            argsz: r.u32()?,
            flags: r.u32()?,
            index: r.u32()?,
            cap_offset: r.u32()?,
            size: r.u64()?,
            offset: r.u64()?,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::SIZE);
        w.u32(self.argsz)
            .u32(self.flags)
            .u32(self.index)
            .u32(self.cap_offset);
        w.u64(self.size).u64(self.offset);
        w.finish()
    }
}

/// One area of a sparse-mmap capability: a mappable part of a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SparseArea {
    /// Offset within the region (added to the region's mmap offset).
    pub offset: u64,
    pub size: u64,
}

/// Encodes a `VFIO_REGION_INFO_CAP_SPARSE_MMAP` capability: its header
/// (`next` = 0, the end of the chain) and its areas.
pub fn encode_sparse_mmap_cap(areas: &[SparseArea]) -> Vec<u8> {
    let mut w = Writer::with_capacity(16 + 16 * areas.len());
    w.u16(CAP_SPARSE_MMAP).u16(CAP_SPARSE_MMAP_VERSION).u32(0);
    w.u32(areas.len() as u32).u32(0);
    for area in areas {
        w.u64(area.offset).u64(area.size);
    }
    w.finish()
}

/// Finds the sparse-mmap areas in a region-info reply (the 32-byte
/// structure followed by its capability chain), following `next` links
/// with a hop limit so a malicious chain cannot loop.
pub fn decode_sparse_mmap(reply: &[u8]) -> Result<Option<Vec<SparseArea>>, Errno> {
    let info = RegionInfo::decode(reply)?;
    if info.flags & region_flags::CAPS == 0 {
        return Ok(None);
    }
    let mut offset = info.cap_offset as usize;
    for _ in 0..16 {
        if offset < RegionInfo::SIZE {
            return Ok(None);
        }
        let mut r = Reader::new(reply.get(offset..).ok_or(Errno::EINVAL)?);
        let id = r.u16()?;
        let _version = r.u16()?;
        let next = r.u32()? as usize;
        if id == CAP_SPARSE_MMAP {
            let count = r.u32()?;
            let _reserved = r.u32()?;
            let mut areas = Vec::new();
            for _ in 0..count {
                areas.push(SparseArea {
                    offset: r.u64()?,
                    size: r.u64()?,
                });
            }
            return Ok(Some(areas));
        }
        offset = next;
    }
    Err(Errno::EINVAL)
}

/// DEVICE_GET_IRQ_INFO payload (`struct vfio_irq_info`, 16 bytes), request
/// and reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqInfo {
    pub argsz: u32,
    pub flags: u32,
    pub index: u32,
    pub count: u32,
}

impl IrqInfo {
    pub const SIZE: usize = 16;

    pub fn decode(payload: &[u8]) -> Result<IrqInfo, Errno> {
        let mut r = Reader::new(payload);
        Ok(IrqInfo {
            argsz: r.u32()?,
            flags: r.u32()?,
            index: r.u32()?,
            count: r.u32()?,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::SIZE);
        w.u32(self.argsz)
            .u32(self.flags)
            .u32(self.index)
            .u32(self.count);
        w.finish()
    }
}

/// DEVICE_SET_IRQS payload (`struct vfio_irq_set`, 20 bytes), followed by
/// one byte per vector for `DATA_BOOL`. Eventfds travel as `SCM_RIGHTS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqSet {
    pub argsz: u32,
    pub flags: u32,
    pub index: u32,
    pub start: u32,
    pub count: u32,
}

impl IrqSet {
    pub const SIZE: usize = 20;

    pub fn decode(payload: &[u8]) -> Result<IrqSet, Errno> {
        let mut r = Reader::new(payload);
        Ok(IrqSet {
            argsz: r.u32()?,
            flags: r.u32()?,
            index: r.u32()?,
            start: r.u32()?,
            count: r.u32()?,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::SIZE);
        w.u32(self.argsz)
            .u32(self.flags)
            .u32(self.index)
            .u32(self.start)
            .u32(self.count);
        w.finish()
    }
}

/// REGION_READ / REGION_WRITE payload head (16 bytes); data follows for
/// writes and read replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionAccess {
    pub offset: u64,
    pub region: u32,
    pub count: u32,
}

impl RegionAccess {
    pub const SIZE: usize = 16;

    pub fn decode(payload: &[u8]) -> Result<RegionAccess, Errno> {
        let mut r = Reader::new(payload);
        Ok(RegionAccess {
            offset: r.u64()?,
            region: r.u32()?,
            count: r.u32()?,
        })
    }

    pub fn encode(&self, data: &[u8]) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::SIZE + data.len());
        w.u64(self.offset)
            .u32(self.region)
            .u32(self.count)
            .put(data);
        w.finish()
    }
}

/// DMA_READ / DMA_WRITE payload head (16 bytes): the server's requests
/// and the client's replies; data follows in DMA_WRITE requests and
/// DMA_READ replies.
///
/// QEMU 11.1 follows the specification here (`count` is 64 bits, data at
/// payload offset 16); some older QEMU sources declared `count` as 32 bits,
/// which would put the data at offset 12 instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaAccess {
    pub address: u64,
    pub count: u64,
}

impl DmaAccess {
    pub const SIZE: usize = 16;

    /// Decodes the head and returns the data after it.
    pub fn decode(payload: &[u8]) -> Result<(DmaAccess, &[u8]), Errno> {
        let mut r = Reader::new(payload);
        let access = DmaAccess {
            address: r.u64()?,
            count: r.u64()?,
        };
        Ok((access, r.rest()))
    }

    pub fn encode(&self, data: &[u8]) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::SIZE + data.len());
        w.u64(self.address).u64(self.count).put(data);
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_through_its_16_byte_encoding() {
        let header = Header {
            id: 0x1234,
            command: 9,
            size: 40,
            flags: 0x21,
            error: 22,
        };
        let bytes = header.encode();
        assert_eq!(bytes[0..2], [0x34, 0x12]);
        assert_eq!(Header::decode(&bytes), header);
    }

    #[test]
    fn an_error_reply_is_a_bare_header_with_the_error_flag_and_errno() {
        let cmd = Header::command(7, command::REGION_READ, 16);
        let reply = cmd.error_reply(Errno::EINVAL);
        assert!(reply.is_reply() && reply.is_error());
        assert_eq!(
            (reply.id, reply.command, reply.size),
            (7, command::REGION_READ, 16)
        );
        assert_eq!(reply.error, libc::EINVAL as u32);
    }

    #[test]
    fn decoding_a_short_payload_fails_instead_of_panicking() {
        assert_eq!(DmaMap::decode(&[0u8; 31]), Err(Errno::EINVAL));
        assert_eq!(RegionAccess::decode(&[]), Err(Errno::EINVAL));
        assert_eq!(Version::decode(&[1]), Err(Errno::EINVAL));
    }

    #[test]
    fn version_json_stops_at_the_nul_and_tolerates_its_absence() {
        let mut payload = vec![0, 0, 0, 0];
        payload.extend_from_slice(b"{\"a\":1}\0garbage");
        assert_eq!(Version::decode(&payload).unwrap().capabilities, "{\"a\":1}");
        let unterminated = [0, 0, 0, 0, b'{', b'}'];
        assert_eq!(Version::decode(&unterminated).unwrap().capabilities, "{}");
    }

    #[test]
    fn sparse_mmap_capability_round_trips_inside_a_region_info_reply() {
        let areas = [
            SparseArea {
                offset: 0,
                size: 4096,
            },
            SparseArea {
                offset: 8192,
                size: 4096,
            },
        ];
        let cap = encode_sparse_mmap_cap(&areas);
        let info = RegionInfo {
            argsz: (RegionInfo::SIZE + cap.len()) as u32,
            flags: region_flags::CAPS,
            cap_offset: RegionInfo::SIZE as u32,
            ..Default::default()
        };
        let mut reply = info.encode();
        reply.extend_from_slice(&cap);
        assert_eq!(decode_sparse_mmap(&reply).unwrap().unwrap(), areas);
    }

    #[test]
    fn a_looping_capability_chain_is_refused() {
        let info = RegionInfo {
            flags: region_flags::CAPS,
            cap_offset: 32,
            ..Default::default()
        };
        let mut reply = info.encode();
        // id 99 (unknown), next = 32: points at itself.
        reply.extend_from_slice(&[99, 0, 1, 0, 32, 0, 0, 0]);
        assert_eq!(decode_sparse_mmap(&reply), Err(Errno::EINVAL));
    }

    #[test]
    fn dma_access_has_a_64_bit_count_and_data_at_offset_16() {
        let payload = DmaAccess {
            address: 0x1000,
            count: 4,
        }
        .encode(b"abcd");
        assert_eq!(&payload[8..16], &4u64.to_le_bytes());
        assert_eq!(&payload[16..], b"abcd");
        let (access, data) = DmaAccess::decode(&payload).unwrap();
        assert_eq!(
            (access, data),
            (
                DmaAccess {
                    address: 0x1000,
                    count: 4
                },
                &b"abcd"[..]
            )
        );
    }
}
