/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The parameter lists sisci_api.h accepts for SCIMapLocalSegmentForDevice
 * and SCIMapRemoteSegmentForDevice (docs/sisci.md, "SmartIO"), checked
 * without libsisci: this program defines the calls itself, under the name
 * a call links as (the plain name with RSIO_SISCI_PLAIN_NAMES, else
 * _SISCI_PUBLIC_FUNC_ST_ or, with _REENTRANT, _SISCI_PUBLIC_FUNC_MT_) and
 * under the plain name (what &SCIMapLocalSegmentForDevice names), records
 * what each receives and checks every form against the call it must be.
 *
 * tests/compat.rs builds it as C89 to C17 and C++98 to C++20 with -Wall
 * -Wextra -Werror -pedantic, with and without RSIO_SISCI_PLAIN_NAMES and
 * _REENTRANT, and runs it; with -DWRONG_COUNT it must not build. The older
 * parameter lists need C99 or C++11 (variadic macros): before, only the
 * current ones are checked. It is C89 and C++98 itself.
 *
 * Prints PASS/FAIL lines; exits 1 on any failure.
 */
#include <stdio.h>
#include <string.h>

#include <sisci_api.h>

#if defined(RSIO_SISCI_PLAIN_NAMES)
#define LINKED(name) name
#define LINKED_TAG "plain name"
#elif defined(_REENTRANT)
#define LINKED(name) _SISCI_PUBLIC_FUNC_MT_ ## name
#define LINKED_TAG "_SISCI_PUBLIC_FUNC_MT_"
#else
#define LINKED(name) _SISCI_PUBLIC_FUNC_ST_ ## name
#define LINKED_TAG "_SISCI_PUBLIC_FUNC_ST_"
#endif

/* What &SCIMapLocalSegmentForDevice names: the plain name beside the
 * function-like macros, else the name calls link as. */
#if RSIO_SISCI_VARIADIC_CALLS && !defined(RSIO_SISCI_PLAIN_NAMES)
#define ADDRESS_TAG "plain name"
#else
#define ADDRESS_TAG LINKED_TAG
#endif

/* ---- The calls, recording their arguments ------------------------------- */

static struct {
	const char *via;
	const char *call;
	const void *segment;
	unsigned int adapter;
	const void *device;
	const sci_ioaddr_t *ioaddr;
	size_t offset;
	size_t size;
	unsigned int flags;
	const sci_error_t *error;
	int calls;
} got;

static void record(const char *via, const char *call, const void *segment,
		unsigned int adapter, const void *device, sci_ioaddr_t *ioaddr,
		size_t offset, size_t size, unsigned int flags,
		sci_error_t *error)
{
	got.via = via;
	got.call = call;
	got.segment = segment;
	got.adapter = adapter;
	got.device = device;
	got.ioaddr = ioaddr;
	got.offset = offset;
	got.size = size;
	got.flags = flags;
	got.error = error;
	got.calls++;
	if (ioaddr)
		*ioaddr = 0x100000 + offset;
	*error = SCI_ERR_OK;
}

void (LINKED(SCIMapLocalSegmentForDevice))(sci_local_segment_t segment,
		unsigned int localAdapterNo, sci_smartio_device_t device,
		sci_ioaddr_t *ioaddr, size_t offset, size_t size,
		unsigned int flags, sci_error_t *error)
{
	record(LINKED_TAG, "local", segment, localAdapterNo, device, ioaddr,
	       offset, size, flags, error);
}

void (LINKED(SCIMapRemoteSegmentForDevice))(sci_remote_segment_t segment,
		sci_smartio_device_t device, sci_ioaddr_t *ioaddr,
		size_t offset, size_t size, unsigned int flags,
		sci_error_t *error)
{
	record(LINKED_TAG, "remote", segment, 0, device, ioaddr, offset, size,
	       flags, error);
}

void (LINKED(SCIUnmapLocalSegmentForDevice))(sci_local_segment_t segment,
		unsigned int localAdapterNo, sci_smartio_device_t device,
		unsigned int flags, sci_error_t *error)
{
	record(LINKED_TAG, "unmap local", segment, localAdapterNo, device,
	       NULL, 0, 0, flags, error);
}

void (LINKED(SCIUnmapRemoteSegmentForDevice))(sci_remote_segment_t segment,
		sci_smartio_device_t device, unsigned int flags,
		sci_error_t *error)
{
	record(LINKED_TAG, "unmap remote", segment, 0, device, NULL, 0, 0,
	       flags, error);
}

#if RSIO_SISCI_VARIADIC_CALLS && !defined(RSIO_SISCI_PLAIN_NAMES)
void (SCIMapLocalSegmentForDevice)(sci_local_segment_t segment,
		unsigned int localAdapterNo, sci_smartio_device_t device,
		sci_ioaddr_t *ioaddr, size_t offset, size_t size,
		unsigned int flags, sci_error_t *error)
{
	record("plain name", "local", segment, localAdapterNo, device, ioaddr,
	       offset, size, flags, error);
}

