// SPDX-License-Identifier: GPL-2.0
/*
 * A reply fuzzer for fuse-bpf.
 *
 * The test process plays a FUSE server on a fuse-bpf mount (the fuse_bpf
 * option, no backed root) and answers every request, for a bounded number
 * of client operations, with mutated replies: headers with wrong lengths,
 * unique ids and errors, truncated and oversized payloads, unmapped
 * buffers, notifications, interrupt replies, FUSE_DEV_IOC_BPF_REPLY
 * arguments of every shape, and LOOKUP extensions with random actions and
 * file descriptors of every kind. A forked client meanwhile works on the
 * mount. Each reply attempt whose outcome the kernel's reply parsing
 * (fuse_dev_do_write(), copy_out_args(), fuse_bpf_reply_fds()) determines
 * is checked for its exact errno; a request the kernel still holds gets a
 * valid reply at last, so that nothing hangs. The client must only ever
 * see success or an errno of a known set, the mount must still work with
 * a sane server afterwards, and unmount cleanly.
 *
 * The seed of each test is printed; FUSE_FUZZ_SEED=<n> replays one and
 * FUSE_FUZZ_ROUNDS=<n> sets the number of client operations.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "../../kselftest_harness.h"
#include "test_util.h"
#include "test_daemon.h"

/* Client operations per test, unless FUSE_FUZZ_ROUNDS says otherwise */
#define FZ_ROUNDS		400
/* Mounts of fuzz_init, each with a mutated FUSE_INIT reply */
#define FZ_INIT_MOUNTS		16
/* Client operations on each of them */
#define FZ_INIT_OPS		12
/* The client starts no operation after this many seconds */
#define FZ_CLIENT_SECS		25
/* Then the server kills it, and after as long again aborts */
#define FZ_HARD_SECS		40
#define FZ_POLL_MS		50
/* Per-test harness timeout, above all of the above */
#define FZ_TIMEOUT		150

/* max_write of the sane FUSE_INIT reply; mutated ones stay below 256k */
#define FZ_MAX_WRITE		(128 * 1024)
#define FZ_BUF_SIZE		(1024 * 1024 + 8192)
/* Size of plain files, and of the backing file of the sanity check */
#define FZ_FILE_SIZE		4096
#define FZ_SANE_SIZE		12345
#define FZ_SANE_INNER		"inner!!"
/* Nodeids the server hands out: FZ_NODE_BASE + number * 8 + type */
#define FZ_NODE_BASE		0x1000ULL
#define FZ_SANE_NODE		0x7000000000ULL
/* Errnos counted per value; larger ones in the last slot */
#define FZ_NR_ERRNO		160
/* A write(2) that returned a short count, not an errno */
#define FZ_ESHORT		(FZ_NR_ERRNO - 1)
#define FZ_MAX_NAMES		512
#define FZ_PATH_LEN		128
/* FUSE_NAME_MAX of the kernel: longer names in notifications are refused */
#define FZ_NAME_MAX		1024

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif

/* What the tests fuzz */
enum fz_mode {
	FZ_SANE,	/* no mutation: valid replies only */
	FZ_HEADERS,	/* write(2) of mutated headers and payloads */
	FZ_IOCTL,	/* FUSE_DEV_IOC_BPF_REPLY with mutated arguments */
	FZ_LOOKUP,	/* LOOKUP replies with random entries and extensions */
	FZ_INIT,	/* mutated FUSE_INIT replies */
};

/* Node types, encoded in the low 3 bits of the nodeid and in names */
enum fz_type {
	FZ_T_REG,	/* 'f': a plain file */
	FZ_T_DIR,	/* 'd': a plain directory */
	FZ_T_LNK,	/* 'l': a plain symlink */
	FZ_T_NEG,	/* 'n': no such entry */
	FZ_T_BREG,	/* 'b': backed by a file of the backing directory */
	FZ_T_BDIR,	/* 'B': backed by a directory of the backing directory */
	FZ_T_NR,
};

static const char fz_type_chars[] = "fdlnbB";

/* File descriptors of every kind for backing_fd and bpf_fd */
enum fz_kind {
	K_REG, K_REG_PATH, K_DIR, K_DIR_PATH, K_SYMLINK, K_BACKING_ROOT,
	K_MOUNT_DIR, K_EVENTFD, K_PIPE_R, K_PIPE_W, K_SOCKET, K_MEMFD,
	K_EPOLL, K_DEVNULL, K_PROC_FILE, K_PROC_DIR, K_FUSE_DEV, K_BPF_MAP,
	K_PROG_SOCKET, K_PROG_FUSE, K_CLOSED, K_INT_MAX, K_UNUSED,
	K_MINUS1, K_2_31, K_HUGE,
	K_NR,
};

static const char * const fz_kind_names[K_NR] = {
	"reg", "reg_path", "dir", "dir_path", "symlink", "backing_root",
	"mount_dir", "eventfd", "pipe_r", "pipe_w", "socket", "memfd",
	"epoll", "devnull", "proc_file", "proc_dir", "fuse_dev", "bpf_map",
	"prog_socket", "prog_fuse", "closed", "int_max", "unused",
	"minus1", "2^31", "huge",
};

/* Mutations of a reply attempt */
enum fz_mut {
	MU_SHORT,		/* fewer bytes than a header */
	MU_BADLEN,		/* header length != bytes sent */
	MU_POSERR,		/* positive error */
	MU_BIGERR,		/* error <= -512 */
	MU_UNIQUE,		/* no such request */
	MU_NOTIFY_CODE,		/* unique 0, unknown notification code */
	MU_NOTIFY_SIZE,		/* unique 0, known code, bad size */
	MU_INTR,		/* interrupt reply: taken, request left alone */
	MU_INTR_BAD,		/* bad interrupt reply */
	MU_ERR_PAYLOAD,		/* error reply with a payload */
	MU_LONG,		/* payload longer than the request takes */
	MU_SHORT_PAYLOAD,	/* payload shorter than the valid one */
	MU_EFAULT_HDR,		/* header in unmapped memory */
	MU_EFAULT_PAYLOAD,	/* payload running into unmapped memory */
	MU_SPLIT,		/* valid reply in many iovecs */
	MU_ERROR,		/* valid error reply */
	MU_IOC_FLAGS,		/* flags != 0 */
	MU_IOC_ARGP,		/* argument pointer unmapped or kernel */
	MU_IOC_BUF,		/* buffer pointer NULL, kernel, unmapped */
	MU_IOC_LEN,		/* len 0, < header, != header's */
	MU_IOC_LEN_HUGE,	/* len of gigabytes, header's unchanged */
	MU_IOC_LEN_HUGE_HDR,	/* len of gigabytes, header's too */
	MU_IOC_CMD,		/* not quite FUSE_DEV_IOC_BPF_REPLY */
	MU_LK_EXT,		/* random entry and extension via the ioctl */
	MU_LK_EXT_WRITE,	/* an extension written with write(2) */
	MU_LK_ENTRY,		/* random entry, no extension */
	MU_INIT,		/* mutated FUSE_INIT payload */
	MU_NR,
};

static const char * const fz_mut_names[MU_NR] = {
	"short", "badlen", "poserr", "bigerr", "unique", "notify_code",
	"notify_size", "intr", "intr_bad", "err_payload", "long",
	"short_payload", "efault_hdr", "efault_payload", "split", "error",
	"ioc_flags", "ioc_argp", "ioc_buf", "ioc_len", "ioc_len_huge",
	"ioc_len_huge_hdr", "ioc_cmd", "lk_ext", "lk_ext_write", "lk_entry",
	"init",
};

/* Mutations of fuzz_headers, all written with write(2) */
static const int fz_header_muts[] = {
	MU_SHORT, MU_BADLEN, MU_POSERR, MU_BIGERR, MU_UNIQUE, MU_NOTIFY_CODE,
	MU_NOTIFY_SIZE, MU_INTR, MU_INTR_BAD, MU_ERR_PAYLOAD, MU_LONG,
	MU_SHORT_PAYLOAD, MU_EFAULT_HDR, MU_EFAULT_PAYLOAD, MU_SPLIT,
	MU_ERROR,
};

/* Mutations of fuzz_ioctl_args, all through FUSE_DEV_IOC_BPF_REPLY */
static const int fz_ioctl_muts[] = {
	MU_SHORT, MU_BADLEN, MU_POSERR, MU_BIGERR, MU_UNIQUE, MU_NOTIFY_CODE,
	MU_NOTIFY_SIZE, MU_INTR, MU_INTR_BAD, MU_ERR_PAYLOAD, MU_LONG,
	MU_SHORT_PAYLOAD, MU_EFAULT_HDR, MU_EFAULT_PAYLOAD, MU_ERROR,
	MU_IOC_FLAGS, MU_IOC_ARGP, MU_IOC_BUF, MU_IOC_LEN, MU_IOC_LEN_HUGE,
	MU_IOC_LEN_HUGE_HDR, MU_IOC_CMD,
};

/* Mutations of LOOKUP replies in fuzz_lookup_replies that keep it */
static const int fz_lookup_kept_muts[] = {
	MU_LK_EXT_WRITE, MU_BADLEN, MU_UNIQUE, MU_IOC_FLAGS, MU_IOC_BUF,
};

/* Mutations of fuzz_init's FUSE_INIT reply that keep the request */
static const int fz_init_kept_muts[] = {
	MU_SHORT, MU_BADLEN, MU_POSERR, MU_BIGERR, MU_UNIQUE, MU_INTR,
};

/*
 * Errors the server replies with. The client may see these, and those
 * the kernel makes of bad replies or of a dead connection (below).
 */
static const int fz_reply_errnos[] = {
	ENOENT, EIO, EACCES, EPERM, EEXIST, ENOTDIR, EISDIR, EINVAL,
	ENOTEMPTY, ENODATA, ERANGE, E2BIG, ENAMETOOLONG, ESTALE,
	EXDEV, EOVERFLOW, EFBIG, ENOSPC, EROFS, EAGAIN, ENXIO, ENOMEM,
	EMLINK, EBUSY, EINTR, EBADF, EOPNOTSUPP, ENOTTY, EDQUOT, ELOOP,
};

static const int fz_kernel_errnos[] = {
	ENOTCONN, ECONNABORTED, ECONNREFUSED, ETXTBSY,
};

/* Errnos an attempt may be expected to end with, as a bit mask */
static const int fz_ebits[] = {
	0, EINVAL, ENOENT, EPERM, EFAULT, EBADF, ELOOP, ENAMETOOLONG, ENOTTY,
};

static unsigned int eb(int err)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fz_ebits); i++)
		if (fz_ebits[i] == err)
			return 1u << i;
	return 1u << 31;
}

/* What the client saw; shared with the forked client */
struct fz_client {
	int stop;
	unsigned int ops;
	unsigned int ok;
	unsigned int bad;
	unsigned int err[FZ_NR_ERRNO];
	char bad_msg[256];
};

/* What the server saw */
struct fz_stats {
	unsigned long requests;
	unsigned long attempts;
	unsigned long mismatches;
	unsigned long lost;
	unsigned long finals;
	unsigned long res[FZ_NR_ERRNO];
	unsigned long muts[MU_NR];
	/* Outcomes of the LOOKUP extensions sent with MU_LK_EXT */
	unsigned long ext_res[FZ_NR_ERRNO];
	unsigned long ext_kinds[K_NR];
	unsigned long init_ok;
	unsigned long init_refused;
	char first_bad[256];
};

