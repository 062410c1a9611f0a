//! The ABI as user space and the kernel see it: numbers, layouts, validation.

use core::mem::align_of;
use core::mem::offset_of;
use core::mem::size_of;
use rsio_uapi::lend::*;
use rsio_uapi::nvme_share::*;
use rsio_uapi::*;
use std::collections::BTreeMap;

const V1: ArgLayout = RsioVersion::LAYOUT;

fn header(size: usize, flags: u32) -> ArgHeader {
    ArgHeader {
        size: size as u32,
        flags,
    }
}

#[test]
fn version_ioctl_number_matches_linux_iowr_encoding() {
    // _IOWR(0xD1, 0x00, 128 bytes) = dir 3 << 30 | size 128 << 16 | type 0xD1 << 8 | nr 0.
    assert_eq!(RSIO_IOC_VERSION, 0xC080_D100);
    assert_eq!(ioc_dir(RSIO_IOC_VERSION), IOC_READ | IOC_WRITE);
    assert_eq!(ioc_type(RSIO_IOC_VERSION), RSIO_IOC_MAGIC);
    assert_eq!(ioc_nr(RSIO_IOC_VERSION), 0);
    assert_eq!(ioc_size(RSIO_IOC_VERSION), 128);
}

#[test]
fn a_current_caller_is_accepted_and_copies_the_whole_struct() {
    let r = check_arg(RSIO_IOC_VERSION, header(128, 0), V1, |_| unreachable!());
    assert_eq!(r, Ok(128));
}

#[test]
fn a_size_field_that_disagrees_with_the_ioctl_number_is_einval() {
    let r = check_arg(RSIO_IOC_VERSION, header(120, 0), V1, |_| true);
    assert_eq!(r, Err(ArgError::SizeMismatch));
    assert_eq!(ArgError::SizeMismatch.errno(), 22);
}

#[test]
fn a_struct_smaller_than_the_first_version_is_einval() {
    let cmd = rsio_iowr(0x00, 64);
    assert_eq!(
        check_arg(cmd, header(64, 0), V1, |_| true),
        Err(ArgError::TooSmall)
    );
}

#[test]
fn a_newer_callers_zero_tail_is_accepted_and_ignored() {
    let cmd = rsio_iowr(0x00, 160);
    assert_eq!(check_arg(cmd, header(160, 0), V1, |n| n == 32), Ok(128));
}

#[test]
fn a_newer_callers_non_zero_tail_is_e2big() {
    let cmd = rsio_iowr(0x00, 160);
    let r = check_arg(cmd, header(160, 0), V1, |_| false);
    assert_eq!(r, Err(ArgError::UnknownTrailingBytes));
    assert_eq!(ArgError::UnknownTrailingBytes.errno(), 7);
}

#[test]
fn a_struct_beyond_the_abi_maximum_is_e2big() {
    let cmd = rsio_iowr(0x00, RSIO_MAX_ARG_SIZE + 8);
    let r = check_arg(cmd, header(RSIO_MAX_ARG_SIZE + 8, 0), V1, |_| true);
    assert_eq!(r, Err(ArgError::TooLarge));
}

#[test]
fn undefined_flags_are_einval() {
    let r = check_arg(RSIO_IOC_VERSION, header(128, 1), V1, |_| true);
    assert_eq!(r, Err(ArgError::UnknownFlags));
}

#[test]
fn a_version_request_carries_its_own_size_and_no_flags() {
    let r = RsioVersion::request();
    assert_eq!(r.header, header(128, 0));
    assert_eq!(
        check_arg(RSIO_IOC_VERSION, r.header, V1, |_| false),
        Ok(128)
    );
}

#[test]
fn strings_are_nul_terminated_and_truncated_to_fit() {
    let mut buf = [0xffu8; 8];
    copy_cstr(&mut buf, b"0.1.0");
    assert_eq!(&buf, b"0.1.0\0\0\0");
    copy_cstr(&mut buf, b"a-very-long-release");
    assert_eq!(&buf, b"a-very-\0");
    assert_eq!(cstr_bytes(&buf), b"a-very-");
    assert_eq!(cstr_bytes(b"full"), b"full");
}

// --- The fabric core's ioctls.

/// Every fabric ioctl: its number, name, `_IOC_NR` and argument size.
const FABRIC_IOCTLS: [(u32, &str, u32, usize); 9] = [
    (RSIO_IOC_STATUS, "STATUS", 0x01, size_of::<RsioStatus>()),
    (RSIO_IOC_NODES, "NODES", 0x02, size_of::<RsioList>()),
    (RSIO_IOC_WINDOWS, "WINDOWS", 0x03, size_of::<RsioList>()),
    (RSIO_IOC_PING, "PING", 0x04, size_of::<RsioPing>()),
    (RSIO_IOC_GRANT, "GRANT", 0x05, size_of::<RsioGrant>()),
    (RSIO_IOC_REVOKE, "REVOKE", 0x06, size_of::<RsioId>()),
    (RSIO_IOC_MAP, "MAP", 0x07, size_of::<RsioMap>()),
    (RSIO_IOC_UNMAP, "UNMAP", 0x08, size_of::<RsioId>()),
    (
        RSIO_IOC_WINDOW_IO,
        "WINDOW_IO",
        0x09,
        size_of::<RsioWindowIo>(),
    ),
];

