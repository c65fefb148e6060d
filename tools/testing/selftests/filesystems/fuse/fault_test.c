// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection into the backed operations of fuse-bpf.
 *
 * failslab and fail_page_alloc are aimed at fs/fuse: their stack trace
 * filter lets an allocation fail only when fs/fuse's text is on the stack
 * (what fs/fuse calls, the backing filesystem included, can fail too), and
 * never kmemleak's own bookkeeping. The backed operations of a mount with
 * no daemon then run under faults: systematically, the Nth injectable call
 * of the task failing (/proc/thread-self/fail-nth) for N = 1, 2, ... until
 * an operation gets through; at random, in a child marked with make-it-fail;
 * and the mount and umount themselves.
 *
 * Every failure must come back as an errno, no result may be wrong, and the
 * mount must work as before once injection stops. Kernel reports (KASAN,
 * lockdep, kmemleak, warnings) are the harness's: it scans the console. The
 * knobs are restored by the parent of the test process, even when the test
 * fails or dies.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "../../kselftest_harness.h"
#include "test_util.h"

#define DEBUGFS			"/sys/kernel/debug"
#define DEBUGFS_MAGIC		0x64626720
#define FUSE_SUPER_MAGIC	0x65735546
#define FAIL_NTH		"/proc/thread-self/fail-nth"
#define MAKE_IT_FAIL		"/proc/self/make-it-fail"
#define KPTR_RESTRICT		"/proc/sys/kernel/kptr_restrict"
#define FUSE_BPF_OPTS		"fuse_bpf,no_daemon,root_dir=%d," FUSE_BASE_OPTS

/* Size of the test's regular files */
#define FILE_SIZE		8192
/* fail-nth sweeps stop there, the operation done or not */
#define MAX_NTH			200
/* "times" for the random faults: no limit in practice, and it counts them */
#define TIMES_BIG		1000000
/* errnos counted one by one; the others are wrong */
#define NR_ERRNO		134
/* Time for each test's own loops, well within its harness timeout */
#define SWEEP_BUDGET_MS		80000
#define PROB_BUDGET_MS		12000
#define MOUNT_BUDGET_MS		30000
#define PROB_LOOPS		4

#define NEED_CONFIG	"the kernel needs CONFIG_FAULT_INJECTION_DEBUG_FS, CONFIG_FAILSLAB and CONFIG_FAIL_PAGE_ALLOC"
#define NO_FILTER	"no stack trace filter (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER): faults hit any allocation of the faulting task, not only fs/fuse's"
#define NO_FAULT	"no fault was injected: failslab and fail_page_alloc do not reach fs/fuse"

/* The two fault attributes, and the knobs of each that the test may set */
enum { A_SLAB, A_PAGE, NR_ATTRS };

static const char * const fault_attrs[NR_ATTRS] = {
	[A_SLAB] = "failslab",
	[A_PAGE] = "fail_page_alloc",
};

enum {
	K_PROBABILITY, K_INTERVAL, K_TIMES, K_SPACE, K_VERBOSE, K_TASK_FILTER,
	K_IGNORE_GFP_WAIT, K_IGNORE_GFP_HIGHMEM, K_MIN_ORDER, K_CACHE_FILTER,
	/* The stack trace filter, from K_STACKTRACE_DEPTH on */
	K_STACKTRACE_DEPTH, K_REQUIRE_START, K_REQUIRE_END, K_REJECT_START,
	K_REJECT_END, NR_KNOBS
};

static const char * const knob_names[NR_KNOBS] = {
	[K_PROBABILITY] = "probability",
	[K_INTERVAL] = "interval",
	[K_TIMES] = "times",
	[K_SPACE] = "space",
	[K_VERBOSE] = "verbose",
	[K_TASK_FILTER] = "task-filter",
	[K_IGNORE_GFP_WAIT] = "ignore-gfp-wait",
	[K_IGNORE_GFP_HIGHMEM] = "ignore-gfp-highmem",
	[K_MIN_ORDER] = "min-order",
	[K_CACHE_FILTER] = "cache-filter",
	[K_STACKTRACE_DEPTH] = "stacktrace-depth",
	[K_REQUIRE_START] = "require-start",
	[K_REQUIRE_END] = "require-end",
	[K_REJECT_START] = "reject-start",
	[K_REJECT_END] = "reject-end",
};

struct fault_knob {
	bool present;
	char saved[40];
};

/*
 * A fuse-bpf mount with no daemon, backed by a directory of the scratch
 * disk. Shared with the parent, whose teardown restores the knobs.
 */
FIXTURE(fault) {
	char backing[128];
	char dir[64];
	char dir2[64];
	int backing_fd;
	/* The stack trace filter exists and is used */
	bool filtered;
	unsigned long fuse_start, fuse_end;
	unsigned long reject_start, reject_end;
	struct fault_knob knobs[NR_ATTRS][NR_KNOBS];
};

/* Where the workload runs: the mount and its backing directory */
struct wl {
	const char *mnt;
	const char *back;
};

static char pattern[FILE_SIZE];

/* Write @val to the file @path; 0 or -errno */
static int write_str(const char *path, const char *val)
{
	ssize_t len = strlen(val), n;
	int fd, err;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	err = n == len ? 0 : n < 0 ? -errno : -EIO;
	close(fd);
	return err;
}

