/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rsio libsisci: SISCI handle types, enums, callback types and structs.
 *
 * Written for rsio. The names follow the public SISCI API so SISCI programs
 * compile unchanged; every handle is an opaque pointer owned by libsisci.
 */
#ifndef RSIO_SISCI_TYPES_H
#define RSIO_SISCI_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "sisci_error.h"
/* Found beside this header whatever the include path (programs add
 * include/dis to it to include <dis_types.h> themselves). */
#include "dis/dis_types.h"

#ifndef IN
#define IN
#endif
#ifndef OUT
#define OUT
#endif
#ifndef IN_OUT
#define IN_OUT
#endif

typedef struct sci_desc *sci_desc_t;
typedef struct sci_local_segment *sci_local_segment_t;
typedef struct sci_remote_segment *sci_remote_segment_t;
typedef struct sci_map *sci_map_t;
typedef struct sci_sequence *sci_sequence_t;
typedef struct sci_dma_queue *sci_dma_queue_t;
typedef struct sci_dma_channel *sci_dma_channel_t;
typedef struct sci_local_interrupt *sci_local_interrupt_t;
typedef struct sci_remote_interrupt *sci_remote_interrupt_t;
typedef struct sci_local_data_interrupt *sci_local_data_interrupt_t;
typedef struct sci_remote_data_interrupt *sci_remote_data_interrupt_t;
typedef struct sci_block_transfer *sci_block_transfer_t;

typedef uint64_t sci_ioaddr_t;

/* Why a segment callback runs / what SCIWaitFor*SegmentEvent returns. */
typedef enum {
	SCI_CB_CONNECT = 1,
	SCI_CB_DISCONNECT,
	SCI_CB_NOT_OPERATIONAL,
	SCI_CB_OPERATIONAL,
	SCI_CB_LOST
} sci_segment_cb_reason_t;

#define MAX_CB_REASON SCI_CB_LOST

typedef enum {
	SCI_DMAQUEUE_IDLE,
	SCI_DMAQUEUE_GATHER,
	SCI_DMAQUEUE_POSTED,
	SCI_DMAQUEUE_DONE,
	SCI_DMAQUEUE_ABORTED,
	SCI_DMAQUEUE_ERROR
} sci_dma_queue_state_t;

typedef enum {
	SCI_SEQ_OK,
	SCI_SEQ_RETRIABLE,
	SCI_SEQ_NOT_RETRIABLE,
	SCI_SEQ_PENDING
} sci_sequence_status_t;

typedef enum {
	SCI_CALLBACK_CANCEL = 1,
	SCI_CALLBACK_CONTINUE
} sci_callback_action_t;

typedef enum {
	SCI_DMA_TYPE_DONTCARE = 1,
	SCI_DMA_TYPE_ADAPTER,
	SCI_DMA_TYPE_GLOBAL,
	SCI_DMA_TYPE_SYSTEM,
	SCI_DMA_TYPE_TRANSPARENT
} sci_dma_type_t;

/* Most elements of one SCIStartDmaTransferVec() (SISCI_MAX_DMA_ENTRIES). */
#define DIS_DMA_MAX_VECLEN 256

/* One element of SCIStartDmaTransferVec(). */
typedef struct {
	size_t size;
	size_t local_offset;
	size_t remote_offset;
	unsigned int flags;
} dis_dma_vec_t;

typedef dis_dma_vec_t sci_dma_vec_t;

typedef sci_callback_action_t (*sci_cb_local_segment_t)(void *arg,
		sci_local_segment_t segment, sci_segment_cb_reason_t reason,
		unsigned int nodeId, unsigned int localAdapterNo,
		sci_error_t error);

typedef sci_callback_action_t (*sci_cb_remote_segment_t)(void *arg,
		sci_remote_segment_t segment, sci_segment_cb_reason_t reason,
		sci_error_t status);

typedef sci_callback_action_t (*sci_cb_dma_t)(void *arg,
		sci_dma_queue_t queue, sci_error_t status);

