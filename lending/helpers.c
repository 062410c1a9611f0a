// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for rsio_lend (see helpers.h).
 */
#include <linux/acpi.h>
#include <linux/blkdev.h>
#include <linux/capability.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/iommu.h>
#include <linux/iopoll.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <uapi/linux/virtio_config.h>
#include <uapi/linux/virtio_pci.h>

#include "helpers.h"

#define RSIO_VENDOR_ID 0x7273

/*
 * The stub driver: it matches no id, only functions whose driver_override
 * names it, and does nothing with them but hold them away from their
 * native driver.
 */
static const struct pci_device_id rsio_lend_ids[] = {
	{ }
};

static int rsio_lend_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	pci_info(pdev, "held by rsio_lend\n");
	return 0;
}

static void rsio_lend_remove(struct pci_dev *pdev)
{
}

static struct pci_driver rsio_lend_driver = {
	.name = "rsio_lend",
	.id_table = rsio_lend_ids,
	.probe = rsio_lend_probe,
	.remove = rsio_lend_remove,
};

int rsio_lend_driver_register(void)
{
	return pci_register_driver(&rsio_lend_driver);
}

void rsio_lend_driver_unregister(void)
{
	pci_unregister_driver(&rsio_lend_driver);
}

/* --- in use ---------------------------------------------------------------- */

struct rsio_in_use {
	char *why;
	size_t len;
	int depth;
};

static int rsio_in_use_dev(struct device *dev, void *data)
{
	struct rsio_in_use *u = data;
	const char *class = dev->class ? dev->class->name : NULL;
	int ret;

	if (class && !strcmp(class, "block")) {
		struct block_device *bdev = dev_to_bdev(dev);

		if (atomic_read(&bdev->bd_openers) || bdev->bd_holder) {
			snprintf(u->why, u->len, "block device %s is open or mounted", dev_name(dev));
			return 1;
		}
	} else if (class && !strcmp(class, "net")) {
		struct net_device *nd = to_net_dev(dev);

		if (READ_ONCE(nd->flags) & IFF_UP) {
			snprintf(u->why, u->len, "network interface %s is up", netdev_name(nd));
			return 1;
		}
	}
	/* Disks sit a few levels down (SCSI host, target, LUN; USB). */
	if (u->depth >= 8)
		return 0;
	u->depth++;
	ret = device_for_each_child(dev, u, rsio_in_use_dev);
	u->depth--;
	return ret;
}

/*
 * TODO (issue 17, before closing): with CONFIG_NVME_MULTIPATH (distribution
 * kernels; not the guests') a namespace's disk hangs off the nvme subsystem,
 * not the controller: only its hidden per-path disks are under pdev, and a
 * mounted namespace is not seen here. Check the head disks of pdev's paths.
 */
int rsio_lend_in_use(struct pci_dev *pdev, char *why, size_t len)
{
	struct rsio_in_use u = { .why = why, .len = len };
	int ret;

	device_lock(&pdev->dev);
	ret = pdev->dev.driver ? device_for_each_child(&pdev->dev, &u, rsio_in_use_dev) : 0;
	device_unlock(&pdev->dev);
	return ret > 0;
}

struct pci_dev *rsio_lend_get(u32 domain, u32 bus, u32 devfn)
{
	if (domain > 0xffff || bus > 0xff || devfn > 0xff)
		return NULL;
	return pci_get_domain_bus_and_slot(domain, bus, devfn);
}

void rsio_lend_put(struct pci_dev *pdev)
{
	pci_dev_put(pdev);
}

/* --- class-specific knowledge ------------------------------------------------ */

/*
 * Maps `len` bytes at `offset` of BAR `bar` with memory decoding on; *cmd
 * gets the command register to restore after pci_iounmap().
 */
