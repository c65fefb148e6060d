// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-bpf: requests to the server about backed nodes. A node the kernel
 * made from a backing is made known to the server before a request names
 * it, and a program may have the server filter an operation before its
 * backing call or after it.
 *
 * Copyright (c) 2026 The fuse-bpf authors
 */

#include "fuse_i.h"
#include "fuse_bpf.h"

#include <linux/bpf_fuse.h>
#include <linux/dcache.h>
#include <linux/slab.h>

/**
 * fuse_backed_take_nodeid() - a backed inode takes the node id of an entry
 * @inode: the backed inode
 * @o: an entry naming @inode, of which the server counted a lookup
 *
 * An inode the kernel made has node id 0 until the server names it. One
 * that carries another node id keeps it.
 *
 * Return: true if @inode carries @o's node id, false if the caller must
 * have the server forget it.
 */
bool fuse_backed_take_nodeid(struct inode *inode, const struct fuse_entry_out *o)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	bool taken;

	spin_lock(&fi->lock);
	if (!fi->nodeid)
		fi->nodeid = o->nodeid;
	taken = fi->nodeid == o->nodeid;
	if (taken) {
		fi->nlookup++;
		/* The server's generation, as it revalidates the entry */
		inode->i_generation = o->generation;
	}
	spin_unlock(&fi->lock);
	return taken;
}

/*
 * LOOKUP the name of @dentry under its parent, which the server knows, for
 * its inode to take the node id of the reply. A fuse-bpf extension of the
 * reply is taken and ignored: the node keeps its backing and program.
 */
static int fuse_backed_announce(struct fuse_mount *fm, struct dentry *dentry)
{
	struct fuse_entry_out outarg;
	/* Room for a struct fuse_entry_bpf_out */
	u64 ext[4];
	struct fuse_forget_link *forget;
	struct name_snapshot name;
	struct dentry *parent;
	struct fuse_args args = {};
	ssize_t ret;

	parent = dget_parent(dentry);
	take_dentry_name_snapshot(&name, dentry);
	fuse_lookup_init(fm->fc, &args, get_node_id(d_inode(parent)),
			 &name.name, &outarg);
	args.out_numargs = 2;
	args.out_args[1].size = sizeof(ext);
	args.out_args[1].value = &ext;
	args.out_argvar = true;
	ret = fuse_simple_request(fm, &args);
	release_dentry_name_snapshot(&name);
	dput(parent);
	if (ret < 0)
		return ret;
	/* The server does not know the name: it cannot be sent the request */
	if (!outarg.nodeid)
		return -ESTALE;
	if (outarg.nodeid == FUSE_ROOT_ID || fuse_invalid_attr(&outarg.attr))
		return -EIO;
	if (!fuse_backed_take_nodeid(d_inode(dentry), &outarg)) {
		forget = fuse_alloc_forget();
		if (forget)
			fuse_queue_forget(fm->fc, forget, outarg.nodeid, 1);
	}
	return 0;
}

/**
 * fuse_backed_make_known() - give a node the kernel made a node id
 * @inode: a backed inode, about to be named in a request to the server
 *
 * A node made from a backing has node id 0, which no server could
 * resolve. Before a request names it, each ancestor the server does not
 * know, and then the node, is looked up under its parent as in a path
 * walk, and takes the node id of the reply, with the lookup the server
 * counts: FUSE_FORGET stays balanced.
 *
 * Return: 0 if @inode has a node id or there is no daemon to ask (the
 * request then fails in fuse_backed_may_send()), ESTALE if the server
 * does not know a name, or the error of a LOOKUP.
 */
int fuse_backed_make_known(struct inode *inode)
{
	struct fuse_mount *fm = get_fuse_mount(inode);
	struct dentry *dentry, *d, *parent;
	int err = 0;

	if (get_node_id(inode) || fuse_conn_no_daemon(fm->fc))
		return 0;
	dentry = d_find_alias(inode);
	if (!dentry)
		return -ESTALE;
	while (!err && !get_node_id(inode)) {
		/* The topmost ancestor the server does not know */
		d = dget(dentry);
		for (;;) {
			parent = dget_parent(d);
			if (parent == d || get_node_id(d_inode(parent))) {
				dput(parent);
				break;
			}
			dput(d);
			d = parent;
		}
		err = IS_ROOT(d) ? -ESTALE : fuse_backed_announce(fm, d);
		dput(d);
	}
	dput(dentry);
	return err;
}

