// SPDX-License-Identifier: GPL-2.0

//! The generic NTB path: [`NtbTransport`], the core's [`Transport`] over any
//! Linux `ntb_dev` through the NTB client API ([`rsio_kernel::ntb`]), and
//! [`register`], the NTB client that hands one to the core.
//!
//! Per peer (docs/fabric-ntb-path.md has the picture):
//!
//! - **inbound**: one DMA buffer of [`BUF_SIZE`] bytes (less if the
//!   windows are smaller), exposed to that peer through one inbound memory
//!   window: our receive ring from the peer at offset 0 ([`RING_SIZE`]
//!   bytes), then the peer's *grant pool*, pages of bounce memory that
//!   grants open to that peer (the hardware has only a few large windows,
//!   so per-grant translation is impossible);
//! - **outbound**: one peer memory window that reaches the peer's inbound
//!   buffer for us, mapped (uncached) on [`Transport::connect`]: its ring
//!   for us at 0, its pool for us after it (what [`Transport::map`] maps);
//! - **notification**: doorbell bit = the sender's node id.
//!
//! Window indices: on a two-port device, inbound and outbound window 0
//! (peer memory window 0 reaches the peer's inbound window 0). On a
//! multi-port device (rsio_ntb has one port per node) an outbound window
//! can reach one peer at a time, and `peer_mw_set_trans(pidx, w)` makes
//! window `w` reach that peer's inbound window `w` for us; so the window
//! index of a pair is the *receiver's port*: node `a` exposes its buffer
//! for every peer at inbound window `a`, and reaches node `b` through
//! outbound window `b`. Needs `peer_mw_set_trans`, `mw_count > port` and
//! `peer_mw_count > max port`.

use crate::{
    transport::{Events, Grant, Mapping, Transport, TransportInfo, RING_SIZE},
    uapi,
};
use kernel::{
    new_mutex, new_spinlock,
    prelude::*,
    str::CString,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc, Mutex, SpinLock,
    },
};
use rsio_kernel::{
    coherent::CoherentBuf,
    ntb::{self, NtbDev, PeerMwMap},
};

use crate::logic::ring::{MAGIC_OFF, RING_MAGIC};

/// Bytes of one peer's inbound buffer (ring + grant pool), at most: a power
/// of two, so that the coherent allocation is naturally aligned to it.
pub(crate) const BUF_SIZE: usize = 1 << 20;
/// The grant pool's page size.
const PAGE: usize = 4096;
/// Pages of a pool at most ([`BUF_SIZE`] minus the ring).
const MAX_POOL_PAGES: usize = (BUF_SIZE - RING_SIZE) / PAGE;
/// Words of a pool's page bitmap.
const POOL_WORDS: usize = MAX_POOL_PAGES.div_ceil(64);

const _: () = assert!(RING_SIZE % PAGE == 0 && RING_SIZE < BUF_SIZE);

/// How an NTB client hands a transport to the core.
pub(crate) trait CoreHooks: Send + Sync {
    /// The core's event sink for a new transport (created before it).
    fn new_events(&self) -> Result<Arc<dyn Events>>;
    /// Starts the core on `transport`; the returned object is dropped when the ntb_dev goes away.
    fn attach(
        &self,
        transport: Arc<dyn Transport>,
        events: Arc<dyn Events>,
    ) -> Result<KBox<dyn Send + Sync>>;
}

/// A first-fit allocator of a pool's pages.
///
/// # Invariants
///
/// Bit `i` of `used` is set while page `i < pages` belongs to a grant; bits
/// at and above `pages` are never set.
struct PoolMap {
    pages: usize,
    used: [u64; POOL_WORDS],
}

