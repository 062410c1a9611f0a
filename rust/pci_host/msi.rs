// SPDX-License-Identifier: GPL-2.0

//! MSI/MSI-X: the bridge's MSI parent IRQ domain, the parent of its
//! functions' per-device MSI domains. An interrupt allocated in it is
//! spread over the owner's vectors (interrupts sharing one all run);
//! enabling it puts it on its vector, [`Host::fire`] runs a vector's.

use super::host::{Host, IrqSlot, MAX_IRQS};
use crate::bindings as rb;
use core::ptr::{from_ref, null, null_mut};
use kernel::{
    bindings,
    ffi::{c_int, c_uint, c_void},
    prelude::*,
    str::as_char_ptr_in_const_context,
    sync::{
        atomic::{Acquire, Relaxed, Release},
        rcu,
    },
};

/// A callback table the kernel only reads (the C `static const` tables).
#[repr(transparent)]
struct Table<T>(T);

// SAFETY: Never written: its pointers are to functions and static strings.
unsafe impl<T> Sync for Table<T> {}

static CHIP: Table<bindings::irq_chip> = Table(bindings::irq_chip {
    name: as_char_ptr_in_const_context(c"RSIO-HOST"),
    irq_compose_msi_msg: Some(compose_msi_msg),
    ..pin_init::zeroed()
});

static DOMAIN_OPS: bindings::irq_domain_ops = bindings::irq_domain_ops {
    alloc: Some(alloc),
    free: Some(free),
    ..pin_init::zeroed()
};

const FLAGS_SUPPORTED: u32 = rb::MSI_GENERIC_FLAGS_MASK | rb::MSI_FLAG_PCI_MSIX;
const FLAGS_REQUIRED: u32 = rb::MSI_FLAG_USE_DEF_DOM_OPS | rb::MSI_FLAG_NO_AFFINITY;

static PARENT_OPS: Table<rb::msi_parent_ops> = Table(rb::msi_parent_ops {
    supported_flags: FLAGS_SUPPORTED,
    required_flags: FLAGS_REQUIRED,
    chip_flags: 0,
    bus_select_token: bindings::irq_domain_bus_token_DOMAIN_BUS_NEXUS,
    bus_select_mask: 1 << bindings::irq_domain_bus_token_DOMAIN_BUS_PCI_MSI,
    prefix: as_char_ptr_in_const_context(c"RSIO-"),
    init_dev_msi_info: Some(init_dev_msi_info),
});

impl Host {
    /// Creates the bridge's MSI parent domain, `host_data` the `Host`.
    pub(super) fn create_irq_domain(&self) -> Result<*mut bindings::irq_domain> {
        // irq_domain_alloc_named_id_fwnode("RSIO-HOST", domain).
        // SAFETY: A static name; no physical address or parent.
        let fwnode = unsafe {
            bindings::__irq_domain_alloc_fwnode(
                bindings::IRQCHIP_FWNODE_NAMED_ID,
                self.domain_nr,
                c"RSIO-HOST".as_char_ptr(),
                null_mut(),
                null_mut(),
            )
        };
        if fwnode.is_null() {
            return Err(ENOMEM);
        }
        let mut info = bindings::irq_domain_info {
            fwnode,
            size: MAX_IRQS as u32,
            hwirq_max: MAX_IRQS as bindings::irq_hw_number_t,
            ops: &DOMAIN_OPS,
            host_data: from_ref(self).cast_mut().cast(),
            ..Default::default()
        };
        // SAFETY: `info` is valid for the call; the tables are static; the `Host` outlives the domain (its drop removes it).
        let d = unsafe { rb::msi_create_parent_irq_domain(&mut info, &PARENT_OPS.0) };
        if d.is_null() {
            // SAFETY: Allocated above, not used by a domain.
            unsafe { bindings::irq_domain_free_fwnode(fwnode) };
            return Err(ENOMEM);
        }
        Ok(d)
    }

    /// Vector `vector` was raised: runs the handlers of its enabled
    /// interrupts. Hard interrupt context, interrupts off.
    pub(super) fn fire(&self, vector: u32) {
        let _rcu = rcu::read_lock();
        for slot in &self.irqs {
            if slot.enabled.load(Acquire) && slot.vector.load(Relaxed) == vector {
                // SAFETY: An enabled slot's `virq` is an interrupt of our domain; `free` waits for an RCU grace period after it is disabled before it goes.
                unsafe { bindings::generic_handle_irq(slot.virq.load(Relaxed)) };
            }
        }
    }

