#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build a guest kernel variant with the repository's kernel files, plus the
# userspace the tests need: uapi headers, libbpf from the tree, kselftests.
#
#   build.sh [--variant debug|release] [kernel|tools|all]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VARIANT=release
parse_opts "usage: build.sh [--variant debug|release] [kernel|tools|all]" variant=VARIANT -- "$@"
WHAT=${ARGS[0]:-all}
[ -f "$HARNESS/kconfig/$VARIANT.config" ] || die "unknown variant '$VARIANT'"
OUT=$(variant_dir "$VARIANT")
LOGS=$CACHE/logs
mkdir -p "$LOGS"

# run_logged LOG CMD...: run quietly, show the end of the log on failure.
run_logged() {
	local log=$1; shift
	if ! "$@" >"$log" 2>&1; then
		tail -n 60 "$log" >&2
		die "failed: $* (full log: $log)"
	fi
}

# replace SRC DST: replace DST by a copy of SRC without writing through an
# existing inode, and only when the content differs (keeps builds incremental).
replace() {
	cmp -s "$1" "$2" && return 0
	mkdir -p "$(dirname "$2")"
	cp "$1" "$2.fbh-tmp"
	mv -f "$2.fbh-tmp" "$2"
	echo "  overlay: ${2#"$SRC"/}" >&2
}

# The build tree is a copy of the pristine base with the repository's
# kernel-path files (committed or not) laid over it.
overlay() {
	local manifest=$SRC/.fbh-overlay f
	local -A now=()

	if [ ! -f "$SRC/.fbh-prepared" ]; then
		say "preparing build tree $SRC"
		rm -rf "$SRC"
		cp -a --reflink=auto "$BASE" "$SRC"
		touch "$SRC/.fbh-prepared"
	fi
	while IFS= read -r f; do
		[ -f "$REPO/$f" ] || continue
		now[$f]=1
		replace "$REPO/$f" "$SRC/$f"
	done < <(git -C "$REPO" ls-files --cached --others --exclude-standard -- "${KERNEL_PATHS[@]}")
	# Files dropped from the repository go back to their base state.
	if [ -f "$manifest" ]; then
		while IFS= read -r f; do
			[ -n "${now[$f]:-}" ] && continue
			if [ -f "$BASE/$f" ]; then
				replace "$BASE/$f" "$SRC/$f"
			else
				rm -f "$SRC/$f"
				echo "  overlay: removed $f" >&2
			fi
		done <"$manifest"
	fi
	printf '%s\n' "${!now[@]}" | sort >"$manifest"
}

# Fragments merged over tinyconfig + kvm_guest.config, in order.
fragments() {
	echo "$HARNESS/kconfig/harness.config"
	echo "$SRC/tools/testing/selftests/filesystems/fuse/config"
	echo "$HARNESS/kconfig/$VARIANT.config"
}

# Fail loudly when olddefconfig dropped a fragment line (missing dependency).
check_fragments() {
	local config=$1 frag line sym bad=0

	while IFS= read -r frag; do
		while IFS= read -r line; do
			case $line in
			CONFIG_*=*)
				grep -qxF "$line" "$config" && continue ;;
			"# CONFIG_"*" is not set")
				sym=${line#\# }; sym=${sym%% *}
				grep -q "^$sym=" "$config" || continue ;;
			*) continue ;;
			esac
			echo "kconfig: '$line' from ${frag##*/} did not survive olddefconfig" >&2
			bad=1
		done <"$frag"
	done < <(fragments)
	[ $bad -eq 0 ] || die "guest kernel config is not what the fragments ask for"
}

configure() {
	local cfg=$CACHE/cfg-$VARIANT

	mkdir -p "$cfg" "$OUT"
	{
		make -C "$SRC" O="$cfg" tinyconfig &&
		make -C "$SRC" O="$cfg" kvm_guest.config &&
		(cd "$cfg" && "$SRC/scripts/kconfig/merge_config.sh" -m .config $(fragments)) &&
		make -C "$SRC" O="$cfg" olddefconfig
	} >"$LOGS/config-$VARIANT.log" 2>&1 ||
		{ tail -n 40 "$LOGS/config-$VARIANT.log" >&2; die "kernel configuration failed"; }
	check_fragments "$cfg/.config"
	if ! cmp -s "$cfg/.config" "$OUT/.config"; then
		say "kernel config ($VARIANT) changed"
		cp "$cfg/.config" "$OUT/.config"
	fi
}

build_kernel() {
	local t0=$SECONDS

	configure
	say "building $VARIANT kernel in $OUT (log: $LOGS/kernel-$VARIANT.log)"
	run_logged "$LOGS/kernel-$VARIANT.log" \
		make -C "$SRC" O="$OUT" -j"$JOBS" CC="ccache gcc" HOSTCC="ccache gcc" bzImage
	run_logged "$LOGS/headers-$VARIANT.log" make -C "$SRC" O="$OUT" headers
	say "kernel built in $((SECONDS - t0)) s: $OUT/arch/x86/boot/bzImage"
}

build_tools() {
	local t0=$SECONDS

	say "building the kselftests (with libbpf and bpftool from the tree)"
	mkdir -p "$OUT/kselftest/fuse"
	run_logged "$LOGS/kselftest-$VARIANT.log" \
		make -C "$SRC/tools/testing/selftests/filesystems/fuse" -j"$JOBS" \
		OUTPUT="$OUT/kselftest/fuse" \
		KHDR_INCLUDES="-isystem $OUT/usr/include" \
		VMLINUX_BTF="$OUT/vmlinux"
	say "tools built in $((SECONDS - t0)) s"
}

overlay
case $WHAT in
kernel) build_kernel ;;
tools) build_tools ;;
all) build_kernel; build_tools ;;
*) die "usage: build.sh [--variant V] [kernel|tools|all]" ;;
esac
