/* tests/unit/test_i8042.c - 8042 controller, PS/2 keyboard and mouse, driven
 * through the port bus with the sequences Linux's i8042/atkbd/psmouse
 * drivers and a BIOS run: controller check, self-test, CTR read/write, AUX
 * loop and IRQ12 test, keyboard reset/identify, set-1 translation, scancode
 * sets, LEDs, A20 and reset through the output port, mouse init, IntelliMouse
 * knock, movement packets, status and remote mode. */
#include "devices/i8042.h"
#include "devices/bus.h"
#include "tests/unit/test.h"

#include <string.h>

struct sink {
    int level;        /* current line level */
    int rises;        /* 0->1 edges         */
};
static void sink_set(void *o, int n, int level)
{
    struct sink *s = o;
    (void)n;
    if (level && !s->level) s->rises++;
    s->level = level;
}

struct rig {
    struct bus *bus;         /* ports 0x60/0x64 mapped */
    struct i8042 *k;         /* device under test      */
    struct sink irq1, irq12; /* interrupt sinks        */
    struct irq_line l1, l12;
    int a20_calls;           /* A20 callback count     */
    bool a20;                /* last A20 state         */
    int resets;              /* reset requests         */
};

static void on_a20(void *o, bool en) { struct rig *r = o; r->a20_calls++; r->a20 = en; }
static void on_reset(void *o) { ((struct rig *)o)->resets++; }

static void rig_init(struct rig *r)
{
    memset(r, 0, sizeof *r);
    r->l1 = (struct irq_line){ sink_set, &r->irq1, 1 };
    r->l12 = (struct irq_line){ sink_set, &r->irq12, 12 };
    r->k = i8042_new(&r->l1, &r->l12);
    i8042_set_a20_handler(r->k, on_a20, r);
    i8042_set_reset_handler(r->k, on_reset, r);
    r->bus = bus_new();
    EXPECT(bus_map_io(r->bus, 0x60, 1, &i8042_data_ops, r->k) == 0);
    EXPECT(bus_map_io(r->bus, 0x64, 1, &i8042_cmd_ops, r->k) == 0);
    r->a20 = i8042_a20_enabled(r->k);
}
static void rig_free(struct rig *r) { bus_free(r->bus); i8042_free(r->k); }

static uint8_t status(struct rig *r) { return (uint8_t)bus_io_read(r->bus, 0x64, 1); }
static uint8_t data(struct rig *r) { return (uint8_t)bus_io_read(r->bus, 0x60, 1); }
/* i8042_wait_write + outb, as Linux does */
static void cmd(struct rig *r, uint8_t c)
{
    EXPECT_EQ(status(r) & 0x02, 0);
    bus_io_write(r->bus, 0x64, c, 1);
}
static void wdata(struct rig *r, uint8_t v)
{
    EXPECT_EQ(status(r) & 0x02, 0);
    bus_io_write(r->bus, 0x60, v, 1);
}
/* i8042_wait_read + inb: returns -1 if no byte is there */
static int rdata(struct rig *r)
{
    if (!(status(r) & 0x01)) return -1;
    return data(r);
}
/* read one byte that must come from the mouse side (status bit 5) */
static int rdata_aux(struct rig *r)
{
    uint8_t st = status(r);
    if (!(st & 0x01)) return -1;
    EXPECT(st & 0x20);
    return data(r);
}
static void flush(struct rig *r)
{
    for (int i = 0; i < 300 && (status(r) & 0x01); i++) (void)data(r);
    EXPECT_EQ(status(r) & 0x01, 0);
}

