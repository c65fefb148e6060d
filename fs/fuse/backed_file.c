// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-bpf: files of backed inodes: open, I/O on the backing file, and
 * the other file operations.
 *
 * Copyright (c) 2026 The fuse-bpf authors
 */

#include "fuse_i.h"
#include "fuse_bpf.h"

#include <linux/backing-file.h>
#include <linux/bpf_fuse.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fileattr.h>
#include <linux/mount.h>
#include <linux/poll.h>

/*
 * The fixed-size argument @arg, as a struct of @size bytes: NULL if it has
 * another size, which bpf_fuse_get_writeable_in() and _out() do not allow.
 */
static const void *fuse_backed_arg_struct(const struct bpf_fuse_arg *arg,
					  size_t size)
{
	return arg->size == size ? arg->value : NULL;
}

/**
 * struct fuse_backed_open_args - an open, and how a program sees it
 * @file: the FUSE file
 * @flags: the flags to open the backing file with
 * @ff: the new FUSE file
 * @in: the request, as programs see it
 */
struct fuse_backed_open_args {
	struct file *file;
	unsigned int flags;
	struct fuse_file *ff;
	struct fuse_open_in in;
};

static void fuse_backed_open_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_open_args *oa = args;

	oa->in.flags = oa->file->f_flags;
	fa->in_numargs = 1;
	bpf_fuse_arg_set(&fa->in_args[0], &oa->in, sizeof(oa->in), 0);
}

/* Flags a program may add or clear: they only change how data is synced */
#define FUSE_BACKED_OPEN_REWRITE (__O_SYNC | O_DSYNC)

static int fuse_backed_open_apply_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_open_args *oa = args;
	const struct fuse_open_in *in;

	in = fuse_backed_arg_struct(&fa->in_args[0], sizeof(*in));
	if (!in || in->open_flags != oa->in.open_flags ||
	    ((in->flags ^ oa->in.flags) & ~FUSE_BACKED_OPEN_REWRITE))
		return -EINVAL;
	oa->flags = in->flags;
	/* As build_open_flags(): O_SYNC is __O_SYNC | O_DSYNC */
	if (oa->flags & __O_SYNC)
		oa->flags |= O_DSYNC;
	return 0;
}

static int fuse_backed_open_backing(struct path *bpath, void *args)
{
	struct fuse_backed_open_args *oa = args;
	struct file *file = oa->file;
	struct inode *inode = file_inode(file);
	struct fuse_inode *fi = get_fuse_inode(inode);
	struct inode *binode = d_inode(bpath->dentry);
	struct mnt_idmap *idmap = mnt_idmap(bpath->mnt);
	struct file *bfile;
	int flags, acc_mode;
	int err = 0;

	/* Truncation was, or will be, done by setattr */
	flags = oa->flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);
	acc_mode = ACC_MODE(flags);
	if (flags & O_APPEND)
		acc_mode |= MAY_APPEND;

	/* As on any filesystem, the creator may open what it created */
	if (!(file->f_mode & FMODE_CREATED))
		err = inode_permission(idmap, binode, MAY_OPEN | acc_mode);
	if (err)
		return err;
	/*
	 * The backing mount's atime rules must not apply: atime follows
	 * the FUSE mount's, through the FUSE inode (fuse_backed_update_time()).
	 * As overlayfs, only where the backing credentials may ask for it;
	 * the caller's O_NOATIME was checked on the FUSE inode.
	 */
	if (inode_owner_or_capable(idmap, binode))
		flags |= O_NOATIME;
	else
		flags &= ~O_NOATIME;
	oa->ff = fuse_file_alloc(get_fuse_mount(inode), false);
	if (!oa->ff)
		return -ENOMEM;
	bfile = backing_file_open(file, flags, bpath, fi->backing_cred);
	if (IS_ERR(bfile)) {
		fuse_file_free(oa->ff);
		oa->ff = NULL;
		return PTR_ERR(bfile);
	}
	oa->ff->backing_file = bfile;
	return 0;
}

static const struct fuse_bpf_op fuse_backed_open_op = {
	.init_in = fuse_backed_open_init_in,
	.apply_in = fuse_backed_open_apply_in,
	.backing = fuse_backed_open_backing,
};

/**
 * fuse_backed_open() - open the backing file of a backed inode
 * @inode: the FUSE inode
 * @file: the FUSE file being opened
 * @err: set to the result
 *
 * As overlayfs: the backing credentials must be allowed to open the
 * backing inode that way, then it is opened as a backing file, under
 * them. A program that sends the open to the server makes the file the
 * server's. A program may add or clear O_SYNC and O_DSYNC for the backing
 * file; the FUSE file keeps the caller's flags.
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_open(struct inode *inode, struct file *file, int *err)
{
	struct fuse_backed_open_args oa = {
		.file = file,
		.flags = file->f_flags,
	};

	if (!fuse_bpf_run(&fuse_backed_open_op,
			  S_ISDIR(inode->i_mode) ? FUSE_OPENDIR : FUSE_OPEN,
			  inode, &oa, err))
		return false;
	if (oa.ff && *err) {
		/* Failed by the post-filter */
		fput(oa.ff->backing_file);
		fuse_file_free(oa.ff);
	} else if (oa.ff) {
		file->private_data = oa.ff;
	}
	return true;
}

