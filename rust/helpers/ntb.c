// SPDX-License-Identifier: GPL-2.0
/* <linux/ntb.h>'s inline functions as symbols (helpers.h); used by rust/ntb/. */
#include <linux/export.h>
#include <linux/module.h>
#include <linux/ntb.h>
#include "helpers.h"

bool rsio_helper_ntb_ops_is_valid(const struct ntb_dev_ops *ops)
{
	return ntb_dev_ops_is_valid(ops);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_ops_is_valid);

int rsio_helper_ntb_set_ctx(struct ntb_dev *ntb, void *ctx, const struct ntb_ctx_ops *ctx_ops)
{
	return ntb_set_ctx(ntb, ctx, ctx_ops);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_set_ctx);

int rsio_helper_ntb_port_number(struct ntb_dev *ntb)
{
	return ntb_port_number(ntb);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_port_number);

int rsio_helper_ntb_peer_port_count(struct ntb_dev *ntb)
{
	return ntb_peer_port_count(ntb);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_peer_port_count);

int rsio_helper_ntb_peer_port_number(struct ntb_dev *ntb, int pidx)
{
	return ntb_peer_port_number(ntb, pidx);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_peer_port_number);

int rsio_helper_ntb_peer_port_idx(struct ntb_dev *ntb, int port)
{
	return ntb_peer_port_idx(ntb, port);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_peer_port_idx);

u64 rsio_helper_ntb_link_is_up(struct ntb_dev *ntb)
{
	return ntb_link_is_up(ntb, NULL, NULL);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_link_is_up);

int rsio_helper_ntb_link_enable(struct ntb_dev *ntb)
{
	return ntb_link_enable(ntb, NTB_SPEED_AUTO, NTB_WIDTH_AUTO);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_link_enable);

int rsio_helper_ntb_link_disable(struct ntb_dev *ntb)
{
	return ntb_link_disable(ntb);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_link_disable);

int rsio_helper_ntb_mw_count(struct ntb_dev *ntb, int pidx)
{
	return ntb_mw_count(ntb, pidx);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_mw_count);

int rsio_helper_ntb_mw_get_align(struct ntb_dev *ntb, int pidx, int widx, resource_size_t *addr_align,
				 resource_size_t *size_align, resource_size_t *size_max)
{
	return ntb_mw_get_align(ntb, pidx, widx, addr_align, size_align, size_max);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_mw_get_align);

int rsio_helper_ntb_mw_set_trans(struct ntb_dev *ntb, int pidx, int widx, dma_addr_t addr,
				 resource_size_t size)
{
	return ntb_mw_set_trans(ntb, pidx, widx, addr, size);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_mw_set_trans);

int rsio_helper_ntb_mw_clear_trans(struct ntb_dev *ntb, int pidx, int widx)
{
	return ntb_mw_clear_trans(ntb, pidx, widx);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_mw_clear_trans);

int rsio_helper_ntb_peer_mw_count(struct ntb_dev *ntb)
{
	return ntb_peer_mw_count(ntb);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_peer_mw_count);

int rsio_helper_ntb_peer_mw_get_addr(struct ntb_dev *ntb, int widx, phys_addr_t *base, resource_size_t *size)
{
	return ntb_peer_mw_get_addr(ntb, widx, base, size);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_peer_mw_get_addr);

int rsio_helper_ntb_peer_mw_set_trans(struct ntb_dev *ntb, int pidx, int widx, u64 addr, resource_size_t size)
{
	return ntb_peer_mw_set_trans(ntb, pidx, widx, addr, size);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_peer_mw_set_trans);

int rsio_helper_ntb_peer_mw_clear_trans(struct ntb_dev *ntb, int pidx, int widx)
{
	return ntb_peer_mw_clear_trans(ntb, pidx, widx);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_peer_mw_clear_trans);

u64 rsio_helper_ntb_db_valid_mask(struct ntb_dev *ntb)
{
	return ntb_db_valid_mask(ntb);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_db_valid_mask);

u64 rsio_helper_ntb_db_read(struct ntb_dev *ntb)
{
	return ntb_db_read(ntb);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_db_read);

int rsio_helper_ntb_db_clear(struct ntb_dev *ntb, u64 db_bits)
{
	return ntb_db_clear(ntb, db_bits);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_db_clear);

int rsio_helper_ntb_db_set_mask(struct ntb_dev *ntb, u64 db_bits)
{
	return ntb_db_set_mask(ntb, db_bits);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_db_set_mask);

int rsio_helper_ntb_db_clear_mask(struct ntb_dev *ntb, u64 db_bits)
{
	return ntb_db_clear_mask(ntb, db_bits);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_db_clear_mask);

int rsio_helper_ntb_peer_db_set(struct ntb_dev *ntb, u64 db_bits)
{
	return ntb_peer_db_set(ntb, db_bits);
}
EXPORT_SYMBOL_GPL(rsio_helper_ntb_peer_db_set);
