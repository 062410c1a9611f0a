/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * rsio user-space ABI: the C view of uapi/src/abi.rs and, for rsio_nvme_share
 * and rsio_lend, uapi/src/nvme_share.rs and uapi/src/lend.rs (which are the
 * source of truth; tests compile this header and check they agree).
 *
 * Every argument struct starts with struct rsio_arg_header. The kernel
 * rejects a header whose size differs from the ioctl number's size or is
 * smaller than the ioctl's first version (EINVAL), a larger struct whose
 * unknown tail is not zero (E2BIG), and undefined flags (EINVAL). Unknown
 * ioctl numbers get ENOTTY.
 */
#ifndef _UAPI_RSIO_H
#define _UAPI_RSIO_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define RSIO_IOC_MAGIC 0xD1
#define RSIO_ABI_MAJOR 1
#define RSIO_ABI_MINOR 0
#define RSIO_DEVICE_PATH "/dev/rsio"

/* The largest argument struct (and list element) the kernel looks at. */
#define RSIO_MAX_ARG_SIZE 4096

/**
 * struct rsio_arg_header - first member of every rsio ioctl argument
 * @size:  size of the whole struct as the caller knows it
 * @flags: per-ioctl request flags; undefined bits must be zero
 */
struct rsio_arg_header {
	__u32 size;
	__u32 flags;
};

#define RSIO_FEATURE_FABRIC (1ULL << 0)

#define RSIO_RELEASE_LEN 32
#define RSIO_KERNEL_RELEASE_LEN 72
#define RSIO_VERSION_SIZE_V1 128

/**
 * struct rsio_version - argument of RSIO_IOC_VERSION
 * @header:         in: size = sizeof(struct rsio_version), flags = 0
 * @abi_major:      out: RSIO_ABI_MAJOR of the kernel side
 * @abi_minor:      out: RSIO_ABI_MINOR of the kernel side
 * @features:       out: RSIO_FEATURE_* bits of the loaded modules
 * @release:        out: the modules' release, NUL-terminated
 * @kernel_release: out: the running kernel's release, NUL-terminated
 */
struct rsio_version {
	struct rsio_arg_header header;
	__u32 abi_major;
	__u32 abi_minor;
	__u64 features;
	char release[RSIO_RELEASE_LEN];
	char kernel_release[RSIO_KERNEL_RELEASE_LEN];
};

#define RSIO_IOC_VERSION _IOWR(RSIO_IOC_MAGIC, 0x00, struct rsio_version)

/*
 * The fabric core's ioctls (RSIO_FEATURE_FABRIC).
 *
 * VERSION, STATUS, NODES, WINDOWS and PING need only an open /dev/rsio;
 * GRANT, REVOKE, MAP, UNMAP and WINDOW_IO also need CAP_SYS_ADMIN (EPERM
 * otherwise). Windows created through a file belong to it: closing the file
 * revokes its grants and removes its mappings. docs/abi.md lists every
 * ioctl's errors.
 */

#define RSIO_NAME_LEN 64
#define RSIO_ADAPTER_NAME_LEN 32
/* Highest node id + 1 the ABI can express. */
#define RSIO_MAX_NODES 16

/* struct rsio_status.transport */
#define RSIO_TRANSPORT_NONE 0
#define RSIO_TRANSPORT_ADAPTER 1
#define RSIO_TRANSPORT_NTB 2

/**
 * struct rsio_status - argument of RSIO_IOC_STATUS: this node's view of the fabric
 * @header:        in: size = sizeof(struct rsio_status), flags = 0
 * @transport:     out: RSIO_TRANSPORT_*
 * @node_id:       out: this node's fabric node id (undefined without a transport)
 * @num_nodes:     out: nodes in the fabric (ids 0..num_nodes-1)
 * @link_mask:     out: bit n: the link to node n is up
 * @up_mask:       out: bit n: node n's core answered our hello and is alive
 * @proto_version: out: the message protocol version this core speaks
 * @caps:          out: adapter CAPS bits (docs/adapter.md 4.1), 0 for ntb
 * @heartbeat_ms:  out: heartbeat period, ms
 * @dead_after_ms: out: a silent peer is declared dead after this many ms
 * @lut_total:     out: outbound translation entries (LUT slots) the core may use
 * @lut_used:      out: of which in use
 * @inbound_total: out: inbound windows the core may use
 * @inbound_used:  out: of which in use
 * @reserved:      zero
 * @msgs_tx:       out: messages sent
 * @msgs_rx:       out: messages received and accepted
 * @msgs_bad:      out: messages received and rejected
 * @timeouts:      out: requests that timed out
 * @refused:       out: peer accesses to this node refused by its inbound checks
 * @errors:        out: errors the adapter flagged
 * @adapter:       out: the adapter's PCI name, NUL-terminated
 * @node_name:     out: this node's name (hostname), NUL-terminated
 */
struct rsio_status {
	struct rsio_arg_header header;
	__u32 transport;
	__u32 node_id;
	__u32 num_nodes;
	__u32 link_mask;
	__u32 up_mask;
	__u32 proto_version;
	__u32 caps;
	__u32 heartbeat_ms;
	__u32 dead_after_ms;
	__u32 lut_total;
	__u32 lut_used;
	__u32 inbound_total;
	__u32 inbound_used;
	__u32 reserved;
	__u64 msgs_tx;
	__u64 msgs_rx;
	__u64 msgs_bad;
	__u64 timeouts;
	__u64 refused;
	__u64 errors;
	char adapter[RSIO_ADAPTER_NAME_LEN];
	char node_name[RSIO_NAME_LEN];
};

