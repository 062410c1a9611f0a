//! The fabric: every node's adapter state and the switch between them.
//!
//! One [`Fabric`] models the whole cluster. Each node's adapter is driven by
//! its own vfio-user connection (`crate::adapter`), which forwards the
//! guest's BAR accesses here; effects on other nodes (doorbells, scratchpad
//! writes, window accesses, remote interrupts) are applied to those nodes'
//! state directly.
//!
//! # Locking
//!
//! Each node's registers sit behind that node's own mutex. No code path
//! holds two nodes' mutexes at once: a cross-node operation copies what it
//! needs out of one node, drops the lock, then locks the other. Link inputs
//! (present, enabled, forced down) are atomics so link state can be computed
//! without locks. Interrupts are raised after locks are dropped.

mod bar0;
mod chassis;
pub mod config;
mod dma;
pub mod memory;
mod rmmio;
mod state;
mod window;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub use chassis::Chassis;
pub use config::FabricConfig;
pub use memory::FabricMemory;

use crate::adapter::regs;
use rmmio::RmmioQueue;
use state::NodeRegs;

/// What the fabric needs from the thing that hosts a node's adapter (the
/// vfio-user connection to that node's QEMU).
pub trait NodeHost: Send + Sync {
    /// Raises MSI-X vector `vector` on the node.
    fn raise(&self, vector: u16);
    /// A bus-master read at the node's bus address `addr` (remote MMIO
    /// target side, DMA to local MMIO). May block; never called with a
    /// node lock held.
    fn bus_read(&self, addr: u64, buf: &mut [u8]) -> Result<(), BusError>;
    /// A bus-master write at the node's bus address `addr`.
    fn bus_write(&self, addr: u64, data: &[u8]) -> Result<(), BusError>;
    /// Where the guest placed BAR `bar` of the adapter, if it did.
    fn bar_address(&self, bar: usize) -> Option<u64>;
}

/// A bus-master access failed (no device there, the VM is gone, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusError;

/// Counters of one node (docs/adapter.md 4.1), readable by the guest and
/// by the control socket.
#[derive(Default)]
pub struct Counters {
    pub tx: AtomicU64,
    pub errors: AtomicU64,
    pub refused: AtomicU64,
    pub dma_bytes: AtomicU64,
    pub db_tx: AtomicU64,
    pub db_rx: AtomicU64,
    pub rmmio: AtomicU64,
    /// Doorbells dropped by fault injection (not a guest-visible counter).
    pub db_dropped: AtomicU64,
}

/// Faults injected into one node through the control socket.
#[derive(Default)]
pub struct Faults {
    /// The fabric holds the node's link down.
    pub link_down: AtomicBool,
    /// The node's adapter vanished: its BARs read all-ones, peers see it gone.
    pub killed: AtomicBool,
    /// Extra latency added to each of the node's BAR2 accesses, microseconds.
    pub latency_us: AtomicU32,
    /// Doorbells sent to the node are dropped.
    pub drop_doorbells: AtomicBool,
    /// Remote-MMIO reads the node performs as a target get no completion.
    pub stall_mmio: AtomicBool,
}

/// One node's adapter.
pub struct Node {
    id: usize,
    regs: Mutex<NodeRegs>,
    host: Mutex<Option<Arc<dyn NodeHost>>>,
    link_enabled: AtomicBool,
    /// Counters shown in BAR0 and over the control socket.
    pub counters: Counters,
    /// Injected faults.
    pub faults: Faults,
    rmmio: RmmioQueue,
    dma: dma::Engine,
    /// Set if the node is an expansion chassis.
    chassis: Option<Chassis>,
}

impl Node {
    fn regs(&self) -> MutexGuard<'_, NodeRegs> {
        self.regs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn host(&self) -> Option<Arc<dyn NodeHost>> {
        self.host.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether the adapter is in the fabric: a host is attached and it has
    /// not been killed.
    pub fn present(&self) -> bool {
        !self.faults.killed.load(Ordering::SeqCst)
            && self
                .host
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some()
    }

    /// Whether the node's driver has set `LINK_CTRL.ENABLE`.
    pub fn link_enabled(&self) -> bool {
        self.link_enabled.load(Ordering::SeqCst)
    }

    fn raise(&self, vector: u16) {
        if let Some(host) = self.host() {
            host.raise(vector);
        }
    }

    /// This node's id.
    pub fn id(&self) -> usize {
        self.id
    }
}

/// The whole emulated fabric.
pub struct Fabric {
    config: FabricConfig,
    memory: FabricMemory,
    nodes: Vec<Node>,
}

impl Fabric {
    /// Builds a fabric whose RAM file is `memory_path`.
    pub fn new(config: FabricConfig, memory_path: &Path) -> Result<Arc<Fabric>, String> {
        config.validate()?;
        let memory = FabricMemory::create(
            memory_path,
            config.nodes,
            config.ram_bytes,
            config.direct_shift(),
        )
        .map_err(|e| {
            format!(
                "cannot create the fabric memory {}: {e}",
                memory_path.display()
            )
        })?;
        let fabric = Arc::new_cyclic(|weak| {
            let nodes = (0..config.nodes)
                .map(|id| Node {
                    id,
                    regs: Mutex::new(NodeRegs::new(&config, id)),
                    host: Mutex::new(None),
                    link_enabled: AtomicBool::new(config.is_chassis(id)),
                    counters: Counters::default(),
                    faults: Faults::default(),
                    rmmio: RmmioQueue::new(id),
                    dma: dma::Engine::new(weak.clone(), id, config.dma_channels as usize),
                    chassis: config.is_chassis(id).then(Chassis::new),
                })
                .collect();
            Fabric {
                config,
                memory,
                nodes,
            }
        });
        Ok(fabric)
    }

