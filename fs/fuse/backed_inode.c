// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-bpf: backed inodes and their attributes, permissions and times.
 *
 * Copyright (c) 2026 The fuse-bpf authors
 */

#include "fuse_i.h"
#include "fuse_bpf.h"

#include <linux/bpf.h>
#include <linux/cred.h>
#include <linux/lockdep.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/statfs.h>
#include <linux/xattr.h>

/* Inode flags of the backing inode that the VFS enforces, as ovl_copyflags */
#define FUSE_BACKED_COPY_FLAGS (S_SYNC | S_NOATIME | S_APPEND | S_IMMUTABLE)

/**
 * fuse_backed_copyattr() - refresh a backed inode from its backing inode
 * @inode: the FUSE inode
 *
 * The backing inode's attributes are authoritative: they are copied to the
 * FUSE inode after every operation that may have changed them, and before
 * every owner, mode or privilege decision, since the backing inode may have
 * changed behind the FUSE inode's back. Safe in RCU walk mode.
 */
void fuse_backed_copyattr(struct inode *inode)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	/* NULL once evicted: an RCU walk may still see the inode */
	struct dentry *bentry = READ_ONCE(fi->backing_path.dentry);
	struct mnt_idmap *idmap = mnt_idmap(fi->backing_path.mnt);
	struct inode *binode = bentry ? d_inode_rcu(bentry) : NULL;
	unsigned int flags;

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
	flags = READ_ONCE(binode->i_flags) & FUSE_BACKED_COPY_FLAGS;
	/* Not an atomic update each time: they seldom change */
	if ((READ_ONCE(inode->i_flags) & FUSE_BACKED_COPY_FLAGS) != flags)
		inode_set_flags(inode, flags, FUSE_BACKED_COPY_FLAGS);
}

/*
 * Operations on a backed inode take the backing inode's lock inside the
 * FUSE inode's. With fuse-bpf stacked on fuse-bpf both are FUSE inodes:
 * give the inodes of each stacking depth their own lock class, as
 * overlayfs does.
 */
void fuse_backed_lockdep_annotate(struct inode *inode)
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
void fuse_backed_lockdep_annotate_sb(struct super_block *sb)
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

/* The backing inode's ACLs are used: see fuse_backed_get_inode_acl() */
void fuse_backed_acl_dont_cache(struct inode *inode)
{
	inode->i_acl = ACL_DONT_CACHE;
	inode->i_default_acl = ACL_DONT_CACHE;
}

void fuse_backed_evict_inode(struct fuse_inode *fi)
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

/* @stat as a FUSE reply carries it, for programs */
static void fuse_backed_stat_attr(struct fuse_attr *attr,
				  const struct kstat *stat)
{
	*attr = (struct fuse_attr) {
		.ino = stat->ino,
		.size = stat->size,
		.blocks = stat->blocks,
		.atime = stat->atime.tv_sec,
		.mtime = stat->mtime.tv_sec,
		.ctime = stat->ctime.tv_sec,
		.atimensec = stat->atime.tv_nsec,
		.mtimensec = stat->mtime.tv_nsec,
		.ctimensec = stat->ctime.tv_nsec,
		.mode = stat->mode,
		.nlink = stat->nlink,
		.uid = from_kuid(&init_user_ns, stat->uid),
		.gid = from_kgid(&init_user_ns, stat->gid),
		.rdev = new_encode_dev(stat->rdev),
		.blksize = stat->blksize,
	};
}

/* The attributes of a backing inode, as in a LOOKUP reply */
void fuse_backed_inode_attr(struct fuse_attr *attr, struct inode *binode)
{
	struct kstat stat;

	generic_fillattr(&nop_mnt_idmap, STATX_BASIC_STATS, binode, &stat);
	fuse_backed_stat_attr(attr, &stat);
}

struct fuse_backed_getattr_args {
	struct inode *inode;
	struct kstat *stat;
	u32 request_mask;
	unsigned int flags;
	struct fuse_getattr_in in;
	struct fuse_attr_out out;
};

