// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests for fuse-bpf: the server's side of backed inodes. A backed
 * root filtered by fuse_steer.bpf.c, which gives each opcode the verdicts
 * a test sets, served by a daemon that negotiated FUSE_BPF. The daemon
 * answers pre- and post-filter requests (struct fuse_bpf_filter_in and
 * _out of <linux/fuse.h>) as a test says, and checks their layout; the
 * tests assert the exact requests it receives, what the caller gets, and
 * that nodes the kernel made are made known to the server before a
 * request names them, with FUSE_FORGET balanced.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../../kselftest_harness.h"
#include "test_util.h"
#include "test_daemon.h"
#include "fuse_bpf_util.h"
#include "fuse_steer.skel.h"

#define MAX_FILTER_ARGS	5
#define MAX_ARG_COPY	512

/* What a filter handler saw of its last request, and how it answers */
struct filter_state {
	unsigned int calls;
	__u32 opcode;
	__u64 nodeid;
	/* The body matched its descriptors */
	bool well_formed;
	struct fuse_bpf_filter_in in;
	struct fuse_bpf_filter_arg desc[MAX_FILTER_ARGS];
	char data[MAX_FILTER_ARGS][MAX_ARG_COPY];

	/* The reply: an error, or an empty body, or the following */
	int error;
	bool empty;
	__u32 action;
	/* Arguments in the reply: 0, or the count given in numargs */
	__u32 numargs;
	/* Raw descriptors and bytes of the reply's arguments */
	__u32 rep_size[MAX_FILTER_ARGS];
	char rep_data[MAX_FILTER_ARGS][MAX_ARG_COPY];
};

static struct filter_state pre_state, post_state;

static int filter_handler(struct test_daemon *td, struct td_req *req)
{
	struct filter_state *s = req->priv;
	const struct fuse_bpf_filter_in *in = req->arg;
	const struct fuse_bpf_filter_arg *desc;
	struct fuse_bpf_filter_out *out = req->out;
	const char *data;
	size_t len, n, i;
	char *p;

	s->calls++;
	s->opcode = req->in->opcode;
	s->nodeid = req->in->nodeid;
	s->well_formed = false;
	if (req->arg_len < sizeof(*in))
		goto reply;
	s->in = *in;
	n = in->in_numargs + in->out_numargs;
	if (n > MAX_FILTER_ARGS)
		goto reply;
	desc = (const void *)(in + 1);
	len = sizeof(*in) + n * sizeof(*desc);
	if (req->arg_len < len)
		goto reply;
	data = (const char *)(desc + n);
	for (i = 0; i < n; i++) {
		s->desc[i] = desc[i];
		len += desc[i].size;
		if (len > req->arg_len)
			goto reply;
		memcpy(s->data[i], data, desc[i].size < MAX_ARG_COPY ?
					 desc[i].size : MAX_ARG_COPY);
		data += desc[i].size;
	}
	s->well_formed = len == req->arg_len;
reply:
	if (s->error)
		return s->error;
	if (s->empty) {
		req->out_len = 0;
		return 0;
	}
	out->action = s->action;
	out->numargs = s->numargs;
	p = (char *)((struct fuse_bpf_filter_arg *)(out + 1) + s->numargs);
	for (i = 0; i < s->numargs; i++) {
		struct fuse_bpf_filter_arg *d = (void *)(out + 1);

		d[i].size = s->rep_size[i];
		d[i].max_size = 0;
		memcpy(p, s->rep_data[i], s->rep_size[i]);
		p += s->rep_size[i];
	}
	req->out_len = p - (char *)out;
	return 0;
}

/* Node ids the LOOKUP handler gives names, in any directory */
static const struct {
	const char *name;
	__u64 nodeid;
	mode_t mode;
} known_names[] = {
	{ "d", 100, S_IFDIR | 0755 },
	{ "sub", 101, S_IFDIR | 0755 },
	{ "file", 102, S_IFREG | 0644 },
	{ "data", 103, S_IFREG | 0644 },
};

#define SERVER_SIZE	42

static void server_attr(struct fuse_attr *attr, __u64 nodeid, mode_t mode)
{
	attr->ino = nodeid;
	attr->mode = mode;
	attr->nlink = 1;
	attr->size = SERVER_SIZE;
	attr->blksize = 4096;
}

/* LOOKUP: the nodes of known_names, valid for a minute */
static int named_lookup(struct test_daemon *td, struct td_req *req)
{
	struct fuse_entry_out *entry = req->out;
	const char *name = req->arg;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(known_names); i++) {
		if (strcmp(known_names[i].name, name))
			continue;
		entry->nodeid = known_names[i].nodeid;
		entry->entry_valid = 60;
		entry->attr_valid = 60;
		server_attr(&entry->attr, entry->nodeid, known_names[i].mode);
		req->out_len = sizeof(*entry);
		return 0;
	}
	return -ENOENT;
}

/* GETATTR of a node of known_names */
static int named_getattr(struct test_daemon *td, struct td_req *req)
{
	struct fuse_attr_out *out = req->out;

	out->attr_valid = 0;
	server_attr(&out->attr, req->in->nodeid, S_IFREG | 0644);
	req->out_len = sizeof(*out);
	return 0;
}

/* The lookups the server counted, less those it was told to forget */
static long long lookups_left;
static unsigned int forgets;

static int count_forget(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_forget_in *in = req->arg;

	lookups_left -= in->nlookup;
	forgets++;
	return 0;
}

static int count_batch_forget(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_batch_forget_in *in = req->arg;
	const struct fuse_forget_one *one = (const void *)(in + 1);
	__u32 i;

	for (i = 0; i < in->count; i++) {
		lookups_left -= one[i].nlookup;
		forgets++;
	}
	return 0;
}

/* Write @s to the file @path */
static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

/*
 * Evict the unused inodes: the server, which counted @nodes lookups of as
 * many nodes, is told to forget each node once, as often as it was
 * looked up.
 */
static void expect_forgotten(struct __test_metadata *_metadata,
			     struct test_daemon *td, unsigned int nodes)
{
	test_daemon_lock(td);
	lookups_left = nodes;
	forgets = 0;
	test_daemon_unlock(td);
	sync();
	ASSERT_LE(0, write_file("/proc/sys/vm/drop_caches", "2"));
	EXPECT_TRUE(poll_until(({
		bool done;

		test_daemon_lock(td);
		done = forgets == nodes;
		test_daemon_unlock(td);
		done;
	})));
	test_daemon_lock(td);
	EXPECT_EQ(0, lookups_left);
	EXPECT_EQ(nodes, forgets);
	test_daemon_unlock(td);
}

