/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Constants shared by the BPF programs of the fuse-bpf selftests and the
 * tests that check what they do. The BPF programs include it after
 * vmlinux.h: #defines only, no libc header.
 */
#ifndef __FUSE_BPF_TEST_H
#define __FUSE_BPF_TEST_H

/* bpf_smoke.bpf.c: smoke() sets out to SMOKE_OUT(in), returns SMOKE_RETVAL */
#define SMOKE_OUT(in)		((in) * 3 + 1)
#define SMOKE_RETVAL		42

/* The errnos used below, for BPF programs: they have no errno.h */
#ifndef ENOENT
#define ENOENT			2
#endif
#ifndef EACCES
#define EACCES			13
#endif

/*
 * fuse_filter.bpf.c fails the lookup of a name of deny_size with this, and
 * the operations of opcode deny_op
 */
#define FILTER_DENY_ERRNO	EACCES
/* Its post-filter fails with this an operation that succeeded */
#define FILTER_HIDE_ERRNO	ENOENT

#endif /* __FUSE_BPF_TEST_H */
