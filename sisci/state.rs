// SPDX-License-Identifier: GPL-2.0

//! The module's state: the tables of segments, connections, interrupts and
//! DMA queues, handle allocation, event queues and waiting.
//!
//! One mutex guards the tables; one condition variable wakes every waiter
//! (interrupt and event waits re-check their own object). Lock order: the
//! fabric core's callback lock, then `Shared::st`, then a DMA queue's lock.
//! Nothing sends a message or sleeps on the fabric while holding `st`:
//! operations collect what to send and send it after unlocking.

use crate::conn_state;
use crate::mappers::Mappers;
use crate::memory::SegMemory;
use crate::queue::Queue;
use crate::sisci_abi as abi;
use kernel::new_condvar;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::atomic::Atomic;
use kernel::sync::{Arc, CondVar, Mutex};
use kernel::time::{msecs_to_jiffies, Jiffies};
use rsio_kernel::eventfd::EventFd;
use rsio_lend::user::{UserBorrow, UserDevice};
use rsio_ntb::adapter::{Adapter, Info};
use rsio_ntb::dma::DmaChannel;
use rsio_ntb::lut::LutRange;
use rsio_ntb::multicast::McGroup;

pub(crate) use crate::conn_state::{CONN_CONNECTING, CONN_DEAD, CONN_OK, CONN_REVOKED};

/// An open file of `/dev/sisci` (unique per open).
pub(crate) type FileTag = u64;

/// Handles are below this (their mmap offsets must fit 64 bits).
const HANDLE_LIMIT: u32 = 1 << 23;
/// Events kept per object (the oldest is dropped beyond).
const EVENTS_MAX: usize = 32;
/// Data interrupts queued per interrupt before triggers get `ENOBUFS`.
pub(crate) const INTR_QUEUE_MAX: usize = 64;

/// A bounded queue of `(SISCI_EVENT_*, node)`.
#[derive(Default)]
pub(crate) struct Events(KVec<(u32, u32)>);

impl Events {
    pub(crate) fn push(&mut self, event: u32, node: u32) {
        if self.0.len() >= EVENTS_MAX {
            self.0.remove(0).ok();
        }
        // Pushing into room kept above cannot fail but for memory; an event
        // lost to ENOMEM leaves the object's state (lost flags) in force.
        let _ = self.0.push((event, node), GFP_ATOMIC);
    }

    pub(crate) fn pop(&mut self) -> Option<(u32, u32)> {
        if self.0.is_empty() {
            None
        } else {
            self.0.remove(0).ok()
        }
    }
}

/// A local segment.
pub(crate) struct LocalSeg {
    pub(crate) handle: u32,
    pub(crate) file: FileTag,
    pub(crate) id: u32,
    /// `SISCI_SEG_*` create flags.
    pub(crate) flags: u32,
    pub(crate) uid: u32,
    pub(crate) pid: u32,
    pub(crate) mem: Arc<SegMemory>,
    pub(crate) prepared: bool,
    pub(crate) available: bool,
    /// The peers' connections: (node, their connection handle).
    pub(crate) conns: KVec<(u32, u32)>,
    pub(crate) events: Events,
    pub(crate) mappers: Mappers,
    /// Maps of it for borrowed devices (`DEV_MAP`): removal is `EBUSY`.
    pub(crate) dev_maps: u32,
    /// Multicast segments: the group this node receives.
    pub(crate) mc: Option<McGroup>,
}

/// A connection to a remote segment (or to a multicast group).
pub(crate) struct Conn {
    pub(crate) handle: u32,
    pub(crate) file: FileTag,
    pub(crate) node: u32,
    pub(crate) seg_id: u32,
    pub(crate) uid: u32,
    pub(crate) pid: u32,
    pub(crate) size: u64,
    pub(crate) chunk_shift: u32,
    /// The owner's chunks' bus addresses.
    pub(crate) bus: KVec<u64>,
    /// `CONN_*`, read by DMA without the state lock.
    pub(crate) lost: Arc<Atomic<u32>>,
    pub(crate) events: Events,
    pub(crate) mappers: Mappers,
    /// Maps of it for borrowed devices (`DEV_MAP`): disconnecting is
    /// `EBUSY`.
    pub(crate) dev_maps: u32,
    /// Multicast: the translated-window slots that write to the group.
    pub(crate) mc: Option<LutRange>,
    /// The owner's device memory: the translated-window slots onto the
    /// owner's inbound window (`bus` is empty).
    pub(crate) win: Option<LutRange>,
}

