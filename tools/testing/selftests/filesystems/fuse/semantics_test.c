// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests for what backed inodes of a fuse-bpf mount do that the VFS
 * leaves to the filesystem, compared with what the backing filesystem does
 * on its own:
 *
 * - atime follows the FUSE mount's options (noatime, nodiratime, relatime
 *   and its 24 hour rule, strictatime, lazytime, read-only) exactly as ext4
 *   follows those of a bind mount of it, for read(), mmap(), getdents64()
 *   and readlink(); the backing mount's own atime options play no part;
 * - FS_IOC_FIEMAP gives the backing file's extents, on ext4 and on XFS;
 * - FICLONE, FICLONERANGE and FIDEDUPERANGE do on XFS what they do on the
 *   XFS natively, fail on ext4 as they do there, and fail with EXDEV
 *   between two mounts;
 * - fsync() of a directory reaches the backing directory: a lower FUSE
 *   server (test_daemon.c) gets exactly one FUSE_FSYNCDIR for it;
 * - inotify and fanotify: a change made through a backed directory is
 *   reported on it and on the backing directory, one made directly in
 *   the backing directory only there, as on overlayfs.
 *
 * Backing directories live on the harness's ext4 scratch disk; the XFS is
 * made on a loop device over an image on that disk.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../kselftest_harness.h"
#include "test_util.h"
#include "test_daemon.h"
#include "fuse_bpf_util.h"

/* The VM runs under TCG: be generous */
#define ST_TIMEOUT		120

#define HOUR			3600
#define DAY			(24 * HOUR)

/* The unprivileged user of the O_NOATIME permission test */
#define TEST_UID		1000

#define MKFS_XFS		"/usr/sbin/mkfs.xfs"
#define LOOP_CONTROL		"/dev/loop-control"
#define LOOP_MAJOR		7
/* mkfs.xfs wants 300 MB at least */
#define XFS_IMAGE_SIZE		(320LL << 20)
#define XFS_SUPER_MAGIC		0x58465342

/* Extents a FIEMAP here asks for: more than any file has */
#define FM_EXTENTS		64

/* A no_daemon fuse-bpf mount on @dir backed by @backing, with @flags */
static void mount_bpf(struct __test_metadata *_metadata, const char *dir,
		      const char *backing, unsigned long flags,
		      const char *extra)
{
	char opts[256];
	int fd;

	fd = open(backing, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", backing, strerror(errno));
	snprintf(opts, sizeof(opts), "no_daemon,root_dir=%d,%s%s", fd, extra,
		 FUSE_BASE_OPTS);
	ASSERT_EQ(0, mount("fuse_test", dir, "fuse", flags, opts))
		TH_LOG("mount fuse-bpf on %s (flags %#lx): %s", dir, flags,
		       strerror(errno));
	ASSERT_EQ(0, close(fd));
}

#define MS_ATIME_FLAGS	(MS_NOATIME | MS_RELATIME | MS_STRICTATIME)

/*
 * A bind mount of @backing on @dir, with the per-mount @flags. Without an
 * atime option it is relatime, as a new mount is: not what the scratch
 * disk's mount happens to be.
 */
static void mount_native(struct __test_metadata *_metadata,
			 const char *backing, const char *dir,
			 unsigned long flags)
{
	if (!(flags & MS_ATIME_FLAGS))
		flags |= MS_RELATIME;
	ASSERT_EQ(0, mount(backing, dir, NULL, MS_BIND, NULL))
		TH_LOG("bind %s on %s: %s", backing, dir, strerror(errno));
	ASSERT_EQ(0, mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | flags,
			   NULL))
		TH_LOG("remount %s (flags %#lx): %s", dir, flags,
		       strerror(errno));
}

/* Unmount @dir if something is mounted there; teardown only */
static void unmount_dir(const char *dir)
{
	if (umount(dir) && errno == EBUSY)
		umount2(dir, MNT_DETACH);
}

/* Fill @path (created, must not exist) with @len bytes of @c */
static void make_data_file(struct __test_metadata *_metadata,
			   const char *path, int c, size_t len)
{
	char buf[4096];
	size_t done = 0, n;
	int fd;

	memset(buf, c, sizeof(buf));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd) TH_LOG("create %s: %s", path, strerror(errno));
	while (done < len) {
		n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		ASSERT_EQ(n, write(fd, buf, n));
		done += n;
	}
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, close(fd));
}

/*
 * atime
 */

/* How the object is accessed */
enum access {
	ACC_READ,	/* read() of a file */
	ACC_MMAP,	/* mmap() of a file, a byte read through the map */
	ACC_READDIR,	/* getdents64() of a directory to its end */
	ACC_READLINK,	/* readlink() of a symlink */
};

static const char * const access_name[] = {
	[ACC_READ] = "read",
	[ACC_MMAP] = "mmap",
	[ACC_READDIR] = "readdir",
	[ACC_READLINK] = "readlink",
};

/*
 * Times an access starts from. utimensat() sets the ctime to the current
 * time, so relatime updates an atime older than that, whatever the mtime:
 * the "recent" atime is in the future, newer than the ctime and the mtime
 * and less than a day old, which relatime leaves alone.
 */
enum times {
	T_OLD,		/* atime 48 h ago, mtime 47 h ago: relatime updates */
	T_RECENT,	/* atime in an hour, mtime 2 h ago: relatime does not */
};

static const char * const times_name[] = {
	[T_OLD] = "old",
	[T_RECENT] = "recent",
};

static int do_access(const char *path, enum access acc)
{
	char buf[4096];
	char *map;
	int fd, ret = 0;
	long n;

	if (acc == ACC_READLINK)
		return readlink(path, buf, sizeof(buf)) < 0 ? -errno : 0;
	fd = open(path, acc == ACC_READDIR ? O_RDONLY | O_DIRECTORY :
					    O_RDONLY);
	if (fd < 0)
		return -errno;
	switch (acc) {
	case ACC_READ:
		if (read(fd, buf, sizeof(buf)) <= 0)
			ret = -EIO;
		break;
	case ACC_MMAP:
		map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED) {
			ret = -errno;
			break;
		}
		/* Every file here starts with 'a' */
		if (map[0] != 'a')
			ret = -EIO;
		munmap(map, 4096);
		break;
	default:
		do {
			n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		} while (n > 0);
		if (n < 0)
			ret = -errno;
		break;
	}
	close(fd);
	return ret;
}

