// SPDX-License-Identifier: GPL-2.0
/*
 * Differential permission test for fuse-bpf.
 *
 * A backed FUSE inode must check its caller exactly as the backing
 * filesystem would, with or without default_permissions, as overlayfs
 * does. Two identical trees are built in a directory of the ext4 scratch
 * disk: n/, used directly, and f/, used through a fuse-bpf mount. Every
 * operation runs as several users once on each tree; both runs must fail
 * with the same errno or succeed with the same result, and leave both
 * trees in the same state. ext4 is the expectation: no errno is
 * hard-coded, but for a few sanity checks showing that the test does not
 * compare two identical failures of its own.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <linux/fs.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../../kselftest_harness.h"
#include "test_daemon.h"
#include "test_util.h"

#define HARDLINKS_SYSCTL	"/proc/sys/fs/protected_hardlinks"
#define SYMLINKS_SYSCTL		"/proc/sys/fs/protected_symlinks"
#define ACL_ACCESS		"system.posix_acl_access"

/* Node id the daemon gives the backed subtree f/ */
#define F_NODEID		2
/* Times set before a case that changes them, and by the explicit case */
#define OLD_TIME		100000000
#define SET_TIME		200000000

/* Generous: the guest runs a debug kernel on two vCPUs */
#define PERM_TIMEOUT		300

/* Snapshot of a tree: one entry per object, sorted by path */
#define SNAP_MAX		64
#define ENT_PATH		64
#define ENT_DATA		256
#define ENT_XATTRS		1024

/* Result of an operation, as the worker saw it */
#define RES_DATA		512

/* Who runs the operations */
enum { U_ROOT, U_1000, U_1001, U_2000, NR_USERS };

static const struct test_user users[NR_USERS] = {
	[U_ROOT] = { .uid = 0, .gid = 0 },
	[U_1000] = { .uid = 1000, .gid = 1000 },
	/* In group 2000 through a supplementary group */
	[U_1001] = { .uid = 1001, .gid = 1001, .ngroups = 1,
		     .groups = { 2000 } },
	/* In group 2000 through its primary group */
	[U_2000] = { .uid = 2000, .gid = 2000 },
};

/* Extra attributes of a tree entry */
#define X_USER		0x01	/* user.x */
#define X_PRIV		0x02	/* trusted.x and security.x */
#define X_ACL		0x04	/* access ACL granting uid 1001 rw */
#define X_APPEND	0x08	/* FS_APPEND_FL */

struct tree_ent {
	const char *path;
	mode_t mode;		/* type and permission bits */
	uid_t uid;
	gid_t gid;
	const char *data;	/* file content, symlink target */
	unsigned int extra;	/* X_* */
};

/*
 * The tree, built twice. Parents come before their children. Names say
 * owner and mode; the sticky directory holds files others may write but
 * not delete.
 */
static const struct tree_ent tree[] = {
	{ "root600",	S_IFREG | 0600,  0,    0,    "secret\n", X_USER },
	{ "root644",	S_IFREG | 0644,  0,    0,    "public\n" },
	{ "other666",	S_IFREG | 0666,  0,    0,    "shared\n", X_USER },
	{ "u1000_644",	S_IFREG | 0644,  1000, 1000, "mine\n" },
	{ "u1000_g2000", S_IFREG | 0640, 1000, 2000, "mixed\n" },
	{ "u1001_644",	S_IFREG | 0644,  1001, 1001, "u1001\n" },
	{ "g2000_660",	S_IFREG | 0660,  0,    2000, "group\n" },
	{ "exec755",	S_IFREG | 0755,  0,    0,    "#!/bin/sh\n" },
	{ "suid755",	S_IFREG | 04755, 0,    0,    "suid\n" },
	{ "suid777",	S_IFREG | 04777, 0,    0,    "suid\n" },
	{ "sgid_x",	S_IFREG | 02777, 0,    2000, "sgid\n" },
	{ "sgid_nox",	S_IFREG | 02666, 0,    2000, "sgid\n" },
	{ "append",	S_IFREG | 0666,  1000, 1000, "log\n", X_APPEND },
	{ "xattrs",	S_IFREG | 0644,  0,    0,    "x\n", X_USER | X_PRIV },
	{ "acl",	S_IFREG | 0660,  0,    0,    "acl\n", X_ACL },
	{ "link",	S_IFLNK | 0777,  0,    0,    "root644" },
	{ "fifo",	S_IFIFO | 0666,  0,    0 },
	{ "dir700",	S_IFDIR | 0700,  0,    0 },
	{ "dir700/file", S_IFREG | 0644, 0,    0,    "in700\n" },
	{ "dir755",	S_IFDIR | 0755,  0,    0,    NULL, X_USER },
	{ "dir755/file", S_IFREG | 0644, 0,    0,    "in755\n" },
	{ "dir755/sub",	S_IFDIR | 0755,  0,    0 },
	{ "dir777",	S_IFDIR | 0777,  0,    0,    NULL, X_USER },
	{ "dir777/root", S_IFREG | 0644, 0,    0,    "root\n" },
	{ "dir777/u1000", S_IFREG | 0644, 1000, 1000, "u1000\n" },
	{ "dir777/sub",	S_IFDIR | 0755,  0,    0 },
	{ "sticky",	S_IFDIR | 01777, 0,    0,    NULL, X_USER },
	{ "sticky/root", S_IFREG | 0666, 0,    0,    "root\n" },
	{ "sticky/u1000", S_IFREG | 0666, 1000, 1000, "u1000\n" },
	{ "sticky/u1001", S_IFREG | 0666, 1001, 1001, "u1001\n" },
	{ "sticky/sub_u1000", S_IFDIR | 0755, 1000, 1000 },
	/* protected_symlinks: followed by others than its owner, no */
	{ "sticky/lnk",	S_IFLNK | 0777,  1000, 1000, "u1001" },
	{ "u1000dir",	S_IFDIR | 0755,  1000, 1000 },
	{ "u1000dir/file", S_IFREG | 0644, 1000, 1000, "file\n" },
	{ "sgiddir",	S_IFDIR | 02777, 0,    2000 },
};

/* A POSIX ACL in its xattr form: owner, one named user, group, mask, other */
struct acl_xattr {
	struct posix_acl_xattr_header h;
	struct posix_acl_xattr_entry e[5];
};

static struct acl_xattr make_acl(int owner, uid_t user, int user_perm,
				 int group, int mask, int other)
{
	struct acl_xattr acl = {
		.h.a_version = POSIX_ACL_XATTR_VERSION,
		.e = {
			{ ACL_USER_OBJ, owner, ACL_UNDEFINED_ID },
			{ ACL_USER, user_perm, user },
			{ ACL_GROUP_OBJ, group, ACL_UNDEFINED_ID },
			{ ACL_MASK, mask, ACL_UNDEFINED_ID },
			{ ACL_OTHER, other, ACL_UNDEFINED_ID },
		},
	};

	return acl;
}

/* The ACL of "acl": rw for its owner and uid 1001, nothing for others */
static struct acl_xattr tree_acl(void)
{
	return make_acl(6, 1001, 6, 0, 6, 0);
}

/* The ACL the set_acl cases set: rw for uid 2000 too */
static struct acl_xattr new_acl(void)
{
	return make_acl(6, 2000, 6, 4, 6, 4);
}

/* One object of a snapshot */
struct ent {
	char path[ENT_PATH];	/* relative to the tree, "." for its root */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	long long size;
	unsigned long nlink;
	/* Compared within one tree only, to find what changed */
	ino_t ino;
	struct timespec ctime;
	/* Compared between the trees in the cases that set times */
	struct timespec mtime;
	struct timespec atime;
	/* Full snapshots only */
	int fsflags;		/* FS_IOC_GETFLAGS, -1 if not a file or dir */
	int dlen;		/* content or link target, -1 if none */
	char data[ENT_DATA];
	char xattrs[ENT_XATTRS];	/* "name=hexvalue;" sorted by name */
};

struct snap {
	bool full;
	int nr;
	/* errno of the first failure to read the tree, 0 if none */
	int err;
	char err_path[PATH_MAX];
	struct ent e[SNAP_MAX];
};

/* What an operation did, written by the worker into shared memory */
struct res {
	int err;		/* 0 or errno; -1 if the operation did not run */
	long val;		/* bytes written, a size, flags... */
	int dlen;
	char data[RES_DATA];	/* bytes read, names... */
};

struct shared {
	struct res r[2];	/* ext4, fuse-bpf */
};

struct pcase;
typedef int (*op_fn)(const char *root, const struct pcase *c,
		     struct res *r);

/* Flags of a case */
#define PC_RO		0x01	/* changes nothing, whatever its outcome */
#define PC_TIMES	0x02	/* sets times: compare them, old ones before */

/* One operation on one target, run as every user */
struct pcase {
	const char *op;		/* what it does, for messages */
	op_fn fn;
	const char *target;
	const char *target2;	/* destination of rename, link... */
	long arg;
	long arg2;
	const char *str;	/* xattr name, symlink target */
	const char *val;	/* xattr value */
	unsigned int flags;
};

/* Daemon of the variant whose f/ a server attaches in a LOOKUP reply */
struct perm_daemon {
	int backing_fd;		/* O_PATH fd of the backing of f/ */
	unsigned int lookups;
	unsigned int getattrs;
	/* Requests for something else than the root and f/ */
	unsigned int bad;
	__u32 bad_opcode;
	__u64 bad_nodeid;
};

/* ---------------------------------------------------------------------- */
/* Helpers */

static const char *err_name(int err, char *buf, size_t len)
{
	static const struct {
		int err;
		const char *name;
	} names[] = {
		{ 0, "0" }, { EPERM, "EPERM" }, { ENOENT, "ENOENT" },
		{ EIO, "EIO" }, { ENXIO, "ENXIO" }, { EBADF, "EBADF" },
		{ EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" },
		{ EACCES, "EACCES" }, { EBUSY, "EBUSY" }, { EEXIST, "EEXIST" },
		{ EXDEV, "EXDEV" }, { ENODEV, "ENODEV" },
		{ ENOTDIR, "ENOTDIR" }, { EISDIR, "EISDIR" },
		{ EINVAL, "EINVAL" }, { ETXTBSY, "ETXTBSY" },
		{ EFBIG, "EFBIG" }, { ENOSPC, "ENOSPC" }, { EROFS, "EROFS" },
		{ EMLINK, "EMLINK" }, { ERANGE, "ERANGE" },
		{ ENAMETOOLONG, "ENAMETOOLONG" }, { ENOTEMPTY, "ENOTEMPTY" },
		{ ELOOP, "ELOOP" }, { ENODATA, "ENODATA" },
		{ EOPNOTSUPP, "EOPNOTSUPP" }, { ENOTTY, "ENOTTY" },
		{ ESTALE, "ESTALE" }, { E2BIG, "E2BIG" },
	};
	size_t i;

	if (err < 0)
		return "(did not run)";
	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i].err == err)
			return names[i].name;
	snprintf(buf, len, "errno %d", err);
	return buf;
}

static const char *user_name(const struct test_user *u, char *buf,
			     size_t len)
{
	int i, n;

	if (!u->uid)
		n = snprintf(buf, len, "root");
	else
		n = snprintf(buf, len, "uid %u gid %u", u->uid, u->gid);
	for (i = 0; i < u->ngroups && n > 0 && (size_t)n < len; i++)
		n += snprintf(buf + n, len - n, "%s%u",
			      i ? "," : " groups ", u->groups[i]);
	return buf;
}