/* The size of @n arguments in a filter request or reply, descriptors too */
static size_t fuse_bpf_filter_size(const struct bpf_fuse_arg *args,
				   unsigned int n, bool max)
{
	size_t size = n * sizeof(struct fuse_bpf_filter_arg);
	unsigned int i;

	for (i = 0; i < n; i++)
		size += max && args[i].max_size ? args[i].max_size :
						  args[i].size;
	return size;
}

/* Write the descriptors of @n arguments at @desc, then their bytes */
static void *fuse_bpf_filter_put(struct fuse_bpf_filter_arg *desc,
				 const struct bpf_fuse_arg *args,
				 unsigned int n, void *data)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		desc[i].size = args[i].size;
		desc[i].max_size = args[i].max_size;
		memcpy(data, args[i].value, args[i].size);
		data += args[i].size;
	}
	return data;
}

/*
 * Take the @n arguments of a filter reply, @len bytes at @p: each keeps
 * its size, or takes one from 1 to its max_size, and is replaced by a
 * kernel copy if it changed.
 */
static int fuse_bpf_filter_take(struct bpf_fuse_arg *args, unsigned int n,
				const void *p, size_t len)
{
	const struct fuse_bpf_filter_arg *desc = p;
	size_t total = n * sizeof(*desc);
	const void *data = p + total;
	unsigned int i;
	void *buf;
	u32 size;

	if (len < total)
		return -EIO;
	for (i = 0; i < n; i++) {
		size = desc[i].size;
		if (args[i].max_size ? !size || size > args[i].max_size :
				       size != args[i].size)
			return -EIO;
		total += size;
	}
	if (total != len)
		return -EIO;
	for (i = 0; i < n; i++, data += size) {
		size = desc[i].size;
		if (size == args[i].size && !memcmp(data, args[i].value, size))
			continue;
		if (args[i].flags & BPF_FUSE_IMMUTABLE)
			return -EIO;
		buf = kmemdup(data, size, GFP_KERNEL);
		if (!buf)
			return -ENOMEM;
		if (args[i].flags & BPF_FUSE_ALLOCATED)
			kfree(args[i].value);
		bpf_fuse_arg_set(&args[i], buf, size, args[i].max_size);
		args[i].flags |= BPF_FUSE_ALLOCATED | BPF_FUSE_MODIFIED;
	}
	return 0;
}

/*
 * The next steps a server may choose: after a pre-filter, the backing
 * call (and either post-filter) or the server's own handling; after a
 * post-filter, none, or its own handling where the operation allows it
 * (fuse_bpf_postfilter() checks that).
 */
static bool fuse_bpf_filter_action_ok(u32 action, bool post)
{
	if (post)
		return action == BPF_FUSE_CONTINUE || action == BPF_FUSE_USER;
	return action == BPF_FUSE_CONTINUE || action == BPF_FUSE_USER ||
	       action == BPF_FUSE_POSTFILTER ||
	       action == BPF_FUSE_USER_POSTFILTER;
}

/**
 * fuse_backed_server_filters() - may a server filter operations?
 * @inode: a backed inode of the connection
 *
 * Only a server that negotiated FUSE_BPF knows filter requests.
 *
 * Return: 0, or EOPNOTSUPP if no server may.
 */
int fuse_backed_server_filters(struct inode *inode)
{
	struct fuse_conn *fc = get_fuse_conn(inode);

	if (!fuse_conn_no_daemon(fc) && fc->bpf_proto)
		return 0;
	fuse_bpf_count(fc, FUSE_BPF_E_UNSUPPORTED);
	return -EOPNOTSUPP;
}

