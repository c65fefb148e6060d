// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests for fuse-bpf: passthrough to the backing. A mount whose root
 * is backed by a directory, with no daemon or with one that must see
 * nothing but FUSE_INIT, passes every operation through to the backing
 * files and directories: lookup, attributes, I/O of every kind, locks,
 * directory operations, xattrs and ioctls.
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "../../kselftest_harness.h"
#include "test_util.h"
#include "test_daemon.h"
#include "fuse_bpf_util.h"

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

TEST_HARNESS_MAIN
