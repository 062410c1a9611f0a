// SPDX-License-Identifier: GPL-2.0

//! The manager's hold on an NVMe controller: the function claimed from the
//! nvme driver, its registers, its MSI-X table, and the admin queue
//! (polled: admin commands are rare, and their interrupt vector stays
//! masked). Bring-up follows the NVMe base specification: disable, admin
//! queues, enable, Identify, Number of Queues.

use crate::logic::nvme::{self, Cap, CqCursor, Cqe, IdCtrl, IdNs, Sqe};
use core::sync::atomic::{fence, Ordering};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::time::{delay::fsleep, Delta, Instant, Monotonic};
use rsio_kernel::coherent::CoherentBuf;
use rsio_kernel::io_mem::IoMem;
use rsio_kernel::iommu::{Confinement, Isolation};
use rsio_kernel::pci::StubClaim;
use rsio_kernel::phys_pages::PhysPages;

/// What Identify data starts as.
static ZERO_PAGE: [u8; nvme::IDENTIFY_LEN] = [0; nvme::IDENTIFY_LEN];

/// Admin queue entries (both queues).
const ADMIN_ENTRIES: u16 = 32;
/// The longest an admin command may take before the controller is
/// declared failed. Admin commands run on the fabric core's thread for
/// client requests: it must stay well below the core's liveness bound.
const ADMIN_TIMEOUT_US: i64 = 500_000;
/// `PCI_CAP_ID_MSIX`.
const CAP_MSIX: u8 = 0x11;
/// Namespaces kept per controller (more are ignored, logged).
pub(crate) const MAX_NS: usize = 32;
/// `PCI_COMMAND`: memory decoding, bus mastering, INTx off.
const COMMAND_ON: u16 = 0x2 | 0x4 | 0x400;

fn rd64(m: &IoMem, off: usize) -> u64 {
    u64::from(m.read32(off)) | u64::from(m.read32(off + 4)) << 32
}

fn wr64(m: &IoMem, off: usize, v: u64) {
    m.write32(off, v as u32);
    m.write32(off + 4, (v >> 32) as u32);
}

/// A namespace as Identify described it.
#[derive(Clone, Copy)]
pub(crate) struct Namespace {
    pub(crate) nsid: u32,
    pub(crate) id: IdNs,
}

/// Memory of the admin queue: coherent DMA memory, or, where the function
/// is confined to a domain of its own, pages mapped one to one in it.
enum Mem {
    Coherent(CoherentBuf),
    Phys(PhysPages),
}

impl Mem {
    fn alloc(claim: &StubClaim, own_domain: bool, len: usize) -> Result<Self> {
        if own_domain {
            Ok(Mem::Phys(PhysPages::alloc(0)?))
        } else {
            Ok(Mem::Coherent(claim.coherent(len)?))
        }
    }

    /// The address the controller uses.
    fn bus(&self) -> u64 {
        match self {
            Mem::Coherent(b) => b.bus_addr(),
            Mem::Phys(p) => p.phys(),
        }
    }

    fn zero(&self) -> Result {
        match self {
            Mem::Coherent(b) => b.zero(0, b.len()),
            Mem::Phys(p) => {
                p.zero();
                Ok(())
            }
        }
    }

    fn write(&self, off: usize, data: &[u8]) -> Result {
        match self {
            Mem::Coherent(b) => b.write(off, data),
            Mem::Phys(p) => p.write(off, data),
        }
    }

    fn read(&self, off: usize, out: &mut [u8]) -> Result {
        match self {
            Mem::Coherent(b) => b.read(off, out),
            Mem::Phys(p) => p.read(off, out),
        }
    }
}

/// The admin queue.
struct Admin {
    sq: Mem,
    cq: Mem,
    /// 4 KiB for Identify and log pages.
    data: Mem,
    tail: u16,
    head: CqCursor,
    next_cid: u16,
}

