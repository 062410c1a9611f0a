// SPDX-License-Identifier: GPL-2.0
/*
 * The borrower's virtual PCI host bridge (see bridge.h).
 */
#include <linux/dma-map-ops.h>
#include <linux/io.h>
#include <linux/irq.h>
#include <linux/irqdomain.h>
#include <linux/delay.h>
#include <linux/msi.h>
#include <linux/pci.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "bridge.h"
#include "helpers.h"

/* One interrupt of the borrowed function (our level of its hierarchy). */
struct rsio_bridge_irq {
	struct list_head node;
	struct rsio_bridge *bridge;
	unsigned int virq;
	u32 vector;
	bool enabled;
};

/* Interrupts one borrowed function may have (MSI-X vectors in use). */
#define RSIO_BRIDGE_MAX_IRQS 64

struct rsio_bridge {
	/* First: the PCI core's bus->sysdata (x86 reads its domain from it). */
	struct pci_sysdata sd;
	/* On rsio_bridges (under rsio_bridges_lock) from creation to removal. */
	struct list_head all;
	u64 cfg_bus;
	void __iomem *cfg;
	u64 msi_bus;
	u64 dma_base;
	u64 dma_span;
	u32 fdid;
	u32 ids;
	bool virtfn;
	bool dead;
	/* The BARs and what the borrower's PCI core last wrote to them. */
	struct rsio_bridge_bar bar[RSIO_BRIDGE_BARS];
	u32 bar_reg[RSIO_BRIDGE_BARS];
	/* The real BAR registers, as the lender programmed them. */
	u32 real_bar[RSIO_BRIDGE_BARS];
	u8 irq_line;
	/* Protects the per-vector lists and next_vector. */
	raw_spinlock_t lock;
	u32 vectors[RSIO_BRIDGE_MAX_VECTORS];
	u32 nr_vectors;
	u32 next_vector;
	struct list_head irqs[RSIO_BRIDGE_MAX_VECTORS];
	/* The domain's hardware irq numbers in use. */
	DECLARE_BITMAP(hwirqs, RSIO_BRIDGE_MAX_IRQS);
	struct irq_domain *domain;
	/* Peer-to-peer paths (rsio_bridge_p2p_add), under p2p_lock. */
	spinlock_t p2p_lock;
	struct {
		u64 phys, size, dev;
	} p2p[RSIO_BRIDGE_MAX_P2P];
	struct pci_bus *bus;
	/* Error recovery (rsio_bridge_report_error), under err_lock. */
	spinlock_t err_lock;
	struct work_struct recover;
	bool removing;
	/*
	 * From a failed read until the function answers again: config accesses
	 * fail at once (reads all-ones, writes dropped), as a frozen slot under
	 * EEH, instead of each waiting out the fabric's completion timeout (a
	 * CPU stalled for seconds, e.g. by the driver's error handler probing
	 * the device, would miss the fabric core's heartbeats).
	 */
	bool frozen;
	/* While recovery probes the function: its own failed reads are expected. */
	bool probing;
	const char *err_what;
	u64 err_addr;
	struct resource busn;
	struct resource win[RSIO_BRIDGE_BARS];
	char win_name[RSIO_BRIDGE_BARS][24];
};

static struct rsio_bridge *bridge_of_bus(struct pci_bus *bus)
{
	return container_of((struct pci_sysdata *)bus->sysdata, struct rsio_bridge, sd);
}

/* --- config space ------------------------------------------------------ */

