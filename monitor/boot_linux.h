/* monitor/boot_linux.h - Linux x86 boot protocol 2.x image checks and
 * placement (Documentation/arch/x86/boot.rst), independent of the machine
 * so tests can drive it on a byte buffer.
 */
#ifndef BT86_BOOT_LINUX_H
#define BT86_BOOT_LINUX_H
#include <stdint.h>
#include <stddef.h>

#define LINUX_SETUP_SEG    0x9000u     /* real-mode part at 0x90000             */
#define LINUX_STACK_TOP    0xE000u     /* SP, offset in the setup segment       */
#define LINUX_HEAP_END     0xDE00u     /* heap_end_ptr (SP - 0x200)             */
#define LINUX_CMDLINE_OFF  0xE000u     /* command line at 0x9E000               */
#define LINUX_CMDLINE_MAX  2048u       /* bytes up to the EBDA (0x9E800 < 0x9F000) */
#define LINUX_KERNEL_ADDR  0x100000u   /* protected-mode kernel                 */

/* What linux_prepare decided. */
struct linux_layout {
    size_t setup_len;          /* bytes of real-mode code + header (to 0x90000) */
    size_t kernel_off;         /* file offset of the protected-mode kernel      */
    size_t kernel_len;         /* its length (to 0x100000)                      */
    uint32_t initrd_addr;      /* where the initrd goes (0: none)               */
    uint16_t protocol;         /* boot protocol version                         */
};

/* Check the bzImage in img[0..len) (writable copy: its setup header is
 * filled in), place an initrd of initrd_len bytes (0: none) below
 * min(initrd_addr_max, ram_bytes), store the command line pointer and
 * length limit. `name` is the kernel file name for messages.
 * 0, or -1 with a clear message in err. */
int linux_prepare(uint8_t *img, size_t len, const char *name, uint64_t ram_bytes,
                  size_t initrd_len, size_t cmdline_len, struct linux_layout *out,
                  char *err, size_t errlen);
#endif
