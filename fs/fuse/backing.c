// SPDX-License-Identifier: GPL-2.0
/*
 * FUSE-BPF: FUSE inodes backed by another filesystem, with BPF filters.
 *
 * Copyright (c) 2026 The fuse-bpf authors
 */

#include "fuse_i.h"

#include <linux/backing-file.h>
#include <linux/bpf.h>
#include <linux/bpf_fuse.h>
#include <linux/cred.h>
#include <linux/exportfs.h>
#include <linux/file.h>
#include <linux/fileattr.h>
#include <linux/filter.h>
#include <linux/fs_parser.h>
#include <linux/kobject.h>
#include <linux/lockdep.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/poll.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/seq_file.h>
#include <linux/statfs.h>
#include <linux/sysfs.h>
#include <linux/xattr.h>

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
 * fuse_bpf_sysfs_init() - create /sys/fs/fuse/features
 * @fuse_kobj: the kobject of /sys/fs/fuse
 *
 * Return: 0 on success, a negative errno otherwise.
 */
int fuse_bpf_sysfs_init(struct kobject *fuse_kobj)
{
	return sysfs_create_group(fuse_kobj, &fuse_features_group);
}

/**
 * fuse_bpf_sysfs_cleanup() - remove /sys/fs/fuse/features
 * @fuse_kobj: the kobject of /sys/fs/fuse
 */
void fuse_bpf_sysfs_cleanup(struct kobject *fuse_kobj)
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
#define FUSE_BPF_FS_BITS	6
#define FUSE_BPF_MAX_FS		((1 << FUSE_BPF_FS_BITS) - 1)
#define FUSE_BPF_INO_SHIFT	(64 - FUSE_BPF_FS_BITS)

struct fuse_bpf_conn {
	/* Serialises adding, the use of the mounts, and the creds below */
	struct mutex lock;
	/* Entries below it are set and never change but for @mnt */
	unsigned int count;
	struct {
		struct super_block *sb;
		/* NULL once the connection is unmounted */
		struct vfsmount *mnt;
	} fs[FUSE_BPF_MAX_FS];
	/* The last credentials captured, and the task's they came from */
	const struct cred *cred;
	const struct cred *cred_src;
};

/*
 * fuse-bpf is enabled per mount by the mounter. Backing objects are then
 * used with the mounter's credentials, so the options need the same
 * privilege as 6.12's passthrough backing files.
 */
static int fuse_bpf_enable(struct fs_context *fsc)
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
	ctx->bpf_enabled = true;
	return 0;
}

/* The file of a file descriptor option, resolved in the mounter's context */
static struct file *fuse_bpf_param_file(struct fs_parameter *param,
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
static bool fuse_bpf_backing_ok(const struct path *path)
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
 * fuse_bpf_inode_eq()).
 */
