// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests for what a fuse-bpf connection does with the filesystems its
 * backings come from: a backing lookup error does not invalidate dentries
 * (nor detach what is mounted on them), syncfs() reaches the backing
 * filesystems, the "backing" file of the connection in the FUSE control
 * filesystem lists them, inode numbers of two of them do not collide,
 * inodes the server does not know get file handles of their own, and a
 * file of a nosuid backing mount that would grant privileges is not run.
 *
 * The lower FUSE servers are played by test_daemon.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../../kselftest_harness.h"
#include "test_util.h"
#include "test_daemon.h"
#include "fuse_bpf_util.h"

/* The VM runs under TCG: be generous */
#define BT_TIMEOUT		180

#define TMPFS_MAGIC		0x01021994

/* File handle type of inodes the server does not know (nodeid 0) */
#define FUSE_BPF_FILEID		0xfb
/* Where the index of a backing filesystem goes in inode numbers */
#define FUSE_BPF_INO_SHIFT	58

/* The unprivileged user programs run as */
#define TEST_UID		1000

/* How long to wait for an asynchronous request, in 10 ms steps */
#define WAIT_STEPS		1000

/* Read all of @path into @buf (NUL-terminated); its length or -errno */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (!n)
			break;
		len += n;
	}
	buf[len] = '\0';
	close(fd);
	return len;
}

/*
 * The mount point of the mount @path is on, as /proc/self/mountinfo shows
 * it (escaped): 0, or -1 if it was not found.
 */
static int mount_point_of(const char *path, char *mp, size_t size)
{
	struct statx stx;
	char line[4096], point[PATH_MAX];
	unsigned long long id;
	int ret = -1;
	FILE *f;

	if (statx(AT_FDCWD, path, 0, STATX_MNT_ID, &stx) ||
	    !(stx.stx_mask & STATX_MNT_ID))
		return -1;
	f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llu %*u %*s %*s %4095s", &id, point) != 2)
			continue;
		if (id == stx.stx_mnt_id) {
			snprintf(mp, size, "%s", point);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* Is something mounted on @path (no special characters in it)? */
static bool is_mount_point(const char *path)
{
	char line[4096], point[PATH_MAX];
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*u %*u %*s %*s %4095s", point) == 1 &&
		    !strcmp(point, path))
			found = true;
	}
	fclose(f);
	return found;
}

/*
 * The control directory of the connection of the FUSE mount on @dir: it is
 * named after the superblock's device number, in the kernel's encoding.
 */
static void conn_dir(struct __test_metadata *_metadata, const char *dir,
		     char *buf, size_t size)
{
	struct stat st;

	ASSERT_EQ(0, stat(dir, &st)) TH_LOG("stat %s: %s", dir,
					    strerror(errno));
	snprintf(buf, size, "%s/%u", FUSE_CTL_DIR,
		 (major(st.st_dev) << 20) | minor(st.st_dev));
}

/* The line of the "backing" file for the filesystem of @path */
static void backing_line(struct __test_metadata *_metadata, unsigned int idx,
			 const char *type, const char *path, char *buf,
			 size_t size)
{
	char mp[PATH_MAX];
	struct stat st;

	ASSERT_EQ(0, stat(path, &st));
	ASSERT_EQ(0, mount_point_of(path, mp, sizeof(mp)));
	snprintf(buf, size, "%u %u:%u %s %s\n", idx, major(st.st_dev),
		 minor(st.st_dev), type, mp);
}

static int mount_no_daemon(const char *dir, int root_fd, const char *extra)
{
	char opts[256];

	snprintf(opts, sizeof(opts), "root_dir=%d,no_daemon,%s%s",
		 root_fd, extra, FUSE_BASE_OPTS);
	return mount_fuse(dir, opts);
}

/* Success with no payload: FLUSH, RELEASE, FSYNC, ACCESS */
static int reply_ok(struct test_daemon *td, struct td_req *req)
{
	return 0;
}

static int reply_enodata(struct test_daemon *td, struct td_req *req)
{
	return -ENODATA;
}

/* Explain the requests a daemon had no handler for */
static void dump_unexpected(struct test_daemon *td)
{
	static struct td_log_entry log[TD_LOG_SIZE];
	size_t i, n = test_daemon_get_log(td, log, TD_LOG_SIZE);

	for (i = 0; i < n && i < TD_LOG_SIZE; i++) {
		if (log[i].unexpected)
			fprintf(stderr, "# unexpected %s nodeid %llu \"%s\"\n",
				td_opcode_name(log[i].opcode),
				(unsigned long long)log[i].nodeid, log[i].name);
	}
}

/* Stop the daemon of an unmounted connection: it saw no surprise */
static void stop_daemon(struct __test_metadata *_metadata, int fuse_fd,
			struct test_daemon *td)
{
	EXPECT_EQ(0, test_daemon_stop(td, TD_STOP_TIMEOUT_MS));
	EXPECT_EQ(0, test_daemon_unexpected(td)) dump_unexpected(td);
	EXPECT_EQ(0, test_daemon_errors(td));
	test_daemon_destroy(td);
	EXPECT_EQ(0, close(fuse_fd));
}

/*
 * A fuse-bpf mount with no daemon (upper) whose root directory is backed
 * by the root of a plain FUSE mount (lower) served by the test daemon:
 * what the backing filesystem does shows in the requests of the lower.
 *
 * The lower has a directory "sub", whose entry is revalidated at every
 * use (entry_valid 0), and an empty regular file "f". It runs with the
 * writeback cache, so that data written goes to the server only when it
 * is written back.
 */
