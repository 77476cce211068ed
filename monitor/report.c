/* monitor/report.c - JUnit XML and JSON results for the test commands.
 *
 * Owns: the case list of a struct report and its renderings (see
 * monitor/report.h for the model). Invariants: all strings are owned copies;
 * totals are computed from the cases at write time; a write never emits a
 * byte the format forbids (JSON control characters are \u escapes; XML 1.0
 * cannot carry most C0 controls even as character references, so they are
 * written as '?').
 *
 * JUnit mapping (the de-facto schema of Ant/Jenkins/GitLab): one
 * <testsuites name=COMMAND> with one <testsuite name="COMMAND.GROUP"> per
 * group; a case is <testcase classname="COMMAND.GROUP" name=NAME time=S>
 * holding <failure message=..>OUTPUT</failure>, <error ..>, or
 * <skipped message=../>, and <system-out> for a passing case's output.
 * Report properties appear as <properties> of every <testsuite>; case
 * counters are appended to the case's <system-out> as "key=value" lines.
 */
#include "monitor/report.h"
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <errno.h>
#include <stdbool.h>

struct report_kv {
    char *key;                 /* property / counter name                   */
    char *str;                 /* string value, or NULL for a number        */
    double num;                /* numeric value when str == NULL && !is_u64 */
    bool is_u64;               /* the number is the exact integer u         */
    uint64_t u;
};

struct report_case {
    char *group, *name;        /* JUnit classname suffix / testcase name    */
    enum report_status st;
    double seconds;
    char *message, *output;    /* may be NULL                               */
    struct report_kv counts[REPORT_MAX_COUNTS];
    unsigned ncounts;
};

struct report {
    char *command;             /* "singlestep", "rom", "kernel", "diff"     */
    struct report_kv *props;   /* report-level properties, in order         */
    size_t nprops, capprops;
    struct report_case *cases;
    size_t ncases, capcases;
    double seconds;            /* < 0: sum of the cases                     */
};

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

struct report *report_new(const char *command)
{
    struct report *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->command = strdup(command ? command : "bt86");
    if (!r->command) { free(r); return NULL; }
    r->seconds = -1;
    return r;
}

void report_free(struct report *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->nprops; i++) { free(r->props[i].key); free(r->props[i].str); }
    for (size_t i = 0; i < r->ncases; i++) {
        struct report_case *c = &r->cases[i];
        free(c->group); free(c->name); free(c->message); free(c->output);
        for (unsigned k = 0; k < c->ncounts; k++) free(c->counts[k].key);
    }
    free(r->props);
    free(r->cases);
    free(r->command);
    free(r);
}

static int set_prop(struct report *r, const char *key, char *str, double num, bool is_u64, uint64_t u)
{
    for (size_t i = 0; i < r->nprops; i++)
        if (!strcmp(r->props[i].key, key)) {
            free(r->props[i].str);
            r->props[i] = (struct report_kv){ r->props[i].key, str, num, is_u64, u };
            return 0;
        }
    if (r->nprops == r->capprops) {
        size_t cap = r->capprops ? r->capprops * 2 : 8;
        struct report_kv *p = realloc(r->props, cap * sizeof *p);
        if (!p) { free(str); return -1; }
        r->props = p;
        r->capprops = cap;
    }
    char *k = strdup(key);
    if (!k) { free(str); return -1; }
    r->props[r->nprops++] = (struct report_kv){ k, str, num, is_u64, u };
    return 0;
}

int report_prop(struct report *r, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    return set_prop(r, key, s, 0, false, 0);
}

int report_prop_num(struct report *r, const char *key, double v) { return set_prop(r, key, NULL, v, false, 0); }
int report_prop_u64(struct report *r, const char *key, uint64_t v) { return set_prop(r, key, NULL, 0, true, v); }

int report_case(struct report *r, const char *group, const char *name, enum report_status st,
                double seconds, const char *message, const char *output)
{
    if (r->ncases == r->capcases) {
        size_t cap = r->capcases ? r->capcases * 2 : 64;
        struct report_case *c = realloc(r->cases, cap * sizeof *c);
        if (!c) return -1;
        r->cases = c;
        r->capcases = cap;
    }
    struct report_case *c = &r->cases[r->ncases];
    memset(c, 0, sizeof *c);
    c->group = strdup(group ? group : "");
    c->name = strdup(name ? name : "");
    c->message = dup_or_null(message);
    c->output = dup_or_null(output);
    if (!c->group || !c->name || (message && !c->message) || (output && !c->output)) {
        free(c->group); free(c->name); free(c->message); free(c->output);
        return -1;
    }
    c->st = st;
    c->seconds = seconds < 0 ? 0 : seconds;
    return (int)r->ncases++;
}

