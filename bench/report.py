#!/usr/bin/env python3
"""bench/report.py - turns the benchmark results into a report and a plot.

Reads build/bench/macro.json (bench/macro.py: the Linux-guest workloads on native, QEMU TCG and
the bt86 engines) and build/bench/micro.json (bench/micro: the multiboot microbenchmarks; when
it is missing the report says so), and writes
  bench/RESULTS-latest.md   tables: figures per workload and target, ratios to native and to
                            QEMU TCG, the commit, host CPU, date and the conditions
  build/bench/results.png   bars per workload, targets side by side, log scale (the ratio to
                            native; boot time, which has no native figure, relative to QEMU TCG)
The PNG is written with the standard library only (zlib + struct) and a built-in 5x7 font.
Usage: bench/report.py [--macro FILE] [--micro FILE] [--out FILE] [--png FILE]
"""
import argparse, json, math, os, struct, sys, time, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORDER = (["boot"] + ["cpumix." + p for p in ("lz", "sort", "hash", "mem", "x87", "int", "total")] +
         ["osbench." + t for t in ("getppid", "forkwait", "forkexec", "pagefault", "mmap", "pipe")])
UNITS = {"s": "s to prompt", "ms_scale1": "ms (full scale)", "us_per_iter": "us / iteration"}


def load(path, what):
    """(data, None) or (None, why)."""
    if not os.path.exists(path):
        return None, "%s is missing" % os.path.relpath(path, ROOT)
    try:
        with open(path) as f:
            return json.load(f), None
    except (OSError, ValueError) as e:
        return None, "%s: cannot read %s: %s" % (os.path.relpath(path, ROOT), what, e)


def fmt(v):
    if v is None:
        return "-"
    if v >= 1000:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.3g" % v


def ratio(a, b):
    return "%.2fx" % (a / b) if a is not None and b else "-"


# --- the macro tables ------------------------------------------------------------------------------
def macro_section(m):
    out = []
    meta = m.get("meta", {})
    tg = m.get("targets", {})
    ok = [t for t, d in tg.items() if d.get("status") in ("ok", "partial") and d.get("results")]
    out.append("## Linux-guest workloads (bench/macro.py)\n")
    out.append("Runs per figure: %s (median)%s; guest kernel %s; load average at start %.2f.\n"
               % (meta.get("runs"), ", --quick (a tenth of the work)" if meta.get("quick") else "",
                  meta.get("flavour"), meta.get("load_avg", 0)))
    out.append("| target | status | work scale (cpumix, osbench) |")
    out.append("| --- | --- | --- |")
    for t, d in tg.items():
        sc = d.get("scale", {})
        st = d.get("status", "?")
        if d.get("reason"):
            st += ": " + d["reason"].replace("|", "/").replace("\n", " ")
        if d.get("warnings"):
            st += " (warning: %s)" % "; ".join(sorted(set(d["warnings"])))
        out.append("| %s | %s | %g, %g |" % (t, st, sc.get("cpumix", 0), sc.get("osbench", 0)))
    out.append("")
    if not ok:
        out.append("No target produced results.\n")
        return out
    names = [n for n in ORDER if any(n in tg[t]["results"] for t in ok)]
    nat = tg.get("native", {}).get("results", {})
    qemu = tg.get("qemu-tcg", {}).get("results", {})
    others = [t for t in ok if t != "native"]
    # table 1: the figures (medians), noise and checksum marks
    out.append("Medians; `~N%` marks a noisy figure (runs spread by N% of the median) with its minimum.\n")
    head = ["workload", "unit"] + ok
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + " --- |" * len(head))
    for n in names:
        unit = None
        cells = []
        for t in ok:
            r = tg[t]["results"].get(n)
            if r:
                unit = r.get("unit")
                c = fmt(r["median"])
                if r.get("noisy"):
                    c += " ~%d%%%s" % (round(100 * r.get("spread", 0)),
                                       " (min " + fmt(r["min"]) + ")" if r.get("min") is not None else "")
                if r.get("check_ok") is False:
                    c += " **CHECK MISMATCH**"
                cells.append(c)
            else:
                cells.append("-")
        out.append("| " + " | ".join([n, UNITS.get(unit, unit or "")] + cells) + " |")
    out.append("")
    # table 2: ratios (lower is better)
    rhead = ["workload"]
    rhead += ["%s / native" % t for t in others if nat]
    rhead += ["%s / qemu" % t for t in others if t != "qemu-tcg" and qemu]
    if len(rhead) > 1:
        out.append("Ratios of medians (the target's time over native's or QEMU TCG's; lower is better):\n")
        out.append("| " + " | ".join(rhead) + " |")
        out.append("|" + " --- |" * len(rhead))
        for n in names:
            row = [n]
            if nat:
                for t in others:
                    r = tg[t]["results"].get(n)
                    row.append(ratio(r["median"] if r else None, nat[n]["median"] if n in nat else None))
            if qemu:
                for t in others:
                    if t == "qemu-tcg":
                        continue
                    r = tg[t]["results"].get(n)
                    row.append(ratio(r["median"] if r else None, qemu[n]["median"] if n in qemu else None))
            out.append("| " + " | ".join(row) + " |")
    out.append("")
    fails = meta.get("check_failures", [])
    checked = sum(1 for t in ok for r in tg[t]["results"].values() if "check_ok" in r)
    if fails:
        out.append("**Checksum mismatches** (a wrong result, not a slow one):\n")
        out += ["- " + f for f in fails]
    elif checked:
        out.append("Every cpumix checksum of every target equals the native run's (%d compared)." % checked)
    out.append("")
    return out


