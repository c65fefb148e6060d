// SPDX-License-Identifier: GPL-2.0
/*
 * The cheapest useful BPF_PROG_TYPE_FUSE program, for benchmarks: it lets
 * every operation run on the backing and reads nothing but the opcode. With
 * post set, it also asks for the post-filter of every operation, which
 * likewise lets the result through: the cost of filtering an operation
 * twice, and nothing else.
 *
 * Userspace sets post through the skeleton before loading the program (see
 * bench_mount.c).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/* #defines of uapi headers are not in the BTF */
#define FUSE_POSTFILTER		0x20000

/* Non-zero: post-filter every operation */
__u32 post;

SEC("fuse")
int fuse_trivial(struct __bpf_fuse_args *fa)
{
	if (fa->opcode & FUSE_POSTFILTER)
		return BPF_FUSE_CONTINUE;
	return post ? BPF_FUSE_POSTFILTER : BPF_FUSE_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
