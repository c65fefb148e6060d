// SPDX-License-Identifier: GPL-2.0
/*
 * A BPF_PROG_TYPE_FUSE filter that gives each opcode the verdicts the
 * tests set in its global data, before and after the operation, and
 * counts what it sees: the tests of server filters steer it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "fuse_bpf_test.h"

/* #defines of uapi headers are not in the BTF */
#define FUSE_OPCODE_FILTER	0x0ffff
#define FUSE_POSTFILTER		0x20000

#define NR_OPS			64

/* The verdict of the pre- and post-filter of each opcode; 0: CONTINUE */
__s32 pre_verdict[NR_OPS];
__s32 post_verdict[NR_OPS];

/* The pre-filter verdict of node_op on the node node_only, if set */
__u64 node_only;
__u32 node_op;
__s32 node_verdict;

/* What the program saw */
__u32 pre[NR_OPS];
__u32 post[NR_OPS];
__s32 post_error_in;
__u64 last_nodeid;

SEC("fuse")
int fuse_steer(struct __bpf_fuse_args *fa)
{
	__u32 op = fa->opcode & FUSE_OPCODE_FILTER;

	if (op >= NR_OPS)
		return BPF_FUSE_CONTINUE;
	last_nodeid = fa->nodeid;
	if (fa->opcode & FUSE_POSTFILTER) {
		post[op]++;
		post_error_in = fa->error_in;
		return post_verdict[op];
	}
	pre[op]++;
	if (node_only && fa->nodeid == node_only && op == node_op)
		return node_verdict;
	return pre_verdict[op];
}

char LICENSE[] SEC("license") = "GPL";
