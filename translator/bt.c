/* translator/bt.c - the bt (and trap) engine: code cache, run loop, faults.
 *
 * Owns: the code buffer (stubs at its start, then blocks), block lookup by
 * (linear EIP, physical address, CS base, mode key), chaining of direct
 * exits within a page, invalidation of a physical page's blocks when it is
 * written (shadow write fault, interpreter or DMA write through mem's code
 * watch), the full flush when the buffer is full, the entry/exit/callout
 * stubs, the SIGSEGV/SIGFPE handler that turns host faults in translated
 * code into shadow fills or precise exits, and the timer that bounds how long
 * translated code runs before the run loop sees timers and interrupts.
 * What runs where: 32-bit protected-mode code (CS.D=1, flat 4 GiB CS) is
 * translated; real mode, V86, 16-bit code, single-stepping (TF) and
 * anything the translator cannot start runs in the interpreter.
 * Signal handlers find the engine through a thread-local pointer set while
 * bt_run() runs (the only non-struct state: signals carry no argument).
 */
#include "translator/bt_priv.h"
#include "cpu/interp_priv.h"
#include "mem/mem.h"
#include "mem/shadow.h"
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/auxv.h>
#include <ucontext.h>
#include <asm/prctl.h>
#include <capstone/capstone.h>

#define CODE_SIZE     (64u << 20)
#define MAX_TBS       (256u << 10)
#define MAP_ENTRIES   (4u << 20)
#define MAX_CALLOUTS  (512u << 10)
#define HASH_SIZE     (1u << 16)
#define PAGE_HASH     (1u << 14)
#define MAX_CROSS     4096      /* blocks crossing a page between flushes   */
#define MAX_XSITES    16384     /* jumps chained into another page          */
#define TIMER_NS      1000000L       /* control back to the run loop every 1 ms */

struct bt {
    struct cpu *cpu;
    bool trap;                      /* trap mode: sensitive insns exit      */
    struct shadow *sh;
    uint8_t *code, *code_ptr, *code_end;
    /* stubs at the start of the code buffer */
    uint64_t (*enter)(struct cpu *c, void *code);
    uint8_t *stub_exit_save, *stub_exit_nosave, *stub_callout, *blocks_start;
    uint8_t *stub_fpu_load, *stub_fpu_ret;   /* values of cpu->btrt.fpu_hook */
    struct tb *tbs;                 /* block records, allocation order      */
    uint32_t ntb;
    struct tb_insn *maps;
    uint32_t nmap;
    struct bt_callout *callouts;
    uint32_t ncallout;
    struct tb *hash[HASH_SIZE];
    struct tb *page_head[PAGE_HASH];
    uint8_t *code_bits;             /* 1 bit per RAM page holding blocks    */
    uint8_t *smc_count;             /* per RAM page: SMC write faults       */
    uint8_t *notrans_bits;          /* pages mixing hot code and data: their
                                       blocks check their code bytes at entry
                                       instead of write-protecting the page */
    uint32_t smc_total;             /* SMC faults since the counters' reset */
    uint64_t ram_pages;
    uint8_t *poll_page, *poll_guard;
    uintptr_t cur_window;           /* window base GS points at, 0: unknown */
    uint32_t as_cr3;                /* CR3 the current user window is for  */
    bool use_wrgsbase;
    bool host_bmi2;                 /* the host has BMI2 (translate.c)     */
    uint32_t sysenter_failed_lin;   /* sysenter_prefill could not map this  */
    uint32_t sysenter_failed_cr3;   /* page in this address space           */
    bool smc_hit;                   /* a page was invalidated in a callout  */
    int delivered;                  /* vector a callout delivered (bt_step) */
    bool pf_pending;                /* a guest #PF was delivered for pf_lin: */
    bool pf_user;                   /* map it when the faulting instruction */
    uint32_t pf_lin, pf_eip;        /* (at pf_eip, in its ring) runs again  */
    unsigned pf_tries;              /* block entries left to wait for it    */
    uint64_t generation;            /* bumped by every flush                */
    timer_t timer;
    bool timer_ok;
    bool check;                     /* --check: lockstep with the interpreter */
    struct {                        /* the last exit, for chaining/jump cache */
        uint8_t *site;              /* its patchable jump (NULL: none)      */
        uint64_t gen;               /* code-cache generation then           */
        uint32_t mode, eip, cs;     /* its mode key and target              */
    } pend;
    uint64_t *jc_key, *jc_host;     /* indirect-jump cache (bt_priv.h)      */
    FILE *perf_map;                 /* BT86_PERF_MAP: /tmp/perf-PID.map      */
    struct tb **cross;              /* blocks whose last instruction crosses
                                       into the next page (invalidate_pfn)  */
    uint32_t ncross;
    struct xsite { uint8_t *site; struct tb *tb; uint32_t page; } *xsites;
                                    /* chained jumps that depend on another
                                       page's (global) translation (chain_ok) */
    uint32_t nxsite;
    uint8_t *xsite_pages;           /* bit per linear page with such jumps  */
    uint8_t sreg_valid;             /* bit per segment register: btrt.sreg_*
                                       describe what it holds (sreg_check)  */
    struct seg sreg_seg[6];         /* ... namely this                      */
    struct dtr sreg_gdt;            /* ... under this GDTR                  */
    uint32_t *jc_eip;               /* the EIP each entry was made for       */
    struct tb **jc_tb;              /* ... and its block (find_block)        */
    uint32_t *jc_ng;                /* entries made on non-global pages since
                                       the last flush (a CR3 load drops them) */
    uint32_t njc_ng;
    bool jc_ng_overflow;            /* more than JC_NG_MAX: flush them all   */
    uint8_t *jc_pages;              /* bit per linear page that may have
                                       entries (INVLPG looks only there)    */
    uint8_t *jc_cross_pages;        /* ... entries of blocks that cross into
                                       the next page (INVLPG of that one)   */
    struct wlog { uint64_t pa; uint64_t old, now; uint8_t size; bool ram; } *wlog;
    uint32_t nwlog, wlog_cap;
    bool wlog_overflow;
    uint64_t checked_blocks;
    struct bt_stats st;
};

static __thread struct bt *tls_bt;      /* the engine running on this thread */
static struct sigaction old_segv, old_fpe, old_bus;
static bool handlers_installed;

/* ---- services for translate.c ---- */
bool bt_trap_mode(const struct bt *bt) { return bt->trap; }
bool bt_check_mode(const struct bt *bt) { return bt->check; }
bool bt_host_bmi2(const struct bt *bt) { return bt->host_bmi2; }
uint64_t *bt_jc_key(struct bt *bt) { return bt->jc_key; }
uint64_t *bt_jc_host(struct bt *bt) { return bt->jc_host; }

/* forget every cached indirect target: a new generation (a memset when the
 * 15-bit generation wraps) */
static void jc_flush(struct bt *bt)
{
    struct cpu *c = bt->cpu;
    c->btrt.jc_gen += JC_GEN_ONE;
    bt->st.jc_flushes++;
    bt->njc_ng = 0;
    bt->jc_ng_overflow = false;
    if (c->btrt.jc_gen == 0)
        for (unsigned i = 0; i < JC_SIZE; i++) bt->jc_key[i] = 1;   /* never matches */
}

/* The jump cache holds linear EIPs (CS base 0), so it must forget what a
 * TLB flush makes stale, and only that: a CR3 load keeps global pages
 * (SDM vol. 3 sec. 4.10.4.1), where the kernel's code is, and INVLPG drops
 * one page (for a 4 MiB page: its 4 MiB, which are in jc_pages as 4 KiB
 * pages like any other). Flushing everything on each of them sent every
 * kernel indirect and cross-page jump through the run loop after each
 * context switch (3500 loop exits per fork+wait). */
static void jc_drop_nonglobal(struct bt *bt)
{
    if (bt->jc_ng_overflow) { jc_flush(bt); return; }
    for (uint32_t k = 0; k < bt->njc_ng; k++) bt->jc_key[bt->jc_ng[k]] = 1;
    bt->njc_ng = 0;
}

static void jc_drop_page(struct bt *bt, uint32_t lin)
{
    uint32_t page = lin >> 12;
    if ((bt->jc_pages[page >> 3] >> (page & 7)) & 1) {
        bt->jc_pages[page >> 3] &= (uint8_t)~(1u << (page & 7));
        uint32_t first = jc_index(lin & ~0xFFFu);           /* the slots of this page's EIPs */
        for (uint32_t k = 0; k < 4096; k++) {
            uint32_t i = (first + k) & (JC_SIZE - 1);
            if (bt->jc_eip[i] >> 12 == page) bt->jc_key[i] = 1;
        }
    }
    /* blocks of the page before whose last instruction reaches into this one */
    uint32_t prev = (page - 1) & 0xFFFFF;
    if ((bt->jc_cross_pages[prev >> 3] >> (prev & 7)) & 1) {
        bt->jc_cross_pages[prev >> 3] &= (uint8_t)~(1u << (prev & 7));
        uint32_t first = jc_index(prev << 12);
        for (uint32_t k = 0; k < 4096; k++) {
            uint32_t i = (first + k) & (JC_SIZE - 1);
            if (bt->jc_eip[i] >> 12 == prev && bt->jc_tb[i] && bt->jc_tb[i]->phys2 != TB_NO_PHYS2) bt->jc_key[i] = 1;
        }
    }
}

/* a block that goes away leaves the cache too */
static void jc_forget(struct bt *bt, const struct tb *tb)
{
    unsigned i = jc_index(tb->eip);
    if (bt->jc_tb[i] == tb) bt->jc_key[i] = 1;
}

static inline bool jc_match(const struct bt *bt, uint32_t eip, uint32_t mode)
{
    return bt->jc_key[jc_index(eip)] == 0 - ((uint64_t)eip + ((uint64_t)mode << 32) + bt->cpu->btrt.jc_gen);
}

static bool next_page_global(struct cpu *c, const struct tb *tb);

static void jc_insert(struct bt *bt, const struct tb *tb)
{
    struct cpu *c = bt->cpu;
    unsigned i = jc_index(tb->eip);
    bt->st.jc_inserts++;
    bt->jc_key[i] = 0 - ((uint64_t)tb->eip + ((uint64_t)tb->mode << 32) + c->btrt.jc_gen);
    bt->jc_host[i] = (uint64_t)(uintptr_t)tb->host;
    bt->jc_eip[i] = tb->eip;
    bt->jc_tb[i] = (struct tb *)tb;
    uint32_t page = tb->eip >> 12;
    bt->jc_pages[page >> 3] |= (uint8_t)(1u << (page & 7));
    if (tb->phys2 != TB_NO_PHYS2) bt->jc_cross_pages[page >> 3] |= (uint8_t)(1u << (page & 7));
    if (c->cr[0] & CR0_PG) {
        /* the translation find_block just used: global or not */
        bool user = c->cpl == 3;
        unsigned t = page % TLB_SIZE;
        /* (a block crossing into the next page: if that page's is too) */
        bool global = c->tlb.tag[user][0][t] == (tb->eip & ~0xFFFu) && c->tlb.global[user][0][t] &&
                      (tb->phys2 == TB_NO_PHYS2 || next_page_global(c, tb));
        if (!global) {
            if (bt->njc_ng < JC_NG_MAX) bt->jc_ng[bt->njc_ng++] = i;
            else bt->jc_ng_overflow = true;
        }
    }
}
void *bt_stub_exit_save(struct bt *bt) { return bt->stub_exit_save; }
void *bt_stub_callout(struct bt *bt) { return bt->stub_callout; }