static void __iomem *rsio_map_bar(struct pci_dev *pdev, int bar, unsigned long offset, unsigned long len, u16 *cmd)
{
	void __iomem *p;

	if (bar >= PCI_STD_NUM_BARS || !(pci_resource_flags(pdev, bar) & IORESOURCE_MEM) ||
	    pci_resource_len(pdev, bar) < offset + len)
		return NULL;
	pci_read_config_word(pdev, PCI_COMMAND, cmd);
	pci_write_config_word(pdev, PCI_COMMAND, *cmd | PCI_COMMAND_MEMORY);
	p = pci_iomap_range(pdev, bar, offset, len);
	if (!p)
		pci_write_config_word(pdev, PCI_COMMAND, *cmd);
	return p;
}

static bool rsio_is_virtio(struct pci_dev *pdev)
{
	return pdev->vendor == PCI_VENDOR_ID_REDHAT_QUMRANET && pdev->device >= 0x1000 && pdev->device <= 0x107f;
}

/*
 * Maps a virtio function's common configuration (VIRTIO_PCI_CAP_COMMON_CFG)
 * with memory decoding on; NULL if it has none (a legacy-only device).
 * *cmd gets the command register to restore.
 */
static struct virtio_pci_common_cfg __iomem *rsio_virtio_common(struct pci_dev *pdev, u16 *cmd)
{
	u8 pos, type, bar;
	u32 offset;

	for (pos = pci_find_capability(pdev, PCI_CAP_ID_VNDR); pos;
	     pos = pci_find_next_capability(pdev, pos, PCI_CAP_ID_VNDR)) {
		pci_read_config_byte(pdev, pos + offsetof(struct virtio_pci_cap, cfg_type), &type);
		if (type != VIRTIO_PCI_CAP_COMMON_CFG)
			continue;
		pci_read_config_byte(pdev, pos + offsetof(struct virtio_pci_cap, bar), &bar);
		pci_read_config_dword(pdev, pos + offsetof(struct virtio_pci_cap, offset), &offset);
		return rsio_map_bar(pdev, bar, offset, sizeof(struct virtio_pci_common_cfg), cmd);
	}
	return NULL;
}

/*
 * A virtio device that does not offer VIRTIO_F_ACCESS_PLATFORM makes its
 * driver hand it guest-physical addresses instead of DMA-API results
 * (virtio_ring's vring_use_map_api()), which no borrower-side mapping can
 * translate; a legacy-only device cannot offer the feature at all.
 */
static bool rsio_virtio_bypasses_dma_api(struct pci_dev *pdev)
{
	struct virtio_pci_common_cfg __iomem *c;
	u16 cmd;
	u32 hi;

	if (!rsio_is_virtio(pdev))
		return false;
	c = rsio_virtio_common(pdev, &cmd);
	if (!c)
		return true;
	iowrite32(VIRTIO_F_ACCESS_PLATFORM / 32, &c->device_feature_select);
	hi = ioread32(&c->device_feature);
	pci_iounmap(pdev, c);
	pci_write_config_word(pdev, PCI_COMMAND, cmd);
	return !(hi & BIT(VIRTIO_F_ACCESS_PLATFORM % 32));
}

/* virtio 1.x, 3.1.1 / 4.1.4.3.2: writing 0 to device_status resets it. */
static int rsio_virtio_reset(struct pci_dev *pdev)
{
	struct virtio_pci_common_cfg __iomem *c;
	u16 cmd;
	u8 st;
	int ret;

	c = rsio_virtio_common(pdev, &cmd);
	if (!c)
		return -ENOTTY;
	iowrite8(0, &c->device_status);
	ret = readx_poll_timeout(ioread8, &c->device_status, st, st == 0, 1000, 1000000);
	pci_iounmap(pdev, c);
	pci_write_config_word(pdev, PCI_COMMAND, cmd);
	return ret;
}

/* AHCI 1.3.1, 10.4.3: GHC.HR (bit 0 of GHC, ABAR + 4) resets the HBA; it clears when done (<= 1 s). */
static int rsio_ahci_reset(struct pci_dev *pdev)
{
	void __iomem *abar;
	u16 cmd;
	u32 ghc;
	int ret;

	abar = rsio_map_bar(pdev, 5, 0, 0x100, &cmd);
	if (!abar)
		return -ENOTTY;
	iowrite32(ioread32(abar + 4) | BIT(31), abar + 4); /* AE first, as libahci */
	iowrite32(ioread32(abar + 4) | BIT(0), abar + 4);
	ret = readx_poll_timeout(ioread32, abar + 4, ghc, !(ghc & BIT(0)), 1000, 1000000);
	pci_iounmap(pdev, abar);
	pci_write_config_word(pdev, PCI_COMMAND, cmd);
	return ret;
}

