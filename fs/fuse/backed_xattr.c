// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-bpf: extended attributes, POSIX ACLs and file attributes of
 * backed inodes.
 *
 * Copyright (c) 2026 The fuse-bpf authors
 */

#include "fuse_i.h"
#include "fuse_bpf.h"

#include <linux/bpf_fuse.h>
#include <linux/cred.h>
#include <linux/fileattr.h>
#include <linux/mount.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/xattr.h>

/**
 * struct fuse_backed_xattr_args - an xattr operation, and its result
 * @name: the attribute's full name, a kernel string
 * @value: its value, or the caller's buffer (a kernel one); NULL: size
 *	query (get, list), removal (set)
 * @size: the size of @value
 * @flags: set: XATTR_CREATE, XATTR_REPLACE
 * @hide_trusted: list: the caller may not see trusted.*
 * @ret: get and list: the length
 * @in: the request, as programs see it
 * @in.get: FUSE_GETXATTR, FUSE_LISTXATTR
 * @in.set: FUSE_SETXATTR
 * @out: get and list, size query: the reply, as programs see it
 */
struct fuse_backed_xattr_args {
	const char *name;
	void *value;
	size_t size;
	int flags;
	bool hide_trusted;
	ssize_t ret;
	union {
		struct fuse_getxattr_in get;
		struct fuse_setxattr_in set;
	} in;
	struct fuse_getxattr_out out;
};

/*
 * The namespace of @name if the caller's permission checks do not depend
 * on the rest of the name, nor on the value: xattr_permission() checks
 * CAP_SYS_ADMIN for any trusted.* name, and the caller's access to the
 * inode for any user.* name; LSMs check security.* names and values one
 * by one, the VFS converts some (security.capability, system.posix_acl_*).
 * NULL for those and for any other namespace.
 */
static const char *fuse_backed_xattr_ns(const char *name)
{
	if (!strncmp(name, XATTR_USER_PREFIX, XATTR_USER_PREFIX_LEN))
		return XATTR_USER_PREFIX;
	if (!strncmp(name, XATTR_TRUSTED_PREFIX, XATTR_TRUSTED_PREFIX_LEN))
		return XATTR_TRUSTED_PREFIX;
	return NULL;
}

/**
 * fuse_backed_xattr_name() - the name a program gave an attribute
 * @arg: the argument, a name and its NUL
 * @old: the caller's name
 * @name: set to the new name, which lives as long as @arg
 *
 * The VFS checked the caller on @old, before us, and cannot check it on
 * another name: a new name must stay in a namespace where the checks do
 * not depend on it (user.*, trusted.*, see fuse_backed_xattr_ns()). So a
 * program cannot reach the attributes the caller may not, nor those an
 * LSM guards one by one.
 *
 * Return: 0, or EINVAL if it is not a name, or not one the caller was
 * checked for.
 */
static int fuse_backed_xattr_name(const struct bpf_fuse_arg *arg,
				  const char *old, const char **name)
{
	const char *s = fuse_bpf_arg_str(arg);
	const char *ns;

	if (!s || arg->size > XATTR_NAME_MAX + 1)
		return -EINVAL;
	if (strcmp(s, old)) {
		ns = fuse_backed_xattr_ns(old);
		if (!ns || strncmp(s, ns, strlen(ns)))
			return -EINVAL;
	}
	*name = s;
	return 0;
}

/* Describe the name (as the VFS copied it) to a program */
static void fuse_backed_xattr_set_name(struct bpf_fuse_arg *arg,
				       const char *name)
{
	bpf_fuse_arg_set(arg, (void *)name, strlen(name) + 1,
			 XATTR_NAME_MAX + 1);
}

/*
 * Get and list: with a buffer, the bytes in it (the caller's, a kernel
 * buffer); a size query: its answer, in a struct fuse_getxattr_out.
 */
static void fuse_backed_xattr_init_out(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_xattr_args *xa = args;

	fa->out_numargs = 1;
	if (!xa->size) {
		xa->out.size = xa->ret;
		bpf_fuse_arg_set(&fa->out_args[0], &xa->out, sizeof(xa->out),
				 0);
		return;
	}
	/* System calls ask for XATTR_SIZE_MAX (= XATTR_LIST_MAX) at most */
	bpf_fuse_arg_set(&fa->out_args[0], xa->value, xa->ret,
			 max_t(size_t, xa->ret,
			       min_t(size_t, xa->size, XATTR_SIZE_MAX)));
}

