// SPDX-License-Identifier: GPL-2.0
/* The current task, its credentials and the system it runs on (helpers.h). */
#include <linux/export.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/ratelimit.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/utsname.h>
#include "helpers.h"

const void *rsio_helper_current_task(void)
{
	return current;
}
EXPORT_SYMBOL_GPL(rsio_helper_current_task);

int rsio_helper_current_pid(void)
{
	return task_tgid_vnr(current);
}
EXPORT_SYMBOL_GPL(rsio_helper_current_pid);

u32 rsio_helper_current_uid(void)
{
	return from_kuid(&init_user_ns, current_uid());
}
EXPORT_SYMBOL_GPL(rsio_helper_current_uid);

bool rsio_helper_capable_admin(void)
{
	return capable(CAP_SYS_ADMIN);
}
EXPORT_SYMBOL_GPL(rsio_helper_capable_admin);

bool rsio_helper_capable_rawio(void)
{
	return capable(CAP_SYS_RAWIO);
}
EXPORT_SYMBOL_GPL(rsio_helper_capable_rawio);

const char *rsio_helper_kernel_release(void)
{
	return init_utsname()->release;
}
EXPORT_SYMBOL_GPL(rsio_helper_kernel_release);

void rsio_helper_nodename(char *buf, size_t len)
{
	/*
	 * uts_sem is not exported: like most readers of the node name, copy
	 * it unlocked (a concurrent sethostname() can only tear the copy; it
	 * stays NUL-terminated).
	 */
	strscpy(buf, init_utsname()->nodename, len);
}
EXPORT_SYMBOL_GPL(rsio_helper_nodename);

u64 rsio_helper_ktime_ns(void)
{
	return ktime_get_ns();
}
EXPORT_SYMBOL_GPL(rsio_helper_ktime_ns);

bool rsio_helper_try_module_get(struct module *module)
{
	return try_module_get(module);
}
EXPORT_SYMBOL_GPL(rsio_helper_try_module_get);

void rsio_helper_module_put(struct module *module)
{
	module_put(module);
}
EXPORT_SYMBOL_GPL(rsio_helper_module_put);

static DEFINE_RATELIMIT_STATE(rsio_err_rs, DEFAULT_RATELIMIT_INTERVAL, DEFAULT_RATELIMIT_BURST);

bool rsio_helper_err_ratelimit(void)
{
	return __ratelimit(&rsio_err_rs);
}
EXPORT_SYMBOL_GPL(rsio_helper_err_ratelimit);
