#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fetch and extract the pinned base once, then check that every kernel-path
# file of the repository was first committed byte-identical to it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

fetch_base() {
	local stamp=$CACHE/base/.extracted-$DEB_VERSION deb

	[ -f "$stamp" ] && return 0
	mkdir -p "$CACHE/base"
	deb=$CACHE/base/${DEB_PKG}_${DEB_VERSION/:/%3a}_all.deb
	if [ ! -f "$deb" ]; then
		say "downloading $DEB_PKG=$DEB_VERSION"
		# A fresh machine may not have read the package lists yet.
		(cd "$CACHE/base" && apt-get download "$DEB_PKG=$DEB_VERSION" >&2 2>/dev/null) ||
			{ $SUDO apt-get update -qq >&2 &&
			  (cd "$CACHE/base" && apt-get download "$DEB_PKG=$DEB_VERSION" >&2 2>/dev/null); } ||
			die "cannot download $DEB_PKG version $DEB_VERSION; the Debian archive may no longer carry it (try 'apt-cache policy $DEB_PKG', or point FUSE_BPF_CACHE at a cache holding it)"
	fi
	say "extracting $DEB_PKG $DEB_VERSION into $CACHE/base"
	rm -rf "$BASE" "$CACHE/base/deb"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xO ./usr/src/linux-source-6.12.tar.xz |
		tar -xJ -C "$CACHE/base"
	grep -q "^SUBLEVEL = $BASE_SUBLEVEL\$" "$BASE/Makefile" ||
		die "$BASE is not v6.12.$BASE_SUBLEVEL"
	touch "$stamp"
}

# Every file that exists in the base must have been added byte-identical.
check_drift() {
	local path commit bad=0 n=0

	while IFS= read -r path; do
		[ -f "$BASE/$path" ] || continue	# a new file of the series
		n=$((n + 1))
		commit=$(git -C "$REPO" log --format=%H --diff-filter=A -- "$path" | tail -n 1)
		if ! git -C "$REPO" cat-file blob "$commit:$path" | cmp -s - "$BASE/$path"; then
			echo "drift: $path (first committed in ${commit:0:12}) differs from $DEB_PKG $DEB_VERSION" >&2
			bad=1
		fi
	done < <(repo_kernel_files)
	[ $bad -eq 0 ] || return 1
	say "pristine check: $n base files first committed byte-identical"
}

case "${1:-all}" in
fetch) fetch_base ;;
check) check_drift ;;
all) fetch_base && check_drift ;;
*) die "usage: base.sh [fetch|check|all]" ;;
esac
