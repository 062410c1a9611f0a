// SPDX-License-Identifier: GPL-2.0

//! The cluster: this node's view of every peer's core over one transport,
//! kept by a kernel thread (`rsio_fabric`), and the request/response
//! messaging the feature modules and the ioctls use.
//!
//! The thread wakes on transport events (link change, "you have mail")
//! and every [`TICK_MS`]: it runs the membership state machine of each
//! peer (`logic::members`), reads the receive rings (`logic::ring`) and
//! acts on the messages (`logic::proto`), and bumps its heartbeat in every
//! connected peer's ring each [`members::HEARTBEAT_MS`].
//!
//! Locks, in order: `peers`, then `tx`, then `requests`. Feature callbacks
//! run on the thread with no lock held.

use crate::features;
use crate::logic::members::{self, Action, Peer, State};
use crate::logic::proto::{self, Header, Hello, Kind};
use crate::logic::ring::{self, RxCheck, RxRing, TxRing};
use crate::transport::{Events, Transport, TransportInfo};
use crate::uapi;
use crate::windows::Windows;
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::sync::{Arc, CondVar, Mutex, SpinLock, SpinLockIrq};
use kernel::time::msecs_to_jiffies;
use kernel::{new_condvar, new_mutex, new_spinlock, new_spinlock_irq};
use rsio_kernel::kthread::{self, KThread, ThreadMain};
use rsio_kernel::{system, task};

/// Most nodes a fabric has.
pub(crate) const MAX_NODES: usize = uapi::RSIO_MAX_NODES as usize;
/// Test hook (debugfs `pause_ms`): the thread stops this long, like a
/// hung node: no heartbeats, no messages handled.
pub(crate) static PAUSE_MS: Atomic<u64> = Atomic::new(0);

/// The thread's period when nothing happens.
pub(crate) const TICK_MS: u64 = 100;
/// How long a sender waits for room in a full ring.
const RING_FULL_WAIT_MS: u64 = 100;

/// Transport events not yet handled by the thread.
#[derive(Default)]
struct Pending {
    link: bool,
    /// Bit n: node n notified us.
    notified: u32,
}

/// Where the transport's events land (any context) and the thread waits.
#[pin_data]
pub(crate) struct Sink {
    #[pin]
    pending: SpinLockIrq<Pending>,
    #[pin]
    wake: CondVar,
}

impl Sink {
    /// A sink with nothing pending.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                pending <- new_spinlock_irq!(Pending::default(), "rsio_fabric::Sink::pending"),
                wake <- new_condvar!("rsio_fabric::Sink::wake"),
            }),
            GFP_KERNEL,
        )
    }

    /// Waits up to `ms` for events and takes them.
    fn wait(&self, ms: u64) -> Pending {
        let mut g = self.pending.lock();
        if !g.link && g.notified == 0 && !kthread::should_stop() {
            let ms = u32::try_from(ms).unwrap_or(u32::MAX);
            let _ = self
                .wake
                .wait_interruptible_timeout(&mut g, msecs_to_jiffies(ms));
        }
        core::mem::take(&mut *g)
    }
}

impl Events for Sink {
    fn link_changed(&self) {
        self.pending.lock().link = true;
        self.wake.notify_all();
    }

    fn notified(&self, peer: Option<u32>) {
        let bits = match peer {
            Some(p) if (p as usize) < MAX_NODES => 1u32 << p,
            _ => u32::MAX,
        };
        self.pending.lock().notified |= bits;
        self.wake.notify_all();
    }
}

/// A peer as the thread keeps it.
#[derive(Clone, Copy)]
pub(crate) struct PeerSlot {
    /// Membership.
    pub(crate) m: Peer,
    /// Our receive ring from it.
    rx: RxRing,
}

/// Our sending side towards a peer.
#[derive(Clone, Copy, Default)]
struct TxSlot {
    ring: TxRing,
    connected: bool,
    /// The session id of the current connection.
    session: u32,
}

/// Counters, for status and debugfs.
pub(crate) struct Stats {
    pub(crate) tx: Atomic<u64>,
    pub(crate) rx: Atomic<u64>,
    pub(crate) bad: Atomic<u64>,
    pub(crate) timeouts: Atomic<u64>,
    pub(crate) peer_tx: [Atomic<u64>; MAX_NODES],
    pub(crate) peer_rx: [Atomic<u64>; MAX_NODES],
}