static void fuse_backed_getattr_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_getattr_args *ga = args;

	ga->in.getattr_flags = ga->flags;
	fa->in_numargs = 1;
	bpf_fuse_arg_set(&fa->in_args[0], &ga->in, sizeof(ga->in), 0);
}

static void fuse_backed_getattr_init_out(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_getattr_args *ga = args;

	fuse_backed_stat_attr(&ga->out.attr, ga->stat);
	fa->out_numargs = 1;
	bpf_fuse_arg_set(&fa->out_args[0], &ga->out, sizeof(ga->out), 0);
}

/*
 * What stat() reports may be rewritten, not the file type; the inode keeps
 * the backing inode's attributes, which the permission checks use.
 */
static int fuse_backed_getattr_apply_out(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_getattr_args *ga = args;
	const struct fuse_attr *attr = &((struct fuse_attr_out *)
					 fa->out_args[0].value)->attr;
	struct kstat *stat = ga->stat;
	kuid_t uid = make_kuid(&init_user_ns, attr->uid);
	kgid_t gid = make_kgid(&init_user_ns, attr->gid);

	if ((attr->mode ^ stat->mode) & S_IFMT || !uid_valid(uid) ||
	    !gid_valid(gid) || attr->atimensec >= NSEC_PER_SEC ||
	    attr->mtimensec >= NSEC_PER_SEC || attr->ctimensec >= NSEC_PER_SEC)
		return -EINVAL;
	stat->ino = attr->ino;
	stat->size = attr->size;
	stat->blocks = attr->blocks;
	stat->atime = (struct timespec64){ attr->atime, attr->atimensec };
	stat->mtime = (struct timespec64){ attr->mtime, attr->mtimensec };
	stat->ctime = (struct timespec64){ attr->ctime, attr->ctimensec };
	stat->mode = attr->mode;
	stat->nlink = attr->nlink;
	stat->uid = uid;
	stat->gid = gid;
	stat->rdev = new_decode_dev(attr->rdev);
	stat->blksize = attr->blksize;
	return 0;
}

static int fuse_backed_getattr_backing(struct path *backing_path, void *args)
{
	struct fuse_backed_getattr_args *ga = args;
	struct inode *inode = ga->inode;
	u64 ino;
	int err;

	/* As overlayfs: a caller that skipped security checks skips them here */
	if (ga->flags & AT_GETATTR_NOSEC)
		err = vfs_getattr_nosec(backing_path, ga->stat,
					ga->request_mask, ga->flags);
	else
		err = vfs_getattr(backing_path, ga->stat, ga->request_mask,
				  ga->flags);
	/*
	 * Else the backing st_dev and st_ino, see fuse_backed_map_ino(); a
	 * post-filter sees what stat() would report
	 */
	ino = ga->stat->ino;
	if (!err && fuse_backed_map_ino(get_fuse_inode(inode)->backing_fs,
					&ino)) {
		ga->stat->dev = inode->i_sb->s_dev;
		ga->stat->ino = ino;
	}
	return err;
}

static const struct fuse_bpf_op fuse_backed_getattr_op = {
	.init_in = fuse_backed_getattr_init_in,
	.backing = fuse_backed_getattr_backing,
	.init_out = fuse_backed_getattr_init_out,
	.apply_out = fuse_backed_getattr_apply_out,
	.finalize = fuse_backed_copyattr_finalize,
};

