/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rsio libsisci: the SISCI C API over rsio's /dev/sisci.
 *
 * Written for rsio. Function names, parameter lists, flag names and error
 * codes follow the public SISCI API so that SISCI programs build against
 * libsisci from source unchanged. docs/sisci.md lists which calls and flags
 * are supported: calls it does not offer are not declared here. Flags:
 * a flag the public API defines for a call that this library does not
 * offer gives SCI_ERR_FLAG_NOT_IMPLEMENTED, a value that means nothing for
 * the call SCI_ERR_ILLEGAL_FLAG. Every call validates its pointer
 * arguments and reports through its sci_error_t *error argument.
 *
 * Install layout (make install PREFIX=...): this header, sisci_types.h and
 * sisci_error.h in $PREFIX/include, dis_types.h in $PREFIX/include/dis,
 * libsisci.so and libsisci.a in $PREFIX/lib64.
 */
#ifndef RSIO_SISCI_API_H
#define RSIO_SISCI_API_H

#include "sisci_types.h"
#include "sisci_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * ---- Exported names -----------------------------------------------------
 *
 * As with the public library, a call NAME links as
 * _SISCI_PUBLIC_FUNC_MT_NAME when the program is built with _REENTRANT and
 * as _SISCI_PUBLIC_FUNC_ST_NAME otherwise. libsisci exports every call
 * under both names and under its plain name. Define
 * RSIO_SISCI_PLAIN_NAMES before including this header to link against the
 * plain names.
 */
#if defined(_REENTRANT)
#define _SISCI_EXPANDE_FUNCTION_NAME(name) _SISCI_PUBLIC_FUNC_MT_ ## name
#define _SISCI_EXPANDE_VARIABLE_NAME(name) _SISCI_PUBLIC_VAR_MT_ ## name
#else
#define _SISCI_EXPANDE_FUNCTION_NAME(name) _SISCI_PUBLIC_FUNC_ST_ ## name
#define _SISCI_EXPANDE_VARIABLE_NAME(name) _SISCI_PUBLIC_VAR_ST_ ## name
#endif
#define _SISCI_EXPANDE_CONSTANT_NAME(name) _SISCI_PUBLIC_CONST_ ## name

/*
 * The name a call links as, for the calls that are function-like macros
 * (SmartIO, below): their declarations and dispatchers use it. It pastes
 * directly, so that it never expands the call's own name.
 */
#if defined(RSIO_SISCI_PLAIN_NAMES)
#define RSIO_SISCI_LINK_NAME(name) name
#elif defined(_REENTRANT)
#define RSIO_SISCI_LINK_NAME(name) _SISCI_PUBLIC_FUNC_MT_ ## name
#else
#define RSIO_SISCI_LINK_NAME(name) _SISCI_PUBLIC_FUNC_ST_ ## name
#endif

/*
 * SCIMapLocalSegmentForDevice and SCIMapRemoteSegmentForDevice take the
 * parameter lists of several SISCI releases (docs/sisci.md, "SmartIO"):
 * they are variadic function-like macros, which need C99 or C++11. Older
 * language modes get ordinary renamed declarations (the current parameter
 * lists only). -DRSIO_SISCI_VARIADIC_CALLS=0 or =1 overrides the choice.
 */
#ifndef RSIO_SISCI_VARIADIC_CALLS
#if (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L) || \
	(defined(__cplusplus) && __cplusplus >= 201103L)
#define RSIO_SISCI_VARIADIC_CALLS 1
#else
#define RSIO_SISCI_VARIADIC_CALLS 0
#endif
#endif

