// SPDX-License-Identifier: GPL-2.0
/*
 * A BPF_PROG_TYPE_FUSE filter that rewrites the arguments of operations,
 * before them (pre-filter) and their results after them (post-filter),
 * as the tests steer it through its global data. It also fails them, and
 * records what it saw.
 *
 * The helpers take the argument's value pointer as loaded from the context,
 * and a size the verifier knows: names are rewritten to names of the same
 * size (REWRITE_NAME_SIZE), structs to their own size. Pointers into an
 * argument are invalid after the helper ran on it: each rewrite loads the
 * argument anew.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "fuse_bpf_test.h"

/* #defines of uapi headers are not in the BTF */
#define FUSE_OPCODE_FILTER	0x0ffff
#define FUSE_PREFILTER		0x10000
#define FUSE_POSTFILTER		0x20000
/* BPF_FUSE_COPY: an anonymous enum, which the BTF may not have */
#define REWRITE_COPY		1ULL

#define OP_LOOKUP		1
#define OP_GETATTR		3
#define OP_SETATTR		4
#define OP_READLINK		5
#define OP_LINK			13
#define OP_OPEN			14
#define OP_READ			15
#define OP_WRITE		16
#define OP_STATFS		17
#define OP_RELEASE		18
#define OP_FSYNC		20
#define OP_SETXATTR		21
#define OP_GETXATTR		22
#define OP_LISTXATTR		23
#define OP_FLUSH		25
#define OP_RELEASEDIR		29
#define OP_ACCESS		34
#define OP_IOCTL		39
#define OP_FALLOCATE		43
#define OP_LSEEK		46
#define OP_COPY_FILE_RANGE	47
#define OP_TMPFILE		51
/* Operations with no FUSE request, <linux/bpf.h> */
#define OP_FILEATTR_GET		0xfff0
#define OP_FILEATTR_SET		0xfff1

#define S_IFMT			00170000

/*
 * In the pre-filter of the opcodes in name_ops (bit n: opcode n), every
 * variable-size in arg (a name, a symlink target, an xattr value) equal
 * to from (REWRITE_NAME_SIZE bytes, its NUL included) becomes to, or ".."
 * with to_dotdot.
 */
__u64 name_ops;
char from[REWRITE_NAME_SIZE];
char to[REWRITE_NAME_SIZE];
__u32 to_dotdot;
/* With name_count, in args equal to from are counted, not rewritten */
__u32 name_count;

/* If not 0: the opcode whose pre-filter returns pre_ret, after rewriting */
__u32 pre_op;
__s32 pre_ret;
/*
 * If not 0: the opcode to post-filter. The post-filter of a success
 * rewrites its out args as set below, then returns post_ret.
 */
__u32 post_op;
__s32 post_ret;

/* SETATTR: fuse_setattr_in rewrites (the file type of mode is kept) */
__u32 sa_set_mode;
__u32 sa_mode;
__u32 sa_set_size;
__u64 sa_size;
__u32 sa_set_uid;
__u32 sa_uid;
__u32 sa_valid_xor;

/* READ, WRITE, LSEEK, FALLOCATE: the opcode io_op gets these in arg 0 */
__u32 io_op;
__u32 io_set_offset;
__u64 io_offset;
/* READ and WRITE: size; FALLOCATE: length */
__u32 io_set_size;
__u64 io_size;
/* LSEEK: whence; FALLOCATE: mode */
__u32 io_set_mode;
__u32 io_mode;

/* OPEN: XORed into fuse_open_in.flags */
__u32 open_xor;
/* FSYNC: fsync_flags */
__u32 fsync_set;
__u32 fsync_flags;
/* If not 0: ACCESS of this mask gets its fuse_access_in copied unchanged */
__u32 access_mask;
/*
 * If not 0: the opcode whose pre-filter gives its in arg 0 a copy, of the
 * size of its struct, with touch_in_xor XORed into its first 4 bytes. An
 * opcode without a struct there (READLINK, TMPFILE, FILEATTR_GET and _SET)
 * asks for 8 bytes of an argument it does not have: the helper refuses.
 */
__u32 touch_in_op;
__u32 touch_in_xor;
/* SETXATTR: the value becomes xvalue */
__u32 xvalue_in;

/* Post-filter rewrites */
/* GETATTR: only of this (backing) inode number, if not 0 */
__u64 match_ino;
__u32 attr_set_size;
__u64 attr_size;
__u32 attr_set_uid;
__u32 attr_uid;
__u32 attr_mode_xor;
/* STATFS */
__u32 statfs_set_blocks;
__u64 statfs_blocks;
/* READ (and WRITE, which honours none): fuse_write_out.size */
__u32 out_set_size;
__u32 out_size;
/*
 * LOOKUP, WRITE and COPY_FILE_RANGE: out arg 0 copied unchanged. The
 * operations without out args ask for 8 bytes of one: the helper refuses.
 */
