/* monitor/hostcpu.c - the `host` engine: IA-32 user code on the real CPU.
 *
 * Owns: one low region per engine (below 2 GiB, MAP_32BIT) holding
 *   page 0   the trampolines (read+exec once built):
 *            enter64  C-callable: saves callee-saved registers, RFLAGS, the
 *                     x87/SSE state, DS/ES and (with FSGSBASE) FS/GS with
 *                     their 64-bit bases in the ctx, then far-returns
 *                     (LRETQ) to CS=0x23 (Linux's __USER32_CS);
 *            entry32  compatibility mode: DS=ES=SS=0x2B, loads EFLAGS with
 *                     POPFD from a scratch stack, then the eight GPRs (ESP
 *                     last) and jumps to the code;
 *            land64   64-bit: reloads the host RSP from the ctx, restores
 *                     DS/ES/FS/GS, x87/SSE, RFLAGS and the saved registers;
 *   page 1   the I/O page: input and output registers and the scratch stack;
 *   pages 2- the code area: the caller's code, followed by the epilogue that
 *            stores the GPRs and PUSHFD into the I/O page (SS: overrides) and
 *            far-jumps (JMP 0x33:land64) back to 64-bit mode;
 * and the data area at a fixed address the caller chose.
 * Faults: for the duration of one run, handlers for SIGSEGV SIGBUS SIGILL
 * SIGFPE SIGTRAP (and SIGALRM with a timeout) run on our own sigaltstack
 * (the 32-bit ESP is the test's). A fault with CS=0x23 is ours: the
 * handler records the state from the ucontext (the vector from the kernel's
 * trapno, CR2, error code) and rewrites the ucontext to resume at land64
 * with CS=0x33. Anything else is chained to the previous disposition. All
 * other signals are blocked during a run, so no foreign handler ever runs
 * on the test's stack. Dispositions, mask and alt stack are restored after
 * every run: outside hostcpu_run the process is untouched.
 * Invariants: every address the 32-bit code, trampolines or epilogue use is
 * below 4 GiB; the host RSP and the saved host state never depend on the
 * low region or the data area (they live in struct hostcpu on the C heap),
 * so code that scribbles over its own pages cannot take the host down.
 */
#include "monitor/hostcpu.h"
#include "cpu/cpu.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/syscall.h>

#if defined(__x86_64__) && defined(__linux__)
#define HOSTCPU_SUPPORTED 1
#else
#define HOSTCPU_SUPPORTED 0
#endif

#define HC_USER32_CS 0x23          /* Linux __USER32_CS (GDT entry 4, RPL 3) */
#define HC_USER_DS   0x2b          /* Linux __USER_DS (flat data, RPL 3)      */
#define HC_USER_CS   0x33          /* Linux __USER_CS (64-bit)                */

#define HC_PAGE      4096u
#define HC_CODE_MAX  (1u << 20)    /* code area size                          */
#define HC_LOW_SIZE  (2 * HC_PAGE + HC_CODE_MAX)
#define HC_ALTSTACK  (256u * 1024) /* AVX-512 signal frames are ~3.5 KiB     */

/* I/O page layout (offsets in page 1). */
#define IO_IN_R      0x00          /* 8 x u32 input GPRs                      */
#define IO_IN_FL     0x20          /* input EFLAGS                            */
#define IO_OUT_R     0x40          /* 8 x u32 output GPRs                     */
#define IO_OUT_FL    0x60          /* output EFLAGS                           */
#define IO_STACK_TOP 0xff0         /* scratch stack (grows down from here)    */

#define HC_EPILOGUE_MAX 96

/* State the 64-bit trampolines use; addressed through RDI / an imm64. */
struct hostcpu_ctx {
    uint64_t host_rsp;             /* RSP after enter64's pushes              */
    uint16_t host_ds, host_es;     /* the process's DS/ES (0 normally)        */
    uint16_t host_fs, host_gs;     /* FS/GS selectors (restored with bases)   */
    uint64_t host_fsbase;          /* FS base (glibc's thread pointer)        */
    uint64_t host_gsbase;          /* GS base                                 */
    _Alignas(16) uint8_t fx[512];  /* FXSAVE image of the host x87/SSE state  */
};

