/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * rsio user-space ABI: the C view of uapi/src/abi.rs (which is the source of
 * truth; tests compile this header and check both agree).
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
	char release[32];
	char kernel_release[72];
};

#define RSIO_IOC_VERSION _IOWR(RSIO_IOC_MAGIC, 0x00, struct rsio_version)

_Static_assert(sizeof(struct rsio_arg_header) == 8, "rsio_arg_header size");
_Static_assert(sizeof(struct rsio_version) == 128, "rsio_version size");

#endif /* _UAPI_RSIO_H */