/*
 * Get and list: the bytes a program gave, into the caller's buffer. A size
 * query cannot be answered otherwise: the caller sizes its buffer for the
 * attribute, which another answer would not fit.
 */
static int fuse_backed_xattr_apply_value(struct bpf_fuse_args *fa,
					 struct fuse_backed_xattr_args *xa)
{
	const struct bpf_fuse_arg *arg = &fa->out_args[0];

	if (!xa->size || arg->size > xa->size)
		return -EINVAL;
	memcpy(xa->value, arg->value, arg->size);
	xa->ret = arg->size;
	return 0;
}

static void fuse_backed_getxattr_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_xattr_args *xa = args;

	xa->in.get.size = min_t(size_t, xa->size, U32_MAX);
	fa->in_numargs = 2;
	bpf_fuse_arg_set(&fa->in_args[0], &xa->in.get, sizeof(xa->in.get), 0);
	fuse_backed_xattr_set_name(&fa->in_args[1], xa->name);
}

/* The name only: the size is the caller's buffer's */
static int fuse_backed_getxattr_apply_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_xattr_args *xa = args;

	if (!fuse_bpf_arg_kept(&fa->in_args[0], &xa->in.get,
			       sizeof(xa->in.get)))
		return -EINVAL;
	return fuse_backed_xattr_name(&fa->in_args[1], xa->name, &xa->name);
}

static int fuse_backed_getxattr_apply_out(struct bpf_fuse_args *fa,
					  void *args)
{
	return fuse_backed_xattr_apply_value(fa, args);
}

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
	.init_in = fuse_backed_getxattr_init_in,
	.apply_in = fuse_backed_getxattr_apply_in,
	.backing = fuse_backed_getxattr_backing,
	.init_out = fuse_backed_xattr_init_out,
	.apply_out = fuse_backed_getxattr_apply_out,
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

static void fuse_backed_listxattr_init_in(struct bpf_fuse_args *fa,
					  void *args)
{
	struct fuse_backed_xattr_args *xa = args;

	xa->in.get.size = min_t(size_t, xa->size, U32_MAX);
	fa->in_numargs = 1;
	bpf_fuse_arg_set(&fa->in_args[0], &xa->in.get, sizeof(xa->in.get), 0);
}

/* Is it a list of names, each with its NUL? */
static bool fuse_backed_xattr_list_ok(const char *list, size_t len)
{
	size_t slen;

	while (len) {
		slen = strnlen(list, len);
		if (!slen || slen == len)
			return false;
		list += slen + 1;
		len -= slen + 1;
	}
	return true;
}

/*
 * A program may give another list: the caller still only gets the names
 * it may see.
 */
static int fuse_backed_listxattr_apply_out(struct bpf_fuse_args *fa,
					   void *args)
{
	struct fuse_backed_xattr_args *xa = args;
	const struct bpf_fuse_arg *arg = &fa->out_args[0];
	int err;

	if (!fuse_backed_xattr_list_ok(arg->value, arg->size))
		return -EINVAL;
	err = fuse_backed_xattr_apply_value(fa, xa);
	if (!err && xa->hide_trusted)
		xa->ret = fuse_backed_hide_trusted(xa->value, xa->ret);
	return err;
}

static const struct fuse_bpf_op fuse_backed_listxattr_op = {
	.init_in = fuse_backed_listxattr_init_in,
	.backing = fuse_backed_listxattr_backing,
	.init_out = fuse_backed_xattr_init_out,
	.apply_out = fuse_backed_listxattr_apply_out,
};

/* As FUSE_SETXATTR, or FUSE_REMOVEXATTR without a value */
static void fuse_backed_setxattr_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_xattr_args *xa = args;

	if (!xa->value) {
		fa->in_numargs = 1;
		fuse_backed_xattr_set_name(&fa->in_args[0], xa->name);
		return;
	}
	xa->in.set.size = xa->size;
	xa->in.set.flags = xa->flags;
	fa->in_numargs = 3;
	bpf_fuse_arg_set(&fa->in_args[0], &xa->in.set, sizeof(xa->in.set), 0);
	fuse_backed_xattr_set_name(&fa->in_args[1], xa->name);
	bpf_fuse_arg_set(&fa->in_args[2], xa->value, xa->size, XATTR_SIZE_MAX);
}