/*
 * The file operations of a backed file go through the dispatcher as the
 * others do, with their FUSE opcode. The server does not know the file:
 * a program can send it only those that name the inode, not the file.
 */
static int fuse_backed_file_run(const struct fuse_bpf_op *op, u32 opcode,
				struct file *file, void *args)
{
	struct inode *inode = file_inode(file);
	int err;

	if (fuse_bpf_run(op, opcode, inode, args, &err))
		return err;
	if (op->user)
		return op->user(inode, args);
	fuse_bpf_count(get_fuse_conn(inode), FUSE_BPF_E_NO_SERVER);
	return -EOPNOTSUPP;
}

static int fuse_backed_nop_backing(struct path *bpath, void *args)
{
	return 0;
}

struct fuse_backed_release_args {
	struct file *file;
	struct fuse_release_in in;
};

static void fuse_backed_release_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_release_args *ra = args;

	ra->in.flags = ra->file->f_flags;
	fa->in_numargs = 1;
	bpf_fuse_arg_set(&fa->in_args[0], &ra->in, sizeof(ra->in), 0);
}

/* A release cannot fail: no rewrite to honour */
static const struct fuse_bpf_op fuse_backed_release_op = {
	.init_in = fuse_backed_release_init_in,
	.backing = fuse_backed_nop_backing,
	.file = true,
};

/**
 * fuse_backed_release() - release a backed FUSE file
 * @file: the FUSE file
 *
 * The program sees the release, but cannot stop it.
 *
 * Return: true, the file is released.
 */
bool fuse_backed_release(struct file *file)
{
	struct fuse_backed_release_args ra = { .file = file };
	struct fuse_file *ff = file->private_data;
	struct inode *inode = file_inode(file);

	fuse_backed_file_run(&fuse_backed_release_op,
			     S_ISDIR(inode->i_mode) ? FUSE_RELEASEDIR :
						      FUSE_RELEASE,
			     file, &ra);
	fput(ff->backing_file);
	fuse_file_free(ff);
	return true;
}

struct fuse_backed_flush_args {
	struct file *file;
	fl_owner_t id;
	struct fuse_flush_in in;
};

static void fuse_backed_flush_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_flush_args *fla = args;
	struct fuse_conn *fc = get_fuse_conn(file_inode(fla->file));

	/* As FUSE sends it: a scrambled id, not the kernel pointer */
	fla->in.lock_owner = fuse_lock_owner_id(fc, fla->id);
	fa->in_numargs = 1;
	bpf_fuse_arg_set(&fa->in_args[0], &fla->in, sizeof(fla->in), 0);
}

static int fuse_backed_flush_backing(struct path *bpath, void *args)
{
	struct fuse_backed_flush_args *fla = args;
	struct file *bfile = fuse_backed_file(fla->file);

	return bfile->f_op->flush ? bfile->f_op->flush(bfile, fla->id) : 0;
}

static const struct fuse_bpf_op fuse_backed_flush_op = {
	.init_in = fuse_backed_flush_init_in,
	.backing = fuse_backed_flush_backing,
	.file = true,
};

bool fuse_backed_flush(struct file *file, fl_owner_t id, int *err)
{
	struct fuse_backed_flush_args fla = {
		.file = file,
		.id = id,
	};

	*err = fuse_backed_file_run(&fuse_backed_flush_op, FUSE_FLUSH, file,
				    &fla);
	return true;
}

struct fuse_backed_fsync_args {
	struct file *file;
	loff_t start;
	loff_t end;
	int datasync;
	struct fuse_fsync_in in;
};

static void fuse_backed_fsync_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_fsync_args *fsa = args;

	fsa->in.fsync_flags = fsa->datasync ? FUSE_FSYNC_FDATASYNC : 0;
	fa->in_numargs = 1;
	bpf_fuse_arg_set(&fa->in_args[0], &fsa->in, sizeof(fsa->in), 0);
}

/* A program may ask for a full sync or a data sync, nothing else */
static int fuse_backed_fsync_apply_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_fsync_args *fsa = args;
	const struct fuse_fsync_in *in;
	struct fuse_fsync_in new;

	in = fuse_backed_arg_struct(&fa->in_args[0], sizeof(*in));
	if (!in || (in->fsync_flags & ~FUSE_FSYNC_FDATASYNC))
		return -EINVAL;
	new = *in;
	new.fsync_flags = fsa->in.fsync_flags;
	if (memcmp(&new, &fsa->in, sizeof(new)))
		return -EINVAL;
	fsa->datasync = !!(in->fsync_flags & FUSE_FSYNC_FDATASYNC);
	return 0;
}

static int fuse_backed_fsync_backing(struct path *bpath, void *args)
{
	struct fuse_backed_fsync_args *fsa = args;

	return vfs_fsync_range(fuse_backed_file(fsa->file), fsa->start,
			       fsa->end, fsa->datasync);
}

static void fuse_backed_file_finalize(struct inode *inode, void *args)
{
	fuse_backed_copyattr(inode);
}

static const struct fuse_bpf_op fuse_backed_fsync_op = {
	.init_in = fuse_backed_fsync_init_in,
	.apply_in = fuse_backed_fsync_apply_in,
	.backing = fuse_backed_fsync_backing,
	.finalize = fuse_backed_file_finalize,
	.file = true,
};

