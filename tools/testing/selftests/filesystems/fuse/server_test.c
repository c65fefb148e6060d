// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-bpf with the FUSE server in a process of its own.
 *
 * The test (root) mounts, then forks the server, which drops to an
 * unprivileged uid and serves the inherited /dev/fuse descriptor with the
 * test daemon. The descriptors of its LOOKUP replies are resolved in its
 * own descriptor table, and the backings it attaches are used with its
 * credentials: it can expose only what it could reach itself. The test
 * process holds no /dev/fuse descriptor, so that the connection dies with
 * the server.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../kselftest_harness.h"
#include "test_daemon.h"
#include "test_util.h"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open		434
#endif

/* Bound of every wait on the server or on a call through the mount */
#define SRV_TIMEOUT_MS		(2 * TD_STOP_TIMEOUT_MS)
/* Entry and attribute validity of the replies: no revalidation in a test */
#define SRV_VALID		3600
#define SRV_MAX_ENTRIES		8
/* Harness timeout of a test: room for the bounded waits to report */
#define SRV_TEST_TIMEOUT	90

/* The server, and a user that is neither the server nor root */
static const struct test_user server_user = { .uid = 3000, .gid = 3000 };
static const struct test_user other_user = { .uid = 1000, .gid = 1000 };

/* What the server answers to a LOOKUP of one name under the root */
struct srv_entry {
	const char *name;
	__u64 nodeid;
	/* Backing, relative to the backing directory, opened by the server */
	const char *backing;
	/* If not 0: the descriptor number the backing is moved to */
	int fd_num;
	/* Reply with descriptor @fd_num, which the server closes first */
	bool closed_fd;
	/* Never answer: block until killed */
	bool stall;
};

/* What the server reports, in memory shared with the test */
struct srv_shared {
	/* errno of the server's open() of each backing, 0 if fine */
	int open_errno[SRV_MAX_ENTRIES];
	/* test_daemon_stop() as the server ended */
	int stop_ret;
	unsigned int errors;
	unsigned int unexpected;
	/* The daemon's request log, at the last snapshot */
	size_t log_len;
	struct td_log_entry log[TD_LOG_SIZE];
};

/* Messages from the server to the test */
enum srv_event_type {
	SRV_READY = 1,
	SRV_FAILED,
	SRV_SNAPSHOT,
	SRV_STALLED,
};

struct srv_event {
	int type;
	int val;
};

/*
 * The server's state. Set by the test before the fork; the server then
 * works on its own copy.
 */
static struct srv_ctx {
	const struct srv_entry *entries;
	size_t nr;
	int fds[SRV_MAX_ENTRIES];
	int event_fd;
	struct srv_shared *sh;
} srv;

FIXTURE(server) {
	char backing[128];
	char dir[64];
	int fuse_fd;
	bool mounted;
	/* The server process, 0 when there is none */
	pid_t pid;
	/* Commands to the server, events from it */
	int cmd_fd;
	int event_fd;
	struct srv_shared *sh;
};

static void srv_event(int type, int val)
{
	struct srv_event ev = { .type = type, .val = val };

	/* Atomic: at most PIPE_BUF bytes */
	if (write(srv.event_fd, &ev, sizeof(ev)) != sizeof(ev))
		_exit(3);
}

static int srv_lookup(struct test_daemon *td, struct td_req *req)
{
	struct fuse_entry_out *entry = req->out;
	struct fuse_entry_bpf_out *ext = (void *)(entry + 1);
	const char *name = req->arg;
	const struct srv_entry *e = NULL;
	struct stat st;
	size_t i;

	if (!req->arg_len || name[req->arg_len - 1])
		return -EIO;
	/* Nothing under the backed entries may reach the server */
	if (req->in->nodeid != FUSE_ROOT_ID)
		return -EIO;
	for (i = 0; i < srv.nr; i++) {
		if (!strcmp(srv.entries[i].name, name)) {
			e = &srv.entries[i];
			break;
		}
	}
	if (!e)
		return -ENOENT;
	if (e->stall) {
		srv_event(SRV_STALLED, 0);
		/* Until the test kills the server */
		for (;;)
			pause();
	}

	entry->nodeid = e->nodeid;
	entry->generation = 1;
	entry->entry_valid = SRV_VALID;
	entry->attr_valid = SRV_VALID;
	entry->attr.ino = e->nodeid;
	entry->attr.mode = S_IFDIR | 0755;
	entry->attr.nlink = 1;
	if (!e->closed_fd) {
		if (srv.fds[i] < 0 || fstat(srv.fds[i], &st))
			return -EIO;
		entry->attr.mode = st.st_mode;
		entry->attr.uid = st.st_uid;
		entry->attr.gid = st.st_gid;
	}
	ext->backing_action = FUSE_ACTION_REPLACE;
	ext->backing_fd = e->closed_fd ? e->fd_num : srv.fds[i];
	ext->bpf_action = FUSE_ACTION_KEEP;
	ext->bpf_fd = 0;
	req->out_len = sizeof(*entry) + sizeof(*ext);
	req->reply_via = TD_REPLY_IOCTL;
	return 0;
}