/* Read the file @path into @buf, less its last newline; 0 or -errno */
static int read_str(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

/* Read up to @size bytes of the file @path; their number or -1 */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
	ssize_t n, len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((size_t)len < size) {
		n = read(fd, buf + len, size - len);
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	return n < 0 ? -1 : len;
}

/* Create the file @path with @len bytes of @data; 0 or -1 */
static int put_file(const char *path, const void *data, size_t len,
		    mode_t mode)
{
	ssize_t n;
	int fd;

	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	n = write(fd, data, len);
	if (close(fd) || n != (ssize_t)len)
		return -1;
	return 0;
}

static void knob_path(char *buf, size_t size, int a, int k)
{
	snprintf(buf, size, DEBUGFS "/%s/%s", fault_attrs[a], knob_names[k]);
}

/* Set knob @k of attribute @a if it exists; 0 or -1 (and say why) */
static int set_knob(struct _test_data_fault *self, int a, int k,
		    const char *val)
{
	char path[128];
	int err;

	if (!self->knobs[a][k].present)
		return 0;
	knob_path(path, sizeof(path), a, k);
	err = write_str(path, val);
	if (err)
		fprintf(stderr, "# write %s to %s: %s\n", val, path,
			strerror(-err));
	return err ? -1 : 0;
}

static int set_knob_ul(struct _test_data_fault *self, int a, int k,
		       unsigned long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", val);
	return set_knob(self, a, k, buf);
}

/* The value of knob @k of attribute @a; ULLONG_MAX if unreadable */
static unsigned long long get_knob(int a, int k)
{
	char path[128], buf[40];

	knob_path(path, sizeof(path), a, k);
	if (read_str(path, buf, sizeof(buf)))
		return ULLONG_MAX;
	return strtoull(buf, NULL, 0);
}

static void save_knobs(struct _test_data_fault *self)
{
	char path[128];
	int a, k;

	for (a = 0; a < NR_ATTRS; a++) {
		for (k = 0; k < NR_KNOBS; k++) {
			struct fault_knob *kn = &self->knobs[a][k];

			knob_path(path, sizeof(path), a, k);
			kn->present = !read_str(path, kn->saved,
						sizeof(kn->saved));
		}
	}
}

/*
 * Back to no injection: probability 0 first, the stack trace filter
 * cleared, the other knobs as they were.
 */
static int restore_knobs(struct _test_data_fault *self)
{
	const char *val;
	int a, k, err = 0;

	for (a = 0; a < NR_ATTRS; a++)
		err |= set_knob(self, a, K_PROBABILITY, "0");
	for (a = 0; a < NR_ATTRS; a++) {
		for (k = 0; k < NR_KNOBS; k++) {
			if (k == K_PROBABILITY || k == K_STACKTRACE_DEPTH)
				continue;
			if (k == K_REQUIRE_END)
				val = "0xffffffffffffffff";
			else if (k > K_STACKTRACE_DEPTH)
				val = "0";
			else
				val = self->knobs[a][k].saved;
			err |= set_knob(self, a, k, val);
		}
	}
	write_str(MAKE_IT_FAIL, "0");
	return err;
}

/*
 * Aim both attributes at fs/fuse, all allocations alike (GFP_KERNEL ones,
 * highmem, order 0), silently, and with probability 0: a fail-nth setting
 * or a probability set afterwards injects.
 */
static int aim_faults(struct _test_data_fault *self, bool task_filter,
		      long times)
{
	char buf[32];
	int a, err = 0;

	snprintf(buf, sizeof(buf), "%ld", times);
	for (a = 0; a < NR_ATTRS; a++) {
		err |= set_knob(self, a, K_PROBABILITY, "0");
		err |= set_knob(self, a, K_VERBOSE, "0");
		err |= set_knob(self, a, K_INTERVAL, "1");
		err |= set_knob(self, a, K_SPACE, "0");
		err |= set_knob(self, a, K_TIMES, buf);
		err |= set_knob(self, a, K_TASK_FILTER,
				task_filter ? "Y" : "N");
		err |= set_knob(self, a, K_IGNORE_GFP_WAIT, "N");
		err |= set_knob(self, a, K_IGNORE_GFP_HIGHMEM, "N");
		err |= set_knob(self, a, K_MIN_ORDER, "0");
		err |= set_knob(self, a, K_CACHE_FILTER, "N");
		if (!self->filtered)
			continue;
		err |= set_knob(self, a, K_STACKTRACE_DEPTH, "32");
		/* Widen first, so that start <= end at every step */
		err |= set_knob(self, a, K_REQUIRE_START, "0");
		err |= set_knob_ul(self, a, K_REQUIRE_END, self->fuse_end);
		err |= set_knob_ul(self, a, K_REQUIRE_START, self->fuse_start);
		err |= set_knob(self, a, K_REJECT_START, "0");
		err |= set_knob_ul(self, a, K_REJECT_END, self->reject_end);
		err |= set_knob_ul(self, a, K_REJECT_START,
				   self->reject_start);
	}
	return err ? -1 : 0;
}

/* Check what aim_faults() set took: the filter range, the probability */
static void expect_aimed(struct __test_metadata *_metadata,
			 struct _test_data_fault *self)
{
	int a;

	for (a = 0; a < NR_ATTRS; a++) {
		EXPECT_EQ(0, get_knob(a, K_PROBABILITY));
		if (!self->filtered)
			continue;
		EXPECT_EQ(self->fuse_start, get_knob(a, K_REQUIRE_START));
		EXPECT_EQ(self->fuse_end, get_knob(a, K_REQUIRE_END));
		EXPECT_EQ(self->reject_start, get_knob(a, K_REJECT_START));
		EXPECT_EQ(self->reject_end, get_knob(a, K_REJECT_END));
	}
}

/* Text symbols of /proc/kallsyms, sorted by address */
struct ksym {
	unsigned long addr;
	unsigned int flags;
};

#define KS_FUSE		1	/* named fuse_* */
#define KS_FUSE_ANY	2	/* fuse in its name */
#define KS_LEAK		4	/* kmemleak in its name */
#define KS_LEAK_ALLOC	8	/* where kmemleak allocates its objects */

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Their number, 0 if the addresses are hidden, -1 on error */
static int read_ksyms(struct ksym **syms)
{
	char line[512], name[256], type;
	unsigned long addr, seen = 0;
	struct ksym *s = NULL, *t;
	int n = 0, cap = 0;
	FILE *f;

	*syms = NULL;
	f = fopen("/proc/kallsyms", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %c %255s", &addr, &type, name) != 3 ||
		    (type != 't' && type != 'T'))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 65536;
			t = realloc(s, cap * sizeof(*s));
			if (!t) {
				free(s);
				fclose(f);
				return -1;
			}
			s = t;
		}
		s[n].addr = addr;
		s[n].flags = 0;
		if (!strncmp(name, "fuse_", 5))
			s[n].flags |= KS_FUSE;
		if (strstr(name, "fuse"))
			s[n].flags |= KS_FUSE_ANY;
		if (strstr(name, "kmemleak"))
			s[n].flags |= KS_LEAK;
		if (!strcmp(name, "__alloc_object") ||
		    !strcmp(name, "mem_pool_alloc") ||
		    !strcmp(name, "__create_object"))
			s[n].flags |= KS_LEAK_ALLOC;
		seen |= addr;
		n++;
	}
	fclose(f);
	if (!seen) {
		free(s);
		return 0;
	}
	qsort(s, n, sizeof(*s), ksym_cmp);
	*syms = s;
	return n;
}

/*
 * The address range of the largest run of symbols flagged @core (at most
 * 64 other text symbols between two of them: an object file's worth, not
 * the init or exit text) that holds one flagged @must, widened to the
 * adjacent symbols flagged @edge and up to the symbol after the last.
 * Returns the number of @core symbols in it, 0 if there is none.
 */
static int sym_range(const struct ksym *s, int n, unsigned int core,
		     unsigned int must, unsigned int edge,
		     unsigned long *start, unsigned long *end)
{
	int i, first = -1, last = -1, count = 0;
	int best = 0, best_first = 0, best_last = 0;
	bool has_must = false;

	for (i = 0; i < n; i++) {
		if (!(s[i].flags & core))
			continue;
		if (first < 0 || i - last > 64) {
			first = i;
			count = 0;
			has_must = false;
		}
		last = i;
		count++;
		has_must |= !!(s[i].flags & must);
		if (has_must && count > best) {
			best = count;
			best_first = first;
			best_last = last;
		}
	}
	if (!best)
		return 0;
	while (best_first > 0 && (s[best_first - 1].flags & edge))
		best_first--;
	while (best_last + 1 < n && (s[best_last + 1].flags & edge))
		best_last++;
	*start = s[best_first].addr;
	for (i = best_last + 1; i < n && s[i].addr == s[best_last].addr; i++)
		;
	*end = i < n ? s[i].addr : s[best_last].addr + 4096;
	return best;
}

/* fs/fuse's text, where faults are aimed, and kmemleak's, spared */
static void find_ranges(struct __test_metadata *_metadata,
			struct _test_data_fault *self)
{
	char saved[16];
	struct ksym *syms;
	int n, nfuse, nleak;

	n = read_ksyms(&syms);
	if (n == 0) {
		/* kptr_restrict 2 hides them even from root */
		ASSERT_EQ(0, read_str(KPTR_RESTRICT, saved, sizeof(saved)));
		ASSERT_EQ(0, write_str(KPTR_RESTRICT, "0"));
		n = read_ksyms(&syms);
		EXPECT_EQ(0, write_str(KPTR_RESTRICT, saved));
	}
	ASSERT_LT(0, n) TH_LOG("no text symbol addresses in /proc/kallsyms");
	nfuse = sym_range(syms, n, KS_FUSE, KS_FUSE, KS_FUSE_ANY,
			  &self->fuse_start, &self->fuse_end);
	/*
	 * kmemleak's static functions around its object allocation: its
	 * exported hooks live elsewhere and may tail-call into them.
	 */
	nleak = sym_range(syms, n, KS_LEAK | KS_LEAK_ALLOC, KS_LEAK_ALLOC,
			  KS_LEAK | KS_LEAK_ALLOC, &self->reject_start,
			  &self->reject_end);
	free(syms);
	ASSERT_LE(50, nfuse)
		TH_LOG("fs/fuse not found in /proc/kallsyms: %d fuse_ symbols",
		       nfuse);
	ASSERT_LT(self->fuse_start, self->fuse_end);
	ASSERT_GT(64UL << 20, self->fuse_end - self->fuse_start);
	TH_LOG("faults aimed at fs/fuse text %#lx-%#lx (%d fuse_ symbols)",
	       self->fuse_start, self->fuse_end, nfuse);
	if (nleak < 5) {
		self->reject_start = 0;
		self->reject_end = 0;
		return;
	}
	TH_LOG("kmemleak's own allocations spared: %#lx-%#lx",
	       self->reject_start, self->reject_end);
}

