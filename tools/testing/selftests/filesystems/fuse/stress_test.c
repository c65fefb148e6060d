// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-bpf stress: parallel workers on the backed and the plain nodes of
 * one mount, for a bounded time.
 *
 * The server, a process of its own, serves a plain root holding two plain
 * files of its memory ("p0", "p1") and a directory "b" that its LOOKUP
 * reply backs with the backing directory (FUSE_ACTION_REPLACE). Worker
 * processes create, rename, unlink, link, truncate, read, write and mmap
 * files there, make and remove directories, read directories and look
 * names up; another process changes the backing directory directly, under
 * their feet. One test kills the server in the middle and replaces it
 * with a fresh mount and server over the same backing directory; another
 * runs the workers on a no_daemon mount.
 *
 * Races make many calls fail: every failure must have an errno of the
 * set a race explains (ENOENT, EEXIST, ENOTEMPTY, ...), the files a worker
 * owns must read back what it wrote, no worker may die, every kind of
 * operation must have succeeded, the server must never be asked about a
 * backed node, the mount must still work at the end and leave nothing
 * behind, and the kernel log must show no warning.
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
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../kselftest_harness.h"
#include "test_daemon.h"
#include "test_util.h"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open		434
#endif

/* Workers on the mount, and the process changing the backing directory */
#define ST_WORKERS		4
#define ST_PROCS		(ST_WORKERS + 1)
#define ST_MUTATOR		ST_WORKERS
/* How long the workers run, in ms, scaled by $FUSE_STRESS_PERCENT */
#define ST_RUN_MS		12000
#define ST_LIVE1_MS		4000
#define ST_DEAD_MS		2000
#define ST_LIVE2_MS		5000
#define ST_NO_DAEMON_MS		6000
/* Bound of the wait for the workers to stop, or for the server */
#define ST_WAIT_MS		30000
/* A worker that did not stop by then is killed by its alarm */
#define ST_ALARM_S		100
/* Harness timeout of a test */
#define ST_TEST_TIMEOUT		180

/* Names of the shared pool: files f0..f7 in "", d0..d2; d0..d2/s0..s1 */
#define ST_NR_FILES		8
#define ST_NR_DIRS		3
#define ST_NR_SUBDIRS		2
/* Largest write to a shared file, and the size of a worker's own file */
#define ST_MAX_IO		8192
#define ST_SLOT			65536
/* A plain file has a slot (a multiple of the page size) per worker */
#define ST_NR_PLAIN		2
#define ST_PLAIN_SIZE		(ST_WORKERS * ST_SLOT)

/* Node ids of the server's nodes, and the validity of its replies */
#define ST_B_NODE		2
#define ST_P_NODE		3
#define ST_VALID		3600
#define ST_ATTR_VALID		1
#define ST_MTIME		1000000000

/* Outcomes that are not an errno, in the errno counts */
#define ST_CODES		256
#define ST_SIGBUS		255
#define ST_MISMATCH		254
#define ST_SUCCEEDED		253
#define ST_SHORT		252
#define ST_ODD_ERRNO		251
#define ST_NR_BAD_LOG		4

enum st_op {
	OP_CREATE,
	OP_WRITE,
	OP_READ,
	OP_TRUNCATE,
	OP_UNLINK,
	OP_RENAME,
	OP_RENAME2,
	OP_LINK,
	OP_MKDIR,
	OP_RMDIR,
	OP_READDIR,
	OP_STAT,
	OP_MMAP,
	OP_OWN_RW,
	OP_OWN_MMAP,
	OP_PLAIN_READ,
	OP_PLAIN_RW,
	OP_PLAIN_MMAP,
	OP_PLAIN_STAT,
	OP_PLAIN_READDIR,
	OP_CROSS,
	OP_MUT_CREATE,
	OP_MUT_UNLINK,
	OP_MUT_RENAME,
	OP_MUT_TRUNCATE,
	OP_MUT_MKDIR,
	OP_MUT_RMDIR,
	OP_MUT_FLIP,
	ST_NR_OPS,
};

/* What a worker does (or the mutator, on the backing directory) */
struct st_ctx {
	/* The backed directory through the mount, and the backing itself */
	const char *bdir;
	const char *backing;
	/* The mount's root, with the plain files; NULL on no_daemon */
	const char *pdir;
	int id;
	unsigned int seed;
	unsigned int gen;
	char path[PATH_MAX];
	char path2[PATH_MAX];
	unsigned char buf[ST_SLOT];
	unsigned char cmp[ST_SLOT];
};

struct st_op_desc {
	const char *name;
	int (*fn)(struct st_ctx *c);
	unsigned int weight;
	/* Works on the plain files: not on a no_daemon mount */
	bool plain;
	/* Done by the mutator, on the backing directory */
	bool mutator;
	/* Not a race can make it fail: no errno is allowed while stable */
	bool strict;
	/* Maps a file another process may truncate */
	bool sigbus;
	/* Links: a name of the pool may be a directory (EPERM) */
	bool link;
};

struct st_count {
	unsigned int ok;
	unsigned int err[ST_CODES];
};

struct st_bad {
	int op;
	int code;
	bool lenient;
	char path[128];
};

/* A worker's results, in memory shared with the test */
struct st_proc {
	/* Operations that ran while the mount was up all along */
	struct st_count live[ST_NR_OPS];
	/* Those that overlapped the death or the replacement of the server */
	struct st_count lenient[ST_NR_OPS];
	unsigned int nr_bad;
	struct st_bad bad[ST_NR_BAD_LOG];
	/* Could not even set up */
	int setup_errno;
};

/* What a server saw, written by its daemon thread */
struct st_server {
	unsigned int requests[64];
	unsigned int unsupported[64];
	/* Requests about a node the server did not make, or a backed one */
	unsigned int foreign;
	/* Reads and writes outside a plain file */
	unsigned int bad_io;
	unsigned int errors;
	unsigned int unexpected;
	int stop_ret;
	bool stopped;
};

#define ST_MAX_SERVERS		2

struct st_shared {
	/* Set by the test: the workers stop */
	int stop;
	/* Changed by the test before the server dies and once replaced */
	int epoch;
	/* The server is dead or being replaced */
	int unstable;
	struct st_proc proc[ST_PROCS];
	struct st_server srv[ST_MAX_SERVERS];
};

FIXTURE(stress) {
	char backing[128];
	char dir[64];
	char bdir[80];
	bool mounted;
	bool plain;
	dev_t dev;
	struct st_shared *sh;
	pid_t workers[ST_PROCS];
	pid_t server;
	int cmd_fd;
	int nr_servers;
	int kmsg_fd;
};

static int st_percent = 100;

static int st_ms(int ms)
{
	return ms * st_percent / 100;
}

