/* monitor/cmd_testrom.c - `bt86 test rom FILE` and `bt86 test kernel FILE`.
 *
 * test rom: FILE (64 or 128 KiB) is the BIOS ROM; the machine runs from
 * reset until the CPU halts with interrupts off (or the exit port, or the
 * time limit). Prints the POST codes (ports 0x80 and 0x190) and the text
 * written to port 0xE9. The ROM passed when it reported success (POST code
 * 0xFF, or at least one line starting "PASS"), no line starts with "FAIL",
 * and the machine did not stop on an unimplemented instruction, a reset or
 * the time limit.
 * test kernel: FILE is a Multiboot v1 kernel; what it writes to COM1 and
 * port 0xE9 goes to stdout. It passed when it wrote 0 (no failures) to the
 * isa-debug-exit port 0xF4 and printed no "FAIL" line; the exit-port value
 * is printed ("exit port: N").
 * Both: exit status 0 only when the test passed on every engine that ran,
 * 1 otherwise, 2 on usage errors (a file that cannot be read, a bad option).
 * Engines (monitor/engine.h) through machine_config.engine: --engine E runs
 * one; --all-engines runs each engine in turn with the guest's output
 * captured, then prints a table (one row per PASS/FAIL check line and one
 * for the overall result, led by the row's verdict, one column per engine).
 * An engine that cannot run here (engine_unavailable_reason) is a SKIP line
 * with the reason and a "skip" column, never a failure; engines that ran
 * but disagree on a row (a check missing, passing on one and failing on
 * another, a different overall result) fail the row and the run.
 * --json prints the monitor/report.c JSON object instead of the text (the
 * guest's output then goes to stderr); --junit FILE also writes JUnit XML.
 * PASS/FAIL lines are passed through (single engine) or led the table rows
 * (--all-engines), so tests/run.sh counts them.
 */
#include "monitor/commands.h"
#include "monitor/machine.h"
#include "monitor/engine.h"
#include "monitor/report.h"
#include "cpu/cpu.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <errno.h>
#include <time.h>

#define TR_NENGINES 4
static const char *const tr_engine_names[TR_NENGINES] = { "interp", "bt", "trap", "kvm" };

struct test_opts {
    const char *file;          /* the ROM or kernel                          */
    const char *engine;        /* --engine (default interp)                  */
    const char *append;        /* kernel command line                        */
    const char *junit;         /* --junit FILE or NULL                       */
    double timeout;            /* wall-clock limit per run, seconds          */
    uint64_t ram;              /* guest RAM bytes                            */
    bool all_engines, json;    /* --all-engines (or --engines), --json       */
    const char *engine_list;   /* --engines A,B,... or NULL                  */
};

/* One check line the guest printed ("PASS name" / "FAIL name"). */
struct tr_check {
    char *name;                /* text after "PASS " / "FAIL "               */
    unsigned occ;              /* occurrence of this name (0 = first)        */
    bool pass;
};

