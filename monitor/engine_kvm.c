/* monitor/engine_kvm.c - the kvm engine: the same machine run with /dev/kvm.
 *
 * Owns: one KVM VM + one vCPU per engine. Guest RAM slots map the machine's
 * RAM memfd mapping (mem_ram) directly, so devices, DMA and the interpreter
 * see the same bytes; ROM gets read-only slots holding a page-aligned copy
 * of the ROM bytes; everything else (VGA window, option-ROM space, the LFB,
 * unclaimed addresses) has no slot and exits to mem_read_phys/mem_write_phys.
 * Port exits go to bus_io_read/bus_io_write. No in-kernel irqchip: the PIC
 * stays ours; interrupts are injected with KVM_INTERRUPT from cpu->intr_*.
 *
 * Invariants:
 * - Between kvm_engine_run() calls `struct cpu` is exact and complete (the
 *   interpreter may take over): state is loaded before KVM_RUN and saved
 *   after, and a pending I/O or MMIO completion is finished (KVM_RUN with
 *   immediate_exit) before the save, so RIP is past the I/O instruction.
 * - `snap` is what the vCPU holds as far as struct cpu is concerned; a load
 *   writes only the groups (regs, sregs, fpu, msrs, debug regs, events)
 *   whose struct cpu fields differ from it, so a run that nobody touched in
 *   between costs no state ioctls on entry. With KVM_CAP_SYNC_REGS, regs,
 *   sregs and events travel in kvm_run (kvm_dirty_regs/kvm_valid_regs); an
 *   interrupt injected at an entry that rewrites the events goes in them,
 *   since applying them would clear a queued KVM_INTERRUPT.
 * - A single step (n == 1) is interp_step: no interrupt before it; it ends
 *   at its debug exit or at its I/O or MMIO exit (completed before the save,
 *   as kvm_pvm traps only after the next instruction otherwise).
 * - An external interrupt KVM accepted but did not deliver yet when we stop
 *   (interrupt.injected) is delivered into struct cpu with cpu_deliver (it
 *   was acked from the PIC already); faults and software interrupts KVM had
 *   queued for re-injection are dropped: RIP is still at their instruction,
 *   which raises them again when it is re-executed (SDM vol. 3 sec. 6.5).
 * - Runs are bounded by host time: a per-thread POSIX timer (SIGEV_THREAD_ID)
 *   fires a real-time signal whose handler sets kvm_run->immediate_exit, so
 *   a spinning guest returns to the run loop within a slice (periodic, so a
 *   signal that lands just before KVM_RUN is followed by another).
 * - What this KVM can run is probed once per process in a scratch VM (real
 *   mode, then protected mode, then 32-bit paging; bounded by a timeout).
 *   When the guest later triple-faults in a mode the probe found broken
 *   (kvm_pvm: paging), the run stops with one line instead of resetting.
 * Not modelled: instruction counting (cpu->icount does not advance), A20
 * masking beyond the real-mode HMA alias at 1 MiB, guest TSC rate (host rate
 * within a run; struct cpu's TSC offset follows the vCPU's on each save).
 */
#include "monitor/engine_kvm.h"
#include "cpu/cpu.h"
#include "cpu/fpu_state.h"
#include "cpu/opcodes.h"
#include "mem/mem.h"
#include "devices/bus.h"
#include <linux/kvm.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define KVM_MAX_SLOTS 16
#define KVM_TSS_ADDR 0xFFFBD000u          /* 3 pages VMX needs without unrestricted guest */
#define KVM_IDMAP_ADDR 0xFEFFC000u        /* 1 page, same; both outside RAM, ROM and LFB   */
#define SLICE_MIN_NS 100000ull            /* bounds of one run: n insns at ~100 MIPS ...   */
#define SLICE_MAX_NS 4000000ull           /* ... but at least 0.1 ms and at most 4 ms      */
#define PROBE_TIMEOUT_NS 2000000000ull
#define CR0_PE_BIT 0x00000001u
#define CR0_PG_BIT 0x80000000u

/* MSRs kept in struct cpu that the vCPU holds too (SDM vol. 4 table 2-3) */
static const uint32_t msr_index[] = {
    0x174, 0x175, 0x176,                              /* SYSENTER_CS/ESP/EIP      */
    0x10,                                             /* TSC                      */
    0x2FF, 0x250, 0x258, 0x259,                       /* MTRRdefType, fixed       */
    0x268, 0x269, 0x26A, 0x26B, 0x26C, 0x26D, 0x26E, 0x26F,
    0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207,   /* variable MTRRs   */
    0x208, 0x209, 0x20A, 0x20B, 0x20C, 0x20D, 0x20E, 0x20F,
};
#define NMSR (sizeof msr_index / sizeof *msr_index)

/* the parts of struct cpu the vCPU holds, grouped by the ioctl that sets them */
struct kvm_snap {
    uint32_t r[8], eip, eflags;                 /* KVM_SET_REGS             */
    struct seg seg[6], ldtr, tr;                /* KVM_SET_SREGS ...        */
    struct dtr gdtr, idtr;
    uint32_t cr[5];
    uint64_t apic_base;
    uint8_t fpu[512];                           /* KVM_SET_FPU (FXSAVE x87) */
    uint64_t msr[NMSR];                         /* KVM_SET_MSRS             */
    uint32_t dr[8];                             /* KVM_SET_DEBUGREGS        */
    uint8_t intr_shadow;                        /* KVM_SET_VCPU_EVENTS      */
};

struct kvm_slot {
    uint64_t gpa, len;        /* guest-physical range                       */
    void *host;               /* host address (RAM mapping or ROM copy)     */
    bool rom;                 /* read-only slot (a private copy)            */
};

/* exit counters for --stats */
struct kvm_stats {
    uint64_t runs, entries;                     /* kvm_engine_run calls, KVM_RUN calls */
    uint64_t io_in, io_out, io_str;             /* port exits (str: count > 1)         */
    uint64_t mmio_rd, mmio_wr;
    uint64_t hlt, irq_window, intr, kicks, shutdown, other, debug;
    uint64_t loads_regs, loads_sregs, loads_fpu, loads_msrs, loads_dregs, loads_events;
    uint64_t completions, redelivered, dropped;
    uint64_t ns_in_run;                         /* host time inside KVM_RUN            */
};

struct kvm_engine {
    struct cpu *cpu;
    int kvm_fd, vm_fd, vcpu_fd;   /* /dev/kvm, the VM, the vCPU             */
    struct kvm_run *run;          /* the vCPU's shared page                 */
    size_t run_size;
    struct kvm_slot slot[KVM_MAX_SLOTS];
    int nslot;
    bool slots_ready;             /* built at the first run (ROM may load late) */
    int hma_slot;                 /* slot index of [1 MiB, 1 MiB + 64 KiB), or -1 */
    bool hma_wraps;               /* that slot aliases RAM at 0 (A20 off)   */
    bool snap_valid;              /* snap mirrors the vCPU                  */
    struct kvm_snap snap;
    struct kvm_sregs sregs_tmpl;  /* KVM's own sregs fields (apic, efer...)  */
    bool msr_ok[NMSR];            /* this KVM accepts that MSR              */
    bool need_complete;           /* the last exit was I/O or MMIO          */
    bool singlestep;              /* KVM_GUESTDBG_SINGLESTEP is on          */
    bool ro_slots;                /* KVM_CAP_READONLY_MEM: ROM slots are read-only */
    bool sync;                    /* KVM_CAP_SYNC_REGS: regs, sregs and events
                                     travel in kvm_run (no ioctl each way)  */
    bool was_shutdown;            /* the last run ended in a triple fault   */
    pid_t owner;                  /* process whose mm the VM belongs to     */
    int probe_level;              /* KVM_RUNS_* from the process probe      */
    timer_t timer;                /* kicks KVM_RUN out after a slice        */
    pid_t timer_tid;              /* thread the timer signals (0: none yet) */
    struct kvm_stats st;
};

/* ---- the kick: a real-time signal sets immediate_exit of the running vCPU ---- */

static __thread struct kvm_run *volatile tls_run;     /* this thread's running vCPU, or NULL */
static __thread volatile sig_atomic_t tls_expired;     /* the slice timer fired               */

static int kick_signal(void) { return SIGRTMIN + 3; }