FIXTURE_SETUP(fault)
{
	static const int required[] = {
		K_PROBABILITY, K_INTERVAL, K_TIMES, K_SPACE, K_VERBOSE,
		K_TASK_FILTER, K_IGNORE_GFP_WAIT,
	};
	struct statfs sfs;
	char opts[256];
	int a, i;

	for (i = 0; i < FILE_SIZE; i++)
		pattern[i] = 'a' + (i + i / 26) % 26;
	umask(022);
	self->backing_fd = -1;

	/* Before unshare(): the parent, which restores the knobs, sees it */
	if (statfs(DEBUGFS, &sfs) || sfs.f_type != DEBUGFS_MAGIC)
		mount("debugfs", DEBUGFS, "debugfs", 0, NULL);
	save_knobs(self);
	for (a = 0; a < NR_ATTRS; a++) {
		for (i = 0; i < (int)ARRAY_SIZE(required); i++)
			ASSERT_TRUE(self->knobs[a][required[i]].present)
				TH_LOG("no %s/%s/%s: %s", DEBUGFS,
				       fault_attrs[a], knob_names[required[i]],
				       NEED_CONFIG);
	}
	ASSERT_TRUE(self->knobs[A_PAGE][K_MIN_ORDER].present);
	ASSERT_EQ(0, access(FAIL_NTH, W_OK))
		TH_LOG("%s: %s", FAIL_NTH, strerror(errno));
	ASSERT_EQ(0, access(MAKE_IT_FAIL, W_OK))
		TH_LOG("%s: %s", MAKE_IT_FAIL, strerror(errno));
	self->filtered = true;
	for (a = 0; a < NR_ATTRS; a++) {
		for (i = K_STACKTRACE_DEPTH; i < NR_KNOBS; i++)
			self->filtered &= self->knobs[a][i].present;
	}
	if (self->filtered)
		find_ranges(_metadata, self);
	else
		TH_LOG("%s", NO_FILTER);

	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	/* Not O_PATH: FSCONFIG_SET_FD takes none */
	self->backing_fd = open(self->backing,
				O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, self->backing_fd);
	snprintf(self->dir, sizeof(self->dir), "/tmp/fault_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(opts, sizeof(opts), FUSE_BPF_OPTS, self->backing_fd);
	ASSERT_EQ(0, mount_fuse(self->dir, opts))
		TH_LOG("mount %s: %s", opts, strerror(errno));
}

/*
 * In the parent, even if the test died. The mounts went with the test's
 * mount namespace; each test unmounts them itself and checks that.
 */
FIXTURE_TEARDOWN_PARENT(fault)
{
	EXPECT_EQ(0, restore_knobs(self));
	if (self->dir2[0])
		rmdir(self->dir2);
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

/* Results of an operation */
enum {
	RUN_ERR = -1,	/* failed, with errno */
	RUN_OK,		/* done */
	RUN_PARTIAL,	/* short read, write or copy */
	RUN_WRONG,	/* done, but what it returned is wrong */
	RUN_BADFX,	/* done, but the backing directory says otherwise */
	RUN_SIGBUS,	/* a mapping of the file could not be read */
	RUN_SETUP,	/* the test's own preparation failed */
};

static const char *res_name(int res)
{
	static const char * const names[] = {
		"ok", "partial", "wrong result", "wrong effect", "SIGBUS",
		"test set-up failed",
	};

	if (res == RUN_ERR)
		return "error";
	return res >= 0 && res <= RUN_SETUP ? names[res] : "?";
}

/* Close @fd; its failure becomes the result if there was none */
static int close_res(int fd, int res)
{
	int err = errno;

	if (close(fd) && res == RUN_OK)
		return RUN_ERR;
	errno = err;
	return res;
}

/*
 * The operations, run through the mount on a fresh directory "w" that
 * holds: f (FILE_SIZE bytes of pattern, xattr user.fault), g ("gggg"),
 * d (empty directory), s (symlink to "link-target").
 */
struct fault_op {
	const char *name;
	/* Under injection */
	int (*run)(const struct wl *w);
	/* After it succeeded, without injection: its effect on the backing */
	bool (*check)(const struct wl *w);
	/* "w" also holds e00 to e15 */
	bool many;
};

#define XATTR_VALUE	"xattr-value"
#define LINK_TARGET	"link-target"
#define NR_BASE		4	/* f, g, d, s */
#define NR_MANY		16

static const char *mp(char *buf, const struct wl *w, const char *rel)
{
	return at(buf, w->mnt, rel);
}

static bool back_is(const struct wl *w, const char *rel, const void *data,
		    size_t len)
{
	char p[PATH_MAX], buf[FILE_SIZE + 1];
	ssize_t n;

	n = read_file(at(p, w->back, rel), buf, sizeof(buf));
	return n == (ssize_t)len && !memcmp(buf, data, len);
}

static bool back_gone(const struct wl *w, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	return lstat(at(p, w->back, rel), &st) && errno == ENOENT;
}

static bool back_stat(const struct wl *w, const char *rel, struct stat *st)
{
	char p[PATH_MAX];

	return !lstat(at(p, w->back, rel), st);
}

static int prep(const struct wl *w, bool many)
{
	char p[PATH_MAX], name[16];
	int i;

	if (mkdir(at(p, w->back, "w"), 0755) ||
	    put_file(at(p, w->back, "w/f"), pattern, FILE_SIZE, 0644) ||
	    put_file(at(p, w->back, "w/g"), "gggg", 4, 0644) ||
	    mkdir(at(p, w->back, "w/d"), 0755) ||
	    symlink(LINK_TARGET, at(p, w->back, "w/s")) ||
	    setxattr(at(p, w->back, "w/f"), "user.fault", XATTR_VALUE,
		     strlen(XATTR_VALUE), 0))
		return -1;
	for (i = 0; many && i < NR_MANY; i++) {
		snprintf(name, sizeof(name), "w/e%02d", i);
		if (put_file(at(p, w->back, name), "e", 1, 0644))
			return -1;
	}
	return 0;
}

static void cleanup(const struct wl *w)
{
	char p[PATH_MAX];

	remove_tree(at(p, w->back, "w"));
}

static int run_stat(const struct wl *w)
{
	char p[PATH_MAX];
	struct stat st;

	if (stat(mp(p, w, "w/f"), &st))
		return RUN_ERR;
	return S_ISREG(st.st_mode) && st.st_size == FILE_SIZE ?
		RUN_OK : RUN_WRONG;
}

static int run_access(const struct wl *w)
{
	char p[PATH_MAX];

	return access(mp(p, w, "w/f"), R_OK | W_OK) ? RUN_ERR : RUN_OK;
}

static int run_statfs(const struct wl *w)
{
	struct statfs sfs;

	if (statfs(w->mnt, &sfs))
		return RUN_ERR;
	return sfs.f_type == FUSE_SUPER_MAGIC ? RUN_OK : RUN_WRONG;
}

static int run_create_write(const struct wl *w)
{
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	fd = open(mp(p, w, "w/new"), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
		  0640);
	if (fd < 0)
		return RUN_ERR;
	n = write(fd, pattern, FILE_SIZE);
	return close_res(fd, n < 0 ? RUN_ERR :
			 n < FILE_SIZE ? RUN_PARTIAL : RUN_OK);
}

static bool check_create_write(const struct wl *w)
{
	struct stat st;

	return back_is(w, "w/new", pattern, FILE_SIZE) &&
	       back_stat(w, "w/new", &st) && st.st_mode == (S_IFREG | 0640);
}

static int run_read(const struct wl *w)
{
	char p[PATH_MAX], buf[FILE_SIZE];
	ssize_t n;
	int fd;

	fd = open(mp(p, w, "w/f"), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return RUN_ERR;
	n = read(fd, buf, sizeof(buf));
	if (n < 0)
		return close_res(fd, RUN_ERR);
	/* Even a short read reads the right bytes */
	if (memcmp(buf, pattern, n))
		return close_res(fd, RUN_WRONG);
	return close_res(fd, n < FILE_SIZE ? RUN_PARTIAL : RUN_OK);
}

static int run_tmpfile(const struct wl *w)
{
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	fd = open(mp(p, w, "w"), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return RUN_ERR;
	n = write(fd, "tmpdata", 7);
	if (n != 7)
		return close_res(fd, n < 0 ? RUN_ERR : RUN_PARTIAL);
	if (linkat(fd, "", AT_FDCWD, mp(p, w, "w/named"), AT_EMPTY_PATH))
		return close_res(fd, RUN_ERR);
	return close_res(fd, RUN_OK);
}

static bool check_tmpfile(const struct wl *w)
{
	return back_is(w, "w/named", "tmpdata", 7);
}

static int run_mkdir(const struct wl *w)
{
	char p[PATH_MAX];

	return mkdir(mp(p, w, "w/nd"), 0700) ? RUN_ERR : RUN_OK;
}

static bool check_mkdir(const struct wl *w)
{
	struct stat st;

	return back_stat(w, "w/nd", &st) && st.st_mode == (S_IFDIR | 0700);
}

static int run_rmdir(const struct wl *w)
{
	char p[PATH_MAX];

	return rmdir(mp(p, w, "w/d")) ? RUN_ERR : RUN_OK;
}

static bool check_rmdir(const struct wl *w)
{
	return back_gone(w, "w/d");
}

static int run_mkfifo(const struct wl *w)
{
	char p[PATH_MAX];

	return mkfifo(mp(p, w, "w/fifo"), 0600) ? RUN_ERR : RUN_OK;
}

static bool check_mkfifo(const struct wl *w)
{
	struct stat st;

	return back_stat(w, "w/fifo", &st) && st.st_mode == (S_IFIFO | 0600);
}

static int run_symlink(const struct wl *w)
{
	char p[PATH_MAX];

	return symlink("sym-target", mp(p, w, "w/ns")) ? RUN_ERR : RUN_OK;
}

static bool check_symlink(const struct wl *w)
{
	char p[PATH_MAX], buf[64];
	ssize_t n;

	n = readlink(at(p, w->back, "w/ns"), buf, sizeof(buf));
	return n == 10 && !memcmp(buf, "sym-target", 10);
}

static int run_readlink(const struct wl *w)
{
	char p[PATH_MAX], buf[64];
	ssize_t n;

	n = readlink(mp(p, w, "w/s"), buf, sizeof(buf));
	if (n < 0)
		return RUN_ERR;
	return n == strlen(LINK_TARGET) && !memcmp(buf, LINK_TARGET, n) ?
		RUN_OK : RUN_WRONG;
}

static int run_link(const struct wl *w)
{
	char p[PATH_MAX], q[PATH_MAX];

	return link(mp(p, w, "w/f"), mp(q, w, "w/hl")) ? RUN_ERR : RUN_OK;
}

static bool check_link(const struct wl *w)
{
	struct stat st, st2;

	return back_stat(w, "w/f", &st) && back_stat(w, "w/hl", &st2) &&
	       st.st_ino == st2.st_ino && st.st_nlink == 2;
}

static int run_unlink(const struct wl *w)
{
	char p[PATH_MAX];

	return unlink(mp(p, w, "w/g")) ? RUN_ERR : RUN_OK;
}

static bool check_unlink(const struct wl *w)
{
	return back_gone(w, "w/g");
}

static int run_rename(const struct wl *w)
{
	char p[PATH_MAX], q[PATH_MAX];

	return rename(mp(p, w, "w/g"), mp(q, w, "w/d/moved")) ?
		RUN_ERR : RUN_OK;
}

static bool check_rename(const struct wl *w)
{
	return back_gone(w, "w/g") && back_is(w, "w/d/moved", "gggg", 4);
}

static int run_rename_exchange(const struct wl *w)
{
	char p[PATH_MAX], q[PATH_MAX];

	return renameat2(AT_FDCWD, mp(p, w, "w/f"), AT_FDCWD,
			 mp(q, w, "w/g"), RENAME_EXCHANGE) ? RUN_ERR : RUN_OK;
}

static bool check_rename_exchange(const struct wl *w)
{
	return back_is(w, "w/f", "gggg", 4) &&
	       back_is(w, "w/g", pattern, FILE_SIZE);
}

static int run_rename_noreplace(const struct wl *w)
{
	char p[PATH_MAX], q[PATH_MAX];

	return renameat2(AT_FDCWD, mp(p, w, "w/g"), AT_FDCWD,
			 mp(q, w, "w/h"), RENAME_NOREPLACE) ? RUN_ERR : RUN_OK;
}

static bool check_rename_noreplace(const struct wl *w)
{
	return back_gone(w, "w/g") && back_is(w, "w/h", "gggg", 4);
}

static int run_readdir(const struct wl *w)
{
	char p[PATH_MAX];
	int n = 0, err;
	DIR *dir;

	dir = opendir(mp(p, w, "w"));
	if (!dir)
		return RUN_ERR;
	errno = 0;
	while (readdir(dir))
		n++;
	err = errno;
	if (closedir(dir) && !err)
		return RUN_ERR;
	if (err) {
		errno = err;
		return RUN_ERR;
	}
	/* And "." and ".." */
	return n == NR_BASE + NR_MANY + 2 ? RUN_OK : RUN_WRONG;
}

static int run_truncate(const struct wl *w)
{
	char p[PATH_MAX];

	return truncate(mp(p, w, "w/f"), 100) ? RUN_ERR : RUN_OK;
}

static bool check_truncate(const struct wl *w)
{
	return back_is(w, "w/f", pattern, 100);
}

static int run_ftruncate(const struct wl *w)
{
	char p[PATH_MAX];
	int fd;

	fd = open(mp(p, w, "w/f"), O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return RUN_ERR;
	return close_res(fd, ftruncate(fd, 2 * FILE_SIZE) ? RUN_ERR : RUN_OK);
}

static bool check_ftruncate(const struct wl *w)
{
	struct stat st;

	return back_stat(w, "w/f", &st) && st.st_size == 2 * FILE_SIZE;
}

static int run_chmod(const struct wl *w)
{
	char p[PATH_MAX];

	return chmod(mp(p, w, "w/f"), 0600) ? RUN_ERR : RUN_OK;
}

static bool check_chmod(const struct wl *w)
{
	struct stat st;

	return back_stat(w, "w/f", &st) && st.st_mode == (S_IFREG | 0600);
}

static int run_chown(const struct wl *w)
{
	char p[PATH_MAX];

	return chown(mp(p, w, "w/f"), 1000, 1001) ? RUN_ERR : RUN_OK;
}

static bool check_chown(const struct wl *w)
{
	struct stat st;

	return back_stat(w, "w/f", &st) && st.st_uid == 1000 &&
	       st.st_gid == 1001;
}

static int run_utimensat(const struct wl *w)
{
	struct timespec times[2] = {
		{ .tv_nsec = UTIME_OMIT },
		{ .tv_sec = 1, .tv_nsec = 2 },
	};
	char p[PATH_MAX];

	return utimensat(AT_FDCWD, mp(p, w, "w/f"), times, 0) ?
		RUN_ERR : RUN_OK;
}

static bool check_utimensat(const struct wl *w)
{
	struct stat st;

	return back_stat(w, "w/f", &st) && st.st_mtim.tv_sec == 1 &&
	       st.st_mtim.tv_nsec == 2;
}

static int run_setxattr(const struct wl *w)
{
	char p[PATH_MAX];

	return setxattr(mp(p, w, "w/g"), "user.new", "nv", 2, 0) ?
		RUN_ERR : RUN_OK;
}

static bool check_setxattr(const struct wl *w)
{
	char p[PATH_MAX], buf[16];

	return getxattr(at(p, w->back, "w/g"), "user.new", buf,
			sizeof(buf)) == 2 && !memcmp(buf, "nv", 2);
}

static int run_getxattr(const struct wl *w)
{
	char p[PATH_MAX], buf[64];
	ssize_t n;

	n = getxattr(mp(p, w, "w/f"), "user.fault", buf, sizeof(buf));
	if (n < 0)
		return RUN_ERR;
	return n == strlen(XATTR_VALUE) && !memcmp(buf, XATTR_VALUE, n) ?
		RUN_OK : RUN_WRONG;
}

static int run_listxattr(const struct wl *w)
{
	char p[PATH_MAX], buf[1024], *s;
	ssize_t n;

	n = listxattr(mp(p, w, "w/f"), buf, sizeof(buf));
	if (n < 0)
		return RUN_ERR;
	for (s = buf; s < buf + n; s += strnlen(s, buf + n - s) + 1) {
		if (!strcmp(s, "user.fault"))
			return RUN_OK;
	}
	return RUN_WRONG;
}

static int run_removexattr(const struct wl *w)
{
	char p[PATH_MAX];

	return removexattr(mp(p, w, "w/f"), "user.fault") ? RUN_ERR : RUN_OK;
}

static bool check_removexattr(const struct wl *w)
{
	char p[PATH_MAX], buf[64];

	return getxattr(at(p, w->back, "w/f"), "user.fault", buf,
			sizeof(buf)) < 0 && errno == ENODATA;
}

static int run_fallocate(const struct wl *w)
{
	char p[PATH_MAX];
	int fd;

	fd = open(mp(p, w, "w/g"), O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return RUN_ERR;
	if (fallocate(fd, 0, 0, 1 << 20) ||
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096))
		return close_res(fd, RUN_ERR);
	return close_res(fd, RUN_OK);
}

static bool check_fallocate(const struct wl *w)
{
	struct stat st;

	return back_stat(w, "w/g", &st) && st.st_size == 1 << 20;
}

static int run_copy_file_range(const struct wl *w)
{
	char p[PATH_MAX];
	int in, out, res;
	ssize_t n;

	in = open(mp(p, w, "w/f"), O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return RUN_ERR;
	out = open(mp(p, w, "w/copy"), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
		   0644);
	if (out < 0)
		return close_res(in, RUN_ERR);
	n = copy_file_range(in, NULL, out, NULL, FILE_SIZE, 0);
	res = n < 0 ? RUN_ERR : n < FILE_SIZE ? RUN_PARTIAL : RUN_OK;
	res = close_res(out, res);
	return close_res(in, res);
}

static bool check_copy_file_range(const struct wl *w)
{
	return back_is(w, "w/copy", pattern, FILE_SIZE);
}

/* A SIGBUS while run_mmap() reads or writes the mapping jumps back there */
static sigjmp_buf map_jmp;
static char *map_addr;

static void on_sigbus(int sig)
{
	siglongjmp(map_jmp, 1);
}

/* Catch SIGBUS with on_sigbus(), or not; 0 or -1 */
static int catch_sigbus(bool on)
{
	struct sigaction sa = { .sa_handler = on ? on_sigbus : SIG_DFL };

	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL);
}

static int run_mmap(const struct wl *w)
{
	char p[PATH_MAX];
	int fd, res;

	fd = open(mp(p, w, "w/f"), O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return RUN_ERR;
	map_addr = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			fd, 0);
	if (map_addr == MAP_FAILED)
		return close_res(fd, RUN_ERR);
	if (sigsetjmp(map_jmp, 1)) {
		catch_sigbus(false);
		munmap(map_addr, FILE_SIZE);
		return close_res(fd, RUN_SIGBUS);
	}
	if (catch_sigbus(true)) {
		munmap(map_addr, FILE_SIZE);
		return close_res(fd, RUN_SETUP);
	}
	res = memcmp(map_addr, pattern, FILE_SIZE) ? RUN_WRONG : RUN_OK;
	memcpy(map_addr, "MMAP", 4);
	catch_sigbus(false);
	if (msync(map_addr, FILE_SIZE, MS_SYNC) && res == RUN_OK)
		res = RUN_ERR;
	if (munmap(map_addr, FILE_SIZE) && res == RUN_OK)
		res = RUN_ERR;
	return close_res(fd, res);
}

static bool check_mmap(const struct wl *w)
{
	char want[FILE_SIZE];

	memcpy(want, pattern, FILE_SIZE);
	memcpy(want, "MMAP", 4);
	return back_is(w, "w/f", want, FILE_SIZE);
}

static int run_fsync(const struct wl *w)
{
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	fd = open(mp(p, w, "w/g"), O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return RUN_ERR;
	n = write(fd, "sync", 4);
	if (n != 4)
		return close_res(fd, n < 0 ? RUN_ERR : RUN_PARTIAL);
	if (fsync(fd) || fdatasync(fd))
		return close_res(fd, RUN_ERR);
	return close_res(fd, RUN_OK);
}

static bool check_fsync(const struct wl *w)
{
	return back_is(w, "w/g", "ggggsync", 8);
}

static const struct fault_op ops[] = {
	{ "stat", run_stat },
	{ "access", run_access },
	{ "statfs", run_statfs },
	{ "create_write", run_create_write, check_create_write },
	{ "open_read", run_read },
	{ "tmpfile_linkat", run_tmpfile, check_tmpfile },
	{ "mkdir", run_mkdir, check_mkdir },
	{ "rmdir", run_rmdir, check_rmdir },
	{ "mkfifo", run_mkfifo, check_mkfifo },
	{ "symlink", run_symlink, check_symlink },
	{ "readlink", run_readlink },
	{ "link", run_link, check_link },
	{ "unlink", run_unlink, check_unlink },
	{ "rename", run_rename, check_rename },
	{ "rename_exchange", run_rename_exchange, check_rename_exchange },
	{ "rename_noreplace", run_rename_noreplace, check_rename_noreplace },
	{ "readdir", run_readdir, NULL, true },
	{ "truncate", run_truncate, check_truncate },
	{ "ftruncate", run_ftruncate, check_ftruncate },
	{ "chmod", run_chmod, check_chmod },
	{ "chown", run_chown, check_chown },
	{ "utimensat", run_utimensat, check_utimensat },
	{ "setxattr", run_setxattr, check_setxattr },
	{ "getxattr", run_getxattr },
	{ "listxattr", run_listxattr },
	{ "removexattr", run_removexattr, check_removexattr },
	{ "fallocate", run_fallocate, check_fallocate },
	{ "copy_file_range", run_copy_file_range, check_copy_file_range },
	{ "mmap", run_mmap, check_mmap },
	{ "fsync", run_fsync, check_fsync },
};

/* How faults are injected into an operation */
struct injector {
	/* /proc/thread-self/fail-nth, and the call to fail; or -1 */
	int nth_fd;
	unsigned int nth;
	/* /proc/self/make-it-fail; or -1 */
	int mif_fd;
};

static const struct injector no_faults = { .nth_fd = -1, .mif_fd = -1 };

static int arm(const struct injector *inj)
{
	char buf[16];
	int len;

	if (inj->nth_fd >= 0 && inj->nth) {
		len = snprintf(buf, sizeof(buf), "%u", inj->nth);
		if (pwrite(inj->nth_fd, buf, len, 0) != len)
			return -1;
	}
	if (inj->mif_fd >= 0 && pwrite(inj->mif_fd, "1", 1, 0) != 1)
		return -1;
	return 0;
}

/* Stop injecting; @hit: was a fault injected by fail-nth? 0 or -1 */
static int disarm(const struct injector *inj, bool *hit)
{
	char buf[16];
	ssize_t n;

	*hit = false;
	if (inj->mif_fd >= 0 && pwrite(inj->mif_fd, "0", 1, 0) != 1)
		return -1;
	if (inj->nth_fd < 0 || !inj->nth)
		return 0;
	n = pread(inj->nth_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0 || pwrite(inj->nth_fd, "0", 1, 0) != 1)
		return -1;
	buf[n] = 0;
	/* What is left of the count: 0 once the Nth call failed */
	*hit = !strtoul(buf, NULL, 10);
	return 0;
}

/*
 * One run of @op under @inj, in a fresh "w": prepared, run, its effect
 * checked if it succeeded, cleaned up. Returns its result, with its errno
 * in @err and in @hit whether fail-nth injected a fault.
 */
static int op_cycle(const struct fault_op *op, const struct wl *w,
		    const struct injector *inj, int *err, bool *hit)
{
	int res;

	*hit = false;
	if (prep(w, op->many) || arm(inj)) {
		*err = errno;
		cleanup(w);
		return RUN_SETUP;
	}
	errno = 0;
	res = op->run(w);
	*err = errno;
	if (disarm(inj, hit)) {
		*err = errno;
		res = RUN_SETUP;
	} else if (res == RUN_OK && op->check && !op->check(w)) {
		res = RUN_BADFX;
	}
	cleanup(w);
	return res;
}

/* What the operations gave under faults */
struct fault_stats {
	unsigned int loops, runs, ok, partial, sigbus, wrong, bad_errno;
	/* Failures with an errno that states a fact, such as ENOENT */
	unsigned int misleading;
	unsigned int errs[NR_ERRNO];
	unsigned long kept;
	char first_wrong[128];
	char first_misleading[128];
	char child_error[128];
};

/*
 * The operations work on names that exist (or not) as they expect: a
 * failure to allocate reported as one of these says something untrue.
 * Only logged: the backing filesystem may have its reasons.
 */
static bool misleading_errno(int err)
{
	return err == ENOENT || err == EEXIST || err == ENOTDIR ||
	       err == EISDIR || err == ENOTEMPTY || err == ENODATA;
}

static void count_result(struct fault_stats *st, const char *op, int res,
			 int err)
{
	st->runs++;
	switch (res) {
	case RUN_OK:
		st->ok++;
		break;
	case RUN_PARTIAL:
		st->partial++;
		break;
	case RUN_SIGBUS:
		st->sigbus++;
		break;
	case RUN_ERR:
		/* An errno, and none that says the backing fs is corrupt */
		if (err > 0 && err < NR_ERRNO && err != EUCLEAN)
			st->errs[err]++;
		else
			st->bad_errno++;
		if (misleading_errno(err) && !st->misleading++)
			snprintf(st->first_misleading,
				 sizeof(st->first_misleading), "%s: %s", op,
				 strerror(err));
		break;
	default:
		if (!st->wrong++)
			snprintf(st->first_wrong, sizeof(st->first_wrong),
				 "%s: %s", op, res_name(res));
		break;
	}
}

static const char *errs_str(const struct fault_stats *st, char *buf,
			    size_t size)
{
	const char *name;
	size_t len = 0;
	int e;

	buf[0] = 0;
	for (e = 1; e < NR_ERRNO && len < size; e++) {
		if (!st->errs[e])
			continue;
		name = strerrorname_np(e);
		len += snprintf(buf + len, size - len, "%s%s x%u",
				len ? ", " : "", name ? name : "?",
				st->errs[e]);
	}
	if (!buf[0])
		snprintf(buf, size, "none");
	return buf;
}

/* The mount's root has the attributes of its backing directory */
static const char *root_problem(const char *mnt, const char *back)
{
	static char why[PATH_MAX + 64];
	struct stat fst, bst;
	struct statfs sfs;

	if (stat(mnt, &fst) || statfs(mnt, &sfs)) {
		snprintf(why, sizeof(why), "stat %s: %s", mnt,
			 strerror(errno));
		return why;
	}
	if (stat(back, &bst))
		return "stat of the backing directory failed";
	if (sfs.f_type != FUSE_SUPER_MAGIC)
		return "not a fuse mount";
	if (fst.st_ino != bst.st_ino || fst.st_mode != bst.st_mode ||
	    fst.st_nlink != bst.st_nlink || fst.st_uid != bst.st_uid ||
	    fst.st_gid != bst.st_gid ||
	    fst.st_mtim.tv_sec != bst.st_mtim.tv_sec ||
	    fst.st_mtim.tv_nsec != bst.st_mtim.tv_nsec)
		return "the root's attributes are not the backing directory's";
	return NULL;
}

/*
 * The mount works: its root is the backing directory, the "w" removed
 * behind its back is gone, a file written through it is in the backing
 * directory and reads back, and goes away again. NULL, or what is wrong.
 */
static const char *mount_problem(const struct wl *w)
{
	static char why[PATH_MAX + 64];
	char p[PATH_MAX], buf[16];
	const char *root;
	struct stat st;
	ssize_t n;
	int fd;

	root = root_problem(w->mnt, w->back);
	if (root)
		return root;
	if (!lstat(mp(p, w, "w"), &st) || errno != ENOENT)
		return "w, removed from the backing directory, still shows";
	fd = open(mp(p, w, "ok"), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC,
		  0600);
	if (fd < 0)
		goto err;
	n = write(fd, "ok!", 3);
	if (close(fd) || n != 3)
		goto err;
	if (!back_is(w, "ok", "ok!", 3))
		return "a file written through the mount is not in the backing directory";
	n = read_file(p, buf, sizeof(buf));
	if (n != 3 || memcmp(buf, "ok!", 3))
		return "a file written through the mount does not read back";
	if (unlink(p))
		goto err;
	if (!back_gone(w, "ok"))
		return "a file unlinked through the mount stays in the backing directory";
	return NULL;
err:
	snprintf(why, sizeof(why), "%s: %s", p, strerror(errno));
	return why;
}

/* Every operation works without faults, and leaves the mount working */
static void run_clean(struct __test_metadata *_metadata, const struct wl *w)
{
	const struct fault_op *op;
	int res, err;
	bool hit;

	for (op = ops; op < ops + ARRAY_SIZE(ops); op++) {
		res = op_cycle(op, w, &no_faults, &err, &hit);
		ASSERT_EQ(RUN_OK, res)
			TH_LOG("%s with no fault: %s (%s)", op->name,
			       res_name(res), strerror(err));
	}
	ASSERT_EQ(NULL, mount_problem(w));
}

static void wl_init(struct wl *w, struct _test_data_fault *self)
{
	w->mnt = self->dir;
	w->back = self->backing;
}

/*
 * Each operation with its 1st, 2nd, 3rd... injectable call failing, until
 * it makes fewer calls than that. Each run succeeds or fails with an
 * errno, returns nothing wrong, and leaves the mount working; a run that
 * no fault reached succeeds.
 */
TEST_F_TIMEOUT(fault, fail_nth_sweep, 150)
{
	struct injector inj = { .mif_fd = -1 };
	long long deadline = now_ms() + SWEEP_BUDGET_MS;
	unsigned int n, faults = 0;
	const struct fault_op *op;
	struct fault_stats st;
	const char *why;
	char errs[512];
	int res, err;
	bool hit;
	struct wl w;

	memset(&st, 0, sizeof(st));
	wl_init(&w, self);
	run_clean(_metadata, &w);
	ASSERT_EQ(0, aim_faults(self, false, -1));
	expect_aimed(_metadata, self);
	inj.nth_fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, inj.nth_fd) TH_LOG("%s: %s", FAIL_NTH, strerror(errno));

	for (op = ops; op < ops + ARRAY_SIZE(ops); op++) {
		hit = true;
		for (n = 1; n <= MAX_NTH && now_ms() < deadline; n++) {
			inj.nth = n;
			res = op_cycle(op, &w, &inj, &err, &hit);
			ASSERT_NE(RUN_SETUP, res)
				TH_LOG("%s, fault %u: test set-up: %s",
				       op->name, n, strerror(err));
			why = mount_problem(&w);
			if (!hit) {
				/* No fault reached it: it must work */
				ASSERT_EQ(RUN_OK, res)
					TH_LOG("%s with no fault (%u injectable calls): %s, %s",
					       op->name, n - 1, res_name(res),
					       strerror(err));
				ASSERT_EQ(NULL, why)
					TH_LOG("after %s: %s", op->name, why);
				break;
			}
			count_result(&st, op->name, res, err);
			ASSERT_EQ(0, st.wrong)
				TH_LOG("fault %u: %s", n, st.first_wrong);
			ASSERT_EQ(0, st.bad_errno)
				TH_LOG("%s, fault %u: failed with errno %d",
				       op->name, n, err);
			ASSERT_EQ(NULL, why)
				TH_LOG("after %s with fault %u (%s, %s): %s",
				       op->name, n, res_name(res),
				       strerror(err), why);
			faults++;
		}
		TH_LOG("%-17s %3u injectable calls%s", op->name, n - 1,
		       n > MAX_NTH ? " or more (bound reached)" :
		       hit ? " or more (time budget spent)" : "");
	}
	EXPECT_EQ(0, close(inj.nth_fd));
	TH_LOG("%u faults injected; under them: %u ok, %u partial, %u SIGBUS; errnos: %s",
	       faults, st.ok, st.partial, st.sigbus,
	       errs_str(&st, errs, sizeof(errs)));
	if (st.misleading)
		TH_LOG("note: %u failures said something untrue, first %s",
		       st.misleading, st.first_misleading);
	ASSERT_LT(0, faults)
		TH_LOG("%s", NO_FAULT);
	run_clean(_metadata, &w);
	ASSERT_EQ(0, umount(self->dir)) TH_LOG("umount: %s", strerror(errno));
}

/* The probability child could not run the workload: say why, and end */
static void child_fail(struct fault_stats *st, const char *what)
{
	snprintf(st->child_error, sizeof(st->child_error), "%s: %s", what,
		 strerror(errno));
	_exit(1);
}

/*
 * The workload, in a child marked with make-it-fail while it runs each
 * operation; then files written under faults, left for the parent.
 */
static void prob_child(const struct wl *w, struct fault_stats *st,
		       long long deadline)
{
	struct injector inj = { .nth_fd = -1 };
	const struct fault_op *op;
	char p[PATH_MAX], name[16];
	int i, fd, res, err;
	bool hit;
	ssize_t n;

	inj.mif_fd = open(MAKE_IT_FAIL, O_WRONLY | O_CLOEXEC);
	if (inj.mif_fd < 0)
		child_fail(st, MAKE_IT_FAIL);
	do {
		for (op = ops; op < ops + ARRAY_SIZE(ops); op++) {
			res = op_cycle(op, w, &inj, &err, &hit);
			if (res == RUN_SETUP) {
				errno = err;
				child_fail(st, op->name);
			}
			count_result(st, op->name, res, err);
		}
		st->loops++;
	} while (st->loops < PROB_LOOPS && now_ms() < deadline);

	if (prep(w, false) || arm(&inj))
		child_fail(st, "prepare w");
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "w/keep-%d", i);
		fd = open(mp(p, w, name), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			continue;
		n = write(fd, pattern, 1000 + 900 * i);
		if (n > 0)
			st->kept += n;
		close(fd);
	}
	if (disarm(&inj, &hit))
		child_fail(st, "make-it-fail");
	_exit(0);
}

/*
 * The directory @rel of the mount shows what the backing directory holds:
 * names, attributes, contents, xattrs. NULL, or what differs.
 */
static const char *compare_dirs(const struct wl *w, const char *rel)
{
	static char fbuf[65536], bbuf[65536], why[PATH_MAX + 64];
	char f[PATH_MAX], b[PATH_MAX], fdir[PATH_MAX], bdir[PATH_MAX];
	char name[300];
	ssize_t fn, bn;
	struct stat fst, bst;
	struct dirent *d;
	int nb = 0, nf = 0;
	DIR *dir;

	dir = opendir(at(bdir, w->back, rel));
	if (!dir)
		return "cannot list the backing directory";
	while ((d = readdir(dir))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		nb++;
		snprintf(why, sizeof(why), "%s", d->d_name);
		snprintf(name, sizeof(name), "%s/%s", rel, d->d_name);
		at(f, w->mnt, name);
		at(b, w->back, name);
		if (lstat(b, &bst) || lstat(f, &fst))
			goto bad;
		if (fst.st_ino != bst.st_ino || fst.st_mode != bst.st_mode ||
		    fst.st_size != bst.st_size ||
		    fst.st_nlink != bst.st_nlink)
			goto bad;
		fn = 0;
		bn = 0;
		if (S_ISREG(bst.st_mode)) {
			fn = read_file(f, fbuf, sizeof(fbuf));
			bn = read_file(b, bbuf, sizeof(bbuf));
		} else if (S_ISLNK(bst.st_mode)) {
			fn = readlink(f, fbuf, sizeof(fbuf));
			bn = readlink(b, bbuf, sizeof(bbuf));
		}
		if (fn != bn || fn < 0 || memcmp(fbuf, bbuf, fn))
			goto bad;
		if (S_ISLNK(bst.st_mode))
			continue;
		fn = listxattr(f, fbuf, sizeof(fbuf));
		bn = listxattr(b, bbuf, sizeof(bbuf));
		if (fn != bn || fn < 0 || memcmp(fbuf, bbuf, fn))
			goto bad;
	}
	closedir(dir);
	dir = opendir(at(fdir, w->mnt, rel));
	if (!dir)
		return "cannot list the directory through the mount";
	while ((d = readdir(dir)))
		nf += strcmp(d->d_name, ".") && strcmp(d->d_name, "..");
	closedir(dir);
	return nf == nb ? NULL : "not the same number of entries";
bad:
	closedir(dir);
	snprintf(why + strlen(why), sizeof(why) - strlen(why),
		 " differs through the mount");
	return why;
}

/*
 * The workload in a child with make-it-fail, at 1%, 10% and 50%: the
 * child ends normally, with errnos only and no wrong result; then, faults
 * off, the files show the same through the mount as in the backing
 * directory and the whole workload works.
 */
TEST_F_TIMEOUT(fault, probability_sweep, 100)
{
	static const unsigned int probs[] = { 1, 10, 50 };
	long long injected[NR_ATTRS];
	struct fault_stats *st;
	char errs[512];
	const char *why;
	int i, a, status;
	struct wl w;
	pid_t pid;

	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, st);
	wl_init(&w, self);
	run_clean(_metadata, &w);

	for (i = 0; i < (int)ARRAY_SIZE(probs); i++) {
		memset(st, 0, sizeof(*st));
		ASSERT_EQ(0, aim_faults(self, true, TIMES_BIG));
		expect_aimed(_metadata, self);
		for (a = 0; a < NR_ATTRS; a++)
			ASSERT_EQ(0, set_knob_ul(self, a, K_PROBABILITY,
						 probs[i]));
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid == 0)
			prob_child(&w, st, now_ms() + PROB_BUDGET_MS);
		ASSERT_LT(0, pid);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		for (a = 0; a < NR_ATTRS; a++) {
			ASSERT_EQ(0, set_knob(self, a, K_PROBABILITY, "0"));
			injected[a] = TIMES_BIG -
				      (long long)get_knob(a, K_TIMES);
		}
		ASSERT_TRUE(WIFEXITED(status))
			TH_LOG("%u%%: the child was killed by signal %d",
			       probs[i], WTERMSIG(status));
		ASSERT_EQ(0, WEXITSTATUS(status))
			TH_LOG("%u%%: child: %s", probs[i], st->child_error);
		TH_LOG("%2u%%: %lld slab and %lld page faults injected",
		       probs[i], injected[A_SLAB], injected[A_PAGE]);
		TH_LOG("%2u%%: %u loops, %u runs: %u ok, %u partial, %u SIGBUS",
		       probs[i], st->loops, st->runs, st->ok, st->partial,
		       st->sigbus);
		TH_LOG("%2u%%: errnos: %s", probs[i],
		       errs_str(st, errs, sizeof(errs)));
		if (st->misleading)
			TH_LOG("%2u%%: note: %u failures said something untrue, first %s",
			       probs[i], st->misleading, st->first_misleading);
		EXPECT_EQ(0, st->wrong) TH_LOG("%s", st->first_wrong);
		EXPECT_EQ(0, st->bad_errno);

		/* What was written under faults reads the same both ways */
		why = compare_dirs(&w, "w");
		ASSERT_EQ(NULL, why)
			TH_LOG("%u%%: after faults, %s", probs[i], why);
		cleanup(&w);
		why = mount_problem(&w);
		ASSERT_EQ(NULL, why)
			TH_LOG("%u%%: after faults, %s", probs[i], why);
		run_clean(_metadata, &w);
		if (probs[i] == 50)
			ASSERT_LT(0, injected[A_SLAB] + injected[A_PAGE])
				TH_LOG("at 50%%: %s", NO_FAULT);
	}
	munmap(st, sizeof(*st));
	ASSERT_EQ(0, umount(self->dir)) TH_LOG("umount: %s", strerror(errno));
}

/* Mounts on @dir, in /proc/self/mountinfo */
static int count_mounts(const char *dir)
{
	char line[1024], mnt[PATH_MAX];
	int n = 0;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 &&
		    !strcmp(mnt, dir))
			n++;
	}
	fclose(f);
	return n;
}

