/* devices/i8042.c - 8042 keyboard controller, PS/2 keyboard and PS/2 mouse.
 *
 * Owns: the controller's output buffer, status register, command byte (CTR,
 * RAM byte 0), output port, pending two-byte commands; the keyboard's and the
 * mouse's own output queues and command state.
 * References: IBM PS/2 Hardware Interface Technical Reference (keyboard/
 * auxiliary device controller, keyboard and mouse command sets); Linux
 * drivers/input/serio/i8042.c, keyboard/atkbd.c, mouse/psmouse-base.c for
 * the sequences drivers run.
 *
 * Invariants:
 * - The controller holds at most one byte (obuf) for the host. Whenever it is
 *   empty it refills, by priority: the controller's own replies, then the
 *   keyboard queue (unless CTR bit 4 disables the keyboard clock), then the
 *   mouse queue (unless CTR bit 5). Bytes wait in the device queues, never
 *   lost by the controller.
 * - IRQ1 is high exactly while obuf holds keyboard-side data and CTR bit 0 is
 *   set; IRQ12 likewise for mouse data and CTR bit 1. Reading port 0x60
 *   drops the line; the next byte raises it again (a fresh edge for the PIC).
 * - Set-2 to set-1 translation (CTR bit 6) happens in the controller, on
 *   bytes coming from the keyboard (an F0 prefix is folded into bit 7 of the
 *   next byte), as on real hardware; controller replies are not translated.
 * - Commands complete instantly: IBF (status bit 1) always reads 0.
 * - The keyboard sends command responses before queued keystrokes, which
 *   it keeps (only FF/F5/F6 clear them), so a driver's ACK comes next and an
 *   LED update never eats a key release. The mouse clears its queue when it
 *   receives a command (lost motion is harmless).
 */
#include "devices/i8042.h"

#include <stdlib.h>
#include <string.h>

/* status register (port 0x64 read) */
#define ST_OBF     0x01
#define ST_IBF     0x02
#define ST_SYS     0x04
#define ST_CMD     0x08   /* last write was to port 0x64 */
#define ST_UNLOCK  0x10   /* keyboard not inhibited by the keylock */
#define ST_AUX     0x20   /* obuf holds mouse data */

/* command byte (CTR) */
#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS    0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE  0x40

/* output port */
#define OUT_RESET  0x01   /* 0 = assert CPU reset */
#define OUT_A20    0x02
#define OUT_OBF    0x10
#define OUT_AUXOBF 0x20

#define KBD_QSIZE 16      /* PS/2 keyboard buffer (IBM: 16 bytes) */
#define AUX_QSIZE 256     /* room for many movement packets */
#define CTL_QSIZE 8

struct byteq {
    uint8_t data[AUX_QSIZE];   /* ring storage (the keyboard uses less) */
    unsigned head;             /* oldest byte                           */
    unsigned count;            /* bytes queued                          */
    unsigned cap;              /* capacity in use                       */
};

struct ps2_kbd {
    struct byteq q;            /* scancode bytes for the controller     */
    struct byteq resp;         /* command responses: sent before q      */
    bool enabled;              /* scanning on (F4) / off (F5)           */
    uint8_t set;               /* scancode set: 1 or 2                  */
    uint8_t pending;           /* command awaiting its argument, or 0   */
    uint8_t leds;              /* ED argument                           */
    uint8_t typematic;         /* F3 argument                           */
    uint8_t last;              /* last byte sent (for FE resend)        */
};

struct ps2_mouse {
    struct byteq q;            /* bytes for the controller              */
    bool enabled;              /* data reporting (F4)                   */
    bool remote;               /* remote mode (F0) vs stream (EA)       */
    bool wrap;                 /* wrap (echo) mode (EE)                 */
    bool scale21;              /* 2:1 scaling (E7)                      */
    uint8_t id;                /* 0 = standard, 3 = IntelliMouse        */
    uint8_t rate;              /* samples/s (F3)                        */
    uint8_t res;               /* resolution 0-3 (E8)                   */
    uint8_t rates[3];          /* last three F3 values, newest last     */
    uint8_t pending;           /* command awaiting its argument, or 0   */
    uint8_t buttons;           /* current buttons (bit0 L, 1 R, 2 M)    */
    bool dirty;                /* buttons changed since the last packet */
    int dx, dy, dz;            /* motion not yet reported (dy up)       */
    uint8_t last;              /* last byte sent (for FE resend)        */
};

