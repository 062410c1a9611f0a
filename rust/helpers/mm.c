// SPDX-License-Identifier: GPL-2.0
/* DMA-mapped pages and PFN mappings into user space (helpers.h). */
#include <linux/export.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include "helpers.h"

struct page *rsio_helper_dma_pages_alloc(struct device *dev, unsigned int order, u64 *bus)
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
EXPORT_SYMBOL_GPL(rsio_helper_dma_pages_alloc);

void rsio_helper_dma_pages_free(struct device *dev, struct page *page, unsigned int order, u64 bus)
{
	dma_unmap_page(dev, bus, PAGE_SIZE << order, DMA_BIDIRECTIONAL);
	__free_pages(page, order);
}
EXPORT_SYMBOL_GPL(rsio_helper_dma_pages_free);

u64 rsio_helper_page_phys(struct page *page)
{
	return page_to_phys(page);
}
EXPORT_SYMBOL_GPL(rsio_helper_page_phys);

struct page *rsio_helper_dma_user_page(struct device *dev, unsigned long uaddr, u64 *bus, int *err)
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
EXPORT_SYMBOL_GPL(rsio_helper_dma_user_page);

void rsio_helper_dma_user_page_put(struct device *dev, struct page *page, u64 bus)
{
	dma_unmap_page(dev, bus, PAGE_SIZE, DMA_BIDIRECTIONAL);
	unpin_user_page(page);
}
EXPORT_SYMBOL_GPL(rsio_helper_dma_user_page_put);

static vm_fault_t rsio_helper_sigbus_fault(struct vm_fault *vmf)
{
	/* Revoked (zapped) or never mapped: what was mapped is gone. */
	return VM_FAULT_SIGBUS;
}

static const struct vm_operations_struct rsio_helper_pfnmap_ops = {
	.fault = rsio_helper_sigbus_fault,
};

void rsio_helper_vma_setup_pfnmap(struct vm_area_struct *vma)
{
	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTCOPY | VM_DONTDUMP);
	vma->vm_ops = &rsio_helper_pfnmap_ops;
}
EXPORT_SYMBOL_GPL(rsio_helper_vma_setup_pfnmap);

int rsio_helper_vma_map_pages(struct vm_area_struct *vma, unsigned long addr, struct page *page,
			      unsigned long pgoff, unsigned long len)
{
	return remap_pfn_range(vma, addr, page_to_pfn(page) + pgoff, len, vma->vm_page_prot);
}
EXPORT_SYMBOL_GPL(rsio_helper_vma_map_pages);

int rsio_helper_vma_map_io(struct vm_area_struct *vma, unsigned long addr, u64 phys, unsigned long len,
			   bool wc)
{
	pgprot_t prot = wc ? pgprot_writecombine(vma->vm_page_prot) : pgprot_noncached(vma->vm_page_prot);

	return io_remap_pfn_range(vma, addr, phys >> PAGE_SHIFT, len, prot);
}
EXPORT_SYMBOL_GPL(rsio_helper_vma_map_io);

struct inode *rsio_helper_vma_inode(struct vm_area_struct *vma)
{
	struct inode *inode = file_inode(vma->vm_file);

	ihold(inode);
	return inode;
}
EXPORT_SYMBOL_GPL(rsio_helper_vma_inode);

void rsio_helper_inode_zap(struct inode *inode, u64 offset, u64 len)
{
	unmap_mapping_range(inode->i_mapping, offset, len, 1);
}
EXPORT_SYMBOL_GPL(rsio_helper_inode_zap);

void *rsio_helper_phys_pages_alloc(unsigned int order, u64 *phys)
{
	unsigned long addr;

	if (order > MAX_PAGE_ORDER)
		return NULL;
	addr = __get_free_pages(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN, order);
	if (!addr)
		return NULL;
	*phys = virt_to_phys((void *)addr);
	return (void *)addr;
}
EXPORT_SYMBOL_GPL(rsio_helper_phys_pages_alloc);

void rsio_helper_phys_pages_free(void *virt, unsigned int order)
{
	free_pages((unsigned long)virt, order);
}
EXPORT_SYMBOL_GPL(rsio_helper_phys_pages_free);

void *rsio_helper_pages_alloc(gfp_t gfp, unsigned int order, u64 *phys)
{
	struct page *page = alloc_pages(gfp, order);

	if (!page)
		return NULL;
	*phys = page_to_phys(page);
	return page_address(page);
}
EXPORT_SYMBOL_GPL(rsio_helper_pages_alloc);

int rsio_helper_dma_map_resource(struct device *dev, u64 phys, u64 len, u64 *bus)
{
	dma_addr_t addr = dma_map_resource(dev, phys, len, DMA_BIDIRECTIONAL, 0);

	if (dma_mapping_error(dev, addr))
		return -ENOMEM;
	*bus = addr;
	return 0;
}
EXPORT_SYMBOL_GPL(rsio_helper_dma_map_resource);

void rsio_helper_dma_unmap_resource(struct device *dev, u64 bus, u64 len)
{
	dma_unmap_resource(dev, bus, len, DMA_BIDIRECTIONAL, 0);
}
EXPORT_SYMBOL_GPL(rsio_helper_dma_unmap_resource);

int rsio_helper_dma_set_mask(struct device *dev, unsigned int bits)
{
	return dma_set_mask_and_coherent(dev, DMA_BIT_MASK(bits));
}
EXPORT_SYMBOL_GPL(rsio_helper_dma_set_mask);