impl PoolMap {
    fn is_used(&self, i: usize) -> bool {
        self.used
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn set(&mut self, first: usize, n: usize, used: bool) {
        for i in first..first + n {
            if let Some(w) = self.used.get_mut(i / 64) {
                if used {
                    *w |= 1 << (i % 64);
                } else {
                    *w &= !(1 << (i % 64));
                }
            }
        }
    }

    /// The first run of `n` free pages, taken.
    fn alloc(&mut self, n: usize) -> Option<usize> {
        let mut run = 0;
        for i in 0..self.pages {
            if self.is_used(i) {
                run = 0;
                continue;
            }
            run += 1;
            if run == n {
                let first = i + 1 - n;
                self.set(first, n, true);
                return Some(first);
            }
        }
        None
    }

    fn free(&mut self, first: usize, n: usize) {
        self.set(first, n, false);
    }
}

/// One peer's inbound buffer: ring, then grant pool.
#[pin_data]
struct Inbound {
    buf: Arc<CoherentBuf>,
    #[pin]
    pool: SpinLock<PoolMap>,
}

/// The outbound window to one peer, mapped; its translation is cleared when
/// the last user (the transport's connection, a [`Mapping`]) drops it.
struct Outbound {
    map: PeerMwMap,
    dev: Arc<NtbDev>,
    pidx: u32,
    widx: u32,
}

impl Drop for Outbound {
    fn drop(&mut self) {
        // Fails only once the device is gone (nothing to undo then). The
        // mapping itself is unmapped after this (field drop).
        let _ = self.dev.peer_mw_clear_trans(self.pidx, self.widx);
    }
}

/// One peer.
#[pin_data]
struct Peer {
    /// Its node id (its port).
    node: u32,
    /// Its peer index.
    pidx: u32,
    inbound: Arc<Inbound>,
    /// The inbound window translates to `inbound` (set once, by `expose`).
    #[pin]
    exposed: Mutex<bool>,
    /// Set up by `connect`/`map`, dropped by `disconnect`.
    #[pin]
    outbound: Mutex<Option<Arc<Outbound>>>,
    /// `connect` succeeded (the peer's magic was there) and no `disconnect`
    /// since.
    connected: Atomic<bool>,
}

/// The context events of the device, forwarded to the core.
struct CtxEvents {
    events: Arc<dyn Events>,
    /// Doorbell bits we listen to (the peers' node ids).
    peer_bits: u64,
}

impl ntb::Events for CtxEvents {
    fn link_event(&self, _dev: &NtbDev) {
        self.events.link_changed();
    }