uint8_t *bt_code_alloc_begin(struct bt *bt, struct cbuf *b)
{
    if (bt->code_end - bt->code_ptr < 65536) return NULL;
    b->p = bt->code_ptr;
    b->end = bt->code_end;
    b->full = false;
    return b->p;
}

struct tb *bt_tb_alloc(struct bt *bt, unsigned ninsn)
{
    if (bt->ntb >= MAX_TBS || bt->nmap + ninsn + 1 > MAP_ENTRIES) return NULL;
    struct tb *tb = &bt->tbs[bt->ntb];
    memset(tb, 0, sizeof *tb);
    tb->map = &bt->maps[bt->nmap];
    return tb;
}

struct bt_callout *bt_callout_alloc(struct bt *bt)
{
    if (bt->ncallout >= MAX_CALLOUTS) return NULL;
    return &bt->callouts[bt->ncallout++];
}

/* ---- stubs ---- */
#define OFF(f) ((int32_t)offsetof(struct cpu, f))
#define ARITH_MASK 0x8D5u

static void e_load_state(struct cbuf *b)
{
    e_load_cpu64(b, H_R14, OFF(btrt.poll));
    e_load_cpu32(b, H_RAX, OFF(eflags));
    e8(b, 0x25); e32(b, ARITH_MASK);                  /* and eax, OSZAPC */
    e8(b, 0x50); e8(b, 0x9D);                         /* push rax; popfq  */
    for (unsigned g = 0; g < 8; g++) e_load_cpu32(b, g == 4 ? H_R12 : g, OFF(r) + 4 * (int32_t)g);
}

static void e_save_state(struct cbuf *b)
{
    for (unsigned g = 0; g < 8; g++) e_store_cpu32(b, g == 4 ? H_R12 : g, OFF(r) + 4 * (int32_t)g);
    e8(b, 0x9C); e8(b, 0x41); e8(b, 0x58);            /* pushfq; pop r8 */
    e8(b, 0x41); e8(b, 0x81); e8(b, 0xE0); e32(b, ARITH_MASK);        /* and r8d, mask */
    e_load_cpu32(b, H_R9, OFF(eflags));
    e8(b, 0x41); e8(b, 0x81); e8(b, 0xE1); e32(b, ~ARITH_MASK);       /* and r9d, ~mask */
    e8(b, 0x45); e8(b, 0x09); e8(b, 0xC1);                            /* or r9d, r8d */
    e_store_cpu32(b, H_R9, OFF(eflags));
}

uint64_t bt_helper(struct cpu *c, struct bt_callout *rec, uint64_t retired);
static unsigned seg_class(const struct seg *s);
void bt_fpu_load(struct cpu *c);
static bool mode_key(const struct cpu *c, uint32_t *mode);
static void set_window(struct bt *bt, int w);
static void fpu_sync(struct bt *bt);

static void emit_stubs(struct bt *bt)
{
    struct cbuf b = { bt->code, bt->code_end, false };
    /* enter(cpu, code) */
    bt->enter = (uint64_t (*)(struct cpu *, void *))(void *)b.p;
    e8(&b, 0x53); e8(&b, 0x55);                                   /* push rbx, rbp */
    e8(&b, 0x41); e8(&b, 0x54); e8(&b, 0x41); e8(&b, 0x55);       /* push r12, r13 */
    e8(&b, 0x41); e8(&b, 0x56); e8(&b, 0x41); e8(&b, 0x57);       /* push r14, r15 */
    e8(&b, 0x48); e8(&b, 0x83); e8(&b, 0xEC); e8(&b, 0x08);       /* sub rsp, 8 */
    e8(&b, 0x49); e8(&b, 0x89); e8(&b, 0xFD);                     /* mov r13, rdi */
    e_store_cpu64(&b, H_RSP, OFF(btrt.host_rsp));
    e8(&b, 0x49); e8(&b, 0x89); e8(&b, 0xF3);                     /* mov r11, rsi */
    e8(&b, 0x45); e8(&b, 0x31); e8(&b, 0xFF);                     /* xor r15d, r15d */
    e_load_state(&b);
    e8(&b, 0x41); e8(&b, 0xFF); e8(&b, 0xE3);                     /* jmp r11 */
    /* exit_save / exit_nosave */
    b.p = (uint8_t *)(((uintptr_t)b.p + 15) & ~(uintptr_t)15);
    bt->stub_exit_save = b.p;
    e_save_state(&b);
    bt->stub_exit_nosave = b.p;
    e_load_cpu64(&b, H_RSP, OFF(btrt.host_rsp));
    e8(&b, 0x4C); e8(&b, 0x89); e8(&b, 0xF8);                     /* mov rax, r15 */
    e8(&b, 0x48); e8(&b, 0x83); e8(&b, 0xC4); e8(&b, 0x08);       /* add rsp, 8 */
    e8(&b, 0x41); e8(&b, 0x5F); e8(&b, 0x41); e8(&b, 0x5E);       /* pop r15, r14 */
    e8(&b, 0x41); e8(&b, 0x5D); e8(&b, 0x41); e8(&b, 0x5C);       /* pop r13, r12 */
    e8(&b, 0x5D); e8(&b, 0x5B); e8(&b, 0xC3);                     /* pop rbp, rbx; ret */
    /* callout: r11 = record */
    b.p = (uint8_t *)(((uintptr_t)b.p + 15) & ~(uintptr_t)15);
    bt->stub_callout = b.p;
    e_save_state(&b);
    e8(&b, 0x4C); e8(&b, 0x89); e8(&b, 0xEF);                     /* mov rdi, r13 */
    e8(&b, 0x4C); e8(&b, 0x89); e8(&b, 0xDE);                     /* mov rsi, r11 */
    e8(&b, 0x4C); e8(&b, 0x89); e8(&b, 0xFA);                     /* mov rdx, r15 */
    e8(&b, 0x45); e8(&b, 0x31); e8(&b, 0xFF);                     /* xor r15d, r15d */
    e8(&b, 0x48); e8(&b, 0x83); e8(&b, 0xEC); e8(&b, 0x08);       /* sub rsp, 8 */
    e_mov64_imm(&b, H_RAX, (uint64_t)(uintptr_t)bt_helper);
    e8(&b, 0xFF); e8(&b, 0xD0);                                   /* call rax */
    e8(&b, 0x48); e8(&b, 0x83); e8(&b, 0xC4); e8(&b, 0x08);       /* add rsp, 8 */
    /* rax: 0 = on with the block, 1 = leave, else a block to go on at */
    e8(&b, 0x48); e8(&b, 0x85); e8(&b, 0xC0);                     /* test rax, rax */
    uint8_t *jz = b.p; e8(&b, 0x0F); e8(&b, 0x84); e32(&b, 0);    /* jz on */
    e8(&b, 0x48); e8(&b, 0x83); e8(&b, 0xF8); e8(&b, 0x01);       /* cmp rax, 1 */
    e8(&b, 0x0F); e8(&b, 0x84);                                   /* je exit_nosave */
    e32(&b, (uint32_t)(bt->stub_exit_nosave - (b.p + 4)));
    e8(&b, 0x49); e8(&b, 0x89); e8(&b, 0xC3);                     /* mov r11, rax */
    e_load_state(&b);
    e8(&b, 0x48); e8(&b, 0x8D); e8(&b, 0x64); e8(&b, 0x24); e8(&b, 0x08);   /* lea rsp, [rsp + 8]: drop the return */
    e8(&b, 0x41); e8(&b, 0xFF); e8(&b, 0xE3);                     /* jmp r11 */
    e_patch32(jz + 2, b.p);
    e_load_state(&b);
    e8(&b, 0xC3);                                                 /* ret */
    /* x87 hooks: a bare RET once loaded, else save the caller-saved
     * registers and flags, bt_fpu_load(cpu), restore */
    b.p = (uint8_t *)(((uintptr_t)b.p + 15) & ~(uintptr_t)15);
    bt->stub_fpu_ret = b.p;
    e8(&b, 0xC3);
    b.p = (uint8_t *)(((uintptr_t)b.p + 15) & ~(uintptr_t)15);
    bt->stub_fpu_load = b.p;
    static const uint8_t saved[9] = { H_RAX, H_RCX, H_RDX, H_RSI, H_RDI, H_R8, H_R9, H_R10, H_R11 };
    e8(&b, 0x9C);                                                 /* pushfq */
    for (int i = 0; i < 9; i++) { if (saved[i] >= 8) e8(&b, 0x41); e8(&b, 0x50 | (saved[i] & 7)); }
    /* entry rsp = 8 mod 16; +80 pushed = 8 mod 16: align */
    e8(&b, 0x48); e8(&b, 0x83); e8(&b, 0xEC); e8(&b, 0x08);       /* sub rsp, 8 */
    e8(&b, 0x4C); e8(&b, 0x89); e8(&b, 0xEF);                     /* mov rdi, r13 */
    e_mov64_imm(&b, H_RAX, (uint64_t)(uintptr_t)bt_fpu_load);
    e8(&b, 0xFF); e8(&b, 0xD0);                                   /* call rax */
    e8(&b, 0x48); e8(&b, 0x83); e8(&b, 0xC4); e8(&b, 0x08);       /* add rsp, 8 */
    for (int i = 8; i >= 0; i--) { if (saved[i] >= 8) e8(&b, 0x41); e8(&b, 0x58 | (saved[i] & 7)); }
    e8(&b, 0x9D);                                                 /* popfq */
    e8(&b, 0xC3);
    bt->blocks_start = (uint8_t *)(((uintptr_t)b.p + 63) & ~(uintptr_t)63);
}

/* the interrupt controller asserts INTR (IF aside) */
static inline bool intr_line(struct cpu *c)
{
    return c->intr_pending && c->intr_pending(c->intr_opaque);
}

/* an external interrupt is pending and may be taken now */
static inline bool intr_deliverable(struct cpu *c)
{
    return (c->eflags & FL_IF) && !c->intr_shadow && intr_line(c);
}

/* After a callout that leaves its block (SYSENTER, SYSEXIT, INT, IRET, a
 * far jump, a mode change): the block to go on at, found in the jump cache,
 * or NULL to leave for the run loop, which must see interrupts, the timer,
 * a pending #PF prefill and everything else it does between blocks. */
static struct tb *callout_next(struct bt *bt, struct cpu *c, const struct bt_callout *rec)
{
    if (bt->check || bt->smc_hit || bt->pf_pending || (rec->mode & MODE_SINGLE) || c->halted ||
        c->btrt.poll != (uint64_t)(uintptr_t)bt->poll_page || c->seg[SEG_CS].base != 0)
        return NULL;
    if (intr_deliverable(c)) return NULL;
    uint32_t mode;
    if (!mode_key(c, &mode) || !jc_match(bt, c->eip, mode) || !bt->jc_tb[jc_index(c->eip)]->valid) return NULL;
    set_window(bt, c->cpl == 3 ? SHADOW_USER : SHADOW_SUP);
    bt->st.callout_continues++;
    return bt->jc_tb[jc_index(c->eip)];
}