#define RSIO_STATUS_SIZE_V1 208

/**
 * struct rsio_list - argument of the listing ioctls (RSIO_IOC_NODES, RSIO_IOC_WINDOWS)
 * @header:     in: size = sizeof(struct rsio_list), flags = 0
 * @entries:    in: user address of the element array (may be 0 if @capacity is 0)
 * @capacity:   in: elements the array holds, at most RSIO_MAX_LIST
 * @entry_size: in: size of one element as the caller knows it: at least the
 *              element's first version, at most RSIO_MAX_ARG_SIZE
 * @count:      out: elements that exist; min(@count, @capacity) were
 *              written, each @entry_size bytes (zero beyond what the kernel
 *              knows). Call with @capacity = 0 to size the array, then with
 *              room to spare: the list can grow in between.
 * @reserved:   zero
 */
struct rsio_list {
	struct rsio_arg_header header;
	__u64 entries;
	__u32 capacity;
	__u32 entry_size;
	__u32 count;
	__u32 reserved;
};

#define RSIO_LIST_SIZE_V1 32
#define RSIO_MAX_LIST 1024

/* struct rsio_node_entry.state */
#define RSIO_NODE_SELF 5
#define RSIO_NODE_DOWN 1
#define RSIO_NODE_HELLO 2
#define RSIO_NODE_UP 3
#define RSIO_NODE_DEAD 4

/* struct rsio_node_entry.caps */
#define RSIO_PEER_CAP_GRANTS (1U << 0)

/**
 * struct rsio_node_entry - one element of RSIO_IOC_NODES: a node of the fabric
 * @node_id:       fabric node id
 * @state:         RSIO_NODE_*
 * @link_up:       the link to it is up (1) or not (0); 1 for this node
 * @proto_version: protocol version from its hello (0 before)
 * @caps:          capability bits from its hello (RSIO_PEER_CAP_*)
 * @up_count:      how many times it came up since this core started
 * @up_ms:         ms since it came up (0 unless RSIO_NODE_UP)
 * @last_heard_ms: ms since a message or heartbeat from it was last seen
 *                 (~0ULL: never)
 * @msgs_tx:       messages sent to it
 * @msgs_rx:       messages received from it and accepted
 * @name:          its node name from its hello, NUL-terminated
 */
struct rsio_node_entry {
	__u32 node_id;
	__u32 state;
	__u32 link_up;
	__u32 proto_version;
	__u32 caps;
	__u32 up_count;
	__u64 up_ms;
	__u64 last_heard_ms;
	__u64 msgs_tx;
	__u64 msgs_rx;
	char name[RSIO_NAME_LEN];
};

#define RSIO_NODE_ENTRY_SIZE_V1 120

/* struct rsio_window_entry.kind */
#define RSIO_WINDOW_MAP 1
#define RSIO_WINDOW_GRANT 2
#define RSIO_WINDOW_MAILBOX 3

/**
 * struct rsio_window_entry - one element of RSIO_IOC_WINDOWS: a mapping or a grant
 * @id:          its id (what UNMAP/REVOKE/WINDOW_IO take); 0 for the mailbox
 * @kind:        RSIO_WINDOW_*
 * @node:        MAP: the peer node; GRANT/MAILBOX: this node
 * @peers:       GRANT/MAILBOX: the nodes allowed (bit n: node n); MAP: 0
 * @refcount:    MAP: handles sharing the translation (1 + other maps inside it)
 * @owner_pid:   the pid of the process that created it (0: the kernel)
 * @fabric_addr: MAP: the address in the peer's space; GRANT: what peers pass
 *               to RSIO_IOC_MAP
 * @size:        size in bytes
 * @bus_addr:    local bus address: MAP: where local devices and the CPU reach
 *               the peer memory; GRANT: the local memory peers reach
 * @hw_index:    MAP: first outbound translation entry (LUT slot); GRANT: the
 *               inbound window index
 * @hw_count:    MAP: translation entries used; GRANT: 1
 */
struct rsio_window_entry {
	__u32 id;
	__u32 kind;
	__u32 node;
	__u32 peers;
	__u32 refcount;
	__u32 owner_pid;
	__u64 fabric_addr;
	__u64 size;
	__u64 bus_addr;
	__u32 hw_index;
	__u32 hw_count;
};

#define RSIO_WINDOW_ENTRY_SIZE_V1 56

#define RSIO_PING_MAX_PAYLOAD 200
#define RSIO_PING_MAX_COUNT 10000
#define RSIO_MAX_TIMEOUT_MS 60000
#define RSIO_DEFAULT_TIMEOUT_MS 1000