    /// A free hwirq, now taken.
    fn claim_hwirq(&self) -> Option<usize> {
        let mut cur = self.hwirqs.load(Relaxed);
        loop {
            let bit = (!cur).trailing_zeros() as usize;
            if bit >= MAX_IRQS {
                return None;
            }
            match self.hwirqs.cmpxchg(cur, cur | (1 << bit), Relaxed) {
                Ok(_) => return Some(bit),
                Err(now) => cur = now,
            }
        }
    }

    fn release_hwirq(&self, hwirq: usize) {
        if hwirq >= MAX_IRQS {
            return;
        }
        let mut cur = self.hwirqs.load(Relaxed);
        while let Err(now) = self.hwirqs.cmpxchg(cur, cur & !(1 << hwirq), Relaxed) {
            cur = now;
        }
    }

    /// The next vector, round robin: interrupts spread over them.
    fn next_vector(&self) -> u32 {
        let n = self.nr_vectors.max(1);
        let mut cur = self.next_vector.load(Relaxed);
        loop {
            match self.next_vector.cmpxchg(cur, (cur + 1) % n, Relaxed) {
                Ok(_) => return self.vectors.get(cur as usize).copied().unwrap_or(0),
                Err(now) => cur = now,
            }
        }
    }
}

/// The bridge and slot of a device-level interrupt (`data`), whose parent
/// level is ours.
///
/// # Safety
///
/// `data` is the device-level `irq_data` of an interrupt `alloc` set up.
unsafe fn slot_of<'a>(data: *mut bindings::irq_data) -> Option<&'a IrqSlot> {
    // SAFETY: Our level's `irq_data` is the parent; `alloc` made its chip data the `Host`, which outlives its interrupts.
    let (host, hwirq) = unsafe {
        let parent = (*data).parent_data;
        (&*(*parent).chip_data.cast::<Host>(), (*parent).hwirq)
    };
    host.irqs.get(hwirq)
}

/// # Safety
///
/// `data` is our level's `irq_data` of an interrupt `alloc` set up; `msg`
/// is valid for writes.
unsafe extern "C" fn compose_msi_msg(data: *mut bindings::irq_data, msg: *mut bindings::msi_msg) {
    // SAFETY: `alloc` made the chip data the `Host`, which outlives its interrupts.
    let (host, hwirq) = unsafe { (&*(*data).chip_data.cast::<Host>(), (*data).hwirq) };
    let vector = host.irqs.get(hwirq).map_or(0, |s| s.vector.load(Relaxed));
    let (addr, val) = host.ops().msi_message(vector);
    let mut m = rb::msi_msg::default();
    // address_lo, address_hi, data: one `u32` each (unions with the arch's
    // bit fields).
    m.__bindgen_anon_1.bindgen_union_field = addr as u32;
    m.__bindgen_anon_2.bindgen_union_field = (addr >> 32) as u32;
    m.__bindgen_anon_3.bindgen_union_field = val;
    // SAFETY: `msg` is valid for writes (the IRQ core's); the kernel crate's `msi_msg` is ours, bound opaque.
    unsafe { msg.cast::<rb::msi_msg>().write(m) };
}

/// Puts the interrupt on its vector, then unmasks it (as vmd.c).
///
/// # Safety
///
/// See [`slot_of`]; called by the IRQ core, `data`'s chip is the device's.
unsafe extern "C" fn irq_enable(data: *mut bindings::irq_data) {
    // SAFETY: As the caller guarantees.
    if let Some(slot) = unsafe { slot_of(data) } {
        slot.enabled.store(true, Release);
    }
    // SAFETY: The device's MSI chip (with its mask callbacks) of a live interrupt.
    unsafe {
        if let Some(unmask) = (*(*data).chip).irq_unmask {
            unmask(data);
        }
    }
}

/// Masks the interrupt, then takes it off its vector.
///
/// # Safety
///
/// As [`irq_enable`].
unsafe extern "C" fn irq_disable(data: *mut bindings::irq_data) {
    // SAFETY: The device's MSI chip (with its mask callbacks) of a live interrupt.
    unsafe {
        if let Some(mask) = (*(*data).chip).irq_mask {
            mask(data);
        }
    }
    // SAFETY: As the caller guarantees.
    if let Some(slot) = unsafe { slot_of(data) } {
        slot.enabled.store(false, Release);
    }
}

/// # Safety
///
/// As [`irq_enable`].
unsafe extern "C" fn irq_startup(data: *mut bindings::irq_data) -> c_uint {
    // SAFETY: As the caller guarantees.
    unsafe { irq_enable(data) };
    0
}

/// # Safety
///
/// As [`irq_enable`].
unsafe extern "C" fn irq_shutdown(data: *mut bindings::irq_data) {
    // SAFETY: As the caller guarantees.
    unsafe { irq_disable(data) };
}

