// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests for fuse-bpf: mounting. The feature file userspace probes, a
 * plain FUSE mount served by a daemon (what it is asked and what it says
 * counts), and the fuse-bpf mount options: what each refuses, and what a
 * mount made with them keeps of its backing (owners, permissions, ACLs,
 * read-only, noexec and nodev backing mounts, stacking depth, idmapping,
 * references).
 *
 * The FUSE server side is played by test_daemon.c, which lets each test
 * check the exact sequence of requests the kernel sent.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include <bpf/libbpf.h>

#include "../../kselftest_harness.h"
#include "test_util.h"
#include "test_daemon.h"
#include "fuse_bpf_util.h"
#include "bpf_smoke.skel.h"
#include "fuse_filter.skel.h"

#define FUSE_BPF_FEATURE_FILE	"/sys/fs/fuse/features/fuse_bpf"

/*
 * The feature file tells userspace that the kernel supports fuse-bpf.  Its
 * content is ABI: exactly "supported\n", and it is read-only.
 */
TEST(bpf_feature_file)
{
	static const char expected[] = "supported\n";
	char buf[4096 + 1];
	struct stat st;
	ssize_t len;
	int fd;

	ASSERT_EQ(0, stat(FUSE_BPF_FEATURE_FILE, &st))
		TH_LOG("stat %s: %s", FUSE_BPF_FEATURE_FILE, strerror(errno));
	ASSERT_TRUE(S_ISREG(st.st_mode));
	ASSERT_EQ(0444, st.st_mode & 07777);

	fd = open(FUSE_BPF_FEATURE_FILE, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	memset(buf, 0, sizeof(buf));
	/* A sysfs attribute is at most a page, so one read gets it all */
	len = read(fd, buf, sizeof(buf) - 1);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(strlen(expected), len) TH_LOG("content: \"%s\"", buf);
	ASSERT_STREQ(expected, buf);

	/*
	 * Root bypasses the mode bits in the VFS, but sysfs itself refuses to
	 * open an attribute for writing when it has no write permission bit.
	 */
	fd = open(FUSE_BPF_FEATURE_FILE, O_WRONLY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(-1, fd);
	ASSERT_EQ(EACCES, errno);
}

/* A plain FUSE mount served by the test daemon */
FIXTURE(fuse_mnt) {
	char dir[64];
	int fuse_fd;
	struct test_daemon *td;
};

/* Flags the kernel offered in FUSE_INIT, as seen by the fuse_mnt daemon */
static __u64 plain_init_flags;

static int record_init(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_init_in *in = req->arg;

	plain_init_flags = in->flags;
	if (in->flags & FUSE_INIT_EXT)
		plain_init_flags |= (__u64)in->flags2 << 32;
	return 0;
}

FIXTURE_SETUP(fuse_mnt)
{
	/*
	 * Use a private mount namespace: nothing outside the test sees the
	 * mount (and sends requests the test did not expect), and the mount
	 * goes away with the test process should the teardown not run.
	 */
	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));

	snprintf(self->dir, sizeof(self->dir), "/tmp/fuse_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));

	self->fuse_fd = test_fuse_mount(self->dir, NULL);
	ASSERT_LE(0, self->fuse_fd)
		TH_LOG("mount on %s: %s", self->dir, strerror(-self->fuse_fd));

	self->td = test_daemon_create(self->fuse_fd);
	ASSERT_NE(NULL, self->td);
	/*
	 * FORGET and BATCH_FORGET get no reply, but without a handler they
	 * would count as unexpected.  The kernel aborts the connection before
	 * it evicts the inodes on umount, so they are not sent then; should
	 * an inode be evicted earlier anyway, the request is still logged and
	 * fails the exact sequence check of the test.
	 */
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_FORGET,
					     forget_noop, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_BATCH_FORGET,
					     forget_noop, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_INIT,
					     record_init, NULL));
	ASSERT_EQ(0, test_daemon_start(self->td));
}

FIXTURE_TEARDOWN(fuse_mnt)
{
	/* Unmounting ends the connection, which ends the daemon thread */
	EXPECT_EQ(0, test_fuse_umount(self->dir));
	EXPECT_EQ(0, test_daemon_stop(self->td, TD_STOP_TIMEOUT_MS));
	/* Even a test that checks no request sequence fails on these */
	EXPECT_EQ(0, test_daemon_unexpected(self->td));
	EXPECT_EQ(0, test_daemon_errors(self->td));
	test_daemon_destroy(self->td);
	EXPECT_EQ(0, close(self->fuse_fd));
	EXPECT_EQ(0, rmdir(self->dir));
}

/* Root attributes returned by the 1st and 2nd GETATTR: all distinctive */
static const struct fuse_attr root_attrs[] = {
	{
		.ino = FUSE_ROOT_ID,
		.size = 4096,
		.blocks = 8,
		.atime = 1000000001,
		.mtime = 1100000002,
		.ctime = 1200000003,
		.atimensec = 111111111,
		.mtimensec = 222222222,
		.ctimensec = 333333333,
		.mode = S_IFDIR | 0751,
		.nlink = 3,
		.uid = 1234,
		.gid = 5678,
		.blksize = 4096,
	},
	{
		.ino = FUSE_ROOT_ID,
		.size = 8192,
		.blocks = 16,
		.atime = 1300000004,
		.mtime = 1400000005,
		.ctime = 1500000006,
		.atimensec = 444444444,
		.mtimensec = 555555555,
		.ctimensec = 666666666,
		.mode = S_IFDIR | 0750,
		.nlink = 4,
		.uid = 4321,
		.gid = 8765,
		.blksize = 8192,
	},
};

/*
 * Written by root_getattr() under test_daemon_lock().  Not on the test's
 * stack: a failed ASSERT leaves the test function while the daemon still
 * runs.  Each test runs in its own process anyway.
 */
static struct getattr_state {
	/* Number of GETATTR requests seen */
	unsigned int calls;
	/* getattr_flags of each of them */
	__u32 flags[2];
} getattr_state;

static int root_getattr(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_getattr_in *in = req->arg;
	struct getattr_state *state = req->priv;
	struct fuse_attr_out *out = req->out;
	unsigned int n = state->calls++;

	/* Anything but the two expected requests shows up in the log */
	if (req->in->nodeid != FUSE_ROOT_ID || n >= 2 ||
	    req->arg_len != sizeof(*in))
		return -EIO;

	state->flags[n] = in->getattr_flags;
	/* attr_valid 0: the kernel must not cache these attributes */
	out->attr_valid = 0;
	out->attr_valid_nsec = 0;
	out->attr = root_attrs[n];
	req->out_len = sizeof(*out);
	return 0;
}

static void check_stat(struct __test_metadata *_metadata,
		       const struct stat *st, const struct fuse_attr *attr,
		       dev_t rdev)
{
	EXPECT_EQ(attr->ino, st->st_ino);
	EXPECT_EQ(attr->mode, st->st_mode);
	EXPECT_EQ(attr->nlink, st->st_nlink);
	EXPECT_EQ(attr->uid, st->st_uid);
	EXPECT_EQ(attr->gid, st->st_gid);
	EXPECT_EQ(rdev, st->st_rdev);
	EXPECT_EQ(attr->size, st->st_size);
	EXPECT_EQ(attr->blocks, st->st_blocks);
	EXPECT_EQ(attr->blksize, st->st_blksize);
	EXPECT_EQ(attr->atime, st->st_atim.tv_sec);
	EXPECT_EQ(attr->atimensec, st->st_atim.tv_nsec);
	EXPECT_EQ(attr->mtime, st->st_mtim.tv_sec);
	EXPECT_EQ(attr->mtimensec, st->st_mtim.tv_nsec);
	EXPECT_EQ(attr->ctime, st->st_ctim.tv_sec);
	EXPECT_EQ(attr->ctimensec, st->st_ctim.tv_nsec);
}

/*
 * stat() of the mount root is answered by the daemon: each stat() must
 * send one GETATTR for nodeid 1 and report exactly what the daemon said.
 */
TEST_F(fuse_mnt, plain_getattr_roundtrip)
{
	static const struct td_expect expected[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
		{ .opcode = FUSE_GETATTR, .nodeid = FUSE_ROOT_ID },
		{ .opcode = FUSE_GETATTR, .nodeid = FUSE_ROOT_ID },
	};
	struct getattr_state seen;
	struct stat st;

	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_GETATTR,
					     root_getattr, &getattr_state));

	/* The first request waits until the daemon answered FUSE_INIT */
	ASSERT_EQ(0, stat(self->dir, &st)) TH_LOG("stat: %s", strerror(errno));
	check_stat(_metadata, &st, &root_attrs[0], 0);
	test_daemon_lock(self->td);
	seen = getattr_state;
	test_daemon_unlock(self->td);
	ASSERT_EQ(1, seen.calls);

	/* Not cached: the second stat() sees the new attributes */
	ASSERT_EQ(0, stat(self->dir, &st)) TH_LOG("stat: %s", strerror(errno));
	check_stat(_metadata, &st, &root_attrs[1], 0);
	test_daemon_lock(self->td);
	seen = getattr_state;
	test_daemon_unlock(self->td);
	ASSERT_EQ(2, seen.calls);

	/* A plain stat() has no file handle to pass */
	EXPECT_EQ(0, seen.flags[0]);
	EXPECT_EQ(0, seen.flags[1]);

	ASSERT_TRUE(test_daemon_expect(self->td, expected,
				       ARRAY_SIZE(expected)));
}

/*
 * Reply to LOOKUP for one name under the root.  Set before the handler is
 * registered, then only accessed under test_daemon_lock().
 */
static struct lookup_state {
	const char *name;
	const struct fuse_entry_out *reply;
	/* Number of LOOKUP requests seen */
	unsigned int calls;
} lookup_state;

static int root_lookup(struct test_daemon *td, struct td_req *req)
{
	struct lookup_state *state = req->priv;
	const char *name = req->arg;

	state->calls++;
	/* Anything else shows up in the log */
	if (req->in->nodeid != FUSE_ROOT_ID || !req->arg_len ||
	    name[req->arg_len - 1] || strcmp(name, state->name))
		return -EIO;

	memcpy(req->out, state->reply, sizeof(*state->reply));
	req->out_len = sizeof(*state->reply);
	return 0;
}

/* Answer LOOKUP of @name under the root with @reply; @path gets its path */
static int serve_root_lookup(struct test_daemon *td, const char *dir,
			     const char *name,
			     const struct fuse_entry_out *reply,
			     char *path, size_t size)
{
	lookup_state.name = name;
	lookup_state.reply = reply;
	snprintf(path, size, "%s/%s", dir, name);
	return test_daemon_set_handler(td, FUSE_LOOKUP, root_lookup,
				       &lookup_state);
}

static unsigned int lookup_calls(struct test_daemon *td)
{
	unsigned int calls;

	test_daemon_lock(td);
	calls = lookup_state.calls;
	test_daemon_unlock(td);
	return calls;
}