/**
 * struct rsio_ping - argument of RSIO_IOC_PING: message round trips with a peer's core
 * @header:      in: size = sizeof(struct rsio_ping), flags = 0
 * @node:        in: the peer (this node: EINVAL; not up: EHOSTUNREACH)
 * @count:       in: round trips, 1..RSIO_PING_MAX_COUNT
 * @payload_len: in: payload bytes per message, 0..RSIO_PING_MAX_PAYLOAD
 *               (the peer echoes it; a mismatch is EIO)
 * @timeout_ms:  in: per round trip, 0..RSIO_MAX_TIMEOUT_MS (0: the default,
 *               RSIO_DEFAULT_TIMEOUT_MS)
 * @rtt_min_ns:  out: fastest round trip, ns
 * @rtt_avg_ns:  out: mean round trip, ns
 * @rtt_max_ns:  out: slowest round trip, ns
 */
struct rsio_ping {
	struct rsio_arg_header header;
	__u32 node;
	__u32 count;
	__u32 payload_len;
	__u32 timeout_ms;
	__u64 rtt_min_ns;
	__u64 rtt_avg_ns;
	__u64 rtt_max_ns;
};

#define RSIO_PING_SIZE_V1 48

/* The largest grant or mapping, and their granularity. */
#define RSIO_MAX_WINDOW_SIZE (64ULL << 20)
#define RSIO_WINDOW_ALIGN 4096ULL

/**
 * struct rsio_grant - argument of RSIO_IOC_GRANT (admin): local memory peers may reach
 * @header:      in: size = sizeof(struct rsio_grant), flags = 0
 * @peers:       in: bit n lets node n in (not 0, only fabric nodes other
 *               than this one)
 * @id:          out: the grant's id
 * @len:         in: bytes, a multiple of RSIO_WINDOW_ALIGN, at most
 *               RSIO_MAX_WINDOW_SIZE; the memory starts zeroed
 * @fabric_addr: out: the fabric address peers pass to RSIO_IOC_MAP
 * @bus_addr:    out: the local bus address of the memory
 */
struct rsio_grant {
	struct rsio_arg_header header;
	__u32 peers;
	__u32 id;
	__u64 len;
	__u64 fabric_addr;
	__u64 bus_addr;
};

#define RSIO_GRANT_SIZE_V1 40

/**
 * struct rsio_id - argument of the ioctls naming one window (RSIO_IOC_REVOKE, RSIO_IOC_UNMAP)
 * @header:   in: size = sizeof(struct rsio_id), flags = 0
 * @id:       in: the id (ENOENT if this file holds no such window of that kind)
 * @reserved: zero
 */
struct rsio_id {
	struct rsio_arg_header header;
	__u32 id;
	__u32 reserved;
};

#define RSIO_ID_SIZE_V1 16

/**
 * struct rsio_map - argument of RSIO_IOC_MAP (admin): reach peer memory
 * @header:      in: size = sizeof(struct rsio_map), flags = 0
 * @node:        in: the peer node (not this one)
 * @id:          out: the mapping's id
 * @fabric_addr: in: fabric address in the peer's space (from its grant),
 *               plus an offset; RSIO_WINDOW_ALIGN aligned
 * @len:         in: bytes, a multiple of RSIO_WINDOW_ALIGN, at most
 *               RSIO_MAX_WINDOW_SIZE
 * @bus_addr:    out: the local bus address where the CPU and local devices
 *               reach it
 */
struct rsio_map {
	struct rsio_arg_header header;
	__u32 node;
	__u32 id;
	__u64 fabric_addr;
	__u64 len;
	__u64 bus_addr;
};

#define RSIO_MAP_SIZE_V1 40

/* struct rsio_window_io flags: write the buffer into the window (else read). */
#define RSIO_IO_WRITE (1U << 0)
/* The largest struct rsio_window_io.len. */
#define RSIO_MAX_IO (1ULL << 20)

/**
 * struct rsio_window_io - argument of RSIO_IOC_WINDOW_IO (admin): CPU access to a window
 * @header:   in: size = sizeof(struct rsio_window_io), flags: RSIO_IO_WRITE or 0
 * @id:       in: a window of this file (a mapping: through the fabric; a
 *            grant: the local memory)
 * @reserved: zero
 * @offset:   in: byte offset in the window
 * @len:      in: bytes, 1..RSIO_MAX_IO, @offset + @len inside the window;
 *            mappings move 4-byte words: @offset and @len multiples of 4
 * @buf:      in: user buffer address
 */
struct rsio_window_io {
	struct rsio_arg_header header;
	__u32 id;
	__u32 reserved;
	__u64 offset;
	__u64 len;
	__u64 buf;
};

#define RSIO_WINDOW_IO_SIZE_V1 40

#define RSIO_IOC_STATUS _IOWR(RSIO_IOC_MAGIC, 0x01, struct rsio_status)
#define RSIO_IOC_NODES _IOWR(RSIO_IOC_MAGIC, 0x02, struct rsio_list)
#define RSIO_IOC_WINDOWS _IOWR(RSIO_IOC_MAGIC, 0x03, struct rsio_list)
#define RSIO_IOC_PING _IOWR(RSIO_IOC_MAGIC, 0x04, struct rsio_ping)
#define RSIO_IOC_GRANT _IOWR(RSIO_IOC_MAGIC, 0x05, struct rsio_grant)
#define RSIO_IOC_REVOKE _IOWR(RSIO_IOC_MAGIC, 0x06, struct rsio_id)
#define RSIO_IOC_MAP _IOWR(RSIO_IOC_MAGIC, 0x07, struct rsio_map)
#define RSIO_IOC_UNMAP _IOWR(RSIO_IOC_MAGIC, 0x08, struct rsio_id)
#define RSIO_IOC_WINDOW_IO _IOWR(RSIO_IOC_MAGIC, 0x09, struct rsio_window_io)

