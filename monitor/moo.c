/* monitor/moo.c - MOO test-file reader and metadata.json loader.
 *
 * Owns: gzip decoding of a whole MOO file into memory, the chunk walk, and a
 * small JSON reader for the suite's metadata.json. See monitor/moo.h for the
 * format summary. Invariants: every chunk length is checked against the
 * bytes its parent has left before the payload is touched; all multi-byte
 * fields are read with explicit little-endian loads (no unaligned casts);
 * errors are strings naming the file and the offset, never aborts.
 */
#include "monitor/moo.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <errno.h>
#include <zlib.h>

const char *const moo_reg_names[MOO_NREGS] = {
    "ax", "bx", "cx", "dx", "cs", "ss", "ds", "es",
    "sp", "bp", "si", "di", "ip", "flags",
};

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

static int fail(struct moo_file *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct moo_file *f, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(f->err, sizeof f->err, "%s: %s", f->label, msg);
    return -1;
}

/* A chunk header at p (with `left` bytes available): type and payload. */
struct chunk { char id[5]; const uint8_t *p; uint32_t len; };

/* Read the chunk at data[*off] within [0, end); advance *off past it.
 * 1: got one; 0: no bytes left; -1: truncated (message in f->err). */
static int chunk_at(struct moo_file *f, const uint8_t *base, size_t *off, size_t end,
                    struct chunk *c, const char *where)
{
    if (*off >= end) return 0;
    size_t left = end - *off;
    if (left < 8)
        return fail(f, "truncated chunk header in %s at offset %zu (%zu bytes left, need 8)",
                    where, (size_t)(base + *off - f->data), left);
    const uint8_t *h = base + *off;
    for (int i = 0; i < 4; i++) c->id[i] = (h[i] >= 0x20 && h[i] < 0x7F) ? (char)h[i] : '?';
    c->id[4] = 0;
    c->len = le32(h + 4);
    if (c->len > left - 8)
        return fail(f, "chunk '%s' in %s at offset %zu claims %u bytes, only %zu left (truncated or corrupt)",
                    c->id, where, (size_t)(h - f->data), c->len, left - 8);
    c->p = h + 8;
    *off += 8 + (size_t)c->len;
    return 1;
}

static bool is(const struct chunk *c, const char *id) { return memcmp(c->id, id, 4) == 0; }

static int parse_regs16(struct moo_file *f, const struct chunk *c, struct moo_regs *r, uint32_t test)
{
    if (c->len < 2) return fail(f, "test %u: %s chunk too short (%u bytes)", test, c->id, c->len);
    uint16_t mask = le16(c->p);
    if (mask >> MOO_NREGS)
        return fail(f, "test %u: %s mask 0x%04x has bits past 'flags' (corrupt)", test, c->id, mask);
    unsigned n = (unsigned)__builtin_popcount(mask);
    if (c->len < 2 + 2 * n)
        return fail(f, "test %u: %s chunk holds %u bytes, mask 0x%04x needs %u", test, c->id,
                    c->len, mask, 2 + 2 * n);
    memset(r, 0, sizeof *r);
    r->mask = mask;
    const uint8_t *p = c->p + 2;
    for (int i = 0; i < MOO_NREGS; i++)
        if (mask & (1u << i)) { r->v[i] = le16(p); p += 2; }
    return 0;
}

static int parse_regs32(struct moo_file *f, const struct chunk *c, struct moo_regs32 *r, uint32_t test)
{
    if (c->len < 4) return fail(f, "test %u: %s chunk too short (%u bytes)", test, c->id, c->len);
    uint32_t mask = le32(c->p);
    if (mask >> MOO32_NREGS)
        return fail(f, "test %u: %s mask 0x%08x has unknown register bits (corrupt)", test, c->id, mask);
    unsigned n = (unsigned)__builtin_popcount(mask);
    if (c->len < 4 + 4 * n)
        return fail(f, "test %u: %s chunk holds %u bytes, mask needs %u", test, c->id, c->len, 4 + 4 * n);
    memset(r, 0, sizeof *r);
    r->mask = mask;
    const uint8_t *p = c->p + 4;
    for (int i = 0; i < MOO32_NREGS; i++)
        if (mask & (1u << i)) { r->v[i] = le32(p); p += 4; }
    return 0;
}

