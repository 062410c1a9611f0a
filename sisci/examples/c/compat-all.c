// SPDX-License-Identifier: GPL-2.0
/*
 * sisci-compat-all: a program that uses every call, flag, constant and
 * type rsio's SISCI headers declare, the way a SISCI program built against
 * the installed layout does (-I$PREFIX/include -I$PREFIX/include/dis
 * -L$PREFIX/lib64 -lsisci, with or without -D_REENTRANT), and runs what
 * needs no kernel:
 *
 *   - every error code has its own string;
 *   - every call, called with NULL handles or pointers, fails cleanly;
 *   - flags: values that mean nothing for a call give SCI_ERR_ILLEGAL_FLAG,
 *     public flags libsisci does not offer SCI_ERR_FLAG_NOT_IMPLEMENTED,
 *     and flags it accepts pass its checks;
 *   - the exported names: libsisci.so has every call under its plain name,
 *     _SISCI_PUBLIC_FUNC_ST_<name> and _SISCI_PUBLIC_FUNC_MT_<name> (dlsym),
 *     and a call through each of them works.
 *
 * Usage: sisci-compat-all [--fake-device]
 *   With --fake-device, SISCI_DEVICE names a file that is not rsio_sisci
 *   (/dev/null): SCIOpen succeeds and the calls that get past their
 *   argument checks meet SCI_ERR_INCONSISTENT_VERSIONS from it, which shows
 *   the checks passed. Without it, on a host without /dev/sisci, SCIOpen
 *   must fail with SCI_ERR_NO_SUCH_ADAPTERNO; on a node it only checks
 *   what fails before the kernel.
 * sisci-capi's host test tests/compat.rs builds and runs it; its lists of
 * calls, constants and error codes are checked against the headers there.
 * Prints PASS/FAIL lines; exits 1 on any failure.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sisci_api.h>
#include <sisci_error.h>
#include <sisci_types.h>
#include <dis_types.h>

/* ---- Everything the headers declare --------------------------------------- */

/* Every call (the linker resolves each through its exported name). */
#define CALLS(X) \
	X(SCIInitialize) X(SCITerminate) X(SCIOpen) X(SCIClose) \
	X(SCIGetErrorString) X(SCIGetLocalNodeId) \
	X(SCIGetNodeIdByAdapterName) X(SCIGetNodeInfoByAdapterName) \
	X(SCIProbeNode) X(SCIQuery) \
	X(SCICreateSegment) X(SCIRemoveSegment) X(SCIPrepareSegment) \
	X(SCISetSegmentAvailable) X(SCISetSegmentUnavailable) \
	X(SCIWaitForLocalSegmentEvent) X(SCIGetLocalSegmentId) \
	X(SCIGetLocalSegmentSize) X(SCIMapLocalSegment) \
	X(SCIConnectSegment) X(SCIDisconnectSegment) \
	X(SCIGetRemoteSegmentSize) X(SCIGetRemoteSegmentId) \
	X(SCIGetRemoteSegmentNodeId) X(SCIWaitForRemoteSegmentEvent) \
	X(SCIMapRemoteSegment) X(SCIUnmapSegment) X(SCIGetMapPointer) \
	X(SCICreateMapSequence) X(SCIRemoveSequence) X(SCIStartSequence) \
	X(SCICheckSequence) X(SCIStoreBarrier) X(SCIFlush) X(SCIMemCpy) \
	X(SCIMemWrite) X(SCICacheSync) \
	X(SCICreateDMAQueue) X(SCIRemoveDMAQueue) X(SCIStartDmaTransfer) \
	X(SCIStartDmaTransferVec) X(SCIWaitForDMAQueue) X(SCIDMAQueueState) \
	X(SCICreateInterrupt) X(SCIRemoveInterrupt) X(SCIWaitForInterrupt) \
	X(SCIConnectInterrupt) X(SCIDisconnectInterrupt) \
	X(SCITriggerInterrupt) X(SCICreateDataInterrupt) \
	X(SCIRemoveDataInterrupt) X(SCIWaitForDataInterrupt) \
	X(SCIConnectDataInterrupt) X(SCIDisconnectDataInterrupt) \
	X(SCITriggerDataInterrupt) X(SCIRegisterSegmentMemory) \
	X(SCIAttachPhysicalMemory) \
	X(SCIGetDeviceList) X(SCIBorrowDevice) X(SCIReturnDevice) \
	X(SCIGetFabricDeviceId) X(SCIConnectDeviceSegment) \
	X(SCIConnectDeviceMemory) X(SCICreateDeviceSegment) \
	X(SCIMapLocalSegmentForDevice) X(SCIUnmapLocalSegmentForDevice) \
	X(SCIMapRemoteSegmentForDevice) X(SCIUnmapRemoteSegmentForDevice) \
	X(SCIRegisterPCIeRequester) X(SCIUnregisterPCIeRequester)