/* i8042_controller_check + selftest + CTR read/write (i8042_controller_init) */
static void test_controller_init(void)
{
    struct rig r;
    rig_init(&r);
    flush(&r);
    cmd(&r, 0xAA);
    EXPECT_EQ(rdata(&r), 0x55);
    EXPECT(status(&r) & 0x04);             /* system flag */
    EXPECT(status(&r) & 0x10);             /* not inhibited */
    EXPECT(status(&r) & 0x08);             /* last write was a command */
    cmd(&r, 0x20);
    int ctr = rdata(&r);
    EXPECT_EQ(ctr, 0x45);                  /* KBDINT SYS XLATE */
    EXPECT_EQ(rdata(&r), -1);
    cmd(&r, 0x60);
    wdata(&r, 0x47);                       /* + AUXINT */
    EXPECT_EQ(status(&r) & 0x08, 0);
    cmd(&r, 0x20);
    EXPECT_EQ(rdata(&r), 0x47);
    cmd(&r, 0x60);
    wdata(&r, 0x41);                       /* SYS flag cleared in the CTR ... */
    EXPECT_EQ(status(&r) & 0x04, 0);       /* ... shows in the status */
    cmd(&r, 0x7F); wdata(&r, 0x5A);        /* controller RAM byte 0x1F */
    cmd(&r, 0x3F);
    EXPECT_EQ(rdata(&r), 0x5A);
    cmd(&r, 0xAB);
    EXPECT_EQ(rdata(&r), 0x00);            /* keyboard interface test */
    cmd(&r, 0xA9);
    EXPECT_EQ(rdata(&r), 0x00);            /* aux interface test */
    cmd(&r, 0xC0);
    EXPECT(rdata(&r) >= 0);                /* input port */
    EXPECT_EQ(r.irq12.rises, 0);
    rig_free(&r);
}

/* i8042_check_aux: AUX loopback, A7/A8 toggle CTR bit 5, the mux probe,
 * and the IRQ12 delivery test. */
static void test_aux_loop_and_irq12(void)
{
    struct rig r;
    rig_init(&r);
    cmd(&r, 0xD3); wdata(&r, 0x5A);
    EXPECT_EQ(rdata_aux(&r), 0x5A);
    EXPECT_EQ(r.irq12.rises, 0);           /* AUXINT off: no IRQ12 */
    EXPECT_EQ(r.irq1.rises, 0);
    cmd(&r, 0xA7);
    cmd(&r, 0x20);
    EXPECT(rdata(&r) & 0x20);
    cmd(&r, 0xA8);
    cmd(&r, 0x20);
    EXPECT_EQ(rdata(&r) & 0x20, 0);
    /* i8042_set_mux_mode: a plain controller echoes all three */
    static const uint8_t mux[3] = { 0xF0, 0x56, 0xA4 };
    for (int i = 0; i < 3; i++) {
        cmd(&r, 0xD3); wdata(&r, mux[i]);
        EXPECT_EQ(rdata_aux(&r), mux[i]);
    }
    cmd(&r, 0x60); wdata(&r, 0x47);
    cmd(&r, 0xD3); wdata(&r, 0xA5);
    EXPECT_EQ(r.irq12.level, 1);
    EXPECT_EQ(r.irq1.level, 0);
    EXPECT_EQ(rdata_aux(&r), 0xA5);
    EXPECT_EQ(r.irq12.level, 0);
    /* D2: a byte that looks as if the keyboard sent it (IRQ1) */
    cmd(&r, 0xD2); wdata(&r, 0x1E);
    EXPECT_EQ(r.irq1.level, 1);
    EXPECT_EQ(status(&r) & 0x20, 0);
    EXPECT_EQ(rdata(&r), 0x1E);
    EXPECT_EQ(r.irq1.level, 0);
    rig_free(&r);
}

