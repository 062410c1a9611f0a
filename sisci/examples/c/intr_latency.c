/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sisci-intr-latency: remote interrupt ping-pong round trip.
 *
 *   node A: sisci-intr-latency -server -rn <B>
 *   node B: sisci-intr-latency -client -rn <A>
 *
 * <A>, <B>: SISCI node ids (4, 8, 12, ...; rsio node n is 4 * (n + 1)).
 *
 * The client triggers the server's interrupt and waits for its own; the
 * server waits for its interrupt and triggers the client's. -data uses
 * data interrupts carrying -size bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sisci_api.h"
#include "sisci_error.h"

#define INTR_SERVER 0x5011
#define INTR_CLIENT 0x5012

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
	fprintf(stderr, "usage: sisci-intr-latency -server|-client -rn <remote node id> [-loops n] [-data] [-size bytes]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned int rn = ~0u, loops = 10000, data = 0, size = 8, mine, theirs;
	int server = -1;
	unsigned int i, len;
	unsigned char buf[128];
	sci_desc_t sd;
	sci_local_interrupt_t li = NULL;
	sci_remote_interrupt_t ri = NULL;
	sci_local_data_interrupt_t ldi = NULL;
	sci_remote_data_interrupt_t rdi = NULL;
	sci_error_t err;
	double t0, t1;

	for (i = 1; i < (unsigned int)argc; i++) {
		if (!strcmp(argv[i], "-server"))
			server = 1;
		else if (!strcmp(argv[i], "-client"))
			server = 0;
		else if (!strcmp(argv[i], "-data"))
			data = 1;
		else if (!strcmp(argv[i], "-rn") && i + 1 < (unsigned int)argc)
			rn = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-loops") && i + 1 < (unsigned int)argc)
			loops = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-size") && i + 1 < (unsigned int)argc)
			size = strtoul(argv[++i], NULL, 0);
		else
			usage();
	}
	if (server < 0 || rn == ~0u || loops == 0 || size > sizeof(buf))
		usage();
	mine = server ? INTR_SERVER : INTR_CLIENT;
	theirs = server ? INTR_CLIENT : INTR_SERVER;
	memset(buf, 0x5a, sizeof(buf));

	SCIInitialize(NO_FLAGS, &err);
	check("SCIInitialize", err);
	SCIOpen(&sd, NO_FLAGS, &err);
	check("SCIOpen", err);
	if (data)
		SCICreateDataInterrupt(sd, &ldi, 0, &mine, NO_CALLBACK, NO_ARG,
				       SCI_FLAG_FIXED_INTNO, &err);
	else
		SCICreateInterrupt(sd, &li, 0, &mine, NO_CALLBACK, NO_ARG,
				   SCI_FLAG_FIXED_INTNO, &err);
	check("SCICreate(Data)Interrupt", err);
	do {
		if (data)
			SCIConnectDataInterrupt(sd, &rdi, rn, 0, theirs, 1000, NO_FLAGS, &err);
		else
			SCIConnectInterrupt(sd, &ri, rn, 0, theirs, 1000, NO_FLAGS, &err);
	} while (err == SCI_ERR_NO_SUCH_SEGMENT || err == SCI_ERR_TIMEOUT ||
		 err == SCI_ERR_CONNECTION_REFUSED);
	check("SCIConnect(Data)Interrupt", err);
	printf("intr-latency: %s, remote node %u, %u round trips, %s interrupts\n",
	       server ? "server" : "client", rn, loops, data ? "data" : "plain");

	t0 = now_us();
	for (i = 0; i < loops; i++) {
		if (!server) {
			if (data)
				SCITriggerDataInterrupt(rdi, buf, size, NO_FLAGS, &err);
			else
				SCITriggerInterrupt(ri, NO_FLAGS, &err);
			check("SCITrigger(Data)Interrupt", err);
		}
		if (data) {
			len = sizeof(buf);
			SCIWaitForDataInterrupt(ldi, buf, &len, 10000, NO_FLAGS, &err);
		} else {
			SCIWaitForInterrupt(li, 10000, NO_FLAGS, &err);
		}
		check("SCIWaitFor(Data)Interrupt", err);
		if (server) {
			if (data)
				SCITriggerDataInterrupt(rdi, buf, size, NO_FLAGS, &err);
			else
				SCITriggerInterrupt(ri, NO_FLAGS, &err);
			check("SCITrigger(Data)Interrupt", err);
		}
	}
	t1 = now_us();
	printf("average round trip: %.3f us (%u round trips, %.1f ms)\n",
	       (t1 - t0) / loops, loops, (t1 - t0) / 1000.0);

	if (data) {
		SCIDisconnectDataInterrupt(rdi, NO_FLAGS, &err);
		SCIRemoveDataInterrupt(ldi, NO_FLAGS, &err);
	} else {
		SCIDisconnectInterrupt(ri, NO_FLAGS, &err);
		SCIRemoveInterrupt(li, NO_FLAGS, &err);
	}
	check("remove", err);
	SCIClose(sd, NO_FLAGS, &err);
	check("SCIClose", err);
	SCITerminate();
	return 0;
}
