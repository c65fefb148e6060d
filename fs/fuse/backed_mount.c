// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-bpf: mount options, the per-connection state of backed mounts
 * (backing filesystems and credentials) and mounts without a daemon.
 *
 * Copyright (c) 2026 The fuse-bpf authors
 */

#include "fuse_i.h"
#include "fuse_bpf.h"

#include <linux/bpf.h>
#include <linux/cred.h>
#include <linux/exportfs.h>
#include <linux/file.h>
#include <linux/fs_parser.h>
#include <linux/kobject.h>
#include <linux/lockdep.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/seq_file.h>
#include <linux/sysfs.h>

/*
 * Servers probe this file to learn that the running kernel offers fuse-bpf
 * before they mount with the fuse-bpf options.
 */
static ssize_t fuse_bpf_show(struct kobject *kobj, struct kobj_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "supported\n");
}

static struct kobj_attribute fuse_bpf_attr = __ATTR_RO(fuse_bpf);

static struct attribute *fuse_features_attrs[] = {
	&fuse_bpf_attr.attr,
	NULL,
};

static const struct attribute_group fuse_features_group = {
	.name = "features",
	.attrs = fuse_features_attrs,
};

/**
 * fuse_backed_sysfs_init() - create /sys/fs/fuse/features
 * @fuse_kobj: the kobject of /sys/fs/fuse
 *
 * Return: 0 on success, a negative errno otherwise.
 */
int fuse_backed_sysfs_init(struct kobject *fuse_kobj)
{
	return sysfs_create_group(fuse_kobj, &fuse_features_group);
}

/**
 * fuse_backed_sysfs_cleanup() - remove /sys/fs/fuse/features
 * @fuse_kobj: the kobject of /sys/fs/fuse
 */
void fuse_backed_sysfs_cleanup(struct kobject *fuse_kobj)
{
	sysfs_remove_group(fuse_kobj, &fuse_features_group);
}

/*
 * What fuse-bpf keeps of a connection.
 *
 * The filesystems its backings come from, in the order they were first
 * attached: the root directory's is the first. Each one keeps a reference
 * to the first mount it was seen on until the connection is unmounted, so
 * that syncfs() reaches it and an administrator can see it in the
 * connection's "backing" control file, where a pinned mount otherwise
 * shows nowhere (no open file, no lsof).
 *
 * Its index in the table also keeps inode numbers apart: a backed inode
 * reports the backing inode number with the index in its top bits, on the
 * FUSE st_dev. Those of the root's filesystem are thus unchanged.
 */
#define FUSE_BACKED_FS_BITS	6

#define FUSE_BACKED_MAX_FS		((1 << FUSE_BACKED_FS_BITS) - 1)

#define FUSE_BACKED_INO_SHIFT	(64 - FUSE_BACKED_FS_BITS)

struct fuse_backed_conn {
	/* Serialises adding, the use of the mounts, and the creds below */
	struct mutex lock;
	/* Entries below it are set and never change but for @mnt */
	unsigned int count;
	struct {
		struct super_block *sb;
		/* NULL once the connection is unmounted */
		struct vfsmount *mnt;
	} fs[FUSE_BACKED_MAX_FS];
	/* The last credentials captured, and the task's they came from */
	const struct cred *cred;
	const struct cred *cred_src;
};

/*
 * fuse-bpf is enabled per mount by the mounter. Backing objects are then
 * used with the mounter's credentials, so the options need the same
 * privilege as 6.12's passthrough backing files.
 */
static int fuse_backed_enable(struct fs_context *fsc)
{
	struct fuse_fs_context *ctx = fsc->fs_private;

	if (!capable(CAP_SYS_ADMIN)) {
		errorfc(fsc, "fuse-bpf options need CAP_SYS_ADMIN in the initial user namespace");
		return -EPERM;
	}
	if (!ctx->bpf_conn) {
		ctx->bpf_conn = kzalloc(sizeof(*ctx->bpf_conn), GFP_KERNEL);
		if (!ctx->bpf_conn)
			return -ENOMEM;
		mutex_init(&ctx->bpf_conn->lock);
	}
	if (!ctx->bpf_stats) {
		ctx->bpf_stats = alloc_percpu(struct fuse_bpf_stats);
		if (!ctx->bpf_stats)
			return -ENOMEM;
	}
	ctx->bpf_enabled = true;
	return 0;
}