/* atkbd: reset, identify (translated and not), scancode set query. */
static void test_kbd_reset_identify(void)
{
    struct rig r;
    rig_init(&r);
    wdata(&r, 0xFF);
    EXPECT_EQ(r.irq1.level, 1);
    EXPECT_EQ(rdata(&r), 0xFA);
    EXPECT_EQ(rdata(&r), 0xAA);            /* BAT passed */
    EXPECT_EQ(rdata(&r), -1);
    EXPECT_EQ(r.irq1.level, 0);
    EXPECT_EQ(r.irq1.rises, 2);            /* one edge per byte */
    wdata(&r, 0xF2);
    EXPECT_EQ(rdata(&r), 0xFA);
    EXPECT_EQ(rdata(&r), 0xAB);
    EXPECT_EQ(rdata(&r), 0x41);            /* 0x83 translated (atkbd accepts ab41) */
    cmd(&r, 0x60); wdata(&r, 0x05);        /* translation off */
    wdata(&r, 0xF2);
    EXPECT_EQ(rdata(&r), 0xFA);
    EXPECT_EQ(rdata(&r), 0xAB);
    EXPECT_EQ(rdata(&r), 0x83);
    wdata(&r, 0xF0); EXPECT_EQ(rdata(&r), 0xFA);
    wdata(&r, 0x00); EXPECT_EQ(rdata(&r), 0xFA);
    EXPECT_EQ(rdata(&r), 0x02);            /* scancode set 2 */
    wdata(&r, 0xF0); EXPECT_EQ(rdata(&r), 0xFA);
    wdata(&r, 0x03); EXPECT_EQ(rdata(&r), 0xFE);   /* set 3 refused */
    wdata(&r, 0xEE); EXPECT_EQ(rdata(&r), 0xEE);   /* echo */
    wdata(&r, 0x99); EXPECT_EQ(rdata(&r), 0xFE);   /* unknown command */
    rig_free(&r);
}

/* A key press with set-1 translation (CTR bit 6), then without. */
static void test_translation(void)
{
    struct rig r;
    rig_init(&r);
    i8042_key_event(r.k, 0x1C, true);      /* 'A' in set 2 */
    EXPECT_EQ(r.irq1.level, 1);
    EXPECT_EQ(rdata(&r), 0x1E);            /* set-1 make */
    i8042_key_event(r.k, 0x1C, false);     /* F0 1C -> 9E */
    EXPECT_EQ(rdata(&r), 0x9E);
    EXPECT_EQ(rdata(&r), -1);
    i8042_key_event(r.k, 0xE075, true);    /* cursor up */
    i8042_key_event(r.k, 0xE075, false);
    EXPECT_EQ(rdata(&r), 0xE0);
    EXPECT_EQ(rdata(&r), 0x48);
    EXPECT_EQ(rdata(&r), 0xE0);
    EXPECT_EQ(rdata(&r), 0xC8);
    i8042_key_event(r.k, 0x83, true);      /* F7: the odd one, 83 -> 41 */
    EXPECT_EQ(rdata(&r), 0x41);
    cmd(&r, 0x60); wdata(&r, 0x05);        /* raw set 2 */
    i8042_key_event(r.k, 0x76, true);      /* Esc */
    i8042_key_event(r.k, 0x76, false);
    EXPECT_EQ(rdata(&r), 0x76);
    EXPECT_EQ(rdata(&r), 0xF0);
    EXPECT_EQ(rdata(&r), 0x76);
    i8042_key_event(r.k, I8042_KEY_PAUSE, true);
    static const uint8_t pause[8] = { 0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77 };
    for (int i = 0; i < 8; i++) EXPECT_EQ(rdata(&r), pause[i]);
    i8042_key_event(r.k, I8042_KEY_PAUSE, false);
    EXPECT_EQ(rdata(&r), -1);              /* Pause has no break code */
    rig_free(&r);
}

/* The keyboard in scancode set 1 (F0 01), untranslated: native set-1 codes. */
static void test_scancode_set1(void)
{
    struct rig r;
    rig_init(&r);
    cmd(&r, 0x60); wdata(&r, 0x05);
    wdata(&r, 0xF0); EXPECT_EQ(rdata(&r), 0xFA);
    wdata(&r, 0x01); EXPECT_EQ(rdata(&r), 0xFA);
    wdata(&r, 0xF0); wdata(&r, 0x00);
    EXPECT_EQ(rdata(&r), 0xFA);
    EXPECT_EQ(rdata(&r), 0xFA);
    EXPECT_EQ(rdata(&r), 0x01);
    i8042_key_event(r.k, 0xE014, true);    /* right Ctrl */
    i8042_key_event(r.k, 0xE014, false);
    EXPECT_EQ(rdata(&r), 0xE0);
    EXPECT_EQ(rdata(&r), 0x1D);
    EXPECT_EQ(rdata(&r), 0xE0);
    EXPECT_EQ(rdata(&r), 0x9D);
    wdata(&r, 0xFF);                       /* reset returns to set 2 */
    EXPECT_EQ(rdata(&r), 0xFA);
    EXPECT_EQ(rdata(&r), 0xAA);
    i8042_key_event(r.k, 0x1C, false);
    EXPECT_EQ(rdata(&r), 0xF0);
    EXPECT_EQ(rdata(&r), 0x1C);
    rig_free(&r);
}