/* The root is a plain directory, 0755 root's */
static int srv_getattr(struct test_daemon *td, struct td_req *req)
{
	struct fuse_attr_out *out = req->out;

	if (req->in->nodeid != FUSE_ROOT_ID)
		return -EIO;
	out->attr_valid = SRV_VALID;
	out->attr.ino = FUSE_ROOT_ID;
	out->attr.mode = S_IFDIR | 0755;
	out->attr.nlink = 2;
	req->out_len = sizeof(*out);
	return 0;
}

/* The daemon never replies to FORGET, whatever this returns */
static int srv_forget(struct test_daemon *td, struct td_req *req)
{
	return 0;
}

static void srv_snapshot(struct test_daemon *td)
{
	struct srv_shared *sh = srv.sh;

	sh->log_len = test_daemon_get_log(td, sh->log, TD_LOG_SIZE);
	sh->errors = test_daemon_errors(td);
	sh->unexpected = test_daemon_unexpected(td);
}

/* Open the backings, as the server, in the server's descriptor table */
static void srv_open_backings(const char *backing_dir)
{
	char path[PATH_MAX];
	size_t i;
	int fd;

	for (i = 0; i < srv.nr; i++) {
		const struct srv_entry *e = &srv.entries[i];

		srv.fds[i] = -1;
		if (e->closed_fd) {
			/* Whatever the test held there is not the server's */
			close(e->fd_num);
			continue;
		}
		if (!e->backing)
			continue;
		fd = open(at(path, backing_dir, e->backing), O_PATH);
		if (fd < 0) {
			srv.sh->open_errno[i] = errno;
			continue;
		}
		if (e->fd_num && fd != e->fd_num) {
			if (dup2(fd, e->fd_num) != e->fd_num) {
				srv.sh->open_errno[i] = errno;
				close(fd);
				continue;
			}
			close(fd);
			fd = e->fd_num;
		}
		srv.fds[i] = fd;
	}
}

/* The server process: never returns */
static void srv_main(int fuse_fd, int cmd_fd, pid_t parent,
		     const char *backing_dir)
{
	struct test_daemon *td;
	char cmd;
	ssize_t n;

	if (!become_user(&server_user)) {
		srv_event(SRV_FAILED, errno);
		_exit(1);
	}
	/* Set after the uid change, which clears it; die with the test */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(1);
	srv_open_backings(backing_dir);

	td = test_daemon_create(fuse_fd);
	if (!td) {
		srv_event(SRV_FAILED, ENOMEM);
		_exit(1);
	}
	test_daemon_set_init_flags(td, FUSE_BPF);
	if (test_daemon_set_handler(td, FUSE_LOOKUP, srv_lookup, NULL) ||
	    test_daemon_set_handler(td, FUSE_GETATTR, srv_getattr, NULL) ||
	    test_daemon_set_handler(td, FUSE_FORGET, srv_forget, NULL) ||
	    test_daemon_set_handler(td, FUSE_BATCH_FORGET, srv_forget, NULL) ||
	    test_daemon_start(td)) {
		srv_event(SRV_FAILED, EINVAL);
		_exit(1);
	}
	if (test_daemon_wait_init(td, TD_STOP_TIMEOUT_MS)) {
		srv_event(SRV_FAILED, ETIMEDOUT);
		_exit(1);
	}
	srv_event(SRV_READY, 0);

	for (;;) {
		n = read(cmd_fd, &cmd, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != 1 || cmd != 'S')
			break;
		test_daemon_sync(td, TD_STOP_TIMEOUT_MS);
		srv_snapshot(td);
		srv_event(SRV_SNAPSHOT, 0);
	}

	/* Told to quit (the test unmounted first), or the test is gone */
	srv.sh->stop_ret = test_daemon_stop(td, TD_STOP_TIMEOUT_MS);
	srv_snapshot(td);
	test_daemon_destroy(td);
	_exit(0);
}

/* Wait up to @timeout_ms for the child @pid to end, and reap it */
static int wait_child(pid_t pid, int timeout_ms, int *status)
{
	struct pollfd pfd = { .events = POLLIN };
	int ret;

	pfd.fd = syscall(__NR_pidfd_open, pid, 0);
	if (pfd.fd < 0)
		return -errno;
	do {
		ret = poll(&pfd, 1, timeout_ms);
	} while (ret < 0 && errno == EINTR);
	close(pfd.fd);
	if (!ret)
		return -ETIMEDOUT;
	if (ret < 0)
		return -errno;
	return waitpid(pid, status, 0) == pid ? 0 : -errno;
}