/* A valid reply to the current request */
struct fz_rep {
	int error;		/* 0 or a negative errno */
	size_t len;		/* payload length */
	long cap;		/* largest payload the kernel takes, -1 unknown */
	bool argvar;		/* a shorter payload is taken too */
	bool ext;		/* carries a LOOKUP extension: ioctl only */
};

/* An attempt to reply and what it should do */
struct fz_try {
	int mut;
	bool ioctl;
	unsigned int expect;	/* eb() mask of the allowed results */
	int fate;		/* the request is then: */
#define FZ_KEPT		0	/* still pending */
#define FZ_CONSUMED	1	/* answered (maybe with EIO) */
#define FZ_MAYBE	2	/* either */
	int res;
};

FIXTURE(fuzz) {
	char backing[128];
	char dir[64];
	int fuse_fd;
	bool mounted;
	int mode;
	__u64 seed;
	__u64 rng;
	unsigned int rounds;
	/* The values to send for each kind, and what the kernel says */
	__u64 pool[K_NR];
	int pool_fd[K_NR];
	int backing_err[K_NR];
	int bpf_err[K_NR];
	bool pool_ok[K_NR];
	int sane_file_fd;
	int sane_dir_fd;
	/* Two pages, the second one PROT_NONE */
	char *guard_map;
	char *guard;
	long page;
	struct fz_client *client;
	pid_t child;
	bool killed;
	bool bpf_proto;
	struct fz_stats st;
};

static __u8 fz_in[FZ_BUF_SIZE];
static __u8 fz_pay[FZ_BUF_SIZE];
static __u8 fz_out[FZ_BUF_SIZE + 4096];

static __u64 fz_next(__u64 *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static __u32 fz_rand(__u64 *s, __u32 n)
{
	return n ? fz_next(s) % n : 0;
}

static int fz_pick(__u64 *s, const int *list, size_t nr)
{
	return list[fz_rand(s, nr)];
}

static void fz_fill(__u64 *s, void *buf, size_t len)
{
	__u8 *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = fz_next(s) >> 56;
}

static __u64 fz_env(const char *name, __u64 dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

static double fz_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool fz_in_list(int err, const int *list, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (list[i] == err)
			return true;
	return false;
}

static bool fz_client_errno_ok(int err)
{
	return fz_in_list(err, fz_reply_errnos, ARRAY_SIZE(fz_reply_errnos)) ||
	       fz_in_list(err, fz_kernel_errnos, ARRAY_SIZE(fz_kernel_errnos));
}

static int fz_slot(int err)
{
	return err >= 0 && err < FZ_NR_ERRNO ? err : FZ_NR_ERRNO - 1;
}

/* Is something mounted on @dir? */
static bool fz_mounted(const char *dir)
{
	char line[4096], mnt[PATH_MAX];
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return true;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 &&
		    !strcmp(mnt, dir))
			found = true;
	}
	fclose(f);
	return found;
}

/* ---------------------------------------------------------------- */
/* The valid replies: a tiny filesystem made of names                */
/* ---------------------------------------------------------------- */

/* Parse "<type char><number>"; false for any other name */
static bool fz_parse_name(const char *name, int *type, __u64 *num)
{
	const char *t = strchr(fz_type_chars, name[0]);
	char *end;

	if (!name[0] || !t || name[1] < '0' || name[1] > '9')
		return false;
	*type = t - fz_type_chars;
	*num = strtoull(name + 1, &end, 10);
	return !*end && *num < (1ULL << 40);
}

static __u64 fz_nodeid(int type, __u64 num)
{
	return FZ_NODE_BASE + num * 8 + type;
}

static mode_t fz_type_mode(int type)
{
	switch (type) {
	case FZ_T_DIR:
	case FZ_T_BDIR:
		return S_IFDIR | 0755;
	case FZ_T_LNK:
		return S_IFLNK | 0777;
	default:
		return S_IFREG | 0644;
	}
}

static void fz_attr(struct fuse_attr *attr, __u64 nodeid)
{
	mode_t mode = nodeid == FUSE_ROOT_ID ? S_IFDIR | 0755 :
		      fz_type_mode(nodeid & 7);

	memset(attr, 0, sizeof(*attr));
	attr->ino = nodeid;
	attr->mode = mode;
	attr->nlink = S_ISDIR(mode) ? 2 : 1;
	attr->size = S_ISLNK(mode) ? 6 : FZ_FILE_SIZE;
	attr->blocks = 8;
	attr->blksize = 4096;
	attr->atime = 1700000000;
	attr->mtime = 1700000000;
	attr->ctime = 1700000000;
}

static void fz_entry(struct fuse_entry_out *e, __u64 nodeid, __u64 *rng)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = nodeid;
	e->generation = 1;
	/* Often 0, so that reusing a name revalidates it with a LOOKUP */
	e->entry_valid = fz_rand(rng, 2);
	e->attr_valid = fz_rand(rng, 2);
	fz_attr(&e->attr, nodeid);
}

/* The entry a name stands for, and its extension; false: no entry */
static bool fz_lookup_entry(struct _test_data_fuzz *self, const char *name,
			    struct fuse_entry_out *e,
			    struct fuse_entry_bpf_out *ext, bool *has_ext)
{
	bool ioctl_ok = self->mode != FZ_HEADERS && self->mode != FZ_INIT;
	__u64 num;
	int type;

	*has_ext = false;
	memset(ext, 0, sizeof(*ext));
	if (!strcmp(name, "sane_file") || !strcmp(name, "sane_dir")) {
		bool file = !strcmp(name, "sane_file");

		fz_entry(e, FZ_SANE_NODE + (file ? 0 : 8 + FZ_T_BDIR),
			 &self->rng);
		e->entry_valid = 10;
		e->attr_valid = 10;
		*has_ext = true;
		ext->backing_action = FUSE_ACTION_REPLACE;
		ext->backing_fd = file ? self->sane_file_fd : self->sane_dir_fd;
		return true;
	}
	if (!fz_parse_name(name, &type, &num) || type == FZ_T_NEG)
		return false;
	fz_entry(e, fz_nodeid(type, num), &self->rng);
	if (ioctl_ok && self->pool_ok[K_REG] &&
	    (type == FZ_T_BREG || type == FZ_T_BDIR)) {
		*has_ext = true;
		ext->backing_action = FUSE_ACTION_REPLACE;
		ext->backing_fd = self->pool[type == FZ_T_BREG ? K_REG : K_DIR];
		/* The FUSE program lets every operation through */
		if (self->pool_ok[K_PROG_FUSE] && fz_rand(&self->rng, 2)) {
			ext->bpf_action = FUSE_ACTION_REPLACE;
			ext->bpf_fd = self->pool[K_PROG_FUSE];
		}
	}
	return true;
}

/* Name argument of a request: the @nth NUL-terminated string after @skip */
static const char *fz_arg_name(const void *arg, size_t len, size_t skip,
			       int nth)
{
	const char *p = (const char *)arg + skip;
	const char *end = (const char *)arg + len;

	if (skip > len)
		return "";
	while (nth--) {
		const char *nul = memchr(p, 0, end - p);

		if (!nul)
			return "";
		p = nul + 1;
	}
	return memchr(p, 0, end - p) ? p : "";
}

static size_t fz_dirent(void *buf, size_t room, __u64 ino, __u64 off,
			const char *name, __u32 type)
{
	struct fuse_dirent *d = buf;
	size_t namelen = strlen(name);
	size_t len = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + namelen);

	if (len > room)
		return 0;
	memset(d, 0, len);
	d->ino = ino;
	d->off = off;
	d->namelen = namelen;
	d->type = type;
	memcpy(d->name, name, namelen);
	return len;
}

static void fz_valid_init(struct _test_data_fuzz *self, const void *arg,
			  struct fz_rep *rep)
{
	const struct fuse_init_in *in = arg;
	struct fuse_init_out *out = (void *)fz_pay;

	memset(out, 0, sizeof(*out));
	out->major = FUSE_KERNEL_VERSION;
	out->minor = FUSE_KERNEL_MINOR_VERSION;
	out->max_readahead = in->max_readahead;
	out->flags = FUSE_INIT_EXT | FUSE_BIG_WRITES;
	out->flags2 = FUSE_BPF >> 32;
	out->max_background = 16;
	out->congestion_threshold = 12;
	out->max_write = FZ_MAX_WRITE;
	out->time_gran = 1;
	rep->len = sizeof(*out);
	rep->cap = sizeof(*out);
	rep->argvar = true;
}