#[test]
fn fabric_ioctl_numbers_decode_to_their_nr_size_and_read_write_direction() {
    for (cmd, name, nr, size) in FABRIC_IOCTLS {
        assert_eq!(ioc_dir(cmd), IOC_READ | IOC_WRITE, "{name} direction");
        assert_eq!(ioc_type(cmd), RSIO_IOC_MAGIC, "{name} type");
        assert_eq!(ioc_nr(cmd), nr, "{name} nr");
        assert_eq!(ioc_size(cmd), size, "{name} size");
    }
}

#[test]
fn fabric_ioctl_numbers_are_the_published_values() {
    // Spelled out so that a layout change cannot silently renumber an ioctl.
    assert_eq!(RSIO_IOC_STATUS, 0xC0D0_D101);
    assert_eq!(RSIO_IOC_NODES, 0xC020_D102);
    assert_eq!(RSIO_IOC_WINDOWS, 0xC020_D103);
    assert_eq!(RSIO_IOC_PING, 0xC030_D104);
    assert_eq!(RSIO_IOC_GRANT, 0xC028_D105);
    assert_eq!(RSIO_IOC_REVOKE, 0xC010_D106);
    assert_eq!(RSIO_IOC_MAP, 0xC028_D107);
    assert_eq!(RSIO_IOC_UNMAP, 0xC010_D108);
    assert_eq!(RSIO_IOC_WINDOW_IO, 0xC028_D109);
}

#[test]
fn every_ioctl_has_its_own_number() {
    let mut nrs: Vec<u32> = FABRIC_IOCTLS.iter().map(|i| ioc_nr(i.0)).collect();
    nrs.push(ioc_nr(RSIO_IOC_VERSION));
    let n = nrs.len();
    nrs.sort_unstable();
    nrs.dedup();
    assert_eq!(nrs.len(), n);
}

#[test]
fn fabric_structs_have_their_first_version_sizes_and_8_byte_alignment() {
    assert_eq!(size_of::<RsioStatus>(), 208);
    assert_eq!(size_of::<RsioList>(), 32);
    assert_eq!(size_of::<RsioNodeEntry>(), 120);
    assert_eq!(size_of::<RsioWindowEntry>(), 56);
    assert_eq!(size_of::<RsioPing>(), 48);
    assert_eq!(size_of::<RsioGrant>(), 40);
    assert_eq!(size_of::<RsioId>(), 16);
    assert_eq!(size_of::<RsioMap>(), 40);
    assert_eq!(size_of::<RsioWindowIo>(), 40);
    for align in [
        align_of::<RsioStatus>(),
        align_of::<RsioList>(),
        align_of::<RsioNodeEntry>(),
        align_of::<RsioWindowEntry>(),
        align_of::<RsioPing>(),
        align_of::<RsioGrant>(),
        align_of::<RsioMap>(),
        align_of::<RsioWindowIo>(),
    ] {
        assert_eq!(align, 8);
    }
    assert_eq!(align_of::<RsioId>(), 4);
}

#[test]
fn u64_fields_sit_at_8_byte_offsets_so_32_bit_callers_agree() {
    // i386 aligns u64 to 4 in structs: explicit padding keeps layouts equal.
    let offsets = [
        offset_of!(RsioStatus, msgs_tx),
        offset_of!(RsioList, entries),
        offset_of!(RsioNodeEntry, up_ms),
        offset_of!(RsioWindowEntry, fabric_addr),
        offset_of!(RsioPing, rtt_min_ns),
        offset_of!(RsioGrant, len),
        offset_of!(RsioMap, fabric_addr),
        offset_of!(RsioWindowIo, offset),
    ];
    for o in offsets {
        assert_eq!(o % 8, 0);
    }
}

#[test]
fn requests_carry_their_own_size_and_no_flags() {
    fn check<T: Request>(header: impl Fn(&T) -> ArgHeader) {
        let r = T::request();
        assert_eq!(
            header(&r),
            ArgHeader {
                size: size_of::<T>() as u32,
                flags: 0
            }
        );
    }
    check::<RsioStatus>(|r| r.header);
    check::<RsioList>(|r| r.header);
    check::<RsioPing>(|r| r.header);
    check::<RsioGrant>(|r| r.header);
    check::<RsioId>(|r| r.header);
    check::<RsioMap>(|r| r.header);
    check::<RsioWindowIo>(|r| r.header);
}

#[test]
fn requests_are_otherwise_zero() {
    let r = RsioStatus::request();
    assert_eq!(r.node_name, [0; RSIO_NAME_LEN]);
    assert_eq!(r.msgs_tx, 0);
    let l = RsioList::request();
    assert_eq!(
        (l.entries, l.capacity, l.entry_size, l.count, l.reserved),
        (0, 0, 0, 0, 0)
    );
    let io = RsioWindowIo::request();
    assert_eq!(
        (io.id, io.reserved, io.offset, io.len, io.buf),
        (0, 0, 0, 0, 0)
    );
}

#[test]
fn each_request_passes_the_kernels_argument_check() {
    fn ok<T: Request>(cmd: u32, layout: ArgLayout, header: impl Fn(&T) -> ArgHeader) {
        let r = T::request();
        let size = size_of::<T>();
        assert_eq!(check_arg(cmd, header(&r), layout, |_| false), Ok(size));
    }
    ok::<RsioStatus>(RSIO_IOC_STATUS, RsioStatus::LAYOUT, |r| r.header);
    ok::<RsioList>(RSIO_IOC_NODES, RsioList::LAYOUT, |r| r.header);
    ok::<RsioList>(RSIO_IOC_WINDOWS, RsioList::LAYOUT, |r| r.header);
    ok::<RsioPing>(RSIO_IOC_PING, RsioPing::LAYOUT, |r| r.header);
    ok::<RsioGrant>(RSIO_IOC_GRANT, RsioGrant::LAYOUT, |r| r.header);
    ok::<RsioId>(RSIO_IOC_REVOKE, RsioId::LAYOUT, |r| r.header);
    ok::<RsioMap>(RSIO_IOC_MAP, RsioMap::LAYOUT, |r| r.header);
    ok::<RsioId>(RSIO_IOC_UNMAP, RsioId::LAYOUT, |r| r.header);
    ok::<RsioWindowIo>(RSIO_IOC_WINDOW_IO, RsioWindowIo::LAYOUT, |r| r.header);
}

