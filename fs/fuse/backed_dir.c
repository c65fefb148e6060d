// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-bpf: names and directories of backed inodes: lookup,
 * revalidation, creation, removal, rename, links and readdir.
 *
 * Copyright (c) 2026 The fuse-bpf authors
 */

#include "fuse_i.h"
#include "fuse_bpf.h"

#include <linux/backing-file.h>
#include <linux/bpf.h>
#include <linux/bpf_fuse.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/security.h>

/*
 * The FUSE inode of an entry of the backed directory @dir: it inherits the
 * backing credentials and the program of @dir.
 */
static struct inode *fuse_backed_iget_child(struct inode *dir,
					    const struct path *path)
{
	struct bpf_prog *prog = fuse_bpf_get_prog(dir);
	struct inode *inode;

	inode = fuse_backed_iget(dir->i_sb, path,
				 get_fuse_inode(dir)->backing_cred, prog);
	if (prog)
		bpf_prog_put(prog);
	return inode;
}

/* Show a name to the program as FUSE requests carry it: with its NUL */
static void fuse_backed_name_arg(struct bpf_fuse_arg *arg,
				 const struct qstr *name)
{
	bpf_fuse_arg_set(arg, (void *)name->name, name->len + 1, NAME_MAX + 1);
}

/*
 * The time of a dentry of a backed directory is in d_fsdata, as for any
 * FUSE dentry. Bit 63 marks the entries made here from the backing
 * directory: the jiffies timeouts of the server's entries never reach it.
 * The other bits are the jiffies until which the verdict of the
 * directory's program holds: revalidation runs the program again after
 * that. Without a program the entry is valid as long as its backing is.
 */
#define FUSE_BACKED_ENTRY	BIT_ULL(63)

static u64 fuse_backed_entry_time(struct inode *dir, u64 until)
{
	if (!rcu_access_pointer(get_fuse_inode(dir)->bpf))
		return U64_MAX;
	return FUSE_BACKED_ENTRY | (until & ~FUSE_BACKED_ENTRY);
}

/* Does the verdict of the program on @entry still hold? */
static bool fuse_backed_verdict_holds(const struct dentry *entry)
{
	u64 until = fuse_dentry_time(entry) & ~FUSE_BACKED_ENTRY;

	return time_before64(get_jiffies_64(), until);
}

struct fuse_backed_lookup_args {
	struct inode *dir;
	struct qstr name;
	struct dentry *bentry;		/* the backing entry found */
	u64 until;			/* when the program must see it again */
	struct fuse_entry_out out;
	/* Revalidation in RCU mode: the entry checked, no reference */
	struct dentry *rcu_bentry;
	const unsigned char *rcu_name;
};

static void fuse_backed_lookup_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_lookup_args *la = args;

	fa->in_numargs = 1;
	fuse_backed_name_arg(&fa->in_args[0], &la->name);
}

/* The program looks another name up: the dentry keeps the caller's */
static int fuse_backed_lookup_apply_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_lookup_args *la = args;

	return fuse_bpf_arg_name(&fa->in_args[0], &la->name);
}

static int fuse_backed_lookup_backing(struct path *dpath, void *args)
{
	struct fuse_backed_lookup_args *la = args;

	/* In RCU mode, only the name whose entry is known can be looked up */
	if (la->rcu_bentry) {
		if (la->name.name != la->rcu_name)
			return -ECHILD;
		la->bentry = la->rcu_bentry;
		return 0;
	}
	la->bentry = lookup_one_unlocked(mnt_idmap(dpath->mnt),
					 la->name.name, dpath->dentry,
					 la->name.len);
	return PTR_ERR_OR_ZERO(la->bentry);
}

/* As a LOOKUP reply; a negative entry has node id 0 and no attributes */
static void fuse_backed_lookup_init_out(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_lookup_args *la = args;
	struct inode *binode = d_inode(la->bentry);

	/* The inode numbers stat() reports, see fuse_backed_map_ino() */
	if (binode) {
		fuse_backed_inode_attr(&la->out.attr, binode);
		fuse_backed_map_ino(get_fuse_inode(la->dir)->backing_fs,
				    &la->out.attr.ino);
	}
	fa->out_numargs = 1;
	bpf_fuse_arg_set(&fa->out_args[0], &la->out, sizeof(la->out), 0);
}

/*
 * The entry timeout is how long the program's verdict holds: until then,
 * revalidation does not run the program again. The rest describes the
 * backing entry, which the program cannot change.
 */
static int fuse_backed_lookup_apply_out(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_lookup_args *la = args;
	struct fuse_entry_out out;

	memcpy(&out, fa->out_args[0].value, sizeof(out));
	la->until = fuse_time_to_jiffies(out.entry_valid,
					 out.entry_valid_nsec);
	out.entry_valid = la->out.entry_valid;
	out.entry_valid_nsec = la->out.entry_valid_nsec;
	return memcmp(&out, &la->out, sizeof(out)) ? -EINVAL : 0;
}

static const struct fuse_bpf_op fuse_backed_lookup_op = {
	.init_in = fuse_backed_lookup_init_in,
	.apply_in = fuse_backed_lookup_apply_in,
	.backing = fuse_backed_lookup_backing,
	.init_out = fuse_backed_lookup_init_out,
	.apply_out = fuse_backed_lookup_apply_out,
	.post_user = true,
};

/* The lookup again in a walk in RCU mode, see fuse_backed_refilter_rcu() */
static const struct fuse_bpf_op fuse_backed_lookup_rcu_op = {
	.init_in = fuse_backed_lookup_init_in,
	.apply_in = fuse_backed_lookup_apply_in,
	.backing = fuse_backed_lookup_backing,
	.init_out = fuse_backed_lookup_init_out,
	.apply_out = fuse_backed_lookup_apply_out,
	.rcu = true,
	.post_user = true,
};

