// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests for fuse-bpf.
 *
 * The FUSE server side is played by test_daemon.c, which lets each test
 * check the exact sequence of requests the kernel sent.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../../kselftest_harness.h"
#include "test_util.h"
#include "test_daemon.h"
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

/*
 * The BPF tool chain of these tests works against the kernel under test: a
 * clang-built program loads through its skeleton, runs, and its global data
 * is visible to userspace.
 */
TEST(bpf_toolchain_skeleton)
{
	struct smoke_args {
		__u32 in;
		__u32 out;
	} args = { .in = 14 };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .ctx_in = &args,
		    .ctx_size_in = sizeof(args),
	);
	struct bpf_smoke *skel;

	skel = bpf_smoke__open_and_load();
	ASSERT_NE(NULL, skel) TH_LOG("open_and_load: %s", strerror(errno));
	ASSERT_EQ(0, bpf_prog_test_run_opts(bpf_program__fd(skel->progs.smoke),
					    &opts));
	EXPECT_EQ(42, opts.retval);
	EXPECT_EQ(43, args.out);
	EXPECT_EQ(1, skel->bss->runs);
	bpf_smoke__destroy(skel);
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

/* The daemon never replies to FORGET, whatever this returns */
static int forget_noop(struct test_daemon *td, struct td_req *req)
{
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

/* Bound of the waits for something asynchronous, generous for slow VMs */
#define POLL_TIMEOUT_MS	20000

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * Evaluate @cond every millisecond until it holds, for POLL_TIMEOUT_MS at
 * most. Gives its last value.
 */
#define poll_until(cond) ({						\
	long long __end = now_ms() + POLL_TIMEOUT_MS;			\
	bool __ok;							\
									\
	while (!(__ok = (cond)) && now_ms() < __end)			\
		usleep(1000);						\
	__ok;								\
})

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

/*
 * The super options of the mount on @dir in /proc/self/mountinfo say
 * fuse_bpf and no_daemon as expected, and never show a descriptor: no
 * root_dir, root_bpf or fd.
 */
static void check_super_options(struct __test_metadata *_metadata,
				const char *dir, bool bpf, bool no_daemon)
{
	char line[1024], mnt[256], super[512], *sep, *opt, *save;
	int n, found = 0, seen_bpf, seen_no_daemon;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		/* id parent major:minor root mount-point options ... - */
		if (sscanf(line, "%*s %*s %*s %*s %255s", mnt) != 1 ||
		    strcmp(mnt, dir))
			continue;
		found++;
		EXPECT_EQ(NULL, strstr(line, "root_dir")) TH_LOG("%s", line);
		EXPECT_EQ(NULL, strstr(line, "root_bpf")) TH_LOG("%s", line);
		sep = strstr(line, " - ");
		ASSERT_NE(NULL, sep) TH_LOG("%s", line);
		/* fs type, source, super options */
		n = sscanf(sep + 3, "%*s %*s %511s", super);
		ASSERT_EQ(1, n) TH_LOG("%s", line);
		seen_bpf = 0;
		seen_no_daemon = 0;
		for (opt = strtok_r(super, ",", &save); opt;
		     opt = strtok_r(NULL, ",", &save)) {
			seen_bpf += !strcmp(opt, "fuse_bpf");
			seen_no_daemon += !strcmp(opt, "no_daemon");
			EXPECT_NE(0, strncmp(opt, "fd=", 3)) TH_LOG("%s", line);
		}
		EXPECT_EQ(bpf, seen_bpf) TH_LOG("%s", line);
		EXPECT_EQ(no_daemon, seen_no_daemon) TH_LOG("%s", line);
	}
	fclose(f);
	EXPECT_EQ(1, found) TH_LOG("%s in mountinfo", dir);
}

/* A plain mount shows no fuse-bpf option */
TEST_F(fuse_mnt, plain_mountinfo_options)
{
	check_super_options(_metadata, self->dir, false, false);
}

/*
 * A mount whose root is backed by a directory: with no daemon at all, or
 * with a test daemon that must receive nothing but FUSE_INIT.
 */
FIXTURE(backed) {
	char backing[128];
	char dir[64];
	int backing_fd;
	int fuse_fd;
	struct test_daemon *td;
};

FIXTURE_VARIANT(backed) {
	bool daemon;
};

FIXTURE_VARIANT_ADD(backed, no_daemon) {
	.daemon = false,
};

FIXTURE_VARIANT_ADD(backed, daemon) {
	.daemon = true,
};

FIXTURE_SETUP(backed)
{
	char opts[256];

	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	ASSERT_EQ(0, chmod(self->backing, 0751));
	ASSERT_EQ(0, chown(self->backing, 1234, 5678));
	self->backing_fd = open(self->backing, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, self->backing_fd);
	snprintf(self->dir, sizeof(self->dir), "/tmp/fuse_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));

	self->fuse_fd = -1;
	self->td = NULL;
	if (!variant->daemon) {
		snprintf(opts, sizeof(opts), "root_dir=%d,no_daemon,%s",
			 self->backing_fd, FUSE_BASE_OPTS);
		ASSERT_EQ(0, mount_fuse(self->dir, opts));
		return;
	}
	snprintf(opts, sizeof(opts), "root_dir=%d", self->backing_fd);
	self->fuse_fd = test_fuse_mount(self->dir, opts);
	ASSERT_LE(0, self->fuse_fd)
		TH_LOG("mount: %s", strerror(-self->fuse_fd));
	self->td = test_daemon_create(self->fuse_fd);
	ASSERT_NE(NULL, self->td);
	ASSERT_EQ(0, test_daemon_start(self->td));
	/* Backed operations do not wait for it: a umount could cut it */
	ASSERT_EQ(0, test_daemon_wait_init(self->td, TD_STOP_TIMEOUT_MS));
}

FIXTURE_TEARDOWN(backed)
{
	static const struct td_expect only_init[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
	};

	EXPECT_EQ(0, test_fuse_umount(self->dir));
	if (self->td) {
		EXPECT_EQ(0, test_daemon_stop(self->td, TD_STOP_TIMEOUT_MS));
		/* Everything was served from the backing directory */
		EXPECT_TRUE(test_daemon_expect(self->td, only_init,
					       ARRAY_SIZE(only_init)));
		test_daemon_destroy(self->td);
		EXPECT_EQ(0, close(self->fuse_fd));
	}
	EXPECT_EQ(0, close(self->backing_fd));
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

/* The root's attributes are the backing directory's, not rootmode's */
TEST_F(backed, root_stat_matches_backing)
{
	struct stat fst, bst;

	ASSERT_EQ(0, stat(self->dir, &fst)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, stat(self->backing, &bst));
	EXPECT_EQ(S_IFDIR | 0751, fst.st_mode);
	EXPECT_EQ(1234, fst.st_uid);
	EXPECT_EQ(5678, fst.st_gid);
	EXPECT_EQ(bst.st_ino, fst.st_ino);
	EXPECT_EQ(bst.st_nlink, fst.st_nlink);
	EXPECT_EQ(bst.st_size, fst.st_size);
	EXPECT_EQ(bst.st_blocks, fst.st_blocks);
	EXPECT_EQ(bst.st_mtim.tv_sec, fst.st_mtim.tv_sec);
	EXPECT_EQ(bst.st_mtim.tv_nsec, fst.st_mtim.tv_nsec);
	EXPECT_EQ(bst.st_ctim.tv_sec, fst.st_ctim.tv_sec);
	EXPECT_EQ(bst.st_ctim.tv_nsec, fst.st_ctim.tv_nsec);
	/* The device is the FUSE superblock's */
	EXPECT_NE(bst.st_dev, fst.st_dev);

	/* A change of the backing directory shows at once */
	ASSERT_EQ(0, chmod(self->backing, 0705));
	ASSERT_EQ(0, stat(self->dir, &fst));
	EXPECT_EQ(S_IFDIR | 0705, fst.st_mode);
}

/* statfs reports the backing filesystem, as a FUSE filesystem */
TEST_F(backed, statfs_matches_backing)
{
	struct statfs fsf, bsf;

	ASSERT_EQ(0, statfs(self->dir, &fsf)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, statfs(self->backing, &bsf));
	EXPECT_EQ(0x65735546, fsf.f_type);
	EXPECT_EQ(bsf.f_bsize, fsf.f_bsize);
	EXPECT_EQ(bsf.f_blocks, fsf.f_blocks);
	EXPECT_EQ(bsf.f_files, fsf.f_files);
	EXPECT_EQ(bsf.f_namelen, fsf.f_namelen);
}

/* access() is answered from the backing inode, with no FUSE_ACCESS */
TEST_F(backed, root_access)
{
	EXPECT_EQ(0, access(self->dir, R_OK | W_OK | X_OK))
		TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, access(self->dir, F_OK));
}

/*
 * The mount shows fuse-bpf, says whether it has no daemon, and shows no
 * descriptor: a number only meant something to the mounter.
 */
TEST_F(backed, mountinfo_options)
{
	check_super_options(_metadata, self->dir, true, !variant->daemon);
}

/* A FUSE name and its backing name have the same attributes */
static void expect_same_stat(struct __test_metadata *_metadata,
			     const char *fuse_path, const char *backing_path)
{
	struct stat fst, bst;

	ASSERT_EQ(0, stat(fuse_path, &fst))
		TH_LOG("stat %s: %s", fuse_path, strerror(errno));
	ASSERT_EQ(0, stat(backing_path, &bst));
	EXPECT_EQ(bst.st_ino, fst.st_ino);
	EXPECT_EQ(bst.st_mode, fst.st_mode);
	EXPECT_EQ(bst.st_nlink, fst.st_nlink);
	EXPECT_EQ(bst.st_uid, fst.st_uid);
	EXPECT_EQ(bst.st_gid, fst.st_gid);
	EXPECT_EQ(bst.st_rdev, fst.st_rdev);
	EXPECT_EQ(bst.st_size, fst.st_size);
	EXPECT_EQ(bst.st_blocks, fst.st_blocks);
	EXPECT_EQ(bst.st_mtim.tv_sec, fst.st_mtim.tv_sec);
	EXPECT_EQ(bst.st_mtim.tv_nsec, fst.st_mtim.tv_nsec);
	EXPECT_EQ(bst.st_ctim.tv_sec, fst.st_ctim.tv_sec);
	EXPECT_EQ(bst.st_ctim.tv_nsec, fst.st_ctim.tv_nsec);
	EXPECT_NE(bst.st_dev, fst.st_dev);
}

static void expect_enoent(struct __test_metadata *_metadata,
			  const char *path)
{
	struct stat st;

	errno = 0;
	EXPECT_EQ(-1, stat(path, &st)) TH_LOG("%s exists", path);
	EXPECT_EQ(ENOENT, errno);
}

/* Children of a backed directory are backed by the same names */
TEST_F(backed, lookup_inherits_backing)
{
	char b[PATH_MAX], f[PATH_MAX];

	ASSERT_EQ(0, mkdir(at(b, self->backing, "a"), 0755));
	ASSERT_EQ(0, mkdir(at(b, self->backing, "a/b"), 0700));
	make_file(_metadata, at(b, self->backing, "a/b/f"), 0640, "hello");
	ASSERT_EQ(0, chown(b, 1000, 1001));

	expect_same_stat(_metadata, at(f, self->dir, "a"),
			 at(b, self->backing, "a"));
	expect_same_stat(_metadata, at(f, self->dir, "a/b"),
			 at(b, self->backing, "a/b"));
	expect_same_stat(_metadata, at(f, self->dir, "a/b/f"),
			 at(b, self->backing, "a/b/f"));
	expect_enoent(_metadata, at(f, self->dir, "a/missing"));
	/* Twice: now from the dentry cache */
	expect_same_stat(_metadata, at(f, self->dir, "a/b/f"),
			 at(b, self->backing, "a/b/f"));
	expect_enoent(_metadata, at(f, self->dir, "a/missing"));
}

/* Changes behind the mount's back are seen at the next lookup */
TEST_F(backed, lookup_revalidates_against_backing)
{
	char b[PATH_MAX], b2[PATH_MAX], f[PATH_MAX];
	struct stat st;

	/* A cached negative entry, then the name appears */
	expect_enoent(_metadata, at(f, self->dir, "x"));
	make_file(_metadata, at(b, self->backing, "x"), 0600, "x");
	expect_same_stat(_metadata, at(f, self->dir, "x"), b);

	/* Renamed: the old name is gone, the new one is the same inode */
	ASSERT_EQ(0, rename(b, at(b2, self->backing, "y")));
	expect_enoent(_metadata, at(f, self->dir, "x"));
	expect_same_stat(_metadata, at(f, self->dir, "y"), b2);

	/* Replaced by another inode under the same name */
	make_file(_metadata, at(b, self->backing, "z"), 0600, "z");
	expect_same_stat(_metadata, at(f, self->dir, "z"), b);
	ASSERT_EQ(0, rename(b2, b));
	expect_same_stat(_metadata, at(f, self->dir, "z"), b);
	expect_enoent(_metadata, at(f, self->dir, "y"));

	/* Removed */
	ASSERT_EQ(0, unlink(b));
	expect_enoent(_metadata, at(f, self->dir, "z"));
	errno = 0;
	EXPECT_EQ(-1, lstat(f, &st));
	EXPECT_EQ(ENOENT, errno);
}

/*
 * Path walks check backed dentries without references (RCU walk) while
 * the backing entries are renamed under them, between an inline and an
 * external dentry name: every lookup finds the file or ENOENT, never
 * another inode. The walks start in the mount: a walk through the VM's
 * 9p root would leave RCU mode before it reached it.
 *
 * The test makes a fixed number of walks while a child renames back and
 * forth until told to stop: it lasts as long as the walks take, however
 * slow the machine.
 */
TEST_F(backed, revalidate_races_rename)
{
	static const char * const names[] = {
		"d/x",
		"d/a-name-too-long-for-the-inline-storage-of-a-dentry",
	};
	/*
	 * Rounds of walks to both names: at least @rounds, and until the
	 * walks raced with @min_renames renames and found the file; at most
	 * @max_rounds.
	 */
	const int rounds = 2000, max_rounds = 1000000;
	const unsigned long min_renames = 100;
	/* Safety net should the child not be told to stop */
	const unsigned long max_renames = 100000000;
	struct race {
		unsigned long renames;
		int stop;
	} *race;
	unsigned long before, during;
	char b[2][PATH_MAX];
	struct stat st, bst;
	int i, n, dfd, found = 0, status;
	pid_t pid, parent;

	ASSERT_EQ(0, mkdir(at(b[0], self->backing, "d"), 0755));
	make_file(_metadata, at(b[0], self->backing, names[0]), 0644, "x");
	ASSERT_EQ(0, stat(b[0], &bst));
	at(b[1], self->backing, names[1]);
	dfd = open(self->dir, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, dfd);
	race = mmap(NULL, sizeof(*race), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, race);

	parent = getpid();
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		unsigned long done = 0;

		/* Do not outlive a test that failed an assertion */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(2);
		/* In pairs: the file always ends under its first name */
		while (!__atomic_load_n(&race->stop, __ATOMIC_ACQUIRE) &&
		       done < max_renames) {
			if (rename(b[0], b[1]) || rename(b[1], b[0]))
				_exit(1);
			done += 2;
			__atomic_store_n(&race->renames, done,
					 __ATOMIC_RELEASE);
		}
		_exit(0);
	}
	ASSERT_TRUE(poll_until(__atomic_load_n(&race->renames,
					       __ATOMIC_ACQUIRE) > 0))
		TH_LOG("the renames did not start");
	before = __atomic_load_n(&race->renames, __ATOMIC_ACQUIRE);
	for (n = 0, during = 0; n < max_rounds; n++) {
		if (n >= rounds && during >= min_renames && found)
			break;
		for (i = 0; i < 2; i++) {
			if (fstatat(dfd, names[i], &st, 0)) {
				ASSERT_EQ(ENOENT, errno);
				continue;
			}
			ASSERT_EQ(bst.st_ino, st.st_ino);
			found++;
		}
		during = __atomic_load_n(&race->renames, __ATOMIC_ACQUIRE) -
			 before;
	}
	__atomic_store_n(&race->stop, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_LT(0, found);
	/* The walks did race with renames */
	EXPECT_LE(min_renames, during);
	/* Back to the first name */
	ASSERT_EQ(0, fstatat(dfd, names[0], &st, 0));
	EXPECT_EQ(bst.st_ino, st.st_ino);
	errno = 0;
	EXPECT_EQ(-1, fstatat(dfd, names[1], &st, 0));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_EQ(0, close(dfd));
	ASSERT_EQ(0, munmap(race, sizeof(*race)));
}

/* Two names of one backing inode are one inode, with both links seen */
TEST_F(backed, lookup_hard_links)
{
	char b[PATH_MAX], b2[PATH_MAX], f[PATH_MAX], f2[PATH_MAX];
	struct stat st, st2;

	make_file(_metadata, at(b, self->backing, "f"), 0644, "data");
	ASSERT_EQ(0, link(b, at(b2, self->backing, "g")));
	ASSERT_EQ(0, stat(at(f, self->dir, "f"), &st));
	ASSERT_EQ(0, stat(at(f2, self->dir, "g"), &st2));
	EXPECT_EQ(st.st_ino, st2.st_ino);
	EXPECT_EQ(2, st.st_nlink);
	EXPECT_EQ(2, st2.st_nlink);
	expect_same_stat(_metadata, f, b);
}

/* A device node's numbers come from the backing inode, exactly */
TEST_F(backed, lookup_rdev)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	ASSERT_EQ(0, mknod(at(b, self->backing, "null"), S_IFCHR | 0600,
			   makedev(1, 3)));
	ASSERT_EQ(0, mknod(at(b, self->backing, "big"), S_IFBLK | 0600,
			   makedev(259, 300)));
	ASSERT_EQ(0, stat(at(f, self->dir, "null"), &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(makedev(1, 3), st.st_rdev);
	ASSERT_EQ(0, stat(at(f, self->dir, "big"), &st));
	EXPECT_TRUE(S_ISBLK(st.st_mode));
	EXPECT_EQ(makedev(259, 300), st.st_rdev);
}

/* The whole content of @path, NUL-terminated, in @buf */
static ssize_t read_all(const char *path, char *buf, size_t size)
{
	ssize_t len;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	len = read(fd, buf, size - 1);
	close(fd);
	if (len >= 0)
		buf[len] = 0;
	return len;
}

/*
 * readlink() of @path gives exactly @target: readlink() does not
 * NUL-terminate, so compare the length and the bytes.
 */
static void expect_readlink(struct __test_metadata *_metadata,
			    const char *path, const char *target)
{
	char buf[PATH_MAX];
	ssize_t len;

	memset(buf, 'z', sizeof(buf));
	len = readlink(path, buf, sizeof(buf));
	ASSERT_EQ(strlen(target), len)
		TH_LOG("readlink %s: %s", path, strerror(errno));
	EXPECT_EQ(0, memcmp(buf, target, len)) TH_LOG("%s", path);
	/* Nothing written past it */
	EXPECT_EQ('z', buf[len]);
}

/* read, write and their positions go to the backing file */
TEST_F(backed, read_write)
{
	char b[PATH_MAX], f[PATH_MAX], buf[64];
	int fd;

	make_file(_metadata, at(b, self->backing, "f"), 0644, "0123456789");
	fd = open(at(f, self->dir, "f"), O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(4, read(fd, buf, 4));
	EXPECT_EQ(0, memcmp(buf, "0123", 4));
	ASSERT_EQ(3, write(fd, "abc", 3));
	ASSERT_EQ(7, lseek(fd, 0, SEEK_CUR));
	ASSERT_EQ(2, pwrite(fd, "XY", 2, 12));
	ASSERT_EQ(5, pread(fd, buf, sizeof(buf), 9));
	EXPECT_EQ(0, memcmp(buf, "9\0\0XY", 5));
	/* A short read at the end of the file */
	ASSERT_EQ(1, pread(fd, buf, sizeof(buf), 13));
	EXPECT_EQ('Y', buf[0]);
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, fdatasync(fd));
	ASSERT_EQ(0, close(fd));

	ASSERT_EQ(14, read_all(b, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "0123abc789\0\0XY", 14));
	expect_same_stat(_metadata, f, b);
}

/* O_APPEND, at open and set later with fcntl(), appends */
TEST_F(backed, append)
{
	char b[PATH_MAX], f[PATH_MAX], buf[64];
	int fd;

	make_file(_metadata, at(b, self->backing, "f"), 0644, "start");
	fd = open(at(f, self->dir, "f"), O_WRONLY | O_APPEND);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pwrite(fd, "1", 1, 0));
	ASSERT_EQ(0, close(fd));
	fd = open(f, O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, write(fd, "S", 1));
	ASSERT_EQ(0, fcntl(fd, F_SETFL, O_APPEND));
	ASSERT_EQ(1, write(fd, "2", 1));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(7, read_all(b, buf, sizeof(buf)));
	EXPECT_STREQ("Start12", buf);
	expect_same_stat(_metadata, f, b);
}

/* setattr: mode, owner, size and times all land on the backing inode */
TEST_F(backed, setattr)
{
	struct timespec times[2] = {
		{ .tv_nsec = UTIME_OMIT },
		{ .tv_sec = 1, .tv_nsec = 2 },
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct stat bst, old;
	int fd;

	make_file(_metadata, at(b, self->backing, "f"), 0644, "0123456789");
	ASSERT_EQ(0, chmod(at(f, self->dir, "f"), 0600));
	ASSERT_EQ(0, chown(f, 1000, 1001));
	ASSERT_EQ(0, truncate(f, 3));
	ASSERT_EQ(0, stat(b, &bst));
	EXPECT_EQ(S_IFREG | 0600, bst.st_mode);
	EXPECT_EQ(1000, bst.st_uid);
	EXPECT_EQ(1001, bst.st_gid);
	EXPECT_EQ(3, bst.st_size);
	expect_same_stat(_metadata, f, b);

	old = bst;
	ASSERT_EQ(0, utimensat(AT_FDCWD, f, times, 0));
	ASSERT_EQ(0, stat(b, &bst));
	EXPECT_EQ(old.st_atim.tv_sec, bst.st_atim.tv_sec);
	EXPECT_EQ(old.st_atim.tv_nsec, bst.st_atim.tv_nsec);
	EXPECT_EQ(1, bst.st_mtim.tv_sec);
	EXPECT_EQ(2, bst.st_mtim.tv_nsec);
	ASSERT_EQ(0, utimensat(AT_FDCWD, f, NULL, 0));
	ASSERT_EQ(0, stat(b, &bst));
	EXPECT_LT(1000000000, bst.st_mtim.tv_sec);
	expect_same_stat(_metadata, f, b);

	fd = open(f, O_RDWR | O_TRUNC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 4096));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, stat(b, &bst));
	EXPECT_EQ(4096, bst.st_size);
	expect_same_stat(_metadata, f, b);
}