# --- the micro tables ------------------------------------------------------------------------------
# bench/micro/run.py writes {ENGINE: {TEST: {"cycles", "ns", "noisy", "iters", ...}}, "_skipped":
# {ENGINE: reason}, "_failed": {...}, "_meta": {...}}; keys starting with "_" are not engines.
# Engines compare by ns (bt86's TSC is a 1 GHz virtual one, QEMU TCG's is the host's).
MICRO_ORDER = ["alu", "call", "pushf", "cli", "in", "out", "cr3", "pte", "pf", "de", "int80", "sysenter"]


def micro_number(v):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v), False
    if isinstance(v, dict):
        for k in ("ns", "median", "cycles", "value"):
            if isinstance(v.get(k), (int, float)):
                return float(v[k]), bool(v.get("noisy"))
    return None, False


def micro_section(mj, why):
    out = ["## Multiboot microbenchmarks (bench/micro)\n"]
    if mj is None:
        out.append("No microbenchmark results: %s (run bench/micro/run.py first; see bench/README.md).\n" % why)
        return out
    table, engines = {}, []
    for eng, d in mj.items():
        if eng.startswith("_") or not isinstance(d, dict):
            continue
        for test, v in d.items():
            x, noisy = micro_number(v)
            if x is not None:
                table.setdefault(test, {})[eng] = (x, noisy)
                if eng not in engines:
                    engines.append(eng)
    meta = mj.get("_meta", {}) if isinstance(mj.get("_meta"), dict) else {}
    if meta:
        out.append("From build/bench/micro.json: commit %s, %s, %s run(s) per figure%s.\n"
                   % (meta.get("commit", "?"), meta.get("time", "?"), meta.get("runs", "?"),
                      ", " + str(meta["append"]) if meta.get("append") not in (None, "", "-") else ""))
    if not table:
        out.append("The micro results hold no table this report understands; as written:\n")
        out.append("```\n" + json.dumps(mj, indent=1)[:4000] + "\n```\n")
    else:
        refs = [r for r in ("kvm", "qemu-kvm", "qemu-tcg") if r in engines]
        head = ["test (ns / iteration)"] + engines
        head += ["%s / %s" % (e, r) for r in refs for e in engines if e != r]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + " --- |" * len(head))
        tests = [t for t in MICRO_ORDER if t in table] + [t for t in table if t not in MICRO_ORDER]
        for test in tests:
            vals = table[test]
            row = [test]
            for e in engines:
                x = vals.get(e)
                row.append(fmt(x[0]) + (" (noisy)" if x[1] else "") if x else "-")
            for r in refs:
                for e in engines:
                    if e != r:
                        row.append(ratio(vals[e][0] if e in vals else None, vals[r][0] if r in vals else None))
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    for key, what in (("_skipped", "skipped"), ("_failed", "failed")):
        d = mj.get(key)
        if isinstance(d, dict):
            for e, reason in d.items():
                out.append("- %s %s: %s" % (e, what, str(reason).replace("\n", " ")))
    out.append("")
    return out


