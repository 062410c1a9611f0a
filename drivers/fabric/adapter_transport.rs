// SPDX-License-Identifier: GPL-2.0

//! The core over an rsio adapter, through rsio_ntb's fabric interface
//! (docs/ntb-driver.md): [`AdapterClient`] is rsio_ntb's client and starts
//! a cluster on the first adapter; [`AdapterTransport`] implements
//! [`Transport`] with the adapter's resources.
//!
//! Bootstrap needs no negotiation: every node opens inbound window
//! `IN_WINDOWS / 2` (the first of the core's half) onto its mailbox, one
//! receive ring per sender, sender `s` at `s * RING_SIZE`, open to every
//! node. A sender reaches its ring in a peer's mailbox with one LUT slot,
//! and notifies with a remote interrupt `USER(sender id)` through an
//! `INTERRUPT` slot (the interrupt window is open to every node).

use crate::cluster::{Cluster, Sink};
use crate::logic::maps::{self, slot_plan};
use crate::logic::ring;
use crate::registry;
use crate::transport::{Events, Grant, MailboxInfo, Mapping, Transport, TransportInfo, RING_SIZE};
use crate::uapi;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex, SpinLockIrq};
use kernel::{new_mutex, new_spinlock_irq};
use rsio_ntb::adapter::{Adapter, Client, LinkUser};
use rsio_ntb::buffer::DmaBuffer;
use rsio_ntb::inbound::{InboundWindow, InterruptWindow};
use rsio_ntb::lut::{LutMapping, LutRange};

/// The path to one peer: its ring for us and its interrupt window.
struct PeerPath {
    ring: LutMapping<LutRange>,
    irq: LutMapping<LutRange>,
}

/// See the module documentation.
#[pin_data(PinnedDrop)]
pub(crate) struct AdapterTransport {
    adapter: Arc<Adapter>,
    info: TransportInfo,
    mailbox: DmaBuffer,
    mailbox_window: InboundWindow,
    _interrupts: InterruptWindow,
    #[pin]
    peers: Mutex<[Option<PeerPath>; crate::cluster::MAX_NODES]>,
}

impl AdapterTransport {
    /// Opens the mailbox and the interrupt window and asks for the link.
    fn new(adapter: &Arc<Adapter>) -> Result<Arc<Self>> {
        let a = adapter.info();
        if a.num_nodes > uapi::RSIO_MAX_NODES || a.in_windows < 2 || a.lut_slots < 2 {
            return Err(ENODEV);
        }
        let others = a.all_nodes() & !(1 << a.node_id);
        let mailbox = rsio_ntb::buffer::alloc(adapter, a.num_nodes as usize * RING_SIZE)?;
        for s in 0..a.num_nodes as usize {
            mailbox.write(
                s * RING_SIZE + ring::MAGIC_OFF,
                &ring::RING_MAGIC.to_le_bytes(),
            )?;
        }
        let mailbox_window = InboundWindow::alloc_at(adapter, a.in_windows / 2)?;
        mailbox_window.open(mailbox.bus_addr(), mailbox.len() as u64, others)?;
        let interrupts = InterruptWindow::claim(adapter)?;
        // The own node too: a local device's MSI may loop back through an
        // `INTERRUPT` slot to this node's `USER(k)` (NVMe sharing's client
        // on the manager's node).
        interrupts.allow(a.all_nodes())?;
        adapter.set_link(LinkUser::Core, true)?;
        let info = TransportInfo {
            kind: uapi::RSIO_TRANSPORT_ADAPTER,
            node_id: a.node_id,
            num_nodes: a.num_nodes,
            caps: a.caps.bits(),
            // What the NTB device leaves; the mailbox takes a window.
            map_entries: adapter.core_share().0,
            grant_windows: adapter.core_share().1.saturating_sub(1),
        };
        Arc::pin_init(
            try_pin_init!(Self {
                adapter: adapter.clone(),
                info,
                mailbox,
                mailbox_window,
                _interrupts: interrupts,
                peers <- new_mutex!(
                    [const { None }; crate::cluster::MAX_NODES],
                    "rsio_fabric::AdapterTransport::peers"
                ),
            }),
            GFP_KERNEL,
        )
    }

    fn check_peer(&self, peer: u32) -> Result<usize> {
        if peer < self.info.num_nodes && peer != self.info.node_id {
            Ok(peer as usize)
        } else {
            Err(EINVAL)
        }
    }

    fn ring_offset(&self, peer: u32, offset: usize, len: usize) -> Result<usize> {
        let p = self.check_peer(peer)?;
        if offset.checked_add(len).is_none_or(|e| e > RING_SIZE) {
            return Err(EINVAL);
        }
        Ok(p * RING_SIZE + offset)
    }

    fn with_path<R>(&self, peer: u32, f: impl FnOnce(&PeerPath) -> Result<R>) -> Result<R> {
        let p = self.check_peer(peer)?;
        let peers = self.peers.lock();
        f(peers[p].as_ref().ok_or(ENOTCONN)?)
    }
}

