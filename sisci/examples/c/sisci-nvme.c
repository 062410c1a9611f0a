/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sisci-nvme: a user-space NVMe driver written against the SISCI API alone
 * (the SmartIO calls for the drive, segments and data interrupts for the
 * rest). Processes on several nodes drive one NVMe controller that some node
 * lends (`rsio lend`), each on an I/O queue pair of its own; the controller
 * is polled (no interrupts). docs/smartio.md explains the design.
 *
 *   sisci-nvme --admin [--fdid F] [common options] [--serve SECONDS]
 *   sisci-nvme --client --admin-node N [common options]
 *   sisci-nvme --exclusive [--fdid F] [common options]
 *
 *   common: [--lbas N] [--iosize BYTES] [--qd N] [--buffers local|device]
 *           [--verify-peer NODE] [--bench SECONDS] [--hold SECONDS]
 *           [--timeout SECONDS]
 *
 * --admin      the admin owner: borrows the drive shared (the first device
 *              of class 0x010802 SCIGetDeviceList finds, or --fdid), resets
 *              it (CC.EN=0, CSTS.RDY=0), gives it its admin queues
 *              (AQA/ASQ/ACQ), enables it, identifies the controller and
 *              namespace 1, sets the number of I/O queues (Set Features
 *              0x07), creates I/O queue pair 1 for itself and verifies its
 *              data; then serves queue-pair requests of clients (below)
 *              while it rewrites and verifies its own range in a thread,
 *              until SIGTERM/SIGINT or --serve seconds. On the way out it
 *              deletes every queue pair it created, shuts the controller
 *              down (CC.SHN) and disables it.
 * --client     borrows the drive the admin owner of node N names (shared),
 *              places its SQ and CQ in a segment of its own memory mapped
 *              for the device, has the admin owner create them as an I/O
 *              queue pair, runs its I/O on it, then has the pair deleted.
 * --exclusive  borrows the drive alone (SCI_FLAG_EXCLUSIVE: refused while
 *              anyone else holds it) and does everything an admin owner does
 *              for itself, then shuts the controller down.
 *
 * Node ids (N, NODE and those printed) are SISCI's: 4, 8, 12, ... (rsio
 * node n is 4 * (n + 1)). A node's index, id / 4 - 1 (0, 1, 2, ...),
 * numbers its request slot and its LBA range.
 *
 * In every mode the process then writes a pattern that depends on its node
 * and on the LBA to its own range, blocks [index * lbas, (index + 1) * lbas)
 * of namespace 1 (first the inverted pattern, read back and checked, then
 * the pattern, read back and checked: each check proves that its write
 * happened, even over the data of an earlier run; read buffers are zeroed
 * before each read), --iosize bytes per command, --qd commands in flight.
 * --verify-peer NODE reads NODE's range and checks NODE's pattern (the same
 * --lbas on both). --bench S: 4 KiB random reads over the first 64 MiB of
 * the namespace, S seconds at QD1 then S at QD32 (after a short warm-up),
 * printed as "bench qd=Q iops=N lat_us=L". --hold S keeps the queue pair
 * and every mapping S seconds before cleaning up ("holding ..." is printed
 * first; SIGTERM ends the wait). --buffers picks where the data buffers and
 * PRP lists live: "device" (default) in a device segment
 * (SCICreateDeviceSegment + SCIConnectDeviceSegment(SCI_MEMTYPE_PRIVATE) +
 * SCIMapRemoteSegmentForDevice), "local" in local segments
 * (SCICreateSegment + SCIMapLocalSegmentForDevice). Queues always live in
 * local segments mapped for the device; the admin queues too.
 *
 * Output: PASS/FAIL lines, a final "PASS: 0 failure(s)" or
 * "FAIL: N failure(s)"; exit status 0, 1 on any failure, 2 on usage errors.
 *
 * ---- Admin owner <-> client protocol (version 2) --------------------------
 *
 * The admin owner publishes, once the controller is up and its own pair
 * works:
 *  - a mailbox: local segment MBOX_SEGMENT_ID (4 KiB), available to all;
 *    bytes 0..255 the header (struct mbox_hdr, written by the owner only:
 *    magic MBOX_MAGIC, version, state READY or STOPPING, its node, the
 *    drive's fabric device id, the data interrupt for requests, the highest
 *    I/O queue id, the largest queue, namespace 1's size and block size, the
 *    largest transfer, model and serial); then one 128-byte request slot per
 *    node (struct mbox_slot at MBOX_SLOT_OFF + index * MBOX_SLOT_SIZE, the
 *    node's index), written only by the client on that node: one client
 *    process per node at a time. Node fields hold SISCI node ids (version
 *    1 held rsio's node numbers, 0, 1, 2, ..., and the slot of node n);
 *  - a data interrupt MBOX_INTR_NO (fixed number) for requests.
 *
 * A client:
 *  1. connects to the mailbox on node N (retrying until --timeout), maps
 *     it, reads the header (magic, version, state READY);
 *  2. borrows the drive the header names (SCI_FLAG_SHARED), maps BAR0,
 *     creates its SQ and CQ in a local segment and maps it for the device
 *     (device addresses, page-aligned, physically contiguous as the device
 *     sees them), creates a data interrupt for answers (any number) and
 *     connects to the owner's request interrupt;
 *  3. writes its slot (op CREATE_QPAIR, its node, pid, answer interrupt,
 *     queue sizes and device addresses), then the request's sequence number
 *     last, a store barrier (SCIFlush) and a read back of the slot (the
 *     posted writes have landed), then triggers the request interrupt with
 *     {REQ_MAGIC, node, seq};
 *  4. the owner drains its mailbox events first (see 6), waits until the
 *     slot shows that seq (at most 1 s), checks it, takes the lowest free
 *     queue id, creates the I/O CQ (physically contiguous, interrupts off:
 *     IEN=0) then the I/O SQ on it with admin commands, records that the
 *     node holds that pair, and answers on the client's data interrupt with
 *     {REP_MAGIC, seq, status, NVMe status, qid} (connect, trigger,
 *     disconnect). Statuses: ST_OK, ST_BAD_REQUEST, ST_BUSY (the node holds
 *     a pair already), ST_NO_QUEUE, ST_NVME (the controller refused: NVMe
 *     status given), ST_NOT_HELD, ST_STOPPING;
 *  5. the client runs its I/O on the pair, ringing its own doorbells in
 *     BAR0; when done it sends DELETE_QPAIR with its qid the same way; the
 *     owner deletes the SQ then the CQ and answers; only then does the
 *     client unmap its queues for the device, remove its segments,
 *     disconnect and return the drive;
 *  6. a client that goes away without DELETE_QPAIR (killed, its node down)
 *     drops its connection to the mailbox: the owner counts each node's
 *     connections (SCI_CB_CONNECT, SCI_CB_DISCONNECT/SCI_CB_LOST) and when a
 *     node that holds a pair has none left it deletes that pair, so the
 *     controller stops using memory that is no longer mapped for it.
 * On SIGTERM the owner marks the header STOPPING, deletes every pair it
 * created, shuts the controller down and returns the drive; a client that
 * still holds a pair then finds its commands unanswered (timeouts).
 * ---------------------------------------------------------------------------
 *
 * Memory ordering: SQ entries, PRP lists and write data are stored with
 * plain stores, then SCIFlush (a store fence) before the doorbell write
 * into BAR0; completions are polled (the phase bit), then an acquire fence
 * before the entry and the read data are used. The device's DMA into
 * segments is coherent. Little-endian host (x86) assumed.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
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

/* ---- Protocol ------------------------------------------------------------ */

#define MBOX_SEGMENT_ID 0x4e564d00u	/* "NVM\0" */
#define MBOX_INTR_NO 0x4e56u
#define MBOX_SIZE 4096u
#define MBOX_SLOT_OFF 256u
#define MBOX_SLOT_SIZE 128u
#define MBOX_MAX_NODES ((MBOX_SIZE - MBOX_SLOT_OFF) / MBOX_SLOT_SIZE)
#define MBOX_MAGIC 0x4e564d41u		/* "NVMA" */
#define SLOT_MAGIC 0x4e564d53u		/* "NVMS" */
#define REQ_MAGIC 0x4e564d52u		/* "NVMR" */
#define REP_MAGIC 0x4e564d50u		/* "NVMP" */
#define PROTO_VERSION 2u	/* 2: SISCI node ids (4, 8, ...), slots by index */

enum { MBOX_READY = 1, MBOX_STOPPING = 2 };
enum { OP_CREATE_QPAIR = 1, OP_DELETE_QPAIR = 2 };
enum {
	ST_OK = 0,
	ST_BAD_REQUEST,
	ST_BUSY,
	ST_NO_QUEUE,
	ST_NVME,
	ST_NOT_HELD,
	ST_STOPPING,
};

static const char *status_name(uint32_t st)
{
	static const char *names[] = { "ok", "bad request", "busy (this node holds a pair)",
		"no free queue id", "the controller refused", "not held", "the owner is stopping" };

	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "unknown";
}

/* Bytes 0..255 of the mailbox, written by the admin owner. */
struct mbox_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t state;
	uint32_t owner_node;
	uint32_t fdid;
	uint32_t intr_no;
	uint32_t max_qid;
	uint32_t owner_qid;
	uint32_t max_entries;	/* CAP.MQES + 1 */
	uint32_t lba_shift;	/* namespace 1: blocks of 1 << lba_shift bytes */
	uint64_t nsze;		/* namespace 1: blocks */
	uint32_t mdts_bytes;	/* largest transfer, 0: no limit */
	uint32_t reserved;
	char model[40];
	char serial[20];
};

/* A node's request slot, written by that node's client. */
struct mbox_slot {
	uint32_t magic;
	uint32_t seq;		/* written last */
	uint32_t op;
	uint32_t node;
	uint32_t pid;
	uint32_t reply_intr;
	uint32_t sq_entries;
	uint32_t cq_entries;
	uint64_t sq_ioaddr;
	uint64_t cq_ioaddr;
	uint32_t qid;		/* DELETE_QPAIR */
	uint32_t reserved;
};

struct mbox_trigger {
	uint32_t magic;
	uint32_t node;
	uint32_t seq;
};

struct mbox_reply {
	uint32_t magic;
	uint32_t seq;
	uint32_t status;
	uint32_t nvme_status;
	uint32_t qid;
};

_Static_assert(sizeof(struct mbox_hdr) <= MBOX_SLOT_OFF, "mailbox header");
_Static_assert(sizeof(struct mbox_slot) <= MBOX_SLOT_SIZE, "mailbox slot");

/*
 * SISCI node ids are 4, 8, 12, ... (Dolphin's PCIe numbering, which
 * libsisci presents for rsio's nodes 0, 1, 2, ...). A node's index
 * (id / 4 - 1) numbers its mailbox slot, its LBA range and its pattern;
 * -1 for an id that is no node's or beyond the mailbox's slots.
 */
static int node_index(unsigned int id)
{
	if (id == 0 || id % 4 || id / 4 > MBOX_MAX_NODES)
		return -1;
	return (int)(id / 4) - 1;
}

/* The SISCI node id of node index i. */
static unsigned int index_node(unsigned int i)
{
	return 4 * (i + 1);
}

/* ---- NVMe ---------------------------------------------------------------- */

#define REG_CAP 0x00
#define REG_VS 0x08
#define REG_CC 0x14
#define REG_CSTS 0x1c
#define REG_AQA 0x24
#define REG_ASQ 0x28
#define REG_ACQ 0x30
#define REG_DBS 0x1000

#define CC_EN (1u << 0)
#define CC_SHN_MASK (3u << 14)
#define CC_SHN_NORMAL (1u << 14)
#define CC_IOSQES (6u << 16)	/* 64-byte SQ entries */
#define CC_IOCQES (4u << 20)	/* 16-byte CQ entries */
#define CSTS_RDY (1u << 0)
#define CSTS_CFS (1u << 1)
#define CSTS_SHST(v) (((v) >> 2) & 3u)

#define ADM_DELETE_SQ 0x00
#define ADM_CREATE_SQ 0x01
#define ADM_DELETE_CQ 0x04
#define ADM_CREATE_CQ 0x05
#define ADM_IDENTIFY 0x06
#define ADM_SET_FEATURES 0x09
#define FEAT_NUM_QUEUES 0x07
#define IO_WRITE 0x01
#define IO_READ 0x02

#define PAGE 4096u
#define AQ_ENTRIES 32u
#define MAX_SEGMENT (4u << 20)	/* mapped for a device: contiguous up to 4 MiB */
#define MAX_CHUNKS 16u
#define MAX_QID 1024u
#define CMD_TIMEOUT 10.0	/* seconds without a completion */

struct nvme_sqe {
	uint8_t opc;
	uint8_t flags;
	uint16_t cid;
	uint32_t nsid;
	uint32_t cdw2, cdw3;
	uint64_t mptr;
	uint64_t prp1, prp2;
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};

struct nvme_cqe {
	uint32_t dw0;
	uint32_t dw1;
	uint16_t sqhd;
	uint16_t sqid;
	uint16_t cid;
	uint16_t status;	/* bit 0: phase; 15:1: DNR, M, CRD, SCT, SC */
};

_Static_assert(sizeof(struct nvme_sqe) == 64, "SQ entry");
_Static_assert(sizeof(struct nvme_cqe) == 16, "CQ entry");

/* ---- Options, output ------------------------------------------------------ */

enum mode { MODE_NONE, MODE_ADMIN, MODE_CLIENT, MODE_EXCLUSIVE };

static struct {
	enum mode mode;
	int admin_node;
	uint32_t fdid;
	uint64_t lbas;
	uint32_t iosize;
	unsigned int qd;
	int device_buffers;
	int verify_peer;
	unsigned int bench;
	unsigned int hold;
	unsigned int serve;
	unsigned int timeout;
} opt = {
	.admin_node = -1,
	.lbas = 1024,
	.iosize = 16384,
	.qd = 8,
	.device_buffers = 1,
	.verify_peer = -1,
	.timeout = 60,
};

static unsigned int my_node;	/* this node's SISCI node id */
static unsigned int my_index;	/* and its index (node_index) */
static volatile sig_atomic_t stop;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static int failures;

static void vline(const char *prefix, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&out_lock);
	fputs(prefix, stdout);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
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

	va_start(ap, fmt);
	pthread_mutex_lock(&out_lock);
	failures++;
	pthread_mutex_unlock(&out_lock);
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

static size_t round_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

/* ---- Memory the device reaches ------------------------------------------- */

/*
 * A segment mapped for the device: `va` for the CPU, `io` for the device
 * (contiguous over `size`, at most MAX_SEGMENT). Either a local segment
 * (SCIMapLocalSegmentForDevice) or a device segment (SCICreateDeviceSegment,
 * connected with SCI_MEMTYPE_PRIVATE, SCIMapRemoteSegmentForDevice).
 */
struct dmabuf {
	uint8_t *va;
	sci_ioaddr_t io;
	size_t size;
	sci_local_segment_t lseg;
	sci_remote_segment_t rseg;
	sci_map_t map;
	int mapped_for_dev;
};

struct queue {
	unsigned int qid;
	unsigned int entries;
	struct nvme_sqe *sq;
	volatile struct nvme_cqe *cq;
	sci_ioaddr_t sq_io, cq_io;
	unsigned int tail, head, phase;
	volatile uint32_t *sqdb, *cqdb;
	uint16_t cid;
	struct dmabuf mem;
};

struct ctrl {
	sci_desc_t sd;
	sci_smartio_device_t dev;
	uint32_t fdid;
	sci_remote_segment_t bar_seg;
	sci_map_t bar_map;
	volatile uint8_t *bar;
	size_t bar_size;
	unsigned int dstrd;	/* doorbell stride, bytes */
	unsigned int max_entries;
	unsigned int to_ms;
	unsigned int lba_shift;
	uint64_t nsze;
	uint32_t mdts_bytes;
	unsigned int max_qid;
	char model[41], serial[21], fw[9];
	struct queue aq;
	struct dmabuf idbuf;
	int enabled;
	unsigned int devseg_seq;
};

static uint32_t rd32(struct ctrl *c, unsigned int off)
{
	return *(volatile uint32_t *)(c->bar + off);
}

static void wr32(struct ctrl *c, unsigned int off, uint32_t v)
{
	*(volatile uint32_t *)(c->bar + off) = v;
}

/* 64-bit registers as two 32-bit accesses, low dword first. */
static uint64_t rd64(struct ctrl *c, unsigned int off)
{
	uint64_t lo = rd32(c, off);

	return lo | (uint64_t)rd32(c, off + 4) << 32;
}

static void wr64(struct ctrl *c, unsigned int off, uint64_t v)
{
	wr32(c, off, (uint32_t)v);
	wr32(c, off + 4, (uint32_t)(v >> 32));
}

static int dmabuf_alloc(struct ctrl *c, struct dmabuf *b, size_t size, int device,
			const char *what)
{
	sci_error_t err;
	char call[96];

	memset(b, 0, sizeof(*b));
	b->size = round_up(size, PAGE);
	if (b->size > MAX_SEGMENT) {
		fail("%s: %zu bytes is more than a segment mapped for a device may hold", what, b->size);
		return -1;
	}
	if (!device) {
		SCICreateSegment(c->sd, &b->lseg, 0, b->size, NO_CALLBACK, NO_ARG, SCI_FLAG_AUTO_ID,
				 &err);
		if (!ok(err, "SCICreateSegment")) {
			b->lseg = NULL;
			return -1;
		}
		SCIPrepareSegment(b->lseg, 0, NO_FLAGS, &err);
		if (!ok(err, "SCIPrepareSegment"))
			return -1;
		SCISetSegmentAvailable(b->lseg, 0, NO_FLAGS, &err);
		if (!ok(err, "SCISetSegmentAvailable"))
			return -1;
		b->va = SCIMapLocalSegment(b->lseg, &b->map, 0, b->size, NULL, NO_FLAGS, &err);
		if (!ok(err, "SCIMapLocalSegment")) {
			b->map = NULL;
			return -1;
		}
		SCIMapLocalSegmentForDevice(b->lseg, 0, c->dev, &b->io, 0, b->size, NO_FLAGS, &err);
		snprintf(call, sizeof(call), "SCIMapLocalSegmentForDevice (%s)", what);
		if (!ok(err, call))
			return -1;
	} else {
		unsigned int id = 0, tries;
		volatile void *p;

		/* Ids unique per process: node, pid and a sequence number. */
		err = SCI_ERR_SEGMENTID_USED;
		for (tries = 0; tries < 16 && err == SCI_ERR_SEGMENTID_USED; tries++) {
			id = 0x44000000u | (my_node & 0xffu) << 16 |
			     (((unsigned int)getpid() + tries * 64u) & 0xffu) << 8 |
			     (c->devseg_seq++ & 0xffu);
			SCICreateDeviceSegment(c->dev, id, b->size, SCI_MEMTYPE_PRIVATE,
					       SCI_MEMACCESS_DEVICE_READ | SCI_MEMACCESS_DEVICE_WRITE |
					       SCI_MEMACCESS_HOST_READ | SCI_MEMACCESS_HOST_WRITE,
					       NO_FLAGS, &err);
		}
		if (!ok(err, "SCICreateDeviceSegment"))
			return -1;
		SCIConnectDeviceSegment(c->dev, &b->rseg, id, SCI_MEMTYPE_PRIVATE, NO_CALLBACK, NO_ARG,
					NO_FLAGS, &err);
		if (!ok(err, "SCIConnectDeviceSegment(SCI_MEMTYPE_PRIVATE)")) {
			b->rseg = NULL;
			return -1;
		}
		p = SCIMapRemoteSegment(b->rseg, &b->map, 0, b->size, NULL, NO_FLAGS, &err);
		if (!ok(err, "SCIMapRemoteSegment (device segment)")) {
			b->map = NULL;
			return -1;
		}
		b->va = (uint8_t *)(uintptr_t)p;
		SCIMapRemoteSegmentForDevice(b->rseg, c->dev, &b->io, 0, b->size, NO_FLAGS, &err);
		snprintf(call, sizeof(call), "SCIMapRemoteSegmentForDevice (%s)", what);
		if (!ok(err, call))
			return -1;
	}
	b->mapped_for_dev = 1;
	if (b->io == 0 || b->io % PAGE) {
		fail("%s: device address 0x%" PRIx64 " is not page-aligned", what, (uint64_t)b->io);
		return -1;
	}
	memset(b->va, 0, b->size);
	pass("%s: %s segment of %zu KiB mapped for the device at 0x%" PRIx64, what,
	     device ? "device" : "local", b->size / 1024, (uint64_t)b->io);
	return 0;
}

static void dmabuf_free(struct ctrl *c, struct dmabuf *b)
{
	sci_error_t err;

	if (b->lseg) {
		if (b->mapped_for_dev) {
			SCIUnmapLocalSegmentForDevice(b->lseg, 0, c->dev, NO_FLAGS, &err);
			ok(err, "SCIUnmapLocalSegmentForDevice");
		}
		if (b->map) {
			SCIUnmapSegment(b->map, NO_FLAGS, &err);
			ok(err, "SCIUnmapSegment (local)");
		}
		SCIRemoveSegment(b->lseg, NO_FLAGS, &err);
		ok(err, "SCIRemoveSegment");
	} else if (b->rseg) {
		if (b->mapped_for_dev) {
			SCIUnmapRemoteSegmentForDevice(b->rseg, c->dev, NO_FLAGS, &err);
			ok(err, "SCIUnmapRemoteSegmentForDevice");
		}
		if (b->map) {
			SCIUnmapSegment(b->map, NO_FLAGS, &err);
			ok(err, "SCIUnmapSegment (device segment)");
		}
		SCIDisconnectSegment(b->rseg, NO_FLAGS, &err);
		ok(err, "SCIDisconnectSegment (device segment)");
	}
	memset(b, 0, sizeof(*b));
}

/* ---- Queues ---------------------------------------------------------------- */

/* SQ at offset 0, CQ after it (each page-aligned), in one local segment. */
static int queue_alloc(struct ctrl *c, struct queue *q, unsigned int entries, const char *what)
{
	size_t sqb = round_up((size_t)entries * sizeof(struct nvme_sqe), PAGE);
	size_t cqb = round_up((size_t)entries * sizeof(struct nvme_cqe), PAGE);

	memset(q, 0, sizeof(*q));
	if (dmabuf_alloc(c, &q->mem, sqb + cqb, 0, what))
		return -1;
	q->entries = entries;
	q->sq = (struct nvme_sqe *)q->mem.va;
	q->cq = (volatile struct nvme_cqe *)(q->mem.va + sqb);
	q->sq_io = q->mem.io;
	q->cq_io = q->mem.io + sqb;
	q->phase = 1;
	return 0;
}

static int queue_set_qid(struct ctrl *c, struct queue *q, unsigned int qid)
{
	size_t sq_off = REG_DBS + (size_t)(2 * qid) * c->dstrd;
	size_t cq_off = REG_DBS + (size_t)(2 * qid + 1) * c->dstrd;

	if (cq_off + 4 > c->bar_size) {
		fail("queue %u: its doorbells (0x%zx) are beyond BAR0 (%zu bytes)", qid, cq_off,
		     c->bar_size);
		return -1;
	}
	q->qid = qid;
	q->sqdb = (volatile uint32_t *)(c->bar + sq_off);
	q->cqdb = (volatile uint32_t *)(c->bar + cq_off);
	return 0;
}

static void sq_submit(struct queue *q, const struct nvme_sqe *e)
{
	memcpy(&q->sq[q->tail], e, sizeof(*e));
	if (++q->tail == q->entries)
		q->tail = 0;
	/* The entry, its PRP list and write data are in memory before the doorbell. */
	SCIFlush(NULL, NO_FLAGS);
	*q->sqdb = q->tail;
}

/* Takes the next completion if the controller posted one. */
static int cq_take(struct queue *q, struct nvme_cqe *out)
{
	volatile struct nvme_cqe *e = &q->cq[q->head];
	uint16_t status = e->status;

	if ((status & 1u) != q->phase)
		return 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	out->dw0 = e->dw0;
	out->sqhd = e->sqhd;
	out->sqid = e->sqid;
	out->cid = e->cid;
	out->status = status;
	if (++q->head == q->entries) {
		q->head = 0;
		q->phase ^= 1u;
	}
	return 1;
}

static void cq_ring(struct queue *q)
{
	*q->cqdb = q->head;
}

/* SCT and SC of a completion (0: success). */
static unsigned int cqe_status(const struct nvme_cqe *e)
{
	return (e->status >> 1) & 0x7ffu;
}

/*
 * Runs an admin command and polls for its completion. Returns its status
 * (0 success), or -1 (and a FAIL line) if it does not complete in time.
 */
static int admin_cmd(struct ctrl *c, struct nvme_sqe *e, uint32_t *dw0, const char *what)
{
	struct queue *q = &c->aq;
	struct nvme_cqe cqe;
	double limit = c->to_ms / 1000.0 > CMD_TIMEOUT ? c->to_ms / 1000.0 : CMD_TIMEOUT;
	double deadline = now() + limit;
	unsigned long spins = 0;

	e->cid = ++q->cid;
	sq_submit(q, e);
	for (;;) {
		if (cq_take(q, &cqe)) {
			cq_ring(q);
			if (cqe.cid != e->cid) {
				say("note: %s: a stray admin completion (cid %u)", what, cqe.cid);
				continue;
			}
			if (dw0)
				*dw0 = cqe.dw0;
			return (int)cqe_status(&cqe);
		}
		if (++spins % 256 == 0) {
			if (now() > deadline) {
				fail("%s: no completion within %.0f s (CSTS 0x%x)", what, limit,
				     rd32(c, REG_CSTS));
				return -1;
			}
			sched_yield();
		}
	}
}

static int wait_csts(struct ctrl *c, uint32_t mask, uint32_t want, uint32_t *csts)
{
	double limit = c->to_ms / 1000.0 * 2 > 5.0 ? c->to_ms / 1000.0 * 2 : 5.0;
	double deadline = now() + limit;

	for (;;) {
		*csts = rd32(c, REG_CSTS);
		if (*csts == 0xffffffffu)
			return -1;
		if ((*csts & mask) == want)
			return 0;
		if (now() > deadline)
			return -1;
		sleep_ms(1);
	}
}

/* ---- The controller ---------------------------------------------------------- */

/* Borrows the drive, maps BAR0, reads CAP. */
static int ctrl_open(struct ctrl *c, uint32_t fdid, int shared)
{
	sci_error_t err;
	sci_smartio_device_info_t info;
	sci_smartio_query_device_t q;
	uint64_t cap;
	uint32_t vs;
	volatile void *p;

	SCIBorrowDevice(c->sd, &c->dev, fdid, shared ? SCI_FLAG_SHARED : SCI_FLAG_EXCLUSIVE, &err);
	if (!ok(err, shared ? "SCIBorrowDevice(SCI_FLAG_SHARED)" : "SCIBorrowDevice(SCI_FLAG_EXCLUSIVE)")) {
		c->dev = NULL;
		return -1;
	}
	c->fdid = SCIGetFabricDeviceId(c->dev);
	memset(&info, 0, sizeof(info));
	q.fdid = c->fdid;
	q.subcommand = SCI_Q_DEVICE_INFO;
	q.data = &info;
	SCIQuery(SCI_Q_DEVICE, &q, NO_FLAGS, &err);
	if (ok(err, "SCIQuery(SCI_Q_DEVICE)"))
		pass("SCIBorrowDevice(%s): fabric device 0x%x, %04x:%04x class %06x, lent by node %u (%.*s)",
		     shared ? "shared" : "exclusive", c->fdid, info.pci_vendor_id, info.pci_device_id,
		     info.pci_class, info.lender_node, SCI_SMARTIO_USER_NAME_LEN, info.user_name);
	if (c->fdid != fdid)
		fail("SCIGetFabricDeviceId: 0x%x, borrowed 0x%x", c->fdid, fdid);

	SCIConnectDeviceSegment(c->dev, &c->bar_seg, 0, SCI_MEMTYPE_BAR, NO_CALLBACK, NO_ARG,
				NO_FLAGS, &err);
	if (!ok(err, "SCIConnectDeviceSegment(BAR 0)")) {
		c->bar_seg = NULL;
		return -1;
	}
	c->bar_size = SCIGetRemoteSegmentSize(c->bar_seg);
	if (c->bar_size < 2 * PAGE) {
		fail("BAR0 of %zu bytes is too small for an NVMe controller", c->bar_size);
		return -1;
	}
	p = SCIMapRemoteSegment(c->bar_seg, &c->bar_map, 0, c->bar_size, NULL,
				SCI_FLAG_IO_MAP_IOSPACE, &err);
	if (!ok(err, "SCIMapRemoteSegment(BAR 0, SCI_FLAG_IO_MAP_IOSPACE)")) {
		c->bar_map = NULL;
		return -1;
	}
	c->bar = (volatile uint8_t *)p;
	cap = rd64(c, REG_CAP);
	vs = rd32(c, REG_VS);
	if (cap == ~0ull || cap == 0) {
		fail("BAR0: CAP reads 0x%" PRIx64 ": the controller does not answer", cap);
		return -1;
	}
	c->max_entries = (unsigned int)(cap & 0xffffu) + 1;
	c->to_ms = (unsigned int)((cap >> 24) & 0xffu) * 500u;
	c->dstrd = 4u << ((cap >> 32) & 0xfu);
	if ((cap >> 48) & 0xfu) {
		fail("CAP.MPSMIN is %u KiB: only 4 KiB pages are supported",
		     4u << ((cap >> 48) & 0xfu));
		return -1;
	}
	pass("BAR0 mapped: %zu KiB, NVMe %u.%u, CAP 0x%016" PRIx64 " (queues up to %u entries, doorbell stride %u)",
	     c->bar_size / 1024, vs >> 16, (vs >> 8) & 0xffu, cap, c->max_entries, c->dstrd);
	return 0;
}

/* Returns what ctrl_open took, in reverse order. */
static void ctrl_close(struct ctrl *c)
{
	sci_error_t err;

	if (c->bar_map) {
		SCIUnmapSegment(c->bar_map, NO_FLAGS, &err);
		ok(err, "SCIUnmapSegment(BAR 0)");
		c->bar_map = NULL;
		c->bar = NULL;
	}
	if (c->bar_seg) {
		SCIDisconnectSegment(c->bar_seg, NO_FLAGS, &err);
		ok(err, "SCIDisconnectSegment(BAR 0)");
		c->bar_seg = NULL;
	}
	if (c->dev) {
		SCIReturnDevice(c->dev, NO_FLAGS, &err);
		if (ok(err, "SCIReturnDevice"))
			pass("SCIReturnDevice: fabric device 0x%x returned", c->fdid);
		c->dev = NULL;
	}
}

static void trim_copy(char *dst, const uint8_t *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = 0;
	while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == 0))
		dst[--n] = 0;
}

