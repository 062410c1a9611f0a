/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sisci-c-smoke: exercises the SISCI C API between two nodes, with data
 * verification. Prints PASS/FAIL/SKIP lines; exits non-zero on a FAIL.
 *
 *   node A: sisci-c-smoke -server -rn <B>
 *   node B: sisci-c-smoke -client -rn <A>
 *
 * Node ids are SISCI's: 4, 8, 12, ... (rsio node n is 4 * (n + 1)).
 *
 * The server also offers a buffer of its own (posix_memalign, registered
 * with SCI_FLAG_EMPTY + SCIRegisterSegmentMemory): the client reads the
 * pattern the server stored there and writes a word the server finds.
 *
 * Without a peer (no -rn) it runs the local checks only; on a host without
 * /dev/sisci it prints a clean error and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sisci_api.h"
#include "sisci_error.h"

#define SEG_SMOKE 0x53500001u
#define SEG_SMOKE_DMA 0x53500002u
#define SEG_SMOKE_USER 0x53500003u
#define INTR_DONE 0x5301u
#define DINTR_SERVER 0x5302u
#define DINTR_CLIENT 0x5303u
#define SEG_SIZE 65536u
#define USER_SIZE 16384u
/* Where the client writes USER_WORD in the server's registered buffer. */
#define USER_WORD_OFF (USER_SIZE - 8)
#define USER_WORD 0xc0ffee42u
#define TIMEOUT 60000u

static int failures;

static void result(int ok, const char *what, sci_error_t err)
{
	if (ok)
		printf("PASS %s\n", what);
	else {
		printf("FAIL %s: %s (0x%x)\n", what, SCIGetErrorString(err), err);
		failures++;
	}
	fflush(stdout);
}

#define EXPECT_OK(what) result(err == SCI_ERR_OK, what, err)
#define EXPECT_ERR(code, what) result(err == (code), what, err)
#define REQUIRE_OK(what) do { EXPECT_OK(what); if (err != SCI_ERR_OK) goto out; } while (0)

static unsigned char pat_server(size_t i) { return (unsigned char)(i * 7 + 3); }
static unsigned char pat_client(size_t i) { return (unsigned char)(i * 13 + 5); }
static unsigned char pat_dma(size_t i) { return (unsigned char)(i * 31 + 11); }
static unsigned char pat_user(size_t i) { return (unsigned char)(i * 17 + 1); }

static volatile int done_callbacks;

static sci_callback_action_t done_cb(void *arg, sci_local_interrupt_t intr, sci_error_t status)
{
	(void)intr;
	if (status == SCI_ERR_OK && arg == (void *)&done_callbacks)
		done_callbacks++;
	return SCI_CALLBACK_CONTINUE;
}