static void kick_handler(int sig)
{
    (void)sig;
    tls_expired = 1;
    struct kvm_run *r = tls_run;
    if (r) r->immediate_exit = 1;
}

static pthread_once_t kick_once = PTHREAD_ONCE_INIT;
static void kick_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = kick_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(kick_signal(), &sa, NULL);
}

static pid_t my_tid(void) { return (pid_t)syscall(SYS_gettid); }

/* A timer aimed at the calling thread; 0 or -1 with errno. */
static int kick_timer_create(timer_t *t)
{
    pthread_once(&kick_once, kick_install);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, kick_signal());
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = kick_signal();
    ev._sigev_un._tid = my_tid();
    return timer_create(CLOCK_MONOTONIC, &ev, t);
}

static void kick_arm(timer_t t, uint64_t ns)
{
    struct itimerspec its = { { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) },
                              { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) } };
    timer_settime(t, 0, &its, NULL);
}

static void kick_disarm(timer_t t)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    timer_settime(t, 0, &its, NULL);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- /dev/kvm basics ---- */

static const char *host_kvm_module(void)
{
    struct stat sb;
    if (stat("/sys/module/kvm_pvm", &sb) == 0) return "kvm_pvm";
    if (stat("/sys/module/kvm_intel", &sb) == 0) return "kvm_intel";
    if (stat("/sys/module/kvm_amd", &sb) == 0) return "kvm_amd";
    return "kvm";
}

/* Open /dev/kvm and check the API; fd, or -1 with a one-line reason. */
static int kvm_open(char *why, size_t n)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == EACCES || e == EPERM)
            snprintf(why, n, "/dev/kvm: %s (run as a user in the kvm group)", strerror(e));
        else
            snprintf(why, n, "/dev/kvm: %s", strerror(e));
        return -1;
    }
    int v = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (v != KVM_API_VERSION) {
        snprintf(why, n, "/dev/kvm: API version %d, bt86 needs %d", v, KVM_API_VERSION);
        close(fd);
        return -1;
    }
    static const struct { int cap; const char *name; } need[] = {
        { KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
        { KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT (Linux 4.11 or later)" },
        { KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
        { KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS" },
        { KVM_CAP_DEBUGREGS, "KVM_CAP_DEBUGREGS" },
    };
    for (size_t i = 0; i < sizeof need / sizeof *need; i++)
        if (ioctl(fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0) {
            snprintf(why, n, "/dev/kvm (%s) lacks %s", host_kvm_module(), need[i].name);
            close(fd);
            return -1;
        }
    return fd;
}

/* CPUID as op_cpuid answers it (cpu/ops_sys.c): leaves 0-2, zeros elsewhere. */
static int set_cpuid(int vcpu_fd, const struct cpu *c)
{
    struct {
        struct kvm_cpuid2 h;
        struct kvm_cpuid_entry2 e[5];
    } cp;
    memset(&cp, 0, sizeof cp);
    cp.h.nent = 5;
    cp.e[0].function = 0; cp.e[0].eax = 2;
    memcpy(&cp.e[0].ebx, "Genu", 4); memcpy(&cp.e[0].edx, "ineI", 4); memcpy(&cp.e[0].ecx, "ntel", 4);
    cp.e[1].function = 1; cp.e[1].eax = c->cpuid_signature; cp.e[1].edx = c->cpuid_feat_edx;
    cp.e[2].function = 2; cp.e[2].eax = 0x03020101; cp.e[2].edx = 0x0C040843;
    cp.e[3].function = 0x80000000u;
    cp.e[4].function = 0x80000001u;
    return ioctl(vcpu_fd, KVM_SET_CPUID2, &cp);
}

/* VM + vCPU + run page. 0, or -1 with a reason. */
static int vm_create(int kvm_fd, const struct cpu *c, int *vm_fd, int *vcpu_fd, struct kvm_run **run,
                     size_t *run_size, char *why, size_t n)
{
    *vm_fd = *vcpu_fd = -1;
    *run = NULL;
    int vm = ioctl(kvm_fd, KVM_CREATE_VM, 0);
    if (vm < 0) { snprintf(why, n, "/dev/kvm: KVM_CREATE_VM: %s", strerror(errno)); return -1; }
    *vm_fd = vm;
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0)
        (void)ioctl(vm, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR);
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
        uint64_t a = KVM_IDMAP_ADDR;
        (void)ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, &a);
    }
    int vc = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vc < 0) { snprintf(why, n, "/dev/kvm: KVM_CREATE_VCPU: %s", strerror(errno)); return -1; }
    *vcpu_fd = vc;
    int sz = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (sz < (int)sizeof(struct kvm_run)) { snprintf(why, n, "/dev/kvm: bad vCPU mmap size %d", sz); return -1; }
    void *p = mmap(NULL, (size_t)sz, PROT_READ | PROT_WRITE, MAP_SHARED, vc, 0);
    if (p == MAP_FAILED) { snprintf(why, n, "/dev/kvm: mmap of the vCPU: %s", strerror(errno)); return -1; }
    *run = p;
    *run_size = (size_t)sz;
    if (set_cpuid(vc, c) < 0) { snprintf(why, n, "/dev/kvm: KVM_SET_CPUID2: %s", strerror(errno)); return -1; }
    return 0;
}

static void vm_destroy(int vm_fd, int vcpu_fd, struct kvm_run *run, size_t run_size)
{
    if (run) munmap(run, run_size);
    if (vcpu_fd >= 0) close(vcpu_fd);
    if (vm_fd >= 0) close(vm_fd);
}

static int set_slot(int vm_fd, uint32_t id, uint64_t gpa, uint64_t len, void *host, bool ro)
{
    struct kvm_userspace_memory_region r = {
        .slot = id, .flags = ro ? KVM_MEM_READONLY : 0,
        .guest_phys_addr = gpa, .memory_size = len, .userspace_addr = (uint64_t)(uintptr_t)host,
    };
    return ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r);
}

/* ---- struct cpu <-> KVM state ---- */

static void seg_to_kvm(const struct seg *s, struct kvm_segment *k)
{
    memset(k, 0, sizeof *k);
    k->base = s->base;
    k->limit = s->limit;
    k->selector = s->sel;
    k->type = s->ar & 15;
    k->s = (s->ar >> 4) & 1;
    k->dpl = (s->ar >> 5) & 3;
    k->present = (s->ar >> 7) & 1;
    k->avl = (s->ar >> 8) & 1;
    k->db = (s->ar >> 10) & 1;
    k->g = (s->ar >> 11) & 1;
    k->unusable = !k->present;
}

static void seg_from_kvm(const struct kvm_segment *k, struct seg *s)
{
    s->sel = k->selector;
    s->base = (uint32_t)k->base;
    s->limit = k->limit;
    s->ar = (uint16_t)((k->type & 15) | (k->s & 1) << 4 | (k->dpl & 3) << 5 | (k->present & 1) << 7 |
                       (k->avl & 1) << 8 | (k->db & 1) << 10 | (k->g & 1) << 11);
    if (k->unusable) s->ar &= (uint16_t)~AR_P;
}

/* struct cpu -> snapshot form (what we compare and what we load) */
static void snap_take(const struct cpu *c, struct kvm_snap *s)
{
    memset(s, 0, sizeof *s);
    memcpy(s->r, c->r, sizeof s->r);
    s->eip = c->eip;
    s->eflags = c->eflags;
    memcpy(s->seg, c->seg, sizeof s->seg);
    s->ldtr = c->ldtr;
    s->tr = c->tr;
    s->gdtr = c->gdtr;
    s->idtr = c->idtr;
    memcpy(s->cr, c->cr, sizeof s->cr);
    s->cr[1] = 0;
    s->apic_base = c->msr_apic_base;
    fpu_fxsave_x87(c, s->fpu);
    uint64_t *m = s->msr;
    m[0] = c->msr_sysenter_cs; m[1] = c->msr_sysenter_esp; m[2] = c->msr_sysenter_eip;
    /* TSC: the offset when a clock drives it (the value moves by itself),
     * else the value; load_msrs writes the current value either way */
    m[3] = c->tsc_clock ? c->tsc_offset : c->tsc;
    m[4] = c->mtrr_cap_def[1];
    for (int i = 0; i < 11; i++) m[5 + i] = c->mtrr_fixed[i];
    for (int i = 0; i < 16; i++) m[16 + i] = c->mtrr_var[i];
    memcpy(s->dr, c->dr, sizeof s->dr);
    s->intr_shadow = c->intr_shadow ? 1 : 0;
}

