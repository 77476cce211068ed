#!/bin/sh
# tests/cpu/run-micro.sh - smoke check of the bench/micro guest (issue 9): assemble
# bench/micro/micro.asm and run it in quick mode on every engine bt86 accepts.
# For each test the guest must print a sane figure ("micro test=NAME ...
# cycles_per_iter=C" with 0 < C < 1e6 and, when the TSC was calibrated,
# 0 < ns_per_iter < 1e6), then "micro done", and exit through isa-debug-exit
# with 0 (bt86 status 1). Lines: "PASS micro/ENGINE/TEST", "FAIL ...",
# "SKIP micro/ENGINE: reason" when bt86 rejects the engine (status 2, e.g.
# "not implemented yet"), or for kvm when the host's KVM cannot start the guest.
# kvm on a host without VT-x/AMD-V (kvm_pvm here) may also stop part way with
# bt86's message (KVM's instruction emulator cannot run IRETD in protected
# mode): the tests it printed pass, the rest are SKIP with that message.
# Benchmark figures themselves come from bench/micro/run.py, not from here.
ROOT=${BT86_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${BT86_BUILD:-build}
BIN=${BT86_BIN:-$ROOT/bt86}
OUT="$ROOT/$B/bench/micro"
TESTS="alu call pushf cli in out cr3 pte pf de int80 sysenter"
if ! command -v nasm >/dev/null 2>&1; then echo "SKIP micro: nasm is not installed (make deps)"; exit 0; fi
mkdir -p "$OUT"
if ! nasm -f bin -I "$ROOT/bench/micro/" -o "$OUT/micro.bin" "$ROOT/bench/micro/micro.asm"; then
    echo "FAIL micro: nasm failed on bench/micro/micro.asm"; exit 1
fi
err=$(mktemp)
trap 'rm -f "$err"' EXIT
rc=0
for engine in interp bt trap kvm; do
    out=$(timeout 120 "$BIN" --kernel "$OUT/micro.bin" --engine $engine --serial stdio \
          --display none --no-reboot --append quick 2>"$err" </dev/null)
    status=$?
    msg=$(grep 'bt86:' "$err" | head -1)
    [ -n "$msg" ] || msg=$(head -1 "$err")
    if ! printf '%s\n' "$out" | grep -q '^micro start'; then
        if [ $status -eq 2 ] || [ $engine = kvm ]; then
            echo "SKIP micro/$engine: ${msg:-exit status $status}"
        else
            echo "FAIL micro/$engine: the guest did not start (exit status $status: $msg)"; rc=1
        fi
        continue
    fi
    done_ok=0
    if printf '%s\n' "$out" | grep -q '^micro done' && [ $status -eq 1 ]; then done_ok=1; fi
    kvm_stop=
    if [ $engine = kvm ] && [ $done_ok = 0 ] && [ $status -ne 124 ]; then
        kvm_stop=$(grep 'bt86:' "$err" | tail -1)
    fi
    for t in $TESTS; do
        line=$(printf '%s\n' "$out" | grep "^micro test=$t " | head -1)
        case "$line" in
        *skipped=no-paging*) echo "SKIP micro/$engine/$t: the CPU refused CR0.PG ($(printf '%s\n' "$out" | grep '^micro note' | head -1))"; continue;;
        *skipped=no-sep*) echo "SKIP micro/$engine/$t: CPUID reports no SYSENTER (or WRMSR faulted)"; continue;;
        *skipped=*) echo "SKIP micro/$engine/$t: ${line##*skipped=}"; continue;;
        esac
        if [ -z "$line" ] && [ -n "$kvm_stop" ]; then
            echo "SKIP micro/$engine/$t: $kvm_stop"; continue
        fi
        if printf '%s\n' "$line" | awk '
            { c = -1; n = 0; has_ns = 0
              for (i = 3; i <= NF; i++) {
                  split($i, kv, "=")
                  if (kv[1] == "cycles_per_iter") c = kv[2] + 0
                  if (kv[1] == "ns_per_iter") { n = kv[2] + 0; has_ns = 1 }
              }
              ok = c > 0 && c < 1e6 && (!has_ns || (n > 0 && n < 1e6)) }
            END { exit (NR == 1 && ok) ? 0 : 1 }'; then
            echo "PASS micro/$engine/$t"
        else
            echo "FAIL micro/$engine/$t: ${line:-no figure printed}"; rc=1
        fi
    done
    e=$(printf '%s\n' "$out" | grep '^micro error' | head -1)
    if [ -n "$e" ]; then echo "FAIL micro/$engine: $e"; rc=1; fi
    if [ $done_ok = 0 ] && [ -z "$kvm_stop" ]; then
        echo "FAIL micro/$engine: exit status $status, expected 1 after 'micro done'${msg:+ ($msg)}"; rc=1
    fi
done
exit $rc