enum { VIA_MOUNT, VIA_FSMOUNT, NR_VIA };

/* Mount a no_daemon fuse-bpf filesystem backed by @bfd on @dir; -errno */
static int do_mount(int how, const char *dir, int bfd)
{
	char opts[256];
	int fsfd, mfd, ret;

	if (how == VIA_MOUNT) {
		snprintf(opts, sizeof(opts), FUSE_BPF_OPTS, bfd);
		return mount_fuse(dir, opts);
	}
	fsfd = fsopen("fuse", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -errno;
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", "fuse_test", 0) ||
	    fsconfig(fsfd, FSCONFIG_SET_FLAG, "fuse_bpf", NULL, 0) ||
	    fsconfig(fsfd, FSCONFIG_SET_FLAG, "no_daemon", NULL, 0) ||
	    fsconfig(fsfd, FSCONFIG_SET_FD, "root_dir", NULL, bfd) ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "rootmode", "40000", 0) ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "user_id", "0", 0) ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "group_id", "0", 0) ||
	    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		goto fail;
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
	if (mfd < 0)
		goto fail;
	ret = move_mount(mfd, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH);
	ret = ret ? -errno : 0;
	close(mfd);
	close(fsfd);
	return ret;
fail:
	ret = -errno;
	close(fsfd);
	return ret;
}