static int kill_child(pid_t pid, int *status)
{
	kill(pid, SIGKILL);
	return wait_child(pid, SRV_TIMEOUT_MS, status);
}

/* A call through the mount, run in a child so that a hang shows */
typedef int (*call_fn)(const char *path, const void *arg);

static pid_t spawn_call(const struct test_user *u, call_fn fn,
			const char *path, const void *arg)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		if (u && !become_user(u))
			_exit(255);
		_exit(fn(path, arg) < 0 ? errno : 0);
	}
	return pid;
}

/*
 * The result of a spawned call: 0, the errno it failed with, -ETIMEDOUT
 * if it did not end in time (it is killed then), -1 if it could not run.
 */
static int finish_call(pid_t pid)
{
	int status, ret;

	if (pid < 0)
		return -1;
	ret = wait_child(pid, SRV_TIMEOUT_MS, &status);
	if (ret == -ETIMEDOUT) {
		kill_child(pid, &status);
		return -ETIMEDOUT;
	}
	if (ret || !WIFEXITED(status) || WEXITSTATUS(status) == 255)
		return -1;
	return WEXITSTATUS(status);
}

static int bounded_call(const struct test_user *u, call_fn fn,
			const char *path, const void *arg)
{
	return finish_call(spawn_call(u, fn, path, arg));
}

static int call_stat(const char *path, const void *arg)
{
	struct stat st;

	return stat(path, &st);
}

static int call_search(const char *path, const void *arg)
{
	return access(path, X_OK);
}

/* Read @path, which must hold the string @arg exactly (EILSEQ if not) */
static int call_read(const char *path, const void *arg)
{
	const char *content = arg;
	char buf[256];
	ssize_t len;
	int fd, err;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf));
	err = errno;
	close(fd);
	if (len < 0) {
		errno = err;
		return -1;
	}
	if ((size_t)len != strlen(content) || memcmp(buf, content, len)) {
		errno = EILSEQ;
		return -1;
	}
	return 0;
}

/* An open file must read as a given string */
struct read_check {
	int fd;
	const char *content;
};

static int call_pread(const char *path, const void *arg)
{
	const struct read_check *rc = arg;
	char buf[256];
	ssize_t len;

	len = pread(rc->fd, buf, sizeof(buf), 0);
	if (len < 0)
		return -1;
	if ((size_t)len != strlen(rc->content) ||
	    memcmp(buf, rc->content, len)) {
		errno = EILSEQ;
		return -1;
	}
	return 0;
}

/* Read all of @path into @buf, NUL terminated: the length or -errno */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
	ssize_t len;
	int fd, err;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	len = read(fd, buf, size - 1);
	err = errno;
	close(fd);
	if (len < 0)
		return -err;
	buf[len] = '\0';
	return len;
}

static void make_dir(struct __test_metadata *_metadata, const char *path,
		     mode_t mode, uid_t uid, gid_t gid)
{
	ASSERT_EQ(0, mkdir(path, mode)) TH_LOG("%s: %s", path, strerror(errno));
	ASSERT_EQ(0, chmod(path, mode));
	ASSERT_EQ(0, chown(path, uid, gid));
}

static void make_owned_file(struct __test_metadata *_metadata, const char *path,
			    mode_t mode, uid_t uid, gid_t gid, const char *content)
{
	size_t len = strlen(content);
	int fd;

	fd = open(path, O_CREAT | O_EXCL | O_WRONLY, mode);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", path, strerror(errno));
	ASSERT_EQ(len, write(fd, content, len));
	ASSERT_EQ(0, fchmod(fd, mode));
	ASSERT_EQ(0, fchown(fd, uid, gid));
	ASSERT_EQ(0, close(fd));
}

/* Wait for the server's next message, which must be @type */
static int wait_event(struct __test_metadata *_metadata,
		      struct _test_data_server *self, int type)
{
	struct pollfd pfd = { .fd = self->event_fd, .events = POLLIN };
	struct srv_event ev = { 0 };
	int ret;

	do {
		ret = poll(&pfd, 1, SRV_TIMEOUT_MS);
	} while (ret < 0 && errno == EINTR);
	EXPECT_EQ(1, ret) TH_LOG("no message from the server in %d ms",
				 SRV_TIMEOUT_MS);
	if (ret != 1)
		return -ETIMEDOUT;
	ret = read(self->event_fd, &ev, sizeof(ev));
	EXPECT_EQ(sizeof(ev), ret) TH_LOG("the server is gone");
	if (ret != sizeof(ev))
		return -EPIPE;
	EXPECT_EQ(type, ev.type)
		TH_LOG("server message %d (%s)", ev.type, strerror(ev.val));
	return ev.type == type ? 0 : -EPROTO;
}

