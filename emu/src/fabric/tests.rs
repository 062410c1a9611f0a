//! The fabric model against the datasheet, without QEMU: each test drives
//! nodes' BAR0/BAR2 as a guest would and checks what the datasheet says
//! happens, with a fake host standing in for each node's QEMU.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{BusError, Fabric, FabricConfig, NodeHost};
use crate::adapter::regs::{self, desc, dma_ctrl, dma_status, lut, vector, Err};

const BAR2: u64 = 0x80_0000_0000;
const BAR4: u64 = 0x90_0000_0000;
/// A node "device MMIO" address that is not RAM.
const MMIO: u64 = 0xFE00_0000;

/// Stands in for a node's QEMU: records interrupts, serves bus accesses
/// from a byte map, and reports fixed BAR addresses.
#[derive(Default)]
struct FakeHost {
    raised: Mutex<Vec<u16>>,
    bus: Mutex<HashMap<u64, u8>>,
    stall_reads: AtomicBool,
}

impl FakeHost {
    fn raised(&self) -> Vec<u16> {
        std::mem::take(&mut *self.raised.lock().unwrap())
    }
}

impl NodeHost for FakeHost {
    fn raise(&self, vector: u16) {
        self.raised.lock().unwrap().push(vector);
    }
    fn bus_read(&self, addr: u64, buf: &mut [u8]) -> Result<(), BusError> {
        if self.stall_reads.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(200));
        }
        let bus = self.bus.lock().unwrap();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = *bus.get(&(addr + i as u64)).ok_or(BusError)?;
        }
        Ok(())
    }
    fn bus_write(&self, addr: u64, data: &[u8]) -> Result<(), BusError> {
        let mut bus = self.bus.lock().unwrap();
        for (i, b) in data.iter().enumerate() {
            bus.insert(addr + i as u64, *b);
        }
        Ok(())
    }
    fn bar_address(&self, bar: usize) -> Option<u64> {
        match bar {
            2 => Some(BAR2),
            4 => Some(BAR4),
            _ => None,
        }
    }
}

struct World {
    f: Arc<Fabric>,
    hosts: Vec<Arc<FakeHost>>,
}

impl World {
    fn new(config: FabricConfig) -> World {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "rsio-fabric-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let f = Fabric::new(config, &path).unwrap();
        let hosts: Vec<Arc<FakeHost>> = (0..f.config().nodes)
            .map(|_| Arc::new(FakeHost::default()))
            .collect();
        for (i, h) in hosts.iter().enumerate() {
            f.attach(i, h.clone());
        }
        World { f, hosts }
    }

    fn two() -> World {
        World::new(FabricConfig {
            ram_bytes: 16 << 20,
            ..Default::default()
        })
    }

    fn r32(&self, node: usize, off: u64) -> u32 {
        let mut b = [0u8; 4];
        self.f.bar0_read(node, off, &mut b);
        u32::from_le_bytes(b)
    }
    fn w32(&self, node: usize, off: u64, v: u32) {
        self.f.bar0_write(node, off, &v.to_le_bytes());
    }
    fn w64(&self, node: usize, off: u64, v: u64) {
        self.f.bar0_write(node, off, &v.to_le_bytes());
    }
    fn links_up(&self) {
        for n in 0..self.f.config().nodes {
            self.w32(n, regs::LINK_CTRL, regs::LINK_ENABLE);
        }
        for h in &self.hosts {
            h.raised();
        }
    }
    fn peer(p: usize, reg: u64) -> u64 {
        regs::PEER_BASE + regs::PEER_STRIDE * p as u64 + reg
    }
    fn expose(&self, node: usize, w: usize, addr: u64, size: u64, peers: u32) {
        let base = regs::IW_BASE + regs::IW_STRIDE * w as u64;
        self.w64(node, base + regs::IW_ADDR, addr);
        self.w64(node, base + regs::IW_SIZE, size);
        self.w32(
            node,
            base + regs::IW_CTRL,
            regs::WIN_ENABLE | peers << regs::WIN_PEERS_SHIFT,
        );
    }
    fn map(&self, node: usize, slot: usize, kind: u32, target: usize, index: usize, offset: u64) {
        let base = regs::LUT_BASE + regs::LUT_STRIDE * slot as u64;
        self.w64(node, base + regs::LUT_OFFSET, offset);
        let ctrl = lut::VALID
            | kind << lut::KIND_SHIFT
            | (target as u32) << lut::NODE_SHIFT
            | (index as u32) << lut::INDEX_SHIFT;
        self.w32(node, base + regs::LUT_CTRL, ctrl);
    }
    fn slot(&self, slot: usize) -> u64 {
        (slot as u64) << self.f.config().slot_shift
    }
    fn ram(&self, node: usize, addr: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.f.memory().read(node, addr, &mut v).unwrap();
        v
    }
    fn err(&self, node: usize) -> u32 {
        self.r32(node, regs::ERR_STATUS)
    }
}

#[test]
fn identity_and_geometry_registers_read_as_documented() {
    let w = World::new(FabricConfig {
        nodes: 3,
        ram_bytes: 16 << 20,
        multicast: vec![0b011],
        ..Default::default()
    });
    assert_eq!(w.r32(1, regs::ID), 0x4F49_5352);
    assert_eq!(w.r32(1, regs::VERSION), 0x0001_0000);
    assert_eq!(w.r32(2, regs::NODE_ID), 2);
    assert_eq!(w.r32(0, regs::NUM_NODES), 3);
    assert_eq!(w.r32(0, regs::LUT_SLOTS), 64);
    assert_eq!(w.r32(0, regs::SLOT_SHIFT), 21);
    assert_eq!(w.r32(0, regs::DMA_CHANNELS), 2);
    assert_eq!(w.r32(0, regs::MC_GROUPS), 1);
    assert_eq!(w.r32(0, regs::MC_MEMBERS), 0b011);
    assert_eq!(w.r32(0, regs::DIRECT_SHIFT), 24);
    assert_eq!(w.r32(0, regs::DIRECT_NODES), 0b111);
    assert_eq!(
        w.r32(0, regs::CAPS),
        regs::caps::DMA | regs::caps::MULTICAST | regs::caps::DIRECT | regs::caps::REMOTE_MMIO
    );
    assert_eq!(w.r32(0, regs::RMMIO_TIMEOUT), 10_000);
    // The alias rsio-fabric's QEMU arguments place: slot 0x1e, BAR 2.
    assert_eq!(w.r32(0, regs::DIRECT_ALIAS), 1 << 31 | 2 << 8 | 0xf0);
}

