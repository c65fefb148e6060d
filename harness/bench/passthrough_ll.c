// SPDX-License-Identifier: GPL-2.0
/*
 * passthrough_ll.c - a classic FUSE passthrough server, for benchmarks
 *
 * Serves SOURCE at MOUNTPOINT through the libfuse 3 low-level API, tuned the
 * way a real passthrough server is: an inode table keyed by (st_dev, st_ino)
 * holding an O_PATH fd per inode, lookup counts dropped by forget and
 * forget_multi, *at() syscalls relative to those fds, opens through
 * /proc/self/fd, zero-copy (splice) reads and writes, a multithreaded loop
 * with one cloned /dev/fuse fd per worker, long entry/attribute timeouts,
 * writeback cache, readdirplus and kept page caches.  It is the baseline a
 * fuse-bpf mount is compared with, so the source must not change behind the
 * mount while it runs.
 *
 * Written for Debian bookworm's libfuse 3.14 (package libfuse3-dev).
 *
 * Build (no Makefile):
 *   apt-get install -y gcc pkg-config libfuse3-dev
 *   gcc -O2 -Wall $(pkg-config --cflags fuse3) passthrough_ll.c \
 *       $(pkg-config --libs fuse3) -lpthread -o passthrough_ll
 *
 * Run (as root: mounting uses mount(2), --passthrough needs CAP_SYS_ADMIN;
 * at run time only the libfuse3-3 library is needed, fuse3 only for
 * fusermount3):
 *   passthrough_ll [options] SOURCE MOUNTPOINT
 *   ... benchmark ...
 *   umount MOUNTPOINT        (or fusermount3 -u MOUNTPOINT, or SIGTERM)
 *
 * Options:
 *   -t, --timeout=SEC        entry, negative entry and attribute timeout
 *                            (default 86400)
 *       --entry-timeout=SEC  entry timeout only
 *       --attr-timeout=SEC   attribute timeout only
 *       --negative-timeout=SEC  timeout of cached failed lookups (ENOENT);
 *                            0 replies ENOENT uncached
 *       --no-writeback       do not ask for FUSE_CAP_WRITEBACK_CACHE
 *       --no-splice          no splice read/write/move (else used when the
 *                            kernel offers them).  Splice read (requests
 *                            spliced from /dev/fuse) needs a pipe of 1 MiB +
 *                            4 KiB: libfuse silently reads instead without
 *                            CAP_SYS_RESOURCE (or fs.pipe-max-size >= 2 MiB).
 *                            It saves a copy of WRITE data but costs a
 *                            syscall on every other request.
 *       --no-keep-cache      no FOPEN_KEEP_CACHE on open, no cached readdir
 *       --readdirplus=MODE   always (default), auto (kernel decides) or no
 *       --no-cache-symlinks  do not ask for FUSE_CAP_CACHE_SYMLINKS
 *       --no-parallel-dirops do not ask for FUSE_CAP_PARALLEL_DIROPS
 *       --max-background=N   kernel limit of background requests (async
 *                            reads, writeback); default: the kernel's (12)
 *   -s, --single             single-threaded loop (fuse_session_loop)
 *       --threads=N          most worker threads of the multithreaded loop
 *                            (default 10; all are kept once started)
 *       --no-clone-fd        workers share one /dev/fuse fd
 *       --passthrough[=DEPTH]  FOPEN_PASSTHROUGH (Linux 6.9+,
 *                            CONFIG_FUSE_PASSTHROUGH): file data goes to the
 *                            source file in the kernel, READ and WRITE never
 *                            reach the server.  Turns off writeback cache and
 *                            keep_cache (the kernel refuses both with it).
 *                            DEPTH is max_stack_depth (default 1; 2 lets the
 *                            source be on overlayfs but the mount can then
 *                            not be stacked on).  The server exits if the
 *                            kernel does not accept passthrough.
 *       --killpriv-v2        negotiate FUSE_HANDLE_KILLPRIV_V2 (not offered
 *                            by libfuse 3.14; patched into the INIT reply as
 *                            for --passthrough).  Without it the kernel does
 *                            not set SB_NOSEC on the mount and every write(2)
 *                            costs a GETXATTR "security.capability" request
 *                            (file_remove_privs()); with it, one per inode.
 *                            The server then owns killing suid/sgid on
 *                            write/truncate/chown, which this one leaves to
 *                            the source filesystem: as root it keeps them,
 *                            so only use it when the benchmark does not care.
 *       --log=FILE           count requests by opcode, write FILE at exit
 *                            and on SIGUSR1 (see "Request log" below)
 *       --pidfile=FILE       write the server's pid there once mounted
 *   -b, --background         detach once mounted (the command returns when
 *                            the mount is there)
 *   -o OPT[,OPT...]          libfuse / mount options, e.g. allow_other,
 *                            default_permissions
 *   -d, --debug              libfuse debug output (foreground)
 *   -h, --help
 *
 * Request log (--log=FILE): one line "OPCODE COUNT" per opcode received
 * (kernel numbers from linux/fuse.h: 1 LOOKUP, 2 FORGET, 3 GETATTR, ...),
 * in increasing order and only for counts > 0, then "total N".  This is the
 * layout of the kernel's per-connection "requests" counters: opcodes from 64
 * on are counted as 0, and every forgotten node counts as one FORGET (2),
 * whether it came in a FORGET or a BATCH_FORGET (42), which is never counted
 * itself.  The kernel counts a FORGET when it queues it; it may still be in
 * the queue (or dropped at unmount) when the server writes its log, so compare
 * FORGET counts after the workload has settled, with SIGUSR1 before unmount.
 *
 * How requests are counted: each handler below counts its own opcode (INIT in
 * the init handler, forget per node, RENAME or RENAME2 from the flags just as
 * the kernel picks the opcode).  libfuse 3.14 answers some requests without
 * calling a handler: INTERRUPT (36, kept internally), opcodes it has no
 * handler for here (GETLK 31, SETLK 32, SETLKW 33, BMAP 37, IOCTL 39, POLL 40:
 * ENOSYS), DESTROY (38, only sent for fuseblk), NOTIFY_REPLY (41) and every
 * opcode it does not know (48 and up, e.g. TMPFILE 51 and STATX 52, which the
 * kernel sends once before it learns ENOSYS).  Those are counted as they are
 * received, in the session's receive hooks (fuse_session_custom_io): from the
 * request header when libfuse reads a request, and, when it splices requests
 * into a pipe (splice read), from the header peeked with tee(2) - two more
 * syscalls per request, only with --log.  Requests libfuse refuses before
 * dispatching them (EIO before INIT, EACCES with -o allow_root, ENOMEM) would
 * not be counted; none happen in a benchmark run as root.
 *
 * FOPEN_PASSTHROUGH with libfuse 3.14: libfuse has no API for it (that came
 * with 3.16): fuse_file_info has no backing_id, conn->want is 32 bits wide and
 * only known capabilities are translated into the INIT reply, and
 * fuse_init_out has no max_stack_depth.  It does, though, read the kernel's
 * flags2 (FUSE_INIT_EXT) and send flags2 back, and it lets the server take
 * over the writes to /dev/fuse (fuse_session_custom_io, public since 3.13).
 * So --passthrough keeps libfuse's own replies and patches two of them in the
 * writev hook, on the thread that sends them: the INIT reply gets
 * FUSE_PASSTHROUGH in flags2 and max_stack_depth, OPEN and CREATE replies get
 * FOPEN_PASSTHROUGH and the backing id.  The backing id comes from
 * ioctl(FUSE_DEV_IOC_BACKING_OPEN) on the session fd, once per inode (all
 * opens of an inode must share one backing file), and is closed with
 * FUSE_DEV_IOC_BACKING_CLOSE when the kernel forgets the inode; the kernel
 * opens a backing file per fuse file with that file's own flags, so the fd
 * registered does not limit later opens.
 *
 * Ownership: the server runs as root and does not switch to the caller's
 * uid/gid, so new files belong to root (like libfuse's passthrough_ll).
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

/*
 * Protocol bits of Linux 6.9+ that bookworm's linux/fuse.h (7.38) lacks.
 * Own names, so that a newer linux/fuse.h does not clash.
 */