/* Shared writable and private mappings map the backing file */
TEST_F(backed, mmap)
{
	char b[PATH_MAX], f[PATH_MAX], buf[64];
	char *map;
	int fd;

	make_file(_metadata, at(b, self->backing, "f"), 0644, "abcdefgh");
	fd = open(at(f, self->dir, "f"), O_RDWR);
	ASSERT_LE(0, fd);
	map = mmap(NULL, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(0, memcmp(map, "abcdefgh", 8));
	memcpy(map, "ABC", 3);
	ASSERT_EQ(0, msync(map, 8, MS_SYNC));
	ASSERT_EQ(0, munmap(map, 8));
	ASSERT_EQ(8, read_all(b, buf, sizeof(buf)));
	EXPECT_STREQ("ABCdefgh", buf);

	map = mmap(NULL, 8, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	memcpy(map, "xyz", 3);
	EXPECT_EQ(0, memcmp(map, "xyzdefgh", 8));
	ASSERT_EQ(0, munmap(map, 8));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(8, read_all(b, buf, sizeof(buf)));
	EXPECT_STREQ("ABCdefgh", buf);
	expect_same_stat(_metadata, f, b);
}

/* splice in and out of a backed file, and sendfile */
TEST_F(backed, splice)
{
	char b[PATH_MAX], f[PATH_MAX], b2[PATH_MAX], f2[PATH_MAX];
	char buf[64];
	int fd, fd2, pipefd[2];
	loff_t off = 2;

	make_file(_metadata, at(b, self->backing, "in"), 0644, "spliced data");
	make_file(_metadata, at(b2, self->backing, "out"), 0644, "");
	fd = open(at(f, self->dir, "in"), O_RDONLY);
	ASSERT_LE(0, fd);
	fd2 = open(at(f2, self->dir, "out"), O_WRONLY);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_EQ(7, splice(fd, &off, pipefd[1], NULL, 7, 0));
	ASSERT_EQ(7, splice(pipefd[0], NULL, fd2, NULL, 7, 0));
	ASSERT_EQ(5, sendfile(fd2, fd, NULL, 5));
	EXPECT_EQ(0, close(pipefd[0]));
	EXPECT_EQ(0, close(pipefd[1]));
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, close(fd2));
	ASSERT_EQ(12, read_all(b2, buf, sizeof(buf)));
	EXPECT_STREQ("liced dsplic", buf);
	expect_same_stat(_metadata, f2, b2);
}

/* SEEK_DATA and SEEK_HOLE see the backing file's holes */
TEST_F(backed, seek_data_hole)
{
	char b[PATH_MAX], f[PATH_MAX], block[4096];
	int fd;

	memset(block, 'x', sizeof(block));
	fd = open(at(b, self->backing, "sparse"), O_WRONLY | O_CREAT, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(4096, pwrite(fd, block, 4096, 0));
	ASSERT_EQ(4096, pwrite(fd, block, 4096, 1 << 20));
	ASSERT_EQ(0, close(fd));

	fd = open(at(f, self->dir, "sparse"), O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(4096, lseek(fd, 0, SEEK_HOLE));
	EXPECT_EQ(1 << 20, lseek(fd, 4096, SEEK_DATA));
	EXPECT_EQ((1 << 20) + 4096, lseek(fd, 1 << 20, SEEK_HOLE));
	EXPECT_EQ((1 << 20) + 4096, lseek(fd, 0, SEEK_END));
	/* A failed seek leaves the position alone */
	ASSERT_EQ(100, lseek(fd, 100, SEEK_SET));
	errno = 0;
	EXPECT_EQ(-1, lseek(fd, 2 << 20, SEEK_DATA));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(100, lseek(fd, 0, SEEK_CUR));
	EXPECT_EQ(0, close(fd));
}

/*
 * O_DIRECT I/O goes to the backing file directly: every byte written is
 * read back, through the mount and from the backing file.
 */
TEST_F(backed, direct_io)
{
	const size_t size = 3 * 4096;
	char b[PATH_MAX], f[PATH_MAX];
	unsigned char *wbuf, *rbuf;
	size_t i;
	int fd;

	ASSERT_EQ(0, posix_memalign((void **)&wbuf, 4096, size));
	ASSERT_EQ(0, posix_memalign((void **)&rbuf, 4096, size));
	/* A prime period: no two blocks alike */
	for (i = 0; i < size; i++)
		wbuf[i] = 1 + i % 251;
	make_file(_metadata, at(b, self->backing, "f"), 0644, "");
	fd = open(at(f, self->dir, "f"), O_RDWR | O_DIRECT);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	EXPECT_EQ(O_DIRECT, fcntl(fd, F_GETFL) & O_DIRECT);
	ASSERT_EQ(size, pwrite(fd, wbuf, size, 0))
		TH_LOG("pwrite: %s", strerror(errno));
	memset(rbuf, 0, size);
	ASSERT_EQ(size, pread(fd, rbuf, size, 0))
		TH_LOG("pread: %s", strerror(errno));
	EXPECT_EQ(0, memcmp(wbuf, rbuf, size));
	/* One block in the middle */
	memset(rbuf, 0, size);
	ASSERT_EQ(4096, pread(fd, rbuf, 4096, 4096));
	EXPECT_EQ(0, memcmp(wbuf + 4096, rbuf, 4096));
	/* At the end of the file */
	EXPECT_EQ(0, pread(fd, rbuf, 4096, size));
	EXPECT_EQ(0, close(fd));

	fd = open(b, O_RDONLY);
	ASSERT_LE(0, fd);
	memset(rbuf, 0, size);
	ASSERT_EQ(size, pread(fd, rbuf, size, 0));
	EXPECT_EQ(0, memcmp(wbuf, rbuf, size));
	EXPECT_EQ(size, lseek(fd, 0, SEEK_END));
	EXPECT_EQ(0, close(fd));
	free(wbuf);
	free(rbuf);
	expect_same_stat(_metadata, f, b);
}

/*
 * Locks of backed files are local, on the one inode of the backing inode:
 * a lock through one name conflicts with a lock through a hard link.
 */
TEST_F(backed, locks)
{
	struct flock fl = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
		.l_len = 10,
	};
	char b[PATH_MAX], b2[PATH_MAX], f[PATH_MAX], f2[PATH_MAX];
	int fd, fd2, status;
	pid_t pid;

	make_file(_metadata, at(b, self->backing, "f"), 0644, "0123456789");
	ASSERT_EQ(0, link(b, at(b2, self->backing, "g")));
	fd = open(at(f, self->dir, "f"), O_RDWR);
	ASSERT_LE(0, fd);
	fd2 = open(at(f2, self->dir, "g"), O_RDWR);
	ASSERT_LE(0, fd2);

	ASSERT_EQ(0, flock(fd, LOCK_EX | LOCK_NB));
	errno = 0;
	EXPECT_EQ(-1, flock(fd2, LOCK_EX | LOCK_NB));
	EXPECT_EQ(EWOULDBLOCK, errno);
	ASSERT_EQ(0, flock(fd, LOCK_UN));
	EXPECT_EQ(0, flock(fd2, LOCK_EX | LOCK_NB));

	ASSERT_EQ(0, fcntl(fd, F_SETLK, &fl));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct flock probe = fl;

		if (fcntl(fd2, F_GETLK, &probe) || probe.l_type != F_WRLCK ||
		    probe.l_pid != getppid())
			_exit(1);
		if (fcntl(fd2, F_SETLK, &fl) != -1 || errno != EAGAIN)
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, close(fd2));
}

/* Asynchronous direct I/O through io_submit() reaches the backing file */
TEST_F(backed, aio)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct io_event events[2];
	struct iocb cbs[2], *list[2] = { &cbs[0], &cbs[1] };
	aio_context_t ctx = 0;
	char *wbuf, *rbuf;
	int fd;

	ASSERT_EQ(0, posix_memalign((void **)&wbuf, 4096, 4096));
	ASSERT_EQ(0, posix_memalign((void **)&rbuf, 4096, 4096));
	memset(wbuf, 'a', 4096);
	memset(rbuf, 0, 4096);
	make_file(_metadata, at(b, self->backing, "f"), 0644, "");
	fd = open(at(f, self->dir, "f"), O_RDWR | O_DIRECT);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, syscall(SYS_io_setup, 2, &ctx));

	memset(cbs, 0, sizeof(cbs));
	cbs[0].aio_fildes = fd;
	cbs[0].aio_lio_opcode = IOCB_CMD_PWRITE;
	cbs[0].aio_buf = (uintptr_t)wbuf;
	cbs[0].aio_nbytes = 4096;
	cbs[0].aio_offset = 4096;
	ASSERT_EQ(1, syscall(SYS_io_submit, ctx, 1, list));
	ASSERT_EQ(1, syscall(SYS_io_getevents, ctx, 1, 1, events, NULL));
	EXPECT_EQ(4096, events[0].res);

	cbs[1] = cbs[0];
	cbs[1].aio_lio_opcode = IOCB_CMD_PREAD;
	cbs[1].aio_buf = (uintptr_t)rbuf;
	ASSERT_EQ(1, syscall(SYS_io_submit, ctx, 1, &list[1]));
	ASSERT_EQ(1, syscall(SYS_io_getevents, ctx, 1, 1, events, NULL));
	EXPECT_EQ(4096, events[0].res);
	EXPECT_EQ(0, memcmp(wbuf, rbuf, 4096));

	EXPECT_EQ(0, syscall(SYS_io_destroy, ctx));
	EXPECT_EQ(0, close(fd));
	expect_same_stat(_metadata, f, b);
	/* The backing file: a hole, then the data */
	fd = open(b, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(8192, lseek(fd, 0, SEEK_END));
	memset(rbuf, 'x', 4096);
	ASSERT_EQ(4096, pread(fd, rbuf, 4096, 0));
	EXPECT_EQ(0, rbuf[0]);
	EXPECT_EQ(0, memcmp(rbuf, rbuf + 1, 4095));
	ASSERT_EQ(4096, pread(fd, rbuf, 4096, 4096));
	EXPECT_EQ(0, memcmp(wbuf, rbuf, 4096));
	EXPECT_EQ(0, close(fd));
	free(wbuf);
	free(rbuf);
}

