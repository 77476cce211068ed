/* devices/irq.h - interrupt lines between devices and controllers.
 *
 * A device holds a `struct irq_line` and raises or lowers it; it never calls
 * the interrupt controller directly. The board (monitor/machine.c) wires each
 * line to a sink (the PIC pair, later an IO-APIC). Level semantics: set(1)
 * asserts, set(0) deasserts; an edge-triggered sink sees the 0->1 transition.
 */
#ifndef BT86_IRQ_H
#define BT86_IRQ_H

struct irq_line {
    void (*set)(void *opaque, int n, int level);   /* the sink's callback  */
    void *opaque;                                  /* the sink             */
    int n;                                         /* input number at sink */
};

static inline void irq_set(const struct irq_line *l, int level)
{
    if (l && l->set) l->set(l->opaque, l->n, level);
}
static inline void irq_raise(const struct irq_line *l) { irq_set(l, 1); }
static inline void irq_lower(const struct irq_line *l) { irq_set(l, 0); }
/* Edge pulse: assert then deassert (for edge-triggered ISA sources). */
static inline void irq_pulse(const struct irq_line *l) { irq_set(l, 1); irq_set(l, 0); }

#endif
