// SPDX-License-Identifier: GPL-2.0
/* C helpers for rsio_fabric; see helpers.h. */
#include <linux/capability.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/pid.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/utsname.h>
#include "helpers.h"

const char *rsio_helper_kernel_release(void)
{
	return init_utsname()->release;
}

void rsio_helper_nodename(char *buf, size_t len)
{
	/*
	 * uts_sem is not exported: like most readers of the node name, copy
	 * it unlocked (a concurrent sethostname() can only tear the copy; it
	 * stays NUL-terminated).
	 */
	strscpy(buf, init_utsname()->nodename, len);
}

bool rsio_helper_capable_admin(void)
{
	return capable(CAP_SYS_ADMIN);
}

u64 rsio_helper_ktime_ns(void)
{
	return ktime_get_ns();
}

u32 rsio_helper_random_u32(void)
{
	return get_random_u32();
}

int rsio_helper_current_pid(void)
{
	return task_tgid_vnr(current);
}

void *rsio_helper_kthread_run(int (*fn)(void *), void *data, const char *name)
{
	struct task_struct *t = kthread_create(fn, data, "%s", name);

	if (IS_ERR(t))
		return NULL;
	get_task_struct(t);
	wake_up_process(t);
	return t;
}

void rsio_helper_kthread_stop(void *t)
{
	kthread_stop_put(t);
}

bool rsio_helper_kthread_should_stop(void)
{
	return kthread_should_stop();
}
