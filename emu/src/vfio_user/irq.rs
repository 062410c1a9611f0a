//! Interrupts: the eventfds QEMU hands over with DEVICE_SET_IRQS, the
//! per-vector mask and pending state, and [`Interrupts`], the handle a
//! device model uses to raise vector N.
//!
//! Raising a vector writes to its eventfd, which QEMU turns into an MSI
//! (or INTx) in the guest. A vector that is masked, or has no eventfd yet
//! (the guest has not enabled it), records the interrupt as pending
//! instead; it is delivered as soon as the vector is unmasked or gets an
//! eventfd. QEMU 11 masks MSI-X vectors through DEVICE_SET_IRQS when the
//! index is reported maskable, and forwards guest reads of the MSI-X
//! Pending Bit Array to the device, which answers them with
//! [`Interrupts::pending_bits`].

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};

/// IRQ index numbers for PCI devices (`VFIO_PCI_*_IRQ_INDEX`).
pub mod irq_index {
    /// Legacy INTx (one vector).
    pub const INTX: u32 = 0;
    pub const MSI: u32 = 1;
    pub const MSIX: u32 = 2;
    /// Error notification (AER-like), one vector.
    pub const ERR: u32 = 3;
    /// Device request ("please release the device"), one vector.
    pub const REQ: u32 = 4;
    /// The number of standard PCI indices (`VFIO_PCI_NUM_IRQS`).
    pub const COUNT: u32 = 5;
}

/// What happened to a raised interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The vector's eventfd was signalled.
    Signalled,
    /// The vector is masked or not set up; the interrupt is pending and
    /// will be signalled when that changes.
    Pending,
}

/// Raising an interrupt failed.
#[derive(Debug, PartialEq, Eq)]
pub enum IrqError {
    /// The device has no such index or vector.
    NoSuchVector { index: u32, vector: u32 },
}

impl std::fmt::Display for IrqError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IrqError::NoSuchVector { index, vector } => {
                write!(f, "no interrupt vector {vector} at IRQ index {index}")
            }
        }
    }
}

impl std::error::Error for IrqError {}

#[derive(Default)]
struct Vector {
    eventfd: Option<OwnedFd>,
    masked: bool,
    pending: bool,
}

impl Vector {
    /// Signals if possible, else records the interrupt as pending.
    fn raise(&mut self) -> Delivery {
        match &self.eventfd {
            Some(fd) if !self.masked => {
                signal(fd);
                self.pending = false;
                Delivery::Signalled
            }
            _ => {
                self.pending = true;
                Delivery::Pending
            }
        }
    }

    /// Delivers a pending interrupt once the vector can take it.
    fn flush(&mut self) {
        if self.pending && !self.masked && self.eventfd.is_some() {
            self.raise();
        }
    }
}

/// Writes 1 to an eventfd. A full counter (EAGAIN on a non-blocking fd)
/// means an undelivered interrupt is already there, which is as good.
fn signal(fd: &OwnedFd) {
    let one = 1u64.to_ne_bytes();
    loop {
        // SAFETY: writes 8 bytes from a live buffer to a descriptor we own.
        let n = unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), one.len()) };
        if n >= 0 {
            return;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            if err.kind() != io::ErrorKind::WouldBlock {
                log::warn!("vfio-user: signalling an interrupt eventfd failed: {err}");
            }
            return;
        }
    }
}

/// The interrupt state of one device: cloneable, thread-safe, and valid
/// across client reconnects (a new client starts with no eventfds).
#[derive(Clone)]
pub struct Interrupts {
    indices: Arc<Mutex<Vec<Vec<Vector>>>>,
}

impl Interrupts {
    /// State for a device with `counts[i]` vectors at index `i`.
    pub(crate) fn new(counts: &[u32]) -> Interrupts {
        let indices = counts
            .iter()
            .map(|&n| (0..n).map(|_| Vector::default()).collect())
            .collect();
        Interrupts {
            indices: Arc::new(Mutex::new(indices)),
        }
    }

    /// Raises `vector` at `index` (e.g. `irq_index::MSIX`): signals its
    /// eventfd, or records it pending if masked or not set up. Never
    /// blocks on the client, so it may be called from any thread,
    /// including from inside device callbacks.
    pub fn trigger(&self, index: u32, vector: u32) -> Result<Delivery, IrqError> {
        let mut indices = self.lock();
        let v = Self::vector(&mut indices, index, vector)?;
        Ok(v.raise())
    }

