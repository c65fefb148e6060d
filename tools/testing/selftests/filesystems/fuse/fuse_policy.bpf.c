// SPDX-License-Identifier: GPL-2.0
/*
 * Policies as BPF_PROG_TYPE_FUSE programs, one per program:
 *
 * - read_only: every operation that would modify the backing filesystem
 *   fails with EROFS; attached to a directory, it makes its subtree
 *   read-only;
 * - uid_policy: what each user may do, from a map the administrator
 *   updates while the filesystem is in use: read, write, both or nothing;
 * - casefold: names are looked up, made and removed in lower case, so that
 *   any case finds an entry of the backing directory, whose names are
 *   lower case;
 * - xattr_prefix: the user. extended attributes a process sees are those
 *   of the backing inode under user.app., its own namespace;
 * - redact: reads of a range of a file (a photo's location block) come
 *   from the server, the rest from the backing file.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "fuse_bpf_test.h"

/* #defines of uapi headers are not in the BTF */
#define FUSE_OPCODE_FILTER	0x0ffff
#define FUSE_POSTFILTER		0x20000
#define BPF_FUSE_COPY_FLAG	1ULL

#define OP_LOOKUP		1
#define OP_SETATTR		4
#define OP_SYMLINK		6
#define OP_MKNOD		8
#define OP_MKDIR		9
#define OP_UNLINK		10
#define OP_RMDIR		11
#define OP_RENAME		12
#define OP_LINK			13
#define OP_OPEN			14
#define OP_READ			15
#define OP_WRITE		16
#define OP_SETXATTR		21
#define OP_GETXATTR		22
#define OP_REMOVEXATTR		24
#define OP_ACCESS		34
#define OP_CREATE		35
#define OP_FALLOCATE		43
#define OP_RENAME2		45
#define OP_COPY_FILE_RANGE	47
#define OP_TMPFILE		51
#define OP_FILEATTR_SET		0xfff1

#define O_ACCMODE		3
#define O_TRUNC			01000
#define MAY_WRITE		2

#define EROFS			30
#define ENOMEM			12

/* uid_policy: the values of uid_access */
#define POLICY_READ		1
#define POLICY_WRITE		2

/* Would the operation @op, of arguments @fa, modify anything? */
static __always_inline bool modifies(struct __bpf_fuse_args *fa, __u32 op)
{
	__u32 *in = (__u32 *)(long)fa->in_args[0].value;
	__u32 *end = (__u32 *)(long)fa->in_args[0].end_offset;

	switch (op) {
	case OP_SETATTR:
	case OP_SYMLINK:
	case OP_MKNOD:
	case OP_MKDIR:
	case OP_UNLINK:
	case OP_RMDIR:
	case OP_RENAME:
	case OP_LINK:
	case OP_WRITE:
	case OP_SETXATTR:
	case OP_REMOVEXATTR:
	case OP_CREATE:
	case OP_FALLOCATE:
	case OP_RENAME2:
	case OP_COPY_FILE_RANGE:
	case OP_TMPFILE:
	case OP_FILEATTR_SET:
		return true;
	case OP_OPEN:
		/* struct fuse_open_in: flags first */
		if (fa->in_numargs < 1 || in + 1 > end)
			return true;
		return (in[0] & O_ACCMODE) || (in[0] & O_TRUNC);
	case OP_ACCESS:
		/* struct fuse_access_in: mask first */
		if (fa->in_numargs < 1 || in + 1 > end)
			return true;
		return in[0] & MAY_WRITE;
	}
	return false;
}

/* read_only: what it refused */
__u64 refused;

SEC("fuse")
int read_only(struct __bpf_fuse_args *fa)
{
	__u32 op = fa->opcode & FUSE_OPCODE_FILTER;

	if (fa->opcode & FUSE_POSTFILTER)
		return BPF_FUSE_CONTINUE;
	if (modifies(fa, op)) {
		__sync_fetch_and_add(&refused, 1);
		return -EROFS;
	}
	return BPF_FUSE_CONTINUE;
}

/* uid_policy: POLICY_* of each uid; a uid not in it may do anything */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} uid_access SEC(".maps");

__u64 denied;

SEC("fuse")
int uid_policy(struct __bpf_fuse_args *fa)
{
	__u32 op = fa->opcode & FUSE_OPCODE_FILTER;
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	__u32 need, *allowed;

	if (fa->opcode & FUSE_POSTFILTER)
		return BPF_FUSE_CONTINUE;
	allowed = bpf_map_lookup_elem(&uid_access, &uid);
	if (!allowed)
		return BPF_FUSE_CONTINUE;
	need = modifies(fa, op) ? POLICY_WRITE : POLICY_READ;
	if (*allowed & need)
		return BPF_FUSE_CONTINUE;
	__sync_fetch_and_add(&denied, 1);
	return -EACCES;
}

