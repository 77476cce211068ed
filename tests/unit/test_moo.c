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
#include <fcntl.h>
#include <stdarg.h>
#include <zlib.h>
#include "monitor/commands.h"

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


/* ---- the runner (monitor/cmd_singlestep.c) on vectors built here ---- */

/* cli_error lives in monitor/main.c, which is not in libbt86.a */
__attribute__((weak)) int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

struct vec {
    const char *name;
    uint16_t init[MOO_NREGS];
    uint32_t iram[16][2]; int niram;
    uint16_t fmask, fin[MOO_NREGS];
    uint32_t fram[16][2]; int nfram;
    int exc;                                /* -1: no EXCP chunk */
    const char *byts; uint32_t nbyts;       /* BYTS (instruction + HALT) */
};

static void put_vec(struct sb *s, uint32_t idx, const struct vec *v)
{
    size_t t = begin(s, "TEST");
    u32(s, idx);
    size_t c = begin(s, "NAME"); u32(s, (uint32_t)strlen(v->name)); put(s, v->name, strlen(v->name)); end(s, c);
    c = begin(s, "BYTS"); u32(s, v->nbyts); put(s, v->byts ? v->byts : "", v->nbyts); end(s, c);
    size_t init = begin(s, "INIT");
    c = begin(s, "REGS"); u16(s, 0x3FFF);
    for (int i = 0; i < MOO_NREGS; i++) u16(s, v->init[i]);
    end(s, c);
    c = begin(s, "RAM "); u32(s, (uint32_t)v->niram);
    for (int i = 0; i < v->niram; i++) { u32(s, v->iram[i][0]); u8(s, (uint8_t)v->iram[i][1]); }
    end(s, c);
    end(s, init);
    size_t fina = begin(s, "FINA");
    c = begin(s, "REGS"); u16(s, v->fmask);
    for (int i = 0; i < MOO_NREGS; i++) if (v->fmask & (1u << i)) u16(s, v->fin[i]);
    end(s, c);
    c = begin(s, "RAM "); u32(s, (uint32_t)v->nfram);
    for (int i = 0; i < v->nfram; i++) { u32(s, v->fram[i][0]); u8(s, (uint8_t)v->fram[i][1]); }
    end(s, c);
    end(s, fina);
    if (v->exc >= 0) { c = begin(s, "EXCP"); u8(s, (uint8_t)v->exc); u32(s, 0); end(s, c); }
    end(s, t);
}

/* Write DIR/NAME.MOO.gz holding the given vectors. */
static void write_moo(const char *dir, const char *stem, const struct vec *v, int n)
{
    static struct sb s;
    s.n = 0;
    size_t h = begin(&s, "MOO ");
    u8(&s, 1); u8(&s, 1); u16(&s, 0); u32(&s, (uint32_t)n); put(&s, "C286", 4);
    end(&s, h);
    for (int i = 0; i < n; i++) put_vec(&s, (uint32_t)i, &v[i]);
    char path[256];
    snprintf(path, sizeof path, "%s/%s.MOO.gz", dir, stem);
    EXPECT_EQ(write_file(path, s.b, s.n, true), 0);
}

/* Run `bt86 test singlestep DIR ARGS...` with stdout/stderr captured in
 * out (so its PASS/FAIL lines do not mix with this test's). */
static int run_ss(char *out, size_t outlen, const char *dir, const char *a1, const char *a2)
{
    char tmpl[] = "/tmp/bt86-ss-out-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) return -1;
    fflush(stdout); fflush(stderr);
    int so = dup(1), se = dup(2);
    dup2(fd, 1); dup2(fd, 2);
    char *argv[8] = { "singlestep", (char *)dir, "--no-progress", NULL, NULL, NULL };
    int argc = 3;
    if (a1) argv[argc++] = (char *)a1;
    if (a2) argv[argc++] = (char *)a2;
    int r = cmd_test_singlestep(argc, argv);
    fflush(stdout); fflush(stderr);
    dup2(so, 1); dup2(se, 2); close(so); close(se);
    ssize_t n = pread(fd, out, outlen - 1, 0);
    out[n > 0 ? n : 0] = 0;
    close(fd);
    unlink(tmpl);
    return r;
}

static void vec_base(struct vec *v, const char *name, uint8_t op)
{
    memset(v, 0, sizeof *v);
    v->name = name;
    uint16_t r[MOO_NREGS] = { 0x1111, 0x2222, 0x3333, 0x4444, 0x1000, 0x2000, 0x3000, 0x4000,
                              0x0100, 0x5555, 0x6666, 0x7777, 0x0100, 0xF002 };
    memcpy(v->init, r, sizeof r);
    v->iram[0][0] = 0x10100; v->iram[0][1] = op;       /* CS:IP */
    v->iram[1][0] = 0x10101; v->iram[1][1] = 0xF4;     /* the HALT */
    v->niram = 2;
    v->exc = -1;
}

