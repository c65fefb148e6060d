// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the fuse-bpf selftests, see fuse_bpf_util.h: reading
 * files and directories, and the handlers of a daemon that attaches
 * backings in its LOOKUP replies.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "fuse_bpf_util.h"

/* The daemon never replies to FORGET, whatever this returns */
int forget_noop(struct test_daemon *td, struct td_req *req)
{
	return 0;
}

/* The whole content of @path, NUL-terminated, in @buf */
ssize_t read_all(const char *path, char *buf, size_t size)
{
	ssize_t len;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	len = read(fd, buf, size - 1);
	close(fd);
	if (len >= 0)
		buf[len] = 0;
	return len;
}

/* All entries of @path, read with a small buffer, in order */
int read_dir_raw(const char *path, struct dirent_rec *recs, int max)
{
	/* Small: several calls, each resuming at the last d_off */
	char buf[512];
	int fd, n = 0;
	long len;

	fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -errno;
	while ((len = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		long pos = 0;

		while (pos < len && n < max) {
			struct dirent64 *d = (void *)(buf + pos);

			snprintf(recs[n].name, sizeof(recs[n].name), "%.63s",
				 d->d_name);
			recs[n].d_off = d->d_off;
			recs[n].d_ino = d->d_ino;
			recs[n].d_type = d->d_type;
			n++;
			pos += d->d_reclen;
		}
	}
	close(fd);
	return len < 0 ? -errno : n;
}

struct bpf_daemon_state bpf_daemon_state;

int bpf_daemon_init(struct test_daemon *td, struct td_req *req)
{
	const struct fuse_init_in *in = req->arg;
	struct bpf_daemon_state *state = req->priv;
	struct fuse_init_out *out = req->out;

	/* Passthrough needs a stacking depth for its backing files */
	out->max_stack_depth = 1;
	state->init_flags = in->flags;
	if (in->flags & FUSE_INIT_EXT)
		state->init_flags |= (__u64)in->flags2 << 32;
	return 0;
}

int bpf_daemon_lookup(struct test_daemon *td, struct td_req *req)
{
	struct bpf_daemon_state *state = req->priv;
	struct fuse_entry_out *entry = req->out;
	struct fuse_entry_bpf_out *ext = (void *)(entry + 1);
	const struct lookup_reply *r = NULL;
	const char *name = req->arg;
	char path[PATH_MAX];
	struct stat st;
	size_t i;
	int fd = -1;

	for (i = 0; i < state->nr_replies; i++)
		if (!strcmp(state->replies[i].name, name))
			r = &state->replies[i];
	if (!r || req->in->nodeid != FUSE_ROOT_ID)
		return -ENOENT;

	entry->nodeid = r->nodeid;
	entry->generation = 1;
	entry->entry_valid = r->uncached ? 0 : 10;
	entry->attr_valid = 10;
	entry->attr.ino = r->nodeid;
	entry->attr.mode = S_IFREG | 0644;
	entry->attr.nlink = 1;
	if (r->backing) {
		snprintf(path, sizeof(path), "%s/%s", state->backing_dir,
			 r->backing);
		if (stat(path, &st))
			return -EIO;
		entry->attr.mode = st.st_mode;
		if (r->lie) {
			entry->attr.mode = (st.st_mode & S_IFMT) | 04777;
			entry->attr.uid = 1000;
			entry->attr.gid = 1000;
			entry->attr.size = 999999;
		}
		fd = open(path, O_PATH);
		if (fd < 0)
			return -EIO;
	}
	req->out_len = sizeof(*entry);
	if (r->ext) {
		ext->backing_action = r->backing_action;
		ext->backing_fd = r->backing ? fd : r->backing_fd;
		ext->bpf_action = r->bpf_action;
		ext->bpf_fd = r->prog ? state->prog_fd : 0;
		req->out_len += sizeof(*ext) + r->len_delta;
	}
	req->reply_via = r->via;
	/* Still open when the reply goes out; closed by the next lookup */
	static int last_fd = -1;

	if (last_fd >= 0)
		close(last_fd);
	last_fd = fd;
	return 0;
}

void serve_lookups(const struct lookup_reply *replies, size_t nr)
{
	bpf_daemon_state.replies = replies;
	bpf_daemon_state.nr_replies = nr;
}

/* The number of LOOKUPs of @name the daemon received */
int count_lookups(struct test_daemon *td, const char *name)
{
	static struct td_log_entry log[TD_LOG_SIZE];
	size_t i, n = test_daemon_get_log(td, log, TD_LOG_SIZE);
	int count = 0;

	for (i = 0; i < n && i < TD_LOG_SIZE; i++)
		count += log[i].opcode == FUSE_LOOKUP &&
			 !strcmp(log[i].name, name);
	return count;
}
