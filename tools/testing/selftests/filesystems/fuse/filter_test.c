// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests for fuse-bpf: BPF programs that rewrite the operations of
 * backed inodes. A backed root filtered by fuse_rewrite.bpf.c, which the
 * tests steer through its global data: for each operation, a pre-filter
 * errno fails it, a pre-filter rewrite of its arguments changes what the
 * backing call does (or fails it with EINVAL if the operation does not
 * honour it), a post-filter rewrite of its results changes what the
 * caller gets, a post-filter errno replaces its result, and a post-filter
 * BPF_FUSE_CONTINUE keeps it. An operation without the argument a rewrite
 * asks for gets NULL from the helper, and runs as it was. What the program
 * does is checked against the backing directory; the daemon is asked
 * nothing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../../kselftest_harness.h"
#include "test_util.h"
#include "test_daemon.h"
#include "fuse_bpf_util.h"
#include "fuse_bpf_test.h"
#include "fuse_rewrite.skel.h"

#define FUSE_SUPER_MAGIC	0x65735546

/* What failed operations fail with here: nothing else gives it to them */
#define PRE_ERRNO		EDOM
#define POST_ERRNO		EXFULL

/* Not root, for the checks of the caller */
#define TEST_UID		1000

/* Bit @op of name_ops */
#define OPBIT(op)		(1ULL << (op))

/*
 * A backed root filtered by fuse_rewrite.bpf.c, open to other users
 * (allow_other), with a daemon that negotiated FUSE_BPF.
 */
FIXTURE(filter) {
	char backing[128];
	char dir[64];
	int backing_fd;
	int fuse_fd;
	struct test_daemon *td;
	struct fuse_rewrite *skel;
	struct fuse_rewrite__bss *bss;
};

FIXTURE_SETUP(filter)
{
	char opts[128];

	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	/* Other users walk the root */
	ASSERT_EQ(0, chmod(self->backing, 0755));
	self->backing_fd = open(self->backing, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, self->backing_fd);
	snprintf(self->dir, sizeof(self->dir), "/tmp/fuse_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	self->skel = fuse_rewrite__open_and_load();
	ASSERT_NE(NULL, self->skel) TH_LOG("open_and_load: %s",
					   strerror(errno));
	self->bss = self->skel->bss;

	memset(&bpf_daemon_state, 0, sizeof(bpf_daemon_state));
	bpf_daemon_state.backing_dir = self->backing;
	bpf_daemon_state.prog_fd =
		bpf_program__fd(self->skel->progs.fuse_rewrite);
	snprintf(opts, sizeof(opts), "root_dir=%d,root_bpf=%d,allow_other",
		 self->backing_fd, bpf_daemon_state.prog_fd);
	start_bpf_daemon(_metadata, self->dir, opts, 0, &self->fuse_fd,
			 &self->td);
}

FIXTURE_TEARDOWN(filter)
{
	stop_bpf_daemon(_metadata, self->dir, self->fuse_fd, self->td);
	fuse_rewrite__destroy(self->skel);
	EXPECT_EQ(0, close(self->backing_fd));
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

static const struct td_expect only_init[] = {
	{ .opcode = FUSE_INIT, .nodeid = 0 },
};

#define EXPECT_ONLY_INIT()						\
	ASSERT_TRUE(test_daemon_expect(self->td, only_init,		\
				       ARRAY_SIZE(only_init)))

/* The program does nothing, and forgets what it saw */
static void reset(struct fuse_rewrite__bss *bss)
{
	memset(bss, 0, sizeof(*bss));
}

/* Rewrite the names @from to @to in the pre-filters of @ops */
static void rewrite_names(struct fuse_rewrite__bss *bss, __u64 ops,
			  const char *from, const char *to)
{
	memcpy(bss->from, from, REWRITE_NAME_SIZE);
	memcpy(bss->to, to, REWRITE_NAME_SIZE);
	bss->name_ops = ops;
}

/* rewrite_names() of names of REWRITE_NAME_SIZE bytes, their NUL included */
#define REWRITE_NAMES(bss, ops, f, t) do {				\
	static_assert(sizeof(f) == REWRITE_NAME_SIZE, "name size");	\
	static_assert(sizeof(t) == REWRITE_NAME_SIZE, "name size");	\
	rewrite_names(bss, ops, f, t);					\
} while (0)

/* The inode number and type of the entry @path, not followed */
static void expect_same_lstat(struct __test_metadata *_metadata,
			      const char *fuse_path, const char *backing_path)
{
	struct stat fst, bst;

	ASSERT_EQ(0, lstat(fuse_path, &fst))
		TH_LOG("lstat %s: %s", fuse_path, strerror(errno));
	ASSERT_EQ(0, lstat(backing_path, &bst))
		TH_LOG("lstat %s: %s", backing_path, strerror(errno));
	EXPECT_EQ(bst.st_ino, fst.st_ino);
	EXPECT_EQ(bst.st_mode, fst.st_mode);
}

/* @path holds exactly @data */
static void expect_content(struct __test_metadata *_metadata,
			   const char *path, const char *data)
{
	char buf[256];

	EXPECT_EQ(strlen(data), read_all(path, buf, sizeof(buf)))
		TH_LOG("%s", path);
	EXPECT_STREQ(data, buf);
}

/*
 * LOOKUP: the program looks another name up. The FUSE entry keeps the
 * caller's name and is the backing entry of the new one, as long as the
 * program rewrites it: it revalidates through the program.
 */
TEST_F(filter, lookup_rewrite_name)
{
	char b[PATH_MAX], f[PATH_MAX], t[PATH_MAX];

	make_file(_metadata, at(b, self->backing, "target1"), 0640, "target");
	REWRITE_NAMES(self->bss, OPBIT(FUSE_LOOKUP), "alias01", "target1");
	expect_same_stat(_metadata, at(f, self->dir, "alias01"), b);
	expect_content(_metadata, f, "target");
	EXPECT_LE(1, self->bss->rewrites);
	EXPECT_EQ(0, self->bss->helper_null);
	/* Nothing of that name in the backing directory */
	expect_enoent(_metadata, at(b, self->backing, "alias01"));
	/* The other name is still itself */
	expect_same_stat(_metadata, at(t, self->dir, "target1"),
			 at(b, self->backing, "target1"));

	/* Without the rewrite, the entry is gone */
	reset(self->bss);
	expect_enoent(_metadata, f);
	EXPECT_EQ(0, self->bss->rewrites);
	EXPECT_ONLY_INIT();
}

/* A rewrite to what is not a name fails the lookup with EINVAL */
TEST_F(filter, lookup_rewrite_invalid)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	ASSERT_EQ(0, mkdir(at(b, self->backing, "a"), 0755));
	make_file(_metadata, at(b, self->backing, "a/bcdef"), 0644, "x");
	make_file(_metadata, at(b, self->backing, "ab"), 0644, "x");
	at(f, self->dir, "alias01");

	/* A path */
	REWRITE_NAMES(self->bss, OPBIT(FUSE_LOOKUP), "alias01", "a/bcdef");
	EXPECT_FAILS(EINVAL, stat(f, &st));
	EXPECT_LE(1, self->bss->rewrites);

	/* A NUL inside */
	reset(self->bss);
	REWRITE_NAMES(self->bss, OPBIT(FUSE_LOOKUP), "alias01", "ab\0cdef");
	EXPECT_FAILS(EINVAL, stat(f, &st));
	EXPECT_LE(1, self->bss->rewrites);

	/* ".." */
	reset(self->bss);
	REWRITE_NAMES(self->bss, OPBIT(FUSE_LOOKUP), "alias01", "xxxxxxx");
	self->bss->to_dotdot = 1;
	EXPECT_FAILS(EINVAL, stat(f, &st));
	EXPECT_LE(1, self->bss->rewrites);
	EXPECT_EQ(0, self->bss->helper_null);

	/* Not cached: without the rewrite, there is no such name */
	reset(self->bss);
	expect_enoent(_metadata, f);
	EXPECT_ONLY_INIT();
}

/*
 * LOOKUP: a pre-filter errno fails it, a post-filter errno fails it
 * though the entry exists, BPF_FUSE_CONTINUE keeps what it found; the
 * post-filter sees the backing inode in the reply.
 */
TEST_F(filter, lookup_errno_and_continue)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st, bst;

	make_file(_metadata, at(b, self->backing, "file1"), 0640, "data");
	ASSERT_EQ(0, stat(b, &bst));
	at(f, self->dir, "file1");

	self->bss->pre_op = FUSE_LOOKUP;
	self->bss->pre_ret = -PRE_ERRNO;
	EXPECT_FAILS(PRE_ERRNO, stat(f, &st));
	EXPECT_EQ(0, self->bss->post_count);

	reset(self->bss);
	self->bss->post_op = FUSE_LOOKUP;
	self->bss->post_ret = -ENOENT;
	self->bss->post_error_in = 1;
	EXPECT_FAILS(ENOENT, stat(f, &st));
	EXPECT_EQ(0, self->bss->post_error_in);
	EXPECT_EQ(bst.st_ino, self->bss->lookup_ino);

	reset(self->bss);
	self->bss->post_op = FUSE_LOOKUP;
	self->bss->post_error_in = 1;
	expect_same_stat(_metadata, f, b);
	EXPECT_LE(1, self->bss->post_count);
	EXPECT_EQ(0, self->bss->post_error_in);
	EXPECT_EQ(bst.st_ino, self->bss->lookup_ino);

	/* A name with no backing entry: a success, node id 0, no inode */
	self->bss->lookup_ino = 1;
	expect_enoent(_metadata, at(f, self->dir, "missing"));
	EXPECT_EQ(0, self->bss->post_error_in);
	EXPECT_EQ(0, self->bss->lookup_ino);
	EXPECT_ONLY_INIT();
}

