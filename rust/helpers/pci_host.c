// SPDX-License-Identifier: GPL-2.0
/*
 * A virtual PCI host bridge (helpers.h, rust/pci_host.rs): a root bus in an
 * emulated PCI domain of its own, in the manner of
 * drivers/pci/controller/vmd.c, whose config accesses, MSI messages and DMA
 * translations are decided by its owner through struct rsio_pci_host_ops.
 *
 * This is the mechanism only, the kernel's pci_ops, MSI parent domain,
 * dma_map_ops and error-recovery sequence wired together, in C because the
 * 7.3 kernel crate has none of them and they are built of macros and
 * callback tables; every decision is the owner's.
 */
#include <linux/export.h>
#include <linux/dma-map-ops.h>
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/irq.h>
#include <linux/irqdomain.h>
#include <linux/msi.h>
#include <linux/pci.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include "helpers.h"

/* One interrupt of a function below the bridge (our level of its hierarchy). */
struct rsio_pci_host_irq {
	struct list_head node;
	struct rsio_pci_host *host;
	unsigned int virq;
	u32 vector;
	bool enabled;
};

/* Interrupts the functions below one bridge may have (MSI-X vectors in use). */
#define RSIO_PCI_HOST_MAX_IRQS 64

struct rsio_pci_host {
	/* First: the PCI core's bus->sysdata (x86 reads its domain from it). */
	struct pci_sysdata sd;
	const struct rsio_pci_host_ops *ops;
	void *ctx;
	u64 dma_limit;
	/* Protects the per-vector lists, hwirqs and next_vector. */
	raw_spinlock_t lock;
	u32 vectors[RSIO_PCI_HOST_MAX_VECTORS];
	u32 nr_vectors;
	u32 next_vector;
	struct list_head irqs[RSIO_PCI_HOST_MAX_VECTORS];
	DECLARE_BITMAP(hwirqs, RSIO_PCI_HOST_MAX_IRQS);
	struct irq_domain *domain;
	struct pci_bus *bus;
	bool disconnected;
	struct resource busn;
	struct resource win[RSIO_PCI_HOST_MAX_WINDOWS];
	char win_name[RSIO_PCI_HOST_MAX_WINDOWS][32];
};

static struct rsio_pci_host *host_of_bus(struct pci_bus *bus)
{
	return container_of((struct pci_sysdata *)bus->sysdata, struct rsio_pci_host, sd);
}

/* --- config space --------------------------------------------------------- */

static int host_cfg_read(struct pci_bus *bus, unsigned int devfn, int where, int size, u32 *val)
{
	struct rsio_pci_host *h = host_of_bus(bus);

	if (where < 0 || where + size > PCI_CFG_SPACE_EXP_SIZE || !h->ops->cfg_read(h->ctx, devfn, where, size, val)) {
		PCI_SET_ERROR_RESPONSE(val);
		return PCIBIOS_DEVICE_NOT_FOUND;
	}
	return PCIBIOS_SUCCESSFUL;
}

static int host_cfg_write(struct pci_bus *bus, unsigned int devfn, int where, int size, u32 val)
{
	struct rsio_pci_host *h = host_of_bus(bus);

	if (where < 0 || where + size > PCI_CFG_SPACE_EXP_SIZE || !h->ops->cfg_write(h->ctx, devfn, where, size, val))
		return PCIBIOS_DEVICE_NOT_FOUND;
	return PCIBIOS_SUCCESSFUL;
}

static struct pci_ops rsio_pci_host_cfg_ops = {
	.read = host_cfg_read,
	.write = host_cfg_write,
};

/* --- MSI/MSI-X: the parent domain of the functions' MSI domains ----------- */

static void host_compose_msi_msg(struct irq_data *data, struct msi_msg *msg)
{
	struct rsio_pci_host_irq *hi = data->chip_data;
	u64 addr = 0;
	u32 val = 0;

	hi->host->ops->msi_msg(hi->host->ctx, hi->vector, &addr, &val);
	memset(msg, 0, sizeof(*msg));
	msg->address_lo = lower_32_bits(addr);
	msg->address_hi = upper_32_bits(addr);
	msg->data = val;
}

static struct irq_chip rsio_pci_host_chip = {
	.name = "RSIO-HOST",
	.irq_compose_msi_msg = host_compose_msi_msg,
};

