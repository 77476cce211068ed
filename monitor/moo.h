/* monitor/moo.h - reader for MOO CPU test files (SingleStepTests 80286/80386).
 *
 * Owns: decoding one MOO file (gzip-compressed or plain) into a byte buffer
 * and iterating its TEST chunks without copying: every pointer in a struct
 * moo_test points into the file's buffer and stays valid until moo_close().
 * Also reads the suite's metadata.json (per-opcode undefined-flag masks).
 *
 * Format (dbalsom/moo doc/moo_format_v1.md, v1.1): little-endian chunks of
 * {4-byte ASCII id, uint32 payload length, payload}. A file is a 'MOO '
 * header chunk, then top-level META / RMSK / RM32 chunks, then TEST chunks.
 * A TEST payload is a uint32 index followed by subchunks (NAME, BYTS, INIT,
 * FINA, CYCL, EXCP, HASH, IDX, and undocumented ones such as GMET). INIT and
 * FINA hold REGS / RMSK / RG32 / RM32 / RAM / QUEU / EA32 subchunks.
 * Invariants: chunks are always skipped by their length (unknown ones too);
 * every length is bounds-checked against its parent before it is used, so a
 * truncated or corrupt file yields an error message, never a read past the
 * buffer.
 */
#ifndef BT86_MOO_H
#define BT86_MOO_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

/* REGS/RMSK register order (bit i of the mask = register i). */
enum moo_reg {
    MOO_AX, MOO_BX, MOO_CX, MOO_DX, MOO_CS, MOO_SS, MOO_DS, MOO_ES,
    MOO_SP, MOO_BP, MOO_SI, MOO_DI, MOO_IP, MOO_FLAGS, MOO_NREGS
};
/* RG32/RM32 register order (386 tests). */
enum moo_reg32 {
    MOO32_CR0, MOO32_CR3, MOO32_EAX, MOO32_EBX, MOO32_ECX, MOO32_EDX,
    MOO32_ESI, MOO32_EDI, MOO32_EBP, MOO32_ESP, MOO32_CS, MOO32_DS,
    MOO32_ES, MOO32_FS, MOO32_GS, MOO32_SS, MOO32_EIP, MOO32_EFLAGS,
    MOO32_DR6, MOO32_DR7, MOO32_NREGS
};

extern const char *const moo_reg_names[MOO_NREGS];      /* "ax" .. "flags" */

struct moo_regs {
    uint16_t mask;              /* bit i set: v[i] present (0: chunk absent)  */
    uint16_t v[MOO_NREGS];      /* values; absent ones are 0                  */
};
struct moo_regs32 {
    uint32_t mask;              /* bit i set: v[i] present (0: chunk absent)  */
    uint32_t v[MOO32_NREGS];    /* values; absent ones are 0                  */
};

/* One CPU state snapshot (INIT or FINA). */
struct moo_state {
    struct moo_regs regs;       /* REGS (16-bit register file)                */
    struct moo_regs rmask;      /* RMSK: undefined-bit masks for this test    */
    struct moo_regs32 regs32;   /* RG32 (386 tests)                           */
    struct moo_regs32 rmask32;  /* RM32                                       */
    const uint8_t *ram;         /* RAM entries, 5 bytes each: u32 addr, u8 val */
    uint32_t ram_count;         /* number of RAM entries                      */
    const uint8_t *queue;       /* QUEU bytes (prefetch queue), may be NULL   */
    uint32_t queue_len;
    const uint8_t *ea32;        /* raw EA32 payload (386 only), may be NULL   */
    uint32_t ea32_len;
};

