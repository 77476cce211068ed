/* tests/unit/test_vclock.c - virtual clock: manual and host modes, timer
 * ordering, re-arming from callbacks, deletion, runaway protection. */
#include "devices/vclock.h"
#include "tests/unit/test.h"

#include <stdlib.h>
#include <time.h>

struct ev {
    int order[64];           /* ids in firing order      */
    int n;                   /* how many fired           */
};
struct tctx {
    struct ev *ev;           /* shared log               */
    int id;                  /* this timer's id          */
    struct timer *t;         /* the timer itself         */
    struct vclock *clk;      /* its clock                */
    uint64_t period;         /* re-arm period, 0 = none  */
    int fired;               /* count                    */
};

static void on_fire(void *o)
{
    struct tctx *c = o;
    c->fired++;
    if (c->ev && c->ev->n < 64) c->ev->order[c->ev->n++] = c->id;
    if (c->period) timer_mod(c->t, vclock_now_ns(c->clk) + c->period);
}

static void test_manual_time(void)
{
    struct vclock *clk = vclock_new(true);
    EXPECT_EQ(vclock_now_ns(clk), 0);
    vclock_advance(clk, 1500);
    EXPECT_EQ(vclock_now_ns(clk), 1500);
    EXPECT_EQ(vclock_next_deadline(clk), VCLOCK_NEVER);
    EXPECT_EQ(vclock_run_due(clk), 0);
    vclock_free(clk);
}

static void test_host_time_moves(void)
{
    struct vclock *clk = vclock_new(false);
    uint64_t a = vclock_now_ns(clk);
    struct timespec ts = { 0, 2000000 };
    nanosleep(&ts, NULL);
    uint64_t b = vclock_now_ns(clk);
    EXPECT(b >= a + 2000000);
    EXPECT(b < a + 2000000000ull);
    vclock_advance(clk, 5000000000ull);      /* skip forward */
    EXPECT(vclock_now_ns(clk) >= b + 5000000000ull);
    vclock_free(clk);
}

static void test_order_by_deadline(void)
{
    struct vclock *clk = vclock_new(true);
    struct ev ev = {0};
    struct tctx c[10];
    /* deadlines out of order, with ties (ties run in arm order) */
    uint64_t dl[10] = { 50, 10, 30, 10, 90, 20, 30, 70, 60, 40 };
    for (int i = 0; i < 10; i++) {
        c[i] = (struct tctx){ .ev = &ev, .id = i, .clk = clk };
        c[i].t = timer_new(clk, on_fire, &c[i]);
        timer_mod(c[i].t, dl[i]);
    }
    EXPECT_EQ(vclock_next_deadline(clk), 10);
    vclock_advance(clk, 35);
    EXPECT_EQ(vclock_run_due(clk), 5);
    int want1[5] = { 1, 3, 5, 2, 6 };
    for (int i = 0; i < 5; i++) EXPECT_EQ(ev.order[i], want1[i]);
    EXPECT_EQ(vclock_next_deadline(clk), 40);
    vclock_advance(clk, 100);
    EXPECT_EQ(vclock_run_due(clk), 5);
    int want2[5] = { 9, 0, 8, 7, 4 };
    for (int i = 0; i < 5; i++) EXPECT_EQ(ev.order[5 + i], want2[i]);
    EXPECT_EQ(vclock_next_deadline(clk), VCLOCK_NEVER);
    for (int i = 0; i < 10; i++) timer_free(c[i].t);
    vclock_free(clk);
}

static void test_mod_del_pending(void)
{
    struct vclock *clk = vclock_new(true);
    struct tctx a = { .id = 1, .clk = clk }, b = { .id = 2, .clk = clk };
    a.t = timer_new(clk, on_fire, &a);
    b.t = timer_new(clk, on_fire, &b);
    EXPECT(!timer_pending(a.t));
    timer_mod(a.t, 100);
    timer_mod(b.t, 200);
    EXPECT(timer_pending(a.t));
    timer_mod(a.t, 300);                 /* re-arm moves it */
    EXPECT_EQ(vclock_next_deadline(clk), 200);
    timer_del(b.t);
    EXPECT(!timer_pending(b.t));
    EXPECT_EQ(vclock_next_deadline(clk), 300);
    vclock_advance(clk, 250);
    EXPECT_EQ(vclock_run_due(clk), 0);
    vclock_advance(clk, 50);
    EXPECT_EQ(vclock_run_due(clk), 1);
    EXPECT_EQ(a.fired, 1);
    EXPECT_EQ(b.fired, 0);
    EXPECT(!timer_pending(a.t));
    timer_del(a.t);                      /* deleting a disarmed timer is fine */
    timer_free(a.t);
    timer_free(b.t);
    vclock_free(clk);
}

