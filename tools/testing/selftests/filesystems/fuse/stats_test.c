// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests for what FUSE connections count and trace: the "requests"
 * file every connection has in the FUSE control filesystem (requests sent
 * to the server, per opcode), the "bpf_stats" file of a fuse-bpf
 * connection (program runs, verdicts, operations a backing served, errors
 * by cause), and the fuse_bpf_filter and fuse_bpf_dispatch tracepoints.
 *
 * Each test reads the counters before and after an operation and checks
 * that every one of them moved by exactly what the operation does: those
 * not named must not move. The requests of a server are checked against
 * the test daemon's own log, the program runs against the program's own
 * count of them. The programs are fuse_rewrite.bpf.c, steered through its
 * global data.
 *
 * What a path walk costs, in the counts below: a permission check of each
 * directory it looks a name up in (ACCESS, on the root), and the LOOKUP of
 * a name that is not cached, or the revalidation of one looked up through
 * a program (it runs again; without a program a cached entry is checked
 * against the backing directory only, which counts nothing).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../../kselftest_harness.h"
#include "test_util.h"
#include "test_daemon.h"
#include "fuse_bpf_util.h"
#include "fuse_bpf_test.h"
#include "fuse_rewrite.skel.h"

#define TRACEFS_DIR		"/sys/kernel/tracing"
#define TRACEFS_MAGIC		0x74726163

/* The VM may run without acceleration, and with KASAN */
#define STATS_TIMEOUT		120

/* What failed operations fail with here: nothing else gives it to them */
#define PRE_ERRNO		EDOM
#define POST_ERRNO		EXFULL
/* ERESTARTSYS, the first of the kernel's own errnos: not a verdict */
#define KERNEL_ERRNO		512
/* Neither a BPF_FUSE_* action nor an errno */
#define BAD_VERDICT		7

/* Opcodes the "requests" file tells apart */
#define REQ_OPS			64
/* Slots of "backed" lines: the FUSE opcodes, then fileattr get and set */
#define BACKED_OPS		(REQ_OPS + 2)

/* The file of the backing directory the tests read */
#define DATA			"0123456789"

/* The counters of "bpf_stats", in the order of its lines */
enum counter {
	CNT_PREFILTER,
	CNT_POSTFILTER,
	CNT_CONTINUE,
	CNT_USER,
	CNT_V_POSTFILTER,
	CNT_USER_FILTER,
	CNT_ERRNO,
	CNT_INVALID,
	CNT_E_BACKING,
	CNT_E_PREFILTER,
	CNT_E_POSTFILTER,
	CNT_E_REWRITE,
	CNT_E_UNSUPPORTED,
	CNT_E_SERVER,
	CNT_E_NO_SERVER,
	NR_COUNTERS
};

static const char * const counter_names[NR_COUNTERS] = {
	[CNT_PREFILTER] = "prefilter",
	[CNT_POSTFILTER] = "postfilter",
	[CNT_CONTINUE] = "verdict_continue",
	[CNT_USER] = "verdict_user",
	[CNT_V_POSTFILTER] = "verdict_postfilter",
	[CNT_USER_FILTER] = "verdict_user_filter",
	[CNT_ERRNO] = "verdict_errno",
	[CNT_INVALID] = "verdict_invalid",
	[CNT_E_BACKING] = "error_backing",
	[CNT_E_PREFILTER] = "error_prefilter",
	[CNT_E_POSTFILTER] = "error_postfilter",
	[CNT_E_REWRITE] = "error_rewrite",
	[CNT_E_UNSUPPORTED] = "error_unsupported",
	[CNT_E_SERVER] = "error_server",
	[CNT_E_NO_SERVER] = "error_no_server",
};

/* The "requests" file: requests sent to the server per opcode, the total */
struct req_stats {
	__u64 sent[REQ_OPS];
	__u64 total;
};

/*
 * The "bpf_stats" file: its counters, and the operations backings served
 * per opcode (slots REQ_OPS and REQ_OPS + 1: FUSE_BPF_FILEATTR_GET, _SET)
 */
struct bpf_stats {
	__u64 count[NR_COUNTERS];
	__u64 backed[BACKED_OPS];
};

/*
 * The control directory of the connection of the FUSE mount on @dir, and
 * its number: the superblock's device number in the kernel's encoding,
 * which the tracepoints show as the connection. Found in mountinfo: a
 * stat() of the root would send a request of its own.
 */
static void conn_dir(struct __test_metadata *_metadata, const char *dir,
		     char *conn, size_t size, unsigned int *dev)
{
	char line[1024], mnt[256];
	unsigned int major, minor;
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "r");
	ASSERT_NE(NULL, f);
	/* id parent major:minor root mount-point ... */
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %*s %u:%u %*s %255s", &major, &minor,
			       mnt) == 3 && !strcmp(mnt, dir);
	fclose(f);
	ASSERT_TRUE(found) TH_LOG("%s is not in mountinfo", dir);
	*dev = (major << 20) | minor;
	snprintf(conn, size, "%s/%u", FUSE_CTL_DIR, *dev);
}

/* The control file @name of @conn, whole, NUL-terminated, in @buf */
static void read_ctl(struct __test_metadata *_metadata, const char *conn,
		     const char *name, char *buf, size_t size)
{
	char path[PATH_MAX];
	ssize_t len;

	len = read_all(at(path, conn, name), buf, size);
	ASSERT_LT(0, len) TH_LOG("%s: %s", path, strerror(-len));
	ASSERT_GT((ssize_t)size - 1, len) TH_LOG("%s: too long", path);
	ASSERT_EQ('\n', buf[len - 1]) TH_LOG("%s: %s", path, buf);
}

/*
 * The "requests" file of @conn: "sent OPCODE N" lines, by opcode, N > 0,
 * then "sent_total N", their sum
 */
static void read_requests(struct __test_metadata *_metadata, const char *conn,
			  struct req_stats *rs)
{
	char buf[4096], *line, *save;
	unsigned long long n, sum = 0;
	bool total = false;
	int prev = -1, end, fields;
	unsigned int op;

	memset(rs, 0, sizeof(*rs));
	read_ctl(_metadata, conn, "requests", buf, sizeof(buf));
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		ASSERT_FALSE(total) TH_LOG("after the total: %s", line);
		end = 0;
		if (sscanf(line, "sent_total %llu%n", &n, &end) == 1 &&
		    end && !line[end]) {
			EXPECT_EQ(sum, n) TH_LOG("%s", line);
			rs->total = n;
			total = true;
			continue;
		}
		fields = sscanf(line, "sent %u %llu%n", &op, &n, &end);
		ASSERT_EQ(2, fields) TH_LOG("%s", line);
		ASSERT_EQ(0, line[end]) TH_LOG("%s", line);
		ASSERT_GT(REQ_OPS, op) TH_LOG("%s", line);
		ASSERT_LT(prev, (int)op) TH_LOG("out of order: %s", line);
		ASSERT_NE(0, n) TH_LOG("%s", line);
		rs->sent[op] = n;
		sum += n;
		prev = op;
	}
	ASSERT_TRUE(total) TH_LOG("no sent_total");
}

/* The slot of a "backed" line's opcode, BACKED_OPS if it has none */
static unsigned int backed_slot(unsigned int op)
{
	if (op < REQ_OPS)
		return op;
	if (op == FUSE_BPF_FILEATTR_GET)
		return REQ_OPS;
	if (op == FUSE_BPF_FILEATTR_SET)
		return REQ_OPS + 1;
	return BACKED_OPS;
}

static const char *backed_name(unsigned int slot)
{
	if (slot == REQ_OPS)
		return "FILEATTR_GET";
	if (slot == REQ_OPS + 1)
		return "FILEATTR_SET";
	return td_opcode_name(slot);
}

/*
 * The "bpf_stats" file of @conn: "NAME N" for each counter, in their
 * order, then "backed OPCODE N" lines, by opcode, N > 0
 */