#define PT_FUSE_PASSTHROUGH	(1ULL << 37)	/* FUSE_PASSTHROUGH, in flags2 */
#define PT_FOPEN_PASSTHROUGH	(1U << 7)	/* FOPEN_PASSTHROUGH */
#define PT_HANDLE_KILLPRIV_V2	(1U << 28)	/* FUSE_HANDLE_KILLPRIV_V2 */

struct pt_backing_map {			/* struct fuse_backing_map */
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

#define PT_IOC_BACKING_OPEN	_IOW(229, 1, struct pt_backing_map)
#define PT_IOC_BACKING_CLOSE	_IOW(229, 2, uint32_t)

struct pt_init_out {			/* struct fuse_init_out, 7.40 */
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint16_t max_background;
	uint16_t congestion_threshold;
	uint32_t max_write;
	uint32_t time_gran;
	uint16_t max_pages;
	uint16_t map_alignment;
	uint32_t flags2;
	uint32_t max_stack_depth;
	uint32_t unused[6];
};

struct pt_open_out {			/* struct fuse_open_out, 7.40 */
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

_Static_assert(sizeof(struct pt_init_out) == sizeof(struct fuse_init_out),
	       "fuse_init_out layout");
_Static_assert(sizeof(struct pt_open_out) == sizeof(struct fuse_open_out),
	       "fuse_open_out layout");

#define NR_OPCODES 64	/* as the kernel's counters: 64 and up count as 0 */

/* ------------------------------------------------------------------------ */
/* Options and global state                                                 */

enum { RDP_NO, RDP_AUTO, RDP_ALWAYS };

static struct {
	double entry_timeout;
	double attr_timeout;
	double negative_timeout;
	int writeback;
	int splice;
	int keep_cache;
	int readdirplus;
	int cache_symlinks;
	int parallel_dirops;
	int max_background;
	int single;
	int threads;
	int clone_fd;
	int passthrough;
	int stack_depth;
	int killpriv_v2;
	int background;
	int debug;
	char *log;
	char *pidfile;
	const char *source;
	const char *mountpoint;
} opt = {
	.entry_timeout = 86400,
	.attr_timeout = 86400,
	.negative_timeout = 86400,
	.writeback = 1,
	.splice = 1,
	.keep_cache = 1,
	.readdirplus = RDP_ALWAYS,
	.cache_symlinks = 1,
	.parallel_dirops = 1,
	.threads = 10,
	.clone_fd = 1,
	.stack_depth = 1,
};

static struct fuse_session *g_se;
static int g_writeback;			/* writeback cache negotiated */
static int g_passthrough;		/* FUSE_PASSTHROUGH sent in INIT reply */
static int g_passthrough_failed;
static int g_killpriv_v2;		/* HANDLE_KILLPRIV_V2 sent in INIT */
static uint64_t g_kernel_init_flags;	/* flags | flags2 << 32 of INIT */

/* ------------------------------------------------------------------------ */
/* Request counters                                                         */

static int g_log;
static uint64_t g_count[NR_OPCODES];
static uint64_t g_unseen;		/* requests whose header was not seen */

/* Opcodes a handler of ours counts; the receive hooks count the others. */
static unsigned char g_handled[NR_OPCODES];

static inline void count_n(unsigned int opcode, uint64_t n)
{
	if (g_log)
		__atomic_fetch_add(&g_count[opcode < NR_OPCODES ? opcode : 0],
				   n, __ATOMIC_RELAXED);
}

#define COUNT(op) count_n(op, 1)

/* A request seen by a receive hook: count it if no handler will */
static inline void count_received(uint32_t opcode)
{
	if (opcode >= NR_OPCODES || !g_handled[opcode])
		count_n(opcode, 1);
}

static void init_handled(void)
{
	static const unsigned int ops[] = {
		FUSE_LOOKUP, FUSE_FORGET, FUSE_GETATTR, FUSE_SETATTR,
		FUSE_READLINK, FUSE_SYMLINK, FUSE_MKNOD, FUSE_MKDIR,
		FUSE_UNLINK, FUSE_RMDIR, FUSE_RENAME, FUSE_LINK, FUSE_OPEN,
		FUSE_READ, FUSE_WRITE, FUSE_STATFS, FUSE_RELEASE, FUSE_FSYNC,
		FUSE_SETXATTR, FUSE_GETXATTR, FUSE_LISTXATTR,
		FUSE_REMOVEXATTR, FUSE_FLUSH, FUSE_INIT, FUSE_OPENDIR,
		FUSE_READDIR, FUSE_RELEASEDIR, FUSE_FSYNCDIR, FUSE_ACCESS,
		FUSE_CREATE, FUSE_BATCH_FORGET /* counted as FORGET */,
		FUSE_FALLOCATE, FUSE_READDIRPLUS, FUSE_RENAME2, FUSE_LSEEK,
		FUSE_COPY_FILE_RANGE,
	};
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		g_handled[ops[i]] = 1;
}

/* Write the counters to the log file: a temporary file renamed over it */
static void write_log(void)
{
	uint64_t total = 0, n;
	char tmp[PATH_MAX + 8];
	FILE *f;
	int i;

	if (!g_log)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", opt.log);
	f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "passthrough_ll: %s: %s\n", tmp,
			strerror(errno));
		return;
	}
	for (i = 0; i < NR_OPCODES; i++) {
		n = __atomic_load_n(&g_count[i], __ATOMIC_RELAXED);
		if (n)
			fprintf(f, "%d %" PRIu64 "\n", i, n);
		total += n;
	}
	fprintf(f, "total %" PRIu64 "\n", total);
	if (fclose(f) || rename(tmp, opt.log))
		fprintf(stderr, "passthrough_ll: %s: %s\n", opt.log,
			strerror(errno));
	n = __atomic_load_n(&g_unseen, __ATOMIC_RELAXED);
	if (n)
		fprintf(stderr, "passthrough_ll: %" PRIu64 " spliced requests "
			"not counted by opcode (header peek failed)\n", n);
}

