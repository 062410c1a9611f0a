// SPDX-License-Identifier: GPL-2.0
/* C helpers for rsio_fabric; see helpers.h. */
#include <linux/utsname.h>
#include "helpers.h"

const char *rsio_helper_kernel_release(void)
{
	return init_utsname()->release;
}