/**
 * fuse_backed_getattr() - getattr/statx of a backed inode
 * @inode: the FUSE inode
 * @stat: the attributes to fill in
 * @request_mask: STATX_* wanted
 * @flags: AT_STATX_* sync flags
 * @err: set to the result
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_getattr(struct inode *inode, struct kstat *stat,
			 u32 request_mask, unsigned int flags, int *err)
{
	struct fuse_backed_getattr_args args = {
		.inode = inode,
		.stat = stat,
		.request_mask = request_mask,
		.flags = flags,
	};

	return fuse_bpf_run(&fuse_backed_getattr_op, FUSE_GETATTR,
			    inode, &args, err);
}

struct fuse_backed_statfs_args {
	struct kstatfs *buf;
	struct fuse_statfs_out out;
};

static int fuse_backed_statfs_backing(struct path *backing_path, void *args)
{
	return vfs_statfs(backing_path,
			  ((struct fuse_backed_statfs_args *)args)->buf);
}

static void fuse_backed_statfs_init_out(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_statfs_args *sa = args;
	struct kstatfs *buf = sa->buf;

	sa->out.st = (struct fuse_kstatfs) {
		.blocks = buf->f_blocks,
		.bfree = buf->f_bfree,
		.bavail = buf->f_bavail,
		.files = buf->f_files,
		.ffree = buf->f_ffree,
		.bsize = buf->f_bsize,
		.namelen = buf->f_namelen,
		.frsize = buf->f_frsize,
	};
	fa->out_numargs = 1;
	bpf_fuse_arg_set(&fa->out_args[0], &sa->out, sizeof(sa->out), 0);
}

/* What statfs() reports, as a FUSE server's reply would set it */
static int fuse_backed_statfs_apply_out(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_kstatfs *st = &((struct fuse_statfs_out *)
				    fa->out_args[0].value)->st;
	struct kstatfs *buf = ((struct fuse_backed_statfs_args *)args)->buf;

	buf->f_blocks = st->blocks;
	buf->f_bfree = st->bfree;
	buf->f_bavail = st->bavail;
	buf->f_files = st->files;
	buf->f_ffree = st->ffree;
	buf->f_bsize = st->bsize;
	buf->f_namelen = st->namelen;
	buf->f_frsize = st->frsize;
	return 0;
}

static void fuse_backed_statfs_finalize(struct inode *inode, void *args)
{
	((struct fuse_backed_statfs_args *)args)->buf->f_type = FUSE_SUPER_MAGIC;
}

static const struct fuse_bpf_op fuse_backed_statfs_op = {
	.backing = fuse_backed_statfs_backing,
	.init_out = fuse_backed_statfs_init_out,
	.apply_out = fuse_backed_statfs_apply_out,
	.finalize = fuse_backed_statfs_finalize,
};

/**
 * fuse_backed_statfs() - statfs of a backed inode's filesystem
 * @dentry: the FUSE dentry
 * @buf: the statistics to fill in
 * @err: set to the result
 *
 * Return: true if the operation ran on the backing filesystem.
 */
bool fuse_backed_statfs(struct dentry *dentry, struct kstatfs *buf, int *err)
{
	struct fuse_backed_statfs_args sa = { .buf = buf };

	return fuse_bpf_run(&fuse_backed_statfs_op, FUSE_STATFS,
			    d_inode(dentry), &sa, err);
}

struct fuse_backed_permission_args {
	int mask;
	struct fuse_access_in in;
};

static void fuse_backed_permission_init_in(struct bpf_fuse_args *fa,
					   void *args)
{
	struct fuse_backed_permission_args *pa = args;

	pa->in.mask = pa->mask & (MAY_READ | MAY_WRITE | MAY_EXEC);
	fa->in_numargs = 1;
	bpf_fuse_arg_set(&fa->in_args[0], &pa->in, sizeof(pa->in), 0);
}

static int fuse_backed_permission_backing(struct path *backing_path, void *args)
{
	struct fuse_backed_permission_args *pa = args;
	struct inode *binode = d_inode_rcu(backing_path->dentry);

	/* Put by an eviction racing with an RCU walk */
	if (!binode)
		return -ECHILD;
	return inode_permission(mnt_idmap(backing_path->mnt), binode,
				pa->mask);
}

