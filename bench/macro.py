#!/usr/bin/env python3
"""bench/macro.py - bt86's Linux-guest benchmarks (issues 8 and 9, bench/macro).

Runs the guest benchmark programs (bench/guest: cpumix, osbench; static i386, built by
bench/guest/build.sh, put in the initramfs under /bench by scripts/make-guest.sh) on:
  native     the same binaries on the host (its kernel runs i386 programs)
  qemu-tcg   the reference guest under qemu-system-i386 -accel tcg (when installed; the machine
             of scripts/boot-qemu.sh: -cpu pentium2 -m 128, same kernel, initramfs and disk)
  ENGINE     the reference guest under ./bt86 --engine ENGINE, for each of --engines
and measures the time to the guest's shell prompt. Each guest run boots once, runs every
selected workload over the serial console (tests/boot/bootlib.py) and powers off.

Work is scaled per target (the interpreter runs a small fraction) and every figure is per unit,
so targets compare: cpumix parts as ms_scale1 (the time a full-scale run would take),
osbench tests as microseconds per iteration, boot as seconds. Each figure is the median of
--runs runs; a spread (max - min) / median above 10% is flagged noisy. cpumix checksums of
every target are compared with the native run's (a mismatch fails the run: exit status 1).

Output: progress on stderr, a table on stdout, JSON in build/bench/macro.json (bench/report.py
turns it into bench/RESULTS-latest.md and a PNG). See bench/macro.md.
"""
import argparse, json, os, platform, re, shutil, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "boot"))
from bootlib import Console  # noqa: E402  (the shared serial-console driver)

CPUMIX_PARTS = ["lz", "sort", "hash", "mem", "x87", "int"]
OSBENCH_TESTS = ["getppid", "forkwait", "forkexec", "pagefault", "mmap", "pipe"]

# (cpumix scale, osbench scale) per target at full size; --quick divides by 10
SCALES = {"native": (1.0, 1.0), "qemu-tcg": (0.05, 0.1), "bt": (0.3, 0.2), "trap": (0.3, 0.2),
          "kvm": (1.0, 1.0), "interp": (0.01, 0.01)}
DEFAULT_SCALE = (0.01, 0.01)   # an engine we know nothing about: as slow as the interpreter
PART_CAP_S = 15.0              # in a guest, a cpumix part stops after this long (--max-ms)
NOISY = 0.10
PROMPT = b"bt86:/# "           # scripts/guest/init's PS1


def log(msg):
    print("[macro] " + msg, file=sys.stderr, flush=True)


# --- what to run -------------------------------------------------------------------------------
def select_workloads(spec):
    """--workloads: comma list of boot, cpumix, osbench, cpumix parts and osbench tests.
    Returns (boot?, cpumix parts, osbench tests) or raises ValueError."""
    boot, parts, tests = False, [], []
    for w in [x.strip() for x in spec.split(",") if x.strip()]:
        if w == "boot":
            boot = True
        elif w == "cpumix":
            parts += CPUMIX_PARTS
        elif w == "osbench":
            tests += OSBENCH_TESTS
        elif w in CPUMIX_PARTS or w.startswith("cpumix.") and w[7:] in CPUMIX_PARTS:
            parts.append(w.split(".")[-1])
        elif w in OSBENCH_TESTS or w.startswith("osbench.") and w[8:] in OSBENCH_TESTS:
            tests.append(w.split(".")[-1])
        else:
            raise ValueError("unknown workload '%s' (boot, cpumix, osbench, %s, %s)"
                             % (w, " ".join(CPUMIX_PARTS), " ".join(OSBENCH_TESTS)))
    parts = [p for p in CPUMIX_PARTS if p in parts]
    tests = [t for t in OSBENCH_TESTS if t in tests]
    return boot, parts, tests


# --- parsing the programs' output ----------------------------------------------------------------
LINE_RE = re.compile(r"^(cpumix|osbench) (.*)$")