static void local_checks(sci_desc_t sd)
{
	sci_error_t err;
	sci_local_segment_t seg;
	sci_remote_segment_t rseg;
	sci_map_t map;
	volatile unsigned int *p;
	unsigned int node = 0, qnode = ~0u, v;
	sci_query_adapter_t q;
	char vendor[32];
	sci_query_string_t qs;

	SCIGetLocalNodeId(0, &node, NO_FLAGS, &err);
	EXPECT_OK("SCIGetLocalNodeId");
	q.localAdapterNo = 0;
	q.portNo = 0;
	q.subcommand = SCI_Q_ADAPTER_NODEID;
	q.data = &qnode;
	SCIQuery(SCI_Q_ADAPTER, &q, NO_FLAGS, &err);
	result(err == SCI_ERR_OK && qnode == node, "SCIQuery(SCI_Q_ADAPTER_NODEID)", err);
	result(node != 0 && node % 4 == 0, "local node id is a SISCI node id (4, 8, 12, ...)",
	       SCI_ERR_OK);
	v = (unsigned int)SCIProbeNode(sd, 0, node, NO_FLAGS, &err);
	result(err == SCI_ERR_OK && v == 1, "SCIProbeNode(this node)", err);
	v = (unsigned int)SCIProbeNode(sd, 0, 0, NO_FLAGS, &err);
	result(err == SCI_ERR_ILLEGAL_NODEID && v == 0, "SCIProbeNode(0) is ILLEGAL_NODEID", err);
	SCIProbeNode(sd, 0, node + 1, NO_FLAGS, &err);
	EXPECT_ERR(SCI_ERR_ILLEGAL_NODEID, "SCIProbeNode(not a multiple of 4) is ILLEGAL_NODEID");
	SCIConnectSegment(sd, &rseg, 0, SEG_SMOKE, 0, NO_CALLBACK, NO_ARG, 1000, NO_FLAGS, &err);
	EXPECT_ERR(SCI_ERR_ILLEGAL_PARAMETER, "SCIConnectSegment(node 0) is ILLEGAL_PARAMETER");
	q.subcommand = 0xdead;
	q.data = &v;
	SCIQuery(SCI_Q_ADAPTER, &q, NO_FLAGS, &err);
	EXPECT_ERR(SCI_ERR_ILLEGAL_QUERY, "SCIQuery(unknown subcommand) is ILLEGAL_QUERY");
	qs.str = vendor;
	qs.length = sizeof(vendor);
	SCIQuery(SCI_Q_VENDORID, &qs, NO_FLAGS, &err);
	EXPECT_OK("SCIQuery(SCI_Q_VENDORID)");
	SCIGetLocalNodeId(0, NULL, NO_FLAGS, &err);
	EXPECT_ERR(SCI_ERR_ILLEGAL_PARAMETER, "NULL out pointer is ILLEGAL_PARAMETER");
	SCIPrepareSegment(NULL, 0, NO_FLAGS, &err);
	EXPECT_ERR(SCI_ERR_ILLEGAL_PARAMETER, "NULL segment is ILLEGAL_PARAMETER");

	SCICreateSegment(sd, &seg, 0, 8192, NO_CALLBACK, NO_ARG, SCI_FLAG_AUTO_ID, &err);
	EXPECT_OK("SCICreateSegment(SCI_FLAG_AUTO_ID)");
	if (err != SCI_ERR_OK)
		return;
	result(SCIGetLocalSegmentSize(seg) >= 8192, "SCIGetLocalSegmentSize", SCI_ERR_OK);
	SCISetSegmentAvailable(seg, 0, NO_FLAGS, &err);
	result(err != SCI_ERR_OK, "SCISetSegmentAvailable before prepare fails", err);
	p = SCIMapLocalSegment(seg, &map, 0, 8192, NULL, NO_FLAGS, &err);
	EXPECT_OK("SCIMapLocalSegment");
	if (err == SCI_ERR_OK) {
		p[0] = 0x12345678;
		result(p[0] == 0x12345678 && p[1] == 0, "local segment memory (zeroed, writable)", SCI_ERR_OK);
		SCIRemoveSegment(seg, NO_FLAGS, &err);
		EXPECT_ERR(SCI_ERR_BUSY, "SCIRemoveSegment while mapped is BUSY");
		SCIUnmapSegment(map, NO_FLAGS, &err);
		EXPECT_OK("SCIUnmapSegment");
	}
	SCIMapLocalSegment(seg, &map, 4096, 8192, NULL, NO_FLAGS, &err);
	EXPECT_ERR(SCI_ERR_OUT_OF_RANGE, "SCIMapLocalSegment beyond the end is OUT_OF_RANGE");
	SCIClose(sd, NO_FLAGS, &err);
	EXPECT_ERR(SCI_ERR_BUSY, "SCIClose with live objects is BUSY");
	SCIRemoveSegment(seg, NO_FLAGS, &err);
	EXPECT_OK("SCIRemoveSegment");
}

/*
 * The server's own buffer as a segment: created empty, then the memory
 * registered. Checks the empty segment's errors on the way. Returns the
 * segment (available) or NULL; *bufp is the buffer to free after removal.
 */