    fn db_event(&self, dev: &NtbDev, _vector: u32) {
        // Read, clear, then tell: a doorbell rung after the clear raises a
        // new event, and the core reads the ring after this.
        let Ok(bits) = dev.db_read() else {
            return;
        };
        if bits == 0 {
            return;
        }
        let _ = dev.db_clear(bits);
        let mut mine = bits & self.peer_bits;
        while mine != 0 {
            let bit = mine.trailing_zeros();
            mine &= mine - 1;
            self.events.notified(Some(bit));
        }
    }
}

/// The core's [`Transport`] over one `ntb_dev`. See the module
/// documentation.
///
/// # Invariants
///
/// - `peers[p].pidx == p`; node ids (ports) are distinct, `< num_nodes <=
///   uapi::RSIO_MAX_NODES`, and `node_id` is none of the peers'.
/// - While not shut down: each peer's inbound buffer is exposed to it
///   through inbound window `in_widx` (`buf_size` bytes), the device's
///   context is set to a [`CtxEvents`], and its link is enabled by us.
///
/// # Locking
///
/// Per peer: `outbound` (a mutex: connect, disconnect and map may sleep)
/// and the pool (a spinlock). Data accesses take no lock.
pub(crate) struct NtbTransport {
    dev: Arc<NtbDev>,
    name: CString,
    node_id: u32,
    num_nodes: u32,
    in_widx: u32,
    /// Multi-port device: outbound window index = the target's port.
    multiport: bool,
    /// Bytes of every inbound buffer (and reachable through every outbound
    /// window).
    buf_size: usize,
    pool_pages: usize,
    peers: KVec<Arc<Peer>>,
    down: Atomic<bool>,
}

/// The peers' ports of `dev` (named `name`, whose port is `node_id`), by
/// peer index, and the nodes they imply: `ENODEV` (logged) without peers,
/// for inconsistent ports or more than `RSIO_MAX_NODES` nodes.
fn peer_ports(dev: &NtbDev, name: &CStr, node_id: u32) -> Result<(KVec<u32>, u32)> {
    let npeers = dev.peer_port_count()?;
    if npeers == 0 {
        pr_err!("{}: no peer ports\n", name);
        return Err(ENODEV);
    }
    let mut ports = KVec::with_capacity(npeers as usize, GFP_KERNEL)?;
    let mut num_nodes = node_id + 1;
    for pidx in 0..npeers {
        let port = dev.peer_port_number(pidx)?;
        if port == node_id || dev.peer_port_idx(port)? != pidx {
            pr_err!(
                "{}: inconsistent ports (peer {} is port {})\n",
                name,
                pidx,
                port
            );
            return Err(ENODEV);
        }
        num_nodes = num_nodes.max(port + 1);
        ports.push(port, GFP_KERNEL)?;
    }
    if num_nodes > uapi::RSIO_MAX_NODES {
        pr_err!(
            "{}: port numbers up to {} exceed {} nodes\n",
            name,
            num_nodes - 1,
            uapi::RSIO_MAX_NODES
        );
        return Err(ENODEV);
    }
    Ok((ports, num_nodes))
}

/// The size of every peer's buffer: what every outbound window can reach,
/// as a power of two (the coherent allocation is then aligned to it), at
/// most [`BUF_SIZE`]. `ENODEV` (logged) if a peer lacks inbound window
/// `in_widx` or its outbound window, or a multi-port device cannot aim
/// them; `ENOSPC` if they are too small. The inbound limits
/// (`ntb_mw_get_align()`) are only known while the link is up: `expose`
/// checks them.
fn buffer_size(
    dev: &NtbDev,
    name: &CStr,
    ports: &[u32],
    in_widx: u32,
    multiport: bool,
) -> Result<usize> {
    let out_widx = |port: u32| if multiport { port } else { 0 };
    if multiport && !dev.has_peer_mw_set_trans()? {
        pr_err!(
            "{}: multi-port device without peer_mw_set_trans: cannot aim outbound windows\n",
            name
        );
        return Err(ENODEV);
    }
    let peer_mws = dev.peer_mw_count()?;
    let mut size = BUF_SIZE as u64;
    for (pidx, &port) in ports.iter().enumerate() {
        let mws = dev.mw_count(pidx as u32)?;
        if mws <= in_widx || peer_mws <= out_widx(port) {
            pr_err!(
                "{}: needs inbound window {} for peer {} and outbound window {} \
                 ({} and {} there)\n",
                name,
                in_widx,
                port,
                out_widx(port),
                mws,
                peer_mws
            );
            return Err(ENODEV);
        }
        size = size.min(dev.peer_mw_get_addr(out_widx(port))?.size);
    }
    if size < (RING_SIZE + PAGE) as u64 {
        pr_err!("{}: outbound windows too small ({:#x} bytes)\n", name, size);
        return Err(ENOSPC);
    }
    // >= RING_SIZE + PAGE and <= BUF_SIZE: fits.
    Ok(1usize << size.ilog2())
}

/// The doorbell bits of the peers `ports` (bit n rings node n): `ENODEV`
/// (logged) unless the device has them and this node's `node_id`.
fn doorbell_bits(dev: &NtbDev, name: &CStr, ports: &[u32], node_id: u32) -> Result<u64> {
    let valid = dev.db_valid_mask()?;
    let mut peer_bits = 0u64;
    for &port in ports.iter() {
        peer_bits |= 1 << port;
    }
    let own_bit = 1u64 << node_id;
    if valid & (peer_bits | own_bit) != peer_bits | own_bit {
        pr_err!(
            "{}: doorbells {:#x} lack the node bits {:#x}\n",
            name,
            valid,
            peer_bits | own_bit
        );
        return Err(ENODEV);
    }
    Ok(peer_bits)
}

/// A [`Peer`] for each of `ports`, with an inbound buffer of `buf_size`
/// bytes (a pool of `pool_pages` grant pages after the ring).
fn new_peers(
    dev: &NtbDev,
    ports: &[u32],
    buf_size: usize,
    pool_pages: usize,
) -> Result<KVec<Arc<Peer>>> {
    let mut peers = KVec::with_capacity(ports.len(), GFP_KERNEL)?;
    for (pidx, &port) in ports.iter().enumerate() {
        let buf = dev.alloc_dma(buf_size)?;
        let inbound = Arc::pin_init(
            pin_init!(Inbound {
                buf,
                pool <- new_spinlock!(
                    PoolMap { pages: pool_pages, used: [0; POOL_WORDS] },
                    "rsio_fabric_ntb_pool"
                ),
            }),
            GFP_KERNEL,
        )?;
        let peer = Arc::pin_init(
            pin_init!(Peer {
                node: port,
                pidx: pidx as u32,
                inbound,
                exposed <- new_mutex!(false, "rsio_fabric_ntb_exposed"),
                outbound <- new_mutex!(None, "rsio_fabric_ntb_outbound"),
                connected: Atomic::new(false),
            }),
            GFP_KERNEL,
        )?;
        peers.push(peer, GFP_KERNEL)?;
    }
    Ok(peers)
}

impl NtbTransport {
    /// Sets the transport up on `dev`: inbound buffers allocated (and
    /// exposed to the peers whose link is up already), events to `events`,
    /// doorbells unmasked, link enabled.
    ///
    /// # Errors
    ///
    /// `ENODEV`: the device cannot serve (ports, windows or doorbells that
    /// do not fit this scheme; logged); `ENOSPC`: windows too small;
    /// `ENOMEM`.
    pub(crate) fn new(dev: Arc<NtbDev>, events: Arc<dyn Events>) -> Result<Arc<Self>> {
        let name = dev.name()?;
        let node_id = dev.port_number()?;
        let (ports, num_nodes) = peer_ports(&dev, &name, node_id)?;
        let multiport = ports.len() > 1;
        // Window indices (module documentation).
        let in_widx = if multiport { node_id } else { 0 };
        let buf_size = buffer_size(&dev, &name, &ports, in_widx, multiport)?;
        let pool_pages = (buf_size - RING_SIZE) / PAGE;
        let peer_bits = doorbell_bits(&dev, &name, &ports, node_id)?;
        let peers = new_peers(&dev, &ports, buf_size, pool_pages)?;
        // INVARIANT: ports checked distinct and in range above; `this` is
        // not shut down and everything below is undone by `shutdown` (on
        // error too, through drop).
        let this = Arc::new(
            Self {
                dev: dev.clone(),
                name,
                node_id,
                num_nodes,
                in_widx,
                multiport,
                buf_size,
                pool_pages,
                peers,
                down: Atomic::new(false),
            },
            GFP_KERNEL,
        )?;
        this.start(events, peer_bits)?;
        pr_info!(
            "{}: generic NTB transport: node {} of {}, {} peer(s), {} windows of {:#x} bytes ({} grant pages each)\n",
            &*this.name,
            node_id,
            num_nodes,
            ports.len(),
            if multiport { "multi-port" } else { "two-port" },
            buf_size,
            pool_pages
        );
        Ok(this)
    }