#[test]
fn window_io_accepts_the_write_flag_and_refuses_others() {
    let l = RsioWindowIo::LAYOUT;
    let cmd = RSIO_IOC_WINDOW_IO;
    assert_eq!(
        check_arg(cmd, header(40, RSIO_IO_WRITE), l, |_| false),
        Ok(40)
    );
    assert_eq!(
        check_arg(cmd, header(40, 1 << 1), l, |_| false),
        Err(ArgError::UnknownFlags)
    );
}

#[test]
fn ioctls_without_flags_refuse_every_flag() {
    let r = check_arg(
        RSIO_IOC_GRANT,
        header(40, RSIO_IO_WRITE),
        RsioGrant::LAYOUT,
        |_| false,
    );
    assert_eq!(r, Err(ArgError::UnknownFlags));
}

fn list(capacity: u32, entry_size: usize) -> RsioList {
    let mut l = RsioList::request();
    l.capacity = capacity;
    l.entry_size = entry_size as u32;
    l
}

const NODE_MIN: usize = RSIO_NODE_ENTRY_SIZE_V1;
const NODE_KNOWN: usize = size_of::<RsioNodeEntry>();

#[test]
fn a_list_of_current_entries_writes_whole_entries() {
    let r = check_entry_size(&list(16, NODE_KNOWN), NODE_MIN, NODE_KNOWN);
    assert_eq!(r, Ok(NODE_KNOWN));
}

#[test]
fn a_sizing_call_with_no_room_is_accepted() {
    let r = check_entry_size(&list(0, NODE_KNOWN), NODE_MIN, NODE_KNOWN);
    assert_eq!(r, Ok(NODE_KNOWN));
}

#[test]
fn a_newer_callers_larger_entries_get_what_the_kernel_knows() {
    let r = check_entry_size(&list(4, NODE_KNOWN + 64), NODE_MIN, NODE_KNOWN);
    assert_eq!(r, Ok(NODE_KNOWN));
}

#[test]
fn entries_smaller_than_the_first_version_are_einval() {
    let r = check_entry_size(&list(4, NODE_MIN - 8), NODE_MIN, NODE_KNOWN);
    assert_eq!(r, Err(ArgError::TooSmall));
    assert_eq!(ArgError::TooSmall.errno(), 22);
}

#[test]
fn entries_beyond_the_abi_maximum_are_e2big() {
    let r = check_entry_size(&list(4, RSIO_MAX_ARG_SIZE + 1), NODE_MIN, NODE_KNOWN);
    assert_eq!(r, Err(ArgError::TooLarge));
    assert_eq!(ArgError::TooLarge.errno(), 7);
    let r = check_entry_size(&list(4, RSIO_MAX_ARG_SIZE), NODE_MIN, NODE_KNOWN);
    assert_eq!(r, Ok(NODE_KNOWN));
}

#[test]
fn a_capacity_beyond_the_list_maximum_is_e2big() {
    let r = check_entry_size(&list(RSIO_MAX_LIST + 1, NODE_KNOWN), NODE_MIN, NODE_KNOWN);
    assert_eq!(r, Err(ArgError::TooLarge));
    let r = check_entry_size(&list(RSIO_MAX_LIST, NODE_KNOWN), NODE_MIN, NODE_KNOWN);
    assert_eq!(r, Ok(NODE_KNOWN));
}

#[test]
fn a_list_with_a_non_zero_reserved_field_is_einval() {
    let mut l = list(4, NODE_KNOWN);
    l.reserved = 1;
    assert_eq!(
        check_entry_size(&l, NODE_MIN, NODE_KNOWN),
        Err(ArgError::ReservedNotZero)
    );
    assert_eq!(ArgError::ReservedNotZero.errno(), 22);
}

#[test]
fn window_entries_are_checked_against_their_own_first_version() {
    let known = size_of::<RsioWindowEntry>();
    let min = RSIO_WINDOW_ENTRY_SIZE_V1;
    assert_eq!(check_entry_size(&list(8, known), min, known), Ok(known));
    assert_eq!(
        check_entry_size(&list(8, min - 4), min, known),
        Err(ArgError::TooSmall)
    );
}

#[test]
fn node_states_window_kinds_and_transports_are_distinct() {
    let states = [
        RSIO_NODE_SELF,
        RSIO_NODE_DOWN,
        RSIO_NODE_HELLO,
        RSIO_NODE_UP,
        RSIO_NODE_DEAD,
    ];
    // 0 is no state: a zeroed entry is invalid.
    assert_eq!(states, [5, 1, 2, 3, 4]);
    let kinds = [RSIO_WINDOW_MAP, RSIO_WINDOW_GRANT, RSIO_WINDOW_MAILBOX];
    assert_eq!(kinds, [1, 2, 3]);
    let transports = [
        RSIO_TRANSPORT_NONE,
        RSIO_TRANSPORT_ADAPTER,
        RSIO_TRANSPORT_NTB,
    ];
    assert_eq!(transports, [0, 1, 2]);
}