static sci_local_segment_t user_segment(sci_desc_t sd, unsigned char **bufp)
{
	sci_error_t err;
	sci_local_segment_t useg = NULL;
	sci_map_t map;
	unsigned char *buf = NULL;
	long page = sysconf(_SC_PAGESIZE);
	size_t i;

	*bufp = NULL;
	if (page <= 0 || USER_SIZE % page || posix_memalign((void **)&buf, page, USER_SIZE)) {
		printf("FAIL posix_memalign of the registered buffer\n");
		failures++;
		return NULL;
	}
	*bufp = buf;
	SCICreateSegment(sd, &useg, SEG_SMOKE_USER, USER_SIZE, NO_CALLBACK, NO_ARG, SCI_FLAG_EMPTY,
			 &err);
	EXPECT_OK("SCICreateSegment(SCI_FLAG_EMPTY)");
	if (err != SCI_ERR_OK)
		return NULL;
	result(SCIGetLocalSegmentId(useg) == SEG_SMOKE_USER &&
	       SCIGetLocalSegmentSize(useg) == USER_SIZE,
	       "empty segment: id and size", SCI_ERR_OK);
	SCIPrepareSegment(useg, 0, NO_FLAGS, &err);
	EXPECT_ERR(SCI_ERR_ILLEGAL_OPERATION, "SCIPrepareSegment of an empty segment is ILLEGAL_OPERATION");
	SCISetSegmentAvailable(useg, 0, NO_FLAGS, &err);
	EXPECT_ERR(SCI_ERR_SEGMENT_NOT_PREPARED, "SCISetSegmentAvailable of an empty segment is NOT_PREPARED");
	result(SCIMapLocalSegment(useg, &map, 0, USER_SIZE, NULL, NO_FLAGS, &err) == NULL &&
	       err == SCI_ERR_ILLEGAL_OPERATION,
	       "SCIMapLocalSegment of an empty segment is ILLEGAL_OPERATION", err);
	SCIRegisterSegmentMemory(buf + 64, USER_SIZE, useg, NO_FLAGS, &err);
	EXPECT_ERR(SCI_ERR_OFFSET_ALIGNMENT, "SCIRegisterSegmentMemory unaligned is OFFSET_ALIGNMENT");
	SCIRegisterSegmentMemory(buf, USER_SIZE - 64, useg, NO_FLAGS, &err);
	EXPECT_ERR(SCI_ERR_SIZE_ALIGNMENT, "SCIRegisterSegmentMemory of a partial page is SIZE_ALIGNMENT");
	SCIRegisterSegmentMemory(buf, USER_SIZE - page, useg, NO_FLAGS, &err);
	EXPECT_ERR(SCI_ERR_ILLEGAL_PARAMETER, "SCIRegisterSegmentMemory of the wrong size is ILLEGAL_PARAMETER");
	SCIRegisterSegmentMemory(buf, USER_SIZE, useg, NO_FLAGS, &err);
	EXPECT_OK("SCIRegisterSegmentMemory");
	if (err != SCI_ERR_OK)
		goto fail;
	SCIRegisterSegmentMemory(buf, USER_SIZE, useg, NO_FLAGS, &err);
	EXPECT_ERR(SCI_ERR_ILLEGAL_OPERATION, "SCIRegisterSegmentMemory twice is ILLEGAL_OPERATION");
	/* Plain stores into our own buffer: the client reads them remotely. */
	for (i = 0; i < USER_SIZE; i++)
		buf[i] = pat_user(i);
	SCIPrepareSegment(useg, 0, NO_FLAGS, &err);
	EXPECT_OK("SCIPrepareSegment (registered)");
	if (err != SCI_ERR_OK)
		goto fail;
	SCISetSegmentAvailable(useg, 0, NO_FLAGS, &err);
	EXPECT_OK("SCISetSegmentAvailable (registered)");
	if (err != SCI_ERR_OK)
		goto fail;
	return useg;
fail:
	SCIRemoveSegment(useg, NO_FLAGS, &err);
	return NULL;
}