static int st_load(int *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static void st_store(int *p, int v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static void st_sleep_ms(int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static unsigned int st_rand(struct st_ctx *c, unsigned int n)
{
	return (unsigned int)rand_r(&c->seed) % n;
}

/* Return the errno of a failed call */
static int st_err(void)
{
	return errno > 0 && errno < ST_ODD_ERRNO ? errno : ST_ODD_ERRNO;
}

/* A shared file: @base/[dN/]fM */
static const char *st_file(struct st_ctx *c, char *buf, const char *base)
{
	unsigned int d = st_rand(c, ST_NR_DIRS + 1);
	unsigned int f = st_rand(c, ST_NR_FILES);

	if (d == ST_NR_DIRS)
		snprintf(buf, PATH_MAX, "%s/f%u", base, f);
	else
		snprintf(buf, PATH_MAX, "%s/d%u/f%u", base, d, f);
	return buf;
}

/* A shared directory: @base/dN or @base/dN/sM */
static const char *st_dir(struct st_ctx *c, char *buf, const char *base)
{
	unsigned int d = st_rand(c, ST_NR_DIRS);
	unsigned int s = st_rand(c, ST_NR_SUBDIRS + 1);

	if (s == ST_NR_SUBDIRS)
		snprintf(buf, PATH_MAX, "%s/d%u", base, d);
	else
		snprintf(buf, PATH_MAX, "%s/d%u/s%u", base, d, s);
	return buf;
}

/* A pattern no other write of this worker left at the same place */
static void st_fill(struct st_ctx *c, unsigned char *p, size_t len)
{
	size_t i;

	c->gen++;
	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(c->id * 67 + c->gen * 13 + i * 7 + 1);
}

static int st_write_file(const char *path, int flags, size_t len,
			 unsigned char *buf)
{
	int fd, err = 0;

	fd = open(path, flags, 0644);
	if (fd < 0)
		return st_err();
	if (write(fd, buf, len) < 0)
		err = st_err();
	close(fd);
	return err;
}

static int op_create(struct st_ctx *c)
{
	int flags = O_CREAT | O_WRONLY;

	if (st_rand(c, 2))
		flags |= O_EXCL;
	else if (st_rand(c, 2))
		flags |= O_TRUNC;
	st_fill(c, c->buf, ST_MAX_IO);
	return st_write_file(st_file(c, c->path, c->bdir), flags,
			     1 + st_rand(c, ST_MAX_IO), c->buf);
}

static int op_write(struct st_ctx *c)
{
	int fd, err = 0;

	fd = open(st_file(c, c->path, c->bdir),
		  O_WRONLY | (st_rand(c, 4) ? 0 : O_APPEND));
	if (fd < 0)
		return st_err();
	st_fill(c, c->buf, ST_MAX_IO);
	if (pwrite(fd, c->buf, 1 + st_rand(c, ST_MAX_IO),
		   st_rand(c, 4 * ST_MAX_IO)) < 0)
		err = st_err();
	close(fd);
	return err;
}

static int op_read(struct st_ctx *c)
{
	int fd, err = 0;
	ssize_t n;

	fd = open(st_file(c, c->path, c->bdir), O_RDONLY);
	if (fd < 0)
		return st_err();
	do {
		n = read(fd, c->buf, sizeof(c->buf));
	} while (n > 0);
	if (n < 0)
		err = st_err();
	close(fd);
	return err;
}

static int op_truncate(struct st_ctx *c)
{
	if (truncate(st_file(c, c->path, c->bdir), st_rand(c, 4 * ST_MAX_IO)))
		return st_err();
	return 0;
}

static int op_unlink(struct st_ctx *c)
{
	return unlink(st_file(c, c->path, c->bdir)) ? st_err() : 0;
}

static int op_rename(struct st_ctx *c)
{
	st_file(c, c->path, c->bdir);
	st_file(c, c->path2, c->bdir);
	return rename(c->path, c->path2) ? st_err() : 0;
}

static int op_rename2(struct st_ctx *c)
{
	unsigned int flags = st_rand(c, 2) ? RENAME_EXCHANGE : RENAME_NOREPLACE;

	st_file(c, c->path, c->bdir);
	st_file(c, c->path2, c->bdir);
	if (syscall(SYS_renameat2, AT_FDCWD, c->path, AT_FDCWD, c->path2,
		    flags))
		return st_err();
	return 0;
}

static int op_link(struct st_ctx *c)
{
	st_file(c, c->path, c->bdir);
	st_file(c, c->path2, c->bdir);
	/*
	 * Most names of the pool exist: free the new one first, or links
	 * that succeed are so rare that a run can see none.
	 */
	if (strcmp(c->path, c->path2))
		unlink(c->path2);
	return link(c->path, c->path2) ? st_err() : 0;
}

static int op_mkdir(struct st_ctx *c)
{
	return mkdir(st_dir(c, c->path, c->bdir), 0755) ? st_err() : 0;
}

static int op_rmdir(struct st_ctx *c)
{
	return rmdir(st_dir(c, c->path, c->bdir)) ? st_err() : 0;
}

/* Read all of directory @path; @names must all be in it if not NULL */
static int st_readdir(const char *path, const char *const *names, int nr)
{
	char buf[4096];
	unsigned int found = 0;
	int fd, err = 0, i;
	long n, off;

	fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return st_err();
	for (;;) {
		n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (off = 0; off < n;) {
			struct dirent64 *d = (void *)(buf + off);

			for (i = 0; i < nr; i++)
				if (!strcmp(d->d_name, names[i]))
					found |= 1U << i;
			off += d->d_reclen;
		}
	}
	if (n < 0)
		err = st_err();
	else if (found != (1U << nr) - 1)
		err = ST_MISMATCH;
	close(fd);
	return err;
}

static int op_readdir(struct st_ctx *c)
{
	if (st_rand(c, 3))
		return st_readdir(st_dir(c, c->path, c->bdir), NULL, 0);
	snprintf(c->path, PATH_MAX, "%s", c->bdir);
	return st_readdir(c->path, NULL, 0);
}

static int op_stat(struct st_ctx *c)
{
	struct stat st;

	if (st_rand(c, 2))
		st_file(c, c->path, c->bdir);
	else
		st_dir(c, c->path, c->bdir);
	return lstat(c->path, &st) ? st_err() : 0;
}

/* SIGBUS in a mapping: back to the operation, which reports it */
static sigjmp_buf st_bus_jmp;
static int st_bus_armed;

static void st_sigbus(int sig)
{
	if (!__atomic_load_n(&st_bus_armed, __ATOMIC_SEQ_CST)) {
		signal(SIGBUS, SIG_DFL);
		raise(SIGBUS);
		return;
	}
	siglongjmp(st_bus_jmp, 1);
}

static void st_arm_bus(int armed)
{
	__atomic_store_n(&st_bus_armed, armed, __ATOMIC_SEQ_CST);
}

/*
 * Map @len bytes of @fd at @off shared, write @len bytes of c->buf at
 * @at into the mapping, or (@to_map false) read them back into c->cmp.
 */
static int st_map_io(struct st_ctx *c, int fd, off_t off, size_t len,
		     size_t at, size_t n, bool to_map)
{
	unsigned char *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
	if (p == MAP_FAILED)
		return st_err();
	if (sigsetjmp(st_bus_jmp, 1)) {
		st_arm_bus(0);
		munmap(p, len);
		return ST_SIGBUS;
	}
	st_arm_bus(1);
	if (to_map)
		memcpy(p + at, c->buf, n);
	else
		memcpy(c->cmp, p + at, n);
	st_arm_bus(0);
	munmap(p, len);
	return 0;
}

/* Map a shared file, which others truncate: SIGBUS is a fair outcome */
static int op_mmap(struct st_ctx *c)
{
	struct stat st;
	size_t len;
	int fd, err;

	fd = open(st_file(c, c->path, c->bdir), O_RDWR);
	if (fd < 0)
		return st_err();
	err = fstat(fd, &st) ? st_err() : 0;
	if (!err && !st.st_size) {
		st_fill(c, c->buf, ST_MAX_IO);
		if (pwrite(fd, c->buf, ST_MAX_IO, 0) < 0)
			err = st_err();
		st.st_size = ST_MAX_IO;
	}
	if (!err) {
		len = st.st_size < ST_SLOT ? st.st_size : ST_SLOT;
		st_fill(c, c->buf, len);
		err = st_map_io(c, fd, 0, len, 0, len, st_rand(c, 2));
	}
	close(fd);
	return err;
}

/* Check that c->cmp holds the first @n bytes of c->buf */
static int st_same(struct st_ctx *c, size_t n)
{
	return memcmp(c->buf, c->cmp, n) ? ST_MISMATCH : 0;
}

/*
 * Write a pattern to [@off, @off + @n) of @fd, which only this worker
 * writes, then read it back: with pwrite() and pread(), or through a
 * mapping of the slot at @slot one way and pread()/pwrite() the other.
 */
static int st_own_io(struct st_ctx *c, int fd, off_t slot, bool map)
{
	size_t n = 1 + st_rand(c, ST_SLOT - 1);
	size_t at = st_rand(c, ST_SLOT - n + 1);
	ssize_t r;
	int err;

	st_fill(c, c->buf, n);
	if (!map) {
		r = pwrite(fd, c->buf, n, slot + at);
		if (r != (ssize_t)n)
			return r < 0 ? st_err() : ST_SHORT;
		r = pread(fd, c->cmp, n, slot + at);
		if (r != (ssize_t)n)
			return r < 0 ? st_err() : ST_SHORT;
		return st_same(c, n);
	}
	if (st_rand(c, 2)) {
		err = st_map_io(c, fd, slot, ST_SLOT, at, n, true);
		if (err)
			return err;
		r = pread(fd, c->cmp, n, slot + at);
		if (r != (ssize_t)n)
			return r < 0 ? st_err() : ST_SHORT;
		return st_same(c, n);
	}
	r = pwrite(fd, c->buf, n, slot + at);
	if (r != (ssize_t)n)
		return r < 0 ? st_err() : ST_SHORT;
	err = st_map_io(c, fd, slot, ST_SLOT, at, n, false);
	return err ? err : st_same(c, n);
}

static const char *st_own_file(struct st_ctx *c)
{
	snprintf(c->path, PATH_MAX, "%s/w%d", c->bdir, c->id);
	return c->path;
}

static int st_own(struct st_ctx *c, bool map)
{
	int fd, err;

	fd = open(st_own_file(c), O_RDWR);
	if (fd < 0)
		return st_err();
	err = st_own_io(c, fd, 0, map);
	if (!err && map && st_rand(c, 4) == 0 && fsync(fd))
		err = st_err();
	close(fd);
	return err;
}

static int op_own_rw(struct st_ctx *c)
{
	return st_own(c, false);
}

static int op_own_mmap(struct st_ctx *c)
{
	return st_own(c, true);
}

static const char *st_plain_file(struct st_ctx *c)
{
	snprintf(c->path, PATH_MAX, "%s/p%u", c->pdir,
		 st_rand(c, ST_NR_PLAIN));
	return c->path;
}

static int op_plain_read(struct st_ctx *c)
{
	size_t n = 1 + st_rand(c, ST_SLOT);
	off_t off = st_rand(c, ST_PLAIN_SIZE - n + 1);
	ssize_t r;
	int fd, err = 0;

	fd = open(st_plain_file(c), O_RDONLY);
	if (fd < 0)
		return st_err();
	r = pread(fd, c->buf, n, off);
	if (r < 0)
		err = st_err();
	else if (r != (ssize_t)n)
		err = ST_SHORT;
	close(fd);
	return err;
}

/* Each worker writes its own slot of the plain files only */
static int st_plain_own(struct st_ctx *c, bool map)
{
	int fd, err;

	fd = open(st_plain_file(c), O_RDWR);
	if (fd < 0)
		return st_err();
	err = st_own_io(c, fd, (off_t)c->id * ST_SLOT, map);
	close(fd);
	return err;
}

static int op_plain_rw(struct st_ctx *c)
{
	return st_plain_own(c, false);
}

static int op_plain_mmap(struct st_ctx *c)
{
	return st_plain_own(c, true);
}

static int op_plain_stat(struct st_ctx *c)
{
	struct stat st;

	if (stat(st_plain_file(c), &st))
		return st_err();
	if (!S_ISREG(st.st_mode) || st.st_size != ST_PLAIN_SIZE)
		return ST_MISMATCH;
	return 0;
}

static int op_plain_readdir(struct st_ctx *c)
{
	static const char *const names[] = { "b", "p0", "p1" };

	snprintf(c->path, PATH_MAX, "%s", c->pdir);
	return st_readdir(c->path, names, ARRAY_SIZE(names));
}

/* Rename or link between the plain root and the backed directory */
static int op_cross(struct st_ctx *c)
{
	bool from_plain = st_rand(c, 2);
	int ret;

	if (from_plain) {
		st_plain_file(c);
		snprintf(c->path2, PATH_MAX, "%s/x%d", c->bdir, c->id);
	} else {
		st_file(c, c->path, c->bdir);
		snprintf(c->path2, PATH_MAX, "%s/x%d", c->pdir, c->id);
	}
	if (st_rand(c, 2))
		ret = rename(c->path, c->path2);
	else
		ret = link(c->path, c->path2);
	if (!ret)
		return ST_SUCCEEDED;
	/* The expected outcome */
	if (errno == EXDEV)
		return 0;
	return st_err();
}

static int op_mut_create(struct st_ctx *c)
{
	st_fill(c, c->buf, ST_MAX_IO);
	return st_write_file(st_file(c, c->path, c->backing),
			     O_CREAT | O_WRONLY | O_TRUNC,
			     st_rand(c, ST_MAX_IO), c->buf);
}

static int op_mut_unlink(struct st_ctx *c)
{
	return unlink(st_file(c, c->path, c->backing)) ? st_err() : 0;
}

static int op_mut_rename(struct st_ctx *c)
{
	st_file(c, c->path, c->backing);
	st_file(c, c->path2, c->backing);
	return rename(c->path, c->path2) ? st_err() : 0;
}

static int op_mut_truncate(struct st_ctx *c)
{
	if (truncate(st_file(c, c->path, c->backing), st_rand(c, ST_MAX_IO)))
		return st_err();
	return 0;
}

static int op_mut_mkdir(struct st_ctx *c)
{
	return mkdir(st_dir(c, c->path, c->backing), 0755) ? st_err() : 0;
}

static int op_mut_rmdir(struct st_ctx *c)
{
	return rmdir(st_dir(c, c->path, c->backing)) ? st_err() : 0;
}

/*
 * Change the type of a name behind the mount: a file name becomes a
 * directory and back, or (rarely) a directory of the pool a file.
 */
static int op_mut_flip(struct st_ctx *c)
{
	struct stat st;
	int ret;

	if (st_rand(c, 8)) {
		snprintf(c->path, PATH_MAX, "%s/f%u", c->backing,
			 st_rand(c, ST_NR_FILES));
		if (!lstat(c->path, &st) && S_ISDIR(st.st_mode))
			return rmdir(c->path) ? st_err() : 0;
		if (unlink(c->path) && errno != ENOENT)
			return st_err();
		return mkdir(c->path, 0755) ? st_err() : 0;
	}
	snprintf(c->path, PATH_MAX, "%s/d%u", c->backing,
		 st_rand(c, ST_NR_DIRS));
	if (!lstat(c->path, &st) && !S_ISDIR(st.st_mode))
		return unlink(c->path) ? st_err() : 0;
	ret = rmdir(c->path);
	if (ret)
		return st_err();
	c->buf[0] = 'd';
	return st_write_file(c->path, O_CREAT | O_EXCL | O_WRONLY, 1, c->buf);
}

static const struct st_op_desc st_ops[ST_NR_OPS] = {
	[OP_CREATE] = { "create", op_create, 6 },
	[OP_WRITE] = { "write", op_write, 5 },
	[OP_READ] = { "read", op_read, 5 },
	[OP_TRUNCATE] = { "truncate", op_truncate, 2 },
	[OP_UNLINK] = { "unlink", op_unlink, 4 },
	[OP_RENAME] = { "rename", op_rename, 4 },
	[OP_RENAME2] = { "renameat2", op_rename2, 2 },
	[OP_LINK] = { "link", op_link, 2, .link = true },
	[OP_MKDIR] = { "mkdir", op_mkdir, 3 },
	[OP_RMDIR] = { "rmdir", op_rmdir, 3 },
	[OP_READDIR] = { "readdir", op_readdir, 3 },
	[OP_STAT] = { "lookup", op_stat, 6 },
	[OP_MMAP] = { "mmap", op_mmap, 3, .sigbus = true },
	[OP_OWN_RW] = { "own_rw", op_own_rw, 3, .strict = true },
	[OP_OWN_MMAP] = { "own_mmap", op_own_mmap, 3, .strict = true },
	[OP_PLAIN_READ] = { "plain_read", op_plain_read, 3, .plain = true,
			    .strict = true },
	[OP_PLAIN_RW] = { "plain_rw", op_plain_rw, 3, .plain = true,
			  .strict = true },
	[OP_PLAIN_MMAP] = { "plain_mmap", op_plain_mmap, 3, .plain = true,
			    .strict = true },
	[OP_PLAIN_STAT] = { "plain_lookup", op_plain_stat, 3, .plain = true,
			    .strict = true },
	[OP_PLAIN_READDIR] = { "plain_readdir", op_plain_readdir, 2,
			       .plain = true, .strict = true },
	[OP_CROSS] = { "cross_exdev", op_cross, 2, .plain = true,
			 .link = true },
	[OP_MUT_CREATE] = { "backing_create", op_mut_create, 5,
			    .mutator = true },
	[OP_MUT_UNLINK] = { "backing_unlink", op_mut_unlink, 4,
			    .mutator = true },
	[OP_MUT_RENAME] = { "backing_rename", op_mut_rename, 4,
			    .mutator = true },
	[OP_MUT_TRUNCATE] = { "backing_truncate", op_mut_truncate, 2,
			      .mutator = true },
	[OP_MUT_MKDIR] = { "backing_mkdir", op_mut_mkdir, 3, .mutator = true },
	[OP_MUT_RMDIR] = { "backing_rmdir", op_mut_rmdir, 2, .mutator = true },
	[OP_MUT_FLIP] = { "backing_flip", op_mut_flip, 2, .mutator = true },
};

/*
 * The outcomes a race explains. While the server is dead or replaced
 * (@lenient), calls through the dead connection fail with ENOTCONN (with
 * ECONNABORTED those the abort found pending), or EIO where the page
 * cache reports a failed read or writeback, a mapping of a plain file with
 * SIGBUS, reads and writes can stop short, paths resolve in the empty
 * mount point (ENOENT, an empty root) and a rename can straddle two mounts
 * (EXDEV). What the dead server held is no longer checked, but
 * the backing files must still read back what was written.
 */
static bool st_allowed(int op, int code, bool lenient)
{
	const struct st_op_desc *d = &st_ops[op];

	switch (code) {
	case ENOENT:
	case EEXIST:
	case ENOTEMPTY:
	case ENOTDIR:
	case EISDIR:
	case ESTALE:
	case EBUSY:
		return !d->strict || lenient;
	case ENOTCONN:
	case ECONNABORTED:
	case EIO:
	case EXDEV:
		return lenient;
	case EPERM:
		return d->link && !d->strict;
	case ST_SIGBUS:
		return d->sigbus || lenient;
	case ST_SHORT:
		return lenient;
	case ST_MISMATCH:
		return lenient && d->plain;
	default:
		return false;
	}
}

static const char *st_code_name(int code, char *buf, size_t size)
{
	static const struct {
		int code;
		const char *name;
	} names[] = {
		{ ENOENT, "ENOENT" }, { EEXIST, "EEXIST" },
		{ ENOTEMPTY, "ENOTEMPTY" }, { ENOTDIR, "ENOTDIR" },
		{ EISDIR, "EISDIR" }, { ESTALE, "ESTALE" }, { EBUSY, "EBUSY" },
		{ ENOTCONN, "ENOTCONN" }, { ECONNABORTED, "ECONNABORTED" },
		{ EIO, "EIO" }, { EXDEV, "EXDEV" },
		{ EINVAL, "EINVAL" }, { EPERM, "EPERM" }, { EACCES, "EACCES" },
		{ ENOSPC, "ENOSPC" }, { EOPNOTSUPP, "EOPNOTSUPP" },
		{ ST_SIGBUS, "SIGBUS" }, { ST_MISMATCH, "MISMATCH" },
		{ ST_SUCCEEDED, "SUCCEEDED" }, { ST_SHORT, "SHORT" },
		{ ST_ODD_ERRNO, "ODD_ERRNO" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i].code == code)
			return names[i].name;
	snprintf(buf, size, "E%d", code);
	return buf;
}

static void st_record(struct st_proc *p, struct st_ctx *c, int op, int code,
		      bool lenient)
{
	struct st_count *cnt = lenient ? &p->lenient[op] : &p->live[op];
	struct st_bad *b;

	if (!code) {
		cnt->ok++;
		return;
	}
	cnt->err[code]++;
	if (st_allowed(op, code, lenient))
		return;
	if (p->nr_bad < ST_NR_BAD_LOG) {
		b = &p->bad[p->nr_bad];
		b->op = op;
		b->code = code;
		b->lenient = lenient;
		snprintf(b->path, sizeof(b->path), "%.127s", c->path);
	}
	p->nr_bad++;
}

static int st_pick(struct st_ctx *c, bool mutator)
{
	unsigned int total = 0, r, i;

	for (i = 0; i < ST_NR_OPS; i++)
		if (st_ops[i].mutator == mutator && (c->pdir || !st_ops[i].plain))
			total += st_ops[i].weight;
	r = st_rand(c, total);
	for (i = 0; i < ST_NR_OPS; i++) {
		if (st_ops[i].mutator != mutator ||
		    (!c->pdir && st_ops[i].plain))
			continue;
		if (r < st_ops[i].weight)
			return i;
		r -= st_ops[i].weight;
	}
	return 0;
}

/* A worker (or the mutator): runs until told to stop, never returns */
static void st_worker(struct st_shared *sh, int id, const char *bdir,
		      const char *pdir, const char *backing, pid_t parent)
{
	struct st_proc *p = &sh->proc[id];
	bool mutator = id == ST_MUTATOR;
	struct sigaction sa = { .sa_handler = st_sigbus };
	struct st_ctx *c;
	int fd, op, code, epoch, unstable;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(1);
	alarm(st_ms(ST_RUN_MS) / 1000 + ST_ALARM_S);
	c = calloc(1, sizeof(*c));
	if (!c || sigaction(SIGBUS, &sa, NULL)) {
		p->setup_errno = ENOMEM;
		_exit(1);
	}
	c->bdir = bdir;
	c->pdir = pdir;
	c->backing = backing;
	c->id = id;
	c->seed = 0x5eed + id * 7919 + getpid();

	if (!mutator) {
		/* The file only this worker writes, through the mount */
		fd = open(st_own_file(c), O_CREAT | O_RDWR, 0644);
		if (fd < 0 || ftruncate(fd, ST_SLOT)) {
			p->setup_errno = errno;
			_exit(1);
		}
		close(fd);
	}

	while (!st_load(&sh->stop)) {
		op = st_pick(c, mutator);
		epoch = st_load(&sh->epoch);
		unstable = st_load(&sh->unstable);
		c->path[0] = '\0';
		code = st_ops[op].fn(c);
		unstable |= st_load(&sh->unstable);
		st_record(p, c, op, code,
			  unstable || epoch != st_load(&sh->epoch));
	}
	_exit(0);
}

/* Wait up to @timeout_ms for the child @pid to end, and reap it */
static int st_wait_child(pid_t pid, int timeout_ms, int *status)
{
	struct pollfd pfd = { .events = POLLIN };
	int ret;

	pfd.fd = syscall(__NR_pidfd_open, pid, 0);
	if (pfd.fd < 0)
		return -errno;
	do {
		ret = poll(&pfd, 1, timeout_ms);
	} while (ret < 0 && errno == EINTR);
	close(pfd.fd);
	if (!ret)
		return -ETIMEDOUT;
	if (ret < 0)
		return -errno;
	return waitpid(pid, status, 0) == pid ? 0 : -errno;
}

/* Abort the connection of the mount, through the fuse control fs */
static void st_abort(struct _test_data_stress *self)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/abort",
		 (major(self->dev) << 20) | minor(self->dev));
	fd = open(path, O_WRONLY);
	if (fd < 0 && errno == ENOENT &&
	    !mount("fusectl", "/sys/fs/fuse/connections", "fusectl", 0, NULL))
		fd = open(path, O_WRONLY);
	if (fd < 0)
		return;
	if (write(fd, "1", 1) < 0)
		fprintf(stderr, "# abort: %s\n", strerror(errno));
	close(fd);
}

/* Kill and reap what is left of @pid, bounded */
static void st_reap(pid_t *pid)
{
	int status;

	if (*pid <= 0)
		return;
	kill(*pid, SIGKILL);
	st_wait_child(*pid, ST_WAIT_MS, &status);
	*pid = 0;
}

/* The server: LOOKUP in the root backs "b" and makes the plain files */
struct st_srv_ctx {
	struct st_server *stats;
	int backing_fd;
	unsigned char data[ST_NR_PLAIN][ST_PLAIN_SIZE];
};

static struct st_srv_ctx *st_srv;

static bool st_plain_node(__u64 nodeid)
{
	return nodeid >= ST_P_NODE && nodeid < ST_P_NODE + ST_NR_PLAIN;
}

/* Count the request; false if it is about a node the server did not make */
static bool st_srv_node(struct td_req *req, bool root, bool plain)
{
	__u64 nodeid = req->in->nodeid;
	__u32 opcode = req->in->opcode;

	if (opcode < ARRAY_SIZE(st_srv->stats->requests))
		st_srv->stats->requests[opcode]++;
	if ((root && nodeid == FUSE_ROOT_ID) || (plain && st_plain_node(nodeid)))
		return true;
	st_srv->stats->foreign++;
	return false;
}

static void st_plain_attr(__u64 nodeid, struct fuse_attr *attr)
{
	attr->ino = nodeid;
	attr->nlink = 1;
	attr->mtime = ST_MTIME;
	attr->ctime = ST_MTIME;
	attr->atime = ST_MTIME;
	attr->blksize = 4096;
	if (nodeid == FUSE_ROOT_ID) {
		attr->mode = S_IFDIR | 0755;
		attr->nlink = 2;
	} else {
		attr->mode = S_IFREG | 0666;
		attr->size = ST_PLAIN_SIZE;
		attr->blocks = ST_PLAIN_SIZE / 512;
	}
}

static int st_srv_lookup(struct test_daemon *td, struct td_req *req)
{
	struct fuse_entry_out *entry = req->out;
	struct fuse_entry_bpf_out *ext = (void *)(entry + 1);
	const char *name = req->arg;
	struct stat st;
	unsigned int i;

	if (!st_srv_node(req, true, false))
		return -EIO;
	if (!req->arg_len || name[req->arg_len - 1])
		return -EIO;
	entry->generation = 1;
	entry->entry_valid = ST_VALID;
	entry->attr_valid = ST_ATTR_VALID;
	if (!strcmp(name, "b")) {
		if (fstat(st_srv->backing_fd, &st))
			return -EIO;
		entry->nodeid = ST_B_NODE;
		entry->attr.ino = ST_B_NODE;
		entry->attr.mode = st.st_mode;
		entry->attr.nlink = st.st_nlink;
		entry->attr.uid = st.st_uid;
		entry->attr.gid = st.st_gid;
		ext->backing_action = FUSE_ACTION_REPLACE;
		ext->backing_fd = st_srv->backing_fd;
		ext->bpf_action = FUSE_ACTION_KEEP;
		req->out_len = sizeof(*entry) + sizeof(*ext);
		req->reply_via = TD_REPLY_IOCTL;
		return 0;
	}
	for (i = 0; i < ST_NR_PLAIN; i++) {
		if (name[0] == 'p' && name[1] == '0' + i && !name[2]) {
			entry->nodeid = ST_P_NODE + i;
			st_plain_attr(entry->nodeid, &entry->attr);
			req->out_len = sizeof(*entry);
			return 0;
		}
	}
	return -ENOENT;
}

static int st_srv_getattr(struct test_daemon *td, struct td_req *req)
{
	struct fuse_attr_out *out = req->out;

	if (!st_srv_node(req, true, true))
		return -EIO;
	out->attr_valid = ST_ATTR_VALID;
	st_plain_attr(req->in->nodeid, &out->attr);
	req->out_len = sizeof(*out);
	return 0;
}

/* Nothing changes the plain files but writes: reply what they are */
static int st_srv_setattr(struct test_daemon *td, struct td_req *req)
{
	return st_srv_getattr(td, req);
}

static int st_srv_open(struct test_daemon *td, struct td_req *req)
{
	struct fuse_open_out *out = req->out;
	bool dir = req->in->opcode == FUSE_OPENDIR;

	if (!st_srv_node(req, dir, !dir))
		return -EIO;
	out->fh = req->in->nodeid;
	req->out_len = sizeof(*out);
	return 0;
}

/* RELEASE, FLUSH, FSYNC, RELEASEDIR: nothing to do */
static int st_srv_ok(struct test_daemon *td, struct td_req *req)
{
	bool dir = req->in->opcode == FUSE_RELEASEDIR;

	if (!st_srv_node(req, dir, !dir))
		return -EIO;
	return 0;
}

static int st_srv_read(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_read_in *in = req->arg;
	unsigned char *data;
	size_t n;

	if (!st_srv_node(req, false, true))
		return -EIO;
	if (req->arg_len < sizeof(*in) || in->offset > ST_PLAIN_SIZE) {
		st_srv->stats->bad_io++;
		return -EIO;
	}
	data = st_srv->data[req->in->nodeid - ST_P_NODE];
	n = ST_PLAIN_SIZE - in->offset;
	if (n > in->size)
		n = in->size;
	if (n > req->out_size) {
		st_srv->stats->bad_io++;
		return -EIO;
	}
	memcpy(req->out, data + in->offset, n);
	req->out_len = n;
	return 0;
}

static int st_srv_write(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_write_in *in = req->arg;
	struct fuse_write_out *out = req->out;
	unsigned char *data;

	if (!st_srv_node(req, false, true))
		return -EIO;
	if (req->arg_len < sizeof(*in) ||
	    req->arg_len - sizeof(*in) < in->size ||
	    in->offset > ST_PLAIN_SIZE ||
	    in->size > ST_PLAIN_SIZE - in->offset) {
		st_srv->stats->bad_io++;
		return -EIO;
	}
	data = st_srv->data[req->in->nodeid - ST_P_NODE];
	memcpy(data + in->offset, in + 1, in->size);
	out->size = in->size;
	req->out_len = sizeof(*out);
	return 0;
}

static int st_srv_readdir(struct test_daemon *td, struct td_req *req)
{
	static const struct {
		const char *name;
		__u64 ino;
		__u32 type;
	} ents[] = {
		{ ".", FUSE_ROOT_ID, DT_DIR }, { "..", FUSE_ROOT_ID, DT_DIR },
		{ "b", ST_B_NODE, DT_DIR }, { "p0", ST_P_NODE, DT_REG },
		{ "p1", ST_P_NODE + 1, DT_REG },
	};
	const struct fuse_read_in *in = req->arg;
	struct fuse_dirent *d;
	size_t i, len, size;

	if (!st_srv_node(req, true, false))
		return -EIO;
	if (req->arg_len < sizeof(*in))
		return -EIO;
	size = in->size < req->out_size ? in->size : req->out_size;
	for (i = in->offset; i < ARRAY_SIZE(ents); i++) {
		len = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET +
					strlen(ents[i].name));
		if (req->out_len + len > size)
			break;
		d = (void *)((char *)req->out + req->out_len);
		d->ino = ents[i].ino;
		d->off = i + 1;
		d->namelen = strlen(ents[i].name);
		d->type = ents[i].type;
		memcpy(d->name, ents[i].name, d->namelen);
		req->out_len += len;
	}
	return 0;
}

