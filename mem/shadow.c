/* mem/shadow.c - the shadow windows (see mem/shadow.h).
 *
 * Windows come in pairs (supervisor, user), one pair per recently used
 * address space (a slot tagged with its CR3). A CR3 write parks the current
 * pair; switching back to a parked one re-validates each of its non-global
 * pages against the guest page tables now (a walk without A/D updates: same
 * frame, accessed, and dirty if writable), which is what the TLB flush of
 * that CR3 load requires, at the cost of a walk per page instead of a fault
 * per page. Global pages stay (the CR3 load keeps them too). Callers name
 * windows SHADOW_SUP/SHADOW_USER: the current pair's.
 *
 * Bookkeeping: every mapping made since the last full zap is a node
 * {window, linear page, pfn, writable}; lin_node[w][page] finds the node of
 * a window page, nodes of one pfn are chained from pfn_head[pfn] (the
 * reverse map), and nodes of one window from whead[w] (what a CR3 switch
 * re-validates, without a scan of every node). A guest 4 MiB (2 MiB with
 * PAE) page is one large node made by one mmap, with every page of its
 * range pointing at it in lin_node; its pages that must not be mapped as
 * the rest (not RAM, holding code, ROM) are carved out with mprotect, and
 * the reverse map of large nodes is the short list large[]
 * (shadow_protect_pfn scans it). Nodes are never reused
 * before a full zap, which also runs when the host mappings they may make
 * (a node, plus two for each carved run) reach MAX_NODES, so the process
 * stays far below vm.max_map_count (65530 by default) even when no two
 * mappings merge.
 * A 4 KiB node that goes is hidden (node_unmap): PROT_NONE where it is, so
 * that the same frame comes back with an mprotect instead of an mmap; a
 * hidden page keeps its host mapping, so it still counts toward MAX_NODES
 * as its node does until the next full zap.
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
#define NAS        8                     /* address-space slots             */
#define NWIN       (2 * NAS)             /* a window pair per slot          */
#define MAX_VALIDATE 1024                /* larger windows are zapped instead */
#define WIN_MAP    ((4ull << 30) + 65536) /* what zaps cover                 */
#define MAX_NODES  40000
#define MAX_LARGE  1024                  /* large nodes between full zaps     */
#define NO_NODE    (-1)

struct node {
    uint32_t lin_page;      /* linear page number                          */
    uint32_t pfn;           /* guest physical page number                  */
    int32_t  next;          /* next node of the same pfn                   */
    uint8_t  win;           /* window index: 2 * slot + (user ? 1 : 0)     */
    uint8_t  writable;      /* mapped PROT_WRITE                           */
    uint8_t  live;          /* not zapped since                            */
    uint8_t  global;        /* from a global guest mapping (survives CR3)  */
    uint16_t npages;        /* 1, or the pages of a large node             */
    int32_t  wnext;         /* next node of the same window (dead ones are
                               unlinked lazily)                            */
    uint32_t epoch;         /* its window's epoch when made (hidden pages) */
};

struct shadow {
    struct mem *mem;
    uint8_t *base;                /* NWIN * WIN_SPAN reserved              */
    int fd;                       /* the RAM memfd                         */
    uint64_t ram_pages;
    struct node *nodes;
    int32_t nnodes;
    int32_t *pfn_head;            /* per RAM page: first node or NO_NODE   */
    int32_t *lin_node[NWIN];      /* per linear page: node + 1, 0 = none,
                                     -(node + 1): a hidden page (below)    */
    uint32_t epoch[NWIN];         /* bumped when a window is zapped whole  */
    int cur;                      /* the current slot                      */
    uint32_t tag[NAS];            /* CR3 of the address space a slot maps  */
    bool tagged[NAS];
    uint64_t last_use[NAS], clock;
    uint32_t live[NWIN];          /* live nodes per window                 */
    int32_t whead[NWIN];          /* per window: its nodes, newest first   */
    int32_t large[MAX_LARGE];     /* large nodes (live or not) since the last
                                     full zap: their reverse map          */
    int32_t nlarge;
    int32_t carved;               /* host mappings added by carving and
                                     protecting inside large nodes         */
    struct shadow_stats st;
};