struct hostcpu {
    struct hostcpu_ctx ctx;        /* first: 16-byte aligned via aligned_alloc */
    uint8_t *low;                  /* low region (page 0 stubs, 1 I/O, code)  */
    uint8_t *data;                 /* data area (at data_base) or NULL        */
    uint32_t data_base, data_size; /* the data area's 32-bit range            */
    uint32_t enter64, land64;      /* trampoline addresses                    */
    uint32_t lret_addr;            /* address of enter64's LRETQ              */
    uint32_t entry32;              /* compatibility-mode entry                */
    uint8_t epilogue[HC_EPILOGUE_MAX]; /* bytes appended after the code       */
    size_t epilogue_len;
    void *altstack;                /* our signal stack                        */
    uint32_t timeout_usec;         /* 0: no timeout                           */
    timer_t timer;                 /* per-thread CLOCK_MONOTONIC timer        */
    bool have_timer;
    pid_t timer_tid;               /* the thread the timer signals            */
    /* filled by the signal handler during a run */
    volatile int exc;              /* HOSTCPU_EXC_NONE or the exit reason     */
    volatile int signo;
    volatile uint32_t f_r[8], f_eflags, f_eip, f_addr, f_err;
    volatile bool unavailable;     /* the far return to CS=0x23 faulted       */
    bool fsgsbase;                 /* RD/WRFSBASE usable: FS/GS loads by the
                                      code are undone in land64             */
};