    /// Exposes the inbound buffers to the peers whose link is up (the
    /// others get theirs on their first `connect`), sends the device's
    /// events to `events`, unmasks the doorbells `peer_bits`, enables the
    /// link.
    fn start(&self, events: Arc<dyn Events>, peer_bits: u64) -> Result {
        let dev = &self.dev;
        let up = dev.link_is_up()?;
        for p in self.peers.iter().filter(|p| up & (1 << p.pidx) != 0) {
            match self.expose(p) {
                Ok(()) | Err(EAGAIN) => {}
                Err(e) => return Err(e),
            }
        }
        dev.set_ctx(Arc::new(CtxEvents { events, peer_bits }, GFP_KERNEL)?)?;
        dev.db_clear(peer_bits)?;
        dev.db_clear_mask(peer_bits)?;
        dev.link_enable()
    }

    /// Stops everything [`NtbTransport::new`] started: events, doorbells,
    /// outbound connections (their translations go once mappings that still
    /// use them drop), inbound translations, the link. Buffers are freed
    /// when the transport and the grants that use them drop. Idempotent.
    pub(crate) fn shutdown(&self) {
        if self.down.xchg(true, Relaxed) {
            return;
        }
        self.dev.clear_ctx();
        let mut bits = 0u64;
        for p in self.peers.iter() {
            bits |= 1 << p.node;
            p.connected.store(false, Release);
            drop(p.outbound.lock().take());
            let mut exposed = p.exposed.lock();
            if *exposed {
                let _ = self.dev.mw_clear_trans(p.pidx, self.in_widx);
                *exposed = false;
            }
        }
        let _ = self.dev.db_set_mask(bits);
        let _ = self.dev.link_disable();
    }

