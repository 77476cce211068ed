/* bench/guest/cpumix.c - bt86's CPU-bound guest benchmark (issue 8): a static i386 program of
 * our own, run the same way natively on the host, inside the reference Linux guest under QEMU
 * TCG and under each bt86 engine (bench/macro.py drives it).
 *
 * Parts (each a loop of identical "units" of fixed work; a unit takes 1-5 ms natively here):
 *   lz    our LZ77 (LZSS-style) compressor and decompressor over 256 KiB of generated text,
 *         round trip compared byte for byte
 *   sort  quicksort and mergesort of 32768 pseudo-random ints, results compared and checked
 *   hash  CRC32 (table), FNV-1a and a SHA-256-shaped block mix of our own over 512 KiB
 *   mem   rep stosd / rep movsd / rep movsb and libc memset/memcpy on 2 MiB buffers
 *         (string instructions)
 *   x87   a 5-body gravity simulation and Simpson integration in double (x87: -mfpmath=387)
 *   int   plain register loops: Collatz step counts and an LCG/xorshift mix
 *
 * Invariants: every unit of a part does exactly the same work on the same inputs, so its
 * checksum does not depend on how many units run; the program checks that every unit gives
 * the first unit's checksum (a divergence is an error: exit status 1). Each part runs one
 * untimed warm-up unit first (first touches of its buffers, cold caches, first translations). The checksums printed
 * are compared between native and guest runs by bench/macro.py. Only +, -, *, / and sqrt are
 * used in floating point (correctly rounded on the x87), so the x87 checksum is exact.
 *
 * Usage: cpumix [--max-ms=T] [SCALE] [PART...]
 *   SCALE (default 1) multiplies each part's unit count (at least 1 unit runs);
 *   PART limits the run to the parts named;
 *   --max-ms=T stops a part after the unit that brings its time to T ms or more (an engine
 *   whose speed differs by part, e.g. 60x slower on integers and 600x on the x87, then runs
 *   each part for a bounded time; the figures are per unit, so they still compare).
 * Output, one line a part, then a total:
 *   cpumix part=lz units=N ms=T ms_per_unit=U ms_scale1=S check=0xXXXXXXXX
 *   cpumix total units=N ms=T ms_scale1=S check=0xXXXXXXXX
 * ms_scale1 = ms_per_unit * (the part's unit count at SCALE 1): the time a full-scale run
 * would take, the figure runs at different scales are compared by.
 * Build: bench/guest/build.sh (gcc -m32 -static -O2 -march=i686).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- shared helpers -------------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint32_t xs_state;
static uint32_t xs_next(void)   /* xorshift32 (Marsaglia): deterministic inputs */
{
    uint32_t x = xs_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return xs_state = x;
}