#[test]
fn the_direct_alias_is_named_only_with_a_direct_window_and_the_alias_on() {
    let no_alias = World::new(FabricConfig {
        direct_alias: false,
        ..Default::default()
    });
    assert_eq!(no_alias.r32(0, regs::DIRECT_ALIAS), 0);
    let no_direct = World::new(FabricConfig {
        direct: false,
        ..Default::default()
    });
    assert_eq!(no_direct.r32(0, regs::DIRECT_ALIAS), 0);
}

#[test]
fn a_link_is_up_only_when_both_ends_enable_it_and_both_see_the_change() {
    let w = World::two();
    w.w32(0, regs::LINK_CTRL, regs::LINK_ENABLE);
    assert_eq!(w.r32(0, regs::LINK_STATUS), 0b01, "own bit only");
    assert!(w.hosts[0].raised().is_empty());
    w.w32(1, regs::LINK_CTRL, regs::LINK_ENABLE);
    assert_eq!(w.r32(0, regs::LINK_STATUS), 0b11);
    assert_eq!(w.r32(1, regs::LINK_STATUS), 0b11);
    assert_eq!(w.r32(0, regs::LINK_EVENT), 0b10);
    assert_eq!(w.hosts[0].raised(), vec![vector::LINK]);
    assert_eq!(w.hosts[1].raised(), vec![vector::LINK]);
    w.w32(0, regs::LINK_EVENT, 0b10);
    assert_eq!(w.r32(0, regs::LINK_EVENT), 0);
}

#[test]
fn the_fabric_can_hold_a_link_down_and_peers_see_it() {
    let w = World::two();
    w.links_up();
    w.f.set_link_down(1, true);
    assert_eq!(w.r32(0, regs::LINK_STATUS), 0b01);
    assert_eq!(w.r32(0, regs::LINK_EVENT), 0b10);
    assert_eq!(w.hosts[0].raised(), vec![vector::LINK]);
    w.f.set_link_down(1, false);
    assert_eq!(w.r32(0, regs::LINK_STATUS), 0b11);
}

#[test]
fn a_killed_adapter_reads_all_ones_and_its_peers_lose_the_link() {
    let w = World::two();
    w.links_up();
    w.f.set_killed(1, true);
    assert_eq!(w.r32(1, regs::ID), 0xFFFF_FFFF);
    assert_eq!(w.r32(0, regs::LINK_STATUS), 0b01);
    w.f.set_killed(1, false);
    assert_eq!(w.r32(1, regs::ID), regs::ID_VALUE);
}

#[test]
fn a_detached_node_goes_down_and_resets() {
    let w = World::two();
    w.links_up();
    w.map(1, 0, lut::KIND_MEMORY, 0, 0, 0);
    w.f.detach(1);
    assert_eq!(w.r32(0, regs::LINK_STATUS), 0b01);
    w.f.attach(1, w.hosts[1].clone());
    assert_eq!(w.r32(1, regs::LUT_BASE), 0, "LUT cleared by the reset");
    assert_eq!(w.r32(1, regs::LINK_CTRL), 0);
}

#[test]
fn a_doorbell_sets_the_peers_bits_and_interrupts_it() {
    let w = World::two();
    w.links_up();
    w.w32(0, World::peer(1, regs::PEER_PEER_DB), 0b101);
    assert_eq!(w.r32(1, World::peer(0, regs::PEER_DB)), 0b101);
    assert_eq!(w.hosts[1].raised(), vec![vector::doorbell(0)]);
    assert_eq!(
        w.r32(0, World::peer(1, regs::PEER_PEER_DB)),
        0b101,
        "peer_db_read"
    );
    // Ringing a bit that is already set does not interrupt again.
    w.w32(0, World::peer(1, regs::PEER_PEER_DB), 0b001);
    assert!(w.hosts[1].raised().is_empty());
    w.w32(1, World::peer(0, regs::PEER_DB), 0b001);
    assert_eq!(
        w.r32(1, World::peer(0, regs::PEER_DB)),
        0b100,
        "write 1 to clear"
    );
}

#[test]
fn a_masked_doorbell_latches_and_interrupts_when_unmasked() {
    let w = World::two();
    w.links_up();
    w.w32(1, World::peer(0, regs::PEER_DB_MASK), 0b1);
    w.w32(0, World::peer(1, regs::PEER_PEER_DB), 0b1);
    assert_eq!(w.r32(1, World::peer(0, regs::PEER_DB)), 0b1);
    assert!(w.hosts[1].raised().is_empty());
    w.w32(1, World::peer(0, regs::PEER_DB_MASK), 0);
    assert_eq!(w.hosts[1].raised(), vec![vector::doorbell(0)]);
}

#[test]
fn a_doorbell_to_a_peer_whose_link_is_down_is_dropped_with_an_error() {
    let w = World::two();
    w.w32(0, World::peer(1, regs::PEER_PEER_DB), 1);
    assert_eq!(w.r32(1, World::peer(0, regs::PEER_DB)), 0);
    assert_eq!(w.err(0), Err::TargetDown.bit());
    let mut addr = [0u8; 8];
    w.f.bar0_read(0, regs::ERR_ADDR, &mut addr);
    assert_eq!(
        u64::from_le_bytes(addr),
        World::peer(1, regs::PEER_PEER_DB),
        "ERR_ADDR names the access"
    );
    assert_eq!(w.hosts[0].raised(), vec![vector::ERROR]);
}

#[test]
fn injected_doorbell_drops_are_counted_not_delivered() {
    let w = World::two();
    w.links_up();
    w.f.node(1)
        .unwrap()
        .faults
        .drop_doorbells
        .store(true, Ordering::SeqCst);
    w.w32(0, World::peer(1, regs::PEER_PEER_DB), 1);
    assert_eq!(w.r32(1, World::peer(0, regs::PEER_DB)), 0);
    assert_eq!(
        w.f.node(1)
            .unwrap()
            .counters
            .db_dropped
            .load(Ordering::SeqCst),
        1
    );
}

