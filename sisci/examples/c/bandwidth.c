/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sisci-bandwidth: PIO and DMA bandwidth into a remote segment.
 *
 *   node A: sisci-bandwidth -server -rn <B> [-size max]
 *   node B: sisci-bandwidth -client -rn <A> [-size max] [-loops n]
 *
 * <A>, <B>: SISCI node ids (4, 8, 12, ...; rsio node n is 4 * (n + 1)).
 *
 * The server offers a segment of -size bytes and waits until the client
 * disconnects. The client measures, for sizes 4 KiB .. -size: memcpy()
 * into the mapped remote segment, SCIMemCpy(), local memcpy() between two
 * buffers of this node, and DMA (SCIStartDmaTransfer) when the adapter has
 * it. It prints MB/s and the PIO / local-memcpy ratio.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sisci_api.h"
#include "sisci_error.h"

#define SEG_BW 0x42570001u
#define SEG_DMA 0x42570002u

static void check(const char *what, sci_error_t err)
{
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "%s failed: %s (0x%x)\n", what,
			SCIGetErrorString(err), err);
		exit(1);
	}
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double mbps(size_t bytes, unsigned int loops, double us)
{
	return us > 0 ? (double)bytes * loops / us : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: sisci-bandwidth -server|-client -rn <remote node id> [-size max bytes] [-loops n]\n");
	exit(2);
}

static int server_main(sci_desc_t sd, size_t size)
{
	sci_local_segment_t seg;
	sci_error_t err;
	unsigned int node, adapter, connected = 0;
	sci_segment_cb_reason_t why;

	SCICreateSegment(sd, &seg, SEG_BW, size, NO_CALLBACK, NO_ARG, NO_FLAGS, &err);
	check("SCICreateSegment", err);
	SCIPrepareSegment(seg, 0, NO_FLAGS, &err);
	check("SCIPrepareSegment", err);
	SCISetSegmentAvailable(seg, 0, NO_FLAGS, &err);
	check("SCISetSegmentAvailable", err);
	printf("bandwidth server: segment %#x of %zu bytes available; waiting for the client\n",
	       SEG_BW, size);
	for (;;) {
		why = SCIWaitForLocalSegmentEvent(seg, &node, &adapter, SCI_INFINITE_TIMEOUT,
						  NO_FLAGS, &err);
		check("SCIWaitForLocalSegmentEvent", err);
		if (why == SCI_CB_CONNECT) {
			printf("node %u connected\n", node);
			connected++;
		} else if (connected) {
			printf("node %u disconnected\n", node);
			break;
		}
	}
	SCISetSegmentUnavailable(seg, 0, NO_FLAGS, &err);
	SCIRemoveSegment(seg, NO_FLAGS, &err);
	check("SCIRemoveSegment", err);
	return 0;
}

