// SPDX-License-Identifier: GPL-2.0
/*
 * BPF_PROG_TYPE_FUSE: the filters of fuse-bpf inodes.
 *
 * Copyright (c) 2026 The fuse-bpf authors
 */

#include <linux/bpf.h>
#include <linux/bpf_fuse.h>
#include <linux/filter.h>
#include <linux/nospec.h>
#include <linux/slab.h>

/*
 * Give @arg a new buffer of @size bytes that the program may write; the
 * verifier has the program forget its pointers into the old one.
 * fuse_bpf_run() frees it after the operation.
 */
static void *bpf_fuse_writeable(struct bpf_fuse_arg *arg, void *value,
				u32 size, u64 flags)
{
	void *buf;

	if (flags & ~BPF_FUSE_COPY)
		return NULL;
	if (!value || value != arg->value || (arg->flags & BPF_FUSE_IMMUTABLE))
		return NULL;
	if (arg->max_size ? size > arg->max_size : size != arg->size)
		return NULL;
	/*
	 * Already the program's: the program may still hold the pointer the
	 * first call returned, which is no packet pointer the verifier would
	 * forget. Give that buffer again, never free it under the program.
	 */
	if (arg->flags & BPF_FUSE_ALLOCATED)
		return size == arg->size ? arg->value : NULL;

	/* Programs run under RCU: they may not sleep */
	buf = kzalloc(size, GFP_NOWAIT | __GFP_NOWARN);
	if (!buf)
		return NULL;
	if (flags & BPF_FUSE_COPY)
		memcpy(buf, arg->value, min(size, arg->size));
	bpf_fuse_arg_set(arg, buf, size, arg->max_size);
	arg->flags |= BPF_FUSE_ALLOCATED | BPF_FUSE_MODIFIED;
	return buf;
}

BPF_CALL_5(bpf_fuse_get_writeable_in, struct bpf_fuse_args *, fa, u32, index,
	   void *, value, u32, size, u64, flags)
{
	if (index >= fa->in_numargs)
		return 0;
	index = array_index_nospec(index, FUSE_BPF_MAX_ARGS_IN);
	return (unsigned long)bpf_fuse_writeable(&fa->in_args[index], value,
						 size, flags);
}

BPF_CALL_5(bpf_fuse_get_writeable_out, struct bpf_fuse_args *, fa, u32, index,
	   void *, value, u32, size, u64, flags)
{
	if (index >= fa->out_numargs)
		return 0;
	index = array_index_nospec(index, FUSE_BPF_MAX_ARGS_OUT);
	return (unsigned long)bpf_fuse_writeable(&fa->out_args[index], value,
						 size, flags);
}

/*
 * The verifier checks that @value is the start of an argument (a packet
 * of its own), and after the call forgets the pointers into it.
 */
static const struct bpf_func_proto bpf_fuse_get_writeable_in_proto = {
	.func		= bpf_fuse_get_writeable_in,
	.pkt_access	= true,
	.ret_type	= RET_PTR_TO_MEM | PTR_MAYBE_NULL,
	.arg1_type	= ARG_PTR_TO_CTX,
	.arg2_type	= ARG_ANYTHING,
	.arg3_type	= ARG_PTR_TO_PACKET,
	.arg4_type	= ARG_CONST_ALLOC_SIZE_OR_ZERO,
	.arg5_type	= ARG_ANYTHING,
};

static const struct bpf_func_proto bpf_fuse_get_writeable_out_proto = {
	.func		= bpf_fuse_get_writeable_out,
	.pkt_access	= true,
	.ret_type	= RET_PTR_TO_MEM | PTR_MAYBE_NULL,
	.arg1_type	= ARG_PTR_TO_CTX,
	.arg2_type	= ARG_ANYTHING,
	.arg3_type	= ARG_PTR_TO_PACKET,
	.arg4_type	= ARG_CONST_ALLOC_SIZE_OR_ZERO,
	.arg5_type	= ARG_ANYTHING,
};

/*
 * What a filter needs, and nothing that sleeps or reads user memory:
 * programs run in the middle of file system operations.
 */
static const struct bpf_func_proto *
bpf_fuse_func_proto(enum bpf_func_id func_id, const struct bpf_prog *prog)
{
	switch (func_id) {
	case BPF_FUNC_fuse_get_writeable_in:
		return &bpf_fuse_get_writeable_in_proto;
	case BPF_FUNC_fuse_get_writeable_out:
		return &bpf_fuse_get_writeable_out_proto;
	case BPF_FUNC_get_current_uid_gid:
		return &bpf_get_current_uid_gid_proto;
	case BPF_FUNC_get_current_pid_tgid:
		return &bpf_get_current_pid_tgid_proto;
	case BPF_FUNC_ktime_get_coarse_ns:
		return &bpf_ktime_get_coarse_ns_proto;
	case BPF_FUNC_map_lookup_elem:
	case BPF_FUNC_map_update_elem:
	case BPF_FUNC_map_delete_elem:
	case BPF_FUNC_ktime_get_ns:
	case BPF_FUNC_ktime_get_boot_ns:
	case BPF_FUNC_trace_printk:
		return bpf_base_func_proto(func_id, prog);
	default:
		return NULL;
	}
}

