#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Generate the fuse-bpf patch series and check it.
#
#   series.sh export [DIR]	write the series (git format-patch, cover letter)
#   series.sh check [DIR]	export, then run checkpatch.pl --strict on it
#   series.sh build		build every patch of the last export, with
#				CONFIG_FUSE_BPF=y and =n
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CMD=${1:-export}
DIR=${2:-$CACHE/series}

# The series is generated from the plan (harness/series/plan): the change
# from the pristine base to HEAD's kernel paths, cut into logical patches.
# series.py commits them in a scratch repository; they are then written
# with format-patch and applied again with 'git am' to the pristine base,
# so a series that does not apply is never written.
export_series() {
	local work am n

	[ -d "$BASE" ] || die "no pristine base in $BASE (run harness/base.sh)"
	work=$CACHE/series-work
	am=$(mktemp -d "${TMPDIR:-/tmp}/fuse-bpf-series.XXXXXX")
	trap 'rm -rf "$am"' RETURN
	rm -rf "$work"
	export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-$(git -C "$REPO" config user.name || echo fuse-bpf harness)}
	export GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-$(git -C "$REPO" config user.email || echo harness@localhost)}
	export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
	python3 "$HARNESS/series/series.py" "$HARNESS/series/plan" "$BASE" \
		"$REPO" "$work" >/dev/null || die "cannot cut the series from the plan"

	git -C "$work" config branch.series.description "$(cat "$HARNESS/series/cover-letter.txt")"
	rm -rf "$DIR"
	mkdir -p "$DIR"
	git -C "$work" format-patch -q --cover-letter --cover-from-description=subject \
		--no-signature -o "$DIR" base..series

	# Apply what was written to the pristine base files
	git -C "$am" init -q -b series
	git -C "$work" archive base | tar -x -C "$am"
	git -C "$am" add -A
	git -C "$am" commit -q --allow-empty -m base
	for p in "$DIR"/*.patch; do
		case ${p##*/} in 0000-*) continue ;; esac
		git -C "$am" am -q "$p" >/dev/null 2>&1 ||
			die "${p##*/} does not apply with git am to the pristine base"
	done
	[ "$(git -C "$am" rev-parse 'series^{tree}')" = \
	  "$(git -C "$work" rev-parse 'series^{tree}')" ] ||
		die "the applied series differs from the plan's"
	n=$(find "$DIR" -name '*.patch' ! -name '0000-*' | wc -l)
	say "series: $n patches and a cover letter in $DIR, applied with git am to the pristine base"
}

# A kernel config with fs/fuse and kernel/bpf for the build check: the
# guest's fragments without the debug options, which only slow it down.
series_config() {	# series_config DIR y|n
	local src=$1 out=$2 opt=$3

	mkdir -p "$out"
	{
		make -C "$src" O="$out" tinyconfig &&
		make -C "$src" O="$out" kvm_guest.config &&
		(cd "$out" && "$src/scripts/kconfig/merge_config.sh" -m .config \
			"$HARNESS/kconfig/harness.config" \
			"$REPO/tools/testing/selftests/filesystems/fuse/config") &&
		make -C "$src" O="$out" olddefconfig &&
		if [ "$opt" = n ]; then
			"$src/scripts/config" --file "$out/.config" -d FUSE_BPF &&
			make -C "$src" O="$out" olddefconfig
		fi
	} >"$out.config.log" 2>&1 || { tail -n 30 "$out.config.log" >&2; return 1; }
	grep -qx "CONFIG_FUSE_FS=y" "$out/.config" &&
	grep -qx "CONFIG_BPF_SYSCALL=y" "$out/.config" ||
		{ echo "series config $out lacks FUSE_FS or BPF_SYSCALL" >&2; return 1; }
}