static bool ts_equal(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Set the times of @bpath (not following a symlink) to @t; @atime is set */
static void set_times(struct __test_metadata *_metadata, const char *bpath,
		      enum times t, struct timespec *atime)
{
	struct timespec ts[2];

	ASSERT_EQ(0, clock_gettime(CLOCK_REALTIME, &ts[0]));
	ts[1] = ts[0];
	if (t == T_OLD) {
		ts[0].tv_sec -= 48 * HOUR;
		ts[1].tv_sec -= 47 * HOUR;
	} else {
		ts[0].tv_sec += HOUR;
		ts[1].tv_sec -= 2 * HOUR;
	}
	ASSERT_EQ(0, utimensat(AT_FDCWD, bpath, ts, AT_SYMLINK_NOFOLLOW))
		TH_LOG("utimensat %s: %s", bpath, strerror(errno));
	*atime = ts[0];
}

/*
 * Access @mnt/@name with @acc: did the atime of @bdir/@name, the backing
 * inode, change from @set? An atime that changed is the time of the access.
 * What @mnt shows is the backing inode's atime.
 */
static bool access_changes(struct __test_metadata *_metadata,
			   const char *bdir, const char *mnt, const char *name,
			   enum access acc, const struct timespec *set)
{
	char bpath[PATH_MAX], path[PATH_MAX];
	struct timespec before, after;
	struct stat bst, st;

	at(bpath, bdir, name);
	at(path, mnt, name);
	/* Inode times come from the coarse clock */
	ASSERT_EQ(0, clock_gettime(CLOCK_REALTIME_COARSE, &before));
	ASSERT_EQ(0, do_access(path, acc))
		TH_LOG("%s %s failed", access_name[acc], path);
	ASSERT_EQ(0, clock_gettime(CLOCK_REALTIME, &after));
	ASSERT_EQ(0, lstat(bpath, &bst));
	ASSERT_EQ(0, lstat(path, &st));
	EXPECT_EQ(bst.st_atim.tv_sec, st.st_atim.tv_sec)
		TH_LOG("%s shows another atime than its backing", path);
	EXPECT_EQ(bst.st_atim.tv_nsec, st.st_atim.tv_nsec)
		TH_LOG("%s shows another atime than its backing", path);
	if (ts_equal(&bst.st_atim, set))
		return false;
	EXPECT_LE(before.tv_sec, bst.st_atim.tv_sec)
		TH_LOG("%s: atime changed, but not to now", path);
	EXPECT_GE(after.tv_sec, bst.st_atim.tv_sec)
		TH_LOG("%s: atime changed, but not to now", path);
	return true;
}

/* Set the times of @bdir/@name to @t, then access_changes() */
static bool atime_changes(struct __test_metadata *_metadata,
			  const char *bdir, const char *mnt, const char *name,
			  enum access acc, enum times t)
{
	char bpath[PATH_MAX];
	struct timespec set;

	set_times(_metadata, at(bpath, bdir, name), t, &set);
	return access_changes(_metadata, bdir, mnt, name, acc, &set);
}

/*
 * A backing directory with, for each of "fuse" and "native" (so that an
 * access through one mount does not change the times the other starts
 * from): a file f_<m>, a directory d_<m> with an entry, a symlink l_<m>.
 */
static void make_atime_tree(struct __test_metadata *_metadata,
			    const char *backing)
{
	static const char * const sides[] = { "fuse", "native" };
	char p[PATH_MAX], name[32];
	unsigned int i;

	ASSERT_EQ(0, chmod(backing, 0755));
	for (i = 0; i < ARRAY_SIZE(sides); i++) {
		snprintf(name, sizeof(name), "f_%s", sides[i]);
		make_file(_metadata, at(p, backing, name), 0644,
			  "atime test data\n");
		snprintf(name, sizeof(name), "d_%s", sides[i]);
		ASSERT_EQ(0, mkdir(at(p, backing, name), 0755));
		snprintf(name, sizeof(name), "d_%s/x", sides[i]);
		make_file(_metadata, at(p, backing, name), 0644, "x");
		snprintf(name, sizeof(name), "l_%s", sides[i]);
		ASSERT_EQ(0, symlink("f_target", at(p, backing, name)));
	}
}

/* The object an access applies to, for @side ("fuse" or "native") */
static const char *object(char *buf, size_t size, enum access acc,
			  const char *side)
{
	snprintf(buf, size, "%s_%s", acc == ACC_READDIR ? "d" :
		 acc == ACC_READLINK ? "l" : "f", side);
	return buf;
}

/*
 * The fuse-bpf mount with the variant's flags and an ext4 bind mount with
 * the same per-mount flags, over the same backing directory.
 */
FIXTURE(atime) {
	char backing[128];
	char fuse[64];
	char native[64];
};

FIXTURE_VARIANT(atime) {
	unsigned long flags;		/* of the fuse-bpf mount */
	unsigned long native_flags;	/* of the ext4 bind mount */
	bool strict;			/* every access updates */
	bool noatime;			/* no access updates */
	bool nodiratime;		/* no directory access updates */
	bool ro;			/* read-only: no access updates */
};

FIXTURE_VARIANT_ADD(atime, strictatime) {
	.flags = MS_STRICTATIME,
	.native_flags = MS_STRICTATIME,
	.strict = true,
};

FIXTURE_VARIANT_ADD(atime, relatime) {
	.flags = MS_RELATIME,
	.native_flags = MS_RELATIME,
};

/* No atime option: relatime */
FIXTURE_VARIANT_ADD(atime, default) {
	.flags = 0,
	.native_flags = 0,
};

FIXTURE_VARIANT_ADD(atime, noatime) {
	.flags = MS_NOATIME,
	.native_flags = MS_NOATIME,
	.noatime = true,
};

FIXTURE_VARIANT_ADD(atime, nodiratime_strictatime) {
	.flags = MS_NODIRATIME | MS_STRICTATIME,
	.native_flags = MS_NODIRATIME | MS_STRICTATIME,
	.strict = true,
	.nodiratime = true,
};

FIXTURE_VARIANT_ADD(atime, nodiratime_relatime) {
	.flags = MS_NODIRATIME,
	.native_flags = MS_NODIRATIME,
	.nodiratime = true,
};

/* The FUSE superblock read-only, the ext4 bind mount read-only */
FIXTURE_VARIANT_ADD(atime, rdonly) {
	.flags = MS_RDONLY,
	.native_flags = MS_RDONLY,
	.ro = true,
};

FIXTURE_VARIANT_ADD(atime, rdonly_strictatime) {
	.flags = MS_RDONLY | MS_STRICTATIME,
	.native_flags = MS_RDONLY | MS_STRICTATIME,
	.strict = true,
	.ro = true,
};

/*
 * lazytime is a superblock flag (the scratch disk's is not changed): it
 * only defers writing the inode, stat() sees what strictatime or relatime
 * decided.
 */
FIXTURE_VARIANT_ADD(atime, lazytime_strictatime) {
	.flags = MS_LAZYTIME | MS_STRICTATIME,
	.native_flags = MS_STRICTATIME,
	.strict = true,
};

FIXTURE_VARIANT_ADD(atime, lazytime) {
	.flags = MS_LAZYTIME,
	.native_flags = 0,
};

FIXTURE_SETUP(atime)
{
	private_mount_ns(_metadata);
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	make_atime_tree(_metadata, self->backing);
	make_tmp_dir(_metadata, self->fuse, sizeof(self->fuse), "fuse_atime");
	make_tmp_dir(_metadata, self->native, sizeof(self->native),
		     "fuse_native");
	mount_bpf(_metadata, self->fuse, self->backing, variant->flags, "");
	mount_native(_metadata, self->backing, self->native,
		     variant->native_flags);
}

FIXTURE_TEARDOWN(atime)
{
	unmount_dir(self->fuse);
	unmount_dir(self->native);
	EXPECT_EQ(0, rmdir(self->fuse));
	EXPECT_EQ(0, rmdir(self->native));
	EXPECT_EQ(0, remove_tree(self->backing));
}

static bool want_update(const struct _fixture_variant_atime *variant,
			bool dir, enum times t)
{
	if (variant->ro || variant->noatime || (dir && variant->nodiratime))
		return false;
	return variant->strict || t == T_OLD;
}

/*
 * Every access through the fuse-bpf mount changes the backing atime as
 * the same access through the ext4 bind mount does, which is what the
 * mount options say.
 */
TEST_F_TIMEOUT(atime, follows_mount_flags, ST_TIMEOUT)
{
	static const enum access accs[] = {
		ACC_READ, ACC_MMAP, ACC_READDIR, ACC_READLINK,
	};
	static const enum times ts[] = { T_OLD, T_RECENT };
	bool want, on_fuse, on_ext4;
	char name[32];
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(accs); i++) {
		for (j = 0; j < ARRAY_SIZE(ts); j++) {
			want = want_update(variant, accs[i] == ACC_READDIR,
					   ts[j]);
			object(name, sizeof(name), accs[i], "fuse");
			on_fuse = atime_changes(_metadata, self->backing,
						self->fuse, name, accs[i],
						ts[j]);
			object(name, sizeof(name), accs[i], "native");
			on_ext4 = atime_changes(_metadata, self->backing,
						self->native, name, accs[i],
						ts[j]);
			EXPECT_EQ(want, on_ext4)
				TH_LOG("ext4: %s, %s times", access_name[accs[i]],
				       times_name[ts[j]]);
			EXPECT_EQ(on_ext4, on_fuse)
				TH_LOG("fuse-bpf differs from ext4: %s, %s times",
				       access_name[accs[i]], times_name[ts[j]]);
		}
	}

	/* The root directory: one backing inode, its times reset between */
	for (j = 0; j < ARRAY_SIZE(ts); j++) {
		want = want_update(variant, true, ts[j]);
		on_fuse = atime_changes(_metadata, self->backing, self->fuse,
					".", ACC_READDIR, ts[j]);
		on_ext4 = atime_changes(_metadata, self->backing,
					self->native, ".", ACC_READDIR, ts[j]);
		EXPECT_EQ(want, on_ext4)
			TH_LOG("ext4: readdir of the root, %s times",
			       times_name[ts[j]]);
		EXPECT_EQ(on_ext4, on_fuse)
			TH_LOG("fuse-bpf differs from ext4: readdir of the root, %s times",
			       times_name[ts[j]]);
	}
}

/*
 * The same backing directory as FIXTURE(atime), with the mounts left to
 * each test: fuse-bpf on <fuse>, ext4 bind mounts on <native> and on
 * <bmnt> (to back the fuse-bpf mount with a mount of other options).
 */
FIXTURE(atime_misc) {
	char backing[128];
	char fuse[64];
	char native[64];
	char bmnt[64];
};

FIXTURE_SETUP(atime_misc)
{
	private_mount_ns(_metadata);
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	make_atime_tree(_metadata, self->backing);
	make_tmp_dir(_metadata, self->fuse, sizeof(self->fuse), "fuse_atime");
	make_tmp_dir(_metadata, self->native, sizeof(self->native),
		     "fuse_native");
	make_tmp_dir(_metadata, self->bmnt, sizeof(self->bmnt),
		     "fuse_bmnt");
}

FIXTURE_TEARDOWN(atime_misc)
{
	/* The fuse-bpf mount holds <bmnt>: it goes first */
	unmount_dir(self->fuse);
	unmount_dir(self->bmnt);
	unmount_dir(self->native);
	EXPECT_EQ(0, rmdir(self->fuse));
	EXPECT_EQ(0, rmdir(self->native));
	EXPECT_EQ(0, rmdir(self->bmnt));
	EXPECT_EQ(0, remove_tree(self->backing));
}

/*
 * The backing mount's atime options play no part: a noatime fuse-bpf mount
 * over a strictatime backing mount changes no atime, a strictatime one
 * over a noatime backing mount does. A read-only backing mount is not
 * written through: the access works, the atime stays.
 */