#define LOWER_SUB_ID	2
#define LOWER_FILE_ID	3

static struct lower_state {
	/* Error LOOKUP of "sub" answers with, 0 to find it */
	int sub_error;
	/* LOOKUPs of "sub" that were answered with an error */
	unsigned int sub_failed;
	unsigned int writes;
	__u64 write_offset;
	char written[64];
	__u64 file_size;
} lower;

static void lower_attr(__u64 nodeid, struct fuse_attr *attr)
{
	attr->ino = nodeid;
	if (nodeid == LOWER_FILE_ID) {
		attr->mode = S_IFREG | 0644;
		attr->nlink = 1;
		attr->size = lower.file_size;
	} else {
		attr->mode = S_IFDIR | 0755;
		attr->nlink = 2;
	}
}

static int lower_lookup(struct test_daemon *td, struct td_req *req)
{
	struct fuse_entry_out *out = req->out;
	const char *name = req->arg;
	__u64 id;

	if (req->in->nodeid != FUSE_ROOT_ID)
		return -ENOENT;
	if (!strcmp(name, "sub")) {
		if (lower.sub_error) {
			lower.sub_failed++;
			return lower.sub_error;
		}
		id = LOWER_SUB_ID;
		out->entry_valid = 0;
	} else if (!strcmp(name, "f")) {
		id = LOWER_FILE_ID;
		out->entry_valid = 1000;
	} else {
		return -ENOENT;
	}
	out->nodeid = id;
	out->generation = 1;
	out->attr_valid = 1000;
	lower_attr(id, &out->attr);
	req->out_len = sizeof(*out);
	return 0;
}

static int lower_getattr(struct test_daemon *td, struct td_req *req)
{
	struct fuse_attr_out *out = req->out;
	__u64 id = req->in->nodeid;

	if (id != FUSE_ROOT_ID && id != LOWER_SUB_ID && id != LOWER_FILE_ID)
		return -ENOENT;
	out->attr_valid = 1000;
	lower_attr(id, &out->attr);
	req->out_len = sizeof(*out);
	return 0;
}

/* Writing back the times of the file: its attributes as they are */
static int lower_setattr(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_setattr_in *in = req->arg;
	struct fuse_attr_out *out = req->out;

	if (req->arg_len < sizeof(*in))
		return -EINVAL;
	if (in->valid & FATTR_SIZE)
		lower.file_size = in->size;
	out->attr_valid = 1000;
	lower_attr(req->in->nodeid, &out->attr);
	req->out_len = sizeof(*out);
	return 0;
}

static int lower_open(struct test_daemon *td, struct td_req *req)
{
	struct fuse_open_out *out = req->out;

	out->fh = 1;
	req->out_len = sizeof(*out);
	return 0;
}

static int lower_write(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_write_in *in = req->arg;
	struct fuse_write_out *out = req->out;
	size_t len;

	if (req->arg_len < sizeof(*in) ||
	    req->arg_len - sizeof(*in) != in->size)
		return -EINVAL;
	len = in->size < sizeof(lower.written) - 1 ?
	      in->size : sizeof(lower.written) - 1;
	lower.writes++;
	lower.write_offset = in->offset;
	memcpy(lower.written, in + 1, len);
	lower.written[len] = '\0';
	if (in->offset + in->size > lower.file_size)
		lower.file_size = in->offset + in->size;
	out->size = in->size;
	req->out_len = sizeof(*out);
	return 0;
}

static int lower_statfs(struct test_daemon *td, struct td_req *req)
{
	struct fuse_statfs_out *out = req->out;

	out->st.bsize = 4096;
	out->st.frsize = 4096;
	out->st.namelen = 255;
	req->out_len = sizeof(*out);
	return 0;
}

static void set_sub_error(struct test_daemon *td, int err)
{
	test_daemon_lock(td);
	lower.sub_error = err;
	test_daemon_unlock(td);
}

FIXTURE(stacked) {
	char lower[64];
	char upper[64];
	int fuse_fd;
	int lower_fd;
	struct test_daemon *td;
	/* A tmpfs is mounted on <upper>/sub */
	bool sub_mounted;
};

FIXTURE_SETUP(stacked)
{
	static const struct {
		__u32 opcode;
		td_handler_fn fn;
	} handlers[] = {
		{ FUSE_LOOKUP, lower_lookup },
		{ FUSE_GETATTR, lower_getattr },
		{ FUSE_SETATTR, lower_setattr },
		{ FUSE_OPEN, lower_open },
		{ FUSE_WRITE, lower_write },
		{ FUSE_FLUSH, reply_ok },
		{ FUSE_RELEASE, reply_ok },
		{ FUSE_FSYNC, reply_ok },
		{ FUSE_ACCESS, reply_ok },
		{ FUSE_GETXATTR, reply_enodata },
		{ FUSE_STATFS, lower_statfs },
		{ FUSE_FORGET, forget_noop },
		{ FUSE_BATCH_FORGET, forget_noop },
	};
	size_t i;

	private_mount_ns(_metadata);
	memset(&lower, 0, sizeof(lower));
	self->fuse_fd = -1;
	self->lower_fd = -1;
	make_tmp_dir(_metadata, self->lower, sizeof(self->lower),
		     "fuse_lower");
	make_tmp_dir(_metadata, self->upper, sizeof(self->upper),
		     "fuse_upper");

	self->fuse_fd = test_fuse_mount(self->lower, NULL);
	ASSERT_LE(0, self->fuse_fd)
		TH_LOG("mount %s: %s", self->lower, strerror(-self->fuse_fd));
	self->td = test_daemon_create(self->fuse_fd);
	ASSERT_NE(NULL, self->td);
	test_daemon_set_init_flags(self->td, FUSE_WRITEBACK_CACHE);
	for (i = 0; i < ARRAY_SIZE(handlers); i++)
		ASSERT_EQ(0, test_daemon_set_handler(self->td,
						     handlers[i].opcode,
						     handlers[i].fn, NULL));
	ASSERT_EQ(0, test_daemon_start(self->td));
	ASSERT_EQ(0, test_daemon_wait_init(self->td, TD_STOP_TIMEOUT_MS));

	self->lower_fd = open(self->lower, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, self->lower_fd);
	ASSERT_EQ(0, mount_no_daemon(self->upper, self->lower_fd, ""))
		TH_LOG("mount %s over %s: %s", self->upper, self->lower,
		       strerror(errno));
}

