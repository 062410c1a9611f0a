/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sisci-edu: QEMU's "edu" test device (a stand-in for an FPGA with a DMA
 * engine) driven from user space on another node than the one it sits in,
 * with nothing but the SISCI API (the SmartIO calls). docs/smartio.md
 * describes it.
 *
 *   sisci-edu --serve SEGID [--seed S] [--timeout SECONDS]
 *   sisci-edu --mc-member GROUP [--seed S] [--timeout SECONDS]
 *   sisci-edu --driver --remote-node N --remote-seg SEGID --group GROUP
 *             [--fdid F] [--exclusive] [--seed S] [--timeout SECONDS]
 *
 * Node ids (N, and those printed) are SISCI's: 4, 8, 12, ... (rsio node n
 * is 4 * (n + 1)).
 *
 * --serve      (a peer node) creates a 4 KiB segment SEGID, prepares it and
 *              makes it available, prints "serving ...", waits until the
 *              driver's "remote" pattern is in it (every byte), prints
 *              PASS or FAIL (--timeout), removes it and exits.
 * --mc-member  (a peer node) a 4 KiB multicast segment of GROUP
 *              (SCI_FLAG_BROADCAST: the segment id is the group); waits for
 *              the driver's "multicast" pattern the same way.
 * --driver     borrows the edu (the first device 1234:11e8 lent in the
 *              cluster, or --fdid; shared, or --exclusive), maps BAR0,
 *              checks the identification and liveness registers, then:
 *              (a) local round trip: its DMA engine copies a local segment
 *                  A into its 4 KiB buffer and the buffer into a local
 *                  segment B (both mapped with SCIMapLocalSegmentForDevice);
 *              (b) its DMA from the buffer into node N's segment SEGID
 *                  (SCIConnectSegment + SCIMapRemoteSegmentForDevice), also
 *                  read back here through the connection;
 *              (c) its DMA from the buffer into multicast group GROUP
 *                  (SCIConnectSegment with SCI_FLAG_BROADCAST +
 *                  SCIMapRemoteSegmentForDevice of that connection: every
 *                  member receives; the --mc-member processes verify);
 *              (d) the adapter's DMA engine and the device's BAR
 *                  (SCICreateDMAQueue + SCIStartDmaTransfer(Vec) with the
 *                  BAR0 segment as the remote segment): a value DMA-written
 *                  into the liveness register, read back (its bitwise NOT)
 *                  with SCI_FLAG_DMA_READ and through the BAR mapping; the
 *                  identification register DMA-read; a vectored write+read;
 *                  a transfer beyond the BAR refused.
 *              Then it gives everything back and returns the device.
 *
 * Patterns: 4096 bytes, byte i a function of i, --seed (default 1) and the
 * target (local, remote, multicast), so a peer can only pass on the
 * driver's data of this run's seed. Output: PASS/FAIL lines and a final
 * "PASS: 0 failure(s)" or "FAIL: N failure(s)"; exit status 0, 1 on any
 * failure, 2 on usage errors.
 *
 * The edu (hw/misc/edu.c): BAR0, 1 MiB of registers; 0x00 identification
 * 0x010000ed, 0x04 liveness (reads the bitwise NOT of what was written),
 * 0x80/0x88 DMA source/destination (64-bit), 0x90 count, 0x98 command (bit 0
 * run, bit 1 direction: 1 = buffer to RAM); its buffer is at device address
 * 0x40000 and is not visible through BAR0. It must be created with
 * dma_mask=0xffffffffffffffff (28 bits by default: it would clamp the bus
 * addresses SmartIO gives it). Registers below 0x80 take 32-bit accesses
 * only; the DMA addresses are written with 64-bit stores (a 32-bit store
 * sets the whole register).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sisci_api.h"
#include "sisci_error.h"

#define EDU_VENDOR 0x1234u
#define EDU_DEVICE 0x11e8u
#define EDU_IDENT 0x010000edu

#define REG_IDENT 0x00
#define REG_LIVENESS 0x04
#define REG_DMA_SRC 0x80
#define REG_DMA_DST 0x88
#define REG_DMA_CNT 0x90
#define REG_DMA_CMD 0x98
#define DMA_CMD_RUN 0x1u
#define DMA_CMD_TO_RAM 0x2u	/* else RAM to the buffer */
#define EDU_BUF 0x40000u	/* the buffer, as the device addresses it */
#define EDU_BUF_SIZE 4096u

#define SEG_SIZE 4096u
#define DMA_TIMEOUT 10.0	/* seconds for one edu transfer */
#define LAND_TIMEOUT 5.0	/* seconds for its data to show */

