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

/**
 * fuse_backed_open() - open the backing file of a backed inode
 * @inode: the FUSE inode
 * @file: the FUSE file being opened
 * @err: set to the result
 *
 * As overlayfs: the backing credentials must be allowed to open the
 * backing inode that way, then it is opened as a backing file.
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_open(struct inode *inode, struct file *file, int *err)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	struct inode *binode;
	const struct cred *old_cred;
	struct mnt_idmap *idmap;
	int flags, acc_mode;
	struct fuse_file *ff;
	struct file *bfile;

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
	 * the FUSE mount's, through the FUSE inode (fuse_backed_update_time()).
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
 * fuse_backed_release() - release a backed FUSE file
 * @file: the FUSE file
 *
 * Return: true, the file is released.
 */
bool fuse_backed_release(struct file *file)
{
	struct fuse_file *ff = file->private_data;

	fput(ff->backing_file);
	fuse_file_free(ff);
	return true;
}

bool fuse_backed_flush(struct file *file, fl_owner_t id, int *err)
{
	struct file *bfile = fuse_backed_file(file);
	const struct cred *old_cred;

	*err = 0;
	if (bfile->f_op->flush) {
		old_cred = override_creds(bfile->f_cred);
		*err = bfile->f_op->flush(bfile, id);
		revert_creds(old_cred);
	}
	return true;
}

bool fuse_backed_fsync(struct file *file, loff_t start, loff_t end,
		       int datasync, int *err)
{
	struct file *bfile = fuse_backed_file(file);
	const struct cred *old_cred;

	old_cred = override_creds(bfile->f_cred);
	*err = vfs_fsync_range(bfile, start, end, datasync);
	revert_creds(old_cred);
	fuse_backed_copyattr(file_inode(file));
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
 * Return: true if it ran here, false if the program sends it to the
 * server.
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

bool fuse_backed_read_iter(struct kiocb *iocb, struct iov_iter *to, ssize_t *ret)
{
	struct file *bfile = fuse_backed_file(iocb->ki_filp);
	struct fuse_backing_io io = fuse_backed_io(bfile);

	*ret = fuse_backed_sync_flags(iocb->ki_filp, bfile);
	if (!*ret)
		*ret = fuse_backing_read_iter(bfile, &io, iocb, to);
	return true;
}

bool fuse_backed_write_iter(struct kiocb *iocb, struct iov_iter *from,
			    ssize_t *ret)
{
	struct file *bfile = fuse_backed_file(iocb->ki_filp);
	struct fuse_backing_io io = fuse_backed_io(bfile);

	*ret = fuse_backed_sync_flags(iocb->ki_filp, bfile);
	if (!*ret)
		*ret = fuse_backing_write_iter(bfile, &io, iocb, from);
	return true;
}

bool fuse_backed_splice_read(struct file *in, loff_t *ppos,
			     struct pipe_inode_info *pipe, size_t len,
			     unsigned int flags, ssize_t *ret)
{
	struct file *bfile = fuse_backed_file(in);
	struct fuse_backing_io io = fuse_backed_io(bfile);

	*ret = fuse_backing_splice_read(bfile, &io, in, ppos, pipe, len, flags);
	return true;
}

bool fuse_backed_splice_write(struct pipe_inode_info *pipe, struct file *out,
			      loff_t *ppos, size_t len, unsigned int flags,
			      ssize_t *ret)
{
	struct file *bfile = fuse_backed_file(out);
	struct fuse_backing_io io = fuse_backed_io(bfile);

	*ret = fuse_backing_splice_write(bfile, &io, pipe, out, ppos, len,
					 flags);
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
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_llseek(struct file *file, loff_t offset, int whence,
			loff_t *ret)
{
	struct file *bfile = fuse_backed_file(file);
	const struct cred *old_cred;

	bfile->f_pos = file->f_pos;
	old_cred = override_creds(bfile->f_cred);
	*ret = vfs_llseek(bfile, offset, whence);
	revert_creds(old_cred);
	if (*ret >= 0)
		file->f_pos = bfile->f_pos;
	return true;
}

bool fuse_backed_poll(struct file *file, poll_table *wait, __poll_t *mask)
{
	struct file *bfile = fuse_backed_file(file);

	*mask = vfs_poll(bfile, wait);
	return true;
}

/**
 * fuse_backed_fallocate() - allocate or punch space in a backed file
 * @file: the FUSE file
 * @mode: FALLOC_FL_* flags, as the backing filesystem supports them
 * @offset: start
 * @length: length
 * @err: set to the result
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_fallocate(struct file *file, int mode, loff_t offset,
			   loff_t length, int *err)
{
	struct file *bfile = fuse_backed_file(file);
	struct inode *inode = file_inode(file);
	const struct cred *old_cred;

	inode_lock(inode);
	/* As overlayfs: a fresh mode for file_remove_privs() */
	fuse_backed_copyattr(inode);
	*err = file_remove_privs(file);
	if (!*err) {
		old_cred = override_creds(bfile->f_cred);
		*err = vfs_fallocate(bfile, mode, offset, length);
		revert_creds(old_cred);
	}
	fuse_backed_copyattr(inode);
	inode_unlock(inode);
	return true;
}

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
 * A copy between a backed and a plain file fails with EXDEV, for the
 * caller to fall back to splice.
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_copy_file_range(struct file *in, loff_t pos_in,
				 struct file *out, loff_t pos_out, size_t len,
				 unsigned int flags, ssize_t *ret)
{
	struct file *bin = fuse_backed_file(in), *bout = fuse_backed_file(out);
	struct inode *inode = file_inode(out);
	const struct cred *old_cred;

	*ret = -EXDEV;
	if (!bin || !bout)
		return true;
	inode_lock(inode);
	fuse_backed_copyattr(inode);
	*ret = file_remove_privs(out);
	if (!*ret) {
		old_cred = override_creds(bout->f_cred);
		*ret = vfs_copy_file_range(bin, pos_in, bout, pos_out, len,
					   flags);
		revert_creds(old_cred);
	}
	fuse_backed_copyattr(inode);
	inode_unlock(inode);
	return true;
}