/* LEDs, typematic, disable/enable scanning, and the controller's AD/AE. */
static void test_kbd_commands_and_disable(void)
{
    struct rig r;
    rig_init(&r);
    wdata(&r, 0xED); EXPECT_EQ(rdata(&r), 0xFA);
    wdata(&r, 0x07); EXPECT_EQ(rdata(&r), 0xFA);
    EXPECT_EQ(i8042_kbd_leds(r.k), 7);
    wdata(&r, 0xF3); EXPECT_EQ(rdata(&r), 0xFA);
    wdata(&r, 0x20); EXPECT_EQ(rdata(&r), 0xFA);
    wdata(&r, 0xF5); EXPECT_EQ(rdata(&r), 0xFA);   /* scanning off */
    i8042_key_event(r.k, 0x1C, true);
    EXPECT_EQ(rdata(&r), -1);
    wdata(&r, 0xF4); EXPECT_EQ(rdata(&r), 0xFA);
    cmd(&r, 0xAD);                                   /* controller: kbd clock off */
    i8042_key_event(r.k, 0x1C, true);
    EXPECT_EQ(rdata(&r), -1);                        /* held in the keyboard */
    EXPECT_EQ(r.irq1.level, 0);
    cmd(&r, 0x20);
    EXPECT(rdata(&r) & 0x10);
    cmd(&r, 0xAE);
    EXPECT_EQ(r.irq1.level, 1);
    EXPECT_EQ(rdata(&r), 0x1E);                      /* delivered now */
    rig_free(&r);
}

/* atkbd's Caps Lock LED update while more keys are queued: the ACKs come
 * first and no keystroke is lost (a lost release would stick the key). */
static void test_led_update_keeps_keys(void)
{
    struct rig r;
    rig_init(&r);
    i8042_key_event(r.k, 0x58, true);      /* Caps Lock down */
    i8042_key_event(r.k, 0x58, false);     /* ... up */
    i8042_key_event(r.k, 0x1C, true);      /* 'a' down */
    EXPECT_EQ(rdata(&r), 0x3A);
    wdata(&r, 0xED);
    EXPECT_EQ(rdata(&r), 0xBA);            /* already in the controller (F0 58) */
    EXPECT_EQ(rdata(&r), 0xFA);            /* the ACK overtakes the queued 'a' */
    wdata(&r, 0x04);
    EXPECT_EQ(rdata(&r), 0x1E);            /* 'a' entered the controller first */
    EXPECT_EQ(rdata(&r), 0xFA);
    EXPECT_EQ(i8042_kbd_leds(r.k), 4);
    EXPECT_EQ(rdata(&r), -1);
    /* a full keyboard buffer drops whole sequences, never half of one */
    for (int i = 0; i < 20; i++) i8042_key_event(r.k, 0xE075, i & 1);
    int n = 0, e0 = 0;
    for (int v; (v = rdata(&r)) >= 0 && n < 64; n++) e0 += v == 0xE0;
    EXPECT_EQ(n, 2 * e0);                  /* every E0 has its code */
    EXPECT(n > 0 && n <= 16);
    rig_free(&r);
}