struct dirent_rec {
	char name[64];
	long long d_off;
	unsigned long long d_ino;
	unsigned char d_type;
};

/* All entries of @path, read with a small buffer, in order */
static int read_dir_raw(const char *path, struct dirent_rec *recs, int max)
{
	/* Small: several calls, each resuming at the last d_off */
	char buf[512];
	int fd, n = 0;
	long len;

	fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -errno;
	while ((len = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		long pos = 0;

		while (pos < len && n < max) {
			struct dirent64 *d = (void *)(buf + pos);

			snprintf(recs[n].name, sizeof(recs[n].name), "%.63s",
				 d->d_name);
			recs[n].d_off = d->d_off;
			recs[n].d_ino = d->d_ino;
			recs[n].d_type = d->d_type;
			n++;
			pos += d->d_reclen;
		}
	}
	close(fd);
	return len < 0 ? -errno : n;
}

/* readdir: the same entries, inode numbers, types and offsets */
TEST_F(backed, readdir)
{
	static struct dirent_rec frecs[128], brecs[128];
	char b[PATH_MAX], f[PATH_MAX], name[32];
	long cookie = -1;
	struct dirent *d;
	int i, n, fd;
	DIR *dir;

	ASSERT_EQ(0, mkdir(at(b, self->backing, "d"), 0755));
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "d/entry-%03d", i);
		if (i % 10 == 0) {
			ASSERT_EQ(0, mkdir(at(b, self->backing, name), 0700));
		} else {
			fd = open(at(b, self->backing, name), O_CREAT | O_WRONLY,
				  0600);
			ASSERT_LE(0, fd);
			ASSERT_EQ(0, close(fd));
		}
	}
	n = read_dir_raw(at(b, self->backing, "d"), brecs, 128);
	ASSERT_EQ(102, n);
	ASSERT_EQ(n, read_dir_raw(at(f, self->dir, "d"), frecs, 128));
	for (i = 0; i < n; i++) {
		EXPECT_STREQ(brecs[i].name, frecs[i].name);
		EXPECT_EQ(brecs[i].d_off, frecs[i].d_off);
		EXPECT_EQ(brecs[i].d_ino, frecs[i].d_ino);
		EXPECT_EQ(brecs[i].d_type, frecs[i].d_type);
	}

	/* telldir() cookies stay valid for seekdir() */
	dir = opendir(f);
	ASSERT_NE(NULL, dir);
	for (i = 0; i < 50; i++)
		ASSERT_NE(NULL, readdir(dir));
	cookie = telldir(dir);
	d = readdir(dir);
	ASSERT_NE(NULL, d);
	snprintf(name, sizeof(name), "%.31s", d->d_name);
	for (i = 0; i < 20; i++)
		ASSERT_NE(NULL, readdir(dir));
	seekdir(dir, cookie);
	d = readdir(dir);
	ASSERT_NE(NULL, d);
	EXPECT_STREQ(name, d->d_name);
	EXPECT_STREQ(brecs[50].name, d->d_name);
	rewinddir(dir);
	d = readdir(dir);
	ASSERT_NE(NULL, d);
	EXPECT_STREQ(brecs[0].name, d->d_name);
	EXPECT_EQ(0, fsync(dirfd(dir)));
	EXPECT_EQ(0, closedir(dir));
}

/* Files made through the mount are made in the backing directory */
TEST_F(backed, create)
{
	char b[PATH_MAX], f[PATH_MAX], buf[16];
	struct stat st;
	int fd;

	umask(022);
	fd = open(at(f, self->dir, "new"), O_CREAT | O_EXCL | O_RDWR, 0666);
	ASSERT_LE(0, fd) TH_LOG("create: %s", strerror(errno));
	ASSERT_EQ(3, write(fd, "abc", 3));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(S_IFREG | 0644, st.st_mode);
	EXPECT_EQ(3, st.st_size);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(3, read_all(at(b, self->backing, "new"), buf, sizeof(buf)));
	EXPECT_STREQ("abc", buf);
	expect_same_stat(_metadata, f, b);
	/* The directory's times and size changed */
	expect_same_stat(_metadata, self->dir, self->backing);

	errno = 0;
	EXPECT_EQ(-1, open(f, O_CREAT | O_EXCL | O_RDWR, 0600));
	EXPECT_EQ(EEXIST, errno);
	/* The creator may write what it made read-only */
	fd = open(at(f, self->dir, "ro"), O_CREAT | O_EXCL | O_WRONLY, 0444);
	ASSERT_LE(0, fd) TH_LOG("create 0444: %s", strerror(errno));
	EXPECT_EQ(1, write(fd, "x", 1));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, stat(at(b, self->backing, "ro"), &st));
	EXPECT_EQ(S_IFREG | 0444, st.st_mode);
	EXPECT_EQ(1, st.st_size);
	/* A file made behind the mount's back after a negative lookup */
	expect_enoent(_metadata, at(f, self->dir, "late"));
	make_file(_metadata, at(b, self->backing, "late"), 0600, "x");
	errno = 0;
	EXPECT_EQ(-1, open(at(f, self->dir, "late"), O_CREAT | O_EXCL, 0600));
	EXPECT_EQ(EEXIST, errno);
	/* O_CREAT of an existing file opens it, O_TRUNC truncates it */
	fd = open(at(f, self->dir, "new"), O_CREAT | O_TRUNC | O_WRONLY, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, stat(at(b, self->backing, "new"), &st));
	EXPECT_EQ(0, st.st_size);
	EXPECT_EQ(S_IFREG | 0644, st.st_mode);
}

/* Special files are made in the backing directory, device numbers intact */
TEST_F(backed, mknod)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	umask(0);
	ASSERT_EQ(0, mkfifo(at(f, self->dir, "fifo"), 0620))
		TH_LOG("mkfifo: %s", strerror(errno));
	ASSERT_EQ(0, stat(at(b, self->backing, "fifo"), &st));
	EXPECT_EQ(S_IFIFO | 0620, st.st_mode);
	expect_same_stat(_metadata, f, b);
	ASSERT_EQ(0, mknod(at(f, self->dir, "null"), S_IFCHR | 0600,
			   makedev(1, 300)));
	ASSERT_EQ(0, stat(at(b, self->backing, "null"), &st));
	EXPECT_EQ(S_IFCHR | 0600, st.st_mode);
	EXPECT_EQ(makedev(1, 300), st.st_rdev);
	expect_same_stat(_metadata, f, b);
	ASSERT_EQ(0, mknod(at(f, self->dir, "reg"), S_IFREG | 0640, 0));
	expect_same_stat(_metadata, f, at(b, self->backing, "reg"));
	errno = 0;
	EXPECT_EQ(-1, mknod(at(f, self->dir, "fifo"), S_IFIFO | 0600, 0));
	EXPECT_EQ(EEXIST, errno);
}

/* mkdir and rmdir work on the backing directory */
TEST_F(backed, mkdir_rmdir)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	umask(022);
	ASSERT_EQ(0, mkdir(at(f, self->dir, "d"), 0777))
		TH_LOG("mkdir: %s", strerror(errno));
	ASSERT_EQ(0, stat(at(b, self->backing, "d"), &st));
	EXPECT_EQ(S_IFDIR | 0755, st.st_mode);
	expect_same_stat(_metadata, f, b);
	ASSERT_EQ(0, mkdir(at(f, self->dir, "d/e"), 0700));
	make_file(_metadata, at(f, self->dir, "d/e/file"), 0600, "x");
	expect_same_stat(_metadata, at(f, self->dir, "d/e/file"),
			 at(b, self->backing, "d/e/file"));
	/* The parent gained a link */
	expect_same_stat(_metadata, at(f, self->dir, "d"),
			 at(b, self->backing, "d"));
	errno = 0;
	EXPECT_EQ(-1, mkdir(at(f, self->dir, "d"), 0700));
	EXPECT_EQ(EEXIST, errno);
	errno = 0;
	EXPECT_EQ(-1, rmdir(at(f, self->dir, "d")));
	EXPECT_EQ(ENOTEMPTY, errno);
	ASSERT_EQ(0, unlink(at(f, self->dir, "d/e/file")));
	ASSERT_EQ(0, rmdir(at(f, self->dir, "d/e")));
	expect_enoent(_metadata, at(b, self->backing, "d/e"));
	ASSERT_EQ(0, rmdir(at(f, self->dir, "d")));
	expect_enoent(_metadata, at(b, self->backing, "d"));
	expect_enoent(_metadata, at(f, self->dir, "d"));
	expect_same_stat(_metadata, self->dir, self->backing);
	errno = 0;
	EXPECT_EQ(-1, rmdir(at(f, self->dir, "d")));
	EXPECT_EQ(ENOENT, errno);
}

/* Symlinks are made in and read from the backing directory */
TEST_F(backed, symlink)
{
	char b[PATH_MAX], f[PATH_MAX], buf[64];
	struct stat st;

	make_file(_metadata, at(b, self->backing, "target"), 0644, "data");
	ASSERT_EQ(0, symlink("target", at(f, self->dir, "link")))
		TH_LOG("symlink: %s", strerror(errno));
	expect_readlink(_metadata, at(b, self->backing, "link"), "target");
	expect_readlink(_metadata, f, "target");
	ASSERT_EQ(0, lstat(f, &st));
	EXPECT_TRUE(S_ISLNK(st.st_mode));
	EXPECT_EQ(6, st.st_size);
	/* Followed through the mount */
	ASSERT_EQ(4, read_all(f, buf, sizeof(buf)));
	EXPECT_STREQ("data", buf);
	/* Made behind the mount's back */
	ASSERT_EQ(0, symlink("/nowhere/at/all", at(b, self->backing, "l2")));
	expect_readlink(_metadata, at(f, self->dir, "l2"), "/nowhere/at/all");
	/* A buffer too short gets the start of the target */
	memset(buf, 'z', sizeof(buf));
	ASSERT_EQ(4, readlink(f, buf, 4));
	EXPECT_EQ(0, memcmp(buf, "/now", 4));
	EXPECT_EQ('z', buf[4]);
	errno = 0;
	EXPECT_EQ(-1, symlink("x", at(f, self->dir, "link")));
	EXPECT_EQ(EEXIST, errno);
	expect_readlink(_metadata, at(f, self->dir, "link"), "target");
}

