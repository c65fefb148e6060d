/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interface between fuse-bpf and its BPF program type.
 *
 * Copyright (c) 2026 The fuse-bpf authors
 */
#ifndef _LINUX_BPF_FUSE_H
#define _LINUX_BPF_FUSE_H

#include <linux/bits.h>
#include <linux/types.h>
#include <uapi/linux/bpf.h>

#define FUSE_BPF_MAX_ARGS_IN	3
#define FUSE_BPF_MAX_ARGS_OUT	2

/* Flags of struct bpf_fuse_arg */
#define BPF_FUSE_IMMUTABLE	BIT(0)	/* programs may not replace it */
#define BPF_FUSE_ALLOCATED	BIT(1)	/* @value is ours to kfree() */
#define BPF_FUSE_MODIFIED	BIT(2)	/* a program replaced it */

/**
 * struct bpf_fuse_arg - one argument of a filtered operation
 * @value: its buffer; a kernel copy, never user or iterator memory
 * @end_offset: the end of its buffer, @value + @size
 * @size: the used size, which is the size of @value
 * @max_size: the size it may grow to, 0 if it has a fixed size
 * @flags: BPF_FUSE_* flags
 *
 * Programs read it as a packet of its own and replace it with
 * bpf_fuse_get_writeable_in() or _out(), which keep @value and @size
 * consistent.
 */
struct bpf_fuse_arg {
	void *value;
	void *end_offset;
	u32 size;
	u32 max_size;
	u32 flags;
};

/**
 * struct bpf_fuse_args - the context of a BPF_PROG_TYPE_FUSE program
 * @nodeid: the node id of the inode the operation is on (0 if the server
 *	does not know it)
 * @opcode: the FUSE opcode, ORed with FUSE_PREFILTER or FUSE_POSTFILTER
 * @error_in: in the post-filter, the operation's negative errno or 0
 * @in_numargs: the number of @in_args in use
 * @out_numargs: the number of @out_args in use
 * @flags: FUSE_BPF_* flags of the operation
 * @in_args: the arguments of the FUSE request
 * @out_args: the arguments of its reply
 *
 * Programs see it as struct __bpf_fuse_args, see bpf_fuse_convert_ctx().
 */
struct bpf_fuse_args {
	u64 nodeid;
	u32 opcode;
	u32 error_in;
	u32 in_numargs;
	u32 out_numargs;
	u32 flags;
	struct bpf_fuse_arg in_args[FUSE_BPF_MAX_ARGS_IN];
	struct bpf_fuse_arg out_args[FUSE_BPF_MAX_ARGS_OUT];
};

/**
 * bpf_fuse_arg_set() - describe an argument to the program
 * @arg: the argument
 * @value: its buffer, which the program may read but not write
 * @size: its size
 * @max_size: the size a program may give it, 0 if it keeps @size
 */
static inline void bpf_fuse_arg_set(struct bpf_fuse_arg *arg, void *value,
				    u32 size, u32 max_size)
{
	arg->value = value;
	arg->end_offset = value + size;
	arg->size = size;
	arg->max_size = max_size;
}

#endif /* _LINUX_BPF_FUSE_H */
