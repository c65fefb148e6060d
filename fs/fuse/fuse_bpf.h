/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuse-bpf: FUSE inodes backed by another filesystem, with BPF filters.
 * Private to fs/fuse; see Documentation/filesystems/fuse-bpf.rst.
 *
 * Call sites test one of the predicates below, then call the backed
 * implementation: without CONFIG_FUSE_BPF the predicates are constant
 * false and the calls go away, so the declarations need no stubs.
 *
 * Copyright (c) 2026 The fuse-bpf authors
 */
#ifndef _FS_FUSE_BPF_H
#define _FS_FUSE_BPF_H

#include "fuse_i.h"

#include <linux/bpf_fuse.h>
#include <linux/cred.h>

/**
 * fuse_inode_backed() - is @inode backed by an inode of another filesystem?
 * @inode: a FUSE inode
 *
 * Its backing inode's attributes are then authoritative, and the kernel
 * checks every caller on it (see Documentation/filesystems/fuse-bpf.rst).
 */
static inline bool fuse_inode_backed(struct inode *inode)
{
#ifdef CONFIG_FUSE_BPF
	return READ_ONCE(get_fuse_inode(inode)->backing_path.dentry);
#else
	return false;
#endif
}

/* The backing file of an open FUSE file, NULL if it has none */
static inline struct file *fuse_backed_file(struct file *file)
{
#ifdef CONFIG_FUSE_BPF
	struct fuse_file *ff = file->private_data;

	return ff ? ff->backing_file : NULL;
#else
	return NULL;
#endif
}

/* Is @file the open file of a backed inode? */
static inline bool fuse_file_backed(struct file *file)
{
	return fuse_backed_file(file);
}

/* fuse-bpf is enabled on the connection, by a mount option */
static inline bool fuse_conn_bpf(struct fuse_conn *fc)
{
#ifdef CONFIG_FUSE_BPF
	return fc->bpf_enabled;
#else
	return false;
#endif
}

/* fuse-bpf: no daemon serves the connection (the no_daemon option) */
static inline bool fuse_conn_no_daemon(struct fuse_conn *fc)
{
#ifdef CONFIG_FUSE_BPF
	return fc->no_daemon;
#else
	return false;
#endif
}

/* A fuse-bpf option was given to the mount */
static inline bool fuse_fsc_bpf(struct fuse_fs_context *ctx)
{
#ifdef CONFIG_FUSE_BPF
	return ctx->bpf_enabled;
#else
	return false;
#endif
}

/* The no_daemon option was given to the mount */
static inline bool fuse_fsc_no_daemon(struct fuse_fs_context *ctx)
{
#ifdef CONFIG_FUSE_BPF
	return ctx->no_daemon;
#else
	return false;
#endif
}

/*
 * Free what RCU walks may still use of an inode, an RCU grace period after
 * its eviction: a walk in RCU mode may see an evicted inode and run an
 * operation under its backing credentials. Eviction has cleared what
 * fuse_inode_backed() tests, so this one has no predicate.
 */
static inline void fuse_backed_free_inode(struct fuse_inode *fi)
{
#ifdef CONFIG_FUSE_BPF
	if (fi->backing_cred)
		put_cred(fi->backing_cred);
#endif
}

/**
 * struct fuse_backed_entry - fuse-bpf extension of an entry reply, as received
 * @open: in a FUSE_CREATE reply, the struct fuse_open_out it comes after:
 *	both are its last out arg, so that fuse_args keeps two
 * @out: the extension, as the server sent it
 * @backing_path: with FUSE_ACTION_REPLACE, the new backing object
 * @cred: the server's credentials, to use @backing_path with
 * @prog: with FUSE_ACTION_REPLACE, the new program
 * @ext: the reply carried a valid extension
 *
 * The LOOKUP and create paths keep one on their stack: it is empty without
 * fuse-bpf.
 */
struct fuse_backed_entry {
#ifdef CONFIG_FUSE_BPF
	struct fuse_open_out open;
	struct fuse_entry_bpf_out out;
	struct path backing_path;
	const struct cred *cred;
	struct bpf_prog *prog;
	bool ext;
#endif
};

