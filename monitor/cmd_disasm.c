/* monitor/cmd_disasm.c - `bt86 disasm [--16|--32] [--base ADDR] FILE [OFFSET [LENGTH]]`.
 *
 * Prints one instruction per line: address, length, hex bytes, Intel text.
 * Undecodable bytes print as "(bad)" with their reason and advance by one.
 */
#include "monitor/commands.h"
#include "cpu/decode.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

static int parse_num(const char *s, unsigned long long *v)
{
    char *end;
    errno = 0;
    *v = strtoull(s, &end, 0);
    return (errno || *end || end == s) ? -1 : 0;
}

int cmd_disasm(int argc, char **argv)
{
    unsigned mode = DECODE_32;
    unsigned long long base = 0, off = 0, len = ~0ull;
    const char *file = NULL;
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--16")) mode = DECODE_16;
        else if (!strcmp(argv[i], "--32")) mode = DECODE_32;
        else if (!strcmp(argv[i], "--base")) {
            if (++i >= argc || parse_num(argv[i], &base)) return cli_error("disasm: --base needs a number");
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: bt86 disasm [--16|--32] [--base ADDR] FILE [OFFSET [LENGTH]]\n");
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) return cli_error("disasm: unknown option '%s'", argv[i]);
        else if (npos == 0) { file = argv[i]; npos++; }
        else if (npos == 1) { if (parse_num(argv[i], &off)) return cli_error("disasm: bad OFFSET '%s'", argv[i]); npos++; }
        else if (npos == 2) { if (parse_num(argv[i], &len)) return cli_error("disasm: bad LENGTH '%s'", argv[i]); npos++; }
        else return cli_error("disasm: too many arguments");
    }
    if (!file) return cli_error("disasm: which FILE? (see bt86 disasm --help)");
    FILE *f = fopen(file, "rb");
    if (!f) return cli_error("disasm: %s: %s", file, strerror(errno));
    if (fseek(f, 0, SEEK_END) < 0) { fclose(f); return cli_error("disasm: %s: cannot seek", file); }
    long size = ftell(f);
    if (size < 0 || (unsigned long long)size < off) {
        fclose(f);
        return cli_error("disasm: %s: OFFSET 0x%llx is past the end (%ld bytes)", file, off, size);
    }
    unsigned long long avail = (unsigned long long)size - off;
    if (len > avail) len = avail;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) { fclose(f); return cli_error("disasm: out of memory"); }
    if (fseek(f, (long)off, SEEK_SET) < 0 || fread(buf, 1, len, f) != len) {
        free(buf); fclose(f);
        return cli_error("disasm: %s: read error", file);
    }
    fclose(f);
    char text[160];
    for (unsigned long long p = 0; p < len;) {
        struct insn in;
        int rc = decode(&in, buf + p, len - p, mode);
        unsigned l = rc == DECODE_OK ? in.len : 1;
        uint32_t addr = (uint32_t)(base + p);
        if (rc == DECODE_OK) disasm_format(&in, addr, text, sizeof text);
        else snprintf(text, sizeof text, "(bad: %s)", rc == DECODE_UD ? "#UD" : rc == DECODE_GP ? "too long, #GP" : "truncated");
        printf("%08x  %2u  ", addr, l);
        char hex[48] = "";
        for (unsigned i = 0; i < l && i < 15; i++) snprintf(hex + 3 * i, 4, "%02x ", buf[p + i]);
        printf("%-31s %s\n", hex, text);
        p += l;
    }
    free(buf);
    return 0;
}
