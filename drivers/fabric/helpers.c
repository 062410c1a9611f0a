// SPDX-License-Identifier: GPL-2.0
/* C helpers for rsio_fabric; see helpers.h. */
#include <linux/capability.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/pci.h>
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

const void *rsio_helper_current_task(void)
{
	return current;
}

bool rsio_helper_try_module_get(void *module)
{
	return try_module_get(module);
}

void rsio_helper_module_put(void *module)
{
	module_put(module);
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

/* The generic NTB path; see helpers.h. */

int rsio_helper_ntb_register_client(void *client)
{
	return ntb_register_client(client);
}

void rsio_helper_ntb_unregister_client(void *client)
{
	ntb_unregister_client(client);
}

int rsio_helper_ntb_set_ctx(void *ntb, void *ctx,
			    const struct ntb_ctx_ops *ctx_ops)
{
	return ntb_set_ctx(ntb, ctx, ctx_ops);
}

void rsio_helper_ntb_clear_ctx(void *ntb)
{
	ntb_clear_ctx(ntb);
}

void *rsio_helper_ntb_device(void *ntb)
{
	return &((struct ntb_dev *)ntb)->dev;
}

void *rsio_helper_ntb_pci_device(void *ntb)
{
	return &((struct ntb_dev *)ntb)->pdev->dev;
}

int rsio_helper_ntb_port_number(void *ntb)
{
	return ntb_port_number(ntb);
}

int rsio_helper_ntb_peer_port_count(void *ntb)
{
	return ntb_peer_port_count(ntb);
}

int rsio_helper_ntb_peer_port_number(void *ntb, int pidx)
{
	return ntb_peer_port_number(ntb, pidx);
}

int rsio_helper_ntb_peer_port_idx(void *ntb, int port)
{
	return ntb_peer_port_idx(ntb, port);
}

u64 rsio_helper_ntb_link_is_up(void *ntb)
{
	return ntb_link_is_up(ntb, NULL, NULL);
}

int rsio_helper_ntb_link_enable(void *ntb)
{
	return ntb_link_enable(ntb, NTB_SPEED_AUTO, NTB_WIDTH_AUTO);
}

int rsio_helper_ntb_link_disable(void *ntb)
{
	return ntb_link_disable(ntb);
}

int rsio_helper_ntb_mw_count(void *ntb, int pidx)
{
	return ntb_mw_count(ntb, pidx);
}

int rsio_helper_ntb_mw_get_align(void *ntb, int pidx, int widx,
				 resource_size_t *addr_align,
				 resource_size_t *size_align,
				 resource_size_t *size_max)
{
	return ntb_mw_get_align(ntb, pidx, widx, addr_align, size_align,
				size_max);
}

int rsio_helper_ntb_mw_set_trans(void *ntb, int pidx, int widx,
				 dma_addr_t addr, resource_size_t size)
{
	return ntb_mw_set_trans(ntb, pidx, widx, addr, size);
}

int rsio_helper_ntb_mw_clear_trans(void *ntb, int pidx, int widx)
{
	return ntb_mw_clear_trans(ntb, pidx, widx);
}

int rsio_helper_ntb_peer_mw_count(void *ntb)
{
	return ntb_peer_mw_count(ntb);
}

int rsio_helper_ntb_peer_mw_get_addr(void *ntb, int widx,
				     phys_addr_t *base, resource_size_t *size)
{
	return ntb_peer_mw_get_addr(ntb, widx, base, size);
}

bool rsio_helper_ntb_has_peer_mw_set_trans(void *ntb)
{
	return ((struct ntb_dev *)ntb)->ops->peer_mw_set_trans != NULL;
}

int rsio_helper_ntb_peer_mw_set_trans(void *ntb, int pidx, int widx,
				      u64 addr, resource_size_t size)
{
	return ntb_peer_mw_set_trans(ntb, pidx, widx, addr, size);
}

int rsio_helper_ntb_peer_mw_clear_trans(void *ntb, int pidx,
					int widx)
{
	return ntb_peer_mw_clear_trans(ntb, pidx, widx);
}

u64 rsio_helper_ntb_db_valid_mask(void *ntb)
{
	return ntb_db_valid_mask(ntb);
}

u64 rsio_helper_ntb_db_read(void *ntb)
{
	return ntb_db_read(ntb);
}

int rsio_helper_ntb_db_clear(void *ntb, u64 db_bits)
{
	return ntb_db_clear(ntb, db_bits);
}

int rsio_helper_ntb_db_set_mask(void *ntb, u64 db_bits)
{
	return ntb_db_set_mask(ntb, db_bits);
}

int rsio_helper_ntb_db_clear_mask(void *ntb, u64 db_bits)
{
	return ntb_db_clear_mask(ntb, db_bits);
}

int rsio_helper_ntb_peer_db_set(void *ntb, u64 db_bits)
{
	return ntb_peer_db_set(ntb, db_bits);
}