static const struct fuse_bpf_op fuse_backed_permission_op = {
	.init_in = fuse_backed_permission_init_in,
	.backing = fuse_backed_permission_backing,
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
static int fuse_backed_grants_privs(const struct path *bpath, int mask)
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

static int fuse_backed_mount_allows(struct inode *inode, int mask)
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
		ret = fuse_backed_grants_privs(&bpath, mask);
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
 * fuse_backed_permission() - permission check on a backed inode
 * @idmap: idmap of the FUSE mount
 * @inode: the FUSE inode
 * @mask: MAY_* to check; may include MAY_NOT_BLOCK
 * @err: set to the result
 *
 * As overlayfs checks its two layers: the caller against the FUSE inode's
 * fresh (backing) attributes and ACLs, then the backing credentials
 * against the backing inode. No server sees a backed operation, so the
 * caller is checked whether or not the mount has default_permissions. The
 * program runs only once the caller passed: it can narrow access, never
 * widen it.
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_permission(struct mnt_idmap *idmap, struct inode *inode,
			    int mask, int *err)
{
	struct fuse_backed_permission_args args = { .mask = mask };

	fuse_backed_copyattr(inode);
	*err = generic_permission(idmap, inode, mask);
	if (!*err)
		*err = fuse_backed_mount_allows(inode, mask);
	if (*err)
		return true;
	return fuse_bpf_run(&fuse_backed_permission_op, FUSE_ACCESS,
			    inode, &args, err);
}

struct fuse_backed_iget_key {
	const struct path *path;
	const struct cred *cred;
	struct bpf_prog *prog;
};

/*
 * A backed inode is one (backing inode, credentials, program): none of
 * them changes once it is made, so that no reply can take the mounter's
 * program off an inode or lend it the mounter's credentials. Credentials
 * are those captured from one task's (fuse_backed_capture_backing()). Also
 * called on inodes being evicted, see fuse_backed_evict_inode().
 */
static int fuse_backed_inode_eq(struct inode *inode, void *data)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	struct fuse_backed_iget_key *key = data;
	struct dentry *bentry;

	bentry = READ_ONCE(fi->backing_path.dentry);
	return bentry && d_inode(bentry) == d_inode(key->path->dentry) &&
	       rcu_access_pointer(fi->bpf) == key->prog &&
	       fi->backing_cred == key->cred;
}

/* Runs under inode_hash_lock: takes references only */
static int fuse_backed_inode_set(struct inode *inode, void *data)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	struct fuse_backed_iget_key *key = data;

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
 * no request naming them is sent (see fuse_backed_may_send()).
 */
struct inode *fuse_backed_iget(struct super_block *sb,
			       const struct path *path,
			       const struct cred *cred,
			       struct bpf_prog *prog)
{
	struct inode *binode = d_inode(path->dentry);
	struct fuse_backed_iget_key key = {
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

	inode = iget5_locked(sb, (unsigned long)binode, fuse_backed_inode_eq,
			     fuse_backed_inode_set, &key);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	if (inode->i_state & I_NEW) {
		idx = fuse_backed_fs_index(get_fuse_conn_super(sb),
					   path->mnt->mnt_sb);
		get_fuse_inode(inode)->backing_fs = idx;
		fuse_backed_map_ino(idx, &attr.ino);
		/* Set by fuse_change_attributes() on other inodes */
		inode->i_ino = attr.ino;
		/* atime follows the FUSE mount: see fuse_backed_update_time() */
		inode->i_flags |= S_NOCMTIME;
		inode->i_generation = binode->i_generation;
		fuse_init_inode(inode, &attr, get_fuse_conn_super(sb));
		fuse_backed_acl_dont_cache(inode);
		fuse_backed_lockdep_annotate(inode);
		fuse_backed_copyattr(inode);
		unlock_new_inode(inode);
	} else {
		fuse_backed_copyattr(inode);
	}
	return inode;
}

struct fuse_backed_setattr_args {
	struct iattr *attr;
	struct mnt_idmap *idmap;
	struct dentry *entry;
	struct iattr new;	/* as a program rewrote it */
	struct fuse_setattr_in in;
};

/* The FATTR_* bit of each ATTR_* a program sees and may rewrite */
static const struct {
	unsigned int attr;
	u32 fattr;
} fuse_backed_fattr[] = {
	{ ATTR_MODE, FATTR_MODE }, { ATTR_UID, FATTR_UID },
	{ ATTR_GID, FATTR_GID }, { ATTR_SIZE, FATTR_SIZE },
	{ ATTR_ATIME, FATTR_ATIME }, { ATTR_MTIME, FATTR_MTIME },
	{ ATTR_CTIME, FATTR_CTIME },
};

static void fuse_backed_setattr_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_setattr_args *sa = args;
	const struct iattr *attr = sa->attr;
	struct fuse_setattr_in *in = &sa->in;
	int i;