TEST_F_TIMEOUT(atime_misc, backing_mount_options, ST_TIMEOUT)
{
	static const enum access accs[] = {
		ACC_READ, ACC_MMAP, ACC_READDIR, ACC_READLINK,
	};
	char name[32];
	unsigned int i;

	mount_native(_metadata, self->backing, self->bmnt, MS_STRICTATIME);
	mount_bpf(_metadata, self->fuse, self->bmnt, MS_NOATIME, "");
	for (i = 0; i < ARRAY_SIZE(accs); i++) {
		object(name, sizeof(name), accs[i], "fuse");
		EXPECT_FALSE(atime_changes(_metadata, self->backing,
					   self->fuse, name, accs[i], T_OLD))
			TH_LOG("%s through noatime over strictatime changed the atime",
			       access_name[accs[i]]);
	}
	ASSERT_EQ(0, umount(self->fuse));

	/* The mount the fuse-bpf mount holds: its later options count */
	mount_bpf(_metadata, self->fuse, self->bmnt, MS_STRICTATIME, "");
	ASSERT_EQ(0, mount(NULL, self->bmnt, NULL,
			   MS_REMOUNT | MS_BIND | MS_NOATIME, NULL));
	for (i = 0; i < ARRAY_SIZE(accs); i++) {
		object(name, sizeof(name), accs[i], "fuse");
		EXPECT_TRUE(atime_changes(_metadata, self->backing,
					  self->fuse, name, accs[i],
					  T_RECENT))
			TH_LOG("%s through a strictatime mount over a noatime one left the atime",
			       access_name[accs[i]]);
	}

	ASSERT_EQ(0, mount(NULL, self->bmnt, NULL,
			   MS_REMOUNT | MS_BIND | MS_RDONLY | MS_STRICTATIME,
			   NULL));
	for (i = 0; i < ARRAY_SIZE(accs); i++) {
		object(name, sizeof(name), accs[i], "fuse");
		EXPECT_FALSE(atime_changes(_metadata, self->backing,
					   self->fuse, name, accs[i], T_OLD))
			TH_LOG("%s changed an atime through a read-only backing mount",
			       access_name[accs[i]]);
	}
}

/*
 * Read @mnt/@name opened with @oflags, then fcntl(F_SETFL, @setfl) unless
 * @setfl is -1: did the backing atime change from old times?
 */
static bool read_changes(struct __test_metadata *_metadata,
			 const char *bdir, const char *mnt, const char *name,
			 int oflags, int setfl)
{
	char bpath[PATH_MAX], path[PATH_MAX], buf[64];
	struct timespec set;
	struct stat st;
	int fd;

	set_times(_metadata, at(bpath, bdir, name), T_OLD, &set);
	fd = open(at(path, mnt, name), O_RDONLY | oflags);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
	if (setfl != -1)
		ASSERT_EQ(0, fcntl(fd, F_SETFL, setfl));
	ASSERT_LT(0, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, lstat(bpath, &st));
	return !ts_equal(&st.st_atim, &set);
}

/*
 * O_NOATIME of the FUSE file counts, as given at open() or set and
 * cleared by fcntl(F_SETFL), whatever the backing file was opened with.
 */
TEST_F_TIMEOUT(atime_misc, o_noatime, ST_TIMEOUT)
{
	static const char * const mnts[] = { "fuse", "native" };
	char name[32];
	const char *mnt;
	unsigned int i;

	mount_bpf(_metadata, self->fuse, self->backing, MS_STRICTATIME, "");
	mount_native(_metadata, self->backing, self->native, MS_STRICTATIME);
	for (i = 0; i < ARRAY_SIZE(mnts); i++) {
		mnt = i ? self->native : self->fuse;
		snprintf(name, sizeof(name), "f_%s", mnts[i]);
		EXPECT_TRUE(read_changes(_metadata, self->backing, mnt, name,
					 0, -1))
			TH_LOG("%s: a plain read left the atime", mnts[i]);
		EXPECT_FALSE(read_changes(_metadata, self->backing, mnt, name,
					  O_NOATIME, -1))
			TH_LOG("%s: an O_NOATIME read changed the atime",
			       mnts[i]);
		EXPECT_TRUE(read_changes(_metadata, self->backing, mnt, name,
					 O_NOATIME, 0))
			TH_LOG("%s: O_NOATIME cleared by F_SETFL still counts",
			       mnts[i]);
		EXPECT_FALSE(read_changes(_metadata, self->backing, mnt, name,
					  0, O_NOATIME))
			TH_LOG("%s: O_NOATIME set by F_SETFL does not count",
			       mnts[i]);
	}
}

static int open_noatime(const char *path, const void *arg)
{
	int fd = open(path, O_RDONLY | O_NOATIME);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int open_plain(const char *path, const void *arg)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/*
 * Who may not open with O_NOATIME (not the owner, no CAP_FOWNER) may not
 * through fuse-bpf either, although the backing file is opened with it.
 */
TEST_F_TIMEOUT(atime_misc, o_noatime_permission, ST_TIMEOUT)
{
	static const struct test_user user = {
		.uid = TEST_UID, .gid = TEST_UID,
	};
	char fpath[PATH_MAX], npath[PATH_MAX];

	mount_bpf(_metadata, self->fuse, self->backing, 0, "allow_other,");
	mount_native(_metadata, self->backing, self->native, 0);
	at(fpath, self->fuse, "f_fuse");
	at(npath, self->native, "f_native");
	ASSERT_EQ(0, run_as_user(&user, open_plain, npath, NULL));
	ASSERT_EQ(0, run_as_user(&user, open_plain, fpath, NULL));
	EXPECT_EQ(EPERM, run_as_user(&user, open_noatime, npath, NULL));
	EXPECT_EQ(EPERM, run_as_user(&user, open_noatime, fpath, NULL));
}

/*
 * Remounting changes what the next access does, on the fuse-bpf mount as
 * on the ext4 bind mount: read-only and back, noatime, relatime,
 * nodiratime. A read-only remount of the FUSE superblock too.
 */
TEST_F_TIMEOUT(atime_misc, remount, ST_TIMEOUT)
{
	static const struct {
		unsigned long flags;
		enum access acc;
		enum times t;
		bool want;
	} steps[] = {
		{ MS_STRICTATIME, ACC_READ, T_RECENT, true },
		{ MS_RDONLY | MS_STRICTATIME, ACC_READ, T_OLD, false },
		{ MS_RDONLY | MS_STRICTATIME, ACC_READDIR, T_OLD, false },
		{ MS_STRICTATIME, ACC_READ, T_RECENT, true },
		{ MS_NOATIME, ACC_MMAP, T_OLD, false },
		{ MS_RELATIME, ACC_READ, T_RECENT, false },
		{ MS_RELATIME, ACC_READ, T_OLD, true },
		{ MS_NODIRATIME | MS_STRICTATIME, ACC_READDIR, T_OLD, false },
		{ MS_NODIRATIME | MS_STRICTATIME, ACC_READ, T_RECENT, true },
	};
	bool on_fuse, on_ext4;
	char name[32];
	unsigned int i;

	mount_bpf(_metadata, self->fuse, self->backing, 0, "");
	mount_native(_metadata, self->backing, self->native, 0);
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		ASSERT_EQ(0, mount(NULL, self->fuse, NULL,
				   MS_REMOUNT | MS_BIND | steps[i].flags, NULL))
			TH_LOG("remount: %s", strerror(errno));
		ASSERT_EQ(0, mount(NULL, self->native, NULL,
				   MS_REMOUNT | MS_BIND | steps[i].flags, NULL));
		object(name, sizeof(name), steps[i].acc, "fuse");
		on_fuse = atime_changes(_metadata, self->backing, self->fuse,
					name, steps[i].acc, steps[i].t);
		object(name, sizeof(name), steps[i].acc, "native");
		on_ext4 = atime_changes(_metadata, self->backing, self->native,
					name, steps[i].acc, steps[i].t);
		EXPECT_EQ(steps[i].want, on_ext4) TH_LOG("ext4: step %u", i);
		EXPECT_EQ(on_ext4, on_fuse) TH_LOG("fuse-bpf: step %u", i);
	}

	/* The FUSE superblock (only: the scratch disk's stays as it is) */
	ASSERT_EQ(0, mount(NULL, self->fuse, NULL,
			   MS_REMOUNT | MS_RDONLY | MS_STRICTATIME, NULL))
		TH_LOG("remount read-only: %s", strerror(errno));
	EXPECT_FALSE(atime_changes(_metadata, self->backing, self->fuse,
				   "f_fuse", ACC_READ, T_OLD));
	EXPECT_FALSE(atime_changes(_metadata, self->backing, self->fuse,
				   "d_fuse", ACC_READDIR, T_OLD));
	ASSERT_EQ(0, mount(NULL, self->fuse, NULL,
			   MS_REMOUNT | MS_STRICTATIME, NULL))
		TH_LOG("remount read-write: %s", strerror(errno));
	EXPECT_TRUE(atime_changes(_metadata, self->backing, self->fuse,
				  "f_fuse", ACC_READ, T_RECENT));
}

static void set_noatime_attr(struct __test_metadata *_metadata,
			     const char *path, bool on)
{
	int fd, flags;

	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_GETFLAGS, &flags));
	flags = on ? flags | FS_NOATIME_FL : flags & ~FS_NOATIME_FL;
	ASSERT_EQ(0, ioctl(fd, FS_IOC_SETFLAGS, &flags))
		TH_LOG("FS_IOC_SETFLAGS %s: %s", path, strerror(errno));
	ASSERT_EQ(0, close(fd));
}

/*
 * The no-atime attribute (chattr +A) of the backing inode counts, and
 * stops counting when it is cleared, even on an inode the FUSE mount has
 * already seen.
 */
