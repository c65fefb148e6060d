/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the fuse-bpf selftests: backing directories on the
 * harness's ext4 scratch disk, mounts, running a call as another user,
 * checks of backed names against their backing, and the daemon of
 * fuse_bpf_util.h. Header-only for the ASSERT macros of the harness:
 * include after kselftest_harness.h. What needs no harness macros is
 * built once, in fuse_bpf_util.c.
 */
#ifndef __FUSE_TEST_UTIL_H
#define __FUSE_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "fuse_bpf_util.h"

/* Options every fuse mount needs; fuse-bpf options come in front */
#define FUSE_BASE_OPTS	"rootmode=40000,user_id=0,group_id=0"

/* The harness's ext4 scratch disk, where backing directories live */
#define TEST_SCRATCH	"/tmp/scratch"
#define TEST_EXT4_MAGIC	0xEF53

/* The FUSE control filesystem, with a directory per connection */
#define FUSE_CTL_DIR		"/sys/fs/fuse/connections"
#define FUSE_CTL_SUPER_MAGIC	0x65735543

/* @call fails with errno @err */
#define EXPECT_FAILS(err, call) do {					\
	long __ret;							\
	int __err;							\
									\
	errno = 0;							\
	__ret = (long)(call);						\
	__err = errno;							\
	EXPECT_EQ(-1, __ret) TH_LOG("%s succeeded", #call);		\
	EXPECT_EQ(err, __err) TH_LOG("%s: %s", #call, strerror(__err));	\
} while (0)

/*
 * A directory of a real filesystem to back mounts with, on the ext4
 * scratch disk. The tests compare fuse-bpf with ext4: a missing disk is a
 * failure, not a reason to test something else.
 */
static inline void make_backing_dir(struct __test_metadata *_metadata,
				    char *dir, size_t size)
{
	struct statfs sfs;

	ASSERT_EQ(0, statfs(TEST_SCRATCH, &sfs))
		TH_LOG("no scratch disk at %s", TEST_SCRATCH);
	ASSERT_EQ(TEST_EXT4_MAGIC, sfs.f_type)
		TH_LOG("%s is not ext4", TEST_SCRATCH);
	snprintf(dir, size, "%s/fuse_bpf_backing.XXXXXX", TEST_SCRATCH);
	ASSERT_NE(NULL, mkdtemp(dir));
}

static inline int test_remove_entry(const char *path, const struct stat *st,
				    int type, struct FTW *ftw)
{
	return remove(path);
}

/* rm -rf @dir */
static inline int remove_tree(const char *dir)
{
	return nftw(dir, test_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A private mount namespace: its mounts go with the test process */
static inline void private_mount_ns(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
}

/* The FUSE control filesystem, mounted if it is not */
static inline void mount_fusectl(struct __test_metadata *_metadata)
{
	struct statfs sfs;

	ASSERT_EQ(0, statfs(FUSE_CTL_DIR, &sfs))
		TH_LOG("%s: %s", FUSE_CTL_DIR, strerror(errno));
	if (sfs.f_type == FUSE_CTL_SUPER_MAGIC)
		return;
	ASSERT_EQ(0, mount("fusectl", FUSE_CTL_DIR, "fusectl", 0, NULL))
		TH_LOG("mount fusectl: %s", strerror(errno));
}

/* A new directory /tmp/@name.XXXXXX in @dir (@size bytes) */
static inline void make_tmp_dir(struct __test_metadata *_metadata, char *dir,
				size_t size, const char *name)
{
	snprintf(dir, size, "/tmp/%s.XXXXXX", name);
	ASSERT_NE(NULL, mkdtemp(dir));
}

/* Create @path (it must not exist) with @mode, holding @data */
static inline void make_file(struct __test_metadata *_metadata,
			     const char *path, mode_t mode, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);

	ASSERT_LE(0, fd) TH_LOG("create %s: %s", path, strerror(errno));
	ASSERT_EQ(strlen(data), write(fd, data, strlen(data)));
	ASSERT_EQ(0, close(fd));
}

/* mount(2) a fuse filesystem with @opts; returns 0 or -errno */
static inline int mount_fuse(const char *dir, const char *opts)
{
	return mount("fuse_test", dir, "fuse", 0, opts) ? -errno : 0;
}

/* @buf (PATH_MAX bytes) = @dir/@rel */
static inline const char *at(char *buf, const char *dir, const char *rel)
{
	snprintf(buf, PATH_MAX, "%s/%s", dir, rel);
	return buf;
}

/* Who runs a call: a uid, its primary group and supplementary groups */
struct test_user {
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[4];
};

/* Become @u for good (in a child process); false if it failed */
static inline bool become_user(const struct test_user *u)
{
	return !setgroups(u->ngroups, u->groups) &&
	       !setresgid(u->gid, u->gid, u->gid) &&
	       !setresuid(u->uid, u->uid, u->uid);
}

/*
 * Run @fn(@path, @arg) as @u, in a child. Returns 0 if it succeeded, the
 * errno it failed with, or -1 if the child could not run it.
 */
static inline int run_as_user(const struct test_user *u,
			      int (*fn)(const char *path, const void *arg),
			      const char *path, const void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (!become_user(u))
			_exit(255);
		_exit(fn(path, arg) < 0 ? errno : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status) == 255 ? -1 : WEXITSTATUS(status);
}

/* Bound of the waits for something asynchronous, generous for slow VMs */
#define POLL_TIMEOUT_MS	20000

static inline long long now_ms(void)
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

/* Copy the program @from to @to, mode @mode */
static inline void copy_program(struct __test_metadata *_metadata,
				const char *from, const char *to, mode_t mode)
{
	struct stat st;
	int in, out;

	in = open(from, O_RDONLY);
	ASSERT_LE(0, in) TH_LOG("open %s: %s", from, strerror(errno));
	ASSERT_EQ(0, fstat(in, &st));
	out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0700);
	ASSERT_LE(0, out);
	ASSERT_EQ(st.st_size, sendfile(out, in, NULL, st.st_size));
	ASSERT_EQ(0, close(in));
	ASSERT_EQ(0, fchmod(out, mode));
	ASSERT_EQ(0, close(out));
}

/* A FUSE name and its backing name have the same attributes */
static inline void expect_same_stat(struct __test_metadata *_metadata,
				    const char *fuse_path,
				    const char *backing_path)
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

/* @path does not exist */
static inline void expect_enoent(struct __test_metadata *_metadata,
				 const char *path)
{
	struct stat st;

	errno = 0;
	EXPECT_EQ(-1, stat(path, &st)) TH_LOG("%s exists", path);
	EXPECT_EQ(ENOENT, errno);
}

/*
 * readlink() of @path gives exactly @target: readlink() does not
 * NUL-terminate, so compare the length and the bytes.
 */
static inline void expect_readlink(struct __test_metadata *_metadata,
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

/*
 * The super options of the mount on @dir in /proc/self/mountinfo say
 * fuse_bpf and no_daemon as expected, and never show a descriptor: no
 * root_dir, root_bpf or fd.
 */
static inline void check_super_options(struct __test_metadata *_metadata,
				       const char *dir, bool bpf,
				       bool no_daemon)
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

/*
 * Serve @fuse_fd with a daemon that takes FUSE_BPF (and @init_flags) and
 * answers LOOKUP from bpf_daemon_state.
 */
static inline void serve_bpf_daemon(struct __test_metadata *_metadata,
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
static inline void start_bpf_daemon(struct __test_metadata *_metadata,
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
static inline void stop_bpf_daemon(struct __test_metadata *_metadata,
				   const char *dir, int fuse_fd,
				   struct test_daemon *td)
{
	EXPECT_EQ(0, test_fuse_umount(dir));
	EXPECT_EQ(0, test_daemon_stop(td, TD_STOP_TIMEOUT_MS));
	EXPECT_EQ(0, test_daemon_unexpected(td));
	test_daemon_destroy(td);
	EXPECT_EQ(0, close(fuse_fd));
}

#endif /* __FUSE_TEST_UTIL_H */
