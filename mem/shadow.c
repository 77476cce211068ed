/* mem/shadow.c - the shadow windows (see mem/shadow.h).
 *
 * Bookkeeping: every mapping made since the last full zap is a node
 * {window, linear page, pfn, writable}; lin_node[w][page] finds the node of
 * a window page, and nodes of one pfn are chained from pfn_head[pfn] (the
 * reverse map). Nodes are never reused before a full zap, which also runs
 * when MAX_NODES is reached, so the process stays far below
 * vm.max_map_count (65530 by default) even when no two mappings merge.
 * All functions are async-signal-safe (only mmap/mprotect are called) so
 * the translator's SIGSEGV handler can fill pages.
 */
#include "mem/shadow.h"
#include "mem/mem.h"
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <errno.h>
#include <sys/mman.h>

#define WIN_SPAN   (8ull << 30)          /* 4 GiB window + 4 GiB guard      */
#define WIN_MAP    ((4ull << 30) + 65536) /* what zaps cover                 */
#define MAX_NODES  40000
#define NO_NODE    (-1)

struct node {
    uint32_t lin_page;      /* linear page number                          */
    uint32_t pfn;           /* guest physical page number                  */
    int32_t  next;          /* next node of the same pfn                   */
    uint8_t  win;           /* SHADOW_SUP / SHADOW_USER                    */
    uint8_t  writable;      /* mapped PROT_WRITE                           */
    uint8_t  live;          /* not zapped since                            */
    uint8_t  global;        /* from a global guest mapping (survives CR3)  */
};

struct shadow {
    struct mem *mem;
    uint8_t *base;                /* 2 * WIN_SPAN reserved                 */
    int fd;                       /* the RAM memfd                         */
    uint64_t ram_pages;
    struct node *nodes;
    int32_t nnodes;
    int32_t *pfn_head;            /* per RAM page: first node or NO_NODE   */
    int32_t *lin_node[2];         /* per linear page: node + 1, 0 = none   */
    struct shadow_stats st;
};

static int reserve(uint8_t *at, uint64_t len)
{
    void *p = mmap(at, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (at ? MAP_FIXED : 0), -1, 0);
    return p == MAP_FAILED ? -1 : 0;
}