FIXTURE(server) {
	char backing[128];
	char dir[64];
	int backing_fd;
	int fuse_fd;
	struct test_daemon *td;
	struct fuse_steer *skel;
};

FIXTURE_SETUP(server)
{
	char b[PATH_MAX], opts[128];

	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	make_file(_metadata, at(b, self->backing, "data"), 0644, "twelve bytes");
	make_file(_metadata, at(b, self->backing, "other"), 0644, "five!");
	self->backing_fd = open(self->backing, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, self->backing_fd);
	snprintf(self->dir, sizeof(self->dir), "/tmp/fuse_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	self->skel = fuse_steer__open_and_load();
	ASSERT_NE(NULL, self->skel);

	memset(&pre_state, 0, sizeof(pre_state));
	memset(&post_state, 0, sizeof(post_state));
	memset(&bpf_daemon_state, 0, sizeof(bpf_daemon_state));
	bpf_daemon_state.backing_dir = self->backing;
	bpf_daemon_state.prog_fd = bpf_program__fd(self->skel->progs.fuse_steer);
	snprintf(opts, sizeof(opts), "root_dir=%d,root_bpf=%d",
		 self->backing_fd, bpf_daemon_state.prog_fd);
	start_bpf_daemon(_metadata, self->dir, opts, 0, &self->fuse_fd,
			 &self->td);
}

FIXTURE_TEARDOWN(server)
{
	stop_bpf_daemon(_metadata, self->dir, self->fuse_fd, self->td);
	fuse_steer__destroy(self->skel);
	EXPECT_EQ(0, close(self->backing_fd));
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

/* Filter requests of @opcode go to the handler of their stage */
static void serve_filters(struct __test_metadata *_metadata,
			  struct test_daemon *td, __u32 opcode)
{
	ASSERT_EQ(0, test_daemon_set_handler(td, opcode | FUSE_PREFILTER,
					     filter_handler, &pre_state));
	ASSERT_EQ(0, test_daemon_set_handler(td, opcode | FUSE_POSTFILTER,
					     filter_handler, &post_state));
}

#define LOG_PRE(op, node)	{ .opcode = (op) | FUSE_PREFILTER, .nodeid = node }
#define LOG_POST(op, node)	{ .opcode = (op) | FUSE_POSTFILTER, .nodeid = node }

/*
 * The server pre-filters each use of a name: the first lookup, and each
 * revalidation (the program decides every time, so the walk leaves RCU
 * mode for it). It sees the name with its NUL and its bound, and its
 * empty reply lets the lookup run on the backing directory.
 */
TEST_F(server, prefilter_sees_lookup)
{
	const struct td_expect log[] = {
		{ .opcode = FUSE_INIT },
		LOG_PRE(FUSE_LOOKUP, FUSE_ROOT_ID),
		LOG_PRE(FUSE_LOOKUP, FUSE_ROOT_ID),
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st, bst;

	serve_filters(_metadata, self->td, FUSE_LOOKUP);
	pre_state.empty = true;
	self->skel->bss->pre_verdict[FUSE_LOOKUP] = BPF_FUSE_USER_PREFILTER;

	ASSERT_EQ(0, stat(at(f, self->dir, "data"), &st)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, stat(at(b, self->backing, "data"), &bst));
	EXPECT_EQ(bst.st_size, st.st_size);
	EXPECT_EQ(S_IFREG | 0644, st.st_mode);
	ASSERT_EQ(0, stat(f, &st));

	test_daemon_lock(self->td);
	EXPECT_EQ(2, pre_state.calls);
	EXPECT_TRUE(pre_state.well_formed);
	EXPECT_EQ(0, pre_state.in.error_in);
	EXPECT_EQ(0, pre_state.in.flags);
	EXPECT_EQ(1, pre_state.in.in_numargs);
	EXPECT_EQ(0, pre_state.in.out_numargs);
	EXPECT_EQ(sizeof("data"), pre_state.desc[0].size);
	EXPECT_EQ(NAME_MAX + 1, pre_state.desc[0].max_size);
	EXPECT_STREQ("data", pre_state.data[0]);
	test_daemon_unlock(self->td);
	EXPECT_EQ(2, self->skel->bss->pre[FUSE_LOOKUP]);
	ASSERT_TRUE(test_daemon_expect(self->td, log, ARRAY_SIZE(log)));
}

/* The server looks another name up: a name of another size */
TEST_F(server, prefilter_rewrites_name)
{
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st, bst;

	serve_filters(_metadata, self->td, FUSE_LOOKUP);
	pre_state.action = BPF_FUSE_CONTINUE;
	pre_state.numargs = 1;
	pre_state.rep_size[0] = sizeof("other");
	memcpy(pre_state.rep_data[0], "other", sizeof("other"));
	self->skel->bss->pre_verdict[FUSE_LOOKUP] = BPF_FUSE_USER_PREFILTER;

	ASSERT_EQ(0, stat(at(f, self->dir, "alias"), &st)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, stat(at(b, self->backing, "other"), &bst));
	EXPECT_EQ(bst.st_size, st.st_size);
	EXPECT_EQ(5, st.st_size);
	test_daemon_lock(self->td);
	EXPECT_STREQ("alias", pre_state.data[0]);
	test_daemon_unlock(self->td);
}

/* The error of the server's reply fails the operation: no backing call */
TEST_F(server, prefilter_fails_operation)
{
	const struct td_expect log[] = {
		{ .opcode = FUSE_INIT },
		LOG_PRE(FUSE_LOOKUP, FUSE_ROOT_ID),
	};
	char f[PATH_MAX];
	struct stat st;

	serve_filters(_metadata, self->td, FUSE_LOOKUP);
	pre_state.error = -EXFULL;
	self->skel->bss->pre_verdict[FUSE_LOOKUP] = BPF_FUSE_USER_PREFILTER;
	self->skel->bss->post_verdict[FUSE_LOOKUP] = -EDOM;

	EXPECT_FAILS(EXFULL, stat(at(f, self->dir, "data"), &st));
	EXPECT_EQ(0, self->skel->bss->post[FUSE_LOOKUP]);
	ASSERT_TRUE(test_daemon_expect(self->td, log, ARRAY_SIZE(log)));
}

/* LOOKUP of "data" as a plain node of the server */
static int plain_lookup(struct test_daemon *td, struct td_req *req)
{
	struct fuse_entry_out *entry = req->out;

	if (strcmp(req->arg, "data"))
		return -ENOENT;
	entry->nodeid = 7;
	entry->entry_valid = 60;
	entry->attr_valid = 60;
	server_attr(&entry->attr, 7, S_IFREG | 0600);
	req->out_len = sizeof(*entry);
	return 0;
}

/* The server takes the operation: it gets it as a plain FUSE request */
TEST_F(server, prefilter_chooses_server)
{
	const struct td_expect log[] = {
		{ .opcode = FUSE_INIT },
		LOG_PRE(FUSE_LOOKUP, FUSE_ROOT_ID),
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "data" },
	};
	char f[PATH_MAX];
	struct stat st;

	serve_filters(_metadata, self->td, FUSE_LOOKUP);
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_LOOKUP,
					     plain_lookup, NULL));
	pre_state.action = BPF_FUSE_USER;
	self->skel->bss->pre_verdict[FUSE_LOOKUP] = BPF_FUSE_USER_PREFILTER;

	ASSERT_EQ(0, stat(at(f, self->dir, "data"), &st)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(S_IFREG | 0600, st.st_mode);
	EXPECT_EQ(SERVER_SIZE, st.st_size);
	EXPECT_EQ(7, st.st_ino);
	ASSERT_TRUE(test_daemon_expect(self->td, log, ARRAY_SIZE(log)));
}

/*
 * The server's pre-filter hands the lookup to it, and its LOOKUP reply
 * backs the name with another object of its choice: a tracked node.
 */
TEST_F(server, prefilter_then_backing_reply)
{
	static const struct lookup_reply replies[] = {
		{ .name = "alias", .nodeid = 9, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "other",
		  .bpf_action = FUSE_ACTION_KEEP, .via = TD_REPLY_IOCTL },
	};
	const struct td_expect log[] = {
		{ .opcode = FUSE_INIT },
		LOG_PRE(FUSE_LOOKUP, FUSE_ROOT_ID),
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "alias" },
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st, bst;

	serve_filters(_metadata, self->td, FUSE_LOOKUP);
	serve_lookups(replies, ARRAY_SIZE(replies));
	pre_state.action = BPF_FUSE_USER;
	self->skel->bss->pre_verdict[FUSE_LOOKUP] = BPF_FUSE_USER_PREFILTER;

	ASSERT_EQ(0, stat(at(f, self->dir, "alias"), &st))
		TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, stat(at(b, self->backing, "other"), &bst));
	EXPECT_EQ(bst.st_size, st.st_size);
	EXPECT_EQ(bst.st_mode, st.st_mode);
	ASSERT_TRUE(test_daemon_expect(self->td, log, ARRAY_SIZE(log)));
	serve_lookups(NULL, 0);
}