#ifndef RSIO_SISCI_PLAIN_NAMES
#define SCIInitialize                  _SISCI_EXPANDE_FUNCTION_NAME(SCIInitialize)
#define SCITerminate                   _SISCI_EXPANDE_FUNCTION_NAME(SCITerminate)
#define SCIOpen                        _SISCI_EXPANDE_FUNCTION_NAME(SCIOpen)
#define SCIClose                       _SISCI_EXPANDE_FUNCTION_NAME(SCIClose)
#define SCIGetErrorString              _SISCI_EXPANDE_FUNCTION_NAME(SCIGetErrorString)
#define SCIGetLocalNodeId              _SISCI_EXPANDE_FUNCTION_NAME(SCIGetLocalNodeId)
#define SCIGetNodeIdByAdapterName      _SISCI_EXPANDE_FUNCTION_NAME(SCIGetNodeIdByAdapterName)
#define SCIGetNodeInfoByAdapterName    _SISCI_EXPANDE_FUNCTION_NAME(SCIGetNodeInfoByAdapterName)
#define SCIProbeNode                   _SISCI_EXPANDE_FUNCTION_NAME(SCIProbeNode)
#define SCIQuery                       _SISCI_EXPANDE_FUNCTION_NAME(SCIQuery)
#define SCICreateSegment               _SISCI_EXPANDE_FUNCTION_NAME(SCICreateSegment)
#define SCIRemoveSegment               _SISCI_EXPANDE_FUNCTION_NAME(SCIRemoveSegment)
#define SCIPrepareSegment              _SISCI_EXPANDE_FUNCTION_NAME(SCIPrepareSegment)
#define SCISetSegmentAvailable         _SISCI_EXPANDE_FUNCTION_NAME(SCISetSegmentAvailable)
#define SCISetSegmentUnavailable       _SISCI_EXPANDE_FUNCTION_NAME(SCISetSegmentUnavailable)
#define SCIWaitForLocalSegmentEvent    _SISCI_EXPANDE_FUNCTION_NAME(SCIWaitForLocalSegmentEvent)
#define SCIGetLocalSegmentId           _SISCI_EXPANDE_FUNCTION_NAME(SCIGetLocalSegmentId)
#define SCIGetLocalSegmentSize         _SISCI_EXPANDE_FUNCTION_NAME(SCIGetLocalSegmentSize)
#define SCIMapLocalSegment             _SISCI_EXPANDE_FUNCTION_NAME(SCIMapLocalSegment)
#define SCIConnectSegment              _SISCI_EXPANDE_FUNCTION_NAME(SCIConnectSegment)
#define SCIDisconnectSegment           _SISCI_EXPANDE_FUNCTION_NAME(SCIDisconnectSegment)
#define SCIGetRemoteSegmentSize        _SISCI_EXPANDE_FUNCTION_NAME(SCIGetRemoteSegmentSize)
#define SCIGetRemoteSegmentId          _SISCI_EXPANDE_FUNCTION_NAME(SCIGetRemoteSegmentId)
#define SCIGetRemoteSegmentNodeId      _SISCI_EXPANDE_FUNCTION_NAME(SCIGetRemoteSegmentNodeId)
#define SCIWaitForRemoteSegmentEvent   _SISCI_EXPANDE_FUNCTION_NAME(SCIWaitForRemoteSegmentEvent)
#define SCIMapRemoteSegment            _SISCI_EXPANDE_FUNCTION_NAME(SCIMapRemoteSegment)
#define SCIUnmapSegment                _SISCI_EXPANDE_FUNCTION_NAME(SCIUnmapSegment)
#define SCIGetMapPointer               _SISCI_EXPANDE_FUNCTION_NAME(SCIGetMapPointer)
#define SCICreateMapSequence           _SISCI_EXPANDE_FUNCTION_NAME(SCICreateMapSequence)
#define SCIRemoveSequence              _SISCI_EXPANDE_FUNCTION_NAME(SCIRemoveSequence)
#define SCIStartSequence               _SISCI_EXPANDE_FUNCTION_NAME(SCIStartSequence)
#define SCICheckSequence               _SISCI_EXPANDE_FUNCTION_NAME(SCICheckSequence)
#define SCIStoreBarrier                _SISCI_EXPANDE_FUNCTION_NAME(SCIStoreBarrier)
#define SCIFlush                       _SISCI_EXPANDE_FUNCTION_NAME(SCIFlush)
#define SCIMemCpy                      _SISCI_EXPANDE_FUNCTION_NAME(SCIMemCpy)
#define SCIMemWrite                    _SISCI_EXPANDE_FUNCTION_NAME(SCIMemWrite)
#define SCICacheSync                   _SISCI_EXPANDE_FUNCTION_NAME(SCICacheSync)
#define SCICreateDMAQueue              _SISCI_EXPANDE_FUNCTION_NAME(SCICreateDMAQueue)
#define SCIRemoveDMAQueue              _SISCI_EXPANDE_FUNCTION_NAME(SCIRemoveDMAQueue)
#define SCIStartDmaTransfer            _SISCI_EXPANDE_FUNCTION_NAME(SCIStartDmaTransfer)
#define SCIStartDmaTransferVec         _SISCI_EXPANDE_FUNCTION_NAME(SCIStartDmaTransferVec)
#define SCIWaitForDMAQueue             _SISCI_EXPANDE_FUNCTION_NAME(SCIWaitForDMAQueue)
#define SCIDMAQueueState               _SISCI_EXPANDE_FUNCTION_NAME(SCIDMAQueueState)
#define SCICreateInterrupt             _SISCI_EXPANDE_FUNCTION_NAME(SCICreateInterrupt)
#define SCIRemoveInterrupt             _SISCI_EXPANDE_FUNCTION_NAME(SCIRemoveInterrupt)
#define SCIWaitForInterrupt            _SISCI_EXPANDE_FUNCTION_NAME(SCIWaitForInterrupt)
#define SCIConnectInterrupt            _SISCI_EXPANDE_FUNCTION_NAME(SCIConnectInterrupt)
#define SCIDisconnectInterrupt         _SISCI_EXPANDE_FUNCTION_NAME(SCIDisconnectInterrupt)
#define SCITriggerInterrupt            _SISCI_EXPANDE_FUNCTION_NAME(SCITriggerInterrupt)
#define SCICreateDataInterrupt         _SISCI_EXPANDE_FUNCTION_NAME(SCICreateDataInterrupt)
#define SCIRemoveDataInterrupt         _SISCI_EXPANDE_FUNCTION_NAME(SCIRemoveDataInterrupt)
#define SCIWaitForDataInterrupt        _SISCI_EXPANDE_FUNCTION_NAME(SCIWaitForDataInterrupt)
#define SCIConnectDataInterrupt        _SISCI_EXPANDE_FUNCTION_NAME(SCIConnectDataInterrupt)
#define SCIDisconnectDataInterrupt     _SISCI_EXPANDE_FUNCTION_NAME(SCIDisconnectDataInterrupt)
#define SCITriggerDataInterrupt        _SISCI_EXPANDE_FUNCTION_NAME(SCITriggerDataInterrupt)
#define SCIRegisterSegmentMemory       _SISCI_EXPANDE_FUNCTION_NAME(SCIRegisterSegmentMemory)
#define SCIAttachPhysicalMemory        _SISCI_EXPANDE_FUNCTION_NAME(SCIAttachPhysicalMemory)
#define SCIGetDeviceList               _SISCI_EXPANDE_FUNCTION_NAME(SCIGetDeviceList)
#define SCIBorrowDevice                _SISCI_EXPANDE_FUNCTION_NAME(SCIBorrowDevice)
#define SCIReturnDevice                _SISCI_EXPANDE_FUNCTION_NAME(SCIReturnDevice)
#define SCIGetFabricDeviceId           _SISCI_EXPANDE_FUNCTION_NAME(SCIGetFabricDeviceId)
#define SCIConnectDeviceSegment        _SISCI_EXPANDE_FUNCTION_NAME(SCIConnectDeviceSegment)
#define SCIConnectDeviceMemory         _SISCI_EXPANDE_FUNCTION_NAME(SCIConnectDeviceMemory)
#define SCICreateDeviceSegment         _SISCI_EXPANDE_FUNCTION_NAME(SCICreateDeviceSegment)
#if !RSIO_SISCI_VARIADIC_CALLS /* else function-like macros (SmartIO) */
#define SCIMapLocalSegmentForDevice    _SISCI_EXPANDE_FUNCTION_NAME(SCIMapLocalSegmentForDevice)
#define SCIMapRemoteSegmentForDevice   _SISCI_EXPANDE_FUNCTION_NAME(SCIMapRemoteSegmentForDevice)
#endif
#define SCIUnmapLocalSegmentForDevice  _SISCI_EXPANDE_FUNCTION_NAME(SCIUnmapLocalSegmentForDevice)
#define SCIUnmapRemoteSegmentForDevice _SISCI_EXPANDE_FUNCTION_NAME(SCIUnmapRemoteSegmentForDevice)
#define SCIRegisterPCIeRequester       _SISCI_EXPANDE_FUNCTION_NAME(SCIRegisterPCIeRequester)
#define SCIUnregisterPCIeRequester     _SISCI_EXPANDE_FUNCTION_NAME(SCIUnregisterPCIeRequester)
#endif /* RSIO_SISCI_PLAIN_NAMES */