/* The daemon never replies to FORGET */
static int st_srv_forget(struct test_daemon *td, struct td_req *req)
{
	return 0;
}

/* No extended attributes: a write asks for security.capability */
static int st_srv_getxattr(struct test_daemon *td, struct td_req *req)
{
	if (!st_srv_node(req, true, true))
		return -EIO;
	return -ENODATA;
}

/* Anything else: not supported, and counted */
static int st_srv_unsupported(struct test_daemon *td, struct td_req *req)
{
	__u32 opcode = req->in->opcode;

	if (opcode < ARRAY_SIZE(st_srv->stats->unsupported))
		st_srv->stats->unsupported[opcode]++;
	if (req->in->nodeid == ST_B_NODE)
		st_srv->stats->foreign++;
	return -EOPNOTSUPP;
}

static const struct {
	__u32 opcode;
	td_handler_fn fn;
} st_srv_handlers[] = {
	{ FUSE_LOOKUP, st_srv_lookup },
	{ FUSE_FORGET, st_srv_forget },
	{ FUSE_BATCH_FORGET, st_srv_forget },
	{ FUSE_GETATTR, st_srv_getattr },
	{ FUSE_SETATTR, st_srv_setattr },
	{ FUSE_OPEN, st_srv_open },
	{ FUSE_READ, st_srv_read },
	{ FUSE_WRITE, st_srv_write },
	{ FUSE_RELEASE, st_srv_ok },
	{ FUSE_FLUSH, st_srv_ok },
	{ FUSE_FSYNC, st_srv_ok },
	{ FUSE_OPENDIR, st_srv_open },
	{ FUSE_READDIR, st_srv_readdir },
	{ FUSE_RELEASEDIR, st_srv_ok },
	{ FUSE_GETXATTR, st_srv_getxattr },
};

