/* cpu/flags.c - arithmetic flags, computed eagerly and exactly.
 *
 * Owns: the OSZAPC results of add/sub/logic (SDM vol. 1 sec. 3.4.3.1 and
 * appendix A) and condition-code evaluation for Jcc/SETcc/CMOVcc
 * (SDM vol. 2 Jcc table: tttn encoding).
 */
#include "cpu/interp_priv.h"

const uint8_t parity_table[256] = {
#define P2(n) n, n ^ 1, n ^ 1, n
#define P4(n) P2(n), P2(n ^ 1), P2(n ^ 1), P2(n)
#define P6(n) P4(n), P4(n ^ 1), P4(n ^ 1), P4(n)
    P6(1), P6(0), P6(0), P6(1)
#undef P2
#undef P4
#undef P6
};

bool cond_true(const struct cpu *c, unsigned cc)
{
    uint32_t f = c->eflags;
    bool r;
    switch ((cc >> 1) & 7) {
    case 0: r = f & FL_OF; break;
    case 1: r = f & FL_CF; break;
    case 2: r = f & FL_ZF; break;
    case 3: r = f & (FL_CF | FL_ZF); break;
    case 4: r = f & FL_SF; break;
    case 5: r = f & FL_PF; break;
    case 6: r = !(f & FL_SF) != !(f & FL_OF); break;
    default: r = (f & FL_ZF) || (!(f & FL_SF) != !(f & FL_OF)); break;
    }
    return (cc & 1) ? !r : r;
}