/* A regular file, all attributes distinctive, cached for 10 s */
static const struct fuse_entry_out file_entry = {
	.nodeid = 2,
	.generation = 1,
	.entry_valid = 10,
	.attr_valid = 10,
	.attr = {
		.ino = 0x1234567,
		.size = 123456789,
		.blocks = 241136,
		.atime = 1600000007,
		.mtime = 1610000008,
		.ctime = 1620000009,
		.atimensec = 777777777,
		.mtimensec = 888888888,
		.ctimensec = 999999999,
		.mode = S_IFREG | 0641,
		.nlink = 1,
		.uid = 2345,
		.gid = 6789,
		.blksize = 4096,
	},
};

/*
 * A positive LOOKUP reply with entry and attribute timeouts is cached: the
 * second stat() is served from the dentry and the attribute cache.
 */
TEST_F(fuse_mnt, plain_lookup_cached)
{
	static const struct td_expect expected[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "x" },
	};
	char path[128];
	struct stat st;
	int i;

	ASSERT_EQ(0, serve_root_lookup(self->td, self->dir, "x", &file_entry,
				       path, sizeof(path)));

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, stat(path, &st))
			TH_LOG("stat %d: %s", i, strerror(errno));
		check_stat(_metadata, &st, &file_entry.attr, 0);
		ASSERT_EQ(1, lookup_calls(self->td));
	}

	ASSERT_TRUE(test_daemon_expect(self->td, expected,
				       ARRAY_SIZE(expected)));
}

/* "Not found", but with a timeout: the kernel keeps a negative dentry */
static const struct fuse_entry_out negative_entry = {
	.nodeid = 0,
	.entry_valid = 10,
};

/*
 * A LOOKUP reply with nodeid 0 is a negative entry cached for entry_valid:
 * the second stat() fails without asking the daemon again.
 */
TEST_F(fuse_mnt, plain_negative_lookup)
{
	static const struct td_expect expected[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "missing" },
	};
	char path[128];
	struct stat st;
	int i;

	ASSERT_EQ(0, serve_root_lookup(self->td, self->dir, "missing", &negative_entry,
				       path, sizeof(path)));

	for (i = 0; i < 2; i++) {
		errno = 0;
		ASSERT_EQ(-1, stat(path, &st));
		ASSERT_EQ(ENOENT, errno) TH_LOG("stat %d: %s", i,
						strerror(errno));
		ASSERT_EQ(1, lookup_calls(self->td));
	}

	ASSERT_TRUE(test_daemon_expect(self->td, expected,
				       ARRAY_SIZE(expected)));
}

/* A character device: /dev/null's numbers, encoded as the kernel wants */
static const struct fuse_entry_out chrdev_entry = {
	.nodeid = 2,
	.generation = 1,
	.entry_valid = 10,
	.attr_valid = 10,
	.attr = {
		.ino = 0x7654321,
		.atime = 1630000010,
		.mtime = 1640000011,
		.ctime = 1650000012,
		.atimensec = 123456789,
		.mtimensec = 234567891,
		.ctimensec = 345678912,
		.mode = S_IFCHR | 0600,
		/*
		 * fuse_attr.rdev is decoded with new_decode_dev(): minor
		 * bits 0-7 in bits 0-7, major in bits 8-19, minor bits 8-19
		 * in bits 20-31.  So makedev(1, 3) is 0x103.
		 */
		.rdev = (1 << 8) | 3,
		.nlink = 1,
		.uid = 3456,
		.gid = 7890,
		.blksize = 4096,
	},
};

/* The device number of a special file comes from fuse_attr.rdev */
TEST_F(fuse_mnt, plain_rdev)
{
	static const struct td_expect expected[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "dev" },
	};
	char path[128];
	struct stat st;

	ASSERT_EQ(0, serve_root_lookup(self->td, self->dir, "dev", &chrdev_entry,
				       path, sizeof(path)));

	ASSERT_EQ(0, stat(path, &st)) TH_LOG("stat: %s", strerror(errno));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(1, major(st.st_rdev));
	EXPECT_EQ(3, minor(st.st_rdev));
	check_stat(_metadata, &st, &chrdev_entry.attr, makedev(1, 3));
	ASSERT_EQ(1, lookup_calls(self->td));

	ASSERT_TRUE(test_daemon_expect(self->td, expected,
				       ARRAY_SIZE(expected)));
}

/* A plain mount shows no fuse-bpf option */
TEST_F(fuse_mnt, plain_mountinfo_options)
{
	check_super_options(_metadata, self->dir, false, false);
}

/* A plain mount: no fuse-bpf flag at INIT, and no fuse-bpf replies */
TEST_F(fuse_mnt, plain_init_and_ioctl)
{
	struct fuse_bpf_reply reply = { 0 };

	ASSERT_EQ(0, test_daemon_wait_init(self->td, TD_STOP_TIMEOUT_MS));
	test_daemon_lock(self->td);
	EXPECT_NE(0, plain_init_flags & FUSE_INIT_EXT);
	EXPECT_EQ(0, plain_init_flags & FUSE_BPF);
	test_daemon_unlock(self->td);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fuse_fd, FUSE_DEV_IOC_BPF_REPLY, &reply));
	EXPECT_EQ(EPERM, errno);
}

/* Where a mount through the mount API stopped, and what it logged */
struct fsmount_log {
	/* "fsopen", the key of the failed fsconfig(), "create", ... */
	char step[256];
	/* The messages of the filesystem context, each ending in "\n" */
	char msgs[1024];
};

/* Append all messages of the filesystem context @fsfd to @log */
static void read_fsc_log(int fsfd, struct fsmount_log *log)
{
	size_t len = strlen(log->msgs);
	char msg[512];
	ssize_t n;

	while ((n = read(fsfd, msg, sizeof(msg) - 1)) > 0) {
		msg[n] = 0;
		len += snprintf(log->msgs + len, sizeof(log->msgs) - len, "%s",
				msg);
		if (len >= sizeof(log->msgs))
			break;
	}
}

/*
 * Mount a fuse filesystem on @dir through the mount API: fsopen(), one
 * fsconfig() per comma-separated option of @opts ("key" sets a flag,
 * "key=value" a string, "key=@N" the file of descriptor N with
 * FSCONFIG_SET_FD), FSCONFIG_CMD_CREATE, fsmount() and move_mount().
 * Returns 0 or -errno; @log says which step failed and holds what the
 * filesystem context logged.
 */
static int fsmount_fuse(const char *dir, const char *opts,
			struct fsmount_log *log)
{
	char buf[256], *opt, *next, *value;
	int fsfd, mfd, ret;

	memset(log, 0, sizeof(*log));
	snprintf(log->step, sizeof(log->step), "fsopen");
	fsfd = fsopen("fuse", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -errno;
	/* What mount(2) makes of its device name */
	snprintf(log->step, sizeof(log->step), "source");
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", "fuse_test", 0))
		goto fail;
	snprintf(buf, sizeof(buf), "%s", opts);
	for (opt = buf; opt; opt = next) {
		next = strchr(opt, ',');
		if (next)
			*next++ = 0;
		if (!*opt)
			continue;
		value = strchr(opt, '=');
		if (value)
			*value++ = 0;
		snprintf(log->step, sizeof(log->step), "%s", opt);
		if (!value)
			ret = fsconfig(fsfd, FSCONFIG_SET_FLAG, opt, NULL, 0);
		else if (*value == '@')
			ret = fsconfig(fsfd, FSCONFIG_SET_FD, opt, NULL,
				       atoi(value + 1));
		else
			ret = fsconfig(fsfd, FSCONFIG_SET_STRING, opt, value, 0);
		if (ret)
			goto fail;
	}
	snprintf(log->step, sizeof(log->step), "create");
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		goto fail;
	snprintf(log->step, sizeof(log->step), "fsmount");
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
	if (mfd < 0)
		goto fail;
	snprintf(log->step, sizeof(log->step), "move_mount");
	ret = move_mount(mfd, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH);
	ret = ret ? -errno : 0;
	close(mfd);
	if (!ret)
		snprintf(log->step, sizeof(log->step), "mounted");
	read_fsc_log(fsfd, log);
	close(fsfd);
	return ret;
fail:
	ret = -errno;
	read_fsc_log(fsfd, log);
	close(fsfd);
	return ret;
}

/*
 * @tmpl with its "fd=DEV" made "fd=N", N a /dev/fuse descriptor opened
 * for the one mount, in @fuse_fd (-1 if there is no "fd=DEV"): a
 * connection serves one mount. Returns 0 or -errno.
 */
static int with_dev_fuse(char *opts, size_t size, const char *tmpl,
			 int *fuse_fd)
{
	const char *dev = strstr(tmpl, "fd=DEV");

	*fuse_fd = -1;
	if (!dev) {
		snprintf(opts, size, "%s", tmpl);
		return 0;
	}
	*fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (*fuse_fd < 0)
		return -errno;
	snprintf(opts, size, "%.*sfd=%d%s", (int)(dev - tmpl), tmpl, *fuse_fd,
		 dev + strlen("fd=DEV"));
	return 0;
}

/*
 * Mounting with @fmt's options gives @err, through mount(2) and through
 * the mount API. There it ends at @step (an option, "create" for checks
 * across options, "mounted" on success) and logs exactly the error @msg
 * (NULL: nothing). mount(2) is skipped for options passed with
 * FSCONFIG_SET_FD ("key=@N"); "fd=DEV" is a new /dev/fuse descriptor each
 * time. A mount that succeeds is taken down at once: that needs no daemon
 * behind "fd=DEV", as the mount does not wait for FUSE_INIT and the umount
 * aborts the connection.
 */
static void vexpect_mount(struct __test_metadata *_metadata, const char *dir,
			  int err, const char *step, const char *msg,
			  const char *fmt, va_list ap)
{
	char tmpl[256], opts[256], expected[256] = "";
	struct fsmount_log log;
	int ret, fuse_fd;

	vsnprintf(tmpl, sizeof(tmpl), fmt, ap);
	if (msg)
		snprintf(expected, sizeof(expected), "e fuse: %s\n", msg);

	if (!strstr(tmpl, "=@")) {
		ASSERT_EQ(0, with_dev_fuse(opts, sizeof(opts), tmpl, &fuse_fd));
		ret = mount_fuse(dir, opts);
		EXPECT_EQ(-err, ret)
			TH_LOG("mount(2) %s: %s", opts, strerror(-ret));
		/* It is there: umount of a directory that is no mount fails */
		if (!ret)
			EXPECT_EQ(0, umount(dir)) TH_LOG("%s", strerror(errno));
		if (fuse_fd >= 0)
			EXPECT_EQ(0, close(fuse_fd));
	}
	ASSERT_EQ(0, with_dev_fuse(opts, sizeof(opts), tmpl, &fuse_fd));
	ret = fsmount_fuse(dir, opts, &log);
	EXPECT_EQ(-err, ret)
		TH_LOG("mount API %s: %s at %s, log \"%s\"", opts,
		       strerror(-ret), log.step, log.msgs);
	EXPECT_STREQ(step, log.step) TH_LOG("mount API %s", opts);
	EXPECT_STREQ(expected, log.msgs) TH_LOG("mount API %s", opts);
	if (!ret)
		EXPECT_EQ(0, umount(dir)) TH_LOG("%s", strerror(errno));
	if (fuse_fd >= 0)
		EXPECT_EQ(0, close(fuse_fd));
}

/* Mounting with @fmt's options fails with @err at @step, logging @msg */
static void __printf(6, 7)
expect_mount_error(struct __test_metadata *_metadata, const char *dir,
		   int err, const char *step, const char *msg,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vexpect_mount(_metadata, dir, err, step, msg, fmt, ap);
	va_end(ap);
}

/* Mounting with @fmt's options succeeds both ways, logging nothing */
static void __printf(3, 4)
expect_mount_ok(struct __test_metadata *_metadata, const char *dir,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vexpect_mount(_metadata, dir, 0, "mounted", NULL, fmt, ap);
	va_end(ap);
}

/* Bad fuse-bpf mount options: each gets its own errno, nothing mounts */
FIXTURE(bad_opts) {
	char backing[128];
	char dir[64];
	int backing_fd;
	int file_fd;
};

FIXTURE_SETUP(bad_opts)
{
	char path[192];

	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	self->backing_fd = open(self->backing, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, self->backing_fd);
	snprintf(path, sizeof(path), "%s/file", self->backing);
	self->file_fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, self->file_fd);
	snprintf(self->dir, sizeof(self->dir), "/tmp/fuse_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
}

FIXTURE_TEARDOWN(bad_opts)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/file", self->backing);
	EXPECT_EQ(0, close(self->file_fd));
	EXPECT_EQ(0, unlink(path));
	EXPECT_EQ(0, close(self->backing_fd));
	EXPECT_EQ(0, remove_tree(self->backing));
	EXPECT_EQ(0, rmdir(self->dir));
}