# Every patch builds: fs/fuse and kernel/bpf, with CONFIG_FUSE_BPF=y and
# =n, warning-free, and fs/fuse refers to no fuse-bpf symbol it lacks.
build_series() {
	local work=$CACHE/series-work src=$CACHE/series-src c f subj opt out log flag
	local n=0 bad=0 undef
	local -a commits paths objs

	[ -d "$work/.git" ] || die "no generated series in $work (run export)"
	if [ ! -f "$src/.fbh-prepared" ]; then
		rm -rf "$src"
		cp -a --reflink=auto "$BASE" "$src"
		touch "$src/.fbh-prepared"
	fi
	mapfile -t paths < <(git -C "$work" ls-tree -r --name-only series)
	mapfile -t commits < <(git -C "$work" rev-list --reverse base..series)
	for opt in y n; do
		out=$CACHE/series-build-$opt
		[ -f "$out/.config" ] || series_config "$src" "$out" "$opt" ||
			die "cannot configure $out"
	done
	for c in "${commits[@]}"; do
		n=$((n + 1))
		subj=$(git -C "$work" log -1 --format=%s "$c")
		for f in "${paths[@]}"; do
			if git -C "$work" cat-file -e "$c:$f" 2>/dev/null; then
				mkdir -p "$(dirname "$src/$f")"
				git -C "$work" cat-file blob "$c:$f" >"$src/$f.fbh-tmp"
			elif [ -f "$BASE/$f" ]; then
				cp "$BASE/$f" "$src/$f.fbh-tmp"
			else
				rm -f "$src/$f"
				continue
			fi
			if cmp -s "$src/$f.fbh-tmp" "$src/$f"; then
				rm -f "$src/$f.fbh-tmp"
			else
				mv -f "$src/$f.fbh-tmp" "$src/$f"
			fi
		done
		for opt in y n; do
			out=$CACHE/series-build-$opt
			log=$out.patch-$n.log
			# The option exists from the patch that adds it on
			flag=--disable
			[ $opt = n ] || flag=--enable
			if ! { "$src/scripts/config" --file "$out/.config" $flag FUSE_BPF &&
			       make -C "$src" O="$out" olddefconfig; } >"$log" 2>&1; then
				echo "series: patch $n: cannot configure $out (log: $log)" >&2
				bad=1
				continue
			fi
			if ! make -C "$src" O="$out" -j"$JOBS" CC="ccache gcc" \
				HOSTCC="ccache gcc" fs/fuse/ kernel/bpf/ >>"$log" 2>&1; then
				grep -E "error|Error" "$log" | head -n 20 >&2
				echo "series: patch $n ($subj) does not build with CONFIG_FUSE_BPF=$opt (log: $log)" >&2
				bad=1
				continue
			fi
			if [ $opt = y ] && grep -q "^config FUSE_BPF$" "$src/fs/fuse/Kconfig" &&
			   ! grep -qx "CONFIG_FUSE_BPF=y" "$out/.config"; then
				echo "series: patch $n: CONFIG_FUSE_BPF=y does not survive olddefconfig" >&2
				bad=1
			fi
			if grep -E "^[^ ]*(fs/fuse|kernel/bpf)/.*: warning:" "$log" >&2; then
				echo "series: patch $n ($subj) builds with warnings, CONFIG_FUSE_BPF=$opt" >&2
				bad=1
			fi
			# The objects of this patch: others may be left from another
			mapfile -t objs < <(cd "$out" && ar t fs/fuse/built-in.a | sed "s|^|$out/|")
			undef=$(comm -23 \
				<(nm -u "${objs[@]}" | awk '{ print $2 }' |
				  grep -E "^(fuse_backed|fuse_bpf|fuse_backing)_" | sort -u) \
				<(nm --defined-only "${objs[@]}" | awk 'NF == 3 { print $3 }' |
				  sort -u) | tr '\n' ' ')
			if [ -n "$undef" ]; then
				echo "series: patch $n ($subj) leaves undefined, CONFIG_FUSE_BPF=$opt:" $undef >&2
				bad=1
			fi
		done
		[ $bad -eq 0 ] && say "series: patch $n builds with CONFIG_FUSE_BPF=y and =n: $subj"
		[ $bad -eq 0 ] || break
	done
	return $bad
}

# Every file the series adds must be covered by an F: entry of MAINTAINERS.
check_maintainers() {
	local f pat ok bad=0
	local -a pats

	mapfile -t pats < <(sed -n 's/^F:[[:space:]]*//p' "$REPO/MAINTAINERS")
	while IFS= read -r f; do
		[ -f "$BASE/$f" ] && continue
		ok=
		for pat in "${pats[@]}"; do
			# shellcheck disable=SC2053 # F: entries are glob patterns
			if [[ $pat == */ && $f == "$pat"* ]] || [[ $f == $pat ]]; then
				ok=1
				break
			fi
		done
		[ -n "$ok" ] || { echo "MAINTAINERS: no F: entry covers new file $f" >&2; bad=1; }
	done < <(git -C "$REPO" ls-files -- "${KERNEL_PATHS[@]}")
	return $bad
}

# The uapi headers under tools/include/uapi are copies of the kernel's, kept
# for the tools that build without installed headers: each must be
# byte-identical to include/uapi's at HEAD. As copies they are checked by
# identity, not by checkpatch (uapi headers cannot use BIT() and friends).
check_mirrors() {
	local f bad=0

	while IFS= read -r f; do
		cmp -s <(git -C "$REPO" cat-file blob "HEAD:$f") \
			<(git -C "$REPO" cat-file blob "HEAD:${f#tools/}" 2>/dev/null) && continue
		echo "uapi mirror: $f differs from ${f#tools/}" >&2
		bad=1
	done < <(git -C "$REPO" ls-files -- tools/include/uapi)
	return $bad
}

# PATCH without the diffs of the uapi mirrors, on stdout
strip_mirrors() {
	awk '/^diff --git / { skip = ($3 ~ /^a\/tools\/include\/uapi\//) } !skip' "$1"
}

# checkpatch --strict must be clean: errors, warnings and checks all count.
# Its guess that a new file may need a MAINTAINERS update is replaced by
# check_maintainers, which checks it.
check_series() {
	local p out total bad=0 tmp

	check_maintainers || bad=1
	check_mirrors || bad=1
	tmp=$(mktemp)
	for p in "$DIR"/*.patch; do
		case ${p##*/} in 0000-*) continue ;; esac
		strip_mirrors "$p" >"$tmp"
		grep -q '^diff --git ' "$tmp" || continue
		out=$(cd "$BASE" && perl scripts/checkpatch.pl --strict --color=never \
			--ignore FILE_PATH_CHANGES "$tmp" 2>&1) || true
		total=$(grep -E '^total: ' <<<"$out" | tail -n 1)
		if [[ $total != "total: 0 errors, 0 warnings, 0 checks, "*" lines checked" ]]; then
			printf '%s\n' "$out" >&2
			echo "checkpatch: ${p##*/}: $total" >&2
			bad=1
		fi
	done
	rm -f "$tmp"
	[ $bad -eq 0 ] || return 1
	say "checkpatch --strict: clean"
}

case $CMD in
export) export_series ;;
check) export_series && check_series ;;
build) build_series ;;
*) die "usage: series.sh export|check|build [DIR]" ;;
esac