/* The struct fuse_open_out of a reply, see fuse_backed_create_init() */
static inline void fuse_backed_open_out(const struct fuse_backed_entry *feb,
					struct fuse_open_out *open)
{
#ifdef CONFIG_FUSE_BPF
	*open = feb->open;
#endif
}

/**
 * struct fuse_bpf_op - one operation on a backing object
 * @init_in: describe the arguments to the program, as in the FUSE request
 * @apply_in: take the arguments the pre-filter rewrote, or refuse them
 *	(EINVAL); without it, the operation honours no rewrite
 * @backing: the operation on the backing object, under the backing creds
 * @init_out: describe its results to the post-filter, as in the FUSE reply
 * @apply_out: take the results the post-filter rewrote, or refuse them
 * @finalize: bring the FUSE side up to date after a successful backing call
 * @write: it modifies the backing filesystem: take mnt_want_write()
 * @caller_creds: @backing runs with the caller's credentials and switches
 *	to the backing ones itself where it must: killing set-id bits on a
 *	write needs the caller's, as backing_file_write_iter() knows
 * @file: an operation of an open backed file, which the server does not
 *	know: it cannot be sent to the server
 * @user: for BPF_FUSE_USER, the operation's own request to the server,
 *	with the arguments the pre-filter may have rewritten (which @apply_in
 *	then takes): for an operation plain FUSE would not send for this
 *	inode
 * @rcu: it runs in a walk in RCU mode, which may not sleep: what needs the
 *	server fails with ECHILD, to be tried again with references
 * @post_user: its backing call changes nothing, so a post-filter may
 *	still send it to the server (BPF_FUSE_USER): a LOOKUP whose name the
 *	server then backs as it chooses
 *
 * All the flow common to the operations lives in fuse_bpf_run(); an
 * operation only says how its arguments look to a program, how it runs on
 * the backing object and what it then does to the FUSE side. The
 * init/apply functions only run when the inode has a program.
 */
struct fuse_bpf_op {
	void (*init_in)(struct bpf_fuse_args *fa, void *args);
	int (*apply_in)(struct bpf_fuse_args *fa, void *args);
	int (*backing)(struct path *backing_path, void *args);
	void (*init_out)(struct bpf_fuse_args *fa, void *args);
	int (*apply_out)(struct bpf_fuse_args *fa, void *args);
	void (*finalize)(struct inode *inode, void *args);
	int (*user)(struct inode *inode, void *args);
	bool write;
	bool caller_creds;
	bool file;
	bool rcu;
	bool post_user;
};

/*
 * Is @arg still the struct @orig of @size bytes: not replaced, or replaced
 * by a copy a program did not change?
 */
static inline bool fuse_bpf_arg_kept(const struct bpf_fuse_arg *arg,
				     const void *orig, size_t size)
{
	return !(arg->flags & BPF_FUSE_MODIFIED) ||
	       (arg->size == size && !memcmp(arg->value, orig, size));
}

/*
 * The string in @arg if it is one that fills it: not empty, its NUL last
 * and nowhere before; else NULL.
 */
static inline const char *fuse_bpf_arg_str(const struct bpf_fuse_arg *arg)
{
	if (arg->size < 2 || strnlen(arg->value, arg->size) != arg->size - 1)
		return NULL;
	return arg->value;
}

/* Did the program replace one of these arguments? */
static inline bool fuse_bpf_modified(const struct bpf_fuse_arg *args,
				     unsigned int numargs)
{
	unsigned int i;

	for (i = 0; i < numargs; i++)
		if (args[i].flags & BPF_FUSE_MODIFIED)
			return true;
	return false;
}