/* mount(2) a fuse filesystem with printf-formatted options */
static int __printf(2, 3)
mount_fuse_fmt(const char *dir, const char *fmt, ...)
{
	char opts[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(opts, sizeof(opts), fmt, ap);
	va_end(ap);
	return mount_fuse(dir, opts);
}

/*
 * Each bad mount below is refused with its errno and its message, and the
 * same mount with the bad part fixed then works: it is the bad part that
 * is refused.
 */
TEST_F(bad_opts, root_dir_not_a_directory)
{
	int dir_fd;

	expect_mount_error(_metadata, self->dir, EINVAL, "root_dir",
			   "root_dir: not a directory",
			   "root_dir=%d,no_daemon," FUSE_BASE_OPTS,
			   self->file_fd);
	/* The same file given with FSCONFIG_SET_FD */
	expect_mount_error(_metadata, self->dir, EINVAL, "root_dir",
			   "root_dir: not a directory",
			   "root_dir=@%d,no_daemon," FUSE_BASE_OPTS,
			   self->file_fd);

	expect_mount_ok(_metadata, self->dir,
			"root_dir=%d,no_daemon," FUSE_BASE_OPTS,
			self->backing_fd);
	/* FSCONFIG_SET_FD takes no O_PATH descriptor */
	dir_fd = open(self->backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, dir_fd);
	expect_mount_ok(_metadata, self->dir,
			"root_dir=@%d,no_daemon," FUSE_BASE_OPTS, dir_fd);
	EXPECT_EQ(0, close(dir_fd));
}

TEST_F(bad_opts, root_dir_bad_fd)
{
	expect_mount_error(_metadata, self->dir, EBADF, "root_dir",
			   "root_dir: bad file descriptor",
			   "root_dir=%d,no_daemon," FUSE_BASE_OPTS, 999);
	/* Not a descriptor number: the parser's own message */
	expect_mount_error(_metadata, self->dir, EINVAL, "root_dir",
			   "Bad value for 'root_dir'",
			   "root_dir=-1,no_daemon," FUSE_BASE_OPTS);
	expect_mount_error(_metadata, self->dir, EINVAL, "root_dir",
			   "Bad value for 'root_dir'",
			   "root_dir=,no_daemon," FUSE_BASE_OPTS);
	expect_mount_error(_metadata, self->dir, EINVAL, "root_dir",
			   "Bad value for 'root_dir'",
			   "root_dir=dir,no_daemon," FUSE_BASE_OPTS);
	/* FSCONFIG_SET_FD looks the descriptor up before fuse sees it */
	expect_mount_error(_metadata, self->dir, EBADF, "root_dir", NULL,
			   "root_dir=@%d,no_daemon," FUSE_BASE_OPTS, 999);
	expect_mount_error(_metadata, self->dir, EBADF, "root_dir", NULL,
			   "root_dir=@%d,no_daemon," FUSE_BASE_OPTS,
			   self->backing_fd);

	expect_mount_ok(_metadata, self->dir,
			"root_dir=%d,no_daemon," FUSE_BASE_OPTS,
			self->backing_fd);
}

TEST_F(bad_opts, root_dir_twice)
{
	expect_mount_error(_metadata, self->dir, EINVAL, "root_dir",
			   "root_dir: specified more than once",
			   "root_dir=%d,root_dir=%d,no_daemon," FUSE_BASE_OPTS,
			   self->backing_fd, self->backing_fd);
	expect_mount_ok(_metadata, self->dir,
			"root_dir=%d,no_daemon," FUSE_BASE_OPTS,
			self->backing_fd);
}

TEST_F(bad_opts, no_daemon_needs_root_dir)
{
	expect_mount_error(_metadata, self->dir, EINVAL, "create",
			   "no_daemon requires root_dir",
			   "no_daemon," FUSE_BASE_OPTS);
	expect_mount_ok(_metadata, self->dir,
			"root_dir=%d,no_daemon," FUSE_BASE_OPTS,
			self->backing_fd);
}

TEST_F(bad_opts, no_daemon_excludes_fd)
{
	expect_mount_error(_metadata, self->dir, EINVAL, "create",
			   "no_daemon and fd are mutually exclusive",
			   "root_dir=%d,no_daemon,fd=DEV," FUSE_BASE_OPTS,
			   self->backing_fd);
	/* Either one: no daemon, or a daemon (not needed to mount) */
	expect_mount_ok(_metadata, self->dir,
			"root_dir=%d,no_daemon," FUSE_BASE_OPTS,
			self->backing_fd);
	expect_mount_ok(_metadata, self->dir,
			"root_dir=%d,fd=DEV," FUSE_BASE_OPTS,
			self->backing_fd);
}

TEST_F(bad_opts, root_dir_needs_directory_rootmode)
{
	expect_mount_error(_metadata, self->dir, EINVAL, "create",
			   "root_dir requires a directory rootmode",
			   "root_dir=%d,no_daemon,rootmode=100000,user_id=0,group_id=0",
			   self->backing_fd);
	expect_mount_error(_metadata, self->dir, EINVAL, "create",
			   "root_dir requires a directory rootmode",
			   "root_dir=%d,fd=DEV,rootmode=100000,user_id=0,group_id=0",
			   self->backing_fd);
	expect_mount_ok(_metadata, self->dir,
			"root_dir=%d,no_daemon,rootmode=40000,user_id=0,group_id=0",
			self->backing_fd);
	expect_mount_ok(_metadata, self->dir,
			"root_dir=%d,fd=DEV,rootmode=40000,user_id=0,group_id=0",
			self->backing_fd);
}

#define NOT_A_FUSE_PROG	"root_bpf: not a BPF_PROG_TYPE_FUSE program"

TEST_F(bad_opts, root_bpf_not_a_program)
{
	struct fuse_filter *skel = fuse_filter__open_and_load();
	int memfd = memfd_create("not_bpf", MFD_CLOEXEC);

	ASSERT_NE(NULL, skel);
	ASSERT_LE(0, memfd);
	expect_mount_error(_metadata, self->dir, EINVAL, "root_bpf",
			   NOT_A_FUSE_PROG,
			   "root_dir=%d,no_daemon,root_bpf=%d," FUSE_BASE_OPTS,
			   self->backing_fd, memfd);
	expect_mount_error(_metadata, self->dir, EINVAL, "root_bpf",
			   NOT_A_FUSE_PROG,
			   "root_dir=%d,no_daemon,root_bpf=@%d," FUSE_BASE_OPTS,
			   self->backing_fd, memfd);
	/* Not open at all */
	expect_mount_error(_metadata, self->dir, EINVAL, "root_bpf",
			   NOT_A_FUSE_PROG,
			   "root_dir=%d,no_daemon,root_bpf=%d," FUSE_BASE_OPTS,
			   self->backing_fd, 999);

	expect_mount_ok(_metadata, self->dir,
			"root_dir=%d,no_daemon,root_bpf=%d," FUSE_BASE_OPTS,
			self->backing_fd,
			bpf_program__fd(skel->progs.fuse_filter));
	expect_mount_ok(_metadata, self->dir,
			"root_dir=%d,no_daemon,root_bpf=@%d," FUSE_BASE_OPTS,
			self->backing_fd,
			bpf_program__fd(skel->progs.fuse_filter));
	EXPECT_EQ(0, close(memfd));
	fuse_filter__destroy(skel);
}

/* A program of another type is refused */
TEST_F(bad_opts, root_bpf_wrong_type)
{
	struct fuse_filter *fuse_skel = fuse_filter__open_and_load();
	struct bpf_smoke *skel = bpf_smoke__open_and_load();

	ASSERT_NE(NULL, skel);
	ASSERT_NE(NULL, fuse_skel);
	expect_mount_error(_metadata, self->dir, EINVAL, "root_bpf",
			   NOT_A_FUSE_PROG,
			   "root_dir=%d,no_daemon,root_bpf=%d," FUSE_BASE_OPTS,
			   self->backing_fd,
			   bpf_program__fd(skel->progs.smoke));
	expect_mount_ok(_metadata, self->dir,
			"root_dir=%d,no_daemon,root_bpf=%d," FUSE_BASE_OPTS,
			self->backing_fd,
			bpf_program__fd(fuse_skel->progs.fuse_filter));
	bpf_smoke__destroy(skel);
	fuse_filter__destroy(fuse_skel);
}

/* Programs filter backed inodes: a program needs a backed root, once */
TEST_F(bad_opts, root_bpf_needs_root_dir)
{
	struct fuse_filter *skel = fuse_filter__open_and_load();
	int prog;

	ASSERT_NE(NULL, skel);
	prog = bpf_program__fd(skel->progs.fuse_filter);
	expect_mount_error(_metadata, self->dir, EINVAL, "create",
			   "root_bpf requires root_dir",
			   "fd=DEV,root_bpf=%d," FUSE_BASE_OPTS, prog);
	expect_mount_error(_metadata, self->dir, EINVAL, "root_bpf",
			   "root_bpf: specified more than once",
			   "root_dir=%d,no_daemon,root_bpf=%d,root_bpf=%d,"
			   FUSE_BASE_OPTS, self->backing_fd, prog, prog);

	expect_mount_ok(_metadata, self->dir,
			"fd=DEV,root_dir=%d,root_bpf=%d," FUSE_BASE_OPTS,
			self->backing_fd, prog);
	expect_mount_ok(_metadata, self->dir,
			"root_dir=%d,no_daemon,root_bpf=%d," FUSE_BASE_OPTS,
			self->backing_fd, prog);
	fuse_filter__destroy(skel);
}

#define NEEDS_INIT_NS_CAP \
	"fuse-bpf options need CAP_SYS_ADMIN in the initial user namespace"

/* Write all of @s to the file @path; 0 or -1 */
static int write_string(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t len;

	if (fd < 0)
		return -1;
	len = write(fd, s, strlen(s));
	close(fd);
	return len == (ssize_t)strlen(s) ? 0 : -1;
}

/* In a child, where the harness cannot report: say what failed, exit */
static void child_check(bool ok, int line, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "# %s:%d: %s failed: %s\n", __FILE__, line, what,
		strerror(errno));
	_exit(1);
}