/* What a case does, for messages */
static const char *case_name(const struct pcase *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s%s%s", c->op, c->target,
		 c->target2 ? " -> " : "", c->target2 ? c->target2 : "");
	return buf;
}

/* @data as printable text, for messages */
static const char *printable(const char *data, int len, char *buf,
			     size_t size)
{
	size_t i, n = 0;

	if (len < 0)
		return "(none)";
	for (i = 0; i < (size_t)len && n + 5 < size; i++) {
		unsigned char ch = data[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			buf[n++] = ch;
		else
			n += snprintf(buf + n, size - n, "\\x%02x", ch);
	}
	buf[n] = '\0';
	return buf;
}

/* Close @fd keeping the errno of a failed step, for the result */
static int done(int fd, int ret)
{
	int err = errno;

	if (close(fd) && !ret)
		return -1;
	errno = err;
	return ret;
}

static int read_sysctl(const char *path, int *val)
{
	FILE *f = fopen(path, "r");
	int ret;

	if (!f)
		return -1;
	ret = fscanf(f, "%d", val) == 1 ? 0 : -1;
	fclose(f);
	return ret;
}

static int write_sysctl(const char *path, int val)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fprintf(f, "%d\n", val) > 0 ? 0 : -1;
	if (fclose(f))
		ret = -1;
	return ret;
}

/* Security labels an LSM may add are not ours to compare */
static bool xattr_ignored(const char *name)
{
	return !strncmp(name, "security.", strlen("security.")) &&
	       strcmp(name, "security.x");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/*
 * The names of a listxattr() list, but for the ignored ones, sorted and
 * joined with @sep into @out. Returns the length.
 */
static int sorted_names(char *list, ssize_t len, char sep, char *out,
			size_t size)
{
	char *names[64];
	int nr = 0, i, n = 0;
	char *s;

	for (s = list; s < list + len && nr < 64; s += strlen(s) + 1)
		if (!xattr_ignored(s))
			names[nr++] = s;
	qsort(names, nr, sizeof(names[0]), cmp_str);
	out[0] = '\0';
	for (i = 0; i < nr && (size_t)n < size; i++)
		n += snprintf(out + n, size - n, "%s%c", names[i], sep);
	return (size_t)n < size ? n : (int)size - 1;
}

/* ---------------------------------------------------------------------- */
/* Operations. A worker runs them as its user; -1 and errno on failure */

static int op_open(const char *root, const struct pcase *c, struct res *r)
{
	char p[PATH_MAX];
	int fd;

	fd = open(at(p, root, c->target), c->arg | O_CLOEXEC,
		  (mode_t)c->arg2);
	if (fd < 0)
		return -1;
	return done(fd, 0);
}

static int op_read(const char *root, const struct pcase *c, struct res *r)
{
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	fd = open(at(p, root, c->target), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, r->data, sizeof(r->data));
	if (n >= 0)
		r->dlen = n;
	return done(fd, n < 0 ? -1 : 0);
}

/* Write "XY" at the start, or at the end with O_APPEND in arg */
static int op_write(const char *root, const struct pcase *c, struct res *r)
{
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	fd = open(at(p, root, c->target), O_WRONLY | O_CLOEXEC | c->arg);
	if (fd < 0)
		return -1;
	n = write(fd, "XY", 2);
	r->val = n;
	return done(fd, n < 0 ? -1 : 0);
}

static int op_access(const char *root, const struct pcase *c, struct res *r)
{
	char p[PATH_MAX];

	return access(at(p, root, c->target), c->arg);
}

static int op_eaccess(const char *root, const struct pcase *c, struct res *r)
{
	char p[PATH_MAX];

	return faccessat(AT_FDCWD, at(p, root, c->target), c->arg,
			 AT_EACCESS);
}

static int op_chmod(const char *root, const struct pcase *c, struct res *r)
{
	char p[PATH_MAX];

	return chmod(at(p, root, c->target), c->arg);
}

/* arg and arg2: uid and gid, -1 to keep */
static int op_chown(const char *root, const struct pcase *c, struct res *r)
{
	char p[PATH_MAX];

	return fchownat(AT_FDCWD, at(p, root, c->target), (uid_t)c->arg,
			(gid_t)c->arg2, AT_SYMLINK_NOFOLLOW);
}

enum { T_NULL, T_NOW, T_SET };

static int op_utimens(const char *root, const struct pcase *c,
		      struct res *r)
{
	static const struct timespec now[2] = {
		{ 0, UTIME_NOW }, { 0, UTIME_NOW },
	};
	static const struct timespec set[2] = {
		{ SET_TIME, 111 }, { SET_TIME, 222 },
	};
	char p[PATH_MAX];

	at(p, root, c->target);
	switch (c->arg) {
	case T_NOW:
		return utimensat(AT_FDCWD, p, now, 0);
	case T_SET:
		return utimensat(AT_FDCWD, p, set, 0);
	default:
		return utimensat(AT_FDCWD, p, NULL, 0);
	}
}

static int op_truncate(const char *root, const struct pcase *c,
		       struct res *r)
{
	char p[PATH_MAX];

	return truncate(at(p, root, c->target), c->arg);
}

static int op_ftruncate(const char *root, const struct pcase *c,
			struct res *r)
{
	char p[PATH_MAX];
	int fd;

	fd = open(at(p, root, c->target), O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	return done(fd, ftruncate(fd, c->arg));
}

static int op_create(const char *root, const struct pcase *c,
		     struct res *r)
{
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	fd = open(at(p, root, c->target),
		  O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, c->arg);
	if (fd < 0)
		return -1;
	n = write(fd, "new\n", 4);
	return done(fd, n < 0 ? -1 : 0);
}

static int op_mkfifo(const char *root, const struct pcase *c,
		     struct res *r)
{
	char p[PATH_MAX];

	return mknod(at(p, root, c->target), S_IFIFO | c->arg, 0);
}

static int op_mkdir(const char *root, const struct pcase *c, struct res *r)
{
	char p[PATH_MAX];

	return mkdir(at(p, root, c->target), c->arg);
}

static int op_symlink(const char *root, const struct pcase *c,
		      struct res *r)
{
	char p[PATH_MAX];

	return symlink(c->str, at(p, root, c->target));
}

static int op_link(const char *root, const struct pcase *c, struct res *r)
{
	char p[PATH_MAX], p2[PATH_MAX];

	return linkat(AT_FDCWD, at(p, root, c->target), AT_FDCWD,
		      at(p2, root, c->target2), 0);
}

/* An O_TMPFILE file in target, written and then linked as target2 */
static int op_tmpfile(const char *root, const struct pcase *c,
		      struct res *r)
{
	char p[PATH_MAX];
	int fd;

	fd = open(at(p, root, c->target), O_TMPFILE | O_WRONLY | O_CLOEXEC,
		  c->arg);
	if (fd < 0)
		return -1;
	if (write(fd, "tmp\n", 4) != 4)
		return done(fd, -1);
	return done(fd, linkat(fd, "", AT_FDCWD, at(p, root, c->target2),
			       AT_EMPTY_PATH));
}

static int op_unlink(const char *root, const struct pcase *c,
		     struct res *r)
{
	char p[PATH_MAX];

	return unlink(at(p, root, c->target));
}

static int op_rmdir(const char *root, const struct pcase *c, struct res *r)
{
	char p[PATH_MAX];

	return rmdir(at(p, root, c->target));
}

/* arg: renameat2() flags */
static int op_rename(const char *root, const struct pcase *c,
		     struct res *r)
{
	char p[PATH_MAX], p2[PATH_MAX];

	return renameat2(AT_FDCWD, at(p, root, c->target), AT_FDCWD,
			 at(p2, root, c->target2), c->arg);
}

/* The size a size query gives, and the value */
static int op_getxattr(const char *root, const struct pcase *c,
		       struct res *r)
{
	char p[PATH_MAX];
	ssize_t n;

	n = lgetxattr(at(p, root, c->target), c->str, NULL, 0);
	if (n < 0)
		return -1;
	r->val = n;
	n = lgetxattr(p, c->str, r->data, sizeof(r->data));
	if (n < 0)
		return -1;
	r->dlen = n;
	return 0;
}

/* arg: setxattr() flags */
static int op_setxattr(const char *root, const struct pcase *c,
		       struct res *r)
{
	char p[PATH_MAX];

	return lsetxattr(at(p, root, c->target), c->str, c->val,
			 strlen(c->val), c->arg);
}

static int op_removexattr(const char *root, const struct pcase *c,
			  struct res *r)
{
	char p[PATH_MAX];

	return lremovexattr(at(p, root, c->target), c->str);
}

/* The size a size query gives, and the names, sorted */
static int op_listxattr(const char *root, const struct pcase *c,
			struct res *r)
{
	char p[PATH_MAX], list[ENT_XATTRS];
	ssize_t n;

	n = llistxattr(at(p, root, c->target), NULL, 0);
	if (n < 0)
		return -1;
	r->val = n;
	n = llistxattr(p, list, sizeof(list));
	if (n < 0)
		return -1;
	r->dlen = sorted_names(list, n, ',', r->data, sizeof(r->data));
	return 0;
}

static int op_set_acl(const char *root, const struct pcase *c,
		      struct res *r)
{
	struct acl_xattr acl = new_acl();
	char p[PATH_MAX];

	return setxattr(at(p, root, c->target), ACL_ACCESS, &acl,
			sizeof(acl), 0);
}

static int op_getflags(const char *root, const struct pcase *c,
		       struct res *r)
{
	char p[PATH_MAX];
	int fd, flags = 0, ret;

	fd = open(at(p, root, c->target), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = ioctl(fd, FS_IOC_GETFLAGS, &flags);
	r->val = flags;
	return done(fd, ret);
}

/* Set the flags in arg, clear those in arg2, on a read-only fd */
static int op_setflags(const char *root, const struct pcase *c,
		       struct res *r)
{
	char p[PATH_MAX];
	int fd, flags = 0;

	fd = open(at(p, root, c->target), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags))
		return done(fd, -1);
	flags = (flags | c->arg) & ~c->arg2;
	return done(fd, ioctl(fd, FS_IOC_SETFLAGS, &flags));
}

/* The names in a directory but . and .., sorted, joined with '/' */
static int op_readdir(const char *root, const struct pcase *c,
		      struct res *r)
{
	char p[PATH_MAX], names[SNAP_MAX][ENT_PATH];
	char *sorted[SNAP_MAX];
	struct dirent *de;
	int nr = 0, i, n = 0;
	size_t len;
	DIR *d;

	d = opendir(at(p, root, c->target));
	if (!d)
		return -1;
	errno = 0;
	while ((de = readdir(d)) && nr < SNAP_MAX) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		len = strnlen(de->d_name, ENT_PATH - 1);
		memcpy(names[nr], de->d_name, len);
		names[nr][len] = '\0';
		sorted[nr] = names[nr];
		nr++;
	}
	if (errno) {
		i = errno;
		closedir(d);
		errno = i;
		return -1;
	}
	closedir(d);
	qsort(sorted, nr, sizeof(sorted[0]), cmp_str);
	for (i = 0; i < nr && (size_t)n < sizeof(r->data); i++)
		n += snprintf(r->data + n, sizeof(r->data) - n, "%s/",
			      sorted[i]);
	r->dlen = strnlen(r->data, sizeof(r->data));
	r->val = nr;
	return 0;
}

static int op_readlink(const char *root, const struct pcase *c,
		       struct res *r)
{
	char p[PATH_MAX];
	ssize_t n;

	n = readlink(at(p, root, c->target), r->data, sizeof(r->data));
	if (n < 0)
		return -1;
	r->dlen = n;
	return 0;
}

/* What lstat() shows, but the device, inode number and times */
static int op_stat(const char *root, const struct pcase *c, struct res *r)
{
	char p[PATH_MAX];
	struct stat st;

	if (lstat(at(p, root, c->target), &st))
		return -1;
	r->dlen = snprintf(r->data, sizeof(r->data),
			   "mode 0%o uid %u gid %u size %lld nlink %lu",
			   st.st_mode, st.st_uid, st.st_gid,
			   (long long)st.st_size,
			   (unsigned long)st.st_nlink);
	return 0;
}

static int op_chdir(const char *root, const struct pcase *c, struct res *r)
{
	char p[PATH_MAX];

	return chdir(at(p, root, c->target));
}

/* ---------------------------------------------------------------------- */
/* Trees: build, remove, snapshot, compare */

static int set_fsflags(const char *path, int set, int clear)
{
	int fd, flags = 0, ret = -1;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOATIME |
		  O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (!ioctl(fd, FS_IOC_GETFLAGS, &flags)) {
		flags = (flags | set) & ~clear;
		ret = ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
	return ret;
}

/* Make @t under @root, as root; -1 and errno on failure */
static int build_ent(const char *root, const struct tree_ent *t)
{
	struct acl_xattr acl = tree_acl();
	char p[PATH_MAX];
	size_t len;
	int fd, ret = 0;

	at(p, root, t->path);
	switch (t->mode & S_IFMT) {
	case S_IFDIR:
		ret = mkdir(p, 0700);
		break;
	case S_IFLNK:
		ret = symlink(t->data, p);
		break;
	case S_IFIFO:
		ret = mknod(p, S_IFIFO | 0600, 0);
		break;
	default:
		fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		len = strlen(t->data);
		ret = done(fd, write(fd, t->data, len) == (ssize_t)len ? 0 : -1);
		break;
	}
	if (ret || lchown(p, t->uid, t->gid))
		return -1;
	/* After chown(), which clears the set-id bits */
	if (!S_ISLNK(t->mode) && chmod(p, t->mode & 07777))
		return -1;
	if ((t->extra & X_USER) && lsetxattr(p, "user.x", "user", 4, 0))
		return -1;
	if ((t->extra & X_PRIV) &&
	    (lsetxattr(p, "trusted.x", "trusted", 7, 0) ||
	     lsetxattr(p, "security.x", "security", 8, 0)))
		return -1;
	if ((t->extra & X_ACL) &&
	    setxattr(p, ACL_ACCESS, &acl, sizeof(acl), 0))
		return -1;
	if ((t->extra & X_APPEND) && set_fsflags(p, FS_APPEND_FL, 0))
		return -1;
	return 0;
}

/* Length of the first component of @path */
static size_t top_len(const char *path)
{
	return strcspn(path, "/");
}

static bool same_top(const char *path, const char *top)
{
	return top_len(path) == strlen(top) && !strncmp(path, top, top_len(path));
}

/*
 * Build the entries of the tree under @root whose first component is @top,
 * or all of them. Returns the index of the entry that failed, or -1.
 */
static int build_tree(const char *root, const char *top)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tree); i++) {
		if (top && !same_top(tree[i].path, top))
			continue;
		if (build_ent(root, &tree[i]))
			return i;
	}
	return -1;
}