FIXTURE_TEARDOWN(stacked)
{
	char sub[PATH_MAX];

	/* A test that stopped half-way may have left an error on */
	if (self->td)
		set_sub_error(self->td, 0);
	if (self->sub_mounted)
		EXPECT_EQ(0, umount(at(sub, self->upper, "sub")));
	/* The upper holds the lower mount: it goes first */
	EXPECT_EQ(0, test_fuse_umount(self->upper));
	if (self->lower_fd >= 0)
		EXPECT_EQ(0, close(self->lower_fd));
	EXPECT_EQ(0, test_fuse_umount(self->lower));
	if (self->td)
		stop_daemon(_metadata, self->fuse_fd, self->td);
	EXPECT_EQ(0, rmdir(self->upper));
	EXPECT_EQ(0, rmdir(self->lower));
}

static unsigned int sub_failed(struct test_daemon *td)
{
	unsigned int n;

	test_daemon_lock(td);
	n = lower.sub_failed;
	test_daemon_unlock(td);
	return n;
}

/*
 * A backing lookup that fails (here with EIO from the lower server) fails
 * the walk through a cached entry with that error, but leaves the entry
 * valid: a tmpfs mounted on it stays mounted. Only an entry that is gone
 * (ENOENT) is invalidated, and what is mounted on it detached, as for any
 * filesystem.
 */