/* The valid reply to a request in fz_pay, described by @rep */
static void fz_valid(struct _test_data_fuzz *self,
		     const struct fuse_in_header *in, const void *arg,
		     size_t alen, struct fz_rep *rep)
{
	struct fuse_entry_bpf_out ext;
	struct fuse_entry_out *e = (void *)fz_pay;
	const char *name;
	bool has_ext;
	int type;
	__u64 num;

	memset(rep, 0, sizeof(*rep));
	rep->cap = 0;
	switch (in->opcode) {
	case FUSE_INIT:
		fz_valid_init(self, arg, rep);
		break;
	case FUSE_LOOKUP:
		name = fz_arg_name(arg, alen, 0, 0);
		rep->argvar = true;
		rep->cap = sizeof(*e) + sizeof(ext);
		if (!fz_lookup_entry(self, name, e, &ext, &has_ext)) {
			rep->error = -ENOENT;
			break;
		}
		rep->len = sizeof(*e);
		if (has_ext) {
			memcpy(e + 1, &ext, sizeof(ext));
			rep->len += sizeof(ext);
			rep->ext = true;
		}
		break;
	case FUSE_GETATTR:
	case FUSE_SETATTR: {
		struct fuse_attr_out *out = (void *)fz_pay;

		memset(out, 0, sizeof(*out));
		fz_attr(&out->attr, in->nodeid);
		rep->len = sizeof(*out);
		rep->cap = rep->len;
		break;
	}
	case FUSE_OPEN:
	case FUSE_OPENDIR: {
		struct fuse_open_out *out = (void *)fz_pay;

		memset(out, 0, sizeof(*out));
		out->fh = in->nodeid;
		rep->len = sizeof(*out);
		rep->cap = rep->len;
		break;
	}
	case FUSE_READ: {
		const struct fuse_read_in *r = arg;
		__u64 left;

		if (alen < sizeof(*r)) {
			rep->error = -EIO;
			break;
		}
		left = r->offset < FZ_FILE_SIZE ? FZ_FILE_SIZE - r->offset : 0;
		rep->len = left < r->size ? left : r->size;
		memset(fz_pay, 'x', rep->len);
		rep->cap = r->size;
		rep->argvar = true;
		break;
	}
	case FUSE_READDIR: {
		static const char * const names[] = {
			".", "..", "f1", "d2", "l3", "b4",
		};
		const struct fuse_read_in *r = arg;
		size_t i, len;

		if (alen < sizeof(*r)) {
			rep->error = -EIO;
			break;
		}
		for (i = r->offset; i < ARRAY_SIZE(names); i++) {
			len = fz_dirent(fz_pay + rep->len, r->size - rep->len,
					100 + i, i + 1, names[i],
					i < 2 || i == 3 ? DT_DIR : DT_REG);
			if (!len)
				break;
			rep->len += len;
		}
		rep->cap = r->size;
		rep->argvar = true;
		break;
	}
	case FUSE_WRITE: {
		const struct fuse_write_in *w = arg;
		struct fuse_write_out *out = (void *)fz_pay;

		memset(out, 0, sizeof(*out));
		out->size = alen >= sizeof(*w) ? w->size : 0;
		rep->len = sizeof(*out);
		rep->cap = rep->len;
		break;
	}
	case FUSE_READLINK:
		memcpy(fz_pay, "target", 6);
		rep->len = 6;
		rep->cap = -1;
		rep->argvar = true;
		break;
	case FUSE_CREATE:
	case FUSE_MKDIR:
	case FUSE_MKNOD:
	case FUSE_SYMLINK:
	case FUSE_LINK: {
		static const size_t skip[] = {
			[FUSE_CREATE] = sizeof(struct fuse_create_in),
			[FUSE_MKDIR] = sizeof(struct fuse_mkdir_in),
			[FUSE_MKNOD] = sizeof(struct fuse_mknod_in),
			[FUSE_SYMLINK] = 0,
			[FUSE_LINK] = sizeof(struct fuse_link_in),
		};
		__u64 nodeid;

		name = fz_arg_name(arg, alen, skip[in->opcode], 0);
		if (!fz_parse_name(name, &type, &num))
			num = 999999;
		if (in->opcode == FUSE_MKDIR)
			type = FZ_T_DIR;
		else if (in->opcode == FUSE_SYMLINK)
			type = FZ_T_LNK;
		else
			type = FZ_T_REG;
		nodeid = fz_nodeid(type, num);
		/* A link is the linked node under a new name */
		if (in->opcode == FUSE_LINK && alen >= sizeof(struct fuse_link_in))
			nodeid = ((const struct fuse_link_in *)arg)->oldnodeid;
		fz_entry(e, nodeid, &self->rng);
		rep->len = sizeof(*e);
		if (in->opcode == FUSE_CREATE) {
			struct fuse_open_out *o = (void *)(e + 1);

			memset(o, 0, sizeof(*o));
			o->fh = nodeid;
			rep->len += sizeof(*o);
		}
		rep->cap = rep->len;
		break;
	}
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR: {
		const struct fuse_getxattr_in *g = arg;
		const char *value = in->opcode == FUSE_GETXATTR ? "value" :
				    "user.x";
		size_t vlen = strlen(value) + (in->opcode == FUSE_LISTXATTR);

		if (alen < sizeof(*g)) {
			rep->error = -EIO;
			rep->cap = -1;
			break;
		}
		/* The value, or its size if the caller asked for that */
		rep->argvar = g->size;
		rep->cap = g->size ? g->size : sizeof(struct fuse_getxattr_out);
		name = fz_arg_name(arg, alen, sizeof(*g), 0);
		if (in->opcode == FUSE_GETXATTR && strncmp(name, "user.", 5)) {
			rep->error = -ENODATA;
		} else if (!g->size) {
			struct fuse_getxattr_out *out = (void *)fz_pay;

			memset(out, 0, sizeof(*out));
			out->size = vlen;
			rep->len = sizeof(*out);
		} else if (g->size < vlen) {
			rep->error = -ERANGE;
		} else {
			memcpy(fz_pay, value, vlen);
			rep->len = vlen;
		}
		break;
	}
	case FUSE_STATFS: {
		struct fuse_statfs_out *out = (void *)fz_pay;

		memset(out, 0, sizeof(*out));
		out->st.blocks = 1000;
		out->st.bfree = 500;
		out->st.bavail = 500;
		out->st.files = 100;
		out->st.ffree = 50;
		out->st.bsize = 4096;
		out->st.namelen = 255;
		out->st.frsize = 4096;
		rep->len = sizeof(*out);
		rep->cap = rep->len;
		break;
	}
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_RENAME:
	case FUSE_RENAME2:
	case FUSE_SETXATTR:
	case FUSE_REMOVEXATTR:
	case FUSE_ACCESS:
	case FUSE_FLUSH:
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
		break;
	default:
		/* Not implemented; what the kernel accepts is not known */
		rep->error = -EOPNOTSUPP;
		rep->cap = -1;
		break;
	}
}

/* ---------------------------------------------------------------- */
/* Sending replies                                                    */
/* ---------------------------------------------------------------- */

static size_t fz_compose(void *dst, __u32 len, __s32 error, __u64 unique,
			 const void *pay, size_t plen)
{
	struct fuse_out_header oh = {
		.len = len,
		.error = error,
		.unique = unique,
	};

	memcpy(dst, &oh, sizeof(oh));
	if (plen)
		memmove((char *)dst + sizeof(oh), pay, plen);
	return sizeof(oh) + plen;
}

static int fz_write(struct _test_data_fuzz *self, const void *buf, size_t n)
{
	ssize_t ret = write(self->fuse_fd, buf, n);

	if (ret < 0)
		return errno;
	return (size_t)ret == n ? 0 : FZ_ESHORT;
}

static int fz_ioctl(struct _test_data_fuzz *self, __u64 buf, __u32 len,
		    __u32 flags)
{
	struct fuse_bpf_reply r = {
		.buf = buf,
		.len = len,
		.flags = flags,
	};

	return ioctl(self->fuse_fd, FUSE_DEV_IOC_BPF_REPLY, &r) ? errno : 0;
}

static int fz_send(struct _test_data_fuzz *self, bool via_ioctl,
		   const void *buf, size_t n)
{
	if (via_ioctl)
		return fz_ioctl(self, (uintptr_t)buf, n, 0);
	return fz_write(self, buf, n);
}

/* Copy @n bytes of @buf so that the unmapped page starts at offset @at */
static void *fz_at_guard(struct _test_data_fuzz *self, const void *buf,
			 size_t n, size_t at)
{
	char *dst = self->guard - at;

	memcpy(dst, buf, at < n ? at : n);
	return dst;
}

static __printf(2, 3) void fz_bad(struct _test_data_fuzz *self, const char *fmt, ...)
{
	va_list ap;

	if (!self->st.first_bad[0]) {
		va_start(ap, fmt);
		vsnprintf(self->st.first_bad, sizeof(self->st.first_bad), fmt,
			  ap);
		va_end(ap);
	}
}

static int fz_reply_errno(struct _test_data_fuzz *self)
{
	return fz_reply_errnos[fz_rand(&self->rng,
				       ARRAY_SIZE(fz_reply_errnos))];
}

/* A notification the kernel refuses before acting on it */
static void fz_notify_bad_size(struct _test_data_fuzz *self,
			       struct fz_try *t, __u8 *pay, size_t *plen,
			       int *code)
{
	static const int codes[] = {
		FUSE_NOTIFY_POLL, FUSE_NOTIFY_INVAL_INODE,
		FUSE_NOTIFY_INVAL_ENTRY, FUSE_NOTIFY_STORE,
		FUSE_NOTIFY_RETRIEVE, FUSE_NOTIFY_DELETE,
	};
	static const size_t sizes[] = {
		sizeof(struct fuse_notify_poll_wakeup_out),
		sizeof(struct fuse_notify_inval_inode_out),
		sizeof(struct fuse_notify_inval_entry_out),
		sizeof(struct fuse_notify_store_out),
		sizeof(struct fuse_notify_retrieve_out),
		sizeof(struct fuse_notify_delete_out),
	};
	unsigned int i = fz_rand(&self->rng, ARRAY_SIZE(codes));
	size_t size = sizes[i];

	*code = codes[i];
	t->expect = eb(EINVAL);
	fz_fill(&self->rng, pay, size + 64);
	switch (fz_rand(&self->rng, 3)) {
	case 0:
		/* Too short for any of them */
		*plen = fz_rand(&self->rng, size);
		return;
	case 1:
		/* Too long for those of a fixed size */
		if (*code == FUSE_NOTIFY_POLL || *code == FUSE_NOTIFY_RETRIEVE ||
		    *code == FUSE_NOTIFY_INVAL_INODE) {
			*plen = size + 1 + fz_rand(&self->rng, 64);
			return;
		}
		break;
	}
	/* A name or data whose length the size does not match */
	if (*code == FUSE_NOTIFY_INVAL_ENTRY) {
		struct fuse_notify_inval_entry_out *o = (void *)pay;

		o->namelen = fz_rand(&self->rng, 2) ? 1025 + fz_rand(&self->rng, 99999) :
			     fz_rand(&self->rng, 32);
		*plen = size + fz_rand(&self->rng, 48);
		if (o->namelen > FZ_NAME_MAX)
			t->expect = eb(ENAMETOOLONG);
		else if (*plen == size + o->namelen + 1)
			(*plen)++;
	} else if (*code == FUSE_NOTIFY_DELETE) {
		struct fuse_notify_delete_out *o = (void *)pay;

		o->namelen = fz_rand(&self->rng, 2) ? 1025 + fz_rand(&self->rng, 99999) :
			     fz_rand(&self->rng, 32);
		*plen = size + fz_rand(&self->rng, 48);
		if (o->namelen > FZ_NAME_MAX)
			t->expect = eb(ENAMETOOLONG);
		else if (*plen == size + o->namelen + 1)
			(*plen)++;
	} else if (*code == FUSE_NOTIFY_STORE) {
		struct fuse_notify_store_out *o = (void *)pay;

		o->size = fz_rand(&self->rng, 64);
		*plen = size + fz_rand(&self->rng, 64);
		if (*plen == size + o->size)
			(*plen)++;
	} else {
		*plen = size + 1 + fz_rand(&self->rng, 64);
	}
}

/* ---------------------------------------------------------------- */
/* Mutated replies                                                    */
/* ---------------------------------------------------------------- */

/* Scratch payload of notifications and error replies */
static __u8 fz_scratch[8192];