/* Remove @path and what is under it, append-only or immutable or not */
static int remove_all(const char *path)
{
	char child[PATH_MAX], parent[PATH_MAX];
	struct dirent *de;
	struct stat st;
	char *slash;
	int ret = 0;
	DIR *d;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode)) {
		d = opendir(path);
		if (!d) {
			/* Root may always read it, so that is not it */
			return -1;
		}
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			if (remove_all(at(child, path, de->d_name)))
				ret = -1;
		}
		closedir(d);
		if (ret)
			return -1;
		if (!rmdir(path))
			return 0;
	} else if (!unlink(path)) {
		return 0;
	}
	if (errno != EPERM)
		return -1;
	/* The inode or its directory is append-only or immutable */
	snprintf(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	if (slash)
		*slash = '\0';
	set_fsflags(path, 0, FS_APPEND_FL | FS_IMMUTABLE_FL);
	set_fsflags(parent, 0, FS_APPEND_FL | FS_IMMUTABLE_FL);
	return S_ISDIR(st.st_mode) ? rmdir(path) : unlink(path);
}

static void snap_fail(struct snap *s, const char *rel)
{
	if (!s->err) {
		s->err = errno ? errno : EIO;
		snprintf(s->err_path, sizeof(s->err_path), "%s", rel);
	}
}

/* The xattrs of @path, "name=hexvalue;" sorted by name */
static void snap_xattrs(const char *path, struct ent *e, struct snap *s)
{
	char list[ENT_XATTRS], names[ENT_XATTRS], value[128];
	size_t n = 0, i;
	ssize_t len;
	char *name, *next;

	len = llistxattr(path, list, sizeof(list));
	if (len < 0) {
		snap_fail(s, e->path);
		return;
	}
	sorted_names(list, len, '\0', names, sizeof(names));
	for (name = names; *name && n < sizeof(e->xattrs); name = next) {
		next = name + strlen(name) + 1;
		len = lgetxattr(path, name, value, sizeof(value));
		if (len < 0) {
			snap_fail(s, e->path);
			return;
		}
		n += snprintf(e->xattrs + n, sizeof(e->xattrs) - n, "%s=",
			      name);
		for (i = 0; i < (size_t)len && n < sizeof(e->xattrs); i++)
			n += snprintf(e->xattrs + n, sizeof(e->xattrs) - n,
				      "%02x", (unsigned char)value[i]);
		if (n < sizeof(e->xattrs))
			n += snprintf(e->xattrs + n, sizeof(e->xattrs) - n,
				      ";");
	}
}

/* @rel of @root into @e; content, flags and xattrs too if @full */
static void snap_ent(const char *root, const char *rel, struct ent *e,
		     struct snap *s)
{
	char path[PATH_MAX];
	struct stat st;
	ssize_t n;
	int fd;

	memset(e, 0, sizeof(*e));
	snprintf(e->path, sizeof(e->path), "%s", rel);
	e->fsflags = -1;
	e->dlen = -1;
	at(path, root, rel);
	if (lstat(path, &st)) {
		snap_fail(s, rel);
		return;
	}
	e->mode = st.st_mode;
	e->uid = st.st_uid;
	e->gid = st.st_gid;
	e->size = st.st_size;
	e->nlink = st.st_nlink;
	e->ino = st.st_ino;
	e->ctime = st.st_ctim;
	e->mtime = st.st_mtim;
	e->atime = st.st_atim;
	if (!s->full)
		return;

	if (S_ISLNK(st.st_mode)) {
		n = readlink(path, e->data, sizeof(e->data));
		if (n < 0)
			snap_fail(s, rel);
		e->dlen = n;
	} else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		/* No atime update: the snapshot changes nothing */
		fd = open(path, O_RDONLY | O_NOATIME | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			snap_fail(s, rel);
			return;
		}
		if (ioctl(fd, FS_IOC_GETFLAGS, &e->fsflags))
			snap_fail(s, rel);
		if (S_ISREG(st.st_mode)) {
			n = read(fd, e->data, sizeof(e->data));
			if (n < 0)
				snap_fail(s, rel);
			e->dlen = n;
		}
		close(fd);
	}
	snap_xattrs(path, e, s);
}

static void snap_dir(const char *root, const char *rel, struct snap *s)
{
	char path[PATH_MAX], crel[PATH_MAX];
	struct dirent *de;
	struct ent *e;
	DIR *d;

	d = opendir(at(path, root, rel));
	if (!d) {
		snap_fail(s, rel);
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (s->nr >= SNAP_MAX) {
			errno = E2BIG;
			snap_fail(s, rel);
			break;
		}
		if (strcmp(rel, "."))
			snprintf(crel, sizeof(crel), "%s/%s", rel, de->d_name);
		else
			snprintf(crel, sizeof(crel), "%s", de->d_name);
		if (strlen(crel) >= ENT_PATH) {
			errno = ENAMETOOLONG;
			snap_fail(s, crel);
			continue;
		}
		e = &s->e[s->nr++];
		snap_ent(root, crel, e, s);
		if (S_ISDIR(e->mode))
			snap_dir(root, crel, s);
	}
	closedir(d);
}

static int cmp_ent(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->path,
		      ((const struct ent *)b)->path);
}

/*
 * First components of paths: the part of a tree that a case may change,
 * or that changed. "." is the root of the tree itself, not its entries.
 */
struct scope {
	int nr;
	char top[SNAP_MAX][ENT_PATH];
};

/* Is @path in @sc? Everything is in a NULL scope */
static bool in_scope(const struct scope *sc, const char *path)
{
	int i;

	if (!sc)
		return true;
	for (i = 0; i < sc->nr; i++)
		if (same_top(path, sc->top[i]))
			return true;
	return false;
}

/* Add the first component of @path to @sc, once */
static void scope_add(struct scope *sc, const char *path)
{
	size_t len = top_len(path);

	if (in_scope(sc, path) || sc->nr >= SNAP_MAX)
		return;
	snprintf(sc->top[sc->nr++], ENT_PATH, "%.*s", (int)len, path);
}

/*
 * Snapshot the tree under @root, or the part of it in @sc, as root through
 * the ext4 paths
 */
static void snap_take(const char *root, struct snap *s, bool full,
		      const struct scope *sc)
{
	char path[PATH_MAX];
	struct stat st;
	struct ent *e;
	int i;

	s->full = full;
	s->nr = 0;
	s->err = 0;
	s->err_path[0] = '\0';
	if (!sc) {
		snap_ent(root, ".", &s->e[s->nr++], s);
		snap_dir(root, ".", s);
	}
	for (i = 0; sc && i < sc->nr; i++) {
		if (!strcmp(sc->top[i], ".")) {
			snap_ent(root, ".", &s->e[s->nr++], s);
			continue;
		}
		/* Gone: nothing to see, the comparison tells */
		if (lstat(at(path, root, sc->top[i]), &st) && errno == ENOENT)
			continue;
		if (s->nr >= SNAP_MAX) {
			errno = E2BIG;
			snap_fail(s, sc->top[i]);
			break;
		}
		e = &s->e[s->nr++];
		snap_ent(root, sc->top[i], e, s);
		if (S_ISDIR(e->mode))
			snap_dir(root, sc->top[i], s);
	}
	qsort(s->e, s->nr, sizeof(s->e[0]), cmp_ent);
}

/* Replace the entries of @pristine in @sc with those of @fresh */
static bool snap_merge(struct snap *pristine, const struct snap *fresh,
		       const struct scope *sc)
{
	int i, nr = 0;

	for (i = 0; i < pristine->nr; i++)
		if (!in_scope(sc, pristine->e[i].path))
			pristine->e[nr++] = pristine->e[i];
	if (nr + fresh->nr > SNAP_MAX)
		return false;
	memcpy(&pristine->e[nr], fresh->e, fresh->nr * sizeof(fresh->e[0]));
	pristine->nr = nr + fresh->nr;
	qsort(pristine->e, pristine->nr, sizeof(pristine->e[0]), cmp_ent);
	return true;
}