static int server(sci_desc_t sd, unsigned int rn)
{
	sci_error_t err;
	sci_local_segment_t seg = NULL, useg = NULL;
	unsigned char *ubuf = NULL;
	sci_map_t map = NULL;
	sci_local_interrupt_t done = NULL;
	sci_local_data_interrupt_t dintr = NULL;
	sci_remote_data_interrupt_t reply = NULL;
	volatile unsigned char *mem = NULL;
	unsigned int node, adapter, no, len, v;
	unsigned char msg[128];
	size_t i, bad;
	int dma_done;
	time_t t0;
	sci_segment_cb_reason_t why;

	SCICreateSegment(sd, &seg, SEG_SMOKE, SEG_SIZE, NO_CALLBACK, NO_ARG, NO_FLAGS, &err);
	REQUIRE_OK("SCICreateSegment");
	result(SCIGetLocalSegmentId(seg) == SEG_SMOKE, "SCIGetLocalSegmentId", SCI_ERR_OK);
	mem = SCIMapLocalSegment(seg, &map, 0, SEG_SIZE, NULL, NO_FLAGS, &err);
	REQUIRE_OK("SCIMapLocalSegment");
	for (i = 0; i < SEG_SIZE / 2; i++)
		mem[i] = pat_server(i);
	no = INTR_DONE;
	SCICreateInterrupt(sd, &done, 0, &no, done_cb, (void *)&done_callbacks,
			   SCI_FLAG_FIXED_INTNO | SCI_FLAG_USE_CALLBACK, &err);
	REQUIRE_OK("SCICreateInterrupt(FIXED_INTNO | USE_CALLBACK)");
	no = DINTR_SERVER;
	SCICreateDataInterrupt(sd, &dintr, 0, &no, NO_CALLBACK, NO_ARG, SCI_FLAG_FIXED_INTNO, &err);
	REQUIRE_OK("SCICreateDataInterrupt");
	SCIPrepareSegment(seg, 0, NO_FLAGS, &err);
	REQUIRE_OK("SCIPrepareSegment");
	SCISetSegmentAvailable(seg, 0, NO_FLAGS, &err);
	REQUIRE_OK("SCISetSegmentAvailable");
	useg = user_segment(sd, &ubuf);
	printf("server: waiting for node %u\n", rn);
	fflush(stdout);

	why = SCIWaitForLocalSegmentEvent(seg, &node, &adapter, TIMEOUT, NO_FLAGS, &err);
	result(err == SCI_ERR_OK && why == SCI_CB_CONNECT && node == rn,
	       "SCIWaitForLocalSegmentEvent: client connected", err);

	len = sizeof(msg);
	SCIWaitForDataInterrupt(dintr, msg, &len, TIMEOUT, NO_FLAGS, &err);
	result(err == SCI_ERR_OK && len == 7 && !memcmp(msg, "hello", 5),
	       "SCIWaitForDataInterrupt: payload verified", err);
	dma_done = err == SCI_ERR_OK && len == 7 && msg[6] == 'D';

	for (t0 = time(NULL); done_callbacks == 0 && time(NULL) - t0 < 60;)
		;
	result(done_callbacks == 1, "interrupt callback ran (client's writes done)", SCI_ERR_TIMEOUT);

	for (bad = 0, i = SEG_SIZE / 2; i < SEG_SIZE * 3 / 4; i++)
		bad += mem[i] != pat_client(i);
	result(bad == 0, "client's PIO writes (SCIMemCpy) verified", SCI_ERR_TRANSFER_FAILED);
	if (dma_done) {
		for (bad = 0, i = SEG_SIZE * 3 / 4; i < SEG_SIZE; i++)
			bad += mem[i] != pat_dma(i);
		result(bad == 0, "client's DMA writes verified", SCI_ERR_TRANSFER_FAILED);
	} else {
		printf("SKIP client's DMA writes (no DMA)\n");
	}
	if (useg) {
		/* The client wrote before it triggered INTR_DONE. */
		v = *(volatile unsigned int *)(ubuf + USER_WORD_OFF);
		result(v == USER_WORD, "client's write into the registered buffer found",
		       SCI_ERR_TRANSFER_FAILED);
		for (bad = 0, i = 0; i < USER_WORD_OFF; i++)
			bad += ubuf[i] != pat_user(i);
		result(bad == 0, "registered buffer otherwise intact", SCI_ERR_TRANSFER_FAILED);
	}

	do {
		SCIConnectDataInterrupt(sd, &reply, rn, 0, DINTR_CLIENT, 1000, NO_FLAGS, &err);
	} while (err == SCI_ERR_NO_SUCH_SEGMENT || err == SCI_ERR_TIMEOUT);
	REQUIRE_OK("SCIConnectDataInterrupt");
	SCITriggerDataInterrupt(reply, failures ? "FAIL" : "PASS", 4, NO_FLAGS, &err);
	EXPECT_OK("SCITriggerDataInterrupt (verdict)");
	SCIDisconnectDataInterrupt(reply, NO_FLAGS, &err);
	EXPECT_OK("SCIDisconnectDataInterrupt");

	why = SCIWaitForLocalSegmentEvent(seg, &node, &adapter, TIMEOUT, NO_FLAGS, &err);
	result(err == SCI_ERR_OK && why == SCI_CB_DISCONNECT,
	       "SCIWaitForLocalSegmentEvent: client disconnected", err);
out:
	if (dintr) {
		SCIRemoveDataInterrupt(dintr, NO_FLAGS, &err);
		EXPECT_OK("SCIRemoveDataInterrupt");
	}
	if (done) {
		SCIRemoveInterrupt(done, NO_FLAGS, &err);
		EXPECT_OK("SCIRemoveInterrupt (callback thread stopped)");
	}
	if (map) {
		SCIUnmapSegment(map, NO_FLAGS, &err);
		EXPECT_OK("SCIUnmapSegment");
	}
	if (seg) {
		SCISetSegmentUnavailable(seg, 0, NO_FLAGS, &err);
		EXPECT_OK("SCISetSegmentUnavailable");
		SCIRemoveSegment(seg, NO_FLAGS, &err);
		EXPECT_OK("SCIRemoveSegment");
	}
	if (useg) {
		SCISetSegmentUnavailable(useg, 0, NO_FLAGS, &err);
		EXPECT_OK("SCISetSegmentUnavailable (registered)");
		SCIRemoveSegment(useg, NO_FLAGS, &err);
		EXPECT_OK("SCIRemoveSegment (registered)");
	}
	/* Only after the segment is gone (its pages were pinned). */
	free(ubuf);
	return failures;
}