/* Disables the controller, gives it our admin queues, enables it. */
static int ctrl_enable(struct ctrl *c)
{
	uint32_t cc, csts;

	cc = rd32(c, REG_CC);
	if (cc & CC_EN)
		wr32(c, REG_CC, cc & ~CC_EN);
	if (wait_csts(c, CSTS_RDY, 0, &csts)) {
		fail("controller reset: CSTS.RDY stays 1 (CSTS 0x%x)", csts);
		return -1;
	}
	if (queue_alloc(c, &c->aq, AQ_ENTRIES, "admin queues") || queue_set_qid(c, &c->aq, 0))
		return -1;
	if (dmabuf_alloc(c, &c->idbuf, PAGE, 0, "identify buffer"))
		return -1;
	wr32(c, REG_AQA, (AQ_ENTRIES - 1) << 16 | (AQ_ENTRIES - 1));
	wr64(c, REG_ASQ, c->aq.sq_io);
	wr64(c, REG_ACQ, c->aq.cq_io);
	/* NVM command set, 4 KiB pages, round robin, 64/16-byte entries. */
	wr32(c, REG_CC, CC_EN | CC_IOSQES | CC_IOCQES);
	if (wait_csts(c, CSTS_RDY | CSTS_CFS, CSTS_RDY, &csts)) {
		fail("controller enable: CSTS 0x%x (RDY %u, CFS %u)", csts, csts & 1u, (csts >> 1) & 1u);
		return -1;
	}
	c->enabled = 1;
	pass("controller reset and enabled: admin queues at 0x%" PRIx64 "/0x%" PRIx64 " (CC 0x%x, CSTS 0x%x)",
	     (uint64_t)c->aq.sq_io, (uint64_t)c->aq.cq_io, rd32(c, REG_CC), csts);
	return 0;
}