enum kind { K_LOCAL = 1, K_REMOTE = 2, K_MCAST = 3 };
enum mode { MODE_NONE, MODE_SERVE, MODE_MEMBER, MODE_DRIVER };

static struct {
	enum mode mode;
	unsigned int segid;
	int segid_set;
	unsigned int group;
	int group_set;
	int remote_node;
	uint32_t fdid;
	int exclusive;
	unsigned int seed;
	unsigned int timeout;
} opt = {
	.remote_node = -1,
	.seed = 1,
	.timeout = 120,
};

static unsigned int my_node;
static volatile sig_atomic_t stop;
static int failures;

/* ---- Output -------------------------------------------------------------- */

static void vline(const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, stdout);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
}

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("", fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 1, 2))) static void pass(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("PASS ", fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	va_list ap;

	failures++;
	va_start(ap, fmt);
	vline("FAIL ", fmt, ap);
	va_end(ap);
}

/* 1 if err is SCI_ERR_OK, else a FAIL line naming the call. */
static int ok(sci_error_t err, const char *what)
{
	if (err == SCI_ERR_OK)
		return 1;
	fail("%s: %s (0x%x)", what, SCIGetErrorString(err), (unsigned int)err);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- Patterns ------------------------------------------------------------ */

static uint8_t pattern(enum kind k, size_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u ^ (opt.seed * 40503u + (uint32_t)k * 0x9e3779b9u);

	x ^= x >> 15;
	x *= 0x2c1b3c6du;
	x ^= x >> 12;
	return (uint8_t)(x | 1);	/* never 0: a fresh segment holds zeroes */
}

static const char *kind_name(enum kind k)
{
	return k == K_LOCAL ? "local" : k == K_REMOTE ? "remote" : "multicast";
}

static void fill(volatile uint8_t *p, enum kind k)
{
	size_t i;

	for (i = 0; i < SEG_SIZE; i++)
		p[i] = pattern(k, i);
}

/* Bytes of p that differ from k's pattern; the first such offset in *first. */
static size_t differ(const volatile uint8_t *p, enum kind k, size_t *first)
{
	size_t i, n = 0;

	for (i = SEG_SIZE; i-- > 0;)
		if (p[i] != pattern(k, i)) {
			n++;
			*first = i;
		}
	return n;
}

/*
 * Waits until p holds k's pattern (at most `seconds`): 0 when it does, else
 * the number of bytes that still differ (the first in *first).
 */
static size_t wait_pattern(const volatile uint8_t *p, enum kind k, double seconds, size_t *first)
{
	double t0 = now();
	size_t n;

	while ((n = differ(p, k, first)) != 0 && !stop && now() - t0 < seconds)
		sleep_ms(2);
	return n;
}

/* ---- Peers: --serve and --mc-member -------------------------------------- */

/* Waits (up to --timeout) until a connected peer disconnects from seg. */
static void wait_disconnect(sci_local_segment_t seg)
{
	double t0 = now();
	unsigned int node, adapter;
	sci_segment_cb_reason_t why;
	sci_error_t err;

	while (now() - t0 < opt.timeout) {
		why = SCIWaitForLocalSegmentEvent(seg, &node, &adapter, 1000, NO_FLAGS, &err);
		if (err == SCI_ERR_OK && (why == SCI_CB_DISCONNECT || why == SCI_CB_LOST))
			return;
		if (err != SCI_ERR_OK && err != SCI_ERR_TIMEOUT)
			return;
	}
}

static void run_peer(sci_desc_t sd, int member)
{
	unsigned int id = member ? opt.group : opt.segid;
	enum kind k = member ? K_MCAST : K_REMOTE;
	sci_local_segment_t seg;
	sci_map_t map = NULL;
	volatile uint8_t *p;
	sci_error_t err;
	size_t n, first = 0;
	double t0;

	SCICreateSegment(sd, &seg, id, SEG_SIZE, NO_CALLBACK, NO_ARG,
			 member ? SCI_FLAG_BROADCAST : NO_FLAGS, &err);
	if (!ok(err, member ? "SCICreateSegment(SCI_FLAG_BROADCAST)" : "SCICreateSegment"))
		return;
	SCIPrepareSegment(seg, 0, NO_FLAGS, &err);
	if (!ok(err, "SCIPrepareSegment"))
		goto remove;
	SCISetSegmentAvailable(seg, 0, NO_FLAGS, &err);
	if (!ok(err, "SCISetSegmentAvailable"))
		goto remove;
	p = SCIMapLocalSegment(seg, &map, 0, SEG_SIZE, NULL, NO_FLAGS, &err);
	if (!ok(err, "SCIMapLocalSegment")) {
		map = NULL;
		goto remove;
	}
	if (member)
		say("member of multicast group %u on node %u: waiting for the %s pattern (seed %u)",
		    id, my_node, kind_name(k), opt.seed);
	else
		say("serving segment 0x%x on node %u: waiting for the %s pattern (seed %u)", id,
		    my_node, kind_name(k), opt.seed);
	t0 = now();
	n = wait_pattern(p, k, opt.timeout, &first);
	if (n == 0)
		pass("%s: %u bytes of the %s pattern (seed %u) verified after %.1f s",
		     member ? "multicast member" : "served segment", SEG_SIZE, kind_name(k),
		     opt.seed, now() - t0);
	else
		fail("%s: %zu of %u bytes differ after %.0f s (first at %zu: 0x%02x, expected 0x%02x)",
		     member ? "multicast member" : "served segment", n, SEG_SIZE, now() - t0, first,
		     p[first], pattern(k, first));
	/* The driver reads the data back too: keep the segment until it
	 * disconnects (removing it would take its connection away). */
	if (!member)
		wait_disconnect(seg);
	SCIUnmapSegment(map, NO_FLAGS, &err);
	ok(err, "SCIUnmapSegment");
remove:
	SCIRemoveSegment(seg, NO_FLAGS, &err);
	ok(err, "SCIRemoveSegment");
}

/* ---- The driver ------------------------------------------------------------ */

struct edu {
	sci_desc_t sd;
	sci_smartio_device_t dev;
	uint32_t fdid;
	unsigned int lender;
	sci_remote_segment_t bar_seg;
	sci_map_t bar_map;
	volatile uint8_t *bar;
	size_t bar_size;
};

static uint32_t rd32(struct edu *e, unsigned int off)
{
	return *(volatile uint32_t *)(e->bar + off);
}

static void wr32(struct edu *e, unsigned int off, uint32_t v)
{
	*(volatile uint32_t *)(e->bar + off) = v;
}

static uint64_t rd64(struct edu *e, unsigned int off)
{
	return *(volatile uint64_t *)(e->bar + off);
}

static void wr64(struct edu *e, unsigned int off, uint64_t v)
{
	*(volatile uint64_t *)(e->bar + off) = v;
}

/*
 * One transfer of the edu's engine: `len` bytes from RAM address `ram` to
 * its buffer (to_ram 0) or from its buffer to `ram` (to_ram 1), offset 0 of
 * the buffer. Polls the command register until the run bit clears.
 */
static int edu_dma(struct edu *e, uint64_t ram, uint32_t len, int to_ram, const char *what)
{
	uint64_t src = to_ram ? EDU_BUF : ram, dst = to_ram ? ram : EDU_BUF;
	double t0;

	if (rd32(e, REG_DMA_CMD) & DMA_CMD_RUN) {
		fail("%s: the edu's DMA engine is busy", what);
		return -1;
	}
	wr64(e, REG_DMA_SRC, src);
	wr64(e, REG_DMA_DST, dst);
	wr32(e, REG_DMA_CNT, len);
	/* Read back: the posted writes have landed, and 64-bit stores work. */
	if (rd64(e, REG_DMA_SRC) != src || rd64(e, REG_DMA_DST) != dst ||
	    rd32(e, REG_DMA_CNT) != len) {
		fail("%s: DMA registers read back src 0x%" PRIx64 " dst 0x%" PRIx64
		     " count %u, wrote 0x%" PRIx64 " 0x%" PRIx64 " %u", what,
		     rd64(e, REG_DMA_SRC), rd64(e, REG_DMA_DST), rd32(e, REG_DMA_CNT), src, dst, len);
		return -1;
	}
	SCIFlush(NULL, NO_FLAGS);	/* the CPU's stores into RAM before the start */
	wr32(e, REG_DMA_CMD, DMA_CMD_RUN | (to_ram ? DMA_CMD_TO_RAM : 0));
	t0 = now();
	while (rd32(e, REG_DMA_CMD) & DMA_CMD_RUN) {
		if (now() - t0 > DMA_TIMEOUT) {
			fail("%s: the edu's transfer did not end in %.0f s", what, DMA_TIMEOUT);
			return -1;
		}
		sleep_ms(1);
	}
	return 0;
}

static int find_edu(sci_desc_t sd, uint32_t *fdid)
{
	sci_smartio_device_info_t filter;
	uint32_t ids[32];
	size_t n, i;
	sci_error_t err;

	memset(&filter, 0, sizeof(filter));
	filter.pci_vendor_id = EDU_VENDOR;
	filter.pci_device_id = EDU_DEVICE;
	n = SCIGetDeviceList(sd, ids, 32, &filter, NO_FLAGS, &err);
	if (!ok(err, "SCIGetDeviceList(1234:11e8)"))
		return -1;
	if (n == 0) {
		fail("SCIGetDeviceList: no edu device (1234:11e8) lent in the fabric");
		return -1;
	}
	*fdid = ids[0];
	if (opt.fdid) {
		for (i = 0; i < n && ids[i] != opt.fdid; i++)
			;
		if (i == n) {
			fail("SCIGetDeviceList: fabric device 0x%x is not among the %zu edu devices",
			     opt.fdid, n);
			return -1;
		}
		*fdid = opt.fdid;
	}
	pass("SCIGetDeviceList: %zu edu device(s), using fabric device 0x%x", n, *fdid);
	return 0;
}

/* Borrows the edu, maps BAR0, checks identification and liveness. */
static int edu_open(struct edu *e, uint32_t fdid)
{
	sci_smartio_device_info_t info;
	sci_smartio_query_device_t q;
	sci_error_t err;
	uint32_t id, live;
	volatile void *p;

	SCIBorrowDevice(e->sd, &e->dev, fdid, opt.exclusive ? SCI_FLAG_EXCLUSIVE : SCI_FLAG_SHARED,
			&err);
	if (!ok(err, opt.exclusive ? "SCIBorrowDevice(SCI_FLAG_EXCLUSIVE)" :
		     "SCIBorrowDevice(SCI_FLAG_SHARED)")) {
		e->dev = NULL;
		return -1;
	}
	e->fdid = SCIGetFabricDeviceId(e->dev);
	memset(&info, 0, sizeof(info));
	q.fdid = e->fdid;
	q.subcommand = SCI_Q_DEVICE_INFO;
	q.data = &info;
	SCIQuery(SCI_Q_DEVICE, &q, NO_FLAGS, &err);
	if (!ok(err, "SCIQuery(SCI_Q_DEVICE)"))
		return -1;
	e->lender = info.lender_node;
	pass("SCIBorrowDevice(%s): fabric device 0x%x, %04x:%04x class %06x, lent by node %u (%.*s)",
	     opt.exclusive ? "exclusive" : "shared", e->fdid, info.pci_vendor_id,
	     info.pci_device_id, info.pci_class, info.lender_node, SCI_SMARTIO_USER_NAME_LEN,
	     info.user_name);
	if (info.pci_vendor_id != EDU_VENDOR || info.pci_device_id != EDU_DEVICE) {
		fail("fabric device 0x%x is no edu", e->fdid);
		return -1;
	}

	SCIConnectDeviceSegment(e->dev, &e->bar_seg, 0, SCI_MEMTYPE_BAR, NO_CALLBACK, NO_ARG,
				NO_FLAGS, &err);
	if (!ok(err, "SCIConnectDeviceSegment(BAR 0)")) {
		e->bar_seg = NULL;
		return -1;
	}
	e->bar_size = SCIGetRemoteSegmentSize(e->bar_seg);
	if (e->bar_size < 0x100) {
		fail("BAR0 of %zu bytes is too small for an edu", e->bar_size);
		return -1;
	}
	p = SCIMapRemoteSegment(e->bar_seg, &e->bar_map, 0, e->bar_size, NULL,
				SCI_FLAG_IO_MAP_IOSPACE, &err);
	if (!ok(err, "SCIMapRemoteSegment(BAR 0, SCI_FLAG_IO_MAP_IOSPACE)")) {
		e->bar_map = NULL;
		return -1;
	}
	e->bar = (volatile uint8_t *)p;
	id = rd32(e, REG_IDENT);
	if (id != EDU_IDENT) {
		fail("BAR0: identification register reads 0x%08x, expected 0x%08x", id, EDU_IDENT);
		return -1;
	}
	wr32(e, REG_LIVENESS, 0x5a5aa5a5u ^ opt.seed);
	live = rd32(e, REG_LIVENESS);
	if (live != ~(0x5a5aa5a5u ^ opt.seed)) {
		fail("BAR0: liveness register reads 0x%08x after 0x%08x was written", live,
		     0x5a5aa5a5u ^ opt.seed);
		return -1;
	}
	pass("BAR0 mapped: %zu KiB, identification 0x%08x, liveness check 0x%08x -> 0x%08x",
	     e->bar_size / 1024, id, 0x5a5aa5a5u ^ opt.seed, live);
	return 0;
}

static void edu_close(struct edu *e)
{
	sci_error_t err;

	if (e->bar_map) {
		SCIUnmapSegment(e->bar_map, NO_FLAGS, &err);
		ok(err, "SCIUnmapSegment(BAR 0)");
	}
	if (e->bar_seg) {
		SCIDisconnectSegment(e->bar_seg, NO_FLAGS, &err);
		ok(err, "SCIDisconnectSegment(BAR 0)");
	}
	if (e->dev) {
		SCIReturnDevice(e->dev, NO_FLAGS, &err);
		if (ok(err, "SCIReturnDevice"))
			pass("SCIReturnDevice: fabric device 0x%x returned", e->fdid);
	}
}

/* A local segment of SEG_SIZE mapped here and (for_dev) for the device. */
struct lbuf {
	sci_local_segment_t seg;
	sci_map_t map;
	volatile uint8_t *va;
	sci_ioaddr_t io;
	int for_dev;
};

static int lbuf_alloc(struct edu *e, struct lbuf *b, int for_dev, const char *what)
{
	sci_error_t err;
	char call[96];

	memset(b, 0, sizeof(*b));
	SCICreateSegment(e->sd, &b->seg, 0, SEG_SIZE, NO_CALLBACK, NO_ARG, SCI_FLAG_AUTO_ID, &err);
	if (!ok(err, "SCICreateSegment")) {
		b->seg = NULL;
		return -1;
	}
	SCIPrepareSegment(b->seg, 0, NO_FLAGS, &err);
	if (!ok(err, "SCIPrepareSegment"))
		return -1;
	b->va = SCIMapLocalSegment(b->seg, &b->map, 0, SEG_SIZE, NULL, NO_FLAGS, &err);
	if (!ok(err, "SCIMapLocalSegment")) {
		b->map = NULL;
		return -1;
	}
	memset((void *)b->va, 0, SEG_SIZE);
	if (!for_dev)
		return 0;
	SCIMapLocalSegmentForDevice(b->seg, 0, e->dev, &b->io, 0, SEG_SIZE, NO_FLAGS, &err);
	snprintf(call, sizeof(call), "SCIMapLocalSegmentForDevice (%s)", what);
	if (!ok(err, call))
		return -1;
	b->for_dev = 1;
	return 0;
}

static void lbuf_free(struct edu *e, struct lbuf *b)
{
	sci_error_t err;

	if (b->for_dev) {
		SCIUnmapLocalSegmentForDevice(b->seg, 0, e->dev, NO_FLAGS, &err);
		ok(err, "SCIUnmapLocalSegmentForDevice");
	}
	if (b->map) {
		SCIUnmapSegment(b->map, NO_FLAGS, &err);
		ok(err, "SCIUnmapSegment");
	}
	if (b->seg) {
		SCIRemoveSegment(b->seg, NO_FLAGS, &err);
		ok(err, "SCIRemoveSegment");
	}
	memset(b, 0, sizeof(*b));
}

/* (a) A -> edu buffer -> B. */
static void test_local(struct edu *e, struct lbuf *a)
{
	struct lbuf b;
	size_t n, first = 0;

	if (lbuf_alloc(e, &b, 1, "segment B") == 0) {
		fill(a->va, K_LOCAL);
		if (edu_dma(e, a->io, SEG_SIZE, 0, "(a) segment A -> edu") == 0 &&
		    edu_dma(e, b.io, SEG_SIZE, 1, "(a) edu -> segment B") == 0) {
			n = wait_pattern(b.va, K_LOCAL, LAND_TIMEOUT, &first);
			if (n == 0)
				pass("(a) local round trip: segment A (ioaddr 0x%" PRIx64 ") -> edu buffer -> segment B (ioaddr 0x%" PRIx64 "): %u bytes verified",
				     a->io, b.io, SEG_SIZE);
			else
				fail("(a) local round trip: %zu of %u bytes differ (first at %zu)", n,
				     SEG_SIZE, first);
		}
	}
	lbuf_free(e, &b);
}

/*
 * Connects to node's segment id (retrying until --timeout), or to multicast
 * group id (node < 0).
 */
static int connect_retry(struct edu *e, sci_remote_segment_t *r, int node, unsigned int id)
{
	double t0 = now();
	sci_error_t err;

	for (;;) {
		if (node < 0)
			SCIConnectSegment(e->sd, r, DIS_BROADCAST_NODEID_GROUP_ALL, id, 0, NO_CALLBACK,
					  NO_ARG, 5000, SCI_FLAG_BROADCAST, &err);
		else
			SCIConnectSegment(e->sd, r, (unsigned int)node, id, 0, NO_CALLBACK, NO_ARG,
					  5000, NO_FLAGS, &err);
		if (err == SCI_ERR_OK)
			return 0;
		if (stop || now() - t0 > opt.timeout ||
		    (err != SCI_ERR_NO_SUCH_SEGMENT && err != SCI_ERR_CONNECTION_REFUSED &&
		     err != SCI_ERR_TIMEOUT)) {
			if (node < 0)
				ok(err, "SCIConnectSegment(multicast group, SCI_FLAG_BROADCAST)");
			else
				ok(err, "SCIConnectSegment(remote segment)");
			*r = NULL;
			return -1;
		}
		sleep_ms(100);
	}
}

/*
 * (b) and (c): A (holding k's pattern) -> edu buffer -> the connection r,
 * mapped for the device. Reads a unicast connection back.
 */
static void test_connection(struct edu *e, struct lbuf *a, sci_remote_segment_t r, enum kind k,
			    const char *name)
{
	sci_ioaddr_t io;
	sci_error_t err;
	sci_map_t map = NULL;
	volatile uint8_t *p;
	size_t n, first = 0;
	char what[160];

	SCIMapRemoteSegmentForDevice(r, e->dev, &io, 0, SEG_SIZE, NO_FLAGS, &err);
	snprintf(what, sizeof(what), "SCIMapRemoteSegmentForDevice (%s)", name);
	if (!ok(err, what))
		return;
	fill(a->va, k);
	snprintf(what, sizeof(what), "%s: segment A -> edu", name);
	if (edu_dma(e, a->io, SEG_SIZE, 0, what) == 0) {
		snprintf(what, sizeof(what), "%s: edu -> ioaddr 0x%" PRIx64, name, io);
		if (edu_dma(e, io, SEG_SIZE, 1, what) == 0) {
			if (k == K_MCAST) {
				pass("%s: segment A -> edu buffer -> ioaddr 0x%" PRIx64 ": %u bytes written to the group (the members verify)",
				     name, io, SEG_SIZE);
			} else {
				p = SCIMapRemoteSegment(r, &map, 0, SEG_SIZE, NULL, NO_FLAGS, &err);
				if (ok(err, "SCIMapRemoteSegment (remote segment)")) {
					n = wait_pattern(p, k, LAND_TIMEOUT, &first);
					if (n == 0)
						pass("%s: segment A -> edu buffer -> ioaddr 0x%" PRIx64 ": %u bytes, read back here",
						     name, io, SEG_SIZE);
					else
						fail("%s: %zu of %u bytes differ when read back (first at %zu)",
						     name, n, SEG_SIZE, first);
					SCIUnmapSegment(map, NO_FLAGS, &err);
					ok(err, "SCIUnmapSegment (remote segment)");
				}
			}
		}
	}
	SCIUnmapRemoteSegmentForDevice(r, e->dev, NO_FLAGS, &err);
	ok(err, "SCIUnmapRemoteSegmentForDevice");
}

/* One transfer of the adapter's engine between c and BAR0, waited for. */
static int bar_dma(struct edu *e, sci_dma_queue_t dq, struct lbuf *c, size_t loff, size_t len,
		   size_t roff, unsigned int flags, const char *what)
{
	sci_error_t err;
	sci_dma_queue_state_t st;

	SCIStartDmaTransfer(dq, c->seg, e->bar_seg, loff, len, roff, NO_CALLBACK, NO_ARG, flags,
			    &err);
	if (!ok(err, what))
		return -1;
	st = SCIWaitForDMAQueue(dq, 10000, NO_FLAGS, &err);
	if (!ok(err, "SCIWaitForDMAQueue"))
		return -1;
	if (st != SCI_DMAQUEUE_DONE) {
		fail("%s: queue state %d after the wait", what, (int)st);
		return -1;
	}
	return 0;
}

/* (d) The adapter's DMA engine to and from the device's registers. */
static void test_bar_dma(struct edu *e)
{
	sci_dma_queue_t dq;
	sci_error_t err;
	struct lbuf c;
	volatile uint32_t *w;
	uint32_t v = 0x12345678u ^ (opt.seed << 8), v2 = 0xc0ffee00u ^ opt.seed;
	dis_dma_vec_t vec[3];
	sci_dma_queue_state_t st;

	SCICreateDMAQueue(e->sd, &dq, 0, 4, NO_FLAGS, &err);
	if (!ok(err, "SCICreateDMAQueue"))
		return;
	if (lbuf_alloc(e, &c, 0, "DMA segment") != 0)
		goto out;
	w = (volatile uint32_t *)c.va;

	w[0] = v;
	if (bar_dma(e, dq, &c, 0, 4, REG_LIVENESS, NO_FLAGS,
		    "SCIStartDmaTransfer(segment -> BAR0 liveness)") == 0 &&
	    bar_dma(e, dq, &c, 4, 4, REG_LIVENESS, SCI_FLAG_DMA_READ,
		    "SCIStartDmaTransfer(BAR0 liveness -> segment, SCI_FLAG_DMA_READ)") == 0 &&
	    bar_dma(e, dq, &c, 8, 4, REG_IDENT, SCI_FLAG_DMA_READ,
		    "SCIStartDmaTransfer(BAR0 identification -> segment, SCI_FLAG_DMA_READ)") == 0) {
		if (w[1] == ~v && rd32(e, REG_LIVENESS) == ~v && w[2] == EDU_IDENT)
			pass("(d) adapter DMA and BAR0: wrote 0x%08x into the liveness register, read back 0x%08x (DMA and PIO); identification 0x%08x (DMA)",
			     v, w[1], w[2]);
		else
			fail("(d) adapter DMA and BAR0: liveness 0x%08x by DMA, 0x%08x by PIO (expected 0x%08x), identification 0x%08x",
			     w[1], rd32(e, REG_LIVENESS), ~v, w[2]);
	}

	/* Vectored: write, then read both registers back, in order. */
	w[4] = v2;
	w[5] = 0;
	w[6] = 0;
	memset(vec, 0, sizeof(vec));
	vec[0].size = 4;
	vec[0].local_offset = 16;
	vec[0].remote_offset = REG_LIVENESS;
	vec[1].size = 4;
	vec[1].local_offset = 20;
	vec[1].remote_offset = REG_LIVENESS;
	vec[1].flags = SCI_FLAG_DMA_READ;
	vec[2].size = 4;
	vec[2].local_offset = 24;
	vec[2].remote_offset = REG_IDENT;
	vec[2].flags = SCI_FLAG_DMA_READ;
	SCIStartDmaTransferVec(dq, c.seg, e->bar_seg, 3, vec, NO_CALLBACK, NO_ARG, SCI_FLAG_DMA_WAIT,
			       &err);
	if (ok(err, "SCIStartDmaTransferVec(BAR0, SCI_FLAG_DMA_WAIT)")) {
		st = SCIDMAQueueState(dq);
		if (st == SCI_DMAQUEUE_DONE && w[5] == ~v2 && w[6] == EDU_IDENT)
			pass("(d) vectored adapter DMA: liveness 0x%08x -> 0x%08x, identification 0x%08x",
			     v2, w[5], w[6]);
		else
			fail("(d) vectored adapter DMA: state %d, liveness 0x%08x (expected 0x%08x), identification 0x%08x",
			     (int)st, w[5], ~v2, w[6]);
	}

	/* Beyond the BAR. */
	SCIStartDmaTransfer(dq, c.seg, e->bar_seg, 0, 8, e->bar_size - 4, NO_CALLBACK, NO_ARG,
			    SCI_FLAG_DMA_WAIT, &err);
	if (err == SCI_ERR_OUT_OF_RANGE)
		pass("(d) a transfer beyond BAR0 is refused: SCI_ERR_OUT_OF_RANGE");
	else
		fail("(d) a transfer beyond BAR0: %s (0x%x), expected SCI_ERR_OUT_OF_RANGE",
		     SCIGetErrorString(err), (unsigned int)err);
out:
	lbuf_free(e, &c);
	SCIRemoveDMAQueue(dq, NO_FLAGS, &err);
	ok(err, "SCIRemoveDMAQueue");
}

static void run_driver(sci_desc_t sd)
{
	struct edu e;
	struct lbuf a;
	sci_remote_segment_t r;
	sci_error_t err;
	uint32_t fdid;
	char name[96];

	memset(&e, 0, sizeof(e));
	memset(&a, 0, sizeof(a));
	e.sd = sd;
	if (find_edu(sd, &fdid) != 0 || edu_open(&e, fdid) != 0)
		goto out;
	if (lbuf_alloc(&e, &a, 1, "segment A") != 0)
		goto out;

	test_local(&e, &a);

	if (connect_retry(&e, &r, opt.remote_node, opt.segid) == 0) {
		snprintf(name, sizeof(name), "(b) node %d's segment 0x%x", opt.remote_node, opt.segid);
		test_connection(&e, &a, r, K_REMOTE, name);
		SCIDisconnectSegment(r, NO_FLAGS, &err);
		ok(err, "SCIDisconnectSegment (remote segment)");
	}

	if (connect_retry(&e, &r, -1, opt.group) == 0) {
		snprintf(name, sizeof(name), "(c) multicast group %u", opt.group);
		test_connection(&e, &a, r, K_MCAST, name);
		SCIDisconnectSegment(r, NO_FLAGS, &err);
		ok(err, "SCIDisconnectSegment (multicast group)");
	}

	test_bar_dma(&e);
out:
	lbuf_free(&e, &a);
	edu_close(&e);
}

/* ---- main ------------------------------------------------------------------ */

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sisci-edu --serve SEGID [--seed S] [--timeout SECONDS]\n"
		"       sisci-edu --mc-member GROUP [--seed S] [--timeout SECONDS]\n"
		"       sisci-edu --driver --remote-node N --remote-seg SEGID --group GROUP\n"
		"                 [--fdid F] [--exclusive] [--seed S] [--timeout SECONDS]\n"
		"N: a SISCI node id, 4, 8, 12, ... (rsio node n is 4 * (n + 1))\n");
	exit(2);
}

