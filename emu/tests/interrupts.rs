//! DEVICE_SET_IRQS as QEMU uses it, and interrupts the device raises.

mod common;

use std::os::fd::AsFd;

use common::*;
use rsio_emu::vfio_user::protocol::irq_set_flags::*;
use rsio_emu::vfio_user::*;

const MSIX: u32 = irq_index::MSIX;

/// Raises MSI-X vector `n` the way a guest driver would make the device do
/// it: through a register write.
fn raise(setup: &Setup, n: u32) {
    setup
        .client
        .region_write(region_index::BAR0, regs::IRQ, &n.to_le_bytes())
        .unwrap();
}

#[test]
fn a_vector_given_an_eventfd_is_signalled_when_the_device_raises_it() {
    let setup = connected();
    let (ours, watch) = eventfd();
    setup
        .client
        .set_irqs(
            MSIX,
            DATA_EVENTFD | ACTION_TRIGGER,
            2,
            1,
            &[],
            &[ours.as_fd()],
        )
        .unwrap();
    raise(&setup, 2);
    assert_eq!(take_events(&watch), 1);
    assert_eq!(
        setup.server.peer().irqs().trigger(MSIX, 2),
        Ok(Delivery::Signalled)
    );
    assert_eq!(take_events(&watch), 1);
}

#[test]
fn eventfds_for_a_range_of_vectors_arrive_in_one_message() {
    let setup = connected();
    let fds: Vec<_> = (0..4).map(|_| eventfd()).collect();
    let ours: Vec<_> = fds.iter().map(|(fd, _)| fd.as_fd()).collect();
    setup
        .client
        .set_irqs(MSIX, DATA_EVENTFD | ACTION_TRIGGER, 0, 4, &[], &ours)
        .unwrap();
    raise(&setup, 3);
    let counts: Vec<u64> = fds.iter().map(|(_, watch)| take_events(watch)).collect();
    assert_eq!(counts, [0, 0, 0, 1]);
}

#[test]
fn an_interrupt_raised_before_the_guest_enabled_the_vector_is_delivered_on_enable() {
    let setup = connected();
    raise(&setup, 1);
    let pba = setup
        .client
        .region_read(region_index::BAR0, regs::MSIX_PBA, 8)
        .unwrap();
    assert_eq!(pba[0], 0b10);
    let (ours, watch) = eventfd();
    setup
        .client
        .set_irqs(
            MSIX,
            DATA_EVENTFD | ACTION_TRIGGER,
            1,
            1,
            &[],
            &[ours.as_fd()],
        )
        .unwrap();
    assert_eq!(take_events(&watch), 1);
    assert_eq!(
        setup
            .client
            .region_read(region_index::BAR0, regs::MSIX_PBA, 8)
            .unwrap()[0],
        0
    );
}

#[test]
fn a_masked_vector_records_pending_and_fires_on_unmask_as_qemu_masks_msix() {
    let setup = connected();
    let (ours, watch) = eventfd();
    setup
        .client
        .set_irqs(
            MSIX,
            DATA_EVENTFD | ACTION_TRIGGER,
            0,
            1,
            &[],
            &[ours.as_fd()],
        )
        .unwrap();
    setup
        .client
        .set_irqs(MSIX, DATA_NONE | ACTION_MASK, 0, 1, &[], &[])
        .unwrap();
    raise(&setup, 0);
    assert_eq!(take_events(&watch), 0);
    assert!(setup.server.peer().irqs().is_pending(MSIX, 0));
    setup
        .client
        .set_irqs(MSIX, DATA_NONE | ACTION_UNMASK, 0, 1, &[], &[])
        .unwrap();
    assert_eq!(take_events(&watch), 1);
    assert!(!setup.server.peer().irqs().is_pending(MSIX, 0));
}

#[test]
fn data_bool_selects_which_vectors_an_action_applies_to() {
    let setup = connected();
    setup
        .client
        .set_irqs(MSIX, DATA_BOOL | ACTION_MASK, 0, 4, &[1, 0, 1, 0], &[])
        .unwrap();
    let irqs = setup.server.peer().irqs();
    let masked: Vec<bool> = (0..4).map(|v| irqs.is_masked(MSIX, v)).collect();
    assert_eq!(masked, [true, false, true, false]);
}

#[test]
fn the_client_can_trigger_a_vector_itself() {
    let setup = connected();
    let (ours, watch) = eventfd();
    setup
        .client
        .set_irqs(
            MSIX,
            DATA_EVENTFD | ACTION_TRIGGER,
            1,
            1,
            &[],
            &[ours.as_fd()],
        )
        .unwrap();
    setup
        .client
        .set_irqs(MSIX, DATA_NONE | ACTION_TRIGGER, 1, 1, &[], &[])
        .unwrap();
    assert_eq!(take_events(&watch), 1);
}

