// SPDX-License-Identifier: GPL-2.0

//! The borrowed function behind its virtual host bridge
//! (`rsio_kernel::pci_host`): what the borrower's PCI core sees of it.
//!
//! - Config space: the function's 4 KiB of the lender's ECAM, mapped
//!   through a translated-window slot (remote MMIO: no software on the
//!   lender, so it works under the PCI core's config spinlock). The BARs,
//!   the expansion ROM, the interrupt pin/line and the multi-function bit
//!   are virtualized.
//! - BARs: each forwarded BAR is a bus window at LUT slots onto the
//!   lender's inbound window over the real BAR.
//! - MSI/MSI-X: the message of vector `k` is a write of `k` to the
//!   lender-side INTERRUPT slot of this node plus `4 k`: it raises remote
//!   interrupt USER(k) here.
//! - DMA: a physical address of this node becomes the lender's
//!   direct-window address of it; a BAR of another borrowed function
//!   (`DMA_ATTR_MMIO`) the path its lender set up (peer-to-peer).
//! - Errors: a read the fabric failed (completion timeout, an error at the
//!   lender) freezes config space (all-ones, writes dropped, as a frozen
//!   EEH slot) and starts PCI error recovery ([`fabric_read_failed`]).

use crate::lend_abi::{LEND_BAR_64, LEND_BAR_IO, LEND_BAR_PREFETCH, LEND_NUM_BARS};
use kernel::{
    io::Io,
    new_condvar, new_spinlock_irq,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, CondVar, SpinLockIrq,
    },
    time::{delay::fsleep, msecs_to_jiffies, Delta},
};
use rsio_kernel::{
    io_mem::IoMem,
    kthread::{self, KThread, ThreadMain},
    pci::PciFunction,
    pci_host::{HostBridge, HostOps, Recovery},
};

/// Peer-to-peer paths a borrowed function holds at most.
pub(crate) const MAX_P2P: usize = 16;
/// How long recovery waits for a function to answer again, in seconds.
const RECOVER_WAIT_S: u32 = 15;

const PCI_VENDOR_ID: u32 = 0x00;
const PCI_COMMAND: u32 = 0x04;
const PCI_COMMAND_MEMORY: u32 = 0x2;
const PCI_CLASS_REVISION: u32 = 0x08;
const PCI_CACHE_LINE_SIZE: u32 = 0x0c;
const PCI_BASE_ADDRESS_0: u32 = 0x10;
const PCI_BASE_ADDRESS_5: u32 = 0x24;
const PCI_ROM_ADDRESS: u32 = 0x30;
const PCI_INTERRUPT_LINE: u32 = 0x3c;
const PCI_BASE_ADDRESS_MEM_MASK: u32 = !0xf;
const PCI_BASE_ADDRESS_MEM_TYPE_64: u32 = 0x4;
const PCI_BASE_ADDRESS_MEM_PREFETCH: u32 = 0x8;

/// One standard BAR as the borrower sees it.
#[derive(Clone, Copy, Default)]
pub(crate) struct BarSpec {
    /// Bytes (a power of two); 0: not forwarded (absent, I/O, upper half).
    pub(crate) size: u64,
    /// This node's bus address of the LUT slots reaching it.
    pub(crate) addr: u64,
    /// `LEND_BAR_*` of the real BAR.
    pub(crate) flags: u32,
}

/// What a borrowed function is made of.
pub(crate) struct FnParams {
    /// The function's ECAM page, mapped through its slot.
    pub(crate) cfg: IoMem,
    /// That slot's bus address here.
    pub(crate) cfg_bus: u64,
    /// Lender-side address of the INTERRUPT slot targeting this node.
    pub(crate) msi_bus: u64,
    /// Lender-side bus address of this node's RAM (direct window), and how
    /// many bytes of it are reachable there.
    pub(crate) dma_base: u64,
    pub(crate) dma_span: u64,
    /// The fabric device id, for messages.
    pub(crate) fdid: u32,
    /// Vendor | device << 16: presented for a VF, whose registers read 0xffff.
    pub(crate) ids: u32,
    /// An SR-IOV virtual function.
    pub(crate) virtfn: bool,
    pub(crate) bars: [BarSpec; LEND_NUM_BARS],
}