/* Where linear address `lin` maps now for access `a`, without side
 * effects: a walk that sets no A/D bits and leaves no #PF state (CR2, error
 * code), with the A20 mask applied. Returns false if the tables refuse it;
 * the cpu's last_walk_* flags describe the walk. */
static bool walk_quietly(struct cpu *c, uint32_t lin, enum acc a, bool user, uint64_t *pa)
{
    if (!(c->cr[0] & CR0_PG)) {
        *pa = c->a20_enabled ? lin : (lin & ~0x100000u);
        c->last_walk_accessed = true;
        c->last_walk_large = false;
        return true;
    }
    uint32_t cr2 = c->cr[2], err = c->exc_err;
    bool has = c->exc_has_err;
    bool ok = paging_walk(c, lin, a, user, pa, false) == EXC_NONE;
    c->cr[2] = cr2; c->exc_err = err; c->exc_has_err = has;
    if (ok && !c->a20_enabled) *pa &= ~(uint64_t)0x100000;
    return ok;
}

/* the frame linear page `lin` maps to for instruction fetch now, if a TLB
 * could hold it (A already set), else ~0 */
static uint64_t code_page_phys(struct cpu *c, uint32_t lin)
{
    uint64_t pa;
    if (!walk_quietly(c, lin, ACC_EXEC, c->cpl == 3, &pa) || !c->last_walk_accessed) return ~0ull;
    return pa & ~0xFFFull;
}

/* RDTSC in ring 0, called from translated code (translate.c tr_rdtsc):
 * the instructions before it retire first, as in a callout */
uint64_t bt_rdtsc(struct cpu *c, uint64_t retired)
{
    c->icount += retired;
    c->tsc += retired;
    return cpu_tsc_read(c);
}

/* ---- MOV Sreg fast path (translate.c sreg_fast_begin) ---- */
static inline bool seg_same(const struct seg *a, const struct seg *b)
{
    return a->sel == b->sel && a->base == b->base && a->limit == b->limit && a->ar == b->ar;
}

/* Before translated code runs again: forget what no longer holds (the
 * register or the GDTR changed by anything but the fast path itself) */
static inline void sreg_check(struct bt *bt)
{
    if (!bt->sreg_valid) return;
    struct cpu *c = bt->cpu;
    bool gdt = c->gdtr.base == bt->sreg_gdt.base && c->gdtr.limit == bt->sreg_gdt.limit;
    for (unsigned s = 0; s < 6; s++)
        if (((bt->sreg_valid >> s) & 1) && (!gdt || !seg_same(&c->seg[s], &bt->sreg_seg[s]))) {
            bt->sreg_valid &= (uint8_t)~(1u << s);
            c->btrt.sreg_nsel[s] = SREG_NONE;
        }
}

/* after a MOV Sreg callout in ring 0: remember the load for the fast path,
 * when its descriptor is in the GDT, in RAM, within one page */
static void sreg_remember(struct bt *bt, const struct insn *in)
{
    struct cpu *c = bt->cpu;
    unsigned s = in->opnd[0].reg;
    uint16_t sel = c->seg[s].sel;
    if (c->cpl != 0 || (sel & 4) || !(sel & ~3u) || (s != SEG_ES && s != SEG_DS && s != SEG_FS && s != SEG_GS))
        return;
    uint32_t lin = c->gdtr.base + (sel & ~7u);
    uint64_t pa;
    if ((lin & 0xFFF) > 0xFF8 || (sel | 7u) > c->gdtr.limit || !walk_quietly(c, lin, ACC_READ, false, &pa)) return;
    uint8_t *h = mem_host_page(c->mem, pa, false);
    if (!h || h != mem_ram(c->mem) + (pa & ~0xFFFull)) return;
    uint64_t d;
    memcpy(&d, h + (pa & 0xFFF), 8);
    c->btrt.sreg_nsel[s] = 0u - sel;
    c->btrt.sreg_desc_lin[s] = lin;
    c->btrt.sreg_ndesc[s] = 0 - d;
    bt->sreg_seg[s] = c->seg[s];
    bt->sreg_gdt = c->gdtr;
    bt->sreg_valid |= (uint8_t)(1u << s);
}

/* After SYSENTER: Linux's entry code reads the 6th argument from the user
 * stack at EBP (the vDSO's __kernel_vsyscall moves ESP there), through the
 * supervisor window; a new process's stack page is not mapped there yet.
 * Map it now instead of at a host fault: a read fill, only when the guest
 * tables have it accessed already (no A/D bit is set for it). */
static bool shadow_fill(struct bt *bt, int w, uint32_t lin, bool write, bool string);

static void sysenter_prefill(struct bt *bt)
{
    struct cpu *c = bt->cpu;
    uint32_t lin = c->r[R_EBP] & ~0xFFFu;
    if (!(c->cr[0] & CR0_PG) || shadow_mapped(bt->sh, SHADOW_SUP, lin)) return;
    if (lin == bt->sysenter_failed_lin && c->cr[3] == bt->sysenter_failed_cr3) return;   /* (no walk each time) */
    uint32_t cr2 = c->cr[2], err = c->exc_err;     /* a failed walk must leave no trace */
    bool has = c->exc_has_err;
    uint64_t pa;
    if (walk_quietly(c, lin, ACC_READ, false, &pa) && c->last_walk_accessed && shadow_fill(bt, SHADOW_SUP, lin, false, false)) {
        bt->st.prefills++;
    } else {
        bt->sysenter_failed_lin = lin;
        bt->sysenter_failed_cr3 = (uint32_t)c->cr[3];
    }
    c->cr[2] = cr2; c->exc_err = err; c->exc_has_err = has;
}

/* what translated code reads of C's state, made current before it runs:
 * whether an interrupt waits (STI, POPF), and the MOV Sreg cache */
static inline void before_entry(struct bt *bt)
{
    bt->cpu->btrt.intr_waiting = intr_line(bt->cpu);
    sreg_check(bt);
}

/* ---- the callout helper (called from translated code) ---- */
uint64_t bt_helper(struct cpu *c, struct bt_callout *rec, uint64_t retired)
{
    struct bt *bt = tls_bt;
    fpu_sync(bt);
    c->icount += retired;
    c->tsc += retired;
    c->eip = rec->eip;
    bt->smc_hit = false;
    bt->st.callouts[rec->kind]++;
    bt->st.callouts_by_op[rec->in.op]++;
    int rc = interp_exec_decoded(c, &rec->in);
    sreg_check(bt);
    if (rc == EXC_NONE && rec->in.op == OP_SYSENTER) sysenter_prefill(bt);
    if (rc == EXC_NONE && rec->sreg != SEG_NONE) sreg_remember(bt, &rec->in);   /* MOV or POP to DS..GS */
    if (rc != EXC_NONE) {
        c->btrt.exit_code = rc >= 256 ? rc : BT_EXIT_NONE;
        bt->delivered = rc;
        bt->st.callout_exits++;
        return 1;
    }
    c->btrt.intr_waiting = intr_line(c);        /* (a device may have raised one) */
    int leave;
    if (c->eip != rec->next_eip || bt->smc_hit) leave = 1;
    else if (rec->ends_block == CO_ENDS_IF_MODE) {   /* a data segment load */
        if (rec->sreg != SEG_NONE) {
            /* only that register's class can have changed (and GS's
             * counts only in ring 3: mode_key) */
            unsigned sr = rec->sreg;
            leave = (sr != SEG_GS || c->cpl == 3) && seg_class(&c->seg[sr]) != MODE_SEGC(rec->mode, sr);
        } else {
            uint32_t mode;
            leave = !(mode_key(c, &mode) && mode == (rec->mode & ~MODE_SINGLE));
        }
    } else if (rec->ends_block == CO_ENDS_IF_CODE_MOVES) {
        /* MOV CR3: the block goes on if its code page maps to the same
         * frame in the new address space (a kernel's code does), in the
         * new address space's window */
        uint32_t mode;
        leave = !(mode_key(c, &mode) && mode == (rec->mode & ~MODE_SINGLE) &&
                  code_page_phys(c, rec->code_lin) == rec->code_phys);
        if (!leave) set_window(bt, c->cpl == 3 ? SHADOW_USER : SHADOW_SUP);
    } else leave = rec->ends_block != CO_GOES_ON;
    if (leave) {
        struct tb *next = callout_next(bt, c, rec);
        if (next) return (uint64_t)(uintptr_t)next->host;
    }
    bt->st.callout_exits += (unsigned)leave;
    return (uint64_t)leave;
}

