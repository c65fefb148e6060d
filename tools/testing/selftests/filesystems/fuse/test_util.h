/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the fuse-bpf selftests: backing directories on the
 * harness's ext4 scratch disk, mounts, and running a call as another user.
 * Include after kselftest_harness.h.
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
#include <unistd.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/wait.h>

/* Options every fuse mount needs; fuse-bpf options come in front */
#define FUSE_BASE_OPTS	"rootmode=40000,user_id=0,group_id=0"

/* The harness's ext4 scratch disk, where backing directories live */
#define TEST_SCRATCH	"/tmp/scratch"
#define TEST_EXT4_MAGIC	0xEF53

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

#endif /* __FUSE_TEST_UTIL_H */
