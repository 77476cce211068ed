#!/bin/sh
# Install the Debian packages bt86's build and tests need, when missing.
# Runs by itself from `make` on a fresh machine; `make deps` runs it on demand.
set -e
need=""
have_hdr() { [ -f "$1" ]; }
have_hdr /usr/include/capstone/capstone.h || need="$need libcapstone-dev"
have_hdr /usr/include/SDL2/SDL.h          || need="$need libsdl2-dev"
have_hdr /usr/include/zlib.h              || need="$need zlib1g-dev"
command -v nasm >/dev/null 2>&1           || need="$need nasm"
command -v python3 >/dev/null 2>&1        || need="$need python3"
command -v pkg-config >/dev/null 2>&1     || need="$need pkg-config"
# the reference guest (scripts/make-guest.sh) and the boot tests
command -v cpio >/dev/null 2>&1           || need="$need cpio"
command -v mkfs.vfat >/dev/null 2>&1 || [ -x /sbin/mkfs.vfat ] || need="$need dosfstools"
command -v mcopy >/dev/null 2>&1          || need="$need mtools"
command -v xz >/dev/null 2>&1             || need="$need xz-utils"
# 32-bit host programs (differential tests against the real CPU)
[ -f /usr/lib/gcc/x86_64-linux-gnu/12/32/libgcc.a ] || [ "$(uname -m)" != x86_64 ] || need="$need gcc-multilib"
if [ -n "$need" ]; then
    echo "deps: installing:$need"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq || true
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq $need
fi