impl Stats {
    fn new() -> Self {
        Self {
            tx: Atomic::new(0),
            rx: Atomic::new(0),
            bad: Atomic::new(0),
            timeouts: Atomic::new(0),
            peer_tx: [const { Atomic::new(0) }; MAX_NODES],
            peer_rx: [const { Atomic::new(0) }; MAX_NODES],
        }
    }
}

/// One message in the protocol trace (debugfs `trace`).
#[derive(Clone, Copy)]
pub(crate) struct TraceEntry {
    /// Monotonic time, microseconds.
    pub(crate) at_us: u64,
    /// Sent (else received).
    pub(crate) tx: bool,
    /// The peer.
    pub(crate) peer: u32,
    /// The header.
    pub(crate) h: Header,
}

/// Messages the trace keeps.
pub(crate) const TRACE_LEN: usize = 64;

/// The last [`TRACE_LEN`] messages sent and received, oldest overwritten.
pub(crate) struct Trace {
    pub(crate) entries: [Option<TraceEntry>; TRACE_LEN],
    pub(crate) next: usize,
}

/// A request waiting for its response.
struct Waiting {
    peer: u32,
    id: u32,
    /// 0 waiting, 1 answered, 2 the peer went away.
    state: u8,
    status: i32,
    len: usize,
    data: [u8; proto::MAX_PAYLOAD],
}

/// A response's payload.
pub struct Reply {
    /// Bytes of `data` used.
    pub len: usize,
    /// The payload.
    pub data: [u8; proto::MAX_PAYLOAD],
}

impl Reply {
    /// The payload's bytes.
    pub fn payload(&self) -> &[u8] {
        &self.data[..self.len.min(self.data.len())]
    }
}

/// The core over one transport.
#[pin_data]
pub(crate) struct Cluster {
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) info: TransportInfo,
    sink: Arc<Sink>,
    /// Our session ids start here (random per core start).
    session_base: u32,
    pub(crate) name: [u8; uapi::RSIO_NAME_LEN],
    #[pin]
    pub(crate) peers: Mutex<[PeerSlot; MAX_NODES]>,
    #[pin]
    tx: Mutex<[TxSlot; MAX_NODES]>,
    #[pin]
    requests: Mutex<KVec<Waiting>>,
    #[pin]
    answered: CondVar,
    next_req: Atomic<u32>,
    connects: Atomic<u32>,
    /// The core thread's task (0 before it runs): requests from it would
    /// wait for responses only it can receive.
    thread_task: Atomic<usize>,
    heartbeat: Atomic<u32>,
    pub(crate) stats: Stats,
    #[pin]
    pub(crate) windows: Mutex<Windows>,
    #[pin]
    pub(crate) trace: SpinLock<Trace>,
    #[pin]
    thread: Mutex<Option<KThread<Cluster>>>,
}

/// The transport kind's name.
pub(crate) fn transport_name(kind: u32) -> &'static str {
    if kind == uapi::RSIO_TRANSPORT_NTB {
        "ntb"
    } else {
        "adapter"
    }
}

/// The positive errno of `e` (responses carry its negation).
fn errno_of(e: Error) -> i32 {
    -e.to_errno()
}

