#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot a built guest kernel under QEMU with the host's / as read-only root
# and run a job script in it, or an interactive shell.
#
#   vm.sh [--variant V] [--timeout S] [--scratch SIZE] --job SCRIPT [--dir RUNDIR]
#   vm.sh [--variant V] [--scratch SIZE] --shell
#
# SIZE is the size of the ext4 scratch disk, as truncate(1) takes it (1G).
#
# The job's exit status is the exit status of vm.sh. The console goes to
# RUNDIR/console.log; a kernel oops, BUG, WARNING, lockdep, KASAN or similar
# report in it fails the run, and the offending lines are printed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VARIANT=release TIMEOUT=1800 JOB= SHELL_MODE= RUNDIR= SCRATCH_SIZE=1G
USAGE="usage: vm.sh [--variant V] [--timeout S] [--scratch SIZE] [--dir D] (--job SCRIPT | --shell)"
parse_opts "$USAGE" variant=VARIANT timeout=TIMEOUT job=JOB dir=RUNDIR \
	scratch=SCRATCH_SIZE 'shell!SHELL_MODE' -- "$@"
[ ${#ARGS[@]} -eq 0 ] || die "$USAGE"
[ -n "$JOB$SHELL_MODE" ] || die "vm.sh: --job or --shell is required"
OUT=$(variant_dir "$VARIANT")
KERNEL=$OUT/arch/x86/boot/bzImage
[ -f "$KERNEL" ] || die "no kernel at $KERNEL; build it first (harness/fb build --variant $VARIANT)"
RUNDIR=${RUNDIR:-$CACHE/run-$VARIANT}

rm -rf "$RUNDIR"
mkdir -p "$RUNDIR/share"
if [ -n "$SHELL_MODE" ]; then
	touch "$RUNDIR/share/interactive"
else
	cp "$JOB" "$RUNDIR/share/job.sh"
fi
# The guest mounts a tmpfs on /tmp: host paths under /tmp that it needs
# (a clone of the repository, the cache) are bound back in place.
for p in "$REPO" "$CACHE"; do
	case $p in /tmp/*) echo "$p" ;; esac
done >"$RUNDIR/share/host-tmp-paths"
# A fresh ext4 scratch disk for backing-filesystem tests: /dev/vda.
truncate -s "$SCRATCH_SIZE" "$RUNDIR/scratch.img"
mkfs.ext4 -q -F "$RUNDIR/scratch.img"

# TCG: this host's /dev/kvm cannot run guests; use KVM only where it can.
ACCEL=${FUSE_BPF_ACCEL:-"-accel tcg -cpu max"}
if [ -z "${FUSE_BPF_NO_KVM:-}" ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
	ACCEL="-accel kvm -cpu host"
fi

# pci=noacpi: PCI interrupt routing through ACPI runs the AML interpreter,
# which takes ~20 s per device on a KASAN+kmemleak kernel under TCG.
APPEND="console=ttyS0 root=hostroot rootfstype=9p ro pci=noacpi"
APPEND+=" rootflags=trans=virtio,version=9p2000.L,cache=loose,msize=262144"
# nokaslr: the same layout on every boot, so a failure can be replayed.
APPEND+=" init=$HARNESS/guest/init panic=-1 printk.devkmsg=on nokaslr"
# no5lvl: -cpu max offers LA57. identify_cpu() clears the boot CPU's
# feature bits for a moment, and a KASAN check in an interrupt then
# computes the shadow bounds for 4-level paging and reports a 5-level
# direct-map address as a "wild-memory-access" (seen once, at 2.9 s).
APPEND+=" no5lvl"
APPEND+=" ${FUSE_BPF_APPEND:-}"
QEMU=(qemu-system-x86_64 $ACCEL -smp 2 -m 2G -nodefaults -no-reboot
	-display none -kernel "$KERNEL" -append "$APPEND"
	-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
	-virtfs "local,path=$RUNDIR/share,mount_tag=share,security_model=none"
	-drive "file=$RUNDIR/scratch.img,if=virtio,format=raw"
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 ${FUSE_BPF_QEMU_ARGS:-})

if [ -n "$SHELL_MODE" ]; then
	exec "${QEMU[@]}" -serial mon:stdio
fi

set +e
timeout -k 10 "$TIMEOUT" "${QEMU[@]}" -serial "file:$RUNDIR/console.log" </dev/null
qemu_rc=$?
set -e

# kernel_log_problems FILE: print the console lines that report kernel bugs.
kernel_log_problems() {
	grep -nE -e 'Oops|BUG:|WARNING:|Kernel panic|general protection fault' \
		-e 'UBSAN:|kmemleak: [0-9]+ new suspected|RCU usage|------------\[ cut here \]' \
		-e 'possible (circular|recursive) locking|inconsistent lock state|lock held when returning' \
		-e 'sleeping function called from invalid context|scheduling while atomic' \
		-e 'INFO: task .* blocked|hung_task|soft lockup|hard LOCKUP|Call Trace:' \
		"$1"
}

[ ! -f "$RUNDIR/share/job.log" ] || cat "$RUNDIR/share/job.log"
rc=0
if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
	echo "vm: timed out after ${TIMEOUT}s" >&2
	rc=124
elif ! grep -q '^FUSE-BPF-VM-DONE rc=' "$RUNDIR/console.log"; then
	echo "vm: the guest did not finish its job (QEMU exit $qemu_rc)" >&2
	rc=125
else
	rc=$(cat "$RUNDIR/share/status" 2>/dev/null || echo 126)
	[ "$qemu_rc" -eq $((2 * rc + 1)) ] ||
		echo "vm: warning: QEMU exit $qemu_rc does not match guest status $rc" >&2
fi
if kernel_log_problems "$RUNDIR/console.log" >"$RUNDIR/kernel-problems.txt"; then
	echo "vm: the kernel reported problems (console: $RUNDIR/console.log):" >&2
	cat "$RUNDIR/kernel-problems.txt" >&2
	[ "$rc" -ne 0 ] || rc=3
fi
if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
	echo "vm: last console lines:" >&2
	tail -n 30 "$RUNDIR/console.log" >&2
fi
if [ "$rc" -ne 0 ]; then
	# Keep the evidence: the next run replaces the run directory.
	mkdir -p "$CACHE/logs"
	keep=$CACHE/logs/vm-$VARIANT-$(date +%Y%m%d-%H%M%S).console.log
	cp "$RUNDIR/console.log" "$keep" 2>/dev/null &&
		echo "vm: console kept in $keep (QEMU exit $qemu_rc)" >&2
fi
exit "$rc"