	for (i = 0; i < ARRAY_SIZE(fuse_backed_fattr); i++)
		if (attr->ia_valid & fuse_backed_fattr[i].attr)
			in->valid |= fuse_backed_fattr[i].fattr;
	if ((attr->ia_valid & ATTR_ATIME) && !(attr->ia_valid & ATTR_ATIME_SET))
		in->valid |= FATTR_ATIME_NOW;
	if ((attr->ia_valid & ATTR_MTIME) && !(attr->ia_valid & ATTR_MTIME_SET))
		in->valid |= FATTR_MTIME_NOW;
	/* Only what is set: the other fields of @attr may be anything */
	if (in->valid & FATTR_MODE)
		in->mode = attr->ia_mode;
	if (in->valid & FATTR_UID)
		in->uid = from_kuid(&init_user_ns,
				    vfsuid_into_kuid(attr->ia_vfsuid));
	if (in->valid & FATTR_GID)
		in->gid = from_kgid(&init_user_ns,
				    vfsgid_into_kgid(attr->ia_vfsgid));
	if (in->valid & FATTR_SIZE)
		in->size = attr->ia_size;
	if (in->valid & FATTR_ATIME) {
		in->atime = attr->ia_atime.tv_sec;
		in->atimensec = attr->ia_atime.tv_nsec;
	}
	if (in->valid & FATTR_MTIME) {
		in->mtime = attr->ia_mtime.tv_sec;
		in->mtimensec = attr->ia_mtime.tv_nsec;
	}
	if (in->valid & FATTR_CTIME) {
		in->ctime = attr->ia_ctime.tv_sec;
		in->ctimensec = attr->ia_ctime.tv_nsec;
	}
	fa->in_numargs = 1;
	bpf_fuse_arg_set(&fa->in_args[0], in, sizeof(*in), 0);
}

/*
 * A program may change the values of what is set, not what is set nor
 * anything else: the times set to now and ctime (notify_change() sets
 * it) are not its to change. The caller is checked again on the new
 * values: a program narrows access, it cannot widen it.
 */
static int fuse_backed_setattr_apply_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_setattr_args *sa = args;
	const struct fuse_setattr_in *in = fa->in_args[0].value;
	struct fuse_setattr_in kept = *in;
	struct iattr *attr = &sa->new;
	kuid_t uid = make_kuid(&init_user_ns, in->uid);
	kgid_t gid = make_kgid(&init_user_ns, in->gid);
	u32 valid = sa->in.valid;
	int err;

	if (valid & FATTR_MODE)
		kept.mode = sa->in.mode;
	if (valid & FATTR_UID)
		kept.uid = sa->in.uid;
	if (valid & FATTR_GID)
		kept.gid = sa->in.gid;
	if (valid & FATTR_SIZE)
		kept.size = sa->in.size;
	if ((valid & (FATTR_ATIME | FATTR_ATIME_NOW)) == FATTR_ATIME) {
		kept.atime = sa->in.atime;
		kept.atimensec = sa->in.atimensec;
	}
	if ((valid & (FATTR_MTIME | FATTR_MTIME_NOW)) == FATTR_MTIME) {
		kept.mtime = sa->in.mtime;
		kept.mtimensec = sa->in.mtimensec;
	}
	/* What is not set must be as it was; what is set must make sense */
	if (memcmp(&kept, &sa->in, sizeof(kept)) ||
	    (in->mode & S_IFMT) != (sa->in.mode & S_IFMT) ||
	    ((valid & FATTR_UID) && !uid_valid(uid)) ||
	    ((valid & FATTR_GID) && !gid_valid(gid)) ||
	    (loff_t)in->size < 0 ||
	    in->atimensec >= NSEC_PER_SEC || in->mtimensec >= NSEC_PER_SEC)
		return -EINVAL;
	*attr = *sa->attr;
	if (valid & FATTR_MODE)
		attr->ia_mode = in->mode;
	if (valid & FATTR_UID)
		attr->ia_vfsuid = VFSUIDT_INIT(uid);
	if (valid & FATTR_GID)
		attr->ia_vfsgid = VFSGIDT_INIT(gid);
	if (valid & FATTR_SIZE)
		attr->ia_size = in->size;
	if (valid & FATTR_ATIME)
		attr->ia_atime = (struct timespec64){ in->atime,
						      in->atimensec };
	if (valid & FATTR_MTIME)
		attr->ia_mtime = (struct timespec64){ in->mtime,
						      in->mtimensec };
	err = setattr_prepare(sa->idmap, sa->entry, attr);
	if (err)
		return err;
	sa->attr = attr;
	return 0;
}

