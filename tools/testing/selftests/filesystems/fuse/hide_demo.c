// SPDX-License-Identifier: GPL-2.0
/*
 * Mount a directory with fuse-bpf, no daemon, and fuse_hide.bpf.c as the
 * program of its root: NAME vanishes from every directory of the mount.
 *
 *   hide_demo BACKING_DIR MOUNTPOINT NAME
 *
 * The mount holds a reference to the program: it stays attached after
 * this exits, until the filesystem is unmounted.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fuse_hide.skel.h"

#define MOUNT_OPTS	"root_dir=%d,root_bpf=%d,no_daemon,rootmode=40000," \
			"user_id=0,group_id=0,allow_other"

int main(int argc, char **argv)
{
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	const char *backing, *mnt, *name;
	struct fuse_hide *skel;
	char opts[256];
	int dir_fd, prog_fd, ret = 1;
	size_t len;

	if (argc != 4) {
		fprintf(stderr, "usage: %s BACKING_DIR MOUNTPOINT NAME\n",
			argv[0]);
		return 2;
	}
	backing = argv[1];
	mnt = argv[2];
	name = argv[3];
	len = strlen(name);
	if (!len || len >= sizeof(skel->bss->hidden_name) ||
	    strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
		fprintf(stderr, "%s: NAME must be a file name of 1 to %zu bytes\n",
			argv[0], sizeof(skel->bss->hidden_name) - 1);
		return 2;
	}

	skel = fuse_hide__open();
	if (!skel) {
		fprintf(stderr, "%s: opening the program: %s\n", argv[0],
			strerror(errno));
		return 1;
	}
	/* .bss: its initial value, set before the load */
	memcpy(skel->bss->hidden_name.c, name, len);
	skel->bss->hidden_len = len;
	if (fuse_hide__load(skel)) {
		fprintf(stderr, "%s: loading the program: %s\n", argv[0],
			strerror(errno));
		goto out;
	}
	prog_fd = bpf_program__fd(skel->progs.fuse_hide);
	if (!bpf_prog_get_info_by_fd(prog_fd, &info, &info_len))
		printf("loaded BPF program fuse_hide (id %u), hiding \"%s\"\n",
		       info.id, name);

	dir_fd = open(backing, O_PATH | O_DIRECTORY);
	if (dir_fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], backing,
			strerror(errno));
		goto out;
	}
	snprintf(opts, sizeof(opts), MOUNT_OPTS, dir_fd, prog_fd);
	if (mount("fuse-bpf", mnt, "fuse", 0, opts)) {
		fprintf(stderr, "%s: mount -t fuse -o %s fuse-bpf %s: %s\n",
			argv[0], opts, mnt, strerror(errno));
	} else {
		printf("mounted %s on %s (-o %s)\n", backing, mnt, opts);
		printf("the mount keeps the program; exiting\n");
		ret = 0;
	}
	close(dir_fd);
out:
	fuse_hide__destroy(skel);
	return ret;
}