bool fuse_backed_fsync(struct file *file, loff_t start, loff_t end,
		       int datasync, int *err)
{
	struct fuse_backed_fsync_args fsa = {
		.file = file,
		.start = start,
		.end = end,
		.datasync = datasync,
	};

	*err = fuse_backed_file_run(&fuse_backed_fsync_op,
				    S_ISDIR(file_inode(file)->i_mode) ?
				    FUSE_FSYNCDIR : FUSE_FSYNC, file, &fsa);
	return true;
}

/* Can the backing file of @inode, a regular file, clone and dedupe? */
bool fuse_backed_can_remap(struct inode *inode)
{
	struct inode *binode = d_inode(get_fuse_inode(inode)->backing_path.dentry);

	return binode->i_fop && binode->i_fop->remap_file_range;
}

/**
 * fuse_backed_remap_file_range() - clone or dedupe between backed files
 * @in: the source FUSE file
 * @pos_in: its offset
 * @out: the destination FUSE file
 * @pos_out: its offset
 * @len: length, 0 for up to the end of @in
 * @flags: REMAP_FILE_*
 * @ret: set to the result
 *
 * The VFS checked the FUSE files; the backing filesystem gets the same
 * request on the backing files, as overlayfs passes it on, and answers it
 * (EXDEV between backing filesystems, EOPNOTSUPP where it cannot).
 *
 * Return: true, it ran here (clone and dedupe are not filtered).
 */
bool fuse_backed_remap_file_range(struct file *in, loff_t pos_in,
				  struct file *out, loff_t pos_out, loff_t len,
				  unsigned int flags, loff_t *ret)
{
	struct file *bin = fuse_backed_file(in), *bout = fuse_backed_file(out);
	struct inode *inode = file_inode(out);
	const struct cred *old_cred;

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
	fuse_backed_copyattr(inode);
	inode_unlock(inode);
	return true;
}

/* Flags fcntl(F_SETFL) may have changed on the FUSE file since open */
#define FUSE_BACKED_SETFL_MASK (O_APPEND | O_NONBLOCK | O_NDELAY | O_DIRECT)

/*
 * Bring the backing file's status flags in line with the FUSE file's, as
 * overlayfs does, so that the backing I/O honours them.
 */
static int fuse_backed_sync_flags(struct file *file, struct file *bfile)
{
	unsigned int flags = file->f_flags & FUSE_BACKED_SETFL_MASK;

	if (!((flags ^ bfile->f_flags) & FUSE_BACKED_SETFL_MASK))
		return 0;
	if ((flags & O_DIRECT) && !(bfile->f_mode & FMODE_CAN_ODIRECT))
		return -EINVAL;
	spin_lock(&bfile->f_lock);
	bfile->f_flags = (bfile->f_flags & ~FUSE_BACKED_SETFL_MASK) | flags;
	bfile->f_iocb_flags = iocb_flags(bfile);
	spin_unlock(&bfile->f_lock);
	return 0;
}

/* The backing file is O_NOATIME: atime by the FUSE mount's rules */
static void fuse_backed_file_accessed(struct file *file)
{
	fuse_backed_copyattr(file_inode(file));
	file_accessed(file);
}

/* As overlayfs: a fresh mode for file_remove_privs() */
static void fuse_backed_start_write(struct file *file)
{
	fuse_backed_copyattr(file_inode(file));
}

static void fuse_backed_end_write(struct file *file, loff_t pos, ssize_t ret)
{
	fuse_backed_copyattr(file_inode(file));
}

static struct fuse_backing_io fuse_backed_io(struct file *bfile)
{
	return (struct fuse_backing_io) {
		.cred = bfile->f_cred,
		.accessed = fuse_backed_file_accessed,
		.start_write = fuse_backed_start_write,
		.end_write = fuse_backed_end_write,
	};
}

/**
 * struct fuse_backed_rw_args - a read or a write, and its result
 * @file: the FUSE file
 * @iocb: read_iter/write_iter: the I/O control block
 * @iter: read_iter/write_iter: the data
 * @pipe: splice: the pipe, NULL for read_iter/write_iter
 * @ppos: splice: the position
 * @len: splice: the length
 * @flags: splice: SPLICE_F_* flags
 * @ret: the bytes read or written, or a negative errno
 * @shorted: how much of @iter the pre-filter cut off, given back after
 * @in: the request, as programs see it (no data: only offset and size)
 * @in.read: FUSE_READ
 * @in.write: FUSE_WRITE
 * @out: the reply, as programs see it
 */
struct fuse_backed_rw_args {
	struct file *file;
	struct kiocb *iocb;
	struct iov_iter *iter;
	struct pipe_inode_info *pipe;
	loff_t *ppos;
	size_t len;
	unsigned int flags;
	ssize_t ret;
	size_t shorted;
	union {
		struct fuse_read_in read;
		struct fuse_write_in write;
	} in;
	struct fuse_write_out out;
};

/* FUSE_READ and FUSE_WRITE carry the offset and the size the same way */
static_assert(sizeof(struct fuse_read_in) == sizeof(struct fuse_write_in));
static_assert(offsetof(struct fuse_read_in, offset) ==
	      offsetof(struct fuse_write_in, offset));