_Static_assert(sizeof(struct rsio_arg_header) == 8, "rsio_arg_header size");
_Static_assert(sizeof(struct rsio_version) == RSIO_VERSION_SIZE_V1, "rsio_version size");
_Static_assert(sizeof(struct rsio_status) == RSIO_STATUS_SIZE_V1, "rsio_status size");
_Static_assert(sizeof(struct rsio_list) == RSIO_LIST_SIZE_V1, "rsio_list size");
_Static_assert(sizeof(struct rsio_node_entry) == RSIO_NODE_ENTRY_SIZE_V1, "rsio_node_entry size");
_Static_assert(sizeof(struct rsio_window_entry) == RSIO_WINDOW_ENTRY_SIZE_V1,
	       "rsio_window_entry size");
_Static_assert(sizeof(struct rsio_ping) == RSIO_PING_SIZE_V1, "rsio_ping size");
_Static_assert(sizeof(struct rsio_grant) == RSIO_GRANT_SIZE_V1, "rsio_grant size");
_Static_assert(sizeof(struct rsio_id) == RSIO_ID_SIZE_V1, "rsio_id size");
_Static_assert(sizeof(struct rsio_map) == RSIO_MAP_SIZE_V1, "rsio_map size");
_Static_assert(sizeof(struct rsio_window_io) == RSIO_WINDOW_IO_SIZE_V1, "rsio_window_io size");

/*
 * rsio_nvme_share: one NVMe controller shared by several nodes without
 * SR-IOV (docs/nvme-share.md). The C view of uapi/src/nvme_share.rs, whose
 * names lose the RSIO_/rsio_ prefix (NVME_IOC_SHARE, struct NvmeShare).
 *
 * Feature ioctls of /dev/rsio (numbers RSIO_NVME_IOC_FIRST_NR and the
 * RSIO_NVME_IOC_COUNT - 1 after it), served while rsio_nvme_share is loaded
 * (ENOTTY otherwise). The lists need only an open /dev/rsio; SHARE, UNSHARE,
 * ATTACH and DETACH also need CAP_SYS_ADMIN (EPERM before the argument is
 * read). A shared controller is named on the fabric by
 * ctrl = manager node << 16 | index (index unique on the manager, never 0).
 */

#define RSIO_NVME_IOC_FIRST_NR 0x70
#define RSIO_NVME_IOC_COUNT 8

/* Namespace policies one struct rsio_nvme_share may set. */
#define RSIO_NVME_MAX_POLICIES 16
/* Namespaces of one controller that can be used (more are listed as unusable). */
#define RSIO_NVME_MAX_NAMESPACES 32
/* Queue pairs one client may hold on one controller. */
#define RSIO_NVME_MAX_CLIENT_QPAIRS 16

/* struct rsio_nvme_policy.kind */
#define RSIO_NVME_POLICY_SHARED 0
#define RSIO_NVME_POLICY_ASSIGNED 1
/* struct rsio_nvme_policy.flags: read-only, writes are refused */
#define RSIO_NVME_POLICY_RO (1U << 0)

/**
 * struct rsio_nvme_policy - one namespace's policy
 * @nsid:  the namespace id (1..)
 * @kind:  RSIO_NVME_POLICY_SHARED (every attached node gets a disk; no cache
 *         coherence between nodes) or RSIO_NVME_POLICY_ASSIGNED (only @node)
 * @node:  ASSIGNED: the node it is assigned to; else zero
 * @flags: RSIO_NVME_POLICY_RO
 */
struct rsio_nvme_policy {
	__u32 nsid;
	__u32 kind;
	__u32 node;
	__u32 flags;
};

/**
 * struct rsio_nvme_share - argument of RSIO_NVME_IOC_SHARE and RSIO_NVME_IOC_UNSHARE
 * @header:            in: size = sizeof(struct rsio_nvme_share), flags:
 *                     RSIO_NVME_SHARE_FORCE (both)
 * @domain:            in: PCI domain, at most 0xffff
 * @bus:               in: bus number, at most 0xff
 * @devfn:             in: device << 3 | function, at most 0xff
 * @qpairs_per_client: in (SHARE): queue pairs one client may hold,
 *                     1..RSIO_NVME_MAX_CLIENT_QPAIRS (0: the default, 4);
 *                     UNSHARE: zero
 * @n_policies:        in (SHARE): entries of @policies used (namespaces not
 *                     named are SHARED); UNSHARE: zero
 * @ctrl:              in: zero; out: the controller's fabric name
 * @policies:          in: the namespace policies
 */
struct rsio_nvme_share {
	struct rsio_arg_header header;
	__u32 domain;
	__u32 bus;
	__u32 devfn;
	__u32 qpairs_per_client;
	__u32 n_policies;
	__u32 ctrl;
	struct rsio_nvme_policy policies[RSIO_NVME_MAX_POLICIES];
};