static void host_irq_enable(struct irq_data *data)
{
	struct rsio_pci_host_irq *hi = data->parent_data->chip_data;
	struct rsio_pci_host *h = hi->host;
	unsigned long flags;

	raw_spin_lock_irqsave(&h->lock, flags);
	if (!hi->enabled) {
		list_add_tail_rcu(&hi->node, &h->irqs[hi->vector % RSIO_PCI_HOST_MAX_VECTORS]);
		hi->enabled = true;
	}
	raw_spin_unlock_irqrestore(&h->lock, flags);
	data->chip->irq_unmask(data);
}

static void host_irq_disable(struct irq_data *data)
{
	struct rsio_pci_host_irq *hi = data->parent_data->chip_data;
	struct rsio_pci_host *h = hi->host;
	unsigned long flags;

	data->chip->irq_mask(data);
	raw_spin_lock_irqsave(&h->lock, flags);
	if (hi->enabled) {
		list_del_rcu(&hi->node);
		hi->enabled = false;
	}
	raw_spin_unlock_irqrestore(&h->lock, flags);
}

static unsigned int host_irq_startup(struct irq_data *data)
{
	host_irq_enable(data);
	return 0;
}

static void host_irq_shutdown(struct irq_data *data)
{
	host_irq_disable(data);
}

static void host_msi_free(struct irq_domain *domain, unsigned int virq, unsigned int nr_irqs)
{
	struct rsio_pci_host *h = domain->host_data;
	unsigned int i;

	/* Disabled (off the lists) before they are freed; wait for fire(). */
	synchronize_rcu();
	for (i = 0; i < nr_irqs; i++) {
		struct irq_data *d = irq_domain_get_irq_data(domain, virq + i);
		unsigned long flags;

		if (d) {
			raw_spin_lock_irqsave(&h->lock, flags);
			__clear_bit(d->hwirq, h->hwirqs);
			raw_spin_unlock_irqrestore(&h->lock, flags);
			kfree(d->chip_data);
			irq_domain_reset_irq_data(d);
		}
	}
}

static int host_msi_alloc(struct irq_domain *domain, unsigned int virq, unsigned int nr_irqs, void *arg)
{
	struct rsio_pci_host *h = domain->host_data;
	unsigned long flags;
	unsigned int i;

	for (i = 0; i < nr_irqs; i++) {
		struct rsio_pci_host_irq *hi = kzalloc(sizeof(*hi), GFP_KERNEL);
		unsigned long hwirq;

		if (!hi) {
			host_msi_free(domain, virq, i);
			return -ENOMEM;
		}
		INIT_LIST_HEAD(&hi->node);
		hi->host = h;
		hi->virq = virq + i;
		/* Spread over the vectors; interrupts sharing one all run. */
		raw_spin_lock_irqsave(&h->lock, flags);
		hwirq = find_first_zero_bit(h->hwirqs, RSIO_PCI_HOST_MAX_IRQS);
		if (hwirq < RSIO_PCI_HOST_MAX_IRQS)
			__set_bit(hwirq, h->hwirqs);
		hi->vector = h->vectors[h->next_vector];
		h->next_vector = (h->next_vector + 1) % h->nr_vectors;
		raw_spin_unlock_irqrestore(&h->lock, flags);
		if (hwirq >= RSIO_PCI_HOST_MAX_IRQS) {
			kfree(hi);
			host_msi_free(domain, virq, i);
			return -ENOSPC;
		}
		irq_domain_set_info(domain, virq + i, hwirq, &rsio_pci_host_chip, hi, handle_simple_irq, h, NULL);
	}
	return 0;
}

static const struct irq_domain_ops rsio_pci_host_msi_domain_ops = {
	.alloc = host_msi_alloc,
	.free = host_msi_free,
};

#define RSIO_MSI_FLAGS_SUPPORTED (MSI_GENERIC_FLAGS_MASK | MSI_FLAG_PCI_MSIX)
#define RSIO_MSI_FLAGS_REQUIRED (MSI_FLAG_USE_DEF_DOM_OPS | MSI_FLAG_NO_AFFINITY)

/*
 * What msi_lib_init_dev_msi_info() does for a PCI device domain under a
 * root MSI parent (that library is not built into this kernel), plus the
 * enable/disable that put an interrupt on its vector's list (as vmd.c).
 */
