// SPDX-License-Identifier: GPL-2.0
/* eventfd contexts (helpers.h). */
#include <linux/export.h>
#include <linux/err.h>
#include <linux/eventfd.h>
#include "helpers.h"

void *rsio_helper_eventfd_get(int fd, int *err)
{
	struct eventfd_ctx *ctx = eventfd_ctx_fdget(fd);

	if (IS_ERR(ctx)) {
		*err = PTR_ERR(ctx);
		return NULL;
	}
	return ctx;
}
EXPORT_SYMBOL_GPL(rsio_helper_eventfd_get);

void rsio_helper_eventfd_signal(void *ctx)
{
	eventfd_signal(ctx);
}
EXPORT_SYMBOL_GPL(rsio_helper_eventfd_signal);
