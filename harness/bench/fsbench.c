// SPDX-License-Identifier: GPL-2.0
/*
 * fsbench.c - metadata workloads for the filesystem benchmarks
 *
 * Runs inside the benchmark guest, so it is one static binary without
 * dependencies.  Each timed subcommand prints one line, "<value> ops/s";
 * errors go to stderr with exit status 1.
 *
 * Build:
 *   gcc -O2 -Wall -static -o fsbench fsbench.c
 *
 * Usage:
 *   fsbench mktree DIR NDIRS NFILES    DIR/dNNN/fNNNNN, 16 bytes each (setup)
 *   fsbench mkdir_entries DIR N        N empty files DIR/eNNNNN (setup)
 *   fsbench stat DIR SECONDS           stat() every file of a mktree tree
 *   fsbench create_unlink DIR N        create N files in DIR, unlink them
 *   fsbench readdir DIR SECONDS        read DIR to the end with getdents64
 *
 * The timed subcommands work in DIR, with paths relative to it: the
 * guest's root is 9p, which refuses path walks in RCU mode, and a walk
 * that starts there would walk every later name with references too.
 * A walk from the current directory shows the filesystem under test as a
 * host with a local root walks it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char data[16] = "fsbench 16 bytes";

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fsbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long number(const char *s, long min, long max)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < min || n > max)
		die("bad number '%s' (%ld..%ld)", s, min, max);
	return n;
}

static double seconds(const char *s)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (errno || end == s || *end || !(d > 0) || d > 1e6)
		die("bad duration '%s'", s);
	return d;
}

static void result(double ops, double elapsed)
{
	if (elapsed <= 0)
		elapsed = 1e-9;
	printf("%.1f ops/s\n", ops / elapsed);
}

/* Setup rewrites files left by an earlier run; create_unlink must not. */
static void write_file(const char *path, const void *buf, size_t len, int excl)
{
	int fd = open(path, O_CREAT | O_WRONLY | (excl ? O_EXCL : O_TRUNC), 0644);

	if (fd < 0)
		die("create %s: %s", path, strerror(errno));
	if (len && write(fd, buf, len) != (ssize_t)len)
		die("write %s: %s", path, strerror(errno));
	if (close(fd))
		die("close %s: %s", path, strerror(errno));
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0755) && errno != EEXIST)
		die("mkdir %s: %s", path, strerror(errno));
}

/* Setup creates DIR (not its parents) if needed. */
static void do_mktree(const char *dir, long ndirs, long nfiles)
{
	char path[PATH_MAX];
	long d, f;

	make_dir(dir);
	for (d = 0; d < ndirs; d++) {
		snprintf(path, sizeof(path), "%s/d%03ld", dir, d);
		make_dir(path);
		for (f = 0; f < nfiles; f++) {
			snprintf(path, sizeof(path), "%s/d%03ld/f%05ld",
				 dir, d, f);
			write_file(path, data, sizeof(data), 0);
		}
	}
	printf("ok\n");
}

static void do_mkdir_entries(const char *dir, long n)
{
	char path[PATH_MAX];
	long i;

	make_dir(dir);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/e%05ld", dir, i);
		write_file(path, NULL, 0, 0);
	}
	printf("ok\n");
}

static int dot(const char *name)
{
	return name[0] == '.' &&
	       (!name[1] || (name[1] == '.' && !name[2]));
}

static int is_dir(DIR *d, struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return !fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
	       S_ISDIR(st.st_mode);
}

/* Append the non-dot entries of @dir, as "@dir/name", to *paths. */
static void collect(const char *dir, char ***paths, size_t *n, size_t *cap,
		    int want_dirs)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		die("opendir %s: %s", dir, strerror(errno));
	while ((errno = 0, de = readdir(d))) {
		if (dot(de->d_name))
			continue;
		if (want_dirs && !is_dir(d, de))
			continue;
		if (*n == *cap) {
			*cap = *cap ? 2 * *cap : 1024;
			*paths = realloc(*paths, *cap * sizeof(**paths));
			if (!*paths)
				die("out of memory");
		}
		if (asprintf(&(*paths)[*n], "%s/%s", dir, de->d_name) < 0)
			die("out of memory");
		(*n)++;
	}
	if (errno)
		die("readdir %s: %s", dir, strerror(errno));
	closedir(d);
}

