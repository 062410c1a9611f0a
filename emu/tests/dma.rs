//! DMA in both directions: memory the client maps (DMA_MAP with a memfd)
//! and requests the server sends (DMA_READ / DMA_WRITE through the client).

mod common;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::*;
use rsio_emu::vfio_user::protocol::{dma_map_flags, dma_unmap_flags};
use rsio_emu::vfio_user::*;

const RW: u32 = dma_map_flags::READ | dma_map_flags::WRITE;

#[test]
fn a_dma_map_with_a_memfd_lets_the_device_read_and_write_guest_memory() {
    let setup = connected();
    let ram = SharedMemory::new("guest-ram", 2 * 4096).unwrap();
    ram.write(4096 + 8, b"guest data").unwrap();
    setup
        .client
        .dma_map(0x8000_0000, 4096, 4096, RW, Some(ram.fd()))
        .unwrap();

    let memory = setup.server.peer().memory();
    let mut buf = [0u8; 10];
    memory.read(0x8000_0008, &mut buf).unwrap();
    assert_eq!(&buf, b"guest data");
    memory.write(0x8000_0100, b"device data").unwrap();
    let mut back = [0u8; 11];
    ram.read(4096 + 0x100, &mut back).unwrap();
    assert_eq!(&back, b"device data");
    assert_eq!(
        setup.device.events()[1],
        Event::DmaMap {
            addr: 0x8000_0000,
            size: 4096,
            mapped: true
        }
    );
}

#[test]
fn device_accesses_are_bounds_checked_against_the_mapping() {
    let setup = connected();
    let ram = SharedMemory::new("guest-ram", 4096).unwrap();
    setup
        .client
        .dma_map(0x1000, 4096, 0, RW, Some(ram.fd()))
        .unwrap();
    let memory = setup.server.peer().memory();
    assert!(matches!(
        memory.read(0x1ffc, &mut [0u8; 8]),
        Err(DmaError::Unmapped { .. })
    ));
    assert!(matches!(
        memory.write(0x0, &[1]),
        Err(DmaError::Unmapped { .. })
    ));
}

#[test]
fn a_read_only_dma_region_refuses_device_writes() {
    let setup = connected();
    let ram = SharedMemory::new("guest-rom", 4096).unwrap();
    setup
        .client
        .dma_map(0x1000, 4096, 0, dma_map_flags::READ, Some(ram.fd()))
        .unwrap();
    let memory = setup.server.peer().memory();
    assert!(memory.read(0x1000, &mut [0u8; 4]).is_ok());
    assert!(matches!(
        memory.write(0x1000, &[1]),
        Err(DmaError::ReadOnly { .. })
    ));
}

#[test]
fn a_region_without_a_descriptor_is_registered_but_only_reachable_by_messages() {
    let setup = connected();
    setup
        .client
        .dma_map(0xfea0_0000, 0x10_0000, 0, RW, None)
        .unwrap();
    let region = setup.server.peer().memory().region_at(0xfea0_1000).unwrap();
    assert!(!region.is_mapped());
    assert_eq!(
        setup.device.events()[1],
        Event::DmaMap {
            addr: 0xfea0_0000,
            size: 0x10_0000,
            mapped: false
        }
    );
}

#[test]
fn overlapping_maps_are_refused_with_eexist() {
    let setup = connected();
    setup.client.dma_map(0x1000, 0x2000, 0, RW, None).unwrap();
    let err = setup
        .client
        .dma_map(0x2000, 0x1000, 0, RW, None)
        .unwrap_err();
    assert_eq!(err.errno(), Some(Errno::EEXIST));
}

#[test]
fn unmapping_removes_the_region_and_tells_the_device() {
    let setup = connected();
    let ram = SharedMemory::new("guest-ram", 4096).unwrap();
    setup
        .client
        .dma_map(0x1000, 4096, 0, RW, Some(ram.fd()))
        .unwrap();
    assert_eq!(
        setup.client.dma_unmap(0x1000, 2048, 0).unwrap_err().errno(),
        Some(Errno::EINVAL)
    );
    setup.client.dma_unmap(0x1000, 4096, 0).unwrap();
    assert!(setup.server.peer().memory().regions().is_empty());
    assert_eq!(
        setup.device.events().last(),
        Some(&Event::DmaUnmap {
            addr: 0x1000,
            size: 4096
        })
    );
    assert_eq!(
        setup.client.dma_unmap(0x1000, 4096, 0).unwrap_err().errno(),
        Some(Errno::ENOENT)
    );
}

#[test]
fn unmap_all_removes_every_region() {
    let setup = connected();
    setup.client.dma_map(0x1000, 0x1000, 0, RW, None).unwrap();
    setup.client.dma_map(0x3000, 0x1000, 0, RW, None).unwrap();
    setup.client.dma_unmap(0, 0, dma_unmap_flags::ALL).unwrap();
    assert!(setup.server.peer().memory().regions().is_empty());
}

#[test]
fn dirty_page_bitmaps_are_not_supported() {
    let setup = connected();
    setup.client.dma_map(0x1000, 0x1000, 0, RW, None).unwrap();
    let err = setup
        .client
        .dma_unmap(0x1000, 0x1000, dma_unmap_flags::GET_DIRTY_BITMAP)
        .unwrap_err();
    assert_eq!(err.errno(), Some(Errno::ENOTSUP));
}