/* ---- General values ---------------------------------------------------- */

#define SCI_INFINITE_TIMEOUT 0xffffffffu
#define DIS_BROADCAST_NODEID_GROUP_ALL 252

/*
 * Convenience names SISCI programs use for "none". The public header has
 * none: programs define them themselves, before or after including this
 * header, as 0 or NULL. So that no spelling clashes, none is a macro:
 * the integers are enumeration constants, the pointers null constants
 * (C++: nullptr), which a program's own #define of the name afterwards
 * simply hides, and each is left out if the name is a macro already.
 */
#ifndef NO_FLAGS
enum { NO_FLAGS = 0 };
#endif
#ifndef NO_OFFSET
enum { NO_OFFSET = 0 };
#endif
#if defined(__cplusplus) && __cplusplus >= 201103L
#define RSIO_SISCI_NULL_CONSTANT(name) static constexpr decltype(nullptr) name = nullptr
#elif defined(__cplusplus)
#define RSIO_SISCI_NULL_CONSTANT(name) static void *const name = 0
#else
/* (A null void pointer: C converts it to the callback types too.) */
#define RSIO_SISCI_NULL_CONSTANT(name) static void *const name = 0
#endif
#ifndef NO_CALLBACK
RSIO_SISCI_NULL_CONSTANT(NO_CALLBACK);
#endif
#ifndef NO_ARG
RSIO_SISCI_NULL_CONSTANT(NO_ARG);
#endif
#ifndef NO_SUGGESTED_ADDRESS
RSIO_SISCI_NULL_CONSTANT(NO_SUGGESTED_ADDRESS);
#endif
#undef RSIO_SISCI_NULL_CONSTANT

/* ---- Flags (each call documents which it takes) ------------------------ */

/* Segments, interrupts, DMA: run a library thread that calls the callback. */
#define SCI_FLAG_USE_CALLBACK 0x00000001u
/* SCICreateSegment(). */
#define SCI_FLAG_EMPTY 0x00000002u
#define SCI_FLAG_PRIVATE 0x00000004u
#define SCI_FLAG_AUTO_ID 0x20000000u
/* SCIPrepareSegment() and DMA: the segment is a DMA source only. */
#define SCI_FLAG_DMA_SOURCE_ONLY 0x00000008u
#define SCI_FLAG_PHYSICAL 0x00001000u
#define SCI_FLAG_CUDA_BUFFER 0x00002000u
#define SCI_FLAG_SCIF_BUFFER 0x00004000u

/* DMA. */
#define SCI_FLAG_DMA_WAIT 0x00000004u
#define SCI_FLAG_DMA_READ 0x00000010u
#define SCI_FLAG_DMA_PHDMA 0x00000020u
#define SCI_FLAG_DMA_GLOBAL 0x00000040u
#define SCI_FLAG_DMA_SYSDMA 0x00000100u
#define SCI_FLAG_DMA_USER_MEM 0x00000200u
#define SCI_FLAG_DMA_ADAPTER 0x00000800u
#define SCI_FLAG_DMA_CHANNEL_SHARED 0x00000001u
#define SCI_DMA_CHANNEL_ID_DONTCARE 0xFFFFFFFFu

/* Segment removal, connection, registration. */
#define SCI_FLAG_FORCE_REMOVE 0x00000020u
#define SCI_FLAG_ALLOW_UNICAST 0x00000080u
#define SCI_FLAG_LOCK_USER_MEM 0x00000400u
#define SCI_FLAG_BROADCAST 0x00040000u
#define SCI_FLAG_ASYNCHRONOUS_CONNECT 0x00400000u
#define SCI_FLAG_FORCE_DISCONNECT 0x00800000u
#define SCI_FLAG_NOTIFY 0x00010000u

