// SPDX-License-Identifier: GPL-2.0
/*
 * FUSE-BPF: FUSE inodes backed by another filesystem, with BPF filters.
 *
 * Copyright (c) 2026 The fuse-bpf authors
 */

#include "fuse_i.h"

#include <linux/kobject.h>
#include <linux/sysfs.h>

/*
 * Servers probe this file to learn that the running kernel offers fuse-bpf
 * before they mount with the fuse-bpf options.
 */
static ssize_t fuse_bpf_show(struct kobject *kobj, struct kobj_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "supported\n");
}

static struct kobj_attribute fuse_bpf_attr = __ATTR_RO(fuse_bpf);

static struct attribute *fuse_features_attrs[] = {
	&fuse_bpf_attr.attr,
	NULL,
};

static const struct attribute_group fuse_features_group = {
	.name = "features",
	.attrs = fuse_features_attrs,
};

/**
 * fuse_bpf_sysfs_init() - create /sys/fs/fuse/features
 * @fuse_kobj: the kobject of /sys/fs/fuse
 *
 * Return: 0 on success, a negative errno otherwise.
 */
int fuse_bpf_sysfs_init(struct kobject *fuse_kobj)
{
	return sysfs_create_group(fuse_kobj, &fuse_features_group);
}

/**
 * fuse_bpf_sysfs_cleanup() - remove /sys/fs/fuse/features
 * @fuse_kobj: the kobject of /sys/fs/fuse
 */
void fuse_bpf_sysfs_cleanup(struct kobject *fuse_kobj)
{
	sysfs_remove_group(fuse_kobj, &fuse_features_group);
}
