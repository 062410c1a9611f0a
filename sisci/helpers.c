// SPDX-License-Identifier: GPL-2.0
/* C helpers for rsio_sisci (see helpers.h). */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include "helpers.h"

struct page *rsio_sisci_chunk_alloc(struct device *dev, unsigned int order, u64 *bus)
{
	struct page *page;
	dma_addr_t addr;

	if (order > MAX_PAGE_ORDER)
		return NULL;
	page = alloc_pages(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN | __GFP_NORETRY, order);
	if (!page)
		return NULL;
	addr = dma_map_page(dev, page, 0, PAGE_SIZE << order, DMA_BIDIRECTIONAL);
	if (dma_mapping_error(dev, addr)) {
		__free_pages(page, order);
		return NULL;
	}
	*bus = addr;
	return page;
}

void rsio_sisci_chunk_free(struct device *dev, struct page *page, unsigned int order, u64 bus)
{
	dma_unmap_page(dev, bus, PAGE_SIZE << order, DMA_BIDIRECTIONAL);
	__free_pages(page, order);
}

struct page *rsio_sisci_user_page(struct device *dev, unsigned long uaddr, u64 *bus, int *err)
{
	struct page *page;
	dma_addr_t addr;
	long n;

	n = pin_user_pages_fast(uaddr, 1, FOLL_WRITE | FOLL_LONGTERM, &page);
	if (n != 1) {
		*err = n < 0 ? (int)n : -EFAULT;
		return NULL;
	}
	addr = dma_map_page(dev, page, 0, PAGE_SIZE, DMA_BIDIRECTIONAL);
	if (dma_mapping_error(dev, addr)) {
		unpin_user_page(page);
		*err = -ENOMEM;
		return NULL;
	}
	*bus = addr;
	return page;
}

void rsio_sisci_user_page_put(struct device *dev, struct page *page, u64 bus)
{
	dma_unmap_page(dev, bus, PAGE_SIZE, DMA_BIDIRECTIONAL);
	unpin_user_page(page);
}

static vm_fault_t rsio_sisci_fault(struct vm_fault *vmf)
{
	/* Revoked (zapped) or never mapped: the segment is gone. */
	return VM_FAULT_SIGBUS;
}

static const struct vm_operations_struct rsio_sisci_vm_ops = {
	.fault = rsio_sisci_fault,
};

void rsio_sisci_vma_setup(struct vm_area_struct *vma)
{
	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTCOPY | VM_DONTDUMP);
	vma->vm_ops = &rsio_sisci_vm_ops;
}

int rsio_sisci_vma_map_ram(struct vm_area_struct *vma, unsigned long addr, struct page *page, unsigned long pgoff, unsigned long len)
{
	return remap_pfn_range(vma, addr, page_to_pfn(page) + pgoff, len, vma->vm_page_prot);
}

int rsio_sisci_vma_map_io(struct vm_area_struct *vma, unsigned long addr, u64 phys, unsigned long len, bool wc)
{
	pgprot_t prot = wc ? pgprot_writecombine(vma->vm_page_prot) : pgprot_noncached(vma->vm_page_prot);

	return io_remap_pfn_range(vma, addr, phys >> PAGE_SHIFT, len, prot);
}

struct inode *rsio_sisci_vma_inode(struct vm_area_struct *vma)
{
	struct inode *inode = file_inode(vma->vm_file);

	ihold(inode);
	return inode;
}

void rsio_sisci_zap(struct inode *inode, u64 offset, u64 len)
{
	unmap_mapping_range(inode->i_mapping, offset, len, 1);
}

void rsio_sisci_inode_put(struct inode *inode)
{
	iput(inode);
}

void *rsio_sisci_eventfd_get(int fd)
{
	return eventfd_ctx_fdget(fd);
}

void rsio_sisci_eventfd_signal(void *ctx)
{
	eventfd_signal(ctx);
}

void rsio_sisci_eventfd_put(void *ctx)
{
	eventfd_ctx_put(ctx);
}

long rsio_sisci_ptr_err(const void *p)
{
	return IS_ERR(p) ? PTR_ERR(p) : 0;
}

u32 rsio_sisci_current_uid(void)
{
	return from_kuid(&init_user_ns, current_uid());
}

bool rsio_sisci_capable_admin(void)
{
	return capable(CAP_SYS_ADMIN);
}

int rsio_sisci_current_pid(void)
{
	return task_tgid_vnr(current);
}