/* Reads the server's registered buffer and writes USER_WORD into it. */
/* Objects of one descriptor combine with another's (as in Dolphin's
 * library; ssd-gpu-dma borrows a device through one descriptor and maps
 * segments of another for it): a DMA queue of a second descriptor moves
 * data between the first one's segment and connection. */
static void dma_other_descriptor(sci_local_segment_t lseg, sci_remote_segment_t rseg,
				 volatile unsigned char *lmem)
{
	sci_desc_t sd2;
	sci_dma_queue_t dq2;
	sci_error_t err;
	size_t i, bad;

	SCIOpen(&sd2, NO_FLAGS, &err);
	EXPECT_OK("SCIOpen (a second descriptor)");
	if (err != SCI_ERR_OK)
		return;
	SCICreateDMAQueue(sd2, &dq2, 0, 1, NO_FLAGS, &err);
	EXPECT_OK("SCICreateDMAQueue (second descriptor)");
	if (err != SCI_ERR_OK) {
		SCIClose(sd2, NO_FLAGS, &err);
		return;
	}
	for (i = 0; i < 4096; i++)
		lmem[i] = 0;
	SCIStartDmaTransfer(dq2, lseg, rseg, 0, 4096, 0, NO_CALLBACK, NO_ARG,
			    SCI_FLAG_DMA_READ | SCI_FLAG_DMA_WAIT, &err);
	EXPECT_OK("SCIStartDmaTransfer with another descriptor's queue");
	for (bad = 0, i = 0; i < 4096; i++)
		bad += lmem[i] != pat_server(i);
	result(bad == 0, "DMA through another descriptor's queue verified", SCI_ERR_TRANSFER_FAILED);
	SCIClose(sd2, NO_FLAGS, &err);
	EXPECT_ERR(SCI_ERR_BUSY, "SCIClose of a descriptor with a queue is BUSY");
	SCIRemoveDMAQueue(dq2, NO_FLAGS, &err);
	EXPECT_OK("SCIRemoveDMAQueue (second descriptor)");
	SCIClose(sd2, NO_FLAGS, &err);
	EXPECT_OK("SCIClose (second descriptor)");
}

/* A sequence does not keep its map (public programs unmap maps whose
 * sequences they never remove): the map goes at SCIUnmapSegment, the
 * sequence then fails, and a leaked sequence keeps neither the
 * connection nor the descriptor busy. */
static void sequence_outlives_map(unsigned int rn)
{
	sci_desc_t sd3;
	sci_remote_segment_t r3;
	sci_map_t m3;
	sci_sequence_t s3;
	sci_sequence_status_t st;
	sci_error_t err;

	SCIOpen(&sd3, NO_FLAGS, &err);
	EXPECT_OK("SCIOpen (a third descriptor)");
	if (err != SCI_ERR_OK)
		return;
	/* The server's registered buffer: it waits for events of SEG_SMOKE. */
	SCIConnectSegment(sd3, &r3, rn, SEG_SMOKE_USER, 0, NO_CALLBACK, NO_ARG, 1000, NO_FLAGS,
			  &err);
	EXPECT_OK("SCIConnectSegment (third descriptor)");
	if (err != SCI_ERR_OK)
		goto close;
	SCIMapRemoteSegment(r3, &m3, 0, 4096, NULL, NO_FLAGS, &err);
	EXPECT_OK("SCIMapRemoteSegment (third descriptor)");
	if (err != SCI_ERR_OK)
		goto disconnect;
	SCICreateMapSequence(m3, &s3, NO_FLAGS, &err);
	EXPECT_OK("SCICreateMapSequence (third descriptor)");
	if (err != SCI_ERR_OK) {
		SCIUnmapSegment(m3, NO_FLAGS, &err);
		goto disconnect;
	}
	SCIUnmapSegment(m3, NO_FLAGS, &err);
	EXPECT_OK("SCIUnmapSegment while a sequence of the map exists");
	st = SCIStartSequence(s3, NO_FLAGS, &err);
	result(st == SCI_SEQ_NOT_RETRIABLE && err == SCI_ERR_ILLEGAL_OPERATION,
	       "a sequence whose map is gone is ILLEGAL_OPERATION", err);
	SCIDisconnectSegment(r3, NO_FLAGS, &err);
	EXPECT_OK("SCIDisconnectSegment with a leaked sequence");
	SCIClose(sd3, NO_FLAGS, &err);
	EXPECT_OK("SCIClose with a leaked sequence");
	SCIRemoveSequence(s3, NO_FLAGS, &err);
	EXPECT_OK("SCIRemoveSequence after its map and descriptor went");
	return;
disconnect:
	SCIDisconnectSegment(r3, NO_FLAGS, &err);
close:
	SCIClose(sd3, NO_FLAGS, &err);
}