static int fuse_bpf_capture_backing(struct fuse_bpf_conn *bc,
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

/* Index of @sb in the table, FUSE_BPF_MAX_FS if absent; lockless */
static unsigned int fuse_bpf_fs_index(struct fuse_conn *fc,
				      struct super_block *sb)
{
	struct fuse_bpf_conn *t = fc->bpf_conn;
	unsigned int i, n;

	if (!t)
		return FUSE_BPF_MAX_FS;
	/* Pairs with fuse_bpf_fs_add(): the entries below count are set */
	n = smp_load_acquire(&t->count);
	for (i = 0; i < n; i++) {
		if (t->fs[i].sb == sb)
			return i;
	}
	return FUSE_BPF_MAX_FS;
}

/**
 * fuse_bpf_fs_add() - note the filesystem of a new backing
 * @fc: the connection
 * @path: the backing object
 *
 * Return: 0, or -EMFILE if the connection already takes backings from
 * FUSE_BPF_MAX_FS filesystems.
 */
static int fuse_bpf_fs_add(struct fuse_conn *fc, const struct path *path)
{
	struct fuse_bpf_conn *t = fc->bpf_conn;
	struct super_block *sb = path->mnt->mnt_sb;
	int err = 0;

	if (fuse_bpf_fs_index(fc, sb) != FUSE_BPF_MAX_FS)
		return 0;
	mutex_lock(&t->lock);
	if (fuse_bpf_fs_index(fc, sb) != FUSE_BPF_MAX_FS)
		goto out;
	err = -EMFILE;
	if (t->count == FUSE_BPF_MAX_FS)
		goto out;
	err = 0;
	t->fs[t->count].sb = sb;
	t->fs[t->count].mnt = mntget(path->mnt);
	/* Publish the entry to lockless fuse_bpf_fs_index() */
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
static bool fuse_bpf_map_ino(unsigned int idx, u64 *ino)
{
	if (idx >= FUSE_BPF_MAX_FS || *ino >> FUSE_BPF_INO_SHIFT)
		return false;
	*ino |= (u64)idx << FUSE_BPF_INO_SHIFT;
	return true;
}

/* A file handle type of its own: fuse_fh_to_dentry() refuses it */
#define FUSE_BPF_FILEID_INO64_GEN	0xfb

/**
 * fuse_bpf_encode_fh() - file handle of an inode the server does not know
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
bool fuse_bpf_encode_fh(struct inode *inode, u32 *fh, int *max_len,
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
	*type = FUSE_BPF_FILEID_INO64_GEN;
	return true;
}

/**
 * fuse_bpf_sync_fs() - sync the filesystems of a connection's backings
 * @fc: the connection
 *
 * Return: 0, or the first error of a backing filesystem.
 */
int fuse_bpf_sync_fs(struct fuse_conn *fc)
{
	struct fuse_bpf_conn *t = fc->bpf_conn;
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
void fuse_bpf_conn_destroy(struct fuse_conn *fc)
{
	struct fuse_bpf_conn *t = fc->bpf_conn;
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

static void fuse_bpf_conn_put(struct fuse_bpf_conn *bc)
{
	if (!bc)
		return;
	if (bc->cred) {
		put_cred(bc->cred);
		put_cred(bc->cred_src);
	}
	kfree(bc);
}

void fuse_bpf_conn_free(struct fuse_conn *fc)
{
	fuse_bpf_conn_destroy(fc);
	fuse_bpf_conn_put(fc->bpf_conn);
	fc->bpf_conn = NULL;
}

/* Does the connection have a "backing" control file? */
bool fuse_bpf_ctl_backing(struct fuse_conn *fc)
{
	return fc->bpf_conn;
}

/**
 * fuse_bpf_show_backing() - the connection's "backing" control file
 * @m: where to show it
 * @fc: the connection
 *
 * One line per backing filesystem: its index, then the device, type and
 * root of the mount the connection holds, as /proc/self/mountinfo would
 * show them to the reader.
 */
void fuse_bpf_show_backing(struct seq_file *m, struct fuse_conn *fc)
{
	struct fuse_bpf_conn *t = fc->bpf_conn;
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
 * fuse_bpf_parse_root_dir() - parse the root_dir=<fd> mount option
 * @fsc: the mount context
 * @param: the option
 * @fd: its file descriptor
 *
 * The directory backs the root of the mount. It is captured with the
 * mounter's credentials, which every backing operation then runs with.
 *
 * Return: 0 on success, a negative errno otherwise.
 */
int fuse_bpf_parse_root_dir(struct fs_context *fsc,
			    struct fs_parameter *param, unsigned int fd)
{
	struct fuse_fs_context *ctx = fsc->fs_private;
	struct file *file;
	int err;

	err = fuse_bpf_enable(fsc);
	if (err)
		return err;
	if (ctx->root_dir.dentry)
		return invalfc(fsc, "root_dir: specified more than once");

	file = fuse_bpf_param_file(param, fd);
	if (!file) {
		errorfc(fsc, "root_dir: bad file descriptor");
		return -EBADF;
	}
	err = -EINVAL;
	if (!d_is_dir(file->f_path.dentry)) {
		errorfc(fsc, "root_dir: not a directory");
		goto out;
	}
	if (!fuse_bpf_backing_ok(&file->f_path)) {
		errorfc(fsc, "root_dir: not on a filesystem that may back fuse-bpf");
		goto out;
	}
	err = -ELOOP;
	if (file->f_path.mnt->mnt_sb->s_stack_depth >=
	    FILESYSTEM_MAX_STACK_DEPTH) {
		errorfc(fsc, "root_dir: maximum filesystem stacking depth exceeded");
		goto out;
	}
	err = fuse_bpf_capture_backing(ctx->bpf_conn, file, &ctx->root_dir,
				       &ctx->root_cred);
out:
	fput(file);
	return err;
}

/**
 * fuse_bpf_parse_root_bpf() - parse the root_bpf=<fd> mount option
 * @fsc: the mount context
 * @fd: its file descriptor (fs_param_is_fd() gives FSCONFIG_SET_FD's too)
 *
 * The BPF_PROG_TYPE_FUSE program filters the operations of the root, and
 * of the entries that inherit it.
 *
 * Return: 0 on success, a negative errno otherwise.
 */
int fuse_bpf_parse_root_bpf(struct fs_context *fsc, unsigned int fd)
{
	struct fuse_fs_context *ctx = fsc->fs_private;
	struct bpf_prog *prog;
	int err;

	err = fuse_bpf_enable(fsc);
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
 * fuse_bpf_parse_enable() - parse the fuse_bpf mount option
 * @fsc: the mount context
 *
 * Enables fuse-bpf without backing the root: the server may then attach
 * backing objects to the entries of its LOOKUP replies.
 *
 * Return: 0 on success, a negative errno otherwise.
 */
int fuse_bpf_parse_enable(struct fs_context *fsc)
{
	return fuse_bpf_enable(fsc);
}

/**
 * fuse_bpf_parse_no_daemon() - parse the no_daemon mount option
 * @fsc: the mount context
 *
 * Return: 0 on success, a negative errno otherwise.
 */
int fuse_bpf_parse_no_daemon(struct fs_context *fsc)
{
	struct fuse_fs_context *ctx = fsc->fs_private;
	int err;

	err = fuse_bpf_enable(fsc);
	if (!err)
		ctx->no_daemon = true;
	return err;
}

/**
 * fuse_bpf_check_fsc() - check the fuse-bpf options against each other
 * @fsc: the mount context, all options parsed
 *
 * Return: 0 if they are consistent, a negative errno otherwise.
 */
int fuse_bpf_check_fsc(struct fs_context *fsc)
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

void fuse_bpf_free_fsc(struct fuse_fs_context *ctx)
{
	path_put(&ctx->root_dir);
	if (ctx->root_cred)
		put_cred(ctx->root_cred);
	if (ctx->root_bpf)
		bpf_prog_put(ctx->root_bpf);
	fuse_bpf_conn_put(ctx->bpf_conn);
}

bool fuse_bpf_fsc_no_daemon(struct fuse_fs_context *ctx)
{
	return ctx->no_daemon;
}

/*
 * Without a daemon, a request that would go to it fails at once with one
 * errno, whatever the operation: nothing waits for an answer.
 */
static void fuse_bpf_no_daemon_send_req(struct fuse_iqueue *fiq,
					struct fuse_req *req)
{
	req->out.h.error = -EOPNOTSUPP;
	clear_bit(FR_PENDING, &req->flags);
	fuse_request_end(req);
}

static void fuse_bpf_no_daemon_send_forget(struct fuse_iqueue *fiq,
					   struct fuse_forget_link *link)
{
	kfree(link);
}

static void fuse_bpf_no_daemon_send_interrupt(struct fuse_iqueue *fiq,
					      struct fuse_req *req)
{
}

static const struct fuse_iqueue_ops fuse_bpf_no_daemon_fiq_ops = {
	.send_forget	= fuse_bpf_no_daemon_send_forget,
	.send_interrupt	= fuse_bpf_no_daemon_send_interrupt,
	.send_req	= fuse_bpf_no_daemon_send_req,
};

const struct fuse_iqueue_ops *fuse_bpf_fiq_ops(struct fuse_fs_context *ctx)
{
	return ctx->no_daemon ? &fuse_bpf_no_daemon_fiq_ops : NULL;
}

/* Inode flags of the backing inode that the VFS enforces, as ovl_copyflags */
#define FUSE_BPF_COPY_FLAGS (S_SYNC | S_NOATIME | S_APPEND | S_IMMUTABLE)

/**
 * fuse_bpf_copyattr() - refresh a backed inode from its backing inode
 * @inode: the FUSE inode
 *
 * The backing inode's attributes are authoritative: they are copied to the
 * FUSE inode after every operation that may have changed them, and before
 * every owner, mode or privilege decision, since the backing inode may have
 * changed behind the FUSE inode's back. Safe in RCU walk mode.
 */
void fuse_bpf_copyattr(struct inode *inode)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	/* NULL once evicted: an RCU walk may still see the inode */
	struct dentry *bentry = READ_ONCE(fi->backing_path.dentry);
	struct mnt_idmap *idmap = mnt_idmap(fi->backing_path.mnt);
	struct inode *binode = bentry ? d_inode_rcu(bentry) : NULL;

	if (!binode)
		return;
	spin_lock(&fi->lock);
	inode->i_uid = vfsuid_into_kuid(i_uid_into_vfsuid(idmap, binode));
	inode->i_gid = vfsgid_into_kgid(i_gid_into_vfsgid(idmap, binode));
	inode->i_mode = binode->i_mode;
	inode_set_atime_to_ts(inode, inode_get_atime(binode));
	inode_set_mtime_to_ts(inode, inode_get_mtime(binode));
	inode_set_ctime_to_ts(inode, inode_get_ctime(binode));
	set_nlink(inode, binode->i_nlink);
	i_size_write(inode, i_size_read(binode));
	inode->i_blocks = binode->i_blocks;
	spin_unlock(&fi->lock);
	/* The VFS checks these on the FUSE inode (may_open(), truncate) */
	inode_set_flags(inode, binode->i_flags & FUSE_BPF_COPY_FLAGS,
			FUSE_BPF_COPY_FLAGS);
}

/*
 * Operations on a backed inode take the backing inode's lock inside the
 * FUSE inode's. With fuse-bpf stacked on fuse-bpf both are FUSE inodes:
 * give the inodes of each stacking depth their own lock class, as
 * overlayfs does.
 */
static void fuse_bpf_lockdep_annotate(struct inode *inode)
{
#ifdef CONFIG_LOCKDEP
	static struct lock_class_key keys[FILESYSTEM_MAX_STACK_DEPTH];
	static struct lock_class_key dir_keys[FILESYSTEM_MAX_STACK_DEPTH];
	int depth = inode->i_sb->s_stack_depth - 1;

	if (WARN_ON_ONCE(depth < 0 || depth >= FILESYSTEM_MAX_STACK_DEPTH))
		depth = 0;
	if (S_ISDIR(inode->i_mode))
		lockdep_set_class(&inode->i_rwsem, &dir_keys[depth]);
	else
		lockdep_set_class(&inode->i_rwsem, &keys[depth]);
#endif
}

/*
 * Likewise, writing to a backed file takes the backing superblock's freeze
 * protection inside the FUSE superblock's, and a rename between backed
 * directories the backing superblock's rename mutex inside the FUSE
 * superblock's: give the superblocks of each stacking depth their own
 * lock classes for them.
 */
static void fuse_bpf_lockdep_annotate_sb(struct super_block *sb)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	static struct lock_class_key
		keys[FILESYSTEM_MAX_STACK_DEPTH][SB_FREEZE_LEVELS];
	static struct lock_class_key rename_keys[FILESYSTEM_MAX_STACK_DEPTH];
	int depth = sb->s_stack_depth - 1;
	int i;

	if (WARN_ON_ONCE(depth < 0 || depth >= FILESYSTEM_MAX_STACK_DEPTH))
		depth = 0;
	for (i = 0; i < SB_FREEZE_LEVELS; i++)
		lockdep_init_map(&sb->s_writers.rw_sem[i].dep_map,
				 "sb_writers_fuse_bpf", &keys[depth][i], 0);
	lockdep_set_class(&sb->s_vfs_rename_mutex, &rename_keys[depth]);
#endif
}

/* The backing inode's ACLs are used: see fuse_bpf_get_inode_acl() */
static void fuse_bpf_acl_dont_cache(struct inode *inode)
{
	inode->i_acl = ACL_DONT_CACHE;
	inode->i_default_acl = ACL_DONT_CACHE;
}

/**
 * fuse_bpf_fill_super() - back the root of a new superblock
 * @sb: the superblock
 * @root: its root inode
 * @ctx: the mount context
 */
void fuse_bpf_fill_super(struct super_block *sb, struct inode *root,
			 struct fuse_fs_context *ctx)
{
	struct fuse_conn *fc = get_fuse_conn_super(sb);
	struct fuse_inode *fi = get_fuse_inode(root);

	fc->bpf_enabled = ctx->bpf_enabled;
	fc->no_daemon = ctx->no_daemon;
	if (!ctx->bpf_enabled)
		return;
	fc->bpf_conn = ctx->bpf_conn;
	ctx->bpf_conn = NULL;
	/* Stacked over the backing filesystems, at least one level */
	sb->s_stack_depth = 1;
	if (ctx->root_dir.dentry) {
		/* The first filesystem: it cannot fail */
		fuse_bpf_fs_add(fc, &ctx->root_dir);
		fi->backing_fs = 0;
		fi->backing_path = ctx->root_dir;
		path_get(&fi->backing_path);
		fi->backing_cred = get_cred(ctx->root_cred);
		if (ctx->root_bpf) {
			bpf_prog_inc(ctx->root_bpf);
			RCU_INIT_POINTER(fi->bpf, ctx->root_bpf);
		}
		sb->s_stack_depth += ctx->root_dir.mnt->mnt_sb->s_stack_depth;
		fuse_bpf_acl_dont_cache(root);
		fuse_bpf_lockdep_annotate(root);
		fuse_bpf_copyattr(root);
	}
	fuse_bpf_lockdep_annotate_sb(sb);
	fc->bpf_stack_depth = sb->s_stack_depth;
}

/**
 * fuse_bpf_start_no_daemon() - bring up a connection no daemon serves
 * @fc: the connection
 *
 * Return: true if @fc has no daemon (and needs no FUSE_INIT), false if
 * FUSE_INIT must be sent to its daemon.
 */
bool fuse_bpf_start_no_daemon(struct fuse_conn *fc)
{
	if (!fc->no_daemon)
		return false;
	fc->minor = FUSE_KERNEL_MINOR_VERSION;
	fc->max_write = FUSE_DEFAULT_MAX_PAGES_PER_REQ * PAGE_SIZE;
	/* Locks are local: nobody else could take them */
	fc->no_lock = 1;
	fc->no_flock = 1;
	fc->conn_init = 1;
	fuse_set_initialized(fc);
	wake_up_all(&fc->blocked_waitq);
	return true;
}

void fuse_bpf_show_options(struct seq_file *m, struct fuse_conn *fc)
{
	if (fc->bpf_enabled)
		seq_puts(m, ",fuse_bpf");
	if (fc->no_daemon)
		seq_puts(m, ",no_daemon");
}

/*
 * Attach @prog (a reference the caller gives) to the inode. The program
 * it replaces may still run: it is freed after an RCU grace period.
 */
static void fuse_bpf_set_prog(struct fuse_inode *fi, struct bpf_prog *prog)
{
	struct bpf_prog *old;

	old = unrcu_pointer(xchg(&fi->bpf, RCU_INITIALIZER(prog)));
	if (old)
		bpf_prog_put(old);
}

void fuse_bpf_evict_inode(struct fuse_inode *fi)
{
	struct path path = fi->backing_path;

	if (!path.dentry)
		return;
	/*
	 * Inode hash lookups and RCU path walks still read it: clear it
	 * first, the dentry is freed after they are done.
	 */
	WRITE_ONCE(fi->backing_path.dentry, NULL);
	path_put(&path);
	fuse_bpf_set_prog(fi, NULL);
}

/**
 * fuse_bpf_free_inode() - free what RCU walks may still use of an inode
 * @fi: the inode, an RCU grace period after its eviction
 *
 * A walk in RCU mode may see an evicted inode and run an operation under
 * its backing credentials: they are put only now.
 */
void fuse_bpf_free_inode(struct fuse_inode *fi)
{
	if (fi->backing_cred)
		put_cred(fi->backing_cred);
}

/*
 * One operation on a backing object. All the flow common to the
 * operations lives in fuse_bpf_run(); an operation only says how it runs
 * on the backing object and what it then does to the FUSE side.
 */
struct fuse_bpf_op {
	/* Describe the arguments to the program, as in the FUSE request */
	void (*init_args)(struct bpf_fuse_args *fa, void *args);
	/* The operation on the backing object, under the backing creds */
	int (*backing)(struct path *backing_path, void *args);
	/* Bring the FUSE side up to date after a successful backing call */
	void (*finalize)(struct inode *inode, void *args);
	/* It modifies the backing filesystem: take mnt_want_write() */
	bool write;
};

/*
 * Run the program of @inode on @fa. Without one, the operation just runs
 * on the backing object. Returns a BPF_FUSE_* action or a negative errno.
 */
static int fuse_bpf_filter(struct inode *inode, struct bpf_fuse_args *fa)
{
	struct bpf_prog *prog;
	int ret = BPF_FUSE_CONTINUE;

	rcu_read_lock();
	prog = rcu_dereference(get_fuse_inode(inode)->bpf);
	if (prog)
		ret = bpf_prog_run_pin_on_cpu(prog, fa);
	rcu_read_unlock();

	/* Errnos from 512 on are the kernel's own, not for system calls */
	if (ret < 0 && ret > -ERESTARTSYS)
		return ret;
	if (ret < BPF_FUSE_CONTINUE || ret > BPF_FUSE_USER_POSTFILTER) {
		pr_warn_ratelimited("fuse-bpf: program returned %d\n", ret);
		return -EIO;
	}
	return ret;
}

/**
 * fuse_bpf_run() - the flow of an operation on a backed inode
 * @op: the operation
 * @opcode: its FUSE opcode, as the program sees it
 * @inode: the backed inode whose program filters it
 * @args: its arguments, as @op knows them
 * @err: set to its result, if it ran here
 *
 * The program of @inode sees the operation first: it may fail it, run it
 * on the backing object, and see its result to change the error, or send
 * it to the server as in plain FUSE. Daemon pre- and post-filters are not
 * supported yet: a program asking for them fails the operation with
 * EOPNOTSUPP.
 *
 * Return: false if the program sent the operation to the server, true if
 * it ran here and @err holds its result.
 */
static bool fuse_bpf_run(const struct fuse_bpf_op *op, u32 opcode,
			 struct inode *inode, void *args, int *err)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	struct bpf_fuse_args fa = {
		.nodeid = fi->nodeid,
		.opcode = opcode | FUSE_PREFILTER,
	};
	/* Only a walk in RCU mode can see an evicted inode: NULL then */
	struct path bpath = {
		.mnt = fi->backing_path.mnt,
		.dentry = READ_ONCE(fi->backing_path.dentry),
	};
	const struct cred *old_cred;
	int action = BPF_FUSE_CONTINUE;
	int ret;

	if (!bpath.dentry) {
		*err = -ECHILD;
		return true;
	}

	if (rcu_access_pointer(fi->bpf)) {
		if (op->init_args)
			op->init_args(&fa, args);
		action = fuse_bpf_filter(inode, &fa);
		if (action == BPF_FUSE_USER)
			return false;
		*err = action;
		if (action < 0)
			return true;
		*err = -EOPNOTSUPP;
		if (action == BPF_FUSE_USER_PREFILTER ||
		    action == BPF_FUSE_USER_POSTFILTER)
			return true;
	}

	if (op->write) {
		*err = mnt_want_write(bpath.mnt);
		if (*err)
			return true;
	}
	old_cred = override_creds(fi->backing_cred);
	ret = op->backing(&bpath, args);
	revert_creds(old_cred);
	if (op->write)
		mnt_drop_write(bpath.mnt);
	*err = ret;

	/* Not the result of a walk in RCU mode, which is tried again */
	if (action == BPF_FUSE_POSTFILTER && *err != -ECHILD) {
		fa.opcode = opcode | FUSE_POSTFILTER;
		fa.error_in = *err;
		action = fuse_bpf_filter(inode, &fa);
		/* The program may fail the operation, not make it succeed */
		if (action < 0)
			*err = action;
		else if (action == BPF_FUSE_USER_POSTFILTER)
			*err = -EOPNOTSUPP;
		else if (action != BPF_FUSE_CONTINUE)
			*err = -EIO;
	}
	/*
	 * What the backing call did stands, even if the program fails the
	 * operation: the FUSE side must show it (a new entry's dentry must
	 * be valid as long as its backing entry is, see fuse_bpf_lookup()).
	 */
	if (!ret && op->finalize)
		op->finalize(inode, args);
	return true;
}

struct fuse_bpf_getattr_args {
	struct kstat *stat;
	u32 request_mask;
	unsigned int flags;
};

static int fuse_bpf_getattr_backing(struct path *backing_path, void *args)
{
	struct fuse_bpf_getattr_args *ga = args;

	/* As overlayfs: a caller that skipped security checks skips them here */
	if (ga->flags & AT_GETATTR_NOSEC)
		return vfs_getattr_nosec(backing_path, ga->stat,
					 ga->request_mask, ga->flags);
	return vfs_getattr(backing_path, ga->stat, ga->request_mask,
			   ga->flags);
}

static void fuse_bpf_getattr_finalize(struct inode *inode, void *args)
{
	struct fuse_bpf_getattr_args *ga = args;
	u64 ino = ga->stat->ino;

	/* Else the backing st_dev and st_ino, see fuse_bpf_map_ino() */
	if (fuse_bpf_map_ino(get_fuse_inode(inode)->backing_fs, &ino)) {
		ga->stat->dev = inode->i_sb->s_dev;
		ga->stat->ino = ino;
	}
	fuse_bpf_copyattr(inode);
}

static const struct fuse_bpf_op fuse_bpf_getattr_op = {
	.backing = fuse_bpf_getattr_backing,
	.finalize = fuse_bpf_getattr_finalize,
};

/**
 * fuse_bpf_getattr() - getattr/statx of a backed inode
 * @inode: the FUSE inode
 * @stat: the attributes to fill in
 * @request_mask: STATX_* wanted
 * @flags: AT_STATX_* sync flags
 * @err: set to the result if the inode is backed
 *
 * Return: true if @inode is backed and the operation ran on its backing
 * inode, false if it goes to the daemon as usual.
 */
bool fuse_bpf_getattr(struct inode *inode, struct kstat *stat,
		      u32 request_mask, unsigned int flags, int *err)
{
	struct fuse_bpf_getattr_args args = {
		.stat = stat,
		.request_mask = request_mask,
		.flags = flags,
	};

	if (!fuse_inode_backed(inode))
		return false;
	return fuse_bpf_run(&fuse_bpf_getattr_op, FUSE_GETATTR,
			    inode, &args, err);
}

static int fuse_bpf_statfs_backing(struct path *backing_path, void *args)
{
	return vfs_statfs(backing_path, args);
}

static void fuse_bpf_statfs_finalize(struct inode *inode, void *args)
{
	struct kstatfs *buf = args;

	buf->f_type = FUSE_SUPER_MAGIC;
}

static const struct fuse_bpf_op fuse_bpf_statfs_op = {
	.backing = fuse_bpf_statfs_backing,
	.finalize = fuse_bpf_statfs_finalize,
};

/**
 * fuse_bpf_statfs() - statfs of a backed inode's filesystem
 * @dentry: the FUSE dentry
 * @buf: the statistics to fill in
 * @err: set to the result if the inode is backed
 *
 * Return: true if the operation ran on the backing filesystem.
 */
bool fuse_bpf_statfs(struct dentry *dentry, struct kstatfs *buf, int *err)
{
	if (!fuse_inode_backed(d_inode(dentry)))
		return false;
	return fuse_bpf_run(&fuse_bpf_statfs_op, FUSE_STATFS,
			    d_inode(dentry), buf, err);
}

struct fuse_bpf_permission_args {
	int mask;
};

static int fuse_bpf_permission_backing(struct path *backing_path, void *args)
{
	struct fuse_bpf_permission_args *pa = args;
	struct inode *binode = d_inode_rcu(backing_path->dentry);

	/* Put by an eviction racing with an RCU walk */
	if (!binode)
		return -ECHILD;
	return inode_permission(mnt_idmap(backing_path->mnt), binode,
				pa->mask);
}

static const struct fuse_bpf_op fuse_bpf_permission_op = {
	.backing = fuse_bpf_permission_backing,
};

/*
 * The backing mount's noexec and nodev hold through the FUSE mount too:
 * exec (execve(), access(X_OK)) of a regular file, and open of a device
 * node, fail as they would on the backing mount, where may_open() and
 * do_faccessat() check them on the path.
 */
/*
 * Would executing the backing file @bpath change privileges: set-id bits,
 * or file capabilities?
 */
static int fuse_bpf_grants_privs(const struct path *bpath, int mask)
{
	struct inode *binode = d_inode(bpath->dentry);

	if (is_sxid(READ_ONCE(binode->i_mode)))
		return 1;
	if (IS_NOSEC(binode))
		return 0;
	if (mask & MAY_NOT_BLOCK)
		return -ECHILD;
	return __vfs_getxattr(bpath->dentry, binode, XATTR_NAME_CAPS,
			      NULL, 0) > 0;
}

static int fuse_bpf_mount_allows(struct inode *inode, int mask)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	struct path bpath = {
		.mnt = fi->backing_path.mnt,
		.dentry = READ_ONCE(fi->backing_path.dentry),
	};
	int ret;

	/* Evicted under a walk in RCU mode */
	if (!bpath.dentry)
		return -ECHILD;
	if ((mask & MAY_EXEC) && S_ISREG(inode->i_mode) &&
	    path_noexec(&bpath))
		return -EACCES;
	/*
	 * execve() checks only the FUSE mount for nosuid: it cannot run a
	 * file of a nosuid backing mount without the privileges it grants,
	 * so it does not run it.
	 */
	if ((mask & (MAY_EXEC | MAY_OPEN)) == (MAY_EXEC | MAY_OPEN) &&
	    S_ISREG(inode->i_mode) && (bpath.mnt->mnt_flags & MNT_NOSUID)) {
		ret = fuse_bpf_grants_privs(&bpath, mask);
		if (ret)
			return ret < 0 ? ret : -EACCES;
	}
	if ((mask & MAY_OPEN) &&
	    (S_ISCHR(inode->i_mode) || S_ISBLK(inode->i_mode)) &&
	    !may_open_dev(&bpath))
		return -EACCES;
	return 0;
}

/**
 * fuse_bpf_permission() - permission check on a backed inode
 * @idmap: idmap of the FUSE mount
 * @inode: the FUSE inode
 * @mask: MAY_* to check; may include MAY_NOT_BLOCK
 * @err: set to the result if the inode is backed
 *
 * As overlayfs checks its two layers: the caller against the FUSE inode's
 * fresh (backing) attributes and ACLs, then the backing credentials
 * against the backing inode. No server sees a backed operation, so the
 * caller is checked whether or not the mount has default_permissions. The
 * program runs only once the caller passed: it can narrow access, never
 * widen it.
 *
 * Return: true if the inode is backed and @err holds the answer.
 */
bool fuse_bpf_permission(struct mnt_idmap *idmap, struct inode *inode,
			 int mask, int *err)
{
	struct fuse_bpf_permission_args args = { .mask = mask };

	if (!fuse_inode_backed(inode))
		return false;
	fuse_bpf_copyattr(inode);
	*err = generic_permission(idmap, inode, mask);
	if (!*err)
		*err = fuse_bpf_mount_allows(inode, mask);
	if (*err)
		return true;
	return fuse_bpf_run(&fuse_bpf_permission_op, FUSE_ACCESS,
			    inode, &args, err);
}

struct fuse_bpf_iget_key {
	const struct path *path;
	const struct cred *cred;
	struct bpf_prog *prog;
};

/*
 * A backed inode is one (backing inode, credentials, program): none of
 * them changes once it is made, so that no reply can take the mounter's
 * program off an inode or lend it the mounter's credentials. Credentials
 * are those captured from one task's (fuse_bpf_capture_backing()). Also
 * called on inodes being evicted, see fuse_bpf_evict_inode().
 */
static int fuse_bpf_inode_eq(struct inode *inode, void *data)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	struct fuse_bpf_iget_key *key = data;
	struct dentry *bentry;

	bentry = READ_ONCE(fi->backing_path.dentry);
	return bentry && d_inode(bentry) == d_inode(key->path->dentry) &&
	       rcu_access_pointer(fi->bpf) == key->prog &&
	       fi->backing_cred == key->cred;
}

/* Runs under inode_hash_lock: takes references only */
static int fuse_bpf_inode_set(struct inode *inode, void *data)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	struct fuse_bpf_iget_key *key = data;

	fi->backing_path = *key->path;
	path_get(&fi->backing_path);
	fi->backing_cred = get_cred(key->cred);
	if (key->prog) {
		bpf_prog_inc(key->prog);
		RCU_INIT_POINTER(fi->bpf, key->prog);
	}
	return 0;
}