/// A controller the manager drives. Fields drop in order, after `drop`
/// disabled the controller: the IOMMU domain, the mappings and the admin
/// memory, and last the function, which goes back to its driver.
pub(crate) struct Hw {
    /// Where the function's IOMMU group is its own: a domain that maps the
    /// admin buffers and, per attachment, the client's span and slot (one
    /// to one), and nothing else.
    pub(crate) confined: Option<Confinement>,
    /// BAR 0: registers and doorbells.
    regs: IoMem,
    /// The MSI-X table.
    msix: IoMem,
    msix_entries: u32,
    pub(crate) cap: Cap,
    pub(crate) id: IdCtrl,
    /// I/O queue pairs the controller granted (`1..=64`).
    pub(crate) qpairs: u16,
    pub(crate) namespaces: KVec<Namespace>,
    admin: Pin<KBox<Mutex<Admin>>>,
    pub(crate) claim: StubClaim,
}

impl Hw {
    /// Brings the claimed controller up: `EOPNOTSUPP` for a controller
    /// this module cannot drive, `EIO` if it fails to come up.
    pub(crate) fn bring_up(claim: StubClaim) -> Result<Self> {
        // NVMe addresses 64 bits; the direct window lies high.
        claim.set_dma_mask(64)?;
        claim.config_write16(kernel::bindings::PCI_COMMAND as u16, COMMAND_ON);
        let bar0 = claim.bar_info(0);
        if bar0.len < 0x2000 || bar0.io {
            return Err(EOPNOTSUPP);
        }
        let regs = claim.iomem(0, 0, bar0.len.min(1 << 16) as usize)?;
        let cap = Cap(rd64(&regs, nvme::REG_CAP));
        if cap.0 == !0 || !cap.nvm_css() || cap.mpsmin() != 0 {
            dev_err!(
                claim.device(),
                "controller unsupported (CAP {:#x})\n",
                cap.0
            );
            return Err(EOPNOTSUPP);
        }
        let (msix, msix_entries) = map_msix(&claim)?;
        let own = matches!(claim.isolation(), Isolation::Own);
        let admin = Admin {
            sq: Mem::alloc(&claim, own, usize::from(ADMIN_ENTRIES) * nvme::SQE_SIZE)?,
            cq: Mem::alloc(&claim, own, usize::from(ADMIN_ENTRIES) * nvme::CQE_SIZE)?,
            data: Mem::alloc(&claim, own, nvme::IDENTIFY_LEN)?,
            tail: 0,
            head: CqCursor::new(ADMIN_ENTRIES),
            next_cid: 0,
        };
        let confined = confine(&claim, &admin)?;
        let mut hw = Self {
            confined,
            claim,
            regs,
            msix,
            msix_entries,
            cap,
            id: IdCtrl::parse(&ZERO_PAGE).ok_or(EINVAL)?,
            qpairs: 0,
            namespaces: KVec::new(),
            admin: KBox::pin_init(new_mutex!(admin, "rsio_nvme_admin"), GFP_KERNEL)?,
        };
        hw.disable()?;
        hw.enable()?;
        hw.mask_all_vectors();
        hw.identify()?;
        hw.set_queue_count()?;
        Ok(hw)
    }

    /// The controller's ready timeout.
    fn ready_timeout_us(&self) -> i64 {
        i64::from(self.cap.timeout_ms().clamp(500, 30_000)) * 1000
    }

    fn wait_ready(&self, ready: bool) -> Result {
        let start = Instant::<Monotonic>::now();
        loop {
            let csts = self.regs.read32(nvme::REG_CSTS);
            if csts == !0 {
                return Err(ENODEV);
            }
            if (csts & nvme::CSTS_RDY != 0) == ready {
                return Ok(());
            }
            if ready && csts & nvme::CSTS_CFS != 0 {
                return Err(EIO);
            }
            if start.elapsed() > Delta::from_micros(self.ready_timeout_us()) {
                return Err(ETIMEDOUT);
            }
            fsleep(Delta::from_micros(1000));
        }
    }

    /// `CC.EN = 0` and waits for `CSTS.RDY = 0`: the controller no longer
    /// processes any queue (and deletes the I/O queues).
    pub(crate) fn disable(&self) -> Result {
        let cc = self.regs.read32(nvme::REG_CC);
        if cc == !0 {
            return Err(ENODEV);
        }
        self.regs.write32(nvme::REG_CC, cc & !nvme::CC_EN);
        self.wait_ready(false)
    }