/* How to compare */
#define CMP_SAME_TREE	0x01	/* ino, ctime, mtime: what changed in a tree */
#define CMP_FULL	0x02	/* content, link target, flags, xattrs */
#define CMP_TIMES	0x04	/* mtime and atime, the recent ones alike */

static bool ts_equal(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/*
 * Times set by the test are long past; all the others are "now", and
 * differ between the trees by how long the test took in between.
 */
static bool ts_alike(struct timespec a, struct timespec b, time_t recent)
{
	if (a.tv_sec >= recent && b.tv_sec >= recent)
		return true;
	return ts_equal(a, b);
}

/* Say in @why how @path differs; returns true */
static bool __printf(4, 5)
differs(char *why, size_t len, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(why, len, "%s: ", path);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < len)
		vsnprintf(why + n, len - n, fmt, ap);
	va_end(ap);
	return true;
}

/* Does @a differ from @b? Says how in @why */
static bool ent_differs(const struct ent *a, const struct ent *b,
			unsigned int how, time_t recent, const char *la,
			const char *lb, char *why, size_t len)
{
	char da[96], db[96];

	if (a->mode != b->mode)
		return differs(why, len, a->path, "mode 0%o (%s) vs 0%o (%s)",
			       a->mode, la, b->mode, lb);
	if (a->uid != b->uid)
		return differs(why, len, a->path, "uid %u (%s) vs %u (%s)",
			       a->uid, la, b->uid, lb);
	if (a->gid != b->gid)
		return differs(why, len, a->path, "gid %u (%s) vs %u (%s)",
			       a->gid, la, b->gid, lb);
	if (a->size != b->size)
		return differs(why, len, a->path,
			       "size %lld (%s) vs %lld (%s)",
			       a->size, la, b->size, lb);
	if (a->nlink != b->nlink)
		return differs(why, len, a->path,
			       "nlink %lu (%s) vs %lu (%s)",
			       a->nlink, la, b->nlink, lb);
	/* The root of a tree changes with its entries: they tell */
	if ((how & CMP_SAME_TREE) && strcmp(a->path, ".")) {
		if (a->ino != b->ino)
			return differs(why, len, a->path,
				       "inode %lu (%s) vs %lu (%s)",
				       (unsigned long)a->ino, la,
				       (unsigned long)b->ino, lb);
		if (!ts_equal(a->ctime, b->ctime))
			return differs(why, len, a->path, "ctime changed");
		if (!ts_equal(a->mtime, b->mtime))
			return differs(why, len, a->path, "mtime changed");
	}
	if ((how & CMP_TIMES) && !ts_alike(a->mtime, b->mtime, recent))
		return differs(why, len, a->path,
			       "mtime %lld.%09ld (%s) vs %lld.%09ld (%s)",
			       (long long)a->mtime.tv_sec, a->mtime.tv_nsec,
			       la, (long long)b->mtime.tv_sec,
			       b->mtime.tv_nsec, lb);
	if ((how & CMP_TIMES) && !ts_alike(a->atime, b->atime, recent))
		return differs(why, len, a->path,
			       "atime %lld.%09ld (%s) vs %lld.%09ld (%s)",
			       (long long)a->atime.tv_sec, a->atime.tv_nsec,
			       la, (long long)b->atime.tv_sec,
			       b->atime.tv_nsec, lb);
	if (!(how & CMP_FULL))
		return false;
	if (a->fsflags != b->fsflags)
		return differs(why, len, a->path,
			       "inode flags 0x%x (%s) vs 0x%x (%s)",
			       a->fsflags, la, b->fsflags, lb);
	if (a->dlen != b->dlen ||
	    (a->dlen > 0 && memcmp(a->data, b->data, a->dlen)))
		return differs(why, len, a->path,
			       "content \"%s\" (%s) vs \"%s\" (%s)",
			       printable(a->data, a->dlen, da, sizeof(da)), la,
			       printable(b->data, b->dlen, db, sizeof(db)), lb);
	if (strcmp(a->xattrs, b->xattrs))
		return differs(why, len, a->path,
			       "xattrs \"%s\" (%s) vs \"%s\" (%s)",
			       a->xattrs, la, b->xattrs, lb);
	return false;
}

/*
 * Number of entries in @filter (all if NULL) that differ between @a and
 * @b; the first one in @why, the first components of all in @changed if
 * not NULL.
 */
static int snap_diff(const struct snap *a, const struct snap *b,
		     unsigned int how, time_t recent,
		     const struct scope *filter, const char *la,
		     const char *lb, char *why, size_t len,
		     struct scope *changed)
{
	char reason[512];
	int i = 0, j = 0, nr = 0, c;
	const char *path;

	why[0] = '\0';
	while (i < a->nr || j < b->nr) {
		if (i >= a->nr)
			c = 1;
		else if (j >= b->nr)
			c = -1;
		else
			c = strcmp(a->e[i].path, b->e[j].path);
		if (c < 0) {
			path = a->e[i++].path;
			snprintf(reason, sizeof(reason), "%s: only %s", path,
				 la);
		} else if (c > 0) {
			path = b->e[j++].path;
			snprintf(reason, sizeof(reason), "%s: only %s", path,
				 lb);
		} else {
			path = a->e[i].path;
			if (!ent_differs(&a->e[i++], &b->e[j++], how, recent,
					 la, lb, reason, sizeof(reason)))
				continue;
		}
		if (!in_scope(filter, path))
			continue;
		if (!nr++)
			snprintf(why, len, "%s", reason);
		if (changed)
			scope_add(changed, path);
	}
	return nr;
}

/* ---------------------------------------------------------------------- */
/* The daemon of the daemon variant */

static int pd_forget(struct test_daemon *td, struct td_req *req)
{
	return 0;
}

static void pd_bad(struct perm_daemon *pd, const struct td_req *req)
{
	if (!pd->bad++) {
		pd->bad_opcode = req->in->opcode;
		pd->bad_nodeid = req->in->nodeid;
	}
}

/* The root: a plain directory, 0755 root's */
static int pd_getattr(struct test_daemon *td, struct td_req *req)
{
	struct perm_daemon *pd = req->priv;
	struct fuse_attr_out *out = req->out;

	if (req->in->nodeid != FUSE_ROOT_ID) {
		pd_bad(pd, req);
		return -EIO;
	}
	pd->getattrs++;
	out->attr_valid = 3600;
	out->attr.ino = FUSE_ROOT_ID;
	out->attr.mode = S_IFDIR | 0755;
	out->attr.nlink = 2;
	out->attr.blksize = 4096;
	req->out_len = sizeof(*out);
	return 0;
}

/* f in the root: backed by the f/ of the backing directory */
static int pd_lookup(struct test_daemon *td, struct td_req *req)
{
	struct perm_daemon *pd = req->priv;
	struct fuse_entry_out *entry = req->out;
	struct fuse_entry_bpf_out *ext = (void *)(entry + 1);
	const char *name = req->arg;
	struct stat st;

	if (req->in->nodeid != FUSE_ROOT_ID || !req->arg_len ||
	    name[req->arg_len - 1] || strcmp(name, "f")) {
		pd_bad(pd, req);
		return -ENOENT;
	}
	if (fstat(pd->backing_fd, &st)) {
		pd_bad(pd, req);
		return -EIO;
	}
	pd->lookups++;
	entry->nodeid = F_NODEID;
	entry->generation = 1;
	entry->entry_valid = 3600;
	entry->attr_valid = 3600;
	entry->attr.ino = st.st_ino;
	entry->attr.mode = st.st_mode;
	entry->attr.nlink = st.st_nlink;
	entry->attr.uid = st.st_uid;
	entry->attr.gid = st.st_gid;
	entry->attr.size = st.st_size;
	entry->attr.blksize = 4096;
	ext->backing_action = FUSE_ACTION_REPLACE;
	ext->backing_fd = pd->backing_fd;
	ext->bpf_action = FUSE_ACTION_KEEP;
	req->out_len = sizeof(*entry) + sizeof(*ext);
	/* It carries a file descriptor: only the ioctl takes it */
	req->reply_via = TD_REPLY_IOCTL;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The fixture */

FIXTURE(perm) {
	char backing[128];
	char mnt[64];
	/* n/ and f/ through ext4, f/ through the mount */
	char nroot[160];
	char fback[160];
	char fmnt[96];
	int backing_fd;
	int fuse_fd;
	struct test_daemon *td;
	struct perm_daemon pd;
	int old_hardlinks;
	int old_symlinks;
	bool sysctls_set;
	/* Times from this one on are "now" */
	time_t recent;
	struct shared *shm;
	/* As built, and after the last case */
	struct snap *pn, *pf, *cn, *cf;
	/* A process per user, and the pipes to send it cases */
	pid_t worker[NR_USERS];
	int cmd[NR_USERS];
	int ack[NR_USERS];
	/* Cases run and compared */
	unsigned int compared;
};

FIXTURE_VARIANT(perm) {
	/* f/ attached by a server in a LOOKUP reply, else root_dir= */
	bool daemon;
	bool default_permissions;
};

FIXTURE_VARIANT_ADD(perm, no_daemon) {
	.daemon = false,
	.default_permissions = false,
};

FIXTURE_VARIANT_ADD(perm, no_daemon_default_permissions) {
	.daemon = false,
	.default_permissions = true,
};

FIXTURE_VARIANT_ADD(perm, daemon) {
	.daemon = true,
	.default_permissions = false,
};

static void run_op(const char *root, const struct pcase *c, struct res *r)
{
	errno = 0;
	r->dlen = -1;
	r->err = c->fn(root, c, r) < 0 ? errno : 0;
	/* chdir() cases */
	if (chdir("/"))
		r->err = -1;
}

/*
 * A worker runs the cases it is sent as its user, for good: once on n/,
 * once on f/ through the mount, results in shared memory. The cases point
 * to static data only, which the worker has too.
 */
static void worker(struct _test_data_perm *self, const struct test_user *u,
		   int cmd, int ack)
{
	struct pcase c;

	umask(0);
	if (chdir("/") || !become_user(u))
		_exit(1);
	while (read(cmd, &c, sizeof(c)) == sizeof(c)) {
		run_op(self->nroot, &c, &self->shm->r[0]);
		run_op(self->fmnt, &c, &self->shm->r[1]);
		if (write(ack, "", 1) != 1)
			_exit(1);
	}
	_exit(0);
}

static void start_workers(struct __test_metadata *_metadata,
			  struct _test_data_perm *self)
{
	int cmd[2], ack[2], u, i;
	pid_t pid;

	/* A dead worker is an error, not a signal */
	signal(SIGPIPE, SIG_IGN);
	for (u = 0; u < NR_USERS; u++) {
		ASSERT_EQ(0, pipe2(cmd, O_CLOEXEC));
		ASSERT_EQ(0, pipe2(ack, O_CLOEXEC));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			/* Each worker must see its own pipe's end */
			for (i = 0; i < u; i++) {
				close(self->cmd[i]);
				close(self->ack[i]);
			}
			close(cmd[1]);
			close(ack[0]);
			worker(self, &users[u], cmd[0], ack[1]);
		}
		close(cmd[0]);
		close(ack[1]);
		self->worker[u] = pid;
		self->cmd[u] = cmd[1];
		self->ack[u] = ack[0];
	}
}

