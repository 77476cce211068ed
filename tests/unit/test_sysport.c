/* tests/unit/test_sysport.c - POST port, debug console, isa-debug-exit,
 * port 0x92 (A20, fast reset) and 0xCF9 reset control through the bus. */
#include "devices/sysport.h"
#include "tests/unit/test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct board {
    uint8_t posts[16];       /* POST codes seen      */
    int nposts;              /* count                */
    char text[64];           /* debug console text   */
    int ntext;               /* length               */
    int exit_status;         /* last exit request    */
    int exits;               /* count                */
    bool a20;                /* A20 as reported      */
    int a20_calls;           /* a20 callbacks        */
    int resets;              /* reset callbacks      */
};

static void b_post(void *o, uint8_t c) { struct board *b = o; if (b->nposts < 16) b->posts[b->nposts++] = c; }
static void b_debug(void *o, uint8_t c) { struct board *b = o; if (b->ntext < 63) b->text[b->ntext++] = (char)c; }
static void b_exit(void *o, int s) { struct board *b = o; b->exit_status = s; b->exits++; }
static void b_a20(void *o, bool on) { struct board *b = o; b->a20 = on; b->a20_calls++; }
static void b_reset(void *o) { struct board *b = o; b->resets++; }

static const struct sysport_ops board_ops = {
    .post = b_post, .debug_out = b_debug, .exit_request = b_exit, .a20 = b_a20, .reset = b_reset,
};

struct env { struct bus *bus; struct sysport *sp; struct board b; };
static void env_init(struct env *e, unsigned flags)
{
    memset(&e->b, 0, sizeof e->b);
    e->bus = bus_new();
    e->sp = sysport_new(e->bus, &board_ops, &e->b, flags);
}
static void env_free(struct env *e) { sysport_free(e->sp); bus_free(e->bus); }
static uint8_t in8(struct env *e, uint16_t p) { return (uint8_t)bus_io_read(e->bus, p, 1); }
static void out8(struct env *e, uint16_t p, uint8_t v) { bus_io_write(e->bus, p, v, 1); }

static void test_post_codes(void)
{
    struct env e;
    env_init(&e, 0);
    EXPECT(e.sp != NULL);
    out8(&e, 0x80, 0x01);
    out8(&e, 0x80, 0x55);
    out8(&e, 0x80, 0xAA);
    EXPECT_EQ(e.b.nposts, 3);
    EXPECT_EQ(e.b.posts[1], 0x55);
    EXPECT_EQ(sysport_last_post(e.sp), 0xAA);
    EXPECT_EQ(in8(&e, 0x80), 0xAA);
    env_free(&e);
}

static void test_debug_console_callback(void)
{
    struct env e;
    env_init(&e, 0);
    EXPECT_EQ(in8(&e, 0xE9), 0xE9);       /* presence check */
    const char *msg = "bt86 ok\n";
    for (const char *p = msg; *p; p++) out8(&e, 0xE9, (uint8_t)*p);
    EXPECT_EQ(e.b.ntext, (int)strlen(msg));
    EXPECT(memcmp(e.b.text, msg, strlen(msg)) == 0);
    /* a 16-bit write is split: only the byte at 0xE9 reaches the console */
    bus_io_write(e.bus, 0xE9, 0x4121, 2);
    EXPECT_EQ(e.b.text[e.b.ntext - 1], '!');
    env_free(&e);
}