/* The server process: never returns */
static void st_srv_main(struct st_server *stats, int fuse_fd, int cmd_fd,
			int ready_fd, const char *backing, pid_t parent)
{
	struct test_daemon *td;
	__u32 op;
	size_t i;
	char c;
	int err = 0;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(1);
	st_srv = calloc(1, sizeof(*st_srv));
	td = test_daemon_create(fuse_fd);
	if (!st_srv || !td)
		_exit(1);
	st_srv->stats = stats;
	st_srv->backing_fd = open(backing, O_PATH | O_DIRECTORY);
	if (st_srv->backing_fd < 0)
		_exit(1);
	test_daemon_set_init_flags(td, FUSE_BPF);
	for (op = FUSE_LOOKUP; op <= FUSE_STATX; op++)
		if (op != FUSE_INIT && op != FUSE_INTERRUPT)
			err |= test_daemon_set_handler(td, op, st_srv_unsupported,
						       NULL);
	for (i = 0; i < ARRAY_SIZE(st_srv_handlers); i++)
		err |= test_daemon_set_handler(td, st_srv_handlers[i].opcode,
					       st_srv_handlers[i].fn, NULL);
	if (err || test_daemon_start(td) ||
	    test_daemon_wait_init(td, TD_STOP_TIMEOUT_MS))
		_exit(1);
	if (write(ready_fd, "R", 1) != 1)
		_exit(1);

	/* Until told to quit (after the umount), or the test is gone */
	while (read(cmd_fd, &c, 1) < 0 && errno == EINTR)
		;
	stats->stop_ret = test_daemon_stop(td, TD_STOP_TIMEOUT_MS);
	stats->errors = test_daemon_errors(td);
	stats->unexpected = test_daemon_unexpected(td);
	stats->stopped = true;
	_exit(0);
}