static unsigned long num(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	v = strtoul(s, &end, 0);
	if (!*s || *end || v > max)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "serve", required_argument, NULL, 'S' },
		{ "mc-member", required_argument, NULL, 'M' },
		{ "driver", no_argument, NULL, 'D' },
		{ "remote-node", required_argument, NULL, 'n' },
		{ "remote-seg", required_argument, NULL, 's' },
		{ "group", required_argument, NULL, 'g' },
		{ "fdid", required_argument, NULL, 'f' },
		{ "exclusive", no_argument, NULL, 'X' },
		{ "seed", required_argument, NULL, 'e' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sigaction sa;
	sci_desc_t sd;
	sci_error_t err;
	int ch;

	while ((ch = getopt_long_only(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			opt.mode = MODE_SERVE;
			opt.segid = (unsigned int)num(optarg, 0xffffffffu);
			opt.segid_set = 1;
			break;
		case 'M':
			opt.mode = MODE_MEMBER;
			opt.group = (unsigned int)num(optarg, 0xffffu);
			opt.group_set = 1;
			break;
		case 'D':
			opt.mode = MODE_DRIVER;
			break;
		case 'n':
			opt.remote_node = (int)num(optarg, 0xffffu);
			break;
		case 's':
			opt.segid = (unsigned int)num(optarg, 0xffffffffu);
			opt.segid_set = 1;
			break;
		case 'g':
			opt.group = (unsigned int)num(optarg, 0xffffu);
			opt.group_set = 1;
			break;
		case 'f':
			opt.fdid = (uint32_t)num(optarg, 0xffffffffu);
			break;
		case 'X':
			opt.exclusive = 1;
			break;
		case 'e':
			opt.seed = (unsigned int)num(optarg, 0xffffffffu);
			break;
		case 't':
			opt.timeout = (unsigned int)num(optarg, 86400);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || opt.mode == MODE_NONE ||
	    (opt.mode == MODE_DRIVER && (opt.remote_node < 0 || !opt.segid_set || !opt.group_set)))
		usage();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: waits return early */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	SCIInitialize(NO_FLAGS, &err);
	if (!ok(err, "SCIInitialize"))
		goto done;
	SCIOpen(&sd, NO_FLAGS, &err);
	if (!ok(err, "SCIOpen")) {
		SCITerminate();
		goto done;
	}
	SCIGetLocalNodeId(0, &my_node, NO_FLAGS, &err);
	if (ok(err, "SCIGetLocalNodeId")) {
		if (opt.mode == MODE_DRIVER) {
			say("sisci-edu driver on node %u: remote segment 0x%x of node %d, multicast group %u, seed %u",
			    my_node, opt.segid, opt.remote_node, opt.group, opt.seed);
			run_driver(sd);
		} else {
			run_peer(sd, opt.mode == MODE_MEMBER);
		}
	}
	SCIClose(sd, NO_FLAGS, &err);
	ok(err, "SCIClose");
	SCITerminate();
done:
	if (failures)
		printf("FAIL: %d failure(s)\n", failures);
	else
		printf("PASS: 0 failure(s)\n");
	return failures ? 1 : 0;
}