/* in_args[] and out_args[] are read as one array, in both structs */
static_assert(offsetof(struct __bpf_fuse_args, out_args) ==
	      offsetofend(struct __bpf_fuse_args, in_args));
static_assert(offsetof(struct bpf_fuse_args, out_args) ==
	      offsetofend(struct bpf_fuse_args, in_args));

#define BPF_FUSE_UARGS	offsetof(struct __bpf_fuse_args, in_args)
#define BPF_FUSE_UEND	offsetofend(struct __bpf_fuse_args, out_args)
#define BPF_FUSE_KARG(i, field)						\
	(offsetof(struct bpf_fuse_args, in_args) +			\
	 (i) * sizeof(struct bpf_fuse_arg) +				\
	 offsetof(struct bpf_fuse_arg, field))

/*
 * The offset in struct bpf_fuse_args of the field at @off in struct
 * __bpf_fuse_args, and its size in @size; -1 for the padding and for the
 * fields programs may not read.
 */
static int bpf_fuse_ctx_field(int off, int *size)
{
	int i;

	*size = sizeof(u32);
	switch (off) {
	case offsetof(struct __bpf_fuse_args, nodeid):
		*size = sizeof(u64);
		return offsetof(struct bpf_fuse_args, nodeid);
	case offsetof(struct __bpf_fuse_args, opcode):
		return offsetof(struct bpf_fuse_args, opcode);
	case offsetof(struct __bpf_fuse_args, error_in):
		return offsetof(struct bpf_fuse_args, error_in);
	case offsetof(struct __bpf_fuse_args, in_numargs):
		return offsetof(struct bpf_fuse_args, in_numargs);
	case offsetof(struct __bpf_fuse_args, out_numargs):
		return offsetof(struct bpf_fuse_args, out_numargs);
	case offsetof(struct __bpf_fuse_args, flags):
		return offsetof(struct bpf_fuse_args, flags);
	}
	if (off < BPF_FUSE_UARGS || off >= BPF_FUSE_UEND)
		return -1;

	i = (off - BPF_FUSE_UARGS) / sizeof(struct __bpf_fuse_arg);
	off = (off - BPF_FUSE_UARGS) % sizeof(struct __bpf_fuse_arg);
	switch (off) {
	case offsetof(struct __bpf_fuse_arg, value):
		*size = sizeof(u64);
		return BPF_FUSE_KARG(i, value);
	case offsetof(struct __bpf_fuse_arg, end_offset):
		*size = sizeof(u64);
		return BPF_FUSE_KARG(i, end_offset);
	case offsetof(struct __bpf_fuse_arg, size):
		return BPF_FUSE_KARG(i, size);
	case offsetof(struct __bpf_fuse_arg, max_size):
		return BPF_FUSE_KARG(i, max_size);
	}
	return -1;
}

static bool bpf_fuse_is_valid_access(int off, int size,
				     enum bpf_access_type type,
				     const struct bpf_prog *prog,
				     struct bpf_insn_access_aux *info)
{
	int field_size, arg;

	/* Programs change arguments through the helpers only */
	if (type != BPF_READ)
		return false;
	if (off < 0 || off >= BPF_FUSE_UEND)
		return false;
	if (bpf_fuse_ctx_field(off, &field_size) < 0)
		return false;
	if (size != field_size)
		return false;
	if (off < BPF_FUSE_UARGS)
		return true;

	/*
	 * Each argument is a packet of its own: its data_id keeps a bounds
	 * check on one from granting range on another.
	 */
	arg = (off - BPF_FUSE_UARGS) / sizeof(struct __bpf_fuse_arg);
	switch ((off - BPF_FUSE_UARGS) % sizeof(struct __bpf_fuse_arg)) {
	case offsetof(struct __bpf_fuse_arg, value):
		info->reg_type = PTR_TO_PACKET;
		info->data_id = arg + 1;
		break;
	case offsetof(struct __bpf_fuse_arg, end_offset):
		info->reg_type = PTR_TO_PACKET_END;
		info->data_id = arg + 1;
		break;
	}
	return true;
}

static u32 bpf_fuse_convert_ctx(enum bpf_access_type type,
				const struct bpf_insn *si,
				struct bpf_insn *insn_buf,
				struct bpf_prog *prog, u32 *target_size)
{
	struct bpf_insn *insn = insn_buf;
	int size;
	int off = bpf_fuse_ctx_field(si->off, &size);

	*insn++ = BPF_LDX_MEM(BPF_SIZE(si->code), si->dst_reg, si->src_reg,
			      off);
	*target_size = size;
	return insn - insn_buf;
}

const struct bpf_verifier_ops fuse_verifier_ops = {
	.get_func_proto		= bpf_fuse_func_proto,
	.is_valid_access	= bpf_fuse_is_valid_access,
	.convert_ctx_access	= bpf_fuse_convert_ctx,
};

const struct bpf_prog_ops fuse_prog_ops = {
};