static void hc_why(char *why, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void hc_why(char *why, size_t n, const char *fmt, ...)
{
    if (!why || !n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
}

#if HOSTCPU_SUPPORTED

/* The engine whose code is running (for the signal handler, which has no
 * other way to find it); NULL outside a run. Not thread-local on purpose:
 * the handler may run with a FS base the 32-bit code broke (a load of FS
 * resets it), so it must not touch TLS. Runs are serialised by
 * hostcpu_lock, so one pointer is enough. */
static struct hostcpu *volatile hostcpu_current;
/* This thread is inside hostcpu_run (a signal handler calling it again
 * would deadlock on hostcpu_lock). Only read outside the signal handler. */
static _Thread_local bool hostcpu_in_run;

/* Dispositions saved while a run has ours installed; process-wide like the
 * dispositions themselves, serialised by hostcpu_lock. */
static const int hostcpu_sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGALRM };
#define HC_NSIGS (sizeof hostcpu_sigs / sizeof hostcpu_sigs[0])
static struct sigaction hostcpu_oldact[HC_NSIGS];
static pthread_mutex_t hostcpu_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- a tiny byte emitter for the trampolines -------------------------- */

struct emit { uint8_t *p; size_t n; };
static void e8(struct emit *e, uint8_t b) { e->p[e->n++] = b; }
static void e16(struct emit *e, uint16_t v) { e8(e, v & 0xff); e8(e, v >> 8); }
static void e32(struct emit *e, uint32_t v) { e16(e, v & 0xffff); e16(e, v >> 16); }
static void e64(struct emit *e, uint64_t v) { e32(e, (uint32_t)v); e32(e, (uint32_t)(v >> 32)); }
static void ebytes(struct emit *e, const char *s, size_t n) { memcpy(e->p + e->n, s, n); e->n += n; }
#define EB(e, s) ebytes(e, s, sizeof(s) - 1)

/* 32-bit ModRM register numbers in struct host_state order (EAX..EDI). */
static void hc_build(struct hostcpu *hc)
{
    uint8_t *stub = hc->low;
    uint32_t base = (uint32_t)(uintptr_t)hc->low;
    uint32_t io = base + HC_PAGE;
    uint32_t code = base + 2 * HC_PAGE;
    struct emit e = { stub, 0 };
    uint32_t o_rsp = (uint32_t)offsetof(struct hostcpu_ctx, host_rsp);
    uint32_t o_ds = (uint32_t)offsetof(struct hostcpu_ctx, host_ds);
    uint32_t o_es = (uint32_t)offsetof(struct hostcpu_ctx, host_es);
    uint32_t o_fx = (uint32_t)offsetof(struct hostcpu_ctx, fx);
    uint32_t o_fs = (uint32_t)offsetof(struct hostcpu_ctx, host_fs);
    uint32_t o_gs = (uint32_t)offsetof(struct hostcpu_ctx, host_gs);
    uint32_t o_fsb = (uint32_t)offsetof(struct hostcpu_ctx, host_fsbase);
    uint32_t o_gsb = (uint32_t)offsetof(struct hostcpu_ctx, host_gsbase);

    /* enter64: void enter64(struct hostcpu_ctx *rdi) -- 64-bit code */
    hc->enter64 = base + (uint32_t)e.n;
    EB(&e, "\x53\x55\x41\x54\x41\x55\x41\x56\x41\x57"); /* push rbx rbp r12-r15 */
    e8(&e, 0x9c);                                       /* pushfq               */
    EB(&e, "\x48\x89\xa7"); e32(&e, o_rsp);             /* mov [rdi+d],rsp      */
    EB(&e, "\x0f\xae\x87"); e32(&e, o_fx);              /* fxsave [rdi+d]       */
    EB(&e, "\x8c\xd8");                                 /* mov eax,ds           */
    EB(&e, "\x66\x89\x87"); e32(&e, o_ds);              /* mov [rdi+d],ax       */
    EB(&e, "\x8c\xc0");                                 /* mov eax,es           */
    EB(&e, "\x66\x89\x87"); e32(&e, o_es);              /* mov [rdi+d],ax       */
    if (hc->fsgsbase) {
        EB(&e, "\x8c\xe0");                             /* mov eax,fs           */
        EB(&e, "\x66\x89\x87"); e32(&e, o_fs);
        EB(&e, "\x8c\xe8");                             /* mov eax,gs           */
        EB(&e, "\x66\x89\x87"); e32(&e, o_gs);
        EB(&e, "\xf3\x48\x0f\xae\xc0");                 /* rdfsbase rax         */
        EB(&e, "\x48\x89\x87"); e32(&e, o_fsb);         /* mov [rdi+d],rax      */
        EB(&e, "\xf3\x48\x0f\xae\xc8");                 /* rdgsbase rax         */
        EB(&e, "\x48\x89\x87"); e32(&e, o_gsb);
    }
    EB(&e, "\x6a"); e8(&e, HC_USER32_CS);               /* push 0x23            */
    size_t push_entry = e.n;
    e8(&e, 0x68); e32(&e, 0);                           /* push entry32 (below) */
    hc->lret_addr = base + (uint32_t)e.n;
    EB(&e, "\x48\xcb");                                 /* lretq                */

    /* land64: 64-bit, reached by JMP 0x33:land64 or from the handler */
    while (e.n & 15) e8(&e, 0xcc);
    hc->land64 = base + (uint32_t)e.n;
    EB(&e, "\x48\xbf"); e64(&e, (uint64_t)(uintptr_t)&hc->ctx); /* mov rdi,ctx */
    EB(&e, "\x48\x8b\xa7"); e32(&e, o_rsp);             /* mov rsp,[rdi+d]      */
    EB(&e, "\x0f\xb7\x87"); e32(&e, o_ds);              /* movzx eax,word[rdi+d]*/
    EB(&e, "\x8e\xd8");                                 /* mov ds,eax           */
    EB(&e, "\x0f\xb7\x87"); e32(&e, o_es);
    EB(&e, "\x8e\xc0");                                 /* mov es,eax           */
    if (hc->fsgsbase) {
        /* A selector load sets the base from the descriptor: load the
         * selector first, then the 64-bit base. */
        EB(&e, "\x0f\xb7\x87"); e32(&e, o_fs);
        EB(&e, "\x8e\xe0");                             /* mov fs,eax           */
        EB(&e, "\x48\x8b\x87"); e32(&e, o_fsb);         /* mov rax,[rdi+d]      */
        EB(&e, "\xf3\x48\x0f\xae\xd0");                 /* wrfsbase rax         */
        EB(&e, "\x0f\xb7\x87"); e32(&e, o_gs);
        EB(&e, "\x8e\xe8");                             /* mov gs,eax           */
        EB(&e, "\x48\x8b\x87"); e32(&e, o_gsb);
        EB(&e, "\xf3\x48\x0f\xae\xd8");                 /* wrgsbase rax         */
    }
    EB(&e, "\x0f\xae\x8f"); e32(&e, o_fx);              /* fxrstor [rdi+d]      */
    e8(&e, 0x9d);                                       /* popfq                */
    EB(&e, "\x41\x5f\x41\x5e\x41\x5d\x41\x5c\x5d\x5b"); /* pop r15-r12 rbp rbx  */
    e8(&e, 0xc3);                                       /* ret                  */

    /* entry32: compatibility mode (CS.L=0, CS.D=1) */
    while (e.n & 15) e8(&e, 0xcc);
    hc->entry32 = base + (uint32_t)e.n;
    e8(&e, 0xb8); e32(&e, HC_USER_DS);                  /* mov eax,0x2b         */
    EB(&e, "\x8e\xd8");                                 /* mov ds,eax           */
    EB(&e, "\x8e\xc0");                                 /* mov es,eax           */
    EB(&e, "\x8e\xd0");                                 /* mov ss,eax           */
    e8(&e, 0xbc); e32(&e, io + IO_STACK_TOP);           /* mov esp,scratch      */
    EB(&e, "\xff\x35"); e32(&e, io + IO_IN_FL);         /* push dword [in_fl]   */
    e8(&e, 0x9d);                                       /* popfd                */
    for (int r = 0; r < 8; r++) {                       /* ESP last             */
        int reg = r < 4 ? r : (r == 7 ? 4 : r + 1);     /* 0 1 2 3 5 6 7 4      */
        EB(&e, "\x8b"); e8(&e, (uint8_t)(0x05 | reg << 3)); /* mov reg,[abs]    */
        e32(&e, io + IO_IN_R + 4 * (uint32_t)reg);
    }
    e8(&e, 0xe9); e32(&e, code - (base + (uint32_t)e.n + 4)); /* jmp code       */
    memcpy(stub + push_entry + 1, &hc->entry32, 4);

    /* The epilogue (copied after the code): SS: stores, no flag changes
     * before PUSHFD. */
    struct emit p = { hc->epilogue, 0 };
    for (int r = 0; r < 8; r++) {
        e8(&p, 0x36); e8(&p, 0x89); e8(&p, (uint8_t)(0x05 | r << 3)); /* mov ss:[abs],reg */
        e32(&p, io + IO_OUT_R + 4 * (uint32_t)r);
    }
    e8(&p, 0xbc); e32(&p, io + IO_STACK_TOP);           /* mov esp,scratch      */
    e8(&p, 0x9c);                                       /* pushfd               */
    EB(&p, "\x36\x8f\x05"); e32(&p, io + IO_OUT_FL);    /* pop dword ss:[out_fl]*/
    e8(&p, 0xea); e32(&p, hc->land64); e16(&p, HC_USER_CS); /* jmp 0x33:land64  */
    hc->epilogue_len = p.n;
}

/* ---- signals ---------------------------------------------------------- */

static void hc_chain(int sig, siginfo_t *si, void *uc)
{
    for (size_t i = 0; i < HC_NSIGS; i++) {
        if (hostcpu_sigs[i] != sig)
            continue;
        struct sigaction *o = &hostcpu_oldact[i];
        if (o->sa_flags & SA_SIGINFO) {
            if (o->sa_sigaction)
                o->sa_sigaction(sig, si, uc);
            return;
        }
        if (o->sa_handler == SIG_IGN)
            return;
        if (o->sa_handler != SIG_DFL) {
            o->sa_handler(sig);
            return;
        }
        /* Default action: reinstate it; a synchronous fault re-executes and
         * terminates the process as it would have without us. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL);
        if (sig == SIGALRM || si->si_code <= 0)
            raise(sig);
        return;
    }
}

/* Vector from the signal when the kernel's trapno is not usable. */
static int hc_vector_from_signal(int sig, const siginfo_t *si)
{
    switch (sig) {
    case SIGFPE:  return si->si_code == FPE_INTDIV || si->si_code == FPE_INTOVF ? 0 : 16;
    case SIGILL:  return 6;
    case SIGTRAP: return si->si_code == TRAP_TRACE || si->si_code == TRAP_HWBKPT ? 1 : 3;
    case SIGBUS:  return 17;
    default:      return si->si_code == SEGV_MAPERR || si->si_code == SEGV_ACCERR ? 14 : 13;
    }
}

/* The kernel clears TF, DF and RF for a signal handler, but not AC: after
 * an #AC (or any fault of code that set AC) the handler would run with
 * alignment checking on, and instrumented or vectorised host code in it would
 * take a real SIGBUS. The handler therefore starts by clearing AC, and is
 * not ASan-instrumented before that point. */
__attribute__((no_sanitize_address, no_sanitize_undefined))
static void hc_on_signal(int sig, siginfo_t *si, void *ucv)
{
    __asm__ volatile("pushfq\n\tandq $~0x40000, (%%rsp)\n\tpopfq" ::: "memory", "cc");
    ucontext_t *uc = ucv;
    greg_t *g = uc->uc_mcontext.gregs;
    struct hostcpu *hc = hostcpu_current;
    uint16_t cs = (uint16_t)(g[REG_CSGSFS] & 0xffff);

    if (sig == SIGALRM && hc && si->si_code == SI_TIMER &&
        si->si_value.sival_ptr == (void *)hc && cs != HC_USER32_CS)
        return;                    /* our timer, but the code already ended */
    bool ours = hc && (cs == HC_USER32_CS ||
        (cs == HC_USER_CS && (uint64_t)g[REG_RIP] == hc->lret_addr && sig != SIGALRM));
    if (sig == SIGALRM && !(si->si_code == SI_TIMER && si->si_value.sival_ptr == (void *)hc))
        ours = false;
    if (!ours) {
        hc_chain(sig, si, ucv);
        return;
    }
    if (cs == HC_USER_CS) {
        hc->unavailable = true;    /* LRETQ to CS=0x23 faulted */
        hc->exc = 13;
    } else if (sig == SIGALRM) {
        hc->exc = HOSTCPU_EXC_TIMEOUT;
    } else {
        /* The kernel fills trapno/err/cr2 for signals it raises for a CPU
         * exception (si_code > 0 or SI_KERNEL); a signal sent by a process
         * gets the fallback. */
        bool kernel = si->si_code > 0 || si->si_code == SI_KERNEL;
        hc->exc = kernel ? (int)g[REG_TRAPNO] : hc_vector_from_signal(sig, si);
    }
    static const int greg_of[8] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX,
                                    REG_RSP, REG_RBP, REG_RSI, REG_RDI };
    for (int r = 0; r < 8; r++)
        hc->f_r[r] = (uint32_t)g[greg_of[r]];
    hc->f_eflags = (uint32_t)g[REG_EFL];
    hc->f_eip = (uint32_t)g[REG_RIP];
    hc->f_addr = hc->exc == 14 ? (uint32_t)g[REG_CR2] : 0;
    hc->f_err = (uint32_t)g[REG_ERR];
    hc->signo = sig;

    /* Resume in 64-bit mode at land64 (which reloads RSP from the ctx). */
    g[REG_RIP] = (greg_t)hc->land64;
    g[REG_RSP] = (greg_t)hc->ctx.host_rsp;
    g[REG_EFL] = 0x202;            /* IF; TF, DF, AC clear */
    uint64_t csgsfs = (uint64_t)g[REG_CSGSFS];
    csgsfs = (csgsfs & 0x0000ffffffff0000ull) | HC_USER_CS | ((uint64_t)HC_USER_DS << 48);
    g[REG_CSGSFS] = (greg_t)csgsfs;
}

/* ---- the engine -------------------------------------------------------- */

struct hostcpu *hostcpu_new(uint32_t data_base, uint32_t data_size, char *why, size_t n)
{
    if (data_size && ((data_base | data_size) & (HC_PAGE - 1))) {
        hc_why(why, n, "data area 0x%x+0x%x is not page aligned", data_base, data_size);
        return NULL;
    }
    if (data_size && (uint64_t)data_base + data_size > 0x100000000ull) {
        hc_why(why, n, "data area 0x%x+0x%x crosses 4 GiB", data_base, data_size);
        return NULL;
    }
    if (data_size && data_base == 0) {
        hc_why(why, n, "data area at address 0 is not allowed");
        return NULL;
    }
    struct hostcpu *hc = aligned_alloc(64, (sizeof *hc + 63) & ~(size_t)63);
    if (!hc) {
        hc_why(why, n, "out of memory");
        return NULL;
    }
    memset(hc, 0, sizeof *hc);
    hc->low = mmap(NULL, HC_LOW_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT | MAP_NORESERVE, -1, 0);
    if (hc->low == MAP_FAILED) {
        hc_why(why, n, "mmap of the low code region (MAP_32BIT, RWX) failed: %s", strerror(errno));
        free(hc);
        return NULL;
    }
    if ((uintptr_t)hc->low + HC_LOW_SIZE > 0x80000000u) {
        hc_why(why, n, "MAP_32BIT returned %p, not below 2 GiB", (void *)hc->low);
        munmap(hc->low, HC_LOW_SIZE);
        free(hc);
        return NULL;
    }
    if (data_size) {
        void *want = (void *)(uintptr_t)data_base;
        void *p = mmap(want, data_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == MAP_FAILED || p != want) {
            int err = errno;
            if (p != MAP_FAILED)
                munmap(p, data_size);
            hc_why(why, n, "cannot map the data area at 0x%x+0x%x: %s", data_base, data_size,
                   p == MAP_FAILED ? strerror(err) : "address taken");
            munmap(hc->low, HC_LOW_SIZE);
            free(hc);
            return NULL;
        }
        hc->data = p;
        hc->data_base = data_base;
        hc->data_size = data_size;
    }
    hc->altstack = mmap(NULL, HC_ALTSTACK, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (hc->altstack == MAP_FAILED) {
        hc_why(why, n, "mmap of the signal stack failed: %s", strerror(errno));
        if (hc->data)
            munmap(hc->data, hc->data_size);
        munmap(hc->low, HC_LOW_SIZE);
        free(hc);
        return NULL;
    }
    /* The kernel enables FSGSBASE for user code (since 5.9) and says so in
     * AT_HWCAP2 bit 1 (HWCAP2_FSGSBASE). */
    hc->fsgsbase = (getauxval(AT_HWCAP2) & 2) != 0;
    hc_build(hc);
    /* The stub page becomes read+exec, the I/O page read+write; the code
     * area stays RWX (it is rewritten each run). */
    if (mprotect(hc->low, HC_PAGE, PROT_READ | PROT_EXEC) ||
        mprotect(hc->low + HC_PAGE, HC_PAGE, PROT_READ | PROT_WRITE)) {
        hc_why(why, n, "mprotect of the trampoline page failed: %s", strerror(errno));
        hostcpu_free(hc);
        return NULL;
    }
    hc->exc = HOSTCPU_EXC_NONE;
    return hc;
}

void hostcpu_free(struct hostcpu *hc)
{
    if (!hc)
        return;
    if (hc->have_timer)
        timer_delete(hc->timer);
    if (hc->data)
        munmap(hc->data, hc->data_size);
    munmap(hc->altstack, HC_ALTSTACK);
    munmap(hc->low, HC_LOW_SIZE);
    free(hc);
}

int hostcpu_set_timeout(struct hostcpu *hc, uint32_t usec)
{
    hc->timeout_usec = usec;
    return 0;
}

static int hc_arm_timer(struct hostcpu *hc)
{
    pid_t tid = (pid_t)syscall(SYS_gettid);
    if (hc->have_timer && hc->timer_tid != tid) {
        timer_delete(hc->timer);
        hc->have_timer = false;
    }
    if (!hc->have_timer) {
        struct sigevent sev;
        memset(&sev, 0, sizeof sev);
        sev.sigev_notify = SIGEV_THREAD_ID;
        sev.sigev_signo = SIGALRM;
        sev.sigev_value.sival_ptr = hc;
        sev._sigev_un._tid = tid;
        if (timer_create(CLOCK_MONOTONIC, &sev, &hc->timer))
            return -1;
        hc->have_timer = true;
        hc->timer_tid = tid;
    }
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = hc->timeout_usec / 1000000;
    its.it_value.tv_nsec = (long)(hc->timeout_usec % 1000000) * 1000;
    return timer_settime(hc->timer, 0, &its, NULL);
}

static void hc_disarm_timer(struct hostcpu *hc)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    timer_settime(hc->timer, 0, &its, NULL);
}

int hostcpu_run(struct hostcpu *hc, const uint8_t *code, size_t len,
                const struct host_state *in, struct host_result *res)
{
    memset(res, 0, sizeof *res);
    res->out = *in;
    res->exc = HOSTCPU_EXC_NONE;
    if (!hc || (!code && len) || len > hostcpu_max_code(hc))
        return -1;
    if (hostcpu_in_run)
        return -1;                 /* re-entered from a signal handler */

    uint8_t *codep = hc->low + 2 * HC_PAGE;
    if (len)
        memcpy(codep, code, len);
    memcpy(codep + len, hc->epilogue, hc->epilogue_len);
    volatile uint32_t *io = (volatile uint32_t *)(hc->low + HC_PAGE);
    for (int r = 0; r < 8; r++)
        io[IO_IN_R / 4 + r] = in->r[r];
    io[IO_IN_FL / 4] = (in->eflags & ~0x100u) | 2;      /* TF off, bit 1 set */
    for (int r = 0; r < 8; r++)
        io[IO_OUT_R / 4 + r] = 0;
    io[IO_OUT_FL / 4] = 0;
    hc->exc = HOSTCPU_EXC_NONE;
    hc->unavailable = false;
    hc->signo = 0;

    hostcpu_in_run = true;
    pthread_mutex_lock(&hostcpu_lock);
    stack_t ss = { .ss_sp = hc->altstack, .ss_size = HC_ALTSTACK, .ss_flags = 0 }, old_ss;
    if (sigaltstack(&ss, &old_ss)) {
        pthread_mutex_unlock(&hostcpu_lock);
        hostcpu_in_run = false;
        return -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = hc_on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigfillset(&sa.sa_mask);
    size_t nsigs = hc->timeout_usec ? HC_NSIGS : HC_NSIGS - 1;
    for (size_t i = 0; i < nsigs; i++)
        sigaction(hostcpu_sigs[i], &sa, &hostcpu_oldact[i]);
    /* Only the exception signals (and our timer's) may arrive while the
     * test code runs: a foreign handler must never run on its stack. */
    sigset_t run_mask, old_mask;
    sigfillset(&run_mask);
    for (size_t i = 0; i < nsigs; i++)
        sigdelset(&run_mask, hostcpu_sigs[i]);
    pthread_sigmask(SIG_SETMASK, &run_mask, &old_mask);
    bool timed = hc->timeout_usec && hc_arm_timer(hc) == 0;

    hostcpu_current = hc;
    void (*enter)(struct hostcpu_ctx *) =
        (void (*)(struct hostcpu_ctx *))(uintptr_t)hc->enter64;
    enter(&hc->ctx);
    __asm__ volatile("" ::: "memory");
    if (timed)
        hc_disarm_timer(hc);       /* a late expiry is delivered here, ignored */
    hostcpu_current = NULL;

    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    for (size_t i = 0; i < nsigs; i++)
        sigaction(hostcpu_sigs[i], &hostcpu_oldact[i], NULL);
    if (old_ss.ss_flags & SS_DISABLE) {
        stack_t off = { .ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE };
        sigaltstack(&off, NULL);
    } else {
        old_ss.ss_flags &= ~SS_ONSTACK;
        sigaltstack(&old_ss, NULL);
    }
    pthread_mutex_unlock(&hostcpu_lock);
    hostcpu_in_run = false;

    if (hc->unavailable)
        return -1;
    res->exc = hc->exc;
    if (hc->exc == HOSTCPU_EXC_NONE) {
        for (int r = 0; r < 8; r++)
            res->out.r[r] = io[IO_OUT_R / 4 + r];
        res->out.eflags = io[IO_OUT_FL / 4];
    } else {
        for (int r = 0; r < 8; r++)
            res->out.r[r] = hc->f_r[r];
        /* The kernel reports the image the CPU pushed, with RF set for
         * faults (SDM vol. 3 sec. 17.3.1.1); RF is not architectural state
         * of the interrupted code, so drop it. */
        res->out.eflags = hc->f_eflags & ~0x10000u;
        res->fault_eip_offset = hc->f_eip - hostcpu_code_base(hc);
        res->fault_addr = hc->f_addr;
        res->error_code = hc->f_err;
        res->signo = hc->signo;
    }
    return 0;
}

int hostcpu_available(char *why, size_t n)
{
    static int cached = -1;        /* the answer never changes in a process */
    static char cached_why[160];
    if (cached >= 0) {
        hc_why(why, n, "%s", cached_why);
        return cached;
    }
    char err[128];
    struct hostcpu *hc = hostcpu_new(0, 0, err, sizeof err);
    if (!hc) {
        snprintf(cached_why, sizeof cached_why, "%s", err);
        cached = 0;
    } else {
        /* mov eax,0x12345678; add eax,eax */
        static const uint8_t probe[] = { 0xb8, 0x78, 0x56, 0x34, 0x12, 0x01, 0xc0 };
        struct host_state in = { .eflags = 0x2 };
        struct host_result res;
        int rc = hostcpu_run(hc, probe, sizeof probe, &in, &res);
        if (rc != 0 || res.exc != HOSTCPU_EXC_NONE || res.out.r[0] != 0x2468acf0) {
            snprintf(cached_why, sizeof cached_why,
                     "the 32-bit user code segment (selector 0x23) does not run code%s",
                     hc->unavailable ? " (far return faulted: ia32 emulation disabled?)" : "");
            cached = 0;
        } else {
            cached_why[0] = 0;
            cached = 1;
        }
        hostcpu_free(hc);
    }
    hc_why(why, n, "%s", cached_why);
    return cached;
}

#else /* !HOSTCPU_SUPPORTED */

struct hostcpu *hostcpu_new(uint32_t data_base, uint32_t data_size, char *why, size_t n)
{
    (void)data_base; (void)data_size;
    hc_why(why, n, "the host engine needs x86-64 Linux");
    return NULL;
}
void hostcpu_free(struct hostcpu *hc) { (void)hc; }
int hostcpu_set_timeout(struct hostcpu *hc, uint32_t usec) { (void)hc; (void)usec; return -1; }
int hostcpu_run(struct hostcpu *hc, const uint8_t *code, size_t len,
                const struct host_state *in, struct host_result *res)
{
    (void)hc; (void)code; (void)len;
    memset(res, 0, sizeof *res);
    res->out = *in;
    res->exc = HOSTCPU_EXC_NONE;
    return -1;
}
int hostcpu_available(char *why, size_t n)
{
    hc_why(why, n, "the host engine needs x86-64 Linux");
    return 0;
}

#endif

uint8_t *hostcpu_data(struct hostcpu *hc)
{
    return hc ? hc->data : NULL;
}

size_t hostcpu_max_code(const struct hostcpu *hc)
{
    return hc ? HC_CODE_MAX - hc->epilogue_len : 0;
}

void hostcpu_mirror_cpu(const struct hostcpu *hc, const struct host_state *in, struct cpu *c)
{
    memcpy(c->r, in->r, sizeof c->r);
    c->eip = hostcpu_code_base(hc);
    /* POPFD at CPL 3, IOPL 0 (SDM vol. 2 POPF): IF, IOPL, VM, VIF, VIP
     * unchanged, RF cleared; TF is forced off by hostcpu_run. */
    c->eflags = (in->eflags & HOSTCPU_EFLAGS_USER & ~0x100u) | 0x202u;
    /* Linux's GDT: 0x23 = 32-bit code, 0x2B = data; both flat, DPL 3,
     * accessed (type 0xB execute/read, 0x3 read/write), G=1, D/B=1. */
    static const struct seg code = { 0x23, 0, 0xffffffffu, 0xfb | AR_DB | AR_G };
    static const struct seg data = { 0x2b, 0, 0xffffffffu, 0xf3 | AR_DB | AR_G };
    static const struct seg null = { 0, 0, 0, 0 };
    c->seg[SEG_ES] = data;
    c->seg[SEG_CS] = code;
    c->seg[SEG_SS] = data;
    c->seg[SEG_DS] = data;
    c->seg[SEG_FS] = null;
    c->seg[SEG_GS] = null;
}

int hostcpu_fsgs_loads_ok(const struct hostcpu *hc)
{
    return hc && hc->fsgsbase;
}

uint32_t hostcpu_code_base(const struct hostcpu *hc)
{
    return hc ? (uint32_t)(uintptr_t)hc->low + 2 * HC_PAGE : 0;
}