/* A uint32 count followed by count*elem bytes. */
static int counted(struct moo_file *f, const struct chunk *c, uint32_t elem, uint32_t *count,
                   const uint8_t **items, uint32_t test)
{
    if (c->len < 4) return fail(f, "test %u: %s chunk too short (%u bytes)", test, c->id, c->len);
    uint32_t n = le32(c->p);
    if ((uint64_t)n * elem > c->len - 4)
        return fail(f, "test %u: %s chunk says %u entries of %u bytes, holds only %u bytes",
                    test, c->id, n, elem, c->len - 4);
    *count = n;
    *items = c->p + 4;
    return 0;
}

static int parse_state(struct moo_file *f, const struct chunk *sc, struct moo_state *s,
                       uint32_t test)
{
    memset(s, 0, sizeof *s);
    size_t off = 0;
    struct chunk c;
    int r;
    char where[64];
    snprintf(where, sizeof where, "test %u %s", test, sc->id);
    while ((r = chunk_at(f, sc->p, &off, sc->len, &c, where)) == 1) {
        if (is(&c, "REGS")) { if (parse_regs16(f, &c, &s->regs, test)) return -1; }
        else if (is(&c, "RMSK")) { if (parse_regs16(f, &c, &s->rmask, test)) return -1; }
        else if (is(&c, "RG32")) { if (parse_regs32(f, &c, &s->regs32, test)) return -1; }
        else if (is(&c, "RM32")) { if (parse_regs32(f, &c, &s->rmask32, test)) return -1; }
        else if (is(&c, "RAM ")) { if (counted(f, &c, 5, &s->ram_count, &s->ram, test)) return -1; }
        else if (is(&c, "QUEU")) { if (counted(f, &c, 1, &s->queue_len, &s->queue, test)) return -1; }
        else if (is(&c, "EA32")) { s->ea32 = c.p; s->ea32_len = c.len; }
        /* anything else: skipped by length */
    }
    return r < 0 ? -1 : 0;
}

static int parse_test(struct moo_file *f, const struct chunk *tc, struct moo_test *t)
{
    memset(t, 0, sizeof *t);
    if (tc->len < 4) return fail(f, "TEST chunk #%u too short (%u bytes)", f->tests_read, tc->len);
    t->index = le32(tc->p);
    size_t off = 4;
    struct chunk c;
    int r;
    bool have_init = false, have_fina = false;
    char where[48];
    snprintf(where, sizeof where, "test %u", t->index);
    while ((r = chunk_at(f, tc->p, &off, tc->len, &c, where)) == 1) {
        if (is(&c, "NAME") || is(&c, "BYTS")) {
            uint32_t n; const uint8_t *p;
            if (counted(f, &c, 1, &n, &p, t->index)) return -1;
            if (is(&c, "NAME")) { t->name = (const char *)p; t->name_len = n; }
            else { t->bytes = p; t->nbytes = n; }
        } else if (is(&c, "INIT")) {
            if (parse_state(f, &c, &t->init, t->index)) return -1;
            have_init = true;
        } else if (is(&c, "FINA")) {
            if (parse_state(f, &c, &t->fina, t->index)) return -1;
            have_fina = true;
        } else if (is(&c, "CYCL")) {
            if (counted(f, &c, 15, &t->ncycles, &t->cycles, t->index)) return -1;
        } else if (is(&c, "EXCP")) {
            if (c.len < 5) return fail(f, "test %u: EXCP chunk too short (%u bytes)", t->index, c.len);
            t->has_exc = true;
            t->exc_num = c.p[0];
            t->exc_flag_addr = le32(c.p + 1);
        } else if (is(&c, "HASH")) {
            if (c.len < 20) return fail(f, "test %u: HASH chunk too short (%u bytes)", t->index, c.len);
            t->has_hash = true;
            memcpy(t->hash, c.p, 20);
        } else if (is(&c, "IDX ")) {
            if (c.len >= 4) t->index = le32(c.p);
        }
        /* GMET and anything else: skipped by length */
    }
    if (r < 0) return -1;
    if (!have_init || !have_fina)
        return fail(f, "test %u has no %s chunk", t->index, have_init ? "FINA" : "INIT");
    if (!t->init.regs.mask && !t->init.regs32.mask)
        return fail(f, "test %u: INIT has no REGS or RG32 chunk", t->index);
    if (!t->name) { t->name = ""; t->name_len = 0; }
    return 0;
}