#define SYNC_ALL (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS)

static int load_regs(struct kvm_engine *k, const struct kvm_snap *s)
{
    struct kvm_regs r;
    memset(&r, 0, sizeof r);
    r.rax = s->r[R_EAX]; r.rcx = s->r[R_ECX]; r.rdx = s->r[R_EDX]; r.rbx = s->r[R_EBX];
    r.rsp = s->r[R_ESP]; r.rbp = s->r[R_EBP]; r.rsi = s->r[R_ESI]; r.rdi = s->r[R_EDI];
    r.rip = s->eip;
    r.rflags = s->eflags | EFLAGS_FIXED1;
    k->st.loads_regs++;
    if (k->sync) {                       /* applied by the next KVM_RUN */
        k->run->s.regs.regs = r;
        k->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
        return 0;
    }
    return ioctl(k->vcpu_fd, KVM_SET_REGS, &r);
}

static int load_sregs(struct kvm_engine *k, const struct kvm_snap *s)
{
    struct kvm_sregs sr = k->sregs_tmpl;
    struct kvm_segment *dst[6] = { &sr.es, &sr.cs, &sr.ss, &sr.ds, &sr.fs, &sr.gs };
    for (int i = 0; i < 6; i++) seg_to_kvm(&s->seg[i], dst[i]);
    seg_to_kvm(&s->ldtr, &sr.ldt);
    seg_to_kvm(&s->tr, &sr.tr);
    sr.tr.unusable = 0;                  /* VMX requires a usable TR */
    sr.gdt.base = s->gdtr.base; sr.gdt.limit = s->gdtr.limit;
    sr.idt.base = s->idtr.base; sr.idt.limit = s->idtr.limit;
    sr.cr0 = s->cr[0]; sr.cr2 = s->cr[2]; sr.cr3 = s->cr[3]; sr.cr4 = s->cr[4];
    sr.cr8 = 0;
    sr.efer = 0;
    sr.apic_base = s->apic_base;
    memset(sr.interrupt_bitmap, 0, sizeof sr.interrupt_bitmap);   /* nothing queued */
    k->st.loads_sregs++;
    if (k->sync) {
        k->run->s.regs.sregs = sr;
        k->run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
        return 0;
    }
    return ioctl(k->vcpu_fd, KVM_SET_SREGS, &sr);
}

static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

/* kvm_fpu mirrors the FXSAVE fields (Documentation/virt/kvm/api.rst); in the
 * 32-bit FXSAVE layout FIP/FCS and FDP/FDS share the 64-bit last_ip/last_dp */
static int load_fpu(struct kvm_engine *k, const struct kvm_snap *s)
{
    struct kvm_fpu f;
    memset(&f, 0, sizeof f);
    const uint8_t *img = s->fpu;
    f.fcw = get16(img + 0);
    f.fsw = get16(img + 2);
    f.ftwx = img[4];
    f.last_opcode = get16(img + 6);
    f.last_ip = get64(img + 8);
    f.last_dp = get64(img + 16);
    for (int i = 0; i < 8; i++) memcpy(f.fpr[i], img + 32 + 16 * i, 10);
    f.mxcsr = 0x1F80;
    k->st.loads_fpu++;
    return ioctl(k->vcpu_fd, KVM_SET_FPU, &f);
}

static int load_msrs(struct kvm_engine *k, const struct kvm_snap *s, const bool *which)
{
    struct {
        struct kvm_msrs h;
        struct kvm_msr_entry e[NMSR];
    } m;
    memset(&m, 0, sizeof m);
    for (size_t i = 0; i < NMSR; i++)
        if (k->msr_ok[i] && which[i]) {
            m.e[m.h.nmsrs].index = msr_index[i];
            m.e[m.h.nmsrs].data = i == 3 ? cpu_tsc_read(k->cpu) : s->msr[i];
            m.h.nmsrs++;
        }
    if (!m.h.nmsrs) return 0;
    k->st.loads_msrs++;
    int r = ioctl(k->vcpu_fd, KVM_SET_MSRS, &m);
    /* a value KVM refuses (e.g. a reserved MTRR type) stops the batch at that
     * entry: set the rest one by one and leave the refused one alone */
    if (r >= 0 && (unsigned)r < m.h.nmsrs) {
        for (unsigned i = (unsigned)r + 1; i < m.h.nmsrs; i++) {
            struct { struct kvm_msrs h; struct kvm_msr_entry e; } one;
            memset(&one, 0, sizeof one);
            one.h.nmsrs = 1;
            one.e = m.e[i];
            (void)ioctl(k->vcpu_fd, KVM_SET_MSRS, &one);
        }
        r = 0;
    }
    return r < 0 ? -1 : 0;
}

static int load_dregs(struct kvm_engine *k, const struct kvm_snap *s)
{
    struct kvm_debugregs d;
    memset(&d, 0, sizeof d);
    for (int i = 0; i < 4; i++) d.db[i] = s->dr[i];
    d.dr6 = s->dr[6];
    d.dr7 = s->dr[7];
    k->st.loads_dregs++;
    return ioctl(k->vcpu_fd, KVM_SET_DEBUGREGS, &d);
}

static int load_events(struct kvm_engine *k, const struct kvm_snap *s)
{
    struct kvm_vcpu_events ev;
    memset(&ev, 0, sizeof ev);
    /* VMX: blocking by STI needs IF=1, so an interp shadow with IF=0 is MOV SS */
    if (s->intr_shadow) ev.interrupt.shadow = (s->eflags & FL_IF) ? KVM_X86_SHADOW_INT_STI : KVM_X86_SHADOW_INT_MOV_SS;
    ev.flags = KVM_VCPUEVENT_VALID_SHADOW;
    k->st.loads_events++;
    if (k->sync) {
        k->run->s.regs.events = ev;
        k->run->kvm_dirty_regs |= KVM_SYNC_X86_EVENTS;
        return 0;
    }
    return ioctl(k->vcpu_fd, KVM_SET_VCPU_EVENTS, &ev);
}

/* Write to the vCPU what changed in struct cpu since the last save. */
static int state_load(struct kvm_engine *k, char *why, size_t n)
{
    struct kvm_snap s;
    snap_take(k->cpu, &s);
    struct kvm_snap *o = &k->snap;
    bool all = !k->snap_valid;
    if ((all || memcmp(s.r, o->r, sizeof s.r) || s.eip != o->eip || s.eflags != o->eflags) && load_regs(k, &s) < 0)
        { snprintf(why, n, "KVM_SET_REGS: %s", strerror(errno)); return -1; }
    if ((all || memcmp(s.seg, o->seg, sizeof s.seg) || memcmp(&s.ldtr, &o->ldtr, sizeof s.ldtr) ||
         memcmp(&s.tr, &o->tr, sizeof s.tr) || memcmp(&s.gdtr, &o->gdtr, sizeof s.gdtr) ||
         memcmp(&s.idtr, &o->idtr, sizeof s.idtr) || memcmp(s.cr, o->cr, sizeof s.cr) ||
         s.apic_base != o->apic_base) && load_sregs(k, &s) < 0)
        { snprintf(why, n, "KVM_SET_SREGS: %s (CR0=%08x CS=%04x)", strerror(errno), s.cr[0], s.seg[SEG_CS].sel); return -1; }
    if ((all || memcmp(s.fpu, o->fpu, sizeof s.fpu)) && load_fpu(k, &s) < 0)
        { snprintf(why, n, "KVM_SET_FPU: %s", strerror(errno)); return -1; }
    bool which[NMSR], any = false;
    for (size_t i = 0; i < NMSR; i++) {
        which[i] = all || s.msr[i] != o->msr[i];
        any |= which[i];
    }
    if (any && load_msrs(k, &s, which) < 0)
        { snprintf(why, n, "KVM_SET_MSRS: %s", strerror(errno)); return -1; }
    if ((all || memcmp(s.dr, o->dr, sizeof s.dr)) && load_dregs(k, &s) < 0)
        { snprintf(why, n, "KVM_SET_DEBUGREGS: %s", strerror(errno)); return -1; }
    if ((all || s.intr_shadow != o->intr_shadow) && load_events(k, &s) < 0)
        { snprintf(why, n, "KVM_SET_VCPU_EVENTS: %s", strerror(errno)); return -1; }
    *o = s;
    k->snap_valid = true;
    return 0;
}