__u32 touch_out;
/*
 * LOOKUP: fuse_entry_out copied, entry_xor XORed into the 4 bytes at
 * entry_xor_off (a multiple of 4, below its 128 bytes)
 */
__u32 entry_xor_off;
__u32 entry_xor;
/*
 * GETXATTR, LISTXATTR, READLINK: out arg 0 becomes xvalue (all of its
 * REWRITE_NAME_SIZE bytes), or empty with out_empty
 */
__u32 xvalue_out;
__u32 out_empty;
char xvalue[REWRITE_NAME_SIZE];

/* If not 0: the opcode of the helper probes, see fuse_bpf_test.h */
__u32 probe_op;

/* What the program saw and did */
__u32 probe[PROBE_NR];
__u32 seen_in_numargs;
__u32 seen_in_size[3];
__u32 seen_in_max[3];
__u32 pre_count;
__u32 post_count;
__s32 post_error_in;
/* LOOKUP: the reply the post-filter saw */
__u64 lookup_ino;
__u64 lookup_entry_valid;
__u32 lookup_entry_valid_nsec;
/* Pre-filter in args equal to from, in the opcodes of name_ops */
__u32 name_hits;
/*
 * If not 0: the opcode whose pre-filter runs are counted, and the first
 * 16 bytes of its in arg 0 (8 if it has no more) as the last run saw them
 */
__u32 watch_op;
__u32 watch_count;
__u32 watch_in[4];
/*
 * Rewrites done, and helper calls of rewrites that gave NULL. A rewrite
 * branches on the pointer the helper gave itself: the verifier learns it
 * is not NULL from that only.
 */
__u32 rewrites;
__u32 helper_null;

/* A writable copy of the struct of in arg 0, of @size, or NULL */
static __always_inline void *writeable_in(struct __bpf_fuse_args *fa,
					  __u32 size)
{
	return bpf_fuse_get_writeable_in(fa, 0,
					 (void *)(long)fa->in_args[0].value,
					 size, REWRITE_COPY);
}

/* A writable copy of the struct of out arg 0, of @size, or NULL */
static __always_inline void *writeable_out(struct __bpf_fuse_args *fa,
					   __u32 size)
{
	return bpf_fuse_get_writeable_out(fa, 0,
					  (void *)(long)fa->out_args[0].value,
					  size, REWRITE_COPY);
}

/*
 * A field of the context, at a constant offset from the context pointer.
 * In plain C, clang may merge the code of the three in args into one that
 * adds the offset to the context pointer, which the verifier refuses.
 */
#define CTX_LOAD(type, fa, member) ({					\
	type __v;							\
									\
	asm volatile("%0 = *(" #type " *)(%1 + %2)"			\
		     : "=r"(__v)					\
		     : "r"(fa),						\
		       "i"(__builtin_offsetof(struct __bpf_fuse_args,	\
					      member)));		\
	__v;								\
})

/* The fields of an in arg, as the context has them */
struct in_arg {
	__u64 value;
	__u64 end;
	__u32 size;
	__u32 max_size;
};

/*
 * In arg @i, a constant, into @a: each case loads the fields at constant
 * offsets of the context, see CTX_LOAD.
 */
static __always_inline bool load_in_arg(struct __bpf_fuse_args *fa, __u32 i,
					struct in_arg *a)
{
	switch (i) {
	case 0:
		a->value = CTX_LOAD(u64, fa, in_args[0].value);
		a->end = CTX_LOAD(u64, fa, in_args[0].end_offset);
		a->size = CTX_LOAD(u32, fa, in_args[0].size);
		a->max_size = CTX_LOAD(u32, fa, in_args[0].max_size);
		return true;
	case 1:
		a->value = CTX_LOAD(u64, fa, in_args[1].value);
		a->end = CTX_LOAD(u64, fa, in_args[1].end_offset);
		a->size = CTX_LOAD(u32, fa, in_args[1].size);
		a->max_size = CTX_LOAD(u32, fa, in_args[1].max_size);
		return true;
	case 2:
		a->value = CTX_LOAD(u64, fa, in_args[2].value);
		a->end = CTX_LOAD(u64, fa, in_args[2].end_offset);
		a->size = CTX_LOAD(u32, fa, in_args[2].size);
		a->max_size = CTX_LOAD(u32, fa, in_args[2].max_size);
		return true;
	default:
		return false;
	}
}