/* ---- the guest x87 state in the host FPU ---- */
static inline void put16le(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put32le(uint8_t *p, uint32_t v) { put16le(p, v); put16le(p + 2, v >> 16); }
static inline uint16_t get16le(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Called by the load hook before the first translated x87 instruction:
 * the host FPU gets cpu->fpu exactly (FRSTOR of a 32-bit FNSAVE image). */
void bt_fpu_load(struct cpu *c)
{
    struct bt *bt = tls_bt;
    uint8_t *img = c->btrt.fpu_img;
    memset(img, 0, 108);
    put16le(img + 0, c->fpu.cw);
    put16le(img + 4, c->fpu.sw);
    put16le(img + 8, c->fpu.tw);
    put32le(img + 12, c->fpu.fip);
    put16le(img + 16, c->fpu.fcs);
    put16le(img + 18, c->fpu.fop & 0x7FF);
    put32le(img + 20, c->fpu.fdp);
    put16le(img + 24, c->fpu.fds);
    unsigned top = (c->fpu.sw >> 11) & 7;
    for (unsigned i = 0; i < 8; i++) memcpy(img + 28 + 10 * i, c->fpu.st[(top + i) & 7], 10);
    __asm__ volatile("frstor %0" : : "m"(*(uint8_t (*)[108])img));
    c->btrt.fpu_fip = c->fpu.fip;
    c->btrt.fpu_fdp = c->fpu.fdp;
    c->btrt.fpu_fop = c->fpu.fop;
    c->btrt.fpu_hook = (uint64_t)(uintptr_t)bt->stub_fpu_ret;
}

/* Back from translated code: if it loaded the x87 state, cpu->fpu takes it
 * back (FNSAVE, which does not wait, so a pending unmasked exception stays
 * pending in the status word for the interpreter to deliver). */
static void fpu_sync(struct bt *bt)
{
    struct cpu *c = bt->cpu;
    if (c->btrt.fpu_hook != (uint64_t)(uintptr_t)bt->stub_fpu_ret) return;
    uint8_t *img = c->btrt.fpu_img;
    __asm__ volatile("fnsave %0" : "=m"(*(uint8_t (*)[108])img));
    c->fpu.cw = get16le(img + 0);
    c->fpu.sw = get16le(img + 4);
    c->fpu.tw = get16le(img + 8);
    unsigned top = (c->fpu.sw >> 11) & 7;
    for (unsigned i = 0; i < 8; i++) memcpy(c->fpu.st[(top + i) & 7], img + 28 + 10 * i, 10);
    c->fpu.fip = c->btrt.fpu_fip;
    c->fpu.fdp = c->btrt.fpu_fdp;
    c->fpu.fop = (uint16_t)c->btrt.fpu_fop;
    c->btrt.fpu_hook = (uint64_t)(uintptr_t)bt->stub_fpu_load;   /* (FNSAVE left the FPU initialised) */
}

/* ---- code pages and invalidation ---- */
static inline bool code_bit(const struct bt *bt, uint64_t pfn)
{
    return pfn < bt->ram_pages && ((bt->code_bits[pfn >> 3] >> (pfn & 7)) & 1);
}

static inline uint32_t hash_key(uint32_t lin, uint32_t mode) { return (lin ^ (lin >> 12) ^ (mode * 0x9E3779B1u)) & (HASH_SIZE - 1); }

static void hash_remove(struct bt *bt, struct tb *tb)
{
    struct tb **pp = &bt->hash[hash_key(tb->lin, tb->mode)];
    for (; *pp; pp = &(*pp)->hnext)
        if (*pp == tb) { *pp = tb->hnext; return; }
}

/* the instruction at CS:EIP when its bytes are in the TLB and on one page
 * (statistics) */
static bool decode_at_eip(struct cpu *c, struct insn *di)
{
    uint32_t lin = c->seg[SEG_CS].base + c->eip;
    uint8_t *hp = tlb_hit(c, lin, false, c->cpl == 3);
    if (!hp || (lin & 0xFFF) > 4096 - 16) return false;
    uint8_t ib[16];
    memcpy(ib, hp, 16);
    return decode(di, ib, 16, (c->seg[SEG_CS].ar & AR_DB) ? DECODE_32 : DECODE_16) == DECODE_OK;
}

static void xsite_drop(struct bt *bt, uint32_t page, const struct tb *tb);

/* a block goes: out of the lookups, its entry patched to its
 * invalidation stub (chained jumps into it now exit) */
static void drop_block(struct bt *bt, struct tb *tb)
{
    if (!tb->valid) return;
    tb->valid = false;
    if (tb->xsite_in) xsite_drop(bt, 0, tb);   /* (its entry exits anyway: chains get redone) */
    hash_remove(bt, tb);
    jc_forget(bt, tb);
    tb->host[0] = 0xE9;
    e_patch32(tb->host + 1, tb->host + tb->map[tb->ninsn].host_off);
}

static void invalidate_pfn(struct bt *bt, uint64_t pfn)
{
    if (!code_bit(bt, pfn)) return;
    bt->code_bits[pfn >> 3] &= (uint8_t)~(1u << (pfn & 7));
    struct tb **pp = &bt->page_head[pfn & (PAGE_HASH - 1)];
    while (*pp) {
        struct tb *tb = *pp;
        if ((tb->phys >> 12) != pfn) { pp = &tb->pnext; continue; }
        *pp = tb->pnext;
        drop_block(bt, tb);
    }
    for (uint32_t i = 0; i < bt->ncross; i++)        /* blocks whose last instruction reaches into it */
        if (bt->cross[i]->phys2 >> 12 == pfn) drop_block(bt, bt->cross[i]);
    bt->smc_hit = true;
    bt->st.smc_invalidations++;
}

static void ram_written(void *opaque, uint64_t pa, uint64_t len)
{
    struct bt *bt = opaque;
    for (uint64_t p = pa >> 12; p <= (pa + len - 1) >> 12; p++) invalidate_pfn(bt, p);
}

void bt_ram_written(struct bt *bt, uint64_t pa, uint64_t len)
{
    if (len) ram_written(bt, pa, len);
}

static void flush_all(struct bt *bt)
{
    memset(bt->hash, 0, sizeof bt->hash);
    memset(bt->page_head, 0, sizeof bt->page_head);
    memset(bt->code_bits, 0, (bt->ram_pages + 7) / 8);
    bt->ntb = 0; bt->nmap = 0; bt->ncallout = 0; bt->ncross = 0;
    bt->nxsite = 0;
    memset(bt->xsite_pages, 0, 1u << 17);
    bt->code_ptr = bt->blocks_start;
    bt->generation++;
    bt->st.flushes++;
    bt->pend.site = NULL;
    jc_flush(bt);
}

/* a parked user window's page is kept only if the guest's tables (of the
 * new CR3, now loaded) still give it: same frame, accessed, dirty if the
 * mapping is writable; if it is no longer writable (fork made it
 * copy-on-write), it stays for reads. The walk sets no A/D bits and leaves
 * no #PF state. */
static int page_still_valid(void *opaque, uint32_t lin, uint64_t pfn, bool user, bool writable, bool large)
{
    struct bt *bt = opaque;
    struct cpu *c = bt->cpu;
    uint64_t pa;
    bool ok = walk_quietly(c, lin, ACC_READ, user, &pa);
    if (!ok || (pa >> 12) != pfn || !c->last_walk_accessed || c->last_walk_large != large) return SHADOW_DROP;
    return !writable || (c->last_walk_writable && c->last_walk_dirty) ? SHADOW_KEEP : SHADOW_KEEP_RO;
}

/* does linear page `lin` map to `frame` for instruction fetch now, by a
 * global translation (one that CR3 loads keep) that a TLB could hold? */
static bool page_global_at(struct cpu *c, uint32_t lin, uint64_t frame)
{
    uint64_t pa;
    return (c->cr[0] & CR0_PG) && walk_quietly(c, lin & ~0xFFFu, ACC_EXEC, c->cpl == 3, &pa) &&
           (pa & ~0xFFFull) == (frame & ~0xFFFull) && c->last_walk_global && c->last_walk_accessed;
}

/* ... crossing block tb's next page, where it did */
static bool next_page_global(struct cpu *c, const struct tb *tb)
{
    return page_global_at(c, (tb->lin & ~0xFFFu) + 0x1000, tb->phys2);
}

/* Chained jumps are not checked when taken, and they outlive TLB flushes.
 * A jump within a page may always be chained: its target is entered only
 * through a lookup of that page. A jump into another page (translate.c
 * exit_direct), or into a block whose last instruction crosses into the
 * next page, depends on that page's translation too: it is chained only
 * when that translation is global, which CR3 loads keep (SDM vol. 3 sec.
 * 4.10.4.1, as for the jump cache), and it is listed (xsite) so that INVLPG
 * of that page, a full flush, or dropping the target undoes it. Kernel
 * calls into other pages had gone through the jump cache, whose conflict
 * misses sent 100 of them per fork+wait through the run loop, and a hot
 * kernel function whose first instruction straddles a page went through
 * the loop on every call. */
static struct tb *tb_of_pc(struct bt *bt, uintptr_t pc);

static void xsite_add(struct bt *bt, uint8_t *site, struct tb *tb, uint32_t page)
{
    bt->xsites[bt->nxsite++] = (struct xsite){ site, tb, page };
    bt->xsite_pages[page >> 3] |= (uint8_t)(1u << (page & 7));
    tb->xsite_in = true;
}

static bool chain_ok(struct bt *bt, struct tb *tb, uint8_t *site)
{
    struct cpu *c = bt->cpu;
    struct tb *src = tb_of_pc(bt, (uintptr_t)site);
    if (!src) return false;
    bool across = (src->lin & ~0xFFFu) != (tb->lin & ~0xFFFu);
    bool crosses = tb->phys2 != TB_NO_PHYS2;
    if (!across && !crosses) return true;
    if (bt->nxsite + 2 > MAX_XSITES || tb->cs_base != 0) return false;
    if (across && !page_global_at(c, tb->lin, tb->phys)) return false;
    if (crosses && !next_page_global(c, tb)) return false;
    if (across) xsite_add(bt, site, tb, tb->lin >> 12);
    if (crosses) xsite_add(bt, site, tb, (tb->lin >> 12) + 1);
    return true;
}

/* undo the listed chained jumps that depend on linear page `page` (~0u:
 * all), or (tb) lead into block tb */
static void xsite_drop(struct bt *bt, uint32_t page, const struct tb *tb)
{
    if (!tb && page != ~0u && !((bt->xsite_pages[page >> 3] >> (page & 7)) & 1)) return;
    uint32_t k = 0;
    for (uint32_t i = 0; i < bt->nxsite; i++) {
        struct xsite x = bt->xsites[i];
        if (tb ? x.tb != tb : (page != ~0u && x.page != page)) { bt->xsites[k++] = x; continue; }
        e_patch32(x.site + 1, x.site + 5);      /* back to the exit after it */
        if (page == ~0u) bt->xsite_pages[x.page >> 3] = 0;   /* (all go: no memset of the bitmap) */
    }
    bt->nxsite = k;
    if (!tb && page != ~0u) bt->xsite_pages[page >> 3] &= (uint8_t)~(1u << (page & 7));
}

/* the guest flushed its TLB: the jump cache and the shadow follow */
static void tlb_hook(void *opaque, int kind, uint32_t lin)
{
    struct bt *bt = opaque;
    struct cpu *c = bt->cpu;
    if (kind == CPU_FLUSH_PAGE) jc_drop_page(bt, lin);     /* cached targets assumed the old mappings */
    else if (kind == CPU_FLUSH_NONGLOBAL) jc_drop_nonglobal(bt);
    else jc_flush(bt);
    if (kind != CPU_FLUSH_NONGLOBAL) xsite_drop(bt, kind == CPU_FLUSH_PAGE ? lin >> 12 : ~0u, NULL);
    if (kind == CPU_FLUSH_PAGE) shadow_zap_page(bt->sh, lin);
    else if (kind == CPU_FLUSH_NONGLOBAL && (c->cr[0] & CR0_PG))
        shadow_switch_as(bt->sh, bt->as_cr3, c->cr[3], page_still_valid, bt);
    else shadow_zap_all(bt->sh);
    bt->as_cr3 = c->cr[3];
}

/* ---- modes ---- */
static unsigned seg_class(const struct seg *s)
{
    if ((s->ar & 0x9E) != 0x92 || s->limit != 0xFFFFFFFFu) return SEGC_OTHER;   /* present writable expand-up data */
    return s->base == 0 ? SEGC_FLAT : SEGC_BASED;
}

static bool mode_key(const struct cpu *c, uint32_t *mode)
{
    if (!(c->cr[0] & CR0_PE) || (c->eflags & (FL_VM | FL_TF)) || c->intr_shadow) return false;
    const struct seg *cs = &c->seg[SEG_CS];
    if (!(cs->ar & AR_DB) || cs->limit != 0xFFFFFFFFu) return false;
    if ((c->cr[0] & CR0_AM) && (c->eflags & FL_AC) && c->cpl == 3) return false;
    if (c->dr[7] & 0xFF) return false;
    uint32_t m = (uint32_t)c->cpl;
    if (!(c->cr[0] & (CR0_EM | CR0_TS))) m |= MODE_FPU;
    /* GS's class only in user mode: a kernel runs the same code under each
     * process's GS (Linux: user TLS, or null for kernel threads), which
     * would split every kernel block (and its jump-cache entry) in two;
     * GS accesses in supervisor code are callouts instead (class OTHER) */
    static const int segs[5] = { SEG_ES, SEG_SS, SEG_DS, SEG_FS, SEG_GS };
    for (int i = 0; i < (c->cpl == 3 ? 5 : 4); i++) m |= seg_class(&c->seg[segs[i]]) << (2 + 2 * segs[i]);
    if (c->seg[SEG_SS].ar & AR_DB) m |= MODE_SS32;
    *mode = m;
    return true;
}

/* ---- lookup and translation ---- */
static struct tb *lookup(struct bt *bt, uint32_t lin, uint64_t phys, uint32_t cs_base, uint32_t mode)
{
    for (struct tb *tb = bt->hash[hash_key(lin, mode)]; tb; tb = tb->hnext)
        if (tb->lin == lin && tb->mode == mode && tb->phys == phys && tb->cs_base == cs_base) return tb;
    return NULL;
}

/* The RAM page the linear page after `lin`'s maps for instruction fetch
 * now, without side effects: a TLB hit, or code_page_phys (A must be set
 * already: a fetch into it would set it, and the interpreter runs such an
 * instruction the first time). TB_NO_PHYS2 if none. */
static uint64_t next_page_phys(struct cpu *c, uint32_t lin)
{
    uint32_t lin2 = (lin & ~0xFFFu) + 0x1000;
    bool user = c->cpl == 3;
    uint8_t *h = tlb_hit(c, lin2, false, user);
    uint8_t *ram = mem_ram(c->mem);
    if (!h) {
        uint64_t page = code_page_phys(c, lin2);
        if (page == ~0ull) return TB_NO_PHYS2;
        h = mem_host_page(c->mem, page, false);
        return h && h == ram + page ? page : TB_NO_PHYS2;
    }
    h = (uint8_t *)((uintptr_t)h & ~(uintptr_t)0xFFF);
    if (h < ram || h >= ram + mem_ram_size(c->mem)) return TB_NO_PHYS2;
    return (uint64_t)(h - ram);
}

/* mark a physical page as holding translated code */
static void mark_code(struct bt *bt, struct cpu *c, uint64_t pfn)
{
    if (code_bit(bt, pfn)) return;
    bt->code_bits[pfn >> 3] |= (uint8_t)(1u << (pfn & 7));
    shadow_protect_pfn(bt->sh, pfn);
    cpu_tlb_drop_writes(c);
}

static struct tb *translate(struct bt *bt, struct cpu *c, uint32_t lin, uint64_t phys, const uint8_t *code,
                            unsigned avail, uint32_t mode)
{
    bool no_space;
    uint64_t pfn0 = phys >> 12;
    bool self_check = (bt->notrans_bits[pfn0 >> 3] >> (pfn0 & 7)) & 1;
    uint64_t phys2 = TB_NO_PHYS2;
    if (bt->ncross == MAX_CROSS) {                /* keep the live ones */
        uint32_t k = 0;
        for (uint32_t i = 0; i < bt->ncross; i++)
            if (bt->cross[i]->valid) bt->cross[k++] = bt->cross[i];
        bt->ncross = k;
    }
    if (avail < 16 && !self_check && bt->ncross < MAX_CROSS) {      /* the block may reach the next page */
        phys2 = next_page_phys(c, lin);
        uint64_t pfn2 = phys2 >> 12;
        if (phys2 != TB_NO_PHYS2 && ((bt->notrans_bits[pfn2 >> 3] >> (pfn2 & 7)) & 1)) phys2 = TB_NO_PHYS2;
    }
    struct tb *tb = tr_block(bt, c, lin, phys, phys2, code, avail, mode, self_check, &no_space);
    if (!tb && no_space) {
        flush_all(bt);
        tb = tr_block(bt, c, lin, phys, phys2, code, avail, mode, self_check, &no_space);
    }
    if (!tb) return NULL;
    if (tb->phys2 != TB_NO_PHYS2) {               /* its last instruction crosses */
        bt->cross[bt->ncross++] = tb;
        mark_code(bt, c, phys2 >> 12);
        bt->st.cross_blocks++;
    }
    bt->code_ptr = (uint8_t *)(((uintptr_t)tb->host + tb->host_len + 15) & ~(uintptr_t)15);
    bt->ntb++;
    bt->nmap += tb->ninsn + 1u;
    tb->valid = true;
    uint32_t h = hash_key(lin, mode);
    tb->hnext = bt->hash[h];
    bt->hash[h] = tb;
    uint64_t pfn = phys >> 12;
    tb->pnext = bt->page_head[pfn & (PAGE_HASH - 1)];
    bt->page_head[pfn & (PAGE_HASH - 1)] = tb;
    if (!tb->self_check) mark_code(bt, c, pfn);
    bt->st.blocks++;
    if (bt->perf_map)                             /* perf(1) names translated code by guest EIP */
        fprintf(bt->perf_map, "%llx %x guest_%08x%s\n", (unsigned long long)(uintptr_t)tb->host, tb->host_len,
                tb->eip, tb->mode & 3 ? "_user" : "");
    bt->st.insns_translated += tb->ninsn;
    return tb;
}

/* The block at CS:EIP, translated if needed; NULL: interpret. */
static struct tb *find_block(struct bt *bt, struct cpu *c, uint32_t mode)
{
    /* the jump cache first: an entry stands for a TLB translation that
     * is still valid (jc_insert) and saves the walk of a hash chain, whose
     * blocks are cache misses */
    if (c->seg[SEG_CS].base == 0) {
        unsigned i = jc_index(c->eip);
        if (jc_match(bt, c->eip, mode) && bt->jc_tb[i]->valid) {
            bt->st.lookups++;
            bt->st.jc_lookups++;
            return bt->jc_tb[i];
        }
    }
    uint32_t lin = c->seg[SEG_CS].base + c->eip;
    bool user = c->cpl == 3;
    uint8_t *h = tlb_hit(c, lin, false, user);
    if (!h) {                                     /* fill the interpreter's TLB for it */
        uint64_t pa;
        if (!(c->cr[0] & CR0_PG)) pa = c->a20_enabled ? lin : (lin & ~0x100000u);
        else {
            uint32_t cr2 = c->cr[2];
            if (paging_walk(c, lin, ACC_EXEC, user, &pa, true) != EXC_NONE) { c->cr[2] = cr2; return NULL; }
            if (!c->a20_enabled) pa &= ~(uint64_t)0x100000;
        }
        tlb_fill(c, lin, pa, false, user);
        h = tlb_hit(c, lin, false, user);
        if (!h) return NULL;                      /* not RAM: the interpreter */
    }
    uint8_t *ram = mem_ram(c->mem);
    if (h < ram || h >= ram + mem_ram_size(c->mem)) return NULL;   /* ROM: interpret */
    uint64_t phys = (uint64_t)(h - ram);
    if (!mem_host_page(c->mem, phys, false)) return NULL;
    bt->st.lookups++;
    struct tb *tb = lookup(bt, lin, phys, c->seg[SEG_CS].base, mode);
    if (tb && tb->phys2 != TB_NO_PHYS2 && next_page_phys(c, lin) != tb->phys2) {
        drop_block(bt, tb);                       /* the next page maps elsewhere now */
        tb = NULL;
    }
    if (tb) return tb;
    bt->st.lookup_misses++;
    return translate(bt, c, lin, phys, h, 4096 - (lin & 0xFFF), mode);
}

/* ---- host faults in translated code ---- */
static struct tb *tb_of_pc(struct bt *bt, uintptr_t pc)
{
    uint32_t lo = 0, hi = bt->ntb;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if ((uintptr_t)bt->tbs[mid].host <= pc) lo = mid + 1; else hi = mid;
    }
    if (!lo) return NULL;
    struct tb *tb = &bt->tbs[lo - 1];
    return pc < (uintptr_t)tb->host + tb->host_len ? tb : NULL;
}

static unsigned insn_of_pc(const struct tb *tb, uintptr_t pc)
{
    uint32_t off = (uint32_t)(pc - (uintptr_t)tb->host);
    unsigned k = 0;
    while (k + 1 < tb->ninsn && tb->map[k + 1].host_off <= off) k++;
    return k;
}

/* how a page inside a guest large page may be mapped (shadow_map_large) */
static int large_page_kind(void *opaque, uint64_t pfn)
{
    struct bt *bt = opaque;
    struct cpu *c = bt->cpu;
    uint64_t page = pfn << 12;
    uint8_t *h = mem_host_page(c->mem, page, false);
    if (!h || h != mem_ram(c->mem) + page) return SHADOW_PAGE_NONE;
    if (code_bit(bt, pfn) || mem_host_page(c->mem, page, true) != h) return SHADOW_PAGE_RO;
    return SHADOW_PAGE_RW;
}

/* Map the page a translated access faulted on, if the guest allows it.
 * string: the access is a native string instruction's, which clears or
 * copies whole pages (a page that held code being reused): its writes into
 * code do not count toward making the page self-checking, as the
 * interpreter's do not */
static bool shadow_fill(struct bt *bt, int w, uint32_t lin, bool write, bool string)
{
    struct cpu *c = bt->cpu;
    bool user = w == SHADOW_USER;
    uint64_t pa;
    bool writable = true, global = false, large = false;
    if (c->cr[0] & CR0_PG) {
        if (paging_walk(c, lin, write ? ACC_WRITE : ACC_READ, user, &pa, true) != EXC_NONE) {
            bt->st.faults_guest++;
            return false;
        }
        writable = c->last_walk_writable && c->last_walk_dirty;
        global = c->last_walk_global;
        large = c->last_walk_large && c->a20_enabled;
    } else {
        pa = lin;
    }
    if (!c->a20_enabled) pa &= ~(uint64_t)0x100000;
    uint64_t page = pa & ~0xFFFull;
    uint8_t *h = mem_host_page(c->mem, page, false);
    if (!h || h != mem_ram(c->mem) + page) { bt->st.faults_mmio++; return false; }
    if (mem_host_page(c->mem, page, true) != h && !code_bit(bt, page >> 12)) writable = false;  /* read-only shadow RAM (PAM) */
    if (code_bit(bt, page >> 12)) {
        if (write) {
            uint64_t pfn = page >> 12;
            invalidate_pfn(bt, pfn);
            bt->st.faults_smc++;
            if (!string && ++bt->smc_count[pfn] > 16) bt->notrans_bits[pfn >> 3] |= (uint8_t)(1u << (pfn & 7));
            if (++bt->smc_total >= 65536) {      /* decay: pages are reused for other things */
                memset(bt->smc_count, 0, bt->ram_pages);
                memset(bt->notrans_bits, 0, (bt->ram_pages + 7) / 8);
                bt->smc_total = 0;
            }
            return false;
        }
        writable = false;
    }
    if (write && !writable) return false;
    if (large) {
        /* the whole 4 MiB (PAE: 2 MiB) page at once; its pages that hold
         * code or are not RAM are carved out by large_page_kind */
        unsigned npages = (c->cr[4] & 0x20) ? 512 : 1024;
        uint64_t base = page & ~((uint64_t)npages * 4096 - 1);
        if (shadow_map_large(bt->sh, w, lin, base, npages, c->last_walk_writable && c->last_walk_dirty, global,
                             large_page_kind, bt) == 0) {
            bt->st.faults_fill++;
            return true;
        }
    }
    if (shadow_map(bt->sh, w, lin & ~0xFFFu, page, writable, global) != 0) return false;
    bt->st.faults_fill++;
    return true;
}

static void exit_at(struct bt *bt, ucontext_t *uc, struct tb *tb, unsigned k, int code)
{
    if (tb->map[k].fpu_ptr_valid) {                 /* an x87 insn before k whose FIP/FOP wait */
        bt->cpu->btrt.fpu_fip = (uint32_t)tb->map[k].fpu_ptr;
        bt->cpu->btrt.fpu_fop = (uint32_t)(tb->map[k].fpu_ptr >> 32);
    }
    uc->uc_mcontext.gregs[REG_R15] += tb->map[k].pending;
    if (tb->map[k].flags_pushed && code != BT_EXIT_POLL) {   /* a native string insn stopped part way
                                                                (not the poll at the block's entry) */
        greg_t *g = uc->uc_mcontext.gregs;
        uint64_t *sp = (uint64_t *)(uintptr_t)g[REG_RSP];
        g[REG_EFL] = (greg_t)*sp;                   /* the guest flags, from the stack */
        g[REG_RSP] += 8;
        g[REG_RDI] = (greg_t)(uint32_t)(g[REG_RDI] - (greg_t)bt->cpu->btrt.window);
        if (tb->map[k].flags_pushed == 2) g[REG_RSI] = (greg_t)(uint32_t)(g[REG_RSI] - (greg_t)bt->cpu->btrt.window);
    }
    bt->cpu->eip = tb->map[k].eip;
    bt->cpu->btrt.exit_code = code;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)bt->stub_exit_save;
}