# --- PNG ----------------------------------------------------------------------------------------
FONT = {  # 5x7, one int a row, bit 4 = leftmost column; lowercase is drawn as uppercase
    "A": (14, 17, 17, 31, 17, 17, 17), "B": (30, 17, 17, 30, 17, 17, 30), "C": (14, 17, 16, 16, 16, 17, 14),
    "D": (30, 17, 17, 17, 17, 17, 30), "E": (31, 16, 16, 30, 16, 16, 31), "F": (31, 16, 16, 30, 16, 16, 16),
    "G": (14, 17, 16, 23, 17, 17, 15), "H": (17, 17, 17, 31, 17, 17, 17), "I": (14, 4, 4, 4, 4, 4, 14),
    "J": (7, 2, 2, 2, 2, 18, 12), "K": (17, 18, 20, 24, 20, 18, 17), "L": (16, 16, 16, 16, 16, 16, 31),
    "M": (17, 27, 21, 21, 17, 17, 17), "N": (17, 17, 25, 21, 19, 17, 17), "O": (14, 17, 17, 17, 17, 17, 14),
    "P": (30, 17, 17, 30, 16, 16, 16), "Q": (14, 17, 17, 17, 21, 18, 13), "R": (30, 17, 17, 30, 20, 18, 17),
    "S": (15, 16, 16, 14, 1, 1, 30), "T": (31, 4, 4, 4, 4, 4, 4), "U": (17, 17, 17, 17, 17, 17, 14),
    "V": (17, 17, 17, 17, 17, 10, 4), "W": (17, 17, 17, 21, 21, 21, 10), "X": (17, 17, 10, 4, 10, 17, 17),
    "Y": (17, 17, 17, 10, 4, 4, 4), "Z": (31, 1, 2, 4, 8, 16, 31),
    "0": (14, 17, 19, 21, 25, 17, 14), "1": (4, 12, 4, 4, 4, 4, 14), "2": (14, 17, 1, 2, 4, 8, 31),
    "3": (31, 2, 4, 2, 1, 17, 14), "4": (2, 6, 10, 18, 31, 2, 2), "5": (31, 16, 30, 1, 1, 17, 14),
    "6": (6, 8, 16, 30, 17, 17, 14), "7": (31, 1, 2, 4, 8, 8, 8), "8": (14, 17, 17, 14, 17, 17, 14),
    "9": (14, 17, 17, 15, 1, 2, 12), ".": (0, 0, 0, 0, 0, 12, 12), "-": (0, 0, 0, 31, 0, 0, 0),
    "_": (0, 0, 0, 0, 0, 0, 31), "(": (2, 4, 8, 8, 8, 4, 2), ")": (8, 4, 2, 2, 2, 4, 8),
    "*": (0, 4, 21, 14, 21, 4, 0), "/": (0, 1, 2, 4, 8, 16, 0), ":": (0, 12, 12, 0, 12, 12, 0),
    ",": (0, 0, 0, 0, 12, 4, 8), "+": (0, 4, 4, 31, 4, 4, 0), "%": (24, 25, 2, 4, 8, 19, 3),
    "=": (0, 0, 31, 0, 31, 0, 0), " ": (0, 0, 0, 0, 0, 0, 0),
}
PALETTE = [(70, 70, 70), (230, 159, 0), (0, 114, 178), (0, 158, 115), (204, 121, 167), (213, 94, 0),
           (86, 180, 233), (240, 228, 66)]