    /// The number of vectors at `index` (0 if none).
    pub fn count(&self, index: u32) -> u32 {
        self.lock()
            .get(index as usize)
            .map_or(0, |v| v.len() as u32)
    }

    /// Whether the client set up an eventfd for the vector.
    pub fn is_enabled(&self, index: u32, vector: u32) -> bool {
        self.with(index, vector, |v| v.eventfd.is_some())
    }

    pub fn is_masked(&self, index: u32, vector: u32) -> bool {
        self.with(index, vector, |v| v.masked)
    }

    pub fn is_pending(&self, index: u32, vector: u32) -> bool {
        self.with(index, vector, |v| v.pending)
    }

    /// Pending bits of vectors `first..first + 64` (bit i = vector
    /// first + i), the layout of a 64-bit word of the MSI-X Pending Bit
    /// Array (`first` = 64 × the word's index).
    pub fn pending_bits(&self, index: u32, first: u32) -> u64 {
        let indices = self.lock();
        let Some(vectors) = indices.get(index as usize) else {
            return 0;
        };
        vectors
            .iter()
            .skip(first as usize)
            .take(64)
            .enumerate()
            .filter(|(_, v)| v.pending)
            .fold(0, |bits, (i, _)| bits | 1 << i)
    }

    /// Assigns (`Some`) or removes (`None`) the eventfds of vectors
    /// `start..start + fds.len()`; pending interrupts of newly enabled
    /// vectors are delivered.
    pub(crate) fn set_eventfds(&self, index: u32, start: u32, fds: Vec<Option<OwnedFd>>) {
        let mut indices = self.lock();
        for (i, fd) in fds.into_iter().enumerate() {
            if let Ok(v) = Self::vector(&mut indices, index, start + i as u32) {
                v.eventfd = fd;
                v.flush();
            }
        }
    }

    /// Masks or unmasks the selected vectors of `start..start + count`;
    /// unmasking delivers pending interrupts.
    pub(crate) fn set_masked(&self, index: u32, start: u32, select: &[bool], masked: bool) {
        self.for_selected(index, start, select, |v| {
            v.masked = masked;
            v.flush();
        });
    }

    /// Raises the selected vectors on the client's behalf.
    pub(crate) fn raise_selected(&self, index: u32, start: u32, select: &[bool]) {
        self.for_selected(index, start, select, |v| {
            v.raise();
        });
    }

    /// Tears down every vector of `index`: eventfds closed, masks and
    /// pending interrupts cleared.
    pub(crate) fn disable(&self, index: u32) {
        if let Some(vectors) = self.lock().get_mut(index as usize) {
            vectors.iter_mut().for_each(|v| *v = Vector::default());
        }
    }

    /// Tears down every index (the client disconnected).
    pub(crate) fn disable_all(&self) {
        for vectors in self.lock().iter_mut() {
            vectors.iter_mut().for_each(|v| *v = Vector::default());
        }
    }

    fn for_selected(
        &self,
        index: u32,
        start: u32,
        select: &[bool],
        mut f: impl FnMut(&mut Vector),
    ) {
        let mut indices = self.lock();
        for (i, _) in select.iter().enumerate().filter(|(_, &s)| s) {
            if let Ok(v) = Self::vector(&mut indices, index, start + i as u32) {
                f(v);
            }
        }
    }

    fn with<T: Default>(&self, index: u32, vector: u32, f: impl FnOnce(&Vector) -> T) -> T {
        let mut indices = self.lock();
        Self::vector(&mut indices, index, vector)
            .map(|v| f(v))
            .unwrap_or_default()
    }

    fn vector(
        indices: &mut [Vec<Vector>],
        index: u32,
        vector: u32,
    ) -> Result<&mut Vector, IrqError> {
        indices
            .get_mut(index as usize)
            .and_then(|vectors| vectors.get_mut(vector as usize))
            .ok_or(IrqError::NoSuchVector { index, vector })
    }

    // No update can be left half-done by a panic, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Vec<Vec<Vector>>> {
        self.indices.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for Interrupts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let indices = self.lock();
        let counts: Vec<usize> = indices.iter().map(Vec::len).collect();
        f.debug_struct("Interrupts")
            .field("counts", &counts)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::FromRawFd;