static void stop_workers(struct __test_metadata *_metadata,
			 struct _test_data_perm *self)
{
	int u, status = 0;

	for (u = 0; u < NR_USERS; u++) {
		if (self->worker[u] <= 0)
			continue;
		/* End of its input: it exits */
		close(self->cmd[u]);
		close(self->ack[u]);
		EXPECT_EQ(self->worker[u], waitpid(self->worker[u], &status,
						   0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
			TH_LOG("worker of uid %u: status 0x%x", users[u].uid,
			       status);
		self->worker[u] = 0;
	}
}

/* Build both trees under their roots and take their snapshots */
static void build_both(struct __test_metadata *_metadata,
		       struct _test_data_perm *self)
{
	char why[512];
	int i;

	i = build_tree(self->nroot, NULL);
	ASSERT_EQ(-1, i) TH_LOG("building n/%s: %s", tree[i].path,
				strerror(errno));
	i = build_tree(self->fback, NULL);
	ASSERT_EQ(-1, i) TH_LOG("building f/%s: %s", tree[i].path,
				strerror(errno));
	snap_take(self->nroot, self->pn, true, NULL);
	snap_take(self->fback, self->pf, true, NULL);
	ASSERT_EQ(0, self->pn->err) TH_LOG("snapshot of n/%s: %s",
					   self->pn->err_path,
					   strerror(self->pn->err));
	ASSERT_EQ(0, self->pf->err) TH_LOG("snapshot of f/%s: %s",
					   self->pf->err_path,
					   strerror(self->pf->err));
	ASSERT_EQ(ARRAY_SIZE(tree) + 1, self->pn->nr);
	ASSERT_EQ(0, snap_diff(self->pn, self->pf, CMP_FULL, self->recent,
			       NULL, "n", "f", why, sizeof(why), NULL))
		TH_LOG("the trees differ as built: %s", why);
}

FIXTURE_SETUP(perm)
{
	char opts[256];
	struct stat st;
	int fd;

	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	self->recent = time(NULL) - 2;
	/* Times the test sets must be in the past */
	ASSERT_LT(SET_TIME + 1000, self->recent) TH_LOG("the clock is off");
	self->backing_fd = -1;
	self->fuse_fd = -1;
	self->td = NULL;
	self->pd.backing_fd = -1;
	self->compared = 0;
	memset(self->worker, 0, sizeof(self->worker));

	self->shm = mmap(NULL, sizeof(*self->shm), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->shm);
	self->pn = calloc(4, sizeof(struct snap));
	ASSERT_NE(NULL, self->pn);
	self->pf = self->pn + 1;
	self->cn = self->pn + 2;
	self->cf = self->pn + 3;

	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	ASSERT_EQ(0, chown(self->backing, 0, 0));
	ASSERT_EQ(0, chmod(self->backing, 0755));
	at(self->nroot, self->backing, "n");
	at(self->fback, self->backing, "f");
	ASSERT_EQ(0, mkdir(self->nroot, 0755));
	ASSERT_EQ(0, mkdir(self->fback, 0755));
	ASSERT_EQ(0, chmod(self->nroot, 0755));
	ASSERT_EQ(0, chmod(self->fback, 0755));
	build_both(_metadata, self);

	snprintf(self->mnt, sizeof(self->mnt), "/tmp/perm_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->mnt));
	ASSERT_EQ(0, chmod(self->mnt, 0755));
	at(self->fmnt, self->mnt, "f");

	if (!variant->daemon) {
		self->backing_fd = open(self->backing, O_PATH | O_DIRECTORY |
					O_CLOEXEC);
		ASSERT_LE(0, self->backing_fd);
		snprintf(opts, sizeof(opts),
			 "root_dir=%d,no_daemon,allow_other%s,%s",
			 self->backing_fd,
			 variant->default_permissions ?
			 ",default_permissions" : "", FUSE_BASE_OPTS);
		ASSERT_EQ(0, mount_fuse(self->mnt, opts))
			TH_LOG("mount %s: %s", opts, strerror(errno));
	} else {
		self->pd.backing_fd = open(self->fback, O_PATH | O_DIRECTORY |
					   O_CLOEXEC);
		ASSERT_LE(0, self->pd.backing_fd);
		fd = test_fuse_mount(self->mnt, "fuse_bpf,allow_other");
		ASSERT_LE(0, fd) TH_LOG("mount: %s", strerror(-fd));
		self->fuse_fd = fd;
		self->td = test_daemon_create(fd);
		ASSERT_NE(NULL, self->td);
		test_daemon_set_init_flags(self->td, FUSE_BPF);
		ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_LOOKUP,
						     pd_lookup, &self->pd));
		ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_GETATTR,
						     pd_getattr, &self->pd));
		ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_FORGET,
						     pd_forget, NULL));
		ASSERT_EQ(0, test_daemon_set_handler(self->td,
						     FUSE_BATCH_FORGET,
						     pd_forget, NULL));
		ASSERT_EQ(0, test_daemon_start(self->td));
		ASSERT_EQ(0, test_daemon_wait_init(self->td,
						   TD_STOP_TIMEOUT_MS));
	}

	/* f/ through the mount is the f/ of the backing directory */
	ASSERT_EQ(0, stat(self->fmnt, &st))
		TH_LOG("%s: %s", self->fmnt, strerror(errno));
	ASSERT_EQ(S_IFDIR | 0755, st.st_mode);
	EXPECT_EQ(self->pf->e[0].ino, st.st_ino);

	start_workers(_metadata, self);

	/* Set last: there is no teardown to restore them if setup fails */
	ASSERT_EQ(0, read_sysctl(HARDLINKS_SYSCTL, &self->old_hardlinks));
	ASSERT_EQ(0, read_sysctl(SYMLINKS_SYSCTL, &self->old_symlinks));
	self->sysctls_set = true;
	ASSERT_EQ(0, write_sysctl(HARDLINKS_SYSCTL, 1));
	ASSERT_EQ(0, write_sysctl(SYMLINKS_SYSCTL, 1));
}

FIXTURE_TEARDOWN(perm)
{
	stop_workers(_metadata, self);
	if (self->sysctls_set) {
		EXPECT_EQ(0, write_sysctl(HARDLINKS_SYSCTL,
					  self->old_hardlinks));
		EXPECT_EQ(0, write_sysctl(SYMLINKS_SYSCTL,
					  self->old_symlinks));
	}
	EXPECT_EQ(0, umount2(self->mnt, 0)) TH_LOG("umount: %s",
						   strerror(errno));
	if (self->td) {
		EXPECT_EQ(0, test_daemon_stop(self->td, TD_STOP_TIMEOUT_MS));
		/* All but the lookup of f/ was served from the backing */
		EXPECT_EQ(0, test_daemon_unexpected(self->td));
		EXPECT_EQ(0, test_daemon_errors(self->td));
		EXPECT_EQ(0, self->pd.bad)
			TH_LOG("daemon got %s for node %llu",
			       td_opcode_name(self->pd.bad_opcode),
			       (unsigned long long)self->pd.bad_nodeid);
		EXPECT_LE(1, self->pd.lookups);
		test_daemon_destroy(self->td);
		EXPECT_EQ(0, close(self->fuse_fd));
		EXPECT_EQ(0, close(self->pd.backing_fd));
	}
	if (self->backing_fd >= 0)
		EXPECT_EQ(0, close(self->backing_fd));
	EXPECT_EQ(0, rmdir(self->mnt));
	EXPECT_EQ(0, remove_all(self->nroot));
	EXPECT_EQ(0, remove_all(self->fback));
	EXPECT_EQ(0, remove_tree(self->backing));
	free(self->pn);
	munmap(self->shm, sizeof(*self->shm));
}

/* ---------------------------------------------------------------------- */
/* Running a case */

/*
 * Bring the part of the tree under @root in @sc that changed back as built.
 * @cur is its snapshot, and is overwritten.
 */
static void rebuild(struct __test_metadata *_metadata,
		    struct _test_data_perm *self, const char *root,
		    struct snap *cur, struct snap *pristine,
		    const struct scope *sc, const char *name)
{
	char path[PATH_MAX], why[512];
	struct scope changed = { 0 };
	int i, bad;

	snap_diff(cur, pristine, CMP_SAME_TREE | CMP_FULL, self->recent, sc,
		  "now", "as built", why, sizeof(why), &changed);
	for (i = 0; i < changed.nr; i++) {
		if (!strcmp(changed.top[i], ".")) {
			/* Never the target of a case; just in case */
			ASSERT_EQ(0, chown(root, 0, 0));
			ASSERT_EQ(0, chmod(root, 0755));
			continue;
		}
		ASSERT_GT(sizeof(path), snprintf(path, sizeof(path), "%s/%s",
						 root, changed.top[i]));
		ASSERT_EQ(0, remove_all(path))
			TH_LOG("removing %s: %s", path, strerror(errno));
		bad = build_tree(root, changed.top[i]);
		ASSERT_EQ(-1, bad) TH_LOG("building %s/%s: %s", name,
					  tree[bad].path, strerror(errno));
	}
	snap_take(root, cur, true, &changed);
	ASSERT_EQ(0, cur->err) TH_LOG("snapshot of %s/%s: %s", name,
				      cur->err_path, strerror(cur->err));
	ASSERT_TRUE(snap_merge(pristine, cur, &changed));
}

/* Set old times on the target in both trees, for a case that sets them */
static void prep_times(struct __test_metadata *_metadata,
		       struct _test_data_perm *self, const struct pcase *c)
{
	static const struct timespec old[2] = {
		{ OLD_TIME, 0 }, { OLD_TIME, 0 },
	};
	char p[PATH_MAX];

	ASSERT_EQ(0, utimensat(AT_FDCWD, at(p, self->nroot, c->target), old,
			       AT_SYMLINK_NOFOLLOW));
	ASSERT_EQ(0, utimensat(AT_FDCWD, at(p, self->fback, c->target), old,
			       AT_SYMLINK_NOFOLLOW));
}

/*
 * Run @c as user @u on n/ and on f/ through the mount, compare the results
 * and what changed in the trees, and bring them back as built. The results
 * stay in self->shm.
 *
 * The trees are compared where the case may change them: under the first
 * components of its paths. check_trees() compares them whole.
 */
static void run_case(struct __test_metadata *_metadata,
		     struct _test_data_perm *self, const struct pcase *c, int u)
{
	struct res *rn = &self->shm->r[0], *rf = &self->shm->r[1];
	char desc[256], who[64], en[24], ef[24], why[512];
	char dn[RES_DATA * 4 + 8], df[RES_DATA * 4 + 8];
	unsigned int how = CMP_FULL;
	struct scope sc = { 0 };
	char done_byte;
	int i;

	case_name(c, desc, sizeof(desc));
	user_name(&users[u], who, sizeof(who));
	scope_add(&sc, c->target);
	if (c->target2)
		scope_add(&sc, c->target2);

	if (c->flags & PC_TIMES) {
		prep_times(_metadata, self, c);
		how |= CMP_TIMES;
	}
	memset(self->shm, 0, sizeof(*self->shm));
	rn->err = -1;
	rf->err = -1;
	ASSERT_EQ(sizeof(*c), write(self->cmd[u], c, sizeof(*c)))
		TH_LOG("%s as %s: no worker: %s", desc, who, strerror(errno));
	ASSERT_EQ(1, read(self->ack[u], &done_byte, 1))
		TH_LOG("%s as %s: the worker died", desc, who);
	ASSERT_TRUE(rn->err >= 0 && rf->err >= 0)
		TH_LOG("%s as %s: the worker could not run it", desc, who);
	self->compared++;