#[test]
fn limits_fit_the_fields_that_carry_them() {
    const {
        assert!(RSIO_MAX_NODES <= 32, "node masks are u32");
        assert!(RSIO_MAX_WINDOW_SIZE.is_multiple_of(RSIO_WINDOW_ALIGN));
        assert!(RSIO_MAX_IO <= RSIO_MAX_WINDOW_SIZE);
        assert!(RSIO_DEFAULT_TIMEOUT_MS <= RSIO_MAX_TIMEOUT_MS);
        assert!(RSIO_PING_MAX_PAYLOAD as usize <= RSIO_MAX_ARG_SIZE);
    }
}

// --- rsio_nvme_share's feature ioctls (uapi/src/nvme_share.rs).

/// Every NVMe-share ioctl: its number, name, `_IOC_NR` and argument size.
const NVME_IOCTLS: [(u32, &str, u32, usize); 7] = [
    (NVME_IOC_SHARE, "SHARE", 0x70, size_of::<NvmeShare>()),
    (NVME_IOC_UNSHARE, "UNSHARE", 0x71, size_of::<NvmeShare>()),
    (NVME_IOC_LIST, "LIST", 0x72, size_of::<RsioList>()),
    (NVME_IOC_LIST_NS, "LIST_NS", 0x73, size_of::<RsioList>()),
    (
        NVME_IOC_LIST_CLIENTS,
        "LIST_CLIENTS",
        0x74,
        size_of::<RsioList>(),
    ),
    (NVME_IOC_ATTACH, "ATTACH", 0x75, size_of::<NvmeAttach>()),
    (NVME_IOC_DETACH, "DETACH", 0x76, size_of::<NvmeAttach>()),
];

#[test]
fn nvme_ioctl_numbers_decode_to_their_nr_size_and_read_write_direction() {
    for (cmd, name, nr, size) in NVME_IOCTLS {
        assert_eq!(ioc_dir(cmd), IOC_READ | IOC_WRITE, "{name} direction");
        assert_eq!(ioc_type(cmd), RSIO_IOC_MAGIC, "{name} type");
        assert_eq!(ioc_nr(cmd), nr, "{name} nr");
        assert_eq!(ioc_size(cmd), size, "{name} size");
    }
}

#[test]
fn nvme_ioctl_numbers_are_the_published_values() {
    assert_eq!(NVME_IOC_SHARE, 0xC120_D170);
    assert_eq!(NVME_IOC_UNSHARE, 0xC120_D171);
    assert_eq!(NVME_IOC_LIST, 0xC020_D172);
    assert_eq!(NVME_IOC_LIST_NS, 0xC020_D173);
    assert_eq!(NVME_IOC_LIST_CLIENTS, 0xC020_D174);
    assert_eq!(NVME_IOC_ATTACH, 0xC028_D175);
    assert_eq!(NVME_IOC_DETACH, 0xC028_D176);
}

#[test]
fn nvme_ioctls_lie_in_their_own_range_inside_the_feature_range() {
    let range = NVME_IOC_FIRST_NR..NVME_IOC_FIRST_NR + NVME_IOC_COUNT;
    // The fabric core's feature ioctls are 0x40..0x100 (docs/abi.md).
    assert!(range.start >= 0x40 && range.end <= 0x100, "{range:?}");
    let mut nrs: Vec<u32> = NVME_IOCTLS.iter().map(|i| ioc_nr(i.0)).collect();
    for nr in &nrs {
        assert!(range.contains(nr), "{nr:#x} outside {range:?}");
    }
    let fabric: Vec<u32> = FABRIC_IOCTLS.iter().map(|i| ioc_nr(i.0)).collect();
    assert!(nrs.iter().all(|nr| !fabric.contains(nr)));
    let n = nrs.len();
    nrs.sort_unstable();
    nrs.dedup();
    assert_eq!(nrs.len(), n, "every NVMe ioctl has its own number");
}

#[test]
fn nvme_structs_have_their_first_version_sizes_and_alignment() {
    assert_eq!(size_of::<NvmePolicy>(), 16);
    assert_eq!(size_of::<NvmeShare>(), NVME_SHARE_SIZE_V1);
    assert_eq!(size_of::<NvmeCtrlEntry>(), NVME_CTRL_ENTRY_SIZE_V1);
    assert_eq!(size_of::<NvmeNsEntry>(), NVME_NS_ENTRY_SIZE_V1);
    assert_eq!(size_of::<NvmeClientEntry>(), NVME_CLIENT_ENTRY_SIZE_V1);
    assert_eq!(size_of::<NvmeAttach>(), NVME_ATTACH_SIZE_V1);
    // No u64: 4-byte aligned, the same for 32- and 64-bit callers.
    for align in [
        align_of::<NvmePolicy>(),
        align_of::<NvmeShare>(),
        align_of::<NvmeCtrlEntry>(),
        align_of::<NvmeAttach>(),
    ] {
        assert_eq!(align, 4);
    }
    assert_eq!(align_of::<NvmeNsEntry>(), 8);
    assert_eq!(align_of::<NvmeClientEntry>(), 8);
    // Elements of a list array follow each other without padding.
    assert_eq!(size_of::<NvmeNsEntry>() % 8, 0);
    assert_eq!(size_of::<NvmeClientEntry>() % 8, 0);
}

#[test]
fn nvme_u64_fields_sit_at_8_byte_offsets_so_32_bit_callers_agree() {
    for o in [
        offset_of!(NvmeNsEntry, nsze),
        offset_of!(NvmeClientEntry, qids),
        offset_of!(NvmeClientEntry, completed),
    ] {
        assert_eq!(o % 8, 0);
    }
}