/// A local interrupt.
pub(crate) struct LocalIntr {
    pub(crate) handle: u32,
    pub(crate) file: FileTag,
    pub(crate) no: u32,
    pub(crate) data: bool,
    pub(crate) flags: u32,
    pub(crate) uid: u32,
    /// Plain: triggers not yet taken, and the last sender.
    pub(crate) pending: u32,
    pub(crate) last_node: u32,
    /// Data: payloads not yet taken, oldest first.
    pub(crate) msgs: KVec<IntrMsg>,
    /// Data: the next payload's `seq`.
    pub(crate) next_seq: u64,
    /// Connected peers (node per connection).
    pub(crate) conns: KVec<u32>,
    pub(crate) efd: Option<EventFd>,
}

/// A queued data interrupt.
pub(crate) struct IntrMsg {
    /// Its number in the interrupt's queue (identifies it across unlocks).
    pub(crate) seq: u64,
    pub(crate) node: u32,
    pub(crate) len: u32,
    pub(crate) data: [u8; abi::SISCI_MAX_INTR_DATA as usize],
}

/// A connection to a peer's interrupt.
pub(crate) struct RemoteIntr {
    pub(crate) handle: u32,
    pub(crate) file: FileTag,
    pub(crate) node: u32,
    pub(crate) no: u32,
    pub(crate) data: bool,
    /// The owner removed it or died.
    pub(crate) gone: bool,
}

/// A DMA queue.
pub(crate) struct QueueEntry {
    pub(crate) handle: u32,
    pub(crate) file: FileTag,
    pub(crate) q: Arc<Queue>,
}

/// A device borrowed through a file.
pub(crate) struct DevObj {
    pub(crate) handle: u32,
    pub(crate) file: FileTag,
    pub(crate) borrow: UserBorrow,
    /// Where its BARs are mapped into user space.
    pub(crate) mappers: Mappers,
    pub(crate) maps: KVec<DevMap>,
}

/// A segment mapped for a device.
pub(crate) struct DevMap {
    /// `segment` is a connection.
    pub(crate) remote: bool,
    pub(crate) segment: u32,
    /// Maps not yet unmapped.
    pub(crate) count: u32,
    /// A local segment's memory, held for the device.
    pub(crate) mem: Option<Arc<SegMemory>>,
}

/// Memory a closed file had mapped for a shared device, kept while this
/// node's processes still borrow the device.
pub(crate) struct DevQuarantine {
    pub(crate) dev: Arc<UserDevice>,
    pub(crate) _mem: Arc<SegMemory>,
}

/// Memory of removed or revoked segments that peers may still reach until
/// they acknowledge (`SEG_GONE_ACK`) or die.
pub(crate) struct Quarantined {
    /// Held, not used: freed when the last peer let go.
    pub(crate) _mem: Arc<SegMemory>,
    pub(crate) seg_id: u32,
    pub(crate) pending: KVec<(u32, u32)>,
}

/// The tables.
pub(crate) struct State {
    next_handle: u32,
    pub(crate) segs: KVec<LocalSeg>,
    pub(crate) conns: KVec<Conn>,
    pub(crate) lintrs: KVec<LocalIntr>,
    pub(crate) rintrs: KVec<RemoteIntr>,
    pub(crate) queues: KVec<QueueEntry>,
    pub(crate) quarantine: KVec<Quarantined>,
    /// DMA channels not used by a queue.
    pub(crate) free_chans: KVec<DmaChannel>,
    /// Devices borrowed by processes.
    pub(crate) devs: KVec<DevObj>,
    /// Memory closed files mapped for shared devices still borrowed here.
    pub(crate) dev_quarantine: KVec<DevQuarantine>,
}

impl State {
    fn handle_used(&self, h: u32) -> bool {
        self.segs.iter().any(|x| x.handle == h)
            || self.conns.iter().any(|x| x.handle == h)
            || self.lintrs.iter().any(|x| x.handle == h)
            || self.rintrs.iter().any(|x| x.handle == h)
            || self.queues.iter().any(|x| x.handle == h)
            || self.devs.iter().any(|x| x.handle == h)
    }

    /// A handle no object has (never 0).
    pub(crate) fn new_handle(&mut self) -> Result<u32> {
        for _ in 0..HANDLE_LIMIT {
            let h = self.next_handle;
            self.next_handle = if h + 1 >= HANDLE_LIMIT { 1 } else { h + 1 };
            if !self.handle_used(h) {
                return Ok(h);
            }
        }
        Err(ENOSPC)
    }

    /// The local segment `handle` of `file` (`EBADF`... `EINVAL` otherwise).
    pub(crate) fn seg_mut(&mut self, file: FileTag, handle: u32) -> Result<&mut LocalSeg> {
        self.segs
            .iter_mut()
            .find(|s| s.handle == handle && s.file == file)
            .ok_or(EINVAL)
    }

    pub(crate) fn conn_mut(&mut self, file: FileTag, handle: u32) -> Result<&mut Conn> {
        self.conns
            .iter_mut()
            .find(|s| s.handle == handle && s.file == file)
            .ok_or(EINVAL)
    }