/* MKDIR, CREATE, MKNOD, SYMLINK make their object under the new name */
TEST_F(filter, new_entry_rewrite_name)
{
	__u64 ops = OPBIT(FUSE_LOOKUP) | OPBIT(FUSE_MKDIR) |
		    OPBIT(FUSE_CREATE) | OPBIT(FUSE_MKNOD) |
		    OPBIT(FUSE_SYMLINK);
	char b[PATH_MAX], f[PATH_MAX], t[PATH_MAX];
	struct stat st;
	int fd;

	REWRITE_NAMES(self->bss, ops, "alias01", "target1");
	ASSERT_EQ(0, mkdir(at(f, self->dir, "alias01"), 0750))
		TH_LOG("mkdir: %s", strerror(errno));
	ASSERT_EQ(0, lstat(at(b, self->backing, "target1"), &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	expect_enoent(_metadata, at(b, self->backing, "alias01"));
	expect_same_lstat(_metadata, f, at(b, self->backing, "target1"));

	REWRITE_NAMES(self->bss, ops, "alias02", "target2");
	fd = open(at(f, self->dir, "alias02"), O_CREAT | O_EXCL | O_WRONLY,
		  0640);
	ASSERT_LE(0, fd) TH_LOG("create: %s", strerror(errno));
	EXPECT_EQ(3, write(fd, "new", 3));
	EXPECT_EQ(0, close(fd));
	expect_content(_metadata, at(t, self->backing, "target2"), "new");
	expect_enoent(_metadata, at(b, self->backing, "alias02"));
	expect_same_lstat(_metadata, f, t);

	REWRITE_NAMES(self->bss, ops, "alias03", "target3");
	ASSERT_EQ(0, mknod(at(f, self->dir, "alias03"), S_IFIFO | 0640, 0))
		TH_LOG("mknod: %s", strerror(errno));
	ASSERT_EQ(0, lstat(at(t, self->backing, "target3"), &st));
	EXPECT_TRUE(S_ISFIFO(st.st_mode));
	expect_enoent(_metadata, at(b, self->backing, "alias03"));
	expect_same_lstat(_metadata, f, t);

	REWRITE_NAMES(self->bss, ops, "alias04", "target4");
	ASSERT_EQ(0, symlink("dest", at(f, self->dir, "alias04")))
		TH_LOG("symlink: %s", strerror(errno));
	expect_readlink(_metadata, at(t, self->backing, "target4"), "dest");
	expect_enoent(_metadata, at(b, self->backing, "alias04"));
	expect_same_lstat(_metadata, f, t);
	expect_readlink(_metadata, f, "dest");

	EXPECT_EQ(0, self->bss->helper_null);
	EXPECT_ONLY_INIT();
}

/* SYMLINK: the target (in arg 1, up to PATH_MAX) is rewritten */
TEST_F(filter, symlink_rewrite_target)
{
	char b[PATH_MAX], f[PATH_MAX];

	REWRITE_NAMES(self->bss, OPBIT(FUSE_SYMLINK), "alias05", "target5");
	ASSERT_EQ(0, symlink("alias05", at(f, self->dir, "link")))
		TH_LOG("symlink: %s", strerror(errno));
	EXPECT_EQ(1, self->bss->rewrites);
	expect_readlink(_metadata, at(b, self->backing, "link"), "target5");
	expect_readlink(_metadata, f, "target5");
	EXPECT_ONLY_INIT();
}

/* MKDIR: a pre-filter errno makes nothing, a post-filter one fails it */
TEST_F(filter, new_entry_errno_and_continue)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	self->bss->pre_op = FUSE_MKDIR;
	self->bss->pre_ret = -PRE_ERRNO;
	EXPECT_FAILS(PRE_ERRNO, mkdir(at(f, self->dir, "dir1"), 0755));
	expect_enoent(_metadata, at(b, self->backing, "dir1"));

	reset(self->bss);
	self->bss->post_op = FUSE_MKDIR;
	self->bss->post_ret = -POST_ERRNO;
	self->bss->post_error_in = 1;
	EXPECT_FAILS(POST_ERRNO, mkdir(at(f, self->dir, "dir2"), 0755));
	EXPECT_EQ(0, self->bss->post_error_in);
	/* Made all the same */
	ASSERT_EQ(0, stat(at(b, self->backing, "dir2"), &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));

	reset(self->bss);
	self->bss->post_op = FUSE_MKDIR;
	ASSERT_EQ(0, mkdir(at(f, self->dir, "dir3"), 0755));
	EXPECT_EQ(1, self->bss->post_count);
	expect_same_lstat(_metadata, f, at(b, self->backing, "dir3"));
	EXPECT_ONLY_INIT();
}

/*
 * UNLINK and RMDIR of a name the program rewrites as it rewrites its
 * lookup remove the backing entry of the new name.
 */
TEST_F(filter, remove_rewrite_consistent)
{
	__u64 ops = OPBIT(FUSE_LOOKUP) | OPBIT(FUSE_UNLINK) |
		    OPBIT(FUSE_RMDIR);
	char b[PATH_MAX], f[PATH_MAX];

	make_file(_metadata, at(b, self->backing, "target1"), 0644, "one");
	ASSERT_EQ(0, mkdir(at(b, self->backing, "target2"), 0755));

	REWRITE_NAMES(self->bss, ops, "alias01", "target1");
	ASSERT_EQ(0, unlink(at(f, self->dir, "alias01")))
		TH_LOG("unlink: %s", strerror(errno));
	expect_enoent(_metadata, at(b, self->backing, "target1"));
	expect_enoent(_metadata, f);

	REWRITE_NAMES(self->bss, ops, "alias02", "target2");
	ASSERT_EQ(0, rmdir(at(f, self->dir, "alias02")))
		TH_LOG("rmdir: %s", strerror(errno));
	expect_enoent(_metadata, at(b, self->backing, "target2"));
	EXPECT_EQ(0, self->bss->helper_null);

	/* Pre- and post-filter errnos, CONTINUE */
	reset(self->bss);
	make_file(_metadata, at(b, self->backing, "file3"), 0644, "3");
	self->bss->pre_op = FUSE_UNLINK;
	self->bss->pre_ret = -PRE_ERRNO;
	EXPECT_FAILS(PRE_ERRNO, unlink(at(f, self->dir, "file3")));
	expect_content(_metadata, b, "3");
	reset(self->bss);
	self->bss->post_op = FUSE_UNLINK;
	self->bss->post_ret = -POST_ERRNO;
	EXPECT_FAILS(POST_ERRNO, unlink(f));
	expect_enoent(_metadata, b);
	reset(self->bss);
	make_file(_metadata, at(b, self->backing, "file4"), 0644, "4");
	self->bss->post_op = FUSE_UNLINK;
	ASSERT_EQ(0, unlink(at(f, self->dir, "file4")));
	EXPECT_EQ(1, self->bss->post_count);
	expect_enoent(_metadata, b);
	EXPECT_ONLY_INIT();
}

/*
 * A rewrite of UNLINK or RMDIR that names another entry than the FUSE
 * dentry's fails with ESTALE, whichever of the lookup and the removal
 * the program rewrites: nothing is removed.
 */
TEST_F(filter, remove_rewrite_inconsistent)
{
	char b[PATH_MAX], f[PATH_MAX];

	make_file(_metadata, at(b, self->backing, "alias01"), 0644, "a");
	make_file(_metadata, at(b, self->backing, "target1"), 0644, "t");
	REWRITE_NAMES(self->bss, OPBIT(FUSE_UNLINK), "alias01", "target1");
	EXPECT_FAILS(ESTALE, unlink(at(f, self->dir, "alias01")));
	EXPECT_LE(1, self->bss->rewrites);
	expect_content(_metadata, at(b, self->backing, "alias01"), "a");
	expect_content(_metadata, at(b, self->backing, "target1"), "t");

	/* The lookup only: the removal names a name that is not there */
	make_file(_metadata, at(b, self->backing, "target2"), 0644, "2");
	REWRITE_NAMES(self->bss, OPBIT(FUSE_LOOKUP), "alias02", "target2");
	EXPECT_FAILS(ESTALE, unlink(at(f, self->dir, "alias02")));
	expect_content(_metadata, at(b, self->backing, "target2"), "2");

	ASSERT_EQ(0, mkdir(at(b, self->backing, "alias03"), 0755));
	ASSERT_EQ(0, mkdir(at(b, self->backing, "target3"), 0755));
	REWRITE_NAMES(self->bss, OPBIT(FUSE_RMDIR), "alias03", "target3");
	EXPECT_FAILS(ESTALE, rmdir(at(f, self->dir, "alias03")));
	EXPECT_EQ(0, access(at(b, self->backing, "alias03"), F_OK));
	EXPECT_EQ(0, access(at(b, self->backing, "target3"), F_OK));
	EXPECT_EQ(0, self->bss->helper_null);
	EXPECT_ONLY_INIT();
}

/* RENAME2: the old and the new name are rewritten, consistently or not */
TEST_F(filter, rename_rewrite)
{
	__u64 ops = OPBIT(FUSE_LOOKUP) | OPBIT(FUSE_RENAME2);
	char b[PATH_MAX], f[PATH_MAX], g[PATH_MAX];

	make_file(_metadata, at(b, self->backing, "target1"), 0644, "one");
	REWRITE_NAMES(self->bss, ops, "alias01", "target1");
	/* The old name */
	ASSERT_EQ(0, rename(at(f, self->dir, "alias01"),
			    at(g, self->dir, "renamed")))
		TH_LOG("rename: %s", strerror(errno));
	expect_enoent(_metadata, b);
	expect_content(_metadata, at(b, self->backing, "renamed"), "one");
	/* The new name */
	ASSERT_EQ(0, rename(g, f)) TH_LOG("rename: %s", strerror(errno));
	expect_enoent(_metadata, b);
	expect_enoent(_metadata, at(b, self->backing, "alias01"));
	expect_content(_metadata, at(b, self->backing, "target1"), "one");
	expect_same_stat(_metadata, f, b);
	EXPECT_EQ(0, self->bss->helper_null);

	/* The rename only: the old name is not the FUSE dentry's */
	make_file(_metadata, at(b, self->backing, "alias02"), 0644, "a");
	make_file(_metadata, at(b, self->backing, "target2"), 0644, "t");
	REWRITE_NAMES(self->bss, OPBIT(FUSE_RENAME2), "alias02", "target2");
	EXPECT_FAILS(ESTALE, rename(at(f, self->dir, "alias02"),
				    at(g, self->dir, "other")));
	expect_content(_metadata, at(b, self->backing, "alias02"), "a");
	expect_content(_metadata, at(b, self->backing, "target2"), "t");
	expect_enoent(_metadata, at(b, self->backing, "other"));

	/* A pre-filter errno */
	reset(self->bss);
	self->bss->pre_op = FUSE_RENAME2;
	self->bss->pre_ret = -PRE_ERRNO;
	EXPECT_FAILS(PRE_ERRNO, rename(f, g));
	expect_content(_metadata, at(b, self->backing, "alias02"), "a");
	EXPECT_ONLY_INIT();
}

/*
 * GETATTR: the post-filter rewrites what stat() reports, not the file
 * type; the inode keeps the backing attributes.
 */
TEST_F(filter, getattr_post_rewrite)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st, bst;

	make_file(_metadata, at(b, self->backing, "file"), 0644, "data");
	ASSERT_EQ(0, stat(b, &bst));
	at(f, self->dir, "file");

	self->bss->post_op = FUSE_GETATTR;
	self->bss->match_ino = bst.st_ino;
	self->bss->attr_set_size = 1;
	self->bss->attr_size = 12345;
	self->bss->attr_set_uid = 1;
	self->bss->attr_uid = 4242;
	ASSERT_EQ(0, stat(f, &st)) TH_LOG("stat: %s", strerror(errno));
	EXPECT_EQ(12345, st.st_size);
	EXPECT_EQ(4242, st.st_uid);
	EXPECT_EQ(bst.st_ino, st.st_ino);
	EXPECT_EQ(bst.st_mode, st.st_mode);
	EXPECT_EQ(bst.st_gid, st.st_gid);
	EXPECT_EQ(bst.st_nlink, st.st_nlink);
	EXPECT_EQ(1, self->bss->rewrites);
	/* Not the backing inode, nor what the FUSE inode serves */
	expect_content(_metadata, f, "data");
	ASSERT_EQ(0, stat(b, &st));
	EXPECT_EQ(4, st.st_size);
	EXPECT_EQ(0, st.st_uid);

	/* Another file type */
	reset(self->bss);
	self->bss->post_op = FUSE_GETATTR;
	self->bss->match_ino = bst.st_ino;
	self->bss->attr_mode_xor = S_IFREG ^ S_IFDIR;
	EXPECT_FAILS(EINVAL, stat(f, &st));
	EXPECT_EQ(1, self->bss->rewrites);

	/* Errnos, CONTINUE */
	reset(self->bss);
	self->bss->pre_op = FUSE_GETATTR;
	self->bss->pre_ret = -PRE_ERRNO;
	EXPECT_FAILS(PRE_ERRNO, stat(f, &st));
	reset(self->bss);
	self->bss->post_op = FUSE_GETATTR;
	self->bss->post_ret = -POST_ERRNO;
	self->bss->post_error_in = 1;
	EXPECT_FAILS(POST_ERRNO, stat(f, &st));
	EXPECT_EQ(0, self->bss->post_error_in);
	reset(self->bss);
	self->bss->post_op = FUSE_GETATTR;
	expect_same_stat(_metadata, f, b);
	EXPECT_LE(1, self->bss->post_count);
	EXPECT_ONLY_INIT();
}