/* Interrupts. */
#define SCI_FLAG_FIXED_INTNO 0x00000002u
#define SCI_FLAG_SHARED_INT 0x00000004u
#define SCI_FLAG_CONDITIONAL_INTERRUPT 0x00000008u
#define SCI_FLAG_COUNTING_INT 0x00000020u
#define SCI_FLAG_SHARE_EXTERNAL 0x00000040u

/* Mapping. */
#define SCI_FLAG_FIXED_MAP_ADDR 0x00000001u
#define SCI_FLAG_READONLY_MAP 0x00000002u
#define SCI_FLAG_LOCK_OPERATION 0x00000004u
#define SCI_FLAG_CONDITIONAL_INTERRUPT_MAP 0x00000008u
#define SCI_FLAG_UNCONDITIONAL_DATA_INTERRUPT_MAP 0x00000010u
#define SCI_FLAG_IO_MAP_IOSPACE 0x00000080u
#define SCI_FLAG_NO_MEMORY_LOOPBACK 0x00000800u
#define SCI_FLAG_NO_MEMORY_LOOPBACK_MAP SCI_FLAG_NO_MEMORY_LOOPBACK
#define SCI_FLAG_SHARED_MAP 0x00002000u
#define SCI_FLAG_WRITE_BACK_CACHE_MAP 0x08000000u

/* SCIOpen(). */
#define SCI_FLAG_THREAD_SAFE 0x00000008u

/* SCIMemCpy(), SCIFlush(). */
#define SCI_FLAG_FAST_BARRIER 0x00000001u
#define SCI_FLAG_BLOCK_READ 0x00000100u
#define SCI_FLAG_ERROR_CHECK 0x00008000u
#define SCI_FLAG_NO_FLUSH 0x00020000u
#define SCI_FLAG_NO_STORE_BARRIER 0x00080000u
#define SCI_FLAG_FLUSH_CPU_BUFFERS_ONLY 0x00004000u
#define FLUSH_CPU_BUFFERS_ONLY SCI_FLAG_FLUSH_CPU_BUFFERS_ONLY

/* SCICacheSync(). */
#define SCI_FLAG_CACHE_FLUSH 0x00100000u
#define SCI_FLAG_CACHE_INVALIDATE 0x00200000u

/* ---- SCIQuery() commands ------------------------------------------------ */

#define SCI_Q_VENDORID 1u
#define SCI_Q_API 2u
#define SCI_Q_ADAPTER 3u
#define SCI_Q_SYSTEM 4u
#define SCI_Q_LOCAL_SEGMENT 5u
#define SCI_Q_REMOTE_SEGMENT 6u
#define SCI_Q_MAP 7u

/* SCI_Q_ADAPTER subcommands: data points to an unsigned int (but BDF). */
#define SCI_Q_ADAPTER_DMA_SIZE_ALIGNMENT 1u
#define SCI_Q_ADAPTER_DMA_OFFSET_ALIGNMENT 2u
#define SCI_Q_ADAPTER_DMA_MTU 3u
#define SCI_Q_ADAPTER_SUGGESTED_MIN_DMA_SIZE 4u
#define SCI_Q_ADAPTER_SUGGESTED_MIN_BLOCK_SIZE 5u
#define SCI_Q_ADAPTER_NODEID 6u
#define SCI_Q_ADAPTER_SERIAL_NUMBER 7u
#define SCI_Q_ADAPTER_CARD_TYPE 8u
#define SCI_Q_ADAPTER_NUMBER_OF_STREAMS 9u
#define SCI_Q_ADAPTER_STREAM_BUFFER_SIZE 10u
#define SCI_Q_ADAPTER_CONFIGURED 11u
#define SCI_Q_ADAPTER_LINK_OPERATIONAL 12u
#define SCI_Q_ADAPTER_HW_LINK_STATUS_IS_OK 13u
#define SCI_Q_ADAPTER_NUMBER 14u
#define SCI_Q_ADAPTER_INSTANCE_NUMBER 15u
#define SCI_Q_ADAPTER_FIRMWARE_OK 16u
#define SCI_Q_ADAPTER_CONNECTED_TO_SWITCH 17u
#define SCI_Q_ADAPTER_ATT_PAGE_SIZE 21u
#define SCI_Q_ADAPTER_ATT_NUMBER_OF_ENTRIES 22u
#define SCI_Q_ADAPTER_ATT_AVAILABLE_ENTRIES 23u
#define SCI_Q_ADAPTER_DMA_CHANNELS 30u
#define SCI_Q_ADAPTER_MULTICAST_GROUPS 31u
#define SCI_Q_ADAPTER_NUMBER_OF_NODES 32u
/*
 * The adapter's PCI address: data points to a 16-bit value (uint16_t; an
 * unsigned int set to 0 beforehand works too: only its low 16 bits, at the
 * lowest address, are written) of bus << 8 | device << 3 | function. The
 * PCI domain is not part of it.
 */
#define SCI_Q_ADAPTER_BDF 33u

/* SCI_Q_SYSTEM subcommands. */
#define SCI_Q_SYSTEM_HOSTBRIDGE 1u
#define SCI_Q_SYSTEM_WRITE_POSTING_ENABLED 2u
#define SCI_Q_SYSTEM_WRITE_COMBINING_ENABLED 3u

