#!/bin/sh
# tests/cpu/run-diff.sh - short fixed-seed differential campaigns
# (`bt86 test diff`) on every engine pair this machine can run:
#   interp,host   the interpreter against the real CPU (five campaigns: mixed
#                 sequences of up to 8 instructions and long ones of 16 through
#                 interp_run(), the machine's path; single instructions and
#                 mixed sequences through interp_step(); and mixed ones through
#                 engine_run(), the path every other engine is driven by)
#   bt,interp     the translator against the interpreter: user-level mixed
#                 and long sequences, CPL 0 ones with privileged
#                 instructions (--level system), 16-bit code (--code 16)
#                 at CPL 3 and at CPL 0
#   trap,interp   the same for the translator in trap mode
#   kvm,interp    the same for /dev/kvm (fewer sequences: slower here)
# plus a self-test: a planted divergence (BT86_DIFF_SELFTEST) must be found,
# shrunk and reported, or the harness itself is broken.
# About a minute in all on these machines. Each campaign prints one line
# that tests/run.sh counts:
#   PASS diff/<pair>/<name>: N sequences            no divergence, or only known ones
#   FAIL diff/<pair>/<name>: <kind> (re-run: ...)   a divergence not listed below
#   SKIP diff/<pair>/<name>: <why>                  an engine cannot run here, or
#                                                   a KNOWN open bug
# Known open bugs are the divergence kinds in KNOWN below, each one written up
# with its reproducer in docs/interp-bugs.md. They are reported as SKIP lines
# with their counts (never hidden); when a bug is fixed, delete its line here.
# Environment: BT86_BIN (default ./bt86), BT86_DIFF_ARGS (extra options),
# ASAN (set by `make asan`: a tenth of the sequences).
# `run-diff.sh --long` (make diff-long): the same campaigns with ten times
# the sequences (BT86_DIFF_SCALE) and seeds shifted by SEED (default 100).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BT86_BIN:-$ROOT/bt86}
if [ ! -x "$BIN" ]; then
    echo "SKIP diff: $BIN not built (make bt86)"
    exit 0
fi
# "pair|kind prefix|bug" - pair is like interp,host; a kind is the text
# before " (first:" in the report's "divergences by kind" list.
KNOWN=''

out=$(mktemp)
trap 'rm -f "$out" "$out.kinds"' EXIT
status=0
# campaign PAIR NAME [bt86 test diff options]
campaign() {
    pair=$1; name="$(echo "$1" | tr , -)/$2"; shift 2
    if [ -n "$LONG" ]; then
        # --long: scale --count, shift --seed
        args=""
        while [ $# -gt 0 ]; do
            case "$1" in
            --count) args="$args --count $(($2 * m))"; shift 2;;
            --seed) args="$args --seed $(($2 + o))"; shift 2;;
            *) args="$args $1"; shift;;
            esac
        done
        # shellcheck disable=SC2086
        set -- $args
    fi
    # shellcheck disable=SC2086
    "$BIN" test diff --engines "$pair" --no-progress "$@" $BT86_DIFF_ARGS >"$out" 2>&1
    rc=$?
    if grep -q '^SKIP ' "$out"; then
        sed -n 's|^SKIP diff: |SKIP diff/'"$name"': |p' "$out"
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
            bug=$(echo "$KNOWN" | while IFS='|' read -r kpair pfx why; do
                [ "$kpair" = "$pair" ] || continue
                case "$kind" in "$pfx"*) echo "$why"; break;; esac
            done)
            if [ -n "$bug" ]; then
                echo "SKIP diff/$name: $count x '$kind': known open $bug (re-run: $rerun)"
            else
                echo "FAIL diff/$name: $count x '$kind' (re-run: bt86 test diff --engines $pair $rerun -v)"
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
        nskip=$(echo "$summary" | awk '{ print $5 }')
        extra=""
        [ "$nskip" -gt 0 ] && extra=", $nskip skipped (an engine stopped with EXIT_UNIMPL: see the report)"
        if [ "$nfail" -gt 0 ]; then
            echo "PASS diff/$name: $seqs sequences, none diverged except $nfail of the known open bugs (SKIP lines)$extra"
        else
            echo "PASS diff/$name: $seqs sequences, none diverged$extra"
        fi
    else
        status=1
    fi
}

# The harness checks itself: every sequence holding a 0F byte gets a
# corrupted EAX on side A; the run must fail, and its first reproducer must
# be shrunk to a few instructions that still hold the byte.
selftest() {
    BT86_DIFF_SELFTEST=0f "$BIN" test diff --engines interp,host --no-progress --seed 3 --count 300 >"$out" 2>&1
    rc=$?
    if grep -q '^SKIP ' "$out"; then
        sed -n 's|^SKIP diff: |SKIP diff/selftest: |p' "$out"
        return
    fi
    first=$(grep -m1 '^DIVERGED' "$out")
    bytes=$(grep -m1 '^  bytes: ' "$out" | sed 's/^  bytes: //')
    nbytes=$(echo "$bytes" | wc -w)
    if [ $rc -eq 1 ] && echo "$first" | grep -q 'shrunk: eax: ' && echo " $bytes " | grep -q ' 0f ' &&
       [ "$nbytes" -le 24 ]; then
        echo "PASS diff/selftest: a planted divergence was found, shrunk to $nbytes bytes and reported"
    else
        echo "FAIL diff/selftest: the planted divergence was not reported as expected (exit $rc; $first; bytes: $bytes)"
        status=1
    fi
}

# sanitizer builds (ASAN=1, `make asan`) run a tenth of the sequences;
# --long (make diff-long) ten times as many, with other seeds (SEED adds to
# every campaign's seed; BT86_DIFF_SCALE sets the factor)
d=1; [ -n "$ASAN" ] && d=10
LONG=""; [ "$1" = "--long" ] && LONG=1
m=${BT86_DIFF_SCALE:-10}
o=${SEED:-100}
campaign interp,host mixed      --seed 1 --count $((200000 / d))
campaign interp,host long       --seed 2 --count $((50000 / d)) --groups 16
campaign interp,host single     --seed 3 --count $((100000 / d)) --groups 1 --interp-mode step
campaign interp,host mixed-step --seed 4 --count $((100000 / d)) --interp-mode step
campaign interp,host engine     --seed 5 --count $((50000 / d)) --interp-mode engine
for e in bt trap; do
    campaign $e,interp mixed    --seed 11 --count $((100000 / d))
    campaign $e,interp long     --seed 12 --count $((30000 / d)) --groups 16
    campaign $e,interp system   --seed 13 --count $((50000 / d)) --level system
    campaign $e,interp code16   --seed 14 --count $((40000 / d)) --code 16
    campaign $e,interp sys16    --seed 15 --count $((20000 / d)) --code 16 --level system
done
# /dev/kvm runs a few thousand sequences a second here (an exit per case)
campaign kvm,interp mixed       --seed 11 --count $((20000 / d))
campaign kvm,interp long        --seed 12 --count $((5000 / d)) --groups 16
campaign kvm,interp system      --seed 13 --count $((10000 / d)) --level system
campaign kvm,interp code16      --seed 14 --count $((5000 / d)) --code 16
selftest
exit $status
