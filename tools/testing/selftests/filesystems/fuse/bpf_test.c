// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests for fuse-bpf: BPF programs and the daemon's part. The tool
 * chain of the BPF programs, the BPF_PROG_TYPE_FUSE context, a daemon
 * that attaches backings and programs to entries in its LOOKUP replies,
 * and a root filtered by fuse_filter.bpf.c, whose verdicts decide what
 * the backing serves and what the daemon gets.
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
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../../kselftest_harness.h"
#include "test_util.h"
#include "test_daemon.h"
#include "fuse_bpf_util.h"
#include "fuse_bpf_test.h"
#include "bpf_smoke.skel.h"
#include "fuse_filter.skel.h"

/*
 * The BPF tool chain of these tests works against the kernel under test: a
 * clang-built program loads through its skeleton, runs, and its global data
 * is visible to userspace.
 */
TEST(bpf_toolchain_skeleton)
{
	struct smoke_args {
		__u32 in;
		__u32 out;
	} args = { .in = 14 };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .ctx_in = &args,
		    .ctx_size_in = sizeof(args),
	);
	struct bpf_smoke *skel;

	skel = bpf_smoke__open_and_load();
	ASSERT_NE(NULL, skel) TH_LOG("open_and_load: %s", strerror(errno));
	ASSERT_EQ(0, bpf_prog_test_run_opts(bpf_program__fd(skel->progs.smoke),
					    &opts));
	EXPECT_EQ(SMOKE_RETVAL, opts.retval);
	EXPECT_EQ(SMOKE_OUT(14), args.out);
	EXPECT_EQ(1, skel->bss->runs);
	bpf_smoke__destroy(skel);
}

#define LDX(size, offset)					\
	{ .code = BPF_LDX | BPF_MEM | (size), .dst_reg = BPF_REG_2,	\
	  .src_reg = BPF_REG_1, .off = (offset) }

/*
 * BPF_PROG_TYPE_FUSE context: exact-size reads only; the value and
 * end_offset of an argument load as packet pointers (verifier_test.c checks
 * what programs may do with them).
 */
TEST(bpf_fuse_context_access)
{
	static const struct {
		const char *what;
		struct bpf_insn insn;
		bool ok;
	} cases[] = {
		{ "nodeid", LDX(BPF_DW, 0), true },
		{ "opcode", LDX(BPF_W, 8), true },
		{ "error_in", LDX(BPF_W, 12), true },
		{ "flags", LDX(BPF_W, 24), true },
		{ "out_args[1].max_size",
		  LDX(BPF_W, 128 + 20), true },
		{ "padding", LDX(BPF_W, 28), false },
		{ "narrow opcode",
		  LDX(BPF_B, 8), false },
		{ "in_args[0].value",
		  LDX(BPF_DW, 32), true },
		{ "out_args[0].end_offset",
		  LDX(BPF_DW, 104 + 8), true },
		{ "in_args[0].value as u32",
		  LDX(BPF_W, 32), false },
		{ "past the end",
		  LDX(BPF_W, 152), false },
		{ "write opcode",
		  { .code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = BPF_REG_1,
		    .off = 8 }, false },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct bpf_insn insns[] = {
			cases[i].insn,
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K,
			  .dst_reg = BPF_REG_0 },
			{ .code = BPF_JMP | BPF_EXIT },
		};
		int fd = bpf_prog_load(BPF_PROG_TYPE_FUSE, NULL, "GPL", insns,
				       ARRAY_SIZE(insns), NULL);

		EXPECT_EQ(cases[i].ok, fd >= 0)
			TH_LOG("%s: %s", cases[i].what, strerror(errno));
		if (!cases[i].ok)
			EXPECT_EQ(EACCES, errno) TH_LOG("%s", cases[i].what);
		if (fd >= 0)
			close(fd);
	}
}

/*
 * A mount with fuse-bpf enabled and its root served by the daemon, which
 * attaches backings to entries in its LOOKUP replies.
 */
FIXTURE(bpf_daemon) {
	char backing[128];
	char dir[64];
	int fuse_fd;
	struct test_daemon *td;
};

FIXTURE_SETUP(bpf_daemon)
{
	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	snprintf(self->dir, sizeof(self->dir), "/tmp/fuse_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));

	memset(&bpf_daemon_state, 0, sizeof(bpf_daemon_state));
	bpf_daemon_state.backing_dir = self->backing;
	start_bpf_daemon(_metadata, self->dir, "fuse_bpf", FUSE_PASSTHROUGH,
			 &self->fuse_fd, &self->td);
}

FIXTURE_TEARDOWN(bpf_daemon)
{
	stop_bpf_daemon(_metadata, self->dir, self->fuse_fd, self->td);
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

/* The log entry of the LOOKUP of @name */
static bool find_lookup(struct test_daemon *td, const char *name,
			struct td_log_entry *found)
{
	static struct td_log_entry log[TD_LOG_SIZE];
	size_t i, n = test_daemon_get_log(td, log, TD_LOG_SIZE);

	for (i = 0; i < n && i < TD_LOG_SIZE; i++) {
		if (log[i].opcode == FUSE_LOOKUP &&
		    !strcmp(log[i].name, name)) {
			*found = log[i];
			return true;
		}
	}
	return false;
}

/* FUSE_BPF is offered on an enabled mount only, and negotiated */
TEST_F(bpf_daemon, init_offers_fuse_bpf)
{
	EXPECT_EQ(FUSE_BPF, bpf_daemon_state.init_flags & FUSE_BPF);
}

/* The fuse_bpf option shows, with a daemon */
TEST_F(bpf_daemon, mountinfo_options)
{
	check_super_options(_metadata, self->dir, true, false);
}

/* A REPLACE through the ioctl backs the entry: no more requests for it */
TEST_F(bpf_daemon, lookup_replace_backs_entry)
{
	static const struct lookup_reply replies[] = {
		{ .name = "file", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .via = TD_REPLY_IOCTL },
		{ .name = "dir", .nodeid = 6, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "sub",
		  .via = TD_REPLY_IOCTL },
	};
	static const struct td_expect expected[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "file" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "dir" },
		/* The new name of the link attempt, in the plain root */
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "inner" },
	};
	char b[PATH_MAX], f[PATH_MAX], buf[64];
	int fd;

	make_file(_metadata, at(b, self->backing, "data"), 0640, "backed!");
	ASSERT_EQ(0, mkdir(at(b, self->backing, "sub"), 0750));
	make_file(_metadata, at(b, self->backing, "sub/inner"), 0600, "in");
	serve_lookups(replies, ARRAY_SIZE(replies));

	expect_same_stat(_metadata, at(f, self->dir, "file"),
			 at(b, self->backing, "data"));
	ASSERT_EQ(7, read_all(f, buf, sizeof(buf)));
	EXPECT_STREQ("backed!", buf);
	fd = open(f, O_WRONLY | O_APPEND);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, write(fd, "?", 1));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(8, read_all(b, buf, sizeof(buf)));
	EXPECT_STREQ("backed!?", buf);

	/* A backed directory: its children inherit, the daemon is not asked */
	expect_same_stat(_metadata, at(f, self->dir, "dir/inner"),
			 at(b, self->backing, "sub/inner"));
	ASSERT_EQ(2, read_all(f, buf, sizeof(buf)));
	EXPECT_STREQ("in", buf);
	/* And entries are made, renamed and removed there */
	ASSERT_EQ(0, mkdir(at(f, self->dir, "dir/new"), 0700));
	make_file(_metadata, at(f, self->dir, "dir/new/f"), 0600, "new");
	ASSERT_EQ(0, rename(f, at(b, self->dir, "dir/g")));
	ASSERT_EQ(3, read_all(at(b, self->backing, "sub/g"), buf, sizeof(buf)));
	EXPECT_STREQ("new", buf);
	ASSERT_EQ(0, unlink(at(f, self->dir, "dir/g")));
	ASSERT_EQ(0, rmdir(at(f, self->dir, "dir/new")));
	expect_enoent(_metadata, at(b, self->backing, "sub/new"));
	/* Not between a plain and a backed directory */
	errno = 0;
	EXPECT_EQ(-1, rename(at(f, self->dir, "file"),
			     at(b, self->dir, "dir/file")));
	EXPECT_EQ(EXDEV, errno);
	errno = 0;
	EXPECT_EQ(-1, link(at(f, self->dir, "dir/inner"),
			   at(b, self->dir, "inner")));
	EXPECT_EQ(EXDEV, errno);

	ASSERT_TRUE(test_daemon_expect(self->td, expected,
				       ARRAY_SIZE(expected)));
}

/* A notification from the server, written to the FUSE device */
static int notify(int fuse_fd, int code, const void *arg, size_t len)
{
	struct fuse_out_header oh = {
		.len = sizeof(oh) + len,
		.error = code,
	};
	struct iovec iov[2] = {
		{ .iov_base = &oh, .iov_len = sizeof(oh) },
		{ .iov_base = (void *)arg, .iov_len = len },
	};

	return writev(fuse_fd, iov, 2) < 0 ? -errno : 0;
}

/*
 * Notifications naming a replaced node find no cached node; the entry of
 * its plain parent is invalidated as any other.
 */
