#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Benchmark: the same workloads on a directory of the ext4 scratch disk and
# on a no_daemon fuse-bpf mount of it, in one VM run of the release kernel.
# Prints the median time of each and the ratio fuse-bpf / native (1.00 is
# native speed). Numbers are for comparison within a run: the VM runs under
# QEMU TCG, so absolute times mean little.
#
#   bench.sh [--variant V] [--runs N]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VARIANT=release RUNS=5
parse_opts "usage: bench.sh [--variant V] [--runs N]" variant=VARIANT runs=RUNS -- "$@"
[ ${#ARGS[@]} -eq 0 ] || die "usage: bench.sh [--variant V] [--runs N]"

"$HARNESS/deps.sh"
"$HARNESS/base.sh" fetch
"$HARNESS/build.sh" --variant "$VARIANT" kernel

JOB=$(mktemp)
trap 'rm -f "$JOB"' EXIT
{
	echo "RUNS=$RUNS"
	cat <<'JOB'
set -eu
B=$SCRATCH/bench M=/tmp/fb
mkdir -p $B $M
# 20 directories of 250 files, a 128 MiB file, a source tree to unpack
for d in $(seq -w 1 20); do
	mkdir $B/d$d
	(cd $B/d$d && for f in $(seq -w 1 250); do echo "$d $f" >f$f; done)
done
dd if=/dev/zero of=$B/big bs=1M count=128 status=none
tar -C /usr/include -cf /tmp/linux.tar linux
exec 3<$B
mount -i -t fuse -o root_dir=3,no_daemon,rootmode=40000,user_id=0,group_id=0 fuse-bpf $M
exec 3<&-

now() { date +%s%N; }
# workload NAME DIR: one timed run, in ms
stat_tree() { find "$1" -type f -printf '%s\n' >/dev/null; }
stat_hot() {
	python3 -c 'import os, sys
p = sys.argv[1] + "/d07/f123"
for i in range(20000): os.stat(p)' "$1"
}
open_read() {
	python3 -c 'import os, sys
p = sys.argv[1] + "/d07/f123"
for i in range(5000):
	fd = os.open(p, os.O_RDONLY); os.read(fd, 64); os.close(fd)' "$1"
}
seq_read() { dd if="$1/big" of=/dev/null bs=1M status=none; }
seq_write() { dd if=/dev/zero of="$1/new" bs=1M count=64 conv=fsync status=none; rm "$1/new"; }
readdir() { for i in 1 2 3 4 5; do ls -f "$1"/d* >/dev/null; done; }
untar_rm() { mkdir "$1/x"; tar -C "$1/x" -xf /tmp/linux.tar; rm -rf "$1/x"; }
create_unlink() {
	python3 -c 'import os, sys
d = sys.argv[1] + "/c"
os.mkdir(d)
for i in range(2000): open(d + "/%d" % i, "w").close()
for i in range(2000): os.unlink(d + "/%d" % i)
os.rmdir(d)' "$1"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
printf '%-14s %12s %12s %8s\n' workload native_ms fuse_bpf_ms ratio
for w in stat_tree stat_hot open_read seq_read seq_write readdir untar_rm create_unlink; do
	for where in native fuse; do
		dir=$B; [ $where = fuse ] && dir=$M
		$w $dir	# warm the caches
		for r in $(seq $RUNS); do
			t0=$(now); $w $dir; t1=$(now)
			echo $(( (t1 - t0) / 1000000 ))
		done | median >/tmp/$where
	done
	n=$(cat /tmp/native) f=$(cat /tmp/fuse)
	printf '%-14s %12s %12s %8s\n' $w $n $f $(awk -v n=$n -v f=$f 'BEGIN { printf "%.2f", n ? f / n : 0 }')
done
umount $M
JOB
} >"$JOB"
say "benchmarking on the $VARIANT kernel ($RUNS runs a workload)"
"$HARNESS/vm.sh" --variant "$VARIANT" --timeout 3000 --job "$JOB"