    /// The index of borrowed device `handle` of `file` (`EINVAL`).
    pub(crate) fn dev_index(&self, file: FileTag, handle: u32) -> Result<usize> {
        self.devs
            .iter()
            .position(|d| d.handle == handle && d.file == file)
            .ok_or(EINVAL)
    }

    /// Drops quarantined memory nobody may reach any more.
    pub(crate) fn release_quarantine(&mut self) {
        self.quarantine.retain(|q| !q.pending.is_empty());
    }
}

/// The module's message handlers (`handlers.rs`), for the messages this
/// node sends itself (`net.rs`): given to [`Shared::new`], so that the
/// files below the handlers reach them without importing them.
#[derive(Clone, Copy)]
pub(crate) struct Handlers {
    /// Handles request `mtype` from `node`.
    pub(crate) request: RequestHandler,
    /// Handles event `mtype` from `node`.
    pub(crate) event: EventHandler,
}

/// `(sh, node, mtype, payload, reply)`: handles request `mtype` from
/// `node`, its reply into `reply`; returns the reply's length.
pub(crate) type RequestHandler = fn(&Shared, u32, u16, &[u8], &mut [u8]) -> Result<usize>;

/// `(sh, node, mtype, payload)`: handles event `mtype` from `node`.
pub(crate) type EventHandler = fn(&Shared, u32, u16, &[u8]);

/// The module's shared state.
#[pin_data]
pub(crate) struct Shared {
    pub(crate) adapter: Arc<Adapter>,
    pub(crate) info: Info,
    pub(crate) node: u32,
    /// Where messages to `node` go.
    pub(crate) handlers: Handlers,
    /// DMA channels this module took (one per queue).
    pub(crate) dma_channels: u32,
    #[pin]
    pub(crate) st: Mutex<State>,
    #[pin]
    pub(crate) wake: CondVar,
}

impl Shared {
    pub(crate) fn new(
        adapter: Arc<Adapter>,
        node: u32,
        handlers: Handlers,
        chans: KVec<DmaChannel>,
    ) -> impl PinInit<Self, Error> {
        let info = *adapter.info();
        let dma_channels = chans.len() as u32;
        try_pin_init!(Self {
            adapter,
            info,
            node,
            handlers,
            dma_channels,
            st <- new_mutex!(State {
                next_handle: 1,
                segs: KVec::new(),
                conns: KVec::new(),
                lintrs: KVec::new(),
                rintrs: KVec::new(),
                queues: KVec::new(),
                quarantine: KVec::new(),
                free_chans: chans,
                devs: KVec::new(),
                dev_quarantine: KVec::new(),
            }, "rsio_sisci::Shared::st"),
            wake <- new_condvar!("rsio_sisci::Shared::wake"),
        })
    }

    /// Waits on `wake` (`guard` is `st`'s) until `ready` returns `Some`,
    /// the timeout passes (`ETIMEDOUT`) or a signal comes (`EINTR`, or the
    /// call restarts where the handler has `SA_RESTART`: the timeout then
    /// starts again).
    pub(crate) fn wait_for<R>(
        &self,
        guard: &mut kernel::sync::lock::Guard<'_, State, kernel::sync::lock::mutex::MutexBackend>,
        timeout_ms: u32,
        nonblock: bool,
        mut ready: impl FnMut(&mut State) -> Result<Option<R>>,
    ) -> Result<R> {
        let mut left: Jiffies = if timeout_ms == abi::SISCI_INFINITE {
            Jiffies::MAX
        } else {
            msecs_to_jiffies(timeout_ms)
        };
        loop {
            if let Some(r) = ready(&mut *guard)? {
                return Ok(r);
            }
            if nonblock {
                return Err(EAGAIN);
            }
            if left == 0 {
                return Err(ETIMEDOUT);
            }
            match self.wake.wait_interruptible_timeout(guard, left) {
                kernel::sync::CondVarTimeoutResult::Timeout => left = 0,
                kernel::sync::CondVarTimeoutResult::Woken { jiffies } => {
                    if left != Jiffies::MAX {
                        left = jiffies
                    }
                }
                // EINTR, or restarted for an SA_RESTART handler.
                kernel::sync::CondVarTimeoutResult::Signal { .. } => return Err(ERESTARTSYS),
            }
        }
    }

    /// A new connection-state flag.
    pub(crate) fn new_lost(v: u32) -> Result<Arc<Atomic<u32>>> {
        Ok(Arc::new(Atomic::new(v), GFP_KERNEL)?)
    }

    /// The connection flag's value.
    pub(crate) fn lost(f: &Atomic<u32>) -> u32 {
        conn_state::get(f)
    }
}