static inline int win_index(const struct shadow *s, int w) { return 2 * s->cur + (w == SHADOW_USER); }
static inline uint8_t *win_base(const struct shadow *s, int idx) { return s->base + (uint64_t)idx * WIN_SPAN; }

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
    s->base = mmap(NULL, NWIN * WIN_SPAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    s->nodes = malloc(MAX_NODES * sizeof *s->nodes);
    s->pfn_head = malloc(s->ram_pages * sizeof *s->pfn_head);
    bool ok = true;
    for (int w = 0; w < NWIN; w++) ok = ok && (s->lin_node[w] = calloc(1u << 20, sizeof(int32_t))) != NULL;
    if (s->base == MAP_FAILED || !s->nodes || !s->pfn_head || !ok) {
        snprintf(err, errlen, "cannot reserve the translator's shadow windows (%d GiB of address space): %s",
                 (int)(NWIN * (WIN_SPAN >> 30)), strerror(errno));
        if (s->base == MAP_FAILED) s->base = NULL;
        shadow_free(s);
        return NULL;
    }
    for (uint64_t i = 0; i < s->ram_pages; i++) s->pfn_head[i] = NO_NODE;
    for (int w = 0; w < NWIN; w++) s->whead[w] = NO_NODE;
    return s;
}

void shadow_free(struct shadow *s)
{
    if (!s) return;
    if (s->base) munmap(s->base, NWIN * WIN_SPAN);
    free(s->nodes);
    free(s->pfn_head);
    for (int w = 0; w < NWIN; w++) free(s->lin_node[w]);
    free(s);
}

uint8_t *shadow_window(struct shadow *s, int w) { return win_base(s, win_index(s, w)); }

int shadow_window_of(const struct shadow *s, uintptr_t addr, uint64_t *off)
{
    uintptr_t b = (uintptr_t)s->base;
    if (addr < b || addr >= b + NWIN * WIN_SPAN) return -1;
    int idx = (int)((addr - b) / WIN_SPAN);
    *off = addr - b - (uint64_t)idx * WIN_SPAN;
    if (idx / 2 != s->cur) return -1;
    return (idx & 1) ? SHADOW_USER : SHADOW_SUP;
}

bool shadow_mapped(const struct shadow *s, int w, uint32_t lin)
{
    return s->lin_node[win_index(s, w)][lin >> 12] > 0;
}

void shadow_zap_all(struct shadow *s)
{
    for (int w = 0; w < NWIN; w++) { s->live[w] = 0; s->epoch[w]++; }
    for (int a = 0; a < NAS; a++) s->tagged[a] = false;
    if (s->nnodes == 0) return;
    for (int w = 0; w < NWIN; w++) (void)reserve(win_base(s, w), WIN_MAP);
    for (int32_t i = 0; i < s->nnodes; i++) {
        struct node *n = &s->nodes[i];
        for (uint32_t k = 0; k < n->npages; k++) s->lin_node[n->win][n->lin_page + k] = 0;
        s->pfn_head[n->pfn] = NO_NODE;
    }
    s->nnodes = 0;
    for (int w = 0; w < NWIN; w++) s->whead[w] = NO_NODE;
    s->nlarge = 0;
    s->carved = 0;
    s->st.zaps_all++;
}

static void node_kill(struct shadow *s, int32_t i)
{
    struct node *n = &s->nodes[i];
    if (!n->live) return;
    n->live = 0;
    for (uint32_t k = 0; k < n->npages; k++) s->lin_node[n->win][n->lin_page + k] = 0;
    s->live[n->win]--;
}