/* Every constant (flags, query codes, limits, convenience names). */
#define CONSTANTS(X) \
	X(SCI_INFINITE_TIMEOUT) X(DIS_BROADCAST_NODEID_GROUP_ALL) \
	X(NO_FLAGS) X(NO_OFFSET) \
	X(SCI_FLAG_USE_CALLBACK) X(SCI_FLAG_EMPTY) X(SCI_FLAG_PRIVATE) \
	X(SCI_FLAG_AUTO_ID) X(SCI_FLAG_DMA_SOURCE_ONLY) X(SCI_FLAG_PHYSICAL) \
	X(SCI_FLAG_CUDA_BUFFER) X(SCI_FLAG_SCIF_BUFFER) \
	X(SCI_FLAG_DMA_WAIT) X(SCI_FLAG_DMA_READ) X(SCI_FLAG_DMA_PHDMA) \
	X(SCI_FLAG_DMA_GLOBAL) X(SCI_FLAG_DMA_SYSDMA) \
	X(SCI_FLAG_DMA_USER_MEM) X(SCI_FLAG_DMA_ADAPTER) \
	X(SCI_FLAG_DMA_CHANNEL_SHARED) X(SCI_DMA_CHANNEL_ID_DONTCARE) \
	X(SCI_FLAG_FORCE_REMOVE) X(SCI_FLAG_ALLOW_UNICAST) \
	X(SCI_FLAG_LOCK_USER_MEM) X(SCI_FLAG_BROADCAST) \
	X(SCI_FLAG_ASYNCHRONOUS_CONNECT) X(SCI_FLAG_FORCE_DISCONNECT) \
	X(SCI_FLAG_NOTIFY) X(SCI_FLAG_FIXED_INTNO) X(SCI_FLAG_SHARED_INT) \
	X(SCI_FLAG_CONDITIONAL_INTERRUPT) X(SCI_FLAG_COUNTING_INT) \
	X(SCI_FLAG_SHARE_EXTERNAL) X(SCI_FLAG_FIXED_MAP_ADDR) \
	X(SCI_FLAG_READONLY_MAP) X(SCI_FLAG_LOCK_OPERATION) \
	X(SCI_FLAG_CONDITIONAL_INTERRUPT_MAP) \
	X(SCI_FLAG_UNCONDITIONAL_DATA_INTERRUPT_MAP) \
	X(SCI_FLAG_IO_MAP_IOSPACE) X(SCI_FLAG_NO_MEMORY_LOOPBACK) \
	X(SCI_FLAG_NO_MEMORY_LOOPBACK_MAP) X(SCI_FLAG_SHARED_MAP) \
	X(SCI_FLAG_WRITE_BACK_CACHE_MAP) X(SCI_FLAG_THREAD_SAFE) \
	X(SCI_FLAG_FAST_BARRIER) X(SCI_FLAG_BLOCK_READ) \
	X(SCI_FLAG_ERROR_CHECK) X(SCI_FLAG_NO_FLUSH) \
	X(SCI_FLAG_NO_STORE_BARRIER) X(SCI_FLAG_FLUSH_CPU_BUFFERS_ONLY) \
	X(FLUSH_CPU_BUFFERS_ONLY) X(SCI_FLAG_CACHE_FLUSH) \
	X(SCI_FLAG_CACHE_INVALIDATE) \
	X(SCI_Q_VENDORID) X(SCI_Q_API) X(SCI_Q_ADAPTER) X(SCI_Q_SYSTEM) \
	X(SCI_Q_LOCAL_SEGMENT) X(SCI_Q_REMOTE_SEGMENT) X(SCI_Q_MAP) \
	X(SCI_Q_ADAPTER_DMA_SIZE_ALIGNMENT) \
	X(SCI_Q_ADAPTER_DMA_OFFSET_ALIGNMENT) X(SCI_Q_ADAPTER_DMA_MTU) \
	X(SCI_Q_ADAPTER_SUGGESTED_MIN_DMA_SIZE) \
	X(SCI_Q_ADAPTER_SUGGESTED_MIN_BLOCK_SIZE) X(SCI_Q_ADAPTER_NODEID) \
	X(SCI_Q_ADAPTER_SERIAL_NUMBER) X(SCI_Q_ADAPTER_CARD_TYPE) \
	X(SCI_Q_ADAPTER_NUMBER_OF_STREAMS) \
	X(SCI_Q_ADAPTER_STREAM_BUFFER_SIZE) X(SCI_Q_ADAPTER_CONFIGURED) \
	X(SCI_Q_ADAPTER_LINK_OPERATIONAL) \
	X(SCI_Q_ADAPTER_HW_LINK_STATUS_IS_OK) X(SCI_Q_ADAPTER_NUMBER) \
	X(SCI_Q_ADAPTER_INSTANCE_NUMBER) X(SCI_Q_ADAPTER_FIRMWARE_OK) \
	X(SCI_Q_ADAPTER_CONNECTED_TO_SWITCH) X(SCI_Q_ADAPTER_ATT_PAGE_SIZE) \
	X(SCI_Q_ADAPTER_ATT_NUMBER_OF_ENTRIES) \
	X(SCI_Q_ADAPTER_ATT_AVAILABLE_ENTRIES) X(SCI_Q_ADAPTER_DMA_CHANNELS) \
	X(SCI_Q_ADAPTER_MULTICAST_GROUPS) X(SCI_Q_ADAPTER_NUMBER_OF_NODES) \
	X(SCI_Q_ADAPTER_BDF) X(SCI_Q_SYSTEM_HOSTBRIDGE) \
	X(SCI_Q_SYSTEM_WRITE_POSTING_ENABLED) \
	X(SCI_Q_SYSTEM_WRITE_COMBINING_ENABLED) \
	X(SCI_Q_LOCAL_SEGMENT_IOADDR) X(SCI_Q_LOCAL_SEGMENT_PHYS_ADDR) \
	X(SCI_Q_REMOTE_SEGMENT_IOADDR) X(SCI_Q_MAP_MAPPED_TO_LOCAL_TARGET) \
	X(SCI_Q_MAP_QUERY_REMOTE_MAPPED_TO_LOCAL_TARGET) \
	X(SCI_FLAG_EXCLUSIVE) X(SCI_FLAG_SHARED) X(SCI_FLAG_BAR) \
	X(SCI_FLAG_PCIE_REQUESTER_GLOBAL) X(SCI_FLAG_DEVICE_SIDE_ONLY) \
	X(SCI_FLAG_LOCAL_ONLY) X(SCI_FLAG_DEVICE_PREFER_BANDWIDTH) \
	X(SCI_FLAG_HOST_PREFER_BANDWIDTH) X(SCI_MEMTYPE_BAR) \
	X(SCI_MEMTYPE_PRIVATE) X(SCI_MEMTYPE_SHARED) \
	X(SCI_MEMACCESS_DEVICE_READ) X(SCI_MEMACCESS_DEVICE_WRITE) \
	X(SCI_MEMACCESS_HOST_READ) X(SCI_MEMACCESS_HOST_WRITE) \
	X(SCI_MEMACCESS_MULTIHOST_READ) X(SCI_MEMACCESS_MULTIHOST_WRITE) \
	X(SCI_MEMACCESS_P2P_READ) X(SCI_MEMACCESS_P2P_WRITE) \
	X(SCI_Q_DEVICE) X(SCI_Q_DEVICE_INFO) \
	X(MAX_CB_REASON) X(DIS_DMA_MAX_VECLEN) X(SCI_SMARTIO_USER_NAME_LEN) \
	X(DIS_MAX_NSCIS) X(SCI_ERR_MASK) X(SCI_ERR_REMOTE_MASK) \
	X(SCI_CB_CONNECT) X(SCI_CB_DISCONNECT) X(SCI_CB_NOT_OPERATIONAL) \
	X(SCI_CB_OPERATIONAL) X(SCI_CB_LOST) \
	X(SCI_DMAQUEUE_IDLE) X(SCI_DMAQUEUE_GATHER) X(SCI_DMAQUEUE_POSTED) \
	X(SCI_DMAQUEUE_DONE) X(SCI_DMAQUEUE_ABORTED) X(SCI_DMAQUEUE_ERROR) \
	X(SCI_SEQ_OK) X(SCI_SEQ_RETRIABLE) X(SCI_SEQ_NOT_RETRIABLE) \
	X(SCI_SEQ_PENDING) X(SCI_CALLBACK_CANCEL) X(SCI_CALLBACK_CONTINUE) \
	X(SCI_DMA_TYPE_DONTCARE) X(SCI_DMA_TYPE_ADAPTER) \
	X(SCI_DMA_TYPE_GLOBAL) X(SCI_DMA_TYPE_SYSTEM) \
	X(SCI_DMA_TYPE_TRANSPARENT) \
	X(DIS_ADAPTER_TYPE_UNKNOWN) X(DIS_ADAPTER_TYPE_RSIO)