    /// The configuration.
    pub fn config(&self) -> &FabricConfig {
        &self.config
    }

    /// The RAM file.
    pub fn memory(&self) -> &FabricMemory {
        &self.memory
    }

    /// Node `id`, if the fabric has it.
    pub fn node(&self, id: usize) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// Every node.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Attaches the host of node `id` (its VM connected).
    pub fn attach(&self, id: usize, host: Arc<dyn NodeHost>) {
        let Some(node) = self.node(id) else { return };
        *node.host.lock().unwrap_or_else(|e| e.into_inner()) = Some(host.clone());
        node.rmmio.set_host(Some(host));
        if let Some(ch) = &node.chassis {
            // The chassis powered on.
            ch.bump();
        }
        self.update_links();
    }

    /// Detaches node `id`'s host (its VM went away): its adapter resets and
    /// peers see its link go down.
    pub fn detach(&self, id: usize) {
        let Some(node) = self.node(id) else { return };
        *node.host.lock().unwrap_or_else(|e| e.into_inner()) = None;
        node.rmmio.set_host(None);
        self.reset(id);
    }

    /// Resets node `id`'s adapter (device reset, FLR): every RW register
    /// returns to its reset value and the link goes down (a chassis
    /// adapter's `LINK_CTRL.ENABLE` resets to 1).
    pub fn reset(&self, id: usize) {
        let Some(node) = self.node(id) else { return };
        node.dma.reset();
        node.link_enabled
            .store(self.config.is_chassis(id), Ordering::SeqCst);
        *node.regs() = NodeRegs::new(&self.config, id);
        self.update_links();
    }

    /// Whether the link between `a` and `b` is up (docs/adapter.md 3).
    pub fn link_up(&self, a: usize, b: usize) -> bool {
        let (Some(na), Some(nb)) = (self.node(a), self.node(b)) else {
            return false;
        };
        let up = |n: &Node| {
            n.present()
                && n.link_enabled.load(Ordering::SeqCst)
                && !n.faults.link_down.load(Ordering::SeqCst)
                && n.chassis.as_ref().is_none_or(Chassis::powered)
        };
        a != b && up(na) && up(nb)
    }

    /// `LINK_STATUS` of node `id`.
    pub fn link_status(&self, id: usize) -> u32 {
        let Some(node) = self.node(id) else { return 0 };
        let mut status = 0;
        for peer in 0..self.nodes.len() {
            if self.link_up(id, peer) {
                status |= 1 << peer;
            }
        }
        if node.link_enabled.load(Ordering::SeqCst) {
            status |= 1 << id;
        }
        status
    }

    /// Recomputes every node's link status after an input changed; latches
    /// `LINK_EVENT` bits and raises `LINK` where the status changed.
    pub fn update_links(&self) {
        for node in &self.nodes {
            let status = self.link_status(node.id);
            let changed = {
                let mut r = node.regs();
                let changed = (status ^ r.link_seen) & !(1 << node.id);
                r.link_seen = status;
                r.link_event |= changed;
                changed
            };
            if changed != 0 && node.present() {
                node.raise(regs::vector::LINK);
            }
        }
        self.release_lost_claims();
    }

    /// Fault injection: hold node `id`'s link down (or let it up again).
    pub fn set_link_down(&self, id: usize, down: bool) {
        if let Some(node) = self.node(id) {
            node.faults.link_down.store(down, Ordering::SeqCst);
            self.update_links();
        }
    }

    /// Fault injection: kill node `id`'s adapter, or bring it back. A killed
    /// adapter reads all-ones and its peers see its link down.
    pub fn set_killed(&self, id: usize, killed: bool) {
        if let Some(node) = self.node(id) {
            node.faults.killed.store(killed, Ordering::SeqCst);
            if killed {
                node.dma.reset();
            }
            self.update_links();
        }
    }

    /// Records error `err` at node `id` (docs/adapter.md, `ERR_STATUS`).
    fn error(&self, id: usize, err: regs::Err, addr: u64, dma: bool, target: usize) {
        let Some(node) = self.node(id) else { return };
        node.counters.errors.fetch_add(1, Ordering::Relaxed);
        let raise = {
            let mut r = node.regs();
            let first = r.err_status == 0;
            let new = r.err_status & err.bit() == 0;
            r.err_status |= err.bit();
            if first {
                r.err_addr = addr;
                r.err_info = err as u32 | (dma as u32) << 8 | (target as u32 & 0xF) << 16;
            }
            new
        };
        if raise {
            node.raise(regs::vector::ERROR);
        }
    }
}

#[cfg(test)]
mod tests;
