// SPDX-License-Identifier: GPL-2.0
/*
 * Folder hiding: a BPF_PROG_TYPE_FUSE program that makes one name vanish
 * from every directory it filters. Its lookup fails with ENOENT before the
 * backing directory is asked, so nothing can be opened, created, renamed
 * or removed under that name, and readdir drops its entry from the page
 * of records the backing directory gave.
 *
 * Userspace sets the name through the skeleton before loading the
 * program: it is in .bss, which stays writable, so the program checks the
 * length it reads before every use.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/* #defines of uapi headers are not in the BTF */
#define FUSE_OPCODE_FILTER	0x0ffff
#define FUSE_POSTFILTER		0x20000
#define OP_LOOKUP		1
#define OP_READDIR		28

#define ENOENT			2
#define ENOMEM			12

/*
 * The records of a readdir page, struct fuse_dirent: ino @0, off @8,
 * namelen @16, type @20, the name @24, each padded to 8 bytes.
 */
#define DIRENT_INO		0
#define DIRENT_NAMELEN		16
#define DIRENT_NAME		24
#define DIRENT_ALIGN(x)		(((x) + 7) & ~7ULL)
/* The page readdir fills (max_size of its reply): PAGE_SIZE on x86 */
#define DIRENT_PAGE		4096
/* The smallest record, a 1-byte name, is 32 bytes: at most 128 a page */
#define MAX_RECORDS		(DIRENT_PAGE / DIRENT_ALIGN(DIRENT_NAME + 1))

#define HIDDEN_MAX		64

/*
 * The name to hide, without its NUL and zero-padded, and its length
 * (1..HIDDEN_MAX - 1). Records are compared to it 8 bytes at a time.
 */
union {
	char c[HIDDEN_MAX];
	__u64 w[HIDDEN_MAX / 8];
} hidden_name;
__u32 hidden_len;

/* What the program did */
__u64 lookups_hidden;
__u64 entries_hidden;
__u64 pages_seen;
__u64 copy_failures;

/* Is the name a lookup looks up (in_args[0], with its NUL) the hidden one? */
static __always_inline bool lookup_is_hidden(struct __bpf_fuse_args *fa)
{
	const char *name = (const char *)(long)fa->in_args[0].value;
	const char *end = (const char *)(long)fa->in_args[0].end_offset;
	__u32 size = fa->in_args[0].size;
	__u32 len = hidden_len;
	int i;

	if (!len || len >= HIDDEN_MAX || size != len + 1)
		return false;
	for (i = 0; i < HIDDEN_MAX - 1; i++) {
		if (i >= len)
			break;
		if (name + i + 1 > end)
			return false;
		if ((__u8)name[i] != (__u8)hidden_name.c[i])
			return false;
	}
	return true;
}

/*
 * Is the record at @off of @buf, of name length @namelen, the hidden
 * name? A record's name is zero-padded to 8 bytes, as the hidden name is:
 * they are compared a word at a time, which keeps the program small for
 * the verifier. The offsets are masked to the page: always inside the
 * buffer, and unchanged for a record that fits in it, as fuse_backed_emit()
 * requires of every record it gives the caller; records are 8-aligned.
 */
static __always_inline bool record_is_hidden(const __u8 *buf, __u64 off,
					     __u32 namelen)
{
	__u32 len = hidden_len;
	__u64 word;
	int w;

	if (!len || len >= HIDDEN_MAX || namelen != len)
		return false;
	for (w = 0; w < HIDDEN_MAX / 8; w++) {
		if (w * 8 >= len)
			break;
		word = *(const __u64 *)(buf + ((off + DIRENT_NAME + w * 8) &
					       (DIRENT_PAGE - 8)));
		if (word != hidden_name.w[w])
			return false;
	}
	return true;
}

/* Drop the record of the hidden name from a readdir page */
static __always_inline int hide_entry(struct __bpf_fuse_args *fa)
{
	void *value = (void *)(long)fa->out_args[0].value;
	__u64 off = 0;
	__u8 *buf;
	int i;

	__sync_fetch_and_add(&pages_seen, 1);
	if (fa->out_numargs != 1 || !fa->out_args[0].size)
		return BPF_FUSE_CONTINUE;
	/*
	 * The whole page: the records are copied, the rest is zero, which
	 * ends the records. Fail rather than show the name without a copy.
	 */
	buf = bpf_fuse_get_writeable_out(fa, 0, value, DIRENT_PAGE,
					 BPF_FUSE_COPY);
	if (!buf) {
		__sync_fetch_and_add(&copy_failures, 1);
		return -ENOMEM;
	}

	for (i = 0; i < MAX_RECORDS; i++) {
		__u32 namelen;

		/* Room for the header: off + 24 <= 4096 */
		if (off > DIRENT_PAGE - DIRENT_NAME)
			break;
		barrier_var(off);
		namelen = *(__u32 *)(buf + off + DIRENT_NAMELEN);
		if (!namelen)
			break;
		if (record_is_hidden(buf, off, namelen)) {
			/* fuse_backed_emit() drops a record of inode 0 */
			*(__u64 *)(buf + off + DIRENT_INO) = 0;
			__sync_fetch_and_add(&entries_hidden, 1);
		}
		off += DIRENT_ALIGN(DIRENT_NAME + (__u64)namelen);
	}
	return BPF_FUSE_CONTINUE;
}

SEC("fuse")
int fuse_hide(struct __bpf_fuse_args *fa)
{
	__u32 opcode = fa->opcode;
	__u32 op = opcode & FUSE_OPCODE_FILTER;

	if (opcode & FUSE_POSTFILTER) {
		if (op == OP_READDIR && !fa->error_in)
			return hide_entry(fa);
		return BPF_FUSE_CONTINUE;
	}
	if (op == OP_LOOKUP && fa->in_numargs == 1 && lookup_is_hidden(fa)) {
		__sync_fetch_and_add(&lookups_hidden, 1);
		return -ENOENT;
	}
	if (op == OP_READDIR)
		return BPF_FUSE_POSTFILTER;
	return BPF_FUSE_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