int report_case_count(struct report *r, int idx, const char *key, uint64_t v)
{
    if (idx < 0 || (size_t)idx >= r->ncases) return -1;
    struct report_case *c = &r->cases[idx];
    for (unsigned k = 0; k < c->ncounts; k++)
        if (!strcmp(c->counts[k].key, key)) { c->counts[k].u = v; return 0; }
    if (c->ncounts >= REPORT_MAX_COUNTS) return -1;
    char *k = strdup(key);
    if (!k) return -1;
    c->counts[c->ncounts++] = (struct report_kv){ k, NULL, 0, true, v };
    return 0;
}

void report_set_seconds(struct report *r, double seconds) { r->seconds = seconds; }
size_t report_ncases(const struct report *r) { return r->ncases; }

unsigned report_count(const struct report *r, enum report_status st)
{
    unsigned n = 0;
    for (size_t i = 0; i < r->ncases; i++) n += r->cases[i].st == st;
    return n;
}

int report_exit_status(const struct report *r)
{
    if (report_count(r, REPORT_FAIL) || report_count(r, REPORT_ERROR)) return 1;
    return report_count(r, REPORT_PASS) ? 0 : 1;
}

const char *report_status_name(enum report_status st)
{
    static const char *const n[REPORT_NSTATUS] = { "pass", "fail", "error", "skip" };
    return (unsigned)st < REPORT_NSTATUS ? n[st] : "?";
}

static double total_seconds(const struct report *r)
{
    if (r->seconds >= 0) return r->seconds;
    double s = 0;
    for (size_t i = 0; i < r->ncases; i++) s += r->cases[i].seconds;
    return s;
}

/* ---- escaping ---- */
void report_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (ch < 0x20) fprintf(f, "\\u%04x", ch);
            else fputc(ch, f);
        }
    }
    fputc('"', f);
}

void report_xml_str(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        case '\n': fputs("&#10;", f); break;   /* kept inside attributes too */
        case '\t': fputs("&#9;", f); break;
        case '\r': fputs("&#13;", f); break;
        default:
            /* XML 1.0 sec. 2.2: no other C0 control is a legal character */
            fputc(ch < 0x20 ? '?' : ch, f);
        }
    }
}

/* A number (JSON and XML attribute): integers exactly, others with 3 decimals. */
static void kv_num(FILE *f, const struct report_kv *kv)
{
    if (kv->is_u64) fprintf(f, "%llu", (unsigned long long)kv->u);
    else if (kv->num == (double)(int64_t)kv->num && kv->num > -9e15 && kv->num < 9e15)
        fprintf(f, "%lld", (long long)kv->num);
    else fprintf(f, "%.3f", kv->num);
}

int report_write_json(const struct report *r, FILE *f)
{
    unsigned n[REPORT_NSTATUS];
    for (int s = 0; s < REPORT_NSTATUS; s++) n[s] = report_count(r, (enum report_status)s);
    fputs("{\"command\":", f);
    report_json_str(f, r->command);
    fprintf(f, ",\"status\":\"%s\",\"tests\":%zu,\"passed\":%u,\"failed\":%u,\"errors\":%u,\"skipped\":%u,"
               "\"seconds\":%.3f,\"properties\":{",
            report_exit_status(r) ? "fail" : "pass", r->ncases, n[REPORT_PASS], n[REPORT_FAIL],
            n[REPORT_ERROR], n[REPORT_SKIP], total_seconds(r));
    for (size_t i = 0; i < r->nprops; i++) {
        if (i) fputc(',', f);
        report_json_str(f, r->props[i].key);
        fputc(':', f);
        if (r->props[i].str) report_json_str(f, r->props[i].str);
        else kv_num(f, &r->props[i]);
    }
    fputs("},\"cases\":[", f);
    for (size_t i = 0; i < r->ncases; i++) {
        const struct report_case *c = &r->cases[i];
        fputs(i ? ",\n{\"group\":" : "\n{\"group\":", f);
        report_json_str(f, c->group);
        fputs(",\"name\":", f);
        report_json_str(f, c->name);
        fprintf(f, ",\"status\":\"%s\",\"seconds\":%.3f", report_status_name(c->st), c->seconds);
        if (c->message) { fputs(",\"message\":", f); report_json_str(f, c->message); }
        if (c->output) { fputs(",\"output\":", f); report_json_str(f, c->output); }
        if (c->ncounts) {
            fputs(",\"counts\":{", f);
            for (unsigned k = 0; k < c->ncounts; k++) {
                if (k) fputc(',', f);
                report_json_str(f, c->counts[k].key);
                fputc(':', f);
                kv_num(f, &c->counts[k]);
            }
            fputc('}', f);
        }
        fputc('}', f);
    }
    fputs("\n]}\n", f);
    fflush(f);
    return ferror(f) ? -1 : 0;
}

