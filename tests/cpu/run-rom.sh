#!/bin/sh
# tests/cpu/run-rom.sh - assemble each self-checking test ROM (tests/cpu/*.asm
# that includes lib.inc) with nasm and run it with `bt86 test rom`, once per
# engine. Each check prints "PASS name"/"FAIL name"; a ROM that does not
# finish with POST code 0xFF counts as one more failure.
ROOT=${BT86_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${BT86_BUILD:-build}
BIN=${BT86_BIN:-$ROOT/bt86}
OUT="$ROOT/$B/cpu"
mkdir -p "$OUT"
if ! command -v nasm >/dev/null 2>&1; then echo "SKIP cpu-roms: nasm is not installed (make deps)"; exit 0; fi
rc=0
for src in "$ROOT"/tests/cpu/*.asm; do
    grep -q '%include "lib.inc"' "$src" || continue
    name=$(basename "$src" .asm)
    if ! nasm -f bin -I "$ROOT/tests/cpu/" -o "$OUT/$name.bin" "$src"; then
        echo "FAIL rom/$name: nasm failed"; rc=1; continue
    fi
    for engine in interp; do
        out=$("$BIN" test rom --engine $engine --timeout 60 "$OUT/$name.bin" 2>&1)
        status=$?
        echo "$out" | sed -n "s/^\(PASS\|FAIL\) \(.*\)/\1 rom\/$name\/$engine\/\2/p"
        if [ $status -ne 0 ]; then
            echo "FAIL rom/$name/$engine: did not report success ($(echo "$out" | grep -E 'stopped|bt86:' | tr '\n' ' '))"
            rc=1
        fi
    done
done
exit $rc
