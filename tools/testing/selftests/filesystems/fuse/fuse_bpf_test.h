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

/*
 * fuse_rewrite.bpf.c rewrites names of this size, NUL included (7
 * characters): a rewrite needs a size the verifier knows.
 */
#define REWRITE_NAME_SIZE	8

/*
 * Its calls of bpf_fuse_get_writeable_in() and _out() that must fail, on
 * the operation probe_op (MKDIR: a struct fuse_mkdir_in and a name), as
 * indexes of probe[]: PROBE_NULL if the helper gave NULL, PROBE_BUF if not
 */
#define PROBE_INDEX		0	/* index in_numargs */
#define PROBE_VALUE		1	/* the value of another argument */
#define PROBE_SIZE		2	/* another size for a fixed-size arg */
#define PROBE_MAX_SIZE		3	/* past max_size for a variable one */
#define PROBE_FLAGS		4	/* an unknown flag */
#define PROBE_OUT_PRE		5	/* an out arg in the pre-filter */
#define PROBE_IN_POST		6	/* an in arg in the post-filter */
#define PROBE_NR		7
#define PROBE_NULL		1
#define PROBE_BUF		2

#endif /* __FUSE_BPF_TEST_H */
