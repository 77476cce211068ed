#!/bin/sh
# tests/cpu/run-kernel.sh - assemble each self-checking multiboot test kernel
# (tests/cpu/*.asm that includes kernel.inc) and run it with `bt86 test kernel`.
# A kernel prints "PASS name"/"FAIL name" lines on port 0xE9 and writes 0 to
# port 0xF4 when everything passed (kernel.inc writes the failure count), so
# bt86 exits with (v << 1) | 1: status 1 means every check passed.
# Kernels are the .asm files that include kernel.inc or carry their own
# Multiboot header (pm_*.asm).
ROOT=${BT86_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${BT86_BUILD:-build}
BIN=${BT86_BIN:-$ROOT/bt86}
OUT="$ROOT/$B/cpu"
mkdir -p "$OUT"
if ! command -v nasm >/dev/null 2>&1; then echo "SKIP cpu-kernels: nasm is not installed (make deps)"; exit 0; fi
rc=0
for src in "$ROOT"/tests/cpu/*.asm; do
    grep -q -e '%include "kernel.inc"' -e '0x1BADB002' "$src" || continue
    name=$(basename "$src" .asm)
    if ! nasm -f bin -I "$ROOT/tests/cpu/" -o "$OUT/$name.bin" "$src"; then
        echo "FAIL kernel/$name: nasm failed"; rc=1; continue
    fi
    for engine in interp; do
        out=$("$BIN" test kernel --engine $engine --timeout 60 "$OUT/$name.bin" 2>&1)
        status=$?
        echo "$out" | sed -n "s/^\(PASS\|FAIL\) \(.*\)/\1 kernel\/$name\/$engine\/\2/p"
        if [ $status -ne 1 ]; then
            echo "FAIL kernel/$name/$engine: exit status $status, expected 1 (0 failures) ($(echo "$out" | grep 'bt86:' | tr '\n' ' '))"
            rc=1
        fi
    done
done
exit $rc