#define RSIO_NVME_SHARE_SIZE_V1 288

/*
 * SHARE flag: share it even though this node uses it (its block devices
 * vanish as on a surprise removal). UNSHARE flag: revoke it from attached
 * clients (their disks fail I/O).
 */
#define RSIO_NVME_SHARE_FORCE (1U << 0)

/* struct rsio_nvme_ctrl_entry.state */
#define RSIO_NVME_CTRL_READY 1
#define RSIO_NVME_CTRL_RESETTING 2
#define RSIO_NVME_CTRL_FAILED 3
#define RSIO_NVME_CTRL_GONE 4

/* struct rsio_nvme_ctrl_entry.flags */
#define RSIO_NVME_CTRL_MANAGED_HERE (1U << 0)
#define RSIO_NVME_CTRL_ATTACHED_HERE (1U << 1)
#define RSIO_NVME_CTRL_IOMMU (1U << 2)

#define RSIO_NVME_SERIAL_LEN 20
#define RSIO_NVME_MODEL_LEN 40

/**
 * struct rsio_nvme_ctrl_entry - one element of RSIO_NVME_IOC_LIST: a
 * controller this node manages or a peer announced
 * @node:         the managing node
 * @ctrl:         the controller's fabric name
 * @domain:       its PCI domain on the manager
 * @bus:          its bus number on the manager
 * @devfn:        its devfn on the manager
 * @state:        RSIO_NVME_CTRL_READY, _RESETTING, _FAILED, _GONE
 * @flags:        RSIO_NVME_CTRL_MANAGED_HERE, _ATTACHED_HERE, _IOMMU
 * @generation:   reset generation (clients re-create their queues when it changes)
 * @qpairs_total: I/O queue pairs the controller gave the manager
 * @qpairs_free:  of those, not held by a client
 * @quota:        queue pairs one client may hold
 * @namespaces:   namespaces (Identify NN)
 * @clients:      clients attached (known on the manager; elsewhere 0 or 1)
 * @msgs_bad:     malformed fabric requests received for it (manager)
 * @msgs_refused: well-formed requests refused (manager)
 * @reserved:     zero
 * @serial:       serial number (ASCII, space padded, not NUL-terminated)
 * @model:        model number (ASCII, space padded, not NUL-terminated)
 */
struct rsio_nvme_ctrl_entry {
	__u32 node;
	__u32 ctrl;
	__u32 domain;
	__u32 bus;
	__u32 devfn;
	__u32 state;
	__u32 flags;
	__u32 generation;
	__u32 qpairs_total;
	__u32 qpairs_free;
	__u32 quota;
	__u32 namespaces;
	__u32 clients;
	__u32 msgs_bad;
	__u32 msgs_refused;
	__u32 reserved;
	char serial[RSIO_NVME_SERIAL_LEN];
	char model[RSIO_NVME_MODEL_LEN];
};

#define RSIO_NVME_CTRL_ENTRY_SIZE_V1 124

/* struct rsio_nvme_ns_entry.access: what this node may do with the namespace */
#define RSIO_NVME_ACCESS_NONE 0
#define RSIO_NVME_ACCESS_RO 1
#define RSIO_NVME_ACCESS_RW 2

#define RSIO_NVME_DISK_NAME_LEN 32

/**
 * struct rsio_nvme_ns_entry - one element of RSIO_NVME_IOC_LIST_NS: a
 * namespace of a controller in RSIO_NVME_IOC_LIST
 * @ctrl:         the controller's fabric name
 * @nsid:         the namespace id
 * @nsze:         size in logical blocks
 * @lbads:        log2 of the logical block size
 * @policy:       RSIO_NVME_POLICY_SHARED or _ASSIGNED
 * @policy_node:  ASSIGNED: the node
 * @policy_flags: RSIO_NVME_POLICY_RO
 * @access:       RSIO_NVME_ACCESS_*
 * @reserved:     zero
 * @disk:         this node's block device for it (rsio_nvme1_1n1),
 *                NUL-terminated; empty when none
 */
struct rsio_nvme_ns_entry {
	__u32 ctrl;
	__u32 nsid;
	__u64 nsze;
	__u32 lbads;
	__u32 policy;
	__u32 policy_node;
	__u32 policy_flags;
	__u32 access;
	__u32 reserved;
	char disk[RSIO_NVME_DISK_NAME_LEN];
};

#define RSIO_NVME_NS_ENTRY_SIZE_V1 72

/**
 * struct rsio_nvme_client_entry - one element of RSIO_NVME_IOC_LIST_CLIENTS:
 * an attachment (the manager lists every client of its controllers,
 * another node its own)
 * @ctrl:      the controller's fabric name
 * @client:    the client node
 * @attach:    the attachment's id (unique per controller)
 * @qpairs:    queue pairs granted
 * @qids:      bit q - 1: I/O queue pair q (1..64) is the client's
 * @created:   queue pairs the controller has created for it
 * @vectors:   remote-interrupt vectors its completions raise on the client
 * @completed: requests completed (client; 0 on the manager)
 * @bad_cqes:  completion entries ignored as stale or malformed (client)
 * @reserved:  zero
 */
