#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The main job: build the fuse-bpf kernel, boot it and show fuse-bpf working.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VARIANT=${1:-release}
"$HARNESS/deps.sh"
"$HARNESS/base.sh"
"$HARNESS/build.sh" --variant "$VARIANT" kernel

JOB=$(mktemp)
trap 'rm -f "$JOB"' EXIT
cat >"$JOB" <<'JOB'
set -e
echo "--- fuse-bpf demo on $(uname -sr)"
echo "\$ zgrep -E 'CONFIG_FUSE_(FS|BPF)=' /proc/config.gz"
zgrep -E 'CONFIG_FUSE_(FS|BPF)=' /proc/config.gz
echo "\$ ls -l /sys/fs/fuse/features/"
ls -l /sys/fs/fuse/features/
echo "\$ cat /sys/fs/fuse/features/fuse_bpf"
cat /sys/fs/fuse/features/fuse_bpf
[ "$(cat /sys/fs/fuse/features/fuse_bpf)" = supported ]
echo "--- fuse-bpf is available"
JOB
say "booting the $VARIANT kernel"
"$HARNESS/vm.sh" --variant "$VARIANT" --timeout 600 --job "$JOB"