static void chain_old(int sig, siginfo_t *si, void *uctx)
{
    struct sigaction *old = sig == SIGSEGV ? &old_segv : sig == SIGFPE ? &old_fpe : &old_bus;
    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) { old->sa_sigaction(sig, si, uctx); return; }
    if (old->sa_handler != SIG_IGN && old->sa_handler != SIG_DFL && old->sa_handler) { old->sa_handler(sig); return; }
    ucontext_t *uc = uctx;
    char msg[160];
    int n = snprintf(msg, sizeof msg, "bt86: fatal host signal %d at pc %llx, address %p (not a translated guest access)\n",
                     sig, (unsigned long long)uc->uc_mcontext.gregs[REG_RIP], si->si_addr);
    if (n > 0) { ssize_t w = write(2, msg, (size_t)n); (void)w; }
    signal(sig, SIG_DFL);                          /* re-fault and die with the real cause */
}

static void on_fault(int sig, siginfo_t *si, void *uctx)
{
    ucontext_t *uc = uctx;
    struct bt *bt = tls_bt;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (!bt || pc < (uintptr_t)bt->blocks_start || pc >= (uintptr_t)bt->code_end) { chain_old(sig, si, uctx); return; }
    struct tb *tb = tb_of_pc(bt, pc);
    if (!tb) { chain_old(sig, si, uctx); return; }
    uintptr_t addr = (uintptr_t)si->si_addr;
    if (sig == SIGSEGV && addr >= (uintptr_t)bt->poll_guard && addr < (uintptr_t)bt->poll_guard + 4096) {
        bt->st.exits_poll++;
        exit_at(bt, uc, tb, 0, BT_EXIT_POLL);
        return;
    }
    unsigned k = insn_of_pc(tb, pc);
    if (sig == SIGSEGV) {
        uint64_t off;
        int w = shadow_window_of(bt->sh, addr, &off);
        if (w >= 0 && off < (1ull << 32)) {
            bool write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
            if (shadow_fill(bt, w, (uint32_t)off, write, tb->map[k].flags_pushed != 0)) return;   /* retry */
        }
    } else if (sig == SIGFPE) {
        bt->st.faults_de++;
    }
    exit_at(bt, uc, tb, k, BT_EXIT_SLOW);
}

