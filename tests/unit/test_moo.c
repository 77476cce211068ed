/* tests/unit/test_moo.c - the MOO reader (monitor/moo.c) and metadata.json.
 *
 * Builds MOO chunk streams in memory (header, META, unknown chunks, TESTs
 * with every documented subchunk), checks the decoded fields, then feeds
 * truncated, corrupt and non-MOO input and expects errors, not crashes.
 * If the shared SingleStepTests data is present, one real file is checked
 * against values read by hand from the suite's README example.
 */
#include "tests/unit/test.h"
#include "monitor/moo.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* ---- a tiny chunk-stream builder ---- */
struct sb { uint8_t b[8192]; size_t n; };
static void put(struct sb *s, const void *p, size_t n) { memcpy(s->b + s->n, p, n); s->n += n; }
static void u8(struct sb *s, uint8_t v) { put(s, &v, 1); }
static void u16(struct sb *s, uint16_t v) { u8(s, (uint8_t)v); u8(s, (uint8_t)(v >> 8)); }
static void u32(struct sb *s, uint32_t v) { u16(s, (uint16_t)v); u16(s, (uint16_t)(v >> 16)); }
/* open a chunk: returns the offset of its length field, patched by end() */
static size_t begin(struct sb *s, const char *id) { put(s, id, 4); size_t at = s->n; u32(s, 0); return at; }
static void end(struct sb *s, size_t at)
{
    uint32_t len = (uint32_t)(s->n - at - 4);
    for (int i = 0; i < 4; i++) s->b[at + i] = (uint8_t)(len >> (8 * i));
}

static int g_pad;   /* extra bytes appended to FINA's REGS (future fields) */

static void add_test(struct sb *s, uint32_t idx, bool with_unknown)
{
    size_t t = begin(s, "TEST");
    u32(s, idx);
    if (with_unknown) { size_t g = begin(s, "GMET"); u32(s, 0xDEADBEEF); u16(s, 7); end(s, g); }
    size_t c = begin(s, "NAME"); u32(s, 15); put(s, "add [bx+0Eh],bl", 15); end(s, c);
    c = begin(s, "BYTS"); u32(s, 4); put(s, "\x00\x5f\x0e\xf4", 4); end(s, c);
    size_t init = begin(s, "INIT");
    c = begin(s, "REGS"); u16(s, 0x3FFF);
    for (int i = 0; i < 14; i++) u16(s, (uint16_t)(0x1000 + i + idx));
    end(s, c);
    if (with_unknown) { c = begin(s, "ZZZZ"); u32(s, 1); end(s, c); }
    c = begin(s, "RAM "); u32(s, 2); u32(s, 0x109428); u8(s, 0x00); u32(s, 0x10FFEF); u8(s, 0xAB); end(s, c);
    c = begin(s, "QUEU"); u32(s, 3); put(s, "\x01\x02\x03", 3); end(s, c);
    end(s, init);
    size_t fina = begin(s, "FINA");
    c = begin(s, "REGS"); u16(s, (1 << MOO_IP) | (1 << MOO_FLAGS)); u16(s, 0x94BC); u16(s, 0x0013);
    for (int i = 0; i < g_pad; i++) u8(s, 0xEE);
    end(s, c);
    c = begin(s, "RMSK"); u16(s, 1 << MOO_FLAGS); u16(s, 0xF7FF); end(s, c);
    c = begin(s, "RAM "); u32(s, 1); u32(s, 0x106821); u8(s, 0x01); end(s, c);
    end(s, fina);
    c = begin(s, "CYCL"); u32(s, 2);
    for (int i = 0; i < 30; i++) u8(s, (uint8_t)i);
    end(s, c);
    c = begin(s, "EXCP"); u8(s, 13); u32(s, 0x2DC5C); end(s, c);
    c = begin(s, "HASH");
    for (int i = 0; i < 20; i++) u8(s, (uint8_t)(0xA0 + i));
    end(s, c);
    end(s, t);
}

static void build(struct sb *s, uint32_t ntests, bool with_unknown)
{
    s->n = 0;
    size_t h = begin(s, "MOO ");
    u8(s, 1); u8(s, 1); u16(s, 0); u32(s, ntests); put(s, "C286", 4);
    end(s, h);
    size_t m = begin(s, "META");
    u8(s, 1); u8(s, 0); u8(s, 6); u32(s, 0); put(s, "add     ", 8); u32(s, ntests);
    u32(s, 0xDEADBEEF); u32(s, 0); u8(s, 0); u8(s, 0); u8(s, 0); u8(s, 0);
    end(s, m);
    if (with_unknown) { size_t x = begin(s, "XTRA"); put(s, "ignored!", 8); end(s, x); }
    for (uint32_t i = 0; i < ntests; i++) add_test(s, i, with_unknown);
}