#define CHILD_CHECK(cond)	child_check(cond, __LINE__, #cond)

/*
 * For a child: mount @fmt's options on @dir through mount(2) (unless a
 * file goes with FSCONFIG_SET_FD) and through the mount API, which must
 * both succeed (@err 0) and be unmounted, or both fail with @err. EPERM
 * must come at the option @step, saying why. "fd=DEV" is a new /dev/fuse
 * descriptor each time. Returns 0 if so, else says what happened.
 */
static int __printf(4, 5)
child_mount(const char *dir, int err, const char *step, const char *fmt, ...)
{
	static const char eperm[] = "e fuse: " NEEDS_INIT_NS_CAP "\n";
	char tmpl[256], opts[256];
	struct fsmount_log log;
	int ret, fuse_fd;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmpl, sizeof(tmpl), fmt, ap);
	va_end(ap);

	if (!strstr(tmpl, "=@")) {
		if (with_dev_fuse(opts, sizeof(opts), tmpl, &fuse_fd))
			return 1;
		ret = mount_fuse(dir, opts);
		if (!ret && umount(dir))
			ret = -EBUSY;
		if (fuse_fd >= 0)
			close(fuse_fd);
		if (ret != -err) {
			fprintf(stderr, "# mount(2) %s: %s\n", opts,
				strerror(-ret));
			return 1;
		}
	}
	if (with_dev_fuse(opts, sizeof(opts), tmpl, &fuse_fd))
		return 1;
	ret = fsmount_fuse(dir, opts, &log);
	if (!ret && umount(dir))
		ret = -EBUSY;
	if (fuse_fd >= 0)
		close(fuse_fd);
	if (ret != -err || (err && strcmp(log.step, step)) ||
	    strcmp(log.msgs, err ? eperm : "")) {
		fprintf(stderr, "# mount API %s: %s at %s, log \"%s\"\n", opts,
			strerror(-ret), log.step, log.msgs);
		return 1;
	}
	return 0;
}

/*
 * As root of a user namespace of its own, in a mount namespace that
 * namespace owns: a plain FUSE mount is allowed, each fuse-bpf option is
 * refused.
 */
static int userns_child(const char *dir, int backing_fd, int dir_fd,
			int prog, uid_t uid, gid_t gid)
{
	char mnt[PATH_MAX], map[64];

	CHILD_CHECK(!unshare(CLONE_NEWUSER | CLONE_NEWNS));
	snprintf(map, sizeof(map), "0 %u 1", uid);
	CHILD_CHECK(!write_string("/proc/self/uid_map", map));
	CHILD_CHECK(!write_string("/proc/self/setgroups", "deny"));
	snprintf(map, sizeof(map), "0 %u 1", gid);
	CHILD_CHECK(!write_string("/proc/self/gid_map", map));
	CHILD_CHECK(getuid() == 0 && getgid() == 0);
	/* A directory of its own, on a tmpfs of this namespace */
	CHILD_CHECK(!mount("tmpfs", dir, "tmpfs", 0, NULL));
	CHILD_CHECK(!mkdir(at(mnt, dir, "mnt"), 0755));

	/* /dev/fuse is opened here, in the namespace that mounts */
	CHILD_CHECK(!child_mount(mnt, 0, NULL, "fd=DEV," FUSE_BASE_OPTS));

	/* Each fuse-bpf option is refused, at that option */
	CHILD_CHECK(!child_mount(mnt, EPERM, "root_dir",
				 "root_dir=%d,no_daemon," FUSE_BASE_OPTS,
				 backing_fd));
	CHILD_CHECK(!child_mount(mnt, EPERM, "root_dir",
				 "fd=DEV,root_dir=%d," FUSE_BASE_OPTS,
				 backing_fd));
	CHILD_CHECK(!child_mount(mnt, EPERM, "root_dir",
				 "root_dir=@%d,no_daemon," FUSE_BASE_OPTS,
				 dir_fd));
	CHILD_CHECK(!child_mount(mnt, EPERM, "no_daemon",
				 "no_daemon," FUSE_BASE_OPTS));
	CHILD_CHECK(!child_mount(mnt, EPERM, "fuse_bpf",
				 "fd=DEV,fuse_bpf," FUSE_BASE_OPTS));
	CHILD_CHECK(!child_mount(mnt, EPERM, "root_bpf",
				 "fd=DEV,root_bpf=%d," FUSE_BASE_OPTS, prog));
	/* And the plain mount still works after all that */
	CHILD_CHECK(!child_mount(mnt, 0, NULL, "fd=DEV," FUSE_BASE_OPTS));
	CHILD_CHECK(!umount(dir));
	return 0;
}

/*
 * Without CAP_SYS_ADMIN in the initial user namespace the fuse-bpf options
 * are refused, although a plain FUSE mount is allowed there.
 */
TEST_F(bad_opts, needs_init_ns_cap_sys_admin)
{
	struct fuse_filter *skel = fuse_filter__open_and_load();
	int status, dir_fd;
	pid_t pid;

	ASSERT_NE(NULL, skel);
	dir_fd = open(self->backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, dir_fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(userns_child(self->dir, self->backing_fd, dir_fd,
				   bpf_program__fd(skel->progs.fuse_filter),
				   getuid(), getgid()));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, close(dir_fd));
	fuse_filter__destroy(skel);
}

/* Each fuse-bpf level adds one to the stacking depth; 2 is the maximum */
TEST_F(bad_opts, stacking_too_deep)
{
	char mid[64], top[64], b[PATH_MAX], f[PATH_MAX], buf[16];
	int fd, ret, names = 0;
	ino_t ino = 0;
	struct dirent *d;
	struct stat bst;
	DIR *dir;

	snprintf(mid, sizeof(mid), "/tmp/fuse_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(mid));
	snprintf(top, sizeof(top), "/tmp/fuse_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(top));

	ret = mount_fuse_fmt(self->dir, "root_dir=%d,no_daemon," FUSE_BASE_OPTS,
			     self->backing_fd);
	ASSERT_EQ(0, ret);
	fd = open(self->dir, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, fd);
	ret = mount_fuse_fmt(mid, "root_dir=%d,no_daemon," FUSE_BASE_OPTS, fd);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(0, close(fd));
	/* fuse-bpf over fuse-bpf: lookups, reads and readdir nest cleanly */
	ASSERT_EQ(0, mkdir(at(b, self->backing, "d"), 0755));
	make_file(_metadata, at(b, self->backing, "d/f"), 0644, "deep");
	ASSERT_EQ(0, stat(b, &bst));
	expect_same_stat(_metadata, at(f, mid, "d/f"), b);
	ASSERT_EQ(4, read_all(f, buf, sizeof(buf)));
	EXPECT_STREQ("deep", buf);
	dir = opendir(at(f, mid, "d"));
	ASSERT_NE(NULL, dir);
	/* ".", ".." and "f", once each */
	while ((d = readdir(dir))) {
		names++;
		EXPECT_TRUE(!strcmp(d->d_name, "f") || d->d_name[0] == '.')
			TH_LOG("%s", d->d_name);
		if (!strcmp(d->d_name, "f"))
			ino = d->d_ino;
	}
	EXPECT_EQ(0, closedir(dir));
	EXPECT_EQ(3, names);
	EXPECT_EQ(bst.st_ino, ino);
	fd = open(at(f, mid, "d/f"), O_WRONLY | O_APPEND);
	ASSERT_LE(0, fd);
	EXPECT_EQ(1, write(fd, "!", 1));
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, truncate(f, 2));
	fd = open(mid, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, fd);
	expect_mount_error(_metadata, top, ELOOP, "root_dir",
			   "root_dir: maximum filesystem stacking depth exceeded",
			   "root_dir=%d,no_daemon," FUSE_BASE_OPTS, fd);
	EXPECT_EQ(0, close(fd));
	/* One level less is fine */
	fd = open(self->dir, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, fd);
	expect_mount_ok(_metadata, top, "root_dir=%d,no_daemon," FUSE_BASE_OPTS,
			fd);
	EXPECT_EQ(0, close(fd));

	EXPECT_EQ(0, umount(mid));
	EXPECT_EQ(0, umount(self->dir));
	EXPECT_EQ(0, rmdir(mid));
	EXPECT_EQ(0, rmdir(top));
}

/*
 * After the FUSE mount is gone, nothing holds on to the backing mount:
 * a reference leaked by lookup, revalidation, open or mmap would keep it
 * busy.
 */
TEST_F(bad_opts, no_backing_reference_leak)
{
	char tmp[64], b[PATH_MAX], f[PATH_MAX], buf[16];
	struct stat st;
	void *map;
	int fd, i;

	snprintf(tmp, sizeof(tmp), "/tmp/fuse_backing.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(tmp));
	ASSERT_EQ(0, mount("tmpfs", tmp, "tmpfs", 0, NULL));
	ASSERT_EQ(0, mkdir(at(b, tmp, "d"), 0755));
	make_file(_metadata, at(b, tmp, "d/f"), 0644, "data");
	fd = open(tmp, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mount_fuse_fmt(self->dir,
				    "root_dir=%d,no_daemon," FUSE_BASE_OPTS,
				    fd));
	ASSERT_EQ(0, close(fd));

	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, stat(at(f, self->dir, "d/f"), &st));
		errno = 0;
		ASSERT_EQ(-1, stat(at(f, self->dir, "d/missing"), &st));
	}
	/* Revalidations that fail */
	ASSERT_EQ(0, rename(at(b, tmp, "d/f"), at(f, tmp, "d/g")));
	ASSERT_EQ(-1, stat(at(f, self->dir, "d/f"), &st));
	fd = open(at(f, self->dir, "d/g"), O_RDWR);
	ASSERT_LE(0, fd);
	map = mmap(NULL, 4, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, memcmp(map, "data", 4));
	ASSERT_EQ(0, munmap(map, 4));
	ASSERT_EQ(4, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "data", 4));
	ASSERT_EQ(0, close(fd));

	ASSERT_EQ(0, umount(self->dir));
	EXPECT_EQ(0, umount(tmp)) TH_LOG("backing mount busy: %s",
					 strerror(errno));
	EXPECT_EQ(0, rmdir(tmp));
}

