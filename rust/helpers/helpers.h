/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What bindgen reads for rsio_kernel (rust/bindings.rs): the NTB core's
 * API from <linux/ntb.h>, and C helpers for kernel functions that are
 * inline or macros (no symbol Rust could call), exported: generic Rust code
 * of the layer is compiled into the modules that use it. One .c file per subsystem
 * holds their bodies, as the kernel's own rust/helpers/ does. Nothing else
 * belongs here: a helper with logic of its own is written in Rust.
 */
#ifndef RSIO_KERNEL_HELPERS_H
#define RSIO_KERNEL_HELPERS_H

#include <linux/types.h>
#include <linux/ntb.h>
/*
 * Callback tables and structures the kernel crate only knows by name
 * (rust/pci_host/: struct dma_map_ops, msi_parent_ops, msi_domain_info,
 * msi_msg), bound here with msi_create_parent_irq_domain().
 */
#include <linux/dma-map-ops.h>
#include <linux/msi.h>

struct device;
struct blk_mq_tag_set;
struct gendisk;
struct request;
struct scatterlist;
struct inode;
struct module;
struct page;
struct pci_dev;
struct task_struct;
struct vm_area_struct;

/* task.c: the current task, its credentials, the system it runs on. */
const void *rsio_helper_current_task(void);
int rsio_helper_current_pid(void);
u32 rsio_helper_current_uid(void);
bool rsio_helper_capable_admin(void);
bool rsio_helper_capable_rawio(void);
const char *rsio_helper_kernel_release(void);
void rsio_helper_nodename(char *buf, size_t len);
u64 rsio_helper_ktime_ns(void);
bool rsio_helper_try_module_get(struct module *module);
void rsio_helper_module_put(struct module *module);
/* __ratelimit() of one state shared by every caller (printk_ratelimit()'s defaults). */
bool rsio_helper_err_ratelimit(void);

/* blk.c: blk-mq's inline request and disk accessors. */
u64 rsio_helper_blk_rq_pos(struct request *rq);
u32 rsio_helper_blk_rq_bytes(struct request *rq);
/* req_op(): REQ_OP_*. */
u32 rsio_helper_blk_rq_op(struct request *rq);
bool rsio_helper_blk_rq_fua(struct request *rq);
void *rsio_helper_blk_rq_pdu(struct request *rq);
bool rsio_helper_blk_rq_in_flight(struct request *rq);
/* The request of tag on hardware queue hwq of set (NULL: none, or out of range). */
struct request *rsio_helper_blk_tag_to_rq(struct blk_mq_tag_set *set, u32 hwq, u32 tag);
/* blk_rq_map_sg() into sg[nents] (-EINVAL: more segments than nents). */
int rsio_helper_blk_rq_map(struct request *rq, struct scatterlist *sg, u32 nents);
void rsio_helper_sg_entry(struct scatterlist *sg, u32 i, u64 *phys, u32 *len);
u32 rsio_helper_sg_size(void);
/* BLK_FEAT_WRITE_CACHE, BLK_FEAT_FUA. */
u32 rsio_helper_blk_features(bool write_cache, bool fua);
u32 rsio_helper_disk_openers(struct gendisk *disk);

/* kthread.c: kthread_run() with a task reference; kthread_stop_put(). */
struct task_struct *rsio_helper_kthread_run(int (*fn)(void *), void *data, const char *name);
void rsio_helper_kthread_stop(struct task_struct *t);

/* mm.c: DMA-mapped pages, PFN mappings into user space, mapping zaps. */
struct page *rsio_helper_dma_pages_alloc(struct device *dev, unsigned int order, u64 *bus);
void rsio_helper_dma_pages_free(struct device *dev, struct page *page, unsigned int order, u64 bus);
u64 rsio_helper_page_phys(struct page *page);
struct page *rsio_helper_dma_user_page(struct device *dev, unsigned long uaddr, u64 *bus, int *err);
void rsio_helper_dma_user_page_put(struct device *dev, struct page *page, u64 bus);
/* VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTCOPY | VM_DONTDUMP; faults raise SIGBUS. */
void rsio_helper_vma_setup_pfnmap(struct vm_area_struct *vma);
int rsio_helper_vma_map_pages(struct vm_area_struct *vma, unsigned long addr, struct page *page,
			      unsigned long pgoff, unsigned long len);
int rsio_helper_vma_map_io(struct vm_area_struct *vma, unsigned long addr, u64 phys, unsigned long len,
			   bool wc);
