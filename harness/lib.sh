# SPDX-License-Identifier: GPL-2.0
# Common settings and helpers of the fuse-bpf harness. Sourced, not run.

# The base everything is built on, pinned: the series must apply to it.
DEB_PKG=linux-source-6.12
DEB_VERSION=6.12.117-1~deb12u1
BASE_SUBLEVEL=117

HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HARNESS/.." && pwd)

# Everything built or downloaded lives here, never in the repository.
CACHE=${FUSE_BPF_CACHE:-$HOME/.cache/fuse-bpf}
BASE=$CACHE/base/linux-source-6.12	# pristine extracted tree, never written
SRC=$CACHE/src				# base + the repository's kernel files
TOOLS=$CACHE/tools			# libbpf, bpftool, selftests

# Kernel paths of the sparse tree; everything else is harness.
KERNEL_PATHS=(fs include kernel tools Documentation MAINTAINERS)

JOBS=${FUSE_BPF_JOBS:-$(nproc)}

export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
# Fixed build identity: the kernel does not relink because of a new date.
export KBUILD_BUILD_USER=fuse-bpf KBUILD_BUILD_HOST=harness
export KBUILD_BUILD_TIMESTAMP='Thu Jan  1 00:00:00 UTC 2026'

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'harness: error: %s\n' "$*" >&2; exit 1; }

# variant_dir VARIANT: the kernel build directory of a config variant.
variant_dir() { echo "$CACHE/build-$1"; }

# Files of the repository at kernel paths, one per line.
repo_kernel_files() {
	git -C "$REPO" ls-files -- "${KERNEL_PATHS[@]}"
}

# parse_opts USAGE SPEC... -- "$@": the option parser of every harness
# script. A SPEC is NAME=VAR (--NAME VALUE or --NAME=VALUE sets VAR) or
# NAME!VAR (--NAME sets VAR to 1). Arguments after the options, or after
# "--", are left in the ARGS array; an unknown option dies with USAGE.
parse_opts() {
	local usage=$1 spec name val found
	local -a specs=()

	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		specs+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	ARGS=()
	while [ $# -gt 0 ]; do
		case $1 in
		--) shift; ARGS+=("$@"); return 0 ;;
		--*) ;;
		*) ARGS+=("$1"); shift; continue ;;
		esac
		name=${1#--} val=
		found=
		[[ $name == *=* ]] && { val=${name#*=}; name=${name%%=*}; found=inline; }
		for spec in "${specs[@]}"; do
			if [ "${spec%%=*}" = "$name" ] && [[ $spec == *=* ]]; then
				if [ -z "$found" ]; then
					[ $# -ge 2 ] || die "$usage"
					val=$2
					shift
				fi
				printf -v "${spec#*=}" '%s' "$val"
				found=1
				break
			elif [ "${spec%%!*}" = "$name" ] && [[ $spec == *!* ]] && [ -z "$found" ]; then
				printf -v "${spec#*!}" '%s' 1
				found=1
				break
			fi
		done
		[ "$found" = 1 ] || die "$usage"
		shift
	done
}