/// A peer-to-peer path: `DMA_ATTR_MMIO` mappings of `[phys, phys + size)`
/// get device address `dev + (addr - phys)`.
#[derive(Clone, Copy, Default)]
struct P2pPath {
    phys: u64,
    size: u64,
    dev: u64,
}

/// A borrowed function, as its host bridge's owner.
#[pin_data]
pub(crate) struct BorrowedFn {
    p: FnParams,
    /// What the borrower's PCI core last wrote to each BAR register.
    bar_reg: [Atomic<u32>; LEND_NUM_BARS],
    /// The real BAR registers, as the lender programmed them.
    real_bar: [u32; LEND_NUM_BARS],
    irq_line: Atomic<u32>,
    /// The lender is gone: config space reads all-ones for good.
    dead: Atomic<bool>,
    /// From a failed read until the function answers again: config
    /// accesses fail at once instead of each waiting out the fabric's
    /// completion timeout (a CPU stalled for seconds, e.g. by the driver's
    /// error handler probing the device, would miss the fabric core's
    /// heartbeats).
    frozen: Atomic<bool>,
    /// While recovery probes the function: its own failed reads are expected.
    probing: Atomic<bool>,
    /// Being removed: no recovery starts any more.
    removing: Atomic<bool>,
    #[pin]
    p2p: SpinLockIrq<[P2pPath; MAX_P2P]>,
    /// The last failed read: what failed, at which bus address.
    #[pin]
    err: SpinLockIrq<(&'static CStr, u64)>,
}

/// A borrowed function's bridge.
pub(crate) type Bridge = HostBridge<BorrowedFn>;

impl BorrowedFn {
    /// The function of `p`: `EINVAL` for BARs the bridge cannot present.
    pub(crate) fn new(p: FnParams) -> Result<impl PinInit<Self, Error>> {
        let mut bar_reg = [0u32; LEND_NUM_BARS];
        for (i, b) in p.bars.iter().enumerate() {
            if b.size == 0 {
                continue;
            }
            let is64 = b.flags & LEND_BAR_64 != 0;
            if !b.size.is_power_of_two()
                || b.flags & LEND_BAR_IO != 0
                || (is64 && i == LEND_NUM_BARS - 1)
            {
                return Err(EINVAL);
            }
            bar_reg[i] = b.addr as u32;
            if is64 {
                bar_reg[i + 1] = (b.addr >> 32) as u32;
            }
        }
        let io = p.cfg.io()?;
        let mut real_bar = [0u32; LEND_NUM_BARS];
        for (i, r) in real_bar.iter_mut().enumerate() {
            *r = io
                .try_read32(PCI_BASE_ADDRESS_0 as usize + 4 * i)
                .unwrap_or(0);
        }
        Ok(try_pin_init!(Self {
            p,
            bar_reg: bar_reg.map(Atomic::new),
            real_bar,
            irq_line: Atomic::new(0),
            dead: Atomic::new(false),
            frozen: Atomic::new(false),
            probing: Atomic::new(false),
            removing: Atomic::new(false),
            p2p <- new_spinlock_irq!([P2pPath::default(); MAX_P2P], "rsio_lend_p2p"),
            err <- new_spinlock_irq!((c"", 0), "rsio_lend_err"),
        }))
    }
}

// --- config space -------------------------------------------------------

fn bar_type_bits(flags: u32) -> u32 {
    (if flags & LEND_BAR_64 != 0 {
        PCI_BASE_ADDRESS_MEM_TYPE_64
    } else {
        0
    }) | if flags & LEND_BAR_PREFETCH != 0 {
        PCI_BASE_ADDRESS_MEM_PREFETCH
    } else {
        0
    }
}

impl BorrowedFn {
    /// BAR register `i` as the borrower reads it: what it wrote, masked by
    /// the size (so that writing all-ones sizes it), with the real type
    /// bits. Register `i + 1` of a 64-bit BAR `i` is its upper half.
    fn bar_read(&self, i: usize) -> u32 {
        let reg = self.bar_reg[i].load(Relaxed);
        let b = &self.p.bars[i];
        if b.size != 0 {
            let mask = !(b.size - 1);
            return (reg & mask as u32 & PCI_BASE_ADDRESS_MEM_MASK) | bar_type_bits(b.flags);
        }
        match i.checked_sub(1).map(|j| &self.p.bars[j]) {
            Some(lo) if lo.size != 0 && lo.flags & LEND_BAR_64 != 0 => {
                reg & (!(lo.size - 1) >> 32) as u32
            }
            _ => 0,
        }
    }

