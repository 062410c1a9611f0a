// SPDX-License-Identifier: GPL-2.0
/* Block layer: blk-mq's inline accessors of requests and disks (helpers.h). */
#include <linux/export.h>
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/scatterlist.h>
#include "helpers.h"

u64 rsio_helper_blk_rq_pos(struct request *rq)
{
	return blk_rq_pos(rq);
}
EXPORT_SYMBOL_GPL(rsio_helper_blk_rq_pos);

u32 rsio_helper_blk_rq_bytes(struct request *rq)
{
	return blk_rq_bytes(rq);
}
EXPORT_SYMBOL_GPL(rsio_helper_blk_rq_bytes);

u32 rsio_helper_blk_rq_op(struct request *rq)
{
	return req_op(rq);
}
EXPORT_SYMBOL_GPL(rsio_helper_blk_rq_op);

bool rsio_helper_blk_rq_fua(struct request *rq)
{
	return rq->cmd_flags & REQ_FUA;
}
EXPORT_SYMBOL_GPL(rsio_helper_blk_rq_fua);

void *rsio_helper_blk_rq_pdu(struct request *rq)
{
	return blk_mq_rq_to_pdu(rq);
}
EXPORT_SYMBOL_GPL(rsio_helper_blk_rq_pdu);

bool rsio_helper_blk_rq_in_flight(struct request *rq)
{
	return blk_mq_rq_state(rq) == MQ_RQ_IN_FLIGHT;
}
EXPORT_SYMBOL_GPL(rsio_helper_blk_rq_in_flight);

struct request *rsio_helper_blk_tag_to_rq(struct blk_mq_tag_set *set, u32 hwq, u32 tag)
{
	if (hwq >= set->nr_hw_queues || !set->tags || !set->tags[hwq])
		return NULL;
	return blk_mq_tag_to_rq(set->tags[hwq], tag);
}
EXPORT_SYMBOL_GPL(rsio_helper_blk_tag_to_rq);

int rsio_helper_blk_rq_map(struct request *rq, struct scatterlist *sg, u32 nents)
{
	if (blk_rq_nr_phys_segments(rq) > nents)
		return -EINVAL;
	sg_init_table(sg, nents);
	return blk_rq_map_sg(rq, sg);
}
EXPORT_SYMBOL_GPL(rsio_helper_blk_rq_map);

void rsio_helper_sg_entry(struct scatterlist *sg, u32 i, u64 *phys, u32 *len)
{
	*phys = sg_phys(&sg[i]);
	*len = sg[i].length;
}
EXPORT_SYMBOL_GPL(rsio_helper_sg_entry);

u32 rsio_helper_blk_features(bool write_cache, bool fua)
{
	return (write_cache ? BLK_FEAT_WRITE_CACHE : 0) | (fua ? BLK_FEAT_FUA : 0);
}
EXPORT_SYMBOL_GPL(rsio_helper_blk_features);

u32 rsio_helper_disk_openers(struct gendisk *disk)
{
	return disk_openers(disk);
}
EXPORT_SYMBOL_GPL(rsio_helper_disk_openers);

u32 rsio_helper_sg_size(void)
{
	return sizeof(struct scatterlist);
}
EXPORT_SYMBOL_GPL(rsio_helper_sg_size);