TEST_F(bpf_daemon, replace_notify)
{
	static const struct lookup_reply replies[] = {
		{ .name = "file", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .via = TD_REPLY_IOCTL },
	};
	static struct td_log_entry log[TD_LOG_SIZE];
	struct fuse_notify_inval_inode_out inode_out = { .ino = 5 };
	struct {
		struct fuse_notify_inval_entry_out out;
		char name[8];
	} entry_out = {
		.out = { .parent = FUSE_ROOT_ID, .namelen = 4 },
		.name = "file",
	};
	char b[PATH_MAX], f[PATH_MAX];
	int lookups = 0;
	size_t i, n;

	make_file(_metadata, at(b, self->backing, "data"), 0640, "backed!");
	serve_lookups(replies, ARRAY_SIZE(replies));
	expect_same_stat(_metadata, at(f, self->dir, "file"), b);

	EXPECT_EQ(-ENOENT, notify(self->fuse_fd, FUSE_NOTIFY_INVAL_INODE,
				  &inode_out, sizeof(inode_out)));
	entry_out.out.parent = 5;
	EXPECT_EQ(-ENOENT, notify(self->fuse_fd, FUSE_NOTIFY_INVAL_ENTRY,
				  &entry_out, sizeof(entry_out.out) + 5));
	/* Still cached: no LOOKUP */
	expect_same_stat(_metadata, f, b);
	entry_out.out.parent = FUSE_ROOT_ID;
	EXPECT_EQ(0, notify(self->fuse_fd, FUSE_NOTIFY_INVAL_ENTRY,
			    &entry_out, sizeof(entry_out.out) + 5));
	/* Looked up again */
	expect_same_stat(_metadata, f, b);

	/*
	 * INIT, the two LOOKUPs and, if the inode was evicted meanwhile, a
	 * FORGET of node 5, in an order that depends on when it was.
	 */
	ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
	n = test_daemon_get_log(self->td, log, TD_LOG_SIZE);
	ASSERT_LE(3, n);
	EXPECT_EQ(FUSE_INIT, log[0].opcode);
	for (i = 1; i < n; i++) {
		if (log[i].opcode == FUSE_FORGET) {
			EXPECT_EQ(5, log[i].nodeid);
			continue;
		}
		EXPECT_EQ(FUSE_LOOKUP, log[i].opcode);
		EXPECT_EQ(FUSE_ROOT_ID, log[i].nodeid);
		EXPECT_STREQ("file", log[i].name);
		lookups++;
	}
	EXPECT_EQ(2, lookups);
}

/*
 * A LOOKUP reply with node id 0 and a backing gives a backed node the
 * server does not track, as the RFC's servers use it: its attributes and
 * data are the backing's, the server revalidates its entry, and no
 * request (FORGET included) ever names it. Without a backing, node id 0
 * stays a negative entry.
 */
TEST_F(bpf_daemon, lookup_untracked_node)
{
	static const struct lookup_reply replies[] = {
		{ .name = "file", .nodeid = 0, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .uncached = true, .via = TD_REPLY_IOCTL },
		{ .name = "none", .nodeid = 0, .ext = true,
		  .via = TD_REPLY_IOCTL },
	};
	static struct td_log_entry log[TD_LOG_SIZE];
	char b[PATH_MAX], f[PATH_MAX], buf[32];
	int lookups = 0, i, fd;
	struct stat st;
	size_t j, n;

	make_file(_metadata, at(b, self->backing, "data"), 0640, "untracked");
	serve_lookups(replies, ARRAY_SIZE(replies));
	at(f, self->dir, "file");
	for (i = 0; i < 2; i++)
		expect_same_stat(_metadata, f, b);
	fd = open(f, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(9, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "untracked", 9));
	EXPECT_EQ(0, close(fd));
	/* Evicted: nothing to forget */
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(2, write(fd, "2\n", 2));
	EXPECT_EQ(0, close(fd));
	/* The daemon reads a FORGET queued by then before this LOOKUP */
	errno = 0;
	EXPECT_EQ(-1, stat(at(b, self->dir, "none"), &st));
	EXPECT_EQ(ENOENT, errno);

	/* INIT, a LOOKUP of "file" per use (its entry times out at once) */
	ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
	n = test_daemon_get_log(self->td, log, TD_LOG_SIZE);
	ASSERT_EQ(5, n);
	EXPECT_EQ(FUSE_INIT, log[0].opcode);
	for (j = 1; j < n; j++) {
		EXPECT_EQ(FUSE_LOOKUP, log[j].opcode);
		EXPECT_EQ(FUSE_ROOT_ID, log[j].nodeid);
		EXPECT_EQ(0, log[j].ioctl_errno) TH_LOG("%s", log[j].name);
		lookups += !strcmp(log[j].name, "file");
	}
	EXPECT_EQ(3, lookups);
	EXPECT_STREQ("none", log[4].name);
}

/* write(2) of a reply with the extension: EPERM, and nothing changed */
TEST_F(bpf_daemon, lookup_reply_write_eperm)
{
	static const struct lookup_reply replies[] = {
		{ .name = "file", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .via = TD_REPLY_WRITE_THEN_IOCTL },
		{ .name = "keep", .nodeid = 7, .ext = true,
		  .backing_action = FUSE_ACTION_KEEP,
		  .via = TD_REPLY_WRITE_THEN_IOCTL },
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct td_log_entry e;
	struct stat st;

	make_file(_metadata, at(b, self->backing, "data"), 0640, "x");
	serve_lookups(replies, ARRAY_SIZE(replies));

	/* The request stayed pending: the ioctl then answered it */
	expect_same_stat(_metadata, at(f, self->dir, "file"), b);
	ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
	ASSERT_TRUE(find_lookup(self->td, "file", &e));
	EXPECT_EQ(EPERM, e.write_errno);
	EXPECT_EQ(0, e.ioctl_errno);

	/* Even a KEEP with no descriptor needs the ioctl */
	EXPECT_EQ(0, stat(at(f, self->dir, "keep"), &st));
	ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
	ASSERT_TRUE(find_lookup(self->td, "keep", &e));
	EXPECT_EQ(EPERM, e.write_errno);
	EXPECT_EQ(0, e.ioctl_errno);
}

/* A plain reply needs no ioctl and gives a plain node */
TEST_F(bpf_daemon, lookup_plain_reply)
{
	static const struct lookup_reply replies[] = {
		{ .name = "plain", .nodeid = 5, .via = TD_REPLY_WRITE },
		{ .name = "keep", .nodeid = 6, .ext = true,
		  .backing_action = FUSE_ACTION_KEEP, .via = TD_REPLY_IOCTL },
		{ .name = "remove", .nodeid = 7, .ext = true,
		  .backing_action = FUSE_ACTION_REMOVE,
		  .bpf_action = FUSE_ACTION_REMOVE, .via = TD_REPLY_IOCTL },
	};
	char f[PATH_MAX];
	struct stat st;

	serve_lookups(replies, ARRAY_SIZE(replies));
	ASSERT_EQ(0, stat(at(f, self->dir, "plain"), &st));
	EXPECT_EQ(5, st.st_ino);
	ASSERT_EQ(0, stat(at(f, self->dir, "keep"), &st));
	EXPECT_EQ(6, st.st_ino);
	ASSERT_EQ(0, stat(at(f, self->dir, "remove"), &st));
	EXPECT_EQ(7, st.st_ino);
}

/* Bad extensions: the ioctl says why, the lookup fails with EIO */
TEST_F(bpf_daemon, lookup_bad_replies)
{
	static const struct lookup_reply replies[] = {
		{ .name = "action", .nodeid = 5, .ext = true,
		  .backing_action = 3, .via = TD_REPLY_IOCTL },
		{ .name = "bpfaction", .nodeid = 5, .ext = true,
		  .bpf_action = 7, .via = TD_REPLY_IOCTL },
		{ .name = "badfd", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing_fd = 999,
		  .via = TD_REPLY_IOCTL },
		{ .name = "hugefd", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE,
		  .backing_fd = 1ULL << 40, .via = TD_REPLY_IOCTL },
		{ .name = "strayfd", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_KEEP, .backing_fd = 3,
		  .via = TD_REPLY_IOCTL },
		{ .name = "root", .nodeid = FUSE_ROOT_ID, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .via = TD_REPLY_IOCTL },
		{ .name = "bpf", .nodeid = 5, .ext = true,
		  .bpf_action = FUSE_ACTION_REPLACE, .via = TD_REPLY_IOCTL },
		{ .name = "rootkeep", .nodeid = FUSE_ROOT_ID, .ext = true,
		  .via = TD_REPLY_IOCTL },
		{ .name = "short", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .len_delta = -16, .via = TD_REPLY_IOCTL },
		{ .name = "long", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .len_delta = 8, .via = TD_REPLY_IOCTL },
	};
	static const int errnos[] = {
		EINVAL, EINVAL, EBADF, EBADF, EINVAL, EINVAL, EINVAL,
		EINVAL, EINVAL, EINVAL,
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct td_log_entry e;
	struct stat st;
	size_t i;

	make_file(_metadata, at(b, self->backing, "data"), 0640, "x");
	serve_lookups(replies, ARRAY_SIZE(replies));
	for (i = 0; i < ARRAY_SIZE(replies); i++) {
		errno = 0;
		EXPECT_EQ(-1, stat(at(f, self->dir, replies[i].name), &st))
			TH_LOG("%s", replies[i].name);
		EXPECT_EQ(EIO, errno) TH_LOG("%s", replies[i].name);
		ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
		ASSERT_TRUE(find_lookup(self->td, replies[i].name, &e));
		EXPECT_EQ(errnos[i], e.ioctl_errno)
			TH_LOG("%s: %s", replies[i].name,
			       strerror(e.ioctl_errno));
	}
}

/* A backing on this very mount would stack it on itself: ELOOP */
TEST_F(bpf_daemon, lookup_replace_too_deep)
{
	static const struct lookup_reply replies[] = {
		{ .name = "self", .nodeid = 5, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .via = TD_REPLY_IOCTL },
	};
	static struct lookup_reply dyn[1];
	char f[PATH_MAX];
	struct td_log_entry e;
	struct stat st;
	int fd;

	fd = open(self->dir, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, fd);
	dyn[0] = replies[0];
	dyn[0].backing_fd = fd;
	serve_lookups(dyn, 1);
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "self"), &st));
	EXPECT_EQ(EIO, errno);
	ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
	ASSERT_TRUE(find_lookup(self->td, "self", &e));
	EXPECT_EQ(ELOOP, e.ioctl_errno);
	EXPECT_EQ(0, close(fd));
}

/* A plain node whose file the daemon opens with FOPEN_PASSTHROUGH */
static struct passthrough_state {
	int fuse_fd;
	const char *backing;
	unsigned int opens, releases;
} passthrough_state;