static void do_io(struct kvm_engine *k);
static void do_mmio(struct kvm_engine *k);

/* KVM_RUN, asking for regs/sregs/events back in kvm_run when syncing. A
 * KVM_RUN that returned before applying dirty groups (a signal at entry on
 * some kernels) has overwritten them with the vCPU's values: write ours
 * again, from the snapshot, for the next entry. */
static int vcpu_run(struct kvm_engine *k)
{
    struct kvm_run *r = k->run;
    if (k->sync) r->kvm_valid_regs = SYNC_ALL;
    int e = ioctl(k->vcpu_fd, KVM_RUN, 0);
    if (k->sync && r->kvm_dirty_regs) {
        int saved = errno;
        unsigned d = r->kvm_dirty_regs;
        r->kvm_dirty_regs = 0;
        if (d & KVM_SYNC_X86_REGS) (void)load_regs(k, &k->snap);
        if (d & KVM_SYNC_X86_SREGS) (void)load_sregs(k, &k->snap);
        if (d & KVM_SYNC_X86_EVENTS) (void)load_events(k, &k->snap);
        errno = saved;
    }
    return e;
}

/* Finish a pending I/O or MMIO instruction inside KVM: it completes at the
 * next KVM_RUN, which immediate_exit makes return before entering the guest.
 * Completing may need more accesses (string I/O chunks, MOVS between MMIO
 * addresses): those exits are served here too. */
static void complete_pending(struct kvm_engine *k)
{
    for (int i = 0; k->need_complete && i < 4096; i++) {
        k->run->immediate_exit = 1;
        int e = vcpu_run(k);
        k->run->immediate_exit = 0;
        k->need_complete = false;
        k->st.completions++;
        if (e == 0 && k->run->exit_reason == KVM_EXIT_IO) { do_io(k); k->need_complete = true; }
        else if (e == 0 && k->run->exit_reason == KVM_EXIT_MMIO) { do_mmio(k); k->need_complete = true; }
    }
}

/* Read the vCPU back into struct cpu (exact). 0 or -1 with a reason. */
static int state_save(struct kvm_engine *k, char *why, size_t n)
{
    struct cpu *c = k->cpu;
    complete_pending(k);
    struct kvm_regs r;
    struct kvm_sregs sr;
    struct kvm_fpu f;
    struct kvm_debugregs d;
    struct kvm_vcpu_events ev;
    /* groups still dirty were never applied: the vCPU did not run, struct
     * cpu holds them already, and the next entry applies them */
    unsigned pend = k->sync ? k->run->kvm_dirty_regs : 0;
    if (k->sync && !(pend & KVM_SYNC_X86_REGS)) r = k->run->s.regs.regs;
    else if (!k->sync && ioctl(k->vcpu_fd, KVM_GET_REGS, &r) < 0) { snprintf(why, n, "KVM_GET_REGS: %s", strerror(errno)); return -1; }
    if (k->sync && !(pend & KVM_SYNC_X86_SREGS)) sr = k->run->s.regs.sregs;
    else if (!k->sync && ioctl(k->vcpu_fd, KVM_GET_SREGS, &sr) < 0) { snprintf(why, n, "KVM_GET_SREGS: %s", strerror(errno)); return -1; }
    if (ioctl(k->vcpu_fd, KVM_GET_FPU, &f) < 0) { snprintf(why, n, "KVM_GET_FPU: %s", strerror(errno)); return -1; }
    if (ioctl(k->vcpu_fd, KVM_GET_DEBUGREGS, &d) < 0) { snprintf(why, n, "KVM_GET_DEBUGREGS: %s", strerror(errno)); return -1; }
    if (k->sync && !(pend & KVM_SYNC_X86_EVENTS)) ev = k->run->s.regs.events;
    else if (!k->sync && ioctl(k->vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) < 0) { snprintf(why, n, "KVM_GET_VCPU_EVENTS: %s", strerror(errno)); return -1; }
    struct { struct kvm_msrs h; struct kvm_msr_entry e[NMSR]; } m;
    memset(&m, 0, sizeof m);
    int slot_of[NMSR];
    for (size_t i = 0; i < NMSR; i++) {
        slot_of[i] = -1;
        if (!k->msr_ok[i]) continue;
        slot_of[i] = (int)m.h.nmsrs;
        m.e[m.h.nmsrs++].index = msr_index[i];
    }
    int got = ioctl(k->vcpu_fd, KVM_GET_MSRS, &m);
    if (got < 0) { snprintf(why, n, "KVM_GET_MSRS: %s", strerror(errno)); return -1; }

    if (!(pend & KVM_SYNC_X86_REGS)) {
    c->r[R_EAX] = (uint32_t)r.rax; c->r[R_ECX] = (uint32_t)r.rcx; c->r[R_EDX] = (uint32_t)r.rdx;
    c->r[R_EBX] = (uint32_t)r.rbx; c->r[R_ESP] = (uint32_t)r.rsp; c->r[R_EBP] = (uint32_t)r.rbp;
    c->r[R_ESI] = (uint32_t)r.rsi; c->r[R_EDI] = (uint32_t)r.rdi;
    c->eip = (uint32_t)r.rip;
    c->eflags = ((uint32_t)r.rflags & EFLAGS_MASK) | EFLAGS_FIXED1;
    }
    if (!(pend & KVM_SYNC_X86_SREGS)) {
    const struct kvm_segment *src[6] = { &sr.es, &sr.cs, &sr.ss, &sr.ds, &sr.fs, &sr.gs };
    for (int i = 0; i < 6; i++) seg_from_kvm(src[i], &c->seg[i]);
    seg_from_kvm(&sr.ldt, &c->ldtr);
    seg_from_kvm(&sr.tr, &c->tr);
    c->gdtr.base = (uint32_t)sr.gdt.base; c->gdtr.limit = sr.gdt.limit;
    c->idtr.base = (uint32_t)sr.idt.base; c->idtr.limit = sr.idt.limit;
    c->cr[0] = (uint32_t)sr.cr0; c->cr[2] = (uint32_t)sr.cr2;
    c->cr[3] = (uint32_t)sr.cr3; c->cr[4] = (uint32_t)sr.cr4;
    c->msr_apic_base = sr.apic_base;
    /* CPL is SS.DPL (VMX keeps it there); 3 in V86 mode, 0 in real mode */
    c->cpl = !(c->cr[0] & CR0_PE_BIT) ? 0 : (c->eflags & FL_VM) ? 3 : sr.ss.dpl;
    }
    uint8_t img[512];
    memset(img, 0, sizeof img);
    memcpy(img + 0, &f.fcw, 2);
    memcpy(img + 2, &f.fsw, 2);
    img[4] = f.ftwx;
    memcpy(img + 6, &f.last_opcode, 2);
    memcpy(img + 8, &f.last_ip, 8);
    memcpy(img + 16, &f.last_dp, 8);
    for (int i = 0; i < 8; i++) memcpy(img + 32 + 16 * i, f.fpr[i], 10);
    fpu_fxrstor_x87(c, img);
    for (int i = 0; i < 4; i++) c->dr[i] = (uint32_t)d.db[i];
    c->dr[6] = (uint32_t)d.dr6;
    c->dr[7] = (uint32_t)d.dr7;
    c->dr[4] = c->dr[6];
    c->dr[5] = c->dr[7];
    for (size_t i = 0; i < NMSR; i++) {
        if (slot_of[i] < 0 || slot_of[i] >= got) continue;
        uint64_t v = m.e[slot_of[i]].data;
        switch (i) {
        case 0: c->msr_sysenter_cs = v; break;
        case 1: c->msr_sysenter_esp = v; break;
        case 2: c->msr_sysenter_eip = v; break;
        case 3:
            if (c->tsc_clock) c->tsc_offset = v - c->tsc_clock(c->tsc_opaque);
            else c->tsc = v;
            break;
        case 4: c->mtrr_cap_def[1] = v; break;
        default:
            if (i < 16) c->mtrr_fixed[i - 5] = v;
            else c->mtrr_var[i - 16] = v;
        }
    }
    if (pend & KVM_SYNC_X86_EVENTS) memset(&ev, 0, sizeof ev);     /* ours, not applied yet */
    else c->intr_shadow = ev.interrupt.shadow ? 1 : 0;
    /* the guest may have rewritten page tables (and INVLPGed) under KVM: the
     * interpreter's software TLB must not outlive the run */
    cpu_tlb_flush(c);
    snap_take(c, &k->snap);
    k->snap_valid = true;

    /* events KVM accepted but has not delivered yet (see the file comment) */
    bool events_left = ev.interrupt.injected || ev.exception.injected || ev.exception.pending || ev.nmi.injected;
    if (events_left) {
        if (ev.interrupt.injected && !ev.interrupt.soft) {
            k->st.redelivered++;
            int dr = cpu_deliver(c, ev.interrupt.nr, false, 0, false, c->eip);
            if (dr >= 256) return dr == EXIT_RESET ? 1 : 0;
        } else {
            k->st.dropped++;
        }
        k->snap_valid = false;       /* clears the queued event on the next load */
    }
    return 0;
}