/* The type bits of a memory BAR register. */
static u32 bar_type_bits(u32 flags)
{
	return ((flags & RSIO_LEND_BAR_64) ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) |
	       ((flags & RSIO_LEND_BAR_PREFETCH) ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
}

/*
 * BAR register i as the borrower reads it: what it wrote, masked by the
 * size (so that writing all-ones sizes it), with the real type bits.
 * Register i + 1 of a 64-bit BAR i is its upper half.
 */
static u32 bar_read(struct rsio_bridge *b, int i)
{
	const struct rsio_bridge_bar *bar = &b->bar[i];
	u64 mask;

	if (bar->size) {
		mask = ~(bar->size - 1);
		return (b->bar_reg[i] & (u32)mask & PCI_BASE_ADDRESS_MEM_MASK) |
		       bar_type_bits(bar->flags);
	}
	if (i > 0 && b->bar[i - 1].size && (b->bar[i - 1].flags & RSIO_LEND_BAR_64)) {
		mask = ~(b->bar[i - 1].size - 1);
		return b->bar_reg[i] & (u32)(mask >> 32);
	}
	return 0;
}

/*
 * The dword at `reg` (4-byte aligned) with the virtualized registers
 * applied to what the device returned in `real`.
 */
static u32 virt_dword(struct rsio_bridge *b, int reg, u32 real)
{
	switch (reg) {
	case PCI_VENDOR_ID: /* a VF's ids are its PF's SR-IOV capability's */
		return real == ~0u ? real : b->ids;
	case PCI_CACHE_LINE_SIZE: /* header type at byte 2: one function */
		return real & ~(0x80u << 16);
	case PCI_BASE_ADDRESS_0 ... PCI_BASE_ADDRESS_5:
		return bar_read(b, (reg - PCI_BASE_ADDRESS_0) / 4);
	case PCI_ROM_ADDRESS:
		return 0;
	case PCI_INTERRUPT_LINE: /* no INTx: pin 0; the line is a scratch byte */
		return (real & 0xffff0000u) | b->irq_line;
	default:
		return real;
	}
}

static bool is_virtual(struct rsio_bridge *b, int reg)
{
	return (reg == PCI_VENDOR_ID && b->virtfn) || reg == PCI_CACHE_LINE_SIZE || (reg >= PCI_BASE_ADDRESS_0 && reg <= PCI_BASE_ADDRESS_5) ||
	       reg == PCI_ROM_ADDRESS || reg == PCI_INTERRUPT_LINE;
}

static int rsio_cfg_read(struct pci_bus *bus, unsigned int devfn, int where, int size, u32 *val)
{
	struct rsio_bridge *b = bridge_of_bus(bus);
	int reg = where & ~3, shift = (where & 3) * 8;
	u32 v;

	if (devfn != 0 || READ_ONCE(b->dead) || READ_ONCE(b->frozen) || where < 0 ||
	    where + size > PCI_CFG_SPACE_EXP_SIZE) {
		PCI_SET_ERROR_RESPONSE(val);
		return PCIBIOS_DEVICE_NOT_FOUND;
	}
	if (!is_virtual(b, reg)) {
		switch (size) {
		case 1:
			*val = readb(b->cfg + where);
			break;
		case 2:
			*val = readw(b->cfg + where);
			break;
		default:
			*val = readl(b->cfg + where);
			break;
		}
		return PCIBIOS_SUCCESSFUL;
	}
	/*
	 * BARs, ROM and line are all virtual; the others' real bits matter. A
	 * VF's id register reads all-ones: its class register tells whether
	 * the function still answers.
	 */
	if (reg == PCI_VENDOR_ID)
		v = readl(b->cfg + PCI_CLASS_REVISION) == ~0u ? ~0u : 0;
	else if (reg == PCI_CACHE_LINE_SIZE || reg == PCI_INTERRUPT_LINE)
		v = readl(b->cfg + reg);
	else
		v = 0;
	v = virt_dword(b, reg, v) >> shift;
	*val = size == 4 ? v : v & ((1u << (size * 8)) - 1);
	return PCIBIOS_SUCCESSFUL;
}

/*
 * A reset the borrower's kernel triggers (FLR, a D3hot round trip, as
 * vfio-pci and the PCI core do) clears the real BARs, which the lender
 * programmed and the borrower never sees: put them back before memory
 * decoding is turned on again (every restore of the config space ends
 * with the command register, after the BARs).
 */
static void restore_real_bars(struct rsio_bridge *b)
{
	int i;

	for (i = 0; i < RSIO_BRIDGE_BARS; i++)
		writel(b->real_bar[i], b->cfg + PCI_BASE_ADDRESS_0 + 4 * i);
}

static int rsio_cfg_write(struct pci_bus *bus, unsigned int devfn, int where, int size, u32 val)
{
	struct rsio_bridge *b = bridge_of_bus(bus);
	int reg = where & ~3, shift = (where & 3) * 8;
	u32 mask;

	if (devfn != 0 || READ_ONCE(b->dead) || READ_ONCE(b->frozen) || where < 0 ||
	    where + size > PCI_CFG_SPACE_EXP_SIZE)
		return PCIBIOS_DEVICE_NOT_FOUND;
	if (reg >= PCI_BASE_ADDRESS_0 && reg <= PCI_BASE_ADDRESS_5) {
		int i = (reg - PCI_BASE_ADDRESS_0) / 4;

		mask = (size == 4 ? ~0u : ((1u << (size * 8)) - 1)) << shift;
		b->bar_reg[i] = (b->bar_reg[i] & ~mask) | ((val << shift) & mask);
		return PCIBIOS_SUCCESSFUL;
	}
	if (reg == PCI_ROM_ADDRESS)
		return PCIBIOS_SUCCESSFUL;
	if (reg == PCI_INTERRUPT_LINE) {
		if (where == PCI_INTERRUPT_LINE)
			b->irq_line = val;
		return PCIBIOS_SUCCESSFUL;
	}
	if (where == PCI_COMMAND && size >= 2 && (val & PCI_COMMAND_MEMORY))
		restore_real_bars(b);
	switch (size) {
	case 1:
		writeb(val, b->cfg + where);
		break;
	case 2:
		writew(val, b->cfg + where);
		break;
	default:
		writel(val, b->cfg + where);
		break;
	}
	return PCIBIOS_SUCCESSFUL;
}

static struct pci_ops rsio_bridge_ops = {
	.read = rsio_cfg_read,
	.write = rsio_cfg_write,
};

/* --- MSI/MSI-X: the parent domain of the function's MSI domain ----------- */

static void rsio_compose_msi_msg(struct irq_data *data, struct msi_msg *msg)
{
	struct rsio_bridge_irq *bi = data->chip_data;
	u64 addr = bi->bridge->msi_bus + 4 * (u64)bi->vector;

	memset(msg, 0, sizeof(*msg));
	msg->address_lo = lower_32_bits(addr);
	msg->address_hi = upper_32_bits(addr);
	msg->data = bi->vector;
}

static struct irq_chip rsio_bridge_chip = {
	.name = "RSIO-BRW",
	.irq_compose_msi_msg = rsio_compose_msi_msg,
};

static void rsio_irq_enable(struct irq_data *data)
{
	struct rsio_bridge_irq *bi = data->parent_data->chip_data;
	struct rsio_bridge *b = bi->bridge;
	unsigned long flags;

	raw_spin_lock_irqsave(&b->lock, flags);
	if (!bi->enabled) {
		list_add_tail_rcu(&bi->node, &b->irqs[bi->vector % RSIO_BRIDGE_MAX_VECTORS]);
		bi->enabled = true;
	}
	raw_spin_unlock_irqrestore(&b->lock, flags);
	data->chip->irq_unmask(data);
}

static void rsio_irq_disable(struct irq_data *data)
{
	struct rsio_bridge_irq *bi = data->parent_data->chip_data;
	struct rsio_bridge *b = bi->bridge;
	unsigned long flags;

	data->chip->irq_mask(data);
	raw_spin_lock_irqsave(&b->lock, flags);
	if (bi->enabled) {
		list_del_rcu(&bi->node);
		bi->enabled = false;
	}
	raw_spin_unlock_irqrestore(&b->lock, flags);
}

static unsigned int rsio_irq_startup(struct irq_data *data)
{
	rsio_irq_enable(data);
	return 0;
}

static void rsio_irq_shutdown(struct irq_data *data)
{
	rsio_irq_disable(data);
}

static void rsio_msi_free(struct irq_domain *domain, unsigned int virq, unsigned int nr_irqs)
{
	unsigned int i;

	/* Disabled (off the lists) before they are freed; wait for fire(). */
	synchronize_rcu();
	for (i = 0; i < nr_irqs; i++) {
		struct irq_data *d = irq_domain_get_irq_data(domain, virq + i);
		struct rsio_bridge *b = domain->host_data;
		unsigned long flags;

		if (d) {
			raw_spin_lock_irqsave(&b->lock, flags);
			__clear_bit(d->hwirq, b->hwirqs);
			raw_spin_unlock_irqrestore(&b->lock, flags);
			kfree(d->chip_data);
			irq_domain_reset_irq_data(d);
		}
	}
}

static int rsio_msi_alloc(struct irq_domain *domain, unsigned int virq, unsigned int nr_irqs, void *arg)
{
	struct rsio_bridge *b = domain->host_data;
	unsigned long flags;
	unsigned int i;

	for (i = 0; i < nr_irqs; i++) {
		struct rsio_bridge_irq *bi = kzalloc(sizeof(*bi), GFP_KERNEL);
		unsigned long hwirq;

		if (!bi) {
			rsio_msi_free(domain, virq, i);
			return -ENOMEM;
		}
		INIT_LIST_HEAD(&bi->node);
		bi->bridge = b;
		bi->virq = virq + i;
		/* Spread over the vectors; interrupts sharing one all run. */
		raw_spin_lock_irqsave(&b->lock, flags);
		hwirq = find_first_zero_bit(b->hwirqs, RSIO_BRIDGE_MAX_IRQS);
		if (hwirq < RSIO_BRIDGE_MAX_IRQS)
			__set_bit(hwirq, b->hwirqs);
		bi->vector = b->vectors[b->next_vector];
		b->next_vector = (b->next_vector + 1) % b->nr_vectors;
		raw_spin_unlock_irqrestore(&b->lock, flags);
		if (hwirq >= RSIO_BRIDGE_MAX_IRQS) {
			kfree(bi);
			rsio_msi_free(domain, virq, i);
			return -ENOSPC;
		}
		irq_domain_set_info(domain, virq + i, hwirq, &rsio_bridge_chip, bi, handle_simple_irq, b, NULL);
	}
	return 0;
}

static const struct irq_domain_ops rsio_msi_domain_ops = {
	.alloc = rsio_msi_alloc,
	.free = rsio_msi_free,
};

#define RSIO_MSI_FLAGS_SUPPORTED (MSI_GENERIC_FLAGS_MASK | MSI_FLAG_PCI_MSIX)
#define RSIO_MSI_FLAGS_REQUIRED (MSI_FLAG_USE_DEF_DOM_OPS | MSI_FLAG_NO_AFFINITY)

/*
 * What msi_lib_init_dev_msi_info() does for a PCI device domain under a
 * root MSI parent (that library is not built into this kernel), plus the
 * enable/disable that put an interrupt on its vector's list (as vmd.c).
 */
static bool rsio_init_dev_msi_info(struct device *dev, struct irq_domain *domain, struct irq_domain *real_parent,
				   struct msi_domain_info *info)
{
	struct irq_chip *chip = info->chip;

	if (domain != real_parent || !chip->irq_write_msi_msg)
		return false;
	if (info->bus_token != DOMAIN_BUS_PCI_DEVICE_MSI && info->bus_token != DOMAIN_BUS_PCI_DEVICE_MSIX)
		return false;
	info->flags &= RSIO_MSI_FLAGS_SUPPORTED;
	info->flags |= RSIO_MSI_FLAGS_REQUIRED;
	chip->irq_startup = rsio_irq_startup;
	chip->irq_shutdown = rsio_irq_shutdown;
	chip->irq_enable = rsio_irq_enable;
	chip->irq_disable = rsio_irq_disable;
	return true;
}

static const struct msi_parent_ops rsio_msi_parent_ops = {
	.supported_flags = RSIO_MSI_FLAGS_SUPPORTED,
	.required_flags = RSIO_MSI_FLAGS_REQUIRED,
	.bus_select_token = DOMAIN_BUS_NEXUS,
	.bus_select_mask = BIT(DOMAIN_BUS_PCI_MSI),
	.prefix = "RSIO-",
	.init_dev_msi_info = rsio_init_dev_msi_info,
};

void rsio_bridge_fire(struct rsio_bridge *b, u32 vector)
{
	struct rsio_bridge_irq *bi;

	rcu_read_lock();
	list_for_each_entry_rcu(bi, &b->irqs[vector % RSIO_BRIDGE_MAX_VECTORS], node)
		if (bi->vector == vector)
			generic_handle_irq(bi->virq);
	rcu_read_unlock();
}

/* --- DMA: this node's RAM through the lender's direct window ------------- */

static struct rsio_bridge *bridge_of_dev(struct device *dev)
{
	return bridge_of_bus(to_pci_dev(dev)->bus);
}

static dma_addr_t to_dma(struct rsio_bridge *b, phys_addr_t phys, size_t size)
{
	if (phys >= b->dma_span || size > b->dma_span - phys)
		return DMA_MAPPING_ERROR;
	return b->dma_base + phys;
}

/* A BAR of another borrowed function: reachable through a p2p path only. */
static dma_addr_t to_dma_p2p(struct rsio_bridge *b, phys_addr_t phys, size_t size)
{
	dma_addr_t a = DMA_MAPPING_ERROR;
	unsigned long flags;
	int i;

	spin_lock_irqsave(&b->p2p_lock, flags);
	for (i = 0; i < RSIO_BRIDGE_MAX_P2P; i++) {
		u64 off = phys - b->p2p[i].phys;

		if (b->p2p[i].size && phys >= b->p2p[i].phys && off < b->p2p[i].size &&
		    size <= b->p2p[i].size - off) {
			a = b->p2p[i].dev + off;
			break;
		}
	}
	spin_unlock_irqrestore(&b->p2p_lock, flags);
	return a;
}

int rsio_bridge_p2p_add(struct rsio_bridge *b, u64 phys, u64 size, u64 dev_addr)
{
	unsigned long flags;
	int i, free = -1, ret = -ENOSPC;

	if (!size || phys + size < phys)
		return -EINVAL;
	spin_lock_irqsave(&b->p2p_lock, flags);
	for (i = 0; i < RSIO_BRIDGE_MAX_P2P; i++) {
		if (b->p2p[i].size && b->p2p[i].phys == phys) {
			ret = -EEXIST;
			goto out;
		}
		if (!b->p2p[i].size && free < 0)
			free = i;
	}
	if (free >= 0) {
		b->p2p[free].phys = phys;
		b->p2p[free].size = size;
		b->p2p[free].dev = dev_addr;
		ret = 0;
	}
out:
	spin_unlock_irqrestore(&b->p2p_lock, flags);
	return ret;
}

void rsio_bridge_p2p_del(struct rsio_bridge *b, u64 phys)
{
	unsigned long flags;
	int i;

	spin_lock_irqsave(&b->p2p_lock, flags);
	for (i = 0; i < RSIO_BRIDGE_MAX_P2P; i++)
		if (b->p2p[i].size && b->p2p[i].phys == phys)
			b->p2p[i].size = 0;
	spin_unlock_irqrestore(&b->p2p_lock, flags);
}

static dma_addr_t rsio_map_phys(struct device *dev, phys_addr_t phys, size_t size, enum dma_data_direction dir,
				unsigned long attrs)
{
	/* MMIO (peer-to-peer): not this node's RAM; only paths set up reach it. */
	if (attrs & DMA_ATTR_MMIO)
		return to_dma_p2p(bridge_of_dev(dev), phys, size);
	return to_dma(bridge_of_dev(dev), phys, size);
}

static void rsio_unmap_phys(struct device *dev, dma_addr_t addr, size_t size, enum dma_data_direction dir,
			    unsigned long attrs)
{
}

static int rsio_map_sg(struct device *dev, struct scatterlist *sgl, int nents, enum dma_data_direction dir,
		       unsigned long attrs)
{
	struct rsio_bridge *b = bridge_of_dev(dev);
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i) {
		dma_addr_t a = to_dma(b, sg_phys(sg), sg->length);

		if (a == DMA_MAPPING_ERROR)
			return -EIO;
		sg->dma_address = a;
		sg_dma_len(sg) = sg->length;
	}
	return nents;
}