static void read_bpf_stats(struct __test_metadata *_metadata,
			   const char *conn, struct bpf_stats *bs)
{
	char buf[8192], name[32], *line, *save;
	unsigned int i = 0, op, slot;
	unsigned long long n;
	int prev = -1, end, fields;

	memset(bs, 0, sizeof(*bs));
	read_ctl(_metadata, conn, "bpf_stats", buf, sizeof(buf));
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		end = 0;
		if (i < NR_COUNTERS) {
			fields = sscanf(line, "%31s %llu%n", name, &n, &end);
			ASSERT_EQ(2, fields) TH_LOG("%s", line);
			ASSERT_EQ(0, line[end]) TH_LOG("%s", line);
			ASSERT_STREQ(counter_names[i], name);
			bs->count[i++] = n;
			continue;
		}
		fields = sscanf(line, "backed %u %llu%n", &op, &n, &end);
		ASSERT_EQ(2, fields) TH_LOG("%s", line);
		ASSERT_EQ(0, line[end]) TH_LOG("%s", line);
		slot = backed_slot(op);
		ASSERT_GT(BACKED_OPS, slot) TH_LOG("%s", line);
		ASSERT_LT(prev, (int)op) TH_LOG("out of order: %s", line);
		ASSERT_NE(0, n) TH_LOG("%s", line);
		bs->backed[slot] = n;
		prev = op;
	}
	ASSERT_EQ(NR_COUNTERS, i) TH_LOG("counters missing");
}

/* Every count of @seen is that of @want */
static void expect_same_requests(struct __test_metadata *_metadata,
				 const char *what,
				 const struct req_stats *want,
				 const struct req_stats *seen)
{
	unsigned int i;

	for (i = 0; i < REQ_OPS; i++) {
		EXPECT_EQ(want->sent[i], seen->sent[i])
			TH_LOG("%s: %s (%u)", what, td_opcode_name(i), i);
	}
	EXPECT_EQ(want->total, seen->total) TH_LOG("%s: total", what);
}

/* @now less @snap, which becomes @now */
static void req_delta(struct req_stats *delta, struct req_stats *snap,
		      const struct req_stats *now)
{
	unsigned int i;

	for (i = 0; i < REQ_OPS; i++)
		delta->sent[i] = now->sent[i] - snap->sent[i];
	delta->total = now->total - snap->total;
	*snap = *now;
}

/* The requests of @conn moved by exactly @want since @snap */
static void expect_sent(struct __test_metadata *_metadata, const char *conn,
			struct req_stats *snap, const char *what,
			const struct req_stats *want)
{
	struct req_stats now, delta;

	read_requests(_metadata, conn, &now);
	req_delta(&delta, snap, &now);
	expect_same_requests(_metadata, what, want, &delta);
}

/* The counters of @conn moved by exactly @want since @snap */
static void expect_bpf(struct __test_metadata *_metadata, const char *conn,
		       struct bpf_stats *snap, const char *what,
		       const struct bpf_stats *want)
{
	struct bpf_stats now;
	unsigned int i;

	read_bpf_stats(_metadata, conn, &now);
	for (i = 0; i < NR_COUNTERS; i++) {
		EXPECT_EQ(want->count[i], now.count[i] - snap->count[i])
			TH_LOG("%s: %s", what, counter_names[i]);
	}
	for (i = 0; i < BACKED_OPS; i++) {
		EXPECT_EQ(want->backed[i], now.backed[i] - snap->backed[i])
			TH_LOG("%s: backed %s", what, backed_name(i));
	}
	*snap = now;
}

/*
 * The requests the daemon logged, per opcode, as it logs them: one entry
 * per message read from /dev/fuse, INIT included, a FORGET or a
 * BATCH_FORGET as one.
 */
static void log_requests(struct __test_metadata *_metadata,
			 struct test_daemon *td, struct req_stats *rs)
{
	static struct td_log_entry log[TD_LOG_SIZE];
	size_t i, n = test_daemon_get_log(td, log, TD_LOG_SIZE);

	ASSERT_GE(TD_LOG_SIZE, n) TH_LOG("the daemon's log overflowed");
	memset(rs, 0, sizeof(*rs));
	for (i = 0; i < n; i++) {
		ASSERT_GT(REQ_OPS, log[i].opcode);
		rs->sent[log[i].opcode]++;
	}
	rs->total = n;
}

/* The requests the daemon logged moved by exactly @want since @snap */
static void expect_logged(struct __test_metadata *_metadata,
			  struct test_daemon *td, struct req_stats *snap,
			  const char *what, const struct req_stats *want)
{
	struct req_stats now, delta;

	log_requests(_metadata, td, &now);
	req_delta(&delta, snap, &now);
	expect_same_requests(_metadata, what, want, &delta);
}

/*
 * A plain FUSE mount, no fuse-bpf, served by the test daemon: a root
 * directory holding "file" (PLAIN_DATA) and "gone", whose entry times
 * out at once (entry_valid 0): each use of it looks it up again.
 */
#define PLAIN_FILE_ID	2
#define PLAIN_GONE_ID	3
#define PLAIN_DATA	"hello"

static struct plain_state {
	/* The nodes FORGET and BATCH_FORGET named */
	unsigned int forgotten;
} plain;

static void plain_attr(__u64 nodeid, struct fuse_attr *attr)
{
	attr->ino = nodeid;
	if (nodeid == FUSE_ROOT_ID) {
		attr->mode = S_IFDIR | 0755;
		attr->nlink = 2;
	} else {
		attr->mode = S_IFREG | 0644;
		attr->nlink = 1;
		attr->size = strlen(PLAIN_DATA);
	}
}

static int plain_lookup(struct test_daemon *td, struct td_req *req)
{
	struct fuse_entry_out *out = req->out;
	const char *name = req->arg;

	if (req->in->nodeid != FUSE_ROOT_ID)
		return -ENOENT;
	if (!strcmp(name, "file")) {
		out->nodeid = PLAIN_FILE_ID;
		out->entry_valid = 10;
	} else if (!strcmp(name, "gone")) {
		out->nodeid = PLAIN_GONE_ID;
	} else {
		return -ENOENT;
	}
	out->generation = 1;
	out->attr_valid = 10;
	plain_attr(out->nodeid, &out->attr);
	req->out_len = sizeof(*out);
	return 0;
}

static int plain_getattr(struct test_daemon *td, struct td_req *req)
{
	struct fuse_attr_out *out = req->out;
	__u64 id = req->in->nodeid;

	if (id != FUSE_ROOT_ID && id != PLAIN_FILE_ID && id != PLAIN_GONE_ID)
		return -ENOENT;
	out->attr_valid = 10;
	plain_attr(id, &out->attr);
	req->out_len = sizeof(*out);
	return 0;
}

/* Direct I/O: each read(2) is one READ, the page cache is not involved */
static int plain_open(struct test_daemon *td, struct td_req *req)
{
	struct fuse_open_out *out = req->out;

	out->fh = 1;
	out->open_flags = FOPEN_DIRECT_IO;
	req->out_len = sizeof(*out);
	return 0;
}

static int plain_read(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_read_in *in = req->arg;
	size_t len = strlen(PLAIN_DATA);

	if (req->arg_len < sizeof(*in))
		return -EINVAL;
	if (in->offset >= len)
		return 0;
	len -= in->offset;
	if (len > in->size)
		len = in->size;
	memcpy(req->out, PLAIN_DATA + in->offset, len);
	req->out_len = len;
	return 0;
}

static int plain_ok(struct test_daemon *td, struct td_req *req)
{
	return 0;
}

static int plain_forget(struct test_daemon *td, struct td_req *req)
{
	plain.forgotten++;
	return 0;
}

static int plain_batch_forget(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_batch_forget_in *in = req->arg;

	if (req->arg_len >= sizeof(*in))
		plain.forgotten += in->count;
	return 0;
}

static unsigned int plain_forgotten(struct test_daemon *td)
{
	unsigned int n;

	test_daemon_lock(td);
	n = plain.forgotten;
	test_daemon_unlock(td);
	return n;
}

/*
 * The daemon's log as the kernel counts requests: a FORGET for each node
 * forgotten, where the daemon logs a message, FORGET or BATCH_FORGET, that
 * may name several; each other request, INIT included, is one message.
 */