/* The file of a file descriptor option, resolved in the mounter's context */
static struct file *fuse_backed_param_file(struct fs_parameter *param,
					   unsigned int fd)
{
	if (param->type == fs_value_is_file)
		return get_file(param->file);
	return fget_raw(fd);
}

/*
 * What may back a FUSE inode: a directory, a regular file or a symlink, on
 * a filesystem mounted for users. Not an anon inode (it has no file type),
 * a private inode, the object of a kernel-internal mount (pipes, sockets,
 * namespaces, pidfds, memfds), a bpffs object, nor anything of procfs,
 * whose magic links would let a lookup jump into the files or the root of
 * whoever attached it.
 */
bool fuse_backed_backing_ok(const struct path *path)
{
	struct inode *inode = d_inode(path->dentry);
	struct super_block *sb = path->mnt->mnt_sb;

	if (!inode || IS_PRIVATE(inode) ||
	    (path->mnt->mnt_flags & MNT_INTERNAL) || (sb->s_flags & SB_NOUSER))
		return false;
	if (sb->s_magic == PROC_SUPER_MAGIC || sb->s_magic == BPF_FS_MAGIC)
		return false;
	return S_ISDIR(inode->i_mode) || S_ISREG(inode->i_mode) ||
	       S_ISLNK(inode->i_mode);
}

/*
 * Take the object of @file as a backing, with the current task's
 * credentials to use it with: the mounter's, or the server's. They are
 * captured once per credentials of the task, so that the backings one
 * server attaches share them, and their inodes with them (see
 * fuse_backed_inode_eq()).
 */
int fuse_backed_capture_backing(struct fuse_backed_conn *bc,
				struct file *file, struct path *path,
				const struct cred **credp)
{
	struct cred *cred;

	mutex_lock(&bc->lock);
	if (bc->cred_src != current_cred()) {
		cred = prepare_creds();
		if (!cred) {
			mutex_unlock(&bc->lock);
			return -ENOMEM;
		}
		/* As overlayfs: no bypass of the backing filesystem's limits */
		cap_lower(cred->cap_effective, CAP_SYS_RESOURCE);
		if (bc->cred) {
			put_cred(bc->cred);
			put_cred(bc->cred_src);
		}
		bc->cred = cred;
		bc->cred_src = get_current_cred();
	}
	*credp = get_cred(bc->cred);
	mutex_unlock(&bc->lock);
	*path = file->f_path;
	path_get(path);
	return 0;
}

/* Index of @sb in the table, FUSE_BACKED_MAX_FS if absent; lockless */
unsigned int fuse_backed_fs_index(struct fuse_conn *fc,
				  struct super_block *sb)
{
	struct fuse_backed_conn *t = fc->bpf_conn;
	unsigned int i, n;

	if (!t)
		return FUSE_BACKED_MAX_FS;
	/* Pairs with fuse_backed_fs_add(): the entries below count are set */
	n = smp_load_acquire(&t->count);
	for (i = 0; i < n; i++) {
		if (t->fs[i].sb == sb)
			return i;
	}
	return FUSE_BACKED_MAX_FS;
}

/**
 * fuse_backed_fs_add() - note the filesystem of a new backing
 * @fc: the connection
 * @path: the backing object
 *
 * Return: 0, or -EMFILE if the connection already takes backings from
 * FUSE_BACKED_MAX_FS filesystems.
 */