/**
 * fuse_backed_lookup() - look a name up in the backing directory
 * @dir: the FUSE directory
 * @entry: the FUSE dentry to look up
 * @newent: set to the result of the lookup if it ran here
 *
 * The child inherits the backing of the directory: it is backed by the
 * entry of the same name in the backing directory, if there is one, and
 * the server is not asked unless the program of @dir says so.
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_lookup(struct inode *dir, struct dentry *entry,
			struct dentry **newent)
{
	struct fuse_backed_lookup_args la = {
		.dir = dir,
		.name = entry->d_name,
	};
	struct fuse_inode *dfi = get_fuse_inode(dir);
	struct inode *inode = NULL;
	struct path path;
	bool here;
	int err;

	here = fuse_bpf_run(&fuse_backed_lookup_op, FUSE_LOOKUP, dir, &la, &err);
	if (here && !err && d_is_positive(la.bentry)) {
		path.mnt = dfi->backing_path.mnt;
		path.dentry = la.bentry;
		inode = fuse_backed_iget_child(dir, &path);
		if (IS_ERR(inode))
			err = PTR_ERR(inode);
	}
	/* Also when a post-filter hands it over after the backing lookup */
	if (!IS_ERR_OR_NULL(la.bentry))
		dput(la.bentry);
	if (!here)
		return false;
	if (err) {
		*newent = ERR_PTR(err);
		return true;
	}

	*newent = d_splice_alias(inode, entry);
	if (!IS_ERR(*newent))
		fuse_dentry_settime(*newent ?: entry,
				    fuse_backed_entry_time(dir, la.until));
	return true;
}

/* Is @bentry (still) the backing entry of the FUSE inode @inode? */
static bool fuse_backed_is_backing(struct inode *inode, struct dentry *bentry)
{
	struct fuse_inode *fi = get_fuse_inode(inode);

	return fi->backing_path.dentry && d_is_positive(bentry) &&
	       d_inode(bentry) == d_inode(fi->backing_path.dentry);
}

/*
 * Must the program of @dir see @entry again? Until the time its last
 * verdict gave, revalidation checks only the backing entry.
 */
static bool fuse_backed_program_decides(struct inode *dir,
					const struct dentry *entry)
{
	return rcu_access_pointer(get_fuse_inode(dir)->bpf) &&
	       !fuse_backed_verdict_holds(entry);
}

/*
 * Is @entry of @dir, positive with @inode, still what a lookup of its name
 * in the backing directory would find? It is if the backing dentry of its inode
 * is still hashed under the same name in the same backing directory: the
 * dcache holds one hashed dentry per name. No lookup, no credentials and
 * no lock, so that it also serves the walk in RCU mode. Anything else
 * (negative entries, hard links, a rename in progress, a backing
 * filesystem that compares names its own way) is left to a lookup.
 */
static struct dentry *fuse_backed_same_entry(struct inode *dir,
					     struct dentry *entry,
					     struct inode *inode,
					     unsigned int flags)
{
	struct dentry *bparent, *bentry;
	unsigned int seq;
	bool same;

	/* NULL once evicted: a walk in RCU mode may still see the inodes */
	bparent = READ_ONCE(get_fuse_inode(dir)->backing_path.dentry);
	if (!inode || !bparent || (flags & LOOKUP_REVAL))
		return NULL;
	bentry = READ_ONCE(get_fuse_inode(inode)->backing_path.dentry);
	if (!bentry || (bparent->d_flags & DCACHE_OP_COMPARE))
		return NULL;

	/* A rename frees the old name after a grace period */
	rcu_read_lock();
	seq = raw_seqcount_begin(&bentry->d_seq);
	same = !d_unhashed(bentry) && READ_ONCE(bentry->d_parent) == bparent;
	if (same) {
		spin_lock(&entry->d_lock);
		same = d_same_name(bentry, bparent, &entry->d_name);
		spin_unlock(&entry->d_lock);
	}
	same = same && !read_seqcount_retry(&bentry->d_seq, seq);
	rcu_read_unlock();
	if (!same)
		return NULL;
	/* Whatever the reason, a lookup decides */
	if ((bentry->d_flags & DCACHE_OP_REVALIDATE) &&
	    bentry->d_op->d_revalidate(bentry, flags) <= 0)
		return NULL;
	return bentry;
}

/*
 * The program of @dir sees the lookup of @entry again in RCU mode, with
 * @bentry, the backing entry fuse_backed_same_entry() found under its
 * name. A program that looks another name up needs the walk with
 * references, where it runs again.
 */
static int fuse_backed_refilter_rcu(struct inode *dir, struct dentry *entry,
				    struct dentry *bentry)
{
	struct fuse_backed_lookup_args la = {
		.dir = dir,
		.rcu_bentry = bentry,
	};
	int err;

	/* A rename frees the old name after a grace period only */
	spin_lock(&entry->d_lock);
	la.name = entry->d_name;
	spin_unlock(&entry->d_lock);
	la.rcu_name = la.name.name;

	/* As fuse_backed_relookup() does */
	if (!fuse_bpf_run(&fuse_backed_lookup_rcu_op, FUSE_LOOKUP, dir, &la,
			  &err))
		return 0;
	if (err)
		return err == -ENOENT || err == -ESTALE ? 0 : err;
	fuse_dentry_settime(entry, fuse_backed_entry_time(dir, la.until));
	return 1;
}