static int ctrl_identify(struct ctrl *c)
{
	struct nvme_sqe e;
	const uint8_t *id = c->idbuf.va;
	unsigned int mdts, nn, flbas, lbads, ms;
	uint32_t lbaf;
	int st;

	memset(&e, 0, sizeof(e));
	e.opc = ADM_IDENTIFY;
	e.prp1 = c->idbuf.io;
	e.cdw10 = 1;		/* CNS 1: the controller */
	memset(c->idbuf.va, 0, PAGE);
	st = admin_cmd(c, &e, NULL, "identify controller");
	if (st) {
		if (st > 0)
			fail("identify controller: NVMe status 0x%x", st);
		return -1;
	}
	trim_copy(c->serial, id + 4, 20);
	trim_copy(c->model, id + 24, 40);
	trim_copy(c->fw, id + 64, 8);
	mdts = id[77];
	memcpy(&nn, id + 516, 4);
	c->mdts_bytes = mdts ? PAGE << mdts : 0;
	if ((id[512] & 0xfu) > 6 || (id[512] >> 4) < 6 || (id[513] & 0xfu) > 4 || (id[513] >> 4) < 4) {
		fail("identify: SQES 0x%x / CQES 0x%x do not admit 64/16-byte entries", id[512], id[513]);
		return -1;
	}
	if (!c->model[0] || nn == 0) {
		fail("identify: model '%s', %u namespaces", c->model, nn);
		return -1;
	}
	pass("identify: model %s serial %s firmware %s, %u namespace(s), MDTS %u KiB", c->model,
	     c->serial, c->fw, nn, c->mdts_bytes / 1024);

	memset(&e, 0, sizeof(e));
	e.opc = ADM_IDENTIFY;
	e.nsid = 1;
	e.prp1 = c->idbuf.io;
	e.cdw10 = 0;		/* CNS 0: a namespace */
	memset(c->idbuf.va, 0, PAGE);
	st = admin_cmd(c, &e, NULL, "identify namespace 1");
	if (st) {
		if (st > 0)
			fail("identify namespace 1: NVMe status 0x%x", st);
		return -1;
	}
	memcpy(&c->nsze, id, 8);
	flbas = id[26] & 0xfu;
	memcpy(&lbaf, id + 128 + 4 * flbas, 4);
	lbads = (lbaf >> 16) & 0xffu;
	ms = lbaf & 0xffffu;
	if (c->nsze == 0 || lbads < 9 || lbads > 12 || ms) {
		fail("identify namespace 1: %" PRIu64 " blocks, LBA data size 2^%u, %u metadata bytes (need 512..4096 bytes, no metadata)",
		     c->nsze, lbads, ms);
		return -1;
	}
	c->lba_shift = lbads;
	pass("identify namespace 1: %" PRIu64 " blocks of %u bytes (%" PRIu64 " MiB)", c->nsze,
	     1u << lbads, (c->nsze << lbads) >> 20);
	return 0;
}

