#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The test command: check the series, build the debug kernel and the
# kselftests, run them in the VM, and print the totals. Exits non-zero on
# any failure.
#
#   test.sh [--variant V] [-- ARGS...]	ARGS go to every kselftest binary,
#					e.g. -- -t plain_getattr_roundtrip
set -uo pipefail
. "$(dirname "$0")/lib.sh"

VARIANT=debug
parse_opts "usage: test.sh [--variant V] [-- kselftest args]" variant=VARIANT -- "$@"
set -- "${ARGS[@]}"
OUT=$(variant_dir "$VARIANT")
RUN=$CACHE/run-$VARIANT
PASSED=0 FAILED=0

result() {	# result STATUS NAME
	if [ "$1" -eq 0 ]; then
		PASSED=$((PASSED + 1)); echo "ok - $2"
	else
		FAILED=$((FAILED + 1)); echo "not ok - $2"
	fi
}

finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit
}

"$HARNESS/deps.sh" || die "cannot install the build dependencies"
"$HARNESS/base.sh" fetch || die "cannot set up the pristine base"

# Host-side checks of the repository and the generated series.
"$HARNESS/base.sh" check
result $? "host: kernel-path files first committed byte-identical to $DEB_PKG $DEB_VERSION"
SERIES=$CACHE/series
"$HARNESS/series.sh" export "$SERIES"
result $? "host: series applies with git am to the pristine base"
"$HARNESS/series.sh" check "$SERIES" >/dev/null
result $? "host: checkpatch.pl --strict clean on the series"
"$HARNESS/series.sh" build
result $? "host: every patch of the series builds with CONFIG_FUSE_BPF=y and =n"

t0=$SECONDS
if ! "$HARNESS/build.sh" --variant "$VARIANT" all; then
	result 1 "host: build the $VARIANT kernel and the kselftests"
	finish
fi
result 0 "host: build the $VARIANT kernel and the kselftests"
build_s=$((SECONDS - t0))

# The job run in the guest: every kselftest binary, then a leak scan.
KSFT=$OUT/kselftest/fuse
mapfile -t PROGS < <(make -s -C "$SRC/tools/testing/selftests/filesystems/fuse" \
	OUTPUT="$KSFT" COLLECTION=fuse emit_tests | sed 's/^fuse://')
if [ ${#PROGS[@]} -eq 0 ]; then
	result 1 "host: the kselftest makefile lists test programs"
	finish
fi
JOB=$(mktemp)
trap 'rm -f "$JOB"' EXIT
{
	echo "cd '$KSFT' || exit 1"
	echo 'kmemleak=/sys/kernel/debug/kmemleak'
	echo '[ -w $kmemleak ] && echo clear >$kmemleak'
	for p in "${PROGS[@]}"; do
		printf 'timeout -k 5 1200 ./%q' "$p"
		printf ' %q' "$@"
		printf ' >$SHARE/%q.tap 2>&1; echo $? >$SHARE/%q.rc\n' "$p" "$p"
	done
	# kmemleak reports only objects older than 5 s, seen in two scans.
	echo 'if [ -w $kmemleak ]; then sleep 6; echo scan >$kmemleak; echo scan >$kmemleak; cat $kmemleak >$SHARE/kmemleak.txt; fi'
	echo 'exit 0'
} >"$JOB"

t0=$SECONDS
"$HARNESS/vm.sh" --variant "$VARIANT" --timeout 2400 --job "$JOB"
vm_rc=$?
vm_s=$((SECONDS - t0))
case $vm_rc in 0 | 3) ok=0 ;; *) ok=1 ;; esac
result $ok "vm: the guest booted, ran the tests and powered off"
[ ! -s "$RUN/kernel-problems.txt" ]
result $? "vm: no oops, BUG, WARNING, lockdep or KASAN report on the console"
if grep -q '^CONFIG_DEBUG_KMEMLEAK=y' "$OUT/.config"; then
	leaks=$RUN/share/kmemleak.txt
	[ ! -s "$leaks" ] || cat "$leaks"
	[ -f "$leaks" ] && [ ! -s "$leaks" ]
	result $? "vm: kmemleak scanned and found no leaks"
fi

k_pass=0 k_fail=0 k_skip=0
for p in "${PROGS[@]}"; do
	tap=$RUN/share/$p.tap
	if [ ! -f "$tap" ]; then
		result 1 "kselftest $p: did not run"
		continue
	fi
	cat "$tap"
	pass=$(grep -cE '^ok [0-9]+ ' "$tap")
	skip=$(grep -cE '^ok [0-9]+ .*# SKIP' "$tap")
	fail=$(grep -cE '^not ok [0-9]+ ' "$tap")
	pass=$((pass - skip))
	k_pass=$((k_pass + pass)) k_fail=$((k_fail + fail)) k_skip=$((k_skip + skip))
	rc=$(cat "$RUN/share/$p.rc" 2>/dev/null || echo 255)
	# A crash or a timeout mid-run loses the tests that did not report.
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		result 1 "kselftest $p: exited with status $rc"
	fi
done
echo "# kselftest totals: pass:$k_pass fail:$k_fail skip:$k_skip (a skip counts as a failure)"
echo "# times: build ${build_s}s, VM ${vm_s}s"
PASSED=$((PASSED + k_pass)) FAILED=$((FAILED + k_fail + k_skip))
finish
