// SPDX-License-Identifier: GPL-2.0
/*
 * Mount a directory through fuse-bpf for the benchmarks:
 *
 *   bench_mount pre BACKING_DIR MOUNTPOINT
 *	no daemon, fuse_trivial.bpf.c as the program of the root: every
 *	operation is pre-filtered
 *   bench_mount prepost BACKING_DIR MOUNTPOINT
 *	the same, every operation pre- and post-filtered
 *   bench_mount server BACKING_DIR MOUNTPOINT
 *	a FUSE mount of a server whose root is not backed: its LOOKUP of
 *	"data" backs MOUNTPOINT/data with BACKING_DIR, which then works
 *	with no server round trip and no program
 *
 * With a program, the mount holds a reference to it: it stays attached
 * after this exits, until the filesystem is unmounted.
 *
 * The server runs in a process of its own, started here: this returns
 * once the server answered FUSE_INIT and MOUNTPOINT/data was looked up,
 * and the server goes on in the background, detached from the terminal
 * and from the standard streams, until the filesystem is unmounted. Its
 * root is a read-only directory that lists "data"; other requests of the
 * root (changes, xattrs, ioctls) fail with EOPNOTSUPP.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fuse_bpf_util.h"
#include "test_daemon.h"
#include "fuse_trivial.skel.h"

#define PROG_MOUNT_OPTS	"root_dir=%d,root_bpf=%d,no_daemon,rootmode=40000," \
			"user_id=0,group_id=0,allow_other"
/* test_fuse_mount() adds fd=N,rootmode=40000,user_id=0,group_id=0 */
#define SERVER_MOUNT_OPTS	"fuse_bpf,allow_other"

/* The entry of the root that the server backs, and its node id */
#define DATA_NAME	"data"
#define DATA_NODEID	2
/*
 * Entry and attribute timeouts of the server's replies, in seconds: the
 * server revalidates the entries it made, let it not be asked again.
 */
#define SERVER_TIMEOUT	(24 * 60 * 60)
/* How often the server checks that its connection is still up */
#define SERVER_POLL_MS	1000

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif

static const char *prog_name;

static int mount_with_program(const char *mode, const char *backing,
			      const char *mnt, bool post)
{
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	struct fuse_trivial *skel;
	int dir_fd, prog_fd, ret = 1;
	char opts[256];

	skel = fuse_trivial__open();
	if (!skel) {
		fprintf(stderr, "%s: opening the program: %s\n", prog_name,
			strerror(errno));
		return 1;
	}
	/* .bss: its initial value, set before the load */
	skel->bss->post = post;
	if (fuse_trivial__load(skel)) {
		fprintf(stderr, "%s: loading the program: %s\n", prog_name,
			strerror(errno));
		goto out;
	}
	prog_fd = bpf_program__fd(skel->progs.fuse_trivial);

	dir_fd = open(backing, O_PATH | O_DIRECTORY);
	if (dir_fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog_name, backing,
			strerror(errno));
		goto out;
	}
	snprintf(opts, sizeof(opts), PROG_MOUNT_OPTS, dir_fd, prog_fd);
	if (mount("fuse-bpf", mnt, "fuse", 0, opts)) {
		fprintf(stderr, "%s: mount -t fuse -o %s fuse-bpf %s: %s\n",
			prog_name, opts, mnt, strerror(errno));
	} else {
		if (bpf_prog_get_info_by_fd(prog_fd, &info, &info_len))
			info.id = 0;
		printf("mounted %s on %s: %s program fuse_trivial (id %u)\n",
		       backing, mnt, mode, info.id);
		ret = 0;
	}
	close(dir_fd);
out:
	fuse_trivial__destroy(skel);
	return ret;
}

static time_t root_time;

/*
 * The root is a read-only directory of root's that lists "data". Its
 * attributes, for GETATTR and STATX (which stat(1) asks for first).
 */
static int root_getattr(struct test_daemon *td, struct td_req *req)
{
	struct fuse_attr_out *out = req->out;

	if (req->in->nodeid != FUSE_ROOT_ID)
		return -EOPNOTSUPP;
	out->attr_valid = SERVER_TIMEOUT;
	out->attr.ino = FUSE_ROOT_ID;
	out->attr.mode = S_IFDIR | 0755;
	out->attr.nlink = 2;
	out->attr.atime = root_time;
	out->attr.mtime = root_time;
	out->attr.ctime = root_time;
	out->attr.blksize = 4096;
	req->out_len = sizeof(*out);
	return 0;
}

static int root_statx(struct test_daemon *td, struct td_req *req)
{
	struct fuse_statx_out *out = req->out;

	if (req->in->nodeid != FUSE_ROOT_ID)
		return -EOPNOTSUPP;
	out->attr_valid = SERVER_TIMEOUT;
	/* All but the birth time */
	out->stat.mask = STATX_BASIC_STATS;
	out->stat.ino = FUSE_ROOT_ID;
	out->stat.mode = S_IFDIR | 0755;
	out->stat.nlink = 2;
	out->stat.atime.tv_sec = root_time;
	out->stat.mtime.tv_sec = root_time;
	out->stat.ctime.tv_sec = root_time;
	out->stat.blksize = 4096;
	req->out_len = sizeof(*out);
	return 0;
}

