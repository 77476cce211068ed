/* devices/chardev.h - character back-ends for serial ports (QEMU's -serial).
 *
 * Owns: the host side of a byte stream. A front-end device (the UART) writes
 * guest output with chardev_write() and registers a receiver; the run loop
 * calls chardev_poll() now and then, which reads host input without blocking
 * and pushes it to the receiver, never more than the receiver says it can
 * take (bytes it cannot take stay queued in the chardev; only stdio drops
 * input beyond 4 KiB that the guest leaves unread, so that Ctrl-A x is still
 * read and honoured at once).
 *
 * Back-ends, chosen by a QEMU-like spec string (chardev_open):
 *   "stdio"      the terminal, in raw mode (restored at exit and on SIGINT,
 *                SIGTERM, SIGHUP, SIGQUIT). Ctrl-A is the escape key as in
 *                QEMU: Ctrl-A x quits, Ctrl-A h prints help, Ctrl-A b sends
 *                a break, Ctrl-A Ctrl-A sends one Ctrl-A to the guest. Only one stdio chardev may
 *                exist at a time (the terminal is process-wide state).
 *   "file:PATH"  output only, PATH created/truncated; no input.
 *   "pty"        a new pseudo-terminal; its slave path is printed on stderr
 *                and available from chardev_pty_path(). Output is dropped
 *                while nobody has the slave open and reading.
 *   "none"       output discarded, no input.
 * chardev_new_memory() makes a test back-end: output accumulates in a buffer,
 * input is injected with chardev_mem_inject().
 */
#ifndef BT86_CHARDEV_H
#define BT86_CHARDEV_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

struct chardev;

/* Receiver: can_read returns how many bytes it can accept now (0 = none);
 * receive gets at most that many. */
typedef size_t (*chardev_can_read_fn)(void *opaque);
typedef void (*chardev_receive_fn)(void *opaque, const uint8_t *buf, size_t len);
typedef void (*chardev_quit_fn)(void *opaque);
typedef void (*chardev_break_fn)(void *opaque);

/* Open a back-end from a spec string. On error returns NULL and writes a
 * message (naming the spec or file and the problem) into err. */
struct chardev *chardev_open(const char *spec, char *err, size_t errlen);
/* Memory back-end for tests; `escapes` enables the Ctrl-A key handling on
 * injected input (as the stdio back-end does). */
struct chardev *chardev_new_memory(bool escapes);
void chardev_free(struct chardev *cd);

void chardev_set_receiver(struct chardev *cd, chardev_can_read_fn can_read,
                          chardev_receive_fn receive, void *opaque);
/* Called once when the user asks to quit (Ctrl-A x). */
void chardev_set_quit_handler(struct chardev *cd, chardev_quit_fn fn, void *opaque);
bool chardev_quit_requested(const struct chardev *cd);
/* Called on Ctrl-A b (a serial break); the UART registers itself. */
void chardev_set_break_handler(struct chardev *cd, chardev_break_fn fn, void *opaque);

/* Write guest output. Returns bytes accepted (the back-end may drop bytes it
 * cannot deliver, e.g. a pty with no reader; those still count as accepted). */
size_t chardev_write(struct chardev *cd, const uint8_t *buf, size_t len);
/* Read available host input (never blocks) and deliver what the receiver can
 * take. Returns the number of bytes delivered to the receiver. */
size_t chardev_poll(struct chardev *cd);
/* The host fd to wait on for input (poll/select in the run loop), or -1. */
int chardev_input_fd(const struct chardev *cd);
/* Bytes read from the host but not yet taken by the receiver. */
size_t chardev_pending_input(const struct chardev *cd);

const char *chardev_kind(const struct chardev *cd);      /* "stdio", "pty" ... */
const char *chardev_pty_path(const struct chardev *cd);  /* NULL unless pty    */

/* Memory back-end only (no-ops / NULL elsewhere). */
void chardev_mem_inject(struct chardev *cd, const uint8_t *buf, size_t len);
const uint8_t *chardev_mem_output(const struct chardev *cd, size_t *len);
void chardev_mem_clear_output(struct chardev *cd);

#endif