/* ---- memory slots ---- */

/* Classify guest page pa: 0 none (MMIO/open bus), 1 RAM, 2 ROM. */
static int page_kind(struct mem *m, uint64_t pa)
{
    uint8_t *w = mem_host_page(m, pa, true);
    if (w && w == mem_ram(m) + pa) return 1;
    if (pa < mem_ram_size(m) && mem_host_page(m, pa, false) == mem_ram(m) + pa) return 1;  /* code-watched RAM */
    return mem_host_page(m, pa, false) ? 2 : 0;
}

static int add_slot(struct kvm_engine *k, uint64_t gpa, uint64_t len, int kind, char *why, size_t n)
{
    if (k->nslot == KVM_MAX_SLOTS) { snprintf(why, n, "kvm: too many memory regions"); return -1; }
    struct kvm_slot *s = &k->slot[k->nslot];
    s->gpa = gpa; s->len = len; s->rom = kind == 2;
    if (kind == 1) s->host = mem_ram(k->cpu->mem) + gpa;
    else {
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { snprintf(why, n, "kvm: cannot allocate ROM copy: %s", strerror(errno)); return -1; }
        if (mem_read_bytes(k->cpu->mem, gpa, p, len) != 0)
            for (uint64_t o = 0; o < len; o += 4096) {
                const uint8_t *src = mem_host_page(k->cpu->mem, gpa + o, false);
                if (src) memcpy((uint8_t *)p + o, src, 4096);
            }
        s->host = p;
    }
    /* without KVM_CAP_READONLY_MEM (Linux < 3.16) the ROM copy is writable:
     * guest writes to ROM stick in the copy instead of being dropped */
    if (set_slot(k->vm_fd, (uint32_t)k->nslot, gpa, len, s->host, s->rom && k->ro_slots) < 0) {
        snprintf(why, n, "kvm: KVM_SET_USER_MEMORY_REGION %#llx+%#llx: %s", (unsigned long long)gpa,
                 (unsigned long long)len, strerror(errno));
        if (s->rom) munmap(s->host, len);
        return -1;
    }
    k->nslot++;
    return 0;
}

/* Scan the 4 GiB physical space once and give each RAM and ROM run a slot.
 * RAM at [1 MiB, 1 MiB + 64 KiB) gets a slot of its own: the A20 alias. */
static int slots_build(struct kvm_engine *k, char *why, size_t n)
{
    struct mem *m = k->cpu->mem;
    uint64_t start = 0;
    int kind = page_kind(m, 0);
    k->hma_slot = -1;
    for (uint64_t pa = 4096; pa <= 0x100000000ull; pa += 4096) {
        int kk = pa < 0x100000000ull ? page_kind(m, pa) : -1;
        bool split = kind == 1 && (pa == 0x100000 || pa == 0x110000);
        if (kk == kind && !split) continue;
        if (kind) {
            if (kind == 1 && start == 0x100000 && pa == 0x110000) k->hma_slot = k->nslot;
            if (add_slot(k, start, pa - start, kind, why, n) < 0) return -1;
        }
        start = pa;
        kind = kk;
    }
    k->hma_wraps = false;
    k->slots_ready = true;
    return 0;
}

/* A20 off: real-mode addresses 1 MiB..1 MiB+64 KiB wrap to 0 (the only
 * range real-mode code can form above 1 MiB: FFFF:0010-FFFF:FFFF). */
static int a20_sync(struct kvm_engine *k)
{
    if (k->hma_slot < 0) return 0;
    bool want = !k->cpu->a20_enabled;
    if (want == k->hma_wraps) return 0;
    struct kvm_slot *s = &k->slot[k->hma_slot];
    void *host = want ? (void *)mem_ram(k->cpu->mem) : s->host;
    if (set_slot(k->vm_fd, (uint32_t)k->hma_slot, s->gpa, 0, s->host, false) < 0 ||
        set_slot(k->vm_fd, (uint32_t)k->hma_slot, s->gpa, s->len, host, false) < 0) return -1;
    k->hma_wraps = want;
    return 0;
}

/* ---- the probe: what this KVM can run (once per process) ---- */

/* nasm source (org 0x1000, entered in real mode at 0000:1000):
 *   mov al,1 / out 10h,al / cli / lgdt [gdtr] / mov eax,cr0 / or al,1 / mov cr0,eax
 *   jmp dword 08h:pm
 *   pm (bits 32): mov ax,10h / mov ds,ax / mov es,ax / mov ss,ax / mov esp,8000h
 *   mov al,2 / out 10h,al / mov eax,2000h / mov cr3,eax / mov eax,cr0
 *   or eax,80000000h / mov cr0,eax / mov al,3 / out 10h,al / hlt
 *   gdt: dq 0, 00CF9A000000FFFFh, 00CF92000000FFFFh ; gdtr: dw 23, dd gdt
 * Page directory at 2000h -> page table at 3000h, identity for 64 KiB. */
static const uint8_t probe_code[] = {
    0xb0, 0x01, 0xe6, 0x10, 0xfa, 0x0f, 0x01, 0x16, 0x60, 0x10, 0x0f, 0x20,
    0xc0, 0x0c, 0x01, 0x0f, 0x22, 0xc0, 0x66, 0xea, 0x1a, 0x10, 0x00, 0x00,
    0x08, 0x00, 0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0,
    0xbc, 0x00, 0x80, 0x00, 0x00, 0xb0, 0x02, 0xe6, 0x10, 0xb8, 0x00, 0x20,
    0x00, 0x00, 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00,
    0x80, 0x0f, 0x22, 0xc0, 0xb0, 0x03, 0xe6, 0x10, 0xf4, 0x90, 0x90, 0x90,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00,
    0x00, 0x9a, 0xcf, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0xcf, 0x00,
    0x17, 0x00, 0x48, 0x10, 0x00, 0x00,
};

static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static bool probe_done;
static int probe_result;
static char probe_text[400];

static const char *level_name(int level)
{
    switch (level) {
    case KVM_RUNS_NOTHING: return "nothing";
    case KVM_RUNS_REAL: return "real mode";
    case KVM_RUNS_PMODE: return "32-bit protected mode without paging";
    default: return "32-bit protected mode with paging";
    }
}