static void client_user_segment(sci_desc_t sd, unsigned int rn)
{
	sci_error_t err;
	sci_remote_segment_t useg;
	sci_map_t map;
	volatile unsigned char *mem;
	size_t i, bad;
	time_t t0 = time(NULL);

	do {
		SCIConnectSegment(sd, &useg, rn, SEG_SMOKE_USER, 0, NO_CALLBACK, NO_ARG, 1000, NO_FLAGS,
				  &err);
	} while ((err == SCI_ERR_NO_SUCH_SEGMENT || err == SCI_ERR_CONNECTION_REFUSED ||
		  err == SCI_ERR_TIMEOUT) && time(NULL) - t0 < 60);
	EXPECT_OK("SCIConnectSegment (server's registered buffer)");
	if (err != SCI_ERR_OK)
		return;
	result(SCIGetRemoteSegmentSize(useg) == USER_SIZE, "registered buffer's size", SCI_ERR_OK);
	mem = SCIMapRemoteSegment(useg, &map, 0, USER_SIZE, NULL, NO_FLAGS, &err);
	EXPECT_OK("SCIMapRemoteSegment (registered buffer)");
	if (err == SCI_ERR_OK) {
		for (bad = 0, i = 0; i < USER_SIZE; i++)
			bad += mem[i] != pat_user(i);
		result(bad == 0, "PIO read of the server's registered buffer", SCI_ERR_TRANSFER_FAILED);
		*(volatile unsigned int *)(mem + USER_WORD_OFF) = USER_WORD;
		SCIFlush(NULL, NO_FLAGS);
		SCIUnmapSegment(map, NO_FLAGS, &err);
		EXPECT_OK("SCIUnmapSegment (registered buffer)");
	}
	SCIDisconnectSegment(useg, NO_FLAGS, &err);
	EXPECT_OK("SCIDisconnectSegment (registered buffer)");
}

