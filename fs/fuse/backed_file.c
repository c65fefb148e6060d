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
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fileattr.h>
#include <linux/mount.h>
#include <linux/poll.h>

struct fuse_backed_open_args {
	struct file *file;
	struct fuse_file *ff;
};

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
	flags = file->f_flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);
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
 * server's.
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_open(struct inode *inode, struct file *file, int *err)
{
	struct fuse_backed_open_args oa = { .file = file };

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
 * a program cannot send it one.
 */
static int fuse_backed_file_run(const struct fuse_bpf_op *op, u32 opcode,
				struct file *file, void *args)
{
	int err;

	if (!fuse_bpf_run(op, opcode, file_inode(file), args, &err))
		return -EOPNOTSUPP;
	return err;
}

static int fuse_backed_nop_backing(struct path *bpath, void *args)
{
	return 0;
}

static const struct fuse_bpf_op fuse_backed_release_op = {
	.backing = fuse_backed_nop_backing,
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
	struct fuse_file *ff = file->private_data;
	struct inode *inode = file_inode(file);

	fuse_backed_file_run(&fuse_backed_release_op,
			     S_ISDIR(inode->i_mode) ? FUSE_RELEASEDIR :
						      FUSE_RELEASE,
			     file, NULL);
	fput(ff->backing_file);
	fuse_file_free(ff);
	return true;
}

struct fuse_backed_flush_args {
	struct file *bfile;
	fl_owner_t id;
};

static int fuse_backed_flush_backing(struct path *bpath, void *args)
{
	struct fuse_backed_flush_args *fa = args;

	return fa->bfile->f_op->flush ? fa->bfile->f_op->flush(fa->bfile,
							       fa->id) : 0;
}

static const struct fuse_bpf_op fuse_backed_flush_op = {
	.backing = fuse_backed_flush_backing,
};

bool fuse_backed_flush(struct file *file, fl_owner_t id, int *err)
{
	struct fuse_backed_flush_args fa = {
		.bfile = fuse_backed_file(file),
		.id = id,
	};

	*err = fuse_backed_file_run(&fuse_backed_flush_op, FUSE_FLUSH, file,
				    &fa);
	return true;
}

struct fuse_backed_fsync_args {
	struct file *file;
	loff_t start;
	loff_t end;
	int datasync;
};

static int fuse_backed_fsync_backing(struct path *bpath, void *args)
{
	struct fuse_backed_fsync_args *fa = args;

	return vfs_fsync_range(fuse_backed_file(fa->file), fa->start, fa->end,
			       fa->datasync);
}

static void fuse_backed_file_finalize(struct inode *inode, void *args)
{
	fuse_backed_copyattr(inode);
}

static const struct fuse_bpf_op fuse_backed_fsync_op = {
	.backing = fuse_backed_fsync_backing,
	.finalize = fuse_backed_file_finalize,
};

bool fuse_backed_fsync(struct file *file, loff_t start, loff_t end,
		       int datasync, int *err)
{
	struct fuse_backed_fsync_args fa = {
		.file = file,
		.start = start,
		.end = end,
		.datasync = datasync,
	};

	*err = fuse_backed_file_run(&fuse_backed_fsync_op,
				    S_ISDIR(file_inode(file)->i_mode) ?
				    FUSE_FSYNCDIR : FUSE_FSYNC, file, &fa);
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

/* The arguments of a read or a write, and its result */
struct fuse_backed_rw_args {
	struct file *file;
	struct kiocb *iocb;
	struct iov_iter *iter;
	struct pipe_inode_info *pipe;
	loff_t *ppos;
	size_t len;
	unsigned int flags;
	ssize_t ret;
};

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

/* The backing file I/O helpers switch to the backing credentials */
static const struct fuse_bpf_op fuse_backed_read_op = {
	.backing = fuse_backed_read_backing,
	.caller_creds = true,
};

static const struct fuse_bpf_op fuse_backed_write_op = {
	.backing = fuse_backed_write_backing,
	.caller_creds = true,
};

/* Run a read (FUSE_READ) or a write (FUSE_WRITE): its count or an errno */
static ssize_t fuse_backed_rw(struct fuse_backed_rw_args *ra, u32 opcode)
{
	int err;

	err = fuse_backed_file_run(opcode == FUSE_READ ? &fuse_backed_read_op :
							 &fuse_backed_write_op,
				   opcode, ra->file, ra);
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

bool fuse_backed_mmap(struct file *file, struct vm_area_struct *vma, int *err)
{
	struct file *bfile = fuse_backed_file(file);
	struct fuse_backing_io io = fuse_backed_io(bfile);

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
};

static int fuse_backed_llseek_backing(struct path *bpath, void *args)
{
	struct fuse_backed_llseek_args *la = args;
	struct file *bfile = fuse_backed_file(la->file);

	bfile->f_pos = la->file->f_pos;
	la->ret = vfs_llseek(bfile, la->offset, la->whence);
	return la->ret < 0 ? la->ret : 0;
}

static const struct fuse_bpf_op fuse_backed_llseek_op = {
	.backing = fuse_backed_llseek_backing,
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
};

static int fuse_backed_fallocate_backing(struct path *bpath, void *args)
{
	struct fuse_backed_fallocate_args *fa = args;
	struct file *bfile = fuse_backed_file(fa->file);
	struct inode *inode = file_inode(fa->file);
	const struct cred *old_cred;
	int err;

	inode_lock(inode);
	/* As overlayfs: a fresh mode for file_remove_privs() */
	fuse_backed_copyattr(inode);
	err = file_remove_privs(fa->file);
	if (!err) {
		old_cred = override_creds(bfile->f_cred);
		err = vfs_fallocate(bfile, fa->mode, fa->offset, fa->length);
		revert_creds(old_cred);
	}
	fuse_backed_copyattr(inode);
	inode_unlock(inode);
	return err;
}

/* file_remove_privs() needs the caller's credentials */
static const struct fuse_bpf_op fuse_backed_fallocate_op = {
	.backing = fuse_backed_fallocate_backing,
	.caller_creds = true,
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
	struct fuse_backed_fallocate_args fa = {
		.file = file,
		.mode = mode,
		.offset = offset,
		.length = length,
	};

	*err = fuse_backed_file_run(&fuse_backed_fallocate_op, FUSE_FALLOCATE,
				    file, &fa);
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
};

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
	.backing = fuse_backed_copy_backing,
	.caller_creds = true,
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

static int fuse_backed_ioctl_backing(struct path *bpath, void *args)
{
	return -ENOTTY;
}

static const struct fuse_bpf_op fuse_backed_ioctl_op = {
	.backing = fuse_backed_ioctl_backing,
};

/**
 * fuse_backed_ioctl() - an ioctl on a backed file
 * @file: the FUSE file
 *
 * The server does not know backed files, it cannot serve their ioctls:
 * they fail with ENOTTY, or the program's errno. Inode flags go through
 * fileattr.
 *
 * Return: a negative errno.
 */
long fuse_backed_ioctl(struct file *file)
{
	return fuse_backed_file_run(&fuse_backed_ioctl_op, FUSE_IOCTL, file,
				    NULL);
}