def parse_output(text):
    """Lines of cpumix/osbench -> {workload: {key: value}}."""
    res = {}
    for line in text.replace("\r", "").splitlines():
        m = LINE_RE.match(line.strip())
        if not m:
            continue
        kv = dict(f.split("=", 1) for f in m.group(2).split() if "=" in f)
        if m.group(1) == "cpumix":
            name = "cpumix." + kv.get("part", "total")
            if "part" not in kv and not m.group(2).startswith("total"):
                continue
            try:
                res[name] = {"value": float(kv["ms_scale1"]), "check": kv.get("check"),
                             "units": int(kv.get("units", 0)), "ms": float(kv.get("ms", 0))}
            except (KeyError, ValueError):
                continue
        else:
            try:
                res["osbench." + kv["test"]] = {"value": float(kv["us_per_iter"]),
                                                "iters": int(kv["iters"]), "ms": float(kv.get("ms", 0))}
            except (KeyError, ValueError):
                continue
    return res


def command_line(prog, scale, names, cap_s=0):
    cap = "--max-ms=%d " % (cap_s * 1000) if cap_s and prog.endswith("cpumix") else ""
    return "%s %s%g %s" % (prog, cap, scale, " ".join(names))


def missing(prog, names, got):
    """The workloads of names that prog's output lacks (a line lost or garbled on the console)."""
    want = ["%s.%s" % (prog, n) for n in names] + (["cpumix.total"] if prog == "cpumix" else [])
    return [w for w in want if w not in got]


# --- native ---------------------------------------------------------------------------------------
def run_native(bindir, parts, tests, scales, timeout, cpu):
    """One native run: {workload: sample}, or raises RuntimeError. cpu >= 0: osbench is pinned
    to that CPU (the guest has one CPU: pinned, pipe ping-pong and fork wait for the other
    process as they do in the guest, instead of running it on another core); cpumix, one
    process, is left to the scheduler (on a shared machine a fixed CPU may be the busy one)."""
    out = {}
    for prog, names, scale in (("cpumix", parts, scales[0]), ("osbench", tests, scales[1])):
        if not names:
            continue
        argv = [os.path.join(bindir, prog), "%g" % scale] + names
        log("native: %s %s" % (prog, " ".join(argv[1:])))
        t0 = time.time()
        try:
            pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu >= 0 and prog == "osbench" else None
            p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, preexec_fn=pin)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise RuntimeError("%s: %s" % (argv[0], e))
        if p.returncode != 0:
            raise RuntimeError("%s exited with status %d: %s" % (argv[0], p.returncode, p.stderr.strip()[-300:]))
        got = parse_output(p.stdout)
        if missing(prog, names, got):
            raise RuntimeError("%s printed no result for %s: %r" % (argv[0], ", ".join(missing(prog, names, got)),
                                                                   p.stdout[-300:]))
        for k, v in got.items():
            v["wall_s"] = time.time() - t0
        out.update(got)
    return out


# --- a guest (QEMU or bt86) ------------------------------------------------------------------------
class Skip(Exception):
    """The target cannot run here (engine not available): reported, not a failure."""


def guest_command(con, cmd, silence_s, total_s):
    """Console.command (same markers) with a hang detector: (output, None), or (None, why) when
    the emulator ends, prints nothing for silence_s seconds (a hung guest: every program prints
    a line a part or test) or the command takes more than total_s."""
    from bootlib import PROMPT as SHELL_PROMPT
    con.seq += 1
    begin, end = "@@B%d@@" % con.seq, "@@E%d@@" % con.seq
    con.send("echo '@@B%d''@@'; %s; echo '@@E%d''@@'\n" % (con.seq, cmd, con.seq))
    end_re = re.compile(re.escape(end.encode()) + rb"\r*\n")
    start = last = time.time()
    size = len(con.buf)
    while True:
        out = con.read_until(end_re, 2)
        if out is not None:
            break
        now = time.time()
        if con.proc.poll() is not None:
            return None, "the emulator ended (status %s) %.0f s into the command" % (con.proc.returncode, now - start)
        if len(con.buf) != size:
            size, last = len(con.buf), now
        if now - last > silence_s:
            return None, "the guest printed nothing for %d s (hung?)" % silence_s
        if now - start > total_s:
            return None, "no answer within %d s" % total_s
    text = out.decode(errors="replace")
    i = text.rfind(begin)
    body = text[i + len(begin):] if i >= 0 else text
    con.read_until(SHELL_PROMPT, 5)
    return body.replace(end, "").replace("\r", "").strip("\n"), None


