#!/bin/bash
# boot-qemu.sh - boots the reference guest (scripts/make-guest.sh) non-interactively and drives
# its serial console: waits for the shell prompt, types each command of a command script,
# prints each answer, checks the disk checksums against build/guest/disk.sha256 and ends with
# `poweroff -f`. Reports the wall time from start to the prompt. The emulator is QEMU TCG by
# default (qemu-system-i386 from the Debian package qemu-system-x86: a check and a peer for
# benchmarks only, never a runtime dependency of bt86); --emulator runs anything else that puts
# the guest's serial console on its stdin/stdout (bt86), so both are driven the same way.
#
# Usage: scripts/boot-qemu.sh [options]
#   -f, --flavour F     686 (default) or 686-pae
#   -c, --commands FILE guest shell commands, one a line ('#' lines skipped); default: uname -a,
#                       cpuinfo family/flags, the mount, the disk checksums; poweroff -f is added
#   -n, --runs N        boot N times; print each time to the prompt and the median
#   -a, --append ARGS   extra kernel command line (after console=ttyS0; ARGS with a console=
#                       of its own replace console=ttyS0: keep a console=ttyS0 in them last)
#   -t, --timeout S     seconds allowed for the prompt and for each command (default 120 / 60)
#   -d, --disk FILE     boot this disk image in place (default: a scratch copy of disk.img)
#   -l, --log FILE      keep the serial log of the (last) run
#   -e, --emulator CMD  command line with placeholders {kernel} {initrd} {disk} {append}
#                       (each a whole word), e.g. './bt86 --kernel {kernel} --initrd {initrd}
#                       --append {append} --hda {disk}'
#   --bt86 [ENGINE]     shorthand: ./bt86 with the same machine (-m 128, --serial stdio,
#                       --display none, --no-reboot), --engine ENGINE when given (interp, bt...)
#   -q, --quiet         print only the answers and the summary
# Exit status: 0 when the prompt came, every command answered, checksums matched and the
# emulator ended by itself after poweroff -f; 1 otherwise.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # `sh script` works too
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
guest="${GUEST_DIR:-$root/build/guest}"

flavour=686
cmdfile=""
runs=1
extra=""
prompt_timeout=120
cmd_timeout=60
disk_in=""
keep_log=""
emulator=""
quiet=0

usage() { sed -n '/^# Usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        -f|--flavour)  flavour="$2"; shift 2 ;;
        -c|--commands) cmdfile="$2"; shift 2 ;;
        -n|--runs)     runs="$2"; shift 2 ;;
        -a|--append)   extra="$2"; shift 2 ;;
        -t|--timeout)  prompt_timeout="$2"; cmd_timeout="$2"; shift 2 ;;
        -d|--disk)     disk_in="$2"; shift 2 ;;
        -l|--log)      keep_log="$2"; shift 2 ;;
        -e|--emulator) emulator="$2"; shift 2 ;;
        --bt86)
            emulator="$root/bt86 -m 128 --kernel {kernel} --initrd {initrd} --append {append}"
            emulator="$emulator --hda {disk} --serial stdio --display none --no-reboot"
            shift
            case "${1:-}" in ''|-*) ;; *) emulator="$emulator --engine $1"; shift ;; esac ;;
        -q|--quiet)    quiet=1; shift ;;
        -h|--help)     usage ;;
        *) echo "boot-qemu: unknown option $1" >&2; usage ;;
    esac
done

say()  { [ "$quiet" = 1 ] || echo "boot-qemu: $*"; }
fail() { echo "boot-qemu: FAIL: $*"; }
die()  { echo "boot-qemu: error: $*" >&2; exit 1; }

kernel="$guest/vmlinuz-$flavour"
initrd="$guest/initrd-$flavour.gz"
for f in "$kernel" "$initrd" "$guest/disk.img" "$guest/disk.sha256"; do
    [ -s "$f" ] || die "$f is missing: run scripts/make-guest.sh (make guest) first"
done
case "$runs" in ''|*[!0-9]*|0) die "--runs wants a positive number, not '$runs'" ;; esac
if [ -z "$emulator" ] && ! command -v qemu-system-i386 >/dev/null 2>&1; then
    die "qemu-system-i386 not found: apt-get install qemu-system-x86 (for this check only)"
fi

# the command script
cmds=()
if [ -n "$cmdfile" ]; then
    [ -r "$cmdfile" ] || die "cannot read command script $cmdfile"
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in ''|'#'*) continue ;; esac
        [ "$line" = "poweroff -f" ] && continue
        cmds+=("$line")
    done < "$cmdfile"
else
    cmds=("uname -a"
          "grep -E '^(cpu family|model name|flags)' /proc/cpuinfo"
          "grep ' /mnt ' /proc/mounts"
          "sha256sum $(awk '{print $2}' "$guest/disk.sha256" | tr '\n' ' ')")
fi
disk_check_cmd="sha256sum $(awk '{print $2}' "$guest/disk.sha256" | tr '\n' ' ')"