static int ctrl_set_queues(struct ctrl *c, unsigned int want)
{
	struct nvme_sqe e;
	uint32_t dw0 = 0;
	unsigned int nsq, ncq;
	int st;

	memset(&e, 0, sizeof(e));
	e.opc = ADM_SET_FEATURES;
	e.cdw10 = FEAT_NUM_QUEUES;
	e.cdw11 = (want - 1) << 16 | (want - 1);
	st = admin_cmd(c, &e, &dw0, "set features (number of queues)");
	if (st) {
		if (st > 0)
			fail("set features (number of queues): NVMe status 0x%x", st);
		return -1;
	}
	nsq = (dw0 & 0xffffu) + 1;
	ncq = (dw0 >> 16) + 1;
	c->max_qid = nsq < ncq ? nsq : ncq;
	if (c->max_qid >= MAX_QID)
		c->max_qid = MAX_QID - 1;
	pass("set features (number of queues): %u submission, %u completion queues", nsq, ncq);
	return 0;
}

/* Creates I/O CQ qid (contiguous, no interrupts) and I/O SQ qid on it. */
static int create_qpair(struct ctrl *c, unsigned int qid, uint64_t sq_io, unsigned int sq_entries,
			uint64_t cq_io, unsigned int cq_entries)
{
	struct nvme_sqe e;
	int st;

	memset(&e, 0, sizeof(e));
	e.opc = ADM_CREATE_CQ;
	e.prp1 = cq_io;
	e.cdw10 = (cq_entries - 1) << 16 | qid;
	e.cdw11 = 1;		/* PC=1, IEN=0 */
	st = admin_cmd(c, &e, NULL, "create I/O CQ");
	if (st)
		return st;
	memset(&e, 0, sizeof(e));
	e.opc = ADM_CREATE_SQ;
	e.prp1 = sq_io;
	e.cdw10 = (sq_entries - 1) << 16 | qid;
	e.cdw11 = qid << 16 | 1;	/* its CQ, PC=1 */
	st = admin_cmd(c, &e, NULL, "create I/O SQ");
	if (st) {
		memset(&e, 0, sizeof(e));
		e.opc = ADM_DELETE_CQ;
		e.cdw10 = qid;
		admin_cmd(c, &e, NULL, "delete I/O CQ");
	}
	return st;
}

/* Deletes I/O SQ qid, then CQ qid. Returns the first failing status. */
static int delete_qpair(struct ctrl *c, unsigned int qid)
{
	struct nvme_sqe e;
	int st, st2;

	memset(&e, 0, sizeof(e));
	e.opc = ADM_DELETE_SQ;
	e.cdw10 = qid;
	st = admin_cmd(c, &e, NULL, "delete I/O SQ");
	memset(&e, 0, sizeof(e));
	e.opc = ADM_DELETE_CQ;
	e.cdw10 = qid;
	st2 = admin_cmd(c, &e, NULL, "delete I/O CQ");
	return st ? st : st2;
}

/* Normal shutdown (CC.SHN), then disabled. */
static void ctrl_shutdown(struct ctrl *c)
{
	uint32_t cc = rd32(c, REG_CC), csts;

	wr32(c, REG_CC, (cc & ~CC_SHN_MASK) | CC_SHN_NORMAL);
	if (wait_csts(c, 3u << 2, 2u << 2, &csts))
		fail("controller shutdown: CSTS.SHST %u (CSTS 0x%x)", CSTS_SHST(csts), csts);
	wr32(c, REG_CC, cc & ~(CC_EN | CC_SHN_MASK));
	if (wait_csts(c, CSTS_RDY, 0, &csts))
		fail("controller disable: CSTS.RDY stays 1 (CSTS 0x%x)", csts);
	else
		pass("controller shut down and disabled");
	c->enabled = 0;
}

/* ---- I/O ------------------------------------------------------------------------ */

struct slot {
	uint8_t *buf;
	sci_ioaddr_t buf_io;
	uint64_t *prp;		/* its PRP list page */
	sci_ioaddr_t prp_io;
	int busy;
	uint64_t lba;
	uint32_t nlb;
	double t0;
};

/* An I/O queue pair with its command slots and their buffers. */
struct io {
	struct ctrl *c;
	struct queue q;
	struct slot *slots;
	unsigned int nslots;
	size_t slot_bytes;
	struct dmabuf data[MAX_CHUNKS];
	unsigned int nchunks;
	struct dmabuf prps;
	int created;		/* the qpair exists on the controller (we made it) */
	unsigned int rounds;	/* admin owner: background rounds verified */
	volatile int stop_rounds;
};

/* The pattern: node, LBA and word, so a block in the wrong place shows. */
static inline uint64_t pat(unsigned int node, uint64_t lba, unsigned int word, int inv)
{
	uint64_t w = (uint64_t)(0x4e560000u | (node & 0xffffu)) << 32 |
		     (uint32_t)((lba << 9) + word);

	return inv ? ~w : w;
}

static void fill(uint8_t *buf, unsigned int node, uint64_t lba, uint32_t nlb, int inv,
		 unsigned int bs)
{
	uint32_t b;
	unsigned int i;

	for (b = 0; b < nlb; b++) {
		uint64_t *w = (uint64_t *)(buf + (size_t)b * bs);

		for (i = 0; i < bs / 8; i++)
			w[i] = pat(node, lba + b, i, inv);
	}
}