int fuse_backed_fs_add(struct fuse_conn *fc, const struct path *path)
{
	struct fuse_backed_conn *t = fc->bpf_conn;
	struct super_block *sb = path->mnt->mnt_sb;
	int err = 0;

	if (fuse_backed_fs_index(fc, sb) != FUSE_BACKED_MAX_FS)
		return 0;
	mutex_lock(&t->lock);
	if (fuse_backed_fs_index(fc, sb) != FUSE_BACKED_MAX_FS)
		goto out;
	err = -EMFILE;
	if (t->count == FUSE_BACKED_MAX_FS)
		goto out;
	err = 0;
	t->fs[t->count].sb = sb;
	t->fs[t->count].mnt = mntget(path->mnt);
	/* Publish the entry to lockless fuse_backed_fs_index() */
	smp_store_release(&t->count, t->count + 1);
out:
	mutex_unlock(&t->lock);
	return err;
}

/*
 * The inode number a backed inode reports for @ino, one of the filesystem
 * @idx, if it has room for the index: else false, and it reports the
 * backing st_dev and st_ino, which cannot collide either.
 */
bool fuse_backed_map_ino(unsigned int idx, u64 *ino)
{
	if (idx >= FUSE_BACKED_MAX_FS || *ino >> FUSE_BACKED_INO_SHIFT)
		return false;
	*ino |= (u64)idx << FUSE_BACKED_INO_SHIFT;
	return true;
}

/* A file handle type of its own: fuse_fh_to_dentry() refuses it */
#define FUSE_BACKED_FILEID_INO64_GEN	0xfb

/**
 * fuse_backed_encode_fh() - file handle of an inode the server does not know
 * @inode: the FUSE inode
 * @fh: where to encode it
 * @max_len: its room in u32 words; set to the length used or needed
 * @type: set to the handle type, or FILEID_INVALID if no room
 *
 * A handle made of the nodeid names nothing when the server gave none
 * (nodeid 0): such inodes get a handle of their own type, made of the
 * inode number and generation they report. It is unique, as fanotify's
 * FIDs need, but cannot be opened: open_by_handle_at() fails with ESTALE.
 *
 * Return: true if @inode is such an inode and @type is set.
 */
bool fuse_backed_encode_fh(struct inode *inode, u32 *fh, int *max_len,
			   int *type)
{
	u64 ino = inode->i_ino;

	if (!fuse_inode_backed(inode) || get_fuse_inode(inode)->nodeid)
		return false;
	if (*max_len < 3) {
		*max_len = 3;
		*type = FILEID_INVALID;
		return true;
	}
	fh[0] = ino >> 32;
	fh[1] = (u32)ino;
	fh[2] = inode->i_generation;
	*max_len = 3;
	*type = FUSE_BACKED_FILEID_INO64_GEN;
	return true;
}

/**
 * fuse_backed_sync_fs() - sync the filesystems of a connection's backings
 * @fc: the connection
 *
 * Return: 0, or the first error of a backing filesystem.
 */
int fuse_backed_sync_fs(struct fuse_conn *fc)
{
	struct fuse_backed_conn *t = fc->bpf_conn;
	struct vfsmount *mnt;
	struct super_block *bsb;
	unsigned int i;
	int err = 0;
	int ret;

	if (!t)
		return 0;
	/* Not under the lock: a sync may wait on a server that takes it */
	for (i = 0; i < smp_load_acquire(&t->count); i++) {
		mutex_lock(&t->lock);
		mnt = mntget(t->fs[i].mnt);
		mutex_unlock(&t->lock);
		if (!mnt)
			continue;
		bsb = mnt->mnt_sb;
		/* Stacked over another FUSE mount: the lower, the deeper */
		down_read_nested(&bsb->s_umount,
				 FILESYSTEM_MAX_STACK_DEPTH - bsb->s_stack_depth);
		ret = sync_filesystem(bsb);
		up_read(&bsb->s_umount);
		mntput(mnt);
		if (!err)
			err = ret;
	}
	return err;
}

/* The last mount of the connection is gone: let the backing ones go too */
void fuse_backed_conn_destroy(struct fuse_conn *fc)
{
	struct fuse_backed_conn *t = fc->bpf_conn;
	unsigned int i;

	if (!t)
		return;
	mutex_lock(&t->lock);
	for (i = 0; i < t->count; i++) {
		mntput(t->fs[i].mnt);
		t->fs[i].mnt = NULL;
	}
	mutex_unlock(&t->lock);
}