/* Append-only and immutable backing files stay so through the mount */
TEST_F(backed, append_only_immutable)
{
	char b[PATH_MAX], f[PATH_MAX], g[PATH_MAX], buf[16];
	int fd, bfd, flags;

	make_file(_metadata, at(b, self->backing, "f"), 0666, "data");
	bfd = open(b, O_RDONLY);
	ASSERT_LE(0, bfd);
	flags = FS_APPEND_FL;
	ASSERT_EQ(0, ioctl(bfd, FS_IOC_SETFLAGS, &flags));
	at(f, self->dir, "f");

	errno = 0;
	EXPECT_EQ(-1, open(f, O_WRONLY));
	EXPECT_EQ(EPERM, errno);
	errno = 0;
	EXPECT_EQ(-1, truncate(f, 0));
	EXPECT_EQ(EPERM, errno);
	fd = open(f, O_WRONLY | O_APPEND);
	ASSERT_LE(0, fd);
	errno = 0;
	EXPECT_EQ(-1, fcntl(fd, F_SETFL, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(1, write(fd, "!", 1));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(5, read_all(b, buf, sizeof(buf)));
	EXPECT_STREQ("data!", buf);
	errno = 0;
	EXPECT_EQ(-1, unlink(f));
	EXPECT_EQ(EPERM, errno);

	/* Made immutable through the mount */
	flags = FS_IMMUTABLE_FL;
	fd = open(f, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_SETFLAGS, &flags));
	ASSERT_EQ(0, close(fd));
	errno = 0;
	EXPECT_EQ(-1, open(f, O_WRONLY | O_APPEND));
	EXPECT_EQ(EPERM, errno);
	errno = 0;
	EXPECT_EQ(-1, chmod(f, 0600));
	EXPECT_EQ(EPERM, errno);
	errno = 0;
	EXPECT_EQ(-1, rename(f, at(g, self->dir, "g")));
	EXPECT_EQ(EPERM, errno);

	flags = 0;
	EXPECT_EQ(0, ioctl(bfd, FS_IOC_SETFLAGS, &flags));
	ASSERT_EQ(0, close(bfd));
	/* And writable again */
	fd = open(f, O_WRONLY | O_TRUNC);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, close(fd));
}

/* Hard links and unlink keep one inode and the backing link counts */
TEST_F(backed, link_unlink)
{
	char b[PATH_MAX], f[PATH_MAX], g[PATH_MAX], buf[16];
	struct stat fst, gst;
	int fd;

	make_file(_metadata, at(b, self->backing, "f"), 0644, "data");
	ASSERT_EQ(0, link(at(f, self->dir, "f"), at(g, self->dir, "g")))
		TH_LOG("link: %s", strerror(errno));
	ASSERT_EQ(0, stat(f, &fst));
	ASSERT_EQ(0, stat(g, &gst));
	EXPECT_EQ(2, fst.st_nlink);
	EXPECT_EQ(fst.st_ino, gst.st_ino);
	expect_same_stat(_metadata, g, at(b, self->backing, "g"));
	errno = 0;
	EXPECT_EQ(-1, link(f, g));
	EXPECT_EQ(EEXIST, errno);

	fd = open(g, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, unlink(f)) TH_LOG("unlink: %s", strerror(errno));
	expect_enoent(_metadata, f);
	expect_enoent(_metadata, at(b, self->backing, "f"));
	expect_same_stat(_metadata, g, at(b, self->backing, "g"));
	ASSERT_EQ(0, unlink(g));
	/* Still open: the data stays, the link count is 0 */
	ASSERT_EQ(0, fstat(fd, &gst));
	EXPECT_EQ(0, gst.st_nlink);
	EXPECT_EQ(4, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "data", 4));
	ASSERT_EQ(0, close(fd));
	expect_same_stat(_metadata, self->dir, self->backing);
	errno = 0;
	EXPECT_EQ(-1, unlink(f));
	EXPECT_EQ(ENOENT, errno);
	/* unlink of a directory, rmdir of a file */
	ASSERT_EQ(0, mkdir(at(b, self->backing, "d"), 0755));
	errno = 0;
	EXPECT_EQ(-1, unlink(at(f, self->dir, "d")));
	EXPECT_EQ(EISDIR, errno);
	make_file(_metadata, at(b, self->backing, "h"), 0644, "");
	errno = 0;
	EXPECT_EQ(-1, rmdir(at(f, self->dir, "h")));
	EXPECT_EQ(ENOTDIR, errno);
}

/* rename, with its flags, renames the backing entries */
TEST_F(backed, rename)
{
	char b[PATH_MAX], f[PATH_MAX], g[PATH_MAX], buf[16];
	struct stat st;

	make_file(_metadata, at(b, self->backing, "a"), 0644, "aaa");
	make_file(_metadata, at(b, self->backing, "c"), 0644, "cc");
	ASSERT_EQ(0, mkdir(at(b, self->backing, "d"), 0755));
	ASSERT_EQ(0, mkdir(at(b, self->backing, "e"), 0755));
	make_file(_metadata, at(b, self->backing, "e/x"), 0644, "x");

	ASSERT_EQ(0, stat(at(f, self->dir, "a"), &st));
	ASSERT_EQ(0, rename(f, at(g, self->dir, "b")))
		TH_LOG("rename: %s", strerror(errno));
	expect_enoent(_metadata, f);
	expect_enoent(_metadata, at(b, self->backing, "a"));
	ASSERT_EQ(3, read_all(at(b, self->backing, "b"), buf, sizeof(buf)));
	EXPECT_STREQ("aaa", buf);
	expect_same_stat(_metadata, g, b);

	/* Over an existing file */
	ASSERT_EQ(0, rename(g, at(f, self->dir, "c")));
	ASSERT_EQ(3, read_all(f, buf, sizeof(buf)));
	EXPECT_STREQ("aaa", buf);
	expect_enoent(_metadata, g);
	expect_same_stat(_metadata, f, at(b, self->backing, "c"));

	/* Into another directory, and back with RENAME_NOREPLACE */
	ASSERT_EQ(0, rename(f, at(g, self->dir, "d/c")));
	expect_same_stat(_metadata, g, at(b, self->backing, "d/c"));
	expect_same_stat(_metadata, at(f, self->dir, "d"),
			 at(b, self->backing, "d"));
	make_file(_metadata, at(b, self->backing, "c"), 0600, "new");
	errno = 0;
	EXPECT_EQ(-1, renameat2(AT_FDCWD, g, AT_FDCWD,
				at(f, self->dir, "c"), RENAME_NOREPLACE));
	EXPECT_EQ(EEXIST, errno);

	/* RENAME_EXCHANGE swaps */
	ASSERT_EQ(0, renameat2(AT_FDCWD, g, AT_FDCWD, f, RENAME_EXCHANGE));
	ASSERT_EQ(3, read_all(f, buf, sizeof(buf)));
	EXPECT_STREQ("aaa", buf);
	ASSERT_EQ(3, read_all(at(b, self->backing, "d/c"), buf, sizeof(buf)));
	EXPECT_STREQ("new", buf);
	expect_same_stat(_metadata, g, at(b, self->backing, "d/c"));

	/* Directories */
	errno = 0;
	EXPECT_EQ(-1, rename(at(f, self->dir, "d"), at(g, self->dir, "e")));
	EXPECT_EQ(ENOTEMPTY, errno);
	errno = 0;
	EXPECT_EQ(-1, rename(at(f, self->dir, "d"), at(g, self->dir, "d/z")));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, rename(at(f, self->dir, "e"), at(g, self->dir, "d/e")));
	ASSERT_EQ(1, read_all(at(f, self->dir, "d/e/x"), buf, sizeof(buf)));
	EXPECT_STREQ("x", buf);
	expect_same_stat(_metadata, at(f, self->dir, "d/e/x"),
			 at(b, self->backing, "d/e/x"));
	expect_enoent(_metadata, at(f, self->dir, "e"));
}

/* Extended attributes are set and removed on the backing inode */
TEST_F(backed, xattr)
{
	char b[PATH_MAX], f[PATH_MAX], value[16];

	make_file(_metadata, at(b, self->backing, "f"), 0644, "data");
	ASSERT_EQ(0, setxattr(at(f, self->dir, "f"), "user.x", "value", 5, 0))
		TH_LOG("setxattr: %s", strerror(errno));
	memset(value, 0, sizeof(value));
	ASSERT_EQ(5, getxattr(b, "user.x", value, sizeof(value)));
	EXPECT_EQ(0, memcmp(value, "value", 5));
	memset(value, 0, sizeof(value));
	ASSERT_EQ(5, getxattr(f, "user.x", value, sizeof(value)));
	EXPECT_EQ(0, memcmp(value, "value", 5));
	EXPECT_EQ(5, getxattr(f, "user.x", NULL, 0));
	errno = 0;
	EXPECT_EQ(-1, getxattr(f, "user.x", value, 2));
	EXPECT_EQ(ERANGE, errno);
	errno = 0;
	EXPECT_EQ(-1, setxattr(f, "user.x", "v", 1, XATTR_CREATE));
	EXPECT_EQ(EEXIST, errno);
	errno = 0;
	EXPECT_EQ(-1, setxattr(f, "user.y", "v", 1, XATTR_REPLACE));
	EXPECT_EQ(ENODATA, errno);
	/* The failed calls changed nothing */
	memset(value, 0, sizeof(value));
	ASSERT_EQ(5, getxattr(b, "user.x", value, sizeof(value)));
	EXPECT_EQ(0, memcmp(value, "value", 5));
	/* A replacement, shorter, with a NUL byte in it */
	ASSERT_EQ(0, setxattr(f, "user.x", "v\0w", 3, XATTR_REPLACE));
	memset(value, 'z', sizeof(value));
	ASSERT_EQ(3, getxattr(b, "user.x", value, sizeof(value)));
	EXPECT_EQ(0, memcmp(value, "v\0wz", 4));
	memset(value, 'z', sizeof(value));
	ASSERT_EQ(3, getxattr(f, "user.x", value, sizeof(value)));
	EXPECT_EQ(0, memcmp(value, "v\0wz", 4));
	memset(value, 0, sizeof(value));
	EXPECT_EQ(7, listxattr(f, value, sizeof(value)));
	EXPECT_EQ(0, memcmp(value, "user.x", 7));
	expect_same_stat(_metadata, f, b);

	ASSERT_EQ(0, removexattr(f, "user.x"));
	errno = 0;
	EXPECT_EQ(-1, getxattr(b, "user.x", value, sizeof(value)));
	EXPECT_EQ(ENODATA, errno);
	errno = 0;
	EXPECT_EQ(-1, removexattr(f, "user.x"));
	EXPECT_EQ(ENODATA, errno);
	EXPECT_EQ(0, listxattr(f, value, sizeof(value)));
	/* Set behind the mount's back */
	ASSERT_EQ(0, setxattr(b, "user.b", "back", 4, 0));
	memset(value, 0, sizeof(value));
	ASSERT_EQ(4, getxattr(f, "user.b", value, sizeof(value)));
	EXPECT_EQ(0, memcmp(value, "back", 4));
	/* Directories too */
	ASSERT_EQ(0, setxattr(self->dir, "user.d", "1", 1, 0));
	memset(value, 0, sizeof(value));
	ASSERT_EQ(1, getxattr(self->backing, "user.d", value, sizeof(value)));
	EXPECT_EQ('1', value[0]);
	memset(value, 0, sizeof(value));
	ASSERT_EQ(1, getxattr(self->dir, "user.d", value, sizeof(value)));
	EXPECT_EQ('1', value[0]);
}

/* fallocate() and copy_file_range() run on the backing files */
TEST_F(backed, fallocate_copy_range)
{
	char b[PATH_MAX], f[PATH_MAX], g[PATH_MAX], buf[8192];
	struct stat st;
	loff_t off_in = 0, off_out = 0;
	int fd, fd2, i;

	for (i = 0; i < (int)sizeof(buf); i++)
		buf[i] = 'a' + i % 26;
	fd = open(at(f, self->dir, "f"), O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(buf), write(fd, buf, sizeof(buf)));
	ASSERT_EQ(0, fallocate(fd, 0, 0, 1 << 20))
		TH_LOG("fallocate: %s", strerror(errno));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(1 << 20, st.st_size);
	expect_same_stat(_metadata, f, at(b, self->backing, "f"));
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       0, 4096));
	ASSERT_EQ(4096, pread(fd, buf, 4096, 0));
	for (i = 0; i < 4096; i++)
		if (buf[i])
			break;
	EXPECT_EQ(4096, i);
	expect_same_stat(_metadata, f, b);
	errno = 0;
	EXPECT_EQ(-1, fallocate(fd, 0, 0, -1));
	EXPECT_EQ(EINVAL, errno);

	fd2 = open(at(g, self->dir, "g"), O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd2);
	off_in = 4096;
	EXPECT_EQ(4096, copy_file_range(fd, &off_in, fd2, &off_out, 4096, 0))
		TH_LOG("copy_file_range: %s", strerror(errno));
	EXPECT_EQ(8192, off_in);
	EXPECT_EQ(4096, off_out);
	ASSERT_EQ(4096, pread(fd2, buf, sizeof(buf), 0));
	/* Bytes 4096 to 8191 of the pattern */
	for (i = 0; i < 4096; i++)
		if (buf[i] != 'a' + (4096 + i) % 26)
			break;
	EXPECT_EQ(4096, i) TH_LOG("copy differs at %d", i);
	expect_same_stat(_metadata, g, at(b, self->backing, "g"));
	ASSERT_EQ(0, close(fd2));
	ASSERT_EQ(0, close(fd));
}

/* O_TMPFILE files are made in the backing directory and can be linked */
TEST_F(backed, tmpfile)
{
	char b[PATH_MAX], f[PATH_MAX], buf[16];
	struct stat st;
	int fd;

	fd = open(self->dir, O_TMPFILE | O_RDWR, 0600);
	ASSERT_LE(0, fd) TH_LOG("O_TMPFILE: %s", strerror(errno));
	ASSERT_EQ(3, write(fd, "tmp", 3));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(S_IFREG | 0600, st.st_mode);
	EXPECT_EQ(0, st.st_nlink);
	ASSERT_EQ(0, linkat(fd, "", AT_FDCWD, at(f, self->dir, "named"),
			    AT_EMPTY_PATH)) TH_LOG("linkat: %s", strerror(errno));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(3, read_all(at(b, self->backing, "named"), buf, sizeof(buf)));
	EXPECT_STREQ("tmp", buf);
	expect_same_stat(_metadata, f, b);
}

/* Inode flags are the backing inode's; other ioctls are not served */
TEST_F(backed, ioctl)
{
	char b[PATH_MAX], f[PATH_MAX];
	int fd, bfd, flags, bflags;

	make_file(_metadata, at(b, self->backing, "f"), 0644, "data");
	fd = open(at(f, self->dir, "f"), O_RDONLY);
	ASSERT_LE(0, fd);
	bfd = open(b, O_RDONLY);
	ASSERT_LE(0, bfd);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_GETFLAGS, &flags))
		TH_LOG("FS_IOC_GETFLAGS: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(bfd, FS_IOC_GETFLAGS, &bflags));
	EXPECT_EQ(bflags, flags);
	flags |= FS_NOATIME_FL;
	ASSERT_EQ(0, ioctl(fd, FS_IOC_SETFLAGS, &flags))
		TH_LOG("FS_IOC_SETFLAGS: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(bfd, FS_IOC_GETFLAGS, &bflags));
	EXPECT_EQ(FS_NOATIME_FL, bflags & FS_NOATIME_FL);
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, _IO('f', 0x7f), 0));
	EXPECT_EQ(ENOTTY, errno);
	ASSERT_EQ(0, close(bfd));
	ASSERT_EQ(0, close(fd));
}