/*
 * The server's post-filter of a LOOKUP sees that the backing directory
 * has no such name and takes the lookup over: it gets the plain LOOKUP,
 * whose reply backs the name with an object of its choice. The program's
 * own post-filter may hand it over too. A name a filter rewrote cannot be
 * handed over: the server would look up another one.
 */
TEST_F(server, postfilter_hands_lookup_over)
{
	static const struct lookup_reply replies[] = {
		{ .name = "alias", .nodeid = 9, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "other",
		  .bpf_action = FUSE_ACTION_KEEP, .via = TD_REPLY_IOCTL },
		{ .name = "twin", .nodeid = 10, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = "data",
		  .bpf_action = FUSE_ACTION_KEEP, .via = TD_REPLY_IOCTL },
	};
	const struct td_expect log[] = {
		{ .opcode = FUSE_INIT },
		LOG_POST(FUSE_LOOKUP, FUSE_ROOT_ID),
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "alias" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID,
		  .name = "twin" },
		LOG_PRE(FUSE_LOOKUP, FUSE_ROOT_ID),
		LOG_POST(FUSE_LOOKUP, FUSE_ROOT_ID),
	};
	struct fuse_entry_out entry;
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st, bst;

	serve_filters(_metadata, self->td, FUSE_LOOKUP);
	serve_lookups(replies, ARRAY_SIZE(replies));
	post_state.action = BPF_FUSE_USER;
	self->skel->bss->pre_verdict[FUSE_LOOKUP] = BPF_FUSE_USER_POSTFILTER;

	ASSERT_EQ(0, stat(at(f, self->dir, "alias"), &st))
		TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, stat(at(b, self->backing, "other"), &bst));
	EXPECT_EQ(5, st.st_size);
	EXPECT_EQ(bst.st_mode, st.st_mode);
	test_daemon_lock(self->td);
	EXPECT_EQ(1, post_state.calls);
	EXPECT_TRUE(post_state.well_formed);
	/* A negative entry: node id 0, no attributes */
	EXPECT_EQ(0, post_state.in.error_in);
	EXPECT_EQ(1, post_state.in.out_numargs);
	EXPECT_STREQ("alias", post_state.data[0]);
	memcpy(&entry, post_state.data[1], sizeof(entry));
	EXPECT_EQ(0, entry.nodeid);
	EXPECT_EQ(0, entry.attr.mode);
	test_daemon_unlock(self->td);

	/* The program's post-filter hands it over: no filter request */
	self->skel->bss->pre_verdict[FUSE_LOOKUP] = BPF_FUSE_POSTFILTER;
	self->skel->bss->post_verdict[FUSE_LOOKUP] = BPF_FUSE_USER;
	ASSERT_EQ(0, stat(at(f, self->dir, "twin"), &st))
		TH_LOG("%s", strerror(errno));
	EXPECT_EQ(12, st.st_size);
	EXPECT_EQ(1, self->skel->bss->post[FUSE_LOOKUP]);
	EXPECT_EQ(0, self->skel->bss->post_error_in);

	/* The server's pre-filter rewrote the name: EINVAL */
	self->skel->bss->pre_verdict[FUSE_LOOKUP] = BPF_FUSE_USER_PREFILTER;
	test_daemon_lock(self->td);
	pre_state.action = BPF_FUSE_USER_POSTFILTER;
	pre_state.numargs = 1;
	pre_state.rep_size[0] = sizeof("other");
	memcpy(pre_state.rep_data[0], "other", sizeof("other"));
	test_daemon_unlock(self->td);
	EXPECT_FAILS(EINVAL, stat(at(f, self->dir, "renamed"), &st));
	test_daemon_lock(self->td);
	EXPECT_EQ(2, post_state.calls);
	EXPECT_EQ(0, post_state.in.error_in);
	EXPECT_STREQ("other", post_state.data[0]);
	test_daemon_unlock(self->td);
	ASSERT_TRUE(test_daemon_expect(self->td, log, ARRAY_SIZE(log)));
	serve_lookups(NULL, 0);
}