static void fuse_backed_conn_put(struct fuse_backed_conn *bc)
{
	if (!bc)
		return;
	if (bc->cred) {
		put_cred(bc->cred);
		put_cred(bc->cred_src);
	}
	kfree(bc);
}

void fuse_backed_conn_free(struct fuse_conn *fc)
{
	fuse_backed_conn_destroy(fc);
	fuse_backed_conn_put(fc->bpf_conn);
	fc->bpf_conn = NULL;
	free_percpu(fc->bpf_stats);
	fc->bpf_stats = NULL;
}

static const char * const fuse_bpf_counter_names[FUSE_BPF_NR_COUNTERS] = {
	[FUSE_BPF_PREFILTER] = "prefilter",
	[FUSE_BPF_POSTFILTER] = "postfilter",
	[FUSE_BPF_V_CONTINUE] = "verdict_continue",
	[FUSE_BPF_V_USER] = "verdict_user",
	[FUSE_BPF_V_POSTFILTER] = "verdict_postfilter",
	[FUSE_BPF_V_USER_FILTER] = "verdict_user_filter",
	[FUSE_BPF_V_ERRNO] = "verdict_errno",
	[FUSE_BPF_V_INVALID] = "verdict_invalid",
	[FUSE_BPF_E_BACKING] = "error_backing",
	[FUSE_BPF_E_PREFILTER] = "error_prefilter",
	[FUSE_BPF_E_POSTFILTER] = "error_postfilter",
	[FUSE_BPF_E_REWRITE] = "error_rewrite",
	[FUSE_BPF_E_UNSUPPORTED] = "error_unsupported",
	[FUSE_BPF_E_SERVER] = "error_server",
	[FUSE_BPF_E_NO_SERVER] = "error_no_server",
};

/**
 * fuse_bpf_show_stats() - the connection's "bpf_stats" control file
 * @m: where to show it
 * @fc: the connection
 *
 * Every counter, one "name value" line each, then one "backed OPCODE
 * value" line per opcode that a backing object served (opcode 0 counts
 * any opcode without a slot of its own).
 */
void fuse_bpf_show_stats(struct seq_file *m, struct fuse_conn *fc)
{
	struct fuse_bpf_stats *st, sum = {};
	unsigned int i;
	int cpu;

	for_each_possible_cpu(cpu) {
		st = per_cpu_ptr(fc->bpf_stats, cpu);
		for (i = 0; i < FUSE_BPF_NR_COUNTERS; i++)
			sum.count[i] += READ_ONCE(st->count[i]);
		for (i = 0; i < FUSE_BPF_STATS_OPS; i++)
			sum.backed[i] += READ_ONCE(st->backed[i]);
	}
	for (i = 0; i < FUSE_BPF_NR_COUNTERS; i++)
		seq_printf(m, "%s %llu\n", fuse_bpf_counter_names[i],
			   sum.count[i]);
	for (i = 0; i < FUSE_BPF_STATS_OPS - 2; i++)
		if (sum.backed[i])
			seq_printf(m, "backed %u %llu\n", i, sum.backed[i]);
	if (sum.backed[i])
		seq_printf(m, "backed %u %llu\n", FUSE_BPF_FILEATTR_GET,
			   sum.backed[i]);
	if (sum.backed[i + 1])
		seq_printf(m, "backed %u %llu\n", FUSE_BPF_FILEATTR_SET,
			   sum.backed[i + 1]);
}

/**
 * fuse_backed_show_backing() - the connection's "backing" control file
 * @m: where to show it
 * @fc: the connection
 *
 * One line per backing filesystem: its index, then the device, type and
 * root of the mount the connection holds, as /proc/self/mountinfo would
 * show them to the reader.
 */