def guest_argv(target, a, kernel, initrd, disk):
    append = "console=ttyS0"
    if target == "qemu-tcg":
        return ["qemu-system-i386", "-accel", "tcg", "-cpu", "pentium2", "-m", "128",
                "-kernel", kernel, "-initrd", initrd, "-append", append,
                "-drive", "file=%s,format=raw,if=ide" % disk, "-nographic", "-no-reboot"]
    return [a.bt86, "-m", "128", "--engine", target, "--kernel", kernel, "--initrd", initrd,
            "--append", append, "--hda", disk, "--serial", "stdio", "--display", "none", "--no-reboot"]


def run_guest(target, a, run_no, boot, parts, tests, scales, workdir):
    """One boot of the guest under target: {workload: sample}; raises Skip or RuntimeError."""
    kernel = os.path.join(a.guest, "vmlinuz-" + a.flavour)
    initrd = os.path.join(a.guest, "initrd-%s.gz" % a.flavour)
    disk = os.path.join(workdir, "disk.img")
    shutil.copyfile(os.path.join(a.guest, "disk.img"), disk)
    logpath = os.path.join(a.outdir, "%s-%s-run%d.log" % (a.stem, target, run_no))
    errpath = os.path.join(workdir, "stderr.txt")
    argv = guest_argv(target, a, kernel, initrd, disk)
    if run_no == 1:
        log("%s: %s" % (target, " ".join(argv)))
    log("%s run %d: booting (serial log %s)" % (target, run_no, os.path.relpath(logpath, ROOT)))
    t0 = time.time()
    con = Console(argv, logpath, errpath)
    out = {}
    try:
        got = con.read_until(PROMPT, a.boot_timeout)
        if got is None:
            if con.proc.poll() is not None:
                err = con.stderr_text().strip()
                rc = con.proc.returncode
                if rc == 2 and target != "qemu-tcg":
                    # a usage error: this bt86 does not offer the engine (it says why)
                    raise Skip(err.splitlines()[-1] if err else "bt86 --engine %s exited with status 2" % target)
                if target == "kvm" and run_no == 1 and rc not in (None, 0) and err:
                    # the hardware reference stops with its reason on hosts whose KVM cannot
                    # run this guest (no VT-x/AMD-V: issue 9); a skip, not a bt86 failure
                    raise Skip("cannot run the guest on this host's KVM: " + " ".join(err.splitlines()[:2])[:400])
                raise RuntimeError("%s ended (status %s) before the shell prompt: %s" % (target, rc, err[-300:]))
            raise RuntimeError("%s: no shell prompt within %d s (serial log %s)" % (target, a.boot_timeout, logpath))
        boot_s = time.time() - t0
        log("%s run %d: shell prompt after %.1f s" % (target, run_no, boot_s))
        if boot:
            out["boot"] = {"value": boot_s}
        time.sleep(1)
        for prog, names, scale in (("cpumix", parts, scales[0]), ("osbench", tests, scales[1])):
            if not names:
                continue
            cmd = command_line("/bench/" + prog, scale, names, a.part_cap)
            log("%s run %d: %s" % (target, run_no, cmd))
            t1 = time.time()
            text, why = guest_command(con, cmd + "; echo bench-status=$?", a.silence, a.timeout)
            wall = time.time() - t1
            if text is None:
                raise RuntimeError("%s run %d: '%s': %s (serial log %s)" % (target, run_no, cmd, why, logpath))
            st = re.search(r"bench-status=(\d+)", text)
            if not st or st.group(1) != "0":
                hint = ""
                if st and st.group(1) == "127":
                    hint = " (the initramfs has no /bench: is %s older than bench/guest? run scripts/make-guest.sh)" % initrd
                raise RuntimeError("%s: '%s' failed in the guest%s: %s" % (target, cmd, hint, text.strip()[-400:]))
            got = parse_output(text)
            if missing(prog, names, got):
                raise RuntimeError("%s: '%s' printed no result for %s: %s" % (
                    target, cmd, ", ".join(missing(prog, names, got)), text.strip()[-300:]))
            for k, v in got.items():
                v["wall_s"] = wall
            out.update(got)
            # the guest's clock against the host's: the programs' own times (which leave out
            # start-up and warm-up) cannot exceed the host's wall time of the command
            guest_s = sum(v.get("ms", 0) for k, v in got.items() if k != "cpumix.total") / 1e3
            if guest_s > wall * 1.05 + 0.2:
                log("%s run %d: WARNING: %s reports %.1f s of work in %.1f s of host time: the guest "
                    "clock runs fast" % (target, run_no, prog, guest_s, wall))
                out.setdefault("_warnings", []).append("%s: guest clock fast (%.1f s in %.1f s)" % (prog, guest_s, wall))
            log("%s run %d: %s done in %.1f s (%.1f s by the guest's clock)" % (target, run_no, prog, wall, guest_s))
        rc = con.poweroff(60)
        if rc is None:
            log("%s run %d: did not power off within 60 s (killed)" % (target, run_no))
        elif rc != 0:
            log("%s run %d: WARNING: exit status %d after poweroff -f" % (target, run_no, rc))
    finally:
        con.close()
    return out