TEST_F_TIMEOUT(atime_misc, noatime_attribute, ST_TIMEOUT)
{
	static const char * const sides[] = { "fuse", "native" };
	char p[PATH_MAX], name[32];
	const char *mnt;
	unsigned int i;

	mount_bpf(_metadata, self->fuse, self->backing, MS_STRICTATIME, "");
	mount_native(_metadata, self->backing, self->native, MS_STRICTATIME);
	for (i = 0; i < ARRAY_SIZE(sides); i++) {
		mnt = i ? self->native : self->fuse;
		snprintf(name, sizeof(name), "f_%s", sides[i]);
		EXPECT_TRUE(atime_changes(_metadata, self->backing, mnt, name,
					  ACC_READ, T_OLD)) TH_LOG("%s", sides[i]);
		set_noatime_attr(_metadata, at(p, self->backing, name), true);
		EXPECT_FALSE(atime_changes(_metadata, self->backing, mnt, name,
					   ACC_READ, T_OLD))
			TH_LOG("%s: read of a +A file changed its atime",
			       sides[i]);
		EXPECT_FALSE(atime_changes(_metadata, self->backing, mnt, name,
					   ACC_MMAP, T_OLD))
			TH_LOG("%s: mmap of a +A file changed its atime",
			       sides[i]);
		set_noatime_attr(_metadata, at(p, self->backing, name), false);
		EXPECT_TRUE(atime_changes(_metadata, self->backing, mnt, name,
					  ACC_READ, T_OLD))
			TH_LOG("%s: -A did not count", sides[i]);
	}
}

/*
 * relatime: an access updates an old atime, and the next one, right
 * after, leaves it.
 */
TEST_F_TIMEOUT(atime_misc, relatime_once, ST_TIMEOUT)
{
	static const char * const sides[] = { "fuse", "native" };
	char p[PATH_MAX], name[32];
	struct timespec set;
	struct stat st;
	const char *mnt;
	unsigned int i;

	mount_bpf(_metadata, self->fuse, self->backing, MS_RELATIME, "");
	mount_native(_metadata, self->backing, self->native, MS_RELATIME);
	for (i = 0; i < ARRAY_SIZE(sides); i++) {
		mnt = i ? self->native : self->fuse;
		snprintf(name, sizeof(name), "f_%s", sides[i]);
		set_times(_metadata, at(p, self->backing, name), T_OLD, &set);
		/* The update must be newer than the ctime utimensat() set */
		usleep(50000);
		EXPECT_TRUE(access_changes(_metadata, self->backing, mnt, name,
					   ACC_READ, &set)) TH_LOG("%s", sides[i]);
		ASSERT_EQ(0, lstat(p, &st));
		set = st.st_atim;
		usleep(50000);
		EXPECT_FALSE(access_changes(_metadata, self->backing, mnt,
					    name, ACC_READ, &set))
			TH_LOG("%s: the second access updated", sides[i]);
	}
}

/*
 * Set the times of the @n @paths to @ts as the clock said @back seconds
 * ago, so that their ctime is that old too. The clock goes back for the
 * calls and is put right at once. Returns 0 or -errno.
 */
static int utimens_in_past(const char * const *paths,
			   const struct timespec (*ts)[2], unsigned int n,
			   time_t back)
{
	struct timespec rt, m0, m1, past;
	unsigned int i;
	int ret = 0;

	if (clock_gettime(CLOCK_REALTIME, &rt) ||
	    clock_gettime(CLOCK_MONOTONIC, &m0))
		return -errno;
	past = rt;
	past.tv_sec -= back;
	if (clock_settime(CLOCK_REALTIME, &past))
		return -errno;
	for (i = 0; i < n && !ret; i++) {
		if (utimensat(AT_FDCWD, paths[i], ts[i], AT_SYMLINK_NOFOLLOW))
			ret = -errno;
	}
	clock_gettime(CLOCK_MONOTONIC, &m1);
	rt.tv_sec += m1.tv_sec - m0.tv_sec;
	rt.tv_nsec += m1.tv_nsec - m0.tv_nsec;
	if (rt.tv_nsec < 0) {
		rt.tv_nsec += 1000000000;
		rt.tv_sec--;
	} else if (rt.tv_nsec >= 1000000000) {
		rt.tv_nsec -= 1000000000;
		rt.tv_sec++;
	}
	if (clock_settime(CLOCK_REALTIME, &rt) && !ret)
		ret = -errno;
	return ret;
}

/*
 * relatime's 24 hour rule: an atime newer than the mtime and the ctime is
 * updated once it is a day old, not before. utimensat() sets the ctime to
 * the current time, so the times are set with the clock two days back.
 */
TEST_F_TIMEOUT(atime_misc, relatime_24h, ST_TIMEOUT)
{
	static const char * const names[] = {
		"f_fuse", "f_native", "g_fuse", "g_native",
		"d_fuse", "d_native", "e_fuse", "e_native",
	};
	/* f, d: 25 h old; g, e: 23 h old */
	static const int age[] = { 25, 25, 23, 23, 25, 25, 23, 23 };
	char paths[ARRAY_SIZE(names)][PATH_MAX];
	const char *pp[ARRAY_SIZE(names)];
	struct timespec ts[ARRAY_SIZE(names)][2], now;
	bool on_fuse, on_ext4;
	enum access acc;
	unsigned int i;
	int ret;

	make_file(_metadata, at(paths[0], self->backing, "g_fuse"), 0644,
		  "g\n");
	make_file(_metadata, at(paths[0], self->backing, "g_native"), 0644,
		  "g\n");
	ASSERT_EQ(0, mkdir(at(paths[0], self->backing, "e_fuse"), 0755));
	ASSERT_EQ(0, mkdir(at(paths[0], self->backing, "e_native"), 0755));
	ASSERT_EQ(0, clock_gettime(CLOCK_REALTIME, &now));
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		pp[i] = at(paths[i], self->backing, names[i]);
		ts[i][0] = now;
		ts[i][0].tv_sec -= age[i] * HOUR;
		ts[i][1] = now;
		ts[i][1].tv_sec -= 3 * DAY;
	}
	ret = utimens_in_past(pp, ts, ARRAY_SIZE(names), 2 * DAY);
	ASSERT_EQ(0, ret) TH_LOG("setting old times: %s", strerror(-ret));

	mount_bpf(_metadata, self->fuse, self->backing, MS_RELATIME, "");
	mount_native(_metadata, self->backing, self->native, MS_RELATIME);
	for (i = 0; i < ARRAY_SIZE(names); i += 2) {
		acc = names[i][0] == 'f' || names[i][0] == 'g' ?
		      ACC_READ : ACC_READDIR;
		on_fuse = access_changes(_metadata, self->backing, self->fuse,
					 names[i], acc, &ts[i][0]);
		on_ext4 = access_changes(_metadata, self->backing,
					 self->native, names[i + 1], acc,
					 &ts[i + 1][0]);
		EXPECT_EQ(age[i] >= 24, on_ext4)
			TH_LOG("ext4: %s of a %d h old atime",
			       access_name[acc], age[i]);
		EXPECT_EQ(on_ext4, on_fuse)
			TH_LOG("fuse-bpf: %s of a %d h old atime",
			       access_name[acc], age[i]);
	}
}

/*
 * FIEMAP
 */

static struct fiemap *get_fiemap(const char *path, __u32 flags, __u64 start,
				 __u64 len, __u32 count, int *err)
{
	struct fiemap *fm;
	int fd;

	fm = calloc(1, sizeof(*fm) + FM_EXTENTS * sizeof(fm->fm_extents[0]));
	if (!fm) {
		*err = ENOMEM;
		return NULL;
	}
	fm->fm_start = start;
	fm->fm_length = len;
	fm->fm_flags = flags;
	fm->fm_extent_count = count;
	*err = 0;
	fd = open(path, O_RDONLY);
	if (fd < 0 || ioctl(fd, FS_IOC_FIEMAP, fm))
		*err = errno;
	if (fd >= 0)
		close(fd);
	if (*err) {
		free(fm);
		return NULL;
	}
	return fm;
}

/* FIEMAP of @path, which must work */
static struct fiemap *fiemap_of(struct __test_metadata *_metadata,
				const char *path, __u32 flags, __u64 start,
				__u64 len, __u32 count)
{
	struct fiemap *fm;
	int err;

	fm = get_fiemap(path, flags, start, len, count, &err);
	ASSERT_NE(NULL, fm) TH_LOG("FIEMAP %s: %s", path, strerror(err));
	return fm;
}

static void expect_same_fiemap(struct __test_metadata *_metadata,
			       const struct fiemap *want,
			       const struct fiemap *seen, const char *what)
{
	const struct fiemap_extent *w, *s;
	unsigned int i, n;

	EXPECT_EQ(want->fm_mapped_extents, seen->fm_mapped_extents)
		TH_LOG("%s: number of extents", what);
	n = want->fm_mapped_extents;
	if (n > seen->fm_mapped_extents)
		n = seen->fm_mapped_extents;
	if (n > FM_EXTENTS)
		n = FM_EXTENTS;
	for (i = 0; i < n; i++) {
		w = &want->fm_extents[i];
		s = &seen->fm_extents[i];
		EXPECT_EQ(w->fe_logical, s->fe_logical)
			TH_LOG("%s: extent %u", what, i);
		EXPECT_EQ(w->fe_physical, s->fe_physical)
			TH_LOG("%s: extent %u", what, i);
		EXPECT_EQ(w->fe_length, s->fe_length)
			TH_LOG("%s: extent %u", what, i);
		EXPECT_EQ(w->fe_flags, s->fe_flags)
			TH_LOG("%s: extent %u", what, i);
	}
}