	EXPECT_EQ(rn->err, rf->err)
		TH_LOG("%s as %s: ext4 %s, fuse-bpf %s", desc, who,
		       err_name(rn->err, en, sizeof(en)),
		       err_name(rf->err, ef, sizeof(ef)));
	if (!rn->err && !rf->err) {
		EXPECT_EQ(rn->val, rf->val)
			TH_LOG("%s as %s: ext4 returned %ld, fuse-bpf %ld",
			       desc, who, rn->val, rf->val);
		EXPECT_TRUE(rn->dlen == rf->dlen &&
			    (rn->dlen <= 0 ||
			     !memcmp(rn->data, rf->data, rn->dlen)))
			TH_LOG("%s as %s: ext4 gave \"%s\", fuse-bpf \"%s\"",
			       desc, who,
			       printable(rn->data, rn->dlen, dn, sizeof(dn)),
			       printable(rf->data, rf->dlen, df, sizeof(df)));
	}

	/* Nothing changed in either tree: nothing to compare or rebuild */
	if (c->flags & PC_RO) {
		snap_take(self->nroot, self->cn, false, &sc);
		snap_take(self->fback, self->cf, false, &sc);
		if (!self->cn->err && !self->cf->err &&
		    !snap_diff(self->cn, self->pn, CMP_SAME_TREE, self->recent,
			       &sc, "now", "as built", why, sizeof(why),
			       NULL) &&
		    !snap_diff(self->cf, self->pf, CMP_SAME_TREE, self->recent,
			       &sc, "now", "as built", why, sizeof(why),
			       NULL))
			return;
	}

	snap_take(self->nroot, self->cn, true, &sc);
	snap_take(self->fback, self->cf, true, &sc);
	ASSERT_EQ(0, self->cn->err) TH_LOG("snapshot of n/%s: %s",
					   self->cn->err_path,
					   strerror(self->cn->err));
	ASSERT_EQ(0, self->cf->err) TH_LOG("snapshot of f/%s: %s",
					   self->cf->err_path,
					   strerror(self->cf->err));
	i = snap_diff(self->cn, self->cf, how, self->recent, NULL, "ext4",
		      "fuse-bpf", why, sizeof(why), NULL);
	EXPECT_EQ(0, i)
		TH_LOG("%s as %s (ext4 %s, fuse-bpf %s): %d entries differ, %s",
		       desc, who, err_name(rn->err, en, sizeof(en)),
		       err_name(rf->err, ef, sizeof(ef)), i, why);

	if (snap_diff(self->cn, self->pn, CMP_SAME_TREE | CMP_FULL,
		      self->recent, &sc, "now", "as built", why, sizeof(why),
		      NULL))
		rebuild(_metadata, self, self->nroot, self->cn, self->pn, &sc,
			"n");
	if (snap_diff(self->cf, self->pf, CMP_SAME_TREE | CMP_FULL,
		      self->recent, &sc, "now", "as built", why, sizeof(why),
		      NULL))
		rebuild(_metadata, self, self->fback, self->cf, self->pf, &sc,
			"f");
	ASSERT_EQ(0, snap_diff(self->pn, self->pf, CMP_FULL, self->recent,
			       NULL, "n", "f", why, sizeof(why), NULL))
		TH_LOG("the trees differ once rebuilt: %s", why);
}

/*
 * The cases compared the trees where they may change them; compare them
 * whole, with what they were as built: nothing else changed, anywhere.
 */
static void check_trees(struct __test_metadata *_metadata,
			struct _test_data_perm *self)
{
	char why[512];
	int i;

	snap_take(self->nroot, self->cn, true, NULL);
	snap_take(self->fback, self->cf, true, NULL);
	ASSERT_EQ(0, self->cn->err);
	ASSERT_EQ(0, self->cf->err);
	i = snap_diff(self->cn, self->cf, CMP_FULL, self->recent, NULL,
		      "ext4", "fuse-bpf", why, sizeof(why), NULL);
	EXPECT_EQ(0, i) TH_LOG("in the end, %d entries differ: %s", i, why);
	i = snap_diff(self->cf, self->pf, CMP_SAME_TREE | CMP_FULL,
		      self->recent, NULL, "now", "as built", why, sizeof(why),
		      NULL);
	EXPECT_EQ(0, i) TH_LOG("f/ changed out of the cases' paths: %s", why);
	i = snap_diff(self->cn, self->pn, CMP_SAME_TREE | CMP_FULL,
		      self->recent, NULL, "now", "as built", why, sizeof(why),
		      NULL);
	EXPECT_EQ(0, i) TH_LOG("n/ changed out of the cases' paths: %s", why);
}

/* Run @c as every user */
static void run_all(struct __test_metadata *_metadata,
		    struct _test_data_perm *self, const struct pcase *c)
{
	int u;

	for (u = 0; u < NR_USERS; u++)
		run_case(_metadata, self, c, u);
}

static void run_table(struct __test_metadata *_metadata,
		      struct _test_data_perm *self, const struct pcase *cases,
		      size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		run_all(_metadata, self, &cases[i]);
}

/*
 * A case whose outcome is known: ext4 must give @err (the test itself
 * works), and so must fuse-bpf. With @data, what a successful case read.
 */
static void known_case(struct __test_metadata *_metadata,
		       struct _test_data_perm *self, const struct pcase *c,
		       int user, int err, const char *data)
{
	struct res *rn = &self->shm->r[0], *rf = &self->shm->r[1];
	char desc[256], who[64], en[24], ef[24];

	run_case(_metadata, self, c, user);
	case_name(c, desc, sizeof(desc));
	user_name(&users[user], who, sizeof(who));
	ASSERT_EQ(err, rn->err)
		TH_LOG("sanity: %s as %s on ext4: %s, expected %s", desc, who,
		       err_name(rn->err, en, sizeof(en)),
		       err_name(err, ef, sizeof(ef)));
	EXPECT_EQ(err, rf->err)
		TH_LOG("sanity: %s as %s through fuse-bpf: %s, expected %s",
		       desc, who, err_name(rf->err, en, sizeof(en)),
		       err_name(err, ef, sizeof(ef)));
	if (data) {
		ASSERT_EQ(strlen(data), rn->dlen);
		ASSERT_EQ(0, memcmp(data, rn->data, rn->dlen));
	}
}

/* ---------------------------------------------------------------------- */
/* The tests */

/* open() flags, access(), reading and writing contents */
TEST_F_TIMEOUT(perm, open_read_write, PERM_TIMEOUT)
{
	static const char * const targets[] = {
		"root600", "root644", "other666", "u1000_644", "g2000_660",
		"exec755", "dir700/file", "acl", "append", "link",
		"sticky/lnk",
	};
	static const struct {
		const char *op;
		int flags;
	} opens[] = {
		{ "open O_RDONLY", O_RDONLY },
		{ "open O_WRONLY", O_WRONLY },
		{ "open O_RDWR", O_RDWR },
		{ "open O_WRONLY|O_APPEND", O_WRONLY | O_APPEND },
		{ "open O_WRONLY|O_TRUNC", O_WRONLY | O_TRUNC },
		{ "open O_RDONLY|O_NOATIME", O_RDONLY | O_NOATIME },
	};
	static const struct pcase checks[] = {
		{ "access R_OK", op_access, .arg = R_OK, .flags = PC_RO },
		{ "access W_OK", op_access, .arg = W_OK, .flags = PC_RO },
		{ "access X_OK", op_access, .arg = X_OK, .flags = PC_RO },
		{ "faccessat R_OK|W_OK AT_EACCESS", op_eaccess,
		  .arg = R_OK | W_OK, .flags = PC_RO },
		{ "read", op_read, .flags = PC_RO },
	};
	static const struct pcase writes[] = {
		{ "write", op_write, "other666" },
		{ "write", op_write, "root644" },
		{ "write", op_write, "u1000_644" },
		{ "write", op_write, "g2000_660" },
		{ "write", op_write, "acl" },
		{ "write", op_write, "sticky/u1001" },
		/* Who loses the set-id bits */
		{ "write", op_write, "suid755" },
		{ "write", op_write, "suid777" },
		{ "write", op_write, "sgid_x" },
		{ "write", op_write, "sgid_nox" },
		{ "write O_APPEND", op_write, "append", .arg = O_APPEND },
		{ "write O_APPEND", op_write, "other666", .arg = O_APPEND },
		{ "write", op_write, "append" },
	};
	struct pcase c, read600 = {
		"read", op_read, "root600", .flags = PC_RO,
	};
	size_t t, i;

	/* The bug: uid 1000 read root's 0600 file through the mount */
	known_case(_metadata, self, &read600, U_1000, EACCES, NULL);
	known_case(_metadata, self, &read600, U_ROOT, 0, "secret\n");

	for (t = 0; t < ARRAY_SIZE(targets); t++) {
		for (i = 0; i < ARRAY_SIZE(opens); i++) {
			c = (struct pcase) {
				.op = opens[i].op, .fn = op_open,
				.target = targets[t], .arg = opens[i].flags,
				.flags = opens[i].flags & O_TRUNC ? 0 : PC_RO,
			};
			run_all(_metadata, self, &c);
		}
		for (i = 0; i < ARRAY_SIZE(checks); i++) {
			c = checks[i];
			c.target = targets[t];
			run_all(_metadata, self, &c);
		}
	}
	run_table(_metadata, self, writes, ARRAY_SIZE(writes));

	check_trees(_metadata, self);
	ASSERT_EQ(2 + NR_USERS * (ARRAY_SIZE(targets) *
				  (ARRAY_SIZE(opens) + ARRAY_SIZE(checks)) +
				  ARRAY_SIZE(writes)), self->compared);
}

