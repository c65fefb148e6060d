// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-bpf: the flow of an operation on a backed inode, and the BPF
 * programs that filter it.
 *
 * Copyright (c) 2026 The fuse-bpf authors
 */

#include "fuse_i.h"
#include "fuse_bpf.h"

#include <linux/bpf.h>
#include <linux/bpf_fuse.h>
#include <linux/cred.h>
#include <linux/filter.h>
#include <linux/mount.h>

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

/*
 * Run the program of @inode on @fa. Without one, the operation just runs
 * on the backing object. Returns a BPF_FUSE_* action or a negative errno.
 */
static int fuse_bpf_filter(struct inode *inode, struct bpf_fuse_args *fa)
{
	struct bpf_prog *prog;
	int ret = BPF_FUSE_CONTINUE;

	rcu_read_lock();
	prog = rcu_dereference(get_fuse_inode(inode)->bpf);
	if (prog)
		ret = bpf_prog_run_pin_on_cpu(prog, fa);
	rcu_read_unlock();

	/* Errnos from 512 on are the kernel's own, not for system calls */
	if (ret < 0 && ret > -ERESTARTSYS)
		return ret;
	if (ret < BPF_FUSE_CONTINUE || ret > BPF_FUSE_USER_POSTFILTER) {
		pr_warn_ratelimited("fuse-bpf: program returned %d\n", ret);
		return -EIO;
	}
	return ret;
}

/**
 * fuse_bpf_run() - the flow of an operation on a backed inode
 * @op: the operation
 * @opcode: its FUSE opcode, as the program sees it
 * @inode: the backed inode whose program filters it
 * @args: its arguments, as @op knows them
 * @err: set to its result, if it ran here
 *
 * The program of @inode sees the operation first: it may fail it, run it
 * on the backing object, and see its result to change the error, or send
 * it to the server as in plain FUSE. Daemon pre- and post-filters are not
 * supported yet: a program asking for them fails the operation with
 * EOPNOTSUPP.
 *
 * Return: false if the program sent the operation to the server, true if
 * it ran here and @err holds its result.
 */
bool fuse_bpf_run(const struct fuse_bpf_op *op, u32 opcode,
		  struct inode *inode, void *args, int *err)
{
	struct fuse_inode *fi = get_fuse_inode(inode);
	struct bpf_fuse_args fa = {
		.nodeid = fi->nodeid,
		.opcode = opcode | FUSE_PREFILTER,
	};
	/* Only a walk in RCU mode can see an evicted inode: NULL then */
	struct path bpath = {
		.mnt = fi->backing_path.mnt,
		.dentry = READ_ONCE(fi->backing_path.dentry),
	};
	const struct cred *old_cred;
	int action = BPF_FUSE_CONTINUE;
	int ret;

	if (!bpath.dentry) {
		*err = -ECHILD;
		return true;
	}

	if (rcu_access_pointer(fi->bpf)) {
		if (op->init_args)
			op->init_args(&fa, args);
		action = fuse_bpf_filter(inode, &fa);
		if (action == BPF_FUSE_USER)
			return false;
		*err = action;
		if (action < 0)
			return true;
		*err = -EOPNOTSUPP;
		if (action == BPF_FUSE_USER_PREFILTER ||
		    action == BPF_FUSE_USER_POSTFILTER)
			return true;
	}

	if (op->write) {
		*err = mnt_want_write(bpath.mnt);
		if (*err)
			return true;
	}
	if (op->caller_creds) {
		ret = op->backing(&bpath, args);
	} else {
		old_cred = override_creds(fi->backing_cred);
		ret = op->backing(&bpath, args);
		revert_creds(old_cred);
	}
	if (op->write)
		mnt_drop_write(bpath.mnt);
	*err = ret;

	/* Not the result of a walk in RCU mode, which is tried again */
	if (action == BPF_FUSE_POSTFILTER && *err != -ECHILD) {
		fa.opcode = opcode | FUSE_POSTFILTER;
		fa.error_in = *err;
		action = fuse_bpf_filter(inode, &fa);
		/* The program may fail the operation, not make it succeed */
		if (action < 0)
			*err = action;
		else if (action == BPF_FUSE_USER_POSTFILTER)
			*err = -EOPNOTSUPP;
		else if (action != BPF_FUSE_CONTINUE)
			*err = -EIO;
	}
	/*
	 * What the backing call did stands, even if the program fails the
	 * operation: the FUSE side must show it (a new entry's dentry must
	 * be valid as long as its backing entry is, see fuse_backed_lookup()).
	 */
	if (!ret && op->finalize)
		op->finalize(inode, args);
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