/* In arg @i (0 or 1) of @fa: its start, end and size; false if none */
static __always_inline bool load_arg(struct __bpf_fuse_args *fa, __u32 i,
				     __u8 **v, __u8 **end, __u32 *size)
{
	if (i >= fa->in_numargs)
		return false;
	if (i == 0) {
		*v = (__u8 *)(long)fa->in_args[0].value;
		*end = (__u8 *)(long)fa->in_args[0].end_offset;
		*size = fa->in_args[0].size;
	} else {
		*v = (__u8 *)(long)fa->in_args[1].value;
		*end = (__u8 *)(long)fa->in_args[1].end_offset;
		*size = fa->in_args[1].size;
	}
	return true;
}

/*
 * Names are rewritten into a buffer of the same size, which the helper
 * needs as a constant: one case per size, names of up to NAME_SIZE_MAX - 1
 * characters. Longer names are left as they are.
 */
#define NAME_SIZE_MAX		32

__u64 folded;

/* Lower the case of the @n bytes of in arg @i at @v, a constant size */
static __always_inline int fold_n(struct __bpf_fuse_args *fa, __u32 i,
				  __u8 *v, const __u32 n)
{
	__u8 *p;
	__u32 k;

	p = bpf_fuse_get_writeable_in(fa, i, v, n, BPF_FUSE_COPY_FLAG);
	if (!p)
		return -ENOMEM;
	for (k = 0; k < n; k++)
		if (p[k] >= 'A' && p[k] <= 'Z')
			p[k] += 'a' - 'A';
	__sync_fetch_and_add(&folded, 1);
	return 0;
}

/* Lower the case of the name in argument @i if it has an upper case letter */
static __always_inline int fold_arg(struct __bpf_fuse_args *fa, __u32 i)
{
	bool upper = false;
	__u8 *v, *end;
	__u32 size, k;

	if (!load_arg(fa, i, &v, &end, &size))
		return 0;
	if (size < 2 || size > NAME_SIZE_MAX)
		return 0;
	for (k = 0; k < NAME_SIZE_MAX; k++) {
		if (k >= size || v + k + 1 > end)
			break;
		if (v[k] >= 'A' && v[k] <= 'Z')
			upper = true;
	}
	if (!upper)
		return 0;

	switch (size) {
	case 2: return fold_n(fa, i, v, 2);
	case 3: return fold_n(fa, i, v, 3);
	case 4: return fold_n(fa, i, v, 4);
	case 5: return fold_n(fa, i, v, 5);
	case 6: return fold_n(fa, i, v, 6);
	case 7: return fold_n(fa, i, v, 7);
	case 8: return fold_n(fa, i, v, 8);
	case 9: return fold_n(fa, i, v, 9);
	case 10: return fold_n(fa, i, v, 10);
	case 11: return fold_n(fa, i, v, 11);
	case 12: return fold_n(fa, i, v, 12);
	case 13: return fold_n(fa, i, v, 13);
	case 14: return fold_n(fa, i, v, 14);
	case 15: return fold_n(fa, i, v, 15);
	case 16: return fold_n(fa, i, v, 16);
	case 17: return fold_n(fa, i, v, 17);
	case 18: return fold_n(fa, i, v, 18);
	case 19: return fold_n(fa, i, v, 19);
	case 20: return fold_n(fa, i, v, 20);
	case 21: return fold_n(fa, i, v, 21);
	case 22: return fold_n(fa, i, v, 22);
	case 23: return fold_n(fa, i, v, 23);
	case 24: return fold_n(fa, i, v, 24);
	case 25: return fold_n(fa, i, v, 25);
	case 26: return fold_n(fa, i, v, 26);
	case 27: return fold_n(fa, i, v, 27);
	case 28: return fold_n(fa, i, v, 28);
	case 29: return fold_n(fa, i, v, 29);
	case 30: return fold_n(fa, i, v, 30);
	case 31: return fold_n(fa, i, v, 31);
	case 32: return fold_n(fa, i, v, 32);
	}
	return 0;
}

SEC("fuse")
int casefold(struct __bpf_fuse_args *fa)
{
	__u32 op = fa->opcode & FUSE_OPCODE_FILTER;
	int err = 0;

	if (fa->opcode & FUSE_POSTFILTER)
		return BPF_FUSE_CONTINUE;
	switch (op) {
	case OP_LOOKUP:
	case OP_UNLINK:
	case OP_RMDIR:
	case OP_SYMLINK:
		/* The name first (SYMLINK: then its target, kept) */
		err = fold_arg(fa, 0);
		break;
	case OP_MKNOD:
	case OP_MKDIR:
	case OP_CREATE:
	case OP_LINK:
		/* A struct, then the name */
		err = fold_arg(fa, 1);
		break;
	}
	return err ? err : BPF_FUSE_CONTINUE;
}

/*
 * xattr_prefix: "user.NAME" is "user.app.NAME" on the backing inode. The
 * name is copied out before the helper, which invalidates the pointers
 * into the argument.
 */
#define XATTR_SIZE_MAX		32
#define PREFIX_LEN		4	/* "app." */

__u64 prefixed;