static int root_statfs(struct test_daemon *td, struct td_req *req)
{
	struct fuse_statfs_out *out = req->out;

	out->st.bsize = 4096;
	out->st.frsize = 4096;
	out->st.namelen = NAME_MAX;
	req->out_len = sizeof(*out);
	return 0;
}

/* ACCESS and RELEASEDIR; OPENDIR, with a file handle of 0 */
static int root_ok(struct test_daemon *td, struct td_req *req)
{
	if (req->in->opcode == FUSE_OPENDIR)
		req->out_len = sizeof(struct fuse_open_out);
	return 0;
}

/* One record, "data", at offset 0; after it, the end */
static int root_readdir(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_read_in *in = req->arg;
	struct fuse_dirent *dirent = req->out;
	size_t len = FUSE_REC_ALIGN(FUSE_NAME_OFFSET + strlen(DATA_NAME));

	if (req->arg_len < sizeof(*in))
		return -EINVAL;
	if (in->offset || in->size < len)
		return 0;
	dirent->ino = DATA_NODEID;
	dirent->off = 1;
	dirent->namelen = strlen(DATA_NAME);
	dirent->type = DT_DIR;
	memcpy(dirent->name, DATA_NAME, dirent->namelen);
	req->out_len = len;
	return 0;
}

/* Anything else: no changes to the root, no xattrs, no ioctls */
static int root_unsupported(struct test_daemon *td, struct td_req *req)
{
	return -EOPNOTSUPP;
}

/* bpf_daemon_lookup(), with entries that do not time out */
static int server_lookup(struct test_daemon *td, struct td_req *req)
{
	struct fuse_entry_out *entry = req->out;
	int err;

	err = bpf_daemon_lookup(td, req);
	if (!err) {
		entry->entry_valid = SERVER_TIMEOUT;
		entry->attr_valid = SERVER_TIMEOUT;
	}
	return err;
}

static int server_handlers(struct test_daemon *td)
{
	static const struct {
		__u32 opcode;
		td_handler_fn fn;
		void *priv;
	} handlers[] = {
		{ FUSE_INIT, bpf_daemon_init, &bpf_daemon_state },
		{ FUSE_LOOKUP, server_lookup, &bpf_daemon_state },
		{ FUSE_GETATTR, root_getattr, NULL },
		{ FUSE_STATX, root_statx, NULL },
		{ FUSE_STATFS, root_statfs, NULL },
		{ FUSE_ACCESS, root_ok, NULL },
		{ FUSE_OPENDIR, root_ok, NULL },
		{ FUSE_READDIR, root_readdir, NULL },
		{ FUSE_RELEASEDIR, root_ok, NULL },
		{ FUSE_FORGET, forget_noop, NULL },
		/* Forgets queued together come as one BATCH_FORGET */
		{ FUSE_BATCH_FORGET, forget_noop, NULL },
	};
	__u32 op;
	size_t i;
	int err;

	for (op = 1; op <= FUSE_STATX; op++) {
		err = test_daemon_set_handler(td, op, root_unsupported, NULL);
		if (err)
			return err;
	}
	/* They replace those */
	for (i = 0; i < ARRAY_SIZE(handlers); i++) {
		err = test_daemon_set_handler(td, handlers[i].opcode,
					      handlers[i].fn, handlers[i].priv);
		if (err)
			return err;
	}
	return 0;
}

/* Wait until the connection is gone: unmounted, or aborted */
static void wait_disconnected(int fuse_fd)
{
	/* Only POLLERR, which the device gives once it is disconnected */
	struct pollfd pfd = { .fd = fuse_fd, .events = 0 };
	int ret;

	for (;;) {
		ret = poll(&pfd, 1, SERVER_POLL_MS);
		if (ret < 0 && errno != EINTR)
			return;
		if (ret > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)))
			return;
	}
}