    /// Exposes `p`'s inbound buffer to it through inbound window
    /// `in_widx`, once. `EAGAIN` while the link is down (`ntb.h` gives the
    /// window's limits only then); `ENOSPC` if the window cannot take the
    /// buffer (logged).
    fn expose(&self, p: &Peer) -> Result {
        if self.down.load(Relaxed) {
            return Err(ENODEV);
        }
        let mut exposed = p.exposed.lock();
        if *exposed {
            return Ok(());
        }
        let a = match self.dev.mw_get_align(p.pidx, self.in_widx) {
            Err(ENOTCONN) => return Err(EAGAIN),
            r => r?,
        };
        let size = self.buf_size as u64;
        let addr = p.inbound.buf.bus_addr();
        // An alignment of 0: no constraint.
        if a.size_max < size || size % a.size_align.max(1) != 0 || addr % a.addr_align.max(1) != 0 {
            pr_err!(
                "{}: inbound window {} for node {} cannot take {:#x} bytes at {:#x} \
                 (max {:#x}, alignment {:#x}/{:#x})\n",
                &*self.name,
                self.in_widx,
                p.node,
                size,
                addr,
                a.size_max,
                a.addr_align,
                a.size_align
            );
            return Err(ENOSPC);
        }
        // The magic tells the peer's core that ours accepts mail here
        // (`logic::ring`): written before the window opens.
        p.inbound.buf.write(MAGIC_OFF, &RING_MAGIC.to_le_bytes())?;
        self.dev
            .mw_set_trans(p.pidx, self.in_widx, &p.inbound.buf, self.buf_size)?;
        *exposed = true;
        Ok(())
    }

    /// The peer with node id `node` (`EINVAL` if none).
    fn peer(&self, node: u32) -> Result<&Peer> {
        self.peers
            .iter()
            .find(|p| p.node == node)
            .map(|p| &**p)
            .ok_or(EINVAL)
    }

