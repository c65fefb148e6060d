#!/usr/bin/env bash
# Install the host packages the harness needs (Debian bookworm). Idempotent:
# only packages that are not installed yet are passed to apt-get.
#
#   deps.sh [bench]     bench: also what the benchmark needs
set -euo pipefail

PKGS=(
	build-essential bc bison flex libelf-dev libssl-dev dwarves ccache
	cpio rsync xz-utils kmod python3 git
	qemu-system-x86 busybox-static e2fsprogs xfsprogs
	clang llvm lld libbpf-dev bpftool libcap-dev zlib1g-dev libzstd-dev
	pkg-config
)
if [ "${1:-}" = bench ]; then
	PKGS+=(fio libfuse3-dev python3-matplotlib)
fi

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

echo "harness: installing ${missing[*]}" >&2
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