    /// The dword at `reg` with the virtualized registers applied to what
    /// the device returned in `real`.
    fn virt_dword(&self, reg: u32, real: u32) -> u32 {
        match reg {
            // A VF's ids are its PF's SR-IOV capability's.
            PCI_VENDOR_ID if real == !0 => real,
            PCI_VENDOR_ID => self.p.ids,
            // Header type at byte 2: one function.
            PCI_CACHE_LINE_SIZE => real & !(0x80 << 16),
            PCI_BASE_ADDRESS_0..=PCI_BASE_ADDRESS_5 => {
                self.bar_read(((reg - PCI_BASE_ADDRESS_0) / 4) as usize)
            }
            PCI_ROM_ADDRESS => 0,
            // No INTx: pin 0; the line is a scratch byte.
            PCI_INTERRUPT_LINE => (real & 0xffff_0000) | self.irq_line.load(Relaxed),
            _ => real,
        }
    }

    fn is_virtual(&self, reg: u32) -> bool {
        (reg == PCI_VENDOR_ID && self.p.virtfn)
            || reg == PCI_CACHE_LINE_SIZE
            || (PCI_BASE_ADDRESS_0..=PCI_BASE_ADDRESS_5).contains(&reg)
            || reg == PCI_ROM_ADDRESS
            || reg == PCI_INTERRUPT_LINE
    }

    fn blocked(&self, devfn: u32) -> bool {
        devfn != 0 || self.dead.load(Relaxed) || self.frozen.load(Relaxed)
    }

    /// A reset the borrower's kernel triggers (FLR, a D3hot round trip, as
    /// vfio-pci and the PCI core do) clears the real BARs, which the lender
    /// programmed and the borrower never sees: put them back before memory
    /// decoding is turned on again (every restore of the config space ends
    /// with the command register, after the BARs).
    fn restore_real_bars(&self) {
        if let Ok(io) = self.p.cfg.io() {
            for (i, v) in self.real_bar.iter().enumerate() {
                let _ = io.try_write32(*v, PCI_BASE_ADDRESS_0 as usize + 4 * i);
            }
        }
    }
}

impl HostOps for BorrowedFn {
    fn config_read(&self, devfn: u32, offset: u32, size: u32) -> Option<u32> {
        if self.blocked(devfn) {
            return None;
        }
        let io = self.p.cfg.io().ok()?;
        let (reg, shift, at) = (offset & !3, (offset & 3) * 8, offset as usize);
        if !self.is_virtual(reg) {
            return match size {
                1 => io.try_read8(at).ok().map(u32::from),
                2 => io.try_read16(at).ok().map(u32::from),
                _ => io.try_read32(at).ok(),
            };
        }
        // BARs, ROM and line are all virtual; the others' real bits matter.
        // A VF's id register reads all-ones: its class register tells
        // whether the function still answers.
        let real = match reg {
            PCI_VENDOR_ID => {
                if io.try_read32(PCI_CLASS_REVISION as usize).ok()? == !0 {
                    !0
                } else {
                    0
                }
            }
            PCI_CACHE_LINE_SIZE | PCI_INTERRUPT_LINE => io.try_read32(reg as usize).ok()?,
            _ => 0,
        };
        let v = self.virt_dword(reg, real) >> shift;
        Some(if size == 4 {
            v
        } else {
            v & ((1 << (size * 8)) - 1)
        })
    }