/*
 * The FUSE inode of a backing inode with @cred and @prog. Backed inodes
 * are hashed by their backing inode, so that one reached twice with the
 * same credentials and program (hard links, two lookups) is one FUSE
 * inode. Their nodeid is 0: the server does not know them, and
 * no request naming them is sent (see fuse_bpf_nodeid_known()).
 */
static struct inode *fuse_bpf_iget(struct super_block *sb,
				   const struct path *path,
				   const struct cred *cred,
				   struct bpf_prog *prog)
{
	struct inode *binode = d_inode(path->dentry);
	struct fuse_bpf_iget_key key = {
		.path = path,
		.cred = cred,
		.prog = prog,
	};
	struct fuse_attr attr = {
		.ino = binode->i_ino,
		.mode = binode->i_mode,
		.rdev = new_encode_dev(binode->i_rdev),
	};
	struct inode *inode;
	unsigned int idx;

	inode = iget5_locked(sb, (unsigned long)binode, fuse_bpf_inode_eq,
			     fuse_bpf_inode_set, &key);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	if (inode->i_state & I_NEW) {
		idx = fuse_bpf_fs_index(get_fuse_conn_super(sb),
					path->mnt->mnt_sb);
		get_fuse_inode(inode)->backing_fs = idx;
		fuse_bpf_map_ino(idx, &attr.ino);
		/* Set by fuse_change_attributes() on other inodes */
		inode->i_ino = attr.ino;
		/* atime follows the FUSE mount: see fuse_bpf_update_time() */
		inode->i_flags |= S_NOCMTIME;
		inode->i_generation = binode->i_generation;
		fuse_init_inode(inode, &attr, get_fuse_conn_super(sb));
		if (S_ISREG(binode->i_mode) && binode->i_fop &&
		    binode->i_fop->remap_file_range)
			fuse_init_file_remap(inode);
		fuse_bpf_acl_dont_cache(inode);
		fuse_bpf_lockdep_annotate(inode);
		fuse_bpf_copyattr(inode);
		unlock_new_inode(inode);
	} else {
		fuse_bpf_copyattr(inode);
	}
	return inode;
}

/* A reference to the program of @inode, or NULL */
static struct bpf_prog *fuse_bpf_get_prog(struct inode *inode)
{
	struct bpf_prog *prog;

	rcu_read_lock();
	do {
		prog = rcu_dereference(get_fuse_inode(inode)->bpf);
		/* Put as it was replaced: the inode now has the new one */
	} while (prog && IS_ERR(bpf_prog_inc_not_zero(prog)));
	rcu_read_unlock();
	return prog;
}

/*
 * The FUSE inode of an entry of the backed directory @dir: it inherits the
 * backing credentials and the program of @dir.
 */
static struct inode *fuse_bpf_iget_child(struct inode *dir,
					 const struct path *path)
{
	struct bpf_prog *prog = fuse_bpf_get_prog(dir);
	struct inode *inode;

	inode = fuse_bpf_iget(dir->i_sb, path,
			      get_fuse_inode(dir)->backing_cred, prog);
	if (prog)
		bpf_prog_put(prog);
	return inode;
}

struct fuse_bpf_lookup_args {
	const struct qstr *name;
	struct dentry *bentry;		/* the backing entry found */
};

static void fuse_bpf_lookup_init_args(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_bpf_lookup_args *la = args;

	/* As in FUSE_LOOKUP: the name and its NUL */
	fa->in_numargs = 1;
	fa->in_args[0].value = (void *)la->name->name;
	fa->in_args[0].size = la->name->len + 1;
	fa->in_args[0].end_offset = fa->in_args[0].value + fa->in_args[0].size;
}

static int fuse_bpf_lookup_backing(struct path *dpath, void *args)
{
	struct fuse_bpf_lookup_args *la = args;

	la->bentry = lookup_one_unlocked(mnt_idmap(dpath->mnt),
					 la->name->name, dpath->dentry,
					 la->name->len);
	return PTR_ERR_OR_ZERO(la->bentry);
}

static const struct fuse_bpf_op fuse_bpf_lookup_op = {
	.init_args = fuse_bpf_lookup_init_args,
	.backing = fuse_bpf_lookup_backing,
};

/**
 * fuse_bpf_lookup() - look a name up in the backing directory
 * @dir: the FUSE directory
 * @entry: the FUSE dentry to look up
 * @newent: set to the result of the lookup if it ran here
 *
 * The child inherits the backing of the directory: it is backed by the
 * entry of the same name in the backing directory, if there is one, and
 * the server is not asked unless the program of @dir says so.
 *
 * Return: true if @dir is backed and the lookup ran here.
 */
bool fuse_bpf_lookup(struct inode *dir, struct dentry *entry,
		     struct dentry **newent)
{
	struct fuse_bpf_lookup_args la = { .name = &entry->d_name };
	struct fuse_inode *dfi = get_fuse_inode(dir);
	struct inode *inode = NULL;
	struct path path;
	int err;

	if (!fuse_inode_backed(dir))
		return false;
	if (!fuse_bpf_run(&fuse_bpf_lookup_op, FUSE_LOOKUP, dir, &la, &err))
		return false;
	if (!err && d_is_positive(la.bentry)) {
		path.mnt = dfi->backing_path.mnt;
		path.dentry = la.bentry;
		inode = fuse_bpf_iget_child(dir, &path);
		if (IS_ERR(inode))
			err = PTR_ERR(inode);
	}
	if (!IS_ERR_OR_NULL(la.bentry))
		dput(la.bentry);
	if (err) {
		*newent = ERR_PTR(err);
		return true;
	}

	*newent = d_splice_alias(inode, entry);
	/* Valid as long as the backing entry is: see revalidate */
	if (!IS_ERR(*newent))
		fuse_dentry_settime(*newent ?: entry, U64_MAX);
	return true;
}

/* Is @bentry (still) the backing entry of the FUSE inode @inode? */
static bool fuse_bpf_is_backing(struct inode *inode, struct dentry *bentry)
{
	struct fuse_inode *fi = get_fuse_inode(inode);

	return fi->backing_path.dentry && d_is_positive(bentry) &&
	       d_inode(bentry) == d_inode(fi->backing_path.dentry);
}

/*
 * Path walk in RCU mode cannot look the name up in the backing directory,
 * but it can check that the backing dentry of a positive entry's inode is
 * still hashed under the same name in the parent's backing directory. It
 * is the common case; anything else (negative entries, hard links, a
 * rename in progress) is left to the walk with references (-ECHILD).
 */
static int fuse_bpf_revalidate_rcu(struct inode *dir, struct dentry *entry,
				   unsigned int flags)
{
	struct inode *inode = d_inode_rcu(entry);
	struct dentry *bparent, *bentry;
	unsigned int seq;
	bool same;
	int ret;

	bparent = READ_ONCE(get_fuse_inode(dir)->backing_path.dentry);
	if (!inode || !bparent || (flags & LOOKUP_REVAL))
		return -ECHILD;
	/* NULL once the inode is evicted; dentries are freed after RCU */
	bentry = READ_ONCE(get_fuse_inode(inode)->backing_path.dentry);
	if (!bentry)
		return -ECHILD;
	/* ->d_compare() needs a stable name: leave it to the walk with refs */
	if (bparent->d_flags & DCACHE_OP_COMPARE)
		return -ECHILD;
	seq = raw_seqcount_begin(&bentry->d_seq);
	if (d_unhashed(bentry) || READ_ONCE(bentry->d_parent) != bparent)
		return -ECHILD;
	spin_lock(&entry->d_lock);
	same = d_same_name(bentry, bparent, &entry->d_name);
	spin_unlock(&entry->d_lock);
	if (!same || read_seqcount_retry(&bentry->d_seq, seq))
		return -ECHILD;
	if (bentry->d_flags & DCACHE_OP_REVALIDATE) {
		ret = bentry->d_op->d_revalidate(bentry, flags);
		/* Whatever the reason, the walk with references decides */
		if (ret <= 0)
			return -ECHILD;
	}
	/* Fresh attributes for the checks the walk's caller makes */
	fuse_bpf_copyattr(inode);
	return 1;
}

/* Look @name up in the backing directory of @dir, not locked */
static struct dentry *fuse_bpf_lookup_unlocked(struct inode *dir,
					       const struct qstr *name)
{
	struct fuse_inode *dfi = get_fuse_inode(dir);
	const struct cred *old_cred;
	struct dentry *bentry;

	old_cred = override_creds(dfi->backing_cred);
	bentry = lookup_one_unlocked(mnt_idmap(dfi->backing_path.mnt),
				     name->name, dfi->backing_path.dentry,
				     name->len);
	revert_creds(old_cred);
	return bentry;
}

/*
 * An entry the server made, answering a LOOKUP the program sent it: it
 * times out as the server said, and the server revalidates it. Entries
 * made from the backing directory never time out (see fuse_bpf_lookup()).
 */
static bool fuse_bpf_servers_entry(struct dentry *entry)
{
	return fuse_dentry_time(entry) != U64_MAX;
}

/**
 * fuse_bpf_dentry_revalidate() - check a dentry of a backed directory
 * @entry: the FUSE dentry
 * @flags: LOOKUP_* flags
 * @ret: set to the verdict (1 valid, 0 invalid, or a negative errno)
 *
 * The dentry is valid while the backing directory still has the same
 * entry under that name: still absent for a negative dentry, still the
 * backing inode of the FUSE inode for a positive one.
 *
 * Return: true if the parent of @entry is backed.
 */
bool fuse_bpf_dentry_revalidate(struct dentry *entry, unsigned int flags,
				int *ret)
{
	struct dentry *parent, *bentry;
	struct inode *dir, *inode;

	if (flags & LOOKUP_RCU) {
		parent = READ_ONCE(entry->d_parent);
		dir = d_inode_rcu(parent);
		if (!dir || !fuse_inode_backed(dir))
			return false;
		if (fuse_bpf_servers_entry(entry))
			return false;
		*ret = fuse_bpf_revalidate_rcu(dir, entry, flags);
		return true;
	}

	parent = dget_parent(entry);
	dir = d_inode(parent);
	inode = d_inode(entry);
	if (!fuse_inode_backed(dir) || fuse_bpf_servers_entry(entry)) {
		dput(parent);
		return false;
	}
	bentry = fuse_bpf_lookup_unlocked(dir, &entry->d_name);
	dput(parent);
	if (IS_ERR(bentry)) {
		/*
		 * Only an entry that is gone is invalid: invalidating it on
		 * any other error (EIO, ENOMEM, EACCES) would detach the
		 * mounts on it. The walk fails with the error instead.
		 */
		*ret = PTR_ERR(bentry);
		if (*ret == -ENOENT || *ret == -ESTALE)
			*ret = 0;
		return true;
	}

	if (!inode)
		*ret = d_is_negative(bentry);
	else
		*ret = fuse_bpf_is_backing(inode, bentry);
	if (*ret && inode)
		fuse_bpf_copyattr(inode);
	dput(bentry);
	return true;
}

