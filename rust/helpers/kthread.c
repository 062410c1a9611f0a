// SPDX-License-Identifier: GPL-2.0
/* kthread_run() (a macro) with a task reference (helpers.h). */
#include <linux/export.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/sched/task.h>
#include "helpers.h"

struct task_struct *rsio_helper_kthread_run(int (*fn)(void *), void *data, const char *name)
{
	struct task_struct *t = kthread_create(fn, data, "%s", name);

	if (IS_ERR(t))
		return NULL;
	get_task_struct(t);
	wake_up_process(t);
	return t;
}
EXPORT_SYMBOL_GPL(rsio_helper_kthread_run);

void rsio_helper_kthread_stop(struct task_struct *t)
{
	kthread_stop_put(t);
}
EXPORT_SYMBOL_GPL(rsio_helper_kthread_stop);