/* One engine's run. */
struct tr_run {
    const char *engine;
    bool ran;                  /* false: skipped (why) or error (why, error) */
    bool error;                /* the machine could not be built or loaded   */
    char why[300];
    bool ok;                   /* the overall verdict                        */
    char summary[200];         /* "POST codes ... ff, stopped: halted"       */
    struct tr_check *checks;
    size_t nchecks;
    double seconds;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(FILE *f, const char *what)
{
    fprintf(f, "usage: bt86 test %s FILE [--engine E | --all-engines | --engines LIST] [--timeout SECONDS]\n"
               "                      [-m MiB]%s\n"
               "                      [--json] [--junit FILE]\n"
               "  --engine E     interp (default), bt, trap or kvm\n"
               "  --all-engines  run every engine and show the results side by side; engines that\n"
               "                 cannot run here are skipped with the reason; a difference fails\n"
               "  --engines L    like --all-engines, for the engines in L (e.g. interp,bt)\n"
               "  --timeout S    wall-clock limit per run (default 60)\n"
               "  --json         the results as one JSON object on stdout (guest output to stderr)\n"
               "  --junit FILE   also write JUnit XML to FILE\n",
            what, strcmp(what, "kernel") ? "" : " [--append CMDLINE]");
}

/* 0 ok, 1 --help printed, -1 usage error (message printed). */
static int parse(int argc, char **argv, const char *what, struct test_opts *o)
{
    memset(o, 0, sizeof *o);
    o->engine = "interp"; o->append = ""; o->timeout = 60; o->ram = 64ull << 20;
    bool engine_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "--engine") && has) { o->engine = argv[++i]; engine_given = true; }
        else if (!strcmp(a, "--all-engines")) o->all_engines = true;
        else if (!strcmp(a, "--engines") && has) { o->all_engines = true; o->engine_list = argv[++i]; }
        else if (!strcmp(a, "--json")) o->json = true;
        else if (!strcmp(a, "--junit") && has) o->junit = argv[++i];
        else if (!strcmp(a, "--timeout") && has) {
            char *e;
            o->timeout = strtod(argv[++i], &e);
            if (*e || o->timeout <= 0) { cli_error("test %s: --timeout wants a positive number of seconds, not '%s'", what, argv[i]); return -1; }
        } else if (!strcmp(a, "--append") && has && !strcmp(what, "kernel")) o->append = argv[++i];
        else if (!strcmp(a, "-m") && has) {
            char *e;
            unsigned long long mib = strtoull(argv[++i], &e, 0);
            if (*e || !mib || mib > 3584) { cli_error("test %s: -m wants MiB (1..3584), not '%s'", what, argv[i]); return -1; }
            o->ram = (uint64_t)mib << 20;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout, what); return 1; }
        else if (a[0] == '-' && a[1]) {
            if (!has && (!strcmp(a, "--engine") || !strcmp(a, "--engines") || !strcmp(a, "--junit") || !strcmp(a, "--timeout") ||
                         !strcmp(a, "--append") || !strcmp(a, "-m")))
                cli_error("test %s: option '%s' needs an argument", what, a);
            else cli_error("test %s: unknown option '%s' (see --help)", what, a);
            return -1;
        } else if (!o->file) o->file = a;
        else { cli_error("test %s: one FILE only ('%s' is extra)", what, a); return -1; }
    }
    if (!o->file) { cli_error("test %s: which FILE?", what); return -1; }
    if (o->all_engines && engine_given) { cli_error("test %s: give --engine E or --all-engines, not both", what); return -1; }
    for (const char *p = o->engine_list; p && *p;) {
        size_t w = strcspn(p, ",");
        char nm[16];
        snprintf(nm, sizeof nm, "%.*s", (int)(w < 15 ? w : 15), p);
        if (w >= 15 || engine_kind_from_name(nm) < 0) {
            cli_error("test %s: --engines: unknown engine '%.*s' (interp, bt, trap, kvm)", what, (int)w, p);
            return -1;
        }
        p += w;
        if (*p == ',') p++;
    }
    if (engine_kind_from_name(o->engine) < 0) {
        cli_error("test %s: unknown engine '%s' (interp, bt, trap, kvm)", what, o->engine);
        return -1;
    }
    return 0;
}

static struct machine *make_machine(const struct test_opts *o, const char *engine, bool capture,
                                    char *err, size_t n)
{
    struct machine_config cfg;
    machine_config_defaults(&cfg);
    cfg.ram_bytes = o->ram;
    /* captured runs keep stdout for the table or the JSON */
    cfg.serial = capture ? "file:/dev/stderr" : "file:/dev/stdout";
    cfg.engine = engine;
    cfg.no_reboot = true;
    cfg.display = "none";
    cfg.debug_ports_to_stdout = !capture;
    cfg.max_seconds = o->timeout;
    return machine_new(&cfg, err, n);
}

