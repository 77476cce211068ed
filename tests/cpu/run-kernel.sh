#!/bin/sh
# tests/cpu/run-kernel.sh - assemble each self-checking multiboot test kernel
# (tests/cpu/*.asm that includes kernel.inc or carries its own Multiboot
# header: pm_*.asm) and run it with `bt86 test kernel --all-engines`. A
# kernel prints "PASS name"/"FAIL name" lines on port 0xE9 and writes its
# failure count to port 0xF4 (kernel.inc); bt86 exits 0 only when that count
# is 0 and no check failed, on every engine that ran.
# Output, one row per check: "PASS kernel/<kernel>: <check>  <result per
# engine>" (FAIL when a check failed on an engine or the engines disagree),
# a last row with the overall result, and one "SKIP kernel/<k>.bin/<engine>:
# <why>" line per engine that cannot run here.
# Environment: BT86_BIN (default ./bt86), BT86_ENGINES (the engines to run,
# default interp,bt,trap,kvm), BT86_KERNEL_ARGS (replaces "--engines LIST",
# e.g. "--engine interp" for the plain single-engine output).
ROOT=${BT86_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${BT86_BUILD:-build}
BIN=${BT86_BIN:-$ROOT/bt86}
OUT="$ROOT/$B/cpu"
mkdir -p "$OUT"
if ! command -v nasm >/dev/null 2>&1; then echo "SKIP cpu-kernels: nasm is not installed (make deps)"; exit 0; fi
if [ ! -x "$BIN" ]; then echo "SKIP cpu-kernels: $BIN not built (make bt86)"; exit 0; fi
ENGINES=${BT86_ENGINES:-interp,bt,trap,kvm}
rc=0
for src in "$ROOT"/tests/cpu/*.asm; do
    grep -q -e '%include "kernel.inc"' -e '0x1BADB002' "$src" || continue
    name=$(basename "$src" .asm)
    if ! nasm -f bin -I "$ROOT/tests/cpu/" -o "$OUT/$name.bin" "$src"; then
        echo "FAIL kernel/$name: nasm failed"; rc=1; continue
    fi
    # shellcheck disable=SC2086
    out=$("$BIN" test kernel ${BT86_KERNEL_ARGS:---engines $ENGINES} --timeout 60 "$OUT/$name.bin" 2>&1)
    status=$?
    echo "$out" | sed -n -e "s/^\(PASS\|FAIL\) \{1,\}/\1 kernel\/$name: /p" -e '/^SKIP /p' -e '/^engine /p' -e '/^ \{6,\}check/p'
    if [ $status -ne 0 ]; then
        echo "FAIL kernel/$name: did not pass on every engine (exit status $status; $(echo "$out" | grep -E '^engine |bt86:' | tr '\n' ' '))"
        rc=1
    fi
done
exit $rc