/* Returns the number of blocks that differ; shows the first few. */
static long check(const uint8_t *buf, unsigned int node, uint64_t lba, uint32_t nlb, int inv,
		  unsigned int bs, long *shown)
{
	long bad = 0;
	uint32_t b;
	unsigned int i;

	for (b = 0; b < nlb; b++) {
		const uint64_t *w = (const uint64_t *)(buf + (size_t)b * bs);

		for (i = 0; i < bs / 8; i++) {
			uint64_t want = pat(node, lba + b, i, inv);

			if (w[i] != want) {
				if ((*shown)++ < 4)
					say("mismatch: LBA %" PRIu64 " word %u: 0x%016" PRIx64 ", expected 0x%016" PRIx64,
					    lba + b, i, w[i], want);
				bad++;
				break;
			}
		}
	}
	return bad;
}

/* Allocates the queue memory, the data buffers and PRP lists of `slots` slots. */
static int io_alloc(struct ctrl *c, struct io *x, unsigned int slots, size_t slot_bytes)
{
	unsigned int per_chunk, s, k;

	memset(x, 0, sizeof(*x));
	x->c = c;
	x->nslots = slots;
	x->slot_bytes = round_up(slot_bytes, PAGE);
	per_chunk = MAX_SEGMENT / x->slot_bytes;
	x->nchunks = (slots + per_chunk - 1) / per_chunk;
	if (x->nchunks > MAX_CHUNKS) {
		fail("%u slots of %zu bytes: more than %u segments of 4 MiB", slots, x->slot_bytes,
		     MAX_CHUNKS);
		return -1;
	}
	x->slots = calloc(slots, sizeof(*x->slots));
	if (!x->slots) {
		fail("calloc");
		return -1;
	}
	if (queue_alloc(c, &x->q, slots + 1, "I/O queues"))
		return -1;
	for (k = 0; k < x->nchunks; k++) {
		unsigned int n = slots - k * per_chunk < per_chunk ? slots - k * per_chunk : per_chunk;

		if (dmabuf_alloc(c, &x->data[k], n * x->slot_bytes, opt.device_buffers, "data buffers"))
			return -1;
	}
	if (dmabuf_alloc(c, &x->prps, (size_t)slots * PAGE, opt.device_buffers, "PRP lists"))
		return -1;
	for (s = 0; s < slots; s++) {
		struct dmabuf *d = &x->data[s / per_chunk];
		size_t off = (size_t)(s % per_chunk) * x->slot_bytes;

		x->slots[s].buf = d->va + off;
		x->slots[s].buf_io = d->io + off;
		x->slots[s].prp = (uint64_t *)(x->prps.va + (size_t)s * PAGE);
		x->slots[s].prp_io = x->prps.io + (size_t)s * PAGE;
	}
	return 0;
}

static void io_free(struct io *x)
{
	unsigned int k;

	if (!x->c)
		return;
	dmabuf_free(x->c, &x->prps);
	for (k = 0; k < x->nchunks; k++)
		dmabuf_free(x->c, &x->data[k]);
	dmabuf_free(x->c, &x->q.mem);
	free(x->slots);
	x->slots = NULL;
	x->c = NULL;
}

static void io_submit(struct io *x, unsigned int s, int write, uint64_t lba, uint32_t nlb)
{
	struct slot *sl = &x->slots[s];
	size_t len = (size_t)nlb << x->c->lba_shift;
	unsigned int pages = (unsigned int)((len + PAGE - 1) / PAGE), i;
	struct nvme_sqe e;

	memset(&e, 0, sizeof(e));
	e.opc = write ? IO_WRITE : IO_READ;
	e.cid = (uint16_t)s;
	e.nsid = 1;
	e.prp1 = sl->buf_io;
	if (pages == 2) {
		e.prp2 = sl->buf_io + PAGE;
	} else if (pages > 2) {
		/* The pages after the first, in the slot's PRP list page. */
		for (i = 1; i < pages; i++)
			sl->prp[i - 1] = sl->buf_io + (uint64_t)i * PAGE;
		e.prp2 = sl->prp_io;
	}
	e.cdw10 = (uint32_t)lba;
	e.cdw11 = (uint32_t)(lba >> 32);
	e.cdw12 = nlb - 1;
	sl->busy = 1;
	sl->lba = lba;
	sl->nlb = nlb;
	sl->t0 = now();
	sq_submit(&x->q, &e);
}

/*
 * One pass over blocks [first, first + count): writes `node`'s pattern
 * (inverted with inv), or reads the blocks back and checks it. Returns the
 * number of bad blocks, or -1 after an I/O error or a timeout (FAIL shown).
 */
static long io_pass(struct io *x, int write, unsigned int node, int inv, uint64_t first,
		    uint64_t count)
{
	struct ctrl *c = x->c;
	unsigned int bs = 1u << c->lba_shift, qd = opt.qd < x->nslots ? opt.qd : x->nslots;
	uint32_t per_io = opt.iosize >> c->lba_shift;
	uint64_t next = first, end = first + count, done = 0;
	unsigned int inflight = 0, s;
	long bad = 0, shown = 0;
	int error = 0;
	double last = now();
	unsigned long spins = 0;
	struct nvme_cqe cqe;

	while ((done < count && !error) || inflight) {
		while (!error && inflight < qd && next < end) {
			uint32_t nlb = end - next < per_io ? (uint32_t)(end - next) : per_io;

			for (s = 0; x->slots[s].busy; s++)
				;
			if (write)
				fill(x->slots[s].buf, node, next, nlb, inv, bs);
			else
				memset(x->slots[s].buf, 0, (size_t)nlb * bs);
			io_submit(x, s, write, next, nlb);
			next += nlb;
			inflight++;
		}
		if (cq_take(&x->q, &cqe)) {
			struct slot *sl;

			while (1) {
				if (cqe.cid >= x->nslots || !x->slots[cqe.cid].busy) {
					fail("qid %u: a completion for no command (cid %u)", x->q.qid, cqe.cid);
					error = 1;
				} else {
					sl = &x->slots[cqe.cid];
					sl->busy = 0;
					inflight--;
					if (cqe_status(&cqe)) {
						fail("%s LBA %" PRIu64 "+%u on qid %u: NVMe status 0x%x",
						     write ? "write" : "read", sl->lba, sl->nlb, x->q.qid,
						     cqe_status(&cqe));
						error = 1;
					} else {
						if (!write)
							bad += check(sl->buf, node, sl->lba, sl->nlb, inv, bs,
								     &shown);
						done += sl->nlb;
					}
				}
				if (!cq_take(&x->q, &cqe))
					break;
			}
			cq_ring(&x->q);
			last = now();
		} else if (++spins % 256 == 0) {
			if (now() - last > CMD_TIMEOUT) {
				fail("qid %u: %u command(s) not completed within %.0f s (CSTS 0x%x)",
				     x->q.qid, inflight, CMD_TIMEOUT, rd32(c, REG_CSTS));
				return -1;
			}
			sched_yield();
		}
	}
	return error ? -1 : bad;
}

/* Writes the inverted pattern and checks it, then the pattern, and checks it. */
static int verify_own(struct io *x, uint64_t first, uint64_t count, int quiet)
{
	int inv;
	long bad;

	for (inv = quiet ? 0 : 1; inv >= 0; inv--) {
		if (io_pass(x, 1, my_index, inv, first, count) < 0) {
			fail("write of LBA %" PRIu64 "..%" PRIu64, first, first + count - 1);
			return -1;
		}
		bad = io_pass(x, 0, my_index, inv, first, count);
		if (bad) {
			if (bad > 0)
				fail("write+read verify: %ld of %" PRIu64 " blocks differ (%s pattern)", bad,
				     count, inv ? "inverted" : "plain");
			else
				fail("read back of LBA %" PRIu64 "..%" PRIu64, first, first + count - 1);
			return -1;
		}
	}
	if (!quiet)
		pass("write+read verify %" PRIu64 " blocks (LBA %" PRIu64 "..%" PRIu64 ", %u-byte I/Os, qd %u, qid %u, node %u's pattern)",
		     count, first, first + count - 1, opt.iosize, opt.qd, x->q.qid, my_node);
	return 0;
}

/* Reads node's range (a SISCI node id with an index) and checks its pattern. */
static void verify_peer(struct io *x, unsigned int node)
{
	unsigned int idx = (unsigned int)node_index(node);
	uint64_t first = idx * opt.lbas;
	long bad;

	if (first + opt.lbas > x->c->nsze) {
		fail("verify peer node %u: its range ends beyond the namespace", node);
		return;
	}
	bad = io_pass(x, 0, idx, 0, first, opt.lbas);
	if (bad == 0)
		pass("verify peer node %u: %" PRIu64 " blocks of its pattern (LBA %" PRIu64 "..%" PRIu64 ")",
		     node, opt.lbas, first, first + opt.lbas - 1);
	else if (bad > 0)
		fail("verify peer node %u: %ld of %" PRIu64 " blocks differ", node, bad, opt.lbas);
	else
		fail("verify peer node %u: read error", node);
}

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* 4 KiB random reads at queue depth qd for `secs` seconds after a warm-up. */
static void bench(struct io *x, unsigned int qd, double secs)
{
	struct ctrl *c = x->c;
	uint32_t per = PAGE >> c->lba_shift;
	uint64_t span = c->nsze < ((uint64_t)64 << 20 >> c->lba_shift) ? c->nsze :
			((uint64_t)64 << 20 >> c->lba_shift);
	uint64_t units = span / per, n = 0;
	double warm = secs / 5 < 1.0 ? secs / 5 : 1.0;
	double t_stat, t_end, t_last, lat = 0, t;
	unsigned int inflight = 0, s;
	unsigned long spins = 0;
	struct nvme_cqe cqe;

	if (qd > x->nslots || units == 0) {
		fail("bench qd=%u: %u slots, %" PRIu64 " 4 KiB units", qd, x->nslots, units);
		return;
	}
	rng_state = 0x9e3779b97f4a7c15ull ^ ((uint64_t)getpid() << 20) ^ qd;
	t_stat = now() + warm;
	t_end = t_stat + secs;
	t_last = t_stat;
	for (;;) {
		t = now();
		while (t < t_end && inflight < qd) {
			for (s = 0; x->slots[s].busy; s++)
				;
			io_submit(x, s, 0, rng() % units * per, per);
			inflight++;
		}
		if (t >= t_end && inflight == 0)
			break;
		if (cq_take(&x->q, &cqe)) {
			do {
				struct slot *sl;

				if (cqe.cid >= x->nslots || !x->slots[cqe.cid].busy) {
					fail("bench: a completion for no command (cid %u)", cqe.cid);
					return;
				}
				sl = &x->slots[cqe.cid];
				sl->busy = 0;
				inflight--;
				if (cqe_status(&cqe)) {
					fail("bench: read LBA %" PRIu64 ": NVMe status 0x%x", sl->lba,
					     cqe_status(&cqe));
					return;
				}
				t = now();
				if (sl->t0 >= t_stat) {
					n++;
					lat += t - sl->t0;
					t_last = t;
				}
			} while (cq_take(&x->q, &cqe));
			cq_ring(&x->q);
			spins = 0;
		} else if (++spins % 4096 == 0 && now() > t_end + CMD_TIMEOUT) {
			fail("bench qd=%u: %u command(s) not completed", qd, inflight);
			return;
		}
	}
	if (n == 0 || t_last <= t_stat) {
		fail("bench qd=%u: no completion", qd);
		return;
	}
	say("bench qd=%u iops=%.0f lat_us=%.1f", qd, n / (t_last - t_stat), lat / n * 1e6);
}