/*
 * A mount with fuse-bpf enabled and its root served by the daemon, which
 * attaches backings to entries in its LOOKUP replies.
 */
FIXTURE(bpf_daemon) {
	char backing[128];
	char dir[64];
	int fuse_fd;
	struct test_daemon *td;
};

/* What the daemon answers to LOOKUP of one name under the root */
struct lookup_reply {
	const char *name;
	__u64 nodeid;
	/* The extension: absent, or its actions and backing (by name) */
	bool ext;
	__u64 backing_action;
	const char *backing;
	__u64 backing_fd;
	__u64 bpf_action;
	/* bpf_fd is the program of bpf_daemon_state */
	bool prog;
	/* The entry is to be revalidated at each use */
	bool uncached;
	/* Attributes that are not the backing's: a setuid file of uid 1000 */
	bool lie;
	/* Reply length relative to the full one, to send a wrong length */
	int len_delta;
	enum td_reply_via via;
};

static struct bpf_daemon_state {
	const char *backing_dir;
	const struct lookup_reply *replies;
	size_t nr_replies;
	__u64 init_flags;
	int prog_fd;
} bpf_daemon_state;

static int bpf_daemon_init(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_init_in *in = req->arg;
	struct bpf_daemon_state *state = req->priv;
	struct fuse_init_out *out = req->out;

	/* Passthrough needs a stacking depth for its backing files */
	out->max_stack_depth = 1;
	state->init_flags = in->flags;
	if (in->flags & FUSE_INIT_EXT)
		state->init_flags |= (__u64)in->flags2 << 32;
	return 0;
}

static int bpf_daemon_lookup(struct test_daemon *td, struct td_req *req)
{
	struct bpf_daemon_state *state = req->priv;
	struct fuse_entry_out *entry = req->out;
	struct fuse_entry_bpf_out *ext = (void *)(entry + 1);
	const struct lookup_reply *r = NULL;
	const char *name = req->arg;
	char path[PATH_MAX];
	struct stat st;
	size_t i;
	int fd = -1;

	for (i = 0; i < state->nr_replies; i++)
		if (!strcmp(state->replies[i].name, name))
			r = &state->replies[i];
	if (!r || req->in->nodeid != FUSE_ROOT_ID)
		return -ENOENT;

	entry->nodeid = r->nodeid;
	entry->generation = 1;
	entry->entry_valid = r->uncached ? 0 : 10;
	entry->attr_valid = 10;
	entry->attr.ino = r->nodeid;
	entry->attr.mode = S_IFREG | 0644;
	entry->attr.nlink = 1;
	if (r->backing) {
		snprintf(path, sizeof(path), "%s/%s", state->backing_dir,
			 r->backing);
		if (stat(path, &st))
			return -EIO;
		entry->attr.mode = st.st_mode;
		if (r->lie) {
			entry->attr.mode = (st.st_mode & S_IFMT) | 04777;
			entry->attr.uid = 1000;
			entry->attr.gid = 1000;
			entry->attr.size = 999999;
		}
		fd = open(path, O_PATH);
		if (fd < 0)
			return -EIO;
	}
	req->out_len = sizeof(*entry);
	if (r->ext) {
		ext->backing_action = r->backing_action;
		ext->backing_fd = r->backing ? fd : r->backing_fd;
		ext->bpf_action = r->bpf_action;
		ext->bpf_fd = r->prog ? state->prog_fd : 0;
		req->out_len += sizeof(*ext) + r->len_delta;
	}
	req->reply_via = r->via;
	/* Still open when the reply goes out; closed by the next lookup */
	static int last_fd = -1;

	if (last_fd >= 0)
		close(last_fd);
	last_fd = fd;
	return 0;
}

/*
 * Serve @fuse_fd with a daemon that takes FUSE_BPF (and @init_flags) and
 * answers LOOKUP from bpf_daemon_state.
 */
static void serve_bpf_daemon(struct __test_metadata *_metadata,
			     int fuse_fd, __u64 init_flags,
			     struct test_daemon **td)
{
	*td = test_daemon_create(fuse_fd);
	ASSERT_NE(NULL, *td);
	test_daemon_set_init_flags(*td, FUSE_BPF | init_flags);
	ASSERT_EQ(0, test_daemon_set_handler(*td, FUSE_INIT, bpf_daemon_init,
					     &bpf_daemon_state));
	ASSERT_EQ(0, test_daemon_set_handler(*td, FUSE_LOOKUP,
					     bpf_daemon_lookup,
					     &bpf_daemon_state));
	ASSERT_EQ(0, test_daemon_set_handler(*td, FUSE_FORGET, forget_noop,
					     NULL));
	/* Forgets queued together come as one BATCH_FORGET */
	ASSERT_EQ(0, test_daemon_set_handler(*td, FUSE_BATCH_FORGET,
					     forget_noop, NULL));
	ASSERT_EQ(0, test_daemon_start(*td));
}

/* Mount @dir with @opts, served by serve_bpf_daemon(), initialised */
static void start_bpf_daemon(struct __test_metadata *_metadata,
			     const char *dir, const char *opts,
			     __u64 init_flags, int *fuse_fd,
			     struct test_daemon **td)
{
	*fuse_fd = test_fuse_mount(dir, opts);
	ASSERT_LE(0, *fuse_fd) TH_LOG("%s", strerror(-*fuse_fd));
	serve_bpf_daemon(_metadata, *fuse_fd, init_flags, td);
	ASSERT_EQ(0, test_daemon_wait_init(*td, TD_STOP_TIMEOUT_MS));
}

/* Unmount @dir, stop its daemon: it must have seen nothing unexpected */
static void stop_bpf_daemon(struct __test_metadata *_metadata,
			    const char *dir, int fuse_fd,
			    struct test_daemon *td)
{
	EXPECT_EQ(0, test_fuse_umount(dir));
	EXPECT_EQ(0, test_daemon_stop(td, TD_STOP_TIMEOUT_MS));
	EXPECT_EQ(0, test_daemon_unexpected(td));
	test_daemon_destroy(td);
	EXPECT_EQ(0, close(fuse_fd));
}

FIXTURE_SETUP(bpf_daemon)
{
	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	snprintf(self->dir, sizeof(self->dir), "/tmp/fuse_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));

	memset(&bpf_daemon_state, 0, sizeof(bpf_daemon_state));
	bpf_daemon_state.backing_dir = self->backing;
	start_bpf_daemon(_metadata, self->dir, "fuse_bpf", FUSE_PASSTHROUGH,
			 &self->fuse_fd, &self->td);
}

FIXTURE_TEARDOWN(bpf_daemon)
{
	stop_bpf_daemon(_metadata, self->dir, self->fuse_fd, self->td);
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

static void serve_lookups(const struct lookup_reply *replies, size_t nr)
{
	bpf_daemon_state.replies = replies;
	bpf_daemon_state.nr_replies = nr;
}

/* The log entry of the LOOKUP of @name */
static bool find_lookup(struct test_daemon *td, const char *name,
			struct td_log_entry *found)
{
	static struct td_log_entry log[TD_LOG_SIZE];
	size_t i, n = test_daemon_get_log(td, log, TD_LOG_SIZE);

	for (i = 0; i < n && i < TD_LOG_SIZE; i++) {
		if (log[i].opcode == FUSE_LOOKUP &&
		    !strcmp(log[i].name, name)) {
			*found = log[i];
			return true;
		}
	}
	return false;
}

/* FUSE_BPF is offered on an enabled mount only, and negotiated */
TEST_F(bpf_daemon, init_offers_fuse_bpf)
{
	EXPECT_EQ(FUSE_BPF, bpf_daemon_state.init_flags & FUSE_BPF);
}

/* The fuse_bpf option shows, with a daemon */
TEST_F(bpf_daemon, mountinfo_options)
{
	check_super_options(_metadata, self->dir, true, false);
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

/* A REPLACE through the ioctl backs the entry: no more requests for it */
TEST_F(bpf_daemon, lookup_replace_backs_entry)
{
	static const struct lookup_reply replies[] = {
		{ .name = "file", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .via = TD_REPLY_IOCTL },
		{ .name = "dir", .nodeid = 6, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "sub",
		  .via = TD_REPLY_IOCTL },
	};
	static const struct td_expect expected[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "file" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "dir" },
		/* The new name of the link attempt, in the plain root */
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "inner" },
	};
	char b[PATH_MAX], f[PATH_MAX], buf[64];
	int fd;

	make_file(_metadata, at(b, self->backing, "data"), 0640, "backed!");
	ASSERT_EQ(0, mkdir(at(b, self->backing, "sub"), 0750));
	make_file(_metadata, at(b, self->backing, "sub/inner"), 0600, "in");
	serve_lookups(replies, ARRAY_SIZE(replies));

	expect_same_stat(_metadata, at(f, self->dir, "file"),
			 at(b, self->backing, "data"));
	ASSERT_EQ(7, read_all(f, buf, sizeof(buf)));
	EXPECT_STREQ("backed!", buf);
	fd = open(f, O_WRONLY | O_APPEND);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, write(fd, "?", 1));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(8, read_all(b, buf, sizeof(buf)));
	EXPECT_STREQ("backed!?", buf);

	/* A backed directory: its children inherit, the daemon is not asked */
	expect_same_stat(_metadata, at(f, self->dir, "dir/inner"),
			 at(b, self->backing, "sub/inner"));
	ASSERT_EQ(2, read_all(f, buf, sizeof(buf)));
	EXPECT_STREQ("in", buf);
	/* And entries are made, renamed and removed there */
	ASSERT_EQ(0, mkdir(at(f, self->dir, "dir/new"), 0700));
	make_file(_metadata, at(f, self->dir, "dir/new/f"), 0600, "new");
	ASSERT_EQ(0, rename(f, at(b, self->dir, "dir/g")));
	ASSERT_EQ(3, read_all(at(b, self->backing, "sub/g"), buf, sizeof(buf)));
	EXPECT_STREQ("new", buf);
	ASSERT_EQ(0, unlink(at(f, self->dir, "dir/g")));
	ASSERT_EQ(0, rmdir(at(f, self->dir, "dir/new")));
	expect_enoent(_metadata, at(b, self->backing, "sub/new"));
	/* Not between a plain and a backed directory */
	errno = 0;
	EXPECT_EQ(-1, rename(at(f, self->dir, "file"),
			     at(b, self->dir, "dir/file")));
	EXPECT_EQ(EXDEV, errno);
	errno = 0;
	EXPECT_EQ(-1, link(at(f, self->dir, "dir/inner"),
			   at(b, self->dir, "inner")));
	EXPECT_EQ(EXDEV, errno);

	ASSERT_TRUE(test_daemon_expect(self->td, expected,
				       ARRAY_SIZE(expected)));
}

/* A notification from the server, written to the FUSE device */
static int notify(int fuse_fd, int code, const void *arg, size_t len)
{
	struct fuse_out_header oh = {
		.len = sizeof(oh) + len,
		.error = code,
	};
	struct iovec iov[2] = {
		{ .iov_base = &oh, .iov_len = sizeof(oh) },
		{ .iov_base = (void *)arg, .iov_len = len },
	};

	return writev(fuse_fd, iov, 2) < 0 ? -errno : 0;
}

/*
 * Notifications naming a replaced node find no cached node; the entry of
 * its plain parent is invalidated as any other.
 */
TEST_F(bpf_daemon, replace_notify)
{
	static const struct lookup_reply replies[] = {
		{ .name = "file", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .via = TD_REPLY_IOCTL },
	};
	static struct td_log_entry log[TD_LOG_SIZE];
	struct fuse_notify_inval_inode_out inode_out = { .ino = 5 };
	struct {
		struct fuse_notify_inval_entry_out out;
		char name[8];
	} entry_out = {
		.out = { .parent = FUSE_ROOT_ID, .namelen = 4 },
		.name = "file",
	};
	char b[PATH_MAX], f[PATH_MAX];
	int lookups = 0;
	size_t i, n;

	make_file(_metadata, at(b, self->backing, "data"), 0640, "backed!");
	serve_lookups(replies, ARRAY_SIZE(replies));
	expect_same_stat(_metadata, at(f, self->dir, "file"), b);

	EXPECT_EQ(-ENOENT, notify(self->fuse_fd, FUSE_NOTIFY_INVAL_INODE,
				  &inode_out, sizeof(inode_out)));
	entry_out.out.parent = 5;
	EXPECT_EQ(-ENOENT, notify(self->fuse_fd, FUSE_NOTIFY_INVAL_ENTRY,
				  &entry_out, sizeof(entry_out.out) + 5));
	/* Still cached: no LOOKUP */
	expect_same_stat(_metadata, f, b);
	entry_out.out.parent = FUSE_ROOT_ID;
	EXPECT_EQ(0, notify(self->fuse_fd, FUSE_NOTIFY_INVAL_ENTRY,
			    &entry_out, sizeof(entry_out.out) + 5));
	/* Looked up again */
	expect_same_stat(_metadata, f, b);

	/*
	 * INIT, the two LOOKUPs and, if the inode was evicted meanwhile, a
	 * FORGET of node 5, in an order that depends on when it was.
	 */
	ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
	n = test_daemon_get_log(self->td, log, TD_LOG_SIZE);
	ASSERT_LE(3, n);
	EXPECT_EQ(FUSE_INIT, log[0].opcode);
	for (i = 1; i < n; i++) {
		if (log[i].opcode == FUSE_FORGET) {
			EXPECT_EQ(5, log[i].nodeid);
			continue;
		}
		EXPECT_EQ(FUSE_LOOKUP, log[i].opcode);
		EXPECT_EQ(FUSE_ROOT_ID, log[i].nodeid);
		EXPECT_STREQ("file", log[i].name);
		lookups++;
	}
	EXPECT_EQ(2, lookups);
}

