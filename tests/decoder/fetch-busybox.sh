#!/bin/sh
# tests/decoder/fetch-busybox.sh CACHE_DIR - fetch Debian's busybox-static:i386
# (a real statically linked i386 program) into CACHE_DIR and print the path of
# its busybox binary. Used by the capstone cross-check (test_capstone) and the
# decoder benchmark (bench/decode.c). Cached: a second call prints the path
# without fetching. On a machine without the i386 architecture it adds it
# (dpkg --add-architecture i386 && apt-get update). Exits non-zero with the
# reason on stderr when the package cannot be had (no network, not root).
set -u
cache=${1:?usage: fetch-busybox.sh CACHE_DIR}
bin="$cache/busybox-i386/bin/busybox"
if [ -s "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$cache" || { echo "fetch-busybox: cannot create $cache" >&2; exit 1; }
cache=$(cd "$cache" && pwd)
bin="$cache/busybox-i386/bin/busybox"
command -v apt-get >/dev/null 2>&1 || { echo "fetch-busybox: apt-get not found (not a Debian machine)" >&2; exit 1; }
command -v dpkg-deb >/dev/null 2>&1 || { echo "fetch-busybox: dpkg-deb not found" >&2; exit 1; }
if ! dpkg --print-foreign-architectures 2>/dev/null | grep -qx i386; then
    if [ "$(id -u)" != 0 ]; then
        echo "fetch-busybox: the i386 architecture is not enabled and we are not root to add it" >&2; exit 1
    fi
    dpkg --add-architecture i386 >&2 || { echo "fetch-busybox: dpkg --add-architecture i386 failed" >&2; exit 1; }
    apt-get update >&2 || { echo "fetch-busybox: apt-get update failed" >&2; exit 1; }
fi
tmp="$cache/dl.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
if ! (cd "$tmp" && apt-get download busybox-static:i386 >/dev/null 2>&1); then
    # the package lists may be stale or missing i386: refresh once and retry
    if [ "$(id -u)" = 0 ]; then apt-get update >/dev/null 2>&1; fi
    if ! (cd "$tmp" && apt-get download busybox-static:i386 >/dev/null 2>&1); then
        rm -rf "$tmp"
        echo "fetch-busybox: apt-get download busybox-static:i386 failed (no package registry reachable?)" >&2
        exit 1
    fi
fi
deb=$(ls "$tmp"/busybox-static_*_i386.deb 2>/dev/null | head -n 1)
if [ -z "$deb" ]; then rm -rf "$tmp"; echo "fetch-busybox: no .deb downloaded" >&2; exit 1; fi
rm -rf "$cache/busybox-i386"
if ! dpkg-deb -x "$deb" "$cache/busybox-i386"; then
    rm -rf "$tmp"; echo "fetch-busybox: dpkg-deb -x $deb failed" >&2; exit 1
fi
cp "$deb" "$cache/" 2>/dev/null
rm -rf "$tmp"
[ -s "$bin" ] || { echo "fetch-busybox: $bin missing in the package" >&2; exit 1; }
echo "$bin"