static void plain_log_as_sent(struct __test_metadata *_metadata,
			      struct test_daemon *td, struct req_stats *rs)
{
	log_requests(_metadata, td, rs);
	rs->total -= rs->sent[FUSE_FORGET] + rs->sent[FUSE_BATCH_FORGET];
	rs->sent[FUSE_FORGET] = plain_forgotten(td);
	rs->sent[FUSE_BATCH_FORGET] = 0;
	rs->total += rs->sent[FUSE_FORGET];
}

FIXTURE(plain) {
	char dir[64];
	char conn[64];
	unsigned int dev;
	int fuse_fd;
	struct test_daemon *td;
};

FIXTURE_SETUP(plain)
{
	static const struct {
		__u32 opcode;
		td_handler_fn fn;
	} handlers[] = {
		{ FUSE_LOOKUP, plain_lookup },
		{ FUSE_GETATTR, plain_getattr },
		{ FUSE_OPEN, plain_open },
		{ FUSE_READ, plain_read },
		{ FUSE_FLUSH, plain_ok },
		{ FUSE_RELEASE, plain_ok },
		{ FUSE_FORGET, plain_forget },
		{ FUSE_BATCH_FORGET, plain_batch_forget },
	};
	size_t i;

	memset(&plain, 0, sizeof(plain));
	private_mount_ns(_metadata);
	mount_fusectl(_metadata);
	make_tmp_dir(_metadata, self->dir, sizeof(self->dir), "fuse_stats");
	self->fuse_fd = test_fuse_mount(self->dir, NULL);
	ASSERT_LE(0, self->fuse_fd) TH_LOG("mount: %s",
					   strerror(-self->fuse_fd));
	self->td = test_daemon_create(self->fuse_fd);
	ASSERT_NE(NULL, self->td);
	for (i = 0; i < ARRAY_SIZE(handlers); i++)
		ASSERT_EQ(0, test_daemon_set_handler(self->td,
						     handlers[i].opcode,
						     handlers[i].fn, NULL));
	ASSERT_EQ(0, test_daemon_start(self->td));
	ASSERT_EQ(0, test_daemon_wait_init(self->td, TD_STOP_TIMEOUT_MS));
	conn_dir(_metadata, self->dir, self->conn, sizeof(self->conn),
		 &self->dev);
}

FIXTURE_TEARDOWN(plain)
{
	EXPECT_EQ(0, test_fuse_umount(self->dir));
	EXPECT_EQ(0, test_daemon_stop(self->td, TD_STOP_TIMEOUT_MS));
	EXPECT_EQ(0, test_daemon_unexpected(self->td));
	EXPECT_EQ(0, test_daemon_errors(self->td));
	test_daemon_destroy(self->td);
	EXPECT_EQ(0, close(self->fuse_fd));
	EXPECT_EQ(0, rmdir(self->dir));
}

/*
 * The "requests" file of a plain connection counts what its server
 * received, per opcode: INIT from the start, a GETATTR of the root, the
 * LOOKUPs of names (that of "gone", whose entry times out at once, again
 * at its revalidation), an OPEN, READ, FLUSH and RELEASE, and a FORGET per
 * node the kernel forgets when its caches are dropped. It has no fuse-bpf
 * files.
 */
TEST_F_TIMEOUT(plain, requests_match_daemon_log, STATS_TIMEOUT)
{
	const struct req_stats only_init = {
		.sent = { [FUSE_INIT] = 1 },
		.total = 1,
	};
	const struct req_stats all = {
		.sent = {
			[FUSE_INIT] = 1, [FUSE_GETATTR] = 1, [FUSE_LOOKUP] = 3,
			[FUSE_FORGET] = 2, [FUSE_OPEN] = 1, [FUSE_READ] = 1,
			[FUSE_FLUSH] = 1, [FUSE_RELEASE] = 1,
		},
		.total = 11,
	};
	char path[PATH_MAX], buf[64];
	struct req_stats kernel, logged;
	struct stat st;
	int fd;

	EXPECT_EQ(-1, stat(at(path, self->conn, "bpf_stats"), &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, stat(at(path, self->conn, "backing"), &st));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_EQ(0, stat(at(path, self->conn, "requests"), &st));
	EXPECT_EQ(S_IFREG | 0400, st.st_mode);

	read_requests(_metadata, self->conn, &kernel);
	plain_log_as_sent(_metadata, self->td, &logged);
	expect_same_requests(_metadata, "at mount", &only_init, &kernel);
	expect_same_requests(_metadata, "at mount", &logged, &kernel);

	ASSERT_EQ(0, stat(self->dir, &st)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, stat(at(path, self->dir, "gone"), &st))
		TH_LOG("%s", strerror(errno));
	fd = open(at(path, self->dir, "file"), O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	EXPECT_EQ(strlen(PLAIN_DATA), read(fd, buf, sizeof(buf)));
	EXPECT_EQ(0, close(fd));
	ASSERT_EQ(0, stat(at(path, self->dir, "gone"), &st));
	/* The inodes of "gone" and "file" are forgotten */
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(2, write(fd, "2\n", 2));
	EXPECT_EQ(0, close(fd));

	/* RELEASE and FORGET are not waited for: wait for the daemon */
	EXPECT_TRUE(poll_until(plain_forgotten(self->td) >= 2))
		TH_LOG("the daemon forgot %u nodes", plain_forgotten(self->td));
	ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));

	read_requests(_metadata, self->conn, &kernel);
	plain_log_as_sent(_metadata, self->td, &logged);
	expect_same_requests(_metadata, "daemon's log", &logged, &kernel);
	expect_same_requests(_metadata, "sent", &all, &kernel);
}

/* Mount @dir backed by @backing_fd, no daemon, with program @prog_fd */
static void mount_backed(struct __test_metadata *_metadata, const char *dir,
			 int backing_fd, int prog_fd)
{
	char opts[256], prog[32] = "";

	if (prog_fd >= 0)
		snprintf(prog, sizeof(prog), "root_bpf=%d,", prog_fd);
	snprintf(opts, sizeof(opts), "root_dir=%d,no_daemon,%s%s",
		 backing_fd, prog, FUSE_BASE_OPTS);
	ASSERT_EQ(0, mount_fuse(dir, opts)) TH_LOG("mount: %s", opts);
}

/* The "requests" file of @conn says no request was ever sent */
static void expect_nothing_sent(struct __test_metadata *_metadata,
				const char *conn)
{
	char buf[256];

	read_ctl(_metadata, conn, "requests", buf, sizeof(buf));
	EXPECT_STREQ("sent_total 0\n", buf);
}

/*
 * A no_daemon mount of a directory of the ext4 scratch disk, without a
 * program: every operation is served by the backing.
 */
FIXTURE(backed) {
	char backing[128];
	char dir[64];
	char conn[64];
	unsigned int dev;
	int backing_fd;
	struct bpf_stats stats;
};

FIXTURE_SETUP(backed)
{
	private_mount_ns(_metadata);
	mount_fusectl(_metadata);
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	self->backing_fd = open(self->backing, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, self->backing_fd);
	make_tmp_dir(_metadata, self->dir, sizeof(self->dir), "fuse_stats");
	mount_backed(_metadata, self->dir, self->backing_fd, -1);
	conn_dir(_metadata, self->dir, self->conn, sizeof(self->conn),
		 &self->dev);
}