/*
 * New objects belong to their creator, as on any filesystem, while the
 * FUSE side (default_permissions) decides who may create them.
 */
TEST_F(bad_opts, create_owner)
{
	char b[PATH_MAX], f[PATH_MAX];
	int status;
	struct stat st;
	pid_t pid;

	ASSERT_EQ(0, mkdir(at(b, self->backing, "pub"), 0777));
	ASSERT_EQ(0, chmod(b, 0777));
	ASSERT_EQ(0, chmod(self->backing, 0755));
	ASSERT_EQ(0, mount_fuse_fmt(self->dir,
				    "root_dir=%d,no_daemon,allow_other,default_permissions,"
				    FUSE_BASE_OPTS, self->backing_fd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		static const struct test_user user = {
			.uid = 1000,
			.gid = 1001,
		};

		umask(0);
		if (!become_user(&user))
			_exit(10);
		if (mkdir(at(f, self->dir, "pub/d"), 0750))
			_exit(11);
		if (mknod(at(f, self->dir, "pub/d/f"), S_IFREG | 0640, 0))
			_exit(12);
		if (symlink("f", at(f, self->dir, "pub/d/l")))
			_exit(13);
		/* The root is 0755 root's: the caller may not write there */
		if (mkdir(at(f, self->dir, "d"), 0755) != -1 || errno != EACCES)
			_exit(14);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	ASSERT_EQ(0, lstat(at(b, self->backing, "pub/d"), &st));
	EXPECT_EQ(S_IFDIR | 0750, st.st_mode);
	EXPECT_EQ(1000, st.st_uid);
	EXPECT_EQ(1001, st.st_gid);
	ASSERT_EQ(0, lstat(at(b, self->backing, "pub/d/f"), &st));
	EXPECT_EQ(S_IFREG | 0640, st.st_mode);
	EXPECT_EQ(1000, st.st_uid);
	EXPECT_EQ(1001, st.st_gid);
	ASSERT_EQ(0, lstat(at(b, self->backing, "pub/d/l"), &st));
	EXPECT_EQ(1000, st.st_uid);
	expect_same_stat(_metadata, at(f, self->dir, "pub/d/f"),
			 at(b, self->backing, "pub/d/f"));
	expect_enoent(_metadata, at(b, self->backing, "d"));
	EXPECT_EQ(0, umount(self->dir));
}

/* Create a file, a directory and a fifo under @dir with umask 027 */
static void create_masked(struct __test_metadata *_metadata, const char *dir)
{
	char f[PATH_MAX];
	struct stat st;
	mode_t old = umask(027);
	int fd;

	fd = open(at(f, dir, "created"), O_CREAT | O_EXCL | O_WRONLY, 0666);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", f, strerror(errno));
	EXPECT_EQ(0, close(fd));
	ASSERT_EQ(0, mkdir(at(f, dir, "dir"), 0777));
	ASSERT_EQ(0, mknod(at(f, dir, "fifo"), S_IFIFO | 0666, 0));
	umask(old);
	ASSERT_EQ(0, stat(at(f, dir, "created"), &st));
	EXPECT_EQ(S_IFREG | 0640, st.st_mode);
	ASSERT_EQ(0, stat(at(f, dir, "dir"), &st));
	EXPECT_EQ(S_IFDIR | 0750, st.st_mode);
	ASSERT_EQ(0, stat(at(f, dir, "fifo"), &st));
	EXPECT_EQ(S_IFIFO | 0640, st.st_mode);
}

/*
 * The umask applies once, whether the backing filesystem applies it
 * (with POSIX ACLs) or not (ramfs has none).
 */
TEST_F(bad_opts, create_umask)
{
	char ram[64] = "/tmp/fuse_ramfs.XXXXXX";
	int ram_fd;

	ASSERT_EQ(0, mount_fuse_fmt(self->dir, "root_dir=%d,no_daemon,"
				    FUSE_BASE_OPTS, self->backing_fd));
	create_masked(_metadata, self->dir);
	EXPECT_EQ(0, umount(self->dir));

	ASSERT_NE(NULL, mkdtemp(ram));
	ASSERT_EQ(0, mount("ramfs", ram, "ramfs", 0, NULL));
	ram_fd = open(ram, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, ram_fd);
	ASSERT_EQ(0, mount_fuse_fmt(self->dir, "root_dir=%d,no_daemon,"
				    FUSE_BASE_OPTS, ram_fd));
	create_masked(_metadata, self->dir);
	EXPECT_EQ(0, umount(self->dir));
	EXPECT_EQ(0, close(ram_fd));
	EXPECT_EQ(0, umount(ram));
	EXPECT_EQ(0, rmdir(ram));
}

#define ACL_ACCESS	"system.posix_acl_access"
#define ACL_DEFAULT	"system.posix_acl_default"

/* A POSIX ACL in its xattr form: owner, one named user, mask, other */
struct test_acl {
	struct posix_acl_xattr_header h;
	struct posix_acl_xattr_entry e[5];
};

static struct test_acl make_acl(int owner, int user, int group, int mask)
{
	struct test_acl acl = {
		.h.a_version = POSIX_ACL_XATTR_VERSION,
		.e = {
			{ ACL_USER_OBJ, owner, ACL_UNDEFINED_ID },
			{ ACL_USER, user, 1000 },
			{ ACL_GROUP_OBJ, group, ACL_UNDEFINED_ID },
			{ ACL_MASK, mask, ACL_UNDEFINED_ID },
			{ ACL_OTHER, 0, ACL_UNDEFINED_ID },
		},
	};

	return acl;
}

/*
 * Run @fn(@path, @arg) as @uid (group @uid, no other groups), in a child.
 * Returns 0 if it succeeded, the errno it failed with, or -1.
 */
static int run_as(uid_t uid, int (*fn)(const char *path, const void *arg),
		  const char *path, const void *arg)
{
	const struct test_user user = { .uid = uid, .gid = uid };

	return run_as_user(&user, fn, path, arg);
}

static int do_open(const char *path, const void *flags)
{
	return open(path, *(const int *)flags);
}

/* Can @uid open @path with @flags? 0 or the errno */
static int open_as(uid_t uid, const char *path, int flags)
{
	return run_as(uid, do_open, path, &flags);
}

static int do_set_acl(const char *path, const void *acl)
{
	return setxattr(path, ACL_ACCESS, acl, sizeof(struct test_acl), 0);
}

/* Can @uid set the access ACL of @path to @acl? 0 or the errno */
static int set_acl_as(uid_t uid, const char *path, const struct test_acl *acl)
{
	return run_as(uid, do_set_acl, path, acl);
}

/* POSIX ACLs are the backing inode's: set, read, enforced, inherited */
TEST_F(bad_opts, posix_acl)
{
	struct test_acl acl = make_acl(6, 4, 0, 4);
	struct test_acl dacl = make_acl(7, 7, 5, 7);
	/* dacl masked by the creation mode 0666 */
	struct test_acl inherited = make_acl(6, 7, 5, 6);
	char b[PATH_MAX], f[PATH_MAX], d[PATH_MAX];
	struct test_acl got;
	struct stat st;
	int fd;

	ASSERT_EQ(0, chmod(self->backing, 0755));
	ASSERT_EQ(0, mount_fuse_fmt(self->dir,
				    "root_dir=%d,no_daemon,allow_other,default_permissions,"
				    FUSE_BASE_OPTS, self->backing_fd));
	fd = open(at(f, self->dir, "f"), O_CREAT | O_EXCL | O_WRONLY, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, close(fd));
	ASSERT_EQ(EACCES, open_as(1000, f, O_RDONLY));

	ASSERT_EQ(0, setxattr(f, ACL_ACCESS, &acl,
			      sizeof(acl), 0));
	memset(&got, 0, sizeof(got));
	EXPECT_EQ(sizeof(got), getxattr(f, ACL_ACCESS, &got,
					sizeof(got)));
	EXPECT_EQ(0, memcmp(&acl, &got, sizeof(got)));
	memset(&got, 0, sizeof(got));
	EXPECT_EQ(sizeof(got), getxattr(at(b, self->backing, "f"),
					ACL_ACCESS, &got,
					sizeof(got)));
	EXPECT_EQ(0, memcmp(&acl, &got, sizeof(got)));
	/* The group bits show the mask */
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(S_IFREG | 0640, st.st_mode);
	/* The named user may read, not write; nobody else may */
	EXPECT_EQ(0, open_as(1000, f, O_RDONLY));
	EXPECT_EQ(EACCES, open_as(1000, f, O_WRONLY));
	EXPECT_EQ(EACCES, open_as(1001, f, O_RDONLY));

	/* A default ACL is inherited, and the umask does not apply then */
	ASSERT_EQ(0, mkdir(at(d, self->dir, "d"), 0777));
	ASSERT_EQ(0, setxattr(d, ACL_DEFAULT, &dacl,
			      sizeof(dacl), 0));
	memset(&got, 0, sizeof(got));
	EXPECT_EQ(sizeof(got), getxattr(d, ACL_DEFAULT, &got, sizeof(got)));
	EXPECT_EQ(0, memcmp(&dacl, &got, sizeof(got)));
	memset(&got, 0, sizeof(got));
	EXPECT_EQ(sizeof(got), getxattr(at(b, self->backing, "d"),
					ACL_DEFAULT, &got, sizeof(got)));
	EXPECT_EQ(0, memcmp(&dacl, &got, sizeof(got)));
	umask(022);
	fd = open(at(f, self->dir, "d/g"), O_CREAT | O_EXCL | O_WRONLY, 0666);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, close(fd));
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(S_IFREG | 0660, st.st_mode);
	memset(&got, 0, sizeof(got));
	EXPECT_EQ(sizeof(got), getxattr(f, ACL_ACCESS, &got,
					sizeof(got)));
	EXPECT_EQ(0, memcmp(&inherited, &got, sizeof(got)));
	EXPECT_EQ(0, open_as(1000, f, O_WRONLY));

	/* The owner, not in the file's group, loses the setgid bit */
	fd = open(at(f, self->dir, "sgid"), O_CREAT | O_EXCL | O_WRONLY, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, close(fd));
	ASSERT_EQ(0, chown(f, 1000, 0));
	ASSERT_EQ(0, chmod(f, 02770));
	EXPECT_EQ(0, set_acl_as(1000, f, &acl));
	ASSERT_EQ(0, stat(at(b, self->backing, "sgid"), &st));
	EXPECT_EQ(S_IFREG | 0640, st.st_mode);
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(S_IFREG | 0640, st.st_mode);

	/* Removed: plain mode bits again */
	ASSERT_EQ(0, removexattr(at(f, self->dir, "f"),
				 ACL_ACCESS));
	errno = 0;
	EXPECT_EQ(-1, getxattr(f, ACL_ACCESS, &got,
			       sizeof(got)));
	EXPECT_EQ(ENODATA, errno);
	EXPECT_EQ(EACCES, open_as(1000, f, O_RDONLY));
	EXPECT_EQ(0, umount(self->dir));
}

/* Operations that modify a filesystem, each tried on a read-only one */
enum ro_op {
	RO_OPEN_WRONLY,
	RO_OPEN_CREAT,
	RO_OPEN_TRUNC,
	RO_CREAT,
	RO_MKDIR,
	RO_MKFIFO,
	RO_SYMLINK,
	RO_LINK,
	RO_UNLINK,
	RO_UNLINK_SYMLINK,
	RO_RMDIR,
	RO_RENAME,
	RO_CHMOD,
	RO_CHOWN,
	RO_UTIMENSAT,
	RO_TRUNCATE,
	RO_SETXATTR,
	RO_REMOVEXATTR,
	RO_SET_ACL,
	RO_SETFLAGS,
	RO_TMPFILE,
	RO_NR_OPS
};

static const char * const ro_op_names[RO_NR_OPS] = {
	[RO_OPEN_WRONLY] = "open O_WRONLY",
	[RO_OPEN_CREAT] = "open O_RDWR | O_CREAT of a new name",
	[RO_OPEN_TRUNC] = "open O_RDONLY | O_TRUNC",
	[RO_CREAT] = "creat",
	[RO_MKDIR] = "mkdir",
	[RO_MKFIFO] = "mknod S_IFIFO",
	[RO_SYMLINK] = "symlink",
	[RO_LINK] = "link",
	[RO_UNLINK] = "unlink",
	[RO_UNLINK_SYMLINK] = "unlink of a symlink",
	[RO_RMDIR] = "rmdir",
	[RO_RENAME] = "rename",
	[RO_CHMOD] = "chmod",
	[RO_CHOWN] = "chown",
	[RO_UTIMENSAT] = "utimensat",
	[RO_TRUNCATE] = "truncate",
	[RO_SETXATTR] = "setxattr user.x",
	[RO_REMOVEXATTR] = "removexattr user.old",
	[RO_SET_ACL] = "setxattr " ACL_ACCESS,
	[RO_SETFLAGS] = "FS_IOC_SETFLAGS",
	[RO_TMPFILE] = "open O_TMPFILE",
};

/* 0 for a descriptor, closed; else the errno */
static int opened(int fd)
{
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* The errno of a call that returned @ret, 0 if it succeeded */
static int result(int ret)
{
	return ret ? errno : 0;
}

/*
 * Try @op in @dir, which holds the file "f" (with the xattr user.old),
 * the empty directory "d" and the symlink "l". Returns 0 if it
 * succeeded, else its errno.
 */
static int ro_try(enum ro_op op, const char *dir)
{
	struct test_acl acl = make_acl(6, 4, 4, 4);
	char p[PATH_MAX], q[PATH_MAX];
	int fd, ret, flags;

	switch (op) {
	case RO_OPEN_WRONLY:
		return opened(open(at(p, dir, "f"), O_WRONLY));
	case RO_OPEN_CREAT:
		return opened(open(at(p, dir, "new"), O_RDWR | O_CREAT, 0644));
	case RO_OPEN_TRUNC:
		return opened(open(at(p, dir, "f"), O_RDONLY | O_TRUNC));
	case RO_CREAT:
		return opened(creat(at(p, dir, "new"), 0644));
	case RO_MKDIR:
		return result(mkdir(at(p, dir, "new"), 0755));
	case RO_MKFIFO:
		return result(mknod(at(p, dir, "new"), S_IFIFO | 0644, 0));
	case RO_SYMLINK:
		return result(symlink("f", at(p, dir, "new")));
	case RO_LINK:
		return result(link(at(p, dir, "f"), at(q, dir, "new")));
	case RO_UNLINK:
		return result(unlink(at(p, dir, "f")));
	case RO_UNLINK_SYMLINK:
		return result(unlink(at(p, dir, "l")));
	case RO_RMDIR:
		return result(rmdir(at(p, dir, "d")));
	case RO_RENAME:
		return result(rename(at(p, dir, "f"), at(q, dir, "new")));
	case RO_CHMOD:
		return result(chmod(at(p, dir, "f"), 0600));
	case RO_CHOWN:
		return result(chown(at(p, dir, "f"), 1000, 1000));
	case RO_UTIMENSAT:
		return result(utimensat(AT_FDCWD, at(p, dir, "f"), NULL, 0));
	case RO_TRUNCATE:
		return result(truncate(at(p, dir, "f"), 0));
	case RO_SETXATTR:
		return result(setxattr(at(p, dir, "f"), "user.x", "x", 1, 0));
	case RO_REMOVEXATTR:
		return result(removexattr(at(p, dir, "f"), "user.old"));
	case RO_SET_ACL:
		return result(setxattr(at(p, dir, "f"), ACL_ACCESS, &acl,
				       sizeof(acl), 0));
	case RO_SETFLAGS:
		/* Reading the flags is fine, changing them is not */
		fd = open(at(p, dir, "f"), O_RDONLY);
		if (fd < 0)
			return errno;
		ret = ioctl(fd, FS_IOC_GETFLAGS, &flags);
		if (!ret) {
			flags ^= FS_NOATIME_FL;
			ret = ioctl(fd, FS_IOC_SETFLAGS, &flags);
		}
		ret = result(ret);
		close(fd);
		return ret;
	case RO_TMPFILE:
		return opened(open(dir, O_TMPFILE | O_RDWR, 0600));
	default:
		/* Not an operation: no errno */
		return -1;
	}
}

/*
 * A backing directory on a read-only mount: every operation that would
 * modify it fails with EROFS, as on that mount itself, although the FUSE
 * mount is read-write; reading works.
 */
TEST_F(bad_opts, read_only_backing)
{
	char ro[64] = "/tmp/fuse_ro.XXXXXX";
	char b[PATH_MAX], f[PATH_MAX], buf[16];
	static struct dirent_rec frecs[8], brecs[8];
	int i, n, fd, berr, ferr;
	struct statfs sfs;

	make_file(_metadata, at(b, self->backing, "f"), 0644, "data");
	ASSERT_EQ(0, setxattr(b, "user.old", "old", 3, 0));
	ASSERT_EQ(0, mkdir(at(b, self->backing, "d"), 0755));
	ASSERT_EQ(0, symlink("f", at(b, self->backing, "l")));
	ASSERT_NE(NULL, mkdtemp(ro));
	ASSERT_EQ(0, mount(self->backing, ro, NULL, MS_BIND, NULL));
	ASSERT_EQ(0, mount(NULL, ro, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY,
			   NULL));
	ASSERT_EQ(0, statfs(ro, &sfs));
	ASSERT_EQ(ST_RDONLY, sfs.f_flags & ST_RDONLY);
	fd = open(ro, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mount_fuse_fmt(self->dir,
				    "root_dir=%d,no_daemon," FUSE_BASE_OPTS,
				    fd));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, statfs(self->dir, &sfs));
	ASSERT_EQ(0, sfs.f_flags & ST_RDONLY);

	for (i = 0; i < RO_NR_OPS; i++) {
		berr = ro_try(i, ro);
		ferr = ro_try(i, self->dir);
		EXPECT_EQ(EROFS, berr)
			TH_LOG("%s on the read-only mount: %s", ro_op_names[i],
			       strerror(berr));
		EXPECT_EQ(berr, ferr)
			TH_LOG("%s through fuse: %s, on the backing: %s",
			       ro_op_names[i], strerror(ferr), strerror(berr));
		EXPECT_EQ(EROFS, ferr)
			TH_LOG("%s through fuse: %s", ro_op_names[i],
			       strerror(ferr));
	}

	/* Reads work, and show nothing changed */
	ASSERT_EQ(4, read_all(at(f, self->dir, "f"), buf, sizeof(buf)));
	EXPECT_STREQ("data", buf);
	expect_same_stat(_metadata, f, at(b, ro, "f"));
	expect_readlink(_metadata, at(f, self->dir, "l"), "f");
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(3, getxattr(at(f, self->dir, "f"), "user.old", buf,
			      sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "old", 4));
	errno = 0;
	EXPECT_EQ(-1, getxattr(f, "user.x", buf, sizeof(buf)));
	EXPECT_EQ(ENODATA, errno);
	expect_same_stat(_metadata, at(f, self->dir, "d"), at(b, ro, "d"));
	n = read_dir_raw(ro, brecs, ARRAY_SIZE(brecs));
	/* ".", "..", "d", "f", "file" of the fixture, "l" */
	ASSERT_EQ(6, n);
	ASSERT_EQ(n, read_dir_raw(self->dir, frecs, ARRAY_SIZE(frecs)));
	for (i = 0; i < n; i++) {
		EXPECT_STREQ(brecs[i].name, frecs[i].name);
		EXPECT_EQ(brecs[i].d_ino, frecs[i].d_ino);
	}

	EXPECT_EQ(0, umount(self->dir));
	EXPECT_EQ(0, umount(ro));
	EXPECT_EQ(0, rmdir(ro));
}

/* BPF_FUSE_USER with no daemon: the operation fails, nothing hangs */
TEST_F(bad_opts, no_daemon_user_fallback)
{
	struct fuse_filter *skel = fuse_filter__open_and_load();
	char f[PATH_MAX];
	struct stat st;

	ASSERT_NE(NULL, skel);
	skel->bss->user_size = sizeof("file");
	ASSERT_EQ(0, mount_fuse_fmt(self->dir,
				    "root_dir=%d,no_daemon,root_bpf=%d,"
				    FUSE_BASE_OPTS, self->backing_fd,
				    bpf_program__fd(skel->progs.fuse_filter)));
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "file"), &st));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(1, skel->bss->pre[FUSE_LOOKUP]);
	EXPECT_EQ(0, umount(self->dir));
	fuse_filter__destroy(skel);
}

