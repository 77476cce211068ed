/* mem/shadow.h - shadow page tables for translated code: host windows.
 *
 * Owns: two host address windows of 4 GiB (+ guard) each, one for guest
 * supervisor accesses and one for user accesses, in which a host page at
 * window + lin maps the guest RAM page that guest linear address `lin`
 * translates to (the RAM memfd mapped MAP_SHARED). The host MMU then does
 * the guest's translation and its U/S and R/W checks. Pages are mapped on
 * demand by the translator's fault handler (which walks the guest page
 * tables) and zapped when the guest flushes its TLB. A reverse map finds
 * every mapping of a physical page so pages holding translated code can be
 * made read-only everywhere. The number of host mappings is bounded (Linux's
 * vm.max_map_count): past the bound everything is zapped.
 * Invariant: a mapping is never more permissive than the guest's page
 * tables and TLB allow at the time it was made.
 */
#ifndef BT86_SHADOW_H
#define BT86_SHADOW_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

struct mem;
struct shadow;

#define SHADOW_SUP  0
#define SHADOW_USER 1

struct shadow_stats {
    uint64_t fills;            /* pages mapped (a large page counts once)     */
    uint64_t fills_large;      /* ... of them 4 MiB / 2 MiB pages             */
    uint64_t reprotects;       /* ... of them an mprotect of the same frame   */
    uint64_t zaps_all;         /* whole-window zaps                           */
    uint64_t zaps_page;        /* single-page zaps (INVLPG)                   */
    uint64_t as_hits;          /* CR3 writes back to a parked user window     */
    uint64_t as_misses;        /* ... to a new one                            */
    uint64_t validate_drops;   /* pages of a parked window no longer valid    */
    uint64_t validate_ro;      /* ... valid for reads only: made read-only    */
    uint64_t protects;         /* mappings made read-only for code            */
    uint64_t overflow_zaps;    /* zaps forced by the mapping bound            */
};

struct shadow *shadow_new(struct mem *mem, char *err, size_t errlen);
void shadow_free(struct shadow *s);
uint8_t *shadow_window(struct shadow *s, int w);
/* Which window holds host address `addr`; *off = addr - window base
 * (may be >= 4 GiB: the guard). -1 if none. */
int shadow_window_of(const struct shadow *s, uintptr_t addr, uint64_t *off);
/* Map guest page `lin` (page-aligned) of window w to RAM page `pa`.
 * The same frame mapped or hidden there already: only an mprotect.
 * Returns 0, or -1 if pa is not RAM or the host refused. */
int shadow_map(struct shadow *s, int w, uint32_t lin, uint64_t pa, bool writable, bool global);
/* Map the guest large page (4 MiB, or 2 MiB with PAE: npages 4 KiB pages)
 * holding `lin` onto RAM from pa_base, all of it with one mmap, for a
 * fault at `lin`. page_kind(opaque, pfn) says how each of its pages may be
 * mapped (SHADOW_PAGE_*): not at all (not RAM), read-only (code, ROM) or as
 * the large page. Already mapped (a fault on a carved page): that page gets
 * its kind again. Returns 0, or -1 (not RAM, host refused). */
#define SHADOW_PAGE_NONE 0
#define SHADOW_PAGE_RO   1
#define SHADOW_PAGE_RW   2
int shadow_map_large(struct shadow *s, int w, uint32_t lin, uint64_t pa_base, unsigned npages,
                     bool writable, bool global, int (*page_kind)(void *opaque, uint64_t pfn), void *opaque);
void shadow_zap_all(struct shadow *s);
/* Is guest page `lin` mapped in window w (of the current pair)? */
bool shadow_mapped(const struct shadow *s, int w, uint32_t lin);
/* MOV CR3 with CR4.PGE (SDM vol. 3 sec. 4.10.4.1): park the current window
 * pair under old_cr3 and make new_cr3's current: a parked pair keeps its
 * global pages and, page by page, the non-global ones that still_valid()
 * says the guest tables still map to the same frame (accessed; dirty if
 * writable; with a page of the same size): SHADOW_KEEP; SHADOW_KEEP_RO
 * when it may now only be read (a 4 KiB page is made read-only); else
 * SHADOW_DROP. Otherwise a fresh pair. */
#define SHADOW_DROP    0
#define SHADOW_KEEP_RO 1
#define SHADOW_KEEP    2
void shadow_switch_as(struct shadow *s, uint32_t old_cr3, uint32_t new_cr3,
                      int (*still_valid)(void *opaque, uint32_t lin, uint64_t pfn, bool user, bool writable,
                                         bool large),
                      void *opaque);
/* INVLPG: unmap the page in the current pair, and in every pair if it was
 * mapped from a global translation (a parked pair's non-global pages are
 * re-validated by shadow_switch_as instead). */
void shadow_zap_page(struct shadow *s, uint32_t lin);
/* Make every mapping of RAM page pfn read-only (it now holds code). */
void shadow_protect_pfn(struct shadow *s, uint64_t pfn);
const struct shadow_stats *shadow_get_stats(const struct shadow *s);

#endif