#[test]
fn nvme_values_are_distinct_and_fit_their_fields() {
    let states = [
        NVME_CTRL_READY,
        NVME_CTRL_RESETTING,
        NVME_CTRL_FAILED,
        NVME_CTRL_GONE,
    ];
    // 0 is no state: a zeroed entry is invalid.
    assert_eq!(states, [1, 2, 3, 4]);
    let flags = [
        NVME_CTRL_MANAGED_HERE,
        NVME_CTRL_ATTACHED_HERE,
        NVME_CTRL_IOMMU,
    ];
    assert_eq!(flags.iter().fold(0, |a, f| a | f), 0b111);
    assert_eq!(
        [NVME_ACCESS_NONE, NVME_ACCESS_RO, NVME_ACCESS_RW],
        [0, 1, 2]
    );
    assert_eq!([NVME_POLICY_SHARED, NVME_POLICY_ASSIGNED], [0, 1]);
    const {
        // `qids` is a u64: bit q - 1 for queue pair q.
        assert!(NVME_MAX_CLIENT_QPAIRS <= 64);
        assert!(NVME_MAX_POLICIES as u32 <= NVME_MAX_NAMESPACES);
        assert!(NVME_SHARE_SIZE_V1 <= RSIO_MAX_ARG_SIZE);
    }
}

// --- rsio_lend's ioctls (uapi/src/lend.rs, on /dev/rsio_lend).

/// Every lending ioctl: its number, name, `_IOC_NR` and argument size.
const LEND_IOCTLS: [(u32, &str, u32, usize); 9] = [
    (LEND_IOC_LEND, "LEND", 0x60, size_of::<LendBdf>()),
    (LEND_IOC_UNLEND, "UNLEND", 0x61, size_of::<LendBdf>()),
    (LEND_IOC_LIST, "LIST", 0x62, size_of::<RsioList>()),
    (LEND_IOC_BORROW, "BORROW", 0x63, size_of::<LendBorrow>()),
    (LEND_IOC_RETURN, "RETURN", 0x64, size_of::<LendBorrow>()),
    (LEND_IOC_P2P, "P2P", 0x65, size_of::<LendP2p>()),
    (LEND_IOC_SCAN, "SCAN", 0x66, size_of::<RsioList>()),
    (LEND_IOC_ATTACH, "ATTACH", 0x67, size_of::<LendBorrow>()),
    (LEND_IOC_DETACH, "DETACH", 0x68, size_of::<LendBorrow>()),
];

#[test]
fn lend_ioctl_numbers_decode_and_are_the_published_values() {
    for (cmd, name, nr, size) in LEND_IOCTLS {
        assert_eq!(ioc_dir(cmd), IOC_READ | IOC_WRITE, "{name} direction");
        assert_eq!(ioc_type(cmd), RSIO_IOC_MAGIC, "{name} type");
        assert_eq!(ioc_nr(cmd), nr, "{name} nr");
        assert_eq!(ioc_size(cmd), size, "{name} size");
    }
    assert_eq!(LEND_IOC_LEND, 0xC018_D160);
    assert_eq!(LEND_IOC_LIST, 0xC020_D162);
    assert_eq!(LEND_IOC_BORROW, 0xC028_D163);
    assert_eq!(LEND_IOC_P2P, 0xC030_D165);
    assert_eq!(LEND_IOC_SCAN, 0xC020_D166);
    assert_eq!(LEND_IOC_ATTACH, 0xC028_D167);
    assert_eq!(LEND_IOC_DETACH, 0xC028_D168);
}

#[test]
fn lend_structs_have_their_sizes_and_8_byte_u64_offsets() {
    assert_eq!(size_of::<LendChassisEntry>(), LEND_CHASSIS_ENTRY_SIZE_V1);
    assert_eq!(size_of::<LendDevEntry>(), LEND_DEV_ENTRY_SIZE_V2);
    for o in [
        offset_of!(LendChassisEntry, bar_size),
        offset_of!(LendDevEntry, bar_size),
        offset_of!(LendBorrow, dma_offset),
        offset_of!(LendP2p, dev_addr),
    ] {
        assert_eq!(o % 8, 0);
    }
    // Elements of a list array follow each other without padding.
    assert_eq!(size_of::<LendChassisEntry>() % 8, 0);
    // ATTACH and DETACH take BORROW's struct and flags.
    let l = LendBorrow::LAYOUT;
    assert_eq!(
        check_arg(LEND_IOC_ATTACH, header(40, 0), l, |_| false),
        Ok(40)
    );
    assert_eq!(
        check_arg(LEND_IOC_DETACH, header(40, LEND_RETURN_FORCE), l, |_| false),
        Ok(40)
    );
    assert_eq!(
        check_arg(LEND_IOC_DETACH, header(40, 2), l, |_| false),
        Err(ArgError::UnknownFlags)
    );
    // No node can hold a chassis function under the "nobody" id.
    const { assert!(RSIO_MAX_NODES <= 32 && LEND_HOLDER_NONE == u32::MAX) };
}

// --- The C header.

/// One value both views must agree on: a C expression, the printf format
/// that prints it, and the Rust value printed the same way.
struct Check {
    c_expr: String,
    format: &'static str,
    rust: String,
}

fn number(c_expr: impl Into<String>, rust: u64) -> Check {
    Check {
        c_expr: c_expr.into(),
        format: "%llu",
        rust: rust.to_string(),
    }
}