#[pinned_drop]
impl PinnedDrop for AdapterTransport {
    fn drop(self: Pin<&mut Self>) {
        // Closing to peers first: the fields' drops close the windows.
        let _ = self.mailbox_window.close();
        let _ = self.adapter.set_link(LinkUser::Core, false);
    }
}

impl Transport for AdapterTransport {
    fn info(&self) -> TransportInfo {
        self.info
    }

    fn name(&self) -> &CStr {
        self.adapter.name()
    }

    fn link_mask(&self) -> u32 {
        // An expansion chassis runs no fabric core: not a member.
        self.adapter.link_status().unwrap_or(0)
            & !(1 << self.info.node_id)
            & !self.adapter.info().chassis_nodes
    }

    fn error_counters(&self) -> (u64, u64) {
        self.adapter
            .counters()
            .map_or((0, 0), |c| (c.refused, c.errors))
    }

    fn mailbox(&self) -> Option<MailboxInfo> {
        Some(MailboxInfo {
            fabric_addr: maps::fabric_addr(self.mailbox_window.index(), 0),
            bus_addr: self.mailbox.bus_addr(),
            len: self.mailbox.len() as u64,
            peers: self.adapter.info().all_nodes() & !(1 << self.info.node_id),
            hw_index: self.mailbox_window.index(),
        })
    }

    fn rx_read(&self, peer: u32, offset: usize, buf: &mut [u8]) -> Result {
        let at = self.ring_offset(peer, offset, buf.len())?;
        self.mailbox.read(at, buf)
    }

    fn rx_write(&self, peer: u32, offset: usize, data: &[u8]) -> Result {
        let at = self.ring_offset(peer, offset, data.len())?;
        self.mailbox.write(at, data)
    }

    fn connect(&self, peer: u32) -> Result {
        let p = self.check_peer(peer)?;
        if self.peers.lock()[p].is_some() {
            return Ok(());
        }
        let me = u64::from(self.info.node_id);
        let rr = LutRange::alloc(&self.adapter, 1)?;
        rr.map_memory(0, peer, self.mailbox_window.index(), me * RING_SIZE as u64)?;
        let ring = rr.into_cpu()?;
        // The peer's core writes the magic into its mailbox before opening
        // it; until then the read is refused (all-ones).
        if ring.read32(ring::MAGIC_OFF)? != ring::RING_MAGIC {
            return Err(EAGAIN);
        }
        let ir = LutRange::alloc(&self.adapter, 1)?;
        ir.map_interrupt(0, peer)?;
        let irq = ir.into_cpu()?;
        self.peers.lock()[p] = Some(PeerPath { ring, irq });
        Ok(())
    }

    fn disconnect(&self, peer: u32) {
        if let Ok(p) = self.check_peer(peer) {
            let path = self.peers.lock()[p].take();
            drop(path);
        }
    }

    fn tx_write(&self, peer: u32, offset: usize, data: &[u8]) -> Result {
        self.ring_offset(peer, offset, data.len())?;
        self.with_path(peer, |path| path.ring.write(offset, data))
    }

    fn tx_read(&self, peer: u32, offset: usize, buf: &mut [u8]) -> Result {
        self.ring_offset(peer, offset, buf.len())?;
        self.with_path(peer, |path| path.ring.read(offset, buf))
    }

    fn notify(&self, peer: u32) -> Result {
        let k = self.info.node_id as usize;
        self.with_path(peer, |path| path.irq.write32(4 * k, 1))
    }

    fn grant(&self, len: u64, peers: u32) -> Result<KBox<dyn Grant>> {
        let size = usize::try_from(len)?;
        let buf = rsio_ntb::buffer::alloc(&self.adapter, size)?;
        let window = InboundWindow::alloc(&self.adapter)?;
        window.open(buf.bus_addr(), len, peers)?;
        let g: KBox<dyn Grant> = KBox::new(
            AdapterGrant {
                window,
                buf,
                len,
                peers,
            },
            GFP_KERNEL,
        )?;
        Ok(g)
    }

    fn map(&self, node: u32, fabric_addr: u64, len: u64) -> Result<KBox<dyn Mapping>> {
        self.check_peer(node)?;
        let (window, offset) = maps::split(fabric_addr);
        if window >= self.adapter.info().in_windows {
            return Err(EINVAL);
        }
        let shift = self.adapter.info().slot_shift;
        let plan = slot_plan(offset, len, shift);
        let range = LutRange::alloc(&self.adapter, plan.count)?;
        for i in 0..plan.count {
            range.map_memory(i, node, window, plan.first_offset + (u64::from(i) << shift))?;
        }
        let io = range.into_cpu()?;
        let m: KBox<dyn Mapping> = KBox::new(
            AdapterMapping {
                io,
                delta: plan.delta,
                len,
            },
            GFP_KERNEL,
        )?;
        Ok(m)
    }
}

