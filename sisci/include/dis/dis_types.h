/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rsio libsisci: the DIS types SISCI programs include as <dis_types.h>
 * (installed in $PREFIX/include/dis; sisci_types.h includes it too).
 *
 * Written for rsio; the names follow the public SISCI API.
 */
#ifndef RSIO_DIS_TYPES_H
#define RSIO_DIS_TYPES_H

/* Adapters a node may have: the length of the per-adapter lists below
 * (rsio nodes have one adapter, number 0). */
#define DIS_MAX_NSCIS 4

/*
 * The node ids SCIGetNodeIdByAdapterName() returns, one per adapter of the
 * named node; unused entries are 0. Node ids are SISCI's, 4, 8, 12, ...
 * (rsio node n is 4 * (n + 1)), so 0 is never a node: docs/sisci.md,
 * "Node ids".
 */
typedef unsigned int dis_nodeId_list_t[DIS_MAX_NSCIS];

/* The kind of adapter a name resolves to. */
typedef enum {
	DIS_ADAPTER_TYPE_UNKNOWN = 0,
	DIS_ADAPTER_TYPE_RSIO = 0x5210	/* an rsio NTB adapter */
} dis_adapter_type_t;

/* The public API spells the same thing both ways. */
typedef dis_adapter_type_t dis_virt_adapter_t;

#endif /* RSIO_DIS_TYPES_H */