static void on_timer(int sig, siginfo_t *si, void *uctx)
{
    (void)sig; (void)si;
    struct bt *bt = tls_bt;
    if (!bt) return;
    ucontext_t *uc = uctx;
    bt->cpu->btrt.poll = (uint64_t)(uintptr_t)bt->poll_guard;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    /* only inside blocks: in the stubs r14 may already hold the host's value */
    if (pc >= (uintptr_t)bt->blocks_start && pc < (uintptr_t)bt->code_end)
        uc->uc_mcontext.gregs[REG_R14] = (greg_t)(uintptr_t)bt->poll_guard;
}

static int install_handlers(char *err, size_t errlen)
{
    if (handlers_installed) return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old_segv) || sigaction(SIGFPE, &sa, &old_fpe) || sigaction(SIGBUS, &sa, &old_bus)) {
        snprintf(err, errlen, "cannot install the translator's fault handlers: %s", strerror(errno));
        return -1;
    }
    sa.sa_sigaction = on_timer;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    if (sigaction(SIGRTMIN + 2, &sa, NULL)) {
        snprintf(err, errlen, "cannot install the translator's timer handler: %s", strerror(errno));
        return -1;
    }
    handlers_installed = true;
    return 0;
}

/* ---- engine ---- */
const char *bt_unavailable_reason(void)
{
#if defined(__x86_64__) && defined(__linux__)
    return NULL;
#else
    return "the bt engine translates to x86-64 code and needs an x86-64 Linux host";
#endif
}

struct bt *bt_new(struct cpu *c, bool trap_mode, char *err, size_t errlen)
{
    const char *why = bt_unavailable_reason();
    if (why) { snprintf(err, errlen, "%s", why); return NULL; }
    struct bt *bt = calloc(1, sizeof *bt);
    if (!bt) { snprintf(err, errlen, "out of memory"); return NULL; }
    bt->cpu = c;
    bt->host_bmi2 = __builtin_cpu_supports("bmi2");
    for (unsigned i = 0; i < 6; i++) c->btrt.sreg_nsel[i] = SREG_NONE;
    bt->trap = trap_mode;
    if (getenv("BT86_PERF_MAP")) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
        bt->perf_map = fopen(path, "w");
        if (bt->perf_map) setvbuf(bt->perf_map, NULL, _IOLBF, 0);
    }
    bt->cur_window = 0;
    bt->as_cr3 = c->cr[3];
    bt->ram_pages = mem_ram_size(c->mem) >> 12;
    bt->sh = shadow_new(c->mem, err, errlen);
    if (!bt->sh) { free(bt); return NULL; }
    bt->code = mmap(NULL, CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    bt->poll_page = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bt->tbs = calloc(MAX_TBS, sizeof *bt->tbs);
    bt->maps = calloc(MAP_ENTRIES, sizeof *bt->maps);
    bt->callouts = calloc(MAX_CALLOUTS, sizeof *bt->callouts);
    bt->code_bits = calloc((bt->ram_pages + 7) / 8 + 1, 1);
    bt->notrans_bits = calloc((bt->ram_pages + 7) / 8 + 1, 1);
    bt->smc_count = calloc(bt->ram_pages + 1, 1);
    bt->jc_key = malloc(JC_SIZE * sizeof *bt->jc_key);
    bt->jc_host = calloc(JC_SIZE, sizeof *bt->jc_host);
    bt->jc_eip = calloc(JC_SIZE, sizeof *bt->jc_eip);
    bt->jc_tb = calloc(JC_SIZE, sizeof *bt->jc_tb);
    bt->cross = malloc(MAX_CROSS * sizeof *bt->cross);
    bt->xsites = malloc(MAX_XSITES * sizeof *bt->xsites);
    bt->xsite_pages = calloc(1u << 17, 1);
    bt->jc_ng = malloc(JC_NG_MAX * sizeof *bt->jc_ng);
    bt->jc_pages = calloc(1u << 17, 1);
    bt->jc_cross_pages = calloc(1u << 17, 1);
    if (bt->jc_key) for (unsigned i = 0; i < JC_SIZE; i++) bt->jc_key[i] = 1;
    if (bt->code == MAP_FAILED || bt->poll_page == MAP_FAILED || !bt->tbs || !bt->maps || !bt->callouts || !bt->code_bits || !bt->jc_key || !bt->jc_host ||
        !bt->jc_eip || !bt->jc_tb || !bt->jc_ng || !bt->jc_pages || !bt->jc_cross_pages || !bt->cross || !bt->xsites || !bt->xsite_pages ||
        !bt->notrans_bits || !bt->smc_count) {
        snprintf(err, errlen, "cannot allocate the translator's code cache: %s", strerror(errno));
        if (bt->code == MAP_FAILED) bt->code = NULL;
        if (bt->poll_page == MAP_FAILED) bt->poll_page = NULL;
        bt_free(bt);
        return NULL;
    }
    bt->poll_guard = bt->poll_page + 4096;
    if (mprotect(bt->poll_guard, 4096, PROT_NONE)) { snprintf(err, errlen, "mprotect: %s", strerror(errno)); bt_free(bt); return NULL; }
    bt->code_end = bt->code + CODE_SIZE;
    emit_stubs(bt);
    bt->code_ptr = bt->blocks_start;
    c->btrt.fpu_hook = (uint64_t)(uintptr_t)bt->stub_fpu_load;
    tr_init_tables();
    if (install_handlers(err, errlen)) { bt_free(bt); return NULL; }
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGRTMIN + 2;
    sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    if (timer_create(CLOCK_MONOTONIC, &sev, &bt->timer) == 0) {
        bt->timer_ok = true;
        struct itimerspec its = { { 0, TIMER_NS }, { 0, TIMER_NS } };
        timer_settime(bt->timer, 0, &its, NULL);
    }
    bt->use_wrgsbase = (getauxval(AT_HWCAP2) & 2) != 0;
    c->tlb_flush_hook = tlb_hook;
    c->tlb_hook_opaque = bt;
    mem_set_code_watch(c->mem, bt->code_bits, ram_written, bt);
    return bt;
}

void bt_free(struct bt *bt)
{
    if (!bt) return;
    if (bt->timer_ok) timer_delete(bt->timer);
    if (bt->cpu && bt->cpu->tlb_hook_opaque == bt) { bt->cpu->tlb_flush_hook = NULL; bt->cpu->tlb_hook_opaque = NULL; }
    if (bt->cpu && bt->code_bits) mem_set_code_watch(bt->cpu->mem, NULL, NULL, NULL);
    if (tls_bt == bt) tls_bt = NULL;
    shadow_free(bt->sh);
    if (bt->code) munmap(bt->code, CODE_SIZE);
    if (bt->poll_page) munmap(bt->poll_page, 8192);
    free(bt->wlog);
    free(bt->jc_key); free(bt->jc_host); free(bt->jc_eip); free(bt->jc_tb); free(bt->cross); free(bt->xsites); free(bt->xsite_pages); free(bt->jc_ng); free(bt->jc_pages); free(bt->jc_cross_pages);
    free(bt->notrans_bits); free(bt->smc_count);
    if (bt->perf_map) fclose(bt->perf_map);
    free(bt->tbs); free(bt->maps); free(bt->callouts); free(bt->code_bits);
    free(bt);
}

