/* monitor/commands.h - the bt86 subcommands (one file each) and shared CLI bits.
 *
 * `bt86 [options]` runs a machine (monitor/main.c); `bt86 disasm ...` and
 * `bt86 test KIND ...` are tools. Each returns the process exit status.
 */
#ifndef BT86_COMMANDS_H
#define BT86_COMMANDS_H
int cmd_disasm(int argc, char **argv);            /* monitor/cmd_disasm.c     */
int cmd_test_singlestep(int argc, char **argv);   /* tests harness: monitor/cmd_singlestep.c */
int cmd_test_rom(int argc, char **argv);          /* monitor/cmd_testrom.c    */
int cmd_test_kernel(int argc, char **argv);       /* monitor/cmd_testrom.c    */
int cmd_test_diff(int argc, char **argv);         /* monitor/cmd_diff.c       */
/* Print "bt86: MSG" to stderr; used for usage errors (returns 2). */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