static int parse_meta(struct moo_file *f, const struct chunk *c)
{
    if (c->len < 31) return fail(f, "META chunk too short (%u bytes, need 31)", c->len);
    struct moo_meta *m = &f->meta;
    m->present = true;
    m->major = c->p[0];
    m->minor = c->p[1];
    m->cpu_type = c->p[2];
    m->opcode = le32(c->p + 3);
    memcpy(m->mnemonic, c->p + 7, 8);
    for (int i = 0; i < 8; i++)
        if (m->mnemonic[i] < 0x20 || m->mnemonic[i] >= 0x7F) m->mnemonic[i] = '?';
    m->mnemonic[8] = 0;
    m->test_count = le32(c->p + 15);
    m->seed = le64(c->p + 19);
    m->cpu_mode = c->p[27];
    return 0;
}

/* Header and the top-level chunks before the first TEST. */
static int open_parsed(struct moo_file *f)
{
    if (f->len < 8 || memcmp(f->data, "MOO ", 4) != 0)
        return fail(f, "not a MOO file (no 'MOO ' header chunk)");
    size_t off = 0;
    struct chunk c;
    int r = chunk_at(f, f->data, &off, f->len, &c, "file header");
    if (r <= 0) return -1;
    if (c.len < 12) return fail(f, "'MOO ' header chunk too short (%u bytes, need 12)", c.len);
    f->major = c.p[0];
    f->minor = c.p[1];
    f->test_count = le32(c.p + 4);
    for (int i = 0; i < 4; i++)
        f->cpu_id[i] = (c.p[8 + i] >= 0x20 && c.p[8 + i] < 0x7F) ? (char)c.p[8 + i] : '?';
    f->cpu_id[4] = 0;
    if (f->major != 1)
        return fail(f, "MOO format version %u.%u is not supported (this reader knows 1.x)",
                    f->major, f->minor);
    for (;;) {
        size_t here = off;
        r = chunk_at(f, f->data, &off, f->len, &c, "top level");
        if (r < 0) return -1;
        if (r == 0 || is(&c, "TEST")) { f->pos = here; break; }
        if (is(&c, "META")) { if (parse_meta(f, &c)) return -1; }
        else if (is(&c, "RMSK")) { if (parse_regs16(f, &c, &f->rmask, 0)) return -1; }
        else if (is(&c, "RM32")) { if (parse_regs32(f, &c, &f->rmask32, 0)) return -1; }
    }
    return 0;
}

static void set_label(struct moo_file *f, const char *label)
{
    snprintf(f->label, sizeof f->label, "%s", label ? label : "(buffer)");
}

int moo_open_buffer(struct moo_file *f, const void *data, size_t len, const char *label)
{
    memset(f, 0, sizeof *f);
    set_label(f, label);
    f->data = malloc(len ? len : 1);
    if (!f->data) return fail(f, "out of memory (%zu bytes)", len);
    if (len) memcpy(f->data, data, len);
    f->len = len;
    if (open_parsed(f)) { free(f->data); f->data = NULL; return -1; }
    return 0;
}

