// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-bpf: the server's side of backings, the FUSE_BPF extension of
 * LOOKUP replies and the descriptors they carry.
 *
 * Copyright (c) 2026 The fuse-bpf authors
 */

#include "fuse_i.h"
#include "fuse_bpf.h"

#include <linux/bpf.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/mount.h>

/**
 * fuse_backed_init_reply() - take the server's FUSE_INIT answer into account
 * @fm: the mount
 * @flags: the flags the server accepted
 * @arg: its reply
 *
 * A server that takes FUSE_BPF may attach backing objects on filesystems
 * stacked up to max_stack_depth - 1 deep, as with passthrough.
 */
void fuse_backed_init_reply(struct fuse_mount *fm, u64 flags,
			    struct fuse_init_out *arg)
{
	struct fuse_conn *fc = fm->fc;

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
 * Let the server's reply to a LOOKUP, or to a request that creates an
 * entry, carry a struct fuse_entry_bpf_out after its other out args. The
 * layout is set up on every fuse-bpf mount, as a LOOKUP may be prepared
 * before the server has answered FUSE_INIT: whether it negotiated FUSE_BPF
 * is checked when the reply comes (fuse_backed_reply_fds()). A plain reply
 * fits it, its extension being of variable size.
 */
void fuse_backed_lookup_init(struct fuse_args *args,
			     struct fuse_backed_entry *feb)
{
	struct fuse_arg *ext = &args->out_args[args->out_numargs++];

	ext->size = sizeof(feb->out);
	ext->value = &feb->out;
	args->out_argvar = true;
	args->bpf_ext = true;
}

/*
 * The same for a FUSE_CREATE reply, whose struct fuse_open_out the
 * extension follows: both are @feb's, in its last out arg. The caller
 * takes the struct fuse_open_out from there.
 */
void fuse_backed_create_init(struct fuse_args *args,
			     struct fuse_backed_entry *feb)
{
	struct fuse_arg *last = &args->out_args[args->out_numargs - 1];