static_assert(offsetof(struct fuse_read_in, size) ==
	      offsetof(struct fuse_write_in, size));
static_assert(offsetof(struct fuse_read_in, flags) ==
	      offsetof(struct fuse_write_in, flags));

/*
 * The request of a read or a write: where and how much, never the data
 * (no user or iterator memory is shown to programs).
 */
static void fuse_backed_rw_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_rw_args *ra = args;
	size_t count = ra->pipe ? ra->len : iov_iter_count(ra->iter);

	ra->in.read.offset = ra->pipe ? *ra->ppos : ra->iocb->ki_pos;
	/* The VFS caps I/O at MAX_RW_COUNT: it fits */
	ra->in.read.size = min_t(size_t, count, U32_MAX);
	ra->in.read.flags = ra->file->f_flags;
	fa->in_numargs = 1;
	bpf_fuse_arg_set(&fa->in_args[0], &ra->in.read, sizeof(ra->in.read),
			 0);
}

/*
 * A program may move a read or a write (the backing file checks the new
 * position as the FUSE file checked the caller's; an O_APPEND write still
 * goes to the end) and shorten it, nothing else: a longer one could reach
 * past the caller's buffer. The caller's position follows the new one.
 */
static int fuse_backed_rw_apply_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_rw_args *ra = args;
	const struct fuse_read_in *in;
	struct fuse_read_in new;
	size_t count;

	in = fuse_backed_arg_struct(&fa->in_args[0], sizeof(*in));
	if (!in || in->offset > LLONG_MAX || in->size > ra->in.read.size)
		return -EINVAL;
	new = *in;
	new.offset = ra->in.read.offset;
	new.size = ra->in.read.size;
	if (memcmp(&new, &ra->in.read, sizeof(new)))
		return -EINVAL;

	if (ra->pipe) {
		*ra->ppos = in->offset;
		ra->len = in->size;
		return 0;
	}
	ra->iocb->ki_pos = in->offset;
	count = iov_iter_count(ra->iter);
	iov_iter_truncate(ra->iter, in->size);
	ra->shorted = count - iov_iter_count(ra->iter);
	return 0;
}

/*
 * The bytes read or written, as a struct fuse_write_out: the data a
 * FUSE_READ reply carries is not shown.
 */
static void fuse_backed_rw_init_out(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_rw_args *ra = args;

	ra->out.size = ra->ret;
	fa->out_numargs = 1;
	bpf_fuse_arg_set(&fa->out_args[0], &ra->out, sizeof(ra->out), 0);
}

/*
 * A program may shorten a read(2), as if the file ended there. Not a
 * splice: the data is in the pipe already.
 */
static int fuse_backed_read_apply_out(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_rw_args *ra = args;
	const struct fuse_write_out *out;
	struct fuse_write_out new;
	size_t cut;

	out = fuse_backed_arg_struct(&fa->out_args[0], sizeof(*out));
	if (!out || ra->pipe || out->size > ra->out.size)
		return -EINVAL;
	new = *out;
	new.size = ra->out.size;
	if (memcmp(&new, &ra->out, sizeof(new)))
		return -EINVAL;

	cut = ra->ret - out->size;
	ra->iocb->ki_pos -= cut;
	iov_iter_revert(ra->iter, cut);
	ra->ret = out->size;
	return 0;
}

static int fuse_backed_rw_result(struct fuse_backed_rw_args *ra)
{
	return ra->ret < 0 ? ra->ret : 0;
}

static int fuse_backed_read_backing(struct path *bpath, void *args)
{
	struct fuse_backed_rw_args *ra = args;
	struct file *bfile = fuse_backed_file(ra->file);
	struct fuse_backing_io io = fuse_backed_io(bfile);

	if (ra->pipe) {
		ra->ret = fuse_backing_splice_read(bfile, &io, ra->file,
						   ra->ppos, ra->pipe, ra->len,
						   ra->flags);
		return fuse_backed_rw_result(ra);
	}
	ra->ret = fuse_backed_sync_flags(ra->file, bfile);
	if (!ra->ret)
		ra->ret = fuse_backing_read_iter(bfile, &io, ra->iocb, ra->iter);
	return fuse_backed_rw_result(ra);
}

static int fuse_backed_write_backing(struct path *bpath, void *args)
{
	struct fuse_backed_rw_args *ra = args;
	struct file *bfile = fuse_backed_file(ra->file);
	struct fuse_backing_io io = fuse_backed_io(bfile);

	if (ra->pipe) {
		ra->ret = fuse_backing_splice_write(bfile, &io, ra->pipe,
						    ra->file, ra->ppos, ra->len,
						    ra->flags);
		return fuse_backed_rw_result(ra);
	}
	ra->ret = fuse_backed_sync_flags(ra->file, bfile);
	if (!ra->ret)
		ra->ret = fuse_backing_write_iter(bfile, &io, ra->iocb,
						  ra->iter);
	return fuse_backed_rw_result(ra);
}

/* A server read or write can only be this long: one kernel copy of it */
#define FUSE_BACKED_SERVER_IO_MAX	(128 * 1024)

