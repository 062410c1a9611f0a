//! Malformed and hostile input gets an error reply with an errno, never a
//! panic or an out-of-bounds access, and the server keeps working.

mod common;

use std::os::fd::AsFd;

use common::*;
use rsio_emu::vfio_user::protocol::{command, flags, Header};
use rsio_emu::vfio_user::*;

/// Checks the connection still serves a normal request.
fn still_works(setup: &Setup) {
    let id = setup
        .client
        .region_read(region_index::BAR0, regs::ID, 4)
        .unwrap();
    assert_eq!(u32_of(&id), ID_VALUE);
}

fn errno_of(reply: &rsio_emu::vfio_user::client::ClientError) -> Option<Errno> {
    reply.errno()
}

#[test]
fn a_header_claiming_less_than_its_own_size_gets_einval() {
    let setup = connected();
    let mut header = Header::command(0x4242, command::DEVICE_GET_INFO, 0);
    header.size = 4;
    setup.client.send_bytes(&header.encode()).unwrap();
    // The error reply to id 0x4242 is not awaited by anyone; the next
    // request still gets its own reply.
    still_works(&setup);
}

#[test]
fn an_unknown_command_gets_enosys() {
    let setup = connected();
    let reply = setup.client.request(0x77, &[], &[]).unwrap();
    assert!(reply.header.is_error());
    assert_eq!(reply.header.error, Errno::ENOSYS.raw() as u32);
    still_works(&setup);
}

#[test]
fn payloads_too_short_for_their_command_get_einval() {
    let setup = connected();
    for cmd in [
        command::DMA_MAP,
        command::DMA_UNMAP,
        command::DEVICE_GET_INFO,
        command::DEVICE_GET_REGION_INFO,
        command::DEVICE_GET_IRQ_INFO,
        command::DEVICE_SET_IRQS,
        command::REGION_READ,
        command::REGION_WRITE,
    ] {
        let err = setup.client.call(cmd, &[0u8; 7], &[]).unwrap_err();
        assert_eq!(
            errno_of(&err),
            Some(Errno::EINVAL),
            "{}",
            command::name(cmd)
        );
    }
    still_works(&setup);
}

#[test]
fn region_accesses_outside_the_region_are_refused() {
    let setup = connected();
    let c = &setup.client;
    let einval = Some(Errno::EINVAL);
    assert_eq!(
        c.region_read(region_index::BAR0, BAR0_SIZE - 2, 4)
            .unwrap_err()
            .errno(),
        einval
    );
    assert_eq!(
        c.region_read(region_index::BAR0, u64::MAX - 1, 4)
            .unwrap_err()
            .errno(),
        einval
    );
    assert_eq!(
        c.region_write(region_index::BAR0, BAR0_SIZE, &[1])
            .unwrap_err()
            .errno(),
        einval
    );
    assert_eq!(
        c.region_read(region_index::CONFIG, 255, 2)
            .unwrap_err()
            .errno(),
        einval
    );
    assert_eq!(
        c.region_read(region_index::ROM, 0, 4).unwrap_err().errno(),
        einval
    );
    assert_eq!(c.region_read(42, 0, 4).unwrap_err().errno(), einval);
    still_works(&setup);
}

#[test]
fn a_write_whose_count_exceeds_its_data_is_refused() {
    let setup = connected();
    let access = protocol::RegionAccess {
        offset: 0,
        region: region_index::BAR0,
        count: 8,
    };
    let err = setup
        .client
        .call(command::REGION_WRITE, &access.encode(&[1, 2, 3, 4]), &[])
        .unwrap_err();
    assert_eq!(err.errno(), Some(Errno::EINVAL));
    still_works(&setup);
}

