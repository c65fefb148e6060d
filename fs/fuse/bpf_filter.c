// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-bpf: the flow of an operation on a backed inode, and the BPF
 * programs that filter it.
 *
 * Copyright (c) 2026 The fuse-bpf authors
 */

#include "fuse_i.h"
#include "fuse_bpf.h"
#include "fuse_trace.h"

#include <linux/bpf.h>
#include <linux/bpf_fuse.h>
#include <linux/cred.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/slab.h>

/*
 * Attach @prog (a reference the caller gives) to the inode. The program
 * it replaces may still run: it is freed after an RCU grace period.
 */
void fuse_bpf_set_prog(struct fuse_inode *fi, struct bpf_prog *prog)
{
	struct bpf_prog *old;

	old = unrcu_pointer(xchg(&fi->bpf, RCU_INITIALIZER(prog)));
	if (old)
		bpf_prog_put(old);
}

static const enum fuse_bpf_counter fuse_bpf_verdicts[] = {
	[BPF_FUSE_CONTINUE] = FUSE_BPF_V_CONTINUE,
	[BPF_FUSE_USER] = FUSE_BPF_V_USER,
	[BPF_FUSE_USER_PREFILTER] = FUSE_BPF_V_USER_FILTER,
	[BPF_FUSE_POSTFILTER] = FUSE_BPF_V_POSTFILTER,
	[BPF_FUSE_USER_POSTFILTER] = FUSE_BPF_V_USER_FILTER,
};

/*
 * Run the program of @inode on @fa. Without one, the operation just runs
 * on the backing object. Returns a BPF_FUSE_* action or a negative errno.
 */
static int fuse_bpf_filter(struct inode *inode, struct bpf_fuse_args *fa)
{
	struct fuse_conn *fc = get_fuse_conn(inode);
	struct bpf_prog *prog;
	int ret = BPF_FUSE_CONTINUE;

	rcu_read_lock();
	prog = rcu_dereference(get_fuse_inode(inode)->bpf);
	if (prog)
		ret = bpf_prog_run_pin_on_cpu(prog, fa);
	rcu_read_unlock();
	if (!prog)
		return ret;

	trace_fuse_bpf_filter(fc->dev, fa->nodeid, inode->i_ino, fa->opcode,
			      ret);
	fuse_bpf_count(fc, fa->opcode & FUSE_POSTFILTER ?
			   FUSE_BPF_POSTFILTER : FUSE_BPF_PREFILTER);
	/* Errnos from 512 on are the kernel's own, not for system calls */
	if (ret < 0 && ret > -ERESTARTSYS) {
		fuse_bpf_count(fc, FUSE_BPF_V_ERRNO);
		return ret;
	}
	if (ret < BPF_FUSE_CONTINUE || ret > BPF_FUSE_USER_POSTFILTER) {
		fuse_bpf_count(fc, FUSE_BPF_V_INVALID);
		pr_warn_ratelimited("fuse-bpf: program returned %d\n", ret);
		return -EIO;
	}
	fuse_bpf_count(fc, fuse_bpf_verdicts[ret]);
	return ret;
}

/* Free the buffers the program gave the arguments */
static void fuse_bpf_free_args(struct bpf_fuse_arg *args, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (args[i].flags & BPF_FUSE_ALLOCATED)
			kfree(args[i].value);
}

/**
 * fuse_bpf_arg_name() - a name a program wrote into an argument
 * @arg: the argument, a name and its NUL
 * @name: set to the name
 *
 * Return: 0, or EINVAL if it is not a name a directory can hold.
 */
int fuse_bpf_arg_name(const struct bpf_fuse_arg *arg, struct qstr *name)
{
	const char *s = fuse_bpf_arg_str(arg);

	if (!s || arg->size > NAME_MAX + 1)
		return -EINVAL;
	*name = (struct qstr)QSTR_INIT(s, arg->size - 1);
	if (memchr(s, '/', name->len) || is_dot_dotdot(s, name->len))
		return -EINVAL;
	return 0;
}

/*
 * The post-filter of @action, after the operation ran with result @err:
 * the program's (which may pass it on to the server), or the server's.
 * Returns the result; @user is set if the server is to handle the
 * operation instead (only an op->post_user operation).
 */
