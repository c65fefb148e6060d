// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests for fuse-bpf: the policies of fuse_policy.bpf.c, each what a
 * real filesystem would use a program for, checked against the backing
 * directory:
 *
 * - a read-only subtree: the server backs "ro" with a directory and the
 *   read_only program in its LOOKUP reply, and "rw" with a directory and
 *   no program; every modifying operation fails with EROFS under ro and
 *   works under rw, and reads work in both;
 * - a per-user policy read from a BPF map that the test updates while the
 *   mount is in use;
 * - case-insensitive names over a lower-case backing directory;
 * - an xattr name prefix: user.X is user.app.X on the backing inode;
 * - the redaction of a range of a file, read from the server, the rest
 *   from the backing file; a mapping of the range is refused.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../../kselftest_harness.h"
#include "test_util.h"
#include "test_daemon.h"
#include "fuse_bpf_util.h"
#include "fuse_policy.skel.h"

#define TEST_UID	1000

/* A no_daemon mount of @backing_fd on @dir filtered by @prog */
static int mount_policy(const char *dir, int backing_fd, int prog_fd)
{
	char opts[256];

	snprintf(opts, sizeof(opts),
		 "root_dir=%d,no_daemon,root_bpf=%d,allow_other,"
		 FUSE_BASE_OPTS, backing_fd, prog_fd);
	return mount_fuse(dir, opts);
}

/* The operations of the read-only test, each on a directory */
enum {
	M_CREATE, M_MKDIR, M_MKNOD, M_SYMLINK, M_LINK, M_UNLINK, M_RMDIR,
	M_RENAME, M_TRUNCATE, M_CHMOD, M_CHOWN, M_UTIMES, M_SETXATTR,
	M_REMOVEXATTR, M_ACCESS_W, M_OPEN_WRITE, M_TMPFILE, M_SETFLAGS,
	NR_MODIFYING
};

static const char * const modifying_names[NR_MODIFYING] = {
	"create", "mkdir", "mknod", "symlink", "link", "unlink", "rmdir",
	"rename", "truncate", "chmod", "chown", "utimes", "setxattr",
	"removexattr", "access W_OK", "open O_WRONLY", "O_TMPFILE",
	"FS_IOC_SETFLAGS",
};

/* Run the modifying operation @op in the directory @d: 0 or -errno */
static int modify(int op, const char *d)
{
	char p[PATH_MAX], q[PATH_MAX];
	int fd = -1, flags = 0, ret = 0;

	switch (op) {
	case M_CREATE:
		fd = open(at(p, d, "new"), O_CREAT | O_EXCL | O_WRONLY, 0600);
		break;
	case M_MKDIR:
		ret = mkdir(at(p, d, "newdir"), 0700);
		break;
	case M_MKNOD:
		ret = mknod(at(p, d, "fifo"), S_IFIFO | 0600, 0);
		break;
	case M_SYMLINK:
		ret = symlink("target", at(p, d, "newlink"));
		break;
	case M_LINK:
		ret = link(at(p, d, "f"), at(q, d, "f2"));
		break;
	case M_UNLINK:
		ret = unlink(at(p, d, "u"));
		break;
	case M_RMDIR:
		ret = rmdir(at(p, d, "sub"));
		break;
	case M_RENAME:
		ret = rename(at(p, d, "r"), at(q, d, "r2"));
		break;
	case M_TRUNCATE:
		ret = truncate(at(p, d, "f"), 1);
		break;
	case M_CHMOD:
		ret = chmod(at(p, d, "f"), 0600);
		break;
	case M_CHOWN:
		ret = chown(at(p, d, "f"), 1, 1);
		break;
	case M_UTIMES:
		ret = utimensat(AT_FDCWD, at(p, d, "f"), NULL, 0);
		break;
	case M_SETXATTR:
		ret = setxattr(at(p, d, "f"), "user.new", "v", 1, 0);
		break;
	case M_REMOVEXATTR:
		ret = removexattr(at(p, d, "f"), "user.x");
		break;
	case M_ACCESS_W:
		ret = access(at(p, d, "f"), W_OK);
		break;
	case M_OPEN_WRITE:
		fd = open(at(p, d, "f"), O_WRONLY);
		break;
	case M_TMPFILE:
		fd = open(d, O_TMPFILE | O_WRONLY, 0600);
		break;
	case M_SETFLAGS:
		fd = open(at(p, d, "f"), O_RDONLY);
		if (fd >= 0 && ioctl(fd, FS_IOC_SETFLAGS, &flags)) {
			ret = -errno;
			close(fd);
			return ret;
		}
		break;
	}
	if (fd >= 0)
		close(fd);
	else if (op == M_CREATE || op == M_OPEN_WRITE || op == M_TMPFILE ||
		 op == M_SETFLAGS)
		ret = -1;
	return ret ? -errno : 0;
}