/// # Safety
///
/// `domain` is our domain; `virq..virq + nr_irqs` are interrupts of it
/// that `alloc` set up (the IRQ core's call).
unsafe extern "C" fn free(domain: *mut bindings::irq_domain, virq: c_uint, nr_irqs: c_uint) {
    // SAFETY: Our domain's `host_data` is its `Host` (`create_irq_domain`).
    let host = unsafe { &*(*domain).host_data.cast::<Host>() };
    // Off the vectors even if nothing shut them down (a driver that frees
    // its vectors without freeing its handlers), then wait for fire().
    for i in 0..nr_irqs {
        // SAFETY: An interrupt of `domain`.
        let d = unsafe { bindings::irq_domain_get_irq_data(domain, virq + i) };
        if d.is_null() {
            continue;
        }
        // SAFETY: `d` is its live `irq_data` at our level.
        let hwirq = unsafe { (*d).hwirq };
        if let Some(slot) = host.irqs.get(hwirq as usize) {
            slot.enabled.store(false, Release);
        }
    }
    // SAFETY: Process context (freeing interrupts sleeps).
    unsafe { bindings::synchronize_rcu() };
    for i in 0..nr_irqs {
        // SAFETY: An interrupt of `domain`.
        let d = unsafe { bindings::irq_domain_get_irq_data(domain, virq + i) };
        if d.is_null() {
            continue;
        }
        // SAFETY: `d` is its live `irq_data` at our level.
        host.release_hwirq(unsafe { (*d).hwirq });
        // SAFETY: As above; nothing runs it any more (disabled, grace period above).
        unsafe { bindings::irq_domain_reset_irq_data(d) };
    }
}

/// # Safety
///
/// `domain` is our domain; `virq..virq + nr_irqs` are interrupts being
/// allocated in it (the IRQ core's call).
unsafe extern "C" fn alloc(
    domain: *mut bindings::irq_domain,
    virq: c_uint,
    nr_irqs: c_uint,
    _arg: *mut c_void,
) -> c_int {
    // SAFETY: Our domain's `host_data` is its `Host` (`create_irq_domain`).
    let host = unsafe { &*(*domain).host_data.cast::<Host>() };
    for i in 0..nr_irqs {
        let Some(hwirq) = host.claim_hwirq() else {
            // SAFETY: The first `i` were set up below.
            unsafe { free(domain, virq, i) };
            return ENOSPC.to_errno();
        };
        let slot = &host.irqs[hwirq];
        slot.virq.store(virq + i, Relaxed);
        slot.vector.store(host.next_vector(), Relaxed);
        let h = from_ref(host).cast_mut().cast();
        // SAFETY: An interrupt of `domain` being allocated; the chip is static; the `Host` outlives its interrupts.
        unsafe {
            bindings::irq_domain_set_info(
                domain,
                virq + i,
                hwirq as bindings::irq_hw_number_t,
                &CHIP.0,
                h,
                Some(bindings::handle_simple_irq),
                h,
                null(),
            )
        };
    }
    0
}

/// What `msi_lib_init_dev_msi_info()` does for a PCI device domain under a
/// root MSI parent (that library is not built into this kernel), plus the
/// enable/disable that put an interrupt on its vector (as vmd.c).
///
/// # Safety
///
/// The MSI core's call: `info` and its chip are valid and writable.
unsafe extern "C" fn init_dev_msi_info(
    _dev: *mut bindings::device,
    domain: *mut bindings::irq_domain,
    real_parent: *mut bindings::irq_domain,
    info: *mut rb::msi_domain_info,
) -> bool {
    // SAFETY: As the caller guarantees.
    let info = unsafe { &mut *info };
    // SAFETY: As the caller guarantees (a null chip is refused).
    let Some(chip) = (unsafe { info.chip.as_mut() }) else {
        return false;
    };
    if domain != real_parent || chip.irq_write_msi_msg.is_none() {
        return false;
    }
    if info.bus_token != bindings::irq_domain_bus_token_DOMAIN_BUS_PCI_DEVICE_MSI
        && info.bus_token != bindings::irq_domain_bus_token_DOMAIN_BUS_PCI_DEVICE_MSIX
    {
        return false;
    }
    info.flags &= FLAGS_SUPPORTED;
    info.flags |= FLAGS_REQUIRED;
    chip.irq_startup = Some(irq_startup);
    chip.irq_shutdown = Some(irq_shutdown);
    chip.irq_enable = Some(irq_enable);
    chip.irq_disable = Some(irq_disable);
    true
}