#[test]
fn scratchpads_written_by_a_peer_are_read_locally() {
    let w = World::two();
    w.links_up();
    w.w32(0, World::peer(1, regs::PEER_PEER_SPAD + 12), 0xCAFE);
    assert_eq!(w.r32(1, World::peer(0, regs::PEER_SPAD + 12)), 0xCAFE);
    assert_eq!(w.r32(0, World::peer(1, regs::PEER_PEER_SPAD + 12)), 0xCAFE);
    w.w32(1, World::peer(0, regs::PEER_SPAD), 7);
    assert_eq!(w.r32(0, World::peer(1, regs::PEER_PEER_SPAD)), 7);
}

#[test]
fn a_write_through_a_lut_slot_lands_in_the_peers_exposed_ram() {
    let w = World::two();
    w.links_up();
    w.expose(1, 3, 0x10_0000, 0x4000, 0b01);
    w.map(0, 5, lut::KIND_MEMORY, 1, 3, 0x1000);
    w.f.bar2_write(0, w.slot(5) + 0x10, &0x1122_3344_5566_7788u64.to_le_bytes());
    assert_eq!(
        w.ram(1, 0x10_1010, 8),
        0x1122_3344_5566_7788u64.to_le_bytes()
    );
    let mut back = [0u8; 8];
    w.f.bar2_read(0, w.slot(5) + 0x10, &mut back);
    assert_eq!(u64::from_le_bytes(back), 0x1122_3344_5566_7788);
    assert_eq!(w.err(0), 0);
}

#[test]
fn an_invalid_slot_reads_all_ones_and_flags_unmapped() {
    let w = World::two();
    w.links_up();
    let mut b = [0u8; 4];
    w.f.bar2_read(0, w.slot(2), &mut b);
    assert_eq!(b, [0xFF; 4]);
    assert_eq!(w.err(0), Err::Unmapped.bit());
    assert_eq!(w.r32(0, regs::ERR_INFO) & 0xF, Err::Unmapped as u32);
}

#[test]
fn the_target_refuses_peers_it_did_not_admit_and_counts_them() {
    let w = World::new(FabricConfig {
        nodes: 3,
        ram_bytes: 16 << 20,
        ..Default::default()
    });
    w.links_up();
    w.expose(1, 0, 0x10_0000, 0x1000, 0b100); // only node 2
    w.map(0, 0, lut::KIND_MEMORY, 1, 0, 0);
    w.f.bar2_write(0, w.slot(0), &[0xAB; 4]);
    assert_eq!(w.ram(1, 0x10_0000, 4), [0; 4]);
    assert_eq!(w.err(0), Err::Refused.bit());
    assert_eq!(
        w.f.node(1).unwrap().counters.refused.load(Ordering::SeqCst),
        1
    );
    assert_eq!(w.r32(1, regs::CNT_REFUSED), 1);
}

#[test]
fn an_access_past_the_end_of_an_inbound_window_is_refused() {
    let w = World::two();
    w.links_up();
    w.expose(1, 0, 0x10_0000, 0x1000, 0b01);
    w.map(0, 0, lut::KIND_MEMORY, 1, 0, 0);
    w.f.bar2_write(0, w.slot(0) + 0xFFC, &[1; 8]);
    assert_eq!(w.err(0), Err::Refused.bit());
    w.w32(0, regs::ERR_STATUS, !0);
    w.f.bar2_write(0, w.slot(0) + 0xFF8, &[1; 8]);
    assert_eq!(w.err(0), 0);
}

#[test]
fn a_window_onto_device_mmio_becomes_remote_mmio_on_the_target() {
    let w = World::two();
    w.links_up();
    w.expose(1, 0, MMIO, 0x1000, 0b01);
    w.map(0, 1, lut::KIND_MEMORY, 1, 0, 0);
    w.f.bar2_write(0, w.slot(1) + 8, &0xDEAD_BEEFu32.to_le_bytes());
    // The read queues behind the posted write, so it sees it.
    let mut b = [0u8; 4];
    w.f.bar2_read(0, w.slot(1) + 8, &mut b);
    assert_eq!(u32::from_le_bytes(b), 0xDEAD_BEEF);
    assert_eq!(w.r32(1, regs::CNT_RMMIO), 2);
    assert_eq!(w.err(0), 0);
}

#[test]
fn a_remote_mmio_read_that_does_not_complete_times_out_with_all_ones() {
    let w = World::two();
    w.links_up();
    w.expose(1, 0, MMIO, 0x1000, 0b01);
    w.map(0, 1, lut::KIND_MEMORY, 1, 0, 0);
    w.hosts[1].stall_reads.store(true, Ordering::SeqCst);
    w.w32(0, regs::RMMIO_TIMEOUT, 20_000);
    let started = Instant::now();
    let mut b = [0u8; 4];
    w.f.bar2_read(0, w.slot(1), &mut b);
    assert!(started.elapsed() < Duration::from_millis(150));
    assert_eq!(b, [0xFF; 4]);
    assert_eq!(w.err(0), Err::RmmioTimeout.bit());
}

#[test]
fn a_stalled_target_times_remote_mmio_reads_out_and_still_takes_writes() {
    let w = World::two();
    w.links_up();
    w.expose(1, 0, MMIO, 0x1000, 0b01);
    w.map(0, 1, lut::KIND_MEMORY, 1, 0, 0);
    w.w32(0, regs::RMMIO_TIMEOUT, 30_000);
    w.f.node(1)
        .unwrap()
        .faults
        .stall_mmio
        .store(true, Ordering::SeqCst);
    w.f.bar2_write(0, w.slot(1) + 8, &0xDEAD_BEEFu32.to_le_bytes());
    let started = Instant::now();
    let mut b = [0u8; 4];
    w.f.bar2_read(0, w.slot(1), &mut b);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(30),
        "waited out the timeout: {took:?}"
    );
    assert_eq!(b, [0xFF; 4]);
    assert_eq!(w.err(0), Err::RmmioTimeout.bit());
    w.f.node(1)
        .unwrap()
        .faults
        .stall_mmio
        .store(false, Ordering::SeqCst);
    w.w32(0, regs::ERR_STATUS, Err::RmmioTimeout.bit());
    w.f.bar2_read(0, w.slot(1) + 8, &mut b);
    assert_eq!(w.err(0), 0, "reads complete again");
    assert_eq!(
        u32::from_le_bytes(b),
        0xDEAD_BEEF,
        "the write made during the stall was performed"
    );
}