/// The size, alignment and every field's offset of a struct, as C and
/// Rust see them. The destructuring pattern makes the test fail to build
/// when a Rust field is not listed.
macro_rules! layout {
    ($checks:ident, $rust:ident, $c:literal, [$($field:ident),* $(,)?]) => {{
        #[allow(dead_code)]
        fn every_field_is_listed(v: $rust) {
            let $rust { $($field: _),* } = v;
        }
        $checks.push(number(concat!("sizeof(struct ", $c, ")"), size_of::<$rust>() as u64));
        $checks.push(number(concat!("_Alignof(struct ", $c, ")"), align_of::<$rust>() as u64));
        $(
            $checks.push(number(
                concat!("offsetof(struct ", $c, ", ", stringify!($field), ")"),
                offset_of!($rust, $field) as u64,
            ));
        )*
    }};
}

/// Constants and ioctl numbers: the C macro has the Rust constant's name.
macro_rules! constants {
    ($checks:ident, [$($name:ident),* $(,)?]) => {
        $( $checks.push(number(stringify!($name), $name as u64)); )*
    };
}

/// Constants of a feature's module (`rsio_uapi::nvme_share`): the C macro
/// is the Rust constant's name with the header's `RSIO_` prefix.
macro_rules! prefixed_constants {
    ($checks:ident, [$($name:ident),* $(,)?]) => {
        $( $checks.push(number(concat!("RSIO_", stringify!($name)), $name as u64)); )*
    };
}