static bool host_init_dev_msi_info(struct device *dev, struct irq_domain *domain, struct irq_domain *real_parent,
				   struct msi_domain_info *info)
{
	struct irq_chip *chip = info->chip;

	if (domain != real_parent || !chip->irq_write_msi_msg)
		return false;
	if (info->bus_token != DOMAIN_BUS_PCI_DEVICE_MSI && info->bus_token != DOMAIN_BUS_PCI_DEVICE_MSIX)
		return false;
	info->flags &= RSIO_MSI_FLAGS_SUPPORTED;
	info->flags |= RSIO_MSI_FLAGS_REQUIRED;
	chip->irq_startup = host_irq_startup;
	chip->irq_shutdown = host_irq_shutdown;
	chip->irq_enable = host_irq_enable;
	chip->irq_disable = host_irq_disable;
	return true;
}

static const struct msi_parent_ops rsio_pci_host_msi_parent_ops = {
	.supported_flags = RSIO_MSI_FLAGS_SUPPORTED,
	.required_flags = RSIO_MSI_FLAGS_REQUIRED,
	.bus_select_token = DOMAIN_BUS_NEXUS,
	.bus_select_mask = BIT(DOMAIN_BUS_PCI_MSI),
	.prefix = "RSIO-",
	.init_dev_msi_info = host_init_dev_msi_info,
};

void rsio_helper_pci_host_fire(struct rsio_pci_host *h, u32 vector)
{
	struct rsio_pci_host_irq *hi;

	rcu_read_lock();
	list_for_each_entry_rcu(hi, &h->irqs[vector % RSIO_PCI_HOST_MAX_VECTORS], node)
		if (hi->vector == vector)
			generic_handle_irq(hi->virq);
	rcu_read_unlock();
}
EXPORT_SYMBOL_GPL(rsio_helper_pci_host_fire);

/* --- DMA: the owner's translation ------------------------------------------ */

static struct rsio_pci_host *host_of_dev(struct device *dev)
{
	return host_of_bus(to_pci_dev(dev)->bus);
}

static dma_addr_t host_dma(struct rsio_pci_host *h, phys_addr_t phys, size_t size, bool mmio)
{
	u64 a = h->ops->dma_map(h->ctx, phys, size, mmio);

	return a == RSIO_PCI_HOST_NO_DMA ? DMA_MAPPING_ERROR : a;
}

static dma_addr_t host_map_phys(struct device *dev, phys_addr_t phys, size_t size, enum dma_data_direction dir,
				unsigned long attrs)
{
	/* DMA_ATTR_MMIO: another device's BAR (peer-to-peer), not RAM. */
	return host_dma(host_of_dev(dev), phys, size, attrs & DMA_ATTR_MMIO);
}

static void host_unmap_phys(struct device *dev, dma_addr_t addr, size_t size, enum dma_data_direction dir,
			    unsigned long attrs)
{
}

static int host_map_sg(struct device *dev, struct scatterlist *sgl, int nents, enum dma_data_direction dir,
		       unsigned long attrs)
{
	struct rsio_pci_host *h = host_of_dev(dev);
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i) {
		dma_addr_t a = host_dma(h, sg_phys(sg), sg->length, false);

		if (a == DMA_MAPPING_ERROR)
			return -EIO;
		sg->dma_address = a;
		sg_dma_len(sg) = sg->length;
	}
	return nents;
}

static void host_unmap_sg(struct device *dev, struct scatterlist *sgl, int nents, enum dma_data_direction dir,
			  unsigned long attrs)
{
}

static void *host_dma_alloc(struct device *dev, size_t size, dma_addr_t *handle, gfp_t gfp, unsigned long attrs)
{
	struct rsio_pci_host *h = host_of_dev(dev);
	struct page *page;
	dma_addr_t a;

	/* The owner's translation decides what is reachable: no zone restrictions. */
	gfp &= ~(__GFP_DMA | __GFP_DMA32 | __GFP_HIGHMEM);
	page = alloc_pages(gfp | __GFP_ZERO, get_order(size));
	if (!page)
		return NULL;
	a = host_dma(h, page_to_phys(page), size, false);
	if (a == DMA_MAPPING_ERROR) {
		__free_pages(page, get_order(size));
		return NULL;
	}
	*handle = a;
	return page_address(page);
}

