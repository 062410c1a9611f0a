//! Remote MMIO, target side: a node's adapter performing peers' accesses as
//! its own bus-master reads and writes (docs/adapter.md section 7).
//!
//! One FIFO per target node, served by one worker thread: writes are posted
//! (the source's access completes at once) and performed in order; a read
//! queues behind every earlier write and its source waits for it with the
//! completion timeout. The worker, not the source's vfio-user handler,
//! talks to the target's QEMU, so a source never waits on its own QEMU.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::{BusError, NodeHost};

type Host = Arc<Mutex<Option<Arc<dyn NodeHost>>>>;

enum Job {
    Write {
        addr: u64,
        data: Vec<u8>,
    },
    Read {
        addr: u64,
        len: usize,
        reply: SyncSender<Result<Vec<u8>, BusError>>,
    },
}

/// Why a remote read produced no data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RmmioError {
    /// The target's bus returned an error (or the target is gone).
    Bus,
    /// No completion within the timeout.
    Timeout,
}

/// The remote-MMIO queue of one target node.
pub struct RmmioQueue {
    jobs: Mutex<Sender<Job>>,
    host: Host,
}

impl RmmioQueue {
    /// Starts the queue's worker for node `node`.
    pub fn new(node: usize) -> Self {
        let (tx, rx) = mpsc::channel();
        let host: Host = Arc::new(Mutex::new(None));
        let worker_host = host.clone();
        thread::Builder::new()
            .name(format!("rmmio-{node}"))
            .spawn(move || serve(rx, worker_host))
            .expect("spawn a remote-MMIO worker");
        RmmioQueue {
            jobs: Mutex::new(tx),
            host,
        }
    }

    /// Sets (or clears) the host the worker performs accesses on.
    pub fn set_host(&self, host: Option<Arc<dyn NodeHost>>) {
        *self.host.lock().unwrap_or_else(|e| e.into_inner()) = host;
    }

    /// Posts a write.
    pub fn write(&self, addr: u64, data: &[u8]) {
        let _ = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(Job::Write {
                addr,
                data: data.to_vec(),
            });
    }

    /// Reads `buf.len()` bytes, after every write posted before it.
    pub fn read(&self, addr: u64, buf: &mut [u8], timeout: Duration) -> Result<(), RmmioError> {
        let (reply, result) = mpsc::sync_channel(1);
        let job = Job::Read {
            addr,
            len: buf.len(),
            reply,
        };
        if self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job)
            .is_err()
        {
            return Err(RmmioError::Bus);
        }
        match result.recv_timeout(timeout) {
            Ok(Ok(data)) if data.len() == buf.len() => {
                buf.copy_from_slice(&data);
                Ok(())
            }
            Ok(_) | Err(RecvTimeoutError::Disconnected) => Err(RmmioError::Bus),
            Err(RecvTimeoutError::Timeout) => Err(RmmioError::Timeout),
        }
    }
}

fn serve(jobs: Receiver<Job>, host: Host) {
    for job in jobs {
        let target = host.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match job {
            Job::Write { addr, data } => {
                if let Some(h) = target {
                    let _ = h.bus_write(addr, &data);
                }
            }
            Job::Read { addr, len, reply } => {
                let mut buf = vec![0u8; len];
                let result = match target {
                    Some(h) => h.bus_read(addr, &mut buf).map(|()| buf),
                    None => Err(BusError),
                };
                // The source may have timed out and gone; that is fine.
                let _ = reply.try_send(result);
            }
        }
    }
}