/* SIGUSR1 writes the log: a thread waits for it with every signal blocked */
static void *log_signal_thread(void *arg)
{
	sigset_t set;
	int sig;

	(void) arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		if (sigwait(&set, &sig) == 0 && sig == SIGUSR1)
			write_log();
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Inode table                                                              */

struct lo_inode {
	struct lo_inode *next;		/* hash chain */
	int fd;				/* O_PATH */
	dev_t dev;
	ino_t ino;
	mode_t type;			/* S_IFMT bits */
	uint64_t nlookup;		/* under itab.lock */
	int backing_id;			/* passthrough, under g_backing_lock */
};

static struct {
	pthread_mutex_t lock;
	struct lo_inode **bucket;
	size_t nbuckets;		/* power of two */
	size_t count;
} itab = { .lock = PTHREAD_MUTEX_INITIALIZER };

static struct lo_inode root;
static pthread_mutex_t g_backing_lock = PTHREAD_MUTEX_INITIALIZER;

static inline size_t ihash(dev_t dev, ino_t ino, size_t nbuckets)
{
	uint64_t h = (uint64_t) ino * 0x9e3779b97f4a7c15ULL;

	h ^= (uint64_t) dev * 0xc2b2ae3d27d4eb4fULL;
	return (h ^ (h >> 29)) & (nbuckets - 1);
}

static void itab_grow(void)
{
	size_t n = itab.nbuckets * 2, i;
	struct lo_inode **b = calloc(n, sizeof(*b)), *in, *next;

	if (!b)
		return;		/* keep the old table: chains get longer */
	for (i = 0; i < itab.nbuckets; i++) {
		for (in = itab.bucket[i]; in; in = next) {
			size_t h = ihash(in->dev, in->ino, n);

			next = in->next;
			in->next = b[h];
			b[h] = in;
		}
	}
	free(itab.bucket);
	itab.bucket = b;
	itab.nbuckets = n;
}

/* Under itab.lock */
static struct lo_inode *itab_find(dev_t dev, ino_t ino)
{
	struct lo_inode *in = itab.bucket[ihash(dev, ino, itab.nbuckets)];

	while (in && (in->ino != ino || in->dev != dev))
		in = in->next;
	return in;
}

/* Under itab.lock */
static void itab_insert(struct lo_inode *in)
{
	size_t h;

	if (itab.count >= itab.nbuckets)
		itab_grow();
	h = ihash(in->dev, in->ino, itab.nbuckets);
	in->next = itab.bucket[h];
	itab.bucket[h] = in;
	itab.count++;
}

/* Under itab.lock */
static void itab_remove(struct lo_inode *in)
{
	struct lo_inode **p = &itab.bucket[ihash(in->dev, in->ino,
						 itab.nbuckets)];

	while (*p != in)
		p = &(*p)->next;
	*p = in->next;
	itab.count--;
}

static inline struct lo_inode *lo_inode(fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &root;
	return (struct lo_inode *) (uintptr_t) ino;
}

static inline fuse_ino_t lo_ino(struct lo_inode *in)
{
	return in == &root ? FUSE_ROOT_ID : (fuse_ino_t) (uintptr_t) in;
}

static inline int lo_fd(fuse_ino_t ino)
{
	return lo_inode(ino)->fd;
}

/* "/proc/self/fd/N": the path of an inode's O_PATH fd, for what needs one */
static inline void proc_path(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* Drop @n lookups; the last one frees the inode */
static void forget_one(fuse_ino_t ino, uint64_t n)
{
	struct lo_inode *in = lo_inode(ino);

	pthread_mutex_lock(&itab.lock);
	assert(in->nlookup >= n);
	in->nlookup -= n;
	if (in->nlookup || in == &root) {
		pthread_mutex_unlock(&itab.lock);
		return;
	}
	itab_remove(in);
	pthread_mutex_unlock(&itab.lock);

	if (in->backing_id > 0) {
		uint32_t id = in->backing_id;

		if (ioctl(fuse_session_fd(g_se), PT_IOC_BACKING_CLOSE, &id))
			perror("passthrough_ll: FUSE_DEV_IOC_BACKING_CLOSE");
	}
	close(in->fd);
	free(in);
}

/*
 * Look @name up in @parent: the inode found gets one more lookup, @e is the
 * reply.  No request is counted here (readdirplus calls it too).
 */
static int do_lookup(fuse_ino_t parent, const char *name,
		     struct fuse_entry_param *e)
{
	struct lo_inode *in, *fresh;
	int fd, err;

	memset(e, 0, sizeof(*e));
	e->attr_timeout = opt.attr_timeout;
	e->entry_timeout = opt.entry_timeout;

	fd = openat(lo_fd(parent), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return errno;
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
		err = errno;
		close(fd);
		return err;
	}

	fresh = calloc(1, sizeof(*fresh));
	if (!fresh) {
		close(fd);
		return ENOMEM;
	}

	pthread_mutex_lock(&itab.lock);
	in = itab_find(e->attr.st_dev, e->attr.st_ino);
	if (in) {
		in->nlookup++;
	} else {
		in = fresh;
		in->fd = fd;
		in->dev = e->attr.st_dev;
		in->ino = e->attr.st_ino;
		in->type = e->attr.st_mode & S_IFMT;
		in->nlookup = 1;
		itab_insert(in);
		fresh = NULL;
		fd = -1;
	}
	pthread_mutex_unlock(&itab.lock);

	if (fd != -1)
		close(fd);
	free(fresh);
	e->ino = lo_ino(in);
	return 0;
}

/* Reply an entry; if the kernel is no longer waiting, take the lookup back */
static void reply_entry(fuse_req_t req, struct fuse_entry_param *e)
{
	if (fuse_reply_entry(req, e) == -ENOENT && e->ino)
		forget_one(e->ino, 1);
}

/* ------------------------------------------------------------------------ */
/* Custom session I/O: request counting and passthrough reply patches       */

enum { PATCH_NONE, PATCH_INIT, PATCH_OPEN, PATCH_CREATE };

/* The reply this thread is about to send, and what to patch in it */
static __thread struct {
	int kind;
	int backing_id;
	int done;
} tls_patch;

static int patch_reply(struct iovec *iov, int count)
{
	struct fuse_out_header *out;
	size_t off = 0, len;

	if (count != 2 || iov[0].iov_len != sizeof(*out))
		return 0;
	out = iov[0].iov_base;
	if (out->error)
		return 0;

	if (tls_patch.kind == PATCH_INIT) {
		struct pt_init_out *init = iov[1].iov_base;

		if (iov[1].iov_len != sizeof(*init))
			return 0;
		if (g_passthrough) {
			/* the kernel takes it only without writeback cache */
			if (!(init->flags & FUSE_INIT_EXT) ||
			    (init->flags & FUSE_WRITEBACK_CACHE))
				return 0;
			init->flags2 |=
				(uint32_t) (PT_FUSE_PASSTHROUGH >> 32);
			init->max_stack_depth = opt.stack_depth;
		}
		if (g_killpriv_v2)
			init->flags |= PT_HANDLE_KILLPRIV_V2;
		return 1;
	}

	len = sizeof(struct pt_open_out);
	if (tls_patch.kind == PATCH_CREATE) {
		off = sizeof(struct fuse_entry_out);
		len += off;
	}
	if (iov[1].iov_len == len) {
		struct pt_open_out *o =
			(void *) ((char *) iov[1].iov_base + off);

		o->open_flags |= PT_FOPEN_PASSTHROUGH;
		o->backing_id = tls_patch.backing_id;
		return 1;
	}
	return 0;
}

/*
 * After the INIT reply, see whether the kernel took FUSE_PASSTHROUGH:
 * FUSE_DEV_IOC_BACKING_OPEN first fails with EPERM when the connection has
 * no passthrough (or the caller no CAP_SYS_ADMIN), and only then looks at the
 * fd, which is the root directory's O_PATH fd: refused with EISDIR (or EBADF
 * by the kernels whose fuse_backing_open() takes no O_PATH fd).  Nothing is
 * registered either way.
 */
static void probe_passthrough(int fd)
{
	struct pt_backing_map map = { .fd = root.fd };
	int res = ioctl(fd, PT_IOC_BACKING_OPEN, &map);

	if (res >= 0) {		/* not expected: undo */
		uint32_t id = res;

		ioctl(fd, PT_IOC_BACKING_CLOSE, &id);
		return;
	}
	if (errno != EPERM && errno != ENOTTY)
		return;
	fprintf(stderr, "passthrough_ll: the kernel did not accept "
		"FUSE_PASSTHROUGH (FUSE_DEV_IOC_BACKING_OPEN: %s)%s\n",
		strerror(errno), errno == EPERM ?
		": the server needs CAP_SYS_ADMIN in the initial user "
		"namespace" : "");
	g_passthrough_failed = 1;
	fuse_session_exit(g_se);
	kill(getpid(), SIGTERM);	/* wakes the main thread up */
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *ud)
{
	ssize_t res;
	int kind = tls_patch.kind;

	(void) ud;
	if (kind != PATCH_NONE)
		tls_patch.done = patch_reply(iov, count);
	res = writev(fd, iov, count);
	if (kind == PATCH_INIT) {
		tls_patch.kind = PATCH_NONE;
		if (!tls_patch.done) {
			fprintf(stderr, "passthrough_ll: INIT reply not as "
				"expected, could not add the flags asked "
				"for\n");
			g_passthrough_failed = 1;
			fuse_session_exit(g_se);
			kill(getpid(), SIGTERM);
		} else if (res > 0 && g_passthrough) {
			probe_passthrough(fd);
		}
	}
	return res;
}

static ssize_t io_read(int fd, void *buf, size_t len, void *ud)
{
	ssize_t res = read(fd, buf, len);
	const struct fuse_in_header *in = buf;

	(void) ud;
	if (res < (ssize_t) sizeof(*in))
		return res;
	if (in->opcode == FUSE_INIT &&
	    (size_t) res >= sizeof(*in) + offsetof(struct fuse_init_in,
						   flags2) + 4) {
		const struct fuse_init_in *init = (const void *) (in + 1);

		g_kernel_init_flags = init->flags;
		if (init->flags & FUSE_INIT_EXT)
			g_kernel_init_flags |= (uint64_t) init->flags2 << 32;
	}
	count_received(in->opcode);
	return res;
}

/* Per thread: where to peek at requests libfuse splices into its pipe */
struct peek {
	int pipe_w;		/* libfuse's pipe, write end (its fd) */
	int pipe_r;		/* our own read end of that same pipe */
	int scratch[2];		/* a pipe of our own to tee the header to */
};

static pthread_key_t peek_key;

static void peek_free(void *p)
{
	struct peek *pk = p;

	if (pk->pipe_r >= 0)
		close(pk->pipe_r);
	close(pk->scratch[0]);
	close(pk->scratch[1]);
	free(pk);
}

/*
 * Read the header of the request at the head of the pipe whose write end is
 * @pipe_w without taking it out: tee(2) it to a scratch pipe.  The hook only
 * gets libfuse's write end; /proc/self/fd/W opened for reading is a read end
 * of the same pipe.
 */
static int peek_opcode(int pipe_w, uint32_t *opcode)
{
	struct peek *pk = pthread_getspecific(peek_key);
	struct fuse_in_header in;
	char path[64];
	int retry;

	if (!pk) {
		pk = calloc(1, sizeof(*pk));
		if (!pk)
			return -1;
		if (pipe2(pk->scratch, O_CLOEXEC | O_NONBLOCK)) {
			free(pk);
			return -1;
		}
		pk->pipe_r = -1;
		pthread_setspecific(peek_key, pk);
	}
	for (retry = 0; retry < 2; retry++) {
		ssize_t n;

		if (pk->pipe_r < 0 || pk->pipe_w != pipe_w || retry) {
			if (pk->pipe_r >= 0)
				close(pk->pipe_r);
			proc_path(path, sizeof(path), pipe_w);
			pk->pipe_r = open(path, O_RDONLY | O_NONBLOCK |
					  O_CLOEXEC);
			pk->pipe_w = pipe_w;
			if (pk->pipe_r < 0)
				return -1;
		}
		/* libfuse may have made a new pipe with the same fd number */
		n = tee(pk->pipe_r, pk->scratch[1], sizeof(in),
			SPLICE_F_NONBLOCK);
		if (n <= 0)
			continue;
		if (read(pk->scratch[0], &in, n) != n ||
		    n < (ssize_t) (sizeof(in.len) + sizeof(in.opcode)))
			return -1;
		*opcode = in.opcode;
		return 0;
	}
	return -1;
}

static ssize_t io_splice_receive(int fdin, off_t *offin, int fdout,
				 off_t *offout, size_t len, unsigned int flags,
				 void *ud)
{
	ssize_t res = splice(fdin, offin, fdout, offout, len, flags);
	uint32_t opcode;

	(void) ud;
	if (g_log && res >= (ssize_t) sizeof(struct fuse_in_header)) {
		if (peek_opcode(fdout, &opcode) == 0)
			count_received(opcode);
		else
			__atomic_fetch_add(&g_unseen, 1, __ATOMIC_RELAXED);
	}
	return res;
}

static ssize_t io_splice_send(int fdin, off_t *offin, int fdout,
			      off_t *offout, size_t len, unsigned int flags,
			      void *ud)
{
	(void) ud;
	return splice(fdin, offin, fdout, offout, len, flags);
}

static const struct fuse_custom_io session_io = {
	.writev = io_writev,
	.read = io_read,
	.splice_receive = io_splice_receive,
	.splice_send = io_splice_send,
};

/* ------------------------------------------------------------------------ */
/* Handlers                                                                 */

static void lo_init(void *userdata, struct fuse_conn_info *conn)
{
	const unsigned int splice_caps = FUSE_CAP_SPLICE_READ |
		FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;

	(void) userdata;
	COUNT(FUSE_INIT);

	if (opt.splice)
		conn->want |= conn->capable & splice_caps;
	else
		conn->want &= ~splice_caps;

	g_writeback = opt.writeback && !opt.passthrough &&
		(conn->capable & FUSE_CAP_WRITEBACK_CACHE);
	if (g_writeback)
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;

	if (opt.parallel_dirops)
		conn->want |= conn->capable & FUSE_CAP_PARALLEL_DIROPS;
	else
		conn->want &= ~FUSE_CAP_PARALLEL_DIROPS;

	conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
	if (opt.readdirplus != RDP_NO)
		conn->want |= conn->capable & FUSE_CAP_READDIRPLUS;
	if (opt.readdirplus == RDP_AUTO)
		conn->want |= conn->capable & FUSE_CAP_READDIRPLUS_AUTO;

	if (opt.cache_symlinks)
		conn->want |= conn->capable & FUSE_CAP_CACHE_SYMLINKS;

	if (opt.max_background > 0)
		conn->max_background = opt.max_background;

	if (opt.killpriv_v2) {
		if (g_kernel_init_flags & PT_HANDLE_KILLPRIV_V2)
			g_killpriv_v2 = 1;
		else
			fprintf(stderr, "passthrough_ll: the kernel does not "
				"offer FUSE_HANDLE_KILLPRIV_V2, ignored\n");
	}
	if (opt.passthrough) {
		if (!(g_kernel_init_flags & PT_FUSE_PASSTHROUGH)) {
			fprintf(stderr, "passthrough_ll: the kernel does not "
				"offer FUSE_PASSTHROUGH (needs Linux 6.9+ "
				"with CONFIG_FUSE_PASSTHROUGH=y)\n");
			g_passthrough_failed = 1;
			fuse_session_exit(g_se);
			kill(getpid(), SIGTERM);
			return;
		}
		g_passthrough = 1;
	}
	if (g_passthrough || g_killpriv_v2) {
		/* libfuse sends the INIT reply on this thread when we return */
		tls_patch.kind = PATCH_INIT;
		tls_patch.done = 0;
	}
}

/* libfuse calls destroy for a DESTROY request and at session end: unused */

static void lo_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err;

	COUNT(FUSE_LOOKUP);
	err = do_lookup(parent, name, &e);
	if (err == ENOENT && opt.negative_timeout > 0) {
		/* a negative entry: cached by the kernel */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = opt.negative_timeout;
		fuse_reply_entry(req, &e);
	} else if (err) {
		fuse_reply_err(req, err);
	} else {
		reply_entry(req, &e);
	}
}

static void lo_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	COUNT(FUSE_FORGET);
	forget_one(ino, nlookup);
	fuse_reply_none(req);
}