/**
 * fuse_bpf_nodeid_known() - may this request go to the server?
 * @fc: the connection
 * @args: the request
 *
 * Inodes fuse-bpf made from backing inodes have nodeid 0, which no server
 * could resolve. Their operations that have no backing implementation
 * fail instead of sending that nodeid.
 *
 * Return: false if the request names nodeid 0 and must not be sent.
 */
bool fuse_bpf_nodeid_known(struct fuse_conn *fc, struct fuse_args *args)
{
	return !fc->bpf_enabled || args->nodeid ||
	       args->opcode == FUSE_INIT || args->opcode == FUSE_DESTROY;
}

struct fuse_bpf_setattr_args {
	struct iattr *attr;
};

static int fuse_bpf_setattr_backing(struct path *backing_path, void *args)
{
	struct fuse_bpf_setattr_args *sa = args;
	struct inode *binode = d_inode(backing_path->dentry);
	struct iattr attr = *sa->attr;
	int err;

	/*
	 * As overlayfs: the backing filesystem sees no FUSE file, and no
	 * O_TRUNC (the backing file was opened without it). ATTR_FORCE stays:
	 * the kill of privileges that a write or chown by anyone implies must
	 * succeed under backing credentials that do not own the inode.
	 */
	attr.ia_valid &= ~(ATTR_FILE | ATTR_OPEN);
	/* notify_change() works the new mode out itself */
	if (attr.ia_valid & (ATTR_KILL_SUID | ATTR_KILL_SGID))
		attr.ia_valid &= ~ATTR_MODE;

	if (attr.ia_valid & ATTR_SIZE) {
		/*
		 * vfs_truncate() checked the caller only. The backing creds
		 * opened the backing file for write if there is a file.
		 */
		if (!(sa->attr->ia_valid & ATTR_FILE)) {
			err = inode_permission(mnt_idmap(backing_path->mnt),
					       binode, MAY_WRITE);
			if (err)
				return err;
		}
		/* No truncation of a running executable */
		err = get_write_access(binode);
		if (err)
			return err;
	}
	inode_lock(binode);
	err = notify_change(mnt_idmap(backing_path->mnt), backing_path->dentry,
			    &attr, NULL);
	inode_unlock(binode);
	if (attr.ia_valid & ATTR_SIZE)
		put_write_access(binode);
	return err;
}

static void fuse_bpf_copyattr_finalize(struct inode *inode, void *args)
{
	fuse_bpf_copyattr(inode);
}

static const struct fuse_bpf_op fuse_bpf_setattr_op = {
	.backing = fuse_bpf_setattr_backing,
	.finalize = fuse_bpf_copyattr_finalize,
	.write = true,
};

/**
 * fuse_bpf_setattr() - change the attributes of a backed inode
 * @idmap: idmap of the FUSE mount
 * @entry: the FUSE dentry
 * @attr: the change
 * @err: set to the result if the inode is backed
 *
 * The caller is checked on the FUSE inode, refreshed from the backing
 * inode first (notify_change() may have decided on stale attributes), with
 * or without default_permissions; the backing credentials are checked by
 * the backing filesystem.
 *
 * Return: true if the inode is backed.
 */
bool fuse_bpf_setattr(struct mnt_idmap *idmap, struct dentry *entry,
		      struct iattr *attr, int *err)
{
	struct inode *inode = d_inode(entry);
	struct fuse_bpf_setattr_args args = { .attr = attr };

	if (!fuse_inode_backed(inode))
		return false;
	fuse_bpf_copyattr(inode);
	*err = setattr_prepare(idmap, entry, attr);
	if (*err)
		return true;
	/* may_setattr()'s check of a touch (UTIME_NOW), with the fresh owner */
	if ((attr->ia_valid & ATTR_TOUCH) &&
	    !inode_owner_or_capable(idmap, inode)) {
		*err = inode_permission(idmap, inode, MAY_WRITE);
		if (*err)
			return true;
	}
	return fuse_bpf_run(&fuse_bpf_setattr_op, FUSE_SETATTR, inode, &args,
			    err);
}

/* The backing file of an open FUSE file, NULL if it has none */
static struct file *fuse_bpf_file(struct file *file)
{
	struct fuse_file *ff = file->private_data;

	return ff ? ff->backing_file : NULL;
}

/**
 * fuse_bpf_open() - open the backing file of a backed inode
 * @inode: the FUSE inode
 * @file: the FUSE file being opened
 * @err: set to the result if the inode is backed
 *
 * As overlayfs: the backing credentials must be allowed to open the
 * backing inode that way, then it is opened as a backing file.
 *
 * Return: true if the inode is backed.
 */
bool fuse_bpf_open(struct inode *inode, struct file *file, int *err)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	struct inode *binode;
	const struct cred *old_cred;
	struct mnt_idmap *idmap;
	int flags, acc_mode;
	struct fuse_file *ff;
	struct file *bfile;

	if (!fuse_inode_backed(inode))
		return false;

	binode = d_inode(fi->backing_path.dentry);
	idmap = mnt_idmap(fi->backing_path.mnt);
	/* Truncation was, or will be, done by setattr */
	flags = file->f_flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);
	acc_mode = ACC_MODE(flags);
	if (flags & O_APPEND)
		acc_mode |= MAY_APPEND;

	ff = fuse_file_alloc(get_fuse_mount(inode), false);
	if (!ff) {
		*err = -ENOMEM;
		return true;
	}

	/* As overlayfs: the backing file is opened under the backing creds */
	old_cred = override_creds(fi->backing_cred);
	*err = 0;
	/* As on any filesystem, the creator may open what it created */
	if (!(file->f_mode & FMODE_CREATED))
		*err = inode_permission(idmap, binode, MAY_OPEN | acc_mode);
	/*
	 * The backing mount's atime rules must not apply: atime follows
	 * the FUSE mount's, through the FUSE inode (fuse_bpf_update_time()).
	 * As overlayfs, only where the backing credentials may ask for it;
	 * the caller's O_NOATIME was checked on the FUSE inode.
	 */
	if (inode_owner_or_capable(idmap, binode))
		flags |= O_NOATIME;
	else
		flags &= ~O_NOATIME;
	bfile = NULL;
	if (!*err)
		bfile = backing_file_open(file, flags, &fi->backing_path,
					  fi->backing_cred);
	revert_creds(old_cred);
	if (!*err && IS_ERR(bfile))
		*err = PTR_ERR(bfile);
	if (*err) {
		fuse_file_free(ff);
		return true;
	}
	ff->backing_file = bfile;
	file->private_data = ff;
	return true;
}

/**
 * fuse_bpf_release() - release a backed FUSE file
 * @file: the FUSE file
 *
 * Return: true if @file was backed and is released.
 */
bool fuse_bpf_release(struct file *file)
{
	struct fuse_file *ff = file->private_data;

	if (!ff || !ff->backing_file)
		return false;
	fput(ff->backing_file);
	fuse_file_free(ff);
	return true;
}

bool fuse_bpf_flush(struct file *file, fl_owner_t id, int *err)
{
	struct file *bfile = fuse_bpf_file(file);
	const struct cred *old_cred;

	if (!bfile)
		return false;
	*err = 0;
	if (bfile->f_op->flush) {
		old_cred = override_creds(bfile->f_cred);
		*err = bfile->f_op->flush(bfile, id);
		revert_creds(old_cred);
	}
	return true;
}

bool fuse_bpf_fsync(struct file *file, loff_t start, loff_t end,
		    int datasync, int *err)
{
	struct file *bfile = fuse_bpf_file(file);
	const struct cred *old_cred;

	if (!bfile)
		return false;
	old_cred = override_creds(bfile->f_cred);
	*err = vfs_fsync_range(bfile, start, end, datasync);
	revert_creds(old_cred);
	fuse_bpf_copyattr(file_inode(file));
	return true;
}

/**
 * fuse_bpf_update_time() - update the atime of a backed inode
 * @inode: the FUSE inode
 * @flags: S_* times to update
 * @ret: set to the result if @inode is backed
 *
 * Backing files are opened O_NOATIME, so that the backing mount's atime
 * options do not apply. touch_atime() on the FUSE path applies the FUSE
 * mount's (noatime, relatime, read-only...) and lands here: the backing
 * inode's atime is updated as touch_atime() would on the backing path,
 * but without the backing mount's atime options: only its write access,
 * idmapping, and the backing inode's and superblock's own noatime count.
 * Only atime: S_NOCMTIME leaves the others to the backing filesystem.
 *
 * Return: true if @inode is backed.
 */
bool fuse_bpf_update_time(struct inode *inode, int flags, int *ret)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	struct vfsmount *mnt = fi->backing_path.mnt;
	struct inode *binode;

	if (!fuse_inode_backed(inode))
		return false;
	binode = d_inode(fi->backing_path.dentry);
	*ret = 0;
	if (!(flags & S_ATIME) || IS_NOATIME(binode) ||
	    HAS_UNMAPPED_ID(mnt_idmap(mnt), binode))
		return true;
	if (!sb_start_write_trylock(binode->i_sb))
		return true;
	if (!mnt_get_write_access(mnt)) {
		*ret = inode_update_time(binode, S_ATIME);
		mnt_put_write_access(mnt);
	}
	sb_end_write(binode->i_sb);
	fuse_bpf_copyattr(inode);
	return true;
}

/**
 * fuse_bpf_fiemap() - the extent map of a backed file
 * @inode: the FUSE inode
 * @fieinfo: the request
 * @start: first byte
 * @len: length
 * @err: set to the result if @inode is backed
 *
 * Return: true if @inode is backed.
 */
bool fuse_bpf_fiemap(struct inode *inode, struct fiemap_extent_info *fieinfo,
		     u64 start, u64 len, int *err)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	const struct cred *old_cred;
	struct inode *binode;

	if (!fuse_inode_backed(inode))
		return false;
	binode = d_inode(fi->backing_path.dentry);
	*err = -EOPNOTSUPP;
	if (!binode->i_op->fiemap)
		return true;
	/* As overlayfs: under the backing credentials */
	old_cred = override_creds(fi->backing_cred);
	*err = binode->i_op->fiemap(binode, fieinfo, start, len);
	revert_creds(old_cred);
	return true;
}

/**
 * fuse_bpf_remap_file_range() - clone or dedupe between backed files
 * @in: the source FUSE file
 * @pos_in: its offset
 * @out: the destination FUSE file
 * @pos_out: its offset
 * @len: length, 0 for up to the end of @in
 * @flags: REMAP_FILE_*
 * @ret: set to the result if a file is backed
 *
 * The VFS checked the FUSE files; the backing filesystem gets the same
 * request on the backing files, as overlayfs passes it on, and answers it
 * (EXDEV between backing filesystems, EOPNOTSUPP where it cannot).
 *
 * Return: true if @in or @out is backed.
 */
bool fuse_bpf_remap_file_range(struct file *in, loff_t pos_in,
			       struct file *out, loff_t pos_out, loff_t len,
			       unsigned int flags, loff_t *ret)
{
	struct file *bin = fuse_bpf_file(in), *bout = fuse_bpf_file(out);
	struct inode *inode = file_inode(out);
	const struct cred *old_cred;

	if (!bin && !bout)
		return false;
	*ret = -EINVAL;
	if (flags & ~(REMAP_FILE_DEDUP | REMAP_FILE_ADVISORY))
		return true;
	/* Between a backed and a plain file */
	*ret = -EXDEV;
	if (!bin || !bout)
		return true;
	inode_lock(inode);
	old_cred = override_creds(bout->f_cred);
	if (flags & REMAP_FILE_DEDUP)
		*ret = vfs_dedupe_file_range_one(bin, pos_in, bout, pos_out,
						 len, flags);
	else
		*ret = vfs_clone_file_range(bin, pos_in, bout, pos_out, len,
					    flags);
	revert_creds(old_cred);
	fuse_bpf_copyattr(inode);
	inode_unlock(inode);
	return true;
}

/* Flags fcntl(F_SETFL) may have changed on the FUSE file since open */
#define FUSE_BPF_SETFL_MASK (O_APPEND | O_NONBLOCK | O_NDELAY | O_DIRECT)

/*
 * Bring the backing file's status flags in line with the FUSE file's, as
 * overlayfs does, so that the backing I/O honours them.
 */
static int fuse_bpf_sync_flags(struct file *file, struct file *bfile)
{
	unsigned int flags = file->f_flags & FUSE_BPF_SETFL_MASK;

	if (!((flags ^ bfile->f_flags) & FUSE_BPF_SETFL_MASK))
		return 0;
	if ((flags & O_DIRECT) && !(bfile->f_mode & FMODE_CAN_ODIRECT))
		return -EINVAL;
	spin_lock(&bfile->f_lock);
	bfile->f_flags = (bfile->f_flags & ~FUSE_BPF_SETFL_MASK) | flags;
	bfile->f_iocb_flags = iocb_flags(bfile);
	spin_unlock(&bfile->f_lock);
	return 0;
}

/* The backing file is O_NOATIME: atime by the FUSE mount's rules */
static void fuse_bpf_file_accessed(struct file *file)
{
	fuse_bpf_copyattr(file_inode(file));
	file_accessed(file);
}

static void fuse_bpf_end_write(struct file *file, loff_t pos, ssize_t ret)
{
	fuse_bpf_copyattr(file_inode(file));
}

static void fuse_bpf_file_ctx(struct backing_file_ctx *ctx, struct file *file,
			      struct file *bfile)
{
	*ctx = (struct backing_file_ctx) {
		.cred = bfile->f_cred,
		.user_file = file,
		.accessed = fuse_bpf_file_accessed,
		.end_write = fuse_bpf_end_write,
	};
}

bool fuse_bpf_read_iter(struct kiocb *iocb, struct iov_iter *to, ssize_t *ret)
{
	struct file *file = iocb->ki_filp;
	struct file *bfile = fuse_bpf_file(file);
	struct backing_file_ctx ctx;

	if (!bfile)
		return false;
	*ret = fuse_bpf_sync_flags(file, bfile);
	if (*ret || !iov_iter_count(to))
		return true;
	fuse_bpf_file_ctx(&ctx, file, bfile);
	*ret = backing_file_read_iter(bfile, to, iocb, iocb->ki_flags, &ctx);
	return true;
}

bool fuse_bpf_write_iter(struct kiocb *iocb, struct iov_iter *from,
			 ssize_t *ret)
{
	struct file *file = iocb->ki_filp;
	struct file *bfile = fuse_bpf_file(file);
	struct inode *inode = file_inode(file);
	struct backing_file_ctx ctx;

	if (!bfile)
		return false;
	*ret = fuse_bpf_sync_flags(file, bfile);
	if (*ret || !iov_iter_count(from))
		return true;
	fuse_bpf_file_ctx(&ctx, file, bfile);
	inode_lock(inode);
	/* As overlayfs: a fresh mode for file_remove_privs() */
	fuse_bpf_copyattr(inode);
	*ret = backing_file_write_iter(bfile, from, iocb, iocb->ki_flags,
				       &ctx);
	inode_unlock(inode);
	return true;
}