/* A20 through D0/D1 (and DD/DF), CPU reset through 0xFE and D1 bit 0. */
static void test_outport_a20_reset(void)
{
    struct rig r;
    rig_init(&r);
    cmd(&r, 0xD0);
    int op = rdata(&r);
    EXPECT(op & 0x02);                     /* A20 on at power-up */
    EXPECT(op & 0x01);                     /* reset line inactive */
    cmd(&r, 0xD1); wdata(&r, 0xDD);        /* the classic "A20 off" */
    EXPECT_EQ(r.a20_calls, 1);
    EXPECT(!r.a20);
    EXPECT(!i8042_a20_enabled(r.k));
    cmd(&r, 0xD0);
    EXPECT_EQ(rdata(&r) & 0x02, 0);
    cmd(&r, 0xD1); wdata(&r, 0xDF);        /* "A20 on" (BIOS/HIMEM) */
    EXPECT_EQ(r.a20_calls, 2);
    EXPECT(r.a20);
    cmd(&r, 0xD1); wdata(&r, 0xDF);        /* unchanged: no callback */
    EXPECT_EQ(r.a20_calls, 2);
    cmd(&r, 0xFF);                         /* pulse nothing */
    EXPECT_EQ(r.resets, 0);
    cmd(&r, 0xFE);                         /* pulse reset (Linux reboot=k) */
    EXPECT_EQ(r.resets, 1);
    cmd(&r, 0xD1); wdata(&r, 0xDE);        /* bit 0 low: reset too */
    EXPECT_EQ(r.resets, 2);
    EXPECT(r.a20);
    cmd(&r, 0xD0);
    EXPECT(rdata(&r) & 0x01);              /* pulsed, not held */
    /* D0 reports a full output buffer in bit 4 (the reply itself) */
    i8042_key_event(r.k, 0x1C, true);      /* a byte waits in obuf */
    cmd(&r, 0xD0);
    EXPECT_EQ(rdata(&r), 0x1E);            /* the key came first ... */
    EXPECT(rdata(&r) >= 0);                /* ... then the outport */
    rig_free(&r);
}

/* psmouse: reset, get ID, IntelliMouse knock, enable, a 4-byte packet. */
static void test_mouse_init_and_packets(void)
{
    struct rig r;
    rig_init(&r);
    cmd(&r, 0x60); wdata(&r, 0x47);
    cmd(&r, 0xD4); wdata(&r, 0xFF);
    EXPECT_EQ(r.irq12.level, 1);
    EXPECT_EQ(rdata_aux(&r), 0xFA);
    EXPECT_EQ(rdata_aux(&r), 0xAA);
    EXPECT_EQ(rdata_aux(&r), 0x00);
    cmd(&r, 0xD4); wdata(&r, 0xF2);
    EXPECT_EQ(rdata_aux(&r), 0xFA);
    EXPECT_EQ(rdata_aux(&r), 0x00);        /* plain PS/2 mouse */
    /* a standard 3-byte packet: right 10, down 5 (PS/2 dy = -5), left button */
    cmd(&r, 0xD4); wdata(&r, 0xF4);
    EXPECT_EQ(rdata_aux(&r), 0xFA);
    i8042_mouse_event(r.k, 10, 5, 1);
    EXPECT_EQ(rdata_aux(&r), 0x29);        /* 0x08 | Ysign | left */
    EXPECT_EQ(rdata_aux(&r), 10);
    EXPECT_EQ(rdata_aux(&r), 0xFB);
    EXPECT_EQ(rdata(&r), -1);
    i8042_mouse_wheel(r.k, 1);             /* no wheel before the knock */
    EXPECT_EQ(rdata(&r), -1);
    static const uint8_t knock[3] = { 200, 100, 80 };
    for (int i = 0; i < 3; i++) {
        cmd(&r, 0xD4); wdata(&r, 0xF3); EXPECT_EQ(rdata_aux(&r), 0xFA);
        cmd(&r, 0xD4); wdata(&r, knock[i]); EXPECT_EQ(rdata_aux(&r), 0xFA);
    }
    cmd(&r, 0xD4); wdata(&r, 0xF2);
    EXPECT_EQ(rdata_aux(&r), 0xFA);
    EXPECT_EQ(rdata_aux(&r), 0x03);        /* IntelliMouse */
    i8042_mouse_event(r.k, -3, -300, 0);   /* left 3, up 300: clipped, split */
    EXPECT_EQ(rdata_aux(&r), 0x18);        /* Xsign */
    EXPECT_EQ(rdata_aux(&r), 0xFD);
    EXPECT_EQ(rdata_aux(&r), 0xFF);        /* +255 */
    EXPECT_EQ(rdata_aux(&r), 0x00);        /* wheel */
    EXPECT_EQ(rdata_aux(&r), 0x08);        /* the remaining 45 up */
    EXPECT_EQ(rdata_aux(&r), 0x00);
    EXPECT_EQ(rdata_aux(&r), 45);
    EXPECT_EQ(rdata_aux(&r), 0x00);
    i8042_mouse_wheel(r.k, 1);             /* scroll up: IMPS/2 byte -1 */
    EXPECT_EQ(rdata_aux(&r), 0x08);
    EXPECT_EQ(rdata_aux(&r), 0x00);
    EXPECT_EQ(rdata_aux(&r), 0x00);
    EXPECT_EQ(rdata_aux(&r), 0xFF);
    i8042_mouse_input(r.k, 2, -1, -2, 2);  /* right button, motion and wheel down */
    EXPECT_EQ(rdata_aux(&r), 0x0A);
    EXPECT_EQ(rdata_aux(&r), 0x02);
    EXPECT_EQ(rdata_aux(&r), 0x01);
    EXPECT_EQ(rdata_aux(&r), 0x02);
    EXPECT_EQ(rdata(&r), -1);
    EXPECT_EQ(r.irq1.rises, 0);
    rig_free(&r);
}

