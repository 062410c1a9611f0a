/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sisci-physmem: device memory as a SISCI segment (SCIAttachPhysicalMemory).
 *
 *   owner: sisci-physmem -owner -bdf 0000:00:05.0 [-bar 2] [-id 77] [-peers n]
 *   peer:  sisci-physmem -peer -rn <owner's node id> [-id 77] [-slot k]
 *   (both: [-dma-len bytes], at most 256 KiB, the peers' DMA copies)
 *
 * The owner (root: the call needs CAP_SYS_RAWIO) reads the BAR's bus
 * address from sysfs, gives it to an empty segment, writes a pattern into
 * its first 16 KiB and makes it available. Each peer maps the segment,
 * checks the pattern with CPU reads, writes its slot with CPU stores,
 * copies 256 KiB into the device memory and back out with the adapter's
 * DMA engine, checks the copy and raises its done flag. The owner checks
 * what every peer wrote, then copies out of the device memory into a
 * segment of its own RAM with the DMA engine (a connection to itself) and
 * checks that. A window of device memory on the owner's bus is what a GPU
 * or FPGA buffer would be; here it is QEMU's ivshmem BAR.
 *
 * Layout: [0, 16K) the owner's pattern; 64K + 64 k: slot k's done flag;
 * 1M + 128K k: slot k's 8 KiB of CPU stores; 2M + 256K k: slot k's 256
 * KiB of DMA. At least 4 MiB of device memory, slots 0..7. CPU accesses
 * through the fabric are trapped one by one on the emulated fabric (about
 * 60 us each), so the CPU-checked areas are kept small.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sisci_api.h"
#include "sisci_error.h"

#define PATTERN_LEN (16u << 10)
#define FLAGS_AT (64u << 10)
#define PIO_AT(k) ((1u << 20) + (k) * (128u << 10))
#define PIO_LEN (8u << 10)
#define DMA_AT(k) ((2u << 20) + (k) * (256u << 10))
#define DMA_LEN (256u << 10)
#define MIN_SIZE (4u << 20)
#define MAX_SLOTS 8u

/* Bytes each peer copies with the DMA engine (-dma-len, at most DMA_LEN). */
static size_t dma_len = DMA_LEN;

static void check(const char *what, sci_error_t err)
{
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "%s failed: %s (0x%x)\n", what,
			SCIGetErrorString(err), err);
		exit(1);
	}
}