/*
 * Mount self->dir with fuse-bpf and fork a server for it, which holds
 * the only /dev/fuse descriptor: the connection dies with it.
 */
static void st_start_server(struct __test_metadata *_metadata,
			    struct _test_data_stress *self)
{
	struct pollfd pfd = { .events = POLLIN };
	struct st_server *stats;
	pid_t parent = getpid();
	int cmd[2], ready[2], fd, ret;
	struct stat st;
	char c;

	ASSERT_GT(ST_MAX_SERVERS, self->nr_servers);
	stats = &self->sh->srv[self->nr_servers++];
	fd = test_fuse_mount(self->dir, "fuse_bpf");
	ASSERT_LE(0, fd) TH_LOG("mount: %s", strerror(-fd));
	self->mounted = true;
	ASSERT_EQ(0, pipe2(cmd, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	fflush(stdout);
	fflush(stderr);
	self->server = fork();
	ASSERT_LE(0, self->server);
	if (!self->server) {
		close(cmd[1]);
		close(ready[0]);
		st_srv_main(stats, fd, cmd[0], ready[1], self->backing,
			    parent);
	}
	close(fd);
	close(cmd[0]);
	close(ready[1]);
	self->cmd_fd = cmd[1];
	pfd.fd = ready[0];
	do {
		ret = poll(&pfd, 1, ST_WAIT_MS);
	} while (ret < 0 && errno == EINTR);
	ASSERT_EQ(1, ret) TH_LOG("the server did not start");
	ret = read(ready[0], &c, 1);
	close(ready[0]);
	ASSERT_EQ(1, ret) TH_LOG("the server failed to start");
	ASSERT_EQ(0, stat(self->dir, &st));
	self->dev = st.st_dev;
}

/* Tell the server to quit (its connection is gone), and check it */
static void st_stop_server(struct __test_metadata *_metadata,
			   struct _test_data_stress *self)
{
	struct st_server *stats = &self->sh->srv[self->nr_servers - 1];
	int status = 0, ret;

	EXPECT_EQ(1, write(self->cmd_fd, "Q", 1));
	close(self->cmd_fd);
	self->cmd_fd = -1;
	ret = st_wait_child(self->server, ST_WAIT_MS, &status);
	EXPECT_EQ(0, ret) TH_LOG("the server did not quit");
	if (ret)
		st_reap(&self->server);
	self->server = 0;
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("server status 0x%x", status);
	EXPECT_TRUE(stats->stopped);
	/* It saw the connection go away, and failed no reply */
	EXPECT_EQ(0, stats->stop_ret);
	EXPECT_EQ(0, stats->errors);
	EXPECT_EQ(0, stats->unexpected);
}

/* Check what the servers saw; print what they did not implement */
static void st_check_servers(struct __test_metadata *_metadata,
			     struct _test_data_stress *self)
{
	static const __u32 namespace_ops[] = {
		FUSE_MKNOD, FUSE_MKDIR, FUSE_UNLINK, FUSE_RMDIR, FUSE_RENAME,
		FUSE_RENAME2, FUSE_LINK, FUSE_SYMLINK, FUSE_CREATE,
	};
	struct st_server *s;
	int i, op;
	size_t j;

	for (i = 0; i < self->nr_servers; i++) {
		s = &self->sh->srv[i];
		ksft_print_msg("server %d: %u lookups, %u reads, %u writes, %u readdirs\n",
			       i, s->requests[FUSE_LOOKUP],
			       s->requests[FUSE_READ], s->requests[FUSE_WRITE],
			       s->requests[FUSE_READDIR]);
		for (op = 0; op < 64; op++)
			if (s->unsupported[op])
				ksft_print_msg("server %d: %u %s, answered EOPNOTSUPP\n",
					       i, s->unsupported[op],
					       td_opcode_name(op));
		/* Backed nodes are served by the backing, never the server */
		EXPECT_EQ(0, s->foreign) TH_LOG("server %d", i);
		EXPECT_EQ(0, s->bad_io) TH_LOG("server %d", i);
		/* A rename or link with a backed directory fails with EXDEV */
		for (j = 0; j < ARRAY_SIZE(namespace_ops); j++)
			EXPECT_EQ(0, s->unsupported[namespace_ops[j]])
				TH_LOG("server %d got %s", i,
				       td_opcode_name(namespace_ops[j]));
		/* The plain files were used */
		EXPECT_LT(0, s->requests[FUSE_LOOKUP]) TH_LOG("server %d", i);
		EXPECT_LT(0, s->requests[FUSE_OPEN]) TH_LOG("server %d", i);
	}
}

static void st_start_workers(struct __test_metadata *_metadata,
			     struct _test_data_stress *self)
{
	const char *pdir = self->plain ? self->dir : NULL;
	pid_t parent = getpid();
	int i;

	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < ST_PROCS; i++) {
		self->workers[i] = fork();
		ASSERT_LE(0, self->workers[i]);
		if (!self->workers[i])
			st_worker(self->sh, i, self->bdir, pdir, self->backing,
				  parent);
	}
}

/* Stop the workers: none may hang, or have died */
static void st_stop_workers(struct __test_metadata *_metadata,
			    struct _test_data_stress *self)
{
	int i, ret, status;
	bool aborted = false;

