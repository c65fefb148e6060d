// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests for folder hiding with fuse-bpf: fuse_hide.bpf.c, the program
 * of the root of a no_daemon mount, makes one name vanish from every
 * directory of the mount. Its lookup fails with ENOENT, and readdir drops
 * its record from the page of struct fuse_dirent the backing directory
 * gave, which the post-filter rewrites.
 *
 * Its app_dirs program hides each app's private folder from the other
 * apps (uids), by a map of folder names to owners, and turns a refusal of
 * the backing filesystem into ENOENT, so that none tells a folder exists.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../../kselftest_harness.h"
#include "test_util.h"
#include "fuse_hide.skel.h"

/* The longest name the program can hide: its hidden_name[64] and a NUL */
#define LONG_NAME	"a-folder-whose-name-fills-all-63-bytes-the-program-can-hide-xyz"

/* getdents64() buffers: one that takes every entry, one that cuts pages */
#define BIG_BUF		(64 * 1024)
#define SMALL_BUF	512

#define MAX_ENTRIES	1024

/* A directory entry as getdents64() gave it */
struct entry {
	char name[NAME_MAX + 1];
	unsigned long long ino;
	unsigned char type;
};

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name,
		      ((const struct entry *)b)->name);
}

/*
 * The entries of @path read with getdents64() into a buffer of @bufsize
 * bytes, sorted by name: their number, or -errno (-E2BIG past @max).
 */
static int list_dir(const char *path, size_t bufsize, struct entry *ents,
		    int max)
{
	char *buf = malloc(bufsize);
	int fd, n = 0, ret;
	long len;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		ret = -errno;
		free(buf);
		return ret;
	}
	while ((len = syscall(SYS_getdents64, fd, buf, bufsize)) > 0) {
		long pos;

		for (pos = 0; pos < len; ) {
			struct dirent64 *d = (void *)(buf + pos);

			if (n == max) {
				len = -1;
				errno = E2BIG;
				break;
			}
			snprintf(ents[n].name, sizeof(ents[n].name), "%s",
				 d->d_name);
			ents[n].ino = d->d_ino;
			ents[n].type = d->d_type;
			n++;
			pos += d->d_reclen;
		}
		if (len < 0)
			break;
	}
	ret = len < 0 ? -errno : n;
	close(fd);
	free(buf);
	if (ret > 0)
		qsort(ents, n, sizeof(*ents), cmp_entry);
	return ret;
}

/*
 * Listing @fuse_dir with a buffer of @bufsize bytes gives exactly the
 * entries of @backing_dir but @hidden, which it has: @count of them, each
 * once, with the backing's inode numbers and types.
 */
static void expect_listing(struct __test_metadata *_metadata,
			   const char *fuse_dir, const char *backing_dir,
			   const char *hidden, size_t bufsize, int count)
{
	static struct entry fents[MAX_ENTRIES], bents[MAX_ENTRIES];
	int fn, bn, i, j;

	bn = list_dir(backing_dir, BIG_BUF, bents, MAX_ENTRIES);
	ASSERT_LE(0, bn) TH_LOG("%s: %s", backing_dir, strerror(-bn));
	for (i = j = 0; i < bn; i++)
		if (strcmp(bents[i].name, hidden))
			bents[j++] = bents[i];
	ASSERT_EQ(bn - 1, j) TH_LOG("%s has no %s", backing_dir, hidden);
	ASSERT_EQ(count, j);

	fn = list_dir(fuse_dir, bufsize, fents, MAX_ENTRIES);
	ASSERT_EQ(j, fn) TH_LOG("%s: %s", fuse_dir,
				fn < 0 ? strerror(-fn) : "entries differ");
	for (i = 0; i < fn; i++) {
		EXPECT_STREQ(bents[i].name, fents[i].name);
		EXPECT_EQ(bents[i].ino, fents[i].ino) TH_LOG("%s", fents[i].name);
		EXPECT_EQ(bents[i].type, fents[i].type) TH_LOG("%s", fents[i].name);
		if (i)
			EXPECT_STRNE(fents[i - 1].name, fents[i].name);
	}
}