/* write(2) of a reply with the extension: EPERM, and nothing changed */
TEST_F(bpf_daemon, lookup_reply_write_eperm)
{
	static const struct lookup_reply replies[] = {
		{ .name = "file", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .via = TD_REPLY_WRITE_THEN_IOCTL },
		{ .name = "keep", .nodeid = 7, .ext = true,
		  .backing_action = FUSE_ACTION_KEEP,
		  .via = TD_REPLY_WRITE_THEN_IOCTL },
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct td_log_entry e;
	struct stat st;

	make_file(_metadata, at(b, self->backing, "data"), 0640, "x");
	serve_lookups(replies, ARRAY_SIZE(replies));

	/* The request stayed pending: the ioctl then answered it */
	expect_same_stat(_metadata, at(f, self->dir, "file"), b);
	ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
	ASSERT_TRUE(find_lookup(self->td, "file", &e));
	EXPECT_EQ(EPERM, e.write_errno);
	EXPECT_EQ(0, e.ioctl_errno);

	/* Even a KEEP with no descriptor needs the ioctl */
	EXPECT_EQ(0, stat(at(f, self->dir, "keep"), &st));
	ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
	ASSERT_TRUE(find_lookup(self->td, "keep", &e));
	EXPECT_EQ(EPERM, e.write_errno);
	EXPECT_EQ(0, e.ioctl_errno);
}

/* A plain reply needs no ioctl and gives a plain node */
TEST_F(bpf_daemon, lookup_plain_reply)
{
	static const struct lookup_reply replies[] = {
		{ .name = "plain", .nodeid = 5, .via = TD_REPLY_WRITE },
		{ .name = "keep", .nodeid = 6, .ext = true,
		  .backing_action = FUSE_ACTION_KEEP, .via = TD_REPLY_IOCTL },
		{ .name = "remove", .nodeid = 7, .ext = true,
		  .backing_action = FUSE_ACTION_REMOVE,
		  .bpf_action = FUSE_ACTION_REMOVE, .via = TD_REPLY_IOCTL },
	};
	char f[PATH_MAX];
	struct stat st;

	serve_lookups(replies, ARRAY_SIZE(replies));
	ASSERT_EQ(0, stat(at(f, self->dir, "plain"), &st));
	EXPECT_EQ(5, st.st_ino);
	ASSERT_EQ(0, stat(at(f, self->dir, "keep"), &st));
	EXPECT_EQ(6, st.st_ino);
	ASSERT_EQ(0, stat(at(f, self->dir, "remove"), &st));
	EXPECT_EQ(7, st.st_ino);
}

/* Bad extensions: the ioctl says why, the lookup fails with EIO */
TEST_F(bpf_daemon, lookup_bad_replies)
{
	static const struct lookup_reply replies[] = {
		{ .name = "action", .nodeid = 5, .ext = true,
		  .backing_action = 3, .via = TD_REPLY_IOCTL },
		{ .name = "bpfaction", .nodeid = 5, .ext = true,
		  .bpf_action = 7, .via = TD_REPLY_IOCTL },
		{ .name = "badfd", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing_fd = 999,
		  .via = TD_REPLY_IOCTL },
		{ .name = "hugefd", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE,
		  .backing_fd = 1ULL << 40, .via = TD_REPLY_IOCTL },
		{ .name = "strayfd", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_KEEP, .backing_fd = 3,
		  .via = TD_REPLY_IOCTL },
		{ .name = "root", .nodeid = FUSE_ROOT_ID, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .via = TD_REPLY_IOCTL },
		{ .name = "bpf", .nodeid = 5, .ext = true,
		  .bpf_action = FUSE_ACTION_REPLACE, .via = TD_REPLY_IOCTL },
		{ .name = "rootkeep", .nodeid = FUSE_ROOT_ID, .ext = true,
		  .via = TD_REPLY_IOCTL },
		{ .name = "short", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .len_delta = -16, .via = TD_REPLY_IOCTL },
		{ .name = "long", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .len_delta = 8, .via = TD_REPLY_IOCTL },
	};
	static const int errnos[] = {
		EINVAL, EINVAL, EBADF, EBADF, EINVAL, EINVAL, EINVAL,
		EINVAL, EINVAL, EINVAL,
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct td_log_entry e;
	struct stat st;
	size_t i;

	make_file(_metadata, at(b, self->backing, "data"), 0640, "x");
	serve_lookups(replies, ARRAY_SIZE(replies));
	for (i = 0; i < ARRAY_SIZE(replies); i++) {
		errno = 0;
		EXPECT_EQ(-1, stat(at(f, self->dir, replies[i].name), &st))
			TH_LOG("%s", replies[i].name);
		EXPECT_EQ(EIO, errno) TH_LOG("%s", replies[i].name);
		ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
		ASSERT_TRUE(find_lookup(self->td, replies[i].name, &e));
		EXPECT_EQ(errnos[i], e.ioctl_errno)
			TH_LOG("%s: %s", replies[i].name,
			       strerror(e.ioctl_errno));
	}
}

/* A backing on this very mount would stack it on itself: ELOOP */
TEST_F(bpf_daemon, lookup_replace_too_deep)
{
	static const struct lookup_reply replies[] = {
		{ .name = "self", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .via = TD_REPLY_IOCTL },
	};
	static struct lookup_reply dyn[1];
	char f[PATH_MAX];
	struct td_log_entry e;
	struct stat st;
	int fd;

	fd = open(self->dir, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, fd);
	dyn[0] = replies[0];
	dyn[0].backing_fd = fd;
	serve_lookups(dyn, 1);
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "self"), &st));
	EXPECT_EQ(EIO, errno);
	ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
	ASSERT_TRUE(find_lookup(self->td, "self", &e));
	EXPECT_EQ(ELOOP, e.ioctl_errno);
	EXPECT_EQ(0, close(fd));
}

/* A plain node whose file the daemon opens with FOPEN_PASSTHROUGH */
/*
 * A backed root filtered by a BPF_PROG_TYPE_FUSE program, with a daemon
 * that negotiated FUSE_BPF: the program decides which lookups reach it.
 */
FIXTURE(bpf_filter) {
	char backing[128];
	char dir[64];
	int backing_fd;
	int fuse_fd;
	struct test_daemon *td;
	struct fuse_filter *skel;
};

FIXTURE_SETUP(bpf_filter)
{
	char opts[128];

	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	self->backing_fd = open(self->backing, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, self->backing_fd);
	snprintf(self->dir, sizeof(self->dir), "/tmp/fuse_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	self->skel = fuse_filter__open_and_load();
	ASSERT_NE(NULL, self->skel);

	memset(&bpf_daemon_state, 0, sizeof(bpf_daemon_state));
	bpf_daemon_state.backing_dir = self->backing;
	bpf_daemon_state.prog_fd = bpf_program__fd(self->skel->progs.fuse_filter);
	snprintf(opts, sizeof(opts), "root_dir=%d,root_bpf=%d",
		 self->backing_fd, bpf_daemon_state.prog_fd);
	start_bpf_daemon(_metadata, self->dir, opts, 0, &self->fuse_fd,
			 &self->td);
}

FIXTURE_TEARDOWN(bpf_filter)
{
	stop_bpf_daemon(_metadata, self->dir, self->fuse_fd, self->td);
	fuse_filter__destroy(self->skel);
	EXPECT_EQ(0, close(self->backing_fd));
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

static const struct td_expect bpf_only_init[] = {
	{ .opcode = FUSE_INIT, .nodeid = 0 },
};

/* Neither the backing directory nor the program shows */
TEST_F(bpf_filter, mountinfo_options)
{
	check_super_options(_metadata, self->dir, true, false);
	ASSERT_TRUE(test_daemon_expect(self->td, bpf_only_init,
				       ARRAY_SIZE(bpf_only_init)));
}

/* The root's program sees the operations, the backing serves them */
TEST_F(bpf_filter, program_sees_operations)
{
	struct fuse_filter__bss *bss = self->skel->bss;
	char b[PATH_MAX], f[PATH_MAX];

	make_file(_metadata, at(b, self->backing, "file"), 0640, "data");
	expect_same_stat(_metadata, at(f, self->dir, "file"), b);
	EXPECT_EQ(0, access(f, R_OK));
	/* Children inherit the program */
	EXPECT_LE(1, bss->pre[FUSE_LOOKUP]);
	EXPECT_EQ(FUSE_ROOT_ID, bss->lookup_nodeid);
	EXPECT_LE(1, bss->pre[FUSE_GETATTR]);
	EXPECT_LE(1, bss->pre[FUSE_ACCESS]);
	EXPECT_EQ(0, bss->post[FUSE_LOOKUP]);
	ASSERT_TRUE(test_daemon_expect(self->td, bpf_only_init,
				       ARRAY_SIZE(bpf_only_init)));
}

/* A negative return fails the operation with that errno */
TEST_F(bpf_filter, prefilter_error)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	make_file(_metadata, at(b, self->backing, "denied"), 0640, "data");
	self->skel->bss->deny_size = sizeof("denied");
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "denied"), &st));
	EXPECT_EQ(EACCES, errno);
	/* Not cached: the next lookup asks the program again */
	self->skel->bss->deny_size = 0;
	expect_same_stat(_metadata, f, b);
	ASSERT_TRUE(test_daemon_expect(self->td, bpf_only_init,
				       ARRAY_SIZE(bpf_only_init)));
}

/* The post-filter sees the result and hides an entry that exists */
TEST_F(bpf_filter, postfilter_hides)
{
	struct fuse_filter__bss *bss = self->skel->bss;
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	make_file(_metadata, at(b, self->backing, "hidden"), 0640, "data");
	bss->hide_size = sizeof("hidden");
	bss->post_error_in = 1;
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "hidden"), &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(1, bss->post[FUSE_LOOKUP]);
	/* The backing lookup had succeeded */
	EXPECT_EQ(0, bss->post_error_in);
	ASSERT_TRUE(test_daemon_expect(self->td, bpf_only_init,
				       ARRAY_SIZE(bpf_only_init)));
}

/* A post-filter fails a readlink that had succeeded: nothing leaks */
TEST_F(bpf_filter, postfilter_readlink)
{
	char b[PATH_MAX], f[PATH_MAX], target[200], buf[256];

	/* Long enough not to be inline in the backing inode */
	memset(target, 'x', sizeof(target) - 1);
	target[sizeof(target) - 1] = 0;
	ASSERT_EQ(0, symlink(target, at(b, self->backing, "link")));
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(sizeof(target) - 1,
		  readlink(at(f, self->dir, "link"), buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, target, sizeof(target)));
	self->skel->bss->readlink_post = 1;
	errno = 0;
	EXPECT_EQ(-1, readlink(f, buf, sizeof(buf)));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(1, self->skel->bss->post[FUSE_READLINK]);
	EXPECT_EQ(0, self->skel->bss->post_error_in);
	ASSERT_TRUE(test_daemon_expect(self->td, bpf_only_init,
				       ARRAY_SIZE(bpf_only_init)));
}

/* Nonsense from a program, and daemon filters not supported yet */
TEST_F(bpf_filter, bad_verdicts)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	make_file(_metadata, at(b, self->backing, "bogus"), 0640, "data");
	make_file(_metadata, at(b, self->backing, "prefilt"), 0640, "data");
	make_file(_metadata, at(b, self->backing, "restart_sys"), 0640, "x");
	self->skel->bss->bogus_size = sizeof("bogus");
	self->skel->bss->kernel_errno_size = sizeof("restart_sys");
	self->skel->bss->user_prefilter_size = sizeof("prefilt");
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "bogus"), &st));
	EXPECT_EQ(EIO, errno);
	/* Not an errno for system calls */
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "restart_sys"), &st));
	EXPECT_EQ(EIO, errno);
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "prefilt"), &st));
	EXPECT_EQ(EOPNOTSUPP, errno);
	ASSERT_TRUE(test_daemon_expect(self->td, bpf_only_init,
				       ARRAY_SIZE(bpf_only_init)));
}

/* GETATTR of a plain node: a file of 42 bytes */
static int plain_getattr(struct test_daemon *td, struct td_req *req)
{
	struct fuse_attr_out *out = req->out;

	out->attr.ino = req->in->nodeid;
	out->attr.mode = S_IFREG | 0644;
	out->attr.nlink = 1;
	out->attr.size = 42;
	req->out_len = sizeof(*out);
	return 0;
}

/*
 * BPF_FUSE_USER sends the lookup of a child of the backed root to the
 * daemon, whose reply decides: REMOVE (or no extension) makes a plain
 * node the daemon serves, KEEP the entry backed by the same name,
 * REPLACE another backing.
 */
TEST_F(bpf_filter, user_lookup_reply_actions)
{
	static const struct lookup_reply replies[] = {
		{ .name = "plain_n", .nodeid = 5, .via = TD_REPLY_WRITE },
		{ .name = "removed", .nodeid = 6, .ext = true,
		  .backing_action = FUSE_ACTION_REMOVE,
		  .bpf_action = FUSE_ACTION_REMOVE, .via = TD_REPLY_IOCTL },
		{ .name = "kept_me", .nodeid = 7, .ext = true,
		  .backing_action = FUSE_ACTION_KEEP, .via = TD_REPLY_IOCTL },
		{ .name = "replace", .nodeid = 8, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .via = TD_REPLY_IOCTL },
	};
	static const struct td_expect expected[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "plain_n" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "removed" },
		{ .opcode = FUSE_GETATTR, .nodeid = 6 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "kept_me" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "replace" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "missing" },
		/* Its attributes had no validity */
		{ .opcode = FUSE_GETATTR, .nodeid = 6 },
	};
	char b[PATH_MAX], f[PATH_MAX], buf[16];
	struct statx stx;
	struct stat st;

	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_GETATTR,
					     plain_getattr, NULL));
	make_file(_metadata, at(b, self->backing, "removed"), 0600, "backing");
	make_file(_metadata, at(b, self->backing, "kept_me"), 0640, "kept");
	make_file(_metadata, at(b, self->backing, "data"), 0604, "data");
	serve_lookups(replies, ARRAY_SIZE(replies));
	self->skel->bss->user_size = sizeof("plain_n");

	ASSERT_EQ(0, stat(at(f, self->dir, "plain_n"), &st));
	EXPECT_EQ(5, st.st_ino);
	/* Not the backing file of the same name: the daemon's node */
	ASSERT_EQ(0, stat(at(f, self->dir, "removed"), &st));
	EXPECT_EQ(6, st.st_ino);
	EXPECT_EQ(S_IFREG | 0644, st.st_mode);
	/* The daemon serves it */
	ASSERT_EQ(0, statx(AT_FDCWD, f, AT_STATX_FORCE_SYNC, STATX_SIZE,
			   &stx));
	EXPECT_EQ(42, stx.stx_size);
	/* Served from the backing, no request */
	expect_same_stat(_metadata, at(f, self->dir, "kept_me"),
			 at(b, self->backing, "kept_me"));
	ASSERT_EQ(4, read_all(f, buf, sizeof(buf)));
	EXPECT_STREQ("kept", buf);
	expect_same_stat(_metadata, at(f, self->dir, "replace"),
			 at(b, self->backing, "data"));
	ASSERT_EQ(4, read_all(f, buf, sizeof(buf)));
	EXPECT_STREQ("data", buf);
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "missing"), &st));
	EXPECT_EQ(ENOENT, errno);
	/* The daemon's nodes time out as it said, not by the backing */
	ASSERT_EQ(0, stat(at(f, self->dir, "removed"), &st));
	EXPECT_EQ(6, st.st_ino);
	ASSERT_EQ(0, stat(at(f, self->dir, "plain_n"), &st));
	EXPECT_EQ(5, st.st_ino);
	/* Other sizes stay served from the backing, no request */
	expect_same_stat(_metadata, at(f, self->dir, "data"),
			 at(b, self->backing, "data"));
	/* Also the inode the daemon named, under another name */
	ASSERT_EQ(0, link(at(b, self->backing, "kept_me"),
			  at(f, self->backing, "kept_link")));
	expect_same_stat(_metadata, at(f, self->dir, "kept_link"),
			 at(b, self->backing, "kept_me"));
	ASSERT_EQ(0, unlink(at(f, self->backing, "kept_link")));
	expect_enoent(_metadata, at(f, self->dir, "kept_link"));
	ASSERT_TRUE(test_daemon_expect(self->td, expected,
				       ARRAY_SIZE(expected)));
}