/**
 * fuse_backed_rw_user() - read from or write to the server, not the backing
 * @inode: the backed inode, which the server knows
 * @ra: the read or write, which the pre-filter may have moved and shortened
 * @opcode: FUSE_READ or FUSE_WRITE
 *
 * A program sends the range of a read or a write it filters to the
 * server, as the redaction of a part of a file does: the server is sent
 * FUSE_READ or FUSE_WRITE with the node id and no file handle (fh 0),
 * since it opened no file, and the data goes through a kernel buffer. The
 * server may read or write less than asked, not more; the caller's
 * position follows. An O_APPEND write is sent for the end of the backing
 * file, as plain FUSE sends one for the end of the file it knows.
 *
 * Return: 0 or a negative errno; the count in @ra.
 */
static int fuse_backed_rw_user(struct inode *inode,
			       struct fuse_backed_rw_args *ra, u32 opcode)
{
	struct fuse_mount *fm = get_fuse_mount(inode);
	bool write = opcode == FUSE_WRITE;
	struct fuse_write_out out = {};
	struct fuse_args fargs = {};
	struct fuse_read_in in = {};
	struct file *bfile;
	size_t size, done;
	ssize_t ret;
	void *buf;

	/* Splice would need the data in the pipe: not from a server */
	if (ra->pipe)
		return -EOPNOTSUPP;
	size = min_t(size_t, iov_iter_count(ra->iter),
		     FUSE_BACKED_SERVER_IO_MAX);
	ra->ret = 0;
	if (!size)
		return 0;
	buf = kvmalloc(size, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (write) {
		ret = -EFAULT;
		size = copy_from_iter(buf, size, ra->iter);
		if (!size)
			goto out;
		bfile = fuse_backed_file(ra->file);
		if (ra->iocb->ki_flags & IOCB_APPEND)
			ra->iocb->ki_pos = i_size_read(file_inode(bfile));
	}
	/* The same fields as a struct fuse_write_in: see above */
	in.offset = ra->iocb->ki_pos;
	in.size = size;
	in.flags = ra->file->f_flags;
	fargs.opcode = opcode;
	fargs.nodeid = get_node_id(inode);
	fargs.in_numargs = 1;
	fargs.in_args[0].size = sizeof(in);
	fargs.in_args[0].value = &in;
	fargs.out_numargs = 1;
	if (write) {
		fargs.in_numargs = 2;
		fargs.in_args[1].size = size;
		fargs.in_args[1].value = buf;
		fargs.out_args[0].size = sizeof(out);
		fargs.out_args[0].value = &out;
	} else {
		fargs.out_args[0].size = size;
		fargs.out_args[0].value = buf;
		fargs.out_argvar = true;
	}
	ret = fuse_simple_request(fm, &fargs);
	if (write) {
		if (!ret && out.size > size)
			ret = -EIO;
		/* The caller's iterator: past what the server took only */
		iov_iter_revert(ra->iter, ret ? size : size - out.size);
		done = ret ? 0 : out.size;
	} else {
		done = ret > 0 ? copy_to_iter(buf, ret, ra->iter) : 0;
		if (ret > 0 && !done)
			ret = -EFAULT;
	}
	if (ret >= 0) {
		ra->iocb->ki_pos += done;
		ra->ret = done;
		ret = 0;
	}
out:
	kvfree(buf);
	return ret;
}

static int fuse_backed_read_user(struct inode *inode, void *args)
{
	return fuse_backed_rw_user(inode, args, FUSE_READ);
}

static int fuse_backed_write_user(struct inode *inode, void *args)
{
	return fuse_backed_rw_user(inode, args, FUSE_WRITE);
}

/* The backing file I/O helpers switch to the backing credentials */
static const struct fuse_bpf_op fuse_backed_read_op = {
	.init_in = fuse_backed_rw_init_in,
	.apply_in = fuse_backed_rw_apply_in,
	.backing = fuse_backed_read_backing,
	.init_out = fuse_backed_rw_init_out,
	.apply_out = fuse_backed_read_apply_out,
	.user = fuse_backed_read_user,
	.caller_creds = true,
};

static const struct fuse_bpf_op fuse_backed_write_op = {
	.init_in = fuse_backed_rw_init_in,
	.apply_in = fuse_backed_rw_apply_in,
	.backing = fuse_backed_write_backing,
	.init_out = fuse_backed_rw_init_out,
	.user = fuse_backed_write_user,
	.caller_creds = true,
};

/* Run a read (FUSE_READ) or a write (FUSE_WRITE): its count or an errno */
static ssize_t fuse_backed_rw(struct fuse_backed_rw_args *ra, u32 opcode)
{
	int err;

	err = fuse_backed_file_run(opcode == FUSE_READ ? &fuse_backed_read_op :
							 &fuse_backed_write_op,
				   opcode, ra->file, ra);
	/* What the pre-filter cut off is the caller's, as blkdev_read_iter() */
	if (ra->shorted)
		iov_iter_reexpand(ra->iter,
				  iov_iter_count(ra->iter) + ra->shorted);
	/*
	 * Queued I/O completes through the iocb whatever the post-filter
	 * says: the caller must know it is in flight.
	 */
	if (ra->ret == -EIOCBQUEUED)
		return ra->ret;
	return err ?: ra->ret;
}

bool fuse_backed_read_iter(struct kiocb *iocb, struct iov_iter *to, ssize_t *ret)
{
	struct fuse_backed_rw_args ra = {
		.file = iocb->ki_filp,
		.iocb = iocb,
		.iter = to,
	};

	*ret = fuse_backed_rw(&ra, FUSE_READ);
	return true;
}

bool fuse_backed_write_iter(struct kiocb *iocb, struct iov_iter *from,
			    ssize_t *ret)
{
	struct fuse_backed_rw_args ra = {
		.file = iocb->ki_filp,
		.iocb = iocb,
		.iter = from,
	};

	*ret = fuse_backed_rw(&ra, FUSE_WRITE);
	return true;
}

bool fuse_backed_splice_read(struct file *in, loff_t *ppos,
			     struct pipe_inode_info *pipe, size_t len,
			     unsigned int flags, ssize_t *ret)
{
	struct fuse_backed_rw_args ra = {
		.file = in,
		.pipe = pipe,
		.ppos = ppos,
		.len = len,
		.flags = flags,
	};

	*ret = fuse_backed_rw(&ra, FUSE_READ);
	return true;
}

bool fuse_backed_splice_write(struct pipe_inode_info *pipe, struct file *out,
			      loff_t *ppos, size_t len, unsigned int flags,
			      ssize_t *ret)
{
	struct fuse_backed_rw_args ra = {
		.file = out,
		.pipe = pipe,
		.ppos = ppos,
		.len = len,
		.flags = flags,
	};

	*ret = fuse_backed_rw(&ra, FUSE_WRITE);
	return true;
}

struct fuse_backed_mmap_args {
	struct fuse_read_in in;
};

static void fuse_backed_mmap_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_mmap_args *ma = args;