TEST_F_TIMEOUT(stacked, revalidate_error_keeps_mounts, BT_TIMEOUT)
{
	struct stat root, st;
	char sub[PATH_MAX];
	struct statfs sfs;

	ASSERT_EQ(0, stat(self->upper, &root));
	at(sub, self->upper, "sub");
	ASSERT_EQ(0, mount("tmpfs", sub, "tmpfs", 0, "mode=0755"))
		TH_LOG("mount tmpfs on %s: %s", sub, strerror(errno));
	self->sub_mounted = true;
	ASSERT_EQ(0, statfs(sub, &sfs));
	ASSERT_EQ(TMPFS_MAGIC, sfs.f_type);

	set_sub_error(self->td, -EIO);
	errno = 0;
	EXPECT_EQ(-1, stat(sub, &st));
	EXPECT_EQ(EIO, errno);
	/* The error came from the lower server */
	EXPECT_LE(1, sub_failed(self->td));
	EXPECT_TRUE(is_mount_point(sub));

	set_sub_error(self->td, 0);
	ASSERT_EQ(0, statfs(sub, &sfs)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(TMPFS_MAGIC, sfs.f_type)
		TH_LOG("the tmpfs on the entry was detached");
	EXPECT_TRUE(is_mount_point(sub));

	/* An entry that is gone is invalid: its mount is detached */
	set_sub_error(self->td, -ENOENT);
	errno = 0;
	EXPECT_EQ(-1, stat(sub, &st));
	EXPECT_EQ(ENOENT, errno);
	self->sub_mounted = is_mount_point(sub);
	EXPECT_FALSE(self->sub_mounted);

	/* Back again: the lower's directory, on the upper's device */
	set_sub_error(self->td, 0);
	ASSERT_EQ(0, stat(sub, &st)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(S_IFDIR | 0755, st.st_mode);
	EXPECT_EQ(root.st_dev, st.st_dev);
}

static unsigned int lower_writes(struct test_daemon *td)
{
	unsigned int n;

	test_daemon_lock(td);
	n = lower.writes;
	test_daemon_unlock(td);
	return n;
}

/*
 * syncfs() on the upper syncs the lower filesystem too: data written
 * through the upper, held in the lower's writeback cache, is written back
 * to the lower server. (A /dev/fuse server is never sent FUSE_SYNCFS, only
 * virtiofs ones are: the writeback is what shows.)
 */
TEST_F_TIMEOUT(stacked, syncfs_reaches_backing, BT_TIMEOUT)
{
	char f[PATH_MAX];
	int fd, i;

	/* Kept open: closing would flush the lower file */
	fd = open(at(f, self->upper, "f"), O_WRONLY);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", f, strerror(errno));
	ASSERT_EQ(4, write(fd, "data", 4));
	EXPECT_EQ(0, lower_writes(self->td))
		TH_LOG("written back before syncfs");

	ASSERT_EQ(0, syncfs(fd)) TH_LOG("syncfs: %s", strerror(errno));
	/* FUSE ends page writeback once the WRITE is queued: wait for it */
	for (i = 0; i < WAIT_STEPS && !lower_writes(self->td); i++)
		usleep(10000);
	EXPECT_EQ(1, lower_writes(self->td))
		TH_LOG("syncfs did not write the lower file back");
	test_daemon_lock(self->td);
	EXPECT_EQ(0, lower.write_offset);
	EXPECT_STREQ("data", lower.written);
	test_daemon_unlock(self->td);

	/* Nothing is dirty any more */
	ASSERT_EQ(0, syncfs(fd));
	usleep(100000);
	EXPECT_EQ(1, lower_writes(self->td));
	EXPECT_EQ(0, close(fd));
}

/* A no_daemon mount whose root is backed by a directory on ext4 */
FIXTURE(ext4) {
	char backing[128];
	char dir[64];
	int backing_fd;
	bool mounted;
};

FIXTURE_SETUP(ext4)
{
	private_mount_ns(_metadata);
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	ASSERT_EQ(0, chmod(self->backing, 0755));
	self->backing_fd = open(self->backing, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, self->backing_fd);
	make_tmp_dir(_metadata, self->dir, sizeof(self->dir), "fuse_test");
	ASSERT_EQ(0, mount_no_daemon(self->dir, self->backing_fd, ""))
		TH_LOG("mount: %s", strerror(errno));
	self->mounted = true;
}

FIXTURE_TEARDOWN(ext4)
{
	if (self->mounted)
		EXPECT_EQ(0, test_fuse_umount(self->dir));
	EXPECT_EQ(0, close(self->backing_fd));
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

static int plain_root_getattr(struct test_daemon *td, struct td_req *req)
{
	struct fuse_attr_out *out = req->out;

	if (req->in->nodeid != FUSE_ROOT_ID)
		return -ENOENT;
	out->attr_valid = 1000;
	out->attr.ino = FUSE_ROOT_ID;
	out->attr.mode = S_IFDIR | 0755;
	out->attr.nlink = 2;
	req->out_len = sizeof(*out);
	return 0;
}

/*
 * The connection's "backing" control file lists the filesystem of its
 * root directory, as index 0; a plain FUSE connection has no such file;
 * it goes with the connection.
 */
TEST_F_TIMEOUT(ext4, backing_control_file, BT_TIMEOUT)
{
	char conn[64], pconn[64], path[PATH_MAX], want[PATH_MAX + 64];
	char buf[4096], plain[64];
	struct test_daemon *td;
	struct stat st;
	int fuse_fd;

	mount_fusectl(_metadata);
	conn_dir(_metadata, self->dir, conn, sizeof(conn));
	ASSERT_EQ(0, stat(at(path, conn, "backing"), &st))
		TH_LOG("%s: %s", path, strerror(errno));
	EXPECT_EQ(S_IFREG | 0400, st.st_mode);
	backing_line(_metadata, 0, "ext4", self->backing, want, sizeof(want));
	EXPECT_EQ(strlen(want), read_file(path, buf, sizeof(buf)));
	EXPECT_STREQ(want, buf);
	/* Read again: the same */
	EXPECT_EQ(strlen(want), read_file(path, buf, sizeof(buf)));
	EXPECT_STREQ(want, buf);

	/* A plain mount: a connection directory without the file */
	make_tmp_dir(_metadata, plain, sizeof(plain), "fuse_plain");
	fuse_fd = test_fuse_mount(plain, NULL);
	ASSERT_LE(0, fuse_fd) TH_LOG("%s", strerror(-fuse_fd));
	td = test_daemon_create(fuse_fd);
	ASSERT_NE(NULL, td);
	ASSERT_EQ(0, test_daemon_set_handler(td, FUSE_GETATTR,
					     plain_root_getattr, NULL));
	ASSERT_EQ(0, test_daemon_start(td));
	conn_dir(_metadata, plain, pconn, sizeof(pconn));
	ASSERT_EQ(0, stat(at(path, pconn, "waiting"), &st))
		TH_LOG("%s: %s", path, strerror(errno));
	errno = 0;
	EXPECT_EQ(-1, stat(at(path, pconn, "backing"), &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(0, test_fuse_umount(plain));
	stop_daemon(_metadata, fuse_fd, td);
	EXPECT_EQ(0, rmdir(plain));

	/* The connection directory goes at umount */
	ASSERT_EQ(0, umount(self->dir));
	self->mounted = false;
	errno = 0;
	EXPECT_EQ(-1, stat(conn, &st));
	EXPECT_EQ(ENOENT, errno);
}

struct dent {
	char name[64];
	unsigned long long ino;
};

/* The entries of @path but "." and "..", with their d_ino */
static int read_dir_ino(const char *path, struct dent *d, int max)
{
	char buf[1024];
	int fd, n = 0;
	long len, pos;

	fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -errno;
	while ((len = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (pos = 0; pos < len && n < max; ) {
			struct dirent64 *de = (void *)(buf + pos);

			pos += de->d_reclen;
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			snprintf(d[n].name, sizeof(d[n].name), "%.63s",
				 de->d_name);
			d[n].ino = de->d_ino;
			n++;
		}
	}
	if (len < 0)
		n = -errno;
	close(fd);
	return n;
}

/*
 * The filesystem of the root directory (index 0) keeps its inode numbers:
 * readdir's d_ino is lstat's st_ino through the mount, and the backing's.
 */
TEST_F_TIMEOUT(ext4, readdir_inode_numbers, BT_TIMEOUT)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat bst, fst, root;
	struct dent d[8];
	int i, n;

	make_file(_metadata, at(b, self->backing, "x"), 0644, "x");
	make_file(_metadata, at(b, self->backing, "y"), 0644, "y");
	ASSERT_EQ(0, mkdir(at(b, self->backing, "d"), 0755));
	ASSERT_EQ(0, symlink("x", at(b, self->backing, "l")));
	ASSERT_EQ(0, stat(self->dir, &root));

	n = read_dir_ino(self->dir, d, ARRAY_SIZE(d));
	ASSERT_EQ(4, n) TH_LOG("%d entries", n);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, lstat(at(f, self->dir, d[i].name), &fst));
		ASSERT_EQ(0, lstat(at(b, self->backing, d[i].name), &bst));
		EXPECT_EQ(bst.st_ino, d[i].ino) TH_LOG("%s", d[i].name);
		EXPECT_EQ(fst.st_ino, d[i].ino) TH_LOG("%s", d[i].name);
		EXPECT_EQ(root.st_dev, fst.st_dev) TH_LOG("%s", d[i].name);
	}
}

/*
 * Backed inodes the server does not know (nodeid 0) get file handles of
 * their own type: inode number and generation, 12 bytes, one per inode.
 * They cannot be opened.
 */
TEST_F_TIMEOUT(ext4, file_handles, BT_TIMEOUT)
{
	static const char * const names[] = { "a", "b" };
	struct file_handle *fh[2], *again;
	char b[PATH_MAX], f[PATH_MAX];
	unsigned long long ino;
	int i, fd, mount_id, gen;
	struct stat st;
	__u32 *w;

	for (i = 0; i < 2; i++) {
		fh[i] = calloc(1, sizeof(*fh[i]) + MAX_HANDLE_SZ);
		ASSERT_NE(NULL, fh[i]);
		make_file(_metadata, at(b, self->backing, names[i]), 0644,
			  names[i]);
		fh[i]->handle_bytes = MAX_HANDLE_SZ;
		ASSERT_EQ(0, name_to_handle_at(AT_FDCWD,
					       at(f, self->dir, names[i]),
					       fh[i], &mount_id, 0))
			TH_LOG("name_to_handle_at %s: %s", f, strerror(errno));
		EXPECT_EQ(FUSE_BPF_FILEID, fh[i]->handle_type);
		EXPECT_EQ(12, fh[i]->handle_bytes);

		/* Made of the inode number and the backing generation */
		ASSERT_EQ(0, stat(f, &st));
		fd = open(b, O_RDONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, ioctl(fd, FS_IOC_GETVERSION, &gen))
			TH_LOG("FS_IOC_GETVERSION: %s", strerror(errno));
		ASSERT_EQ(0, close(fd));
		w = (__u32 *)fh[i]->f_handle;
		ino = (unsigned long long)w[0] << 32 | w[1];
		EXPECT_EQ(st.st_ino, ino);
		EXPECT_EQ((__u32)gen, w[2]);
	}
	EXPECT_NE(0, memcmp(fh[0]->f_handle, fh[1]->f_handle, 12));

	/* The same inode, the same handle */
	again = calloc(1, sizeof(*again) + MAX_HANDLE_SZ);
	ASSERT_NE(NULL, again);
	again->handle_bytes = MAX_HANDLE_SZ;
	ASSERT_EQ(0, name_to_handle_at(AT_FDCWD, at(f, self->dir, "a"), again,
				       &mount_id, 0));
	EXPECT_EQ(FUSE_BPF_FILEID, again->handle_type);
	EXPECT_EQ(12, again->handle_bytes);
	EXPECT_EQ(0, memcmp(fh[0]->f_handle, again->f_handle, 12));

	/* Too little room: the size it needs */
	again->handle_bytes = 8;
	errno = 0;
	EXPECT_EQ(-1, name_to_handle_at(AT_FDCWD, f, again, &mount_id, 0));
	EXPECT_EQ(EOVERFLOW, errno);
	EXPECT_EQ(12, again->handle_bytes);

	fd = open(self->dir, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd);
	for (i = 0; i < 2; i++) {
		int ofd;

		errno = 0;
		ofd = open_by_handle_at(fd, fh[i], O_RDONLY);
		if (ofd >= 0)
			close(ofd);
		EXPECT_EQ(-1, ofd);
		EXPECT_EQ(ESTALE, errno);
	}
	EXPECT_EQ(0, close(fd));
	free(again);
	free(fh[0]);
	free(fh[1]);
}

/*
 * A mount with fuse-bpf enabled whose root the daemon serves: it answers
 * LOOKUP of names under the root with a REPLACE of the backing named in
 * replace_state, an ext4 directory or a tmpfs object.
 */
struct replace_entry {
	const char *name;
	__u64 nodeid;
	char path[PATH_MAX];
};

static struct replace_state {
	struct replace_entry entries[4];
	/* The descriptors replies gave, closed once the daemon is stopped */
	int fds[32];
	unsigned int nr_fds;
} replace_state;

static int replace_lookup(struct test_daemon *td, struct td_req *req)
{
	struct fuse_entry_out *entry = req->out;
	struct fuse_entry_bpf_out *ext = (void *)(entry + 1);
	const struct replace_entry *e = NULL;
	const char *name = req->arg;
	struct stat st;
	size_t i;
	int fd;

	if (req->in->nodeid != FUSE_ROOT_ID)
		return -ENOENT;
	for (i = 0; i < ARRAY_SIZE(replace_state.entries); i++) {
		if (replace_state.entries[i].name &&
		    !strcmp(replace_state.entries[i].name, name))
			e = &replace_state.entries[i];
	}
	if (!e)
		return -ENOENT;
	if (replace_state.nr_fds == ARRAY_SIZE(replace_state.fds))
		return -EMFILE;
	fd = open(e->path, O_PATH);
	if (fd < 0)
		return -EIO;
	replace_state.fds[replace_state.nr_fds++] = fd;
	if (fstat(fd, &st))
		return -EIO;

	entry->nodeid = e->nodeid;
	entry->generation = 1;
	entry->entry_valid = 1000;
	entry->attr_valid = 1000;
	entry->attr.ino = e->nodeid;
	entry->attr.mode = st.st_mode;
	entry->attr.nlink = 1;
	ext->backing_action = FUSE_ACTION_REPLACE;
	ext->backing_fd = fd;
	ext->bpf_action = FUSE_ACTION_KEEP;
	req->out_len = sizeof(*entry) + sizeof(*ext);
	req->reply_via = TD_REPLY_IOCTL;
	return 0;
}

FIXTURE(replace) {
	char backing[128];
	char tmp[64];
	char dir[64];
	int fuse_fd;
	struct test_daemon *td;
	bool tmp_mounted;
	bool mounted;
};

static void add_replace(unsigned int i, const char *name, __u64 nodeid,
			const char *dir, const char *rel)
{
	replace_state.entries[i].name = name;
	replace_state.entries[i].nodeid = nodeid;
	snprintf(replace_state.entries[i].path, PATH_MAX, "%s/%s", dir, rel);
}

FIXTURE_SETUP(replace)
{
	char p[PATH_MAX];

	private_mount_ns(_metadata);
	memset(&replace_state, 0, sizeof(replace_state));
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	ASSERT_EQ(0, chmod(self->backing, 0755));
	make_tmp_dir(_metadata, self->tmp, sizeof(self->tmp), "fuse_tmpfs");
	ASSERT_EQ(0, mount("tmpfs", self->tmp, "tmpfs", 0, "mode=0755"));
	self->tmp_mounted = true;
	make_tmp_dir(_metadata, self->dir, sizeof(self->dir), "fuse_test");

	/* ext4: a/x, a2; tmpfs: b, c/{p,q,d} */
	ASSERT_EQ(0, mkdir(at(p, self->backing, "a"), 0755));
	make_file(_metadata, at(p, self->backing, "a/x"), 0644, "x");
	ASSERT_EQ(0, mkdir(at(p, self->backing, "a2"), 0755));
	make_file(_metadata, at(p, self->tmp, "b"), 0644, "b");
	ASSERT_EQ(0, mkdir(at(p, self->tmp, "c"), 0755));
	make_file(_metadata, at(p, self->tmp, "c/p"), 0644, "p");
	make_file(_metadata, at(p, self->tmp, "c/q"), 0644, "q");
	ASSERT_EQ(0, mkdir(at(p, self->tmp, "c/d"), 0755));
	add_replace(0, "a", 10, self->backing, "a");
	add_replace(1, "a2", 11, self->backing, "a2");
	add_replace(2, "b", 12, self->tmp, "b");
	add_replace(3, "c", 13, self->tmp, "c");

	self->fuse_fd = test_fuse_mount(self->dir, "fuse_bpf");
	ASSERT_LE(0, self->fuse_fd) TH_LOG("%s", strerror(-self->fuse_fd));
	self->mounted = true;
	self->td = test_daemon_create(self->fuse_fd);
	ASSERT_NE(NULL, self->td);
	test_daemon_set_init_flags(self->td, FUSE_BPF);
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_LOOKUP,
					     replace_lookup, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_GETATTR,
					     plain_root_getattr, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_FORGET,
					     forget_noop, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_BATCH_FORGET,
					     forget_noop, NULL));
	ASSERT_EQ(0, test_daemon_start(self->td));
	ASSERT_EQ(0, test_daemon_wait_init(self->td, TD_STOP_TIMEOUT_MS));
}

FIXTURE_TEARDOWN(replace)
{
	unsigned int i;

	if (self->mounted)
		EXPECT_EQ(0, test_fuse_umount(self->dir));
	if (self->td)
		stop_daemon(_metadata, self->fuse_fd, self->td);
	for (i = 0; i < replace_state.nr_fds; i++)
		close(replace_state.fds[i]);
	if (self->tmp_mounted)
		EXPECT_EQ(0, umount(self->tmp));
	EXPECT_EQ(0, rmdir(self->tmp));
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

/*
 * With a daemon, the "backing" file is there from the start, empty; each
 * filesystem a REPLACE attaches is listed once, in the order they were
 * first attached.
 */
TEST_F_TIMEOUT(replace, backing_control_file_order, BT_TIMEOUT)
{
	char conn[64], path[PATH_MAX], buf[4096];
	char want[2 * PATH_MAX + 128], line[PATH_MAX + 64];
	struct stat st;

	mount_fusectl(_metadata);
	conn_dir(_metadata, self->dir, conn, sizeof(conn));
	at(path, conn, "backing");
	EXPECT_EQ(0, read_file(path, buf, sizeof(buf)))
		TH_LOG("%s: %s", path, buf);

	ASSERT_EQ(0, stat(at(buf, self->dir, "a"), &st))
		TH_LOG("%s: %s", buf, strerror(errno));
	ASSERT_EQ(0, stat(at(buf, self->dir, "b"), &st))
		TH_LOG("%s: %s", buf, strerror(errno));
	/* Filesystems already listed are not listed again */
	ASSERT_EQ(0, stat(at(buf, self->dir, "a2"), &st));
	ASSERT_EQ(0, stat(at(buf, self->dir, "c"), &st));

	backing_line(_metadata, 0, "ext4", self->backing, want, sizeof(want));
	backing_line(_metadata, 1, "tmpfs", self->tmp, line, sizeof(line));
	strcat(want, line);
	EXPECT_EQ(strlen(want), read_file(path, buf, sizeof(buf)));
	EXPECT_STREQ(want, buf);

	ASSERT_EQ(0, umount(self->dir));
	self->mounted = false;
	errno = 0;
	EXPECT_EQ(-1, stat(conn, &st));
	EXPECT_EQ(ENOENT, errno);
}

/*
 * Inode numbers of backed inodes are on the FUSE device, with the index
 * of their filesystem in the top bits: those of the first one (ext4,
 * attached first) are unchanged, those of the second (tmpfs) are apart.
 * readdir's d_ino agrees with stat's st_ino.
 */
TEST_F_TIMEOUT(replace, inode_numbers_apart, BT_TIMEOUT)
{
	const unsigned long long tag = 1ULL << FUSE_BPF_INO_SHIFT;
	char b[PATH_MAX], f[PATH_MAX], c[PATH_MAX];
	struct stat root, fst, bst;
	struct dent d[8];
	int i, n;

	ASSERT_EQ(0, stat(self->dir, &root));

	/* Index 0, attached first */
	ASSERT_EQ(0, stat(at(f, self->dir, "a"), &fst))
		TH_LOG("%s: %s", f, strerror(errno));
	ASSERT_EQ(0, stat(at(b, self->backing, "a"), &bst));
	EXPECT_EQ(bst.st_ino, fst.st_ino);
	EXPECT_EQ(root.st_dev, fst.st_dev);
	ASSERT_EQ(0, stat(at(f, self->dir, "a/x"), &fst));
	ASSERT_EQ(0, stat(at(b, self->backing, "a/x"), &bst));
	EXPECT_EQ(bst.st_ino, fst.st_ino);
	EXPECT_EQ(root.st_dev, fst.st_dev);

	/* Index 1 */
	ASSERT_EQ(0, stat(at(f, self->dir, "b"), &fst))
		TH_LOG("%s: %s", f, strerror(errno));
	ASSERT_EQ(0, stat(at(b, self->tmp, "b"), &bst));
	EXPECT_EQ(bst.st_ino | tag, fst.st_ino);
	EXPECT_EQ(root.st_dev, fst.st_dev);

	/* Its directory: the entries' d_ino are the numbers stat gives */
	ASSERT_EQ(0, stat(at(c, self->dir, "c"), &fst));
	ASSERT_EQ(0, stat(at(b, self->tmp, "c"), &bst));
	EXPECT_EQ(bst.st_ino | tag, fst.st_ino);
	n = read_dir_ino(c, d, ARRAY_SIZE(d));
	ASSERT_EQ(3, n) TH_LOG("%d entries", n);
	for (i = 0; i < n; i++) {
		snprintf(f, sizeof(f), "%s/c/%s", self->dir, d[i].name);
		snprintf(b, sizeof(b), "%s/c/%s", self->tmp, d[i].name);
		ASSERT_EQ(0, lstat(f, &fst));
		ASSERT_EQ(0, lstat(b, &bst));
		EXPECT_EQ(bst.st_ino | tag, d[i].ino) TH_LOG("%s", d[i].name);
		EXPECT_EQ(fst.st_ino, d[i].ino) TH_LOG("%s", d[i].name);
		EXPECT_EQ(root.st_dev, fst.st_dev) TH_LOG("%s", d[i].name);
	}
}

/*
 * Two tmpfs backings, [0] mounted without nosuid, [1] with, each holding
 * a set-uid root copy of id(1) and a copy of cat(1) with a file
 * capability, each backing a no_daemon mount that allows set-id programs.
 */
FIXTURE(suid) {
	char tmp[2][64];
	char dir[2][64];
	int fd[2];
	bool mounted[2];
	bool tmp_mounted[2];
};

#define CAP_BIT		((__u64)1 << CAP_NET_RAW)

static const struct vfs_cap_data *test_caps(void)
{
	static struct vfs_cap_data caps;

	caps.magic_etc = htole32(VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE);
	caps.data[0].permitted = htole32((__u32)CAP_BIT);
	return &caps;
}

FIXTURE_SETUP(suid)
{
	char p[PATH_MAX];
	int i;

	private_mount_ns(_metadata);
	for (i = 0; i < 2; i++)
		self->fd[i] = -1;
	for (i = 0; i < 2; i++) {
		make_tmp_dir(_metadata, self->tmp[i], sizeof(self->tmp[i]),
			     "fuse_tmpfs");
		ASSERT_EQ(0, mount("tmpfs", self->tmp[i], "tmpfs",
				   i ? MS_NOSUID : 0, "mode=0755"));
		self->tmp_mounted[i] = true;
		copy_program(_metadata, "/usr/bin/id", at(p, self->tmp[i], "id"),
			     04755);
		copy_program(_metadata, "/usr/bin/id",
			     at(p, self->tmp[i], "plainid"), 0755);
		copy_program(_metadata, "/usr/bin/cat",
			     at(p, self->tmp[i], "capcat"), 0755);
		ASSERT_EQ(0, setxattr(p, "security.capability", test_caps(),
				      sizeof(struct vfs_cap_data), 0))
			TH_LOG("setxattr %s: %s", p, strerror(errno));
		self->fd[i] = open(self->tmp[i], O_PATH | O_DIRECTORY);
		ASSERT_LE(0, self->fd[i]);
		make_tmp_dir(_metadata, self->dir[i], sizeof(self->dir[i]),
			     "fuse_test");
		ASSERT_EQ(0, mount_no_daemon(self->dir[i], self->fd[i],
					     "allow_other,"))
			TH_LOG("mount: %s", strerror(errno));
		self->mounted[i] = true;
	}
}

FIXTURE_TEARDOWN(suid)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (self->mounted[i])
			EXPECT_EQ(0, test_fuse_umount(self->dir[i]));
		if (self->fd[i] >= 0)
			EXPECT_EQ(0, close(self->fd[i]));
		if (self->tmp_mounted[i])
			EXPECT_EQ(0, umount(self->tmp[i]));
		if (self->dir[i][0])
			EXPECT_EQ(0, rmdir(self->dir[i]));
		if (self->tmp[i][0])
			EXPECT_EQ(0, rmdir(self->tmp[i]));
	}
}