/*
 * xHCI 1.2, 4.22.1 / 5.4.1: halt (USBCMD.RS = 0, wait USBSTS.HCH), then
 * USBCMD.HCRST; done when HCRST and USBSTS.CNR read 0.
 */
static int rsio_xhci_reset(struct pci_dev *pdev)
{
	void __iomem *base, *op;
	u32 v;
	u16 cmd;
	int ret;

	base = rsio_map_bar(pdev, 0, 0, 0x100, &cmd);
	if (!base)
		return -ENOTTY;
	op = base + ioread8(base);
	iowrite32(ioread32(op) & ~BIT(0), op);
	ret = readx_poll_timeout(ioread32, op + 4, v, v & BIT(0), 100, 100000);
	if (!ret) {
		iowrite32(ioread32(op) | BIT(1), op);
		ret = readx_poll_timeout(ioread32, op, v, !(v & BIT(1)), 1000, 1000000);
	}
	if (!ret)
		ret = readx_poll_timeout(ioread32, op + 4, v, !(v & BIT(11)), 1000, 1000000);
	pci_iounmap(pdev, base);
	pci_write_config_word(pdev, PCI_COMMAND, cmd);
	return ret;
}

/* The reset a claimed function gets between borrowers (RSIO_LEND_RESET_*). */
static u32 rsio_reset_method(struct pci_dev *pdev)
{
	if (!pcie_reset_flr(pdev, PCI_RESET_PROBE))
		return RSIO_LEND_RESET_FLR;
	if (pdev->reset_methods[0])
		return RSIO_LEND_RESET_PCI;
	if (rsio_is_virtio(pdev))
		return RSIO_LEND_RESET_VIRTIO;
	if (pdev->class == PCI_CLASS_STORAGE_SATA_AHCI)
		return RSIO_LEND_RESET_AHCI;
	if (pdev->class == PCI_CLASS_SERIAL_USB_XHCI)
		return RSIO_LEND_RESET_XHCI;
	return RSIO_LEND_RESET_NONE;
}

/*
 * Resets a claimed function by its method: the PCI core's reset saves and
 * restores the config state itself; around a class-specific one the state
 * saved at claim time is put back (the borrower's MSI/MSI-X enables and
 * command bits go).
 */
static int rsio_reset(struct pci_dev *pdev, u32 method)
{
	int ret;

	switch (method) {
	case RSIO_LEND_RESET_FLR:
	case RSIO_LEND_RESET_PCI:
		return pci_reset_function(pdev);
	case RSIO_LEND_RESET_VIRTIO:
		ret = rsio_virtio_reset(pdev);
		break;
	case RSIO_LEND_RESET_AHCI:
		ret = rsio_ahci_reset(pdev);
		break;
	case RSIO_LEND_RESET_XHCI:
		ret = rsio_xhci_reset(pdev);
		break;
	default:
		return -ENOTTY;
	}
	pci_restore_state(pdev);
	pci_save_state(pdev);
	return ret;
}