static void lo_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	size_t i;

	count_n(FUSE_FORGET, count);	/* the kernel counts each node */
	for (i = 0; i < count; i++)
		forget_one(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void lo_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	int res;

	COUNT(FUSE_GETATTR);
	if (fi && lo_inode(ino)->type == S_IFREG)
		res = fstat(fi->fh, &st);
	else
		res = fstatat(lo_fd(ino), "", &st,
			      AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	if (res)
		fuse_reply_err(req, errno);
	else
		fuse_reply_attr(req, &st, opt.attr_timeout);
}

static void lo_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int valid, struct fuse_file_info *fi)
{
	struct lo_inode *in = lo_inode(ino);
	/* fh is a file's fd only for regular files (a DIR * for dirs) */
	int fd = (fi && in->type == S_IFREG) ? (int) fi->fh : -1;
	char path[64];
	struct stat st;
	int res;

	COUNT(FUSE_SETATTR);
	proc_path(path, sizeof(path), in->fd);

	if (valid & FUSE_SET_ATTR_MODE) {
		res = fd >= 0 ? fchmod(fd, attr->st_mode) :
			chmod(path, attr->st_mode);
		if (res)
			goto out_err;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid :
			(uid_t) -1;
		gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid :
			(gid_t) -1;

		if (fchownat(in->fd, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
			goto out_err;
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		res = fd >= 0 ? ftruncate(fd, attr->st_size) :
			truncate(path, attr->st_size);
		if (res)
			goto out_err;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		struct timespec tv[2] = {
			{ .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT },
		};

		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;

		if (fd >= 0)
			res = futimens(fd, tv);
		else if (in->type == S_IFLNK)
			res = utimensat(in->fd, "", tv,
					AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
		else
			res = utimensat(AT_FDCWD, path, tv, 0);
		if (res)
			goto out_err;
	}
	/* FUSE_SET_ATTR_CTIME: ctime cannot be set, it moved anyway */

	if (fstatat(in->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		goto out_err;
	fuse_reply_attr(req, &st, opt.attr_timeout);
	return;
out_err:
	fuse_reply_err(req, errno);
}

static void lo_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	ssize_t n;

	COUNT(FUSE_READLINK);
	n = readlinkat(lo_fd(ino), "", buf, sizeof(buf));
	if (n == -1)
		fuse_reply_err(req, errno);
	else if (n == sizeof(buf))
		fuse_reply_err(req, ENAMETOOLONG);
	else {
		buf[n] = '\0';
		fuse_reply_readlink(req, buf);
	}
}

/* mknod, mkdir and symlink: make the node, then look it up for the reply */
static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev, const char *link)
{
	int dfd = lo_fd(parent), res, err;
	struct fuse_entry_param e;

	if (S_ISDIR(mode))
		res = mkdirat(dfd, name, mode);
	else if (S_ISLNK(mode))
		res = symlinkat(link, dfd, name);
	else
		res = mknodat(dfd, name, mode, rdev);
	if (res) {
		fuse_reply_err(req, errno);
		return;
	}
	err = do_lookup(parent, name, &e);
	if (err)
		fuse_reply_err(req, err);
	else
		reply_entry(req, &e);
}

static void lo_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	COUNT(FUSE_MKNOD);
	make_node(req, parent, name, mode, rdev, NULL);
}

static void lo_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	COUNT(FUSE_MKDIR);
	make_node(req, parent, name, S_IFDIR | mode, 0, NULL);
}

static void lo_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	COUNT(FUSE_SYMLINK);
	make_node(req, parent, name, S_IFLNK, 0, link);
}