	fa->in_numargs = 1;
	bpf_fuse_arg_set(&fa->in_args[0], &ma->in, sizeof(ma->in), 0);
}

/* The read filter sees a mapping's range: the pages are read as it says */
static const struct fuse_bpf_op fuse_backed_mmap_check_op = {
	.init_in = fuse_backed_mmap_init_in,
	.backing = fuse_backed_nop_backing,
	.file = true,
};

/*
 * Page faults read a mapping from the backing file, and no program sees
 * them. So the program of the inode sees the range of the mapping as a
 * FUSE_READ first: one that would not read it from the backing file as
 * it is (BPF_FUSE_USER, which sends data filtered by the server, or a
 * rewrite) refuses the mapping, with ENODEV (or EINVAL). Mapped data
 * never bypasses a data filter.
 */
static int fuse_backed_mmap_check(struct file *file,
				  struct vm_area_struct *vma)
{
	struct fuse_backed_mmap_args ma = {
		.in.offset = (u64)vma->vm_pgoff << PAGE_SHIFT,
		.in.size = min_t(unsigned long, vma->vm_end - vma->vm_start,
				 U32_MAX),
		.in.flags = file->f_flags,
	};
	int err;

	if (!fuse_bpf_run(&fuse_backed_mmap_check_op, FUSE_READ,
			  file_inode(file), &ma, &err))
		return -ENODEV;
	return err;
}

bool fuse_backed_mmap(struct file *file, struct vm_area_struct *vma, int *err)
{
	struct file *bfile = fuse_backed_file(file);
	struct fuse_backing_io io = fuse_backed_io(bfile);

	if (rcu_access_pointer(get_fuse_inode(file_inode(file))->bpf)) {
		*err = fuse_backed_mmap_check(file, vma);
		if (*err)
			return true;
	}

	/* As do_mmap() does on a noexec mount, for the backing mount */
	if (path_noexec(&bfile->f_path)) {
		if (vma->vm_flags & VM_EXEC) {
			*err = -EPERM;
			return true;
		}
		vm_flags_clear(vma, VM_MAYEXEC);
	}
	*err = fuse_backing_mmap(bfile, &io, file, vma);
	return true;
}

struct fuse_backed_llseek_args {
	struct file *file;
	loff_t offset;
	int whence;
	loff_t ret;
	struct fuse_lseek_in in;
	struct fuse_lseek_out out;
};

static void fuse_backed_llseek_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_llseek_args *la = args;

	la->in.offset = la->offset;
	la->in.whence = la->whence;
	fa->in_numargs = 1;
	bpf_fuse_arg_set(&fa->in_args[0], &la->in, sizeof(la->in), 0);
}

/*
 * Any seek the caller could ask for: the backing file checks it. The VFS
 * checked the caller's whence, check the program's.
 */
static int fuse_backed_llseek_apply_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_llseek_args *la = args;
	const struct fuse_lseek_in *in;
	struct fuse_lseek_in new;

	in = fuse_backed_arg_struct(&fa->in_args[0], sizeof(*in));
	if (!in || in->whence > SEEK_MAX)
		return -EINVAL;
	new = *in;
	new.offset = la->in.offset;
	new.whence = la->in.whence;
	if (memcmp(&new, &la->in, sizeof(new)))
		return -EINVAL;
	la->offset = in->offset;
	la->whence = in->whence;
	return 0;
}

static void fuse_backed_llseek_init_out(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_llseek_args *la = args;

	la->out.offset = la->ret;
	fa->out_numargs = 1;
	bpf_fuse_arg_set(&fa->out_args[0], &la->out, sizeof(la->out), 0);
}

