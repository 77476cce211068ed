/* monitor/elf32.h - reading a section out of an i386 ELF32 file. */
#ifndef BT86_ELF32_H
#define BT86_ELF32_H
#include <stddef.h>
#include <stdint.h>
/* Read `path` and return a malloc'd copy of its section `name` (followed by
 * 16 zero bytes, so decoders may read ahead), its size in *len and, when
 * addr is not NULL, its load address in *addr. NULL with a message in err
 * naming the file and the problem. Every offset is bounds-checked. */
uint8_t *elf32_section(const char *path, const char *name, size_t *len, uint32_t *addr, char *err, size_t errlen);
#endif
