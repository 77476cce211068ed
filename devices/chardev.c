/* devices/chardev.c - character back-ends: stdio, file, pty, none, memory.
 *
 * Owns: host file descriptors for serial consoles, the terminal's raw mode
 * (saved once and restored at exit or on a terminating signal), and the
 * QEMU-style Ctrl-A escape keys on stdio input.
 * Invariants: chardev_poll never blocks (poll() with a zero timeout before
 * every read; stdin is never made O_NONBLOCK because it usually shares its
 * open file description with stdout); input bytes leave the queue only when
 * the receiver has room, so back-pressure never loses data (pty/memory);
 * stdio keeps reading to see Ctrl-A keys, which act when they are read, and
 * drops ordinary input beyond IN_QUEUE_LIMIT unread bytes. The saved
 * terminal state is the one piece of process-wide state here, because the
 * terminal itself is process-wide; at most one stdio chardev exists.
 */
#include "devices/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define CTRL_A 0x01
#define IN_READ_CHUNK 256        /* bytes read from a host fd per poll      */
#define IN_QUEUE_LIMIT 4096      /* unread input kept from a host fd        */

enum chardev_kind { CD_NONE, CD_STDIO, CD_FILE, CD_PTY, CD_MEMORY };

struct bytebuf {
    uint8_t *data;               /* heap storage                            */
    size_t head;                 /* index of the first unread byte          */
    size_t len;                  /* bytes in use after head                 */
    size_t cap;                  /* allocated size                          */
};

struct chardev {
    enum chardev_kind kind;      /* which back-end                          */
    int in_fd;                   /* host input fd, -1 if none / at EOF      */
    int out_fd;                  /* host output fd, -1 if none              */
    int extra_fd;                /* pty: our copy of the slave fd, else -1  */
    bool escapes;                /* Ctrl-A keys are interpreted on input    */
    bool esc_pending;            /* last host byte was a lone Ctrl-A        */
    bool quit;                   /* Ctrl-A x was typed                      */
    char *pty_path;              /* pty: slave device path                  */
    struct bytebuf in;           /* input read from the host, not delivered */
    struct bytebuf out;          /* memory back-end: all output so far      */
    chardev_can_read_fn can_read;/* receiver: room check                    */
    chardev_receive_fn receive;  /* receiver: delivery                      */
    void *rx_opaque;             /* receiver's state                        */
    chardev_quit_fn quit_fn;     /* called once on Ctrl-A x                 */
    void *quit_opaque;           /* its argument                            */
    chardev_break_fn break_fn;   /* called on Ctrl-A b                      */
    void *break_opaque;          /* its argument                            */
};

/* ---- byte buffers ---- */

static void buf_append(struct bytebuf *b, const uint8_t *p, size_t n)
{
    if (!n) return;
    if (b->head && b->head + b->len + n > b->cap) {      /* compact first */
        memmove(b->data, b->data + b->head, b->len);
        b->head = 0;
    }
    if (b->head + b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) return;                                  /* drop on OOM */
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->head + b->len, p, n);
    b->len += n;
}

static void buf_consume(struct bytebuf *b, size_t n)
{
    b->head += n;
    b->len -= n;
    if (!b->len) b->head = 0;
}

/* ---- terminal raw mode (process-wide, see the header comment) ---- */

static struct termios term_saved;        /* terminal state before raw mode */
static volatile sig_atomic_t term_is_raw;/* 1 while raw mode is in effect  */
static bool term_hooks_installed;        /* atexit/signal handlers set     */
static bool stdio_in_use;                /* a stdio chardev exists         */
static struct sigaction term_old_act[4]; /* previous handlers, re-raised   */
static const int term_signals[4] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void term_restore(void)
{
    if (term_is_raw) {
        tcsetattr(STDIN_FILENO, TCSANOW, &term_saved);
        term_is_raw = 0;
    }
}

static void term_signal(int sig)
{
    term_restore();
    for (int i = 0; i < 4; i++)
        if (term_signals[i] == sig) sigaction(sig, &term_old_act[i], NULL);
    raise(sig);      /* delivered (to the old disposition) once we return */
}

static int term_make_raw(void)
{
    if (!isatty(STDIN_FILENO)) return 0;         /* a pipe: nothing to do */
    if (tcgetattr(STDIN_FILENO, &term_saved) < 0) return -1;
    struct termios t = term_saved;
    /* Like QEMU's stdio: no echo, no line editing, no signals from keys
     * (Ctrl-C goes to the guest; Ctrl-A x quits); keep output processing
     * so host messages still get \r\n. */
    t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    t.c_lflag &= ~(ECHO | ECHONL | ICANON | IEXTEN | ISIG);
    t.c_cflag &= ~(CSIZE | PARENB);
    t.c_cflag |= CS8;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (!term_hooks_installed) {
        atexit(term_restore);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = term_signal;
        sigemptyset(&sa.sa_mask);
        for (int i = 0; i < 4; i++) sigaction(term_signals[i], &sa, &term_old_act[i]);
        term_hooks_installed = true;
    }
    if (tcsetattr(STDIN_FILENO, TCSANOW, &t) < 0) return -1;
    term_is_raw = 1;
    return 0;
}