    fn enable(&self) -> Result {
        {
            let mut a = self.admin.lock();
            a.sq.zero()?;
            a.cq.zero()?;
            a.tail = 0;
            a.head = CqCursor::new(ADMIN_ENTRIES);
            self.regs
                .write32(nvme::REG_AQA, nvme::aqa(ADMIN_ENTRIES, ADMIN_ENTRIES));
            wr64(&self.regs, nvme::REG_ASQ, a.sq.bus());
            wr64(&self.regs, nvme::REG_ACQ, a.cq.bus());
        }
        self.regs.write32(nvme::REG_CC, nvme::cc_enable());
        self.wait_ready(true).inspect_err(|e| {
            dev_err!(
                self.claim.device(),
                "controller did not become ready: {:?}\n",
                e
            );
        })
    }

    /// Resets the controller (`CC.EN` 0 then 1): every I/O queue is gone
    /// after it, the admin queue starts empty, the MSI-X entries are
    /// masked, and it is asked for the same number of I/O queues again.
    pub(crate) fn restart(&self) -> Result {
        self.disable()?;
        self.enable()?;
        self.mask_all_vectors();
        let c = self.admin(nvme::set_features(0, nvme::FEAT_NUM_QUEUES, 0xfffe_fffe))?;
        let n = ((c.dw0 & 0xffff).min(c.dw0 >> 16) + 1) as u16;
        if n < self.qpairs {
            dev_err!(
                self.claim.device(),
                "after the reset only {} I/O queue pairs\n",
                n
            );
            return Err(EIO);
        }
        Ok(())
    }

    /// Fatal status: the controller must be reset.
    pub(crate) fn failed(&self) -> bool {
        let csts = self.regs.read32(nvme::REG_CSTS);
        csts == !0 || csts & nvme::CSTS_CFS != 0
    }

    fn identify(&mut self) -> Result {
        let page = self.admin_data(nvme::identify(0, nvme::CNS_CONTROLLER, 0, 0))?;
        self.id = IdCtrl::parse(&page).ok_or(EIO)?;
        let page = self.admin_data(nvme::identify(0, nvme::CNS_ACTIVE_NS_LIST, 0, 0))?;
        let mut ids = [0u32; MAX_NS];
        let n = nvme::active_ns_list(&page, &mut ids);
        for &nsid in ids.iter().take(n) {
            let page = self.admin_data(nvme::identify(0, nvme::CNS_NAMESPACE, nsid, 0))?;
            match IdNs::parse(&page) {
                Some(id) if id.nsze > 0 => {
                    self.namespaces.push(Namespace { nsid, id }, GFP_KERNEL)?
                }
                _ => dev_warn!(
                    self.claim.device(),
                    "namespace {} unusable (format)\n",
                    nsid
                ),
            }
        }
        Ok(())
    }

    /// Number of Queues: as many as the controller has, at most one per
    /// MSI-X entry besides the admin queue's, at most 64.
    fn set_queue_count(&mut self) -> Result {
        let c = self.admin(nvme::set_features(0, nvme::FEAT_NUM_QUEUES, 0xfffe_fffe))?;
        let nsqa = (c.dw0 & 0xffff) as u16;
        let ncqa = (c.dw0 >> 16) as u16;
        let by_vectors = self.msix_entries.saturating_sub(1).min(64) as u16;
        self.qpairs = (nsqa.min(ncqa).saturating_add(1))
            .min(by_vectors)
            .min(crate::logic::allot::MAX_QPAIRS);
        if self.qpairs == 0 {
            return Err(EOPNOTSUPP);
        }
        Ok(())
    }

    /// Runs admin command `sqe` (its CID is set here) and returns its
    /// completion; a command that fails is `EIO` with the status logged.
    pub(crate) fn admin(&self, sqe: Sqe) -> Result<Cqe> {
        let c = self.admin_raw(sqe, false)?.0;
        if !c.ok() {
            dev_warn!(
                self.claim.device(),
                "admin command {:#x} failed: status {:#x}\n",
                nvme::sqe_opcode(&sqe),
                c.status
            );
            return Err(EIO);
        }
        Ok(c)
    }

