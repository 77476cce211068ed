#!/usr/bin/env python3
"""bench/micro/run.py - run the micro guest (bench/micro/micro.asm) on bt86's
engines and on QEMU, and compare.

Assembles micro.asm into BUILD/bench/micro/micro.bin (a Multiboot v1 kernel,
a.out kludge), runs it --runs times on each engine:
    bt86 --kernel micro.bin --engine E --serial stdio --display none --no-reboot
    qemu-system-i386 -accel tcg -kernel micro.bin -device isa-debug-exit,...
takes the median of the runs per test, flags a test as noisy when its runs
spread by more than --noise (relative to the median), writes
BUILD/bench/micro.json and prints the tables side by side.

An engine bt86 rejects (exit status 2 before the guest starts, e.g. "not
implemented yet") or that QEMU cannot run is reported as skipped with its
one-line message. Every run has a timeout: nothing here can hang.

JSON layout: {engine: {test: {"cycles": C, "ns": T, "noisy": bool,
"runs_cycles": [...], "runs_ns": [...], "min_cycles": C, "min_ns": T,
"iters": N}}, "_skipped": {engine: reason}, "_stopped": {...}, "_failed":
{...}, "_meta": {...}}. "cycles" and "ns" are medians over the runs. Keys starting with "_" are not engines. Cycles are
TSC ticks of the guest: under bt86 a 1 GHz virtual TSC (so cycles = ns);
under QEMU TCG the host's TSC. Compare engines by ns.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TESTS = ["alu", "call", "pushf", "cli", "in", "out", "cr3", "pte", "pf", "de",
         "int80", "sysenter"]
BT86_ENGINES = ("interp", "bt", "trap", "kvm")
QEMU_ENGINES = ("qemu-tcg", "qemu-kvm")
LINE = re.compile(r"^micro test=(\S+)((?: \S+=\S+)*)\s*$")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def assemble(build):
    out_dir = os.path.join(ROOT, build, "bench", "micro")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "micro.bin")
    if not shutil.which("nasm"):
        sys.exit("run.py: nasm is not installed (make deps installs it)")
    src = os.path.join(HERE, "micro.asm")
    r = subprocess.run(["nasm", "-f", "bin", "-I", HERE + "/", "-o", out, src],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("run.py: nasm failed on %s:\n%s" % (src, r.stderr.strip()))
    return out


def command(engine, kernel, append, bt86):
    if engine in BT86_ENGINES:
        return [bt86, "--kernel", kernel, "--engine", engine, "--serial", "stdio",
                "--display", "none", "--no-reboot", "--append", append]
    accel = "tcg" if engine == "qemu-tcg" else "kvm"
    return ["qemu-system-i386", "-accel", accel, "-kernel", kernel, "-append", append,
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-serial", "stdio",
            "-display", "none", "-monitor", "none", "-no-reboot", "-m", "128"]


def parse(stdout):
    """micro lines -> ({test: {key: value}}, done, error line or None)"""
    tests, done, error = {}, False, None
    for line in stdout.splitlines():
        line = line.strip()
        if line == "micro done":
            done = True
        elif line.startswith("micro error"):
            error = line
        m = LINE.match(line)
        if m:
            fields = dict(kv.split("=", 1) for kv in m.group(2).split())
            tests[m.group(1)] = fields
    return tests, done, error


def first_message(text):
    """the one-line reason: the guest's error, else bt86's or QEMU's message
    (QEMU's warnings last)"""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for want in (lambda l: l.startswith("micro error"), lambda l: l.startswith("bt86:"),
                 lambda l: "qemu-system" in l and "warning:" not in l, lambda l: True):
        for l in lines:
            if want(l):
                return l
    return "no message"


def status_text(rc):
    if rc < 0:
        try:
            return "killed by %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit status %d" % rc


def run_once(engine, kernel, append, bt86, timeout):
    """-> ("ok", tests) | ("skip", reason) | ("fail", reason, tests)"""
    cmd = command(engine, kernel, append, bt86)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        tests, _, _ = parse(out)
        return ("fail", "timed out after %g s" % timeout, tests)
    except OSError as e:
        return ("skip", "%s: %s" % (cmd[0], e.strerror))
    tests, done, error = parse(r.stdout)
    started = "micro start" in r.stdout
    if not started:
        # rejected before the guest ran: bt86 says why and exits 2 (e.g. "not
        # implemented yet"); a KVM that cannot run 32-bit paged code here
        # stops before "micro start" too. Anything else is a failure.
        if r.returncode == 2 or engine in ("kvm", "qemu-kvm"):
            return ("skip", first_message(r.stderr + r.stdout))
        return ("fail", "the guest did not start, %s (%s)"
                % (status_text(r.returncode), first_message(r.stderr + r.stdout)), tests)
    if error:
        return ("fail", error, tests)
    if not done or r.returncode != 1:
        return ("fail", "%s%s (%s)" % (status_text(r.returncode), "" if done else ", no 'micro done'",
                                       first_message(r.stderr)), tests)
    return ("ok", tests)


def summarize(runs, noise):
    """per test: median over runs, noisy flag"""
    result = {}
    for t in TESTS:
        cyc = [float(r[t]["cycles_per_iter"]) for r in runs if t in r and "cycles_per_iter" in r[t]]
        ns = [float(r[t]["ns_per_iter"]) for r in runs if t in r and "ns_per_iter" in r[t]]
        if not cyc:
            continue
        med = statistics.median(cyc)
        noisy = len(cyc) > 1 and med > 0 and (max(cyc) - min(cyc)) / med > noise
        result[t] = {"cycles": round(med, 2), "ns": round(statistics.median(ns), 2) if ns else None,
                     "noisy": noisy, "runs_cycles": cyc, "runs_ns": ns,
                     "min_cycles": min(cyc), "min_ns": min(ns) if ns else None,
                     "iters": int(next(r[t]["iters"] for r in runs if t in r and "iters" in r[t]))}
    return result