static int fuse_bpf_postfilter(const struct fuse_bpf_op *op, u32 opcode,
			       struct inode *inode, struct bpf_fuse_args *fa,
			       void *args, int action, int err, bool *user)
{
	struct fuse_conn *fc = get_fuse_conn(inode);
	unsigned int i;

	/* The request is what it was: only the reply may change now */
	for (i = 0; i < fa->in_numargs; i++)
		fa->in_args[i].flags |= BPF_FUSE_IMMUTABLE;
	fa->opcode = opcode | FUSE_POSTFILTER;
	fa->error_in = err;
	if (!err && op->init_out)
		op->init_out(fa, args);

	/* A filter may fail the operation, not make it succeed */
	if (action == BPF_FUSE_POSTFILTER) {
		action = fuse_bpf_filter(inode, fa);
		if (action < 0) {
			fuse_bpf_count(fc, FUSE_BPF_E_POSTFILTER);
			return action;
		}
	}
	if (action == BPF_FUSE_USER_POSTFILTER) {
		action = op->rcu ? -ECHILD :
			 fuse_backed_server_filter(inode, fa);
		if (action < 0)
			return action;
	}
	/*
	 * The server takes over: what the backing call found is dropped. As
	 * after a pre-filter, it gets the request the VFS gave.
	 */
	if (action == BPF_FUSE_USER && op->post_user) {
		if (fuse_bpf_modified(fa->in_args, fa->in_numargs)) {
			fuse_bpf_count(fc, FUSE_BPF_E_REWRITE);
			return -EINVAL;
		}
		*user = !op->rcu;
		return op->rcu ? -ECHILD : 0;
	}
	if (action != BPF_FUSE_CONTINUE) {
		fuse_bpf_count(fc, FUSE_BPF_E_POSTFILTER);
		return -EIO;
	}
	if (err || !fuse_bpf_modified(fa->out_args, fa->out_numargs))
		return err;
	err = op->apply_out ? op->apply_out(fa, args) : -EINVAL;
	if (err)
		fuse_bpf_count(fc, FUSE_BPF_E_REWRITE);
	return err;
}

/*
 * Run @op on @bpath, the backing object of @inode: under the credentials
 * of the backing, unless the operation checks the caller's, with write
 * access to the backing mount if it modifies it.
 */
static int fuse_bpf_backing(const struct fuse_bpf_op *op, u32 opcode,
			    struct inode *inode, struct path *bpath,
			    void *args)
{
	struct fuse_conn *fc = get_fuse_conn(inode);
	const struct cred *old_cred;
	int ret;

	if (op->write) {
		ret = mnt_want_write(bpath->mnt);
		if (ret) {
			fuse_bpf_count(fc, FUSE_BPF_E_BACKING);
			return ret;
		}
	}
	if (op->caller_creds) {
		ret = op->backing(bpath, args);
	} else {
		old_cred = override_creds(get_fuse_inode(inode)->backing_cred);
		ret = op->backing(bpath, args);
		revert_creds(old_cred);
	}
	if (op->write)
		mnt_drop_write(bpath->mnt);
	/* A walk in RCU mode tries it again with references */
	if (ret != -ECHILD) {
		fuse_bpf_count_backed(fc, opcode);
		if (ret)
			fuse_bpf_count(fc, FUSE_BPF_E_BACKING);
	}
	return ret;
}