/* The PASS/FAIL lines of the guest's port-0xE9 text. */
static void parse_checks(struct tr_run *r, const char *text)
{
    for (const char *p = text; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        bool pass = len > 5 && !strncmp(p, "PASS ", 5), fail = len > 5 && !strncmp(p, "FAIL ", 5);
        if (pass || fail) {
            struct tr_check *nc = realloc(r->checks, (r->nchecks + 1) * sizeof *nc);
            if (!nc) return;
            r->checks = nc;
            size_t l = len - 5;
            while (l && (p[5 + l - 1] == '\r' || p[5 + l - 1] == ' ')) l--;
            char *name = strndup(p + 5, l);
            if (!name) return;
            unsigned occ = 0;
            for (size_t i = 0; i < r->nchecks; i++) occ += !strcmp(r->checks[i].name, name);
            r->checks[r->nchecks++] = (struct tr_check){ name, occ, pass };
        }
        p = eol ? eol + 1 : NULL;
    }
}

static bool any_fail(const struct tr_run *r)
{
    for (size_t i = 0; i < r->nchecks; i++) if (!r->checks[i].pass) return true;
    return false;
}
static bool any_pass(const struct tr_run *r)
{
    for (size_t i = 0; i < r->nchecks; i++) if (r->checks[i].pass) return true;
    return false;
}

/* Run FILE on one engine. kernel: multiboot, else ROM image img[n]. */
static void run_one(const struct test_opts *o, bool kernel, const uint8_t *img, size_t n, bool capture,
                    struct tr_run *r)
{
    char err[512];
    double t0 = now_s();
    const char *why = engine_test_reason(r->engine, r->why, sizeof r->why);
    if (why) {
        if (why != r->why) snprintf(r->why, sizeof r->why, "%s", why);
        return;
    }
    struct machine *m = make_machine(o, r->engine, capture, err, sizeof err);
    int lrc = -1;
    if (m) {
        lrc = kernel ? machine_boot_multiboot(m, o->file, o->append, err, sizeof err)
                     : machine_load_bios(m, img, n, o->file, err, sizeof err);
    }
    if (!m || lrc) {
        r->error = true;
        snprintf(r->why, sizeof r->why, "%.290s", err);
        if (m) machine_free(m);
        return;
    }
    r->ran = true;
    enum machine_stop s = machine_run(m);
    fflush(stdout);
    const char *text = machine_debug_text(m);
    parse_checks(r, text);
    if (kernel) {
        if (s == STOP_EXIT_PORT) {
            int st = machine_exit_status(m);
            int v = (st - 1) >> 1;      /* the value written: status = (v << 1) | 1 */
            snprintf(r->summary, sizeof r->summary, "exit port: %d (%s)", v, v ? "failures reported" : "no failures");
            r->ok = v == 0 && !any_fail(r);
        } else {
            snprintf(r->summary, sizeof r->summary, "stopped (%s) without writing the exit port 0xF4",
                     machine_stop_name(s));
            r->ok = false;
        }
    } else {
        size_t np;
        const uint8_t *post = machine_post_codes(m, &np);
        size_t k = 0;
        k += (size_t)snprintf(r->summary + k, sizeof r->summary - k, "POST codes:");
        size_t first = np > 24 ? np - 24 : 0;          /* the last ones tell the story */
        if (first) k += (size_t)snprintf(r->summary + k, sizeof r->summary - k, " ...");
        for (size_t i = first; i < np && k < sizeof r->summary - 40; i++)
            k += (size_t)snprintf(r->summary + k, sizeof r->summary - k, " %02x", post[i]);
        snprintf(r->summary + k, sizeof r->summary - k, "; stopped: %s", machine_stop_name(s));
        r->ok = ((np && post[np - 1] == 0xFF) || any_pass(r)) && !any_fail(r);
        if (s == STOP_UNIMPL || s == STOP_LIMIT || s == STOP_RESET) r->ok = false;
    }
    machine_free(m);
    r->seconds = now_s() - t0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* The rows of the table: the union of every run's checks, by (name,
 * occurrence), in order of first appearance. */