static int client(sci_desc_t sd, unsigned int rn)
{
	sci_error_t err;
	sci_remote_segment_t rseg = NULL;
	sci_local_segment_t lseg = NULL;
	sci_map_t rmap = NULL, lmap = NULL;
	sci_sequence_t seq = NULL;
	sci_dma_queue_t dq = NULL;
	sci_remote_interrupt_t done = NULL;
	sci_remote_data_interrupt_t dintr = NULL;
	sci_local_data_interrupt_t verdict = NULL;
	volatile unsigned char *rmem, *lmem;
	unsigned char buf[SEG_SIZE / 4], msg[128];
	unsigned int no, len;
	size_t i, bad;
	int dma = 0;
	dis_dma_vec_t vec[2];
	sci_dma_queue_state_t st;
	time_t t0;

	no = DINTR_CLIENT;
	SCICreateDataInterrupt(sd, &verdict, 0, &no, NO_CALLBACK, NO_ARG, SCI_FLAG_FIXED_INTNO, &err);
	REQUIRE_OK("SCICreateDataInterrupt (verdict)");

	SCIConnectSegment(sd, &rseg, rn, 0x7fff0000u, 0, NO_CALLBACK, NO_ARG, 2000, NO_FLAGS, &err);
	result(err == SCI_ERR_NO_SUCH_SEGMENT || err == SCI_ERR_TIMEOUT,
	       "SCIConnectSegment to a missing segment fails", err);
	t0 = time(NULL);
	do {
		SCIConnectSegment(sd, &rseg, rn, SEG_SMOKE, 0, NO_CALLBACK, NO_ARG, 1000, NO_FLAGS, &err);
	} while ((err == SCI_ERR_NO_SUCH_SEGMENT || err == SCI_ERR_CONNECTION_REFUSED ||
		  err == SCI_ERR_TIMEOUT) && time(NULL) - t0 < 60);
	REQUIRE_OK("SCIConnectSegment");
	result(SCIGetRemoteSegmentSize(rseg) == SEG_SIZE, "SCIGetRemoteSegmentSize", SCI_ERR_OK);
	result(SCIGetRemoteSegmentId(rseg) == SEG_SMOKE, "SCIGetRemoteSegmentId", SCI_ERR_OK);
	result(SCIGetRemoteSegmentNodeId(rseg) == rn, "SCIGetRemoteSegmentNodeId", SCI_ERR_OK);
	rmem = SCIMapRemoteSegment(rseg, &rmap, 0, SEG_SIZE, NULL, NO_FLAGS, &err);
	REQUIRE_OK("SCIMapRemoteSegment");
	SCICreateMapSequence(rmap, &seq, NO_FLAGS, &err);
	REQUIRE_OK("SCICreateMapSequence");
	result(SCIStartSequence(seq, NO_FLAGS, &err) == SCI_SEQ_OK && err == SCI_ERR_OK,
	       "SCIStartSequence", err);

	for (bad = 0, i = 0; i < SEG_SIZE / 2; i++)
		bad += rmem[i] != pat_server(i);
	result(bad == 0, "PIO read of the server's pattern", SCI_ERR_TRANSFER_FAILED);

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = pat_client(SEG_SIZE / 2 + i);
	SCIMemCpy(seq, buf, rmap, SEG_SIZE / 2, sizeof(buf), SCI_FLAG_ERROR_CHECK, &err);
	EXPECT_OK("SCIMemCpy");
	SCIMemCpy(seq, buf, rmap, SEG_SIZE - 8, 16, NO_FLAGS, &err);
	EXPECT_ERR(SCI_ERR_OUT_OF_RANGE, "SCIMemCpy beyond the end is OUT_OF_RANGE");
	SCIStoreBarrier(seq, NO_FLAGS);
	result(SCICheckSequence(seq, NO_FLAGS, &err) == SCI_SEQ_OK && err == SCI_ERR_OK,
	       "SCICheckSequence", err);

	SCICreateDMAQueue(sd, &dq, 0, 4, NO_FLAGS, &err);
	if (err == SCI_ERR_OK) {
		SCICreateSegment(sd, &lseg, SEG_SMOKE_DMA, SEG_SIZE / 2, NO_CALLBACK, NO_ARG, NO_FLAGS, &err);
		REQUIRE_OK("SCICreateSegment (DMA)");
		SCIPrepareSegment(lseg, 0, NO_FLAGS, &err);
		REQUIRE_OK("SCIPrepareSegment (DMA)");
		lmem = SCIMapLocalSegment(lseg, &lmap, 0, SEG_SIZE / 2, NULL, NO_FLAGS, &err);
		REQUIRE_OK("SCIMapLocalSegment (DMA)");
		for (i = 0; i < SEG_SIZE / 4; i++)
			lmem[i] = pat_dma(SEG_SIZE * 3 / 4 + i);
		SCIStartDmaTransfer(dq, lseg, rseg, 0, SEG_SIZE / 4, SEG_SIZE * 3 / 4, NO_CALLBACK,
				    NO_ARG, SCI_FLAG_DMA_WAIT, &err);
		EXPECT_OK("SCIStartDmaTransfer (write, DMA_WAIT)");
		dma = err == SCI_ERR_OK;
		vec[0].size = 4096;
		vec[0].local_offset = SEG_SIZE / 4;
		vec[0].remote_offset = 0;
		vec[0].flags = 0;
		vec[1].size = 4096;
		vec[1].local_offset = SEG_SIZE / 4 + 4096;
		vec[1].remote_offset = 8192;
		vec[1].flags = 0;
		SCIStartDmaTransferVec(dq, lseg, rseg, 2, vec, NO_CALLBACK, NO_ARG, SCI_FLAG_DMA_READ, &err);
		EXPECT_OK("SCIStartDmaTransferVec (read)");
		st = SCIWaitForDMAQueue(dq, TIMEOUT, NO_FLAGS, &err);
		result(err == SCI_ERR_OK && st == SCI_DMAQUEUE_DONE, "SCIWaitForDMAQueue", err);
		result(SCIDMAQueueState(dq) == SCI_DMAQUEUE_DONE, "SCIDMAQueueState is DONE", SCI_ERR_OK);
		for (bad = 0, i = 0; i < 4096; i++) {
			bad += lmem[SEG_SIZE / 4 + i] != pat_server(i);
			bad += lmem[SEG_SIZE / 4 + 4096 + i] != pat_server(8192 + i);
		}
		result(bad == 0, "DMA read of the server's pattern verified", SCI_ERR_TRANSFER_FAILED);
		SCIStartDmaTransfer(dq, lseg, rseg, 0, SEG_SIZE, 0, NO_CALLBACK, NO_ARG,
				    SCI_FLAG_DMA_WAIT, &err);
		result(err != SCI_ERR_OK, "SCIStartDmaTransfer beyond the segments fails", err);
		dma_other_descriptor(lseg, rseg, lmem);
	} else {
		printf("SKIP DMA: SCICreateDMAQueue: %s\n", SCIGetErrorString(err));
		dq = NULL;
	}

	client_user_segment(sd, rn);
	sequence_outlives_map(rn);

	t0 = time(NULL);
	do {
		SCIConnectDataInterrupt(sd, &dintr, rn, 0, DINTR_SERVER, 1000, NO_FLAGS, &err);
	} while ((err == SCI_ERR_NO_SUCH_SEGMENT || err == SCI_ERR_TIMEOUT) && time(NULL) - t0 < 60);
	REQUIRE_OK("SCIConnectDataInterrupt");
	memcpy(msg, "hello", 6);
	msg[6] = dma ? 'D' : '-';
	SCITriggerDataInterrupt(dintr, msg, 7, NO_FLAGS, &err);
	EXPECT_OK("SCITriggerDataInterrupt");
	SCIConnectInterrupt(sd, &done, rn, 0, INTR_DONE, TIMEOUT, NO_FLAGS, &err);
	REQUIRE_OK("SCIConnectInterrupt");
	SCITriggerInterrupt(done, NO_FLAGS, &err);
	EXPECT_OK("SCITriggerInterrupt");

	len = sizeof(msg);
	SCIWaitForDataInterrupt(verdict, msg, &len, TIMEOUT, NO_FLAGS, &err);
	result(err == SCI_ERR_OK && len == 4 && !memcmp(msg, "PASS", 4),
	       "server's verdict", err);
out:
	if (done) {
		SCIDisconnectInterrupt(done, NO_FLAGS, &err);
		EXPECT_OK("SCIDisconnectInterrupt");
	}
	if (dintr) {
		SCIDisconnectDataInterrupt(dintr, NO_FLAGS, &err);
		EXPECT_OK("SCIDisconnectDataInterrupt");
	}
	if (dq) {
		SCIRemoveDMAQueue(dq, NO_FLAGS, &err);
		EXPECT_OK("SCIRemoveDMAQueue");
	}
	if (lmap)
		SCIUnmapSegment(lmap, NO_FLAGS, &err);
	if (lseg) {
		SCIRemoveSegment(lseg, NO_FLAGS, &err);
		EXPECT_OK("SCIRemoveSegment (DMA)");
	}
	if (seq) {
		SCIRemoveSequence(seq, NO_FLAGS, &err);
		EXPECT_OK("SCIRemoveSequence");
	}
	if (rmap) {
		SCIDisconnectSegment(rseg, NO_FLAGS, &err);
		EXPECT_ERR(SCI_ERR_BUSY, "SCIDisconnectSegment while mapped is BUSY");
		SCIUnmapSegment(rmap, NO_FLAGS, &err);
		EXPECT_OK("SCIUnmapSegment");
	}
	if (rseg) {
		SCIDisconnectSegment(rseg, NO_FLAGS, &err);
		EXPECT_OK("SCIDisconnectSegment");
	}
	if (verdict) {
		SCIRemoveDataInterrupt(verdict, NO_FLAGS, &err);
		EXPECT_OK("SCIRemoveDataInterrupt");
	}
	return failures;
}