/**
 * enum fuse_bpf_counter - what a fuse-bpf connection counts
 * @FUSE_BPF_PREFILTER: pre-filter runs
 * @FUSE_BPF_POSTFILTER: post-filter runs
 * @FUSE_BPF_V_CONTINUE: verdicts: BPF_FUSE_CONTINUE
 * @FUSE_BPF_V_USER: BPF_FUSE_USER
 * @FUSE_BPF_V_POSTFILTER: BPF_FUSE_POSTFILTER
 * @FUSE_BPF_V_USER_FILTER: BPF_FUSE_USER_PREFILTER or _USER_POSTFILTER
 * @FUSE_BPF_V_ERRNO: an errno
 * @FUSE_BPF_V_INVALID: anything else, which fails the operation with EIO
 * @FUSE_BPF_E_BACKING: errors: the backing call failed
 * @FUSE_BPF_E_PREFILTER: the pre-filter failed the operation
 * @FUSE_BPF_E_POSTFILTER: the post-filter failed the operation
 * @FUSE_BPF_E_REWRITE: a rewrite was refused (EINVAL)
 * @FUSE_BPF_E_UNSUPPORTED: a server filter was asked for, and no server
 *	negotiated FUSE_BPF (EOPNOTSUPP)
 * @FUSE_BPF_E_SERVER: a server filter failed the operation, or making a
 *	node known to the server failed
 * @FUSE_BPF_E_NO_SERVER: a request was not sent: no daemon, or a node
 *	the server does not know
 * @FUSE_BPF_NR_COUNTERS: the number of counters
 */
enum fuse_bpf_counter {
	FUSE_BPF_PREFILTER,
	FUSE_BPF_POSTFILTER,
	FUSE_BPF_V_CONTINUE,
	FUSE_BPF_V_USER,
	FUSE_BPF_V_POSTFILTER,
	FUSE_BPF_V_USER_FILTER,
	FUSE_BPF_V_ERRNO,
	FUSE_BPF_V_INVALID,
	FUSE_BPF_E_BACKING,
	FUSE_BPF_E_PREFILTER,
	FUSE_BPF_E_POSTFILTER,
	FUSE_BPF_E_REWRITE,
	FUSE_BPF_E_UNSUPPORTED,
	FUSE_BPF_E_SERVER,
	FUSE_BPF_E_NO_SERVER,
	FUSE_BPF_NR_COUNTERS
};

/* Opcodes counted one by one: the FUSE ones, then fileattr get and set */
#define FUSE_BPF_STATS_OPS	66

struct fuse_bpf_stats {
	u64 backed[FUSE_BPF_STATS_OPS];
	u64 count[FUSE_BPF_NR_COUNTERS];
};

/* One more of @counter on the connection: see fuse_bpf_show_stats() */
static inline void fuse_bpf_count(struct fuse_conn *fc,
				  enum fuse_bpf_counter counter)
{
#ifdef CONFIG_FUSE_BPF
	this_cpu_inc(fc->bpf_stats->count[counter]);
#endif
}

/* One more operation of @opcode served by a backing object */
static inline void fuse_bpf_count_backed(struct fuse_conn *fc, u32 opcode)
{
#ifdef CONFIG_FUSE_BPF
	unsigned int slot = 0;

	if (opcode < FUSE_BPF_STATS_OPS - 2)
		slot = opcode;
	else if (opcode == FUSE_BPF_FILEATTR_GET)
		slot = FUSE_BPF_STATS_OPS - 2;
	else if (opcode == FUSE_BPF_FILEATTR_SET)
		slot = FUSE_BPF_STATS_OPS - 1;
	this_cpu_inc(fc->bpf_stats->backed[slot]);
#endif
}

struct bpf_prog;
struct fs_parameter;
struct fuse_backed_conn;

/* backed_mount.c */
int fuse_backed_sysfs_init(struct kobject *fuse_kobj);
void fuse_backed_sysfs_cleanup(struct kobject *fuse_kobj);
bool fuse_backed_backing_ok(const struct path *path);
int fuse_backed_capture_backing(struct fuse_backed_conn *bc,
				struct file *file, struct path *path,
				const struct cred **credp);
unsigned int fuse_backed_fs_index(struct fuse_conn *fc,
				  struct super_block *sb);
int fuse_backed_fs_add(struct fuse_conn *fc, const struct path *path);
bool fuse_backed_map_ino(unsigned int idx, u64 *ino);
bool fuse_backed_encode_fh(struct inode *inode, u32 *fh, int *max_len,
			   int *type);
int fuse_backed_sync_fs(struct fuse_conn *fc);
void fuse_backed_conn_destroy(struct fuse_conn *fc);
void fuse_backed_conn_free(struct fuse_conn *fc);
void fuse_backed_show_backing(struct seq_file *m, struct fuse_conn *fc);
void fuse_bpf_show_stats(struct seq_file *m, struct fuse_conn *fc);
bool fuse_backed_may_send(struct fuse_conn *fc, struct fuse_args *args);
int fuse_backed_parse_param(struct fs_context *fsc, struct fs_parameter *param);
int fuse_backed_check_fsc(struct fs_context *fsc);
void fuse_backed_free_fsc(struct fuse_fs_context *ctx);
void fuse_backed_fill_super(struct super_block *sb, struct inode *root,
			    struct fuse_fs_context *ctx);