static int probe_run(char *why, size_t n)
{
    struct cpu c;
    memset(&c, 0, sizeof c);
    c.cpuid_signature = 0x652;
    c.cpuid_feat_edx = 0xB97D;
    int kvm = kvm_open(why, n);
    if (kvm < 0) return -1;
    int vm, vc;
    struct kvm_run *run;
    size_t run_size = 0;
    int level = KVM_RUNS_NOTHING;
    uint8_t *ram = MAP_FAILED;
    timer_t t;
    bool have_timer = false;
    if (vm_create(kvm, &c, &vm, &vc, &run, &run_size, why, n) < 0) goto out;
    ram = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ram == MAP_FAILED) { snprintf(why, n, "kvm probe: out of memory"); goto out; }
    memcpy(ram + 0x1000, probe_code, sizeof probe_code);
    uint32_t pde = 0x3000 | 3;
    memcpy(ram + 0x2000, &pde, 4);
    for (uint32_t i = 0; i < 16; i++) { uint32_t pte = i << 12 | 3; memcpy(ram + 0x3000 + 4 * i, &pte, 4); }
    if (set_slot(vm, 0, 0, 0x10000, ram, false) < 0) {
        snprintf(why, n, "/dev/kvm: KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
        goto out;
    }
    struct kvm_sregs sr;
    if (ioctl(vc, KVM_GET_SREGS, &sr) < 0) { snprintf(why, n, "/dev/kvm: KVM_GET_SREGS: %s", strerror(errno)); goto out; }
    struct kvm_segment *segs[6] = { &sr.es, &sr.cs, &sr.ss, &sr.ds, &sr.fs, &sr.gs };
    for (int i = 0; i < 6; i++) {
        struct seg s = { 0, 0, 0xFFFF, (uint16_t)(i == SEG_CS ? 0x9B : 0x93) };
        seg_to_kvm(&s, segs[i]);
    }
    sr.cr0 = 0x60000010u;
    sr.cr3 = sr.cr4 = 0;
    sr.efer = 0;
    if (ioctl(vc, KVM_SET_SREGS, &sr) < 0) { snprintf(why, n, "/dev/kvm: KVM_SET_SREGS (real mode): %s", strerror(errno)); goto out; }
    struct kvm_regs r;
    memset(&r, 0, sizeof r);
    r.rip = 0x1000; r.rflags = 2; r.rsp = 0x8000;
    if (ioctl(vc, KVM_SET_REGS, &r) < 0) { snprintf(why, n, "/dev/kvm: KVM_SET_REGS: %s", strerror(errno)); goto out; }
    if (kick_timer_create(&t) < 0) { snprintf(why, n, "kvm probe: timer_create: %s", strerror(errno)); goto out; }
    have_timer = true;
    tls_run = run;
    tls_expired = 0;
    kick_arm(t, 1000000);
    uint64_t t0 = now_ns();
    snprintf(why, n, "timed out");
    for (;;) {
        if (now_ns() - t0 > PROBE_TIMEOUT_NS) { snprintf(why, n, "timed out after %.0f s", PROBE_TIMEOUT_NS / 1e9); break; }
        run->immediate_exit = 0;
        int rc = ioctl(vc, KVM_RUN, 0);
        if (rc < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            snprintf(why, n, "KVM_RUN: %s", strerror(errno));
            break;
        }
        if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0x10 && run->io.direction == KVM_EXIT_IO_OUT) {
            level = ((uint8_t *)run)[run->io.data_offset];
            continue;
        }
        if (run->exit_reason == KVM_EXIT_HLT) { why[0] = 0; break; }
        if (run->exit_reason == KVM_EXIT_SHUTDOWN) { snprintf(why, n, "triple fault"); break; }
        if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
            snprintf(why, n, "KVM internal error %u (emulation failure)", run->internal.suberror);
            break;
        }
        if (run->exit_reason == KVM_EXIT_FAIL_ENTRY) {
            snprintf(why, n, "VM entry failed (reason %#llx)", (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
            break;
        }
        snprintf(why, n, "unexpected exit %u", run->exit_reason);
        break;
    }
    kick_disarm(t);
    tls_run = NULL;
out:
    if (have_timer) timer_delete(t);
    if (ram != MAP_FAILED) munmap(ram, 0x10000);
    vm_destroy(vm, vc, run, run_size);
    close(kvm);
    return level;
}

int kvm_engine_probe(char *buf, size_t n)
{
    pthread_mutex_lock(&probe_lock);
    if (!probe_done) {
        char why[160];
        uint64_t t0 = now_ns();
        int level = probe_run(why, sizeof why);
        double ms = (double)(now_ns() - t0) / 1e6;
        if (level < 0) {
            probe_result = -1;
            snprintf(probe_text, sizeof probe_text, "%s", why);
        } else {
            probe_result = level;
            if (level >= KVM_RUNS_PAGING)
                snprintf(probe_text, sizeof probe_text, "%s runs real mode, protected mode and paging (probe %.1f ms)",
                         host_kvm_module(), ms);
            else if (level == KVM_RUNS_PMODE)
                snprintf(probe_text, sizeof probe_text, "%s runs real mode and 32-bit protected mode without paging "
                         "but not paging (turning paging on: %.150s)", host_kvm_module(), why);
            else if (level == KVM_RUNS_REAL)
                snprintf(probe_text, sizeof probe_text, "%s runs only real mode (entering protected mode: %.150s)",
                         host_kvm_module(), why);
            else
                snprintf(probe_text, sizeof probe_text, "%s cannot run real-mode code (%.150s)", host_kvm_module(), why);
        }
        probe_done = true;
    }
    int r = probe_result;
    if (buf && n) snprintf(buf, n, "%s", probe_text);
    pthread_mutex_unlock(&probe_lock);
    return r;
}

const char *kvm_engine_unavailable_reason(char *buf, size_t n)
{
    char why[200];
    int level = kvm_engine_probe(why, sizeof why);
    if (level < 0) { snprintf(buf, n, "%s", why); return buf; }
    if (level < KVM_RUNS_REAL) { snprintf(buf, n, "%s", why); return buf; }
    return NULL;
}

/* ---- the engine ---- */

struct kvm_engine *kvm_engine_new(struct cpu *cpu, char *err, size_t errlen)
{
    char why[200];
    int level = kvm_engine_probe(why, sizeof why);
    if (level < KVM_RUNS_REAL) { snprintf(err, errlen, "kvm: %s", why); return NULL; }
    struct kvm_engine *k = calloc(1, sizeof *k);
    if (!k) { snprintf(err, errlen, "out of memory"); return NULL; }
    k->cpu = cpu;
    k->vm_fd = k->vcpu_fd = -1;
    k->hma_slot = -1;
    k->probe_level = level;
    k->kvm_fd = kvm_open(err, errlen);
    if (k->kvm_fd < 0) { free(k); return NULL; }
    k->owner = getpid();
    if (vm_create(k->kvm_fd, cpu, &k->vm_fd, &k->vcpu_fd, &k->run, &k->run_size, err, errlen) < 0) goto fail;
    k->ro_slots = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0;
    int sync = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
    k->sync = sync > 0 && (sync & SYNC_ALL) == SYNC_ALL && !getenv("BT86_KVM_NO_SYNC");
    if (ioctl(k->vcpu_fd, KVM_GET_SREGS, &k->sregs_tmpl) < 0) {
        snprintf(err, errlen, "kvm: KVM_GET_SREGS: %s", strerror(errno));
        goto fail;
    }
    /* which of our MSRs this KVM holds */
    for (size_t i = 0; i < NMSR; i++) {
        struct { struct kvm_msrs h; struct kvm_msr_entry e; } one;
        memset(&one, 0, sizeof one);
        one.h.nmsrs = 1;
        one.e.index = msr_index[i];
        k->msr_ok[i] = ioctl(k->vcpu_fd, KVM_GET_MSRS, &one) == 1;
    }
    return k;
fail:
    kvm_engine_free(k);
    return NULL;
}

void kvm_engine_free(struct kvm_engine *k)
{
    if (!k) return;
    if (k->timer_tid && k->owner == getpid()) timer_delete(k->timer);
    vm_destroy(k->vm_fd, k->vcpu_fd, k->run, k->run_size);
    for (int i = 0; i < k->nslot; i++)
        if (k->slot[i].rom) munmap(k->slot[i].host, k->slot[i].len);
    if (k->kvm_fd >= 0) close(k->kvm_fd);
    free(k);
}

int kvm_engine_level(const struct kvm_engine *k) { return k->probe_level; }

/* Port exit: `count` accesses of `size` bytes at the run page's data area. */
static void do_io(struct kvm_engine *k)
{
    struct kvm_run *r = k->run;
    uint8_t *data = (uint8_t *)r + r->io.data_offset;
    unsigned size = r->io.size;
    for (uint32_t i = 0; i < r->io.count; i++, data += size) {
        if (r->io.direction == KVM_EXIT_IO_OUT) {
            uint32_t v = 0;
            memcpy(&v, data, size);
            if (k->cpu->bus) bus_io_write(k->cpu->bus, r->io.port, v, size);
        } else {
            uint32_t v = k->cpu->bus ? bus_io_read(k->cpu->bus, r->io.port, size) : 0xFFFFFFFFu;
            memcpy(data, &v, size);
        }
    }
    if (r->io.count > 1) k->st.io_str++;
    if (r->io.direction == KVM_EXIT_IO_OUT) k->st.io_out++; else k->st.io_in++;
}