/* Every error code. */
#define ERRORS(X) \
	X(SCI_ERR_OK) X(SCI_ERR_BUSY) X(SCI_ERR_FLAG_NOT_IMPLEMENTED) \
	X(SCI_ERR_ILLEGAL_FLAG) X(SCI_ERR_NOSPC) X(SCI_ERR_API_NOSPC) \
	X(SCI_ERR_HW_NOSPC) X(SCI_ERR_NOT_IMPLEMENTED) \
	X(SCI_ERR_ILLEGAL_ADAPTERNO) X(SCI_ERR_NO_SUCH_ADAPTERNO) \
	X(SCI_ERR_TIMEOUT) X(SCI_ERR_OUT_OF_RANGE) X(SCI_ERR_NO_SUCH_SEGMENT) \
	X(SCI_ERR_ILLEGAL_NODEID) X(SCI_ERR_CONNECTION_REFUSED) \
	X(SCI_ERR_SEGMENT_NOT_CONNECTED) X(SCI_ERR_SIZE_ALIGNMENT) \
	X(SCI_ERR_OFFSET_ALIGNMENT) X(SCI_ERR_ILLEGAL_PARAMETER) \
	X(SCI_ERR_MAX_ENTRIES) X(SCI_ERR_SEGMENT_NOT_PREPARED) \
	X(SCI_ERR_ILLEGAL_ADDRESS) X(SCI_ERR_ILLEGAL_OPERATION) \
	X(SCI_ERR_ILLEGAL_QUERY) X(SCI_ERR_SEGMENTID_USED) X(SCI_ERR_SYSTEM) \
	X(SCI_ERR_CANCELLED) X(SCI_ERR_NOT_CONNECTED) X(SCI_ERR_NOT_AVAILABLE) \
	X(SCI_ERR_INCONSISTENT_VERSIONS) X(SCI_ERR_COND_INT_RACE_PROBLEM) \
	X(SCI_ERR_OVERFLOW) X(SCI_ERR_NOT_INITIALIZED) X(SCI_ERR_ACCESS) \
	X(SCI_ERR_NOT_SUPPORTED) X(SCI_ERR_DEPRECATED) \
	X(SCI_ERR_NO_SUCH_NODEID) X(SCI_ERR_NODE_NOT_RESPONDING) \
	X(SCI_ERR_NO_REMOTE_LINK_ACCESS) X(SCI_ERR_NO_LINK_ACCESS) \
	X(SCI_ERR_TRANSFER_FAILED) X(SCI_ERR_EWOULD_BLOCK) \
	X(SCI_ERR_SEMAPHORE_COUNT_EXCEEDED) X(SCI_ERR_IRQL_ILLEGAL) \
	X(SCI_ERR_REMOTE_BUSY) X(SCI_ERR_LOCAL_BUSY) X(SCI_ERR_ALL_BUSY) \
	X(SCI_ERR_NO_SUCH_FDID)

/* Every type. */
#define TYPES(X) \
	X(sci_error_t) X(sci_desc_t) X(sci_local_segment_t) \
	X(sci_remote_segment_t) X(sci_map_t) X(sci_sequence_t) \
	X(sci_dma_queue_t) X(sci_dma_channel_t) X(sci_local_interrupt_t) \
	X(sci_remote_interrupt_t) X(sci_local_data_interrupt_t) \
	X(sci_remote_data_interrupt_t) X(sci_block_transfer_t) \
	X(sci_ioaddr_t) X(sci_segment_cb_reason_t) X(sci_dma_queue_state_t) \
	X(sci_sequence_status_t) X(sci_callback_action_t) X(sci_dma_type_t) \
	X(dis_dma_vec_t) X(sci_dma_vec_t) X(sci_cb_local_segment_t) \
	X(sci_cb_remote_segment_t) X(sci_cb_dma_t) X(sci_cb_block_transfer_t) \
	X(sci_cb_interrupt_t) X(sci_cb_data_interrupt_t) \
	X(sci_query_string_t) X(sci_query_adapter_t) X(sci_query_system_t) \
	X(sci_query_local_segment_t) X(sci_query_remote_segment_t) \
	X(sci_query_map_t) X(sci_smartio_device_t) X(sci_device_t) \
	X(sci_smartio_device_info_t) X(sci_dev_info_t) \
	X(sci_smartio_query_device_t) X(sci_query_dev_t) \
	X(dis_nodeId_list_t) X(dis_adapter_type_t) X(dis_virt_adapter_t)

#define CALL_ENTRY(name) { #name, (void (*)(void))name },
#define CONSTANT_ENTRY(name) { #name, (unsigned long long)(uintptr_t)(name) },
#define ERROR_ENTRY(name) { #name, name },
#define TYPE_ENTRY(name) { #name, sizeof(name) },

static const struct {
	const char *name;
	void (*fn)(void);
} calls[] = { CALLS(CALL_ENTRY) };

static const struct {
	const char *name;
	unsigned long long value;
} constants[] = { CONSTANTS(CONSTANT_ENTRY) };

static const struct {
	const char *name;
	sci_error_t code;
} errors[] = { ERRORS(ERROR_ENTRY) };

static const struct {
	const char *name;
	size_t size;
} types[] = { TYPES(TYPE_ENTRY) };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Checks --------------------------------------------------------------- */

static unsigned int failures;
static int fake_device;

static void check(int ok, const char *what)
{
	if (!ok)
		failures++;
	printf("%s %s\n", ok ? "PASS" : "FAIL", what);
}

/* The error `err` of a call must be `want`. */
static void expect(const char *what, sci_error_t err, sci_error_t want)
{
	char line[256];

	if (err == want) {
		snprintf(line, sizeof(line), "%s", what);
	} else {
		snprintf(line, sizeof(line), "%s: got 0x%x (%s), want 0x%x (%s)",
			 what, (unsigned int)err, SCIGetErrorString(err),
			 (unsigned int)want, SCIGetErrorString(want));
	}
	check(err == want, line);
}

/* A call that passed its argument checks: with --fake-device it reached
 * the fake device, else it got anywhere but an argument error. */
static void expect_accepted(const char *what, sci_error_t err)
{
	if (fake_device) {
		expect(what, err, SCI_ERR_INCONSISTENT_VERSIONS);
		return;
	}
	check(err != SCI_ERR_ILLEGAL_FLAG && err != SCI_ERR_FLAG_NOT_IMPLEMENTED &&
	      err != SCI_ERR_ILLEGAL_PARAMETER, what);
}