static void test_runner_pass_fail(void)
{
    char dir[] = "/tmp/bt86-ssrun-XXXXXX";
    EXPECT(mkdtemp(dir) != NULL);
    static char out[65536];
    struct vec v[3];
    /* NOP: IP ends past the HALT; FLAGS bits 12-15 read back as 0 */
    vec_base(&v[0], "nop", 0x90);
    v[0].fmask = (1 << MOO_IP) | (1 << MOO_FLAGS);
    v[0].fin[MOO_IP] = 0x0102; v[0].fin[MOO_FLAGS] = 0x0002;
    /* the same with a wrong expectation for AX */
    v[1] = v[0];
    v[1].fmask |= 1 << MOO_AX; v[1].fin[MOO_AX] = 0x1112;
    write_moo(dir, "90", v, 1);
    EXPECT_EQ(run_ss(out, sizeof out, dir, NULL, NULL), 0);
    EXPECT(strstr(out, "PASS ss/90\n") != NULL);
    EXPECT(strstr(out, "1 passed, 0 failed, 0 excluded") != NULL);
    write_moo(dir, "90", v, 2);
    EXPECT_EQ(run_ss(out, sizeof out, dir, "-v", NULL), 1);
    EXPECT(strstr(out, "FAIL ss/90: 1 of 2 failed (first: #1 nop: ax: expected 0x1112 got 0x1111)") != NULL);
    EXPECT(strstr(out, "ax: expected 0x1112 got 0x1111") != NULL);
    EXPECT(strstr(out, "1 passed, 1 failed, 0 excluded") != NULL);
    /* a RAM byte the instruction should have written */
    v[1] = v[0];
    v[1].fram[0][0] = 0x10102; v[1].fram[0][1] = 0x77; v[1].nfram = 1;
    write_moo(dir, "90", v, 2);
    EXPECT_EQ(run_ss(out, sizeof out, dir, NULL, NULL), 1);
    EXPECT(strstr(out, "ram[0x010102]: expected 0x77 got 0x00") != NULL);
    /* JSON */
    EXPECT_EQ(run_ss(out, sizeof out, dir, "--json", NULL), 1);
    EXPECT(strstr(out, "\"vectors\":2,\"passed\":1,\"failed\":1,\"excluded\":0") != NULL);
    /* a broken file is a FAIL naming it, and --opcode picks one file */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/91.MOO.gz", dir);
    EXPECT_EQ(write_file(bad, "MOO \x0c\0\0\0", 8, true), 0);
    EXPECT_EQ(run_ss(out, sizeof out, dir, NULL, NULL), 1);
    EXPECT(strstr(out, "FAIL ss/91: cannot read: ") != NULL);
    EXPECT(strstr(out, "91.MOO.gz") != NULL);
    write_moo(dir, "90", v, 1);
    EXPECT_EQ(run_ss(out, sizeof out, dir, "--opcode", "90"), 0);
    EXPECT(strstr(out, "ss/91") == NULL);
    EXPECT_EQ(run_ss(out, sizeof out, dir, "--opcode", "C8"), 2);
    unlink(bad);
    snprintf(bad, sizeof bad, "%s/90.MOO.gz", dir);
    unlink(bad);

    /* LOCK NOP: a P6 raises #UD, the 286 runs a NOP. Rule lock-ud runs it
     * again with the LOCK byte replaced; that run must match the 286. */
    vec_base(&v[0], "lock nop", 0xF0);
    v[0].iram[1][1] = 0x90;
    v[0].iram[2][0] = 0x10102; v[0].iram[2][1] = 0xF4;
    v[0].niram = 3;
    v[0].byts = "\xf0\x90\xf4"; v[0].nbyts = 3;
    v[0].fmask = (1 << MOO_IP) | (1 << MOO_FLAGS);
    v[0].fin[MOO_IP] = 0x0103; v[0].fin[MOO_FLAGS] = 0x0002;
    v[1] = v[0];
    v[1].fmask |= 1 << MOO_DX; v[1].fin[MOO_DX] = 0x4445;          /* wrong */
    write_moo(dir, "90", v, 1);
    EXPECT_EQ(run_ss(out, sizeof out, dir, NULL, NULL), 0);
    EXPECT(strstr(out, "PASS ss/90 (1 passed with LOCK replaced)") != NULL);
    write_moo(dir, "90", v, 2);
    EXPECT_EQ(run_ss(out, sizeof out, dir, NULL, NULL), 1);
    EXPECT(strstr(out, "first: #1 lock nop: with LOCK replaced: dx: expected 0x4445 got 0x4444") != NULL);
    unlink(bad);
    rmdir(dir);
}

/* metadata.json's undefined-flag mask (register and pushed image) and the
 * iopl-nt rule for POPF. */
