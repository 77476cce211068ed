#!/bin/sh
# tests/cpu/run-singlestep.sh - the SingleStepTests 80286 real-mode suite.
#
# Runs `bt86 test singlestep` on ../shared/testdata/singlesteptests-80286/
# v1_real_mode and forwards its output: one "PASS ss/<file>" or
# "FAIL ss/<file>: ..." line per MOO file (tests/run.sh counts those), the
# per-rule exclusion counts and the closing "N passed, N failed, N excluded"
# line (vectors). Prints one SKIP line if the data or the binary is absent.
# Environment: BT86_BIN (default ./bt86), BT86_SHARED (default ../shared),
# BT86_SS_ARGS (extra options, e.g. "-v" or "--engine bt").
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
exit $rc