FIXTURE_TEARDOWN(backed)
{
	EXPECT_EQ(0, test_fuse_umount(self->dir));
	EXPECT_EQ(0, close(self->backing_fd));
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

/*
 * Each operation a backing served counts under its opcode, and its
 * failure as an error of the backing; a name missing from the backing
 * directory is a negative entry, not an error. Nothing is sent, no
 * program runs.
 */
TEST_F_TIMEOUT(backed, counts_backed_operations, STATS_TIMEOUT)
{
	const struct bpf_stats zero = {};
	char b[PATH_MAX], f[PATH_MAX], m[PATH_MAX], buf[64];
	struct stat st;
	int fd;

	expect_nothing_sent(_metadata, self->conn);
	make_file(_metadata, at(b, self->backing, "data"), 0644, DATA);
	at(f, self->dir, "data");

	/* Nothing was asked of the mount yet */
	read_bpf_stats(_metadata, self->conn, &self->stats);
	EXPECT_EQ(0, memcmp(&zero, &self->stats, sizeof(zero)));

	ASSERT_EQ(0, stat(f, &st)) TH_LOG("stat: %s", strerror(errno));
	expect_bpf(_metadata, self->conn, &self->stats, "stat",
		   &(struct bpf_stats) {
			.backed = { [FUSE_ACCESS] = 1, [FUSE_LOOKUP] = 1,
				    [FUSE_GETATTR] = 1 },
		   });

	expect_enoent(_metadata, at(m, self->dir, "missing"));
	expect_bpf(_metadata, self->conn, &self->stats, "stat missing",
		   &(struct bpf_stats) {
			.backed = { [FUSE_ACCESS] = 1, [FUSE_LOOKUP] = 1 },
		   });

	/* The walk's check of the root, may_open()'s of the file */
	fd = open(f, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	expect_bpf(_metadata, self->conn, &self->stats, "open",
		   &(struct bpf_stats) {
			.backed = { [FUSE_ACCESS] = 2, [FUSE_OPEN] = 1 },
		   });

	EXPECT_EQ(strlen(DATA), read(fd, buf, sizeof(buf)));
	expect_bpf(_metadata, self->conn, &self->stats, "read",
		   &(struct bpf_stats) { .backed = { [FUSE_READ] = 1 } });
	/* At the end of the file: one more */
	EXPECT_EQ(0, read(fd, buf, sizeof(buf)));
	expect_bpf(_metadata, self->conn, &self->stats, "read at EOF",
		   &(struct bpf_stats) { .backed = { [FUSE_READ] = 1 } });

	EXPECT_FAILS(ENODATA, fgetxattr(fd, "trusted.none", buf, sizeof(buf)));
	expect_bpf(_metadata, self->conn, &self->stats, "fgetxattr",
		   &(struct bpf_stats) {
			.count = { [CNT_E_BACKING] = 1 },
			.backed = { [FUSE_GETXATTR] = 1 },
		   });

	EXPECT_EQ(0, close(fd));
	expect_bpf(_metadata, self->conn, &self->stats, "close",
		   &(struct bpf_stats) {
			.backed = { [FUSE_FLUSH] = 1, [FUSE_RELEASE] = 1 },
		   });
	expect_nothing_sent(_metadata, self->conn);
}

/*
 * A no_daemon mount of a directory of the ext4 scratch disk, filtered by
 * fuse_rewrite.bpf.c, which does nothing until a test steers it.
 */
FIXTURE(prog) {
	char backing[128];
	char dir[64];
	char conn[64];
	unsigned int dev;
	int backing_fd;
	struct fuse_rewrite *skel;
	struct fuse_rewrite__bss *bss;
	/* The counters, and the program's own counts of its runs */
	struct bpf_stats stats;
	__u32 pre_count;
	__u32 post_count;
	/* The tracepoints were enabled, tracing turned on */
	bool events;
	bool tracing_on;
};

FIXTURE_SETUP(prog)
{
	private_mount_ns(_metadata);
	mount_fusectl(_metadata);
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	self->backing_fd = open(self->backing, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, self->backing_fd);
	make_tmp_dir(_metadata, self->dir, sizeof(self->dir), "fuse_stats");
	self->skel = fuse_rewrite__open_and_load();
	ASSERT_NE(NULL, self->skel) TH_LOG("open_and_load: %s",
					   strerror(errno));
	self->bss = self->skel->bss;
	mount_backed(_metadata, self->dir, self->backing_fd,
		     bpf_program__fd(self->skel->progs.fuse_rewrite));
	conn_dir(_metadata, self->dir, self->conn, sizeof(self->conn),
		 &self->dev);
}

static void trace_stop(struct __test_metadata *_metadata,
		       struct _test_data_prog *self);

FIXTURE_TEARDOWN(prog)
{
	trace_stop(_metadata, self);
	EXPECT_EQ(0, test_fuse_umount(self->dir));
	fuse_rewrite__destroy(self->skel);
	EXPECT_EQ(0, close(self->backing_fd));
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

/* From now on, count from zero */
static void prog_snapshot(struct __test_metadata *_metadata,
			  struct _test_data_prog *self)
{
	read_bpf_stats(_metadata, self->conn, &self->stats);
	self->pre_count = self->bss->pre_count;
	self->post_count = self->bss->post_count;
}

/*
 * The counters moved by exactly @want, and the program ran as many times
 * as the kernel counted
 */
static void expect_prog(struct __test_metadata *_metadata,
			struct _test_data_prog *self, const char *what,
			const struct bpf_stats *want)
{
	__u32 pre = self->bss->pre_count, post = self->bss->post_count;

	expect_bpf(_metadata, self->conn, &self->stats, what, want);
	EXPECT_EQ(want->count[CNT_PREFILTER], pre - self->pre_count)
		TH_LOG("%s: pre-filter runs the program counted", what);
	EXPECT_EQ(want->count[CNT_POSTFILTER], post - self->post_count)
		TH_LOG("%s: post-filter runs the program counted", what);
	self->pre_count = pre;
	self->post_count = post;
}

/* The pre-filter of @pre_op returns @pre_ret, the post-filter's @post_ret */
static void steer(struct fuse_rewrite__bss *bss, __u32 pre_op, int pre_ret,
		  __u32 post_op, int post_ret)
{
	bss->pre_op = pre_op;
	bss->pre_ret = pre_ret;
	bss->post_op = post_op;
	bss->post_ret = post_ret;
}

/* Make "data" in the backing directory, open it through the mount */
static int open_data(struct __test_metadata *_metadata,
		     struct _test_data_prog *self, int flags)
{
	char b[PATH_MAX], f[PATH_MAX];
	int fd;

	make_file(_metadata, at(b, self->backing, "data"), 0644, DATA);
	fd = open(at(f, self->dir, "data"), flags);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	return fd;
}

/*
 * Each run of the program counts, and its verdict; an operation it lets
 * run counts as a backed one. A name looked up before is revalidated
 * through the program, which sees its LOOKUP again.
 */
TEST_F_TIMEOUT(prog, continue_verdicts, STATS_TIMEOUT)
{
	char f[PATH_MAX], buf[64];
	struct stat st;
	int fd;

	fd = open_data(_metadata, self, O_RDONLY);
	prog_snapshot(_metadata, self);

	ASSERT_EQ(0, fstat(fd, &st));
	expect_prog(_metadata, self, "fstat", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 1, [CNT_CONTINUE] = 1 },
		.backed = { [FUSE_GETATTR] = 1 },
	});
	EXPECT_EQ(strlen(DATA), pread(fd, buf, sizeof(buf), 0));
	expect_prog(_metadata, self, "pread", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 1, [CNT_CONTINUE] = 1 },
		.backed = { [FUSE_READ] = 1 },
	});
	ASSERT_EQ(0, stat(at(f, self->dir, "data"), &st));
	expect_prog(_metadata, self, "stat", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 3, [CNT_CONTINUE] = 3 },
		.backed = { [FUSE_ACCESS] = 1, [FUSE_LOOKUP] = 1,
			    [FUSE_GETATTR] = 1 },
	});
	EXPECT_EQ(0, close(fd));
	expect_prog(_metadata, self, "close", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 2, [CNT_CONTINUE] = 2 },
		.backed = { [FUSE_FLUSH] = 1, [FUSE_RELEASE] = 1 },
	});
	expect_nothing_sent(_metadata, self->conn);
}

