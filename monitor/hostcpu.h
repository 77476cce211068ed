/* monitor/hostcpu.h - the `host` engine: user-level IA-32 code on the real CPU.
 *
 * Runs a short sequence of 32-bit instructions on the host processor in a
 * 32-bit (compatibility-mode) code segment of this x86-64 Linux process, from
 * a given register/EFLAGS state, and reports the final state or the exception
 * it raised. It is the hardware oracle for differential tests against the
 * interpreter (see ../shared/DESIGN.md, "Engines").
 *
 * Contract for the code (the caller's generator must respect it):
 *  - user-level only; it may touch memory only in the data area (a fixed
 *    32-bit address range the caller chooses, so an interpreter can mirror
 *    it); stray accesses elsewhere below 4 GiB may hit host mappings.
 *  - it may load DS/ES/FS/GS with null or the flat selectors (0x2B data,
 *    0x23 code) -- the engine restores the host's afterwards -- but FS/GS
 *    loads only where hostcpu_fsgs_loads_ok() (the host's FS/GS bases are
 *    restored with WRFSBASE/WRGSBASE, which needs FSGSBASE; without it a
 *    load would lose glibc's thread pointer).
 *  - it must not use INT 0x80, SYSCALL or SYSENTER (they would be real host
 *    system calls); other INT n raise #GP and are reported.
 *  - falling off the end of the code returns; a jump elsewhere runs until
 *    it faults (or the optional timeout).
 * Undefined flags of the host CPU (an AMD Zen here) differ from a P6:
 * comparisons must mask them.
 * One run at a time per process (the signal dispositions are process-wide;
 * a mutex serialises runs across threads).
 */
#ifndef BT86_HOSTCPU_H
#define BT86_HOSTCPU_H
#include <stddef.h>
#include <stdint.h>

/* Exit reasons beyond the exception vectors 0..31. */
#define HOSTCPU_EXC_NONE    (-1)   /* the code ran to its end               */
#define HOSTCPU_EXC_TIMEOUT 256    /* the timeout expired (SIGALRM)         */

struct host_state {
    uint32_t r[8];                 /* EAX ECX EDX EBX ESP EBP ESI EDI       */
    uint32_t eflags;               /* in: loaded with POPFD (TF forced off);
                                      out: as PUSHFD sees it               */
};

struct host_result {
    struct host_state out;         /* registers at the end or at the fault  */
    int exc;                       /* HOSTCPU_EXC_NONE, a vector (0 #DE, 1
                                      #DB, 3 #BP, 6 #UD, 13 #GP, 14 #PF, 17
                                      #AC ...) or HOSTCPU_EXC_TIMEOUT       */
    uint32_t fault_eip_offset;     /* EIP at the exception minus the code's
                                      start (after the insn for traps)      */
    uint32_t fault_addr;           /* #PF: faulting linear address (CR2)    */
    uint32_t error_code;           /* hardware error code as the kernel
                                      reports it (#PF, #GP)                 */
    int signo;                     /* host signal that reported it, or 0    */
};

/* EFLAGS bits user code can change with POPFD at CPL 3 (measured; see
 * hostcpu.c): CF PF AF ZF SF TF DF OF NT AC ID. IF reads 1, IOPL 0, and RF,
 * VM, VIF, VIP 0 in every result; compare results under this mask (and the
 * opcode's undefined-flag mask). */
#define HOSTCPU_EFLAGS_USER 0x00244fd5u

struct hostcpu;
struct cpu;

/* 1 when this is x86-64 Linux and a 32-bit code segment really runs code
 * (checked once by experiment); else 0 and a reason in why[n]. */
int hostcpu_available(char *why, size_t n);

/* A host engine whose data area is mapped read-write at the FIXED address
 * data_base (page aligned, below 4 GiB; size 0 for none). NULL on failure
 * with the reason in why[n] (why may be NULL). */
struct hostcpu *hostcpu_new(uint32_t data_base, uint32_t data_size, char *why, size_t n);
void hostcpu_free(struct hostcpu *hc);

/* The data area (at data_base in the 32-bit address space); the caller owns
 * its contents across runs. */
uint8_t *hostcpu_data(struct hostcpu *hc);

/* Timeout per run in microseconds (0: none, the default). A run that takes
 * longer stops with HOSTCPU_EXC_TIMEOUT and the registers at that point. */
int hostcpu_set_timeout(struct hostcpu *hc, uint32_t usec);

/* The largest code sequence hostcpu_run accepts. */
size_t hostcpu_max_code(const struct hostcpu *hc);

/* Runs code[0..len) from state *in and fills *res. Returns 0 when the code
 * ran (whether or not it faulted), -1 on a host error (bad arguments, code
 * too long) with res->exc = HOSTCPU_EXC_NONE and res->out = *in. */
int hostcpu_run(struct hostcpu *hc, const uint8_t *code, size_t len,
                const struct host_state *in, struct host_result *res);

/* Sets c's GPRs, EIP (the code's address), EFLAGS (as the host's POPFD
 * leaves them: TF off, IF=1, IOPL 0) and segment registers to what the code
 * sees on the host: CS=0x23 and SS/DS/ES=0x2B flat 4 GiB DPL 3 with D/B=1,
 * FS/GS null. The caller sets CPL 3 and protected mode (CR0.PE, CR0.AM for
 * #AC), and mirrors the code bytes at hostcpu_code_base() and the data area
 * at its base: CALL pushes real EIPs. */
void hostcpu_mirror_cpu(const struct hostcpu *hc, const struct host_state *in, struct cpu *c);

/* 1 when the code may load FS and GS (see the contract above). */
int hostcpu_fsgs_loads_ok(const struct hostcpu *hc);

/* The 32-bit linear address where code[0] runs (to compute branch targets). */
uint32_t hostcpu_code_base(const struct hostcpu *hc);

#endif