	BUILD_BUG_ON(offsetof(struct fuse_backed_entry, out) !=
		     sizeof(feb->open));
	last->size = sizeof(feb->open) + sizeof(feb->out);
	last->value = &feb->open;
	args->out_argvar = true;
	args->bpf_ext = true;
}

/*
 * The extension of a reply to @args and its size, 0 if it has none: the
 * end of its last out arg, see above.
 */
static struct fuse_backed_entry *fuse_backed_ext(struct fuse_args *args,
						 ssize_t *size)
{
	struct fuse_arg *last = &args->out_args[args->out_numargs - 1];

	if (args->opcode == FUSE_CREATE) {
		*size = (ssize_t)last->size -
			sizeof_field(struct fuse_backed_entry, open);
		return container_of(last->value, struct fuse_backed_entry, open);
	}
	*size = last->size;
	return container_of(last->value, struct fuse_backed_entry, out);
}

/* Drop what a LOOKUP reply's extension holds, on every path */
void fuse_backed_entry_put(struct fuse_backed_entry *feb)
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
 * fuse_backed_reply_needs_ioctl() - must this reply come through the ioctl?
 * @fc: the connection
 * @args: the request
 * @len: the length of the reply's payload (0 for an error)
 *
 * Return: true if the reply carries a fuse-bpf LOOKUP extension, from a
 * server that negotiated it (see fuse_backed_reply_fds() for the others).
 */
bool fuse_backed_reply_needs_ioctl(struct fuse_conn *fc, struct fuse_args *args,
				   size_t len)
{
	size_t plain = 0;
	unsigned int i;

	if (!args->bpf_ext || !fc->bpf_proto)
		return false;
	for (i = 0; i < args->out_numargs; i++)
		plain += args->out_args[i].size;
	return len > plain - sizeof_field(struct fuse_backed_entry, out);
}

/**
 * fuse_backed_reply_fds() - check a LOOKUP extension, resolve its descriptors
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
int fuse_backed_reply_fds(struct fuse_conn *fc, struct fuse_args *args,
			  bool fd_reply)
{
	struct fuse_entry_out *entry = args->out_args[0].value;
	struct fuse_backed_entry *feb;
	struct fuse_entry_bpf_out *out;
	struct super_block *bsb;
	struct file *file;
	ssize_t size;
	int err;

	if (!args->bpf_ext)
		return 0;
	feb = fuse_backed_ext(args, &size);
	/* A truncated struct fuse_open_out before it */
	if (size < 0)
		return -EINVAL;
	if (!size)
		return 0;
	/* Only from a server that negotiated FUSE_BPF: a reply too long */
	if (!fc->bpf_proto)
		return -EINVAL;
	/* Never from write(2), see fuse_backed_reply_needs_ioctl() */
	if (!fd_reply)
		return -EINVAL;
	out = &feb->out;
	/* A truncated extension */
	if (size != sizeof(*out))
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
	/*
	 * The root is never looked up. Node id 0 with a backing is a node the
	 * server does not track, see fuse_backed_lookup_iget().
	 */
	if (entry->nodeid == FUSE_ROOT_ID)
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
	if (!fuse_backed_backing_ok(&file->f_path))
		goto out;
	err = -ELOOP;
	if (bsb->s_stack_depth >= fc->bpf_stack_depth)
		goto out;
	err = fuse_backed_fs_add(fc, &file->f_path);
	if (err)
		goto out;
	err = fuse_backed_capture_backing(fc->bpf_conn, file, &feb->backing_path,
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
static int fuse_backed_reply_backing(struct inode *dir, const struct qstr *name,
				     struct fuse_backed_entry *feb,
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
	bentry = fuse_backed_lookup_unlocked(dir, name);
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
 * fuse_backed_lookup_iget() - the inode of an entry reply with an extension
 * @sb: the superblock
 * @dir: the FUSE directory, NULL for the lookups of export operations
 * @name: the name looked up
 * @outarg: the server's entry
 * @feb: the extension of the reply, if it had one
 * @type: for a reply that created the entry, the S_IFMT type it has, else 0
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
 * already carry another one, the new one is forgotten. Node id 0 (which
 * is otherwise a negative entry) with a backing gives a node the server
 * does not track, as the kernel makes them in backed directories: it is
 * not forgotten, unless a request must name it and it is made known
 * (fuse_backed_make_known()).
 *
 * Return: 0 on success, a negative errno otherwise.
 */
int fuse_backed_lookup_iget(struct super_block *sb, struct inode *dir,
			    const struct qstr *name, struct fuse_entry_out *outarg,
			    struct fuse_backed_entry *feb, umode_t type,
			    struct inode **inode)
{
	struct fuse_conn *fc = get_fuse_conn_super(sb);
	struct fuse_entry_bpf_out *out = &feb->out;
	struct bpf_prog *prog = NULL;
	struct fuse_forget_link *forget;
	const struct cred *cred;
	struct path path;
	int err;

	*inode = NULL;
	err = fuse_backed_reply_backing(dir, name, feb, &path);
	if (err)
		return err;
	if (!path.dentry) {
		/* A plain node: no program would ever run */
		return out->bpf_action == FUSE_ACTION_REPLACE ? -EIO : 0;
	}
	/* A new entry is backed by an object of the type it was made as */
	if (type && (d_inode(path.dentry)->i_mode ^ type) & S_IFMT) {
		path_put(&path);
		return -EIO;
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
	*inode = fuse_backed_iget(sb, &path, cred, prog);
	path_put(&path);
	if (IS_ERR(*inode)) {
		err = PTR_ERR(*inode);
		*inode = NULL;
		if (prog)
			bpf_prog_put(prog);
		return err;
	}
	if (prog)
		bpf_prog_put(prog);
	if (outarg->nodeid && !fuse_backed_take_nodeid(*inode, outarg)) {
		forget = fuse_alloc_forget();
		if (forget)
			fuse_queue_forget(fc, forget, outarg->nodeid, 1);
	}
	return 0;
}

/**
 * fuse_backed_entry_changed() - does a revalidating LOOKUP change the node?
 * @dir: the FUSE directory
 * @name: the name looked up
 * @inode: the inode of the dentry being revalidated
 * @feb: the extension of the server's reply, if it had one
 *
 * The reply describes the node as fuse_backed_lookup_iget() would make it:
 * if that is not what @inode is, the dentry is invalidated and looked up
 * again.
 *
 * Return: true if the reply gives another backing or program.
 */
bool fuse_backed_entry_changed(struct inode *dir, const struct qstr *name,
			       struct inode *inode, struct fuse_backed_entry *feb)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	struct bpf_prog *prog = NULL;
	const struct cred *cred;
	struct path path;
	bool changed;

	if (fuse_backed_reply_backing(dir, name, feb, &path))
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