/**
 * fuse_backed_setxattr_apply_in() - the name and value a program gave
 * @fa: the arguments, as the program left them
 * @args: the operation
 *
 * The name as fuse_backed_xattr_name() allows it. The value may change
 * where the caller's checks do not depend on it (user.*, trusted.*): LSMs
 * check a security.* value for the caller (a new SELinux label), the VFS
 * converted security.capability for the caller's namespace. The struct
 * fuse_setxattr_in may only follow the new value's size.
 *
 * Return: 0, or EINVAL for a rewrite it does not honour.
 */
static int fuse_backed_setxattr_apply_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_xattr_args *xa = args;
	const struct bpf_fuse_arg *value = &fa->in_args[2];
	struct fuse_setxattr_in in;
	int err;

	if (!xa->value)
		return fuse_backed_xattr_name(&fa->in_args[0], xa->name,
					      &xa->name);

	if (!fuse_backed_xattr_ns(xa->name) &&
	    (value->size != xa->size ||
	     memcmp(value->value, xa->value, value->size)))
		return -EINVAL;
	in = xa->in.set;
	in.size = value->size;
	if ((fa->in_args[0].flags & BPF_FUSE_MODIFIED) &&
	    !fuse_bpf_arg_kept(&fa->in_args[0], &in, sizeof(in)))
		return -EINVAL;
	err = fuse_backed_xattr_name(&fa->in_args[1], xa->name, &xa->name);
	if (err)
		return err;
	/* An empty value is "": NULL would remove the attribute */
	xa->value = value->size ? value->value : (void *)"";
	xa->size = value->size;
	return 0;
}

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
	.init_in = fuse_backed_setxattr_init_in,
	.apply_in = fuse_backed_setxattr_apply_in,
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

/**
 * struct fuse_backed_acl_args - a POSIX ACL operation
 * @type: ACL_TYPE_ACCESS or ACL_TYPE_DEFAULT
 * @acl: the ACL read, or to set (NULL: remove it)
 * @in: the request, as programs see it
 * @in.get: get: FUSE_GETXATTR
 * @in.set: set: FUSE_SETXATTR
 */
struct fuse_backed_acl_args {
	int type;
	struct posix_acl *acl;
	union {
		struct fuse_getxattr_in get;
		struct fuse_setxattr_in set;
	} in;
};

/*
 * As FUSE_GETXATTR of the ACL's name, with no buffer: the ACL is the
 * kernel's, programs see no value and cannot rewrite anything.
 */
static void fuse_backed_get_acl_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_acl_args *aa = args;

	fa->in_numargs = 2;
	bpf_fuse_arg_set(&fa->in_args[0], &aa->in.get, sizeof(aa->in.get), 0);
	fuse_backed_xattr_set_name(&fa->in_args[1],
				   posix_acl_xattr_name(aa->type));
}

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
	.init_in = fuse_backed_get_acl_init_in,
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

/*
 * As FUSE_SETXATTR of the ACL's name, with the size of its xattr form but
 * not the value, or FUSE_REMOVEXATTR. No rewrite: the VFS checked and
 * converted the ACL for the caller.
 */
static void fuse_backed_set_acl_init_in(struct bpf_fuse_args *fa, void *args)
{
	struct fuse_backed_acl_args *aa = args;
	const char *name = posix_acl_xattr_name(aa->type);

	if (!aa->acl) {
		fa->in_numargs = 1;
		fuse_backed_xattr_set_name(&fa->in_args[0], name);
		return;
	}
	aa->in.set.size = posix_acl_xattr_size(aa->acl->a_count);
	fa->in_numargs = 2;
	bpf_fuse_arg_set(&fa->in_args[0], &aa->in.set, sizeof(aa->in.set), 0);
	fuse_backed_xattr_set_name(&fa->in_args[1], name);
}

static const struct fuse_bpf_op fuse_backed_set_acl_op = {
	.init_in = fuse_backed_set_acl_init_in,
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
	/* No arguments: FUSE has no request of its own for it */
	return fuse_bpf_run(&fuse_backed_fileattr_get_op, FUSE_BPF_FILEATTR_GET,
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
	return fuse_bpf_run(&fuse_backed_fileattr_set_op, FUSE_BPF_FILEATTR_SET,
			    inode, fa, err);
}