static uint32_t crc_table[256];
static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;   /* reflected IEEE 802.3 */
        crc_table[i] = c;
    }
}
static uint32_t crc32_buf(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t mix32(uint32_t h, uint32_t v)
{
    h ^= v + 0x9e3779b9u + (h << 6) + (h >> 2);
    return h;
}

/* ---- lz: LZSS-style compression --------------------------------------------------------- */
/* Format: a flag byte announces 8 items, LSB first; bit 0 = one literal byte, bit 1 = a match
 * of 3 bytes: offset-1 (16 bits, little endian) and length-3 (8 bits), so offsets 1..65536 and
 * lengths 3..258. Candidates come from a 4096-entry hash of the next 3 bytes (last position
 * seen), one probe, greedy. */
#define LZ_IN     (256 * 1024)
#define LZ_HBITS  12
#define LZ_MAXOUT (LZ_IN + LZ_IN / 8 + 16)
static uint8_t lz_src[LZ_IN], lz_comp[LZ_MAXOUT], lz_back[LZ_IN];
static uint32_t lz_head[1 << LZ_HBITS];

static void lz_make_input(void)
{
    static const char *words[] = {
        "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "emulator", "guest",
        "host", "page", "table", "block", "cache", "translate", "interrupt", "segment",
        "register", "flags", "memory", "kernel", "shadow", "window", "fault", "linux",
    };
    size_t n = 0;
    xs_state = 0x1234567u;
    while (n < LZ_IN) {
        uint32_t r = xs_next();
        char tmp[32];
        int len;
        if ((r & 15) == 0)
            len = snprintf(tmp, sizeof tmp, "%u ", (unsigned)(r >> 20));
        else
            len = snprintf(tmp, sizeof tmp, "%s%s", words[(r >> 4) % 26], (r & 0x300) ? " " : ".\n");
        for (int i = 0; i < len && n < LZ_IN; i++)
            lz_src[n++] = (uint8_t)tmp[i];
    }
}

static inline uint32_t lz_hash(const uint8_t *p)
{
    uint32_t v = p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
    return (v * 2654435761u) >> (32 - LZ_HBITS);
}

static size_t lz_compress(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t i = 0, o = 0, flagpos = 0;
    int bit = 8;
    for (size_t k = 0; k < (1u << LZ_HBITS); k++)
        lz_head[k] = UINT32_MAX;
    while (i < n) {
        if (bit == 8) {
            flagpos = o++;
            out[flagpos] = 0;
            bit = 0;
        }
        size_t best = 0, off = 0;
        if (i + 3 <= n) {
            uint32_t h = lz_hash(in + i);
            uint32_t cand = lz_head[h];
            lz_head[h] = (uint32_t)i;
            if (cand != UINT32_MAX && i - cand <= 65536) {
                size_t max = n - i < 258 ? n - i : 258, l = 0;
                while (l < max && in[cand + l] == in[i + l])
                    l++;
                if (l >= 3) {
                    best = l;
                    off = i - cand;
                }
            }
        }
        if (best) {
            out[flagpos] |= (uint8_t)(1u << bit);
            out[o++] = (uint8_t)(off - 1);
            out[o++] = (uint8_t)((off - 1) >> 8);
            out[o++] = (uint8_t)(best - 3);
            /* insert the skipped positions too (better matches later) */
            for (size_t k = i + 1; k < i + best && k + 3 <= n; k++)
                lz_head[lz_hash(in + k)] = (uint32_t)k;
            i += best;
        } else {
            out[o++] = in[i++];
        }
        bit++;
    }
    return o;
}

/* returns the decompressed size, or (size_t)-1 on a corrupt stream */
static size_t lz_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    size_t i = 0, o = 0;
    while (i < n) {
        uint8_t flags = in[i++];
        for (int bit = 0; bit < 8 && i < n; bit++) {
            if (flags & (1u << bit)) {
                if (i + 3 > n)
                    return (size_t)-1;
                size_t off = (in[i] | (size_t)in[i + 1] << 8) + 1, len = in[i + 2] + 3u;
                i += 3;
                if (off > o || o + len > cap)
                    return (size_t)-1;
                for (size_t k = 0; k < len; k++, o++)   /* overlapping copies are allowed */
                    out[o] = out[o - off];
            } else {
                if (o >= cap)
                    return (size_t)-1;
                out[o++] = in[i++];
            }
        }
    }
    return o;
}

static uint32_t unit_lz(void)
{
    size_t c = lz_compress(lz_src, LZ_IN, lz_comp);
    memset(lz_back, 0, sizeof lz_back);
    size_t d = lz_decompress(lz_comp, c, lz_back, sizeof lz_back);
    if (d != LZ_IN || memcmp(lz_back, lz_src, LZ_IN) != 0) {
        fprintf(stderr, "cpumix: lz round trip failed (compressed %zu, back %zu)\n", c, d);
        exit(1);
    }
    return mix32(crc32_buf(0, lz_comp, c), (uint32_t)c);
}

/* ---- sort ------------------------------------------------------------------------------- */
#define SORT_N 32768
static int32_t sort_a[SORT_N], sort_b[SORT_N], sort_tmp[SORT_N];

static void quicksort(int32_t *a, int lo, int hi)
{
    while (hi - lo > 16) {
        int32_t x = a[lo], y = a[(lo + hi) / 2], z = a[hi];   /* median of three */
        int32_t p = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] < p) i++;
            while (a[j] > p) j--;
            if (i <= j) {
                int32_t t = a[i]; a[i] = a[j]; a[j] = t;
                i++; j--;
            }
        }
        if (j - lo < hi - i) { quicksort(a, lo, j); lo = i; }
        else                 { quicksort(a, i, hi); hi = j; }
    }
    for (int i = lo + 1; i <= hi; i++) {                      /* insertion sort the rest */
        int32_t v = a[i];
        int j = i - 1;
        while (j >= lo && a[j] > v) { a[j + 1] = a[j]; j--; }
        a[j + 1] = v;
    }
}