    /// The outbound window to `p`, set up if it is not.
    fn outbound(&self, p: &Peer) -> Result<Arc<Outbound>> {
        if self.down.load(Relaxed) {
            return Err(ENODEV);
        }
        let mut out = p.outbound.lock();
        if let Some(o) = &*out {
            return Ok(o.clone());
        }
        let widx = if self.multiport { p.node } else { 0 };
        // The address is the peer's business on this path (rsio_ntb ignores
        // it: the peer's inbound window translates); 0 on devices without
        // the op, where the call does nothing.
        self.dev
            .peer_mw_set_trans(p.pidx, widx, 0, self.buf_size as u64)?;
        let map = match self.dev.map_peer_mw(widx, 0, self.buf_size) {
            Ok(map) => map,
            Err(e) => {
                let _ = self.dev.peer_mw_clear_trans(p.pidx, widx);
                return Err(e);
            }
        };
        let o = Arc::new(
            Outbound {
                map,
                dev: self.dev.clone(),
                pidx: p.pidx,
                widx,
            },
            GFP_KERNEL,
        )?;
        *out = Some(o.clone());
        Ok(o)
    }

    /// The outbound window to `peer`, if connected.
    fn connected(&self, peer: u32) -> Result<Arc<Outbound>> {
        let p = self.peer(peer)?;
        if !p.connected.load(Acquire) {
            return Err(ENOTCONN);
        }
        p.outbound.lock().clone().ok_or(ENOTCONN)
    }
}

impl Drop for NtbTransport {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// `offset..offset + len` inside a ring (`EINVAL` otherwise).
fn ring_range(offset: usize, len: usize) -> Result {
    match offset.checked_add(len) {
        Some(end) if end <= RING_SIZE => Ok(()),
        _ => Err(EINVAL),
    }
}

impl Transport for NtbTransport {
    fn info(&self) -> TransportInfo {
        TransportInfo {
            kind: uapi::RSIO_TRANSPORT_NTB,
            node_id: self.node_id,
            num_nodes: self.num_nodes,
            caps: 0,
            // Mappings take no translation entry: each is a range of the
            // outbound window to its node, which is always there.
            map_entries: 0,
            // Not windows: the pages of each peer's grant pool (every grant
            // takes at least one), the most grants open to one peer.
            grant_windows: self.pool_pages as u32,
        }
    }

    fn name(&self) -> &CStr {
        &self.name
    }

    fn link_mask(&self) -> u32 {
        let Ok(up) = self.dev.link_is_up() else {
            return 0;
        };
        self.peers
            .iter()
            .filter(|p| up & (1 << p.pidx) != 0)
            .fold(0, |m, p| m | 1 << p.node)
    }

    fn error_counters(&self) -> (u64, u64) {
        (0, 0)
    }

    fn rx_read(&self, peer: u32, offset: usize, buf: &mut [u8]) -> Result {
        ring_range(offset, buf.len())?;
        self.peer(peer)?.inbound.buf.read(offset, buf)
    }

    fn rx_write(&self, peer: u32, offset: usize, data: &[u8]) -> Result {
        ring_range(offset, data.len())?;
        self.peer(peer)?.inbound.buf.write(offset, data)
    }

    fn connect(&self, peer: u32) -> Result {
        let p = self.peer(peer)?;
        if p.connected.load(Acquire) {
            return Ok(());
        }
        if self.dev.link_is_up()? & (1 << p.pidx) == 0 {
            return Err(EAGAIN);
        }
        // Our side first: the peer's core connects to it.
        self.expose(p)?;
        let out = self.outbound(p)?;
        // Before the peer exposes its buffer the read fails or returns junk
        // (all-ones on rsio_ntb, which also logs the refused access).
        match out.map.read32(MAGIC_OFF) {
            Ok(RING_MAGIC) => {}
            _ => return Err(EAGAIN),
        }
        p.connected.store(true, Release);
        Ok(())
    }

    fn disconnect(&self, peer: u32) {
        if let Ok(p) = self.peer(peer) {
            let mut out = p.outbound.lock();
            p.connected.store(false, Release);
            drop(out.take());
        }
    }

    fn tx_write(&self, peer: u32, offset: usize, data: &[u8]) -> Result {
        ring_range(offset, data.len())?;
        self.connected(peer)?.map.write(offset, data)
    }

    fn tx_read(&self, peer: u32, offset: usize, buf: &mut [u8]) -> Result {
        ring_range(offset, buf.len())?;
        self.connected(peer)?.map.read(offset, buf)
    }