static void lo_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct lo_inode *in = lo_inode(ino);
	struct fuse_entry_param e;
	char path[64];
	int res;

	COUNT(FUSE_LINK);
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; else link the proc path */
	res = linkat(in->fd, "", lo_fd(newparent), newname, AT_EMPTY_PATH);
	if (res && (errno == ENOENT || errno == EPERM)) {
		proc_path(path, sizeof(path), in->fd);
		res = linkat(AT_FDCWD, path, lo_fd(newparent), newname,
			     AT_SYMLINK_FOLLOW);
	}
	if (res) {
		fuse_reply_err(req, errno);
		return;
	}

	memset(&e, 0, sizeof(e));
	e.attr_timeout = opt.attr_timeout;
	e.entry_timeout = opt.entry_timeout;
	if (fstatat(in->fd, "", &e.attr,
		    AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
		fuse_reply_err(req, errno);
		return;
	}
	pthread_mutex_lock(&itab.lock);
	in->nlookup++;
	pthread_mutex_unlock(&itab.lock);
	e.ino = ino;
	reply_entry(req, &e);
}

static void lo_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	COUNT(FUSE_UNLINK);
	fuse_reply_err(req, unlinkat(lo_fd(parent), name, 0) ? errno : 0);
}

static void lo_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	COUNT(FUSE_RMDIR);
	fuse_reply_err(req, unlinkat(lo_fd(parent), name, AT_REMOVEDIR) ?
		       errno : 0);
}

static void lo_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	/* one handler for both: the kernel sends RENAME2 only with flags */
	COUNT(flags ? FUSE_RENAME2 : FUSE_RENAME);
	fuse_reply_err(req, renameat2(lo_fd(parent), name, lo_fd(newparent),
				      newname, flags) ? errno : 0);
}

/* Open flags for the source file */
static int source_open_flags(int flags)
{
	flags &= ~(O_NOFOLLOW | O_CREAT | O_EXCL | O_NOCTTY);
	if (g_writeback) {
		/* the kernel reads pages around writes through this fd too */
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		/* and places appends itself: O_APPEND would move pwrites */
		flags &= ~O_APPEND;
	}
	return flags | O_CLOEXEC;
}

/* The inode's backing id, registered by its first open (@fd) */
static int backing_id(struct lo_inode *in, int fd)
{
	struct pt_backing_map map = { .fd = fd };
	int id;

	pthread_mutex_lock(&g_backing_lock);
	id = in->backing_id;
	if (id <= 0) {
		id = ioctl(fuse_session_fd(g_se), PT_IOC_BACKING_OPEN, &map);
		if (id < 0)
			id = -errno;
		else
			in->backing_id = id;
	}
	pthread_mutex_unlock(&g_backing_lock);
	return id;
}