struct rsio_nvme_client_entry {
	__u32 ctrl;
	__u32 client;
	__u32 attach;
	__u32 qpairs;
	__u64 qids;
	__u32 created;
	__u32 vectors;
	__u64 completed;
	__u32 bad_cqes;
	__u32 reserved;
};

#define RSIO_NVME_CLIENT_ENTRY_SIZE_V1 48

/**
 * struct rsio_nvme_attach - argument of RSIO_NVME_IOC_ATTACH and RSIO_NVME_IOC_DETACH
 * @header:   in: size = sizeof(struct rsio_nvme_attach), flags:
 *            RSIO_NVME_ATTACH_RO (ATTACH), RSIO_NVME_DETACH_FORCE (DETACH)
 * @node:     in: the managing node
 * @ctrl:     in: the controller's fabric name (its node part is @node)
 * @qpairs:   in (ATTACH): queue pairs wanted, 0..RSIO_NVME_MAX_CLIENT_QPAIRS
 *            (0: the quota); DETACH: zero
 * @nsid:     in (ATTACH): the one namespace wanted (0: every one this node
 *            may use); DETACH: zero
 * @attach:   out: the attachment's id; zero in
 * @granted:  out: queue pairs granted; zero in
 * @disks:    out: block devices made; zero in
 * @reserved: zero
 */
struct rsio_nvme_attach {
	struct rsio_arg_header header;
	__u32 node;
	__u32 ctrl;
	__u32 qpairs;
	__u32 nsid;
	__u32 attach;
	__u32 granted;
	__u32 disks;
	__u32 reserved;
};

#define RSIO_NVME_ATTACH_SIZE_V1 40

/* ATTACH flag: read-only disks. */
#define RSIO_NVME_ATTACH_RO (1U << 0)
/* DETACH flag: detach even while a disk is open or mounted (its I/O fails). */
#define RSIO_NVME_DETACH_FORCE (1U << 0)

#define RSIO_NVME_IOC_SHARE _IOWR(RSIO_IOC_MAGIC, 0x70, struct rsio_nvme_share)
#define RSIO_NVME_IOC_UNSHARE _IOWR(RSIO_IOC_MAGIC, 0x71, struct rsio_nvme_share)
#define RSIO_NVME_IOC_LIST _IOWR(RSIO_IOC_MAGIC, 0x72, struct rsio_list)
#define RSIO_NVME_IOC_LIST_NS _IOWR(RSIO_IOC_MAGIC, 0x73, struct rsio_list)
#define RSIO_NVME_IOC_LIST_CLIENTS _IOWR(RSIO_IOC_MAGIC, 0x74, struct rsio_list)
#define RSIO_NVME_IOC_ATTACH _IOWR(RSIO_IOC_MAGIC, 0x75, struct rsio_nvme_attach)
#define RSIO_NVME_IOC_DETACH _IOWR(RSIO_IOC_MAGIC, 0x76, struct rsio_nvme_attach)

_Static_assert(sizeof(struct rsio_nvme_policy) == 16, "rsio_nvme_policy size");
_Static_assert(sizeof(struct rsio_nvme_share) == RSIO_NVME_SHARE_SIZE_V1, "rsio_nvme_share size");
_Static_assert(sizeof(struct rsio_nvme_ctrl_entry) == RSIO_NVME_CTRL_ENTRY_SIZE_V1,
	       "rsio_nvme_ctrl_entry size");
_Static_assert(sizeof(struct rsio_nvme_ns_entry) == RSIO_NVME_NS_ENTRY_SIZE_V1,
	       "rsio_nvme_ns_entry size");
_Static_assert(sizeof(struct rsio_nvme_client_entry) == RSIO_NVME_CLIENT_ENTRY_SIZE_V1,
	       "rsio_nvme_client_entry size");
_Static_assert(sizeof(struct rsio_nvme_attach) == RSIO_NVME_ATTACH_SIZE_V1, "rsio_nvme_attach size");

/*
 * rsio_lend: device lending and expansion chassis (docs/lending.md,
 * docs/abi.md). The C view of uapi/src/lend.rs, whose names lose the
 * RSIO_/rsio_ prefix (LEND_IOC_SCAN, struct LendChassisEntry).
 *
 * Ioctls of rsio_lend's own device, RSIO_LEND_DEVICE_PATH (not /dev/rsio),
 * with the same type byte and conventions. LEND, UNLEND, BORROW, RETURN,
 * P2P, SCAN, ATTACH and DETACH need CAP_SYS_ADMIN (EPERM before the
 * argument is read); LIST any opener. A lent device is named on the fabric
 * by fdid = lender node << 16 | index (index never 0); a function in an
 * expansion chassis by fdid = chassis node << 16 | bus << 8 | devfn (bus
 * never 0).
 */

#define RSIO_LEND_DEVICE_PATH "/dev/rsio_lend"

/* Standard BARs of a function. */
#define RSIO_LEND_NUM_BARS 6

/**
 * struct rsio_lend_bdf - argument of RSIO_LEND_IOC_LEND and RSIO_LEND_IOC_UNLEND
 * @header: in: size = sizeof(struct rsio_lend_bdf), flags:
 *          RSIO_LEND_LEND_FORCE (LEND), RSIO_LEND_UNLEND_FORCE (UNLEND)
 * @domain: in: PCI domain, at most 0xffff
 * @bus:    in: bus number, at most 0xff
 * @devfn:  in: device << 3 | function, at most 0xff
 * @fdid:   in: zero; out: the fabric device id (UNLEND: the one it had)
 */