/* ---- construction ---- */

static struct chardev *chardev_alloc(enum chardev_kind kind)
{
    struct chardev *cd = calloc(1, sizeof *cd);
    if (!cd) return NULL;
    cd->kind = kind;
    cd->in_fd = cd->out_fd = cd->extra_fd = -1;
    return cd;
}

struct chardev *chardev_new_memory(bool escapes)
{
    struct chardev *cd = chardev_alloc(CD_MEMORY);
    if (cd) cd->escapes = escapes;
    return cd;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

struct chardev *chardev_open(const char *spec, char *err, size_t errlen)
{
    if (!spec) spec = "";
    struct chardev *cd = NULL;
    if (!strcmp(spec, "none") || !strcmp(spec, "null")) {
        cd = chardev_alloc(CD_NONE);
    } else if (!strcmp(spec, "stdio")) {
        if (stdio_in_use) {
            set_err(err, errlen, "serial back-end '%s': stdio is already used by another port", spec);
            return NULL;
        }
        cd = chardev_alloc(CD_STDIO);
        if (!cd) goto oom;
        if (term_make_raw() < 0) {
            set_err(err, errlen, "serial back-end '%s': cannot set the terminal to raw mode: %s",
                    spec, strerror(errno));
            free(cd);
            return NULL;
        }
        cd->in_fd = STDIN_FILENO;
        cd->out_fd = STDOUT_FILENO;
        cd->escapes = true;
        stdio_in_use = true;
    } else if (!strncmp(spec, "file:", 5)) {
        const char *path = spec + 5;
        if (!*path) {
            set_err(err, errlen, "serial back-end '%s': missing file name after 'file:'", spec);
            return NULL;
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            set_err(err, errlen, "serial back-end file '%s': %s", path, strerror(errno));
            return NULL;
        }
        cd = chardev_alloc(CD_FILE);
        if (!cd) { close(fd); goto oom; }
        cd->out_fd = fd;
    } else if (!strcmp(spec, "pty")) {
        int master, slave;
        char name[256];
        if (openpty(&master, &slave, name, NULL, NULL) < 0) {
            set_err(err, errlen, "serial back-end '%s': openpty failed: %s", spec, strerror(errno));
            return NULL;
        }
        struct termios t;
        if (tcgetattr(slave, &t) == 0) {
            cfmakeraw(&t);
            tcsetattr(slave, TCSANOW, &t);
        }
        fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
        fcntl(master, F_SETFD, FD_CLOEXEC);
        fcntl(slave, F_SETFD, FD_CLOEXEC);
        cd = chardev_alloc(CD_PTY);
        if (!cd) { close(master); close(slave); goto oom; }
        cd->in_fd = cd->out_fd = master;
        cd->extra_fd = slave;          /* kept open: reads never see EIO */
        cd->pty_path = strdup(name);
        fprintf(stderr, "bt86: serial port redirected to %s\n", name);
    } else {
        set_err(err, errlen,
                "unknown serial back-end '%s' (expected stdio, file:PATH, pty or none)", spec);
        return NULL;
    }
    if (cd) return cd;
oom:
    set_err(err, errlen, "serial back-end '%s': out of memory", spec);
    return NULL;
}

void chardev_free(struct chardev *cd)
{
    if (!cd) return;
    if (cd->kind == CD_STDIO) {
        term_restore();
        stdio_in_use = false;
    } else {
        if (cd->out_fd >= 0) close(cd->out_fd);
        if (cd->in_fd >= 0 && cd->in_fd != cd->out_fd) close(cd->in_fd);
    }
    if (cd->extra_fd >= 0) close(cd->extra_fd);
    free(cd->pty_path);
    free(cd->in.data);
    free(cd->out.data);
    free(cd);
}

void chardev_set_receiver(struct chardev *cd, chardev_can_read_fn can_read,
                          chardev_receive_fn receive, void *opaque)
{
    cd->can_read = can_read;
    cd->receive = receive;
    cd->rx_opaque = opaque;
}

void chardev_set_quit_handler(struct chardev *cd, chardev_quit_fn fn, void *opaque)
{
    cd->quit_fn = fn;
    cd->quit_opaque = opaque;
}

bool chardev_quit_requested(const struct chardev *cd) { return cd->quit; }

void chardev_set_break_handler(struct chardev *cd, chardev_break_fn fn, void *opaque)
{
    cd->break_fn = fn;
    cd->break_opaque = opaque;
}

static const char *const kind_names[] = { "none", "stdio", "file", "pty", "memory" };
const char *chardev_kind(const struct chardev *cd) { return kind_names[cd->kind]; }
const char *chardev_pty_path(const struct chardev *cd) { return cd->pty_path; }
int chardev_input_fd(const struct chardev *cd) { return cd->in_fd; }
size_t chardev_pending_input(const struct chardev *cd) { return cd->in.len; }

/* ---- output ---- */

static void fd_write_all(int fd, const uint8_t *buf, size_t len, bool drop_if_full)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n > 0) { buf += n; len -= (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN && !drop_if_full) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            poll(&p, 1, 100);
            continue;
        }
        return;                          /* error or full pty: drop the rest */
    }
}