/* 64 KiB of data, a 1 MiB hole, 64 KiB, a hole, 4 KiB; synced */
static void make_sparse_file(struct __test_metadata *_metadata,
			     const char *path, bool sync)
{
	static const struct {
		off_t off;
		size_t len;
	} parts[] = {
		{ 0, 64 << 10 }, { (1 << 20) + (64 << 10), 64 << 10 },
		{ 3 << 20, 4 << 10 },
	};
	char buf[64 << 10];
	unsigned int i;
	int fd;

	memset(buf, 'm', sizeof(buf));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd) TH_LOG("create %s: %s", path, strerror(errno));
	for (i = 0; i < ARRAY_SIZE(parts); i++)
		ASSERT_EQ(parts[i].len, pwrite(fd, buf, parts[i].len,
					       parts[i].off));
	if (sync)
		ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, close(fd));
}

/*
 * FIEMAP of a backed file is FIEMAP of its backing file: the whole map,
 * the count alone, a range. FIEMAP_FLAG_SYNC writes the backing file back.
 */
static void check_fiemap(struct __test_metadata *_metadata, const char *bdir,
			 const char *mnt)
{
	char bpath[PATH_MAX], path[PATH_MAX];
	struct fiemap *want, *seen;

	make_sparse_file(_metadata, at(path, mnt, "sparse"), true);
	at(bpath, bdir, "sparse");

	want = fiemap_of(_metadata, bpath, FIEMAP_FLAG_SYNC, 0, ~0ULL,
			 FM_EXTENTS);
	seen = fiemap_of(_metadata, path, FIEMAP_FLAG_SYNC, 0, ~0ULL,
			 FM_EXTENTS);
	ASSERT_LE(3, want->fm_mapped_extents);
	EXPECT_TRUE(want->fm_extents[want->fm_mapped_extents - 1].fe_flags &
		    FIEMAP_EXTENT_LAST);
	expect_same_fiemap(_metadata, want, seen, "whole file");
	free(want);
	free(seen);

	want = fiemap_of(_metadata, bpath, 0, 0, ~0ULL, 0);
	seen = fiemap_of(_metadata, path, 0, 0, ~0ULL, 0);
	EXPECT_EQ(want->fm_mapped_extents, seen->fm_mapped_extents)
		TH_LOG("count only");
	free(want);
	free(seen);

	want = fiemap_of(_metadata, bpath, 0, 1 << 20, 256 << 10, FM_EXTENTS);
	seen = fiemap_of(_metadata, path, 0, 1 << 20, 256 << 10, FM_EXTENTS);
	EXPECT_LE(1, want->fm_mapped_extents);
	expect_same_fiemap(_metadata, want, seen, "range");
	free(want);
	free(seen);

	/* Written, not synced: FIEMAP_FLAG_SYNC through fuse-bpf syncs it */
	make_sparse_file(_metadata, at(path, mnt, "unsynced"), false);
	at(bpath, bdir, "unsynced");
	seen = fiemap_of(_metadata, path, FIEMAP_FLAG_SYNC, 0, ~0ULL,
			 FM_EXTENTS);
	want = fiemap_of(_metadata, bpath, 0, 0, ~0ULL, FM_EXTENTS);
	expect_same_fiemap(_metadata, want, seen, "FIEMAP_FLAG_SYNC");
	free(want);
	free(seen);
}

FIXTURE(ext4) {
	char backing[128];
	char fuse[64];
};

FIXTURE_SETUP(ext4)
{
	private_mount_ns(_metadata);
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	ASSERT_EQ(0, chmod(self->backing, 0755));
	make_tmp_dir(_metadata, self->fuse, sizeof(self->fuse), "fuse_ext4");
	mount_bpf(_metadata, self->fuse, self->backing, 0, "");
}

FIXTURE_TEARDOWN(ext4)
{
	unmount_dir(self->fuse);
	EXPECT_EQ(0, rmdir(self->fuse));
	EXPECT_EQ(0, remove_tree(self->backing));
}

TEST_F_TIMEOUT(ext4, fiemap, ST_TIMEOUT)
{
	check_fiemap(_metadata, self->backing, self->fuse);
}

/* The inotify events read so far */
struct inotify_seen {
	int nr;
	struct {
		int wd;
		__u32 mask;
		char name[NAME_MAX + 1];
	} ev[64];
};

/* Read the pending events of @ifd into @seen */
static void read_inotify(int ifd, struct inotify_seen *seen)
{
	unsigned long long words[512];
	char *buf = (char *)words;
	const struct inotify_event *ev;
	ssize_t len;
	char *p;

	seen->nr = 0;
	while ((len = read(ifd, buf, sizeof(words))) > 0) {
		for (p = buf; p < buf + len; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (seen->nr == ARRAY_SIZE(seen->ev))
				continue;
			seen->ev[seen->nr].wd = ev->wd;
			seen->ev[seen->nr].mask = ev->mask;
			snprintf(seen->ev[seen->nr].name, NAME_MAX + 1, "%s",
				 ev->len ? ev->name : "");
			seen->nr++;
		}
	}
}

/* How many events of @seen are @mask on @name for @wd */
static int inotify_count(const struct inotify_seen *seen, int wd, __u32 mask,
			 const char *name)
{
	int i, n = 0;

	for (i = 0; i < seen->nr; i++)
		n += seen->ev[i].wd == wd && seen->ev[i].mask == mask &&
		     !strcmp(seen->ev[i].name, name);
	return n;
}

#define NOTIFY_MASK	(IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_FROM | \
			 IN_MOVED_TO | IN_ATTRIB)

/*
 * Changes made through the backed directory are reported to watchers of
 * it and of the backing directory, once each; changes made directly in
 * the backing directory only to the watchers of the backing directory.
 */
TEST_F_TIMEOUT(ext4, inotify, ST_TIMEOUT)
{
	char b[PATH_MAX], f[PATH_MAX], g[PATH_MAX];
	struct inotify_seen seen;
	int ifd, wf, wb;

	ifd = inotify_init1(IN_NONBLOCK);
	ASSERT_LE(0, ifd);
	wf = inotify_add_watch(ifd, self->fuse, NOTIFY_MASK);
	ASSERT_LE(0, wf) TH_LOG("%s", strerror(errno));
	wb = inotify_add_watch(ifd, self->backing, NOTIFY_MASK);
	ASSERT_LE(0, wb);

	make_file(_metadata, at(f, self->fuse, "a"), 0600, "data");
	ASSERT_EQ(0, chmod(f, 0640));
	ASSERT_EQ(0, rename(f, at(g, self->fuse, "b")));
	ASSERT_EQ(0, mkdir(at(f, self->fuse, "d"), 0700));
	ASSERT_EQ(0, unlink(g));
	read_inotify(ifd, &seen);
	EXPECT_EQ(1, inotify_count(&seen, wf, IN_CREATE, "a"));
	EXPECT_EQ(1, inotify_count(&seen, wb, IN_CREATE, "a"));
	EXPECT_EQ(1, inotify_count(&seen, wf, IN_MODIFY, "a"));
	EXPECT_EQ(1, inotify_count(&seen, wb, IN_MODIFY, "a"));
	EXPECT_EQ(1, inotify_count(&seen, wf, IN_ATTRIB, "a"));
	EXPECT_EQ(1, inotify_count(&seen, wb, IN_ATTRIB, "a"));
	EXPECT_EQ(1, inotify_count(&seen, wf, IN_MOVED_FROM, "a"));
	EXPECT_EQ(1, inotify_count(&seen, wb, IN_MOVED_FROM, "a"));
	EXPECT_EQ(1, inotify_count(&seen, wf, IN_MOVED_TO, "b"));
	EXPECT_EQ(1, inotify_count(&seen, wb, IN_MOVED_TO, "b"));
	EXPECT_EQ(1, inotify_count(&seen, wf, IN_CREATE | IN_ISDIR, "d"));
	EXPECT_EQ(1, inotify_count(&seen, wb, IN_CREATE | IN_ISDIR, "d"));
	EXPECT_EQ(1, inotify_count(&seen, wf, IN_DELETE, "b"));
	EXPECT_EQ(1, inotify_count(&seen, wb, IN_DELETE, "b"));
	EXPECT_EQ(14, seen.nr);

	/* Directly in the backing directory: not on the FUSE inodes */
	make_file(_metadata, at(b, self->backing, "c"), 0600, "data");
	ASSERT_EQ(0, unlink(b));
	read_inotify(ifd, &seen);
	EXPECT_EQ(1, inotify_count(&seen, wb, IN_CREATE, "c"));
	EXPECT_EQ(1, inotify_count(&seen, wb, IN_MODIFY, "c"));
	EXPECT_EQ(1, inotify_count(&seen, wb, IN_DELETE, "c"));
	EXPECT_EQ(3, seen.nr);
	EXPECT_EQ(0, close(ifd));
}

/*
 * The fanotify events of @fan, each checked against @path: their number,
 * and in @masks all their masks
 */