    fn eventfd() -> (OwnedFd, OwnedFd) {
        // SAFETY: eventfd returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        assert!(fd >= 0);
        // SAFETY: fd is new and ours.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let dup = fd.try_clone().unwrap();
        (fd, dup)
    }

    /// Reads (and resets) an eventfd's counter; 0 if it was never written.
    fn take(fd: &OwnedFd) -> u64 {
        let mut buf = [0u8; 8];
        // SAFETY: reads 8 bytes into a live buffer.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
        if n == 8 {
            u64::from_ne_bytes(buf)
        } else {
            0
        }
    }

    #[test]
    fn a_vector_with_an_eventfd_is_signalled() {
        let irqs = Interrupts::new(&[0, 0, 4]);
        let (ours, theirs) = eventfd();
        irqs.set_eventfds(irq_index::MSIX, 1, vec![Some(ours)]);
        assert_eq!(irqs.trigger(irq_index::MSIX, 1), Ok(Delivery::Signalled));
        assert_eq!(take(&theirs), 1);
    }

    #[test]
    fn a_vector_without_an_eventfd_stays_pending_until_it_gets_one() {
        let irqs = Interrupts::new(&[0, 0, 4]);
        assert_eq!(irqs.trigger(irq_index::MSIX, 3), Ok(Delivery::Pending));
        assert_eq!(irqs.pending_bits(irq_index::MSIX, 0), 0b1000);
        let (ours, theirs) = eventfd();
        irqs.set_eventfds(irq_index::MSIX, 3, vec![Some(ours)]);
        assert_eq!(take(&theirs), 1);
        assert!(!irqs.is_pending(irq_index::MSIX, 3));
    }

    #[test]
    fn a_masked_vector_collects_one_pending_interrupt_and_delivers_it_on_unmask() {
        let irqs = Interrupts::new(&[0, 0, 2]);
        let (ours, theirs) = eventfd();
        irqs.set_eventfds(irq_index::MSIX, 0, vec![Some(ours)]);
        irqs.set_masked(irq_index::MSIX, 0, &[true], true);
        assert_eq!(irqs.trigger(irq_index::MSIX, 0), Ok(Delivery::Pending));
        assert_eq!(irqs.trigger(irq_index::MSIX, 0), Ok(Delivery::Pending));
        assert_eq!(take(&theirs), 0);
        irqs.set_masked(irq_index::MSIX, 0, &[true], false);
        assert_eq!(take(&theirs), 1);
        assert_eq!(irqs.pending_bits(irq_index::MSIX, 0), 0);
    }

    #[test]
    fn out_of_range_vectors_are_errors_not_panics() {
        let irqs = Interrupts::new(&[1]);
        assert_eq!(
            irqs.trigger(0, 1),
            Err(IrqError::NoSuchVector {
                index: 0,
                vector: 1
            })
        );
        assert_eq!(
            irqs.trigger(7, 0),
            Err(IrqError::NoSuchVector {
                index: 7,
                vector: 0
            })
        );
        assert_eq!(irqs.pending_bits(9, 0), 0);
        assert!(!irqs.is_masked(9, 9));
    }

    #[test]
    fn disabling_an_index_drops_its_eventfds_and_state() {
        let irqs = Interrupts::new(&[0, 0, 1]);
        let (ours, _theirs) = eventfd();
        irqs.set_eventfds(irq_index::MSIX, 0, vec![Some(ours)]);
        irqs.set_masked(irq_index::MSIX, 0, &[true], true);
        irqs.disable(irq_index::MSIX);
        assert!(!irqs.is_enabled(irq_index::MSIX, 0));
        assert!(!irqs.is_masked(irq_index::MSIX, 0));
    }

    #[test]
    fn pending_bits_start_at_the_requested_vector() {
        let irqs = Interrupts::new(&[0, 0, 130]);
        irqs.trigger(irq_index::MSIX, 64).unwrap();
        irqs.trigger(irq_index::MSIX, 129).unwrap();
        assert_eq!(irqs.pending_bits(irq_index::MSIX, 0), 0);
        assert_eq!(irqs.pending_bits(irq_index::MSIX, 64), 1);
        assert_eq!(irqs.pending_bits(irq_index::MSIX, 128), 0b10);
    }
}