/* Does a listing of @path with a buffer of @bufsize bytes show @name? */
static bool dir_shows(const char *path, size_t bufsize, const char *name)
{
	static struct entry ents[MAX_ENTRIES];
	int i, n = list_dir(path, bufsize, ents, MAX_ENTRIES);

	for (i = 0; i < n; i++)
		if (!strcmp(ents[i].name, name))
			return true;
	return false;
}

/* @call on @path fails with ENOENT; @path is read after @call */
#define EXPECT_ENOENT(call, path) do {					\
	const char *__path;						\
									\
	errno = 0;							\
	EXPECT_EQ(-1, (call));						\
	__path = (path);						\
	EXPECT_EQ(ENOENT, errno) TH_LOG("%s: %s", __path, strerror(errno)); \
} while (0)

/*
 * A no_daemon mount of a directory of the ext4 scratch disk, with
 * fuse_hide.bpf.c hiding the name of the variant as the root's program.
 */
FIXTURE(hide) {
	char backing[128];
	char dir[64];
	int backing_fd;
	struct fuse_hide *skel;
	const char *name;
};

FIXTURE_VARIANT(hide) {
	const char *name;
};

FIXTURE_VARIANT_ADD(hide, short_name) {
	.name = "private",
};

/* Every byte of hidden_name: the name ends at the last one it compares */
FIXTURE_VARIANT_ADD(hide, long_name) {
	.name = LONG_NAME,
};

/* Bytes from 0x80 on: names are compared as bytes, not as signed chars */
FIXTURE_VARIANT_ADD(hide, utf8_name) {
	.name = "priv\xc3\xa9",
};

FIXTURE_SETUP(hide)
{
	char opts[256];
	size_t len = strlen(variant->name);

	ASSERT_GT(sizeof(self->skel->bss->hidden_name), len);
	self->name = variant->name;
	private_mount_ns(_metadata);
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	self->backing_fd = open(self->backing, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, self->backing_fd);
	make_tmp_dir(_metadata, self->dir, sizeof(self->dir), "fuse_hide");

	self->skel = fuse_hide__open();
	ASSERT_NE(NULL, self->skel) TH_LOG("open: %s", strerror(errno));
	memcpy(self->skel->bss->hidden_name.c, variant->name, len);
	self->skel->bss->hidden_len = len;
	ASSERT_EQ(0, fuse_hide__load(self->skel))
		TH_LOG("load: %s", strerror(errno));

	snprintf(opts, sizeof(opts), "root_dir=%d,no_daemon,root_bpf=%d,%s",
		 self->backing_fd,
		 bpf_program__fd(self->skel->progs.fuse_hide), FUSE_BASE_OPTS);
	ASSERT_EQ(0, mount_fuse(self->dir, opts));
}