static void fz_mutate(struct _test_data_fuzz *self, int mut, bool via,
		      const struct fuse_in_header *in,
		      const struct fz_rep *rep, struct fz_try *t)
{
	static const __s32 big_errors[] = {
		-512, -513, -4095, -4096, -100000, INT_MIN,
	};
	static const __s32 notify_codes[] = {
		0, FUSE_NOTIFY_CODE_MAX, FUSE_NOTIFY_CODE_MAX + 1, 100, 1000,
		INT_MAX, -1, -42, INT_MIN,
	};
	static const __u32 huge_lens[] = {
		0xffffffff, 0x80000000, 0x7ffff000, 0x10000000,
	};
	size_t hdr = sizeof(struct fuse_out_header);
	size_t n = hdr + rep->len;
	struct fuse_out_header *oh = (void *)fz_out;
	bool lookup = in->opcode == FUSE_LOOKUP;
	__u64 *rng = &self->rng;
	size_t plen, at;
	__s32 code;
	int err;

	memset(t, 0, sizeof(*t));
	t->mut = mut;
	t->ioctl = via;
	t->fate = FZ_KEPT;
	t->expect = eb(EINVAL);
	fz_compose(fz_out, n, rep->error, in->unique, fz_pay, rep->len);

	/* Those that need a payload fall back to one that does not */
	if ((mut == MU_SHORT_PAYLOAD || mut == MU_EFAULT_PAYLOAD) &&
	    (rep->error || !rep->len))
		mut = MU_EFAULT_HDR;
	if (mut == MU_SPLIT && via)
		mut = MU_ERROR;
	t->mut = mut;

	switch (mut) {
	case MU_SHORT:
		t->res = fz_send(self, via, fz_out, 1 + fz_rand(rng, hdr - 1));
		break;
	case MU_BADLEN:
		oh->len = fz_rand(rng, 2) ? n + 1 + fz_rand(rng, 4096) :
			  fz_next(rng);
		if (oh->len == n)
			oh->len = n - 1;
		t->res = fz_send(self, via, fz_out, n);
		break;
	case MU_POSERR:
		oh->error = 1 + fz_rand(rng, INT_MAX - 1);
		t->res = fz_send(self, via, fz_out, n);
		break;
	case MU_BIGERR:
		oh->error = big_errors[fz_rand(rng, ARRAY_SIZE(big_errors))];
		t->res = fz_send(self, via, fz_out, n);
		break;
	case MU_UNIQUE:
		/* No other request is being answered: none has this id */
		oh->unique = in->unique + 2 * (1 + fz_rand(rng, 1 << 20));
		if (fz_rand(rng, 2))
			oh->unique = in->unique ^ (1ULL << (62 + fz_rand(rng, 2)));
		oh->unique |= fz_rand(rng, 2);
		if (!oh->unique || oh->unique == in->unique)
			oh->unique = in->unique + 2;
		t->expect = eb(ENOENT);
		t->res = fz_send(self, via, fz_out, n);
		break;
	case MU_NOTIFY_CODE:
		code = notify_codes[fz_rand(rng, ARRAY_SIZE(notify_codes))];
		plen = fz_rand(rng, 64);
		fz_fill(rng, fz_scratch, plen);
		n = fz_compose(fz_out, hdr + plen, code, 0, fz_scratch, plen);
		t->res = fz_send(self, via, fz_out, n);
		break;
	case MU_NOTIFY_SIZE:
		fz_notify_bad_size(self, t, fz_scratch, &plen, &err);
		n = fz_compose(fz_out, hdr + plen, err, 0, fz_scratch, plen);
		t->res = fz_send(self, via, fz_out, n);
		break;
	case MU_INTR:
		/* Taken as the answer to an interrupt that was never sent */
		n = fz_compose(fz_out, hdr, fz_rand(rng, 2) ? 0 : -EIO,
			       in->unique | 1, NULL, 0);
		t->expect = eb(0);
		t->res = fz_send(self, via, fz_out, n);
		break;
	case MU_INTR_BAD:
		/* With a payload, or asking to resend an interrupt not sent */
		plen = fz_rand(rng, 2) ? 1 + fz_rand(rng, 64) : 0;
		fz_fill(rng, fz_scratch, plen);
		n = fz_compose(fz_out, hdr + plen, plen ? 0 : -EAGAIN,
			       in->unique | 1, fz_scratch, plen);
		t->res = fz_send(self, via, fz_out, n);
		break;
	case MU_ERR_PAYLOAD:
		plen = 1 + fz_rand(rng, 64);
		fz_fill(rng, fz_scratch, plen);
		n = fz_compose(fz_out, hdr + plen, -fz_reply_errno(self),
			       in->unique, fz_scratch, plen);
		t->fate = FZ_CONSUMED;
		t->res = fz_send(self, via, fz_out, n);
		break;
	case MU_LONG:
		plen = (rep->cap >= 0 ? (size_t)rep->cap : rep->len) + 1 +
		       fz_rand(rng, 256);
		if (hdr + plen > sizeof(fz_out))
			plen = sizeof(fz_out) - hdr;
		n = fz_compose(fz_out, hdr + plen, 0, in->unique, fz_pay,
			       rep->error ? 0 : rep->len);
		fz_fill(rng, fz_out + hdr + (rep->error ? 0 : rep->len),
			plen - (rep->error ? 0 : rep->len));
		n = hdr + plen;
		if (lookup && !via) {
			/* An extension, as far as the length tells */
			t->expect = eb(EPERM);
		} else {
			t->fate = FZ_CONSUMED;
			if (rep->cap < 0)
				t->expect |= eb(0);
		}
		t->res = fz_send(self, via, fz_out, n);
		break;
	case MU_SHORT_PAYLOAD:
		plen = fz_rand(rng, rep->len);
		n = fz_compose(fz_out, hdr + plen, 0, in->unique, fz_pay, plen);
		t->fate = FZ_CONSUMED;
		if (lookup && plen > sizeof(struct fuse_entry_out)) {
			/* A truncated extension */
			if (!via) {
				t->expect = eb(EPERM);
				t->fate = FZ_KEPT;
			}
		} else if (lookup && plen == sizeof(struct fuse_entry_out)) {
			/* A plain entry */
			t->expect = eb(0);
		} else if (rep->argvar && !lookup) {
			t->expect = eb(0);
		}
		t->res = fz_send(self, via, fz_out, n);
		break;
	case MU_EFAULT_HDR:
		t->expect = eb(EFAULT);
		t->res = fz_send(self, via, fz_at_guard(self, fz_out, n, 8),
				 n);
		break;
	case MU_EFAULT_PAYLOAD:
		at = hdr + fz_rand(rng, rep->len < 4000 ? rep->len : 4000);
		t->expect = eb(EFAULT);
		t->fate = FZ_CONSUMED;
		if (rep->ext && !via) {
			t->expect = eb(EPERM);
			t->fate = FZ_KEPT;
		}
		t->res = fz_send(self, via, fz_at_guard(self, fz_out, n, at),
				 n);
		break;
	case MU_SPLIT: {
		struct iovec iov[64];
		size_t off = 0, piece;
		int nr = 0;
		ssize_t ret;

		while (off < n && nr < (int)ARRAY_SIZE(iov)) {
			piece = 1 + fz_rand(rng, n / 16 + 8);
			if (nr == ARRAY_SIZE(iov) - 1 || piece > n - off)
				piece = n - off;
			iov[nr].iov_base = fz_out + off;
			iov[nr++].iov_len = piece;
			off += piece;
		}
		t->expect = eb(0);
		t->fate = FZ_CONSUMED;
		if (rep->ext) {
			t->expect = eb(EPERM);
			t->fate = FZ_KEPT;
		}
		ret = writev(self->fuse_fd, iov, nr);
		t->res = ret < 0 ? errno : (size_t)ret == n ? 0 : FZ_ESHORT;
		break;
	}
	case MU_ERROR:
		n = fz_compose(fz_out, hdr, -fz_reply_errno(self), in->unique,
			       NULL, 0);
		t->expect = eb(0);
		t->fate = FZ_CONSUMED;
		t->res = fz_send(self, via, fz_out, n);
		break;
	case MU_IOC_FLAGS:
		t->res = fz_ioctl(self, (uintptr_t)fz_out, n,
				  (1u << fz_rand(rng, 32)) | fz_next(rng));
		break;
	case MU_IOC_ARGP: {
		struct fuse_bpf_reply r = {
			.buf = (uintptr_t)fz_out,
			.len = n,
		};
		void *argp;

		switch (fz_rand(rng, 4)) {
		case 0:
			argp = NULL;
			break;
		case 1:
			argp = self->guard;
			break;
		case 2:
			argp = fz_at_guard(self, &r, sizeof(r), sizeof(r) / 2);
			break;
		default:
			argp = (void *)0xffff888000000000ULL;
			break;
		}
		t->expect = eb(EFAULT);
		t->res = ioctl(self->fuse_fd, FUSE_DEV_IOC_BPF_REPLY, argp) ?
			 errno : 0;
		break;
	}
	case MU_IOC_BUF: {
		static const __u64 bufs[] = {
			0, 0xffffffff81000000ULL, 1ULL << 63,
			0x00007ffffffffff8ULL, 0x0000800000000000ULL,
		};
		__u64 buf = bufs[fz_rand(rng, ARRAY_SIZE(bufs))];

		if (!fz_rand(rng, 4))
			buf = (uintptr_t)self->guard;
		t->expect = eb(EFAULT);
		t->res = fz_ioctl(self, buf, n, 0);
		break;
	}
	case MU_IOC_LEN: {
		__u32 len = fz_rand(rng, hdr);

		if (fz_rand(rng, 2))
			len = n + 1 + fz_rand(rng, 4096);
		else if (fz_rand(rng, 2) && n > hdr)
			len = hdr + fz_rand(rng, n - hdr);
		t->res = fz_ioctl(self, (uintptr_t)fz_out, len, 0);
		break;
	}
	case MU_IOC_LEN_HUGE:
		/* Refused by the length check, or by access_ok() */
		t->expect = eb(EINVAL) | eb(EFAULT);
		t->res = fz_ioctl(self, (uintptr_t)fz_out,
				  huge_lens[fz_rand(rng, ARRAY_SIZE(huge_lens))],
				  0);
		break;
	case MU_IOC_LEN_HUGE_HDR:
		/*
		 * Matching lengths: access_ok() refuses it (EFAULT), or the
		 * request takes no such payload (EINVAL, and it fails).
		 */
		oh->len = huge_lens[fz_rand(rng, ARRAY_SIZE(huge_lens))];
		t->expect = eb(EINVAL) | eb(EFAULT);
		t->res = fz_ioctl(self, (uintptr_t)fz_out, oh->len, 0);
		t->fate = t->res == EINVAL ? FZ_CONSUMED : FZ_KEPT;
		break;
	case MU_IOC_CMD: {
		static const unsigned int cmds[] = {
			_IOR(FUSE_DEV_IOC_MAGIC, 3, struct fuse_bpf_reply),
			_IOC(_IOC_WRITE, FUSE_DEV_IOC_MAGIC, 3, 24),
			_IOC(_IOC_WRITE, FUSE_DEV_IOC_MAGIC, 99, 16),
			_IOC(_IOC_NONE, FUSE_DEV_IOC_MAGIC, 3, 0),
		};
		struct fuse_bpf_reply r = {
			.buf = (uintptr_t)fz_out,
			.len = n,
		};

		t->expect = eb(ENOTTY);
		t->res = ioctl(self->fuse_fd,
			       cmds[fz_rand(rng, ARRAY_SIZE(cmds))], &r) ?
			 errno : 0;
		break;
	}
	default:
		t->res = -1;
		break;
	}
}

/* A random FUSE_ACTION_*, or not */
static __u64 fz_action(__u64 *rng, bool bpf)
{
	__u32 r = fz_rand(rng, 10);

	if (r < (bpf ? 6 : 3))
		return FUSE_ACTION_KEEP;
	if (r < (bpf ? 7 : 5))
		return FUSE_ACTION_REMOVE;
	if (r < 9)
		return FUSE_ACTION_REPLACE;
	return fz_rand(rng, 2) ? FUSE_ACTION_REPLACE + 1 + fz_rand(rng, 8) :
	       fz_next(rng);
}

static int fz_kind(struct _test_data_fuzz *self)
{
	int k;

	do
		k = fz_rand(&self->rng, K_NR);
	while (!self->pool_ok[k]);
	return k;
}

/*
 * What fuse_bpf_reply_fds() says of an extension of @xlen bytes, as a
 * negative errno: the checks in its order. @kb and @kp are the kinds of the descriptors.
 */
static int fz_predict(struct _test_data_fuzz *self,
		      const struct fuse_entry_out *e,
		      const struct fuse_entry_bpf_out *x, size_t xlen,
		      int kb, int kp)
{
	if (xlen > sizeof(*x))
		return -EINVAL;		/* copy_out_args(): too long */
	if (!xlen)
		return 0;		/* a plain reply */
	if (!self->bpf_proto || xlen != sizeof(*x))
		return -EINVAL;
	if (x->backing_action > FUSE_ACTION_REPLACE ||
	    x->bpf_action > FUSE_ACTION_REPLACE)
		return -EINVAL;
	if ((x->backing_action != FUSE_ACTION_REPLACE && x->backing_fd) ||
	    (x->bpf_action != FUSE_ACTION_REPLACE && x->bpf_fd))
		return -EINVAL;
	if (x->backing_action == FUSE_ACTION_REMOVE &&
	    x->bpf_action == FUSE_ACTION_REPLACE)
		return -EINVAL;
	/* Node id 0 is a node the server does not track, if backed */
	if (e->nodeid == FUSE_ROOT_ID)
		return -EINVAL;
	if (x->bpf_action == FUSE_ACTION_REPLACE && self->bpf_err[kp])
		return -self->bpf_err[kp];
	if (x->backing_action != FUSE_ACTION_REPLACE)
		return 0;
	return -self->backing_err[kb];
}