static void test_parse_stream(void)
{
    static struct sb s;
    build(&s, 2, true);
    struct moo_file f;
    EXPECT_EQ(moo_open_buffer(&f, s.b, s.n, "mem"), 0);
    EXPECT_EQ(f.test_count, 2);
    EXPECT(!strcmp(f.cpu_id, "C286"));
    EXPECT(f.meta.present);
    EXPECT_EQ(f.meta.cpu_type, 6);
    EXPECT(!strcmp(f.meta.mnemonic, "add     "));
    EXPECT_EQ(f.meta.seed, 0xDEADBEEF);
    struct moo_test t;
    for (uint32_t i = 0; i < 2; i++) {
        EXPECT_EQ(moo_next(&f, &t), 1);
        EXPECT_EQ(t.index, i);
        EXPECT_EQ(t.name_len, 15);
        EXPECT(!memcmp(t.name, "add [bx+0Eh],bl", 15));
        EXPECT_EQ(t.nbytes, 4);
        EXPECT_EQ(t.bytes[1], 0x5F);
        EXPECT_EQ(t.bytes[3], 0xF4);
        EXPECT_EQ(t.init.regs.mask, 0x3FFF);
        EXPECT_EQ(t.init.regs.v[MOO_AX], 0x1000 + i);
        EXPECT_EQ(t.init.regs.v[MOO_FLAGS], 0x100D + i);
        EXPECT_EQ(t.init.ram_count, 2);
        uint32_t a; uint8_t v;
        moo_ram_entry(&t.init, 1, &a, &v);
        EXPECT_EQ(a, 0x10FFEF);
        EXPECT_EQ(v, 0xAB);
        EXPECT_EQ(t.init.queue_len, 3);
        EXPECT_EQ(t.init.queue[2], 3);
        EXPECT_EQ(t.fina.regs.mask, (1 << MOO_IP) | (1 << MOO_FLAGS));
        EXPECT_EQ(t.fina.regs.v[MOO_IP], 0x94BC);
        EXPECT_EQ(t.fina.regs.v[MOO_FLAGS], 0x13);
        EXPECT_EQ(t.fina.regs.v[MOO_AX], 0);
        EXPECT_EQ(t.fina.rmask.v[MOO_FLAGS], 0xF7FF);
        EXPECT_EQ(t.fina.ram_count, 1);
        moo_ram_entry(&t.fina, 0, &a, &v);
        EXPECT_EQ(a, 0x106821);
        EXPECT_EQ(v, 1);
        EXPECT_EQ(t.ncycles, 2);
        EXPECT_EQ(t.cycles[29], 29);
        EXPECT(t.has_exc);
        EXPECT_EQ(t.exc_num, 13);
        EXPECT_EQ(t.exc_flag_addr, 0x2DC5C);
        EXPECT(t.has_hash);
        EXPECT_EQ(t.hash[19], 0xB3);
    }
    EXPECT_EQ(moo_next(&f, &t), 0);
    moo_close(&f);
}

/* Every proper prefix of a valid stream is an error (at open or at some
 * moo_next), never a crash or a silent success. */
static void test_truncated_is_error(void)
{
    static struct sb s;
    build(&s, 2, true);
    int bad = 0;
    for (size_t len = 0; len < s.n; len++) {
        uint8_t *copy = malloc(len ? len : 1);   /* exact size: ASan sees overreads */
        memcpy(copy, s.b, len);
        struct moo_file f;
        int r = moo_open_buffer(&f, copy, len, "cut");
        if (r == 0) {
            struct moo_test t;
            int k;
            while ((k = moo_next(&f, &t)) == 1) {}
            if (k == 0) bad++;
            else if (!strstr(f.err, "cut: ")) bad++;
            moo_close(&f);
        } else if (!strstr(f.err, "cut: ")) bad++;
        free(copy);
    }
    EXPECT_EQ(bad, 0);
}