/* Inflate a gzip stream (possibly several members) into a new buffer. */
static int gunzip(struct moo_file *f, const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
    size_t cap = inlen * 6 + 4096, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) return fail(f, "out of memory");
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) { free(buf); return fail(f, "zlib init failed"); }
    size_t inpos = 0;
    int zr = Z_OK;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) { inflateEnd(&zs); free(buf); return fail(f, "out of memory (%zu bytes)", ncap); }
            buf = nb; cap = ncap;
        }
        size_t inchunk = inlen - inpos > (1u << 30) ? (1u << 30) : inlen - inpos;
        size_t outchunk = cap - n > (1u << 30) ? (1u << 30) : cap - n;
        zs.next_in = (Bytef *)(in + inpos);
        zs.avail_in = (uInt)inchunk;
        zs.next_out = buf + n;
        zs.avail_out = (uInt)outchunk;
        zr = inflate(&zs, Z_NO_FLUSH);
        inpos += inchunk - zs.avail_in;
        n += outchunk - zs.avail_out;
        if (zr == Z_STREAM_END) {
            /* another gzip member may follow */
            if (inpos < inlen && in[inpos] == 0x1F) { inflateReset(&zs); continue; }
            break;
        }
        if (zr == Z_BUF_ERROR && inpos >= inlen && zs.avail_out > 0) {
            inflateEnd(&zs); free(buf);
            return fail(f, "truncated gzip data (stream ends after %zu input bytes)", inlen);
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            const char *msg = zs.msg ? zs.msg : "unknown error";
            inflateEnd(&zs); free(buf);
            return fail(f, "corrupt gzip data (%s)", msg);
        }
    }
    inflateEnd(&zs);
    *out = buf;
    *outlen = n;
    return 0;
}

int moo_open_file(struct moo_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    set_label(f, path);
    FILE *fp = fopen(path, "rb");
    if (!fp) return fail(f, "cannot open: %s", strerror(errno));
    uint8_t *raw = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : (1u << 20);
            uint8_t *nr = realloc(raw, cap);
            if (!nr) { free(raw); fclose(fp); return fail(f, "out of memory"); }
            raw = nr;
        }
        size_t got = fread(raw + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
    }
    int rerr = ferror(fp);
    fclose(fp);
    if (rerr) { free(raw); return fail(f, "read error"); }
    if (n >= 2 && raw[0] == 0x1F && raw[1] == 0x8B) {
        int r = gunzip(f, raw, n, &f->data, &f->len);
        free(raw);
        if (r) return -1;
    } else if (n >= 4 && memcmp(raw, "MOO ", 4) == 0) {
        f->data = raw;
        f->len = n;
    } else {
        free(raw);
        return fail(f, n ? "not a gzip or MOO file (bad magic)" : "empty file");
    }
    if (open_parsed(f)) { free(f->data); f->data = NULL; return -1; }
    return 0;
}

int moo_next(struct moo_file *f, struct moo_test *t)
{
    if (!f->data) return fail(f, "file is not open");
    for (;;) {
        struct chunk c;
        int r = chunk_at(f, f->data, &f->pos, f->len, &c, "top level");
        if (r < 0) return -1;
        if (r == 0) {
            if (f->tests_read != f->test_count)
                return fail(f, "header says %u tests but the file holds %u (truncated?)",
                            f->test_count, f->tests_read);
            return 0;
        }
        if (!is(&c, "TEST")) continue;   /* unknown top-level chunk: skip */
        if (parse_test(f, &c, t)) return -1;
        f->tests_read++;
        return 1;
    }
}

void moo_close(struct moo_file *f)
{
    free(f->data);
    f->data = NULL;
    f->len = 0;
}

/* ---------------------------------------------------------------------------
 * metadata.json: a small JSON reader. Parses into a flat node array (objects
 * and arrays link their children), enough for the suite's metadata file.
 */
enum jtype { J_OBJ, J_ARR, J_STR, J_NUM, J_LIT };
struct jnode {
    enum jtype t;
    const char *key; size_t keylen;   /* member name when inside an object */
    const char *s; size_t slen;       /* string contents (escapes kept raw) */
    double num;
    int child, next;                  /* first child / next sibling, -1 none */
};
struct jparse {
    const char *p, *end, *start;
    struct jnode *n; int nn, cap;
    int depth;
    const char *err;
};