/* Verification, peer check, bench and hold: what every mode does on its pair. */
static void run_io(struct io *x)
{
	uint64_t first = my_index * opt.lbas;

	if (first + opt.lbas > x->c->nsze) {
		fail("node %u's range LBA %" PRIu64 "..%" PRIu64 " ends beyond the namespace (%" PRIu64 " blocks)",
		     my_node, first, first + opt.lbas - 1, x->c->nsze);
		return;
	}
	if (verify_own(x, first, opt.lbas, 0))
		return;
	if (opt.verify_peer >= 0)
		verify_peer(x, (unsigned int)opt.verify_peer);
	if (opt.bench) {
		bench(x, 1, opt.bench);
		bench(x, 32, opt.bench);
	}
}

static void hold(struct io *x)
{
	double until = now() + opt.hold;

	if (!opt.hold)
		return;
	say("holding queue pair qid %u, the device and every mapping for %u s", x->q.qid, opt.hold);
	while (!stop && now() < until)
		sleep_ms(100);
}

/* The checks common to all modes on the options against the controller. */
static int io_params_ok(struct ctrl *c)
{
	unsigned int bs = 1u << c->lba_shift;

	if (opt.iosize < bs || opt.iosize % bs) {
		fail("--iosize %u is not a multiple of the %u-byte block", opt.iosize, bs);
		return 0;
	}
	if (c->mdts_bytes && opt.iosize > c->mdts_bytes) {
		fail("--iosize %u is beyond the controller's largest transfer (%u)", opt.iosize,
		     c->mdts_bytes);
		return 0;
	}
	return 1;
}

static unsigned int io_slots(void)
{
	return opt.bench && opt.qd < 32 ? 32 : opt.qd;
}

/* ---- Admin owner and exclusive mode ----------------------------------------- */

struct owner {
	struct ctrl *c;
	struct io *own;
	sci_local_segment_t mbox;
	sci_map_t mbox_map;
	volatile uint8_t *mem;
	volatile struct mbox_hdr *hdr;
	sci_local_data_interrupt_t req;
	struct {
		unsigned int qid;
		unsigned int pid;
		unsigned int conns;	/* its node's connections to the mailbox */
	} clients[MBOX_MAX_NODES];	/* by node index */
	unsigned char used[MAX_QID];
};

/* Deletes the pair of the node of index idx, if it holds one. */
static void reclaim(struct owner *o, unsigned int idx, const char *why)
{
	unsigned int qid = o->clients[idx].qid;
	unsigned int node = index_node(idx);
	int st;

	if (!qid)
		return;
	st = delete_qpair(o->c, qid);
	if (st)
		fail("node %u: deleting its queue pair qid %u: status %d", node, qid, st);
	else
		say("node %u (pid %u) %s: deleted its queue pair qid %u", node, o->clients[idx].pid, why,
		    qid);
	o->used[qid] = 0;
	o->clients[idx].qid = 0;
}

/*
 * Connect/disconnect events of the mailbox. A node's pair is deleted when
 * the node has no connection left: its client went away (a second client
 * of that node, refused with ST_BUSY, leaving does not cost the first its
 * pair).
 */
static void drain_events(struct owner *o)
{
	for (;;) {
		unsigned int node = 0, adapter = 0;
		sci_error_t err;
		sci_segment_cb_reason_t r;
		int idx;

		r = SCIWaitForLocalSegmentEvent(o->mbox, &node, &adapter, 1, NO_FLAGS, &err);
		if (err != SCI_ERR_OK)
			return;
		idx = node_index(node);
		if (idx < 0)
			continue;
		if (r == SCI_CB_CONNECT) {
			o->clients[idx].conns++;
			say("node %u connected to the mailbox", node);
		} else if (r == SCI_CB_DISCONNECT || r == SCI_CB_LOST) {
			if (o->clients[idx].conns)
				o->clients[idx].conns--;
			say("node %u %s the mailbox", node, r == SCI_CB_LOST ? "lost" : "disconnected from");
			if (!o->clients[idx].conns)
				reclaim(o, (unsigned int)idx, "is gone");
		}
	}
}

static void answer(struct owner *o, unsigned int node, uint32_t intr, struct mbox_reply *rep)
{
	sci_remote_data_interrupt_t ri;
	sci_error_t err;

	SCIConnectDataInterrupt(o->c->sd, &ri, node, 0, intr, 5000, NO_FLAGS, &err);
	if (err != SCI_ERR_OK) {
		say("node %u: cannot answer on its interrupt 0x%x: %s", node, intr,
		    SCIGetErrorString(err));
		return;
	}
	SCITriggerDataInterrupt(ri, rep, sizeof(*rep), NO_FLAGS, &err);
	if (err != SCI_ERR_OK)
		say("node %u: answer not delivered: %s", node, SCIGetErrorString(err));
	SCIDisconnectDataInterrupt(ri, NO_FLAGS, &err);
}

/* A request of node (a SISCI node id with an index: serve checked it). */
static void handle_request(struct owner *o, unsigned int node, uint32_t seq)
{
	unsigned int idx = (unsigned int)node_index(node);
	volatile struct mbox_slot *vs =
		(volatile struct mbox_slot *)(o->mem + MBOX_SLOT_OFF + idx * MBOX_SLOT_SIZE);
	struct mbox_slot r;
	struct mbox_reply rep = { REP_MAGIC, seq, ST_OK, 0, 0 };
	unsigned int i, qid;
	int st;

	/* The slot's stores may trail the trigger: wait for its seq (written last). */
	for (i = 0; i < 1000 && vs->seq != seq; i++)
		sleep_ms(1);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	r.magic = vs->magic;
	r.seq = vs->seq;
	r.op = vs->op;
	r.node = vs->node;
	r.pid = vs->pid;
	r.reply_intr = vs->reply_intr;
	r.sq_entries = vs->sq_entries;
	r.cq_entries = vs->cq_entries;
	r.sq_ioaddr = vs->sq_ioaddr;
	r.cq_ioaddr = vs->cq_ioaddr;
	r.qid = vs->qid;
	if (r.seq != seq || r.magic != SLOT_MAGIC || r.node != node) {
		say("node %u: a request (seq 0x%x) without a matching slot", node, seq);
		rep.status = ST_BAD_REQUEST;
	} else if (r.op == OP_CREATE_QPAIR) {
		if (o->clients[idx].qid) {
			rep.status = ST_BUSY;
		} else if (r.sq_entries < 2 || r.sq_entries > o->c->max_entries ||
			   r.cq_entries < 2 || r.cq_entries > o->c->max_entries ||
			   !r.sq_ioaddr || r.sq_ioaddr % PAGE || !r.cq_ioaddr || r.cq_ioaddr % PAGE) {
			rep.status = ST_BAD_REQUEST;
		} else {
			for (qid = 1; qid <= o->c->max_qid && o->used[qid]; qid++)
				;
			if (qid > o->c->max_qid) {
				rep.status = ST_NO_QUEUE;
			} else {
				st = create_qpair(o->c, qid, r.sq_ioaddr, r.sq_entries, r.cq_ioaddr,
						  r.cq_entries);
				if (st) {
					rep.status = ST_NVME;
					rep.nvme_status = st < 0 ? 0xffffu : (uint32_t)st;
				} else {
					o->used[qid] = 1;
					o->clients[idx].qid = qid;
					o->clients[idx].pid = r.pid;
					rep.qid = qid;
					say("node %u (pid %u): created I/O queue pair qid %u (SQ %u entries at 0x%" PRIx64 ", CQ %u at 0x%" PRIx64 ")",
					    node, r.pid, qid, r.sq_entries, r.sq_ioaddr, r.cq_entries,
					    r.cq_ioaddr);
				}
			}
		}
	} else if (r.op == OP_DELETE_QPAIR) {
		if (!o->clients[idx].qid || o->clients[idx].qid != r.qid) {
			rep.status = ST_NOT_HELD;
		} else {
			qid = r.qid;
			st = delete_qpair(o->c, qid);
			o->used[qid] = 0;
			o->clients[idx].qid = 0;
			if (st) {
				rep.status = ST_NVME;
				rep.nvme_status = st < 0 ? 0xffffu : (uint32_t)st;
			} else {
				say("node %u (pid %u): deleted I/O queue pair qid %u", node, r.pid, qid);
			}
		}
	} else {
		rep.status = ST_BAD_REQUEST;
	}
	if (rep.status != ST_OK)
		say("node %u: request %u refused: %s (NVMe status 0x%x)", node, r.op,
		    status_name(rep.status), rep.nvme_status);
	answer(o, node, r.reply_intr, &rep);
}

/*
 * The admin owner's own I/O while it serves: its range rewritten (the plain
 * pattern only, so a peer reading it always finds it) and verified every
 * half second, on its own queue pair, next to the clients' I/O.
 */
static void *owner_rounds(void *arg)
{
	struct io *x = arg;
	unsigned int i;

	while (!x->stop_rounds) {
		for (i = 0; i < 50 && !x->stop_rounds; i++)
			sleep_ms(10);
		if (x->stop_rounds)
			break;
		if (verify_own(x, my_index * opt.lbas, opt.lbas, 1))
			break;
		x->rounds++;
	}
	return NULL;
}