static int fuse_backed_setattr_backing(struct path *backing_path, void *args)
{
	struct fuse_backed_setattr_args *sa = args;
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

void fuse_backed_copyattr_finalize(struct inode *inode, void *args)
{
	fuse_backed_copyattr(inode);
}

static const struct fuse_bpf_op fuse_backed_setattr_op = {
	.init_in = fuse_backed_setattr_init_in,
	.apply_in = fuse_backed_setattr_apply_in,
	.backing = fuse_backed_setattr_backing,
	.finalize = fuse_backed_copyattr_finalize,
	.write = true,
};

/**
 * fuse_backed_setattr() - change the attributes of a backed inode
 * @idmap: idmap of the FUSE mount
 * @entry: the FUSE dentry
 * @attr: the change
 * @err: set to the result
 *
 * The caller is checked on the FUSE inode, refreshed from the backing
 * inode first (notify_change() may have decided on stale attributes), with
 * or without default_permissions; the backing credentials are checked by
 * the backing filesystem.
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_setattr(struct mnt_idmap *idmap, struct dentry *entry,
			 struct iattr *attr, int *err)
{
	struct inode *inode = d_inode(entry);
	struct fuse_backed_setattr_args args = {
		.attr = attr,
		.idmap = idmap,
		.entry = entry,
	};

	fuse_backed_copyattr(inode);
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
	return fuse_bpf_run(&fuse_backed_setattr_op, FUSE_SETATTR, inode, &args,
			    err);
}

/**
 * fuse_backed_update_time() - update the atime of a backed inode
 * @inode: the FUSE inode
 * @flags: S_* times to update
 * @ret: set to the result
 *
 * Backing files are opened O_NOATIME, so that the backing mount's atime
 * options do not apply. touch_atime() on the FUSE path applies the FUSE
 * mount's (noatime, relatime, read-only...) and lands here: the backing
 * inode's atime is updated as touch_atime() would on the backing path,
 * but without the backing mount's atime options: only its write access,
 * idmapping, and the backing inode's and superblock's own noatime count.
 * Only atime: S_NOCMTIME leaves the others to the backing filesystem.
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_update_time(struct inode *inode, int flags, int *ret)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	struct vfsmount *mnt = fi->backing_path.mnt;
	struct inode *binode;

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
	fuse_backed_copyattr(inode);
	return true;
}

/**
 * fuse_backed_fiemap() - the extent map of a backed file
 * @inode: the FUSE inode
 * @fieinfo: the request
 * @start: first byte
 * @len: length
 * @err: set to the result
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_fiemap(struct inode *inode, struct fiemap_extent_info *fieinfo,
			u64 start, u64 len, int *err)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	const struct cred *old_cred;
	struct inode *binode;

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