    fn notify(&self, peer: u32) -> Result {
        self.peer(peer)?;
        // rsio_ntb rings every peer whose link is up; they tell by the bit.
        self.dev.peer_db_set(1 << self.node_id)
    }

    fn grant(&self, len: u64, peers: u32) -> Result<KBox<dyn Grant>> {
        if peers.count_ones() != 1 || len == 0 {
            return Err(EINVAL);
        }
        let node = peers.trailing_zeros();
        let p = self.peer(node)?;
        let len = usize::try_from(len).map_err(|_| EINVAL)?;
        let pages = len.div_ceil(PAGE);
        if pages > self.pool_pages {
            return Err(ENOSPC);
        }
        let first = p.inbound.pool.lock().alloc(pages).ok_or(ENOSPC)?;
        let offset = RING_SIZE + first * PAGE;
        let grant = PoolGrant {
            inbound: p.inbound.clone(),
            node,
            offset,
            pages,
            len,
        };
        // Zeroed for the grantee: the pages may hold an earlier grant's data.
        p.inbound.buf.zero(offset, pages * PAGE)?;
        Ok(KBox::new(grant, GFP_KERNEL)?)
    }

    fn map(&self, node: u32, fabric_addr: u64, len: u64) -> Result<KBox<dyn Mapping>> {
        let p = self.peer(node)?;
        let offset = usize::try_from(fabric_addr).map_err(|_| EINVAL)?;
        let len = usize::try_from(len).map_err(|_| EINVAL)?;
        // Only the peer's pool for us: its ring is the transport's.
        match offset.checked_add(len) {
            Some(end) if len > 0 && offset >= RING_SIZE && end <= self.buf_size => {}
            _ => return Err(EINVAL),
        }
        let out = self.outbound(p)?;
        let bus_addr = out.map.phys() + fabric_addr;
        Ok(KBox::new(
            PoolMapping {
                out,
                offset,
                len,
                bus_addr,
            },
            GFP_KERNEL,
        )?)
    }
}

/// A grant: pages of one peer's pool.
///
/// # Invariants
///
/// Pages `(offset - RING_SIZE) / PAGE ..` (`pages` of them) of the pool are
/// taken for this grant; `len <= pages * PAGE`.
struct PoolGrant {
    inbound: Arc<Inbound>,
    node: u32,
    offset: usize,
    pages: usize,
    len: usize,
}

impl PoolGrant {
    /// `offset..offset + n` inside the grant, as a buffer offset.
    fn at(&self, offset: usize, n: usize) -> Result<usize> {
        match offset.checked_add(n) {
            Some(end) if end <= self.len => Ok(self.offset + offset),
            _ => Err(EINVAL),
        }
    }
}

impl Grant for PoolGrant {
    fn fabric_addr(&self) -> u64 {
        self.offset as u64
    }

    fn bus_addr(&self) -> u64 {
        self.inbound.buf.bus_addr() + self.offset as u64
    }

    fn len(&self) -> u64 {
        self.len as u64
    }

    fn peers(&self) -> u32 {
        1 << self.node
    }

    fn hw_index(&self) -> u32 {
        // The pool: that of the peer it is open to.
        self.node
    }

    fn read(&self, offset: usize, buf: &mut [u8]) -> Result {
        self.inbound.buf.read(self.at(offset, buf.len())?, buf)
    }

