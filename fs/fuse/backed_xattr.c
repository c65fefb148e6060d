// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-bpf: extended attributes, POSIX ACLs and file attributes of
 * backed inodes.
 *
 * Copyright (c) 2026 The fuse-bpf authors
 */

#include "fuse_i.h"
#include "fuse_bpf.h"

#include <linux/cred.h>
#include <linux/fileattr.h>
#include <linux/mount.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/xattr.h>

struct fuse_backed_xattr_args {
	const char *name;
	void *value;		/* NULL: size query (get), removal (set) */
	size_t size;
	int flags;
	bool hide_trusted;	/* list: the caller may not see trusted.* */
	ssize_t ret;		/* get and list: the length */
};

/* The errno channel carries errors only: lengths go to args->ret */
static int fuse_backed_xattr_result(struct fuse_backed_xattr_args *xa, ssize_t ret)
{
	if (ret < 0)
		return ret;
	xa->ret = ret;
	return 0;
}

static int fuse_backed_getxattr_backing(struct path *backing_path, void *args)
{
	struct fuse_backed_xattr_args *xa = args;

	return fuse_backed_xattr_result(xa,
			vfs_getxattr(mnt_idmap(backing_path->mnt),
				     backing_path->dentry, xa->name,
				     xa->value, xa->size));
}

static const struct fuse_bpf_op fuse_backed_getxattr_op = {
	.backing = fuse_backed_getxattr_backing,
};

/* Drop the trusted.* names from a list of @len bytes; its new length */
static size_t fuse_backed_hide_trusted(char *list, size_t len)
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
static ssize_t fuse_backed_list_visible(struct dentry *bentry,
					struct fuse_backed_xattr_args *xa)
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
		len = fuse_backed_hide_trusted(buf, len);
	if (len > 0 && xa->size) {
		if (len > xa->size)
			len = -ERANGE;
		else
			memcpy(xa->value, buf, len);
	}
	kvfree(buf);
	return len;
}

static int fuse_backed_listxattr_backing(struct path *backing_path, void *args)
{
	struct fuse_backed_xattr_args *xa = args;

	if (xa->hide_trusted)
		return fuse_backed_xattr_result(xa,
			fuse_backed_list_visible(backing_path->dentry, xa));
	return fuse_backed_xattr_result(xa,
			vfs_listxattr(backing_path->dentry, xa->value,
				      xa->size));
}

static const struct fuse_bpf_op fuse_backed_listxattr_op = {
	.backing = fuse_backed_listxattr_backing,
};

static int fuse_backed_setxattr_backing(struct path *backing_path, void *args)
{
	struct fuse_backed_xattr_args *xa = args;

	if (!xa->value)
		return vfs_removexattr(mnt_idmap(backing_path->mnt),
				       backing_path->dentry, xa->name);
	return vfs_setxattr(mnt_idmap(backing_path->mnt), backing_path->dentry,
			    xa->name, xa->value, xa->size, xa->flags);
}

static const struct fuse_bpf_op fuse_backed_setxattr_op = {
	.backing = fuse_backed_setxattr_backing,
	.finalize = fuse_backed_copyattr_finalize,
	.write = true,
};

/**
 * fuse_backed_getxattr() - read an extended attribute of a backed inode
 * @inode: the FUSE inode
 * @name: the attribute's full name
 * @value: the buffer, or NULL to ask for the size
 * @size: its size
 * @ret: set to the length or a negative errno
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_getxattr(struct inode *inode, const char *name, void *value,
			  size_t size, ssize_t *ret)
{
	struct fuse_backed_xattr_args args = {
		.name = name,
		.value = value,
		.size = size,
	};
	int err;

	if (!fuse_bpf_run(&fuse_backed_getxattr_op, FUSE_GETXATTR, inode, &args,
			  &err))
		return false;
	*ret = err ?: args.ret;
	return true;
}

/**
 * fuse_backed_listxattr() - list the extended attributes of a backed inode
 * @entry: the FUSE dentry
 * @list: the buffer, or NULL to ask for the size
 * @size: its size
 * @ret: set to the length or a negative errno
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_listxattr(struct dentry *entry, char *list, size_t size,
			   ssize_t *ret)
{
	struct fuse_backed_xattr_args args = { .value = list, .size = size };
	int err;

	/* Decided with the caller's credentials, before they are overridden */
	args.hide_trusted = !ns_capable_noaudit(&init_user_ns, CAP_SYS_ADMIN);
	if (!fuse_bpf_run(&fuse_backed_listxattr_op, FUSE_LISTXATTR,
			  d_inode(entry), &args, &err))
		return false;
	*ret = err ?: args.ret;
	return true;
}

struct fuse_backed_acl_args {
	int type;
	struct posix_acl *acl;
};

