/* tests/unit/test_chardev.c - character back-ends: spec parsing, the memory
 * back-end, back-pressure, Ctrl-A escape keys, file and pty back-ends. */
#include "devices/chardev.h"
#include "tests/unit/test.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pty.h>
#include <termios.h>

struct rx {
    uint8_t buf[256];     /* bytes received */
    size_t len;           /* count          */
    size_t room;          /* what can_read reports */
    int quits;            /* quit callbacks */
};

static size_t rx_can(void *o) { struct rx *r = o; return r->room; }
static void rx_recv(void *o, const uint8_t *b, size_t n)
{
    struct rx *r = o;
    EXPECT(n <= r->room);
    for (size_t i = 0; i < n && r->len < sizeof r->buf; i++) r->buf[r->len++] = b[i];
    r->room -= n;
}
static void on_quit(void *o) { ((struct rx *)o)->quits++; }

static void test_spec_errors(void)
{
    char err[256] = "";
    EXPECT(chardev_open("serial0", err, sizeof err) == NULL);
    EXPECT(strstr(err, "serial0") != NULL);
    EXPECT(strstr(err, "stdio") != NULL);          /* lists the valid kinds */
    err[0] = 0;
    EXPECT(chardev_open("file:", err, sizeof err) == NULL);
    EXPECT(strstr(err, "missing file name") != NULL);
    err[0] = 0;
    EXPECT(chardev_open("file:/nonexistent-dir-bt86/x.log", err, sizeof err) == NULL);
    EXPECT(strstr(err, "/nonexistent-dir-bt86/x.log") != NULL);
    EXPECT(chardev_open("", err, sizeof err) == NULL);
    EXPECT(chardev_open(NULL, err, sizeof err) == NULL);
}

static void test_none(void)
{
    char err[128];
    struct chardev *cd = chardev_open("none", err, sizeof err);
    EXPECT(cd != NULL);
    if (!cd) return;
    EXPECT(!strcmp(chardev_kind(cd), "none"));
    EXPECT_EQ(chardev_write(cd, (const uint8_t *)"abc", 3), 3);
    EXPECT_EQ(chardev_poll(cd), 0);
    EXPECT_EQ(chardev_input_fd(cd), -1);
    chardev_free(cd);
}

static void test_memory_output(void)
{
    struct chardev *cd = chardev_new_memory(false);
    chardev_write(cd, (const uint8_t *)"hello ", 6);
    chardev_write(cd, (const uint8_t *)"world", 5);
    size_t n;
    const uint8_t *o = chardev_mem_output(cd, &n);
    EXPECT_EQ(n, 11);
    EXPECT(!memcmp(o, "hello world", 11));
    chardev_mem_clear_output(cd);
    chardev_mem_output(cd, &n);
    EXPECT_EQ(n, 0);
    chardev_free(cd);
}

static void test_memory_input_backpressure(void)
{
    struct chardev *cd = chardev_new_memory(false);
    struct rx r = { .room = 3 };
    chardev_set_receiver(cd, rx_can, rx_recv, &r);
    chardev_mem_inject(cd, (const uint8_t *)"abcdefgh", 8);
    EXPECT_EQ(chardev_poll(cd), 3);              /* only what fits */
    EXPECT_EQ(r.len, 3);
    EXPECT_EQ(chardev_pending_input(cd), 5);     /* the rest waits */
    EXPECT_EQ(chardev_poll(cd), 0);              /* still full */
    r.room = 16;
    EXPECT_EQ(chardev_poll(cd), 5);
    EXPECT_EQ(r.len, 8);
    EXPECT(!memcmp(r.buf, "abcdefgh", 8));
    EXPECT_EQ(chardev_pending_input(cd), 0);
    chardev_free(cd);
}

/* Ctrl-A x quits at once, even while the guest reads nothing (a full
 * receiver must not hide the escape key). */
