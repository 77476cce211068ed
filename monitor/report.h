/* monitor/report.h - machine-readable results of the test commands.
 *
 * Owns: one result model for `bt86 test singlestep|rom|kernel|diff` and its
 * two renderings: JUnit XML (--junit FILE, for CI systems) and JSON
 * (--json). A report is a list of test cases, each with a group (the engine,
 * or "all" for cross-engine checks), a name, a status, a duration, a
 * one-line message, free text output and a few named counters; plus
 * report-level properties (engine, seed, path ...).
 * Invariants: every string is copied (callers may pass stack buffers); the
 * writers escape everything (JSON: RFC 8259 section 7; XML 1.0: markup
 * characters as entities, control characters XML cannot carry as '?');
 * counts are derived from the cases, so the totals always add up; cases keep
 * the order they were added and JUnit <testsuite> elements follow the order
 * in which groups first appear.
 */
#ifndef BT86_REPORT_H
#define BT86_REPORT_H
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>

enum report_status { REPORT_PASS, REPORT_FAIL, REPORT_ERROR, REPORT_SKIP };
#define REPORT_NSTATUS 4
#define REPORT_MAX_COUNTS 8        /* named counters per case               */

struct report;

/* A report for `command` ("singlestep", "rom", "kernel", "diff"). NULL only
 * when out of memory. */
struct report *report_new(const char *command);
void report_free(struct report *r);

/* Report-level properties, in order; setting a key again replaces it.
 * report_prop is a JSON string, report_prop_num a JSON number. 0 or -1
 * (out of memory). */
int report_prop(struct report *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int report_prop_num(struct report *r, const char *key, double v);
int report_prop_u64(struct report *r, const char *key, uint64_t v);   /* exact */

/* Add a case. message: one line (NULL: none); output: details (NULL: none).
 * Returns its index, or -1 when out of memory. */
int report_case(struct report *r, const char *group, const char *name, enum report_status st,
                double seconds, const char *message, const char *output);
/* A named counter of case `idx`, kept exactly (at most REPORT_MAX_COUNTS;
 * more are dropped and -1 returned). */
int report_case_count(struct report *r, int idx, const char *key, uint64_t v);

/* Wall time of the whole run (default: the sum of the cases' times). */
void report_set_seconds(struct report *r, double seconds);

size_t report_ncases(const struct report *r);
/* Cases with status st. */
unsigned report_count(const struct report *r, enum report_status st);
/* 0 when no case failed or had an error and at least one passed, else 1. */
int report_exit_status(const struct report *r);

const char *report_status_name(enum report_status st);   /* "pass", "fail", "error", "skip" */

/* The whole report as one JSON object (and a newline) on f. 0, or -1 on a
 * write error. Shape (docs/harness.md):
 *   {"command":..,"status":"pass"|"fail","tests":N,"passed":N,"failed":N,
 *    "errors":N,"skipped":N,"seconds":S,"properties":{..},
 *    "cases":[{"group":..,"name":..,"status":..,"seconds":S,
 *              "message":..,"output":..,"counts":{..}}, ..]} */
int report_write_json(const struct report *r, FILE *f);
/* JUnit XML to `path` ("-" is stdout). 0, or -1 with a message naming the
 * file in err. */
int report_write_junit(const struct report *r, const char *path, char *err, size_t errlen);

/* The escapers the writers use (also for callers' own output). */
void report_json_str(FILE *f, const char *s);   /* with the quotes */
void report_xml_str(FILE *f, const char *s);    /* attribute- and text-safe */

#endif
