//! Serving over a listening socket: one client at a time, and a new client
//! after the previous one went away (the VM was restarted).

mod common;

use std::os::fd::AsFd;
use std::time::Duration;

use common::*;
use rsio_emu::vfio_user::client::Client;
use rsio_emu::vfio_user::protocol::{dma_map_flags, irq_set_flags::*};
use rsio_emu::vfio_user::*;

fn socket_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("rsio-emu-{name}-{}.sock", std::process::id()))
}

#[test]
fn a_client_can_reconnect_after_the_previous_one_went_away() {
    let device = TestDevice::new();
    let server = Server::new(device.clone());
    let listening = server.listen(socket_path("reconnect")).unwrap();

    let first = Client::connect(listening.path()).unwrap();
    first.negotiate().unwrap();
    first
        .region_write(region_index::BAR0, regs::SCRATCH, &5u32.to_le_bytes())
        .unwrap();
    let ram = SharedMemory::new("guest-ram", 4096).unwrap();
    first
        .dma_map(
            0x1000,
            4096,
            0,
            dma_map_flags::READ | dma_map_flags::WRITE,
            Some(ram.fd()),
        )
        .unwrap();
    let (ours, _watch) = eventfd();
    first
        .set_irqs(
            irq_index::MSIX,
            DATA_EVENTFD | ACTION_TRIGGER,
            0,
            1,
            &[],
            &[ours.as_fd()],
        )
        .unwrap();
    first.close();

    assert!(server.wait_disconnected(Duration::from_secs(2)));
    assert_eq!(
        device.events(),
        [
            Event::Connected,
            Event::DmaMap {
                addr: 0x1000,
                size: 4096,
                mapped: true
            },
            Event::DmaUnmap {
                addr: 0x1000,
                size: 4096
            },
            Event::Disconnected,
        ]
    );
    // What the client gave is gone; the device state is kept.
    assert!(server.peer().memory().regions().is_empty());
    assert!(!server.peer().irqs().is_enabled(irq_index::MSIX, 0));
    assert!(!server.peer().dma().is_connected());

    let second = Client::connect(listening.path()).unwrap();
    second.negotiate().unwrap();
    let scratch = second
        .region_read(region_index::BAR0, regs::SCRATCH, 4)
        .unwrap();
    assert_eq!(u32_of(&scratch), 5);
    assert!(eventually(
        || device.events().last() == Some(&Event::Connected)
    ));
    listening.shutdown();
    assert_eq!(device.events().last(), Some(&Event::Disconnected));
}

#[test]
fn a_second_simultaneous_client_is_turned_away() {
    let server = Server::new(TestDevice::new());
    let listening = server.listen(socket_path("busy")).unwrap();
    let first = Client::connect(listening.path()).unwrap();
    first.negotiate().unwrap();

    let second = Client::connect(listening.path()).unwrap();
    let err = second.negotiate().unwrap_err();
    assert!(
        matches!(
            err,
            rsio_emu::vfio_user::client::ClientError::Transport(DmaError::Disconnected)
        ),
        "{err:?}"
    );
    // The first is unaffected.
    assert!(first.device_info().is_ok());
}

#[test]
fn a_client_that_closes_without_negotiating_does_not_reach_the_device() {
    let device = TestDevice::new();
    let server = Server::new(device.clone());
    let listening = server.listen(socket_path("silent")).unwrap();
    drop(std::os::unix::net::UnixStream::connect(listening.path()).unwrap());
    assert!(eventually(|| !server.is_connected()));
    let client = Client::connect(listening.path()).unwrap();
    client.negotiate().unwrap();
    assert!(
        eventually(|| device.events() == [Event::Connected]),
        "{:?}",
        device.events()
    );
}

#[test]
fn listening_replaces_a_stale_socket_but_not_other_files() {
    let path = socket_path("stale");
    let first = Server::new(TestDevice::new()).listen(&path).unwrap();
    std::mem::forget(first); // leaves the socket file behind, like a crash
    let again = Server::new(TestDevice::new()).listen(&path);
    assert!(again.is_ok());
    drop(again);

    let file = socket_path("regular-file");
    std::fs::write(&file, b"not a socket").unwrap();
    assert!(Server::new(TestDevice::new()).listen(&file).is_err());
    std::fs::remove_file(&file).unwrap();
}
