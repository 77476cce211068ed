#!/bin/sh
# bench/run.sh BUILD_DIR - run the benchmarks that exist so far and print
# their figures (see bench/README.md for each one and bench/RESULTS.md for
# recorded results). The engine/peer comparison driver of issue 9 will grow
# from here.
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
echo "== decoder (bench/decode.c)"
BT86_ROOT="$ROOT" "$B/bench/decode" --runs 5 | tail -1
echo "== interpreter (bench/interp.c)"
"$B/bench/interp"