static void jws(struct jparse *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int jnew(struct jparse *j, enum jtype t)
{
    if (j->nn == j->cap) {
        int ncap = j->cap ? j->cap * 2 : 256;
        struct jnode *nn = realloc(j->n, (size_t)ncap * sizeof *nn);
        if (!nn) { j->err = "out of memory"; return -1; }
        j->n = nn; j->cap = ncap;
    }
    struct jnode *x = &j->n[j->nn];
    memset(x, 0, sizeof *x);
    x->t = t; x->child = x->next = -1;
    return j->nn++;
}

static int jstring(struct jparse *j, const char **s, size_t *len)
{
    if (j->p >= j->end || *j->p != '"') { j->err = "expected a string"; return -1; }
    const char *b = ++j->p;
    while (j->p < j->end && *j->p != '"') {
        if (*j->p == '\\') j->p++;
        j->p++;
    }
    if (j->p >= j->end) { j->err = "unterminated string"; return -1; }
    *s = b; *len = (size_t)(j->p - b);
    j->p++;
    return 0;
}

static int jvalue(struct jparse *j)
{
    jws(j);
    if (j->p >= j->end) { j->err = "unexpected end of input"; return -1; }
    if (++j->depth > 64) { j->err = "nesting too deep"; return -1; }
    int id = -1;
    char ch = *j->p;
    if (ch == '{' || ch == '[') {
        bool obj = ch == '{';
        id = jnew(j, obj ? J_OBJ : J_ARR);
        if (id < 0) return -1;
        j->p++;
        int last = -1;
        jws(j);
        if (j->p < j->end && *j->p == (obj ? '}' : ']')) { j->p++; j->depth--; return id; }
        for (;;) {
            const char *k = NULL; size_t kl = 0;
            if (obj) {
                jws(j);
                if (jstring(j, &k, &kl)) return -1;
                jws(j);
                if (j->p >= j->end || *j->p != ':') { j->err = "expected ':'"; return -1; }
                j->p++;
            }
            int c = jvalue(j);
            if (c < 0) return -1;
            j->n[c].key = k; j->n[c].keylen = kl;
            if (last < 0) j->n[id].child = c; else j->n[last].next = c;
            last = c;
            jws(j);
            if (j->p < j->end && *j->p == ',') { j->p++; continue; }
            if (j->p < j->end && *j->p == (obj ? '}' : ']')) { j->p++; break; }
            j->err = obj ? "expected ',' or '}'" : "expected ',' or ']'";
            return -1;
        }
    } else if (ch == '"') {
        id = jnew(j, J_STR);
        if (id < 0) return -1;
        const char *s; size_t l;
        if (jstring(j, &s, &l)) return -1;
        j->n[id].s = s; j->n[id].slen = l;
    } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
        id = jnew(j, J_NUM);
        if (id < 0) return -1;
        char tmp[64];
        size_t l = 0;
        while (j->p < j->end && l < sizeof tmp - 1 &&
               strchr("+-0123456789.eE", *j->p)) tmp[l++] = *j->p++;
        tmp[l] = 0;
        char *e;
        j->n[id].num = strtod(tmp, &e);
        if (e == tmp) { j->err = "bad number"; return -1; }
    } else if (ch == 't' || ch == 'f' || ch == 'n') {
        const char *w = ch == 't' ? "true" : ch == 'f' ? "false" : "null";
        size_t l = strlen(w);
        if ((size_t)(j->end - j->p) < l || memcmp(j->p, w, l)) { j->err = "bad literal"; return -1; }
        id = jnew(j, J_LIT);
        if (id < 0) return -1;
        j->p += l;
    } else {
        j->err = "unexpected character";
        return -1;
    }
    j->depth--;
    return id;
}

static int jget(const struct jparse *j, int obj, const char *key)
{
    if (obj < 0 || j->n[obj].t != J_OBJ) return -1;
    size_t kl = strlen(key);
    for (int c = j->n[obj].child; c >= 0; c = j->n[c].next)
        if (j->n[c].keylen == kl && !memcmp(j->n[c].key, key, kl)) return c;
    return -1;
}

static int op_cmp(const void *a, const void *b)
{
    return strcmp(((const struct moo_opinfo *)a)->key, ((const struct moo_opinfo *)b)->key);
}

static int md_add(struct moo_metadata *md, size_t *cap, const struct jparse *j, int node,
                  const char *key)
{
    if (md->nop == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct moo_opinfo *n = realloc(md->op, ncap * sizeof *n);
        if (!n) return -1;
        md->op = n; *cap = ncap;
    }
    struct moo_opinfo *o = &md->op[md->nop++];
    memset(o, 0, sizeof *o);
    snprintf(o->key, sizeof o->key, "%s", key);
    for (char *p = o->key; *p; p++) if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 32);
    o->flags_mask = 0xFFFF;
    int fm = jget(j, node, "flags-mask");
    if (fm >= 0 && j->n[fm].t == J_NUM && j->n[fm].num >= 0 && j->n[fm].num <= 65535)
        o->flags_mask = (uint16_t)j->n[fm].num;
    int st = jget(j, node, "status");
    if (st >= 0 && j->n[st].t == J_STR)
        snprintf(o->status, sizeof o->status, "%.*s", (int)j->n[st].slen, j->n[st].s);
    return 0;
}