static void check_tables(void)
{
	size_t i, j;
	int ok = 1;

	for (i = 0; i < COUNT(calls); i++)
		ok &= calls[i].fn != NULL;
	check(ok, "every call has an address");
	ok = 1;
	for (i = 0; i < COUNT(constants); i++) {
		/* Flags are single or few bits, never the error mask. */
		if (!strncmp(constants[i].name, "SCI_FLAG_", 9))
			ok &= constants[i].value != 0 && !(constants[i].value & SCI_ERR_MASK);
	}
	check(ok, "every flag is set and apart from SCI_ERR_MASK");
	ok = 1;
	for (i = 0; i < COUNT(types); i++)
		ok &= types[i].size > 0;
	check(ok, "every type has a size");
	check(sizeof(dis_dma_vec_t) == 4 * sizeof(size_t) &&
	      DIS_DMA_MAX_VECLEN == 256, "dis_dma_vec_t, DIS_DMA_MAX_VECLEN");
	check(sizeof(dis_nodeId_list_t) == DIS_MAX_NSCIS * sizeof(unsigned int),
	      "dis_nodeId_list_t");
	check(NO_FLAGS == 0 && NO_OFFSET == 0 && !NO_CALLBACK && !NO_ARG &&
	      !NO_SUGGESTED_ADDRESS, "NO_* are 0");
	/* Error strings: each code its own, none the unknown one. */
	ok = 1;
	for (i = 0; i < COUNT(errors); i++) {
		const char *s = SCIGetErrorString(errors[i].code);

		if (!s || !*s || !strcmp(s, SCIGetErrorString((sci_error_t)0x12345))) {
			printf("FAIL no string for %s\n", errors[i].name);
			ok = 0;
		}
		for (j = 0; j < i; j++) {
			if (errors[j].code == errors[i].code) {
				printf("FAIL %s == %s\n", errors[i].name, errors[j].name);
				ok = 0;
			}
		}
		if (errors[i].code != SCI_ERR_OK && !(errors[i].code & SCI_ERR_MASK))
			ok = 0;
	}
	check(ok, "every error code is distinct, has SCI_ERR_MASK and a string");
	printf("INFO %zu calls, %zu constants, %zu error codes, %zu types\n",
	       COUNT(calls), COUNT(constants), COUNT(errors), COUNT(types));
}

/* The exported names, through the dynamic linker. */
static void check_exports(void)
{
	static const char *const prefixes[] = {
		"", "_SISCI_PUBLIC_FUNC_ST_", "_SISCI_PUBLIC_FUNC_MT_"
	};
	const char *(*get_string)(sci_error_t);
	void *lib = dlopen("libsisci.so", RTLD_NOW | RTLD_LOCAL);
	size_t i, k;
	int ok = 1;

	if (!lib) {
		printf("SKIP exported names: no libsisci.so to dlopen (%s)\n", dlerror());
		return;
	}
	for (i = 0; i < COUNT(calls); i++) {
		for (k = 0; k < COUNT(prefixes); k++) {
			char name[128];

			snprintf(name, sizeof(name), "%s%s", prefixes[k], calls[i].name);
			if (!dlsym(lib, name)) {
				printf("FAIL dlsym %s\n", name);
				ok = 0;
			}
		}
	}
	check(ok, "dlsym finds every call under its three names");
	/* The aliases jump to the call: same answer through each name. */
	for (k = 0; k < COUNT(prefixes); k++) {
		char name[128];
		void *sym;

		snprintf(name, sizeof(name), "%sSCIGetErrorString", prefixes[k]);
		sym = dlsym(lib, name);
		memcpy(&get_string, &sym, sizeof(sym));
		check(get_string &&
		      !strcmp(get_string(SCI_ERR_TIMEOUT), SCIGetErrorString(SCI_ERR_TIMEOUT)),
		      name);
	}
	dlclose(lib);
}

static sci_callback_action_t local_cb(void *arg, sci_local_segment_t s,
		sci_segment_cb_reason_t r, unsigned int node, unsigned int ad,
		sci_error_t e)
{
	(void)arg; (void)s; (void)r; (void)node; (void)ad; (void)e;
	return SCI_CALLBACK_CONTINUE;
}