/*
 * Mount with fuse-bpf enabled, for everyone (allow_other), and fork the
 * server, serving @entries as the server user. Returns once the server
 * answered FUSE_INIT; the test then holds no /dev/fuse descriptor.
 */
static void start_server(struct __test_metadata *_metadata,
			 struct _test_data_server *self,
			 const struct srv_entry *entries, size_t nr)
{
	int cmd[2], ev[2];
	pid_t parent = getpid();

	ASSERT_GE(SRV_MAX_ENTRIES, nr);
	memset(self->sh, 0, sizeof(*self->sh));
	self->fuse_fd = test_fuse_mount(self->dir, "fuse_bpf,allow_other");
	ASSERT_LE(0, self->fuse_fd) TH_LOG("mount: %s",
					   strerror(-self->fuse_fd));
	self->mounted = true;
	ASSERT_EQ(0, pipe(cmd));
	ASSERT_EQ(0, pipe(ev));

	srv.entries = entries;
	srv.nr = nr;
	srv.event_fd = ev[1];
	srv.sh = self->sh;
	fflush(stdout);
	fflush(stderr);
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (self->pid == 0) {
		close(cmd[1]);
		close(ev[0]);
		srv_main(self->fuse_fd, cmd[0], parent, self->backing);
	}
	close(cmd[0]);
	close(ev[1]);
	self->cmd_fd = cmd[1];
	self->event_fd = ev[0];
	/* Else the connection would outlive the server */
	ASSERT_EQ(0, close(self->fuse_fd));
	self->fuse_fd = -1;
	ASSERT_EQ(0, wait_event(_metadata, self, SRV_READY));
}

/* The daemon's log as of now, every reply sent, in self->sh */
static void server_snapshot(struct __test_metadata *_metadata,
			    struct _test_data_server *self)
{
	ASSERT_EQ(1, write(self->cmd_fd, "S", 1));
	ASSERT_EQ(0, wait_event(_metadata, self, SRV_SNAPSHOT));
}

/* umount2() without flags must do; a lazy one is a failure */
static void unmount(struct __test_metadata *_metadata,
		    struct _test_data_server *self)
{
	int err = 0;

	if (!self->mounted)
		return;
	if (umount2(self->dir, 0)) {
		err = errno;
		umount2(self->dir, MNT_DETACH);
	}
	self->mounted = false;
	EXPECT_EQ(0, err) TH_LOG("umount: %s", strerror(err));
}

/*
 * Unmount, then have the server end: its daemon must have seen the
 * connection go away, and nothing it had no handler for.
 */
static void stop_server(struct __test_metadata *_metadata,
			struct _test_data_server *self)
{
	int status = 0, ret;

	unmount(_metadata, self);
	if (self->pid > 0) {
		/* EPIPE if it died: SIGPIPE is ignored */
		if (write(self->cmd_fd, "Q", 1) != 1)
			TH_LOG("server: %s", strerror(errno));
		ret = wait_child(self->pid, SRV_TIMEOUT_MS, &status);
		EXPECT_EQ(0, ret) TH_LOG("server did not end: %s",
					 strerror(-ret));
		if (ret)
			EXPECT_EQ(0, kill_child(self->pid, &status));
		self->pid = 0;
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status));
		EXPECT_EQ(0, self->sh->stop_ret);
		EXPECT_EQ(0, self->sh->errors);
		EXPECT_EQ(0, self->sh->unexpected);
	}
	if (self->cmd_fd >= 0)
		close(self->cmd_fd);
	if (self->event_fd >= 0)
		close(self->event_fd);
	self->cmd_fd = -1;
	self->event_fd = -1;
}

/* A LOOKUP under the root the server must have seen, and how its reply went */
struct want_lookup {
	const char *name;
	int ioctl_errno;
};

/*
 * The daemon's log (at the last snapshot) is exactly INIT then the
 * LOOKUPs of @want under the root, answered through the ioctl, in that
 * order; GETATTRs of the root and FORGETs may come in between, nothing
 * else.
 */