/* STATFS: the post-filter rewrites what statfs() reports */
TEST_F(filter, statfs_post_rewrite)
{
	struct statfs sfs, bsfs;

	ASSERT_EQ(0, statfs(self->backing, &bsfs));
	self->bss->post_op = FUSE_STATFS;
	self->bss->statfs_set_blocks = 1;
	self->bss->statfs_blocks = 424242;
	self->bss->post_error_in = 1;
	ASSERT_EQ(0, statfs(self->dir, &sfs)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(424242, sfs.f_blocks);
	EXPECT_EQ(bsfs.f_bsize, sfs.f_bsize);
	EXPECT_EQ(bsfs.f_namelen, sfs.f_namelen);
	EXPECT_EQ(bsfs.f_files, sfs.f_files);
	EXPECT_EQ(FUSE_SUPER_MAGIC, sfs.f_type);
	EXPECT_EQ(0, self->bss->post_error_in);
	EXPECT_EQ(1, self->bss->rewrites);

	reset(self->bss);
	self->bss->pre_op = FUSE_STATFS;
	self->bss->pre_ret = -PRE_ERRNO;
	EXPECT_FAILS(PRE_ERRNO, statfs(self->dir, &sfs));
	reset(self->bss);
	self->bss->post_op = FUSE_STATFS;
	self->bss->post_ret = -POST_ERRNO;
	EXPECT_FAILS(POST_ERRNO, statfs(self->dir, &sfs));
	reset(self->bss);
	self->bss->post_op = FUSE_STATFS;
	ASSERT_EQ(0, statfs(self->dir, &sfs));
	EXPECT_EQ(bsfs.f_blocks, sfs.f_blocks);
	EXPECT_EQ(1, self->bss->post_count);
	EXPECT_ONLY_INIT();
}

/*
 * SETATTR: the pre-filter changes the values of what is set, not what is
 * set.
 */
TEST_F(filter, setattr_rewrite)
{
	static const char data[] = "0123456789abcdefghijklmnopqrstuv";
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	make_file(_metadata, at(b, self->backing, "file"), 0600, data);
	at(f, self->dir, "file");

	self->bss->sa_set_size = 1;
	self->bss->sa_size = 20;
	ASSERT_EQ(0, truncate(f, 10)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(1, self->bss->rewrites);
	ASSERT_EQ(0, stat(b, &st));
	EXPECT_EQ(20, st.st_size);
	expect_content(_metadata, b, "0123456789abcdefghij");
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(20, st.st_size);

	/* A negative size */
	self->bss->sa_size = -1ULL;
	EXPECT_FAILS(EINVAL, truncate(f, 5));
	ASSERT_EQ(0, stat(b, &st));
	EXPECT_EQ(20, st.st_size);

	reset(self->bss);
	self->bss->sa_set_mode = 1;
	self->bss->sa_mode = 0640;
	ASSERT_EQ(0, chmod(f, 0604)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, stat(b, &st));
	EXPECT_EQ(S_IFREG | 0640, st.st_mode);
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(S_IFREG | 0640, st.st_mode);

	/* What is set may not change */
	reset(self->bss);
	self->bss->sa_valid_xor = FATTR_ATIME;
	EXPECT_FAILS(EINVAL, chmod(f, 0600));
	EXPECT_EQ(1, self->bss->rewrites);
	ASSERT_EQ(0, stat(b, &st));
	EXPECT_EQ(S_IFREG | 0640, st.st_mode);

	/* Errnos, CONTINUE */
	reset(self->bss);
	self->bss->pre_op = FUSE_SETATTR;
	self->bss->pre_ret = -PRE_ERRNO;
	EXPECT_FAILS(PRE_ERRNO, chmod(f, 0600));
	ASSERT_EQ(0, stat(b, &st));
	EXPECT_EQ(S_IFREG | 0640, st.st_mode);
	reset(self->bss);
	self->bss->post_op = FUSE_SETATTR;
	self->bss->post_ret = -POST_ERRNO;
	EXPECT_FAILS(POST_ERRNO, chmod(f, 0600));
	ASSERT_EQ(0, stat(b, &st));
	EXPECT_EQ(S_IFREG | 0600, st.st_mode);
	reset(self->bss);
	self->bss->post_op = FUSE_SETATTR;
	ASSERT_EQ(0, chmod(f, 0644));
	EXPECT_EQ(1, self->bss->post_count);
	ASSERT_EQ(0, stat(b, &st));
	EXPECT_EQ(S_IFREG | 0644, st.st_mode);
	EXPECT_ONLY_INIT();
}

static int do_chmod(const char *path, const void *arg)
{
	return chmod(path, *(const mode_t *)arg);
}

static int do_chown(const char *path, const void *arg)
{
	return chown(path, *(const uid_t *)arg, -1);
}

/*
 * SETATTR: the caller is checked again on the values the program gave:
 * the owner may have its chmod rewritten, not its chown to itself turned
 * into a chown to root, which root may do.
 */
TEST_F(filter, setattr_rewrite_cannot_widen)
{
	static const struct test_user user = {
		.uid = TEST_UID, .gid = TEST_UID,
	};
	const mode_t mode = 0600;
	const uid_t uid = TEST_UID;
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	make_file(_metadata, at(b, self->backing, "file"), 0644, "x");
	ASSERT_EQ(0, chown(b, TEST_UID, TEST_UID));
	at(f, self->dir, "file");

	self->bss->sa_set_mode = 1;
	self->bss->sa_mode = 0640;
	EXPECT_EQ(0, run_as_user(&user, do_chmod, f, &mode));
	ASSERT_EQ(0, stat(b, &st));
	EXPECT_EQ(S_IFREG | 0640, st.st_mode);
	EXPECT_EQ(1, self->bss->rewrites);

	reset(self->bss);
	self->bss->sa_set_uid = 1;
	self->bss->sa_uid = 0;
	EXPECT_EQ(EPERM, run_as_user(&user, do_chown, f, &uid));
	EXPECT_EQ(1, self->bss->rewrites);
	ASSERT_EQ(0, stat(b, &st));
	EXPECT_EQ(TEST_UID, st.st_uid);
	/* Without the rewrite, it may */
	reset(self->bss);
	EXPECT_EQ(0, run_as_user(&user, do_chown, f, &uid));

	/* Root may */
	self->bss->sa_set_uid = 1;
	self->bss->sa_uid = 0;
	EXPECT_EQ(0, chown(f, TEST_UID, -1)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, stat(b, &st));
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(TEST_UID, st.st_gid);
	EXPECT_ONLY_INIT();
}

/*
 * READ: the pre-filter moves it or shortens it, the post-filter shortens
 * what read(2) got; nothing longer, nor a splice.
 */
TEST_F(filter, read_rewrite)
{
	char b[PATH_MAX], f[PATH_MAX], buf[64];
	off_t off = 0;
	int fd, pfd[2];

	make_file(_metadata, at(b, self->backing, "data"),
		  0644, "0123456789abcdefghij");
	fd = open(at(f, self->dir, "data"), O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));

	self->bss->io_op = FUSE_READ;
	self->bss->io_set_offset = 1;
	self->bss->io_offset = 10;
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(5, pread(fd, buf, 5, 0));
	EXPECT_STREQ("abcde", buf);
	EXPECT_EQ(1, self->bss->rewrites);
	/* Not a position */
	self->bss->io_offset = -1ULL;
	EXPECT_FAILS(EINVAL, pread(fd, buf, 5, 0));

	reset(self->bss);
	self->bss->io_op = FUSE_READ;
	self->bss->io_set_size = 1;
	self->bss->io_size = 3;
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(3, pread(fd, buf, 10, 0));
	EXPECT_STREQ("012", buf);
	/* Not longer than the caller's */
	self->bss->io_size = 11;
	EXPECT_FAILS(EINVAL, pread(fd, buf, 10, 0));

	/* The post-filter: a short read, the file position follows */
	reset(self->bss);
	self->bss->post_op = FUSE_READ;
	self->bss->out_set_size = 1;
	self->bss->out_size = 4;
	/* The bytes past the new end were copied all the same */
	EXPECT_EQ(4, read(fd, buf, 10));
	EXPECT_EQ(0, memcmp(buf, "0123", 4));
	EXPECT_EQ(1, self->bss->rewrites);
	EXPECT_EQ(4, lseek(fd, 0, SEEK_CUR));
	self->bss->out_size = 11;
	EXPECT_FAILS(EINVAL, pread(fd, buf, 10, 0));
	/* The data went into the pipe already */
	self->bss->out_size = 2;
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	EXPECT_FAILS(EINVAL, sendfile(pfd[1], fd, &off, 10));
	EXPECT_EQ(0, close(pfd[0]));
	EXPECT_EQ(0, close(pfd[1]));

	/* Errnos, CONTINUE */
	reset(self->bss);
	self->bss->pre_op = FUSE_READ;
	self->bss->pre_ret = -PRE_ERRNO;
	EXPECT_FAILS(PRE_ERRNO, pread(fd, buf, 10, 0));
	reset(self->bss);
	self->bss->post_op = FUSE_READ;
	self->bss->post_ret = -POST_ERRNO;
	EXPECT_FAILS(POST_ERRNO, pread(fd, buf, 10, 0));
	reset(self->bss);
	self->bss->post_op = FUSE_READ;
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(10, pread(fd, buf, 10, 10));
	EXPECT_STREQ("abcdefghij", buf);
	EXPECT_EQ(1, self->bss->post_count);
	EXPECT_EQ(0, close(fd));
	EXPECT_ONLY_INIT();
}

/*
 * WRITE: the pre-filter moves it or shortens it; the post-filter cannot
 * rewrite its result.
 */
TEST_F(filter, write_rewrite)
{
	char b[PATH_MAX], f[PATH_MAX];
	int fd;

	make_file(_metadata, at(b, self->backing, "data"), 0644, "0123456789");
	fd = open(at(f, self->dir, "data"), O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));

	self->bss->io_op = FUSE_WRITE;
	self->bss->io_set_offset = 1;
	self->bss->io_offset = 5;
	EXPECT_EQ(3, pwrite(fd, "XYZ", 3, 0));
	expect_content(_metadata, b, "01234XYZ89");
	EXPECT_EQ(1, self->bss->rewrites);

	reset(self->bss);
	self->bss->io_op = FUSE_WRITE;
	self->bss->io_set_size = 1;
	self->bss->io_size = 1;
	EXPECT_EQ(1, pwrite(fd, "abc", 3, 0));
	expect_content(_metadata, b, "a1234XYZ89");
	self->bss->io_size = 4;
	EXPECT_FAILS(EINVAL, pwrite(fd, "abc", 3, 0));
	expect_content(_metadata, b, "a1234XYZ89");

	/* Written all the same */
	reset(self->bss);
	self->bss->post_op = FUSE_WRITE;
	self->bss->touch_out = 1;
	EXPECT_FAILS(EINVAL, pwrite(fd, "Q", 1, 9));
	EXPECT_EQ(1, self->bss->rewrites);
	expect_content(_metadata, b, "a1234XYZ8Q");

	/* Errnos, CONTINUE */
	reset(self->bss);
	self->bss->pre_op = FUSE_WRITE;
	self->bss->pre_ret = -PRE_ERRNO;
	EXPECT_FAILS(PRE_ERRNO, pwrite(fd, "R", 1, 0));
	expect_content(_metadata, b, "a1234XYZ8Q");
	reset(self->bss);
	self->bss->post_op = FUSE_WRITE;
	self->bss->post_ret = -POST_ERRNO;
	EXPECT_FAILS(POST_ERRNO, pwrite(fd, "S", 1, 0));
	expect_content(_metadata, b, "S1234XYZ8Q");
	reset(self->bss);
	self->bss->post_op = FUSE_WRITE;
	EXPECT_EQ(1, pwrite(fd, "T", 1, 1));
	expect_content(_metadata, b, "ST234XYZ8Q");
	EXPECT_EQ(0, close(fd));
	EXPECT_ONLY_INIT();
}