/* The tree each of ro and rw starts with */
static void make_tree(struct __test_metadata *_metadata, const char *d)
{
	char p[PATH_MAX];

	ASSERT_EQ(0, mkdir(d, 0755));
	make_file(_metadata, at(p, d, "f"), 0644, "content");
	ASSERT_EQ(0, setxattr(p, "user.x", "1", 1, 0));
	make_file(_metadata, at(p, d, "u"), 0644, "u");
	make_file(_metadata, at(p, d, "r"), 0644, "r");
	ASSERT_EQ(0, mkdir(at(p, d, "sub"), 0755));
	ASSERT_EQ(0, symlink("f", at(p, d, "l")));
}

FIXTURE(subtree) {
	char backing[128];
	char dir[64];
	int fuse_fd;
	struct test_daemon *td;
	struct fuse_policy *skel;
};

static const struct lookup_reply subtree_replies[] = {
	{ .name = "ro", .nodeid = 2, .ext = true,
	  .backing_action = FUSE_ACTION_REPLACE, .backing = "ro",
	  .bpf_action = FUSE_ACTION_REPLACE, .prog = true,
	  .via = TD_REPLY_IOCTL },
	{ .name = "rw", .nodeid = 3, .ext = true,
	  .backing_action = FUSE_ACTION_REPLACE, .backing = "rw",
	  .bpf_action = FUSE_ACTION_KEEP, .via = TD_REPLY_IOCTL },
};