/*
 * After the backing call: the server sees its error and, after a success,
 * the reply. It may fail a success (hide a name), change an error, or
 * keep the result with an empty reply.
 */
TEST_F(server, postfilter_sees_result)
{
	const struct td_expect log[] = {
		{ .opcode = FUSE_INIT },
		LOG_POST(FUSE_LOOKUP, FUSE_ROOT_ID),
		LOG_POST(FUSE_LOOKUP, FUSE_ROOT_ID),
		LOG_POST(FUSE_LOOKUP, FUSE_ROOT_ID),
	};
	struct fuse_entry_out entry;
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st, bst;

	serve_filters(_metadata, self->td, FUSE_LOOKUP);
	self->skel->bss->pre_verdict[FUSE_LOOKUP] = BPF_FUSE_USER_POSTFILTER;

	/* A negative entry: node id 0, no attributes */
	post_state.error = -EACCES;
	EXPECT_FAILS(EACCES, stat(at(f, self->dir, "missing"), &st));
	test_daemon_lock(self->td);
	EXPECT_TRUE(post_state.well_formed);
	EXPECT_EQ(0, post_state.in.error_in);
	EXPECT_EQ(1, post_state.in.in_numargs);
	EXPECT_EQ(1, post_state.in.out_numargs);
	EXPECT_STREQ("missing", post_state.data[0]);
	memcpy(&entry, post_state.data[1], sizeof(entry));
	EXPECT_EQ(0, entry.nodeid);
	EXPECT_EQ(0, entry.attr.ino);
	EXPECT_EQ(0, entry.attr.mode);
	post_state.error = -ENOENT;
	test_daemon_unlock(self->td);

	/* A name that exists is hidden */
	EXPECT_FAILS(ENOENT, stat(at(f, self->dir, "data"), &st));
	test_daemon_lock(self->td);
	EXPECT_TRUE(post_state.well_formed);
	EXPECT_EQ(0, post_state.in.error_in);
	EXPECT_EQ(1, post_state.in.out_numargs);
	EXPECT_EQ(sizeof(entry), post_state.desc[1].size);
	EXPECT_EQ(0, post_state.desc[1].max_size);
	memcpy(&entry, post_state.data[1], sizeof(entry));
	post_state.error = 0;
	post_state.empty = true;
	test_daemon_unlock(self->td);
	ASSERT_EQ(0, stat(at(b, self->backing, "data"), &bst));
	EXPECT_EQ(bst.st_size, entry.attr.size);
	EXPECT_EQ(bst.st_mode, entry.attr.mode);

	/* An empty reply keeps it */
	ASSERT_EQ(0, stat(f, &st)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(bst.st_size, st.st_size);
	EXPECT_EQ(3, self->skel->bss->pre[FUSE_LOOKUP]);
	EXPECT_EQ(0, self->skel->bss->post[FUSE_LOOKUP]);
	ASSERT_TRUE(test_daemon_expect(self->td, log, ARRAY_SIZE(log)));
}

/*
 * The program's post-filter passes the result on to the server, which
 * rewrites what stat() reports; then the server's pre-filter chooses its
 * own post-filter.
 */
TEST_F(server, postfilter_rewrites_attr)
{
	struct fuse_attr_out attr;
	char f[PATH_MAX];
	struct stat st;
	int fd;

	fd = open(at(f, self->dir, "data"), O_RDONLY);
	ASSERT_LE(0, fd);
	/* The kernel made the node: it is made known first */
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_LOOKUP,
					     named_lookup, NULL));
	serve_filters(_metadata, self->td, FUSE_GETATTR);
	self->skel->bss->pre_verdict[FUSE_GETATTR] = BPF_FUSE_POSTFILTER;
	self->skel->bss->post_verdict[FUSE_GETATTR] = BPF_FUSE_USER_POSTFILTER;
	post_state.empty = true;
	ASSERT_EQ(0, fstat(fd, &st));
	test_daemon_lock(self->td);
	EXPECT_EQ(1, post_state.calls);
	EXPECT_TRUE(post_state.well_formed);
	EXPECT_EQ(FUSE_GETATTR | FUSE_POSTFILTER, post_state.opcode);
	EXPECT_EQ(103, post_state.nodeid);
	EXPECT_EQ(1, post_state.in.in_numargs);
	EXPECT_EQ(1, post_state.in.out_numargs);
	EXPECT_EQ(sizeof(struct fuse_getattr_in), post_state.desc[0].size);
	EXPECT_EQ(sizeof(attr), post_state.desc[1].size);
	memcpy(&attr, post_state.data[1], sizeof(attr));
	EXPECT_EQ(12, attr.attr.size);
	EXPECT_EQ(st.st_ino, attr.attr.ino);

	attr.attr.size = 12345;
	post_state.empty = false;
	post_state.numargs = 1;
	post_state.rep_size[0] = sizeof(attr);
	memcpy(post_state.rep_data[0], &attr, sizeof(attr));
	test_daemon_unlock(self->td);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(12345, st.st_size);

	/* The server's pre-filter asks for its post-filter */
	self->skel->bss->pre_verdict[FUSE_GETATTR] = BPF_FUSE_USER_PREFILTER;
	test_daemon_lock(self->td);
	pre_state.action = BPF_FUSE_USER_POSTFILTER;
	test_daemon_unlock(self->td);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(12345, st.st_size);
	test_daemon_lock(self->td);
	EXPECT_EQ(1, pre_state.calls);
	EXPECT_EQ(3, post_state.calls);
	EXPECT_EQ(0, post_state.in.error_in);
	test_daemon_unlock(self->td);
	EXPECT_EQ(2, self->skel->bss->post[FUSE_GETATTR]);
	EXPECT_EQ(0, close(fd));
}