static int parse_all(const uint8_t *b, size_t n, char *err, size_t errlen)
{
    struct moo_file f;
    if (moo_open_buffer(&f, b, n, "x")) { snprintf(err, errlen, "%s", f.err); return -1; }
    struct moo_test t;
    int k, count = 0;
    while ((k = moo_next(&f, &t)) == 1) count++;
    if (k < 0) snprintf(err, errlen, "%s", f.err);
    moo_close(&f);
    return k < 0 ? -1 : count;
}

static void test_corrupt_is_error(void)
{
    static struct sb s;
    char err[800];
    /* wrong magic */
    build(&s, 1, false);
    s.b[0] = 'X';
    EXPECT_EQ(parse_all(s.b, s.n, err, sizeof err), -1);
    EXPECT(strstr(err, "not a MOO file") != NULL);
    /* unsupported major version */
    build(&s, 1, false);
    s.b[8] = 2;
    EXPECT_EQ(parse_all(s.b, s.n, err, sizeof err), -1);
    EXPECT(strstr(err, "version") != NULL);
    /* header count larger than the tests present */
    build(&s, 1, false);
    s.b[12] = 5;
    EXPECT_EQ(parse_all(s.b, s.n, err, sizeof err), -1);
    EXPECT(strstr(err, "header says 5 tests") != NULL);
    /* a huge chunk length */
    build(&s, 1, false);
    size_t test_at = 8 + 12 + 8 + 31;              /* MOO chunk + META chunk */
    EXPECT(!memcmp(s.b + test_at, "TEST", 4));
    memcpy(s.b + test_at + 4, "\xff\xff\xff\xff", 4);
    EXPECT_EQ(parse_all(s.b, s.n, err, sizeof err), -1);
    EXPECT(strstr(err, "claims") != NULL);
    /* REGS mask with bits past flags */
    build(&s, 1, false);
    uint8_t *regs = memmem(s.b, s.n, "REGS", 4);
    EXPECT(regs != NULL);
    if (regs) regs[9] = 0xFF;                      /* mask high byte */
    EXPECT_EQ(parse_all(s.b, s.n, err, sizeof err), -1);
    EXPECT(strstr(err, "mask") != NULL);
    /* RAM entry count larger than the chunk */
    build(&s, 1, false);
    uint8_t *ram = memmem(s.b, s.n, "RAM ", 4);
    EXPECT(ram != NULL);
    if (ram) memcpy(ram + 8, "\x00\x00\x00\x40", 4);
    EXPECT_EQ(parse_all(s.b, s.n, err, sizeof err), -1);
    EXPECT(strstr(err, "entries") != NULL);
    /* a test without FINA */
    build(&s, 1, false);
    uint8_t *fina = memmem(s.b, s.n, "FINA", 4);
    if (fina) memcpy(fina, "FINX", 4);             /* now an unknown chunk */
    EXPECT_EQ(parse_all(s.b, s.n, err, sizeof err), -1);
    EXPECT(strstr(err, "no FINA") != NULL);
    /* empty and random input */
    EXPECT_EQ(parse_all((const uint8_t *)"", 0, err, sizeof err), -1);
    EXPECT_EQ(parse_all((const uint8_t *)"hello world, no moo", 19, err, sizeof err), -1);
}

static void test_unknown_chunks_skipped(void)
{
    static struct sb a, b;
    build(&a, 3, true);
    build(&b, 3, false);
    char err[800];
    EXPECT(a.n > b.n);
    EXPECT_EQ(parse_all(a.b, a.n, err, sizeof err), 3);
    EXPECT_EQ(parse_all(b.b, b.n, err, sizeof err), 3);
    /* a REGS chunk longer than its mask needs (future fields) is fine */
    g_pad = 6;
    build(&b, 2, true);
    g_pad = 0;
    EXPECT_EQ(parse_all(b.b, b.n, err, sizeof err), 2);
    struct moo_file f;
    struct moo_test t;
    EXPECT_EQ(moo_open_buffer(&f, b.b, b.n, "pad"), 0);
    EXPECT_EQ(moo_next(&f, &t), 1);
    EXPECT_EQ(t.fina.regs.v[MOO_FLAGS], 0x13);
    EXPECT_EQ(t.fina.ram_count, 1);
    moo_close(&f);
}