void fuse_backed_show_backing(struct seq_file *m, struct fuse_conn *fc)
{
	struct fuse_backed_conn *t = fc->bpf_conn;
	struct super_block *sb;
	struct path root;
	unsigned int i;

	mutex_lock(&t->lock);
	for (i = 0; i < t->count; i++) {
		if (!t->fs[i].mnt)
			continue;
		root.mnt = t->fs[i].mnt;
		root.dentry = root.mnt->mnt_root;
		sb = t->fs[i].sb;
		seq_printf(m, "%u %u:%u %s ", i, MAJOR(sb->s_dev),
			   MINOR(sb->s_dev), sb->s_type->name);
		seq_path(m, &root, " \t\n\\");
		seq_putc(m, '\n');
	}
	mutex_unlock(&t->lock);
}

/**
 * fuse_backed_parse_root_dir() - parse the root_dir=<fd> mount option
 * @fsc: the mount context
 * @param: the option
 * @fd: its file descriptor
 *
 * The directory backs the root of the mount. It is captured with the
 * mounter's credentials, which every backing operation then runs with.
 *
 * Return: 0 on success, a negative errno otherwise.
 */
static int fuse_backed_parse_root_dir(struct fs_context *fsc,
				      struct fs_parameter *param,
				      unsigned int fd)
{
	struct fuse_fs_context *ctx = fsc->fs_private;
	struct file *file;
	int err;

	err = fuse_backed_enable(fsc);
	if (err)
		return err;
	if (ctx->root_dir.dentry)
		return invalfc(fsc, "root_dir: specified more than once");

	file = fuse_backed_param_file(param, fd);
	if (!file) {
		errorfc(fsc, "root_dir: bad file descriptor");
		return -EBADF;
	}
	err = -EINVAL;
	if (!d_is_dir(file->f_path.dentry)) {
		errorfc(fsc, "root_dir: not a directory");
		goto out;
	}
	if (!fuse_backed_backing_ok(&file->f_path)) {
		errorfc(fsc, "root_dir: not on a filesystem that may back fuse-bpf");
		goto out;
	}
	err = -ELOOP;
	if (file->f_path.mnt->mnt_sb->s_stack_depth >=
	    FILESYSTEM_MAX_STACK_DEPTH) {
		errorfc(fsc, "root_dir: maximum filesystem stacking depth exceeded");
		goto out;
	}
	err = fuse_backed_capture_backing(ctx->bpf_conn, file, &ctx->root_dir,
					  &ctx->root_cred);
out:
	fput(file);
	return err;
}

/**
 * fuse_backed_parse_root_bpf() - parse the root_bpf=<fd> mount option
 * @fsc: the mount context
 * @fd: its file descriptor (fs_param_is_fd() gives FSCONFIG_SET_FD's too)
 *
 * The BPF_PROG_TYPE_FUSE program filters the operations of the root, and
 * of the entries that inherit it.
 *
 * Return: 0 on success, a negative errno otherwise.
 */
static int fuse_backed_parse_root_bpf(struct fs_context *fsc, unsigned int fd)
{
	struct fuse_fs_context *ctx = fsc->fs_private;
	struct bpf_prog *prog;
	int err;

	err = fuse_backed_enable(fsc);
	if (err)
		return err;
	if (ctx->root_bpf)
		return invalfc(fsc, "root_bpf: specified more than once");
	prog = bpf_prog_get_type_dev(fd, BPF_PROG_TYPE_FUSE, false);
	if (IS_ERR(prog))
		return invalfc(fsc, "root_bpf: not a BPF_PROG_TYPE_FUSE program");
	ctx->root_bpf = prog;
	return 0;
}

/**
 * fuse_backed_parse_enable() - parse the fuse_bpf mount option
 * @fsc: the mount context
 *
 * Enables fuse-bpf without backing the root: the server may then attach
 * backing objects to the entries of its LOOKUP replies.
 *
 * Return: 0 on success, a negative errno otherwise.
 */
static int fuse_backed_parse_enable(struct fs_context *fsc)
{
	return fuse_backed_enable(fsc);
}