static int fuse_backed_llseek_backing(struct path *bpath, void *args)
{
	struct fuse_backed_llseek_args *la = args;
	struct file *bfile = fuse_backed_file(la->file);

	bfile->f_pos = la->file->f_pos;
	la->ret = vfs_llseek(bfile, la->offset, la->whence);
	return la->ret < 0 ? la->ret : 0;
}

static const struct fuse_bpf_op fuse_backed_llseek_op = {
	.init_in = fuse_backed_llseek_init_in,
	.apply_in = fuse_backed_llseek_apply_in,
	.backing = fuse_backed_llseek_backing,
	.init_out = fuse_backed_llseek_init_out,
	.file = true,
};

/**
 * fuse_backed_llseek() - seek in a backed file or directory
 * @file: the FUSE file
 * @offset: offset
 * @whence: SEEK_*
 * @ret: set to the new position or a negative errno
 *
 * The backing file decides (SEEK_DATA, SEEK_HOLE, SEEK_END, directory
 * cookies); the FUSE file's position only changes on success.
 *
 * Return: true, it ran here.
 */
bool fuse_backed_llseek(struct file *file, loff_t offset, int whence,
			loff_t *ret)
{
	struct fuse_backed_llseek_args la = {
		.file = file,
		.offset = offset,
		.whence = whence,
	};
	int err;

	err = fuse_backed_file_run(&fuse_backed_llseek_op, FUSE_LSEEK, file,
				   &la);
	*ret = err ?: la.ret;
	if (*ret >= 0)
		file->f_pos = *ret;
	return true;
}

bool fuse_backed_poll(struct file *file, poll_table *wait, __poll_t *mask)
{
	struct file *bfile = fuse_backed_file(file);

	*mask = vfs_poll(bfile, wait);
	return true;
}

struct fuse_backed_fallocate_args {
	struct file *file;
	int mode;
	loff_t offset;
	loff_t length;
	struct fuse_fallocate_in in;
};

static void fuse_backed_fallocate_init_in(struct bpf_fuse_args *fa,
					  void *args)
{
	struct fuse_backed_fallocate_args *fla = args;

	fla->in.offset = fla->offset;
	fla->in.length = fla->length;
	fla->in.mode = fla->mode;
	fa->in_numargs = 1;
	bpf_fuse_arg_set(&fa->in_args[0], &fla->in, sizeof(fla->in), 0);
}

/*
 * vfs_fallocate() on the backing file checks the new range and mode as it
 * checked the caller's on the FUSE file: the same inode flags (append,
 * immutable), the same access mode, the same limits.
 */
static int fuse_backed_fallocate_apply_in(struct bpf_fuse_args *fa,
					  void *args)
{
	struct fuse_backed_fallocate_args *fla = args;
	const struct fuse_fallocate_in *in;
	struct fuse_fallocate_in new;

	in = fuse_backed_arg_struct(&fa->in_args[0], sizeof(*in));
	if (!in || in->offset > LLONG_MAX || in->length > LLONG_MAX ||
	    in->mode > INT_MAX)
		return -EINVAL;
	new = *in;
	new.offset = fla->in.offset;
	new.length = fla->in.length;
	new.mode = fla->in.mode;
	if (memcmp(&new, &fla->in, sizeof(new)))
		return -EINVAL;
	fla->offset = in->offset;
	fla->length = in->length;
	fla->mode = in->mode;
	return 0;
}

static int fuse_backed_fallocate_backing(struct path *bpath, void *args)
{
	struct fuse_backed_fallocate_args *fla = args;
	struct file *bfile = fuse_backed_file(fla->file);
	struct inode *inode = file_inode(fla->file);
	const struct cred *old_cred;
	int err;

	inode_lock(inode);
	/* As overlayfs: a fresh mode for file_remove_privs() */
	fuse_backed_copyattr(inode);
	err = file_remove_privs(fla->file);
	if (!err) {
		old_cred = override_creds(bfile->f_cred);
		err = vfs_fallocate(bfile, fla->mode, fla->offset,
				    fla->length);
		revert_creds(old_cred);
	}
	fuse_backed_copyattr(inode);
	inode_unlock(inode);
	return err;
}

/* file_remove_privs() needs the caller's credentials */
static const struct fuse_bpf_op fuse_backed_fallocate_op = {
	.init_in = fuse_backed_fallocate_init_in,
	.apply_in = fuse_backed_fallocate_apply_in,
	.backing = fuse_backed_fallocate_backing,
	.caller_creds = true,
	.file = true,
};

/**
 * fuse_backed_fallocate() - allocate or punch space in a backed file
 * @file: the FUSE file
 * @mode: FALLOC_FL_* flags, as the backing filesystem supports them
 * @offset: start
 * @length: length
 * @err: set to the result
 *
 * Return: true, it ran here.
 */
bool fuse_backed_fallocate(struct file *file, int mode, loff_t offset,
			   loff_t length, int *err)
{
	struct fuse_backed_fallocate_args fla = {
		.file = file,
		.mode = mode,
		.offset = offset,
		.length = length,
	};

	*err = fuse_backed_file_run(&fuse_backed_fallocate_op, FUSE_FALLOCATE,
				    file, &fla);
	return true;
}