/* LSEEK, FALLOCATE and FSYNC: the pre-filter rewrites their requests */
TEST_F(filter, seek_fallocate_fsync_rewrite)
{
	char b[PATH_MAX], f[PATH_MAX], buf[16];
	struct stat st;
	int fd;

	make_file(_metadata, at(b, self->backing, "data"), 0644, "0123456789");
	fd = open(at(f, self->dir, "data"), O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));

	self->bss->io_op = FUSE_LSEEK;
	self->bss->io_set_offset = 1;
	self->bss->io_offset = 7;
	EXPECT_EQ(7, lseek(fd, 0, SEEK_SET));
	EXPECT_EQ(1, self->bss->rewrites);
	reset(self->bss);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(3, read(fd, buf, sizeof(buf)));
	EXPECT_STREQ("789", buf);
	self->bss->io_op = FUSE_LSEEK;
	self->bss->io_set_mode = 1;
	self->bss->io_mode = SEEK_END;
	EXPECT_EQ(10, lseek(fd, 0, SEEK_SET));
	/* Not a whence */
	self->bss->io_mode = SEEK_HOLE + 1;
	EXPECT_FAILS(EINVAL, lseek(fd, 2, SEEK_SET));
	reset(self->bss);
	EXPECT_EQ(10, lseek(fd, 0, SEEK_CUR));

	self->bss->io_op = FUSE_FALLOCATE;
	self->bss->io_set_size = 1;
	self->bss->io_size = 8192;
	EXPECT_EQ(0, fallocate(fd, 0, 0, 4096)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, stat(b, &st));
	EXPECT_EQ(8192, st.st_size);
	self->bss->io_set_mode = 1;
	self->bss->io_mode = FALLOC_FL_KEEP_SIZE;
	self->bss->io_size = 16384;
	EXPECT_EQ(0, fallocate(fd, 0, 0, 4096)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, stat(b, &st));
	EXPECT_EQ(8192, st.st_size);
	EXPECT_LE(16384 / 512, st.st_blocks);
	EXPECT_EQ(2, self->bss->rewrites);

	reset(self->bss);
	self->bss->fsync_set = 1;
	self->bss->fsync_flags = FUSE_FSYNC_FDATASYNC;
	EXPECT_EQ(0, fsync(fd));
	EXPECT_EQ(1, self->bss->rewrites);
	self->bss->fsync_flags = 0;
	EXPECT_EQ(0, fdatasync(fd));
	self->bss->fsync_flags = FUSE_FSYNC_FDATASYNC << 1;
	EXPECT_FAILS(EINVAL, fsync(fd));
	EXPECT_EQ(0, close(fd));
	EXPECT_ONLY_INIT();
}

/*
 * OPEN: the pre-filter may add or clear O_SYNC for the backing file; the
 * FUSE file keeps the caller's flags. Nothing else.
 */