/* A random LOOKUP entry for @name, often not a sane one */
static void fz_random_entry(struct _test_data_fuzz *self, const char *name,
			    struct fuse_entry_out *e)
{
	static const __u32 odd_modes[] = {
		0, S_IFSOCK | 0644, S_IFIFO | 0644, S_IFCHR | 0644,
		S_IFBLK | 0644, 0xffffffff,
	};
	__u64 *rng = &self->rng;
	__u64 num;
	int type;

	if (!fz_parse_name(name, &type, &num)) {
		type = FZ_T_REG;
		num = 1 + fz_rand(rng, 1000000);
	}
	if (type == FZ_T_NEG)
		type = fz_rand(rng, 2) ? FZ_T_REG : FZ_T_DIR;
	fz_entry(e, fz_nodeid(type, num), rng);
	switch (fz_rand(rng, 10)) {
	case 0:
		e->nodeid = 0;
		break;
	case 1:
		/* The root, as a directory: another type would break it */
		e->nodeid = FUSE_ROOT_ID;
		e->attr.mode = S_IFDIR | 0755;
		break;
	case 2:
		e->nodeid = fz_next(rng) | 2;
		break;
	}
	if (e->nodeid != FUSE_ROOT_ID) {
		switch (fz_rand(rng, 8)) {
		case 0:
			e->attr.mode = fz_type_mode(fz_rand(rng, FZ_T_NR));
			break;
		case 1:
			e->attr.mode = odd_modes[fz_rand(rng,
							 ARRAY_SIZE(odd_modes))];
			break;
		}
	}
	switch (fz_rand(rng, 8)) {
	case 0:
		e->attr.size = (__u64)LLONG_MAX + 1 + fz_rand(rng, 100);
		break;
	case 1:
		e->attr.size = LLONG_MAX;
		break;
	}
	if (!fz_rand(rng, 4))
		e->generation = fz_next(rng);
	if (!fz_rand(rng, 8))
		e->entry_valid = ~0ULL;
	if (!fz_rand(rng, 8))
		e->attr_valid_nsec = 0xffffffff;
	if (!fz_rand(rng, 8))
		e->attr.flags = fz_next(rng);
}

/* Mutations of fuzz_lookup_replies, for LOOKUP requests */
static void fz_lookup_mutate(struct _test_data_fuzz *self, int mut,
			     const struct fuse_in_header *in, const char *name,
			     struct fz_try *t)
{
	size_t hdr = sizeof(struct fuse_out_header);
	struct fuse_entry_bpf_out x = {};
	struct fuse_entry_out e;
	__u8 pay[sizeof(e) + sizeof(x) + 16];
	__u64 *rng = &self->rng;
	int kb = -1, kp = -1;
	size_t xlen = 0, n;

	memset(t, 0, sizeof(*t));
	t->mut = mut;
	fz_random_entry(self, name, &e);
	if (mut != MU_LK_ENTRY) {
		x.backing_action = fz_action(rng, false);
		x.bpf_action = fz_action(rng, true);
		/* Descriptors with REPLACE, and stray ones now and then */
		if (x.backing_action == FUSE_ACTION_REPLACE ||
		    !fz_rand(rng, 10)) {
			kb = fz_kind(self);
			x.backing_fd = self->pool[kb];
		}
		if (x.bpf_action == FUSE_ACTION_REPLACE || !fz_rand(rng, 10)) {
			kp = fz_kind(self);
			x.bpf_fd = self->pool[kp];
		}
		xlen = fz_rand(rng, 5) ? sizeof(x) : fz_rand(rng, sizeof(x) + 9);
	}
	memcpy(pay, &e, sizeof(e));
	memcpy(pay + sizeof(e), &x, sizeof(x));
	memset(pay + sizeof(e) + sizeof(x), 0, 16);

	switch (mut) {
	case MU_LK_ENTRY:
		t->ioctl = fz_rand(rng, 2);
		t->expect = eb(0);
		t->fate = FZ_CONSUMED;
		break;
	case MU_LK_EXT_WRITE:
		/* Written, an extension is refused before anything else */
		if (!xlen)
			xlen = 1 + fz_rand(rng, sizeof(x) + 8);
		t->expect = eb(EPERM);
		t->fate = FZ_KEPT;
		break;
	default:
		t->ioctl = true;
		t->expect = eb(-fz_predict(self, &e, &x, xlen, kb, kp));
		t->fate = FZ_CONSUMED;
		if (kb >= 0)
			self->st.ext_kinds[kb]++;
		if (kp >= 0)
			self->st.ext_kinds[kp]++;
		break;
	}
	n = fz_compose(fz_out, hdr + sizeof(e) + xlen, 0, in->unique, pay,
		       sizeof(e) + xlen);
	t->res = fz_send(self, t->ioctl, fz_out, n);
	if (mut == MU_LK_EXT)
		self->st.ext_res[fz_slot(t->res)]++;
}

/* A mutated FUSE_INIT reply, the last one fuzz_init sends */
static void fz_init_mutate(struct _test_data_fuzz *self,
			   const struct fuse_in_header *in,
			   const struct fz_rep *rep, struct fz_try *t)
{
	static const __u32 majors[] = { 0, 6, 8, 0xffffffff };
	static const __u32 max_writes[] = {
		0, 1, 4095, 4096, 65536, 131072, 262144,
	};
	static const __u32 grans[] = {
		0, 1, 1000, 1000000000, 1000000001, 0xffffffff,
	};
	struct fuse_init_out out;
	size_t hdr = sizeof(struct fuse_out_header);
	__u64 *rng = &self->rng;
	__s32 error = 0;
	size_t plen, n;

	memset(t, 0, sizeof(*t));
	t->mut = MU_INIT;
	memcpy(&out, fz_pay, sizeof(out));
	if (!fz_rand(rng, 8))
		out.major = majors[fz_rand(rng, ARRAY_SIZE(majors))];
	/*
	 * Below 12, replies to LOOKUP and GETATTR have compat sizes the
	 * final replies of this server do not follow.
	 */
	if (!fz_rand(rng, 3))
		out.minor = 12 + fz_rand(rng, 38);
	if (fz_rand(rng, 2)) {
		out.flags = fz_next(rng) & fz_next(rng);
		out.flags2 = fz_next(rng) & fz_next(rng);
		if (fz_rand(rng, 2))
			out.flags |= FUSE_INIT_EXT;
		if (fz_rand(rng, 2))
			out.flags2 |= FUSE_BPF >> 32;
	}
	if (!fz_rand(rng, 4))
		out.max_background = fz_next(rng);
	if (!fz_rand(rng, 4))
		out.congestion_threshold = fz_next(rng);
	/* Not more: the server reads requests of max_write bytes */
	out.max_write = max_writes[fz_rand(rng, ARRAY_SIZE(max_writes))];
	out.time_gran = grans[fz_rand(rng, ARRAY_SIZE(grans))];
	if (fz_rand(rng, 2))
		out.max_pages = fz_next(rng);
	if (!fz_rand(rng, 4))
		out.map_alignment = fz_next(rng);
	out.max_stack_depth = fz_rand(rng, 2) ? fz_rand(rng, 4) :
			      fz_next(rng);
	if (!fz_rand(rng, 4))
		fz_fill(rng, out.unused, sizeof(out.unused));

	plen = sizeof(out);
	switch (fz_rand(rng, 8)) {
	case 0:
	case 1:
		/* Shorter: the rest reads as zeroes */
		plen = fz_rand(rng, sizeof(out) + 1);
		break;
	case 2:
		plen = sizeof(out) + 1 + fz_rand(rng, 32);
		break;
	case 3:
		error = -fz_reply_errno(self);
		plen = 0;
		break;
	}
	memset(fz_scratch, 0, sizeof(out) + 64);
	memcpy(fz_scratch, &out, sizeof(out));
	n = fz_compose(fz_out, hdr + plen, error, in->unique, fz_scratch,
		       plen);
	t->expect = plen > sizeof(out) ? eb(EINVAL) : eb(0);
	t->fate = FZ_CONSUMED;
	t->res = fz_write(self, fz_out, n);
}

static void fz_check(struct _test_data_fuzz *self,
		     const struct fuse_in_header *in, const struct fz_try *t)
{
	self->st.attempts++;
	self->st.muts[t->mut]++;
	self->st.res[fz_slot(t->res)]++;
	if (eb(t->res) & t->expect)
		return;
	self->st.mismatches++;
	fz_bad(self, "%s reply to %s (unique %llu, via %s): got %d (%s), expected mask 0x%x",
	       fz_mut_names[t->mut], td_opcode_name(in->opcode),
	       (unsigned long long)in->unique, t->ioctl ? "ioctl" : "write",
	       t->res, strerror(t->res), t->expect);
}

/* ---------------------------------------------------------------- */
/* The server                                                         */
/* ---------------------------------------------------------------- */

