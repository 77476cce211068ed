/* tests/unit/test_report.c - the JUnit XML / JSON writer (monitor/report.c).
 *
 * Renders reports into memory (open_memstream) and checks the exact
 * escaping of hostile strings (quotes, markup, control characters), the
 * totals per status and per group, the exit-status rule and that a bad
 * JUnit path is an error naming the file.
 */
#include "tests/unit/test.h"
#include "monitor/report.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *render_json(const struct report *r)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return NULL;
    int rc = report_write_json(r, f);
    fclose(f);
    if (rc) { free(buf); return NULL; }
    return buf;
}

static char *render_junit(const struct report *r)
{
    char path[] = "/tmp/bt86-test-report-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    close(fd);
    char err[256];
    char *buf = NULL;
    if (report_write_junit(r, path, err, sizeof err) == 0) {
        FILE *f = fopen(path, "r");
        if (f) {
            buf = calloc(1, 1 << 16);
            if (buf) { size_t k = fread(buf, 1, (1 << 16) - 1, f); buf[k] = 0; }
            fclose(f);
        }
    }
    unlink(path);
    return buf;
}

static char *esc_json(const char *s)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    report_json_str(f, s);
    fclose(f);
    return buf;
}
static char *esc_xml(const char *s)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    report_xml_str(f, s);
    fclose(f);
    return buf;
}

static void test_json_escaping(void)
{
    char *s = esc_json("a\"b\\c\nd\te\x01" "f\x1f/");
    EXPECT(s && !strcmp(s, "\"a\\\"b\\\\c\\nd\\te\\u0001f\\u001f/\""));
    free(s);
    s = esc_json("");
    EXPECT(s && !strcmp(s, "\"\""));
    free(s);
    s = esc_json("\r\b\f");
    EXPECT(s && !strcmp(s, "\"\\r\\b\\f\""));
    free(s);
    s = esc_json("caf\xc3\xa9");                         /* UTF-8 passes through */
    EXPECT(s && !strcmp(s, "\"caf\xc3\xa9\""));
    free(s);
}

static void test_xml_escaping(void)
{
    char *s = esc_xml("<a href=\"x\">&'</a>");
    EXPECT(s && !strcmp(s, "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"));
    free(s);
    s = esc_xml("l1\nl2\tx\x01y\x1b");
    EXPECT(s && !strcmp(s, "l1&#10;l2&#9;x?y?"));
    free(s);
    s = esc_xml("&amp;");                                /* no double-unescaping */
    EXPECT(s && !strcmp(s, "&amp;amp;"));
    free(s);
}

static void test_counts_and_status(void)
{
    struct report *r = report_new("singlestep");
    EXPECT(r != NULL);
    if (!r) return;
    EXPECT_EQ(report_exit_status(r), 1);                 /* nothing ran: not a pass */
    EXPECT_EQ(report_case(r, "interp", "00", REPORT_PASS, 0.5, NULL, NULL), 0);
    EXPECT_EQ(report_case(r, "interp", "01", REPORT_PASS, 0.25, NULL, NULL), 1);
    EXPECT_EQ(report_exit_status(r), 0);
    EXPECT_EQ(report_case(r, "bt", "00", REPORT_SKIP, 0, "not implemented yet", NULL), 2);
    EXPECT_EQ(report_exit_status(r), 0);                 /* skips never fail */
    EXPECT_EQ(report_case(r, "interp", "F6.7", REPORT_FAIL, 1, "2 of 2000 failed", "#5: ax"), 3);
    EXPECT_EQ(report_exit_status(r), 1);
    EXPECT_EQ(report_case(r, "interp", "xx", REPORT_ERROR, 0, "cannot read", NULL), 4);
    EXPECT_EQ(report_count(r, REPORT_PASS), 2);
    EXPECT_EQ(report_count(r, REPORT_FAIL), 1);
    EXPECT_EQ(report_count(r, REPORT_ERROR), 1);
    EXPECT_EQ(report_count(r, REPORT_SKIP), 1);
    EXPECT_EQ(report_ncases(r), 5);
    EXPECT_EQ(report_case_count(r, 0, "vectors", 2000), 0);
    EXPECT_EQ(report_case_count(r, 0, "vectors", 1999), 0);     /* replaced, not added */
    EXPECT_EQ(report_case_count(r, 9, "vectors", 1), -1);       /* no such case */
    for (int k = 1; k < REPORT_MAX_COUNTS; k++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", k);
        EXPECT_EQ(report_case_count(r, 0, key, (uint64_t)k), 0);
    }
    EXPECT_EQ(report_case_count(r, 0, "one-too-many", 1), -1);
    report_free(r);
}