static void do_mmio(struct kvm_engine *k)
{
    struct kvm_run *r = k->run;
    uint64_t pa = r->mmio.phys_addr;
    unsigned len = r->mmio.len;
    if (r->mmio.is_write) {
        k->st.mmio_wr++;
        if (len == 1 || len == 2 || len == 4 || len == 8) {
            uint64_t v = 0;
            memcpy(&v, r->mmio.data, len);
            mem_write_phys(k->cpu->mem, pa, v, len);
        } else {
            for (unsigned i = 0; i < len && i < 8; i++) mem_write_phys(k->cpu->mem, pa + i, r->mmio.data[i], 1);
        }
    } else {
        k->st.mmio_rd++;
        if (len == 1 || len == 2 || len == 4 || len == 8) {
            uint64_t v = mem_read_phys(k->cpu->mem, pa, len);
            memcpy(r->mmio.data, &v, len);
        } else {
            for (unsigned i = 0; i < len && i < 8; i++) r->mmio.data[i] = (uint8_t)mem_read_phys(k->cpu->mem, pa + i, 1);
        }
    }
}

static int set_singlestep(struct kvm_engine *k, bool on)
{
    if (on == k->singlestep) return 0;
    struct kvm_guest_debug g;
    memset(&g, 0, sizeof g);
    if (on) g.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
    if (ioctl(k->vcpu_fd, KVM_SET_GUEST_DEBUG, &g) < 0) return -1;
    k->singlestep = on;
    return 0;
}

/* Guest-physical address of linear `lin` for the vCPU (KVM_TRANSLATE when
 * paging is on); false if not mapped. */
static bool lin_to_pa(struct kvm_engine *k, uint32_t lin, uint64_t *pa)
{
    if (!(k->cpu->cr[0] & CR0_PG_BIT)) { *pa = lin; return true; }
    struct kvm_translation t;
    memset(&t, 0, sizeof t);
    t.linear_address = lin;
    if (ioctl(k->vcpu_fd, KVM_TRANSLATE, &t) < 0 || !t.valid) return false;
    *pa = t.physical_address;
    return true;
}

/* Up to 4 instruction bytes at CS:EIP (struct cpu); the count read. */
static unsigned peek_insn(struct kvm_engine *k, uint8_t *b, unsigned n)
{
    const struct cpu *c = k->cpu;
    unsigned i = 0;
    for (; i < n; i++) {
        uint64_t pa;
        if (!lin_to_pa(k, c->seg[SEG_CS].base + c->eip + i, &pa)) break;
        b[i] = (uint8_t)mem_read_phys(c->mem, pa, 1);
    }
    return i;
}

static bool insn_is_hlt(struct kvm_engine *k)
{
    uint8_t b;
    return peek_insn(k, &b, 1) == 1 && b == 0xF4;
}

/* A triple fault in a mode the probe found this KVM cannot run is the host's
 * limit, not the guest's: say so once and stop (no reset loop). */
static int shutdown_verdict(struct kvm_engine *k)
{
    const struct cpu *c = k->cpu;
    int need = !(c->cr[0] & CR0_PE_BIT) ? KVM_RUNS_REAL : !(c->cr[0] & CR0_PG_BIT) ? KVM_RUNS_PMODE : KVM_RUNS_PAGING;
    /* the CR0 write that turns protected mode or paging on may be the one
     * that faulted, with CR0 still showing the old mode: MOV CR0,r32 (0F 22 /0) */
    uint8_t b[3];
    if (need < KVM_RUNS_PAGING && peek_insn(k, b, 3) == 3 && b[0] == 0x0F && b[1] == 0x22 && ((b[2] >> 3) & 7) == 0 &&
        (b[2] >> 6) == 3) {
        uint32_t v = c->r[b[2] & 7];
        need = (v & CR0_PG_BIT) ? KVM_RUNS_PAGING : (v & CR0_PE_BIT) ? KVM_RUNS_PMODE : need;
    }
    if (need <= k->probe_level) return EXIT_RESET;
    char why[200];
    kvm_engine_probe(why, sizeof why);
    fprintf(stderr, "bt86: kvm: triple fault at %04x:%08x (CR0=%08x) as the guest entered %s; %s\n",
            c->seg[SEG_CS].sel, c->eip, c->cr[0], level_name(need), why);
    return EXIT_UNIMPL;
}

/* A VM belongs to the process that created it (KVM answers EIO to any
 * other mm): in a forked child (test harnesses fork per file) make a fresh
 * VM and vCPU; struct cpu carries the state over. */