struct moo_test {
    uint32_t index;             /* TEST chunk's index field                   */
    const char *name;           /* NAME: disassembly, NOT NUL-terminated      */
    uint32_t name_len;
    const uint8_t *bytes;       /* BYTS: instruction bytes (the 286 suite also
                                   includes the terminating HALT 0xF4)        */
    uint32_t nbytes;
    struct moo_state init;      /* initial state: all registers present       */
    struct moo_state fina;      /* final state: only what changed             */
    const uint8_t *cycles;      /* CYCL: 15-byte cycle records, may be NULL   */
    uint32_t ncycles;
    bool has_exc;               /* EXCP chunk present                         */
    uint8_t exc_num;            /* exception/interrupt number                 */
    uint32_t exc_flag_addr;     /* address of the pushed FLAGS (as recorded)  */
    bool has_hash;              /* HASH chunk present                         */
    uint8_t hash[20];           /* SHA-1 identifying the test                 */
};

/* File-level metadata from the META chunk. */
struct moo_meta {
    bool present;
    uint8_t major, minor;       /* test-collection version                    */
    uint8_t cpu_type;           /* enumeration (see the MOO spec)             */
    uint32_t opcode;            /* 0xFFFFFFFF when several                    */
    char mnemonic[9];           /* NUL-terminated, trailing spaces kept       */
    uint32_t test_count;
    uint64_t seed;
    uint8_t cpu_mode;           /* 0 = real mode                              */
};

struct moo_file {
    char label[256];            /* file name for messages                     */
    uint8_t *data;              /* decompressed file (owned)                  */
    size_t len;
    uint8_t major, minor;       /* MOO format version from the header         */
    uint32_t test_count;        /* from the 'MOO ' header                     */
    char cpu_id[5];             /* e.g. "C286", NUL-terminated                */
    struct moo_meta meta;
    struct moo_regs rmask;      /* top-level RMSK (mask 0 if absent)          */
    struct moo_regs32 rmask32;  /* top-level RM32                             */
    size_t pos;                 /* offset of the next top-level chunk         */
    uint32_t tests_read;        /* TEST chunks returned so far                */
    char err[768];              /* last error, names the file                 */
};

/* Open a file: gzip (detected by its magic) or a plain MOO file. Reads the
 * header and the top-level chunks before the first TEST. 0, or -1 with
 * f->err set ("FILE: not a gzip or MOO file", "FILE: truncated gzip data",
 * ...). On error f needs no moo_close (calling it is harmless). */
int moo_open_file(struct moo_file *f, const char *path)
    __attribute__((warn_unused_result));
/* Same on a MOO stream in memory (not compressed); the bytes are copied.
 * `label` names the source in messages. */
int moo_open_buffer(struct moo_file *f, const void *data, size_t len,
                    const char *label)
    __attribute__((warn_unused_result));
/* Next test: 1 and *t filled, 0 at the end (after checking the header's test
 * count), or -1 with f->err set. Unknown chunks are skipped. */
int moo_next(struct moo_file *f, struct moo_test *t)
    __attribute__((warn_unused_result));
void moo_close(struct moo_file *f);

/* RAM entry i of a state (i < ram_count). */
static inline void moo_ram_entry(const struct moo_state *s, uint32_t i,
                                 uint32_t *addr, uint8_t *val)
{
    const uint8_t *p = s->ram + 5u * i;
    *addr = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    *val = p[4];
}

/* ---- metadata.json: per-opcode status and undefined-flag masks ---- */
struct moo_opinfo {
    char key[16];               /* "00", "80.7", "0F01.3" (file-name style)   */
    char status[16];            /* "normal", "undocumented", "alias", ...     */
    uint16_t flags_mask;        /* 1 = defined flag bit (0xFFFF: all defined) */
};
struct moo_metadata {
    struct moo_opinfo *op;      /* sorted by key                              */
    size_t nop;
    char version[16];           /* suite version, e.g. "1.0.0"                */
};
/* Load metadata.json. 0, or -1 with a message naming the file in err. */
int moo_metadata_load(struct moo_metadata *md, const char *path,
                      char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Parse a JSON text already in memory (label names it in messages). */
int moo_metadata_parse(struct moo_metadata *md, const char *text, size_t len,
                       const char *label, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Entry for a file stem such as "80.7" (falls back to "80"); NULL if none. */
const struct moo_opinfo *moo_metadata_find(const struct moo_metadata *md,
                                           const char *key);
void moo_metadata_free(struct moo_metadata *md);

#endif