static int pt_open(struct test_daemon *td, struct td_req *req)
{
	struct passthrough_state *state = req->priv;
	struct fuse_open_out *out = req->out;
	struct fuse_backing_map map = { 0 };
	int id;

	map.fd = open(state->backing, O_RDONLY);
	if (map.fd < 0)
		return -EIO;
	id = ioctl(state->fuse_fd, FUSE_DEV_IOC_BACKING_OPEN, &map);
	close(map.fd);
	if (id <= 0)
		return -EIO;
	state->opens++;
	out->fh = 1;
	out->open_flags = FOPEN_PASSTHROUGH;
	out->backing_id = id;
	req->out_len = sizeof(*out);
	return 0;
}

static int pt_release(struct test_daemon *td, struct td_req *req)
{
	struct passthrough_state *state = req->priv;

	state->releases++;
	return 0;
}

static int pt_flush(struct test_daemon *td, struct td_req *req)
{
	return 0;
}

/* What the passthrough daemon counted */
static void pt_counts(struct test_daemon *td, unsigned int *opens,
		      unsigned int *releases)
{
	test_daemon_lock(td);
	*opens = passthrough_state.opens;
	*releases = passthrough_state.releases;
	test_daemon_unlock(td);
}

static unsigned int pt_releases(struct test_daemon *td)
{
	unsigned int opens, releases;

	pt_counts(td, &opens, &releases);
	return releases;
}

/*
 * 6.12's FOPEN_PASSTHROUGH keeps working on the plain nodes of a fuse-bpf
 * mount, next to backed ones: reads go to the server's backing file, and
 * no READ is sent (it would be an unexpected request).
 */
TEST_F(bpf_daemon, fopen_passthrough_coexists)
{
	static const struct lookup_reply replies[] = {
		{ .name = "plain", .nodeid = 8, .via = TD_REPLY_WRITE },
		{ .name = "backed", .nodeid = 9, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .via = TD_REPLY_IOCTL },
	};
	char b[PATH_MAX], f[PATH_MAX], buf[64];
	unsigned int opens, releases;
	int fd;

	make_file(_metadata, at(b, self->backing, "data"), 0644, "data");
	make_file(_metadata, at(b, self->backing, "pt"), 0644, "passthrough");
	memset(&passthrough_state, 0, sizeof(passthrough_state));
	passthrough_state.fuse_fd = self->fuse_fd;
	passthrough_state.backing = b;
	serve_lookups(replies, ARRAY_SIZE(replies));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_OPEN, pt_open,
					     &passthrough_state));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_FLUSH, pt_flush,
					     NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_RELEASE,
					     pt_release, &passthrough_state));

	fd = open(at(f, self->dir, "plain"), O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(11, pread(fd, buf, sizeof(buf), 0));
	EXPECT_STREQ("passthrough", buf);
	EXPECT_EQ(0, close(fd));

	/* The backed node next to it asks the daemon nothing */
	ASSERT_EQ(4, read_all(at(f, self->dir, "backed"), buf, sizeof(buf)));
	EXPECT_STREQ("data", buf);

	/*
	 * RELEASE is sent in the background after close(): wait for it.
	 * One per OPEN, and no more once all were answered.
	 */
	EXPECT_TRUE(poll_until(pt_releases(self->td) >= 1))
		TH_LOG("no RELEASE within %d ms", POLL_TIMEOUT_MS);
	ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
	pt_counts(self->td, &opens, &releases);
	EXPECT_EQ(1, opens);
	EXPECT_EQ(opens, releases);

	/* A second open and close: a second pair */
	ASSERT_EQ(11, read_all(at(f, self->dir, "plain"), buf, sizeof(buf)));
	EXPECT_STREQ("passthrough", buf);
	EXPECT_TRUE(poll_until(pt_releases(self->td) >= 2))
		TH_LOG("no RELEASE within %d ms", POLL_TIMEOUT_MS);
	ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
	pt_counts(self->td, &opens, &releases);
	EXPECT_EQ(2, opens);
	EXPECT_EQ(opens, releases);
}

/* The kinds of file a server may not attach, and how to get one */
enum {
	SPECIAL_EVENTFD, SPECIAL_PIPE, SPECIAL_SOCKET, SPECIAL_MEMFD,
	SPECIAL_PROC_DIR, SPECIAL_PROC_LINK, SPECIAL_BPFFS, SPECIAL_NR
};

static const char *const special_names[SPECIAL_NR] = {
	"eventfd", "pipe", "socket", "memfd", "procdir", "proclink", "bpffs",
};

/* Open one file of each special kind; @bpffs is a directory to mount on */
static void open_special_files(struct __test_metadata *_metadata,
			       int *fds, int *pipe_fds, int *sock_fds,
			       const char *bpffs)
{
	fds[SPECIAL_EVENTFD] = eventfd(0, EFD_CLOEXEC);
	ASSERT_EQ(0, pipe2(pipe_fds, O_CLOEXEC));
	fds[SPECIAL_PIPE] = pipe_fds[0];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				sock_fds));
	fds[SPECIAL_SOCKET] = sock_fds[0];
	fds[SPECIAL_MEMFD] = memfd_create("fuse_bpf", MFD_CLOEXEC);
	fds[SPECIAL_PROC_DIR] = open("/proc/self", O_PATH | O_DIRECTORY |
				     O_CLOEXEC);
	/* A magic link: get_link would jump to our root */
	fds[SPECIAL_PROC_LINK] = open("/proc/self/root", O_PATH | O_NOFOLLOW |
				      O_CLOEXEC);
	ASSERT_EQ(0, mount("bpf", bpffs, "bpf", 0, NULL))
		TH_LOG("bpffs: %s", strerror(errno));
	fds[SPECIAL_BPFFS] = open(bpffs, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/*
 * A server may attach a directory, a regular file or a symlink of a
 * filesystem mounted for users, nothing else: an eventfd (an anon inode
 * with no file type, once a BUG() in fuse_init_inode()), a pipe, a socket,
 * a memfd, procfs (magic links) and bpffs are refused with EINVAL, and the
 * caller gets EIO. A regular file in the same run is accepted.
 */
TEST_F(bpf_daemon, lookup_replace_special_files)
{
	struct lookup_reply replies[SPECIAL_NR + 1] = {
		[SPECIAL_NR] = { .name = "data", .nodeid = 20, .ext = true,
				 .backing_action = FUSE_ACTION_REPLACE,
				 .backing = "data", .via = TD_REPLY_IOCTL },
	};
	int fds[SPECIAL_NR], pipe_fds[2], sock_fds[2], i;
	char b[PATH_MAX], f[PATH_MAX], bpffs[64];
	struct td_log_entry e;
	struct stat st;

	make_file(_metadata, at(b, self->backing, "data"), 0640, "x");
	snprintf(bpffs, sizeof(bpffs), "/tmp/fuse_bpffs.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(bpffs));
	open_special_files(_metadata, fds, pipe_fds, sock_fds, bpffs);
	for (i = 0; i < SPECIAL_NR; i++) {
		ASSERT_LE(0, fds[i]) TH_LOG("%s: %s", special_names[i],
					    strerror(errno));
		replies[i] = (struct lookup_reply) {
			.name = special_names[i], .nodeid = 10 + i,
			.ext = true, .backing_action = FUSE_ACTION_REPLACE,
			.backing_fd = fds[i], .via = TD_REPLY_IOCTL,
		};
	}
	serve_lookups(replies, ARRAY_SIZE(replies));

	for (i = 0; i < SPECIAL_NR; i++) {
		errno = 0;
		EXPECT_EQ(-1, stat(at(f, self->dir, special_names[i]), &st))
			TH_LOG("%s was attached", special_names[i]);
		EXPECT_EQ(EIO, errno) TH_LOG("%s", special_names[i]);
		ASSERT_EQ(0, test_daemon_sync(self->td, TD_STOP_TIMEOUT_MS));
		ASSERT_TRUE(find_lookup(self->td, special_names[i], &e));
		EXPECT_EQ(EINVAL, e.ioctl_errno)
			TH_LOG("%s: %s", special_names[i],
			       strerror(e.ioctl_errno));
	}
	/* The control */
	ASSERT_EQ(0, stat(at(f, self->dir, "data"), &st))
		TH_LOG("%s", strerror(errno));
	EXPECT_EQ(S_IFREG | 0640, st.st_mode);

	serve_lookups(NULL, 0);
	for (i = 0; i < SPECIAL_NR; i++)
		EXPECT_EQ(0, close(fds[i]));
	EXPECT_EQ(0, close(pipe_fds[1]));
	EXPECT_EQ(0, close(sock_fds[1]));
	EXPECT_EQ(0, umount(bpffs));
	EXPECT_EQ(0, rmdir(bpffs));
}

/*
 * A backed root filtered by a BPF_PROG_TYPE_FUSE program, with a daemon
 * that negotiated FUSE_BPF: the program decides which lookups reach it.
 */
FIXTURE(bpf_filter) {
	char backing[128];
	char dir[64];
	int backing_fd;
	int fuse_fd;
	struct test_daemon *td;
	struct fuse_filter *skel;
};

FIXTURE_SETUP(bpf_filter)
{
	char opts[128];

	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	self->backing_fd = open(self->backing, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, self->backing_fd);
	snprintf(self->dir, sizeof(self->dir), "/tmp/fuse_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	self->skel = fuse_filter__open_and_load();
	ASSERT_NE(NULL, self->skel);

	memset(&bpf_daemon_state, 0, sizeof(bpf_daemon_state));
	bpf_daemon_state.backing_dir = self->backing;
	bpf_daemon_state.prog_fd = bpf_program__fd(self->skel->progs.fuse_filter);
	snprintf(opts, sizeof(opts), "root_dir=%d,root_bpf=%d",
		 self->backing_fd, bpf_daemon_state.prog_fd);
	start_bpf_daemon(_metadata, self->dir, opts, 0, &self->fuse_fd,
			 &self->td);
}

FIXTURE_TEARDOWN(bpf_filter)
{
	stop_bpf_daemon(_metadata, self->dir, self->fuse_fd, self->td);
	fuse_filter__destroy(self->skel);
	EXPECT_EQ(0, close(self->backing_fd));
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

static const struct td_expect bpf_only_init[] = {
	{ .opcode = FUSE_INIT, .nodeid = 0 },
};

/* Neither the backing directory nor the program shows */
TEST_F(bpf_filter, mountinfo_options)
{
	check_super_options(_metadata, self->dir, true, false);
	ASSERT_TRUE(test_daemon_expect(self->td, bpf_only_init,
				       ARRAY_SIZE(bpf_only_init)));
}

/* The root's program sees the operations, the backing serves them */
TEST_F(bpf_filter, program_sees_operations)
{
	struct fuse_filter__bss *bss = self->skel->bss;
	char b[PATH_MAX], f[PATH_MAX];

	make_file(_metadata, at(b, self->backing, "file"), 0640, "data");
	expect_same_stat(_metadata, at(f, self->dir, "file"), b);
	EXPECT_EQ(0, access(f, R_OK));
	/* Children inherit the program */
	EXPECT_LE(1, bss->pre[FUSE_LOOKUP]);
	EXPECT_EQ(FUSE_ROOT_ID, bss->lookup_nodeid);
	EXPECT_LE(1, bss->pre[FUSE_GETATTR]);
	EXPECT_LE(1, bss->pre[FUSE_ACCESS]);
	EXPECT_EQ(0, bss->post[FUSE_LOOKUP]);
	ASSERT_TRUE(test_daemon_expect(self->td, bpf_only_init,
				       ARRAY_SIZE(bpf_only_init)));
}

/* A negative return fails the operation with that errno */
TEST_F(bpf_filter, prefilter_error)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	make_file(_metadata, at(b, self->backing, "denied"), 0640, "data");
	self->skel->bss->deny_size = sizeof("denied");
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "denied"), &st));
	EXPECT_EQ(FILTER_DENY_ERRNO, errno);
	/* Not cached: the next lookup asks the program again */
	self->skel->bss->deny_size = 0;
	expect_same_stat(_metadata, f, b);
	ASSERT_TRUE(test_daemon_expect(self->td, bpf_only_init,
				       ARRAY_SIZE(bpf_only_init)));
}