static int mbox_publish(struct owner *o)
{
	struct ctrl *c = o->c;
	sci_error_t err;
	unsigned int intno = MBOX_INTR_NO;
	volatile struct mbox_hdr *h;
	size_t i;

	SCICreateSegment(c->sd, &o->mbox, MBOX_SEGMENT_ID, MBOX_SIZE, NO_CALLBACK, NO_ARG, NO_FLAGS,
			 &err);
	if (!ok(err, "SCICreateSegment(mailbox)")) {
		o->mbox = NULL;
		return -1;
	}
	o->mem = SCIMapLocalSegment(o->mbox, &o->mbox_map, 0, MBOX_SIZE, NULL, NO_FLAGS, &err);
	if (!ok(err, "SCIMapLocalSegment(mailbox)")) {
		o->mbox_map = NULL;
		return -1;
	}
	for (i = 0; i < MBOX_SIZE; i++)
		o->mem[i] = 0;
	SCICreateDataInterrupt(c->sd, &o->req, 0, &intno, NO_CALLBACK, NO_ARG, SCI_FLAG_FIXED_INTNO,
			       &err);
	if (!ok(err, "SCICreateDataInterrupt(requests)")) {
		o->req = NULL;
		return -1;
	}
	h = o->hdr = (volatile struct mbox_hdr *)o->mem;
	h->version = PROTO_VERSION;
	h->owner_node = my_node;
	h->fdid = c->fdid;
	h->intr_no = intno;
	h->max_qid = c->max_qid;
	h->owner_qid = o->own->q.qid;
	h->max_entries = c->max_entries;
	h->lba_shift = c->lba_shift;
	h->nsze = c->nsze;
	h->mdts_bytes = c->mdts_bytes;
	for (i = 0; i < sizeof(h->model) && c->model[i]; i++)
		h->model[i] = c->model[i];
	for (i = 0; i < sizeof(h->serial) && c->serial[i]; i++)
		h->serial[i] = c->serial[i];
	h->state = MBOX_READY;
	h->magic = MBOX_MAGIC;
	SCIPrepareSegment(o->mbox, 0, NO_FLAGS, &err);
	if (!ok(err, "SCIPrepareSegment(mailbox)"))
		return -1;
	SCISetSegmentAvailable(o->mbox, 0, NO_FLAGS, &err);
	if (!ok(err, "SCISetSegmentAvailable(mailbox)"))
		return -1;
	return 0;
}

static void mbox_remove(struct owner *o)
{
	sci_error_t err;

	if (o->req) {
		SCIRemoveDataInterrupt(o->req, NO_FLAGS, &err);
		ok(err, "SCIRemoveDataInterrupt(requests)");
	}
	if (o->mbox) {
		SCISetSegmentUnavailable(o->mbox, 0, NO_FLAGS, &err);
		if (o->mbox_map) {
			SCIUnmapSegment(o->mbox_map, NO_FLAGS, &err);
			ok(err, "SCIUnmapSegment(mailbox)");
		}
		SCIRemoveSegment(o->mbox, SCI_FLAG_FORCE_REMOVE, &err);
		ok(err, "SCIRemoveSegment(mailbox)");
	}
}

static void serve(struct owner *o)
{
	double until = opt.serve ? now() + opt.serve : 0;
	unsigned char buf[128];
	struct mbox_trigger t;
	unsigned int len;
	sci_error_t err;

	say("serving: mailbox segment 0x%x and request interrupt 0x%x on node %u, queue ids up to %u",
	    MBOX_SEGMENT_ID, MBOX_INTR_NO, my_node, o->c->max_qid);
	while (!stop && (!until || now() < until)) {
		len = sizeof(buf);
		SCIWaitForDataInterrupt(o->req, buf, &len, 100, NO_FLAGS, &err);
		drain_events(o);
		if (err == SCI_ERR_TIMEOUT || err == SCI_ERR_CANCELLED)
			continue;
		if (!ok(err, "SCIWaitForDataInterrupt(requests)"))
			break;
		memcpy(&t, buf, sizeof(t));
		if (len != sizeof(t) || t.magic != REQ_MAGIC || node_index(t.node) < 0) {
			say("ignored a malformed request (%u bytes)", len);
			continue;
		}
		handle_request(o, t.node, t.seq);
	}
}

static int find_device(sci_desc_t sd, uint32_t *fdid)
{
	sci_smartio_device_info_t filter;
	uint32_t ids[32];
	size_t n, i;
	sci_error_t err;

	memset(&filter, 0, sizeof(filter));
	filter.pci_class = 0x010802;
	n = SCIGetDeviceList(sd, ids, 32, &filter, NO_FLAGS, &err);
	if (!ok(err, "SCIGetDeviceList(class 0x010802)"))
		return -1;
	if (n == 0) {
		fail("SCIGetDeviceList: no NVMe device lent in the fabric");
		return -1;
	}
	if (opt.fdid) {
		for (i = 0; i < n && i < 32 && ids[i] != opt.fdid; i++)
			;
		if (i == n || i == 32) {
			fail("SCIGetDeviceList: fabric device 0x%x is not among the %zu NVMe devices",
			     opt.fdid, n);
			return -1;
		}
		*fdid = opt.fdid;
	} else {
		*fdid = ids[0];
	}
	pass("SCIGetDeviceList: %zu NVMe device(s), using fabric device 0x%x", n, *fdid);
	return 0;
}

/* --admin (serving) and --exclusive (not). */
static void run_owner(sci_desc_t sd, int serving)
{
	struct ctrl c;
	struct io x;
	struct owner o;
	pthread_t th;
	int th_started = 0;
	uint32_t fdid;
	unsigned int idx;

	memset(&c, 0, sizeof(c));
	memset(&x, 0, sizeof(x));
	memset(&o, 0, sizeof(o));
	c.sd = sd;
	if (find_device(sd, &fdid) || ctrl_open(&c, fdid, serving))
		goto out;
	if (ctrl_enable(&c) || ctrl_identify(&c) || ctrl_set_queues(&c, 64) || !io_params_ok(&c))
		goto out;
	if (io_slots() + 1 > c.max_entries) {
		fail("--qd %u: queues hold at most %u entries", opt.qd, c.max_entries);
		goto out;
	}
	if (io_alloc(&c, &x, io_slots(), opt.iosize) || queue_set_qid(&c, &x.q, 1))
		goto out;
	if (create_qpair(&c, 1, x.q.sq_io, x.q.entries, x.q.cq_io, x.q.entries)) {
		fail("creating I/O queue pair 1");
		goto out;
	}
	x.created = 1;
	pass("I/O queue pair qid 1 created: %u entries, SQ at 0x%" PRIx64 ", CQ at 0x%" PRIx64 ", polled",
	     x.q.entries, (uint64_t)x.q.sq_io, (uint64_t)x.q.cq_io);
	run_io(&x);
	if (serving && !failures) {
		o.c = &c;
		o.own = &x;
		o.used[1] = 1;
		if (mbox_publish(&o))
			goto out;
		if (pthread_create(&th, NULL, owner_rounds, &x) == 0)
			th_started = 1;
		else
			fail("pthread_create");
		serve(&o);
		o.hdr->state = MBOX_STOPPING;
		x.stop_rounds = 1;
		if (th_started) {
			pthread_join(th, NULL);
			th_started = 0;
			pass("%u background round(s) of write+read verify while serving", x.rounds);
		}
		drain_events(&o);
		for (idx = 0; idx < MBOX_MAX_NODES; idx++)
			reclaim(&o, idx, "still held a pair at shutdown");
	}
	hold(&x);
out:
	if (th_started) {
		x.stop_rounds = 1;
		pthread_join(th, NULL);
	}
	if (x.created) {
		if (delete_qpair(&c, 1))
			fail("deleting I/O queue pair 1");
		else
			pass("I/O queue pair qid 1 deleted");
	}
	if (c.enabled)
		ctrl_shutdown(&c);
	mbox_remove(&o);
	io_free(&x);
	dmabuf_free(&c, &c.idbuf);
	if (c.dev)
		dmabuf_free(&c, &c.aq.mem);
	ctrl_close(&c);
}

/* ---- Client -------------------------------------------------------------------- */

struct client {
	sci_desc_t sd;
	sci_remote_segment_t mbox;
	sci_map_t mbox_map;
	volatile uint8_t *mem;
	sci_remote_data_interrupt_t req;
	sci_local_data_interrupt_t rep;
	unsigned int rep_no;
	uint32_t seq;
};

static int request(struct client *cl, uint32_t op, struct io *x, uint32_t qid,
		   struct mbox_reply *rep)
{
	volatile struct mbox_slot *s =
		(volatile struct mbox_slot *)(cl->mem + MBOX_SLOT_OFF + my_index * MBOX_SLOT_SIZE);
	struct mbox_trigger t;
	unsigned char buf[128];
	unsigned int len;
	sci_error_t err;
	double deadline;
	uint32_t seq = ++cl->seq;

	s->magic = SLOT_MAGIC;
	s->op = op;
	s->node = my_node;
	s->pid = (uint32_t)getpid();
	s->reply_intr = cl->rep_no;
	s->sq_entries = x->q.entries;
	s->cq_entries = x->q.entries;
	s->sq_ioaddr = x->q.sq_io;
	s->cq_ioaddr = x->q.cq_io;
	s->qid = qid;
	SCIFlush(NULL, NO_FLAGS);
	s->seq = seq;
	SCIFlush(NULL, NO_FLAGS);
	if (s->seq != seq) {	/* a read back: the posted writes have landed */
		fail("mailbox slot: wrote seq 0x%x, reads 0x%x", seq, s->seq);
		return -1;
	}
	t.magic = REQ_MAGIC;
	t.node = my_node;
	t.seq = seq;
	SCITriggerDataInterrupt(cl->req, &t, sizeof(t), NO_FLAGS, &err);
	if (!ok(err, "SCITriggerDataInterrupt(request)"))
		return -1;
	deadline = now() + 30;
	for (;;) {
		double left = deadline - now();

		if (left <= 0) {
			fail("no answer from the admin owner within 30 s (request %u)", op);
			return -1;
		}
		len = sizeof(buf);
		SCIWaitForDataInterrupt(cl->rep, buf, &len, (unsigned int)(left * 1000) + 1, NO_FLAGS,
					&err);
		if (err == SCI_ERR_TIMEOUT || err == SCI_ERR_CANCELLED)
			continue;
		if (!ok(err, "SCIWaitForDataInterrupt(answer)"))
			return -1;
		memcpy(rep, buf, sizeof(*rep) < len ? sizeof(*rep) : len);
		if (len == sizeof(*rep) && rep->magic == REP_MAGIC && rep->seq == seq)
			return 0;
		say("ignored a stale answer (%u bytes)", len);
	}
}