static void expect_requests(struct __test_metadata *_metadata,
			    struct _test_data_server *self,
			    const struct want_lookup *want, size_t nr)
{
	const struct srv_shared *sh = self->sh;
	size_t n = sh->log_len, i, j = 0;
	bool ok = true;

	EXPECT_GE(TD_LOG_SIZE, n);
	if (n > TD_LOG_SIZE)
		n = TD_LOG_SIZE;
	ASSERT_LE(1, n);
	EXPECT_EQ(FUSE_INIT, sh->log[0].opcode);
	for (i = 1; i < n; i++) {
		const struct td_log_entry *e = &sh->log[i];

		if (e->opcode == FUSE_FORGET || e->opcode == FUSE_BATCH_FORGET)
			continue;
		if (e->opcode == FUSE_GETATTR && e->nodeid == FUSE_ROOT_ID &&
		    !e->error)
			continue;
		if (j < nr && e->opcode == FUSE_LOOKUP &&
		    e->nodeid == FUSE_ROOT_ID &&
		    !strcmp(e->name, want[j].name) && !e->error &&
		    !e->write_errno && e->ioctl_errno == want[j].ioctl_errno) {
			j++;
			continue;
		}
		ok = false;
	}
	if (j != nr)
		ok = false;
	if (!ok) {
		for (i = 0; i < nr; i++)
			TH_LOG("expected LOOKUP \"%s\" (ioctl: %s)",
			       want[i].name, strerror(want[i].ioctl_errno));
		for (i = 0; i < n; i++)
			TH_LOG("received %s nodeid %llu \"%s\" error %d write %s ioctl %s",
			       td_opcode_name(sh->log[i].opcode),
			       (unsigned long long)sh->log[i].nodeid,
			       sh->log[i].name, sh->log[i].error,
			       strerror(sh->log[i].write_errno),
			       strerror(sh->log[i].ioctl_errno));
	}
	EXPECT_TRUE(ok);
	EXPECT_EQ(0, sh->unexpected);
	EXPECT_EQ(0, sh->errors);
}

FIXTURE_SETUP(server)
{
	self->fuse_fd = -1;
	self->cmd_fd = -1;
	self->event_fd = -1;
	self->pid = 0;
	self->mounted = false;
	/* Commands to a dead server fail with EPIPE, not with the test */
	signal(SIGPIPE, SIG_IGN);
	umask(022);

	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	self->sh = mmap(NULL, sizeof(*self->sh), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh);
	make_backing_dir(_metadata, self->backing, sizeof(self->backing));
	/* The server must be able to search it to reach its backings */
	ASSERT_EQ(0, chmod(self->backing, 0755));
	ASSERT_EQ(0, run_as_user(&server_user, call_search, self->backing,
				 NULL))
		TH_LOG("uid %u cannot search %s", server_user.uid,
		       self->backing);
	snprintf(self->dir, sizeof(self->dir), "/tmp/fuse_server.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	ASSERT_EQ(0, chmod(self->dir, 0755));
}

FIXTURE_TEARDOWN(server)
{
	stop_server(_metadata, self);
	if (self->fuse_fd >= 0)
		close(self->fuse_fd);
	EXPECT_EQ(0, rmdir(self->dir));
	EXPECT_EQ(0, remove_tree(self->backing));
	munmap(self->sh, sizeof(*self->sh));
}

/*
 * The backings run with the server's credentials, on top of the caller's
 * own check on the FUSE inode: root sees only what the server could, and
 * another user only what both the FUSE inode and the server allow.
 */
TEST_F_TIMEOUT(server, server_backing_with_server_creds, SRV_TEST_TIMEOUT)
{
	static const struct srv_entry entries[] = {
		{ .name = "own", .nodeid = 10, .backing = "own" },
		{ .name = "shared", .nodeid = 11, .backing = "shared" },
	};
	static const struct want_lookup want[] = {
		{ .name = "own" },
		{ .name = "shared" },
	};
	char b[PATH_MAX], f[PATH_MAX], buf[64];
	struct stat st, bst;
	int fd;

	make_dir(_metadata, at(b, self->backing, "own"), 0700, 3000, 3000);
	make_owned_file(_metadata, at(b, self->backing, "own/mine"), 0600, 3000,
			3000, "mine-content");
	make_dir(_metadata, at(b, self->backing, "shared"), 0755, 0, 0);
	make_owned_file(_metadata, at(b, self->backing, "shared/rootonly"), 0600,
			0, 0, "root-only");
	make_owned_file(_metadata, at(b, self->backing, "shared/public"), 0644,
			0, 0, "public");
	start_server(_metadata, self, entries, ARRAY_SIZE(entries));
	EXPECT_EQ(0, self->sh->open_errno[0]);
	EXPECT_EQ(0, self->sh->open_errno[1]);

	/* Root passes the FUSE inode, the server owns the backing */
	ASSERT_EQ(12, read_file(at(f, self->dir, "own/mine"), buf,
				sizeof(buf)));
	EXPECT_STREQ("mine-content", buf);
	ASSERT_EQ(0, stat(f, &st));
	ASSERT_EQ(0, stat(at(b, self->backing, "own/mine"), &bst));
	EXPECT_EQ(bst.st_ino, st.st_ino);
	EXPECT_EQ(S_IFREG | 0600, st.st_mode);
	EXPECT_EQ(3000, st.st_uid);

	/* Root could read it, the server cannot: neither can root here */
	ASSERT_EQ(9, read_file(at(b, self->backing, "shared/rootonly"), buf,
			       sizeof(buf)));
	EXPECT_EQ(-EACCES, read_file(at(f, self->dir, "shared/rootonly"), buf,
				     sizeof(buf)));

	/* Another user: the FUSE inode is 0600 in a 0700 directory */
	EXPECT_EQ(EACCES, run_as_user(&other_user, call_read,
				      at(f, self->dir, "own/mine"),
				      "mine-content"));
	/* Which both allow */
	EXPECT_EQ(0, run_as_user(&other_user, call_read,
				 at(f, self->dir, "shared/public"), "public"));

	/*
	 * The server may write in own/: root may create there. The server
	 * cannot give files away, so the new object is the server's, as one
	 * it created itself (see "Backed inodes" in fuse-bpf.rst).
	 */
	fd = open(at(f, self->dir, "own/new"), O_CREAT | O_EXCL | O_WRONLY,
		  0640);
	EXPECT_LE(0, fd) TH_LOG("create in own/: %s", strerror(errno));
	if (fd >= 0) {
		EXPECT_EQ(3, write(fd, "new", 3));
		EXPECT_EQ(0, close(fd));
		ASSERT_EQ(0, lstat(at(b, self->backing, "own/new"), &bst))
			TH_LOG("not on the backing: %s", strerror(errno));
		EXPECT_EQ(S_IFREG | 0640, bst.st_mode);
		EXPECT_EQ(3000, bst.st_uid);
		EXPECT_EQ(3000, bst.st_gid);
		EXPECT_EQ(3, bst.st_size);
		ASSERT_EQ(0, stat(f, &st));
		EXPECT_EQ(bst.st_ino, st.st_ino);
		EXPECT_EQ(3000, st.st_uid);
	}

	/* The server cannot write in shared/ (0755 root's): root neither */
	errno = 0;
	fd = open(at(f, self->dir, "shared/new"), O_CREAT | O_EXCL | O_WRONLY,
		  0644);
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EACCES, errno);
	errno = 0;
	EXPECT_EQ(-1, mkdir(at(f, self->dir, "shared/dir"), 0755));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, lstat(at(b, self->backing, "shared/new"), &bst));
	EXPECT_EQ(-1, lstat(at(b, self->backing, "shared/dir"), &bst));

	/* The backed entries' children never reached the server */
	server_snapshot(_metadata, self);
	expect_requests(_metadata, self, want, ARRAY_SIZE(want));
}