impl Cluster {
    /// Starts the core on `transport`, whose events go to `sink`.
    pub(crate) fn start(sink: Arc<Sink>, transport: Arc<dyn Transport>) -> Result<Arc<Self>> {
        let info = transport.info();
        if info.num_nodes as usize > MAX_NODES || info.node_id >= info.num_nodes {
            return Err(EINVAL);
        }
        let this = Arc::pin_init(
            try_pin_init!(Self {
                transport,
                info,
                sink,
                session_base: system::random_u32(),
                name: system::nodename(),
                peers <- new_mutex!(
                    [PeerSlot { m: Peer::new(), rx: RxRing::default() }; MAX_NODES],
                    "rsio_fabric::Cluster::peers"
                ),
                tx <- new_mutex!([TxSlot::default(); MAX_NODES], "rsio_fabric::Cluster::tx"),
                requests <- new_mutex!(KVec::new(), "rsio_fabric::Cluster::requests"),
                answered <- new_condvar!("rsio_fabric::Cluster::answered"),
                next_req: Atomic::new(1),
                connects: Atomic::new(0),
                thread_task: Atomic::new(0),
                heartbeat: Atomic::new(0),
                stats: Stats::new(),
                windows <- new_mutex!(Windows::new(), "rsio_fabric::Cluster::windows"),
                trace <- new_spinlock!(
                    Trace { entries: [None; TRACE_LEN], next: 0 },
                    "rsio_fabric::Cluster::trace"
                ),
                thread <- new_mutex!(None, "rsio_fabric::Cluster::thread"),
            }),
            GFP_KERNEL,
        )?;
        let t = KThread::spawn(this.clone(), c"rsio_fabric")?;
        *this.thread.lock() = Some(t);
        pr_info!(
            "node {} of {} up on {} ({} transport)\n",
            info.node_id,
            info.num_nodes,
            this.transport.name(),
            transport_name(info.kind)
        );
        Ok(this)
    }

    /// Stops the core: peers are told we leave, features drop what
    /// involved them, waiting requests fail with `ENODEV`, windows go.
    pub(crate) fn stop(&self) {
        let t = self.thread.lock().take();
        drop(t);
        let now = system::now_ms();
        for p in self.peer_ids() {
            let (was_up, connected) = {
                let mut peers = self.peers.lock();
                let up = peers[p as usize].m.state == State::Up;
                peers[p as usize].m.state = State::Down;
                (up, self.tx.lock()[p as usize].connected)
            };
            if connected {
                let _ = self.send(p, Kind::Event, proto::MT_BYE, 0, 0, &[]);
            }
            if was_up {
                features::peer_down(p);
            }
            self.fail_requests(Some(p), 2);
            self.disconnect(p);
            let _ = now;
        }
        self.fail_requests(None, 2);
        self.windows.lock().clear();
    }