/*
 * Fill the open reply of @fd and send it: with passthrough the reply libfuse
 * makes gets FOPEN_PASSTHROUGH and the backing id on its way out.
 */
static void reply_open(fuse_req_t req, struct lo_inode *in, int fd,
		       struct fuse_file_info *fi, struct fuse_entry_param *e)
{
	int res, id = 0;

	fi->fh = fd;
	fi->keep_cache = opt.keep_cache && !g_passthrough;
	if (g_passthrough) {
		id = backing_id(in, fd);
		if (id < 0) {
			fprintf(stderr, "passthrough_ll: "
				"FUSE_DEV_IOC_BACKING_OPEN: %s\n",
				strerror(-id));
			close(fd);
			if (e)
				forget_one(e->ino, 1);
			fuse_reply_err(req, EIO);
			return;
		}
		tls_patch.kind = e ? PATCH_CREATE : PATCH_OPEN;
		tls_patch.backing_id = id;
		tls_patch.done = 0;
	}
	res = e ? fuse_reply_create(req, e, fi) : fuse_reply_open(req, fi);
	if (g_passthrough) {
		if (!tls_patch.done && !res)
			fprintf(stderr, "passthrough_ll: open reply not "
				"patched for passthrough\n");
		tls_patch.kind = PATCH_NONE;
	}
	if (res == -ENOENT) {	/* interrupted: no RELEASE will come */
		close(fd);
		if (e)
			forget_one(e->ino, 1);
	}
}

static void lo_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lo_inode *in = lo_inode(ino);
	char path[64];
	int fd;

	COUNT(FUSE_OPEN);
	proc_path(path, sizeof(path), in->fd);
	fd = open(path, source_open_flags(fi->flags));
	if (fd == -1) {
		fuse_reply_err(req, errno);
		return;
	}
	reply_open(req, in, fd, fi, NULL);
}

static void lo_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int fd, err;

	COUNT(FUSE_CREATE);
	fd = openat(lo_fd(parent), name,
		    source_open_flags(fi->flags) | O_CREAT |
		    (fi->flags & O_EXCL), mode);
	if (fd == -1) {
		fuse_reply_err(req, errno);
		return;
	}
	err = do_lookup(parent, name, &e);
	if (err) {
		close(fd);
		fuse_reply_err(req, err);
		return;
	}
	reply_open(req, lo_inode(e.ino), fd, fi, &e);
}

static void lo_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	(void) ino;
	COUNT(FUSE_READ);
	/* an fd buffer: libfuse splices file -> pipe -> /dev/fuse */
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fi->fh;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void lo_write_buf(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_bufvec *in_buf, off_t off,
			 struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in_buf));
	ssize_t res;

	(void) ino;
	COUNT(FUSE_WRITE);
	/* from the request (memory, or a pipe with splice read) to the file */
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = fi->fh;
	out.buf[0].pos = off;
	res = fuse_buf_copy(&out, in_buf, 0);
	if (res < 0)
		fuse_reply_err(req, -res);
	else
		fuse_reply_write(req, res);
}

static void lo_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void) ino;
	COUNT(FUSE_FLUSH);
	/* what close() of one of the caller's fds would do on the source */
	fuse_reply_err(req, close(dup(fi->fh)) ? errno : 0);
}

static void lo_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void) ino;
	COUNT(FUSE_RELEASE);
	close(fi->fh);
	fuse_reply_err(req, 0);
}

static void lo_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	(void) ino;
	COUNT(FUSE_FSYNC);
	fuse_reply_err(req, (datasync ? fdatasync(fi->fh) : fsync(fi->fh)) ?
		       errno : 0);
}

/*
 * An open directory: the stream and where the kernel is in it.  The stream
 * is opened with openat(fd, ".") rather than on a dup() of the inode's fd:
 * getdents() does not work on an O_PATH fd.
 */
struct lo_dirp {
	DIR *dp;
	off_t offset;
	struct dirent *entry;	/* read but not yet replied */
};

static inline struct lo_dirp *lo_dirp(struct fuse_file_info *fi)
{
	return (struct lo_dirp *) (uintptr_t) fi->fh;
}

static void lo_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct lo_dirp *d = calloc(1, sizeof(*d));
	int fd, err;

	COUNT(FUSE_OPENDIR);
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* an O_PATH fd cannot be read, so open the directory itself */
	fd = openat(lo_fd(ino), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		goto out_err;
	d->dp = fdopendir(fd);
	if (!d->dp) {
		err = errno;
		close(fd);
		errno = err;
		goto out_err;
	}
	fi->fh = (uintptr_t) d;
	if (opt.keep_cache) {
		fi->keep_cache = 1;
		fi->cache_readdir = 1;
	}
	if (fuse_reply_open(req, fi) == -ENOENT) {
		closedir(d->dp);
		free(d);
	}
	return;
out_err:
	err = errno;
	free(d);
	fuse_reply_err(req, err);
}

static inline int is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' &&
		(name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi, int plus)
{
	struct lo_dirp *d = lo_dirp(fi);
	char *buf = malloc(size), *p = buf;
	size_t rem = size;
	int err = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off != d->offset) {
		seekdir(d->dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	for (;;) {
		const char *name;
		size_t entsize;
		off_t nextoff;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;	/* 0 at the end */
				break;
			}
		}
		name = d->entry->d_name;
		nextoff = d->entry->d_off;	/* what telldir() gives next */
		if (plus) {
			struct fuse_entry_param e;

			if (is_dot_or_dotdot(name)) {
				/* no inode for these: the kernel skips them */
				memset(&e, 0, sizeof(e));
				e.attr.st_ino = d->entry->d_ino;
				e.attr.st_mode = d->entry->d_type << 12;
			} else {
				err = do_lookup(ino, name, &e);
				if (err)
					break;
			}
			entsize = fuse_add_direntry_plus(req, p, rem, name,
							 &e, nextoff);
			if (entsize > rem) {
				if (e.ino)
					forget_one(e.ino, 1);
				break;
			}
		} else {
			struct stat st = {
				.st_ino = d->entry->d_ino,
				.st_mode = d->entry->d_type << 12,
			};

			entsize = fuse_add_direntry(req, p, rem, name, &st,
						    nextoff);
			if (entsize > rem)
				break;
		}
		p += entsize;
		rem -= entsize;
		d->entry = NULL;
		d->offset = nextoff;
	}
	/* an error after some entries: reply those, it comes again */
	if (err && rem == size)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void lo_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	COUNT(FUSE_READDIR);
	do_readdir(req, ino, size, off, fi, 0);
}

static void lo_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	COUNT(FUSE_READDIRPLUS);
	do_readdir(req, ino, size, off, fi, 1);
}

static void lo_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct lo_dirp *d = lo_dirp(fi);

	(void) ino;
	COUNT(FUSE_RELEASEDIR);
	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

static void lo_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	int fd = dirfd(lo_dirp(fi)->dp);

	(void) ino;
	COUNT(FUSE_FSYNCDIR);
	fuse_reply_err(req, (datasync ? fdatasync(fd) : fsync(fd)) ?
		       errno : 0);
}