static void do_stat(const char *dir, double secs)
{
	char **dirs = NULL, **files = NULL;
	size_t ndirs = 0, dcap = 0, nfiles = 0, fcap = 0, i;
	unsigned long count = 0;
	struct stat st;
	double start, end, t;

	collect(dir, &dirs, &ndirs, &dcap, 1);
	for (i = 0; i < ndirs; i++)
		collect(dirs[i], &files, &nfiles, &fcap, 0);
	if (!nfiles)
		die("no files under %s/*/ (run mktree first)", dir);

	i = 0;
	start = now();
	end = start + secs;
	for (;;) {
		if (stat(files[i], &st))
			die("stat %s: %s", files[i], strerror(errno));
		if (++i == nfiles)
			i = 0;
		if (!(++count & 255) && (t = now()) >= end)
			break;
	}
	result(count, t - start);
}

static void do_create_unlink(const char *dir, long n)
{
	char path[PATH_MAX];
	double start;
	long i;

	start = now();
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/c%07ld", dir, i);
		write_file(path, data, sizeof(data), 1);
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/c%07ld", dir, i);
		if (unlink(path))
			die("unlink %s: %s", path, strerror(errno));
	}
	result(2.0 * n, now() - start);
}

/* Read @dir to the end once; return the number of non-dot entries. */
static unsigned long read_dir(const char *dir, char *buf, size_t size)
{
	unsigned long entries = 0;
	struct dirent64 *de;
	long nread, off;
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %s", dir, strerror(errno));
	while ((nread = getdents64(fd, buf, size)) > 0) {
		for (off = 0; off < nread; off += de->d_reclen) {
			de = (struct dirent64 *)(buf + off);
			if (!dot(de->d_name))
				entries++;
		}
	}
	if (nread < 0)
		die("getdents64 %s: %s", dir, strerror(errno));
	close(fd);
	return entries;
}

static void do_readdir(const char *dir, double secs)
{
	static char buf[32768] __attribute__((aligned(8)));
	unsigned long count = 0;
	double start, end, t;

	if (!read_dir(dir, buf, sizeof(buf)))
		die("%s has no entries (run mkdir_entries first)", dir);

	start = now();
	end = start + secs;
	do {
		count += read_dir(dir, buf, sizeof(buf));
	} while ((t = now()) < end);
	result(count, t - start);
}

/* Work in @dir: see the top of the file */
static const char *in_dir(const char *dir)
{
	if (chdir(dir))
		die("chdir %s: %s", dir, strerror(errno));
	return ".";
}

static void usage(void)
{
	fputs("usage: fsbench mktree DIR NDIRS NFILES\n"
	      "       fsbench mkdir_entries DIR N\n"
	      "       fsbench stat DIR SECONDS\n"
	      "       fsbench create_unlink DIR N\n"
	      "       fsbench readdir DIR SECONDS\n", stderr);
	exit(1);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "mktree") && argc == 5)
		do_mktree(argv[2], number(argv[3], 1, 1000),
			  number(argv[4], 1, 100000));
	else if (!strcmp(cmd, "mkdir_entries") && argc == 4)
		do_mkdir_entries(argv[2], number(argv[3], 1, 100000));
	else if (!strcmp(cmd, "stat") && argc == 4)
		do_stat(in_dir(argv[2]), seconds(argv[3]));
	else if (!strcmp(cmd, "create_unlink") && argc == 4)
		do_create_unlink(in_dir(argv[2]),
				 number(argv[3], 1, 10000000));
	else if (!strcmp(cmd, "readdir") && argc == 4)
		do_readdir(in_dir(argv[2]), seconds(argv[3]));
	else
		usage();
	if (fflush(stdout) || ferror(stdout))
		die("write stdout: %s", strerror(errno));
	return 0;
}