static void set_window(struct bt *bt, int w)
{
    uintptr_t base = (uintptr_t)shadow_window(bt->sh, w);
    bt->cpu->btrt.window = base;
    if (base == bt->cur_window) return;
    if (bt->use_wrgsbase) __asm__ volatile("wrgsbase %0" :: "r"(base) : "memory");
    else syscall(SYS_arch_prctl, ARCH_SET_GS, base);
    bt->cur_window = base;
}

/* ---- --check: lockstep against the interpreter ---- */
void bt_set_check(struct bt *bt, bool on) { bt->check = on; }
void bt_request_stop(struct bt *bt) { bt->cpu->btrt.poll = (uint64_t)(uintptr_t)bt->poll_guard; }

static void wlog_add(void *opaque, uint64_t pa, unsigned size)
{
    struct bt *bt = opaque;
    if (bt->nwlog == bt->wlog_cap) {
        uint32_t cap = bt->wlog_cap ? 2 * bt->wlog_cap : 256;
        struct wlog *w = realloc(bt->wlog, cap * sizeof *w);
        if (!w) { bt->wlog_overflow = true; return; }
        bt->wlog = w; bt->wlog_cap = cap;
    }
    struct cpu *c = bt->cpu;
    uint8_t *h = mem_host_page(c->mem, pa, false);
    bool ram = h && h == mem_ram(c->mem) + (pa & ~0xFFFull) && (pa & 0xFFF) + size <= 4096;
    uint64_t old = 0;
    if (ram) memcpy(&old, h + (pa & 0xFFF), size);
    bt->wlog[bt->nwlog++] = (struct wlog){ pa, old, 0, (uint8_t)size, ram };
}

static void report_block(struct bt *bt, const struct tb *tb, const struct cpu *s0)
{
    struct cpu *c = bt->cpu;
    uint8_t *h = mem_host_page(c->mem, tb->phys, false);
    fprintf(stderr, "bt86: --check: bt and the interpreter diverge in the block at %04x:%08x "
                    "(linear %08x, physical %08llx, %u instructions, CPL %d)\n",
            s0->seg[SEG_CS].sel, tb->eip, tb->lin, (unsigned long long)tb->phys, tb->ninsn, s0->cpl);
    csh cs;
    if (h && cs_open(CS_ARCH_X86, CS_MODE_32, &cs) == CS_ERR_OK) {
        cs_insn *ins;
        size_t len = tb->nbytes < 4096 - (tb->phys & 0xFFF) ? tb->nbytes : 4096 - (tb->phys & 0xFFF);
        size_t n = cs_disasm(cs, h + (tb->phys & 0xFFF), len, tb->eip, 0, &ins);
        for (size_t i = 0; i < n; i++) {
            fprintf(stderr, "  %08llx  ", (unsigned long long)ins[i].address);
            for (int j = 0; j < 10; j++) fprintf(stderr, j < ins[i].size ? "%02x" : "  ", ins[i].bytes[j]);
            fprintf(stderr, "  %s %s\n", ins[i].mnemonic, ins[i].op_str);
        }
        if (n) cs_free(ins, n);
        cs_close(&cs);
    }
    static const char *const rn[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };
    fprintf(stderr, "  before:");
    for (int i = 0; i < 8; i++) fprintf(stderr, " %s=%08x", rn[i], s0->r[i]);
    fprintf(stderr, " eflags=%08x\n", s0->eflags);
}

static bool check_compare(struct bt *bt, const struct tb *tb, const struct cpu *s0, const struct cpu *ci,
                          uint32_t undef)
{
    struct cpu *c = bt->cpu;
    static const char *const rn[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };
    char buf[4096];
    size_t n = 0;
#define DIFF(...) (n += (size_t)snprintf(buf + n, n < sizeof buf ? sizeof buf - n : 0, __VA_ARGS__))
    for (int i = 0; i < 8; i++)
        if (c->r[i] != ci->r[i]) DIFF("  %s: bt %08x, interp %08x\n", rn[i], c->r[i], ci->r[i]);
    if (c->eip != ci->eip) DIFF("  eip: bt %08x, interp %08x\n", c->eip, ci->eip);
    uint32_t mask = ~undef & EFLAGS_MASK;
    if ((c->eflags ^ ci->eflags) & mask)
        DIFF("  eflags: bt %08x, interp %08x (undefined %08x masked)\n", c->eflags, ci->eflags, undef);
    for (int s = 0; s < 6; s++)
        if (c->seg[s].sel != ci->seg[s].sel || c->seg[s].base != ci->seg[s].base)
            DIFF("  seg %d: bt %04x/%08x, interp %04x/%08x\n", s, c->seg[s].sel, c->seg[s].base, ci->seg[s].sel, ci->seg[s].base);
    for (int i = 0; i < 5; i++)
        if (c->cr[i] != ci->cr[i]) DIFF("  cr%d: bt %08x, interp %08x\n", i, c->cr[i], ci->cr[i]);
    if (c->cpl != ci->cpl) DIFF("  cpl: bt %d, interp %d\n", c->cpl, ci->cpl);
    if (c->fpu.cw != ci->fpu.cw || c->fpu.sw != ci->fpu.sw || c->fpu.tw != ci->fpu.tw)
        DIFF("  x87 cw/sw/tw: bt %04x/%04x/%04x, interp %04x/%04x/%04x\n", c->fpu.cw, c->fpu.sw, c->fpu.tw,
             ci->fpu.cw, ci->fpu.sw, ci->fpu.tw);
    for (int p = 0; p < 8; p++)
        if (((ci->fpu.tw >> (2 * p)) & 3) != 3 && memcmp(c->fpu.st[p], ci->fpu.st[p], 10))
            DIFF("  x87 R%d differs\n", p);
    if (c->fpu.fip != ci->fpu.fip || c->fpu.fop != ci->fpu.fop || c->fpu.fdp != ci->fpu.fdp)
        DIFF("  x87 fip/fop/fdp: bt %08x/%03x/%08x, interp %08x/%03x/%08x\n", c->fpu.fip, c->fpu.fop, c->fpu.fdp,
             ci->fpu.fip, ci->fpu.fop, ci->fpu.fdp);
    for (uint32_t i = 0; i < bt->nwlog; i++) {
        const struct wlog *w = &bt->wlog[i];
        if (!w->ram) continue;
        uint64_t v = 0;
        memcpy(&v, mem_ram(c->mem) + w->pa, w->size);
        if (v != w->now) DIFF("  memory %08llx (%u bytes): bt %llx, interp %llx\n", (unsigned long long)w->pa,
                              w->size, (unsigned long long)v, (unsigned long long)w->now);
    }
#undef DIFF
    if (!n) return true;
    report_block(bt, tb, s0);
    fprintf(stderr, "  differences after the block:\n%s", buf);
    return false;
}

/* Run `tb` under the interpreter, undo its stores, run it under bt from the
 * same state and compare. Returns EXIT_CHECK_FAILED, or EXC_NONE / an EXIT_*
 * of the run, with the state after the block in *c. */
static int check_block(struct bt *bt, struct tb *tb, bool *done)
{
    struct cpu *c = bt->cpu;
    *done = false;
    if (tb->sensitive) return EXC_NONE;                  /* device I/O must not run twice */
    static __thread struct cpu s0, ci;
    s0 = *c;
    uint64_t ic0 = c->icount;
    bt->nwlog = 0;
    bt->wlog_overflow = false;
    bt->smc_hit = false;
    c->write_watch = wlog_add;
    c->write_watch_opaque = bt;
    cpu_tlb_drop_writes(c);
    int rc = EXC_NONE;
    /* the flags left undefined where the block is left: a superblock may
     * leave after a taken Jcc in its middle, where an earlier instruction's
     * undefined flag (SHR's AF, say) was not yet redefined */
    uint32_t undef = 0;
    bool reads_undef = false;          /* PUSHF/LAHF of a flag left undefined */
    for (unsigned i = 0; i < tb->ninsn && rc == EXC_NONE; i++) {
        if (c->eip != tb->map[i].eip) break;     /* a taken Jcc in the middle left the block */
        uint32_t before = c->eip;
        struct insn di;
        bool known = decode_at_eip(c, &di);
        if (known && (optab[di.op].fr & undef)) reads_undef = true;
        rc = interp_step(c);
        if (rc >= 0 && rc < 256) {               /* it faulted: the frame holds the flags as they were */
            if (undef) reads_undef = true;
        } else if (known) {
            undef = (undef & ~optab[di.op].fw) | optab[di.op].fu;
        } else {
            undef = tb->undef_flags | 0x8D5u;    /* (at a page end: the arithmetic flags unchecked) */
        }
        if (c->eip == before) break;     /* a REP chunk: bt's callout also returns here */
    }
    c->write_watch = NULL;
    uint64_t ri = c->icount - ic0;
    /* (not compared, the interpreter's run kept: SMC, too many stores, a
     * block that copies a flag its own code left undefined into data, as
     * Linux's CPUID probe PUSHFs SHR's AF, or into an exception frame:
     * hosts differ there) */
    if (bt->smc_hit || bt->wlog_overflow || rc >= 256 || !tb->valid || reads_undef) {
        *done = true;
        return rc >= 256 ? rc : EXC_NONE;
    }
    for (uint32_t i = 0; i < bt->nwlog; i++) {
        struct wlog *w = &bt->wlog[i];
        if (w->ram) memcpy(&w->now, mem_ram(c->mem) + w->pa, w->size);
    }
    for (uint32_t i = bt->nwlog; i-- > 0;) {
        struct wlog *w = &bt->wlog[i];
        if (w->ram) memcpy(mem_ram(c->mem) + w->pa, &w->old, w->size);
    }
    ci = *c;
    *c = s0;
    c->btrt.exit_site = 0;
    c->btrt.exit_code = BT_EXIT_NONE;
    set_window(bt, c->cpl == 3 ? SHADOW_USER : SHADOW_SUP);
    before_entry(bt);
    uint64_t retired = bt->enter(c, tb->host);
    fpu_sync(bt);
    c->icount += retired;
    c->tsc += retired;
    int code = c->btrt.exit_code;
    rc = EXC_NONE;
    if (code == BT_EXIT_SLOW || code == BT_EXIT_TRAP || code == BT_EXIT_POLL) {
        do {                   /* the instruction bt stopped at, then the rest the interpreter ran */
            rc = interp_step(c);
        } while (rc == EXC_NONE && c->icount - ic0 < ri);
    } else if (code >= 256) rc = code;
    bt->checked_blocks++;
    *done = true;
    if (!check_compare(bt, tb, &s0, &ci, undef)) return EXIT_CHECK_FAILED;
    return rc >= 256 ? rc : EXC_NONE;
}

static inline bool take_interrupt(struct cpu *c, int *rc)
{
    if (intr_deliverable(c)) {
        int vec = c->intr_ack(c->intr_opaque);
        c->halted = false;
        int dr = cpu_deliver(c, vec, false, 0, false, c->eip);
        if (dr >= 256) { *rc = dr; return true; }
    }
    return false;
}

