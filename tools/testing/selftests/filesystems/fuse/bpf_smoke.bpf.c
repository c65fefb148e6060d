// SPDX-License-Identifier: GPL-2.0
/*
 * Checks the BPF tool chain of the selftests: built by clang against the
 * BTF of the kernel under test, loaded through a bpftool skeleton by the
 * tree's libbpf, run with BPF_PROG_TEST_RUN.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "fuse_bpf_test.h"

struct smoke_args {
	__u32 in;
	__u32 out;
};

/* Global data, read back by the test through the skeleton's mapping */
__u32 runs;

SEC("syscall")
int smoke(struct smoke_args *args)
{
	args->out = SMOKE_OUT(args->in);
	runs++;
	return SMOKE_RETVAL;
}

char LICENSE[] SEC("license") = "GPL";
