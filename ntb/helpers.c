// SPDX-License-Identifier: GPL-2.0
/* C helpers for rsio_ntb; see helpers.h. */
#include "helpers.h"

bool rsio_ntb_helper_ops_is_valid(const struct ntb_dev_ops *ops)
{
	return ntb_dev_ops_is_valid(ops);
}