static int refork(struct kvm_engine *k, char *why, size_t n)
{
    if (k->run) munmap(k->run, k->run_size);
    if (k->vcpu_fd >= 0) close(k->vcpu_fd);
    if (k->vm_fd >= 0) close(k->vm_fd);
    k->run = NULL;
    k->vm_fd = k->vcpu_fd = -1;
    for (int i = 0; i < k->nslot; i++)
        if (k->slot[i].rom) munmap(k->slot[i].host, k->slot[i].len);
    k->nslot = 0;
    k->slots_ready = false;
    k->hma_slot = -1;
    k->snap_valid = false;
    k->singlestep = false;
    k->need_complete = false;
    k->was_shutdown = false;
    k->timer_tid = 0;                 /* POSIX timers are not inherited */
    k->owner = getpid();
    if (vm_create(k->kvm_fd, k->cpu, &k->vm_fd, &k->vcpu_fd, &k->run, &k->run_size, why, n) < 0) return -1;
    if (ioctl(k->vcpu_fd, KVM_GET_SREGS, &k->sregs_tmpl) < 0) {
        snprintf(why, n, "kvm: KVM_GET_SREGS: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int kvm_engine_run(struct kvm_engine *k, uint64_t n)
{
    struct cpu *c = k->cpu;
    char why[256];
    k->st.runs++;
    if (k->owner != getpid() && refork(k, why, sizeof why) < 0) {
        fprintf(stderr, "bt86: %s\n", why);
        return EXIT_UNIMPL;
    }
    if (!k->slots_ready && slots_build(k, why, sizeof why) < 0) {
        fprintf(stderr, "bt86: %s\n", why);
        return EXIT_UNIMPL;
    }
    if (a20_sync(k) < 0) { fprintf(stderr, "bt86: kvm: A20 remap failed: %s\n", strerror(errno)); return EXIT_UNIMPL; }
    /* a halted CPU wakes only for an interrupt (interp_run semantics) */
    bool can_intr = (c->eflags & FL_IF) && !c->intr_shadow;
    if (c->halted) {
        if (!(can_intr && c->intr_pending && c->intr_pending(c->intr_opaque))) return EXIT_HLT;
        c->halted = false;
    }
    if (k->was_shutdown) {
        /* after a shutdown the machine reset struct cpu: make the vCPU runnable
         * again as a RESET would (QEMU does the same on a system reset) */
        struct kvm_mp_state mp = { KVM_MP_STATE_RUNNABLE };
        (void)ioctl(k->vcpu_fd, KVM_SET_MP_STATE, &mp);
        k->was_shutdown = false;
        k->snap_valid = false;
    }
    if (state_load(k, why, sizeof why) < 0) {
        fprintf(stderr, "bt86: kvm: %s\n", why);
        return EXIT_UNIMPL;
    }
    if (set_singlestep(k, n == 1) < 0) {
        fprintf(stderr, "bt86: kvm: KVM_SET_GUEST_DEBUG: %s\n", strerror(errno));
        return EXIT_UNIMPL;
    }
    pid_t tid = my_tid();
    if (k->timer_tid != tid) {
        if (k->timer_tid) timer_delete(k->timer);
        k->timer_tid = 0;
        if (kick_timer_create(&k->timer) < 0) {
            fprintf(stderr, "bt86: kvm: timer_create: %s\n", strerror(errno));
            return EXIT_UNIMPL;
        }
        k->timer_tid = tid;
    }
    uint64_t slice = n * 10;
    if (slice < SLICE_MIN_NS) slice = SLICE_MIN_NS;
    if (slice > SLICE_MAX_NS) slice = SLICE_MAX_NS;
    struct kvm_run *r = k->run;
    r->immediate_exit = 0;
    tls_expired = 0;
    tls_run = r;
    kick_arm(k->timer, slice);
    bool first = true;        /* ready_for_interrupt_injection is stale until the first exit */
    int rc = EXC_NONE;
    uint64_t t0 = now_ns(), entries0 = k->st.entries;
    bool step_hlt = n == 1 && insn_is_hlt(k);
    for (;;) {
        /* a single step is interp_step: no interrupt is taken before it */
        if (n != 1 && c->intr_pending && c->intr_pending(c->intr_opaque)) {
            bool ready = first ? can_intr : (r->ready_for_interrupt_injection && r->if_flag);
            if (ready) {
                int vec = c->intr_ack(c->intr_opaque);
                struct kvm_interrupt irq = { .irq = (uint32_t)vec };
                if (k->sync && (r->kvm_dirty_regs & KVM_SYNC_X86_EVENTS)) {
                    /* events go in at the next KVM_RUN and would clear a queued
                     * KVM_INTERRUPT: put the interrupt in them instead */
                    r->s.regs.events.interrupt.injected = 1;
                    r->s.regs.events.interrupt.nr = (uint8_t)vec;
                    r->s.regs.events.interrupt.soft = 0;
                } else if (ioctl(k->vcpu_fd, KVM_INTERRUPT, &irq) < 0) {
                    fprintf(stderr, "bt86: kvm: KVM_INTERRUPT %d: %s\n", vec, strerror(errno));
                    rc = EXIT_UNIMPL;
                    break;
                }
                k->st.intr++;
                r->request_interrupt_window = 0;
            } else {
                r->request_interrupt_window = 1;
            }
        } else {
            r->request_interrupt_window = 0;
        }
        /* a single step ends at its debug exit, not at the slice (bounded by 1 s) */
        /* at least two entries per run, so a slice that expired before the
         * guest got in (a loaded host) still makes progress */
        if (tls_expired && k->st.entries - entries0 >= 2 && (!k->singlestep || now_ns() - t0 > 1000000000ull)) break;
        k->st.entries++;
        int e = vcpu_run(k);
        first = false;
        k->need_complete = false;
        if (e < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                k->st.kicks++;
                r->immediate_exit = 0;
                continue;
            }
            fprintf(stderr, "bt86: kvm: KVM_RUN: %s\n", strerror(errno));
            rc = EXIT_UNIMPL;
            break;
        }
        bool stop = false;
        switch (r->exit_reason) {
        case KVM_EXIT_IO:
            do_io(k);
            k->need_complete = true;
            stop = k->singlestep;       /* the completion before the save ends the instruction */
            if (r->io.direction == KVM_EXIT_IO_OUT && c->a20_enabled == k->hma_wraps && a20_sync(k) < 0) {
                fprintf(stderr, "bt86: kvm: A20 remap failed: %s\n", strerror(errno));
                rc = EXIT_UNIMPL;
                stop = true;
            }
            break;
        case KVM_EXIT_MMIO:
            do_mmio(k);
            k->need_complete = true;
            stop = k->singlestep;
            break;
        case KVM_EXIT_HLT:
            k->st.hlt++;
            /* HLT with IF=1 and INTR asserted does not halt: the interrupt is
             * taken and execution goes on after the HLT (interp_run does the
             * same; kvm_pvm gives no interrupt-window exit in emulated code) */
            if (!k->singlestep && r->if_flag && r->ready_for_interrupt_injection && c->intr_pending &&
                c->intr_pending(c->intr_opaque))
                break;
            c->halted = true;
            rc = EXIT_HLT;
            stop = true;
            break;
        case KVM_EXIT_IRQ_WINDOW_OPEN:
            k->st.irq_window++;
            break;
        case KVM_EXIT_DEBUG:
            k->st.debug++;
            if (k->singlestep) {
                stop = true;
                /* a stepped HLT may end in the debug exit, past the HLT */
                if (step_hlt) { c->halted = true; rc = EXIT_HLT; }
            }
            break;
        case KVM_EXIT_SHUTDOWN:
            k->st.shutdown++;
            k->was_shutdown = true;
            rc = EXIT_RESET;
            stop = true;
            break;
        case KVM_EXIT_INTERNAL_ERROR:
            k->st.other++;
            snprintf(why, sizeof why, "KVM internal error %u%s", r->internal.suberror,
                     r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (instruction emulation failed)" : "");
            rc = EXIT_UNIMPL;
            stop = true;
            break;
        case KVM_EXIT_FAIL_ENTRY:
            k->st.other++;
            snprintf(why, sizeof why, "VM entry failed (hardware reason %#llx)",
                     (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
            rc = EXIT_UNIMPL;
            stop = true;
            break;
        default:
            k->st.other++;
            snprintf(why, sizeof why, "unexpected KVM exit %u", r->exit_reason);
            rc = EXIT_UNIMPL;
            stop = true;
            break;
        }
        if (stop) break;
    }
    kick_disarm(k->timer);
    tls_run = NULL;
    r->immediate_exit = 0;
    k->st.ns_in_run += now_ns() - t0;
    char serr[160];
    int sr = state_save(k, serr, sizeof serr);
    if (sr < 0) {
        fprintf(stderr, "bt86: kvm: %s\n", serr);
        return EXIT_UNIMPL;
    }
    if (sr == 1) rc = EXIT_RESET;                 /* re-delivery of an interrupt shut down */
    if (rc == EXIT_RESET) rc = shutdown_verdict(k);
    else if (rc == EXIT_UNIMPL && k->st.other) {
        uint8_t b[8];
        unsigned nb = peek_insn(k, b, 8);
        char hex[40] = "";
        for (unsigned i = 0; i < nb; i++) snprintf(hex + 3 * i, sizeof hex - 3 * i, " %02x", b[i]);
        fprintf(stderr, "bt86: kvm: %s at %04x:%08x (bytes%s; CR0=%08x)%s\n", why, c->seg[SEG_CS].sel, c->eip,
                hex, c->cr[0], k->probe_level < KVM_RUNS_PAGING ?
                "; this host's KVM runs code with paging off in its instruction emulator" : "");
    }
    return rc;
}

void kvm_engine_print_stats(struct kvm_engine *k, FILE *f)
{
    char why[200];
    kvm_engine_probe(why, sizeof why);
    const struct kvm_stats *s = &k->st;
    fprintf(f, "bt86: kvm: %s\n", why);
    fprintf(f, "bt86: kvm: runs %llu, KVM_RUN calls %llu, %.3f s inside\n", (unsigned long long)s->runs,
            (unsigned long long)s->entries, (double)s->ns_in_run / 1e9);
    fprintf(f, "bt86: kvm: exits: io-in %llu, io-out %llu (string %llu), mmio-read %llu, mmio-write %llu\n",
            (unsigned long long)s->io_in, (unsigned long long)s->io_out, (unsigned long long)s->io_str,
            (unsigned long long)s->mmio_rd, (unsigned long long)s->mmio_wr);
    fprintf(f, "bt86: kvm: exits: hlt %llu, irq-window %llu, timer kicks %llu, debug %llu, shutdown %llu, other %llu\n",
            (unsigned long long)s->hlt, (unsigned long long)s->irq_window, (unsigned long long)s->kicks,
            (unsigned long long)s->debug, (unsigned long long)s->shutdown, (unsigned long long)s->other);
    fprintf(f, "bt86: kvm: interrupts injected %llu, re-delivered %llu, dropped for re-execution %llu\n",
            (unsigned long long)s->intr, (unsigned long long)s->redelivered, (unsigned long long)s->dropped);
    fprintf(f, "bt86: kvm: state loads: regs %llu, sregs %llu, fpu %llu, msrs %llu, debug %llu, events %llu; "
            "I/O completions %llu\n",
            (unsigned long long)s->loads_regs, (unsigned long long)s->loads_sregs, (unsigned long long)s->loads_fpu,
            (unsigned long long)s->loads_msrs, (unsigned long long)s->loads_dregs,
            (unsigned long long)s->loads_events, (unsigned long long)s->completions);
}
