/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sisci-pingpong: PIO latency over mapped remote segments.
 *
 *   node A: sisci-pingpong -server -rn <B>
 *   node B: sisci-pingpong -client -rn <A>
 *
 * <A>, <B>: SISCI node ids (4, 8, 12, ...; rsio node n is 4 * (n + 1)).
 *
 * Each side owns a segment the other maps. The client writes a counter
 * into the server's segment; the server spins on its own segment until it
 * sees it and writes it back; repeat. Prints the average one-way latency.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sisci_api.h"
#include "sisci_error.h"

#define SEG_SERVER 0x50500011u
#define SEG_CLIENT 0x50500012u

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

static void usage(void)
{
	fprintf(stderr, "usage: sisci-pingpong -server|-client -rn <remote node id> [-size bytes] [-loops n]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned int rn = ~0u, loops = 100000, local_node = 0;
	size_t size = 4096;
	int server = -1;
	sci_desc_t sd;
	sci_local_segment_t lseg;
	sci_remote_segment_t rseg;
	sci_map_t lmap, rmap;
	sci_error_t err;
	volatile unsigned int *l, *r;
	double t0, t1;
	unsigned int i;

	for (i = 1; i < (unsigned int)argc; i++) {
		if (!strcmp(argv[i], "-server"))
			server = 1;
		else if (!strcmp(argv[i], "-client"))
			server = 0;
		else if (!strcmp(argv[i], "-rn") && i + 1 < (unsigned int)argc)
			rn = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-loops") && i + 1 < (unsigned int)argc)
			loops = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-size") && i + 1 < (unsigned int)argc)
			size = strtoul(argv[++i], NULL, 0);
		else
			usage();
	}
	if (server < 0 || rn == ~0u || loops == 0 || size < 64)
		usage();

	SCIInitialize(NO_FLAGS, &err);
	check("SCIInitialize", err);
	SCIOpen(&sd, NO_FLAGS, &err);
	check("SCIOpen", err);
	SCIGetLocalNodeId(0, &local_node, NO_FLAGS, &err);
	check("SCIGetLocalNodeId", err);
	printf("pingpong: %s, local node %u, remote node %u, %u round trips\n",
	       server ? "server" : "client", local_node, rn, loops);

	SCICreateSegment(sd, &lseg, server ? SEG_SERVER : SEG_CLIENT, size,
			 NO_CALLBACK, NO_ARG, NO_FLAGS, &err);
	check("SCICreateSegment", err);
	l = SCIMapLocalSegment(lseg, &lmap, 0, size, NULL, NO_FLAGS, &err);
	check("SCIMapLocalSegment", err);
	l[0] = 0;
	l[1] = 0;
	SCIPrepareSegment(lseg, 0, NO_FLAGS, &err);
	check("SCIPrepareSegment", err);
	SCISetSegmentAvailable(lseg, 0, NO_FLAGS, &err);
	check("SCISetSegmentAvailable", err);

	do {
		SCIConnectSegment(sd, &rseg, rn, server ? SEG_CLIENT : SEG_SERVER,
				  0, NO_CALLBACK, NO_ARG, 1000, NO_FLAGS, &err);
	} while (err == SCI_ERR_NO_SUCH_SEGMENT || err == SCI_ERR_CONNECTION_REFUSED ||
		 err == SCI_ERR_TIMEOUT);
	check("SCIConnectSegment", err);
	r = SCIMapRemoteSegment(rseg, &rmap, 0, size, NULL, NO_FLAGS, &err);
	check("SCIMapRemoteSegment", err);

	/* Handshake: both are connected and mapped before timing. */
	r[1] = 1;
	SCIFlush(NULL, NO_FLAGS);
	while (l[1] != 1)
		;

	t0 = now_us();
	for (i = 1; i <= loops; i++) {
		if (server) {
			while (l[0] != i)
				;
			r[0] = i;
			SCIFlush(NULL, NO_FLAGS);
		} else {
			r[0] = i;
			SCIFlush(NULL, NO_FLAGS);
			while (l[0] != i)
				;
		}
	}
	t1 = now_us();
	printf("average one-way latency: %.3f us (%u round trips, %.1f ms)\n",
	       (t1 - t0) / loops / 2.0, loops, (t1 - t0) / 1000.0);

	/* Let the peer see the last value before our segment goes away. */
	r[1] = 2;
	SCIFlush(NULL, NO_FLAGS);
	for (t0 = now_us(); l[1] != 2 && now_us() - t0 < 2e6;)
		;

	SCIUnmapSegment(rmap, NO_FLAGS, &err);
	check("SCIUnmapSegment", err);
	SCIDisconnectSegment(rseg, NO_FLAGS, &err);
	check("SCIDisconnectSegment", err);
	SCIUnmapSegment(lmap, NO_FLAGS, &err);
	check("SCIUnmapSegment", err);
	SCISetSegmentUnavailable(lseg, 0, NO_FLAGS, &err);
	SCIRemoveSegment(lseg, NO_FLAGS, &err);
	check("SCIRemoveSegment", err);
	SCIClose(sd, NO_FLAGS, &err);
	check("SCIClose", err);
	SCITerminate();
	return 0;
}
