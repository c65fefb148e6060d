#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Generate the fuse-bpf patch series and check it.
#
#   series.sh export [DIR]	write the series (git format-patch, cover letter)
#   series.sh check [DIR]	export, then run checkpatch.pl --strict on it
#
# The series is every commit that changes a kernel path, restricted to the
# kernel paths, except the commits that import pristine base files. Export
# applies each patch with 'git am' to a repository holding the pristine base
# files, so a series that does not apply cleanly is never written.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CMD=${1:-export}
DIR=${2:-$CACHE/series}

# is_pristine_import COMMIT: the commit only adds files identical to the base.
is_pristine_import() {
	local status path

	while read -r status path; do
		[ "$status" = A ] && [ -f "$BASE/$path" ] || return 1
		git -C "$REPO" cat-file blob "$1:$path" | cmp -s - "$BASE/$path" || return 1
	done < <(git -C "$REPO" diff-tree --no-commit-id -r --name-status "$1" -- "${KERNEL_PATHS[@]}")
}

export_series() {
	local work commits=() c f n
	local -A files=()

	[ -d "$BASE" ] || die "no pristine base in $BASE (run harness/base.sh)"
	for c in $(git -C "$REPO" rev-list --reverse --no-merges HEAD -- "${KERNEL_PATHS[@]}"); do
		is_pristine_import "$c" && continue
		commits+=("$c")
		while IFS= read -r f; do
			files[$f]=1
		done < <(git -C "$REPO" diff-tree --no-commit-id -r --name-only "$c" -- "${KERNEL_PATHS[@]}")
	done
	[ ${#commits[@]} -gt 0 ] || die "no commits change kernel paths"

	work=$(mktemp -d "${TMPDIR:-/tmp}/fuse-bpf-series.XXXXXX")
	trap 'rm -rf "$work"' RETURN
	export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-fuse-bpf harness}
	export GIT_COMMITTER_NAME=${GIT_COMMITTER_NAME:-$(git -C "$REPO" config user.name || echo fuse-bpf harness)}
	export GIT_COMMITTER_EMAIL=${GIT_COMMITTER_EMAIL:-$(git -C "$REPO" config user.email || echo harness@localhost)}
	git -C "$work" init -q -b series
	for f in "${!files[@]}"; do
		[ -f "$BASE/$f" ] || continue
		mkdir -p "$work/$(dirname "$f")"
		cp "$BASE/$f" "$work/$f"
	done
	git -C "$work" add -A
	git -C "$work" commit -q --allow-empty -m "pristine $DEB_PKG $DEB_VERSION"
	git -C "$work" tag base

	for c in "${commits[@]}"; do
		unset GIT_AUTHOR_NAME
		if ! git -C "$REPO" format-patch -1 --stdout "$c" -- "${KERNEL_PATHS[@]}" |
			git -C "$work" am -q >/dev/null 2>&1; then
			die "commit $(git -C "$REPO" log -1 --format='%h ("%s")' "$c") does not apply to the pristine base"
		fi
	done

	git -C "$work" config branch.series.description "$(cat "$HARNESS/series/cover-letter.txt")"
	rm -rf "$DIR"
	mkdir -p "$DIR"
	git -C "$work" format-patch -q --cover-letter --cover-from-description=subject \
		--no-signature -o "$DIR" base..series
	n=$(find "$DIR" -name '*.patch' ! -name '0000-*' | wc -l)
	say "series: $n patches and a cover letter in $DIR, applied with git am to the pristine base"
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
*) die "usage: series.sh export|check [DIR]" ;;
esac
