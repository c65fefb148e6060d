#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Benchmark: the same workloads on one ext4 directory of the scratch disk,
# seen through every configuration, in one VM run of the release kernel:
#
#   native            the ext4 directory itself
#   overlay           overlayfs with it as upper layer, for the cost of
#                     stacking as the kernel's other stacked filesystem pays it
#   bpf               fuse-bpf, no_daemon, no program
#   bpf_pre           fuse-bpf with a trivial program, pre-filter only
#   bpf_prepost       the same program, pre- and post-filter
#   server_backed     a FUSE server's subtree it backed in a LOOKUP reply
#   fuse              a classic libfuse3 passthrough server, tuned
#   fuse_passthrough  the same server with FOPEN_PASSTHROUGH for file data
#
# Data workloads are fio jobs, metadata ones fsbench (harness/bench/) and
# tar/find/ls. Each run of a workload goes through every configuration in
# turn; the server requests of each run come from the kernel's "requests"
# counters of the connection. harness/bench/report.py writes the Markdown
# table and the PNG plot into the results directory printed at the end.
# The VM runs under QEMU TCG: only ratios within one run mean anything.
#
#   bench.sh [--variant V] [--runs N] [--runtime S] [--only CONFIGS]
#            [--workloads WORKLOADS]
#
# CONFIGS and WORKLOADS are comma-separated names; the default is all.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VARIANT=release RUNS=5 RUNTIME=2 ONLY= WORKLOADS=
USAGE="usage: bench.sh [--variant V] [--runs N] [--runtime S] [--only CONFIGS] [--workloads WORKLOADS]"
parse_opts "$USAGE" variant=VARIANT runs=RUNS runtime=RUNTIME only=ONLY \
	workloads=WORKLOADS -- "$@"
[ ${#ARGS[@]} -eq 0 ] || die "$USAGE"

"$HARNESS/deps.sh" bench
"$HARNESS/base.sh" fetch
"$HARNESS/build.sh" --variant "$VARIANT" all

# The host-built tools: the guest runs them from the host's root
BT=$CACHE/bench-tools
mkdir -p "$BT"
say "building the benchmark tools in $BT"
gcc -O2 -Wall -static -o "$BT/fsbench" "$HARNESS/bench/fsbench.c"
# shellcheck disable=SC2046
gcc -O2 -Wall $(pkg-config --cflags fuse3) -o "$BT/passthrough_ll" \
	"$HARNESS/bench/passthrough_ll.c" $(pkg-config --libs fuse3) -lpthread

RESULTS=$CACHE/bench-results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS"
KSFT=$(variant_dir "$VARIANT")/kselftest/fuse

JOB=$(mktemp)
trap 'rm -f "$JOB"' EXIT
{
	printf 'RUNS=%q RUNTIME=%q ONLY=%q WORKLOADS=%q BT=%q KSFT=%q\n' \
		"$RUNS" "$RUNTIME" "$ONLY" "$WORKLOADS" "$BT" "$KSFT"
	cat "$HARNESS/bench/guest.sh"
} >"$JOB"

# Each configuration keeps its own fio files (64 MiB per job) and trees
"$HARNESS/vm.sh" --variant "$VARIANT" --timeout 7200 --scratch 4G --job "$JOB"
RUN=$CACHE/run-$VARIANT/share
for f in results.csv crosscheck.txt fio.err commands.err; do
	[ ! -e "$RUN/$f" ] || cp "$RUN/$f" "$RESULTS/"
done
[ -s "$RESULTS/results.csv" ] || die "the guest wrote no results"
python3 "$HARNESS/bench/report.py" "$RESULTS"
[ ! -s "$RESULTS/crosscheck.txt" ] || cat "$RESULTS/crosscheck.txt"
say "results in $RESULTS"