/* Exit status of run_capture()'s child when execve() fails with EACCES */
#define EXEC_EACCES	77

/*
 * Run @path with the argument @arg as TEST_UID, its standard output in
 * @out: its exit status (EXEC_EACCES if execve() failed with EACCES), or
 * -1 if it could not run.
 */
static int run_capture(const char *path, const char *arg, char *out,
		       size_t size)
{
	const struct test_user u = { .uid = TEST_UID, .gid = TEST_UID };
	size_t len = 0;
	int p[2], status;
	char drain[512];
	ssize_t n;
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(p[0]);
		if (dup2(p[1], STDOUT_FILENO) < 0 || !become_user(&u))
			_exit(126);
		execl(path, path, arg, (char *)NULL);
		_exit(errno == EACCES ? EXEC_EACCES : 127);
	}
	close(p[1]);
	for (;;) {
		if (len < size - 1)
			n = read(p[0], out + len, size - 1 - len);
		else
			n = read(p[0], drain, sizeof(drain));
		if (n <= 0)
			break;
		if (len < size - 1)
			len += n;
	}
	out[len] = '\0';
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* The effective capabilities in /proc/self/status output, or ~0 */
static unsigned long long cap_eff(const char *status)
{
	const char *s = strstr(status, "CapEff:");

	return s ? strtoull(s + strlen("CapEff:"), NULL, 16) : ~0ULL;
}