# --- statistics and checks ------------------------------------------------------------------------
def summarize(samples):
    """samples: list of {workload: sample} (one per run) -> {workload: summary}."""
    res = {}
    names = []
    for s in samples:
        names += [k for k in s if k not in names and not k.startswith("_")]
    for k in names:
        vals = [s[k]["value"] for s in samples if k in s]
        med = statistics.median(vals)
        spread = (max(vals) - min(vals)) / med if med > 0 and len(vals) > 1 else 0.0
        e = {"median": med, "min": min(vals), "samples": vals, "spread": round(spread, 4), "noisy": spread > NOISY,
             "unit": "s" if k == "boot" else "ms_scale1" if k.startswith("cpumix.") else "us_per_iter"}
        checks = sorted({s[k]["check"] for s in samples if k in s and s[k].get("check")})
        if checks:
            e["check"] = checks[0] if len(checks) == 1 else ",".join(checks)
        for extra in ("units", "iters"):
            xs = [s[k][extra] for s in samples if k in s and extra in s[k]]
            if xs:
                e[extra] = xs[0]
        walls = [s[k]["wall_s"] for s in samples if k in s and "wall_s" in s[k]]
        if walls:
            e["wall_s"] = round(statistics.median(walls), 3)
        res[k] = e
    return res


def git_commit():
    try:
        c = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                           text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return c + ("-dirty" if dirty else "") if c else "unknown"
    except OSError:
        return "unknown"


