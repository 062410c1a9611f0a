/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sisci-multicast: one writer, every member receives.
 *
 *   members: sisci-multicast -client [-group g] [-size bytes] [-loops n]
 *   writer:  sisci-multicast -server [-group g] [-size bytes] [-loops n]
 *
 * Members create a broadcast segment (SCI_FLAG_BROADCAST, segment id =
 * multicast group) and wait. The writer connects to the group
 * (DIS_BROADCAST_NODEID_GROUP_ALL), writes -loops rounds of a pattern, each
 * followed by the round number in the last word; members check every byte
 * of the final round. Start the members first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sisci_api.h"
#include "sisci_error.h"

static void check(const char *what, sci_error_t err)
{
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "%s failed: %s (0x%x)\n", what,
			SCIGetErrorString(err), err);
		exit(1);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned char pattern(size_t i, unsigned int round)
{
	return (unsigned char)(i * 7 + round * 13 + 1);
}

static void usage(void)
{
	fprintf(stderr, "usage: sisci-multicast -server|-client [-group g] [-size bytes] [-loops n] [-rn ignored]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned int group = 0, loops = 10, round, node;
	size_t size = 65536, i, bad = 0;
	int server = -1;
	sci_desc_t sd;
	sci_error_t err;
	sci_map_t map;
	volatile unsigned char *mem;
	volatile unsigned int *last;
	unsigned char *buf;
	double t0;

	for (i = 1; i < (size_t)argc; i++) {
		if (!strcmp(argv[i], "-server"))
			server = 1;
		else if (!strcmp(argv[i], "-client"))
			server = 0;
		else if (!strcmp(argv[i], "-group") && i + 1 < (size_t)argc)
			group = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-rn") && i + 1 < (size_t)argc)
			i++;
		else if (!strcmp(argv[i], "-loops") && i + 1 < (size_t)argc)
			loops = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-size") && i + 1 < (size_t)argc)
			size = strtoul(argv[++i], NULL, 0);
		else
			usage();
	}
	if (server < 0 || loops == 0 || size < 4096 || size % 4096)
		usage();

	SCIInitialize(NO_FLAGS, &err);
	check("SCIInitialize", err);
	SCIOpen(&sd, NO_FLAGS, &err);
	check("SCIOpen", err);
	SCIGetLocalNodeId(0, &node, NO_FLAGS, &err);
	check("SCIGetLocalNodeId", err);

	if (server) {
		sci_remote_segment_t rseg;

		SCIConnectSegment(sd, &rseg, DIS_BROADCAST_NODEID_GROUP_ALL, group, 0,
				  NO_CALLBACK, NO_ARG, 5000, SCI_FLAG_BROADCAST, &err);
		check("SCIConnectSegment (broadcast)", err);
		mem = SCIMapRemoteSegment(rseg, &map, 0, size, NULL, NO_FLAGS, &err);
		check("SCIMapRemoteSegment", err);
		buf = malloc(size);
		if (!buf)
			return 1;
		last = (volatile unsigned int *)(mem + size - 4);
		t0 = now_s();
		for (round = 1; round <= loops; round++) {
			for (i = 0; i < size - 4; i++)
				buf[i] = pattern(i, round);
			SCIMemWrite(buf, (volatile void *)mem, size - 4, NO_FLAGS, &err);
			check("SCIMemWrite", err);
			*last = round;
			SCIFlush(NULL, NO_FLAGS);
		}
		printf("multicast writer (node %u): group %u, %u rounds of %zu bytes in %.3f s\n",
		       node, group, loops, size, now_s() - t0);
		free(buf);
		SCIUnmapSegment(map, NO_FLAGS, &err);
		check("SCIUnmapSegment", err);
		SCIDisconnectSegment(rseg, NO_FLAGS, &err);
		check("SCIDisconnectSegment", err);
	} else {
		sci_local_segment_t lseg;

		SCICreateSegment(sd, &lseg, group, size, NO_CALLBACK, NO_ARG,
				 SCI_FLAG_BROADCAST, &err);
		check("SCICreateSegment (broadcast)", err);
		SCIPrepareSegment(lseg, 0, NO_FLAGS, &err);
		check("SCIPrepareSegment", err);
		SCISetSegmentAvailable(lseg, 0, NO_FLAGS, &err);
		check("SCISetSegmentAvailable", err);
		mem = SCIMapLocalSegment(lseg, &map, 0, size, NULL, NO_FLAGS, &err);
		check("SCIMapLocalSegment", err);
		last = (volatile unsigned int *)(mem + size - 4);
		printf("multicast member (node %u): group %u, waiting for %u rounds\n", node, group, loops);
		t0 = now_s();
		while (*last != loops) {
			if (now_s() - t0 > 120) {
				printf("FAIL: timed out (last round seen %u)\n", *last);
				return 1;
			}
		}
		for (i = 0; i < size - 4; i++)
			if (mem[i] != pattern(i, loops))
				bad++;
		if (bad)
			printf("FAIL: %zu of %zu bytes differ\n", bad, size - 4);
		else
			printf("PASS: %zu bytes of round %u verified\n", size - 4, loops);
		SCIUnmapSegment(map, NO_FLAGS, &err);
		check("SCIUnmapSegment", err);
		SCIRemoveSegment(lseg, NO_FLAGS, &err);
		check("SCIRemoveSegment", err);
	}
	SCIClose(sd, NO_FLAGS, &err);
	check("SCIClose", err);
	SCITerminate();
	return bad ? 1 : 0;
}