bool fuse_bpf_splice_read(struct file *in, loff_t *ppos,
			  struct pipe_inode_info *pipe, size_t len,
			  unsigned int flags, ssize_t *ret)
{
	struct file *bfile = fuse_bpf_file(in);
	struct backing_file_ctx ctx;

	if (!bfile)
		return false;
	fuse_bpf_file_ctx(&ctx, in, bfile);
	*ret = backing_file_splice_read(bfile, ppos, pipe, len, flags, &ctx);
	return true;
}

bool fuse_bpf_splice_write(struct pipe_inode_info *pipe, struct file *out,
			   loff_t *ppos, size_t len, unsigned int flags,
			   ssize_t *ret)
{
	struct file *bfile = fuse_bpf_file(out);
	struct inode *inode = file_inode(out);
	struct backing_file_ctx ctx;

	if (!bfile)
		return false;
	fuse_bpf_file_ctx(&ctx, out, bfile);
	inode_lock(inode);
	fuse_bpf_copyattr(inode);
	*ret = backing_file_splice_write(pipe, bfile, ppos, len, flags, &ctx);
	inode_unlock(inode);
	return true;
}

bool fuse_bpf_mmap(struct file *file, struct vm_area_struct *vma, int *err)
{
	struct file *bfile = fuse_bpf_file(file);
	struct backing_file_ctx ctx;

	if (!bfile)
		return false;
	/* As do_mmap() does on a noexec mount, for the backing mount */
	if (path_noexec(&bfile->f_path)) {
		if (vma->vm_flags & VM_EXEC) {
			*err = -EPERM;
			return true;
		}
		vm_flags_clear(vma, VM_MAYEXEC);
	}
	fuse_bpf_file_ctx(&ctx, file, bfile);
	*err = backing_file_mmap(bfile, vma, &ctx);
	return true;
}

/**
 * fuse_bpf_llseek() - seek in a backed file or directory
 * @file: the FUSE file
 * @offset: offset
 * @whence: SEEK_*
 * @ret: set to the new position or a negative errno if @file is backed
 *
 * The backing file decides (SEEK_DATA, SEEK_HOLE, SEEK_END, directory
 * cookies); the FUSE file's position only changes on success.
 *
 * Return: true if @file is backed.
 */
bool fuse_bpf_llseek(struct file *file, loff_t offset, int whence,
		     loff_t *ret)
{
	struct file *bfile = fuse_bpf_file(file);
	const struct cred *old_cred;

	if (!bfile)
		return false;
	bfile->f_pos = file->f_pos;
	old_cred = override_creds(bfile->f_cred);
	*ret = vfs_llseek(bfile, offset, whence);
	revert_creds(old_cred);
	if (*ret >= 0)
		file->f_pos = bfile->f_pos;
	return true;
}

/*
 * POSIX and BSD locks of a backed file are kept by the VFS on the FUSE
 * inode, as overlayfs does: the server does not know the file.
 */
bool fuse_bpf_local_locks(struct file *file)
{
	return fuse_bpf_file(file);
}

bool fuse_bpf_poll(struct file *file, poll_table *wait, __poll_t *mask)
{
	struct file *bfile = fuse_bpf_file(file);

	if (!bfile)
		return false;
	*mask = vfs_poll(bfile, wait);
	return true;
}

struct fuse_bpf_dir_ctx {
	struct dir_context ctx;
	struct dir_context *orig;
	unsigned int backing_fs;
};

/* Entries go through unchanged: their offsets are the backing cookies */
static bool fuse_bpf_filldir(struct dir_context *ctx, const char *name,
			     int namelen, loff_t offset, u64 ino,
			     unsigned int d_type)
{
	struct fuse_bpf_dir_ctx *dc = container_of(ctx, struct fuse_bpf_dir_ctx,
						   ctx);

	/* The inode numbers stat() reports */
	fuse_bpf_map_ino(dc->backing_fs, &ino);
	return dc->orig->actor(dc->orig, name, namelen, offset, ino, d_type);
}

/**
 * fuse_bpf_readdir() - read a backed directory
 * @file: the FUSE directory
 * @ctx: where the entries go
 * @err: set to the result if @file is backed
 *
 * Positions are those of the backing directory, so they stay valid across
 * calls, telldir() and seekdir().
 *
 * Return: true if @file is backed.
 */
bool fuse_bpf_readdir(struct file *file, struct dir_context *ctx, int *err)
{
	struct file *bfile = fuse_bpf_file(file);
	struct fuse_bpf_dir_ctx dc = {
		.ctx.actor = fuse_bpf_filldir,
		.ctx.pos = ctx->pos,
		.orig = ctx,
		.backing_fs = get_fuse_inode(file_inode(file))->backing_fs,
	};
	const struct cred *old_cred;

	if (!bfile)
		return false;
	bfile->f_pos = ctx->pos;
	old_cred = override_creds(bfile->f_cred);
	*err = iterate_dir(bfile, &dc.ctx);
	revert_creds(old_cred);
	ctx->pos = dc.ctx.pos;
	fuse_bpf_copyattr(file_inode(file));
	return true;
}

struct fuse_bpf_xattr_args {
	const char *name;
	void *value;		/* NULL: size query (get), removal (set) */
	size_t size;
	int flags;
	bool hide_trusted;	/* list: the caller may not see trusted.* */
	ssize_t ret;		/* get and list: the length */
};

/* The errno channel carries errors only: lengths go to args->ret */
static int fuse_bpf_xattr_result(struct fuse_bpf_xattr_args *xa, ssize_t ret)
{
	if (ret < 0)
		return ret;
	xa->ret = ret;
	return 0;
}

static int fuse_bpf_getxattr_backing(struct path *backing_path, void *args)
{
	struct fuse_bpf_xattr_args *xa = args;

	return fuse_bpf_xattr_result(xa,
			vfs_getxattr(mnt_idmap(backing_path->mnt),
				     backing_path->dentry, xa->name,
				     xa->value, xa->size));
}

static const struct fuse_bpf_op fuse_bpf_getxattr_op = {
	.backing = fuse_bpf_getxattr_backing,
};

/* Drop the trusted.* names from a list of @len bytes; its new length */
static size_t fuse_bpf_hide_trusted(char *list, size_t len)
{
	size_t slen, out = 0;
	char *s;

	for (s = list; s < list + len; s += slen) {
		slen = strnlen(s, list + len - s) + 1;
		if (!strncmp(s, XATTR_TRUSTED_PREFIX, XATTR_TRUSTED_PREFIX_LEN))
			continue;
		memmove(list + out, s, slen);
		out += slen;
	}
	return out;
}

/*
 * The backing credentials may list trusted.* names that the caller may
 * not see (as overlayfs's ovl_can_list()): list them all into a buffer of
 * ours, then give the caller, or size for it, what remains.
 */
static ssize_t fuse_bpf_list_visible(struct dentry *bentry,
				     struct fuse_bpf_xattr_args *xa)
{
	ssize_t len;
	char *buf;

	len = vfs_listxattr(bentry, NULL, 0);
	if (len <= 0)
		return len;
	buf = kvmalloc(len, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	len = vfs_listxattr(bentry, buf, len);
	if (len > 0)
		len = fuse_bpf_hide_trusted(buf, len);
	if (len > 0 && xa->size) {
		if (len > xa->size)
			len = -ERANGE;
		else
			memcpy(xa->value, buf, len);
	}
	kvfree(buf);
	return len;
}

static int fuse_bpf_listxattr_backing(struct path *backing_path, void *args)
{
	struct fuse_bpf_xattr_args *xa = args;

	if (xa->hide_trusted)
		return fuse_bpf_xattr_result(xa,
			fuse_bpf_list_visible(backing_path->dentry, xa));
	return fuse_bpf_xattr_result(xa,
			vfs_listxattr(backing_path->dentry, xa->value,
				      xa->size));
}

static const struct fuse_bpf_op fuse_bpf_listxattr_op = {
	.backing = fuse_bpf_listxattr_backing,
};

static int fuse_bpf_setxattr_backing(struct path *backing_path, void *args)
{
	struct fuse_bpf_xattr_args *xa = args;

	if (!xa->value)
		return vfs_removexattr(mnt_idmap(backing_path->mnt),
				       backing_path->dentry, xa->name);
	return vfs_setxattr(mnt_idmap(backing_path->mnt), backing_path->dentry,
			    xa->name, xa->value, xa->size, xa->flags);
}

static const struct fuse_bpf_op fuse_bpf_setxattr_op = {
	.backing = fuse_bpf_setxattr_backing,
	.finalize = fuse_bpf_copyattr_finalize,
	.write = true,
};

/**
 * fuse_bpf_getxattr() - read an extended attribute of a backed inode
 * @inode: the FUSE inode
 * @name: the attribute's full name
 * @value: the buffer, or NULL to ask for the size
 * @size: its size
 * @ret: set to the length or a negative errno if the inode is backed
 *
 * Return: true if the inode is backed.
 */
bool fuse_bpf_getxattr(struct inode *inode, const char *name, void *value,
		       size_t size, ssize_t *ret)
{
	struct fuse_bpf_xattr_args args = {
		.name = name,
		.value = value,
		.size = size,
	};
	int err;

	if (!fuse_inode_backed(inode))
		return false;
	if (!fuse_bpf_run(&fuse_bpf_getxattr_op, FUSE_GETXATTR, inode, &args,
			  &err))
		return false;
	*ret = err ?: args.ret;
	return true;
}

/**
 * fuse_bpf_listxattr() - list the extended attributes of a backed inode
 * @entry: the FUSE dentry
 * @list: the buffer, or NULL to ask for the size
 * @size: its size
 * @ret: set to the length or a negative errno if the inode is backed
 *
 * Return: true if the inode is backed.
 */
bool fuse_bpf_listxattr(struct dentry *entry, char *list, size_t size,
			ssize_t *ret)
{
	struct fuse_bpf_xattr_args args = { .value = list, .size = size };
	int err;

	if (!fuse_inode_backed(d_inode(entry)))
		return false;
	/* Decided with the caller's credentials, before they are overridden */
	args.hide_trusted = !ns_capable_noaudit(&init_user_ns, CAP_SYS_ADMIN);
	if (!fuse_bpf_run(&fuse_bpf_listxattr_op, FUSE_LISTXATTR,
			  d_inode(entry), &args, &err))
		return false;
	*ret = err ?: args.ret;
	return true;
}

/*
 * The backing entry of @entry's name in @dir's backing directory, which
 * the caller has locked.
 */
static struct dentry *fuse_bpf_lookup_locked(struct inode *dir,
					     struct dentry *entry)
{
	struct path *dpath = &get_fuse_inode(dir)->backing_path;

	return lookup_one(mnt_idmap(dpath->mnt), entry->d_name.name,
			  dpath->dentry, entry->d_name.len);
}

/*
 * The backing credentials, which are current, but with the caller's fsuid
 * and fsgid if they are privileged, so that a new object belongs to the
 * caller as on any filesystem, and is labelled for it (as overlayfs does).
 *
 * Return: new credentials to override_creds() with, or an ERR_PTR().
 */
static struct cred *fuse_bpf_creator_creds(struct mnt_idmap *idmap,
					   struct inode *dir,
					   struct dentry *entry, umode_t mode,
					   const struct cred *caller)
{
	struct user_namespace *bns =
		get_fuse_inode(dir)->backing_path.dentry->d_sb->s_user_ns;
	struct cred *cred;
	int err;

	cred = prepare_creds();
	if (!cred)
		return ERR_PTR(-ENOMEM);
	/*
	 * Backing credentials that may override permissions and give objects
	 * away (a privileged mounter or server) create on behalf of the
	 * caller, as overlayfs does. Those of an unprivileged server create
	 * as the server, as it would itself: with the caller's fsuid they
	 * could neither be checked as the server's nor own the result.
	 */
	if (ns_capable_noaudit(bns, CAP_DAC_OVERRIDE) &&
	    ns_capable_noaudit(bns, CAP_CHOWN)) {
		cred->fsuid = from_vfsuid(idmap, i_user_ns(dir),
					  VFSUIDT_INIT(caller->fsuid));
		cred->fsgid = from_vfsgid(idmap, i_user_ns(dir),
					  VFSGIDT_INIT(caller->fsgid));
	}
	err = security_dentry_create_files_as(entry, mode, &entry->d_name,
					      caller, cred);
	if (err) {
		put_cred(cred);
		return ERR_PTR(err);
	}
	return cred;
}

/* What a create-type operation makes in a backed directory */
struct fuse_bpf_new_entry {
	umode_t mode;
	dev_t rdev;
	const char *link;	/* symlink target */
	struct dentry *old;	/* link: the backing entry to link to */
	/* Filled in by fuse_bpf_new_entry() */
	struct mnt_idmap *idmap;
	struct dentry *entry;
	const struct cred *caller;
};

static int fuse_bpf_create_backing(struct path *dpath, struct dentry *bentry,
				   struct fuse_bpf_new_entry *ne)
{
	struct mnt_idmap *idmap = mnt_idmap(dpath->mnt);
	struct inode *bdir = d_inode(dpath->dentry);