/*
 * backing_fd is a descriptor of the server's table: the same number in
 * the test's table (the mounter's) is another directory.
 */
TEST_F_TIMEOUT(server, reply_fd_in_server_fd_table, SRV_TEST_TIMEOUT)
{
	static const struct srv_entry entries[] = {
		{ .name = "x", .nodeid = 10, .backing = "a", .fd_num = 100 },
	};
	static const struct want_lookup want[] = {
		{ .name = "x" },
	};
	char b[PATH_MAX], f[PATH_MAX], buf[64];
	struct stat st, ast, bst;
	int fd;

	make_dir(_metadata, at(b, self->backing, "a"), 0755, 0, 0);
	make_owned_file(_metadata, at(b, self->backing, "a/file"), 0644, 0, 0,
			"from-server");
	make_dir(_metadata, at(b, self->backing, "b"), 0755, 0, 0);
	make_owned_file(_metadata, at(b, self->backing, "b/file"), 0644, 0, 0,
			"from-test");
	ASSERT_EQ(0, stat(at(b, self->backing, "a/file"), &ast));
	ASSERT_EQ(0, stat(at(b, self->backing, "b/file"), &bst));
	fd = open(at(b, self->backing, "b"), O_PATH | O_DIRECTORY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(100, dup2(fd, 100));
	ASSERT_EQ(0, close(fd));

	start_server(_metadata, self, entries, ARRAY_SIZE(entries));
	EXPECT_EQ(0, self->sh->open_errno[0]);

	ASSERT_EQ(11, read_file(at(f, self->dir, "x/file"), buf, sizeof(buf)))
		TH_LOG("x/file: \"%s\"", buf);
	EXPECT_STREQ("from-server", buf);
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(ast.st_ino, st.st_ino);
	EXPECT_NE(bst.st_ino, st.st_ino);

	/* The test's descriptor is still its own */
	ASSERT_EQ(0, fstatat(100, "file", &st, 0));
	EXPECT_EQ(bst.st_ino, st.st_ino);
	EXPECT_EQ(0, close(100));

	server_snapshot(_metadata, self);
	expect_requests(_metadata, self, want, ARRAY_SIZE(want));
}

/*
 * The server may attach what it can open with O_PATH (search on the
 * parents is enough), but that gives nobody more than the server has on
 * it. And it cannot attach a descriptor it does not have, even one the
 * test has under the same number.
 */
TEST_F_TIMEOUT(server, unreachable_backing_stays_unreachable,
	       SRV_TEST_TIMEOUT)
{
	static const struct srv_entry entries[] = {
		{ .name = "secret", .nodeid = 10, .backing = "secret" },
		{ .name = "badfd", .nodeid = 11, .fd_num = 99,
		  .closed_fd = true },
	};
	static const struct want_lookup want[] = {
		{ .name = "secret" },
		{ .name = "badfd", .ioctl_errno = EBADF },
	};
	char b[PATH_MAX], f[PATH_MAX], buf[64];
	struct stat st, bst;
	bool listed;
	DIR *d;
	int fd, err;

	make_dir(_metadata, at(b, self->backing, "secret"), 0700, 0, 0);
	make_owned_file(_metadata, at(b, self->backing, "secret/file"), 0644, 0, 0,
			"top-secret");
	/* What the test holds at the number the server replies with */
	make_dir(_metadata, at(b, self->backing, "pub"), 0755, 0, 0);
	make_owned_file(_metadata, at(b, self->backing, "pub/file"), 0644, 0, 0,
			"public");
	fd = open(at(b, self->backing, "pub"), O_PATH | O_DIRECTORY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(99, dup2(fd, 99));
	ASSERT_EQ(0, close(fd));

	start_server(_metadata, self, entries, ARRAY_SIZE(entries));
	EXPECT_EQ(0, self->sh->open_errno[0]);

	/* Attached: its attributes are the backing's */
	ASSERT_EQ(0, stat(at(b, self->backing, "secret"), &bst));
	ASSERT_EQ(0, stat(at(f, self->dir, "secret"), &st))
		TH_LOG("stat secret: %s", strerror(errno));
	EXPECT_EQ(bst.st_ino, st.st_ino);
	EXPECT_EQ(S_IFDIR | 0700, st.st_mode);
	EXPECT_EQ(0, st.st_uid);

	/* But root may neither list nor search it */
	errno = 0;
	d = opendir(f);
	err = errno;
	listed = !!d;
	if (d)
		closedir(d);
	EXPECT_FALSE(listed);
	EXPECT_EQ(EACCES, err);
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "secret/file"), &st));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-EACCES, read_file(f, buf, sizeof(buf)));
	EXPECT_EQ(EACCES, run_as_user(&other_user, call_read, f,
				      "top-secret"));

	/* No descriptor 99 in the server: EBADF to it, EIO to the caller */
	errno = 0;
	EXPECT_EQ(-1, stat(at(f, self->dir, "badfd"), &st));
	EXPECT_EQ(EIO, errno);
	ASSERT_EQ(0, fstatat(99, "file", &st, 0));
	EXPECT_EQ(0, close(99));

	server_snapshot(_metadata, self);
	expect_requests(_metadata, self, want, ARRAY_SIZE(want));
}