/* In arg @i, a constant, is from (its size, its NUL included): make it to */
static __always_inline void rewrite_name(struct __bpf_fuse_args *fa, __u32 i)
{
	struct in_arg a;
	__u8 *v, *end;
	char *p;
	int k;

	if (!load_in_arg(fa, i, &a))
		return;
	if (!a.max_size || a.size != REWRITE_NAME_SIZE)
		return;
	v = (__u8 *)(long)a.value;
	end = (__u8 *)(long)a.end;
	if (v + REWRITE_NAME_SIZE > end)
		return;
#pragma unroll
	for (k = 0; k < REWRITE_NAME_SIZE; k++)
		if (v[k] != (__u8)from[k])
			return;
	name_hits++;
	if (name_count)
		return;
	if (to_dotdot) {
		p = bpf_fuse_get_writeable_in(fa, i, v, 3, 0);
		if (!p) {
			helper_null++;
			return;
		}
		rewrites++;
		p[0] = '.';
		p[1] = '.';
		p[2] = 0;
		return;
	}
	p = bpf_fuse_get_writeable_in(fa, i, v, REWRITE_NAME_SIZE, 0);
	if (!p) {
		helper_null++;
		return;
	}
	rewrites++;
#pragma unroll
	for (k = 0; k < REWRITE_NAME_SIZE; k++)
		p[k] = to[k];
}

static __always_inline __u32 probe_result(void *buf)
{
	return buf ? PROBE_BUF : PROBE_NULL;
}

/* The calls that must fail, on an operation with two in args */
static __always_inline void probe_pre(struct __bpf_fuse_args *fa)
{
	void *p;

	seen_in_numargs = fa->in_numargs;
	seen_in_size[0] = fa->in_args[0].size;
	seen_in_size[1] = fa->in_args[1].size;
	seen_in_size[2] = fa->in_args[2].size;
	seen_in_max[0] = fa->in_args[0].max_size;
	seen_in_max[1] = fa->in_args[1].max_size;
	seen_in_max[2] = fa->in_args[2].max_size;

	p = bpf_fuse_get_writeable_in(fa, 2,
				      (void *)(long)fa->in_args[0].value,
				      sizeof(struct fuse_mkdir_in), 0);
	probe[PROBE_INDEX] = probe_result(p);
	p = bpf_fuse_get_writeable_in(fa, 0,
				      (void *)(long)fa->in_args[1].value,
				      sizeof(struct fuse_mkdir_in), 0);
	probe[PROBE_VALUE] = probe_result(p);
	p = bpf_fuse_get_writeable_in(fa, 0,
				      (void *)(long)fa->in_args[0].value,
				      sizeof(struct fuse_mkdir_in) + 8, 0);
	probe[PROBE_SIZE] = probe_result(p);
	p = bpf_fuse_get_writeable_in(fa, 1,
				      (void *)(long)fa->in_args[1].value,
				      256 + 1, REWRITE_COPY);
	probe[PROBE_MAX_SIZE] = probe_result(p);
	p = bpf_fuse_get_writeable_in(fa, 0,
				      (void *)(long)fa->in_args[0].value,
				      sizeof(struct fuse_mkdir_in), 2);
	probe[PROBE_FLAGS] = probe_result(p);
	p = bpf_fuse_get_writeable_out(fa, 0,
				       (void *)(long)fa->in_args[0].value,
				       sizeof(struct fuse_mkdir_in), 0);
	probe[PROBE_OUT_PRE] = probe_result(p);
}