/* A pre-filter errno fails the operation before the backing sees it */
TEST_F_TIMEOUT(prog, prefilter_errno, STATS_TIMEOUT)
{
	char f[PATH_MAX];
	struct stat st;
	int fd;

	fd = open_data(_metadata, self, O_RDONLY);
	prog_snapshot(_metadata, self);

	steer(self->bss, FUSE_GETATTR, -PRE_ERRNO, 0, 0);
	EXPECT_FAILS(PRE_ERRNO, fstat(fd, &st));
	expect_prog(_metadata, self, "fstat", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 1, [CNT_ERRNO] = 1,
			   [CNT_E_PREFILTER] = 1 },
	});

	/* The walk's ACCESS goes on, the LOOKUP fails */
	steer(self->bss, FUSE_LOOKUP, -PRE_ERRNO, 0, 0);
	EXPECT_FAILS(PRE_ERRNO, stat(at(f, self->dir, "other"), &st));
	expect_prog(_metadata, self, "stat", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 2, [CNT_CONTINUE] = 1,
			   [CNT_ERRNO] = 1, [CNT_E_PREFILTER] = 1 },
		.backed = { [FUSE_ACCESS] = 1 },
	});
	steer(self->bss, 0, 0, 0, 0);
	EXPECT_EQ(0, close(fd));
}

/*
 * BPF_FUSE_POSTFILTER runs the operation, then the program again: its
 * errno fails the operation, BPF_FUSE_CONTINUE keeps its result, any other
 * action fails it with EIO. It sees a failure of the backing too.
 */
TEST_F_TIMEOUT(prog, postfilter_verdicts, STATS_TIMEOUT)
{
	char buf[16];
	struct stat st;
	int fd;

	fd = open_data(_metadata, self, O_RDONLY);
	prog_snapshot(_metadata, self);

	steer(self->bss, 0, 0, FUSE_GETATTR, -POST_ERRNO);
	EXPECT_FAILS(POST_ERRNO, fstat(fd, &st));
	expect_prog(_metadata, self, "errno", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 1, [CNT_POSTFILTER] = 1,
			   [CNT_V_POSTFILTER] = 1, [CNT_ERRNO] = 1,
			   [CNT_E_POSTFILTER] = 1 },
		.backed = { [FUSE_GETATTR] = 1 },
	});

	self->bss->post_ret = BPF_FUSE_CONTINUE;
	EXPECT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(strlen(DATA), st.st_size);
	expect_prog(_metadata, self, "continue", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 1, [CNT_POSTFILTER] = 1,
			   [CNT_V_POSTFILTER] = 1, [CNT_CONTINUE] = 1 },
		.backed = { [FUSE_GETATTR] = 1 },
	});

	self->bss->post_ret = BPF_FUSE_USER;
	EXPECT_FAILS(EIO, fstat(fd, &st));
	expect_prog(_metadata, self, "user", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 1, [CNT_POSTFILTER] = 1,
			   [CNT_V_POSTFILTER] = 1, [CNT_USER] = 1,
			   [CNT_E_POSTFILTER] = 1 },
		.backed = { [FUSE_GETATTR] = 1 },
	});

	self->bss->post_ret = BPF_FUSE_POSTFILTER;
	EXPECT_FAILS(EIO, fstat(fd, &st));
	expect_prog(_metadata, self, "postfilter", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 1, [CNT_POSTFILTER] = 1,
			   [CNT_V_POSTFILTER] = 2, [CNT_E_POSTFILTER] = 1 },
		.backed = { [FUSE_GETATTR] = 1 },
	});

	steer(self->bss, 0, 0, FUSE_GETXATTR, BPF_FUSE_CONTINUE);
	self->bss->post_error_in = 0;
	EXPECT_FAILS(ENODATA, fgetxattr(fd, "trusted.none", buf, sizeof(buf)));
	EXPECT_EQ(-ENODATA, self->bss->post_error_in);
	expect_prog(_metadata, self, "backing error", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 1, [CNT_POSTFILTER] = 1,
			   [CNT_V_POSTFILTER] = 1, [CNT_CONTINUE] = 1,
			   [CNT_E_BACKING] = 1 },
		.backed = { [FUSE_GETXATTR] = 1 },
	});
	steer(self->bss, 0, 0, 0, 0);
	EXPECT_EQ(0, close(fd));
}

/*
 * A verdict that is neither an action nor an errno for system calls
 * fails the operation with EIO, as a failure of the filter that gave it
 */
TEST_F_TIMEOUT(prog, invalid_verdict, STATS_TIMEOUT)
{
	const struct bpf_stats pre_invalid = {
		.count = { [CNT_PREFILTER] = 1, [CNT_INVALID] = 1,
			   [CNT_E_PREFILTER] = 1 },
	};
	struct stat st;
	int fd;

	fd = open_data(_metadata, self, O_RDONLY);
	prog_snapshot(_metadata, self);

	steer(self->bss, FUSE_GETATTR, BAD_VERDICT, 0, 0);
	EXPECT_FAILS(EIO, fstat(fd, &st));
	expect_prog(_metadata, self, "pre", &pre_invalid);

	self->bss->pre_ret = -KERNEL_ERRNO;
	EXPECT_FAILS(EIO, fstat(fd, &st));
	expect_prog(_metadata, self, "-ERESTARTSYS", &pre_invalid);

	steer(self->bss, 0, 0, FUSE_GETATTR, BAD_VERDICT);
	EXPECT_FAILS(EIO, fstat(fd, &st));
	expect_prog(_metadata, self, "post", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 1, [CNT_POSTFILTER] = 1,
			   [CNT_V_POSTFILTER] = 1, [CNT_INVALID] = 1,
			   [CNT_E_POSTFILTER] = 1 },
		.backed = { [FUSE_GETATTR] = 1 },
	});
	steer(self->bss, 0, 0, 0, 0);
	EXPECT_EQ(0, close(fd));
}

/*
 * Without a daemon, no server may filter: asking for a server pre- or
 * post-filter fails the operation with EOPNOTSUPP. From the post-filter,
 * a server pre-filter is an action it may not take (EIO).
 */
TEST_F_TIMEOUT(prog, server_filter_unsupported, STATS_TIMEOUT)
{
	const struct bpf_stats pre_unsupported = {
		.count = { [CNT_PREFILTER] = 1, [CNT_USER_FILTER] = 1,
			   [CNT_E_UNSUPPORTED] = 1 },
	};
	struct stat st;
	int fd;

	fd = open_data(_metadata, self, O_RDONLY);
	prog_snapshot(_metadata, self);

	steer(self->bss, FUSE_GETATTR, BPF_FUSE_USER_PREFILTER, 0, 0);
	EXPECT_FAILS(EOPNOTSUPP, fstat(fd, &st));
	expect_prog(_metadata, self, "user prefilter", &pre_unsupported);

	self->bss->pre_ret = BPF_FUSE_USER_POSTFILTER;
	EXPECT_FAILS(EOPNOTSUPP, fstat(fd, &st));
	expect_prog(_metadata, self, "user postfilter", &pre_unsupported);

	steer(self->bss, 0, 0, FUSE_GETATTR, BPF_FUSE_USER_POSTFILTER);
	EXPECT_FAILS(EOPNOTSUPP, fstat(fd, &st));
	expect_prog(_metadata, self, "post user postfilter",
		    &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 1, [CNT_POSTFILTER] = 1,
			   [CNT_V_POSTFILTER] = 1, [CNT_USER_FILTER] = 1,
			   [CNT_E_UNSUPPORTED] = 1 },
		.backed = { [FUSE_GETATTR] = 1 },
	});

	self->bss->post_ret = BPF_FUSE_USER_PREFILTER;
	EXPECT_FAILS(EIO, fstat(fd, &st));
	expect_prog(_metadata, self, "post user prefilter",
		    &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 1, [CNT_POSTFILTER] = 1,
			   [CNT_V_POSTFILTER] = 1, [CNT_USER_FILTER] = 1,
			   [CNT_E_POSTFILTER] = 1 },
		.backed = { [FUSE_GETATTR] = 1 },
	});
	steer(self->bss, 0, 0, 0, 0);
	EXPECT_EQ(0, close(fd));
}