static void test_periodic_rearm(void)
{
    struct vclock *clk = vclock_new(true);
    struct tctx p = { .id = 1, .clk = clk, .period = 1000 };
    p.t = timer_new(clk, on_fire, &p);
    timer_mod(p.t, 1000);
    for (int i = 0; i < 10; i++) {
        vclock_advance(clk, 1000);
        EXPECT_EQ(vclock_run_due(clk), 1);
    }
    EXPECT_EQ(p.fired, 10);
    EXPECT_EQ(vclock_next_deadline(clk), 11000);
    timer_free(p.t);
    vclock_free(clk);
}

/* A callback that frees another timer and itself must not break the queue. */
struct killer { struct timer *self, *victim; int fired; };
static void on_kill(void *o)
{
    struct killer *k = o;
    k->fired++;
    timer_free(k->victim);
    timer_free(k->self);
}

static void test_callback_frees(void)
{
    struct vclock *clk = vclock_new(true);
    struct tctx v = { .id = 2, .clk = clk };
    struct killer k = {0};
    v.t = timer_new(clk, on_fire, &v);
    k.self = timer_new(clk, on_kill, &k);
    k.victim = v.t;
    timer_mod(k.self, 10);
    timer_mod(v.t, 10);                  /* same deadline, armed later */
    vclock_advance(clk, 10);
    EXPECT_EQ(vclock_run_due(clk), 1);
    EXPECT_EQ(k.fired, 1);
    EXPECT_EQ(v.fired, 0);
    EXPECT_EQ(vclock_next_deadline(clk), VCLOCK_NEVER);
    vclock_free(clk);
}

static struct timer *g_self_rearm_t;
static int g_self_rearm_n;
static void on_rearm_now(void *o)
{
    struct vclock *clk = o;
    g_self_rearm_n++;
    timer_mod(g_self_rearm_t, vclock_now_ns(clk));
}

static void test_zero_period_does_not_hang(void)
{
    struct vclock *clk = vclock_new(true);
    g_self_rearm_n = 0;
    g_self_rearm_t = timer_new(clk, on_rearm_now, clk);
    timer_mod(g_self_rearm_t, 0);
    int ran = vclock_run_due(clk);
    EXPECT(ran > 0);
    EXPECT(ran <= 100000);
    EXPECT(timer_pending(g_self_rearm_t));
    timer_free(g_self_rearm_t);
    vclock_free(clk);
}

static void test_many_timers_heap(void)
{
    struct vclock *clk = vclock_new(true);
    enum { N = 2000 };
    struct ev ev = {0};
    struct tctx *c = calloc(N, sizeof *c);
    srand(42);
    for (int i = 0; i < N; i++) {
        c[i] = (struct tctx){ .id = i, .clk = clk };
        c[i].t = timer_new(clk, on_fire, &c[i]);
        timer_mod(c[i].t, 1 + (uint64_t)(rand() % 100000));
    }
    /* delete every third one */
    for (int i = 0; i < N; i += 3) timer_del(c[i].t);
    uint64_t last = 0;
    int fired = 0;
    while (vclock_next_deadline(clk) != VCLOCK_NEVER) {
        uint64_t d = vclock_next_deadline(clk);
        EXPECT(d >= last);
        last = d;
        vclock_advance(clk, d - vclock_now_ns(clk));
        fired += vclock_run_due(clk);
    }
    EXPECT_EQ(fired, N - (N + 2) / 3);
    for (int i = 0; i < N; i++) {
        EXPECT_EQ(c[i].fired, i % 3 ? 1 : 0);
        timer_free(c[i].t);
    }
    free(c);
    (void)ev;
    vclock_free(clk);
}

int main(void)
{
    RUN(test_manual_time);
    RUN(test_host_time_moves);
    RUN(test_order_by_deadline);
    RUN(test_mod_del_pending);
    RUN(test_periodic_rearm);
    RUN(test_callback_frees);
    RUN(test_zero_period_does_not_hang);
    RUN(test_many_timers_heap);
    return test_summary();
}
