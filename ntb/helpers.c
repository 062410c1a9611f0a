// SPDX-License-Identifier: GPL-2.0
/* C helpers for rsio_ntb; see helpers.h. */
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
