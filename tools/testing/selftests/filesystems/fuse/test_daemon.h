/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal FUSE daemon for the fuse-bpf selftests.
 *
 * It talks to /dev/fuse directly (no libfuse) so that a test controls the
 * reply to every request and can check the exact sequence of requests the
 * kernel sent.  Anything a test did not register a handler for is flagged
 * as unexpected and answered with TD_UNEXPECTED_ERROR.
 *
 * Typical use:
 *
 *	fd = test_fuse_mount(dir, NULL);
 *	td = test_daemon_create(fd);
 *	test_daemon_set_handler(td, FUSE_GETATTR, my_getattr, &my_state);
 *	test_daemon_start(td);
 *	... syscalls on dir ...
 *	test_daemon_expect(td, expected, ARRAY_SIZE(expected));
 *	test_fuse_umount(dir);
 *	test_daemon_stop(td, TD_STOP_TIMEOUT_MS);
 *	test_daemon_destroy(td);
 *	close(fd);
 */
#ifndef __FUSE_TEST_DAEMON_H
#define __FUSE_TEST_DAEMON_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/fuse.h>
#include <linux/types.h>

/* max_write offered in the FUSE_INIT reply */
#define TD_MAX_WRITE		(128 * 1024)
/* Number of requests the log can hold; more is reported as a failure */
#define TD_LOG_SIZE		256
/* Number of opcodes a test can register handlers for */
#define TD_MAX_HANDLERS		64
/* Room for a name argument (LOOKUP etc.) in a log entry, NUL included */
#define TD_NAME_LEN		256
/* Sane upper bound for the daemon to notice the connection went away */
#define TD_STOP_TIMEOUT_MS	5000
/*
 * Reply to requests without a handler.  Not "not implemented": the kernel
 * remembers that for the connection and fakes success for some opcodes
 * (OPEN, FLUSH, ...), which could hide the unexpected request from the test.
 */
#define TD_UNEXPECTED_ERROR	(-EIO)

/* How a handler's successful reply goes back to the kernel */
enum td_reply_via {
	/* write(2) on /dev/fuse, as every FUSE server does */
	TD_REPLY_WRITE,
	/* The fuse-bpf FUSE_DEV_IOC_BPF_REPLY ioctl */
	TD_REPLY_IOCTL,
	/* write(2) first, then the ioctl if the write failed */
	TD_REPLY_WRITE_THEN_IOCTL,
};

/* One request as seen by the daemon */
struct td_log_entry {
	__u32 opcode;
	__u64 nodeid;
	__u64 unique;
	/* Negative errno sent back, 0 for success or for no reply (FORGET) */
	int error;
	/* No handler was registered for this opcode */
	bool unexpected;
	/* Name argument of LOOKUP, UNLINK and RMDIR, "" otherwise */
	char name[TD_NAME_LEN];
	/* errno of the reply's write(2) and ioctl, 0 if not tried or fine */
	int write_errno;
	int ioctl_errno;
};

/* What a handler gets to look at and fill in */
struct td_req {
	const struct fuse_in_header *in;
	/* Opcode specific argument, following the header */
	const void *arg;
	size_t arg_len;
	/* Reply payload (without fuse_out_header), zeroed before the call */
	void *out;
	size_t out_size;
	/* Number of bytes of @out to send; set by the handler */
	size_t out_len;
	/* The pointer given to test_daemon_set_handler() */
	void *priv;
	/* How to send the reply; TD_REPLY_WRITE unless the handler says */
	enum td_reply_via reply_via;
};

struct test_daemon;

/*
 * Handlers run in the daemon thread.  Return 0 to reply with the first
 * @req->out_len bytes of @req->out, or a negative errno to reply with that
 * error.  They must not use the harness ASSERT/EXPECT macros: record what
 * was seen in @req->priv and let the test check it.  Handlers run under
 * test_daemon_lock(), which the test takes to access that data.
 */
typedef int (*td_handler_fn)(struct test_daemon *td, struct td_req *req);

/* One expected request, see test_daemon_expect() */
struct td_expect {
	__u32 opcode;
	__u64 nodeid;
	/* Expected name argument, or NULL to not check it */
	const char *name;
};

