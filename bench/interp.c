/* bench/interp.c - interpreter speed in guest MIPS on a CPU-bound loop.
 *
 * The guest: 32-bit flat protected mode, a loop of ALU, shifts, loads and
 * stores, a compare-and-branch, a call/ret pair (typical compiled integer
 * code, 16 or 17 instructions per iteration). Prints best of 5 runs.
 * Usage: build/bench/interp [iterations]
 */
#include "cpu/cpu.h"
#include "mem/mem.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* assembled with nasm from the listing in the comment (org 0x1000, bits 32) */
static const uint8_t guest[] = {
    0xB9, 0, 0, 0, 0,             /*    mov ecx, N (patched)      */
    0x31, 0xC0,                   /*    xor eax, eax              */
    0xBE, 0x00, 0x80, 0x00, 0x00, /*    mov esi, 0x8000           */
    0x31, 0xD2,                   /*    xor edx, edx              */
    0x8B, 0x1C, 0x96,             /* l: mov ebx, [esi+edx*4]      */
    0x01, 0xD8,                   /*    add eax, ebx              */
    0xC1, 0xC0, 0x05,             /*    rol eax, 5                */
    0x31, 0xC8,                   /*    xor eax, ecx              */
    0x89, 0x04, 0x96,             /*    mov [esi+edx*4], eax      */
    0x42,                         /*    inc edx                   */
    0x83, 0xE2, 0x3F,             /*    and edx, 63               */
    0x8D, 0x7C, 0x01, 0x07,       /*    lea edi, [ecx+eax+7]      */
    0x39, 0xF8,                   /*    cmp eax, edi              */
    0x74, 0x02,                   /*    je s                      */
    0x29, 0xF8,                   /*    sub eax, edi              */
    0xE8, 0x04, 0x00, 0x00, 0x00, /* s: call f                    */
    0x49,                         /*    dec ecx                   */
    0x75, 0xDD,                   /*    jnz l                     */
    0xF4,                         /*    hlt                       */
    0x0F, 0xAF, 0xC0,             /* f: imul eax, eax             */
    0xC3,                         /*    ret                       */
};

int main(int argc, char **argv)
{
    uint32_t iters = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 2000000;
    struct mem *m = mem_new(1 << 20);
    if (!m) { perror("mem_new"); return 1; }
    double best = 0;
    uint64_t insns = 0;
    uint32_t result = 0;
    for (int run = 0; run < 5; run++) {
        memset(mem_ram(m), 0, 1 << 20);
        memcpy(mem_ram(m) + 0x1000, guest, sizeof guest);
        memcpy(mem_ram(m) + 0x1001, &iters, 4);
        struct cpu c;
        cpu_init(&c, m, NULL);
        c.cr[0] |= 1;
        for (int s = 0; s < 6; s++) c.seg[s] = (struct seg){ 0x10, 0, 0xFFFFFFFFu, 0xC93 };
        c.seg[SEG_CS] = (struct seg){ 0x08, 0, 0xFFFFFFFFu, 0xC9B };
        c.eip = 0x1000;
        c.r[R_ESP] = 0x9000;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = interp_run(&c, ~0ull);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (rc != EXIT_HLT) { fprintf(stderr, "bench: guest stopped with %d at eip %#x\n", rc, c.eip); return 1; }
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        double mips = (double)c.icount / s / 1e6;
        if (mips > best) best = mips;
        insns = c.icount;
        result = c.r[R_EAX];
    }
    printf("interp: %llu guest instructions per run, best of 5: %.1f MIPS (eax=%08x)\n",
           (unsigned long long)insns, best, result);
    mem_free(m);
    return 0;
}
