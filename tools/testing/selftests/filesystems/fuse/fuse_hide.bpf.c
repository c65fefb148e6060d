// SPDX-License-Identifier: GPL-2.0
/*
 * Folder hiding, two BPF_PROG_TYPE_FUSE programs.
 *
 * fuse_hide makes one name vanish from every directory it filters. Its
 * lookup fails with ENOENT before the backing directory is asked, so
 * nothing can be opened, created, renamed or removed under that name, and
 * readdir drops its entry from the page of records the backing directory
 * gave. Userspace sets the name through the skeleton before loading the
 * program: it is in .bss, which stays writable, so the program checks the
 * length it reads before every use.
 *
 * app_dirs hides the private folders of apps from the other apps, as
 * Android does for Android/data: see there.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/* #defines of uapi headers are not in the BTF */
#define FUSE_OPCODE_FILTER	0x0ffff
#define FUSE_POSTFILTER		0x20000
#define OP_LOOKUP		1
#define OP_READDIR		28

#define EPERM			1
#define ENOENT			2
#define ENOMEM			12
#define EACCES			13
#define OP_ACCESS		34

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

/*
 * app_dirs: the owner uid of each app folder, by name, as the package
 * manager knows them. The key is the name zero-padded, and its length:
 * names of APP_NAME_MAX bytes or more match no key.
 */
#define APP_NAME_MAX		32

struct app_name {
	__u64 w[APP_NAME_MAX / 8];
	__u32 len;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct app_name);
	__type(value, __u32);
} app_owner SEC(".maps");

/* What app_dirs did */
__u64 app_lookups_hidden;
__u64 app_refusals_hidden;

/* Is the app folder @key another app's, for @uid? Root sees them all */
static __always_inline bool app_hidden(const struct app_name *key, __u32 uid)
{
	__u32 *owner;

	if (!uid)
		return false;
	owner = bpf_map_lookup_elem(&app_owner, key);
	return owner && *owner != uid;
}

/*
 * The same for the record at @off of @buf, of name length @namelen. No
 * branch depends on @namelen, which gives the offset of the next record:
 * the verifier would follow each range of it apart, in every record of
 * the page. Words of the name are read as in record_is_hidden(), and
 * those past it are masked out, without a comparison.
 */
static __always_inline bool record_is_app_hidden(const __u8 *buf, __u64 off,
						 __u32 namelen, __u32 uid)
{
	__u64 n = namelen & (APP_NAME_MAX - 1);
	struct app_name key;
	__u64 word, d;
	int w;

	key.len = namelen;
	key.pad = 0;
	for (w = 0; w < APP_NAME_MAX / 8; w++) {
		word = *(const __u64 *)(buf + ((off + DIRENT_NAME + w * 8) &
					       (DIRENT_PAGE - 8)));
		/*
		 * All ones if the word starts inside the name, else zero:
		 * the sign of w * 8 - n, which the compiler must not turn
		 * into a branch.
		 */
		d = (__u64)(w * 8) - n;
		barrier_var(d);
		key.w[w] = word & -(d >> 63);
	}
	return app_hidden(&key, uid);
}

/* The name a LOOKUP looks up as a key; false if it cannot be an app's */
static __always_inline bool lookup_app_key(struct __bpf_fuse_args *fa,
					   struct app_name *key)
{
	const __u8 *name = (const __u8 *)(long)fa->in_args[0].value;
	const __u8 *end = (const __u8 *)(long)fa->in_args[0].end_offset;
	__u32 size = fa->in_args[0].size;
	__u8 *k = (__u8 *)key;
	int i;

	__builtin_memset(key, 0, sizeof(*key));
	if (fa->in_numargs != 1 || size < 2 || size > APP_NAME_MAX)
		return false;
	key->len = size - 1;
	for (i = 0; i < APP_NAME_MAX - 1; i++) {
		if (i >= size - 1)
			break;
		if (name + i + 1 > end)
			return false;
		k[i] = name[i];
	}
	return true;
}

/*
 * Drop the records hidden from a readdir page: that of the hidden name,
 * or for @apps those of the other apps' folders, for @uid.
 */
static __always_inline int hide_entry(struct __bpf_fuse_args *fa,
				      const bool apps, __u32 uid)
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
		if (apps ? record_is_app_hidden(buf, off, namelen, uid) :
			   record_is_hidden(buf, off, namelen)) {
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
			return hide_entry(fa, false, 0);
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

/*
 * app_dirs: an app folder (a name of app_owner) is hidden from every uid
 * but its owner's and root's: its lookup fails with ENOENT and readdir
 * leaves it out, so another app cannot tell it exists. Nor can a refusal
 * tell it: a lookup or a permission check the backing filesystem refused
 * with EPERM or EACCES (under the credentials of the backing, which the
 * caller passed on the FUSE side already) fails with ENOENT too.
 */
SEC("fuse")
int app_dirs(struct __bpf_fuse_args *fa)
{
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	__u32 opcode = fa->opcode;
	__u32 op = opcode & FUSE_OPCODE_FILTER;
	struct app_name key;
	__s32 err;

	if (!(opcode & FUSE_POSTFILTER))
		return op == OP_LOOKUP || op == OP_ACCESS || op == OP_READDIR ?
		       BPF_FUSE_POSTFILTER : BPF_FUSE_CONTINUE;
	err = (__s32)fa->error_in;
	if (op == OP_READDIR)
		return err ? BPF_FUSE_CONTINUE : hide_entry(fa, true, uid);
	if (err == -EPERM || err == -EACCES) {
		__sync_fetch_and_add(&app_refusals_hidden, 1);
		return -ENOENT;
	}
	if (op == OP_LOOKUP && !err && lookup_app_key(fa, &key) &&
	    app_hidden(&key, uid)) {
		__sync_fetch_and_add(&app_lookups_hidden, 1);
		return -ENOENT;
	}
	return BPF_FUSE_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