FIXTURE_SETUP(subtree)
{
	char b[PATH_MAX];

	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	make_tree(_metadata, at(b, self->backing, "ro"));
	make_tree(_metadata, at(b, self->backing, "rw"));
	snprintf(self->dir, sizeof(self->dir), "/tmp/fuse_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	self->skel = fuse_policy__open_and_load();
	ASSERT_NE(NULL, self->skel) TH_LOG("%s", strerror(errno));

	memset(&bpf_daemon_state, 0, sizeof(bpf_daemon_state));
	bpf_daemon_state.backing_dir = self->backing;
	bpf_daemon_state.prog_fd =
		bpf_program__fd(self->skel->progs.read_only);
	serve_lookups(subtree_replies, ARRAY_SIZE(subtree_replies));
	start_bpf_daemon(_metadata, self->dir, "fuse_bpf", 0, &self->fuse_fd,
			 &self->td);
}

FIXTURE_TEARDOWN(subtree)
{
	stop_bpf_daemon(_metadata, self->dir, self->fuse_fd, self->td);
	fuse_policy__destroy(self->skel);
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

/* Every modifying operation fails with EROFS under ro, works under rw */
TEST_F(subtree, modifications_fail_erofs)
{
	char p[PATH_MAX], q[PATH_MAX], ro[128], rw[128], buf[16] = {};
	struct stat st, bst;
	int fd, i;

	snprintf(ro, sizeof(ro), "%s/ro", self->dir);
	snprintf(rw, sizeof(rw), "%s/rw", self->dir);
	for (i = 0; i < NR_MODIFYING; i++) {
		__u64 refused = self->skel->bss->refused;

		EXPECT_EQ(0, modify(i, rw))
			TH_LOG("rw: %s: %s", modifying_names[i],
			       strerror(errno));
		EXPECT_EQ(refused, self->skel->bss->refused);
		EXPECT_EQ(-EROFS, modify(i, ro))
			TH_LOG("ro: %s", modifying_names[i]);
		/* The program refused it, not the VFS */
		EXPECT_LT(refused, self->skel->bss->refused)
			TH_LOG("ro: %s", modifying_names[i]);
	}

	/* Between the two: the program of the directory that changes */
	EXPECT_FAILS(EROFS, rename(at(p, rw, "f"), at(q, ro, "moved")));

	/* Reads work, and the backing is as it was */
	ASSERT_EQ(0, stat(at(p, ro, "f"), &st));
	ASSERT_EQ(0, stat(at(q, self->backing, "ro/f"), &bst));
	EXPECT_EQ(bst.st_ino, st.st_ino);
	EXPECT_EQ(0644 | S_IFREG, st.st_mode);
	EXPECT_EQ(7, st.st_size);
	fd = open(p, O_RDONLY);
	ASSERT_LE(0, fd);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(7, read(fd, buf, sizeof(buf)));
	EXPECT_STREQ("content", buf);
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(1, getxattr(p, "user.x", buf, sizeof(buf)));
	EXPECT_EQ(1, readlink(at(p, ro, "l"), buf, sizeof(buf)));
	EXPECT_EQ(0, stat(at(p, ro, "sub"), &st));
	EXPECT_EQ(0, stat(at(p, ro, "u"), &st));
	EXPECT_EQ(0, stat(at(p, ro, "r"), &st));
	EXPECT_FAILS(ENOENT, stat(at(p, self->backing, "ro/new"), &st));
	EXPECT_FAILS(ENOENT, stat(at(p, self->backing, "ro/newdir"), &st));
	EXPECT_EQ(0, stat(at(p, self->backing, "rw/newdir"), &st));
	EXPECT_EQ(0, stat(at(p, self->backing, "rw/r2"), &st));
}

FIXTURE(policy) {
	char backing[128];
	char dir[64];
	int backing_fd;
	struct fuse_policy *skel;
};

FIXTURE_SETUP(policy)
{
	char b[PATH_MAX];

	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	ASSERT_EQ(0, chmod(self->backing, 0777));
	make_file(_metadata, at(b, self->backing, "f"), 0644, "data");
	make_file(_metadata, at(b, self->backing, "readme.txt"), 0644, "text");
	ASSERT_EQ(0, mkdir(at(b, self->backing, "docs"), 0755));
	self->backing_fd = open(self->backing, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, self->backing_fd);
	snprintf(self->dir, sizeof(self->dir), "/tmp/fuse_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	self->skel = fuse_policy__open_and_load();
	ASSERT_NE(NULL, self->skel) TH_LOG("%s", strerror(errno));
}

FIXTURE_TEARDOWN(policy)
{
	EXPECT_EQ(0, umount(self->dir));
	fuse_policy__destroy(self->skel);
	EXPECT_EQ(0, close(self->backing_fd));
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

static int user_stat(const char *path, const void *arg)
{
	struct stat st;

	return stat(path, &st);
}

static int user_create(const char *path, const void *arg)
{
	int fd = open(path, O_CREAT | O_WRONLY, 0644);

	return fd < 0 ? -1 : close(fd);
}

/* What a user may do follows the map, updated while the mount is used */
TEST_F(policy, per_uid_map)
{
	static const struct test_user user = { .uid = TEST_UID,
					       .gid = TEST_UID };
	int map = bpf_map__fd(self->skel->maps.uid_access);
	char f[PATH_MAX], g[PATH_MAX];
	__u32 uid = TEST_UID, v;
	struct stat st;
	int prog;

	prog = bpf_program__fd(self->skel->progs.uid_policy);
	ASSERT_EQ(0, mount_policy(self->dir, self->backing_fd, prog));
	at(f, self->dir, "f");
	at(g, self->dir, "g");
	/* Not in the map: all */
	EXPECT_EQ(0, run_as_user(&user, user_stat, f, NULL));
	EXPECT_EQ(0, run_as_user(&user, user_create, at(g, self->dir, "g1"),
				 NULL));

	v = 1;	/* POLICY_READ */
	ASSERT_EQ(0, bpf_map_update_elem(map, &uid, &v, BPF_ANY));
	EXPECT_EQ(0, run_as_user(&user, user_stat, f, NULL));
	EXPECT_EQ(EACCES, run_as_user(&user, user_create,
				      at(g, self->dir, "g2"), NULL));
	/* Root is not in the map */
	EXPECT_EQ(0, user_create(at(g, self->dir, "g3"), NULL));

	v = 0;
	ASSERT_EQ(0, bpf_map_update_elem(map, &uid, &v, BPF_ANY));
	EXPECT_EQ(EACCES, run_as_user(&user, user_stat, f, NULL));

	v = 3;	/* POLICY_READ | POLICY_WRITE */
	ASSERT_EQ(0, bpf_map_update_elem(map, &uid, &v, BPF_ANY));
	EXPECT_EQ(0, run_as_user(&user, user_create, at(g, self->dir, "g4"),
				 NULL));
	ASSERT_EQ(0, bpf_map_delete_elem(map, &uid));
	EXPECT_EQ(0, run_as_user(&user, user_stat, f, NULL));

	EXPECT_EQ(0, stat(at(g, self->backing, "g1"), &st));
	EXPECT_FAILS(ENOENT, stat(at(g, self->backing, "g2"), &st));
	EXPECT_EQ(0, stat(at(g, self->backing, "g4"), &st));
	EXPECT_EQ(TEST_UID, st.st_uid);
	EXPECT_EQ(2, self->skel->bss->denied);
}

/* Any case finds the lower-case backing entry; what is made is lower case */
TEST_F(policy, case_insensitive)
{
	char f[PATH_MAX], b[PATH_MAX], buf[8] = {};
	struct stat st, bst;
	int fd, prog;

	prog = bpf_program__fd(self->skel->progs.casefold);
	ASSERT_EQ(0, mount_policy(self->dir, self->backing_fd, prog));
	ASSERT_EQ(0, stat(at(b, self->backing, "readme.txt"), &bst));
	ASSERT_EQ(0, stat(at(f, self->dir, "README.TXT"), &st))
		TH_LOG("%s", strerror(errno));
	EXPECT_EQ(bst.st_ino, st.st_ino);
	ASSERT_EQ(0, stat(at(f, self->dir, "ReadMe.Txt"), &st));
	EXPECT_EQ(bst.st_ino, st.st_ino);
	fd = open(at(f, self->dir, "README.txt"), O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(4, read(fd, buf, sizeof(buf)));
	EXPECT_STREQ("text", buf);
	EXPECT_EQ(0, close(fd));
	ASSERT_EQ(0, stat(at(f, self->dir, "DOCS"), &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_FAILS(ENOENT, stat(at(f, self->dir, "NOPE"), &st));

	make_file(_metadata, at(f, self->dir, "NewFile"), 0644, "n");
	EXPECT_EQ(0, stat(at(b, self->backing, "newfile"), &bst));
	EXPECT_FAILS(ENOENT, stat(at(b, self->backing, "NewFile"), &bst));
	ASSERT_EQ(0, mkdir(at(f, self->dir, "Dir2"), 0755));
	EXPECT_EQ(0, stat(at(b, self->backing, "dir2"), &bst));
	EXPECT_EQ(0, unlink(at(f, self->dir, "NEWFILE")));
	EXPECT_FAILS(ENOENT, stat(at(b, self->backing, "newfile"), &bst));
	EXPECT_EQ(0, rmdir(at(f, self->dir, "dir2")));
	EXPECT_FAILS(ENOENT, stat(at(b, self->backing, "dir2"), &bst));
	EXPECT_LE(6, self->skel->bss->folded);
}

/* user.X through the mount is user.app.X on the backing inode */
TEST_F(policy, xattr_name_prefix)
{
	char f[PATH_MAX], b[PATH_MAX], buf[8] = {};
	int prog;

	prog = bpf_program__fd(self->skel->progs.xattr_prefix);
	ASSERT_EQ(0, mount_policy(self->dir, self->backing_fd, prog));
	at(f, self->dir, "f");
	at(b, self->backing, "f");
	ASSERT_EQ(0, setxattr(f, "user.color", "red", 3, 0))
		TH_LOG("%s", strerror(errno));
	EXPECT_EQ(3, getxattr(b, "user.app.color", buf, sizeof(buf)));
	EXPECT_STREQ("red", buf);
	EXPECT_FAILS(ENODATA, getxattr(b, "user.color", buf, sizeof(buf)));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(3, getxattr(f, "user.color", buf, sizeof(buf)));
	EXPECT_STREQ("red", buf);

	ASSERT_EQ(0, setxattr(b, "user.app.size", "9", 1, 0));
	ASSERT_EQ(0, setxattr(b, "user.size", "0", 1, 0));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(1, getxattr(f, "user.size", buf, sizeof(buf)));
	EXPECT_STREQ("9", buf);

	EXPECT_EQ(0, removexattr(f, "user.color"));
	EXPECT_FAILS(ENODATA, getxattr(b, "user.app.color", buf, sizeof(buf)));
	EXPECT_EQ(4, self->skel->bss->prefixed);
}

/* The file whose range the server redacts, and its node id */
#define PHOTO_NODEID	50
#define PHOTO_SIZE	12288
#define REDACT_START	4096
#define REDACT_END	8192

/* What the server saw of its READs and WRITEs */
static struct {
	unsigned int reads, writes;
	__u64 offset, fh, nodeid;
	__u32 size;
	/* The data of the last write was all 'Y' */
	bool data_ok;
	/* How much of a write it takes, if not 0 */
	__u32 take;
} redact_seen;

static int photo_lookup(struct test_daemon *td, struct td_req *req)
{
	struct fuse_entry_out *entry = req->out;

	if (strcmp(req->arg, "photo"))
		return -ENOENT;
	entry->nodeid = PHOTO_NODEID;
	entry->attr.ino = PHOTO_NODEID;
	entry->attr.mode = S_IFREG | 0644;
	entry->attr.nlink = 1;
	req->out_len = sizeof(*entry);
	return 0;
}

/* The redacted bytes: 'X' */
static int photo_read(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_read_in *in = req->arg;

	redact_seen.reads++;
	redact_seen.nodeid = req->in->nodeid;
	redact_seen.offset = in->offset;
	redact_seen.size = in->size;
	redact_seen.fh = in->fh;
	if (in->size > req->out_size)
		return -EIO;
	memset(req->out, 'X', in->size);
	req->out_len = in->size;
	return 0;
}

/* The server takes the bytes of the range that are written */
static int photo_write(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_write_in *in = req->arg;
	const char *data = (const char *)(in + 1);
	struct fuse_write_out *out = req->out;
	__u32 i;

	redact_seen.writes++;
	redact_seen.nodeid = req->in->nodeid;
	redact_seen.offset = in->offset;
	redact_seen.size = in->size;
	redact_seen.fh = in->fh;
	if (req->arg_len != sizeof(*in) + in->size)
		return -EIO;
	for (i = 0; i < in->size && data[i] == 'Y'; i++)
		;
	redact_seen.data_ok = i == in->size;
	out->size = redact_seen.take && redact_seen.take < in->size ?
		    redact_seen.take : in->size;
	req->out_len = sizeof(*out);
	return 0;
}

FIXTURE(redact) {
	char backing[128];
	char dir[64];
	int backing_fd;
	int fuse_fd;
	struct test_daemon *td;
	struct fuse_policy *skel;
};

FIXTURE_SETUP(redact)
{
	char b[PATH_MAX], opts[128];
	char *data;
	int fd;

	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	data = malloc(PHOTO_SIZE);
	ASSERT_NE(NULL, data);
	memset(data, 'A', PHOTO_SIZE);
	fd = open(at(b, self->backing, "photo"), O_CREAT | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(PHOTO_SIZE, write(fd, data, PHOTO_SIZE));
	ASSERT_EQ(0, close(fd));
	free(data);
	self->backing_fd = open(self->backing, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, self->backing_fd);
	snprintf(self->dir, sizeof(self->dir), "/tmp/fuse_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	self->skel = fuse_policy__open_and_load();
	ASSERT_NE(NULL, self->skel) TH_LOG("%s", strerror(errno));
	self->skel->bss->redact_start = REDACT_START;
	self->skel->bss->redact_end = REDACT_END;
	memset(&redact_seen, 0, sizeof(redact_seen));

	memset(&bpf_daemon_state, 0, sizeof(bpf_daemon_state));
	bpf_daemon_state.backing_dir = self->backing;
	snprintf(opts, sizeof(opts), "root_dir=%d,root_bpf=%d",
		 self->backing_fd,
		 bpf_program__fd(self->skel->progs.redact));
	start_bpf_daemon(_metadata, self->dir, opts, 0, &self->fuse_fd,
			 &self->td);
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_LOOKUP,
					     photo_lookup, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_READ,
					     photo_read, NULL));
}

FIXTURE_TEARDOWN(redact)
{
	stop_bpf_daemon(_metadata, self->dir, self->fuse_fd, self->td);
	fuse_policy__destroy(self->skel);
	EXPECT_EQ(0, close(self->backing_fd));
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

/*
 * The server's last request was for the whole range, of the photo's node
 * and with no file handle. The caller holds the daemon's lock.
 */
static void expect_whole_range(struct __test_metadata *_metadata)
{
	EXPECT_EQ(PHOTO_NODEID, redact_seen.nodeid);
	EXPECT_EQ(REDACT_START, redact_seen.offset);
	EXPECT_EQ(REDACT_END - REDACT_START, redact_seen.size);
	EXPECT_EQ(0, redact_seen.fh);
}

/*
 * Reading the whole file gives the backing bytes around the range and
 * the server's in it: the server is sent one FUSE_READ, of exactly the
 * range, after the node was made known.
 */
TEST_F(redact, range_from_server)
{
	const struct td_expect log[] = {
		{ .opcode = FUSE_INIT },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "photo" },
		{ .opcode = FUSE_READ, .nodeid = PHOTO_NODEID },
		{ .opcode = FUSE_READ, .nodeid = PHOTO_NODEID },
	};
	char f[PATH_MAX], *buf;
	ssize_t n, total = 0;
	int fd, i;

	buf = calloc(1, PHOTO_SIZE + 1);
	ASSERT_NE(NULL, buf);
	fd = open(at(f, self->dir, "photo"), O_RDONLY);
	ASSERT_LE(0, fd);
	while ((n = read(fd, buf + total, PHOTO_SIZE + 1 - total)) > 0)
		total += n;
	EXPECT_EQ(0, n) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(PHOTO_SIZE, total);
	for (i = 0; i < PHOTO_SIZE; i++)
		if (buf[i] != (i >= REDACT_START && i < REDACT_END ? 'X' : 'A'))
			break;
	EXPECT_EQ(PHOTO_SIZE, i) TH_LOG("byte %d is %c", i, buf[i]);

	test_daemon_lock(self->td);
	EXPECT_EQ(1, redact_seen.reads);
	expect_whole_range(_metadata);
	test_daemon_unlock(self->td);
	EXPECT_EQ(1, self->skel->bss->redirected);

	/* A read inside the range only */
	EXPECT_EQ(10, pread(fd, buf, 10, REDACT_START + 5));
	EXPECT_EQ(0, memcmp(buf, "XXXXXXXXXX", 10));
	EXPECT_EQ(2, self->skel->bss->redirected);
	test_daemon_lock(self->td);
	EXPECT_EQ(REDACT_START + 5, redact_seen.offset);
	EXPECT_EQ(10, redact_seen.size);
	test_daemon_unlock(self->td);
	EXPECT_EQ(0, close(fd));
	free(buf);
	ASSERT_TRUE(test_daemon_expect(self->td, log, ARRAY_SIZE(log)));
}

/*
 * Writes of the range go to the server, with their data: a write across
 * it stops at its start, the next one, of the range, goes to the server,
 * and the rest to the backing file, whose range is left as it was. The
 * server may take less than it is given: the caller sees a short write.
 */
TEST_F(redact, range_written_to_server)
{
	char f[PATH_MAX], b[PATH_MAX], *buf;
	ssize_t n, total = 0;
	int fd, i;

	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_WRITE,
					     photo_write, NULL));
	buf = malloc(PHOTO_SIZE + 1);
	ASSERT_NE(NULL, buf);
	memset(buf, 'Y', PHOTO_SIZE);
	fd = open(at(f, self->dir, "photo"), O_WRONLY);
	ASSERT_LE(0, fd);
	while (total < PHOTO_SIZE &&
	       (n = write(fd, buf + total, PHOTO_SIZE - total)) > 0)
		total += n;
	EXPECT_EQ(PHOTO_SIZE, total) TH_LOG("%s", strerror(errno));
	test_daemon_lock(self->td);
	EXPECT_EQ(1, redact_seen.writes);
	expect_whole_range(_metadata);
	EXPECT_TRUE(redact_seen.data_ok);
	redact_seen.take = 3;
	test_daemon_unlock(self->td);
	EXPECT_EQ(1, self->skel->bss->redirected);

	/* The server takes 3 bytes of 10 */
	EXPECT_EQ(3, pwrite(fd, buf, 10, REDACT_START + 5));
	test_daemon_lock(self->td);
	EXPECT_EQ(2, redact_seen.writes);
	EXPECT_EQ(REDACT_START + 5, redact_seen.offset);
	EXPECT_EQ(10, redact_seen.size);
	test_daemon_unlock(self->td);
	EXPECT_EQ(0, close(fd));

	/* The backing file has the writes around the range only */
	EXPECT_EQ(PHOTO_SIZE, read_all(at(b, self->backing, "photo"), buf,
				       PHOTO_SIZE + 1));
	for (i = 0; i < PHOTO_SIZE; i++)
		if (buf[i] != (i >= REDACT_START && i < REDACT_END ? 'A' : 'Y'))
			break;
	EXPECT_EQ(PHOTO_SIZE, i) TH_LOG("byte %d is %c", i, buf[i]);
	test_daemon_lock(self->td);
	EXPECT_EQ(0, redact_seen.reads);
	test_daemon_unlock(self->td);
	free(buf);
}

/* A mapping that would show the range unfiltered is refused */
TEST_F(redact, mmap_of_range_refused)
{
	char f[PATH_MAX];
	void *p;
	int fd;

	fd = open(at(f, self->dir, "photo"), O_RDONLY);
	ASSERT_LE(0, fd);
	/* Before the range, and after it: served by the backing file */
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("%s", strerror(errno));
	EXPECT_EQ('A', ((char *)p)[4095]);
	EXPECT_EQ(0, munmap(p, 4096));
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 8192);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, munmap(p, 4096));
	/* The range: the server's data cannot be mapped */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
				   REDACT_START));
	EXPECT_EQ(ENODEV, errno);
	/* Across it: the program shortens the range, which mmap cannot do */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, close(fd));
	test_daemon_lock(self->td);
	EXPECT_EQ(0, redact_seen.reads);
	test_daemon_unlock(self->td);
}

TEST_HARNESS_MAIN