static void test_json_document(void)
{
    struct report *r = report_new("diff");
    if (!r) { EXPECT(r != NULL); return; }
    EXPECT_EQ(report_prop(r, "engines", "%s,%s", "interp", "host"), 0);
    EXPECT_EQ(report_prop_num(r, "seed", 7), 0);
    EXPECT_EQ(report_prop_num(r, "seed", 8), 0);          /* replaced in place */
    int i = report_case(r, "interp-vs-host", "case 12", REPORT_FAIL, 0.125, "eax: host 1 interp 2",
                        "bytes: 01 c8\n+000 add eax,ecx");
    report_case_count(r, i, "groups", 3);
    report_case_count(r, i, "first_seed", 18446744073709551557ull);   /* > 2^53: exact */
    report_prop_u64(r, "case_seed", 10660335020959568641ull);
    report_case(r, "interp-vs-host", "sequences", REPORT_PASS, 2, NULL, NULL);
    report_set_seconds(r, 3.5);
    char *j = render_json(r);
    EXPECT(j != NULL);
    if (j) {
        EXPECT(strstr(j, "{\"command\":\"diff\",\"status\":\"fail\",\"tests\":2,\"passed\":1,\"failed\":1,"
                         "\"errors\":0,\"skipped\":0,\"seconds\":3.500,") == j);
        EXPECT(strstr(j, "\"properties\":{\"engines\":\"interp,host\",\"seed\":8,") != NULL);
        EXPECT(strstr(j, "{\"group\":\"interp-vs-host\",\"name\":\"case 12\",\"status\":\"fail\","
                         "\"seconds\":0.125,\"message\":\"eax: host 1 interp 2\","
                         "\"output\":\"bytes: 01 c8\\n+000 add eax,ecx\",\"counts\":{\"groups\":3,"
                         "\"first_seed\":18446744073709551557}}") != NULL);
        EXPECT(strstr(j, "\"case_seed\":10660335020959568641") != NULL);
        EXPECT(strstr(j, "{\"group\":\"interp-vs-host\",\"name\":\"sequences\",\"status\":\"pass\",\"seconds\":2.000}")
               != NULL);
        EXPECT(j[strlen(j) - 1] == '\n' && j[strlen(j) - 2] == '}');
        /* every quote outside escapes is balanced: an even count */
        unsigned q = 0;
        for (const char *p = j; *p; p++) if (*p == '"' && p[-1] != '\\') q++;
        EXPECT_EQ(q % 2, 0);
    }
    free(j);
    report_free(r);
}

static unsigned count_sub(const char *s, const char *sub)
{
    unsigned n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub)) n++;
    return n;
}

static void test_junit_document(void)
{
    struct report *r = report_new("rom");
    if (!r) { EXPECT(r != NULL); return; }
    report_prop(r, "file", "build/cpu/int32.bin");
    report_case(r, "interp", "int32/add", REPORT_PASS, 0.1, NULL, NULL);
    report_case(r, "bt", "int32/add", REPORT_SKIP, 0, "the bt engine is not implemented yet", NULL);
    report_case(r, "interp", "int32/<div>", REPORT_FAIL, 0.2, "got \"5\" & not 6", "line1\nline2");
    report_case(r, "all", "int32: engines agree", REPORT_ERROR, 0, "timed out", NULL);
    char *x = render_junit(r);
    EXPECT(x != NULL);
    if (x) {
        EXPECT(strstr(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n") == x);
        EXPECT(strstr(x, "<testsuites name=\"rom\" tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\"") != NULL);
        EXPECT(strstr(x, "<testsuite name=\"rom.interp\" tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\"") != NULL);
        EXPECT(strstr(x, "<testsuite name=\"rom.bt\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"1\"") != NULL);
        EXPECT(strstr(x, "<testsuite name=\"rom.all\" tests=\"1\" failures=\"0\" errors=\"1\"") != NULL);
        EXPECT_EQ(count_sub(x, "<testsuite "), 3);
        EXPECT_EQ(count_sub(x, "</testsuite>"), 3);
        EXPECT_EQ(count_sub(x, "<testcase "), 4);
        EXPECT_EQ(count_sub(x, "</testcase>"), 4);
        EXPECT_EQ(count_sub(x, "<property name=\"file\" value=\"build/cpu/int32.bin\"/>"), 3);
        EXPECT(strstr(x, "name=\"int32/&lt;div&gt;\"") != NULL);
        EXPECT(strstr(x, "<failure message=\"got &quot;5&quot; &amp; not 6\">line1&#10;line2</failure>") != NULL);
        EXPECT(strstr(x, "<skipped message=\"the bt engine is not implemented yet\"/>") != NULL);
        EXPECT(strstr(x, "<error message=\"timed out\"/>") != NULL);
        /* the interp group holds both interp cases even though bt came between */
        const char *gi = strstr(x, "rom.interp\" tests"), *gb = strstr(x, "rom.bt\" tests");
        EXPECT(gi && gb && gi < gb && strstr(gi, "int32/&lt;div&gt;") < gb);
        EXPECT(strstr(x, "</testsuites>\n") != NULL);
    }
    free(x);
    report_free(r);
}

static void test_junit_bad_path(void)
{
    struct report *r = report_new("kernel");
    if (!r) { EXPECT(r != NULL); return; }
    report_case(r, "interp", "k", REPORT_PASS, 0, NULL, NULL);
    char err[256] = "";
    EXPECT_EQ(report_write_junit(r, "/nonexistent-dir/x.xml", err, sizeof err), -1);
    EXPECT(strstr(err, "/nonexistent-dir/x.xml") != NULL);
    report_free(r);
}

int main(void)
{
    RUN(test_json_escaping);
    RUN(test_xml_escaping);
    RUN(test_counts_and_status);
    RUN(test_json_document);
    RUN(test_junit_document);
    RUN(test_junit_bad_path);
    return test_summary();
}