	/*
	 * The umask is not applied yet (FUSE superblocks have SB_POSIXACL):
	 * the vfs_*() calls apply it as the backing directory wants.
	 */
	if (ne->old)
		return vfs_link(ne->old, idmap, bdir, bentry, NULL);
	switch (ne->mode & S_IFMT) {
	case S_IFREG:
		return vfs_create(idmap, bdir, bentry, ne->mode, true);
	case S_IFDIR:
		return vfs_mkdir(idmap, bdir, bentry, ne->mode);
	case S_IFLNK:
		return vfs_symlink(idmap, bdir, bentry, ne->link);
	default:
		return vfs_mknod(idmap, bdir, bentry, ne->mode, ne->rdev);
	}
}

/*
 * Create the backing object and instantiate the FUSE dentry with its
 * inode, which inherits the directory's backing credentials.
 */
static int fuse_bpf_new_entry_backing(struct path *dpath, void *args)
{
	struct fuse_bpf_new_entry *ne = args;
	struct inode *dir = d_inode(ne->entry->d_parent);
	struct inode *bdir = d_inode(dpath->dentry);
	struct path path = { .mnt = dpath->mnt };
	const struct cred *old_cred;
	struct inode *inode;
	struct cred *cred;
	struct dentry *d;
	int err;

	cred = fuse_bpf_creator_creds(ne->idmap, dir, ne->entry, ne->mode,
				      ne->caller);
	if (IS_ERR(cred))
		return PTR_ERR(cred);
	old_cred = override_creds(cred);
	put_cred(cred);

	inode_lock_nested(bdir, I_MUTEX_PARENT);
	path.dentry = fuse_bpf_lookup_locked(dir, ne->entry);
	err = PTR_ERR(path.dentry);
	if (IS_ERR(path.dentry))
		goto out_unlock;
	/* Created behind our back since the lookup */
	err = -EEXIST;
	if (d_is_positive(path.dentry))
		goto out_dput;
	err = fuse_bpf_create_backing(dpath, path.dentry, ne);
	if (!err && (d_unhashed(path.dentry) || d_is_negative(path.dentry))) {
		/* Some filesystems leave the new dentry unhashed (mkdir) */
		d = fuse_bpf_lookup_locked(dir, ne->entry);
		dput(path.dentry);
		path.dentry = d;
		if (IS_ERR(d))
			err = PTR_ERR(d);
		else if (d_is_negative(d))
			err = -ENOENT;
	}
	if (!err) {
		inode = fuse_bpf_iget_child(dir, &path);
		if (IS_ERR(inode))
			err = PTR_ERR(inode);
		else
			d_instantiate(ne->entry, inode);
	}
out_dput:
	if (!IS_ERR(path.dentry))
		dput(path.dentry);
out_unlock:
	inode_unlock(bdir);
	revert_creds(old_cred);
	return err;
}

static void fuse_bpf_new_entry_finalize(struct inode *dir, void *args)
{
	struct fuse_bpf_new_entry *ne = args;

	fuse_dentry_settime(ne->entry, U64_MAX);
	fuse_bpf_copyattr(dir);
	/* A link changed the link count of an existing inode */
	fuse_bpf_copyattr(d_inode(ne->entry));
}

static const struct fuse_bpf_op fuse_bpf_new_entry_op = {
	.backing = fuse_bpf_new_entry_backing,
	.finalize = fuse_bpf_new_entry_finalize,
	.write = true,
};

/**
 * fuse_bpf_new_entry() - create an entry of a backed directory
 * @idmap: idmap of the FUSE mount
 * @dir: the FUSE directory
 * @entry: the negative FUSE dentry to create
 * @ne: what to create
 * @opcode: the FUSE opcode of the operation
 * @err: set to the result, if it ran here
 *
 * The object is created in the backing directory, owned by the caller, and
 * @entry instantiated with its FUSE inode. No request goes to the server.
 *
 * Return: true if it ran here, false if it goes to the server.
 */
static bool fuse_bpf_new_entry(struct mnt_idmap *idmap, struct inode *dir,
			       struct dentry *entry,
			       struct fuse_bpf_new_entry *ne, u32 opcode,
			       int *err)
{
	ne->idmap = idmap;
	ne->entry = entry;
	ne->caller = current_cred();
	return fuse_bpf_run(&fuse_bpf_new_entry_op, opcode, dir, ne, err);
}

/**
 * fuse_bpf_mknod() - create a file, device, fifo or socket in a backed dir
 * @idmap: idmap of the FUSE mount
 * @dir: the FUSE directory
 * @entry: the negative FUSE dentry
 * @mode: type and mode, before the umask
 * @rdev: device number
 * @err: set to the result if @dir is backed
 *
 * Return: true if @dir is backed.
 */
bool fuse_bpf_mknod(struct mnt_idmap *idmap, struct inode *dir,
		    struct dentry *entry, umode_t mode, dev_t rdev, int *err)
{
	struct fuse_bpf_new_entry ne = { .mode = mode, .rdev = rdev };

	if (!fuse_inode_backed(dir))
		return false;
	return fuse_bpf_new_entry(idmap, dir, entry, &ne, FUSE_MKNOD, err);
}

bool fuse_bpf_mkdir(struct mnt_idmap *idmap, struct inode *dir,
		    struct dentry *entry, umode_t mode, int *err)
{
	struct fuse_bpf_new_entry ne = { .mode = S_IFDIR | mode };

	if (!fuse_inode_backed(dir))
		return false;
	return fuse_bpf_new_entry(idmap, dir, entry, &ne, FUSE_MKDIR, err);
}

bool fuse_bpf_symlink(struct mnt_idmap *idmap, struct inode *dir,
		      struct dentry *entry, const char *link, int *err)
{
	struct fuse_bpf_new_entry ne = { .mode = S_IFLNK, .link = link };

	if (!fuse_inode_backed(dir))
		return false;
	return fuse_bpf_new_entry(idmap, dir, entry, &ne, FUSE_SYMLINK, err);
}

/**
 * fuse_bpf_create_open() - create and open a regular file in a backed dir
 * @idmap: idmap of the FUSE mount
 * @dir: the FUSE directory
 * @entry: the negative FUSE dentry
 * @file: the file being opened
 * @mode: mode, before the umask
 * @err: set to the result if @dir is backed
 *
 * Return: true if @dir is backed.
 */
bool fuse_bpf_create_open(struct mnt_idmap *idmap, struct inode *dir,
			  struct dentry *entry, struct file *file,
			  umode_t mode, int *err)
{
	struct fuse_bpf_new_entry ne = { .mode = S_IFREG | mode };

	if (!fuse_inode_backed(dir) ||
	    !fuse_bpf_new_entry(idmap, dir, entry, &ne, FUSE_CREATE, err))
		return false;
	/* fuse_open() opens the backing file */
	if (!*err)
		*err = finish_open(file, entry, NULL);
	return true;
}

struct fuse_bpf_tmpfile_args {
	struct mnt_idmap *idmap;
	struct file *file;
	umode_t mode;
	struct file *bfile;	/* the backing file, opened */
};

static int fuse_bpf_tmpfile_backing(struct path *dpath, void *args)
{
	struct fuse_bpf_tmpfile_args *ta = args;
	struct dentry *entry = ta->file->f_path.dentry;
	struct inode *dir = d_inode(entry->d_parent);
	const struct cred *old_cred;
	struct inode *inode;
	struct cred *cred;

	cred = fuse_bpf_creator_creds(ta->idmap, dir, entry, ta->mode,
				      ta->file->f_cred);
	if (IS_ERR(cred))
		return PTR_ERR(cred);
	old_cred = override_creds(cred);
	put_cred(cred);
	ta->bfile = backing_tmpfile_open(ta->file,
					 ta->file->f_flags | O_NOATIME, dpath,
					 ta->mode, current_cred());
	revert_creds(old_cred);
	if (IS_ERR(ta->bfile))
		return PTR_ERR(ta->bfile);

	inode = fuse_bpf_iget_child(dir, &ta->bfile->f_path);
	if (IS_ERR(inode)) {
		/* Not put again by fuse_bpf_tmpfile() */
		fput(ta->bfile);
		ta->bfile = NULL;
		return PTR_ERR(inode);
	}
	d_mark_tmpfile(ta->file, inode);
	d_instantiate(entry, inode);
	return 0;
}

static const struct fuse_bpf_op fuse_bpf_tmpfile_op = {
	.backing = fuse_bpf_tmpfile_backing,
	.write = true,
};

static int fuse_bpf_tmpfile_opened(struct inode *inode, struct file *file)
{
	return 0;
}

/**
 * fuse_bpf_tmpfile() - open an unnamed file in a backed directory
 * @idmap: idmap of the FUSE mount
 * @dir: the FUSE directory
 * @file: the file being opened, its dentry negative
 * @mode: mode, before the umask
 * @err: set to the result if @dir is backed
 *
 * Return: true if @dir is backed.
 */
bool fuse_bpf_tmpfile(struct mnt_idmap *idmap, struct inode *dir,
		      struct file *file, umode_t mode, int *err)
{
	struct fuse_bpf_tmpfile_args args = {
		.idmap = idmap,
		.file = file,
		.mode = mode,
	};
	struct fuse_file *ff;

	if (!fuse_inode_backed(dir))
		return false;
	ff = fuse_file_alloc(get_fuse_mount(dir), false);
	*err = -ENOMEM;
	if (!ff)
		return true;
	if (!fuse_bpf_run(&fuse_bpf_tmpfile_op, FUSE_TMPFILE, dir, &args,
			  err)) {
		fuse_file_free(ff);
		return false;
	}
	if (*err) {
		/* Opened, then failed by the program's post-filter */
		if (!IS_ERR_OR_NULL(args.bfile))
			fput(args.bfile);
		goto out_free;
	}
	ff->backing_file = args.bfile;
	file->private_data = ff;
	*err = finish_open(file, file->f_path.dentry, fuse_bpf_tmpfile_opened);
	/* Once opened, the file is released by fuse_release() */
	if (!*err || (file->f_mode & FMODE_OPENED))
		return true;
	file->private_data = NULL;
	fput(args.bfile);
out_free:
	fuse_file_free(ff);
	return true;
}

/**
 * fuse_bpf_link() - make a hard link in a backed directory
 * @entry: the FUSE dentry of the existing file
 * @dir: the FUSE directory of the new name
 * @newent: the negative FUSE dentry of the new name
 * @err: set to the result if either inode is backed
 *
 * Backed and plain nodes, or nodes on different backing mounts, cannot
 * be linked to each other: that fails with EXDEV.
 *
 * Return: true if the file or @dir is backed.
 */
bool fuse_bpf_link(struct dentry *entry, struct inode *dir,
		   struct dentry *newent, int *err)
{
	struct fuse_inode *fi = get_fuse_inode(d_inode(entry));
	struct fuse_bpf_new_entry ne = {
		.mode = d_inode(entry)->i_mode,
		.old = fi->backing_path.dentry,
	};

	if (!fuse_inode_backed(dir) && !fuse_inode_backed(d_inode(entry)))
		return false;
	if (!fuse_inode_backed(dir) || !fuse_inode_backed(d_inode(entry)) ||
	    fi->backing_path.mnt != get_fuse_inode(dir)->backing_path.mnt) {
		*err = -EXDEV;
		return true;
	}
	return fuse_bpf_new_entry(&nop_mnt_idmap, dir, newent, &ne, FUSE_LINK,
				  err);
}

static int fuse_bpf_remove_backing(struct path *dpath, void *args)
{
	struct dentry *entry = args;
	struct inode *dir = d_inode(entry->d_parent);
	struct inode *bdir = d_inode(dpath->dentry);
	struct inode *inode = d_inode(entry);
	struct dentry *bentry;
	int err;

	inode_lock_nested(bdir, I_MUTEX_PARENT);
	bentry = fuse_bpf_lookup_locked(dir, entry);
	err = PTR_ERR(bentry);
	if (IS_ERR(bentry))
		goto out_unlock;
	if (!fuse_bpf_is_backing(inode, bentry))
		err = -ESTALE;
	else if (S_ISDIR(inode->i_mode))
		err = vfs_rmdir(mnt_idmap(dpath->mnt), bdir, bentry);
	else
		err = vfs_unlink(mnt_idmap(dpath->mnt), bdir, bentry, NULL);
	dput(bentry);
out_unlock:
	inode_unlock(bdir);
	return err;
}

static void fuse_bpf_remove_finalize(struct inode *dir, void *args)
{
	struct dentry *entry = args;

	fuse_bpf_copyattr(dir);
	fuse_bpf_copyattr(d_inode(entry));
}

static const struct fuse_bpf_op fuse_bpf_remove_op = {
	.backing = fuse_bpf_remove_backing,
	.finalize = fuse_bpf_remove_finalize,
	.write = true,
};

/**
 * fuse_bpf_remove() - unlink or rmdir in a backed directory
 * @dir: the FUSE directory
 * @entry: the FUSE dentry to remove
 * @err: set to the result if @dir is backed
 *
 * Return: true if @dir is backed.
 */
bool fuse_bpf_remove(struct inode *dir, struct dentry *entry, int *err)
{
	if (!fuse_inode_backed(dir))
		return false;
	return fuse_bpf_run(&fuse_bpf_remove_op,
			    d_is_dir(entry) ? FUSE_RMDIR : FUSE_UNLINK, dir,
			    entry, err);
}

struct fuse_bpf_rename_args {
	struct dentry *oldent;
	struct inode *newdir;
	struct dentry *newent;
	unsigned int flags;
};

static int fuse_bpf_rename_backing(struct path *opath, void *args)
{
	struct fuse_bpf_rename_args *ra = args;
	struct path *npath = &get_fuse_inode(ra->newdir)->backing_path;
	struct inode *olddir = d_inode(ra->oldent->d_parent);
	struct inode *target = d_inode(ra->newent);
	struct renamedata rd = { .flags = ra->flags };
	struct dentry *bold, *bnew, *trap;
	int err;

	trap = lock_rename(npath->dentry, opath->dentry);
	if (IS_ERR(trap))
		return PTR_ERR(trap);
	bold = fuse_bpf_lookup_locked(olddir, ra->oldent);
	err = PTR_ERR(bold);
	if (IS_ERR(bold))
		goto out_unlock;
	bnew = fuse_bpf_lookup_locked(ra->newdir, ra->newent);
	err = PTR_ERR(bnew);
	if (IS_ERR(bnew))
		goto out_dput_old;

	/* Both names must still be what the FUSE dentries say they are */
	err = -ESTALE;
	if (!fuse_bpf_is_backing(d_inode(ra->oldent), bold))
		goto out_dput_new;
	if (target ? !fuse_bpf_is_backing(target, bnew) :
		     d_is_positive(bnew))
		goto out_dput_new;
	/* The errnos of do_renameat2() for its traps */
	err = -EINVAL;
	if (bold == trap)
		goto out_dput_new;
	if (!(ra->flags & RENAME_EXCHANGE))
		err = -ENOTEMPTY;
	if (bnew == trap)
		goto out_dput_new;

	rd.old_mnt_idmap = mnt_idmap(opath->mnt);
	rd.old_dir = d_inode(opath->dentry);
	rd.old_dentry = bold;
	rd.new_mnt_idmap = mnt_idmap(npath->mnt);
	rd.new_dir = d_inode(npath->dentry);
	rd.new_dentry = bnew;
	err = vfs_rename(&rd);
out_dput_new:
	dput(bnew);
out_dput_old:
	dput(bold);
out_unlock:
	unlock_rename(npath->dentry, opath->dentry);
	return err;
}

static void fuse_bpf_rename_finalize(struct inode *olddir, void *args)
{
	struct fuse_bpf_rename_args *ra = args;

	fuse_bpf_copyattr(olddir);
	fuse_bpf_copyattr(ra->newdir);
	fuse_bpf_copyattr(d_inode(ra->oldent));
	if (d_really_is_positive(ra->newent))
		fuse_bpf_copyattr(d_inode(ra->newent));
}

static const struct fuse_bpf_op fuse_bpf_rename_op = {
	.backing = fuse_bpf_rename_backing,
	.finalize = fuse_bpf_rename_finalize,
	.write = true,
};

/**
 * fuse_bpf_rename() - rename between backed directories
 * @olddir: the FUSE directory of the old name
 * @oldent: the FUSE dentry of the old name
 * @newdir: the FUSE directory of the new name
 * @newent: the FUSE dentry of the new name
 * @flags: RENAME_* flags
 * @err: set to the result if either directory is backed
 *
 * The backing entries are renamed, with the checks overlayfs makes after
 * lock_rename(). Between a backed and a plain directory, or different
 * backing mounts, that fails with EXDEV.
 *
 * Return: true if either directory is backed.
 */
bool fuse_bpf_rename(struct inode *olddir, struct dentry *oldent,
		     struct inode *newdir, struct dentry *newent,
		     unsigned int flags, int *err)
{
	struct fuse_bpf_rename_args args = {
		.oldent = oldent,
		.newdir = newdir,
		.newent = newent,
		.flags = flags,
	};

	if (!fuse_inode_backed(olddir) && !fuse_inode_backed(newdir))
		return false;
	if (!fuse_inode_backed(olddir) || !fuse_inode_backed(newdir) ||
	    get_fuse_inode(olddir)->backing_path.mnt !=
	    get_fuse_inode(newdir)->backing_path.mnt) {
		*err = -EXDEV;
		return true;
	}
	return fuse_bpf_run(&fuse_bpf_rename_op, FUSE_RENAME2,
			    olddir, &args, err);
}

struct fuse_bpf_get_link_args {
	struct delayed_call *done;
	const char *link;
};

static int fuse_bpf_get_link_backing(struct path *backing_path, void *args)
{
	struct fuse_bpf_get_link_args *la = args;

	la->link = vfs_get_link(backing_path->dentry, la->done);
	return PTR_ERR_OR_ZERO(la->link);
}

static const struct fuse_bpf_op fuse_bpf_get_link_op = {
	.backing = fuse_bpf_get_link_backing,
};

/**
 * fuse_bpf_get_link() - read the target of a backed symlink
 * @dentry: the FUSE dentry, NULL under RCU walk
 * @inode: the FUSE inode
 * @done: frees the target
 * @link: set to the target or an ERR_PTR() if @inode is backed
 *
 * Return: true if @inode is backed.
 */
bool fuse_bpf_get_link(struct dentry *dentry, struct inode *inode,
		       struct delayed_call *done, const char **link)
{
	struct fuse_bpf_get_link_args args = { .done = done };
	int err;

