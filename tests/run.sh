#!/bin/sh
# tests/run.sh BUILD_DIR [--quick] - run every bt86 test and count results.
#
# Runs each unit-test binary (BUILD_DIR/tests/test_*) and each test script
# tests/*/run-*.sh (suites, harnesses, boots). Every test prints lines
# "PASS name", "FAIL name[: why]" or "SKIP name: why". A program that exits
# non-zero without printing a FAIL line counts as one failure (a crash).
# --quick: only unit tests and tests/cpu (for the ASan build).
# Ends with the line "N passed, N failed".
B=${1:-build}
QUICK=0; [ "$2" = "--quick" ] && QUICK=1
export BT86_BUILD="$B"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export BT86_ROOT="$ROOT"
export BT86_SHARED="${BT86_SHARED:-$ROOT/../shared}"
[ -n "$ASAN" ] && export BT86_BIN="$ROOT/bt86-asan" || export BT86_BIN="$ROOT/bt86"
pass=0; fail=0; skip=0
log=$(mktemp)
run_one() {
    name=$1; shift
    echo "== $name"
    start=$(date +%s)
    timeout "${BT86_TEST_TIMEOUT:-1800}" "$@" >"$log" 2>&1
    rc=$?
    cat "$log"
    p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^SKIP ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exited with status $rc"; f=1
    fi
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
    echo "-- $name: $p passed, $f failed, $s skipped ($(( $(date +%s) - start )) s)"
}
for t in "$B"/tests/test_*; do
    [ -x "$t" ] || continue
    case "$t" in *.d|*.o) continue;; esac
    run_one "$(basename "$t")" "$t"
done
for s in "$ROOT"/tests/*/run-*.sh; do
    [ -f "$s" ] || continue
    if [ $QUICK = 1 ]; then case "$s" in */tests/cpu/*) ;; *) continue;; esac; fi
    run_one "$(basename "$(dirname "$s")")/$(basename "$s" .sh)" sh "$s"
done
rm -f "$log"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