#[test]
fn an_access_longer_than_the_negotiated_transfer_size_gets_e2big() {
    let setup = setup();
    setup
        .client
        .version(0, 0, r#"{"capabilities":{"max_data_xfer_size":64}}"#)
        .unwrap();
    let err = setup
        .client
        .region_read(region_index::BAR2, 0, 128)
        .unwrap_err();
    assert_eq!(err.errno(), Some(Errno::E2BIG));
    still_works(&setup);
}

#[test]
fn an_oversized_message_is_skipped_and_gets_e2big() {
    let setup = connected();
    let huge = vec![0u8; 2 << 20];
    let reply = setup
        .client
        .request(command::REGION_WRITE, &huge, &[])
        .unwrap();
    assert!(reply.header.is_error());
    assert_eq!(reply.header.error, Errno::E2BIG.raw() as u32);
    still_works(&setup);
}

#[test]
fn descriptors_on_commands_that_take_none_are_refused() {
    let setup = connected();
    let (fd, _) = eventfd();
    let access = protocol::RegionAccess {
        offset: 0,
        region: region_index::BAR0,
        count: 4,
    };
    let err = setup
        .client
        .call(command::REGION_READ, &access.encode(&[]), &[fd.as_fd()])
        .unwrap_err();
    assert_eq!(err.errno(), Some(Errno::EINVAL));
    still_works(&setup);
}

#[test]
fn more_descriptors_than_negotiated_are_refused() {
    let setup = connected();
    let fds: Vec<_> = (0..17).map(|_| eventfd()).collect();
    let ours: Vec<_> = fds.iter().map(|(fd, _)| fd.as_fd()).collect();
    let set = protocol::IrqSet {
        argsz: 20,
        flags: protocol::irq_set_flags::DATA_EVENTFD | protocol::irq_set_flags::ACTION_TRIGGER,
        index: irq_index::MSIX,
        start: 0,
        count: 17,
    };
    let err = setup
        .client
        .call(command::DEVICE_SET_IRQS, &set.encode(), &ours)
        .unwrap_err();
    assert_eq!(err.errno(), Some(Errno::EINVAL));
    still_works(&setup);
}

#[test]
fn a_dma_map_with_two_descriptors_or_no_size_is_refused() {
    let setup = connected();
    let (a, _) = eventfd();
    let (b, _) = eventfd();
    let map = protocol::DmaMap {
        argsz: 32,
        flags: 3,
        offset: 0,
        address: 0x1000,
        size: 0x1000,
    };
    let err = setup
        .client
        .call(command::DMA_MAP, &map.encode(), &[a.as_fd(), b.as_fd()])
        .unwrap_err();
    assert_eq!(err.errno(), Some(Errno::EINVAL));
    let empty = protocol::DmaMap { size: 0, ..map };
    assert_eq!(
        setup
            .client
            .call(command::DMA_MAP, &empty.encode(), &[])
            .unwrap_err()
            .errno(),
        Some(Errno::EINVAL)
    );
    let wrapping = protocol::DmaMap {
        address: u64::MAX,
        ..map
    };
    assert_eq!(
        setup
            .client
            .call(command::DMA_MAP, &wrapping.encode(), &[])
            .unwrap_err()
            .errno(),
        Some(Errno::EINVAL)
    );
    still_works(&setup);
}

#[test]
fn a_dma_map_whose_descriptor_cannot_be_mapped_falls_back_to_messages() {
    let setup = connected();
    // An eventfd cannot be mmapped.
    let (fd, _) = eventfd();
    setup
        .client
        .dma_map(0x1000, 0x1000, 0, 3, Some(fd.as_fd()))
        .unwrap();
    assert!(!setup
        .server
        .peer()
        .memory()
        .region_at(0x1000)
        .unwrap()
        .is_mapped());
}

#[test]
fn a_stray_reply_and_a_bad_message_type_do_not_disturb_the_server() {
    let setup = connected();
    let mut stray = Header::command(999, command::DMA_READ, 0);
    stray.flags = flags::TYPE_REPLY;
    setup.client.send_bytes(&stray.encode()).unwrap();
    let mut odd = Header::command(998, command::DEVICE_GET_INFO, 0);
    odd.flags = 0x7;
    setup.client.send_bytes(&odd.encode()).unwrap();
    still_works(&setup);
}

#[test]
fn garbage_that_ends_the_stream_mid_message_just_ends_the_connection() {
    let mut setup = connected();
    let header = Header::command(1, command::REGION_WRITE, 100);
    setup.client.send_bytes(&header.encode()).unwrap();
    setup.client.send_bytes(&[1, 2, 3]).unwrap();
    setup.disconnect();
    assert_eq!(setup.device.events().last(), Some(&Event::Disconnected));
}