int main(int argc, char **argv)
{
	unsigned int rn = ~0u;
	int role = -1, i;
	sci_desc_t sd;
	sci_error_t err;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-server"))
			role = 1;
		else if (!strcmp(argv[i], "-client"))
			role = 0;
		else if (!strcmp(argv[i], "-rn") && i + 1 < argc)
			rn = strtoul(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: sisci-c-smoke [-server|-client -rn <remote node id: 4, 8, ...>]\n");
			return 2;
		}
	}

	SCIOpen(&sd, NO_FLAGS, &err);
	EXPECT_ERR(SCI_ERR_NOT_INITIALIZED, "SCIOpen before SCIInitialize is NOT_INITIALIZED");
	SCIInitialize(NO_FLAGS, &err);
	EXPECT_OK("SCIInitialize");
	SCIOpen(&sd, NO_FLAGS, &err);
	if (err != SCI_ERR_OK) {
		printf("FAIL SCIOpen: %s (0x%x)\n", SCIGetErrorString(err), err);
		return 1;
	}
	printf("PASS SCIOpen\n");
	local_checks(sd);
	if (role == 1 && rn != ~0u)
		server(sd, rn);
	else if (role == 0 && rn != ~0u)
		client(sd, rn);
	SCIClose(sd, NO_FLAGS, &err);
	EXPECT_OK("SCIClose");
	SCITerminate();
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