/* Rewrite the names "alias01" of LOOKUPs to ".." */
static void rewrite_lookup_to_dotdot(struct fuse_rewrite__bss *bss)
{
	static const char from[REWRITE_NAME_SIZE] = "alias01";

	memcpy(bss->from, from, REWRITE_NAME_SIZE);
	bss->to_dotdot = 1;
	bss->name_ops = 1ULL << FUSE_LOOKUP;
}

/*
 * A rewrite the operation does not honour fails it with EINVAL: of a
 * request before the backing call (a longer read, a name that is "..",
 * any with BPF_FUSE_USER), or of a result after it (a WRITE's).
 */
TEST_F_TIMEOUT(prog, rewrite_refused, STATS_TIMEOUT)
{
	char f[PATH_MAX], buf[16];
	struct stat st;
	int fd;

	fd = open_data(_metadata, self, O_RDWR);
	prog_snapshot(_metadata, self);

	self->bss->io_op = FUSE_READ;
	self->bss->io_set_size = 1;
	self->bss->io_size = 11;
	EXPECT_FAILS(EINVAL, pread(fd, buf, 10, 0));
	expect_prog(_metadata, self, "longer read", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 1, [CNT_CONTINUE] = 1,
			   [CNT_E_REWRITE] = 1 },
	});
	self->bss->io_op = 0;
	self->bss->io_set_size = 0;

	/*
	 * Written all the same. A write first asks for security.capability
	 * (GETXATTR, ENODATA on the backing), to know whether it must kill
	 * the privileges of the file.
	 */
	steer(self->bss, 0, 0, FUSE_WRITE, BPF_FUSE_CONTINUE);
	self->bss->touch_out = 1;
	EXPECT_FAILS(EINVAL, pwrite(fd, "Q", 1, 9));
	expect_prog(_metadata, self, "write result", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 2, [CNT_POSTFILTER] = 1,
			   [CNT_V_POSTFILTER] = 1, [CNT_CONTINUE] = 2,
			   [CNT_E_REWRITE] = 1, [CNT_E_BACKING] = 1 },
		.backed = { [FUSE_WRITE] = 1, [FUSE_GETXATTR] = 1 },
	});
	self->bss->touch_out = 0;
	steer(self->bss, 0, 0, 0, 0);

	rewrite_lookup_to_dotdot(self->bss);
	EXPECT_FAILS(EINVAL, stat(at(f, self->dir, "alias01"), &st));
	expect_prog(_metadata, self, "name", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 2, [CNT_CONTINUE] = 2,
			   [CNT_E_REWRITE] = 1 },
		.backed = { [FUSE_ACCESS] = 1 },
	});

	/* The server would get the request as the caller made it */
	steer(self->bss, FUSE_LOOKUP, BPF_FUSE_USER, 0, 0);
	EXPECT_FAILS(EINVAL, stat(f, &st));
	expect_prog(_metadata, self, "name for the server",
		    &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 2, [CNT_CONTINUE] = 1,
			   [CNT_USER] = 1, [CNT_E_REWRITE] = 1 },
		.backed = { [FUSE_ACCESS] = 1 },
	});
	steer(self->bss, 0, 0, 0, 0);
	self->bss->name_ops = 0;
	EXPECT_EQ(0, close(fd));
	expect_nothing_sent(_metadata, self->conn);
}

/*
 * A backing call that fails counts as an error of the backing: a missing
 * xattr, a directory that is not empty. A missing name does not.
 */
TEST_F_TIMEOUT(prog, backing_errors, STATS_TIMEOUT)
{
	char b[PATH_MAX], f[PATH_MAX], buf[16];
	int fd;

	ASSERT_EQ(0, mkdir(at(b, self->backing, "full"), 0755));
	make_file(_metadata, at(b, self->backing, "full/f"), 0644, "f");
	fd = open_data(_metadata, self, O_RDONLY);
	prog_snapshot(_metadata, self);

	EXPECT_FAILS(ENODATA, fgetxattr(fd, "trusted.none", buf, sizeof(buf)));
	expect_prog(_metadata, self, "fgetxattr", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 1, [CNT_CONTINUE] = 1,
			   [CNT_E_BACKING] = 1 },
		.backed = { [FUSE_GETXATTR] = 1 },
	});

	/* The walk's ACCESS, the LOOKUP, may_delete()'s ACCESS, RMDIR */
	EXPECT_FAILS(ENOTEMPTY, rmdir(at(f, self->dir, "full")));
	expect_prog(_metadata, self, "rmdir", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 4, [CNT_CONTINUE] = 4,
			   [CNT_E_BACKING] = 1 },
		.backed = { [FUSE_ACCESS] = 2, [FUSE_LOOKUP] = 1,
			    [FUSE_RMDIR] = 1 },
	});

	expect_enoent(_metadata, at(f, self->dir, "missing"));
	expect_prog(_metadata, self, "missing", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 2, [CNT_CONTINUE] = 2 },
		.backed = { [FUSE_ACCESS] = 1, [FUSE_LOOKUP] = 1 },
	});
	EXPECT_EQ(0, close(fd));
}

/*
 * Without a daemon, BPF_FUSE_USER has nothing to send the request to: the
 * lookup fails with EOPNOTSUPP, and nothing is sent.
 */
TEST_F_TIMEOUT(prog, user_without_daemon, STATS_TIMEOUT)
{
	char f[PATH_MAX];
	struct stat st;

	prog_snapshot(_metadata, self);
	steer(self->bss, FUSE_LOOKUP, BPF_FUSE_USER, 0, 0);
	EXPECT_FAILS(EOPNOTSUPP, stat(at(f, self->dir, "name"), &st));
	expect_prog(_metadata, self, "stat", &(struct bpf_stats) {
		.count = { [CNT_PREFILTER] = 2, [CNT_CONTINUE] = 1,
			   [CNT_USER] = 1, [CNT_E_NO_SERVER] = 1 },
		.backed = { [FUSE_ACCESS] = 1 },
	});
	steer(self->bss, 0, 0, 0, 0);
	expect_nothing_sent(_metadata, self->conn);
}

/* A line of the fuse_bpf_filter or fuse_bpf_dispatch tracepoint */
struct trace_event {
	bool dispatch;
	unsigned long long node;
	unsigned long ino;
	unsigned int opcode;
	char name[32];
	/* pre or post; backing or server */
	char where[16];
	int verdict;
	int error;
};

/* Write @s to the tracefs file @name: 0 or -errno */
static int trace_write(const char *name, const char *s, int flags)
{
	char path[PATH_MAX];
	ssize_t len;
	int fd;

	fd = open(at(path, TRACEFS_DIR, name), O_WRONLY | O_CLOEXEC | flags);
	if (fd < 0)
		return -errno;
	len = write(fd, s, strlen(s));
	if (len < 0)
		len = -errno;
	close(fd);
	return len < 0 ? len : 0;
}

#define FILTER_EVENT	"events/fuse/fuse_bpf_filter/enable"
#define DISPATCH_EVENT	"events/fuse/fuse_bpf_dispatch/enable"

/*
 * Both tracepoints on, in tracefs, mounted if it is not: false if it
 * cannot be
 */
static bool trace_start(struct __test_metadata *_metadata,
			struct _test_data_prog *self)
{
	struct statfs sfs;
	char buf[16];

	if (statfs(TRACEFS_DIR, &sfs) || sfs.f_type != TRACEFS_MAGIC) {
		if (mount("nodev", TRACEFS_DIR, "tracefs", 0, NULL))
			return false;
	}
	self->events = true;
	ASSERT_EQ(0, trace_write(FILTER_EVENT, "1", 0));
	ASSERT_EQ(0, trace_write(DISPATCH_EVENT, "1", 0));
	ASSERT_LT(0, read_all(TRACEFS_DIR "/tracing_on", buf, sizeof(buf)));
	if (buf[0] == '0') {
		self->tracing_on = true;
		ASSERT_EQ(0, trace_write("tracing_on", "1", 0));
	}
	return true;
}

