/* mem/mem.h - guest physical memory: RAM (one memfd), ROM, MMIO dispatch.
 *
 * Owns: the guest-physical address space. RAM is one memfd mapped once
 * (devices, DMA and the interpreter use that mapping; the translator later
 * maps the same memfd into shadow windows). ROM regions are read-only copies;
 * anything else goes to the bus's MMIO map, or reads as all ones.
 * The A20 mask is applied by callers that model the gate (mem_a20_mask).
 * Shadow RAM (the i440FX PAM registers): each 16 KiB segment of
 * C0000-FFFFF routes reads to RAM or to what lies in the hole there (ROM,
 * MMIO, open bus), and writes to RAM or there, independently
 * (mem_set_pam). The RAM behind it is the memfd's own bytes at the same
 * addresses.
 */
#ifndef BT86_MEM_H
#define BT86_MEM_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

struct bus;
struct mem;

/* Create guest RAM of `ram_bytes` (multiple of 4 KiB). NULL + errno on error. */
struct mem *mem_new(uint64_t ram_bytes);
void mem_free(struct mem *m);
void mem_set_bus(struct mem *m, struct bus *bus);
uint8_t *mem_ram(struct mem *m);
uint64_t mem_ram_size(struct mem *m);
int mem_ram_fd(struct mem *m);

/* Map a read-only copy of `data` at physical [base, base+len). 0 or -1. */
int mem_map_rom(struct mem *m, uint64_t base, const void *data, uint64_t len)
    __attribute__((warn_unused_result));
/* Make [base, base+len) of RAM invisible (a hole: MMIO/ROM go there). */
void mem_add_hole(struct mem *m, uint64_t base, uint64_t len);

/* Shadow RAM routing for [base, base+len) inside C0000-FFFFF (16 KiB
 * aligned; RAM must reach 1 MiB): MEM_PAM_READ sends reads to RAM,
 * MEM_PAM_WRITE sends writes to RAM; a clear bit leaves that direction
 * to the hole (ROM reads, writes dropped, MMIO, open bus). Only addresses
 * inside a hole are affected (outside one, RAM is RAM). At creation every
 * segment is 0 (the i440FX reset state: no shadowing). Callers caching host
 * pointers (the CPU's TLB) must flush them after a change. 0, or -1 on a
 * bad range. */
#define MEM_PAM_READ  1u     /* PAM RE: reads come from RAM  */
#define MEM_PAM_WRITE 2u     /* PAM WE: writes go to RAM     */
#define MEM_PAM_BASE  0xC0000u
#define MEM_PAM_END   0x100000u
int mem_set_pam(struct mem *m, uint64_t base, uint64_t len, unsigned mode);
unsigned mem_pam_mode(const struct mem *m, uint64_t pa);

/* Host pointer to the page holding `pa` if it is ordinary RAM (or ROM for
 * reads), else NULL. Valid up to the end of that 4 KiB page. */
uint8_t *mem_host_page(struct mem *m, uint64_t pa, bool write);

/* Pages holding translated code: `bits` has one bit per 4 KiB page of RAM
 * (owned by the translator, may change any time). For such pages
 * mem_host_page(.., write=true) returns NULL, and every write through
 * mem_write_phys/mem_write_bytes calls written(opaque, pa, len) after the
 * store, so callers that cache host pointers for writes (the interpreter's
 * TLB) never bypass the watch. */
void mem_set_code_watch(struct mem *m, const uint8_t *bits,
                        void (*written)(void *opaque, uint64_t pa, uint64_t len), void *opaque);

/* Physical accesses of 1, 2, 4 or 8 bytes (may straddle pages/regions). */
uint64_t mem_read_phys(struct mem *m, uint64_t pa, unsigned size);
void mem_write_phys(struct mem *m, uint64_t pa, uint64_t val, unsigned size);
/* Bulk copies for DMA and loaders; return 0, or -1 if a byte was not RAM. */
int mem_read_bytes(struct mem *m, uint64_t pa, void *buf, size_t len);
int mem_write_bytes(struct mem *m, uint64_t pa, const void *buf, size_t len);

#endif
