#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The main job: build the fuse-bpf kernel and the kselftests (for the demo's
# BPF loader), boot it and show fuse-bpf working.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VARIANT=release
parse_opts "usage: main.sh [--variant V]" variant=VARIANT -- "$@"
[ ${#ARGS[@]} -eq 0 ] || VARIANT=${ARGS[0]}	# the old positional form
"$HARNESS/deps.sh"
"$HARNESS/base.sh"
"$HARNESS/build.sh" --variant "$VARIANT" all
OUT=$(variant_dir "$VARIANT")

JOB=$(mktemp)
trap 'rm -f "$JOB"' EXIT
# The guest sees the host's / read-only: it runs hide_demo where it was built.
printf 'KSFT=%q\n' "$OUT/kselftest/fuse" >"$JOB"
cat >>"$JOB" <<'JOB'
set -e
show() { echo "\$ $*"; "$@"; }
echo "--- fuse-bpf demo on $(uname -sr)"
show zgrep -E 'CONFIG_FUSE_(FS|BPF)=' /proc/config.gz
show cat /sys/fs/fuse/features/fuse_bpf

echo "--- a directory on the ext4 scratch disk"
mkdir -p $SCRATCH/data/docs /tmp/mnt
echo "hello from ext4" >$SCRATCH/data/docs/hello.txt
show ls -la $SCRATCH/data/docs

echo "--- mounted with fuse-bpf: no daemon, everything served from the backing directory"
exec 3<$SCRATCH/data
show mount -i -t fuse -o root_dir=3,no_daemon,rootmode=40000,user_id=0,group_id=0,allow_other fuse-bpf /tmp/mnt
exec 3<&-
show grep fuse-bpf /proc/self/mountinfo
show ls -la /tmp/mnt/docs
show cat /tmp/mnt/docs/hello.txt
show sh -c 'echo "written through fuse-bpf" >>/tmp/mnt/docs/hello.txt'
show cat $SCRATCH/data/docs/hello.txt
show cp /tmp/mnt/docs/hello.txt /tmp/mnt/docs/copy.txt
show mkdir /tmp/mnt/new
show mv /tmp/mnt/docs/copy.txt /tmp/mnt/new/moved.txt
show ln -s ../docs/hello.txt /tmp/mnt/new/link
show ls -la /tmp/mnt/new $SCRATCH/data/new
show cat /tmp/mnt/new/link
show rm -r /tmp/mnt/new
show ls $SCRATCH/data
show stat -c '%n %s bytes, mode %a, inode %i' /tmp/mnt/docs/hello.txt $SCRATCH/data/docs/hello.txt
show df -h /tmp/mnt $SCRATCH
show umount /tmp/mnt

echo "--- a BPF program hides a folder"
mkdir -p $SCRATCH/data/private /tmp/mnt2
echo "not for everyone" >$SCRATCH/data/private/secret.txt
exec 3<$SCRATCH/data
show mount -i -t fuse -o root_dir=3,no_daemon,rootmode=40000,user_id=0,group_id=0,allow_other fuse-bpf /tmp/mnt
exec 3<&-
show ls -la /tmp/mnt
show cat /tmp/mnt/private/secret.txt
show $KSFT/hide_demo $SCRATCH/data /tmp/mnt2 private
show ls -la /tmp/mnt2
show sh -c 'stat /tmp/mnt2/private || true'
show sh -c 'cat /tmp/mnt2/private/secret.txt || true'
show sh -c 'mkdir /tmp/mnt2/private || true'
show cat /tmp/mnt2/docs/hello.txt
show ls -la $SCRATCH/data/private
show umount /tmp/mnt2 /tmp/mnt
echo "--- fuse-bpf works"
JOB
say "booting the $VARIANT kernel"
"$HARNESS/vm.sh" --variant "$VARIANT" --timeout 600 --job "$JOB"