/*
 * Open /dev/fuse and mount a plain FUSE filesystem on @dir, with
 * "fd=N,rootmode=40000,user_id=0,group_id=0" plus @extra_opts (may be NULL).
 * Returns the /dev/fuse fd or a negative errno.
 */
int test_fuse_mount(const char *dir, const char *extra_opts);

/* Unmount @dir, lazily if it is busy.  Returns 0 or a negative errno. */
int test_fuse_umount(const char *dir);

/*
 * Create a daemon serving @fuse_fd.  The fd stays owned by the caller and
 * must be kept open until test_daemon_stop() returned; test_daemon_start()
 * makes it non-blocking.  Returns NULL if out of memory.
 */
struct test_daemon *test_daemon_create(int fuse_fd);

/*
 * Flags for the FUSE_INIT reply: the low 32 bits go to flags, the high 32
 * bits to flags2 (FUSE_INIT_EXT is added then).  0 by default.  Must be set
 * before the kernel's FUSE_INIT is answered to have an effect.
 */
void test_daemon_set_init_flags(struct test_daemon *td, __u64 flags);

/*
 * Register (or replace, or with a NULL @fn remove) the handler for @opcode.
 * May be called while the daemon runs.  A handler for FUSE_INIT replaces the
 * built-in one, but is called with @req->out already holding the default
 * reply so that it only needs to change what it cares about.
 */
int test_daemon_set_handler(struct test_daemon *td, __u32 opcode,
			    td_handler_fn fn, void *priv);

/* Start serving requests in a new thread.  Returns 0 or a negative errno. */
int test_daemon_start(struct test_daemon *td);

/*
 * Wait until the daemon answered FUSE_INIT, at most @timeout_ms.  Needed
 * where nothing else waits for it: operations served from backing files.
 * Returns 0, or -ETIMEDOUT.
 */
int test_daemon_wait_init(struct test_daemon *td, int timeout_ms);

/*
 * Wait until every request the daemon logged has had its reply sent, at
 * most @timeout_ms: a failed reply can let the test's syscall return
 * before the daemon has recorded how the reply went.  Returns 0, or
 * -ETIMEDOUT.
 */
int test_daemon_sync(struct test_daemon *td, int timeout_ms);

/*
 * Wait up to @timeout_ms for the daemon thread to end, which it does when
 * the connection goes away (umount, abort), then join it.  Should it not
 * end in time it is told to stop and joined anyway.  Returns 0 if the
 * thread ended because the connection went away, -ETIMEDOUT if it had to
 * be stopped, -EIO if it died on an error.
 */
int test_daemon_stop(struct test_daemon *td, int timeout_ms);

/*
 * Every handler runs with this lock held: take it to read what handlers
 * recorded or to change what they will reply.  Requests and replies go
 * through the kernel, which orders them in practice, but only the lock
 * makes that data race free (and TSan clean).  Do not ASSERT while holding
 * it: the teardown still needs the daemon.
 */
void test_daemon_lock(struct test_daemon *td);
void test_daemon_unlock(struct test_daemon *td);

/* Free the daemon; stops it first if that was not done. */
void test_daemon_destroy(struct test_daemon *td);

/*
 * Copy up to @max entries of the request log to @log.  Returns the number
 * of requests logged so far, which may be more than @max.
 */
size_t test_daemon_get_log(struct test_daemon *td, struct td_log_entry *log,
			   size_t max);

/*
 * Forget all requests logged so far (and a log overflow).  The counters of
 * unexpected requests and of errors keep counting.
 */
void test_daemon_clear_log(struct test_daemon *td);

/* Number of internal errors (bad reads, failed replies, ...) so far */
unsigned int test_daemon_errors(struct test_daemon *td);

/*
 * Number of requests that had no handler so far, including any that no
 * longer fit in the log.
 */
unsigned int test_daemon_unexpected(struct test_daemon *td);

/*
 * Check that the daemon received exactly the @nr requests in @exp, in that
 * order, that none of them was unexpected, that the log did not overflow
 * and that the daemon saw no internal error.  Explains any mismatch on
 * stderr.  Returns true if everything matched.
 */
bool test_daemon_expect(struct test_daemon *td, const struct td_expect *exp,
			size_t nr);

/* Printable name of a FUSE opcode, for diagnostics */
const char *td_opcode_name(__u32 opcode);

#endif /* __FUSE_TEST_DAEMON_H */