struct fuse_backed_copy_args {
	struct file *in;
	loff_t pos_in;
	struct file *out;
	loff_t pos_out;
	size_t len;
	unsigned int flags;
	ssize_t ret;
	struct fuse_copy_file_range_in fin;
	struct fuse_write_out fout;
};

static void fuse_backed_copy_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_copy_args *ca = args;

	ca->fin.off_in = ca->pos_in;
	ca->fin.nodeid_out = get_node_id(file_inode(ca->out));
	ca->fin.off_out = ca->pos_out;
	ca->fin.len = ca->len;
	ca->fin.flags = ca->flags;
	fa->in_numargs = 1;
	bpf_fuse_arg_set(&fa->in_args[0], &ca->fin, sizeof(ca->fin), 0);
}

static void fuse_backed_copy_init_out(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_copy_args *ca = args;

	/* The VFS caps a copy at MAX_RW_COUNT */
	ca->fout.size = ca->ret;
	fa->out_numargs = 1;
	bpf_fuse_arg_set(&fa->out_args[0], &ca->fout, sizeof(ca->fout), 0);
}

static int fuse_backed_copy_backing(struct path *bpath, void *args)
{
	struct fuse_backed_copy_args *ca = args;
	struct file *bout = fuse_backed_file(ca->out);
	struct inode *inode = file_inode(ca->out);
	const struct cred *old_cred;

	inode_lock(inode);
	fuse_backed_copyattr(inode);
	ca->ret = file_remove_privs(ca->out);
	if (!ca->ret) {
		old_cred = override_creds(bout->f_cred);
		ca->ret = vfs_copy_file_range(fuse_backed_file(ca->in),
					      ca->pos_in, bout, ca->pos_out,
					      ca->len, ca->flags);
		revert_creds(old_cred);
	}
	fuse_backed_copyattr(inode);
	inode_unlock(inode);
	return ca->ret < 0 ? ca->ret : 0;
}

/* file_remove_privs() needs the caller's credentials */
static const struct fuse_bpf_op fuse_backed_copy_op = {
	.init_in = fuse_backed_copy_init_in,
	.backing = fuse_backed_copy_backing,
	.init_out = fuse_backed_copy_init_out,
	.caller_creds = true,
	.file = true,
};

/**
 * fuse_backed_copy_file_range() - copy between backed files
 * @in: the FUSE file to copy from
 * @pos_in: where
 * @out: the FUSE file to copy to
 * @pos_out: where
 * @len: how much
 * @flags: copy_file_range() flags
 * @ret: set to the bytes copied or a negative errno
 *
 * The program of @out's inode sees it. A copy between a backed and a
 * plain file fails with EXDEV, for the caller to fall back to splice.
 *
 * Return: true, it ran here.
 */
bool fuse_backed_copy_file_range(struct file *in, loff_t pos_in,
				 struct file *out, loff_t pos_out, size_t len,
				 unsigned int flags, ssize_t *ret)
{
	struct fuse_backed_copy_args ca = {
		.in = in,
		.pos_in = pos_in,
		.out = out,
		.pos_out = pos_out,
		.len = len,
		.flags = flags,
	};
	int err;

	*ret = -EXDEV;
	if (!fuse_backed_file(in) || !fuse_backed_file(out))
		return true;
	err = fuse_backed_file_run(&fuse_backed_copy_op, FUSE_COPY_FILE_RANGE,
				   out, &ca);
	*ret = err ?: ca.ret;
	return true;
}

/**
 * struct fuse_backed_ioctl_args - an ioctl, as programs see it
 * @cmd: the command
 * @flags: FUSE_IOCTL_* flags
 * @in: the request, as programs see it: no argument, no data
 */
struct fuse_backed_ioctl_args {
	unsigned int cmd;
	unsigned int flags;
	struct fuse_ioctl_in in;
};

static void fuse_backed_ioctl_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_ioctl_args *ia = args;

	ia->in.cmd = ia->cmd;
	ia->in.flags = ia->flags;
	fa->in_numargs = 1;
	bpf_fuse_arg_set(&fa->in_args[0], &ia->in, sizeof(ia->in), 0);
}

static int fuse_backed_ioctl_backing(struct path *bpath, void *args)
{
	return -ENOTTY;
}

static const struct fuse_bpf_op fuse_backed_ioctl_op = {
	.init_in = fuse_backed_ioctl_init_in,
	.backing = fuse_backed_ioctl_backing,
	.file = true,
};

/**
 * fuse_backed_ioctl() - an ioctl on a backed file
 * @file: the FUSE file
 * @cmd: the command
 * @flags: FUSE_IOCTL_* flags
 *
 * The server does not know backed files, it cannot serve their ioctls:
 * they fail with ENOTTY, or the program's errno. Inode flags go through
 * fileattr.
 *
 * Return: a negative errno.
 */
long fuse_backed_ioctl(struct file *file, unsigned int cmd,
		       unsigned int flags)
{
	struct fuse_backed_ioctl_args ia = { .cmd = cmd, .flags = flags };

	return fuse_backed_file_run(&fuse_backed_ioctl_op, FUSE_IOCTL, file,
				    &ia);
}