/* Look @name up in the backing directory of @dir, not locked */
struct dentry *fuse_backed_lookup_unlocked(struct inode *dir,
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
 * Look the name of @entry up again, as fuse_backed_lookup() did: through
 * the program of @dir, unless its last verdict still holds. The program
 * may fail it (folder hiding), look another name up, or send it to the
 * server (then the entry is invalid, for the server to look it up).
 * @time is set to the new time of @entry.
 */
static struct dentry *fuse_backed_relookup(struct inode *dir,
					   struct dentry *entry, u64 *time)
{
	struct fuse_backed_lookup_args la = {
		.dir = dir,
		.name = entry->d_name,
	};
	int err;

	*time = fuse_dentry_time(entry);
	if (!fuse_backed_program_decides(dir, entry))
		return fuse_backed_lookup_unlocked(dir, &entry->d_name);
	if (!fuse_bpf_run(&fuse_backed_lookup_op, FUSE_LOOKUP, dir, &la, &err))
		err = -ESTALE;
	if (err && !IS_ERR_OR_NULL(la.bentry))
		dput(la.bentry);
	*time = fuse_backed_entry_time(dir, la.until);
	return err ? ERR_PTR(err) : la.bentry;
}

/*
 * An entry the server made, answering a LOOKUP the program sent it: it
 * times out as the server said, and the server revalidates it.
 */
static bool fuse_backed_servers_entry(struct dentry *entry)
{
	return !(fuse_dentry_time(entry) & FUSE_BACKED_ENTRY);
}

/**
 * fuse_backed_dentry_revalidate() - check a dentry of a backed directory
 * @entry: the FUSE dentry
 * @flags: LOOKUP_* flags
 * @ret: set to the verdict (1 valid, 0 invalid, or a negative errno)
 *
 * The dentry is valid while the backing directory still has the same
 * entry under that name: still absent for a negative dentry, still the
 * backing inode of the FUSE inode for a positive one.
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_dentry_revalidate(struct dentry *entry, unsigned int flags,
				   int *ret)
{
	struct dentry *parent, *bentry;
	struct inode *dir, *inode;
	u64 time;

	if (flags & LOOKUP_RCU) {
		parent = READ_ONCE(entry->d_parent);
		dir = d_inode_rcu(parent);
		if (!dir || !fuse_inode_backed(dir))
			return false;
		if (fuse_backed_servers_entry(entry))
			return false;
		/* Read once: the entry may turn negative meanwhile */
		inode = d_inode_rcu(entry);
		/* The rest needs a lookup: with references */
		bentry = fuse_backed_same_entry(dir, entry, inode, flags);
		*ret = -ECHILD;
		if (bentry)
			*ret = fuse_backed_program_decides(dir, entry) ?
			       fuse_backed_refilter_rcu(dir, entry, bentry) : 1;
		/* Fresh attributes for the checks the walk makes */
		if (*ret > 0)
			fuse_backed_copyattr(inode);
		return true;
	}

	parent = dget_parent(entry);
	dir = d_inode(parent);
	inode = d_inode(entry);
	if (!fuse_inode_backed(dir) || fuse_backed_servers_entry(entry)) {
		dput(parent);
		return false;
	}
	if (!fuse_backed_program_decides(dir, entry) &&
	    fuse_backed_same_entry(dir, entry, inode, flags)) {
		dput(parent);
		fuse_backed_copyattr(inode);
		*ret = 1;
		return true;
	}
	bentry = fuse_backed_relookup(dir, entry, &time);
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
		*ret = fuse_backed_is_backing(inode, bentry);
	if (*ret && inode)
		fuse_backed_copyattr(inode);
	if (*ret)
		fuse_dentry_settime(entry, time);
	dput(bentry);
	return true;
}

struct fuse_backed_dir_ctx {
	struct dir_context ctx;
	struct dir_context *orig;
	unsigned int backing_fs;
	/* With a program: the entries go into this page, as FUSE_READDIR's */
	char *page;
	size_t len;
	struct fuse_dirent *last;
};

/* Entries go through unchanged: their offsets are the backing cookies */
static bool fuse_backed_filldir(struct dir_context *ctx, const char *name,
				int namelen, loff_t offset, u64 ino,
				unsigned int d_type)
{
	struct fuse_backed_dir_ctx *dc = container_of(ctx, struct fuse_backed_dir_ctx,
						      ctx);
	struct fuse_dirent *dirent;
	size_t reclen;

	/* The inode numbers stat() reports */
	fuse_backed_map_ino(dc->backing_fs, &ino);
	if (!dc->page)
		return dc->orig->actor(dc->orig, name, namelen, offset, ino,
				       d_type);

	reclen = FUSE_DIRENT_SIZE(&(struct fuse_dirent){ .namelen = namelen });
	if (reclen > PAGE_SIZE - dc->len)
		return false;
	/* The cookie to go on after the previous entry is this one's */
	if (dc->last)
		dc->last->off = offset;
	dirent = (struct fuse_dirent *)(dc->page + dc->len);
	dirent->ino = ino;
	dirent->off = 0;
	dirent->namelen = namelen;
	dirent->type = d_type;
	memcpy(dirent->name, name, namelen);
	memset(dirent->name + namelen, 0, reclen - FUSE_NAME_OFFSET - namelen);
	dc->last = dirent;
	dc->len += reclen;
	return true;
}

/**
 * fuse_backed_readdir() - read a backed directory
 * @file: the FUSE directory
 * @ctx: where the entries go
 * @err: set to the result
 *
 * Positions are those of the backing directory, so they stay valid across
 * calls, telldir() and seekdir(). With a program, the entries go through a
 * page of struct fuse_dirent, as in a FUSE_READDIR reply, which the
 * post-filter may rewrite: drop, rename or change entries.
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
struct fuse_backed_readdir_args {
	struct file *file;
	struct dir_context *ctx;
	struct fuse_read_in in;
	char *page;		/* with a program */
	size_t len;		/* bytes of entries in it */
	loff_t next;		/* the backing position after them */
	bool full;		/* the caller took no more */
};