/* Pre-filter rewrites of the struct in arg 0 */
static __always_inline void rewrite_in(struct __bpf_fuse_args *fa, __u32 op)
{
	if (fa->in_numargs < 1)
		return;

	if (op == OP_SETATTR &&
	    (sa_set_mode || sa_set_size || sa_set_uid || sa_valid_xor)) {
		struct fuse_setattr_in *in;

		in = writeable_in(fa, sizeof(*in));
		if (!in) {
			helper_null++;
			return;
		}
		rewrites++;
		if (sa_set_mode)
			in->mode = (in->mode & S_IFMT) | sa_mode;
		if (sa_set_size)
			in->size = sa_size;
		if (sa_set_uid)
			in->uid = sa_uid;
		in->valid ^= sa_valid_xor;
		return;
	}

	if (op == OP_OPEN && open_xor) {
		struct fuse_open_in *in = writeable_in(fa, sizeof(*in));

		if (!in) {
			helper_null++;
			return;
		}
		rewrites++;
		in->flags ^= open_xor;
		return;
	}

	if (op == OP_FSYNC && fsync_set) {
		struct fuse_fsync_in *in = writeable_in(fa, sizeof(*in));

		if (!in) {
			helper_null++;
			return;
		}
		rewrites++;
		in->fsync_flags = fsync_flags;
		return;
	}

	if (op == OP_ACCESS && access_mask) {
		struct fuse_access_in *v, *in;

		v = (void *)(long)fa->in_args[0].value;
		if ((void *)(v + 1) > (void *)(long)fa->in_args[0].end_offset)
			return;
		if (v->mask != access_mask)
			return;
		in = bpf_fuse_get_writeable_in(fa, 0, v, sizeof(*in),
					       REWRITE_COPY);
		if (!in) {
			helper_null++;
			return;
		}
		rewrites++;
		return;
	}

	if (op == OP_SETXATTR && xvalue_in && fa->in_numargs == 3) {
		char *p;
		int k;

		p = bpf_fuse_get_writeable_in(fa, 2,
					      (void *)(long)fa->in_args[2].value,
					      REWRITE_NAME_SIZE, 0);
		if (!p) {
			helper_null++;
			return;
		}
		rewrites++;
#pragma unroll
		for (k = 0; k < REWRITE_NAME_SIZE; k++)
			p[k] = xvalue[k];
		return;
	}

	if (!io_op || op != io_op ||
	    !(io_set_offset || io_set_size || io_set_mode))
		return;
	if (op == OP_READ) {
		struct fuse_read_in *in = writeable_in(fa, sizeof(*in));

		if (!in) {
			helper_null++;
			return;
		}
		rewrites++;
		if (io_set_offset)
			in->offset = io_offset;
		if (io_set_size)
			in->size = io_size;
	} else if (op == OP_WRITE) {
		struct fuse_write_in *in = writeable_in(fa, sizeof(*in));

		if (!in) {
			helper_null++;
			return;
		}
		rewrites++;
		if (io_set_offset)
			in->offset = io_offset;
		if (io_set_size)
			in->size = io_size;
	} else if (op == OP_LSEEK) {
		struct fuse_lseek_in *in = writeable_in(fa, sizeof(*in));

		if (!in) {
			helper_null++;
			return;
		}
		rewrites++;
		if (io_set_offset)
			in->offset = io_offset;
		if (io_set_mode)
			in->whence = io_mode;
	} else if (op == OP_FALLOCATE) {
		struct fuse_fallocate_in *in;

		in = writeable_in(fa, sizeof(*in));
		if (!in) {
			helper_null++;
			return;
		}
		rewrites++;
		if (io_set_offset)
			in->offset = io_offset;
		if (io_set_size)
			in->length = io_size;
		if (io_set_mode)
			in->mode = io_mode;
	}
}

/* The pre-filter of watch_op: count it, keep the start of in arg 0 */
static __always_inline void watch_pre(struct __bpf_fuse_args *fa)
{
	__u32 *v = (void *)(long)fa->in_args[0].value;

	watch_count++;
	if ((void *)(v + 2) > (void *)(long)fa->in_args[0].end_offset)
		return;
	watch_in[0] = v[0];
	watch_in[1] = v[1];
	if ((void *)(v + 4) > (void *)(long)fa->in_args[0].end_offset)
		return;
	watch_in[2] = v[2];
	watch_in[3] = v[3];
}

/* The pre-filter of touch_in_op: in arg 0 copied, touch_in_xor into it */
static __always_inline void touch_in(struct __bpf_fuse_args *fa, __u32 op)
{
	__u32 *p;

	if (op == OP_COPY_FILE_RANGE)
		p = writeable_in(fa, sizeof(struct fuse_copy_file_range_in));
	else if (op == OP_IOCTL)
		p = writeable_in(fa, sizeof(struct fuse_ioctl_in));
	else if (op == OP_FLUSH)
		p = writeable_in(fa, sizeof(struct fuse_flush_in));
	else if (op == OP_RELEASE || op == OP_RELEASEDIR)
		p = writeable_in(fa, sizeof(struct fuse_release_in));
	else
		/* LINK, ACCESS: 8 bytes; the others have no in arg 0 */
		p = writeable_in(fa, sizeof(struct fuse_link_in));
	if (!p) {
		helper_null++;
		return;
	}
	rewrites++;
	p[0] ^= touch_in_xor;
}