static int read_fanotify(struct __test_metadata *_metadata, int fan,
			 const char *path, __u64 *masks)
{
	unsigned long long words[512];
	struct fanotify_event_metadata *ev;
	struct stat st, want;
	int n = 0;
	ssize_t len;

	*masks = 0;
	if (stat(path, &want))
		memset(&want, 0, sizeof(want));
	while ((len = read(fan, words, sizeof(words))) > 0) {
		for (ev = (void *)words; FAN_EVENT_OK(ev, len);
		     ev = FAN_EVENT_NEXT(ev, len)) {
			EXPECT_LE(0, ev->fd);
			if (ev->fd < 0)
				continue;
			EXPECT_EQ(0, fstat(ev->fd, &st));
			EXPECT_EQ(want.st_ino, st.st_ino);
			EXPECT_EQ(want.st_dev, st.st_dev);
			*masks |= ev->mask;
			close(ev->fd);
			n++;
		}
	}
	return n;
}

/*
 * A mount mark on the FUSE mount sees writes made through it, with the
 * FUSE file as the event's object; writes made directly to the backing
 * file are seen by a mark on the backing mount only.
 */
TEST_F_TIMEOUT(ext4, fanotify, ST_TIMEOUT)
{
	char b[PATH_MAX], f[PATH_MAX];
	int fan, bfan, fd;
	__u64 masks;

	make_file(_metadata, at(b, self->backing, "file"), 0600, "");
	at(f, self->fuse, "file");
	fan = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
	ASSERT_LE(0, fan) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT,
				   FAN_MODIFY | FAN_CLOSE_WRITE, AT_FDCWD,
				   self->fuse)) TH_LOG("%s", strerror(errno));
	bfan = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
	ASSERT_LE(0, bfan);
	ASSERT_EQ(0, fanotify_mark(bfan, FAN_MARK_ADD, FAN_MODIFY |
				   FAN_CLOSE_WRITE, AT_FDCWD, b));

	fd = open(f, O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(4, write(fd, "data", 4));
	EXPECT_EQ(0, close(fd));
	/* The events of one file merge into one */
	EXPECT_EQ(1, read_fanotify(_metadata, fan, f, &masks));
	EXPECT_EQ(FAN_MODIFY | FAN_CLOSE_WRITE, masks);
	EXPECT_EQ(1, read_fanotify(_metadata, bfan, b, &masks));
	EXPECT_EQ(FAN_MODIFY | FAN_CLOSE_WRITE, masks);

	/* Directly on the backing file */
	fd = open(b, O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(4, write(fd, "more", 4));
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, read_fanotify(_metadata, fan, f, &masks));
	EXPECT_EQ(1, read_fanotify(_metadata, bfan, b, &masks));
	EXPECT_EQ(FAN_MODIFY | FAN_CLOSE_WRITE, masks);
	EXPECT_EQ(0, close(fan));
	EXPECT_EQ(0, close(bfan));
}

/*
 * XFS with reflink, on a loop device over an image on the scratch disk:
 * fuse-bpf on <xfuse> backed by <xfs>/b, fuse-bpf on <efuse> backed by a
 * directory of the scratch disk.
 */
FIXTURE(xfs) {
	char image[128];
	char loopdev[32];
	char xfs[64];
	char xb[96];
	char xfuse[64];
	char eb[128];
	char efuse[64];
	int loop_fd;
	bool made_node;
	bool loop_set;
};

static void make_xfs_image(struct __test_metadata *_metadata,
			   const char *image)
{
	int fd, status;
	pid_t pid;

	ASSERT_EQ(0, access(MKFS_XFS, X_OK))
		TH_LOG("%s is needed to make the XFS backing: %s", MKFS_XFS,
		       strerror(errno));
	fd = open(image, O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, XFS_IMAGE_SIZE));
	ASSERT_EQ(0, close(fd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		execl(MKFS_XFS, "mkfs.xfs", "-q", "-f", "-K", "-m",
		      "reflink=1", image, (char *)NULL);
		_exit(127);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("%s failed: status %#x", MKFS_XFS, status);
}

/* Attach @image to a free loop device: self->loopdev, self->loop_fd */
static void attach_loop(struct __test_metadata *_metadata,
			struct _test_data_xfs *self)
{
	struct loop_config cfg;
	int ctl, img, n, tries, ret;

	ASSERT_EQ(0, access(LOOP_CONTROL, F_OK))
		TH_LOG("%s: %s", LOOP_CONTROL, strerror(errno));
	ctl = open(LOOP_CONTROL, O_RDWR);
	ASSERT_LE(0, ctl) TH_LOG("%s: %s", LOOP_CONTROL, strerror(errno));
	img = open(self->image, O_RDWR);
	ASSERT_LE(0, img);
	/* Another user may take the free device first: try again */
	for (tries = 0; tries < 10; tries++) {
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		ASSERT_LE(0, n) TH_LOG("LOOP_CTL_GET_FREE: %s",
				       strerror(errno));
		snprintf(self->loopdev, sizeof(self->loopdev), "/dev/loop%d",
			 n);
		if (access(self->loopdev, F_OK)) {
			ASSERT_EQ(0, mknod(self->loopdev, S_IFBLK | 0600,
					   makedev(LOOP_MAJOR, n)))
				TH_LOG("mknod %s: %s", self->loopdev,
				       strerror(errno));
			self->made_node = true;
		}
		self->loop_fd = open(self->loopdev, O_RDWR);
		ASSERT_LE(0, self->loop_fd)
			TH_LOG("open %s: %s", self->loopdev, strerror(errno));
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = img;
		ret = ioctl(self->loop_fd, LOOP_CONFIGURE, &cfg);
		if (ret && (errno == EINVAL || errno == ENOTTY))
			ret = ioctl(self->loop_fd, LOOP_SET_FD, img);
		if (!ret)
			break;
		ASSERT_EQ(EBUSY, errno) TH_LOG("attaching %s: %s",
					       self->loopdev, strerror(errno));
		close(self->loop_fd);
		self->loop_fd = -1;
		if (self->made_node)
			unlink(self->loopdev);
		self->made_node = false;
	}
	ASSERT_LE(0, self->loop_fd) TH_LOG("no free loop device");
	self->loop_set = true;
	ASSERT_EQ(0, close(img));
	ASSERT_EQ(0, close(ctl));
}

FIXTURE_SETUP(xfs)
{
	struct statfs sfs;
	int fd;

	self->loop_fd = -1;
	private_mount_ns(_metadata);
	make_backing_dir(_metadata, self->eb, sizeof(self->eb));
	ASSERT_EQ(0, chmod(self->eb, 0755));
	snprintf(self->image, sizeof(self->image), "%s/fuse_bpf_xfs.XXXXXX",
		 TEST_SCRATCH);
	fd = mkstemp(self->image);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, close(fd));
	make_tmp_dir(_metadata, self->xfs, sizeof(self->xfs), "fuse_xfs");
	make_tmp_dir(_metadata, self->xfuse, sizeof(self->xfuse),
		     "fuse_xfuse");
	make_tmp_dir(_metadata, self->efuse, sizeof(self->efuse),
		     "fuse_efuse");

	make_xfs_image(_metadata, self->image);
	attach_loop(_metadata, self);
	ASSERT_EQ(0, mount(self->loopdev, self->xfs, "xfs", 0, NULL))
		TH_LOG("mount xfs: %s", strerror(errno));
	ASSERT_EQ(0, statfs(self->xfs, &sfs));
	ASSERT_EQ(XFS_SUPER_MAGIC, sfs.f_type);
	at(self->xb, self->xfs, "b");
	ASSERT_EQ(0, mkdir(self->xb, 0755));

	mount_bpf(_metadata, self->xfuse, self->xb, 0, "");
	mount_bpf(_metadata, self->efuse, self->eb, 0, "");
}

FIXTURE_TEARDOWN(xfs)
{
	/* The fuse-bpf mounts hold the XFS: they go first */
	unmount_dir(self->xfuse);
	unmount_dir(self->efuse);
	unmount_dir(self->xfs);
	if (self->loop_set)
		EXPECT_EQ(0, ioctl(self->loop_fd, LOOP_CLR_FD, 0))
			TH_LOG("LOOP_CLR_FD: %s", strerror(errno));
	if (self->loop_fd >= 0)
		close(self->loop_fd);
	if (self->made_node)
		unlink(self->loopdev);
	EXPECT_EQ(0, unlink(self->image));
	EXPECT_EQ(0, rmdir(self->xfs));
	EXPECT_EQ(0, rmdir(self->xfuse));
	EXPECT_EQ(0, rmdir(self->efuse));
	EXPECT_EQ(0, remove_tree(self->eb));
}

/* ioctl(@dst, @req, @arg) on @dst opened @flags: 0 or the errno */
static int ioctl_on(const char *dst, int flags, unsigned long req, void *arg)
{
	int fd, err = 0;

	fd = open(dst, flags, 0644);
	if (fd < 0)
		return errno;
	if (ioctl(fd, req, arg))
		err = errno;
	close(fd);
	return err;
}

/* FICLONE @src to @dst (created if need be): 0 or the errno */
static int clone_file(const char *src, const char *dst)
{
	int sfd, err;

	sfd = open(src, O_RDONLY);
	if (sfd < 0)
		return errno;
	err = ioctl_on(dst, O_WRONLY | O_CREAT, FICLONE,
		       (void *)(long)sfd);
	close(sfd);
	return err;
}