/* Answer one request, through as many attempts as the mode makes */
static void fz_handle(struct _test_data_fuzz *self, size_t len)
{
	const struct fuse_in_header *in = (const void *)fz_in;
	const void *arg = in + 1;
	size_t hdr = sizeof(struct fuse_out_header);
	bool maybe = false, via;
	struct fz_rep rep;
	struct fz_try t;
	int i, nr = 0, mut, res;
	size_t n, alen;

	if (len < sizeof(*in) || in->len != len) {
		self->st.mismatches++;
		fz_bad(self, "malformed request: read %zu bytes", len);
		return;
	}
	alen = len - sizeof(*in);
	/* No reply to these */
	if (in->opcode == FUSE_FORGET || in->opcode == FUSE_BATCH_FORGET ||
	    in->opcode == FUSE_INTERRUPT)
		return;
	self->st.requests++;
	fz_valid(self, in, arg, alen, &rep);

	if (in->opcode == FUSE_INIT && self->mode == FZ_INIT) {
		nr = fz_rand(&self->rng, 3);
		for (i = 0; i < nr; i++) {
			mut = fz_pick(&self->rng, fz_init_kept_muts,
				      ARRAY_SIZE(fz_init_kept_muts));
			fz_mutate(self, mut, false, in, &rep, &t);
			fz_check(self, in, &t);
		}
		fz_init_mutate(self, in, &rep, &t);
		fz_check(self, in, &t);
		if (t.res == 0 || t.res == EINVAL)
			return;
		/* Whatever went wrong, the request must not stay pending */
		goto fallback;
	}

	if (in->opcode != FUSE_INIT) {
		switch (self->mode) {
		case FZ_HEADERS:
		case FZ_IOCTL:
			nr = fz_rand(&self->rng, 4);
			break;
		case FZ_LOOKUP:
			if (in->opcode == FUSE_LOOKUP)
				nr = 1 + fz_rand(&self->rng, 3);
			break;
		}
	}
	for (i = 0; i < nr; i++) {
		if (self->mode == FZ_HEADERS) {
			mut = fz_pick(&self->rng, fz_header_muts,
				      ARRAY_SIZE(fz_header_muts));
			fz_mutate(self, mut, false, in, &rep, &t);
		} else if (self->mode == FZ_IOCTL) {
			mut = fz_pick(&self->rng, fz_ioctl_muts,
				      ARRAY_SIZE(fz_ioctl_muts));
			fz_mutate(self, mut, true, in, &rep, &t);
		} else if (i < nr - 1 || !fz_rand(&self->rng, 8)) {
			/* LOOKUP: attempts that leave it pending first */
			mut = fz_pick(&self->rng, fz_lookup_kept_muts,
				      ARRAY_SIZE(fz_lookup_kept_muts));
			if (mut == MU_LK_EXT_WRITE)
				fz_lookup_mutate(self, mut, in,
						 fz_arg_name(arg, alen, 0, 0), &t);
			else
				fz_mutate(self, mut, true, in, &rep, &t);
		} else {
			mut = fz_rand(&self->rng, 4) ? MU_LK_EXT : MU_LK_ENTRY;
			fz_lookup_mutate(self, mut, in,
					 fz_arg_name(arg, alen, 0, 0), &t);
		}
		fz_check(self, in, &t);
		if (t.fate == FZ_CONSUMED && (eb(t.res) & t.expect))
			return;
		/* Not known to be answered: try nothing else but the reply */
		if (t.fate != FZ_KEPT || !(eb(t.res) & t.expect)) {
			maybe = true;
			break;
		}
	}

	/* The last reply: valid, or an error in a fuzzing mode */
	via = rep.ext || self->mode == FZ_IOCTL;
	if (self->mode != FZ_SANE && in->opcode != FUSE_INIT &&
	    !fz_rand(&self->rng, 6))
		n = fz_compose(fz_out, hdr, -fz_reply_errno(self), in->unique,
			       NULL, 0);
	else
		n = fz_compose(fz_out, hdr + rep.len, rep.error, in->unique,
			       fz_pay, rep.len);
	res = fz_send(self, via, fz_out, n);
	self->st.finals++;
	if (!res) {
		if (in->opcode == FUSE_INIT)
			self->bpf_proto = true;
		return;
	}
	if (res == ENOENT && maybe)
		return;
	/* After a mutated FUSE_INIT, valid replies may no longer fit */
	if (res == EINVAL && self->mode == FZ_INIT)
		return;
	self->st.mismatches++;
	fz_bad(self, "valid reply to %s (unique %llu, %zu bytes, via %s): %s",
	       td_opcode_name(in->opcode), (unsigned long long)in->unique, n,
	       via ? "ioctl" : "write", strerror(res));
fallback:
	n = fz_compose(fz_out, hdr, -EIO, in->unique, NULL, 0);
	res = fz_write(self, fz_out, n);
	if (res && res != ENOENT) {
		self->st.lost++;
		fz_bad(self, "error reply to %s (unique %llu): %s",
		       td_opcode_name(in->opcode),
		       (unsigned long long)in->unique, strerror(res));
	}
}

/* Abort the connection: every request then fails */
static void fz_abort(struct _test_data_fuzz *self)
{
	if (self->fuse_fd >= 0)
		close(self->fuse_fd);
	self->fuse_fd = -1;
	self->pool_ok[K_FUSE_DEV] = false;
}

/* Wait for a request and answer it; false once the connection is gone */
static bool fz_serve_one(struct _test_data_fuzz *self)
{
	struct pollfd pfd = { .fd = self->fuse_fd, .events = POLLIN };
	ssize_t len;

	if (poll(&pfd, 1, FZ_POLL_MS) <= 0)
		return true;
	len = read(self->fuse_fd, fz_in, sizeof(fz_in));
	if (len >= 0) {
		fz_handle(self, len);
		return true;
	}
	/* ENOENT: a request that was interrupted meanwhile */
	if (errno == EAGAIN || errno == EINTR || errno == ENOENT)
		return true;
	if (errno != ENODEV) {
		self->st.mismatches++;
		fz_bad(self, "read from /dev/fuse: %s", strerror(errno));
		fz_abort(self);
	}
	return false;
}

/*
 * Run @fn(@self, @arg) in a child while serving the mount in @mode, until
 * the child exits. Returns its wait status. A child that is still there
 * after FZ_HARD_SECS is killed, and the connection aborted after as long
 * again should even that not end it.
 */
static int fz_run(struct _test_data_fuzz *self, int mode,
		  int (*fn)(struct _test_data_fuzz *self, void *arg),
		  void *arg)
{
	bool connected = self->fuse_fd >= 0;
	double start = fz_now(), now;
	int status = 0;
	pid_t pid, ret;

	self->mode = mode;
	__atomic_store_n(&self->client->stop, 0, __ATOMIC_RELAXED);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* Only the server may hold the connection */
		if (self->fuse_fd >= 0)
			close(self->fuse_fd);
		_exit(fn(self, arg));
	}
	self->child = pid;
	for (;;) {
		ret = waitpid(pid, &status, WNOHANG);
		if (ret == pid)
			break;
		if (ret < 0 && errno != EINTR) {
			status = -1;
			break;
		}
		now = fz_now() - start;
		if (now > FZ_CLIENT_SECS)
			__atomic_store_n(&self->client->stop, 1,
					 __ATOMIC_RELAXED);
		if (now > FZ_HARD_SECS && !self->killed) {
			fz_bad(self, "child %d still running after %d s: killed",
			       pid, FZ_HARD_SECS);
			kill(pid, SIGKILL);
			self->killed = true;
		}
		if (now > 2 * FZ_HARD_SECS && connected) {
			fz_bad(self, "child %d unkillable: connection aborted", pid);
			fz_abort(self);
			connected = false;
		}
		if (connected)
			connected = fz_serve_one(self);
		else
			poll(NULL, 0, FZ_POLL_MS);
	}
	self->child = 0;
	return status;
}

/* ---------------------------------------------------------------- */
/* The client                                                         */
/* ---------------------------------------------------------------- */

struct fz_client_args {
	unsigned int ops;
	__u64 seed;
};

/* Names the client used, relative to the mount, with their types */
static char fz_names[FZ_MAX_NAMES][FZ_PATH_LEN];
static int fz_name_types[FZ_MAX_NAMES];
static unsigned int fz_nr_names;
static unsigned int fz_counter;

static void fz_record(struct fz_client *c, const char *op, const char *path,
		      int ret)
{
	int err = ret < 0 ? errno : 0;

	c->ops++;
	if (!err) {
		c->ok++;
		return;
	}
	c->err[fz_slot(err)]++;
	if (fz_client_errno_ok(err))
		return;
	c->bad++;
	if (!c->bad_msg[0])
		snprintf(c->bad_msg, sizeof(c->bad_msg), "%s %s: errno %d (%s)",
			 op, path, err, strerror(err));
}

/* A used name of @type (-1: any), or NULL */
static const char *fz_old(__u64 *rng, int type)
{
	unsigned int i, start;

	if (!fz_nr_names)
		return NULL;
	start = fz_rand(rng, fz_nr_names);
	for (i = 0; i < fz_nr_names; i++) {
		unsigned int j = (start + i) % fz_nr_names;

		if (type < 0 || fz_name_types[j] == type ||
		    (type == FZ_T_DIR && fz_name_types[j] == FZ_T_BDIR) ||
		    (type == FZ_T_REG && fz_name_types[j] == FZ_T_BREG))
			return fz_names[j];
	}
	return NULL;
}

/* A new name of @type, under a used directory now and then */
static const char *fz_new(__u64 *rng, int type)
{
	const char *parent = fz_rand(rng, 3) ? NULL : fz_old(rng, FZ_T_DIR);
	unsigned int i = fz_nr_names < FZ_MAX_NAMES ? fz_nr_names++ :
			 fz_rand(rng, FZ_MAX_NAMES);
	size_t plen, nlen;
	char name[32];

	if (type < 0)
		type = fz_rand(rng, FZ_T_NR);
	snprintf(name, sizeof(name), "%c%u", fz_type_chars[type], ++fz_counter);
	plen = parent ? strlen(parent) : 0;
	nlen = strlen(name);
	if (plen && plen + nlen + 2 <= FZ_PATH_LEN) {
		memmove(fz_names[i], parent, plen);
		fz_names[i][plen++] = '/';
	} else {
		plen = 0;
	}
	memcpy(fz_names[i] + plen, name, nlen + 1);
	fz_name_types[i] = type;
	return fz_names[i];
}

static void fz_client_op(struct _test_data_fuzz *self, __u64 *rng,
			 bool lookups)
{
	struct fz_client *c = self->client;
	char p[PATH_MAX], q[PATH_MAX], buf[4096];
	const char *rel, *rel2;
	struct statfs sfs;
	struct dirent *de;
	struct stat st;
	unsigned int op;
	DIR *d;
	int fd, ret;

	op = fz_rand(rng, 21);
	if (lookups && fz_rand(rng, 2))
		op = fz_rand(rng, 3);
	rel = fz_old(rng, -1);
	if (!rel)
		op = 0;
	switch (op) {
	case 0:
		rel = fz_new(rng, -1);
		fz_record(c, "stat", rel, stat(at(p, self->dir, rel), &st));
		break;
	case 1:
		fz_record(c, "lstat", rel, lstat(at(p, self->dir, rel), &st));
		break;
	case 2:
		fz_record(c, "stat", rel, stat(at(p, self->dir, rel), &st));
		break;
	case 3:
	case 4:
		fd = open(at(p, self->dir, rel),
			  op == 3 ? O_RDONLY : O_RDWR | O_APPEND);
		fz_record(c, "open", rel, fd);
		if (fd < 0)
			break;
		if (op == 3)
			ret = pread(fd, buf, fz_rand(rng, 2) ? sizeof(buf) : 100,
				    fz_rand(rng, 8192));
		else
			ret = write(fd, "fuzz", 4);
		fz_record(c, op == 3 ? "read" : "write", rel, ret < 0 ? -1 : 0);
		fz_record(c, "close", rel, close(fd));
		break;
	case 5:
		rel = fz_new(rng, FZ_T_REG);
		fd = open(at(p, self->dir, rel), O_CREAT | O_EXCL | O_RDWR,
			  0644);
		fz_record(c, "create", rel, fd);
		if (fd < 0)
			break;
		fz_record(c, "write", rel, write(fd, "new", 3) < 0 ? -1 : 0);
		fz_record(c, "close", rel, close(fd));
		break;
	case 6:
		if (!fz_rand(rng, 3))
			rel = "";
		d = opendir(at(p, self->dir, rel));
		fz_record(c, "opendir", rel, d ? 0 : -1);
		if (!d)
			break;
		do {
			errno = 0;
			de = readdir(d);
		} while (de);
		fz_record(c, "readdir", rel, errno ? -1 : 0);
		fz_record(c, "closedir", rel, closedir(d));
		break;
	case 7:
		rel = fz_new(rng, FZ_T_DIR);
		fz_record(c, "mkdir", rel, mkdir(at(p, self->dir, rel), 0755));
		break;
	case 8:
		fz_record(c, "unlink", rel, unlink(at(p, self->dir, rel)));
		break;
	case 9:
		fz_record(c, "rmdir", rel, rmdir(at(p, self->dir, rel)));
		break;
	case 10:
		rel2 = fz_new(rng, -1);
		fz_record(c, "rename", rel, rename(at(p, self->dir, rel),
						   at(q, self->dir, rel2)));
		break;
	case 11:
		ret = getxattr(at(p, self->dir, rel), "user.fuzz", buf,
			       fz_rand(rng, 2) ? 0 : 1 + fz_rand(rng, 64));
		fz_record(c, "getxattr", rel, ret < 0 ? -1 : 0);
		break;
	case 12:
		ret = listxattr(at(p, self->dir, rel), buf,
				fz_rand(rng, 2) ? 0 : fz_rand(rng, 256));
		fz_record(c, "listxattr", rel, ret < 0 ? -1 : 0);
		break;
	case 13:
		fz_record(c, "setxattr", rel,
			  setxattr(at(p, self->dir, rel), "user.fuzz", "v", 1,
				   0));
		break;
	case 14:
		ret = readlink(at(p, self->dir, rel), buf, sizeof(buf));
		fz_record(c, "readlink", rel, ret < 0 ? -1 : 0);
		break;
	case 15:
		rel = fz_new(rng, FZ_T_LNK);
		fz_record(c, "symlink", rel,
			  symlink("target", at(p, self->dir, rel)));
		break;
	case 16:
		fz_record(c, "statfs", "", statfs(self->dir, &sfs));
		break;
	case 17:
		fz_record(c, "access", rel, access(at(p, self->dir, rel), R_OK));
		break;
	case 18:
		fz_record(c, "truncate", rel,
			  truncate(at(p, self->dir, rel), fz_rand(rng, 8192)));
		break;
	case 19:
		rel2 = fz_new(rng, FZ_T_REG);
		fz_record(c, "link", rel, link(at(p, self->dir, rel),
					       at(q, self->dir, rel2)));
		break;
	default:
		fz_record(c, "chmod", rel, chmod(at(p, self->dir, rel), 0600));
		break;
	}
}