TEST_F(filter, open_rewrite)
{
	char b[PATH_MAX], f[PATH_MAX];
	int fd, fl;

	make_file(_metadata, at(b, self->backing, "data"), 0644, "x");
	at(f, self->dir, "data");

	self->bss->open_xor = O_SYNC;
	fd = open(f, O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	EXPECT_EQ(1, self->bss->rewrites);
	fl = fcntl(fd, F_GETFL);
	EXPECT_EQ(0, fl & O_DSYNC);
	EXPECT_EQ(O_RDWR, fl & O_ACCMODE);
	EXPECT_EQ(1, pwrite(fd, "y", 1, 0));
	EXPECT_EQ(0, close(fd));
	expect_content(_metadata, b, "y");
	fd = open(f, O_RDONLY | O_SYNC);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	EXPECT_EQ(O_SYNC, fcntl(fd, F_GETFL) & O_SYNC);
	EXPECT_EQ(0, close(fd));

	/* Another access mode, another flag */
	self->bss->open_xor = O_RDWR;
	EXPECT_FAILS(EINVAL, open(f, O_RDONLY));
	self->bss->open_xor = O_APPEND;
	EXPECT_FAILS(EINVAL, open(f, O_WRONLY));

	/* Errnos, CONTINUE */
	reset(self->bss);
	self->bss->pre_op = FUSE_OPEN;
	self->bss->pre_ret = -PRE_ERRNO;
	EXPECT_FAILS(PRE_ERRNO, open(f, O_RDONLY));
	reset(self->bss);
	self->bss->post_op = FUSE_OPEN;
	self->bss->post_ret = -POST_ERRNO;
	EXPECT_FAILS(POST_ERRNO, open(f, O_RDONLY));
	reset(self->bss);
	self->bss->post_op = FUSE_OPEN;
	fd = open(f, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	EXPECT_EQ(1, self->bss->post_count);
	EXPECT_EQ(0, close(fd));
	EXPECT_ONLY_INIT();
}

/* @path has the xattr @name of exactly @len bytes @value */
static void expect_xattr(struct __test_metadata *_metadata, const char *path,
			 const char *name, const void *value, size_t len)
{
	char buf[64];

	ASSERT_EQ(len, getxattr(path, name, buf, sizeof(buf)))
		TH_LOG("%s of %s: %s", name, path, strerror(errno));
	EXPECT_EQ(0, memcmp(value, buf, len)) TH_LOG("%s", name);
}

/* @path has no xattr @name */
static void expect_no_xattr(struct __test_metadata *_metadata,
			    const char *path, const char *name)
{
	char buf[64];

	errno = 0;
	EXPECT_EQ(-1, getxattr(path, name, buf, sizeof(buf))) TH_LOG("%s", name);
	EXPECT_EQ(ENODATA, errno) TH_LOG("%s", name);
}

/* GETXATTR: the name, before; the value, after */
TEST_F(filter, getxattr_rewrite)
{
	char b[PATH_MAX], f[PATH_MAX], buf[64];

	make_file(_metadata, at(b, self->backing, "file"), 0644, "x");
	ASSERT_EQ(0, setxattr(b, "user.t1", "tvalue", 6, 0));
	at(f, self->dir, "file");

	REWRITE_NAMES(self->bss, OPBIT(FUSE_GETXATTR), "user.a1", "user.t1");
	expect_xattr(_metadata, f, "user.a1", "tvalue", 6);
	EXPECT_EQ(6, getxattr(f, "user.a1", NULL, 0));
	expect_no_xattr(_metadata, b, "user.a1");
	EXPECT_EQ(2, self->bss->rewrites);
	/* Out of the caller's namespace */
	REWRITE_NAMES(self->bss, OPBIT(FUSE_GETXATTR), "user.a1", "other.x");
	EXPECT_FAILS(EINVAL, getxattr(f, "user.a1", buf, sizeof(buf)));

	reset(self->bss);
	self->bss->post_op = FUSE_GETXATTR;
	self->bss->xvalue_out = 1;
	memcpy(self->bss->xvalue, "rewrite!", REWRITE_NAME_SIZE);
	expect_xattr(_metadata, f, "user.t1", "rewrite!", 8);
	EXPECT_EQ(1, self->bss->rewrites);
	/* A size is the backing's: another answer would not fit */
	EXPECT_FAILS(EINVAL, getxattr(f, "user.t1", NULL, 0));
	/* Longer than the caller's buffer: the helper refuses */
	self->bss->helper_null = 0;
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(6, getxattr(f, "user.t1", buf, 6));
	EXPECT_STREQ("tvalue", buf);
	EXPECT_EQ(1, self->bss->helper_null);

	/* Errnos, CONTINUE */
	reset(self->bss);
	self->bss->pre_op = FUSE_GETXATTR;
	self->bss->pre_ret = -PRE_ERRNO;
	EXPECT_FAILS(PRE_ERRNO, getxattr(f, "user.t1", buf, sizeof(buf)));
	reset(self->bss);
	self->bss->post_op = FUSE_GETXATTR;
	self->bss->post_ret = -POST_ERRNO;
	EXPECT_FAILS(POST_ERRNO, getxattr(f, "user.t1", buf, sizeof(buf)));
	reset(self->bss);
	self->bss->post_op = FUSE_GETXATTR;
	self->bss->post_error_in = 1;
	expect_xattr(_metadata, f, "user.t1", "tvalue", 6);
	EXPECT_EQ(0, self->bss->post_error_in);
	/* A failure the post-filter sees */
	EXPECT_FAILS(ENODATA, getxattr(f, "user.none", buf, sizeof(buf)));
	EXPECT_EQ(-ENODATA, self->bss->post_error_in);
	EXPECT_ONLY_INIT();
}

/* SETXATTR: name and value; REMOVEXATTR: name */
TEST_F(filter, setxattr_removexattr_rewrite)
{
	char b[PATH_MAX], f[PATH_MAX];

	make_file(_metadata, at(b, self->backing, "file"), 0644, "x");
	at(f, self->dir, "file");

	REWRITE_NAMES(self->bss, OPBIT(FUSE_SETXATTR), "user.a1", "user.t2");
	ASSERT_EQ(0, setxattr(f, "user.a1", "v1", 2, 0))
		TH_LOG("setxattr: %s", strerror(errno));
	expect_xattr(_metadata, b, "user.t2", "v1", 2);
	expect_no_xattr(_metadata, b, "user.a1");
	EXPECT_EQ(1, self->bss->rewrites);

	reset(self->bss);
	self->bss->xvalue_in = 1;
	memcpy(self->bss->xvalue, "newvalue", REWRITE_NAME_SIZE);
	ASSERT_EQ(0, setxattr(f, "user.t3", "v", 1, 0))
		TH_LOG("setxattr: %s", strerror(errno));
	expect_xattr(_metadata, b, "user.t3", "newvalue", 8);
	expect_xattr(_metadata, f, "user.t3", "newvalue", 8);
	EXPECT_EQ(1, self->bss->rewrites);

	reset(self->bss);
	ASSERT_EQ(0, setxattr(b, "user.t1", "gone", 4, 0));
	REWRITE_NAMES(self->bss, OPBIT(FUSE_REMOVEXATTR), "user.a1",
		      "user.t1");
	ASSERT_EQ(0, removexattr(f, "user.a1"))
		TH_LOG("removexattr: %s", strerror(errno));
	expect_no_xattr(_metadata, b, "user.t1");
	EXPECT_EQ(1, self->bss->rewrites);

	/* Errnos */
	reset(self->bss);
	self->bss->pre_op = FUSE_SETXATTR;
	self->bss->pre_ret = -PRE_ERRNO;
	EXPECT_FAILS(PRE_ERRNO, setxattr(f, "user.t4", "v", 1, 0));
	expect_no_xattr(_metadata, b, "user.t4");
	reset(self->bss);
	self->bss->post_op = FUSE_SETXATTR;
	self->bss->post_ret = -POST_ERRNO;
	EXPECT_FAILS(POST_ERRNO, setxattr(f, "user.t4", "v", 1, 0));
	expect_xattr(_metadata, b, "user.t4", "v", 1);
	reset(self->bss);
	self->bss->pre_op = FUSE_REMOVEXATTR;
	self->bss->pre_ret = -PRE_ERRNO;
	EXPECT_FAILS(PRE_ERRNO, removexattr(f, "user.t4"));
	expect_xattr(_metadata, b, "user.t4", "v", 1);
	EXPECT_ONLY_INIT();
}

/* LISTXATTR: the post-filter gives another list */
TEST_F(filter, listxattr_rewrite)
{
	char b[PATH_MAX], f[PATH_MAX], buf[256], bbuf[256];
	ssize_t len;

	make_file(_metadata, at(b, self->backing, "file"), 0644, "x");
	ASSERT_EQ(0, setxattr(b, "user.t1", "v", 1, 0));
	at(f, self->dir, "file");

	self->bss->post_op = FUSE_LISTXATTR;
	self->bss->xvalue_out = 1;
	memcpy(self->bss->xvalue, "user.zz", REWRITE_NAME_SIZE);
	EXPECT_EQ(REWRITE_NAME_SIZE, listxattr(f, buf, sizeof(buf)))
		TH_LOG("listxattr: %s", strerror(errno));
	EXPECT_EQ(0, memcmp(buf, "user.zz", REWRITE_NAME_SIZE));
	EXPECT_EQ(1, self->bss->rewrites);
	/* A size is the backing's */
	EXPECT_FAILS(EINVAL, listxattr(f, NULL, 0));
	/* Not a list of names */
	memcpy(self->bss->xvalue, "user.zzz", REWRITE_NAME_SIZE);
	EXPECT_FAILS(EINVAL, listxattr(f, buf, sizeof(buf)));

	/* Errnos, CONTINUE */
	reset(self->bss);
	self->bss->pre_op = FUSE_LISTXATTR;
	self->bss->pre_ret = -PRE_ERRNO;
	EXPECT_FAILS(PRE_ERRNO, listxattr(f, buf, sizeof(buf)));
	reset(self->bss);
	self->bss->post_op = FUSE_LISTXATTR;
	self->bss->post_ret = -POST_ERRNO;
	EXPECT_FAILS(POST_ERRNO, listxattr(f, buf, sizeof(buf)));
	reset(self->bss);
	self->bss->post_op = FUSE_LISTXATTR;
	len = listxattr(b, bbuf, sizeof(bbuf));
	ASSERT_LE((ssize_t)sizeof("user.t1"), len);
	EXPECT_EQ(len, listxattr(f, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, bbuf, len));
	EXPECT_EQ(1, self->bss->post_count);
	EXPECT_ONLY_INIT();
}

/*
 * Rewrites an operation cannot honour fail it with EINVAL: with
 * BPF_FUSE_USER (the server would get the original request), of an
 * argument it takes as it is (ACCESS), of a result it does not take
 * (LOOKUP's attributes). A copy of a result that changes nothing is no
 * rewrite.
 */
TEST_F(filter, rewrite_not_honoured)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	make_file(_metadata, at(b, self->backing, "target1"), 0644, "1");
	make_file(_metadata, at(b, self->backing, "target2"), 0644, "2");

	REWRITE_NAMES(self->bss, OPBIT(FUSE_LOOKUP), "alias01", "target1");
	self->bss->pre_op = FUSE_LOOKUP;
	self->bss->pre_ret = BPF_FUSE_USER;
	EXPECT_FAILS(EINVAL, stat(at(f, self->dir, "alias01"), &st));
	EXPECT_EQ(1, self->bss->rewrites);

	/* Only the accesses of that mask */
	reset(self->bss);
	self->bss->access_mask = R_OK;
	EXPECT_FAILS(EINVAL, access(at(f, self->dir, "target1"), R_OK));
	EXPECT_EQ(1, self->bss->rewrites);
	EXPECT_EQ(0, access(f, W_OK));
	EXPECT_EQ(1, self->bss->rewrites);

	reset(self->bss);
	self->bss->post_op = FUSE_LOOKUP;
	self->bss->touch_out = 1;
	expect_same_stat(_metadata, at(f, self->dir, "target2"),
			 at(b, self->backing, "target2"));
	EXPECT_EQ(1, self->bss->rewrites);
	/* Revalidated through the program, which now changes the size */
	reset(self->bss);
	self->bss->post_op = FUSE_LOOKUP;
	self->bss->entry_xor_off = offsetof(struct fuse_entry_out, attr.size);
	self->bss->entry_xor = 1;
	EXPECT_FAILS(EINVAL, stat(f, &st));
	EXPECT_EQ(1, self->bss->rewrites);
	reset(self->bss);
	expect_same_stat(_metadata, f, b);
	EXPECT_ONLY_INIT();
}

/*
 * bpf_fuse_get_writeable_in() and _out() give NULL for an index out of
 * range, the value of another argument, a size the argument cannot have,
 * an unknown flag, an out arg in the pre-filter and an in arg in the
 * post-filter: the operation goes on as it was.
 */
TEST_F(filter, helper_refusals)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;
	int i;

	self->bss->probe_op = FUSE_MKDIR;
	self->bss->post_op = FUSE_MKDIR;
	ASSERT_EQ(0, mkdir(at(f, self->dir, "newdir"), 0755))
		TH_LOG("mkdir: %s", strerror(errno));
	ASSERT_EQ(0, stat(at(b, self->backing, "newdir"), &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	for (i = 0; i < PROBE_NR; i++)
		EXPECT_EQ(PROBE_NULL, self->bss->probe[i]) TH_LOG("probe %d", i);

	/* What the program saw */
	EXPECT_EQ(2, self->bss->seen_in_numargs);
	EXPECT_EQ(sizeof(struct fuse_mkdir_in), self->bss->seen_in_size[0]);
	EXPECT_EQ(0, self->bss->seen_in_max[0]);
	EXPECT_EQ(sizeof("newdir"), self->bss->seen_in_size[1]);
	EXPECT_EQ(NAME_MAX + 1, self->bss->seen_in_max[1]);
	EXPECT_EQ(0, self->bss->seen_in_size[2]);
	EXPECT_EQ(0, self->bss->seen_in_max[2]);
	EXPECT_EQ(0, self->bss->rewrites);
	EXPECT_EQ(1, self->bss->post_count);
	EXPECT_ONLY_INIT();
}

/*
 * LOOKUP: the post-filter's entry_valid and entry_valid_nsec are how long
 * its verdict holds: revalidation trusts the entry that long without
 * running the program again. It sees them as 0, which runs the program at
 * every revalidation.
 */
TEST_F(filter, lookup_entry_valid)
{
	char b[PATH_MAX], f[PATH_MAX], b2[PATH_MAX], f2[PATH_MAX];

	make_file(_metadata, at(b, self->backing, "file001"), 0644, "1");
	make_file(_metadata, at(b2, self->backing, "file002"), 0644, "2");
	at(f, self->dir, "file001");
	at(f2, self->dir, "file002");

	/* Counted, not rewritten */
	REWRITE_NAMES(self->bss, OPBIT(FUSE_LOOKUP), "file001", "file001");
	self->bss->name_count = 1;
	self->bss->post_op = FUSE_LOOKUP;
	expect_same_stat(_metadata, f, b);
	EXPECT_EQ(1, self->bss->name_hits);
	EXPECT_EQ(0, self->bss->lookup_entry_valid);
	EXPECT_EQ(0, self->bss->lookup_entry_valid_nsec);
	expect_same_stat(_metadata, f, b);
	EXPECT_EQ(2, self->bss->name_hits);

	/* An hour: the low half of entry_valid, on a little-endian machine */
	REWRITE_NAMES(self->bss, OPBIT(FUSE_LOOKUP), "file002", "file002");
	self->bss->name_hits = 0;
	self->bss->entry_xor_off = offsetof(struct fuse_entry_out, entry_valid);
	self->bss->entry_xor = 3600;
	expect_same_stat(_metadata, f2, b2);
	EXPECT_EQ(1, self->bss->name_hits);
	EXPECT_EQ(1, self->bss->rewrites);
	expect_same_stat(_metadata, f2, b2);
	EXPECT_EQ(1, self->bss->name_hits);
	EXPECT_EQ(1, self->bss->rewrites);

	/* The verdict holds though the program would now fail the name */
	reset(self->bss);
	self->bss->pre_op = FUSE_LOOKUP;
	self->bss->pre_ret = -ENOENT;
	expect_same_stat(_metadata, f2, b2);
	expect_enoent(_metadata, f);
	EXPECT_ONLY_INIT();
}

/*
 * Revalidation runs the program once per use of a name, whether the walk
 * is in RCU mode or has references: a name at each level of a path, and a
 * name the program rewrites, whose entry a walk in RCU mode cannot check.
 */
TEST_F(filter, lookup_revalidate_once)
{
	char b[PATH_MAX], f[PATH_MAX], p[PATH_MAX];
	int i;

	make_file(_metadata, at(b, self->backing, "target1"), 0644, "t");
	REWRITE_NAMES(self->bss, OPBIT(FUSE_LOOKUP), "alias01", "target1");
	at(f, self->dir, "alias01");
	for (i = 1; i <= 3; i++) {
		expect_same_stat(_metadata, f, b);
		EXPECT_EQ(i, self->bss->rewrites);
	}
	/*
	 * Renamed in the backing directory: the rewritten name is gone. The
	 * program sees it at revalidation, then at the lookup that follows.
	 */
	ASSERT_EQ(0, rename(b, at(p, self->backing, "target2")));
	expect_enoent(_metadata, f);
	EXPECT_EQ(5, self->bss->rewrites);

	/* file001/file001/file001: counted, not rewritten */
	ASSERT_EQ(0, mkdir(at(b, self->backing, "file001"), 0755));
	ASSERT_EQ(0, mkdir(strcat(b, "/file001"), 0755));
	make_file(_metadata, strcat(b, "/file001"), 0644, "f");
	reset(self->bss);
	REWRITE_NAMES(self->bss, OPBIT(FUSE_LOOKUP), "file001", "file001");
	self->bss->name_count = 1;
	at(p, self->dir, "file001/file001/file001");
	for (i = 1; i <= 3; i++) {
		expect_same_stat(_metadata, p, b);
		EXPECT_EQ(3 * i, self->bss->name_hits);
	}
	EXPECT_EQ(0, self->bss->rewrites);
	EXPECT_ONLY_INIT();
}

/* 0 if @ret is a success, else the errno of the call that returned it */
static int err_of(long ret)
{
	return ret == -1 ? errno : 0;
}

/*
 * LOOKUP: the post-filter may change how long its verdict holds, no other
 * field of fuse_entry_out (EINVAL)
 */
TEST_F(filter, lookup_post_rewrite_fields)
{
	static const struct {
		const char *name;
		__u32 off;
		int err;
	} fields[] = {
		{ "nodeid", offsetof(struct fuse_entry_out, nodeid), EINVAL },
		{ "generation", offsetof(struct fuse_entry_out, generation),
		  EINVAL },
		{ "entry_valid", offsetof(struct fuse_entry_out, entry_valid),
		  0 },
		{ "entry_valid_nsec",
		  offsetof(struct fuse_entry_out, entry_valid_nsec), 0 },
		{ "attr_valid", offsetof(struct fuse_entry_out, attr_valid),
		  EINVAL },
		{ "attr_valid_nsec",
		  offsetof(struct fuse_entry_out, attr_valid_nsec), EINVAL },
		{ "attr.ino", offsetof(struct fuse_entry_out, attr.ino),
		  EINVAL },
		{ "attr.size", offsetof(struct fuse_entry_out, attr.size),
		  EINVAL },
		{ "attr.mode", offsetof(struct fuse_entry_out, attr.mode),
		  EINVAL },
		{ "attr.uid", offsetof(struct fuse_entry_out, attr.uid),
		  EINVAL },
		{ "attr.flags", offsetof(struct fuse_entry_out, attr.flags),
		  EINVAL },
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st, bst;
	int i;

	for (i = 0; i < ARRAY_SIZE(fields); i++) {
		/* A name of its own: a success leaves its entry cached */
		make_file(_metadata, at(b, self->backing, fields[i].name), 0644,
			  "x");
		ASSERT_EQ(0, stat(b, &bst));
		reset(self->bss);
		self->bss->post_op = FUSE_LOOKUP;
		self->bss->entry_xor_off = fields[i].off;
		self->bss->entry_xor = 1;
		EXPECT_EQ(fields[i].err,
			  err_of(stat(at(f, self->dir, fields[i].name), &st)))
			TH_LOG("%s", fields[i].name);
		if (!fields[i].err)
			EXPECT_EQ(bst.st_ino, st.st_ino);
		EXPECT_EQ(1, self->bss->rewrites) TH_LOG("%s", fields[i].name);
	}
	EXPECT_ONLY_INIT();
}

/*
 * The five cases of an operation, as steer() sets the program for them:
 * each runs the operation once, on a program that forgot what it saw.
 */
enum {
	CASE_PRE_ERRNO,		/* the pre-filter returns -PRE_ERRNO */
	CASE_PRE_REWRITE,	/* it XORs 1 into the struct of in arg 0 */
	CASE_POST_REWRITE,	/* the post-filter copies out arg 0 */
	CASE_POST_ERRNO,	/* it returns -POST_ERRNO */
	CASE_CONTINUE,		/* it returns BPF_FUSE_CONTINUE */
	CASE_NR,
};

static const char * const case_names[CASE_NR] = {
	"pre-filter errno", "pre-filter rewrite", "post-filter rewrite",
	"post-filter errno", "continue",
};

/* The program does case @c to the operation @op, and watches it */
static void steer(struct fuse_rewrite__bss *bss, __u32 op, int c)
{
	reset(bss);
	bss->watch_op = op;
	switch (c) {
	case CASE_PRE_ERRNO:
		bss->pre_op = op;
		bss->pre_ret = -PRE_ERRNO;
		break;
	case CASE_PRE_REWRITE:
		bss->touch_in_op = op;
		bss->touch_in_xor = 1;
		break;
	case CASE_POST_REWRITE:
		bss->post_op = op;
		bss->touch_out = 1;
		break;
	case CASE_POST_ERRNO:
		bss->post_op = op;
		bss->post_ret = -POST_ERRNO;
		break;
	case CASE_CONTINUE:
		bss->post_op = op;
		break;
	}
}

/* An operation, and what its five cases give */
struct op_cases {
	const char *name;
	__u32 op;
	/* Its in arg 0 is a struct; it has an out arg 0 */
	bool in_arg;
	bool out_arg;
	/* The errno of each case, 0 for a success */
	int err[CASE_NR];
	/*
	 * Run the operation once, in case @c: its errno, or 0. It checks
	 * what it did to the backing, and runs no other operation of that
	 * opcode.
	 */
	int (*call)(struct __test_metadata *_metadata,
		    struct _test_data_filter *self, int c, void *ctx);
};

/*
 * The five cases of @oc, with @ctx for its calls: the errno of each, and
 * what the program saw. It sees the operation once; the post-filter
 * sees its result, and the out args of a success: the errno of
 * CASE_CONTINUE is that of the operation itself. A rewrite of an argument
 * the operation has counts in rewrites, one of an argument it does not
 * have in helper_null: the helper refuses it.
 */
static void run_cases(struct __test_metadata *_metadata,
		      struct _test_data_filter *self, const struct op_cases *oc,
		      void *ctx)
{
	struct fuse_rewrite__bss *bss = self->bss;
	int res = oc->err[CASE_CONTINUE];
	bool post, touched, has_arg;
	char what[64];
	int c;

	for (c = 0; c < CASE_NR; c++) {
		snprintf(what, sizeof(what), "%s, %s", oc->name, case_names[c]);
		steer(bss, oc->op, c);
		EXPECT_EQ(oc->err[c], oc->call(_metadata, self, c, ctx))
			TH_LOG("%s", what);
		post = c >= CASE_POST_REWRITE;
		touched = c == CASE_PRE_REWRITE ||
			  (c == CASE_POST_REWRITE && !res);
		has_arg = c == CASE_PRE_REWRITE ? oc->in_arg : oc->out_arg;
		EXPECT_EQ(1, bss->watch_count) TH_LOG("%s", what);
		EXPECT_EQ(post, bss->post_count) TH_LOG("%s", what);
		EXPECT_EQ(post ? -res : 0, bss->post_error_in)
			TH_LOG("%s", what);
		EXPECT_EQ(touched && has_arg, bss->rewrites) TH_LOG("%s", what);
		EXPECT_EQ(touched && !has_arg, bss->helper_null)
			TH_LOG("%s", what);
	}
	reset(bss);
}

/* The file of the O_PATH descriptor *@ctx, checked for R_OK */
static int call_access(struct __test_metadata *_metadata,
		       struct _test_data_filter *self, int c, void *ctx)
{
	int ret;

	/* No walk: the one permission check is this one */
	ret = err_of(faccessat(*(int *)ctx, "", R_OK, AT_EMPTY_PATH));
	EXPECT_EQ(R_OK, self->bss->watch_in[0]);
	return ret;
}

/*
 * ACCESS honours no rewrite, and has no result but its errno. The checks
 * the caller fails are made before the program runs.
 */
TEST_F(filter, access_cases)
{
	static const struct op_cases oc = {
		.name = "access", .op = FUSE_ACCESS, .in_arg = true,
		.err = { PRE_ERRNO, EINVAL, 0, POST_ERRNO, 0 },
		.call = call_access,
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;
	int fd;

	make_file(_metadata, at(b, self->backing, "file"), 0644, "x");
	fd = open(at(f, self->dir, "file"), O_PATH);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	run_cases(_metadata, self, &oc, &fd);
	EXPECT_EQ(0, access(b, R_OK));

	self->bss->post_op = FUSE_ACCESS;
	EXPECT_FAILS(EACCES, faccessat(fd, "", X_OK, AT_EMPTY_PATH));
	EXPECT_FAILS(EACCES, access(b, X_OK));
	EXPECT_EQ(0, self->bss->post_count);
	/* The walk's checks are ACCESS too */
	reset(self->bss);
	self->bss->pre_op = FUSE_ACCESS;
	self->bss->pre_ret = -PRE_ERRNO;
	EXPECT_FAILS(PRE_ERRNO, stat(f, &st));
	reset(self->bss);
	EXPECT_EQ(0, close(fd));
	EXPECT_ONLY_INIT();
}

/* 0 if no other file of @path's inode is open, -EAGAIN if one is */
static int write_lease(const char *path)
{
	int fd, ret;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	ret = fcntl(fd, F_SETLEASE, F_WRLCK) ? -errno : 0;
	if (!ret && fcntl(fd, F_SETLEASE, F_UNLCK))
		ret = -errno;
	close(fd);
	return ret;
}

/* A FUSE file or directory to open with @flags, and its backing */
struct close_ctx {
	const char *path;
	const char *backing;
	int flags;
};

/*
 * Open and close @ctx: the errno of close(), which is FLUSH's (a directory
 * has none). The backing file of a regular file is open as long as the
 * FUSE file, and released once close() returned, whatever the program
 * did: the release cannot fail.
 */
static int call_close(struct __test_metadata *_metadata,
		      struct _test_data_filter *self, int c, void *ctx)
{
	const struct close_ctx *cc = ctx;
	bool dir = cc->flags & O_DIRECTORY;
	int fd, fl, ret;

	fd = open(cc->path, cc->flags);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", cc->path, strerror(errno));
	fl = fcntl(fd, F_GETFL);
	if (!dir)
		EXPECT_EQ(-EAGAIN, write_lease(cc->backing));
	ret = err_of(close(fd));
	if (!dir)
		EXPECT_EQ(0, write_lease(cc->backing));
	/* fuse_release_in.flags */
	if (self->bss->watch_op != FUSE_FLUSH)
		EXPECT_EQ(fl, self->bss->watch_in[2]);
	return ret;
}

/*
 * FLUSH honours no rewrite; its errno is close()'s. RELEASE and
 * RELEASEDIR cannot fail: whatever the program returns or rewrites,
 * close() succeeds, the program saw the release once (with the file's
 * flags), the backing file of a regular file is closed after it, and the
 * directory opens and reads again.
 */
TEST_F(filter, flush_release_cases)
{
	static const struct op_cases flush = {
		.name = "flush", .op = FUSE_FLUSH, .in_arg = true,
		.err = { PRE_ERRNO, EINVAL, 0, POST_ERRNO, 0 },
		.call = call_close,
	}, release = {
		.name = "release", .op = FUSE_RELEASE, .in_arg = true,
		.call = call_close,
	}, releasedir = {
		.name = "releasedir", .op = FUSE_RELEASEDIR, .in_arg = true,
		.call = call_close,
	};
	char b[PATH_MAX], f[PATH_MAX], bdir[PATH_MAX], fdir[PATH_MAX];
	struct close_ctx file = { f, b, O_RDWR };
	struct close_ctx dir = { fdir, bdir, O_RDONLY | O_DIRECTORY };
	struct dirent_rec recs[4];

	make_file(_metadata, at(b, self->backing, "file"), 0644, "x");
	ASSERT_EQ(0, mkdir(at(bdir, self->backing, "dir"), 0755));
	at(f, self->dir, "file");
	at(fdir, self->dir, "dir");
	run_cases(_metadata, self, &flush, &file);
	run_cases(_metadata, self, &release, &file);
	run_cases(_metadata, self, &releasedir, &dir);
	/* ".." and "." */
	EXPECT_EQ(2, read_dir_raw(fdir, recs, ARRAY_SIZE(recs)));
	expect_content(_metadata, f, "x");
	EXPECT_ONLY_INIT();
}

/* A FUSE file and its backing file, open read-only */
struct ioctl_ctx {
	int fd;
	int bfd;
};

/* FS_IOC_GETVERSION: ext4 serves it, a backed file does not */
static int call_ioctl(struct __test_metadata *_metadata,
		      struct _test_data_filter *self, int c, void *ctx)
{
	const struct ioctl_ctx *ic = ctx;
	long ver;
	int ret;

	ret = err_of(ioctl(ic->fd, FS_IOC_GETVERSION, &ver));
	/* fuse_ioctl_in.cmd */
	EXPECT_EQ((__u32)FS_IOC_GETVERSION, self->bss->watch_in[3]);
	return ret;
}

/* FS_IOC_GETFLAGS gives the backing inode's flags */
static int call_getflags(struct __test_metadata *_metadata,
			 struct _test_data_filter *self, int c, void *ctx)
{
	const struct ioctl_ctx *ic = ctx;
	int flags = -1, bflags, ret;

	ret = err_of(ioctl(ic->fd, FS_IOC_GETFLAGS, &flags));
	ASSERT_EQ(0, ioctl(ic->bfd, FS_IOC_GETFLAGS, &bflags));
	EXPECT_EQ(ret ? -1 : bflags, flags);
	return ret;
}

/*
 * FS_IOC_SETFLAGS toggles FS_NODUMP_FL on the backing inode, unless the
 * pre-filter fails it
 */
static int call_setflags(struct __test_metadata *_metadata,
			 struct _test_data_filter *self, int c, void *ctx)
{
	const struct ioctl_ctx *ic = ctx;
	int flags, bflags, ret;

	ASSERT_EQ(0, ioctl(ic->bfd, FS_IOC_GETFLAGS, &bflags));
	flags = bflags ^ FS_NODUMP_FL;
	ret = err_of(ioctl(ic->fd, FS_IOC_SETFLAGS, &flags));
	ASSERT_EQ(0, ioctl(ic->bfd, FS_IOC_GETFLAGS, &bflags));
	EXPECT_EQ(c == CASE_PRE_ERRNO ? flags ^ FS_NODUMP_FL : flags, bflags);
	return ret;
}

/*
 * IOCTL: a backed file serves no ioctl (ENOTTY), nor takes a rewrite;
 * its post-filter sees the failure, and may replace its errno.
 * FUSE_BPF_FILEATTR_GET and _SET, of the inode flag ioctls, have no
 * argument to rewrite.
 */
TEST_F(filter, ioctl_fileattr_cases)
{
	static const struct op_cases ioctl_cases = {
		.name = "ioctl", .op = FUSE_IOCTL, .in_arg = true,
		.err = { PRE_ERRNO, EINVAL, ENOTTY, POST_ERRNO, ENOTTY },
		.call = call_ioctl,
	}, get = {
		.name = "fileattr_get", .op = FUSE_BPF_FILEATTR_GET,
		.err = { PRE_ERRNO, 0, 0, POST_ERRNO, 0 },
		.call = call_getflags,
	}, set = {
		.name = "fileattr_set", .op = FUSE_BPF_FILEATTR_SET,
		.err = { PRE_ERRNO, 0, 0, POST_ERRNO, 0 },
		.call = call_setflags,
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct fsxattr fsx, bfsx;
	struct ioctl_ctx ic;
	long ver;

	make_file(_metadata, at(b, self->backing, "file"), 0644, "x");
	ic.fd = open(at(f, self->dir, "file"), O_RDONLY);
	ASSERT_LE(0, ic.fd) TH_LOG("open: %s", strerror(errno));
	ic.bfd = open(b, O_RDONLY);
	ASSERT_LE(0, ic.bfd);
	EXPECT_EQ(0, ioctl(ic.bfd, FS_IOC_GETVERSION, &ver));
	run_cases(_metadata, self, &ioctl_cases, &ic);
	run_cases(_metadata, self, &get, &ic);
	run_cases(_metadata, self, &set, &ic);

	/* FS_IOC_FSGETXATTR is FILEATTR_GET too */
	ASSERT_EQ(0, ioctl(ic.bfd, FS_IOC_FSGETXATTR, &bfsx));
	ASSERT_EQ(0, ioctl(ic.fd, FS_IOC_FSGETXATTR, &fsx))
		TH_LOG("FS_IOC_FSGETXATTR: %s", strerror(errno));
	EXPECT_EQ(bfsx.fsx_xflags, fsx.fsx_xflags);
	self->bss->pre_op = FUSE_BPF_FILEATTR_GET;
	self->bss->pre_ret = -PRE_ERRNO;
	EXPECT_FAILS(PRE_ERRNO, ioctl(ic.fd, FS_IOC_FSGETXATTR, &fsx));
	reset(self->bss);
	EXPECT_EQ(0, close(ic.bfd));
	EXPECT_EQ(0, close(ic.fd));
	EXPECT_ONLY_INIT();
}

/* Two FUSE files, and a backing file of the second, open for writing */
struct copy_ctx {
	int in;
	int out;
	int bout;
	const char *bpath;
	/* The backing of out after the copy, as copied on the backing */
	const char *copied;
};

/*
 * copy_file_range() of 4 bytes from offset 2 of in to offset 5 of out,
 * whose backing is "abcdefghij" before it: copied unless the pre-filter
 * failed it, the offsets moved on success only
 */
static int call_copy(struct __test_metadata *_metadata,
		     struct _test_data_filter *self, int c, void *ctx)
{
	const struct copy_ctx *cc = ctx;
	loff_t off_in = 2, off_out = 5;
	ssize_t n;
	int ret;

	ASSERT_EQ(10, pwrite(cc->bout, "abcdefghij", 10, 0));
	n = copy_file_range(cc->in, &off_in, cc->out, &off_out, 4, 0);
	ret = err_of(n);
	EXPECT_EQ(ret ? -1 : 4, n);
	EXPECT_EQ(ret ? 2 : 6, off_in);
	EXPECT_EQ(ret ? 5 : 9, off_out);
	expect_content(_metadata, cc->bpath,
		       c < CASE_POST_REWRITE ? "abcdefghij" : cc->copied);
	/* fuse_copy_file_range_in.off_in */
	EXPECT_EQ(2, self->bss->watch_in[2]);
	return ret;
}

/*
 * COPY_FILE_RANGE, seen by the program of the destination, honours no
 * rewrite, before or after: it copies as on the backing files, whose
 * result the post-filter may fail.
 */
TEST_F(filter, copy_file_range_cases)
{
	static const struct op_cases oc = {
		.name = "copy_file_range", .op = FUSE_COPY_FILE_RANGE,
		.in_arg = true, .out_arg = true,
		.err = { PRE_ERRNO, EINVAL, EINVAL, POST_ERRNO, 0 },
		.call = call_copy,
	};
	char b[PATH_MAX], f[PATH_MAX], g[PATH_MAX], copied[64];
	loff_t off_in = 2, off_out = 5;
	struct copy_ctx cc;
	int bin, bref;

	make_file(_metadata, at(b, self->backing, "src"), 0644, "0123456789");
	make_file(_metadata, at(b, self->backing, "ref"), 0644, "abcdefghij");
	/* The copy on the backing files */
	bin = open(at(b, self->backing, "src"), O_RDONLY);
	ASSERT_LE(0, bin);
	bref = open(at(b, self->backing, "ref"), O_WRONLY);
	ASSERT_LE(0, bref);
	ASSERT_EQ(4, copy_file_range(bin, &off_in, bref, &off_out, 4, 0));
	ASSERT_EQ(0, close(bin));
	ASSERT_EQ(0, close(bref));
	ASSERT_EQ(10, read_all(b, copied, sizeof(copied)));
	EXPECT_STREQ("abcde2345j", copied);

	make_file(_metadata, at(b, self->backing, "dst"), 0644, "abcdefghij");
	cc.bpath = b;
	cc.copied = copied;
	cc.bout = open(b, O_WRONLY);
	ASSERT_LE(0, cc.bout);
	cc.in = open(at(f, self->dir, "src"), O_RDONLY);
	ASSERT_LE(0, cc.in) TH_LOG("open: %s", strerror(errno));
	cc.out = open(at(g, self->dir, "dst"), O_WRONLY);
	ASSERT_LE(0, cc.out) TH_LOG("open: %s", strerror(errno));
	run_cases(_metadata, self, &oc, &cc);
	EXPECT_EQ(0, close(cc.in));
	EXPECT_EQ(0, close(cc.out));
	EXPECT_EQ(0, close(cc.bout));
	EXPECT_ONLY_INIT();
}

/*
 * An O_TMPFILE file in the root, written; linked as "named" in the case
 * that keeps the result, which is then the backing's
 */
static int call_tmpfile(struct __test_metadata *_metadata,
			struct _test_data_filter *self, int c, void *ctx)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;
	int fd;

	fd = open(self->dir, O_TMPFILE | O_RDWR, 0600);
	if (fd < 0)
		return errno;
	EXPECT_EQ(3, write(fd, "tmp", 3));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(S_IFREG | 0600, st.st_mode);
	EXPECT_EQ(0, st.st_nlink);
	if (c == CASE_CONTINUE) {
		ASSERT_EQ(0, linkat(fd, "", AT_FDCWD,
				    at(f, self->dir, "named"), AT_EMPTY_PATH))
			TH_LOG("linkat: %s", strerror(errno));
		expect_content(_metadata, at(b, self->backing, "named"), "tmp");
		expect_same_stat(_metadata, f, b);
	}
	EXPECT_EQ(0, close(fd));
	return 0;
}

/*
 * TMPFILE has no argument to rewrite; a post-filter errno fails the open
 * of the file made. Nothing is left in the backing directory but the file
 * linked.
 */
TEST_F(filter, tmpfile_cases)
{
	static const struct op_cases oc = {
		.name = "tmpfile", .op = FUSE_TMPFILE,
		.err = { PRE_ERRNO, 0, 0, POST_ERRNO, 0 },
		.call = call_tmpfile,
	};
	struct dirent_rec recs[4];
	int i, n, named = 0;

	run_cases(_metadata, self, &oc, NULL);
	/* ".", ".." and "named" */
	n = read_dir_raw(self->backing, recs, ARRAY_SIZE(recs));
	ASSERT_EQ(3, n);
	for (i = 0; i < n; i++)
		named += !strcmp(recs[i].name, "named");
	EXPECT_EQ(1, named);
	EXPECT_ONLY_INIT();
}

/*
 * readlink() of "link", whose backing target is "target1": the
 * post-filter's, "newtarg1", in the case that rewrites it
 */
static int call_readlink(struct __test_metadata *_metadata,
			 struct _test_data_filter *self, int c, void *ctx)
{
	const char *target = "target1";
	char f[PATH_MAX], buf[PATH_MAX];
	ssize_t len;

	if (c == CASE_POST_REWRITE) {
		target = "newtarg1";
		self->bss->xvalue_out = 1;
		memcpy(self->bss->xvalue, target, REWRITE_NAME_SIZE);
	}
	len = readlink(at(f, self->dir, "link"), buf, sizeof(buf));
	if (len < 0)
		return errno;
	EXPECT_EQ(strlen(target), len);
	EXPECT_EQ(0, memcmp(buf, target, strlen(target)));
	return 0;
}

/*
 * READLINK: nothing to rewrite before; after, the target (without a NUL),
 * which readlink() and the path walk both take. An empty one, or one with
 * a NUL, fails them with EINVAL.
 */
TEST_F(filter, readlink_cases)
{
	static const struct op_cases oc = {
		.name = "readlink", .op = FUSE_READLINK, .out_arg = true,
		.err = { PRE_ERRNO, 0, 0, POST_ERRNO, 0 },
		.call = call_readlink,
	};
	char b[PATH_MAX], f[PATH_MAX], buf[PATH_MAX];

	make_file(_metadata, at(b, self->backing, "target1"), 0644, "one");
	make_file(_metadata, at(b, self->backing, "newtarg1"), 0644, "two");
	ASSERT_EQ(0, symlink("target1", at(b, self->backing, "link")));
	run_cases(_metadata, self, &oc, NULL);

	at(f, self->dir, "link");
	self->bss->post_op = FUSE_READLINK;
	self->bss->xvalue_out = 1;
	memcpy(self->bss->xvalue, "newtarg1", REWRITE_NAME_SIZE);
	expect_content(_metadata, f, "two");
	EXPECT_EQ(1, self->bss->rewrites);
	expect_readlink(_metadata, f, "newtarg1");
	expect_readlink(_metadata, b, "target1");

	self->bss->out_empty = 1;
	EXPECT_FAILS(EINVAL, readlink(f, buf, sizeof(buf)));
	EXPECT_FAILS(EINVAL, open(f, O_RDONLY));
	self->bss->out_empty = 0;
	memcpy(self->bss->xvalue, "new\0arg1", REWRITE_NAME_SIZE);
	EXPECT_FAILS(EINVAL, readlink(f, buf, sizeof(buf)));
	EXPECT_FAILS(EINVAL, open(f, O_RDONLY));
	EXPECT_EQ(0, self->bss->helper_null);

	reset(self->bss);
	expect_content(_metadata, f, "one");
	expect_readlink(_metadata, f, "target1");
	EXPECT_ONLY_INIT();
}

/*
 * link() of "file" as "link<c>": made in the backing directory, as a link
 * of the backing file, unless the pre-filter failed it
 */
static int call_link(struct __test_metadata *_metadata,
		     struct _test_data_filter *self, int c, void *ctx)
{
	char b[PATH_MAX], f[PATH_MAX], g[PATH_MAX], name[16];
	struct stat st, bst;
	int ret;

	snprintf(name, sizeof(name), "link%d", c);
	ret = err_of(link(at(f, self->dir, "file"),
			  at(g, self->dir, name)));
	if (c < CASE_POST_REWRITE) {
		expect_enoent(_metadata, at(b, self->backing, name));
		return ret;
	}
	ASSERT_EQ(0, stat(at(b, self->backing, "file"), &bst));
	ASSERT_EQ(0, stat(at(b, self->backing, name), &st))
		TH_LOG("%s: %s", name, strerror(errno));
	EXPECT_EQ(bst.st_ino, st.st_ino);
	return ret;
}

/*
 * LINK: the new name (in arg 1) is honoured, not a change of
 * fuse_link_in (EINVAL), which an unchanged copy is not. What the backing
 * call made stands when the post-filter fails it.
 */
TEST_F(filter, link_cases)
{
	static const struct op_cases oc = {
		.name = "link", .op = FUSE_LINK, .in_arg = true,
		.err = { PRE_ERRNO, EINVAL, 0, POST_ERRNO, 0 },
		.call = call_link,
	};
	char b[PATH_MAX], f[PATH_MAX], g[PATH_MAX], t[PATH_MAX];
	struct stat st;

	make_file(_metadata, at(b, self->backing, "file"), 0644, "x");
	at(f, self->dir, "file");
	run_cases(_metadata, self, &oc, NULL);
	expect_same_lstat(_metadata, at(g, self->dir, "link3"),
			  at(t, self->backing, "link3"));
	expect_same_lstat(_metadata, at(g, self->dir, "link4"),
			  at(t, self->backing, "link4"));
	ASSERT_EQ(0, stat(b, &st));
	EXPECT_EQ(4, st.st_nlink);

	REWRITE_NAMES(self->bss, OPBIT(FUSE_LOOKUP) | OPBIT(FUSE_LINK),
		      "alias06", "target6");
	ASSERT_EQ(0, link(f, at(g, self->dir, "alias06")))
		TH_LOG("link: %s", strerror(errno));
	expect_enoent(_metadata, at(t, self->backing, "alias06"));
	expect_same_lstat(_metadata, g, at(t, self->backing, "target6"));
	expect_same_lstat(_metadata, t, b);
	EXPECT_EQ(0, self->bss->helper_null);

	reset(self->bss);
	self->bss->touch_in_op = FUSE_LINK;
	ASSERT_EQ(0, link(f, at(g, self->dir, "kept")))
		TH_LOG("link: %s", strerror(errno));
	EXPECT_EQ(1, self->bss->rewrites);
	expect_same_lstat(_metadata, g, at(t, self->backing, "kept"));
	EXPECT_ONLY_INIT();
}

TEST_HARNESS_MAIN