/**
 * fuse_backed_server_filter() - have the server filter an operation
 * @inode: the backed inode whose program asked for it
 * @fa: the operation, as the program saw it; its opcode carries
 *	FUSE_PREFILTER or FUSE_POSTFILTER
 *
 * Sends @fa to the server in the format struct fuse_bpf_filter_in
 * describes: the arguments of the request, and after the backing call
 * its error and the arguments of the reply. The server may rewrite those
 * it could change (the request's before the call, the reply's after it),
 * within their bounds, fail the operation with the error of its reply,
 * and choose the next step. What it rewrote is taken as a program's
 * rewrite would be.
 *
 * Return: the next step, a BPF_FUSE_* action, or a negative errno: the
 * server's, EOPNOTSUPP if it did not negotiate FUSE_BPF, or EIO for a
 * malformed reply.
 */
int fuse_backed_server_filter(struct inode *inode, struct bpf_fuse_args *fa)
{
	bool post = fa->opcode & FUSE_POSTFILTER;
	struct fuse_mount *fm = get_fuse_mount(inode);
	unsigned int nout = post ? fa->out_numargs : 0;
	unsigned int nrep = post ? fa->out_numargs : fa->in_numargs;
	struct bpf_fuse_arg *rep = post ? fa->out_args : fa->in_args;
	struct fuse_bpf_filter_in *fin;
	struct fuse_bpf_filter_out *fout;
	size_t in_size, out_size, len;
	void *data;
	struct fuse_args args = {};
	ssize_t ret;

	ret = fuse_backed_server_filters(inode);
	if (ret)
		return ret;
	ret = fuse_backed_make_known(inode);
	if (ret)
		goto out_count;
	fa->nodeid = get_node_id(inode);

	in_size = sizeof(*fin) +
		  fuse_bpf_filter_size(fa->in_args, fa->in_numargs, false) +
		  fuse_bpf_filter_size(fa->out_args, nout, false);
	out_size = sizeof(*fout) + fuse_bpf_filter_size(rep, nrep, true);
	fin = kvzalloc(in_size, GFP_KERNEL);
	fout = kvzalloc(out_size, GFP_KERNEL);
	ret = -ENOMEM;
	if (!fin || !fout)
		goto out;
	fin->error_in = fa->error_in;
	fin->in_numargs = fa->in_numargs;
	fin->out_numargs = nout;
	data = (void *)(fin + 1) + (fa->in_numargs + nout) *
				   sizeof(struct fuse_bpf_filter_arg);
	data = fuse_bpf_filter_put((void *)(fin + 1), fa->in_args,
				   fa->in_numargs, data);
	fuse_bpf_filter_put((void *)(fin + 1) + fa->in_numargs *
			    sizeof(struct fuse_bpf_filter_arg),
			    fa->out_args, nout, data);

	args.opcode = fa->opcode;
	args.nodeid = get_node_id(inode);
	args.in_numargs = 1;
	args.in_args[0].size = in_size;
	args.in_args[0].value = fin;
	args.out_numargs = 1;
	args.out_args[0].size = out_size;
	args.out_args[0].value = fout;
	args.out_argvar = true;
	ret = fuse_simple_request(fm, &args);
	if (ret < 0)
		goto out;
	len = ret;
	/* An empty reply leaves all as it was: the backing call runs */
	ret = BPF_FUSE_CONTINUE;
	if (!len)
		goto out;
	ret = -EIO;
	if (len < sizeof(*fout) || !fuse_bpf_filter_action_ok(fout->action, post))
		goto out;
	if (fout->numargs) {
		if (fout->numargs != nrep)
			goto out;
		ret = fuse_bpf_filter_take(rep, nrep, fout + 1,
					   len - sizeof(*fout));
		if (ret)
			goto out;
	} else if (len != sizeof(*fout)) {
		goto out;
	}
	ret = fout->action;
out:
	kvfree(fin);
	kvfree(fout);
out_count:
	if (ret < 0)
		fuse_bpf_count(fm->fc, FUSE_BPF_E_SERVER);
	return ret;
}