/* Both tracepoints off again, and tracing if it was */
static void trace_stop(struct __test_metadata *_metadata,
		       struct _test_data_prog *self)
{
	if (!self->events)
		return;
	EXPECT_EQ(0, trace_write(FILTER_EVENT, "0", 0));
	EXPECT_EQ(0, trace_write(DISPATCH_EVENT, "0", 0));
	if (self->tracing_on)
		EXPECT_EQ(0, trace_write("tracing_on", "0", 0));
	self->events = false;
}

/* Empty the trace buffer */
static void trace_clear(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, trace_write("trace", "", O_TRUNC));
}

/* What both events start with, as fs/fuse/fuse_trace.h prints them */
#define EVENT_HEAD	"connection %u node %llu ino %lu opcode %u (%31[^)]) "

/* Parse @line if it is an event of ours; false if it is another's */
static bool parse_event(struct __test_metadata *_metadata, const char *line,
			unsigned int dev, struct trace_event *ev)
{
	static const char dispatch[] = "fuse_bpf_dispatch: ";
	static const char filter[] = "fuse_bpf_filter: ";
	unsigned int conn = 0;
	int end = 0, fields;
	const char *p;

	memset(ev, 0, sizeof(*ev));
	p = strstr(line, dispatch);
	if (p) {
		ev->dispatch = true;
		p += strlen(dispatch);
		fields = sscanf(p, EVENT_HEAD "verdict %d %15s error %d%n",
				&conn, &ev->node, &ev->ino, &ev->opcode,
				ev->name, &ev->verdict, ev->where, &ev->error,
				&end);
		ASSERT_EQ(8, fields) TH_LOG("%s", line);
	} else {
		p = strstr(line, filter);
		if (!p)
			return false;
		p += strlen(filter);
		fields = sscanf(p, EVENT_HEAD "%15s verdict %d%n", &conn,
				&ev->node, &ev->ino, &ev->opcode, ev->name,
				ev->where, &ev->verdict, &end);
		ASSERT_EQ(7, fields) TH_LOG("%s", line);
	}
	EXPECT_EQ(0, p[end]) TH_LOG("trailing text: %s", line);
	return conn == dev;
}

/* The events of the connection @dev in the trace buffer; their number */
static int read_trace(struct __test_metadata *_metadata, unsigned int dev,
		      struct trace_event *evs, int max)
{
	static char buf[256 * 1024];
	char *line, *save;
	size_t len = 0;
	ssize_t n;
	int fd, nr = 0;

	/* A read of it gives a page at most */
	fd = open(TRACEFS_DIR "/trace", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("trace: %s", strerror(errno));
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	EXPECT_EQ(0, n) TH_LOG("trace: %s", strerror(errno));
	EXPECT_EQ(0, close(fd));
	ASSERT_GT(sizeof(buf) - 1, len) TH_LOG("trace: too long");
	buf[len] = 0;

	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		ASSERT_GT(max, nr) TH_LOG("too many events");
		if (parse_event(_metadata, line, dev, &evs[nr]))
			nr++;
	}
	return nr;
}

/*
 * The one event of @evs of @want's kind, opcode and (for a filter) pre or
 * post, has @want's fields
 */
static void expect_event(struct __test_metadata *_metadata,
			 const struct trace_event *evs, int nr,
			 const struct trace_event *want)
{
	const struct trace_event *ev = NULL;
	int i, found = 0;

	for (i = 0; i < nr; i++) {
		if (evs[i].dispatch != want->dispatch ||
		    evs[i].opcode != want->opcode ||
		    (!want->dispatch && strcmp(evs[i].where, want->where)))
			continue;
		ev = &evs[i];
		found++;
	}
	ASSERT_EQ(1, found) TH_LOG("%s %s %s", want->dispatch ?
				   "dispatch" : "filter", want->name,
				   want->where);
	EXPECT_EQ(want->node, ev->node) TH_LOG("%s", want->name);
	EXPECT_EQ(want->ino, ev->ino) TH_LOG("%s", want->name);
	EXPECT_STREQ(want->name, ev->name);
	EXPECT_STREQ(want->where, ev->where) TH_LOG("%s", want->name);
	EXPECT_EQ(want->verdict, ev->verdict) TH_LOG("%s", want->name);
	EXPECT_EQ(want->error, ev->error) TH_LOG("%s", want->name);
}

/* The pre-filter and the dispatch of the walk's ACCESS of the root */
static void expect_root_access(struct __test_metadata *_metadata,
			       const struct trace_event *evs, int nr)
{
	expect_event(_metadata, evs, nr, &(struct trace_event) {
		.node = FUSE_ROOT_ID, .ino = FUSE_ROOT_ID,
		.opcode = FUSE_ACCESS, .name = "FUSE_ACCESS",
		.where = "pre", .verdict = BPF_FUSE_CONTINUE,
	});
	expect_event(_metadata, evs, nr, &(struct trace_event) {
		.dispatch = true, .node = FUSE_ROOT_ID, .ino = FUSE_ROOT_ID,
		.opcode = FUSE_ACCESS, .name = "FUSE_ACCESS",
		.where = "backing", .verdict = BPF_FUSE_CONTINUE,
	});
}

/*
 * The tracepoints show each run of the program and where each operation
 * went: the root has node id 1 and inode number 1; a name missing from
 * the backing directory is a negative entry, found without error; an
 * errno verdict is the operation's error; BPF_FUSE_USER goes to the
 * server (none here); an inode made from the backing has node id 0 and
 * the backing's inode number.
 */
