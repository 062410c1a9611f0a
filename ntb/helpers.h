/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations rsio_ntb binds with bindgen (bindings.rs): the NTB core's API
 * from <linux/ntb.h>, and C helpers for what that header only has as inline
 * functions (no symbol Rust could call).
 */
#ifndef RSIO_NTB_HELPERS_H
#define RSIO_NTB_HELPERS_H

#include <linux/ntb.h>

/*
 * ntb_dev_ops_is_valid(): whether @ops has every callback the NTB core
 * requires (ntb_register_device() only checks it under a WARN).
 */
bool rsio_ntb_helper_ops_is_valid(const struct ntb_dev_ops *ops);

/*
 * Whether an ERROR interrupt may log now: a ratelimit state shared by every
 * adapter (the default interval and burst of printk_ratelimit()).
 */
bool rsio_ntb_helper_err_ratelimit(void);

/*
 * The memory alias of the adapter's direct window (register DIRECT_ALIAS):
 * function @devfn on @pdev's bus, whose BAR @bar decodes the same memory as
 * BAR4. Returns it referenced and with memory decoding on, its BAR's bus
 * address in *@start; NULL (and says why) if it is absent, that BAR is not
 * memory, or it is smaller than @len. rsio_ntb_helper_alias_put() undoes it.
 */
struct pci_dev *rsio_ntb_helper_alias_get(struct pci_dev *pdev, unsigned int devfn, unsigned int bar, u64 len,
					  u64 *start);
void rsio_ntb_helper_alias_put(struct pci_dev *alias);

#endif