    /// Runs `sqe` with the 4 KiB data buffer as PRP1 and returns the page.
    pub(crate) fn admin_data(&self, sqe: Sqe) -> Result<KVec<u8>> {
        let (c, page) = self.admin_raw(sqe, true)?;
        if !c.ok() {
            return Err(EIO);
        }
        Ok(page)
    }

    fn admin_raw(&self, mut sqe: Sqe, data: bool) -> Result<(Cqe, KVec<u8>)> {
        let mut a = self.admin.lock();
        let cid = a.next_cid;
        a.next_cid = a.next_cid.wrapping_add(1) & 0xfff;
        sqe[0] = (sqe[0] & 0xffff) | u32::from(cid) << 16;
        if data {
            let bus = a.data.bus();
            sqe[6] = bus as u32;
            sqe[7] = (bus >> 32) as u32;
            a.data.zero()?;
        }
        let dstrd = self.cap.dstrd();
        a.sq.write(usize::from(a.tail) * nvme::SQE_SIZE, &nvme::sqe_bytes(&sqe))?;
        a.tail = (a.tail + 1) % ADMIN_ENTRIES;
        self.regs
            .write32(nvme::sq_tail_doorbell(0, dstrd), a.tail.into());
        let start = Instant::<Monotonic>::now();
        loop {
            // The phase first, the rest after it: never a torn entry.
            let at = usize::from(a.head.head) * nvme::CQE_SIZE;
            let mut phase = [0u8; 1];
            a.cq.read(at + 14, &mut phase)?;
            if a.head.is_new(phase[0] & 1 != 0) {
                fence(Ordering::Acquire);
                let mut b = [0u8; nvme::CQE_SIZE];
                a.cq.read(at, &mut b)?;
                let c = Cqe::from_bytes(&b);
                a.head.advance();
                self.regs
                    .write32(nvme::cq_head_doorbell(0, dstrd), a.head.head.into());
                if c.cid != cid {
                    // A completion of an earlier command that timed out.
                    continue;
                }
                let mut page = KVec::new();
                if data {
                    page.extend_from_slice(&[0u8; nvme::IDENTIFY_LEN], GFP_KERNEL)?;
                    a.data.read(0, &mut page)?;
                }
                return Ok((c, page));
            }
            if start.elapsed() > Delta::from_micros(ADMIN_TIMEOUT_US) || self.failed() {
                dev_err!(
                    self.claim.device(),
                    "admin command {:#x} timed out\n",
                    nvme::sqe_opcode(&sqe)
                );
                return Err(ETIMEDOUT);
            }
            fsleep(Delta::from_micros(20));
        }
    }

    fn mask_all_vectors(&self) {
        for k in 0..self.msix_entries as usize {
            self.msix.write32(k * 16 + 12, 1);
        }
        let Some(pos) = self.claim.capabilities(CAP_MSIX).next() else {
            return;
        };
        let pos = u16::from(pos) + 2;
        let ctl = self.claim.config_read16(pos);
        // MSI-X Enable on, Function Mask off: only unmasked entries fire.
        self.claim.config_write16(pos, (ctl | 0x8000) & !0x4000);
    }

    /// Points MSI-X entry `iv` at `addr` and unmasks it.
    pub(crate) fn set_vector(&self, iv: u16, addr: u64) {
        let off = usize::from(iv) * 16;
        if u32::from(iv) >= self.msix_entries {
            return;
        }
        self.msix.write32(off + 12, 1);
        self.msix.write32(off, addr as u32);
        self.msix.write32(off + 4, (addr >> 32) as u32);
        self.msix.write32(off + 8, 0);
        self.msix.write32(off + 12, 0);
    }

    /// Masks MSI-X entry `iv`.
    pub(crate) fn mask_vector(&self, iv: u16) {
        if u32::from(iv) < self.msix_entries {
            self.msix.write32(usize::from(iv) * 16 + 12, 1);
        }
    }

