// SPDX-License-Identifier: GPL-2.0
/*
 * Minimal FUSE daemon for the fuse-bpf selftests, see test_daemon.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "test_daemon.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif

/* How often the daemon thread looks at the stop flag */
#define TD_POLL_MS		100
/*
 * Read buffer: the kernel refuses reads smaller than a full WRITE request,
 * i.e. headers plus max_write bytes of data.
 */
#define TD_BUF_SIZE		(TD_MAX_WRITE + 4096)

struct td_handler {
	__u32 opcode;
	td_handler_fn fn;
	void *priv;
};

struct test_daemon {
	int fd;
	pthread_t thread;
	bool started;

	/* Held while a handler runs, see test_daemon_lock() */
	pthread_mutex_t handler_lock;

	/* Protects everything below */
	pthread_mutex_t lock;
	/* Signalled when the thread exits or FUSE_INIT was answered */
	pthread_cond_t exit_cond;
	__u64 init_flags;
	bool init_done;
	/* Requests logged whose reply is not sent yet */
	unsigned int replying;
	bool stop;
	bool exited;
	bool disconnected;
	unsigned int nr_errors;
	unsigned int nr_unexpected;
	struct td_handler handlers[TD_MAX_HANDLERS];
	unsigned int nr_handlers;
	struct td_log_entry log[TD_LOG_SIZE];
	size_t log_len;

	/* Only used by the daemon thread */
	__u8 in_buf[TD_BUF_SIZE];
	__u8 out_buf[TD_BUF_SIZE];
	/* A reply in one piece, as FUSE_DEV_IOC_BPF_REPLY takes it */
	__u8 reply_buf[sizeof(struct fuse_out_header) + TD_BUF_SIZE];
};

static const char * const td_opcode_names[] = {
	[FUSE_LOOKUP]		= "LOOKUP",
	[FUSE_FORGET]		= "FORGET",
	[FUSE_GETATTR]		= "GETATTR",
	[FUSE_SETATTR]		= "SETATTR",
	[FUSE_READLINK]		= "READLINK",
	[FUSE_SYMLINK]		= "SYMLINK",
	[FUSE_MKNOD]		= "MKNOD",
	[FUSE_MKDIR]		= "MKDIR",
	[FUSE_UNLINK]		= "UNLINK",
	[FUSE_RMDIR]		= "RMDIR",
	[FUSE_RENAME]		= "RENAME",
	[FUSE_LINK]		= "LINK",
	[FUSE_OPEN]		= "OPEN",
	[FUSE_READ]		= "READ",
	[FUSE_WRITE]		= "WRITE",
	[FUSE_STATFS]		= "STATFS",
	[FUSE_RELEASE]		= "RELEASE",
	[FUSE_FSYNC]		= "FSYNC",
	[FUSE_SETXATTR]		= "SETXATTR",
	[FUSE_GETXATTR]		= "GETXATTR",
	[FUSE_LISTXATTR]	= "LISTXATTR",
	[FUSE_REMOVEXATTR]	= "REMOVEXATTR",
	[FUSE_FLUSH]		= "FLUSH",
	[FUSE_INIT]		= "INIT",
	[FUSE_OPENDIR]		= "OPENDIR",
	[FUSE_READDIR]		= "READDIR",
	[FUSE_RELEASEDIR]	= "RELEASEDIR",
	[FUSE_FSYNCDIR]		= "FSYNCDIR",
	[FUSE_GETLK]		= "GETLK",
	[FUSE_SETLK]		= "SETLK",
	[FUSE_SETLKW]		= "SETLKW",
	[FUSE_ACCESS]		= "ACCESS",
	[FUSE_CREATE]		= "CREATE",
	[FUSE_INTERRUPT]	= "INTERRUPT",
	[FUSE_BMAP]		= "BMAP",
	[FUSE_DESTROY]		= "DESTROY",
	[FUSE_IOCTL]		= "IOCTL",
	[FUSE_POLL]		= "POLL",
	[FUSE_NOTIFY_REPLY]	= "NOTIFY_REPLY",
	[FUSE_BATCH_FORGET]	= "BATCH_FORGET",
	[FUSE_FALLOCATE]	= "FALLOCATE",
	[FUSE_READDIRPLUS]	= "READDIRPLUS",
	[FUSE_RENAME2]		= "RENAME2",
	[FUSE_LSEEK]		= "LSEEK",
	[FUSE_COPY_FILE_RANGE]	= "COPY_FILE_RANGE",
	[FUSE_SETUPMAPPING]	= "SETUPMAPPING",
	[FUSE_REMOVEMAPPING]	= "REMOVEMAPPING",
	[FUSE_SYNCFS]		= "SYNCFS",
	[FUSE_TMPFILE]		= "TMPFILE",
};

