// SPDX-License-Identifier: GPL-2.0
/*
 * A BPF_PROG_TYPE_FUSE filter the tests steer through its global data:
 * it picks its verdict on a lookup by the size of the name, on other
 * operations by their opcode, and counts what it sees.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "fuse_bpf_test.h"

/* #defines of uapi headers are not in the BTF */
#define FUSE_OPCODE_FILTER	0x0ffff
#define FUSE_PREFILTER		0x10000
#define FUSE_POSTFILTER		0x20000
#define OP_LOOKUP		1
#define OP_READLINK		5
#define OP_SYMLINK		6
#define OP_MKNOD		8
#define OP_MKDIR		9
#define OP_CREATE		35

#define NR_OPS			64

/* Name sizes (NUL included) the lookups of which get each verdict */
__u32 user_size;
__u32 deny_size;
__u32 hide_size;
__u32 bogus_size;
__u32 kernel_errno_size;
/* Post-filter every readlink */
__u32 readlink_post;
/* Post-filter every mkdir, create, mknod and symlink */
__u32 new_entry_post;
/* If not 0: the opcode whose pre-filter fails it with FILTER_DENY_ERRNO */
__u32 deny_op;
/*
 * If not 0: the opcode to post-filter, and what its post-filter returns:
 * 0 (BPF_FUSE_CONTINUE) keeps the result, a negative errno replaces it
 */
__u32 post_op;
__s32 post_ret;

/* What the program saw */
__u32 pre[NR_OPS];
__u32 post[NR_OPS];
__u64 lookup_nodeid;
__s32 post_error_in;

SEC("fuse")
int fuse_filter(struct __bpf_fuse_args *fa)
{
	__u32 op = fa->opcode & FUSE_OPCODE_FILTER;
	__u32 size;

	if (op >= NR_OPS)
		return BPF_FUSE_CONTINUE;
	if (fa->opcode & FUSE_POSTFILTER) {
		post[op]++;
		post_error_in = fa->error_in;
		if (post_op && op == post_op)
			return post_ret;
		/* Hide what exists: the caller sees ENOENT, not EACCES */
		return fa->error_in ? (__s32)fa->error_in : -FILTER_HIDE_ERRNO;
	}
	pre[op]++;
	if (deny_op && op == deny_op)
		return -FILTER_DENY_ERRNO;
	if (post_op && op == post_op)
		return BPF_FUSE_POSTFILTER;
	if (op == OP_READLINK && readlink_post)
		return BPF_FUSE_POSTFILTER;
	if (new_entry_post && (op == OP_MKDIR || op == OP_CREATE ||
			       op == OP_MKNOD || op == OP_SYMLINK))
		return BPF_FUSE_POSTFILTER;
	if (op != OP_LOOKUP || fa->in_numargs != 1)
		return BPF_FUSE_CONTINUE;
	lookup_nodeid = fa->nodeid;
	size = fa->in_args[0].size;
	if (size == user_size)
		return BPF_FUSE_USER;
	if (size == deny_size)
		return -FILTER_DENY_ERRNO;
	if (size == hide_size)
		return BPF_FUSE_POSTFILTER;
	if (size == bogus_size)
		return 77;
	if (size == kernel_errno_size)
		return -512;	/* -ERESTARTSYS */
	return BPF_FUSE_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
