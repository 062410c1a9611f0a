// SPDX-License-Identifier: GPL-2.0
/* C helpers for rsio_ntb; see helpers.h. */
#include <linux/pci.h>
#include <linux/ratelimit.h>
#include "helpers.h"

bool rsio_ntb_helper_ops_is_valid(const struct ntb_dev_ops *ops)
{
	return ntb_dev_ops_is_valid(ops);
}

static DEFINE_RATELIMIT_STATE(rsio_ntb_err_rs, DEFAULT_RATELIMIT_INTERVAL,
			      DEFAULT_RATELIMIT_BURST);

bool rsio_ntb_helper_err_ratelimit(void)
{
	return __ratelimit(&rsio_ntb_err_rs);
}

struct pci_dev *rsio_ntb_helper_alias_get(struct pci_dev *pdev, unsigned int devfn, unsigned int bar, u64 len,
					  u64 *start)
{
	struct pci_dev *alias;

	if (devfn > 0xff || bar >= PCI_STD_NUM_BARS) {
		pci_warn(pdev, "DIRECT_ALIAS names devfn %#x BAR %u: out of range; no alias\n", devfn, bar);
		return NULL;
	}
	alias = pci_get_slot(pdev->bus, devfn);
	if (!alias) {
		pci_warn(pdev, "DIRECT_ALIAS names %02x.%u, which is absent; no alias\n", PCI_SLOT(devfn),
			 PCI_FUNC(devfn));
		return NULL;
	}
	if (alias == pdev || !(pci_resource_flags(alias, bar) & IORESOURCE_MEM) ||
	    pci_resource_len(alias, bar) < len) {
		pci_warn(alias, "not the direct window's alias (BAR %u: %pR, expected %#llx bytes)\n", bar,
			 &alias->resource[bar], len);
		goto put;
	}
	if (pci_enable_device_mem(alias)) {
		pci_warn(alias, "cannot enable memory decoding of the direct window's alias\n");
		goto put;
	}
	*start = pci_bus_address(alias, bar);
	return alias;
put:
	pci_dev_put(alias);
	return NULL;
}

void rsio_ntb_helper_alias_put(struct pci_dev *alias)
{
	pci_disable_device(alias);
	pci_dev_put(alias);
}