const char *td_opcode_name(__u32 opcode)
{
	if (opcode < ARRAY_SIZE(td_opcode_names) && td_opcode_names[opcode])
		return td_opcode_names[opcode];
	return "?";
}

int test_fuse_mount(const char *dir, const char *extra_opts)
{
	bool has_extra = extra_opts && *extra_opts;
	char opts[512];
	int fd, len, err;

	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;

	len = snprintf(opts, sizeof(opts),
		       "fd=%d,rootmode=40000,user_id=0,group_id=0%s%s",
		       fd, has_extra ? "," : "", has_extra ? extra_opts : "");
	if (len < 0 || len >= (int)sizeof(opts)) {
		close(fd);
		return -E2BIG;
	}

	if (mount("fuse_test", dir, "fuse", 0, opts)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int test_fuse_umount(const char *dir)
{
	if (!umount2(dir, 0))
		return 0;
	/* Do not leave the mount behind because of a stray reference */
	if (errno == EBUSY && !umount2(dir, MNT_DETACH))
		return 0;
	return -errno;
}

struct test_daemon *test_daemon_create(int fuse_fd)
{
	struct test_daemon *td;
	pthread_condattr_t attr;

	td = calloc(1, sizeof(*td));
	if (!td)
		return NULL;

	td->fd = fuse_fd;
	pthread_mutex_init(&td->handler_lock, NULL);
	pthread_mutex_init(&td->lock, NULL);
	/* test_daemon_stop() computes its deadline on CLOCK_MONOTONIC */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&td->exit_cond, &attr);
	pthread_condattr_destroy(&attr);
	return td;
}

void test_daemon_set_init_flags(struct test_daemon *td, __u64 flags)
{
	pthread_mutex_lock(&td->lock);
	td->init_flags = flags;
	pthread_mutex_unlock(&td->lock);
}

int test_daemon_set_handler(struct test_daemon *td, __u32 opcode,
			    td_handler_fn fn, void *priv)
{
	struct td_handler *h = NULL;
	unsigned int i;
	int ret = 0;

	pthread_mutex_lock(&td->lock);
	for (i = 0; i < td->nr_handlers; i++) {
		if (td->handlers[i].opcode == opcode) {
			h = &td->handlers[i];
			break;
		}
	}
	if (!h) {
		if (td->nr_handlers < TD_MAX_HANDLERS)
			h = &td->handlers[td->nr_handlers++];
		else
			ret = -ENOSPC;
	}
	if (h) {
		h->opcode = opcode;
		h->fn = fn;
		h->priv = priv;
	}
	pthread_mutex_unlock(&td->lock);
	return ret;
}

static bool td_find_handler(struct test_daemon *td, __u32 opcode,
			    td_handler_fn *fn, void **priv)
{
	unsigned int i;
	bool found = false;

	pthread_mutex_lock(&td->lock);
	for (i = 0; i < td->nr_handlers; i++) {
		if (td->handlers[i].opcode == opcode && td->handlers[i].fn) {
			*fn = td->handlers[i].fn;
			*priv = td->handlers[i].priv;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&td->lock);
	return found;
}

/* Count and explain a daemon side problem; tests fail on any of them */
static void td_error(struct test_daemon *td, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&td->lock);
	td->nr_errors++;
	pthread_mutex_unlock(&td->lock);

	va_start(ap, fmt);
	fprintf(stderr, "# test_daemon: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

/* Returns the index of the new log entry */
static size_t td_log(struct test_daemon *td, const struct fuse_in_header *in,
		     const char *name, int error, bool unexpected)
{
	struct td_log_entry *e;
	size_t idx;

	pthread_mutex_lock(&td->lock);
	idx = td->log_len;
	if (in->opcode != FUSE_FORGET && in->opcode != FUSE_BATCH_FORGET)
		td->replying++;
	/* Record overflow as one entry past the end, see test_daemon_expect() */
	if (td->log_len < TD_LOG_SIZE) {
		e = &td->log[td->log_len];
		memset(e, 0, sizeof(*e));
		e->opcode = in->opcode;
		e->nodeid = in->nodeid;
		e->unique = in->unique;
		e->error = error;
		e->unexpected = unexpected;
		if (name)
			snprintf(e->name, sizeof(e->name), "%s", name);
	}
	td->log_len++;
	if (unexpected)
		td->nr_unexpected++;
	pthread_mutex_unlock(&td->lock);
	return idx;
}

/* The reply to log entry @idx went out: record how it went */
static void td_replied(struct test_daemon *td, size_t idx,
		       int write_errno, int ioctl_errno)
{
	pthread_mutex_lock(&td->lock);
	if (idx < TD_LOG_SIZE) {
		td->log[idx].write_errno = write_errno;
		td->log[idx].ioctl_errno = ioctl_errno;
	}
	td->replying--;
	pthread_cond_broadcast(&td->exit_cond);
	pthread_mutex_unlock(&td->lock);
}

/* The name argument of requests whose argument is just a name */
static const char *td_req_name(const struct td_req *req)
{
	const char *name = req->arg;

	switch (req->in->opcode) {
	case FUSE_LOOKUP:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
		if (req->arg_len && !name[req->arg_len - 1])
			return name;
		return "<malformed>";
	default:
		return NULL;
	}
}

/* Built-in FUSE_INIT: negotiate the protocol version of our header */
static int td_init_reply(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_init_in *in = req->arg;
	struct fuse_init_out *out = req->out;
	__u64 flags;

	/* The version fields come first and are present in all versions */
	if (req->arg_len < 2 * sizeof(__u32) ||
	    in->major != FUSE_KERNEL_VERSION) {
		td_error(td, "FUSE_INIT: unsupported kernel protocol");
		return -EPROTO;
	}

	pthread_mutex_lock(&td->lock);
	flags = td->init_flags;
	pthread_mutex_unlock(&td->lock);

	out->major = FUSE_KERNEL_VERSION;
	out->minor = FUSE_KERNEL_MINOR_VERSION;
	if (req->arg_len >= 3 * sizeof(__u32))
		out->max_readahead = in->max_readahead;
	out->flags = (__u32)flags;
	out->flags2 = (__u32)(flags >> 32);
	if (out->flags2)
		out->flags |= FUSE_INIT_EXT;
	out->max_background = 16;
	out->congestion_threshold = 12;
	out->max_write = TD_MAX_WRITE;
	out->time_gran = 1;
	req->out_len = sizeof(*out);
	return 0;
}

/*
 * Send a reply as @via says.  The errno of a failed write(2) and of a
 * failed ioctl go to *@write_errno and *@ioctl_errno.
 */
static int td_reply(struct test_daemon *td, __u64 unique, int error,
		    const void *data, size_t len, enum td_reply_via via,
		    int *write_errno, int *ioctl_errno)
{
	struct fuse_out_header out = {
		.len = sizeof(out) + len,
		.error = error,
		.unique = unique,
	};
	struct iovec iov[] = {
		{ .iov_base = &out, .iov_len = sizeof(out) },
		{ .iov_base = (void *)data, .iov_len = len },
	};
	struct fuse_bpf_reply reply = {
		.buf = (uintptr_t)td->reply_buf,
		.len = out.len,
	};
	ssize_t ret;

	if (via != TD_REPLY_IOCTL) {
		ret = writev(td->fd, iov, len ? 2 : 1);
		if (ret == out.len)
			return 0;
		*write_errno = ret < 0 ? errno : EIO;
		if (via == TD_REPLY_WRITE) {
			td_error(td, "reply to unique %llu failed: %s",
				 (unsigned long long)unique,
				 strerror(*write_errno));
			return -*write_errno;
		}
	}

	memcpy(td->reply_buf, &out, sizeof(out));
	memcpy(td->reply_buf + sizeof(out), data, len);
	if (ioctl(td->fd, FUSE_DEV_IOC_BPF_REPLY, &reply)) {
		*ioctl_errno = errno;
		return -errno;
	}
	return 0;
}

static void td_handle(struct test_daemon *td, size_t len)
{
	const struct fuse_in_header *in = (const void *)td->in_buf;
	struct td_req req = {
		.in = in,
		.arg = in + 1,
		.arg_len = len - sizeof(*in),
		.out = td->out_buf,
		.out_size = sizeof(td->out_buf),
	};
	int write_errno = 0, ioctl_errno = 0;
	td_handler_fn fn = NULL;
	bool unexpected = false;
	size_t idx;
	int err;

	if (len < sizeof(*in) || in->len != len) {
		td_error(td, "bad request: read %zu bytes, header says %u",
			 len, len >= sizeof(*in) ? in->len : 0);
		return;
	}

	memset(td->out_buf, 0, sizeof(td->out_buf));
	td_find_handler(td, in->opcode, &fn, &req.priv);

	pthread_mutex_lock(&td->handler_lock);
	if (in->opcode == FUSE_INIT) {
		err = td_init_reply(td, &req);
		if (!err && fn)
			err = fn(td, &req);
	} else if (fn) {
		err = fn(td, &req);
	} else {
		unexpected = true;
		err = TD_UNEXPECTED_ERROR;
	}
	pthread_mutex_unlock(&td->handler_lock);

	if (err > 0 || req.out_len > req.out_size) {
		td_error(td, "%s handler: bad return %d / reply length %zu",
			 td_opcode_name(in->opcode), err, req.out_len);
		err = -EIO;
	}

	/* No reply goes with FORGET: record that as "no error" */
	if (in->opcode == FUSE_FORGET || in->opcode == FUSE_BATCH_FORGET)
		err = 0;

	/*
	 * Log before replying: the reply lets the test's syscall return, and
	 * the test must find the request in the log by then.
	 */
	idx = td_log(td, in, td_req_name(&req), err, unexpected);

	if (in->opcode == FUSE_FORGET || in->opcode == FUSE_BATCH_FORGET)
		return;

	if (err)
		err = td_reply(td, in->unique, err, NULL, 0, TD_REPLY_WRITE,
			       &write_errno, &ioctl_errno);
	else
		err = td_reply(td, in->unique, 0, req.out, req.out_len,
			       req.reply_via, &write_errno, &ioctl_errno);
	if (!err && in->opcode == FUSE_INIT) {
		pthread_mutex_lock(&td->lock);
		td->init_done = true;
		pthread_mutex_unlock(&td->lock);
	}
	td_replied(td, idx, write_errno, ioctl_errno);
}

static bool td_should_stop(struct test_daemon *td)
{
	bool stop;

	pthread_mutex_lock(&td->lock);
	stop = td->stop;
	pthread_mutex_unlock(&td->lock);
	return stop;
}

static void *td_thread(void *arg)
{
	struct test_daemon *td = arg;
	struct pollfd pfd = { .fd = td->fd, .events = POLLIN };
	bool disconnected = false;
	ssize_t len;
	int ret;

	/*
	 * Poll with a timeout rather than block in read(), so that a test
	 * which never unmounts still gets its daemon back.
	 */
	while (!td_should_stop(td)) {
		ret = poll(&pfd, 1, TD_POLL_MS);
		if (ret < 0 && errno != EINTR) {
			td_error(td, "poll: %s", strerror(errno));
			break;
		}
		if (ret <= 0)
			continue;

		len = read(td->fd, td->in_buf, sizeof(td->in_buf));
		if (len < 0) {
			/* The connection is gone: unmounted or aborted */
			if (errno == ENODEV) {
				disconnected = true;
				break;
			}
			/* ENOENT: the request was interrupted, just go on */
			if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
				continue;
			td_error(td, "read: %s", strerror(errno));
			break;
		}
		td_handle(td, len);
	}

	pthread_mutex_lock(&td->lock);
	td->disconnected = disconnected;
	td->exited = true;
	pthread_cond_broadcast(&td->exit_cond);
	pthread_mutex_unlock(&td->lock);
	return NULL;
}

int test_daemon_start(struct test_daemon *td)
{
	int flags, ret;

	if (td->started)
		return -EBUSY;

	/* Never block in read(), see td_thread() */
	flags = fcntl(td->fd, F_GETFL);
	if (flags < 0 || fcntl(td->fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;

	ret = pthread_create(&td->thread, NULL, td_thread, td);
	if (ret)
		return -ret;
	td->started = true;
	return 0;
}

static void td_deadline(struct timespec *deadline, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += timeout_ms / 1000;
	deadline->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline->tv_nsec >= 1000000000) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000;
	}
}

/*
 * Wait until @done says so or the daemon thread ended, at most @timeout_ms.
 * Returns 0 if @done holds, -ETIMEDOUT otherwise.
 */
static int td_wait(struct test_daemon *td, int timeout_ms,
		   bool (*done)(struct test_daemon *td))
{
	struct timespec deadline;
	bool ok;
	int ret = 0;

	td_deadline(&deadline, timeout_ms);
	pthread_mutex_lock(&td->lock);
	while (!done(td) && !td->exited && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&td->exit_cond, &td->lock,
					     &deadline);
	ok = done(td);
	pthread_mutex_unlock(&td->lock);
	return ok ? 0 : -ETIMEDOUT;
}

static bool td_init_done(struct test_daemon *td)
{
	return td->init_done;
}

static bool td_all_replied(struct test_daemon *td)
{
	return !td->replying;
}

int test_daemon_wait_init(struct test_daemon *td, int timeout_ms)
{
	return td_wait(td, timeout_ms, td_init_done);
}

int test_daemon_sync(struct test_daemon *td, int timeout_ms)
{
	return td_wait(td, timeout_ms, td_all_replied);
}

int test_daemon_stop(struct test_daemon *td, int timeout_ms)
{
	struct timespec deadline;
	bool disconnected, exited;
	int ret = 0;

	if (!td->started)
		return -EINVAL;

	td_deadline(&deadline, timeout_ms);

	pthread_mutex_lock(&td->lock);
	while (!td->exited && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&td->exit_cond, &td->lock,
					     &deadline);
	exited = td->exited;
	td->stop = true;
	pthread_mutex_unlock(&td->lock);

	pthread_join(td->thread, NULL);
	td->started = false;

	pthread_mutex_lock(&td->lock);
	disconnected = td->disconnected;
	pthread_mutex_unlock(&td->lock);

	if (!exited) {
		fprintf(stderr,
			"# test_daemon: connection still up after %d ms\n",
			timeout_ms);
		return -ETIMEDOUT;
	}
	return disconnected ? 0 : -EIO;
}

void test_daemon_lock(struct test_daemon *td)
{
	pthread_mutex_lock(&td->handler_lock);
}

void test_daemon_unlock(struct test_daemon *td)
{
	pthread_mutex_unlock(&td->handler_lock);
}

void test_daemon_destroy(struct test_daemon *td)
{
	if (!td)
		return;
	if (td->started)
		test_daemon_stop(td, 0);
	pthread_cond_destroy(&td->exit_cond);
	pthread_mutex_destroy(&td->lock);
	pthread_mutex_destroy(&td->handler_lock);
	free(td);
}

size_t test_daemon_get_log(struct test_daemon *td, struct td_log_entry *log,
			   size_t max)
{
	size_t len;

	pthread_mutex_lock(&td->lock);
	len = td->log_len;
	if (max > len)
		max = len;
	if (max > TD_LOG_SIZE)
		max = TD_LOG_SIZE;
	memcpy(log, td->log, max * sizeof(*log));
	pthread_mutex_unlock(&td->lock);
	return len;
}

void test_daemon_clear_log(struct test_daemon *td)
{
	pthread_mutex_lock(&td->lock);
	td->log_len = 0;
	pthread_mutex_unlock(&td->lock);
}

unsigned int test_daemon_errors(struct test_daemon *td)
{
	unsigned int nr;

	pthread_mutex_lock(&td->lock);
	nr = td->nr_errors;
	pthread_mutex_unlock(&td->lock);
	return nr;
}

unsigned int test_daemon_unexpected(struct test_daemon *td)
{
	unsigned int nr;

	pthread_mutex_lock(&td->lock);
	nr = td->nr_unexpected;
	pthread_mutex_unlock(&td->lock);
	return nr;
}

static void td_print_entry(const char *what, size_t i, __u32 opcode,
			   __u64 nodeid, const char *name)
{
	fprintf(stderr, "#   %s[%zu]: %s(%u) nodeid %llu%s%s%s\n", what, i,
		td_opcode_name(opcode), opcode, (unsigned long long)nodeid,
		name ? " name \"" : "", name ? name : "", name ? "\"" : "");
}

bool test_daemon_expect(struct test_daemon *td, const struct td_expect *exp,
			size_t nr)
{
	struct td_log_entry *log;
	size_t len, nr_log, i;
	unsigned int errors;
	bool ok = true;

	log = calloc(TD_LOG_SIZE, sizeof(*log));
	if (!log) {
		fprintf(stderr, "# test_daemon: out of memory\n");
		return false;
	}
	len = test_daemon_get_log(td, log, TD_LOG_SIZE);
	nr_log = len < TD_LOG_SIZE ? len : TD_LOG_SIZE;
	errors = test_daemon_errors(td);

	if (len > TD_LOG_SIZE) {
		fprintf(stderr, "# test_daemon: log overflow, %zu requests\n",
			len);
		ok = false;
	}
	if (errors) {
		fprintf(stderr, "# test_daemon: %u internal errors\n", errors);
		ok = false;
	}
	if (len != nr) {
		fprintf(stderr, "# test_daemon: got %zu requests, expected %zu\n",
			len, nr);
		ok = false;
	}
	for (i = 0; i < nr_log; i++) {
		if (log[i].unexpected) {
			fprintf(stderr,
				"# test_daemon: unexpected request %s(%u), no handler\n",
				td_opcode_name(log[i].opcode), log[i].opcode);
			ok = false;
		}
		if (i >= nr)
			continue;
		if (log[i].opcode != exp[i].opcode ||
		    log[i].nodeid != exp[i].nodeid ||
		    (exp[i].name && strcmp(log[i].name, exp[i].name))) {
			fprintf(stderr, "# test_daemon: request %zu differs\n",
				i);
			ok = false;
		}
	}

	if (!ok) {
		for (i = 0; i < nr; i++)
			td_print_entry("expected", i, exp[i].opcode,
				       exp[i].nodeid, exp[i].name);
		for (i = 0; i < nr_log; i++)
			td_print_entry("received", i, log[i].opcode,
				       log[i].nodeid,
				       log[i].name[0] ? log[i].name : NULL);
	}
	free(log);
	return ok;
}