FIXTURE_TEARDOWN(hide)
{
	EXPECT_EQ(0, umount(self->dir));
	fuse_hide__destroy(self->skel);
	EXPECT_EQ(0, close(self->backing_fd));
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

/* The hidden folder, with a file in it, and a file beside it */
static void make_hidden_folder(struct __test_metadata *_metadata,
			       const char *backing, const char *name)
{
	char b[PATH_MAX], rel[NAME_MAX + 8];

	ASSERT_EQ(0, mkdir(at(b, backing, name), 0755));
	snprintf(rel, sizeof(rel), "%s/secret", name);
	make_file(_metadata, at(b, backing, rel), 0644, "secret");
	make_file(_metadata, at(b, backing, "visible"), 0644, "visible");
}

/*
 * Every walk to the hidden name fails with ENOENT, each after one lookup
 * the program fails: no dentry is made for it. Other names resolve.
 */
TEST_F(hide, lookup_fails)
{
	char b[PATH_MAX], f[PATH_MAX], rel[NAME_MAX + 8], buf[16];
	struct stat st;

	make_hidden_folder(_metadata, self->backing, self->name);
	ASSERT_EQ(0, stat(at(b, self->backing, self->name), &st));

	at(f, self->dir, self->name);
	EXPECT_ENOENT(stat(f, &st), f);
	EXPECT_EQ(1, self->skel->bss->lookups_hidden);
	EXPECT_ENOENT(lstat(f, &st), f);
	EXPECT_ENOENT(open(f, O_RDONLY), f);
	EXPECT_ENOENT(open(f, O_PATH), f);
	EXPECT_ENOENT(open(f, O_RDONLY | O_DIRECTORY), f);
	EXPECT_ENOENT(access(f, F_OK), f);
	EXPECT_ENOENT(chdir(f), f);
	EXPECT_EQ(7, self->skel->bss->lookups_hidden);
	errno = 0;
	EXPECT_EQ(NULL, opendir(f));
	EXPECT_EQ(ENOENT, errno);

	/* Nor is anything under it */
	snprintf(rel, sizeof(rel), "%s/secret", self->name);
	EXPECT_ENOENT(stat(at(f, self->dir, rel), &st), f);
	EXPECT_ENOENT(open(f, O_RDONLY), f);
	EXPECT_EQ(10, self->skel->bss->lookups_hidden);

	/* The name beside it is served from the backing directory */
	expect_same_stat(_metadata, at(f, self->dir, "visible"),
			 at(b, self->backing, "visible"));
	ASSERT_EQ(7, read_all(f, buf, sizeof(buf)));
	EXPECT_STREQ("visible", buf);
	EXPECT_EQ(10, self->skel->bss->lookups_hidden);
}

/*
 * Names that differ from the hidden one by a byte, or by their length,
 * show and resolve: the program hides that name exactly.
 */
TEST_F(hide, similar_names_show)
{
	char b[PATH_MAX], f[PATH_MAX], names[4][NAME_MAX + 1];
	size_t len = strlen(self->name);
	int i;

	make_hidden_folder(_metadata, self->backing, self->name);
	/* One byte short, one byte more, the last and the first changed */
	snprintf(names[0], sizeof(names[0]), "%.*s", (int)len - 1, self->name);
	snprintf(names[1], sizeof(names[1]), "%sx", self->name);
	snprintf(names[2], sizeof(names[2]), "%s", self->name);
	names[2][len - 1] = names[2][len - 1] == 'x' ? 'y' : 'x';
	snprintf(names[3], sizeof(names[3]), "%s", self->name);
	names[3][0] = names[3][0] == 'x' ? 'y' : 'x';
	for (i = 0; i < 4; i++) {
		if (i % 2)
			make_file(_metadata, at(b, self->backing, names[i]),
				  0600, names[i]);
		else
			ASSERT_EQ(0, mkdir(at(b, self->backing, names[i]),
					   0700));
	}

	/* ".", "..", visible, the hidden folder's 4 neighbours */
	expect_listing(_metadata, self->dir, self->backing, self->name,
		       BIG_BUF, 7);
	for (i = 0; i < 4; i++)
		expect_same_stat(_metadata, at(f, self->dir, names[i]),
				 at(b, self->backing, names[i]));
	EXPECT_EQ(0, self->skel->bss->lookups_hidden);
	EXPECT_ENOENT(stat(at(f, self->dir, self->name), &(struct stat){}),
		      f);
	EXPECT_EQ(1, self->skel->bss->lookups_hidden);
}

/*
 * readdir gives every entry but the hidden one, with the backing's inode
 * numbers and types. One listing of a small directory is one page, in
 * which the program drops one record.
 */
TEST_F(hide, readdir_drops_entry)
{
	char b[PATH_MAX];

	make_hidden_folder(_metadata, self->backing, self->name);
	ASSERT_EQ(0, mkdir(at(b, self->backing, "public"), 0755));
	ASSERT_EQ(0, symlink("visible", at(b, self->backing, "link")));
	ASSERT_EQ(0, mkfifo(at(b, self->backing, "fifo"), 0600));

	/* ".", "..", visible, public, link, fifo */
	expect_listing(_metadata, self->dir, self->backing, self->name,
		       BIG_BUF, 6);
	EXPECT_EQ(1, self->skel->bss->entries_hidden);
	EXPECT_EQ(0, self->skel->bss->copy_failures);
	/* A small buffer: the page is read again from each stop */
	expect_listing(_metadata, self->dir, self->backing, self->name,
		       SMALL_BUF, 6);
	EXPECT_LE(2, self->skel->bss->entries_hidden);
	EXPECT_EQ(0, self->skel->bss->lookups_hidden);
}

/*
 * Nothing can be made or moved under the hidden name, nor can the hidden
 * folder be removed or renamed: the VFS looks the name up first, which
 * fails. The backing directory is untouched.
 */
TEST_F(hide, cannot_create_or_remove)
{
	char b[PATH_MAX], f[PATH_MAX], v[PATH_MAX], o[PATH_MAX];
	char rel[NAME_MAX + 8];
	struct stat st;

	make_hidden_folder(_metadata, self->backing, self->name);
	at(f, self->dir, self->name);
	at(v, self->dir, "visible");
	at(o, self->dir, "other");

	EXPECT_ENOENT(mkdir(f, 0755), f);
	EXPECT_ENOENT(open(f, O_WRONLY | O_CREAT, 0644), f);
	EXPECT_ENOENT(open(f, O_WRONLY | O_CREAT | O_EXCL, 0644), f);
	EXPECT_ENOENT(mknod(f, S_IFREG | 0644, 0), f);
	EXPECT_ENOENT(symlink("visible", f), f);
	EXPECT_ENOENT(link(v, f), f);
	EXPECT_ENOENT(rename(v, f), f);
	EXPECT_ENOENT(renameat2(AT_FDCWD, v, AT_FDCWD, f, RENAME_EXCHANGE),
		      f);
	EXPECT_ENOENT(rename(f, o), f);
	EXPECT_ENOENT(rmdir(f), f);
	EXPECT_ENOENT(unlink(f), f);
	snprintf(rel, sizeof(rel), "%s/secret", self->name);
	EXPECT_ENOENT(unlink(at(f, self->dir, rel)), f);
	EXPECT_ENOENT(open(f, O_WRONLY | O_TRUNC), f);

	ASSERT_EQ(0, stat(at(b, self->backing, self->name), &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	ASSERT_EQ(0, stat(at(b, self->backing, rel), &st));
	EXPECT_EQ(6, st.st_size);
	ASSERT_EQ(0, stat(at(b, self->backing, "visible"), &st));
	EXPECT_EQ(7, st.st_size);
	EXPECT_EQ(1, st.st_nlink);
	EXPECT_EQ(-1, stat(at(b, self->backing, "other"), &st));
	/* ".", "..", visible */
	expect_listing(_metadata, self->dir, self->backing, self->name,
		       BIG_BUF, 3);
}

/* A name the backing directory does not have cannot be made either */
TEST_F(hide, cannot_create_absent_name)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	at(f, self->dir, self->name);
	EXPECT_ENOENT(mkdir(f, 0755), f);
	EXPECT_ENOENT(open(f, O_WRONLY | O_CREAT, 0644), f);
	EXPECT_ENOENT(symlink("x", f), f);
	errno = 0;
	EXPECT_EQ(-1, stat(at(b, self->backing, self->name), &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(3, self->skel->bss->lookups_hidden);
}

/*
 * The program is inherited: the name is hidden in subdirectories too,
 * including as a file, and when the backing directory gets it after the
 * directory was looked up and listed.
 */
TEST_F(hide, hidden_in_subdirectories)
{
	char b[PATH_MAX], f[PATH_MAX], rel[NAME_MAX + 8];
	struct stat st;

	ASSERT_EQ(0, mkdir(at(b, self->backing, "sub"), 0755));
	make_file(_metadata, at(b, self->backing, "sub/keep"), 0644, "keep");
	ASSERT_EQ(0, stat(at(f, self->dir, "sub"), &st));
	EXPECT_TRUE(dir_shows(f, BIG_BUF, "keep"));

	snprintf(rel, sizeof(rel), "sub/%s", self->name);
	make_file(_metadata, at(b, self->backing, rel), 0644, "late");
	EXPECT_ENOENT(stat(at(f, self->dir, rel), &st), f);
	EXPECT_ENOENT(open(f, O_RDONLY), f);
	EXPECT_EQ(2, self->skel->bss->lookups_hidden);
	/* "." "..", keep */
	expect_listing(_metadata, at(f, self->dir, "sub"),
		       at(b, self->backing, "sub"), self->name, BIG_BUF, 3);
	EXPECT_EQ(1, self->skel->bss->entries_hidden);
}

/*
 * A directory of many pages of records, the hidden name among them:
 * readdir gives exactly the others, each once, whatever the buffer.
 * 3-byte names make the smallest records, 128 to a page. Each getdents()
 * of a small buffer fills a page of records again: slow on debug kernels.
 */
TEST_F_TIMEOUT(hide, big_directory, 300)
{
	char b[PATH_MAX], name[16];
	int i;

	for (i = 0; i < 600; i++) {
		if (i == 300) {
			make_file(_metadata, at(b, self->backing, self->name),
				  0644, "hidden");
			continue;
		}
		snprintf(name, sizeof(name), "%03d", i);
		make_file(_metadata, at(b, self->backing, name), 0644, "");
	}

	/* 599 files, ".", ".." */
	expect_listing(_metadata, self->dir, self->backing, self->name,
		       BIG_BUF, 601);
	EXPECT_EQ(1, self->skel->bss->entries_hidden);
	expect_listing(_metadata, self->dir, self->backing, self->name,
		       SMALL_BUF, 601);
	EXPECT_LE(2, self->skel->bss->entries_hidden);
	EXPECT_EQ(0, self->skel->bss->copy_failures);
	EXPECT_ENOENT(stat(at(b, self->dir, self->name), &(struct stat){}), b);
}

/*
 * telldir() positions stay valid across the dropped entry: seekdir() to
 * any of them gives the entry read from there, and the same rest.
 */
TEST_F(hide, seekdir_across_hidden)
{
	static char names[64][NAME_MAX + 1];
	char b[PATH_MAX], name[16];
	long pos[64];
	struct dirent *d;
	int i, k, n;
	DIR *dir;

	make_file(_metadata, at(b, self->backing, self->name), 0644, "");
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "entry-%02d", i);
		make_file(_metadata, at(b, self->backing, name), 0644, "");
	}

	dir = opendir(self->dir);
	ASSERT_NE(NULL, dir);
	for (n = 0; n < 64; n++) {
		pos[n] = telldir(dir);
		d = readdir(dir);
		if (!d)
			break;
		EXPECT_STRNE(self->name, d->d_name);
		snprintf(names[n], sizeof(names[n]), "%s", d->d_name);
	}
	/* ".", "..", 40 entries */
	ASSERT_EQ(42, n);

	for (k = 0; k < n; k++) {
		seekdir(dir, pos[k]);
		d = readdir(dir);
		ASSERT_NE(NULL, d) TH_LOG("seekdir to entry %d", k);
		EXPECT_STREQ(names[k], d->d_name) TH_LOG("entry %d", k);
	}

	/* After 10 entries: the same 32 that followed, then the end */
	seekdir(dir, pos[10]);
	for (k = 10; k < n; k++) {
		d = readdir(dir);
		ASSERT_NE(NULL, d) TH_LOG("entry %d", k);
		EXPECT_STREQ(names[k], d->d_name);
	}
	errno = 0;
	EXPECT_EQ(NULL, readdir(dir));
	EXPECT_EQ(0, errno);
	EXPECT_EQ(0, closedir(dir));
}

/*
 * The program stays with the mount: closing every descriptor of it (as
 * hide_demo does when it exits) changes nothing.
 */
TEST_F(hide, mount_keeps_program)
{
	char b[PATH_MAX], f[PATH_MAX];

	make_hidden_folder(_metadata, self->backing, self->name);
	fuse_hide__destroy(self->skel);
	self->skel = NULL;

	EXPECT_ENOENT(stat(at(f, self->dir, self->name), &(struct stat){}),
		      f);
	EXPECT_FALSE(dir_shows(self->dir, BIG_BUF, self->name));
	expect_same_stat(_metadata, at(f, self->dir, "visible"),
			 at(b, self->backing, "visible"));
}

/*
 * Without the program, a mount of the same directory shows the folder;
 * the mount with the program still hides it.
 */
TEST_F(hide, plain_mount_shows)
{
	char b[PATH_MAX], f[PATH_MAX], plain[64], rel[NAME_MAX + 8], buf[16];
	char opts[256];

	make_hidden_folder(_metadata, self->backing, self->name);
	make_tmp_dir(_metadata, plain, sizeof(plain), "fuse_plain");
	snprintf(opts, sizeof(opts), "root_dir=%d,no_daemon,%s",
		 self->backing_fd, FUSE_BASE_OPTS);
	ASSERT_EQ(0, mount_fuse(plain, opts));

	EXPECT_TRUE(dir_shows(plain, BIG_BUF, self->name));
	expect_same_stat(_metadata, at(f, plain, self->name),
			 at(b, self->backing, self->name));
	snprintf(rel, sizeof(rel), "%s/secret", self->name);
	EXPECT_EQ(6, read_all(at(f, plain, rel), buf, sizeof(buf)));
	EXPECT_STREQ("secret", buf);

	EXPECT_FALSE(dir_shows(self->dir, BIG_BUF, self->name));
	EXPECT_ENOENT(stat(at(f, self->dir, self->name), &(struct stat){}),
		      f);
	EXPECT_EQ(0, umount(plain));
	EXPECT_EQ(0, rmdir(plain));
}

/* The apps of the app_dirs tests, and a uid with no folder */
#define APP_A		1001
#define APP_B		1002
#define APP_NONE	1003

/*
 * A no_daemon mount (allow_other) of a directory of the ext4 scratch disk
 * with app_dirs as the root's program: "pkgA" of APP_A, "pkgB" of APP_B
 * (each 0700, with a file "data"), "shared" of root (0755); the map says
 * whose each app folder is.
 */
FIXTURE(apps) {
	char backing[128];
	char dir[64];
	char plain[64];
	int backing_fd;
	bool mounted, plain_mounted;
	struct fuse_hide *skel;
};

FIXTURE_SETUP(apps)
{
	static const struct {
		const char *name;
		uid_t uid;
		mode_t mode;
	} dirs[] = {
		{ "pkgA", APP_A, 0700 },
		{ "pkgB", APP_B, 0700 },
		{ "shared", 0, 0755 },
	};
	char b[PATH_MAX], rel[NAME_MAX + 8];
	struct { __u64 w[4]; __u32 len, pad; } key;
	__u32 owner;
	size_t i;
	int map;

	private_mount_ns(_metadata);
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	ASSERT_EQ(0, chmod(self->backing, 0755));
	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		ASSERT_EQ(0, mkdir(at(b, self->backing, dirs[i].name),
				   dirs[i].mode));
		snprintf(rel, sizeof(rel), "%s/data", dirs[i].name);
		make_file(_metadata, at(b, self->backing, rel), 0600, "data");
		ASSERT_EQ(0, chown(b, dirs[i].uid, dirs[i].uid));
		ASSERT_EQ(0, chown(at(b, self->backing, dirs[i].name),
				   dirs[i].uid, dirs[i].uid));
	}
	self->backing_fd = open(self->backing, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, self->backing_fd);
	make_tmp_dir(_metadata, self->dir, sizeof(self->dir), "fuse_apps");
	make_tmp_dir(_metadata, self->plain, sizeof(self->plain), "fuse_plain");
	self->skel = fuse_hide__open_and_load();
	ASSERT_NE(NULL, self->skel) TH_LOG("load: %s", strerror(errno));
	map = bpf_map__fd(self->skel->maps.app_owner);
	for (i = 0; i < 2; i++) {
		memset(&key, 0, sizeof(key));
		key.len = strlen(dirs[i].name);
		memcpy(key.w, dirs[i].name, key.len);
		owner = dirs[i].uid;
		ASSERT_EQ(0, bpf_map_update_elem(map, &key, &owner, BPF_ANY));
	}
}

FIXTURE_TEARDOWN(apps)
{
	if (self->mounted)
		EXPECT_EQ(0, umount(self->dir));
	if (self->plain_mounted)
		EXPECT_EQ(0, umount(self->plain));
	fuse_hide__destroy(self->skel);
	EXPECT_EQ(0, close(self->backing_fd));
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, rmdir(self->plain));
	EXPECT_EQ(0, remove_tree(self->backing));
}