/* SCI_Q_LOCAL_SEGMENT / SCI_Q_REMOTE_SEGMENT / SCI_Q_MAP subcommands. */
#define SCI_Q_LOCAL_SEGMENT_IOADDR 1u
#define SCI_Q_LOCAL_SEGMENT_PHYS_ADDR 2u
#define SCI_Q_REMOTE_SEGMENT_IOADDR 1u
#define SCI_Q_MAP_MAPPED_TO_LOCAL_TARGET 1u
#define SCI_Q_MAP_QUERY_REMOTE_MAPPED_TO_LOCAL_TARGET 2u

/* ---- Library, descriptors, nodes --------------------------------------- */

void SCIInitialize(unsigned int flags, sci_error_t *error);
void SCITerminate(void);
void SCIOpen(sci_desc_t *sd, unsigned int flags, sci_error_t *error);
void SCIClose(sci_desc_t sd, unsigned int flags, sci_error_t *error);
const char *SCIGetErrorString(sci_error_t error);
void SCIGetLocalNodeId(unsigned int adapterNo, unsigned int *nodeId,
		unsigned int flags, sci_error_t *error);
/*
 * Node ids, in and out of every call, are SISCI's: rsio node n is node id
 * 4 * (n + 1) (4, 8, 12, ...; 0 is no node). An id that names no node
 * fails as a node beyond the fabric does (docs/sisci.md, "Node ids").
 *
 * The node ids of the node an adapter name names (docs/sisci.md, "Adapter
 * names"): a node's name (its hostname, as the fabric lists it), the same
 * followed by "_a0" (its adapter 0), or a node id in decimal. (*nodeIdlist)[0]
 * is the node, the other entries 0; *adapterType is DIS_ADAPTER_TYPE_RSIO.
 */
void SCIGetNodeIdByAdapterName(char *adaptername,
		dis_nodeId_list_t *nodeIdlist, dis_virt_adapter_t *adapterType,
		unsigned int flags, sci_error_t *error);
/* As above; adapterNo[i] (DIS_MAX_NSCIS entries) is (*nodeIdlist)[i]'s adapter. */
void SCIGetNodeInfoByAdapterName(char *adaptername, unsigned int *adapterNo,
		dis_nodeId_list_t *nodeIdlist, dis_virt_adapter_t *adapterType,
		unsigned int flags, sci_error_t *error);
int SCIProbeNode(sci_desc_t sd, unsigned int localAdapterNo,
		unsigned int nodeId, unsigned int flags, sci_error_t *error);
void SCIQuery(unsigned int command, void *data, unsigned int flags,
		sci_error_t *error);

/* ---- Local segments ------------------------------------------------------ */

void SCICreateSegment(sci_desc_t sd, sci_local_segment_t *segment,
		unsigned int segmentId, size_t size,
		sci_cb_local_segment_t callback, void *callbackArg,
		unsigned int flags, sci_error_t *error);
void SCIRemoveSegment(sci_local_segment_t segment, unsigned int flags,
		sci_error_t *error);
void SCIPrepareSegment(sci_local_segment_t segment,
		unsigned int localAdapterNo, unsigned int flags,
		sci_error_t *error);
void SCISetSegmentAvailable(sci_local_segment_t segment,
		unsigned int localAdapterNo, unsigned int flags,
		sci_error_t *error);
void SCISetSegmentUnavailable(sci_local_segment_t segment,
		unsigned int localAdapterNo, unsigned int flags,
		sci_error_t *error);
sci_segment_cb_reason_t SCIWaitForLocalSegmentEvent(
		sci_local_segment_t segment, unsigned int *sourcenodeId,
		unsigned int *localAdapterNo, unsigned int timeout,
		unsigned int flags, sci_error_t *error);
unsigned int SCIGetLocalSegmentId(sci_local_segment_t segment);
size_t SCIGetLocalSegmentSize(sci_local_segment_t segment);
void *SCIMapLocalSegment(sci_local_segment_t segment, sci_map_t *map,
		size_t offset, size_t size, void *addr, unsigned int flags,
		sci_error_t *error);

/* ---- Remote segments ----------------------------------------------------- */

void SCIConnectSegment(sci_desc_t sd, sci_remote_segment_t *segment,
		unsigned int nodeId, unsigned int segmentId,
		unsigned int localAdapterNo, sci_cb_remote_segment_t callback,
		void *callbackArg, unsigned int timeout, unsigned int flags,
		sci_error_t *error);
void SCIDisconnectSegment(sci_remote_segment_t segment, unsigned int flags,
		sci_error_t *error);
size_t SCIGetRemoteSegmentSize(sci_remote_segment_t segment);
unsigned int SCIGetRemoteSegmentId(sci_remote_segment_t segment);
unsigned int SCIGetRemoteSegmentNodeId(sci_remote_segment_t segment);
sci_segment_cb_reason_t SCIWaitForRemoteSegmentEvent(
		sci_remote_segment_t segment, sci_error_t *status,
		unsigned int timeout, unsigned int flags, sci_error_t *error);
volatile void *SCIMapRemoteSegment(sci_remote_segment_t segment,
		sci_map_t *map, size_t offset, size_t size, void *addr,
		unsigned int flags, sci_error_t *error);

/* ---- Mappings, sequences, PIO ------------------------------------------- */

void SCIUnmapSegment(sci_map_t map, unsigned int flags, sci_error_t *error);
void *SCIGetMapPointer(sci_map_t map);
void SCICreateMapSequence(sci_map_t map, sci_sequence_t *sequence,
		unsigned int flags, sci_error_t *error);
void SCIRemoveSequence(sci_sequence_t sequence, unsigned int flags,
		sci_error_t *error);