static int client_main(sci_desc_t sd, unsigned int rn, size_t max, unsigned int loops)
{
	sci_remote_segment_t rseg;
	sci_local_segment_t lseg = NULL;
	sci_map_t rmap;
	sci_dma_queue_t dq = NULL;
	sci_error_t err;
	volatile void *remote;
	unsigned char *src, *dst;
	size_t size;
	unsigned int i;
	double t, pio, pio2, local, dma;

	do {
		SCIConnectSegment(sd, &rseg, rn, SEG_BW, 0, NO_CALLBACK, NO_ARG, 1000,
				  NO_FLAGS, &err);
	} while (err == SCI_ERR_NO_SUCH_SEGMENT || err == SCI_ERR_CONNECTION_REFUSED ||
		 err == SCI_ERR_TIMEOUT);
	check("SCIConnectSegment", err);
	if (SCIGetRemoteSegmentSize(rseg) < max)
		max = SCIGetRemoteSegmentSize(rseg);
	remote = SCIMapRemoteSegment(rseg, &rmap, 0, max, NULL, NO_FLAGS, &err);
	check("SCIMapRemoteSegment", err);

	SCICreateDMAQueue(sd, &dq, 0, 1, NO_FLAGS, &err);
	if (err == SCI_ERR_OK) {
		SCICreateSegment(sd, &lseg, SEG_DMA, max, NO_CALLBACK, NO_ARG, SCI_FLAG_AUTO_ID, &err);
		check("SCICreateSegment (DMA source)", err);
		SCIPrepareSegment(lseg, 0, NO_FLAGS, &err);
		check("SCIPrepareSegment", err);
	} else {
		printf("no DMA: %s\n", SCIGetErrorString(err));
		dq = NULL;
	}

	src = malloc(max);
	dst = malloc(max);
	if (!src || !dst) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	memset(src, 0xa5, max);
	memset(dst, 0, max);

	printf("%10s %12s %12s %12s %12s %8s\n", "bytes", "memcpy MB/s", "SCIMemCpy", "local MB/s",
	       "DMA MB/s", "PIO/local");
	for (size = 4096; size <= max; size *= 2) {
		t = now_us();
		for (i = 0; i < loops; i++)
			memcpy((void *)remote, src, size);
		SCIFlush(NULL, NO_FLAGS);
		pio = mbps(size, loops, now_us() - t);

		t = now_us();
		for (i = 0; i < loops; i++) {
			SCIMemCpy(NULL, src, rmap, 0, size, NO_FLAGS, &err);
			check("SCIMemCpy", err);
		}
		pio2 = mbps(size, loops, now_us() - t);

		t = now_us();
		for (i = 0; i < loops; i++) {
			memcpy(dst, src, size);
			__asm__ __volatile__("" ::: "memory");
		}
		local = mbps(size, loops, now_us() - t);

		dma = 0;
		if (dq) {
			t = now_us();
			for (i = 0; i < loops; i++) {
				SCIStartDmaTransfer(dq, lseg, rseg, 0, size, 0, NO_CALLBACK, NO_ARG,
						    SCI_FLAG_DMA_WAIT, &err);
				check("SCIStartDmaTransfer", err);
			}
			dma = mbps(size, loops, now_us() - t);
		}
		printf("%10zu %12.1f %12.1f %12.1f %12.1f %8.2f\n", size, pio, pio2, local, dma,
		       local > 0 ? pio / local : 0);
		if (size == max)
			break;
		if (size * 2 > max)
			size = max / 2;
	}

	free(src);
	free(dst);
	if (dq) {
		SCIRemoveDMAQueue(dq, NO_FLAGS, &err);
		check("SCIRemoveDMAQueue", err);
		SCIRemoveSegment(lseg, NO_FLAGS, &err);
		check("SCIRemoveSegment", err);
	}
	SCIUnmapSegment(rmap, NO_FLAGS, &err);
	check("SCIUnmapSegment", err);
	SCIDisconnectSegment(rseg, NO_FLAGS, &err);
	check("SCIDisconnectSegment", err);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int rn = ~0u, loops = 100;
	size_t size = 4 << 20;
	int server = -1, rc, i;
	sci_desc_t sd;
	sci_error_t err;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-server"))
			server = 1;
		else if (!strcmp(argv[i], "-client"))
			server = 0;
		else if (!strcmp(argv[i], "-rn") && i + 1 < argc)
			rn = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-loops") && i + 1 < argc)
			loops = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-size") && i + 1 < argc)
			size = strtoul(argv[++i], NULL, 0);
		else
			usage();
	}
	if (server < 0 || (!server && rn == ~0u) || loops == 0 || size < 4096)
		usage();

	SCIInitialize(NO_FLAGS, &err);
	check("SCIInitialize", err);
	SCIOpen(&sd, NO_FLAGS, &err);
	check("SCIOpen", err);
	rc = server ? server_main(sd, size) : client_main(sd, rn, size, loops);
	SCIClose(sd, NO_FLAGS, &err);
	check("SCIClose", err);
	SCITerminate();
	return rc;
}