    fn config_write(&self, devfn: u32, offset: u32, size: u32, val: u32) -> bool {
        if self.blocked(devfn) {
            return false;
        }
        let (reg, shift) = (offset & !3, (offset & 3) * 8);
        if (PCI_BASE_ADDRESS_0..=PCI_BASE_ADDRESS_5).contains(&reg) {
            let i = ((reg - PCI_BASE_ADDRESS_0) / 4) as usize;
            let mask = (if size == 4 {
                !0
            } else {
                (1u32 << (size * 8)) - 1
            }) << shift;
            let old = self.bar_reg[i].load(Relaxed);
            self.bar_reg[i].store((old & !mask) | ((val << shift) & mask), Relaxed);
            return true;
        }
        if reg == PCI_ROM_ADDRESS {
            return true;
        }
        if reg == PCI_INTERRUPT_LINE {
            if offset == PCI_INTERRUPT_LINE {
                self.irq_line.store(val & 0xff, Relaxed);
            }
            return true;
        }
        if offset == PCI_COMMAND && size >= 2 && val & PCI_COMMAND_MEMORY != 0 {
            self.restore_real_bars();
        }
        let Ok(io) = self.p.cfg.io() else {
            return false;
        };
        let at = offset as usize;
        let _ = match size {
            1 => io.try_write8(val as u8, at),
            2 => io.try_write16(val as u16, at),
            _ => io.try_write32(val, at),
        };
        true
    }

    fn dma_address(&self, phys: u64, size: u64, mmio: bool) -> Option<u64> {
        if mmio {
            // Another device's BAR: reachable through a p2p path only.
            return self.p2p.lock().iter().find_map(|p| {
                let off = phys.checked_sub(p.phys)?;
                (p.size != 0 && off < p.size && size <= p.size - off).then(|| p.dev + off)
            });
        }
        let span = self.p.dma_span;
        if phys >= span || size > span - phys {
            return None;
        }
        Some(self.p.dma_base + phys)
    }

    fn msi_message(&self, vector: u32) -> (u64, u32) {
        (self.p.msi_bus + 4 * u64::from(vector), vector)
    }
}

// --- peer-to-peer ---------------------------------------------------------

impl BorrowedFn {
    /// `DMA_ATTR_MMIO` mappings of `[phys, phys + size)` (a BAR of another
    /// borrowed function, as this node sees it) get device address
    /// `dev_addr + offset`: `ENOSPC` when [`MAX_P2P`] paths exist,
    /// `EEXIST` when `phys` has one.
    pub(crate) fn p2p_add(&self, phys: u64, size: u64, dev_addr: u64) -> Result {
        if size == 0 || phys.checked_add(size).is_none() {
            return Err(EINVAL);
        }
        let mut paths = self.p2p.lock();
        if paths.iter().any(|p| p.size != 0 && p.phys == phys) {
            return Err(EEXIST);
        }
        let free = paths.iter_mut().find(|p| p.size == 0).ok_or(ENOSPC)?;
        *free = P2pPath {
            phys,
            size,
            dev: dev_addr,
        };
        Ok(())
    }

    /// Takes the path at `phys` away (nothing if there is none).
    pub(crate) fn p2p_del(&self, phys: u64) {
        for p in self.p2p.lock().iter_mut() {
            if p.size != 0 && p.phys == phys {
                p.size = 0;
            }
        }
    }

    /// The lender is gone: config space reads all-ones from now on.
    pub(crate) fn set_dead(&self) {
        self.dead.store(true, Relaxed);
    }