static void host_dma_free(struct device *dev, size_t size, void *vaddr, dma_addr_t handle, unsigned long attrs)
{
	__free_pages(virt_to_page(vaddr), get_order(size));
}

static int host_dma_supported(struct device *dev, u64 mask)
{
	return host_of_dev(dev)->dma_limit <= mask;
}

static u64 host_dma_required_mask(struct device *dev)
{
	u64 last = host_of_dev(dev)->dma_limit;

	return (1ULL << (fls64(last) - 1)) * 2 - 1;
}

static const struct dma_map_ops rsio_pci_host_dma_ops = {
	.alloc = host_dma_alloc,
	.free = host_dma_free,
	.map_phys = host_map_phys,
	.unmap_phys = host_unmap_phys,
	.map_sg = host_map_sg,
	.unmap_sg = host_unmap_sg,
	.dma_supported = host_dma_supported,
	.get_required_mask = host_dma_required_mask,
};

/* --- error recovery ----------------------------------------------------------- */

/* The function's error state, unless the bridge is disconnected (then it stays
 * pci_channel_io_perm_failure, which also ends the PCI core's waits at once). */
static void host_set_io_state(struct rsio_pci_host *h, struct pci_dev *pdev, pci_channel_state_t state)
{
	if (!READ_ONCE(h->disconnected))
		pdev->error_state = state;
}

/*
 * What drivers/pci/pcie/err.c does for one device after an uncorrectable
 * error (pcie_do_recovery is not exported): the driver learns that its reads
 * returned all-ones because the link failed them, and gets the chance to
 * reset and resume.
 */
static pci_ers_result_t host_recover_device(struct rsio_pci_host *h, struct pci_dev *pdev,
					    bool (*wait_answer)(void *), void *arg)
{
	const struct pci_error_handlers *eh;
	pci_ers_result_t res;

	if (!pdev->driver)
		return PCI_ERS_RESULT_NONE;
	eh = pdev->driver->err_handler;
	host_set_io_state(h, pdev, pci_channel_io_frozen);
	if (!eh || !eh->error_detected) {
		pci_err(pdev, "driver %s has no error handlers\n", pdev->driver->name);
		return PCI_ERS_RESULT_DISCONNECT;
	}
	res = eh->error_detected(pdev, pci_channel_io_frozen);
	if (res != PCI_ERS_RESULT_DISCONNECT && !wait_answer(arg))
		return PCI_ERS_RESULT_DISCONNECT;
	if (res == PCI_ERS_RESULT_CAN_RECOVER && eh->mmio_enabled) {
		host_set_io_state(h, pdev, pci_channel_io_normal);
		res = eh->mmio_enabled(pdev);
	}
	if (res == PCI_ERS_RESULT_NEED_RESET) {
		/*
		 * Through the bridge, like any config access: FLR or what the PCI
		 * core finds, as AER's bus reset: without the driver's
		 * reset_prepare/reset_done (slot_reset restores the state), which
		 * are for resets outside recovery (nvme's would wait for its reset
		 * work under the device lock held here).
		 */
		if (READ_ONCE(h->disconnected) || __pci_reset_function_locked(pdev)) {
			pci_err(pdev, "the function could not be reset\n");
			return PCI_ERS_RESULT_DISCONNECT;
		}
		host_set_io_state(h, pdev, pci_channel_io_normal);
		res = eh->slot_reset ? eh->slot_reset(pdev) : PCI_ERS_RESULT_RECOVERED;
	}
	if (res == PCI_ERS_RESULT_CAN_RECOVER)
		res = PCI_ERS_RESULT_RECOVERED;
	if (res == PCI_ERS_RESULT_RECOVERED && READ_ONCE(h->disconnected))
		res = PCI_ERS_RESULT_DISCONNECT;
	if (res == PCI_ERS_RESULT_RECOVERED) {
		host_set_io_state(h, pdev, pci_channel_io_normal);
		if (eh->resume)
			eh->resume(pdev);
	}
	return res;
}