/* Replies that break the format fail the operation with EIO */
TEST_F(server, malformed_replies)
{
	char f[PATH_MAX];
	struct stat st;
	int fd;

	fd = open(at(f, self->dir, "data"), O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_LOOKUP,
					     named_lookup, NULL));
	serve_filters(_metadata, self->td, FUSE_LOOKUP);
	serve_filters(_metadata, self->td, FUSE_GETATTR);
	self->skel->bss->pre_verdict[FUSE_LOOKUP] = BPF_FUSE_USER_PREFILTER;
	self->skel->bss->pre_verdict[FUSE_GETATTR] = BPF_FUSE_USER_PREFILTER;

	test_daemon_lock(self->td);
	pre_state.action = 9;
	test_daemon_unlock(self->td);
	EXPECT_FAILS(EIO, stat(at(f, self->dir, "x1"), &st));

	/* A pre-filter may not ask for itself again */
	test_daemon_lock(self->td);
	pre_state.action = BPF_FUSE_USER_PREFILTER;
	test_daemon_unlock(self->td);
	EXPECT_FAILS(EIO, stat(at(f, self->dir, "x2"), &st));

	/* More arguments than the request had */
	test_daemon_lock(self->td);
	pre_state.action = BPF_FUSE_CONTINUE;
	pre_state.numargs = 2;
	pre_state.rep_size[0] = sizeof("data");
	memcpy(pre_state.rep_data[0], "data", sizeof("data"));
	pre_state.rep_size[1] = 1;
	test_daemon_unlock(self->td);
	EXPECT_FAILS(EIO, stat(at(f, self->dir, "x3"), &st));

	/* A name beyond its bound */
	test_daemon_lock(self->td);
	pre_state.numargs = 1;
	pre_state.rep_size[0] = NAME_MAX + 2;
	memset(pre_state.rep_data[0], 'a', NAME_MAX + 1);
	pre_state.rep_data[0][NAME_MAX + 1] = 0;
	test_daemon_unlock(self->td);
	EXPECT_FAILS(EIO, stat(at(f, self->dir, "x4"), &st));

	/* A fixed-size argument that changes size */
	test_daemon_lock(self->td);
	pre_state.rep_size[0] = sizeof(struct fuse_getattr_in) + 4;
	memset(pre_state.rep_data[0], 0, MAX_ARG_COPY);
	test_daemon_unlock(self->td);
	EXPECT_FAILS(EIO, fstat(fd, &st));

	/* After a post-filter, nothing is left to choose */
	self->skel->bss->pre_verdict[FUSE_GETATTR] = BPF_FUSE_USER_POSTFILTER;
	test_daemon_lock(self->td);
	post_state.action = BPF_FUSE_USER;
	test_daemon_unlock(self->td);
	EXPECT_FAILS(EIO, fstat(fd, &st));

	/* The control */
	test_daemon_lock(self->td);
	post_state.action = BPF_FUSE_CONTINUE;
	test_daemon_unlock(self->td);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(12, st.st_size);
	EXPECT_EQ(0, close(fd));
}

/*
 * A node the kernel made is made known before a request names it: each
 * ancestor the server does not know, then the node, is looked up under
 * its parent. The server is then told to forget each once.
 */
TEST_F(server, user_on_kernel_node)
{
	const struct td_expect log[] = {
		{ .opcode = FUSE_INIT },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "d" },
		{ .opcode = FUSE_LOOKUP, .nodeid = 100, .name = "sub" },
		{ .opcode = FUSE_LOOKUP, .nodeid = 101, .name = "file" },
		{ .opcode = FUSE_GETATTR, .nodeid = 102 },
		{ .opcode = FUSE_GETATTR, .nodeid = 102 },
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st;
	int fd;

	ASSERT_EQ(0, mkdir(at(b, self->backing, "d"), 0755));
	ASSERT_EQ(0, mkdir(at(b, self->backing, "d/sub"), 0755));
	make_file(_metadata, at(b, self->backing, "d/sub/file"), 0644, "x");
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_LOOKUP,
					     named_lookup, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_GETATTR,
					     named_getattr, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_FORGET,
					     count_forget, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_BATCH_FORGET,
					     count_batch_forget, NULL));

	fd = open(at(f, self->dir, "d/sub/file"), O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("%s", strerror(errno));
	self->skel->bss->pre_verdict[FUSE_GETATTR] = BPF_FUSE_USER;
	ASSERT_EQ(0, fstat(fd, &st)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(SERVER_SIZE, st.st_size);
	ASSERT_EQ(0, fstat(fd, &st));
	self->skel->bss->pre_verdict[FUSE_GETATTR] = 0;
	ASSERT_TRUE(test_daemon_expect(self->td, log, ARRAY_SIZE(log)));
	EXPECT_EQ(0, close(fd));

	/* Evict the nodes: each is forgotten, as often as it was looked up */
	expect_forgotten(_metadata, self->td, 3);
}

/* What the server saw of a FUSE_RENAME */
static struct {
	unsigned int calls;
	__u64 newdir;
	char names[2][16];
} rename_seen;

static int record_rename(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_rename_in *in = req->arg;
	const char *name = (const char *)(in + 1);

	rename_seen.calls++;
	rename_seen.newdir = in->newdir;
	snprintf(rename_seen.names[0], sizeof(rename_seen.names[0]), "%s",
		 name);
	snprintf(rename_seen.names[1], sizeof(rename_seen.names[1]), "%s",
		 name + strlen(name) + 1);
	return 0;
}

/*
 * The new directory's program sends a rename to the server: the old
 * directory's program sees it too, then both directories are made known
 * and the server gets the plain request. The old directory's program may
 * still fail it.
 */
TEST_F(server, rename_sent_to_server)
{
	const struct td_expect log[] = {
		{ .opcode = FUSE_INIT },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "sub" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "d" },
		{ .opcode = FUSE_RENAME, .nodeid = 100 },
	};
	char b[PATH_MAX], f[PATH_MAX], g[PATH_MAX];
	struct stat st;

	ASSERT_EQ(0, mkdir(at(b, self->backing, "d"), 0755));
	ASSERT_EQ(0, mkdir(at(b, self->backing, "sub"), 0755));
	make_file(_metadata, at(b, self->backing, "d/x"), 0644, "x");
	make_file(_metadata, at(b, self->backing, "d/z"), 0644, "z");
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_LOOKUP,
					     named_lookup, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_RENAME,
					     record_rename, NULL));
	memset(&rename_seen, 0, sizeof(rename_seen));
	ASSERT_EQ(0, stat(at(f, self->dir, "sub"), &st));
	ASSERT_EQ(0, stat(at(f, self->dir, "d/x"), &st));
	ASSERT_EQ(0, stat(at(f, self->dir, "d/z"), &st));

	self->skel->bss->pre_verdict[FUSE_RENAME2] = BPF_FUSE_USER;
	ASSERT_EQ(0, rename(at(f, self->dir, "d/x"), at(g, self->dir, "sub/y")))
		TH_LOG("%s", strerror(errno));
	EXPECT_EQ(2, self->skel->bss->pre[FUSE_RENAME2]);
	test_daemon_lock(self->td);
	EXPECT_EQ(1, rename_seen.calls);
	EXPECT_EQ(101, rename_seen.newdir);
	EXPECT_STREQ("x", rename_seen.names[0]);
	EXPECT_STREQ("y", rename_seen.names[1]);
	test_daemon_unlock(self->td);
	/* The server did not rename the backing file */
	EXPECT_EQ(0, stat(at(b, self->backing, "d/x"), &st));
	ASSERT_TRUE(test_daemon_expect(self->td, log, ARRAY_SIZE(log)));

	/* The old directory's program (node 100) fails it */
	self->skel->bss->node_only = 100;
	self->skel->bss->node_op = FUSE_RENAME2;
	self->skel->bss->node_verdict = -EXDEV;
	self->skel->bss->pre[FUSE_RENAME2] = 0;
	EXPECT_FAILS(EXDEV, rename(at(f, self->dir, "d/z"),
				   at(g, self->dir, "sub/w")));
	self->skel->bss->node_only = 0;
	EXPECT_EQ(2, self->skel->bss->pre[FUSE_RENAME2]);
	test_daemon_lock(self->td);
	EXPECT_EQ(1, rename_seen.calls);
	test_daemon_unlock(self->td);
}