/* The inode of the vma's file, referenced (ihold). */
struct inode *rsio_helper_vma_inode(struct vm_area_struct *vma);
void rsio_helper_inode_zap(struct inode *inode, u64 offset, u64 len);
/* Zeroed pages of the direct map and their physical address (NULL: none). */
void *rsio_helper_phys_pages_alloc(unsigned int order, u64 *phys);
/* alloc_pages(gfp): page_address() and page_to_phys() of the pages (NULL: none). */
void *rsio_helper_pages_alloc(gfp_t gfp, unsigned int order, u64 *phys);
void rsio_helper_phys_pages_free(void *virt, unsigned int order);
/* dma_map_resource() (bidirectional) of MMIO [phys, phys + len) for dev: its bus address (-ENOMEM). */
int rsio_helper_dma_map_resource(struct device *dev, u64 phys, u64 len, u64 *bus);
void rsio_helper_dma_unmap_resource(struct device *dev, u64 bus, u64 len);
/* dma_set_mask_and_coherent(dev, DMA_BIT_MASK(bits)). */
int rsio_helper_dma_set_mask(struct device *dev, unsigned int bits);

/* eventfd.c: eventfd_ctx_fdget() as NULL + errno; eventfd_signal(). */
void *rsio_helper_eventfd_get(int fd, int *err);
void rsio_helper_eventfd_signal(void *ctx);

/* pci.c */
unsigned long rsio_helper_pci_resource_flags(struct pci_dev *pdev, int bar);
u64 rsio_helper_pci_bus_address(struct pci_dev *pdev, int bar);
int rsio_helper_pci_domain_nr(struct pci_dev *pdev);
/* pci_dev_get() (returns its argument). */
struct pci_dev *rsio_helper_pci_dev_get(struct pci_dev *pdev);

/* device.c: device_lock()/device_unlock(); what a class device is doing. */
void rsio_helper_device_lock(struct device *dev);
void rsio_helper_device_unlock(struct device *dev);
int rsio_helper_dev_to_node(struct device *dev);
/* A "block" class device: its block device is open or has a holder (mounted). */
bool rsio_helper_block_device_busy(struct device *dev);
/* A "net" class device: its interface is up (IFF_UP). */
bool rsio_helper_net_device_up(struct device *dev);

/*
 * ntb.c: the inline wrappers of <linux/ntb.h> as functions. Each takes a
 * probed ntb_dev.
 */
bool rsio_helper_ntb_ops_is_valid(const struct ntb_dev_ops *ops);
int rsio_helper_ntb_set_ctx(struct ntb_dev *ntb, void *ctx, const struct ntb_ctx_ops *ctx_ops);
int rsio_helper_ntb_port_number(struct ntb_dev *ntb);
int rsio_helper_ntb_peer_port_count(struct ntb_dev *ntb);
int rsio_helper_ntb_peer_port_number(struct ntb_dev *ntb, int pidx);
int rsio_helper_ntb_peer_port_idx(struct ntb_dev *ntb, int port);
/* ntb_link_is_up() without speed and width: bit pidx = link to peer pidx. */
u64 rsio_helper_ntb_link_is_up(struct ntb_dev *ntb);
/* ntb_link_enable(ntb, NTB_SPEED_AUTO, NTB_WIDTH_AUTO). */
int rsio_helper_ntb_link_enable(struct ntb_dev *ntb);
int rsio_helper_ntb_link_disable(struct ntb_dev *ntb);
int rsio_helper_ntb_mw_count(struct ntb_dev *ntb, int pidx);
int rsio_helper_ntb_mw_get_align(struct ntb_dev *ntb, int pidx, int widx, resource_size_t *addr_align,
				 resource_size_t *size_align, resource_size_t *size_max);
int rsio_helper_ntb_mw_set_trans(struct ntb_dev *ntb, int pidx, int widx, dma_addr_t addr,
				 resource_size_t size);
int rsio_helper_ntb_mw_clear_trans(struct ntb_dev *ntb, int pidx, int widx);
int rsio_helper_ntb_peer_mw_count(struct ntb_dev *ntb);
int rsio_helper_ntb_peer_mw_get_addr(struct ntb_dev *ntb, int widx, phys_addr_t *base, resource_size_t *size);
int rsio_helper_ntb_peer_mw_set_trans(struct ntb_dev *ntb, int pidx, int widx, u64 addr, resource_size_t size);
int rsio_helper_ntb_peer_mw_clear_trans(struct ntb_dev *ntb, int pidx, int widx);
u64 rsio_helper_ntb_db_valid_mask(struct ntb_dev *ntb);
u64 rsio_helper_ntb_db_read(struct ntb_dev *ntb);
int rsio_helper_ntb_db_clear(struct ntb_dev *ntb, u64 db_bits);
int rsio_helper_ntb_db_set_mask(struct ntb_dev *ntb, u64 db_bits);
int rsio_helper_ntb_db_clear_mask(struct ntb_dev *ntb, u64 db_bits);
int rsio_helper_ntb_peer_db_set(struct ntb_dev *ntb, u64 db_bits);

#endif