TEST_F_TIMEOUT(prog, tracepoints, STATS_TIMEOUT)
{
	struct trace_event evs[16];
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st, bst;
	int nr;

	if (!trace_start(_metadata, self))
		SKIP(return, "tracefs: %s", strerror(errno));

	trace_clear(_metadata);
	EXPECT_FAILS(ENOENT, stat(at(f, self->dir, "missing"), &st));
	nr = read_trace(_metadata, self->dev, evs, ARRAY_SIZE(evs));
	EXPECT_EQ(4, nr);
	expect_root_access(_metadata, evs, nr);
	expect_event(_metadata, evs, nr, &(struct trace_event) {
		.node = FUSE_ROOT_ID, .ino = FUSE_ROOT_ID,
		.opcode = FUSE_LOOKUP, .name = "FUSE_LOOKUP",
		.where = "pre", .verdict = BPF_FUSE_CONTINUE,
	});
	expect_event(_metadata, evs, nr, &(struct trace_event) {
		.dispatch = true, .node = FUSE_ROOT_ID, .ino = FUSE_ROOT_ID,
		.opcode = FUSE_LOOKUP, .name = "FUSE_LOOKUP",
		.where = "backing", .verdict = BPF_FUSE_CONTINUE, .error = 0,
	});

	steer(self->bss, FUSE_LOOKUP, -PRE_ERRNO, 0, 0);
	trace_clear(_metadata);
	EXPECT_FAILS(PRE_ERRNO, stat(at(f, self->dir, "missing2"), &st));
	nr = read_trace(_metadata, self->dev, evs, ARRAY_SIZE(evs));
	EXPECT_EQ(4, nr);
	expect_root_access(_metadata, evs, nr);
	expect_event(_metadata, evs, nr, &(struct trace_event) {
		.node = FUSE_ROOT_ID, .ino = FUSE_ROOT_ID,
		.opcode = FUSE_LOOKUP, .name = "FUSE_LOOKUP",
		.where = "pre", .verdict = -PRE_ERRNO,
	});
	expect_event(_metadata, evs, nr, &(struct trace_event) {
		.dispatch = true, .node = FUSE_ROOT_ID, .ino = FUSE_ROOT_ID,
		.opcode = FUSE_LOOKUP, .name = "FUSE_LOOKUP",
		.where = "backing", .verdict = -PRE_ERRNO,
		.error = -PRE_ERRNO,
	});

	self->bss->pre_ret = BPF_FUSE_USER;
	trace_clear(_metadata);
	EXPECT_FAILS(EOPNOTSUPP, stat(at(f, self->dir, "missing3"), &st));
	nr = read_trace(_metadata, self->dev, evs, ARRAY_SIZE(evs));
	EXPECT_EQ(4, nr);
	expect_root_access(_metadata, evs, nr);
	expect_event(_metadata, evs, nr, &(struct trace_event) {
		.node = FUSE_ROOT_ID, .ino = FUSE_ROOT_ID,
		.opcode = FUSE_LOOKUP, .name = "FUSE_LOOKUP",
		.where = "pre", .verdict = BPF_FUSE_USER,
	});
	expect_event(_metadata, evs, nr, &(struct trace_event) {
		.dispatch = true, .node = FUSE_ROOT_ID, .ino = FUSE_ROOT_ID,
		.opcode = FUSE_LOOKUP, .name = "FUSE_LOOKUP",
		.where = "server", .verdict = BPF_FUSE_USER, .error = 0,
	});

	/* A post-filter: two runs of the program for one LOOKUP */
	make_file(_metadata, at(b, self->backing, "data"), 0644, DATA);
	ASSERT_EQ(0, stat(b, &bst));
	steer(self->bss, 0, 0, FUSE_LOOKUP, BPF_FUSE_CONTINUE);
	trace_clear(_metadata);
	ASSERT_EQ(0, stat(at(f, self->dir, "data"), &st));
	nr = read_trace(_metadata, self->dev, evs, ARRAY_SIZE(evs));
	EXPECT_EQ(7, nr);
	expect_root_access(_metadata, evs, nr);
	expect_event(_metadata, evs, nr, &(struct trace_event) {
		.node = FUSE_ROOT_ID, .ino = FUSE_ROOT_ID,
		.opcode = FUSE_LOOKUP, .name = "FUSE_LOOKUP",
		.where = "pre", .verdict = BPF_FUSE_POSTFILTER,
	});
	expect_event(_metadata, evs, nr, &(struct trace_event) {
		.node = FUSE_ROOT_ID, .ino = FUSE_ROOT_ID,
		.opcode = FUSE_LOOKUP, .name = "FUSE_LOOKUP",
		.where = "post", .verdict = BPF_FUSE_CONTINUE,
	});
	expect_event(_metadata, evs, nr, &(struct trace_event) {
		.dispatch = true, .node = FUSE_ROOT_ID, .ino = FUSE_ROOT_ID,
		.opcode = FUSE_LOOKUP, .name = "FUSE_LOOKUP",
		.where = "backing", .verdict = BPF_FUSE_POSTFILTER,
	});
	expect_event(_metadata, evs, nr, &(struct trace_event) {
		.node = 0, .ino = bst.st_ino,
		.opcode = FUSE_GETATTR, .name = "FUSE_GETATTR",
		.where = "pre", .verdict = BPF_FUSE_CONTINUE,
	});
	expect_event(_metadata, evs, nr, &(struct trace_event) {
		.dispatch = true, .node = 0, .ino = bst.st_ino,
		.opcode = FUSE_GETATTR, .name = "FUSE_GETATTR",
		.where = "backing", .verdict = BPF_FUSE_CONTINUE,
	});
	steer(self->bss, 0, 0, 0, 0);
	trace_stop(_metadata, self);
}

/*
 * A fuse-bpf mount with a daemon, its root backed by a directory of the
 * ext4 scratch disk and filtered by fuse_rewrite.bpf.c
 */
FIXTURE(served) {
	char backing[128];
	char dir[64];
	char conn[64];
	unsigned int dev;
	int backing_fd;
	int fuse_fd;
	struct test_daemon *td;
	struct fuse_rewrite *skel;
	struct fuse_rewrite__bss *bss;
};

FIXTURE_SETUP(served)
{
	char opts[128];

	private_mount_ns(_metadata);
	mount_fusectl(_metadata);
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	self->backing_fd = open(self->backing, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, self->backing_fd);
	make_tmp_dir(_metadata, self->dir, sizeof(self->dir), "fuse_stats");
	self->skel = fuse_rewrite__open_and_load();
	ASSERT_NE(NULL, self->skel) TH_LOG("open_and_load: %s",
					   strerror(errno));
	self->bss = self->skel->bss;

	memset(&bpf_daemon_state, 0, sizeof(bpf_daemon_state));
	bpf_daemon_state.backing_dir = self->backing;
	snprintf(opts, sizeof(opts), "root_dir=%d,root_bpf=%d",
		 self->backing_fd,
		 bpf_program__fd(self->skel->progs.fuse_rewrite));
	start_bpf_daemon(_metadata, self->dir, opts, 0, &self->fuse_fd,
			 &self->td);
	conn_dir(_metadata, self->dir, self->conn, sizeof(self->conn),
		 &self->dev);
}

FIXTURE_TEARDOWN(served)
{
	stop_bpf_daemon(_metadata, self->dir, self->fuse_fd, self->td);
	fuse_rewrite__destroy(self->skel);
	EXPECT_EQ(0, close(self->backing_fd));
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

/*
 * The LOOKUPs a program sends to the server are the ones the server
 * receives, each one verdict BPF_FUSE_USER, none served by the backing;
 * what the backing serves costs the server nothing.
 */
TEST_F_TIMEOUT(served, user_lookups_reach_server, STATS_TIMEOUT)
{
	static const struct lookup_reply replies[] = {
		{ .name = "remote", .nodeid = 5, .via = TD_REPLY_WRITE },
	};
	const struct req_stats two_lookups = {
		.sent = { [FUSE_LOOKUP] = 2 },
		.total = 2,
	};
	const struct req_stats none = {};
	struct req_stats kernel, logged;
	char b[PATH_MAX], f[PATH_MAX], buf[64];
	struct bpf_stats stats;
	__u32 pre;
	struct stat st;

	/* INIT, on both sides */
	read_requests(_metadata, self->conn, &kernel);
	log_requests(_metadata, self->td, &logged);
	expect_same_requests(_metadata, "at mount", &logged, &kernel);
	EXPECT_EQ(1, kernel.sent[FUSE_INIT]);
	EXPECT_EQ(1, kernel.total);
	read_bpf_stats(_metadata, self->conn, &stats);
	pre = self->bss->pre_count;

	serve_lookups(replies, ARRAY_SIZE(replies));
	steer(self->bss, FUSE_LOOKUP, BPF_FUSE_USER, 0, 0);
	ASSERT_EQ(0, stat(at(f, self->dir, "remote"), &st))
		TH_LOG("stat: %s", strerror(errno));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_FAILS(ENOENT, stat(at(f, self->dir, "absent"), &st));
	ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
	EXPECT_EQ(1, count_lookups(self->td, "remote"));
	EXPECT_EQ(1, count_lookups(self->td, "absent"));
	expect_sent(_metadata, self->conn, &kernel, "to the server",
		    &two_lookups);
	expect_logged(_metadata, self->td, &logged, "to the server",
		      &two_lookups);
	expect_bpf(_metadata, self->conn, &stats, "to the server",
		   &(struct bpf_stats) {
			.count = { [CNT_PREFILTER] = 4, [CNT_CONTINUE] = 2,
				   [CNT_USER] = 2 },
			.backed = { [FUSE_ACCESS] = 2 },
		   });
	EXPECT_EQ(4, self->bss->pre_count - pre);

	/* Served by the backing */
	steer(self->bss, 0, 0, 0, 0);
	make_file(_metadata, at(b, self->backing, "data"), 0644, DATA);
	EXPECT_EQ(strlen(DATA), read_all(at(f, self->dir, "data"), buf,
					 sizeof(buf)));
	EXPECT_STREQ(DATA, buf);
	ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
	expect_sent(_metadata, self->conn, &kernel, "backed", &none);
	expect_logged(_metadata, self->td, &logged, "backed", &none);
	expect_bpf(_metadata, self->conn, &stats, "backed",
		   &(struct bpf_stats) {
			.count = { [CNT_PREFILTER] = 7, [CNT_CONTINUE] = 7 },
			.backed = { [FUSE_ACCESS] = 2, [FUSE_LOOKUP] = 1,
				    [FUSE_OPEN] = 1, [FUSE_READ] = 1,
				    [FUSE_FLUSH] = 1, [FUSE_RELEASE] = 1 },
		   });
}

TEST_HARNESS_MAIN