/* Give the @n-byte @name, argument @i at @v, the prefix: @n is constant */
static __always_inline int prefix_n(struct __bpf_fuse_args *fa, __u32 i,
				    __u8 *v, const char *name, const __u32 n)
{
	char *p;
	__u32 k;

	p = bpf_fuse_get_writeable_in(fa, i, v, n + PREFIX_LEN, 0);
	if (!p)
		return -ENOMEM;
	for (k = 0; k < 5; k++)
		p[k] = name[k];
	p[5] = 'a';
	p[6] = 'p';
	p[7] = 'p';
	p[8] = '.';
	for (k = 5; k < n; k++)
		p[k + PREFIX_LEN] = name[k];
	__sync_fetch_and_add(&prefixed, 1);
	return 0;
}

static __always_inline int prefix_arg(struct __bpf_fuse_args *fa, __u32 i)
{
	char name[XATTR_SIZE_MAX];
	__u8 *v, *end;
	__u32 size, k;

	if (!load_arg(fa, i, &v, &end, &size))
		return 0;
	/* "user.X" and its NUL at least; room for the prefix */
	if (size < 7 || size > XATTR_SIZE_MAX - PREFIX_LEN)
		return 0;
	for (k = 0; k < XATTR_SIZE_MAX; k++) {
		if (k >= size || v + k + 1 > end)
			break;
		name[k] = v[k];
	}
	if (k != size || name[0] != 'u' || name[1] != 's' || name[2] != 'e' ||
	    name[3] != 'r' || name[4] != '.')
		return 0;

	switch (size) {
	case 7: return prefix_n(fa, i, v, name, 7);
	case 8: return prefix_n(fa, i, v, name, 8);
	case 9: return prefix_n(fa, i, v, name, 9);
	case 10: return prefix_n(fa, i, v, name, 10);
	case 11: return prefix_n(fa, i, v, name, 11);
	case 12: return prefix_n(fa, i, v, name, 12);
	case 13: return prefix_n(fa, i, v, name, 13);
	case 14: return prefix_n(fa, i, v, name, 14);
	case 15: return prefix_n(fa, i, v, name, 15);
	case 16: return prefix_n(fa, i, v, name, 16);
	case 17: return prefix_n(fa, i, v, name, 17);
	case 18: return prefix_n(fa, i, v, name, 18);
	case 19: return prefix_n(fa, i, v, name, 19);
	case 20: return prefix_n(fa, i, v, name, 20);
	case 21: return prefix_n(fa, i, v, name, 21);
	case 22: return prefix_n(fa, i, v, name, 22);
	case 23: return prefix_n(fa, i, v, name, 23);
	case 24: return prefix_n(fa, i, v, name, 24);
	case 25: return prefix_n(fa, i, v, name, 25);
	case 26: return prefix_n(fa, i, v, name, 26);
	case 27: return prefix_n(fa, i, v, name, 27);
	case 28: return prefix_n(fa, i, v, name, 28);
	}
	return 0;
}

SEC("fuse")
int xattr_prefix(struct __bpf_fuse_args *fa)
{
	__u32 op = fa->opcode & FUSE_OPCODE_FILTER;
	int err = 0;

	if (fa->opcode & FUSE_POSTFILTER)
		return BPF_FUSE_CONTINUE;
	if (op == OP_GETXATTR || op == OP_SETXATTR)
		err = prefix_arg(fa, 1);
	else if (op == OP_REMOVEXATTR)
		err = prefix_arg(fa, 0);
	return err ? err : BPF_FUSE_CONTINUE;
}

/*
 * redact: the range [redact_start, redact_end) of every file is read from
 * the server, and written to it. A read or a write that starts before it
 * stops at it; one that starts in it stops at its end and goes to the
 * server; the caller reads or writes on.
 */
__u64 redact_start;
__u64 redact_end;
__u64 redirected;

SEC("fuse")
int redact(struct __bpf_fuse_args *fa)
{
	__u32 op = fa->opcode & FUSE_OPCODE_FILTER;
	struct fuse_read_in *in, *w;
	int verdict = BPF_FUSE_CONTINUE;
	__u64 off, end, size;

	if ((fa->opcode & FUSE_POSTFILTER) ||
	    (op != OP_READ && op != OP_WRITE) || fa->in_numargs < 1)
		return BPF_FUSE_CONTINUE;
	/* A struct fuse_write_in has its offset and size at the same place */
	in = (struct fuse_read_in *)(long)fa->in_args[0].value;
	if ((void *)(in + 1) > (void *)(long)fa->in_args[0].end_offset)
		return BPF_FUSE_CONTINUE;
	off = in->offset;
	end = off + in->size;
	if (end <= redact_start || off >= redact_end)
		return BPF_FUSE_CONTINUE;
	if (off < redact_start) {
		size = redact_start - off;
	} else {
		size = (end < redact_end ? end : redact_end) - off;
		verdict = BPF_FUSE_USER;
		__sync_fetch_and_add(&redirected, 1);
	}
	if (size != in->size) {
		w = bpf_fuse_get_writeable_in(fa, 0, in, sizeof(*in),
					      BPF_FUSE_COPY_FLAG);
		if (!w)
			return -ENOMEM;
		w->size = size;
	}
	return verdict;
}

char LICENSE[] SEC("license") = "GPL";