    /// Node ids of the peers.
    pub(crate) fn peer_ids(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.info.num_nodes).filter(move |&p| p != self.info.node_id)
    }

    /// Bit n: node n is up.
    pub(crate) fn up_mask(&self) -> u32 {
        let peers = self.peers.lock();
        self.peer_ids()
            .filter(|&p| peers[p as usize].m.state == State::Up)
            .fold(0, |m, p| m | (1 << p))
    }

    /// Peers we have a sending path to.
    pub(crate) fn connected_count(&self) -> u32 {
        self.tx.lock().iter().filter(|t| t.connected).count() as u32
    }

    /// Whether `peer` is a peer node id of this fabric.
    pub(crate) fn is_peer(&self, peer: u32) -> bool {
        peer < self.info.num_nodes && peer != self.info.node_id
    }

    // --- Sending.

    /// Writes a message into `peer`'s ring and notifies it.
    fn send(
        &self,
        peer: u32,
        kind: Kind,
        mtype: u16,
        req_id: u32,
        status: i32,
        payload: &[u8],
    ) -> Result {
        if !self.is_peer(peer) {
            return Err(EINVAL);
        }
        let mut slot = [0u8; ring::SLOT_SIZE];
        let h_sent = {
            let mut tx = self.tx.lock();
            let t = &mut tx[peer as usize];
            if !t.connected {
                return Err(EHOSTUNREACH);
            }
            let deadline = system::now_ms() + RING_FULL_WAIT_MS;
            while !t.ring.has_room() {
                let mut c = [0u8; 4];
                self.transport.tx_read(peer, ring::CONSUMER_OFF, &mut c)?;
                if !t.ring.update_consumer(u32::from_le_bytes(c)) || !t.ring.has_room() {
                    if system::now_ms() >= deadline {
                        return Err(EAGAIN);
                    }
                    kernel::time::delay::fsleep(kernel::time::Delta::from_micros(200));
                }
            }
            let seq = t.ring.producer;
            let h = Header {
                version: proto::PROTO_VERSION,
                kind,
                mtype,
                sender: self.info.node_id as u16,
                target: peer as u16,
                seq,
                req_id,
                status,
                len: payload.len() as u16,
            };
            let n = proto::encode(&h, payload, &mut slot).ok_or(EINVAL)?;
            self.transport
                .tx_write(peer, ring::slot_offset(seq), &slot[..n])?;
            t.ring.producer = seq.wrapping_add(1);
            self.transport
                .tx_write(peer, ring::PRODUCER_OFF, &t.ring.producer.to_le_bytes())?;
            h
        };
        self.record(true, peer, &h_sent);
        self.transport.notify(peer)?;
        self.stats.tx.fetch_add(1, Relaxed);
        self.stats.peer_tx[peer as usize].fetch_add(1, Relaxed);
        pr_debug!(
            "tx {:?} type {:#x} req {} to node {}\n",
            kind,
            mtype,
            req_id,
            peer
        );
        Ok(())
    }

    /// Sends request `mtype` to `peer` and waits up to `timeout_ms` for the
    /// response. The peer must be up (`EHOSTUNREACH`); `ETIMEDOUT`,
    /// `EINTR` on a signal, `ECONNRESET` if the peer goes away meanwhile,
    /// or the peer's error status.
    pub(crate) fn request(
        &self,
        peer: u32,
        mtype: u16,
        payload: &[u8],
        timeout_ms: u32,
    ) -> Result<Reply> {
        self.request_as(peer, mtype, payload, timeout_ms, true)
    }

    /// As [`Self::request`]; `interruptible = false`: signals do not end
    /// the wait (for what must complete even in a dying process, e.g.
    /// giving a device back before its memory is freed).
    pub(crate) fn request_as(
        &self,
        peer: u32,
        mtype: u16,
        payload: &[u8],
        timeout_ms: u32,
        interruptible: bool,
    ) -> Result<Reply> {
        if !self.is_peer(peer) || payload.len() > proto::MAX_PAYLOAD {
            return Err(EINVAL);
        }
        if self.thread_task.load(Relaxed) == task::current_task_id() {
            return Err(EDEADLK);
        }
        if self.peers.lock()[peer as usize].m.state != State::Up {
            return Err(EHOSTUNREACH);
        }
        let id = self.new_request_id();
        self.requests.lock().push(
            Waiting {
                peer,
                id,
                state: 0,
                status: 0,
                len: 0,
                data: [0; proto::MAX_PAYLOAD],
            },
            GFP_KERNEL,
        )?;
        let sent = self.send(peer, Kind::Request, mtype, id, 0, payload);
        let deadline = system::now_ms() + u64::from(timeout_ms);
        let mut reqs = self.requests.lock();
        let outcome = match sent {
            Err(e) => Err(e),
            Ok(()) => loop {
                let Some(w) = reqs.iter().find(|w| w.id == id) else {
                    break Err(EIO);
                };
                match w.state {
                    1 => break Ok(()),
                    2 => break Err(ECONNRESET),
                    _ => {}
                }
                let now = system::now_ms();
                if now >= deadline {
                    self.stats.timeouts.fetch_add(1, Relaxed);
                    break Err(ETIMEDOUT);
                }
                if !interruptible {
                    // No uninterruptible timed wait on the condition
                    // variable: poll the answer instead.
                    drop(reqs);
                    kernel::time::delay::fsleep(kernel::time::Delta::from_micros(500));
                    reqs = self.requests.lock();
                    continue;
                }
                let left = u32::try_from(deadline - now).unwrap_or(u32::MAX);
                let r = self
                    .answered
                    .wait_interruptible_timeout(&mut reqs, msecs_to_jiffies(left));
                if let kernel::sync::CondVarTimeoutResult::Signal { .. } = r {
                    break Err(EINTR);
                }
            },
        };
        let pos = reqs.iter().position(|w| w.id == id);
        let w = pos.and_then(|i| reqs.remove(i).ok());
        drop(reqs);
        outcome?;
        let w = w.ok_or(EIO)?;
        if w.status < 0 {
            return Err(if w.status >= -4095 {
                Error::from_errno(w.status)
            } else {
                EIO
            });
        }
        Ok(Reply {
            len: w.len,
            data: w.data,
        })
    }

    fn new_request_id(&self) -> u32 {
        loop {
            let id = self.next_req.fetch_add(1, Relaxed);
            if id != 0 {
                return id;
            }
        }
    }

    /// Sends event `mtype` to `peer` (no response).
    pub(crate) fn event(&self, peer: u32, mtype: u16, payload: &[u8]) -> Result {
        self.send(peer, Kind::Event, mtype, 0, 0, payload)
    }

    /// Fails the requests waiting on `peer` (all with `None`).
    fn fail_requests(&self, peer: Option<u32>, state: u8) {
        let mut reqs = self.requests.lock();
        for w in reqs.iter_mut().filter(|w| peer.is_none_or(|p| p == w.peer)) {
            if w.state == 0 {
                w.state = state;
            }
        }
        drop(reqs);
        self.answered.notify_all();
    }

    // --- Connections.

    fn connect(&self, peer: u32) -> Result {
        self.transport.connect(peer)?;
        let n = self.connects.fetch_add(1, Relaxed);
        let mut session = self.session_base.wrapping_add(n.wrapping_mul(0x9e37_79b9));
        if session == 0 {
            session = 1;
        }
        let mut tx = self.tx.lock();
        let t = &mut tx[peer as usize];
        // Producer first, then the new session (logic::ring).
        let r = self
            .transport
            .tx_write(peer, ring::PRODUCER_OFF, &0u32.to_le_bytes())
            .and_then(|()| {
                self.transport
                    .tx_write(peer, ring::SESSION_OFF, &session.to_le_bytes())
            });
        if let Err(e) = r {
            drop(tx);
            self.transport.disconnect(peer);
            return Err(e);
        }
        *t = TxSlot {
            ring: TxRing::default(),
            connected: true,
            session,
        };
        Ok(())
    }

    fn disconnect(&self, peer: u32) {
        let was = core::mem::take(&mut self.tx.lock()[peer as usize]);
        if was.connected {
            self.transport.disconnect(peer);
        }
    }

    fn hello(&self, session: u32) -> [u8; proto::HELLO_SIZE] {
        let h = Hello {
            version: u32::from(proto::PROTO_VERSION),
            min_version: u32::from(proto::PROTO_MIN_VERSION),
            caps: uapi::RSIO_PEER_CAP_GRANTS,
            session,
            name: self.name,
        };
        let mut out = [0u8; proto::HELLO_SIZE];
        h.encode(&mut out);
        out
    }

    // --- The thread.

    /// Carries out what the membership machine asked for.
    fn act(&self, p: u32, action: Action, now: u64, why: &str) {
        match action {
            Action::None => {}
            Action::Connect => match self.connect(p) {
                Ok(()) => {
                    let id = self.new_request_id();
                    let session = self.tx.lock()[p as usize].session;
                    match self.send(
                        p,
                        Kind::Request,
                        proto::MT_HELLO,
                        id,
                        0,
                        &self.hello(session),
                    ) {
                        Ok(()) => self.peers.lock()[p as usize].m.hello_sent(now, id),
                        Err(e) => {
                            pr_debug!("hello to node {} failed: {:?}\n", p, e);
                            self.disconnect(p);
                            self.peers.lock()[p as usize].m.connect_failed(now);
                        }
                    }
                }
                Err(e) => {
                    if e != EAGAIN {
                        pr_debug!("connecting to node {} failed: {:?}\n", p, e);
                    }
                    self.peers.lock()[p as usize].m.connect_failed(now);
                }
            },
            Action::CameUp => {
                let name = self.peers.lock()[p as usize].m.name;
                let name = core::str::from_utf8(uapi::cstr_bytes(&name)).unwrap_or("?");
                pr_info!("node {} ({}) is up\n", p, name);
                features::peer_up(p);
            }
            Action::Died => {
                let heard = self.peers.lock()[p as usize].m.last_heard;
                let ago = heard.map_or(0, |t| now.saturating_sub(t));
                pr_info!("node {} is gone ({}; last heard {} ms ago)\n", p, why, ago);
                features::peer_down(p);
                self.fail_requests(Some(p), 2);
                self.disconnect(p);
                self.peers.lock()[p as usize].m.cleaned(now);
            }
            Action::Reset => {
                pr_debug!("node {}: hello abandoned ({})\n", p, why);
                self.disconnect(p);
            }
        }
    }

    fn tick(&self, now: u64) {
        let link = self.transport.link_mask();
        for p in self.peer_ids() {
            let up = link & (1 << p) != 0;
            let a = self.peers.lock()[p as usize].m.tick(now, up);
            self.act(p, a, now, if up { "silent" } else { "link down" });
        }
    }

    fn bump_heartbeat(&self) {
        let hb = self.heartbeat.fetch_add(1, Relaxed).wrapping_add(1);
        for p in self.peer_ids() {
            if self.tx.lock()[p as usize].connected {
                let _ = self
                    .transport
                    .tx_write(p, ring::HEARTBEAT_OFF, &hb.to_le_bytes());
            }
        }
    }

    /// Reads and handles what `p` sent us.
    fn receive(&self, p: u32, now: u64) {
        let mut hdr = [0u8; 12];
        if self
            .transport
            .rx_read(p, ring::SESSION_OFF, &mut hdr)
            .is_err()
        {
            return;
        }
        let word = |i: usize| u32::from_le_bytes([hdr[i], hdr[i + 1], hdr[i + 2], hdr[i + 3]]);
        let (session, producer, hb) = (word(0), word(4), word(8));
        let mut check = {
            let mut peers = self.peers.lock();
            let s = &mut peers[p as usize];
            let c = s.rx.check(session, producer);
            if s.rx.heartbeat_moved(hb) && s.m.state == State::Up {
                s.m.heard(now);
            }
            c
        };
        if check == RxCheck::NewSession {
            pr_debug!("node {} opened a new session {:#x}\n", p, session);
            let a = self.peers.lock()[p as usize].m.new_session(now, session);
            self.act(p, a, now, "new session");
            check = self.peers.lock()[p as usize].rx.check(session, producer);
        }
        let n = match check {
            RxCheck::Pending(n) => n,
            // A sender reconnecting writes `producer = 0` before its new
            // session: seen in between, that is no corruption.
            RxCheck::Corrupt if producer == 0 => 0,
            RxCheck::Corrupt => {
                self.stats.bad.fetch_add(1, Relaxed);
                pr_warn!(
                    "node {}: impossible ring index {}, resynchronized\n",
                    p,
                    producer
                );
                0
            }
            RxCheck::Idle | RxCheck::NewSession => 0,
        };
        let mut consumer = self.peers.lock()[p as usize].rx.consumer;
        for _ in 0..n {
            let mut slot = [0u8; ring::SLOT_SIZE];
            let seq = consumer;
            consumer = consumer.wrapping_add(1);
            if self
                .transport
                .rx_read(p, ring::slot_offset(seq), &mut slot)
                .is_err()
            {
                break;
            }
            match proto::decode(&slot, p, self.info.node_id, seq) {
                Ok(h) => {
                    self.stats.rx.fetch_add(1, Relaxed);
                    self.stats.peer_rx[p as usize].fetch_add(1, Relaxed);
                    let len = usize::from(h.len);
                    self.handle(
                        p,
                        &h,
                        &slot[proto::HEADER_SIZE..proto::HEADER_SIZE + len],
                        now,
                    );
                }
                Err(e) => {
                    self.stats.bad.fetch_add(1, Relaxed);
                    pr_debug!("node {}: message {} dropped: {:?}\n", p, seq, e);
                }
            }
        }
        if n > 0 {
            self.peers.lock()[p as usize].rx.consumer = consumer;
            let _ = self
                .transport
                .rx_write(p, ring::CONSUMER_OFF, &consumer.to_le_bytes());
        }
    }

    fn reply(&self, p: u32, h: &Header, status: i32, payload: &[u8]) {
        if let Err(e) = self.send(p, Kind::Response, h.mtype, h.req_id, status, payload) {
            pr_debug!("reply to node {} failed: {:?}\n", p, e);
        }
    }

    /// Adds a message to the trace.
    fn record(&self, tx: bool, peer: u32, h: &Header) {
        let e = TraceEntry {
            at_us: system::now_ns() / 1000,
            tx,
            peer,
            h: *h,
        };
        let mut t = self.trace.lock();
        let i = t.next % TRACE_LEN;
        t.entries[i] = Some(e);
        t.next = t.next.wrapping_add(1);
    }

    fn handle(&self, p: u32, h: &Header, payload: &[u8], now: u64) {
        self.record(false, p, h);
        pr_debug!(
            "rx {:?} type {:#x} req {} from node {}\n",
            h.kind,
            h.mtype,
            h.req_id,
            p
        );
        self.peers.lock()[p as usize].m.heard(now);
        match (h.kind, h.mtype) {
            (Kind::Request, proto::MT_HELLO) => {
                let Ok(hello) = Hello::decode(payload) else {
                    self.stats.bad.fetch_add(1, Relaxed);
                    return;
                };
                let a = self.peers.lock()[p as usize].m.hello_received(now, &hello);
                self.act(p, a, now, "hello from a new session");
                if a == Action::Died {
                    // A restarted core: what we knew is cleaned up; now
                    // connect to its new incarnation at once.
                    let a = self.peers.lock()[p as usize].m.hello_received(now, &hello);
                    self.act(p, a, now, "hello");
                }
                let session = self.tx.lock()[p as usize].session;
                self.reply(p, h, 0, &self.hello(session));
            }
            (Kind::Response, proto::MT_HELLO) => {
                let Ok(hello) = Hello::decode(payload) else {
                    self.stats.bad.fetch_add(1, Relaxed);
                    return;
                };
                let a = self.peers.lock()[p as usize]
                    .m
                    .hello_answered(now, h.req_id, &hello);
                self.act(p, a, now, "incompatible version");
            }
            (Kind::Request, _) if self.peers.lock()[p as usize].m.state != State::Up => {
                self.reply(p, h, -errno_of(EHOSTUNREACH), &[]);
            }
            (Kind::Request, proto::MT_PING) => self.reply(p, h, 0, payload),
            (Kind::Request, t) if t >= proto::MT_FEATURE_BASE => {
                let mut out = [0u8; proto::MAX_PAYLOAD];
                match features::request(p, t, payload, &mut out) {
                    Ok(n) => self.reply(p, h, 0, &out[..n.min(out.len())]),
                    Err(e) => self.reply(p, h, -errno_of(e), &[]),
                }
            }
            (Kind::Request, _) => self.reply(p, h, -errno_of(EOPNOTSUPP), &[]),
            (Kind::Response, _) => {
                let mut reqs = self.requests.lock();
                if let Some(w) = reqs
                    .iter_mut()
                    .find(|w| w.id == h.req_id && w.peer == p && w.state == 0)
                {
                    w.state = 1;
                    w.status = h.status;
                    w.len = payload.len();
                    w.data[..payload.len()].copy_from_slice(payload);
                    drop(reqs);
                    self.answered.notify_all();
                } else {
                    // Late (timed out) or never asked: dropped.
                    self.stats.bad.fetch_add(1, Relaxed);
                }
            }
            (Kind::Event, proto::MT_BYE) => {
                let a = self.peers.lock()[p as usize].m.bye(now);
                self.act(p, a, now, "it said bye");
            }
            (Kind::Event, t) if t >= proto::MT_FEATURE_BASE => features::event(p, t, payload),
            (Kind::Event, _) => {
                self.stats.bad.fetch_add(1, Relaxed);
            }
        }
    }
}

impl ThreadMain for Cluster {
    fn run(&self) {
        self.thread_task.store(task::current_task_id(), Relaxed);
        let mut next_hb = 0;
        while !kthread::should_stop() {
            let mut pause = PAUSE_MS.xchg(0, Relaxed);
            if pause > 0 {
                pr_info!("test hook: pausing for {} ms\n", pause);
            }
            while pause > 0 && !kthread::should_stop() {
                let ms = pause.min(TICK_MS);
                kernel::time::delay::fsleep(kernel::time::Delta::from_millis(ms as i64));
                pause -= ms;
            }
            let ev = self.sink.wait(TICK_MS);
            let now = system::now_ms();
            // Every ring is local memory: read them all, whoever notified.
            // Before the liveness check: after this node itself stalled
            // (its CPU held by a long fabric read), the peers' heartbeats
            // are in the rings, and the check must see them.
            let _ = ev.notified;
            for p in self.peer_ids() {
                self.receive(p, now);
            }
            self.tick(now);
            if now >= next_hb {
                self.bump_heartbeat();
                next_hb = now + members::HEARTBEAT_MS;
            }
        }
    }
}