def host_cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def qemu_version():
    try:
        return subprocess.run(["qemu-system-i386", "--version"], capture_output=True,
                              text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return None


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "us_per_iter":
        return "%.3g" % v if v < 100 else "%.0f" % v
    return "%.1f" % v if v < 1000 else "%.0f" % v


def print_table(data, out=sys.stdout):
    targets = [t for t in data["targets"] if data["targets"][t]["status"] in ("ok", "partial")
               and data["targets"][t]["results"]]
    names = []
    for t in targets:
        names += [k for k in data["targets"][t]["results"] if k not in names]
    order = ["boot"] + ["cpumix." + p for p in CPUMIX_PARTS + ["total"]] + ["osbench." + t for t in OSBENCH_TESTS]
    names = [n for n in order if n in names]
    head = ["workload", "unit"] + targets
    if "native" in targets:
        head += ["x native (%s)" % t for t in targets if t != "native"]
    rows = []
    for n in names:
        unit = {"boot": "s", "cpumix": "ms@1", "osbench": "us/iter"}[n.split(".")[0]]
        row = [n, unit]
        nat = data["targets"].get("native", {}).get("results", {}).get(n)
        for t in targets:
            r = data["targets"][t]["results"].get(n)
            cell = fmt(r["median"], r["unit"]) if r else "-"
            if r and r.get("noisy"):
                cell += "~"
            if r and r.get("check_ok") is False:
                cell += "!"
            row.append(cell)
        if "native" in targets:
            for t in targets:
                if t == "native":
                    continue
                r = data["targets"][t]["results"].get(n)
                row.append("%.1fx" % (r["median"] / nat["median"]) if r and nat and nat["median"] > 0 else "-")
        rows.append(row)
    w = [max(len(str(x)) for x in col) for col in zip(head, *rows)] if rows else [len(h) for h in head]
    print("  ".join(h.ljust(w[i]) for i, h in enumerate(head)), file=out)
    for r in rows:
        print("  ".join(str(c).ljust(w[i]) if i < 2 else str(c).rjust(w[i]) for i, c in enumerate(r)), file=out)
    for t, d in data["targets"].items():
        if d["status"] != "ok":
            print("%s: %s: %s" % (t, d["status"], d.get("reason", "")), file=out)
        for w in sorted(set(d.get("warnings", []))):
            print("%s: warning: %s" % (t, w), file=out)
    print("(ms@1: cpumix time of a full-scale run; ~ noisy: spread > %d%%; ! checksum differs from native)"
          % (NOISY * 100), file=out)


def main():
    ap = argparse.ArgumentParser(description="bt86's Linux-guest benchmarks (see bench/macro.md)")
    ap.add_argument("--engines", default="interp,bt,trap,kvm",
                    help="bt86 engines to run the guest under (comma list; default interp,bt,trap,kvm)")
    ap.add_argument("--runs", type=int, default=3, help="runs per target; figures are medians (default 3)")
    ap.add_argument("--quick", action="store_true", help="a tenth of the work and 1 run (a smoke test)")
    ap.add_argument("--workloads", default="boot,cpumix,osbench",
                    help="comma list: boot, cpumix, osbench, or single parts/tests (lz, getppid, ...)")
    ap.add_argument("--no-native", action="store_true", help="skip the native runs")
    ap.add_argument("--no-qemu", action="store_true", help="skip QEMU TCG even when installed")
    ap.add_argument("--native-cpu", type=int, default=min(os.sched_getaffinity(0)),
                    help="pin the native osbench runs to this CPU (default: the lowest; -1: do not pin)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every target's work by this")
    ap.add_argument("--flavour", default="686", choices=["686", "686-pae"], help="guest kernel (default 686)")
    ap.add_argument("--json", default=os.path.join(ROOT, "build", "bench", "macro.json"), help="output file")
    ap.add_argument("--bt86", default=os.path.join(ROOT, "bt86"), help="the bt86 binary")
    ap.add_argument("--guest", default=os.environ.get("GUEST_DIR", os.path.join(ROOT, "build", "guest")),
                    help="the reference guest's directory (default $GUEST_DIR or build/guest)")
    ap.add_argument("--part-cap", type=float, default=None,
                    help="in a guest, stop each cpumix part after this many seconds (default %g; --quick 3; 0: none)"
                    % PART_CAP_S)
    ap.add_argument("--boot-timeout", type=int, default=600, help="seconds allowed to the prompt")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds allowed to each program")
    ap.add_argument("--silence", type=int, default=300,
                    help="a guest that prints nothing for this many seconds while a program runs is hung")
    a = ap.parse_args()
    if a.runs < 1:
        ap.error("--runs wants a positive number")
    if not a.scale > 0:
        ap.error("--scale wants a positive number")
    if a.quick:
        a.runs = 1
    if a.part_cap is None:
        a.part_cap = 3.0 if a.quick else PART_CAP_S
    a.stem = os.path.splitext(os.path.basename(a.json))[0]
    try:
        boot, parts, tests = select_workloads(a.workloads)
    except ValueError as e:
        ap.error(str(e))
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    a.outdir = os.path.dirname(os.path.abspath(a.json))
    os.makedirs(a.outdir, exist_ok=True)
    bindir = os.path.join(ROOT, "build", "bench", "guest")

    # the programs and the guest (both idempotent: nothing is rebuilt when up to date)
    if subprocess.run(["bash", os.path.join(ROOT, "bench", "guest", "build.sh"), bindir],
                      stdout=sys.stderr).returncode != 0:
        sys.exit("macro: the guest benchmarks could not be built (bench/guest/build.sh)")
    guest_ok, guest_why = True, ""
    if engines or not a.no_qemu:
        p = subprocess.run(["bash", os.path.join(ROOT, "scripts", "make-guest.sh")], capture_output=True, text=True,
                           env=dict(os.environ, GUEST_DIR=a.guest))
        sys.stderr.write("".join("[macro] " + l + "\n" for l in p.stdout.splitlines()[-2:]))
        if p.returncode != 0:
            guest_ok, guest_why = False, "the reference guest could not be built: " + (p.stderr.strip() or p.stdout.strip())[-300:]
            log(guest_why)

    targets = ([] if a.no_native else ["native"]) + ([] if a.no_qemu else ["qemu-tcg"]) + engines
    data = {"meta": {"commit": git_commit(), "host_cpu": host_cpu(), "host_kernel": platform.release(),
                     "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                     "runs": a.runs, "quick": a.quick, "flavour": a.flavour, "qemu": qemu_version(),
                     "cpumix_parts": parts, "osbench_tests": tests, "boot": boot,
                     "noisy_threshold": NOISY, "load_avg": os.getloadavg()[0],
                     "native_cpu": a.native_cpu, "host_cpus": os.cpu_count()},
            "targets": {}}
    workdir = tempfile.mkdtemp(prefix="bt86-macro-")
    interrupted = None

    def on_term(signum, frame):
        raise Interrupted("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        for t in targets:
            base = SCALES.get(t, DEFAULT_SCALE)
            f = a.scale * (0.1 if a.quick else 1.0)
            scales = (base[0] * f, base[1] * f)
            entry = {"status": "ok", "scale": {"cpumix": scales[0], "osbench": scales[1]}, "results": {}}
            if t != "native" and a.part_cap:
                entry["part_cap_s"] = a.part_cap
            data["targets"][t] = entry
            if t == "native":
                if not parts and not tests:
                    entry.update(status="skipped", reason="no native workload selected (boot needs a guest)")
                    continue
            elif t == "qemu-tcg" and not shutil.which("qemu-system-i386"):
                entry.update(status="skipped", reason="qemu-system-i386 not installed (apt-get install qemu-system-x86)")
                log("qemu-tcg: skipped: " + entry["reason"])
                continue
            elif not guest_ok:
                entry.update(status="skipped", reason=guest_why)
                continue
            elif t != "qemu-tcg" and not os.access(a.bt86, os.X_OK):
                entry.update(status="skipped", reason="%s not built (make bt86)" % a.bt86)
                continue
            samples = []
            try:
                for r in range(1, a.runs + 1):
                    if t == "native":
                        log("native run %d/%d" % (r, a.runs))
                        samples.append(run_native(bindir, parts, tests, scales, a.timeout, a.native_cpu))
                    else:
                        samples.append(run_guest(t, a, r, boot, parts, tests, scales, workdir))
            except Skip as e:
                entry.update(status="skipped", reason=str(e))
                log("%s: skipped: %s" % (t, e))
                continue
            except (RuntimeError, OSError) as e:
                entry.update(status="failed" if not samples else "partial", reason=str(e))
                log("%s: FAILED: %s" % (t, e))
            except (Interrupted, KeyboardInterrupt) as e:
                interrupted = str(e) or "interrupted"
                entry.update(status="interrupted" if not samples else "partial",
                             reason="interrupted (%s) during run %d" % (interrupted, len(samples) + 1))
                log("%s: interrupted (%s)" % (t, interrupted))
            if samples:
                entry["results"] = summarize(samples)
                warns = [w for s in samples for w in s.get("_warnings", [])]
                if warns:
                    entry["warnings"] = warns
            entry["runs_done"] = len(samples)
            finish(data, a.json)          # what is done so far survives a later failure
            if interrupted:
                break
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        shutil.rmtree(workdir, ignore_errors=True)

    bad = finish(data, a.json)
    print_table(data)
    for b in bad:
        print("CHECK MISMATCH: " + b)
    log("wrote " + os.path.relpath(a.json, ROOT))
    if interrupted:
        sys.exit(130)
    failed = [t for t, d in data["targets"].items() if d["status"] in ("failed", "partial")]
    sys.exit(1 if bad or failed else 0)


class Interrupted(Exception):
    """SIGTERM or SIGHUP: stop, keep what was measured."""


def finish(data, path):
    """Compare checksums with native's, write the JSON (atomically); returns the mismatches."""
    bad = []
    nat = data["targets"].get("native", {}).get("results", {})
    for t, d in data["targets"].items():
        for k, r in d["results"].items():
            if "check" in r and k in nat and "check" in nat[k]:
                r["check_ok"] = r["check"] == nat[k]["check"]
                if not r["check_ok"]:
                    bad.append("%s %s: check %s, native %s" % (t, k, r["check"], nat[k]["check"]))
            if "," in r.get("check", ""):
                r["check_ok"] = False
                bad.append("%s %s: runs disagree: %s" % (t, k, r["check"]))
    data["meta"]["check_failures"] = bad
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=1, sort_keys=False)
    os.replace(path + ".tmp", path)
    return bad


if __name__ == "__main__":
    main()