/* Out of the caller's session and streams, which may be pipes it reads */
static void detach(void)
{
	int fd;

	setsid();
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/*
 * The server process: mount, serve, tell the parent through @report_fd
 * once the mount works, then serve until it is unmounted. Returns the
 * exit status of the process.
 */
static int run_server(const char *backing, const char *mnt, int report_fd)
{
	static const struct lookup_reply replies[] = {
		/* The backing directory itself, as BACKING_DIR/. */
		{ .name = DATA_NAME, .nodeid = DATA_NODEID, .ext = true,
		  .backing_action = FUSE_ACTION_REPLACE, .backing = ".",
		  .bpf_action = FUSE_ACTION_KEEP, .via = TD_REPLY_IOCTL },
	};
	char data[PATH_MAX + sizeof("/" DATA_NAME)];
	struct test_daemon *td;
	struct stat st;
	__u64 offered;
	int fuse_fd, err;
	char ok = 1;

	/* Keep no directory of the caller's busy */
	if (chdir("/"))
		return 1;
	signal(SIGPIPE, SIG_IGN);
	root_time = time(NULL);
	bpf_daemon_state.backing_dir = backing;
	serve_lookups(replies, ARRAY_SIZE(replies));

	fuse_fd = test_fuse_mount(mnt, SERVER_MOUNT_OPTS);
	if (fuse_fd < 0) {
		fprintf(stderr, "%s: mounting %s with -o %s: %s\n", prog_name,
			mnt, SERVER_MOUNT_OPTS, strerror(-fuse_fd));
		return 1;
	}
	td = test_daemon_create(fuse_fd);
	if (!td) {
		fprintf(stderr, "%s: out of memory\n", prog_name);
		goto umount;
	}
	test_daemon_set_init_flags(td, FUSE_BPF);
	err = server_handlers(td);
	if (!err)
		err = test_daemon_start(td);
	if (err) {
		fprintf(stderr, "%s: starting the server: %s\n", prog_name,
			strerror(-err));
		goto umount;
	}
	if (test_daemon_wait_init(td, TD_STOP_TIMEOUT_MS)) {
		fprintf(stderr, "%s: no FUSE_INIT in %d ms\n", prog_name,
			TD_STOP_TIMEOUT_MS);
		goto umount;
	}
	test_daemon_lock(td);
	offered = bpf_daemon_state.init_flags;
	test_daemon_unlock(td);
	if (!(offered & FUSE_BPF)) {
		fprintf(stderr, "%s: the kernel did not offer FUSE_BPF\n",
			prog_name);
		goto umount;
	}
	/* The LOOKUP that attaches the backing, to see it works */
	snprintf(data, sizeof(data), "%s/%s", mnt, DATA_NAME);
	if (stat(data, &st)) {
		fprintf(stderr, "%s: %s: %s\n", prog_name, data,
			strerror(errno));
		goto umount;
	}

	detach();
	/* Should the caller be gone, the mount still needs its server */
	if (write(report_fd, &ok, 1) != 1)
		ok = 0;
	close(report_fd);

	wait_disconnected(fuse_fd);
	err = test_daemon_stop(td, TD_STOP_TIMEOUT_MS);
	test_daemon_destroy(td);
	close(fuse_fd);
	return err ? 1 : 0;

umount:
	test_fuse_umount(mnt);
	if (td)
		test_daemon_destroy(td);
	close(fuse_fd);
	return 1;
}

static int mount_with_server(const char *backing, const char *mnt)
{
	char backing_path[PATH_MAX], mnt_path[PATH_MAX];
	int pipe_fd[2], status;
	struct stat st;
	pid_t pid;
	char ok;

	/* The server works from / */
	if (!realpath(backing, backing_path)) {
		fprintf(stderr, "%s: %s: %s\n", prog_name, backing,
			strerror(errno));
		return 1;
	}
	if (stat(backing_path, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: %s: not a directory\n", prog_name,
			backing);
		return 1;
	}
	if (!realpath(mnt, mnt_path)) {
		fprintf(stderr, "%s: %s: %s\n", prog_name, mnt,
			strerror(errno));
		return 1;
	}
	if (pipe2(pipe_fd, O_CLOEXEC)) {
		fprintf(stderr, "%s: pipe: %s\n", prog_name, strerror(errno));
		return 1;
	}
	/* Before any thread: the daemon's would not survive the fork */
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", prog_name, strerror(errno));
		return 1;
	}
	if (!pid) {
		close(pipe_fd[0]);
		exit(run_server(backing_path, mnt_path, pipe_fd[1]));
	}

	close(pipe_fd[1]);
	if (read(pipe_fd[0], &ok, 1) != 1) {
		/* The server explained why on stderr */
		close(pipe_fd[0]);
		waitpid(pid, &status, 0);
		fprintf(stderr, "%s: the server failed to start\n", prog_name);
		return 1;
	}
	close(pipe_fd[0]);
	printf("mounted %s on %s: served by pid %d, backing on %s/%s\n",
	       backing_path, mnt_path, pid, mnt_path, DATA_NAME);
	return 0;
}

static int bad_usage(void)
{
	fprintf(stderr, "usage: %s pre|prepost|server BACKING_DIR MOUNTPOINT\n",
		prog_name);
	return 2;
}

int main(int argc, char **argv)
{
	const char *mode;

	prog_name = argv[0];
	if (argc != 4)
		return bad_usage();
	mode = argv[1];
	if (!strcmp(mode, "pre"))
		return mount_with_program(mode, argv[2], argv[3], false);
	if (!strcmp(mode, "prepost"))
		return mount_with_program(mode, argv[2], argv[3], true);
	if (!strcmp(mode, "server"))
		return mount_with_server(argv[2], argv[3]);
	return bad_usage();
}