int rsio_helper_pci_host_recover(struct rsio_pci_host *h, bool (*wait_answer)(void *), void *arg)
{
	struct pci_dev *pdev = pci_get_slot(h->bus, 0);
	pci_ers_result_t res;
	int ret;

	if (!pdev)
		return RSIO_PCI_HOST_RECOVERY_NONE;
	device_lock(&pdev->dev);
	res = host_recover_device(h, pdev, wait_answer, arg);
	if (res != PCI_ERS_RESULT_RECOVERED && res != PCI_ERS_RESULT_NONE)
		host_set_io_state(h, pdev, pci_channel_io_perm_failure);
	device_unlock(&pdev->dev);
	if (res == PCI_ERS_RESULT_RECOVERED) {
		ret = RSIO_PCI_HOST_RECOVERED;
	} else if (res == PCI_ERS_RESULT_NONE) {
		ret = RSIO_PCI_HOST_RECOVERY_NONE;
	} else if (READ_ONCE(h->disconnected)) {
		/* A disconnected bridge's function is removed by its owner. */
		ret = RSIO_PCI_HOST_RECOVERY_FAILED;
	} else {
		device_release_driver(&pdev->dev);
		/* A later rebind starts from a working state. */
		host_set_io_state(h, pdev, pci_channel_io_normal);
		ret = RSIO_PCI_HOST_UNBOUND;
	}
	pci_dev_put(pdev);
	return ret;
}
EXPORT_SYMBOL_GPL(rsio_helper_pci_host_recover);

/* --- the bridge ------------------------------------------------------------- */

static void host_free(struct rsio_pci_host *h)
{
	if (h->domain) {
		struct fwnode_handle *fn = h->domain->fwnode;

		irq_domain_remove(h->domain);
		irq_domain_free_fwnode(fn);
	}
	if (h->sd.domain >= 0)
		pci_bus_release_emul_domain_nr(h->sd.domain);
	kfree(h);
}

static int host_irq_domain(struct rsio_pci_host *h)
{
	struct irq_domain_info info = {
		.size = RSIO_PCI_HOST_MAX_IRQS,
		.hwirq_max = RSIO_PCI_HOST_MAX_IRQS,
		.ops = &rsio_pci_host_msi_domain_ops,
		.host_data = h,
	};

	info.fwnode = irq_domain_alloc_named_id_fwnode("RSIO-HOST", h->sd.domain);
	if (!info.fwnode)
		return -ENOMEM;
	h->domain = msi_create_parent_irq_domain(&info, &rsio_pci_host_msi_parent_ops);
	if (!h->domain) {
		irq_domain_free_fwnode(info.fwnode);
		return -ENOMEM;
	}
	return 0;
}

/* The bus's resources: bus number 0 and the memory windows. */
static void host_resources(struct rsio_pci_host *h, const struct rsio_pci_host_params *p, struct list_head *res)
{
	int i;

	h->busn = DEFINE_RES_NAMED(0, 1, "rsio virtual bus", IORESOURCE_BUS);
	pci_add_resource(res, &h->busn);
	for (i = 0; i < RSIO_PCI_HOST_MAX_WINDOWS; i++) {
		if (!p->win[i].size)
			continue;
		snprintf(h->win_name[i], sizeof(h->win_name[i]), "%s window %d", p->name, i);
		h->win[i] = DEFINE_RES_NAMED(p->win[i].start, p->win[i].size, h->win_name[i], IORESOURCE_MEM);
		if (p->win[i].start > U32_MAX)
			h->win[i].flags |= IORESOURCE_MEM_64;
		pci_add_resource(res, &h->win[i]);
	}
}