size_t chardev_write(struct chardev *cd, const uint8_t *buf, size_t len)
{
    switch (cd->kind) {
    case CD_MEMORY: buf_append(&cd->out, buf, len); break;
    case CD_STDIO:
    case CD_FILE:   fd_write_all(cd->out_fd, buf, len, false); break;
    case CD_PTY:    fd_write_all(cd->out_fd, buf, len, true); break;
    case CD_NONE:   break;
    }
    return len;
}

static void chardev_puts(struct chardev *cd, const char *s)
{
    chardev_write(cd, (const uint8_t *)s, strlen(s));
}

/* ---- input ---- */

static void chardev_escape(struct chardev *cd, uint8_t c)
{
    switch (c) {
    case 'x': case 'X':
        if (!cd->quit) {
            cd->quit = true;
            chardev_puts(cd, "\r\nbt86: terminated (Ctrl-A x)\r\n");
            if (cd->quit_fn) cd->quit_fn(cd->quit_opaque);
        }
        break;
    case 'b': case 'B':
        if (cd->break_fn) cd->break_fn(cd->break_opaque);
        break;
    case 'h': case 'H': case '?':
        chardev_puts(cd, "\r\n"
                     "C-a h    print this help\r\n"
                     "C-a x    exit bt86\r\n"
                     "C-a b    send a break\r\n"
                     "C-a C-a  send C-a to the guest\r\n");
        break;
    default:                               /* unknown key: ignored */
        break;
    }
}

/* Host bytes enter the queue. Escape keys are acted on here, as they
 * arrive, so Ctrl-A x works even when the guest never reads its input. */
static void chardev_ingest(struct chardev *cd, const uint8_t *p, size_t n)
{
    if (!cd->escapes) { buf_append(&cd->in, p, n); return; }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (cd->esc_pending) {
            cd->esc_pending = false;
            if (c != CTRL_A) { chardev_escape(cd, c); continue; }
        } else if (c == CTRL_A) {
            cd->esc_pending = true;
            continue;
        }
        if (cd->in.len < IN_QUEUE_LIMIT || cd->kind == CD_MEMORY)
            buf_append(&cd->in, &c, 1);    /* else: guest not reading; dropped */
    }
}

static void chardev_fill(struct chardev *cd)
{
    if (cd->in_fd < 0) return;
    /* Without escape keys a full queue pushes back on the host fd (nothing
     * is lost); with them we keep reading so Ctrl-A x is always seen. */
    if (!cd->escapes && cd->in.len >= IN_QUEUE_LIMIT) return;
    struct pollfd p = { .fd = cd->in_fd, .events = POLLIN };
    if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) return;
    uint8_t tmp[IN_READ_CHUNK];
    ssize_t n = read(cd->in_fd, tmp, sizeof tmp);
    if (n > 0) {
        chardev_ingest(cd, tmp, (size_t)n);
    } else if (n == 0 && cd->kind == CD_STDIO) {
        cd->in_fd = -1;                   /* stdin at EOF: stop polling it */
    }
    /* pty: EIO/EAGAIN while the other side is closed is not fatal. */
}

size_t chardev_poll(struct chardev *cd)
{
    chardev_fill(cd);
    size_t delivered = 0;
    while (cd->in.len) {
        const uint8_t *p = cd->in.data + cd->in.head;
        size_t run = cd->in.len;
        if (!cd->receive) {                 /* nobody listens: drop */
            buf_consume(&cd->in, run);
            continue;
        }
        size_t room = cd->can_read ? cd->can_read(cd->rx_opaque) : run;
        if (room == 0) break;
        if (run > room) run = room;
        cd->receive(cd->rx_opaque, p, run);
        delivered += run;
        buf_consume(&cd->in, run);
    }
    return delivered;
}

/* ---- memory back-end ---- */

void chardev_mem_inject(struct chardev *cd, const uint8_t *buf, size_t len)
{
    if (cd->kind == CD_MEMORY) chardev_ingest(cd, buf, len);
}

const uint8_t *chardev_mem_output(const struct chardev *cd, size_t *len)
{
    if (cd->kind != CD_MEMORY) { if (len) *len = 0; return NULL; }
    if (len) *len = cd->out.len;
    return cd->out.data ? cd->out.data + cd->out.head : (const uint8_t *)"";
}

void chardev_mem_clear_output(struct chardev *cd)
{
    if (cd->kind == CD_MEMORY) cd->out.len = cd->out.head = 0;
}
