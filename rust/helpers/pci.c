// SPDX-License-Identifier: GPL-2.0
/* PCI accessors that are macros or inline (helpers.h). */
#include <linux/export.h>
#include <linux/pci.h>
#include "helpers.h"

unsigned long rsio_helper_pci_resource_flags(struct pci_dev *pdev, int bar)
{
	return pci_resource_flags(pdev, bar);
}
EXPORT_SYMBOL_GPL(rsio_helper_pci_resource_flags);

u64 rsio_helper_pci_bus_address(struct pci_dev *pdev, int bar)
{
	return pci_bus_address(pdev, bar);
}
EXPORT_SYMBOL_GPL(rsio_helper_pci_bus_address);

int rsio_helper_pci_domain_nr(struct pci_dev *pdev)
{
	return pci_domain_nr(pdev->bus);
}
EXPORT_SYMBOL_GPL(rsio_helper_pci_domain_nr);

struct pci_dev *rsio_helper_pci_dev_get(struct pci_dev *pdev)
{
	return pci_dev_get(pdev);
}
EXPORT_SYMBOL_GPL(rsio_helper_pci_dev_get);