int rsio_helper_pci_host_create(const struct rsio_pci_host_params *p, struct rsio_pci_host **out, u32 *domain,
				u32 *busnr)
{
	struct rsio_pci_host *h;
	struct pci_dev *pdev;
	LIST_HEAD(resources);
	int i, ret;

	if (!p->nr_vectors || p->nr_vectors > RSIO_PCI_HOST_MAX_VECTORS || !p->ops)
		return -EINVAL;
	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	h->sd.domain = -1;
	h->sd.node = dev_to_node(p->parent);
	h->ops = p->ops;
	h->ctx = p->ctx;
	h->dma_limit = p->dma_limit;
	raw_spin_lock_init(&h->lock);
	memcpy(h->vectors, p->vectors, sizeof(h->vectors));
	h->nr_vectors = p->nr_vectors;
	for (i = 0; i < RSIO_PCI_HOST_MAX_VECTORS; i++)
		INIT_LIST_HEAD(&h->irqs[i]);
	/* Emulated domains start at 0x10000, clear of ACPI's (as vmd.c). */
	h->sd.domain = pci_bus_find_emul_domain_nr(0, 0x10000, INT_MAX);
	if (h->sd.domain < 0) {
		ret = h->sd.domain;
		goto fail;
	}
	ret = host_irq_domain(h);
	if (ret)
		goto fail;
	host_resources(h, p, &resources);
	h->bus = pci_create_root_bus(p->parent, 0, &rsio_pci_host_cfg_ops, &h->sd, &resources);
	if (!h->bus) {
		pci_free_resource_list(&resources);
		ret = -ENODEV;
		goto fail;
	}
	dev_set_msi_domain(&h->bus->dev, h->domain);
	pci_lock_rescan_remove();
	pci_scan_child_bus(h->bus);
	pdev = pci_get_slot(h->bus, 0);
	if (!pdev) {
		struct device *bridge = h->bus->bridge;

		pci_stop_root_bus(h->bus);
		pci_remove_root_bus(h->bus);
		pci_unlock_rescan_remove();
		/* The creator's reference on the host bridge (see remove). */
		put_device(bridge);
		ret = -ENODEV;
		goto fail;
	}
	/* Before any driver probes it (drivers match only once added). */
	set_dma_ops(&pdev->dev, &rsio_pci_host_dma_ops);
	pci_dev_put(pdev);
	pci_unlock_rescan_remove();
	*domain = h->sd.domain;
	*busnr = h->bus->number;
	*out = h;
	return 0;

fail:
	host_free(h);
	return ret;
}
EXPORT_SYMBOL_GPL(rsio_helper_pci_host_create);

int rsio_helper_pci_host_set_resource(struct rsio_pci_host *h, unsigned int devfn, int bar, u64 start, u64 size)
{
	struct pci_dev *pdev = pci_get_slot(h->bus, devfn);
	struct resource *r;

	if (!pdev)
		return -ENODEV;
	if (bar < 0 || bar >= PCI_STD_NUM_BARS || !size) {
		pci_dev_put(pdev);
		return -EINVAL;
	}
	r = &pdev->resource[bar];
	pci_lock_rescan_remove();
	r->start = start;
	r->end = start + size - 1;
	pci_unlock_rescan_remove();
	pci_dev_put(pdev);
	return 0;
}
EXPORT_SYMBOL_GPL(rsio_helper_pci_host_set_resource);

void rsio_helper_pci_host_start(struct rsio_pci_host *h)
{
	pci_lock_rescan_remove();
	pci_bus_claim_resources(h->bus);
	pci_bus_add_devices(h->bus);
	pci_unlock_rescan_remove();
}
EXPORT_SYMBOL_GPL(rsio_helper_pci_host_start);

void rsio_helper_pci_host_set_disconnected(struct rsio_pci_host *h)
{
	struct pci_dev *pdev;

	WRITE_ONCE(h->disconnected, true);
	/*
	 * As pci_dev_set_disconnected() (not exported): the PCI core stops
	 * waiting for the function (reset polls) and pci_device_is_present()
	 * says it is gone. The rescan lock keeps the bus from going meanwhile.
	 */
	pci_lock_rescan_remove();
	pdev = h->bus ? pci_get_slot(h->bus, 0) : NULL;
	if (pdev) {
		pdev->error_state = pci_channel_io_perm_failure;
		pci_dev_put(pdev);
	}
	pci_unlock_rescan_remove();
}
EXPORT_SYMBOL_GPL(rsio_helper_pci_host_set_disconnected);

void rsio_helper_pci_host_remove(struct rsio_pci_host *h)
{
	struct pci_host_bridge *hb = to_pci_host_bridge(h->bus->bridge);

	pci_lock_rescan_remove();
	pci_stop_root_bus(h->bus);
	pci_remove_root_bus(h->bus);
	h->bus = NULL;
	pci_unlock_rescan_remove();
	/*
	 * pci_remove_root_bus() only deletes the host bridge device: the
	 * reference pci_create_root_bus() gave its creator is ours to drop (the
	 * bus drops its own when it is released).
	 */
	put_device(&hb->dev);
}
EXPORT_SYMBOL_GPL(rsio_helper_pci_host_remove);

void rsio_helper_pci_host_free(struct rsio_pci_host *h)
{
	host_free(h);
}
EXPORT_SYMBOL_GPL(rsio_helper_pci_host_free);