static uint32_t pat(size_t i, uint32_t salt)
{
	return (uint32_t)(i * 2654435761u) ^ salt;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Words of [at, at + len) of mem that differ from pat(., salt). */
static size_t verify(volatile uint32_t *mem, size_t at, size_t len,
		     uint32_t salt)
{
	size_t i, bad = 0;

	for (i = 0; i < len / 4; i++)
		if (mem[at / 4 + i] != pat(i, salt))
			bad++;
	return bad;
}

static void fill(volatile uint32_t *mem, size_t at, size_t len, uint32_t salt)
{
	size_t i;

	for (i = 0; i < len / 4; i++)
		mem[at / 4 + i] = pat(i, salt);
}

/* The bus address and size of BAR bar of function bdf (sysfs; on this
 * platform the resource addresses are bus addresses). */
static void bar_of(const char *bdf, unsigned int bar, uint64_t *start,
		   uint64_t *size)
{
	char path[256], line[256];
	unsigned long long s, e, f;
	unsigned int i;
	FILE *fp;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	fp = fopen(path, "r");
	if (!fp) {
		perror(path);
		exit(1);
	}
	for (i = 0; i <= bar; i++) {
		if (!fgets(line, sizeof(line), fp)) {
			fprintf(stderr, "%s: no BAR %u\n", bdf, bar);
			exit(1);
		}
	}
	fclose(fp);
	if (sscanf(line, "%llx %llx %llx", &s, &e, &f) != 3 || s == 0) {
		fprintf(stderr, "%s: BAR %u unassigned\n", bdf, bar);
		exit(1);
	}
	*start = s;
	*size = e - s + 1;
}

/* The owner's checks of what the call refuses. */
static void refusals(sci_desc_t sd, unsigned int id, uint64_t bus)
{
	sci_local_segment_t seg;
	sci_error_t err;

	SCICreateSegment(sd, &seg, id, MIN_SIZE, NULL, NULL, SCI_FLAG_EMPTY,
			 &err);
	check("SCICreateSegment(EMPTY)", err);
	SCIAttachPhysicalMemory(bus, NULL, 0, MIN_SIZE, seg,
				SCI_FLAG_CUDA_BUFFER, &err);
	printf("cuda buffer: %s\n", SCIGetErrorString(err));
	/* Page 16 of RAM: no BAR holds it. */
	SCIAttachPhysicalMemory(0x10000, NULL, 0, MIN_SIZE, seg, 0, &err);
	printf("ram address: %s\n", SCIGetErrorString(err));
	SCIAttachPhysicalMemory(bus + 1, NULL, 0, MIN_SIZE, seg, 0, &err);
	printf("unaligned address: %s\n", SCIGetErrorString(err));
	SCIPrepareSegment(seg, 0, 0, &err);
	printf("prepare before attach: %s\n", SCIGetErrorString(err));
	SCIRemoveSegment(seg, 0, &err);
	check("SCIRemoveSegment", err);
}

/* Copies the first 16 KiB of dev out with the DMA engine into a RAM
 * segment of this node, through a connection to itself, and checks it. */
static void dma_out(sci_desc_t sd, sci_local_segment_t dev, unsigned int id)
{
	sci_local_segment_t ram;
	sci_remote_segment_t self;
	sci_dma_queue_t dq;
	sci_map_t map;
	sci_error_t err;
	unsigned int me;
	volatile uint32_t *mem;
	size_t bad;

	SCIGetLocalNodeId(0, &me, 0, &err);
	check("SCIGetLocalNodeId", err);
	SCICreateSegment(sd, &ram, id, PATTERN_LEN, NULL, NULL, 0, &err);
	check("SCICreateSegment(ram)", err);
	SCIPrepareSegment(ram, 0, 0, &err);
	check("SCIPrepareSegment(ram)", err);
	SCISetSegmentAvailable(ram, 0, 0, &err);
	check("SCISetSegmentAvailable(ram)", err);
	mem = SCIMapLocalSegment(ram, &map, 0, PATTERN_LEN, NULL, 0, &err);
	check("SCIMapLocalSegment(ram)", err);
	SCIConnectSegment(sd, &self, me, id, 0, NULL, NULL, 5000, 0, &err);
	check("SCIConnectSegment(self)", err);
	SCICreateDMAQueue(sd, &dq, 0, 1, 0, &err);
	check("SCICreateDMAQueue", err);
	SCIStartDmaTransfer(dq, dev, self, 0, PATTERN_LEN, 0, NULL, NULL, 0,
			    &err);
	check("SCIStartDmaTransfer(out of device memory)", err);
	SCIWaitForDMAQueue(dq, 10000, 0, &err);
	check("SCIWaitForDMAQueue", err);
	bad = verify(mem, 0, PATTERN_LEN, 0xA11CE);
	printf("dma out of device memory: %zu bad words\n", bad);
	SCIRemoveDMAQueue(dq, 0, &err);
	SCIDisconnectSegment(self, 0, &err);
	SCIUnmapSegment(map, 0, &err);
	SCIRemoveSegment(ram, 0, &err);
	if (bad)
		exit(1);
}

static int owner(const char *bdf, unsigned int bar, unsigned int id,
		 unsigned int peers)
{
	sci_desc_t sd;
	sci_local_segment_t seg;
	sci_query_local_segment_t q;
	sci_map_t map;
	sci_error_t err;
	volatile uint32_t *mem;
	uint64_t bus, size;
	unsigned int k, done = 0;
	double end;
	size_t bad;

	bar_of(bdf, bar, &bus, &size);
	if (size < MIN_SIZE) {
		fprintf(stderr, "BAR %u of %s: %" PRIu64 " bytes, need %u\n",
			bar, bdf, size, MIN_SIZE);
		return 1;
	}
	size = MIN_SIZE;
	SCIOpen(&sd, 0, &err);
	check("SCIOpen", err);
	refusals(sd, id, bus);

	SCICreateSegment(sd, &seg, id, size, NULL, NULL, SCI_FLAG_EMPTY, &err);
	check("SCICreateSegment(EMPTY)", err);
	SCIAttachPhysicalMemory(bus, NULL, 0, size, seg, 0, &err);
	check("SCIAttachPhysicalMemory", err);
	q.segment = seg;
	q.subcommand = SCI_Q_LOCAL_SEGMENT_IOADDR;
	SCIQuery(SCI_Q_LOCAL_SEGMENT, &q, 0, &err);
	check("SCIQuery(IOADDR)", err);
	printf("attached %" PRIu64 " KiB of %s BAR %u, ioaddr %s\n",
	       size >> 10, bdf, bar, q.data.ioaddr == bus ? "matches" : "differs");
	SCIPrepareSegment(seg, 0, 0, &err);
	check("SCIPrepareSegment", err);
	mem = SCIMapLocalSegment(seg, &map, 0, size, NULL, 0, &err);
	check("SCIMapLocalSegment", err);
	memset((void *)mem, 0, size);
	fill(mem, 0, PATTERN_LEN, 0xA11CE);
	SCISetSegmentAvailable(seg, 0, 0, &err);
	check("SCISetSegmentAvailable", err);
	printf("available\n");
	fflush(stdout);

	end = now_s() + 180;
	while (done != (1u << peers) - 1 && now_s() < end) {
		for (k = 0; k < peers; k++) {
			if (done & (1u << k) || mem[(FLAGS_AT + 64 * k) / 4] != 1)
				continue;
			bad = verify(mem, PIO_AT(k), PIO_LEN, 0x100 + k) +
			      verify(mem, DMA_AT(k), dma_len, 0x200 + k);
			printf("slot %u: %zu bad words\n", k, bad);
			fflush(stdout);
			if (bad)
				return 1;
			done |= 1u << k;
		}
		usleep(10000);
	}
	if (done != (1u << peers) - 1) {
		fprintf(stderr, "peers done: 0x%x of 0x%x\n", done,
			(1u << peers) - 1);
		return 1;
	}
	dma_out(sd, seg, id + 1);
	SCIUnmapSegment(map, 0, &err);
	check("SCIUnmapSegment", err);
	SCIRemoveSegment(seg, 0, &err);
	check("SCIRemoveSegment", err);
	SCIClose(sd, 0, &err);
	printf("owner done\n");
	return 0;
}

/* Into the device memory and back out with the DMA engine. */
static size_t peer_dma(sci_desc_t sd, sci_remote_segment_t rseg, unsigned int k)
{
	sci_local_segment_t loc;
	sci_dma_queue_t dq;
	sci_map_t map;
	sci_error_t err;
	volatile uint32_t *mem;
	size_t bad;

	SCICreateSegment(sd, &loc, 0, 2 * DMA_LEN, NULL, NULL, SCI_FLAG_AUTO_ID,
			 &err);
	check("SCICreateSegment(local)", err);
	SCIPrepareSegment(loc, 0, 0, &err);
	check("SCIPrepareSegment(local)", err);
	mem = SCIMapLocalSegment(loc, &map, 0, 2 * DMA_LEN, NULL, 0, &err);
	check("SCIMapLocalSegment(local)", err);
	fill(mem, 0, dma_len, 0x200 + k);
	SCICreateDMAQueue(sd, &dq, 0, 1, 0, &err);
	check("SCICreateDMAQueue", err);
	SCIStartDmaTransfer(dq, loc, rseg, 0, dma_len, DMA_AT(k), NULL, NULL, 0,
			    &err);
	check("SCIStartDmaTransfer(into device memory)", err);
	SCIWaitForDMAQueue(dq, 10000, 0, &err);
	check("SCIWaitForDMAQueue(into device memory)", err);
	SCIStartDmaTransfer(dq, loc, rseg, DMA_LEN, dma_len, DMA_AT(k), NULL,
			    NULL, SCI_FLAG_DMA_READ, &err);
	check("SCIStartDmaTransfer(out of device memory)", err);
	SCIWaitForDMAQueue(dq, 10000, 0, &err);
	check("SCIWaitForDMAQueue(out of device memory)", err);
	bad = verify(mem, DMA_LEN, dma_len, 0x200 + k);
	SCIRemoveDMAQueue(dq, 0, &err);
	SCIUnmapSegment(map, 0, &err);
	SCIRemoveSegment(loc, 0, &err);
	return bad;
}

static int peer(unsigned int node, unsigned int id, unsigned int k)
{
	sci_desc_t sd;
	sci_remote_segment_t rseg;
	sci_map_t map;
	sci_error_t err = SCI_ERR_OK;
	volatile uint32_t *mem;
	size_t bad;
	double end = now_s() + 120;

	SCIOpen(&sd, 0, &err);
	check("SCIOpen", err);
	do {
		SCIConnectSegment(sd, &rseg, node, id, 0, NULL, NULL, 2000, 0,
				  &err);
		if (err != SCI_ERR_OK)
			usleep(200000);
	} while (err != SCI_ERR_OK && now_s() < end);
	check("SCIConnectSegment", err);
	if (SCIGetRemoteSegmentSize(rseg) < MIN_SIZE) {
		fprintf(stderr, "segment of %zu bytes\n",
			(size_t)SCIGetRemoteSegmentSize(rseg));
		return 1;
	}
	mem = SCIMapRemoteSegment(rseg, &map, 0, MIN_SIZE, NULL, 0, &err);
	check("SCIMapRemoteSegment", err);
	bad = verify(mem, 0, PATTERN_LEN, 0xA11CE);
	printf("slot %u: pattern %zu bad words\n", k, bad);
	fill(mem, PIO_AT(k), PIO_LEN, 0x100 + k);
	bad += verify(mem, PIO_AT(k), PIO_LEN, 0x100 + k);
	bad += peer_dma(sd, rseg, k);
	printf("slot %u: cpu and dma %zu bad words\n", k, bad);
	if (bad)
		return 1;
	/* Stores are ordered per pair: the flag lands after the data. */
	mem[(FLAGS_AT + 64 * k) / 4] = 1;
	SCIUnmapSegment(map, 0, &err);
	check("SCIUnmapSegment", err);
	SCIDisconnectSegment(rseg, 0, &err);
	check("SCIDisconnectSegment", err);
	SCIClose(sd, 0, &err);
	printf("peer done\n");
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sisci-physmem -owner -bdf BDF [-bar n] [-id n] [-peers n] [-dma-len b]\n"
		"       sisci-physmem -peer -rn NODEID [-id n] [-slot k] [-dma-len b]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *bdf = NULL;
	unsigned int bar = 2, id = 77, peers = 1, node = 0, slot = 0;
	int is_owner = -1, i;
	sci_error_t err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-owner"))
			is_owner = 1;
		else if (!strcmp(argv[i], "-peer"))
			is_owner = 0;
		else if (i + 1 < argc && !strcmp(argv[i], "-bdf"))
			bdf = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "-bar"))
			bar = strtoul(argv[++i], NULL, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "-id"))
			id = strtoul(argv[++i], NULL, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "-peers"))
			peers = strtoul(argv[++i], NULL, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "-rn"))
			node = strtoul(argv[++i], NULL, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "-slot"))
			slot = strtoul(argv[++i], NULL, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "-dma-len"))
			dma_len = strtoul(argv[++i], NULL, 0);
		else
			usage();
	}
	if (is_owner < 0 || (is_owner && (!bdf || bar > 5)) ||
	    peers > MAX_SLOTS || slot >= MAX_SLOTS || (!is_owner && !node) ||
	    !dma_len || dma_len > DMA_LEN || dma_len % 4)
		usage();
	SCIInitialize(0, &err);
	check("SCIInitialize", err);
	i = is_owner ? owner(bdf, bar, id, peers) : peer(node, id, slot);
	SCITerminate();
	return i;
}