static void test_escape_quit(void)
{
    struct chardev *cd = chardev_new_memory(true);
    struct rx r = { .room = 0 };
    chardev_set_receiver(cd, rx_can, rx_recv, &r);
    chardev_set_quit_handler(cd, on_quit, &r);
    chardev_mem_inject(cd, (const uint8_t *)"ab", 2);
    chardev_poll(cd);
    EXPECT(!chardev_quit_requested(cd));
    chardev_mem_inject(cd, (const uint8_t *)"\x01xcd", 4);
    chardev_poll(cd);
    EXPECT(chardev_quit_requested(cd));
    EXPECT_EQ(r.quits, 1);
    EXPECT_EQ(r.len, 0);
    r.room = 100;
    chardev_poll(cd);
    EXPECT_EQ(r.len, 4);                   /* the escape itself is not delivered */
    EXPECT(!memcmp(r.buf, "abcd", 4));
    chardev_mem_inject(cd, (const uint8_t *)"\x01x", 2);
    EXPECT_EQ(r.quits, 1);                 /* the handler runs once */
    chardev_free(cd);
}

static void test_escape_ctrl_a_and_help(void)
{
    struct chardev *cd = chardev_new_memory(true);
    struct rx r = { .room = 100 };
    chardev_set_receiver(cd, rx_can, rx_recv, &r);
    /* Ctrl-A Ctrl-A -> one Ctrl-A; Ctrl-A h -> help on the output; an
     * escape split across two polls still works. */
    chardev_mem_inject(cd, (const uint8_t *)"1\x01\x01" "2\x01h3\x01", 8);
    chardev_poll(cd);
    chardev_mem_inject(cd, (const uint8_t *)"\x01" "4", 2);
    chardev_poll(cd);
    EXPECT_EQ(r.len, 6);
    EXPECT(!memcmp(r.buf, "1\x01" "23\x01" "4", 6));
    size_t n;
    const uint8_t *o = chardev_mem_output(cd, &n);
    EXPECT(n > 0 && memmem(o, n, "C-a x", 5) != NULL);
    EXPECT(!chardev_quit_requested(cd));
    chardev_free(cd);
}

static void test_escape_waits_for_room(void)
{
    /* Ctrl-A Ctrl-A with a full receiver must not lose the byte. */
    struct chardev *cd = chardev_new_memory(true);
    struct rx r = { .room = 0 };
    chardev_set_receiver(cd, rx_can, rx_recv, &r);
    chardev_mem_inject(cd, (const uint8_t *)"\x01\x01", 2);
    EXPECT_EQ(chardev_poll(cd), 0);
    r.room = 1;
    EXPECT_EQ(chardev_poll(cd), 1);
    EXPECT_EQ(r.buf[0], 0x01);
    chardev_free(cd);
}

static void test_no_escapes_passes_ctrl_a(void)
{
    struct chardev *cd = chardev_new_memory(false);
    struct rx r = { .room = 100 };
    chardev_set_receiver(cd, rx_can, rx_recv, &r);
    chardev_mem_inject(cd, (const uint8_t *)"\x01x", 2);
    EXPECT_EQ(chardev_poll(cd), 2);
    EXPECT(!chardev_quit_requested(cd));
    chardev_free(cd);
}

static void test_file_backend(void)
{
    char path[] = "/tmp/bt86-chardev-XXXXXX";
    int fd = mkstemp(path);
    EXPECT(fd >= 0);
    if (fd < 0) return;
    if (write(fd, "old contents", 12) != 12) EXPECT(0);
    close(fd);
    char spec[64], err[256];
    snprintf(spec, sizeof spec, "file:%s", path);
    struct chardev *cd = chardev_open(spec, err, sizeof err);
    EXPECT(cd != NULL);
    if (!cd) { unlink(path); return; }
    EXPECT(!strcmp(chardev_kind(cd), "file"));
    chardev_write(cd, (const uint8_t *)"Linux version\r\n", 15);
    EXPECT_EQ(chardev_poll(cd), 0);                 /* output only */
    chardev_free(cd);
    char buf[64] = "";
    fd = open(path, O_RDONLY);
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    unlink(path);
    EXPECT_EQ(n, 15);                               /* truncated, then written */
    EXPECT(!memcmp(buf, "Linux version\r\n", 15));
}