/* The forked client: only success or errnos of a known set */
static int fz_client_main(struct _test_data_fuzz *self, void *arg)
{
	const struct fz_client_args *a = arg;
	__u64 rng = a->seed;
	unsigned int i;

	for (i = 0; i < a->ops; i++) {
		if (__atomic_load_n(&self->client->stop, __ATOMIC_RELAXED))
			break;
		fz_client_op(self, &rng, self->mode == FZ_LOOKUP);
	}
	return self->client->bad ? 1 : 0;
}

/* What a sane server makes of the mount; 0 or the step that failed */
static int fz_sanity_main(struct _test_data_fuzz *self, void *arg)
{
	char p[PATH_MAX], buf[64], want[16];
	bool found = false;
	struct dirent *de;
	struct stat st;
	ssize_t n;
	DIR *d;
	int fd;

	/* A backing file attached by a LOOKUP reply */
	if (stat(at(p, self->dir, "sane_file"), &st))
		return 10;
	if (!S_ISREG(st.st_mode) || st.st_size != FZ_SANE_SIZE)
		return 11;
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return 13;
	n = read(fd, buf, sizeof(want));
	close(fd);
	memset(want, 's', sizeof(want));
	if (n != sizeof(want) || memcmp(buf, want, sizeof(want)))
		return 14;
	/* A backing directory, and what is in it */
	if (stat(at(p, self->dir, "sane_dir/inner"), &st))
		return 15;
	if (st.st_size != strlen(FZ_SANE_INNER))
		return 16;
	d = opendir(at(p, self->dir, "sane_dir"));
	if (!d)
		return 17;
	while ((de = readdir(d)))
		if (!strcmp(de->d_name, "inner"))
			found = true;
	closedir(d);
	if (!found)
		return 18;
	/* A plain node of the server */
	if (stat(at(p, self->dir, "f77777777"), &st))
		return 19;
	if (!S_ISREG(st.st_mode) || st.st_size != FZ_FILE_SIZE)
		return 20;
	return 0;
}

static int fz_umount_main(struct _test_data_fuzz *self, void *arg)
{
	return umount2(self->dir, 0) ? errno : 0;
}

/* ---------------------------------------------------------------- */
/* Set-up                                                             */
/* ---------------------------------------------------------------- */

/* Load "r0 = 0; exit" as a program of @type; returns its fd or -errno */
static int fz_load_prog(__u32 type)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = type;
	attr.insns = (uintptr_t)insns;
	attr.insn_cnt = ARRAY_SIZE(insns);
	attr.license = (uintptr_t)"GPL";
	fd = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}

static int fz_create_map(void)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	fd = syscall(__NR_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}

static void fz_write_file(struct __test_metadata *_metadata, const char *path,
			  char c, size_t size)
{
	char buf[4096];
	size_t done = 0, len;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, fd) TH_LOG("create %s: %s", path, strerror(errno));
	memset(buf, c, sizeof(buf));
	while (done < size) {
		len = size - done < sizeof(buf) ? size - done : sizeof(buf);
		ASSERT_EQ(len, write(fd, buf, len));
		done += len;
	}
	ASSERT_EQ(0, close(fd));
}

/* A kind of descriptor: its value, and what the kernel makes of it */
static void fz_pool_set(struct _test_data_fuzz *self, int kind, __u64 value,
			int backing_err, int bpf_err)
{
	self->pool[kind] = value;
	self->backing_err[kind] = backing_err;
	self->bpf_err[kind] = bpf_err;
	self->pool_ok[kind] = true;
}

/* An open descriptor of @kind, -1 if it could not be had */
static void fz_pool_fd(struct __test_metadata *_metadata,
		       struct _test_data_fuzz *self, int kind, int fd,
		       int backing_err, int bpf_err)
{
	ASSERT_LE(0, fd) TH_LOG("descriptor %s: %s", fz_kind_names[kind],
				strerror(errno));
	self->pool_fd[kind] = fd;
	fz_pool_set(self, kind, fd, backing_err, bpf_err);
}

/*
 * Descriptors of every kind. What fuse_bpf_reply_fds() says of them: a
 * directory, regular file or symlink on ext4 may back an entry, the mount
 * itself is too deep (ELOOP), anything else is no backing (EINVAL); only
 * a BPF_PROG_TYPE_FUSE program is a program, O_PATH descriptors are none
 * (EBADF, as bpf(2) resolves them), and numbers of no open file are EBADF.
 */
static void fz_make_pool(struct __test_metadata *_metadata,
			 struct _test_data_fuzz *self)
{
	int pipe_fds[2], fd, i;
	char p[PATH_MAX];

	fz_pool_fd(_metadata, self, K_REG,
		   open(at(p, self->backing, "fuzz_reg"), O_RDONLY), 0, EINVAL);
	fz_pool_fd(_metadata, self, K_REG_PATH,
		   open(p, O_PATH), 0, EBADF);
	fz_pool_fd(_metadata, self, K_DIR,
		   open(at(p, self->backing, "fuzz_dir"), O_RDONLY | O_DIRECTORY),
		   0, EINVAL);
	fz_pool_fd(_metadata, self, K_DIR_PATH, open(p, O_PATH), 0, EBADF);
	fz_pool_fd(_metadata, self, K_SYMLINK,
		   open(at(p, self->backing, "fuzz_lnk"), O_PATH | O_NOFOLLOW),
		   0, EBADF);
	fz_pool_fd(_metadata, self, K_BACKING_ROOT,
		   open(self->backing, O_RDONLY | O_DIRECTORY), 0, EINVAL);
	/* An O_PATH open of the mount point sends no request */
	fz_pool_fd(_metadata, self, K_MOUNT_DIR,
		   open(self->dir, O_PATH | O_DIRECTORY), ELOOP, EBADF);
	fz_pool_fd(_metadata, self, K_EVENTFD, eventfd(0, 0), EINVAL, EINVAL);
	ASSERT_EQ(0, pipe(pipe_fds));
	fz_pool_fd(_metadata, self, K_PIPE_R, pipe_fds[0], EINVAL, EINVAL);
	fz_pool_fd(_metadata, self, K_PIPE_W, pipe_fds[1], EINVAL, EINVAL);
	fz_pool_fd(_metadata, self, K_SOCKET, socket(AF_UNIX, SOCK_STREAM, 0),
		   EINVAL, EINVAL);
	fz_pool_fd(_metadata, self, K_MEMFD, memfd_create("fuzz", 0), EINVAL,
		   EINVAL);
	fz_pool_fd(_metadata, self, K_EPOLL, epoll_create1(0), EINVAL, EINVAL);
	fz_pool_fd(_metadata, self, K_DEVNULL, open("/dev/null", O_RDWR),
		   EINVAL, EINVAL);
	fz_pool_fd(_metadata, self, K_PROC_FILE,
		   open("/proc/self/status", O_RDONLY), EINVAL, EINVAL);
	fz_pool_fd(_metadata, self, K_PROC_DIR,
		   open("/proc/self", O_RDONLY | O_DIRECTORY), EINVAL, EINVAL);
	fz_pool_set(self, K_FUSE_DEV, self->fuse_fd, EINVAL, EINVAL);
	fz_pool_fd(_metadata, self, K_BPF_MAP, fz_create_map(), EINVAL, EINVAL);
	fz_pool_fd(_metadata, self, K_PROG_SOCKET,
		   fz_load_prog(BPF_PROG_TYPE_SOCKET_FILTER), EINVAL, EINVAL);
	fd = fz_load_prog(BPF_PROG_TYPE_FUSE);
	if (fd >= 0)
		fz_pool_fd(_metadata, self, K_PROG_FUSE, fd, EINVAL, 0);
	else
		TH_LOG("no BPF_PROG_TYPE_FUSE program: %s", strerror(-fd));
	/* Far above any descriptor the test opens, and closed */
	close(900);
	fz_pool_set(self, K_CLOSED, 900, EBADF, EBADF);
	fz_pool_set(self, K_INT_MAX, INT_MAX, EBADF, EBADF);
	fz_pool_set(self, K_UNUSED, 100000, EBADF, EBADF);
	fz_pool_set(self, K_MINUS1, ~0ULL, EBADF, EBADF);
	fz_pool_set(self, K_2_31, 1ULL << 31, EBADF, EBADF);
	fz_pool_set(self, K_HUGE, 1ULL << 40, EBADF, EBADF);
	for (i = 0; i < K_NR; i++)
		ASSERT_TRUE(self->pool_ok[i] || i == K_PROG_FUSE)
			TH_LOG("no descriptor of kind %d", i);
}

static void fz_close_pool(struct _test_data_fuzz *self)
{
	int i;

	for (i = 0; i < K_NR; i++) {
		if (self->pool_fd[i] >= 0)
			close(self->pool_fd[i]);
		self->pool_fd[i] = -1;
		self->pool_ok[i] = false;
	}
}

/* Mount the fuse-bpf filesystem served by this process */
static void fz_mount(struct __test_metadata *_metadata,
		     struct _test_data_fuzz *self)
{
	int fd, flags;

	fd = test_fuse_mount(self->dir, "fuse_bpf");
	ASSERT_LE(0, fd) TH_LOG("mount: %s", strerror(-fd));
	self->fuse_fd = fd;
	self->mounted = true;
	self->bpf_proto = false;
	self->pool[K_FUSE_DEV] = fd;
	self->pool_ok[K_FUSE_DEV] = true;
	/* Never block in read(): the server also watches its child */
	flags = fcntl(fd, F_GETFL);
	ASSERT_LE(0, flags);
	ASSERT_EQ(0, fcntl(fd, F_SETFL, flags | O_NONBLOCK));
}

/* Unmount, with the server answering whatever that sends */
static void fz_umount(struct __test_metadata *_metadata,
		      struct _test_data_fuzz *self)
{
	int status;

	if (!self->mounted)
		return;
	/* No descriptor may pin the mount */
	fz_close_pool(self);
	status = fz_run(self, self->mode, fz_umount_main, NULL);
	self->mounted = false;
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("umount %s: status 0x%x (%s)", self->dir, status,
		       WIFEXITED(status) ? strerror(WEXITSTATUS(status)) : "");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		umount2(self->dir, MNT_DETACH);
	fz_abort(self);
	EXPECT_FALSE(fz_mounted(self->dir))
		TH_LOG("%s still mounted", self->dir);
}