static void rsio_unmap_sg(struct device *dev, struct scatterlist *sgl, int nents, enum dma_data_direction dir,
			  unsigned long attrs)
{
}

static void *rsio_dma_alloc(struct device *dev, size_t size, dma_addr_t *handle, gfp_t gfp, unsigned long attrs)
{
	struct rsio_bridge *b = bridge_of_dev(dev);
	struct page *page;
	dma_addr_t a;

	/* The direct window reaches all of RAM: no zone restrictions. */
	gfp &= ~(__GFP_DMA | __GFP_DMA32 | __GFP_HIGHMEM);
	page = alloc_pages(gfp | __GFP_ZERO, get_order(size));
	if (!page)
		return NULL;
	a = to_dma(b, page_to_phys(page), size);
	if (a == DMA_MAPPING_ERROR) {
		__free_pages(page, get_order(size));
		return NULL;
	}
	*handle = a;
	return page_address(page);
}

static void rsio_dma_free(struct device *dev, size_t size, void *vaddr, dma_addr_t handle, unsigned long attrs)
{
	__free_pages(virt_to_page(vaddr), get_order(size));
}

static int rsio_dma_supported(struct device *dev, u64 mask)
{
	struct rsio_bridge *b = bridge_of_dev(dev);

	return b->dma_base + b->dma_span - 1 <= mask;
}