/* The post-filter sees the result and hides an entry that exists */
TEST_F(bpf_filter, postfilter_hides)
{
	struct fuse_filter__bss *bss = self->skel->bss;
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	make_file(_metadata, at(b, self->backing, "hidden"), 0640, "data");
	bss->hide_size = sizeof("hidden");
	bss->post_error_in = 1;
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "hidden"), &st));
	EXPECT_EQ(FILTER_HIDE_ERRNO, errno);
	EXPECT_EQ(1, bss->post[FUSE_LOOKUP]);
	/* The backing lookup had succeeded */
	EXPECT_EQ(0, bss->post_error_in);
	ASSERT_TRUE(test_daemon_expect(self->td, bpf_only_init,
				       ARRAY_SIZE(bpf_only_init)));
}

/* A post-filter fails a readlink that had succeeded: nothing leaks */
TEST_F(bpf_filter, postfilter_readlink)
{
	char b[PATH_MAX], f[PATH_MAX], target[200], buf[256];

	/* Long enough not to be inline in the backing inode */
	memset(target, 'x', sizeof(target) - 1);
	target[sizeof(target) - 1] = 0;
	ASSERT_EQ(0, symlink(target, at(b, self->backing, "link")));
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(sizeof(target) - 1,
		  readlink(at(f, self->dir, "link"), buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, target, sizeof(target)));
	self->skel->bss->readlink_post = 1;
	errno = 0;
	EXPECT_EQ(-1, readlink(f, buf, sizeof(buf)));
	EXPECT_EQ(FILTER_HIDE_ERRNO, errno);
	EXPECT_EQ(1, self->skel->bss->post[FUSE_READLINK]);
	EXPECT_EQ(0, self->skel->bss->post_error_in);
	ASSERT_TRUE(test_daemon_expect(self->td, bpf_only_init,
				       ARRAY_SIZE(bpf_only_init)));
}

/* Nonsense from a program */
TEST_F(bpf_filter, bad_verdicts)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	make_file(_metadata, at(b, self->backing, "bogus"), 0640, "data");
	make_file(_metadata, at(b, self->backing, "restart_sys"), 0640, "x");
	self->skel->bss->bogus_size = sizeof("bogus");
	self->skel->bss->kernel_errno_size = sizeof("restart_sys");
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "bogus"), &st));
	EXPECT_EQ(EIO, errno);
	/* Not an errno for system calls */
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "restart_sys"), &st));
	EXPECT_EQ(EIO, errno);
	ASSERT_TRUE(test_daemon_expect(self->td, bpf_only_init,
				       ARRAY_SIZE(bpf_only_init)));
}

/* GETATTR of a plain node: a file of 42 bytes */
static int plain_getattr(struct test_daemon *td, struct td_req *req)
{
	struct fuse_attr_out *out = req->out;

	out->attr.ino = req->in->nodeid;
	out->attr.mode = S_IFREG | 0644;
	out->attr.nlink = 1;
	out->attr.size = 42;
	req->out_len = sizeof(*out);
	return 0;
}

/*
 * BPF_FUSE_USER sends the lookup of a child of the backed root to the
 * daemon, whose reply decides: REMOVE (or no extension) makes a plain
 * node the daemon serves, KEEP the entry backed by the same name,
 * REPLACE another backing.
 */
TEST_F(bpf_filter, user_lookup_reply_actions)
{
	static const struct lookup_reply replies[] = {
		{ .name = "plain_n", .nodeid = 5, .via = TD_REPLY_WRITE },
		{ .name = "removed", .nodeid = 6, .ext = true,
		  .backing_action = FUSE_ACTION_REMOVE,
		  .bpf_action = FUSE_ACTION_REMOVE, .via = TD_REPLY_IOCTL },
		{ .name = "kept_me", .nodeid = 7, .ext = true,
		  .backing_action = FUSE_ACTION_KEEP, .via = TD_REPLY_IOCTL },
		{ .name = "replace", .nodeid = 8, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .via = TD_REPLY_IOCTL },
	};
	static const struct td_expect expected[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "plain_n" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "removed" },
		{ .opcode = FUSE_GETATTR, .nodeid = 6 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "kept_me" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "replace" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "missing" },
		/* Its attributes had no validity */
		{ .opcode = FUSE_GETATTR, .nodeid = 6 },
	};
	char b[PATH_MAX], f[PATH_MAX], buf[16];
	struct statx stx;
	struct stat st;

	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_GETATTR,
					     plain_getattr, NULL));
	make_file(_metadata, at(b, self->backing, "removed"), 0600, "backing");
	make_file(_metadata, at(b, self->backing, "kept_me"), 0640, "kept");
	make_file(_metadata, at(b, self->backing, "data"), 0604, "data");
	serve_lookups(replies, ARRAY_SIZE(replies));
	self->skel->bss->user_size = sizeof("plain_n");

	ASSERT_EQ(0, stat(at(f, self->dir, "plain_n"), &st));
	EXPECT_EQ(5, st.st_ino);
	/* Not the backing file of the same name: the daemon's node */
	ASSERT_EQ(0, stat(at(f, self->dir, "removed"), &st));
	EXPECT_EQ(6, st.st_ino);
	EXPECT_EQ(S_IFREG | 0644, st.st_mode);
	/* The daemon serves it */
	ASSERT_EQ(0, statx(AT_FDCWD, f, AT_STATX_FORCE_SYNC, STATX_SIZE,
			   &stx));
	EXPECT_EQ(42, stx.stx_size);
	/* Served from the backing, no request */
	expect_same_stat(_metadata, at(f, self->dir, "kept_me"),
			 at(b, self->backing, "kept_me"));
	ASSERT_EQ(4, read_all(f, buf, sizeof(buf)));
	EXPECT_STREQ("kept", buf);
	expect_same_stat(_metadata, at(f, self->dir, "replace"),
			 at(b, self->backing, "data"));
	ASSERT_EQ(4, read_all(f, buf, sizeof(buf)));
	EXPECT_STREQ("data", buf);
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "missing"), &st));
	EXPECT_EQ(ENOENT, errno);
	/* The daemon's nodes time out as it said, not by the backing */
	ASSERT_EQ(0, stat(at(f, self->dir, "removed"), &st));
	EXPECT_EQ(6, st.st_ino);
	ASSERT_EQ(0, stat(at(f, self->dir, "plain_n"), &st));
	EXPECT_EQ(5, st.st_ino);
	/* Other sizes stay served from the backing, no request */
	expect_same_stat(_metadata, at(f, self->dir, "data"),
			 at(b, self->backing, "data"));
	/* Also the inode the daemon named, under another name */
	ASSERT_EQ(0, link(at(b, self->backing, "kept_me"),
			  at(f, self->backing, "kept_link")));
	expect_same_stat(_metadata, at(f, self->dir, "kept_link"),
			 at(b, self->backing, "kept_me"));
	ASSERT_EQ(0, unlink(at(f, self->backing, "kept_link")));
	expect_enoent(_metadata, at(f, self->dir, "kept_link"));
	ASSERT_TRUE(test_daemon_expect(self->td, expected,
				       ARRAY_SIZE(expected)));
}

/*
 * The daemon revalidates the entries it made in a backed directory, and
 * a reply that makes another node replaces the entry.
 */