#[test]
fn an_eventfd_message_without_descriptors_deassigns_the_vectors() {
    let setup = connected();
    let (ours, watch) = eventfd();
    setup
        .client
        .set_irqs(
            MSIX,
            DATA_EVENTFD | ACTION_TRIGGER,
            0,
            1,
            &[],
            &[ours.as_fd()],
        )
        .unwrap();
    // QEMU enables MSI-X with no vectors this way: "fd -1" for vector 0.
    setup
        .client
        .set_irqs(MSIX, DATA_EVENTFD | ACTION_TRIGGER, 0, 1, &[], &[])
        .unwrap();
    assert!(!setup.server.peer().irqs().is_enabled(MSIX, 0));
    raise(&setup, 0);
    assert_eq!(take_events(&watch), 0);
}

#[test]
fn count_zero_with_data_none_disables_the_whole_index() {
    let setup = connected();
    let (ours, _watch) = eventfd();
    setup
        .client
        .set_irqs(
            MSIX,
            DATA_EVENTFD | ACTION_TRIGGER,
            3,
            1,
            &[],
            &[ours.as_fd()],
        )
        .unwrap();
    setup
        .client
        .set_irqs(MSIX, DATA_NONE | ACTION_TRIGGER, 0, 0, &[], &[])
        .unwrap();
    assert!(!setup.server.peer().irqs().is_enabled(MSIX, 3));
}

#[test]
fn err_and_req_indices_take_an_eventfd_like_qemu_registers_them() {
    let setup = connected();
    for index in [irq_index::ERR, irq_index::REQ] {
        let (ours, watch) = eventfd();
        setup
            .client
            .set_irqs(
                index,
                DATA_EVENTFD | ACTION_TRIGGER,
                0,
                1,
                &[],
                &[ours.as_fd()],
            )
            .unwrap();
        setup.server.peer().irqs().trigger(index, 0).unwrap();
        assert_eq!(take_events(&watch), 1);
    }
}

#[test]
fn malformed_set_irqs_requests_are_refused_and_their_descriptors_closed() {
    let setup = connected();
    let c = &setup.client;
    let einval = Some(Errno::EINVAL);
    let (a, _) = eventfd();
    let (b, _) = eventfd();
    // Two data types, no action, out-of-range vectors and indices.
    assert_eq!(
        c.set_irqs(
            MSIX,
            DATA_NONE | DATA_BOOL | ACTION_TRIGGER,
            0,
            1,
            &[1],
            &[]
        )
        .unwrap_err()
        .errno(),
        einval
    );
    assert_eq!(
        c.set_irqs(MSIX, DATA_NONE, 0, 1, &[], &[])
            .unwrap_err()
            .errno(),
        einval
    );
    assert_eq!(
        c.set_irqs(MSIX, DATA_NONE | ACTION_TRIGGER, 3, 2, &[], &[])
            .unwrap_err()
            .errno(),
        einval
    );
    assert_eq!(
        c.set_irqs(MSIX, DATA_NONE | ACTION_TRIGGER, u32::MAX, 2, &[], &[])
            .unwrap_err()
            .errno(),
        einval
    );
    assert_eq!(
        c.set_irqs(9, DATA_NONE | ACTION_TRIGGER, 0, 1, &[], &[])
            .unwrap_err()
            .errno(),
        einval
    );
    assert_eq!(
        c.set_irqs(irq_index::INTX, DATA_NONE | ACTION_TRIGGER, 0, 1, &[], &[])
            .unwrap_err()
            .errno(),
        einval
    );
    // Descriptor count not matching the vector count, or with DATA_NONE.
    let fds = [a.as_fd(), b.as_fd()];
    assert_eq!(
        c.set_irqs(MSIX, DATA_EVENTFD | ACTION_TRIGGER, 0, 1, &[], &fds)
            .unwrap_err()
            .errno(),
        einval
    );
    assert_eq!(
        c.set_irqs(MSIX, DATA_NONE | ACTION_TRIGGER, 0, 1, &[], &fds[..1])
            .unwrap_err()
            .errno(),
        einval
    );
    // DATA_BOOL without its booleans.
    assert_eq!(
        c.set_irqs(MSIX, DATA_BOOL | ACTION_MASK, 0, 4, &[1], &[])
            .unwrap_err()
            .errno(),
        einval
    );
    assert!(!setup.server.peer().irqs().is_enabled(MSIX, 0));
}

#[test]
fn interrupts_raised_with_no_client_stay_pending_for_the_next_one() {
    let setup = setup();
    assert_eq!(
        setup.server.peer().irqs().trigger(MSIX, 0),
        Ok(Delivery::Pending)
    );
    assert_eq!(
        setup.server.peer().irqs().trigger(MSIX, 4),
        Err(IrqError::NoSuchVector {
            index: MSIX,
            vector: 4
        })
    );
}