struct rsio_lend_bdf {
	struct rsio_arg_header header;
	__u32 domain;
	__u32 bus;
	__u32 devfn;
	__u32 fdid;
};

#define RSIO_LEND_BDF_SIZE_V1 24

/* LEND flag: lend it even though this node uses it (its users lose it). */
#define RSIO_LEND_LEND_FORCE (1U << 0)
/* UNLEND flag: revoke it from its borrower first. */
#define RSIO_LEND_UNLEND_FORCE (1U << 0)

/* struct rsio_lend_dev_entry.state */
#define RSIO_LEND_STATE_LENT 1
#define RSIO_LEND_STATE_BORROWED 2

/* bar_flags of struct rsio_lend_dev_entry and struct rsio_lend_chassis_entry */
#define RSIO_LEND_BAR_IO (1U << 0)
/* A 64-bit memory BAR (the next BAR is its upper half, listed with size 0). */
#define RSIO_LEND_BAR_64 (1U << 1)
#define RSIO_LEND_BAR_PREFETCH (1U << 2)

/* struct rsio_lend_dev_entry.dev_flags */
#define RSIO_LEND_DEV_VF (1U << 0)
#define RSIO_LEND_DEV_IOMMU (1U << 1)
#define RSIO_LEND_DEV_NO_DMA_API (1U << 2)
/* Bits 8..11: how the lender resets it between borrowers, RSIO_LEND_RESET_*. */
#define RSIO_LEND_DEV_RESET_MASK (0xfU << 8)
#define RSIO_LEND_DEV_RESET_SHIFT 8
#define RSIO_LEND_RESET_NONE 0
#define RSIO_LEND_RESET_FLR 1
#define RSIO_LEND_RESET_PCI 2
#define RSIO_LEND_RESET_VIRTIO 3
#define RSIO_LEND_RESET_AHCI 4
#define RSIO_LEND_RESET_XHCI 5

/**
 * struct rsio_lend_dev_entry - one element of RSIO_LEND_IOC_LIST: a device
 * this node or a peer lends
 * @node:             the lending node
 * @fdid:             its fabric device id
 * @state:            RSIO_LEND_STATE_LENT or _BORROWED
 * @domain:           its PCI domain on its node
 * @bus:              its bus number on its node
 * @devfn:            its devfn on its node
 * @vendor:           PCI vendor id
 * @device:           PCI device id
 * @subsystem_vendor: subsystem vendor id
 * @subsystem_device: subsystem id
 * @class:            class code (base, sub, programming interface: 24 bits)
 * @revision:         revision id
 * @bar_size:         bytes of each standard BAR (0: no such BAR)
 * @bar_flags:        RSIO_LEND_BAR_* of each BAR
 * @sriov_total_vfs:  since version 2: an SR-IOV PF's TotalVFs (0: none)
 * @dev_flags:        since version 2: RSIO_LEND_DEV_*
 */
struct rsio_lend_dev_entry {
	__u32 node;
	__u32 fdid;
	__u32 state;
	__u32 domain;
	__u32 bus;
	__u32 devfn;
	__u16 vendor;
	__u16 device;
	__u16 subsystem_vendor;
	__u16 subsystem_device;
	__u32 class;
	__u32 revision;
	__u64 bar_size[RSIO_LEND_NUM_BARS];
	__u32 bar_flags[RSIO_LEND_NUM_BARS];
	__u32 sriov_total_vfs;
	__u32 dev_flags;
};

#define RSIO_LEND_DEV_ENTRY_SIZE_V1 112
#define RSIO_LEND_DEV_ENTRY_SIZE_V2 120

/**
 * struct rsio_lend_borrow - argument of RSIO_LEND_IOC_BORROW, _RETURN,
 * _ATTACH and _DETACH
 * @header:     in: size = sizeof(struct rsio_lend_borrow), flags:
 *              RSIO_LEND_RETURN_FORCE (RETURN, DETACH), else 0
 * @node:       in: the lending node (ATTACH, DETACH: the chassis, fdid >> 16)
 * @fdid:       in: its fabric device id
 * @domain:     out: the PCI domain it appeared in here (>= 0x10000); zero in
 * @bus:        out: its bus number there; zero in
 * @devfn:      out: its devfn there; zero in
 * @reserved:   zero
 * @dma_offset: out: physical address X here is device address
 *              dma_offset + X (for user-space drivers); zero in
 */
struct rsio_lend_borrow {
	struct rsio_arg_header header;
	__u32 node;
	__u32 fdid;
	__u32 domain;
	__u32 bus;
	__u32 devfn;
	__u32 reserved;
	__u64 dma_offset;
};

#define RSIO_LEND_BORROW_SIZE_V1 40

/* RETURN and DETACH flag: even though this node uses it (its users lose it). */
#define RSIO_LEND_RETURN_FORCE (1U << 0)