/*
 * A plain root served by a daemon that negotiated FUSE_BPF, which backs
 * the entries it creates with objects it makes in a backing directory:
 * replies to MKDIR, MKNOD, SYMLINK, CREATE and LINK carry the extension
 * of a LOOKUP reply, through the ioctl.
 */
FIXTURE(creator) {
	char backing[128];
	char dir[64];
	int fuse_fd;
	struct test_daemon *td;
	struct fuse_steer *skel;
};

/* What the create handlers use: the backing directory, and bad types */
static struct {
	const char *backing;
	/* Back the new entry with a regular file, whatever it is */
	bool wrong_type;
	/* If not 0: the program of new directories, and of "u" */
	int prog_fd;
	/* LOOKUPs of "u" so far */
	int untracked_lookups;
	/* Descriptors kept open until the reply went out */
	int fds[8];
	int nr_fds;
} creator;

/* Node ids of the new entries, by name; attributes from the backing */
static __u64 creator_nodeid(const char *name)
{
	return 200 + (unsigned char)name[0];
}

/*
 * Reply to a request that made @name in the backing directory: the entry,
 * then @mid_len bytes of @mid (CREATE's fuse_open_out), then the
 * extension, backing it with what @name is there.
 */
static int creator_reply(struct td_req *req, const char *name,
			 const void *mid, size_t mid_len, __u64 nodeid)
{
	struct fuse_entry_out *entry = req->out;
	struct fuse_entry_bpf_out *ext;
	char path[PATH_MAX];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", creator.backing, name);
	if (lstat(path, &st))
		return -errno;
	if (creator.wrong_type)
		snprintf(path, sizeof(path), "%s/.file", creator.backing);
	fd = open(path, O_PATH | O_NOFOLLOW);
	if (fd < 0 || creator.nr_fds == ARRAY_SIZE(creator.fds))
		return -EIO;
	creator.fds[creator.nr_fds++] = fd;
	entry->nodeid = nodeid;
	entry->entry_valid = 60;
	entry->attr_valid = 60;
	entry->attr.ino = entry->nodeid;
	entry->attr.mode = st.st_mode;
	entry->attr.nlink = st.st_nlink;
	entry->attr.size = st.st_size;
	memcpy(entry + 1, mid, mid_len);
	ext = (void *)((char *)(entry + 1) + mid_len);
	ext->backing_action = FUSE_ACTION_REPLACE;
	ext->backing_fd = fd;
	ext->bpf_action = FUSE_ACTION_KEEP;
	if (S_ISDIR(st.st_mode) && creator.prog_fd) {
		ext->bpf_action = FUSE_ACTION_REPLACE;
		ext->bpf_fd = creator.prog_fd;
	}
	req->out_len = sizeof(*entry) + mid_len + sizeof(*ext);
	req->reply_via = TD_REPLY_IOCTL;
	return 0;
}

static int creator_path(char *path, const char *name)
{
	return snprintf(path, PATH_MAX, "%s/%s", creator.backing, name);
}

static int creator_mkdir(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_mkdir_in *in = req->arg;
	const char *name = (const char *)(in + 1);
	char path[PATH_MAX];

	creator_path(path, name);
	if (mkdir(path, in->mode & ~in->umask))
		return -errno;
	return creator_reply(req, name, NULL, 0, creator_nodeid(name));
}

static int creator_mknod(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_mknod_in *in = req->arg;
	const char *name = (const char *)(in + 1);
	char path[PATH_MAX];

	creator_path(path, name);
	if (mknod(path, in->mode & ~in->umask, in->rdev))
		return -errno;
	return creator_reply(req, name, NULL, 0, creator_nodeid(name));
}

static int creator_symlink(struct test_daemon *td, struct td_req *req)
{
	const char *name = req->arg;
	const char *target = name + strlen(name) + 1;
	char path[PATH_MAX];

	creator_path(path, name);
	if (symlink(target, path))
		return -errno;
	return creator_reply(req, name, NULL, 0, creator_nodeid(name));
}

static int creator_create(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_create_in *in = req->arg;
	const char *name = (const char *)(in + 1);
	struct fuse_open_out open_out = { .fh = 77 };
	char path[PATH_MAX];
	int fd;

	creator_path(path, name);
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY, in->mode & ~in->umask);
	if (fd < 0)
		return -errno;
	close(fd);
	return creator_reply(req, name, &open_out, sizeof(open_out),
			     creator_nodeid(name));
}

/* Node ids of the names of directory "d", which the kernel made */
static __u64 creator_child_nodeid(const char *name)
{
	return 300 + (unsigned char)name[0];
}

/* The node id the server gives "u" once it tracks it */
#define UNTRACKED_NODEID	77

/*
 * LOOKUP of "u" in the root: the first backs it with node id 0, a node
 * the server does not track; later ones give it a node id.
 */
static int creator_lookup_root(struct td_req *req)
{
	struct fuse_entry_out *entry = req->out;
	struct fuse_entry_bpf_out *ext = (void *)(entry + 1);
	char path[PATH_MAX];
	struct stat st;
	int fd;

	if (strcmp(req->arg, "u"))
		return -ENOENT;
	creator_path(path, "u");
	if (lstat(path, &st))
		return -errno;
	entry->entry_valid = 60;
	entry->attr.mode = st.st_mode;
	entry->attr.nlink = 1;
	req->out_len = sizeof(*entry);
	if (creator.untracked_lookups++) {
		entry->nodeid = UNTRACKED_NODEID;
		entry->attr.ino = UNTRACKED_NODEID;
		return 0;
	}
	fd = open(path, O_PATH);
	if (fd < 0 || creator.nr_fds == ARRAY_SIZE(creator.fds))
		return -EIO;
	creator.fds[creator.nr_fds++] = fd;
	ext->backing_action = FUSE_ACTION_REPLACE;
	ext->backing_fd = fd;
	ext->bpf_action = FUSE_ACTION_REPLACE;
	ext->bpf_fd = creator.prog_fd;
	req->out_len += sizeof(*ext);
	req->reply_via = TD_REPLY_IOCTL;
	return 0;
}