void (SCIMapRemoteSegmentForDevice)(sci_remote_segment_t segment,
		sci_smartio_device_t device, sci_ioaddr_t *ioaddr,
		size_t offset, size_t size, unsigned int flags,
		sci_error_t *error)
{
	record("plain name", "remote", segment, 0, device, ioaddr, offset, size,
	       flags, error);
}
#endif

/* ---- Checks -------------------------------------------------------------- */

static unsigned int failures;

/* The last call was `call` through `via` with these arguments. */
static void expect(const char *what, const char *via, const char *call,
		const void *segment, unsigned int adapter, const void *device,
		const sci_ioaddr_t *ioaddr, size_t offset, size_t size,
		unsigned int flags, const sci_error_t *error)
{
	int ok = got.calls == 1 && !strcmp(got.via, via) &&
		 !strcmp(got.call, call) && got.segment == segment &&
		 got.adapter == adapter && got.device == device &&
		 got.ioaddr == ioaddr && got.offset == offset &&
		 got.size == size && got.flags == flags && got.error == error;

	if (!ok) {
		failures++;
		printf("FAIL %s: %d call(s), last %s via %s: adapter %u, "
		       "offset %#lx, size %#lx, flags %#x%s\n", what, got.calls,
		       got.call ? got.call : "-", got.via ? got.via : "-",
		       got.adapter, (unsigned long)got.offset,
		       (unsigned long)got.size, got.flags,
		       got.segment == segment && got.device == device &&
		       got.ioaddr == ioaddr && got.error == error ? "" :
		       " (handles or pointers differ)");
	} else {
		printf("PASS %s\n", what);
	}
	memset(&got, 0, sizeof(got));
}

static size_t sum(size_t a, size_t b)
{
	return a + b;
}

#if RSIO_SISCI_VARIADIC_CALLS
/* A program's wrapper that appends the error argument (a NCCL SISCI
 * plugin has one of these for every call). */
#define WRAP(fn, ...) fn(__VA_ARGS__, &err)
#endif