#[test]
fn a_remote_mmio_bus_error_reads_all_ones_with_rmmio_fail() {
    let w = World::two();
    w.links_up();
    w.expose(1, 0, MMIO, 0x1000, 0b01);
    w.map(0, 1, lut::KIND_MEMORY, 1, 0, 0);
    let mut b = [0u8; 4];
    w.f.bar2_read(0, w.slot(1) + 0x100, &mut b); // nothing on the fake bus there
    assert_eq!(b, [0xFF; 4]);
    assert_eq!(w.err(0), Err::RmmioFail.bit());
}

#[test]
fn a_write_into_a_peers_interrupt_window_raises_its_user_vector() {
    let w = World::two();
    w.links_up();
    w.w32(
        1,
        regs::INTWIN_CTRL,
        regs::WIN_ENABLE | 0b01 << regs::WIN_PEERS_SHIFT,
    );
    w.map(0, 7, lut::KIND_INTERRUPT, 1, 0, 0);
    w.f.bar2_write(0, w.slot(7) + 4 * 3, &1u32.to_le_bytes());
    assert_eq!(w.hosts[1].raised(), vec![vector::user(3)]);
    w.w32(1, regs::INTWIN_CTRL, 0);
    w.f.bar2_write(0, w.slot(7), &1u32.to_le_bytes());
    assert!(w.hosts[1].raised().is_empty());
    assert_eq!(w.err(0), Err::Refused.bit());
}

#[test]
fn a_multicast_write_reaches_every_enabled_member() {
    let w = World::new(FabricConfig {
        nodes: 3,
        ram_bytes: 16 << 20,
        multicast: vec![0b110],
        ..Default::default()
    });
    w.links_up();
    for (n, addr) in [(1, 0x20_0000u64), (2, 0x30_0000)] {
        w.w64(n, regs::MC_BASE + regs::MC_ADDR, addr);
        w.w64(n, regs::MC_BASE + regs::MC_SIZE, 0x1000);
        w.w32(n, regs::MC_BASE + regs::MC_CTRL, regs::WIN_ENABLE);
    }
    w.map(0, 0, lut::KIND_MULTICAST, 0, 0, 0x100);
    w.f.bar2_write(0, w.slot(0) + 8, &[0x5A; 8]);
    assert_eq!(w.ram(1, 0x20_0108, 8), [0x5A; 8]);
    assert_eq!(w.ram(2, 0x30_0108, 8), [0x5A; 8]);
    assert_eq!(w.err(0), 0);
    // A member that stops receiving misses the next write: the sender knows.
    w.w32(2, regs::MC_BASE + regs::MC_CTRL, 0);
    w.f.bar2_write(0, w.slot(0), &[1; 4]);
    assert_eq!(w.err(0), Err::Multicast.bit());
}

#[test]
fn bad_register_accesses_are_flagged_and_ignored() {
    let w = World::two();
    w.w32(0, regs::ID, 5);
    assert_eq!(w.err(0), Err::BadReg.bit());
    w.w32(0, regs::ERR_STATUS, !0);
    let mut b = [0u8; 2];
    w.f.bar0_read(0, regs::NODE_ID, &mut b);
    assert_eq!(b, [0, 0]);
    assert_eq!(w.err(0), Err::BadReg.bit());
    w.w32(0, regs::ERR_STATUS, !0);
    w.w32(0, regs::LUT_BASE, 1 << 30); // undefined LUT_CTRL bit
    assert_eq!(w.err(0), Err::BadReg.bit());
}

/// Writes a DMA descriptor into node 0's RAM.
fn descriptor(w: &World, ring: u64, index: u64, src: u64, dst: u64, len: u32, flags: u32) {
    let mut d = [0u8; 32];
    d[desc::SRC..desc::SRC + 8].copy_from_slice(&src.to_le_bytes());
    d[desc::DST..desc::DST + 8].copy_from_slice(&dst.to_le_bytes());
    d[desc::LEN..desc::LEN + 4].copy_from_slice(&len.to_le_bytes());
    d[desc::FLAGS..desc::FLAGS + 4].copy_from_slice(&flags.to_le_bytes());
    w.f.memory().write(0, ring + index * 32, &d).unwrap();
}

fn start_dma(w: &World, ring: u64, size: u32, head: u32) {
    let ch = regs::DMA_BASE;
    w.w64(0, ch + regs::DMA_RING, ring);
    w.w32(0, ch + regs::DMA_RING_SIZE, size);
    w.w32(
        0,
        ch + regs::DMA_CTRL,
        dma_ctrl::ENABLE | dma_ctrl::INT_ENABLE,
    );
    w.w32(0, ch + regs::DMA_HEAD, head);
}