struct tr_row { const char *name; unsigned occ; };

static int find_check(const struct tr_run *r, const struct tr_row *row)
{
    for (size_t i = 0; i < r->nchecks; i++)
        if (r->checks[i].occ == row->occ && !strcmp(r->checks[i].name, row->name)) return (int)i;
    return -1;
}

static int run_test(int argc, char **argv, bool kernel)
{
    const char *what = kernel ? "kernel" : "rom";
    struct test_opts o;
    int pr = parse(argc, argv, what, &o);
    if (pr) return pr > 0 ? 0 : 2;
    static uint8_t img[128 * 1024 + 1];
    size_t n = 0;
    if (!kernel) {
        FILE *f = fopen(o.file, "rb");
        if (!f) return cli_error("test rom: %s: %s", o.file, strerror(errno));
        n = fread(img, 1, sizeof img, f);
        fclose(f);
    }
    const char *engines[TR_NENGINES];
    int neng = 0;
    for (int i = 0; o.all_engines && i < TR_NENGINES; i++) {
        /* every engine, or those in --engines, in the canonical order */
        const char *n = tr_engine_names[i];
        size_t l = strlen(n);
        bool in = !o.engine_list;
        for (const char *p = o.engine_list; p && *p && !in; p += strcspn(p, ","), p += *p == ',')
            in = strcspn(p, ",") == l && !strncmp(p, n, l);
        if (in) engines[neng++] = n;
    }
    if (!o.all_engines) engines[neng++] = o.engine;
    bool capture = o.all_engines || o.json;

    struct tr_run runs[TR_NENGINES];
    memset(runs, 0, sizeof runs);
    struct report *rep = report_new(what);
    if (!rep) return cli_error("test %s: out of memory", what);
    report_prop(rep, "file", "%s", o.file);
    double t0 = now_s();
    int nran = 0, status = 0;
    char oname[300];
    snprintf(oname, sizeof oname, "%s/%s", what, base_name(o.file));
    for (int e = 0; e < neng; e++) {
        struct tr_run *r = &runs[e];
        r->engine = engines[e];
        run_one(&o, kernel, img, n, capture, r);
        if (r->error) {
            /* the same for every engine (a bad file): a usage-level error */
            if (!o.all_engines && !o.json) {
                report_free(rep);
                return cli_error("test %s: %s", what, r->why);
            }
            if (!o.json) printf("FAIL %s/%s: %s\n", oname, r->engine, r->why);
            report_case(rep, r->engine, oname, REPORT_ERROR, 0, r->why, NULL);
            status = 1;
            continue;
        }
        if (!r->ran) {
            if (!o.json) printf("SKIP %s/%s: engine %s cannot run here: %s\n", oname, r->engine, r->engine, r->why);
            report_case(rep, r->engine, oname, REPORT_SKIP, 0, r->why, NULL);
            continue;
        }
        nran++;
        if (!r->ok) status = 1;
        for (size_t i = 0; i < r->nchecks; i++)
            report_case(rep, r->engine, r->checks[i].name, r->checks[i].pass ? REPORT_PASS : REPORT_FAIL, 0,
                        NULL, NULL);
        int ci = report_case(rep, r->engine, oname, r->ok ? REPORT_PASS : REPORT_FAIL, r->seconds, r->summary, NULL);
        report_case_count(rep, ci, "checks", r->nchecks);
        if (!capture) {
            /* single engine: the guest's text went to stdout as it ran */
            if (kernel) printf("%s%s\n", r->ok ? "" : "bt86: test kernel: ", r->summary);
            else printf("\n%s\n", r->summary);
            if (!r->ok) fprintf(stderr, "bt86: test %s: %s did not pass on engine %s (%s)\n", what, o.file,
                                r->engine, r->summary);
        }
    }

    /* side by side */
    struct tr_row *rows = NULL;
    size_t nrows = 0;
    for (int e = 0; e < neng; e++)
        for (size_t i = 0; runs[e].ran && i < runs[e].nchecks; i++) {
            struct tr_row row = { runs[e].checks[i].name, runs[e].checks[i].occ };
            bool seen = false;
            for (size_t k = 0; k < nrows && !seen; k++)
                seen = rows[k].occ == row.occ && !strcmp(rows[k].name, row.name);
            if (seen) continue;
            struct tr_row *nr = realloc(rows, (nrows + 1) * sizeof *nr);
            if (!nr) break;
            rows = nr;
            rows[nrows++] = row;
        }
    if (o.all_engines && !o.json) {
        printf("%-6s %-44s", "", "check");
        for (int e = 0; e < neng; e++) printf(" %-7s", engines[e]);
        printf("\n");
    }
    for (size_t k = 0; k <= nrows && o.all_engines; k++) {
        bool last = k == nrows;                     /* the overall row */
        const char *name = last ? oname : rows[k].name;
        int ref = -1;
        bool agree = true, bad = false;
        char cells[TR_NENGINES][16];
        for (int e = 0; e < neng; e++) {
            const struct tr_run *r = &runs[e];
            int v;                                  /* 1 pass, 0 fail, -1 missing */
            if (!r->ran) {
                snprintf(cells[e], sizeof cells[e], "%s", r->error ? "ERROR" : "skip");
                if (r->error) bad = true;
                continue;
            }
            if (last) v = r->ok;
            else { int i = find_check(r, &rows[k]); v = i < 0 ? -1 : r->checks[i].pass; }
            snprintf(cells[e], sizeof cells[e], "%s", v < 0 ? "missing" : v ? "PASS" : "FAIL");
            if (v != 1) bad = true;
            if (ref < 0) ref = v;
            else if (ref != v) agree = false;
            if (last && ref == v && e > 0) {
                /* the overall results must agree in detail too */
                for (int p = 0; p < e; p++)
                    if (runs[p].ran && strcmp(runs[p].summary, r->summary)) agree = false;
            }
        }
        if (!agree) status = 1;
        if (nran > 1) {
            char msg[400] = "";
            size_t ml = 0;
            for (int e = 0; e < neng && !agree; e++)
                if (runs[e].ran && ml < sizeof msg - 60)
                    ml += (size_t)snprintf(msg + ml, sizeof msg - ml, "%s%s: %s", ml ? "; " : "", engines[e],
                                           last ? runs[e].summary : cells[e]);
            report_case(rep, "engines", name, agree ? REPORT_PASS : REPORT_FAIL, 0,
                        agree ? "every engine that ran gave the same result" : msg, NULL);
        }
        if (o.json) continue;
        printf("%-6s %-44s", bad || !agree ? "FAIL" : "PASS", name);
        for (int e = 0; e < neng; e++) printf(" %-7s", cells[e]);
        printf("%s\n", agree ? "" : "  (engines differ)");
    }
    if (o.all_engines && !o.json)
        for (int e = 0; e < neng; e++)
            if (runs[e].ran) printf("engine %s: %s -> %s (%.3f s)\n", engines[e], runs[e].summary,
                                    runs[e].ok ? "passed" : "FAILED", runs[e].seconds);
    report_set_seconds(rep, now_s() - t0);
    if (o.json) report_write_json(rep, stdout);
    char err[512];
    if (o.junit && report_write_junit(rep, o.junit, err, sizeof err)) {
        cli_error("test %s: %s", what, err);
        status = 2;
    }
    for (int e = 0; e < neng; e++) {
        for (size_t i = 0; i < runs[e].nchecks; i++) free(runs[e].checks[i].name);
        free(runs[e].checks);
    }
    free(rows);
    report_free(rep);
    return status;
}

int cmd_test_rom(int argc, char **argv) { return run_test(argc, argv, false); }
int cmd_test_kernel(int argc, char **argv) { return run_test(argc, argv, true); }
