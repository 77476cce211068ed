#!/bin/sh
# tests/cpu/run-check.sh - bt's --check (each translated block run in
# lockstep with the interpreter, registers, flags less the undefined ones,
# memory and x87 compared) over the self-checking test kernels (pm_*.asm).
# A kernel passes when it reports no failure on port 0xE9, exits through
# port 0xF4 with 0 (bt86 status 1) and --stats says blocks were compared
# without divergence. Lines: "PASS check/KERNEL" or "FAIL check/KERNEL: why".
ROOT=${BT86_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${BT86_BUILD:-build}
BIN=${BT86_BIN:-$ROOT/bt86}
OUT="$ROOT/$B/cpu"
mkdir -p "$OUT"
if ! command -v nasm >/dev/null 2>&1; then echo "SKIP check: nasm is not installed (make deps)"; exit 0; fi
if [ ! -x "$BIN" ]; then echo "SKIP check: $BIN not built (make bt86)"; exit 0; fi
err=$(mktemp)
trap 'rm -f "$err"' EXIT
rc=0
for src in "$ROOT"/tests/cpu/pm_*.asm; do
    name=$(basename "$src" .asm)
    if ! nasm -f bin -I "$ROOT/tests/cpu/" -o "$OUT/check-$name.bin" "$src"; then
        echo "FAIL check/$name: nasm failed"; rc=1; continue
    fi
    timeout 120 "$BIN" --engine bt --check --stats --kernel "$OUT/check-$name.bin" --display none \
        --serial none --debugcon --no-reboot >/dev/null 2>"$err" </dev/null
    status=$?
    compared=$(sed -n 's/^bt86: --check: \([0-9]*\) blocks compared with the interpreter, no divergence$/\1/p' "$err")
    if grep -q 'diverge in the block' "$err"; then
        echo "FAIL check/$name: $(grep -m1 'diverge in the block' "$err")"
        sed -n '/differences after the block/,$p' "$err" | head -8; rc=1
    elif grep -q '^FAIL ' "$err"; then
        echo "FAIL check/$name: $(grep -m1 '^FAIL ' "$err") (under --check)"; rc=1
    elif [ "$status" -ne 1 ] || [ -z "$compared" ] || [ "$compared" -eq 0 ]; then
        echo "FAIL check/$name: exit status $status, blocks compared: ${compared:-none} ($(tail -1 "$err"))"; rc=1
    else
        echo "PASS check/$name ($compared blocks compared)"
    fi
done
exit $rc