/* fuse_bpf_run() with a program: see there */
static bool fuse_bpf_run_filtered(const struct fuse_bpf_op *op, u32 opcode,
				  struct inode *inode, struct path *bpath,
				  void *args, int *err)
{
	struct fuse_conn *fc = get_fuse_conn(inode);
	struct bpf_fuse_args fa = {
		.nodeid = get_fuse_inode(inode)->nodeid,
		.opcode = opcode | FUSE_PREFILTER,
	};
	bool here = true, user = false;
	int action;
	int ret;

	if (op->init_in)
		op->init_in(&fa, args);
	action = fuse_bpf_filter(inode, &fa);
	*err = action;
	if (action < 0) {
		fuse_bpf_count(fc, FUSE_BPF_E_PREFILTER);
		goto out;
	}
	/* A walk in RCU mode may not sleep: the server is asked with refs */
	if (op->rcu && (action == BPF_FUSE_USER ||
			action == BPF_FUSE_USER_PREFILTER)) {
		*err = -ECHILD;
		goto out;
	}
	if (action == BPF_FUSE_USER_PREFILTER) {
		action = fuse_backed_server_filter(inode, &fa);
		*err = action;
		if (action < 0)
			goto out;
	}
	if (fuse_bpf_modified(fa.in_args, fa.in_numargs)) {
		/* The server would get the request as the VFS gave it */
		*err = -EINVAL;
		if ((action != BPF_FUSE_USER || op->user) && op->apply_in)
			*err = op->apply_in(&fa, args);
		if (*err) {
			fuse_bpf_count(fc, FUSE_BPF_E_REWRITE);
			goto out;
		}
	}
	/* Not a backing call that nothing could post-filter */
	if (action == BPF_FUSE_USER_POSTFILTER) {
		*err = fuse_backed_server_filters(inode);
		if (*err)
			goto out;
	}
	if (action == BPF_FUSE_USER)
		goto to_server;

	ret = fuse_bpf_backing(op, opcode, inode, bpath, args);
	*err = ret;
	/* Not the result of a walk in RCU mode, which is tried again */
	if (action != BPF_FUSE_CONTINUE && ret != -ECHILD)
		*err = fuse_bpf_postfilter(op, opcode, inode, &fa, args,
					   action, ret, &user);
	/*
	 * What the backing call did stands, even if the program fails the
	 * operation: the FUSE side must show it (a new entry's dentry must
	 * be valid as long as its backing entry is, see fuse_backed_lookup()).
	 */
	if (!ret && op->finalize)
		op->finalize(inode, args);
	if (!user)
		goto out;
to_server:
	/* The request must name a node the server knows */
	*err = op->file ? 0 : fuse_backed_make_known(inode);
	here = !!*err;
out:
	trace_fuse_bpf_dispatch(fc->dev, fa.nodeid, inode->i_ino, opcode,
				action, here, *err);
	fuse_bpf_free_args(fa.in_args, fa.in_numargs);
	fuse_bpf_free_args(fa.out_args, fa.out_numargs);
	return here;
}

/**
 * fuse_bpf_run() - the flow of an operation on a backed inode
 * @op: the operation
 * @opcode: its FUSE opcode, as the program sees it
 * @inode: the backed inode whose program filters it
 * @args: its arguments, as @op knows them
 * @err: set to its result, if it ran here
 *
 * The program of @inode sees the operation first, with its arguments as
 * in the FUSE request: it may fail it, rewrite its arguments, run it on
 * the backing object and see its result to rewrite it or change the
 * error, or send it to the server as in plain FUSE. A rewrite the
 * operation cannot honour fails it with EINVAL. It may also have the
 * server do what it does, before the backing call or after it, see
 * fuse_backed_server_filter().
 *
 * Without a program, nothing is marshalled: the operation runs on the
 * backing object directly.
 *
 * Return: false if the program sent the operation to the server, true if
 * it ran here and @err holds its result.
 */
bool fuse_bpf_run(const struct fuse_bpf_op *op, u32 opcode,
		  struct inode *inode, void *args, int *err)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	/* Only a walk in RCU mode can see an evicted inode: NULL then */
	struct path bpath = {
		.mnt = fi->backing_path.mnt,
		.dentry = READ_ONCE(fi->backing_path.dentry),
	};

	if (!bpath.dentry) {
		*err = -ECHILD;
		return true;
	}
	if (rcu_access_pointer(fi->bpf))
		return fuse_bpf_run_filtered(op, opcode, inode, &bpath, args,
					     err);

	*err = fuse_bpf_backing(op, opcode, inode, &bpath, args);
	if (!*err && op->finalize)
		op->finalize(inode, args);
	trace_fuse_bpf_dispatch(get_fuse_conn(inode)->dev, fi->nodeid,
				inode->i_ino, opcode, BPF_FUSE_CONTINUE, true,
				*err);
	return true;
}

/* A reference to the program of @inode, or NULL */
struct bpf_prog *fuse_bpf_get_prog(struct inode *inode)
{
	struct bpf_prog *prog;

	rcu_read_lock();
	do {
		prog = rcu_dereference(get_fuse_inode(inode)->bpf);
		/* Put as it was replaced: the inode now has the new one */
	} while (prog && IS_ERR(bpf_prog_inc_not_zero(prog)));
	rcu_read_unlock();
	return prog;
}