TEST_F(bpf_filter, daemon_revalidates_its_entries)
{
	static const struct lookup_reply keep[] = {
		{ .name = "kept_me", .nodeid = 7, .ext = true,
		  .backing_action = FUSE_ACTION_KEEP, .uncached = true,
		  .via = TD_REPLY_IOCTL },
	};
	static const struct lookup_reply removed[] = {
		{ .name = "kept_me", .nodeid = 7, .ext = true,
		  .backing_action = FUSE_ACTION_REMOVE, .uncached = true,
		  .via = TD_REPLY_IOCTL },
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	make_file(_metadata, at(b, self->backing, "kept_me"), 0640, "kept");
	self->skel->bss->user_size = sizeof("kept_me");
	serve_lookups(keep, ARRAY_SIZE(keep));
	expect_same_stat(_metadata, at(f, self->dir, "kept_me"), b);
	EXPECT_EQ(1, count_lookups(self->td, "kept_me"));
	/* Revalidated, unchanged */
	expect_same_stat(_metadata, f, b);
	EXPECT_EQ(2, count_lookups(self->td, "kept_me"));

	/* Now a plain node: revalidation fails, the lookup makes it */
	serve_lookups(removed, ARRAY_SIZE(removed));
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(7, st.st_ino);
	EXPECT_EQ(S_IFREG | 0644, st.st_mode);
	EXPECT_EQ(4, count_lookups(self->td, "kept_me"));

	/* And backed again by the same name, as a new lookup would be */
	serve_lookups(keep, ARRAY_SIZE(keep));
	expect_same_stat(_metadata, f, b);
	EXPECT_EQ(6, count_lookups(self->td, "kept_me"));
	EXPECT_EQ(0, test_daemon_unexpected(self->td));
}

/*
 * A reply attaches a program with the backing: lookups in that directory
 * now run it, and it sends them to the daemon with the daemon's node id.
 */
TEST_F(bpf_filter, reply_attaches_program)
{
	static const struct lookup_reply replies[] = {
		{ .name = "subdir", .nodeid = 9, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "sub",
		  .bpf_action = FUSE_ACTION_REPLACE, .prog = true,
		  .via = TD_REPLY_IOCTL },
	};
	static const struct td_expect expected[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "subdir" },
		{ .opcode = FUSE_LOOKUP, .nodeid = 9, .name = "inner1" },
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;

	ASSERT_EQ(0, mkdir(at(b, self->backing, "sub"), 0755));
	make_file(_metadata, at(b, self->backing, "sub/inner1"), 0600, "in");
	make_file(_metadata, at(b, self->backing, "sub/other_name"), 0600,
		  "x");
	serve_lookups(replies, ARRAY_SIZE(replies));
	self->skel->bss->user_size = sizeof("subdir");

	expect_same_stat(_metadata, at(f, self->dir, "subdir"),
			 at(b, self->backing, "sub"));
	EXPECT_EQ(FUSE_ROOT_ID, self->skel->bss->lookup_nodeid);
	/* This daemon knows no children of node 9 */
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "subdir/inner1"), &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(9, self->skel->bss->lookup_nodeid);
	expect_same_stat(_metadata, at(f, self->dir, "subdir/other_name"),
			 at(b, self->backing, "sub/other_name"));
	ASSERT_TRUE(test_daemon_expect(self->td, expected,
				       ARRAY_SIZE(expected)));
}

/*
 * A backed inode is one (backing inode, credentials, program): a reply
 * that backs another entry by the backing inode of a cached one, with no
 * program, gets an inode of its own. The cached inode keeps the program
 * the mounter gave it.
 */
TEST_F(bpf_filter, replace_cannot_strip_root_bpf)
{
	static const struct lookup_reply replies[] = {
		{ .name = "alias", .nodeid = 10, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "f",
		  .bpf_action = FUSE_ACTION_REMOVE, .via = TD_REPLY_IOCTL },
	};
	static const struct td_expect expected[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "alias" },
	};
	struct fuse_filter__bss *bss = self->skel->bss;
	char b[PATH_MAX], f[PATH_MAX], a[PATH_MAX], buf[16];
	struct stat fst, ast;
	__u32 getattrs;

	make_file(_metadata, at(b, self->backing, "f"), 0644, "data");
	getattrs = bss->pre[FUSE_GETATTR];
	ASSERT_EQ(0, stat(at(f, self->dir, "f"), &fst));
	EXPECT_EQ(getattrs + 1, bss->pre[FUSE_GETATTR]);

	serve_lookups(replies, ARRAY_SIZE(replies));
	bss->user_size = sizeof("alias");
	getattrs = bss->pre[FUSE_GETATTR];
	ASSERT_EQ(0, stat(at(a, self->dir, "alias"), &ast));
	/* No program runs on the alias */
	EXPECT_EQ(getattrs, bss->pre[FUSE_GETATTR]);
	/* Backed by the same backing inode */
	EXPECT_EQ(fst.st_dev, ast.st_dev);
	EXPECT_EQ(fst.st_ino, ast.st_ino);
	EXPECT_EQ(4, ast.st_size);
	ASSERT_EQ(4, read_all(a, buf, sizeof(buf)));
	EXPECT_STREQ("data", buf);

	/* The mounter's program still runs on the cached inode */
	ASSERT_EQ(0, stat(f, &fst));
	EXPECT_EQ(getattrs + 1, bss->pre[FUSE_GETATTR]);
	EXPECT_EQ(fst.st_ino, ast.st_ino);
	ASSERT_EQ(0, stat(a, &ast));
	EXPECT_EQ(getattrs + 1, bss->pre[FUSE_GETATTR]);
	ASSERT_TRUE(test_daemon_expect(self->td, expected,
				       ARRAY_SIZE(expected)));
}

/* The fsuid the daemon thread last replied to a LOOKUP with */
static int lookup_reply_fsuid = -1;

/*
 * bpf_daemon_lookup(), but the reply to "secret_alias" goes out with
 * fsuid and fsgid 3000, which also drop the filesystem capabilities: the
 * kernel captures these credentials with the backing. The raw system
 * calls change those of the daemon thread only.
 */
static int lookup_as_uid3000(struct test_daemon *td, struct td_req *req)
{
	int id = strcmp(req->arg, "secret_alias") ? 0 : 3000;
	int err;

	/* Root for the stat() and open() of bpf_daemon_lookup() */
	syscall(SYS_setfsuid, 0);
	syscall(SYS_setfsgid, 0);
	err = bpf_daemon_lookup(td, req);
	syscall(SYS_setfsgid, id);
	syscall(SYS_setfsuid, id);
	/* An invalid id changes nothing, the current fsuid is returned */
	lookup_reply_fsuid = syscall(SYS_setfsuid, -1);
	return err;
}

/*
 * A backing a reply attaches is used with the credentials of the server
 * that replied, even if an entry of the mounter is cached for the same
 * backing inode: the reply gets an inode of its own, not the mounter's.
 */
TEST_F(bpf_filter, replace_gets_server_creds)
{
	static const struct lookup_reply replies[] = {
		{ .name = "secret_alias", .nodeid = 11, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "secret",
		  .via = TD_REPLY_IOCTL },
	};
	static const struct td_expect expected[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "secret_alias" },
	};
	char b[PATH_MAX], f[PATH_MAX], a[PATH_MAX], buf[16];
	struct stat st, ast;
	int fd, fsuid;

	make_file(_metadata, at(b, self->backing, "secret"), 0600, "secret");
	/* Cached, with the mounter's credentials */
	ASSERT_EQ(0, stat(at(f, self->dir, "secret"), &st));
	EXPECT_EQ(0, st.st_uid);

	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_LOOKUP,
					     lookup_as_uid3000,
					     &bpf_daemon_state));
	serve_lookups(replies, ARRAY_SIZE(replies));
	self->skel->bss->user_size = sizeof("secret_alias");
	ASSERT_EQ(0, stat(at(a, self->dir, "secret_alias"), &ast));
	EXPECT_EQ(st.st_ino, ast.st_ino);
	test_daemon_lock(self->td);
	fsuid = lookup_reply_fsuid;
	test_daemon_unlock(self->td);
	ASSERT_EQ(3000, fsuid);

	/* uid 3000 may not read a 0600 file of root's */
	errno = 0;
	fd = open(a, O_RDONLY);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EACCES, errno);
	if (fd >= 0)
		close(fd);
	/* The mounter's entry keeps the mounter's credentials */
	ASSERT_EQ(6, read_all(f, buf, sizeof(buf)));
	EXPECT_STREQ("secret", buf);
	EXPECT_EQ(-EACCES, read_all(a, buf, sizeof(buf)));
	ASSERT_TRUE(test_daemon_expect(self->td, expected,
				       ARRAY_SIZE(expected)));
}

/*
 * @name failed to be made, but the backing call had made it: the FUSE
 * entry is the backing's object, of type @type.
 */
static void expect_made_anyway(struct __test_metadata *_metadata,
			       struct _test_data_bpf_filter *self,
			       const char *name, mode_t type)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat bst, st;

	ASSERT_EQ(0, lstat(at(b, self->backing, name), &bst))
		TH_LOG("%s not made: %s", name, strerror(errno));
	EXPECT_EQ(type, bst.st_mode & S_IFMT);
	ASSERT_EQ(0, lstat(at(f, self->dir, name), &st))
		TH_LOG("lstat %s: %s", f, strerror(errno));
	EXPECT_EQ(type, st.st_mode & S_IFMT);
	EXPECT_EQ(bst.st_ino, st.st_ino);
}

/*
 * A post-filter fails creations the backing calls made: the new entries
 * are there all the same, and valid as long as their backing entries are.
 * The negative entries they replace came from the daemon (the program
 * sent it the lookups), which revalidates its own entries: unless the
 * new entries are marked as the backing's, it is asked about them. The
 * program sees their revalidation, as it sees lookups.
 */