/* chmod, chown, utimensat, truncate, and the set-id bits they clear */
TEST_F_TIMEOUT(perm, setattr, PERM_TIMEOUT)
{
	static const struct pcase cases[] = {
		{ "chmod 0600", op_chmod, "root644", .arg = 0600 },
		{ "chmod 0600", op_chmod, "u1000_644", .arg = 0600 },
		{ "chmod 0600", op_chmod, "other666", .arg = 0600 },
		{ "chmod 04755", op_chmod, "u1001_644", .arg = 04755 },
		/* Kept by a member of the file's group only */
		{ "chmod 02755", op_chmod, "u1000_644", .arg = 02755 },
		{ "chmod 02755", op_chmod, "u1000_g2000", .arg = 02755 },
		{ "chmod 0700", op_chmod, "u1000dir", .arg = 0700 },
		{ "chmod 0700", op_chmod, "dir755", .arg = 0700 },
		{ "chmod 0777", op_chmod, "sticky", .arg = 0777 },
		{ "chown 1000:-1", op_chown, "u1000_644", .arg = 1000,
		  .arg2 = -1 },
		{ "chown 1000:-1", op_chown, "root644", .arg = 1000,
		  .arg2 = -1 },
		{ "chown 1001:-1", op_chown, "u1000_644", .arg = 1001,
		  .arg2 = -1 },
		{ "chown 1000:-1", op_chown, "link", .arg = 1000,
		  .arg2 = -1 },
		{ "chown 1000:1000", op_chown, "u1000dir", .arg = 1000,
		  .arg2 = 1000 },
		/* No change, but the set-uid bit goes: only as the owner */
		{ "chown -1:-1", op_chown, "suid777", .arg = -1, .arg2 = -1 },
		{ "chown -1:-1", op_chown, "root644", .arg = -1, .arg2 = -1 },
		/* To a group of the caller's, or not */
		{ "chown -1:2000", op_chown, "u1000_644", .arg = -1,
		  .arg2 = 2000 },
		{ "chown -1:2000", op_chown, "u1001_644", .arg = -1,
		  .arg2 = 2000 },
		{ "chown -1:1000", op_chown, "u1001_644", .arg = -1,
		  .arg2 = 1000 },
		{ "chown -1:1001", op_chown, "u1001_644", .arg = -1,
		  .arg2 = 1001 },
		/* chown by root clears set-uid, and set-gid with group x */
		{ "chown 1000:1000", op_chown, "suid755", .arg = 1000,
		  .arg2 = 1000 },
		{ "chown -1:1000", op_chown, "sgid_x", .arg = -1,
		  .arg2 = 1000 },
		{ "chown -1:1000", op_chown, "sgid_nox", .arg = -1,
		  .arg2 = 1000 },
		/* Explicit times: the owner only; now: any writer too */
		{ "utimensat explicit", op_utimens, "root644", .arg = T_SET,
		  .flags = PC_TIMES },
		{ "utimensat explicit", op_utimens, "u1000_644", .arg = T_SET,
		  .flags = PC_TIMES },
		{ "utimensat explicit", op_utimens, "other666", .arg = T_SET,
		  .flags = PC_TIMES },
		{ "utimensat UTIME_NOW", op_utimens, "root644", .arg = T_NOW,
		  .flags = PC_TIMES },
		{ "utimensat UTIME_NOW", op_utimens, "u1000_644",
		  .arg = T_NOW, .flags = PC_TIMES },
		{ "utimensat UTIME_NOW", op_utimens, "other666", .arg = T_NOW,
		  .flags = PC_TIMES },
		{ "utimensat UTIME_NOW", op_utimens, "dir777", .arg = T_NOW,
		  .flags = PC_TIMES },
		{ "utimensat NULL", op_utimens, "g2000_660", .arg = T_NULL,
		  .flags = PC_TIMES },
		{ "utimensat NULL", op_utimens, "root644", .arg = T_NULL,
		  .flags = PC_TIMES },
		{ "truncate 2", op_truncate, "root644", .arg = 2 },
		{ "truncate 2", op_truncate, "other666", .arg = 2 },
		{ "truncate 2", op_truncate, "u1000_644", .arg = 2 },
		{ "truncate 2", op_truncate, "g2000_660", .arg = 2 },
		{ "truncate 2", op_truncate, "append", .arg = 2 },
		{ "truncate 2", op_truncate, "suid777", .arg = 2 },
		{ "truncate 2", op_truncate, "sgid_x", .arg = 2 },
		{ "truncate 2", op_truncate, "sgid_nox", .arg = 2 },
		{ "ftruncate 3", op_ftruncate, "root644", .arg = 3 },
		{ "ftruncate 3", op_ftruncate, "other666", .arg = 3 },
		{ "ftruncate 3", op_ftruncate, "suid777", .arg = 3 },
		{ "ftruncate 3", op_ftruncate, "sgid_nox", .arg = 3 },
	};
	static const struct pcase chmod644 = {
		"chmod 0600", op_chmod, "root644", .arg = 0600,
	};

	known_case(_metadata, self, &chmod644, U_1000, EPERM, NULL);
	known_case(_metadata, self, &chmod644, U_ROOT, 0, NULL);
	run_table(_metadata, self, cases, ARRAY_SIZE(cases));
	check_trees(_metadata, self);
	ASSERT_EQ(2 + NR_USERS * ARRAY_SIZE(cases), self->compared);
}

/* Making and removing entries: who may, and who owns what is made */
TEST_F_TIMEOUT(perm, create_remove, PERM_TIMEOUT)
{
	static const struct pcase cases[] = {
		{ "create 0644", op_create, "dir755/new", .arg = 0644 },
		{ "create 0644", op_create, "dir777/new", .arg = 0644 },
		{ "create 0644", op_create, "dir700/new", .arg = 0644 },
		{ "create 0644", op_create, "sticky/new", .arg = 0644 },
		{ "create 0644", op_create, "u1000dir/new", .arg = 0644 },
		/* The group of the directory, and who keeps set-gid */
		{ "create 02755", op_create, "sgiddir/new", .arg = 02755 },
		{ "create 02755", op_create, "dir777/new", .arg = 02755 },
		/* Existing, someone else's, in a sticky directory */
		{ "open O_CREAT|O_WRONLY", op_open, "sticky/u1000",
		  .arg = O_CREAT | O_WRONLY, .arg2 = 0644, .flags = PC_RO },
		{ "open O_CREAT|O_EXCL|O_WRONLY", op_open, "dir777/root",
		  .arg = O_CREAT | O_EXCL | O_WRONLY, .arg2 = 0644,
		  .flags = PC_RO },
		{ "mkfifo 0644", op_mkfifo, "dir777/fifo", .arg = 0644 },
		{ "mkfifo 0644", op_mkfifo, "dir755/fifo", .arg = 0644 },
		{ "mkfifo 02755", op_mkfifo, "sgiddir/fifo", .arg = 02755 },
		{ "mkdir 0755", op_mkdir, "dir777/d", .arg = 0755 },
		{ "mkdir 0755", op_mkdir, "dir755/d", .arg = 0755 },
		{ "mkdir 0755", op_mkdir, "sgiddir/d", .arg = 0755 },
		{ "mkdir 0755", op_mkdir, "sticky/d", .arg = 0755 },
		{ "mkdir 0755", op_mkdir, "u1000dir/d", .arg = 0755 },
		{ "symlink", op_symlink, "dir777/sl", .str = "target" },
		{ "symlink", op_symlink, "dir755/sl", .str = "target" },
		{ "symlink", op_symlink, "sgiddir/sl", .str = "target" },
		/* protected_hardlinks */
		{ "link", op_link, "root644", "dir777/l" },
		{ "link", op_link, "root600", "dir777/l" },
		{ "link", op_link, "other666", "dir777/l" },
		{ "link", op_link, "u1000_644", "dir777/l" },
		{ "link", op_link, "suid777", "dir777/l" },
		{ "link", op_link, "sgid_x", "dir777/l" },
		{ "link", op_link, "sgid_nox", "dir777/l" },
		{ "link", op_link, "dir755/file", "dir755/l" },
		{ "link", op_link, "dir700/file", "dir777/l" },
		{ "link", op_link, "sticky/u1001", "sticky/l" },
		{ "O_TMPFILE 0640 and linkat", op_tmpfile, "dir700",
		  "dir700/tmp", .arg = 0640 },
		{ "O_TMPFILE 0640 and linkat", op_tmpfile, "dir777",
		  "dir777/tmp", .arg = 0640 },
		{ "O_TMPFILE 02750 and linkat", op_tmpfile, "sgiddir",
		  "sgiddir/tmp", .arg = 02750 },
		{ "O_TMPFILE 0640 and linkat", op_tmpfile, "dir755",
		  "dir755/tmp", .arg = 0640 },
		{ "unlink", op_unlink, "dir755/file" },
		{ "unlink", op_unlink, "dir777/root" },
		{ "unlink", op_unlink, "dir777/u1000" },
		{ "unlink", op_unlink, "sticky/root" },
		{ "unlink", op_unlink, "sticky/u1000" },
		{ "unlink", op_unlink, "sticky/u1001" },
		{ "unlink", op_unlink, "sticky/lnk" },
		{ "unlink", op_unlink, "u1000dir/file" },
		{ "unlink", op_unlink, "append" },
		{ "unlink", op_unlink, "dir777/sub" },
		{ "rmdir", op_rmdir, "dir777/sub" },
		{ "rmdir", op_rmdir, "dir755/sub" },
		{ "rmdir", op_rmdir, "sticky/sub_u1000" },
		{ "rmdir", op_rmdir, "dir700" },
		{ "rmdir", op_rmdir, "u1000dir" },
		{ "rmdir", op_rmdir, "dir777/root" },
	};
	static const struct pcase create755 = {
		"create 0644", op_create, "dir755/new", .arg = 0644,
	};

	known_case(_metadata, self, &create755, U_1000, EACCES, NULL);
	known_case(_metadata, self, &create755, U_ROOT, 0, NULL);
	run_table(_metadata, self, cases, ARRAY_SIZE(cases));
	check_trees(_metadata, self);
	ASSERT_EQ(2 + NR_USERS * ARRAY_SIZE(cases), self->compared);
}

/* rename and renameat2(): plain, over an entry, sticky, flags */
TEST_F_TIMEOUT(perm, rename, PERM_TIMEOUT)
{
	static const struct pcase cases[] = {
		{ "rename", op_rename, "dir755/file", "dir755/renamed" },
		{ "rename", op_rename, "dir777/root", "dir777/renamed" },
		{ "rename", op_rename, "dir777/u1000", "dir777/root" },
		{ "rename", op_rename, "dir777/u1000", "sticky/moved" },
		{ "rename", op_rename, "dir777/root", "dir755/moved" },
		{ "rename", op_rename, "sticky/u1000", "sticky/moved" },
		{ "rename", op_rename, "sticky/u1001", "sticky/u1000" },
		{ "rename", op_rename, "sticky/root", "dir777/moved" },
		{ "rename", op_rename, "u1000dir/file", "dir777/moved" },
		{ "rename", op_rename, "dir777/sub", "dir777/sub2" },
		/* A directory to a new parent needs write access to it */
		{ "rename", op_rename, "dir777/sub", "sticky/sub" },
		{ "rename", op_rename, "sticky/sub_u1000",
		  "dir777/sub_u1000" },
		{ "rename", op_rename, "dir777/u1000", "dir777/sub" },
		{ "RENAME_EXCHANGE", op_rename, "dir777/root", "dir777/u1000",
		  .arg = RENAME_EXCHANGE },
		{ "RENAME_EXCHANGE", op_rename, "sticky/u1000", "sticky/u1001",
		  .arg = RENAME_EXCHANGE },
		{ "RENAME_EXCHANGE", op_rename, "sticky/u1000", "dir777/u1000",
		  .arg = RENAME_EXCHANGE },
		{ "RENAME_EXCHANGE", op_rename, "dir777/sub",
		  "sticky/sub_u1000", .arg = RENAME_EXCHANGE },
		{ "RENAME_NOREPLACE", op_rename, "dir777/u1000",
		  "dir777/root", .arg = RENAME_NOREPLACE },
		{ "RENAME_NOREPLACE", op_rename, "dir777/u1000",
		  "dir777/fresh", .arg = RENAME_NOREPLACE },
		{ "RENAME_NOREPLACE", op_rename, "sticky/u1001",
		  "sticky/fresh", .arg = RENAME_NOREPLACE },
	};
	static const struct pcase sticky = {
		"rename", op_rename, "sticky/u1000", "sticky/moved",
	};

	known_case(_metadata, self, &sticky, U_1001, EPERM, NULL);
	known_case(_metadata, self, &sticky, U_1000, 0, NULL);
	run_table(_metadata, self, cases, ARRAY_SIZE(cases));
	check_trees(_metadata, self);
	ASSERT_EQ(2 + NR_USERS * ARRAY_SIZE(cases), self->compared);
}

