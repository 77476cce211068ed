#!/bin/sh
# bench/run.sh BUILD_DIR - `make bench`: every benchmark, side by side.
#   1. bench/decode and bench/interp (the decoder's and the interpreter's speed);
#   2. bench/micro/run.py: the multiboot micro guest on every engine that can run
#      it, and on qemu-system-i386 TCG when installed (build/bench/micro.json);
#   3. bench/macro.py: the Linux guest (boot time, cpumix, osbench) natively, under
#      QEMU TCG when installed, and under bt86's engines (build/bench/macro.json);
#   4. bench/report.py: bench/RESULTS-latest.md and build/bench/results.png.
# Environment: BENCH_RUNS (runs per figure, default 3), BENCH_ENGINES (default
# interp,bt,trap,kvm for micro; bt,trap,interp for macro), BENCH_QUICK=1 (small
# scales, one run: a smoke test of the driver).
# Progress goes to stderr; each step says what it runs. See bench/README.md.
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
RUNS=${BENCH_RUNS:-3}
QUICK=
[ "${BENCH_QUICK:-0}" = 1 ] && QUICK=--quick && RUNS=1
rc=0
echo "== decoder (bench/decode.c)"
BT86_ROOT="$ROOT" "$B/bench/decode" --runs 5 | tail -1 || rc=1
echo "== interpreter (bench/interp.c)"
"$B/bench/interp" || rc=1
echo "== micro: trap-and-emulate vs translation costs (bench/micro)"
python3 bench/micro/run.py --engines "${BENCH_ENGINES:-interp,bt,trap,kvm}" --runs "$RUNS" $QUICK \
    --json "$B/bench/micro.json" || rc=1
echo "== macro: the Linux guest (bench/macro.py)"
python3 bench/macro.py --engines "${BENCH_MACRO_ENGINES:-bt,trap,interp}" --runs "$RUNS" $QUICK \
    --json "$B/bench/macro.json" || rc=1
echo "== report"
python3 bench/report.py --macro "$B/bench/macro.json" --micro "$B/bench/micro.json" \
    --out bench/RESULTS-latest.md --png "$B/bench/results.png" || rc=1
echo "bench: report in bench/RESULTS-latest.md, plot in $B/bench/results.png"
exit $rc
