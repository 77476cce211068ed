/* translator/bt_priv.h - what the translator's files share.
 *
 * Run-time conventions of translated code (x86-64 host):
 *   guest EAX ECX EDX EBX EBP ESI EDI  in host rax rcx rdx rbx rbp rsi rdi
 *   guest ESP                          in host r12 (host rsp stays the host stack)
 *   r13 = struct cpu *   r14 = poll address   r15 = retired-instruction counter
 *   r8-r11 scratch; guest OSZAPC in host RFLAGS (DF is always 0 on the host:
 *   guest DF lives in cpu->eflags, read by the string helpers).
 * Upper halves of the guest registers' host registers are always zero.
 * Guest memory is reached as gs:[32-bit address] in the shadow window of the
 * current privilege (mem/shadow.h).
 * A block is a run of guest instructions inside one guest page with one
 * mode key (CPL, segment classes, SS.B) and CS base. It starts with a poll
 * load from [r14] (the timer points r14 at a guard page to get control
 * back) and ends with exits: a patchable `jmp rel32` per direct target
 * (chained to the target block when it is in the same page) or an indirect
 * exit through the run loop.
 */
#ifndef BT86_BT_PRIV_H
#define BT86_BT_PRIV_H
#include "translator/bt.h"
#include "translator/emit.h"
#include "cpu/cpu.h"
#include "cpu/decode.h"

/* why translated code returned to bt_run (cpu->btrt.exit_code; EXIT_* of
 * cpu.h pass through unchanged) */
enum {
    BT_EXIT_NONE = 0,     /* a block exit: continue at cpu->eip            */
    BT_EXIT_POLL = 1,     /* the timer asked for control                   */
    BT_EXIT_SLOW = 2,     /* run the instruction at cpu->eip in the interpreter
                             (guest fault, MMIO, SMC on the running page)  */
    BT_EXIT_TRAP = 3,     /* trap mode: a sensitive instruction at cpu->eip */
    BT_EXIT_STALE = 4,    /* a self-checking block found its code changed  */
};

/* segment classes in the mode key */
enum { SEGC_OTHER = 0, SEGC_FLAT = 1, SEGC_BASED = 2 };
#define MODE_CPL(m)       ((m) & 3)
#define MODE_SEGC(m, s)   (((m) >> (2 + 2 * (s))) & 3)    /* s = SEG_* (CS unused) */
#define MODE_SS32         (1u << 14)
#define MODE_FPU          (1u << 15)    /* CR0.EM = CR0.TS = 0: x87 runs natively */
#define MODE_SINGLE       (1u << 16)    /* one-instruction blocks (bt_step)       */

struct tb_insn {
    uint32_t host_off;     /* offset of its host code from the block entry  */
    uint32_t eip;          /* guest EIP                                     */
    uint16_t pending;      /* retired instructions of the block not yet in r15 */
    uint8_t  fpu_ptr_valid;/* fpu_ptr is the last x87 insn before this one, not yet stored */
    uint8_t  flags_pushed; /* a native string insn: it faults with the guest
                              flags pushed on the host stack and the window
                              base added to RDI (1) or RSI and RDI (2)    */
    uint64_t fpu_ptr;      /* its FIP | FOP << 32                           */
};

struct tb {
    uint32_t eip, lin;     /* guest EIP and linear address of the first insn */
    uint64_t phys;         /* physical address of the first byte            */
    uint64_t phys2;        /* the last instruction crosses into the next
                              linear page: that page's physical address
                              (checked at each lookup), else TB_NO_PHYS2  */
    uint32_t cs_base, mode;
    uint8_t *host;         /* entry point                                   */
    uint32_t host_len;
    uint16_t ninsn;
    uint16_t nbytes;
    bool valid;
    bool sensitive;        /* calls out for I/O or system state (--check skips) */
    bool self_check;       /* on a page mixing code and data: not write-protected,
                              compares its code bytes at entry instead */
    bool xsite_in;         /* listed chained jumps lead into it (bt.c chain_ok) */
    uint32_t undef_flags;  /* flags left undefined at the end (--check masks) */
    struct tb *hnext;      /* lookup hash chain                             */
    struct tb *pnext;      /* blocks of the same physical page              */
    struct tb_insn *map;   /* ninsn + 1 entries (the last: the end)         */
};

