/* monitor/board_fw.c - firmware-facing board extensions: ACPI power
 * management, the firmware configuration interface our BIOS reads, and the
 * Linux loader. (Placeholder until issue 6 lands: nothing is added.) */
#include "monitor/machine.h"
#include <stdio.h>

int board_fw_init(struct machine *m, void **state, char *err, size_t errlen)
{
    (void)m; (void)err; (void)errlen;
    *state = NULL;
    return 0;
}
void board_fw_reset(struct machine *m, void *state) { (void)m; (void)state; }
void board_fw_free(struct machine *m, void *state) { (void)m; (void)state; }

int machine_boot_linux(struct machine *m, const char *kernel, const char *initrd, const char *cmdline,
                       char *err, size_t errlen)
{
    (void)m; (void)initrd; (void)cmdline;
    snprintf(err, errlen, "%s: Linux bzImage direct boot is not implemented yet", kernel);
    return -1;
}