/*
 * execve() checks only the FUSE mount for nosuid, and cannot run a file
 * without the privileges it grants: a file of a nosuid backing mount that
 * would grant some (set-uid, file capabilities) is not run. Attributes and
 * xattrs show as they are; files that grant nothing run. The backing
 * without nosuid is the control: the same files give root and the
 * capability through the same kind of mount.
 */
TEST_F_TIMEOUT(suid, nosuid_backing, BT_TIMEOUT)
{
	char p[PATH_MAX], out[8192];
	char fval[64], bval[64];
	struct statvfs sv;
	struct stat st;
	ssize_t len;
	int i;

	for (i = 0; i < 2; i++) {
		const bool nosuid = i == 1;

		TH_LOG("backing %s nosuid", nosuid ? "with" : "without");
		/* Only the backing mount has nosuid */
		ASSERT_EQ(0, statvfs(self->tmp[i], &sv));
		EXPECT_EQ(nosuid ? ST_NOSUID : 0, sv.f_flag & ST_NOSUID);
		ASSERT_EQ(0, statvfs(self->dir[i], &sv));
		EXPECT_EQ(0, sv.f_flag & ST_NOSUID);

		ASSERT_EQ(0, stat(at(p, self->tmp[i], "id"), &st));
		EXPECT_EQ(S_IFREG | 04755, st.st_mode);
		ASSERT_EQ(0, stat(at(p, self->dir[i], "id"), &st))
			TH_LOG("%s: %s", p, strerror(errno));
		EXPECT_EQ(S_IFREG | 04755, st.st_mode);
		EXPECT_EQ(0, st.st_uid);
		EXPECT_EQ(0, access(p, X_OK));

		out[0] = '\0';
		EXPECT_EQ(nosuid ? EXEC_EACCES : 0,
			  run_capture(p, "-u", out, sizeof(out)))
			TH_LOG("%s -u: %s", p, out);
		EXPECT_STREQ(nosuid ? "" : "0\n", out);

		/* A program that grants nothing runs on both */
		EXPECT_EQ(0, run_capture(at(p, self->dir[i], "plainid"), "-u",
					 out, sizeof(out)))
			TH_LOG("%s -u: %s", p, out);
		EXPECT_STREQ("1000\n", out);

		/* The capability shows as it is, with or without nosuid */
		len = getxattr(at(p, self->tmp[i], "capcat"),
			       "security.capability", bval, sizeof(bval));
		ASSERT_EQ(sizeof(struct vfs_cap_data), len)
			TH_LOG("getxattr %s: %s", p, strerror(errno));
		len = getxattr(at(p, self->dir[i], "capcat"),
			       "security.capability", fval, sizeof(fval));
		ASSERT_EQ(sizeof(struct vfs_cap_data), len)
			TH_LOG("getxattr %s: %s", p, strerror(errno));
		EXPECT_EQ(0, memcmp(bval, fval, len));

		out[0] = '\0';
		EXPECT_EQ(nosuid ? EXEC_EACCES : 0,
			  run_capture(p, "/proc/self/status", out, sizeof(out)))
			TH_LOG("%s: %s", p, out);
		if (!nosuid)
			EXPECT_EQ(CAP_BIT, cap_eff(out));
	}
}

TEST_HARNESS_MAIN