static void test_runner_masks(void)
{
    char dir[] = "/tmp/bt86-ssrun-XXXXXX";
    EXPECT(mkdtemp(dir) != NULL);
    static char out[65536];
    struct vec v[2];
    /* DIV CL with CL = 0: #DE through IVT[0] = 3000:0200. The 286 pushed
     * FLAGS with every arithmetic flag toggled (undefined after DIV). */
    vec_base(&v[0], "div cl", 0xF6);
    v[0].init[MOO_CX] = 0x3300;
    v[0].init[MOO_FLAGS] = 0x0202;                      /* IF set */
    v[0].iram[2][0] = 0x10102; v[0].iram[2][1] = 0xF1; /* modrm: /6, cl */
    v[0].iram[1][1] = 0xF1;
    v[0].iram[2][1] = 0xF4;
    v[0].iram[3][0] = 0; v[0].iram[3][1] = 0x00;
    v[0].iram[4][0] = 1; v[0].iram[4][1] = 0x02;
    v[0].iram[5][0] = 2; v[0].iram[5][1] = 0x00;
    v[0].iram[6][0] = 3; v[0].iram[6][1] = 0x30;
    v[0].niram = 7;
    v[0].fmask = (1 << MOO_CS) | (1 << MOO_IP) | (1 << MOO_SP) | (1 << MOO_FLAGS);
    v[0].fin[MOO_CS] = 0x3000; v[0].fin[MOO_IP] = 0x0201; v[0].fin[MOO_SP] = 0x00FA;
    v[0].fin[MOO_FLAGS] = 0x0002 ^ 0x08D5;              /* IF cleared, undefined bits toggled */
    uint32_t fr = 0x20000 + 0xFA;
    uint32_t frame[6][2] = { { fr, 0x00 }, { fr + 1, 0x01 }, { fr + 2, 0x00 }, { fr + 3, 0x10 },
                             { fr + 4, (0x0202 ^ 0x08D5) & 0xFF }, { fr + 5, (0x0202 ^ 0x08D5) >> 8 } };
    memcpy(v[0].fram, frame, sizeof frame);
    v[0].nfram = 6;
    v[0].exc = 0;
    write_moo(dir, "F6.6", v, 1);
    EXPECT_EQ(run_ss(out, sizeof out, dir, "-v", NULL), 1);     /* no metadata: flags differ */
    EXPECT(strstr(out, "FAIL ss/F6.6") != NULL);
    EXPECT(strstr(out, "(pushed FLAGS") == NULL);
    char md[300];
    snprintf(md, sizeof md, "%s/metadata.json", dir);
    const char *js = "{\"opcodes\": {\"F6\": {\"reg\": {\"6\": {\"status\": \"normal\", \"flags-mask\": 63274}}}}}";
    EXPECT_EQ(write_file(md, js, strlen(js), false), 0);
    EXPECT_EQ(run_ss(out, sizeof out, dir, "-v", NULL), 0);
    EXPECT(strstr(out, "PASS ss/F6.6\n") != NULL);
    /* a defined bit (DF) still counts */
    v[0].fram[5][1] ^= 0x04;
    write_moo(dir, "F6.6", v, 1);
    EXPECT_EQ(run_ss(out, sizeof out, dir, NULL, NULL), 1);
    char p[300];
    snprintf(p, sizeof p, "%s/F6.6.MOO.gz", dir);
    unlink(p);

    /* POPF of an image with IOPL=3, NT=1: the 286 keeps bits 12-15 clear,
     * a P6 loads them; rule iopl-nt ignores those bits, not the others. */
    vec_base(&v[0], "popf", 0x9D);
    v[0].iram[2][0] = 0x20100; v[0].iram[2][1] = 0x01;      /* image 0x7001 at SS:SP */
    v[0].iram[3][0] = 0x20101; v[0].iram[3][1] = 0x70;
    v[0].niram = 4;
    v[0].fmask = (1 << MOO_IP) | (1 << MOO_SP) | (1 << MOO_FLAGS);
    v[0].fin[MOO_IP] = 0x0102; v[0].fin[MOO_SP] = 0x0102; v[0].fin[MOO_FLAGS] = 0x0003;
    v[1] = v[0];
    v[1].fin[MOO_FLAGS] = 0x0002;                            /* wrong: CF was popped */
    write_moo(dir, "9D", v, 2);
    EXPECT_EQ(run_ss(out, sizeof out, dir, NULL, NULL), 1);
    EXPECT(strstr(out, "FAIL ss/9D: 1 of 2 failed (first: #1 popf: flags") != NULL);
    unlink(md);
    snprintf(p, sizeof p, "%s/9D.MOO.gz", dir);
    unlink(p);
    rmdir(dir);
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
    RUN(test_runner_pass_fail);
    RUN(test_runner_masks);
    return test_summary();
}