	if (!fuse_inode_backed(inode))
		return false;
	if (!dentry)
		err = -ECHILD;
	else if (!fuse_bpf_run(&fuse_bpf_get_link_op, FUSE_READLINK, inode,
			       &args, &err))
		return false;
	/* Failed by the post-filter: callers do not run @done on errors */
	if (err && !IS_ERR_OR_NULL(args.link)) {
		do_delayed_call(done);
		clear_delayed_call(done);
	}
	*link = err ? ERR_PTR(err) : args.link;
	return true;
}

struct fuse_bpf_acl_args {
	int type;
	struct posix_acl *acl;
};

static int fuse_bpf_get_acl_backing(struct path *backing_path, void *args)
{
	struct fuse_bpf_acl_args *aa = args;
	struct posix_acl *acl;

	/* The ACL would need the mount's idmapping applied, see overlayfs */
	if (is_idmapped_mnt(backing_path->mnt))
		return -EOPNOTSUPP;
	acl = vfs_get_acl(mnt_idmap(backing_path->mnt), backing_path->dentry,
			  posix_acl_xattr_name(aa->type));
	if (acl == ERR_PTR(-ENODATA))
		acl = NULL;
	if (IS_ERR(acl))
		return PTR_ERR(acl);
	aa->acl = acl;
	return 0;
}

static const struct fuse_bpf_op fuse_bpf_get_acl_op = {
	.backing = fuse_bpf_get_acl_backing,
};

/**
 * fuse_bpf_get_acl() - get a POSIX ACL of a backed inode
 * @dentry: the FUSE dentry
 * @type: ACL_TYPE_ACCESS or ACL_TYPE_DEFAULT
 * @acl: set to the ACL, NULL if it has none, or an ERR_PTR()
 *
 * Return: true if the inode is backed.
 */
bool fuse_bpf_get_acl(struct dentry *dentry, int type, struct posix_acl **acl)
{
	struct fuse_bpf_acl_args args = { .type = type };
	int err;

	if (!fuse_inode_backed(d_inode(dentry)))
		return false;
	if (!fuse_bpf_run(&fuse_bpf_get_acl_op, FUSE_GETXATTR, d_inode(dentry),
			  &args, &err))
		return false;
	if (err && args.acl)
		posix_acl_release(args.acl);
	*acl = err ? ERR_PTR(err) : args.acl;
	return true;
}

/*
 * A copy of the ACL @acl of @binode with the ids seen through the backing
 * mount's idmapping @idmap, as overlayfs does: the cached ACL is the
 * backing filesystem's and must not change. Puts @acl.
 */
static struct posix_acl *fuse_bpf_idmap_acl(struct inode *binode,
					    struct mnt_idmap *idmap,
					    struct posix_acl *acl)
{
	struct user_namespace *fs_userns = i_user_ns(binode);
	struct posix_acl *clone;
	unsigned int i;

	clone = posix_acl_clone(acl, GFP_KERNEL);
	posix_acl_release(acl);
	if (!clone)
		return ERR_PTR(-ENOMEM);
	for (i = 0; i < clone->a_count; i++) {
		struct posix_acl_entry *e = &clone->a_entries[i];

		if (e->e_tag == ACL_USER)
			e->e_uid = vfsuid_into_kuid(make_vfsuid(idmap, fs_userns,
								e->e_uid));
		else if (e->e_tag == ACL_GROUP)
			e->e_gid = vfsgid_into_kgid(make_vfsgid(idmap, fs_userns,
								e->e_gid));
	}
	return clone;
}

/**
 * fuse_bpf_get_inode_acl() - the POSIX ACL of a backed inode, to check access
 * @inode: the FUSE inode
 * @type: ACL_TYPE_ACCESS or ACL_TYPE_DEFAULT
 * @rcu: the caller walks in RCU mode
 * @acl: set to the ACL, NULL if it has none, or an ERR_PTR()
 *
 * FUSE inodes of backing inodes do not cache ACLs (ACL_DONT_CACHE): the
 * backing inode's, cached by its filesystem, are authoritative. As for
 * overlayfs, no program filters this.
 *
 * Return: true if the inode is backed.
 */
bool fuse_bpf_get_inode_acl(struct inode *inode, int type, bool rcu,
			    struct posix_acl **acl)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	/* NULL once evicted: an RCU walk may still see the inode */
	struct dentry *bentry = READ_ONCE(fi->backing_path.dentry);
	const struct cred *old_cred;
	struct mnt_idmap *bidmap;
	struct inode *binode;

	if (!bentry)
		return false;
	binode = d_inode_rcu(bentry);
	if (!binode) {
		*acl = ERR_PTR(-ECHILD);
		return true;
	}
	if (!IS_POSIXACL(binode)) {
		*acl = NULL;
		return true;
	}
	if (rcu) {
		/* Mapping a cached ACL needs a copy */
		if (is_idmapped_mnt(fi->backing_path.mnt))
			*acl = ERR_PTR(-ECHILD);
		else
			*acl = get_cached_acl_rcu(binode, type);
		return true;
	}
	old_cred = override_creds(fi->backing_cred);
	*acl = get_inode_acl(binode, type);
	revert_creds(old_cred);
	bidmap = mnt_idmap(fi->backing_path.mnt);
	if (!IS_ERR_OR_NULL(*acl) && bidmap != &nop_mnt_idmap)
		*acl = fuse_bpf_idmap_acl(binode, bidmap, *acl);
	return true;
}

static int fuse_bpf_set_acl_backing(struct path *backing_path, void *args)
{
	struct fuse_bpf_acl_args *aa = args;
	struct mnt_idmap *idmap = mnt_idmap(backing_path->mnt);
	const char *name = posix_acl_xattr_name(aa->type);

	if (is_idmapped_mnt(backing_path->mnt))
		return -EOPNOTSUPP;
	if (aa->acl)
		return vfs_set_acl(idmap, backing_path->dentry, name, aa->acl);
	return vfs_remove_acl(idmap, backing_path->dentry, name);
}

static const struct fuse_bpf_op fuse_bpf_set_acl_op = {
	.backing = fuse_bpf_set_acl_backing,
	/* Setting an access ACL may change the mode */
	.finalize = fuse_bpf_copyattr_finalize,
	.write = true,
};

/*
 * The VFS checked the caller's ownership on attributes that may be stale:
 * check it again on fresh ones.
 */
static int fuse_bpf_owner_again(struct mnt_idmap *idmap, struct inode *inode)
{
	fuse_bpf_copyattr(inode);
	return inode_owner_or_capable(idmap, inode) ? 0 : -EPERM;
}

/**
 * fuse_bpf_set_acl() - set or remove a POSIX ACL of a backed inode
 * @idmap: idmap of the FUSE mount
 * @dentry: the FUSE dentry
 * @acl: the ACL, NULL to remove it
 * @type: ACL_TYPE_ACCESS or ACL_TYPE_DEFAULT
 * @err: set to the result if the inode is backed
 *
 * The caller's right to change it was checked on the FUSE inode.
 *
 * Return: true if the inode is backed.
 */
bool fuse_bpf_set_acl(struct mnt_idmap *idmap, struct dentry *dentry,
		      struct posix_acl *acl, int type, int *err)
{
	struct fuse_bpf_acl_args args = { .type = type, .acl = acl };
	struct inode *inode = d_inode(dentry);

	if (!fuse_inode_backed(inode))
		return false;
	/* As set_posix_acl() */
	*err = fuse_bpf_owner_again(idmap, inode);
	if (*err)
		return true;
	/*
	 * The backing filesystem decides on the setgid bit with the backing
	 * credentials: as overlayfs, clear it first if the caller may not
	 * keep it.
	 */
	if (type == ACL_TYPE_ACCESS && (inode->i_mode & S_ISGID) &&
	    !in_group_or_capable(idmap, inode,
				 i_gid_into_vfsgid(idmap, inode))) {
		struct iattr iattr = { .ia_valid = ATTR_KILL_SGID };

		*err = notify_change(idmap, dentry, &iattr, NULL);
		if (*err)
			return true;
	}
	return fuse_bpf_run(&fuse_bpf_set_acl_op,
			    acl ? FUSE_SETXATTR : FUSE_REMOVEXATTR,
			    d_inode(dentry), &args, err);
}

/**
 * fuse_bpf_setxattr() - set or remove an extended attribute of a backed inode
 * @inode: the FUSE inode
 * @name: the attribute's full name
 * @value: its value, NULL to remove it
 * @size: the size of @value
 * @flags: XATTR_CREATE, XATTR_REPLACE
 * @err: set to the result if @inode is backed
 *
 * Return: true if @inode is backed.
 */
bool fuse_bpf_setxattr(struct inode *inode, const char *name,
		       const void *value, size_t size, int flags, int *err)
{
	struct fuse_bpf_xattr_args args = {
		.name = name,
		.value = (void *)value,
		.size = size,
		.flags = flags,
	};

	if (!fuse_inode_backed(inode))
		return false;
	return fuse_bpf_run(&fuse_bpf_setxattr_op,
			    value ? FUSE_SETXATTR : FUSE_REMOVEXATTR, inode,
			    &args, err);
}

static int fuse_bpf_fileattr_get_backing(struct path *backing_path,
					 void *args)
{
	return vfs_fileattr_get(backing_path->dentry, args);
}

static const struct fuse_bpf_op fuse_bpf_fileattr_get_op = {
	.backing = fuse_bpf_fileattr_get_backing,
};

static int fuse_bpf_fileattr_set_backing(struct path *backing_path,
					 void *args)
{
	return vfs_fileattr_set(mnt_idmap(backing_path->mnt),
				backing_path->dentry, args);
}

static const struct fuse_bpf_op fuse_bpf_fileattr_set_op = {
	.backing = fuse_bpf_fileattr_set_backing,
	.finalize = fuse_bpf_copyattr_finalize,
	.write = true,
};

/**
 * fuse_bpf_fileattr_get() - read the inode flags of a backed inode
 * @dentry: the FUSE dentry
 * @fa: the flags to fill in
 * @err: set to the result if the inode is backed
 *
 * Return: true if the inode is backed.
 */
bool fuse_bpf_fileattr_get(struct dentry *dentry, struct fileattr *fa,
			   int *err)
{
	if (!fuse_inode_backed(d_inode(dentry)))
		return false;
	return fuse_bpf_run(&fuse_bpf_fileattr_get_op, FUSE_IOCTL,
			    d_inode(dentry), fa, err);
}

/**
 * fuse_bpf_fileattr_set() - change the inode flags of a backed inode
 * @idmap: idmap of the FUSE mount
 * @dentry: the FUSE dentry
 * @fa: the new flags
 * @err: set to the result if the inode is backed
 *
 * vfs_fileattr_set() checked the caller's ownership, and its right to
 * change the immutable and append-only flags against the backing inode's
 * current flags; the owner it checked may be stale, so check it again.
 *
 * Return: true if the inode is backed.
 */
bool fuse_bpf_fileattr_set(struct mnt_idmap *idmap, struct dentry *dentry,
			   struct fileattr *fa, int *err)
{
	struct inode *inode = d_inode(dentry);

	if (!fuse_inode_backed(inode))
		return false;
	/* As vfs_fileattr_set() */
	*err = fuse_bpf_owner_again(idmap, inode);
	if (*err)
		return true;
	return fuse_bpf_run(&fuse_bpf_fileattr_set_op, FUSE_IOCTL, inode, fa,
			    err);
}

/*
 * The server does not know backed files: it cannot serve their ioctls.
 * Inode flags go through fileattr.
 */
bool fuse_bpf_ioctl(struct file *file, long *ret)
{
	if (!fuse_bpf_file(file))
		return false;
	*ret = -ENOTTY;
	return true;
}

/**
 * fuse_bpf_fallocate() - allocate or punch space in a backed file
 * @file: the FUSE file
 * @mode: FALLOC_FL_* flags, as the backing filesystem supports them
 * @offset: start
 * @length: length
 * @err: set to the result if @file is backed
 *
 * Return: true if @file is backed.
 */