int main(void)
{
	static char objects[3];
	sci_local_segment_t ls = (sci_local_segment_t)(void *)&objects[0];
	sci_remote_segment_t rs = (sci_remote_segment_t)(void *)&objects[1];
	sci_smartio_device_t dev = (sci_smartio_device_t)(void *)&objects[2];
	sci_ioaddr_t io = 0;
	sci_error_t err = SCI_ERR_NO_SUCH_SEGMENT;
	unsigned int adapter = 3;
	void (*map_local)(sci_local_segment_t, unsigned int,
			  sci_smartio_device_t, sci_ioaddr_t *, size_t, size_t,
			  unsigned int, sci_error_t *);
	void (*map_remote)(sci_remote_segment_t, sci_smartio_device_t,
			   sci_ioaddr_t *, size_t, size_t, unsigned int,
			   sci_error_t *);

	printf("INFO variadic forms: %d, calls link as %s\n",
	       RSIO_SISCI_VARIADIC_CALLS, LINKED_TAG);

	/* Current releases (8 / 7 arguments). */
	SCIMapLocalSegmentForDevice(ls, 1, dev, &io, 0x100, 0x2000, 0x40, &err);
	expect("local (segment, adapter, device, &ioaddr, offset, size, flags, &err)",
	       LINKED_TAG, "local", ls, 1, dev, &io, 0x100, 0x2000, 0x40, &err);
	if (io != 0x100100 || err != SCI_ERR_OK) {
		failures++;
		printf("FAIL the call's outputs did not arrive\n");
	}
	SCIMapRemoteSegmentForDevice(rs, dev, &io, 0x100, 0x2000, 0x40, &err);
	expect("remote (segment, device, &ioaddr, offset, size, flags, &err)",
	       LINKED_TAG, "remote", rs, 0, dev, &io, 0x100, 0x2000, 0x40, &err);
	SCIUnmapLocalSegmentForDevice(ls, 1, dev, 0x40, &err);
	expect("unmap local (segment, adapter, device, flags, &err)", LINKED_TAG,
	       "unmap local", ls, 1, dev, NULL, 0, 0, 0x40, &err);
	SCIUnmapRemoteSegmentForDevice(rs, dev, 0x40, &err);
	expect("unmap remote (segment, device, flags, &err)", LINKED_TAG,
	       "unmap remote", rs, 0, dev, NULL, 0, 0, 0x40, &err);

	/* Each argument evaluated once; commas inside an argument. */
	SCIMapLocalSegmentForDevice(ls, adapter++, dev, &io, sum(1, 2), sum(3, 4),
				    0, &err);
	expect("local, current form: adapter++, sum(1, 2), sum(3, 4)", LINKED_TAG,
	       "local", ls, 3, dev, &io, 3, 7, 0, &err);

	/* The function itself: its address, a parenthesized name. */
	map_local = &SCIMapLocalSegmentForDevice;
	map_local(ls, 2, dev, &io, 0, 0, 0, &err);
	expect("&SCIMapLocalSegmentForDevice", ADDRESS_TAG, "local", ls, 2, dev,
	       &io, 0, 0, 0, &err);
	map_remote = SCIMapRemoteSegmentForDevice;
	map_remote(rs, dev, &io, 8, 16, 0, &err);
	expect("SCIMapRemoteSegmentForDevice as a value", ADDRESS_TAG, "remote",
	       rs, 0, dev, &io, 8, 16, 0, &err);
	(SCIMapLocalSegmentForDevice)(ls, 2, dev, &io, 8, 16, 0, &err);
	expect("(SCIMapLocalSegmentForDevice)(...)", ADDRESS_TAG, "local", ls, 2,
	       dev, &io, 8, 16, 0, &err);

#if RSIO_SISCI_VARIADIC_CALLS
	/* Older releases (7 / 6 arguments): offset and flags, the whole
	 * segment from offset. */
	SCIMapLocalSegmentForDevice(ls, 1, dev, &io, 0x100, 0x40, &err);
	expect("local (segment, adapter, device, &ioaddr, offset, flags, &err)",
	       LINKED_TAG, "local", ls, 1, dev, &io, 0x100, 0, 0x40, &err);
	SCIMapLocalSegmentForDevice(ls, 0, dev, &io, 0, 0, &err);
	expect("local (..., &ioaddr, 0, 0, &err) as libnvm passes it", LINKED_TAG,
	       "local", ls, 0, dev, &io, 0, 0, 0, &err);
	SCIMapRemoteSegmentForDevice(rs, dev, &io, 0x100, 0x40, &err);
	expect("remote (segment, device, &ioaddr, offset, flags, &err)",
	       LINKED_TAG, "remote", rs, 0, dev, &io, 0x100, 0, 0x40, &err);
	SCIMapRemoteSegmentForDevice(rs, dev, &io, 0, 0, &err);
	expect("remote (..., &ioaddr, 0, 0, &err) as libnvm passes it", LINKED_TAG,
	       "remote", rs, 0, dev, &io, 0, 0, 0, &err);

	/* Each argument evaluated once; commas inside an argument. */
	SCIMapLocalSegmentForDevice(ls, adapter++, dev, &io, sum(1, 2), 0, &err);
	expect("local, old form: adapter++, sum(1, 2)", LINKED_TAG, "local", ls,
	       4, dev, &io, 3, 0, 0, &err);
	SCIMapRemoteSegmentForDevice(rs, dev, &io, sum(adapter++, 2), 0, &err);
	expect("remote, old form: sum(adapter++, 2)", LINKED_TAG, "remote", rs, 0,
	       dev, &io, 7, 0, 0, &err);

	/* Inside a program's own macro, and as an operand. */
	WRAP(SCIMapLocalSegmentForDevice, ls, 1, dev, &io, 0, 0);
	expect("WRAP(SCIMapLocalSegmentForDevice, 6 arguments)", LINKED_TAG,
	       "local", ls, 1, dev, &io, 0, 0, 0, &err);
	WRAP(SCIMapRemoteSegmentForDevice, rs, dev, &io, 0, 0x2000, 0);
	expect("WRAP(SCIMapRemoteSegmentForDevice, 6 arguments)", LINKED_TAG,
	       "remote", rs, 0, dev, &io, 0, 0x2000, 0, &err);
	(void)(SCIMapRemoteSegmentForDevice(rs, dev, &io, 4, 0, &err), 0);
	expect("SCIMapRemoteSegmentForDevice in a comma expression", LINKED_TAG,
	       "remote", rs, 0, dev, &io, 4, 0, 0, &err);
#ifdef __cplusplus
	::SCIMapLocalSegmentForDevice(ls, 1, dev, &io, 0, 0, &err);
	expect("::SCIMapLocalSegmentForDevice (C++)", LINKED_TAG, "local", ls, 1,
	       dev, &io, 0, 0, 0, &err);
	::SCIMapRemoteSegmentForDevice(rs, dev, &io, 0, 64, 0, &err);
	expect("::SCIMapRemoteSegmentForDevice (C++)", LINKED_TAG, "remote", rs, 0,
	       dev, &io, 0, 64, 0, &err);
#endif
#endif /* RSIO_SISCI_VARIADIC_CALLS */

	if (adapter != 3 + 1 + 2 * RSIO_SISCI_VARIADIC_CALLS) {
		failures++;
		printf("FAIL adapter++ evaluated %u times\n", adapter - 3);
	}

#ifdef WRONG_COUNT
	/* A parameter list no release has: the compiler must refuse it. */
	SCIMapLocalSegmentForDevice(ls, 1, dev, &io, &err);
#endif

	printf("%s: %u failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