/* a callout to the interpreter: translated code passes this record */
struct bt_callout {
    struct insn in;
    uint32_t eip, next_eip;
    uint8_t ends_block;    /* enum co_end: does the block go on after it? */
    uint8_t sreg;          /* CO_ENDS_IF_MODE by MOV or POP to a data segment
                              register: which (its class alone can change the
                              mode key); else SEG_NONE                      */
    uint32_t mode;         /* the block's mode key                          */
    uint32_t code_lin;     /* (3) the block's linear page ...               */
    uint64_t code_phys;    /* ... and its frame                             */
    uint8_t kind;          /* statistics bucket                             */
};

enum { CO_SYSTEM, CO_IO, CO_STRING, CO_FPU, CO_STACK, CO_OTHER, CO_KINDS };

/* after a callout (EIP elsewhere or an SMC hit always end the block) */
enum co_end {
    CO_GOES_ON,            /* the block goes on                             */
    CO_ENDS,               /* back to the run loop (or the next block)      */
    CO_ENDS_IF_MODE,       /* ... if the mode key changed (segment loads)   */
    CO_ENDS_IF_CODE_MOVES, /* ... or if the block's code page no longer maps
                              to the same frame (MOV CR3)                 */
};

struct bt_stats {
    uint64_t blocks, insns_translated, lookups, lookup_misses, chains, flushes;
    uint64_t jc_lookups;       /* lookups the jump cache answered             */
    uint64_t cross_blocks;     /* blocks ending in a page-crossing instruction */
    uint64_t callout_continues; /* block-ending callouts that went on at the
                                   next block without the run loop          */
    uint64_t exits_poll, exits_slow, exits_trap, exits_indirect, exits_direct;
    uint64_t callouts[CO_KINDS];
    uint64_t faults_fill, faults_guest, faults_mmio, faults_smc, faults_de;
    uint64_t smc_invalidations, interp_steps, interp_insns, prefills, callout_exits, jc_inserts, jc_flushes;
    uint64_t callouts_by_op[OP_COUNT];   /* per opcode-table row            */
    uint64_t steps_by_op[OP_COUNT];      /* interpreted slow/trap exits      */
};

struct bt;

/* translator/translate.c */
void tr_init_tables(void);
/* Translate the block at cpu's CS:EIP (linear `lin`, physical `phys`, host
 * pointer `code` valid to the end of the page). */
#define TB_NO_PHYS2 (~0ull)
/* phys2: the RAM frame of the next linear page, which the block's last
 * instruction may cross into, or TB_NO_PHYS2: none may */
struct tb *tr_block(struct bt *bt, struct cpu *c, uint32_t lin, uint64_t phys, uint64_t phys2, const uint8_t *code,
                    unsigned avail, uint32_t mode, bool self_check, bool *no_space);

/* translator/bt.c: services for translate.c */
uint8_t *bt_code_alloc_begin(struct bt *bt, struct cbuf *b);
struct tb *bt_tb_alloc(struct bt *bt, unsigned ninsn);
struct bt_callout *bt_callout_alloc(struct bt *bt);
void *bt_stub_exit_save(struct bt *bt);
/* the indirect-jump cache: JC_SIZE entries indexed by jc_index(EIP);
 * key[i] = -(eip + (mode << 32) + generation), host[i] = block entry */
#define JC_SIZE 65536
/* EIP's low 16 bits plus its high 16 bits byte-swapped (what the flag-free
 * BSWAP + LEA of the inline probe computes), mod 2^16: the upper bits go
 * in, so that hot code 64 KiB apart (Linux had pairs of kernel functions
 * at the same low 16 bits, evicting each other on every call) does not
 * share a slot; the 4096 EIPs of a page still take 4096 consecutive slots
 * (mod 2^16), which INVLPG scans */
static inline unsigned jc_index(uint32_t eip)
{
    return ((eip & 0xFFFFu) + (((eip >> 8) & 0xFF00u) | (eip >> 24))) & (JC_SIZE - 1);
}
/* the generation sits above EIP (bits 0-31) and the mode (32-48) */
#define JC_GEN_ONE (1ull << 49)
#define JC_NG_MAX 8192
#define SREG_NONE ((uint32_t)0 - 0x10000u)   /* btrt.sreg_nsel: no selector matches */
uint64_t *bt_jc_key(struct bt *bt);
uint64_t *bt_jc_host(struct bt *bt);
void *bt_stub_callout(struct bt *bt);
uint64_t bt_rdtsc(struct cpu *c, uint64_t retired);
bool bt_trap_mode(const struct bt *bt);
bool bt_check_mode(const struct bt *bt);
bool bt_host_bmi2(const struct bt *bt);   /* SHLX/SHRX/SARX usable */

#endif