def table(results, engines, key, title):
    cols = [e for e in engines if results.get(e)]
    if not cols:
        return
    w = max(10, max(len(c) for c in cols) + 1)
    print(title)
    print("%-9s" % "test" + "".join("%*s" % (w, c) for c in cols))
    for t in TESTS:
        row = "%-9s" % t
        for c in cols:
            v = results[c].get(t)
            if not v or v[key] is None:
                cell = "-"
            else:
                cell = "%.2f%s" % (v[key], "*" if v["noisy"] else "")
            row += "%*s" % (w, cell)
        print(row)


def main():
    ap = argparse.ArgumentParser(description="trap-and-emulate vs translation micro benchmarks (issue 9)")
    ap.add_argument("--engines", default="interp,bt,trap,kvm",
                    help="comma list of bt86 engines (interp,bt,trap,kvm) and qemu-tcg, qemu-kvm")
    ap.add_argument("--no-qemu", action="store_true", help="do not add qemu-tcg when it is installed")
    ap.add_argument("--runs", type=int, default=3, help="runs per engine (median), default 3")
    ap.add_argument("--quick", action="store_true", help="few iterations (a smoke run)")
    ap.add_argument("--iters", type=int, help="loop iterations per batch for the guest (iters=N)")
    ap.add_argument("--batches", type=int, help="batches per test for the guest (batches=B, 1..15)")
    ap.add_argument("--timeout", type=float, default=120, help="seconds per run (default 120)")
    ap.add_argument("--noise", type=float, default=0.10,
                    help="flag a test when (max-min)/median of its runs exceeds this (default 0.10)")
    ap.add_argument("--build", default=os.environ.get("BT86_BUILD", "build"), help="build directory")
    ap.add_argument("--bt86", default=os.environ.get("BT86_BIN", os.path.join(ROOT, "bt86")))
    ap.add_argument("--json", help="output file (default BUILD/bench/micro.json)")
    a = ap.parse_args()
    if a.runs < 1:
        ap.error("--runs must be at least 1")

    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    for e in engines:
        if e not in BT86_ENGINES + QEMU_ENGINES:
            ap.error("unknown engine '%s' (interp, bt, trap, kvm, qemu-tcg, qemu-kvm)" % e)
    if not a.no_qemu and "qemu-tcg" not in engines and shutil.which("qemu-system-i386"):
        engines.append("qemu-tcg")

    append = ["quick"] if a.quick else []
    if a.iters:
        append.append("iters=%d" % a.iters)
    if a.batches:
        append.append("batches=%d" % a.batches)
    append = " ".join(append) or "-"
    kernel = assemble(a.build)
    log("micro: %s (append '%s'), %d run(s) per engine: %s" % (os.path.relpath(kernel, ROOT), append,
                                                              a.runs, ", ".join(engines)))

    results, skipped, failed, stopped = {}, {}, {}, {}
    for e in engines:
        if e in BT86_ENGINES and not os.access(a.bt86, os.X_OK):
            skipped[e] = "%s is not built (make bt86)" % a.bt86
        elif e in QEMU_ENGINES and not shutil.which("qemu-system-i386"):
            skipped[e] = "qemu-system-i386 is not installed (apt-get install qemu-system-x86)"
        if e in skipped:
            log("[%s] skipped: %s" % (e, skipped[e]))
            continue
        runs = []
        for i in range(a.runs):
            t = time.time()
            r = run_once(e, kernel, append, a.bt86, a.timeout)
            dt = time.time() - t
            if r[0] == "skip":
                skipped[e] = r[1]
                log("[%s] skipped: %s" % (e, r[1]))
                break
            if r[0] == "fail" and e in ("kvm", "qemu-kvm") and "timed out" not in r[1]:
                # a KVM without VT-x/AMD-V (kvm_pvm) stops part way: keep what ran
                stopped[e] = r[1]
                log("[%s] run %d/%d stopped after %.1f s: %s" % (e, i + 1, a.runs, dt, r[1]))
                runs.append(r[2])
                continue
            if r[0] == "fail":
                failed[e] = r[1]
                log("[%s] run %d/%d FAILED after %.1f s: %s" % (e, i + 1, a.runs, dt, r[1]))
                if r[2]:
                    runs.append(r[2])
                break
            runs.append(r[1])
            log("[%s] run %d/%d: %d tests in %.1f s" % (e, i + 1, a.runs, len(r[1]), dt))
        if runs:
            results[e] = summarize(runs, a.noise)

    out = a.json or os.path.join(ROOT, a.build, "bench", "micro.json")
    doc = dict(results)
    doc["_skipped"] = skipped
    doc["_failed"] = failed
    doc["_stopped"] = stopped
    doc["_meta"] = {"runs": a.runs, "append": append, "noise": a.noise, "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                    "commit": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                             capture_output=True, text=True).stdout.strip()}
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")

    order = [e for e in engines if e in results]
    table(results, order, "ns", "ns per operation (median of %d run(s); * = noisy, spread > %d%%)"
          % (a.runs, round(a.noise * 100)))
    print()
    table(results, order, "cycles", "TSC ticks per operation (each engine's own TSC: bt86 interp/bt/trap a 1 GHz virtual TSC,\n"
          "kvm and QEMU the host's; compare engines by ns)")
    for e, why in skipped.items():
        print("skipped %s: %s" % (e, why))
    for e, why in stopped.items():
        print("stopped %s (the figures above are the tests that ran): %s" % (e, why))
    for e, why in failed.items():
        print("FAILED %s: %s" % (e, why))
    print("wrote %s" % os.path.relpath(out, ROOT))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