static void rsio_lend_fill(struct pci_dev *pdev, struct rsio_lend_info *info)
{
	int i, n;

	memset(info, 0, sizeof(*info));
	info->vendor = pdev->vendor;
	info->device = pdev->device;
	info->subsystem_vendor = pdev->subsystem_vendor;
	info->subsystem_device = pdev->subsystem_device;
	info->class = pdev->class;
	info->revision = pdev->revision;
	info->virtfn = pdev->is_virtfn;
	info->sriov_total_vfs = pdev->is_physfn ? pci_sriov_get_totalvfs(pdev) : 0;
	n = pdev->msix_cap ? pci_msix_vec_count(pdev) : pdev->msi_cap ? pci_msi_vec_count(pdev) : 0;
	info->irqs = n > 0 ? n : 0;
	info->dma_bypass = rsio_virtio_bypasses_dma_api(pdev);
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		unsigned long flags = pci_resource_flags(pdev, i);
		u32 f = 0;

		if (!pci_resource_len(pdev, i))
			continue;
		if (flags & IORESOURCE_IO)
			f |= RSIO_LEND_BAR_IO;
		if (flags & IORESOURCE_MEM_64)
			f |= RSIO_LEND_BAR_64;
		if (flags & IORESOURCE_PREFETCH)
			f |= RSIO_LEND_BAR_PREFETCH;
		info->bar_addr[i] = pci_bus_address(pdev, i);
		info->bar_size[i] = pci_resource_len(pdev, i);
		info->bar_flags[i] = f;
	}
}

int rsio_lend_claim(u32 domain, u32 bus, u32 devfn, struct pci_dev **out, struct rsio_lend_info *info)
{
	struct pci_dev *pdev;
	int ret;

	if (domain > 0xffff || bus > 0xff || devfn > 0xff)
		return -EINVAL;
	pdev = pci_get_domain_bus_and_slot(domain, bus, devfn);
	if (!pdev)
		return -ENODEV;
	/* The adapter first: it is a bridge by class too (0x0680, NTB). */
	if (pdev->vendor == RSIO_VENDOR_ID) {
		ret = -EPERM;
		goto put;
	}
	if ((pdev->class >> 16) == PCI_BASE_CLASS_BRIDGE) {
		ret = -EINVAL;
		goto put;
	}
	ret = device_set_driver_override(&pdev->dev, rsio_lend_driver.name);
	if (ret)
		goto put;
	device_release_driver(&pdev->dev);
	ret = device_attach(&pdev->dev);
	if (ret < 0 || READ_ONCE(pdev->dev.driver) != &rsio_lend_driver.driver) {
		pci_warn(pdev, "rsio_lend: the stub driver did not bind (%d)\n", ret);
		ret = -EBUSY;
		goto restore;
	}
	/* The state the lender's firmware and PCI core set up, for class resets. */
	pci_save_state(pdev);
	rsio_lend_fill(pdev, info);
	info->reset = rsio_reset_method(pdev);
	ret = rsio_reset(pdev, info->reset);
	if (ret)
		pci_warn(pdev, "rsio_lend: no reset (method %u: %d): borrowers may find the last one's state\n",
			 info->reset, ret);
	*out = pdev;
	return 0;
restore:
	device_set_driver_override(&pdev->dev, "");
	device_release_driver(&pdev->dev);
	if (device_attach(&pdev->dev) < 0)
		pci_warn(pdev, "rsio_lend: re-probing failed\n");
put:
	pci_dev_put(pdev);
	return ret;
}

void rsio_lend_release(struct pci_dev *pdev)
{
	int ret;

	ret = rsio_reset(pdev, rsio_reset_method(pdev));
	if (ret && ret != -ENOTTY)
		pci_warn(pdev, "rsio_lend: reset on return failed (%d)\n", ret);
	device_set_driver_override(&pdev->dev, "");
	device_release_driver(&pdev->dev);
	ret = device_attach(&pdev->dev);
	if (ret < 0)
		pci_warn(pdev, "rsio_lend: re-probing failed (%d)\n", ret);
	pci_dev_put(pdev);
}

u64 rsio_lend_ecam(struct pci_dev *pdev)
{
	struct acpi_table_header *hdr;
	struct acpi_mcfg_allocation *a;
	u32 seg = pci_domain_nr(pdev->bus), bus = pdev->bus->number;
	u64 addr = 0;
	size_t i, n;

	if (ACPI_FAILURE(acpi_get_table(ACPI_SIG_MCFG, 0, &hdr)))
		return 0;
	if (hdr->length < sizeof(struct acpi_table_mcfg))
		goto out;
	n = (hdr->length - sizeof(struct acpi_table_mcfg)) / sizeof(*a);
	a = (struct acpi_mcfg_allocation *)((struct acpi_table_mcfg *)hdr + 1);
	for (i = 0; i < n; i++) {
		if (a[i].pci_segment == seg && bus >= a[i].start_bus_number && bus <= a[i].end_bus_number) {
			addr = a[i].address + ((u64)(bus - a[i].start_bus_number) << 20) + ((u64)pdev->devfn << 12);
			break;
		}
	}
out:
	acpi_put_table(hdr);
	return addr;
}