/* Post-filter rewrites of a success's out arg 0 */
static __always_inline void rewrite_out(struct __bpf_fuse_args *fa, __u32 op)
{
	if (fa->out_numargs < 1) {
		if (!touch_out)
			return;
		/* There is none to give a buffer to */
		if (writeable_out(fa, sizeof(struct fuse_write_out)))
			rewrites++;
		else
			helper_null++;
		return;
	}

	if (op == OP_LOOKUP) {
		struct fuse_entry_out *v, *out;
		__u32 *w;

		v = (void *)(long)fa->out_args[0].value;
		if ((void *)(v + 1) > (void *)(long)fa->out_args[0].end_offset)
			return;
		lookup_ino = v->attr.ino;
		lookup_entry_valid = v->entry_valid;
		lookup_entry_valid_nsec = v->entry_valid_nsec;
		if (!touch_out && !entry_xor)
			return;
		out = bpf_fuse_get_writeable_out(fa, 0, v, sizeof(*out),
						 REWRITE_COPY);
		if (!out) {
			helper_null++;
			return;
		}
		rewrites++;
		w = (void *)out + (entry_xor_off & (sizeof(*out) - 4));
		*w ^= entry_xor;
		return;
	}

	if (op == OP_GETATTR) {
		struct fuse_attr_out *v, *out;

		v = (void *)(long)fa->out_args[0].value;
		if ((void *)(v + 1) > (void *)(long)fa->out_args[0].end_offset)
			return;
		if (match_ino && v->attr.ino != match_ino)
			return;
		if (!(attr_set_size || attr_set_uid || attr_mode_xor))
			return;
		out = bpf_fuse_get_writeable_out(fa, 0, v, sizeof(*out),
						 REWRITE_COPY);
		if (!out) {
			helper_null++;
			return;
		}
		rewrites++;
		if (attr_set_size)
			out->attr.size = attr_size;
		if (attr_set_uid)
			out->attr.uid = attr_uid;
		out->attr.mode ^= attr_mode_xor;
		return;
	}

	if (op == OP_STATFS && statfs_set_blocks) {
		struct fuse_statfs_out *out;

		out = writeable_out(fa, sizeof(*out));
		if (!out) {
			helper_null++;
			return;
		}
		rewrites++;
		out->st.blocks = statfs_blocks;
		return;
	}

	if ((op == OP_READ || op == OP_WRITE || op == OP_COPY_FILE_RANGE) &&
	    (out_set_size || touch_out)) {
		struct fuse_write_out *out;

		out = writeable_out(fa, sizeof(*out));
		if (!out) {
			helper_null++;
			return;
		}
		rewrites++;
		if (out_set_size)
			out->size = out_size;
		return;
	}

	if ((op == OP_GETXATTR || op == OP_LISTXATTR || op == OP_READLINK) &&
	    xvalue_out) {
		char *p;
		int k;

		p = (void *)(long)fa->out_args[0].value;
		if (out_empty) {
			if (bpf_fuse_get_writeable_out(fa, 0, p, 0, 0))
				rewrites++;
			else
				helper_null++;
			return;
		}
		p = bpf_fuse_get_writeable_out(fa, 0, p, REWRITE_NAME_SIZE, 0);
		if (!p) {
			helper_null++;
			return;
		}
		rewrites++;
#pragma unroll
		for (k = 0; k < REWRITE_NAME_SIZE; k++)
			p[k] = xvalue[k];
	}
}

SEC("fuse")
int fuse_rewrite(struct __bpf_fuse_args *fa)
{
	__u32 op = fa->opcode & FUSE_OPCODE_FILTER;
	void *p;

	if (fa->opcode & FUSE_POSTFILTER) {
		post_count++;
		post_error_in = fa->error_in;
		if (probe_op && op == probe_op) {
			p = (void *)(long)fa->in_args[0].value;
			p = bpf_fuse_get_writeable_in(fa, 0, p,
						      sizeof(struct fuse_mkdir_in),
						      0);
			probe[PROBE_IN_POST] = probe_result(p);
		}
		if (!post_op || op != post_op)
			return BPF_FUSE_CONTINUE;
		if (!fa->error_in)
			rewrite_out(fa, op);
		return post_ret;
	}

	pre_count++;
	if (watch_op && op == watch_op)
		watch_pre(fa);
	if (probe_op && op == probe_op)
		probe_pre(fa);
	if (op < 64 && (name_ops & (1ULL << op))) {
		rewrite_name(fa, 0);
		rewrite_name(fa, 1);
		rewrite_name(fa, 2);
	}
	rewrite_in(fa, op);
	if (touch_in_op && op == touch_in_op)
		touch_in(fa, op);

	if (pre_op && op == pre_op)
		return pre_ret;
	if (post_op && op == post_op)
		return BPF_FUSE_POSTFILTER;
	return BPF_FUSE_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