static u64 rsio_dma_required_mask(struct device *dev)
{
	struct rsio_bridge *b = bridge_of_dev(dev);
	u64 last = b->dma_base + b->dma_span - 1;

	return (1ULL << (fls64(last) - 1)) * 2 - 1;
}

static const struct dma_map_ops rsio_dma_ops = {
	.alloc = rsio_dma_alloc,
	.free = rsio_dma_free,
	.map_phys = rsio_map_phys,
	.unmap_phys = rsio_unmap_phys,
	.map_sg = rsio_map_sg,
	.unmap_sg = rsio_unmap_sg,
	.dma_supported = rsio_dma_supported,
	.get_required_mask = rsio_dma_required_mask,
};

/* --- error recovery ------------------------------------------------------- */

/* Every bridge, for rsio_bridge_fabric_error() in interrupt context. */
static LIST_HEAD(rsio_bridges);
static DEFINE_SPINLOCK(rsio_bridges_lock);

static bool bridge_reaches(struct rsio_bridge *b, u64 addr)
{
	int i;

	if (addr >= b->cfg_bus && addr - b->cfg_bus < PCI_CFG_SPACE_EXP_SIZE)
		return true;
	for (i = 0; i < RSIO_BRIDGE_BARS; i++)
		if (b->bar[i].size && addr >= b->bar[i].addr && addr - b->bar[i].addr < b->bar[i].size)
			return true;
	return false;
}