sci_sequence_status_t SCIStartSequence(sci_sequence_t sequence,
		unsigned int flags, sci_error_t *error);
sci_sequence_status_t SCICheckSequence(sci_sequence_t sequence,
		unsigned int flags, sci_error_t *error);
void SCIStoreBarrier(sci_sequence_t sequence, unsigned int flags);
void SCIFlush(sci_sequence_t sequence, unsigned int flags);
void SCIMemCpy(sci_sequence_t sequence, void *memAddr, sci_map_t remoteMap,
		size_t remoteOffset, size_t size, unsigned int flags,
		sci_error_t *error);
void SCIMemWrite(void *memAddr, volatile void *remoteAddr, size_t size,
		unsigned int flags, sci_error_t *error);
/*
 * Makes length bytes at addr (inside map, or anywhere with a NULL map)
 * coherent: SCI_FLAG_CACHE_FLUSH writes back what the CPU holds,
 * SCI_FLAG_CACHE_INVALIDATE drops stale lines. rsio's mappings are
 * cache-coherent: a full memory fence does both.
 */
void SCICacheSync(sci_map_t map, void *addr, size_t length,
		unsigned int flags, sci_error_t *error);

/* ---- DMA ----------------------------------------------------------------- */

void SCICreateDMAQueue(sci_desc_t sd, sci_dma_queue_t *dq,
		unsigned int localAdapterNo, unsigned int maxEntries,
		unsigned int flags, sci_error_t *error);
void SCIRemoveDMAQueue(sci_dma_queue_t dq, unsigned int flags,
		sci_error_t *error);
void SCIStartDmaTransfer(sci_dma_queue_t dq, sci_local_segment_t localSegment,
		sci_remote_segment_t remoteSegment, size_t localOffset,
		size_t size, size_t remoteOffset, sci_cb_dma_t callback,
		void *callbackArg, unsigned int flags, sci_error_t *error);
void SCIStartDmaTransferVec(sci_dma_queue_t dq,
		sci_local_segment_t localSegment,
		sci_remote_segment_t remoteSegment, size_t vecLength,
		dis_dma_vec_t *disDmaVec, sci_cb_dma_t callback,
		void *callbackArg, unsigned int flags, sci_error_t *error);
sci_dma_queue_state_t SCIWaitForDMAQueue(sci_dma_queue_t dq,
		unsigned int timeout, unsigned int flags, sci_error_t *error);
sci_dma_queue_state_t SCIDMAQueueState(sci_dma_queue_t dq);

/* ---- Interrupts ---------------------------------------------------------- */

void SCICreateInterrupt(sci_desc_t sd, sci_local_interrupt_t *interrupt,
		unsigned int localAdapterNo, unsigned int *interruptNo,
		sci_cb_interrupt_t callback, void *callbackArg,
		unsigned int flags, sci_error_t *error);
void SCIRemoveInterrupt(sci_local_interrupt_t interrupt, unsigned int flags,
		sci_error_t *error);
void SCIWaitForInterrupt(sci_local_interrupt_t interrupt,
		unsigned int timeout, unsigned int flags, sci_error_t *error);
void SCIConnectInterrupt(sci_desc_t sd, sci_remote_interrupt_t *interrupt,
		unsigned int nodeId, unsigned int localAdapterNo,
		unsigned int interruptNo, unsigned int timeout,
		unsigned int flags, sci_error_t *error);
void SCIDisconnectInterrupt(sci_remote_interrupt_t interrupt,
		unsigned int flags, sci_error_t *error);
void SCITriggerInterrupt(sci_remote_interrupt_t interrupt, unsigned int flags,
		sci_error_t *error);

void SCICreateDataInterrupt(sci_desc_t sd,
		sci_local_data_interrupt_t *interrupt,
		unsigned int localAdapterNo, unsigned int *interruptNo,
		sci_cb_data_interrupt_t callback, void *callbackArg,
		unsigned int flags, sci_error_t *error);
void SCIRemoveDataInterrupt(sci_local_data_interrupt_t interrupt,
		unsigned int flags, sci_error_t *error);
void SCIWaitForDataInterrupt(sci_local_data_interrupt_t interrupt,
		void *data, unsigned int *length, unsigned int timeout,
		unsigned int flags, sci_error_t *error);
void SCIConnectDataInterrupt(sci_desc_t sd,
		sci_remote_data_interrupt_t *interrupt, unsigned int nodeId,
		unsigned int localAdapterNo, unsigned int interruptNo,
		unsigned int timeout, unsigned int flags, sci_error_t *error);
void SCIDisconnectDataInterrupt(sci_remote_data_interrupt_t interrupt,
		unsigned int flags, sci_error_t *error);
void SCITriggerDataInterrupt(sci_remote_data_interrupt_t interrupt,
		void *data, unsigned int length, unsigned int flags,
		sci_error_t *error);

/* ---- Registered memory --------------------------------------------------- */

void SCIRegisterSegmentMemory(void *address, size_t size,
		sci_local_segment_t segment, unsigned int flags,
		sci_error_t *error);
/*
 * Device memory (a range of a memory BAR of a function on this node, by
 * its bus address) as the memory of an SCI_FLAG_EMPTY segment. Needs
 * CAP_SYS_RAWIO. SCI_FLAG_CUDA_BUFFER: SCI_ERR_FLAG_NOT_IMPLEMENTED.
 */
void SCIAttachPhysicalMemory(sci_ioaddr_t ioaddress, void *address,
		unsigned int busNo, size_t size, sci_local_segment_t segment,
		unsigned int flags, sci_error_t *error);

/* ---- SmartIO: devices of the fabric -------------------------------------- */