/* Unmap node i. A 4 KiB page is hidden rather than unmapped: made
 * PROT_NONE where it is, so that mapping the same frame there again is an
 * mprotect, not an mmap (which costs several times as much, and with it the
 * host's page-table updates); its lin_node entry says so until something
 * else is mapped there or the window is zapped whole (its epoch changes). */
static void node_unmap(struct shadow *s, int32_t i)
{
    struct node *n = &s->nodes[i];
    uint8_t *at = win_base(s, n->win) + ((uint64_t)n->lin_page << 12);
    node_kill(s, i);
    if (n->npages == 1 && mprotect(at, 4096, PROT_NONE) == 0) {
        s->lin_node[n->win][n->lin_page] = -(i + 1);
        return;
    }
    (void)reserve(at, (uint64_t)n->npages << 12);
}

/* the hidden page at window idx, page `page`, mapping pfn; -1 if none */
static int32_t hidden_node(const struct shadow *s, int idx, uint32_t page, uint64_t pfn)
{
    int32_t v = s->lin_node[idx][page];
    if (v >= 0) return -1;
    int32_t i = -v - 1;
    const struct node *n = &s->nodes[i];
    if (i >= s->nnodes || n->live || n->win != idx || n->lin_page != page || n->npages != 1 ||
        n->epoch != s->epoch[idx] || n->pfn != pfn)
        return -1;
    return i;
}

void shadow_zap_page(struct shadow *s, uint32_t lin)
{
    /* INVLPG (SDM vol. 3 sec. 4.10.4.1) drops the page in this address
     * space, and a global page in every one; the non-global pages of
     * parked address spaces are re-validated when they come back */
    uint32_t page = lin >> 12;
    for (int w = 0; w < NWIN; w++) {
        int32_t i = s->lin_node[w][page] - 1;
        if (i < 0) continue;
        if (w / 2 != s->cur && !s->nodes[i].global) continue;
        node_unmap(s, i);
        s->st.zaps_page++;
    }
}

/* forget everything window idx maps */
static void zap_window(struct shadow *s, int idx)
{
    if (s->live[idx]) {
        (void)reserve(win_base(s, idx), WIN_MAP);
        for (int32_t i = s->whead[idx]; i != NO_NODE; i = s->nodes[i].wnext) node_kill(s, i);
    }
    s->epoch[idx]++;                            /* its hidden pages are gone too */
    s->whead[idx] = NO_NODE;
}

void shadow_switch_as(struct shadow *s, uint32_t old_cr3, uint32_t new_cr3,
                      int (*still_valid)(void *opaque, uint32_t lin, uint64_t pfn, bool user, bool writable,
                                         bool large),
                      void *opaque)
{
    int cur = s->cur;
    s->tag[cur] = old_cr3;
    s->tagged[cur] = true;
    s->last_use[cur] = ++s->clock;
    int found = -1, victim = -1;
    for (int a = 0; a < NAS; a++)
        if (s->tagged[a] && s->tag[a] == new_cr3) { found = a; break; }
    for (int a = 0; a < NAS && found < 0; a++) {      /* a free slot, else the least recently used */
        if (a == cur) continue;
        if (!s->tagged[a]) { victim = a; break; }
        if (victim < 0 || s->last_use[a] < s->last_use[victim]) victim = a;
    }
    if (found >= 0 && s->live[2 * found] + s->live[2 * found + 1] <= MAX_VALIDATE) {
        /* each non-global page as the guest tables have it now (the CR3
         * load flushed the TLB: nothing may survive the tables no longer allow) */
        for (int idx = 2 * found; idx <= 2 * found + 1; idx++) {
            int32_t *pp = &s->whead[idx];            /* the window's nodes; dead ones unlinked */
            while (*pp != NO_NODE) {
                int32_t i = *pp;
                struct node *n = &s->nodes[i];
                if (!n->live) { *pp = n->wnext; continue; }
                pp = &n->wnext;
                if (n->global) continue;
                int v = still_valid(opaque, n->lin_page << 12, n->pfn, n->win & 1, n->writable, n->npages > 1);
                if (v == SHADOW_KEEP) continue;
                if (v == SHADOW_KEEP_RO && n->npages == 1 &&
                    mprotect(win_base(s, n->win) + ((uint64_t)n->lin_page << 12), 4096, PROT_READ) == 0) {
                    n->writable = 0;         /* fork's copy-on-write: reads go on without a fault */
                    s->st.validate_ro++;
                    continue;
                }
                node_unmap(s, i);
                s->st.validate_drops++;
            }
        }
        s->st.as_hits++;
        s->cur = found;
    } else {
        int a = found >= 0 ? found : victim;
        zap_window(s, 2 * a);
        zap_window(s, 2 * a + 1);
        s->st.as_misses++;
        s->cur = a;
    }
    s->tag[s->cur] = new_cr3;
    s->tagged[s->cur] = true;
    s->last_use[s->cur] = ++s->clock;
}