static void fuse_backed_readdir_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_readdir_args *ra = args;

	ra->in.offset = ra->ctx->pos;
	ra->in.size = PAGE_SIZE;
	fa->in_numargs = 1;
	bpf_fuse_arg_set(&fa->in_args[0], &ra->in, sizeof(ra->in), 0);
}

static int fuse_backed_readdir_backing(struct path *bpath, void *args)
{
	struct fuse_backed_readdir_args *ra = args;
	struct file *bfile = fuse_backed_file(ra->file);
	struct fuse_backed_dir_ctx dc = {
		.ctx.actor = fuse_backed_filldir,
		.ctx.pos = ra->ctx->pos,
		.orig = ra->ctx,
		.backing_fs = get_fuse_inode(file_inode(ra->file))->backing_fs,
		.page = ra->page,
	};
	int err;

	bfile->f_pos = ra->ctx->pos;
	err = iterate_dir(bfile, &dc.ctx);
	if (!ra->page) {
		ra->ctx->pos = dc.ctx.pos;
		return err;
	}
	if (dc.last)
		dc.last->off = dc.ctx.pos;
	ra->len = dc.len;
	ra->next = dc.ctx.pos;
	return err;
}

static void fuse_backed_readdir_init_out(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_readdir_args *ra = args;

	fa->out_numargs = 1;
	bpf_fuse_arg_set(&fa->out_args[0], ra->page, ra->len, PAGE_SIZE);
}

/* Checked as they are given to the caller, see fuse_backed_emit() */
static int fuse_backed_readdir_apply_out(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_readdir_args *ra = args;

	memcpy(ra->page, fa->out_args[0].value, fa->out_args[0].size);
	ra->len = fa->out_args[0].size;
	return 0;
}

static void fuse_backed_readdir_finalize(struct inode *inode, void *args)
{
	fuse_backed_copyattr(inode);
}

static const struct fuse_bpf_op fuse_backed_readdir_op = {
	.init_in = fuse_backed_readdir_init_in,
	.backing = fuse_backed_readdir_backing,
	.init_out = fuse_backed_readdir_init_out,
	.apply_out = fuse_backed_readdir_apply_out,
	.finalize = fuse_backed_readdir_finalize,
	.file = true,
};

/*
 * Give the caller the entries of the page, checked as fuse_parse_dirfile()
 * checks a server's. A program rewrites the page in a buffer of a size it
 * fixes: the entries end at the end of the page or at zero padding. An
 * entry of inode number 0 is dropped, as deleted entries are.
 *
 * Return: the number of entries given, or -EIO for a bad one.
 */
static int fuse_backed_emit(struct fuse_backed_readdir_args *ra)
{
	struct dir_context *ctx = ra->ctx;
	size_t pos = 0;
	int n = 0;

	while (ra->len - pos >= FUSE_NAME_OFFSET) {
		struct fuse_dirent *dirent = (void *)(ra->page + pos);
		size_t reclen = FUSE_DIRENT_SIZE(dirent);

		if (!dirent->namelen)
			break;
		if (dirent->namelen > FUSE_NAME_MAX ||
		    reclen > ra->len - pos ||
		    memchr(dirent->name, '/', dirent->namelen) ||
		    memchr(dirent->name, '\0', dirent->namelen))
			return -EIO;
		if (dirent->ino) {
			if (!dir_emit(ctx, dirent->name, dirent->namelen,
				      dirent->ino, dirent->type)) {
				ra->full = true;
				return n;
			}
			n++;
		}
		ctx->pos = dirent->off;
		pos += reclen;
	}
	ctx->pos = ra->next;
	return n;
}

bool fuse_backed_readdir(struct file *file, struct dir_context *ctx, int *err)
{
	struct fuse_backed_readdir_args ra = { .file = file, .ctx = ctx };
	struct inode *inode = file_inode(file);
	int n;

	if (!rcu_access_pointer(get_fuse_inode(inode)->bpf)) {
		if (!fuse_bpf_run(&fuse_backed_readdir_op, FUSE_READDIR, inode,
				  &ra, err))
			*err = -EOPNOTSUPP;
		return true;
	}

	ra.page = kmalloc(PAGE_SIZE, GFP_KERNEL);
	*err = -ENOMEM;
	if (!ra.page)
		return true;
	/* Until an entry is given, or none is left: the program may drop all */
	do {
		ra.len = 0;
		if (!fuse_bpf_run(&fuse_backed_readdir_op, FUSE_READDIR, inode,
				  &ra, err))
			*err = -EOPNOTSUPP;
		if (*err || !ra.len)
			break;
		n = fuse_backed_emit(&ra);
		if (n < 0)
			*err = n;
	} while (!n && !ra.full && ra.next != ra.in.offset);
	kfree(ra.page);
	return true;
}

/*
 * The backing entry of @name in @dir's backing directory, which the caller
 * has locked. @name is the FUSE dentry's, or the program's rewrite of it.
 */
static struct dentry *fuse_backed_lookup_locked(struct inode *dir,
						const struct qstr *name)
{
	struct path *dpath = &get_fuse_inode(dir)->backing_path;

	return lookup_one(mnt_idmap(dpath->mnt), name->name, dpath->dentry,
			  name->len);
}

/*
 * The backing credentials, which are current, but with the caller's fsuid
 * and fsgid if they are privileged, so that a new object belongs to the
 * caller as on any filesystem, and is labelled for it (as overlayfs does).
 *
 * Return: new credentials to override_creds() with, or an ERR_PTR().
 */