/*
 * mount(2), the mount API and umount with their 1st, 2nd, 3rd...
 * injectable call failing: each succeeds or fails with an errno, a failed
 * mount leaves no mount and a failed umount the mount as it was, and a
 * mount works afterwards.
 */
TEST_F_TIMEOUT(fault, mount_under_faults, 60)
{
	static const char * const via[NR_VIA] = { "mount(2)", "mount API" };
	struct injector inj = { .mif_fd = -1 };
	long long deadline = now_ms() + MOUNT_BUDGET_MS;
	unsigned int n, faults = 0;
	struct fault_stats st;
	const char *dir2 = self->dir2;
	char errs[512];
	int how, ret;
	bool hit;
	struct wl w;

	memset(&st, 0, sizeof(st));
	wl_init(&w, self);
	snprintf(self->dir2, sizeof(self->dir2), "/tmp/fault_mnt.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir2));
	for (how = 0; how < NR_VIA; how++) {
		ASSERT_EQ(0, do_mount(how, dir2, self->backing_fd));
		ASSERT_EQ(NULL, root_problem(dir2, self->backing));
		ASSERT_EQ(0, umount(dir2));
	}
	ASSERT_EQ(0, aim_faults(self, false, -1));
	expect_aimed(_metadata, self);
	inj.nth_fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, inj.nth_fd) TH_LOG("%s: %s", FAIL_NTH, strerror(errno));

	for (how = 0; how < NR_VIA; how++) {
		for (n = 1; n <= MAX_NTH && now_ms() < deadline; n++) {
			inj.nth = n;
			ASSERT_EQ(0, arm(&inj));
			ret = do_mount(how, dir2, self->backing_fd);
			ASSERT_EQ(0, disarm(&inj, &hit));
			if (hit)
				count_result(&st, via[how],
					     ret ? RUN_ERR : RUN_OK, -ret);
			ASSERT_EQ(0, st.bad_errno)
				TH_LOG("%s, fault %u: errno %d", via[how], n,
				       -ret);
			if (!ret) {
				ASSERT_EQ(1, count_mounts(dir2));
				ASSERT_EQ(NULL,
					  root_problem(dir2, self->backing))
					TH_LOG("%s, fault %u", via[how], n);
				ASSERT_EQ(0, umount(dir2))
					TH_LOG("%s, fault %u: umount: %s",
					       via[how], n, strerror(errno));
			}
			ASSERT_EQ(0, count_mounts(dir2))
				TH_LOG("%s, fault %u (%s): a mount is left",
				       via[how], n, strerror(-ret));
			if (!hit) {
				ASSERT_EQ(0, ret)
					TH_LOG("%s failed with no fault: %s",
					       via[how], strerror(-ret));
				break;
			}
			faults++;
		}
		TH_LOG("%-9s %3u injectable calls", via[how], n - 1);
	}

	for (n = 1; n <= MAX_NTH && now_ms() < deadline; n++) {
		ASSERT_EQ(0, do_mount(VIA_MOUNT, dir2, self->backing_fd));
		inj.nth = n;
		ASSERT_EQ(0, arm(&inj));
		ret = umount(dir2) ? -errno : 0;
		ASSERT_EQ(0, disarm(&inj, &hit));
		if (hit)
			count_result(&st, "umount", ret ? RUN_ERR : RUN_OK,
				     -ret);
		ASSERT_EQ(0, st.bad_errno)
			TH_LOG("umount, fault %u: errno %d", n, -ret);
		if (ret) {
			/* Still there, and working */
			ASSERT_EQ(1, count_mounts(dir2));
			ASSERT_EQ(NULL, root_problem(dir2, self->backing));
			ASSERT_EQ(0, umount(dir2));
		}
		ASSERT_EQ(0, count_mounts(dir2));
		if (!hit) {
			ASSERT_EQ(0, ret) TH_LOG("umount failed with no fault");
			break;
		}
		faults++;
	}
	TH_LOG("%-9s %3u injectable calls", "umount", n - 1);
	EXPECT_EQ(0, close(inj.nth_fd));
	TH_LOG("%u faults injected; under them %u mounts or umounts worked; errnos: %s",
	       faults, st.ok, errs_str(&st, errs, sizeof(errs)));
	ASSERT_LT(0, faults)
		TH_LOG("%s", NO_FAULT);

	/* Mounts work afterwards, and so does the first one */
	for (how = 0; how < NR_VIA; how++) {
		ASSERT_EQ(0, do_mount(how, dir2, self->backing_fd));
		ASSERT_EQ(NULL, root_problem(dir2, self->backing));
		ASSERT_EQ(0, umount(dir2));
	}
	ASSERT_EQ(NULL, mount_problem(&w));
	ASSERT_EQ(0, umount(self->dir)) TH_LOG("umount: %s", strerror(errno));
	EXPECT_EQ(0, rmdir(self->dir2));
	self->dir2[0] = 0;
}

TEST_HARNESS_MAIN