static void lo_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;

	COUNT(FUSE_STATFS);
	if (fstatvfs(lo_fd(ino), &st))
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &st);
}

static void lo_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi)
{
	(void) ino;
	COUNT(FUSE_FALLOCATE);
	fuse_reply_err(req, fallocate(fi->fh, mode, offset, length) ?
		       errno : 0);
}

static void lo_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
			       off_t off_in, struct fuse_file_info *fi_in,
			       fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len,
			       int flags)
{
	ssize_t res;

	(void) ino_in;
	(void) ino_out;
	COUNT(FUSE_COPY_FILE_RANGE);
	res = copy_file_range(fi_in->fh, &off_in, fi_out->fh, &off_out, len,
			      flags);
	if (res < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, res);
}

static void lo_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	off_t res;

	(void) ino;
	COUNT(FUSE_LSEEK);
	res = lseek(fi->fh, off, whence);
	if (res == -1)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, res);
}

/* xattrs go through the proc path of the O_PATH fd (f*xattr refuse it) */

static void lo_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	char path[64], *buf = NULL;
	ssize_t n;

	COUNT(FUSE_GETXATTR);
	proc_path(path, sizeof(path), lo_fd(ino));
	if (size) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	n = getxattr(path, name, buf, size);
	if (n == -1)
		fuse_reply_err(req, errno);
	else if (size)
		fuse_reply_buf(req, buf, n);
	else
		fuse_reply_xattr(req, n);
	free(buf);
}

static void lo_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char path[64], *buf = NULL;
	ssize_t n;

	COUNT(FUSE_LISTXATTR);
	proc_path(path, sizeof(path), lo_fd(ino));
	if (size) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	n = listxattr(path, buf, size);
	if (n == -1)
		fuse_reply_err(req, errno);
	else if (size)
		fuse_reply_buf(req, buf, n);
	else
		fuse_reply_xattr(req, n);
	free(buf);
}

static void lo_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	char path[64];

	COUNT(FUSE_SETXATTR);
	proc_path(path, sizeof(path), lo_fd(ino));
	fuse_reply_err(req, setxattr(path, name, value, size, flags) ?
		       errno : 0);
}

static void lo_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	char path[64];

	COUNT(FUSE_REMOVEXATTR);
	proc_path(path, sizeof(path), lo_fd(ino));
	fuse_reply_err(req, removexattr(path, name) ? errno : 0);
}

static void lo_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	char path[64];

	COUNT(FUSE_ACCESS);
	proc_path(path, sizeof(path), lo_fd(ino));
	fuse_reply_err(req, access(path, mask) ? errno : 0);
}

static const struct fuse_lowlevel_ops lo_ops = {
	.init = lo_init,
	.lookup = lo_lookup,
	.forget = lo_forget,
	.forget_multi = lo_forget_multi,
	.getattr = lo_getattr,
	.setattr = lo_setattr,
	.readlink = lo_readlink,
	.mknod = lo_mknod,
	.mkdir = lo_mkdir,
	.symlink = lo_symlink,
	.link = lo_link,
	.unlink = lo_unlink,
	.rmdir = lo_rmdir,
	.rename = lo_rename,
	.open = lo_open,
	.create = lo_create,
	.read = lo_read,
	.write_buf = lo_write_buf,
	.flush = lo_flush,
	.release = lo_release,
	.fsync = lo_fsync,
	.opendir = lo_opendir,
	.readdir = lo_readdir,
	.readdirplus = lo_readdirplus,
	.releasedir = lo_releasedir,
	.fsyncdir = lo_fsyncdir,
	.statfs = lo_statfs,
	.fallocate = lo_fallocate,
	.copy_file_range = lo_copy_file_range,
	.lseek = lo_lseek,
	.getxattr = lo_getxattr,
	.listxattr = lo_listxattr,
	.setxattr = lo_setxattr,
	.removexattr = lo_removexattr,
	.access = lo_access,
	/* no getlk/setlk/flock: the kernel keeps locks local */
};

/* ------------------------------------------------------------------------ */
/* Command line and main                                                    */

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
"usage: %s [options] SOURCE MOUNTPOINT\n"
"  -t, --timeout=SEC          entry, negative entry and attr timeout (86400)\n"
"      --entry-timeout=SEC    --attr-timeout=SEC    --negative-timeout=SEC\n"
"      --no-writeback         no writeback cache\n"
"      --no-splice            no splice read/write/move\n"
"      --no-keep-cache        no FOPEN_KEEP_CACHE, no cached readdir\n"
"      --readdirplus=MODE     always (default), auto or no\n"
"      --no-cache-symlinks    --no-parallel-dirops\n"
"      --max-background=N     kernel limit of background requests\n"
"  -s, --single               single-threaded\n"
"      --threads=N            most worker threads (10)\n"
"      --no-clone-fd          workers share one /dev/fuse fd\n"
"      --passthrough[=DEPTH]  FOPEN_PASSTHROUGH, max_stack_depth DEPTH (1)\n"
"      --killpriv-v2          FUSE_HANDLE_KILLPRIV_V2 (no GETXATTR per write)\n"
"      --log=FILE             request counts by opcode at exit and SIGUSR1\n"
"      --pidfile=FILE         write the pid once mounted\n"
"  -b, --background           detach once mounted\n"
"  -o OPT[,OPT...]            mount options (allow_other, ...)\n"
"  -d, --debug                libfuse debug output\n", prog);
}