static struct cred *fuse_backed_creator_creds(struct mnt_idmap *idmap,
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
struct fuse_backed_new_entry {
	umode_t mode;
	dev_t rdev;
	const char *link;	/* symlink target */
	struct dentry *old;	/* link: the backing entry to link to */
	u64 oldnodeid;		/* link: the node id of its FUSE inode */
	unsigned int flags;	/* create: the open flags */
	/* Filled in by fuse_backed_new_entry() */
	u32 opcode;
	struct qstr name;
	struct mnt_idmap *idmap;
	struct dentry *entry;
	const struct cred *caller;
	/* The request as the program sees it */
	union {
		struct fuse_mknod_in mknod;
		struct fuse_mkdir_in mkdir;
		struct fuse_create_in create;
		struct fuse_link_in link;
	} in;
};

/* The arguments of the request, in FUSE's order */
static void fuse_backed_new_entry_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_new_entry *ne = args;
	struct bpf_fuse_arg *in = fa->in_args;
	u16 umask = current_umask();

	fa->in_numargs = 2;
	switch (ne->opcode) {
	case FUSE_SYMLINK:
		fuse_backed_name_arg(&in[0], &ne->name);
		bpf_fuse_arg_set(&in[1], (void *)ne->link, strlen(ne->link) + 1,
				 PATH_MAX);
		return;
	case FUSE_MKNOD:
		ne->in.mknod = (struct fuse_mknod_in) {
			.mode = ne->mode,
			.rdev = new_encode_dev(ne->rdev),
			.umask = umask,
		};
		bpf_fuse_arg_set(&in[0], &ne->in, sizeof(ne->in.mknod), 0);
		break;
	case FUSE_MKDIR:
		ne->in.mkdir = (struct fuse_mkdir_in) {
			.mode = ne->mode & ~S_IFMT,
			.umask = umask,
		};
		bpf_fuse_arg_set(&in[0], &ne->in, sizeof(ne->in.mkdir), 0);
		break;
	case FUSE_CREATE:
		ne->in.create = (struct fuse_create_in) {
			.flags = ne->flags,
			.mode = ne->mode,
			.umask = umask,
		};
		bpf_fuse_arg_set(&in[0], &ne->in, sizeof(ne->in.create), 0);
		break;
	case FUSE_LINK:
		ne->in.link.oldnodeid = ne->oldnodeid;
		bpf_fuse_arg_set(&in[0], &ne->in, sizeof(ne->in.link), 0);
		break;
	}
	fuse_backed_name_arg(&in[1], &ne->name);
}

/* A program may rename what is made, and retarget a symlink */
static int fuse_backed_new_entry_apply_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_new_entry *ne = args;
	struct bpf_fuse_arg *name = &fa->in_args[1], *link = NULL;
	int err;

	if (ne->opcode == FUSE_SYMLINK) {
		name = &fa->in_args[0];
		link = &fa->in_args[1];
	} else if (!fuse_bpf_arg_kept(&fa->in_args[0], &ne->in,
				      fa->in_args[0].size)) {
		return -EINVAL;
	}
	if (name->flags & BPF_FUSE_MODIFIED) {
		err = fuse_bpf_arg_name(name, &ne->name);
		if (err)
			return err;
	}
	if (link && (link->flags & BPF_FUSE_MODIFIED)) {
		ne->link = fuse_bpf_arg_str(link);
		if (!ne->link)
			return -EINVAL;
	}
	return 0;
}