/* The number of LOOKUPs of @name the daemon received */
static int count_lookups(struct test_daemon *td, const char *name)
{
	static struct td_log_entry log[TD_LOG_SIZE];
	size_t i, n = test_daemon_get_log(td, log, TD_LOG_SIZE);
	int count = 0;

	for (i = 0; i < n && i < TD_LOG_SIZE; i++)
		count += log[i].opcode == FUSE_LOOKUP &&
			 !strcmp(log[i].name, name);
	return count;
}

/*
 * The daemon revalidates the entries it made in a backed directory, and
 * a reply that makes another node replaces the entry.
 */
TEST_F(bpf_filter, daemon_revalidates_its_entries)
{
	static const struct lookup_reply keep[] = {
		{ .name = "kept_me", .nodeid = 7, .ext = true,
		  .backing_action = FUSE_ACTION_KEEP, .uncached = true,
		  .via = TD_REPLY_IOCTL },
	};
	static const struct lookup_reply removed[] = {
		{ .name = "kept_me", .nodeid = 7, .ext = true,
		  .backing_action = FUSE_ACTION_REMOVE, .uncached = true,
		  .via = TD_REPLY_IOCTL },
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	make_file(_metadata, at(b, self->backing, "kept_me"), 0640, "kept");
	self->skel->bss->user_size = sizeof("kept_me");
	serve_lookups(keep, ARRAY_SIZE(keep));
	expect_same_stat(_metadata, at(f, self->dir, "kept_me"), b);
	EXPECT_EQ(1, count_lookups(self->td, "kept_me"));
	/* Revalidated, unchanged */
	expect_same_stat(_metadata, f, b);
	EXPECT_EQ(2, count_lookups(self->td, "kept_me"));

	/* Now a plain node: revalidation fails, the lookup makes it */
	serve_lookups(removed, ARRAY_SIZE(removed));
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(7, st.st_ino);
	EXPECT_EQ(S_IFREG | 0644, st.st_mode);
	EXPECT_EQ(4, count_lookups(self->td, "kept_me"));

	/* And backed again by the same name, as a new lookup would be */
	serve_lookups(keep, ARRAY_SIZE(keep));
	expect_same_stat(_metadata, f, b);
	EXPECT_EQ(6, count_lookups(self->td, "kept_me"));
	EXPECT_EQ(0, test_daemon_unexpected(self->td));
}

/*
 * A reply attaches a program with the backing: lookups in that directory
 * now run it, and it sends them to the daemon with the daemon's node id.
 */
TEST_F(bpf_filter, reply_attaches_program)
{
	static const struct lookup_reply replies[] = {
		{ .name = "subdir", .nodeid = 9, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "sub",
		  .bpf_action = FUSE_ACTION_REPLACE, .prog = true,
		  .via = TD_REPLY_IOCTL },
	};
	static const struct td_expect expected[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "subdir" },
		{ .opcode = FUSE_LOOKUP, .nodeid = 9, .name = "inner1" },
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	ASSERT_EQ(0, mkdir(at(b, self->backing, "sub"), 0755));
	make_file(_metadata, at(b, self->backing, "sub/inner1"), 0600, "in");
	make_file(_metadata, at(b, self->backing, "sub/other_name"), 0600,
		  "x");
	serve_lookups(replies, ARRAY_SIZE(replies));
	self->skel->bss->user_size = sizeof("subdir");

	expect_same_stat(_metadata, at(f, self->dir, "subdir"),
			 at(b, self->backing, "sub"));
	EXPECT_EQ(FUSE_ROOT_ID, self->skel->bss->lookup_nodeid);
	/* This daemon knows no children of node 9 */
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "subdir/inner1"), &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(9, self->skel->bss->lookup_nodeid);
	expect_same_stat(_metadata, at(f, self->dir, "subdir/other_name"),
			 at(b, self->backing, "sub/other_name"));
	ASSERT_TRUE(test_daemon_expect(self->td, expected,
				       ARRAY_SIZE(expected)));
}

/*
 * A backed inode is one (backing inode, credentials, program): a reply
 * that backs another entry by the backing inode of a cached one, with no
 * program, gets an inode of its own. The cached inode keeps the program
 * the mounter gave it.
 */
TEST_F(bpf_filter, replace_cannot_strip_root_bpf)
{
	static const struct lookup_reply replies[] = {
		{ .name = "alias", .nodeid = 10, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "f",
		  .bpf_action = FUSE_ACTION_REMOVE, .via = TD_REPLY_IOCTL },
	};
	static const struct td_expect expected[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "alias" },
	};
	struct fuse_filter__bss *bss = self->skel->bss;
	char b[PATH_MAX], f[PATH_MAX], a[PATH_MAX], buf[16];
	struct stat fst, ast;
	__u32 getattrs;

	make_file(_metadata, at(b, self->backing, "f"), 0644, "data");
	getattrs = bss->pre[FUSE_GETATTR];
	ASSERT_EQ(0, stat(at(f, self->dir, "f"), &fst));
	EXPECT_EQ(getattrs + 1, bss->pre[FUSE_GETATTR]);

	serve_lookups(replies, ARRAY_SIZE(replies));
	bss->user_size = sizeof("alias");
	getattrs = bss->pre[FUSE_GETATTR];
	ASSERT_EQ(0, stat(at(a, self->dir, "alias"), &ast));
	/* No program runs on the alias */
	EXPECT_EQ(getattrs, bss->pre[FUSE_GETATTR]);
	/* Backed by the same backing inode */
	EXPECT_EQ(fst.st_dev, ast.st_dev);
	EXPECT_EQ(fst.st_ino, ast.st_ino);
	EXPECT_EQ(4, ast.st_size);
	ASSERT_EQ(4, read_all(a, buf, sizeof(buf)));
	EXPECT_STREQ("data", buf);

	/* The mounter's program still runs on the cached inode */
	ASSERT_EQ(0, stat(f, &fst));
	EXPECT_EQ(getattrs + 1, bss->pre[FUSE_GETATTR]);
	EXPECT_EQ(fst.st_ino, ast.st_ino);
	ASSERT_EQ(0, stat(a, &ast));
	EXPECT_EQ(getattrs + 1, bss->pre[FUSE_GETATTR]);
	ASSERT_TRUE(test_daemon_expect(self->td, expected,
				       ARRAY_SIZE(expected)));
}

/* The fsuid the daemon thread last replied to a LOOKUP with */
static int lookup_reply_fsuid = -1;

/*
 * bpf_daemon_lookup(), but the reply to "secret_alias" goes out with
 * fsuid and fsgid 3000, which also drop the filesystem capabilities: the
 * kernel captures these credentials with the backing. The raw system
 * calls change those of the daemon thread only.
 */
static int lookup_as_uid3000(struct test_daemon *td, struct td_req *req)
{
	int id = strcmp(req->arg, "secret_alias") ? 0 : 3000;
	int err;

	/* Root for the stat() and open() of bpf_daemon_lookup() */
	syscall(SYS_setfsuid, 0);
	syscall(SYS_setfsgid, 0);
	err = bpf_daemon_lookup(td, req);
	syscall(SYS_setfsgid, id);
	syscall(SYS_setfsuid, id);
	/* An invalid id changes nothing, the current fsuid is returned */
	lookup_reply_fsuid = syscall(SYS_setfsuid, -1);
	return err;
}

/*
 * A backing a reply attaches is used with the credentials of the server
 * that replied, even if an entry of the mounter is cached for the same
 * backing inode: the reply gets an inode of its own, not the mounter's.
 */
TEST_F(bpf_filter, replace_gets_server_creds)
{
	static const struct lookup_reply replies[] = {
		{ .name = "secret_alias", .nodeid = 11, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "secret",
		  .via = TD_REPLY_IOCTL },
	};
	static const struct td_expect expected[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "secret_alias" },
	};
	char b[PATH_MAX], f[PATH_MAX], a[PATH_MAX], buf[16];
	struct stat st, ast;
	int fd, fsuid;

	make_file(_metadata, at(b, self->backing, "secret"), 0600, "secret");
	/* Cached, with the mounter's credentials */
	ASSERT_EQ(0, stat(at(f, self->dir, "secret"), &st));
	EXPECT_EQ(0, st.st_uid);

	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_LOOKUP,
					     lookup_as_uid3000,
					     &bpf_daemon_state));
	serve_lookups(replies, ARRAY_SIZE(replies));
	self->skel->bss->user_size = sizeof("secret_alias");
	ASSERT_EQ(0, stat(at(a, self->dir, "secret_alias"), &ast));
	EXPECT_EQ(st.st_ino, ast.st_ino);
	test_daemon_lock(self->td);
	fsuid = lookup_reply_fsuid;
	test_daemon_unlock(self->td);
	ASSERT_EQ(3000, fsuid);

	/* uid 3000 may not read a 0600 file of root's */
	errno = 0;
	fd = open(a, O_RDONLY);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EACCES, errno);
	if (fd >= 0)
		close(fd);
	/* The mounter's entry keeps the mounter's credentials */
	ASSERT_EQ(6, read_all(f, buf, sizeof(buf)));
	EXPECT_STREQ("secret", buf);
	EXPECT_EQ(-EACCES, read_all(a, buf, sizeof(buf)));
	ASSERT_TRUE(test_daemon_expect(self->td, expected,
				       ARRAY_SIZE(expected)));
}

/*
 * @name failed to be made, but the backing call had made it: the FUSE
 * entry is the backing's object, of type @type.
 */
static void expect_made_anyway(struct __test_metadata *_metadata,
			       struct _test_data_bpf_filter *self,
			       const char *name, mode_t type)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat bst, st;

	ASSERT_EQ(0, lstat(at(b, self->backing, name), &bst))
		TH_LOG("%s not made: %s", name, strerror(errno));
	EXPECT_EQ(type, bst.st_mode & S_IFMT);
	ASSERT_EQ(0, lstat(at(f, self->dir, name), &st))
		TH_LOG("lstat %s: %s", f, strerror(errno));
	EXPECT_EQ(type, st.st_mode & S_IFMT);
	EXPECT_EQ(bst.st_ino, st.st_ino);
}

/*
 * A post-filter fails creations the backing calls made: the new entries
 * are there all the same, and valid as long as their backing entries are.
 * The negative entries they replace came from the daemon (the program
 * sent it the lookups), which revalidates its own entries: unless the
 * new entries are marked as the backing's, it is asked about them.
 */
TEST_F(bpf_filter, postfilter_fails_new_entries)
{
	static const struct td_expect expected[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "d" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "c" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "n" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "s" },
	};
	struct fuse_filter__bss *bss = self->skel->bss;
	char f[PATH_MAX];
	__u32 lookups;
	int fd;

	bss->new_entry_post = 1;
	/*
	 * The program sends the lookups of these names to the daemon, which
	 * knows none of them: negative entries it times out (ENOENT)
	 */
	bss->user_size = sizeof("d");
	bss->post_error_in = 1;
	errno = 0;
	EXPECT_EQ(-1, mkdir(at(f, self->dir, "d"), 0755));
	EXPECT_EQ(ENOENT, errno);
	errno = 0;
	fd = open(at(f, self->dir, "c"), O_CREAT | O_EXCL | O_WRONLY, 0644);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(ENOENT, errno);
	if (fd >= 0)
		close(fd);
	errno = 0;
	EXPECT_EQ(-1, mknod(at(f, self->dir, "n"), S_IFIFO | 0644, 0));
	EXPECT_EQ(ENOENT, errno);
	errno = 0;
	EXPECT_EQ(-1, symlink("target", at(f, self->dir, "s")));
	EXPECT_EQ(ENOENT, errno);
	/* The backing calls had succeeded */
	EXPECT_EQ(0, bss->post_error_in);

	/*
	 * Valid: neither looked up again (the program would send the names
	 * to the daemon again), nor revalidated by the daemon
	 */
	lookups = bss->pre[FUSE_LOOKUP];
	expect_made_anyway(_metadata, self, "d", S_IFDIR);
	expect_made_anyway(_metadata, self, "c", S_IFREG);
	expect_made_anyway(_metadata, self, "n", S_IFIFO);
	expect_made_anyway(_metadata, self, "s", S_IFLNK);
	/* Positive entries: the VFS refuses to make them again */
	errno = 0;
	EXPECT_EQ(-1, mkdir(at(f, self->dir, "d"), 0755));
	EXPECT_EQ(EEXIST, errno);
	errno = 0;
	fd = open(at(f, self->dir, "c"), O_CREAT | O_EXCL | O_WRONLY, 0644);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EEXIST, errno);
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(lookups, bss->pre[FUSE_LOOKUP]);
	EXPECT_EQ(1, bss->pre[FUSE_MKDIR]);
	EXPECT_EQ(1, bss->post[FUSE_MKDIR]);
	EXPECT_EQ(1, bss->pre[FUSE_CREATE]);
	EXPECT_EQ(1, bss->post[FUSE_CREATE]);
	EXPECT_EQ(1, bss->pre[FUSE_MKNOD]);
	EXPECT_EQ(1, bss->post[FUSE_MKNOD]);
	EXPECT_EQ(1, bss->pre[FUSE_SYMLINK]);
	EXPECT_EQ(1, bss->post[FUSE_SYMLINK]);
	ASSERT_TRUE(test_daemon_expect(self->td, expected,
				       ARRAY_SIZE(expected)));
}

#define LDX(size, offset)					\
	{ .code = BPF_LDX | BPF_MEM | (size), .dst_reg = BPF_REG_2,	\
	  .src_reg = BPF_REG_1, .off = (offset) }