struct ctl_reply {
    uint8_t val;               /* byte for the host                     */
    bool aux;                  /* appears as mouse data (0xD3)          */
};

struct i8042 {
    struct irq_line kbd_irq;   /* IRQ1                                  */
    struct irq_line aux_irq;   /* IRQ12                                 */
    i8042_a20_fn a20_fn;       /* A20 gate changes                      */
    void *a20_opaque;
    i8042_reset_fn reset_fn;   /* CPU reset requests                    */
    void *reset_opaque;
    uint8_t ram[32];           /* controller RAM; ram[0] is the CTR     */
    uint8_t outport;           /* output port (bits 4/5 computed)       */
    uint8_t status;            /* ST_SYS | ST_CMD as last set           */
    uint8_t obuf;              /* output buffer                         */
    bool obf;                  /* obuf holds a byte                     */
    bool obuf_aux;             /* ... from the mouse side               */
    uint8_t pending;           /* command awaiting a data byte, or 0    */
    bool xlate_break;          /* translation: saw F0, next byte | 0x80 */
    struct ctl_reply ctl[CTL_QSIZE]; /* controller replies queue        */
    unsigned ctl_head, ctl_count;
    int kbd_level, aux_level;  /* IRQ levels last driven                */
    struct ps2_kbd kbd;        /* the keyboard                          */
    struct ps2_mouse mouse;    /* the mouse                             */
};

/* The 8042's set-2 -> set-1 translation (IBM PS/2 technical reference).
 * 0x80-0xFF map to themselves except 0x83 (F7) -> 0x41 and 0x84 (Alt+SysRq)
 * -> 0x54. */
static const uint8_t xlate_lo[128] = {
    0xff,0x43,0x41,0x3f,0x3d,0x3b,0x3c,0x58,0x64,0x44,0x42,0x40,0x3e,0x0f,0x29,0x59,
    0x65,0x38,0x2a,0x70,0x1d,0x10,0x02,0x5a,0x66,0x71,0x2c,0x1f,0x1e,0x11,0x03,0x5b,
    0x67,0x2e,0x2d,0x20,0x12,0x05,0x04,0x5c,0x68,0x39,0x2f,0x21,0x14,0x13,0x06,0x5d,
    0x69,0x31,0x30,0x23,0x22,0x15,0x07,0x5e,0x6a,0x72,0x32,0x24,0x16,0x08,0x09,0x5f,
    0x6b,0x33,0x25,0x17,0x18,0x0b,0x0a,0x60,0x6c,0x34,0x35,0x26,0x27,0x19,0x0c,0x61,
    0x6d,0x73,0x28,0x74,0x1a,0x0d,0x62,0x6e,0x3a,0x36,0x1c,0x1b,0x75,0x2b,0x63,0x76,
    0x55,0x56,0x77,0x78,0x79,0x7a,0x0e,0x7b,0x7c,0x4f,0x7d,0x4b,0x47,0x7e,0x7f,0x6f,
    0x52,0x53,0x50,0x4c,0x4d,0x48,0x01,0x45,0x57,0x4e,0x51,0x4a,0x37,0x49,0x46,0x54,
};

static uint8_t xlate(uint8_t c)
{
    if (c < 0x80) return xlate_lo[c];
    if (c == 0x83) return 0x41;
    if (c == 0x84) return 0x54;
    return c;
}

/* ---- queues ---- */