typedef int (*sci_cb_block_transfer_t)(void *arg,
		sci_block_transfer_t block, sci_error_t status);

typedef sci_callback_action_t (*sci_cb_interrupt_t)(void *arg,
		sci_local_interrupt_t interrupt, sci_error_t status);

typedef sci_callback_action_t (*sci_cb_data_interrupt_t)(void *arg,
		sci_local_data_interrupt_t interrupt, void *data,
		unsigned int length, sci_error_t status);

/* SCIQuery() arguments. */
typedef struct {
	char *str;
	unsigned int length;
} sci_query_string_t;

typedef struct {
	unsigned int localAdapterNo;
	unsigned int portNo;
	unsigned int subcommand;
	void *data;
} sci_query_adapter_t;

typedef struct {
	unsigned int subcommand;
	void *data;
} sci_query_system_t;

typedef struct {
	sci_local_segment_t segment;
	unsigned int subcommand;
	union {
		sci_ioaddr_t ioaddr;
	} data;
} sci_query_local_segment_t;

typedef struct {
	sci_remote_segment_t segment;
	unsigned int subcommand;
	union {
		sci_ioaddr_t ioaddr;
	} data;
} sci_query_remote_segment_t;

typedef struct {
	sci_map_t map;
	unsigned int subcommand;
	unsigned int data;
} sci_query_map_t;

/* ---- SmartIO: devices of the fabric (SCIBorrowDevice, ...) -------------- */

/* A device borrowed by this process; sci_device_t is the older name. */
typedef struct sci_smartio_device *sci_smartio_device_t;
typedef sci_smartio_device_t sci_device_t;

#define SCI_SMARTIO_USER_NAME_LEN 64

/*
 * A lent device, as SCIQuery(SCI_Q_DEVICE, SCI_Q_DEVICE_INFO) reports it
 * and as SCIGetDeviceList() filters: there every field that is 0 (an
 * empty user_name) matches any device. sci_dev_info_t is the older name.
 */
typedef struct {
	uint32_t fdid;			/* fabric device id: (lender's rsio number) << 16 | index */
	unsigned int adapter;		/* local adapter that reaches it: 0 */
	uint32_t pci_class;		/* class code, 24 bits (0x010802: NVMe) */
	uint16_t pci_vendor_id;
	uint16_t pci_device_id;
	uint16_t pci_subsystem_vendor_id;
	uint16_t pci_subsystem_id;
	/* The node that lends it (its SISCI node id, 4 * (rsio node + 1));
	 * nodeid is the name SISCI 5.11 programs use. */
#if defined(__cplusplus) || \
	(defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L)
	union {
		unsigned int lender_node;
		unsigned int nodeid;
	};
#elif defined(__GNUC__)
	__extension__ union {
		unsigned int lender_node;
		unsigned int nodeid;
	};
#else
	unsigned int lender_node;
#endif
	uint32_t bdf;			/* older field: its bus << 8 | devfn there */
	char user_name[SCI_SMARTIO_USER_NAME_LEN]; /* "node N DDDD:BB:DD.F", N as lender_node */
} sci_smartio_device_info_t;

typedef sci_smartio_device_info_t sci_dev_info_t;

/*
 * The argument of SCIQuery(SCI_Q_DEVICE, ...); sci_query_dev_t is the
 * older name, global_devid the older name of fdid.
 */
typedef struct {
#if defined(__cplusplus) || \
	(defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L)
	union {
		uint32_t fdid;
		uint32_t global_devid;
	};
#elif defined(__GNUC__)
	__extension__ union {
		uint32_t fdid;
		uint32_t global_devid;
	};
#else
	uint32_t fdid;
#endif
	unsigned int subcommand;	/* SCI_Q_DEVICE_INFO */
	void *data;			/* sci_smartio_device_info_t * */
} sci_smartio_query_device_t;

typedef sci_smartio_query_device_t sci_query_dev_t;

#endif /* RSIO_SISCI_TYPES_H */