/* Every call with NULL handles/pointers: a clean error, no crash. */
static void check_null_arguments(void)
{
	sci_error_t e = SCI_ERR_OK, st;
	sci_map_t map = NULL;
	sci_sequence_t seq = NULL;
	sci_local_segment_t ls = NULL;
	sci_remote_segment_t rs = NULL;
	sci_local_interrupt_t li = NULL;
	sci_remote_interrupt_t ri = NULL;
	sci_local_data_interrupt_t ldi = NULL;
	sci_remote_data_interrupt_t rdi = NULL;
	sci_dma_queue_t dq = NULL;
	sci_smartio_device_t dev = NULL;
	sci_ioaddr_t io = 0;
	dis_dma_vec_t vec[2] = { { 64, 0, 0, 0 }, { 64, 64, 64, SCI_FLAG_DMA_READ } };
	unsigned int u = 0, v = 0, len = 0;
	uint32_t fdids[4];
	char buf[64];
	const sci_error_t P = SCI_ERR_ILLEGAL_PARAMETER;

	SCIClose(NULL, NO_FLAGS, &e);
	expect("SCIClose(NULL)", e, P);
	check(SCIProbeNode(NULL, 0, 4, NO_FLAGS, &e) == 0 && e == P, "SCIProbeNode(NULL)");
	SCIQuery(SCI_Q_ADAPTER, NULL, NO_FLAGS, &e);
	expect("SCIQuery(NULL data)", e, P);
	SCICreateSegment(NULL, &ls, 1, 4096, NO_CALLBACK, NO_ARG, NO_FLAGS, &e);
	expect("SCICreateSegment(NULL sd)", e, P);
	SCICreateSegment(NULL, &ls, 1, 4096, local_cb, NO_ARG, SCI_FLAG_USE_CALLBACK, &e);
	expect("SCICreateSegment(NULL sd, callback)", e, P);
	SCIRemoveSegment(NULL, NO_FLAGS, &e);
	expect("SCIRemoveSegment(NULL)", e, P);
	SCIPrepareSegment(NULL, 0, NO_FLAGS, &e);
	expect("SCIPrepareSegment(NULL)", e, P);
	SCISetSegmentAvailable(NULL, 0, NO_FLAGS, &e);
	expect("SCISetSegmentAvailable(NULL)", e, P);
	SCISetSegmentUnavailable(NULL, 0, NO_FLAGS, &e);
	expect("SCISetSegmentUnavailable(NULL)", e, P);
	SCIWaitForLocalSegmentEvent(NULL, &u, &v, 0, NO_FLAGS, &e);
	expect("SCIWaitForLocalSegmentEvent(NULL)", e, P);
	check(SCIGetLocalSegmentId(NULL) == 0 && SCIGetLocalSegmentSize(NULL) == 0,
	      "SCIGetLocalSegmentId/Size(NULL) = 0");
	check(SCIMapLocalSegment(NULL, &map, NO_OFFSET, 4096, NO_SUGGESTED_ADDRESS,
				 NO_FLAGS, &e) == NULL && e == P, "SCIMapLocalSegment(NULL)");
	SCIConnectSegment(NULL, &rs, 4, 1, 0, NO_CALLBACK, NO_ARG, SCI_INFINITE_TIMEOUT,
			  NO_FLAGS, &e);
	expect("SCIConnectSegment(NULL sd)", e, P);
	SCIDisconnectSegment(NULL, NO_FLAGS, &e);
	expect("SCIDisconnectSegment(NULL)", e, P);
	check(SCIGetRemoteSegmentSize(NULL) == 0 && SCIGetRemoteSegmentId(NULL) == 0 &&
	      SCIGetRemoteSegmentNodeId(NULL) == 0, "SCIGetRemoteSegment*(NULL) = 0");
	SCIWaitForRemoteSegmentEvent(NULL, &st, 0, NO_FLAGS, &e);
	expect("SCIWaitForRemoteSegmentEvent(NULL)", e, P);
	check(SCIMapRemoteSegment(NULL, &map, NO_OFFSET, 4096, NO_SUGGESTED_ADDRESS,
				  NO_FLAGS, &e) == NULL && e == P, "SCIMapRemoteSegment(NULL)");
	SCIUnmapSegment(NULL, NO_FLAGS, &e);
	expect("SCIUnmapSegment(NULL)", e, P);
	check(SCIGetMapPointer(NULL) == NULL, "SCIGetMapPointer(NULL) = NULL");
	SCICreateMapSequence(NULL, &seq, NO_FLAGS, &e);
	expect("SCICreateMapSequence(NULL)", e, P);
	SCIRemoveSequence(NULL, NO_FLAGS, &e);
	expect("SCIRemoveSequence(NULL)", e, P);
	SCIStartSequence(NULL, NO_FLAGS, &e);
	expect("SCIStartSequence(NULL)", e, P);
	SCICheckSequence(NULL, NO_FLAGS, &e);
	expect("SCICheckSequence(NULL)", e, P);
	SCIStoreBarrier(NULL, NO_FLAGS);
	SCIFlush(NULL, SCI_FLAG_FLUSH_CPU_BUFFERS_ONLY);
	SCIMemCpy(NULL, buf, NULL, 0, 8, NO_FLAGS, &e);
	expect("SCIMemCpy(NULL map)", e, P);
	SCIMemWrite(NULL, NULL, 8, NO_FLAGS, &e);
	expect("SCIMemWrite(NULL)", e, P);
	SCICacheSync(NULL, NULL, 8, SCI_FLAG_CACHE_FLUSH, &e);
	expect("SCICacheSync(NULL addr)", e, P);
	SCICreateDMAQueue(NULL, &dq, 0, 16, NO_FLAGS, &e);
	expect("SCICreateDMAQueue(NULL sd)", e, P);
	SCIRemoveDMAQueue(NULL, NO_FLAGS, &e);
	expect("SCIRemoveDMAQueue(NULL)", e, P);
	SCIStartDmaTransfer(NULL, NULL, NULL, 0, 64, 0, NO_CALLBACK, NO_ARG,
			    SCI_FLAG_DMA_WAIT, &e);
	expect("SCIStartDmaTransfer(NULL)", e, P);
	SCIStartDmaTransferVec(NULL, NULL, NULL, 2, vec, NO_CALLBACK, NO_ARG,
			       NO_FLAGS, &e);
	expect("SCIStartDmaTransferVec(NULL)", e, P);
	check(SCIWaitForDMAQueue(NULL, 0, NO_FLAGS, &e) == SCI_DMAQUEUE_ERROR && e == P,
	      "SCIWaitForDMAQueue(NULL)");
	check(SCIDMAQueueState(NULL) == SCI_DMAQUEUE_ERROR, "SCIDMAQueueState(NULL)");
	SCICreateInterrupt(NULL, &li, 0, &u, NO_CALLBACK, NO_ARG, NO_FLAGS, &e);
	expect("SCICreateInterrupt(NULL sd)", e, P);
	SCIRemoveInterrupt(NULL, NO_FLAGS, &e);
	expect("SCIRemoveInterrupt(NULL)", e, P);
	SCIWaitForInterrupt(NULL, 0, NO_FLAGS, &e);
	expect("SCIWaitForInterrupt(NULL)", e, P);
	SCIConnectInterrupt(NULL, &ri, 4, 0, 1, 0, NO_FLAGS, &e);
	expect("SCIConnectInterrupt(NULL sd)", e, P);
	SCIDisconnectInterrupt(NULL, NO_FLAGS, &e);
	expect("SCIDisconnectInterrupt(NULL)", e, P);
	SCITriggerInterrupt(NULL, NO_FLAGS, &e);
	expect("SCITriggerInterrupt(NULL)", e, P);
	SCICreateDataInterrupt(NULL, &ldi, 0, &u, NO_CALLBACK, NO_ARG, NO_FLAGS, &e);
	expect("SCICreateDataInterrupt(NULL sd)", e, P);
	SCIRemoveDataInterrupt(NULL, NO_FLAGS, &e);
	expect("SCIRemoveDataInterrupt(NULL)", e, P);
	len = sizeof(buf);
	SCIWaitForDataInterrupt(NULL, buf, &len, 0, NO_FLAGS, &e);
	expect("SCIWaitForDataInterrupt(NULL)", e, P);
	SCIConnectDataInterrupt(NULL, &rdi, 4, 0, 1, 0, NO_FLAGS, &e);
	expect("SCIConnectDataInterrupt(NULL sd)", e, P);
	SCIDisconnectDataInterrupt(NULL, NO_FLAGS, &e);
	expect("SCIDisconnectDataInterrupt(NULL)", e, P);
	SCITriggerDataInterrupt(NULL, buf, 8, NO_FLAGS, &e);
	expect("SCITriggerDataInterrupt(NULL)", e, P);
	SCIRegisterSegmentMemory(buf, sizeof(buf), NULL, NO_FLAGS, &e);
	expect("SCIRegisterSegmentMemory(NULL segment)", e, P);
	SCIAttachPhysicalMemory(0x100000, NULL, 0, 4096, NULL, NO_FLAGS, &e);
	expect("SCIAttachPhysicalMemory(NULL segment)", e, P);
	/* SmartIO: a clean error for NULL handles (which one is theirs). */
	check(SCIGetDeviceList(NULL, fdids, 4, NULL, NO_FLAGS, &e) == 0 && e != SCI_ERR_OK,
	      "SCIGetDeviceList(NULL sd)");
	SCIBorrowDevice(NULL, &dev, 0x10000, NO_FLAGS, &e);
	check(e != SCI_ERR_OK, "SCIBorrowDevice(NULL sd)");
	SCIReturnDevice(NULL, NO_FLAGS, &e);
	check(e != SCI_ERR_OK, "SCIReturnDevice(NULL)");
	(void)SCIGetFabricDeviceId(NULL);
	SCIConnectDeviceSegment(NULL, &rs, 0, SCI_MEMTYPE_BAR, NO_CALLBACK, NO_ARG,
				NO_FLAGS, &e);
	check(e != SCI_ERR_OK, "SCIConnectDeviceSegment(NULL)");
	SCIConnectDeviceMemory(NULL, &rs, 0, NULL, 0, 0, SCI_FLAG_BAR, &e);
	check(e != SCI_ERR_OK, "SCIConnectDeviceMemory(NULL)");
	SCICreateDeviceSegment(NULL, 1, 4096, SCI_MEMTYPE_PRIVATE,
			       SCI_MEMACCESS_DEVICE_READ | SCI_MEMACCESS_HOST_WRITE,
			       NO_FLAGS, &e);
	check(e != SCI_ERR_OK, "SCICreateDeviceSegment(NULL)");
	SCIMapLocalSegmentForDevice(NULL, 0, NULL, &io, 0, 4096, NO_FLAGS, &e);
	check(e != SCI_ERR_OK, "SCIMapLocalSegmentForDevice(NULL)");
	SCIUnmapLocalSegmentForDevice(NULL, 0, NULL, NO_FLAGS, &e);
	check(e != SCI_ERR_OK, "SCIUnmapLocalSegmentForDevice(NULL)");
	SCIMapRemoteSegmentForDevice(NULL, NULL, &io, 0, 4096, NO_FLAGS, &e);
	check(e != SCI_ERR_OK, "SCIMapRemoteSegmentForDevice(NULL)");
	/* The parameter lists of older releases (offset, flags: no size; the
	 * header makes them calls with size 0, the whole segment), as
	 * ssd-gpu-dma's libnvm passes them. */
	e = SCI_ERR_OK;
	SCIMapLocalSegmentForDevice(NULL, 0, NULL, &io, 0, 0, &e);
	check(e != SCI_ERR_OK, "SCIMapLocalSegmentForDevice(NULL), older 7 arguments");
	e = SCI_ERR_OK;
	SCIMapRemoteSegmentForDevice(NULL, NULL, &io, 0, NO_FLAGS, &e);
	check(e != SCI_ERR_OK, "SCIMapRemoteSegmentForDevice(NULL), older 6 arguments");
	SCIUnmapRemoteSegmentForDevice(NULL, NULL, NO_FLAGS, &e);
	check(e != SCI_ERR_OK, "SCIUnmapRemoteSegmentForDevice(NULL)");
	SCIRegisterPCIeRequester(NULL, 0, 0, 0, SCI_FLAG_PCIE_REQUESTER_GLOBAL, &e);
	check(e != SCI_ERR_OK, "SCIRegisterPCIeRequester(NULL)");
	SCIUnregisterPCIeRequester(NULL, 0, 0, 0, NO_FLAGS, &e);
	check(e != SCI_ERR_OK, "SCIUnregisterPCIeRequester(NULL)");
}

