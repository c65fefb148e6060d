// SPDX-License-Identifier: GPL-2.0
/*
 * BPF_PROG_TYPE_FUSE: the filters of fuse-bpf inodes.
 *
 * Copyright (c) 2026 The fuse-bpf authors
 */

#include <linux/bpf.h>
#include <linux/bpf_fuse.h>
#include <linux/filter.h>

static const struct bpf_func_proto *
bpf_fuse_func_proto(enum bpf_func_id func_id, const struct bpf_prog *prog)
{
	switch (func_id) {
	case BPF_FUNC_get_current_uid_gid:
		return &bpf_get_current_uid_gid_proto;
	case BPF_FUNC_get_current_pid_tgid:
		return &bpf_get_current_pid_tgid_proto;
	default:
		return bpf_base_func_proto(func_id, prog);
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
	/*
	 * Not the buffers yet: reading them needs the verifier to keep each
	 * argument a packet of its own, so that a bounds check on one grants
	 * no range on another.
	 */
	switch (off) {
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
	int field_size;

	/* Programs return their verdict: the context is read-only */
	if (type != BPF_READ)
		return false;
	if (off < 0 || off >= BPF_FUSE_UEND)
		return false;
	if (bpf_fuse_ctx_field(off, &field_size) < 0)
		return false;
	return size == field_size;
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