/* A no_daemon mount of @backing_fd on @dir, filtered by @prog_fd if >= 0 */
static int mount_apps(const char *dir, int backing_fd, int prog_fd)
{
	char opts[256], bpf[32] = "";

	if (prog_fd >= 0)
		snprintf(bpf, sizeof(bpf), "root_bpf=%d,", prog_fd);
	snprintf(opts, sizeof(opts), "root_dir=%d,no_daemon,%sallow_other,%s",
		 backing_fd, bpf, FUSE_BASE_OPTS);
	return mount_fuse(dir, opts);
}

/* Raise or lower CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH */
static int set_dac_caps(bool on)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];
	__u32 dac = 1u << CAP_DAC_OVERRIDE | 1u << CAP_DAC_READ_SEARCH;

	if (syscall(SYS_capget, &h, d))
		return -1;
	if (on)
		d[0].effective |= dac;
	else
		d[0].effective &= ~dac;
	return syscall(SYS_capset, &h, d);
}

static int user_stat(const char *path, const void *arg)
{
	struct stat st;

	return stat(path, &st);
}

/* Does the listing of @path show the name @arg? ENOENT if not */
static int user_lists(const char *path, const void *arg)
{
	static struct entry ents[MAX_ENTRIES];
	int i, n = list_dir(path, BIG_BUF, ents, MAX_ENTRIES);

	if (n < 0) {
		errno = -n;
		return -1;
	}
	for (i = 0; i < n; i++)
		if (!strcmp(ents[i].name, arg))
			return 0;
	errno = ENOENT;
	return -1;
}