/*
 * A user namespace with a mapping, for idmapped mounts: the fd of its
 * ns file, and the child that holds it in *@pid (to be killed and reaped).
 */
static int make_userns(pid_t *pid)
{
	char path[64], map[] = "0 100000 65536";
	int sync[2], fd, i;
	char c;

	if (pipe(sync))
		return -1;
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (*pid == 0) {
		close(sync[1]);
		if (unshare(CLONE_NEWUSER))
			_exit(1);
		/* Holds the namespace until the parent is done with it */
		_exit(read(sync[0], &c, 1) < 0);
	}
	close(sync[0]);
	fd = -1;
	/* Written once the child has unshared: retry until it has */
	for (i = 0; i < 100000 && fd < 0; i++) {
		int ufd, gfd;

		snprintf(path, sizeof(path), "/proc/%d/uid_map", *pid);
		ufd = open(path, O_WRONLY);
		snprintf(path, sizeof(path), "/proc/%d/gid_map", *pid);
		gfd = open(path, O_WRONLY);
		if (ufd >= 0 && gfd >= 0 &&
		    write(ufd, map, strlen(map)) == strlen(map) &&
		    write(gfd, map, strlen(map)) == strlen(map)) {
			snprintf(path, sizeof(path), "/proc/%d/ns/user", *pid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
		}
		if (ufd >= 0)
			close(ufd);
		if (gfd >= 0)
			close(gfd);
	}
	close(sync[1]);
	return fd;
}

/* Idmap a detached copy of the mount at @dir: 0 or the errno */
static int idmap_mount(const char *dir, int userns_fd)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_IDMAP,
		.userns_fd = userns_fd,
	};
	int fd, err = 0;

	fd = open_tree(AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return errno;
	if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)))
		err = errno;
	close(fd);
	return err;
}