struct shadow *shadow_new(struct mem *mem, char *err, size_t errlen)
{
    struct shadow *s = calloc(1, sizeof *s);
    if (!s) { snprintf(err, errlen, "out of memory"); return NULL; }
    s->mem = mem;
    s->fd = mem_ram_fd(mem);
    s->ram_pages = mem_ram_size(mem) >> 12;
    s->base = mmap(NULL, 2 * WIN_SPAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    s->nodes = malloc(MAX_NODES * sizeof *s->nodes);
    s->pfn_head = malloc(s->ram_pages * sizeof *s->pfn_head);
    s->lin_node[0] = calloc(1u << 20, sizeof(int32_t));
    s->lin_node[1] = calloc(1u << 20, sizeof(int32_t));
    if (s->base == MAP_FAILED || !s->nodes || !s->pfn_head || !s->lin_node[0] || !s->lin_node[1]) {
        snprintf(err, errlen, "cannot reserve the translator's shadow windows (16 GiB of address space): %s",
                 strerror(errno));
        if (s->base == MAP_FAILED) s->base = NULL;
        shadow_free(s);
        return NULL;
    }
    for (uint64_t i = 0; i < s->ram_pages; i++) s->pfn_head[i] = NO_NODE;
    return s;
}

void shadow_free(struct shadow *s)
{
    if (!s) return;
    if (s->base) munmap(s->base, 2 * WIN_SPAN);
    free(s->nodes);
    free(s->pfn_head);
    free(s->lin_node[0]);
    free(s->lin_node[1]);
    free(s);
}

uint8_t *shadow_window(struct shadow *s, int w) { return s->base + (uint64_t)w * WIN_SPAN; }

int shadow_window_of(const struct shadow *s, uintptr_t addr, uint64_t *off)
{
    uintptr_t b = (uintptr_t)s->base;
    if (addr < b || addr >= b + 2 * WIN_SPAN) return -1;
    int w = (int)((addr - b) / WIN_SPAN);
    *off = addr - b - (uint64_t)w * WIN_SPAN;
    return w;
}

void shadow_zap_all(struct shadow *s)
{
    if (s->nnodes == 0) return;
    for (int w = 0; w < 2; w++) (void)reserve(shadow_window(s, w), WIN_MAP);
    for (int32_t i = 0; i < s->nnodes; i++) {
        struct node *n = &s->nodes[i];
        s->lin_node[n->win][n->lin_page] = 0;
        s->pfn_head[n->pfn] = NO_NODE;
    }
    s->nnodes = 0;
    s->st.zaps_all++;
}

static void node_kill(struct shadow *s, int32_t i)
{
    struct node *n = &s->nodes[i];
    if (!n->live) return;
    n->live = 0;
    s->lin_node[n->win][n->lin_page] = 0;
}

void shadow_zap_page(struct shadow *s, uint32_t lin)
{
    uint32_t page = lin >> 12;
    for (int w = 0; w < 2; w++) {
        int32_t i = s->lin_node[w][page] - 1;
        if (i < 0) continue;
        node_kill(s, i);
        (void)reserve(shadow_window(s, w) + ((uint64_t)page << 12), 4096);
        s->st.zaps_page++;
    }
}

int shadow_map(struct shadow *s, int w, uint32_t lin, uint64_t pa, bool writable, bool global)
{
    uint64_t pfn = pa >> 12;
    if (pfn >= s->ram_pages) return -1;
    uint32_t page = lin >> 12;
    int32_t old = s->lin_node[w][page] - 1;
    if (old >= 0) node_kill(s, old);
    if (s->nnodes >= MAX_NODES) { shadow_zap_all(s); s->st.overflow_zaps++; }
    void *at = shadow_window(s, w) + ((uint64_t)page << 12);
    void *p = mmap(at, 4096, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED | MAP_FIXED, s->fd,
                   (off_t)(pfn << 12));
    if (p == MAP_FAILED) return -1;
    int32_t i = s->nnodes++;
    s->nodes[i] = (struct node){ page, (uint32_t)pfn, s->pfn_head[pfn], (uint8_t)w, writable, 1, global };
    s->pfn_head[pfn] = i;
    s->lin_node[w][page] = i + 1;
    s->st.fills++;
    return 0;
}

void shadow_zap_nonglobal(struct shadow *s)
{
    /* one mmap over the span of the non-global pages of each window (for
     * Linux: user space below the kernel), then the global pages that span
     * covered are forgotten too (they refill on demand) */
    uint32_t lo[2] = { UINT32_MAX, UINT32_MAX }, hi[2] = { 0, 0 };
    uint32_t n = 0;
    for (int32_t i = 0; i < s->nnodes; i++) {
        const struct node *nd = &s->nodes[i];
        if (!nd->live || nd->global) continue;
        if (nd->lin_page < lo[nd->win]) lo[nd->win] = nd->lin_page;
        if (nd->lin_page > hi[nd->win]) hi[nd->win] = nd->lin_page;
        n++;
    }
    if (!n) return;
    for (int32_t i = 0; i < s->nnodes; i++) {
        struct node *nd = &s->nodes[i];
        if (nd->live && nd->lin_page >= lo[nd->win] && nd->lin_page <= hi[nd->win]) node_kill(s, i);
    }
    for (int w = 0; w < 2; w++)
        if (lo[w] <= hi[w])
            (void)reserve(shadow_window(s, w) + ((uint64_t)lo[w] << 12), ((uint64_t)(hi[w] - lo[w]) + 1) << 12);
    s->st.zaps_nonglobal++;
}

void shadow_protect_pfn(struct shadow *s, uint64_t pfn)
{
    if (pfn >= s->ram_pages) return;
    for (int32_t i = s->pfn_head[pfn]; i != NO_NODE; i = s->nodes[i].next) {
        struct node *n = &s->nodes[i];
        if (!n->live || !n->writable) continue;
        (void)mprotect(shadow_window(s, n->win) + ((uint64_t)n->lin_page << 12), 4096, PROT_READ);
        n->writable = 0;
        s->st.protects++;
    }
}

const struct shadow_stats *shadow_get_stats(const struct shadow *s) { return &s->st; }