#[test]
fn server_initiated_dma_write_and_read_are_served_by_the_client() {
    let setup = connected();
    let port = setup.server.peer().dma().clone();
    assert!(eventually(|| port.is_connected()));
    port.dma_write(TEST_MEMORY_BASE + 0x10, b"through the client")
        .unwrap();
    assert_eq!(
        setup.memory.read(TEST_MEMORY_BASE + 0x10, 18),
        b"through the client"
    );
    setup
        .memory
        .write(TEST_MEMORY_BASE + 0x100, b"client memory");
    let mut buf = [0u8; 13];
    port.dma_read(TEST_MEMORY_BASE + 0x100, &mut buf).unwrap();
    assert_eq!(&buf, b"client memory");
}

#[test]
fn large_transfers_are_split_at_the_negotiated_maximum() {
    let setup = setup();
    setup
        .client
        .version(0, 0, r#"{"capabilities":{"max_data_xfer_size":4096}}"#)
        .unwrap();
    let port = setup.server.peer().dma().clone();
    assert!(eventually(|| port.max_transfer() == Some(4096)));
    let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    port.dma_write(TEST_MEMORY_BASE, &data).unwrap();
    let mut back = vec![0u8; data.len()];
    port.dma_read(TEST_MEMORY_BASE, &mut back).unwrap();
    assert_eq!(back, data);
    assert_eq!(setup.client.dma_requests_served(), 6);
}

#[test]
fn a_client_error_reply_is_reported_with_its_errno() {
    let setup = connected();
    let port = setup.server.peer().dma().clone();
    assert!(eventually(|| port.is_connected()));
    let err = port.dma_read(0x10, &mut [0u8; 4]).unwrap_err();
    assert!(matches!(err, DmaError::Remote(Errno::EFAULT)), "{err:?}");
}

#[test]
fn dma_before_negotiation_fails_as_not_connected() {
    let setup = setup();
    let err = setup
        .server
        .peer()
        .dma()
        .dma_read(TEST_MEMORY_BASE, &mut [0u8; 4])
        .unwrap_err();
    assert!(matches!(err, DmaError::NotConnected));
}

#[test]
fn waiting_for_dma_inside_a_callback_of_the_same_connection_fails_fast() {
    let setup = connected();
    let started = Instant::now();
    setup
        .client
        .region_write(region_index::BAR0, regs::INLINE_DMA, &4u32.to_le_bytes())
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        setup.device.inline_dma.lock().unwrap().as_deref(),
        Some("WouldDeadlock")
    );
}

#[test]
fn a_callback_of_one_connection_may_wait_for_dma_on_another() {
    let a = connected();
    let b = connected();
    let port_b = b.server.peer().dma().clone();
    assert!(eventually(|| port_b.is_connected()));
    b.memory.write(TEST_MEMORY_BASE, b"from b");
    *a.device.other_port.lock().unwrap() = Some(port_b);
    a.client
        .region_write(region_index::BAR0, regs::OTHER_DMA, &6u32.to_le_bytes())
        .unwrap();
    assert_eq!(
        a.device.inline_dma.lock().unwrap().as_deref(),
        Some("ok: from b")
    );
}

/// A server on a socketpair, and the client end as a raw stream that has
/// negotiated (by hand) but never reads again: DMA requests go unanswered.
fn silent_client(
    config: ServerConfig,
) -> (Server<TestDevice>, UnixStream, std::thread::JoinHandle<()>) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let server = Server::with_config(TestDevice::new(), config);
    let serving = server.clone();
    let handle = std::thread::spawn(move || serving.serve_connection(theirs).unwrap());
    let version = protocol::Version {
        major: 0,
        minor: 0,
        capabilities: String::new(),
    }
    .encode();
    let header = protocol::Header::command(1, protocol::command::VERSION, version.len());
    let mut bytes = header.encode().to_vec();
    bytes.extend_from_slice(&version);
    (&ours).write_all(&bytes).unwrap();
    assert!(eventually(|| server.peer().dma().is_connected()));
    (server, ours, handle)
}

#[test]
fn a_pending_request_fails_with_disconnected_when_the_client_goes_away() {
    let (server, client, serving) = silent_client(ServerConfig::default());
    let port = server.peer().dma().clone();
    let waiter = std::thread::spawn(move || {
        let started = Instant::now();
        (port.dma_read(0, &mut [0u8; 4]), started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(50));
    drop(client);
    let (result, waited) = waiter.join().unwrap();
    assert!(matches!(result, Err(DmaError::Disconnected)), "{result:?}");
    assert!(
        waited < Duration::from_secs(2),
        "waited {waited:?}, not the 5 s timeout"
    );
    serving.join().unwrap();
    assert!(matches!(
        server.peer().dma().dma_read(0, &mut [0u8; 4]),
        Err(DmaError::NotConnected)
    ));
}

#[test]
fn an_unanswered_request_times_out() {
    let config = ServerConfig {
        dma_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    };
    let (server, client, serving) = silent_client(config);
    let started = Instant::now();
    let result = server.peer().dma().dma_read(0, &mut [0u8; 4]);
    assert!(matches!(result, Err(DmaError::Timeout)), "{result:?}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    drop(client);
    serving.join().unwrap();
}

#[test]
fn mapped_memory_survives_as_long_as_a_region_clone_is_held() {
    let setup = connected();
    let ram = SharedMemory::new("guest-ram", 4096).unwrap();
    ram.write(0, b"kept").unwrap();
    setup
        .client
        .dma_map(0x1000, 4096, 0, RW, Some(ram.fd()))
        .unwrap();
    let region = setup.server.peer().memory().region_at(0x1000).unwrap();
    setup.client.dma_unmap(0x1000, 4096, 0).unwrap();
    drop(ram);
    let mut buf = [0u8; 4];
    region.read(0x1000, &mut buf).unwrap();
    assert_eq!(&buf, b"kept");
}