/**
 * struct rsio_lend_p2p - argument of RSIO_LEND_IOC_P2P
 * @header:    in: size = sizeof(struct rsio_lend_p2p), flags = 0
 * @from_node: in: the lender of the function that will do the DMA
 * @from_fdid: in: its fabric device id
 * @to_node:   in: the lender of the function whose BAR is the target
 * @to_fdid:   in: its fabric device id
 * @bar:       in: the target BAR (0..5, a forwarded memory BAR)
 * @reserved:  zero
 * @dev_addr:  out: where @from reaches offset 0 of the BAR; zero in
 * @size:      out: bytes of the BAR reachable from there; zero in
 */
struct rsio_lend_p2p {
	struct rsio_arg_header header;
	__u32 from_node;
	__u32 from_fdid;
	__u32 to_node;
	__u32 to_fdid;
	__u32 bar;
	__u32 reserved;
	__u64 dev_addr;
	__u64 size;
};

#define RSIO_LEND_P2P_SIZE_V1 48

/* struct rsio_lend_chassis_entry.holder: nobody holds the function. */
#define RSIO_LEND_HOLDER_NONE 0xffffffffU
/* struct rsio_lend_chassis_entry.flags: attached to this node. */
#define RSIO_LEND_CHASSIS_HERE (1U << 0)

/**
 * struct rsio_lend_chassis_entry - one element of RSIO_LEND_IOC_SCAN: a
 * function in an expansion chassis whose link is up
 * @node:             the chassis's node id
 * @fdid:             its fabric device id: node << 16 | bus << 8 | devfn
 * @slot:             its slot (the device number of its root port on the
 *                    chassis's bus 0)
 * @holder:           the node it is attached to, or RSIO_LEND_HOLDER_NONE
 * @bus:              its bus number in the chassis (never 0)
 * @devfn:            its devfn in the chassis
 * @vendor:           PCI vendor id
 * @device:           PCI device id
 * @subsystem_vendor: subsystem vendor id
 * @subsystem_device: subsystem id
 * @class:            class code (24 bits)
 * @revision:         revision id
 * @bar_size:         bytes of each standard BAR; 0 for all of them when the
 *                    function is held (sizing needs it for a moment)
 * @bar_flags:        RSIO_LEND_BAR_* of each BAR (as @bar_size)
 * @flags:            RSIO_LEND_CHASSIS_HERE
 * @reserved:         zero
 */
struct rsio_lend_chassis_entry {
	__u32 node;
	__u32 fdid;
	__u32 slot;
	__u32 holder;
	__u32 bus;
	__u32 devfn;
	__u16 vendor;
	__u16 device;
	__u16 subsystem_vendor;
	__u16 subsystem_device;
	__u32 class;
	__u32 revision;
	__u64 bar_size[RSIO_LEND_NUM_BARS];
	__u32 bar_flags[RSIO_LEND_NUM_BARS];
	__u32 flags;
	__u32 reserved;
};

#define RSIO_LEND_CHASSIS_ENTRY_SIZE_V1 120

#define RSIO_LEND_IOC_LEND _IOWR(RSIO_IOC_MAGIC, 0x60, struct rsio_lend_bdf)
#define RSIO_LEND_IOC_UNLEND _IOWR(RSIO_IOC_MAGIC, 0x61, struct rsio_lend_bdf)
#define RSIO_LEND_IOC_LIST _IOWR(RSIO_IOC_MAGIC, 0x62, struct rsio_list)
#define RSIO_LEND_IOC_BORROW _IOWR(RSIO_IOC_MAGIC, 0x63, struct rsio_lend_borrow)
#define RSIO_LEND_IOC_RETURN _IOWR(RSIO_IOC_MAGIC, 0x64, struct rsio_lend_borrow)
#define RSIO_LEND_IOC_P2P _IOWR(RSIO_IOC_MAGIC, 0x65, struct rsio_lend_p2p)
/* Lists every chassis function (root: sizing a free one's BARs claims it a moment). */
#define RSIO_LEND_IOC_SCAN _IOWR(RSIO_IOC_MAGIC, 0x66, struct rsio_list)
/* node = the chassis, fdid from SCAN, flags 0; domain/bus/devfn/dma_offset out. */
#define RSIO_LEND_IOC_ATTACH _IOWR(RSIO_IOC_MAGIC, 0x67, struct rsio_lend_borrow)
/* flags: RSIO_LEND_RETURN_FORCE. */
#define RSIO_LEND_IOC_DETACH _IOWR(RSIO_IOC_MAGIC, 0x68, struct rsio_lend_borrow)

_Static_assert(sizeof(struct rsio_lend_bdf) == RSIO_LEND_BDF_SIZE_V1, "rsio_lend_bdf size");
_Static_assert(sizeof(struct rsio_lend_dev_entry) == RSIO_LEND_DEV_ENTRY_SIZE_V2,
	       "rsio_lend_dev_entry size");
_Static_assert(sizeof(struct rsio_lend_borrow) == RSIO_LEND_BORROW_SIZE_V1, "rsio_lend_borrow size");
_Static_assert(sizeof(struct rsio_lend_p2p) == RSIO_LEND_P2P_SIZE_V1, "rsio_lend_p2p size");
_Static_assert(sizeof(struct rsio_lend_chassis_entry) == RSIO_LEND_CHASSIS_ENTRY_SIZE_V1,
	       "rsio_lend_chassis_entry size");

#endif /* _UAPI_RSIO_H */
