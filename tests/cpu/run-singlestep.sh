#!/bin/sh
# tests/cpu/run-singlestep.sh - the SingleStepTests 80286 real-mode suite.
#
# Two passes of `bt86 test singlestep` over
# ../shared/testdata/singlesteptests-80286/v1_real_mode:
#  1. the whole suite (383,000 vectors) on the interpreter, the reference:
#     one "PASS ss/<file>" or "FAIL ss/<file>: ..." line per MOO file, the
#     per-rule exclusion counts and the closing "N passed, N failed, N
#     excluded" line (vectors);
#  2. the first BT86_SS_ENGINE_LIMIT (default 20) vectors of every file on
#     every engine (--engines, default interp,bt,trap,kvm), side by side: one
#     row per file, "PASS ss-engines/<file>: <result per engine>", FAIL when a
#     vector failed on an engine or the engines disagree; "SKIP
#     ss-engines/<engine>: <why>" for an engine that cannot run here.
#     (A single step costs far more on a translator than on the interpreter,
#     so the full suite per engine is `make`-free: run it by hand with
#     BT86_SS_ARGS="--engine bt".)
# Prints one SKIP line if the data or the binary is absent.
# Environment: BT86_BIN (default ./bt86), BT86_SHARED (default ../shared),
# BT86_SS_ARGS (extra options for pass 1, e.g. "-v" or "--engine bt"),
# BT86_ENGINES (pass 2's engines; empty: no pass 2), BT86_SS_ENGINE_LIMIT.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BT86_BIN:-$ROOT/bt86}
SHARED=${BT86_SHARED:-$ROOT/../shared}
DATA=$SHARED/testdata/singlesteptests-80286/v1_real_mode
if [ ! -d "$DATA" ]; then
    echo "SKIP ss: SingleStepTests data not found at $DATA (set BT86_SHARED)"
    exit 0
fi
if [ ! -x "$BIN" ]; then
    echo "SKIP ss: $BIN not built (make bt86)"
    exit 0
fi
# shellcheck disable=SC2086
"$BIN" test singlestep "$DATA" --no-progress $BT86_SS_ARGS
rc=$?
# 0: all passed; 1: some vector or file failed (FAIL lines printed);
# anything else is a usage error or crash with no FAIL line: make it one.
if [ $rc -gt 1 ]; then
    echo "FAIL ss: bt86 test singlestep exited with status $rc"
fi

ENGINES=${BT86_ENGINES-interp,bt,trap,kvm}
[ -n "$ENGINES" ] || exit $rc
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$BIN" test singlestep "$DATA" --no-progress --engines "$ENGINES" --limit "${BT86_SS_ENGINE_LIMIT:-20}" >"$out" 2>&1
rc2=$?
sed -n -e 's#^\(PASS\|FAIL\) \{1,\}ss/\([^ ]*\) \{1,\}#\1 ss-engines/\2: #p' \
       -e 's#^SKIP ss/#SKIP ss-engines/#p' \
       -e '/^ \{6,\}test /p' -e '/^ \{6,\}engines differ/p' -e '/^engine /p' "$out"
if [ $rc2 -ne 0 ]; then
    grep -q '^FAIL ' "$out" || echo "FAIL ss-engines: bt86 test singlestep --engines $ENGINES exited with status $rc2"
    [ $rc -eq 0 ] && rc=1
fi
exit $rc