static void q_init(struct byteq *q, unsigned cap) { q->head = q->count = 0; q->cap = cap; }
static void q_clear(struct byteq *q) { q->head = q->count = 0; }
static unsigned q_room(const struct byteq *q) { return q->cap - q->count; }
static bool q_put(struct byteq *q, uint8_t v)
{
    if (q->count >= q->cap) return false;
    q->data[(q->head + q->count) % q->cap] = v;
    q->count++;
    return true;
}
static uint8_t q_get(struct byteq *q)
{
    uint8_t v = q->data[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    return v;
}

/* ---- controller output ---- */

static void mouse_flush_motion(struct i8042 *k);

static void update_irqs(struct i8042 *k)
{
    int kl = k->obf && !k->obuf_aux && (k->ram[0] & CTR_KBDINT);
    int al = k->obf && k->obuf_aux && (k->ram[0] & CTR_AUXINT);
    if (kl != k->kbd_level) { k->kbd_level = kl; irq_set(&k->kbd_irq, kl); }
    if (al != k->aux_level) { k->aux_level = al; irq_set(&k->aux_irq, al); }
}

/* Load the output buffer from the highest-priority source, if it is empty. */
static void refill(struct i8042 *k)
{
    while (!k->obf) {
        if (k->ctl_count) {
            struct ctl_reply r = k->ctl[k->ctl_head];
            k->ctl_head = (k->ctl_head + 1) % CTL_QSIZE;
            k->ctl_count--;
            k->obuf = r.val;
            k->obuf_aux = r.aux;
            k->obf = true;
        } else if ((k->kbd.resp.count || k->kbd.q.count) && !(k->ram[0] & CTR_KBDDIS)) {
            uint8_t c;
            if (k->kbd.resp.count && !k->xlate_break) {
                c = q_get(&k->kbd.resp);
            } else if (k->kbd.q.count) {
                c = q_get(&k->kbd.q);
            } else {
                break;                      /* F0 taken, its code not yet here */
            }
            if (k->ram[0] & CTR_XLATE) {
                if (c == 0xF0) { k->xlate_break = true; continue; }
                c = xlate(c) | (k->xlate_break ? 0x80 : 0);
                k->xlate_break = false;
            }
            k->obuf = c;
            k->obuf_aux = false;
            k->obf = true;
        } else if (k->mouse.q.count && !(k->ram[0] & CTR_AUXDIS)) {
            k->obuf = q_get(&k->mouse.q);
            k->obuf_aux = true;
            k->obf = true;
            if (!k->mouse.q.count) mouse_flush_motion(k);
        } else {
            break;
        }
    }
    update_irqs(k);
}

static void ctl_reply(struct i8042 *k, uint8_t v, bool aux)
{
    if (k->ctl_count >= CTL_QSIZE) return;
    k->ctl[(k->ctl_head + k->ctl_count) % CTL_QSIZE] = (struct ctl_reply){ v, aux };
    k->ctl_count++;
}

/* A command response; it goes out before any queued scancodes (so the
 * driver sees its ACK next) and leaves the keystrokes in place. */
static void kbd_put(struct i8042 *k, uint8_t v)
{
    if (q_put(&k->kbd.resp, v)) k->kbd.last = v;
}

static void mouse_put(struct i8042 *k, uint8_t v)
{
    if (q_put(&k->mouse.q, v)) k->mouse.last = v;
}

/* ---- keyboard ---- */

static void kbd_defaults(struct ps2_kbd *kb)
{
    kb->set = 2;
    kb->leds = 0;
    kb->typematic = 0x2B;      /* 10.9 cps, 500 ms */
    kb->pending = 0;
}

static void kbd_power_on(struct ps2_kbd *kb)
{
    q_init(&kb->q, KBD_QSIZE);
    q_init(&kb->resp, KBD_QSIZE);
    kbd_defaults(kb);
    kb->enabled = true;
    kb->last = 0;
}

/* A byte written to the keyboard (port 0x60 without a pending command). */
static void kbd_write(struct i8042 *k, uint8_t v)
{
    struct ps2_kbd *kb = &k->kbd;
    if (kb->pending && v < 0xED) {     /* an argument (commands are >= 0xED) */
        uint8_t cmd = kb->pending;
        kb->pending = 0;
        q_clear(&kb->resp);
        switch (cmd) {
        case 0xED: kb->leds = v & 7; kbd_put(k, 0xFA); break;
        case 0xF3: kb->typematic = v & 0x7F; kbd_put(k, 0xFA); break;
        case 0xF0:
            if (v == 0) { kbd_put(k, 0xFA); kbd_put(k, kb->set); }
            else if (v == 1 || v == 2) { kb->set = v; kbd_put(k, 0xFA); }
            else kbd_put(k, 0xFE);     /* set 3 is not implemented */
            break;
        }
        return;
    }
    kb->pending = 0;
    q_clear(&kb->resp);
    if (v == 0xFF || v == 0xF5 || v == 0xF6) q_clear(&kb->q);   /* these clear the buffer */
    switch (v) {
    case 0xED: case 0xF3: case 0xF0:
        kbd_put(k, 0xFA);
        kb->pending = v;
        break;
    case 0xEE: kbd_put(k, 0xEE); break;                      /* echo */
    case 0xF2: kbd_put(k, 0xFA); kbd_put(k, 0xAB); kbd_put(k, 0x83); break;
    case 0xF4: kb->enabled = true; kbd_put(k, 0xFA); break;
    case 0xF5: kbd_defaults(kb); kb->enabled = false; kbd_put(k, 0xFA); break;
    case 0xF6: kbd_defaults(kb); kb->enabled = true; kbd_put(k, 0xFA); break;
    case 0xF7: case 0xF8: case 0xF9: case 0xFA:               /* set-3 key types */
    case 0xFB: case 0xFC: case 0xFD:
        kbd_put(k, 0xFA);
        break;
    case 0xFE: kbd_put(k, kb->last); break;                   /* resend */
    case 0xFF:                                                /* reset + BAT */
        kbd_defaults(kb);
        kb->enabled = true;
        kbd_put(k, 0xFA);
        kbd_put(k, 0xAA);
        break;
    default: kbd_put(k, 0xFE); break;
    }
}

static void kbd_emit(struct i8042 *k, const uint8_t *seq, unsigned n)
{
    if (q_room(&k->kbd.q) < n) return;     /* whole sequences or nothing */
    for (unsigned i = 0; i < n; i++) q_put(&k->kbd.q, seq[i]);
    k->kbd.last = seq[n - 1];
}

void i8042_key_event(struct i8042 *k, uint32_t keycode, bool pressed)
{
    struct ps2_kbd *kb = &k->kbd;
    if (!kb->enabled) return;
    uint8_t s[8];
    unsigned n = 0;
    bool set1 = kb->set == 1;
    if (keycode == I8042_KEY_PAUSE) {
        if (!pressed) return;
        static const uint8_t p2[8] = { 0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77 };
        static const uint8_t p1[6] = { 0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5 };
        if (set1) kbd_emit(k, p1, 6); else kbd_emit(k, p2, 8);
    } else if (keycode == I8042_KEY_PRINTSCREEN) {
        static const uint8_t m2[4] = { 0xE0, 0x12, 0xE0, 0x7C }, b2[6] = { 0xE0, 0xF0, 0x7C, 0xE0, 0xF0, 0x12 };
        static const uint8_t m1[4] = { 0xE0, 0x2A, 0xE0, 0x37 }, b1[4] = { 0xE0, 0xB7, 0xE0, 0xAA };
        if (set1) kbd_emit(k, pressed ? m1 : b1, 4);
        else if (pressed) kbd_emit(k, m2, 4);
        else kbd_emit(k, b2, 6);
    } else {
        uint8_t code = keycode & 0xFF;
        bool ext = (keycode & 0xFF00) == 0xE000;
        if (keycode > 0xFFFF || (keycode > 0xFF && !ext) || code == 0) return;
        if (ext) s[n++] = 0xE0;
        if (set1) {
            s[n++] = xlate(code) | (pressed ? 0 : 0x80);
        } else {
            if (!pressed) s[n++] = 0xF0;
            s[n++] = code;
        }
        kbd_emit(k, s, n);
    }
    refill(k);
}

/* ---- mouse ---- */

static void mouse_defaults(struct ps2_mouse *m)
{
    m->rate = 100;
    m->res = 2;                /* 4 counts/mm */
    m->scale21 = false;
    m->enabled = false;
    m->remote = false;
    m->pending = 0;
    m->dx = m->dy = m->dz = 0;
}

static void mouse_power_on(struct ps2_mouse *m)
{
    q_init(&m->q, AUX_QSIZE);
    mouse_defaults(m);
    m->wrap = false;
    m->id = 0;
    m->buttons = 0;
    m->dirty = false;
    memset(m->rates, 0, sizeof m->rates);
    m->last = 0;
}

static int clamp(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Queue one movement packet with (part of) the pending motion. */
static void mouse_packet(struct i8042 *k)
{
    struct ps2_mouse *m = &k->mouse;
    int dx = clamp(m->dx, -256, 255), dy = clamp(m->dy, -256, 255);
    int dz = clamp(m->dz, -8, 7);
    uint8_t b0 = 0x08 | (m->buttons & 7);
    if (dx < 0) b0 |= 0x10;
    if (dy < 0) b0 |= 0x20;
    mouse_put(k, b0);
    mouse_put(k, (uint8_t)dx);
    mouse_put(k, (uint8_t)dy);
    if (m->id == 3) mouse_put(k, (uint8_t)(-dz));   /* IMPS/2: + is down */
    m->dx -= dx;
    m->dy -= dy;
    m->dz -= dz;
    m->dirty = false;
}

static unsigned packet_size(const struct ps2_mouse *m) { return m->id == 3 ? 4 : 3; }

/* Stream mode: report pending motion while there is room for packets. */
static void mouse_flush_motion(struct i8042 *k)
{
    struct ps2_mouse *m = &k->mouse;
    if (!m->enabled || m->remote || m->wrap) return;
    for (int i = 0; i < 4; i++) {
        if (!(m->dirty || m->dx || m->dy || (m->id == 3 && m->dz))) break;
        if (q_room(&m->q) < packet_size(m)) break;
        mouse_packet(k);
    }
}

static void mouse_write(struct i8042 *k, uint8_t v)
{
    struct ps2_mouse *m = &k->mouse;
    if (m->wrap && v != 0xEC && v != 0xFF) {   /* wrap mode echoes */
        mouse_put(k, v);
        return;
    }
    if (m->pending) {
        uint8_t cmd = m->pending;
        m->pending = 0;
        if (cmd == 0xF3) {
            m->rate = v;
            m->rates[0] = m->rates[1];
            m->rates[1] = m->rates[2];
            m->rates[2] = v;
            /* IntelliMouse knock: rates 200, 100, 80 then ID reads 3 */
            if (m->rates[0] == 200 && m->rates[1] == 100 && m->rates[2] == 80) m->id = 3;
            mouse_put(k, 0xFA);
            return;
        }
        if (cmd == 0xE8) {
            m->res = v & 3;
            mouse_put(k, 0xFA);
            return;
        }
    }
    q_clear(&m->q);
    switch (v) {
    case 0xE6: m->scale21 = false; mouse_put(k, 0xFA); break;
    case 0xE7: m->scale21 = true; mouse_put(k, 0xFA); break;
    case 0xE8: case 0xF3: m->pending = v; mouse_put(k, 0xFA); break;
    case 0xE9: {                                      /* status request */
        uint8_t b = (m->buttons & 1) << 2 | (m->buttons & 4) >> 1 | (m->buttons & 2) >> 1;
        if (m->remote) b |= 0x40;
        if (m->enabled) b |= 0x20;
        if (m->scale21) b |= 0x10;
        mouse_put(k, 0xFA); mouse_put(k, b); mouse_put(k, m->res); mouse_put(k, m->rate);
        break;
    }
    case 0xEA: m->remote = false; m->dx = m->dy = m->dz = 0; mouse_put(k, 0xFA); break;
    case 0xEB: mouse_put(k, 0xFA); mouse_packet(k); break;   /* read data */
    case 0xEC: m->wrap = false; mouse_put(k, 0xFA); break;
    case 0xEE: m->wrap = true; mouse_put(k, 0xFA); break;
    case 0xF0: m->remote = true; mouse_put(k, 0xFA); break;
    case 0xF2: mouse_put(k, 0xFA); mouse_put(k, m->id); break;
    case 0xF4: m->enabled = true; m->dx = m->dy = m->dz = 0; mouse_put(k, 0xFA); break;
    case 0xF5: m->enabled = false; mouse_put(k, 0xFA); break;
    case 0xF6: mouse_defaults(m); mouse_put(k, 0xFA); break;
    case 0xFE: mouse_put(k, m->last); break;
    case 0xFF:                                        /* reset: BAT + ID */
        mouse_defaults(m);
        m->wrap = false;
        m->id = 0;
        mouse_put(k, 0xFA); mouse_put(k, 0xAA); mouse_put(k, 0x00);
        break;
    default: mouse_put(k, 0xFE); break;
    }
}

void i8042_mouse_input(struct i8042 *k, int dx, int dy, int dz, unsigned buttons)
{
    struct ps2_mouse *m = &k->mouse;
    if ((buttons & 7) != m->buttons) { m->buttons = buttons & 7; m->dirty = true; }
    m->dx = clamp(m->dx + dx, -4096, 4096);
    m->dy = clamp(m->dy - dy, -4096, 4096);            /* PS/2: y up */
    if (m->id == 3) m->dz = clamp(m->dz + dz, -64, 64);  /* wheel only if enabled */
    mouse_flush_motion(k);
    refill(k);
}

void i8042_mouse_event(struct i8042 *k, int dx, int dy, unsigned buttons)
{
    i8042_mouse_input(k, dx, dy, 0, buttons);
}

void i8042_mouse_wheel(struct i8042 *k, int dz)
{
    i8042_mouse_input(k, 0, 0, dz, k->mouse.buttons);
}

/* ---- controller ---- */

static void set_outport(struct i8042 *k, uint8_t v)
{
    uint8_t old = k->outport;
    k->outport = v;
    if ((old ^ v) & OUT_A20 && k->a20_fn) k->a20_fn(k->a20_opaque, v & OUT_A20);
    if (!(v & OUT_RESET)) {
        k->outport |= OUT_RESET;            /* the line is pulsed, not held */
        if (k->reset_fn) k->reset_fn(k->reset_opaque);
    }
}

static uint8_t outport_value(const struct i8042 *k)
{
    uint8_t v = k->outport & ~(OUT_OBF | OUT_AUXOBF);
    if (k->obf && !k->obuf_aux) v |= OUT_OBF;
    if (k->obf && k->obuf_aux) v |= OUT_AUXOBF;
    return v;
}

static void ctl_command(struct i8042 *k, uint8_t cmd)
{
    k->pending = 0;
    if (cmd >= 0x20 && cmd <= 0x3F) { ctl_reply(k, k->ram[cmd & 0x1F], false); return; }
    if (cmd >= 0x60 && cmd <= 0x7F) { k->pending = cmd; return; }
    if (cmd >= 0xF0) {                      /* pulse output port bits 0-3 */
        if (!(cmd & 1)) set_outport(k, k->outport & ~OUT_RESET);
        return;
    }
    switch (cmd) {
    case 0xA4: ctl_reply(k, 0xF1, false); break;           /* no password */
    case 0xA7: k->ram[0] |= CTR_AUXDIS; break;
    case 0xA8: k->ram[0] &= ~CTR_AUXDIS; break;
    case 0xA9: ctl_reply(k, 0x00, false); break;           /* aux interface OK */
    case 0xAA:                                             /* self-test */
        k->status |= ST_SYS;
        ctl_reply(k, 0x55, false);
        break;
    case 0xAB: ctl_reply(k, 0x00, false); break;           /* kbd interface OK */
    case 0xAD: k->ram[0] |= CTR_KBDDIS; break;
    case 0xAE: k->ram[0] &= ~CTR_KBDDIS; break;
    case 0xC0: ctl_reply(k, 0x80, false); break;           /* input port: not inhibited */
    case 0xD0: ctl_reply(k, outport_value(k), false); break;
    case 0xD1: case 0xD2: case 0xD3: case 0xD4: k->pending = cmd; break;
    case 0xDD: set_outport(k, k->outport & ~OUT_A20); break;
    case 0xDF: set_outport(k, k->outport | OUT_A20); break;
    case 0xE0: ctl_reply(k, 0x00, false); break;           /* test inputs */
    default: break;                                        /* ignored */
    }
}

static void ctl_data(struct i8042 *k, uint8_t v)
{
    uint8_t cmd = k->pending;
    k->pending = 0;
    if (cmd >= 0x60 && cmd <= 0x7F) {
        k->ram[cmd & 0x1F] = v;
        if (cmd == 0x60) {
            if (v & CTR_SYS) k->status |= ST_SYS; else k->status &= ~ST_SYS;
        }
        return;
    }
    switch (cmd) {
    case 0xD1: set_outport(k, v); break;
    case 0xD2: ctl_reply(k, v, false); break;
    case 0xD3: ctl_reply(k, v, true); break;
    case 0xD4:
        k->ram[0] &= ~CTR_AUXDIS;          /* talking to the mouse enables it */
        mouse_write(k, v);
        break;
    default:                                /* to the keyboard */
        k->ram[0] &= ~CTR_KBDDIS;
        kbd_write(k, v);
        break;
    }
}

uint8_t i8042_read(struct i8042 *k, uint16_t port)
{
    if (port & 4) {
        uint8_t st = (k->status & (ST_SYS | ST_CMD)) | ST_UNLOCK;
        if (k->obf) st |= ST_OBF | (k->obuf_aux ? ST_AUX : 0);
        return st;
    }
    uint8_t v = k->obuf;                    /* empty: the last byte again */
    k->obf = false;
    update_irqs(k);                         /* drop the line: each byte is an edge */
    refill(k);
    return v;
}

void i8042_write(struct i8042 *k, uint16_t port, uint8_t val)
{
    if (port & 4) {
        k->status |= ST_CMD;
        ctl_command(k, val);
    } else {
        k->status &= ~ST_CMD;
        ctl_data(k, val);
    }
    refill(k);
}

static uint32_t data_read(void *o, uint32_t off, unsigned size) { (void)off; (void)size; return i8042_read(o, 0x60); }
static void data_write(void *o, uint32_t off, uint32_t v, unsigned size) { (void)off; (void)size; i8042_write(o, 0x60, (uint8_t)v); }
static uint32_t cmd_read(void *o, uint32_t off, unsigned size) { (void)off; (void)size; return i8042_read(o, 0x64); }
static void cmd_write(void *o, uint32_t off, uint32_t v, unsigned size) { (void)off; (void)size; i8042_write(o, 0x64, (uint8_t)v); }

const struct bus_ops i8042_data_ops = { .name = "i8042-data", .read = data_read, .write = data_write, .byte_only = true };
const struct bus_ops i8042_cmd_ops = { .name = "i8042-cmd", .read = cmd_read, .write = cmd_write, .byte_only = true };

void i8042_reset(struct i8042 *k)
{
    memset(k->ram, 0, sizeof k->ram);
    /* What a BIOS leaves: interrupts, translation, system flag. Before POST
     * the controller's CTR is undefined; ours starts like QEMU's. */
    k->ram[0] = CTR_KBDINT | CTR_SYS | CTR_XLATE;
    k->outport = 0xCF;                      /* reset high, A20 on, clock/data high */
    k->status = ST_SYS;
    k->obf = k->obuf_aux = false;
    k->obuf = 0;
    k->pending = 0;
    k->xlate_break = false;
    k->ctl_head = k->ctl_count = 0;
    kbd_power_on(&k->kbd);
    mouse_power_on(&k->mouse);
    update_irqs(k);
}

struct i8042 *i8042_new(const struct irq_line *kbd_irq, const struct irq_line *aux_irq)
{
    struct i8042 *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    if (kbd_irq) k->kbd_irq = *kbd_irq;
    if (aux_irq) k->aux_irq = *aux_irq;
    i8042_reset(k);
    return k;
}

void i8042_free(struct i8042 *k) { free(k); }

void i8042_set_a20_handler(struct i8042 *k, i8042_a20_fn fn, void *opaque)
{
    k->a20_fn = fn;
    k->a20_opaque = opaque;
}

void i8042_set_reset_handler(struct i8042 *k, i8042_reset_fn fn, void *opaque)
{
    k->reset_fn = fn;
    k->reset_opaque = opaque;
}

unsigned i8042_kbd_leds(const struct i8042 *k) { return k->kbd.leds; }
bool i8042_a20_enabled(const struct i8042 *k) { return k->outport & OUT_A20; }

/* USB HID keyboard usages 0x04-0x67 -> set-2 keycodes (see the header). */
static const uint16_t hid_to_set2[0x68] = {
    [0x04] = 0x1C, [0x05] = 0x32, [0x06] = 0x21, [0x07] = 0x23, [0x08] = 0x24, /* a-e */
    [0x09] = 0x2B, [0x0A] = 0x34, [0x0B] = 0x33, [0x0C] = 0x43, [0x0D] = 0x3B, /* f-j */
    [0x0E] = 0x42, [0x0F] = 0x4B, [0x10] = 0x3A, [0x11] = 0x31, [0x12] = 0x44, /* k-o */
    [0x13] = 0x4D, [0x14] = 0x15, [0x15] = 0x2D, [0x16] = 0x1B, [0x17] = 0x2C, /* p-t */
    [0x18] = 0x3C, [0x19] = 0x2A, [0x1A] = 0x1D, [0x1B] = 0x22, [0x1C] = 0x35, /* u-y */
    [0x1D] = 0x1A,                                                             /* z   */
    [0x1E] = 0x16, [0x1F] = 0x1E, [0x20] = 0x26, [0x21] = 0x25, [0x22] = 0x2E, /* 1-5 */
    [0x23] = 0x36, [0x24] = 0x3D, [0x25] = 0x3E, [0x26] = 0x46, [0x27] = 0x45, /* 6-0 */
    [0x28] = 0x5A, [0x29] = 0x76, [0x2A] = 0x66, [0x2B] = 0x0D, [0x2C] = 0x29, /* Enter Esc BS Tab Space */
    [0x2D] = 0x4E, [0x2E] = 0x55, [0x2F] = 0x54, [0x30] = 0x5B, [0x31] = 0x5D, /* - = [ ] \ */
    [0x32] = 0x5D, [0x33] = 0x4C, [0x34] = 0x52, [0x35] = 0x0E, [0x36] = 0x41, /* #~ ; ' ` , */
    [0x37] = 0x49, [0x38] = 0x4A, [0x39] = 0x58,                               /* . / Caps */
    [0x3A] = 0x05, [0x3B] = 0x06, [0x3C] = 0x04, [0x3D] = 0x0C, [0x3E] = 0x03, /* F1-F5 */
    [0x3F] = 0x0B, [0x40] = 0x83, [0x41] = 0x0A, [0x42] = 0x01, [0x43] = 0x09, /* F6-F10 */
    [0x44] = 0x78, [0x45] = 0x07,                                              /* F11 F12 */
    [0x47] = 0x7E,                                                             /* ScrollLock */
    [0x49] = 0xE070, [0x4A] = 0xE06C, [0x4B] = 0xE07D, [0x4C] = 0xE071,        /* Ins Home PgUp Del */
    [0x4D] = 0xE069, [0x4E] = 0xE07A, [0x4F] = 0xE074, [0x50] = 0xE06B,        /* End PgDn Right Left */
    [0x51] = 0xE072, [0x52] = 0xE075, [0x53] = 0x77,                           /* Down Up NumLock */
    [0x54] = 0xE04A, [0x55] = 0x7C, [0x56] = 0x7B, [0x57] = 0x79, [0x58] = 0xE05A, /* KP / * - + Enter */
    [0x59] = 0x69, [0x5A] = 0x72, [0x5B] = 0x7A, [0x5C] = 0x6B, [0x5D] = 0x73, /* KP 1-5 */
    [0x5E] = 0x74, [0x5F] = 0x6C, [0x60] = 0x75, [0x61] = 0x7D, [0x62] = 0x70, /* KP 6-9 0 */
    [0x63] = 0x71, [0x64] = 0x61, [0x65] = 0xE02F,                             /* KP . 102nd Menu */
};

uint32_t i8042_key_from_hid(unsigned usage)
{
    switch (usage) {
    case 0x46: return I8042_KEY_PRINTSCREEN;
    case 0x48: return I8042_KEY_PAUSE;
    case 0xE0: return 0x14;      /* left Ctrl  */
    case 0xE1: return 0x12;      /* left Shift */
    case 0xE2: return 0x11;      /* left Alt   */
    case 0xE3: return 0xE01F;    /* left GUI   */
    case 0xE4: return 0xE014;    /* right Ctrl */
    case 0xE5: return 0x59;      /* right Shift */
    case 0xE6: return 0xE011;    /* right Alt  */
    case 0xE7: return 0xE027;    /* right GUI  */
    }
    return usage < 0x68 ? hid_to_set2[usage] : 0;
}