/* Calls that need no device at all. */
static void check_local_calls(void)
{
	sci_error_t e = SCI_ERR_SYSTEM;
	char name[64], src[24] = "rsio compat-all", dst[24];
	sci_query_string_t qs = { name, sizeof(name) };
	sci_query_adapter_t qa;
	sci_query_system_t qsys;
	uint16_t bdf = 0;
	unsigned int val = 0, adapters[DIS_MAX_NSCIS];
	dis_nodeId_list_t nodes;
	dis_virt_adapter_t kind;
	dis_adapter_type_t kind2;

	SCIInitialize(1, &e);
	expect("SCIInitialize(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
	SCIQuery(SCI_Q_VENDORID, &qs, NO_FLAGS, &e);
	expect("SCIQuery(SCI_Q_VENDORID)", e, SCI_ERR_OK);
	SCIQuery(SCI_Q_API, &qs, NO_FLAGS, &e);
	expect("SCIQuery(SCI_Q_API)", e, SCI_ERR_OK);
	printf("INFO API %s\n", name);
	SCIQuery(SCI_Q_API, &qs, 4, &e);
	expect("SCIQuery(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
	qsys.subcommand = SCI_Q_SYSTEM_WRITE_COMBINING_ENABLED;
	qsys.data = &val;
	SCIQuery(SCI_Q_SYSTEM, &qsys, NO_FLAGS, &e);
	expect("SCIQuery(SCI_Q_SYSTEM_WRITE_COMBINING_ENABLED)", e, SCI_ERR_OK);
	qsys.subcommand = SCI_Q_SYSTEM_HOSTBRIDGE;
	SCIQuery(SCI_Q_SYSTEM, &qsys, NO_FLAGS, &e);
	expect("SCIQuery(SCI_Q_SYSTEM_HOSTBRIDGE)", e, SCI_ERR_ILLEGAL_QUERY);
	SCIQuery(SCI_Q_MAP, &qsys, NO_FLAGS, &e);
	expect("SCIQuery(SCI_Q_MAP)", e, SCI_ERR_ILLEGAL_QUERY);
	memset(&qa, 0, sizeof(qa));
	qa.localAdapterNo = 0;
	qa.subcommand = SCI_Q_ADAPTER_BDF;
	qa.data = &bdf;
	SCIQuery(SCI_Q_ADAPTER, &qa, NO_FLAGS, &e);
	check(e == SCI_ERR_OK || e == SCI_ERR_NO_SUCH_ADAPTERNO, "SCIQuery(SCI_Q_ADAPTER_BDF)");
	if (e == SCI_ERR_OK)
		printf("INFO adapter at %02x:%02x.%x\n", bdf >> 8, (bdf >> 3) & 0x1f, bdf & 7);
	qa.localAdapterNo = 1;
	SCIQuery(SCI_Q_ADAPTER, &qa, NO_FLAGS, &e);
	expect("SCIQuery(SCI_Q_ADAPTER_BDF, adapter 1)", e, SCI_ERR_NO_SUCH_ADAPTERNO);

	/* PIO helpers and cache sync on ordinary memory. */
	SCIMemWrite(src, dst, sizeof(src), NO_FLAGS, &e);
	check(e == SCI_ERR_OK && !memcmp(src, dst, sizeof(src)), "SCIMemWrite copies");
	SCIMemWrite(src, dst, sizeof(src), SCI_FLAG_NO_STORE_BARRIER | SCI_FLAG_NO_FLUSH, &e);
	expect("SCIMemWrite(NO_STORE_BARRIER | NO_FLUSH)", e, SCI_ERR_OK);
	SCIMemWrite(src, dst, sizeof(src), SCI_FLAG_BLOCK_READ, &e);
	expect("SCIMemWrite(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
	SCICacheSync(NULL, dst, sizeof(dst), SCI_FLAG_CACHE_FLUSH, &e);
	expect("SCICacheSync(FLUSH)", e, SCI_ERR_OK);
	SCICacheSync(NULL, dst, sizeof(dst), SCI_FLAG_CACHE_FLUSH | SCI_FLAG_CACHE_INVALIDATE, &e);
	expect("SCICacheSync(FLUSH | INVALIDATE)", e, SCI_ERR_OK);
	SCICacheSync(NULL, dst, sizeof(dst), SCI_FLAG_DMA_READ, &e);
	expect("SCICacheSync(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
	SCICacheSync(NULL, dst, SIZE_MAX, SCI_FLAG_CACHE_FLUSH, &e);
	expect("SCICacheSync(wrapping length)", e, SCI_ERR_OUT_OF_RANGE);
	SCIStoreBarrier(NULL, NO_FLAGS);
	SCIFlush(NULL, NO_FLAGS);

	/* Adapter names: argument checks (their resolution needs the fabric). */
	SCIGetNodeIdByAdapterName(NULL, &nodes, &kind, NO_FLAGS, &e);
	expect("SCIGetNodeIdByAdapterName(NULL name)", e, SCI_ERR_ILLEGAL_PARAMETER);
	SCIGetNodeIdByAdapterName(name, NULL, &kind, NO_FLAGS, &e);
	expect("SCIGetNodeIdByAdapterName(NULL list)", e, SCI_ERR_ILLEGAL_PARAMETER);
	SCIGetNodeIdByAdapterName(name, &nodes, &kind, 1, &e);
	expect("SCIGetNodeIdByAdapterName(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
	SCIGetNodeInfoByAdapterName(name, NULL, &nodes, &kind2, NO_FLAGS, &e);
	expect("SCIGetNodeInfoByAdapterName(NULL adapters)", e, SCI_ERR_ILLEGAL_PARAMETER);
	SCIGetNodeInfoByAdapterName(name, adapters, &nodes, &kind2, 8, &e);
	expect("SCIGetNodeInfoByAdapterName(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
}

/*
 * Node ids are SISCI's, 4 * (rsio node + 1): 0, ids that are not multiples
 * of 4 and ids beyond the largest fabric (16 nodes: 64) name no node and
 * are refused before the kernel is asked, as a node beyond the fabric is.
 */
static void check_node_ids(sci_desc_t sd)
{
	static const unsigned int bad[] = { 0, 1, 2, 3, 5, 6, 7, 68, 0xfffffffcu };
	sci_remote_segment_t rs = NULL;
	sci_remote_interrupt_t ri = NULL;
	sci_remote_data_interrupt_t rdi = NULL;
	sci_error_t e = SCI_ERR_OK;
	size_t i;
	int ok = 1, r;

	for (i = 0; i < COUNT(bad); i++) {
		SCIConnectSegment(sd, &rs, bad[i], 1, 0, NO_CALLBACK, NO_ARG, 0, NO_FLAGS, &e);
		ok &= e == SCI_ERR_ILLEGAL_PARAMETER;
		SCIConnectInterrupt(sd, &ri, bad[i], 0, 1, 0, NO_FLAGS, &e);
		ok &= e == SCI_ERR_ILLEGAL_PARAMETER;
		SCIConnectDataInterrupt(sd, &rdi, bad[i], 0, 1, 0, NO_FLAGS, &e);
		ok &= e == SCI_ERR_ILLEGAL_PARAMETER;
		r = SCIProbeNode(sd, 0, bad[i], NO_FLAGS, &e);
		ok &= r == 0 && e == SCI_ERR_ILLEGAL_NODEID;
		if (!ok) {
			printf("FAIL node id %u: 0x%x\n", bad[i], e);
			break;
		}
	}
	check(ok, "node ids that name no node: connects ILLEGAL_PARAMETER, probe ILLEGAL_NODEID");
	/* The multicast group's id is no node either, except for a connect. */
	r = SCIProbeNode(sd, 0, DIS_BROADCAST_NODEID_GROUP_ALL, NO_FLAGS, &e);
	check(r == 0 && e == SCI_ERR_ILLEGAL_NODEID, "SCIProbeNode(DIS_BROADCAST_NODEID_GROUP_ALL)");
	SCIConnectInterrupt(sd, &ri, DIS_BROADCAST_NODEID_GROUP_ALL, 0, 1, 0, NO_FLAGS, &e);
	expect("SCIConnectInterrupt(DIS_BROADCAST_NODEID_GROUP_ALL)", e, SCI_ERR_ILLEGAL_PARAMETER);
	if (fake_device) {
		/* A node's id (and a group connect) reaches the kernel. */
		SCIConnectSegment(sd, &rs, 8, 1, 0, NO_CALLBACK, NO_ARG, 0, NO_FLAGS, &e);
		expect_accepted("SCIConnectSegment(node 8)", e);
		SCIConnectSegment(sd, &rs, DIS_BROADCAST_NODEID_GROUP_ALL, 0, 0, NO_CALLBACK,
				  NO_ARG, 0, NO_FLAGS, &e);
		expect_accepted("SCIConnectSegment(DIS_BROADCAST_NODEID_GROUP_ALL)", e);
		SCIConnectDataInterrupt(sd, &rdi, 64, 0, 1, 0, NO_FLAGS, &e);
		expect_accepted("SCIConnectDataInterrupt(node 64)", e);
	}
}

/* With a descriptor: flag classes of the calls that take one. */
static void check_descriptor(sci_desc_t sd)
{
	sci_error_t e = SCI_ERR_OK;
	sci_local_segment_t seg = NULL;
	sci_remote_segment_t rs = NULL;
	sci_dma_queue_t dq = NULL;
	sci_local_interrupt_t li = NULL;
	sci_local_data_interrupt_t ldi = NULL;
	sci_remote_interrupt_t ri = NULL;
	unsigned int no = 7;

	/* Segments. */
	SCICreateSegment(sd, &seg, 1, 4096, NO_CALLBACK, NO_ARG, SCI_FLAG_PRIVATE, &e);
	expect("SCICreateSegment(SCI_FLAG_PRIVATE)", e, SCI_ERR_FLAG_NOT_IMPLEMENTED);
	SCICreateSegment(sd, &seg, 1, 4096, NO_CALLBACK, NO_ARG,
			 SCI_FLAG_BROADCAST | SCI_FLAG_ALLOW_UNICAST, &e);
	expect("SCICreateSegment(SCI_FLAG_ALLOW_UNICAST)", e, SCI_ERR_FLAG_NOT_IMPLEMENTED);
	SCICreateSegment(sd, &seg, 1, 4096, NO_CALLBACK, NO_ARG, SCI_FLAG_DMA_READ, &e);
	expect("SCICreateSegment(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
	SCICreateSegment(sd, &seg, 1, 4096, NO_CALLBACK, NO_ARG,
			 SCI_FLAG_EMPTY | SCI_FLAG_BROADCAST, &e);
	expect("SCICreateSegment(EMPTY | BROADCAST)", e, SCI_ERR_FLAG_NOT_IMPLEMENTED);
	/* An empty segment needs no kernel until its memory comes. */
	SCICreateSegment(sd, &seg, 77, 4096, NO_CALLBACK, NO_ARG,
			 SCI_FLAG_EMPTY | SCI_FLAG_DMA_GLOBAL | SCI_FLAG_AUTO_ID, &e);
	expect("SCICreateSegment(EMPTY | DMA_GLOBAL | AUTO_ID)", e, SCI_ERR_OK);
	if (e == SCI_ERR_OK) {
		void *mem = NULL;

		SCIPrepareSegment(seg, 0, SCI_FLAG_DMA_SOURCE_ONLY, &e);
		expect("SCIPrepareSegment(DMA_SOURCE_ONLY) of an empty segment", e,
		       SCI_ERR_ILLEGAL_OPERATION);
		SCIPrepareSegment(seg, 0, SCI_FLAG_DMA_WAIT, &e);
		expect("SCIPrepareSegment(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
		SCIRegisterSegmentMemory(NULL, 4096, seg, SCI_FLAG_LOCK_USER_MEM, &e);
		expect("SCIRegisterSegmentMemory(NULL, LOCK_USER_MEM)", e, SCI_ERR_ILLEGAL_PARAMETER);
		SCIRegisterSegmentMemory(NULL, 4096, seg, SCI_FLAG_DMA_READ, &e);
		expect("SCIRegisterSegmentMemory(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
		SCIAttachPhysicalMemory(0, NULL, 0, 4096, seg, SCI_FLAG_CUDA_BUFFER, &e);
		expect("SCIAttachPhysicalMemory(CUDA_BUFFER)", e, SCI_ERR_FLAG_NOT_IMPLEMENTED);
		SCIAttachPhysicalMemory(0x100000, NULL, 0, 4096, seg, SCI_FLAG_DMA_READ, &e);
		expect("SCIAttachPhysicalMemory(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
		SCIAttachPhysicalMemory(0x100001, NULL, 0, 4096, seg, NO_FLAGS, &e);
		expect("SCIAttachPhysicalMemory(unaligned)", e, SCI_ERR_OFFSET_ALIGNMENT);
		if (fake_device && !posix_memalign(&mem, 4096, 4096)) {
			SCIRegisterSegmentMemory(mem, 4096, seg, SCI_FLAG_LOCK_USER_MEM, &e);
			expect_accepted("SCIRegisterSegmentMemory(LOCK_USER_MEM)", e);
		}
		SCIRemoveSegment(seg, SCI_FLAG_FORCE_REMOVE, &e);
		expect("SCIRemoveSegment(FORCE_REMOVE)", e, SCI_ERR_OK);
		free(mem);
	}
	SCIConnectSegment(sd, &rs, 4, 1, 0, NO_CALLBACK, NO_ARG, 0,
			  SCI_FLAG_ASYNCHRONOUS_CONNECT, &e);
	expect("SCIConnectSegment(ASYNCHRONOUS_CONNECT)", e, SCI_ERR_FLAG_NOT_IMPLEMENTED);
	SCIConnectSegment(sd, &rs, 4, 1, 0, NO_CALLBACK, NO_ARG, 0, SCI_FLAG_DMA_WAIT, &e);
	expect("SCIConnectSegment(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
	SCIConnectSegment(sd, &rs, 4, 1, 1, NO_CALLBACK, NO_ARG, 0, NO_FLAGS, &e);
	expect("SCIConnectSegment(adapter 1)", e, SCI_ERR_NO_SUCH_ADAPTERNO);

	/* DMA queues. */
	SCICreateDMAQueue(sd, &dq, 0, 16, SCI_FLAG_DMA_PHDMA, &e);
	expect("SCICreateDMAQueue(PHDMA)", e, SCI_ERR_FLAG_NOT_IMPLEMENTED);
	SCICreateDMAQueue(sd, &dq, 0, 16, SCI_FLAG_DMA_READ, &e);
	expect("SCICreateDMAQueue(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
	if (fake_device) {
		SCICreateDMAQueue(sd, &dq, 0, 16, SCI_FLAG_DMA_GLOBAL, &e);
		expect_accepted("SCICreateDMAQueue(DMA_GLOBAL)", e);
		SCICreateDMAQueue(sd, &dq, 0, 16, SCI_FLAG_DMA_ADAPTER | SCI_FLAG_DMA_SYSDMA, &e);
		expect_accepted("SCICreateDMAQueue(DMA_ADAPTER | DMA_SYSDMA)", e);
	}

	/* Interrupts. */
	SCICreateInterrupt(sd, &li, 0, &no, NO_CALLBACK, NO_ARG, SCI_FLAG_SHARED_INT, &e);
	expect("SCICreateInterrupt(SHARED_INT)", e, SCI_ERR_FLAG_NOT_IMPLEMENTED);
	SCICreateInterrupt(sd, &li, 0, &no, NO_CALLBACK, NO_ARG, SCI_FLAG_COUNTING_INT, &e);
	expect("SCICreateInterrupt(COUNTING_INT)", e, SCI_ERR_FLAG_NOT_IMPLEMENTED);
	SCICreateInterrupt(sd, &li, 0, &no, NO_CALLBACK, NO_ARG, SCI_FLAG_SHARE_EXTERNAL, &e);
	expect("SCICreateInterrupt(SHARE_EXTERNAL)", e, SCI_ERR_FLAG_NOT_IMPLEMENTED);
	SCICreateInterrupt(sd, &li, 0, &no, NO_CALLBACK, NO_ARG, SCI_FLAG_DMA_READ, &e);
	expect("SCICreateInterrupt(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
	SCICreateDataInterrupt(sd, &ldi, 0, &no, NO_CALLBACK, NO_ARG, SCI_FLAG_SHARED_INT, &e);
	expect("SCICreateDataInterrupt(SHARED_INT)", e, SCI_ERR_FLAG_NOT_IMPLEMENTED);
	SCIConnectInterrupt(sd, &ri, 4, 0, 1, 0, SCI_FLAG_FIXED_INTNO, &e);
	expect("SCIConnectInterrupt(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
	if (fake_device) {
		SCICreateInterrupt(sd, &li, 0, &no, NO_CALLBACK, NO_ARG, SCI_FLAG_FIXED_INTNO, &e);
		expect_accepted("SCICreateInterrupt(FIXED_INTNO)", e);
		SCIProbeNode(sd, 0, 4, NO_FLAGS, &e);
		expect_accepted("SCIProbeNode", e);
	}
	SCIProbeNode(sd, 0, 4, 2, &e);
	expect("SCIProbeNode(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
	check_node_ids(sd);
	SCIClose(sd, 4, &e);
	expect("SCIClose(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
}

int main(int argc, char **argv)
{
	sci_error_t e = SCI_ERR_OK;
	sci_desc_t sd = NULL;

#ifdef _REENTRANT
	const char *built = "with _REENTRANT: calls link as _SISCI_PUBLIC_FUNC_MT_*";
#else
	const char *built = "without _REENTRANT: calls link as _SISCI_PUBLIC_FUNC_ST_*";
#endif

	fake_device = argc > 1 && !strcmp(argv[1], "--fake-device");
	printf("INFO built %s\n", built);
	check_tables();
	check_exports();

	SCIOpen(&sd, NO_FLAGS, &e);
	expect("SCIOpen before SCIInitialize", e, SCI_ERR_NOT_INITIALIZED);
	SCIInitialize(NO_FLAGS, &e);
	expect("SCIInitialize", e, SCI_ERR_OK);
	check_null_arguments();
	check_local_calls();

	SCIOpen(&sd, SCI_FLAG_DMA_READ, &e);
	expect("SCIOpen(bad flag)", e, SCI_ERR_ILLEGAL_FLAG);
	SCIOpen(&sd, SCI_FLAG_THREAD_SAFE, &e);
	if (fake_device) {
		expect("SCIOpen(THREAD_SAFE) of the fake device", e, SCI_ERR_OK);
	} else if (e != SCI_ERR_OK) {
		expect("SCIOpen without /dev/sisci", e, SCI_ERR_NO_SUCH_ADAPTERNO);
	} else {
		printf("INFO /dev/sisci is there: argument checks only\n");
	}
	if (e == SCI_ERR_OK) {
		check_descriptor(sd);
		SCIClose(sd, NO_FLAGS, &e);
		expect("SCIClose", e, SCI_ERR_OK);
	}
	SCITerminate();
	printf("%s: %u failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