/**
 * fuse_backed_parse_no_daemon() - parse the no_daemon mount option
 * @fsc: the mount context
 *
 * Return: 0 on success, a negative errno otherwise.
 */
static int fuse_backed_parse_no_daemon(struct fs_context *fsc)
{
	struct fuse_fs_context *ctx = fsc->fs_private;
	int err;

	err = fuse_backed_enable(fsc);
	if (!err)
		ctx->no_daemon = true;
	return err;
}

enum {
	OPT_ROOT_DIR,
	OPT_ROOT_BPF,
	OPT_NO_DAEMON,
	OPT_FUSE_BPF,
};

static const struct fs_parameter_spec fuse_backed_parameters[] = {
	fsparam_fd("root_dir", OPT_ROOT_DIR),
	fsparam_fd("root_bpf", OPT_ROOT_BPF),
	fsparam_flag("no_daemon", OPT_NO_DAEMON),
	fsparam_flag("fuse_bpf", OPT_FUSE_BPF),
	{}
};

/**
 * fuse_backed_parse_param() - parse a fuse-bpf mount option
 * @fsc: the mount context
 * @param: an option that plain FUSE does not know
 *
 * Return: 0 on success, -ENOPARAM if it is no fuse-bpf option either,
 * another negative errno otherwise.
 */
int fuse_backed_parse_param(struct fs_context *fsc, struct fs_parameter *param)
{
	struct fs_parse_result result;
	int opt;

	opt = fs_parse(fsc, fuse_backed_parameters, param, &result);
	if (opt < 0)
		return opt;

	switch (opt) {
	case OPT_ROOT_DIR:
		return fuse_backed_parse_root_dir(fsc, param, result.uint_32);
	case OPT_ROOT_BPF:
		return fuse_backed_parse_root_bpf(fsc, result.uint_32);
	case OPT_NO_DAEMON:
		return fuse_backed_parse_no_daemon(fsc);
	case OPT_FUSE_BPF:
		return fuse_backed_parse_enable(fsc);
	default:
		return -EINVAL;
	}
}

/**
 * fuse_backed_check_fsc() - check the fuse-bpf options against each other
 * @fsc: the mount context, all options parsed
 *
 * Return: 0 if they are consistent, a negative errno otherwise.
 */
int fuse_backed_check_fsc(struct fs_context *fsc)
{
	struct fuse_fs_context *ctx = fsc->fs_private;

	if (ctx->no_daemon && !ctx->root_dir.dentry)
		return invalfc(fsc, "no_daemon requires root_dir");
	if (ctx->no_daemon && ctx->fd_present)
		return invalfc(fsc, "no_daemon and fd are mutually exclusive");
	if (ctx->root_dir.dentry && !S_ISDIR(ctx->rootmode))
		return invalfc(fsc, "root_dir requires a directory rootmode");
	/* Programs filter the operations of backed inodes only */
	if (ctx->root_bpf && !ctx->root_dir.dentry)
		return invalfc(fsc, "root_bpf requires root_dir");
	return 0;
}

void fuse_backed_free_fsc(struct fuse_fs_context *ctx)
{
	path_put(&ctx->root_dir);
	if (ctx->root_cred)
		put_cred(ctx->root_cred);
	if (ctx->root_bpf)
		bpf_prog_put(ctx->root_bpf);
	fuse_backed_conn_put(ctx->bpf_conn);
	free_percpu(ctx->bpf_stats);
}

/*
 * Without a daemon, a request that would go to it fails at once with one
 * errno, whatever the operation: nothing waits for an answer.
 */
static void fuse_backed_no_daemon_send_req(struct fuse_iqueue *fiq,
					   struct fuse_req *req)
{
	req->out.h.error = -EOPNOTSUPP;
	clear_bit(FR_PENDING, &req->flags);
	fuse_request_end(req);
}

static void fuse_backed_no_daemon_send_forget(struct fuse_iqueue *fiq,
					      struct fuse_forget_link *link)
{
	kfree(link);
}