/*
 * SCIBorrowDevice() flags. Without a flag the borrow is shared (other
 * processes, here and on other nodes, may borrow the device too);
 * SCI_FLAG_EXCLUSIVE asks for it alone. SCI_FLAG_SHARED (rsio) says
 * "shared" explicitly.
 */
#define SCI_FLAG_EXCLUSIVE 0x01000000u
#define SCI_FLAG_SHARED 0x00000010u
/*
 * SCIConnectDeviceMemory() flags (the older call): the memory kind behind
 * segmentId. SCI_FLAG_BAR (or no kind): BAR segmentId; SCI_FLAG_PRIVATE:
 * the SCICreateDeviceSegment() segment; SCI_FLAG_SHARED: a shared one.
 */
#define SCI_FLAG_BAR 0x00000020u
/* SCIRegisterPCIeRequester() flag. */
#define SCI_FLAG_PCIE_REQUESTER_GLOBAL 0x00000001u
/* SCICreateDeviceSegment() placement flags (hints). */
#define SCI_FLAG_DEVICE_SIDE_ONLY 0x02001000u
#define SCI_FLAG_LOCAL_ONLY 0x02002000u
#define SCI_FLAG_DEVICE_PREFER_BANDWIDTH 0x04000001u
#define SCI_FLAG_HOST_PREFER_BANDWIDTH 0x04000002u

/* Memory types of SCIConnectDeviceSegment() / SCICreateDeviceSegment(). */
#define SCI_MEMTYPE_BAR 0x00000001u
#define SCI_MEMTYPE_PRIVATE 0x00000002u
#define SCI_MEMTYPE_SHARED 0x00000004u

/* SCICreateDeviceSegment() access hints: who reads and writes the memory. */
#define SCI_MEMACCESS_DEVICE_READ 0x00000001u
#define SCI_MEMACCESS_DEVICE_WRITE 0x00000002u
#define SCI_MEMACCESS_HOST_READ 0x00000004u
#define SCI_MEMACCESS_HOST_WRITE 0x00000008u
#define SCI_MEMACCESS_MULTIHOST_READ (0x00000010u | SCI_MEMACCESS_HOST_READ)
#define SCI_MEMACCESS_MULTIHOST_WRITE (0x00000010u | SCI_MEMACCESS_HOST_WRITE)
#define SCI_MEMACCESS_P2P_READ (0x00000020u | SCI_MEMACCESS_DEVICE_READ)
#define SCI_MEMACCESS_P2P_WRITE (0x00000020u | SCI_MEMACCESS_DEVICE_WRITE)

/* SCIQuery(SCI_Q_DEVICE, sci_smartio_query_device_t *) and its subcommand. */
#define SCI_Q_DEVICE 20u
#define SCI_Q_DEVICE_INFO 1u

/* The devices lent in the cluster that match the non-zero fields of filter
 * (NULL: all); writes up to length fdids, returns how many it wrote. */
size_t SCIGetDeviceList(sci_desc_t sd, uint32_t *fdids, size_t length,
		const sci_smartio_device_info_t *filter, unsigned int flags,
		sci_error_t *error);
void SCIBorrowDevice(sci_desc_t sd, sci_smartio_device_t *device,
		uint32_t fdid, unsigned int flags, sci_error_t *error);
void SCIReturnDevice(sci_smartio_device_t device, unsigned int flags,
		sci_error_t *error);
uint32_t SCIGetFabricDeviceId(sci_smartio_device_t device);
void SCIConnectDeviceSegment(sci_smartio_device_t device,
		sci_remote_segment_t *segment, unsigned int segmentId,
		unsigned int memoryType, sci_cb_remote_segment_t callback,
		void *callbackArg, unsigned int flags, sci_error_t *error);
/* The older call: the memory kind is a flag (SCI_FLAG_BAR, ...); reserved
 * is ignored (programs pass 0). */
void SCIConnectDeviceMemory(sci_desc_t sd, sci_remote_segment_t *segment,
		unsigned int localAdapterNo, sci_smartio_device_t device,
		unsigned int segmentId, unsigned int reserved,
		unsigned int flags, sci_error_t *error);
void SCICreateDeviceSegment(sci_smartio_device_t device,
		unsigned int segmentId, size_t size, unsigned int memoryType,
		unsigned int memoryAccess, unsigned int flags,
		sci_error_t *error);
/*
 * SCIMapLocalSegmentForDevice / SCIMapRemoteSegmentForDevice: makes size
 * bytes (0: to the end of the segment) at offset reachable by the device;
 * *ioaddr is where the device reaches byte offset. Declared under the name
 * they link as (RSIO_SISCI_LINK_NAME) and, for &SCIMap...ForDevice and
 * (SCIMap...ForDevice)(...), which the function-like macros below leave
 * alone, under their plain names, which libsisci exports too.
 */
void (RSIO_SISCI_LINK_NAME(SCIMapLocalSegmentForDevice))(
		sci_local_segment_t segment, unsigned int localAdapterNo,
		sci_smartio_device_t device, sci_ioaddr_t *ioaddr,
		size_t offset, size_t size, unsigned int flags,
		sci_error_t *error);
void SCIUnmapLocalSegmentForDevice(sci_local_segment_t segment,
		unsigned int localAdapterNo, sci_smartio_device_t device,
		unsigned int flags, sci_error_t *error);
void (RSIO_SISCI_LINK_NAME(SCIMapRemoteSegmentForDevice))(
		sci_remote_segment_t segment, sci_smartio_device_t device,
		sci_ioaddr_t *ioaddr, size_t offset, size_t size,
		unsigned int flags, sci_error_t *error);