static void test_pty_backend(void)
{
    char err[256];
    struct chardev *cd = chardev_open("pty", err, sizeof err);
    EXPECT(cd != NULL);
    if (!cd) { printf("  %s\n", err); return; }
    const char *path = chardev_pty_path(cd);
    EXPECT(path != NULL && !strncmp(path, "/dev/", 5));
    int fd = open(path, O_RDWR | O_NOCTTY);
    EXPECT(fd >= 0);
    if (fd >= 0) {
        chardev_write(cd, (const uint8_t *)"out", 3);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        EXPECT(poll(&p, 1, 1000) == 1);
        char b[8] = "";
        EXPECT_EQ(read(fd, b, sizeof b), 3);
        EXPECT(!memcmp(b, "out", 3));
        struct rx r = { .room = 100 };
        chardev_set_receiver(cd, rx_can, rx_recv, &r);
        EXPECT_EQ(write(fd, "in\x01x", 4), 4);       /* raw: no escapes on a pty */
        for (int i = 0; i < 100 && r.len < 4; i++) { chardev_poll(cd); usleep(1000); }
        EXPECT_EQ(r.len, 4);
        EXPECT(!memcmp(r.buf, "in\x01x", 4));
        close(fd);
    }
    chardev_free(cd);
}

/* stdio on a terminal: raw mode while open (no echo, no ICANON, no ISIG:
 * Ctrl-C goes to the guest), the original mode restored by chardev_free;
 * Ctrl-A x on the terminal quits; a second stdio chardev is refused. */
static void test_stdio_raw_mode(void)
{
    int master = -1, slave = -1;
    EXPECT(openpty(&master, &slave, NULL, NULL, NULL) == 0);
    if (master < 0) return;
    struct termios before;
    tcgetattr(slave, &before);
    EXPECT(before.c_lflag & ICANON);
    int saved_in = dup(0), saved_out = dup(1);
    fflush(stdout);
    dup2(slave, 0);
    dup2(slave, 1);
    char err[256] = "";
    struct chardev *cd = chardev_open("stdio", err, sizeof err);
    struct chardev *cd2 = chardev_open("stdio", err, sizeof err);
    struct termios raw;
    tcgetattr(slave, &raw);
    struct rx r = { .room = 100 };
    if (cd) {
        chardev_set_receiver(cd, rx_can, rx_recv, &r);
        if (write(master, "\x03q\x01x", 4) != 4) r.quits = -100;
        for (int i = 0; i < 100 && !chardev_quit_requested(cd); i++) { chardev_poll(cd); usleep(1000); }
    }
    bool quit = cd && chardev_quit_requested(cd);
    chardev_free(cd);
    struct termios after;
    tcgetattr(slave, &after);
    dup2(saved_in, 0);
    dup2(saved_out, 1);
    close(saved_in);
    close(saved_out);
    EXPECT(cd != NULL);
    EXPECT(cd2 == NULL);
    EXPECT(strstr(err, "already used") != NULL);
    EXPECT(!(raw.c_lflag & (ICANON | ECHO | ISIG)));
    EXPECT(after.c_lflag & ICANON);
    EXPECT(after.c_lflag & ECHO);
    EXPECT_EQ(after.c_lflag, before.c_lflag);
    EXPECT(quit);
    EXPECT_EQ(r.len, 2);
    EXPECT(r.len == 2 && r.buf[0] == 0x03 && r.buf[1] == 'q');   /* Ctrl-C reached the guest */
    char out[256];
    ssize_t n = read(master, out, sizeof out - 1);      /* the quit notice */
    EXPECT(n > 0);
    if (n > 0) { out[n] = 0; EXPECT(strstr(out, "terminated") != NULL); }
    /* stdio can be opened again once freed */
    close(master);
    close(slave);
}

int main(void)
{
    RUN(test_spec_errors);
    RUN(test_none);
    RUN(test_memory_output);
    RUN(test_memory_input_backpressure);
    RUN(test_escape_quit);
    RUN(test_escape_ctrl_a_and_help);
    RUN(test_escape_waits_for_room);
    RUN(test_no_escapes_passes_ctrl_a);
    RUN(test_file_backend);
    int m, sl;
    if (openpty(&m, &sl, NULL, NULL, NULL) == 0) {
        close(m);
        close(sl);
        RUN(test_pty_backend);
        RUN(test_stdio_raw_mode);
    } else {
        SKIP(test_pty_backend, "no pseudo-terminals here");
        SKIP(test_stdio_raw_mode, "no pseudo-terminals here");
    }
    return test_summary();
}