static void mergesort_rec(int32_t *a, int32_t *tmp, int n)
{
    if (n < 2)
        return;
    int h = n / 2;
    mergesort_rec(a, tmp, h);
    mergesort_rec(a + h, tmp, n - h);
    int i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = a[j] < a[i] ? a[j++] : a[i++];
    while (i < h) tmp[k++] = a[i++];
    while (j < n) tmp[k++] = a[j++];
    memcpy(a, tmp, (size_t)n * sizeof *a);
}

static uint32_t unit_sort(void)
{
    xs_state = 0xC0FFEEu;
    for (int i = 0; i < SORT_N; i++)
        sort_a[i] = sort_b[i] = (int32_t)(xs_next() % 1000003u) - 500000;
    quicksort(sort_a, 0, SORT_N - 1);
    mergesort_rec(sort_b, sort_tmp, SORT_N);
    uint32_t h = 0;
    for (int i = 0; i < SORT_N; i++) {
        if (sort_a[i] != sort_b[i] || (i && sort_a[i - 1] > sort_a[i])) {
            fprintf(stderr, "cpumix: sort results differ or are unsorted at %d\n", i);
            exit(1);
        }
        h = h * 31 + (uint32_t)sort_a[i];
    }
    return h;
}

/* ---- hash ------------------------------------------------------------------------------- */
#define HASH_N (512 * 1024)
static uint8_t hash_buf[HASH_N];

static inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

/* A SHA-256-shaped compression function with our own round constants (an LCG), over 64-byte
 * blocks; not SHA-256, only its kind of work: message schedule, rotations, adds. */
static void shamix_block(uint32_t st[8], const uint8_t *p, const uint32_t k[64])
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    st[0] += a; st[1] += b; st[2] += c; st[3] += d; st[4] += e; st[5] += f; st[6] += g; st[7] += h;
}

static uint32_t shamix_k[64];