/* FICLONERANGE: 0 or the errno */
static int clone_range(const char *src, __u64 off, __u64 len,
		       const char *dst, __u64 dst_off)
{
	struct file_clone_range fcr = {
		.src_offset = off,
		.src_length = len,
		.dest_offset = dst_off,
	};
	int sfd, err;

	sfd = open(src, O_RDONLY);
	if (sfd < 0)
		return errno;
	fcr.src_fd = sfd;
	err = ioctl_on(dst, O_WRONLY | O_CREAT, FICLONERANGE, &fcr);
	close(sfd);
	return err;
}

/* Every extent of @path (which has some) is shared */
static void expect_shared(struct __test_metadata *_metadata,
			  const char *path)
{
	struct fiemap *fm;
	unsigned int i;

	fm = fiemap_of(_metadata, path, FIEMAP_FLAG_SYNC, 0, ~0ULL,
		       FM_EXTENTS);
	EXPECT_LE(1, fm->fm_mapped_extents) TH_LOG("%s", path);
	for (i = 0; i < fm->fm_mapped_extents && i < FM_EXTENTS; i++)
		EXPECT_TRUE(fm->fm_extents[i].fe_flags & FIEMAP_EXTENT_SHARED)
			TH_LOG("%s: extent %u not shared", path, i);
	free(fm);
}

/* @a and @b have the same @len bytes at @aoff and @boff */
static void expect_same_data(struct __test_metadata *_metadata,
			     const char *a, off_t aoff, const char *b,
			     off_t boff, size_t len)
{
	static char abuf[256 << 10], bbuf[256 << 10];
	int afd, bfd;

	ASSERT_GE(sizeof(abuf), len);
	afd = open(a, O_RDONLY);
	ASSERT_LE(0, afd);
	bfd = open(b, O_RDONLY);
	ASSERT_LE(0, bfd);
	ASSERT_EQ(len, pread(afd, abuf, len, aoff));
	ASSERT_EQ(len, pread(bfd, bbuf, len, boff));
	EXPECT_EQ(0, memcmp(abuf, bbuf, len)) TH_LOG("%s != %s", a, b);
	close(afd);
	close(bfd);
}

static off_t size_of(struct __test_metadata *_metadata, const char *path)
{
	struct stat st;

	EXPECT_EQ(0, stat(path, &st)) TH_LOG("%s: %s", path,
					     strerror(errno));
	return st.st_size;
}

#define CLONE_SRC_LEN	(192 << 10)

/*
 * Make <dir>/a, the source of clones: 64 KiB of 'a', of 'b', of 'c'. What
 * happens to it through fuse-bpf happens to a file of the same contents
 * on the native XFS.
 */
static void make_clone_src(struct __test_metadata *_metadata,
			   const char *dir)
{
	char p[PATH_MAX], buf[64 << 10];
	int fd, i;

	fd = open(at(p, dir, "a"), O_WRONLY | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd) TH_LOG("create %s: %s", p, strerror(errno));
	for (i = 0; i < 3; i++) {
		memset(buf, 'a' + i, sizeof(buf));
		ASSERT_EQ(sizeof(buf), write(fd, buf, sizeof(buf)));
	}
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, close(fd));
}

/*
 * FIEMAP through fuse-bpf on XFS as on ext4. FICLONE and FICLONERANGE do
 * what the same calls do on the XFS itself, the extents shared as FIEMAP
 * shows them. (One test: making the XFS takes a while.)
 */
TEST_F_TIMEOUT(xfs, fiemap_and_clone, ST_TIMEOUT)
{
	char nat[PATH_MAX], a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], d[PATH_MAX];
	char ba[PATH_MAX], bb[PATH_MAX];
	struct fiemap *want, *seen;
	const char *dirs[2];
	int errs[2], i;

	check_fiemap(_metadata, self->xb, self->xfuse);

	at(nat, self->xfs, "n");
	ASSERT_EQ(0, mkdir(nat, 0755));
	dirs[0] = nat;
	dirs[1] = self->xfuse;
	for (i = 0; i < 2; i++) {
		make_clone_src(_metadata, dirs[i]);
		at(a, dirs[i], "a");
		ASSERT_EQ(0, clone_file(a, at(b, dirs[i], "b")))
			TH_LOG("FICLONE on %s: %s", dirs[i],
			       strerror(errno));
		EXPECT_EQ(CLONE_SRC_LEN, size_of(_metadata, b));
		expect_same_data(_metadata, a, 0, b, 0, CLONE_SRC_LEN);
		expect_shared(_metadata, a);
		expect_shared(_metadata, b);

		/* Two blocks of 'a' and 'b' to the middle of a new file */
		ASSERT_EQ(0, clone_range(a, 60 << 10, 8 << 10,
					 at(c, dirs[i], "c"), 16 << 10))
			TH_LOG("FICLONERANGE on %s", dirs[i]);
		EXPECT_EQ(24 << 10, size_of(_metadata, c));
		expect_same_data(_metadata, a, 60 << 10, c, 16 << 10,
				 8 << 10);

		/* Not block aligned, not to the end of the source */
		errs[i] = clone_range(a, 0, 100, at(d, dirs[i], "d"), 0);
	}
	EXPECT_NE(0, errs[0]);
	EXPECT_EQ(errs[0], errs[1]) TH_LOG("unaligned FICLONERANGE: %s, %s",
					   strerror(errs[0]),
					   strerror(errs[1]));

	/* Through fuse-bpf, the extents of the backing files */
	at(ba, self->xb, "a");
	at(bb, self->xb, "b");
	want = fiemap_of(_metadata, ba, 0, 0, ~0ULL, FM_EXTENTS);
	seen = fiemap_of(_metadata, at(a, self->xfuse, "a"), 0, 0, ~0ULL,
			 FM_EXTENTS);
	expect_same_fiemap(_metadata, want, seen, "clone source");
	free(want);
	free(seen);
	want = fiemap_of(_metadata, bb, 0, 0, ~0ULL, FM_EXTENTS);
	seen = fiemap_of(_metadata, at(b, self->xfuse, "b"), 0, 0, ~0ULL,
			 FM_EXTENTS);
	expect_same_fiemap(_metadata, want, seen, "clone");
	free(want);
	free(seen);
}

struct dedupe_2 {
	struct file_dedupe_range range;
	struct file_dedupe_range_info info[2];
};

/*
 * FIDEDUPERANGE from @src to @same and @diff, @len bytes at 0: 0 or the
 * ioctl's errno; @out gets the per destination results.
 */
static int dedupe(const char *src, const char *same, const char *diff,
		  __u64 len, struct dedupe_2 *out)
{
	int sfd, fds[2], err = 0, i;

	memset(out, 0, sizeof(*out));
	out->range.src_length = len;
	out->range.dest_count = 2;
	sfd = open(src, O_RDONLY);
	fds[0] = open(same, O_RDWR);
	fds[1] = open(diff, O_RDWR);
	if (sfd < 0 || fds[0] < 0 || fds[1] < 0)
		err = errno;
	for (i = 0; !err && i < 2; i++)
		out->info[i].dest_fd = fds[i];
	if (!err && ioctl(sfd, FIDEDUPERANGE, out))
		err = errno;
	close(sfd);
	close(fds[0]);
	close(fds[1]);
	return err;
}

/*
 * FIDEDUPERANGE through fuse-bpf on XFS: the same range is deduped, a
 * different one reported as differing, as on the XFS itself.
 */
TEST_F_TIMEOUT(xfs, dedupe, ST_TIMEOUT)
{
	char nat[PATH_MAX], s[PATH_MAX], same[PATH_MAX], diff[PATH_MAX];
	struct dedupe_2 res[2];
	const char *dirs[2];
	int i, err;

	at(nat, self->xfs, "n");
	ASSERT_EQ(0, mkdir(nat, 0755));
	dirs[0] = nat;
	dirs[1] = self->xfuse;
	for (i = 0; i < 2; i++) {
		make_data_file(_metadata, at(s, dirs[i], "s"), 'x', 128 << 10);
		make_data_file(_metadata, at(same, dirs[i], "same"), 'x',
			       128 << 10);
		make_data_file(_metadata, at(diff, dirs[i], "diff"), 'y',
			       128 << 10);
		err = dedupe(s, same, diff, 128 << 10, &res[i]);
		ASSERT_EQ(0, err) TH_LOG("FIDEDUPERANGE on %s: %s", dirs[i],
					 strerror(err));
		EXPECT_EQ(FILE_DEDUPE_RANGE_SAME, res[i].info[0].status)
			TH_LOG("%s: status %d", dirs[i], res[i].info[0].status);
		EXPECT_EQ(128 << 10, res[i].info[0].bytes_deduped)
			TH_LOG("%s", dirs[i]);
		EXPECT_EQ(FILE_DEDUPE_RANGE_DIFFERS, res[i].info[1].status)
			TH_LOG("%s: status %d", dirs[i], res[i].info[1].status);
		EXPECT_EQ(0, res[i].info[1].bytes_deduped)
			TH_LOG("%s", dirs[i]);
		expect_shared(_metadata, same);
		expect_same_data(_metadata, s, 0, same, 0, 128 << 10);
	}
	EXPECT_EQ(res[0].info[0].status, res[1].info[0].status);
	EXPECT_EQ(res[0].info[1].status, res[1].info[1].status);
}

/*
 * On ext4, which cannot share extents, FICLONE and FIDEDUPERANGE through
 * fuse-bpf fail as they do on ext4 itself. Between two mounts FICLONE
 * fails with EXDEV, whatever the filesystems.
 */