/*
 * LOOKUP in "d": a plain reply, which makes a node the kernel made known;
 * in the root, see above.
 */
static int creator_lookup(struct test_daemon *td, struct td_req *req)
{
	struct fuse_entry_out *entry = req->out;
	const char *name = req->arg;
	char path[PATH_MAX];
	struct stat st;

	if (req->in->nodeid == FUSE_ROOT_ID)
		return creator_lookup_root(req);
	if (req->in->nodeid != creator_nodeid("d"))
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/d/%s", creator.backing, name);
	if (lstat(path, &st))
		return -errno;
	entry->nodeid = creator_child_nodeid(name);
	entry->attr.ino = entry->nodeid;
	entry->attr.mode = st.st_mode;
	entry->attr.nlink = st.st_nlink;
	req->out_len = sizeof(*entry);
	return 0;
}

/* LINK of "d/x", by its node id, in "d" */
static int creator_link(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_link_in *in = req->arg;
	const char *name = (const char *)(in + 1);
	char old[PATH_MAX], path[PATH_MAX], rel[NAME_MAX + 3];

	if (req->in->nodeid != creator_nodeid("d") ||
	    in->oldnodeid != creator_child_nodeid("x"))
		return -ENOENT;
	snprintf(rel, sizeof(rel), "d/%s", name);
	creator_path(old, "d/x");
	creator_path(path, rel);
	if (link(old, path))
		return -errno;
	/* The same node: the server counts one more lookup of it */
	return creator_reply(req, rel, NULL, 0, in->oldnodeid);
}

static int creator_ok(struct test_daemon *td, struct td_req *req)
{
	return 0;
}

FIXTURE_SETUP(creator)
{
	char b[PATH_MAX];

	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	make_file(_metadata, at(b, self->backing, ".file"), 0600, "");
	snprintf(self->dir, sizeof(self->dir), "/tmp/fuse_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	memset(&creator, 0, sizeof(creator));
	creator.backing = self->backing;
	self->skel = fuse_steer__open_and_load();
	ASSERT_NE(NULL, self->skel);
	memset(&bpf_daemon_state, 0, sizeof(bpf_daemon_state));
	bpf_daemon_state.backing_dir = self->backing;
	start_bpf_daemon(_metadata, self->dir, "fuse_bpf", 0, &self->fuse_fd,
			 &self->td);
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_MKDIR,
					     creator_mkdir, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_MKNOD,
					     creator_mknod, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_SYMLINK,
					     creator_symlink, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_CREATE,
					     creator_create, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_LINK,
					     creator_link, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_LOOKUP,
					     creator_lookup, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_FLUSH,
					     creator_ok, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_RELEASE,
					     creator_ok, NULL));
}

FIXTURE_TEARDOWN(creator)
{
	int i;

	stop_bpf_daemon(_metadata, self->dir, self->fuse_fd, self->td);
	fuse_steer__destroy(self->skel);
	for (i = 0; i < creator.nr_fds; i++)
		close(creator.fds[i]);
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
}

/*
 * The directory a MKDIR reply backs is served from its backing: what is
 * made in it reaches the backing directory with no request.
 */
TEST_F(creator, mkdir_reply_backs_entry)
{
	const struct td_expect log[] = {
		{ .opcode = FUSE_INIT },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "d" },
		{ .opcode = FUSE_MKDIR, .nodeid = FUSE_ROOT_ID },
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st, bst;

	ASSERT_EQ(0, mkdir(at(f, self->dir, "d"), 0750)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, mkdir(at(f, self->dir, "d/sub"), 0700));
	make_file(_metadata, at(f, self->dir, "d/sub/x"), 0600, "made");
	ASSERT_EQ(0, stat(at(b, self->backing, "d/sub/x"), &bst));
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(bst.st_size, st.st_size);
	EXPECT_EQ(4, st.st_size);
	ASSERT_EQ(0, stat(at(f, self->dir, "d"), &st));
	EXPECT_EQ(S_IFDIR | 0750, st.st_mode);
	ASSERT_TRUE(test_daemon_expect(self->td, log, ARRAY_SIZE(log)));
}

/*
 * A file CREATE backs: the open the server answered stays the server's,
 * the next open is the backing file's.
 */
TEST_F(creator, create_reply_backs_entry)
{
	const struct td_expect log[] = {
		{ .opcode = FUSE_INIT },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "f" },
		{ .opcode = FUSE_CREATE, .nodeid = FUSE_ROOT_ID },
		{ .opcode = FUSE_FLUSH, .nodeid = 200 + 'f' },
		{ .opcode = FUSE_RELEASE, .nodeid = 200 + 'f' },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "g" },
	};
	char b[PATH_MAX], f[PATH_MAX], buf[16] = {};
	struct stat st;
	int fd;

	fd = open(at(f, self->dir, "f"), O_CREAT | O_EXCL | O_WRONLY, 0640);
	ASSERT_LE(0, fd) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, close(fd));
	make_file(_metadata, at(b, self->backing, "data"), 0600, "x");
	fd = open(at(b, self->backing, "f"), O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(7, write(fd, "backing", 7));
	EXPECT_EQ(0, close(fd));
	fd = open(f, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(7, read(fd, buf, sizeof(buf)));
	EXPECT_STREQ("backing", buf);
	EXPECT_EQ(0, close(fd));
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(S_IFREG | 0640, st.st_mode);

	/* A backed node is not linked into a plain directory */
	EXPECT_FAILS(EXDEV, link(f, at(b, self->dir, "g")));
	ASSERT_TRUE(test_daemon_expect(self->td, log, ARRAY_SIZE(log)));
}

/*
 * A backed directory whose program sends LINK to the server: the node
 * the kernel made is made known, and the reply backs the new name with
 * the same backing object, which is the same inode.
 */
TEST_F(creator, link_reply_backs_entry)
{
	const struct td_expect log[] = {
		{ .opcode = FUSE_INIT },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "d" },
		{ .opcode = FUSE_MKDIR, .nodeid = FUSE_ROOT_ID },
		{ .opcode = FUSE_LOOKUP, .nodeid = 200 + 'd', .name = "x" },
		{ .opcode = FUSE_LINK, .nodeid = 200 + 'd' },
	};
	char b[PATH_MAX], f[PATH_MAX], g[PATH_MAX];
	struct stat st, st2, bst;

	creator.prog_fd = bpf_program__fd(self->skel->progs.fuse_steer);
	ASSERT_EQ(0, mkdir(at(f, self->dir, "d"), 0755));
	make_file(_metadata, at(f, self->dir, "d/x"), 0644, "linked");
	self->skel->bss->pre_verdict[FUSE_LINK] = BPF_FUSE_USER;
	ASSERT_EQ(0, link(f, at(g, self->dir, "d/y")))
		TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, stat(f, &st));
	ASSERT_EQ(0, stat(g, &st2));
	EXPECT_EQ(st.st_ino, st2.st_ino);
	EXPECT_EQ(2, st2.st_nlink);
	ASSERT_EQ(0, stat(at(b, self->backing, "d/y"), &bst));
	EXPECT_EQ(2, bst.st_nlink);
	EXPECT_EQ(1, self->skel->bss->pre[FUSE_LINK]);
	ASSERT_TRUE(test_daemon_expect(self->td, log, ARRAY_SIZE(log)));
}