/* E8/E9 (what Synaptics/ALPS/Logitech probes read), remote mode + EB, wrap. */
static void test_mouse_status_remote_wrap(void)
{
    struct rig r;
    rig_init(&r);
    cmd(&r, 0xD4); wdata(&r, 0xE8); EXPECT_EQ(rdata_aux(&r), 0xFA);
    cmd(&r, 0xD4); wdata(&r, 0x03); EXPECT_EQ(rdata_aux(&r), 0xFA);
    cmd(&r, 0xD4); wdata(&r, 0xE7); EXPECT_EQ(rdata_aux(&r), 0xFA);
    cmd(&r, 0xD4); wdata(&r, 0xF4); EXPECT_EQ(rdata_aux(&r), 0xFA);
    i8042_mouse_event(r.k, 0, 0, 4);       /* middle button down */
    for (int i = 0; i < 3; i++) EXPECT(rdata_aux(&r) >= 0);
    cmd(&r, 0xD4); wdata(&r, 0xE9);
    EXPECT_EQ(rdata_aux(&r), 0xFA);
    EXPECT_EQ(rdata_aux(&r), 0x32);        /* enabled | 2:1 | middle */
    EXPECT_EQ(rdata_aux(&r), 0x03);        /* resolution */
    EXPECT_EQ(rdata_aux(&r), 100);         /* sample rate */
    cmd(&r, 0xD4); wdata(&r, 0xF0); EXPECT_EQ(rdata_aux(&r), 0xFA);   /* remote */
    i8042_mouse_event(r.k, 7, 0, 4);
    EXPECT_EQ(rdata(&r), -1);              /* no stream packets */
    cmd(&r, 0xD4); wdata(&r, 0xEB);        /* read data */
    EXPECT_EQ(rdata_aux(&r), 0xFA);
    EXPECT_EQ(rdata_aux(&r), 0x0C);
    EXPECT_EQ(rdata_aux(&r), 7);
    EXPECT_EQ(rdata_aux(&r), 0);
    cmd(&r, 0xD4); wdata(&r, 0xEE); EXPECT_EQ(rdata_aux(&r), 0xFA);   /* wrap */
    cmd(&r, 0xD4); wdata(&r, 0x42); EXPECT_EQ(rdata_aux(&r), 0x42);
    cmd(&r, 0xD4); wdata(&r, 0xEC); EXPECT_EQ(rdata_aux(&r), 0xFA);
    cmd(&r, 0xD4); wdata(&r, 0x42); EXPECT_EQ(rdata_aux(&r), 0xFE);   /* not a command */
    rig_free(&r);
}

