/* bench/decode.c - decoder throughput: decoded instructions per second.
 *
 * Decodes the .text section of a real i386 program (Debian's
 * busybox-static:i386, fetched and cached by tests/decoder/fetch-busybox.sh)
 * linearly, as a translator walks code: each decode() starts where the
 * previous instruction ended (one byte on, after a #UD). One pass is timed
 * with CLOCK_MONOTONIC; the figure is the best of N passes (default 5) on a
 * single core. Usage:
 *   build/bench/decode [--runs N] [--16] [FILE]
 * FILE defaults to the cached busybox (fetched on first use into
 * $BT86_BUILD/cache, or build/cache; run from the source tree or set
 * BT86_ROOT to it).
 * Prints one line per pass and a final line
 *   decode: N insns/pass, best X.X M insns/s (Y ns/insn) over R runs
 */
#include "cpu/decode.h"
#include "monitor/elf32.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* one linear pass; returns instructions decoded, sums lengths into *chk */
static long pass(const uint8_t *text, size_t len, unsigned mode, unsigned long *chk)
{
    struct insn in;
    long n = 0;
    unsigned long sum = 0;
    for (size_t off = 0; off < len;) {
        size_t avail = len - off;
        int rc = decode(&in, text + off, avail, mode);
        if (rc == DECODE_OK) { off += in.len; n++; sum += in.op; }
        else off++;
    }
    *chk = sum;
    return n;
}

int main(int argc, char **argv)
{
    int runs = 5;
    unsigned mode = DECODE_32;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--16")) mode = DECODE_16;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [--runs N] [--16] [FILE]\n", argv[0]);
            return 2;
        } else file = argv[i];
    }
    if (runs < 1) runs = 1;
    char path[1024];
    if (!file) {
        const char *b = getenv("BT86_BUILD"), *root = getenv("BT86_ROOT");
        char cmd[2200];
        snprintf(cmd, sizeof cmd, "sh '%s/tests/decoder/fetch-busybox.sh' '%s%s%s/cache'", root ? root : ".",
                 b || !root ? "" : root, b || !root ? "" : "/", b ? b : "build");
        FILE *p = popen(cmd, "r");
        path[0] = 0;
        if (p && fgets(path, sizeof path, p)) path[strcspn(path, "\n")] = 0;
        if (!p || pclose(p) != 0 || !path[0]) {
            fprintf(stderr, "decode: cannot fetch busybox-static:i386 (run from the source tree, or give FILE)\n");
            return 1;
        }
        file = path;
    }
    char err[1200];
    size_t len;
    uint8_t *text = elf32_section(file, ".text", &len, NULL, err, sizeof err);
    if (!text) { fprintf(stderr, "decode: %s\n", err); return 1; }
    decode_init();
    unsigned long chk;
    long n = pass(text, len, mode, &chk);   /* warm-up */
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        long k = pass(text, len, mode, &chk);
        double t = now() - t0;
        if (k != n) { fprintf(stderr, "decode: pass %d decoded %ld, expected %ld\n", r, k, n); return 1; }
        printf("run %d: %ld insns in %.3f ms: %.1f M insns/s\n", r + 1, k, t * 1e3, k / t / 1e6);
        if (t < best) best = t;
    }
    printf("decode: %s .text %zu bytes, %ld insns/pass, best %.1f M insns/s (%.2f ns/insn) over %d runs (checksum %lu)\n",
           file, len, n, n / best / 1e6, best * 1e9 / n, runs, chk);
    free(text);
    return 0;
}