static void junit_case(FILE *f, const char *cls, const struct report_case *c)
{
    fputs("    <testcase classname=\"", f);
    report_xml_str(f, cls);
    fputs("\" name=\"", f);
    report_xml_str(f, c->name);
    fprintf(f, "\" time=\"%.3f\">", c->seconds);
    static const char *const tag[REPORT_NSTATUS] = { NULL, "failure", "error", "skipped" };
    const char *msg = c->message ? c->message : report_status_name(c->st);
    if (tag[c->st]) {
        fprintf(f, "<%s message=\"", tag[c->st]);
        report_xml_str(f, msg);
        if (c->st == REPORT_SKIP || !c->output) {
            fputs("\"/>", f);
        } else {
            fputs("\">", f);
            report_xml_str(f, c->output);
            fprintf(f, "</%s>", tag[c->st]);
        }
    }
    bool out = (c->output && (c->st == REPORT_PASS || c->st == REPORT_SKIP)) || c->ncounts ||
               (c->st == REPORT_PASS && c->message);
    if (out) {
        fputs("<system-out>", f);
        if (c->st == REPORT_PASS && c->message) { report_xml_str(f, c->message); fputs("&#10;", f); }
        if (c->output && (c->st == REPORT_PASS || c->st == REPORT_SKIP)) {
            report_xml_str(f, c->output);
            fputs("&#10;", f);
        }
        for (unsigned k = 0; k < c->ncounts; k++) {
            report_xml_str(f, c->counts[k].key);
            fputc('=', f);
            kv_num(f, &c->counts[k]);
            fputs("&#10;", f);
        }
        fputs("</system-out>", f);
    }
    fputs("</testcase>\n", f);
}

int report_write_junit(const struct report *r, const char *path, char *err, size_t errlen)
{
    bool to_stdout = !strcmp(path, "-");
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    if (!f) { snprintf(err, errlen, "%s: cannot write JUnit XML: %s", path, strerror(errno)); return -1; }
    unsigned n[REPORT_NSTATUS];
    for (int s = 0; s < REPORT_NSTATUS; s++) n[s] = report_count(r, (enum report_status)s);
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"", f);
    report_xml_str(f, r->command);
    fprintf(f, "\" tests=\"%zu\" failures=\"%u\" errors=\"%u\" skipped=\"%u\" time=\"%.3f\">\n", r->ncases,
            n[REPORT_FAIL], n[REPORT_ERROR], n[REPORT_SKIP], total_seconds(r));
    /* one <testsuite> per group, in order of first appearance */
    for (size_t i = 0; i < r->ncases; i++) {
        const char *g = r->cases[i].group;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(r->cases[j].group, g);
        if (seen) continue;
        unsigned gn[REPORT_NSTATUS] = { 0 }, tests = 0;
        double secs = 0;
        for (size_t j = i; j < r->ncases; j++)
            if (!strcmp(r->cases[j].group, g)) { gn[r->cases[j].st]++; tests++; secs += r->cases[j].seconds; }
        char cls[256];
        snprintf(cls, sizeof cls, "%s%s%s", r->command, *g ? "." : "", g);
        fputs("  <testsuite name=\"", f);
        report_xml_str(f, cls);
        fprintf(f, "\" tests=\"%u\" failures=\"%u\" errors=\"%u\" skipped=\"%u\" time=\"%.3f\">\n", tests,
                gn[REPORT_FAIL], gn[REPORT_ERROR], gn[REPORT_SKIP], secs);
        if (r->nprops) {
            fputs("    <properties>", f);
            for (size_t p = 0; p < r->nprops; p++) {
                fputs("<property name=\"", f);
                report_xml_str(f, r->props[p].key);
                fputs("\" value=\"", f);
                if (r->props[p].str) report_xml_str(f, r->props[p].str);
                else kv_num(f, &r->props[p]);
                fputs("\"/>", f);
            }
            fputs("</properties>\n", f);
        }
        for (size_t j = i; j < r->ncases; j++)
            if (!strcmp(r->cases[j].group, g)) junit_case(f, cls, &r->cases[j]);
        fputs("  </testsuite>\n", f);
    }
    fputs("</testsuites>\n", f);
    if (to_stdout) {
        fflush(f);
        if (ferror(f)) { snprintf(err, errlen, "stdout: cannot write JUnit XML"); return -1; }
        return 0;
    }
    bool bad = ferror(f) != 0;
    if (fclose(f) || bad) { snprintf(err, errlen, "%s: cannot write JUnit XML: %s", path, strerror(errno)); return -1; }
    return 0;
}