/*
 * The server dies while it holds a request: the request ends, the mount
 * tells new callers the connection is gone, nothing hangs, and it
 * unmounts.
 */
TEST_F_TIMEOUT(server, server_dies_with_requests_pending, SRV_TEST_TIMEOUT)
{
	static const struct srv_entry entries[] = {
		{ .name = "own", .nodeid = 10, .backing = "own" },
		{ .name = "stall", .nodeid = 11, .stall = true },
	};
	static const struct want_lookup want[] = {
		{ .name = "own" },
	};
	char b[PATH_MAX], f[PATH_MAX], buf[64];
	struct read_check rc = { .content = "mine-content" };
	int status = 0, ret;
	pid_t stat_pid;

	make_dir(_metadata, at(b, self->backing, "own"), 0700, 3000, 3000);
	make_owned_file(_metadata, at(b, self->backing, "own/mine"), 0600, 3000,
			3000, "mine-content");
	start_server(_metadata, self, entries, ARRAY_SIZE(entries));
	EXPECT_EQ(0, self->sh->open_errno[0]);

	/* A backed file, opened while the server lives */
	rc.fd = open(at(f, self->dir, "own/mine"), O_RDONLY);
	ASSERT_LE(0, rc.fd) TH_LOG("open own/mine: %s", strerror(errno));
	ASSERT_EQ(12, pread(rc.fd, buf, sizeof(buf), 0));
	server_snapshot(_metadata, self);
	expect_requests(_metadata, self, want, ARRAY_SIZE(want));

	/* A lookup the server holds on to */
	stat_pid = spawn_call(NULL, call_stat, at(f, self->dir, "stall"),
			      NULL);
	ASSERT_LE(0, stat_pid);
	ret = wait_event(_metadata, self, SRV_STALLED);
	if (ret)
		kill_child(stat_pid, &status);
	ASSERT_EQ(0, ret);

	ASSERT_EQ(0, kill_child(self->pid, &status));
	self->pid = 0;
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGKILL, WTERMSIG(status));

	/* The pending request ends */
	ret = finish_call(stat_pid);
	TH_LOG("pending lookup: %s", ret > 0 ? strerror(ret) : "no result");
	EXPECT_TRUE(ret == ENOTCONN || ret == ECONNABORTED || ret == EIO)
		TH_LOG("pending lookup ended with %d (%s)", ret,
		       ret > 0 ? strerror(ret) : "timeout or no result");

	/* The backed file: no request would go to the server anyway */
	ret = bounded_call(NULL, call_pread, NULL, &rc);
	TH_LOG("read of the open backed file: %s",
	       ret ? strerror(ret) : "works");
	EXPECT_TRUE(ret == 0 || ret == ENOTCONN) TH_LOG("%d", ret);
	ret = bounded_call(NULL, call_read, at(f, self->dir, "own/mine"),
			   "mine-content");
	TH_LOG("open and read of own/mine by path: %s",
	       ret ? strerror(ret) : "works");
	EXPECT_TRUE(ret == 0 || ret == ENOTCONN) TH_LOG("%d", ret);

	/* Anything for the server: the connection is gone */
	EXPECT_EQ(ENOTCONN, bounded_call(NULL, call_stat,
					 at(f, self->dir, "plain"), NULL));
	EXPECT_EQ(ENOTCONN, bounded_call(NULL, call_stat,
					 at(f, self->dir, "stall"), NULL));

	EXPECT_EQ(0, close(rc.fd));
	unmount(_metadata, self);
}