static int fuse_backed_get_acl_backing(struct path *backing_path, void *args)
{
	struct fuse_backed_acl_args *aa = args;
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

static const struct fuse_bpf_op fuse_backed_get_acl_op = {
	.backing = fuse_backed_get_acl_backing,
};

/**
 * fuse_backed_get_acl() - get a POSIX ACL of a backed inode
 * @dentry: the FUSE dentry
 * @type: ACL_TYPE_ACCESS or ACL_TYPE_DEFAULT
 * @acl: set to the ACL, NULL if it has none, or an ERR_PTR()
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_get_acl(struct dentry *dentry, int type, struct posix_acl **acl)
{
	struct fuse_backed_acl_args args = { .type = type };
	int err;

	if (!fuse_bpf_run(&fuse_backed_get_acl_op, FUSE_GETXATTR, d_inode(dentry),
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
static struct posix_acl *fuse_backed_idmap_acl(struct inode *binode,
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
 * fuse_backed_get_inode_acl() - the POSIX ACL of a backed inode, to check access
 * @inode: the FUSE inode
 * @type: ACL_TYPE_ACCESS or ACL_TYPE_DEFAULT
 * @rcu: the caller walks in RCU mode
 * @acl: set to the ACL, NULL if it has none, or an ERR_PTR()
 *
 * FUSE inodes of backing inodes do not cache ACLs (ACL_DONT_CACHE): the
 * backing inode's, cached by its filesystem, are authoritative. As for
 * overlayfs, no program filters this.
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_get_inode_acl(struct inode *inode, int type, bool rcu,
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
		*acl = fuse_backed_idmap_acl(binode, bidmap, *acl);
	return true;
}

static int fuse_backed_set_acl_backing(struct path *backing_path, void *args)
{
	struct fuse_backed_acl_args *aa = args;
	struct mnt_idmap *idmap = mnt_idmap(backing_path->mnt);
	const char *name = posix_acl_xattr_name(aa->type);

	if (is_idmapped_mnt(backing_path->mnt))
		return -EOPNOTSUPP;
	if (aa->acl)
		return vfs_set_acl(idmap, backing_path->dentry, name, aa->acl);
	return vfs_remove_acl(idmap, backing_path->dentry, name);
}

static const struct fuse_bpf_op fuse_backed_set_acl_op = {
	.backing = fuse_backed_set_acl_backing,
	/* Setting an access ACL may change the mode */
	.finalize = fuse_backed_copyattr_finalize,
	.write = true,
};

/*
 * The VFS checked the caller's ownership on attributes that may be stale:
 * check it again on fresh ones.
 */
static int fuse_backed_owner_again(struct mnt_idmap *idmap, struct inode *inode)
{
	fuse_backed_copyattr(inode);
	return inode_owner_or_capable(idmap, inode) ? 0 : -EPERM;
}

/**
 * fuse_backed_set_acl() - set or remove a POSIX ACL of a backed inode
 * @idmap: idmap of the FUSE mount
 * @dentry: the FUSE dentry
 * @acl: the ACL, NULL to remove it
 * @type: ACL_TYPE_ACCESS or ACL_TYPE_DEFAULT
 * @err: set to the result
 *
 * The caller's right to change it was checked on the FUSE inode.
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_set_acl(struct mnt_idmap *idmap, struct dentry *dentry,
			 struct posix_acl *acl, int type, int *err)
{
	struct fuse_backed_acl_args args = { .type = type, .acl = acl };
	struct inode *inode = d_inode(dentry);

	/* As set_posix_acl() */
	*err = fuse_backed_owner_again(idmap, inode);
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
	return fuse_bpf_run(&fuse_backed_set_acl_op,
			    acl ? FUSE_SETXATTR : FUSE_REMOVEXATTR,
			    d_inode(dentry), &args, err);
}

/**
 * fuse_backed_setxattr() - set or remove an extended attribute of a backed inode
 * @inode: the FUSE inode
 * @name: the attribute's full name
 * @value: its value, NULL to remove it
 * @size: the size of @value
 * @flags: XATTR_CREATE, XATTR_REPLACE
 * @err: set to the result
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_setxattr(struct inode *inode, const char *name,
			  const void *value, size_t size, int flags, int *err)
{
	struct fuse_backed_xattr_args args = {
		.name = name,
		.value = (void *)value,
		.size = size,
		.flags = flags,
	};

	return fuse_bpf_run(&fuse_backed_setxattr_op,
			    value ? FUSE_SETXATTR : FUSE_REMOVEXATTR, inode,
			    &args, err);
}

static int fuse_backed_fileattr_get_backing(struct path *backing_path,
					    void *args)
{
	return vfs_fileattr_get(backing_path->dentry, args);
}

static const struct fuse_bpf_op fuse_backed_fileattr_get_op = {
	.backing = fuse_backed_fileattr_get_backing,
};

static int fuse_backed_fileattr_set_backing(struct path *backing_path,
					    void *args)
{
	return vfs_fileattr_set(mnt_idmap(backing_path->mnt),
				backing_path->dentry, args);
}

static const struct fuse_bpf_op fuse_backed_fileattr_set_op = {
	.backing = fuse_backed_fileattr_set_backing,
	.finalize = fuse_backed_copyattr_finalize,
	.write = true,
};

/**
 * fuse_backed_fileattr_get() - read the inode flags of a backed inode
 * @dentry: the FUSE dentry
 * @fa: the flags to fill in
 * @err: set to the result
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_fileattr_get(struct dentry *dentry, struct fileattr *fa,
			      int *err)
{
	return fuse_bpf_run(&fuse_backed_fileattr_get_op, FUSE_IOCTL,
			    d_inode(dentry), fa, err);
}

/**
 * fuse_backed_fileattr_set() - change the inode flags of a backed inode
 * @idmap: idmap of the FUSE mount
 * @dentry: the FUSE dentry
 * @fa: the new flags
 * @err: set to the result
 *
 * vfs_fileattr_set() checked the caller's ownership, and its right to
 * change the immutable and append-only flags against the backing inode's
 * current flags; the owner it checked may be stale, so check it again.
 *
 * Return: true if it ran here, false if the program sends it to the
 * server.
 */
bool fuse_backed_fileattr_set(struct mnt_idmap *idmap, struct dentry *dentry,
			      struct fileattr *fa, int *err)
{
	struct inode *inode = d_inode(dentry);

	/* As vfs_fileattr_set() */
	*err = fuse_backed_owner_again(idmap, inode);
	if (*err)
		return true;
	return fuse_bpf_run(&fuse_backed_fileattr_set_op, FUSE_IOCTL, inode, fa,
			    err);
}