FIXTURE_SETUP(fuzz)
{
	char p[PATH_MAX];
	int i;

	self->fuse_fd = -1;
	for (i = 0; i < K_NR; i++)
		self->pool_fd[i] = -1;
	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	snprintf(self->dir, sizeof(self->dir), "/tmp/fuse_fuzz.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));

	/* What the sanity check finds, and what the fuzzing attaches */
	fz_write_file(_metadata, at(p, self->backing, "sane_data"), 's',
		      FZ_SANE_SIZE);
	ASSERT_EQ(0, mkdir(at(p, self->backing, "sane_sub"), 0755));
	fz_write_file(_metadata, at(p, self->backing, "sane_sub/inner"), 'i',
		      strlen(FZ_SANE_INNER));
	fz_write_file(_metadata, at(p, self->backing, "fuzz_reg"), 'r',
		      FZ_FILE_SIZE);
	ASSERT_EQ(0, mkdir(at(p, self->backing, "fuzz_dir"), 0755));
	fz_write_file(_metadata, at(p, self->backing, "fuzz_dir/f1"), 'f', 10);
	ASSERT_EQ(0, symlink("fuzz_reg", at(p, self->backing, "fuzz_lnk")));

	self->sane_file_fd = open(at(p, self->backing, "sane_data"), O_RDONLY);
	ASSERT_LE(0, self->sane_file_fd);
	self->sane_dir_fd = open(at(p, self->backing, "sane_sub"),
				 O_PATH | O_DIRECTORY);
	ASSERT_LE(0, self->sane_dir_fd);

	self->page = sysconf(_SC_PAGESIZE);
	self->guard_map = mmap(NULL, 2 * self->page, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->guard_map);
	self->guard = self->guard_map + self->page;
	ASSERT_EQ(0, mprotect(self->guard, self->page, PROT_NONE));
	self->client = mmap(NULL, sizeof(*self->client),
			    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			    -1, 0);
	ASSERT_NE(MAP_FAILED, self->client);
	memset(self->client, 0, sizeof(*self->client));
	self->rounds = fz_env("FUSE_FUZZ_ROUNDS", FZ_ROUNDS);
}

FIXTURE_TEARDOWN(fuzz)
{
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
		self->child = 0;
	}
	fz_umount(_metadata, self);
	fz_abort(self);
	fz_close_pool(self);
	close(self->sane_file_fd);
	close(self->sane_dir_fd);
	EXPECT_FALSE(fz_mounted(self->dir));
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

/* ---------------------------------------------------------------- */
/* The tests                                                          */
/* ---------------------------------------------------------------- */

static void fz_print_counts(const char *what, const unsigned long *counts,
			    size_t nr, const char * const *names)
{
	char line[1024];
	size_t i, off = 0;

	line[0] = 0;
	for (i = 0; i < nr && off < sizeof(line) - 64; i++) {
		if (!counts[i])
			continue;
		if (names)
			off += snprintf(line + off, sizeof(line) - off, " %s:%lu",
					names[i], counts[i]);
		else
			off += snprintf(line + off, sizeof(line) - off, " %zu:%lu",
					i, counts[i]);
	}
	ksft_print_msg("%s:%s\n", what, line);
}

static void fz_report(struct _test_data_fuzz *self)
{
	struct fz_client *c = self->client;
	unsigned long errs[FZ_NR_ERRNO];
	int i;

	ksft_print_msg("server: %lu requests, %lu attempts, %lu finals, %lu mismatches, %lu lost\n",
		       self->st.requests, self->st.attempts, self->st.finals,
		       self->st.mismatches, self->st.lost);
	fz_print_counts("mutations", self->st.muts, MU_NR, fz_mut_names);
	fz_print_counts("attempt results (errno:count)", self->st.res,
			FZ_NR_ERRNO, NULL);
	fz_print_counts("extension results (errno:count)", self->st.ext_res,
			FZ_NR_ERRNO, NULL);
	fz_print_counts("extension descriptors", self->st.ext_kinds, K_NR,
			fz_kind_names);
	for (i = 0; i < FZ_NR_ERRNO; i++)
		errs[i] = c->err[i];
	ksft_print_msg("client: %u operations, %u succeeded, %u bad\n",
		       c->ops, c->ok, c->bad);
	fz_print_counts("client errnos (errno:count)", errs, FZ_NR_ERRNO,
			NULL);
}

static void fz_seed_rng(struct __test_metadata *_metadata,
			struct _test_data_fuzz *self, __u64 dflt)
{
	self->seed = fz_env("FUSE_FUZZ_SEED", dflt);
	/* xorshift never leaves 0 */
	self->rng = self->seed ? self->seed : 1;
	TH_LOG("seed 0x%llx, %u rounds (set FUSE_FUZZ_SEED, FUSE_FUZZ_ROUNDS to change)",
	       (unsigned long long)self->seed, self->rounds);
}

/* The client's verdict and the server's */
static void fz_check_run(struct __test_metadata *_metadata,
			 struct _test_data_fuzz *self, int status)
{
	EXPECT_FALSE(self->killed) TH_LOG("the client hung");
	EXPECT_TRUE(WIFEXITED(status))
		TH_LOG("client status 0x%x: signal %d", status,
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	EXPECT_EQ(0, self->client->bad)
		TH_LOG("client: %s", self->client->bad_msg);
	EXPECT_EQ(0, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	EXPECT_EQ(0, self->st.mismatches)
		TH_LOG("server: %s", self->st.first_bad);
	EXPECT_EQ(0, self->st.lost);
}

/* After fuzzing, a sane server makes the mount work as it should */
static void fz_check_sanity(struct __test_metadata *_metadata,
			    struct _test_data_fuzz *self)
{
	int status;

	status = fz_run(self, FZ_SANE, fz_sanity_main, NULL);
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("sanity check: status 0x%x, failed at step %d", status,
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	EXPECT_EQ(0, self->st.mismatches)
		TH_LOG("server: %s", self->st.first_bad);
}

/* Fuzz a mount in @mode for self->rounds client operations */
static void fz_fuzz(struct __test_metadata *_metadata,
		    struct _test_data_fuzz *self, int mode, __u64 seed)
{
	struct fz_client_args args = { .ops = self->rounds };
	int status;

	fz_seed_rng(_metadata, self, seed);
	args.seed = self->rng ^ 0x9e3779b97f4a7c15ULL;
	fz_mount(_metadata, self);
	fz_make_pool(_metadata, self);
	status = fz_run(self, mode, fz_client_main, &args);
	fz_report(self);
	fz_check_run(_metadata, self, status);
	ASSERT_LT(0, self->st.requests);
	ASSERT_LT(0, self->client->ops);
	fz_check_sanity(_metadata, self);
	fz_umount(_metadata, self);
}

static void fz_expect_muts(struct __test_metadata *_metadata,
			   struct _test_data_fuzz *self, const int *muts,
			   size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		EXPECT_LT(0, self->st.muts[muts[i]])
			TH_LOG("mutation %s never tried", fz_mut_names[muts[i]]);
}

/*
 * write(2) of mutated replies to every request: each attempt must give
 * the errno fuse_dev_do_write() and copy_out_args() have for it (EINVAL
 * for bad lengths and errors, ENOENT for unknown ids, EPERM for a LOOKUP
 * extension, EFAULT for unmapped buffers, EINVAL or ENAMETOOLONG for bad
 * notifications, success for interrupt replies and valid replies).
 */
TEST_F_TIMEOUT(fuzz, fuzz_headers, FZ_TIMEOUT)
{
	fz_fuzz(_metadata, self, FZ_HEADERS, 0x48454144);
	fz_expect_muts(_metadata, self, fz_header_muts,
		       ARRAY_SIZE(fz_header_muts));
	EXPECT_LT(0, self->st.res[EPERM]);
	EXPECT_LT(0, self->st.res[ENOENT]);
	EXPECT_LT(0, self->st.res[EFAULT]);
	EXPECT_LT(0, self->st.res[EINVAL]);
}

/*
 * FUSE_DEV_IOC_BPF_REPLY with mutated arguments for every request: flags
 * (EINVAL), argument and buffer pointers (EFAULT), lengths (EINVAL, or
 * EFAULT from access_ok()), commands (ENOTTY), and the mutated replies of
 * fuzz_headers through it.
 */
TEST_F_TIMEOUT(fuzz, fuzz_ioctl_args, FZ_TIMEOUT)
{
	fz_fuzz(_metadata, self, FZ_IOCTL, 0x494f4354);
	fz_expect_muts(_metadata, self, fz_ioctl_muts,
		       ARRAY_SIZE(fz_ioctl_muts));
	EXPECT_LT(0, self->st.res[ENOTTY]);
	EXPECT_LT(0, self->st.res[ENOENT]);
	EXPECT_LT(0, self->st.res[EFAULT]);
	EXPECT_LT(0, self->st.res[EINVAL]);
}

/*
 * LOOKUP replies with random entries and extensions through the ioctl:
 * actions, descriptors of every kind, lengths, node ids. The ioctl must
 * say what fuse_bpf_reply_fds() makes of each (fz_predict()), an
 * extension written with write(2) is refused with EPERM, and the client,
 * whose lookups and revalidations meet the result, sees errnos only.
 */
TEST_F_TIMEOUT(fuzz, fuzz_lookup_replies, FZ_TIMEOUT)
{
	static const int muts[] = {
		MU_LK_EXT, MU_LK_ENTRY, MU_LK_EXT_WRITE,
	};

	fz_fuzz(_metadata, self, FZ_LOOKUP, 0x4c4f4f4b);
	fz_expect_muts(_metadata, self, muts, ARRAY_SIZE(muts));
	EXPECT_LT(0, self->st.res[EPERM]);
	EXPECT_LT(0, self->st.ext_res[0]);
	EXPECT_LT(0, self->st.ext_res[EINVAL]);
	EXPECT_LT(0, self->st.ext_res[EBADF]);
}

/*
 * Mounts whose FUSE_INIT gets a mutated reply: versions, flags, limits,
 * short and long payloads, errors. The reply is taken (EINVAL if too
 * long); a connection that failed refuses requests (ECONNREFUSED), one
 * that did not serves them. A fresh mount of a sane server works.
 */
TEST_F_TIMEOUT(fuzz, fuzz_init, FZ_TIMEOUT)
{
	unsigned int i, mounts = self->rounds / 25 ? self->rounds / 25 : 1;
	struct fz_client_args args = { .ops = FZ_INIT_OPS };
	int status;

	fz_seed_rng(_metadata, self, 0x494e4954);
	for (i = 0; i < mounts; i++) {
		fz_mount(_metadata, self);
		args.seed = fz_next(&self->rng);
		status = fz_run(self, FZ_INIT, fz_client_main, &args);
		fz_check_run(_metadata, self, status);
		fz_umount(_metadata, self);
		ASSERT_FALSE(fz_mounted(self->dir));
	}
	fz_report(self);
	EXPECT_EQ(mounts, self->st.muts[MU_INIT]);
	/* Some connections failed, some worked */
	EXPECT_LT(0, self->client->err[ECONNREFUSED]);
	EXPECT_LT(0, self->client->ok);

	fz_mount(_metadata, self);
	fz_check_sanity(_metadata, self);
	fz_umount(_metadata, self);
}

TEST_HARNESS_MAIN