void fuse_backed_start_no_daemon(struct fuse_conn *fc);
void fuse_backed_show_options(struct seq_file *m, struct fuse_conn *fc);
extern const struct fuse_iqueue_ops fuse_backed_no_daemon_fiq_ops;

/* bpf_filter.c */
void fuse_bpf_set_prog(struct fuse_inode *fi, struct bpf_prog *prog);
bool fuse_bpf_run(const struct fuse_bpf_op *op, u32 opcode,
		  struct inode *inode, void *args, int *err);
int fuse_bpf_arg_name(const struct bpf_fuse_arg *arg, struct qstr *name);
struct bpf_prog *fuse_bpf_get_prog(struct inode *inode);

/* backed_server.c */
bool fuse_backed_take_nodeid(struct inode *inode,
			     const struct fuse_entry_out *o);
int fuse_backed_make_known(struct inode *inode);
int fuse_backed_server_filters(struct inode *inode);
int fuse_backed_server_filter(struct inode *inode, struct bpf_fuse_args *fa);

/* backed_inode.c */
void fuse_backed_copyattr(struct inode *inode);
void fuse_backed_inode_attr(struct fuse_attr *attr, struct inode *binode);
void fuse_backed_lockdep_annotate(struct inode *inode);
void fuse_backed_lockdep_annotate_sb(struct super_block *sb);
void fuse_backed_acl_dont_cache(struct inode *inode);
void fuse_backed_evict_inode(struct fuse_inode *fi);
bool fuse_backed_getattr(struct inode *inode, struct kstat *stat,
			 u32 request_mask, unsigned int flags, int *err);
bool fuse_backed_statfs(struct dentry *dentry, struct kstatfs *buf, int *err);
bool fuse_backed_permission(struct mnt_idmap *idmap, struct inode *inode,
			    int mask, int *err);
struct inode *fuse_backed_iget(struct super_block *sb,
			       const struct path *path,
			       const struct cred *cred,
			       struct bpf_prog *prog);
void fuse_backed_copyattr_finalize(struct inode *inode, void *args);
bool fuse_backed_setattr(struct mnt_idmap *idmap, struct dentry *entry,
			 struct iattr *attr, int *err);
bool fuse_backed_update_time(struct inode *inode, int flags, int *ret);
bool fuse_backed_fiemap(struct inode *inode, struct fiemap_extent_info *fieinfo,
			u64 start, u64 len, int *err);

/* backed_dir.c */
bool fuse_backed_lookup(struct inode *dir, struct dentry *entry,
			struct dentry **newent);
struct dentry *fuse_backed_lookup_unlocked(struct inode *dir,
					   const struct qstr *name);
bool fuse_backed_dentry_revalidate(struct dentry *entry, unsigned int flags,
				   int *ret);
bool fuse_backed_readdir(struct file *file, struct dir_context *ctx, int *err);
bool fuse_backed_mknod(struct mnt_idmap *idmap, struct inode *dir,
		       struct dentry *entry, umode_t mode, dev_t rdev, int *err);
bool fuse_backed_mkdir(struct mnt_idmap *idmap, struct inode *dir,
		       struct dentry *entry, umode_t mode, int *err);
bool fuse_backed_symlink(struct mnt_idmap *idmap, struct inode *dir,
			 struct dentry *entry, const char *link, int *err);
bool fuse_backed_create_open(struct mnt_idmap *idmap, struct inode *dir,
			     struct dentry *entry, struct file *file,
			     umode_t mode, int *err);
bool fuse_backed_tmpfile(struct mnt_idmap *idmap, struct inode *dir,
			 struct file *file, umode_t mode, int *err);
bool fuse_backed_link(struct dentry *entry, struct inode *dir,
		      struct dentry *newent, int *err);
bool fuse_backed_remove(struct inode *dir, struct dentry *entry, int *err);
bool fuse_backed_rename(struct inode *olddir, struct dentry *oldent,
			struct inode *newdir, struct dentry *newent,
			unsigned int flags, int *err);