fn checks() -> Vec<Check> {
    let mut c = Vec::new();
    layout!(c, ArgHeader, "rsio_arg_header", [size, flags]);
    layout!(
        c,
        RsioVersion,
        "rsio_version",
        [
            header,
            abi_major,
            abi_minor,
            features,
            release,
            kernel_release
        ]
    );
    layout!(
        c,
        RsioStatus,
        "rsio_status",
        [
            header,
            transport,
            node_id,
            num_nodes,
            link_mask,
            up_mask,
            proto_version,
            caps,
            heartbeat_ms,
            dead_after_ms,
            lut_total,
            lut_used,
            inbound_total,
            inbound_used,
            reserved,
            msgs_tx,
            msgs_rx,
            msgs_bad,
            timeouts,
            refused,
            errors,
            adapter,
            node_name,
        ]
    );
    layout!(
        c,
        RsioList,
        "rsio_list",
        [header, entries, capacity, entry_size, count, reserved]
    );
    layout!(
        c,
        RsioNodeEntry,
        "rsio_node_entry",
        [
            node_id,
            state,
            link_up,
            proto_version,
            caps,
            up_count,
            up_ms,
            last_heard_ms,
            msgs_tx,
            msgs_rx,
            name,
        ]
    );
    layout!(
        c,
        RsioWindowEntry,
        "rsio_window_entry",
        [
            id,
            kind,
            node,
            peers,
            refcount,
            owner_pid,
            fabric_addr,
            size,
            bus_addr,
            hw_index,
            hw_count,
        ]
    );
    layout!(
        c,
        RsioPing,
        "rsio_ping",
        [
            header,
            node,
            count,
            payload_len,
            timeout_ms,
            rtt_min_ns,
            rtt_avg_ns,
            rtt_max_ns,
        ]
    );
    layout!(
        c,
        RsioGrant,
        "rsio_grant",
        [header, peers, id, len, fabric_addr, bus_addr]
    );
    layout!(c, RsioId, "rsio_id", [header, id, reserved]);
    layout!(
        c,
        RsioMap,
        "rsio_map",
        [header, node, id, fabric_addr, len, bus_addr]
    );
    layout!(
        c,
        RsioWindowIo,
        "rsio_window_io",
        [header, id, reserved, offset, len, buf]
    );
    constants!(
        c,
        [
            RSIO_IOC_MAGIC,
            RSIO_ABI_MAJOR,
            RSIO_ABI_MINOR,
            RSIO_MAX_ARG_SIZE,
            RSIO_FEATURE_FABRIC,
            RSIO_RELEASE_LEN,
            RSIO_KERNEL_RELEASE_LEN,
            RSIO_VERSION_SIZE_V1,
            RSIO_IOC_VERSION,
            RSIO_NAME_LEN,
            RSIO_ADAPTER_NAME_LEN,
            RSIO_MAX_NODES,
            RSIO_TRANSPORT_NONE,
            RSIO_TRANSPORT_ADAPTER,
            RSIO_TRANSPORT_NTB,
            RSIO_STATUS_SIZE_V1,
            RSIO_LIST_SIZE_V1,
            RSIO_MAX_LIST,
            RSIO_NODE_SELF,
            RSIO_NODE_DOWN,
            RSIO_NODE_HELLO,
            RSIO_NODE_UP,
            RSIO_NODE_DEAD,
            RSIO_PEER_CAP_GRANTS,
            RSIO_NODE_ENTRY_SIZE_V1,
            RSIO_WINDOW_MAP,
            RSIO_WINDOW_GRANT,
            RSIO_WINDOW_MAILBOX,
            RSIO_WINDOW_ENTRY_SIZE_V1,
            RSIO_PING_MAX_PAYLOAD,
            RSIO_PING_MAX_COUNT,
            RSIO_MAX_TIMEOUT_MS,
            RSIO_DEFAULT_TIMEOUT_MS,
            RSIO_PING_SIZE_V1,
            RSIO_MAX_WINDOW_SIZE,
            RSIO_WINDOW_ALIGN,
            RSIO_GRANT_SIZE_V1,
            RSIO_ID_SIZE_V1,
            RSIO_MAP_SIZE_V1,
            RSIO_IO_WRITE,
            RSIO_MAX_IO,
            RSIO_WINDOW_IO_SIZE_V1,
            RSIO_IOC_STATUS,
            RSIO_IOC_NODES,
            RSIO_IOC_WINDOWS,
            RSIO_IOC_PING,
            RSIO_IOC_GRANT,
            RSIO_IOC_REVOKE,
            RSIO_IOC_MAP,
            RSIO_IOC_UNMAP,
            RSIO_IOC_WINDOW_IO,
        ]
    );
    layout!(c, NvmePolicy, "rsio_nvme_policy", [nsid, kind, node, flags]);
    layout!(
        c,
        NvmeShare,
        "rsio_nvme_share",
        [
            header,
            domain,
            bus,
            devfn,
            qpairs_per_client,
            n_policies,
            ctrl,
            policies,
        ]
    );
    layout!(
        c,
        NvmeCtrlEntry,
        "rsio_nvme_ctrl_entry",
        [
            node,
            ctrl,
            domain,
            bus,
            devfn,
            state,
            flags,
            generation,
            qpairs_total,
            qpairs_free,
            quota,
            namespaces,
            clients,
            msgs_bad,
            msgs_refused,
            reserved,
            serial,
            model,
        ]
    );
    layout!(
        c,
        NvmeNsEntry,
        "rsio_nvme_ns_entry",
        [
            ctrl,
            nsid,
            nsze,
            lbads,
            policy,
            policy_node,
            policy_flags,
            access,
            reserved,
            disk,
        ]
    );
    layout!(
        c,
        NvmeClientEntry,
        "rsio_nvme_client_entry",
        [ctrl, client, attach, qpairs, qids, created, vectors, completed, bad_cqes, reserved,]
    );
    layout!(
        c,
        NvmeAttach,
        "rsio_nvme_attach",
        [header, node, ctrl, qpairs, nsid, attach, granted, disks, reserved]
    );
    prefixed_constants!(
        c,
        [
            NVME_IOC_FIRST_NR,
            NVME_IOC_COUNT,
            NVME_MAX_POLICIES,
            NVME_MAX_NAMESPACES,
            NVME_MAX_CLIENT_QPAIRS,
            NVME_POLICY_SHARED,
            NVME_POLICY_ASSIGNED,
            NVME_POLICY_RO,
            NVME_SHARE_SIZE_V1,
            NVME_SHARE_FORCE,
            NVME_CTRL_READY,
            NVME_CTRL_RESETTING,
            NVME_CTRL_FAILED,
            NVME_CTRL_GONE,
            NVME_CTRL_MANAGED_HERE,
            NVME_CTRL_ATTACHED_HERE,
            NVME_CTRL_IOMMU,
            NVME_SERIAL_LEN,
            NVME_MODEL_LEN,
            NVME_CTRL_ENTRY_SIZE_V1,
            NVME_ACCESS_NONE,
            NVME_ACCESS_RO,
            NVME_ACCESS_RW,
            NVME_DISK_NAME_LEN,
            NVME_NS_ENTRY_SIZE_V1,
            NVME_CLIENT_ENTRY_SIZE_V1,
            NVME_ATTACH_SIZE_V1,
            NVME_ATTACH_RO,
            NVME_DETACH_FORCE,
            NVME_IOC_SHARE,
            NVME_IOC_UNSHARE,
            NVME_IOC_LIST,
            NVME_IOC_LIST_NS,
            NVME_IOC_LIST_CLIENTS,
            NVME_IOC_ATTACH,
            NVME_IOC_DETACH,
        ]
    );
    layout!(
        c,
        LendBdf,
        "rsio_lend_bdf",
        [header, domain, bus, devfn, fdid]
    );
    layout!(
        c,
        LendDevEntry,
        "rsio_lend_dev_entry",
        [
            node,
            fdid,
            state,
            domain,
            bus,
            devfn,
            vendor,
            device,
            subsystem_vendor,
            subsystem_device,
            class,
            revision,
            bar_size,
            bar_flags,
            sriov_total_vfs,
            dev_flags,
        ]
    );
    layout!(
        c,
        LendBorrow,
        "rsio_lend_borrow",
        [header, node, fdid, domain, bus, devfn, reserved, dma_offset]
    );
    layout!(
        c,
        LendP2p,
        "rsio_lend_p2p",
        [header, from_node, from_fdid, to_node, to_fdid, bar, reserved, dev_addr, size]
    );
    layout!(
        c,
        LendChassisEntry,
        "rsio_lend_chassis_entry",
        [
            node,
            fdid,
            slot,
            holder,
            bus,
            devfn,
            vendor,
            device,
            subsystem_vendor,
            subsystem_device,
            class,
            revision,
            bar_size,
            bar_flags,
            flags,
            reserved,
        ]
    );
    prefixed_constants!(
        c,
        [
            LEND_NUM_BARS,
            LEND_BDF_SIZE_V1,
            LEND_LEND_FORCE,
            LEND_UNLEND_FORCE,
            LEND_STATE_LENT,
            LEND_STATE_BORROWED,
            LEND_BAR_IO,
            LEND_BAR_64,
            LEND_BAR_PREFETCH,
            LEND_DEV_VF,
            LEND_DEV_IOMMU,
            LEND_DEV_NO_DMA_API,
            LEND_DEV_RESET_MASK,
            LEND_DEV_RESET_SHIFT,
            LEND_RESET_NONE,
            LEND_RESET_FLR,
            LEND_RESET_PCI,
            LEND_RESET_VIRTIO,
            LEND_RESET_AHCI,
            LEND_RESET_XHCI,
            LEND_DEV_ENTRY_SIZE_V1,
            LEND_DEV_ENTRY_SIZE_V2,
            LEND_BORROW_SIZE_V1,
            LEND_RETURN_FORCE,
            LEND_P2P_SIZE_V1,
            LEND_HOLDER_NONE,
            LEND_CHASSIS_HERE,
            LEND_CHASSIS_ENTRY_SIZE_V1,
            LEND_IOC_LEND,
            LEND_IOC_UNLEND,
            LEND_IOC_LIST,
            LEND_IOC_BORROW,
            LEND_IOC_RETURN,
            LEND_IOC_P2P,
            LEND_IOC_SCAN,
            LEND_IOC_ATTACH,
            LEND_IOC_DETACH,
        ]
    );
    c.push(Check {
        c_expr: "RSIO_LEND_DEVICE_PATH".into(),
        format: "%s",
        rust: LEND_DEVICE_PATH.into(),
    });
    c.push(Check {
        c_expr: "RSIO_DEVICE_PATH".into(),
        format: "%s",
        rust: RSIO_DEVICE_PATH.into(),
    });
    c
}

