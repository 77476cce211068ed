/* devices/vclock.c - virtual time and the timer queue (implements vclock.h).
 *
 * Owns: the clock's time source (host CLOCK_MONOTONIC since vclock_new plus
 * a skip offset, or a manual counter) and a binary min-heap of armed timers.
 * Invariants:
 * - heap[0..n) is a min-heap on (deadline, seq); seq is a per-arm sequence
 *   number, so timers with equal deadlines run in the order they were armed
 *   (deterministic tests).
 * - t->heap_idx is the timer's index in the heap, or -1 when disarmed.
 * - A timer is removed from the heap before its callback runs, so the
 *   callback may re-arm it, arm others, disarm others or free itself.
 * - Timers must be freed before their clock (the clock does not own them).
 * - Host-mode time never goes backwards: vclock_advance adds to a skip
 *   offset (the run loop may use it to skip idle time while the guest halts).
 */
#include "devices/vclock.h"

#include <stdlib.h>
#include <time.h>

struct timer {
    struct vclock *clk;          /* the clock this timer runs on        */
    timer_cb cb;                 /* called when the deadline passes     */
    void *opaque;                /* passed to cb                        */
    uint64_t deadline;           /* absolute ns, valid while armed      */
    uint64_t seq;                /* tie-break: arm order                */
    int heap_idx;                /* position in clk->heap, -1 = not armed */
};

struct vclock {
    bool manual;                 /* time moves only by vclock_advance   */
    uint64_t manual_ns;          /* manual mode: current time           */
    uint64_t host_start;         /* host mode: CLOCK_MONOTONIC at start */
    uint64_t skip_ns;            /* host mode: time skipped by advance  */
    uint64_t last_ns;            /* host mode: last value returned      */
    struct timer **heap;         /* armed timers, min-heap              */
    int n, cap;                  /* heap size, allocated                */
    uint64_t next_seq;           /* next tie-break number               */
};

static uint64_t host_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct vclock *vclock_new(bool manual)
{
    struct vclock *clk = calloc(1, sizeof *clk);
    if (!clk) return NULL;
    clk->manual = manual;
    clk->host_start = host_mono_ns();
    return clk;
}

void vclock_free(struct vclock *clk)
{
    if (!clk) return;
    for (int i = 0; i < clk->n; i++) clk->heap[i]->heap_idx = -1;
    free(clk->heap);
    free(clk);
}

uint64_t vclock_now_ns(struct vclock *clk)
{
    if (clk->manual) return clk->manual_ns;
    uint64_t t = host_mono_ns() - clk->host_start + clk->skip_ns;
    if (t < clk->last_ns) t = clk->last_ns;
    clk->last_ns = t;
    return t;
}

void vclock_advance(struct vclock *clk, uint64_t ns)
{
    if (clk->manual) clk->manual_ns += ns;
    else clk->skip_ns += ns;
}

uint64_t vclock_next_deadline(struct vclock *clk)
{
    return clk->n ? clk->heap[0]->deadline : VCLOCK_NEVER;
}

/* ---- heap --------------------------------------------------------------------- */

static bool before(const struct timer *a, const struct timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_place(struct vclock *clk, int i, struct timer *t)
{
    clk->heap[i] = t;
    t->heap_idx = i;
}

static void heap_up(struct vclock *clk, int i)
{
    struct timer *t = clk->heap[i];
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!before(t, clk->heap[p])) break;
        heap_place(clk, i, clk->heap[p]);
        i = p;
    }
    heap_place(clk, i, t);
}

static void heap_down(struct vclock *clk, int i)
{
    struct timer *t = clk->heap[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= clk->n) break;
        if (c + 1 < clk->n && before(clk->heap[c + 1], clk->heap[c])) c++;
        if (!before(clk->heap[c], t)) break;
        heap_place(clk, i, clk->heap[c]);
        i = c;
    }
    heap_place(clk, i, t);
}

static void heap_remove(struct vclock *clk, struct timer *t)
{
    int i = t->heap_idx;
    t->heap_idx = -1;
    clk->n--;
    if (i == clk->n) return;
    struct timer *last = clk->heap[clk->n];
    heap_place(clk, i, last);
    heap_up(clk, i);
    heap_down(clk, last->heap_idx);
}

int vclock_run_due(struct vclock *clk)
{
    int ran = 0;
    uint64_t now = vclock_now_ns(clk);
    /* Bounded so that a timer re-armed at or before `now` every time cannot
     * hang the run loop; the rest runs on the next call. */
    while (clk->n && clk->heap[0]->deadline <= now && ran < 100000) {
        struct timer *t = clk->heap[0];
        heap_remove(clk, t);
        ran++;
        t->cb(t->opaque);          /* may touch t: it is out of the heap */
    }
    return ran;
}

/* ---- timers ------------------------------------------------------------------- */

struct timer *timer_new(struct vclock *clk, timer_cb cb, void *opaque)
{
    if (!clk || !cb) return NULL;
    struct timer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->clk = clk;
    t->cb = cb;
    t->opaque = opaque;
    t->heap_idx = -1;
    return t;
}

void timer_free(struct timer *t)
{
    if (!t) return;
    timer_del(t);
    free(t);
}

void timer_mod(struct timer *t, uint64_t deadline_ns)
{
    if (!t) return;
    struct vclock *clk = t->clk;
    if (t->heap_idx >= 0) heap_remove(clk, t);
    if (clk->n == clk->cap) {
        int cap = clk->cap ? clk->cap * 2 : 16;
        struct timer **h = realloc(clk->heap, (size_t)cap * sizeof *h);
        if (!h) return;              /* out of memory: the timer stays disarmed */
        clk->heap = h;
        clk->cap = cap;
    }
    t->deadline = deadline_ns;
    t->seq = clk->next_seq++;
    clk->heap[clk->n] = t;
    t->heap_idx = clk->n++;
    heap_up(clk, t->heap_idx);
}

void timer_del(struct timer *t)
{
    if (t && t->heap_idx >= 0) heap_remove(t->clk, t);
}

bool timer_pending(const struct timer *t)
{
    return t && t->heap_idx >= 0;
}
