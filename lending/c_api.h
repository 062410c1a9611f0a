/* SPDX-License-Identifier: GPL-2.0 */
/* What bindgen reads for rsio_lend (Kbuild): every C helper's header. */
#include "helpers.h"
#include "bridge.h"
