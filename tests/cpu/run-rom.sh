#!/bin/sh
# tests/cpu/run-rom.sh - assemble each self-checking test ROM (tests/cpu/*.asm
# that includes lib.inc) with nasm and run it with
# `bt86 test rom --all-engines`: every engine of monitor/engine.h, results
# side by side. Each check of a ROM is one line
#   PASS rom/<rom>: <check>  <result per engine>
# led by the row's verdict: FAIL when the check failed on an engine, or when
# the engines that ran disagree. The last row of each ROM is its overall
# result (POST code 0xFF / PASS lines, how the machine stopped). An engine
# that cannot run here gives one "SKIP rom/<rom>.bin/<engine>: <why>" line.
# Environment: BT86_BIN (default ./bt86), BT86_ENGINES (the engines to run,
# default interp,bt,trap,kvm), BT86_ROM_ARGS (replaces "--engines LIST", e.g.
# "--engine interp" for the plain single-engine output).
ROOT=${BT86_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${BT86_BUILD:-build}
BIN=${BT86_BIN:-$ROOT/bt86}
OUT="$ROOT/$B/cpu"
mkdir -p "$OUT"
if ! command -v nasm >/dev/null 2>&1; then echo "SKIP cpu-roms: nasm is not installed (make deps)"; exit 0; fi
if [ ! -x "$BIN" ]; then echo "SKIP cpu-roms: $BIN not built (make bt86)"; exit 0; fi
ENGINES=${BT86_ENGINES:-interp,bt,trap,kvm}
rc=0
for src in "$ROOT"/tests/cpu/*.asm; do
    grep -q '%include "lib.inc"' "$src" || continue
    name=$(basename "$src" .asm)
    if ! nasm -f bin -I "$ROOT/tests/cpu/" -o "$OUT/$name.bin" "$src"; then
        echo "FAIL rom/$name: nasm failed"; rc=1; continue
    fi
    # shellcheck disable=SC2086
    out=$("$BIN" test rom ${BT86_ROM_ARGS:---engines $ENGINES} --timeout 60 "$OUT/$name.bin" 2>&1)
    status=$?
    echo "$out" | sed -n -e "s/^\(PASS\|FAIL\) \{1,\}/\1 rom\/$name: /p" -e '/^SKIP /p' -e '/^engine /p' -e '/^ \{6,\}check/p'
    if [ $status -ne 0 ]; then
        echo "FAIL rom/$name: did not pass on every engine (exit status $status; $(echo "$out" | grep -E '^engine |bt86:' | tr '\n' ' '))"
        rc=1
    fi
done
exit $rc