int moo_metadata_parse(struct moo_metadata *md, const char *text, size_t len,
                       const char *label, char *err, size_t errlen)
{
    memset(md, 0, sizeof *md);
    struct jparse j = { .p = text, .end = text + len, .start = text };
    int root = jvalue(&j);
    if (root >= 0) { jws(&j); if (j.p != j.end) { j.err = "trailing characters after the JSON value"; root = -1; } }
    if (root < 0) {
        snprintf(err, errlen, "%s: JSON error at offset %zu: %s", label,
                 (size_t)(j.p - j.start), j.err ? j.err : "?");
        free(j.n);
        return -1;
    }
    int ops = jget(&j, root, "opcodes");
    if (ops < 0 || j.n[ops].t != J_OBJ) {
        snprintf(err, errlen, "%s: no \"opcodes\" object", label);
        free(j.n);
        return -1;
    }
    int ver = jget(&j, root, "version");
    if (ver >= 0 && j.n[ver].t == J_STR)
        snprintf(md->version, sizeof md->version, "%.*s", (int)j.n[ver].slen, j.n[ver].s);
    size_t cap = 0;
    for (int c = j.n[ops].child; c >= 0; c = j.n[c].next) {
        char key[16];
        if (j.n[c].keylen == 0 || j.n[c].keylen > 8 || j.n[c].t != J_OBJ) continue;
        snprintf(key, sizeof key, "%.*s", (int)j.n[c].keylen, j.n[c].key);
        if (md_add(md, &cap, &j, c, key)) goto oom;
        int reg = jget(&j, c, "reg");
        if (reg >= 0 && j.n[reg].t == J_OBJ)
            for (int r = j.n[reg].child; r >= 0; r = j.n[r].next) {
                if (j.n[r].keylen == 0 || j.n[r].keylen > 2 || j.n[r].t != J_OBJ) continue;
                char rk[20];
                snprintf(rk, sizeof rk, "%s.%.*s", key, (int)j.n[r].keylen, j.n[r].key);
                if (md_add(md, &cap, &j, r, rk)) goto oom;
            }
    }
    free(j.n);
    if (md->nop) qsort(md->op, md->nop, sizeof *md->op, op_cmp);
    return 0;
oom:
    free(j.n);
    moo_metadata_free(md);
    snprintf(err, errlen, "%s: out of memory", label);
    return -1;
}

int moo_metadata_load(struct moo_metadata *md, const char *path, char *err, size_t errlen)
{
    memset(md, 0, sizeof *md);
    FILE *fp = fopen(path, "rb");
    if (!fp) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) { free(buf); fclose(fp); snprintf(err, errlen, "%s: out of memory", path); return -1; }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (!got) break;
    }
    int rerr = ferror(fp);
    fclose(fp);
    if (rerr) { free(buf); snprintf(err, errlen, "%s: read error", path); return -1; }
    int r = moo_metadata_parse(md, buf, n, path, err, errlen);
    free(buf);
    return r;
}

const struct moo_opinfo *moo_metadata_find(const struct moo_metadata *md, const char *key)
{
    if (!md || !md->nop) return NULL;
    struct moo_opinfo k;
    memset(&k, 0, sizeof k);
    snprintf(k.key, sizeof k.key, "%s", key);
    for (char *p = k.key; *p; p++) if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 32);
    const struct moo_opinfo *o = bsearch(&k, md->op, md->nop, sizeof *md->op, op_cmp);
    if (o) return o;
    char *dot = strchr(k.key, '.');
    if (!dot) return NULL;
    *dot = 0;
    return bsearch(&k, md->op, md->nop, sizeof *md->op, op_cmp);
}

void moo_metadata_free(struct moo_metadata *md)
{
    free(md->op);
    md->op = NULL;
    md->nop = 0;
}