work="$(mktemp -d "${TMPDIR:-/tmp}/boot-qemu.XXXXXX")" || die "mktemp failed"
emu_pid=""
cleanup() {
    [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }

# wait until fixed string $1 is in the log, the emulator ends, or $2 seconds pass
wait_for() {
    local pat="$1" deadline=$(( $(date +%s) + $2 ))
    while :; do
        grep -qF -- "$pat" "$log" 2>/dev/null && return 0
        kill -0 "$emu_pid" 2>/dev/null || { grep -qF -- "$pat" "$log" && return 0; return 2; }
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.02
    done
}

# the log without carriage returns, from line BEGIN marker to END marker of command $1
answer_of() {
    tr -d '\r' < "$log" | awk -v b="@@BT86-BEGIN $1@@" -v e="@@BT86-END $1 " '
        index($0, e) { exit }
        on { print }
        index($0, b) { on = 1 }'
}

one_run() {  # $1 = run number; sets prompt_time; returns 0 when everything passed
    local run="$1" disk ok=0 i t0 t1 rc st
    log="$work/serial-$run.log"
    : > "$log"
    if [ -n "$disk_in" ]; then
        disk="$disk_in"
    else
        disk="$work/disk.img"
        cp "$guest/disk.img" "$disk" || die "cannot copy disk.img to $disk"
    fi
    local append="console=ttyS0${extra:+ $extra}"
    case " $extra" in *" console="*) append="$extra" ;; esac
    local argv=()
    if [ -n "$emulator" ]; then
        local w
        for w in $emulator; do
            case "$w" in
                "{kernel}") argv+=("$kernel") ;;
                "{initrd}") argv+=("$initrd") ;;
                "{disk}")   argv+=("$disk") ;;
                "{append}") argv+=("$append") ;;
                *)          argv+=("$w") ;;
            esac
        done
    else
        argv=(qemu-system-i386 -accel tcg -cpu pentium2 -m 128
              -kernel "$kernel" -initrd "$initrd" -append "$append"
              -drive "file=$disk,format=raw,if=ide" -nographic -no-reboot)
    fi
    [ "$run" = 1 ] && say "running: ${argv[*]}"

    mkfifo "$work/in" || die "mkfifo failed"
    t0="$(now_ns)"
    "${argv[@]}" < "$work/in" > "$log" 2>&1 &
    emu_pid=$!
    exec {in_fd}>"$work/in"      # keeps the console's input open until we close it
    rm -f "$work/in"

    wait_for "bt86:/# " "$prompt_timeout"; rc=$?
    t1="$(now_ns)"
    if [ "$rc" != 0 ]; then
        [ "$rc" = 1 ] && fail "no shell prompt within ${prompt_timeout} s" ||
            fail "the emulator ended before the shell prompt"
        { tr -d '\r' < "$log" | tail -n 25; echo; } | sed 's/^/  | /'
        ok=1
    else
        prompt_time="$(secs "$t0" "$t1")"
        say "shell prompt after $prompt_time s (run $run)"
        i=0
        for c in "${cmds[@]}"; do
            i=$((i + 1))
            # markers split by quotes, so the tty's echo of the typed line never matches them
            printf '%s\n' "echo \"@@BT86-BEGIN $i\"'@@'; $c; echo \"@@BT86-END $i\"\" \$?@@\"" >&"$in_fd"
            if ! wait_for "@@BT86-END $i " "$cmd_timeout"; then
                fail "no answer to '$c' within ${cmd_timeout} s"
                { tr -d '\r' < "$log" | tail -n 10; echo; } | sed 's/^/  | /'
                ok=1
                break
            fi
            st="$(tr -d '\r' < "$log" | sed -n "s/.*@@BT86-END $i \([0-9]*\)@@.*/\1/p" | head -n1)"
            if [ "$quiet" = 0 ] || [ "$run" = "$runs" ]; then
                echo "\$ $c${st:+   [status $st]}"
                answer_of "$i"
            fi
            if [ "$c" = "$disk_check_cmd" ]; then
                if [ "$(answer_of "$i")" = "$(cat "$guest/disk.sha256")" ]; then
                    say "disk checksums match the host's"
                else
                    fail "disk checksums differ from $guest/disk.sha256"
                    ok=1
                fi
            fi
        done
        printf 'poweroff -f\n' >&"$in_fd"
    fi
    exec {in_fd}>&-
    local deadline=$(( $(date +%s) + 30 ))
    [ -z "$prompt_time" ] && deadline=0     # no prompt: no poweroff was typed, stop it now
    while kill -0 "$emu_pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.05; done
    if kill -0 "$emu_pid" 2>/dev/null; then
        [ -n "$prompt_time" ] && fail "the emulator did not end within 30 s of poweroff -f; killing it"
        kill "$emu_pid" 2>/dev/null
        wait "$emu_pid" 2>/dev/null
        ok=1
    else
        wait "$emu_pid"; rc=$?
        say "emulator ended with status $rc after $(secs "$t0" "$(now_ns)") s"
        [ "$rc" = 0 ] || ok=1
    fi
    emu_pid=""
    [ -n "$keep_log" ] && tr -d '\r' < "$log" > "$keep_log"
    return "$ok"
}

times=()
status=0
for r in $(seq 1 "$runs"); do
    prompt_time=""
    one_run "$r" || status=1
    [ -n "$prompt_time" ] && times+=("$prompt_time")
done
if [ "$runs" -gt 1 ] && [ "${#times[@]}" -gt 0 ]; then
    med="$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END {
        if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }')"
    echo "boot-qemu: time to prompt ($flavour): ${times[*]} s; median $med s"
fi
if [ "$status" = 0 ]; then
    echo "boot-qemu: PASS ($flavour, $runs run(s), prompt after ${times[*]} s)"
else
    echo "boot-qemu: FAILED ($flavour)"
fi
exit "$status"
