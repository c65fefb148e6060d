/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the fuse-bpf selftests that need no harness macros,
 * built once in fuse_bpf_util.c: reading files and directories whole,
 * and the handlers of a test daemon that attaches backings (and BPF
 * programs) to entries in its LOOKUP replies. The helpers that ASSERT
 * are in test_util.h.
 */
#ifndef __FUSE_BPF_UTIL_H
#define __FUSE_BPF_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

#include "test_daemon.h"

/* The whole content of @path, NUL-terminated, in @buf */
ssize_t read_all(const char *path, char *buf, size_t size);

/* A directory entry as getdents64() gave it */
struct dirent_rec {
	char name[64];
	long long d_off;
	unsigned long long d_ino;
	unsigned char d_type;
};

/* All entries of @path, in order; their number or -errno */
int read_dir_raw(const char *path, struct dirent_rec *recs, int max);

/* A handler for FORGET and BATCH_FORGET, which get no reply */
int forget_noop(struct test_daemon *td, struct td_req *req);

/* What the daemon answers to LOOKUP of one name under the root */
struct lookup_reply {
	const char *name;
	__u64 nodeid;
	/* The extension: absent, or its actions and backing (by name) */
	bool ext;
	__u64 backing_action;
	const char *backing;
	__u64 backing_fd;
	__u64 bpf_action;
	/* bpf_fd is the program of bpf_daemon_state */
	bool prog;
	/* The entry is to be revalidated at each use */
	bool uncached;
	/* Attributes that are not the backing's: a setuid file of uid 1000 */
	bool lie;
	/* Reply length relative to the full one, to send a wrong length */
	int len_delta;
	enum td_reply_via via;
};

/*
 * The state of the daemon of serve_bpf_daemon() (test_util.h): the test
 * sets what it answers, its handlers record what they saw. One daemon at
 * a time, as each test runs in a process of its own.
 */
struct bpf_daemon_state {
	const char *backing_dir;
	const struct lookup_reply *replies;
	size_t nr_replies;
	__u64 init_flags;
	int prog_fd;
};

extern struct bpf_daemon_state bpf_daemon_state;

/* FUSE_INIT and LOOKUP handlers, on the state passed as their priv */
int bpf_daemon_init(struct test_daemon *td, struct td_req *req);
int bpf_daemon_lookup(struct test_daemon *td, struct td_req *req);

/* Answer the LOOKUPs of the names in @replies, and no others */
void serve_lookups(const struct lookup_reply *replies, size_t nr);

/* The number of LOOKUPs of @name the daemon received */
int count_lookups(struct test_daemon *td, const char *name);

#endif /* __FUSE_BPF_UTIL_H */
