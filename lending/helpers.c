// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for rsio_lend (see helpers.h).
 */
#include <linux/acpi.h>
#include <linux/capability.h>
#include <linux/device.h>
#include <linux/iommu.h>
#include <linux/pci.h>

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

static void rsio_lend_fill(struct pci_dev *pdev, struct rsio_lend_info *info)
{
	int i;

	memset(info, 0, sizeof(*info));
	info->vendor = pdev->vendor;
	info->device = pdev->device;
	info->subsystem_vendor = pdev->subsystem_vendor;
	info->subsystem_device = pdev->subsystem_device;
	info->class = pdev->class;
	info->revision = pdev->revision;
	info->virtfn = pdev->is_virtfn;
	info->sriov_total_vfs = pdev->is_physfn ? pci_sriov_get_totalvfs(pdev) : 0;
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
	ret = pci_reset_function(pdev);
	rsio_lend_fill(pdev, info);
	info->reset = ret == 0;
	if (ret)
		pci_info(pdev, "rsio_lend: no function reset (%d)\n", ret);
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

	ret = pci_reset_function(pdev);
	if (ret && ret != -ENOTTY)
		pci_warn(pdev, "rsio_lend: reset on return failed (%d)\n", ret);
	device_set_driver_override(&pdev->dev, "");
	device_release_driver(&pdev->dev);
	ret = device_attach(&pdev->dev);
	if (ret < 0)
		pci_warn(pdev, "rsio_lend: re-probing failed (%d)\n", ret);
	pci_dev_put(pdev);
}

bool rsio_lend_capable_admin(void)
{
	return capable(CAP_SYS_ADMIN);
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
	pci_write_config_word(pdev, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE);
	if (pci_reset_function(pdev))
		pci_warn(pdev, "rsio_lend: no function reset; memory and bus mastering left off\n");
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
