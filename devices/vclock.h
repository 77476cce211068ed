/* devices/vclock.h - virtual time and the timer queue.
 *
 * Owns: the guest's notion of time (nanoseconds since machine start) and an
 * ordered queue of one-shot timers that devices schedule. By default virtual
 * time follows the host's CLOCK_MONOTONIC; tests use manual mode and advance
 * it explicitly (deterministic). Invariant: the run loop calls
 * vclock_run_due() before guest time passes vclock_next_deadline().
 */
#ifndef BT86_VCLOCK_H
#define BT86_VCLOCK_H
#include <stdint.h>
#include <stdbool.h>

#define VCLOCK_NEVER UINT64_MAX

struct vclock;
struct timer;
typedef void (*timer_cb)(void *opaque);

struct vclock *vclock_new(bool manual);  /* manual: time moves only by vclock_advance */
void vclock_free(struct vclock *clk);
uint64_t vclock_now_ns(struct vclock *clk);
void vclock_advance(struct vclock *clk, uint64_t ns);   /* manual mode only */
uint64_t vclock_next_deadline(struct vclock *clk);     /* VCLOCK_NEVER if none */
/* Run every timer whose deadline is <= now; returns how many ran. */
int vclock_run_due(struct vclock *clk);

struct timer *timer_new(struct vclock *clk, timer_cb cb, void *opaque);
void timer_free(struct timer *t);
void timer_mod(struct timer *t, uint64_t deadline_ns);  /* (re)arm, absolute */
void timer_del(struct timer *t);                        /* disarm */
bool timer_pending(const struct timer *t);

#endif