/*
 * Each app sees its own folder and the shared one, in a listing and by
 * name, and not the other app's, not even a name under it; a uid with no
 * folder sees none. Root sees all, as the backing directory has them. A
 * dentry root made stays hidden from the others: the program decides at
 * every revalidation.
 */
TEST_F(apps, other_apps_folders_hidden)
{
	static const struct test_user a = { .uid = APP_A, .gid = APP_A };
	static const struct test_user b = { .uid = APP_B, .gid = APP_B };
	static const struct test_user none = { .uid = APP_NONE,
					       .gid = APP_NONE };
	char f[PATH_MAX], p[PATH_MAX];

	ASSERT_EQ(0, mount_apps(self->dir, self->backing_fd,
				bpf_program__fd(self->skel->progs.app_dirs)));
	self->mounted = true;
	/* Root: all of them, as in the backing directory */
	expect_same_stat(_metadata, at(f, self->dir, "pkgB"),
			 at(p, self->backing, "pkgB"));
	expect_same_stat(_metadata, at(f, self->dir, "pkgA/data"),
			 at(p, self->backing, "pkgA/data"));
	EXPECT_TRUE(dir_shows(self->dir, BIG_BUF, "pkgA"));
	EXPECT_TRUE(dir_shows(self->dir, BIG_BUF, "pkgB"));
	EXPECT_EQ(0, self->skel->bss->app_lookups_hidden);

	EXPECT_EQ(0, run_as_user(&a, user_stat, at(f, self->dir, "pkgA"), NULL));
	EXPECT_EQ(0, run_as_user(&a, user_stat, at(f, self->dir, "pkgA/data"),
				 NULL));
	EXPECT_EQ(ENOENT, run_as_user(&a, user_stat, at(f, self->dir, "pkgB"),
				      NULL));
	EXPECT_EQ(ENOENT, run_as_user(&a, user_stat,
				      at(f, self->dir, "pkgB/data"), NULL));
	EXPECT_EQ(0, run_as_user(&a, user_lists, self->dir, "pkgA"));
	EXPECT_EQ(ENOENT, run_as_user(&a, user_lists, self->dir, "pkgB"));
	EXPECT_EQ(0, run_as_user(&a, user_lists, self->dir, "shared"));
	EXPECT_LE(2, self->skel->bss->app_lookups_hidden);

	EXPECT_EQ(ENOENT, run_as_user(&b, user_stat, at(f, self->dir, "pkgA"),
				      NULL));
	EXPECT_EQ(0, run_as_user(&b, user_stat, at(f, self->dir, "pkgB/data"),
				 NULL));
	EXPECT_EQ(ENOENT, run_as_user(&b, user_lists, self->dir, "pkgA"));
	EXPECT_EQ(0, run_as_user(&b, user_lists, self->dir, "pkgB"));

	EXPECT_EQ(ENOENT, run_as_user(&none, user_stat,
				      at(f, self->dir, "pkgA"), NULL));
	EXPECT_EQ(ENOENT, run_as_user(&none, user_stat,
				      at(f, self->dir, "pkgB"), NULL));
	EXPECT_EQ(ENOENT, run_as_user(&none, user_lists, self->dir, "pkgA"));
	EXPECT_EQ(ENOENT, run_as_user(&none, user_lists, self->dir, "pkgB"));
	EXPECT_EQ(0, run_as_user(&none, user_lists, self->dir, "shared"));
	EXPECT_EQ(0, run_as_user(&none, user_stat,
				 at(f, self->dir, "shared"), NULL));

	/* And root still sees them all */
	EXPECT_TRUE(dir_shows(self->dir, BIG_BUF, "pkgA"));
	EXPECT_TRUE(dir_shows(self->dir, BIG_BUF, "pkgB"));
	expect_same_stat(_metadata, at(f, self->dir, "pkgB/data"),
			 at(p, self->backing, "pkgB/data"));
	EXPECT_EQ(0, self->skel->bss->app_refusals_hidden);
}