/*
 * Backed inodes do not map owners through an idmapped FUSE mount: such
 * mounts are refused with EINVAL, even when the server offers
 * FUSE_ALLOW_IDMAP, while the ext4 backing itself can be idmapped.
 */
TEST_F(bad_opts, idmapped_mount_refused)
{
	struct test_daemon *td;
	int userns_fd, fuse_fd, status;
	pid_t pid;

	userns_fd = make_userns(&pid);
	ASSERT_LE(0, userns_fd) TH_LOG("user namespace: %s", strerror(errno));

	/* The control: the backing filesystem supports idmapped mounts */
	EXPECT_EQ(0, idmap_mount(self->backing, userns_fd));

	ASSERT_EQ(0, mount_fuse_fmt(self->dir,
				    "root_dir=%d,no_daemon,default_permissions,%s",
				    self->backing_fd, FUSE_BASE_OPTS));
	EXPECT_EQ(EINVAL, idmap_mount(self->dir, userns_fd));
	EXPECT_EQ(0, umount(self->dir));

	/* A server offering FUSE_ALLOW_IDMAP does not change that */
	memset(&bpf_daemon_state, 0, sizeof(bpf_daemon_state));
	bpf_daemon_state.backing_dir = self->backing;
	start_bpf_daemon(_metadata, self->dir, "fuse_bpf,default_permissions",
			 FUSE_ALLOW_IDMAP, &fuse_fd, &td);
	EXPECT_EQ(FUSE_ALLOW_IDMAP,
		  bpf_daemon_state.init_flags & FUSE_ALLOW_IDMAP);
	EXPECT_EQ(EINVAL, idmap_mount(self->dir, userns_fd));
	stop_bpf_daemon(_metadata, self->dir, fuse_fd, td);

	EXPECT_EQ(0, close(userns_fd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
}

/* What a former owner still tries through the file it opened */
enum { STALE_CHMOD, STALE_UTIMES, STALE_ACL, STALE_FLAGS, STALE_NR };

static const char *const stale_ops[STALE_NR] = {
	"fchmod", "futimens", "fsetxattr(ACL)", "FS_IOC_SETFLAGS",
};

/* Run the STALE_* calls on @fd: their results, 0 or errno, in @res */
static void stale_calls(int fd, int *res)
{
	struct timespec times[2] = { { .tv_sec = 1 }, { .tv_sec = 2 } };
	struct test_acl acl = make_acl(6, 4, 4, 4);
	int flags = FS_NODUMP_FL;

	res[STALE_CHMOD] = fchmod(fd, 0640) ? errno : 0;
	res[STALE_UTIMES] = futimens(fd, times) ? errno : 0;
	res[STALE_ACL] = fsetxattr(fd, ACL_ACCESS, &acl, sizeof(acl), 0) ?
			 errno : 0;
	res[STALE_FLAGS] = ioctl(fd, FS_IOC_SETFLAGS, &flags) ? errno : 0;
}

/*
 * Owner decisions use the backing inode's owner of now: a chown made on
 * the backing directly takes chmod, explicit times, ACLs and inode flags
 * away from the former owner, even through a file it opened before, whose
 * FUSE inode is not looked up again.
 */
TEST_F(bad_opts, stale_owner_refreshed)
{
	static const struct test_user former = { .uid = 1000, .gid = 1000 };
	int before[STALE_NR], after[STALE_NR], go[2], done[2], status, fd, i;
	char b[PATH_MAX], f[PATH_MAX];
	struct stat bst;
	pid_t pid;
	char c;

	make_file(_metadata, at(b, self->backing, "f"), 0644, "data");
	ASSERT_EQ(0, chown(b, 1000, 1000));
	ASSERT_EQ(0, chmod(self->backing, 0755));
	ASSERT_EQ(0, mount_fuse_fmt(self->dir,
				    "root_dir=%d,no_daemon,allow_other,%s",
				    self->backing_fd, FUSE_BASE_OPTS));
	at(f, self->dir, "f");
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (!become_user(&former))
			_exit(1);
		fd = open(f, O_RDONLY);
		if (fd < 0)
			_exit(2);
		/* The owner may: the control */
		stale_calls(fd, before);
		if (write(done[1], before, sizeof(before)) != sizeof(before) ||
		    read(go[0], &c, 1) != 1)
			_exit(3);
		stale_calls(fd, after);
		if (write(done[1], after, sizeof(after)) != sizeof(after))
			_exit(4);
		_exit(0);
	}
	ASSERT_EQ(sizeof(before), read(done[0], before, sizeof(before)));
	for (i = 0; i < STALE_NR; i++)
		EXPECT_EQ(0, before[i])
			TH_LOG("%s by the owner: %s", stale_ops[i],
			       strerror(before[i]));
	/*
	 * Undo the control and give the file away behind the mount's back,
	 * as root, on the backing
	 */
	fd = open(b, O_RDONLY);
	ASSERT_LE(0, fd);
	i = 0;
	ASSERT_EQ(0, ioctl(fd, FS_IOC_SETFLAGS, &i));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, removexattr(b, ACL_ACCESS));
	ASSERT_EQ(0, utimensat(AT_FDCWD, b, NULL, 0));
	ASSERT_EQ(0, chown(b, 0, 0));
	ASSERT_EQ(0, chmod(b, 0644));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(sizeof(after), read(done[0], after, sizeof(after)));
	for (i = 0; i < STALE_NR; i++)
		EXPECT_EQ(EPERM, after[i])
			TH_LOG("%s by the former owner: %s", stale_ops[i],
			       strerror(after[i]));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));

	ASSERT_EQ(0, stat(b, &bst));
	EXPECT_EQ(S_IFREG | 0644, bst.st_mode);
	EXPECT_EQ(0, bst.st_uid);
	EXPECT_NE(2, bst.st_mtim.tv_sec);
	EXPECT_EQ(-1, getxattr(b, ACL_ACCESS, NULL, 0));
	fd = open(b, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_GETFLAGS, &i));
	EXPECT_EQ(0, i & FS_NODUMP_FL);
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(0, umount(self->dir));
	EXPECT_EQ(0, close(go[0]));
	EXPECT_EQ(0, close(go[1]));
	EXPECT_EQ(0, close(done[0]));
	EXPECT_EQ(0, close(done[1]));
}

static int do_chmod(const char *path, const void *mode)
{
	return chmod(path, *(const mode_t *)mode);
}

/*
 * A server's attributes never overwrite a backed inode: not those of the
 * LOOKUP reply that attached the backing, nor those of each revalidation.
 * The user they name gets nothing from them.
 */
TEST_F(bad_opts, server_attrs_ignored)
{
	static const struct lookup_reply replies[] = {
		{ .name = "file", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .uncached = true, .lie = true, .via = TD_REPLY_IOCTL },
	};
	const mode_t mode = 0777;
	char b[PATH_MAX], f[PATH_MAX];
	struct test_daemon *td;
	struct stat st;
	int fuse_fd, i;

	make_file(_metadata, at(b, self->backing, "data"), 0600, "secret");
	memset(&bpf_daemon_state, 0, sizeof(bpf_daemon_state));
	bpf_daemon_state.backing_dir = self->backing;
	serve_lookups(replies, ARRAY_SIZE(replies));
	start_bpf_daemon(_metadata, self->dir, "fuse_bpf,allow_other", 0,
			 &fuse_fd, &td);

	at(f, self->dir, "file");
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, stat(f, &st)) TH_LOG("%s", strerror(errno));
		EXPECT_EQ(S_IFREG | 0600, st.st_mode);
		EXPECT_EQ(0, st.st_uid);
		EXPECT_EQ(0, st.st_gid);
		EXPECT_EQ(6, st.st_size);
	}
	EXPECT_EQ(EACCES, open_as(1000, f, O_RDONLY));
	EXPECT_EQ(EACCES, open_as(1000, f, O_WRONLY));
	EXPECT_EQ(EPERM, run_as(1000, do_chmod, f, &mode));
	ASSERT_EQ(0, stat(b, &st));
	EXPECT_EQ(S_IFREG | 0600, st.st_mode);
	/* Each use revalidated the entry, with the same attributes */
	EXPECT_LE(4, count_lookups(td, "file"));
	stop_bpf_daemon(_metadata, self->dir, fuse_fd, td);
}

/* The node id READDIRPLUS gives "file", with the attributes of a directory */
static __u64 rdp_nodeid;

static int rdp_opendir(struct test_daemon *td, struct td_req *req)
{
	struct fuse_open_out *out = req->out;

	out->fh = 1;
	req->out_len = sizeof(*out);
	return 0;
}

static int rdp_readdirplus(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_read_in *in = req->arg;
	struct fuse_direntplus *d = req->out;

	/* One entry, then the end of the directory */
	if (in->offset)
		return 0;
	d->entry_out.nodeid = rdp_nodeid;
	d->entry_out.generation = 1;
	d->entry_out.entry_valid = 10;
	d->entry_out.attr_valid = 10;
	d->entry_out.attr.ino = rdp_nodeid;
	d->entry_out.attr.mode = S_IFDIR | 0777;
	d->entry_out.attr.nlink = 2;
	d->dirent.ino = rdp_nodeid;
	d->dirent.off = 1;
	d->dirent.namelen = 4;
	d->dirent.type = DT_DIR;
	memcpy(d->dirent.name, "file", 4);
	req->out_len = FUSE_DIRENTPLUS_SIZE(d);
	return 0;
}

static int rdp_releasedir(struct test_daemon *td, struct td_req *req)
{
	return 0;
}