static void test_debug_console_default_stdout(void)
{
    struct bus *bus = bus_new();
    struct sysport *sp = sysport_new(bus, NULL, NULL, 0);
    EXPECT(sp != NULL);
    char path[] = "/tmp/bt86-e9-XXXXXX";
    int fd = mkstemp(path);
    EXPECT(fd >= 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    const char *msg = "hello from e9\n";
    for (const char *p = msg; *p; p++) bus_io_write(bus, 0xE9, (uint8_t)*p, 1);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    char buf[64] = "";
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    unlink(path);
    EXPECT_EQ(n, (ssize_t)strlen(msg));
    EXPECT(strcmp(buf, msg) == 0);
    /* without callbacks everything else is recorded */
    bus_io_write(bus, 0xF4, 0x10, 1);
    int st = 0;
    EXPECT(sysport_exit_requested(sp, &st));
    EXPECT_EQ(st, 0x21);
    bus_io_write(bus, 0x92, 0x01, 1);
    EXPECT_EQ(sysport_reset_count(sp), 1);
    sysport_free(sp);
    bus_free(bus);
}

static void test_isa_debug_exit(void)
{
    struct env e;
    env_init(&e, 0);
    int st = -1;
    EXPECT(!sysport_exit_requested(e.sp, &st));
    out8(&e, 0xF4, 0x00);
    EXPECT_EQ(e.b.exits, 1);
    EXPECT_EQ(e.b.exit_status, 1);
    out8(&e, 0xF4, 0x31);
    EXPECT_EQ(e.b.exit_status, 0x63);      /* (0x31 << 1) | 1 */
    EXPECT(sysport_exit_requested(e.sp, &st));
    EXPECT_EQ(st, 0x63);
    out8(&e, 0xF4, 0xFF);
    EXPECT_EQ(e.b.exit_status, 0x1FF);
    env_free(&e);
}

static void test_port92_a20(void)
{
    struct env e;
    env_init(&e, 0);
    EXPECT_EQ(in8(&e, 0x92), 0x00);
    /* Linux/BIOS fast A20: outb((inb(0x92) | 2) & ~1, 0x92) */
    out8(&e, 0x92, (uint8_t)((in8(&e, 0x92) | 0x02) & ~0x01));
    EXPECT_EQ(e.b.a20_calls, 1);
    EXPECT(e.b.a20);
    EXPECT(sysport_a20(e.sp));
    EXPECT_EQ(in8(&e, 0x92) & 0x02, 0x02);
    out8(&e, 0x92, 0x02);                  /* no change: no callback */
    EXPECT_EQ(e.b.a20_calls, 1);
    out8(&e, 0x92, 0x00);
    EXPECT_EQ(e.b.a20_calls, 2);
    EXPECT(!e.b.a20);
    EXPECT_EQ(e.b.resets, 0);
    /* the board changed A20 via the keyboard controller: bit follows, silently */
    sysport_set_a20_bit(e.sp, true);
    EXPECT_EQ(in8(&e, 0x92), 0x02);
    EXPECT_EQ(e.b.a20_calls, 2);
    env_free(&e);
}

static void test_port92_fast_reset(void)
{
    struct env e;
    env_init(&e, 0);
    out8(&e, 0x92, 0x01);
    EXPECT_EQ(e.b.resets, 1);
    out8(&e, 0x92, 0x01);                  /* no 0->1 transition */
    EXPECT_EQ(e.b.resets, 1);
    out8(&e, 0x92, 0x00);
    out8(&e, 0x92, 0x03);                  /* reset with A20 on */
    EXPECT_EQ(e.b.resets, 2);
    EXPECT_EQ(e.b.a20_calls, 1);
    sysport_reset(e.sp);                   /* machine reset: power-on value */
    EXPECT_EQ(in8(&e, 0x92), 0x00);
    out8(&e, 0x92, 0x01);
    EXPECT_EQ(e.b.resets, 3);
    env_free(&e);
}

static void test_cf9_reset(void)
{
    struct env e;
    env_init(&e, SYSPORT_CF9);
    /* Linux BOOT_CF9: cf9 = inb(0xcf9) & ~code; outb(cf9|2); outb(cf9|code) */
    uint8_t cf9 = in8(&e, 0xCF9) & (uint8_t)~0x06;
    out8(&e, 0xCF9, cf9 | 0x02);
    EXPECT_EQ(e.b.resets, 0);
    EXPECT_EQ(in8(&e, 0xCF9), 0x02);
    out8(&e, 0xCF9, cf9 | 0x06);
    EXPECT_EQ(e.b.resets, 1);
    EXPECT_EQ(in8(&e, 0xCF9) & 0x04, 0);  /* RST_CPU self-clears */
    out8(&e, 0xCF9, 0x0E);                 /* hard reset */
    EXPECT_EQ(e.b.resets, 2);
    env_free(&e);
    /* without the flag 0xCF9 is left to the PCI host */
    env_init(&e, 0);
    EXPECT_EQ(bus_io_read(e.bus, 0xCF9, 1), 0xFF);
    bus_io_write(e.bus, 0xCF9, 0x06, 1);
    EXPECT_EQ(e.b.resets, 0);
    env_free(&e);
}

static void test_port_conflicts(void)
{
    struct env e;
    env_init(&e, 0);
    /* a second instance on the same bus is refused and maps nothing */
    EXPECT(sysport_new(e.bus, NULL, NULL, 0) == NULL);
    out8(&e, 0x80, 0x12);
    EXPECT_EQ(e.b.nposts, 1);
    /* two machines: independent instances */
    struct env f;
    env_init(&f, 0);
    out8(&f, 0x80, 0x34);
    EXPECT_EQ(sysport_last_post(e.sp), 0x12);
    EXPECT_EQ(sysport_last_post(f.sp), 0x34);
    env_free(&f);
    /* after free the ports are unmapped */
    sysport_free(e.sp);
    EXPECT_EQ(bus_io_read(e.bus, 0xE9, 1), 0xFF);
    bus_free(e.bus);
}

int main(void)
{
    RUN(test_post_codes);
    RUN(test_debug_console_callback);
    RUN(test_debug_console_default_stdout);
    RUN(test_isa_debug_exit);
    RUN(test_port92_a20);
    RUN(test_port92_fast_reset);
    RUN(test_cf9_reset);
    RUN(test_port_conflicts);
    return test_summary();
}