/*
 * What drivers/pci/pcie/err.c does for one device after an uncorrectable
 * error (pcie_do_recovery is not exported): the device's driver learns
 * that its reads return all-ones because the fabric failed them, and gets
 * the chance to reset and resume, or is unbound.
 */
/*
 * The function's error state, unless its lender is gone: then it stays
 * disconnected (rsio_bridge_set_dead), which also ends the PCI core's
 * waits for it (pci_dev_wait) at once.
 */
static void rsio_set_io_state(struct rsio_bridge *b, struct pci_dev *pdev, pci_channel_state_t state)
{
	if (!READ_ONCE(b->dead))
		pdev->error_state = state;
}

/* How long recovery waits for a function to answer again, in seconds. */
#define RSIO_RECOVER_WAIT_S 15

/*
 * Waits until the function's config space answers through the fabric (its
 * class register reads other than all-ones), then thaws the bridge. A probe
 * of a function that still does not answer waits out the completion
 * timeout; the pause before each probe lets the CPU do other work (the
 * fabric core's heartbeats among it).
 */
static bool rsio_wait_answer(struct rsio_bridge *b, struct pci_dev *pdev)
{
	int i;

	for (i = 0; i < RSIO_RECOVER_WAIT_S; i++) {
		bool answers;

		/*
		 * First a pause: the failed read held the CPU for the completion
		 * timeout, and a probe right away could hold it as long again.
		 */
		msleep(1000);
		if (READ_ONCE(b->dead))
			return false;
		WRITE_ONCE(b->probing, true);
		answers = readl(b->cfg + PCI_CLASS_REVISION) != ~0u;
		/* The adapter's error interrupt for a failed probe comes first. */
		WRITE_ONCE(b->probing, false);
		if (answers) {
			WRITE_ONCE(b->frozen, false);
			return true;
		}
	}
	pci_err(pdev, "rsio: the function did not answer for %d s\n", RSIO_RECOVER_WAIT_S);
	return false;
}

