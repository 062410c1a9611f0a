//! The client-facing protocol, command by command, as QEMU uses it.

mod common;

use common::*;
use rsio_emu::vfio_user::protocol::{device_flags, irq_info_flags, region_flags};
use rsio_emu::vfio_user::*;

#[test]
fn version_negotiation_answers_with_our_limits_capped_by_the_clients() {
    let setup = setup();
    let reply = setup
        .client
        .version(
            0,
            0,
            r#"{"capabilities":{"max_msg_fds":16,"max_data_xfer_size":65536}}"#,
        )
        .unwrap();
    assert_eq!((reply.major, reply.minor), (0, 0));
    assert_eq!(
        reply.capabilities,
        r#"{"capabilities":{"max_msg_fds":16,"max_data_xfer_size":65536,"pgsizes":4096,"max_dma_maps":65535}}"#
    );
    assert!(eventually(
        || setup.server.peer().dma().max_transfer() == Some(65536)
    ));
}

#[test]
fn version_negotiation_accepts_qemus_proposal_and_reports_no_migration() {
    let setup = setup();
    let reply = setup.client.negotiate().unwrap();
    assert!(reply
        .capabilities
        .contains(r#""max_data_xfer_size":1048576"#));
    assert!(!reply.capabilities.contains("migration"));
    assert!(eventually(
        || setup.device.events() == vec![Event::Connected]
    ));
}

#[test]
fn version_negotiation_falls_back_to_defaults_on_malformed_capabilities() {
    let setup = setup();
    let reply = setup.client.version(0, 0, "{not json").unwrap();
    assert!(reply
        .capabilities
        .contains(r#""max_data_xfer_size":1048576"#));
}

#[test]
fn an_unknown_major_version_is_refused() {
    let setup = setup();
    let err = setup.client.version(1, 0, "").unwrap_err();
    assert_eq!(err.errno(), Some(Errno::ENOTSUP));
    // Still negotiable afterwards.
    assert!(setup.client.negotiate().is_ok());
}

#[test]
fn commands_before_version_and_a_second_version_are_refused() {
    let setup = setup();
    assert_eq!(
        setup.client.device_info().unwrap_err().errno(),
        Some(Errno::EINVAL)
    );
    setup.client.negotiate().unwrap();
    assert_eq!(
        setup.client.negotiate().unwrap_err().errno(),
        Some(Errno::EINVAL)
    );
    assert!(setup.client.device_info().is_ok());
}

#[test]
fn device_info_reports_a_resettable_pci_device_with_the_standard_regions_and_irqs() {
    let setup = connected();
    let info = setup.client.device_info().unwrap();
    assert_eq!(info.flags, device_flags::PCI | device_flags::RESET);
    assert_eq!((info.num_regions, info.num_irqs), (9, 5));
}

#[test]
fn a_trapped_region_is_readable_and_writable_but_not_mappable() {
    let setup = connected();
    let reply = setup.client.region_info(region_index::BAR0).unwrap();
    assert_eq!(reply.info.size, BAR0_SIZE);
    assert_eq!(reply.info.flags, region_flags::READ | region_flags::WRITE);
    assert!(reply.fd.is_none() && reply.sparse.is_none());
}

#[test]
fn a_mappable_region_comes_with_its_descriptor_and_sparse_areas() {
    let setup = connected();
    let reply = setup.client.region_info(region_index::BAR2).unwrap();
    let expected =
        region_flags::READ | region_flags::WRITE | region_flags::MMAP | region_flags::CAPS;
    assert_eq!((reply.info.flags, reply.info.size), (expected, BAR2_SIZE));
    assert_eq!(
        reply.sparse,
        Some(vec![SparseArea {
            offset: 0,
            size: BAR2_SIZE / 2
        }])
    );
    // The descriptor maps the device's memory.
    let fd = reply.fd.expect("descriptor");
    let view = Mapping::new(
        std::os::fd::AsFd::as_fd(&fd),
        reply.info.offset,
        BAR2_SIZE,
        true,
    )
    .unwrap();
    view.write(0x100, b"from the client").unwrap();
    let mut buf = [0u8; 15];
    setup.device.bar2.read(0x100, &mut buf).unwrap();
    assert_eq!(&buf, b"from the client");
}

#[test]
fn a_region_info_request_too_small_for_the_capabilities_learns_the_size_needed() {
    let setup = connected();
    let request = protocol::RegionInfo {
        argsz: 32,
        index: region_index::BAR2,
        ..Default::default()
    };
    let reply = setup
        .client
        .call(
            protocol::command::DEVICE_GET_REGION_INFO,
            &request.encode(),
            &[],
        )
        .unwrap();
    let info = protocol::RegionInfo::decode(&reply.payload).unwrap();
    assert_eq!(reply.payload.len(), 32);
    assert!(info.argsz > 32);
    // No CAPS flag without the capabilities (QEMU refuses that).
    assert_eq!(
        (info.flags & protocol::region_flags::CAPS, info.cap_offset),
        (0, 0)
    );
    assert!(reply.fds.is_empty());
}

#[test]
fn absent_regions_have_size_zero_and_indices_past_the_end_are_errors() {
    let setup = connected();
    let rom = setup.client.region_info(region_index::ROM).unwrap();
    assert_eq!((rom.info.size, rom.info.flags), (0, 0));
    let err = setup.client.region_info(9).unwrap_err();
    assert_eq!(err.errno(), Some(Errno::EINVAL));
}

#[test]
fn irq_info_reports_counts_and_msix_as_maskable() {
    let setup = connected();
    let msix = setup.client.irq_info(irq_index::MSIX).unwrap();
    assert_eq!(msix.count, u32::from(MSIX_VECTORS));
    assert_eq!(
        msix.flags,
        irq_info_flags::EVENTFD | irq_info_flags::MASKABLE
    );
    assert_eq!(setup.client.irq_info(irq_index::INTX).unwrap().count, 0);
    assert_eq!(setup.client.irq_info(irq_index::ERR).unwrap().count, 1);
    assert_eq!(
        setup.client.irq_info(5).unwrap_err().errno(),
        Some(Errno::EINVAL)
    );
}

#[test]
fn trapped_register_writes_and_reads_round_trip_through_the_device() {
    let setup = connected();
    for (width, value) in [
        (1usize, 0xa5u64),
        (2, 0xbeef),
        (4, 0xdead_beef),
        (8, 0x1234_5678),
    ] {
        let bytes = &value.to_le_bytes()[..width];
        setup
            .client
            .region_write(region_index::BAR0, regs::SCRATCH, bytes)
            .unwrap();
        let back = setup
            .client
            .region_read(region_index::BAR0, regs::SCRATCH, width as u32)
            .unwrap();
        assert_eq!(back, bytes, "{width}-byte access");
    }
    let id = setup
        .client
        .region_read(region_index::BAR0, regs::ID, 4)
        .unwrap();
    assert_eq!(u32_of(&id), ID_VALUE);
}

#[test]
fn prompt_writes_are_done_by_the_reader_when_nothing_is_queued_and_stay_in_order() {
    let setup = connected();
    let c = &setup.client;
    let writer = || {
        setup
            .device
            .bar2_writer
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_default()
    };
    // Once the handler answered (this read), it is idle: the reader
    // performs the next write itself.
    c.region_read(region_index::BAR0, regs::ID, 4).unwrap();
    c.region_write(region_index::BAR2, bar2::SLOW_TARGET, &1u32.to_le_bytes())
        .unwrap();
    assert!(writer().starts_with("vfio-user-rx"), "{}", writer());
    // A slow command is queued (posted: no answer awaited); the prompt
    // write behind it must wait its turn, or the slow one would land last.
    c.region_write_posted(region_index::BAR0, regs::SLOW_BAR2, &7u32.to_le_bytes())
        .unwrap();
    c.region_write(region_index::BAR2, bar2::SLOW_TARGET, &9u32.to_le_bytes())
        .unwrap();
    assert!(!writer().starts_with("vfio-user-rx"), "{}", writer());
    let back = c
        .region_read(region_index::BAR2, bar2::SLOW_TARGET, 4)
        .unwrap();
    assert_eq!(u32_of(&back), 9);
    // Checked like any write: out of range fails and changes nothing.
    assert!(c
        .region_write(region_index::BAR2, BAR2_SIZE - 2, &[1, 2, 3, 4])
        .is_err());
    let back = c
        .region_read(region_index::BAR2, bar2::SLOW_TARGET, 4)
        .unwrap();
    assert_eq!(u32_of(&back), 9);
}

#[test]
fn posted_writes_take_effect_in_order_without_a_reply() {
    let setup = connected();
    setup
        .client
        .region_write_posted(region_index::BAR0, regs::SCRATCH, &7u32.to_le_bytes())
        .unwrap();
    let back = setup
        .client
        .region_read(region_index::BAR0, regs::SCRATCH, 4)
        .unwrap();
    assert_eq!(u32_of(&back), 7);
}

#[test]
fn config_space_reads_back_ids_and_sizes_bars_like_hardware() {
    let setup = connected();
    let c = &setup.client;
    let ids = c.region_read(region_index::CONFIG, 0, 4).unwrap();
    assert_eq!(u32_of(&ids), u32::from(DEVICE) << 16 | u32::from(VENDOR));
    // The whole space in one read, as QEMU does at realize time.
    assert_eq!(
        c.region_read(region_index::CONFIG, 0, 256).unwrap().len(),
        256
    );

    c.region_write(region_index::CONFIG, 0x10, &[0xff; 4])
        .unwrap();
    assert_eq!(
        u32_of(&c.region_read(region_index::CONFIG, 0x10, 4).unwrap()),
        0xffff_f000
    );
    c.region_write(region_index::CONFIG, 0x18, &[0xff; 4])
        .unwrap();
    c.region_write(region_index::CONFIG, 0x1c, &[0xff; 4])
        .unwrap();
    assert_eq!(
        u32_of(&c.region_read(region_index::CONFIG, 0x18, 4).unwrap()),
        0xffff_000c
    );
    assert_eq!(
        u32_of(&c.region_read(region_index::CONFIG, 0x1c, 4).unwrap()),
        0xffff_ffff
    );
    // BAR1 is unimplemented: sizing it reads 0.
    c.region_write(region_index::CONFIG, 0x14, &[0xff; 4])
        .unwrap();
    assert_eq!(
        u32_of(&c.region_read(region_index::CONFIG, 0x14, 4).unwrap()),
        0
    );
}

#[test]
fn the_msix_capability_is_found_by_walking_the_capability_list() {
    let setup = connected();
    let c = &setup.client;
    let pointer = c.region_read(region_index::CONFIG, 0x34, 1).unwrap()[0];
    let cap = c
        .region_read(region_index::CONFIG, u64::from(pointer), 12)
        .unwrap();
    assert_eq!(cap[0], cap_id::MSIX);
    assert_eq!(
        u16::from_le_bytes([cap[2], cap[3]]) & msix_control::TABLE_SIZE_MASK,
        MSIX_VECTORS - 1
    );
    assert_eq!(u32_of(&cap[4..]), regs::MSIX_TABLE as u32);
    assert_eq!(u32_of(&cap[8..]), regs::MSIX_PBA as u32);
}

#[test]
fn reset_reaches_the_device_and_restores_config_space() {
    let setup = connected();
    setup
        .client
        .region_write(region_index::CONFIG, 0x04, &[0x06, 0])
        .unwrap();
    setup.client.reset().unwrap();
    assert_eq!(
        setup
            .client
            .region_read(region_index::CONFIG, 0x04, 2)
            .unwrap(),
        [0, 0]
    );
    assert!(setup.device.events().contains(&Event::Reset));
}

#[test]
fn region_io_fds_are_reported_as_not_supported() {
    let setup = connected();
    let payload = [
        16u32.to_le_bytes(),
        0u32.to_le_bytes(),
        0u32.to_le_bytes(),
        0u32.to_le_bytes(),
    ]
    .concat();
    let reply = setup
        .client
        .request(protocol::command::DEVICE_GET_REGION_IO_FDS, &payload, &[])
        .unwrap();
    assert!(reply.header.is_error());
    assert_eq!(reply.header.error, Errno::ENOTSUP.raw() as u32);
}
