#!/bin/bash
# bench/guest/build.sh - builds the guest benchmark programs (bench/guest/*.c: cpumix, osbench,
# each one self-contained C of our own) as static i386 executables into build/bench/guest/
# (or $1). They run unchanged natively on an x86-64 host (its kernel runs i386 programs) and
# inside the reference Linux guest (scripts/make-guest.sh puts them in the initramfs, /bench/).
# Flags: gcc -m32 -static -O2 -march=i686 (no MMX/SSE: the x87 for floating point, as bt86's
# P6 model has it), stripped, no build ID and no source paths in the output, so the same source gives
# the same bytes (the initramfs stays reproducible). Idempotent: a program is rebuilt only
# when its source or this script is newer. Needs gcc-multilib (scripts/deps.sh installs it).
# Exit status: 0 when every program is there and up to date, 1 otherwise (with the reason).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/build/bench/guest}"
CC="${CC_I386:-gcc}"
CFLAGS="-m32 -static -O2 -march=i686 -fno-pie -no-pie -Wall -Wextra -Werror -g0 -s"
CFLAGS="$CFLAGS -ffile-prefix-map=$root/= -Wl,--build-id=none"
mkdir -p "$out"
for src in "$here"/*.c; do
    name="$(basename "$src" .c)"
    bin="$out/$name"
    if [ -x "$bin" ] && [ ! "$src" -nt "$bin" ] && [ ! "$here/build.sh" -nt "$bin" ]; then
        continue
    fi
    echo "bench/guest: building $name"
    # shellcheck disable=SC2086
    if ! "$CC" $CFLAGS -o "$bin.tmp" "$src" 2> "$out/$name.log"; then
        cat "$out/$name.log" >&2
        rm -f "$bin.tmp"
        echo "bench/guest: error: $CC -m32 -static failed for $src (gcc-multilib missing? run make deps)" >&2
        exit 1
    fi
    rm -f "$out/$name.log"
    mv "$bin.tmp" "$bin"
done