/*
 * A node the server gave node id 0 (untracked) is made known, by a
 * LOOKUP of its name, when a request must name it; then forgotten once.
 */
TEST_F(creator, untracked_node_made_known)
{
	const struct td_expect log[] = {
		{ .opcode = FUSE_INIT },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "u" },
		{ .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID, .name = "u" },
		{ .opcode = FUSE_GETATTR, .nodeid = UNTRACKED_NODEID },
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct stat st, bst;

	creator.prog_fd = bpf_program__fd(self->skel->progs.fuse_steer);
	make_file(_metadata, at(b, self->backing, "u"), 0644, "untracked");
	ASSERT_EQ(0, stat(at(f, self->dir, "u"), &st))
		TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, stat(b, &bst));
	EXPECT_EQ(bst.st_size, st.st_size);
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_GETATTR,
					     named_getattr, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_FORGET,
					     count_forget, NULL));
	ASSERT_EQ(0, test_daemon_set_handler(self->td, FUSE_BATCH_FORGET,
					     count_batch_forget, NULL));
	self->skel->bss->pre_verdict[FUSE_GETATTR] = BPF_FUSE_USER;
	ASSERT_EQ(0, stat(f, &st)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(SERVER_SIZE, st.st_size);
	self->skel->bss->pre_verdict[FUSE_GETATTR] = 0;
	ASSERT_TRUE(test_daemon_expect(self->td, log, ARRAY_SIZE(log)));

	expect_forgotten(_metadata, self->td, 1);
}

/* A symlink the server backs is read from its backing */
TEST_F(creator, symlink_reply_backs_entry)
{
	char f[PATH_MAX], buf[32] = {};

	ASSERT_EQ(0, symlink("some/target", at(f, self->dir, "l")))
		TH_LOG("%s", strerror(errno));
	EXPECT_EQ(11, readlink(f, buf, sizeof(buf)));
	EXPECT_STREQ("some/target", buf);
	/* INIT, LOOKUP and SYMLINK: readlink reads the backing */
	EXPECT_EQ(3, test_daemon_get_log(self->td, NULL, 0));
}

/* A backing of another type than the entry made fails it with EIO */
TEST_F(creator, reply_backing_of_wrong_type)
{
	char f[PATH_MAX];
	struct stat st;

	creator.wrong_type = true;
	EXPECT_FAILS(EIO, mknod(at(f, self->dir, "p"), S_IFIFO | 0600, 0));
	EXPECT_FAILS(EIO, mkdir(at(f, self->dir, "e"), 0700));
	creator.wrong_type = false;
	EXPECT_FAILS(ENOENT, lstat(at(f, self->dir, "p"), &st));
}

/* Without FUSE_BPF negotiated, no filter request is sent */
TEST(not_negotiated)
{
	struct fuse_steer *skel = fuse_steer__open_and_load();
	const struct td_expect log[] = { { .opcode = FUSE_INIT } };
	char backing[128], dir[64], f[PATH_MAX], opts[128];
	struct test_daemon *td;
	int backing_fd, fuse_fd;
	struct stat st;

	ASSERT_NE(NULL, skel);
	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	make_backing_dir(_metadata, backing, sizeof(backing));
	make_file(_metadata, at(f, backing, "data"), 0644, "x");
	backing_fd = open(backing, O_PATH | O_DIRECTORY);
	ASSERT_LE(0, backing_fd);
	snprintf(dir, sizeof(dir), "/tmp/fuse_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(opts, sizeof(opts), "root_dir=%d,root_bpf=%d", backing_fd,
		 bpf_program__fd(skel->progs.fuse_steer));
	fuse_fd = test_fuse_mount(dir, opts);
	ASSERT_LE(0, fuse_fd);
	td = test_daemon_create(fuse_fd);
	ASSERT_NE(NULL, td);
	ASSERT_EQ(0, test_daemon_start(td));
	ASSERT_EQ(0, test_daemon_wait_init(td, TD_STOP_TIMEOUT_MS));

	skel->bss->pre_verdict[FUSE_LOOKUP] = BPF_FUSE_USER_PREFILTER;
	EXPECT_FAILS(EOPNOTSUPP, stat(at(f, dir, "data"), &st));
	skel->bss->pre_verdict[FUSE_LOOKUP] = BPF_FUSE_USER_POSTFILTER;
	EXPECT_FAILS(EOPNOTSUPP, stat(at(f, dir, "data"), &st));
	skel->bss->pre_verdict[FUSE_LOOKUP] = 0;
	ASSERT_EQ(0, stat(at(f, dir, "data"), &st));
	EXPECT_TRUE(test_daemon_expect(td, log, ARRAY_SIZE(log)));

	EXPECT_EQ(0, test_fuse_umount(dir));
	EXPECT_EQ(0, test_daemon_stop(td, TD_STOP_TIMEOUT_MS));
	test_daemon_destroy(td);
	EXPECT_EQ(0, close(fuse_fd));
	EXPECT_EQ(0, close(backing_fd));
	EXPECT_EQ(0, rmdir(dir));
	EXPECT_EQ(0, remove_tree(backing));
	fuse_steer__destroy(skel);
}

TEST_HARNESS_MAIN