bool fuse_bpf_fallocate(struct file *file, int mode, loff_t offset,
			loff_t length, int *err)
{
	struct file *bfile = fuse_bpf_file(file);
	struct inode *inode = file_inode(file);
	const struct cred *old_cred;

	if (!bfile)
		return false;
	inode_lock(inode);
	/* As overlayfs: a fresh mode for file_remove_privs() */
	fuse_bpf_copyattr(inode);
	*err = file_remove_privs(file);
	if (!*err) {
		old_cred = override_creds(bfile->f_cred);
		*err = vfs_fallocate(bfile, mode, offset, length);
		revert_creds(old_cred);
	}
	fuse_bpf_copyattr(inode);
	inode_unlock(inode);
	return true;
}

/**
 * fuse_bpf_copy_file_range() - copy between backed files
 * @in: the FUSE file to copy from
 * @pos_in: where
 * @out: the FUSE file to copy to
 * @pos_out: where
 * @len: how much
 * @flags: copy_file_range() flags
 * @ret: set to the bytes copied or a negative errno if a file is backed
 *
 * A copy between a backed and a plain file fails with EXDEV, for the
 * caller to fall back to splice.
 *
 * Return: true if @in or @out is backed.
 */
bool fuse_bpf_copy_file_range(struct file *in, loff_t pos_in,
			      struct file *out, loff_t pos_out, size_t len,
			      unsigned int flags, ssize_t *ret)
{
	struct file *bin = fuse_bpf_file(in), *bout = fuse_bpf_file(out);
	struct inode *inode = file_inode(out);
	const struct cred *old_cred;

	if (!bin && !bout)
		return false;
	*ret = -EXDEV;
	if (!bin || !bout)
		return true;
	inode_lock(inode);
	fuse_bpf_copyattr(inode);
	*ret = file_remove_privs(out);
	if (!*ret) {
		old_cred = override_creds(bout->f_cred);
		*ret = vfs_copy_file_range(bin, pos_in, bout, pos_out, len,
					   flags);
		revert_creds(old_cred);
	}
	fuse_bpf_copyattr(inode);
	inode_unlock(inode);
	return true;
}

/* FUSE_INIT flags to offer: fuse-bpf only on mounts that enable it */
u64 fuse_bpf_init_flags(struct fuse_conn *fc)
{
	return fc->bpf_enabled ? FUSE_BPF : 0;
}

/**
 * fuse_bpf_init_reply() - take the server's FUSE_INIT answer into account
 * @fm: the mount
 * @flags: the flags the server accepted
 * @arg: its reply
 *
 * A server that takes FUSE_BPF may attach backing objects on filesystems
 * stacked up to max_stack_depth - 1 deep, as with passthrough.
 */
void fuse_bpf_init_reply(struct fuse_mount *fm, u64 flags,
			 struct fuse_init_out *arg)
{
	struct fuse_conn *fc = fm->fc;

	if (!fc->bpf_enabled)
		return;
	if (flags & FUSE_BPF) {
		fc->bpf_proto = 1;
		if (arg->max_stack_depth > fc->bpf_stack_depth &&
		    arg->max_stack_depth <= FILESYSTEM_MAX_STACK_DEPTH)
			fc->bpf_stack_depth = arg->max_stack_depth;
	}
	/* Passthrough may have set a lower depth: the deepest wins */
	fm->sb->s_stack_depth = max(fm->sb->s_stack_depth, fc->bpf_stack_depth);
}

/*
 * Let the server's LOOKUP reply carry a struct fuse_entry_bpf_out. The
 * layout is set up on every fuse-bpf mount, as a LOOKUP may be prepared
 * before the server has answered FUSE_INIT: whether it negotiated FUSE_BPF
 * is checked when the reply comes (fuse_bpf_reply_fds()). A plain reply
 * fits it, its extension being of variable size.
 */
void fuse_bpf_lookup_init(struct fuse_conn *fc, struct fuse_args *args,
			  struct fuse_bpf_entry *feb)
{
	if (!fc->bpf_enabled)
		return;
	args->out_numargs = 2;
	args->out_args[1].size = sizeof(feb->out);
	args->out_args[1].value = &feb->out;
	args->out_argvar = true;
	args->bpf_ext = true;
}

/* Drop what a LOOKUP reply's extension holds, on every path */
void fuse_bpf_entry_put(struct fuse_bpf_entry *feb)
{
	path_put(&feb->backing_path);
	feb->backing_path.dentry = NULL;
	feb->backing_path.mnt = NULL;
	if (feb->cred)
		put_cred(feb->cred);
	feb->cred = NULL;
	if (feb->prog)
		bpf_prog_put(feb->prog);
	feb->prog = NULL;
}

/**
 * fuse_bpf_reply_needs_ioctl() - must this reply come through the ioctl?
 * @fc: the connection
 * @args: the request
 * @len: the length of the reply's payload (0 for an error)
 *
 * Return: true if the reply carries a fuse-bpf LOOKUP extension, from a
 * server that negotiated it (see fuse_bpf_reply_fds() for the others).
 */
bool fuse_bpf_reply_needs_ioctl(struct fuse_conn *fc, struct fuse_args *args,
				size_t len)
{
	return args->bpf_ext && fc->bpf_proto &&
	       len > args->out_args[0].size;
}

/**
 * fuse_bpf_reply_fds() - check a LOOKUP extension, resolve its descriptors
 * @fc: the connection
 * @args: the request, its reply copied in
 * @fd_reply: the reply came through the ioctl
 *
 * Runs for every reply, in the context of the server that answered. One
 * with an extension comes through the ioctl: its descriptors are resolved
 * and its credentials captured, so the backing is used with them. One
 * longer than a LOOKUP reply from a server that did not negotiate FUSE_BPF
 * is refused, as plain FUSE refuses it.
 *
 * Return: 0, or a negative errno for the writer (the request then fails
 * with EIO).
 */
int fuse_bpf_reply_fds(struct fuse_conn *fc, struct fuse_args *args,
		       bool fd_reply)
{
	struct fuse_entry_out *entry = args->out_args[0].value;
	struct fuse_bpf_entry *feb;
	struct fuse_entry_bpf_out *out;
	struct super_block *bsb;
	struct file *file;
	int err;

	if (!args->bpf_ext || !args->out_args[1].size)
		return 0;
	/* Only from a server that negotiated FUSE_BPF: a reply too long */
	if (!fc->bpf_proto)
		return -EINVAL;
	/* Never from write(2), see fuse_bpf_reply_needs_ioctl() */
	if (!fd_reply)
		return -EINVAL;
	feb = container_of(args->out_args[1].value, struct fuse_bpf_entry,
			   out);
	out = &feb->out;
	/* A truncated extension */
	if (args->out_args[1].size != sizeof(*out))
		return -EINVAL;
	if (out->backing_action > FUSE_ACTION_REPLACE ||
	    out->bpf_action > FUSE_ACTION_REPLACE)
		return -EINVAL;
	if ((out->backing_action != FUSE_ACTION_REPLACE && out->backing_fd) ||
	    (out->bpf_action != FUSE_ACTION_REPLACE && out->bpf_fd))
		return -EINVAL;
	/* Programs filter the operations of backed inodes only */
	if (out->backing_action == FUSE_ACTION_REMOVE &&
	    out->bpf_action == FUSE_ACTION_REPLACE)
		return -EINVAL;
	/* The root is never looked up; only a node takes a backing */
	if (entry->nodeid == FUSE_ROOT_ID ||
	    (!entry->nodeid && (out->backing_action == FUSE_ACTION_REPLACE ||
				out->bpf_action == FUSE_ACTION_REPLACE)))
		return -EINVAL;
	if (out->bpf_action == FUSE_ACTION_REPLACE) {
		if (out->bpf_fd > INT_MAX)
			return -EBADF;
		feb->prog = bpf_prog_get_type_dev(out->bpf_fd,
						  BPF_PROG_TYPE_FUSE, false);
		if (IS_ERR(feb->prog)) {
			err = PTR_ERR(feb->prog);
			feb->prog = NULL;
			return err;
		}
	}
	feb->ext = true;
	if (out->backing_action != FUSE_ACTION_REPLACE)
		return 0;

	if (out->backing_fd > INT_MAX)
		return -EBADF;
	file = fget_raw(out->backing_fd);
	if (!file)
		return -EBADF;
	bsb = file->f_path.mnt->mnt_sb;
	err = -EINVAL;
	if (!fuse_bpf_backing_ok(&file->f_path))
		goto out;
	err = -ELOOP;
	if (bsb->s_stack_depth >= fc->bpf_stack_depth)
		goto out;
	err = fuse_bpf_fs_add(fc, &file->f_path);
	if (err)
		goto out;
	err = fuse_bpf_capture_backing(fc->bpf_conn, file, &feb->backing_path,
				       &feb->cred);
out:
	fput(file);
	return err;
}

/*
 * The backing a LOOKUP reply gives the entry @name of @dir, in @path with
 * a reference, or none: the one it attaches (FUSE_ACTION_REPLACE), the
 * entry of the same name in a backed @dir (FUSE_ACTION_KEEP), none
 * (FUSE_ACTION_REMOVE, or no extension: a plain node).
 */
static int fuse_bpf_reply_backing(struct inode *dir, const struct qstr *name,
				  struct fuse_bpf_entry *feb,
				  struct path *path)
{
	struct dentry *bentry;

	*path = (struct path) {};
	if (!feb->ext || feb->out.backing_action == FUSE_ACTION_REMOVE)
		return 0;
	if (feb->out.backing_action == FUSE_ACTION_REPLACE) {
		*path = feb->backing_path;
		path_get(path);
		return 0;
	}
	if (!dir || !fuse_inode_backed(dir))
		return 0;
	bentry = fuse_bpf_lookup_unlocked(dir, name);
	if (IS_ERR(bentry))
		return PTR_ERR(bentry);
	if (d_is_negative(bentry)) {
		dput(bentry);
		return 0;
	}
	path->mnt = mntget(get_fuse_inode(dir)->backing_path.mnt);
	path->dentry = bentry;
	return 0;
}

/**
 * fuse_bpf_lookup_iget() - the inode of a LOOKUP reply with an extension
 * @sb: the superblock
 * @dir: the FUSE directory, NULL for the lookups of export operations
 * @name: the name looked up
 * @outarg: the server's entry
 * @feb: the extension of the reply, if it had one
 * @inode: set to the inode if it is backed, to NULL if it is a plain node
 *
 * The backing comes from the reply (FUSE_ACTION_REPLACE), or is the entry
 * of the same name in a backed @dir (FUSE_ACTION_KEEP, as when @dir's
 * program sent the lookup to the server); FUSE_ACTION_REMOVE, or a reply
 * with no extension, make a plain node the server serves. The program
 * likewise comes from the reply, or is @dir's.
 *
 * A backed inode is the one of its backing inode, credentials and
 * program, so that an object reached with the same ones both through a
 * backed directory and through the server is one inode. It carries the
 * server's node id, with which the server is told to forget it; should it
 * already carry another one, the new one is forgotten.
 *
 * Return: 0 on success, a negative errno otherwise.
 */
int fuse_bpf_lookup_iget(struct super_block *sb, struct inode *dir,
			 const struct qstr *name, struct fuse_entry_out *outarg,
			 struct fuse_bpf_entry *feb, struct inode **inode)
{
	struct fuse_conn *fc = get_fuse_conn_super(sb);
	struct fuse_entry_bpf_out *out = &feb->out;
	struct bpf_prog *prog = NULL;
	struct fuse_forget_link *forget;
	const struct cred *cred;
	struct fuse_inode *fi;
	bool adopted = false;
	struct path path;
	int err;

	*inode = NULL;
	err = fuse_bpf_reply_backing(dir, name, feb, &path);
	if (err)
		return err;
	if (!path.dentry) {
		/* A plain node: no program would ever run */
		return out->bpf_action == FUSE_ACTION_REPLACE ? -EIO : 0;
	}
	if (out->backing_action == FUSE_ACTION_REPLACE)
		cred = feb->cred;
	else
		cred = get_fuse_inode(dir)->backing_cred;

	if (out->bpf_action == FUSE_ACTION_REPLACE) {
		prog = feb->prog;
		bpf_prog_inc(prog);
	} else if (out->bpf_action == FUSE_ACTION_KEEP && dir) {
		prog = fuse_bpf_get_prog(dir);
	}
	*inode = fuse_bpf_iget(sb, &path, cred, prog);
	path_put(&path);
	if (IS_ERR(*inode)) {
		err = PTR_ERR(*inode);
		*inode = NULL;
		if (prog)
			bpf_prog_put(prog);
		return err;
	}
	fi = get_fuse_inode(*inode);
	if (prog)
		bpf_prog_put(prog);

	spin_lock(&fi->lock);
	if (!fi->nodeid) {
		fi->nodeid = outarg->nodeid;
		adopted = true;
	}
	if (fi->nodeid == outarg->nodeid) {
		fi->nlookup++;
		/* The server's generation, as it revalidates the entry */
		(*inode)->i_generation = outarg->generation;
		adopted = true;
	}
	spin_unlock(&fi->lock);
	if (!adopted) {
		forget = fuse_alloc_forget();
		if (forget)
			fuse_queue_forget(fc, forget, outarg->nodeid, 1);
	}
	return 0;
}

/**
 * fuse_bpf_entry_changed() - does a revalidating LOOKUP change the node?
 * @dir: the FUSE directory
 * @name: the name looked up
 * @inode: the inode of the dentry being revalidated
 * @feb: the extension of the server's reply, if it had one
 *
 * The reply describes the node as fuse_bpf_lookup_iget() would make it:
 * if that is not what @inode is, the dentry is invalidated and looked up
 * again.
 *
 * Return: true if the reply gives another backing or program.
 */
bool fuse_bpf_entry_changed(struct inode *dir, const struct qstr *name,
			    struct inode *inode, struct fuse_bpf_entry *feb)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	struct bpf_prog *prog = NULL;
	const struct cred *cred;
	struct path path;
	bool changed;

	if (fuse_bpf_reply_backing(dir, name, feb, &path))
		return true;
	/* A program on a plain node is refused by the lookup again */
	changed = !fuse_inode_backed(inode) != !path.dentry ||
		  (!path.dentry && feb->out.bpf_action == FUSE_ACTION_REPLACE);
	if (changed || !path.dentry)
		goto out;
	changed = d_inode(fi->backing_path.dentry) != d_inode(path.dentry);
	/* The credentials and program the reply gives, as in lookup_iget */
	if (feb->out.backing_action == FUSE_ACTION_REPLACE)
		cred = feb->cred;
	else
		cred = get_fuse_inode(dir)->backing_cred;
	if (feb->out.bpf_action == FUSE_ACTION_REPLACE)
		prog = feb->prog;
	else if (feb->out.bpf_action == FUSE_ACTION_KEEP && dir)
		prog = rcu_access_pointer(get_fuse_inode(dir)->bpf);
	changed = changed || rcu_access_pointer(fi->bpf) != prog ||
		  fi->backing_cred != cred;
out:
	path_put(&path);
	return changed;
}