    /// Creates I/O queue pair `qid` (CQ on vector `qid`) with queues at
    /// device addresses `sq`/`cq`.
    pub(crate) fn create_qpair(
        &self,
        qid: u16,
        sq: (u64, u32),
        cq: (u64, u32),
        msi: u64,
    ) -> Result {
        let sq0 = u16::try_from(sq.1.saturating_sub(1)).map_err(|_| EINVAL)?;
        let cq0 = u16::try_from(cq.1.saturating_sub(1)).map_err(|_| EINVAL)?;
        self.set_vector(qid, msi);
        if let Err(e) = self.admin(nvme::create_cq(0, qid, cq0, cq.0, qid, true)) {
            self.mask_vector(qid);
            return Err(e);
        }
        if let Err(e) = self.admin(nvme::create_sq(0, qid, sq0, sq.0, qid)) {
            let _ = self.admin(nvme::delete_cq(0, qid));
            self.mask_vector(qid);
            return Err(e);
        }
        Ok(())
    }

    /// Deletes I/O queue pair `qid`: when this returns the controller no
    /// longer reads or writes its queues (what was submitted completed or
    /// was aborted).
    pub(crate) fn delete_qpair(&self, qid: u16) -> Result {
        self.mask_vector(qid);
        let r = self.admin(nvme::delete_sq(0, qid));
        let r2 = self.admin(nvme::delete_cq(0, qid));
        r.and(r2).map(|_| ())
    }

    /// A mapping of the doorbell page(s), for a client on this node.
    pub(crate) fn doorbells(&self) -> Result<IoMem> {
        self.claim
            .iomem(0, nvme::DOORBELL_BASE as u64, self.doorbell_len())
    }

    /// Bytes of the doorbell range every I/O queue needs (4 KiB multiple).
    pub(crate) fn doorbell_len(&self) -> usize {
        nvme::doorbell_bytes(self.qpairs, self.cap.dstrd()).next_multiple_of(4096)
    }

    /// The bus address of the doorbell range.
    pub(crate) fn doorbell_bus(&self) -> u64 {
        self.claim.bar_info(0).bus_addr + nvme::DOORBELL_BASE as u64
    }
}

impl Drop for Hw {
    fn drop(&mut self) {
        // No DMA after this: the function then goes back to its driver
        // (the claim's drop re-probes it; its probe resets it).
        let _ = self.disable();
        self.claim
            .config_write16(kernel::bindings::PCI_COMMAND as u16, 0x400);
    }
}

/// Confines the function's DMA to the admin buffers where its IOMMU group
/// is its own (attachments add their ranges).
fn confine(claim: &StubClaim, a: &Admin) -> Result<Option<Confinement>> {
    match claim.isolation() {
        Isolation::Own => {
            // The admin memory is pages mapped one to one (`Mem::Phys`).
            let c = claim.confine(&[])?;
            for m in [&a.sq, &a.cq, &a.data] {
                c.map_ram(m.bus(), 0x1000)?;
            }
            Ok(Some(c))
        }
        Isolation::Shared => {
            dev_warn!(
                claim.device(),
                "shares its IOMMU group: its DMA is not confined\n"
            );
            Ok(None)
        }
        Isolation::None => Ok(None),
    }
}

/// Maps the function's MSI-X table: the mapping and its entries.
fn map_msix(claim: &StubClaim) -> Result<(IoMem, u32)> {
    let pos = claim.capabilities(CAP_MSIX).next().ok_or(EOPNOTSUPP)?;
    let ctl = claim.config_read16(u16::from(pos) + 2);
    let entries = u32::from(ctl & 0x7ff) + 1;
    let table = claim.config_read32(u16::from(pos) + 4);
    let (bir, off) = (table & 7, u64::from(table & !7));
    let m = claim
        .iomem(bir, off, entries as usize * 16)
        .inspect_err(|_| {
            dev_err!(
                claim.device(),
                "MSI-X table (BAR {} + {:#x}) unmappable\n",
                bir,
                off
            );
        })?;
    Ok((m, entries))
}