static int fuse_backed_create_backing(struct path *dpath, struct dentry *bentry,
				      struct fuse_backed_new_entry *ne)
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
static int fuse_backed_new_entry_backing(struct path *dpath, void *args)
{
	struct fuse_backed_new_entry *ne = args;
	struct inode *dir = d_inode(ne->entry->d_parent);
	struct inode *bdir = d_inode(dpath->dentry);
	struct path path = { .mnt = dpath->mnt };
	const struct cred *old_cred;
	struct inode *inode;
	struct cred *cred;
	struct dentry *d;
	int err;

	cred = fuse_backed_creator_creds(ne->idmap, dir, ne->entry, ne->mode,
					 ne->caller);
	if (IS_ERR(cred))
		return PTR_ERR(cred);
	old_cred = override_creds(cred);
	put_cred(cred);

	inode_lock_nested(bdir, I_MUTEX_PARENT);
	path.dentry = fuse_backed_lookup_locked(dir, &ne->name);
	err = PTR_ERR(path.dentry);
	if (IS_ERR(path.dentry))
		goto out_unlock;
	/* Created behind our back since the lookup */
	err = -EEXIST;
	if (d_is_positive(path.dentry))
		goto out_dput;
	err = fuse_backed_create_backing(dpath, path.dentry, ne);
	if (!err && (d_unhashed(path.dentry) || d_is_negative(path.dentry))) {
		/* Some filesystems leave the new dentry unhashed (mkdir) */
		d = fuse_backed_lookup_locked(dir, &ne->name);
		dput(path.dentry);
		path.dentry = d;
		if (IS_ERR(d))
			err = PTR_ERR(d);
		else if (d_is_negative(d))
			err = -ENOENT;
	}
	if (!err) {
		inode = fuse_backed_iget_child(dir, &path);
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

static void fuse_backed_new_entry_finalize(struct inode *dir, void *args)
{
	struct fuse_backed_new_entry *ne = args;

	fuse_dentry_settime(ne->entry, fuse_backed_entry_time(dir, 0));
	fuse_backed_copyattr(dir);
	/* A link changed the link count of an existing inode */
	fuse_backed_copyattr(d_inode(ne->entry));
}

static const struct fuse_bpf_op fuse_backed_new_entry_op = {
	.init_in = fuse_backed_new_entry_init_in,
	.apply_in = fuse_backed_new_entry_apply_in,
	.backing = fuse_backed_new_entry_backing,
	.finalize = fuse_backed_new_entry_finalize,
	.write = true,
};

/**
 * fuse_backed_new_entry() - create an entry of a backed directory
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
static bool fuse_backed_new_entry(struct mnt_idmap *idmap, struct inode *dir,
				  struct dentry *entry,
				  struct fuse_backed_new_entry *ne, u32 opcode,
				  int *err)
{
	ne->opcode = opcode;
	ne->name = entry->d_name;
	ne->idmap = idmap;
	ne->entry = entry;
	ne->caller = current_cred();
	return fuse_bpf_run(&fuse_backed_new_entry_op, opcode, dir, ne, err);
}

/**
 * fuse_backed_mknod() - create a file, device, fifo or socket in a backed dir
 * @idmap: idmap of the FUSE mount
 * @dir: the FUSE directory
 * @entry: the negative FUSE dentry
 * @mode: type and mode, before the umask
 * @rdev: device number
 * @err: set to the result
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_mknod(struct mnt_idmap *idmap, struct inode *dir,
		       struct dentry *entry, umode_t mode, dev_t rdev, int *err)
{
	struct fuse_backed_new_entry ne = { .mode = mode, .rdev = rdev };

	return fuse_backed_new_entry(idmap, dir, entry, &ne, FUSE_MKNOD, err);
}

bool fuse_backed_mkdir(struct mnt_idmap *idmap, struct inode *dir,
		       struct dentry *entry, umode_t mode, int *err)
{
	struct fuse_backed_new_entry ne = { .mode = S_IFDIR | mode };

	return fuse_backed_new_entry(idmap, dir, entry, &ne, FUSE_MKDIR, err);
}

bool fuse_backed_symlink(struct mnt_idmap *idmap, struct inode *dir,
			 struct dentry *entry, const char *link, int *err)
{
	struct fuse_backed_new_entry ne = { .mode = S_IFLNK, .link = link };

	return fuse_backed_new_entry(idmap, dir, entry, &ne, FUSE_SYMLINK, err);
}

/**
 * fuse_backed_create_open() - create and open a regular file in a backed dir
 * @idmap: idmap of the FUSE mount
 * @dir: the FUSE directory
 * @entry: the negative FUSE dentry
 * @file: the file being opened
 * @mode: mode, before the umask
 * @err: set to the result
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_create_open(struct mnt_idmap *idmap, struct inode *dir,
			     struct dentry *entry, struct file *file,
			     umode_t mode, int *err)
{
	struct fuse_backed_new_entry ne = {
		.mode = S_IFREG | mode,
		.flags = file->f_flags,
	};

	if (!fuse_backed_new_entry(idmap, dir, entry, &ne, FUSE_CREATE, err))
		return false;
	/* fuse_open() opens the backing file */
	if (!*err)
		*err = finish_open(file, entry, NULL);
	return true;
}

struct fuse_backed_tmpfile_args {
	struct mnt_idmap *idmap;
	struct file *file;
	umode_t mode;
	struct file *bfile;	/* the backing file, opened */
};

static int fuse_backed_tmpfile_backing(struct path *dpath, void *args)
{
	struct fuse_backed_tmpfile_args *ta = args;
	struct dentry *entry = ta->file->f_path.dentry;
	struct inode *dir = d_inode(entry->d_parent);
	const struct cred *old_cred;
	struct inode *inode;
	struct cred *cred;

	cred = fuse_backed_creator_creds(ta->idmap, dir, entry, ta->mode,
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

	inode = fuse_backed_iget_child(dir, &ta->bfile->f_path);
	if (IS_ERR(inode)) {
		/* Not put again by fuse_backed_tmpfile() */
		fput(ta->bfile);
		ta->bfile = NULL;
		return PTR_ERR(inode);
	}
	d_mark_tmpfile(ta->file, inode);
	d_instantiate(entry, inode);
	return 0;
}

static const struct fuse_bpf_op fuse_backed_tmpfile_op = {
	.backing = fuse_backed_tmpfile_backing,
	.write = true,
};

static int fuse_backed_tmpfile_opened(struct inode *inode, struct file *file)
{
	return 0;
}

/**
 * fuse_backed_tmpfile() - open an unnamed file in a backed directory
 * @idmap: idmap of the FUSE mount
 * @dir: the FUSE directory
 * @file: the file being opened, its dentry negative
 * @mode: mode, before the umask
 * @err: set to the result
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_tmpfile(struct mnt_idmap *idmap, struct inode *dir,
			 struct file *file, umode_t mode, int *err)
{
	struct fuse_backed_tmpfile_args args = {
		.idmap = idmap,
		.file = file,
		.mode = mode,
	};
	struct fuse_file *ff;

	ff = fuse_file_alloc(get_fuse_mount(dir), false);
	*err = -ENOMEM;
	if (!ff)
		return true;
	if (!fuse_bpf_run(&fuse_backed_tmpfile_op, FUSE_TMPFILE, dir, &args,
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
	*err = finish_open(file, file->f_path.dentry, fuse_backed_tmpfile_opened);
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
 * fuse_backed_link() - make a hard link in a backed directory
 * @entry: the FUSE dentry of the existing file
 * @dir: the FUSE directory of the new name
 * @newent: the negative FUSE dentry of the new name
 * @err: set to the result
 *
 * Backed and plain nodes, or nodes on different backing mounts, cannot
 * be linked to each other: that fails with EXDEV.
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_link(struct dentry *entry, struct inode *dir,
		      struct dentry *newent, int *err)
{
	struct fuse_inode *fi = get_fuse_inode(d_inode(entry));
	struct fuse_backed_new_entry ne = {
		.mode = d_inode(entry)->i_mode,
		.old = fi->backing_path.dentry,
		.oldnodeid = fi->nodeid,
	};

	if (!fuse_inode_backed(dir) || !fuse_inode_backed(d_inode(entry)) ||
	    fi->backing_path.mnt != get_fuse_inode(dir)->backing_path.mnt) {
		*err = -EXDEV;
		return true;
	}
	if (fuse_backed_new_entry(&nop_mnt_idmap, dir, newent, &ne, FUSE_LINK,
				  err))
		return true;
	/* The request names the inode too */
	*err = fuse_backed_make_known(d_inode(entry));
	return *err;
}

struct fuse_backed_remove_args {
	struct dentry *entry;
	struct qstr name;
};

static void fuse_backed_remove_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_remove_args *ra = args;

	fa->in_numargs = 1;
	fuse_backed_name_arg(&fa->in_args[0], &ra->name);
}