    fn write(&self, offset: usize, data: &[u8]) -> Result {
        self.inbound.buf.write(self.at(offset, data.len())?, data)
    }
}

impl Drop for PoolGrant {
    fn drop(&mut self) {
        // The pool stays open to its peer (one window for all its grants):
        // the pages just go back; the next grant zeroes them.
        let first = (self.offset - RING_SIZE) / PAGE;
        self.inbound.pool.lock().free(first, self.pages);
    }
}

/// A mapping: a range of the outbound window to one node.
///
/// # Invariants
///
/// `offset..offset + len` is inside `out`'s mapping.
struct PoolMapping {
    out: Arc<Outbound>,
    offset: usize,
    len: usize,
    bus_addr: u64,
}

impl PoolMapping {
    /// `offset..offset + n` inside the mapping and word-aligned, as a window
    /// offset.
    fn at(&self, offset: usize, n: usize) -> Result<usize> {
        if offset % 4 != 0 || n % 4 != 0 {
            return Err(EINVAL);
        }
        match offset.checked_add(n) {
            Some(end) if end <= self.len => Ok(self.offset + offset),
            _ => Err(EINVAL),
        }
    }
}

impl Mapping for PoolMapping {
    fn bus_addr(&self) -> u64 {
        self.bus_addr
    }

    fn len(&self) -> u64 {
        self.len as u64
    }

    fn hw_range(&self) -> (u32, u32) {
        (0, 0)
    }

    fn read(&self, offset: usize, buf: &mut [u8]) -> Result {
        self.out.map.read(self.at(offset, buf.len())?, buf)
    }

    fn write(&self, offset: usize, data: &[u8]) -> Result {
        self.out.map.write(self.at(offset, data.len())?, data)
    }
}

/// What the client keeps for the attached device. Drops the core's object,
/// then shuts the transport down.
struct Attached {
    core: Option<KBox<dyn Send + Sync>>,
    transport: Arc<NtbTransport>,
}

impl Drop for Attached {
    fn drop(&mut self) {
        drop(self.core.take());
        // Whatever else still holds the transport, it stops using the
        // device now (the handle is revoked right after, too).
        self.transport.shutdown();
    }
}

/// The NTB client: attaches the first device to the core.
struct CoreClient {
    hooks: Arc<dyn CoreHooks>,
    /// A device is attached.
    busy: Atomic<bool>,
}

impl ntb::Client for CoreClient {
    fn probe(&self, dev: &Arc<NtbDev>) -> Result<KBox<dyn Send + Sync>> {
        if self.busy.xchg(true, Relaxed) {
            let name = dev.name()?;
            pr_info!(
                "{}: the fabric core has a device already; left to other NTB clients\n",
                &*name
            );
            return Err(ENODEV);
        }
        let attach = || -> Result<KBox<dyn Send + Sync>> {
            let events = self.hooks.new_events()?;
            let transport = NtbTransport::new(dev.clone(), events.clone())?;
            let core = self.hooks.attach(transport.clone(), events)?;
            Ok(KBox::new(
                Attached {
                    core: Some(core),
                    transport,
                },
                GFP_KERNEL,
            )?)
        };
        attach().inspect_err(|e| {
            pr_err!("generic NTB path: attaching failed: {:?}\n", e);
            self.busy.store(false, Relaxed);
        })
    }

    fn remove(&self, _dev: &Arc<NtbDev>, data: KBox<dyn Send + Sync>) {
        drop(data);
        self.busy.store(false, Relaxed);
    }
}

/// The NTB client registration of the fabric core; unregistered on drop
/// (which detaches the device from the core).
pub(crate) struct NtbClientRegistration {
    _reg: Pin<KBox<ntb::ClientRegistration>>,
}

/// Registers the fabric core as an NTB client: the first `ntb_dev` no other
/// client has (now or later) gets an [`NtbTransport`], attached through
/// `hooks`; further devices are left alone (logged).
pub(crate) fn register(
    module: &'static ThisModule,
    hooks: Arc<dyn CoreHooks>,
) -> Result<NtbClientRegistration> {
    let client = Arc::new(
        CoreClient {
            hooks,
            busy: Atomic::new(false),
        },
        GFP_KERNEL,
    )?;
    Ok(NtbClientRegistration {
        _reg: KBox::pin_init(
            ntb::ClientRegistration::new(c"rsio_fabric", module, client),
            GFP_KERNEL,
        )?,
    })
}