TEST_F_TIMEOUT(xfs, ext4_and_cross_mount, ST_TIMEOUT)
{
	char src[PATH_MAX], dst[PATH_MAX], other[PATH_MAX], xsrc[PATH_MAX];
	struct dedupe_2 res;
	int native, fuse;

	make_data_file(_metadata, at(src, self->eb, "s"), 'x', 64 << 10);
	make_data_file(_metadata, at(dst, self->eb, "t"), 'x', 64 << 10);
	make_data_file(_metadata, at(other, self->eb, "u"), 'y', 64 << 10);
	native = clone_file(src, at(dst, self->eb, "n"));
	fuse = clone_file(at(src, self->efuse, "s"),
			  at(dst, self->efuse, "f"));
	EXPECT_NE(0, native);
	EXPECT_EQ(native, fuse) TH_LOG("FICLONE on ext4: %s, through fuse-bpf: %s",
				       strerror(native), strerror(fuse));

	/*
	 * ext4 has no remap_file_range: the ioctl fails. The FUSE file has
	 * one, so the VFS can only report an error per destination there.
	 */
	native = dedupe(at(src, self->eb, "s"), at(dst, self->eb, "t"),
			at(other, self->eb, "u"), 64 << 10, &res);
	EXPECT_NE(0, native);
	fuse = dedupe(at(src, self->efuse, "s"), at(dst, self->efuse, "t"),
		      at(other, self->efuse, "u"), 64 << 10, &res);
	if (fuse) {
		EXPECT_EQ(native, fuse);
	} else {
		EXPECT_EQ(-native, res.info[0].status)
			TH_LOG("FIDEDUPERANGE on ext4: %s, through fuse-bpf status %d",
			       strerror(native), res.info[0].status);
		EXPECT_EQ(-native, res.info[1].status);
		EXPECT_EQ(0, res.info[0].bytes_deduped);
	}

	/* From the XFS-backed mount to the ext4-backed one, and back */
	make_clone_src(_metadata, self->xfuse);
	at(xsrc, self->xfuse, "a");
	EXPECT_EQ(EXDEV, clone_file(xsrc, at(dst, self->efuse, "x")));
	EXPECT_EQ(EXDEV, clone_file(at(src, self->efuse, "s"),
				    at(dst, self->xfuse, "y")));
	/* From fuse-bpf to its own backing filesystem: two mounts too */
	EXPECT_EQ(EXDEV, clone_file(xsrc, at(dst, self->xb, "z")));
}

/*
 * fsync() of a directory: a fuse-bpf mount with no daemon (upper) whose
 * root is backed by the root of a plain FUSE mount (lower) served by the
 * test daemon, which has a directory "sub".
 */
#define LOWER_SUB_ID	2
#define LOWER_DIR_FH	0x5d

static struct fsyncdir_state {
	unsigned int fsyncdirs;
	__u64 nodeid;
	__u64 fh;
	__u32 fsync_flags;
} lower;

static int reply_ok(struct test_daemon *td, struct td_req *req)
{
	return 0;
}

static int reply_enodata(struct test_daemon *td, struct td_req *req)
{
	return -ENODATA;
}

static void lower_attr(__u64 nodeid, struct fuse_attr *attr)
{
	attr->ino = nodeid;
	attr->mode = S_IFDIR | 0755;
	attr->nlink = 2;
}

static int lower_lookup(struct test_daemon *td, struct td_req *req)
{
	struct fuse_entry_out *out = req->out;

	if (req->in->nodeid != FUSE_ROOT_ID || strcmp(req->arg, "sub"))
		return -ENOENT;
	out->nodeid = LOWER_SUB_ID;
	out->generation = 1;
	out->entry_valid = 1000;
	out->attr_valid = 1000;
	lower_attr(LOWER_SUB_ID, &out->attr);
	req->out_len = sizeof(*out);
	return 0;
}

static int lower_getattr(struct test_daemon *td, struct td_req *req)
{
	struct fuse_attr_out *out = req->out;

	if (req->in->nodeid != FUSE_ROOT_ID &&
	    req->in->nodeid != LOWER_SUB_ID)
		return -ENOENT;
	out->attr_valid = 1000;
	lower_attr(req->in->nodeid, &out->attr);
	req->out_len = sizeof(*out);
	return 0;
}

static int lower_opendir(struct test_daemon *td, struct td_req *req)
{
	struct fuse_open_out *out = req->out;

	out->fh = LOWER_DIR_FH;
	req->out_len = sizeof(*out);
	return 0;
}

static int lower_fsyncdir(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_fsync_in *in = req->arg;

	if (req->arg_len < sizeof(*in))
		return -EINVAL;
	lower.fsyncdirs++;
	lower.nodeid = req->in->nodeid;
	lower.fh = in->fh;
	lower.fsync_flags = in->fsync_flags;
	return 0;
}

FIXTURE(stacked) {
	char lower[64];
	char upper[64];
	int fuse_fd;
	struct test_daemon *td;
};

FIXTURE_SETUP(stacked)
{
	static const struct {
		__u32 opcode;
		td_handler_fn fn;
	} handlers[] = {
		{ FUSE_LOOKUP, lower_lookup },
		{ FUSE_GETATTR, lower_getattr },
		{ FUSE_OPENDIR, lower_opendir },
		{ FUSE_RELEASEDIR, reply_ok },
		{ FUSE_FSYNCDIR, lower_fsyncdir },
		{ FUSE_ACCESS, reply_ok },
		{ FUSE_GETXATTR, reply_enodata },
		{ FUSE_FORGET, forget_noop },
		{ FUSE_BATCH_FORGET, forget_noop },
	};
	size_t i;

	private_mount_ns(_metadata);
	memset(&lower, 0, sizeof(lower));
	self->fuse_fd = -1;
	make_tmp_dir(_metadata, self->lower, sizeof(self->lower),
		     "fuse_lower");
	make_tmp_dir(_metadata, self->upper, sizeof(self->upper),
		     "fuse_upper");
	self->fuse_fd = test_fuse_mount(self->lower, NULL);
	ASSERT_LE(0, self->fuse_fd)
		TH_LOG("mount %s: %s", self->lower, strerror(-self->fuse_fd));
	self->td = test_daemon_create(self->fuse_fd);
	ASSERT_NE(NULL, self->td);
	for (i = 0; i < ARRAY_SIZE(handlers); i++)
		ASSERT_EQ(0, test_daemon_set_handler(self->td,
						     handlers[i].opcode,
						     handlers[i].fn, NULL));
	ASSERT_EQ(0, test_daemon_start(self->td));
	ASSERT_EQ(0, test_daemon_wait_init(self->td, TD_STOP_TIMEOUT_MS));
	mount_bpf(_metadata, self->upper, self->lower, 0, "");
}

FIXTURE_TEARDOWN(stacked)
{
	/* The upper holds the lower mount: it goes first */
	EXPECT_EQ(0, test_fuse_umount(self->upper));
	EXPECT_EQ(0, test_fuse_umount(self->lower));
	if (self->td) {
		EXPECT_EQ(0, test_daemon_stop(self->td, TD_STOP_TIMEOUT_MS));
		EXPECT_EQ(0, test_daemon_unexpected(self->td));
		EXPECT_EQ(0, test_daemon_errors(self->td));
		test_daemon_destroy(self->td);
	}
	if (self->fuse_fd >= 0)
		EXPECT_EQ(0, close(self->fuse_fd));
	EXPECT_EQ(0, rmdir(self->upper));
	EXPECT_EQ(0, rmdir(self->lower));
}

/* fsync() or fdatasync() @fd: the FSYNCDIR the lower got since @seen */
static void expect_fsyncdir(struct __test_metadata *_metadata,
			    struct _test_data_stacked *self, int fd,
			    bool datasync, __u64 nodeid, unsigned int seen)
{
	struct fsyncdir_state got;

	ASSERT_EQ(0, datasync ? fdatasync(fd) : fsync(fd))
		TH_LOG("%s: %s", datasync ? "fdatasync" : "fsync",
		       strerror(errno));
	test_daemon_lock(self->td);
	got = lower;
	test_daemon_unlock(self->td);
	EXPECT_EQ(seen + 1, got.fsyncdirs)
		TH_LOG("the lower got %u FUSE_FSYNCDIR", got.fsyncdirs - seen);
	EXPECT_EQ(nodeid, got.nodeid);
	EXPECT_EQ(LOWER_DIR_FH, got.fh);
	EXPECT_EQ(datasync ? FUSE_FSYNC_FDATASYNC : 0, got.fsync_flags);
}

/*
 * fsync() and fdatasync() of a backed directory fsync its backing
 * directory: the lower server gets one FUSE_FSYNCDIR each, for that
 * directory's node and the handle it opened it with.
 */
TEST_F_TIMEOUT(stacked, fsync_dir_reaches_backing, ST_TIMEOUT)
{
	char sub[PATH_MAX];
	int fd;

	fd = open(at(sub, self->upper, "sub"), O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", sub, strerror(errno));
	expect_fsyncdir(_metadata, self, fd, false, LOWER_SUB_ID, 0);
	expect_fsyncdir(_metadata, self, fd, true, LOWER_SUB_ID, 1);
	ASSERT_EQ(0, close(fd));

	fd = open(self->upper, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", self->upper, strerror(errno));
	expect_fsyncdir(_metadata, self, fd, false, FUSE_ROOT_ID, 2);
	ASSERT_EQ(0, close(fd));
}

TEST_HARNESS_MAIN