	st_store(&self->sh->stop, 1);
	for (i = 0; i < ST_PROCS; i++) {
		status = 0;
		ret = st_wait_child(self->workers[i], ST_WAIT_MS, &status);
		EXPECT_EQ(0, ret) TH_LOG("worker %d did not stop", i);
		if (ret) {
			/* Unblock whatever waits on the connection */
			if (!aborted && self->mounted)
				st_abort(self);
			aborted = true;
			st_reap(&self->workers[i]);
			continue;
		}
		self->workers[i] = 0;
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
			TH_LOG("worker %d: status 0x%x%s%s, setup: %s", i,
			       status, WIFSIGNALED(status) ? ", signal " : "",
			       WIFSIGNALED(status) ?
			       strsignal(WTERMSIG(status)) : "",
			       strerror(self->sh->proc[i].setup_errno));
	}
}

static void st_sum(struct st_count *sum, const struct st_count *c)
{
	int i;

	sum->ok += c->ok;
	for (i = 0; i < ST_CODES; i++)
		sum->err[i] += c->err[i];
}

static void st_print_count(const char *what, int op,
			   const struct st_count *c)
{
	char line[512], name[16];
	int i, len;

	len = snprintf(line, sizeof(line), "%-16s %-8s ok %6u", st_ops[op].name,
		       what, c->ok);
	for (i = 1; i < ST_CODES; i++)
		if (c->err[i] && len < (int)sizeof(line))
			len += snprintf(line + len, sizeof(line) - len,
					" %s %u",
					st_code_name(i, name, sizeof(name)),
					c->err[i]);
	ksft_print_msg("%s\n", line);
}

/*
 * Print what the workers did, and check that nothing failed in a way a
 * race does not explain and that every kind of operation succeeded.
 * Returns the errno counts of the operations that overlapped a server
 * death in @lenient.
 */
static void st_check_workers(struct __test_metadata *_metadata,
			     struct _test_data_stress *self,
			     struct st_count *lenient)
{
	struct st_count live;
	const struct st_bad *b;
	char name[16];
	int i, op;