int shadow_map(struct shadow *s, int ww, uint32_t lin, uint64_t pa, bool writable, bool global)
{
    uint64_t pfn = pa >> 12;
    if (pfn >= s->ram_pages) return -1;
    uint32_t page = lin >> 12;
    if (s->nnodes + s->carved >= MAX_NODES) { shadow_zap_all(s); s->st.overflow_zaps++; }
    int w = win_index(s, ww);
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    void *at = win_base(s, w) + ((uint64_t)page << 12);
    int32_t old = s->lin_node[w][page] - 1;
    if (old >= 0 && s->nodes[old].npages == 1 && s->nodes[old].pfn == pfn) {
        /* the same frame, mapped (a write after a read, a repeated fill):
         * only its protection can change */
        struct node *n = &s->nodes[old];
        if (n->writable != writable && mprotect(at, 4096, prot) != 0) return -1;
        n->writable = writable;
        n->global = global;
        s->st.fills++;
        s->st.reprotects++;
        return 0;
    }
    if (old >= 0) {
        if (s->nodes[old].npages > 1)           /* a 4 KiB page inside a large one: all of it goes */
            (void)reserve(win_base(s, w) + ((uint64_t)s->nodes[old].lin_page << 12), (uint64_t)s->nodes[old].npages << 12);
        node_kill(s, old);
    }
    if (hidden_node(s, w, page, pfn) >= 0) {     /* the same frame, hidden: show it */
        if (mprotect(at, 4096, prot) != 0) return -1;
        s->st.reprotects++;
    } else {
        void *p = mmap(at, 4096, prot, MAP_SHARED | MAP_FIXED, s->fd, (off_t)(pfn << 12));
        if (p == MAP_FAILED) return -1;
    }
    int32_t i = s->nnodes++;
    s->nodes[i] = (struct node){ page, (uint32_t)pfn, s->pfn_head[pfn], (uint8_t)w, writable, 1, global, 1, s->whead[w],
                                 s->epoch[w] };
    s->whead[w] = i;
    s->pfn_head[pfn] = i;
    s->lin_node[w][page] = i + 1;
    s->live[w]++;
    s->st.fills++;
    return 0;
}

static int prot_of(int kind, bool writable)
{
    return kind == SHADOW_PAGE_NONE ? PROT_NONE :
           kind == SHADOW_PAGE_RO || !writable ? PROT_READ : PROT_READ | PROT_WRITE;
}