TEST_F(bpf_filter, postfilter_fails_new_entries)
{
	static const struct td_expect expected[] = {
		{ .opcode = FUSE_INIT, .nodeid = 0 },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "d" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "c" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "n" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "s" },
	};
	struct fuse_filter__bss *bss = self->skel->bss;
	char f[PATH_MAX];
	__u32 lookups;
	int fd;

	bss->new_entry_post = 1;
	/*
	 * The program sends the lookups of these names to the daemon, which
	 * knows none of them: negative entries it times out (ENOENT)
	 */
	bss->user_size = sizeof("d");
	bss->post_error_in = 1;
	errno = 0;
	EXPECT_EQ(-1, mkdir(at(f, self->dir, "d"), 0755));
	EXPECT_EQ(FILTER_HIDE_ERRNO, errno);
	errno = 0;
	fd = open(at(f, self->dir, "c"), O_CREAT | O_EXCL | O_WRONLY, 0644);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(FILTER_HIDE_ERRNO, errno);
	if (fd >= 0)
		close(fd);
	errno = 0;
	EXPECT_EQ(-1, mknod(at(f, self->dir, "n"), S_IFIFO | 0644, 0));
	EXPECT_EQ(FILTER_HIDE_ERRNO, errno);
	errno = 0;
	EXPECT_EQ(-1, symlink("target", at(f, self->dir, "s")));
	EXPECT_EQ(FILTER_HIDE_ERRNO, errno);
	/* The backing calls had succeeded */
	EXPECT_EQ(0, bss->post_error_in);

	/*
	 * Valid: revalidated through the program, which now lets the
	 * backing answer, not by the daemon
	 */
	bss->user_size = 0;
	lookups = bss->pre[FUSE_LOOKUP];
	expect_made_anyway(_metadata, self, "d", S_IFDIR);
	expect_made_anyway(_metadata, self, "c", S_IFREG);
	expect_made_anyway(_metadata, self, "n", S_IFIFO);
	expect_made_anyway(_metadata, self, "s", S_IFLNK);
	/* Positive entries: the VFS refuses to make them again */
	errno = 0;
	EXPECT_EQ(-1, mkdir(at(f, self->dir, "d"), 0755));
	EXPECT_EQ(EEXIST, errno);
	errno = 0;
	fd = open(at(f, self->dir, "c"), O_CREAT | O_EXCL | O_WRONLY, 0644);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EEXIST, errno);
	if (fd >= 0)
		close(fd);
	EXPECT_LT(lookups, bss->pre[FUSE_LOOKUP]);
	EXPECT_EQ(1, bss->pre[FUSE_MKDIR]);
	EXPECT_EQ(1, bss->post[FUSE_MKDIR]);
	EXPECT_EQ(1, bss->pre[FUSE_CREATE]);
	EXPECT_EQ(1, bss->post[FUSE_CREATE]);
	EXPECT_EQ(1, bss->pre[FUSE_MKNOD]);
	EXPECT_EQ(1, bss->post[FUSE_MKNOD]);
	EXPECT_EQ(1, bss->pre[FUSE_SYMLINK]);
	EXPECT_EQ(1, bss->post[FUSE_SYMLINK]);
	ASSERT_TRUE(test_daemon_expect(self->td, expected,
				       ARRAY_SIZE(expected)));
}

/* The file operations of a backed file, which its program sees as well */
static const __u32 file_opcodes[] = {
	FUSE_OPEN, FUSE_OPENDIR, FUSE_READ, FUSE_WRITE, FUSE_RELEASE,
	FUSE_RELEASEDIR, FUSE_FSYNC, FUSE_FSYNCDIR, FUSE_FLUSH, FUSE_READDIR,
	FUSE_LSEEK, FUSE_FALLOCATE, FUSE_COPY_FILE_RANGE, FUSE_IOCTL,
};

/*
 * Since @was, of the file operations, the program saw @op1 and @op2 once
 * each and no other, and post-filtered @post once and no other (0: none).
 */
static void expect_file_ops(struct __test_metadata *_metadata,
			    const struct fuse_filter__bss *was,
			    const struct fuse_filter__bss *now,
			    __u32 op1, __u32 op2, __u32 post, const char *what)
{
	__u32 op, pre_n, post_n;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(file_opcodes); i++) {
		op = file_opcodes[i];
		pre_n = now->pre[op] - was->pre[op];
		post_n = now->post[op] - was->post[op];
		EXPECT_EQ(op == op1 || op == op2, pre_n)
			TH_LOG("%s: %u pre-filters of %s", what, pre_n,
			       td_opcode_name(op));
		EXPECT_EQ(op == post, post_n)
			TH_LOG("%s: %u post-filters of %s", what, post_n,
			       td_opcode_name(op));
	}
}

/*
 * @call fails with exactly FILTER_DENY_ERRNO while the pre-filter of @op
 * fails it, and the program saw @op, and no other file operation, once.
 */
