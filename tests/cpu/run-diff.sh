#!/bin/sh
# tests/cpu/run-diff.sh - short fixed-seed differential campaigns, the
# interpreter against the real CPU (`bt86 test diff --engines interp,host`).
#
# Four campaigns (about 20 s together): mixed sequences of up to 8
# instructions and long ones (16) through interp_run() (decoded blocks, the
# machine's path), single instructions and mixed sequences through
# interp_step(). Each prints one line that tests/run.sh counts:
#   PASS diff/<name>: N sequences            no divergence, or only known ones
#   FAIL diff/<name>: <kind> (N sequences)   a divergence not listed below
#   SKIP diff/<name>: <why>                  the host engine cannot run here,
#                                            or a KNOWN open interpreter bug
# Known open bugs are the divergence kinds in KNOWN below, each one written up
# with its reproducer in docs/interp-bugs.md. They are reported as SKIP lines
# with their counts (never hidden); when a bug is fixed, delete its line here.
# Environment: BT86_BIN (default ./bt86), BT86_DIFF_ARGS (extra options),
# ASAN (set by `make asan`: a tenth of the sequences).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BT86_BIN:-$ROOT/bt86}
if [ ! -x "$BIN" ]; then
    echo "SKIP diff: $BIN not built (make bt86)"
    exit 0
fi
# "kind prefix|bug" - a kind is the text before " (first:" in the report's
# "divergences by kind" list.
KNOWN=''

out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
campaign() {
    name=$1; shift
    # shellcheck disable=SC2086
    "$BIN" test diff --engines interp,host --no-progress "$@" $BT86_DIFF_ARGS >"$out" 2>&1
    rc=$?
    if grep -q '^SKIP ' "$out"; then
        sed -n 's/^SKIP diff: /SKIP diff\/'"$name"': /p' "$out"
        return
    fi
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
    if [ -z "$summary" ] || [ $rc -gt 1 ]; then
        echo "FAIL diff/$name: bt86 test diff exited with status $rc"
        tail -5 "$out"
        status=1
        return
    fi
    seqs=$(echo "$summary" | awk '{ print $1 + $3 + $5 }')
    unknown=0
    # each kind line: "  <count>  <kind> (first: --seed S --count 1 ...)"
    kinds=$(awk '/^divergences by kind/ { on = 1; next } on && /^ +[0-9]+  / { print; next } on { on = 0 }' "$out")
    if [ -n "$kinds" ]; then
        echo "$kinds" | while IFS= read -r line; do
            count=$(echo "$line" | awk '{ print $1 }')
            kind=$(echo "$line" | sed 's/^ *[0-9]*  //; s/ (first:.*$//')
            rerun=$(echo "$line" | sed -n 's/^.*(first: \(.*\))$/\1/p')
            bug=$(echo "$KNOWN" | while IFS='|' read -r pfx why; do
                case "$kind" in "$pfx"*) echo "$why"; break;; esac
            done)
            if [ -n "$bug" ]; then
                echo "SKIP diff/$name: $count x '$kind': known open $bug (re-run: $rerun)"
            else
                echo "FAIL diff/$name: $count x '$kind' (re-run: bt86 test diff --engines interp,host $rerun -v)"
            fi
        done >"$out.kinds"
        cat "$out.kinds"
        if grep -q '^FAIL ' "$out.kinds"; then
            unknown=1
            # the first reproducer of each kind, for the log
            sed -n '/^DIVERGED/,/^divergences by kind/p' "$out" | head -60
        fi
        rm -f "$out.kinds"
    fi
    if [ $unknown = 0 ]; then
        nfail=$(echo "$summary" | awk '{ print $3 }')
        if [ "$nfail" -gt 0 ]; then
            echo "PASS diff/$name: $seqs sequences, none diverged except $nfail of the known open bugs (SKIP lines)"
        else
            echo "PASS diff/$name: $seqs sequences, none diverged"
        fi
    else
        status=1
    fi
}
# sanitizer builds (ASAN=1, `make asan`) run a tenth of the sequences
d=1; [ -n "$ASAN" ] && d=10
campaign mixed      --seed 1 --count $((200000 / d))
campaign long       --seed 2 --count $((50000 / d)) --groups 16
campaign single     --seed 3 --count $((100000 / d)) --groups 1 --interp-mode step
campaign mixed-step --seed 4 --count $((100000 / d)) --interp-mode step
exit $status