int bt_run(struct bt *bt, uint64_t n)
{
    struct cpu *c = bt->cpu;
    struct bt *prev = tls_bt;
    tls_bt = bt;
    uint64_t start = c->icount;
    int rc = EXC_NONE;
    c->btrt.poll = (uint64_t)(uintptr_t)bt->poll_page;
    /* (bt->pend, the exit to chain or cache, survives across calls: the
     * machine's slices end at arbitrary exits) */
    while (c->icount - start < n) {
        if (take_interrupt(c, &rc)) break;
        if (c->halted) { rc = EXIT_HLT; break; }
        uint32_t mode;
        bool translatable = mode_key(c, &mode);
        struct tb *tb = translatable ? find_block(bt, c, mode) : NULL;
        if (!tb) {
            bt->pend.site = NULL;
            /* real mode, V86, 16-bit code, mixed pages: the interpreter's
             * block engine for a while; a TLB miss or ROM: one step */
            uint64_t ic = c->icount;
            /* (not for an interrupt shadow or TF: one instruction, then
             * this loop takes interrupts and translates again) */
            bool many = !translatable && !c->intr_shadow && !(c->eflags & FL_TF);
            uint64_t left = n - (c->icount - start);
            rc = many ? interp_run(c, left < 256 ? left : 256) : interp_step(c);
            bt->st.interp_steps += many ? c->icount - ic : 1;
            if (rc >= 256) break;
            rc = EXC_NONE;
            if (c->btrt.poll != (uint64_t)(uintptr_t)bt->poll_page) break;   /* the timer, a stop request */
            continue;
        }
        if (tb->cs_base == 0 && !bt->check && !jc_match(bt, tb->eip, mode)) jc_insert(bt, tb);
        /* chain only to the exit's own target: an interrupt taken in
         * between changed EIP */
        if (bt->pend.site && bt->pend.gen == bt->generation && bt->pend.mode == mode &&
            bt->pend.eip == tb->eip && bt->pend.cs == tb->cs_base && chain_ok(bt, tb, bt->pend.site)) {
            e_patch32(bt->pend.site + 1, tb->host);
            bt->st.chains++;
        }
        bt->pend.site = NULL;
        if (c->btrt.poll != (uint64_t)(uintptr_t)bt->poll_page) break;     /* the timer fired */
        if (bt->check) {
            bool done;
            rc = check_block(bt, tb, &done);
            if (rc >= 256) break;
            if (done) continue;
        }
        set_window(bt, c->cpl == 3 ? SHADOW_USER : SHADOW_SUP);
        if (bt->pf_pending) {
            /* the handler has returned to the instruction: the page as the
             * guest tables have it now (writable if dirty already: a read
             * fill sets no D bit) */
            if (c->eip == bt->pf_eip && (c->cpl == 3) == bt->pf_user) {
                uint32_t cr2 = c->cr[2];     /* a failed walk must leave no trace */
                uint32_t err = c->exc_err;
                bool has = c->exc_has_err;
                if (shadow_fill(bt, bt->pf_user ? SHADOW_USER : SHADOW_SUP, bt->pf_lin, false, false))
                    bt->st.prefills++;
                bt->pf_pending = false;
                c->cr[2] = cr2;
                c->exc_err = err;
                c->exc_has_err = has;
            } else if (--bt->pf_tries == 0) bt->pf_pending = false;
        }
        c->btrt.exit_site = 0;
        c->btrt.exit_code = BT_EXIT_NONE;
        uint64_t gen = bt->generation;
        before_entry(bt);
        uint64_t retired = bt->enter(c, tb->host);
        fpu_sync(bt);
        c->icount += retired;
        c->tsc += retired;
        int code = c->btrt.exit_code;
        if (code == BT_EXIT_NONE) {
            if (c->btrt.exit_site && !bt->check) {
                bt->pend.site = (uint8_t *)(uintptr_t)c->btrt.exit_site;
                bt->pend.gen = gen;
                bt->pend.mode = mode;
                bt->pend.eip = c->eip;
                bt->pend.cs = c->seg[SEG_CS].base;
                bt->st.exits_direct++;
            } else bt->st.exits_indirect++;
        } else if (code == BT_EXIT_POLL) {
            break;
        } else if (code == BT_EXIT_STALE) {
            /* a self-checking block whose code changed: drop it */
            drop_block(bt, tb);
            bt->st.smc_invalidations++;
        } else if (code == BT_EXIT_SLOW || code == BT_EXIT_TRAP) {
            if (code == BT_EXIT_SLOW) bt->st.exits_slow++; else bt->st.exits_trap++;
            struct insn di;
            if (decode_at_eip(c, &di)) bt->st.steps_by_op[di.op]++;
            bt->st.interp_insns++;
            uint32_t eip = c->eip;
            rc = interp_step(c);
            if (rc >= 256) break;
            if (rc == EXC_PF && !bt->check) {
                /* the guest handler will most likely map the page and return
                 * to the faulting access: map it then, without a second fault */
                bt->pf_pending = true;
                bt->pf_lin = c->cr[2];
                bt->pf_eip = eip;
                bt->pf_user = (c->exc_err & 4) != 0;
                bt->pf_tries = 4096;
            }
            rc = EXC_NONE;
        } else {
            rc = code;                              /* EXIT_HLT, EXIT_RESET, ... */
            break;
        }
    }
    c->btrt.poll = (uint64_t)(uintptr_t)bt->poll_page;
    tls_bt = prev;
    return rc;
}

int bt_step(struct bt *bt)
{
    struct cpu *c = bt->cpu;
    uint32_t mode;
    if (!mode_key(c, &mode)) return interp_step(c);
    struct bt *prev = tls_bt;
    tls_bt = bt;
    c->btrt.poll = (uint64_t)(uintptr_t)bt->poll_page;
    struct tb *tb = find_block(bt, c, mode | MODE_SINGLE);
    int rc;
    if (!tb) {
        rc = interp_step(c);
    } else {
        set_window(bt, c->cpl == 3 ? SHADOW_USER : SHADOW_SUP);
        int code;
        do {                                       /* a timer poll at the entry: again */
            c->btrt.poll = (uint64_t)(uintptr_t)bt->poll_page;
            c->btrt.exit_site = 0;
            c->btrt.exit_code = BT_EXIT_NONE;
            bt->delivered = EXC_NONE;
            before_entry(bt);
            uint64_t retired = bt->enter(c, tb->host);
            fpu_sync(bt);
            c->icount += retired;
            c->tsc += retired;
            code = c->btrt.exit_code;
        } while (code == BT_EXIT_POLL);
        if (code == BT_EXIT_SLOW || code == BT_EXIT_TRAP || code == BT_EXIT_STALE) rc = interp_step(c);
        else if (code >= 256) rc = code;
        else rc = bt->delivered;
    }
    c->btrt.poll = (uint64_t)(uintptr_t)bt->poll_page;
    tls_bt = prev;
    return rc;
}

void bt_print_stats(struct bt *bt, FILE *f)
{
    const struct bt_stats *s = &bt->st;
    const struct shadow_stats *sh = shadow_get_stats(bt->sh);
    if (bt->check) fprintf(f, "bt86: --check: %llu blocks compared with the interpreter, no divergence\n",
                           (unsigned long long)bt->checked_blocks);
    fprintf(f, "bt86: %s: blocks translated %llu (%llu insns, %llu ending in a page-crossing insn), lookups %llu (%llu in the jump cache, misses %llu), flushes %llu\n",
            bt->trap ? "trap" : "bt", (unsigned long long)s->blocks, (unsigned long long)s->insns_translated,
            (unsigned long long)s->cross_blocks,
            (unsigned long long)s->lookups, (unsigned long long)s->jc_lookups, (unsigned long long)s->lookup_misses,
            (unsigned long long)s->flushes);
    fprintf(f, "bt86: exits: direct %llu (chained %llu), after callouts %llu (+%llu went on in the jump cache), indirect %llu, timer %llu, slow-path %llu, trap %llu; interpreted steps %llu\n",
            (unsigned long long)s->exits_direct, (unsigned long long)s->chains, (unsigned long long)s->callout_exits,
            (unsigned long long)s->callout_continues,
            (unsigned long long)(s->exits_indirect - s->callout_exits),
            (unsigned long long)s->exits_poll, (unsigned long long)s->exits_slow, (unsigned long long)s->exits_trap,
            (unsigned long long)s->interp_steps);
    fprintf(f, "bt86: pages mapped ahead after a guest #PF: %llu; jump cache: %llu inserts, %llu flushes\n",
            (unsigned long long)s->prefills, (unsigned long long)s->jc_inserts, (unsigned long long)s->jc_flushes);
    fprintf(f, "bt86: callouts: system %llu, io %llu, string %llu, fpu %llu, stack %llu, other %llu\n",
            (unsigned long long)s->callouts[CO_SYSTEM], (unsigned long long)s->callouts[CO_IO],
            (unsigned long long)s->callouts[CO_STRING], (unsigned long long)s->callouts[CO_FPU],
            (unsigned long long)s->callouts[CO_STACK], (unsigned long long)s->callouts[CO_OTHER]);
    fprintf(f, "bt86: address-space switches: %llu back to a parked window (%llu pages dropped, %llu made read-only), %llu to a new one\n",
            (unsigned long long)sh->as_hits, (unsigned long long)sh->validate_drops, (unsigned long long)sh->validate_ro,
            (unsigned long long)sh->as_misses);
    fprintf(f, "bt86: shadow: fills %llu (%llu large pages, %llu by mprotect of a frame still mapped), zaps %llu (+%llu pages, %llu overflow), code write-protects %llu; "
               "faults: guest #PF %llu, mmio/rom %llu, smc %llu, #DE %llu; smc invalidations %llu\n",
            (unsigned long long)sh->fills, (unsigned long long)sh->fills_large, (unsigned long long)sh->reprotects,
            (unsigned long long)sh->zaps_all,
            (unsigned long long)sh->zaps_page,
            (unsigned long long)sh->overflow_zaps, (unsigned long long)sh->protects,
            (unsigned long long)s->faults_guest, (unsigned long long)s->faults_mmio, (unsigned long long)s->faults_smc,
            (unsigned long long)s->faults_de, (unsigned long long)s->smc_invalidations);
    /* the most frequent callouts by instruction */
    for (int pass = 0; pass < 2; pass++) {
        const uint64_t *cnt = pass ? s->steps_by_op : s->callouts_by_op;
        enum { NTOP = 16 };
        int top[NTOP];
        for (int i = 0; i < NTOP; i++) top[i] = -1;
        for (int op = 0; op < OP_COUNT; op++) {
            if (!cnt[op]) continue;
            for (int i = 0; i < NTOP; i++)
                if (top[i] < 0 || cnt[op] > cnt[top[i]]) {
                    memmove(&top[i + 1], &top[i], (size_t)(NTOP - 1 - i) * sizeof top[0]);
                    top[i] = op;
                    break;
                }
        }
        if (top[0] < 0) continue;
        fprintf(f, "bt86: top %s:", pass ? "exits to the interpreter (slow path, trap)" : "callouts");
        for (int i = 0; i < NTOP && top[i] >= 0; i++)
            fprintf(f, " %s %llu%s", optab[top[i]].name, (unsigned long long)cnt[top[i]],
                    i < NTOP - 1 && top[i + 1] >= 0 ? "," : "");
        fputc('\n', f);
    }
}