/* Keyboard before mouse; one IRQ per byte; disabled aux holds its data. */
static void test_priority_and_aux_disable(void)
{
    struct rig r;
    rig_init(&r);
    cmd(&r, 0x60); wdata(&r, 0x47);
    cmd(&r, 0xD4); wdata(&r, 0xF4); EXPECT_EQ(rdata_aux(&r), 0xFA);
    cmd(&r, 0xA7);                         /* aux clock off */
    i8042_mouse_event(r.k, 1, 0, 0);
    EXPECT_EQ(rdata(&r), -1);
    EXPECT_EQ(r.irq12.level, 0);
    i8042_key_event(r.k, 0x29, true);      /* space */
    cmd(&r, 0xA8);
    EXPECT_EQ(r.irq1.level, 1);            /* keyboard first */
    EXPECT_EQ(r.irq12.level, 0);
    EXPECT_EQ(status(&r) & 0x20, 0);
    EXPECT_EQ(data(&r), 0x39);
    EXPECT_EQ(r.irq1.level, 0);
    EXPECT_EQ(r.irq12.level, 1);           /* then the mouse packet */
    EXPECT_EQ(rdata_aux(&r), 0x08);
    EXPECT_EQ(rdata_aux(&r), 0x01);
    EXPECT_EQ(rdata_aux(&r), 0x00);
    EXPECT_EQ(r.irq12.level, 0);
    EXPECT_EQ(r.irq12.rises, 4);           /* FA + 3 packet bytes */
    rig_free(&r);
}

/* The HID -> set-2 map agrees with well-known set-1 codes through the
 * controller's translation. */
static void test_hid_map(void)
{
    static const struct { unsigned hid; uint8_t e0, s1; } keys[] = {
        { 0x04, 0, 0x1E }, { 0x1D, 0, 0x2C }, { 0x1E, 0, 0x02 }, { 0x27, 0, 0x0B },
        { 0x28, 0, 0x1C }, { 0x29, 0, 0x01 }, { 0x2A, 0, 0x0E }, { 0x2B, 0, 0x0F },
        { 0x2C, 0, 0x39 }, { 0x35, 0, 0x29 }, { 0x3A, 0, 0x3B }, { 0x40, 0, 0x41 },
        { 0x44, 0, 0x57 }, { 0x45, 0, 0x58 }, { 0x53, 0, 0x45 }, { 0x62, 0, 0x52 },
        { 0xE0, 0, 0x1D }, { 0xE1, 0, 0x2A }, { 0xE5, 0, 0x36 }, { 0xE2, 0, 0x38 },
        { 0x52, 1, 0x48 }, { 0x4C, 1, 0x53 }, { 0x58, 1, 0x1C }, { 0xE4, 1, 0x1D },
        { 0x54, 1, 0x35 }, { 0xE3, 1, 0x5B },
    };
    struct rig r;
    rig_init(&r);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        uint32_t kc = i8042_key_from_hid(keys[i].hid);
        EXPECT(kc != 0);
        i8042_key_event(r.k, kc, true);
        if (keys[i].e0) EXPECT_EQ(rdata(&r), 0xE0);
        int got = rdata(&r);
        if (got != keys[i].s1) printf("  hid 0x%02x\n", keys[i].hid);
        EXPECT_EQ(got, keys[i].s1);
        EXPECT_EQ(rdata(&r), -1);
    }
    EXPECT_EQ(i8042_key_from_hid(0x00), 0);
    EXPECT_EQ(i8042_key_from_hid(0x1000), 0);
    EXPECT_EQ(i8042_key_from_hid(0x48), I8042_KEY_PAUSE);
    rig_free(&r);
}

int main(void)
{
    RUN(test_controller_init);
    RUN(test_aux_loop_and_irq12);
    RUN(test_kbd_reset_identify);
    RUN(test_translation);
    RUN(test_scancode_set1);
    RUN(test_kbd_commands_and_disable);
    RUN(test_led_update_keeps_keys);
    RUN(test_outport_a20_reset);
    RUN(test_mouse_init_and_packets);
    RUN(test_mouse_status_remote_wrap);
    RUN(test_priority_and_aux_disable);
    RUN(test_hid_map);
    return test_summary();
}