static int client_connect(struct client *cl, struct mbox_hdr *h)
{
	sci_error_t err;
	double deadline = now() + opt.timeout;
	volatile struct mbox_hdr *vh;
	volatile void *p;
	size_t i;

	for (;;) {
		SCIConnectSegment(cl->sd, &cl->mbox, (unsigned int)opt.admin_node, MBOX_SEGMENT_ID, 0,
				  NO_CALLBACK, NO_ARG, 2000, NO_FLAGS, &err);
		if (err == SCI_ERR_OK)
			break;
		cl->mbox = NULL;
		if (stop || now() > deadline) {
			ok(err, "SCIConnectSegment(mailbox of the admin owner)");
			return -1;
		}
		sleep_ms(200);
	}
	p = SCIMapRemoteSegment(cl->mbox, &cl->mbox_map, 0, MBOX_SIZE, NULL, NO_FLAGS, &err);
	if (!ok(err, "SCIMapRemoteSegment(mailbox)")) {
		cl->mbox_map = NULL;
		return -1;
	}
	cl->mem = (volatile uint8_t *)p;
	vh = (volatile struct mbox_hdr *)cl->mem;
	while (vh->magic != MBOX_MAGIC || vh->state != MBOX_READY) {
		if (stop || now() > deadline) {
			fail("mailbox of node %d: magic 0x%x state %u, not ready", opt.admin_node,
			     vh->magic, vh->state);
			return -1;
		}
		sleep_ms(100);
	}
	for (i = 0; i < sizeof(*h); i++)
		((uint8_t *)h)[i] = cl->mem[i];
	if (h->version != PROTO_VERSION || h->max_entries < 2 || h->lba_shift < 9 ||
	    h->lba_shift > 12 || !h->nsze) {
		fail("mailbox of node %d: version %u, %u entries, block 2^%u, %" PRIu64 " blocks",
		     opt.admin_node, h->version, h->max_entries, h->lba_shift, h->nsze);
		return -1;
	}
	pass("mailbox of the admin owner on node %u: fabric device 0x%x (%.40s serial %.20s), qids up to %u, %" PRIu64 " blocks of %u bytes",
	     h->owner_node, h->fdid, h->model, h->serial, h->max_qid, h->nsze, 1u << h->lba_shift);
	return 0;
}

static void run_client(sci_desc_t sd)
{
	struct client cl;
	struct mbox_hdr h;
	struct mbox_reply rep;
	struct ctrl c;
	struct io x;
	sci_error_t err;
	unsigned int qid = 0;

	memset(&cl, 0, sizeof(cl));
	memset(&c, 0, sizeof(c));
	memset(&x, 0, sizeof(x));
	cl.sd = c.sd = sd;
	cl.seq = (uint32_t)getpid() << 8;
	if (client_connect(&cl, &h))
		goto out;
	if (ctrl_open(&c, h.fdid, 1))
		goto out;
	c.lba_shift = h.lba_shift;
	c.nsze = h.nsze;
	c.mdts_bytes = h.mdts_bytes;
	c.max_qid = h.max_qid;
	if (!io_params_ok(&c))
		goto out;
	if (io_slots() + 1 > h.max_entries) {
		fail("--qd %u: queues hold at most %u entries", opt.qd, h.max_entries);
		goto out;
	}
	if (io_alloc(&c, &x, io_slots(), opt.iosize))
		goto out;
	SCICreateDataInterrupt(sd, &cl.rep, 0, &cl.rep_no, NO_CALLBACK, NO_ARG, NO_FLAGS, &err);
	if (!ok(err, "SCICreateDataInterrupt(answers)")) {
		cl.rep = NULL;
		goto out;
	}
	SCIConnectDataInterrupt(sd, &cl.req, (unsigned int)opt.admin_node, 0, h.intr_no, 10000,
				NO_FLAGS, &err);
	if (!ok(err, "SCIConnectDataInterrupt(the admin owner's requests)")) {
		cl.req = NULL;
		goto out;
	}
	if (request(&cl, OP_CREATE_QPAIR, &x, 0, &rep))
		goto out;
	if (rep.status != ST_OK) {
		fail("queue pair request: %s (NVMe status 0x%x)", status_name(rep.status),
		     rep.nvme_status);
		goto out;
	}
	qid = rep.qid;
	x.created = 1;
	if (queue_set_qid(&c, &x.q, qid))
		goto out;
	pass("queue pair from the admin owner: qid %u (%u entries, SQ at 0x%" PRIx64 ", CQ at 0x%" PRIx64 " in this node's memory)",
	     qid, x.q.entries, (uint64_t)x.q.sq_io, (uint64_t)x.q.cq_io);
	run_io(&x);
	hold(&x);
out:
	if (x.created) {
		if (request(&cl, OP_DELETE_QPAIR, &x, qid, &rep) == 0) {
			if (rep.status == ST_OK)
				pass("queue pair qid %u deleted by the admin owner", qid);
			else
				fail("queue pair qid %u delete: %s (NVMe status 0x%x)", qid,
				     status_name(rep.status), rep.nvme_status);
		}
	}
	if (cl.req) {
		SCIDisconnectDataInterrupt(cl.req, NO_FLAGS, &err);
		ok(err, "SCIDisconnectDataInterrupt");
	}
	if (cl.rep) {
		SCIRemoveDataInterrupt(cl.rep, NO_FLAGS, &err);
		ok(err, "SCIRemoveDataInterrupt");
	}
	io_free(&x);
	if (cl.mbox_map) {
		SCIUnmapSegment(cl.mbox_map, NO_FLAGS, &err);
		ok(err, "SCIUnmapSegment(mailbox)");
	}
	if (cl.mbox) {
		SCIDisconnectSegment(cl.mbox, NO_FLAGS, &err);
		ok(err, "SCIDisconnectSegment(mailbox)");
	}
	ctrl_close(&c);
}

/* ---- main ------------------------------------------------------------------------ */

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sisci-nvme --admin [--fdid F] [--serve S] [options]\n"
		"       sisci-nvme --client --admin-node N [options]\n"
		"       sisci-nvme --exclusive [--fdid F] [options]\n"
		"options: --lbas N (blocks per node, default 1024) --iosize BYTES (16384)\n"
		"         --qd N (8) --buffers local|device (device) --verify-peer NODE\n"
		"         --bench SECONDS --hold SECONDS --timeout SECONDS (60)\n"
		"node ids (N, NODE) are SISCI's: 4, 8, 12, ... (rsio node n is 4 * (n + 1))\n");
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
		{ "admin", no_argument, NULL, 'A' },
		{ "client", no_argument, NULL, 'C' },
		{ "exclusive", no_argument, NULL, 'X' },
		{ "admin-node", required_argument, NULL, 'n' },
		{ "fdid", required_argument, NULL, 'f' },
		{ "lbas", required_argument, NULL, 'l' },
		{ "iosize", required_argument, NULL, 'i' },
		{ "qd", required_argument, NULL, 'q' },
		{ "buffers", required_argument, NULL, 'b' },
		{ "verify-peer", required_argument, NULL, 'p' },
		{ "bench", required_argument, NULL, 'B' },
		{ "hold", required_argument, NULL, 'H' },
		{ "serve", required_argument, NULL, 'S' },
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
		case 'A':
			opt.mode = MODE_ADMIN;
			break;
		case 'C':
			opt.mode = MODE_CLIENT;
			break;
		case 'X':
			opt.mode = MODE_EXCLUSIVE;
			break;
		case 'n':
			opt.admin_node = (int)num(optarg, index_node(MBOX_MAX_NODES - 1));
			if (node_index((unsigned int)opt.admin_node) < 0)
				usage();
			break;
		case 'f':
			opt.fdid = (uint32_t)num(optarg, 0xffffffffu);
			break;
		case 'l':
			opt.lbas = num(optarg, 1ul << 40);
			break;
		case 'i':
			opt.iosize = (uint32_t)num(optarg, 1u << 20);
			break;
		case 'q':
			opt.qd = (unsigned int)num(optarg, 256);
			break;
		case 'b':
			if (!strcmp(optarg, "local"))
				opt.device_buffers = 0;
			else if (!strcmp(optarg, "device"))
				opt.device_buffers = 1;
			else
				usage();
			break;
		case 'p':
			opt.verify_peer = (int)num(optarg, index_node(MBOX_MAX_NODES - 1));
			if (node_index((unsigned int)opt.verify_peer) < 0)
				usage();
			break;
		case 'B':
			opt.bench = (unsigned int)num(optarg, 3600);
			break;
		case 'H':
			opt.hold = (unsigned int)num(optarg, 86400);
			break;
		case 'S':
			opt.serve = (unsigned int)num(optarg, 86400);
			break;
		case 't':
			opt.timeout = (unsigned int)num(optarg, 86400);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || opt.mode == MODE_NONE || opt.lbas == 0 || opt.qd == 0 ||
	    opt.iosize == 0 || (opt.mode == MODE_CLIENT) != (opt.admin_node >= 0))
		usage();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: waits return early */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	SCIInitialize(NO_FLAGS, &err);
	if (!ok(err, "SCIInitialize"))
		goto done;
	SCIOpen(&sd, NO_FLAGS, &err);
	if (!ok(err, "SCIOpen")) {
		SCITerminate();
		goto done;
	}
	SCIGetLocalNodeId(0, &my_node, NO_FLAGS, &err);
	if (!ok(err, "SCIGetLocalNodeId")) {
		/* nothing to run */
	} else if (node_index(my_node) < 0) {
		fail("this node's id %u has no request slot (4, 8, ..., %u)", my_node,
		     index_node(MBOX_MAX_NODES - 1));
	} else {
		my_index = (unsigned int)node_index(my_node);
		say("sisci-nvme on node %u: %s, %" PRIu64 " blocks per node, %u-byte I/Os, qd %u, %s buffers",
		    my_node,
		    opt.mode == MODE_ADMIN ? "admin owner" :
		    opt.mode == MODE_CLIENT ? "client" : "exclusive",
		    opt.lbas, opt.iosize, opt.qd, opt.device_buffers ? "device-segment" : "local-segment");
		if (opt.mode == MODE_CLIENT)
			run_client(sd);
		else
			run_owner(sd, opt.mode == MODE_ADMIN);
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