const HEADER: &str = include_str!("../include/rsio.h");

/// Compiles `main` against the header with the host's C compiler, runs it
/// and returns its stdout.
fn run_c(name: &str, main: &str) -> String {
    let dir = std::env::temp_dir().join(format!("rsio-uapi-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("check.c");
    let exe = dir.join("check");
    let program = format!(
        "#include <stdio.h>\n#include <stddef.h>\n#include \"rsio.h\"\nint main(void) {{\n{main}    return 0;\n}}\n"
    );
    std::fs::write(&src, program).unwrap();
    let include = concat!(env!("CARGO_MANIFEST_DIR"), "/include");
    let status = std::process::Command::new("cc")
        .args([
            "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", include, "-o",
        ])
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("run the host C compiler");
    assert!(
        status.success(),
        "uapi/include/rsio.h or the check program does not compile"
    );
    let out = std::process::Command::new(&exe).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A C program body that prints `expr=value` for every check.
fn printer(checks: &[Check]) -> String {
    let mut main = String::new();
    for c in checks {
        let arg = if c.format == "%llu" {
            format!("(unsigned long long)({})", c.c_expr)
        } else {
            c.c_expr.clone()
        };
        main += &format!(
            "    printf(\"%s={}\\n\", \"{}\", {arg});\n",
            c.format, c.c_expr
        );
    }
    main
}

/// Every check whose C value (from `printer`'s output) differs from Rust's.
fn mismatches(checks: &[Check], c_output: &str) -> Vec<String> {
    let c_values: BTreeMap<&str, &str> =
        c_output.lines().filter_map(|l| l.split_once('=')).collect();
    let mut wrong = Vec::new();
    for c in checks {
        match c_values.get(c.c_expr.as_str()) {
            Some(v) if *v == c.rust => {}
            Some(v) => wrong.push(format!("{}: C {v}, Rust {}", c.c_expr, c.rust)),
            None => wrong.push(format!("{}: C printed nothing", c.c_expr)),
        }
    }
    wrong
}

/// The C header must describe the same ABI: compile a program that prints
/// every struct's size, alignment and field offsets, every constant and
/// every ioctl number, and compare each with the Rust value.
#[test]
fn the_c_header_agrees_with_the_rust_definitions() {
    let checks = checks();
    let out = run_c("agree", &printer(&checks));
    let wrong = mismatches(&checks, &out);
    assert!(
        wrong.is_empty(),
        "C and Rust disagree:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn a_c_value_that_differs_from_rust_is_reported() {
    let checks = vec![
        number(
            "sizeof(struct rsio_status)",
            size_of::<RsioStatus>() as u64 + 8,
        ),
        number(
            "offsetof(struct rsio_grant, len)",
            offset_of!(RsioGrant, len) as u64,
        ),
        number("RSIO_IOC_PING", RSIO_IOC_PING as u64),
    ];
    let out = run_c("mismatch", &printer(&checks));
    assert_eq!(
        mismatches(&checks, &out),
        ["sizeof(struct rsio_status): C 208, Rust 216"]
    );
    assert_eq!(
        mismatches(&checks, ""),
        [
            "sizeof(struct rsio_status): C printed nothing",
            "offsetof(struct rsio_grant, len): C printed nothing",
            "RSIO_IOC_PING: C printed nothing",
        ]
    );
}

#[test]
fn every_constant_the_c_header_defines_is_checked_against_rust() {
    let checks = checks();
    let unchecked: Vec<&str> = HEADER
        .lines()
        .filter_map(|l| l.strip_prefix("#define "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| name.starts_with("RSIO_"))
        .filter(|name| !checks.iter().any(|c| c.c_expr == *name))
        .collect();
    assert!(
        unchecked.is_empty(),
        "not compared with Rust: {unchecked:?}"
    );
}

#[test]
fn every_struct_the_c_header_declares_is_checked_against_rust() {
    let checks = checks();
    let unchecked: Vec<&str> = HEADER
        .lines()
        .filter_map(|l| l.strip_prefix("struct "))
        .filter_map(|l| l.strip_suffix(" {"))
        .filter(|name| {
            let size = format!("sizeof(struct {name})");
            !checks.iter().any(|c| c.c_expr == size)
        })
        .collect();
    assert!(
        unchecked.is_empty(),
        "not compared with Rust: {unchecked:?}"
    );
}