/// A grant: a coherent buffer behind an inbound window. The window is a
/// field before the buffer: it closes before the memory is freed.
struct AdapterGrant {
    window: InboundWindow,
    buf: DmaBuffer,
    len: u64,
    peers: u32,
}

impl Grant for AdapterGrant {
    fn fabric_addr(&self) -> u64 {
        maps::fabric_addr(self.window.index(), 0)
    }
    fn bus_addr(&self) -> u64 {
        self.buf.bus_addr()
    }
    fn len(&self) -> u64 {
        self.len
    }
    fn peers(&self) -> u32 {
        self.peers
    }
    fn hw_index(&self) -> u32 {
        self.window.index()
    }
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result {
        self.buf.read(offset, buf)
    }
    fn write(&self, offset: usize, data: &[u8]) -> Result {
        self.buf.write(offset, data)
    }
}

/// A mapping: LUT slots reaching a peer's inbound window, CPU-mapped.
struct AdapterMapping {
    io: LutMapping<LutRange>,
    delta: u64,
    len: u64,
}

impl AdapterMapping {
    fn at(&self, offset: usize, len: usize) -> Result<usize> {
        let end = offset.checked_add(len).ok_or(EINVAL)?;
        if end as u64 > self.len {
            return Err(EINVAL);
        }
        usize::try_from(self.delta)?
            .checked_add(offset)
            .ok_or(EINVAL)
    }
}

impl Mapping for AdapterMapping {
    fn bus_addr(&self) -> u64 {
        self.io.range().bus_addr() + self.delta
    }
    fn len(&self) -> u64 {
        self.len
    }
    fn hw_range(&self) -> (u32, u32) {
        (self.io.range().first_slot(), self.io.range().count())
    }
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result {
        let at = self.at(offset, buf.len())?;
        self.io.read(at, buf)
    }
    fn write(&self, offset: usize, data: &[u8]) -> Result {
        let at = self.at(offset, data.len())?;
        self.io.write(at, data)
    }
}

/// The running attachment: the adapter and its cluster.
struct Attached {
    adapter: Arc<Adapter>,
    cluster: Arc<Cluster>,
}

/// rsio_ntb's client: runs the core on the first adapter.
#[pin_data]
pub(crate) struct AdapterClient {
    #[pin]
    attached: Mutex<Option<Attached>>,
    /// The adapter (by address) and the sink its events go to; read in
    /// hard-IRQ context.
    #[pin]
    sink: SpinLockIrq<Option<(usize, Arc<Sink>)>>,
}

impl AdapterClient {
    /// A client with nothing attached.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                attached <- new_mutex!(None, "rsio_fabric::AdapterClient::attached"),
                sink <- new_spinlock_irq!(None, "rsio_fabric::AdapterClient::sink"),
            }),
            GFP_KERNEL,
        )
    }

    fn with_sink(&self, adapter: &Adapter, f: impl FnOnce(&Sink)) {
        let g = self.sink.lock();
        if let Some((a, s)) = &*g {
            if *a == core::ptr::from_ref(adapter).addr() {
                f(s);
            }
        }
    }
}

impl Client for AdapterClient {
    fn add(&self, adapter: &Arc<Adapter>) -> Result {
        let mut attached = self.attached.lock();
        if attached.is_some() {
            dev_info!(
                adapter.device(),
                "rsio_fabric runs on one adapter; this one stays unused\n"
            );
            return Err(EBUSY);
        }
        let sink = Sink::new()?;
        *self.sink.lock() = Some((Arc::as_ptr(adapter).addr(), sink.clone()));
        let started = AdapterTransport::new(adapter).and_then(|t| {
            let t: Arc<dyn Transport> = t;
            let c = Cluster::start(sink, t)?;
            if let Err(e) = registry::attach(&c) {
                c.stop();
                return Err(e);
            }
            Ok(c)
        });
        match started {
            Ok(cluster) => {
                *attached = Some(Attached {
                    adapter: adapter.clone(),
                    cluster,
                });
                Ok(())
            }
            Err(e) => {
                *self.sink.lock() = None;
                Err(e)
            }
        }
    }

    fn remove(&self, adapter: &Arc<Adapter>) {
        let mut attached = self.attached.lock();
        if attached
            .as_ref()
            .is_some_and(|a| Arc::ptr_eq(&a.adapter, adapter))
        {
            if let Some(a) = attached.take() {
                registry::detach(&a.cluster);
            }
            *self.sink.lock() = None;
        }
    }

    fn link_changed(&self, adapter: &Adapter, _status: u32, _changed: u32) {
        self.with_sink(adapter, |s| s.link_changed());
    }

    fn remote_interrupt(&self, adapter: &Adapter, vector: u32) {
        self.with_sink(adapter, |s| s.notified(Some(vector)));
    }
}