    /// Whether `addr` (this node's bus address) is the function's config
    /// page or one of its BARs.
    fn reaches(&self, addr: u64) -> bool {
        let within = |start: u64, len: u64| addr >= start && addr - start < len;
        within(self.p.cfg_bus, 4096)
            || self
                .p
                .bars
                .iter()
                .any(|b| b.size != 0 && within(b.addr, b.size))
    }
}

// --- error recovery -------------------------------------------------------

/// The recovery thread's queue: bridges whose function failed a read.
#[pin_data]
pub(crate) struct Recoverer {
    #[pin]
    queue: SpinLockIrq<KVec<Arc<Bridge>>>,
    #[pin]
    wake: CondVar,
    /// The bridge being recovered (its address; 0: none).
    running: Atomic<usize>,
}

impl ThreadMain for Recoverer {
    fn run(&self) {
        while !kthread::should_stop() {
            let next = {
                let mut q = self.queue.lock();
                if q.is_empty() {
                    let _ = self
                        .wake
                        .wait_interruptible_timeout(&mut q, msecs_to_jiffies(1000));
                }
                let b = q.pop();
                if let Some(b) = &b {
                    self.running.store(bridge_id(b), Relaxed);
                }
                b
            };
            if let Some(b) = next {
                recover(&b);
                self.running.store(0, Relaxed);
                // Maybe the last reference: the bridge goes in this thread.
                drop(b);
            }
        }
    }
}

fn bridge_id(b: &Arc<Bridge>) -> usize {
    core::ptr::from_ref::<Bridge>(b).addr()
}

/// The recovery thread, started by [`start_recoverer`].
struct RecoveryThread {
    rec: Arc<Recoverer>,
    _thread: KThread<Recoverer>,
}

rsio_kernel::global_lock! {
    /// Every started bridge, for [`fabric_read_failed`] (any context), and
    /// the recovery thread's queue.
    static BRIDGES: SpinLockIrq<Option<Watched>> = None;
}

/// What [`BRIDGES`] holds while the module runs.
struct Watched {
    all: KVec<Arc<Bridge>>,
    rec: Arc<Recoverer>,
}

rsio_kernel::global_lock! {
    /// The recovery thread (stopped by [`stop_recoverer`]).
    static THREAD: Mutex<Option<RecoveryThread>> = None;
}

/// Starts the recovery thread (module init).
pub(crate) fn start_recoverer() -> Result {
    let rec = Arc::pin_init(
        try_pin_init!(Recoverer {
            queue <- new_spinlock_irq!(KVec::new(), "rsio_lend_recover_queue"),
            wake <- new_condvar!("rsio_lend_recover_wake"),
            running: Atomic::new(0),
        }),
        GFP_KERNEL,
    )?;
    let thread = KThread::spawn(rec.clone(), c"rsio_lend_recover")?;
    *BRIDGES.lock() = Some(Watched {
        all: KVec::new(),
        rec: rec.clone(),
    });
    *THREAD.lock() = Some(RecoveryThread {
        rec,
        _thread: thread,
    });
    Ok(())
}

/// Stops the recovery thread (module exit, after every bridge is gone).
pub(crate) fn stop_recoverer() {
    let w = BRIDGES.lock().take();
    drop(w);
    let t = THREAD.lock().take();
    if let Some(t) = t {
        t.rec.wake.notify_all();
        drop(t);
    }
}

/// Lists `b` for [`fabric_read_failed`] (call before it starts).
pub(crate) fn watch(b: &Arc<Bridge>) -> Result {
    let mut w = BRIDGES.lock();
    let w = w.as_mut().ok_or(ENODEV)?;
    w.all.push(b.clone(), GFP_ATOMIC)?;
    Ok(())
}

/// Stops [`fabric_read_failed`] from reaching `b` and new recoveries from
/// starting, and waits for one in progress (before `b` is removed).
pub(crate) fn unwatch(b: &Arc<Bridge>) {
    b.ops().removing.store(true, Relaxed);
    let (gone, queued, rec) = {
        let mut w = BRIDGES.lock();
        match w.as_mut() {
            Some(w) => {
                let take = |v: &mut KVec<Arc<Bridge>>| {
                    v.iter()
                        .position(|x| Arc::ptr_eq(x, b))
                        .and_then(|i| v.remove(i).ok())
                };
                let gone = take(&mut w.all);
                let queued = take(&mut w.rec.queue.lock());
                (gone, queued, Some(w.rec.clone()))
            }
            None => (None, None, None),
        }
    };
    // Dropped outside the lock (never the last references: the caller has one).
    drop((gone, queued));
    if let Some(rec) = rec {
        while rec.running.load(Relaxed) == bridge_id(b) {
            fsleep(Delta::from_millis(10));
        }
    }
}

/// The adapter failed a read at this node's bus address `addr` (its
/// translated window): if it is a borrowed function's config page or BAR,
/// its driver goes through PCI error recovery. Any context.
pub(crate) fn fabric_read_failed(addr: u64, what: &'static CStr) -> bool {
    let w = BRIDGES.lock();
    let Some(w) = w.as_ref() else {
        return false;
    };
    match w.all.iter().find(|b| b.ops().reaches(addr)) {
        Some(b) => {
            report_error(&w.rec, b, what, addr);
            true
        }
        None => false,
    }
}

/// Freezes `b`'s config space and queues a recovery, unless one is queued
/// already (it covers every error reported before it starts) or the
/// function is being removed, is dead, or the error is recovery's own
/// probe. Any context.
fn report_error(rec: &Recoverer, b: &Arc<Bridge>, what: &'static CStr, addr: u64) {
    let f = b.ops();
    if f.removing.load(Relaxed) || f.dead.load(Relaxed) || f.probing.load(Relaxed) {
        return;
    }
    f.frozen.store(true, Relaxed);
    *f.err.lock() = (what, addr);
    let mut q = rec.queue.lock();
    if q.iter().any(|x| Arc::ptr_eq(x, b)) {
        return;
    }
    if q.push(b.clone(), GFP_ATOMIC).is_ok() {
        drop(q);
        rec.wake.notify_all();
    }
}

/// Waits until the function's config space answers through the fabric
/// (its class register reads other than all-ones), then thaws it. A probe
/// of a function that still does not answer waits out the completion
/// timeout; the pause before each probe lets the CPU do other work (the
/// fabric core's heartbeats among it).
fn wait_answer(f: &BorrowedFn, pdev: Option<&PciFunction>) -> bool {
    for _ in 0..RECOVER_WAIT_S {
        // First a pause: the failed read held the CPU for the completion
        // timeout, and a probe right away could hold it as long again.
        fsleep(Delta::from_secs(1));
        if f.dead.load(Relaxed) {
            return false;
        }
        f.probing.store(true, Relaxed);
        let answers =
            f.p.cfg
                .io()
                .and_then(|io| io.try_read32(PCI_CLASS_REVISION as usize))
                .is_ok_and(|v| v != !0);
        // The adapter's error interrupt for a failed probe comes first.
        f.probing.store(false, Relaxed);
        if answers {
            f.frozen.store(false, Relaxed);
            return true;
        }
    }
    if let Some(p) = pdev {
        dev_err!(
            p.device(),
            "rsio: the function did not answer for {} s\n",
            RECOVER_WAIT_S
        );
    }
    false
}

/// The queued recovery of `b` (the recovery thread).
fn recover(b: &Arc<Bridge>) {
    let f = b.ops();
    if f.removing.load(Relaxed) {
        return;
    }
    let (what, addr) = *f.err.lock();
    let (domain, bus) = b.location();
    let pdev = PciFunction::get(domain, bus, 0);
    if let Some(p) = &pdev {
        dev_err!(
            p.device(),
            "rsio: a read of fabric device {:#x} failed ({} at bus address {:#x}): the driver got all-ones; error recovery\n",
            f.p.fdid,
            what,
            addr
        );
    }
    // The failed read held a CPU for the completion timeout; the driver's
    // error handler reads the device too (BAR reads are not frozen), so
    // give the lender a moment and this node's CPU to the rest first.
    fsleep(Delta::from_secs(1));
    match b.recover(&|| wait_answer(f, pdev.as_ref())) {
        Recovery::Recovered => {
            if let Some(p) = &pdev {
                dev_info!(p.device(), "rsio: recovered\n");
            }
        }
        Recovery::NoDriver => {
            // No driver: thawed once the function answers (or never).
            wait_answer(f, pdev.as_ref());
        }
        r => {
            if let Some(p) = &pdev {
                dev_err!(
                    p.device(),
                    "rsio: not recovered: the driver is unbound (return the device and borrow it again)\n"
                );
            }
            if r == Recovery::Unbound {
                // A later rebind starts from a working state.
                f.frozen.store(false, Relaxed);
            }
        }
    }
}
