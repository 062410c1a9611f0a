// SPDX-License-Identifier: GPL-2.0
/* Device locking and class devices' state (helpers.h). */
#include <linux/export.h>
#include <linux/blkdev.h>
#include <linux/device.h>
#include <linux/netdevice.h>
#include "helpers.h"

void rsio_helper_device_lock(struct device *dev)
{
	device_lock(dev);
}
EXPORT_SYMBOL_GPL(rsio_helper_device_lock);

void rsio_helper_device_unlock(struct device *dev)
{
	device_unlock(dev);
}
EXPORT_SYMBOL_GPL(rsio_helper_device_unlock);

int rsio_helper_dev_to_node(struct device *dev)
{
	return dev_to_node(dev);
}
EXPORT_SYMBOL_GPL(rsio_helper_dev_to_node);

bool rsio_helper_block_device_busy(struct device *dev)
{
	struct block_device *bdev = dev_to_bdev(dev);

	return atomic_read(&bdev->bd_openers) || READ_ONCE(bdev->bd_holder);
}
EXPORT_SYMBOL_GPL(rsio_helper_block_device_busy);

bool rsio_helper_net_device_up(struct device *dev)
{
	return READ_ONCE(to_net_dev(dev)->flags) & IFF_UP;
}
EXPORT_SYMBOL_GPL(rsio_helper_net_device_up);
