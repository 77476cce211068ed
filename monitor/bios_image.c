/* monitor/bios_image.c - our BIOS (the bios/ sources, assembled by make) embedded
 * in the bt86 binary. BIOS_BIN is the path of the assembled image. */
#include "monitor/bios_image.h"

__asm__(".section .rodata\n"
        ".balign 16\n"
        ".global bt86_bios_image\n"
        "bt86_bios_image:\n"
        ".incbin \"" BIOS_BIN "\"\n"
        ".global bt86_bios_image_end\n"
        "bt86_bios_image_end:\n"
        ".previous\n");