int shadow_map_large(struct shadow *s, int ww, uint32_t lin, uint64_t pa_base, unsigned npages,
                     bool writable, bool global, int (*page_kind)(void *opaque, uint64_t pfn), void *opaque)
{
    uint64_t pfn0 = pa_base >> 12;
    if (npages < 2 || (npages & (npages - 1)) || pfn0 % npages || pfn0 >= s->ram_pages) return -1;
    uint32_t page0 = (lin >> 12) & ~(npages - 1), fpage = lin >> 12;
    int w = win_index(s, ww);
    uint8_t *at = win_base(s, w) + ((uint64_t)page0 << 12);
    int32_t cur = s->lin_node[w][fpage] - 1;
    if (cur >= 0) {
        struct node *n = &s->nodes[cur];
        if (n->npages == npages && n->lin_page == page0 && n->pfn == pfn0 && (n->writable || !writable)) {
            /* mapped already: the faulting page was carved out; it may be
             * mapped as the rest now (its code was dropped, say) */
            int kind = page_kind(opaque, pfn0 + (fpage - page0));
            if (kind == SHADOW_PAGE_NONE) return -1;
            if (mprotect(at + ((uint64_t)(fpage - page0) << 12), 4096, prot_of(kind, n->writable)) != 0) return -1;
            s->carved += 2;
            return 0;
        }
    }
    if (s->nnodes + s->carved + 64 >= MAX_NODES || s->nlarge >= MAX_LARGE) { shadow_zap_all(s); s->st.overflow_zaps++; }
    for (uint32_t k = 0; k < npages; k++) {                /* what the range mapped before */
        int32_t old = s->lin_node[w][page0 + k] - 1;
        if (old >= 0) node_kill(s, old);
    }
    uint64_t ram = s->ram_pages - pfn0 < npages ? s->ram_pages - pfn0 : npages;
    if (ram < npages) (void)reserve(at + (ram << 12), (npages - ram) << 12);   /* beyond RAM: nothing */
    void *p = mmap(at, ram << 12, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED | MAP_FIXED, s->fd,
                   (off_t)(pfn0 << 12));
    if (p == MAP_FAILED) { (void)reserve(at, (uint64_t)npages << 12); return -1; }
    /* carve out the pages that must not be mapped as the rest, run by run */
    uint32_t k = 0;
    while (k < ram) {
        int kind = page_kind(opaque, pfn0 + k);
        if (kind == SHADOW_PAGE_RW && writable) { k++; continue; }
        if (kind != SHADOW_PAGE_NONE && !writable) { k++; continue; }
        uint32_t e = k + 1;
        while (e < ram && page_kind(opaque, pfn0 + e) == kind) e++;
        (void)mprotect(at + ((uint64_t)k << 12), (uint64_t)(e - k) << 12, prot_of(kind, writable));
        s->carved += 2;
        k = e;
    }
    int32_t i = s->nnodes++;
    s->nodes[i] = (struct node){ page0, (uint32_t)pfn0, NO_NODE, (uint8_t)w, writable, 1, global, (uint16_t)npages,
                                 s->whead[w], s->epoch[w] };
    s->whead[w] = i;
    for (uint32_t j = 0; j < npages; j++) s->lin_node[w][page0 + j] = i + 1;
    s->large[s->nlarge++] = i;
    s->live[w]++;
    s->st.fills++;
    s->st.fills_large++;
    return 0;
}

void shadow_protect_pfn(struct shadow *s, uint64_t pfn)
{
    if (pfn >= s->ram_pages) return;
    for (int32_t j = 0; j < s->nlarge; j++) {
        struct node *n = &s->nodes[s->large[j]];
        if (!n->live || !n->writable || pfn < n->pfn || pfn >= (uint64_t)n->pfn + n->npages) continue;
        (void)mprotect(win_base(s, n->win) + ((uint64_t)(n->lin_page + (pfn - n->pfn)) << 12), 4096, PROT_READ);
        s->carved += 2;
        s->st.protects++;
    }
    for (int32_t i = s->pfn_head[pfn]; i != NO_NODE; i = s->nodes[i].next) {
        struct node *n = &s->nodes[i];
        if (!n->live || !n->writable) continue;
        (void)mprotect(win_base(s, n->win) + ((uint64_t)n->lin_page << 12), 4096, PROT_READ);
        n->writable = 0;
        s->st.protects++;
    }
}

const struct shadow_stats *shadow_get_stats(const struct shadow *s) { return &s->st; }
