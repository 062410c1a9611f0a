/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The borrower's virtual PCI host bridge (bridge.c): a root bus in a PCI
 * domain of its own holding one borrowed function, in the manner of
 * drivers/pci/controller/vmd.c. What the kernel crate of 7.3 has no
 * abstraction for (pci_ops, an MSI parent irq domain, dma_map_ops) is
 * here; borrow.rs owns the fabric side (LUT slots, vectors, the lender)
 * and calls this only through sys.rs.
 *
 * - Config space: the function's 4 KiB of the lender's ECAM, mapped
 *   through a translated-window slot (remote MMIO: no software on the
 *   lender, so pci_ops may run under the PCI core's spinlock). The BARs,
 *   the expansion ROM, the interrupt pin/line and the multi-function bit
 *   are virtualized.
 * - BARs: each forwarded BAR is a bus window at LUT slots onto the
 *   lender's inbound window over the real BAR.
 * - MSI/MSI-X: the bridge's MSI parent domain composes messages whose
 *   address is the lender-side INTERRUPT slot of this node plus 4 k, so
 *   the device's write raises remote interrupt USER(k) here;
 *   rsio_bridge_fire(k) runs the handlers of the interrupts on vector k.
 * - DMA: per-device dma_map_ops turn a physical address of this node
 *   into the lender's direct-window address of it, and a BAR of another
 *   borrowed function (DMA_ATTR_MMIO) into the path its lender set up.
 */
#ifndef RSIO_LEND_BRIDGE_H
#define RSIO_LEND_BRIDGE_H

#include <linux/types.h>

struct device;
struct rsio_bridge;

#define RSIO_BRIDGE_BARS 6
#define RSIO_BRIDGE_MAX_VECTORS 16

/* One standard BAR as the borrower sees it. */
struct rsio_bridge_bar {
	/* Bytes (a power of two); 0: not forwarded (absent, I/O, upper half). */
	u64 size;
	/* This node's bus address of the LUT slots reaching it. */
	u64 addr;
	/* RSIO_LEND_BAR_* of the real BAR (helpers.h). */
	u32 flags;
	u32 reserved;
};

struct rsio_bridge_params {
	/* The adapter: the bridge's parent device. */
	struct device *parent;
	/* This node's bus address of the slot onto the function's ECAM page. */
	u64 cfg_bus;
	/* Lender-side address of the INTERRUPT slot targeting this node. */
	u64 msi_bus;
	/* Lender-side bus address of this node's RAM (direct window)... */
	u64 dma_base;
	/* ... and how many bytes of it are reachable there. */
	u64 dma_span;
	/* USER vectors this bridge may give its interrupts (at least one). */
	u32 vectors[RSIO_BRIDGE_MAX_VECTORS];
	u32 nr_vectors;
	/* The fabric device id, for names. */
	u32 fdid;
	/* Vendor | device << 16: presented for a VF, whose registers read 0xffff. */
	u32 ids;
	/* 1: the function is an SR-IOV virtual function. */
	u32 virtfn;
	struct rsio_bridge_bar bar[RSIO_BRIDGE_BARS];
};

/*
 * Creates the bridge and its bus and scans it; no driver binds yet (see
 * rsio_bridge_start). Returns 0 and *out, or -errno (-ENODEV: the function
 * did not answer config reads). *domain, *bus and *devfn get where the
 * function appeared.
 */
int rsio_bridge_create(const struct rsio_bridge_params *p, struct rsio_bridge **out,
		       u32 *domain, u32 *bus, u32 *devfn);
/*
 * Adds the function to the driver core: its driver probes now. The caller
 * routes the bridge's vectors to rsio_bridge_fire() before this, so that
 * interrupts a driver waits for in a synchronous probe arrive.
 */
void rsio_bridge_start(struct rsio_bridge *b);
/*
 * A read of the function through the fabric failed (a completion timeout
 * or an error at the lender), so the driver got all-ones. Starts PCI error
 * recovery in process context, as AER would: error_detected(io_frozen),
 * then a function reset through the fabric, slot_reset and resume; a
 * driver without error handlers, or one that cannot recover, is unbound.
 * Callable from any context; errors during a recovery are folded into it.
 */
void rsio_bridge_report_error(struct rsio_bridge *b, const char *what, u64 addr);
/*
 * The adapter failed a read at this node's bus address addr (its
 * translated window): if it is a bridge's config page or BAR, that bridge
 * reports the error (rsio_bridge_report_error). Any context. Returns
 * whether a bridge took it.
 */
bool rsio_bridge_fabric_error(u64 addr, const char *what);
/* The borrowed function with a reference (NULL: gone); put with rsio_lend_put(). */
struct pci_dev *rsio_bridge_get_dev(struct rsio_bridge *b);
/* Remote interrupt USER(vector) arrived: runs its interrupts' handlers. */
void rsio_bridge_fire(struct rsio_bridge *b, u32 vector);
/*
 * The lender is gone: config reads return all-ones from now on and writes
 * are dropped (the driver's MMIO reads return all-ones by the adapter);
 * the function is marked disconnected (pci_channel_io_perm_failure), so
 * pci_device_is_present() is false and nothing waits for it to answer.
 */
void rsio_bridge_set_dead(struct rsio_bridge *b);
/*
 * Peer-to-peer: DMA_ATTR_MMIO mappings of [phys, phys + size) (a BAR of
 * another borrowed function, as this node sees it) get device address
 * dev_addr + offset. -ENOSPC when the bridge has RSIO_BRIDGE_MAX_P2P
 * already; -EEXIST when phys is mapped already. del() takes it away.
 */
#define RSIO_BRIDGE_MAX_P2P 16
int rsio_bridge_p2p_add(struct rsio_bridge *b, u64 phys, u64 size, u64 dev_addr);
void rsio_bridge_p2p_del(struct rsio_bridge *b, u64 phys);
/*
 * Unbinds the driver and removes the bus (interrupts may still fire); a
 * recovery under way finishes first, none starts afterwards.
 */
void rsio_bridge_remove(struct rsio_bridge *b);
/* Frees a removed bridge: no rsio_bridge_fire() may run or follow. */
void rsio_bridge_free(struct rsio_bridge *b);

#endif
