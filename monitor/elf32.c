/* monitor/elf32.c - one ELF32 section reader for the tools and tests that
 * decode real i386 programs (bench/decode.c, tests/unit/test_capstone.c).
 * The multiboot loader (monitor/boot_multiboot.c) reads program headers,
 * not sections, and keeps its own loader. */
#include "monitor/elf32.h"
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t *elf32_section(const char *path, const char *name, size_t *len, uint32_t *addr, char *err, size_t en)
{
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, en, "%s: cannot open", path); return NULL; }
    long sz = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    uint8_t *buf = sz > 0 ? malloc((size_t)sz) : NULL;
    if (!buf || fseek(f, 0, SEEK_SET) != 0 || fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f); free(buf); snprintf(err, en, "%s: cannot read", path); return NULL;
    }
    fclose(f);
    Elf32_Ehdr eh;
    if ((size_t)sz < sizeof eh) goto bad;
    memcpy(&eh, buf, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS32 || eh.e_machine != EM_386 ||
        eh.e_shoff == 0 || eh.e_shentsize != sizeof(Elf32_Shdr) || eh.e_shstrndx >= eh.e_shnum ||
        (uint64_t)eh.e_shoff + (uint64_t)eh.e_shnum * sizeof(Elf32_Shdr) > (uint64_t)sz)
        goto bad;
    Elf32_Shdr str;
    memcpy(&str, buf + eh.e_shoff + eh.e_shstrndx * sizeof(Elf32_Shdr), sizeof str);
    size_t nlen = strlen(name) + 1;
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        Elf32_Shdr sh;
        memcpy(&sh, buf + eh.e_shoff + i * sizeof(Elf32_Shdr), sizeof sh);
        uint64_t no = (uint64_t)str.sh_offset + sh.sh_name;
        if (no + nlen > (uint64_t)sz || memcmp(buf + no, name, nlen)) continue;
        if ((uint64_t)sh.sh_offset + sh.sh_size > (uint64_t)sz) goto bad;
        uint8_t *out = malloc((size_t)sh.sh_size + 16);
        if (!out) break;
        memcpy(out, buf + sh.sh_offset, sh.sh_size);
        memset(out + sh.sh_size, 0, 16);
        *len = sh.sh_size;
        if (addr) *addr = sh.sh_addr;
        free(buf);
        return out;
    }
bad:
    free(buf);
    snprintf(err, en, "%s: not an i386 ELF file with a %s section", path, name);
    return NULL;
}