static int write_file(const char *path, const void *p, size_t n, bool gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (!g) return -1;
        int w = gzwrite(g, p, (unsigned)n);
        gzclose(g);
        return w == (int)n ? 0 : -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

static void test_files(void)
{
    static struct sb s;
    build(&s, 4, true);
    char dir[] = "/tmp/bt86-moo-XXXXXX";
    EXPECT(mkdtemp(dir) != NULL);
    char gz[64], plain[64], cut[64], junk[64];
    snprintf(gz, sizeof gz, "%s/a.MOO.gz", dir);
    snprintf(plain, sizeof plain, "%s/a.MOO", dir);
    snprintf(cut, sizeof cut, "%s/cut.MOO.gz", dir);
    snprintf(junk, sizeof junk, "%s/junk.MOO.gz", dir);
    EXPECT_EQ(write_file(gz, s.b, s.n, true), 0);
    EXPECT_EQ(write_file(plain, s.b, s.n, false), 0);
    EXPECT_EQ(write_file(junk, "this is not gzip\n", 17, false), 0);
    struct moo_file f;
    struct moo_test t;
    int n = 0;
    EXPECT_EQ(moo_open_file(&f, gz), 0);
    while (moo_next(&f, &t) == 1) n++;
    moo_close(&f);
    EXPECT_EQ(n, 4);
    EXPECT_EQ(moo_open_file(&f, plain), 0);
    n = 0;
    while (moo_next(&f, &t) == 1) n++;
    moo_close(&f);
    EXPECT_EQ(n, 4);
    /* a gzip file cut in half */
    FILE *fp = fopen(gz, "rb");
    uint8_t buf[8192];
    size_t len = fp ? fread(buf, 1, sizeof buf, fp) : 0;
    if (fp) fclose(fp);
    EXPECT(len > 40);
    EXPECT_EQ(write_file(cut, buf, len / 2, false), 0);
    EXPECT_EQ(moo_open_file(&f, cut), -1);
    EXPECT(strstr(f.err, "truncated gzip") != NULL);
    EXPECT(strstr(f.err, "cut.MOO.gz") != NULL);
    /* corrupt deflate data */
    buf[len / 2] ^= 0xFF; buf[len / 2 + 1] ^= 0x55;
    EXPECT_EQ(write_file(cut, buf, len, false), 0);
    EXPECT_EQ(moo_open_file(&f, cut), -1);
    moo_close(&f);
    EXPECT_EQ(moo_open_file(&f, junk), -1);
    EXPECT(strstr(f.err, "not a gzip or MOO file") != NULL);
    EXPECT_EQ(moo_open_file(&f, "/nonexistent/x.MOO.gz"), -1);
    EXPECT(strstr(f.err, "cannot open") != NULL);
    unlink(gz); unlink(plain); unlink(cut); unlink(junk);
    rmdir(dir);
}

static void test_metadata(void)
{
    const char *js =
        "{ \"version\": \"1.0.0\", \"opcodes\": {\n"
        "  \"00\": {\"status\": \"normal\", \"arch\": \"86\"},\n"
        "  \"09\": {\"status\": \"normal\", \"flags\": \".....a..\", \"flags-mask\": 65519},\n"
        "  \"0F\": {\"status\": \"extension\"},\n"
        "  \"F6\": {\"reg\": {\"6\": {\"status\": \"normal\", \"flags-mask\": 63274},\n"
        "                    \"1\": {\"status\": \"alias\", \"flags-mask\": 65519}}},\n"
        "  \"d0\": {\"reg\": {\"0\": {\"status\": \"normal\"}}, \"x\": [1, -2.5e1, true, null, \"s\\\"q\"]}\n"
        "}}";
    struct moo_metadata md;
    char err[256];
    EXPECT_EQ(moo_metadata_parse(&md, js, strlen(js), "meta", err, sizeof err), 0);
    EXPECT(!strcmp(md.version, "1.0.0"));
    const struct moo_opinfo *o = moo_metadata_find(&md, "09");
    EXPECT(o != NULL);
    if (o) EXPECT_EQ(o->flags_mask, 65519);
    o = moo_metadata_find(&md, "00");
    if (o) EXPECT_EQ(o->flags_mask, 0xFFFF);
    o = moo_metadata_find(&md, "f6.6");
    EXPECT(o != NULL);
    if (o) { EXPECT_EQ(o->flags_mask, 63274); EXPECT(!strcmp(o->status, "normal")); }
    o = moo_metadata_find(&md, "F6.1");
    if (o) EXPECT(!strcmp(o->status, "alias"));
    o = moo_metadata_find(&md, "D0.0");              /* key was lower case */
    EXPECT(o != NULL);
    o = moo_metadata_find(&md, "F6.3");              /* falls back to "F6" */
    EXPECT(o != NULL);
    if (o) EXPECT_EQ(o->flags_mask, 0xFFFF);
    EXPECT(moo_metadata_find(&md, "C8") == NULL);
    moo_metadata_free(&md);

    const char *bad[] = { "", "{", "{\"opcodes\": {\"00\": {}}", "[1,2]", "{\"opcodes\": 3}",
                          "{\"opcodes\": {}} x", "{\"a\" 1}", "\"unterminated" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        EXPECT_EQ(moo_metadata_parse(&md, bad[i], strlen(bad[i]), "bad.json", err, sizeof err), -1);
        EXPECT(strstr(err, "bad.json") != NULL);
    }
    EXPECT_EQ(moo_metadata_load(&md, "/nonexistent/metadata.json", err, sizeof err), -1);
}

static const char *shared_dir(void)
{
    static char p[512];
    const char *s = getenv("BT86_SHARED");
    snprintf(p, sizeof p, "%s/testdata/singlesteptests-80286/v1_real_mode", s ? s : "../shared");
    if (access(p, R_OK) == 0) return p;
    snprintf(p, sizeof p, "/work/shared/testdata/singlesteptests-80286/v1_real_mode");
    return access(p, R_OK) == 0 ? p : NULL;
}

/* The suite README's example test is the first vector of 00.MOO.gz. */
static void test_real_file(void)
{
    const char *d = shared_dir();
    char path[600];
    snprintf(path, sizeof path, "%s/00.MOO.gz", d);
    struct moo_file f;
    EXPECT_EQ(moo_open_file(&f, path), 0);
    EXPECT_EQ(f.test_count, 2000);
    EXPECT(!strcmp(f.cpu_id, "C286"));
    EXPECT_EQ(f.meta.cpu_mode, 0);
    struct moo_test t;
    EXPECT_EQ(moo_next(&f, &t), 1);
    EXPECT_EQ(t.name_len, 15);
    EXPECT(!memcmp(t.name, "add [bx+0Eh],bl", 15));
    EXPECT_EQ(t.nbytes, 4);
    EXPECT_EQ(t.init.regs.v[MOO_AX], 715);
    EXPECT_EQ(t.init.regs.v[MOO_IP], 38072);
    EXPECT_EQ(t.init.regs.v[MOO_FLAGS], 6291);
    EXPECT_EQ(t.init.ram_count, 11);
    EXPECT_EQ(t.fina.regs.mask, (1 << MOO_IP) | (1 << MOO_FLAGS));
    EXPECT_EQ(t.fina.regs.v[MOO_IP], 38076);
    EXPECT_EQ(t.fina.regs.v[MOO_FLAGS], 19);
    uint32_t a; uint8_t v;
    moo_ram_entry(&t.fina, 0, &a, &v);
    EXPECT_EQ(a, 1075233);
    EXPECT_EQ(v, 1);
    EXPECT_EQ(t.ncycles, 19);
    EXPECT(t.has_hash);
    EXPECT_EQ(t.hash[0], 0x62);
    EXPECT(!t.has_exc);
    int n = 1, k;
    while ((k = moo_next(&f, &t)) == 1) n++;
    EXPECT_EQ(k, 0);
    EXPECT_EQ(n, 2000);
    moo_close(&f);

    struct moo_metadata md;
    char err[600];
    snprintf(path, sizeof path, "%s/metadata.json", d);
    EXPECT_EQ(moo_metadata_load(&md, path, err, sizeof err), 0);
    const struct moo_opinfo *o = moo_metadata_find(&md, "F7.7");
    EXPECT(o != NULL);
    if (o) EXPECT_EQ(o->flags_mask, 63274);
    o = moo_metadata_find(&md, "D3.4");
    if (o) EXPECT_EQ(o->flags_mask, 63470);
    moo_metadata_free(&md);
}

int main(void)
{
    RUN(test_parse_stream);
    RUN(test_truncated_is_error);
    RUN(test_corrupt_is_error);
    RUN(test_unknown_chunks_skipped);
    RUN(test_files);
    RUN(test_metadata);
    if (shared_dir()) RUN(test_real_file);
    else SKIP(test_real_file, "SingleStepTests 80286 data not found (BT86_SHARED)");
    return test_summary();
}