	for (op = 0; op < ST_NR_OPS; op++) {
		if (st_ops[op].plain && !self->plain)
			continue;
		memset(&live, 0, sizeof(live));
		memset(&lenient[op], 0, sizeof(lenient[op]));
		for (i = 0; i < ST_PROCS; i++) {
			st_sum(&live, &self->sh->proc[i].live[op]);
			st_sum(&lenient[op], &self->sh->proc[i].lenient[op]);
		}
		st_print_count("live", op, &live);
		if (self->nr_servers > 1)
			st_print_count("unstable", op, &lenient[op]);
		EXPECT_LT(0, live.ok) TH_LOG("no %s ever succeeded",
					     st_ops[op].name);
	}
	for (i = 0; i < ST_PROCS; i++) {
		EXPECT_EQ(0, self->sh->proc[i].nr_bad)
			TH_LOG("worker %d: %u unexplained outcomes", i,
			       self->sh->proc[i].nr_bad);
		for (op = 0; op < ST_NR_BAD_LOG &&
		     op < (int)self->sh->proc[i].nr_bad; op++) {
			b = &self->sh->proc[i].bad[op];
			ksft_print_msg("worker %d: %s %s: %s%s\n", i,
				       st_ops[b->op].name, b->path,
				       st_code_name(b->code, name,
						    sizeof(name)),
				       b->lenient ? " (server dying)" : "");
		}
	}
}

/* Whether @dir is a mount point in this namespace */
static bool st_mounted(const char *dir)
{
	char line[4096], needle[PATH_MAX + 2];
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return true;
	snprintf(needle, sizeof(needle), " %s ", dir);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			found = true;
	fclose(f);
	return found;
}

static ssize_t st_read_all(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

static void st_make_file(struct __test_metadata *_metadata, const char *path,
			 const char *content)
{
	size_t len = strlen(content);
	int fd;

	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", path, strerror(errno));
	ASSERT_EQ(len, write(fd, content, len));
	ASSERT_EQ(0, close(fd));
}

/* The mount still works: both ways between it and the backing */
static void st_check_usable(struct __test_metadata *_metadata,
			    struct _test_data_stress *self)
{
	char f[PATH_MAX], b[PATH_MAX], buf[64];
	struct stat fst, bst;

	st_make_file(_metadata, at(f, self->bdir, "final_m"), "through");
	ASSERT_EQ(7, st_read_all(at(b, self->backing, "final_m"), buf,
				 sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "through", 7));
	st_make_file(_metadata, at(b, self->backing, "final_b"), "behind!!");
	ASSERT_EQ(8, st_read_all(at(f, self->bdir, "final_b"), buf,
				 sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "behind!!", 8));
	ASSERT_EQ(0, stat(f, &fst));
	ASSERT_EQ(0, stat(b, &bst));
	EXPECT_EQ(bst.st_ino, fst.st_ino);
	EXPECT_EQ(bst.st_size, fst.st_size);
	EXPECT_EQ(bst.st_mode, fst.st_mode);
	ASSERT_EQ(0, rename(f, at(b, self->bdir, "final_r")));
	EXPECT_EQ(0, access(at(f, self->backing, "final_r"), F_OK));
	EXPECT_EQ(0, unlink(at(f, self->bdir, "final_r")));
	EXPECT_EQ(0, unlink(at(f, self->bdir, "final_m")));
	EXPECT_EQ(-1, access(at(b, self->backing, "final_m"), F_OK));
	EXPECT_EQ(-1, access(at(b, self->backing, "final_r"), F_OK));
	if (self->plain) {
		ASSERT_EQ(0, stat(at(f, self->dir, "p1"), &fst));
		EXPECT_EQ(ST_PLAIN_SIZE, fst.st_size);
		EXPECT_EQ(ST_P_NODE + 1, fst.st_ino);
	}
}

/* Unmount, which nothing may hold anymore, and check it is gone */
static void st_umount(struct __test_metadata *_metadata,
		      struct _test_data_stress *self)
{
	EXPECT_EQ(0, umount2(self->dir, 0)) TH_LOG("umount: %s",
						   strerror(errno));
	if (st_mounted(self->dir))
		umount2(self->dir, MNT_DETACH);
	self->mounted = false;
	EXPECT_FALSE(st_mounted(self->dir));
}

/* Start reading the kernel log at its end */
static int st_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* Count the kernel's reports of trouble since st_kmsg_open() */
static int st_kmsg_reports(int fd)
{
	static const char *const patterns[] = {
		"WARNING:", "BUG:", "Oops", "UBSAN:", "KASAN:",
		"INFO: task", "rcu: INFO", "general protection",
		"Call Trace:", "corruption", "refcount_t:",
	};
	char rec[8192];
	int nr = 0;
	ssize_t n;
	size_t i;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		rec[n] = '\0';
		for (i = 0; i < ARRAY_SIZE(patterns); i++) {
			if (strstr(rec, patterns[i])) {
				ksft_print_msg("kernel: %s", rec);
				nr++;
				break;
			}
		}
	}
	return nr;
}

/* Make the shared pool in the backing directory */
static void st_populate(struct __test_metadata *_metadata,
			const char *backing)
{
	char path[PATH_MAX];
	int d, f;

	for (d = 0; d < ST_NR_DIRS; d++) {
		snprintf(path, sizeof(path), "%s/d%d", backing, d);
		ASSERT_EQ(0, mkdir(path, 0755));
		for (f = 0; f < ST_NR_FILES; f += 2) {
			snprintf(path, sizeof(path), "%s/d%d/f%d", backing, d,
				 f);
			st_make_file(_metadata, path, "initial content");
		}
	}
	for (f = 1; f < ST_NR_FILES; f += 2) {
		snprintf(path, sizeof(path), "%s/f%d", backing, f);
		st_make_file(_metadata, path, "initial content");
	}
}

FIXTURE_SETUP(stress)
{
	const char *env = getenv("FUSE_STRESS_PERCENT");
	int i;

	if (env && atoi(env) > 0)
		st_percent = atoi(env);
	self->cmd_fd = -1;
	self->server = 0;
	self->nr_servers = 0;
	self->mounted = false;
	for (i = 0; i < ST_PROCS; i++)
		self->workers[i] = 0;
	self->sh = mmap(NULL, sizeof(*self->sh), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh);
	self->kmsg_fd = st_kmsg_open();
	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	snprintf(self->dir, sizeof(self->dir), "/tmp/fuse_stress.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	st_populate(_metadata, self->backing);
}

FIXTURE_TEARDOWN(stress)
{
	int i;

	/* Only after a failure is anything left */
	st_store(&self->sh->stop, 1);
	for (i = 0; i < ST_PROCS; i++) {
		if (self->workers[i] > 0 && self->mounted)
			st_abort(self);
		st_reap(&self->workers[i]);
	}
	st_reap(&self->server);
	if (self->cmd_fd >= 0)
		close(self->cmd_fd);
	if (self->mounted)
		umount2(self->dir, MNT_DETACH);
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
	if (self->kmsg_fd >= 0) {
		EXPECT_EQ(0, st_kmsg_reports(self->kmsg_fd))
			TH_LOG("the kernel reported trouble");
		close(self->kmsg_fd);
	} else {
		TH_LOG("no /dev/kmsg: the kernel log is not checked");
	}
	munmap(self->sh, sizeof(*self->sh));
}

/*
 * Workers on the backed directory and the plain files of one mount,
 * while the backing directory changes under them.
 */
TEST_F_TIMEOUT(stress, backed_and_plain_workers, ST_TEST_TIMEOUT)
{
	struct st_count lenient[ST_NR_OPS];

	self->plain = true;
	snprintf(self->bdir, sizeof(self->bdir), "%s/b", self->dir);
	st_start_server(_metadata, self);
	st_start_workers(_metadata, self);
	st_sleep_ms(st_ms(ST_RUN_MS));
	st_stop_workers(_metadata, self);
	st_check_workers(_metadata, self, lenient);
	st_check_usable(_metadata, self);
	st_umount(_metadata, self);
	st_stop_server(_metadata, self);
	st_check_servers(_metadata, self);
}

/*
 * The server is killed in the middle: plain nodes fail with ENOTCONN,
 * backed ones keep working. A new mount and server over the same backing
 * directory replace them, and the workers go on there.
 *
 * "b" is an entry the server made: reclaim may drop its dentry, and a walk
 * then asks the dead server again. The test holds it open, as a program
 * that uses a directory does.
 */
TEST_F_TIMEOUT(stress, server_dies_and_is_replaced, ST_TEST_TIMEOUT)
{
	struct st_count lenient[ST_NR_OPS];
	char f[PATH_MAX], b[PATH_MAX], buf[64];
	unsigned int enotconn = 0;
	int status = 0, op, bfd, fd;
	struct stat st;

	self->plain = true;
	snprintf(self->bdir, sizeof(self->bdir), "%s/b", self->dir);
	st_start_server(_metadata, self);
	bfd = open(self->bdir, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, bfd) TH_LOG("%s: %s", self->bdir, strerror(errno));
	st_start_workers(_metadata, self);
	st_sleep_ms(st_ms(ST_LIVE1_MS));

	/* Any call from now on may meet the dead connection */
	st_store(&self->sh->unstable, 1);
	st_store(&self->sh->epoch, 1);
	ASSERT_EQ(0, kill(self->server, SIGKILL));
	ASSERT_EQ(0, st_wait_child(self->server, ST_WAIT_MS, &status));
	self->server = 0;
	close(self->cmd_fd);
	self->cmd_fd = -1;
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* What the server serves fails, the backing serves the rest */
	errno = 0;
	EXPECT_EQ(-1, open(at(f, self->dir, "p0"), O_RDONLY));
	EXPECT_EQ(ENOTCONN, errno);
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "never_seen"), &st));
	EXPECT_EQ(ENOTCONN, errno);
	fd = openat(bfd, "after_death", O_CREAT | O_TRUNC | O_WRONLY, 0644);
	ASSERT_LE(0, fd) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(5, write(fd, "alive", 5));
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(5, st_read_all(at(b, self->backing, "after_death"), buf,
				 sizeof(buf)));
	EXPECT_EQ(0, unlinkat(bfd, "after_death", 0));
	EXPECT_EQ(0, close(bfd));
	st_sleep_ms(st_ms(ST_DEAD_MS));

	/* Replace the dead mount, which the workers may still use */
	EXPECT_EQ(0, umount2(self->dir, MNT_DETACH));
	self->mounted = false;
	EXPECT_FALSE(st_mounted(self->dir));
	st_start_server(_metadata, self);
	st_store(&self->sh->unstable, 0);
	st_store(&self->sh->epoch, 2);
	st_sleep_ms(st_ms(ST_LIVE2_MS));

	st_stop_workers(_metadata, self);
	st_check_workers(_metadata, self, lenient);
	/* The workers met the dead connection too */
	for (op = 0; op < ST_NR_OPS; op++)
		if (st_ops[op].plain)
			enotconn += lenient[op].err[ENOTCONN];
	EXPECT_LT(0, enotconn);
	st_check_usable(_metadata, self);
	st_umount(_metadata, self);
	st_stop_server(_metadata, self);
	st_check_servers(_metadata, self);
}

/* Workers on a no_daemon mount, all backed */
TEST_F_TIMEOUT(stress, no_daemon_workers, ST_TEST_TIMEOUT)
{
	struct st_count lenient[ST_NR_OPS];
	char opts[256];
	struct stat st;
	int fd;

	self->plain = false;
	snprintf(self->bdir, sizeof(self->bdir), "%s", self->dir);
	fd = open(self->backing, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, fd);
	snprintf(opts, sizeof(opts), "root_dir=%d,no_daemon,%s", fd,
		 FUSE_BASE_OPTS);
	ASSERT_EQ(0, mount_fuse(self->dir, opts));
	self->mounted = true;
	close(fd);
	ASSERT_EQ(0, stat(self->dir, &st));
	self->dev = st.st_dev;

	st_start_workers(_metadata, self);
	st_sleep_ms(st_ms(ST_NO_DAEMON_MS));
	st_stop_workers(_metadata, self);
	st_check_workers(_metadata, self, lenient);
	st_check_usable(_metadata, self);
	st_umount(_metadata, self);
}

TEST_HARNESS_MAIN