void rsio_lend_quiesce(struct pci_dev *pdev)
{
	u32 method = rsio_reset_method(pdev);

	pci_write_config_word(pdev, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE);
	if (rsio_reset(pdev, method))
		pci_warn(pdev, "rsio_lend: no reset (method %u); memory and bus mastering left off\n", method);
	else
		pci_write_config_word(pdev, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE);
}

static int rsio_lend_count_dev(struct device *dev, void *data)
{
	(*(unsigned int *)data)++;
	return 0;
}

int rsio_lend_isolation(struct pci_dev *pdev)
{
	struct iommu_group *group;
	unsigned int n = 0;

	if (!device_iommu_mapped(&pdev->dev))
		return RSIO_LEND_ISOLATION_NONE;
	group = iommu_group_get(&pdev->dev);
	if (!group)
		return RSIO_LEND_ISOLATION_NONE;
	iommu_group_for_each_dev(group, &n, rsio_lend_count_dev);
	iommu_group_put(group);
	return n == 1 ? RSIO_LEND_ISOLATION_OWN : RSIO_LEND_ISOLATION_SHARED;
}

static int rsio_lend_map_range(struct iommu_domain *dom, u64 start, u64 len)
{
	if (!len || !PAGE_ALIGNED(start) || !PAGE_ALIGNED(len) || start + len < start ||
	    start < dom->geometry.aperture_start || start + len - 1 > dom->geometry.aperture_end)
		return -EINVAL;
	/* IOMMU_MMIO: the ranges are in the adapter's BARs, not RAM. */
	return iommu_map(dom, start, start, len, IOMMU_READ | IOMMU_WRITE | IOMMU_MMIO, GFP_KERNEL);
}

int rsio_lend_confine_map(struct iommu_domain *dom, u64 start, u64 len)
{
	return rsio_lend_map_range(dom, start, len);
}

void rsio_lend_confine_unmap(struct iommu_domain *dom, u64 start, u64 len)
{
	if (iommu_unmap(dom, start, len) != len)
		pr_warn("rsio_lend: IOMMU range %#llx+%#llx not fully unmapped\n", start, len);
}

int rsio_lend_confine(struct pci_dev *pdev, const struct rsio_lend_range *ranges, u32 n,
		      struct iommu_domain **out)
{
	struct iommu_domain *dom;
	int ret;
	u32 i;

	*out = NULL;
	switch (rsio_lend_isolation(pdev)) {
	case RSIO_LEND_ISOLATION_NONE:
		return -ENODEV;
	case RSIO_LEND_ISOLATION_SHARED:
		return -EBUSY;
	}
	dom = iommu_paging_domain_alloc(&pdev->dev);
	if (IS_ERR(dom))
		return PTR_ERR(dom);
	for (i = 0; i < n; i++) {
		ret = rsio_lend_map_range(dom, ranges[i].start, ranges[i].len);
		if (ret)
			goto free;
	}
	/* The stub driver is bound, as iommu_attach_device() wants. */
	ret = iommu_attach_device(dom, &pdev->dev);
	if (ret)
		goto free;
	pci_dev_get(pdev);
	*out = dom;
	return 0;
free:
	/* Freeing a paging domain frees its mappings. */
	iommu_domain_free(dom);
	return ret;
}

void rsio_lend_unconfine(struct pci_dev *pdev, struct iommu_domain *dom)
{
	iommu_detach_device(dom, &pdev->dev);
	iommu_domain_free(dom);
	pci_dev_put(pdev);
}