/*
 * READDIRPLUS carries no backing: an entry that names a backed child
 * neither replaces it nor makes it bad, whatever its attributes say. With
 * the child's node id it counts as a lookup of it; with another one, the
 * server is told to forget that one at once.
 */
TEST_F(bad_opts, readdirplus_keeps_backed_child)
{
	static const struct lookup_reply replies[] = {
		{ .name = "file", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .via = TD_REPLY_IOCTL },
	};
	static const __u64 nodeids[] = { 5, 7 };
	static struct td_log_entry log[TD_LOG_SIZE];
	char b[PATH_MAX], f[PATH_MAX], buf[16];
	unsigned long long dents[512];
	int fuse_fd, fd, seen, forgot7 = 0;
	struct test_daemon *td;
	struct dirent64 *de;
	long len, off;
	struct stat st;
	size_t i, n;

	make_file(_metadata, at(b, self->backing, "data"), 0600, "secret");
	memset(&bpf_daemon_state, 0, sizeof(bpf_daemon_state));
	bpf_daemon_state.backing_dir = self->backing;
	serve_lookups(replies, ARRAY_SIZE(replies));
	start_bpf_daemon(_metadata, self->dir, "fuse_bpf",
			 FUSE_DO_READDIRPLUS, &fuse_fd, &td);
	ASSERT_EQ(0, test_daemon_set_handler(td, FUSE_OPENDIR, rdp_opendir,
					     NULL));
	ASSERT_EQ(0, test_daemon_set_handler(td, FUSE_READDIRPLUS,
					     rdp_readdirplus, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(td, FUSE_RELEASEDIR,
					     rdp_releasedir, NULL));

	at(f, self->dir, "file");
	ASSERT_EQ(0, stat(f, &st)) TH_LOG("%s", strerror(errno));
	for (i = 0; i < ARRAY_SIZE(nodeids); i++) {
		rdp_nodeid = nodeids[i];
		/* Not opendir(): its fstat() would send GETATTR of the root */
		fd = open(self->dir, O_RDONLY | O_DIRECTORY);
		ASSERT_LE(0, fd) TH_LOG("%s", strerror(errno));
		seen = 0;
		while ((len = syscall(SYS_getdents64, fd, dents,
				      sizeof(dents))) > 0) {
			for (off = 0; off < len; off += de->d_reclen) {
				de = (struct dirent64 *)((char *)dents + off);
				seen += !strcmp(de->d_name, "file");
			}
		}
		EXPECT_EQ(0, len) TH_LOG("%s", strerror(errno));
		EXPECT_EQ(0, close(fd));
		EXPECT_EQ(1, seen);

		ASSERT_EQ(0, stat(f, &st))
			TH_LOG("node %llu: %s", nodeids[i], strerror(errno));
		EXPECT_EQ(S_IFREG | 0600, st.st_mode);
		EXPECT_EQ(6, st.st_size);
		EXPECT_EQ(6, read_all(f, buf, sizeof(buf)));
		EXPECT_EQ(0, memcmp(buf, "secret", 6));
	}

	/* One LOOKUP: the entry was never replaced; node 7 forgotten */
	ASSERT_EQ(0, test_daemon_sync(td, TD_STOP_TIMEOUT_MS));
	EXPECT_EQ(1, count_lookups(td, "file"));
	n = test_daemon_get_log(td, log, TD_LOG_SIZE);
	for (i = 0; i < n && i < TD_LOG_SIZE; i++) {
		EXPECT_NE(0, log[i].nodeid || log[i].opcode == FUSE_INIT);
		if (log[i].opcode == FUSE_FORGET) {
			EXPECT_EQ(7, log[i].nodeid);
			forgot7++;
		}
	}
	EXPECT_EQ(1, forgot7);
	stop_bpf_daemon(_metadata, self->dir, fuse_fd, td);
}

/*
 * Nor may procfs or bpffs be the root_dir of a mount (a server may not
 * attach them either, see bpf_test's lookup_replace_special_files)
 */
TEST_F(bad_opts, root_dir_special_filesystems)
{
	char bpffs[64];
	int fd;

	fd = open("/proc/self", O_PATH | O_DIRECTORY);
	ASSERT_LE(0, fd);
	expect_mount_error(_metadata, self->dir, EINVAL, "root_dir",
			   "root_dir: not on a filesystem that may back fuse-bpf",
			   "root_dir=%d,no_daemon," FUSE_BASE_OPTS, fd);
	EXPECT_EQ(0, close(fd));

	snprintf(bpffs, sizeof(bpffs), "/tmp/fuse_bpffs.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(bpffs));
	ASSERT_EQ(0, mount("bpf", bpffs, "bpf", 0, NULL));
	fd = open(bpffs, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, fd);
	expect_mount_error(_metadata, self->dir, EINVAL, "root_dir",
			   "root_dir: not on a filesystem that may back fuse-bpf",
			   "root_dir=%d,no_daemon," FUSE_BASE_OPTS, fd);
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, umount(bpffs));
	EXPECT_EQ(0, rmdir(bpffs));

	expect_mount_ok(_metadata, self->dir,
			"root_dir=%d,no_daemon," FUSE_BASE_OPTS,
			self->backing_fd);
}

/* Is @pid asleep in system call @nr? */
static bool asleep_in(pid_t pid, long nr)
{
	char path[64], buf[256];
	bool asleep = false;
	FILE *f;
	long sc;

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fscanf(f, "%ld", &sc) == 1 && sc == nr) {
		fclose(f);
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "r");
		/*
		 * "pid (comm) S ...": the state follows the last ')'. A
		 * killable wait shows as D.
		 */
		if (f && fgets(buf, sizeof(buf), f) && strrchr(buf, ')')) {
			char state = strrchr(buf, ')')[2];

			asleep = state == 'S' || state == 'D';
		}
	}
	if (f)
		fclose(f);
	return asleep;
}

/*
 * A LOOKUP sent before the server has answered FUSE_INIT is laid out for
 * the reply of a server that then negotiates FUSE_BPF: its backing is
 * attached, as in any later LOOKUP.
 */
TEST_F(bad_opts, lookup_before_init)
{
	static const struct lookup_reply replies[] = {
		{ .name = "file", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .via = TD_REPLY_IOCTL },
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct test_daemon *td;
	int fuse_fd, status, i;
	pid_t pid;

	make_file(_metadata, at(b, self->backing, "data"), 0640, "early");
	memset(&bpf_daemon_state, 0, sizeof(bpf_daemon_state));
	bpf_daemon_state.backing_dir = self->backing;
	serve_lookups(replies, ARRAY_SIZE(replies));
	fuse_fd = test_fuse_mount(self->dir, "fuse_bpf");
	ASSERT_LE(0, fuse_fd) TH_LOG("%s", strerror(-fuse_fd));

	at(f, self->dir, "file");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct stat st;

		if (syscall(SYS_newfstatat, AT_FDCWD, f, &st, 0))
			_exit(errno);
		_exit(st.st_size == 5 && st.st_mode == (S_IFREG | 0640) ?
		      0 : 100);
	}
	/* It waits for FUSE_INIT, its LOOKUP prepared (10 s at most) */
	for (i = 0; i < 1000 && !asleep_in(pid, SYS_newfstatat); i++)
		usleep(10000);
	EXPECT_TRUE(asleep_in(pid, SYS_newfstatat));

	serve_bpf_daemon(_metadata, fuse_fd, 0, &td);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("stat: %s", strerror(WEXITSTATUS(status)));
	stop_bpf_daemon(_metadata, self->dir, fuse_fd, td);
}

/* What exec, access(X_OK), a PROT_EXEC map and a device open give */
struct mount_flag_results {
	int exec, access, mmap, dev;
};

static void try_mount_flags(const char *dir, struct mount_flag_results *r)
{
	char path[PATH_MAX];
	int status, fd;
	pid_t pid;
	void *p;

	pid = fork();
	if (pid == 0) {
		execl(at(path, dir, "prog"), "prog", NULL);
		_exit(errno);
	}
	r->exec = pid > 0 && waitpid(pid, &status, 0) == pid &&
		  WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	r->access = access(at(path, dir, "prog"), X_OK) ? errno : 0;
	fd = open(path, O_RDONLY);
	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	r->mmap = p == MAP_FAILED ? errno : 0;
	if (p != MAP_FAILED)
		munmap(p, 4096);
	close(fd);
	fd = open(at(path, dir, "null"), O_RDWR);
	r->dev = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
}

/*
 * The backing mount's noexec and nodev hold through a fuse-bpf mount that
 * has neither: exec, access(X_OK), PROT_EXEC maps and device opens fail
 * on it as on the backing mount, and work when the backing mount allows
 * them.
 */
TEST_F(bad_opts, backing_noexec_nodev)
{
	static const unsigned long flags[] = { 0, MS_NOEXEC | MS_NODEV };
	struct mount_flag_results native, fuse;
	char b[PATH_MAX], bind[64];
	int fd;
	size_t i;

	copy_program(_metadata, "/bin/true", at(b, self->backing, "prog"),
		     0755);
	ASSERT_EQ(0, mknod(at(b, self->backing, "null"), S_IFCHR | 0666,
			   makedev(1, 3)));
	ASSERT_EQ(0, chmod(self->backing, 0755));
	snprintf(bind, sizeof(bind), "/tmp/fuse_bind.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(bind));
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		const int want = flags[i] ? EACCES : 0;

		ASSERT_EQ(0, mount(self->backing, bind, NULL, MS_BIND, NULL));
		ASSERT_EQ(0, mount(NULL, bind, NULL,
				   MS_BIND | MS_REMOUNT | flags[i], NULL));
		fd = open(bind, O_PATH | O_DIRECTORY);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, mount_fuse_fmt(self->dir,
					    "root_dir=%d,no_daemon,%s", fd,
					    FUSE_BASE_OPTS));
		try_mount_flags(bind, &native);
		try_mount_flags(self->dir, &fuse);
		EXPECT_EQ(want, native.exec);
		EXPECT_EQ(want, native.access);
		EXPECT_EQ(flags[i] ? EPERM : 0, native.mmap);
		EXPECT_EQ(want, native.dev);
		EXPECT_EQ(native.exec, fuse.exec) TH_LOG("exec, flags %lx", flags[i]);
		EXPECT_EQ(native.access, fuse.access)
			TH_LOG("access, flags %lx", flags[i]);
		EXPECT_EQ(native.mmap, fuse.mmap)
			TH_LOG("mmap, flags %lx", flags[i]);
		EXPECT_EQ(native.dev, fuse.dev) TH_LOG("dev, flags %lx", flags[i]);
		EXPECT_EQ(0, umount(self->dir));
		EXPECT_EQ(0, close(fd));
		EXPECT_EQ(0, umount(bind));
	}
	EXPECT_EQ(0, rmdir(bind));
}

TEST_HARNESS_MAIN