static void fuse_backed_no_daemon_send_interrupt(struct fuse_iqueue *fiq,
						 struct fuse_req *req)
{
}

const struct fuse_iqueue_ops fuse_backed_no_daemon_fiq_ops = {
	.send_forget	= fuse_backed_no_daemon_send_forget,
	.send_interrupt	= fuse_backed_no_daemon_send_interrupt,
	.send_req	= fuse_backed_no_daemon_send_req,
};

/**
 * fuse_backed_may_send() - may this request go to the server?
 * @fc: the connection
 * @args: the request
 *
 * Inodes fuse-bpf made from backing inodes have node id 0, which no
 * server could resolve: one is made known to the server before a request
 * names it (fuse_backed_make_known()), and a request that would still
 * carry node id 0 fails instead. Without a daemon, every request fails at
 * once: nothing would answer it.
 *
 * Return: false if the request must not be sent.
 */
bool fuse_backed_may_send(struct fuse_conn *fc, struct fuse_args *args)
{
	if (!fuse_conn_no_daemon(fc) &&
	    (args->nodeid || args->opcode == FUSE_INIT ||
	     args->opcode == FUSE_DESTROY))
		return true;
	fuse_bpf_count(fc, FUSE_BPF_E_NO_SERVER);
	return false;
}

/**
 * fuse_backed_fill_super() - back the root of a new superblock
 * @sb: the superblock
 * @root: its root inode
 * @ctx: the mount context
 */
void fuse_backed_fill_super(struct super_block *sb, struct inode *root,
			    struct fuse_fs_context *ctx)
{
	struct fuse_conn *fc = get_fuse_conn_super(sb);
	struct fuse_inode *fi = get_fuse_inode(root);

	fc->bpf_enabled = ctx->bpf_enabled;
	fc->no_daemon = ctx->no_daemon;
	fc->bpf_conn = ctx->bpf_conn;
	ctx->bpf_conn = NULL;
	fc->bpf_stats = ctx->bpf_stats;
	ctx->bpf_stats = NULL;
	/* Stacked over the backing filesystems, at least one level */
	sb->s_stack_depth = 1;
	if (ctx->root_dir.dentry) {
		/* The first filesystem: it cannot fail */
		fuse_backed_fs_add(fc, &ctx->root_dir);
		fi->backing_fs = 0;
		fi->backing_path = ctx->root_dir;
		path_get(&fi->backing_path);
		fi->backing_cred = get_cred(ctx->root_cred);
		if (ctx->root_bpf) {
			bpf_prog_inc(ctx->root_bpf);
			RCU_INIT_POINTER(fi->bpf, ctx->root_bpf);
		}
		sb->s_stack_depth += ctx->root_dir.mnt->mnt_sb->s_stack_depth;
		fuse_backed_acl_dont_cache(root);
		fuse_backed_lockdep_annotate(root);
		fuse_backed_copyattr(root);
	}
	fuse_backed_lockdep_annotate_sb(sb);
	fc->bpf_stack_depth = sb->s_stack_depth;
}

/**
 * fuse_backed_start_no_daemon() - bring up a connection no daemon serves
 * @fc: the connection
 *
 * It needs no FUSE_INIT: set it up as an answer from a daemon would.
 */
void fuse_backed_start_no_daemon(struct fuse_conn *fc)
{
	fc->minor = FUSE_KERNEL_MINOR_VERSION;
	fc->max_write = FUSE_DEFAULT_MAX_PAGES_PER_REQ * PAGE_SIZE;
	/* Locks are local: nobody else could take them */
	fc->no_lock = 1;
	fc->no_flock = 1;
	fc->conn_init = 1;
	fuse_set_initialized(fc);
	wake_up_all(&fc->blocked_waitq);
}

void fuse_backed_show_options(struct seq_file *m, struct fuse_conn *fc)
{
	if (fc->bpf_enabled)
		seq_puts(m, ",fuse_bpf");
	if (fc->no_daemon)
		seq_puts(m, ",no_daemon");
}