static pci_ers_result_t rsio_recover_device(struct rsio_bridge *b, struct pci_dev *pdev)
{
	const struct pci_error_handlers *eh;
	pci_ers_result_t res;

	if (!pdev->driver)
		return PCI_ERS_RESULT_NONE;
	eh = pdev->driver->err_handler;
	rsio_set_io_state(b, pdev, pci_channel_io_frozen);
	if (!eh || !eh->error_detected) {
		pci_err(pdev, "rsio: driver %s has no error handlers\n", pdev->driver->name);
		return PCI_ERS_RESULT_DISCONNECT;
	}
	res = eh->error_detected(pdev, pci_channel_io_frozen);
	if (res != PCI_ERS_RESULT_DISCONNECT && !rsio_wait_answer(b, pdev))
		return PCI_ERS_RESULT_DISCONNECT;
	if (res == PCI_ERS_RESULT_CAN_RECOVER && eh->mmio_enabled) {
		rsio_set_io_state(b, pdev, pci_channel_io_normal);
		res = eh->mmio_enabled(pdev);
	}
	if (res == PCI_ERS_RESULT_NEED_RESET) {
		/*
		 * Through the fabric, like any config access: FLR or what the PCI
		 * core finds, as AER's bus reset: without the driver's
		 * reset_prepare/reset_done (slot_reset restores the state), which
		 * are for resets outside recovery (nvme's would wait for its
		 * reset work under the device lock held here).
		 */
		if (READ_ONCE(b->dead) || __pci_reset_function_locked(pdev)) {
			pci_err(pdev, "rsio: the function could not be reset\n");
			return PCI_ERS_RESULT_DISCONNECT;
		}
		rsio_set_io_state(b, pdev, pci_channel_io_normal);
		res = eh->slot_reset ? eh->slot_reset(pdev) : PCI_ERS_RESULT_RECOVERED;
	}
	if (res == PCI_ERS_RESULT_CAN_RECOVER)
		res = PCI_ERS_RESULT_RECOVERED;
	if (res == PCI_ERS_RESULT_RECOVERED && READ_ONCE(b->dead))
		res = PCI_ERS_RESULT_DISCONNECT;
	if (res == PCI_ERS_RESULT_RECOVERED) {
		rsio_set_io_state(b, pdev, pci_channel_io_normal);
		if (eh->resume)
			eh->resume(pdev);
	}
	return res;
}

static void rsio_bridge_recover(struct work_struct *work)
{
	struct rsio_bridge *b = container_of(work, struct rsio_bridge, recover);
	struct pci_dev *pdev;
	pci_ers_result_t res;
	unsigned long flags;
	const char *what;
	u64 addr;

	spin_lock_irqsave(&b->err_lock, flags);
	what = b->err_what;
	addr = b->err_addr;
	spin_unlock_irqrestore(&b->err_lock, flags);
	pdev = pci_get_slot(b->bus, 0);
	if (!pdev)
		return;
	pci_err(pdev, "rsio: a read of fabric device %#x failed (%s at bus address %#llx): the driver got all-ones; error recovery\n",
		b->fdid, what, addr);
	/*
	 * The failed read held a CPU for the completion timeout; the driver's
	 * error handler reads the device too (BAR reads are not frozen), so
	 * give the lender a moment and this node's CPU to the rest first.
	 */
	msleep(1000);
	device_lock(&pdev->dev);
	res = rsio_recover_device(b, pdev);
	if (res == PCI_ERS_RESULT_RECOVERED) {
		pci_info(pdev, "rsio: recovered\n");
	} else if (res != PCI_ERS_RESULT_NONE) {
		rsio_set_io_state(b, pdev, pci_channel_io_perm_failure);
		pci_err(pdev, "rsio: not recovered: unbinding %s (return the device and borrow it again)\n",
			pdev->driver ? pdev->driver->name : "the driver");
	}
	device_unlock(&pdev->dev);
	/* A dead lender's device is removed by its bridge's owner. */
	if (res != PCI_ERS_RESULT_RECOVERED && res != PCI_ERS_RESULT_NONE && !READ_ONCE(b->dead)) {
		device_release_driver(&pdev->dev);
		/* A later rebind starts from a working state. */
		rsio_set_io_state(b, pdev, pci_channel_io_normal);
		WRITE_ONCE(b->frozen, false);
	} else if (res == PCI_ERS_RESULT_NONE) {
		/* No driver: thawed once the function answers (or never). */
		rsio_wait_answer(b, pdev);
	}
	pci_dev_put(pdev);
}