class Canvas:
    def __init__(self, w, h, bg=(255, 255, 255)):
        self.w, self.h = w, h
        self.px = bytearray(bytes(bg) * (w * h))

    def rect(self, x0, y0, x1, y1, c):
        x0, x1 = max(0, min(x0, x1)), min(self.w, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.h, max(y0, y1))
        row = bytes(c) * (x1 - x0)
        for y in range(y0, y1):
            i = (y * self.w + x0) * 3
            self.px[i:i + len(row)] = row

    def text(self, x, y, s, c=(0, 0, 0), scale=1):
        for ch in s:
            g = FONT.get(ch.upper(), FONT["*"] if ch.strip() else FONT[" "])
            for r, bits in enumerate(g):
                for col in range(5):
                    if bits & (16 >> col):
                        self.rect(x + col * scale, y + r * scale, x + (col + 1) * scale, y + (r + 1) * scale, c)
            x += 6 * scale

    def png(self, path):
        raw = b"".join(b"\0" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3]) for y in range(self.h))

        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
        with open(path + ".tmp", "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)) +
                    chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
        os.replace(path + ".tmp", path)


def plot(m, path):
    """Bars: per workload, each non-reference target's median over the reference's (native; for
    boot, qemu-tcg), log scale. Returns a one-line description or None when nothing to plot."""
    tg = m.get("targets", {})
    ok = [t for t, d in tg.items() if d.get("results")]
    nat = tg.get("native", {}).get("results", {})
    qemu = tg.get("qemu-tcg", {}).get("results", {})
    bars = [t for t in ok if t != "native"]
    groups = []
    for n in ORDER:
        ref = nat.get(n) or (qemu.get(n) if n == "boot" else None)
        if not ref or not ref["median"]:
            continue
        vals = []
        for t in bars:
            r = tg[t]["results"].get(n)
            vals.append(r["median"] / ref["median"] if r and r["median"] > 0 else None)
        if any(v is not None for v in vals):
            label = n.split(".")[-1] + ("*" if n == "boot" else "")
            groups.append((label, vals))
    if not groups or not bars:
        return None
    allv = [v for _, vs in groups for v in vs if v]
    lo = 10 ** math.floor(math.log10(min(min(allv), 1.0)))
    hi = 10 ** math.ceil(math.log10(max(max(allv), 1.0) * 1.01))
    if hi <= lo:
        hi = lo * 10
    bw, gap = 12, 18
    gw = bw * len(bars) + gap
    left, top, bottom = 60, 56, 40
    ph = 300
    W = max(left + gw * len(groups) + 20, 420)
    H = top + ph + bottom + 14
    cv = Canvas(W, H)
    cv.text(8, 6, "BT86 SLOWDOWN VS NATIVE (LOG SCALE), %s %s" % (m.get("meta", {}).get("commit", ""),
            m.get("meta", {}).get("date", "")[:10]), scale=1)
    # legend
    x = 8
    for i, t in enumerate(bars):
        cv.rect(x, 22, x + 10, 32, PALETTE[i % len(PALETTE)])
        cv.text(x + 14, 24, t)
        x += 14 + 6 * len(t) + 14
    cv.text(8, 38, "* BOOT: TIME TO PROMPT VS QEMU-TCG")

    def ypos(v):
        return top + ph - int(round(ph * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))))
    # axis and decade grid
    d = lo
    while d <= hi * 1.0001:
        y = ypos(d)
        cv.rect(left, y, W - 10, y + 1, (215, 215, 215) if abs(d - 1) > 1e-9 else (0, 0, 0))
        lab = ("%gX" % d)
        cv.text(left - 6 - 6 * len(lab), y - 3, lab)
        d *= 10
    cv.rect(left - 1, top, left, top + ph + 1, (0, 0, 0))
    for gi, (label, vals) in enumerate(groups):
        gx = left + gap // 2 + gi * gw
        for i, v in enumerate(vals):
            if v is None:
                continue
            y1 = ypos(1.0) if v >= 1 else ypos(v)
            y0 = ypos(v) if v >= 1 else ypos(1.0)
            cv.rect(gx + i * bw, min(y0, y1) - (1 if y0 == y1 else 0), gx + (i + 1) * bw - 2, max(y0, y1),
                    PALETTE[i % len(PALETTE)])
        cv.text(gx + (gw - gap) // 2 - 3 * len(label), top + ph + 6 + (10 if gi % 2 else 0), label)
    cv.png(path)
    return "%d workloads x %d targets" % (len(groups), len(bars))


def main():
    ap = argparse.ArgumentParser(description="bt86 benchmark report (see bench/macro.md)")
    ap.add_argument("--macro", default=os.path.join(ROOT, "build", "bench", "macro.json"))
    ap.add_argument("--micro", default=os.path.join(ROOT, "build", "bench", "micro.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS-latest.md"))
    ap.add_argument("--png", default=os.path.join(ROOT, "build", "bench", "results.png"))
    a = ap.parse_args()
    m, mwhy = load(a.macro, "the macro results")
    mj, uwhy = load(a.micro, "the micro results")
    if m is not None and not (isinstance(m, dict) and isinstance(m.get("targets"), dict)):
        m, mwhy = None, "%s: not bench/macro.py's format (no \"targets\")" % os.path.relpath(a.macro, ROOT)
    if mj is not None and not isinstance(mj, dict):
        mj, uwhy = None, "%s: not bench/micro's format (not an object)" % os.path.relpath(a.micro, ROOT)
    meta = dict((m or {}).get("meta", {}))
    if m is None:   # describe this machine instead
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        sys.dont_write_bytecode = True          # no bench/__pycache__ in the source tree
        import macro
        meta.update(commit=macro.git_commit(), host_cpu=macro.host_cpu(), host_kernel=os.uname().release,
                    date=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), qemu=macro.qemu_version())
    lines = ["# bt86 benchmark results (latest run)", "",
             "Written by bench/report.py from build/bench/macro.json and build/bench/micro.json "
             "(`make bench`); bench/RESULTS.md keeps the curated figures and their analysis.", "",
             "- commit: %s" % meta.get("commit", "unknown"),
             "- date: %s" % meta.get("date", "unknown"),
             "- host CPU: %s (host kernel %s)" % (meta.get("host_cpu", "unknown"), meta.get("host_kernel", "?")),
             "- QEMU: %s" % (meta.get("qemu") or "not installed"), ""]
    if m is None:
        lines += ["## Linux-guest workloads (bench/macro.py)", "", "No results: %s." % mwhy, ""]
    else:
        try:
            lines += macro_section(m)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            lines += ["## Linux-guest workloads (bench/macro.py)", "",
                      "%s is malformed (%s: %s)." % (os.path.relpath(a.macro, ROOT), type(e).__name__, e), ""]
            m = None
    try:
        lines += micro_section(mj, uwhy)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        lines += ["%s is malformed (%s: %s)." % (os.path.relpath(a.micro, ROOT), type(e).__name__, e), ""]
    desc = None
    if m is not None:
        os.makedirs(os.path.dirname(os.path.abspath(a.png)), exist_ok=True)
        try:
            desc = plot(m, a.png)
        except (KeyError, TypeError, ValueError, AttributeError, ZeroDivisionError) as e:
            print("report: no plot: %s is malformed (%s: %s)" % (a.macro, type(e).__name__, e), file=sys.stderr)
    lines.append("## Plot\n")
    if desc:
        lines.append("%s (%s): per workload, each target's time over native's, log scale "
                     "(boot: over QEMU TCG's)." % (os.path.relpath(a.png, ROOT), desc))
    else:
        lines.append("No plot: nothing to compare with a native (or QEMU) figure.")
    lines += ["", "## How to read this", "",
              "- cpumix figures are milliseconds for a full-scale run (ms_scale1: the per-unit time times "
              "the units of a full run), whatever fraction each target ran; osbench figures are "
              "microseconds per iteration; boot is seconds from start to the shell prompt.",
              "- X / native is the slowdown against the same static binary run on the host; X / qemu "
              "against QEMU TCG on the same guest. Lower is better.",
              "- ~N% marks a figure whose runs spread by more than 10% of the median: the "
              "machine was busy; rerun before drawing conclusions.",
              "- Details: bench/macro.md.", ""]
    with open(a.out + ".tmp", "w") as f:
        f.write("\n".join(lines))
    os.replace(a.out + ".tmp", a.out)
    print("report: wrote %s%s" % (os.path.relpath(a.out, ROOT), ", " + os.path.relpath(a.png, ROOT) if desc else ""))
    for why in (mwhy, uwhy):
        if why:
            print("report: " + why, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