/*
 * Mounted without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, the backing
 * filesystem refuses the mount's credentials the app folders: a plain
 * mount gives EACCES to root, which the FUSE side lets in; with app_dirs
 * the refusal reads as ENOENT. The backing path itself gives EACCES under
 * the same credentials.
 */
TEST_F(apps, backing_refusal_reads_as_absence)
{
	char f[PATH_MAX], p[PATH_MAX];
	struct stat st;

	ASSERT_EQ(0, set_dac_caps(false));
	errno = 0;
	EXPECT_EQ(-1, stat(at(p, self->backing, "pkgA/data"), &st));
	EXPECT_EQ(EACCES, errno);
	ASSERT_EQ(0, mount_apps(self->dir, self->backing_fd,
				bpf_program__fd(self->skel->progs.app_dirs)));
	self->mounted = true;
	ASSERT_EQ(0, mount_apps(self->plain, self->backing_fd, -1));
	self->plain_mounted = true;
	ASSERT_EQ(0, set_dac_caps(true));

	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->plain, "pkgA/data"), &st));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(0, self->skel->bss->app_refusals_hidden);

	EXPECT_ENOENT(stat(at(f, self->dir, "pkgA/data"), &st), f);
	EXPECT_ENOENT(open(at(f, self->dir, "pkgB/data"), O_RDONLY), f);
	EXPECT_LE(2, self->skel->bss->app_refusals_hidden);
	/* What the backing lets through is served */
	expect_same_stat(_metadata, at(f, self->dir, "pkgA"),
			 at(p, self->backing, "pkgA"));
	expect_same_stat(_metadata, at(f, self->dir, "shared/data"),
			 at(p, self->backing, "shared/data"));
}

TEST_HARNESS_MAIN