void rsio_bridge_report_error(struct rsio_bridge *b, const char *what, u64 addr)
{
	unsigned long flags;

	spin_lock_irqsave(&b->err_lock, flags);
	if (!b->removing && !READ_ONCE(b->dead) && !READ_ONCE(b->probing)) {
		WRITE_ONCE(b->frozen, true);
		b->err_what = what;
		b->err_addr = addr;
		/* One recovery covers every error reported before it starts. */
		schedule_work(&b->recover);
	}
	spin_unlock_irqrestore(&b->err_lock, flags);
}

bool rsio_bridge_fabric_error(u64 addr, const char *what)
{
	struct rsio_bridge *b;
	unsigned long flags;
	bool found = false;

	spin_lock_irqsave(&rsio_bridges_lock, flags);
	list_for_each_entry(b, &rsio_bridges, all) {
		if (bridge_reaches(b, addr)) {
			rsio_bridge_report_error(b, what, addr);
			found = true;
			break;
		}
	}
	spin_unlock_irqrestore(&rsio_bridges_lock, flags);
	return found;
}

/* --- the bridge ---------------------------------------------------------- */

static void bridge_free(struct rsio_bridge *b)
{
	if (b->domain) {
		struct fwnode_handle *fn = b->domain->fwnode;

		irq_domain_remove(b->domain);
		irq_domain_free_fwnode(fn);
	}
	if (b->cfg)
		iounmap(b->cfg);
	if (b->sd.domain >= 0)
		pci_bus_release_emul_domain_nr(b->sd.domain);
	kfree(b);
}

static int bridge_irq_domain(struct rsio_bridge *b)
{
	struct irq_domain_info info = {
		.size = RSIO_BRIDGE_MAX_IRQS,
		.hwirq_max = RSIO_BRIDGE_MAX_IRQS,
		.ops = &rsio_msi_domain_ops,
		.host_data = b,
	};

	info.fwnode = irq_domain_alloc_named_id_fwnode("RSIO-BRW", b->sd.domain);
	if (!info.fwnode)
		return -ENOMEM;
	b->domain = msi_create_parent_irq_domain(&info, &rsio_msi_parent_ops);
	if (!b->domain) {
		irq_domain_free_fwnode(info.fwnode);
		return -ENOMEM;
	}
	return 0;
}