/* BPF_PROG_TYPE_FUSE context: scalar reads only, exact sizes */
TEST(bpf_fuse_context_access)
{
	static const struct {
		const char *what;
		struct bpf_insn insn;
		bool ok;
	} cases[] = {
		{ "nodeid", LDX(BPF_DW, 0), true },
		{ "opcode", LDX(BPF_W, 8), true },
		{ "error_in", LDX(BPF_W, 12), true },
		{ "flags", LDX(BPF_W, 24), true },
		{ "out_args[1].max_size",
		  LDX(BPF_W, 128 + 20), true },
		{ "padding", LDX(BPF_W, 28), false },
		{ "narrow opcode",
		  LDX(BPF_B, 8), false },
		{ "in_args[0].value",
		  LDX(BPF_DW, 32), false },
		{ "out_args[0].end_offset",
		  LDX(BPF_DW, 104 + 8), false },
		{ "past the end",
		  LDX(BPF_W, 152), false },
		{ "write opcode",
		  { .code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = BPF_REG_1,
		    .off = 8 }, false },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct bpf_insn insns[] = {
			cases[i].insn,
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K,
			  .dst_reg = BPF_REG_0 },
			{ .code = BPF_JMP | BPF_EXIT },
		};
		int fd = bpf_prog_load(BPF_PROG_TYPE_FUSE, NULL, "GPL", insns,
				       ARRAY_SIZE(insns), NULL);

		EXPECT_EQ(cases[i].ok, fd >= 0)
			TH_LOG("%s: %s", cases[i].what, strerror(errno));
		if (!cases[i].ok)
			EXPECT_EQ(EACCES, errno) TH_LOG("%s", cases[i].what);
		if (fd >= 0)
			close(fd);
	}
}

static struct passthrough_state {
	int fuse_fd;
	const char *backing;
	unsigned int opens, releases;
} passthrough_state;

static int pt_open(struct test_daemon *td, struct td_req *req)
{
	struct passthrough_state *state = req->priv;
	struct fuse_open_out *out = req->out;
	struct fuse_backing_map map = { 0 };
	int id;

	map.fd = open(state->backing, O_RDONLY);
	if (map.fd < 0)
		return -EIO;
	id = ioctl(state->fuse_fd, FUSE_DEV_IOC_BACKING_OPEN, &map);
	close(map.fd);
	if (id <= 0)
		return -EIO;
	state->opens++;
	out->fh = 1;
	out->open_flags = FOPEN_PASSTHROUGH;
	out->backing_id = id;
	req->out_len = sizeof(*out);
	return 0;
}

static int pt_release(struct test_daemon *td, struct td_req *req)
{
	struct passthrough_state *state = req->priv;

	state->releases++;
	return 0;
}

static int pt_flush(struct test_daemon *td, struct td_req *req)
{
	return 0;
}

/* What the passthrough daemon counted */
static void pt_counts(struct test_daemon *td, unsigned int *opens,
		      unsigned int *releases)
{
	test_daemon_lock(td);
	*opens = passthrough_state.opens;
	*releases = passthrough_state.releases;
	test_daemon_unlock(td);
}

static unsigned int pt_releases(struct test_daemon *td)
{
	unsigned int opens, releases;

	pt_counts(td, &opens, &releases);
	return releases;
}

/*
 * 6.12's FOPEN_PASSTHROUGH keeps working on the plain nodes of a fuse-bpf
 * mount, next to backed ones: reads go to the server's backing file, and
 * no READ is sent (it would be an unexpected request).
 */
TEST_F(bpf_daemon, fopen_passthrough_coexists)
{
	static const struct lookup_reply replies[] = {
		{ .name = "plain", .nodeid = 8, .via = TD_REPLY_WRITE },
		{ .name = "backed", .nodeid = 9, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .via = TD_REPLY_IOCTL },
	};
	char b[PATH_MAX], f[PATH_MAX], buf[64];
	unsigned int opens, releases;
	int fd;

	make_file(_metadata, at(b, self->backing, "data"), 0644, "data");
	make_file(_metadata, at(b, self->backing, "pt"), 0644, "passthrough");
	memset(&passthrough_state, 0, sizeof(passthrough_state));
	passthrough_state.fuse_fd = self->fuse_fd;
	passthrough_state.backing = b;
	serve_lookups(replies, ARRAY_SIZE(replies));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_OPEN, pt_open,
					     &passthrough_state));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_FLUSH, pt_flush,
					     NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_RELEASE,
					     pt_release, &passthrough_state));

	fd = open(at(f, self->dir, "plain"), O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(11, pread(fd, buf, sizeof(buf), 0));
	EXPECT_STREQ("passthrough", buf);
	EXPECT_EQ(0, close(fd));

	/* The backed node next to it asks the daemon nothing */
	ASSERT_EQ(4, read_all(at(f, self->dir, "backed"), buf, sizeof(buf)));
	EXPECT_STREQ("data", buf);

	/*
	 * RELEASE is sent in the background after close(): wait for it.
	 * One per OPEN, and no more once all were answered.
	 */
	EXPECT_TRUE(poll_until(pt_releases(self->td) >= 1))
		TH_LOG("no RELEASE within %d ms", POLL_TIMEOUT_MS);
	ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
	pt_counts(self->td, &opens, &releases);
	EXPECT_EQ(1, opens);
	EXPECT_EQ(opens, releases);

	/* A second open and close: a second pair */
	ASSERT_EQ(11, read_all(at(f, self->dir, "plain"), buf, sizeof(buf)));
	EXPECT_STREQ("passthrough", buf);
	EXPECT_TRUE(poll_until(pt_releases(self->td) >= 2))
		TH_LOG("no RELEASE within %d ms", POLL_TIMEOUT_MS);
	ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
	pt_counts(self->td, &opens, &releases);
	EXPECT_EQ(2, opens);
	EXPECT_EQ(opens, releases);
}

/* Does /proc/@pid/exe name @path? */
static bool runs_exe(pid_t pid, const char *path)
{
	char exe[PATH_MAX], link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = 0;
	return !strcmp(exe, path);
}

/* Opening a running executable for writing: ETXTBSY, and nothing leaks */
TEST_F(backed, open_txtbsy)
{
	char b[PATH_MAX], f[PATH_MAX], buf[4096];
	int in, out, status, pipefd[2], err = 0;
	ssize_t len;
	pid_t pid;

	in = open("/bin/sleep", O_RDONLY);
	ASSERT_LE(0, in);
	out = open(at(b, self->backing, "sleep"), O_WRONLY | O_CREAT, 0755);
	ASSERT_LE(0, out);
	while ((len = read(in, buf, sizeof(buf))) > 0)
		ASSERT_EQ(len, write(out, buf, len));
	ASSERT_EQ(0, close(in));
	ASSERT_EQ(0, close(out));

	/* Closed by a successful exec, or given the errno of a failed one */
	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(pipefd[0]);
		/* Kept across the exec: gone with a test that failed */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(b, "sleep", "1000", NULL);
		err = errno;
		if (write(pipefd[1], &err, sizeof(err)) < 0)
			_exit(2);
		_exit(1);
	}
	ASSERT_EQ(0, close(pipefd[1]));
	/*
	 * End of file: the exec is past the point of no return, the file
	 * already denies writers.
	 */
	len = read(pipefd[0], &err, sizeof(err));
	EXPECT_EQ(0, close(pipefd[0]));
	ASSERT_EQ(0, len) TH_LOG("exec %s: %s", b, strerror(err));
	/* And the process shows it runs the copy, soon after */
	ASSERT_TRUE(poll_until(runs_exe(pid, b)))
		TH_LOG("/proc/%d/exe is not %s", pid, b);

	errno = 0;
	EXPECT_EQ(-1, open(at(f, self->dir, "sleep"), O_WRONLY));
	EXPECT_EQ(ETXTBSY, errno);
	errno = 0;
	EXPECT_EQ(-1, truncate(f, 0));
	EXPECT_EQ(ETXTBSY, errno);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	/* Writable again once it is gone */
	out = open(f, O_WRONLY);
	ASSERT_LE(0, out) TH_LOG("open: %s", strerror(errno));
	EXPECT_EQ(0, close(out));
}

/* statx() flags are the VFS's business: all give the backing attributes */
TEST_F(backed, statx_sync_flags)
{
	static const int flags[] = {
		AT_STATX_SYNC_AS_STAT, AT_STATX_FORCE_SYNC,
		AT_STATX_DONT_SYNC,
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct statx fx, bx;
	size_t i;

	make_file(_metadata, at(b, self->backing, "f"), 0644, "statx");
	ASSERT_EQ(0, statx(AT_FDCWD, b, 0, STATX_ALL, &bx));
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		ASSERT_EQ(0, statx(AT_FDCWD, at(f, self->dir, "f"), flags[i],
				   STATX_ALL, &fx));
		EXPECT_EQ(bx.stx_ino, fx.stx_ino);
		EXPECT_EQ(bx.stx_size, fx.stx_size);
		EXPECT_EQ(bx.stx_mode, fx.stx_mode);
		EXPECT_EQ(bx.stx_mask & STATX_BTIME, fx.stx_mask & STATX_BTIME);
		EXPECT_EQ(bx.stx_btime.tv_sec, fx.stx_btime.tv_sec);
		EXPECT_EQ(bx.stx_btime.tv_nsec, fx.stx_btime.tv_nsec);
		EXPECT_EQ(bx.stx_mtime.tv_nsec, fx.stx_mtime.tv_nsec);
	}
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

/* The kinds of file a server may not attach, and how to get one */
enum {
	SPECIAL_EVENTFD, SPECIAL_PIPE, SPECIAL_SOCKET, SPECIAL_MEMFD,
	SPECIAL_PROC_DIR, SPECIAL_PROC_LINK, SPECIAL_BPFFS, SPECIAL_NR
};

static const char *const special_names[SPECIAL_NR] = {
	"eventfd", "pipe", "socket", "memfd", "procdir", "proclink", "bpffs",
};

/* Open one file of each special kind; @bpffs is a directory to mount on */
static void open_special_files(struct __test_metadata *_metadata,
			       int *fds, int *pipe_fds, int *sock_fds,
			       const char *bpffs)
{
	fds[SPECIAL_EVENTFD] = eventfd(0, EFD_CLOEXEC);
	ASSERT_EQ(0, pipe2(pipe_fds, O_CLOEXEC));
	fds[SPECIAL_PIPE] = pipe_fds[0];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				sock_fds));
	fds[SPECIAL_SOCKET] = sock_fds[0];
	fds[SPECIAL_MEMFD] = memfd_create("fuse_bpf", MFD_CLOEXEC);
	fds[SPECIAL_PROC_DIR] = open("/proc/self", O_PATH | O_DIRECTORY |
				     O_CLOEXEC);
	/* A magic link: get_link would jump to our root */
	fds[SPECIAL_PROC_LINK] = open("/proc/self/root", O_PATH | O_NOFOLLOW |
				      O_CLOEXEC);
	ASSERT_EQ(0, mount("bpf", bpffs, "bpf", 0, NULL))
		TH_LOG("bpffs: %s", strerror(errno));
	fds[SPECIAL_BPFFS] = open(bpffs, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/*
 * A server may attach a directory, a regular file or a symlink of a
 * filesystem mounted for users, nothing else: an eventfd (an anon inode
 * with no file type, once a BUG() in fuse_init_inode()), a pipe, a socket,
 * a memfd, procfs (magic links) and bpffs are refused with EINVAL, and the
 * caller gets EIO. A regular file in the same run is accepted.
 */
TEST_F(bpf_daemon, lookup_replace_special_files)
{
	struct lookup_reply replies[SPECIAL_NR + 1] = {
		[SPECIAL_NR] = { .name = "data", .nodeid = 20, .ext = true,
				 .backing_action = FUSE_ACTION_REPLACE,
				 .backing = "data", .via = TD_REPLY_IOCTL },
	};
	int fds[SPECIAL_NR], pipe_fds[2], sock_fds[2], i;
	char b[PATH_MAX], f[PATH_MAX], bpffs[64];
	struct td_log_entry e;
	struct stat st;

	make_file(_metadata, at(b, self->backing, "data"), 0640, "x");
	snprintf(bpffs, sizeof(bpffs), "/tmp/fuse_bpffs.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(bpffs));
	open_special_files(_metadata, fds, pipe_fds, sock_fds, bpffs);
	for (i = 0; i < SPECIAL_NR; i++) {
		ASSERT_LE(0, fds[i]) TH_LOG("%s: %s", special_names[i],
					    strerror(errno));
		replies[i] = (struct lookup_reply) {
			.name = special_names[i], .nodeid = 10 + i,
			.ext = true, .backing_action = FUSE_ACTION_REPLACE,
			.backing_fd = fds[i], .via = TD_REPLY_IOCTL,
		};
	}
	serve_lookups(replies, ARRAY_SIZE(replies));

	for (i = 0; i < SPECIAL_NR; i++) {
		errno = 0;
		EXPECT_EQ(-1, stat(at(f, self->dir, special_names[i]), &st))
			TH_LOG("%s was attached", special_names[i]);
		EXPECT_EQ(EIO, errno) TH_LOG("%s", special_names[i]);
		ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
		ASSERT_TRUE(find_lookup(self->td, special_names[i], &e));
		EXPECT_EQ(EINVAL, e.ioctl_errno)
			TH_LOG("%s: %s", special_names[i],
			       strerror(e.ioctl_errno));
	}
	/* The control */
	ASSERT_EQ(0, stat(at(f, self->dir, "data"), &st))
		TH_LOG("%s", strerror(errno));
	EXPECT_EQ(S_IFREG | 0640, st.st_mode);

	serve_lookups(NULL, 0);
	for (i = 0; i < SPECIAL_NR; i++)
		EXPECT_EQ(0, close(fds[i]));
	EXPECT_EQ(0, close(pipe_fds[1]));
	EXPECT_EQ(0, close(sock_fds[1]));
	EXPECT_EQ(0, umount(bpffs));
	EXPECT_EQ(0, rmdir(bpffs));
}

/* Nor may procfs or bpffs be the root_dir of a mount */
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

/* Copy the program @from to @to, executable */
static void copy_program(struct __test_metadata *_metadata, const char *from,
			 const char *to)
{
	int in, out;
	struct stat st;

	in = open(from, O_RDONLY);
	ASSERT_LE(0, in);
	ASSERT_EQ(0, fstat(in, &st));
	out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0755);
	ASSERT_LE(0, out);
	ASSERT_EQ(st.st_size, sendfile(out, in, NULL, st.st_size));
	ASSERT_EQ(0, close(in));
	ASSERT_EQ(0, close(out));
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

	copy_program(_metadata, "/bin/true", at(b, self->backing, "prog"));
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
