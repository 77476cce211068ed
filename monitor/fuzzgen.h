/* monitor/fuzzgen.h - random user-level IA-32 instruction sequences for
 * differential runs (`bt86 test diff`, monitor/cmd_diff.c).
 *
 * Owns: generating a test case from a 64-bit seed: initial GPRs/EFLAGS,
 * the initial contents of the data area, and a short sequence of "groups".
 * A group is optional setup instructions (MOV reg,imm32 that point memory
 * operands, string registers, counts and indirect branch targets into safe
 * places) followed by one main instruction taken from the opcode table
 * (cpu/opcodes.def). Invariants the generator keeps:
 *  - every memory access lands inside the data area [data_base,
 *    data_base + data_size) (which must be below 64 KiB for 16-bit
 *    addressing, cfg.mem16); ESP stays in its middle third;
 *  - branches only go forward, to the start of a later group or to the end
 *    of the code (so a group is either run whole or skipped whole);
 *  - no main instruction reads a flag that an earlier main instruction left
 *    undefined (the fu column): fuzzgen_undef_mask() is then a sound mask;
 *  - the only exceptions are ones the host engine and the interpreter both
 *    model at CPL 3 in a flat segment: #DE, #BR, #UD, #GP (privileged
 *    instructions, a write through a CS override), #AC (EFLAGS.AC set).
 *  - cfg.system (CPL 0, engine pairs only): privileged instructions that
 *    keep paging off, PE on, DR7 and the IDT untouched (gen_system), and
 *    only the #UD fault probes.
 * Deterministic: the same seed and config always give the same case.
 */
#ifndef BT86_FUZZGEN_H
#define BT86_FUZZGEN_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define FUZZ_MAX_GROUPS 16
#define FUZZ_GROUP_MAX  48          /* bytes of one group (setup + main)   */

enum fuzz_reloc {
    FUZZ_REL_NONE = 0,
    FUZZ_REL8,                      /* rel8 to the target group's start     */
    FUZZ_REL32,                     /* rel32 to the target group's start    */
    FUZZ_ABS32,                     /* absolute linear address of the target */
    FUZZ_SELF32,                    /* absolute address of this group + reloc_add
                                       (self-modifying code; not a branch)   */
};

struct fuzz_group {
    uint8_t  bytes[FUZZ_GROUP_MAX]; /* setup instructions, then the main one */
    uint8_t  len;                   /* bytes used                            */
    uint8_t  main_off;              /* offset of the main instruction        */
    uint8_t  reloc;                 /* enum fuzz_reloc                       */
    uint8_t  reloc_off;             /* offset of the patched field           */
    uint8_t  reloc_end;             /* REL*: offset the displacement is from */
    uint8_t  target;                /* target group (> own index; n = end)   */
    uint8_t  reloc_add;             /* FUZZ_SELF32: byte offset in the group */
    uint16_t op;                    /* opcode-table row of the main insn     */
    uint32_t fu;                    /* flags it leaves undefined             */
    uint32_t fdef;                  /* flags it surely sets to defined values */
};

struct fuzz_case {
    uint64_t seed;                  /* what generated it                     */
    uint32_t r[8];                  /* initial EAX..EDI                      */
    uint32_t eflags;                /* initial EFLAGS (user-writable bits)   */
    int ngroups;
    struct fuzz_group g[FUZZ_MAX_GROUPS];
    unsigned len_mismatch;          /* main insns whose decoded length differed
                                       from the bytes built (decoder or
                                       generator bug: reported, not hidden)  */
    uint8_t mismatch_bytes[16];     /* the first such instruction            */
    uint8_t mismatch_len;
    bool code16;                    /* for a 16-bit code segment whose base is
                                       the code's address (EIP starts at 0):
                                       absolute branch targets are EIPs     */
};

struct fuzz_cfg {
    uint32_t data_base, data_size;  /* the data area (page aligned, >= 4 pages) */
    unsigned max_groups;            /* 1..FUZZ_MAX_GROUPS                    */
    bool mem16;                     /* 16-bit addressing may touch memory    */
    bool allow_ac;                  /* sometimes start with EFLAGS.AC set    */
    bool ac_only;                   /* always start with EFLAGS.AC set       */
    bool allow_faults;              /* generate #UD/#GP cases                */
    bool code16;                    /* 16-bit code segment: every instruction
                                       with its 0x66/0x67 toggled (same
                                       meaning); engine pairs, never host  */
    bool system;                    /* CPL 0: also privileged instructions
                                       (gen_system in fuzzgen.c); for engine
                                       pairs, never the host                */
};

/* Defaults for a data area. */
void fuzzgen_default_cfg(struct fuzz_cfg *cfg, uint32_t data_base, uint32_t data_size);

/* Generate the case for `seed`; `data` (cfg->data_size bytes) receives the
 * initial data area. */
void fuzzgen_case(const struct fuzz_cfg *cfg, uint64_t seed, struct fuzz_case *fc, uint8_t *data);

/* Fill the data area for `seed` exactly as fuzzgen_case does. */
void fuzzgen_data(const struct fuzz_cfg *cfg, uint64_t seed, uint8_t *data);

/* Lay the groups out at linear address code_base into code[0..cap).
 * Returns the length, or 0 if it does not fit. group_off (may be NULL;
 * ngroups + 1 entries) receives each group's start offset and the end. */
size_t fuzzgen_assemble(const struct fuzz_case *fc, uint32_t code_base, uint8_t *code, size_t cap,
                        uint32_t *group_off);

/* Union of the undefined flags of every main instruction. */
uint32_t fuzzgen_undef_mask(const struct fuzz_case *fc);

/* Flags that may be undefined on entry to group k (k = ngroups: at the end):
 * a forward data flow over fall-through and branch edges, where a group's
 * main instruction adds its fu flags and clears the flags it surely defines
 * (fdef: not for shifts/rotates, whose count may be 0, nor for REP string
 * instructions, whose count may be 0). */
uint32_t fuzzgen_undef_at(const struct fuzz_case *fc, int k);

/* Remove group k (branch targets past it move down with it). */
void fuzzgen_drop_group(struct fuzz_case *fc, int k);

/* Case seed i of a campaign started with `seed` (i == 0 gives seed itself,
 * so a printed case seed re-runs with --seed S --count 1). */
uint64_t fuzzgen_case_seed(uint64_t seed, uint64_t i);

/* The number of opcode-table rows the generator draws main instructions from. */
unsigned fuzzgen_row_count(void);

#endif