/* Extended attributes of all namespaces, and POSIX ACLs */
TEST_F_TIMEOUT(perm, xattr_acl, PERM_TIMEOUT)
{
	static const struct pcase cases[] = {
		{ "getxattr user.x", op_getxattr, "xattrs", .str = "user.x",
		  .flags = PC_RO },
		{ "getxattr user.x", op_getxattr, "root600", .str = "user.x",
		  .flags = PC_RO },
		{ "getxattr user.x", op_getxattr, "dir755", .str = "user.x",
		  .flags = PC_RO },
		{ "getxattr user.x", op_getxattr, "link", .str = "user.x",
		  .flags = PC_RO },
		{ "getxattr user.x", op_getxattr, "fifo", .str = "user.x",
		  .flags = PC_RO },
		{ "getxattr user.y", op_getxattr, "other666", .str = "user.y",
		  .flags = PC_RO },
		{ "setxattr user.x", op_setxattr, "xattrs", .str = "user.x",
		  .val = "new" },
		{ "setxattr user.x", op_setxattr, "other666", .str = "user.x",
		  .val = "new" },
		{ "setxattr user.x", op_setxattr, "u1000_644",
		  .str = "user.x", .val = "new" },
		{ "setxattr user.x", op_setxattr, "dir777", .str = "user.x",
		  .val = "new" },
		{ "setxattr user.x", op_setxattr, "dir755", .str = "user.x",
		  .val = "new" },
		/* Sticky directory: its owner only */
		{ "setxattr user.x", op_setxattr, "sticky", .str = "user.x",
		  .val = "new" },
		{ "lsetxattr user.x", op_setxattr, "link", .str = "user.x",
		  .val = "new" },
		{ "setxattr user.x", op_setxattr, "fifo", .str = "user.x",
		  .val = "new" },
		{ "setxattr user.x XATTR_CREATE", op_setxattr, "other666",
		  .str = "user.x", .val = "new", .arg = XATTR_CREATE },
		{ "setxattr user.y XATTR_REPLACE", op_setxattr, "other666",
		  .str = "user.y", .val = "new", .arg = XATTR_REPLACE },
		{ "removexattr user.x", op_removexattr, "other666",
		  .str = "user.x" },
		{ "removexattr user.x", op_removexattr, "xattrs",
		  .str = "user.x" },
		{ "removexattr user.x", op_removexattr, "root600",
		  .str = "user.x" },
		{ "removexattr user.x", op_removexattr, "sticky",
		  .str = "user.x" },
		/* trusted.*: CAP_SYS_ADMIN, else ENODATA and EPERM */
		{ "getxattr trusted.x", op_getxattr, "xattrs",
		  .str = "trusted.x", .flags = PC_RO },
		{ "setxattr trusted.x", op_setxattr, "other666",
		  .str = "trusted.x", .val = "new" },
		{ "setxattr trusted.x", op_setxattr, "u1000_644",
		  .str = "trusted.x", .val = "new" },
		{ "removexattr trusted.x", op_removexattr, "xattrs",
		  .str = "trusted.x" },
		/* security.*: anyone reads, CAP_SYS_ADMIN writes */
		{ "getxattr security.x", op_getxattr, "xattrs",
		  .str = "security.x", .flags = PC_RO },
		{ "setxattr security.x", op_setxattr, "other666",
		  .str = "security.x", .val = "new" },
		{ "setxattr security.x", op_setxattr, "u1000_644",
		  .str = "security.x", .val = "new" },
		{ "removexattr security.x", op_removexattr, "xattrs",
		  .str = "security.x" },
		/* No trusted.* names for others than root */
		{ "listxattr", op_listxattr, "xattrs", .flags = PC_RO },
		{ "listxattr", op_listxattr, "root600", .flags = PC_RO },
		{ "listxattr", op_listxattr, "dir755", .flags = PC_RO },
		{ "listxattr", op_listxattr, "acl", .flags = PC_RO },
		{ "listxattr", op_listxattr, "link", .flags = PC_RO },
		/* ACLs: the owner or CAP_FOWNER set them */
		{ "getxattr " ACL_ACCESS, op_getxattr, "acl",
		  .str = ACL_ACCESS, .flags = PC_RO },
		{ "set ACL", op_set_acl, "u1000_644" },
		{ "set ACL", op_set_acl, "root644" },
		{ "set ACL", op_set_acl, "other666" },
		{ "set ACL", op_set_acl, "u1000_g2000" },
		{ "removexattr " ACL_ACCESS, op_removexattr, "acl",
		  .str = ACL_ACCESS },
		/* And enforce them: uid 1001 is granted rw, others not */
		{ "read", op_read, "acl", .flags = PC_RO },
		{ "access R_OK|W_OK", op_access, "acl", .arg = R_OK | W_OK,
		  .flags = PC_RO },
		{ "write", op_write, "acl" },
	};
	static const struct pcase trusted = {
		"getxattr trusted.x", op_getxattr, "xattrs",
		.str = "trusted.x", .flags = PC_RO,
	};
	static const struct pcase acl = {
		"read", op_read, "acl", .flags = PC_RO,
	};

	known_case(_metadata, self, &trusted, U_1000, ENODATA, NULL);
	known_case(_metadata, self, &trusted, U_ROOT, 0, "trusted");
	known_case(_metadata, self, &acl, U_1001, 0, "acl\n");
	known_case(_metadata, self, &acl, U_2000, EACCES, NULL);
	run_table(_metadata, self, cases, ARRAY_SIZE(cases));
	check_trees(_metadata, self);
	ASSERT_EQ(4 + NR_USERS * ARRAY_SIZE(cases), self->compared);
}

/* FS_IOC_GETFLAGS and FS_IOC_SETFLAGS on a read-only descriptor */
TEST_F_TIMEOUT(perm, fileattr, PERM_TIMEOUT)
{
	static const struct pcase cases[] = {
		{ "FS_IOC_GETFLAGS", op_getflags, "root644", .flags = PC_RO },
		{ "FS_IOC_GETFLAGS", op_getflags, "append", .flags = PC_RO },
		{ "FS_IOC_GETFLAGS", op_getflags, "dir755", .flags = PC_RO },
		/* The owner's */
		{ "FS_IOC_SETFLAGS +NOATIME", op_setflags, "u1000_644",
		  .arg = FS_NOATIME_FL },
		{ "FS_IOC_SETFLAGS +NOATIME", op_setflags, "root644",
		  .arg = FS_NOATIME_FL },
		{ "FS_IOC_SETFLAGS +NOATIME", op_setflags, "other666",
		  .arg = FS_NOATIME_FL },
		{ "FS_IOC_SETFLAGS +NODUMP", op_setflags, "u1001_644",
		  .arg = FS_NODUMP_FL },
		{ "FS_IOC_SETFLAGS +NOATIME", op_setflags, "u1000dir",
		  .arg = FS_NOATIME_FL },
		{ "FS_IOC_SETFLAGS +NOATIME", op_setflags, "dir755",
		  .arg = FS_NOATIME_FL },
		/* CAP_LINUX_IMMUTABLE's */
		{ "FS_IOC_SETFLAGS +APPEND", op_setflags, "u1000_644",
		  .arg = FS_APPEND_FL },
		{ "FS_IOC_SETFLAGS +APPEND", op_setflags, "other666",
		  .arg = FS_APPEND_FL },
		{ "FS_IOC_SETFLAGS +IMMUTABLE", op_setflags, "u1000_644",
		  .arg = FS_IMMUTABLE_FL },
		{ "FS_IOC_SETFLAGS +IMMUTABLE", op_setflags, "u1000dir",
		  .arg = FS_IMMUTABLE_FL },
		{ "FS_IOC_SETFLAGS -APPEND", op_setflags, "append",
		  .arg2 = FS_APPEND_FL },
		/* Changes no flag: still the owner's */
		{ "FS_IOC_SETFLAGS", op_setflags, "append" },
		{ "FS_IOC_SETFLAGS", op_setflags, "root644" },
	};
	static const struct pcase set_append = {
		"FS_IOC_SETFLAGS +APPEND", op_setflags, "u1000_644",
		.arg = FS_APPEND_FL,
	};

	known_case(_metadata, self, &set_append, U_1000, EPERM, NULL);
	known_case(_metadata, self, &set_append, U_ROOT, 0, NULL);
	run_table(_metadata, self, cases, ARRAY_SIZE(cases));
	check_trees(_metadata, self);
	ASSERT_EQ(2 + NR_USERS * ARRAY_SIZE(cases), self->compared);
}

/* Directory listing, search permission, stat() and readlink() */
TEST_F_TIMEOUT(perm, readdir_readlink, PERM_TIMEOUT)
{
	static const struct pcase cases[] = {
		{ "readdir", op_readdir, ".", .flags = PC_RO },
		{ "readdir", op_readdir, "dir700", .flags = PC_RO },
		{ "readdir", op_readdir, "dir755", .flags = PC_RO },
		{ "readdir", op_readdir, "dir777", .flags = PC_RO },
		{ "readdir", op_readdir, "sticky", .flags = PC_RO },
		{ "readdir", op_readdir, "u1000dir", .flags = PC_RO },
		{ "readdir", op_readdir, "sgiddir", .flags = PC_RO },
		{ "readlink", op_readlink, "link", .flags = PC_RO },
		{ "readlink", op_readlink, "sticky/lnk", .flags = PC_RO },
		{ "readlink", op_readlink, "root644", .flags = PC_RO },
		{ "stat", op_stat, "root600", .flags = PC_RO },
		{ "stat", op_stat, "dir700/file", .flags = PC_RO },
		{ "stat", op_stat, "dir755/file", .flags = PC_RO },
		{ "stat", op_stat, "link", .flags = PC_RO },
		{ "stat", op_stat, "fifo", .flags = PC_RO },
		{ "stat", op_stat, "sticky", .flags = PC_RO },
		{ "stat", op_stat, "acl", .flags = PC_RO },
		{ "stat", op_stat, "suid755", .flags = PC_RO },
		{ "chdir", op_chdir, "dir700", .flags = PC_RO },
		{ "chdir", op_chdir, "dir755", .flags = PC_RO },
		{ "chdir", op_chdir, "u1000dir", .flags = PC_RO },
		{ "chdir", op_chdir, "root644", .flags = PC_RO },
		{ "access R_OK|X_OK", op_access, "dir700", .arg = R_OK | X_OK,
		  .flags = PC_RO },
		{ "access W_OK|X_OK", op_access, "dir755", .arg = W_OK | X_OK,
		  .flags = PC_RO },
		{ "access W_OK|X_OK", op_access, "sticky", .arg = W_OK | X_OK,
		  .flags = PC_RO },
		{ "access X_OK", op_access, "suid755", .arg = X_OK,
		  .flags = PC_RO },
	};
	static const struct pcase list700 = {
		"readdir", op_readdir, "dir700", .flags = PC_RO,
	};

	known_case(_metadata, self, &list700, U_1000, EACCES, NULL);
	known_case(_metadata, self, &list700, U_ROOT, 0, "file/");
	run_table(_metadata, self, cases, ARRAY_SIZE(cases));
	check_trees(_metadata, self);
	ASSERT_EQ(2 + NR_USERS * ARRAY_SIZE(cases), self->compared);
}

TEST_HARNESS_MAIN