bool fuse_backed_get_link(struct dentry *dentry, struct inode *inode,
			  struct delayed_call *done, const char **link);

/* backed_file.c */
bool fuse_backed_open(struct inode *inode, struct file *file, int *err);
bool fuse_backed_release(struct file *file);
bool fuse_backed_flush(struct file *file, fl_owner_t id, int *err);
bool fuse_backed_fsync(struct file *file, loff_t start, loff_t end,
		       int datasync, int *err);
bool fuse_backed_can_remap(struct inode *inode);
bool fuse_backed_remap_file_range(struct file *in, loff_t pos_in,
				  struct file *out, loff_t pos_out, loff_t len,
				  unsigned int flags, loff_t *ret);
bool fuse_backed_read_iter(struct kiocb *iocb, struct iov_iter *to, ssize_t *ret);
bool fuse_backed_write_iter(struct kiocb *iocb, struct iov_iter *from,
			    ssize_t *ret);
bool fuse_backed_splice_read(struct file *in, loff_t *ppos,
			     struct pipe_inode_info *pipe, size_t len,
			     unsigned int flags, ssize_t *ret);
bool fuse_backed_splice_write(struct pipe_inode_info *pipe, struct file *out,
			      loff_t *ppos, size_t len, unsigned int flags,
			      ssize_t *ret);
bool fuse_backed_mmap(struct file *file, struct vm_area_struct *vma, int *err);
bool fuse_backed_llseek(struct file *file, loff_t offset, int whence,
			loff_t *ret);
bool fuse_backed_poll(struct file *file, poll_table *wait, __poll_t *mask);
bool fuse_backed_fallocate(struct file *file, int mode, loff_t offset,
			   loff_t length, int *err);
long fuse_backed_ioctl(struct file *file, unsigned int cmd,
		       unsigned int flags);
bool fuse_backed_copy_file_range(struct file *in, loff_t pos_in,
				 struct file *out, loff_t pos_out, size_t len,
				 unsigned int flags, ssize_t *ret);

/* backed_xattr.c */
bool fuse_backed_getxattr(struct inode *inode, const char *name, void *value,
			  size_t size, ssize_t *ret);
bool fuse_backed_listxattr(struct dentry *entry, char *list, size_t size,
			   ssize_t *ret);
bool fuse_backed_get_acl(struct dentry *dentry, int type, struct posix_acl **acl);
bool fuse_backed_get_inode_acl(struct inode *inode, int type, bool rcu,
			       struct posix_acl **acl);
bool fuse_backed_set_acl(struct mnt_idmap *idmap, struct dentry *dentry,
			 struct posix_acl *acl, int type, int *err);
bool fuse_backed_setxattr(struct inode *inode, const char *name,
			  const void *value, size_t size, int flags, int *err);
bool fuse_backed_fileattr_get(struct dentry *dentry, struct fileattr *fa,
			      int *err);
bool fuse_backed_fileattr_set(struct mnt_idmap *idmap, struct dentry *dentry,
			      struct fileattr *fa, int *err);

/* backed_reply.c */
void fuse_backed_init_reply(struct fuse_mount *fm, u64 flags,
			    struct fuse_init_out *arg);
void fuse_backed_lookup_init(struct fuse_args *args,
			     struct fuse_backed_entry *feb);
void fuse_backed_create_init(struct fuse_args *args,
			     struct fuse_backed_entry *feb);
void fuse_backed_entry_put(struct fuse_backed_entry *feb);
bool fuse_backed_reply_needs_ioctl(struct fuse_conn *fc, struct fuse_args *args,
				   size_t len);
int fuse_backed_reply_fds(struct fuse_conn *fc, struct fuse_args *args,
			  bool fd_reply);
int fuse_backed_lookup_iget(struct super_block *sb, struct inode *dir,
			    const struct qstr *name, struct fuse_entry_out *outarg,
			    struct fuse_backed_entry *feb, umode_t type,
			    struct inode **inode);
bool fuse_backed_entry_changed(struct inode *dir, const struct qstr *name,
			       struct inode *inode, struct fuse_backed_entry *feb);

#endif /* _FS_FUSE_BPF_H */