/*
 * The new name must name the backing entry of the dentry's inode, as the
 * program's lookup rewrote it: else ESTALE, as for a race. The caller was
 * checked on that inode (sticky directories).
 */
static int fuse_backed_remove_apply_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_remove_args *ra = args;

	return fuse_bpf_arg_name(&fa->in_args[0], &ra->name);
}

static int fuse_backed_remove_backing(struct path *dpath, void *args)
{
	struct fuse_backed_remove_args *ra = args;
	struct dentry *entry = ra->entry;
	struct inode *dir = d_inode(entry->d_parent);
	struct inode *bdir = d_inode(dpath->dentry);
	struct inode *inode = d_inode(entry);
	struct dentry *bentry;
	int err;

	inode_lock_nested(bdir, I_MUTEX_PARENT);
	bentry = fuse_backed_lookup_locked(dir, &ra->name);
	err = PTR_ERR(bentry);
	if (IS_ERR(bentry))
		goto out_unlock;
	if (!fuse_backed_is_backing(inode, bentry))
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

static void fuse_backed_remove_finalize(struct inode *dir, void *args)
{
	struct dentry *entry = ((struct fuse_backed_remove_args *)args)->entry;

	fuse_backed_copyattr(dir);
	fuse_backed_copyattr(d_inode(entry));
}

static const struct fuse_bpf_op fuse_backed_remove_op = {
	.init_in = fuse_backed_remove_init_in,
	.apply_in = fuse_backed_remove_apply_in,
	.backing = fuse_backed_remove_backing,
	.finalize = fuse_backed_remove_finalize,
	.write = true,
};

/**
 * fuse_backed_remove() - unlink or rmdir in a backed directory
 * @dir: the FUSE directory
 * @entry: the FUSE dentry to remove
 * @err: set to the result
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_remove(struct inode *dir, struct dentry *entry, int *err)
{
	struct fuse_backed_remove_args ra = {
		.entry = entry,
		.name = entry->d_name,
	};

	return fuse_bpf_run(&fuse_backed_remove_op,
			    d_is_dir(entry) ? FUSE_RMDIR : FUSE_UNLINK, dir,
			    &ra, err);
}

struct fuse_backed_rename_args {
	struct dentry *oldent;
	struct inode *newdir;
	struct dentry *newent;
	unsigned int flags;
	struct qstr oldname;
	struct qstr newname;
	struct fuse_rename2_in in;
};

static void fuse_backed_rename_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_rename_args *ra = args;

	ra->in.newdir = get_node_id(ra->newdir);
	ra->in.flags = ra->flags;
	fa->in_numargs = 3;
	bpf_fuse_arg_set(&fa->in_args[0], &ra->in, sizeof(ra->in), 0);
	fuse_backed_name_arg(&fa->in_args[1], &ra->oldname);
	fuse_backed_name_arg(&fa->in_args[2], &ra->newname);
}

/* As for unlink: the names must name the entries the dentries stand for */
static int fuse_backed_rename_apply_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_rename_args *ra = args;
	int err = 0;

	if (!fuse_bpf_arg_kept(&fa->in_args[0], &ra->in, sizeof(ra->in)))
		return -EINVAL;
	if (fa->in_args[1].flags & BPF_FUSE_MODIFIED)
		err = fuse_bpf_arg_name(&fa->in_args[1], &ra->oldname);
	if (!err && (fa->in_args[2].flags & BPF_FUSE_MODIFIED))
		err = fuse_bpf_arg_name(&fa->in_args[2], &ra->newname);
	return err;
}