fn wait_tail(w: &World, want: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if w.r32(0, regs::DMA_BASE + regs::DMA_TAIL) == want
            || w.r32(0, regs::DMA_BASE + regs::DMA_STATUS) & dma_status::ERROR != 0
        {
            return w.r32(0, regs::DMA_BASE + regs::DMA_TAIL) == want;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

#[test]
fn the_dma_engine_copies_to_a_peer_through_both_windows_and_reports_completion() {
    let w = World::two();
    w.links_up();
    let pattern: Vec<u8> = (0..8192u32).map(|i| (i * 7) as u8).collect();
    w.f.memory().write(0, 0x40_0000, &pattern).unwrap();
    w.expose(1, 0, 0x20_0000, 0x10000, 0b01);
    w.map(0, 0, lut::KIND_MEMORY, 1, 0, 0);
    let ring = 0x10_0000;
    // Through the direct window (BAR4), then through the LUT (BAR2).
    let b4 = BAR4 + (1 << w.f.config().direct_shift()) + 0x50_0000;
    descriptor(&w, ring, 0, 0x40_0000, b4, 8192, 0);
    descriptor(
        &w,
        ring,
        1,
        0x40_0000,
        BAR2 + 0x100,
        8192,
        desc::FLAG_INTERRUPT,
    );
    start_dma(&w, ring, 4, 2);
    assert!(wait_tail(&w, 2), "the ring must drain");
    assert_eq!(w.ram(1, 0x50_0000, 8192), pattern);
    assert_eq!(w.ram(1, 0x20_0100, 8192), pattern);
    assert_eq!(w.ram(0, ring + 0x18, 4), desc::RESULT_OK.to_le_bytes());
    assert_eq!(w.ram(0, ring + 32 + 0x18, 4), desc::RESULT_OK.to_le_bytes());
    assert_eq!(
        w.r32(0, regs::DMA_BASE + regs::DMA_STATUS) & dma_status::DONE,
        dma_status::DONE
    );
    assert_eq!(w.hosts[0].raised(), vec![vector::dma(0)]);
    assert_eq!(w.r32(0, regs::CNT_DMA_BYTES), 16384);
}

#[test]
fn a_failing_descriptor_stops_the_channel_with_its_index_and_code() {
    let w = World::two();
    w.links_up();
    let ring = 0x10_0000;
    descriptor(&w, ring, 0, 0x40_0000, 0x50_0000, 64, 0);
    descriptor(&w, ring, 1, 0x40_0000, BAR2, 64, 0); // slot 0 not mapped
    descriptor(&w, ring, 2, 0x40_0000, 0x50_0000, 64, 0);
    start_dma(&w, ring, 4, 3);
    assert!(!wait_tail(&w, 3));
    let ch = regs::DMA_BASE;
    assert_eq!(w.r32(0, ch + regs::DMA_TAIL), 1);
    assert_eq!(w.r32(0, ch + regs::DMA_ERR_INDEX), 1);
    assert_eq!(w.r32(0, ch + regs::DMA_ERR_CODE), regs::dma_err::DST);
    assert_eq!(
        w.ram(0, ring + 32 + 0x18, 4),
        (desc::RESULT_ERR | regs::dma_err::DST).to_le_bytes()
    );
    assert_ne!(w.err(0) & Err::Dma.bit(), 0);
}

#[test]
fn a_dma_write_to_a_multicast_group_completes_when_a_member_misses_it() {
    let w = World::new(FabricConfig {
        nodes: 3,
        ram_bytes: 16 << 20,
        multicast: vec![0b111],
        ..Default::default()
    });
    w.links_up();
    // Node 1 receives, node 2 (a member) does not, node 0 sends.
    w.w64(1, regs::MC_BASE + regs::MC_ADDR, 0x20_0000);
    w.w64(1, regs::MC_BASE + regs::MC_SIZE, 0x1000);
    w.w32(1, regs::MC_BASE + regs::MC_CTRL, regs::WIN_ENABLE);
    w.map(0, 0, lut::KIND_MULTICAST, 0, 0, 0);
    w.f.memory().write(0, 0x40_0000, &[0xA5; 64]).unwrap();
    let ring = 0x10_0000;
    descriptor(&w, ring, 0, 0x40_0000, BAR2 + 0x80, 64, 0);
    start_dma(&w, ring, 4, 1);
    assert!(
        wait_tail(&w, 1),
        "a missed member does not stop the channel"
    );
    assert_eq!(w.ram(1, 0x20_0080, 64), [0xA5; 64]);
    assert_eq!(w.ram(0, ring + 0x18, 4), desc::RESULT_OK.to_le_bytes());
    assert_eq!(w.err(0) & Err::Multicast.bit(), Err::Multicast.bit());
}

#[test]
fn a_zero_length_descriptor_is_a_length_error() {
    let w = World::two();
    let ring = 0x10_0000;
    descriptor(&w, ring, 0, 0x40_0000, 0x50_0000, 0, 0);
    start_dma(&w, ring, 4, 1);
    assert!(!wait_tail(&w, 1));
    assert_eq!(
        w.r32(0, regs::DMA_BASE + regs::DMA_ERR_CODE),
        regs::dma_err::LEN
    );
}

#[test]
fn a_device_reset_clears_the_translation_state() {
    let w = World::two();
    w.links_up();
    w.expose(0, 1, 0x1000, 0x1000, 0b10);
    w.map(0, 1, lut::KIND_MEMORY, 1, 0, 0);
    w.f.reset(0);
    assert_eq!(w.r32(0, regs::IW_BASE + regs::IW_STRIDE + regs::IW_CTRL), 0);
    assert_eq!(w.r32(0, regs::LUT_BASE + regs::LUT_STRIDE), 0);
    assert_eq!(w.r32(1, regs::LINK_STATUS), 0b10, "node 0 left the fabric");
}

#[test]
fn a_message_lands_in_the_peers_inbound_register_with_its_source() {
    let w = World::new(FabricConfig {
        nodes: 3,
        ram_bytes: 16 << 20,
        ..Default::default()
    });
    w.links_up();
    w.w32(2, World::peer(1, regs::PEER_MSG + 4), 0xABCD);
    assert_eq!(w.r32(1, regs::MSG_STS), regs::msg_in_bit(1));
    assert_eq!(w.r32(1, regs::MSG_IN + 8), 0xABCD);
    assert_eq!(w.r32(1, regs::MSG_IN + 8 + 4), 2, "source node");
    assert_eq!(w.hosts[1].raised(), vec![vector::MESSAGE]);
    w.w32(1, regs::MSG_STS, regs::msg_in_bit(1));
    assert_eq!(w.r32(1, regs::MSG_STS), 0);
}

#[test]
fn a_message_to_a_full_register_fails_at_the_sender() {
    let w = World::two();
    w.links_up();
    w.w32(0, World::peer(1, regs::PEER_MSG), 1);
    w.w32(0, World::peer(1, regs::PEER_MSG), 2);
    assert_eq!(w.r32(1, regs::MSG_IN), 1, "the first message is kept");
    assert_eq!(w.r32(0, regs::MSG_STS), regs::msg_out_fail_bit(0));
    assert_eq!(w.hosts[0].raised(), vec![vector::MESSAGE]);
}

#[test]
fn a_masked_message_interrupts_when_unmasked() {
    let w = World::two();
    w.links_up();
    w.w32(1, regs::MSG_MASK, regs::MSG_STS_BITS);
    w.w32(0, World::peer(1, regs::PEER_MSG + 12), 9);
    assert!(w.hosts[1].raised().is_empty());
    w.w32(1, regs::MSG_MASK, 0);
    assert_eq!(w.hosts[1].raised(), vec![vector::MESSAGE]);
}

#[test]
fn a_dma_past_the_end_of_a_peers_ram_is_a_destination_error_naming_the_peer() {
    // 24 MiB of RAM in a 32 MiB span: the end of RAM is inside the window.
    let w = World::new(FabricConfig {
        ram_bytes: 24 << 20,
        ..Default::default()
    });
    w.links_up();
    let ring = 0x10_0000;
    let past = BAR4 + (1 << w.f.config().direct_shift()) + w.f.config().ram_bytes - 16;
    descriptor(&w, ring, 0, 0x40_0000, past, 64, 0);
    start_dma(&w, ring, 4, 1);
    assert!(!wait_tail(&w, 1));
    assert_eq!(
        w.r32(0, regs::DMA_BASE + regs::DMA_ERR_CODE),
        regs::dma_err::DST
    );
    assert_eq!((w.r32(0, regs::ERR_INFO) >> 16) & 0xF, 1, "the target node");
}

#[test]
fn the_dma_engine_ignores_link_state_in_the_direct_window_like_the_cpu() {
    let w = World::two();
    w.f.memory().write(0, 0x40_0000, &[9; 64]).unwrap();
    let b4 = BAR4 + (1 << w.f.config().direct_shift()) + 0x50_0000;
    let ring = 0x10_0000;
    descriptor(&w, ring, 0, 0x40_0000, b4, 64, 0);
    start_dma(&w, ring, 4, 1);
    assert!(
        wait_tail(&w, 1),
        "links are down, the direct window still works"
    );
    assert_eq!(w.ram(1, 0x50_0000, 64), [9; 64]);
}

// Expansion chassis (docs/adapter.md section 12).

use crate::chassis as ch;
use regs::mgmt;

/// Node 0 a chassis, nodes 1 and 2 hosts.
fn chassis_world() -> World {
    World::new(FabricConfig {
        nodes: 3,
        ram_bytes: 16 << 20,
        chassis: 0b001,
        ..Default::default()
    })
}

impl World {
    /// Maps slot `slot` of host `host` onto the chassis's management block.
    fn map_mgmt(&self, host: usize, slot: usize) {
        self.map(host, slot, lut::KIND_MEMORY, 0, mgmt::WINDOW, 0);
    }
    fn mgmt_r32(&self, host: usize, slot: usize, off: u64) -> u32 {
        let mut b = [0u8; 4];
        self.f.bar2_read(host, self.slot(slot) + off, &mut b);
        u32::from_le_bytes(b)
    }
    fn mgmt_w32(&self, host: usize, slot: usize, off: u64, v: u32) {
        self.f
            .bar2_write(host, self.slot(slot) + off, &v.to_le_bytes());
    }
    /// Puts a PCIe root port at chassis bus 0 device `dev` on the fake
    /// bus: an MSI capability at 0x40, then PCI Express at 0x60, slot
    /// occupied, powered, indicator on.
    fn fake_root_port(&self, chassis: usize, dev: u8) {
        let put = |reg: u16, v: u32| {
            self.hosts[chassis]
                .bus_write(ch::ecam(dev, reg), &v.to_le_bytes())
                .unwrap()
        };
        put(0x00, 0x000C_1B36);
        put(0x04, 0x0010_0000);
        put(0x34, 0x40);
        put(0x40, 0x0000_6005);
        put(0x60, 0x0042_0010);
        put(0x78, 0x0040_01C0);
    }
    fn slot_ctl(&self, chassis: usize, dev: u8) -> u16 {
        let mut b = [0u8; 2];
        self.hosts[chassis]
            .bus_read(ch::ecam(dev, 0x78), &mut b)
            .unwrap();
        u16::from_le_bytes(b)
    }
}

#[test]
fn every_adapter_names_the_chassis_and_the_chassis_says_it_is_one() {
    let w = chassis_world();
    for n in 0..3 {
        assert_eq!(w.r32(n, regs::CHASSIS_NODES), 0b001);
    }
    assert_ne!(w.r32(0, regs::CAPS) & regs::caps::CHASSIS, 0);
    assert_eq!(w.r32(1, regs::CAPS) & regs::caps::CHASSIS, 0);
    assert_eq!(
        w.r32(0, regs::CAPS) & !regs::caps::CHASSIS,
        w.r32(1, regs::CAPS)
    );
    assert_eq!(World::two().r32(0, regs::CHASSIS_NODES), 0);
}

#[test]
fn a_chassis_link_is_enabled_from_reset_and_comes_up_with_each_host() {
    let w = chassis_world();
    assert_eq!(w.r32(0, regs::LINK_CTRL), 1);
    assert_eq!(w.r32(1, regs::LINK_CTRL), 0);
    assert_eq!(w.r32(0, regs::LINK_STATUS), 0b001);
    w.w32(1, regs::LINK_CTRL, regs::LINK_ENABLE);
    assert_eq!(w.r32(1, regs::LINK_STATUS), 0b011);
    assert_eq!(w.r32(0, regs::LINK_STATUS), 0b011);
    w.f.reset(0);
    assert_eq!(w.r32(0, regs::LINK_CTRL), 1, "ENABLE resets to 1");
    assert_eq!(w.r32(1, regs::LINK_STATUS), 0b011);
}

#[test]
fn a_chassis_adapter_resets_with_its_windows_and_interrupt_slots_preset() {
    let w = chassis_world();
    let iw = |win: u64, reg: u64| {
        let off = regs::IW_BASE + regs::IW_STRIDE * win + reg;
        u64::from(w.r32(0, off)) | u64::from(w.r32(0, off + 4)) << 32
    };
    let everyone = u64::from(regs::WIN_ENABLE | 0b111 << regs::WIN_PEERS_SHIFT);
    assert_eq!(iw(0, regs::IW_CTRL) & 0xFFFF_FFFF, everyone);
    assert_eq!(iw(0, regs::IW_ADDR), 0);
    assert_eq!(iw(0, regs::IW_SIZE), 1 << 41);
    assert_eq!(iw(1, regs::IW_CTRL) & 0xFFFF_FFFF, everyone);
    assert_eq!(iw(1, regs::IW_SIZE), 4096);
    assert_eq!(iw(2, regs::IW_CTRL), 0);
    for h in 0..3u32 {
        let ctrl = w.r32(0, regs::LUT_BASE + regs::LUT_STRIDE * u64::from(h));
        assert_eq!(
            ctrl,
            lut::VALID | lut::KIND_INTERRUPT << lut::KIND_SHIFT | h << 8
        );
    }
    assert_eq!(w.r32(0, regs::LUT_BASE + regs::LUT_STRIDE * 3), 0);
    // A host's adapter has none of it.
    assert_eq!(w.r32(1, regs::IW_BASE), 0);
    assert_eq!(w.r32(1, regs::LUT_BASE), 0);
    // The presets survive a reset of the chassis adapter.
    w.f.reset(0);
    assert_eq!(iw(0, regs::IW_SIZE), 1 << 41);
}

#[test]
fn hosts_reach_chassis_ram_and_mmio_through_window_0() {
    let w = chassis_world();
    w.links_up();
    w.map(1, 2, lut::KIND_MEMORY, 0, 0, 0x1000);
    w.f.bar2_write(1, w.slot(2) + 8, &0xABCDu32.to_le_bytes());
    assert_eq!(w.ram(0, 0x1008, 4), 0xABCDu32.to_le_bytes());
    // ECAM of the chassis: remote MMIO on the chassis's bus.
    w.fake_root_port(0, 4);
    w.map(1, 3, lut::KIND_MEMORY, 0, 0, ch::ecam(4, 0));
    let mut b = [0u8; 4];
    w.f.bar2_read(1, w.slot(3), &mut b);
    assert_eq!(u32::from_le_bytes(b), 0x000C_1B36);
    assert_eq!(w.err(1), 0);
}

#[test]
fn the_management_block_reports_the_chassis_geometry_read_only() {
    let w = chassis_world();
    w.links_up();
    w.map_mgmt(1, 5);
    let r = |off| w.mgmt_r32(1, 5, off);
    let r64 = |off| u64::from(r(off)) | u64::from(r(off + 4)) << 32;
    assert_eq!(r(mgmt::CH_ID), 0x5353_4843);
    assert_eq!(r64(mgmt::MSI_BASE), 0x40_0000_0000);
    assert_eq!(r64(mgmt::DMA_BASE), 0x20_0000_0000);
    assert_eq!(r64(mgmt::DMA_SIZE), w.f.config().bar4_size());
    assert_eq!(r(mgmt::DIRECT_SHIFT), 24);
    assert_eq!(r(mgmt::SLOT_SHIFT), 21);
    assert_eq!(r64(mgmt::ECAM_BASE), 0xB000_0000);
    assert_eq!(
        r(mgmt::GENERATION),
        1,
        "the chassis powered on when it attached"
    );
    assert_eq!(r(0x800), 0);
    // 8-byte reads are register pairs.
    let mut b = [0u8; 8];
    w.f.bar2_read(1, w.slot(5) + mgmt::MSI_BASE, &mut b);
    assert_eq!(u64::from_le_bytes(b), 0x40_0000_0000);
    // Writes of read-only registers change nothing.
    for off in [mgmt::CH_ID, mgmt::MSI_BASE, mgmt::GENERATION, 0x800] {
        w.mgmt_w32(1, 5, off, 0x1234);
    }
    assert_eq!(r(mgmt::CH_ID), 0x5353_4843);
    assert_eq!(r64(mgmt::MSI_BASE), 0x40_0000_0000);
    assert_eq!(r(mgmt::GENERATION), 1);
    assert_eq!(w.err(1), 0);
    // Past the block's 4 KiB the window refuses.
    w.mgmt_r32(1, 5, 4096);
    assert_eq!(w.err(1), Err::Refused.bit());
    // Nothing reaches the chassis's QEMU.
    assert_eq!(
        w.f.node(0).unwrap().counters.rmmio.load(Ordering::SeqCst),
        0
    );
}

#[test]
fn slots_are_claimed_by_one_host_and_released_only_by_it() {
    let w = chassis_world();
    w.links_up();
    w.map_mgmt(1, 5);
    w.map_mgmt(2, 5);
    let owner = |d: u64| w.mgmt_r32(1, 5, mgmt::SLOT_OWNER + 4 * d);
    assert_eq!(owner(4), 0, "free");
    w.mgmt_w32(1, 5, mgmt::SLOT_OWNER + 16, mgmt::CLAIM);
    assert_eq!(owner(4), 0x8000_0001);
    w.mgmt_w32(2, 5, mgmt::SLOT_OWNER + 16, mgmt::CLAIM);
    assert_eq!(
        owner(4),
        0x8000_0001,
        "a claim of a taken slot changes nothing"
    );
    w.mgmt_w32(2, 5, mgmt::SLOT_OWNER + 16, mgmt::RELEASE);
    assert_eq!(owner(4), 0x8000_0001, "only the owner releases");
    w.mgmt_w32(1, 5, mgmt::SLOT_OWNER + 16, 7);
    assert_eq!(owner(4), 0x8000_0001, "other values are ignored");
    w.mgmt_w32(1, 5, mgmt::SLOT_OWNER + 16, mgmt::RELEASE);
    assert_eq!(owner(4), 0);
    w.mgmt_w32(2, 5, mgmt::SLOT_OWNER + 16, mgmt::CLAIM);
    assert_eq!(owner(4), 0x8000_0002);
    w.mgmt_w32(1, 5, mgmt::SLOT_OWNER + 4 * 31, mgmt::CLAIM);
    assert_eq!(owner(31), 0x8000_0001);
    assert_eq!(
        w.f.chassis(0).unwrap().owners_map(),
        [(4, 2), (31, 1)].into_iter().collect()
    );
}

#[test]
fn concurrent_claims_of_one_slot_have_one_winner() {
    let w = Arc::new(chassis_world());
    w.links_up();
    w.map_mgmt(1, 5);
    w.map_mgmt(2, 5);
    for d in 0..32u64 {
        let threads: Vec<_> = [1, 2]
            .map(|host| {
                let w = w.clone();
                std::thread::spawn(move || {
                    w.mgmt_w32(host, 5, mgmt::SLOT_OWNER + 4 * d, mgmt::CLAIM)
                })
            })
            .into_iter()
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let owner = w.mgmt_r32(1, 5, mgmt::SLOT_OWNER + 4 * d);
        assert!(owner == 0x8000_0001 || owner == 0x8000_0002, "{owner:#x}");
    }
}

#[test]
fn a_hosts_claims_are_released_when_its_link_to_the_chassis_goes_down() {
    let w = chassis_world();
    w.links_up();
    w.map_mgmt(1, 5);
    w.map_mgmt(2, 5);
    let claim = |host: usize, d: u64| w.mgmt_w32(host, 5, mgmt::SLOT_OWNER + 4 * d, mgmt::CLAIM);
    let owners = || w.f.chassis(0).unwrap().owners_map();
    claim(1, 4);
    claim(2, 5);
    // Host 1 disables its link.
    w.w32(1, regs::LINK_CTRL, 0);
    assert_eq!(owners(), [(5, 2)].into_iter().collect());
    // Host 2's adapter resets (and its LUT with it).
    w.w32(1, regs::LINK_CTRL, regs::LINK_ENABLE);
    claim(1, 4);
    w.f.reset(2);
    assert_eq!(owners(), [(4, 1)].into_iter().collect());
    // Host 1 dies.
    w.f.set_killed(1, true);
    assert!(owners().is_empty());
    w.f.set_killed(1, false);
    claim(1, 4);
    // The fabric holds host 1's link down.
    w.f.set_link_down(1, true);
    assert!(owners().is_empty());
    // A host whose link is down cannot claim (its access fails at once).
    claim(1, 6);
    assert!(owners().is_empty());
    assert_ne!(w.err(1) & Err::TargetDown.bit(), 0);
}

#[test]
fn a_chassis_device_raises_a_hosts_user_vector_through_the_preset_slot() {
    let w = chassis_world();
    w.links_up();
    w.w32(
        2,
        regs::INTWIN_CTRL,
        regs::WIN_ENABLE | 0b001 << regs::WIN_PEERS_SHIFT,
    );
    // A chassis device's MSI write: MSI_BASE + (2 << SLOT_SHIFT) + 4 * 5,
    // which reaches the chassis adapter as a BAR2 write at that offset.
    w.f.bar2_write(0, w.slot(2) + 4 * 5, &0u32.to_le_bytes());
    assert_eq!(w.hosts[2].raised(), vec![vector::user(5)]);
    // Host 1 did not open its interrupt window: refused at the chassis.
    w.f.bar2_write(0, w.slot(1) + 4 * 5, &0u32.to_le_bytes());
    assert!(w.hosts[1].raised().is_empty());
    assert_eq!(w.err(0), Err::Refused.bit());
}

#[test]
fn chassis_power_through_the_control_protocol() {
    use crate::control::respond;
    let w = chassis_world();
    w.links_up();
    w.fake_root_port(0, 4);
    w.fake_root_port(0, 6);
    // Port 6's slot is empty: not populated, left alone.
    w.hosts[0]
        .bus_write(ch::ecam(6, 0x7A), &0u16.to_le_bytes())
        .unwrap();
    w.map_mgmt(1, 5);
    w.mgmt_w32(1, 5, mgmt::SLOT_OWNER + 16, mgmt::CLAIM);
    let ctl = |line: &str| respond(&w.f, line.as_bytes()).reply.to_json();

    let reply = ctl("chassis-power 0 off");
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["node"]["chassis"]["powered"], false);
    assert_eq!(reply["node"]["chassis"]["owners"], serde_json::json!({}));
    assert_eq!(w.r32(1, regs::LINK_STATUS), 0b110, "the chassis is down");
    assert_eq!(w.r32(2, regs::LINK_STATUS), 0b110);
    assert_ne!(w.r32(1, regs::LINK_EVENT) & 1, 0);
    assert!(w.hosts[1].raised().contains(&vector::LINK));
    assert_eq!(w.slot_ctl(0, 4), 0x06C0, "powered off, indicator blinking");
    assert_eq!(w.slot_ctl(0, 6), 0x01C0, "an empty slot is left alone");
    assert_eq!(w.mgmt_r32(1, 5, mgmt::CH_ID), !0);
    assert_ne!(w.err(1) & Err::TargetDown.bit(), 0);

    let generation = w.f.chassis(0).unwrap().generation();
    let reply = ctl("chassis-power 0 on");
    assert_eq!(reply["node"]["chassis"]["powered"], true);
    assert_eq!(w.r32(1, regs::LINK_STATUS), 0b111);
    assert_eq!(w.slot_ctl(0, 4), 0x01C0, "powered on, indicator on");
    assert!(w.mgmt_r32(1, 5, mgmt::GENERATION) > generation);

    let before = w.mgmt_r32(1, 5, mgmt::GENERATION);
    assert_eq!(ctl("slot-power 0 4 off")["ok"], true);
    assert_eq!(w.slot_ctl(0, 4), 0x07C0);
    assert_eq!(w.mgmt_r32(1, 5, mgmt::GENERATION), before + 1);
    assert_eq!(ctl("slot-power 0 4 on")["ok"], true);
    assert_eq!(w.slot_ctl(0, 4), 0x01C0);

    // Errors: no device, no PCIe capability, not a chassis, not connected.
    let refused = |line: &str| {
        let reply = ctl(line);
        assert_eq!(reply["ok"], false, "{line}: {reply}");
        assert_eq!(reply["kind"], "refused");
        reply["error"].as_str().unwrap().to_owned()
    };
    // An absent function reads all-ones through the ECAM.
    w.hosts[0].bus_write(ch::ecam(9, 0), &[0xFF; 4]).unwrap();
    assert!(refused("slot-power 0 9 on").contains("no device at 00:09.0"));
    assert!(refused("slot-power 0 10 on").contains("read at 0xb0050000 failed"));
    w.hosts[0]
        .bus_write(ch::ecam(4, 0x04), &0u32.to_le_bytes())
        .unwrap();
    assert!(refused("slot-power 0 4 on").contains("no PCI Express capability"));
    assert!(refused("chassis-power 1 off").contains("not a chassis"));
    w.f.detach(0);
    assert!(refused("slot-power 0 4 on").contains("not connected"));
    let status = ctl("status");
    assert_eq!(status["config"]["chassis"], serde_json::json!([0]));
    assert!(status["nodes"][1].get("chassis").is_none());
}