/*
 * The privilege kill of a write and of a truncate is forced, as it is
 * natively: it succeeds although the server, whose credentials change
 * the backing inode, does not own the file. A chmod by the caller, which
 * is not forced, is the server's to refuse.
 */
TEST_F_TIMEOUT(server, privilege_kill_is_forced, SRV_TEST_TIMEOUT)
{
	static const struct srv_entry entries[] = {
		{ .name = "k", .nodeid = 10, .backing = "k" },
	};
	static const struct want_lookup want[] = {
		{ .name = "k" },
	};
	char b[PATH_MAX], f[PATH_MAX];
	struct stat bst;
	int fd;

	make_dir(_metadata, at(b, self->backing, "k"), 0777, 3000, 3000);
	make_owned_file(_metadata, at(b, self->backing, "k/suid"), 04777, 1000,
			1000, "x");
	make_owned_file(_metadata, at(b, self->backing, "k/sgid"), 02777, 1000,
			1000, "x");
	start_server(_metadata, self, entries, ARRAY_SIZE(entries));
	EXPECT_EQ(0, self->sh->open_errno[0]);

	/* Root writes: the set-user-ID bit goes, as uid 3000's write would */
	fd = open(at(f, self->dir, "k/suid"), O_WRONLY | O_APPEND);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	EXPECT_EQ(1, write(fd, "y", 1)) TH_LOG("write: %s", strerror(errno));
	EXPECT_EQ(0, close(fd));
	ASSERT_EQ(0, stat(at(b, self->backing, "k/suid"), &bst));
	EXPECT_EQ(S_IFREG | 0777, bst.st_mode);
	EXPECT_EQ(2, bst.st_size);

	/* Truncate: the set-group-ID bit of a group-executable file goes */
	EXPECT_EQ(0, truncate(at(f, self->dir, "k/sgid"), 0))
		TH_LOG("truncate: %s", strerror(errno));
	ASSERT_EQ(0, stat(at(b, self->backing, "k/sgid"), &bst));
	EXPECT_EQ(S_IFREG | 0777, bst.st_mode);
	EXPECT_EQ(0, bst.st_size);

	/* Nor is a truncate of a file uid 3000 may not write */
	make_owned_file(_metadata, at(b, self->backing, "k/rootfile"), 0644, 0, 0,
			"root");
	errno = 0;
	EXPECT_EQ(-1, truncate(at(f, self->dir, "k/rootfile"), 0));
	EXPECT_EQ(EACCES, errno);
	ASSERT_EQ(0, stat(at(b, self->backing, "k/rootfile"), &bst));
	EXPECT_EQ(4, bst.st_size);

	/* A chmod is not forced: uid 3000 may not, so root may not here */
	errno = 0;
	EXPECT_EQ(-1, chmod(at(f, self->dir, "k/sgid"), 0700));
	EXPECT_EQ(EPERM, errno);
	ASSERT_EQ(0, stat(at(b, self->backing, "k/sgid"), &bst));
	EXPECT_EQ(S_IFREG | 0777, bst.st_mode);

	server_snapshot(_metadata, self);
	expect_requests(_metadata, self, want, ARRAY_SIZE(want));
}

TEST_HARNESS_MAIN