static int fuse_backed_rename_backing(struct path *opath, void *args)
{
	struct fuse_backed_rename_args *ra = args;
	struct path *npath = &get_fuse_inode(ra->newdir)->backing_path;
	struct inode *olddir = d_inode(ra->oldent->d_parent);
	struct inode *target = d_inode(ra->newent);
	struct renamedata rd = { .flags = ra->flags };
	struct dentry *bold, *bnew, *trap;
	int err;

	trap = lock_rename(npath->dentry, opath->dentry);
	if (IS_ERR(trap))
		return PTR_ERR(trap);
	bold = fuse_backed_lookup_locked(olddir, &ra->oldname);
	err = PTR_ERR(bold);
	if (IS_ERR(bold))
		goto out_unlock;
	bnew = fuse_backed_lookup_locked(ra->newdir, &ra->newname);
	err = PTR_ERR(bnew);
	if (IS_ERR(bnew))
		goto out_dput_old;

	/* Both names must still be what the FUSE dentries say they are */
	err = -ESTALE;
	if (!fuse_backed_is_backing(d_inode(ra->oldent), bold))
		goto out_dput_new;
	if (target ? !fuse_backed_is_backing(target, bnew) :
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

static void fuse_backed_rename_finalize(struct inode *olddir, void *args)
{
	struct fuse_backed_rename_args *ra = args;

	fuse_backed_copyattr(olddir);
	fuse_backed_copyattr(ra->newdir);
	fuse_backed_copyattr(d_inode(ra->oldent));
	if (d_really_is_positive(ra->newent))
		fuse_backed_copyattr(d_inode(ra->newent));
}

static const struct fuse_bpf_op fuse_backed_rename_op = {
	.init_in = fuse_backed_rename_init_in,
	.apply_in = fuse_backed_rename_apply_in,
	.backing = fuse_backed_rename_backing,
	.finalize = fuse_backed_rename_finalize,
	.write = true,
};

static int fuse_backed_nop_backing(struct path *path, void *args)
{
	return 0;
}

/*
 * The new directory's program sees the rename before it is done: it may
 * fail it or send it to the server, not rewrite it. The old directory's
 * program sees a rename sent to the server this way too, and may fail it.
 */
static const struct fuse_bpf_op fuse_backed_rename_check_op = {
	.init_in = fuse_backed_rename_init_in,
	.backing = fuse_backed_nop_backing,
};

/**
 * fuse_backed_rename() - rename between backed directories
 * @olddir: the FUSE directory of the old name
 * @oldent: the FUSE dentry of the old name
 * @newdir: the FUSE directory of the new name
 * @newent: the FUSE dentry of the new name
 * @flags: RENAME_* flags
 * @err: set to the result
 *
 * The backing entries are renamed, with the checks overlayfs makes after
 * lock_rename(). Between a backed and a plain directory, or different
 * backing mounts, that fails with EXDEV.
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_rename(struct inode *olddir, struct dentry *oldent,
			struct inode *newdir, struct dentry *newent,
			unsigned int flags, int *err)
{
	struct fuse_backed_rename_args args = {
		.oldent = oldent,
		.newdir = newdir,
		.newent = newent,
		.flags = flags,
		.oldname = oldent->d_name,
		.newname = newent->d_name,
	};

	if (!fuse_inode_backed(olddir) || !fuse_inode_backed(newdir) ||
	    get_fuse_inode(olddir)->backing_path.mnt !=
	    get_fuse_inode(newdir)->backing_path.mnt) {
		*err = -EXDEV;
		return true;
	}
	/* The program of the new directory may fail it first */
	if (newdir != olddir &&
	    rcu_access_pointer(get_fuse_inode(newdir)->bpf)) {
		if (!fuse_bpf_run(&fuse_backed_rename_check_op, FUSE_RENAME2,
				  newdir, &args, err)) {
			/* For the server: unless the old directory's fails it */
			if (rcu_access_pointer(get_fuse_inode(olddir)->bpf) &&
			    fuse_bpf_run(&fuse_backed_rename_check_op,
					 FUSE_RENAME2, olddir, &args, err) &&
			    *err)
				return true;
			*err = fuse_backed_make_known(olddir);
			return *err;
		}
		if (*err)
			return true;
	}
	if (fuse_bpf_run(&fuse_backed_rename_op, FUSE_RENAME2, olddir, &args,
			 err))
		return true;
	/* The request names the new directory too */
	*err = fuse_backed_make_known(newdir);
	return *err;
}

struct fuse_backed_get_link_args {
	struct delayed_call *done;
	const char *link;
};

static int fuse_backed_get_link_backing(struct path *backing_path, void *args)
{
	struct fuse_backed_get_link_args *la = args;

	la->link = vfs_get_link(backing_path->dentry, la->done);
	return PTR_ERR_OR_ZERO(la->link);
}

/* As a READLINK reply: the target, without a NUL */
static void fuse_backed_get_link_init_out(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_get_link_args *la = args;

	fa->out_numargs = 1;
	bpf_fuse_arg_set(&fa->out_args[0], (void *)la->link, strlen(la->link),
			 PATH_MAX - 1);
}

/*
 * readlink(2) and the path walk both take the target the program wrote:
 * one with a NUL in it would read differently to each.
 */
static int fuse_backed_get_link_apply_out(struct bpf_fuse_args *fa,
					  void *args)
{
	struct fuse_backed_get_link_args *la = args;
	const struct bpf_fuse_arg *arg = &fa->out_args[0];
	char *link;

	if (!arg->size || memchr(arg->value, 0, arg->size))
		return -EINVAL;
	link = kmemdup_nul(arg->value, arg->size, GFP_KERNEL);
	if (!link)
		return -ENOMEM;
	do_delayed_call(la->done);
	set_delayed_call(la->done, kfree_link, link);
	la->link = link;
	return 0;
}

static const struct fuse_bpf_op fuse_backed_get_link_op = {
	.backing = fuse_backed_get_link_backing,
	.init_out = fuse_backed_get_link_init_out,
	.apply_out = fuse_backed_get_link_apply_out,
};

/**
 * fuse_backed_get_link() - read the target of a backed symlink
 * @dentry: the FUSE dentry, NULL under RCU walk
 * @inode: the FUSE inode
 * @done: frees the target
 * @link: set to the target or an ERR_PTR()
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_get_link(struct dentry *dentry, struct inode *inode,
			  struct delayed_call *done, const char **link)
{
	struct fuse_backed_get_link_args args = { .done = done };
	int err;

	if (!dentry)
		err = -ECHILD;
	else if (!fuse_bpf_run(&fuse_backed_get_link_op, FUSE_READLINK, inode,
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