int rsio_bridge_create(const struct rsio_bridge_params *p, struct rsio_bridge **out, u32 *domain, u32 *busnr,
		       u32 *devfn)
{
	struct rsio_bridge *b;
	struct pci_dev *pdev;
	LIST_HEAD(resources);
	int i, ret;

	if (!p->nr_vectors || p->nr_vectors > RSIO_BRIDGE_MAX_VECTORS || !p->dma_span)
		return -EINVAL;
	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	b->sd.domain = -1;
	b->sd.node = dev_to_node(p->parent);
	INIT_LIST_HEAD(&b->all);
	b->cfg_bus = p->cfg_bus;
	b->msi_bus = p->msi_bus;
	b->dma_base = p->dma_base;
	b->dma_span = p->dma_span;
	b->fdid = p->fdid;
	b->ids = p->ids;
	b->virtfn = p->virtfn;
	raw_spin_lock_init(&b->lock);
	spin_lock_init(&b->p2p_lock);
	spin_lock_init(&b->err_lock);
	INIT_WORK(&b->recover, rsio_bridge_recover);
	memcpy(b->vectors, p->vectors, sizeof(b->vectors));
	b->nr_vectors = p->nr_vectors;
	for (i = 0; i < RSIO_BRIDGE_MAX_VECTORS; i++)
		INIT_LIST_HEAD(&b->irqs[i]);
	for (i = 0; i < RSIO_BRIDGE_BARS; i++) {
		const struct rsio_bridge_bar *bar = &p->bar[i];

		b->bar[i] = *bar;
		if (!bar->size)
			continue;
		if (!is_power_of_2(bar->size) || (bar->flags & RSIO_LEND_BAR_IO) ||
		    ((bar->flags & RSIO_LEND_BAR_64) && i == RSIO_BRIDGE_BARS - 1)) {
			ret = -EINVAL;
			goto fail;
		}
		b->bar_reg[i] = lower_32_bits(bar->addr);
		if (bar->flags & RSIO_LEND_BAR_64)
			b->bar_reg[i + 1] = upper_32_bits(bar->addr);
	}

	b->cfg = ioremap(p->cfg_bus, PCI_CFG_SPACE_EXP_SIZE);
	if (!b->cfg) {
		ret = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < RSIO_BRIDGE_BARS; i++)
		b->real_bar[i] = readl(b->cfg + PCI_BASE_ADDRESS_0 + 4 * i);
	/* Emulated domains start at 0x10000, clear of ACPI's (as vmd.c). */
	b->sd.domain = pci_bus_find_emul_domain_nr(0, 0x10000, INT_MAX);
	if (b->sd.domain < 0) {
		ret = b->sd.domain;
		goto fail;
	}
	ret = bridge_irq_domain(b);
	if (ret)
		goto fail;

	b->busn = DEFINE_RES_NAMED(0, 1, "rsio borrowed bus", IORESOURCE_BUS);
	pci_add_resource(&resources, &b->busn);
	for (i = 0; i < RSIO_BRIDGE_BARS; i++) {
		if (!b->bar[i].size)
			continue;
		snprintf(b->win_name[i], sizeof(b->win_name[i]), "rsio %x BAR%d", b->fdid, i);
		b->win[i] = DEFINE_RES_NAMED(b->bar[i].addr, b->bar[i].size, b->win_name[i], IORESOURCE_MEM);
		if (b->bar[i].addr > U32_MAX)
			b->win[i].flags |= IORESOURCE_MEM_64;
		pci_add_resource(&resources, &b->win[i]);
	}

	b->bus = pci_create_root_bus(p->parent, 0, &rsio_bridge_ops, &b->sd, &resources);
	if (!b->bus) {
		pci_free_resource_list(&resources);
		ret = -ENODEV;
		goto fail;
	}
	dev_set_msi_domain(&b->bus->dev, b->domain);
	pci_lock_rescan_remove();
	pci_scan_child_bus(b->bus);
	pdev = pci_get_slot(b->bus, 0);
	if (!pdev) {
		pci_stop_root_bus(b->bus);
		pci_remove_root_bus(b->bus);
		pci_unlock_rescan_remove();
		ret = -ENODEV;
		goto fail;
	}
	/*
	 * A 32-bit BAR whose slots lie above 4 GiB (where the adapter's
	 * translated window is) cannot hold their address: its register keeps
	 * the low half (the device never sees it: the shadow is ours) and the
	 * resource, which is what drivers map, gets the whole address.
	 */
	for (i = 0; i < RSIO_BRIDGE_BARS; i++) {
		struct resource *r = &pdev->resource[i];

		if (b->bar[i].size && !(b->bar[i].flags & RSIO_LEND_BAR_64) && b->bar[i].addr > U32_MAX) {
			r->start = b->bar[i].addr;
			r->end = b->bar[i].addr + b->bar[i].size - 1;
		}
	}
	/* Before any driver probes it (drivers match only once added). */
	set_dma_ops(&pdev->dev, &rsio_dma_ops);
	pci_bus_claim_resources(b->bus);
	pci_unlock_rescan_remove();
	*domain = b->sd.domain;
	*busnr = b->bus->number;
	*devfn = pdev->devfn;
	pci_dev_put(pdev);
	*out = b;
	return 0;

fail:
	bridge_free(b);
	return ret;
}

struct pci_dev *rsio_bridge_get_dev(struct rsio_bridge *b)
{
	return b->bus ? pci_get_slot(b->bus, 0) : NULL;
}

void rsio_bridge_start(struct rsio_bridge *b)
{
	unsigned long flags;

	spin_lock_irqsave(&rsio_bridges_lock, flags);
	list_add_tail(&b->all, &rsio_bridges);
	spin_unlock_irqrestore(&rsio_bridges_lock, flags);
	pci_lock_rescan_remove();
	pci_bus_add_devices(b->bus);
	pci_unlock_rescan_remove();
}

void rsio_bridge_set_dead(struct rsio_bridge *b)
{
	struct pci_dev *pdev;

	WRITE_ONCE(b->dead, true);
	/*
	 * As pci_dev_set_disconnected() (not exported): the PCI core stops
	 * waiting for the function (reset polls) and pci_device_is_present()
	 * says it is gone.
	 */
	pdev = b->bus ? pci_get_slot(b->bus, 0) : NULL;
	if (pdev) {
		pdev->error_state = pci_channel_io_perm_failure;
		pci_dev_put(pdev);
	}
}

void rsio_bridge_remove(struct rsio_bridge *b)
{
	struct pci_host_bridge *hb = to_pci_host_bridge(b->bus->bridge);
	unsigned long flags;

	spin_lock_irqsave(&rsio_bridges_lock, flags);
	list_del_init(&b->all);
	spin_unlock_irqrestore(&rsio_bridges_lock, flags);
	spin_lock_irqsave(&b->err_lock, flags);
	b->removing = true;
	spin_unlock_irqrestore(&b->err_lock, flags);
	cancel_work_sync(&b->recover);

	pci_lock_rescan_remove();
	pci_stop_root_bus(b->bus);
	pci_remove_root_bus(b->bus);
	pci_unlock_rescan_remove();
	/*
	 * pci_remove_root_bus() only deletes the host bridge device: the
	 * reference pci_create_root_bus() gave its creator is ours to drop
	 * (the bus drops its own when it is released).
	 */
	put_device(&hb->dev);
	b->bus = NULL;
}

void rsio_bridge_free(struct rsio_bridge *b)
{
	bridge_free(b);
}