static double parse_seconds(const char *s, const char *what)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < 0) {
		fprintf(stderr, "passthrough_ll: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

static int parse_int(const char *s, const char *what, int min)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v < min || v > INT_MAX) {
		fprintf(stderr, "passthrough_ll: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

/* An absolute path: the server may chdir("/") when it detaches */
static char *absolute(const char *path)
{
	char cwd[PATH_MAX], *res;

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return strdup(path);
	if (asprintf(&res, "%s/%s", cwd, path) < 0)
		return NULL;
	return res;
}

enum {
	OPT_ENTRY = 256, OPT_ATTR, OPT_NEGATIVE, OPT_NO_WRITEBACK,
	OPT_NO_SPLICE, OPT_NO_KEEP_CACHE, OPT_READDIRPLUS,
	OPT_NO_CACHE_SYMLINKS, OPT_NO_PARALLEL_DIROPS, OPT_MAX_BACKGROUND,
	OPT_THREADS, OPT_NO_CLONE_FD, OPT_PASSTHROUGH, OPT_KILLPRIV_V2,
	OPT_LOG, OPT_PIDFILE,
};

static const struct option long_opts[] = {
	{ "timeout", required_argument, NULL, 't' },
	{ "entry-timeout", required_argument, NULL, OPT_ENTRY },
	{ "attr-timeout", required_argument, NULL, OPT_ATTR },
	{ "negative-timeout", required_argument, NULL, OPT_NEGATIVE },
	{ "no-writeback", no_argument, NULL, OPT_NO_WRITEBACK },
	{ "no-splice", no_argument, NULL, OPT_NO_SPLICE },
	{ "no-keep-cache", no_argument, NULL, OPT_NO_KEEP_CACHE },
	{ "readdirplus", required_argument, NULL, OPT_READDIRPLUS },
	{ "no-cache-symlinks", no_argument, NULL, OPT_NO_CACHE_SYMLINKS },
	{ "no-parallel-dirops", no_argument, NULL, OPT_NO_PARALLEL_DIROPS },
	{ "max-background", required_argument, NULL, OPT_MAX_BACKGROUND },
	{ "single", no_argument, NULL, 's' },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "no-clone-fd", no_argument, NULL, OPT_NO_CLONE_FD },
	{ "passthrough", optional_argument, NULL, OPT_PASSTHROUGH },
	{ "killpriv-v2", no_argument, NULL, OPT_KILLPRIV_V2 },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "pidfile", required_argument, NULL, OPT_PIDFILE },
	{ "background", no_argument, NULL, 'b' },
	{ "debug", no_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *cfg;
	struct stat st;
	pthread_t log_thread;
	struct rlimit rl;
	sigset_t set;
	int c, ret = 1;

	/* One O_PATH descriptor per inode known: as many as allowed */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	while ((c = getopt_long(argc, argv, "t:sbo:dh", long_opts,
				NULL)) != -1) {
		switch (c) {
		case 't':
			opt.entry_timeout = opt.attr_timeout =
				opt.negative_timeout =
				parse_seconds(optarg, "timeout");
			break;
		case OPT_ENTRY:
			opt.entry_timeout = parse_seconds(optarg, "timeout");
			break;
		case OPT_ATTR:
			opt.attr_timeout = parse_seconds(optarg, "timeout");
			break;
		case OPT_NEGATIVE:
			opt.negative_timeout = parse_seconds(optarg, "timeout");
			break;
		case OPT_NO_WRITEBACK:
			opt.writeback = 0;
			break;
		case OPT_NO_SPLICE:
			opt.splice = 0;
			break;
		case OPT_NO_KEEP_CACHE:
			opt.keep_cache = 0;
			break;
		case OPT_READDIRPLUS:
			if (!strcmp(optarg, "always"))
				opt.readdirplus = RDP_ALWAYS;
			else if (!strcmp(optarg, "auto"))
				opt.readdirplus = RDP_AUTO;
			else if (!strcmp(optarg, "no"))
				opt.readdirplus = RDP_NO;
			else {
				fprintf(stderr, "passthrough_ll: bad "
					"readdirplus mode: %s\n", optarg);
				return 2;
			}
			break;
		case OPT_NO_CACHE_SYMLINKS:
			opt.cache_symlinks = 0;
			break;
		case OPT_NO_PARALLEL_DIROPS:
			opt.parallel_dirops = 0;
			break;
		case OPT_MAX_BACKGROUND:
			opt.max_background = parse_int(optarg,
						       "max-background", 1);
			break;
		case 's':
			opt.single = 1;
			break;
		case OPT_THREADS:
			opt.threads = parse_int(optarg, "threads", 1);
			break;
		case OPT_NO_CLONE_FD:
			opt.clone_fd = 0;
			break;
		case OPT_PASSTHROUGH:
			opt.passthrough = 1;
			/* FILESYSTEM_MAX_STACK_DEPTH is 2 */
			if (optarg)
				opt.stack_depth = parse_int(optarg,
							    "stack depth", 1);
			if (opt.stack_depth > 2) {
				fprintf(stderr, "passthrough_ll: stack depth "
					"is 1 or 2\n");
				return 2;
			}
			break;
		case OPT_KILLPRIV_V2:
			opt.killpriv_v2 = 1;
			break;
		case OPT_LOG:
			opt.log = absolute(optarg);
			break;
		case OPT_PIDFILE:
			opt.pidfile = absolute(optarg);
			break;
		case 'b':
			opt.background = 1;
			break;
		case 'o':
			if (!args.argc)
				fuse_opt_add_arg(&args, argv[0]);
			fuse_opt_add_arg(&args, "-o");
			fuse_opt_add_arg(&args, optarg);
			break;
		case 'd':
			opt.debug = 1;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr, argv[0]);
		return 2;
	}
	opt.source = argv[optind];
	opt.mountpoint = argv[optind + 1];
	g_log = opt.log != NULL;
	init_handled();
	if (pthread_key_create(&peek_key, peek_free))
		return 1;

	if (!args.argc)
		fuse_opt_add_arg(&args, argv[0]);
	fuse_opt_add_arg(&args, "-o");
	fuse_opt_add_arg(&args, "subtype=passthrough_ll");
	{
		char *src = realpath(opt.source, NULL), *o;

		/* fsname: the source, as the mount table shows it */
		if (src && !strchr(src, ',') &&
		    asprintf(&o, "fsname=%s", src) >= 0) {
			fuse_opt_add_arg(&args, "-o");
			fuse_opt_add_arg(&args, o);
			free(o);
		}
		free(src);
	}
	if (opt.debug)
		fuse_opt_add_arg(&args, "-d");

	/* Modes come masked by the caller's umask already */
	umask(0);

	root.fd = open(opt.source, O_PATH | O_CLOEXEC);
	if (root.fd == -1 || fstat(root.fd, &st)) {
		fprintf(stderr, "passthrough_ll: %s: %s\n", opt.source,
			strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "passthrough_ll: %s: not a directory\n",
			opt.source);
		return 1;
	}
	root.dev = st.st_dev;
	root.ino = st.st_ino;
	root.type = S_IFDIR;
	root.nlookup = 2;	/* never dropped */
	itab.nbuckets = 1024;
	itab.bucket = calloc(itab.nbuckets, sizeof(*itab.bucket));
	if (!itab.bucket)
		return 1;
	itab_insert(&root);

	g_se = fuse_session_new(&args, &lo_ops, sizeof(lo_ops), NULL);
	if (!g_se)
		goto out_args;
	if (fuse_set_signal_handlers(g_se))
		goto out_session;
	if (fuse_session_mount(g_se, opt.mountpoint))
		goto out_signals;
	/* the same fd, with our hooks around its reads and writes */
	if (fuse_session_custom_io(g_se, &session_io, fuse_session_fd(g_se)))
		goto out_unmount;
	if (opt.background && fuse_daemonize(0))
		goto out_unmount;
	if (opt.pidfile) {
		FILE *f = fopen(opt.pidfile, "w");

		if (f) {
			fprintf(f, "%d\n", (int) getpid());
			fclose(f);
		}
	}
	if (g_log) {
		pthread_attr_t attr;
		sigset_t all;

		/* only the log thread takes SIGUSR1; it blocks the rest */
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &set);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&log_thread, &attr, log_signal_thread,
				   NULL))
			perror("passthrough_ll: log thread");
		pthread_attr_destroy(&attr);
		pthread_sigmask(SIG_SETMASK, &set, NULL);
	}

	if (opt.single) {
		ret = fuse_session_loop(g_se);
	} else {
		cfg = fuse_loop_cfg_create();
		if (!cfg)
			goto out_unmount;
		fuse_loop_cfg_set_clone_fd(cfg, opt.clone_fd);
		fuse_loop_cfg_set_max_threads(cfg, opt.threads);
		/* keep the workers: no thread churn between bursts */
		fuse_loop_cfg_set_idle_threads(cfg, opt.threads);
		ret = fuse_session_loop_mt(g_se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	/* 0: unmounted; > 0: the signal that stopped us; < 0: an error */
	ret = ret < 0 || g_passthrough_failed;

out_unmount:
	fuse_session_unmount(g_se);
	write_log();
out_signals:
	fuse_remove_signal_handlers(g_se);
out_session:
	fuse_session_destroy(g_se);
out_args:
	fuse_opt_free_args(&args);
	if (opt.pidfile)
		unlink(opt.pidfile);
	return ret;
}