#define EXPECT_DENIED(op, call) do {					\
	struct fuse_filter__bss *__bss = self->skel->bss;		\
	struct fuse_filter__bss __was = *__bss;				\
	__u32 __op = (op);						\
	long __ret;							\
	int __err;							\
									\
	__bss->deny_op = __op;						\
	errno = 0;							\
	__ret = (long)(call);						\
	__err = errno;							\
	__bss->deny_op = 0;						\
	EXPECT_EQ(-1, __ret) TH_LOG("%s", #call);			\
	EXPECT_EQ(FILTER_DENY_ERRNO, __err)				\
		TH_LOG("%s: %s", #call, strerror(__err));		\
	expect_file_ops(_metadata, &__was, __bss, __op, 0, 0, #call);	\
} while (0)

/*
 * What file_ops_postfilter makes post-filters fail with: nothing else
 * gives it to these calls (EIO would also be a bad verdict's).
 */
#define POST_ERRNO	EDOM

/*
 * Post-filter @op, the post-filter returning @ret, and take in @was what
 * the program saw so far. post_error_in gets a value the backing calls
 * of these tests never give.
 */
static void arm_post(struct fuse_filter__bss *bss,
		     struct fuse_filter__bss *was, __u32 op, __s32 ret)
{
	bss->post_op = op;
	bss->post_ret = ret;
	bss->post_error_in = 1;
	*was = *bss;
}

/*
 * Since arm_post(): of the file operations, the program saw the one it
 * armed, before and after the backing call, and no other; that call
 * succeeded. Post-filter nothing more.
 */
static void expect_post(struct __test_metadata *_metadata,
			struct fuse_filter__bss *bss,
			const struct fuse_filter__bss *was, const char *what)
{
	bss->post_op = 0;
	bss->post_ret = 0;
	expect_file_ops(_metadata, was, bss, was->post_op, 0, was->post_op,
			what);
	EXPECT_EQ(0, bss->post_error_in) TH_LOG("%s", what);
}

/*
 * Try a write lease on @path: 0 if no other file of its inode is open,
 * -EAGAIN if one is. The backing file of a backed FUSE file stays open
 * as long as the FUSE file, not longer.
 */
static int write_lease(const char *path)
{
	int fd, ret;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	ret = fcntl(fd, F_SETLEASE, F_WRLCK) ? -errno : 0;
	if (!ret && fcntl(fd, F_SETLEASE, F_UNLCK))
		ret = -errno;
	close(fd);
	return ret;
}

/* @path still has the size and times of @was, and holds @data */
static void expect_unchanged(struct __test_metadata *_metadata,
			     const struct stat *was, const char *path,
			     const char *data)
{
	char buf[64];
	struct stat st;

	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(was->st_size, st.st_size) TH_LOG("%s", path);
	EXPECT_EQ(was->st_blocks, st.st_blocks) TH_LOG("%s", path);
	EXPECT_EQ(was->st_mtim.tv_sec, st.st_mtim.tv_sec) TH_LOG("%s", path);
	EXPECT_EQ(was->st_mtim.tv_nsec, st.st_mtim.tv_nsec) TH_LOG("%s", path);
	EXPECT_EQ(was->st_ctim.tv_sec, st.st_ctim.tv_sec) TH_LOG("%s", path);
	EXPECT_EQ(was->st_ctim.tv_nsec, st.st_ctim.tv_nsec) TH_LOG("%s", path);
	EXPECT_EQ(strlen(data), read_all(path, buf, sizeof(buf)));
	EXPECT_STREQ(data, buf);
}

/* A getdents64() buffer, aligned for struct dirent64 */
struct dents {
	__u64 buf[512];
};

static long read_dents(int fd, struct dents *d)
{
	return syscall(SYS_getdents64, fd, d->buf, sizeof(d->buf));
}

/*
 * @d (@len bytes, from one getdents64() from the start of a directory)
 * has the entries of the backing directory @path, in its order: names,
 * types and record sizes. Returns how many.
 */
static int expect_backing_dents(struct __test_metadata *_metadata,
				const struct dents *d, long len,
				const char *path)
{
	static struct dents bd;
	const struct dirent64 *e, *be;
	long blen, pos;
	int fd, n = 0;

	fd = open(path, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd);
	blen = read_dents(fd, &bd);
	ASSERT_EQ(0, close(fd));
	ASSERT_LT(0, blen);
	ASSERT_EQ(blen, len) TH_LOG("%ld bytes of entries, not %ld", len, blen);
	for (pos = 0; pos < len; pos += e->d_reclen, n++) {
		e = (const void *)((const char *)d->buf + pos);
		be = (const void *)((const char *)bd.buf + pos);
		ASSERT_EQ(be->d_reclen, e->d_reclen);
		EXPECT_STREQ(be->d_name, e->d_name);
		EXPECT_EQ(be->d_type, e->d_type) TH_LOG("%s", e->d_name);
	}
	return n;
}

/*
 * The file operations of a backed file run through its program, each
 * with its opcode, once per call, before the backing call serves it:
 * the results are the backing file's. The daemon is asked nothing.
 */
TEST_F(bpf_filter, file_ops_seen)
{
	static const int whences[] = { SEEK_DATA, SEEK_HOLE, SEEK_END };
	struct fuse_filter__bss *bss = self->skel->bss;
	char bfile[PATH_MAX], ffile[PATH_MAX], bcopy[PATH_MAX];
	char fcopy[PATH_MAX], bdir[PATH_MAX], fdir[PATH_MAX];
	char buf[8192], bbuf[8192];
	struct fuse_filter__bss was;
	loff_t off_in = 0, off_out = 0;
	off_t off = 0, want;
	int fd, bfd, cfd, dfd, pfd[2];
	struct stat st, bst;
	static struct dents d;
	size_t i;
	long ver, n;

	ASSERT_EQ(0, mkdir(at(bdir, self->backing, "dir"), 0755));
	make_file(_metadata, at(bfile, self->backing, "dir/entry"), 0644, "x");
	at(fdir, self->dir, "dir");
	at(bfile, self->backing, "file");
	at(bcopy, self->backing, "copy");
	at(fcopy, self->dir, "copy");

	/* Made through the mount */
	fd = open(at(ffile, self->dir, "file"), O_CREAT | O_EXCL | O_WRONLY,
		  0644);
	ASSERT_LE(0, fd) TH_LOG("create: %s", strerror(errno));
	ASSERT_EQ(0, close(fd));
	expect_same_stat(_metadata, ffile, bfile);

	was = *bss;
	fd = open(ffile, O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	expect_file_ops(_metadata, &was, bss, FUSE_OPEN, 0, 0, "open");
	/* The backing file is open with it */
	EXPECT_EQ(-EAGAIN, write_lease(bfile));

	was = *bss;
	EXPECT_EQ(5, write(fd, "hello", 5));
	expect_file_ops(_metadata, &was, bss, FUSE_WRITE, 0, 0, "write");
	ASSERT_EQ(5, read_all(bfile, bbuf, sizeof(bbuf)));
	EXPECT_STREQ("hello", bbuf);

	was = *bss;
	EXPECT_EQ(0, lseek(fd, 0, SEEK_SET));
	expect_file_ops(_metadata, &was, bss, FUSE_LSEEK, 0, 0, "SEEK_SET");
	memset(buf, 0, sizeof(buf));
	was = *bss;
	EXPECT_EQ(5, read(fd, buf, sizeof(buf)));
	expect_file_ops(_metadata, &was, bss, FUSE_READ, 0, 0, "read");
	EXPECT_STREQ("hello", buf);
	memset(buf, 0, sizeof(buf));
	was = *bss;
	EXPECT_EQ(4, pread(fd, buf, sizeof(buf), 1));
	expect_file_ops(_metadata, &was, bss, FUSE_READ, 0, 0, "pread");
	EXPECT_STREQ("ello", buf);

	/* A read by splice */
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	was = *bss;
	EXPECT_EQ(5, sendfile(pfd[1], fd, &off, sizeof(buf)))
		TH_LOG("sendfile: %s", strerror(errno));
	expect_file_ops(_metadata, &was, bss, FUSE_READ, 0, 0, "sendfile");
	EXPECT_EQ(5, off);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(5, read(pfd[0], buf, sizeof(buf)));
	EXPECT_STREQ("hello", buf);
	EXPECT_EQ(0, close(pfd[0]));
	EXPECT_EQ(0, close(pfd[1]));

	was = *bss;
	EXPECT_EQ(0, fsync(fd));
	expect_file_ops(_metadata, &was, bss, FUSE_FSYNC, 0, 0, "fsync");
	was = *bss;
	EXPECT_EQ(0, fdatasync(fd));
	expect_file_ops(_metadata, &was, bss, FUSE_FSYNC, 0, 0, "fdatasync");

	/* Where the backing file says */
	bfd = open(bfile, O_RDONLY);
	ASSERT_LE(0, bfd);
	for (i = 0; i < ARRAY_SIZE(whences); i++) {
		want = lseek(bfd, 0, whences[i]);
		ASSERT_LE(0, want) TH_LOG("whence %d: %s", whences[i],
					  strerror(errno));
		was = *bss;
		EXPECT_EQ(want, lseek(fd, 0, whences[i]))
			TH_LOG("whence %d: %s", whences[i], strerror(errno));
		expect_file_ops(_metadata, &was, bss, FUSE_LSEEK, 0, 0,
				"lseek");
	}
	EXPECT_EQ(0, close(bfd));
	EXPECT_EQ(5, lseek(fd, 0, SEEK_CUR));

	was = *bss;
	EXPECT_EQ(0, fallocate(fd, 0, 0, 4096))
		TH_LOG("fallocate: %s", strerror(errno));
	expect_file_ops(_metadata, &was, bss, FUSE_FALLOCATE, 0, 0,
			"fallocate");
	ASSERT_EQ(0, stat(bfile, &bst));
	EXPECT_EQ(4096, bst.st_size);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(4096, st.st_size);

	/* Backed files serve no ioctls */
	was = *bss;
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, FS_IOC_GETVERSION, &ver));
	EXPECT_EQ(ENOTTY, errno);
	expect_file_ops(_metadata, &was, bss, FUSE_IOCTL, 0, 0, "ioctl");

	cfd = open(fcopy, O_CREAT | O_EXCL | O_RDWR, 0644);
	ASSERT_LE(0, cfd) TH_LOG("create: %s", strerror(errno));
	was = *bss;
	EXPECT_EQ(5, copy_file_range(fd, &off_in, cfd, &off_out, 5, 0))
		TH_LOG("copy_file_range: %s", strerror(errno));
	expect_file_ops(_metadata, &was, bss, FUSE_COPY_FILE_RANGE, 0, 0,
			"copy_file_range");
	EXPECT_EQ(5, off_in);
	EXPECT_EQ(5, off_out);
	ASSERT_EQ(5, read_all(bcopy, bbuf, sizeof(bbuf)));
	EXPECT_STREQ("hello", bbuf);
	was = *bss;
	EXPECT_EQ(0, close(cfd));
	expect_file_ops(_metadata, &was, bss, FUSE_FLUSH, FUSE_RELEASE, 0,
			"close");

	/* Flushed then released, with the backing file */
	was = *bss;
	EXPECT_EQ(0, close(fd));
	expect_file_ops(_metadata, &was, bss, FUSE_FLUSH, FUSE_RELEASE, 0,
			"close");
	EXPECT_EQ(0, write_lease(bfile));

	/* What was written, then allocated, is the backing file's */
	ASSERT_EQ(4096, read_all(bfile, bbuf, sizeof(bbuf)));
	EXPECT_EQ(0, memcmp(bbuf, "hello", 5));
	for (i = 5; i < 4096; i++)
		if (bbuf[i])
			break;
	EXPECT_EQ(4096, i);
	ASSERT_EQ(4096, read_all(ffile, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, bbuf, 4096));
	expect_same_stat(_metadata, ffile, bfile);
	expect_same_stat(_metadata, fcopy, bcopy);

	was = *bss;
	dfd = open(fdir, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dfd) TH_LOG("opendir: %s", strerror(errno));
	expect_file_ops(_metadata, &was, bss, FUSE_OPENDIR, 0, 0, "opendir");
	was = *bss;
	n = read_dents(dfd, &d);
	expect_file_ops(_metadata, &was, bss, FUSE_READDIR, 0, 0,
			"getdents64");
	/* ".", ".." and "entry" */
	EXPECT_EQ(3, expect_backing_dents(_metadata, &d, n, bdir));
	was = *bss;
	EXPECT_EQ(0, read_dents(dfd, &d));
	expect_file_ops(_metadata, &was, bss, FUSE_READDIR, 0, 0,
			"getdents64 at the end");
	was = *bss;
	EXPECT_EQ(0, fsync(dfd));
	expect_file_ops(_metadata, &was, bss, FUSE_FSYNCDIR, 0, 0, "fsyncdir");
	/* No flush for directories */
	was = *bss;
	EXPECT_EQ(0, close(dfd));
	expect_file_ops(_metadata, &was, bss, FUSE_RELEASEDIR, 0, 0,
			"closedir");

	ASSERT_TRUE(test_daemon_expect(self->td, bpf_only_init,
				       ARRAY_SIZE(bpf_only_init)));
}

/*
 * A pre-filter errno fails each file operation with it, before the
 * backing call: nothing changes in the backing files. Release cannot
 * fail: close() does, with the flush's errno, and releases all the same.
 */
TEST_F(bpf_filter, file_ops_prefilter_errno)
{
	struct fuse_filter__bss *bss = self->skel->bss;
	char bdata[PATH_MAX], fdata[PATH_MAX], bcopy[PATH_MAX];
	char fcopy[PATH_MAX], bdir[PATH_MAX], fdir[PATH_MAX], buf[64];
	struct fuse_filter__bss was;
	loff_t off_in = 0, off_out = 0;
	struct stat bst, cst;
	int fd, cfd, dfd, pfd[2];
	static struct dents d;
	off_t off = 0;
	long ver, n;

	make_file(_metadata, at(bdata, self->backing, "data"), 0644,
		  "0123456789");
	make_file(_metadata, at(bcopy, self->backing, "copy"), 0644, "abc");
	ASSERT_EQ(0, mkdir(at(bdir, self->backing, "dir"), 0755));
	make_file(_metadata, at(fdata, self->backing, "dir/entry"), 0644, "x");
	at(fdata, self->dir, "data");
	at(fcopy, self->dir, "copy");
	at(fdir, self->dir, "dir");

	EXPECT_DENIED(FUSE_OPEN, open(fdata, O_RDONLY));
	EXPECT_DENIED(FUSE_OPEN, open(fdata, O_RDWR));
	EXPECT_DENIED(FUSE_OPENDIR, open(fdir, O_RDONLY | O_DIRECTORY));
	/* No backing file was left open */
	EXPECT_EQ(0, write_lease(bdata));
	/* Each its own opcode */
	bss->deny_op = FUSE_OPEN;
	dfd = open(fdir, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dfd) TH_LOG("opendir: %s", strerror(errno));
	bss->deny_op = FUSE_OPENDIR;
	fd = open(fdata, O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	bss->deny_op = 0;

	EXPECT_DENIED(FUSE_READ, read(fd, buf, sizeof(buf)));
	EXPECT_DENIED(FUSE_READ, pread(fd, buf, sizeof(buf), 0));
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	EXPECT_DENIED(FUSE_READ, sendfile(pfd[1], fd, &off, sizeof(buf)));
	EXPECT_EQ(0, off);
	EXPECT_EQ(0, close(pfd[0]));
	EXPECT_EQ(0, close(pfd[1]));

	EXPECT_DENIED(FUSE_READDIR, read_dents(dfd, &d));
	/* Not a READ; and the failed call did not move the directory */
	bss->deny_op = FUSE_READ;
	n = read_dents(dfd, &d);
	bss->deny_op = 0;
	EXPECT_EQ(3, expect_backing_dents(_metadata, &d, n, bdir));

	ASSERT_EQ(0, stat(bdata, &bst));
	EXPECT_DENIED(FUSE_WRITE, pwrite(fd, "XYZ", 3, 0));
	EXPECT_DENIED(FUSE_WRITE, write(fd, "XYZ", 3));
	expect_unchanged(_metadata, &bst, bdata, "0123456789");
	EXPECT_DENIED(FUSE_FALLOCATE, fallocate(fd, 0, 0, 1 << 16));
	expect_unchanged(_metadata, &bst, bdata, "0123456789");

	EXPECT_DENIED(FUSE_FSYNC, fsync(fd));
	EXPECT_DENIED(FUSE_FSYNC, fdatasync(fd));
	EXPECT_DENIED(FUSE_FSYNCDIR, fsync(dfd));
	bss->deny_op = FUSE_FSYNCDIR;
	EXPECT_EQ(0, fsync(fd));
	bss->deny_op = FUSE_FSYNC;
	EXPECT_EQ(0, fsync(dfd));
	bss->deny_op = 0;

	EXPECT_DENIED(FUSE_LSEEK, lseek(fd, 0, SEEK_END));
	EXPECT_DENIED(FUSE_LSEEK, lseek(fd, 4, SEEK_SET));
	EXPECT_DENIED(FUSE_LSEEK, lseek(fd, 0, SEEK_DATA));
	/* Nothing moved the file */
	EXPECT_EQ(0, lseek(fd, 0, SEEK_CUR));

	/* Not ENOTTY */
	EXPECT_DENIED(FUSE_IOCTL, ioctl(fd, FS_IOC_GETVERSION, &ver));

	cfd = open(fcopy, O_RDWR);
	ASSERT_LE(0, cfd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, stat(bcopy, &cst));
	EXPECT_DENIED(FUSE_COPY_FILE_RANGE,
		      copy_file_range(fd, &off_in, cfd, &off_out, 5, 0));
	EXPECT_EQ(0, off_in);
	EXPECT_EQ(0, off_out);
	expect_unchanged(_metadata, &cst, bcopy, "abc");
	expect_unchanged(_metadata, &bst, bdata, "0123456789");

	/* The release's errno goes nowhere */
	EXPECT_EQ(-EAGAIN, write_lease(bcopy));
	was = *bss;
	bss->deny_op = FUSE_RELEASE;
	EXPECT_EQ(0, close(cfd));
	bss->deny_op = 0;
	expect_file_ops(_metadata, &was, bss, FUSE_FLUSH, FUSE_RELEASE, 0,
			"close, release denied");
	EXPECT_EQ(0, write_lease(bcopy));

	/* The flush's goes to close(), which closes all the same */
	EXPECT_EQ(-EAGAIN, write_lease(bdata));
	was = *bss;
	bss->deny_op = FUSE_FLUSH;
	errno = 0;
	EXPECT_EQ(-1, close(fd));
	EXPECT_EQ(FILTER_DENY_ERRNO, errno);
	bss->deny_op = 0;
	expect_file_ops(_metadata, &was, bss, FUSE_FLUSH, FUSE_RELEASE, 0,
			"close, flush denied");
	errno = 0;
	EXPECT_EQ(-1, close(fd));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(0, write_lease(bdata));

	was = *bss;
	bss->deny_op = FUSE_RELEASEDIR;
	EXPECT_EQ(0, close(dfd));
	bss->deny_op = 0;
	expect_file_ops(_metadata, &was, bss, FUSE_RELEASEDIR, 0, 0,
			"closedir, releasedir denied");
	errno = 0;
	EXPECT_EQ(-1, close(dfd));
	EXPECT_EQ(EBADF, errno);

	ASSERT_TRUE(test_daemon_expect(self->td, bpf_only_init,
				       ARRAY_SIZE(bpf_only_init)));
}

/*
 * A post-filter sees a file operation succeed. Its BPF_FUSE_CONTINUE
 * keeps the backing call's result, its errno replaces it: the backing
 * call ran all the same.
 */
TEST_F(bpf_filter, file_ops_postfilter)
{
	struct fuse_filter__bss *bss = self->skel->bss;
	char bdata[PATH_MAX], fdata[PATH_MAX], bfall[PATH_MAX];
	char ffall[PATH_MAX], bdir[PATH_MAX], fdir[PATH_MAX], buf[64];
	struct fuse_filter__bss was;
	int fd, ffd, dfd;
	static struct dents d;
	struct stat bst;
	long n;

	make_file(_metadata, at(bdata, self->backing, "data"), 0644,
		  "0123456789");
	make_file(_metadata, at(bfall, self->backing, "falloc"), 0644, "");
	ASSERT_EQ(0, mkdir(at(bdir, self->backing, "dir"), 0755));
	make_file(_metadata, at(fdata, self->backing, "dir/entry"), 0644, "x");
	at(fdata, self->dir, "data");
	at(ffall, self->dir, "falloc");
	at(fdir, self->dir, "dir");

	/* The backing file it had opened is closed */
	arm_post(bss, &was, FUSE_OPEN, -POST_ERRNO);
	errno = 0;
	fd = open(fdata, O_RDONLY);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(POST_ERRNO, errno);
	expect_post(_metadata, bss, &was, "open, failed");
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(0, write_lease(bdata));
	arm_post(bss, &was, FUSE_OPEN, 0);
	fd = open(fdata, O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	expect_post(_metadata, bss, &was, "open");
	EXPECT_EQ(-EAGAIN, write_lease(bdata));

	arm_post(bss, &was, FUSE_READ, 0);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(10, pread(fd, buf, sizeof(buf), 0));
	expect_post(_metadata, bss, &was, "read");
	EXPECT_STREQ("0123456789", buf);
	arm_post(bss, &was, FUSE_READ, -POST_ERRNO);
	errno = 0;
	EXPECT_EQ(-1, pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(POST_ERRNO, errno);
	expect_post(_metadata, bss, &was, "read, failed");

	arm_post(bss, &was, FUSE_WRITE, 0);
	EXPECT_EQ(2, pwrite(fd, "AB", 2, 0));
	expect_post(_metadata, bss, &was, "write");
	ASSERT_EQ(10, read_all(bdata, buf, sizeof(buf)));
	EXPECT_STREQ("AB23456789", buf);
	arm_post(bss, &was, FUSE_WRITE, -POST_ERRNO);
	errno = 0;
	EXPECT_EQ(-1, pwrite(fd, "CD", 2, 2));
	EXPECT_EQ(POST_ERRNO, errno);
	expect_post(_metadata, bss, &was, "write, failed");
	/* Written all the same */
	ASSERT_EQ(10, read_all(bdata, buf, sizeof(buf)));
	EXPECT_STREQ("ABCD456789", buf);

	arm_post(bss, &was, FUSE_FSYNC, 0);
	EXPECT_EQ(0, fsync(fd));
	expect_post(_metadata, bss, &was, "fsync");
	arm_post(bss, &was, FUSE_FSYNC, -POST_ERRNO);
	errno = 0;
	EXPECT_EQ(-1, fsync(fd));
	EXPECT_EQ(POST_ERRNO, errno);
	expect_post(_metadata, bss, &was, "fsync, failed");

	arm_post(bss, &was, FUSE_LSEEK, 0);
	EXPECT_EQ(10, lseek(fd, 0, SEEK_END));
	expect_post(_metadata, bss, &was, "lseek");
	arm_post(bss, &was, FUSE_LSEEK, -POST_ERRNO);
	errno = 0;
	EXPECT_EQ(-1, lseek(fd, 3, SEEK_SET));
	EXPECT_EQ(POST_ERRNO, errno);
	expect_post(_metadata, bss, &was, "lseek, failed");
	/* A failed lseek() leaves the file where it was */
	EXPECT_EQ(10, lseek(fd, 0, SEEK_CUR));

	ffd = open(ffall, O_RDWR);
	ASSERT_LE(0, ffd) TH_LOG("open: %s", strerror(errno));
	arm_post(bss, &was, FUSE_FALLOCATE, 0);
	EXPECT_EQ(0, fallocate(ffd, 0, 0, 4096))
		TH_LOG("fallocate: %s", strerror(errno));
	expect_post(_metadata, bss, &was, "fallocate");
	ASSERT_EQ(0, stat(bfall, &bst));
	EXPECT_EQ(4096, bst.st_size);
	arm_post(bss, &was, FUSE_FALLOCATE, -POST_ERRNO);
	errno = 0;
	EXPECT_EQ(-1, fallocate(ffd, 0, 0, 8192));
	EXPECT_EQ(POST_ERRNO, errno);
	expect_post(_metadata, bss, &was, "fallocate, failed");
	/* Allocated all the same */
	ASSERT_EQ(0, stat(bfall, &bst));
	EXPECT_EQ(8192, bst.st_size);
	EXPECT_EQ(0, close(ffd));

	dfd = open(fdir, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dfd) TH_LOG("opendir: %s", strerror(errno));
	arm_post(bss, &was, FUSE_READDIR, 0);
	n = read_dents(dfd, &d);
	expect_post(_metadata, bss, &was, "getdents64");
	EXPECT_EQ(3, expect_backing_dents(_metadata, &d, n, bdir));
	/*
	 * At the end of the directory, where the backing call gives no
	 * entry: getdents64() returns the entries it got, if any, whatever
	 * the error that followed.
	 */
	arm_post(bss, &was, FUSE_READDIR, -POST_ERRNO);
	errno = 0;
	EXPECT_EQ(-1, read_dents(dfd, &d));
	EXPECT_EQ(POST_ERRNO, errno);
	expect_post(_metadata, bss, &was, "getdents64, failed");
	EXPECT_EQ(0, read_dents(dfd, &d));
	EXPECT_EQ(0, close(dfd));

	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, write_lease(bdata));
	ASSERT_TRUE(test_daemon_expect(self->td, bpf_only_init,
				       ARRAY_SIZE(bpf_only_init)));
}

TEST_HARNESS_MAIN