void SCIUnmapRemoteSegmentForDevice(sci_remote_segment_t segment,
		sci_smartio_device_t device, unsigned int flags,
		sci_error_t *error);
#if RSIO_SISCI_VARIADIC_CALLS && !defined(RSIO_SISCI_PLAIN_NAMES)
void (SCIMapLocalSegmentForDevice)(sci_local_segment_t segment,
		unsigned int localAdapterNo, sci_smartio_device_t device,
		sci_ioaddr_t *ioaddr, size_t offset, size_t size,
		unsigned int flags, sci_error_t *error);
void (SCIMapRemoteSegmentForDevice)(sci_remote_segment_t segment,
		sci_smartio_device_t device, sci_ioaddr_t *ioaddr,
		size_t offset, size_t size, unsigned int flags,
		sci_error_t *error);
#endif
void SCIRegisterPCIeRequester(sci_desc_t sd, unsigned int localAdapterNo,
		unsigned int bus, unsigned int devfn, unsigned int flags,
		sci_error_t *error);
void SCIUnregisterPCIeRequester(sci_desc_t sd, unsigned int localAdapterNo,
		unsigned int bus, unsigned int devfn, unsigned int flags,
		sci_error_t *error);

#if RSIO_SISCI_VARIADIC_CALLS
/*
 * The parameter lists SCIMap{Local,Remote}SegmentForDevice accept, by
 * their number of arguments; each becomes one call of the function above
 * (every argument evaluated once; an expression, usable wherever a call
 * is). Another number of arguments calls the function with them as they
 * are, so the compiler reports the mismatch against its prototype.
 *
 * - local, 8 (current releases; Dolphin's NVMe example):
 *   (segment, localAdapterNo, device, &ioaddr, offset, size, flags, &err)
 * - local, 7 (older releases: ssd-gpu-dma's libnvm, its master branch):
 *   (segment, localAdapterNo, device, &ioaddr, offset, flags, &err),
 *   the whole segment from offset (size 0)
 * - remote, 7 (current): (segment, device, &ioaddr, offset, size, flags, &err)
 * - remote, 6 (older): (segment, device, &ioaddr, offset, flags, &err)
 */
/* The 13th argument: after k arguments, the entry for k of a list of 13
 * for 12, 11, ..., 0 arguments. */
#define RSIO_SISCI_PICK_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, \
		a12, chosen, ...) chosen

#define RSIO_SISCI_MAP_LOCAL_ANY_ RSIO_SISCI_LINK_NAME(SCIMapLocalSegmentForDevice)
#define RSIO_SISCI_MAP_LOCAL_7_(segment, adapter, device, ioaddr, offset, \
		flags, error) \
	RSIO_SISCI_LINK_NAME(SCIMapLocalSegmentForDevice)(segment, adapter, \
		device, ioaddr, offset, 0, flags, error)
#define SCIMapLocalSegmentForDevice(...) \
	RSIO_SISCI_PICK_(__VA_ARGS__, RSIO_SISCI_MAP_LOCAL_ANY_, \
		RSIO_SISCI_MAP_LOCAL_ANY_, RSIO_SISCI_MAP_LOCAL_ANY_, \
		RSIO_SISCI_MAP_LOCAL_ANY_, RSIO_SISCI_MAP_LOCAL_ANY_, \
		RSIO_SISCI_MAP_LOCAL_7_, RSIO_SISCI_MAP_LOCAL_ANY_, \
		RSIO_SISCI_MAP_LOCAL_ANY_, RSIO_SISCI_MAP_LOCAL_ANY_, \
		RSIO_SISCI_MAP_LOCAL_ANY_, RSIO_SISCI_MAP_LOCAL_ANY_, \
		RSIO_SISCI_MAP_LOCAL_ANY_, RSIO_SISCI_MAP_LOCAL_ANY_)(__VA_ARGS__)

#define RSIO_SISCI_MAP_REMOTE_ANY_ RSIO_SISCI_LINK_NAME(SCIMapRemoteSegmentForDevice)
#define RSIO_SISCI_MAP_REMOTE_6_(segment, device, ioaddr, offset, flags, \
		error) \
	RSIO_SISCI_LINK_NAME(SCIMapRemoteSegmentForDevice)(segment, device, \
		ioaddr, offset, 0, flags, error)
#define SCIMapRemoteSegmentForDevice(...) \
	RSIO_SISCI_PICK_(__VA_ARGS__, RSIO_SISCI_MAP_REMOTE_ANY_, \
		RSIO_SISCI_MAP_REMOTE_ANY_, RSIO_SISCI_MAP_REMOTE_ANY_, \
		RSIO_SISCI_MAP_REMOTE_ANY_, RSIO_SISCI_MAP_REMOTE_ANY_, \
		RSIO_SISCI_MAP_REMOTE_ANY_, RSIO_SISCI_MAP_REMOTE_6_, \
		RSIO_SISCI_MAP_REMOTE_ANY_, RSIO_SISCI_MAP_REMOTE_ANY_, \
		RSIO_SISCI_MAP_REMOTE_ANY_, RSIO_SISCI_MAP_REMOTE_ANY_, \
		RSIO_SISCI_MAP_REMOTE_ANY_, RSIO_SISCI_MAP_REMOTE_ANY_)(__VA_ARGS__)
#endif /* RSIO_SISCI_VARIADIC_CALLS */

#ifdef __cplusplus
}
#endif

#endif /* RSIO_SISCI_API_H */