static uint32_t unit_hash(void)
{
    uint32_t crc = crc32_buf(0, hash_buf, HASH_N);
    uint32_t fnv = 2166136261u;                               /* FNV-1a, 32 bits */
    for (size_t i = 0; i < HASH_N; i++)
        fnv = (fnv ^ hash_buf[i]) * 16777619u;
    uint32_t st[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (size_t i = 0; i < HASH_N; i += 64)
        shamix_block(st, hash_buf + i, shamix_k);
    uint32_t h = mix32(crc, fnv);
    for (int i = 0; i < 8; i++)
        h = mix32(h, st[i]);
    return h;
}

static void hash_init(void)
{
    xs_state = 0xBADC0DEu;
    for (size_t i = 0; i < HASH_N; i++)
        hash_buf[i] = (uint8_t)(xs_next() >> 11);
    uint32_t v = 0x428a2f98u;
    for (int i = 0; i < 64; i++)
        shamix_k[i] = v = v * 1664525u + 1013904223u;
}

/* ---- mem: string instructions ----------------------------------------------------------- */
#define MEM_N (2 * 1024 * 1024)
static uint32_t mem_a[MEM_N / 4], mem_b[MEM_N / 4];

static void rep_stosd(void *dst, uint32_t v, size_t words)
{
    __asm__ volatile("cld; rep stosl" : "+D"(dst), "+c"(words) : "a"(v) : "memory");
}
static void rep_movsd(void *dst, const void *src, size_t words)
{
    __asm__ volatile("cld; rep movsl" : "+D"(dst), "+S"(src), "+c"(words) : : "memory");
}
static void rep_movsb(void *dst, const void *src, size_t n)
{
    __asm__ volatile("cld; rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static uint32_t mem_sample(const uint32_t *p)
{
    uint32_t h = 0;
    for (size_t i = 0; i < MEM_N / 4; i += 1021)
        h = mix32(h, p[i]);
    return mix32(h, p[MEM_N / 4 - 1]);
}

static uint32_t unit_mem(void)
{
    uint32_t h = 0;
    rep_stosd(mem_a, 0x5a5a1234u, MEM_N / 4);                 /* fill */
    for (size_t i = 0; i < MEM_N / 4; i += 4093)               /* a few distinct words */
        mem_a[i] = (uint32_t)i * 2654435761u;
    rep_movsd(mem_b, mem_a, MEM_N / 4);                        /* big aligned copy */
    h = mix32(h, mem_sample(mem_b));
    memset(mem_a, 0x3c, MEM_N);                                /* libc */
    memcpy(mem_a + 1, mem_b, MEM_N - 8);                       /* libc, shifted */
    h = mix32(h, mem_sample(mem_a));
    /* short unaligned byte copies of varying length (string instructions, small counts) */
    uint8_t *a8 = (uint8_t *)mem_a, *b8 = (uint8_t *)mem_b;
    size_t pos = 0;
    for (uint32_t i = 0; i < 4096; i++) {
        size_t len = 16 + (i * 37) % 480;
        rep_movsb(a8 + ((pos + 3) % (MEM_N - 1024)), b8 + (pos % (MEM_N - 1024)), len);
        pos += len * 7;
    }
    return mix32(h, mem_sample(mem_a));
}

/* ---- x87: double-precision floating point ----------------------------------------------- */
#define NB 5
struct body { double x, y, z, vx, vy, vz, m; };

static inline double fsqrt(double x)   /* the x87 FSQRT, correctly rounded */
{
    double r;
    __asm__("fsqrt" : "=t"(r) : "0"(x));
    return r;
}

static double nbody_energy(const struct body *b)
{
    double e = 0;
    for (int i = 0; i < NB; i++) {
        e += 0.5 * b[i].m * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
        for (int j = i + 1; j < NB; j++) {
            double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
            e -= b[i].m * b[j].m / fsqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    return e;
}

static void nbody_step(struct body *b, double dt)
{
    for (int i = 0; i < NB; i++)
        for (int j = i + 1; j < NB; j++) {
            double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
            double d2 = dx * dx + dy * dy + dz * dz;
            double mag = dt / (d2 * fsqrt(d2));
            b[i].vx -= dx * b[j].m * mag; b[i].vy -= dy * b[j].m * mag; b[i].vz -= dz * b[j].m * mag;
            b[j].vx += dx * b[i].m * mag; b[j].vy += dy * b[i].m * mag; b[j].vz += dz * b[i].m * mag;
        }
    for (int i = 0; i < NB; i++) {
        b[i].x += dt * b[i].vx; b[i].y += dt * b[i].vy; b[i].z += dt * b[i].vz;
    }
}

static uint32_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return (uint32_t)u ^ (uint32_t)(u >> 32);
}

static uint32_t unit_x87(void)
{
    /* a made-up system: a heavy centre and four planets on near-circular orbits */
    struct body b[NB] = {
        {0, 0, 0, 0, 0, 0, 39.47},
        {4.8, -1.1, -0.1, 0.60, 2.81, -0.02, 0.037},
        {8.3, 4.1, -0.4, -1.01, 1.82, 0.008, 0.011},
        {12.9, -15.1, -0.2, 1.08, 0.86, -0.01, 0.0017},
        {15.4, -25.9, 0.18, 0.98, 0.59, -0.03, 0.002},
    };
    double px = 0, py = 0, pz = 0, mt = 0;
    for (int i = 0; i < NB; i++) {
        px += b[i].vx * b[i].m; py += b[i].vy * b[i].m; pz += b[i].vz * b[i].m; mt += b[i].m;
    }
    b[0].vx = -px / b[0].m; b[0].vy = -py / b[0].m; b[0].vz = -pz / b[0].m;
    double e0 = nbody_energy(b);
    for (int s = 0; s < 20000; s++)
        nbody_step(b, 0.001);
    double e1 = nbody_energy(b);
    /* Simpson's rule for the integral of 4/(1+x^2) over [0,1] (= pi) */
    const int n = 40000;
    double hstep = 1.0 / n, sum = 0;
    for (int i = 0; i <= n; i++) {
        double x = i * hstep, f = 4.0 / (1.0 + x * x);
        sum += (i == 0 || i == n) ? f : (i & 1) ? 4 * f : 2 * f;
    }
    double pi = sum * hstep / 3;
    if (pi < 3.14159 || pi > 3.1416 || !(e1 < 0) || !(mt > 0)) {
        fprintf(stderr, "cpumix: x87 results out of range (pi %.9f, energy %.9f -> %.9f)\n", pi, e0, e1);
        exit(1);
    }
    return mix32(mix32(dbits(e0), dbits(e1)), dbits(pi));
}

/* ---- int: plain integer loops ----------------------------------------------------------- */
static uint32_t unit_int(void)
{
    uint32_t steps = 0;
    for (uint32_t n = 1; n < 12000; n++) {                     /* Collatz step counts */
        uint32_t v = n;
        while (v != 1) {
            v = (v & 1) ? 3 * v + 1 : v >> 1;
            steps++;
        }
    }
    uint32_t a = 12345, b = 67890, c = 0;
    for (uint32_t i = 0; i < 2000000; i++) {                   /* LCG + xorshift mix */
        a = a * 1103515245u + 12345u;
        b ^= b << 7; b ^= b >> 9;
        c += (a >> 16) ^ b;
        c = (c << 3) | (c >> 29);
    }
    return mix32(steps, c);
}

/* ---- driver ----------------------------------------------------------------------------- */
struct part {
    const char *name;           /* as given on the command line and printed */
    uint32_t (*unit)(void);     /* one unit of work; returns its checksum */
    unsigned units;             /* units at SCALE 1 (about 1.5 s natively on the project host) */
};

static const struct part parts[] = {
    {"lz", unit_lz, 800},
    {"sort", unit_sort, 350},
    {"hash", unit_hash, 400},
    {"mem", unit_mem, 1100},
    {"x87", unit_x87, 550},
    {"int", unit_int, 400},
};
#define NPARTS (sizeof parts / sizeof parts[0])

int main(int argc, char **argv)
{
    double scale = 1.0, max_ms = 0;
    int want[NPARTS], any = 0, argi = 1;
    memset(want, 0, sizeof want);
    if (argc > 1 && strncmp(argv[1], "--max-ms=", 9) == 0) {
        char *end;
        max_ms = strtod(argv[1] + 9, &end);
        if (end == argv[1] + 9 || *end || !(max_ms > 0)) {
            fprintf(stderr, "cpumix: --max-ms wants a positive number of milliseconds, not '%s'\n", argv[1] + 9);
            return 2;
        }
        argv++;
        argc--;
    }
    if (argc > 1) {
        char *end;
        double s = strtod(argv[1], &end);
        if (end != argv[1] && *end == 0) {
            if (!(s > 0 && s <= 1000)) {
                fprintf(stderr, "cpumix: SCALE must be in (0, 1000], not %s\n", argv[1]);
                return 2;
            }
            scale = s;
            argi = 2;
        }
    }
    for (; argi < argc; argi++) {
        size_t k;
        for (k = 0; k < NPARTS; k++)
            if (strcmp(argv[argi], parts[k].name) == 0)
                break;
        if (k == NPARTS) {
            fprintf(stderr, "cpumix: unknown part '%s' (parts: lz sort hash mem x87 int)\n"
                    "usage: cpumix [--max-ms=T] [SCALE] [PART...]\n", argv[argi]);
            return 2;
        }
        want[k] = 1;
        any = 1;
    }
    crc_init();
    lz_make_input();
    hash_init();

    double total_ms = 0, total_s1 = 0;
    unsigned total_units = 0;
    uint32_t total_check = 0;
    for (size_t k = 0; k < NPARTS; k++) {
        if (any && !want[k])
            continue;
        unsigned n = (unsigned)(parts[k].units * scale + 0.5);
        if (n < 1)
            n = 1;
        /* an untimed warm-up unit: first touches of the buffers (page faults), cold caches
         * and, in an emulator, first translations are not CPU-bound work */
        uint32_t first = parts[k].unit();
        double t0 = now_ms();
        for (unsigned u = 1; u <= n; u++) {
            uint32_t c = parts[k].unit();
            if (c != first) {
                fprintf(stderr, "cpumix: part %s unit %u gave check 0x%08x, unit 0 gave 0x%08x\n",
                        parts[k].name, u, c, first);
                return 1;
            }
            if (max_ms > 0 && u < n && now_ms() - t0 >= max_ms) {
                n = u;                                           /* the units that ran */
                break;
            }
        }
        double ms = now_ms() - t0;
        double per = ms / n;
        printf("cpumix part=%s units=%u ms=%.1f ms_per_unit=%.4f ms_scale1=%.1f check=0x%08x\n",
               parts[k].name, n, ms, per, per * parts[k].units, first);
        fflush(stdout);
        total_ms += ms;
        total_s1 += per * parts[k].units;
        total_units += n;
        total_check = mix32(total_check, first);
    }
    printf("cpumix total units=%u ms=%.1f ms_scale1=%.1f check=0x%08x\n",
           total_units, total_ms, total_s1, total_check);
    return 0;
}
